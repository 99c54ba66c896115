/*
 * sandbox_check: confines itself with connectd's own sandbox.c, then makes
 * one call a test names, so tests/sandbox.bats can show what the sandbox
 * allows, what it refuses, and that a forbidden call is logged and killed,
 * without any test-only way into connectd itself.
 *
 *   sandbox_check [-lsu] [-A file] [-m mode] ACTION [ARG]
 *
 * -l confines as the high-rate listener (default: a connection), -s
 * reports violations to syslog instead of fd 2, -u allows /proc as
 * --allow-uid does, -A adds a readable file, -m is a --sandbox mode.
 * Prints "applied", then the action's result; exits 0 after an allowed
 * action, 1 when it failed, 2 on a usage error or when the sandbox could
 * not be applied (its message on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../sandbox.h"

/* Reports the result of a call that returned rc, with errno. */
static int
check_report(const char *what, long rc)
{
	if (rc == -1) {
		printf("%s %s\n", what, strerror(errno));
		return 1;
	}
	printf("%s ok\n", what);
	return 0;
}

static int
check_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd != -1)
		close(fd);
	return check_report("open", fd);
}

static int
check_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid == -1 || waitpid(pid, &status, 0) == -1)
		return check_report("fork", -1);
	return check_report("fork", 0);
}

/* Runs ACTION; the forbidden ones do not come back. */
static int
check_action(const char *action, const char *arg)
{
	static char name[] = "true";
	char *const argv[] = { name, NULL };

	if (strcmp(action, "none") == 0)
		return check_report("none", 0);
	if (strcmp(action, "read") == 0 && arg != NULL)
		return check_open(arg, O_RDONLY);
	if (strcmp(action, "write") == 0 && arg != NULL)
		return check_open(arg, O_WRONLY);
	if (strcmp(action, "execve") == 0)
		return check_report("execve", execv("/bin/true", argv));
	if (strcmp(action, "packet-socket") == 0)
		return check_report("socket", socket(AF_PACKET, SOCK_RAW, 0));
	if (strcmp(action, "inet-socket") == 0)
		return check_report("socket", socket(AF_INET, SOCK_STREAM, 0));
	if (strcmp(action, "fork") == 0)
		return check_fork();
	if (strcmp(action, "kill") == 0 && arg != NULL)
		return check_report(
		    "kill", syscall(SYS_tgkill, atoi(arg), atoi(arg), SIGCONT));
	if (strcmp(action, "raise") == 0)
		return check_report("raise", raise(SIGCONT));
#ifdef __x86_64__
	if (strcmp(action, "x32") == 0)
		return check_report("x32", syscall(0x40000000 | SYS_getpid));
#endif
	fprintf(stderr, "sandbox_check: unknown action %s\n", action);
	return 2;
}

int
main(int argc, char *argv[])
{
	enum sandbox_mode mode = SANDBOX_FULL;
	enum sandbox_role role = SANDBOX_CONNECTION;
	struct sandbox sb;
	const char *files[SANDBOX_FILES_MAX];
	size_t nfiles = 0, i;
	int c, syslog = 0, proc = 0;
	char err[256];

	while ((c = getopt(argc, argv, "A:lm:su")) != -1) {
		switch (c) {
		case 'A':
			if (nfiles < SANDBOX_FILES_MAX)
				files[nfiles++] = optarg;
			break;
		case 'l':
			role = SANDBOX_LISTENER;
			break;
		case 'm':
			if (sandbox_parse_mode(optarg, &mode) == -1)
				return 2;
			break;
		case 's':
			syslog = 1;
			break;
		case 'u':
			proc = 1;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	sandbox_init(&sb, mode, syslog ? -1 : STDERR_FILENO);
	sb.proc = proc;
	for (i = 0; i < nfiles; i++)
		sandbox_allow_file(&sb, files[i]);
	if (sandbox_apply(&sb, role, err, sizeof(err)) == -1) {
		fprintf(stderr, "sandbox_check: %s\n", err);
		return 2;
	}
	printf("applied\n");
	fflush(stdout);
	return check_action(argv[optind], argv[optind + 1]);
}
