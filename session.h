/*
 * One connection's session, from accept to the log line: what each step
 * (read the head, check, dial, answer, relay, log) learns about the
 * connection goes here, and the log line is made from it at the end.  The
 * session is created once in main() and wiped for the next connection of
 * a --reuse child by session_wipe() alone.
 */
#ifndef CONNECTD_SESSION_H
#define CONNECTD_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "auth.h"
#include "dial.h"
#include "launch.h"
#include "log.h"
#include "options.h"
#include "outcome.h"
#include "proxyproto.h"
#include "relay.h"
#include "request.h"
#include "upstream.h"

#define REPLY_WRITE_MS 5000 /* to write our answer to a slow reader */

/*
 * One connection, from accept to the log line.  The order of the fields is
 * chosen for memory: each page of this (static) struct that a connection
 * writes is a page per held tunnel, and most of it is never written.  The
 * request, the dial result (its tried list last) and the start of the
 * head share the page where the session starts, after the few bytes of
 * .data; the head's long tail, the user (written only with --auth-file)
 * and the PROXY header (only with --proxy-protocol) lead to the page where
 * the client, the flags and the first fields of the options lie.  The
 * options' rarely written lists come last.  This still depends on where
 * the linker puts the session after .data (a session 160 bytes into its
 * page has the client straddle a boundary without the PROXY header before
 * it); checked with /proc/PID/pagemap (docs/benchmarks.md, PSS).
 */
struct session {
	struct request req;
	struct dial_result dial;
	/* The PROXY header, the request head and early bytes. */
	char head[PP_HEADER_MAX + REQ_HEAD_MAX];
	char user[AUTH_USER_MAX]; /* the authenticated user, for the log */
	struct pp_header pp; /* with --proxy-protocol */
	struct launch client;
	size_t head_got; /* bytes in head[] */
	size_t pp_len; /* bytes of the PROXY header at the start of head */
	const struct sockaddr *client_addr; /* the client's, or NULL */
	int64_t start_ms;
	int name_opted_in; /* an --allow-dest rule names the host */
	/* What happened, from which record_fill() makes the log line. */
	const struct outcome_row *row; /* the outcome's, once known */
	int status; /* the HTTP status sent, 0 for none */
	int has_end; /* end says why the connection ended */
	enum relay_end end;
	int dialled; /* dial_connect() ran: s->dial is its result */
	int64_t connect_ms; /* dialling took; -1 when nothing was tried */
	int tunnel; /* a 200 was due: s->dial.addr carried it */
	int relayed; /* the relay ran: s->relay is its result */
	int log_syslog; /* fd 2 is no place for the log */
	int confined; /* the sandbox is applied (once per process) */
	struct relay_result relay;
	char uid[24]; /* the client's local uid, for the log */
	/* With --upstream, for a destination not excepted: */
	int via_upstream; /* the tunnel goes through the parent */
	int upstream_status; /* the parent's final status, 0: none yet */
	size_t up_got; /* bytes of upstream_answer, the tunnel's after head */
	uint64_t early_down; /* of them, sent on before the relay */
	int64_t connect_deadline; /* for the parent: the dial and its answer */
	struct upstream_reply up_reply; /* its answer's head, as parsed */
	char via[LOG_ADDR_MAX]; /* the parent's address, for the log */
	struct options opt;
};

/*
 * Notes why the connection ended (s->end, s->has_end); the last word
 * stands.
 */
void session_end(struct session *s, enum relay_end end);

/*
 * Wipes what one connection left in this process for the next one: the
 * session (the options, the log's sink and whether the sandbox is on
 * aside, s->dial.fd set to -1), the relay's buffers and the upstream
 * parent's answer.  Closes nothing: the caller has closed the fds.
 */
void session_wipe(struct session *s);

#endif
