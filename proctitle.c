/*
 * Process titles on Linux: /proc/PID/cmdline reads the process's argument
 * area, and once its last byte is no longer NUL the kernel reads on into
 * the environment area up to the first NUL (the setproctitle(3)
 * convention).  So the argument and environment strings, copied away
 * first, give a title as long as the command line and environment were.
 */
#include "proctitle.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *proctitle_base; /* argv[0]'s memory */
static size_t proctitle_size; /* bytes that follow it without a gap */
/*
 * A copy of a string vector: the array and one block that holds every
 * string, so that an entry unsetenv(3) drops still lies in a block we
 * hold (it frees no string it did not allocate).
 */
struct proctitle_copy {
	char **vec;
	char *strings;
};

/*
 * The copies of argv and of the environment, kept for good in statics
 * (volatile, so the stores are not dropped): setenv(3) may later move
 * environ to an array of its own, and the copies must stay reachable.
 */
static volatile struct proctitle_copy proctitle_args, proctitle_env;

/*
 * Room for the copies of a usual command line and environment in the
 * process's data, whose page it shares: the first malloc(3) would start a
 * heap, a page more per held tunnel.  Copies that do not fit go to the
 * heap.
 */
#define PROCTITLE_STORE_SIZE 1024
static _Alignas(char *) char proctitle_store[PROCTITLE_STORE_SIZE];
static size_t proctitle_store_used;

/* size bytes, aligned for a pointer, from the store or else the heap. */
static void *
proctitle_alloc(size_t size)
{
	size_t at = (proctitle_store_used + sizeof(char *) - 1) &
	    ~(sizeof(char *) - 1);

	if (at <= sizeof(proctitle_store) &&
	    size <= sizeof(proctitle_store) - at) {
		proctitle_store_used = at + size;
		return proctitle_store + at;
	}
	return malloc(size);
}

/* Frees what proctitle_alloc() took from the heap (NULL too). */
static void
proctitle_free(void *p)
{
	/* Below the store, the difference wraps to a large value. */
	if ((uintptr_t)p - (uintptr_t)proctitle_store >=
	    sizeof(proctitle_store))
		free(p);
}

/* The end of the run of strings that starts at strs[0] and follows on. */
static char *
proctitle_run_end(char *end, char **strs)
{
	size_t i;

	for (i = 0; strs[i] != NULL && strs[i] == end; i++)
		end = strs[i] + strlen(strs[i]) + 1;
	return end;
}

/*
 * Copies the n strings of strs (with a NULL after them) to the store or the
 * heap; 0, or -1 with nothing kept.
 */
static int
proctitle_copy(char **strs, size_t n, struct proctitle_copy *c)
{
	size_t i, total = 0, off = 0;

	for (i = 0; i < n; i++)
		total += strlen(strs[i]) + 1;
	c->vec = n < SIZE_MAX / sizeof(*c->vec)
	    ? proctitle_alloc((n + 1) * sizeof(*c->vec))
	    : NULL;
	c->strings = proctitle_alloc(total > 0 ? total : 1);
	if (c->vec == NULL || c->strings == NULL) {
		proctitle_free(c->vec);
		proctitle_free(c->strings);
		return -1;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(strs[i]) + 1;

		c->vec[i] = memcpy(c->strings + off, strs[i], len);
		off += len;
	}
	c->vec[n] = NULL;
	return 0;
}

char **
proctitle_init(int argc, char **argv)
{
	extern char **environ;
	struct proctitle_copy args, env;
	char *end;
	size_t n = 0;

	if (argc < 1 || argv[0] == NULL)
		return argv;
	end = proctitle_run_end(argv[0], argv);
	end = proctitle_run_end(end, environ);
	while (environ[n] != NULL)
		n++;
	if (proctitle_copy(argv, (size_t)argc, &args) == -1)
		return argv;
	if (proctitle_copy(environ, n, &env) == -1) {
		proctitle_free(args.vec);
		proctitle_free(args.strings);
		return argv;
	}
	environ = env.vec;
	proctitle_env.vec = env.vec;
	proctitle_env.strings = env.strings;
	proctitle_args.vec = args.vec;
	proctitle_args.strings = args.strings;
	proctitle_base = argv[0];
	proctitle_size = (size_t)(end - argv[0]);
	return args.vec;
}

void
proctitle_set(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (proctitle_base == NULL || proctitle_size < 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(proctitle_base, proctitle_size, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < proctitle_size)
		memset(proctitle_base + n, '\0', proctitle_size - (size_t)n);
}
