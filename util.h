/*
 * Small helpers shared by every connectd module: bounded number and duration
 * parsing, bounded string copy, the monotonic clock, fd flags and escaping of
 * untrusted text.  None of them log or exit; they return -1 with errno set.
 */
#ifndef CONNECTD_UTIL_H
#define CONNECTD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds on CLOCK_MONOTONIC: immune to wall-clock steps. */
int64_t util_now_ms(void);

/*
 * Milliseconds left until deadline (a util_now_ms() value), clipped to the
 * range 0..INT_MAX so the result can be passed to poll(2).  A deadline of -1
 * means none and yields -1 (poll's "wait forever").
 */
int util_poll_timeout(int64_t deadline);

/*
 * Parses the whole of s as a decimal integer in [min, max] into *out.
 * Returns 0, or -1 with errno EINVAL (not a number, trailing garbage, sign
 * where min >= 0) or ERANGE (outside the bounds).
 */
int util_parse_int(const char *s, long long min, long long max, long long *out);

/*
 * Parses a duration in seconds with an optional fraction of up to three
 * digits ("30", "0.5", "1.25") into milliseconds, at most max_ms.  Returns 0,
 * or -1 with errno EINVAL or ERANGE.
 */
int util_parse_seconds(const char *s, int64_t max_ms, int64_t *out_ms);

/*
 * strlcpy(3): copies at most size-1 bytes, always terminates; returns
 * strlen(src).
 */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/*
 * Copies untrusted text for a log line: bytes outside printable ASCII, the
 * backslash, the double quote and space become \xHH; the copy stops before
 * dst (of size dstsize, at least 4) would overflow and then ends in "...".
 * Returns the length written, excluding the terminating NUL.
 */
size_t util_escape(char *dst, size_t dstsize, const char *src, size_t srclen);

/* Sets O_NONBLOCK on fd.  Returns 0 or -1 with errno. */
int util_set_nonblock(int fd);

/* Sets FD_CLOEXEC on fd.  Returns 0 or -1 with errno. */
int util_set_cloexec(int fd);

/*
 * Writes all len bytes to the (possibly non-blocking) fd, waiting with
 * poll(2) until deadline (util_now_ms() value, -1 for none).  Returns 0, or
 * -1 with errno (ETIMEDOUT when the deadline passed first).
 */
int util_write_all(int fd, const void *buf, size_t len, int64_t deadline);

struct sockaddr;
struct stat;

/*
 * Opens a file of secrets for reading (O_NONBLOCK: a FIFO in its place
 * must not hang the open) and checks on the descriptor itself, into *st,
 * that it is a regular file of at most max bytes, neither readable nor
 * writable by others nor writable by its group, owned by root or by us.
 * Returns the fd (the caller closes it), or -1 with "path: why" in err.
 */
int util_open_secret(
    const char *path, off_t max, struct stat *st, char *err, size_t errsize);

/*
 * Formats an address as "1.2.3.4:port", "[2001:db8::1]:port" (an
 * IPv4-mapped IPv6 address as its IPv4 form) or "unix", into buf of size
 * (64 is enough).  Returns buf; "-" for an unknown family.
 */
const char *
util_sockaddr_text(const struct sockaddr *sa, char *buf, size_t size);

#endif
