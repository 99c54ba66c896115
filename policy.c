/*
 * Destination policy.  Checks are pure functions of the configuration and
 * the request, so they can be table-tested; the port and the name are
 * judged before resolution, each address right before it is dialled.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>

#include "request.h"
#include "util.h"

/* An address reduced to what rules compare: family and network bytes. */
struct policy_addr {
	int family;
	uint8_t b[16];
};

/*
 * Denied unless an allow rule opts in (RFC 6890 and its successors): where
 * a proxy must not lead a client by default.
 */
static const char *const policy_default_deny[] = {
	"0.0.0.0/8", /* "this network", unspecified */
	"10.0.0.0/8", /* RFC 1918 */
	"100.64.0.0/10", /* shared address space, RFC 6598 */
	"127.0.0.0/8", /* loopback */
	"169.254.0.0/16", /* link-local, cloud metadata */
	"172.16.0.0/12", /* RFC 1918 */
	"192.0.0.0/24", /* IETF protocol assignments */
	"192.0.2.0/24", /* documentation */
	"192.168.0.0/16", /* RFC 1918 */
	"198.18.0.0/15", /* benchmarking */
	"198.51.100.0/24", /* documentation */
	"203.0.113.0/24", /* documentation */
	"224.0.0.0/4", /* multicast */
	"240.0.0.0/4", /* reserved, and broadcast */
	"::/128", /* unspecified */
	"::1/128", /* loopback */
	"64:ff9b:1::/48", /* NAT64 local use, RFC 8215: a network of one's own */
	"100::/64", /* discard-only */
	"2001:2::/48", /* benchmarking */
	"2001:db8::/32", /* documentation */
	"3fff::/20", /* documentation, RFC 9637 */
	"fc00::/7", /* unique-local */
	"fe80::/10", /* link-local */
	"fec0::/10", /* site-local, deprecated */
	"ff00::/8", /* multicast */
};

/*
 * IPv6 forms that carry an IPv4 address, and where it sits.  For the
 * local-use NAT64 prefix the layout is the operator's choice (RFC 6052
 * section 2.2 allows six); the /96 one, as in the well-known prefix, is
 * assumed, and the prefix is denied by default besides.
 */
static const struct policy_carrier {
	const char *block; /* the form, as a CIDR block */
	unsigned int at; /* byte offset of the IPv4 address */
	uint8_t flip; /* XORed into each of its bytes */
} policy_carriers[] = {
	{ "::/96", 12, 0 }, /* IPv4-compatible, RFC 4291 section 2.5.5.1 */
	{ "::ffff:0:0:0/96", 12, 0 }, /* SIIT IPv4-translated, RFC 2765 */
	{ "64:ff9b::/96", 12, 0 }, /* NAT64 well-known prefix, RFC 6052 */
	{ "64:ff9b:1::/48", 12, 0 }, /* NAT64 local use, RFC 8215 */
	{ "2002::/16", 2, 0 }, /* 6to4 router, RFC 3056 */
	{ "2001::/32", 4, 0 }, /* Teredo server, RFC 4380 section 4 */
	{ "2001::/32", 12, 0xff }, /* Teredo client, stored inverted */
};

/* An address judged: as written first, then each IPv4 address it carries. */
struct policy_views {
	size_t n;
	struct policy_addr a[3]; /* Teredo carries two */
};

void
policy_list_clear(struct policy_list *l)
{
	while (l->n > 0)
		free(l->rule[--l->n].name);
}

void
policy_init(struct policy *p)
{
	/*
	 * Only what is read is reset: every page this per-connection process
	 * touches is a page of memory per held tunnel.
	 */
	p->ports[0].lo = p->ports[0].hi = 443;
	p->nports = 1;
	p->ports_given = 0;
	policy_list_clear(&p->allow);
	policy_list_clear(&p->deny);
}

/*
 * An IPv4-mapped address (::ffff:a.b.c.d) is how an IPv6 socket spells the
 * IPv4 host a.b.c.d: a connection to it is an IPv4 connection.  So it is
 * that IPv4 address, in a rule as in a target.
 */
