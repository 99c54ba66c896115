/*
 * Table-driven tests of the upstream module: --upstream URLs good and bad
 * (each fault named), credentials files, the CONNECT we send, the parent's
 * answer heads (fed whole, one byte at a time and with tunnel bytes
 * behind, which must never be taken), every cap at and past its limit,
 * and the status mapping.  Prints one TAP line per check; exits 1 when any
 * fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../upstream.h"

#define B(s) s, sizeof(s) - 1

static int checks, failures;
static char report[1 << 16];
static size_t report_len;

static void
check(int ok, const char *what, const char *name)
{
	checks++;
	failures += !ok;
	report_len += (size_t)snprintf(report + report_len,
	    sizeof(report) - report_len, "%s %d - %s: %s\n",
	    ok ? "ok" : "not ok", checks, what, name);
}

struct url_case {
	const char *url;
	int ok;
	const char *host; /* or, when !ok, a word the complaint must hold */
	unsigned int port;
	const char *cred;
	int v6;
};

static const struct url_case url_cases[] = {
	{ "http://proxy.example:3128", 1, "proxy.example", 3128, "", 0 },
	{ "http://proxy.example:3128/", 1, "proxy.example", 3128, "", 0 },
	{ "HTTP://Proxy.Example:8080", 1, "Proxy.Example", 8080, "", 0 },
	{ "http://192.0.2.1:1", 1, "192.0.2.1", 1, "", 0 },
	{ "http://[2001:db8::1]:65535", 1, "2001:db8::1", 65535, "", 1 },
	{ "http://u:p@h:1", 1, "h", 1, "u:p", 0 },
	{ "http://u@h:1", 1, "h", 1, "u:", 0 },
	{ "http://u:@h:1", 1, "h", 1, "u:", 0 },
	{ "http://u:p:q@h:1", 1, "h", 1, "u:p:q", 0 },
	{ "http://us%65r:p%40ss%25w@h:1", 1, "h", 1, "user:p@ss%w", 0 },
	{ "http://u:p@ss@h:1", 1, "h", 1, "u:p@ss", 0 },
	{ "http://u:p%3a@[::1]:3128", 1, "::1", 3128, "u:p:", 1 },
	{ "https://h:1", 0, "https", 0, NULL, 0 },
	{ "socks5://h:1", 0, "http://", 0, NULL, 0 },
	{ "h:3128", 0, "scheme", 0, NULL, 0 },
	{ "http://h", 0, "no port", 0, NULL, 0 },
	{ "http://h:", 0, "port", 0, NULL, 0 },
	{ "http://h:0", 0, "1-65535", 0, NULL, 0 },
	{ "http://h:65536", 0, "1-65535", 0, NULL, 0 },
	{ "http://h:1/path", 0, "path", 0, NULL, 0 },
	{ "http://h:1?q", 0, "query", 0, NULL, 0 },
	{ "http://h:1#f", 0, "fragment", 0, NULL, 0 },
	{ "http://h:1//", 0, "path", 0, NULL, 0 },
	{ "http://:1", 0, "host", 0, NULL, 0 },
	{ "http://", 0, "no host", 0, NULL, 0 },
	{ "http://u:s3cr3t@", 0, "no host", 0, NULL, 0 },
	{ "http://2001:db8::1:3128", 0, "bracketed", 0, NULL, 0 },
	{ "http://[2001:db8::1]", 0, "no port", 0, NULL, 0 },
	{ "http://[nothex]:1", 0, "bracketed", 0, NULL, 0 },
	{ "http://h h:1", 0, "host", 0, NULL, 0 },
	{ "http://:s3cr3t@h:1", 0, "empty user", 0, NULL, 0 },
	{ "http://u%3Ax:s3cr3t@h:1", 0, "':'", 0, NULL, 0 },
	{ "http://u:s3cr3t%4@h:1", 0, "hex", 0, NULL, 0 },
	{ "http://u:s3cr3t%@h:1", 0, "hex", 0, NULL, 0 },
	{ "http://u:s3cr3t%zz@h:1", 0, "hex", 0, NULL, 0 },
	{ "http://u:s3cr3t%0a@h:1", 0, "control", 0, NULL, 0 },
	{ "http://u:s3cr3t q@h:1", 0, "space", 0, NULL, 0 },
};

