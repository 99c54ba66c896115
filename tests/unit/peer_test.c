/*
 * Tests of peer.c against the running kernel: real loopback TCP (IPv4, IPv6,
 * dual-stack) and AF_UNIX connections whose client runs as us or, forked and
 * dropped to uid 65534 before it makes its socket, as nobody; forged TCP
 * tuples (TCP_REPAIR) that must not borrow a listener's uid; and the
 * --allow-uid list parser.  Prints TAP; exits 1 when any test fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../peer.h"
#include "../../util.h"

#define NOBODY 65534
#define WAIT_MS 5000

enum result { FAIL, PASS, SKIP };

enum client_mode {
	CLIENT_HOLD, /* connected and kept open */
	CLIENT_SHUTDOWN, /* shutdown(SHUT_WR): half-closed, still owned */
	CLIENT_CLOSE, /* close(2): orphaned, owned by nobody */
};

struct tcp_case {
	const char *name;
	int lfamily;
	const char *laddr; /* listener, port 0 */
	int cfamily;
	const char *caddr; /* the address the client dials */
	int nobody; /* the client runs as uid 65534 */
	enum client_mode mode;
	int want_errno; /* 0: want the client's uid */
};

static const struct tcp_case tcp_cases[] = {
	{ "tcp4 127.0.0.1, own uid", AF_INET, "127.0.0.1", AF_INET, "127.0.0.1",
	    0, CLIENT_HOLD, 0 },
	{ "tcp6 ::1, own uid", AF_INET6, "::1", AF_INET6, "::1", 0, CLIENT_HOLD,
	    0 },
	{ "dual-stack [::], IPv4 client, own uid", AF_INET6, "::", AF_INET,
	    "127.0.0.1", 0, CLIENT_HOLD, 0 },
	{ "tcp4 127.0.0.1, client as nobody", AF_INET, "127.0.0.1", AF_INET,
	    "127.0.0.1", 1, CLIENT_HOLD, 0 },
	{ "tcp6 ::1, client as nobody", AF_INET6, "::1", AF_INET6, "::1", 1,
	    CLIENT_HOLD, 0 },
	{ "dual-stack [::], IPv4 client as nobody", AF_INET6, "::", AF_INET,
	    "127.0.0.1", 1, CLIENT_HOLD, 0 },
	{ "dual-stack [::], v4-mapped IPv6 client as nobody", AF_INET6,
	    "::", AF_INET6, "::ffff:127.0.0.1", 1, CLIENT_HOLD, 0 },
	{ "dual-stack [::], IPv6 client as nobody", AF_INET6, "::", AF_INET6,
	    "::1", 1, CLIENT_HOLD, 0 },
	{ "tcp4 127.0.0.2 to wildcard listener, as nobody", AF_INET, "0.0.0.0",
	    AF_INET, "127.0.0.2", 1, CLIENT_HOLD, 0 },
	{ "tcp4 half-closed client still owned", AF_INET, "127.0.0.1", AF_INET,
	    "127.0.0.1", 1, CLIENT_SHUTDOWN, 0 },
	{ "tcp4 closed (orphaned) client is ENOENT", AF_INET, "127.0.0.1",
	    AF_INET, "127.0.0.1", 1, CLIENT_CLOSE, ENOENT },
	{ "dual-stack closed IPv4 client is ENOENT", AF_INET6, "::", AF_INET,
	    "127.0.0.1", 1, CLIENT_CLOSE, ENOENT },
	{ "tcp6 closed client is ENOENT", AF_INET6, "::1", AF_INET6, "::1", 1,
	    CLIENT_CLOSE, ENOENT },
};

struct client {
	pid_t pid;
	int ready; /* read end: one byte, 'k' once connected */
	int gate; /* write end: closing it lets the child exit */
};

static int
make_addr(int family, const char *text, unsigned int port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
	}
}

static unsigned int
port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listener on addr, port 0; an AF_INET6 one is dual-stack. */
static int
listener(int family, const char *addr, unsigned int *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, off = 0;

	if (make_addr(family, addr, 0, &ss, &len) == -1)
		return -1;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if ((family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ==
		    -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 8) == -1) {
		close(fd);
		return -1;
	}
	*port = port_of(fd);
	return fd;
}

static int
wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1 ? 0 : -1;
}

