/*
 * The in-process sandbox.  Each role's seccomp filter is a constant BPF
 * list below, made of position-independent blocks, so the kernel's
 * per-syscall cache answers the unconditional calls without running it;
 * the list is laid out as a tree of comparisons before it is installed.
 * Landlock allows reading the files connectd still opens and nothing else;
 * a forbidden call raises SIGSYS, whose handler writes one line to the log
 * and lets the kernel kill the process.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

/*
 * Descriptors one connection can hold at once: fds 0-2 and the launcher's,
 * the log socket, the resolver's file and its two sockets, every Happy
 * Eyeballs attempt (2 * DIAL_MAX_ADDRS), the relay's two pipes, the auth
 * file and a library being loaded: 47, rounded up.
 */
#define SANDBOX_NOFILE 64

/* The filter is written for these; elsewhere only --sandbox=off runs. */
#if defined(__x86_64__) && !defined(__ILP32__)
#define SANDBOX_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SANDBOX_ARCH AUDIT_ARCH_AARCH64
#endif

/* Landlock rights newer than the oldest headers we build with. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#define SANDBOX_LL_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#define SANDBOX_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define SANDBOX_LL_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */

/* struct landlock_ruleset_attr as of ABI 6; older kernels read a prefix. */
struct sandbox_ll_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/*
 * Read after start by every role: the resolver's two files (resolve.c
 * reads no other: no nsswitch.conf, no NSS module), the zone file
 * syslog(3) stamps lines with, and the loader's cache for the one library
 * loaded late (libcrypt, with --auth-file).
 */
static const char *const sandbox_system_files[] = {
	"/etc/hosts",
	"/etc/resolv.conf",
	"/etc/localtime",
	"/etc/ld.so.cache",
};

/* Where that library lives. */
static const char *const sandbox_lib_dirs[] = {
	"/lib",
	"/lib64",
	"/usr/lib",
	"/usr/lib64",
	"/usr/local/lib",
};

/* What the SIGSYS handler needs: set before the filter, read in it. */
static int sandbox_log_fd = -1;
static int sandbox_armed; /* the handler is installed (a child inherits it) */
/*
 * The listener's filter is installed: fork(2) copies this flag as the
 * kernel copies the filter, so a child knows what it already runs under.
 */
static int sandbox_under_listener;
/* --sandbox auto without Landlock: why (sandbox_landlock_gap()). */
static const char *sandbox_ll_gap;

const char *
sandbox_landlock_gap(void)
{
	return sandbox_ll_gap;
}

int
sandbox_parse_mode(const char *text, enum sandbox_mode *mode)
{
	if (strcmp(text, "auto") == 0)
		*mode = SANDBOX_AUTO;
	else if (strcmp(text, "full") == 0)
		*mode = SANDBOX_FULL;
	else if (strcmp(text, "seccomp") == 0)
		*mode = SANDBOX_SECCOMP;
	else if (strcmp(text, "off") == 0)
		*mode = SANDBOX_OFF;
	else {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
sandbox_init(struct sandbox *sb, enum sandbox_mode mode, int log_fd)
{
	memset(sb, 0, sizeof(*sb));
	sb->mode = mode;
	sb->log_fd = log_fd;
}

int
sandbox_allow_file(struct sandbox *sb, const char *path)
{
	if (sb->nfiles == SANDBOX_FILES_MAX) {
		errno = E2BIG;
		return -1;
	}
	sb->files[sb->nfiles++] = path;
	return 0;
}

#ifdef SANDBOX_ARCH
/*
 * The filters.  Every block starts with the syscall number in A, tests it,
 * and either skips itself whole (A unchanged) or ends in a return, so the
 * blocks need no labels and the programs are constant.
 */
#define SB_ARG(i) (offsetof(struct seccomp_data, args) + 8 * (i)) /* low half */
#define SB_LD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define SB_RET(action) BPF_STMT(BPF_RET | BPF_K, (action))
#define SB_JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define SB_JSET(k, t, f) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f))
#define SB_TRAP SB_RET(SECCOMP_RET_TRAP)
#define SB_ALLOWED SB_RET(SECCOMP_RET_ALLOW)

/* nr is allowed. */
#define SB_ALLOW(nr) SB_JEQ((nr), 0, 1), SB_ALLOWED
/* nr fails with errno e. */
#define SB_ERRNO(nr, e)                                                        \
	SB_JEQ((nr), 0, 1), SB_RET(SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))
/* nr is allowed when argument i is v. */
#define SB_ARG_EQ(nr, i, v)                                                    \
	SB_JEQ((nr), 0, 4), SB_LD(SB_ARG(i)), SB_JEQ((v), 0, 1), SB_ALLOWED,   \
	    SB_TRAP
/* nr is allowed unless argument i is v. */
#define SB_ARG_NE(nr, i, v)                                                    \
	SB_JEQ((nr), 0, 4), SB_LD(SB_ARG(i)), SB_JEQ((v), 0, 1), SB_TRAP,      \
	    SB_ALLOWED
/* nr is allowed when argument i has none of the bits of m. */
#define SB_ARG_CLEAR(nr, i, m)                                                 \
	SB_JEQ((nr), 0, 4), SB_LD(SB_ARG(i)), SB_JSET((m), 0, 1), SB_TRAP,     \
	    SB_ALLOWED
/* nr is allowed when the bits m of argument i are v. */
#define SB_ARG_MASKED(nr, i, m, v)                                             \
	SB_JEQ((nr), 0, 5), SB_LD(SB_ARG(i)),                                  \
	    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, (m)), SB_JEQ((v), 0, 1),       \
	    SB_ALLOWED, SB_TRAP
/* nr is allowed when argument i is a or b. */
#define SB_ARG_IN2(nr, i, a, b)                                                \
	SB_JEQ((nr), 0, 5), SB_LD(SB_ARG(i)), SB_JEQ((a), 2, 0),               \
	    SB_JEQ((b), 1, 0), SB_TRAP, SB_ALLOWED
/* nr is allowed when argument i is one of a to c. */
#define SB_ARG_IN3(nr, i, a, b, c)                                             \
	SB_JEQ((nr), 0, 6), SB_LD(SB_ARG(i)), SB_JEQ((a), 3, 0),               \
	    SB_JEQ((b), 2, 0), SB_JEQ((c), 1, 0), SB_TRAP, SB_ALLOWED
