/*
 * Name resolution with a deadline, by connectd's own stub resolver: the
 * name is looked up in /etc/hosts, and only when the file does not name it,
 * asked of the nameservers of /etc/resolv.conf, AAAA and A at once over
 * UDP (TCP after a truncated answer), each answer read in the dialer's own
 * poll(2), so it connects on the first one (RFC 8305 section 3).  No
 * thread, no library, no NSS module: nothing runs in the confined process
 * but this code (connectd(8), RESOLVING NAMES).
 */
#ifndef CONNECTD_RESOLVE_H
#define CONNECTD_RESOLVE_H

#include <poll.h>
#include <stdint.h>

#include "dns.h"
#include "outcome.h"

enum resolve_family {
	RESOLVE_V6, /* asked first, preferred (RFC 8305 section 4) */
	RESOLVE_V4,
	RESOLVE_NFAMILIES,
};

/* The pollfds resolve_pollfds() fills at most. */
#define RESOLVE_POLLFDS RESOLVE_NFAMILIES

/*
 * Starts resolving host (a name, not an address literal): reads the hosts
 * file, and when it does not name host, resolv.conf, and sends both
 * queries.  The state is this module's own, mapped until resolve_end():
 * one resolution at a time per process.  Returns 0, or -1 with errno:
 * EMFILE, ENFILE or ENOMEM when a descriptor or memory ran out (the
 * caller answers 503), another when the hosts file cannot be read.
 */
int resolve_start(const char *host);

/*
 * Fills pfd (RESOLVE_POLLFDS entries at most) with the sockets of the
 * queries still pending; returns how many.
 */
size_t resolve_pollfds(struct pollfd *pfd);

/* When a pending query next gives up on its server; INT64_MAX for none. */
int64_t resolve_wake(void);

/*
 * After poll(2) on the n entries resolve_pollfds() gave (or with n 0, at
 * any time): reads the answers that came, asks again where a server did
 * not answer in time or failed, and ends the queries that are done.
 * Returns a bit mask (1 << family) of the families that finished now;
 * resolve_answer() then gives their addresses.
 */
int resolve_collect(const struct pollfd *pfd, size_t n, int64_t now);

/*
 * The addresses a finished family's query gave (4 bytes each for
 * RESOLVE_V4, 16 for RESOLVE_V6), or NULL when it gave none or is not
 * finished.  Owned by this module until resolve_end().
 */
const struct dns_addrs *resolve_answer(enum resolve_family f);

/* 1 while family f's query is still pending. */
int resolve_family_pending(enum resolve_family f);

/* 1 while any query is still pending. */
int resolve_pending(void);

/*
 * The outcome for a name whose queries gave no address: OUT_DNS_NXDOMAIN,
 * OUT_DNS_NO_ADDRESS, OUT_DNS_SERVFAIL, OUT_DNS_REFUSED, OUT_DNS_FAILURE,
 * OUT_DNS_TIMEOUT (no server answered) or OUT_RESOURCES_EXHAUSTED.
 */
enum outcome resolve_verdict(void);

/*
 * Ends the resolution: closes every socket it holds and unmaps its state,
 * so nothing of it is left in the process (a --reuse child serves again
 * after it, and no name or answer of it stays in memory).
 */
void resolve_end(void);

#endif