static void
run_url(const struct url_case *c)
{
	struct upstream up;
	char why[160] = "";
	int rc = upstream_parse_url(c->url, &up, why, sizeof(why));

	if (c->ok) {
		check(rc == 0 && strcmp(up.host, c->host) == 0 &&
			up.port == c->port && strcmp(up.cred, c->cred) == 0 &&
			up.cred_len == strlen(c->cred) && up.v6 == c->v6 &&
			up.numeric ==
			    (c->v6 || (c->host[0] >= '0' && c->host[0] <= '9')),
		    "url", c->url);
		return;
	}
	/* Refused, saying what was wrong, and never echoing a password. */
	check(rc == -1 && strstr(why, c->host) != NULL &&
		strstr(why, "s3cr3t") == NULL,
	    "url refused", c->url);
}

static void
run_url_long(void)
{
	char url[UPSTREAM_CRED_MAX + 64], why[160];
	struct upstream up;
	size_t n;

	n = (size_t)snprintf(url, sizeof(url), "http://u:");
	memset(url + n, 'p', UPSTREAM_CRED_MAX - 3);
	snprintf(url + n + UPSTREAM_CRED_MAX - 3, sizeof(url) - n, "@h:1");
	check(upstream_parse_url(url, &up, why, sizeof(why)) == 0 &&
		up.cred_len == UPSTREAM_CRED_MAX - 1,
	    "url", "credentials at the cap");
	url[n] = 'p';
	memmove(url + n + 1, url + n, strlen(url + n) + 1);
	check(upstream_parse_url(url, &up, why, sizeof(why)) == -1 &&
		strstr(why, "longer") != NULL,
	    "url refused", "credentials one past the cap");
}

