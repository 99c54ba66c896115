/*
 * The CONNECT request parser: a pure function over a byte buffer, with no
 * I/O, no allocation and no logging, so that the reader, the unit tests and
 * the fuzzer drive the same code.  RFC 9110 section 9.3.6, RFC 9112.
 */
#ifndef CONNECTD_REQUEST_H
#define CONNECTD_REQUEST_H

#include <stddef.h>

#include "outcome.h"

#define REQ_TARGET_MAX 260 /* 253-byte name, trailing dot, ":65535" */
#define REQ_LINE_MAX 8192 /* any one line, without its line end */
#define REQ_HEAD_MAX 16384 /* the whole head with every line end */
#define REQ_FIELDS_MAX 100
#define REQ_HOST_MAX 256 /* host buffer: name or address text + NUL */

enum req_host_kind {
	REQ_HOST_NAME,
	REQ_HOST_IPV4,
	REQ_HOST_IPV6,
};

/* Where req_resume() stands in the head. */
enum req_stage {
	REQ_STAGE_START, /* before the optional empty line (RFC 9112 2.2) */
	REQ_STAGE_REQUEST_LINE,
	REQ_STAGE_FIELDS,
};

/*
 * What req_resume() keeps between calls, so that each call starts at the
 * first line not yet complete and judges only bytes it has not seen: a
 * head trickled one byte per read costs linear time, not quadratic.
 */
struct req_cursor {
	enum req_stage stage;
	size_t line; /* offset where the first unfinished line starts */
	size_t scan; /* bytes [line, scan) hold no LF and no control byte */
	size_t fields; /* field lines parsed */
	int hosts; /* Host fields among them */
};

struct request {
	char host[REQ_HOST_MAX]; /* without brackets, NUL-terminated */
	enum req_host_kind host_kind;
	unsigned int port; /* 1-65535 */
	int minor; /* HTTP/1.minor: 0 or 1 */
	size_t head_len; /* bytes up to and with the blank line */
	const char *target; /* raw target, into the buffer, for the log */
	size_t target_len;
	const char *method; /* into the buffer, for the log */
	size_t method_len;
	const char *auth; /* Proxy-Authorization value or NULL */
	size_t auth_len;
	struct req_cursor cur; /* private to request.c */
};

/*
 * Parses the request head at the start of buf[0..len).  Returns OUT_OK when
 * a complete, valid CONNECT head was found (req filled in; bytes from
 * req->head_len on belong to the tunnel), OUT_INCOMPLETE when the bytes so
 * far are a valid prefix within every limit and more are needed, or the
 * outcome that answers the request.  Errors are found as early as the bytes
 * allow, so a bad request line is answered before its headers arrive.
 * req's pointers point into buf.  The same as req_init() then
 * req_resume().
 */
enum outcome req_parse(const char *buf, size_t len, struct request *req);

/* Readies req for a head whose bytes req_resume() will be given. */
void req_init(struct request *req);

/*
 * Parses on from where the last call on req stopped, for a reader that
 * gets a head in pieces: buf[0..len) is the same buffer as before, holding
 * the same bytes and any that arrived since (len never shrinks).  Returns
 * exactly what req_parse(buf, len, req) would, reading each byte a bounded
 * number of times over all calls.  Call it only after req_init() or while
 * it returns OUT_INCOMPLETE; after any other outcome req is final.
 */
enum outcome req_resume(const char *buf, size_t len, struct request *req);

/*
 * Validates an authority "host[:port]" (port required when need_port) and,
 * when req is not NULL, stores host, kind and port in it.  Returns OUT_OK,
 * OUT_BAD_TARGET or OUT_BAD_PORT.
 */
enum outcome req_parse_authority(
    const char *s, size_t n, int need_port, struct request *req);

#endif
