/*
 * The connection race of RFC 8305.  Addresses join two queues, one per
 * family, as the answers arrive; attempts take them alternately, IPv6 first,
 * one DIAL_ATTEMPT_DELAY_MS after another or at once when one fails.  A
 * lone A answer waits DIAL_RESOLUTION_DELAY_MS for its AAAA.
 */
#include "dial.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* What went wrong across all attempts, to pick one status. */
struct dial_failures {
	int refused, unreachable, timeout, resources, denied;
	enum outcome denial; /* the filter's verdict, when it refused */
};

struct dial_queue {
	struct sockaddr_storage addr[DIAL_MAX_ADDRS];
	size_t n, next;
};

struct dial_race {
	const struct dial_request *req;
	struct dial_result *res;
	struct dial_queue queue[RESOLVE_NFAMILIES];
	int prefer; /* family of the next attempt */
	int resolving; /* the resolver has answers to come */
	int64_t v4_wait_until; /* resolution delay for a lone A */
	int64_t next_start; /* when the next attempt may start */
	struct pollfd pfd[2 * DIAL_MAX_ADDRS + 1]; /* attempts, resolver */
	struct sockaddr_storage paddr[2 * DIAL_MAX_ADDRS];
	size_t npending;
	struct dial_failures fail;
};

static const char *
dial_error_name(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return "unreachable";
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return "no_resources";
	case ECANCELED:
		return "cancelled";
	case EACCES:
		return "denied";
	default:
		return "error";
	}
}

/* Appends "addr=result" to the attempt record, clipped when full. */
static void
dial_note(struct dial_result *res, const struct sockaddr_storage *sa, int err)
{
	char addr[64];
	size_t used = strlen(res->tried);

	util_sockaddr_text((const struct sockaddr *)sa, addr, sizeof(addr));
	snprintf(res->tried + used, sizeof(res->tried) - used, "%s%s=%s",
	    used > 0 ? "," : "", addr, dial_error_name(err));
}

/* Records a failed attempt for the log and the verdict. */
static void
dial_failed(struct dial_race *r, const struct sockaddr_storage *sa, int err)
{
	const char *name = dial_error_name(err);

	dial_note(r->res, sa, err);
	if (strcmp(name, "refused") == 0)
		r->fail.refused++;
	else if (strcmp(name, "timeout") == 0)
		r->fail.timeout++;
	else if (strcmp(name, "no_resources") == 0)
		r->fail.resources++;
	else
		r->fail.unreachable++;
}

/* The one status for a race that every attempt lost. */
static enum outcome
dial_verdict(const struct dial_failures *f)
{
	if (f->resources > 0)
		return OUT_RESOURCES_EXHAUSTED;
	if (f->refused > 0)
		return OUT_CONNECTION_REFUSED;
	if (f->timeout > 0)
		return OUT_CONNECTION_TIMEOUT;
	if (f->unreachable == 0 && f->denied > 0)
		return f->denial;
	return OUT_DESTINATION_UNREACHABLE;
}

/* Adds the addresses of one answer to its family's queue. */
static void
dial_enqueue(struct dial_race *r, const struct addrinfo *ai)
{
	for (; ai != NULL; ai = ai->ai_next) {
		int fam = ai->ai_family == AF_INET6 ? RESOLVE_V6 : RESOLVE_V4;
		struct dial_queue *q = &r->queue[fam];

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    q->n == DIAL_MAX_ADDRS ||
		    ai->ai_addrlen > sizeof(q->addr[0]))
			continue;
		memset(&q->addr[q->n], 0, sizeof(q->addr[0]));
		memcpy(&q->addr[q->n++], ai->ai_addr, ai->ai_addrlen);
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
static const struct sockaddr_storage *
dial_next_addr(struct dial_race *r, int64_t now)
{
	int fam = r->prefer;

	if (!dial_queued(r, fam))
		fam = 1 - fam;
	if (!dial_queued(r, fam))
		return NULL;
	if (fam == RESOLVE_V4 && r->res->resolve.pending[RESOLVE_V6] &&
	    now < r->v4_wait_until)
		return NULL;
	r->prefer = 1 - fam;
	return &r->queue[fam].addr[r->queue[fam].next++];
}

/*
 * Starts a connect to sa.  Returns the socket with *err 0 (connected) or
 * EINPROGRESS (pending), or -1 with *err the failure.
 */
static int
dial_start(const struct sockaddr_storage *sa, int *err)
{
	socklen_t len = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int fd;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP);
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
dial_win(struct dial_race *r, int fd, const struct sockaddr_storage *sa)
{
	size_t i;

	dial_note(r->res, sa, 0);
	for (i = 0; i < r->npending; i++) {
		dial_note(r->res, &r->paddr[i], ECANCELED);
		close(r->pfd[i].fd);
	}
	r->npending = 0;
	r->res->fd = fd;
	r->res->addr = *sa;
}

/* Closes every pending attempt, recording err for each. */
static void
dial_abandon(struct dial_race *r, int err)
{
	size_t i;

	for (i = 0; i < r->npending; i++) {
		dial_failed(r, &r->paddr[i], err);
		close(r->pfd[i].fd);
	}
	r->npending = 0;
}

/*
 * Starts an attempt on sa.  Returns 1 when it connected at once (r->res
 * filled in), 0 when it is pending, -1 when it failed or was refused.
 */
static int
dial_launch(struct dial_race *r, const struct sockaddr_storage *sa)
{
	const struct dial_filter *filter = r->req->filter;
	enum outcome verdict = OUT_OK;
	int err, fd;

	if (filter != NULL)
		verdict = filter->check(
		    (const struct sockaddr *)sa, filter->ctx);
	if (verdict != OUT_OK) {
		/* Refused by policy: no packet is ever sent to it. */
		dial_note(r->res, sa, EACCES);
		r->fail.denied++;
		r->fail.denial = verdict;
		return -1;
	}
	if ((fd = dial_start(sa, &err)) == -1) {
		dial_failed(r, sa, err);
		return -1;
	}
	if (err == 0) {
		dial_win(r, fd, sa);
		return 1;
	}
	r->pfd[r->npending].fd = fd;
	r->pfd[r->npending].events = POLLOUT;
	r->paddr[r->npending++] = *sa;
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
		struct sockaddr_storage sa = r->paddr[i];

		if (r->pfd[i].revents == 0)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		r->npending--;
		r->pfd[i] = r->pfd[r->npending];
		r->paddr[i] = r->paddr[r->npending];
		if (err == 0) {
			dial_win(r, fd, &sa);
			return 1;
		}
		dial_failed(r, &sa, err);
		close(fd);
		r->next_start = now;
	}
	return 0;
}

