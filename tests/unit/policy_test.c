/*
 * Table-driven tests of the destination policy: rule parsing, the order of
 * judgement (deny beats allow, allow and a name's opt-in beat the default
 * ranges) and every default-denied range, in IPv4, IPv6 and every IPv6
 * form that carries an IPv4 address, with the rules of either family.
 * TAP output; exits 1 when any row fails.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../../policy.h"
#include "../../outcome.h"

struct addr_case {
	const char *rules; /* "+allow -deny ..." separated by spaces */
	const char *addr;
	int opted_in;
	enum outcome want;
};

struct name_case {
	const char *rules;
	const char *host;
	enum outcome want;
	int opted_in;
};

#define OK OUT_OK
#define NO OUT_ADDRESS_NOT_ALLOWED

static const struct addr_case addr_cases[] = {
	{ "", "93.184.216.34", 0, OK },
	{ "", "2606:2800:220:1:248:1893:25c8:1946", 0, OK },
	{ "", "0.0.0.0", 0, NO },
	{ "", "10.1.2.3", 0, NO },
	{ "", "100.64.0.1", 0, NO },
	{ "", "100.127.255.254", 0, NO },
	{ "", "100.128.0.1", 0, OK },
	{ "", "127.0.0.1", 0, NO },
	{ "", "127.255.255.254", 0, NO },
	{ "", "169.254.169.254", 0, NO },
	{ "", "172.16.0.1", 0, NO },
	{ "", "172.31.255.255", 0, NO },
	{ "", "172.32.0.1", 0, OK },
	{ "", "192.0.0.8", 0, NO },
	{ "", "192.0.2.1", 0, NO },
	{ "", "192.168.1.1", 0, NO },
	{ "", "198.18.0.1", 0, NO },
	{ "", "198.19.255.255", 0, NO },
	{ "", "198.51.100.7", 0, NO },
	{ "", "203.0.113.9", 0, NO },
	{ "", "224.0.0.1", 0, NO },
	{ "", "239.255.255.250", 0, NO },
	{ "", "240.0.0.1", 0, NO },
	{ "", "255.255.255.255", 0, NO },
	{ "", "::", 0, NO },
	{ "", "::1", 0, NO },
	{ "", "::ffff:127.0.0.1", 0, NO },
	{ "", "::ffff:10.0.0.1", 0, NO },
	{ "", "::ffff:93.184.216.34", 0, OK },
	{ "", "::127.0.0.1", 0, NO },
	{ "", "::169.254.169.254", 0, NO },
	{ "", "100::1", 0, NO },
	{ "", "2001:2::1", 0, NO },
	{ "", "2001:db8::1", 0, NO },
	{ "", "3fff::1", 0, NO },
	{ "", "fc00::1", 0, NO },
	{ "", "fd12:3456::1", 0, NO },
	{ "", "fe80::1", 0, NO },
	{ "", "fec0::1", 0, NO },
	{ "", "ff02::1", 0, NO },
	{ "+127.0.0.0/8 +::1", "127.0.0.1", 0, OK },
	{ "+127.0.0.0/8 +::1", "::1", 0, OK },
	{ "+127.0.0.0/8", "::ffff:127.0.0.5", 0, OK },
	{ "+127.0.0.0/8", "10.0.0.1", 0, NO },
	{ "+::ffff:127.0.0.0/104", "127.0.0.1", 0, OK },
	{ "+[::1]", "::1", 0, OK },
	{ "+10.1.0.0/16", "10.1.255.1", 0, OK },
	{ "+10.1.0.0/16", "10.2.0.1", 0, NO },
	{ "+10.1.0.0/16 -10.1.2.0/24", "10.1.2.3", 0, NO },
	{ "-10.1.2.0/24 +10.1.2.3", "10.1.2.3", 0, NO },
	{ "-93.184.216.34", "93.184.216.34", 0, NO },
	{ "-93.184.216.34", "::ffff:93.184.216.34", 0, NO },
	{ "-2001:db8::/32", "2001:db8::1", 1, NO },
	{ "-0.0.0.0/0", "93.184.216.34", 0, NO },
	{ "-::/0", "2606:2800::1", 0, NO },
	{ "-::/0", "93.184.216.34", 0, OK },
	{ "", "10.1.2.3", 1, OK },
	{ "-10.0.0.0/8", "10.1.2.3", 1, NO },
	{ "+10.1.2.3/33", "10.1.2.3", 0, NO },
	/* IPv6 forms that carry an IPv4 address: judged by it by default */
	{ "", "::10.0.0.1", 0, NO },
	{ "", "::8.8.8.8", 0, OK },
	{ "", "::ffff:0:127.0.0.1", 0, NO },
	{ "", "::ffff:0:10.0.0.5", 0, NO },
	{ "", "::ffff:0:0.0.0.0", 0, NO },
	{ "", "::ffff:0:8.8.8.8", 0, OK },
	{ "", "64:ff9b::7f00:1", 0, NO },
	{ "", "64:ff9b::a9fe:a9fe", 0, NO },
	{ "", "64:ff9b::a00:5", 0, NO },
	{ "", "64:ff9b::192.168.1.1", 0, NO },
	{ "", "64:ff9b::808:808", 0, OK },
	/* outside the /96 */
	{ "", "64:ff9b::1:7f00:1", 0, OK },
	{ "", "64:ff9b:1::a00:5", 0, NO },
	/* local use: denied by default */
	{ "", "64:ff9b:1::808:808", 0, NO },
	{ "", "64:ff9b:1:ab::808:808", 0, NO },
	{ "", "2002:7f00:1::1", 0, NO },
	{ "", "2002:a9fe:a9fe::1", 0, NO },
	{ "", "2002:a00:5:1::1", 0, NO },
	{ "", "2002:808:808::1", 0, OK },
	/* not 6to4 */
	{ "", "2003:7f00:1::1", 0, OK },
	/* Teredo: server 127.0.0.1, client 8.8.8.8 (stored inverted) */
	{ "", "2001:0:7f00:1::f7f7:f7f7", 0, NO },
	/* server 8.8.8.8, client 127.0.0.1; then client 10.0.0.5 */
	{ "", "2001:0:808:808::80ff:fffe", 0, NO },
	{ "", "2001:0:808:808:8000:1234:f5ff:fffa", 0, NO },
	{ "", "2001:0:808:808::f7f7:f7f7", 0, OK },
	/* not Teredo */
	{ "", "2001:1:7f00:1::80ff:fffe", 0, OK },
	/* IPv4 deny rules reach every form */
	{ "-8.8.8.8", "::8.8.8.8", 0, NO },
	{ "-8.8.8.8", "::ffff:0:8.8.8.8", 0, NO },
	{ "-8.8.8.8", "64:ff9b::808:808", 0, NO },
	{ "-8.8.8.0/24 +64:ff9b:1::/48", "64:ff9b:1::808:808", 0, NO },
	{ "-8.8.8.8", "2002:808:808::1", 0, NO },
	{ "-8.8.8.8", "2001:0:808:808::f7f3:fbfb", 0, NO },
	{ "-8.12.4.4", "2001:0:808:808::f7f3:fbfb", 0, NO },
	{ "-8.12.4.4", "2001:0:808:808::f7f7:f7f7", 0, OK },
	{ "-10.0.0.0/8 +64:ff9b::/96", "64:ff9b::a00:5", 0, NO },
	{ "-10.0.0.0/8", "64:ff9b::a00:5", 1, NO },
	{ "-::ffff:10.0.0.0/104", "2002:a00:5::1", 1, NO },
	/* IPv4 allow rules admit the forms that carry their addresses */
	{ "+127.0.0.0/8", "::127.0.0.1", 0, OK },
	{ "+127.0.0.0/8", "::ffff:0:127.0.0.1", 0, OK },
	{ "+127.0.0.0/8", "64:ff9b::7f00:1", 0, OK },
	{ "+127.0.0.0/8", "2002:7f00:1::1", 0, OK },
	{ "+127.0.0.0/8", "2001:0:7f00:1::f7f7:f7f7", 0, OK },
	{ "+127.0.0.0/8", "2001:0:7f00:1::f5ff:fffa", 0, NO },
	{ "+127.0.0.0/8 +10.0.0.5", "2001:0:7f00:1::f5ff:fffa", 0, OK },
	{ "+10.0.0.5", "64:ff9b:1::a00:5", 0, NO },
	{ "", "64:ff9b::a00:5", 1, OK },
	/* IPv6 rules on the forms match the address as written */
	{ "-::/96", "::8.8.8.8", 0, NO },
	{ "-::/96", "8.8.8.8", 0, OK },
	{ "-::ffff:0:0/96", "::ffff:8.8.8.8", 0, NO },
	/* mapped is IPv4 */
	{ "-::ffff:0:0/96", "8.8.8.8", 0, NO },
	{ "-::ffff:0:0:0/96", "::ffff:0:8.8.8.8", 0, NO },
	{ "-64:ff9b::/96", "64:ff9b::808:808", 0, NO },
	{ "-64:ff9b::808:808", "8.8.8.8", 0, OK },
	{ "-2002::/16", "2002:808:808::1", 0, NO },
	{ "-2001::/32", "2001:0:808:808::f7f7:f7f7", 0, NO },
	{ "-::/0", "64:ff9b::808:808", 0, NO },
	{ "+64:ff9b::/96", "64:ff9b::7f00:1", 0, OK },
	{ "+64:ff9b:1::/48", "64:ff9b:1::808:808", 0, OK },
	{ "+2002:7f00::/24", "2002:7f00:1::1", 0, OK },
	{ "+::/96", "::127.0.0.1", 0, OK },
	/* compatible is IPv6 */
	{ "+::127.0.0.1", "127.0.0.1", 0, NO },
	/* ::1 carries nothing */
	{ "-0.0.0.0/8 +::1", "::1", 0, OK },
};

