/*
 * The command line and the configuration file: every option, its bounds and
 * its default, in one table that drives getopt, the long options, the usage
 * text and the file's keys, parsed into one struct that the rest of
 * connectd reads.
 */
#ifndef CONNECTD_OPTIONS_H
#define CONNECTD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "log.h"
#include "peer.h"
#include "policy.h"
#include "sandbox.h"
#include "upstream.h"

#define OPTIONS_REALM_MAX 128
#define OPTIONS_CONFIG_MAX (64 * 1024) /* bytes in a configuration file */
#define OPTIONS_CONFIG_LINE_MAX 4096
#define OPTIONS_SPARES_MAX 64 /* --spares: children forked ahead */
#define OPTIONS_SPARES_DEFAULT 4 /* measured: see the man page */

/*
 * The fields written at start come first, the policy (whose lists are
 * written only at their heads) after them and the rarely set lists and the
 * parent last: a per-connection process pays a page of memory for each
 * page of this it writes (see options_defaults()).
 */
struct options {
	int64_t request_timeout_ms;
	int64_t connect_timeout_ms;
	int64_t dns_timeout_ms;
	int64_t idle_timeout_ms; /* 0: none */
	int64_t max_lifetime_ms; /* 0: none */
	const char *auth_file; /* NULL: no authentication */
	size_t nuids; /* of uids[] */
	int no_splice; /* --no-splice: copy through user space */
	int proxy_protocol; /* --proxy-protocol: a PROXY header is required */
	int send_proxy; /* --send-proxy: 1 or 2, 0 for none */
	const char *listen; /* --listen ADDR:PORT, or NULL */
	int fork; /* --fork: serve a listening socket handed over */
	size_t max_children; /* live children in the high-rate mode */
	size_t spares; /* children forked ahead in that mode */
	size_t reuse; /* connections a spare serves in turn (1: one) */
	const char *config; /* --config FILE, or NULL */
	enum log_sink log_sink; /* --log */
	enum sandbox_mode sandbox; /* --sandbox */
	char realm[OPTIONS_REALM_MAX];
	struct policy policy;
	uid_t uids[PEER_UIDS_MAX]; /* --allow-uid; nuids 0: anyone */
	struct policy_list proxy_from; /* --proxy-protocol-from: who sends it */
	/*
	 * The parent, last: without --upstream its pages are never written,
	 * so a process does not pay for them (see options_defaults()).
	 */
	int has_upstream; /* --upstream was given */
	struct upstream upstream; /* the parent, with any URL credentials */
	const char *upstream_auth_file; /* --upstream-auth-file, or NULL */
	struct policy_list upstream_except; /* dialled directly */
};

enum options_status {
	OPTIONS_RUN,
	OPTIONS_EXIT, /* --help or --version was answered */
	OPTIONS_USAGE, /* a bad option; message in err */
	OPTIONS_BAD_CONFIG, /* --config could not be used; message in err */
};

/*
 * Sets every default.  opt must start zeroed (a static struct): it is not
 * cleared here, so that its untouched pages stay untouched; calling it
 * again drops the destination rules added since.
 */
void options_defaults(struct options *opt);

/*
 * Parses argv into opt after options_defaults(), reading a --config file
 * where it stands, so that options after it win.  --help and --version
 * print to stdout and return OPTIONS_EXIT; a bad option or value, or a
 * combination that cannot work once all are read (--proxy-protocol without
 * --proxy-protocol-from or with --allow-uid, --upstream-auth-file or
 * --upstream-except without --upstream, credentials both in the URL and
 * in a file), returns OPTIONS_USAGE, and a --config file that cannot be
 * read or has a bad line
 * OPTIONS_BAD_CONFIG, each with a message naming the option (and the file
 * and line) in err, of errsize bytes.
 */
enum options_status options_parse(
    int argc, char **argv, struct options *opt, char *err, size_t errsize);

/*
 * Applies the configuration text in buf (len bytes, modified in place:
 * each value is terminated where it lies, and opt may point into buf
 * afterwards, so buf must outlive opt).  name is the file's name for
 * messages.  Returns 0, or -1 with "name:line: what was wrong" in err.
 * Pure: reads no file (the fuzz target drives it alone).
 */
int options_parse_config(char *buf, size_t len, const char *name,
    struct options *opt, char *err, size_t errsize);

#endif
