/*
 * The byte relay, in the manner of OpenBSD nc's readwrite(): one bounded
 * buffer per direction, a side polled for reading only when its buffer has
 * room and for writing only when it has data, each in a fixed poll slot.
 * EINTR and EAGAIN are not errors; POLLHUP without POLLIN is read as the EOF
 * it is.  Between two sockets the buffer is a pipe and the bytes move with
 * splice(2), never entering user space, once the early bytes read with the
 * head are out; an urgent mark, where splice(2) stops, is crossed with one
 * read(2).
 */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

enum relay_status {
	RELAY_MORE, /* keep going */
	RELAY_SRC_RESET, /* the source reset its connection */
	RELAY_DST_GONE, /* the destination no longer takes bytes */
};

/* How a direction moves its bytes now. */
enum relay_mode {
	RELAY_COPY, /* read(2) into buf, write(2) out of it */
	RELAY_SPLICE, /* splice(2) into the pipe and out of it */
	RELAY_TO_MARK, /* splice stopped at an urgent mark: drain the pipe */
	RELAY_AT_MARK, /* pipe drained: one read(2) crosses the mark */
};

/* How far the source's stream has come. */
enum relay_flow {
	RELAY_OPEN, /* more bytes may come */
	RELAY_EOF, /* the source sent its FIN; bytes before it may wait */
	RELAY_DONE, /* ... and the FIN was passed on */
};

struct relay_dir {
	enum relay_side from; /* who sends */
	int src, dst;
	int dst_is_socket;
	enum relay_mode mode;
	enum relay_flow flow;
	char *buf;
	size_t off, len; /* bytes waiting in buf[off .. off+len) */
	int allow_splice; /* both ends are sockets and splicing is on */
	int pipe[2]; /* splice pipe, or -1: not (yet) made */
	size_t pipe_cap; /* what the pipe holds */
	int pipe_grown; /* asked for RELAY_PIPE_SIZE already */
	size_t in_pipe; /* bytes waiting in the pipe */
	int pipe_full; /* the pipe took nothing: wait for it to drain */
	int src_parked; /* src hung up while we could not read: skip it */
	int reading; /* src polled for input this round */
	struct pollfd *src_slot, *dst_slot; /* fixed: poll takes an fd twice */
	uint64_t bytes;
	uint64_t urgent; /* urgent marks crossed */
};

static const char *const relay_end_names[] = {
	[RELAY_END_EOF] = "eof",
	[RELAY_END_CLIENT_RESET] = "client_reset",
	[RELAY_END_TARGET_RESET] = "target_reset",
	[RELAY_END_CLIENT_GONE] = "client_gone",
	[RELAY_END_TARGET_GONE] = "target_gone",
	[RELAY_END_IDLE_TIMEOUT] = "idle_timeout",
	[RELAY_END_MAX_LIFETIME] = "max_lifetime",
	[RELAY_END_ERROR] = "error",
	[RELAY_END_REQUEST_TIMEOUT] = "timeout",
};
_Static_assert(
    NELEM(relay_end_names) == RELAY_END_COUNT, "every relay_end has a name");

static char relay_up_buf[RELAY_BUF_SIZE], relay_down_buf[RELAY_BUF_SIZE];
/*
 * How far into each buffer a read(2) has ever written: all that
 * relay_wipe() must clear, where a short tunnel uses a few bytes of 64 KiB.
 */
static size_t relay_up_dirty, relay_down_dirty;

void
relay_wipe(void)
{
	explicit_bzero(relay_up_buf, relay_up_dirty);
	explicit_bzero(relay_down_buf, relay_down_dirty);
	relay_up_dirty = relay_down_dirty = 0;
}

/* Notes that buf holds bytes up to end, for relay_wipe(). */
static void
relay_dirty(const char *buf, size_t end)
{
	size_t *dirty = buf == relay_up_buf ? &relay_up_dirty
					    : &relay_down_dirty;

	if (end > *dirty)
		*dirty = end;
}

const char *
relay_end_name(enum relay_end end)
{
	return relay_end_names[end];
}

const char *
relay_side_name(enum relay_side side)
{
	switch (side) {
	case RELAY_CLIENT:
		return "client";
	case RELAY_TARGET:
		return "target";
	}
	return "-";
}

int
relay_inline_urgent(int fd)
{
	int on = 1;

	return setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &on, sizeof(on));
}

static size_t
relay_pending(const struct relay_dir *d)
{
	return d->len + d->in_pipe;
}

/* Whether the next byte to read from fd is the one TCP marked urgent. */
static int
relay_at_mark(int fd)
{
	int at = 0;

	return ioctl(fd, SIOCATMARK, &at) == 0 && at;
}

