/*
 * Launcher detection, in the order the manual gives: systemd's socket
 * activation with Accept=yes, a socket on fd 0 (inetd, xinetd,
 * StandardInput=socket, tcpserver), then a UCSPI server's fds 0 and 1,
 * which may be pipes.
 */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

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

	if (fstat(a, &sa) == -1 || fstat(b, &sb) == -1)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int
launch_stderr_is_client(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(2, (struct sockaddr *)&ss, &len) == -1)
		return 0; /* not a socket: a file, a pipe or a tty */
	/* journald's stream is AF_UNIX; an inet socket is always a client. */
	if (ss.ss_family != AF_UNIX)
		return 1;
	return launch_same_file(2, 0) || launch_same_file(2, 3);
}

/* Fills l->client from the socket's peer; -1 with errno on failure. */
static int
launch_peer_from_socket(struct launch *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(l->in_fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	util_sockaddr_text(
	    (struct sockaddr *)&ss, l->client, sizeof(l->client));
	return 0;
}

/* Fills l->client from the launcher's environment, "-" when it says nothing. */
static void
launch_peer_from_env(struct launch *l)
{
	const char *ip = getenv("REMOTE_ADDR"), *port = getenv("REMOTE_PORT");

	if (ip == NULL) {
		ip = getenv("TCPREMOTEIP");
		port = getenv("TCPREMOTEPORT");
	}
	if (ip == NULL)
		util_strlcpy(l->client, "-", sizeof(l->client));
	else if (strchr(ip, ':') != NULL)
		snprintf(l->client, sizeof(l->client), "[%s]:%s", ip,
		    port != NULL ? port : "-");
	else
		snprintf(l->client, sizeof(l->client), "%s:%s", ip,
		    port != NULL ? port : "-");
}

/* Checks that fd is a connected stream socket; 0, or -1 with a message. */
static int
launch_check_socket(int fd, const char *how, char *err, size_t errsize)
{
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
		snprintf(
		    err, errsize, "fd %d is a listening socket: %s", fd, how);
		return -1;
	}
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0) <= 0) {
		snprintf(err, errsize, "fd %d is not a stream socket", fd);
		return -1;
	}
	return 0;
}

/* Picks the mode and the fds; 0, or -1 with a message. */
static int
launch_pick(struct launch *l, char *err, size_t errsize)
{
	int n = sd_listen_fds(1);

	if (n < 0 || n > 1) {
		snprintf(err, errsize,
		    "LISTEN_FDS passes %d sockets; "
		    "connectd takes exactly one connection",
		    n);
		return -1;
	}
	if (n == 1) {
		l->mode = LAUNCH_SYSTEMD;
		l->in_fd = l->out_fd = SD_LISTEN_FDS_START;
		l->is_socket = 1;
		return launch_check_socket(l->in_fd,
		    "set Accept=yes in "
		    "the .socket unit (Accept=no is not supported)",
		    err, errsize);
	}
	if (sd_is_socket(0, AF_UNSPEC, 0, -1) > 0) {
		l->mode = LAUNCH_INETD;
		l->in_fd = l->out_fd = 0;
		l->is_socket = 1;
		return launch_check_socket(0,
		    "use wait = no (xinetd) or "
		    "nowait (inetd), or Accept=yes (systemd)",
		    err, errsize);
	}
	if (getenv("PROTO") != NULL) {
		l->mode = LAUNCH_UCSPI;
		l->in_fd = 0;
		l->out_fd = 1;
		l->is_socket = 0;
		return 0;
	}
	snprintf(err, errsize,
	    "no client connection: start connectd from "
	    "systemd (Accept=yes), inetd, xinetd or a UCSPI server");
	return -1;
}

/* Records our own address: a client must not be led back to it. */
static void
launch_local_address(struct launch *l)
{
	socklen_t len = sizeof(l->local);

	if (l->is_socket)
		l->has_local = getsockname(l->in_fd,
				   (struct sockaddr *)&l->local, &len) == 0;
}

enum launch_status
launch_detect(struct launch *l, char *err, size_t errsize)
{
	memset(l, 0, sizeof(*l));
	if (launch_pick(l, err, errsize) == -1)
		return LAUNCH_USAGE;
	if (l->is_socket && launch_peer_from_socket(l) == -1) {
		if (errno == ENOTCONN)
			return LAUNCH_CLIENT_GONE;
		launch_peer_from_env(l);
	} else if (!l->is_socket) {
		launch_peer_from_env(l);
	}
	launch_local_address(l);
	return LAUNCH_OK;
}
