/*
 * Dialling the target: resolve, then race non-blocking connects to every
 * address, staggered and interleaved by family as RFC 8305 section 5
 * describes, all under one deadline.  No logging: the caller gets an outcome
 * and a record of every attempt.
 */
#ifndef CONNECTD_DIAL_H
#define CONNECTD_DIAL_H

#include <stdint.h>
#include <sys/socket.h>

#include "outcome.h"

#define DIAL_MAX_ADDRS 16 /* addresses tried at most */
#define DIAL_ATTEMPT_DELAY_MS 250 /* RFC 8305 section 5 */
#define DIAL_TRIED_MAX 640

/* Judges each resolved address right before it is dialled. */
struct dial_filter {
	enum outcome (*check)(const struct sockaddr *sa, const void *ctx);
	const void *ctx;
};

struct dial_result {
	int fd; /* connected, non-blocking; -1 on failure */
	struct sockaddr_storage addr; /* the address that connected */
	char tried[DIAL_TRIED_MAX]; /* "addr=result,..." for the log */
};

/*
 * Connects to host (a name, or an address literal when numeric) on port,
 * giving up at deadline (a util_now_ms() value).  An address the filter
 * refuses is skipped without a packet sent.  Returns OUT_OK with res->fd
 * connected and owned by the caller, or OUT_DNS_ERROR,
 * OUT_CONNECTION_REFUSED, OUT_DESTINATION_UNREACHABLE,
 * OUT_CONNECTION_TIMEOUT, OUT_RESOURCES_EXHAUSTED, or the filter's outcome
 * when it refused every address, with res->fd -1.
 */
enum outcome dial_connect(const char *host, unsigned int port, int numeric,
    const struct dial_filter *filter, int64_t deadline,
    struct dial_result *res);

#endif
