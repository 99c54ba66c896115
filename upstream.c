/*
 * The parent proxy of --upstream: its URL, its credentials, the CONNECT we
 * send it and the head of its answer.  The parsers are pure and bounded;
 * only upstream_load_cred() touches a file.  No function here logs, and no
 * message ever holds a password.
 */
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "request.h"
#include "util.h"

#define UPSTREAM_SCHEME "http://"

/* Writes text into why and returns -1. */
static int
upstream_why(char *why, size_t size, const char *text)
{
	util_strlcpy(why, text, size);
	return -1;
}

static int
upstream_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 1 for a control byte, which no user name or password may hold. */
static int
upstream_is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/*
 * Percent-decodes s[0..n) onto the end of out (out_len bytes used, of
 * size).  Returns 0, or -1 with why.
 */
static int
upstream_decode(const char *s, size_t n, char *out, size_t size,
    size_t *out_len, char *why, size_t whysize)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < n
			    ? upstream_hex((unsigned char)s[i + 1])
			    : -1;
			int lo = hi == -1
			    ? -1
			    : upstream_hex((unsigned char)s[i + 2]);

			if (lo == -1)
				return upstream_why(why, whysize,
				    "a '%' in the credentials is not followed "
				    "by two hex digits");
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == ' ') {
			return upstream_why(why, whysize,
			    "a space in the credentials: write it as %20");
		}
		if (upstream_is_ctl(c))
			return upstream_why(why, whysize,
			    "a control character in the credentials");
		if (*out_len + 1 >= size) {
			snprintf(why, whysize,
			    "credentials longer than %zu bytes", size - 1);
			return -1;
		}
		out[(*out_len)++] = (char)c;
	}
	out[*out_len] = '\0';
	return 0;
}

/* "user[:password]" of the URL, decoded into up->cred as user:password. */
static int
upstream_userinfo(
    const char *s, size_t n, struct upstream *up, char *why, size_t whysize)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon != NULL ? (size_t)(colon - s) : n;

	up->cred_len = 0;
	if (upstream_decode(s, ulen, up->cred, sizeof(up->cred), &up->cred_len,
		why, whysize) == -1)
		return -1;
	if (up->cred_len == 0)
		return upstream_why(
		    why, whysize, "an empty user name before '@'");
	/* RFC 7617 section 2: the user-id cannot hold a colon. */
	if (memchr(up->cred, ':', up->cred_len) != NULL)
		return upstream_why(why, whysize,
		    "the user name holds ':' (%3A), which Basic cannot carry");
	if (up->cred_len + 1 >= sizeof(up->cred))
		return upstream_why(why, whysize, "credentials too long");
	up->cred[up->cred_len++] = ':';
	if (colon == NULL) {
		up->cred[up->cred_len] = '\0';
		return 0;
	}
	return upstream_decode(colon + 1, n - ulen - 1, up->cred,
	    sizeof(up->cred), &up->cred_len, why, whysize);
}

/* "host:port" of the URL into up: the port is required. */
static int
upstream_hostport(
    const char *s, size_t n, struct upstream *up, char *why, size_t whysize)
{
	struct request req;
	enum outcome o;

	if (n == 0)
		return upstream_why(why, whysize, "no host");
	if (req_parse_authority(s, n, 0, &req) == OUT_OK && req.port == 0)
		return upstream_why(why, whysize,
		    "no port: write it, as in http://proxy.example:3128");
	o = req_parse_authority(s, n, 1, &req);
	if (o == OUT_BAD_PORT)
		return upstream_why(why, whysize, "the port is not 1-65535");
	if (o != OUT_OK)
		return upstream_why(why, whysize,
		    "not host:port with a host name, an IPv4 address or "
		    "a bracketed IPv6 address");
	util_strlcpy(up->host, req.host, sizeof(up->host));
	up->numeric = req.host_kind != REQ_HOST_NAME;
	up->v6 = req.host_kind == REQ_HOST_IPV6;
	up->port = req.port;
	return 0;
}

