/*
 * Options, from one table: it gives getopt its letters and long names, the
 * usage its lines and the configuration file its keys.  Each value is
 * parsed with its bounds, and a bad one is reported with the option's name
 * and what was wrong with it, as OpenBSD nc does.
 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "version.h"

#define OPTIONS_MAX_SECONDS (7 * 24 * 3600) /* a week */
#define OPTIONS_HELP_COLUMN 33 /* where the help text of an option starts */
#define OPTIONS_WHY_MAX 160

enum options_id {
	OPT_ALLOW_PORT,
	OPT_ALLOW_DEST,
	OPT_DENY_DEST,
	OPT_ALLOW_UID,
	OPT_AUTH_FILE,
	OPT_REALM,
	OPT_REQUEST_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_DNS_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_LIFETIME,
	OPT_LISTEN,
	OPT_FORK,
	OPT_MAX_CHILDREN,
	OPT_PROXY_PROTOCOL,
	OPT_PROXY_PROTOCOL_FROM,
	OPT_SEND_PROXY,
	OPT_UPSTREAM,
	OPT_UPSTREAM_AUTH_FILE,
	OPT_UPSTREAM_EXCEPT,
	OPT_SPARES,
	OPT_REUSE,
	OPT_NO_SPLICE,
	OPT_LOG,
	OPT_SANDBOX,
	OPT_CONFIG,
	OPT_HELP,
	OPT_VERSION,
	OPT_COUNT
};

struct options_spec {
	const char *name; /* the long option, and the configuration key */
	char letter; /* the short option */
	const char *arg; /* the value's name in the usage; NULL: a flag */
	int in_config; /* may be a line of a configuration file */
	const char *help; /* for --help; '\n' starts an indented line */
	int secret; /* a URL that may hold a password: echoed redacted */
};

/* In --help's order. */
static const struct options_spec options_table[] = {
	[OPT_ALLOW_PORT] = { "allow-port", 'p', "list", 1,
	    "ports clients may reach, such as\n"
	    "443,8443,1000-2000 (default 443; repeat\nto add)" },
	[OPT_ALLOW_DEST] = { "allow-dest", 'a', "rule", 1,
	    "allow a destination: CIDR, address, host name\n"
	    "or .domain suffix; opts in to ranges denied by\n"
	    "default (loopback, private, ...)" },
	[OPT_DENY_DEST] = { "deny-dest", 'd', "rule", 1,
	    "deny a destination (beats any allow)" },
	[OPT_ALLOW_UID] = { "allow-uid", 'u', "list", 1,
	    "local users who may use this proxy: uids,\n"
	    "names or self (default: anyone)" },
	[OPT_AUTH_FILE] = { "auth-file", 'A', "file", 1,
	    "require Basic credentials checked against FILE\n"
	    "of user:crypt-hash lines" },
	[OPT_REALM] = { "realm", 'R', "realm", 1,
	    "realm in the 407 challenge (default connectd)" },
	[OPT_REQUEST_TIMEOUT] = { "request-timeout", 'r', "seconds", 1,
	    "deadline for the request head (default 30)" },
	[OPT_CONNECT_TIMEOUT] = { "connect-timeout", 'c', "seconds", 1,
	    "deadline to resolve and connect (default 10)" },
	[OPT_DNS_TIMEOUT] = { "dns-timeout", 'n', "seconds", 1,
	    "deadline for name resolution (default 5)" },
	[OPT_IDLE_TIMEOUT] = { "idle-timeout", 'i', "seconds", 1,
	    "end a tunnel idle this long\n(default 600, 0 off)" },
	[OPT_MAX_LIFETIME] = { "max-lifetime", 'l', "seconds", 1,
	    "end any tunnel after this long\n(default 0, off)" },
	[OPT_LISTEN] = { "listen", 'L', "addr:port", 1,
	    "listen here and fork a child per connection\n"
	    "(high-rate mode, no launcher needed)" },
	[OPT_FORK] = { "fork", 'F', NULL, 1,
	    "serve a listening socket from systemd\n"
	    "(Accept=no) or inetd (wait) the same way" },
	[OPT_MAX_CHILDREN] = { "max-children", 'm', "count", 1,
	    "live children in those modes; past it 503\n"
	    "(default 1024)" },
	[OPT_PROXY_PROTOCOL] = { "proxy-protocol", 'P', NULL, 1,
	    "require a PROXY header (v1 or v2) before each\n"
	    "request and log its client address" },
	[OPT_PROXY_PROTOCOL_FROM] = { "proxy-protocol-from", 'T', "cidr", 1,
	    "peers that may send it (required with -P;\n"
	    "repeat to add)" },
	[OPT_SEND_PROXY] = { "send-proxy", 's', "version", 1,
	    "send a PROXY header, v1 or v2, with the\n"
	    "client's address to each target" },
	[OPT_UPSTREAM] = { "upstream", 'x', "url", 1,
	    "send every tunnel through the parent proxy\n"
	    "http://[user:password@]host:port",
	    1 },
	[OPT_UPSTREAM_AUTH_FILE] = { "upstream-auth-file", 'X', "file", 1,
	    "the parent's credentials: FILE holds one\n"
	    "user:password line" },
	[OPT_UPSTREAM_EXCEPT] = { "upstream-except", 'E', "rule", 1,
	    "dial destinations matching RULE directly\n"
	    "(--allow-dest syntax; repeat to add)" },
	[OPT_SPARES] = { "spares", 'k', "count", 1,
	    "children forked ahead, each waiting in\n"
	    "accept(2) for one connection (0 to 64,\n"
	    "default 4; they count as children)" },
	[OPT_REUSE] = { "reuse", 'U', "count", 1,
	    "a spare serves up to COUNT connections one\n"
	    "after another, wiped between them (default 1)" },
	[OPT_NO_SPLICE] = { "no-splice", 'S', NULL, 1,
	    "relay through a user-space buffer,\nnot splice(2)" },
	[OPT_LOG] = { "log", 'o', "sink", 1,
	    "where log lines go: auto (the default: the\n"
	    "journal under systemd, else stderr), journal,\n"
	    "syslog or stderr" },
	[OPT_SANDBOX] = { "sandbox", 'Z', "mode", 1,
	    "auto (the default: seccomp, and Landlock\n"
	    "where the system allows it), full (both, or\n"
	    "refuse to serve), seccomp or off" },
	[OPT_CONFIG] = { "config", 'f', "file", 0,
	    "read options from FILE, one per line, where\n"
	    "this option stands: later options win;\n"
	    "-FILE may be missing" },
	[OPT_HELP] = { "help", 'h', NULL, 0, "show this help and exit" },
	[OPT_VERSION] = { "version", 'V', NULL, 0,
	    "show the version and exit" },
};
_Static_assert(NELEM(options_table) == OPT_COUNT, "every option has a row");

