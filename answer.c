/*
 * Steps 4 and 5: answers the client, with a 200 and the relay behind it,
 * or with the error an outcome calls for and a lingering close.  See
 * answer.h.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>

#include "answer.h"
#include "relay.h"
#include "reply.h"
#include "route.h"
#include "util.h"

#define LINGER_MS 2000 /* to drain a refused client's input */

/* Turns Nagle's algorithm off on fd; a failure only costs latency. */
static void
set_nodelay(int fd)
{
	int on = 1;

	/* The relay writes what it reads; Nagle would only add latency. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Answers 200 and relays until the tunnel ends. */
void
answer_tunnel(struct session *s)
{
	struct relay_ends ends = {
		.client_in = s->client.in_fd,
		.client_out = s->client.out_fd,
		.target = s->dial.fd,
		.client_is_socket = s->client.is_socket,
		.splice = !s->opt.no_splice,
	};
	int64_t lifetime = -1;

	s->tunnel = 1;
	if (reply_ok(s->client.out_fd, util_now_ms() + REPLY_WRITE_MS) == -1 ||
	    (s->via_upstream && route_pass_early(s) == -1)) {
		session_end(s, RELAY_END_CLIENT_GONE);
		return;
	}
	s->status = 200;
	if (s->client.is_socket)
		set_nodelay(s->client.in_fd);
	set_nodelay(s->dial.fd);
	relay_inline_urgent(s->dial.fd);
	if (s->opt.max_lifetime_ms > 0)
		lifetime = util_now_ms() + s->opt.max_lifetime_ms;
	relay_run(&ends, s->head + s->pp_len + s->req.head_len,
	    s->head_got - s->pp_len - s->req.head_len, s->opt.idle_timeout_ms,
	    lifetime, &s->relay);
	s->relayed = 1;
	session_end(s, s->relay.end);
}

/* Sends the error answer for o (its row), then closes the client gracefully. */
void
answer_refuse(struct session *s, enum outcome o, const struct outcome_row *row)
{
	int64_t now = util_now_ms();
	char challenge[OPTIONS_REALM_MAX + 80];
	const char *extra = NULL;

	s->status = row->status;
	if (row->status == 0)
		return;
	if (o == OUT_AUTH_REQUIRED) {
		/* RFC 7617 section 2: Basic, with the charset parameter. */
		snprintf(challenge, sizeof(challenge),
		    "Proxy-Authenticate: Basic realm=\"%s\", "
		    "charset=\"UTF-8\"\r\n",
		    s->opt.realm);
		extra = challenge;
	}
	/* The parent's status, when it gave one, goes in Proxy-Status. */
	if (reply_error_received(s->client.out_fd, row, extra,
		s->upstream_status, now + REPLY_WRITE_MS) == -1) {
		session_end(s, RELAY_END_CLIENT_GONE);
		return;
	}
	reply_linger(s->client.in_fd, s->client.out_fd, now + LINGER_MS);
}
