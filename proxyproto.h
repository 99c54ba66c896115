/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a
 * pure parser for the header a load balancer sends before the request, and
 * a builder for the header connectd sends to a target.  No I/O, no
 * allocation, no logging, so the reader, the unit tests and the fuzzer
 * drive the same code.
 */
#ifndef CONNECTD_PROXYPROTO_H
#define CONNECTD_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

#define PP_V1_MAX 107 /* the spec's bound, "PROXY" to CRLF inclusive */
#define PP_V2_FIXED 16 /* signature, version and command, family, length */
/*
 * The spec allows 65535 bytes after the fixed part; like HAProxy, we take
 * at most 536 (the addresses of AF_UNIX, 216 bytes, and 320 of TLVs) and
 * refuse a header that declares more.
 */
#define PP_V2_BODY_MAX 536
#define PP_HEADER_MAX (PP_V2_FIXED + PP_V2_BODY_MAX)
#define PP_BUILD_MAX PP_V1_MAX /* room for any header pp_build() writes */

enum pp_status {
	PP_INCOMPLETE, /* a valid prefix of a header: more bytes are needed */
	PP_DONE, /* a whole, valid header: see struct pp_header */
	PP_NONE, /* the bytes do not start a PROXY header of either version */
	PP_BAD, /* a header, but malformed or larger than the caps */
};

struct pp_header {
	int version; /* 1 or 2 */
	int local; /* v2 LOCAL: the balancer's own connection (health check) */
	/*
	 * 1 when src and dst hold the client's TCP endpoints; 0 for LOCAL,
	 * v1 UNKNOWN and v2 AF_UNSPEC or AF_UNIX, whose connection keeps its
	 * socket's own addresses.
	 */
	int has_addr;
	struct sockaddr_storage src; /* the client, AF_INET or AF_INET6 */
	struct sockaddr_storage dst; /* where the client connected to */
	size_t len; /* bytes the header takes: the request starts there */
};

/*
 * Parses a PROXY header at the start of buf[0..len).  Returns PP_DONE with
 * *h filled in (never reading past h->len: the bytes after it belong to the
 * request), PP_INCOMPLETE while the bytes so far are a valid prefix within
 * the caps, PP_NONE when they cannot start a header (for len 0:
 * PP_INCOMPLETE), or PP_BAD.  A verdict is reached as early as the bytes
 * allow.  Cheap enough to call again on each read: it looks at most at
 * PP_HEADER_MAX bytes.  v2 TLVs are walked, each within the declared
 * length, and skipped; v2 with a DGRAM protocol is PP_BAD (we relay TCP).
 */
enum pp_status pp_parse(const char *buf, size_t len, struct pp_header *h);

/*
 * Writes a version (1 or 2) header for a connection from src to dst into
 * out[0..size).  An IPv4-mapped IPv6 address counts as IPv4; with one
 * address of each family, the IPv4 one is written mapped into IPv6.  A
 * NULL or non-IP address on either side gives v1 "UNKNOWN", or v2 PROXY
 * with AF_UNSPEC.  Returns the length written, or 0 when size is too
 * small (PP_BUILD_MAX always suffices) or version is neither 1 nor 2.
 */
size_t pp_build(int version, const struct sockaddr *src,
    const struct sockaddr *dst, char *out, size_t size);

#endif
