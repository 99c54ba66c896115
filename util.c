/*
 * Shared helpers: bounded parsing of numbers and durations, a strlcpy for
 * glibc, the monotonic clock, fd flags, a deadline-bounded write, and the
 * escaping that keeps untrusted text from forging log lines.
 */
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
util_poll_timeout(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - util_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

int
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* strtoll accepts leading space and '+'; an option value may not. */
	if (s == NULL ||
	    !(isdigit((unsigned char)s[0]) || (s[0] == '-' && min < 0))) {
		errno = EINVAL;
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		errno = EINVAL;
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
util_parse_seconds(const char *s, int64_t max_ms, int64_t *out_ms)
{
	int64_t ms = 0;
	int digits = 0, frac = -1;

	for (; *s != '\0'; s++) {
		if (*s == '.' && frac < 0 && digits > 0) {
			frac = 0;
			continue;
		}
		if (!isdigit((unsigned char)*s) || frac >= 3) {
			errno = EINVAL;
			return -1;
		}
		ms = ms * 10 + (*s - '0');
		digits++;
		if (frac >= 0)
			frac++;
		if (ms > max_ms * 1000) {
			errno = ERANGE;
			return -1;
		}
	}
	if (digits == 0 || frac == 0) {
		errno = EINVAL;
		return -1;
	}
	for (frac = frac < 0 ? 0 : frac; frac < 3; frac++)
		ms *= 10;
	if (ms > max_ms) {
		errno = ERANGE;
		return -1;
	}
	*out_ms = ms;
	return 0;
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
util_escape(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		int plain = c > 0x20 && c < 0x7f && c != '\\' && c != '"';
		size_t need = plain ? 1 : 4;

		/* Keep room for "..." and the NUL. */
		if (o + need + 4 > dstsize) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return o;
}

int
util_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -1;
	if (flags & O_NONBLOCK)
		return 0;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int
util_set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags == -1)
		return -1;
	return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int
util_write_all(int fd, const void *buf, size_t len, int64_t deadline)
{
	const char *p = buf;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n == -1 && errno == EINTR)
			continue;
		n = poll(&pfd, 1, util_poll_timeout(deadline));
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (n == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

const char *
util_sockaddr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip,
			    sizeof(ip));
			snprintf(buf, size, "%s:%u", ip, ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
			snprintf(
			    buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
		}
	} else if (sa->sa_family == AF_UNIX) {
		util_strlcpy(buf, "unix", size);
	} else {
		util_strlcpy(buf, "-", size);
	}
	return buf;
}

int
util_open_secret(
    const char *path, off_t max, struct stat *st, char *err, size_t errsize)
{
	int fd;

	/* O_NONBLOCK: a FIFO in its place must not hang the open. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st->st_mode)) {
		snprintf(err, errsize, "%s: not a regular file", path);
	} else if ((st->st_mode & 006) != 0) {
		snprintf(err, errsize,
		    "%s: readable or writable by others (mode %04o)", path,
		    (unsigned int)(st->st_mode & 07777));
	} else if ((st->st_mode & 020) != 0) {
		snprintf(err, errsize, "%s: writable by its group (mode %04o)",
		    path, (unsigned int)(st->st_mode & 07777));
	} else if (st->st_uid != 0 && st->st_uid != geteuid()) {
		/* Its owner can rewrite it: only root and we are trusted. */
		snprintf(err, errsize,
		    "%s: owned by uid %lu, neither root nor uid %lu that "
		    "connectd runs as",
		    path, (unsigned long)st->st_uid, (unsigned long)geteuid());
	} else if (st->st_size > max) {
		snprintf(err, errsize, "%s: larger than %lld bytes", path,
		    (long long)max);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}
