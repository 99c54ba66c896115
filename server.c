/*
 * Accept-and-fork server.  The parent only accepts, forks and reaps; all
 * request work happens in the child, on the same code path as a connection
 * handed over by inetd.  Signals arrive on a signalfd, so the loop is one
 * poll(2) over the listener and the signals.  Spares are children forked
 * ahead that wait in accept(2) themselves; each tells the parent through a
 * pipe when it took its connection, and the parent forks another.
 */
#include "server.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "options.h"
#include "proctitle.h"
#include "reply.h"
#include "util.h"

/*
 * Accepts taken per poll(2): enough to drain a burst in one wake-up, few
 * enough that a flood still lets the loop read its signals (SIGTERM, and
 * SIGCHLD, without which no child is reaped and every client gets 503).
 */
#define SERVER_ACCEPT_BURST 64
/* Pause in accepting when out of fds with no spare: doubles up to the max. */
#define SERVER_PAUSE_MIN_MS 16
#define SERVER_PAUSE_MAX_MS 1024
#define SERVER_LOG_INTERVAL_MS 1000 /* at most one line per kind and second */
/* A connection is served non-blocking: accepted so, it needs no fcntl(2). */
#define SERVER_ACCEPT_FLAGS (SOCK_CLOEXEC | SOCK_NONBLOCK)

/* Why a connection was answered 503 by the parent itself. */
enum server_refusal {
	REFUSE_MAX_CHILDREN, /* --max-children live children */
	REFUSE_NO_FDS, /* taken with the spare fd, the parent being out */
	REFUSE_FORK, /* fork(2) failed */
	REFUSE_COUNT
};

/* What one accept(2) came to. */
enum server_accept {
	ACCEPT_NEXT, /* a connection was handled here: accept another */
	ACCEPT_EMPTY, /* the queue is empty: poll again */
	ACCEPT_PAUSE, /* a resource is out: stop polling the listener a while */
	ACCEPT_CHILD /* in a new child, with the connection */
};

/* Like events, counted and logged at most once an interval. */
struct server_tally {
	size_t count;
	int64_t logged_ms;
	int err; /* errno of the last one, where it has one */
};

struct server {
	int lfd, sigfd;
	int taken[2]; /* a spare writes its pid here once it has a client */
	int stop[2]; /* closed by the parent to send waiting spares away */
	int ep; /* in a spare: epoll over the listener and stop[0], or -1 */
	size_t spares; /* spares to keep waiting */
	size_t reuse; /* connections a spare may serve, one after another */
	size_t reuse_left; /* in a spare: connections it may still serve */
	pid_t self; /* in a spare: its pid, as it tells the parent */
	size_t idle; /* spares waiting now: the first entries of idle_pid */
	pid_t idle_pid[OPTIONS_SPARES_MAX];
	int64_t refill_ms; /* no spare is forked before then */
	int spare; /* a reserved fd, given up to refuse when out of fds */
	size_t children, max_children;
	struct server_tally refused[REFUSE_COUNT];
	struct server_tally paused; /* accept(2) failures that paused */
	int64_t pause_ms; /* the current pause, 0 when accepting */
	int64_t resume_ms; /* when the listener is polled again */
	int stopping;
	enum server_status child; /* in a new child: what to return */
	sigset_t oldmask;
	char where[64]; /* the listener's address, for the process title */
	size_t shown; /* the child count the title shows */
	size_t shown_idle; /* ... and the spare count */
};

/* The parent's state, and in a child the copy it took at the fork. */
static struct server server_state;

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

/* Drops pid from the waiting spares; returns 0, or -1 if it was not one. */
static int
server_forget_spare(struct server *sv, pid_t pid)
{
	size_t i;

	for (i = 0; i < sv->idle; i++)
		if (sv->idle_pid[i] == pid) {
			sv->idle_pid[i] = sv->idle_pid[--sv->idle];
			return 0;
		}
	return -1;
}

/*
 * Reads which spares took a client since the last time (their pid), and
 * which children of --reuse wait again (minus their pid).
 */
