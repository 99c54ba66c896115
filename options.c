/*
 * Command-line parsing.  Each value is parsed with its bounds, and a bad one
 * is reported with the option's name, as OpenBSD nc does.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

#define OPTIONS_MAX_SECONDS (7 * 24 * 3600) /* a week */

static const char options_usage[] =
    "usage: connectd [-FhSV] [-A file] [-a rule] [-c seconds] [-d rule]\n"
    "                [-i seconds] [-L addr:port] [-l seconds] [-m count]\n"
    "                [-n seconds] [-p list] [-R realm] [-r seconds] "
    "[-u list]\n"
    "                [-Z mode]\n"
    "\n"
    "HTTP CONNECT proxy for one connection handed over by systemd\n"
    "(Accept=yes), inetd, xinetd or a UCSPI server.\n"
    "\n"
    "  -p, --allow-port LIST        ports clients may reach, e.g. "
    "443,8443,1000-2000\n"
    "                               (default 443; repeat to add)\n"
    "  -a, --allow-dest RULE        allow a destination: CIDR, address, "
    "host name\n"
    "                               or .domain suffix; opts in to ranges "
    "denied\n"
    "                               by default (loopback, private, ...)\n"
    "  -d, --deny-dest RULE         deny a destination (beats any allow)\n"
    "  -u, --allow-uid LIST         local users who may use this proxy: "
    "uids,\n"
    "                               names or self (default: anyone)\n"
    "  -A, --auth-file FILE         require Basic credentials checked "
    "against\n"
    "                               FILE of user:crypt-hash lines\n"
    "  -R, --realm REALM            realm in the 407 challenge "
    "(default connectd)\n"
    "  -r, --request-timeout SECS   deadline for the request head "
    "(default 30)\n"
    "  -c, --connect-timeout SECS   deadline to resolve and connect "
    "(default 10)\n"
    "  -n, --dns-timeout SECS       deadline for name resolution "
    "(default 5)\n"
    "  -i, --idle-timeout SECS      end a tunnel idle this long "
    "(default 600, 0 off)\n"
    "  -l, --max-lifetime SECS      end any tunnel after this long "
    "(default 0, off)\n"
    "  -L, --listen ADDR:PORT       listen here and fork a child per "
    "connection\n"
    "                               (high-rate mode, no launcher needed)\n"
    "  -F, --fork                   serve a listening socket from systemd "
    "(Accept=no)\n"
    "                               or inetd (wait) the same way\n"
    "  -m, --max-children N         live children in those modes; "
    "past it 503\n"
    "                               (default 1024)\n"
    "  -S, --no-splice              relay through a user-space buffer, "
    "not splice(2)\n"
    "  -Z, --sandbox MODE           full (seccomp and Landlock, the default),"
    "\n"
    "                               seccomp (a kernel without Landlock) or "
    "off\n"
    "  -h, --help                   show this help and exit\n"
    "  -V, --version                show the version and exit\n";