/* nr is allowed when argument i is one of a to f. */
#define SB_ARG_IN6(nr, i, a, b, c, d, e, f)                                    \
	SB_JEQ((nr), 0, 9), SB_LD(SB_ARG(i)), SB_JEQ((a), 6, 0),               \
	    SB_JEQ((b), 5, 0), SB_JEQ((c), 4, 0), SB_JEQ((d), 3, 0),           \
	    SB_JEQ((e), 2, 0), SB_JEQ((f), 1, 0), SB_TRAP, SB_ALLOWED

/*
 * The architecture the filter was written for, or the numbers mean other
 * calls; on x86_64 the x32 ABI's numbers too (bit 30) are refused.
 */
#ifdef __x86_64__
#define SB_X32 , BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1), SB_TRAP
#else
#define SB_X32
#endif
#define SB_HEAD                                                                \
	SB_LD(offsetof(struct seccomp_data, arch)),                            \
	    SB_JEQ(SANDBOX_ARCH, 1, 0), SB_TRAP,                               \
	    SB_LD(offsetof(struct seccomp_data, nr)) SB_X32

/*
 * Signals to this process only (abort(3), raise(3)): the pid is patched in
 * at SANDBOX_PID_AT.
 */
#define SB_SELF_SIGNALS                                                        \
	SB_JEQ(__NR_tgkill, 1, 0), SB_JEQ(__NR_rt_sigqueueinfo, 0, 4),         \
	    SB_LD(SB_ARG(0)), SB_JEQ(0, 0, 1), SB_ALLOWED, SB_TRAP

/* Legacy calls some architectures lack. */
#ifdef __NR_poll
#define SB_POLL SB_ALLOW(__NR_poll),
#else
#define SB_POLL
#endif
#ifdef __NR_time
#define SB_TIME SB_ALLOW(__NR_time),
#else
#define SB_TIME
#endif

/* Namespace flags: no clone may make a namespace. */
#define SB_NS_FLAGS                                                            \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |         \
	    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

/*
 * Sockets: TCP and UDP to dial and resolve, AF_UNIX for syslog, netlink
 * for sock_diag (--allow-uid) only: the resolver is connectd's own, so
 * nothing asks the routing table (as getaddrinfo(3) did to sort).
 */
#define SB_SOCKET                                                              \
	SB_JEQ(__NR_socket, 0, 9), SB_LD(SB_ARG(0)), SB_JEQ(AF_INET, 6, 0),    \
	    SB_JEQ(AF_INET6, 5, 0), SB_JEQ(AF_UNIX, 4, 0),                     \
	    SB_JEQ(AF_NETLINK, 0, 2), SB_LD(SB_ARG(2)),                        \
	    SB_JEQ(NETLINK_SOCK_DIAG, 1, 0), SB_TRAP, SB_ALLOWED

/*
 * What a connection does from its request to its exit, and so what every
 * role allows: the hot calls first.  Files open read-only (Landlock says
 * which); memory is never made executable after the fact.
 */
#define SB_CONNECTION_CALLS                                                    \
	SB_ALLOW(__NR_read), SB_ALLOW(__NR_write), SB_ALLOW(__NR_splice),      \
	    SB_POLL SB_ALLOW(__NR_ppoll), SB_ALLOW(__NR_writev),               \
	    SB_ALLOW(__NR_readv), SB_ALLOW(__NR_close), SB_ALLOW(__NR_sendto), \
	    SB_ALLOW(__NR_recvfrom), SB_ALLOW(__NR_sendmsg),                   \
	    SB_ALLOW(__NR_recvmsg), SB_ALLOW(__NR_sendmmsg),                   \
	    SB_ALLOW(__NR_recvmmsg), SB_ALLOW(__NR_connect),                   \
	    SB_ALLOW(__NR_bind), SB_ALLOW(__NR_shutdown),                      \
	    SB_ALLOW(__NR_getsockopt), SB_ALLOW(__NR_setsockopt),              \
	    SB_ALLOW(__NR_getsockname), SB_ALLOW(__NR_getpeername),            \
	    SB_ALLOW(__NR_pipe2), SB_ALLOW(__NR_dup),                          \
	    SB_ALLOW(__NR_signalfd4), SB_ALLOW(__NR_clock_gettime),            \
	    SB_ALLOW(__NR_clock_getres), SB_ALLOW(__NR_gettimeofday),          \
	    SB_TIME SB_ALLOW(__NR_nanosleep), SB_ALLOW(__NR_clock_nanosleep),  \
	    SB_ALLOW(__NR_getrandom), SB_ALLOW(__NR_brk),                      \
	    SB_ALLOW(__NR_munmap), SB_ALLOW(__NR_mremap),                      \
	    SB_ALLOW(__NR_madvise), SB_ALLOW(__NR_futex),                      \
	    SB_ALLOW(__NR_set_robust_list), SB_ALLOW(__NR_rseq),               \
	    SB_ALLOW(__NR_rt_sigprocmask), SB_ALLOW(__NR_rt_sigreturn),        \
	    SB_ALLOW(__NR_sigaltstack), SB_ALLOW(__NR_restart_syscall),        \
	    SB_ALLOW(__NR_sched_yield), SB_ALLOW(__NR_sched_getaffinity),      \
	    SB_ALLOW(__NR_exit), SB_ALLOW(__NR_exit_group),                    \
	    SB_ALLOW(__NR_getpid), SB_ALLOW(__NR_gettid),                      \
	    SB_ALLOW(__NR_getuid), SB_ALLOW(__NR_geteuid),                     \
	    SB_ALLOW(__NR_getgid), SB_ALLOW(__NR_getegid),                     \
	    SB_ALLOW(__NR_uname), SB_ALLOW(__NR_sysinfo),                      \
	    SB_ALLOW(__NR_lseek), SB_ALLOW(__NR_pread64),                      \
	    SB_ALLOW(__NR_fstat), SB_ALLOW(__NR_newfstatat),                   \
	    SB_ARG_CLEAR(                                                      \
		__NR_openat, 2, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC),        \
	    SB_SOCKET,                                                         \
	    SB_ARG_IN6(__NR_fcntl, 1, F_GETFD, F_SETFD, F_GETFL, F_SETFL,      \
		F_SETPIPE_SZ, F_GETPIPE_SZ),                                   \
	    SB_ARG_IN3(__NR_ioctl, 1, FIONREAD, SIOCATMARK, SIOCOUTQ),         \
	    SB_JEQ(__NR_mmap, 0, 6), SB_LD(SB_ARG(2)),                         \
	    SB_JSET(PROT_EXEC, 0, 3), SB_LD(SB_ARG(3)),                        \
	    SB_JSET(MAP_ANONYMOUS, 0, 1), SB_TRAP, SB_ALLOWED,                 \
	    SB_ARG_CLEAR(__NR_mprotect, 2, PROT_EXEC),                         \
	    SB_ARG_NE(__NR_rt_sigaction, 0, SIGSYS),                           \
	    SB_ERRNO(__NR_clone3, ENOSYS) /* glibc falls back to clone */

