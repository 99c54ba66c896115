/*
 * Step 2, checking the request against the session: the client's local
 * user, its credentials, then the port and the name, in the documented
 * order; the addresses are checked one by one as they are dialled.  The
 * rules themselves are pure and live in policy.c, peer.c and auth.c.
 */
#ifndef CONNECTD_CHECK_H
#define CONNECTD_CHECK_H

#include <sys/socket.h>

#include "outcome.h"
#include "session.h"

/*
 * Checks the parsed request in s in the documented order: peer user
 * (--allow-uid, filling s->uid), credentials (--auth-file, filling
 * s->user), port, then the name (setting s->name_opted_in).  Nothing is
 * resolved or dialled.  Returns OUT_OK or the first refusal's outcome;
 * OUT_CONFIG_ERROR, after saying why, when --auth-file cannot be read.
 */
enum outcome check_request(struct session *s);

/*
 * The dial filter (struct dial_filter, with ctx the const struct session
 * *): the address policy on sa, one resolved address about to be dialled.
 * Returns OUT_OK or the outcome that refuses it.
 */
enum outcome check_address(const struct sockaddr *sa, const void *ctx);

/*
 * Judges the address literal of s's target (s->req.host_kind not
 * REQ_HOST_NAME) as check_address() would if it were dialled: for a
 * target that goes to the parent, which never resolves it.  Returns as
 * check_address(), or OUT_BAD_TARGET when the literal does not parse.
 */
enum outcome check_literal(const struct session *s);

#endif
