/*
 * Log sink and the per-connection record line.  Nothing here ever writes to
 * a socket connectd serves: when stderr is the client (inetd hands the same
 * socket out as fds 0, 1 and 2), every line goes to syslog instead.
 */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/*
 * The budget of each field of the record, in bytes of text after "key=".
 * The line is sized from them, so that every key is always written; a value
 * over its budget is clipped where its text can be read, and marked.
 * (A new field: one line in log_record(), its budget in LOG_RECORD_MAX and
 * LOG_FIELDS.)
 */
#define LOG_NUM_MAX 20 /* an int64_t or a uint64_t in decimal */
#define LOG_WORD_MAX 32 /* a word of ours: uid, reason, rcode, end... */
#define LOG_USER_MAX 80 /* escaped and clipped user name */
#define LOG_TARGET_MAX 300 /* escaped and clipped target text */
#define LOG_TRIED_MAX 640 /* whole attempts, then ",+Nmore" for the rest */
#define LOG_KEY_MAX 14 /* " duration_ms=" and any other key */
#define LOG_FIELDS 20 /* keys */
#define LOG_RECORD_MAX                                                         \
	(LOG_FIELDS * LOG_KEY_MAX + 3 * LOG_ADDR_MAX + 5 * LOG_WORD_MAX +      \
	    LOG_USER_MAX + LOG_TARGET_MAX + LOG_TRIED_MAX + 9 * LOG_NUM_MAX +  \
	    1)
#define LOG_LINE_MAX 1024 /* a warning; a longer one ends in "..." */
#define LOG_CLIPPED "..."
/*
 * The man page promises under 2048 bytes with "connectd: " and the newline,
 * which also keeps a record one write(2) that a pipe takes whole (PIPE_BUF).
 */
_Static_assert(LOG_RECORD_MAX + 16 <= 2048, "a record is under 2048 bytes");

/* The record line as it is built, and where each value lies in it. */
struct log_line {
	char buf[LOG_RECORD_MAX];
	size_t len;
	struct log_field {
		const char *key;
		size_t off, len; /* the value: buf[off .. off+len) */
	} field[LOG_FIELDS];
	size_t nfields;
};

/*
 * The journal's native protocol (systemd's "Native Journal Protocol"): one
 * datagram of KEY=value lines to this socket, without loading libsystemd.
 */
#define LOG_JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_JOURNAL_MAX (2 * LOG_RECORD_MAX + LOG_FIELDS * 24 + 128)
/*
 * At exit, how long a process waits for the journal to take what it sent:
 * checks a millisecond apart, at most this many.  See log_flush().
 */
#define LOG_FLUSH_CHECKS 500
#define LOG_RELAY_QUEUE (1 << 20) /* bytes children may queue for the parent */
#define LOG_RELAY_BURST 64 /* entries the parent sends on per poll(2) */

static enum log_sink log_sink = LOG_SINK_STDERR; /* as settled */
static int log_stderr_unsafe; /* fd 2 could reach the client */
static int log_journal_fd = -1;
static pid_t log_journal_pid; /* whose it is: a forked child opens its own */

/*
 * The high-rate mode's relay: a datagram socket pair over which its
 * children hand their journal entries to the parent ([1] theirs, [0] the
 * parent's), and the parent's socket connected to the journal.  See
 * log_relay_open().
 */
static int log_relay[2] = { -1, -1 };
static int log_relay_journal = -1;
static char log_relay_held[LOG_JOURNAL_MAX]; /* an entry the journal left */
static size_t log_relay_held_len;

static int log_relay_send(const char *msg, size_t n);
static void log_emit_plain(int priority, const char *line);

/* Whether fd 2 is the journal's stream, as $JOURNAL_STREAM says. */
static int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/* What wanted comes to, given whether stderr may be written at all. */
static enum log_sink
log_settle(enum log_sink wanted, int stderr_unsafe)
{
	switch (wanted) {
	case LOG_SINK_AUTO:
		if (stderr_unsafe)
			return LOG_SINK_SYSLOG;
		return log_stderr_is_journal() ? LOG_SINK_JOURNAL
					       : LOG_SINK_STDERR;
	case LOG_SINK_STDERR:
		/* Never into the client's stream, whatever was asked. */
		return stderr_unsafe ? LOG_SINK_SYSLOG : LOG_SINK_STDERR;
	case LOG_SINK_SYSLOG:
	case LOG_SINK_JOURNAL:
		return wanted;
	}
	return LOG_SINK_SYSLOG;
}