static void
run_redact(void)
{
	static const char *const rows[][2] = {
		{ "http://u:s3cr3t@h:1", "http://***@h:1" },
		{ "http://u:s3@cr3t@h:1/", "http://***@h:1/" },
		{ "http://h:1", "http://h:1" },
		{ "http://h:1/@x", "http://h:1/@x" },
		{ "u:s3cr3t@h", "***@h" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		upstream_redact(rows[i][0], out, sizeof(out));
		check(strcmp(out, rows[i][1]) == 0, "redact", rows[i][0]);
	}
}

struct cred_case {
	const char *name;
	const char *in;
	size_t len;
	const char *want; /* NULL: refused */
};

static const struct cred_case cred_cases[] = {
	{ "plain", B("user:secret"), "user:secret" },
	{ "with LF", B("user:secret\n"), "user:secret" },
	{ "with CRLF", B("user:secret\r\n"), "user:secret" },
	{ "blank lines after", B("user:secret\n\n\r\n"), "user:secret" },
	{ "empty password", B("user:\n"), "user:" },
	{ "colon in password", B("u:a:b\n"), "u:a:b" },
	{ "percent taken as is", B("u:%41\n"), "u:%41" },
	{ "spaces taken as is", B("u s:p w\n"), "u s:p w" },
	{ "empty", B(""), NULL },
	{ "blank line", B("\n"), NULL },
	{ "no colon", B("user\n"), NULL },
	{ "empty user", B(":secret\n"), NULL },
	{ "two lines", B("a:b\nc:d\n"), NULL },
	{ "a tab", B("a:b\tc\n"), NULL },
	{ "a NUL", B("a:b\0c\n"), NULL },
	{ "a CR inside", B("a:b\rc\n"), NULL },
};

static void
run_cred(const struct cred_case *c)
{
	char cred[UPSTREAM_CRED_MAX], why[160] = "";
	size_t len = 0;
	int rc = upstream_parse_cred(
	    c->in, c->len, cred, sizeof(cred), &len, why, sizeof(why));

	if (c->want != NULL)
		check(rc == 0 && len == strlen(c->want) &&
			strcmp(cred, c->want) == 0,
		    "credentials file", c->name);
	else
		check(rc == -1 && why[0] != '\0' && strstr(why, "b") == NULL,
		    "credentials file refused", c->name);
}

static void
run_build(void)
{
	char buf[UPSTREAM_CONNECT_MAX], cred[UPSTREAM_CRED_MAX];
	size_t n;

	n = upstream_build_connect(
	    "example.org", 0, 443, NULL, 0, buf, sizeof(buf));
	check(n > 0 &&
		strcmp(buf,
		    "CONNECT example.org:443 HTTP/1.1\r\n"
		    "Host: example.org:443\r\n\r\n") == 0,
	    "build", "no credentials");
	n = upstream_build_connect(
	    "2001:db8::1", 1, 8443, B("Aladdin:open sesame"), buf, sizeof(buf));
	check(n > 0 &&
		strcmp(buf,
		    "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
		    "Host: [2001:db8::1]:8443\r\n"
		    "Proxy-Authorization: Basic "
		    "QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n") == 0,
	    "build", "IPv6 and RFC 7617's example");
	n = upstream_build_connect("h", 0, 1, B("ab:"), buf, sizeof(buf));
	check(n > 0 && strstr(buf, "Basic YWI6\r\n") != NULL, "build",
	    "base64 without padding");
	n = upstream_build_connect("h", 0, 1, B("a:"), buf, sizeof(buf));
	check(n > 0 && strstr(buf, "Basic YTo=\r\n") != NULL, "build",
	    "base64 with one pad");
	n = upstream_build_connect("h", 0, 1, B("a:bc"), buf, sizeof(buf));
	check(n > 0 && strstr(buf, "Basic YTpiYw==\r\n") != NULL, "build",
	    "base64 with two pads");
	memset(cred, 'x', sizeof(cred));
	cred[0] = 'u';
	cred[1] = ':';
	n = upstream_build_connect(
	    "h", 0, 1, cred, UPSTREAM_CRED_MAX - 1, buf, sizeof(buf));
	check(n > 0 && n < sizeof(buf), "build",
	    "the longest credentials fit the buffer");
	n = upstream_build_connect("example.org", 0, 443, B("a:b"), buf, 40);
	check(n == 0, "build", "too small a buffer");
}

struct reply_case {
	const char *name;
	const char *in;
	size_t len;
	enum upstream_verdict want;
	int status;
	size_t head_len; /* 0: the whole input */
};

static const struct reply_case reply_cases[] = {
	{ "200", B("HTTP/1.1 200 Connection established\r\n\r\n"),
	    UPSTREAM_DONE, 200, 0 },
	{ "200 HTTP/1.0", B("HTTP/1.0 200 OK\r\n\r\n"), UPSTREAM_DONE, 200, 0 },
	{ "200 no phrase", B("HTTP/1.1 200 \r\n\r\n"), UPSTREAM_DONE, 200, 0 },
	{ "200 no SP", B("HTTP/1.1 200\r\n\r\n"), UPSTREAM_DONE, 200, 0 },
	{ "200 bare LF", B("HTTP/1.1 200 OK\nVia: x\n\n"), UPSTREAM_DONE, 200,
	    0 },
	{ "204 with fields",
	    B("HTTP/1.1 204 OK\r\nProxy-Agent: squid\r\nContent-Length: 9\r\n"
	      "X-Empty:\r\n\r\n"),
	    UPSTREAM_DONE, 204, 0 },
	{ "obs-text phrase", B("HTTP/1.1 200 \xe9t\xe9\r\n\r\n"), UPSTREAM_DONE,
	    200, 0 },
	{ "407 with challenge",
	    B("HTTP/1.1 407 Proxy Authentication Required\r\n"
	      "Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n"),
	    UPSTREAM_DONE, 407, 0 },
	{ "interim 100 skipped",
	    B("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"),
	    UPSTREAM_DONE, 200, 0 },
	{ "two interims skipped",
	    B("HTTP/1.1 103 Early\r\nLink: x\r\n\r\nHTTP/1.1 199 X\r\n\r\n"
	      "HTTP/1.1 502 Bad Gateway\r\n\r\n"),
	    UPSTREAM_DONE, 502, 0 },
	{ "tunnel bytes behind",
	    B("HTTP/1.1 200 OK\r\n\r\nSSH-2.0-hello\r\n\r\n"), UPSTREAM_DONE,
	    200, 19 },
	{ "a body behind a 403",
	    B("HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n"),
	    UPSTREAM_DONE, 403, 45 },
	{ "101 refused", B("HTTP/1.1 101 Switching\r\n\r\n"), UPSTREAM_BAD, 0,
	    0 },
	{ "status 099", B("HTTP/1.1 099 X\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "HTTP/2", B("HTTP/2 200 OK\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "HTTP/1.x", B("HTTP/1.x 200 OK\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "lowercase", B("http/1.1 200 OK\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "SSH banner", B("SSH-2.0-OpenSSH\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "garbage judged early", B("X"), UPSTREAM_BAD, 0, 0 },
	{ "two-digit status", B("HTTP/1.1 20 OK\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "four-digit status", B("HTTP/1.1 2000 OK\r\n\r\n"), UPSTREAM_BAD, 0,
	    0 },
	{ "tab after status", B("HTTP/1.1 200\tOK\r\n\r\n"), UPSTREAM_BAD, 0,
	    0 },
	{ "two spaces", B("HTTP/1.1  200 OK\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "CTL in phrase", B("HTTP/1.1 200 O\x01K\r\n\r\n"), UPSTREAM_BAD, 0,
	    0 },
	{ "CR in phrase", B("HTTP/1.1 200 O\rK\r\n\r\n"), UPSTREAM_BAD, 0, 0 },
	{ "folded field", B("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"),
	    UPSTREAM_BAD, 0, 0 },
	{ "field without colon", B("HTTP/1.1 200 OK\r\nAb\r\n\r\n"),
	    UPSTREAM_BAD, 0, 0 },
	{ "empty field name", B("HTTP/1.1 200 OK\r\n: b\r\n\r\n"), UPSTREAM_BAD,
	    0, 0 },
	{ "space before colon", B("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"),
	    UPSTREAM_BAD, 0, 0 },
	{ "NUL in value", B("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n"), UPSTREAM_BAD,
	    0, 0 },
	{ "cut after status line", B("HTTP/1.1 200 OK\r\n"),
	    UPSTREAM_INCOMPLETE, 0, 0 },
	{ "cut in a field", B("HTTP/1.1 200 OK\r\nVia: 1.1"),
	    UPSTREAM_INCOMPLETE, 0, 0 },
	{ "cut after interim", B("HTTP/1.1 100 Continue\r\n\r\n"),
	    UPSTREAM_INCOMPLETE, 0, 0 },
	{ "nothing", B(""), UPSTREAM_INCOMPLETE, 0, 0 },
};

/* Feeds buf[0..len) to a fresh parser in steps of step bytes. */
static enum upstream_verdict
feed(const char *buf, size_t len, size_t step, struct upstream_reply *r)
{
	enum upstream_verdict v = UPSTREAM_INCOMPLETE;
	size_t k = 0;

	upstream_reply_init(r);
	do {
		k = k + step < len ? k + step : len;
		v = upstream_resume(buf, k, r);
	} while (v == UPSTREAM_INCOMPLETE && k < len);
	return v;
}

static void
run_reply(const struct reply_case *c)
{
	struct upstream_reply r;
	size_t head = c->head_len ? c->head_len : c->len;
	int ok = 1;
	size_t step;
	char *copy = malloc(c->len + 1);

	/* A private copy of exact size: a read past the end is caught. */
	memcpy(copy, c->in, c->len);
	for (step = 1; step <= c->len + 1 && ok; step++) {
		enum upstream_verdict v = feed(copy, c->len, step, &r);

		ok = v == c->want &&
		    (v != UPSTREAM_DONE ||
			(r.status == c->status && r.head_len == head));
	}
	check(ok, "answer, every split", c->name);
	free(copy);
}

/* A head of n bytes: a status line, then fields of field bytes each. */
static size_t
make_head(char *buf, size_t n, size_t field)
{
	size_t len = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n"), k = 0;

	while (len + 2 < n) {
		size_t room = n - len - 2;
		size_t take = room < field + 2 ? room : field + 2;

		len += (size_t)sprintf(buf + len, "X%zu:", k++ % 10);
		memset(buf + len, 'v', take - 5);
		len += take - 5;
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	buf[len++] = '\r';
	buf[len++] = '\n';
	return len;
}

static void
run_caps(void)
{
	static char buf[2 * UPSTREAM_HEAD_MAX];
	struct upstream_reply r;
	size_t n, i;

	n = make_head(buf, UPSTREAM_HEAD_MAX, 4000);
	check(n == UPSTREAM_HEAD_MAX && feed(buf, n, n, &r) == UPSTREAM_DONE,
	    "cap", "a head of exactly UPSTREAM_HEAD_MAX bytes");
	n = make_head(buf, UPSTREAM_HEAD_MAX + 1, 4000);
	check(feed(buf, n, n, &r) == UPSTREAM_TOO_LARGE &&
		feed(buf, n, 1, &r) == UPSTREAM_TOO_LARGE,
	    "cap", "one byte more is too large, whole or trickled");
	n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\nX:");
	memset(buf + n, 'v', UPSTREAM_LINE_MAX - 2);
	n += UPSTREAM_LINE_MAX - 2;
	n += (size_t)sprintf(buf + n, "\r\n\r\n");
	check(feed(buf, n, n, &r) == UPSTREAM_DONE, "cap",
	    "a line of UPSTREAM_LINE_MAX bytes");
	n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\nX:");
	memset(buf + n, 'v', UPSTREAM_LINE_MAX - 1);
	n += UPSTREAM_LINE_MAX - 1;
	check(feed(buf, n, 7, &r) == UPSTREAM_TOO_LARGE, "cap",
	    "a line one past the cap, before its end arrives");
	/* Not HTTP, and longer than a line: BAD at once, never TOO_LARGE. */
	memset(buf, 'x', UPSTREAM_LINE_MAX + 100);
	check(feed(buf, UPSTREAM_LINE_MAX + 100, UPSTREAM_LINE_MAX + 100, &r) ==
		    UPSTREAM_BAD &&
		feed(buf, UPSTREAM_LINE_MAX + 100, 1, &r) == UPSTREAM_BAD,
	    "cap",
	    "a long line that is no status line is BAD, whole or trickled");
	n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < UPSTREAM_FIELDS_MAX; i++)
		n += (size_t)sprintf(buf + n, "A:b\r\n");
	check(feed(buf, n + (size_t)sprintf(buf + n, "\r\n"), 1, &r) ==
		UPSTREAM_DONE,
	    "cap", "UPSTREAM_FIELDS_MAX fields");
	n += (size_t)sprintf(buf + n, "A:b\r\n\r\n");
	check(
	    feed(buf, n, n, &r) == UPSTREAM_TOO_LARGE, "cap", "one field more");
	n = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\n\r\n");
	memset(buf + n, 'z', sizeof(buf) - n);
	check(feed(buf, sizeof(buf), sizeof(buf), &r) == UPSTREAM_DONE &&
		r.head_len == 19,
	    "cap", "tunnel bytes past the cap are not the head's");
}

static void
run_outcomes(void)
{
	static const struct {
		int status;
		enum outcome want;
	} rows[] = {
		{ 200, OUT_OK },
		{ 204, OUT_OK },
		{ 299, OUT_OK },
		{ 300, OUT_UPSTREAM_REFUSED },
		{ 400, OUT_UPSTREAM_REFUSED },
		{ 403, OUT_UPSTREAM_DENIED },
		{ 404, OUT_UPSTREAM_REFUSED },
		{ 407, OUT_UPSTREAM_AUTH_FAILED },
		{ 500, OUT_UPSTREAM_REFUSED },
		{ 502, OUT_UPSTREAM_BAD_GATEWAY },
		{ 503, OUT_UPSTREAM_UNAVAILABLE },
		{ 504, OUT_UPSTREAM_GATEWAY_TIMEOUT },
		{ 999, OUT_UPSTREAM_REFUSED },
	};
	size_t i;
	char name[32];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(
		    name, sizeof(name), "parent status %d", rows[i].status);
		check(upstream_outcome(rows[i].status) == rows[i].want,
		    "mapping", name);
	}
	/* The client never gets a prompt for the parent's credentials. */
	check(outcome_table[OUT_UPSTREAM_AUTH_FAILED].status == 502, "mapping",
	    "a parent's 407 is a 502");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++)
		run_url(&url_cases[i]);
	run_url_long();
	run_redact();
	for (i = 0; i < sizeof(cred_cases) / sizeof(cred_cases[0]); i++)
		run_cred(&cred_cases[i]);
	run_build();
	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++)
		run_reply(&reply_cases[i]);
	run_caps();
	run_outcomes();
	printf("1..%d\n%s", checks, report);
	return failures > 0;
}
