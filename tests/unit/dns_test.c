/*
 * Table-driven tests of the stub resolver's pure part: queries built,
 * answers judged (matching, rcodes, CNAME chains, every malformed class,
 * every prefix of a good answer), hosts-file and resolv.conf lines read.
 * Prints one TAP line per check; exits 1 when any fails.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../dns.h"

static int checks, failed;
static FILE *tap; /* the checks' lines, shown after the plan */

static void
check(int ok, const char *what)
{
	fprintf(tap, "%s %d - %s\n", ok ? "ok" : "not ok", ++checks, what);
	failed |= !ok;
}

#define B(s) (const uint8_t *)(s), sizeof(s) - 1
#define QNAME "\7example\3com\0"
#define PTR_Q "\xc0\x0c" /* the question's name */
/* An answer record's fixed part: type, class IN, TTL 60, data length. */
#define RR_A "\0\1\0\1\0\0\0\x3c\0\4"
#define RR_AAAA "\0\x1c\0\1\0\0\0\x3c\0\x10"
#define RR_CNAME(len) "\0\5\0\1\0\0\0\x3c\0" len
#define V6_1 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1"

/* A response to the query with id 0x1234: flags, counts, the question. */
#define HEAD(flags, an) "\x12\x34" flags "\0\1\0" an "\0\0\0\0"
#define OK_FLAGS "\x81\x80"
#define Q_A QNAME "\0\1\0\1"
#define Q_AAAA QNAME "\0\x1c\0\1"

struct judge_case {
	const char *name;
	uint16_t type;
	const uint8_t *msg;
	size_t len;
	enum dns_verdict want;
	size_t naddrs;
	const char *first; /* the first address as text, or NULL */
};