/*
 * Runs at exit: returns once the journal has read every entry this process
 * sent, checking a millisecond apart from a millisecond on, or after
 * LOG_FLUSH_CHECKS checks.  journald
 * names an entry's unit (_SYSTEMD_UNIT, what journalctl -u matches) from
 * the sender's /proc/PID/cgroup when it reads the datagram; an entry still
 * queued when the process has exited and been reaped is stored without
 * it.  Under a booted systemd at 1,000 tunnels a second, 2% of records
 * were, whether the unit was Accept=yes or the high-rate mode's.
 */
static void
log_flush(void)
{
	const struct timespec step = { 0, 1000000 };
	int fd[2] = { log_journal_fd, log_relay_journal }, queued, i, n;

	if (log_journal_pid != getpid())
		fd[0] = -1; /* the parent's, not ours */
	for (i = 0; i < 2; i++)
		for (n = 0; fd[i] != -1 && n < LOG_FLUSH_CHECKS; n++) {
			/* The first sleep also covers a read just before. */
			(void)nanosleep(&step, NULL);
			if (ioctl(fd[i], SIOCOUTQ, &queued) == -1 ||
			    queued == 0)
				break;
		}
}

/* log_flush() is an exit handler of this process (the journal sink). */
static int log_flush_at_exit;

void
log_exit(void)
{
	if (log_flush_at_exit)
		log_flush();
}