static void
policy_unmap(struct policy_addr *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };

	if (a->family != AF_INET6 || memcmp(a->b, mapped, 12) != 0)
		return;
	memmove(a->b, a->b + 12, 4);
	memset(a->b + 4, 0, 12);
	a->family = AF_INET;
}

/* Parses an address, bracketed or not, into a; 0 or -1. */
static int
policy_parse_addr(const char *text, size_t n, struct policy_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 2];

	if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
		text++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->b) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->b) == 1)
		a->family = AF_INET6;
	else
		return -1;
	return 0;
}

/* Zeroes the host bits past prefix. */
static void
policy_mask(uint8_t *b, unsigned int prefix, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned int keep = prefix > i * 8 ? prefix - (unsigned)i * 8
						   : 0;

		if (keep < 8)
			b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* Parses "addr" or "addr/prefix" into a POLICY_NET rule; 0 or -1. */
static int
policy_parse_net(const char *text, struct policy_rule *r)
{
	const char *slash = strchr(text, '/');
	size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	struct policy_addr a;
	unsigned int bits;
	long long prefix;

	if (policy_parse_addr(text, alen, &a) == -1)
		return -1;
	bits = a.family == AF_INET ? 32 : 128;
	prefix = bits;
	if (slash != NULL && util_parse_int(slash + 1, 0, bits, &prefix) == -1)
		return -1;
	/*
	 * A rule on ::ffff:0:0/96 and longer speaks of IPv4 hosts; every other
	 * IPv6 rule, ::/96 and 64:ff9b::/96 too, matches addresses as written.
	 */
	if (a.family == AF_INET6 && prefix >= 96) {
		struct policy_addr m = a;

		policy_unmap(&m);
		if (m.family == AF_INET) {
			a = m;
			prefix -= 96;
		}
	}
	memset(r, 0, sizeof(*r));
	r->kind = POLICY_NET;
	r->family = a.family;
	r->prefix = (unsigned int)prefix;
	memcpy(r->net, a.b, sizeof(r->net));
	policy_mask(r->net, r->prefix, sizeof(r->net));
	return 0;
}

/* Lowercases name into out without a trailing dot. */
static void
policy_fold_name(const char *name, char *out, size_t size)
{
	size_t i, n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[n] = '\0';
}

/* Parses "host.example" or ".example.com" into a name rule; 0 or -1. */
static int
policy_parse_name(const char *text, struct policy_rule *r)
{
	char folded[POLICY_NAME_MAX];
	struct request req;
	const char *name = text[0] == '.' ? text + 1 : text;
	size_t n = strlen(name);

	/* The request parser's own idea of a host name, without a port. */
	if (n == 0 || strchr(name, ':') != NULL ||
	    req_parse_authority(name, n, 0, &req) != OUT_OK ||
	    req.host_kind != REQ_HOST_NAME)
		return -1;
	memset(r, 0, sizeof(*r));
	r->kind = text[0] == '.' ? POLICY_SUFFIX : POLICY_NAME;
	/* Allocated: rules stay small, and a proxy without names never pays. */
	policy_fold_name(name, folded, sizeof(folded));
	if ((r->name = strdup(folded)) == NULL)
		return -1;
	return 0;
}

int
policy_add_rule(struct policy *p, int allow, const char *text)
{
	return policy_list_add_rule(allow ? &p->allow : &p->deny, text);
}

int
policy_list_add_rule(struct policy_list *list, const char *text)
{
	struct policy_rule r;

	if (policy_parse_net(text, &r) == -1 &&
	    policy_parse_name(text, &r) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (list->n == POLICY_RULES_MAX) {
		free(r.name);
		errno = E2BIG;
		return -1;
	}
	list->rule[list->n++] = r;
	return 0;
}

int
policy_add_net(struct policy_list *l, const char *text)
{
	struct policy_rule r;

	if (policy_parse_net(text, &r) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (l->n == POLICY_RULES_MAX) {
		errno = E2BIG;
		return -1;
	}
	l->rule[l->n++] = r;
	return 0;
}

static int
policy_name_matches(const struct policy_rule *r, const char *folded)
{
	size_t n, rn;

	if (r->kind == POLICY_NAME)
		return strcmp(folded, r->name) == 0;
	if (r->kind != POLICY_SUFFIX)
		return 0;
	n = strlen(folded);
	rn = strlen(r->name);
	if (strcmp(folded, r->name) == 0)
		return 1;
	return n > rn && folded[n - rn - 1] == '.' &&
	    strcmp(folded + n - rn, r->name) == 0;
}

static int
policy_list_has_name(const struct policy_list *l, const char *folded)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (policy_name_matches(&l->rule[i], folded))
			return 1;
	return 0;
}

enum outcome
policy_check_name(const struct policy *p, const char *host, int *opted_in)
{
	char folded[POLICY_NAME_MAX];

	policy_fold_name(host, folded, sizeof(folded));
	*opted_in = 0;
	if (policy_list_has_name(&p->deny, folded))
		return OUT_NAME_NOT_ALLOWED;
	*opted_in = policy_list_has_name(&p->allow, folded);
	return OUT_OK;
}

static int
policy_net_matches(const struct policy_rule *r, const struct policy_addr *a)
{
	uint8_t b[16];

	if (r->kind != POLICY_NET || r->family != a->family)
		return 0;
	memcpy(b, a->b, sizeof(b));
	policy_mask(b, r->prefix, sizeof(b));
	return memcmp(b, r->net, sizeof(b)) == 0;
}

static int
policy_list_has_addr(const struct policy_list *l, const struct policy_addr *a)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (policy_net_matches(&l->rule[i], a))
			return 1;
	return 0;
}

int
policy_list_has_host(const struct policy_list *l, const char *host, int name)
{
	char folded[POLICY_NAME_MAX];
	struct policy_addr a;

	if (name) {
		policy_fold_name(host, folded, sizeof(folded));
		return policy_list_has_name(l, folded);
	}
	if (policy_parse_addr(host, strlen(host), &a) == -1)
		return 0;
	policy_unmap(&a);
	return policy_list_has_addr(l, &a);
}

/*
 * Whether a lies in the CIDR block written as text.  The fixed tables are
 * parsed at each use, not once into a static: a static written in this
 * per-connection process is a page of memory per held tunnel, and the
 * few parses cost less than that.
 */
static int
policy_in_block(const char *block, const struct policy_addr *a)
{
	struct policy_rule r;

	return policy_parse_net(block, &r) == 0 && policy_net_matches(&r, a);
}

/* Whether a lies in a range of the default-deny table. */
static int
policy_default_denied(const struct policy_addr *a)
{
	size_t i;

	for (i = 0; i < NELEM(policy_default_deny); i++)
		if (policy_in_block(policy_default_deny[i], a))
			return 1;
	return 0;
}

/* Reduces a socket address to a policy address; 0 or -1 (other family). */
static int
policy_addr_of(const struct sockaddr *sa, struct policy_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a->family = AF_INET6;
		memcpy(a->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		policy_unmap(a);
	} else {
		return -1;
	}
	return 0;
}

int
policy_list_has_sockaddr(const struct policy_list *l, const struct sockaddr *sa)
{
	struct policy_addr a;

	return sa != NULL && policy_addr_of(sa, &a) == 0 &&
	    policy_list_has_addr(l, &a);
}

/*
 * Appends to v each IPv4 address that the IPv6 address v->a[0] carries: a
 * packet to it ends at, or passes through, those IPv4 hosts (a NAT64
 * translator, a 6to4 or Teredo relay), so they are judged too.  The
 * IPv4-compatible form leaves out :: and ::1, which are their own.
 */
static void
policy_add_carried(struct policy_views *v)
{
	static const uint8_t zero[15];
	const uint8_t *b = v->a[0].b;
	size_t i, k;

	if (v->a[0].family != AF_INET6 ||
	    (memcmp(b, zero, sizeof(zero)) == 0 && b[15] <= 1))
		return;
	for (i = 0; i < NELEM(policy_carriers) && v->n < NELEM(v->a); i++) {
		struct policy_addr *c;

		if (!policy_in_block(policy_carriers[i].block, &v->a[0]))
			continue;
		c = &v->a[v->n++];
		memset(c, 0, sizeof(*c));
		c->family = AF_INET;
		for (k = 0; k < 4; k++)
			c->b[k] = b[policy_carriers[i].at + k] ^
			    policy_carriers[i].flip;
	}
}

/* The address as written, then what it carries; 0 or -1 (other family). */
static int
policy_views_of(const struct sockaddr *sa, struct policy_views *v)
{
	v->n = 0;
	if (policy_addr_of(sa, &v->a[0]) == -1)
		return -1;
	v->n = 1;
	policy_add_carried(v);
	return 0;
}

/* 1 when a is in a range denied by default or is self (may be NULL). */
static int
policy_refused_by_default(
    const struct policy_addr *a, const struct sockaddr *self)
{
	struct policy_addr me;

	if (policy_default_denied(a))
		return 1;
	return self != NULL && policy_addr_of(self, &me) == 0 &&
	    me.family == a->family && memcmp(me.b, a->b, sizeof(a->b)) == 0;
}

enum outcome
policy_check_addr(const struct policy *p, const struct sockaddr *sa,
    int opted_in, const struct sockaddr *self)
{
	struct policy_views v;
	size_t i;

	if (policy_views_of(sa, &v) == -1)
		return OUT_ADDRESS_NOT_ALLOWED;
	for (i = 0; i < v.n; i++)
		if (policy_list_has_addr(&p->deny, &v.a[i]))
			return OUT_ADDRESS_NOT_ALLOWED;
	/* An allow rule on the address as written admits what it carries. */
	if (opted_in || policy_list_has_addr(&p->allow, &v.a[0]))
		return OUT_OK;
	/* Else each part passes on its own: allowed, or not refused. */
	for (i = 0; i < v.n; i++)
		if (!policy_list_has_addr(&p->allow, &v.a[i]) &&
		    policy_refused_by_default(&v.a[i], self))
			return OUT_ADDRESS_NOT_ALLOWED;
	return OUT_OK;
}

/* Parses one "N" or "N-M" item of length n; returns 0 or -1 with errno. */
static int
policy_parse_range(
    const char *item, size_t n, unsigned int *lo, unsigned int *hi)
{
	char text[16];
	char *dash;
	long long a, b;

	if (n == 0 || n >= sizeof(text)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(text, item, n);
	text[n] = '\0';
	if ((dash = strchr(text, '-')) != NULL)
		*dash = '\0';
	if (util_parse_int(text, 1, 65535, &a) == -1)
		return -1;
	b = a;
	if (dash != NULL && util_parse_int(dash + 1, 1, 65535, &b) == -1)
		return -1;
	if (b < a) {
		errno = EINVAL;
		return -1;
	}
	*lo = (unsigned int)a;
	*hi = (unsigned int)b;
	return 0;
}

int
policy_add_ports(struct policy *p, const char *list)
{
	size_t n = p->ports_given ? p->nports : 0;
	const char *s = list;

	/* p->nports moves only at the end: a bad list leaves p as it was. */
	for (;;) {
		size_t len = strcspn(s, ",");
		unsigned int lo, hi;

		if (policy_parse_range(s, len, &lo, &hi) == -1)
			return -1;
		if (n == POLICY_PORT_RANGES_MAX) {
			errno = E2BIG;
			return -1;
		}
		p->ports[n].lo = (uint16_t)lo;
		p->ports[n++].hi = (uint16_t)hi;
		if (s[len] == '\0')
			break;
		s += len + 1;
	}
	p->nports = n;
	p->ports_given = 1;
	return 0;
}

enum outcome
policy_check_port(const struct policy *p, unsigned int port)
{
	size_t i;

	for (i = 0; i < p->nports; i++)
		if (port >= p->ports[i].lo && port <= p->ports[i].hi)
			return OUT_OK;
	return OUT_PORT_NOT_ALLOWED;
}
