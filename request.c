/*
 * Strict parsing of a CONNECT request head (RFC 9110 section 9.3.6, RFC 9112
 * sections 2-5).  Everything here is pure: bytes in, an outcome and a filled
 * struct request out.  Limits are checked on partial input too, so a client
 * cannot make the reader wait for a head that is already too large, and a
 * cursor in struct request lets each call resume at the first unfinished
 * line, so a head that arrives a byte at a time is not parsed again whole.
 */
#include "request.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

struct req_line {
	const char *p; /* content, without the line end */
	size_t len;
	size_t next; /* offset just past the LF */
};

static const char *const req_known_methods[] = {
	"GET",
	"HEAD",
	"POST",
	"PUT",
	"DELETE",
	"OPTIONS",
	"TRACE",
	"PATCH",
};

static int
req_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
req_is_alnum(unsigned char c)
{
	return req_is_digit(c) || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

static int
req_is_hex(unsigned char c)
{
	return req_is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* RFC 9110 section 5.6.2: tchar. */
static int
req_is_tchar(unsigned char c)
{
	if (req_is_alnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Control bytes other than HTAB (and DEL); a CR here is a bare CR. */
static int
req_has_ctl(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

/*
 * Finds the line that starts at c->line, looking for its LF only past
 * c->scan, which earlier calls have seen hold none.  Returns 1 with *line
 * filled in, or 0 when no LF has arrived yet.  A CR right before the LF is
 * part of the line end (CRLF); any other CR stays in the content and is
 * rejected as bare.
 */
static int
req_next_line(const char *buf, size_t len, const struct req_cursor *c,
    struct req_line *line)
{
	const char *lf = memchr(buf + c->scan, '\n', len - c->scan);
	size_t end;

	if (lf == NULL)
		return 0;
	end = (size_t)(lf - buf);
	line->p = buf + c->line;
	line->len = end - c->line;
	line->next = end + 1;
	if (line->len > 0 && line->p[line->len - 1] == '\r')
		line->len--;
	return 1;
}

/* RFC 9112 section 2.3: "HTTP/" DIGIT "." DIGIT; only major version 1. */
static enum outcome
req_parse_version(const char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !req_is_digit(v[5]) ||
	    v[6] != '.' || !req_is_digit(v[7]))
		return OUT_BAD_REQUEST_LINE;
	if (v[5] != '1')
		return OUT_VERSION_NOT_SUPPORTED;
	/* RFC 9110 section 2.5: a higher minor version is handled as 1.1. */
	*minor = v[7] == '0' ? 0 : 1;
	return OUT_OK;
}

/* Method names are case-sensitive (RFC 9110 section 9.1). */
static enum outcome
req_check_method(const char *m, size_t n)
{
	size_t i;

	if (n == 7 && memcmp(m, "CONNECT", 7) == 0)
		return OUT_OK;
	for (i = 0; i < sizeof(req_known_methods) / sizeof(*req_known_methods);
	     i++) {
		if (strlen(req_known_methods[i]) == n &&
		    memcmp(req_known_methods[i], m, n) == 0)
			return OUT_METHOD_NOT_ALLOWED;
	}
	return OUT_METHOD_NOT_IMPLEMENTED;
}

/* Strict dotted quad: four decimal parts 0-255 without leading zeros. */
static int
req_is_dotted_quad(const char *h, size_t n)
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t start = i;
		unsigned int v = 0;

		while (
		    i < n && req_is_digit((unsigned char)h[i]) && i - start < 3)
			v = v * 10 + (unsigned int)(h[i++] - '0');
		if (i == start || v > 255 || (h[start] == '0' && i - start > 1))
			return 0;
		if (part < 3 && (i >= n || h[i++] != '.'))
			return 0;
	}
	return i == n;
}

/*
 * WHATWG URL "ends in a number": a last label of digits or 0x-hex means the
 * client meant an IPv4 address, and only the dotted quad is accepted, so
 * 127.1, 2130706433 or 0x7f.1 never reach inet_aton-style resolution.
 */
static int
req_last_label_numeric(const char *h, size_t n)
{
	size_t start = n, i;

	while (start > 0 && h[start - 1] != '.')
		start--;
	if (start == n)
		return 0;
	if (n - start >= 2 && h[start] == '0' &&
	    (h[start + 1] == 'x' || h[start + 1] == 'X')) {
		for (i = start + 2; i < n; i++)
			if (!req_is_hex((unsigned char)h[i]))
				return 0;
		return 1;
	}
	for (i = start; i < n; i++)
		if (!req_is_digit((unsigned char)h[i]))
			return 0;
	return 1;
}

/* A DNS name: labels of 1-63 letters, digits, '-' or '_', at most 253. */
static int
req_is_dns_name(const char *h, size_t n)
{
	size_t i, label = 0;

	if (n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!req_is_alnum(c) && c != '-' && c != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* Validates a host that is not an IPv6 literal; sets *kind. */
static enum outcome
req_check_name(const char *h, size_t n, enum req_host_kind *kind)
{
	size_t body = n;

	if (n > 0 && h[n - 1] == '.')
		body--;
	if (body == 0)
		return OUT_BAD_TARGET;
	if (req_last_label_numeric(h, body)) {
		if (body != n || !req_is_dotted_quad(h, n))
			return OUT_BAD_TARGET;
		*kind = REQ_HOST_IPV4;
		return OUT_OK;
	}
	if (!req_is_dns_name(h, body))
		return OUT_BAD_TARGET;
	*kind = REQ_HOST_NAME;
	return OUT_OK;
}

/* An IPv6 literal's inside, without zone id (RFC 6874 is not for proxies). */
static enum outcome
req_check_ipv6(const char *h, size_t n)
{
	char text[64];
	unsigned char addr[16];
	size_t i;

	if (n < 2 || n >= sizeof(text))
		return OUT_BAD_TARGET;
	for (i = 0; i < n; i++)
		if (!req_is_hex((unsigned char)h[i]) && h[i] != ':' &&
		    h[i] != '.')
			return OUT_BAD_TARGET;
	memcpy(text, h, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, addr) == 1 ? OUT_OK : OUT_BAD_TARGET;
}

/* Port: 1-5 decimal digits, 1-65535. */
static enum outcome
req_parse_port(const char *p, size_t n, unsigned int *port)
{
	unsigned int v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return OUT_BAD_PORT;
	for (i = 0; i < n; i++) {
		if (!req_is_digit((unsigned char)p[i]))
			return OUT_BAD_PORT;
		v = v * 10 + (unsigned int)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return OUT_BAD_PORT;
	*port = v;
	return OUT_OK;
}

/* Splits s into host and port text; returns OUT_BAD_TARGET on bad shape. */
static enum outcome
req_split_authority(
    const char *s, size_t n, const char **host, size_t *hlen, const char **rest)
{
	size_t i;

	/* Userinfo, path, query, fragment and percent-encoding all end here. */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!req_is_alnum(c) &&
		    (c == '\0' || strchr("-._:[]", c) == NULL))
			return OUT_BAD_TARGET;
	}
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL)
			return OUT_BAD_TARGET;
		*host = s + 1;
		*hlen = (size_t)(rb - s) - 1;
		*rest = rb + 1;
	} else {
		const char *colon = memchr(s, ':', n);

		*host = s;
		*hlen = colon != NULL ? (size_t)(colon - s) : n;
		*rest = s + *hlen;
		if (memchr(s, '[', n) != NULL || memchr(s, ']', n) != NULL)
			return OUT_BAD_TARGET;
	}
	return OUT_OK;
}

enum outcome
req_parse_authority(const char *s, size_t n, int need_port, struct request *req)
{
	const char *host, *rest, *end = s + n;
	size_t hlen;
	enum req_host_kind kind = REQ_HOST_IPV6;
	unsigned int port = 0;
	enum outcome o;

	if ((o = req_split_authority(s, n, &host, &hlen, &rest)) != OUT_OK)
		return o;
	if (host > s)
		o = req_check_ipv6(host, hlen);
	else
		o = req_check_name(host, hlen, &kind);
	if (o != OUT_OK)
		return o;
	if (rest == end) {
		if (need_port)
			return OUT_BAD_PORT;
	} else if (*rest != ':') {
		return OUT_BAD_TARGET;
	} else if ((o = req_parse_port(
			rest + 1, (size_t)(end - rest - 1), &port)) != OUT_OK) {
		return o;
	}
	if (req != NULL) {
		memcpy(req->host, host, hlen);
		req->host[hlen] = '\0';
		req->host_kind = kind;
		req->port = port;
	}
	return OUT_OK;
}

/*
 * CPython 3.12 and later send Host as an unbracketed IPv6 address with its
 * port ("::1:8443"), which RFC 9110 section 7.2 does not allow.  Host is
 * only checked, never used, so such a value is taken: an IPv6 address,
 * alone or with ":port" after it.  The request line itself must still
 * bracket an IPv6 address.
 */
static enum outcome
req_check_bare_ipv6_host(const char *v, size_t n)
{
	const char *colon = memrchr(v, ':', n);
	unsigned int port;

	if (req_check_ipv6(v, n) == OUT_OK)
		return OUT_OK;
	if (colon == NULL || colon == v ||
	    req_parse_port(colon + 1, (size_t)(v + n - colon - 1), &port) !=
		OUT_OK)
		return OUT_BAD_HOST;
	return req_check_ipv6(v, (size_t)(colon - v)) == OUT_OK ? OUT_OK
								: OUT_BAD_HOST;
}

/* RFC 9112 section 3: method SP request-target SP HTTP-version. */
static enum outcome
req_parse_request_line(const struct req_line *line, struct request *req)
{
	const char *p = line->p, *end = line->p + line->len, *sp1, *sp2;
	size_t i;
	enum outcome o;

	if (line->len > REQ_LINE_MAX)
		return OUT_TARGET_TOO_LONG;
	if (req_has_ctl(p, line->len) || memchr(p, '\t', line->len) != NULL)
		return OUT_BAD_REQUEST_LINE;
	if ((sp1 = memchr(p, ' ', line->len)) == NULL || sp1 == p)
		return OUT_BAD_REQUEST_LINE;
	for (i = 0; p + i < sp1; i++)
		if (!req_is_tchar((unsigned char)p[i]))
			return OUT_BAD_REQUEST_LINE;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return OUT_BAD_REQUEST_LINE;
	o = req_parse_version(sp2 + 1, (size_t)(end - sp2 - 1), &req->minor);
	if (o != OUT_OK)
		return o;
	req->method = p;
	req->method_len = (size_t)(sp1 - p);
	req->target = sp1 + 1;
	req->target_len = (size_t)(sp2 - sp1 - 1);
	if ((o = req_check_method(p, req->method_len)) != OUT_OK)
		return o;
	if ((size_t)(sp2 - sp1 - 1) > REQ_TARGET_MAX)
		return OUT_TARGET_TOO_LONG;
	return req_parse_authority(sp1 + 1, (size_t)(sp2 - sp1 - 1), 1, req);
}

static int
req_name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* Content-Length: digits only; anything but zero means content. */
static enum outcome
req_check_content_length(const char *v, size_t n)
{
	size_t i;
	int nonzero = 0;

	if (n == 0)
		return OUT_BAD_HEADER;
	for (i = 0; i < n; i++) {
		if (!req_is_digit((unsigned char)v[i]))
			return OUT_BAD_HEADER;
		nonzero |= v[i] != '0';
	}
	return nonzero ? OUT_REQUEST_CONTENT : OUT_OK;
}

/* Acts on the few fields a CONNECT proxy cares about. */
static enum outcome
req_apply_field(const char *name, size_t nlen, const char *v, size_t vlen,
    struct request *req)
{
	if (req_name_is(name, nlen, "Host")) {
		if (++req->cur.hosts > 1)
			return OUT_BAD_HOST;
		if (req_parse_authority(v, vlen, 0, NULL) != OUT_OK &&
		    req_check_bare_ipv6_host(v, vlen) != OUT_OK)
			return OUT_BAD_HOST;
	} else if (req_name_is(name, nlen, "Content-Length")) {
		return req_check_content_length(v, vlen);
	} else if (req_name_is(name, nlen, "Transfer-Encoding")) {
		/* RFC 9110 section 9.3.6: a CONNECT request has no content. */
		return OUT_REQUEST_CONTENT;
	} else if (req_name_is(name, nlen, "Proxy-Authorization")) {
		if (req->auth != NULL)
			return OUT_BAD_HEADER;
		req->auth = v;
		req->auth_len = vlen;
	}
	return OUT_OK;
}

/* RFC 9112 section 5: field-name ":" OWS field-value OWS, no obs-fold. */
static enum outcome
req_parse_field(const struct req_line *line, struct request *req)
{
	const char *p = line->p, *colon, *v, *vend;
	size_t i;

	if (line->len > REQ_LINE_MAX)
		return OUT_FIELD_TOO_LONG;
	if (++req->cur.fields > REQ_FIELDS_MAX)
		return OUT_TOO_MANY_FIELDS;
	if (req_has_ctl(p, line->len))
		return OUT_BAD_HEADER;
	colon = memchr(p, ':', line->len);
	if (colon == NULL || colon == p)
		return OUT_BAD_HEADER;
	/* Also rejects obs-fold and whitespace before the colon. */
	for (i = 0; p + i < colon; i++)
		if (!req_is_tchar((unsigned char)p[i]))
			return OUT_BAD_HEADER;
	v = colon + 1;
	vend = p + line->len;
	while (v < vend && (*v == ' ' || *v == '\t'))
		v++;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	return req_apply_field(
	    p, (size_t)(colon - p), v, (size_t)(vend - v), req);
}

/*
 * Takes one complete line in its stage.  Returns OUT_INCOMPLETE when more
 * lines are needed, OUT_OK at the blank line that ends a valid head, or
 * the outcome that answers the request.
 */
static enum outcome
req_take_line(const struct req_line *line, struct request *req)
{
	enum outcome o;

	if (req->cur.stage == REQ_STAGE_REQUEST_LINE) {
		if ((o = req_parse_request_line(line, req)) != OUT_OK)
			return o;
		req->cur.stage = REQ_STAGE_FIELDS;
		return OUT_INCOMPLETE;
	}
	if (line->len > REQ_LINE_MAX)
		return OUT_FIELD_TOO_LONG;
	if (line->next > REQ_HEAD_MAX)
		return OUT_HEAD_TOO_LARGE;
	if (line->len > 0) {
		o = req_parse_field(line, req);
		return o == OUT_OK ? OUT_INCOMPLETE : o;
	}
	/* RFC 9112 section 3.2: HTTP/1.1 requires exactly one Host. */
	if (req->minor == 1 && req->cur.hosts != 1)
		return OUT_BAD_HOST;
	req->head_len = line->next;
	return OUT_OK;
}

/*
 * Judges the unterminated line after the last complete one: too long when
 * it already exceeds REQ_LINE_MAX, bad when it holds a byte no valid line
 * can hold, the head too large when it has no room left, else
 * OUT_INCOMPLETE.  Only bytes past c->scan are looked at; a CR at the end
 * may still start a CRLF, so it is left for the next call.
 */
static enum outcome
req_unfinished(const char *buf, size_t len, struct req_cursor *c)
{
	int request_line = c->stage == REQ_STAGE_REQUEST_LINE;
	size_t end = len;
	int bad = 0;

	if (end > c->line && buf[end - 1] == '\r')
		end--;
	if (end > c->scan) {
		bad = req_has_ctl(buf + c->scan, end - c->scan);
		c->scan = end;
	}
	if (end - c->line > REQ_LINE_MAX)
		return request_line ? OUT_TARGET_TOO_LONG : OUT_FIELD_TOO_LONG;
	if (bad)
		return request_line ? OUT_BAD_REQUEST_LINE : OUT_BAD_HEADER;
	if (!request_line && len >= REQ_HEAD_MAX)
		return OUT_HEAD_TOO_LARGE;
	return OUT_INCOMPLETE;
}

/*
 * RFC 9112 section 2.2: one empty line before the request is ignored.
 * Returns 0 once the request line's start is known, -1 while a lone CR
 * leaves it open.
 */
static int
req_skip_empty_line(const char *buf, size_t len, struct req_cursor *c)
{
	size_t pos = 0;

	if (len == 0 || (len == 1 && buf[0] == '\r'))
		return -1;
	if (buf[0] == '\n')
		pos = 1;
	else if (buf[0] == '\r' && buf[1] == '\n')
		pos = 2;
	c->line = c->scan = pos;
	c->stage = REQ_STAGE_REQUEST_LINE;
	return 0;
}

void
req_init(struct request *req)
{
	memset(req, 0, sizeof(*req));
	req->cur.stage = REQ_STAGE_START;
}

enum outcome
req_resume(const char *buf, size_t len, struct request *req)
{
	struct req_cursor *c = &req->cur;
	struct req_line line;
	enum outcome o;

	if (c->stage == REQ_STAGE_START &&
	    req_skip_empty_line(buf, len, c) == -1)
		return OUT_INCOMPLETE;
	while (req_next_line(buf, len, c, &line)) {
		c->line = c->scan = line.next;
		if ((o = req_take_line(&line, req)) != OUT_INCOMPLETE)
			return o;
	}
	return req_unfinished(buf, len, c);
}

enum outcome
req_parse(const char *buf, size_t len, struct request *req)
{
	req_init(req);
	return req_resume(buf, len, req);
}
