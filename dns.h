/*
 * The resolver's pure part: DNS queries built and answers judged (RFC 1035,
 * RFC 2308 for NODATA, RFC 6891 for EDNS), lines of /etc/hosts and of
 * /etc/resolv.conf read.  Functions over byte buffers with no I/O, no
 * allocation and no logging, so the fuzzer and the unit tables drive the
 * same code that reads a hostile server's bytes.
 */
#ifndef CONNECTD_DNS_H
#define CONNECTD_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_OPT 41
#define DNS_NAME_MAX 255 /* a name in wire form (RFC 1035 section 2.3.4) */
#define DNS_HEADER_LEN 12
/* Header, question (name, type, class) and an EDNS OPT record. */
#define DNS_QUERY_MAX (DNS_HEADER_LEN + DNS_NAME_MAX + 4 + 11)
#define DNS_ADDRS_MAX 16 /* addresses kept of one answer */
#define DNS_CNAME_HOPS 8 /* aliases followed in one answer */
#define DNS_EDNS_PAYLOAD 1232 /* the size DNS Flag Day 2020 chose */
#define DNS_SERVERS_MAX 3 /* nameserver lines read, as glibc's MAXNS */
#define DNS_TIMEOUT_MAX_S 30 /* resolv.conf(5)'s caps */
#define DNS_ATTEMPTS_MAX 5

/* A query as sent, kept to judge what comes back. */
struct dns_query {
	uint8_t msg[DNS_QUERY_MAX];
	size_t len; /* bytes of msg sent */
	size_t qend; /* where the question section ends in msg */
	uint16_t type; /* DNS_TYPE_A or DNS_TYPE_AAAA */
};

/* The addresses of one family: 4 bytes of each entry for A, 16 for AAAA. */
struct dns_addrs {
	size_t n;
	uint8_t addr[DNS_ADDRS_MAX][16];
};

/* What an answer says about its query. */
enum dns_verdict {
	DNS_IGNORE, /* not an answer to this query: keep waiting */
	DNS_TRUNCATED, /* TC set: ask again over TCP */
	DNS_ANSWER, /* NOERROR: the addresses, none for NODATA */
	DNS_NXDOMAIN, /* rcode 3: the name does not exist */
	DNS_SERVFAIL, /* rcode 2 */
	DNS_REFUSED, /* rcode 5 */
	DNS_BAD, /* another rcode, or an answer we cannot read */
};

/*
 * Builds the query for name (a host name as the request gave it; one
 * trailing dot allowed) and type, with the id given, and with an EDNS OPT
 * record advertising DNS_EDNS_PAYLOAD when edns is set.  The name is asked
 * as written, absolute: no search list.  Returns 0, or -1 when name cannot
 * be a DNS name (an empty label, a label over 63 bytes, over 253 bytes).
 */
int dns_query_build(struct dns_query *q, const char *name, uint16_t id,
    uint16_t type, int edns);

/*
 * Judges msg[0..len), bytes from the network, as an answer to q: the same
 * id and question (names compared without case), a response to a
 * standard query.  For DNS_ANSWER, out holds the addresses of q's type
 * whose owner is the name asked or the end of its CNAME chain, in the
 * answer's order, at most DNS_ADDRS_MAX; out is left empty otherwise.
 * Never reads outside msg[0..len).
 */
enum dns_verdict dns_judge(const struct dns_query *q, const uint8_t *msg,
    size_t len, struct dns_addrs *out);

/*
 * Reads one line of /etc/hosts, line[0..len) without its newline: when
 * one of its names is name (without case; a trailing dot on either is
 * ignored), its address joins v6 or v4.  Returns 1 when the line named
 * it, else 0 (comments, blank or malformed lines, other names).
 */
int dns_hosts_line(const char *line, size_t len, const char *name,
    struct dns_addrs *v6, struct dns_addrs *v4);

/* One nameserver of resolv.conf. */
struct dns_server {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t scope; /* IPv6 scope id, 0 for none */
};

/* What /etc/resolv.conf says of where and how to ask (resolv.conf(5)). */
struct dns_conf {
	struct dns_server server[DNS_SERVERS_MAX];
	size_t nservers;
	int timeout_s; /* options timeout: a try's wait, doubled each round */
	int attempts; /* options attempts: rounds over the servers */
	int rotate; /* options rotate: start at another server each time */
	int edns; /* options edns0 */
	int use_vc; /* options use-vc: TCP from the start */
};

/* The defaults of resolv.conf(5): no server yet, timeout 5, attempts 2. */
void dns_conf_init(struct dns_conf *c);

/*
 * Reads one line of resolv.conf, line[0..len) without its newline, into c:
 * nameserver (the first DNS_SERVERS_MAX; a link-local address needs a
 * numeric scope) and options; the search and domain lines are ignored, as
 * connectd never applies a search list.  Malformed lines are skipped.
 */
void dns_conf_line(struct dns_conf *c, const char *line, size_t len);

/* After the last line: no nameserver means the local one (127.0.0.1). */
void dns_conf_finish(struct dns_conf *c);

/*
 * How long try number t (0-based, over every server in turn) waits for its
 * answer, in milliseconds: glibc's schedule, the timeout doubled each
 * round and shared among the servers after the first.
 */
int64_t dns_try_ms(const struct dns_conf *c, int t);

#endif
