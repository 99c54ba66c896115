/*
 * Step 1, reading the head: the PROXY header when --proxy-protocol asks
 * for one, then the CONNECT request, read from the client under one
 * deadline into the session's buffer and parsed as it comes.  The parsing
 * itself is pure and lives in proxyproto.c and request.c.
 */
#ifndef CONNECTD_HEAD_H
#define CONNECTD_HEAD_H

#include <stdint.h>

#include "outcome.h"
#include "session.h"

/*
 * Reads the head of s's client into s->head until deadline (a
 * util_now_ms() value): with --proxy-protocol first a PROXY header from a
 * trusted peer (s->pp, s->pp_len; its client becomes s->client_addr), then
 * the request (s->req).  Bytes past the head stay in s->head for the
 * tunnel.  Returns OUT_OK; the parser's outcome; OUT_INCOMPLETE for an EOF
 * mid-head; OUT_REQUEST_TIMEOUT; OUT_NO_REQUEST or OUT_PROBE when not one
 * byte came (then s->end says why); a PROXY outcome (a header missing,
 * bad, unexpected, or from a peer not allowed); or OUT_INTERNAL_ERROR when
 * poll(2) fails.
 */
enum outcome head_read(struct session *s, int64_t deadline);

#endif