/*
 * The AddressSanitizer build only, which tests run and nobody deploys:
 * at exit LeakSanitizer stops the world with a tracer task that ptraces
 * every thread and reads /proc, and a report checks whether fd 2 is a tty.
 * Its runtime makes x86_64's legacy calls (open, stat, getdents).
 */
#if defined(__SANITIZE_ADDRESS__) && defined(__x86_64__)
#define SB_SANITIZER_CALLS                                                     \
	SB_ALLOW(__NR_ptrace), SB_ALLOW(__NR_prctl), SB_ALLOW(__NR_wait4),     \
	    SB_ALLOW(__NR_getppid), SB_ALLOW(__NR_open), SB_ALLOW(__NR_stat),  \
	    SB_ALLOW(__NR_lstat), SB_ALLOW(__NR_readlink),                     \
	    SB_ALLOW(__NR_getdents), SB_ALLOW(__NR_getdents64),                \
	    SB_ALLOW(__NR_ioctl), SB_ARG_CLEAR(__NR_clone, 0, SB_NS_FLAGS),
#define SANDBOX_SANITIZER 1 /* and it lists /proc/PID/task */
#else
#define SB_SANITIZER_CALLS
#define SANDBOX_SANITIZER 0
#endif

/* Index of the pid in SB_SELF_SIGNALS, right after SB_HEAD. */
#ifdef __x86_64__
#define SANDBOX_PID_AT (6 + 3)
#else
#define SANDBOX_PID_AT (4 + 3)
#endif

/*
 * A spare of the high-rate mode waits in accept(2) on epoll; with --reuse
 * it does again under the connection filter, and compares its limits.
 */
#ifdef __NR_epoll_wait
#define SB_EPOLL_WAIT SB_ALLOW(__NR_epoll_wait),
#else
#define SB_EPOLL_WAIT
#endif
#define SB_SPARE_CALLS                                                         \
	SB_ALLOW(__NR_accept4), SB_EPOLL_WAIT SB_ALLOW(__NR_epoll_pwait),      \
	    SB_ARG_EQ(__NR_prlimit64, 0, 0)

/*
 * One connection: no new process and no thread (nothing in connectd makes
 * one; the resolver is its own poll(2) loop).
 */
static const struct sock_filter sandbox_connection_prog[] = {
	SB_HEAD,
	SB_SELF_SIGNALS,
	SB_SANITIZER_CALLS SB_CONNECTION_CALLS,
	SB_SPARE_CALLS,
	SB_TRAP,
};

/*
 * The high-rate parent: accepts, forks and reaps; tells systemd it is ready
 * (libsystemd's libcap reads the bounding set as it loads); and allows what
 * each child needs to confine itself further as a connection.
 */
static const struct sock_filter sandbox_listener_prog[] = {
	SB_HEAD,
	SB_ALLOW(__NR_tgkill),
	SB_ALLOW(__NR_rt_sigqueueinfo),
	SB_SANITIZER_CALLS SB_CONNECTION_CALLS,
	SB_SPARE_CALLS,
	SB_ALLOW(__NR_epoll_create1),
	SB_ALLOW(__NR_epoll_ctl),
	SB_ALLOW(__NR_wait4),
	SB_ARG_CLEAR(__NR_clone, 0, SB_NS_FLAGS),
	SB_ARG_IN2(__NR_prctl, 0, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_READ),
	SB_ALLOW(__NR_seccomp),
	SB_ALLOW(__NR_landlock_create_ruleset),
	SB_ALLOW(__NR_landlock_add_rule),
	SB_ALLOW(__NR_landlock_restrict_self),
	SB_TRAP,
};

/* A call the filter refuses, whatever its arguments. */
#define SB_DENY(nr) SB_JEQ((nr), 0, 1), SB_TRAP

/*
 * In the AddressSanitizer build both roles allow wait4, every prctl and
 * every clone without namespace flags (SB_SANITIZER_CALLS), so a child
 * need not refuse them; elsewhere a connection has no wait4, no prctl and
 * no clone.
 */
#if SANDBOX_SANITIZER
#define SB_CHILD_NO_PROCESS
#else
#define SB_CHILD_NO_PROCESS                                                    \
	SB_DENY(__NR_wait4), SB_DENY(__NR_prctl), SB_DENY(__NR_clone),
#endif

/*
 * A child of the high-rate mode, which runs under the listener's filter
 * inherited across fork(2): seccomp runs every filter of a process and the
 * strictest answer wins, so this one refuses only what the listener allows
 * and a connection does not, and allows the rest.  Both together allow
 * exactly what sandbox_connection_prog does: the listener differs from it
 * in signals to any process, in the epoll set-up, wait4, prctl and clone
 * of a parent, and in the calls that confine a child; the blocks both
 * share answer the same in both, and the listener refuses all the rest.
 * The kernel compiles a dozen blocks for each child, not the whole list.
 */
static const struct sock_filter sandbox_child_prog[] = {
	SB_HEAD,
	SB_SELF_SIGNALS,
	SB_CHILD_NO_PROCESS SB_DENY(__NR_epoll_create1),
	SB_DENY(__NR_epoll_ctl),
	SB_DENY(__NR_seccomp),
	SB_DENY(__NR_landlock_create_ruleset),
	SB_DENY(__NR_landlock_add_rule),
	SB_DENY(__NR_landlock_restrict_self),
	SB_ALLOWED,
};

/*
 * The filters as the kernel gets them.  To find the calls a filter always
 * allows, the kernel (5.11 on: seccomp_cache_prepare in kernel/seccomp.c)
 * runs it at install time for every system call number of both ABIs, up
 * to a return or an argument load: down a list, some 80 tests for each of
 * the 900 numbers, half of what installing connectd's list cost.  Every
 * call the cache cannot answer walks the list too.  The same blocks behind
 * a balanced tree of comparisons of the number take at most a dozen steps.
 * The tree is built from the lists in each process (a few microseconds,
 * after the pid is patched in), so they stay the one statement of what
 * each role may do.
 */
