/*
 * The high-rate mode: connectd holds the listening socket itself (from
 * --listen, or handed over by systemd with Accept=no) and forks one child
 * per connection, so nothing is exec'd per connection while a crash or a
 * hostile request still touches one tunnel only.
 */
#ifndef CONNECTD_SERVER_H
#define CONNECTD_SERVER_H

#include <stddef.h>

#define SERVER_CHILD (-1) /* server_run() returned in a new child */

/*
 * Opens a listening TCP socket on "ADDR:PORT" ("127.0.0.1:8080",
 * "[::1]:8080", "[::]:8080" for dual stack).  Returns the fd, or -1 with
 * errno (EINVAL for a malformed address) and a message in err.
 */
int server_listen(const char *addr, char *err, size_t errsize);

/*
 * Accepts on lfd until SIGTERM or SIGINT, forking a child per connection
 * and reaping children as they exit; past max_children live children a
 * connection is answered 503 at once.  Tells systemd it is ready when
 * NOTIFY_SOCKET is set.  In each child, returns SERVER_CHILD with *conn set
 * to the accepted connection, lfd closed and signals as they were.  In the
 * parent, returns an exit status once stopped and its children are gone.
 */
int server_run(int lfd, size_t max_children, int *conn);

#endif