void
log_init(enum log_sink wanted, int stderr_unsafe)
{
	enum log_sink sink = log_settle(wanted, stderr_unsafe);

	if (log_sink == LOG_SINK_SYSLOG && sink != LOG_SINK_SYSLOG)
		closelog();
	if (sink == LOG_SINK_SYSLOG && log_sink != LOG_SINK_SYSLOG)
		openlog("connectd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if (sink == LOG_SINK_JOURNAL && !log_flush_at_exit)
		log_flush_at_exit = atexit(log_flush) == 0;
	log_sink = sink;
	log_stderr_unsafe = stderr_unsafe;
}

/*
 * Formats field i of rec as "CONNECTD_<KEY>=value\n" into buf: the key in
 * capitals, with up and down as BYTES_UP and BYTES_DOWN.  Returns the
 * length it needed (snprintf's contract).
 */
static size_t
log_journal_field(char *buf, size_t size, const struct log_line *rec, size_t i)
{
	const struct log_field *f = &rec->field[i];
	char key[LOG_KEY_MAX + 8];
	size_t k;
	int n;

	if (strcmp(f->key, "up") == 0 || strcmp(f->key, "down") == 0)
		snprintf(key, sizeof(key), "BYTES_%s", f->key);
	else
		util_strlcpy(key, f->key, sizeof(key));
	for (k = 0; key[k] != '\0'; k++)
		key[k] = (char)toupper((unsigned char)key[k]);
	n = snprintf(buf, size, "CONNECTD_%s=%.*s\n", key, (int)f->len,
	    rec->buf + f->off);
	return n > 0 ? (size_t)n : 0;
}

/*
 * Sends the journal one entry: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and,
 * for a record, CONNECTD_<KEY> for each of its fields.  Values are escaped
 * text without newlines, so the simple KEY=value form carries them.
 * Returns 0, or -1 when the journal did not take it.
 */
static int
log_send_journal(int priority, const char *line, const struct log_line *rec)
{
	static const struct sockaddr_un addr = { .sun_family = AF_UNIX,
		.sun_path = LOG_JOURNAL_SOCKET };
	char msg[LOG_JOURNAL_MAX];
	size_t i, n;

	n = (size_t)snprintf(msg, sizeof(msg),
	    "MESSAGE=%s\nPRIORITY=%d\nSYSLOG_IDENTIFIER=connectd\n"
	    "SYSLOG_FACILITY=%d\nSYSLOG_PID=%ld\n",
	    line, priority, LOG_DAEMON >> 3, (long)getpid());
	for (i = 0; rec != NULL && i < rec->nfields && n < sizeof(msg); i++)
		n += log_journal_field(msg + n, sizeof(msg) - n, rec, i);
	if (n >= sizeof(msg))
		return -1;
	if (log_relay_send(msg, n) == 0)
		return 0;
	/*
	 * A socket of its own, not the parent's: log_flush() waits for what
	 * the socket holds, and a shared one holds every process's entries.
	 */
	if (log_journal_fd != -1 && log_journal_pid != getpid()) {
		close(log_journal_fd);
		log_journal_fd = -1;
	}
	if (log_journal_fd == -1) {
		log_journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		log_journal_pid = getpid();
	}
	if (log_journal_fd == -1)
		return -1;
	return sendto(log_journal_fd, msg, n, MSG_NOSIGNAL,
		   (const struct sockaddr *)&addr, sizeof(addr)) == (ssize_t)n
	    ? 0
	    : -1;
}

/*
 * Writes one line to the settled sink; rec, when not NULL, is the record
 * the line renders, for the journal's fields.  A journal that does not
 * take it gets the line on stderr instead, or syslog where stderr could
 * reach the client.
 */
static void
log_emit(int priority, const char *line, const struct log_line *rec)
{
	if (log_sink == LOG_SINK_JOURNAL &&
	    log_send_journal(priority, line, rec) == 0)
		return;
	log_emit_plain(priority, line);
}

/* Writes line to stderr, or to syslog where stderr could reach the client. */
static void
log_emit_plain(int priority, const char *line)
{
	struct iovec iov[3] = {
		{ (void *)(uintptr_t) "connectd: ", 10 },
		{ (void *)(uintptr_t)line, strlen(line) },
		{ (void *)(uintptr_t) "\n", 1 },
	};

	if (log_sink == LOG_SINK_SYSLOG || log_stderr_unsafe) {
		syslog(priority, "%s", line);
		return;
	}
	/*
	 * One writev(2), not stdio: the line arrives whole even when several
	 * processes share the journal stream, and unbuffered stderr would
	 * take an 8 KiB bounce buffer on the stack of every connection.
	 */
	if (writev(STDERR_FILENO, iov, 3) == -1)
		return; /* a log that cannot be written has nowhere to go */
}

static void
log_vwrite(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n >= 0 && suffix != NULL && (size_t)n < sizeof(line))
		n += snprintf(
		    line + n, sizeof(line) - (size_t)n, ": %s", suffix);
	if (n < 0 || (size_t)n >= sizeof(line))
		memcpy(line + sizeof(line) - sizeof(LOG_CLIPPED), LOG_CLIPPED,
		    sizeof(LOG_CLIPPED));
	log_emit(priority, line, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

/*
 * Appends " key=" (no space before the first) and val, clipped to max bytes
 * ending in LOG_CLIPPED if it is longer.  The buffer is sized for every
 * budget, so only a value over its own budget is ever clipped.
 */
static void
log_put(struct log_line *l, const char *key, const char *val, size_t max)
{
	size_t len = strlen(val), room = sizeof(l->buf) - l->len;
	int n = snprintf(
	    l->buf + l->len, room, "%s%s=", l->len > 0 ? " " : "", key);

	if (n < 0 || (size_t)n >= room) {
		l->buf[l->len] = '\0';
		return;
	}
	l->len += (size_t)n;
	if (l->nfields < LOG_FIELDS) {
		l->field[l->nfields].key = key;
		l->field[l->nfields].off = l->len;
	}
	room -= (size_t)n + 1;
	if (max > room)
		max = room;
	if (len > max) {
		len = max > strlen(LOG_CLIPPED) ? max - strlen(LOG_CLIPPED) : 0;
		memcpy(l->buf + l->len, val, len);
		l->len += len;
		val = LOG_CLIPPED;
		len = max - len < strlen(val) ? max - len : strlen(val);
	}
	memcpy(l->buf + l->len, val, len);
	l->len += len;
	l->buf[l->len] = '\0';
	if (l->nfields < LOG_FIELDS) {
		l->field[l->nfields].len = l->len - l->field[l->nfields].off;
		l->nfields++;
	}
}

/* A number, formatted as fmt says. */
static void __attribute__((format(printf, 3, 4)))
log_put_num(struct log_line *l, const char *key, const char *fmt, ...)
{
	char num[LOG_NUM_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	log_put(l, key, num, LOG_NUM_MAX);
}

/* Untrusted text: escaped (util_escape() clips it and marks the clip). */
static void
log_put_escaped(struct log_line *l, const char *key, const char *val,
    size_t len, size_t max)
{
	char text[LOG_TARGET_MAX + 1];

	if (val == NULL) {
		log_put(l, key, "-", max);
		return;
	}
	if (max + 1 > sizeof(text))
		max = sizeof(text) - 1;
	util_escape(text, max + 1, val, len);
	log_put(l, key, text, max);
}

/*
 * A comma-separated list of items of ours: whole items while they fit in
 * max with room for the marker, then ",+Nmore" for the N items left out.
 * No item is ever cut.
 */
static void
log_put_list(struct log_line *l, const char *key, const char *list, size_t max)
{
	char text[LOG_TRIED_MAX + 1], mark[32];
	const char *p, *comma;
	size_t keep = 0, left = 1;

	if (max > LOG_TRIED_MAX)
		max = LOG_TRIED_MAX;
	if (strlen(list) <= max) {
		log_put(l, key, list, max);
		return;
	}
	for (p = list; (comma = strchr(p, ',')) != NULL; p = comma + 1)
		left++;
	/* The marker at its longest: every item left out. */
	snprintf(mark, sizeof(mark), ",+%zumore", left);
	for (p = list; (comma = strchr(p, ',')) != NULL; p = comma + 1) {
		if ((size_t)(comma - list) + strlen(mark) > max)
			break;
		keep = (size_t)(comma - list);
		left--;
	}
	memcpy(text, list, keep);
	snprintf(text + keep, sizeof(text) - keep, "%s+%zumore",
	    keep > 0 ? "," : "", left);
	log_put(l, key, text, max);
}

void
log_record(const struct log_record *r)
{
	struct log_line l = { .len = 0 };

	log_put_escaped(
	    &l, "client", r->client, strlen(r->client), LOG_ADDR_MAX);
	log_put(&l, "uid", r->uid != NULL ? r->uid : "-", LOG_WORD_MAX);
	log_put_escaped(&l, "user", r->user,
	    r->user != NULL ? strlen(r->user) : 0, LOG_USER_MAX);
	log_put_escaped(&l, "target", r->target, r->target_len, LOG_TARGET_MAX);
	log_put(&l, "addr", r->addr, LOG_ADDR_MAX);
	/* Only for a tunnel sent through the parent: which, and its answer. */
	if (r->via != NULL) {
		log_put(&l, "via", r->via, LOG_ADDR_MAX);
		log_put_num(&l, "via_status", "%d", r->upstream_status);
	}
	log_put_num(&l, "status", "%d", r->status);
	log_put(
	    &l, "reason", r->reason != NULL ? r->reason : "-", LOG_WORD_MAX);
	/* Only with the reason it explains. */
	if (r->rcode != NULL)
		log_put(&l, "rcode", r->rcode, LOG_WORD_MAX);
	log_put_num(&l, "up", "%" PRIu64, r->up);
	log_put_num(&l, "down", "%" PRIu64, r->down);
	log_put_num(&l, "urgent_up", "%" PRIu64, r->urgent_up);
	log_put_num(&l, "urgent_down", "%" PRIu64, r->urgent_down);
	log_put_num(&l, "dns_ms", "%" PRId64, r->dns_ms);
	log_put_num(&l, "connect_ms", "%" PRId64, r->connect_ms);
	log_put_num(&l, "duration_ms", "%" PRId64, r->duration_ms);
	log_put(&l, "end", r->end != NULL ? r->end : "-", LOG_WORD_MAX);
	log_put(&l, "closed_by", r->closed_by != NULL ? r->closed_by : "-",
	    LOG_WORD_MAX);
	/* Only when --sandbox auto had to go without it: the admin's cue. */
	if (r->landlock != NULL)
		log_put(&l, "landlock", r->landlock, LOG_WORD_MAX);
	log_put_list(&l, "tried",
	    r->tried != NULL && r->tried[0] != '\0' ? r->tried : "-",
	    LOG_TRIED_MAX);
	log_emit(LOG_INFO, l.buf, &l);
}

int
log_fd(void)
{
	return log_journal_fd;
}

/*
 * In a child of the high-rate mode: hands the entry msg[0..n) to the
 * parent.  Returns 0, or -1 when it must go straight to the journal (not
 * a child, the parent gone, or its queue full).
 */
static int
log_relay_send(const char *msg, size_t n)
{
	/* [0] closed and [1] open: a child (log_relay_child()). */
	if (log_relay[0] != -1 || log_relay[1] == -1)
		return -1;
	return send(log_relay[1], msg, n, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		(ssize_t)n
	    ? 0
	    : -1;
}

/*
 * (Re)connects the parent's socket to the journal: connected, poll(2) can
 * wait for room in the journal's queue.  Leaves it -1 when there is none.
 */
static void
log_relay_connect(void)
{
	static const struct sockaddr_un addr = { .sun_family = AF_UNIX,
		.sun_path = LOG_JOURNAL_SOCKET };

	if (log_relay_journal != -1)
		close(log_relay_journal);
	log_relay_journal = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log_relay_journal != -1 &&
	    connect(log_relay_journal, (const struct sockaddr *)&addr,
		sizeof(addr)) == -1) {
		close(log_relay_journal);
		log_relay_journal = -1;
	}
}

int
log_relay_open(void)
{
	int size = LOG_RELAY_QUEUE;

	if (log_sink != LOG_SINK_JOURNAL ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
		log_relay) == -1)
		return -1;
	/* The queue is the sender's buffer: room for a burst's records. */
	(void)setsockopt(
	    log_relay[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	log_relay_connect();
	return 0;
}

void
log_relay_child(void)
{
	if (log_relay[0] == -1)
		return;
	/* So that a parent that is gone refuses, rather than queues. */
	close(log_relay[0]);
	log_relay[0] = -1;
	if (log_relay_journal != -1)
		close(log_relay_journal);
	log_relay_journal = -1;
}

void
log_relay_poll(struct pollfd *p)
{
	p->fd = -1;
	p->events = 0;
	p->revents = 0;
	if (log_relay[0] == -1)
		return;
	/* A held entry waits for room in the journal's queue. */
	p->fd = log_relay_held_len > 0 ? log_relay_journal : log_relay[0];
	p->events = log_relay_held_len > 0 ? POLLOUT : POLLIN;
}

/*
 * The held entry as a plain line, where the journal cannot take it: its
 * first field is MESSAGE, its second PRIORITY (log_send_journal()).
 */
static void
log_relay_plain(void)
{
	char *line = log_relay_held + strlen("MESSAGE="), *end;
	int priority = LOG_INFO;

	log_relay_held[log_relay_held_len] = '\0';
	if (strncmp(log_relay_held, "MESSAGE=", strlen("MESSAGE=")) != 0 ||
	    (end = strchr(line, '\n')) == NULL)
		return;
	*end = '\0';
	(void)sscanf(end + 1, "PRIORITY=%d", &priority);
	log_emit_plain(priority, line);
}

/*
 * Sends the held entry to the journal; flags MSG_DONTWAIT or 0.  Returns 0
 * when it is dealt with, -1 when the journal's queue is full.
 */
static int
log_relay_deliver(int flags)
{
	ssize_t n = -1;
	int tries;

	/* A second try on a new socket, for a journald that restarted. */
	for (tries = 0; tries < 2 && n == -1; tries++) {
		if (tries > 0 || log_relay_journal == -1)
			log_relay_connect();
		if (log_relay_journal == -1)
			break;
		n = send(log_relay_journal, log_relay_held, log_relay_held_len,
		    flags | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -1;
	}
	if (n != (ssize_t)log_relay_held_len)
		log_relay_plain();
	log_relay_held_len = 0;
	return 0;
}

void
log_relay_forward(int wait)
{
	ssize_t n;
	long i;

	for (i = 0; wait || i < LOG_RELAY_BURST; i++) {
		if (log_relay_held_len == 0) {
			/* One byte spare, for log_relay_plain()'s NUL. */
			n = recv(log_relay[0], log_relay_held,
			    sizeof(log_relay_held) - 1, MSG_DONTWAIT);
			if (n <= 0)
				return;
			log_relay_held_len = (size_t)n;
		}
		if (log_relay_deliver(wait ? 0 : MSG_DONTWAIT) == -1)
			return;
	}
}

void
log_relay_close(void)
{
	if (log_relay[0] == -1)
		return;
	/* Children that log from now on send to the journal themselves. */
	(void)shutdown(log_relay[0], SHUT_RD);
	log_relay_forward(1);
	close(log_relay[0]);
	close(log_relay[1]);
	log_relay[0] = log_relay[1] = -1;
}
