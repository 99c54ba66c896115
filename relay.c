/*
 * The byte relay, in the manner of OpenBSD nc's readwrite(): one bounded
 * buffer per direction, a side polled for reading only when its buffer has
 * room and for writing only when it has data.  EINTR and EAGAIN are not
 * errors; POLLHUP without POLLIN is read as the EOF it is.
 */
#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

enum relay_status {
	RELAY_MORE, /* keep going */
	RELAY_SRC_RESET, /* the source reset its connection */
	RELAY_DST_GONE, /* the destination no longer takes bytes */
};

struct relay_dir {
	const char *name; /* who sends: "client" or "target" */
	int src, dst;
	int dst_is_socket;
	char *buf;
	size_t off, len; /* pending bytes: buf[off .. off+len) */
	int eof; /* the source sent its FIN */
	int done; /* ... and it was passed on */
	uint64_t bytes;
	short want_src, want_dst; /* poll events asked for this round */
};

static char relay_up_buf[RELAY_BUF_SIZE], relay_down_buf[RELAY_BUF_SIZE];

static int
relay_is_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

/* Reads what fits from d->src.  Returns RELAY_MORE or RELAY_SRC_RESET. */
static enum relay_status
relay_read(struct relay_dir *d)
{
	ssize_t n;

	if (d->len == 0)
		d->off = 0;
	else if (d->off + d->len == RELAY_BUF_SIZE) {
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
	}
	n = read(
	    d->src, d->buf + d->off + d->len, RELAY_BUF_SIZE - d->off - d->len);
	if (n > 0)
		d->len += (size_t)n;
	else if (n == 0)
		d->eof = 1;
	else if (errno != EAGAIN && errno != EINTR)
		return RELAY_SRC_RESET;
	return RELAY_MORE;
}

/* Writes what d->dst takes.  Returns RELAY_MORE or RELAY_DST_GONE. */
static enum relay_status
relay_write(struct relay_dir *d)
{
	ssize_t n = write(d->dst, d->buf + d->off, d->len);

	if (n > 0) {
		d->off += (size_t)n;
		d->len -= (size_t)n;
		d->bytes += (uint64_t)n;
		/* An empty buffer starts over, so a full one never stalls. */
		if (d->len == 0)
			d->off = 0;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		return RELAY_DST_GONE;
	}
	return RELAY_MORE;
}

/* Once the source's FIN and every byte before it are through, pass it on. */
static void
relay_pass_fin(struct relay_dir *d, struct relay_result *res)
{
	if (!d->eof || d->len > 0 || d->done)
		return;
	if (d->dst_is_socket)
		shutdown(d->dst, SHUT_WR);
	else
		close(d->dst);
	d->done = 1;
	if (res->closed_by == NULL)
		res->closed_by = d->name;
}

/* Makes the next close of fd send a reset instead of a FIN. */
static void
relay_arm_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Adds events for fd to the poll set, merging with an entry for the same fd. */
static void
relay_want(struct pollfd *pfd, nfds_t *n, int fd, short events)
{
	nfds_t i;

	if (events == 0)
		return;
	for (i = 0; i < *n; i++) {
		if (pfd[i].fd == fd) {
			pfd[i].events |= events;
			return;
		}
	}
	pfd[*n].fd = fd;
	pfd[*n].events = events;
	pfd[*n].revents = 0;
	(*n)++;
}

static short
relay_revents(const struct pollfd *pfd, nfds_t n, int fd)
{
	nfds_t i;

	for (i = 0; i < n; i++)
		if (pfd[i].fd == fd)
			return pfd[i].revents;
	return 0;
}

static void
relay_plan(struct relay_dir *d, struct pollfd *pfd, nfds_t *n)
{
	d->want_src = !d->eof && d->len < RELAY_BUF_SIZE ? POLLIN : 0;
	d->want_dst = d->len > 0 ? POLLOUT : 0;
	relay_want(pfd, n, d->src, d->want_src);
	relay_want(pfd, n, d->dst, d->want_dst);
}

