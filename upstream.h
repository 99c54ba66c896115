/*
 * Upstream chaining: the parent CONNECT proxy that --upstream names.  This
 * module parses its URL and the one-line credentials file, writes the
 * CONNECT request we send it, and judges the head of its answer with a
 * pure, bounded, resumable parser (no I/O, no allocation, no logging) that
 * the unit tests and the fuzzer drive alone, as request.c does for ours.
 */
#ifndef CONNECTD_UPSTREAM_H
#define CONNECTD_UPSTREAM_H

#include <stddef.h>

#include "outcome.h"

#define UPSTREAM_HOST_MAX 256 /* host buffer: name or address text + NUL */
#define UPSTREAM_CRED_MAX 512 /* "user:password" decoded, with its NUL */
#define UPSTREAM_AUTH_FILE_MAX 1024 /* bytes of --upstream-auth-file */
/* Our CONNECT: two authorities and the credentials in base64. */
#define UPSTREAM_CONNECT_MAX 2048
#define UPSTREAM_LINE_MAX 8192 /* a line of the parent's head, no line end */
#define UPSTREAM_HEAD_MAX 16384 /* the parent's heads, every line end in */
#define UPSTREAM_FIELDS_MAX 100 /* field lines in the parent's heads */

/* The parent, as --upstream gives it. */
struct upstream {
	char host[UPSTREAM_HOST_MAX]; /* a name or an address, no brackets */
	int numeric; /* host is an address literal */
	int v6; /* host is an IPv6 address: bracketed in an authority */
	unsigned int port; /* 1-65535 */
	char cred[UPSTREAM_CRED_MAX]; /* "user:password" from the URL, or "" */
	size_t cred_len;
};

/*
 * Parses "http://[user[:password]@]host:port[/]" into up: a name, an IPv4
 * address or a bracketed IPv6 address, the port required; userinfo is
 * percent-decoded.  Returns 0, or -1 with what was wrong in why (never
 * the password).
 */
int upstream_parse_url(
    const char *url, struct upstream *up, char *why, size_t whysize);

/*
 * Copies url into out (of size bytes) with any userinfo replaced by
 * "***", so that a message can show what was given without its password.
 */
void upstream_redact(const char *url, char *out, size_t size);

/*
 * Parses the text of an --upstream-auth-file (len bytes of buf): one line
 * "user:password", taken as is (no percent-decoding), a line end and blank
 * lines after it allowed.  Stores the line in cred (of credsize bytes,
 * NUL-terminated) and its length in *len.  Returns 0, or -1 with what was
 * wrong in why (never the password).  Pure: the fuzzer drives it.
 */
int upstream_parse_cred(const char *buf, size_t len, char *cred,
    size_t credsize, size_t *cred_len, char *why, size_t whysize);

/*
 * Reads the --upstream-auth-file path (at most UPSTREAM_AUTH_FILE_MAX
 * bytes) and parses it as upstream_parse_cred() does.  Returns 0, or -1
 * with what was wrong in why.
 */
int upstream_load_cred(const char *path, char *cred, size_t credsize,
    size_t *cred_len, char *why, size_t whysize);

/*
 * Writes our CONNECT to the parent for host (no brackets; v6: an IPv6
 * address, bracketed here) and port into buf of size bytes: the request
 * line, Host, and Proxy-Authorization: Basic with cred (cred_len bytes)
 * when cred_len > 0.  Nothing of the client's request is passed on.
 * Returns the length, or 0 when it does not fit.
 */
size_t upstream_build_connect(const char *host, int v6, unsigned int port,
    const char *cred, size_t cred_len, char *buf, size_t size);

/* What upstream_resume() made of the parent's bytes so far. */
enum upstream_verdict {
	UPSTREAM_INCOMPLETE, /* a valid prefix within every limit */
	UPSTREAM_DONE, /* a final head: status and head_len are set */
	UPSTREAM_BAD, /* not an HTTP/1.x response head */
	UPSTREAM_TOO_LARGE, /* a line, the fields or the heads past a cap */
};

/* The parent's answer as it is parsed; the cursor is upstream.c's. */
struct upstream_reply {
	int status; /* the final status, 200-999 once DONE */
	size_t head_len; /* bytes of every head, 1xx ones too; tunnel after */
	struct {
		size_t line; /* where the first unfinished line starts */
		size_t scan; /* [line, scan) holds no LF */
		size_t fields; /* field lines so far, over all heads */
		int in_fields; /* this head's status line is parsed */
	} cur;
};

/* Readies r for an answer whose bytes upstream_resume() will be given. */
void upstream_reply_init(struct upstream_reply *r);

/*
 * Parses on from where the last call stopped: buf[0..len) holds the same
 * bytes as before and any that arrived since.  Interim 1xx heads (101
 * aside, which is UPSTREAM_BAD for a CONNECT) are skipped; the status of
 * the head after them is the answer.  Line ends are CRLF or LF (RFC 9112
 * section 2.2); a folded field line is UPSTREAM_BAD.  Each byte is read a
 * bounded number of times over all calls.  Call it after
 * upstream_reply_init() or while it returns UPSTREAM_INCOMPLETE.
 */
enum upstream_verdict
upstream_resume(const char *buf, size_t len, struct upstream_reply *r);

/*
 * What a parent's final status means to our client: OUT_OK for 2xx,
 * OUT_UPSTREAM_AUTH_FAILED for 407, OUT_UPSTREAM_DENIED for 403,
 * OUT_UPSTREAM_UNAVAILABLE for 503, OUT_UPSTREAM_GATEWAY_TIMEOUT for 504,
 * OUT_UPSTREAM_BAD_GATEWAY for 502, OUT_UPSTREAM_REFUSED for any other.
 */
enum outcome upstream_outcome(int status);

#endif