static const struct judge_case judge_cases[] = {
	{ "one A record", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A PTR_Q RR_A "\x7f\0\0\2"), DNS_ANSWER, 1,
	    "127.0.0.2" },
	{ "two AAAA records", DNS_TYPE_AAAA,
	    B(HEAD(OK_FLAGS, "\2") Q_AAAA PTR_Q RR_AAAA V6_1 PTR_Q RR_AAAA
		"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\2"),
	    DNS_ANSWER, 2, "2001:db8::1" },
	{ "the question in other case is ours", DNS_TYPE_A,
	    B("\x12\x34" OK_FLAGS "\0\1\0\1\0\0\0\0"
	      "\7EXAMPLE\3cOm\0\0\1\0\1" PTR_Q RR_A "\x7f\0\0\2"),
	    DNS_ANSWER, 1, "127.0.0.2" },
	{ "owner spelt out, not compressed", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A QNAME RR_A "\x7f\0\0\3"), DNS_ANSWER, 1,
	    "127.0.0.3" },
	{ "NODATA: NOERROR, no record", DNS_TYPE_A, B(HEAD(OK_FLAGS, "\0") Q_A),
	    DNS_ANSWER, 0, NULL },
	{ "a CNAME chain to the address", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\2") Q_A PTR_Q RR_CNAME("\6") "\3www\xc0\x0c"
							    "\3www" PTR_Q RR_A
							    "\x7f\0\0\4"),
	    DNS_ANSWER, 1, "127.0.0.4" },
	{ "the chain's records in reverse order", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\2") Q_A
		"\3www" PTR_Q RR_A
		"\x7f\0\0\4" PTR_Q RR_CNAME("\6") "\3www\xc0\x0c"),
	    DNS_ANSWER, 1, "127.0.0.4" },
	{ "an address of a name off the chain is not taken", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A "\5other" PTR_Q RR_A "\x7f\0\0\5"),
	    DNS_ANSWER, 0, NULL },
	{ "the asked name's own address once it is an alias: not taken",
	    DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\2") Q_A PTR_Q RR_A
		"\x7f\0\0\5" PTR_Q RR_CNAME("\6") "\3www\xc0\x0c"),
	    DNS_ANSWER, 0, NULL },
	{ "a CNAME loop ends", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\2") Q_A PTR_Q RR_CNAME(
		"\4") "\1b\xc0\x0c"
		      "\1b" PTR_Q RR_CNAME("\2") "\xc0\x0c"),
	    DNS_ANSWER, 0, NULL },
	{ "a record of the wrong size is skipped", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\2") Q_A PTR_Q "\0\1\0\1\0\0\0\x3c\0\5"
					     "\1\2\3\4\5" PTR_Q RR_A
					     "\x7f\0\0\6"),
	    DNS_ANSWER, 1, "127.0.0.6" },
	{ "a record of class CH is skipped", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A PTR_Q "\0\1\0\3\0\0\0\x3c\0\4"
					     "\x7f\0\0\7"),
	    DNS_ANSWER, 0, NULL },
	{ "an AAAA record in an A answer is skipped", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A PTR_Q RR_AAAA V6_1), DNS_ANSWER, 0,
	    NULL },
	{ "NXDOMAIN", DNS_TYPE_A, B(HEAD("\x81\x83", "\0") Q_A), DNS_NXDOMAIN,
	    0, NULL },
	{ "SERVFAIL", DNS_TYPE_A, B(HEAD("\x81\x82", "\0") Q_A), DNS_SERVFAIL,
	    0, NULL },
	{ "REFUSED", DNS_TYPE_A, B(HEAD("\x81\x85", "\0") Q_A), DNS_REFUSED, 0,
	    NULL },
	{ "NOTIMP is a failure", DNS_TYPE_A, B(HEAD("\x81\x84", "\0") Q_A),
	    DNS_BAD, 0, NULL },
	{ "FORMERR without the question", DNS_TYPE_A,
	    B("\x12\x34\x81\x81\0\0\0\0\0\0\0\0"), DNS_BAD, 0, NULL },
	{ "truncated", DNS_TYPE_A, B(HEAD("\x83\x80", "\0") Q_A), DNS_TRUNCATED,
	    0, NULL },
	{ "another id", DNS_TYPE_A,
	    B("\x12\x35" OK_FLAGS "\0\1\0\1\0\0\0\0" Q_A PTR_Q RR_A
	      "\x7f\0\0\2"),
	    DNS_IGNORE, 0, NULL },
	{ "a query, not a response", DNS_TYPE_A, B(HEAD("\x01\x00", "\0") Q_A),
	    DNS_IGNORE, 0, NULL },
	{ "another opcode", DNS_TYPE_A, B(HEAD("\x91\x80", "\0") Q_A),
	    DNS_IGNORE, 0, NULL },
	{ "another name asked", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\0") "\7example\3org\0\0\1\0\1"), DNS_IGNORE, 0,
	    NULL },
	{ "another type asked", DNS_TYPE_A, B(HEAD(OK_FLAGS, "\0") Q_AAAA),
	    DNS_IGNORE, 0, NULL },
	{ "two questions", DNS_TYPE_A,
	    B("\x12\x34" OK_FLAGS "\0\2\0\0\0\0\0\0" Q_A Q_A), DNS_IGNORE, 0,
	    NULL },
	{ "shorter than a header", DNS_TYPE_A, B("\x12\x34\x81"), DNS_IGNORE, 0,
	    NULL },
	{ "cut inside the question", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\0") "\7exam"), DNS_IGNORE, 0, NULL },
	{ "more records counted than sent", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\2") Q_A PTR_Q RR_A "\x7f\0\0\2"), DNS_BAD, 0,
	    NULL },
	{ "record data past the end", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A PTR_Q RR_A "\x7f\0"), DNS_BAD, 0, NULL },
	{ "a pointer to itself", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A "\xc0\x1d" RR_A "\x7f\0\0\2"), DNS_BAD,
	    0, NULL },
	{ "a pointer past the end", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A "\xc3\xff" RR_A "\x7f\0\0\2"), DNS_BAD,
	    0, NULL },
	{ "a reserved label type", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A "\x41" RR_A "\x7f\0\0\2"), DNS_BAD, 0,
	    NULL },
	{ "a CNAME whose data is not its name", DNS_TYPE_A,
	    B(HEAD(OK_FLAGS, "\1") Q_A PTR_Q RR_CNAME("\7") "\3www\xc0\x0c\0"),
	    DNS_BAD, 0, NULL },
};

static void
test_judge(void)
{
	struct dns_query q;
	struct dns_addrs out;
	size_t i, k;

	for (i = 0; i < sizeof(judge_cases) / sizeof(judge_cases[0]); i++) {
		const struct judge_case *c = &judge_cases[i];
		char text[64] = "";
		enum dns_verdict v;
		int ok;

		dns_query_build(&q, "example.com", 0x1234, c->type, 0);
		v = dns_judge(&q, c->msg, c->len, &out);
		if (out.n > 0)
			inet_ntop(c->type == DNS_TYPE_A ? AF_INET : AF_INET6,
			    out.addr[0], text, sizeof(text));
		ok = v == c->want && out.n == c->naddrs &&
		    (c->first == NULL || strcmp(text, c->first) == 0);
		check(ok, c->name);
		if (!ok)
			fprintf(tap, "# verdict %d addresses %zu first %s\n",
			    (int)v, out.n, text);
		/* No prefix of an answer is more than the whole. */
		for (k = 0, ok = 1; k < c->len; k++) {
			v = dns_judge(&q, c->msg, k, &out);
			ok &= v == DNS_IGNORE || v == DNS_BAD ||
			    v == DNS_TRUNCATED || v == c->want;
		}
		check(ok, "every prefix: nothing but ignore, bad or the same");
	}
}

