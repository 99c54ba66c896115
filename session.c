/*
 * The session's two helpers that every step shares: noting why the
 * connection ended, and wiping the session for a --reuse child's next
 * connection.  See session.h.
 */
#include <string.h>

#include "relay.h"
#include "route.h"
#include "session.h"

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
	struct options opt = s->opt;
	int confined = s->confined, log_syslog = s->log_syslog;

	route_wipe(s);
	explicit_bzero(s, sizeof(*s));
	s->opt = opt;
	s->confined = confined;
	s->log_syslog = log_syslog;
	s->dial.fd = -1;
	relay_wipe();
}
