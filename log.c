/*
 * Log sink and the per-connection record line.  Nothing here ever writes to
 * a socket connectd serves: when stderr is the client (inetd hands the same
 * socket out as fds 0, 1 and 2), every line goes to syslog instead.
 */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
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

static enum log_sink log_sink = LOG_SINK_STDERR; /* as settled */
static int log_stderr_unsafe; /* fd 2 could reach the client */
static int log_journal_fd = -1;

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

void
log_init(enum log_sink wanted, int stderr_unsafe)
{
	enum log_sink sink = log_settle(wanted, stderr_unsafe);

	if (log_sink == LOG_SINK_SYSLOG && sink != LOG_SINK_SYSLOG)
		closelog();
	if (sink == LOG_SINK_SYSLOG && log_sink != LOG_SINK_SYSLOG)
		openlog("connectd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
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
	    "SYSLOG_FACILITY=%d\n",
	    line, priority, LOG_DAEMON >> 3);
	for (i = 0; rec != NULL && i < rec->nfields && n < sizeof(msg); i++)
		n += log_journal_field(msg + n, sizeof(msg) - n, rec, i);
	if (n >= sizeof(msg))
		return -1;
	if (log_journal_fd == -1)
		log_journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
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
	struct iovec iov[3] = {
		{ (void *)(uintptr_t) "connectd: ", 10 },
		{ (void *)(uintptr_t)line, strlen(line) },
		{ (void *)(uintptr_t) "\n", 1 },
	};

	if (log_sink == LOG_SINK_JOURNAL &&
	    log_send_journal(priority, line, rec) == 0)
		return;
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
