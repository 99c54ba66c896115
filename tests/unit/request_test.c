/*
 * Table-driven tests of req_parse(): each row is a request head and the
 * outcome it must get, with host and port for the accepted ones.  Each row
 * is also fed to req_resume() one byte per call, as a client trickles it,
 * and must get the same outcome and fields as the whole buffer.  Prints one
 * TAP line per check; exits 1 when any fails.
 */
#include <stdio.h>
#include <string.h>

#include "../../outcome.h"
#include "../../request.h"
#include "../../fuzz/request_same.h"

struct req_case {
	const char *name;
	const char *head;
	enum outcome want;
	const char *host;
	unsigned int port;
};

#define H11 " HTTP/1.1\r\nHost: h:1\r\n\r\n"

static const struct req_case cases[] = {
	{ "curl",
	    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
	    "User-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n",
	    OUT_OK, "example.com", 443 },
	{ "nc http/1.0 no host", "CONNECT 127.0.0.1:22 HTTP/1.0\r\n\r\n",
	    OUT_OK, "127.0.0.1", 22 },
	{ "firefox host last",
	    "CONNECT a.b:443 HTTP/1.1\r\nUser-Agent: x\r\n"
	    "Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\n"
	    "Host: a.b:443\r\n\r\n",
	    OUT_OK, "a.b", 443 },
	{ "bare lf", "CONNECT a:1 HTTP/1.1\nHost: a:1\n\n", OUT_OK, "a", 1 },
	{ "ipv6", "CONNECT [::1]:8443" H11, OUT_OK, "::1", 8443 },
	{ "ipv6 mapped", "CONNECT [::ffff:1.2.3.4]:1" H11, OUT_OK,
	    "::ffff:1.2.3.4", 1 },
	{ "trailing dot", "CONNECT a.example.:443" H11, OUT_OK, "a.example.",
	    443 },
	{ "underscore", "CONNECT _srv.x-y.z:443" H11, OUT_OK, "_srv.x-y.z",
	    443 },
	{ "http/1.2 as 1.1", "CONNECT a:1 HTTP/1.2\r\nHost: a\r\n\r\n", OUT_OK,
	    "a", 1 },
	{ "leading empty line", "\r\nCONNECT a:1 HTTP/1.0\r\n\r\n", OUT_OK, "a",
	    1 },
	{ "port 65535", "CONNECT a:65535" H11, OUT_OK, "a", 65535 },
	{ "port leading zero", "CONNECT a:0443" H11, OUT_OK, "a", 443 },
	{ "content-length 0",
	    "CONNECT a:1 HTTP/1.0\r\nContent-Length: 0\r\n\r\n", OUT_OK, "a",
	    1 },
	{ "obs-text value", "CONNECT a:1 HTTP/1.0\r\nX: caf\xc3\xa9\r\n\r\n",
	    OUT_OK, "a", 1 },
	{ "empty value", "CONNECT a:1 HTTP/1.0\r\nX:\r\n\r\n", OUT_OK, "a", 1 },
	{ "mixed line ends", "CONNECT a:1 HTTP/1.1\r\nHost: a:1\n\r\n", OUT_OK,
	    "a", 1 },
	{ "http/1.0 other field, no host",
	    "CONNECT a:1 HTTP/1.0\r\nUser-Agent: t\r\n\r\n", OUT_OK, "a", 1 },
	{ "host name lowercase", "CONNECT a:1 HTTP/1.1\r\nhost: a:1\r\n\r\n",
	    OUT_OK, "a", 1 },
	{ "host name uppercase, no ows, no port",
	    "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHOST:127.0.0.1\r\n\r\n", OUT_OK,
	    "127.0.0.1", 1 },
	{ "host ows, another name",
	    "CONNECT a:1 HTTP/1.1\r\nHost: \t other.test:8443 \t\r\n\r\n",
	    OUT_OK, "a", 1 },
	{ "host bracketed ipv6",
	    "CONNECT a:1 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", OUT_OK, "a", 1 },
	{ "http/1.9 as 1.1", "CONNECT a:1 HTTP/1.9\r\nHost: a\r\n\r\n", OUT_OK,
	    "a", 1 },

	{ "partial line", "CONNECT a:1 HTT", OUT_INCOMPLETE, NULL, 0 },
	{ "partial head", "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n", OUT_INCOMPLETE,
	    NULL, 0 },
	{ "partial crlf", "CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r",
	    OUT_INCOMPLETE, NULL, 0 },
	{ "empty", "", OUT_INCOMPLETE, NULL, 0 },
	{ "one byte", "C", OUT_INCOMPLETE, NULL, 0 },
	{ "partial field", "CONNECT a:1 HTTP/1.1\r\nHost: h", OUT_INCOMPLETE,
	    NULL, 0 },

	{ "GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", OUT_METHOD_NOT_ALLOWED,
	    NULL, 0 },
	{ "GET absolute", "GET http://a/ HTTP/1.1\r\n", OUT_METHOD_NOT_ALLOWED,
	    NULL, 0 },
	{ "POST", "POST / HTTP/1.0\r\n", OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "HEAD", "HEAD a:1" H11, OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "PUT", "PUT a:1" H11, OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "DELETE", "DELETE a:1" H11, OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "OPTIONS", "OPTIONS a:1" H11, OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "TRACE", "TRACE a:1" H11, OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "PATCH", "PATCH a:1" H11, OUT_METHOD_NOT_ALLOWED, NULL, 0 },
	{ "lowercase connect", "connect a:1" H11, OUT_METHOD_NOT_IMPLEMENTED,
	    NULL, 0 },
	{ "FOO", "FOO a:1" H11, OUT_METHOD_NOT_IMPLEMENTED, NULL, 0 },
	{ "mixed case connect", "Connect a:1" H11, OUT_METHOD_NOT_IMPLEMENTED,
	    NULL, 0 },
	{ "CONNECTX", "CONNECTX a:1" H11, OUT_METHOD_NOT_IMPLEMENTED, NULL, 0 },
	{ "leading space", " CONNECT a:1" H11, OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "method not token", "CON\"NECT a:1" H11, OUT_BAD_REQUEST_LINE, NULL,
	    0 },
	{ "double space", "CONNECT  a:1" H11, OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "space before version", "CONNECT a:1  HTTP/1.1\r\n\r\n",
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "tab separator", "CONNECT\ta:1 HTTP/1.1\r\n\r\n",
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "no version", "CONNECT a:1\r\n\r\n", OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "trailing space", "CONNECT a:1 HTTP/1.1 \r\n\r\n",
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "empty version", "CONNECT a:1 \r\n\r\n", OUT_BAD_REQUEST_LINE, NULL,
	    0 },
	{ "method only", "CONNECT\r\n\r\n", OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "http/2.0", "CONNECT a:1 HTTP/2.0\r\n\r\n", OUT_VERSION_NOT_SUPPORTED,
	    NULL, 0 },
	{ "http/0.9", "CONNECT a:1 HTTP/0.9\r\n\r\n", OUT_VERSION_NOT_SUPPORTED,
	    NULL, 0 },
	{ "http/3.0", "CONNECT a:1 HTTP/3.0\r\n\r\n", OUT_VERSION_NOT_SUPPORTED,
	    NULL, 0 },
	{ "HTTP/1.", "CONNECT a:1 HTTP/1.\r\n\r\n", OUT_BAD_REQUEST_LINE, NULL,
	    0 },
	{ "HTTPS/1.1", "CONNECT a:1 HTTPS/1.1\r\n\r\n", OUT_BAD_REQUEST_LINE,
	    NULL, 0 },
	{ "HTTP/1", "CONNECT a:1 HTTP/1\r\n\r\n", OUT_BAD_REQUEST_LINE, NULL,
	    0 },
	{ "lowercase http", "CONNECT a:1 http/1.1\r\n\r\n",
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "HTTP/1.1x", "CONNECT a:1 HTTP/1.1x\r\n\r\n", OUT_BAD_REQUEST_LINE,
	    NULL, 0 },
	{ "empty line only", "\r\n\r\n", OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "tls hello", "\x16\x03\x01\x02\x00\x01", OUT_BAD_REQUEST_LINE, NULL,
	    0 },
	{ "bare cr after version", "CONNECT a:1 HTTP/1.1\rX: y\r\n\r\n",
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "ctl in target", "CONNECT 127.0.0\x01.1:1" H11, OUT_BAD_REQUEST_LINE,
	    NULL, 0 },
	{ "bare cr in target", "CONNECT loc\ralhost:1" H11,
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "escape in target", "CONNECT loc\x1b[2Jalhost:1" H11,
	    OUT_BAD_REQUEST_LINE, NULL, 0 },

	{ "missing port", "CONNECT a" H11, OUT_BAD_PORT, NULL, 0 },
	{ "empty port", "CONNECT a:" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port 0", "CONNECT a:0" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port 65536", "CONNECT a:65536" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port 6 digits", "CONNECT a:000443" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port sign", "CONNECT a:+443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "port minus", "CONNECT a:-1" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port hex", "CONNECT a:0x1bb" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port 99999", "CONNECT a:99999" H11, OUT_BAD_PORT, NULL, 0 },
	{ "port alpha", "CONNECT a:https" H11, OUT_BAD_PORT, NULL, 0 },
	{ "two colons", "CONNECT a:1:2" H11, OUT_BAD_PORT, NULL, 0 },
	{ "userinfo", "CONNECT u@a:1" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "path", "CONNECT a:1/x" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "path slash only", "CONNECT a:1/" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "query", "CONNECT a:1?x" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "percent", "CONNECT a%2e:1" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "percent first", "CONNECT %6cocalhost:1" H11, OUT_BAD_TARGET, NULL,
	    0 },
	{ "dollar in name", "CONNECT exa$mple.test:1" H11, OUT_BAD_TARGET, NULL,
	    0 },
	{ "absolute uri, no path", "CONNECT http://a:1" H11, OUT_BAD_TARGET,
	    NULL, 0 },
	{ "absolute uri", "CONNECT http://a:1/" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "empty host", "CONNECT :443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "zone id", "CONNECT [fe80::1%25eth0]:1" H11, OUT_BAD_TARGET, NULL,
	    0 },
	{ "zone id unencoded", "CONNECT [fe80::1%lo]:1" H11, OUT_BAD_TARGET,
	    NULL, 0 },
	{ "ipv6 unclosed", "CONNECT [::1:1" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "ipv4 bracketed", "CONNECT [127.0.0.1]:1" H11, OUT_BAD_TARGET, NULL,
	    0 },
	{ "empty brackets", "CONNECT []:1" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "ipv6 unbracketed", "CONNECT ::1:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "ipv6 bad", "CONNECT [::g]:1" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "ipvfuture", "CONNECT [v1.x]:1" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "ipv6 no port", "CONNECT [::1]" H11, OUT_BAD_PORT, NULL, 0 },
	{ "127.1", "CONNECT 127.1:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "decimal ip", "CONNECT 2130706433:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "hex ip", "CONNECT 0x7f.0.0.1:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "hex last", "CONNECT 127.0.0.0x1:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "octal ip", "CONNECT 0177.0.0.1:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "three parts", "CONNECT 127.0.1:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "hex whole", "CONNECT 0x7f000001:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "quad 256", "CONNECT 1.2.3.256:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "quad trailing dot", "CONNECT 1.2.3.4.:443" H11, OUT_BAD_TARGET, NULL,
	    0 },
	{ "numeric tld", "CONNECT a.123:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "empty label", "CONNECT a..b:443" H11, OUT_BAD_TARGET, NULL, 0 },
	{ "label 64",
	    "CONNECT "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ".b:443" H11,
	    OUT_BAD_TARGET, NULL, 0 },
	/* 63 + 1 + 63 + 1 + 63 + 1 + 62: one byte past 253, no root dot. */
	{ "name 254",
	    "CONNECT "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	    ":443" H11,
	    OUT_BAD_TARGET, NULL, 0 },

	{ "obs-fold", "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "obs-fold tab",
	    "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "obs-fold first field", "CONNECT a:1 HTTP/1.1\r\n Host: a\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "tab before colon", "CONNECT a:1 HTTP/1.1\r\nHost\t: a\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "name not token",
	    "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "space in name", "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "space before colon", "CONNECT a:1 HTTP/1.1\r\nHost : a\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "no colon", "CONNECT a:1 HTTP/1.1\r\nHost a\r\n\r\n", OUT_BAD_HEADER,
	    NULL, 0 },
	{ "empty name", "CONNECT a:1 HTTP/1.1\r\n: a\r\n\r\n", OUT_BAD_HEADER,
	    NULL, 0 },
	{ "bare cr", "CONNECT a:1 HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "bare cr in line", "CONNECT a:1\r HTTP/1.1\r\n\r\n",
	    OUT_BAD_REQUEST_LINE, NULL, 0 },
	{ "ctl in value", "CONNECT a:1 HTTP/1.0\r\nX: a\x01\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "del in value", "CONNECT a:1 HTTP/1.0\r\nX: a\x7f\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "no host 1.1", "CONNECT a:1 HTTP/1.1\r\n\r\n", OUT_BAD_HOST, NULL,
	    0 },
	{ "no host 1.1, other field",
	    "CONNECT a:1 HTTP/1.1\r\nUser-Agent: t\r\n\r\n", OUT_BAD_HOST, NULL,
	    0 },
	{ "two hosts", "CONNECT a:1 HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "two hosts 1.0", "CONNECT a:1 HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "bad host value", "CONNECT a:1 HTTP/1.1\r\nHost: a b\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "empty host value", "CONNECT a:1 HTTP/1.1\r\nHost:\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "host userinfo", "CONNECT a:1 HTTP/1.1\r\nHost: user@h.test\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "host path", "CONNECT a:1 HTTP/1.1\r\nHost: h.test/path\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "content-length", "CONNECT a:1" H11 "", OUT_OK, "a", 1 },
	/* CPython 3.12+: an unbracketed IPv6 Host, with or without a port. */
	{ "host ipv6 unbracketed with port",
	    "CONNECT [::1]:8443 HTTP/1.1\r\nHost: ::1:8443\r\n\r\n", OUT_OK,
	    "::1", 8443 },
	{ "host ipv6 unbracketed",
	    "CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
	    "Host: 2001:db8::1\r\n\r\n",
	    OUT_OK, "2001:db8::1", 443 },
	{ "host ipv6 unbracketed, bad address",
	    "CONNECT [::1]:1 HTTP/1.1\r\nHost: ::g:1\r\n\r\n", OUT_BAD_HOST,
	    NULL, 0 },
	{ "host ipv6 unbracketed, port out of range",
	    "CONNECT [::1]:1 HTTP/1.1\r\nHost: 1:2:3:4:5:6:7:8:99999\r\n\r\n",
	    OUT_BAD_HOST, NULL, 0 },
	{ "content-length 5",
	    "CONNECT a:1 HTTP/1.0\r\nContent-Length: 5\r\n\r\n",
	    OUT_REQUEST_CONTENT, NULL, 0 },
	{ "content-length junk",
	    "CONNECT a:1 HTTP/1.0\r\nContent-Length: 5x\r\n"
	    "\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
	{ "transfer-encoding",
	    "CONNECT a:1 HTTP/1.0\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n",
	    OUT_REQUEST_CONTENT, NULL, 0 },
	{ "transfer-encoding identity",
	    "CONNECT a:1 HTTP/1.0\r\nTransfer-Encoding: identity\r\n\r\n",
	    OUT_REQUEST_CONTENT, NULL, 0 },
	{ "content-length lowercase",
	    "CONNECT a:1 HTTP/1.0\r\ncontent-length: 1\r\n\r\n",
	    OUT_REQUEST_CONTENT, NULL, 0 },
	{ "two proxy-authorization",
	    "CONNECT a:1 HTTP/1.0\r\n"
	    "Proxy-Authorization: a\r\nProxy-Authorization: b\r\n\r\n",
	    OUT_BAD_HEADER, NULL, 0 },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/*
 * Heads that hold a NUL on purpose, so strlen() cannot measure them: the
 * literal's size, less its terminating NUL, is the head's length.
 */
#define BINARY(name, head, want)                                               \
	{                                                                      \
		name, head, sizeof(head) - 1, want                             \
	}

static const struct {
	const char *name;
	const char *head;
	size_t len;
	enum outcome want;
} binary_cases[] = {
	BINARY("nul early", "CONN\0ECT", OUT_BAD_REQUEST_LINE),
	BINARY("nul in a field", "CONNECT a:1 HTTP/1.0\r\nX: a\0b\r\n\r\n",
	    OUT_BAD_HEADER),
	BINARY("nul after version", "CONNECT a:1 HTTP/1.1\0\r\n\r\n",
	    OUT_BAD_REQUEST_LINE),
	BINARY("nul in target", "CONNECT a:1\0 HTTP/1.1\r\n\r\n",
	    OUT_BAD_REQUEST_LINE),
};

#define NBINARY (sizeof(binary_cases) / sizeof(binary_cases[0]))

static int tap_n; /* the last TAP line's number */

static int
report(int ok, const char *name, const char *how, enum outcome got,
    enum outcome want)
{
	printf("%s %d - %s%s", ok ? "ok" : "not ok", ++tap_n, name, how);
	if (!ok)
		printf(" (got %s, want %s)", outcome_row(got)->reason,
		    outcome_row(want)->reason);
	printf("\n");
	return ok;
}

/*
 * Feeds head[0..len) to req_resume() one byte per call until a verdict and
 * checks it against req_parse() on the whole: the same outcome and fields,
 * reached at the same byte (the prefix one byte shorter has none).
 */
static int
check_bytewise(const char *name, const char *head, size_t len)
{
	struct request inc, whole;
	enum outcome want = req_parse(head, len, &whole), got = OUT_INCOMPLETE;
	size_t k = 0;
	int ok;

	req_init(&inc);
	while (k < len && got == OUT_INCOMPLETE)
		got = req_resume(head, ++k, &inc);
	ok = got == want && req_same(&inc, &whole);
	if (k > 0 && ok)
		ok = req_parse(head, k, &whole) == got &&
		    req_parse(head, k - 1, &whole) == OUT_INCOMPLETE;
	return report(ok, name, ", byte by byte", got, want);
}

static int
run_case(const struct req_case *c)
{
	struct request req;
	size_t len = strlen(c->head);
	enum outcome got = req_parse(c->head, len, &req);
	int ok = got == c->want;

	if (ok && got == OUT_OK)
		ok = strcmp(req.host, c->host) == 0 && req.port == c->port &&
		    req.head_len == len;
	ok = report(ok, c->name, "", got, c->want);
	return check_bytewise(c->name, c->head, len) && ok;
}

/* Builds a head with one field line of exactly n bytes (without CRLF). */
static size_t
head_with_field(char *buf, size_t n)
{
	size_t len = (size_t)sprintf(buf, "CONNECT a:1 HTTP/1.0\r\nX: ");

	memset(buf + len, 'v', n - 3);
	len += n - 3;
	memcpy(buf + len, "\r\n\r\n", 4);
	return len + 4;
}

/* Builds a head with n fields "X: v". */
static size_t
head_with_fields(char *buf, size_t n)
{
	size_t len = (size_t)sprintf(buf, "CONNECT a:1 HTTP/1.0\r\n"), i;

	for (i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "X: v\r\n");
	memcpy(buf + len, "\r\n", 2);
	return len + 2;
}

/* Builds a head of exactly n bytes from 8000-byte fields and a filler. */
static size_t
head_of_size(char *buf, size_t n)
{
	size_t len = (size_t)sprintf(buf, "CONNECT a:1 HTTP/1.0\r\n");

	while (n - len - 2 > 8000 + 2) {
		size_t field = n - len - 2 - 2 > 8000 ? 8000 : n - len - 4;

		memcpy(buf + len, "X: ", 3);
		memset(buf + len + 3, 'v', field - 3);
		memcpy(buf + len + field, "\r\n", 2);
		len += field + 2;
	}
	memcpy(buf + len, "Y: ", 3);
	memset(buf + len + 3, 'v', n - len - 2 - 2 - 3);
	len = n - 4;
	memcpy(buf + len, "\r\n\r\n", 4);
	return n;
}

/* Builds "CONNECT <name>:65535 HTTP/1.0" with a target of tlen bytes. */
static size_t
head_with_target(char *buf, size_t tlen)
{
	size_t len = (size_t)sprintf(buf, "CONNECT "), hlen = tlen - 6, i;

	for (i = 0; i < hlen; i++)
		buf[len + i] = (i % 64 == 63) ? '.' : 'a';
	/* 253 bytes of name and the root's dot: the longest a name gets. */
	buf[len + hlen - 1] = '.';
	len += hlen;
	len += (size_t)sprintf(buf + len, ":65535 HTTP/1.0\r\n\r\n");
	return len;
}

/* Builds a target of one n-byte label and ".test:443", with its head. */
static size_t
head_with_label(char *buf, size_t n)
{
	size_t len = (size_t)sprintf(buf, "CONNECT ");

	memset(buf + len, 'a', n);
	len += n;
	len += (size_t)sprintf(
	    buf + len, ".test:443 HTTP/1.1\r\nHost: h\r\n\r\n");
	return len;
}

static int
check_limit(const char *name, const char *buf, size_t len, enum outcome want)
{
	struct request req;
	enum outcome got = req_parse(buf, len, &req);
	int ok = report(got == want, name, "", got, want);

	return check_bytewise(name, buf, len) && ok;
}

/* Builds the start of a request line of n bytes that never ends. */
static size_t
request_line_of(char *buf, size_t n)
{
	memset(buf, 'a', n);
	memcpy(buf, "CONNECT ", 8);
	return n;
}

/*
 * A cap: the head build(n) makes, less its last trim bytes (a head cut
 * before its end), must give want.
 */
struct limit_case {
	const char *name;
	size_t (*build)(char *buf, size_t n);
	size_t n, trim;
	enum outcome want;
};

/* Every cap answers at the limit plus one byte and passes at the limit. */
static const struct limit_case limits[] = {
	{ "field line at limit", head_with_field, REQ_LINE_MAX, 0, OUT_OK },
	{ "field line over", head_with_field, REQ_LINE_MAX + 1, 0,
	    OUT_FIELD_TOO_LONG },
	{ "field line over, unfinished", head_with_field, REQ_LINE_MAX + 1, 4,
	    OUT_FIELD_TOO_LONG },
	{ "fields at limit", head_with_fields, REQ_FIELDS_MAX, 0, OUT_OK },
	{ "fields over", head_with_fields, REQ_FIELDS_MAX + 1, 0,
	    OUT_TOO_MANY_FIELDS },
	{ "head at limit", head_of_size, REQ_HEAD_MAX, 0, OUT_OK },
	{ "head over", head_of_size, REQ_HEAD_MAX + 1, 0, OUT_HEAD_TOO_LARGE },
	{ "head over, unfinished", head_of_size, REQ_HEAD_MAX + 1, 1,
	    OUT_HEAD_TOO_LARGE },
	{ "target at limit", head_with_target, REQ_TARGET_MAX, 0, OUT_OK },
	{ "target over", head_with_target, REQ_TARGET_MAX + 1, 0,
	    OUT_TARGET_TOO_LONG },
	/* The length is judged before the name: 414, not 400 bad_target. */
	{ "target of one 8000-byte label", head_with_label, 8000, 0,
	    OUT_TARGET_TOO_LONG },
	{ "request line over, unfinished", request_line_of, REQ_LINE_MAX + 1, 0,
	    OUT_TARGET_TOO_LONG },
	{ "request line at limit, unfinished", request_line_of,
	    REQ_LINE_MAX + 1, 1, OUT_INCOMPLETE },
};

#define NLIMITS (sizeof(limits) / sizeof(limits[0]))

static int
run_limits(void)
{
	static char buf[REQ_HEAD_MAX * 2];
	size_t i;
	int ok = 1;

	for (i = 0; i < NLIMITS; i++) {
		size_t n = limits[i].build(buf, limits[i].n);

		ok &= check_limit(
		    limits[i].name, buf, n - limits[i].trim, limits[i].want);
	}
	return ok;
}

int
main(void)
{
	size_t i;
	int failed = 0;

	/* Each row twice: whole, then byte by byte. */
	printf("1..%zu\n", 2 * (NCASES + NBINARY + NLIMITS));
	for (i = 0; i < NCASES; i++)
		failed += !run_case(&cases[i]);
	for (i = 0; i < NBINARY; i++)
		failed += !check_limit(binary_cases[i].name,
		    binary_cases[i].head, binary_cases[i].len,
		    binary_cases[i].want);
	failed += !run_limits();
	return failed > 0;
}
