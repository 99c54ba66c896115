/*
 * Step 6, the log record: the one place that turns the facts a session
 * gathered into the connection's one log line.  The line's format and
 * escaping are log.c's.
 */
#ifndef CONNECTD_RECORD_H
#define CONNECTD_RECORD_H

#include "session.h"

/*
 * Writes s's one log line, with the duration measured from s->start_ms to
 * now.  Changes nothing in s.
 */
void record_log(const struct session *s);

#endif