/* The proxy's own address, and the forms that lead back to it. */
static const struct self_case {
	const char *self;
	struct addr_case c;
} self_cases[] = {
	{ "93.184.216.34", { "", "93.184.216.34", 0, NO } },
	{ "::ffff:93.184.216.34", { "", "93.184.216.34", 0, NO } },
	{ "93.184.216.34", { "", "::ffff:93.184.216.34", 0, NO } },
	{ "93.184.216.34", { "", "64:ff9b::5db8:d822", 0, NO } },
	{ "93.184.216.34", { "", "2002:5db8:d822::1", 0, NO } },
	{ "93.184.216.34", { "", "93.184.216.35", 0, OK } },
	{ "93.184.216.34", { "+93.184.216.34", "64:ff9b::5db8:d822", 0, OK } },
};

static const struct name_case name_cases[] = {
	{ "", "example.com", OK, 0 },
	{ "-example.com", "example.com", OUT_NAME_NOT_ALLOWED, 0 },
	{ "-example.com", "EXAMPLE.com.", OUT_NAME_NOT_ALLOWED, 0 },
	{ "-example.com", "www.example.com", OK, 0 },
	{ "-.example.com", "www.example.com", OUT_NAME_NOT_ALLOWED, 0 },
	{ "-.example.com", "example.com", OUT_NAME_NOT_ALLOWED, 0 },
	{ "-.example.com", "badexample.com", OK, 0 },
	{ "+.corp.example", "db.corp.example", OK, 1 },
	{ "+.corp.example -db.corp.example", "db.corp.example",
	    OUT_NAME_NOT_ALLOWED, 0 },
	{ "+intranet", "intranet", OK, 1 },
	{ "+intranet", "intranet2", OK, 0 },
};

