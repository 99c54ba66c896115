/*
 * The connection race of RFC 8305.  Addresses join two queues, one per
 * family, as the answers arrive; attempts take them alternately, IPv6 first,
 * one DIAL_ATTEMPT_DELAY_MS after another or at once when one fails.  A
 * lone A answer waits DIAL_RESOLUTION_DELAY_MS for its AAAA.
 */
#include "dial.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/*
 * An IPv4 or IPv6 address: a fifth of a sockaddr_storage, so the queues and
 * the log of a race fit in few pages.
 */
union dial_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* How one attempt ended: its errno, classified once. */
enum dial_end {
	DIAL_PENDING, /* still running */
	DIAL_OK,
	DIAL_REFUSED,
	DIAL_TIMEOUT,
	DIAL_UNREACHABLE,
	DIAL_BLOCKED, /* EACCES, EPERM: a firewall or a prohibit route */
	DIAL_NO_RESOURCES,
	DIAL_CANCELLED, /* another attempt won */
	DIAL_DENIED, /* the filter refused it: never dialled */
	DIAL_ERROR, /* any other errno */
	DIAL_NENDS
};

/* The word for each end in the log's tried= list. */
static const char *const dial_end_names[] = {
	[DIAL_PENDING] = "pending",
	[DIAL_OK] = "ok",
	[DIAL_REFUSED] = "refused",
	[DIAL_TIMEOUT] = "timeout",
	[DIAL_UNREACHABLE] = "unreachable",
	[DIAL_BLOCKED] = "blocked",
	[DIAL_NO_RESOURCES] = "no_resources",
	[DIAL_CANCELLED] = "cancelled",
	[DIAL_DENIED] = "denied",
	[DIAL_ERROR] = "error",
};
_Static_assert(NELEM(dial_end_names) == DIAL_NENDS, "a name for every end");

/* What went wrong across all attempts, to pick one status. */
struct dial_failures {
	int count[DIAL_NENDS]; /* attempts that ended so */
	enum outcome denial; /* the filter's verdict, when it refused */
};

struct dial_queue {
	union dial_addr addr[DIAL_MAX_ADDRS];
	size_t n, next;
};

struct dial_race {
	const struct dial_request *req;
	struct dial_result *res;
	struct dial_queue queue[RESOLVE_NFAMILIES];
	int prefer; /* family of the next attempt */
	int resolving; /* the resolver has answers to come */
	int64_t first_answer_ms; /* when the first address came; -1: none */
	int64_t v4_wait_until; /* resolution delay for a lone A */
	int64_t next_start; /* when the next attempt may start */
	/* The attempts, then the resolver's sockets. */
	struct pollfd pfd[2 * DIAL_MAX_ADDRS + RESOLVE_POLLFDS];
	size_t pidx[2 * DIAL_MAX_ADDRS]; /* each one's log entry */
	size_t npending;
	struct {
		union dial_addr sa;
		enum dial_end end;
	} log[2 * DIAL_MAX_ADDRS]; /* every address, in the order tried */
	size_t nlog;
	struct dial_failures fail;
};

/* Classifies the errno of a connect(2) that failed. */
static enum dial_end
dial_classify(int err)
{
	switch (err) {
	case 0:
		return DIAL_OK;
	case ECONNREFUSED:
		return DIAL_REFUSED;
	case ETIMEDOUT:
		return DIAL_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return DIAL_UNREACHABLE;
	/*
	 * The host said no, not the target: a prohibit route (EACCES at once),
	 * an ICMPv6 administratively-prohibited answer, as an nftables or
	 * ip6tables reject sends (EACCES), a cgroup or LSM hook (EPERM).
	 */
	case EACCES:
	case EPERM:
		return DIAL_BLOCKED;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return DIAL_NO_RESOURCES;
	case ECANCELED:
		return DIAL_CANCELLED;
	default:
		return DIAL_ERROR;
	}
}

