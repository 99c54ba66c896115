/*
 * The in-process sandbox, as OpenBSD daemons pledge and unveil: before the
 * first byte of a request is read, connectd gives up what it will never
 * need.  No new privileges, a seccomp filter built at compile time for the
 * system calls of each role, Landlock limiting the filesystem to the files
 * it still reads, and resource limits.  Applied in microseconds, under
 * every launcher.
 */
#ifndef CONNECTD_SANDBOX_H
#define CONNECTD_SANDBOX_H

#include <stddef.h>

#define SANDBOX_FILES_MAX 8 /* files given with sandbox_allow_file() */

/* --sandbox: how much of the sandbox is required. */
enum sandbox_mode {
	/* seccomp always, Landlock where the system lets us (the default) */
	SANDBOX_AUTO,
	SANDBOX_FULL, /* seccomp and Landlock, or refuse to serve */
	SANDBOX_SECCOMP, /* seccomp only: the kernel has no Landlock */
	SANDBOX_OFF, /* nothing: the launcher's confinement only */
};

/* Who is being confined: each role has its own filter and rules. */
enum sandbox_role {
	SANDBOX_CONNECTION, /* serves one client: launched, or a child */
	SANDBOX_LISTENER, /* the high-rate parent: accepts and forks */
};

struct sandbox {
	enum sandbox_mode mode;
	int log_fd; /* where a violation is reported; -1: syslog */
	int proc; /* reads /proc after start (--allow-uid) */
	const char *files[SANDBOX_FILES_MAX]; /* more files read later */
	size_t nfiles;
};

/*
 * Starts sb in the given mode with no extra file; a violation is reported
 * on log_fd, or to syslog when log_fd is -1 (never pass the client's fd).
 */
void sandbox_init(struct sandbox *sb, enum sandbox_mode mode, int log_fd);

/*
 * Lets the sandboxed process read path (an --auth-file, a --config file),
 * which need not exist yet.  The string must outlive sb.  Returns 0, or -1
 * with errno E2BIG past SANDBOX_FILES_MAX files.
 */
int sandbox_allow_file(struct sandbox *sb, const char *path);

/*
 * Parses a --sandbox value: "auto", "full", "seccomp" or "off".  Returns
 * 0, or -1 with errno EINVAL.
 */
int sandbox_parse_mode(const char *text, enum sandbox_mode *mode);

/*
 * With --sandbox auto, why this process runs without Landlock: "refused"
 * (its calls fail with EPERM: a container's or service manager's seccomp
 * filter), "absent" (ENOSYS: a kernel without it) or "disabled" (not in
 * lsm= at boot); NULL when Landlock is applied or was not asked for.
 */
const char *sandbox_landlock_gap(void);

/*
 * Confines the calling process for its role, irreversibly: not dumpable,
 * resource limits, no new privileges, Landlock (SANDBOX_FULL; SANDBOX_AUTO
 * where the system has it and lets us use it, at the highest ABI the
 * kernel offers, see sandbox_landlock_gap()) and the seccomp filter, whose
 * forbidden calls are logged and kill the process.  A child of a confined
 * listener calls it again as a connection and is confined further, with a
 * short filter that adds to the listener's only what a connection refuses
 * (the result is the same).  SANDBOX_OFF makes the process not dumpable
 * and nothing else.  Returns 0, or -1 with errno and a message in err (of
 * errsize bytes) when the kernel lacks a feature the mode requires or a
 * step fails: the caller must not serve.  errno EMFILE or ENFILE means
 * there was no descriptor to build it with.
 */
int sandbox_apply(const struct sandbox *sb, enum sandbox_role role, char *err,
    size_t errsize);

#endif