/*
 * Moves what fits from d->src into the pipe.  splice(2) stops short of an
 * urgent mark and then moves nothing, saying EAGAIN, or 0 once the sender
 * has closed: neither is an EOF or a full pipe there, so the direction
 * drains its pipe and crosses the mark with read(2).
 */
static enum relay_status
relay_splice_in(struct relay_dir *d)
{
	ssize_t n = splice(d->src, NULL, d->pipe[1], NULL,
	    d->pipe_cap - d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0) {
		d->in_pipe += (size_t)n;
		return RELAY_MORE;
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		return RELAY_SRC_RESET;
	if (n == -1 && errno == EINTR)
		return RELAY_MORE;
	if (relay_at_mark(d->src))
		d->mode = RELAY_TO_MARK;
	else if (n == 0)
		d->flow = RELAY_EOF;
	else if (d->in_pipe > 0)
		/* A pipe counts pages, not bytes: it can be full early. */
		d->pipe_full = 1;
	return RELAY_MORE;
}

/* Moves what d->dst takes out of the pipe; as relay_write_buf(). */
static enum relay_status
relay_splice_out(struct relay_dir *d)
{
	ssize_t n = splice(d->pipe[0], NULL, d->dst, NULL, d->in_pipe,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

	if (n > 0) {
		d->in_pipe -= (size_t)n;
		d->bytes += (uint64_t)n;
		d->pipe_full = 0;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		return RELAY_DST_GONE;
	}
	return RELAY_MORE;
}

/*
 * Reads what fits from d->src into the buffer.  With SO_OOBINLINE a read
 * stops before an urgent mark and the next one starts with the urgent
 * byte, so a read at the mark is one mark crossed.  Returns RELAY_MORE or
 * RELAY_SRC_RESET.
 */
static enum relay_status
relay_read_buf(struct relay_dir *d, short revents)
{
	ssize_t n;

	if (d->len == 0)
		d->off = 0;
	else if (d->off + d->len == RELAY_BUF_SIZE) {
		memmove(d->buf, d->buf + d->off, d->len);
		d->off = 0;
	}
	if ((revents & POLLPRI) && relay_at_mark(d->src))
		d->urgent++;
	n = read(
	    d->src, d->buf + d->off + d->len, RELAY_BUF_SIZE - d->off - d->len);
	if (n > 0) {
		d->len += (size_t)n;
		relay_dirty(d->buf, d->off + d->len);
		if (d->mode == RELAY_AT_MARK)
			d->mode = RELAY_COPY;
	} else if (n == 0) {
		d->flow = RELAY_EOF;
	} else if (errno != EAGAIN && errno != EINTR) {
		return RELAY_SRC_RESET;
	}
	return RELAY_MORE;
}

/*
 * Writes what d->dst takes from the buffer.  Returns RELAY_MORE or
 * RELAY_DST_GONE.
 */
static enum relay_status
relay_write_buf(struct relay_dir *d)
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

/* Whether d may take more input now, and so polls its source for it. */
static int
relay_may_read(const struct relay_dir *d)
{
	if (d->flow != RELAY_OPEN)
		return 0;
	switch (d->mode) {
	case RELAY_COPY:
		return d->len < RELAY_BUF_SIZE;
	case RELAY_SPLICE:
		return d->in_pipe < d->pipe_cap && !d->pipe_full;
	case RELAY_TO_MARK:
		return 0;
	case RELAY_AT_MARK:
		return 1;
	}
	return 0;
}

/*
 * Gives d a pipe for splice(2) once it has moved RELAY_SPLICE_AFTER bytes
 * by copying, at the kernel's default size: a short tunnel never pays for
 * a pipe, and a long one gets it before the copies cost more than the two
 * pipe2(2) calls and the closes.  Returns 0 when d has a pipe, -1 when it
 * copies on (too early, not allowed, or no fds left: then for good).
 */
static int
relay_want_pipe(struct relay_dir *d)
{
	int size;

	if (d->pipe[0] != -1)
		return 0;
	if (!d->allow_splice || d->bytes < RELAY_SPLICE_AFTER)
		return -1;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		d->pipe[0] = d->pipe[1] = -1;
		d->allow_splice = 0;
		return -1;
	}
	size = fcntl(d->pipe[1], F_GETPIPE_SZ);
	d->pipe_cap = size > 0 ? (size_t)size : 4096;
	return 0;
}

/*
 * Grows d's pipe up to RELAY_PIPE_SIZE once the direction has moved
 * RELAY_GROW_AFTER bytes: a larger pipe means fewer calls per megabyte,
 * but its pages and its share of the user's pipe quota are only worth it
 * for a bulk transfer.  Beyond /proc/sys/fs/pipe-max-size (or the quota)
 * the kernel refuses and the pipe keeps its size.
 */
static void
relay_grow_pipe(struct relay_dir *d)
{
	int size = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);

	d->pipe_grown = 1;
	if (size > 0)
		d->pipe_cap = (size_t)size;
}

