/*
 * Step 3 at session level: chooses between the target and the parent,
 * dials it, and does what must happen before the tunnel's first byte (the
 * PROXY header, the parent's CONNECT handshake).  See route.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dial.h"
#include "log.h"
#include "policy.h"
#include "proxyproto.h"
#include "route.h"
#include "upstream.h"
#include "util.h"

/*
 * The parent's answer, allocated for the first tunnel through a parent and
 * kept (--reuse wipes it): a proxy without --upstream never touches it.  A
 * static buffer would cost every process more than its own pages: it split
 * the small statics beside it across pages, 12 KiB more PSS per held tunnel
 * (measured with /proc/PID/pagemap).
 */
static char *upstream_answer;

/*
 * With --upstream: whether an --upstream-except rule names the target (a
 * name by name rules, an address literal by address rules).
 */
static int
upstream_excepted(const struct session *s)
{
	return policy_list_has_host(&s->opt.upstream_except, s->req.host,
	    s->req.host_kind == REQ_HOST_NAME);
}

/*
 * Dials the parent instead of the target.  Its address is the admin's
 * choice, so the destination filter does not apply to it; the deadline
 * and Happy Eyeballs do.  Returns OUT_OK with s->dial.fd connected to it,
 * the literal's address outcome, OUT_UPSTREAM_TIMEOUT,
 * OUT_RESOURCES_EXHAUSTED or OUT_UPSTREAM_UNREACHABLE.
 */
static enum outcome
dial_upstream(struct session *s, struct dial_request *dial)
{
	const struct upstream *up = &s->opt.upstream;
	enum outcome o;

	if (s->req.host_kind != REQ_HOST_NAME &&
	    (o = check_literal(s)) != OUT_OK)
		return o;
	s->via_upstream = 1;
	snprintf(s->via, sizeof(s->via), up->v6 ? "[%s]:%u" : "%s:%u", up->host,
	    up->port);
	dial->host = up->host;
	dial->numeric = up->numeric;
	dial->port = up->port;
	dial->filter = NULL;
	o = dial_connect(dial, &s->dial);
	s->dialled = 1;
	if (o == OUT_OK) {
		util_sockaddr_text((const struct sockaddr *)&s->dial.addr,
		    s->via, sizeof(s->via));
		return OUT_OK;
	}
	if (o == OUT_CONNECTION_TIMEOUT || o == OUT_DNS_TIMEOUT)
		return OUT_UPSTREAM_TIMEOUT;
	return o == OUT_RESOURCES_EXHAUSTED ? o : OUT_UPSTREAM_UNREACHABLE;
}

/*
 * Dials s's checked target, or the parent with --upstream, within
 * --connect-timeout; OUT_OK leaves s->dial.fd connected.
 */
static enum outcome
route_dial(struct session *s)
{
	struct dial_filter filter = { check_address, s };
	struct dial_request dial;
	int64_t t0;
	enum outcome o;

	t0 = util_now_ms();
	dial.deadline = s->connect_deadline = t0 + s->opt.connect_timeout_ms;
	dial.dns_deadline = t0 + s->opt.dns_timeout_ms;
	if (s->opt.has_upstream && !upstream_excepted(s)) {
		o = dial_upstream(s, &dial);
	} else {
		dial.host = s->req.host;
		dial.numeric = s->req.host_kind != REQ_HOST_NAME;
		dial.port = s->req.port;
		dial.filter = &filter;
		o = dial_connect(&dial, &s->dial);
		s->dialled = 1;
	}
	/* -1 when no address was ever tried (the name gave none). */
	s->connect_ms = s->dial.tried[0] ? util_now_ms() - t0 : -1;
	return o;
}

/*
 * The client --send-proxy names: the one a PROXY header carried, else the
 * one the launcher's variables named (over a pipe, or behind a local
 * relay such as stunnel), else the socket's peer; NULL for none known.
 */
static const struct sockaddr *
client_for_target(const struct session *s)
{
	if (!s->pp.has_addr && s->client.has_named)
		return (const struct sockaddr *)&s->client.named;
	return s->client_addr;
}

/*
 * With --send-proxy: the PROXY header for the target, before any tunnel
 * byte: the client (see client_for_target()) and our own address.
 */
static enum outcome
send_proxy_header(struct session *s)
{
	char buf[PP_BUILD_MAX];
	const struct sockaddr *self = NULL;
	size_t n;

	if (s->client.has_local)
		self = (const struct sockaddr *)&s->client.local;
	n = pp_build(
	    s->opt.send_proxy, client_for_target(s), self, buf, sizeof(buf));
	if (n == 0)
		return OUT_INTERNAL_ERROR;
	/* A fresh socket's buffer takes it at once; failing, the target left. */
	if (util_write_all(
		s->dial.fd, buf, n, util_now_ms() + REPLY_WRITE_MS) == -1)
		return s->via_upstream ? OUT_UPSTREAM_CLOSED
				       : OUT_CONNECTION_REFUSED;
	return OUT_OK;
}

