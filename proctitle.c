/*
 * Process titles on Linux: /proc/PID/cmdline reads the process's argument
 * area, and once its last byte is no longer NUL the kernel reads on into
 * the environment area up to the first NUL (the setproctitle(3)
 * convention).  So the argument and environment strings, copied away
 * first, give a title as long as the command line and environment were.
 */
#include "proctitle.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *proctitle_base; /* argv[0]'s memory */
static size_t proctitle_size; /* bytes that follow it without a gap */
/* The copy of argv, kept for good; volatile, so the store is not dropped. */
static char **volatile proctitle_args;

/* The end of the run of strings that starts at strs[0] and follows on. */
static char *
proctitle_run_end(char *end, char **strs)
{
	size_t i;

	for (i = 0; strs[i] != NULL && strs[i] == end; i++)
		end = strs[i] + strlen(strs[i]) + 1;
	return end;
}

/* Frees a vector from proctitle_copy(). */
static void
proctitle_free(char **strs)
{
	size_t i;

	for (i = 0; strs != NULL && strs[i] != NULL; i++)
		free(strs[i]);
	free(strs);
}

/* Copies a NULL-terminated string vector to the heap; NULL on failure. */
static char **
proctitle_copy(char **strs, size_t n)
{
	char **copy = calloc(n + 1, sizeof(*copy));
	size_t i;

	if (copy == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((copy[i] = strdup(strs[i])) == NULL) {
			proctitle_free(copy);
			return NULL;
		}
	}
	return copy;
}

char **
proctitle_init(int argc, char **argv)
{
	extern char **environ;
	char **args, **env, *end;
	size_t n = 0;

	if (argc < 1 || argv[0] == NULL)
		return argv;
	end = proctitle_run_end(argv[0], argv);
	end = proctitle_run_end(end, environ);
	while (environ[n] != NULL)
		n++;
	if ((args = proctitle_copy(argv, (size_t)argc)) == NULL)
		return argv;
	if ((env = proctitle_copy(environ, n)) == NULL) {
		proctitle_free(args);
		return argv;
	}
	/* Held in statics, so that both stay reachable until exit. */
	environ = env;
	proctitle_args = args;
	proctitle_base = argv[0];
	proctitle_size = (size_t)(end - argv[0]);
	return args;
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