/* Takes in the answers that arrived; the first one starts the clock. */
static void
dial_answers(struct dial_race *r, int64_t now)
{
	struct resolve *rv = &r->res->resolve;
	int done = resolve_collect(rv), fam;

	for (fam = 0; fam < RESOLVE_NFAMILIES; fam++) {
		if (!(done & (1 << fam)))
			continue;
		if (rv->err[fam] == 0)
			dial_enqueue(r, rv->req[fam].ar_result);
		if (fam == RESOLVE_V4)
			r->v4_wait_until = now + DIAL_RESOLUTION_DELAY_MS;
		if (r->res->dns_ms < 0 && rv->err[fam] == 0)
			r->res->dns_ms = now;
	}
	r->resolving = resolve_pending(rv);
}

/* When the race must wake next, whatever happens on the sockets. */
static int64_t
dial_wake(const struct dial_race *r)
{
	int64_t wake = r->req->deadline;
	int queued = dial_queued(r, RESOLVE_V6) || dial_queued(r, RESOLVE_V4);

	if (r->resolving && r->req->dns_deadline < wake)
		wake = r->req->dns_deadline;
	if (queued && r->npending > 0 && r->next_start < wake)
		wake = r->next_start;
	if (queued && r->resolving && r->v4_wait_until < wake)
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
	return resolve_verdict(&r->res->resolve);
}

/* Starts what may start now; returns 1 on an immediate winner. */
static int
dial_start_due(struct dial_race *r, int64_t now)
{
	const struct sockaddr_storage *sa;

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
		nfds_t n;
		int rc;

		if (r->resolving && now >= r->req->dns_deadline) {
			r->resolving = 0;
			dns_timed_out = 1;
		}
		if (now >= r->req->deadline) {
			dial_abandon(r, ETIMEDOUT);
			return dial_give_up(r, 1);
		}
		if (r->fail.resources > 0) {
			dial_abandon(r, ECANCELED);
			return OUT_RESOURCES_EXHAUSTED;
		}
		if (dial_start_due(r, now))
			return OUT_OK;
		if (r->npending == 0 && !r->resolving &&
		    !dial_queued(r, RESOLVE_V6) && !dial_queued(r, RESOLVE_V4))
			return dial_give_up(r, dns_timed_out);
		n = r->npending;
		if (r->resolving) {
			r->pfd[n].fd = r->res->resolve.fd;
			r->pfd[n++].events = POLLIN;
		}
		rc = poll(r->pfd, n, util_poll_timeout(dial_wake(r)));
		if (rc == -1 && errno != EINTR)
			return OUT_INTERNAL_ERROR;
		now = util_now_ms();
		if (rc > 0 && dial_collect(r, now))
			return OUT_OK;
		if (r->resolving)
			dial_answers(r, now);
	}
}

/* Address literals need no resolver: one synchronous, local call. */
static enum outcome
dial_literal(struct dial_race *r)
{
	struct addrinfo hints, *list = NULL;
	char service[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", r->req->port);
	if (getaddrinfo(r->req->host, service, &hints, &list) != 0)
		return OUT_DESTINATION_UNREACHABLE;
	dial_enqueue(r, list);
	freeaddrinfo(list);
	return OUT_OK;
}

enum outcome
dial_connect(const struct dial_request *req, struct dial_result *res)
{
	static struct dial_race race;
	int64_t start = util_now_ms();
	enum outcome o;

	memset(&race, 0, sizeof(race));
	race.req = req;
	race.res = res;
	race.prefer = RESOLVE_V6;
	res->fd = -1;
	res->tried[0] = '\0';
	res->dns_ms = -1;
	res->resolve.fd = -1;
	if (req->numeric) {
		if ((o = dial_literal(&race)) != OUT_OK)
			return o;
	} else if (resolve_start(&res->resolve, req->host, req->port) == -1) {
		return OUT_RESOURCES_EXHAUSTED;
	} else {
		race.resolving = 1;
	}
	o = dial_run(&race);
	if (res->dns_ms >= 0)
		res->dns_ms -= start;
	if (!req->numeric)
		resolve_end(&res->resolve);
	return o;
}
