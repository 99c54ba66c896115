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
	char client[LOG_ADDR_MAX]; /* peer address text, or "-" */
	const char *uid; /* the client's local uid, or NULL */
	const char *user; /* untrusted: the authenticated user */
	const char *target; /* untrusted, not terminated: escaped */
	size_t target_len;
	char addr[LOG_ADDR_MAX]; /* address that carried it, or "-" */
	int status; /* HTTP status sent, 0 for none */
	const char *reason; /* outcome key */
	const char *rcode; /* DNS rcode behind dns_error, or NULL */
	const char *end; /* why it ended, or NULL */
	const char *closed_by; /* who sent the first FIN, or NULL */
	const char *tried; /* dial attempts "addr=result,...", or NULL */
	uint64_t up; /* client -> target bytes */
	uint64_t down; /* target -> client bytes */
	uint64_t urgent_up; /* urgent marks passed in-line, client -> target */
	uint64_t urgent_down; /* ... target -> client */
	int64_t dns_ms; /* until the first answer; -1: none */
	int64_t connect_ms; /* -1 when no dial happened */
	int64_t duration_ms;
};

/* Chooses the sink: syslog when to_syslog, else stderr; may be called again. */
void log_init(int to_syslog);

/* A warning with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A warning as is. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes the closing line for one connection. */
void log_record(const struct log_record *r);

#endif
