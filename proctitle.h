/*
 * Process titles, as sshd and postgres set them: ps(1), top(1) and
 * "systemctl status" show what each connectd process is doing, such as
 * "connectd: 192.0.2.7:51234 -> example.org:443 [tunnel]".
 */
#ifndef CONNECTD_PROCTITLE_H
#define CONNECTD_PROCTITLE_H

/*
 * Takes over the memory of argv's strings and the environment's (which
 * lie next to each other, and which /proc/PID/cmdline shows) for the
 * title.  Moves the environment to a copy and returns a copy of argv for
 * option parsing, since the originals will be overwritten: in a static
 * store when they fit (1 KiB, so a usual process has no heap), else on the
 * heap.  On failure (no memory) returns argv itself and titles stay off.
 */
char **proctitle_init(int argc, char **argv);

/*
 * Sets the title, clipped to the space proctitle_init() found.  The caller
 * escapes untrusted text first.  Does nothing before proctitle_init().
 */
void proctitle_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