static void
server_taken(struct server *sv)
{
	pid_t pids[OPTIONS_SPARES_MAX];
	ssize_t n;
	size_t i;

	while ((n = read(sv->taken[0], pids, sizeof(pids))) > 0)
		for (i = 0; i < (size_t)n / sizeof(pid_t); i++)
			if (pids[i] > 0)
				server_forget_spare(sv, pids[i]);
			else if (sv->idle < OPTIONS_SPARES_MAX)
				sv->idle_pid[sv->idle++] = -pids[i];
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
		/* A spare gone before its client: no refill storm. */
		if (server_forget_spare(sv, pid) == 0 && !sv->stopping)
			sv->refill_ms = util_now_ms() + SERVER_PAUSE_MAX_MS;
		/* A child that dies this way wrote no log line of its own. */
		if (WIFSIGNALED(status))
			log_warnx("child %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warnx("child %ld exited %d", (long)pid,
			    WEXITSTATUS(status));
	}
	if (pid == -1 && errno == ECHILD)
		sv->children = 0; /* whatever was counted */
}

/*
 * Counts one event of a kind; returns how many to report now, 0 when the
 * kind was reported less than an interval ago (they are reported with the
 * next one after it).  A flood of connections must not become a flood of
 * log lines.
 */
static size_t
server_tally(struct server_tally *t, int err)
{
	int64_t now = util_now_ms();
	size_t n;

	t->count++;
	t->err = err;
	if (t->logged_ms != 0 && now - t->logged_ms < SERVER_LOG_INTERVAL_MS)
		return 0;
	n = t->count;
	t->count = 0;
	t->logged_ms = now;
	return n;
}

/* Logs n refusals of one kind. */
static void
server_log_refusals(const struct server *sv, enum server_refusal why, size_t n)
{
	const char *err = strerror(sv->refused[why].err);

	switch (why) {
	case REFUSE_MAX_CHILDREN:
		log_warnx("--max-children %zu reached: answered 503 to %zu "
			  "connection(s)",
		    sv->max_children, n);
		return;
	case REFUSE_NO_FDS:
		log_warnx("out of file descriptors (%s): answered 503 to %zu "
			  "connection(s)",
		    err, n);
		return;
	case REFUSE_FORK:
		log_warnx(
		    "fork: %s: answered 503 to %zu connection(s)", err, n);
		return;
	case REFUSE_COUNT:
		return;
	}
}

/*
 * Answers 503 without blocking the accept loop: the response fits in an
 * empty socket buffer; reading what the client already sent first keeps
 * the close from turning into a reset that would destroy the response.
 * err is the errno behind the refusal, 0 for none.
 */
