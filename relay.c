/*
 * The byte relay, in the manner of OpenBSD nc's readwrite(): one bounded
 * buffer per direction, a side polled for reading only when its buffer has
 * room and for writing only when it has data.  EINTR and EAGAIN are not
 * errors; POLLHUP without POLLIN is read as the EOF it is.  Between two
 * sockets the buffer is a pipe and the bytes move with splice(2), never
 * entering user space, once the early bytes read with the head are out.
 */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
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
	size_t off, len; /* pending bytes: buf[off .. off+len) or in the pipe */
	size_t cap; /* what buf or the pipe holds */
	int pipe[2]; /* splice pipe, or -1 when copying */
	int spliced; /* moving through the pipe now */
	size_t pipe_cap; /* what the pipe holds */
	int pipe_full; /* the pipe took nothing: wait for it to drain */
	int src_parked; /* src hung up while we could not read: skip it */
	int eof; /* the source sent its FIN */
	int done; /* ... and it was passed on */
	uint64_t bytes;
	short want_src, want_dst; /* poll events asked for this round */
};

static char relay_up_buf[RELAY_BUF_SIZE], relay_down_buf[RELAY_BUF_SIZE];

/* Moves what fits from d->src into the pipe; as relay_read(). */
static enum relay_status
relay_splice_in(struct relay_dir *d)
{
	ssize_t n = splice(d->src, NULL, d->pipe[1], NULL, d->cap - d->len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0)
		d->len += (size_t)n;
	else if (n == 0)
		d->eof = 1;
	else if (errno == EAGAIN && d->len > 0)
		/* A pipe counts pages, not bytes: it can be full early. */
		d->pipe_full = 1;
	else if (errno != EAGAIN && errno != EINTR)
		return RELAY_SRC_RESET;
	return RELAY_MORE;
}

/* Moves what d->dst takes out of the pipe; as relay_write(). */
static enum relay_status
relay_splice_out(struct relay_dir *d)
{
	ssize_t n = splice(d->pipe[0], NULL, d->dst, NULL, d->len,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0) {
		d->len -= (size_t)n;
		d->bytes += (uint64_t)n;
		d->pipe_full = 0;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		return RELAY_DST_GONE;
	}
	return RELAY_MORE;
}

