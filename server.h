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

/* What the parent keeps to. */
struct server_limits {
	size_t max_children; /* live children, spares included */
	size_t spares; /* children forked ahead, waiting in accept(2) */
	size_t reuse; /* connections a spare may serve in turn (0, 1: one) */
};

/*
 * Opens a listening TCP socket on "ADDR:PORT" ("127.0.0.1:8080",
 * "[::1]:8080", "[::]:8080" for dual stack).  Returns the fd, or -1 with
 * errno (EINVAL for a malformed address) and a message in err.
 */
int server_listen(const char *addr, char *err, size_t errsize);

/*
 * Accepts on lfd until SIGTERM or SIGINT, forking a child per connection
 * (or keeping lim->spares children forked ahead and waiting in accept(2)
 * on lfd themselves, at most OPTIONS_SPARES_MAX; they count as children)
 * and reaping children as they exit; past lim->max_children, out
 * of fds (with the fd it keeps spare) or when fork(2) fails, a connection
 * is answered 503 at once.  Out of fds with no spare, it stops accepting for
 * a while rather than spin.  Tells systemd it is ready when NOTIFY_SOCKET is
 * set.  Logs its own warnings and failures.  In each child, returns
 * SERVER_CHILD with *conn set to the accepted connection, lfd closed and
 * signals as they were.  In the parent, returns SERVER_STOPPED once stopped
 * and its children are gone, or SERVER_FAILED.  A spare with lim->reuse
 * above 1 keeps the listener for server_next().
 */
enum server_status
server_run(int lfd, const struct server_limits *lim, int *conn);

/*
 * In a child of --reuse that served its connection cleanly: tells the
 * parent it waits again and waits in accept(2) like a spare.  Returns
 * SERVER_CHILD with *conn set, SERVER_STOPPED when it may serve no more
 * (its count is spent, or the parent stops: exit 0), SERVER_FAILED when
 * the listener broke (logged).  Call it only with every fd of the last
 * connection closed.
 */
enum server_status server_next(int *conn);

#endif
