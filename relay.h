/*
 * The tunnel: bytes both ways on poll(2) until both directions are done, an
 * idle timeout or a lifetime limit.  Half-closes pass through as FINs and
 * resets as resets.  The relay never looks at the bytes.
 */
#ifndef CONNECTD_RELAY_H
#define CONNECTD_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_BUF_SIZE (64 * 1024)
#define RELAY_PIPE_SIZE (1024 * 1024) /* asked for; the kernel may cap it */

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
	const char *end; /* eof, client_reset, target_reset, idle_timeout,
				   max_lifetime, error */
	const char
	    *closed_by; /* "client" or "target": the first FIN, or NULL */
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

#endif
