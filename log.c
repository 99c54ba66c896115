/*
 * Log sink and the per-connection record line.  Nothing here ever writes to
 * a socket connectd serves: when stderr is the client (inetd hands the same
 * socket out as fds 0, 1 and 2), every line goes to syslog instead.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "util.h"

#define LOG_LINE_MAX 1024
#define LOG_TARGET_MAX 300 /* escaped and clipped target text */
#define LOG_USER_MAX 80 /* escaped and clipped user name */

static int log_to_syslog;

void
log_init(int to_syslog)
{
	if (log_to_syslog && !to_syslog)
		closelog();
	if (to_syslog && !log_to_syslog)
		openlog("connectd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = to_syslog;
}

static void
log_emit(int priority, const char *line)
{
	struct iovec iov[3] = {
		{ (void *)(uintptr_t) "connectd: ", 10 },
		{ (void *)(uintptr_t)line, strlen(line) },
		{ (void *)(uintptr_t) "\n", 1 },
	};

	if (log_to_syslog) {
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
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", suffix);
	log_emit(priority, line);
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

void
log_record(const struct log_record *r)
{
	char target[LOG_TARGET_MAX], line[LOG_LINE_MAX], user[LOG_USER_MAX];

	if (r->target != NULL)
		util_escape(target, sizeof(target), r->target, r->target_len);
	else
		util_strlcpy(target, "-", sizeof(target));
	char reason[64];

	if (r->user != NULL)
		util_escape(user, sizeof(user), r->user, strlen(r->user));
	else
		util_strlcpy(user, "-", sizeof(user));
	if (r->rcode != NULL)
		snprintf(
		    reason, sizeof(reason), "%s rcode=%s", r->reason, r->rcode);
	else
		util_strlcpy(reason, r->reason, sizeof(reason));
	snprintf(line, sizeof(line),
	    "client=%s uid=%s user=%s target=%s addr=%s status=%d reason=%s "
	    "up=%" PRIu64 " down=%" PRIu64 " urgent_up=%" PRIu64
	    " urgent_down=%" PRIu64 " dns_ms=%" PRId64 " connect_ms=%" PRId64
	    " duration_ms=%" PRId64 " end=%s closed_by=%s tried=%s",
	    r->client, r->uid != NULL ? r->uid : "-", user, target, r->addr,
	    r->status, reason, r->up, r->down, r->urgent_up, r->urgent_down,
	    r->dns_ms, r->connect_ms, r->duration_ms,
	    r->end != NULL ? r->end : "-",
	    r->closed_by != NULL ? r->closed_by : "-",
	    r->tried != NULL && r->tried[0] != '\0' ? r->tried : "-");
	log_emit(LOG_INFO, line);
}
