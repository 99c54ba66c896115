/*
 * connectd: an HTTP CONNECT proxy for one connection.  A launcher (systemd
 * with Accept=yes, inetd, xinetd, a UCSPI server) hands over an accepted
 * client; connectd reads the request, checks it, dials the target, answers,
 * relays until both directions are done, logs one line and exits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "dial.h"
#include "launch.h"
#include "log.h"
#include "options.h"
#include "peer.h"
#include "proctitle.h"
#include "proxyproto.h"
#include "relay.h"
#include "reply.h"
#include "request.h"
#include "sandbox.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

#define EXIT_USAGE 2
#define REPLY_WRITE_MS 5000 /* to write our answer to a slow reader */
#define LINGER_MS 2000 /* to drain a refused client's input */
#define REUSE_FD_ROOM                                                          \
	16 /* --reuse: how far above the client a leak is sought */
#define SHOWN_TARGET_MAX 300 /* the target in the process title, escaped */

/* One connection, from accept to the log line. */
struct session {
	struct launch client;
	struct options opt;
	struct request req;
	struct dial_result dial;
	struct relay_result relay;
	struct pp_header pp; /* with --proxy-protocol */
	/* The PROXY header, the request head and early bytes. */
	char head[PP_HEADER_MAX + REQ_HEAD_MAX];
	size_t head_got;
	size_t pp_len; /* bytes of the PROXY header at the start of head */
	const struct sockaddr *client_addr; /* the client's, or NULL */
	int64_t start_ms;
	int name_opted_in; /* an --allow-dest rule names the host */
	char user[AUTH_USER_MAX]; /* the authenticated user, for the log */
	char uid[24]; /* the client's local uid, for the log */
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
	int resolved; /* a name went to the resolver (--reuse: no more) */
	int confined; /* the sandbox is applied (once per process) */
	/* With --upstream, for a destination not excepted: */
	int via_upstream; /* the tunnel goes through the parent */
	char via[LOG_ADDR_MAX]; /* the parent's address, for the log */
	int upstream_status; /* the parent's final status, 0: none yet */
	struct upstream_reply up_reply; /* its answer's head, as parsed */
	size_t up_got; /* bytes of upstream_answer, the tunnel's after head */
	uint64_t early_down; /* of them, sent on before the relay */
	int64_t connect_deadline; /* for the parent: the dial and its answer */
};

/*
 * The parent's answer: apart from the session, so that a proxy without
 * --upstream never touches its pages.
 */
static char upstream_answer[UPSTREAM_HEAD_MAX];

/* What a child of --reuse was like before its first connection. */
struct reuse_base {
	struct rlimit lim[RLIM_NLIMITS];
	int fds; /* open fds below probe_max, the log's own left out */
	int probe_max; /* fds probed: the client's, plus room */
	int taken; /* the snapshot was taken */
};

/* What one wait for the client's bytes came to. */
enum read_step {
	READ_BYTES, /* more bytes are in s->head */
	READ_CLOSED, /* EOF or a reset; s->end says which */
	READ_TIMEOUT, /* the deadline passed; s->end says so */
	READ_FAILED, /* poll(2) failed */
};

/* Notes why the connection ended; the last word stands. */
static void
session_end(struct session *s, enum relay_end end)
{
	s->end = end;
	s->has_end = 1;
}

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
static enum outcome
read_head(struct session *s, int64_t deadline)
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

/* The dial filter: policy on each resolved address. */
static enum outcome
check_address(const struct sockaddr *sa, const void *ctx)
{
	const struct session *s = ctx;
	const struct sockaddr *self = NULL;

	if (s->client.has_local)
		self = (const struct sockaddr *)&s->client.local;
	return policy_check_addr(&s->opt.policy, sa, s->name_opted_in, self);
}

/* With --allow-uid: the client must be one of the listed local users. */
static enum outcome
check_uid(struct session *s)
{
	uid_t uid;

	if (s->opt.nuids == 0)
		return OUT_OK;
	/* A uid that cannot be established is refused, never waved through. */
	if (!s->client.is_socket || peer_uid(s->client.in_fd, &uid) == -1)
		return OUT_UID_NOT_ALLOWED;
	snprintf(s->uid, sizeof(s->uid), "%lu", (unsigned long)uid);
	if (!peer_uid_allowed(uid, s->opt.uids, s->opt.nuids))
		return OUT_UID_NOT_ALLOWED;
	return OUT_OK;
}

