/*
 * Resolution and the connection race.  Attempts start one
 * DIAL_ATTEMPT_DELAY_MS after another, or at once when the previous one
 * fails; earlier attempts keep running, and the first to connect wins.
 */
#include "dial.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

struct dial_race {
	const struct addrinfo *order[DIAL_MAX_ADDRS];
	size_t n, next;
	struct pollfd pfd[DIAL_MAX_ADDRS];
	const struct addrinfo *pai[DIAL_MAX_ADDRS];
	size_t npending;
	struct dial_failures fail;
	const struct dial_filter *filter;
	struct dial_result *res;
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
dial_note(struct dial_result *res, const struct sockaddr *sa, int err)
{
	char addr[64];
	size_t used = strlen(res->tried);

	util_sockaddr_text(sa, addr, sizeof(addr));
	snprintf(res->tried + used, sizeof(res->tried) - used, "%s%s=%s",
	    used > 0 ? "," : "", addr, dial_error_name(err));
}

static void
dial_count(struct dial_failures *f, int err)
{
	const char *name = dial_error_name(err);

	if (strcmp(name, "refused") == 0)
		f->refused++;
	else if (strcmp(name, "timeout") == 0)
		f->timeout++;
	else if (strcmp(name, "no_resources") == 0)
		f->resources++;
	else
		f->unreachable++;
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

static enum outcome
dial_gai_outcome(int rc)
{
	switch (rc) {
	case EAI_MEMORY:
		return OUT_RESOURCES_EXHAUSTED;
	case EAI_SYSTEM:
		return errno == EMFILE || errno == ENFILE
		    ? OUT_RESOURCES_EXHAUSTED
		    : OUT_DNS_ERROR;
	default:
		/* NONAME, NODATA, AGAIN, FAIL: the name gives no address. */
		return OUT_DNS_ERROR;
	}
}

/* RFC 8305 section 4: alternate families, IPv6 first. */
static void
dial_order(struct dial_race *r, const struct addrinfo *list)
{
	const struct addrinfo *v6 = list, *v4 = list;

	r->n = 0;
	while (r->n < DIAL_MAX_ADDRS) {
		while (v6 != NULL && v6->ai_family != AF_INET6)
			v6 = v6->ai_next;
		while (v4 != NULL && v4->ai_family != AF_INET)
			v4 = v4->ai_next;
		if (v6 == NULL && v4 == NULL)
			break;
		if (v6 != NULL) {
			r->order[r->n++] = v6;
			v6 = v6->ai_next;
		}
		if (v4 != NULL && r->n < DIAL_MAX_ADDRS) {
			r->order[r->n++] = v4;
			v4 = v4->ai_next;
		}
	}
}

/*
 * Starts a connect to ai.  Returns the socket with *err 0 (connected) or
 * EINPROGRESS (pending), or -1 with *err the failure.
 */
static int
dial_start(const struct addrinfo *ai, int *err)
{
	int fd;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
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
dial_win(struct dial_race *r, int fd, const struct addrinfo *ai)
{
	size_t i;

	dial_note(r->res, ai->ai_addr, 0);
	for (i = 0; i < r->npending; i++) {
		dial_note(r->res, r->pai[i]->ai_addr, ECANCELED);
		close(r->pfd[i].fd);
	}
	r->npending = 0;
	r->res->fd = fd;
	memcpy(&r->res->addr, ai->ai_addr, ai->ai_addrlen);
}

/* Closes every pending attempt, recording err for each. */
static void
dial_abandon(struct dial_race *r, int err)
{
	size_t i;

	for (i = 0; i < r->npending; i++) {
		dial_note(r->res, r->pai[i]->ai_addr, err);
		dial_count(&r->fail, err);
		close(r->pfd[i].fd);
	}
	r->npending = 0;
}

/*
 * Starts the next address.  Returns 1 when it connected at once (r->res
 * filled in), 0 when it is pending, -1 when it failed at once.
 */
static int
dial_launch_next(struct dial_race *r)
{
	const struct addrinfo *ai = r->order[r->next++];
	enum outcome verdict = OUT_OK;
	int err, fd;

	if (r->filter != NULL)
		verdict = r->filter->check(ai->ai_addr, r->filter->ctx);
	if (verdict != OUT_OK) {
		/* Refused by policy: no packet is ever sent to it. */
		dial_note(r->res, ai->ai_addr, EACCES);
		r->fail.denied++;
		r->fail.denial = verdict;
		return -1;
	}
	fd = dial_start(ai, &err);
	if (fd != -1 && err == 0) {
		dial_win(r, fd, ai);
		return 1;
	}
	if (fd == -1) {
		dial_note(r->res, ai->ai_addr, err);
		dial_count(&r->fail, err);
		return -1;
	}
	r->pfd[r->npending].fd = fd;
	r->pfd[r->npending].events = POLLOUT;
	r->pai[r->npending++] = ai;
	return 0;
}

/*
 * Collects finished attempts after poll.  Returns OUT_OK on a winner, else
 * OUT_INCOMPLETE; *failed is set when an attempt failed (so the next one may
 * start at once).
 */
static enum outcome
dial_collect(struct dial_race *r, int *failed)
{
	size_t i = r->npending;

	while (i-- > 0) {
		int fd = r->pfd[i].fd, err = 0;
		socklen_t len = sizeof(err);
		const struct addrinfo *ai = r->pai[i];

		if (r->pfd[i].revents == 0)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		r->npending--;
		r->pfd[i] = r->pfd[r->npending];
		r->pai[i] = r->pai[r->npending];
		if (err == 0) {
			dial_win(r, fd, ai);
			return OUT_OK;
		}
		dial_note(r->res, ai->ai_addr, err);
		dial_count(&r->fail, err);
		close(fd);
		*failed = 1;
	}
	return OUT_INCOMPLETE;
}

static enum outcome
dial_run(struct dial_race *r, int64_t deadline)
{
	int64_t next_start = 0;

	for (;;) {
		int64_t now = util_now_ms(), wake = deadline;
		int failed = 0, rc;

		if (now >= deadline) {
			dial_abandon(r, ETIMEDOUT);
			return OUT_CONNECTION_TIMEOUT;
		}
		if (r->fail.resources > 0) {
			dial_abandon(r, ECANCELED);
			return OUT_RESOURCES_EXHAUSTED;
		}
		if (r->next < r->n && (r->npending == 0 || now >= next_start)) {
			rc = dial_launch_next(r);
			if (rc == 1)
				return OUT_OK;
			/* A failed attempt lets the next one start at once. */
			next_start = rc == 0 ? now + DIAL_ATTEMPT_DELAY_MS
					     : now;
			continue;
		}
		if (r->npending == 0)
			return dial_verdict(&r->fail);
		if (r->next < r->n && next_start < wake)
			wake = next_start;
		rc = poll(r->pfd, r->npending, util_poll_timeout(wake));
		if (rc == -1 && errno != EINTR)
			return OUT_INTERNAL_ERROR;
		if (rc > 0 && dial_collect(r, &failed) == OUT_OK)
			return OUT_OK;
		if (failed)
			next_start = now;
	}
}

enum outcome
dial_connect(const char *host, unsigned int port, int numeric,
    const struct dial_filter *filter, int64_t deadline, struct dial_result *res)
{
	struct addrinfo hints, *list = NULL;
	struct dial_race race;
	char service[8];
	enum outcome o;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
	res->fd = -1;
	res->tried[0] = '\0';
	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &list)) != 0)
		return dial_gai_outcome(rc);
	memset(&race, 0, sizeof(race));
	race.res = res;
	race.filter = filter;
	dial_order(&race, list);
	o = race.n > 0 ? dial_run(&race, deadline) : OUT_DNS_ERROR;
	freeaddrinfo(list);
	return o;
}