/*
 * Moves the mode on once the bytes of the last one are out: a drained
 * pipe at a mark lets read(2) cross it, and a drained buffer goes back to
 * splicing when the direction has a pipe.
 */
static void
relay_settle(struct relay_dir *d)
{
	if (d->mode == RELAY_TO_MARK && d->in_pipe == 0)
		d->mode = RELAY_AT_MARK;
	else if (d->mode == RELAY_COPY && d->len == 0 &&
	    relay_want_pipe(d) == 0)
		d->mode = RELAY_SPLICE;
	if (d->mode == RELAY_SPLICE && !d->pipe_grown &&
	    d->bytes >= RELAY_GROW_AFTER)
		relay_grow_pipe(d);
}

/* Reads from d->src the way the mode says; RELAY_MORE or RELAY_SRC_RESET. */
static enum relay_status
relay_read(struct relay_dir *d, short revents)
{
	if (d->mode == RELAY_SPLICE)
		return relay_splice_in(d);
	return relay_read_buf(d, revents);
}

/* Writes out what is pending; RELAY_MORE or RELAY_DST_GONE. */
static enum relay_status
relay_write(struct relay_dir *d)
{
	if (d->in_pipe > 0)
		return relay_splice_out(d);
	if (d->len > 0)
		return relay_write_buf(d);
	return RELAY_MORE;
}

/* Once the source's FIN and every byte before it are through, pass it on. */
static void
relay_pass_fin(struct relay_dir *d, struct relay_result *res)
{
	if (d->flow != RELAY_EOF || relay_pending(d) > 0)
		return;
	if (d->dst_is_socket) {
		shutdown(d->dst, SHUT_WR);
	} else {
		close(d->dst);
		d->dst = -1; /* never polled again */
	}
	d->flow = RELAY_DONE;
	if (!res->closed) {
		res->closed = 1;
		res->closed_by = d->from;
	}
}