#define SB_TREE_IN_MAX 256 /* instructions of a list */
#define SB_TREE_SPANS (2 * SB_TREE_IN_MAX + 1)
#define SB_TREE_MAX 512 /* instructions of a tree */
#define SB_JUMP_MAX 255 /* jt and jf are 8 bits; BPF_JA's k is 32 */
_Static_assert(NELEM(sandbox_connection_prog) <= SB_TREE_IN_MAX &&
	NELEM(sandbox_listener_prog) <= SB_TREE_IN_MAX,
    "sandbox_tree() takes lists of up to SB_TREE_IN_MAX instructions");

static const struct sock_filter sandbox_head[] = { SB_HEAD };
#define SB_HEAD_LEN NELEM(sandbox_head)

/* A number the list tests, and where it goes once it matched. */
struct sb_key {
	uint32_t nr;
	uint16_t at; /* the first instruction that is no jump */
};

/* The numbers from lo to the next span's lo all go to instruction to. */
struct sb_span {
	uint32_t lo;
	uint16_t to;
};

/* A list being laid out as a tree; indexes are the list's. */
struct sb_tree {
	const struct sock_filter *in;
	size_t len;
	struct sb_key keys[SB_TREE_IN_MAX];
	size_t nkeys;
	uint16_t dflt; /* where the numbers tested nowhere go */
	struct sb_span spans[SB_TREE_SPANS];
	size_t nspans;
	uint8_t kept[SB_TREE_IN_MAX]; /* reached from a span's instruction */
	uint16_t rank[SB_TREE_IN_MAX]; /* a kept one's place among them */
	size_t nkept;
	uint8_t far[SB_TREE_SPANS][2]; /* a node's jf, jt go through a JA */
	struct sock_filter *out;
	size_t body; /* where the kept instructions start in out */
};

/* Where the jump at pc goes when A holds a; -1 if it is none or leaves. */
static long
sb_jump(const struct sock_filter *in, size_t len, size_t pc, uint32_t a)
{
	const struct sock_filter *j = &in[pc];
	size_t next;

	switch (j->code) {
	case BPF_JMP | BPF_JA:
		next = pc + 1 + j->k;
		break;
	case BPF_JMP | BPF_JEQ | BPF_K:
		next = pc + 1 + (a == j->k ? j->jt : j->jf);
		break;
	case BPF_JMP | BPF_JGE | BPF_K:
		next = pc + 1 + (a >= j->k ? j->jt : j->jf);
		break;
	case BPF_JMP | BPF_JGT | BPF_K:
		next = pc + 1 + (a > j->k ? j->jt : j->jf);
		break;
	case BPF_JMP | BPF_JSET | BPF_K:
		next = pc + 1 + ((a & j->k) != 0 ? j->jt : j->jf);
		break;
	default:
		return -1;
	}
	return next < len ? (long)next : -1;
}

/*
 * The first instruction from pc on that is no jump, with the number nr in
 * A: where the list runs nr's own block.  -1 if a jump leaves the list.
 */
static long
sb_resolve(const struct sock_filter *in, size_t len, size_t pc, uint32_t nr)
{
	long next = (long)pc;

	while (next != -1 && BPF_CLASS(in[next].code) == BPF_JMP)
		next = sb_jump(in, len, (size_t)next, nr);
	return next;
}

/*
 * The first return in the list's blocks that returns what the one at pc
 * does, so that leaves share it; pc itself when it is no return.
 */
static uint16_t
sb_first_ret(const struct sb_tree *t, uint16_t pc)
{
	size_t i;

	if (BPF_CLASS(t->in[pc].code) != BPF_RET)
		return pc;
	for (i = SB_HEAD_LEN; i < pc; i++)
		if (t->in[i].code == t->in[pc].code &&
		    t->in[i].k == t->in[pc].k)
			return (uint16_t)i;
	return pc;
}

/*
 * Follows the chain of tests of the number that starts after the head: a
 * number it tests goes where its first test leads, any other to the
 * chain's end.  Returns 0, or -1 when the chain holds a test that is no
 * JEQ (no key to sort) or leaves the list.
 */
static int
sb_tree_keys(struct sb_tree *t)
{
	size_t pc = SB_HEAD_LEN;
	long at;

	for (;;) {
		const struct sock_filter *j = &t->in[pc];

		if (j->code == (BPF_JMP | BPF_JEQ | BPF_K)) {
			if ((at = sb_resolve(t->in, t->len, pc, j->k)) == -1)
				return -1;
			t->keys[t->nkeys].nr = j->k;
			t->keys[t->nkeys++].at = sb_first_ret(t, (uint16_t)at);
		} else if (j->code != (BPF_JMP | BPF_JA))
			break;
		/* On down the chain, as any number but the one tested. */
		if ((at = sb_jump(t->in, t->len, pc, ~j->k)) == -1)
			return -1;
		pc = (size_t)at;
	}
	if (BPF_CLASS(t->in[pc].code) == BPF_JMP)
		return -1;
	t->dflt = sb_first_ret(t, (uint16_t)pc);
	return 0;
}

/*
 * Sorts the keys by number.  An insertion sort: stable, so a number's
 * first test stays first, and faster than qsort(3) on a hundred keys.
 */
static void
sb_tree_sort(struct sb_tree *t)
{
	size_t i, j;

	for (i = 1; i < t->nkeys; i++) {
		struct sb_key k = t->keys[i];

		for (j = i; j > 0 && t->keys[j - 1].nr > k.nr; j--)
			t->keys[j] = t->keys[j - 1];
		t->keys[j] = k;
	}
}

/* Ends the spans with one from lo to instruction to, merging equal ones. */
static void
sb_span_add(struct sb_tree *t, uint32_t lo, uint16_t to)
{
	if (t->nspans > 0 && t->spans[t->nspans - 1].lo == lo)
		t->nspans--; /* a key right after a key */
	if (t->nspans > 0 && t->spans[t->nspans - 1].to == to)
		return;
	t->spans[t->nspans].lo = lo;
	t->spans[t->nspans++].to = to;
}

/* Cuts the numbers into spans that each go to one instruction. */
static void
sb_tree_spans(struct sb_tree *t)
{
	size_t i;

	sb_tree_sort(t);
	sb_span_add(t, 0, t->dflt);
	for (i = 0; i < t->nkeys; i++) {
		const struct sb_key *k = &t->keys[i];

		if (i > 0 && k->nr == k[-1].nr)
			continue; /* a later test of a number never runs */
		sb_span_add(t, k->nr, k->at);
		if (k->nr != UINT32_MAX)
			sb_span_add(t, k->nr + 1, t->dflt);
	}
}

