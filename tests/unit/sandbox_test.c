/*
 * sandbox_test: runs the seccomp programs of sandbox.c in a small BPF
 * interpreter and checks that a child of the high-rate mode, under the
 * listener's filter and its own short one, gets exactly the answer the
 * whole connection filter gives: for every system call number, both ABIs,
 * and every argument value the programs test, one and two arguments at a
 * time.  And that each program laid out as a tree, as the kernel gets it,
 * answers every one of those inputs exactly as its list does.  Built a
 * second time as the AddressSanitizer build's filters.
 */
#include "../../sandbox.c"

#define TEST_PID 4242
#define TEST_NR_MAX 1024
#define TEST_VALUES_MAX 512

/* Runs one program over d; returns what it returns (SECCOMP_RET_*). */
static uint32_t
test_run(
    const struct sock_filter *prog, size_t len, const struct seccomp_data *d)
{
	uint32_t a = 0;
	size_t pc = 0;

	while (pc < len) {
		const struct sock_filter *f = &prog[pc++];

		switch (f->code) {
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
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
			return f->k;
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

/* A program laid out as a tree by sandbox_tree(), and its list. */
struct test_tree {
	const char *name;
	const struct sock_filter *list;
	size_t len;
	struct sock_filter tree[SB_TREE_MAX];
	size_t tree_len;
	unsigned long failed;
};
static struct test_tree trees[3];
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

/* Checks one input: each tree gives exactly what its list gives. */
static void
test_trees(const struct seccomp_data *d)
{
	size_t i;

	for (i = 0; i < NELEM(trees); i++) {
		struct test_tree *t = &trees[i];
		uint32_t want = test_run(t->list, t->len, d);
		uint32_t got = test_run(t->tree, t->tree_len, d);

		if (want != got && t->failed++ < 20)
			printf("not ok nr %d arch %#x args %#llx %#llx %#llx "
			       "%#llx: %s list %#x, tree %#x\n",
			    d->nr, d->arch, (unsigned long long)d->args[0],
			    (unsigned long long)d->args[1],
			    (unsigned long long)d->args[2],
			    (unsigned long long)d->args[3], t->name, want, got);
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
	test_trees(d);
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

/* sandbox_tree()'s working space, for every tree the tests lay out. */
static struct sb_tree test_scratch;

/* Lays out list as a tree into t; -1 when sandbox_tree() refuses it. */
static int
test_tree_of(struct test_tree *t, const char *name,
    const struct sock_filter *list, size_t len)
{
	t->name = name;
	t->list = list;
	t->len = len;
	t->tree_len = sandbox_tree(
	    &test_scratch, list, len, t->tree, NELEM(t->tree));
	if (t->tree_len == 0) {
		printf("not ok 2 %s: no tree: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A list of TEST_CHAIN tests of every other number, all allowed: its tree
 * has too many nodes for 8-bit jumps from the first ones to the leaves,
 * which must go through BPF_JA.  Returns whether the tree has one and
 * answers every number of both ABIs as the list.
 */
#define TEST_CHAIN 160
static int
test_long_jumps(void)
{
	static struct sock_filter list[SB_HEAD_LEN + TEST_CHAIN + 2];
	static struct sock_filter tree[SB_TREE_MAX];
	static const uint32_t arches[] = { SANDBOX_ARCH, AUDIT_ARCH_I386 };
	struct seccomp_data d = { 0 };
	size_t i, n, jas = 0, bad = 0;

	memcpy(list, sandbox_head, sizeof(sandbox_head));
	for (i = 0; i < TEST_CHAIN; i++)
		list[SB_HEAD_LEN + i] = (struct sock_filter)SB_JEQ(
		    (uint32_t)(2 * i + 1), (uint8_t)(TEST_CHAIN - i), 0);
	list[SB_HEAD_LEN + TEST_CHAIN] = (struct sock_filter)SB_TRAP;
	list[SB_HEAD_LEN + TEST_CHAIN + 1] = (struct sock_filter)SB_ALLOWED;
	if ((n = sandbox_tree(
		 &test_scratch, list, NELEM(list), tree, NELEM(tree))) == 0) {
		printf("# no tree for the long list: %s\n", strerror(errno));
		return 0;
	}
	for (i = 0; i < n; i++)
		jas += tree[i].code == (BPF_JMP | BPF_JA);
	for (i = 0; i < NELEM(arches); i++)
		for (d.arch = arches[i], d.nr = 0; d.nr < TEST_NR_MAX; d.nr++)
			bad += test_run(list, NELEM(list), &d) !=
			    test_run(tree, n, &d);
	printf("# long list: %zu instructions, tree %zu with %zu BPF_JA, "
	       "%zu answers differ\n",
	    NELEM(list), n, jas, bad);
	return jas > 0 && bad == 0;
}

/* Whether every tree answered every input as its list. */
static int
test_trees_ok(void)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < NELEM(trees); i++) {
		printf("# %s: list %zu instructions, tree %zu\n", trees[i].name,
		    trees[i].len, trees[i].tree_len);
		ok &= trees[i].failed == 0;
	}
	return ok;
}

int
main(void)
{
	static const uint32_t arches[] = { SANDBOX_ARCH, AUDIT_ARCH_I386 };
	size_t a;
	int nr, trees_ok, long_ok;

	if (sandbox_with_pid(conn, sandbox_connection_prog, NELEM(conn)) ==
		-1 ||
	    sandbox_with_pid(child, sandbox_child_prog, NELEM(child)) == -1) {
		printf("not ok 1 the pid slot\n");
		return 1;
	}
	conn[SANDBOX_PID_AT].k = child[SANDBOX_PID_AT].k = TEST_PID;
	if (test_tree_of(&trees[0], "connection", conn, NELEM(conn)) == -1 ||
	    test_tree_of(&trees[1], "listener", sandbox_listener_prog,
		NELEM(sandbox_listener_prog)) == -1 ||
	    test_tree_of(&trees[2], "child", child, NELEM(child)) == -1)
		return 1;
	test_collect(sandbox_connection_prog, NELEM(sandbox_connection_prog));
	test_collect(sandbox_listener_prog, NELEM(sandbox_listener_prog));
	test_collect(sandbox_child_prog, NELEM(sandbox_child_prog));
	test_add_value(0);
	test_add_value(TEST_PID);
	printf("1..3\n");
	for (a = 0; a < NELEM(arches); a++) {
		for (nr = 0; nr < TEST_NR_MAX; nr++)
			test_nr(arches[a], nr);
		test_nr(arches[a], 0x40000000 + 39); /* x32 */
		test_nr(arches[a], -1); /* the last number a tree compares */
	}
	printf("# %lu inputs, %zu values, connection %zu instructions, child "
	       "%zu, listener %zu\n",
	    checked, nvalues, NELEM(sandbox_connection_prog),
	    NELEM(sandbox_child_prog), NELEM(sandbox_listener_prog));
	printf("%s 1 listener and child filters answer as the connection "
	       "filter\n",
	    failed == 0 ? "ok" : "not ok");
	trees_ok = test_trees_ok();
	printf("%s 2 each program laid out as a tree answers as its list\n",
	    trees_ok ? "ok" : "not ok");
	long_ok = test_long_jumps();
	printf("%s 3 a tree reaches far leaves through BPF_JA\n",
	    long_ok ? "ok" : "not ok");
	return failed != 0 || !trees_ok || !long_ok;
}