int
upstream_parse_url(
    const char *url, struct upstream *up, char *why, size_t whysize)
{
	const char *a, *rest, *at;
	size_t alen;

	memset(up, 0, sizeof(*up));
	if (strncasecmp(url, UPSTREAM_SCHEME, strlen(UPSTREAM_SCHEME)) != 0) {
		if (strncasecmp(url, "https://", 8) == 0)
			return upstream_why(why, whysize,
			    "https is not supported: the parent is spoken "
			    "to in clear, as http://");
		return upstream_why(why, whysize,
		    strstr(url, "://") != NULL
			? "not an http:// URL"
			: "no scheme: write http://host:port");
	}
	a = url + strlen(UPSTREAM_SCHEME);
	alen = strcspn(a, "/?#");
	rest = a + alen;
	if (*rest != '\0' && strcmp(rest, "/") != 0)
		return upstream_why(why, whysize,
		    "a path, query or fragment: only http://host:port or "
		    "http://host:port/");
	/* The last '@' ends the userinfo: a password may hold one. */
	at = memrchr(a, '@', alen);
	if (at != NULL) {
		if (upstream_userinfo(a, (size_t)(at - a), up, why, whysize) ==
		    -1)
			return -1;
		alen -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	return upstream_hostport(a, alen, up, why, whysize);
}

void
upstream_redact(const char *url, char *out, size_t size)
{
	const char *a = strstr(url, "://"), *at;
	size_t alen;

	/* Without a scheme, "user:password@host" may still be there. */
	a = a != NULL ? a + 3 : url;
	alen = strcspn(a, "/?#");
	at = memrchr(a, '@', alen);
	if (at == NULL) {
		util_strlcpy(out, url, size);
		return;
	}
	snprintf(out, size, "%.*s***%s", (int)(a - url), url, at);
}

int
upstream_parse_cred(const char *buf, size_t len, char *cred, size_t credsize,
    size_t *cred_len, char *why, size_t whysize)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n = nl != NULL ? (size_t)(nl - buf) : len, i;

	for (i = n; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return upstream_why(why, whysize,
			    "more than one line: one user:password is "
			    "expected");
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0)
		return upstream_why(
		    why, whysize, "empty: one line user:password is expected");
	for (i = 0; i < n; i++)
		if (upstream_is_ctl((unsigned char)buf[i]))
			return upstream_why(
			    why, whysize, "a control character in the line");
	if (buf[0] == ':' || memchr(buf, ':', n) == NULL)
		return upstream_why(why, whysize,
		    "not user:password (a user name, then a colon)");
	if (n >= credsize) {
		snprintf(why, whysize, "longer than %zu bytes", credsize - 1);
		return -1;
	}
	memcpy(cred, buf, n);
	cred[n] = '\0';
	*cred_len = n;
	return 0;
}

int
upstream_load_cred(const char *path, char *cred, size_t credsize,
    size_t *cred_len, char *why, size_t whysize)
{
	char buf[UPSTREAM_AUTH_FILE_MAX + 1];
	struct stat st;
	size_t got = 0;
	ssize_t n = 1;
	int fd, saved, rc;

	/* It holds a password: the same checks as --auth-file's. */
	fd = util_open_secret(path, UPSTREAM_AUTH_FILE_MAX, &st, why, whysize);
	if (fd == -1)
		return -1;
	while (got < sizeof(buf) && n != 0) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		got += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (n == -1 || got > UPSTREAM_AUTH_FILE_MAX) {
		snprintf(why, whysize, "%s: %s", path,
		    n == -1 ? strerror(saved) : "changed while being read");
		return -1;
	}
	rc = upstream_parse_cred(
	    buf, got, cred, credsize, cred_len, buf, sizeof(buf));
	if (rc == -1)
		snprintf(why, whysize, "%s: %s", path, buf);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* RFC 4648 base64 of s[0..n) into out (4 * ceil(n / 3) + 1 bytes). */
static void
upstream_b64(const unsigned char *s, size_t n, char *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*out++ = abc[s[i] >> 2];
		*out++ = abc[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*out++ = abc[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*out++ = abc[s[i + 2] & 63];
	}
	if (i < n) {
		*out++ = abc[s[i] >> 2];
		if (i + 1 < n) {
			*out++ = abc[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			*out++ = abc[(s[i + 1] & 15) << 2];
		} else {
			*out++ = abc[(s[i] & 3) << 4];
			*out++ = '=';
		}
		*out++ = '=';
	}
	*out = '\0';
}

size_t
upstream_build_connect(const char *host, int v6, unsigned int port,
    const char *cred, size_t cred_len, char *buf, size_t size)
{
	char authority[UPSTREAM_HOST_MAX + 8];
	char b64[4 * (UPSTREAM_CRED_MAX / 3 + 1) + 1];
	int n;

	if (cred_len >= UPSTREAM_CRED_MAX ||
	    snprintf(authority, sizeof(authority), v6 ? "[%s]:%u" : "%s:%u",
		host, port) >= (int)sizeof(authority))
		return 0;
	if (cred_len > 0)
		upstream_b64((const unsigned char *)cred, cred_len, b64);
	/* RFC 9110 section 9.3.6: the authority, in the request and Host. */
	n = snprintf(buf, size, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
	    authority, authority,
	    cred_len > 0 ? "Proxy-Authorization: Basic " : "",
	    cred_len > 0 ? b64 : "", cred_len > 0 ? "\r\n" : "");
	explicit_bzero(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= size) {
		explicit_bzero(buf, size);
		return 0;
	}
	return (size_t)n;
}

void
upstream_reply_init(struct upstream_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static int
upstream_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 section 5.6.2: tchar. */
static int
upstream_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') ||
	    ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Field values and reason phrases: HTAB, SP, VCHAR, obs-text. */
static int
upstream_text_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c != '\t' && upstream_is_ctl(c))
			return 0;
	}
	return 1;
}

/*
 * RFC 9112 section 4: HTTP-version SP 3DIGIT SP [reason-phrase]; the
 * last SP is optional too, as many servers leave it out.
 */
static enum upstream_verdict
upstream_status_line(const char *p, size_t n, struct upstream_reply *r)
{
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    !upstream_is_digit((unsigned char)p[7]) || p[8] != ' ' ||
	    !upstream_is_digit((unsigned char)p[9]) ||
	    !upstream_is_digit((unsigned char)p[10]) ||
	    !upstream_is_digit((unsigned char)p[11]) ||
	    (n > 12 && p[12] != ' ') || !upstream_text_ok(p + 12, n - 12))
		return UPSTREAM_BAD;
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	/* 101 switches protocols, which no answer to CONNECT may do. */
	if (r->status < 100 || r->status == 101)
		return UPSTREAM_BAD;
	return UPSTREAM_INCOMPLETE;
}

