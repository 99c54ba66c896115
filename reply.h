/*
 * Answers to the client: the 200 that opens a tunnel, and error responses
 * built from the outcome table, followed by a lingering close.
 */
#ifndef CONNECTD_REPLY_H
#define CONNECTD_REPLY_H

#include <stdint.h>

#include "outcome.h"

/*
 * Writes "HTTP/1.1 200 Connection established" with Proxy-Agent to fd, all
 * of it, by deadline.  Returns 0 or -1 with errno.
 */
int reply_ok(int fd, int64_t deadline);

/*
 * Writes the error response for row (nothing if its status is 0) to fd by
 * deadline, with extra (NULL, or whole header lines each ending in CRLF,
 * such as a Proxy-Authenticate challenge) among its fields.  Returns 0 or
 * -1 with errno.
 */
int reply_error(
    int fd, const struct outcome_row *row, const char *extra, int64_t deadline);

/*
 * reply_error() for an answer that passes on the next hop's status, the
 * upstream proxy's (received, 0 for none), as Proxy-Status's
 * received-status parameter (RFC 9209 section 2.1.3).
 */
int reply_error_received(int fd, const struct outcome_row *row,
    const char *extra, int received, int64_t deadline);

/*
 * Lingering close of the client after an error response: shuts down our
 * write side (or closes out_fd when it is not in_fd, a pipe), then reads and
 * discards input until EOF, a bounded byte count or the deadline, so the
 * client reads the response instead of a reset caused by unread data.
 */
void reply_linger(int in_fd, int out_fd, int64_t deadline);

#endif
