/*
 * A test-only LD_PRELOAD shim that makes connectd break its sandbox on
 * request: when a read(2) returns bytes holding "X-Connectd-Test-Violate",
 * it makes the call the header's value names (violate_as_parent()), or
 * else execve(2), which no role's seccomp filter allows.  The booted systemd tier loads it into
 * connectd@.service with a drop-in, so a real connection shows what a
 * compromised one would meet: killed and logged, not served.  tests/
 * sandbox.bats loads it into the high-rate mode, whose children must not
 * make the calls their parent may.  Never installed; nothing in connectd
 * knows of it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dlfcn.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static ssize_t (*real_read)(int, void *, size_t);
static pid_t loaded_in; /* in a high-rate child: its parent */

/* Looked up at load, before connectd confines itself. */
__attribute__((constructor)) static void
violate_init(void)
{
	void *sym = dlsym(RTLD_NEXT, "read");

	/* POSIX's way from dlsym(3) to a function pointer. */
	memcpy(&real_read, &sym, sizeof(real_read));
	loaded_in = getpid();
}

/*
 * Makes the call named, one the high-rate listener may make and its
 * children may not, each harmless should it be allowed; raw, so nothing
 * else runs first.  Returns 0, or -1 for a name it does not know.
 */
static int
violate_as_parent(const char *name)
{
	uint32_t action = SECCOMP_RET_KILL_PROCESS;

	if (strcmp(name, "fork") == 0) {
		if (syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) == 0)
			syscall(SYS_exit_group, 0);
	} else if (strcmp(name, "wait4") == 0)
		syscall(SYS_wait4, -1, NULL, WNOHANG, NULL);
	else if (strcmp(name, "prctl") == 0)
		syscall(SYS_prctl, PR_CAPBSET_READ, 0, 0, 0, 0);
	else if (strcmp(name, "signal") == 0) /* signal 0: only a check */
		syscall(SYS_tgkill, loaded_in, loaded_in, 0);
	else if (strcmp(name, "epoll") == 0)
		syscall(SYS_epoll_create1, 0);
	else if (strcmp(name, "seccomp") == 0)
		syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
	else if (strcmp(name, "landlock") == 0)
		syscall(SYS_landlock_create_ruleset, NULL, 0, 1);
	else
		return -1;
	return 0;
}

/* The call no role allows. */
static void
violate_execve(void)
{
	static char path[] = "/bin/true";
	char *argv[] = { path, NULL }, *envp[] = { NULL };

	syscall(SYS_execve, path, argv, envp);
}

/* Breaks the sandbox as the header at mark (in buf of n bytes) says. */
static void
violate(const char *mark, const char *buf, size_t n)
{
	static const char value[] = "X-Connectd-Test-Violate: ";
	char name[16] = "";
	size_t at = (size_t)(mark - buf) + sizeof(value) - 1, i = 0;

	while (
	    at < n && i < sizeof(name) - 1 && isalnum((unsigned char)buf[at]))
		name[i++] = buf[at++];
	/* Anything else, as the systemd tier's "1": execve(2). */
	if (violate_as_parent(name) == -1)
		violate_execve();
}

ssize_t
read(int fd, void *buf, size_t n)
{
	static const char mark[] = "X-Connectd-Test-Violate";
	ssize_t got = real_read(fd, buf, n);
	const char *at;

	if (got > 0 && (at = memmem(buf, (size_t)got, mark, sizeof(mark) - 1)))
		violate(at, buf, (size_t)got);
	return got;
}