/* Adds each "+rule" or "-rule"; returns 0 or -1 when one is refused. */
static int
apply_rules(struct policy *p, const char *rules)
{
	char buf[256], *tok, *save = NULL;

	policy_init(p);
	snprintf(buf, sizeof(buf), "%s", rules);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save))
		if (policy_add_rule(p, tok[0] == '+', tok + 1) == -1)
			return -1;
	return 0;
}

static int
to_sockaddr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return 0;
	}
	in6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
}

/* Runs one row; self is the proxy's own address, or NULL. */
static int
run_addr_case(int n, const struct addr_case *c, const char *self)
{
	static struct policy p;
	struct sockaddr_storage ss, me;
	enum outcome got = OUT_INTERNAL_ERROR;
	int ok;

	/* A rule the parser refuses counts as "no rule" for the row. */
	if (apply_rules(&p, c->rules) == -1)
		policy_init(&p);
	if (to_sockaddr(c->addr, &ss) == 0 &&
	    (self == NULL || to_sockaddr(self, &me) == 0))
		got = policy_check_addr(&p, (struct sockaddr *)&ss, c->opted_in,
		    self != NULL ? (struct sockaddr *)&me : NULL);
	ok = got == c->want;
	printf("%s %d - addr %s with \"%s\"%s%s%s", ok ? "ok" : "not ok", n,
	    c->addr, c->rules, c->opted_in ? " (name opted in)" : "",
	    self != NULL ? ", self " : "", self != NULL ? self : "");
	printf(ok ? "\n" : " (got %s)\n", outcome_row(got)->reason);
	return ok;
}