/*
 * The parent's credentials: from --upstream-auth-file, read per
 * connection as --auth-file is, or from the URL.  Returns OUT_OK with
 * cred and *len set (0: none), or OUT_CONFIG_ERROR after saying why.
 */
static enum outcome
upstream_credentials(
    const struct session *s, char *cred, size_t size, size_t *len)
{
	char err[256];

	if (s->opt.upstream_auth_file == NULL) {
		*len = s->opt.upstream.cred_len;
		memcpy(cred, s->opt.upstream.cred, *len);
		return OUT_OK;
	}
	if (upstream_load_cred(s->opt.upstream_auth_file, cred, size, len, err,
		sizeof(err)) == 0)
		return OUT_OK;
	log_warnx("--upstream-auth-file %s", err);
	return OUT_CONFIG_ERROR;
}

/*
 * Reads the parent's answer head under the connect deadline.  Returns the
 * outcome its status means (s->upstream_status set), or
 * OUT_UPSTREAM_CLOSED, OUT_UPSTREAM_TIMEOUT, OUT_UPSTREAM_BAD_RESPONSE,
 * or OUT_RESOURCES_EXHAUSTED when its buffer cannot be had.
 * Bytes after the head stay in upstream_answer: they are the tunnel's.
 */
static enum outcome
upstream_read_answer(struct session *s)
{
	struct pollfd pfd = { .fd = s->dial.fd, .events = POLLIN };

	if (upstream_answer == NULL &&
	    (upstream_answer = malloc(UPSTREAM_HEAD_MAX)) == NULL)
		return OUT_RESOURCES_EXHAUSTED;
	upstream_reply_init(&s->up_reply);
	for (;;) {
		ssize_t n = read(s->dial.fd, upstream_answer + s->up_got,
		    UPSTREAM_HEAD_MAX - s->up_got);
		int rc;

		if (n > 0) {
			s->up_got += (size_t)n;
			switch (upstream_resume(
			    upstream_answer, s->up_got, &s->up_reply)) {
			case UPSTREAM_INCOMPLETE:
				continue;
			case UPSTREAM_DONE:
				s->upstream_status = s->up_reply.status;
				return upstream_outcome(s->upstream_status);
			case UPSTREAM_BAD:
			case UPSTREAM_TOO_LARGE:
				return OUT_UPSTREAM_BAD_RESPONSE;
			}
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return OUT_UPSTREAM_CLOSED;
		if (errno == EINTR)
			continue;
		rc = poll(&pfd, 1, util_poll_timeout(s->connect_deadline));
		if (rc == 0)
			return OUT_UPSTREAM_TIMEOUT;
		if (rc == -1 && errno != EINTR)
			return OUT_INTERNAL_ERROR;
	}
}

/*
 * Asks the connected parent for the client's target: our own CONNECT
 * (the client's head and credentials are never passed on), then its
 * answer.  Returns as upstream_read_answer(), or OUT_CONFIG_ERROR.
 */
static enum outcome
upstream_handshake(struct session *s)
{
	char cred[UPSTREAM_CRED_MAX], req[UPSTREAM_CONNECT_MAX];
	size_t cred_len, n;
	enum outcome o;
	int rc, saved;

	if ((o = upstream_credentials(s, cred, sizeof(cred), &cred_len)) !=
	    OUT_OK)
		return o;
	n = upstream_build_connect(s->req.host,
	    s->req.host_kind == REQ_HOST_IPV6, s->req.port, cred, cred_len, req,
	    sizeof(req));
	explicit_bzero(cred, sizeof(cred));
	if (n == 0)
		return OUT_INTERNAL_ERROR;
	rc = util_write_all(s->dial.fd, req, n, s->connect_deadline);
	saved = errno;
	explicit_bzero(req, sizeof(req));
	if (rc == -1)
		return saved == ETIMEDOUT ? OUT_UPSTREAM_TIMEOUT
					  : OUT_UPSTREAM_CLOSED;
	return upstream_read_answer(s);
}

/*
 * Dials, then sends what goes before the tunnel's first byte: the PROXY
 * header, and through a parent our CONNECT (the PROXY header goes to the
 * parent before it).
 */
enum outcome
route_open(struct session *s)
{
	enum outcome o = route_dial(s);

	if (o == OUT_OK && s->opt.send_proxy != 0)
		o = send_proxy_header(s);
	if (o == OUT_OK && s->via_upstream)
		o = upstream_handshake(s);
	return o;
}

/*
 * Passes on the tunnel bytes the parent sent right behind its head, before
 * the relay starts.  Returns 0, or -1 when the client is gone.
 */
int
route_pass_early(struct session *s)
{
	size_t at = s->up_reply.head_len, n = s->up_got - at;
	int rc = 0;

	if (n > 0)
		rc = util_write_all(s->client.out_fd, upstream_answer + at, n,
		    util_now_ms() + REPLY_WRITE_MS);
	if (rc == 0)
		s->early_down = n;
	return rc;
}

/* The parent's answer, and any tunnel bytes behind it. */
void
route_wipe(const struct session *s)
{
	if (upstream_answer != NULL)
		explicit_bzero(upstream_answer, s->up_got);
}
