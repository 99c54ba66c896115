/*
 * Launcher detection, in the order the manual gives: systemd's socket
 * activation with Accept=yes, a socket on fd 0 (inetd, xinetd,
 * StandardInput=socket, tcpserver), then a UCSPI server's fds 0 and 1,
 * which may be pipes.  With --fork, a listening socket in the first two
 * places is taken for the high-rate server instead.
 */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "util.h"

int
launch_guard_std_fds(void)
{
	int fd, stderr_closed = fcntl(2, F_GETFD) == -1;

	for (fd = 0; fd <= 2; fd++) {
		int nul;

		if (fcntl(fd, F_GETFD) != -1)
			continue;
		nul = open("/dev/null", O_RDWR);
		if (nul != -1 && nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
	return stderr_closed;
}

static int
launch_same_file(int a, int b)
{
	struct stat sa, sb;

	if (a < 0 || b < 0 || fstat(a, &sa) == -1 || fstat(b, &sb) == -1)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Whether fd 2 is a socket of a network family (never journald's stream). */
static int
launch_stderr_is_inet(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(2, (struct sockaddr *)&ss, &len) == -1)
		return 0; /* not a socket: a file, a pipe or a tty */
	return ss.ss_family != AF_UNIX;
}

int
launch_stderr_is_client(const int *client_fds, size_t n)
{
	struct stat st;
	size_t i;

	if (fstat(2, &st) == 0 && S_ISCHR(st.st_mode))
		return 0; /* a terminal or /dev/null: no client reads it */
	if (launch_stderr_is_inet())
		return 1;
	for (i = 0; i < n; i++)
		if (launch_same_file(2, client_fds[i]))
			return 1;
	return 0;
}

/*
 * Reads ${PROTO}NAME, as UCSPI servers set it (TCPREMOTEIP under
 * PROTO=TCP, TCP6REMOTEIP under PROTO=TCP6).  Returns NULL when PROTO is
 * unset or not a plain protocol name, or the variable is unset.
 */
static const char *
launch_ucspi_env(const char *name)
{
	const char *proto = getenv("PROTO"), *p;
	char var[48];

	if (proto == NULL || *proto == '\0' || strlen(proto) > 16)
		return NULL;
	for (p = proto; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return NULL;
	snprintf(var, sizeof(var), "%s%s", proto, name);
	return getenv(var);
}

/* Whether sa is this host's own: loopback or a unix socket. */
static int
launch_is_local(const struct sockaddr *sa)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

	switch (sa->sa_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		return (ntohl(((const struct sockaddr_in *)sa)
				  ->sin_addr.s_addr) >>
			   24) == 127;
	case AF_INET6:
		return memcmp(&in6->sin6_addr, v6_loopback, 16) == 0 ||
		    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
			in6->sin6_addr.s6_addr[12] == 127);
	default:
		return 0;
	}
}

/*
 * Fills l->peer and l->client from the socket's peer; -1 with errno on
 * failure.
 */
static int
launch_client_from_socket(struct launch *l)
{
	socklen_t len = sizeof(l->peer);

	if (getpeername(l->in_fd, (struct sockaddr *)&l->peer, &len) == -1)
		return -1;
	l->has_peer = 1;
	util_sockaddr_text(
	    (struct sockaddr *)&l->peer, l->client, sizeof(l->client));
	l->local_peer = launch_is_local((struct sockaddr *)&l->peer);
	return 0;
}

/*
 * Parses a launcher's numeric address and port (port may be NULL or not a
 * number: 0 then) into ss.  Returns 0, or -1 when ip is no address.
 */
static int
launch_parse_addr(const char *ip, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	long long p = 0;

	if (port == NULL || util_parse_int(port, 0, 65535, &p) == -1)
		p = 0;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		return 0;
	}
	return -1;
}

/*
 * Fills l->client from the launcher's environment, and l->named when it
 * names the client by a numeric address.  Returns 0, or -1 when
 * it names no client.
 */
static int
launch_client_from_env(struct launch *l)
{
	const char *ip = getenv("REMOTE_ADDR"), *port = getenv("REMOTE_PORT");

	/* stunnel and xinetd name the client REMOTE_HOST. */
	if (ip == NULL)
		ip = getenv("REMOTE_HOST");
	if (ip == NULL) {
		ip = launch_ucspi_env("REMOTEIP");
		port = launch_ucspi_env("REMOTEPORT");
	}
	if (ip == NULL)
		return -1;
	l->has_named = launch_parse_addr(ip, port, &l->named) == 0;
	/* As given: the log and the title escape it, as all untrusted text. */
	if (strchr(ip, ':') != NULL)
		snprintf(l->client, sizeof(l->client), "[%s]:%s", ip,
		    port != NULL ? port : "-");
	else
		snprintf(l->client, sizeof(l->client), "%s:%s", ip,
		    port != NULL ? port : "-");
	return 0;
}

/*
 * sd_listen_fds(3), without loading libsystemd: linking it costs every
 * connection about 40% of the start rate (it pulls in libgcrypt, liblzma,
 * libzstd, liblz4 and libcap) for reading two environment variables.  The
 * same contract: LISTEN_PID must be us, the fds start at 3, the variables
 * are unset so children do not inherit them, the fds become close-on-exec.
 * Returns the number of fds passed, 0 for none, or -1 when the variables
 * are malformed.
 */
static int
launch_listen_fds(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long long p, n, fd;

	if (pid == NULL || fds == NULL)
		return 0;
	if (util_parse_int(pid, 1, INT32_MAX, &p) == -1 ||
	    util_parse_int(fds, 0, 1024, &n) == -1) {
		n = -1;
	} else if ((pid_t)p != getpid()) {
		n = 0;
	} else {
		for (fd = LAUNCH_FDS_START; fd < LAUNCH_FDS_START + n; fd++)
			util_set_cloexec((int)fd);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

/*
 * What sd_is_socket(3) tells: -1 not a stream socket, 0 a connected (or
 * connecting) one, 1 a listening one.
 */
static int
launch_socket_kind(int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return -1;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == -1)
		return -1;
	return listening ? 1 : 0;
}

int
launch_stderr_may_be_client(void)
{
	int fds[2] = { 0, 1 };
	size_t n = 0;

	/* The client fds launch_pick() will take, in the same order. */
	if (getenv("LISTEN_FDS") != NULL) {
		fds[0] = LAUNCH_FDS_START;
		n = 1;
	} else if (launch_socket_kind(0) != -1) {
		n = 1;
	} else if (getenv("PROTO") != NULL) {
		n = 2;
	}
	return launch_stderr_is_client(fds, n);
}

/*
 * Takes fd, of the given launch_socket_kind(), as the client connection, or
 * as a listener when that is allowed.
 * Returns 0, or -1 with a message saying how to configure the launcher.
 */
static int
launch_take(struct launch *l, int fd, int kind, int allow_listener,
    const char *how, char *err, size_t errsize)
{
	l->in_fd = l->out_fd = fd;
	l->is_socket = 1;
	if (kind == 1 && allow_listener) {
		l->listening = 1;
		return 0;
	}
	if (kind == 1)
		snprintf(err, errsize,
		    "fd %d is a listening socket: %s, or run connectd --fork "
		    "to accept connections itself",
		    fd, how);
	else if (kind == -1)
		snprintf(err, errsize, "fd %d is not a stream socket", fd);
	return kind == 0 ? 0 : -1;
}

/* Picks the launcher's fds; 0, or -1 with a message. */
static int
launch_pick(struct launch *l, int allow_listener, char *err, size_t errsize)
{
	int n = launch_listen_fds(), kind;

	if (n < 0 || n > 1) {
		snprintf(err, errsize,
		    "LISTEN_FDS passes %d sockets; connectd takes exactly one",
		    n);
		return -1;
	}
	if (n == 1) {
		return launch_take(l, LAUNCH_FDS_START,
		    launch_socket_kind(LAUNCH_FDS_START), allow_listener,
		    "set Accept=yes in the .socket unit", err, errsize);
	}
	if ((kind = launch_socket_kind(0)) != -1) {
		return launch_take(l, 0, kind, allow_listener,
		    "use wait = no (xinetd) or nowait (inetd)", err, errsize);
	}
	if (getenv("PROTO") != NULL) {
		l->in_fd = 0;
		l->out_fd = 1;
		l->is_socket = 0;
		return 0;
	}
	snprintf(err, errsize,
	    "no client connection: start connectd from systemd (Accept=yes), "
	    "inetd, xinetd or a UCSPI server, or use --listen");
	return -1;
}

/*
 * Fills l->local from the UCSPI server's ${PROTO}LOCALIP, the address the
 * client reached, when it is a plain IPv4 or IPv6 address.
 */
static void
launch_local_from_env(struct launch *l)
{
	const char *ip = launch_ucspi_env("LOCALIP");

	if (ip != NULL)
		l->has_local = launch_parse_addr(ip,
				   launch_ucspi_env("LOCALPORT"),
				   &l->local) == 0;
}

/*
 * Records our own address, from the socket or else from the launcher: a
 * client must not be led back to it.
 */
static void
launch_local_address(struct launch *l)
{
	socklen_t len = sizeof(l->local);

	if (l->is_socket)
		l->has_local = getsockname(l->in_fd,
				   (struct sockaddr *)&l->local, &len) == 0;
	if (!l->has_local)
		launch_local_from_env(l);
}

/* Fills in who the client is and where it reached us. */
static enum launch_status
launch_identify(struct launch *l, int trust_env)
{
	struct launch from_env;

	if (l->is_socket && launch_client_from_socket(l) == -1) {
		if (errno == ENOTCONN)
			return LAUNCH_CLIENT_GONE;
		if (launch_client_from_env(l) == -1)
			util_strlcpy(l->client, "-", sizeof(l->client));
	} else if (!l->is_socket && launch_client_from_env(l) == -1) {
		util_strlcpy(l->client, "-", sizeof(l->client));
	} else if (l->is_socket && l->local_peer && trust_env &&
	    launch_client_from_env(&from_env) == 0) {
		/*
		 * A peer on this host is a local relay, such as a TLS wrapper
		 * (stunnel) that runs connectd for each connection: the
		 * launcher's variables name the client behind it.
		 */
		memcpy(l->client, from_env.client, sizeof(l->client));
		l->named = from_env.named;
		l->has_named = from_env.has_named;
	}
	launch_local_address(l);
	return LAUNCH_OK;
}

enum launch_status
launch_detect(struct launch *l, int allow_listener, char *err, size_t errsize)
{
	memset(l, 0, sizeof(*l));
	if (launch_pick(l, allow_listener, err, errsize) == -1)
		return LAUNCH_USAGE;
	if (l->listening)
		return LAUNCH_OK;
	return launch_identify(l, 1);
}

enum launch_status
launch_accepted(struct launch *l, int fd)
{
	memset(l, 0, sizeof(*l));
	l->in_fd = l->out_fd = fd;
	l->is_socket = 1;
	/* A child of ours inherits our environment, which names no client. */
	return launch_identify(l, 0);
}