/* RFC 9112 section 5: field-name ":" OWS field-value OWS, no obs-fold. */
static enum upstream_verdict
upstream_field_line(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && upstream_is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ':' ||
	    !upstream_text_ok(p + i + 1, n - i - 1))
		return UPSTREAM_BAD;
	return UPSTREAM_INCOMPLETE;
}

/*
 * 1 when a status line's first n bytes cannot start "HTTP/1.": judged
 * before any length, so that a parent speaking something else gets the
 * same verdict on a prefix as on the whole.
 */
static int
upstream_bad_start(const char *p, size_t n)
{
	static const char start[] = "HTTP/1.";

	return memcmp(p, start,
		   n < sizeof(start) - 1 ? n : sizeof(start) - 1) != 0;
}

/* A line still unfinished: judged as far as its bytes allow. */
static enum upstream_verdict
upstream_partial(const char *buf, size_t len, const struct upstream_reply *r)
{
	size_t n = r->cur.scan - r->cur.line;

	if (!r->cur.in_fields && upstream_bad_start(buf + r->cur.line, n))
		return UPSTREAM_BAD;
	if (n > UPSTREAM_LINE_MAX || len >= UPSTREAM_HEAD_MAX)
		return UPSTREAM_TOO_LARGE;
	return UPSTREAM_INCOMPLETE;
}

/* Judges one whole line (no line end) at r->cur.line, n bytes. */
static enum upstream_verdict
upstream_line(const char *p, size_t n, size_t next, struct upstream_reply *r)
{
	if (!r->cur.in_fields && upstream_bad_start(p, n))
		return UPSTREAM_BAD;
	if (n > UPSTREAM_LINE_MAX)
		return UPSTREAM_TOO_LARGE;
	if (!r->cur.in_fields) {
		r->cur.in_fields = 1;
		return upstream_status_line(p, n, r);
	}
	if (n > 0) {
		if (++r->cur.fields > UPSTREAM_FIELDS_MAX)
			return UPSTREAM_TOO_LARGE;
		return upstream_field_line(p, n);
	}
	/* The blank line: an interim 1xx head is skipped, a final one ends. */
	if (r->status < 200) {
		r->cur.in_fields = 0;
		return UPSTREAM_INCOMPLETE;
	}
	r->head_len = next;
	return UPSTREAM_DONE;
}

enum upstream_verdict
upstream_resume(const char *buf, size_t len, struct upstream_reply *r)
{
	/* Bytes past the cap never belong to the head. */
	size_t limit = len < UPSTREAM_HEAD_MAX ? len : UPSTREAM_HEAD_MAX;

	for (;;) {
		const char *lf = NULL;
		size_t end, n;
		enum upstream_verdict v;

		if (r->cur.scan < limit)
			lf = memchr(
			    buf + r->cur.scan, '\n', limit - r->cur.scan);
		if (lf == NULL) {
			if (r->cur.scan < limit)
				r->cur.scan = limit;
			return upstream_partial(buf, len, r);
		}
		end = (size_t)(lf - buf);
		n = end - r->cur.line;
		if (n > 0 && buf[end - 1] == '\r')
			n--;
		v = upstream_line(buf + r->cur.line, n, end + 1, r);
		r->cur.line = r->cur.scan = end + 1;
		if (v != UPSTREAM_INCOMPLETE)
			return v;
	}
}

enum outcome
upstream_outcome(int status)
{
	if (status >= 200 && status <= 299)
		return OUT_OK;
	switch (status) {
	case 403:
		return OUT_UPSTREAM_DENIED;
	case 407:
		return OUT_UPSTREAM_AUTH_FAILED;
	case 502:
		return OUT_UPSTREAM_BAD_GATEWAY;
	case 503:
		return OUT_UPSTREAM_UNAVAILABLE;
	case 504:
		return OUT_UPSTREAM_GATEWAY_TIMEOUT;
	}
	return OUT_UPSTREAM_REFUSED;
}