/* The file the options may point into: read once, kept for good. */
static char options_config_buf[OPTIONS_CONFIG_MAX + 1];

/* Orders letters as the usage lists them: aA..zZ, capital first. */
static int
options_letter_rank(char c)
{
	unsigned char u = (unsigned char)c;

	return tolower(u) * 2 + (islower(u) ? 1 : 0);
}

/* Fills order[] with the table's ids sorted by their letters. */
static void
options_sorted(enum options_id order[OPT_COUNT])
{
	int i, j;

	for (i = 0; i < OPT_COUNT; i++)
		order[i] = (enum options_id)i;
	for (i = 1; i < OPT_COUNT; i++)
		for (j = i; j > 0 &&
		     options_letter_rank(options_table[order[j]].letter) <
			 options_letter_rank(
			     options_table[order[j - 1]].letter);
		     j--) {
			enum options_id t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/* Prints a synopsis word, wrapping before column 80 as the man page does. */
static void
options_word(FILE *out, const char *word, size_t *col)
{
	size_t n = strlen(word);

	if (*col + 1 + n > 79) {
		fprintf(out, "\n                ");
		*col = 16;
	} else {
		fputc(' ', out);
		(*col)++;
	}
	fputs(word, out);
	*col += n;
}

/* The synopsis: "usage: connectd [-FhSV] [-A file] ...". */
static void
options_print_synopsis(FILE *out)
{
	enum options_id order[OPT_COUNT];
	char word[64], *p = word;
	size_t col = strlen("usage: connectd");
	int i;

	options_sorted(order);
	fputs("usage: connectd", out);
	*p++ = '[';
	*p++ = '-';
	for (i = 0; i < OPT_COUNT; i++)
		if (options_table[order[i]].arg == NULL)
			*p++ = options_table[order[i]].letter;
	*p++ = ']';
	*p = '\0';
	options_word(out, word, &col);
	for (i = 0; i < OPT_COUNT; i++) {
		const struct options_spec *o = &options_table[order[i]];

		if (o->arg == NULL)
			continue;
		snprintf(word, sizeof(word), "[-%c %s]", o->letter, o->arg);
		options_word(out, word, &col);
	}
	fputc('\n', out);
}

/* One option's lines: "  -p, --allow-port LIST   help...". */
static void
options_print_one(FILE *out, const struct options_spec *o)
{
	char arg[32];
	const char *h;
	size_t i;
	int n;

	for (i = 0; o->arg != NULL && o->arg[i] != '\0' && i < sizeof(arg) - 1;
	     i++)
		arg[i] = (char)toupper((unsigned char)o->arg[i]);
	arg[i] = '\0';
	n = fprintf(out, "  -%c, --%s%s%s", o->letter, o->name,
	    o->arg != NULL ? " " : "", arg);
	for (; n < OPTIONS_HELP_COLUMN; n++)
		fputc(' ', out);
	for (h = o->help; *h != '\0'; h++) {
		fputc(*h, out);
		if (*h == '\n')
			fprintf(out, "%*s", OPTIONS_HELP_COLUMN, "");
	}
	fputc('\n', out);
}

static void
options_print_usage(FILE *out)
{
	int i;

	options_print_synopsis(out);
	fputs("\nHTTP CONNECT proxy for one connection handed over by systemd\n"
	      "(Accept=yes), inetd, xinetd or a UCSPI server.\n\n",
	    out);
	for (i = 0; i < OPT_COUNT; i++)
		options_print_one(out, &options_table[i]);
}

/* Writes text into why and returns -1, for the appliers below. */
static int
options_why(char *why, size_t size, const char *text)
{
	util_strlcpy(why, text, size);
	return -1;
}

/* Parses a duration; zero is allowed only where it means "off". */
static int
options_seconds(
    const char *arg, int zero_ok, int64_t *out, char *why, size_t size)
{
	if (util_parse_seconds(arg, (int64_t)OPTIONS_MAX_SECONDS * 1000, out) ==
		-1 &&
	    errno == EINVAL)
		return options_why(
		    why, size, "not a number of seconds, such as 30 or 0.5");
	if (errno == ERANGE || (*out == 0 && !zero_ok)) {
		snprintf(why, size, "out of range: %s to %d seconds",
		    zero_ok ? "0 (off)" : "0.001", OPTIONS_MAX_SECONDS);
		return -1;
	}
	return 0;
}

/*
 * A realm goes into a quoted-string (RFC 9110 section 11.6.1): printable
 * ASCII without '"' or '\\', so it never needs escaping.
 */
static int
options_realm(
    const char *arg, char *realm, size_t realm_size, char *why, size_t size)
{
	size_t i, n = strlen(arg);

	if (n == 0)
		return options_why(why, size, "empty");
	if (n >= realm_size) {
		snprintf(why, size, "longer than %zu bytes", realm_size - 1);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return options_why(why, size,
			    "only printable ASCII, without '\"' or '\\'");
	}
	memcpy(realm, arg, n + 1);
	return 0;
}

static int
options_log_sink(const char *arg, enum log_sink *out, char *why, size_t size)
{
	static const struct {
		const char *name;
		enum log_sink sink;
	} sinks[] = { { "auto", LOG_SINK_AUTO },
		{ "journal", LOG_SINK_JOURNAL }, { "syslog", LOG_SINK_SYSLOG },
		{ "stderr", LOG_SINK_STDERR } };
	size_t i;

	for (i = 0; i < NELEM(sinks); i++) {
		if (strcmp(arg, sinks[i].name) == 0) {
			*out = sinks[i].sink;
			return 0;
		}
	}
	return options_why(why, size, "not auto, journal, syslog or stderr");
}

static int
options_count(const char *arg, size_t *out, char *why, size_t size)
{
	long long v;

	if (util_parse_int(arg, 1, 1000000, &v) == -1)
		return options_why(why, size,
		    errno == ERANGE ? "out of range: 1 to 1000000"
				    : "not a whole number");
	*out = (size_t)v;
	return 0;
}

static int
options_spares(const char *arg, size_t *out, char *why, size_t size)
{
	long long v;

	if (util_parse_int(arg, 0, OPTIONS_SPARES_MAX, &v) == -1)
		return options_why(why, size,
		    errno == ERANGE ? "out of range: 0 to 64"
				    : "not a whole number");
	*out = (size_t)v;
	return 0;
}

/* Why a destination rule was not taken, from errno. */
static int
options_rule_error(char *why, size_t size)
{
	if (errno == E2BIG) {
		snprintf(why, size, "more than %d rules in the list",
		    POLICY_RULES_MAX);
		return -1;
	}
	return options_why(why, size,
	    "not a rule: a CIDR block, an address, a host name or a "
	    ".domain suffix");
}

static int
options_rule(
    struct options *opt, int allow, const char *arg, char *why, size_t size)
{
	if (policy_add_rule(&opt->policy, allow, arg) == 0)
		return 0;
	return options_rule_error(why, size);
}

static int
options_proxy_from(struct options *opt, const char *arg, char *why, size_t size)
{
	if (policy_add_net(&opt->proxy_from, arg) == 0)
		return 0;
	if (errno == E2BIG) {
		snprintf(
		    why, size, "more than %d blocks in all", POLICY_RULES_MAX);
		return -1;
	}
	return options_why(why, size, "not an address or a CIDR block");
}

static int
options_send_proxy(const char *arg, int *out, char *why, size_t size)
{
	if (strcmp(arg, "v1") == 0 || strcmp(arg, "v2") == 0) {
		*out = arg[1] - '0';
		return 0;
	}
	return options_why(why, size, "not v1 or v2");
}

static int
options_upstream(struct options *opt, const char *arg, char *why, size_t size)
{
	if (upstream_parse_url(arg, &opt->upstream, why, size) == -1)
		return -1;
	opt->has_upstream = 1;
	return 0;
}

static int
options_upstream_except(
    struct options *opt, const char *arg, char *why, size_t size)
{
	if (policy_list_add_rule(&opt->upstream_except, arg) == 0)
		return 0;
	return options_rule_error(why, size);
}

static int
options_ports(struct options *opt, const char *arg, char *why, size_t size)
{
	if (policy_add_ports(&opt->policy, arg) == 0)
		return 0;
	if (errno == ERANGE)
		return options_why(why, size, "a port outside 1-65535");
	if (errno == E2BIG) {
		snprintf(why, size, "more than %d ports and ranges in all",
		    POLICY_PORT_RANGES_MAX);
		return -1;
	}
	return options_why(why, size,
	    "not a port list such as 443,8443,1000-2000 (ranges low-high)");
}

static int
options_uids(struct options *opt, const char *arg, char *why, size_t size)
{
	char bad[64];

	if (peer_parse_uids(arg, opt->uids, PEER_UIDS_MAX, &opt->nuids, bad,
		sizeof(bad)) == 0)
		return 0;
	if (errno == E2BIG)
		snprintf(why, size, "more than %d users in all", PEER_UIDS_MAX);
	else if (errno == EINVAL)
		snprintf(why, size,
		    "'%s' is not a uid, a known user name or self", bad);
	else
		snprintf(
		    why, size, "looking up '%s': %s", bad, strerror(errno));
	return -1;
}

/*
 * Applies one option with its value (NULL for a flag) to opt.  Returns 0,
 * or -1 with what was wrong in why.  --config, --help and --version are
 * handled by the caller.
 */
static int
options_apply(enum options_id id, const char *arg, struct options *opt,
    char *why, size_t size)
{
	switch (id) {
	case OPT_ALLOW_PORT:
		return options_ports(opt, arg, why, size);
	case OPT_ALLOW_DEST:
		return options_rule(opt, 1, arg, why, size);
	case OPT_DENY_DEST:
		return options_rule(opt, 0, arg, why, size);
	case OPT_ALLOW_UID:
		return options_uids(opt, arg, why, size);
	case OPT_AUTH_FILE:
		opt->auth_file = arg;
		return 0;
	case OPT_REALM:
		return options_realm(
		    arg, opt->realm, sizeof(opt->realm), why, size);
	case OPT_REQUEST_TIMEOUT:
		return options_seconds(
		    arg, 0, &opt->request_timeout_ms, why, size);
	case OPT_CONNECT_TIMEOUT:
		return options_seconds(
		    arg, 0, &opt->connect_timeout_ms, why, size);
	case OPT_DNS_TIMEOUT:
		return options_seconds(arg, 0, &opt->dns_timeout_ms, why, size);
	case OPT_IDLE_TIMEOUT:
		return options_seconds(
		    arg, 1, &opt->idle_timeout_ms, why, size);
	case OPT_MAX_LIFETIME:
		return options_seconds(
		    arg, 1, &opt->max_lifetime_ms, why, size);
	case OPT_LISTEN:
		opt->listen = arg;
		return 0;
	case OPT_FORK:
		opt->fork = 1;
		return 0;
	case OPT_MAX_CHILDREN:
		return options_count(arg, &opt->max_children, why, size);
	case OPT_PROXY_PROTOCOL:
		opt->proxy_protocol = 1;
		return 0;
	case OPT_PROXY_PROTOCOL_FROM:
		return options_proxy_from(opt, arg, why, size);
	case OPT_SEND_PROXY:
		return options_send_proxy(arg, &opt->send_proxy, why, size);
	case OPT_UPSTREAM:
		return options_upstream(opt, arg, why, size);
	case OPT_UPSTREAM_AUTH_FILE:
		opt->upstream_auth_file = arg;
		return 0;
	case OPT_UPSTREAM_EXCEPT:
		return options_upstream_except(opt, arg, why, size);
	case OPT_SPARES:
		return options_spares(arg, &opt->spares, why, size);
	case OPT_REUSE:
		return options_count(arg, &opt->reuse, why, size);
	case OPT_NO_SPLICE:
		opt->no_splice = 1;
		return 0;
	case OPT_LOG:
		return options_log_sink(arg, &opt->log_sink, why, size);
	case OPT_SANDBOX:
		if (sandbox_parse_mode(arg, &opt->sandbox) == 0)
			return 0;
		return options_why(why, size, "not auto, full, seccomp or off");
	case OPT_CONFIG:
	case OPT_HELP:
	case OPT_VERSION:
	case OPT_COUNT:
		break;
	}
	return options_why(why, size, "not allowed here");
}

void
options_defaults(struct options *opt)
{
	opt->request_timeout_ms = 30 * 1000;
	opt->connect_timeout_ms = 10 * 1000;
	opt->dns_timeout_ms = 5 * 1000;
	opt->idle_timeout_ms = 600 * 1000;
	opt->max_lifetime_ms = 0;
	policy_init(&opt->policy);
	opt->auth_file = NULL;
	util_strlcpy(opt->realm, "connectd", sizeof(opt->realm));
	opt->nuids = 0;
	opt->no_splice = 0;
	opt->proxy_protocol = 0;
	policy_list_clear(&opt->proxy_from); /* no write when empty */
	opt->send_proxy = 0;
	opt->listen = NULL;
	opt->fork = 0;
	opt->max_children = 1024;
	opt->spares = OPTIONS_SPARES_DEFAULT;
	opt->reuse = 1;
	opt->sandbox = SANDBOX_AUTO;
	opt->config = NULL;
	opt->log_sink = LOG_SINK_AUTO;
	/* Zero already unless set before: written only then (options.h). */
	if (opt->has_upstream || opt->upstream_auth_file != NULL ||
	    opt->upstream_except.n != 0) {
		opt->has_upstream = 0;
		opt->upstream.cred_len = 0;
		opt->upstream_auth_file = NULL;
		policy_list_clear(&opt->upstream_except);
	}
}

/* The row a configuration key names, or OPT_COUNT for none. */
static enum options_id
options_by_name(const char *name)
{
	int i;

	for (i = 0; i < OPT_COUNT; i++)
		if (strcmp(options_table[i].name, name) == 0)
			return (enum options_id)i;
	return OPT_COUNT;
}

/* Splits "key value" in place: *key and *value (empty for none). */
static void
options_split_line(char *line, char **key, char **value)
{
	char *end = line + strlen(line);

	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	while (isspace((unsigned char)*line))
		line++;
	*key = line;
	while (*line != '\0' && !isspace((unsigned char)*line))
		line++;
	if (*line != '\0')
		*line++ = '\0';
	while (isspace((unsigned char)*line))
		line++;
	*value = line;
}

/*
 * Applies one configuration line.  Returns 0 (also for a blank line or a
 * comment), or -1 with the complaint in why.
 */
static int
options_config_line(char *line, struct options *opt, char *why, size_t size)
{
	char *key, *value, what[OPTIONS_WHY_MAX], shown[64];
	enum options_id id;

	options_split_line(line, &key, &value);
	if (*key == '\0' || *key == '#')
		return 0;
	util_escape(shown, sizeof(shown), key, strlen(key));
	id = options_by_name(key);
	if (id == OPT_COUNT || !options_table[id].in_config) {
		snprintf(why, size, "%s: %s", shown,
		    id == OPT_COUNT ? "no such option"
				    : "not allowed in a configuration file");
		return -1;
	}
	if (options_table[id].arg == NULL && *value != '\0') {
		snprintf(why, size, "%s: takes no value", shown);
		return -1;
	}
	if (options_table[id].arg != NULL && *value == '\0') {
		snprintf(why, size, "%s: needs a value", shown);
		return -1;
	}
	if (options_apply(id, options_table[id].arg != NULL ? value : NULL, opt,
		what, sizeof(what)) == -1) {
		snprintf(why, size, "%s: %s", shown, what);
		return -1;
	}
	return 0;
}

int
options_parse_config(char *buf, size_t len, const char *name,
    struct options *opt, char *err, size_t errsize)
{
	size_t pos = 0, lineno = 0;
	char why[OPTIONS_WHY_MAX + 80];

	while (pos < len) {
		char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos;

		lineno++;
		pos += n + (nl != NULL);
		if (n >= OPTIONS_CONFIG_LINE_MAX)
			snprintf(why, sizeof(why), "line longer than %d bytes",
			    OPTIONS_CONFIG_LINE_MAX - 1);
		else if (memchr(line, '\0', n) != NULL)
			snprintf(why, sizeof(why), "a NUL byte");
		else if ((line[n] = '\0', 1) &&
		    options_config_line(line, opt, why, sizeof(why)) == 0)
			continue;
		snprintf(err, errsize, "%s:%zu: %s", name, lineno, why);
		return -1;
	}
	return 0;
}

/*
 * Checks that nobody but root and connectd's own user can have written the
 * open file fd: options can open the proxy to anyone.  Returns 0, or -1
 * with the complaint in why.
 */
static int
options_config_trusted(int fd, char *why, size_t size)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(why, size, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		return options_why(why, size, "not a regular file");
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, size,
		    "writable by its group or others (mode %04o)",
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, size,
		    "owned by uid %lu, neither root nor uid %lu",
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		return -1;
	}
	return 0;
}

/* Reads the whole of fd into buf (max bytes at most); the length or -1. */
static ssize_t
options_read_all(int fd, char *buf, size_t max)
{
	size_t got = 0;

	while (got <= max) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n == 0)
			return (ssize_t)got;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		got += (size_t)n;
	}
	errno = EFBIG;
	return -1;
}