/* Marks the instruction at pc kept; -1 past the end of the list. */
static int
sb_keep(struct sb_tree *t, size_t pc)
{
	if (pc >= t->len)
		return -1;
	t->kept[pc] = 1;
	return 0;
}

/*
 * Keeps the instructions the spans lead to and all that follow from them
 * (jumps go forward only), and ranks them.  Returns 0, or -1 when one runs
 * off the end of the list.
 */
static int
sb_tree_keep(struct sb_tree *t)
{
	size_t i, pc;
	int rc = 0;

	for (i = 0; i < t->nspans; i++)
		t->kept[t->spans[i].to] = 1;
	for (pc = SB_HEAD_LEN; pc < t->len && rc == 0; pc++) {
		const struct sock_filter *f = &t->in[pc];

		if (!t->kept[pc])
			continue;
		t->rank[pc] = (uint16_t)t->nkept++;
		if (f->code == (BPF_JMP | BPF_JA))
			rc = sb_keep(t, pc + 1 + f->k);
		else if (BPF_CLASS(f->code) == BPF_JMP)
			rc = sb_keep(t, pc + 1 + f->jt) |
			    sb_keep(t, pc + 1 + f->jf);
		else if (BPF_CLASS(f->code) != BPF_RET)
			rc = sb_keep(t, pc + 1);
	}
	return rc;
}

/* Instructions of the subtree over spans i to j: one a node, its JAs. */
static size_t
sb_tree_size(const struct sb_tree *t, size_t i, size_t j)
{
	size_t mid = (i + j + 1) / 2;

	if (i == j)
		return 0; /* a leaf is the parent's jump */
	return 1 + t->far[mid][0] + t->far[mid][1] +
	    sb_tree_size(t, i, mid - 1) + sb_tree_size(t, mid, j);
}

/*
 * Points the jt (taken) or jf edge of the node at out[node] to dest,
 * through a BPF_JA at stub when it has one.  Returns 0, or -1 when dest
 * is too far for 8 bits: the edge gets a JA the next time.
 */
static int
sb_tree_edge(struct sb_tree *t, size_t mid, int taken, size_t node, size_t stub,
    size_t dest)
{
	if (stub != 0) {
		t->out[stub] = (struct sock_filter)BPF_STMT(
		    BPF_JMP | BPF_JA, (uint32_t)(dest - stub - 1));
		dest = stub;
	}
	if (dest - node - 1 > SB_JUMP_MAX) {
		t->far[mid][taken] = 1;
		return -1;
	}
	if (taken)
		t->out[node].jt = (uint8_t)(dest - node - 1);
	else
		t->out[node].jf = (uint8_t)(dest - node - 1);
	return 0;
}

/* Where the leaf of span i jumps to in out. */
static size_t
sb_tree_leaf(const struct sb_tree *t, size_t i)
{
	return t->body + t->rank[t->spans[i].to];
}

/*
 * Writes the subtree over spans i to j (two or more) at out[*at]: a node
 * tests whether the number reaches the middle span, then the lower half,
 * then the upper.  Returns 0, or -1 when an edge was too far.
 */
static int
sb_tree_node(struct sb_tree *t, size_t i, size_t j, size_t *at)
{
	size_t mid = (i + j + 1) / 2, node = (*at)++, stub[2] = { 0, 0 };
	size_t lower, upper;
	int rc = 0;

	t->out[node] = (struct sock_filter)BPF_JUMP(
	    BPF_JMP | BPF_JGE | BPF_K, t->spans[mid].lo, 0, 0);
	if (t->far[mid][1])
		stub[1] = (*at)++;
	if (t->far[mid][0])
		stub[0] = (*at)++;
	lower = *at;
	if (mid - 1 > i)
		rc |= sb_tree_node(t, i, mid - 1, at);
	else
		lower = sb_tree_leaf(t, i);
	upper = *at;
	if (j > mid)
		rc |= sb_tree_node(t, mid, j, at);
	else
		upper = sb_tree_leaf(t, j);
	rc |= sb_tree_edge(t, mid, 0, node, stub[0], lower);
	rc |= sb_tree_edge(t, mid, 1, node, stub[1], upper);
	return rc;
}

/* Copies the kept instructions after the tree, their jumps shortened. */
static void
sb_tree_bodies(struct sb_tree *t)
{
	size_t pc;

	for (pc = SB_HEAD_LEN; pc < t->len; pc++) {
		struct sock_filter f = t->in[pc];
		uint16_t r = t->rank[pc];

		if (!t->kept[pc])
			continue;
		if (f.code == (BPF_JMP | BPF_JA))
			f.k = (uint32_t)(t->rank[pc + 1 + f.k] - r - 1);
		else if (BPF_CLASS(f.code) == BPF_JMP) {
			f.jt = (uint8_t)(t->rank[pc + 1 + f.jt] - r - 1);
			f.jf = (uint8_t)(t->rank[pc + 1 + f.jf] - r - 1);
		}
		t->out[t->body + r] = f;
	}
}

/*
 * Lays out the tree and the kept instructions after the head, giving
 * edges that reach too far a JA until none does.  Returns the length, or
 * 0 when it would not fit in outmax instructions.
 */
static size_t
sb_tree_layout(struct sb_tree *t, size_t outmax)
{
	size_t at;

	do {
		t->body = SB_HEAD_LEN +
		    (t->nspans == 1 ? 1 : sb_tree_size(t, 0, t->nspans - 1));
		if (t->body + t->nkept > outmax)
			return 0;
		at = SB_HEAD_LEN;
		if (t->nspans == 1) /* one answer for every number */
			t->out[at] = (struct sock_filter)BPF_STMT(
			    BPF_JMP | BPF_JA,
			    (uint32_t)(sb_tree_leaf(t, 0) - at - 1));
	} while (t->nspans > 1 && sb_tree_node(t, 0, t->nspans - 1, &at) == -1);
	memcpy(t->out, t->in, sizeof(sandbox_head));
	sb_tree_bodies(t);
	return t->body + t->nkept;
}