/* Reads what fits from d->src.  Returns RELAY_MORE or RELAY_SRC_RESET. */
static enum relay_status
relay_read(struct relay_dir *d)
{
	ssize_t n;

	if (d->spliced)
		return relay_splice_in(d);
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

/* Switches a drained direction to splice, when it has a pipe. */
static void
relay_start_splice(struct relay_dir *d)
{
	if (d->pipe[0] == -1 || d->spliced || d->len > 0)
		return;
	d->spliced = 1;
	d->cap = d->pipe_cap;
}

/* Writes what d->dst takes.  Returns RELAY_MORE or RELAY_DST_GONE. */
static enum relay_status
relay_write(struct relay_dir *d)
{
	ssize_t n;

	if (d->spliced)
		return relay_splice_out(d);
	n = write(d->dst, d->buf + d->off, d->len);
	if (n > 0) {
		d->off += (size_t)n;
		d->len -= (size_t)n;
		d->bytes += (uint64_t)n;
		/* An empty buffer starts over, so a full one never stalls. */
		if (d->len == 0)
			d->off = 0;
		relay_start_splice(d);
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
	if (d->dst_is_socket) {
		shutdown(d->dst, SHUT_WR);
	} else {
		close(d->dst);
		d->dst = -1; /* never polled again */
	}
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

/*
 * Adds events for fd to the poll set, merging with an entry for the same
 * fd.  An fd with no events still reports errors and hang-ups.
 */
static void
relay_want(struct pollfd *pfd, nfds_t *n, int fd, short events)
{
	nfds_t i;

	if (fd == -1)
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
	/* Early bytes go out through the buffer before splicing starts. */
	int may_read = !d->eof && d->len < d->cap && !d->pipe_full &&
	    (d->spliced || d->pipe[0] == -1);

	d->want_src = may_read ? POLLIN : 0;
	d->want_dst = d->len > 0 ? POLLOUT : 0;
	if (may_read)
		d->src_parked = 0;
	/*
	 * The source stays in the set even when we cannot read, so that a
	 * reset (POLLERR) is seen at once rather than at the idle timeout.
	 */
	if (!d->src_parked)
		relay_want(pfd, n, d->src, d->want_src);
	if (d->want_dst)
		relay_want(pfd, n, d->dst, d->want_dst);
}

/*
 * Looks at a source that reported trouble while we were not reading it.
 * Returns RELAY_SRC_RESET when its socket has an error; a plain hang-up is
 * parked until there is room to read what it still holds.
 */
static enum relay_status
relay_src_trouble(struct relay_dir *d, short revents)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if ((revents & POLLERR) &&
	    getsockopt(d->src, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err != 0)
		return RELAY_SRC_RESET;
	if (revents & (POLLHUP | POLLERR))
		d->src_parked = 1;
	return RELAY_MORE;
}

/* Moves bytes for one direction after poll; reports what ended it, if anything. */
static enum relay_status
relay_step(struct relay_dir *d, const struct pollfd *pfd, nfds_t n, int *moved)
{
	uint64_t before = d->bytes;
	size_t had = d->len;
	int had_eof = d->eof;

	short rev = relay_revents(pfd, n, d->src);

	if (d->want_src && (rev & (POLLIN | POLLHUP | POLLERR))) {
		if (relay_read(d) == RELAY_SRC_RESET)
			return RELAY_SRC_RESET;
	} else if (!d->want_src && relay_src_trouble(d, rev) != RELAY_MORE) {
		return RELAY_SRC_RESET;
	}
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

/*
 * Ends a tunnel cut short by a timeout.  Bytes still in flight will never
 * arrive, so both sides then get a reset rather than a FIN that would pass
 * the truncated stream off as complete.
 */
static void
relay_cut(struct relay_dir *dirs)
{
	if (dirs[0].len == 0 && dirs[1].len == 0)
		return;
	relay_arm_reset(dirs[0].src);
	relay_arm_reset(dirs[1].src);
}

/*
 * Ends the tunnel on a reset or a vanished side: the other gets a reset.
 * A side that resets after its own FIN closed fully and refused what came
 * after (it is gone); one that resets mid-stream aborted (a reset).
 */
static void
relay_abort(struct relay_dir *d, enum relay_status st, const char *peer_name,
    struct relay_result *res)
{
	int other = st == RELAY_SRC_RESET ? d->dst : d->src;
	int client = strcmp(st == RELAY_SRC_RESET ? d->name : peer_name,
			 "client") == 0;

	relay_arm_reset(other);
	if (st == RELAY_SRC_RESET && !d->eof)
		res->end = client ? "client_reset" : "target_reset";
	else
		res->end = client ? "client_gone" : "target_gone";
}

/*
 * Gives d a pipe for splice(2) when both its ends are sockets, sized up to
 * RELAY_PIPE_SIZE: a larger pipe means fewer calls per megabyte.  Without
 * one (no fds left, or asked not to), d copies through its buffer.
 */
static void
relay_make_pipe(struct relay_dir *d, int allow_splice)
{
	d->pipe[0] = d->pipe[1] = -1;
	int size;

	if (!allow_splice)
		return;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		d->pipe[0] = d->pipe[1] = -1;
		return;
	}
	/* Beyond /proc/sys/fs/pipe-max-size this fails; the default stays. */
	size = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	if (size == -1)
		size = fcntl(d->pipe[1], F_GETPIPE_SZ);
	d->pipe_cap = size > 0 ? (size_t)size : 4096;
}

static void
relay_init_dir(struct relay_dir *d, const char *name, int src, int dst,
    char *buf, int dst_is_socket, int allow_splice)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->src = src;
	d->dst = dst;
	d->dst_is_socket = dst_is_socket;
	d->buf = buf;
	d->cap = RELAY_BUF_SIZE;
	relay_make_pipe(d, allow_splice);
}

static void
relay_close_pipe(struct relay_dir *d)
{
	if (d->pipe[0] != -1) {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
}

/*
 * Moves what poll reported for both directions.  Returns 0 to go on, or
 * -1 when a reset or a vanished side ended the tunnel (res->end set).
 */
static int
relay_move(struct relay_dir *dirs, const struct pollfd *pfd, nfds_t n,
    int *moved, struct relay_result *res)
{
	int i;

	for (i = 0; i < 2; i++) {
		enum relay_status st = relay_step(&dirs[i], pfd, n, moved);

		if (st != RELAY_MORE) {
			relay_abort(&dirs[i], st, dirs[1 - i].name, res);
			return -1;
		}
		relay_pass_fin(&dirs[i], res);
	}
	return 0;
}

/* Polls and moves until both directions are done or something ends it. */
static void
relay_loop(struct relay_dir *dirs, int64_t idle_ms, int64_t lifetime_deadline,
    struct relay_result *res)
{
	int64_t last = util_now_ms();

	while (!(dirs[0].done && dirs[1].done)) {
		struct pollfd pfd[4];
		nfds_t n = 0;
		int moved = 0, rc;
		int64_t wake = relay_wake(last, idle_ms, lifetime_deadline);

		relay_plan(&dirs[0], pfd, &n);
		relay_plan(&dirs[1], pfd, &n);
		rc = poll(pfd, n, util_poll_timeout(wake));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			res->end = "error";
			return;
		}
		if (rc == 0) {
			res->end = wake == lifetime_deadline ? "max_lifetime"
							     : "idle_timeout";
			relay_cut(dirs);
			return;
		}
		if (relay_move(dirs, pfd, n, &moved, res) == -1)
			return;
		if (moved)
			last = util_now_ms();
	}
}

int
relay_run(const struct relay_ends *ends, const char *early, size_t early_len,
    int64_t idle_ms, int64_t lifetime_deadline, struct relay_result *res)
{
	struct relay_dir dirs[2], *up = &dirs[0], *down = &dirs[1];

	memset(res, 0, sizeof(*res));
	/* splice(2) needs sockets at both ends: UCSPI pipes copy. */
	relay_init_dir(up, "client", ends->client_in, ends->target,
	    relay_up_buf, 1, ends->splice && ends->client_is_socket);
	relay_init_dir(down, "target", ends->target, ends->client_out,
	    relay_down_buf, ends->client_is_socket,
	    ends->splice && ends->client_is_socket);
	if (early_len > RELAY_BUF_SIZE)
		early_len = RELAY_BUF_SIZE;
	memcpy(up->buf, early, early_len);
	up->len = early_len;
	relay_start_splice(up);
	relay_start_splice(down);
	relay_loop(dirs, idle_ms, lifetime_deadline, res);
	relay_close_pipe(up);
	relay_close_pipe(down);
	res->up = up->bytes;
	res->down = down->bytes;
	if (res->end == NULL)
		res->end = "eof";
	return up->done && down->done ? 0 : -1;
}