/* 20 A records: the first DNS_ADDRS_MAX are kept. */
static void
test_many(void)
{
	uint8_t msg[1024];
	struct dns_query q;
	struct dns_addrs out;
	size_t len = 0;
	int i;

	memcpy(msg, HEAD(OK_FLAGS, "\x14") Q_A, len = 12 + 17);
	for (i = 0; i < 20; i++) {
		memcpy(msg + len, PTR_Q RR_A "\x7f\0\0", 15);
		len += 15;
		msg[len++] = (uint8_t)(i + 1);
	}
	dns_query_build(&q, "example.com", 0x1234, DNS_TYPE_A, 0);
	check(dns_judge(&q, msg, len, &out) == DNS_ANSWER &&
		out.n == DNS_ADDRS_MAX && out.addr[15][3] == 16,
	    "20 records: the first 16 kept, in order");
}

static void
test_build(void)
{
	char longest[254], label64[70];
	struct dns_query q;

	check(
	    dns_query_build(&q, "example.com", 0xabcd, DNS_TYPE_AAAA, 0) == 0 &&
		q.len == 12 + 13 + 4 && q.qend == q.len &&
		memcmp(q.msg,
		    "\xab\xcd\x01\x00\0\1\0\0\0\0\0\0" QNAME "\0\x1c\0\1",
		    q.len) == 0,
	    "a query: id, RD, one question, type AAAA, class IN");
	check(dns_query_build(&q, "example.com.", 1, DNS_TYPE_A, 0) == 0 &&
		q.len == 29 && memcmp(q.msg + 12, QNAME, 13) == 0,
	    "a trailing dot is the same name");
	check(dns_query_build(&q, "example.com", 1, DNS_TYPE_A, 1) == 0 &&
		q.qend == 29 && q.len == 40 && q.msg[11] == 1 &&
		memcmp(q.msg + 29, "\0\0\x29\x04\xd0\0\0\0\0\0\0", 11) == 0,
	    "edns0: one OPT record advertising 1232 bytes");
	check(dns_query_build(&q, "a..b", 1, DNS_TYPE_A, 0) == -1,
	    "an empty label is no name");
	check(dns_query_build(&q, ".", 1, DNS_TYPE_A, 0) == -1 &&
		dns_query_build(&q, "", 1, DNS_TYPE_A, 0) == -1 &&
		dns_query_build(&q, ".a", 1, DNS_TYPE_A, 0) == -1,
	    "the root, the empty name and a leading dot are no host names");
	memset(label64, 'a', 64);
	label64[64] = '\0';
	check(dns_query_build(&q, label64, 1, DNS_TYPE_A, 0) == -1,
	    "a label of 64 bytes is no name");
	label64[63] = '\0';
	check(dns_query_build(&q, label64, 1, DNS_TYPE_A, 0) == 0,
	    "a label of 63 bytes is");
	memset(longest, 'a', 253);
	for (int i = 63; i < 253; i += 64)
		longest[i] = '.';
	longest[253] = '\0';
	check(dns_query_build(&q, longest, 1, DNS_TYPE_A, 0) == 0 &&
		q.qend == 12 + 255 + 4,
	    "a name of 253 bytes fills the 255 of the wire form");
	check(dns_query_build(&q, "a.", 1, DNS_TYPE_A, 0) == 0, "a.");
}

struct hosts_case {
	const char *line;
	const char *name;
	int want;
	size_t v6, v4;
};

static const struct hosts_case hosts_cases[] = {
	{ "127.0.0.1 localhost", "localhost", 1, 0, 1 },
	{ "::1 localhost ip6-localhost ip6-loopback", "ip6-localhost", 1, 1,
	    0 },
	{ "10.0.0.1 other host # comment", "host", 1, 0, 1 },
	{ "10.0.0.1 other # host", "host", 0, 0, 0 },
	{ "# 10.0.0.1 host", "host", 0, 0, 0 },
	{ "10.0.0.1 HoSt", "hOsT", 1, 0, 1 },
	{ "10.0.0.1 host.", "host", 1, 0, 1 },
	{ "10.0.0.1 host", "host.", 1, 0, 1 },
	{ "\t10.0.0.1\thost\r", "host", 1, 0, 1 },
	{ "10.0.0.1 hostx host2", "host", 0, 0, 0 },
	{ "10.0.0.1", "10.0.0.1", 0, 0, 0 },
	{ "host 10.0.0.1", "host", 0, 0, 0 },
	{ "10.0.0.256 host", "host", 0, 0, 0 },
	{ "fe80::1%eth0 host", "host", 0, 0, 0 },
	{ "", "host", 0, 0, 0 },
	{ "10.0.0.1 host", "", 0, 0, 0 },
};

