/*
 * Accept-and-fork server.  The parent only accepts, forks and reaps; all
 * request work happens in the child, on the same code path as a connection
 * handed over by inetd.  Signals arrive on a signalfd, so the loop is one
 * poll(2) over the listener and the signals.
 */
#include "server.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "reply.h"
#include "util.h"

struct server {
	int lfd, sigfd;
	int spare; /* a reserved fd, given up to refuse when out of fds */
	size_t children, max_children;
	size_t refused; /* 503s not yet logged */
	int64_t refused_logged_ms; /* when the last were */
	int stopping;
	sigset_t oldmask;
};

/*
 * sd_notify(3) through dlopen: only this long-running parent talks to
 * systemd, so only it pays for loading libsystemd.
 */
static void
server_notify(const char *state)
{
	/* The header keeps the call honest; the library comes at run time. */
	static __typeof__(&sd_notify) notify;
	static int tried;
	void *lib;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	if (!tried) {
		tried = 1;
		if ((lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL)))
			*(void **)&notify = dlsym(lib, "sd_notify");
	}
	if (notify != NULL)
		notify(0, state);
}

/* Parses "ADDR:PORT" with ADDR an IPv4 literal or a bracketed IPv6 one. */
static int
server_parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(text, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t hlen;
	long long port;

	if (colon == NULL || util_parse_int(colon + 1, 1, 65535, &port) == -1)
		return -1;
	hlen = (size_t)(colon - text);
	if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
		text++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		return -1;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	*len = sizeof(*in6);
	return 0;
}

int
server_listen(const char *addr, char *err, size_t errsize)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1, off = 0;

	if (server_parse_addr(addr, &ss, &len) == -1) {
		snprintf(err, errsize, "--listen %s: want ADDR:PORT", addr);
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* [::] serves IPv4 clients too, whatever the sysctl says. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SOMAXCONN) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errsize, "--listen %s: %s", addr, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* Reaps every exited child. */
static void
server_reap(struct server *sv)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (sv->children > 0)
			sv->children--;
		/* A child that dies this way wrote no log line of its own. */
		if (WIFSIGNALED(status))
			log_warnx("child %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warnx("child %ld exited %d", (long)pid,
			    WEXITSTATUS(status));
	}
}

/*
 * Reports refusals past --max-children at most once a second, with a
 * count, so a flood of connections does not become a flood of log lines.
 */
static void
server_note_refusal(struct server *sv)
{
	int64_t now = util_now_ms();

	sv->refused++;
	if (now - sv->refused_logged_ms < 1000)
		return;
	log_warnx("--max-children %zu reached: answered 503 to %zu "
		  "connection(s)",
	    sv->max_children, sv->refused);
	sv->refused = 0;
	sv->refused_logged_ms = now;
}

/* Reads the pending signals: children to reap, or a request to stop. */
static void
server_signals(struct server *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			sv->stopping = 1;
	server_reap(sv);
}

/*
 * Answers 503 without blocking the accept loop: the response fits in an
 * empty socket buffer; reading what the client already sent first keeps
 * the close from turning into a reset that would destroy the response.
 */
static void
server_refuse(int fd)
{
	char sink[4096];

	util_set_nonblock(fd);
	if (reply_error(fd, OUT_RESOURCES_EXHAUSTED, NULL, util_now_ms()) == 0)
		shutdown(fd, SHUT_WR);
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
}

/*
 * Accepts one connection: 1 in a new child, 0 in the parent, -1 when the
 * queue is empty (or accept failed) and the loop should poll again.
 */
static int
server_accept(struct server *sv, int *conn)
{
	int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
	pid_t pid;

	if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
	    sv->spare != -1) {
		/*
		 * Out of fds: free the spare to take the client and refuse it.
		 * accept(2) says EMFILE even with an empty queue, so only a
		 * client actually taken lets the loop go on without a poll.
		 */
		close(sv->spare);
		fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd != -1)
			server_refuse(fd);
		sv->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
		return fd != -1 ? 0 : -1;
	}
	if (fd == -1)
		return -1;
	if (sv->children >= sv->max_children) {
		server_note_refusal(sv);
		server_refuse(fd);
		return 0;
	}
	if ((pid = fork()) == -1) {
		server_refuse(fd);
		return 0;
	}
	if (pid == 0) {
		close(sv->lfd);
		close(sv->sigfd);
		if (sv->spare != -1)
			close(sv->spare);
		sigprocmask(SIG_SETMASK, &sv->oldmask, NULL);
		*conn = fd;
		return 1;
	}
	sv->children++;
	close(fd);
	return 0;
}

static int
server_setup(struct server *sv, int lfd, size_t max_children)
{
	sigset_t set;

	memset(sv, 0, sizeof(*sv));
	sv->lfd = lfd;
	sv->max_children = max_children;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, &sv->oldmask) == -1)
		return -1;
	if ((sv->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	sv->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	util_set_nonblock(lfd);
	return 0;
}

int
server_run(int lfd, size_t max_children, int *conn)
{
	struct server sv;

	if (server_setup(&sv, lfd, max_children) == -1)
		return EXIT_FAILURE;
	server_notify("READY=1\nSTATUS=accepting connections");
	while (!sv.stopping) {
		struct pollfd pfd[2] = { { sv.sigfd, POLLIN, 0 },
			{ lfd, POLLIN, 0 } };

		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			return EXIT_FAILURE;
		if (pfd[0].revents)
			server_signals(&sv);
		/* Drain the accept queue: one poll per burst, not per client. */
		while (!sv.stopping && (pfd[1].revents & POLLIN)) {
			int rc = server_accept(&sv, conn);

			if (rc == 1)
				return SERVER_CHILD;
			if (rc == -1)
				break;
		}
	}
	/* Stop accepting; the tunnels under way run to their end. */
	server_notify("STOPPING=1");
	close(lfd);
	while (sv.children > 0 && waitpid(-1, NULL, 0) > 0)
		sv.children--;
	return EXIT_SUCCESS;
}
