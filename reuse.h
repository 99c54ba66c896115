/*
 * With --reuse, whether a child may serve another connection: what the
 * child was like before its first one (its fds and resource limits),
 * compared with what it is like after each.  A child that cannot show it
 * is as it was exits instead.
 */
#ifndef CONNECTD_REUSE_H
#define CONNECTD_REUSE_H

#include <sys/resource.h>

#include "session.h"

/* What a child of --reuse was like before its first connection. */
struct reuse_base {
	struct rlimit lim[RLIM_NLIMITS];
	int fds; /* open fds below probe_max, the log's own left out */
	int probe_max; /* fds probed: the client's, plus room */
	int taken; /* the snapshot was taken */
};

/*
 * Takes into b what reuse_clean() compares against: the resource limits,
 * and the count of fds open below probe_max (the log's own aside; a
 * leaked fd takes the lowest free number, so it falls below the client's
 * fd plus some room), counted with one poll(2).
 * Returns 0 with b->taken set, or -1 with errno from getrlimit(2) or
 * poll(2).
 */
int reuse_snapshot(struct reuse_base *b, int probe_max);

/*
 * Whether a child of --reuse may serve again after s, its fds closed:
 * 1 when before was taken and the child is as it was then; 0 when it was
 * not confined, or with an fd or a resource limit that was not there
 * before.
 */
int reuse_clean(const struct session *s, const struct reuse_base *before);

#endif
