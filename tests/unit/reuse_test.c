/*
 * --reuse's check that a child is back to its baseline after a
 * connection: a leaked fd, below or past one poll(2)'s worth of numbers,
 * a changed limit or no sandbox each keep it from serving again; an fd
 * closed and another opened in its place does not.  TAP.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../../reuse.h"

#define PLANNED 13 /* the checks below */

static int tests;
static int failed;

/* The log keeps no fd of its own here. */
int
log_fd(void)
{
	return -1;
}

static void
check(int ok, const char *what)
{
	printf("%sok %d %s\n", ok ? "" : "not ", ++tests, what);
	failed |= !ok;
}

int
main(void)
{
	static struct session s;
	struct reuse_base before;
	struct rlimit lim;
	int fd, low, high;

	printf("1..%d\n", PLANNED);
	s.confined = 1;
	check(reuse_snapshot(&before, 100) == 0 && before.taken,
	    "the baseline is taken");
	check(reuse_clean(&s, &before) == 1, "as it was: may serve again");

	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	check(fd != -1 && reuse_clean(&s, &before) == 0,
	    "an fd left open: no more");
	close(fd);
	check(reuse_clean(&s, &before) == 1, "that fd closed: serves again");

	/* Past the first poll(2) of 64 numbers, below probe_max. */
	high = dup2(STDIN_FILENO, 90);
	check(high == 90 && reuse_clean(&s, &before) == 0,
	    "an fd left at 90, in the second round of numbers: no more");
	close(high);

	/* A gap below: one closed, one opened in its place, count the same. */
	low = open("/dev/null", O_RDONLY | O_CLOEXEC);
	check(reuse_snapshot(&before, 100) == 0, "a new baseline, an fd more");
	close(low);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	check(fd == low && reuse_clean(&s, &before) == 1,
	    "an fd closed and another opened in its place: serves again");
	close(fd);
	check(reuse_clean(&s, &before) == 0, "one fewer than before: no more");

	check(reuse_snapshot(&before, 100) == 0, "a baseline again");
	s.confined = 0;
	check(reuse_clean(&s, &before) == 0, "not confined");
	s.confined = 1;

	/* As prlimit(1) from outside would, or the connection itself. */
	check(getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur > 0,
	    "the fd limit read");
	lim.rlim_cur--;
	check(setrlimit(RLIMIT_NOFILE, &lim) == 0 &&
		reuse_clean(&s, &before) == 0,
	    "a limit lowered: no more");
	check(reuse_clean(&s, &(struct reuse_base){ .taken = 0 }) == 0,
	    "no baseline: no more");
	return failed || tests != PLANNED;
}
