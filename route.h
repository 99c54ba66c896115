/*
 * Step 3, the way to the target at session level: dialled straight, or
 * with --upstream through the parent proxy (unless an --upstream-except
 * rule names the target), the PROXY header sent with --send-proxy, and the
 * CONNECT handshake with the parent.  The parent's answer is parsed by the
 * pure upstream.c; the reading and writing are here.
 */
#ifndef CONNECTD_ROUTE_H
#define CONNECTD_ROUTE_H

#include "outcome.h"
#include "session.h"

/*
 * Opens the way to s's checked target within --connect-timeout: dials it
 * (each address through check_address()) or the parent, sends the PROXY
 * header with --send-proxy, and through a parent sends our CONNECT and
 * reads its answer.  Sets s->dialled, s->dial, s->connect_ms and,
 * through a parent, s->via_upstream, s->via, s->upstream_status and
 * the answer's bytes.  Returns OUT_OK with s->dial.fd ready for the
 * tunnel, or the outcome that refuses it (the dial's, an address policy's
 * for a literal sent to the parent, an OUT_UPSTREAM_* one, the outcome the
 * parent's status means, OUT_CONFIG_ERROR after saying why when
 * --upstream-auth-file cannot be read, OUT_CONNECTION_REFUSED when the
 * target leaves before the PROXY header, or OUT_INTERNAL_ERROR).
 */
enum outcome route_open(struct session *s);

/*
 * Through a parent: writes to the client the tunnel bytes the parent sent
 * right behind its answer's head, and counts them in s->early_down.
 * Returns 0 (also when there were none), or -1 with errno when the client
 * is gone.
 */
int route_pass_early(struct session *s);

/*
 * Wipes the parent's answer and any tunnel bytes behind it (s->up_got of
 * them), for the next connection of a --reuse child.
 */
void route_wipe(const struct session *s);

#endif