static void
test_hosts(void)
{
	struct dns_addrs v6, v4;
	size_t i;

	for (i = 0; i < sizeof(hosts_cases) / sizeof(hosts_cases[0]); i++) {
		const struct hosts_case *c = &hosts_cases[i];
		char what[128];

		v6.n = v4.n = 0;
		snprintf(what, sizeof(what), "hosts line \"%s\" for %s",
		    c->line, c->name);
		check(dns_hosts_line(c->line, strlen(c->line), c->name, &v6,
			  &v4) == c->want &&
			v6.n == c->v6 && v4.n == c->v4,
		    what);
	}
	v6.n = v4.n = 0;
	dns_hosts_line("10.0.0.1 host", 13, "host", &v6, &v4);
	dns_hosts_line("10.0.0.1 host alias", 19, "host", &v6, &v4);
	dns_hosts_line("10.0.0.2 host", 13, "host", &v6, &v4);
	check(v4.n == 2 && v4.addr[1][3] == 2,
	    "a repeated address is kept once, every other one in order");
	v6.n = v4.n = 0;
	check(dns_hosts_line("10.0.0.1 host", 9, "host", &v6, &v4) == 0,
	    "the line's length is respected");
}

static void
conf_lines(struct dns_conf *c, const char *const *lines)
{
	dns_conf_init(c);
	for (; *lines != NULL; lines++)
		dns_conf_line(c, *lines, strlen(*lines));
	dns_conf_finish(c);
}

static void
test_conf(void)
{
	static const char *const none[] = { "search corp", "domain corp",
		"# nameserver 10.9.9.9", "; nameserver 10.9.9.9", "nameserver",
		"nameserver banana", "nameserver 1.2.3.4%2",
		"nameserver fe80::1%eth0", NULL };
	static const char *const four[] = { "nameserver 127.0.0.53",
		"nameserver ::1", "nameserver\tfe80::1%2 trailing",
		"nameserver 10.0.0.4", "options timeout:1 attempts:3",
		"options rotate edns0 use-vc ndots:2 trust-ad", NULL };
	static const char *const caps[] = { "options timeout:99 attempts:0",
		"options timeout:x attempts:", NULL };
	struct dns_conf c;

	conf_lines(&c, none);
	check(c.nservers == 1 && c.server[0].family == AF_INET &&
		memcmp(c.server[0].addr, "\x7f\0\0\1", 4) == 0 &&
		c.timeout_s == 5 && c.attempts == 2 && !c.rotate && !c.edns &&
		!c.use_vc,
	    "resolv.conf with no usable nameserver: 127.0.0.1, 5 s, 2 "
	    "attempts");
	conf_lines(&c, four);
	check(c.nservers == 3 && c.server[0].family == AF_INET &&
		c.server[1].family == AF_INET6 && c.server[2].scope == 2 &&
		c.server[2].family == AF_INET6,
	    "three nameservers kept, a numeric scope read");
	check(c.timeout_s == 1 && c.attempts == 3 && c.rotate && c.edns &&
		c.use_vc,
	    "options timeout, attempts, rotate, edns0, use-vc");
	conf_lines(&c, caps);
	check(c.timeout_s == 30 && c.attempts == 1,
	    "timeout capped at 30, attempts at least 1, bad values ignored");
	conf_lines(&c, none);
	check(dns_try_ms(&c, 0) == 5000 && dns_try_ms(&c, 1) == 10000,
	    "one server: 5 s, then 10 s");
	c.nservers = 2;
	check(dns_try_ms(&c, 0) == 5000 && dns_try_ms(&c, 1) == 5000 &&
		dns_try_ms(&c, 2) == 5000 && dns_try_ms(&c, 3) == 5000,
	    "two servers: the doubled wait shared in the second round");
}

int
main(void)
{
	char *lines;
	size_t len;

	if ((tap = open_memstream(&lines, &len)) == NULL)
		return 1;
	test_build();
	test_judge();
	test_many();
	test_hosts();
	test_conf();
	fclose(tap);
	printf("1..%d\n%s", checks, lines);
	free(lines);
	return failed;
}