/* Makes the next close of fd send a reset instead of a FIN. */
static void
relay_arm_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* Fills d's two poll slots for this round; -1 leaves a slot out. */
static void
relay_plan(struct relay_dir *d)
{
	d->reading = relay_may_read(d);
	if (d->reading)
		d->src_parked = 0;
	/*
	 * The source stays in the set even when we cannot read, so that a
	 * reset (POLLERR) is seen at once rather than at the idle timeout.
	 */
	d->src_slot->fd = d->src_parked ? -1 : d->src;
	d->src_slot->events = d->reading ? POLLIN | POLLPRI : 0;
	d->src_slot->revents = 0;
	d->dst_slot->fd = relay_pending(d) > 0 ? d->dst : -1;
	d->dst_slot->events = POLLOUT;
	d->dst_slot->revents = 0;
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

/*
 * Moves bytes for one direction after poll; reports what ended it, if
 * anything.
 */
static enum relay_status
relay_step(struct relay_dir *d, int *moved)
{
	uint64_t before = d->bytes;
	size_t had = relay_pending(d);
	enum relay_flow had_flow = d->flow;
	enum relay_mode had_mode = d->mode;
	short rev = d->src_slot->revents;

	if (d->reading && (rev & (POLLIN | POLLPRI | POLLHUP | POLLERR))) {
		if (relay_read(d, rev) == RELAY_SRC_RESET)
			return RELAY_SRC_RESET;
	} else if (!d->reading && relay_src_trouble(d, rev) != RELAY_MORE) {
		return RELAY_SRC_RESET;
	}
	/* Write straight after a read: the peer's socket usually has room. */
	if (relay_write(d) == RELAY_DST_GONE)
		return RELAY_DST_GONE;
	relay_settle(d);
	*moved |= d->bytes != before || relay_pending(d) != had ||
	    d->flow != had_flow || d->mode != had_mode;
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
 * Ends a tunnel cut short by a timeout.  Some direction is still open, and
 * bytes for it may wait where connectd cannot count them (the kernel's
 * socket buffers), so both sides get a reset rather than a FIN that would
 * pass a truncated stream off as complete.  A pipe cannot carry a reset:
 * behind a UCSPI server the client sees the EOF its server makes.
 */
static void
relay_cut(struct relay_dir *dirs)
{
	relay_arm_reset(dirs[0].src);
	relay_arm_reset(dirs[1].src);
}

/*
 * Ends the tunnel on a reset or a vanished side: the other gets a reset.
 * A side that resets after its own FIN closed fully and refused what came
 * after (it is gone); one that resets mid-stream aborted (a reset).
 */
static void
relay_abort(struct relay_dir *d, enum relay_status st, struct relay_result *res)
{
	int src_failed = st == RELAY_SRC_RESET;
	enum relay_side culprit = src_failed
	    ? d->from
	    : (d->from == RELAY_CLIENT ? RELAY_TARGET : RELAY_CLIENT);
	int reset = src_failed && d->flow == RELAY_OPEN;

	relay_arm_reset(src_failed ? d->dst : d->src);
	if (culprit == RELAY_CLIENT)
		res->end = reset ? RELAY_END_CLIENT_RESET
				 : RELAY_END_CLIENT_GONE;
	else
		res->end = reset ? RELAY_END_TARGET_RESET
				 : RELAY_END_TARGET_GONE;
}

static void
relay_init_dir(struct relay_dir *d, enum relay_side from, int src, int dst,
    int dst_is_socket, int allow_splice, struct pollfd *slots)
{
	memset(d, 0, sizeof(*d));
	d->from = from;
	d->src = src;
	d->dst = dst;
	d->dst_is_socket = dst_is_socket;
	d->buf = from == RELAY_CLIENT ? relay_up_buf : relay_down_buf;
	d->mode = RELAY_COPY;
	d->flow = RELAY_OPEN;
	d->src_slot = &slots[0];
	d->dst_slot = &slots[1];
	d->allow_splice = allow_splice;
	d->pipe[0] = d->pipe[1] = -1;
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
relay_move(struct relay_dir *dirs, int *moved, struct relay_result *res)
{
	int i;

	for (i = 0; i < 2; i++) {
		enum relay_status st = relay_step(&dirs[i], moved);

		if (st != RELAY_MORE) {
			relay_abort(&dirs[i], st, res);
			return -1;
		}
		relay_pass_fin(&dirs[i], res);
	}
	return 0;
}

/* Polls and moves until both directions are done or something ends it. */
static void
relay_loop(struct relay_dir *dirs, struct pollfd *pfd, int64_t idle_ms,
    int64_t lifetime_deadline, struct relay_result *res)
{
	int64_t last = util_now_ms();

	while (dirs[0].flow != RELAY_DONE || dirs[1].flow != RELAY_DONE) {
		int moved = 0, rc;
		int64_t wake = relay_wake(last, idle_ms, lifetime_deadline);

		relay_plan(&dirs[0]);
		relay_plan(&dirs[1]);
		rc = poll(pfd, 4, util_poll_timeout(wake));
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1) {
			res->end = RELAY_END_ERROR;
			return;
		}
		if (rc == 0) {
			res->end = wake == lifetime_deadline
			    ? RELAY_END_MAX_LIFETIME
			    : RELAY_END_IDLE_TIMEOUT;
			relay_cut(dirs);
			return;
		}
		/*
		 * Past the lifetime poll(2) waits no more, but a tunnel kept
		 * busy has an fd ready at every call and would never see it
		 * return 0: the deadline is checked here too.
		 */
		if (lifetime_deadline >= 0 &&
		    util_now_ms() >= lifetime_deadline) {
			res->end = RELAY_END_MAX_LIFETIME;
			relay_cut(dirs);
			return;
		}
		if (relay_move(dirs, &moved, res) == -1)
			return;
		if (moved)
			last = util_now_ms();
	}
}

int
relay_run(const struct relay_ends *ends, const char *early, size_t early_len,
    int64_t idle_ms, int64_t lifetime_deadline, struct relay_result *res)
{
	struct pollfd pfd[4];
	struct relay_dir dirs[2], *up = &dirs[0], *down = &dirs[1];
	/* splice(2) needs sockets at both ends: UCSPI pipes copy. */
	int allow_splice = ends->splice && ends->client_is_socket;

	memset(res, 0, sizeof(*res));
	res->end = RELAY_END_EOF;
	relay_init_dir(up, RELAY_CLIENT, ends->client_in, ends->target, 1,
	    allow_splice, &pfd[0]);
	relay_init_dir(down, RELAY_TARGET, ends->target, ends->client_out,
	    ends->client_is_socket, allow_splice, &pfd[2]);
	/* Early bytes go out through the buffer before splicing starts. */
	if (early_len > RELAY_BUF_SIZE)
		early_len = RELAY_BUF_SIZE;
	memcpy(up->buf, early, early_len);
	up->len = early_len;
	relay_settle(up);
	relay_settle(down);
	relay_loop(dirs, pfd, idle_ms, lifetime_deadline, res);
	relay_close_pipe(up);
	relay_close_pipe(down);
	res->up = up->bytes;
	res->down = down->bytes;
	res->urgent_up = up->urgent;
	res->urgent_down = down->urgent;
	return up->flow == RELAY_DONE && down->flow == RELAY_DONE ? 0 : -1;
}
