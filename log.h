/*
 * Logging, relayd-style: printf-checked helpers that write one line each to
 * stderr, or to syslog when stderr is the client's own socket (inetd), and
 * the one key=value line that records a connection when it ends.
 */
#ifndef CONNECTD_LOG_H
#define CONNECTD_LOG_H

#include <stddef.h>
#include <stdint.h>

#define LOG_ADDR_MAX 64 /* "[v6addr]:port" text */

/* Everything the closing log line says about one connection. */
struct log_record {
	char client[LOG_ADDR_MAX]; /* untrusted: client address text, or "-" */
	const char *uid; /* the client's local uid, or NULL */
	const char *user; /* untrusted: the authenticated user */
	const char *target; /* untrusted, not terminated: escaped */
	size_t target_len;
	char addr[LOG_ADDR_MAX]; /* address that carried it, or "-" */
	const char *via; /* the upstream proxy's address, or NULL: none */
	int upstream_status; /* its status, 0 when it gave none */
	int status; /* HTTP status sent, 0 for none */
	const char *reason; /* outcome key */
	const char *rcode; /* DNS rcode behind dns_error, or NULL */
	const char *end; /* why it ended, or NULL */
	const char *closed_by; /* who sent the first FIN, or NULL */
	const char *landlock; /* why there is no Landlock (auto), or NULL */
	const char *tried; /* dial attempts "addr=result,...", or NULL */
	uint64_t up; /* client -> target bytes */
	uint64_t down; /* target -> client bytes */
	uint64_t urgent_up; /* urgent marks passed in-line, client -> target */
	uint64_t urgent_down; /* ... target -> client */
	int64_t dns_ms; /* until the first answer; -1: none */
	int64_t connect_ms; /* -1 when no dial happened */
	int64_t duration_ms;
};

/* Where lines go: --log's choice, and what it settles to. */
enum log_sink {
	LOG_SINK_AUTO, /* the journal if fd 2 is its stream, else stderr */
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG,
	LOG_SINK_JOURNAL, /* native protocol, with CONNECTD_* fields */
};

/*
 * Chooses the sink; may be called again.  stderr_unsafe: fd 2 could reach
 * the client, or was closed, and is never written then (LOG_SINK_STDERR
 * and LOG_SINK_AUTO fall back to syslog).  LOG_SINK_AUTO picks the
 * journal when fd 2 is the stream $JOURNAL_STREAM names, as under a
 * systemd unit with StandardError=journal.
 */
void log_init(enum log_sink wanted, int stderr_unsafe);

/* A warning with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A warning as is. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Does what the log's exit handlers would, for a process about to leave
 * with _exit(2): waits for the journal to read what it sent (see log.c).
 */
void log_exit(void);

/* Writes the closing line for one connection. */
void log_record(const struct log_record *r);

/*
 * The high-rate mode's log relay.  journald names an entry's unit
 * (_SYSTEMD_UNIT, what journalctl -u matches) from the sender's
 * /proc/PID/cgroup when it reads the entry; a child that has exited and
 * been reaped by then leaves its entry without one.  So the children hand
 * their journal entries to the parent, which outlives them and sends them
 * on.  log_relay_open(), in the parent before its sandbox: returns 0, or -1
 * when the log does not go to the journal or there is no socket pair.
 */
struct pollfd;
int log_relay_open(void);
/* In a child after fork(2): sends its entries through the parent. */
void log_relay_child(void);
/* What the parent's poll(2) waits for next; fd -1 when nothing. */
void log_relay_poll(struct pollfd *p);
/* When that came: sends entries on, waiting for the journal if wait. */
void log_relay_forward(int wait);
/* At the parent's end: sends on what is left and closes the relay. */
void log_relay_close(void);

/*
 * The journal socket the log keeps open once it has sent a record, or -1:
 * a descriptor of the log's own, not one a connection left behind.
 */
int log_fd(void);

#endif
