/*
 * Finding the client: which launcher started us (systemd Accept=yes, an
 * inetd-style socket on fd 0, or a UCSPI server with fds 0 and 1), and who
 * is on the other end.  Nothing here logs; errors come back as text.
 */
#ifndef CONNECTD_LAUNCH_H
#define CONNECTD_LAUNCH_H

#include <stddef.h>
#include <sys/socket.h>

#include "log.h"

#define LAUNCH_FDS_START 3 /* SD_LISTEN_FDS_START */

enum launch_status {
	LAUNCH_OK,
	LAUNCH_CLIENT_GONE, /* the client left before we looked */
	LAUNCH_USAGE, /* not started by a launcher we know */
};

struct launch {
	int in_fd, out_fd;
	int is_socket;
	int local_peer; /* the socket's peer is on this host (a relay?) */
	int listening; /* in_fd is a listening socket (--fork) */
	char client[LOG_ADDR_MAX]; /* the client's address; may be the
				     launcher's text, unescaped */
	struct sockaddr_storage local; /* our end: the proxy's own address */
	int has_local;
	struct sockaddr_storage peer; /* the socket's other end */
	int has_peer;
	/*
	 * The client as the launcher's variables name it, when they are
	 * taken over the socket: a pipe (UCSPI), or a local relay's socket.
	 */
	struct sockaddr_storage named;
	int has_named;
};

/*
 * Makes sure fds 0-2 are open (on /dev/null if they were closed), so no
 * socket we open later can land on a standard fd.  Returns 1 when fd 2 was
 * closed, 0 otherwise.
 */
int launch_guard_std_fds(void);

/*
 * Reports whether fd 2 is unsafe for logging: a network socket, or the same
 * open file (socket, pipe, FIFO) as one of the n client_fds, as under inetd
 * and xinetd (one socket as fds 0, 1 and 2) or a UCSPI server run with
 * 2>&1.  A character device (a terminal, /dev/null) is never a client.
 */
int launch_stderr_is_client(const int *client_fds, size_t n);

/*
 * launch_stderr_is_client() before the launcher is known, for the fds that
 * launch_detect() would take as the client: fd 3 when LISTEN_FDS is set,
 * else a socket on fd 0, else fds 0 and 1 when PROTO is set.
 */
int launch_stderr_may_be_client(void);

/*
 * Detects the launcher and fills in l.  A listening socket is taken (with
 * l->listening set) only when allow_listener.  Returns LAUNCH_OK, or
 * LAUNCH_CLIENT_GONE (exit quietly), or LAUNCH_USAGE with a message in err.
 */
enum launch_status
launch_detect(struct launch *l, int allow_listener, char *err, size_t errsize);

/*
 * Fills in l for a connection fd accepted by connectd's own server.
 * Returns LAUNCH_OK or LAUNCH_CLIENT_GONE.
 */
enum launch_status launch_accepted(struct launch *l, int fd);

#endif
