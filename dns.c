/*
 * DNS messages and the resolver's two files, read as hostile bytes: every
 * length is checked against the buffer before it is used, a compressed
 * name follows at most DNS_JUMPS_MAX pointers, a CNAME chain at most
 * DNS_CNAME_HOPS links.  See dns.h.
 */
#include "dns.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_OPCODE(f) (((f) >> 11) & 0xF)
#define DNS_RCODE(f) ((f)&0xF)
#define DNS_CLASS_IN 1
#define DNS_LABEL_MAX 63
#define DNS_TEXT_MAX 253 /* a name as text, without its trailing dot */
#define DNS_JUMPS_MAX 64 /* compression pointers followed in one name */

static unsigned int
dns_get16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static void
dns_put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* ASCII lower case whatever the locale: DNS names compare so (RFC 4343). */
static uint8_t
dns_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 'a' - 'A') : c;
}

static int
dns_same_text(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (dns_lower((uint8_t)a[i]) != dns_lower((uint8_t)b[i]))
			return 0;
	return 1;
}

/* len of name without one trailing dot. */
static size_t
dns_text_len(const char *name, size_t len)
{
	return len > 0 && name[len - 1] == '.' ? len - 1 : len;
}

/*
 * Writes name (text) in wire form at out, at most DNS_NAME_MAX bytes.
 * Returns the bytes written, or 0 when it is not a DNS name.
 */
static size_t
dns_put_name(uint8_t *out, const char *name)
{
	size_t len = dns_text_len(name, strlen(name)), start = 0, o = 0;

	if (len == 0 || len > DNS_TEXT_MAX)
		return 0;
	for (;;) {
		const char *dot = memchr(name + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - name) : len;
		size_t label = end - start;

		if (label == 0 || label > DNS_LABEL_MAX)
			return 0;
		out[o++] = (uint8_t)label;
		memcpy(out + o, name + start, label);
		o += label;
		if (end == len)
			break;
		start = end + 1;
	}
	out[o++] = 0;
	return o;
}

int
dns_query_build(
    struct dns_query *q, const char *name, uint16_t id, uint16_t type, int edns)
{
	uint8_t *m = q->msg;
	size_t n;

	memset(m, 0, DNS_HEADER_LEN);
	dns_put16(m, id);
	dns_put16(m + 2, DNS_FLAG_RD);
	dns_put16(m + 4, 1);
	dns_put16(m + 10, edns ? 1 : 0);
	if ((n = dns_put_name(m + DNS_HEADER_LEN, name)) == 0)
		return -1;
	n += DNS_HEADER_LEN;
	dns_put16(m + n, type);
	dns_put16(m + n + 2, DNS_CLASS_IN);
	q->qend = n += 4;
	if (edns) {
		/* Root name, OPT, payload size as class, TTL 0, no data. */
		memset(m + n, 0, 11);
		dns_put16(m + n + 1, DNS_TYPE_OPT);
		dns_put16(m + n + 3, DNS_EDNS_PAYLOAD);
		n += 11;
	}
	q->len = n;
	q->type = type;
	return 0;
}

/*
 * Reads the possibly compressed name at *off into out, in wire form and
 * lower case, and moves *off past it.  Returns its length, or -1 when it
 * is malformed, loops or runs past msg.
 */
static int
dns_get_name(
    const uint8_t *msg, size_t len, size_t *off, uint8_t out[DNS_NAME_MAX])
{
	size_t p = *off, o = 0, end = 0;
	int jumps = 0;

	for (;;) {
		size_t label, i;

		if (p >= len)
			return -1;
		label = msg[p];
		if ((label & 0xC0) == 0xC0) {
			if (p + 1 >= len || ++jumps > DNS_JUMPS_MAX)
				return -1;
			if (end == 0)
				end = p + 2;
			p = (label & 0x3F) << 8 | msg[p + 1];
			continue;
		}
		if ((label & 0xC0) != 0 || o + 1 + label > DNS_NAME_MAX ||
		    p + 1 + label > len)
			return -1;
		out[o++] = (uint8_t)label;
		if (label == 0)
			break;
		for (i = 0; i < label; i++)
			out[o++] = dns_lower(msg[p + 1 + i]);
		p += 1 + label;
	}
	*off = end != 0 ? end : p + 1;
	return (int)o;
}