static const struct option options_long[] = {
	{ "allow-dest", required_argument, NULL, 'a' },
	{ "allow-uid", required_argument, NULL, 'u' },
	{ "auth-file", required_argument, NULL, 'A' },
	{ "realm", required_argument, NULL, 'R' },
	{ "deny-dest", required_argument, NULL, 'd' },
	{ "allow-port", required_argument, NULL, 'p' },
	{ "request-timeout", required_argument, NULL, 'r' },
	{ "connect-timeout", required_argument, NULL, 'c' },
	{ "dns-timeout", required_argument, NULL, 'n' },
	{ "idle-timeout", required_argument, NULL, 'i' },
	{ "max-lifetime", required_argument, NULL, 'l' },
	{ "no-splice", no_argument, NULL, 'S' },
	{ "listen", required_argument, NULL, 'L' },
	{ "fork", no_argument, NULL, 'F' },
	{ "max-children", required_argument, NULL, 'm' },
	{ "sandbox", required_argument, NULL, 'Z' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *
options_name(int c)
{
	size_t i;

	for (i = 0; options_long[i].name != NULL; i++)
		if (options_long[i].val == c)
			return options_long[i].name;
	return "?";
}

/* Parses a duration; zero is allowed only where it means "off". */
static int
options_seconds(const char *arg, int zero_ok, int64_t *out)
{
	if (util_parse_seconds(arg, (int64_t)OPTIONS_MAX_SECONDS * 1000, out) ==
	    -1)
		return -1;
	if (*out == 0 && !zero_ok) {
		errno = ERANGE;
		return -1;
	}
	return 0;
}

/*
 * A realm goes into a quoted-string (RFC 9110 section 11.6.1): printable
 * ASCII without '"' or '\\', so it never needs escaping.
 */
static int
options_realm(const char *arg, char *realm, size_t size)
{
	size_t i, n = strlen(arg);

	if (n == 0 || n >= size) {
		errno = n == 0 ? EINVAL : ERANGE;
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
			errno = EINVAL;
			return -1;
		}
	}
	memcpy(realm, arg, n + 1);
	return 0;
}

static int
options_count(const char *arg, size_t *out)
{
	long long v;

	if (util_parse_int(arg, 1, 1000000, &v) == -1)
		return -1;
	*out = (size_t)v;
	return 0;
}

static int
options_apply(int c, const char *arg, struct options *opt)
{
	switch (c) {
	case 'A':
		opt->auth_file = arg;
		return 0;
	case 'S':
		opt->no_splice = 1;
		return 0;
	case 'L':
		opt->listen = arg;
		return 0;
	case 'F':
		opt->fork = 1;
		return 0;
	case 'm':
		return options_count(arg, &opt->max_children);
	case 'Z':
		return sandbox_parse_mode(arg, &opt->sandbox);
	case 'R':
		return options_realm(arg, opt->realm, sizeof(opt->realm));
	case 'u':
		return peer_parse_uids(
		    arg, opt->uids, PEER_UIDS_MAX, &opt->nuids, NULL, 0);
	case 'a':
		return policy_add_rule(&opt->policy, 1, arg);
	case 'd':
		return policy_add_rule(&opt->policy, 0, arg);
	case 'p':
		return policy_add_ports(&opt->policy, arg);
	case 'r':
		return options_seconds(arg, 0, &opt->request_timeout_ms);
	case 'c':
		return options_seconds(arg, 0, &opt->connect_timeout_ms);
	case 'n':
		return options_seconds(arg, 0, &opt->dns_timeout_ms);
	case 'i':
		return options_seconds(arg, 1, &opt->idle_timeout_ms);
	case 'l':
		return options_seconds(arg, 1, &opt->max_lifetime_ms);
	}
	errno = EINVAL;
	return -1;
}

enum options_status
options_parse(
    int argc, char **argv, struct options *opt, char *err, size_t errsize)
{
	int c;

	opt->request_timeout_ms = 30 * 1000;
	opt->connect_timeout_ms = 10 * 1000;
	opt->dns_timeout_ms = 5 * 1000;
	opt->idle_timeout_ms = 600 * 1000;
	policy_init(&opt->policy);
	util_strlcpy(opt->realm, "connectd", sizeof(opt->realm));
	opt->max_children = 1024;
	opt->sandbox = SANDBOX_FULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":A:a:c:d:FhL:i:l:m:n:p:R:r:Su:VZ:",
		    options_long, NULL)) != -1) {
		if (c == 'h') {
			fputs(options_usage, stdout);
			return OPTIONS_EXIT;
		}
		if (c == 'V') {
			puts("connectd " CONNECTD_VERSION);
			return OPTIONS_EXIT;
		}
		if (c == '?' || c == ':') {
			snprintf(err, errsize, "%s option: %s",
			    c == ':' ? "missing value for" : "unknown",
			    argv[optind - 1]);
			return OPTIONS_USAGE;
		}
		if (options_apply(c, optarg, opt) == -1) {
			snprintf(err, errsize, "--%s %s: %s", options_name(c),
			    optarg,
			    errno == ERANGE ? "out of range" : "invalid value");
			return OPTIONS_USAGE;
		}
	}
	if (optind < argc) {
		snprintf(err, errsize, "unexpected argument: %s", argv[optind]);
		return OPTIONS_USAGE;
	}
	return OPTIONS_RUN;
}
