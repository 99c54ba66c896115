/*
 * Steps 4 and 5, answering the client: a 200 and the relay behind it
 * until the tunnel ends, or the error answer an outcome calls for and a
 * graceful close.  The answers' bytes come from reply.c, the relay from
 * relay.c.
 */
#ifndef CONNECTD_ANSWER_H
#define CONNECTD_ANSWER_H

#include "outcome.h"
#include "session.h"

/*
 * Answers 200 on s's client (passing on a parent's early bytes), then
 * relays between the client and s->dial.fd until the tunnel ends.  Sets
 * s->tunnel, s->status, s->relay, s->relayed and s->end; a client gone
 * before the relay ends it as RELAY_END_CLIENT_GONE.  Closes nothing.
 */
void answer_tunnel(struct session *s);

/*
 * Sends the error answer for o (its row; nothing when the row's status is
 * 0), with a Basic challenge for OUT_AUTH_REQUIRED and the parent's status
 * in Proxy-Status, then drains and closes the client's input gracefully.
 * Sets s->status; a client gone before the answer ends it as
 * RELAY_END_CLIENT_GONE.
 */
void
answer_refuse(struct session *s, enum outcome o, const struct outcome_row *row);

#endif
