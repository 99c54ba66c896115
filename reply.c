/*
 * The bytes connectd ever writes to a client on its own behalf, from the
 * outcome table's row: a status line, a few fixed fields and a one-line
 * body, the only text a client gets that did not come from its target.
 */
#include "reply.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "version.h"

#define LINGER_MAX_BYTES (256 * 1024)

int
reply_ok(int fd, int64_t deadline)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n"
				 "Proxy-Agent: connectd/" CONNECTD_VERSION
				 "\r\n\r\n";

	return util_write_all(fd, ok, sizeof(ok) - 1, deadline);
}

/*
 * The Proxy-Status member for e (RFC 9209 section 2), with the next hop's
 * status when there was one (received, 0 for none).
 */
static void
reply_proxy_status(
    const struct outcome_row *e, int received, char *buf, size_t size)
{
	char rcode[48] = "", rstatus[32] = "";

	/* details is a String; our keys need no escaping. */
	if (e->rcode[0] != '\0')
		snprintf(rcode, sizeof(rcode), "; rcode=\"%s\"", e->rcode);
	if (received > 0)
		snprintf(
		    rstatus, sizeof(rstatus), "; received-status=%d", received);
	snprintf(buf, size, "connectd; error=%s%s%s; details=\"%s\"",
	    e->rfc9209, rcode, rstatus, e->reason);
}

int
reply_error(
    int fd, const struct outcome_row *e, const char *extra, int64_t deadline)
{
	return reply_error_received(fd, e, extra, 0, deadline);
}

int
reply_error_received(int fd, const struct outcome_row *e, const char *extra,
    int received, int64_t deadline)
{
	char body[160], head[1024], status[160];
	int blen, hlen;

	if (e->status == 0)
		return 0;
	if (e->rcode[0] != '\0')
		blen = snprintf(body, sizeof(body), "%s: %s (%s)\n", e->reason,
		    e->text, e->rcode);
	else
		blen = snprintf(
		    body, sizeof(body), "%s: %s\n", e->reason, e->text);
	reply_proxy_status(e, received, status, sizeof(status));
	hlen = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\n"
	    "Proxy-Agent: connectd/" CONNECTD_VERSION "\r\n"
	    "Proxy-Status: %s\r\n"
	    "%s%s"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\n"
	    "Connection: close\r\n\r\n",
	    e->status, e->phrase, status, e->field, extra != NULL ? extra : "",
	    blen);
	if (hlen < 0 || (size_t)hlen >= sizeof(head)) {
		errno = EOVERFLOW;
		return -1;
	}
	if (util_write_all(fd, head, (size_t)hlen, deadline) == -1)
		return -1;
	return util_write_all(fd, body, (size_t)blen, deadline);
}

void
reply_linger(int in_fd, int out_fd, int64_t deadline)
{
	struct pollfd pfd = { .fd = in_fd, .events = POLLIN };
	char sink[4096];
	size_t total = 0;

	if (in_fd == out_fd)
		shutdown(out_fd, SHUT_WR);
	else
		close(out_fd);
	while (total < LINGER_MAX_BYTES) {
		ssize_t n;
		int r = poll(&pfd, 1, util_poll_timeout(deadline));

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(in_fd, sink, sizeof(sink));
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
	}
}
