/*
 * The command line: every option, its bounds and its default, parsed into
 * one struct that the rest of connectd reads.
 */
#ifndef CONNECTD_OPTIONS_H
#define CONNECTD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "peer.h"
#include "policy.h"
#include "sandbox.h"

#define OPTIONS_REALM_MAX 128

struct options {
	int64_t request_timeout_ms;
	int64_t connect_timeout_ms;
	int64_t dns_timeout_ms;
	int64_t idle_timeout_ms; /* 0: none */
	int64_t max_lifetime_ms; /* 0: none */
	struct policy policy;
	const char *auth_file; /* NULL: no authentication */
	char realm[OPTIONS_REALM_MAX];
	uid_t uids[PEER_UIDS_MAX]; /* --allow-uid; nuids 0: anyone */
	size_t nuids;
	int no_splice; /* --no-splice: copy through user space */
	const char *listen; /* --listen ADDR:PORT, or NULL */
	int fork; /* --fork: serve a listening socket handed over */
	size_t max_children; /* live children in the high-rate mode */
	enum sandbox_mode sandbox; /* --sandbox */
};

enum options_status {
	OPTIONS_RUN,
	OPTIONS_EXIT, /* --help or --version was answered */
	OPTIONS_USAGE, /* a bad option; message in err */
};

/*
 * Parses argv into opt, which must start zeroed (a static struct): it is
 * not cleared here, so that its untouched pages stay untouched.  --help and
 * --version print to stdout and return OPTIONS_EXIT; a bad option or value
 * returns OPTIONS_USAGE with a message naming the option in err (of errsize
 * bytes).
 */
enum options_status options_parse(
    int argc, char **argv, struct options *opt, char *err, size_t errsize);

#endif
