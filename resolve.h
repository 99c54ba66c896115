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

struct resolve {
	struct gaicb req[RESOLVE_NFAMILIES];
	struct addrinfo hints[RESOLVE_NFAMILIES];
	char service[8];
	int fd; /* signalfd: readable on an answer */
	int pending[RESOLVE_NFAMILIES]; /* still asking */
	int err[RESOLVE_NFAMILIES]; /* getaddrinfo error, 0 on success */
};

/*
 * Starts both queries for host and port.  host is looked up as written,
 * in /etc/hosts and as an absolute DNS name: the search list is turned off
 * for the process (LOCALDOMAIN is set empty).  r and host must stay valid
 * until resolve_end(): the resolver threads write into them.  Returns 0, or
 * -1 with errno (the caller answers 503).
 */
int resolve_start(struct resolve *r, const char *host, unsigned int port);

/*
 * After r->fd turned readable (or at any time), collects finished queries.
 * Returns a bit mask (1 << family) of the families that finished now; their
 * answers are r->req[family].ar_result (owned by r) or r->err[family].
 */
int resolve_collect(struct resolve *r);

/* 1 while any query is still pending. */
int resolve_pending(const struct resolve *r);

/*
 * The outcome for a name whose finished queries gave no address:
 * OUT_DNS_NXDOMAIN, OUT_DNS_NO_ADDRESS, OUT_DNS_FAILURE or
 * OUT_RESOURCES_EXHAUSTED.
 */
enum outcome resolve_verdict(const struct resolve *r);

/*
 * Cancels what is pending and frees the answers.  A query glibc cannot
 * cancel keeps its thread until it ends; r stays untouched by us, and the
 * process exits soon after, which ends the thread too.
 */
void resolve_end(struct resolve *r);

#endif