/*
 * Lays out prog, a list of len instructions (SB_HEAD, then blocks that
 * each test the number in A), as SB_HEAD, a balanced tree of BPF_JGE on
 * the number, and the blocks' instructions that the tree's leaves enter
 * with the number still in A.  Every input gets the answer the list
 * gives.  t is the scratch it works in.  Writes at most outmax
 * instructions to out and returns how many, or 0 with errno EINVAL when
 * prog is not of that form, or E2BIG when it or its tree is too long.
 */
static size_t
sandbox_tree(struct sb_tree *t, const struct sock_filter *prog, size_t len,
    struct sock_filter *out, size_t outmax)
{
	size_t n;

	if (len > SB_TREE_IN_MAX) {
		errno = E2BIG;
		return 0;
	}
	memset(t, 0, sizeof(*t));
	t->in = prog;
	t->len = len;
	t->out = out;
	if (len <= SB_HEAD_LEN ||
	    memcmp(prog, sandbox_head, sizeof(sandbox_head)) != 0 ||
	    sb_tree_keys(t) == -1) {
		errno = EINVAL;
		return 0;
	}
	sb_tree_spans(t);
	if (sb_tree_keep(t) == -1) {
		errno = EINVAL;
		return 0;
	}
	if ((n = sb_tree_layout(t, outmax)) == 0)
		errno = E2BIG;
	return n;
}

/*
 * What installing a filter works in, some 14 KiB: mapped for the install
 * and unmapped after it, since a process keeps every stack page it has
 * touched, and a held tunnel's process would keep these for its life.
 */
struct sb_scratch {
	struct sock_filter with_pid[NELEM(sandbox_connection_prog)];
	struct sock_filter tree[SB_TREE_MAX];
	struct sb_tree t;
};
#endif /* SANDBOX_ARCH */

/* Appends the decimal digits of v to p; async-signal-safe. */
static char *
sandbox_put_number(char *p, unsigned long v)
{
	char digits[24];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

static char *
sandbox_put_text(char *p, const char *s)
{
	while (*s != '\0')
		*p++ = *s++;
	return p;
}

/* Sends line to syslog as one datagram, as syslog(3) would; AS-safe. */
static void
sandbox_syslog(const char *line, size_t len)
{
	struct sockaddr_un log = { .sun_family = AF_UNIX };
	char msg[256], *p = msg;
	int fd;

	memcpy(log.sun_path, "/dev/log", sizeof("/dev/log"));
	/* LOG_DAEMON | LOG_ERR, as syslog(3) with LOG_PID writes it */
	p = sandbox_put_text(p, "<27>connectd[");
	p = sandbox_put_number(p, (unsigned long)getpid());
	p = sandbox_put_text(p, "]: ");
	memcpy(p, line, len);
	p += len;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	if (sendto(fd, msg, (size_t)(p - msg), 0, (struct sockaddr *)&log,
		sizeof(log)) == -1) {
		/* Nowhere left to say it: the death itself is the record. */
	}
	close(fd);
}

/*
 * SIGSYS from the filter: one line to the log, never to the client, then
 * a forbidden call.  SIGSYS is blocked in its own handler, so the kernel
 * kills the process with it: the exit status says SIGSYS (systemd:
 * status=31/SYS) and the call that broke the rules never ran.
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char line[160], *p = line;
	int saved = errno;

	(void)sig;
	(void)ctx;
	p = sandbox_put_text(p, "sandbox: forbidden system call ");
	p = sandbox_put_number(p, (unsigned long)si->si_syscall);
#ifdef SANDBOX_ARCH
	if (si->si_arch != SANDBOX_ARCH)
		p = sandbox_put_text(p, " of a foreign ABI");
#endif
	p = sandbox_put_text(p, ": killed");
	if (sandbox_log_fd >= 0) {
		char out[200], *q = out;

		q = sandbox_put_text(q, "connectd: ");
		memcpy(q, line, (size_t)(p - line));
		q += p - line;
		*q++ = '\n';
		if (write(sandbox_log_fd, out, (size_t)(q - out)) == -1) {
			/* as above */
		}
	} else {
		sandbox_syslog(line, (size_t)(p - line));
	}
	errno = saved;
	/* getsid is in no role's filter. */
	syscall(SYS_getsid, 0);
	_exit(EXIT_FAILURE);
}

/* Formats the message of a failed step; returns -1, errno kept. */
static int __attribute__((format(printf, 3, 4)))
sandbox_fail(char *err, size_t errsize, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

/* Lowers a limit, never raises it: a launcher's tighter limit stays. */
static int
sandbox_limit(int resource, rlim_t max)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) == -1)
		return -1;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > max)
		rl.rlim_max = max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max)
		rl.rlim_cur = rl.rlim_max;
	return setrlimit(resource, &rl);
}

/*
 * No core file: a tunnel's memory holds its traffic and, with --auth-file,
 * a password.  A connection gets the descriptors it can use, so a bug
 * cannot exhaust the system's; the listener keeps the launcher's limit for
 * its children to inherit and lower.
 */
static int
sandbox_limits(enum sandbox_role role, char *err, size_t errsize)
{
	if (sandbox_limit(RLIMIT_CORE, 0) == -1 ||
	    (role == SANDBOX_CONNECTION &&
		sandbox_limit(RLIMIT_NOFILE, SANDBOX_NOFILE) == -1))
		return sandbox_fail(
		    err, errsize, "resource limits: %s", strerror(errno));
	return 0;
}

/* The Landlock ABI the kernel speaks: 1 or more, or -1 with errno. */
static int
sandbox_landlock_abi(void)
{
	return (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
}

/* Everything Landlock can deny at abi, filesystem, network and scopes. */
static size_t
sandbox_landlock_attr(int abi, struct sandbox_ll_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	/* ABI 1: execute, write, read, remove and make anything. */
	attr->handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;
	if (abi >= 2)
		attr->handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr->handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr->handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi < 4)
		return offsetof(struct sandbox_ll_attr, handled_access_net);
	/* No TCP bind: connectd only dials (a listener bound before). */
	attr->handled_access_net = SANDBOX_LL_NET_BIND_TCP;
	if (abi < 6)
		return offsetof(struct sandbox_ll_attr, scoped);
	/* Signals and abstract sockets stay within this process's domain. */
	attr->scoped = SANDBOX_LL_SCOPE_SIGNAL | SANDBOX_LL_SCOPE_ABSTRACT_UNIX;
	return sizeof(*attr);
}

/*
 * Gives the ruleset the access rights to the file at path, or to every
 * file beneath it when it is a directory.  A path that does not exist is
 * no error: nothing will be opened there.  Returns 0, or -1 with errno.
 */
