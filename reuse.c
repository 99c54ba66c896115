/*
 * With --reuse: takes a child's baseline before its first connection and
 * tells whether it is back to it after each.  See reuse.h.
 */
#include <poll.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "reuse.h"

#define REUSE_POLL_CHUNK 64 /* fds probed per poll(2) */

/*
 * Counts the open fds below max, the log's own aside, with poll(2), which
 * marks a closed one POLLNVAL: one call for a few dozen numbers, where the
 * sandbox lets a connection neither list /proc nor open it.
 */
static int
count_fds(int max)
{
	struct pollfd pfd[REUSE_POLL_CHUNK];
	int base, fd, n = 0, chunk, i;

	for (base = 0; base < max; base += chunk) {
		chunk = max - base < REUSE_POLL_CHUNK ? max - base
						      : REUSE_POLL_CHUNK;
		for (i = 0; i < chunk; i++)
			pfd[i] = (struct pollfd){ .fd = base + i };
		if (poll(pfd, (nfds_t)chunk, 0) == -1)
			return -1;
		for (i = 0; i < chunk; i++) {
			fd = base + i;
			if (fd != log_fd() && !(pfd[i].revents & POLLNVAL))
				n++;
		}
	}
	return n;
}

/*
 * Takes what reuse_clean() compares against: the limits (which another
 * process may change too, with prlimit(1)), and the fds open below
 * probe_max (a leaked fd takes the lowest free number, so it falls below
 * the client's fd plus some room).  0, or -1 with errno.
 */
int
reuse_snapshot(struct reuse_base *b, int probe_max)
{
	int i;

	for (i = 0; i < RLIM_NLIMITS; i++)
		if (getrlimit((__rlimit_resource_t)i, &b->lim[i]) == -1)
			return -1;
	b->probe_max = probe_max;
	if ((b->fds = count_fds(probe_max)) == -1)
		return -1;
	b->taken = 1;
	return 0;
}

/*
 * Whether a child of --reuse may serve again after s, its fds closed: no
 * with an fd (the log's own aside, a resolver's socket) or a resource
 * limit that was not there before its first connection, or when it could
 * not be confined.  A lookup leaves nothing else: the resolver is
 * connectd's own, with no thread and no library state.
 */
int
reuse_clean(const struct session *s, const struct reuse_base *before)
{
	struct reuse_base now;

	if (!before->taken || !s->confined ||
	    reuse_snapshot(&now, before->probe_max) == -1 ||
	    now.fds != before->fds)
		return 0;
	return memcmp(now.lim, before->lim, sizeof(now.lim)) == 0;
}