/* Writes the attempts, in the order they started, as "addr=result,...". */
static void
dial_write_log(const struct dial_race *r)
{
	size_t i, used = 0;

	r->res->tried[0] = '\0';
	for (i = 0; i < r->nlog && used < sizeof(r->res->tried); i++) {
		char addr[64];
		int n;

		util_sockaddr_text(
		    (const struct sockaddr *)&r->log[i].sa, addr, sizeof(addr));
		/* DIAL_TRIED_MAX holds every entry whole. */
		n = snprintf(r->res->tried + used, sizeof(r->res->tried) - used,
		    "%s%s=%s", i > 0 ? "," : "", addr,
		    dial_end_names[r->log[i].end]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Opens the log entry of an attempt on sa; returns its index. */
static size_t
dial_log_start(struct dial_race *r, const union dial_addr *sa)
{
	r->log[r->nlog].sa = *sa;
	r->log[r->nlog].end = DIAL_PENDING;
	return r->nlog++;
}

/* Records how attempt i ended, for the log and the verdict. */
static void
dial_failed(struct dial_race *r, size_t i, int err)
{
	enum dial_end end = dial_classify(err);

	r->log[i].end = end;
	r->fail.count[end]++;
}

/*
 * The one status for a race that every attempt lost: the most telling end
 * that some attempt met.  A policy refusal is the answer only when no
 * address was dialled at all.
 */
static enum outcome
dial_verdict(const struct dial_failures *f)
{
	if (f->count[DIAL_NO_RESOURCES] > 0)
		return OUT_RESOURCES_EXHAUSTED;
	if (f->count[DIAL_REFUSED] > 0)
		return OUT_CONNECTION_REFUSED;
	if (f->count[DIAL_TIMEOUT] > 0)
		return OUT_CONNECTION_TIMEOUT;
	if (f->count[DIAL_BLOCKED] > 0)
		return OUT_CONNECTION_BLOCKED;
	if (f->count[DIAL_UNREACHABLE] + f->count[DIAL_ERROR] +
		    f->count[DIAL_CANCELLED] ==
		0 &&
	    f->count[DIAL_DENIED] > 0)
		return f->denial;
	return OUT_DESTINATION_UNREACHABLE;
}

_Static_assert(DNS_ADDRS_MAX <= DIAL_MAX_ADDRS, "an answer fits a queue");

/* Adds the addresses of family fam's answer to its queue. */
static void
dial_enqueue(struct dial_race *r, int fam, const struct dns_addrs *a)
{
	struct dial_queue *q = &r->queue[fam];
	uint16_t port = htons((uint16_t)r->req->port);
	size_t i;

	for (i = 0; i < a->n && q->n < DIAL_MAX_ADDRS; i++) {
		union dial_addr *d = &q->addr[q->n++];

		memset(d, 0, sizeof(*d));
		if (fam == RESOLVE_V6) {
			d->in6.sin6_family = AF_INET6;
			d->in6.sin6_port = port;
			memcpy(&d->in6.sin6_addr, a->addr[i], 16);
		} else {
			d->in.sin_family = AF_INET;
			d->in.sin_port = port;
			memcpy(&d->in.sin_addr, a->addr[i], 4);
		}
	}
}

static int
dial_queued(const struct dial_race *r, int fam)
{
	return r->queue[fam].next < r->queue[fam].n;
}

/*
 * Takes the next address, alternating families (RFC 8305 section 4).
 * Returns NULL when none may start now: the queues are empty, or only IPv4
 * is there and its AAAA may still come within the resolution delay.
 */
static const union dial_addr *
dial_next_addr(struct dial_race *r, int64_t now)
{
	int fam = r->prefer;

	if (!dial_queued(r, fam))
		fam = 1 - fam;
	if (!dial_queued(r, fam))
		return NULL;
	/* (The resolver last: a literal's dial never touches its state.) */
	if (fam == RESOLVE_V4 && now < r->v4_wait_until &&
	    resolve_family_pending(RESOLVE_V6))
		return NULL;
	r->prefer = 1 - fam;
	return &r->queue[fam].addr[r->queue[fam].next++];
}

/*
 * Starts a connect to sa.  Returns the socket with *err 0 (connected) or
 * EINPROGRESS (pending), or -1 with *err the failure.
 */
static int
dial_start(const union dial_addr *sa, int *err)
{
	socklen_t len = sa->sa.sa_family == AF_INET6
	    ? sizeof(struct sockaddr_in6)
	    : sizeof(struct sockaddr_in);
	int fd;

	fd = socket(sa->sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd == -1) {
		*err = errno;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sa, len) == 0) {
		*err = 0;
		return fd;
	}
	*err = errno;
	if (*err == EINPROGRESS)
		return fd;
	close(fd);
	return -1;
}

/* Hands the connected fd to the result and cancels the other attempts. */
static void
dial_win(struct dial_race *r, int fd, size_t idx)
{
	size_t i;

	r->log[idx].end = DIAL_OK;
	for (i = 0; i < r->npending; i++) {
		r->log[r->pidx[i]].end = DIAL_CANCELLED;
		close(r->pfd[i].fd);
	}
	r->npending = 0;
	r->res->fd = fd;
	memcpy(&r->res->addr, &r->log[idx].sa, sizeof(r->log[idx].sa));
}

/* Closes every pending attempt, recording err for each. */
static void
dial_abandon(struct dial_race *r, int err)
{
	size_t i;

	for (i = 0; i < r->npending; i++) {
		dial_failed(r, r->pidx[i], err);
		close(r->pfd[i].fd);
	}
	r->npending = 0;
}

/*
 * Starts an attempt on sa.  Returns 1 when it connected at once (r->res
 * filled in), 0 when it is pending, -1 when it failed or was refused.
 */
static int
dial_launch(struct dial_race *r, const union dial_addr *sa)
{
	const struct dial_filter *filter = r->req->filter;
	size_t idx = dial_log_start(r, sa);
	enum outcome verdict = OUT_OK;
	int err, fd;

	if (filter != NULL)
		verdict = filter->check(
		    (const struct sockaddr *)sa, filter->ctx);
	if (verdict != OUT_OK) {
		/* Refused by policy: no packet is ever sent to it. */
		r->log[idx].end = DIAL_DENIED;
		r->fail.count[DIAL_DENIED]++;
		r->fail.denial = verdict;
		return -1;
	}
	if ((fd = dial_start(sa, &err)) == -1) {
		dial_failed(r, idx, err);
		return -1;
	}
	if (err == 0) {
		dial_win(r, fd, idx);
		return 1;
	}
	r->pfd[r->npending].fd = fd;
	r->pfd[r->npending].events = POLLOUT;
	r->pidx[r->npending++] = idx;
	return 0;
}

/*
 * Collects finished attempts after poll.  Returns 1 on a winner, else 0;
 * an attempt that failed lets the next one start at once.
 */
static int
dial_collect(struct dial_race *r, int64_t now)
{
	size_t i = r->npending;

	while (i-- > 0) {
		int fd = r->pfd[i].fd, err = 0;
		socklen_t len = sizeof(err);
		size_t idx = r->pidx[i];

		if (r->pfd[i].revents == 0)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		r->npending--;
		r->pfd[i] = r->pfd[r->npending];
		r->pidx[i] = r->pidx[r->npending];
		if (err == 0) {
			dial_win(r, fd, idx);
			return 1;
		}
		dial_failed(r, idx, err);
		close(fd);
		r->next_start = now;
	}
	return 0;
}

/*
 * Takes in the answers that arrived, given the resolver's n pollfds at
 * pfd; the first one starts the clock.
 */
static void
dial_answers(
    struct dial_race *r, const struct pollfd *pfd, size_t n, int64_t now)
{
	int done = resolve_collect(pfd, n, now), fam;

	for (fam = 0; fam < RESOLVE_NFAMILIES; fam++) {
		const struct dns_addrs *a;

		if (!(done & (1 << fam)))
			continue;
		a = resolve_answer((enum resolve_family)fam);
		if (a != NULL)
			dial_enqueue(r, fam, a);
		if (fam == RESOLVE_V4)
			r->v4_wait_until = now + DIAL_RESOLUTION_DELAY_MS;
		if (r->first_answer_ms < 0 && a != NULL)
			r->first_answer_ms = now;
	}
	r->resolving = resolve_pending();
}

/* When the race must wake next, whatever happens on the sockets. */
static int64_t
dial_wake(const struct dial_race *r)
{
	int64_t wake = r->req->deadline;
	int queued = dial_queued(r, RESOLVE_V6) || dial_queued(r, RESOLVE_V4);

	if (r->resolving && r->req->dns_deadline < wake)
		wake = r->req->dns_deadline;
	/* A server that did not answer in time: the next one is asked. */
	if (r->resolving && resolve_wake() < wake)
		wake = resolve_wake();
	if (queued && r->npending > 0 && r->next_start < wake)
		wake = r->next_start;
	/* Only IPv4 waiting out its AAAA's resolution delay needs a timer. */
	if (dial_queued(r, RESOLVE_V4) && r->v4_wait_until < wake &&
	    r->v4_wait_until > util_now_ms() &&
	    resolve_family_pending(RESOLVE_V6))
		wake = r->v4_wait_until;
	return wake;
}

/* The status when the race ends with no connection and no attempt left. */
static enum outcome
dial_give_up(const struct dial_race *r, int dns_timed_out)
{
	int attempted = r->queue[RESOLVE_V6].n + r->queue[RESOLVE_V4].n > 0;

	if (attempted)
		return dial_verdict(&r->fail);
	if (dns_timed_out)
		return OUT_DNS_TIMEOUT;
	if (r->req->numeric)
		return OUT_DESTINATION_UNREACHABLE;
	return resolve_verdict();
}

/* Starts what may start now; returns 1 on an immediate winner. */
static int
dial_start_due(struct dial_race *r, int64_t now)
{
	const union dial_addr *sa;

	while ((r->npending == 0 || now >= r->next_start) &&
	    (sa = dial_next_addr(r, now)) != NULL) {
		int rc = dial_launch(r, sa);

		if (rc == 1)
			return 1;
		if (rc == 0) {
			r->next_start = now + DIAL_ATTEMPT_DELAY_MS;
			return 0;
		}
	}
	return 0;
}

static enum outcome
dial_run(struct dial_race *r)
{
	int dns_timed_out = 0;

	for (;;) {
		int64_t now = util_now_ms();
		nfds_t n, nres = 0;
		int rc;

		if (r->resolving && now >= r->req->dns_deadline) {
			r->resolving = 0;
			dns_timed_out = 1;
		}
		if (now >= r->req->deadline) {
			dial_abandon(r, ETIMEDOUT);
			return dial_give_up(r, 1);
		}
		if (r->fail.count[DIAL_NO_RESOURCES] > 0) {
			dial_abandon(r, ECANCELED);
			return OUT_RESOURCES_EXHAUSTED;
		}
		if (dial_start_due(r, now))
			return OUT_OK;
		if (r->npending == 0 && !r->resolving &&
		    !dial_queued(r, RESOLVE_V6) && !dial_queued(r, RESOLVE_V4))
			return dial_give_up(r, dns_timed_out);
		n = r->npending;
		if (r->resolving)
			nres = resolve_pollfds(&r->pfd[n]);
		rc = poll(r->pfd, n + nres, util_poll_timeout(dial_wake(r)));
		if (rc == -1 && errno != EINTR)
			return OUT_INTERNAL_ERROR;
		now = util_now_ms();
		/* Before the resolver's entries are read: n stays theirs. */
		if (rc > 0 && dial_collect(r, now))
			return OUT_OK;
		if (r->resolving)
			dial_answers(r, &r->pfd[n], nres, now);
	}
}

/*
 * Address literals need no resolver, nor getaddrinfo(3), whose allocations
 * would cost every such connection its first heap pages.
 */
static enum outcome
dial_literal(struct dial_race *r)
{
	union dial_addr ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	int fam;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, r->req->host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)r->req->port);
		fam = RESOLVE_V4;
	} else if (inet_pton(AF_INET6, r->req->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)r->req->port);
		fam = RESOLVE_V6;
	} else {
		return OUT_DESTINATION_UNREACHABLE;
	}
	r->queue[fam].addr[r->queue[fam].n++] = ss;
	return OUT_OK;
}

