/*
 * Who may go where.  Pure, table-driven checks: the port and the name run
 * before anything is resolved, each resolved address right before it is
 * dialled, so a name cannot smuggle in a denied address and nothing is
 * resolved twice.
 */
#ifndef CONNECTD_POLICY_H
#define CONNECTD_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "outcome.h"

#define POLICY_RULES_MAX 64 /* per list: --allow-dest, --deny-dest */
#define POLICY_NAME_MAX 256
#define POLICY_PORT_RANGES_MAX 128 /* numbers and ranges, all --allow-port */

enum policy_rule_kind {
	POLICY_NET, /* an address or a CIDR block */
	POLICY_NAME, /* one host name */
	POLICY_SUFFIX, /* ".example.com": the domain and all below it */
};

struct policy_rule {
	enum policy_rule_kind kind;
	int family; /* AF_INET or AF_INET6, for POLICY_NET */
	uint8_t net[16]; /* network bytes, host bits zero */
	unsigned int prefix; /* prefix length in bits */
	char *name; /* lowercase, no trailing dot; allocated, kept for good */
};

struct policy_list {
	size_t n; /* first: reading it touches no page of the rules */
	struct policy_rule rule[POLICY_RULES_MAX];
};

struct policy {
	struct policy_port_range {
		uint16_t lo, hi;
	} ports[POLICY_PORT_RANGES_MAX]; /* allowed ports */
	size_t nports;
	int ports_given; /* an --allow-port was seen */
	struct policy_list allow, deny;
};

/*
 * Sets the defaults: port 443 only, no destination rules.  p must start
 * zeroed (static); calling it again drops the rules added since.
 */
void policy_init(struct policy *p);

/*
 * Adds a port list "443,8443,1000-2000" to the allowed ports; the first call
 * replaces the default.  Returns 0, or -1 with errno EINVAL (bad syntax, a
 * range upside down), ERANGE (a port outside 1-65535) or E2BIG (more than
 * POLICY_PORT_RANGES_MAX items in all); p's allowed ports are unchanged then.
 */
int policy_add_ports(struct policy *p, const char *list);

/*
 * Adds a destination rule to the allow list (allow != 0) or the deny list:
 * "10.1.0.0/16", "2001:db8::/32", "192.0.2.7", "[::1]", "host.example" or
 * ".example.com".  Returns 0, or -1 with errno EINVAL (not a rule) or E2BIG
 * (the list is full).
 */
int policy_add_rule(struct policy *p, int allow, const char *text);

/* Drops every rule of l (zeroed, or filled here), with the names they own. */
void policy_list_clear(struct policy_list *l);

/* Adds a rule, as policy_add_rule() does, to the list l. */
int policy_list_add_rule(struct policy_list *l, const char *text);

/*
 * 1 when a rule of l names the request's host, else 0: a host name
 * (name != 0) by the name and suffix rules, an address literal (no
 * brackets; IPv4-mapped as IPv4) by the address and block rules.  A name
 * is never resolved for this.
 */
int
policy_list_has_host(const struct policy_list *l, const char *host, int name);

/*
 * Adds an address or CIDR block (no names) to the list l, as for the
 * PROXY protocol's trusted peers.  Returns 0, or -1 with errno EINVAL (not
 * an address or block) or E2BIG (the list is full).
 */
int policy_add_net(struct policy_list *l, const char *text);

/*
 * 1 when the socket address sa (NULL: none; an IPv4-mapped address as its
 * IPv4 form) lies in a block of l, else 0.
 */
int policy_list_has_sockaddr(
    const struct policy_list *l, const struct sockaddr *sa);

/* OUT_OK when port may be dialled, else OUT_PORT_NOT_ALLOWED. */
enum outcome policy_check_port(const struct policy *p, unsigned int port);

/*
 * Judges a host name (not an address literal) before resolution.  Returns
 * OUT_NAME_NOT_ALLOWED when a deny rule names it; otherwise OUT_OK, with
 * *opted_in set when an allow rule names it (its addresses may then lie in
 * the ranges denied by default).
 */
enum outcome
policy_check_name(const struct policy *p, const char *host, int *opted_in);

/*
 * Judges one resolved address right before it is dialled.  An IPv4-mapped
 * address is the IPv4 address it maps.  An IPv6 address that carries IPv4
 * addresses (IPv4-compatible, SIIT, NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
 * 6to4, Teredo's server and client) is judged as written and as each
 * carried address.  A deny rule on any of them wins; then an allow rule on
 * the address as written, or the name's opt-in, admits it; then any of
 * them that no allow rule covers refuses it when it lies in a range denied
 * by default (loopback, private, link-local, shared, multicast,
 * documentation, benchmarking, reserved) or is self, the proxy's own local
 * address (when not NULL).  Returns OUT_OK or OUT_ADDRESS_NOT_ALLOWED.
 */
enum outcome policy_check_addr(const struct policy *p,
    const struct sockaddr *sa, int opted_in, const struct sockaddr *self);

#endif