/* One resource record of an answer. */
struct dns_rr {
	uint8_t owner[DNS_NAME_MAX];
	int owner_len;
	unsigned int type, class;
	size_t rdata, rdlen; /* where its data lies in the message */
};

/* Reads the record at *off and moves past it; -1 when malformed. */
static int
dns_get_rr(const uint8_t *msg, size_t len, size_t *off, struct dns_rr *rr)
{
	size_t p = *off;

	if ((rr->owner_len = dns_get_name(msg, len, &p, rr->owner)) == -1 ||
	    p + 10 > len)
		return -1;
	rr->type = dns_get16(msg + p);
	rr->class = dns_get16(msg + p + 2);
	rr->rdlen = dns_get16(msg + p + 8);
	rr->rdata = p + 10;
	if (rr->rdata + rr->rdlen > len)
		return -1;
	*off = rr->rdata + rr->rdlen;
	return 0;
}

/* A name in wire form, lower case. */
struct dns_name {
	uint8_t b[DNS_NAME_MAX];
	int len;
};

static int
dns_rr_owned_by(const struct dns_rr *rr, const struct dns_name *n)
{
	return rr->class == DNS_CLASS_IN && rr->owner_len == n->len &&
	    memcmp(rr->owner, n->b, (size_t)n->len) == 0;
}

/*
 * Finds the CNAME record of name among the an records from off and puts
 * its target in name.  Returns 1 when found, 0 when not, -1 when the
 * answer is malformed.
 */
static int
dns_follow_cname(const uint8_t *msg, size_t len, size_t off, unsigned int an,
    struct dns_name *name)
{
	struct dns_rr rr;

	for (; an > 0; an--) {
		if (dns_get_rr(msg, len, &off, &rr) == -1)
			return -1;
		if (rr.type == DNS_TYPE_CNAME && dns_rr_owned_by(&rr, name)) {
			size_t p = rr.rdata;
			int n = dns_get_name(msg, len, &p, name->b);

			if (n == -1 || p != rr.rdata + rr.rdlen)
				return -1;
			name->len = n;
			return 1;
		}
	}
	return 0;
}

/* Adds the addresses of type owned by name; -1 when malformed. */
static int
dns_collect(const uint8_t *msg, size_t len, size_t off, unsigned int an,
    const struct dns_name *name, unsigned int type, struct dns_addrs *out)
{
	size_t size = type == DNS_TYPE_A ? 4 : 16;
	struct dns_rr rr;

	for (; an > 0; an--) {
		if (dns_get_rr(msg, len, &off, &rr) == -1)
			return -1;
		if (rr.type != type || rr.rdlen != size ||
		    !dns_rr_owned_by(&rr, name) || out->n == DNS_ADDRS_MAX)
			continue;
		memcpy(out->addr[out->n++], msg + rr.rdata, size);
	}
	return 0;
}

/*
 * The addresses of a NOERROR answer: those owned by the name asked, or by
 * the name its CNAME records lead to (RFC 1034 section 3.6.2).
 */
static enum dns_verdict
dns_addresses(const struct dns_query *q, const uint8_t *msg, size_t len,
    struct dns_addrs *out)
{
	unsigned int an = dns_get16(msg + 6);
	struct dns_name name;
	size_t p = DNS_HEADER_LEN;
	int hop, rc = 1;

