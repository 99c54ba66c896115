/*
 * Step 1: reads the client's head under the request deadline, resuming
 * the pure parsers (proxyproto.c, request.c) as bytes trickle in, so that
 * a slow head is parsed once.  See head.h.
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "head.h"
#include "policy.h"
#include "proxyproto.h"
#include "request.h"
#include "util.h"

/* What one wait for the client's bytes came to. */
enum read_step {
	READ_BYTES, /* more bytes are in s->head */
	READ_CLOSED, /* EOF or a reset; s->end says which */
	READ_TIMEOUT, /* the deadline passed; s->end says so */
	READ_FAILED, /* poll(2) failed */
};

/* Reads what the client has sent into s->head, waiting until deadline. */
static enum read_step
read_more(struct session *s, int64_t deadline)
{
	struct pollfd pfd = { .fd = s->client.in_fd, .events = POLLIN };

	for (;;) {
		ssize_t n = read(s->client.in_fd, s->head + s->head_got,
		    sizeof(s->head) - s->head_got);
		int rc;

		if (n > 0) {
			s->head_got += (size_t)n;
			return READ_BYTES;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			session_end(
			    s, n == 0 ? RELAY_END_EOF : RELAY_END_CLIENT_RESET);
			return READ_CLOSED;
		}
		if (errno == EINTR)
			continue;
		rc = poll(&pfd, 1, util_poll_timeout(deadline));
		if (rc == 0) {
			session_end(s, RELAY_END_REQUEST_TIMEOUT);
			return READ_TIMEOUT;
		}
		if (rc == -1 && errno != EINTR)
			return READ_FAILED;
	}
}

/*
 * What a client that closed (EOF or a reset) before its first request byte
 * was.  With --proxy-protocol the peer is a trusted balancer, and one that
 * sent no header, or a header that carries no client (v2 LOCAL, v1
 * UNKNOWN), is a health check: a client behind it always comes with its
 * address.  Anything else is a client that sent nothing.
 */
static enum outcome
closed_before_request(const struct session *s)
{
	if (s->opt.proxy_protocol && !s->pp.has_addr)
		return OUT_PROBE;
	return OUT_NO_REQUEST;
}

/*
 * With --proxy-protocol: checks that the socket's peer may send a PROXY
 * header, then reads one to its end under the request deadline (bytes
 * past it stay in s->head for the request).  Returns OUT_OK with s->pp and
 * s->pp_len set, OUT_PROBE when the peer closed before one byte came,
 * OUT_NO_REQUEST when the deadline passed first, or the outcome that ends
 * the connection.
 */
static enum outcome
read_proxy_header(struct session *s, int64_t deadline)
{
	enum read_step step;

	if (!policy_list_has_sockaddr(&s->opt.proxy_from, s->client_addr))
		return OUT_PROXY_PEER_NOT_ALLOWED;
	for (;;) {
		switch (pp_parse(s->head, s->head_got, &s->pp)) {
		case PP_DONE:
			s->pp_len = s->pp.len;
			return OUT_OK;
		case PP_NONE:
			return OUT_PROXY_HEADER_MISSING;
		case PP_BAD:
			return OUT_PROXY_HEADER_BAD;
		case PP_INCOMPLETE:
			break;
		}
		switch (step = read_more(s, deadline)) {
		case READ_BYTES:
			break;
		case READ_CLOSED:
		case READ_TIMEOUT:
			/* A header cut short is a bad one: no reply either. */
			if (s->head_got > 0)
				return OUT_PROXY_HEADER_BAD;
			return step == READ_CLOSED ? closed_before_request(s)
						   : OUT_NO_REQUEST;
		case READ_FAILED:
			return OUT_INTERNAL_ERROR;
		}
	}
}

/*
 * Reads the request after any PROXY header until the parser has a
 * verdict, the client closes, or the request deadline passes.  Returns
 * the parser's outcome, OUT_INCOMPLETE for an EOF mid-head,
 * OUT_REQUEST_TIMEOUT, or, when not one byte came, OUT_NO_REQUEST or
 * OUT_PROBE (closed_before_request(); then s->end says why).
 */
static enum outcome
read_request(struct session *s, int64_t deadline)
{
	/* Each read resumes the parse: a trickled head is parsed once. */
	req_init(&s->req);
	for (;;) {
		size_t got = s->head_got - s->pp_len;
		enum outcome o;

		if (got > 0) {
			o = req_resume(s->head + s->pp_len, got, &s->req);
			if (o != OUT_INCOMPLETE)
				return o;
		}
		switch (read_more(s, deadline)) {
		case READ_BYTES:
			break;
		case READ_CLOSED:
			return got > 0 ? OUT_INCOMPLETE
				       : closed_before_request(s);
		case READ_TIMEOUT:
			return got > 0 ? OUT_REQUEST_TIMEOUT : OUT_NO_REQUEST;
		case READ_FAILED:
			return OUT_INTERNAL_ERROR;
		}
	}
}

/*
 * The carried address becomes the client's, for the log, the title and
 * --send-proxy; LOCAL and UNKNOWN keep the socket's.
 */
static void
take_proxy_client(struct session *s)
{
	if (!s->pp.has_addr)
		return;
	s->client_addr = (const struct sockaddr *)&s->pp.src;
	util_sockaddr_text(
	    s->client_addr, s->client.client, sizeof(s->client.client));
}

/*
 * Reads the head: the PROXY header when required, then the request.
 * Returns as read_request() does, or a PROXY outcome.
 */
enum outcome
head_read(struct session *s, int64_t deadline)
{
	enum outcome o;

	if (s->opt.proxy_protocol) {
		if ((o = read_proxy_header(s, deadline)) != OUT_OK)
			return o;
		take_proxy_client(s);
		return read_request(s, deadline);
	}
	o = read_request(s, deadline);
	/*
	 * A balancer sending headers to a proxy not told to expect them:
	 * named as such in the log, and (like any header) left unanswered.
	 */
	if (o != OUT_OK && o != OUT_NO_REQUEST && o != OUT_PROBE &&
	    s->head_got >= 5 &&
	    pp_parse(s->head, s->head_got, &s->pp) != PP_NONE)
		return OUT_PROXY_HEADER_UNEXPECTED;
	return o;
}
