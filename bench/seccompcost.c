/*
 * seccompcost: what installing connectd's seccomp filters costs, as a
 * list and laid out as a tree.  Each of N forked children times its own
 * seccomp(2); a child of the high-rate mode installs its short filter on
 * top of the listener's.  Also counts the steps the kernel's action cache
 * takes to try every system call number on each filter (it gives up at an
 * argument load), and times sandbox_tree() itself.  Not part of the build:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -o /tmp/seccompcost bench/seccompcost.c util.c
 *   /tmp/seccompcost [N [ROUNDS]]
 */
#include "../sandbox.c"

#include <sys/wait.h>
#include <time.h>

#define BENCH_NR_MAX 470 /* about the kernel's count of x86_64 calls */

static double
bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* The steps seccomp_is_const_allow() takes on f for nr of arch. */
static unsigned
bench_steps(const struct sock_filter *f, size_t len, uint32_t nr, uint32_t arch)
{
	uint32_t a = 0;
	unsigned n = 0;
	size_t pc;

	for (pc = 0; pc < len; pc++, n++) {
		const struct sock_filter *i = &f[pc];

		if (i->code == (BPF_LD | BPF_W | BPF_ABS)) {
			if (i->k >= SB_ARG(0))
				return n + 1;
			a = i->k == 0 ? nr : arch;
		} else if (i->code == (BPF_ALU | BPF_AND | BPF_K))
			a &= i->k;
		else if (i->code == (BPF_JMP | BPF_JA))
			pc += i->k;
		else if (BPF_CLASS(i->code) == BPF_JMP)
			pc = (size_t)sb_jump(f, len, pc, a) - 1;
		else
			return n + 1;
	}
	return n;
}

/* Installs under, if any, then times the install of f; in a child. */
static void
bench_child(int out, const struct sock_filter *under, size_t ulen,
    const struct sock_filter *f, size_t len)
{
	struct sock_fprog u = { (unsigned short)ulen,
		(struct sock_filter *)(uintptr_t)under };
	struct sock_fprog p = { (unsigned short)len,
		(struct sock_filter *)(uintptr_t)f };
	double t;

	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (under != NULL &&
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		SECCOMP_FILTER_FLAG_TSYNC, &u) != 0)
		_exit(1);
	t = bench_now_us();
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		SECCOMP_FILTER_FLAG_TSYNC, &p) != 0)
		_exit(1);
	t = bench_now_us() - t;
	_exit(write(out, &t, sizeof(t)) == sizeof(t) ? 0 : 1);
}

/* The mean time of n installs of f (on top of under), in microseconds. */
static double
bench_installs(int n, const struct sock_filter *under, size_t ulen,
    const struct sock_filter *f, size_t len)
{
	double sum = 0, t;
	int p[2], i;
	pid_t pid;

	if (pipe(p) == -1)
		exit(1);
	for (i = 0; i < n; i++) {
		if ((pid = fork()) == 0)
			bench_child(p[1], under, ulen, f, len);
		if (read(p[0], &t, sizeof(t)) != sizeof(t)) {
			fprintf(stderr, "seccompcost: a child failed\n");
			exit(1);
		}
		sum += t;
		waitpid(pid, NULL, 0);
	}
	close(p[0]);
	close(p[1]);
	return sum / n;
}

/* sandbox_tree()'s working space. */
static struct sb_tree bench_scratch;

/* Lays list out as a tree into tree, n times; the mean microseconds. */
static double
bench_convert(const struct sock_filter *list, size_t len,
    struct sock_filter *tree, size_t *tlen, int n)
{
	double t = bench_now_us();
	int i;

	for (i = 0; i < n; i++)
		*tlen = sandbox_tree(
		    &bench_scratch, list, len, tree, SB_TREE_MAX);
	return (bench_now_us() - t) / n;
}

/* Prints the cache's steps over every number of both ABIs. */
static void
bench_cache(const char *name, const struct sock_filter *f, size_t len)
{
	static const uint32_t arches[] = { SANDBOX_ARCH, AUDIT_ARCH_I386 };
	unsigned long sum = 0;
	unsigned most = 0, s;
	uint32_t nr;
	size_t a;

	for (a = 0; a < NELEM(arches); a++)
		for (nr = 0; nr < BENCH_NR_MAX; nr++) {
			sum += s = bench_steps(f, len, nr, arches[a]);
			most = s > most ? s : most;
		}
	printf("%s: %zu instructions, cache steps %lu (at most %u a call)\n",
	    name, len, sum, most);
}

int
main(int argc, char **argv)
{
	static struct sock_filter conn[NELEM(sandbox_connection_prog)],
	    child[NELEM(sandbox_child_prog)], conn_tree[SB_TREE_MAX],
	    child_tree[SB_TREE_MAX], lis_tree[SB_TREE_MAX];
	const struct sock_filter *lis = sandbox_listener_prog;
	size_t ct, cht, lt, ll = NELEM(sandbox_listener_prog);
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3, r;

	if (sandbox_with_pid(conn, sandbox_connection_prog, NELEM(conn)) ==
		-1 ||
	    sandbox_with_pid(child, sandbox_child_prog, NELEM(child)) == -1)
		return 1;
	printf("sandbox_tree: connection %.2f us, child %.2f us\n",
	    bench_convert(conn, NELEM(conn), conn_tree, &ct, 10000),
	    bench_convert(child, NELEM(child), child_tree, &cht, 10000));
	lt = sandbox_tree(&bench_scratch, lis, ll, lis_tree, SB_TREE_MAX);
	bench_cache("connection list", conn, NELEM(conn));
	bench_cache("connection tree", conn_tree, ct);
	for (r = 0; r < rounds; r++) {
		printf("round %d: connection list %.1f us, tree %.1f us; ", r,
		    bench_installs(n, NULL, 0, conn, NELEM(conn)),
		    bench_installs(n, NULL, 0, conn_tree, ct));
		printf("child on listener list %.1f us, tree %.1f us\n",
		    bench_installs(n, lis, ll, child, NELEM(child)),
		    bench_installs(n, lis_tree, lt, child_tree, cht));
		fflush(stdout);
	}
	return 0;
}
