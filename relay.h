/*
 * The tunnel: bytes both ways on poll(2) until both directions are done, an
 * idle timeout or a lifetime limit.  Half-closes pass through as FINs and
 * resets as resets; a tunnel cut by a deadline ends with a reset on both
 * sides.  TCP urgent data is passed in-line.  The relay never looks at the
 * bytes.
 */
#ifndef CONNECTD_RELAY_H
#define CONNECTD_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_BUF_SIZE (64 * 1024)
#ifndef RELAY_PIPE_SIZE
#define RELAY_PIPE_SIZE (1024 * 1024) /* asked for; the kernel may cap it */
#endif
/*
 * A direction splices once it has copied RELAY_SPLICE_AFTER (see relay.c)
 * and grows its pipe to RELAY_PIPE_SIZE once it has moved RELAY_GROW_AFTER.
 * Only bench/pipes builds other values (-D), to measure the crossover.
 *
 * What `make bench-pipes` measured (relay thread CPU per tunnel, median of
 * paired ratios to copying only; 2 cores, load 3-6):
 * - Splicing from the first byte costs 1.5-1.8x copying at 1-16 KiB and
 *   breaks even only at 128-192 KiB (grown pipe) or 256-512 KiB (default
 *   pipe): below RELAY_SPLICE_AFTER copying is right.  Exactly at the
 *   threshold a pipe is made with little left to move (1.1-1.25x copy at
 *   64-128 KiB); 128 KiB only moved that bump and was no better.
 * - The default 64 KiB pipe is a poor stage: 0.75-0.9x copy at 1-64 MiB
 *   where a pipe grown at once is 0.3-0.75x.  Growing at 64 KiB instead of 1 MiB cut
 *   256 KiB-4 MiB tunnels a further 5-45% (e.g. 512 KiB: 0.51 against
 *   0.91).  It is not done: a grown pipe holds 256 pages of the user's
 *   pipe quota (fs.pipe-user-pages-soft, 16384: 64 such pipes) while the
 *   tunnel lives, and past it the kernel gives every new pipe two pages
 *   and refuses to grow it; splicing through 8 KiB measured 1.9-2.6x
 *   copying.  Growing only after 1 MiB keeps that cliff for bulk tunnels.
 * - A 256 or 512 KiB pipe instead of 1 MiB: 16 MiB tunnels at 0.46-0.60x
 *   copy against 0.32-0.38x.
 */
#ifndef RELAY_SPLICE_AFTER
#define RELAY_SPLICE_AFTER (64 * 1024)
#endif
#ifndef RELAY_GROW_AFTER
#define RELAY_GROW_AFTER (1024 * 1024)
#endif

/* The two ends of a tunnel. */
enum relay_side {
	RELAY_CLIENT,
	RELAY_TARGET,
};

/*
 * Why a connection ended, in its tunnel or while its request was read;
 * relay_end_name() gives the log's word.
 */
enum relay_end {
	RELAY_END_EOF, /* both directions passed their FIN */
	RELAY_END_CLIENT_RESET, /* the client reset mid-stream */
	RELAY_END_TARGET_RESET,
	RELAY_END_CLIENT_GONE, /* the client took no more bytes */
	RELAY_END_TARGET_GONE,
	RELAY_END_IDLE_TIMEOUT,
	RELAY_END_MAX_LIFETIME,
	RELAY_END_ERROR, /* poll(2) failed */
	RELAY_END_REQUEST_TIMEOUT, /* --request-timeout, before a tunnel */
	RELAY_END_COUNT
};

struct relay_ends {
	int client_in; /* read from the client (socket or pipe) */
	int client_out; /* write to the client; == client_in for a socket */
	int target; /* connected socket to the target */
	int client_is_socket; /* else fds 0 and 1 are pipes (UCSPI) */
	int splice; /* move socket-to-socket bytes with splice(2) */
};

struct relay_result {
	uint64_t up; /* client -> target bytes delivered */
	uint64_t down; /* target -> client bytes delivered */
	uint64_t urgent_up; /* urgent marks the client's bytes crossed */
	uint64_t urgent_down; /* ... and the target's */
	enum relay_end end;
	int closed; /* a side sent the first FIN: closed_by is set */
	enum relay_side closed_by;
};

/*
 * Relays between the ends (all non-blocking) after first sending the early
 * bytes (those that followed the request head) to the target.  idle_ms 0
 * means no idle limit; lifetime_deadline -1 means none.  Always fills in
 * *res; closes nothing but the FIN and reset side effects described above.
 * Returns 0 when both directions ended normally, -1 otherwise.
 */
int
relay_run(const struct relay_ends *ends, const char *early, size_t early_len,
    int64_t idle_ms, int64_t lifetime_deadline, struct relay_result *res);

/*
 * Clears the buffers the relay keeps between tunnels, so a process that
 * serves another connection holds no byte of the last one.
 */
void relay_wipe(void);

/* The log's word for an end: "eof", "client_reset", ... */
const char *relay_end_name(enum relay_end end);

/* The log's word for a side: "client" or "target". */
const char *relay_side_name(enum relay_side side);

/*
 * Makes the kernel deliver TCP urgent data in-line on socket fd
 * (SO_OOBINLINE), so no byte is held out of band where the relay cannot
 * pass it on.  Returns 0, or -1 with errno (ENOTSOCK for a pipe).
 */
int relay_inline_urgent(int fd);

#endif