/* Moves bytes for one direction after poll; reports what ended it, if anything. */
static enum relay_status
relay_step(struct relay_dir *d, const struct pollfd *pfd, nfds_t n, int *moved)
{
	uint64_t before = d->bytes;
	size_t had = d->len;
	int had_eof = d->eof;

	if (d->want_src &&
	    (relay_revents(pfd, n, d->src) & (POLLIN | POLLHUP | POLLERR)) &&
	    relay_read(d) == RELAY_SRC_RESET)
		return RELAY_SRC_RESET;
	/* Write straight after a read: the peer's socket usually has room. */
	if (d->len > 0 && relay_write(d) == RELAY_DST_GONE)
		return RELAY_DST_GONE;
	*moved |= d->bytes != before || d->len != had || d->eof != had_eof;
	return RELAY_MORE;
}

/* The deadline poll should wake for: idle or lifetime, whichever is first. */
static int64_t
relay_wake(int64_t last_activity, int64_t idle_ms, int64_t lifetime_deadline)
{
	int64_t wake = idle_ms > 0 ? last_activity + idle_ms : -1;

	if (lifetime_deadline >= 0 && (wake < 0 || lifetime_deadline < wake))
		wake = lifetime_deadline;
	return wake;
}

/* Ends the tunnel on a reset or a vanished side: the other gets a reset. */
static void
relay_abort(struct relay_dir *d, enum relay_status st, const char *peer_name,
    struct relay_result *res)
{
	int other = st == RELAY_SRC_RESET ? d->dst : d->src;

	relay_arm_reset(other);
	if (st == RELAY_SRC_RESET)
		res->end = strcmp(d->name, "client") == 0 ? "client_reset"
							  : "target_reset";
	else
		res->end = strcmp(peer_name, "client") == 0 ? "client_gone"
							    : "target_gone";
}

static void
relay_init_dir(
    struct relay_dir *d, const char *name, int src, int dst, char *buf)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->src = src;
	d->dst = dst;
	d->dst_is_socket = relay_is_socket(dst);
	d->buf = buf;
}

int
relay_run(const struct relay_ends *ends, const char *early, size_t early_len,
    int64_t idle_ms, int64_t lifetime_deadline, struct relay_result *res)
{
	struct relay_dir dirs[2], *up = &dirs[0], *down = &dirs[1];
	int64_t last = util_now_ms();

	memset(res, 0, sizeof(*res));
	relay_init_dir(
	    up, "client", ends->client_in, ends->target, relay_up_buf);
	relay_init_dir(
	    down, "target", ends->target, ends->client_out, relay_down_buf);
	if (early_len > RELAY_BUF_SIZE)
		early_len = RELAY_BUF_SIZE;
	memcpy(up->buf, early, early_len);
	up->len = early_len;
	while (!(up->done && down->done)) {
		struct pollfd pfd[4];
		nfds_t n = 0;
		int moved = 0, rc, i;
		int64_t wake = relay_wake(last, idle_ms, lifetime_deadline);

		relay_plan(up, pfd, &n);
		relay_plan(down, pfd, &n);
		rc = poll(pfd, n, util_poll_timeout(wake));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			res->end = "error";
			break;
		}
		if (rc == 0) {
			res->end = wake == lifetime_deadline ? "max_lifetime"
							     : "idle_timeout";
			break;
		}
		for (i = 0; i < 2; i++) {
			enum relay_status st = relay_step(
			    &dirs[i], pfd, n, &moved);

			if (st != RELAY_MORE) {
				relay_abort(
				    &dirs[i], st, dirs[1 - i].name, res);
				goto out;
			}
			relay_pass_fin(&dirs[i], res);
		}
		if (moved)
			last = util_now_ms();
	}
out:
	res->up = up->bytes;
	res->down = down->bytes;
	if (res->end == NULL)
		res->end = "eof";
	return up->done && down->done ? 0 : -1;
}