	name.len = dns_get_name(q->msg, q->qend, &p, name.b);
	for (hop = 0; hop < DNS_CNAME_HOPS && rc == 1; hop++)
		rc = dns_follow_cname(msg, len, q->qend, an, &name);
	if (rc == -1 ||
	    dns_collect(msg, len, q->qend, an, &name, q->type, out) == -1) {
		out->n = 0;
		return DNS_BAD;
	}
	return DNS_ANSWER;
}

/* The question of msg is q's: same bytes, names without case. */
static int
dns_same_question(const struct dns_query *q, const uint8_t *msg, size_t len)
{
	size_t i;

	if (len < q->qend)
		return 0;
	for (i = DNS_HEADER_LEN; i < q->qend; i++)
		if (dns_lower(msg[i]) != dns_lower(q->msg[i]))
			return 0;
	return 1;
}

enum dns_verdict
dns_judge(const struct dns_query *q, const uint8_t *msg, size_t len,
    struct dns_addrs *out)
{
	unsigned int flags, qd;

	out->n = 0;
	if (len < DNS_HEADER_LEN || memcmp(msg, q->msg, 2) != 0)
		return DNS_IGNORE;
	flags = dns_get16(msg + 2);
	qd = dns_get16(msg + 4);
	if (!(flags & DNS_FLAG_QR) || DNS_OPCODE(flags) != 0)
		return DNS_IGNORE;
	/* A server that could not read our query may not echo it back. */
	if (qd == 0 && DNS_RCODE(flags) != 0)
		return DNS_BAD;
	if (qd != 1 || !dns_same_question(q, msg, len))
		return DNS_IGNORE;
	if (flags & DNS_FLAG_TC)
		return DNS_TRUNCATED;
	switch (DNS_RCODE(flags)) {
	case 0:
		return dns_addresses(q, msg, len, out);
	case 2:
		return DNS_SERVFAIL;
	case 3:
		return DNS_NXDOMAIN;
	case 5:
		return DNS_REFUSED;
	default:
		return DNS_BAD;
	}
}

/*
 * The next token of line[0..len) from *at, split at blanks: sets *start
 * and *tlen and moves *at past it.  Returns 0 when none is left.
 */
static int
dns_token(const char *line, size_t len, size_t *at, size_t *start, size_t *tlen)
{
	size_t i = *at;

	while (
	    i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	*start = i;
	while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
		i++;
	*at = i;
	*tlen = i - *start;
	return *tlen > 0;
}

/*
 * Parses an address literal, line[start..start+tlen), into addr (4 or 16
 * bytes); returns its family, or 0 when it is none.
 */
static int
dns_parse_addr(const char *text, size_t tlen, uint8_t addr[16])
{
	char buf[64];

	if (tlen >= sizeof(buf))
		return 0;
	memcpy(buf, text, tlen);
	buf[tlen] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, addr) == 1)
		return AF_INET6;
	return 0;
}

/* Adds addr to a unless it is there: a hosts file may repeat a line. */
static void
dns_add_addr(struct dns_addrs *a, const uint8_t *addr, size_t size)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (memcmp(a->addr[i], addr, size) == 0)
			return;
	if (a->n < DNS_ADDRS_MAX)
		memcpy(a->addr[a->n++], addr, size);
}

int
dns_hosts_line(const char *line, size_t len, const char *name,
    struct dns_addrs *v6, struct dns_addrs *v4)
{
	const char *hash = memchr(line, '#', len);
	size_t at = 0, start, tlen, nlen = dns_text_len(name, strlen(name));
	uint8_t addr[16];
	int family;

	if (hash != NULL)
		len = (size_t)(hash - line);
	if (!dns_token(line, len, &at, &start, &tlen) ||
	    (family = dns_parse_addr(line + start, tlen, addr)) == 0)
		return 0;
	while (dns_token(line, len, &at, &start, &tlen)) {
		tlen = dns_text_len(line + start, tlen);
		if (tlen != nlen || nlen == 0 ||
		    !dns_same_text(line + start, name, nlen))
			continue;
		if (family == AF_INET6)
			dns_add_addr(v6, addr, 16);
		else
			dns_add_addr(v4, addr, 4);
		return 1;
	}
	return 0;
}