static int
run_name_case(int n, const struct name_case *c)
{
	static struct policy p;
	int opted = -1, ok;
	enum outcome got = OUT_INTERNAL_ERROR;

	if (apply_rules(&p, c->rules) == 0)
		got = policy_check_name(&p, c->host, &opted);
	ok = got == c->want && (got != OUT_OK || opted == c->opted_in);
	printf("%s %d - name %s with \"%s\"", ok ? "ok" : "not ok", n, c->host,
	    c->rules);
	printf(ok ? "\n" : " (got %s, opted %d)\n", outcome_row(got)->reason,
	    opted);
	return ok;
}

/* Rules that must be refused. */
static const char *const bad_rules[] = { "", "10.0.0.0/", "10.0.0.0/33",
	"::1/129", "a b", "127.1", "host:443", "[::1", ".", "..x",
	"1.2.3.4/-1" };

static int
run_bad_rule(int n, const char *rule)
{
	static struct policy p;
	int refused;

	policy_init(&p);
	refused = policy_add_rule(&p, 1, rule) == -1;
	printf("%s %d - rule \"%s\" is refused\n", refused ? "ok" : "not ok", n,
	    rule);
	return refused;
}

/*
 * A list of its own, as --upstream-except uses: names by the name rules,
 * address literals by the address rules, a name never resolved.
 */
static const struct host_case {
	const char *rules; /* space separated */
	const char *host;
	int name; /* host is a name, not an address literal */
	int want;
} host_cases[] = {
	{ "10.0.0.0/8", "10.1.2.3", 0, 1 },
	{ "10.0.0.0/8", "11.1.2.3", 0, 0 },
	{ "10.0.0.0/8", "::ffff:10.1.2.3", 0, 1 },
	{ "2001:db8::/32", "2001:db8::7", 0, 1 },
	{ "2001:db8::/32", "2001:db9::7", 0, 0 },
	{ "192.0.2.7", "192.0.2.7", 0, 1 },
	{ "localhost", "LOCALHOST", 1, 1 },
	{ "localhost", "localhost.", 1, 1 },
	{ ".corp.example", "db.corp.example", 1, 1 },
	{ ".corp.example", "corp.example", 1, 1 },
	{ ".corp.example", "badcorp.example", 1, 0 },
	{ "db.corp.example", "www.corp.example", 1, 0 },
	{ "127.0.0.0/8", "localhost", 1, 0 },
	{ "localhost", "127.0.0.1", 0, 0 },
	{ "", "example.org", 1, 0 },
};

static int
run_host_case(int n, const struct host_case *c)
{
	static struct policy_list l;
	char buf[256], *tok, *save = NULL;
	int got = -1, ok;

	policy_list_clear(&l);
	snprintf(buf, sizeof(buf), "%s", c->rules);
	for (tok = strtok_r(buf, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save))
		if (policy_list_add_rule(&l, tok) == -1)
			goto out;
	got = policy_list_has_host(&l, c->host, c->name);
out:
	ok = got == c->want;
	printf("%s %d - list \"%s\" %s %s\n", ok ? "ok" : "not ok", n, c->rules,
	    c->want ? "names" : "does not name", c->host);
	return ok;
}

int
main(void)
{
	size_t i, na = sizeof(addr_cases) / sizeof(addr_cases[0]);
	size_t nn = sizeof(name_cases) / sizeof(name_cases[0]);
	size_t ns = sizeof(self_cases) / sizeof(self_cases[0]);
	size_t nb = sizeof(bad_rules) / sizeof(bad_rules[0]);
	size_t nh = sizeof(host_cases) / sizeof(host_cases[0]);
	int n = 1, failed = 0;

	printf("1..%zu\n", na + nn + ns + nb + nh);
	for (i = 0; i < na; i++)
		failed += !run_addr_case(n++, &addr_cases[i], NULL);
	for (i = 0; i < nn; i++)
		failed += !run_name_case(n++, &name_cases[i]);
	for (i = 0; i < ns; i++)
		failed += !run_addr_case(
		    n++, &self_cases[i].c, self_cases[i].self);
	for (i = 0; i < nb; i++)
		failed += !run_bad_rule(n++, bad_rules[i]);
	for (i = 0; i < nh; i++)
		failed += !run_host_case(n++, &host_cases[i]);
	return failed > 0;
}