/* With --auth-file: Basic credentials that match a line of the file. */
static enum outcome
check_credentials(struct session *s)
{
	struct auth_file *af;
	char err[256];
	enum auth_result r;

	if (s->opt.auth_file == NULL)
		return OUT_OK;
	/* Read per connection, as the service user: edits apply at once. */
	if (auth_load(s->opt.auth_file, &af, err, sizeof(err)) == -1) {
		log_warnx("--auth-file: %s", err);
		return OUT_CONFIG_ERROR;
	}
	r = auth_check(
	    af, s->req.auth, s->req.auth_len, s->user, sizeof(s->user));
	auth_free(af);
	switch (r) {
	case AUTH_OK:
		return OUT_OK;
	case AUTH_REQUIRED:
		return OUT_AUTH_REQUIRED;
	case AUTH_MALFORMED:
		return OUT_BAD_CREDENTIALS;
	}
	return OUT_INTERNAL_ERROR;
}

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
 * An address literal sent to the parent is judged here as if dialled:
 * the parent never resolves it, so the address policy still holds.
 */
static enum outcome
check_literal(const struct session *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (s->req.host_kind == REQ_HOST_IPV4) {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, s->req.host, &sin->sin_addr) != 1)
			return OUT_BAD_TARGET;
	} else {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, s->req.host, &sin6->sin6_addr) != 1)
			return OUT_BAD_TARGET;
	}
	return check_address((const struct sockaddr *)&ss, s);
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
	s->resolved = !dial->numeric;
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
 * Checks the parsed request in the documented order (peer user,
 * credentials, port, name, then each address as it is dialled) and dials
 * it, or the parent with --upstream; OUT_OK leaves s->dial.fd connected.
 * Nothing is resolved or dialled for a request refused earlier.
 */
