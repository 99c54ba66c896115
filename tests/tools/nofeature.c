/*
 * nofeature: runs a command as on a kernel that lacks a sandbox feature, so
 * tests can see connectd refuse to serve unconfined.  A seccomp filter makes
 * the feature's system calls fail as such a kernel fails them:
 *
 *   nofeature landlock CMD...   landlock_create_ruleset: EOPNOTSUPP (the
 *                               kernel has Landlock, not enabled at boot)
 *   nofeature landlock-absent CMD...
 *                               landlock_create_ruleset: ENOSYS (a kernel
 *                               before 5.13, or built without it)
 *   nofeature landlock-refused CMD...
 *                               every Landlock call: EPERM (a container's
 *                               seccomp filter, as systemd-nspawn 252's)
 *   nofeature seccomp CMD...    seccomp(2) and PR_SET_SECCOMP: EINVAL (no
 *                               CONFIG_SECCOMP_FILTER)
 *
 * Sets no_new_privs (required to install the filter); exits 2 on a usage
 * error, 1 when the filter or the exec fails.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LD_NR                                                                  \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define FAIL(nr, e)                                                            \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                       \
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter no_landlock[] = {
	LD_NR,
	FAIL(__NR_landlock_create_ruleset, EOPNOTSUPP),
	ALLOW,
};

static struct sock_filter absent_landlock[] = {
	LD_NR,
	FAIL(__NR_landlock_create_ruleset, ENOSYS),
	FAIL(__NR_landlock_add_rule, ENOSYS),
	FAIL(__NR_landlock_restrict_self, ENOSYS),
	ALLOW,
};

static struct sock_filter refused_landlock[] = {
	LD_NR,
	FAIL(__NR_landlock_create_ruleset, EPERM),
	FAIL(__NR_landlock_add_rule, EPERM),
	FAIL(__NR_landlock_restrict_self, EPERM),
	ALLOW,
};

/* PR_SET_SECCOMP is prctl's option 22, its first argument. */
static struct sock_filter no_seccomp[] = {
	LD_NR,
	FAIL(__NR_seccomp, EINVAL),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_SECCOMP, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
	ALLOW,
};

int
main(int argc, char *argv[])
{
	struct sock_fprog prog;

	if (argc < 3)
		return 2;
	if (strcmp(argv[1], "landlock") == 0) {
		prog.filter = no_landlock;
		prog.len = sizeof(no_landlock) / sizeof(no_landlock[0]);
	} else if (strcmp(argv[1], "landlock-absent") == 0) {
		prog.filter = absent_landlock;
		prog.len = sizeof(absent_landlock) / sizeof(absent_landlock[0]);
	} else if (strcmp(argv[1], "landlock-refused") == 0) {
		prog.filter = refused_landlock;
		prog.len = sizeof(refused_landlock) /
		    sizeof(refused_landlock[0]);
	} else if (strcmp(argv[1], "seccomp") == 0) {
		prog.filter = no_seccomp;
		prog.len = sizeof(no_seccomp) / sizeof(no_seccomp[0]);
	} else {
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1) {
		perror("nofeature");
		return 1;
	}
	execvp(argv[2], argv + 2);
	perror("nofeature: exec");
	return 1;
}