static int
sandbox_landlock_allow(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr rule = { .allowed_access = access };
	int rc, saved;

	rule.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset,
	    LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	saved = errno;
	close(rule.parent_fd);
	errno = saved;
	return rc;
}

/* Lets the ruleset read path, or every file beneath it. */
static int
sandbox_landlock_read(int ruleset, const char *path)
{
	return sandbox_landlock_allow(
	    ruleset, path, LANDLOCK_ACCESS_FS_READ_FILE);
}

/*
 * Lets the ruleset read every file in the directory that holds path, and
 * in the one that holds its final target: a file replaced by rename(2)
 * after the listener started is a new file, which its children must read.
 */
static int
sandbox_landlock_dirs(int ruleset, const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *paths[2] = { path, real };
	size_t i;

	if (realpath(path, real) == NULL)
		util_strlcpy(real, path, sizeof(real));
	for (i = 0; i < NELEM(paths); i++) {
		char *slash;

		if (util_strlcpy(dir, paths[i], sizeof(dir)) >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if ((slash = strrchr(dir, '/')) == NULL)
			util_strlcpy(dir, ".", sizeof(dir));
		else
			slash[slash == dir] = '\0';
		if (sandbox_landlock_read(ruleset, dir) == -1)
			return -1;
	}
	return 0;
}

/* Adds one read rule per file, or per directory for the listener. */
static int
sandbox_landlock_file(int ruleset, enum sandbox_role role, const char *path)
{
	if (role == SANDBOX_LISTENER)
		return sandbox_landlock_dirs(ruleset, path);
	return sandbox_landlock_read(ruleset, path);
}

/* The rules: what the role reads, nothing written anywhere. */
static int
sandbox_landlock_rules(
    int ruleset, const struct sandbox *sb, enum sandbox_role role)
{
	size_t i;

	for (i = 0; i < NELEM(sandbox_lib_dirs); i++)
		if (sandbox_landlock_read(ruleset, sandbox_lib_dirs[i]) == -1)
			return -1;
	for (i = 0; i < NELEM(sandbox_system_files); i++)
		if (sandbox_landlock_file(
			ruleset, role, sandbox_system_files[i]) == -1)
			return -1;
	for (i = 0; i < sb->nfiles; i++)
		if (sandbox_landlock_file(ruleset, role, sb->files[i]) == -1)
			return -1;
	/* peer.c reads the overflow uid and our uid map (--allow-uid). */
	if (sb->proc && sandbox_landlock_read(ruleset, "/proc") == -1)
		return -1;
	if (SANDBOX_SANITIZER &&
	    sandbox_landlock_allow(ruleset, "/proc",
		LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR) ==
		-1)
		return -1;
	/* The listener's spare descriptor, reopened after each use. */
	if (role == SANDBOX_LISTENER &&
	    sandbox_landlock_read(ruleset, "/dev/null") == -1)
		return -1;
	return 0;
}

/*
 * Why a Landlock call failed, when the system does not offer Landlock
 * rather than a step going wrong: "refused", "absent", "disabled" (see
 * sandbox_landlock_gap()), or NULL.
 */
static const char *
sandbox_landlock_missing(int err)
{
	switch (err) {
	case EPERM:
		return "refused";
	case ENOSYS:
		return "absent";
	case EOPNOTSUPP:
		return "disabled";
	default:
		return NULL;
	}
}

/* The message for a Landlock the system does not offer, by its errno. */
static int
sandbox_landlock_unavailable(char *err, size_t errsize, int e)
{
	switch (e) {
	case EPERM:
		return sandbox_fail(err, errsize,
		    "Landlock's calls were refused (%s): a seccomp filter "
		    "of the container or service manager forbids them, as "
		    "systemd-nspawn's does; allow them, or run with "
		    "--sandbox=auto",
		    strerror(e));
	case ENOSYS:
		return sandbox_fail(err, errsize,
		    "the kernel has no Landlock (%s): it needs Linux 5.13 or "
		    "later built with CONFIG_SECURITY_LANDLOCK; or run with "
		    "--sandbox=auto",
		    strerror(e));
	case EOPNOTSUPP:
		return sandbox_fail(err, errsize,
		    "the kernel has Landlock, disabled at boot: add landlock "
		    "to lsm=, or run with --sandbox=auto");
	default:
		return sandbox_fail(err, errsize, "Landlock: %s", strerror(e));
	}
}

/*
 * Applies Landlock; -1 with a message when the system does not offer it
 * (errno EPERM, ENOSYS or EOPNOTSUPP) or a step fails.
 */
static int
sandbox_landlock(
    const struct sandbox *sb, enum sandbox_role role, char *err, size_t errsize)
{
	struct sandbox_ll_attr attr;
	size_t size;
	int abi, ruleset, rc, saved;

	if ((abi = sandbox_landlock_abi()) == -1)
		return sandbox_landlock_unavailable(err, errsize, errno);
	size = sandbox_landlock_attr(abi, &attr);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset == -1 && sandbox_landlock_missing(errno) != NULL)
		return sandbox_landlock_unavailable(err, errsize, errno);
	if (ruleset == -1)
		return sandbox_fail(
		    err, errsize, "Landlock ruleset: %s", strerror(errno));
	rc = sandbox_landlock_rules(ruleset, sb, role);
	if (rc == -1)
		sandbox_fail(
		    err, errsize, "Landlock rule: %s", strerror(errno));
	else if ((rc = (int)syscall(SYS_landlock_restrict_self, ruleset, 0)) ==
	    -1)
		sandbox_fail(err, errsize, "Landlock: %s", strerror(errno));
	saved = errno;
	close(ruleset);
	errno = saved;
	return rc;
}

/*
 * Landlock as the mode asks: SANDBOX_FULL requires it; SANDBOX_AUTO goes
 * on without it where the system does not offer it (Landlock's own
 * documentation asks for best effort), noting why for the log.
 */
static int
sandbox_landlock_best(
    const struct sandbox *sb, enum sandbox_role role, char *err, size_t errsize)
{
	const char *gap;

	sandbox_ll_gap = NULL;
	if (sandbox_landlock(sb, role, err, errsize) == 0)
		return 0;
	if (sb->mode != SANDBOX_AUTO ||
	    (gap = sandbox_landlock_missing(errno)) == NULL)
		return -1;
	sandbox_ll_gap = gap;
	return 0;
}