void
dns_conf_init(struct dns_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_s = 5;
	c->attempts = 2;
}

/* The decimal number text[0..len), at most max; -1 when it is none. */
static long
dns_number(const char *text, size_t len, long max)
{
	long v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (text[i] - '0');
		if (v > max)
			v = max;
	}
	return v;
}

/* "nameserver ADDR[%SCOPE]": a numeric scope only (no interface names). */
static void
dns_conf_server(struct dns_conf *c, const char *text, size_t tlen)
{
	const char *pct = memchr(text, '%', tlen);
	struct dns_server *s = &c->server[c->nservers];
	long scope = 0;

	if (c->nservers == DNS_SERVERS_MAX)
		return;
	memset(s, 0, sizeof(*s));
	if (pct != NULL) {
		scope = dns_number(
		    pct + 1, tlen - (size_t)(pct - text) - 1, (long)UINT32_MAX);
		tlen = (size_t)(pct - text);
	}
	s->family = dns_parse_addr(text, tlen, s->addr);
	if (s->family == 0 || scope == -1 || (pct && s->family != AF_INET6))
		return;
	s->scope = (uint32_t)scope;
	c->nservers++;
}

/* One word of an options line. */
static void
dns_conf_option(struct dns_conf *c, const char *w, size_t len)
{
	long v;

	if (len > 8 && memcmp(w, "timeout:", 8) == 0) {
		if ((v = dns_number(w + 8, len - 8, DNS_TIMEOUT_MAX_S)) != -1)
			c->timeout_s = v < 1 ? 1 : (int)v;
	} else if (len > 9 && memcmp(w, "attempts:", 9) == 0) {
		if ((v = dns_number(w + 9, len - 9, DNS_ATTEMPTS_MAX)) != -1)
			c->attempts = v < 1 ? 1 : (int)v;
	} else if (len == 6 && memcmp(w, "rotate", 6) == 0) {
		c->rotate = 1;
	} else if (len == 5 && memcmp(w, "edns0", 5) == 0) {
		c->edns = 1;
	} else if (len == 6 && memcmp(w, "use-vc", 6) == 0) {
		c->use_vc = 1;
	}
}

void
dns_conf_line(struct dns_conf *c, const char *line, size_t len)
{
	size_t at = 0, start, tlen;
	const char *word;

	if (!dns_token(line, len, &at, &start, &tlen) || line[start] == '#' ||
	    line[start] == ';')
		return;
	word = line + start;
	if (tlen == 10 && memcmp(word, "nameserver", 10) == 0) {
		if (dns_token(line, len, &at, &start, &tlen))
			dns_conf_server(c, line + start, tlen);
	} else if (tlen == 7 && memcmp(word, "options", 7) == 0) {
		while (dns_token(line, len, &at, &start, &tlen))
			dns_conf_option(c, line + start, tlen);
	}
}

void
dns_conf_finish(struct dns_conf *c)
{
	if (c->nservers > 0)
		return;
	/* A line that failed to parse may have left its bytes here. */
	memset(&c->server[0], 0, sizeof(c->server[0]));
	c->server[0].family = AF_INET;
	c->server[0].addr[0] = 127;
	c->server[0].addr[3] = 1;
	c->nservers = 1;
}

int64_t
dns_try_ms(const struct dns_conf *c, int t)
{
	int nservers = c->nservers > 0 ? (int)c->nservers : 1;
	int round = t / nservers;
	int64_t s = (int64_t)c->timeout_s << (round < 8 ? round : 8);

	/* glibc's res_send: later rounds share the wait among the servers. */
	if (round > 0)
		s /= nservers;
	return (s > 0 ? s : 1) * 1000;
}
