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
};

/*
 * Parses the request head at the start of buf[0..len).  Returns OUT_OK when
 * a complete, valid CONNECT head was found (req filled in; bytes from
 * req->head_len on belong to the tunnel), OUT_INCOMPLETE when the bytes so
 * far are a valid prefix within every limit and more are needed, or the
 * outcome that answers the request.  Errors are found as early as the bytes
 * allow, so a bad request line is answered before its headers arrive.
 * req's pointers point into buf.
 */
enum outcome req_parse(const char *buf, size_t len, struct request *req);

/*
 * Validates an authority "host[:port]" (port required when need_port) and,
 * when req is not NULL, stores host, kind and port in it.  Returns OUT_OK,
 * OUT_BAD_TARGET or OUT_BAD_PORT.
 */
enum outcome req_parse_authority(
    const char *s, size_t n, int need_port, struct request *req);

#endif