static enum outcome
check_and_dial(struct session *s)
{
	struct dial_filter filter = { check_address, s };
	struct dial_request dial;
	int64_t t0;
	enum outcome o;

	if ((o = check_uid(s)) != OUT_OK ||
	    (o = check_credentials(s)) != OUT_OK)
		return o;
	if ((o = policy_check_port(&s->opt.policy, s->req.port)) != OUT_OK)
		return o;
	if (s->req.host_kind == REQ_HOST_NAME) {
		o = policy_check_name(
		    &s->opt.policy, s->req.host, &s->name_opted_in);
		if (o != OUT_OK)
			return o;
	}
	t0 = util_now_ms();
	dial.deadline = s->connect_deadline = t0 + s->opt.connect_timeout_ms;
	dial.dns_deadline = t0 + s->opt.dns_timeout_ms;
	if (s->opt.has_upstream && !upstream_excepted(s)) {
		o = dial_upstream(s, &dial);
	} else {
		dial.host = s->req.host;
		dial.numeric = s->req.host_kind != REQ_HOST_NAME;
		s->resolved = !dial.numeric;
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
 * OUT_UPSTREAM_CLOSED, OUT_UPSTREAM_TIMEOUT, OUT_UPSTREAM_BAD_RESPONSE.
 * Bytes after the head stay in upstream_answer: they are the tunnel's.
 */
static enum outcome
upstream_read_answer(struct session *s)
{
	struct pollfd pfd = { .fd = s->dial.fd, .events = POLLIN };

	upstream_reply_init(&s->up_reply);
	for (;;) {
		ssize_t n = read(s->dial.fd, upstream_answer + s->up_got,
		    sizeof(upstream_answer) - s->up_got);
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
 * Passes on the tunnel bytes the parent sent right behind its head, before
 * the relay starts.  Returns 0, or -1 when the client is gone.
 */
static int
upstream_pass_early(struct session *s)
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

static void
set_nodelay(int fd)
{
	int on = 1;

	/* The relay writes what it reads; Nagle would only add latency. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Answers 200 and relays until the tunnel ends. */
static void
run_tunnel(struct session *s)
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
	    (s->via_upstream && upstream_pass_early(s) == -1)) {
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
static void
refuse(struct session *s, enum outcome o, const struct outcome_row *row)
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

/*
 * Fills the log record from what the session holds: the one place that
 * turns a connection's facts into its line.  The record points into s.
 */
static void
record_fill(const struct session *s, struct log_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	util_strlcpy(rec->client, s->client.client, sizeof(rec->client));
	rec->uid = s->uid[0] != '\0' ? s->uid : NULL;
	rec->user = s->user[0] != '\0' ? s->user : NULL;
	rec->target = s->req.target;
	rec->target_len = s->req.target_len;
	util_strlcpy(rec->addr, "-", sizeof(rec->addr));
	/* Through a parent, only the parent knows the target's address. */
	if (s->tunnel && !s->via_upstream)
		util_sockaddr_text((const struct sockaddr *)&s->dial.addr,
		    rec->addr, sizeof(rec->addr));
	if (s->via_upstream) {
		rec->via = s->via;
		rec->upstream_status = s->upstream_status;
	}
	rec->status = s->status;
	if (s->row != NULL) {
		rec->reason = s->row->reason;
		rec->rcode = s->row->rcode;
	}
	if (s->has_end)
		rec->end = relay_end_name(s->end);
	if (s->relayed) {
		rec->up = s->relay.up;
		rec->down = s->relay.down;
		rec->urgent_up = s->relay.urgent_up;
		rec->urgent_down = s->relay.urgent_down;
		if (s->relay.closed)
			rec->closed_by = relay_side_name(s->relay.closed_by);
	}
	rec->down += s->early_down;
	rec->tried = s->dialled ? s->dial.tried : NULL;
	rec->dns_ms = s->dialled ? s->dial.dns_ms : -1;
	rec->connect_ms = s->dialled ? s->connect_ms : -1;
	rec->duration_ms = util_now_ms() - s->start_ms;
}

/* Writes the connection's one log line. */
static void
session_log(const struct session *s)
{
	struct log_record rec;

	record_fill(s, &rec);
	log_record(&rec);
}

/*
 * Shows what this process does in its title: the client, the target once
 * the request parsed (escaped like the log's), and the phase.
 */
static void
show_phase(const struct session *s, int parsed, const char *phase)
{
	char target[SHOWN_TARGET_MAX], client[4 * LOG_ADDR_MAX];

	/* The launcher's address text is as untrusted as the target. */
	util_escape(
	    client, sizeof(client), s->client.client, strlen(s->client.client));
	if (!parsed) {
		proctitle_set("connectd: %s [%s]", client, phase);
		return;
	}
	util_escape(target, sizeof(target), s->req.target, s->req.target_len);
	proctitle_set("connectd: %s -> %s [%s]", client, target, phase);
}

static int
serve(struct session *s)
{
	enum outcome o;
	int parsed;

	if (util_set_nonblock(s->client.in_fd) == -1 ||
	    (s->client.out_fd != s->client.in_fd &&
		util_set_nonblock(s->client.out_fd) == -1)) {
		log_warn("client fd");
		return EXIT_FAILURE;
	}
	/* Urgent bytes stay in the stream from the first byte on. */
	if (s->client.is_socket)
		relay_inline_urgent(s->client.in_fd);
	if (s->client.has_peer)
		s->client_addr = (const struct sockaddr *)&s->client.peer;
	show_phase(s, 0, "request");
	o = read_head(s, s->start_ms + s->opt.request_timeout_ms);
	parsed = o == OUT_OK;
	if (o == OUT_OK) {
		show_phase(s, 1, "dialing");
		o = check_and_dial(s);
		/* To the parent, the PROXY header goes before our CONNECT. */
		if (o == OUT_OK && s->opt.send_proxy != 0)
			o = send_proxy_header(s);
		if (o == OUT_OK && s->via_upstream)
			o = upstream_handshake(s);
	}
	s->row = outcome_row(o);
	show_phase(s, parsed, o == OUT_OK ? "tunnel" : "refusing");
	if (o == OUT_OK)
		run_tunnel(s);
	else
		refuse(s, o, s->row);
	session_log(s);
	if (s->dial.fd != -1)
		close(s->dial.fd);
	if (o == OUT_CONFIG_ERROR)
		return EXIT_USAGE;
	return o == OUT_INTERNAL_ERROR ? EXIT_FAILURE : EXIT_SUCCESS;
}

/*
 * Confines this process for its role (see sandbox.h) before it reads a
 * byte of a request.  Returns OUT_OK, or when it cannot be confined as
 * --sandbox requires, after saying why, OUT_RESOURCES_EXHAUSTED (no
 * descriptor to build the sandbox with) or OUT_INTERNAL_ERROR.
 */
static enum outcome
confine(struct session *s, enum sandbox_role role)
{
	struct sandbox sb;
	char err[256];
	int no_fds;

	sandbox_init(&sb, s->opt.sandbox, s->log_syslog ? -1 : STDERR_FILENO);
	sb.proc = s->opt.nuids > 0;
	if (s->opt.auth_file != NULL)
		sandbox_allow_file(&sb, s->opt.auth_file);
	if (s->opt.upstream_auth_file != NULL)
		sandbox_allow_file(&sb, s->opt.upstream_auth_file);
	if (sandbox_apply(&sb, role, err, sizeof(err)) == 0)
		return OUT_OK;
	no_fds = errno == EMFILE || errno == ENFILE;
	log_warnx("sandbox: %s; not serving", err);
	return no_fds ? OUT_RESOURCES_EXHAUSTED : OUT_INTERNAL_ERROR;
}

/*
 * Confines this process as a connection, once: a reused child stays under
 * the filter it applied first.  Returns as confine().
 */
static enum outcome
confine_once(struct session *s)
{
	enum outcome o = s->confined ? OUT_OK : confine(s, SANDBOX_CONNECTION);

	s->confined = o == OUT_OK;
	return o;
}

/* Serves the client confined, or refuses it when it cannot be. */
static int
serve_confined(struct session *s)
{
	enum outcome o = confine_once(s);

	if (o == OUT_OK)
		return serve(s);
	refuse(s, o, outcome_row(o));
	return o == OUT_RESOURCES_EXHAUSTED ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Counts the open fds below max, the log's own aside, with fcntl(2): the
 * sandbox lets a connection neither list /proc nor open it.
 */
static int
count_fds(int max)
{
	int fd, n = 0;

	for (fd = 0; fd < max; fd++)
		if (fd != log_fd() && fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/*
 * Takes what reuse_clean() compares against: the limits, and the fds open
 * below probe_max (a leaked fd takes the lowest free number, so it falls
 * below the client's fd plus some room).  0, or -1 with errno.
 */
static int
reuse_snapshot(struct reuse_base *b, int probe_max)
{
	int i;

	for (i = 0; i < RLIM_NLIMITS; i++)
		if (getrlimit((__rlimit_resource_t)i, &b->lim[i]) == -1)
			return -1;
	b->probe_max = probe_max;
	b->fds = count_fds(probe_max);
	b->taken = 1;
	return 0;
}

/*
 * Whether a child of --reuse may serve again after s, its fds closed:
 * conservatively no once a name went to the resolver (getaddrinfo_a(3)
 * leaves a thread behind; no other code starts one), or with an fd (the
 * log's own aside) or a resource limit that was not there before its
 * first connection, or when it could not be confined.
 */
static int
reuse_clean(const struct session *s, const struct reuse_base *before)
{
	struct reuse_base now;

	if (!before->taken || s->resolved || !s->confined ||
	    reuse_snapshot(&now, before->probe_max) == -1 ||
	    now.fds != before->fds)
		return 0;
	return memcmp(now.lim, before->lim, sizeof(now.lim)) == 0;
}

/*
 * Wipes what one connection left in this process for the next one: the
 * session (the options, the log's sink and whether the sandbox is on
 * aside), the relay's buffers and the upstream parent's answer.
 */
static void
session_wipe(struct session *s)
{
	struct options opt = s->opt;
	int confined = s->confined, log_syslog = s->log_syslog;

	/* The parent's answer, and any tunnel bytes behind it. */
	explicit_bzero(upstream_answer, s->up_got);
	explicit_bzero(s, sizeof(*s));
	s->opt = opt;
	s->confined = confined;
	s->log_syslog = log_syslog;
	s->dial.fd = -1;
	relay_wipe();
}

/*
 * The exit status for how server_run() or server_next() returned, or -1
 * in a child with a connection to serve.
 */
static int
exit_status(enum server_status st)
{
	switch (st) {
	case SERVER_CHILD:
		return -1;
	case SERVER_STOPPED:
		return EXIT_SUCCESS;
	case SERVER_FAILED:
		return EXIT_FAILURE;
	}
	return EXIT_FAILURE;
}

/*
 * Serves the connections of one child: one, or with --reuse up to that
 * many in turn while each leaves nothing behind.  Returns the exit status.
 */
static int
serve_child(struct session *s, int conn)
{
	struct reuse_base before = { .taken = 0 };
	int rc, reuse = s->opt.reuse > 1;

	for (;;) {
		s->start_ms = util_now_ms();
		rc = EXIT_SUCCESS;
		if (launch_accepted(&s->client, conn) == LAUNCH_CLIENT_GONE) {
			close(conn);
			return rc;
		}
		/*
		 * The baseline is taken once confined (the sandbox sets
		 * limits), with the client's fd, the newest: a leak would
		 * take a number after it.
		 */
		if (reuse && !before.taken && confine_once(s) == OUT_OK &&
		    reuse_snapshot(&before, conn + 1 + REUSE_FD_ROOM) == 0)
			before.fds--; /* the client's is not the child's own */
		rc = serve_confined(s);
		close(conn);
		if (rc != EXIT_SUCCESS || !reuse || !reuse_clean(s, &before))
			return rc;
		session_wipe(s);
		if ((rc = exit_status(server_next(&conn))) != -1)
			return rc;
	}
}

/*
 * The high-rate mode: accepts on lfd and forks; each child goes on to serve
 * its connection like any other.  err holds the message when lfd is -1.
 */
static int
serve_listener(struct session *s, int lfd, const char *err)
{
	struct server_limits lim = { s->opt.max_children, s->opt.spares,
		s->opt.reuse };
	int conn, rc;

	if (lfd == -1) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	if (confine(s, SANDBOX_LISTENER) != OUT_OK)
		return EXIT_FAILURE;
	if ((rc = exit_status(server_run(lfd, &lim, &conn))) != -1)
		return rc;
	return serve_child(s, conn);
}

/*
 * Settles where the log goes once the client's n fds are known (none for a
 * listener): never into the client's stream.
 */
static void
settle_log_sink(
    struct session *s, int stderr_closed, const int *client_fds, size_t n)
{
	s->log_syslog = stderr_closed || launch_stderr_is_client(client_fds, n);
	log_init(s->opt.log_sink, s->log_syslog);
}

/*
 * After a --config file that cannot be used: a client that a launcher
 * handed over gets 500 config_error and its log line, rather than a bare
 * close, so the mistake shows at both ends.  (A bad command line is a
 * usage error, answered on stderr alone.)  Returns the exit status, 2.
 */
static int
refuse_misconfigured(struct session *s, int stderr_closed)
{
	char err[256];

	if (launch_detect(&s->client, 1, err, sizeof(err)) != LAUNCH_OK ||
	    s->client.listening)
		return EXIT_USAGE;
	settle_log_sink(s, stderr_closed,
	    (const int[]){ s->client.in_fd, s->client.out_fd }, 2);
	/*
	 * Confined like any connection, with nothing of the unusable file
	 * trusted.  Failing, confine() has said why; the answer is the same.
	 */
	options_defaults(&s->opt);
	(void)confine(s, SANDBOX_CONNECTION);
	if (util_set_nonblock(s->client.in_fd) == 0 &&
	    util_set_nonblock(s->client.out_fd) == 0) {
		s->row = outcome_row(OUT_CONFIG_ERROR);
		refuse(s, OUT_CONFIG_ERROR, s->row);
	}
	session_log(s);
	return EXIT_USAGE;
}

int
main(int argc, char *argv[])
{
	static struct session s;
	char err[256];
	int stderr_closed;

	s.start_ms = util_now_ms();
	s.dial.fd = -1;
	argv = proctitle_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	stderr_closed = launch_guard_std_fds();
	/* Until the launcher is known, any standard fd may be the client. */
	log_init(LOG_SINK_AUTO, stderr_closed || launch_stderr_may_be_client());
	switch (options_parse(argc, argv, &s.opt, err, sizeof(err))) {
	case OPTIONS_RUN:
		break;
	case OPTIONS_EXIT:
		return EXIT_SUCCESS;
	case OPTIONS_USAGE:
		log_warnx("%s (see connectd --help)", err);
		return EXIT_USAGE;
	case OPTIONS_BAD_CONFIG:
		log_warnx("%s", err);
		return refuse_misconfigured(&s, stderr_closed);
	}
	if (s.opt.listen != NULL) {
		settle_log_sink(&s, stderr_closed, NULL, 0);
		return serve_listener(
		    &s, server_listen(s.opt.listen, err, sizeof(err)), err);
	}
	switch (launch_detect(&s.client, s.opt.fork, err, sizeof(err))) {
	case LAUNCH_OK:
		break;
	case LAUNCH_CLIENT_GONE:
		return EXIT_SUCCESS;
	case LAUNCH_USAGE:
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	if (s.client.listening) {
		settle_log_sink(&s, stderr_closed, NULL, 0);
		return serve_listener(&s, s.client.in_fd, err);
	}
	settle_log_sink(&s, stderr_closed,
	    (const int[]){ s.client.in_fd, s.client.out_fd }, 2);
	return serve_confined(&s);
}
