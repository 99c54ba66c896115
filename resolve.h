/*
 * Name resolution with a deadline: AAAA and A asked at once through glibc's
 * getaddrinfo_a(3), each answer signalled on a pollable fd, so the dialer
 * can start connecting on the first answer (RFC 8305 section 3) and give up
 * on a dead resolver, which blocking getaddrinfo(3) never does.
 */
#ifndef CONNECTD_RESOLVE_H
#define CONNECTD_RESOLVE_H

#include <netdb.h>

#include "outcome.h"

enum resolve_family {
	RESOLVE_V6, /* asked first, preferred (RFC 8305 section 4) */
	RESOLVE_V4,
	RESOLVE_NFAMILIES,
};

/*
 * Starts both queries for host and port.  The resolver's state is this
 * module's own: one resolution at a time per process.  host is looked up
 * as written, in /etc/hosts and as an absolute DNS name: the search list is
 * turned off for the process (LOCALDOMAIN is set empty).  host must stay
 * valid until resolve_end(): the resolver threads read it.  Returns 0, or
 * -1 with errno (the caller answers 503).
 */
int resolve_start(const char *host, unsigned int port);

/* The fd that turns readable when an answer arrives; -1 when idle. */
int resolve_fd(void);

/*
 * After resolve_fd() turned readable (or at any time), collects finished
 * queries.  Returns a bit mask (1 << family) of the families that finished
 * now; resolve_answer() then gives their addresses.
 */
int resolve_collect(void);

/*
 * The addresses a finished family's query gave, or NULL when it gave none
 * or is not finished.  Owned by this module until resolve_end().
 */
const struct addrinfo *resolve_answer(enum resolve_family f);

/* 1 while family f's query is still pending. */
int resolve_family_pending(enum resolve_family f);

/* 1 while any query is still pending. */
int resolve_pending(void);

/*
 * The outcome for a name whose finished queries gave no address:
 * OUT_DNS_NXDOMAIN, OUT_DNS_NO_ADDRESS, OUT_DNS_FAILURE or
 * OUT_RESOURCES_EXHAUSTED.
 */
enum outcome resolve_verdict(void);

/*
 * Cancels what is pending and frees the answers.  A query glibc cannot
 * cancel keeps its thread until it ends, writing only into this module's
 * state, which stays untouched; the process exits soon after, which ends
 * the thread too.  Returns 1 when such a query is left running, else 0.
 */
int resolve_end(void);

#endif
