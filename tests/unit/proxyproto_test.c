/*
 * Table-driven tests of pp_parse() and pp_build(): each row is a PROXY
 * header (v1 or v2, good or malformed in one way) and the verdict and
 * fields it must get.  Each row is also judged at every prefix (as bytes
 * arrive) and with a request behind it, which must never be consumed.
 * Prints one TAP line per check; exits 1 when any fails.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../proxyproto.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define B(s) s, sizeof(s) - 1
#define V4SRC "\xcb\x00\x71\x07" /* 203.0.113.7 */
#define V4DST "\xc0\x00\x02\x01" /* 192.0.2.1 */
#define PORTS "\x15\xb3\x01\xbb" /* 5555, 443 */
#define V6SRC "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07" /* 2001:db8::7 */
#define V6DST "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" /* 2001:db8::1 */
#define REQUEST "CONNECT a:1 HTTP/1.0\r\n\r\n"

struct pp_case {
	const char *name;
	const char *in;
	size_t len;
	enum pp_status want;
	int version; /* for PP_DONE */
	int local;
	const char *src; /* "addr port", NULL: no address */
	const char *dst;
};

static const struct pp_case cases[] = {
	/* v1, good. */
	{ "v1 tcp4", B("PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n"),
	    PP_DONE, 1, 0, "203.0.113.7 5555", "192.0.2.1 443" },
	{ "v1 tcp6", B("PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n"),
	    PP_DONE, 1, 0, "2001:db8::7 5555", "2001:db8::1 443" },
	{ "v1 tcp6 mapped", B("PROXY TCP6 ::ffff:203.0.113.7 ::1 1 65535\r\n"),
	    PP_DONE, 1, 0, "::ffff:203.0.113.7 1", "::1 65535" },
	{ "v1 port 0", B("PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n"), PP_DONE, 1, 0,
	    "1.2.3.4 0", "5.6.7.8 0" },
	{ "v1 unknown", B("PROXY UNKNOWN\r\n"), PP_DONE, 1, 0, NULL, NULL },
	{ "v1 unknown with ignored rest",
	    B("PROXY UNKNOWN ffff::1 whatever 1 2\r\n"), PP_DONE, 1, 0, NULL,
	    NULL },
	{ "v1 longest tcp6 (104 bytes)",
	    B("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
	    PP_DONE, 1, 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535" },
	/* v1, malformed: one class per row. */
	{ "v1 lowercase is no header", B("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
	    PP_NONE, 0, 0, NULL, NULL },
	{ "v1 no space after PROXY", B("PROXYTCP4"), PP_NONE, 0, 0, NULL,
	    NULL },
	{ "v1 bad protocol word", B("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"),
	    PP_BAD, 0, 0, NULL, NULL },
	{ "v1 UDP4", B("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v1 UNKNOWNX", B("PROXY UNKNOWNX\r\n"), PP_BAD, 0, 0, NULL, NULL },
	{ "v1 TCP4 alone", B("PROXY TCP4\r\n"), PP_BAD, 0, 0, NULL, NULL },
	{ "v1 empty fields", B("PROXY TCP4 \r\n"), PP_BAD, 0, 0, NULL, NULL },
	{ "v1 three fields", B("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v1 five fields", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v1 double space", B("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v1 trailing space", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v1 bad ipv4", B("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n"), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v1 short ipv4", B("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v1 ipv6 under TCP4", B("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v1 ipv4 under TCP6", B("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v1 bad dst", B("PROXY TCP4 1.2.3.4 x 1 2\r\n"), PP_BAD, 0, 0, NULL,
	    NULL },
	{ "v1 port 65536", B("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v1 port 6 digits", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 000002\r\n"),
	    PP_BAD, 0, 0, NULL, NULL },
	{ "v1 port leading zero", B("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"),
	    PP_BAD, 0, 0, NULL, NULL },
	{ "v1 port sign", B("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v1 port empty", B("PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n"), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v1 bare LF", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v1 CR without LF", B("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v1 NUL", B("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v1 high byte", B("PROXY UNKNOWN \xff\r\n"), PP_BAD, 0, 0, NULL,
	    NULL },
	{ "v1 tab", B("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n"), PP_BAD, 0, 0,
	    NULL, NULL },
	/* v2, good. */
	{ "v2 proxy tcp4", B(SIG "\x21\x11\x00\x0c" V4SRC V4DST PORTS), PP_DONE,
	    2, 0, "203.0.113.7 5555", "192.0.2.1 443" },
	{ "v2 proxy tcp6", B(SIG "\x21\x21\x00\x24" V6SRC V6DST PORTS), PP_DONE,
	    2, 0, "2001:db8::7 5555", "2001:db8::1 443" },
	{ "v2 tcp4 with TLVs (ALPN, authority, NOOP)",
	    B(SIG "\x21\x11\x00\x22" V4SRC V4DST PORTS "\x01\x00\x02h2"
		  "\x02\x00\x0b"
		  "example.com"
		  "\x04\x00\x00"),
	    PP_DONE, 2, 0, "203.0.113.7 5555", "192.0.2.1 443" },
	{ "v2 local", B(SIG "\x20\x00\x00\x00"), PP_DONE, 2, 1, NULL, NULL },
	{ "v2 local with a body it ignores",
	    B(SIG "\x20\x11\x00\x05"
		  "junk!"),
	    PP_DONE, 2, 1, NULL, NULL },
	{ "v2 proxy unspec", B(SIG "\x21\x00\x00\x00"), PP_DONE, 2, 0, NULL,
	    NULL },
	/* v2, malformed: one class per row. */
	{ "v2 signature broken at byte 11", B("\r\n\r\n\0\r\nQUIT\r"), PP_NONE,
	    0, 0, NULL, NULL },
	{ "v2 signature broken at byte 4", B("\r\n\r\nX"), PP_NONE, 0, 0, NULL,
	    NULL },
	{ "v2 version 1", B(SIG "\x11\x11\x00\x0c" V4SRC V4DST PORTS), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v2 version 3", B(SIG "\x31\x11\x00\x0c" V4SRC V4DST PORTS), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v2 command 2", B(SIG "\x22\x11\x00\x0c" V4SRC V4DST PORTS), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v2 family 4", B(SIG "\x21\x41\x00\x0c" V4SRC V4DST PORTS), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v2 protocol 3", B(SIG "\x21\x13\x00\x0c" V4SRC V4DST PORTS), PP_BAD,
	    0, 0, NULL, NULL },
	{ "v2 dgram", B(SIG "\x21\x12\x00\x0c" V4SRC V4DST PORTS), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v2 inet, unspec protocol",
	    B(SIG "\x21\x10\x00\x0c" V4SRC V4DST PORTS), PP_BAD, 0, 0, NULL,
	    NULL },
	{ "v2 tcp4 body shorter than the addresses",
	    B(SIG "\x21\x11\x00\x0b" V4SRC V4DST "\x15\xb3\x01"), PP_BAD, 0, 0,
	    NULL, NULL },
	{ "v2 tcp6 body shorter than the addresses",
	    B(SIG "\x21\x21\x00\x0c" V4SRC V4DST PORTS), PP_BAD, 0, 0, NULL,
	    NULL },
	{ "v2 TLV past the declared length",
	    B(SIG "\x21\x11\x00\x11" V4SRC V4DST PORTS "\x01\x00\x03h2"),
	    PP_BAD, 0, 0, NULL, NULL },
	{ "v2 stray bytes after the TLVs",
	    B(SIG "\x21\x11\x00\x0e" V4SRC V4DST PORTS "\x04\x00"), PP_BAD, 0,
	    0, NULL, NULL },
	{ "v2 TLV length 65535",
	    B(SIG "\x21\x11\x00\x10" V4SRC V4DST PORTS "\x04\xff\xff\x00"),
	    PP_BAD, 0, 0, NULL, NULL },
	{ "v2 length 65535", B(SIG "\x21\x11\xff\xff"), PP_BAD, 0, 0, NULL,
	    NULL },
};

static int failures, checks;
static char report[64 * 1024]; /* the TAP lines, printed after the plan */
static size_t report_len;

static void
check(int ok, const char *name, const char *what)
{
	int n;

	checks++;
	if (!ok)
		failures++;
	n = snprintf(report + report_len, sizeof(report) - report_len,
	    "%s %d - %s: %s\n", ok ? "ok" : "not ok", checks, name, what);
	if (n > 0 && (size_t)n < sizeof(report) - report_len)
		report_len += (size_t)n;
}

/* "addr port" of a stored address, into buf. */
static const char *
addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, size, "%s %u", a, port);
	return buf;
}

static int
fields_ok(const struct pp_case *c, const struct pp_header *h, size_t len)
{
	char s[80], d[80];

	if (h->version != c->version || h->local != c->local || h->len != len)
		return 0;
	if (c->src == NULL)
		return !h->has_addr;
	return h->has_addr &&
	    strcmp(addr_text(&h->src, s, sizeof(s)), c->src) == 0 &&
	    strcmp(addr_text(&h->dst, d, sizeof(d)), c->dst) == 0;
}

/* Every prefix: incomplete until the verdict, and no verdict changes. */
static int
prefixes_ok(const struct pp_case *c)
{
	struct pp_header h;
	enum pp_status last = PP_INCOMPLETE;
	size_t k;

	for (k = 0; k < c->len; k++) {
		enum pp_status st = pp_parse(c->in, k, &h);

		if (c->want == PP_DONE && st != PP_INCOMPLETE)
			return 0;
		if (last != PP_INCOMPLETE && st != last)
			return 0;
		if (st != PP_INCOMPLETE && st != c->want)
			return 0;
		last = st;
	}
	return 1;
}

static void
run_case(const struct pp_case *c)
{
	char buf[PP_HEADER_MAX + sizeof(REQUEST)];
	struct pp_header h;
	enum pp_status st = pp_parse(c->in, c->len, &h);

	check(st == c->want && (st != PP_DONE || fields_ok(c, &h, c->len)),
	    c->name, "whole");
	check(prefixes_ok(c), c->name, "split at every byte");
	if (c->want != PP_DONE)
		return;
	/* The request behind it is never part of the header. */
	memcpy(buf, c->in, c->len);
	memcpy(buf + c->len, REQUEST, sizeof(REQUEST) - 1);
	st = pp_parse(buf, c->len + sizeof(REQUEST) - 1, &h);
	check(st == PP_DONE && fields_ok(c, &h, c->len), c->name,
	    "a request behind it stays unread");
}

/* The caps: v1 at 107 bytes with its CRLF, v2 at 16 + 536. */
static void
run_caps(void)
{
	char buf[PP_HEADER_MAX + 2];
	struct pp_header h;
	size_t n;

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memcpy(buf + PP_V1_MAX - 2, "\r\n", 2);
	check(pp_parse(buf, PP_V1_MAX, &h) == PP_DONE && h.len == PP_V1_MAX,
	    "v1 cap", "107 bytes with CRLF accepted");
	memcpy(buf + PP_V1_MAX - 2, "x\r\n", 3);
	check(pp_parse(buf, PP_V1_MAX + 1, &h) == PP_BAD, "v1 cap",
	    "108 bytes refused");
	check(pp_parse(buf, PP_V1_MAX, &h) == PP_BAD, "v1 cap",
	    "refused at 107 bytes without a line end");
	check(pp_parse(buf, PP_V1_MAX - 1, &h) == PP_INCOMPLETE, "v1 cap",
	    "106 bytes without a line end still wait");

	/* v2 tcp4 with one NOOP TLV filling the body to the cap. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, SIG "\x21\x11", 14);
	buf[14] = (char)(PP_V2_BODY_MAX >> 8);
	buf[15] = (char)(PP_V2_BODY_MAX & 0xff);
	memcpy(buf + 16, V4SRC V4DST PORTS, 12);
	n = PP_V2_BODY_MAX - 12 - 3;
	buf[28] = 0x04;
	buf[29] = (char)(n >> 8);
	buf[30] = (char)(n & 0xff);
	check(pp_parse(buf, PP_HEADER_MAX, &h) == PP_DONE &&
		h.len == PP_HEADER_MAX && h.has_addr,
	    "v2 cap", "16 + 536 bytes accepted");
	check(pp_parse(buf, PP_HEADER_MAX - 1, &h) == PP_INCOMPLETE, "v2 cap",
	    "one byte short waits");
	buf[15] = (char)((PP_V2_BODY_MAX + 1) & 0xff);
	buf[30] = (char)((n + 1) & 0xff);
	check(pp_parse(buf, 16, &h) == PP_BAD, "v2 cap",
	    "537 refused from the fixed part alone");
}

/* pp_build() version 1 from src to dst must write exactly want. */
static void
check_v1(const struct sockaddr *src, const struct sockaddr *dst,
    const char *want, const char *what)
{
	char out[PP_BUILD_MAX + 1];
	size_t n = pp_build(1, src, dst, out, sizeof(out) - 1);

	out[n] = '\0';
	check(n > 0 && strcmp(out, want) == 0, "build v1", what);
}

/* pp_build: exact v1 text, and v2 that parses back. */
static void
run_build(void)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
		.sin_port = htons(5555) };
	struct sockaddr_in b4 = { .sin_family = AF_INET,
		.sin_port = htons(443) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
		.sin6_port = htons(5555) };
	struct sockaddr_in6 m6 = a6;
	const struct sockaddr *sa4 = (struct sockaddr *)&a4;
	const struct sockaddr *sb4 = (struct sockaddr *)&b4;
	const struct sockaddr *sa6 = (struct sockaddr *)&a6;
	char out[PP_BUILD_MAX + 1], s[80], d[80];
	struct pp_header h;
	size_t n;

	inet_pton(AF_INET, "203.0.113.7", &a4.sin_addr);
	inet_pton(AF_INET, "192.0.2.1", &b4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::7", &a6.sin6_addr);
	inet_pton(AF_INET6, "::ffff:203.0.113.7", &m6.sin6_addr);

	check_v1(
	    sa4, sb4, "PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n", "tcp4");
	check_v1(sa6, sa6, "PROXY TCP6 2001:db8::7 2001:db8::7 5555 5555\r\n",
	    "tcp6");
	check_v1((struct sockaddr *)&m6, sb4,
	    "PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n",
	    "an IPv4-mapped client is IPv4");
	check_v1(sb4, sa6,
	    "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::7 443 5555\r\n",
	    "mixed families are written as IPv6");
	check_v1(NULL, sb4, "PROXY UNKNOWN\r\n", "no client address: UNKNOWN");
	check(pp_build(1, sa4, sb4, out, 20) == 0, "build v1",
	    "too small a buffer");
	check(
	    pp_build(3, sa4, sb4, out, sizeof(out)) == 0, "build", "version 3");

	n = pp_build(2, sa4, sb4, out, sizeof(out));
	check(n == 28 && pp_parse(out, n, &h) == PP_DONE && h.has_addr &&
		strcmp(addr_text(&h.src, s, sizeof(s)), "203.0.113.7 5555") ==
		    0 &&
		strcmp(addr_text(&h.dst, d, sizeof(d)), "192.0.2.1 443") == 0,
	    "build v2", "tcp4 parses back");
	n = pp_build(2, sa6, sb4, out, sizeof(out));
	check(n == 52 && pp_parse(out, n, &h) == PP_DONE && h.has_addr &&
		strcmp(addr_text(&h.src, s, sizeof(s)), "2001:db8::7 5555") ==
		    0 &&
		strcmp(addr_text(&h.dst, d, sizeof(d)),
		    "::ffff:192.0.2.1 443") == 0,
	    "build v2", "mixed families parse back as tcp6");
	n = pp_build(2, NULL, NULL, out, sizeof(out));
	check(n == 16 && pp_parse(out, n, &h) == PP_DONE && !h.has_addr &&
		!h.local,
	    "build v2", "no address: PROXY with AF_UNSPEC");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	run_caps();
	run_build();
	printf("1..%d\n%s", checks, report);
	return failures > 0;
}
