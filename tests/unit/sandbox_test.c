/*
 * sandbox_test: runs the seccomp programs of sandbox.c in a small BPF
 * interpreter and checks that a child of the high-rate mode, under the
 * listener's filter and its own short one, gets exactly the answer the
 * whole connection filter gives: for every system call number, both ABIs,
 * and every argument value the programs test, one and two arguments at a
 * time.  Built a second time as the AddressSanitizer build's filters.
 */
#include "../../sandbox.c"

#define TEST_PID 4242
#define TEST_NR_MAX 1024
#define TEST_VALUES_MAX 512

/* Runs one program over d; returns the action (SECCOMP_RET_*). */
static uint32_t
test_run(
    const struct sock_filter *prog, size_t len, const struct seccomp_data *d)
{
	uint32_t a = 0;
	size_t pc = 0;

	while (pc < len) {
		const struct sock_filter *f = &prog[pc++];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			memcpy(&a, (const char *)d + f->k, sizeof(a));
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (a & f->k) != 0 ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k & SECCOMP_RET_ACTION_FULL;
		default:
			fprintf(stderr, "unknown BPF code %#x\n", f->code);
			exit(2);
		}
	}
	fprintf(stderr, "ran off the end of a program\n");
	exit(2);
}

/* How strict an action is: the kernel takes the strictest filter's. */
static int
test_rank(uint32_t action)
{
	switch (action) {
	case SECCOMP_RET_ALLOW:
		return 0;
	case SECCOMP_RET_ERRNO:
		return 1;
	case SECCOMP_RET_TRAP:
		return 2;
	}
	return 3;
}

/* The answer of filters a and b stacked, errno data dropped. */
static uint32_t
test_stacked(uint32_t a, uint32_t b)
{
	a &= SECCOMP_RET_ACTION_FULL;
	b &= SECCOMP_RET_ACTION_FULL;
	return test_rank(a) >= test_rank(b) ? a : b;
}

static struct sock_filter conn[NELEM(sandbox_connection_prog)];
static struct sock_filter child[NELEM(sandbox_child_prog)];
static uint32_t values[TEST_VALUES_MAX];
static size_t nvalues;
static unsigned long checked, failed;

static void
test_add_value(uint32_t v)
{
	size_t i;

	for (i = 0; i < nvalues; i++)
		if (values[i] == v)
			return;
	if (nvalues < TEST_VALUES_MAX)
		values[nvalues++] = v;
}

/*
 * Whether a program reads the arguments of nr: a test of the number whose
 * match leads, through more tests of it, to a load of an argument.
 */
static int
test_reads_args(const struct sock_filter *prog, size_t len, uint32_t nr)
{
	size_t i, at;

	for (i = 0; i < len; i++) {
		if (prog[i].code != (BPF_JMP | BPF_JEQ | BPF_K) ||
		    prog[i].k != nr)
			continue;
		at = i + 1 + prog[i].jt;
		while (at < len && prog[at].code == (BPF_JMP | BPF_JEQ | BPF_K))
			at += 1 + prog[at].jt;
		if (at < len && prog[at].code == (BPF_LD | BPF_W | BPF_ABS) &&
		    prog[at].k >= SB_ARG(0))
			return 1;
	}
	return 0;
}

/* Every constant a program compares an argument with, and neighbours. */
static void
test_collect(const struct sock_filter *prog, size_t len)
{
	uint32_t loaded = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (prog[i].code == (BPF_LD | BPF_W | BPF_ABS))
			loaded = prog[i].k;
		else if (loaded >= SB_ARG(0) &&
		    (BPF_CLASS(prog[i].code) == BPF_JMP ||
			BPF_CLASS(prog[i].code) == BPF_ALU)) {
			test_add_value(prog[i].k);
			test_add_value(prog[i].k + 1);
			test_add_value(prog[i].k - 1);
			test_add_value(prog[i].k | CLONE_THREAD);
			test_add_value(prog[i].k & ~(uint32_t)CLONE_THREAD);
		}
	}
}

/* Checks one input: the whole connection filter against the pair. */
static void
test_one(const struct seccomp_data *d)
{
	uint32_t want = test_run(conn, NELEM(conn), d) &
	    SECCOMP_RET_ACTION_FULL;
	uint32_t got = test_stacked(
	    test_run(sandbox_listener_prog, NELEM(sandbox_listener_prog), d),
	    test_run(child, NELEM(child), d));

	checked++;
	if (want != got && failed++ < 20)
		printf("not ok nr %d arch %#x args %#llx %#llx %#llx %#llx: "
		       "connection %#x, listener and child %#x\n",
		    d->nr, d->arch, (unsigned long long)d->args[0],
		    (unsigned long long)d->args[1],
		    (unsigned long long)d->args[2],
		    (unsigned long long)d->args[3], want, got);
}

/* Every pair of arguments over every value, for system call nr. */
static void
test_nr(uint32_t arch, int nr)
{
	struct seccomp_data d = { .nr = nr, .arch = arch };
	size_t i, j, vi, vj;

	test_one(&d);
	if (!test_reads_args(conn, NELEM(conn), (uint32_t)nr) &&
	    !test_reads_args(sandbox_listener_prog,
		NELEM(sandbox_listener_prog), (uint32_t)nr) &&
	    !test_reads_args(child, NELEM(child), (uint32_t)nr))
		return; /* no program reads the arguments of nr */
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			for (vi = 0; vi < nvalues; vi++)
				for (vj = 0; vj < nvalues; vj++) {
					memset(d.args, 0, sizeof(d.args));
					d.args[i] = values[vi];
					d.args[j] = values[vj];
					test_one(&d);
				}
}

int
main(void)
{
	static const uint32_t arches[] = { SANDBOX_ARCH, AUDIT_ARCH_I386 };
	size_t a;
	int nr;

	if (sandbox_with_pid(conn, sandbox_connection_prog, NELEM(conn)) ==
		-1 ||
	    sandbox_with_pid(child, sandbox_child_prog, NELEM(child)) == -1) {
		printf("not ok 1 the pid slot\n");
		return 1;
	}
	conn[SANDBOX_PID_AT].k = child[SANDBOX_PID_AT].k = TEST_PID;
	test_collect(sandbox_connection_prog, NELEM(sandbox_connection_prog));
	test_collect(sandbox_listener_prog, NELEM(sandbox_listener_prog));
	test_collect(sandbox_child_prog, NELEM(sandbox_child_prog));
	test_add_value(0);
	test_add_value(TEST_PID);
	printf("1..1\n");
	for (a = 0; a < NELEM(arches); a++) {
		for (nr = 0; nr < TEST_NR_MAX; nr++)
			test_nr(arches[a], nr);
		test_nr(arches[a], 0x40000000 + 39); /* x32 */
	}
	printf("# %lu inputs, %zu values, connection %zu instructions, child "
	       "%zu, listener %zu\n",
	    checked, nvalues, NELEM(sandbox_connection_prog),
	    NELEM(sandbox_child_prog), NELEM(sandbox_listener_prog));
	printf("%s 1 listener and child filters answer as the connection "
	       "filter\n",
	    failed == 0 ? "ok" : "not ok");
	return failed != 0;
}