/* Reads and applies --config path; 0, or -1 with a message in err. */
static int
options_read_config(
    const char *path, struct options *opt, char *err, size_t errsize)
{
	char why[OPTIONS_WHY_MAX];
	ssize_t n = -1;
	int fd, optional = path[0] == '-';

	if (opt->config != NULL) {
		snprintf(err, errsize, "--config %s: a second --config", path);
		return -1;
	}
	/* "-FILE" may be missing, as systemd's EnvironmentFile=-FILE. */
	path += optional;
	opt->config = path;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1 && optional && errno == ENOENT)
		return 0;
	if (fd == -1) {
		snprintf(
		    err, errsize, "--config %s: %s", path, strerror(errno));
		return -1;
	}
	if (options_config_trusted(fd, why, sizeof(why)) == 0 &&
	    (n = options_read_all(
		 fd, options_config_buf, OPTIONS_CONFIG_MAX)) == -1)
		snprintf(why, sizeof(why), "%s",
		    errno == EFBIG ? "larger than 65536 bytes"
				   : strerror(errno));
	close(fd);
	if (n == -1) {
		snprintf(err, errsize, "--config %s: %s", path, why);
		return -1;
	}
	return options_parse_config(
	    options_config_buf, (size_t)n, path, opt, err, errsize);
}

