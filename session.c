/*
 * The session's two helpers that every step shares: noting why the
 * connection ended, and wiping the session for a --reuse child's next
 * connection.  See session.h.
 */
#include <stddef.h>
#include <string.h>

#include "relay.h"
#include "route.h"
#include "session.h"

/* session_wipe() wipes by the layout: the head, the user, ..., the options. */
_Static_assert(offsetof(struct session, user) ==
	offsetof(struct session, head) + sizeof(((struct session *)0)->head),
    "the user follows the head");
_Static_assert(offsetof(struct session, opt) + sizeof(struct options) ==
	sizeof(struct session),
    "the options come last");

/* Notes why the connection ended; the last word stands. */
void
session_end(struct session *s, enum relay_end end)
{
	s->end = end;
	s->has_end = 1;
}

/*
 * Wipes what one connection left in this process for the next one: the
 * session (the options, the log's sink and whether the sandbox is on
 * aside), the relay's buffers and the upstream parent's answer.
 */
void
session_wipe(struct session *s)
{
	int confined = s->confined, log_syslog = s->log_syslog;
	size_t head_got = s->head_got;

	route_wipe(s);
	/* Up to the options, which stay; of the head, what was read. */
	explicit_bzero(s, offsetof(struct session, head));
	explicit_bzero(s->head, head_got);
	explicit_bzero((char *)s + offsetof(struct session, user),
	    offsetof(struct session, opt) - offsetof(struct session, user));
	s->confined = confined;
	s->log_syslog = log_syslog;
	s->dial.fd = -1;
	relay_wipe();
}
