/*
 * The high-rate mode: connectd holds the listening socket itself (from
 * --listen, or handed over by systemd with Accept=no) and forks one child
 * per connection, so nothing is exec'd per connection while a crash or a
 * hostile request still touches one tunnel only.
 */
#ifndef CONNECTD_SERVER_H
#define CONNECTD_SERVER_H

#include <stddef.h>

/* How server_run() returned. */
enum server_status {
	SERVER_CHILD, /* in a new child, with a connection to serve */
	SERVER_STOPPED, /* stopped by a signal (parent) or sent away while a
			   spare (child): exit 0 */
	SERVER_FAILED /* in the parent, which could not go on (logged) */
};

/*
 * Opens a listening TCP socket on "ADDR:PORT" ("127.0.0.1:8080",
 * "[::1]:8080", "[::]:8080" for dual stack).  Returns the fd, or -1 with
 * errno (EINVAL for a malformed address) and a message in err.
 */
int server_listen(const char *addr, char *err, size_t errsize);

/*
 * Accepts on lfd until SIGTERM or SIGINT, forking a child per connection
 * (or keeping spares children forked ahead and waiting in accept(2) on lfd
 * themselves, at most OPTIONS_SPARES_MAX; they count as children)
 * and reaping children as they exit; past max_children live children, out
 * of fds (with the fd it keeps spare) or when fork(2) fails, a connection
 * is answered 503 at once.  Out of fds with no spare, it stops accepting for
 * a while rather than spin.  Tells systemd it is ready when NOTIFY_SOCKET is
 * set.  Logs its own warnings and failures.  In each child, returns
 * SERVER_CHILD with *conn set to the accepted connection, lfd closed and
 * signals as they were.  In the parent, returns SERVER_STOPPED once stopped
 * and its children are gone, or SERVER_FAILED.
 */
enum server_status
server_run(int lfd, size_t max_children, size_t spares, int *conn);

#endif