/* Builds getopt_long's tables from options_table. */
static void
options_getopt_tables(char *shorts, struct option *longs)
{
	int i;

	*shorts++ = ':';
	for (i = 0; i < OPT_COUNT; i++) {
		const struct options_spec *o = &options_table[i];

		*shorts++ = o->letter;
		if (o->arg != NULL)
			*shorts++ = ':';
		longs[i].name = o->name;
		longs[i].has_arg = o->arg != NULL ? required_argument
						  : no_argument;
		longs[i].flag = NULL;
		longs[i].val = o->letter;
	}
	*shorts = '\0';
	memset(&longs[OPT_COUNT], 0, sizeof(longs[OPT_COUNT]));
}

/* The row of a short option letter, or OPT_COUNT. */
static enum options_id
options_by_letter(int c)
{
	int i;

	for (i = 0; i < OPT_COUNT; i++)
		if (options_table[i].letter == c)
			return (enum options_id)i;
	return OPT_COUNT;
}

/* Acts on one option from argv; OPTIONS_RUN to go on. */
static enum options_status
options_take(enum options_id id, const char *arg, struct options *opt,
    char *err, size_t errsize)
{
	char why[OPTIONS_WHY_MAX], shown[64];

	switch (id) {
	case OPT_HELP:
		options_print_usage(stdout);
		return OPTIONS_EXIT;
	case OPT_VERSION:
		puts("connectd " CONNECTD_VERSION);
		return OPTIONS_EXIT;
	case OPT_CONFIG:
		return options_read_config(arg, opt, err, errsize) == 0
		    ? OPTIONS_RUN
		    : OPTIONS_BAD_CONFIG;
	default:
		break;
	}
	if (options_apply(id, arg, opt, why, sizeof(why)) == -1) {
		/* A long value is clipped so that what was wrong still shows. */
		char redacted[OPTIONS_CONFIG_LINE_MAX];
		const char *v = arg != NULL ? arg : "";

		if (options_table[id].secret) {
			upstream_redact(v, redacted, sizeof(redacted));
			v = redacted;
		}
		util_escape(shown, sizeof(shown), v, strlen(v));
		snprintf(err, errsize, "--%s %s: %s", options_table[id].name,
		    shown, why);
		return OPTIONS_USAGE;
	}
	return OPTIONS_RUN;
}