static int
accept_within(int lfd)
{
	if (wait_readable(lfd) == -1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads until the client's FIN, so its close has taken effect. */
static int
drain_to_eof(int fd)
{
	char buf[64];
	ssize_t n;

	do {
		if (wait_readable(fd) == -1)
			return -1;
		n = read(fd, buf, sizeof(buf));
	} while (n > 0);
	return n == 0 ? 0 : -1;
}

static int
drop_to(uid_t uid)
{
	gid_t gid = (gid_t)uid;

	if (setgroups(0, NULL) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		return -1;
	return 0;
}

/* The forked client: drops privileges first, so it owns its socket. */
static void
client_main(const struct sockaddr *to, socklen_t len, int nobody,
    enum client_mode mode, int ready, int gate)
{
	char c = 'k';
	int fd = -1;

	if ((nobody && drop_to(NOBODY) == -1) ||
	    (fd = socket(to->sa_family, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, to, len) == -1 || write(fd, "x", 1) != 1)
		c = 'e';
	else if (mode == CLIENT_SHUTDOWN)
		shutdown(fd, SHUT_WR);
	else if (mode == CLIENT_CLOSE)
		close(fd);
	if (write(ready, &c, 1) != 1)
		_exit(2);
	while (read(gate, &c, 1) == -1 && errno == EINTR)
		continue;
	_exit(0);
}

static int
client_start(struct client *cl, const struct sockaddr *to, socklen_t len,
    int nobody, enum client_mode mode)
{
	int ready[2], gate[2];

	if (pipe2(ready, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(gate, O_CLOEXEC) == -1) {
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	fflush(stdout);
	if ((cl->pid = fork()) == 0) {
		close(ready[0]);
		close(gate[1]);
		client_main(to, len, nobody, mode, ready[1], gate[0]);
	}
	close(ready[1]);
	close(gate[0]);
	cl->ready = ready[0];
	cl->gate = gate[1];
	return cl->pid == -1 ? -1 : 0;
}

/* 'k' once the client is connected, 'e' if it failed, 0 on timeout. */
static char
client_ready(const struct client *cl)
{
	char c = 0;

	if (wait_readable(cl->ready) == -1 || read(cl->ready, &c, 1) != 1)
		return 0;
	return c;
}

/* Lets the client exit and reaps it; 0 when it exited cleanly. */
static int
client_finish(struct client *cl)
{
	int status;

	close(cl->gate);
	close(cl->ready);
	if (cl->pid <= 0)
		return -1;
	if (waitpid(cl->pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Compares peer_uid's answer on fd with the wanted uid or errno. */
static enum result
check_peer(int fd, uid_t want_uid, int want_errno, char *why, size_t size)
{
	uid_t uid = 12345;
	int rc = peer_uid(fd, &uid), e = errno;

	if (want_errno == 0 && rc == 0 && uid == want_uid)
		return PASS;
	if (want_errno != 0 && rc == -1 && e == want_errno)
		return PASS;
	if (rc == 0)
		snprintf(why, size, "got uid %u", (unsigned int)uid);
	else
		snprintf(why, size, "got errno %s", strerror(e));
	return FAIL;
}

/* Sets up listener, client and accepted socket; then checks peer_uid. */
static enum result
run_tcp(const struct tcp_case *tc, char *why, size_t size)
{
	struct sockaddr_storage to;
	socklen_t len;
	struct client cl = { .pid = -1, .ready = -1, .gate = -1 };
	unsigned int port;
	int lfd, afd = -1;
	enum result r = FAIL;

	if (tc->nobody && geteuid() != 0) {
		snprintf(why, size, "needs root to run a client as nobody");
		return SKIP;
	}
	if ((lfd = listener(tc->lfamily, tc->laddr, &port)) == -1 ||
	    make_addr(tc->cfamily, tc->caddr, port, &to, &len) == -1 ||
	    client_start(
		&cl, (struct sockaddr *)&to, len, tc->nobody, tc->mode) == -1)
		snprintf(why, size, "setup: %s", strerror(errno));
	else if (client_ready(&cl) != 'k')
		snprintf(why, size, "client did not connect");
	else if ((afd = accept_within(lfd)) == -1)
		snprintf(why, size, "accept: %s", strerror(errno));
	else if (tc->mode != CLIENT_HOLD && drain_to_eof(afd) == -1)
		snprintf(why, size, "no FIN from the client");
	else
		r = check_peer(afd, tc->nobody ? NOBODY : getuid(),
		    tc->want_errno, why, size);
	if (afd != -1)
		close(afd);
	if (lfd != -1)
		close(lfd);
	if (cl.pid != -1 && client_finish(&cl) == -1 && r == PASS) {
		snprintf(why, size, "client failed");
		r = FAIL;
	}
	return r;
}

static socklen_t
abstract_addr(struct sockaddr_un *un)
{
	int n;

	memset(un, 0, sizeof(*un));
	un->sun_family = AF_UNIX;
	/* Abstract: no file, no permissions for nobody to trip over. */
	n = snprintf(un->sun_path + 1, sizeof(un->sun_path) - 1,
	    "connectd-peer-test.%ld", (long)getpid());
	return (
	    socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static enum result
run_unix(int nobody, char *why, size_t size)
{
	struct sockaddr_un un;
	socklen_t len = abstract_addr(&un);
	struct client cl = { .pid = -1, .ready = -1, .gate = -1 };
	int lfd, afd = -1;
	enum result r = FAIL;

	if (nobody && geteuid() != 0) {
		snprintf(why, size, "needs root to run a client as nobody");
		return SKIP;
	}
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&un, len) == -1 ||
	    listen(lfd, 8) == -1 ||
	    client_start(
		&cl, (struct sockaddr *)&un, len, nobody, CLIENT_HOLD) == -1)
		snprintf(why, size, "setup: %s", strerror(errno));
	else if (client_ready(&cl) != 'k')
		snprintf(why, size, "client did not connect");
	else if ((afd = accept_within(lfd)) == -1)
		snprintf(why, size, "accept: %s", strerror(errno));
	else
		r = check_peer(afd, nobody ? NOBODY : getuid(), 0, why, size);
	if (afd != -1)
		close(afd);
	if (lfd != -1)
		close(lfd);
	if (cl.pid != -1 && client_finish(&cl) == -1 && r == PASS) {
		snprintf(why, size, "client failed");
		r = FAIL;
	}
	return r;
}

static enum result
t_unix_self(char *why, size_t size)
{
	return run_unix(0, why, size);
}

static enum result
t_unix_nobody(char *why, size_t size)
{
	return run_unix(1, why, size);
}

static enum result
t_socketpair(char *why, size_t size)
{
	int sv[2];
	enum result r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(why, size, "socketpair: %s", strerror(errno));
		return FAIL;
	}
	r = check_peer(sv[0], getuid(), 0, why, size);
	close(sv[0]);
	close(sv[1]);
	return r;
}

static enum result
t_unix_unconnected(char *why, size_t size)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	enum result r = check_peer(fd, 0, ENOENT, why, size);

	close(fd);
	return r;
}

static enum result
t_pipe(char *why, size_t size)
{
	int p[2];
	enum result r;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(why, size, "pipe: %s", strerror(errno));
		return FAIL;
	}
	r = check_peer(p[0], 0, ENOTSOCK, why, size);
	close(p[0]);
	close(p[1]);
	return r;
}

static enum result
t_netlink(char *why, size_t size)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	enum result r = check_peer(fd, 0, EAFNOSUPPORT, why, size);

	close(fd);
	return r;
}

static enum result
t_bad_fd(char *why, size_t size)
{
	return check_peer(-1, 0, EBADF, why, size);
}

static enum result
t_tcp_unconnected(char *why, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	enum result r = check_peer(fd, 0, ENOTCONN, why, size);

	close(fd);
	return r;
}

/* A connected UDP socket: not TCP, so nothing to ask the kernel. */
static enum result
t_udp(char *why, size_t size)
{
	struct sockaddr_storage to;
	socklen_t len;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	enum result r;

	if (make_addr(AF_INET, "127.0.0.1", 9, &to, &len) == -1 ||
	    connect(fd, (struct sockaddr *)&to, len) == -1) {
		snprintf(why, size, "setup: %s", strerror(errno));
		close(fd);
		return FAIL;
	}
	r = check_peer(fd, 0, ENOENT, why, size);
	close(fd);
	return r;
}

/*
 * An established socket with no client behind it, as for a peer on another
 * host: TCP_REPAIR connects without a handshake.  Returns the fd, or -1
 * (errno EPERM without CAP_NET_ADMIN).
 */
static int
forged(int family, const char *addr, unsigned int port)
{
	struct sockaddr_storage self, to;
	socklen_t len;
	int fd, on = 1, saved;

	if (make_addr(family, addr, 0, &self, &len) == -1 ||
	    make_addr(family, addr, port, &to, &len) == -1)
		return -1;
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&self, len) == -1 ||
	    connect(fd, (struct sockaddr *)&to, len) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * The kernel's exact lookup falls back to a listener on the client's port:
 * peer_uid must not report the listener's owner for a remote-looking peer.
 */
static enum result
run_forged(int family, const char *laddr, const char *addr, int listening,
    char *why, size_t size)
{
	unsigned int port;
	int lfd, fd;
	enum result r;

	if ((lfd = listener(family, laddr, &port)) == -1) {
		snprintf(why, size, "listener: %s", strerror(errno));
		return FAIL;
	}
	if (!listening) /* the port is now free: nothing at all there */
		close(lfd);
	fd = forged(family, addr, port);
	if (fd == -1) {
		r = errno == EPERM ? SKIP : FAIL;
		snprintf(why, size, "TCP_REPAIR: %s", strerror(errno));
	} else {
		r = check_peer(fd, 0, ENOENT, why, size);
		close(fd);
	}
	if (listening)
		close(lfd);
	return r;
}

static enum result
t_forged_listener4(char *why, size_t size)
{
	return run_forged(AF_INET, "0.0.0.0", "127.0.0.1", 1, why, size);
}

static enum result
t_forged_listener6(char *why, size_t size)
{
	return run_forged(AF_INET6, "::1", "::1", 1, why, size);
}

static enum result
t_forged_nothing(char *why, size_t size)
{
	return run_forged(AF_INET, "127.0.0.1", "127.0.0.1", 0, why, size);
}

struct parse_case {
	const char *name, *list;
	size_t max, n0; /* capacity; entries already there */
	int want_errno;
	const char *want_bad;
	size_t want_n;
	uid_t want[4]; /* uids[n0..want_n); SELF for getuid() */
};

#define SELF ((uid_t)-1)
#define LONG_NAME                                                              \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct parse_case parse_cases[] = {
	{ "parse one number", "1000", 4, 0, 0, NULL, 1, { 1000 } },
	{ "parse number, root, self", "1000,root,self", 4, 0, 0, NULL, 3,
	    { 1000, 0, SELF } },
	{ "parse 0 and the largest uid", "0,4294967294", 4, 0, 0, NULL, 2,
	    { 0, 4294967294U } },
	{ "parse user nobody", "nobody", 4, 0, 0, NULL, 1, { NOBODY } },
	{ "parse leading zeros", "007", 4, 0, 0, NULL, 1, { 7 } },
	{ "parse exactly max", "1,2,3", 3, 0, 0, NULL, 3, { 1, 2, 3 } },
	{ "parse appends to earlier entries", "7", 3, 2, 0, NULL, 3, { 7 } },
	{ "parse uid -1 refused", "4294967295", 4, 0, EINVAL, "4294967295", 0,
	    { 0 } },
	{ "parse number past 64 bits", "1,99999999999999999999999", 4, 0,
	    EINVAL, "99999999999999999999999", 0, { 0 } },
	{ "parse unknown name", "1000,no-such-user-connectd", 4, 0, EINVAL,
	    "no-such-user-connectd", 0, { 0 } },
	{ "parse empty list", "", 4, 0, EINVAL, "", 0, { 0 } },
	{ "parse empty item", "1,,2", 4, 0, EINVAL, "", 0, { 0 } },
	{ "parse trailing comma", "1,", 4, 0, EINVAL, "", 0, { 0 } },
	{ "parse leading comma", ",1", 4, 0, EINVAL, "", 0, { 0 } },
	{ "parse space not trimmed", "1, 2", 4, 0, EINVAL, " 2", 0, { 0 } },
	{ "parse negative", "-1", 4, 0, EINVAL, "-1", 0, { 0 } },
	{ "parse too many", "1,2,3,4", 3, 0, E2BIG, "4", 0, { 0 } },
	{ "parse full already", "7", 3, 3, E2BIG, "7", 3, { 0 } },
	{ "parse overlong item, bad cut", LONG_NAME, 4, 0, EINVAL,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, { 0 } },
};

/* Compares one parse result with its row; n is the count afterwards. */
static enum result
check_parse(const struct parse_case *pc, int rc, int e, const uid_t *uids,
    size_t n, const char *bad, char *why, size_t size)
{
	size_t i;

	if (pc->want_errno != 0) {
		if (rc != -1 || e != pc->want_errno || n != pc->n0 ||
		    strcmp(bad, pc->want_bad) != 0) {
			snprintf(why, size, "rc %d errno %s n %zu bad \"%s\"",
			    rc, strerror(e), n, bad);
			return FAIL;
		}
		return PASS;
	}
	if (rc != 0 || n != pc->want_n) {
		snprintf(why, size, "rc %d errno %s n %zu", rc, strerror(e), n);
		return FAIL;
	}
	for (i = pc->n0; i < n; i++) {
		uid_t want = pc->want[i - pc->n0];

		if (uids[i] != (want == SELF ? getuid() : want)) {
			snprintf(why, size, "uids[%zu] = %u", i,
			    (unsigned int)uids[i]);
			return FAIL;
		}
	}
	return PASS;
}

static enum result
run_parse(const struct parse_case *pc, char *why, size_t size)
{
	uid_t uids[8] = { 0 };
	char bad[32] = "untouched";
	size_t n = pc->n0;
	int rc, e;

	rc = peer_parse_uids(pc->list, uids, pc->max, &n, bad, sizeof(bad));
	e = errno;
	return check_parse(pc, rc, e, uids, n, bad, why, size);
}

static enum result
t_parse_no_bad_buffer(char *why, size_t size)
{
	uid_t uids[2];
	size_t n = 0;

	if (peer_parse_uids("nope-no-such-user", uids, 2, &n, NULL, 0) == -1 &&
	    errno == EINVAL && n == 0)
		return PASS;
	snprintf(why, size, "want EINVAL with bad NULL");
	return FAIL;
}

static enum result
t_allowed(char *why, size_t size)
{
	static const uid_t uids[] = { 1000, 0, NOBODY };

	if (peer_uid_allowed(0, uids, 3) && peer_uid_allowed(NOBODY, uids, 3) &&
	    !peer_uid_allowed(1001, uids, 3) &&
	    !peer_uid_allowed(NOBODY, uids, 2) &&
	    !peer_uid_allowed(1000, uids, 0))
		return PASS;
	snprintf(why, size, "wrong membership");
	return FAIL;
}

struct named_test {
	const char *name;
	enum result (*run)(char *why, size_t size);
};

static const struct named_test tests[] = {
	{ "unix listener, own uid (SO_PEERCRED)", t_unix_self },
	{ "unix listener, client as nobody", t_unix_nobody },
	{ "socketpair, own uid", t_socketpair },
	{ "unconnected unix socket is ENOENT", t_unix_unconnected },
	{ "pipe is ENOTSOCK", t_pipe },
	{ "netlink socket is EAFNOSUPPORT", t_netlink },
	{ "bad fd is EBADF", t_bad_fd },
	{ "unconnected tcp socket is ENOTCONN", t_tcp_unconnected },
	{ "connected udp socket is ENOENT", t_udp },
	{ "forged tcp4 tuple onto a listener is ENOENT", t_forged_listener4 },
	{ "forged tcp6 tuple onto a listener is ENOENT", t_forged_listener6 },
	{ "forged tcp4 tuple, nothing there, is ENOENT", t_forged_nothing },
	{ "parse with bad NULL, badsize 0", t_parse_no_bad_buffer },
	{ "peer_uid_allowed", t_allowed },
};

static int
report(int i, const char *name, enum result r, const char *why)
{
	if (r == PASS)
		printf("ok %d - %s\n", i, name);
	else if (r == SKIP)
		printf("ok %d - %s # SKIP %s\n", i, name, why);
	else
		printf("not ok %d - %s (%s)\n", i, name, why);
	fflush(stdout);
	return r == FAIL;
}

int
main(void)
{
	char why[256];
	size_t i;
	int t = 0, failed = 0;

	signal(SIGPIPE, SIG_IGN);
	alarm(120); /* a hung test kills the run rather than the CI job */
	printf(
	    "1..%zu\n", NELEM(tcp_cases) + NELEM(parse_cases) + NELEM(tests));
	for (i = 0; i < NELEM(tcp_cases); i++) {
		why[0] = '\0';
		failed += report(++t, tcp_cases[i].name,
		    run_tcp(&tcp_cases[i], why, sizeof(why)), why);
	}
	for (i = 0; i < NELEM(tests); i++) {
		why[0] = '\0';
		failed += report(
		    ++t, tests[i].name, tests[i].run(why, sizeof(why)), why);
	}
	for (i = 0; i < NELEM(parse_cases); i++) {
		why[0] = '\0';
		failed += report(++t, parse_cases[i].name,
		    run_parse(&parse_cases[i], why, sizeof(why)), why);
	}
	return failed > 0;
}
