/*
 * Dialling the target as a modern client does (RFC 8305, Happy Eyeballs
 * v2): AAAA and A asked at once (resolve.h), connecting on the first answer, families
 * interleaved, a new attempt every DIAL_ATTEMPT_DELAY_MS or at once when
 * one fails, earlier attempts kept running, the first to connect winning,
 * all under one deadline.  No logging: the caller gets an outcome and a
 * record of every attempt.
 */
#ifndef CONNECTD_DIAL_H
#define CONNECTD_DIAL_H

#include <stdint.h>
#include <sys/socket.h>

#include "outcome.h"
#include "resolve.h"

#define DIAL_MAX_ADDRS 16 /* addresses tried at most, per family */
#define DIAL_ATTEMPT_DELAY_MS 250 /* RFC 8305 section 5 */
#define DIAL_RESOLUTION_DELAY_MS 50 /* RFC 8305 section 3 */
/* An entry of tried: "[v6 address]:port=no_resources," fits. */
#define DIAL_TRIED_ENTRY_MAX 80
/* Every attempt, whole: the log module clips the list, and says so. */
#define DIAL_TRIED_MAX (2 * DIAL_MAX_ADDRS * DIAL_TRIED_ENTRY_MAX)

/* Judges each resolved address right before it is dialled. */
struct dial_filter {
	enum outcome (*check)(const struct sockaddr *sa, const void *ctx);
	const void *ctx;
};

struct dial_request {
	const char *host; /* a name, or an address literal */
	int numeric; /* host is an address literal */
	unsigned int port;
	const struct dial_filter *filter; /* or NULL */
	int64_t dns_deadline; /* util_now_ms() values */
	int64_t deadline;
};

struct dial_result {
	int fd; /* connected, non-blocking; -1 on failure */
	struct sockaddr_storage addr; /* the address that connected */
	int64_t dns_ms; /* duration until the first address; -1 if none */
	/* Last: only its start is written for a tunnel or two addresses. */
	char tried[DIAL_TRIED_MAX]; /* "addr=result,..." for the log */
};

/*
 * Resolves and connects as described above.  An address the filter refuses
 * is skipped without a packet sent.  Returns OUT_OK with res->fd connected
 * and owned by the caller, or with res->fd -1: OUT_DNS_NXDOMAIN,
 * OUT_DNS_NO_ADDRESS, OUT_DNS_SERVFAIL, OUT_DNS_REFUSED, OUT_DNS_FAILURE,
 * OUT_DNS_TIMEOUT,
 * OUT_CONNECTION_REFUSED, OUT_CONNECTION_BLOCKED (EACCES or EPERM: the host
 * or a firewall on the path prohibits it), OUT_DESTINATION_UNREACHABLE,
 * OUT_CONNECTION_TIMEOUT, OUT_RESOURCES_EXHAUSTED, or the filter's outcome
 * when it refused every address.  Nothing of the resolution is left in the
 * process when it returns.
 */
enum outcome
dial_connect(const struct dial_request *req, struct dial_result *res);

#endif