static void
server_refuse(struct server *sv, int fd, enum server_refusal why, int err)
{
	char sink[4096];
	size_t n;

	util_set_nonblock(fd);
	if (reply_error(fd, outcome_row(OUT_RESOURCES_EXHAUSTED), NULL,
		util_now_ms()) == 0)
		shutdown(fd, SHUT_WR);
	while (read(fd, sink, sizeof(sink)) > 0)
		;
	close(fd);
	if ((n = server_tally(&sv->refused[why], err)) > 0)
		server_log_refusals(sv, why, n);
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

/* Opens the spare fd if it is not held; returns 0, or -1 with errno. */
static int
server_spare(struct server *sv)
{
	if (sv->spare == -1)
		sv->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return sv->spare == -1 ? -1 : 0;
}

/*
 * Out of fds (EMFILE, ENFILE): frees the spare to take one client and
 * answer it 503, then takes the spare back.  Without a spare, or when it
 * cannot be taken back (another process took the fd: ENFILE), the
 * listener would stay readable with nothing able to take the client, and
 * poll(2) would return at once forever: the loop pauses instead.
 */
static enum server_accept
server_accept_with_spare(struct server *sv, int err)
{
	int fd;

	if (server_spare(sv) == -1)
		return ACCEPT_PAUSE;
	close(sv->spare);
	sv->spare = -1;
	fd = accept4(sv->lfd, NULL, NULL, SERVER_ACCEPT_FLAGS);
	/* The first accept(2) says EMFILE even when the queue is empty. */
	if (fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		server_spare(sv);
		return ACCEPT_EMPTY;
	}
	if (fd != -1)
		server_refuse(sv, fd, REFUSE_NO_FDS, err);
	if (server_spare(sv) == -1 || fd == -1)
		return ACCEPT_PAUSE;
	return ACCEPT_NEXT;
}

/*
 * Stops polling the listener for a while, twice as long as the last time
 * in a row, and says so at most once an interval.
 */
static void
server_pause(struct server *sv, int err)
{
	size_t n;

	if (sv->pause_ms == 0)
		sv->pause_ms = SERVER_PAUSE_MIN_MS;
	else if (sv->pause_ms < SERVER_PAUSE_MAX_MS)
		sv->pause_ms *= 2;
	sv->resume_ms = util_now_ms() + sv->pause_ms;
	if ((n = server_tally(&sv->paused, err)) > 0)
		log_warnx("accept: %s%s: paused %zu time(s), now for %" PRId64
			  " ms",
		    strerror(err), sv->spare == -1 ? ", no spare fd" : "", n,
		    sv->pause_ms);
}

/* What a failed accept(2) means for the loop; err is its errno. */
static enum server_accept
server_accept_failed(struct server *sv, int err)
{
	enum server_accept next = ACCEPT_PAUSE;

	if (err == EAGAIN || err == EWOULDBLOCK)
		return ACCEPT_EMPTY;
	switch (err) {
	case EMFILE:
	case ENFILE:
		next = server_accept_with_spare(sv, err);
		break;
	/*
	 * The connection is gone, or a network error was passed on (Linux
	 * reports those of the new socket through accept(2)): take the next.
	 */
	case EINTR:
	case ECONNABORTED:
	case EPERM:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return ACCEPT_NEXT;
	default:
		/* ENOBUFS, ENOMEM, or a listener that broke: wait and retry. */
		break;
	}
	if (next == ACCEPT_PAUSE)
		server_pause(sv, err);
	return next;
}

static void
server_close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/* In a new child: drops what only the parent uses, restores signals. */
static void
server_child_close(struct server *sv)
{
	close(sv->sigfd);
	server_close_fd(&sv->spare);
	server_close_fd(&sv->taken[0]);
	server_close_fd(&sv->stop[1]);
	log_relay_child();
	sigprocmask(SIG_SETMASK, &sv->oldmask, NULL);
}

/* In a child with its connection: drops what only a waiting spare uses. */
static void
server_spare_close(struct server *sv)
{
	close(sv->lfd);
	server_close_fd(&sv->ep);
	server_close_fd(&sv->taken[1]);
	server_close_fd(&sv->stop[0]);
}

/*
 * A spare's wait set: the listener with EPOLLEXCLUSIVE, so a connection
 * wakes one waiting spare rather than all of them, and the stop pipe.
 * Returns 0, or -1 with errno.
 */
static int
server_spare_epoll(struct server *sv)
{
	struct epoll_event lev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	struct epoll_event sev = { .events = EPOLLIN };

	if (sv->ep != -1)
		return 0;
	if ((sv->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	lev.data.fd = sv->lfd;
	sev.data.fd = sv->stop[0];
	if (epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->lfd, &lev) == -1 ||
	    epoll_ctl(sv->ep, EPOLL_CTL_ADD, sv->stop[0], &sev) == -1)
		return -1;
	return 0;
}

/*
 * In a spare: waits in accept(2) on the shared listener until it has a
 * client (SERVER_CHILD, *conn set, the parent told) or the parent stops
 * (SERVER_STOPPED).  The listener is non-blocking and shared, so another
 * spare may win a client: wait again.  SERVER_FAILED when the listener
 * broke (logged).
 */
static enum server_status
server_spare_wait(struct server *sv, int *conn)
{
	struct epoll_event ev[2];
	int fd = -1, n, i, ready;

	proctitle_set("connectd: %s [spare]", sv->where);
	if (server_spare_epoll(sv) == -1) {
		log_warn("spare: epoll");
		return SERVER_FAILED;
	}
	while (fd == -1) {
		if ((n = epoll_wait(sv->ep, ev, 2, -1)) == -1 &&
		    errno != EINTR) {
			log_warn("spare: epoll_wait");
			return SERVER_FAILED;
		}
		for (i = 0, ready = 0; i < n; i++) {
			if (ev[i].data.fd == sv->stop[0])
				return SERVER_STOPPED;
			ready = 1;
		}
		if (!ready)
			continue;
		fd = accept4(sv->lfd, NULL, NULL, SERVER_ACCEPT_FLAGS);
		if (fd == -1 && server_accept_failed(sv, errno) == ACCEPT_PAUSE)
			return SERVER_FAILED;
	}
	/* Four bytes: one atomic write, even with other spares writing. */
	if (write(sv->taken[1], &sv->self, sizeof(sv->self)) == -1)
		log_warn("spare: telling the parent");
	/* The last connection it may serve: nothing of the listener stays. */
	if (--sv->reuse_left == 0)
		server_spare_close(sv);
	*conn = fd;
	return SERVER_CHILD;
}

/*
 * Forks spares until --spares wait, within --max-children (spares count
 * as children).  Returns 1 in a new spare once it is done waiting
 * (sv->child set), else 0.  A fork(2) that fails, or a spare that died
 * waiting, holds refills back a while instead of forking in a loop.
 */
static int
server_refill(struct server *sv, int *conn)
{
	pid_t pid;

	while (!sv->stopping && sv->idle < sv->spares &&
	    sv->children < sv->max_children && util_now_ms() >= sv->refill_ms) {
		if ((pid = fork()) == -1) {
			log_warn("fork for a spare");
			sv->refill_ms = util_now_ms() + SERVER_PAUSE_MAX_MS;
			return 0;
		}
		if (pid == 0) {
			server_child_close(sv);
			sv->reuse_left = sv->reuse;
			sv->self = getpid();
			sv->child = server_spare_wait(sv, conn);
			return 1;
		}
		sv->idle_pid[sv->idle++] = pid;
		sv->children++;
	}
	return 0;
}

/* Forks a child for fd, or refuses fd; see enum server_accept. */
static enum server_accept
server_fork(struct server *sv, int fd, int *conn)
{
	pid_t pid;

	if (sv->children >= sv->max_children) {
		server_refuse(sv, fd, REFUSE_MAX_CHILDREN, 0);
		return ACCEPT_NEXT;
	}
	if ((pid = fork()) == -1) {
		server_refuse(sv, fd, REFUSE_FORK, errno);
		return ACCEPT_NEXT;
	}
	if (pid == 0) {
		server_child_close(sv);
		server_spare_close(sv);
		*conn = fd;
		return ACCEPT_CHILD;
	}
	sv->children++;
	close(fd);
	return ACCEPT_NEXT;
}

/* Accepts one connection; see enum server_accept. */
static enum server_accept
server_accept(struct server *sv, int *conn)
{
	int fd = accept4(sv->lfd, NULL, NULL, SERVER_ACCEPT_FLAGS);
	enum server_accept next;

	if (fd == -1)
		return server_accept_failed(sv, errno);
	/* A connection taken: fds are back, and the spare if it was lost. */
	sv->pause_ms = 0;
	next = server_fork(sv, fd, conn);
	if (next != ACCEPT_CHILD)
		server_spare(sv);
	return next;
}

/*
 * Takes at most SERVER_ACCEPT_BURST connections.  Returns 1 in a new child
 * (*conn set), else 0.
 */
static int
server_accept_burst(struct server *sv, int *conn)
{
	int i;

	for (i = 0; i < SERVER_ACCEPT_BURST && !sv->stopping; i++) {
		switch (server_accept(sv, conn)) {
		case ACCEPT_NEXT:
			break;
		case ACCEPT_EMPTY:
		case ACCEPT_PAUSE:
			return 0;
		case ACCEPT_CHILD:
			return 1;
		}
	}
	return 0;
}

/*
 * With spares: the pipes they share with the parent.  Started at its
 * descriptor limit, the parent goes on without spares (and says so): it
 * still serves, accepting and forking itself, as with --spares 0.
 */
static void
server_spare_pipes(struct server *sv)
{
	sv->taken[0] = sv->taken[1] = sv->stop[0] = sv->stop[1] = -1;
	if (sv->spares == 0)
		return;
	if (pipe2(sv->taken, O_NONBLOCK | O_CLOEXEC) == 0 &&
	    pipe2(sv->stop, O_NONBLOCK | O_CLOEXEC) == 0)
		return;
	log_warn("--spares %zu: no pipe for the spares, going on without",
	    sv->spares);
	server_close_fd(&sv->taken[0]);
	server_close_fd(&sv->taken[1]);
	sv->spares = 0;
}

static int
server_setup(struct server *sv, int lfd, const struct server_limits *lim)
{
	sigset_t set;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(sv, 0, sizeof(*sv));
	sv->lfd = lfd;
	sv->max_children = lim->max_children;
	sv->spares = lim->spares < OPTIONS_SPARES_MAX ? lim->spares
						      : OPTIONS_SPARES_MAX;
	sv->reuse = lim->reuse > 0 ? lim->reuse : 1;
	sv->spare = -1;
	sv->ep = -1;
	sv->shown = (size_t)-1;
	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == 0)
		util_sockaddr_text(
		    (struct sockaddr *)&ss, sv->where, sizeof(sv->where));
	else
		util_strlcpy(sv->where, "-", sizeof(sv->where));
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, &sv->oldmask) == -1)
		return -1;
	if ((sv->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	server_spare_pipes(sv);
	/* Without it, the first time out of fds pauses instead. */
	server_spare(sv);
	return util_set_nonblock(lfd);
}

static void server_show(struct server *sv, const char *state);

/* When poll(2) must wake: a pause or a held-back refill ending; -1: never. */
static int64_t
server_wake(const struct server *sv, int paused)
{
	int64_t wake = paused ? sv->resume_ms : -1;

	if (sv->idle < sv->spares && sv->children < sv->max_children &&
	    sv->refill_ms > 0 && (wake == -1 || sv->refill_ms < wake))
		wake = sv->refill_ms;
	return wake;
}

/*
 * One poll(2) and what it found: signals first, spares that took a
 * client, refills, then a bounded round of accepts.  The parent accepts
 * only while no spare waits (all busy, or --max-children reached: the 503
 * is answered here), and not while paused.  Returns 1 in a new child
 * (sv->child says what to return), 0 to go on, -1 when poll(2) failed.
 */
static int
server_round(struct server *sv, int *conn)
{
	int64_t now = util_now_ms();
	int paused = sv->pause_ms > 0 && now < sv->resume_ms;
	struct pollfd pfd[4] = { { sv->sigfd, POLLIN, 0 },
		{ sv->taken[0], POLLIN, 0 }, { -1, POLLIN, 0 } };

	if (server_refill(sv, conn))
		return 1;
	server_show(sv, "");
	pfd[2].fd = paused || sv->idle > 0 ? -1 : sv->lfd;
	log_relay_poll(&pfd[3]);
	if (poll(pfd, 4, util_poll_timeout(server_wake(sv, paused))) == -1 &&
	    errno != EINTR)
		return -1;
	if (pfd[3].revents)
		log_relay_forward(0);
	/* Before reaping: a spare that served and exited is not a failure. */
	if (pfd[1].revents)
		server_taken(sv);
	if (pfd[0].revents)
		server_signals(sv);
	sv->child = SERVER_CHILD;
	if (!sv->stopping && (pfd[2].revents & POLLIN))
		return server_accept_burst(sv, conn);
	return 0;
}

/*
 * Shows the listener and the live children in the process title when the
 * count has changed: "connectd: 127.0.0.1:8080 [12 children]".
 */
static void
server_show(struct server *sv, const char *state)
{
	const char *kids = sv->children == 1 ? "child" : "children";

	if (sv->children == sv->shown && sv->idle == sv->shown_idle &&
	    !sv->stopping)
		return;
	sv->shown = sv->children;
	sv->shown_idle = sv->idle;
	if (sv->spares == 0)
		proctitle_set("connectd: %s [%s%zu %s]", sv->where, state,
		    sv->children, kids);
	else
		proctitle_set("connectd: %s [%s%zu %s, %zu spare]", sv->where,
		    state, sv->children, kids, sv->idle);
}

/* Stops accepting; the tunnels under way run to their end. */
static void
server_stop(struct server *sv)
{
	int why;

	server_notify("STOPPING=1");
	/* Refusals not yet reported are reported now. */
	for (why = 0; why < REFUSE_COUNT; why++)
		if (sv->refused[why].count > 0)
			server_log_refusals(sv, (enum server_refusal)why,
			    sv->refused[why].count);
	close(sv->lfd);
	/* Waiting spares see the hang-up and exit; busy ones serve on. */
	server_close_fd(&sv->stop[1]);
	sv->idle = 0;
	server_show(sv, "stopping, ");
	/* The children's records still come through here until the last. */
	for (server_reap(sv); sv->children > 0; server_reap(sv)) {
		struct pollfd pfd[2] = { { sv->sigfd, POLLIN, 0 } };

		log_relay_poll(&pfd[1]);
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents)
			log_relay_forward(0);
		if (pfd[0].revents) {
			server_signals(sv);
			server_show(sv, "stopping, ");
		}
	}
	log_relay_close();
}

enum server_status
server_run(int lfd, const struct server_limits *lim, int *conn)
{
	struct server *sv = &server_state;
	int rc = 0;

	if (server_setup(sv, lfd, lim) == -1) {
		log_warn(
		    "high-rate mode: cannot set up signals and the listener");
		return SERVER_FAILED;
	}
	server_notify("READY=1\nSTATUS=accepting connections");
	while (!sv->stopping && (rc = server_round(sv, conn)) == 0)
		;
	if (rc == 1)
		return sv->child;
	if (rc == -1)
		log_warn("high-rate mode: poll");
	server_stop(sv);
	return rc == -1 ? SERVER_FAILED : SERVER_STOPPED;
}

enum server_status
server_next(int *conn)
{
	struct server *sv = &server_state;
	pid_t idle = -sv->self;

	if (sv->reuse_left == 0)
		return SERVER_STOPPED;
	if (write(sv->taken[1], &idle, sizeof(idle)) == -1)
		log_warn("spare: telling the parent");
	return server_spare_wait(sv, conn);
}