/* Installs the SIGSYS handler once; a forked child keeps its parent's. */
static int
sandbox_arm(int log_fd)
{
	struct sigaction sa;

	sandbox_log_fd = log_fd;
	if (sandbox_armed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		return -1;
	sandbox_armed = 1;
	return 0;
}

#ifdef SANDBOX_ARCH
/*
 * The list for role, laid out as a tree: the listener's, or a connection's
 * whole list (under the listener's filter, sandbox_seccomp_child() installs
 * the short one as it is).
 */
static void
sandbox_prog_for(
    enum sandbox_role role, const struct sock_filter **prog, size_t *len)
{
	if (role == SANDBOX_LISTENER) {
		*prog = sandbox_listener_prog;
		*len = NELEM(sandbox_listener_prog);
	} else {
		*prog = sandbox_connection_prog;
		*len = NELEM(sandbox_connection_prog);
	}
}

/*
 * Copies the program into buf (of NELEM(sandbox_connection_prog), the
 * longest with a pid) with this process's pid in SB_SELF_SIGNALS.
 * Returns 0, or -1 with errno EINVAL when the pid slot is not there.
 */
static int
sandbox_with_pid(
    struct sock_filter *buf, const struct sock_filter *prog, size_t len)
{
	memcpy(buf, prog, len * sizeof(*prog));
	/* A wrong SANDBOX_PID_AT would leave the signals open: check. */
	if (len <= SANDBOX_PID_AT ||
	    buf[SANDBOX_PID_AT].code != (BPF_JMP | BPF_JEQ | BPF_K) ||
	    buf[SANDBOX_PID_AT].k != 0) {
		errno = EINVAL;
		return -1;
	}
	buf[SANDBOX_PID_AT].k = (uint32_t)getpid();
	return 0;
}

/*
 * Writes the role's filter into sc->tree, laid out as a tree; returns its
 * length, or 0 with the message in err.
 */
static size_t
sandbox_build(
    enum sandbox_role role, struct sb_scratch *sc, char *err, size_t errsize)
{
	const struct sock_filter *filter;
	size_t len, n;

	sandbox_prog_for(role, &filter, &len);
	if (role == SANDBOX_CONNECTION) {
		if (sandbox_with_pid(sc->with_pid, filter, len) == -1) {
			sandbox_fail(err, errsize, "seccomp: pid slot");
			return 0;
		}
		filter = sc->with_pid;
	}
	n = sandbox_tree(&sc->t, filter, len, sc->tree, NELEM(sc->tree));
	if (n == 0)
		sandbox_fail(
		    err, errsize, "seccomp: tree: %s", strerror(errno));
	return n;
}
#endif

#ifdef SANDBOX_ARCH
/* Says why the kernel refused a filter (errno); returns -1. */
static int
sandbox_refused(char *err, size_t errsize)
{
	return sandbox_fail(err, errsize, "seccomp filter: %s%s",
	    strerror(errno),
	    errno == EINVAL || errno == ENOSYS
		? " (a kernel without CONFIG_SECCOMP_FILTER); run with "
		  "--sandbox=off to serve unconfined"
		: "");
}

/*
 * Installs a high-rate child's short filter as the list it is: a dozen
 * blocks cost the kernel no more as a list than as a tree (see
 * bench/seccompcost.c), and building no tree spares every child the
 * scratch mapping, its page faults and its unmapping.  The list is 320
 * bytes of stack.  -1 with a message.
 */
static int
sandbox_seccomp_child(char *err, size_t errsize)
{
	struct sock_filter list[NELEM(sandbox_child_prog)];
	struct sock_fprog prog = { .len = NELEM(list), .filter = list };

	if (sandbox_with_pid(list, sandbox_child_prog, NELEM(list)) == -1)
		return sandbox_fail(err, errsize, "seccomp: pid slot");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		SECCOMP_FILTER_FLAG_TSYNC, &prog) == -1)
		return sandbox_refused(err, errsize);
	return 0;
}
#endif

/* Installs the role's filter; -1 with a message. */
static int
sandbox_seccomp(enum sandbox_role role, char *err, size_t errsize)
{
#ifdef SANDBOX_ARCH
	struct sb_scratch *sc;
	struct sock_fprog prog;
	int rc, saved;

	if (role == SANDBOX_CONNECTION && sandbox_under_listener)
		return sandbox_seccomp_child(err, errsize);
	sc = mmap(NULL, sizeof(*sc), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sc == MAP_FAILED)
		return sandbox_fail(
		    err, errsize, "seccomp: scratch: %s", strerror(errno));
	prog.len = (unsigned short)sandbox_build(role, sc, err, errsize);
	prog.filter = sc->tree;
	rc = prog.len == 0 ? 1
			   : (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				 SECCOMP_FILTER_FLAG_TSYNC, &prog);
	saved = errno;
	munmap(sc, sizeof(*sc));
	errno = saved;
	if (rc == 0) {
		sandbox_under_listener |= role == SANDBOX_LISTENER;
		return 0;
	}
	if (rc == 1)
		return -1; /* sandbox_build() said why */
	return sandbox_refused(err, errsize);
#else
	(void)role;
	errno = ENOSYS;
	return sandbox_fail(err, errsize,
	    "no seccomp filter for this architecture: run with --sandbox=off "
	    "to serve unconfined");
#endif
}

int
sandbox_apply(
    const struct sandbox *sb, enum sandbox_role role, char *err, size_t errsize)
{
	/*
	 * Whatever the mode: no other process of our user may read this
	 * one's memory (/proc/PID/mem, ptrace(2)), which holds tunnels'
	 * bytes and credentials.  A child of the listener inherits it (and
	 * the listener's filter allows it no such prctl(2)).
	 */
	if (!sandbox_under_listener && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return sandbox_fail(
		    err, errsize, "not dumpable: %s", strerror(errno));
	if (sb->mode == SANDBOX_OFF)
		return 0;
	if (sandbox_limits(role, err, errsize) == -1)
		return -1;
	/* Landlock and an unprivileged seccomp filter both require it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return sandbox_fail(
		    err, errsize, "no_new_privs: %s", strerror(errno));
	if ((sb->mode == SANDBOX_FULL || sb->mode == SANDBOX_AUTO) &&
	    sandbox_landlock_best(sb, role, err, errsize) == -1)
		return -1;
	if (sandbox_arm(sb->log_fd) == -1)
		return sandbox_fail(
		    err, errsize, "SIGSYS handler: %s", strerror(errno));
	return sandbox_seccomp(role, err, errsize);
}
