/*
 * connectd: an HTTP CONNECT proxy for one connection.  A launcher (systemd
 * with Accept=yes, inetd, xinetd, a UCSPI server) hands over an accepted
 * client; connectd reads the request, checks it, dials the target, answers,
 * relays until both directions are done, logs one line and exits.  Each
 * step has its module (head, check, route, answer, record); this file
 * runs them in order and picks the exit status.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answer.h"
#include "check.h"
#include "confine.h"
#include "head.h"
#include "launch.h"
#include "log.h"
#include "options.h"
#include "proctitle.h"
#include "record.h"
#include "relay.h"
#include "reuse.h"
#include "route.h"
#include "sandbox.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define EXIT_USAGE 2
#define REUSE_FD_ROOM                                                          \
	16 /* --reuse: how far above the client a leak is sought */
#define SHOWN_TARGET_MAX 300 /* the target in the process title, escaped */

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

/*
 * Serves the client in s, this process already confined: reads the head,
 * checks it, dials, answers, relays and logs.  Returns the exit status.
 */
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
	o = head_read(s, s->start_ms + s->opt.request_timeout_ms);
	parsed = o == OUT_OK;
	if (o == OUT_OK) {
		show_phase(s, 1, "dialing");
		o = check_request(s);
		if (o == OUT_OK)
			o = route_open(s);
	}
	s->row = outcome_row(o);
	show_phase(s, parsed, o == OUT_OK ? "tunnel" : "refusing");
	if (o == OUT_OK)
		answer_tunnel(s);
	else
		answer_refuse(s, o, s->row);
	record_log(s);
	if (s->dial.fd != -1)
		close(s->dial.fd);
	if (o == OUT_CONFIG_ERROR)
		return EXIT_USAGE;
	return o == OUT_INTERNAL_ERROR ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Serves the client confined, or refuses it when it cannot be. */
static int
serve_confined(struct session *s)
{
	enum outcome o = confine_once(s);

	if (o == OUT_OK)
		return serve(s);
	answer_refuse(s, o, outcome_row(o));
	return o == OUT_RESOURCES_EXHAUSTED ? EXIT_SUCCESS : EXIT_FAILURE;
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
 * Ends a child of the high-rate mode with status rc.  exit(3) would run
 * the loader's destructors and stdio's clean-up: code and data of libc
 * and ld.so that a forked child has not touched, faulted in only to be
 * thrown away.  Nothing of ours waits in stdio, and the log's own exit
 * handler runs first.  The AddressSanitizer build exits as usual, for
 * LeakSanitizer's report.
 */
static int
child_exit(int rc)
{
#ifndef __SANITIZE_ADDRESS__
	log_exit();
	_exit(rc);
#endif
	return rc;
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
	/* Before the sandbox, which allows no new socket pair. */
	(void)log_relay_open();
	if (confine_as(s, SANDBOX_LISTENER) != OUT_OK)
		return EXIT_FAILURE;
	/* Said once, at the start, where the admin looks; each line has it. */
	if (sandbox_landlock_gap() != NULL)
		log_warnx(
		    "sandbox: no Landlock (%s); serving under the seccomp "
		    "filter alone (--sandbox=full would refuse)",
		    sandbox_landlock_gap());
	if ((rc = exit_status(server_run(lfd, &lim, &conn))) != -1)
		return rc;
	return child_exit(serve_child(s, conn));
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
	 * trusted.  Failing, confine_as() has said why; the answer is the same.
	 */
	options_defaults(&s->opt);
	(void)confine_as(s, SANDBOX_CONNECTION);
	if (util_set_nonblock(s->client.in_fd) == 0 &&
	    util_set_nonblock(s->client.out_fd) == 0) {
		s->row = outcome_row(OUT_CONFIG_ERROR);
		answer_refuse(s, OUT_CONFIG_ERROR, s->row);
	}
	record_log(s);
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