enum outcome
dial_connect(const struct dial_request *req, struct dial_result *res)
{
	struct dial_race race;
	int64_t start = util_now_ms();
	enum outcome o;

	/*
	 * On the stack, whose pages the launch has touched already: a static
	 * would cost a held tunnel a page of its own.  Field by field: the
	 * address arrays need no zeroing.
	 */
	race.queue[RESOLVE_V6].n = race.queue[RESOLVE_V6].next = 0;
	race.queue[RESOLVE_V4].n = race.queue[RESOLVE_V4].next = 0;
	race.npending = race.nlog = 0;
	race.resolving = 0;
	race.v4_wait_until = race.next_start = 0;
	memset(&race.fail, 0, sizeof(race.fail));
	race.req = req;
	race.res = res;
	race.prefer = RESOLVE_V6;
	race.first_answer_ms = -1;
	res->fd = -1;
	res->dns_ms = -1;
	if (req->numeric) {
		if ((o = dial_literal(&race)) != OUT_OK)
			return o;
	} else if (resolve_start(req->host) == -1) {
		return errno == EMFILE || errno == ENFILE || errno == ENOMEM
		    ? OUT_RESOURCES_EXHAUSTED
		    : OUT_DNS_FAILURE;
	} else {
		race.resolving = 1;
		/* A name of the hosts file is answered at once. */
		dial_answers(&race, NULL, 0, start);
	}
	o = dial_run(&race);
	dial_write_log(&race);
	if (race.first_answer_ms >= 0)
		res->dns_ms = race.first_answer_ms - start;
	if (!req->numeric)
		resolve_end();
	return o;
}