/*
 * Options that make sense only together, or not at all together, once all
 * are read.  Returns 0, or -1 with the complaint in err.
 */
static int
options_check_combination(const struct options *opt, char *err, size_t errsize)
{
	const char *why = NULL;

	/* Trusting any peer's header would let anyone forge client=. */
	if (opt->proxy_protocol && opt->proxy_from.n == 0)
		why = "--proxy-protocol needs --proxy-protocol-from: "
		      "the peers trusted to send the header";
	else if (!opt->proxy_protocol && opt->proxy_from.n > 0)
		why = "--proxy-protocol-from without --proxy-protocol";
	/* The socket's peer is the balancer: its uid is not the client's. */
	else if (opt->proxy_protocol && opt->nuids > 0)
		why = "--allow-uid cannot apply to clients behind "
		      "--proxy-protocol";
	else if (!opt->has_upstream && opt->upstream_auth_file != NULL)
		why = "--upstream-auth-file without --upstream";
	else if (!opt->has_upstream && opt->upstream_except.n > 0)
		why = "--upstream-except without --upstream";
	/* Two sources would leave the admin guessing which one is sent. */
	else if (opt->upstream.cred_len > 0 && opt->upstream_auth_file != NULL)
		why = "--upstream-auth-file, and credentials in --upstream: "
		      "give them once";
	if (why == NULL)
		return 0;
	snprintf(err, errsize, "%s", why);
	return -1;
}

enum options_status
options_parse(
    int argc, char **argv, struct options *opt, char *err, size_t errsize)
{
	char shorts[2 * OPT_COUNT + 2];
	struct option longs[OPT_COUNT + 1];
	enum options_status st;
	int c;

	options_defaults(opt);
	options_getopt_tables(shorts, longs);
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		enum options_id id = options_by_letter(c);

		if (c == '?' || c == ':' || id == OPT_COUNT) {
			snprintf(err, errsize, "%s option: %s",
			    c == ':' ? "missing value for" : "unknown",
			    argv[optind - 1]);
			return OPTIONS_USAGE;
		}
		st = options_take(id, optarg, opt, err, errsize);
		if (st != OPTIONS_RUN)
			return st;
	}
	if (optind < argc) {
		snprintf(err, errsize, "unexpected argument: %s", argv[optind]);
		return OPTIONS_USAGE;
	}
	if (options_check_combination(opt, err, errsize) == -1)
		return OPTIONS_USAGE;
	return OPTIONS_RUN;
}
