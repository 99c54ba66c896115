/*
 * The PROXY protocol, versions 1 and 2, as HAProxy's proxy-protocol.txt
 * defines them: the text line "PROXY TCP4 src dst sport dport\r\n" and the
 * binary header behind a 12-byte signature.  Every field is scanned and
 * length-checked; nothing past the header's end is ever read.
 */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PP_V1_PREFIX "PROXY "
#define PP_V1_PREFIX_LEN 6
#define PP_V2_SIG_LEN 12
#define PP_V2_VERSION 0x2
#define PP_V2_CMD_LOCAL 0x0
#define PP_V2_CMD_PROXY 0x1
#define PP_V2_AF_UNSPEC 0x0
#define PP_V2_AF_INET 0x1
#define PP_V2_AF_INET6 0x2
#define PP_V2_AF_UNIX 0x3
#define PP_V2_PROTO_STREAM 0x1
#define PP_V2_PROTO_DGRAM 0x2
#define PP_V2_TLV_HEAD 3 /* type, 16-bit length */
#define PP_V1_FIELD_MAX 46 /* INET6_ADDRSTRLEN: the longest address text */

static const char pp_v2_sig[PP_V2_SIG_LEN] = { '\r', '\n', '\r', '\n', '\0',
	'\r', '\n', 'Q', 'U', 'I', 'T', '\n' };

/* Address bytes after the fixed part, by v2 family (UNSPEC has none). */
static const size_t pp_v2_addr_len[] = {
	[PP_V2_AF_UNSPEC] = 0,
	[PP_V2_AF_INET] = 12,
	[PP_V2_AF_INET6] = 36,
	[PP_V2_AF_UNIX] = 216,
};

/* 1 when buf[0..len) agrees with the first len bytes of want[0..n). */
static int
pp_prefix_matches(const char *buf, size_t len, const char *want, size_t n)
{
	return memcmp(buf, want, len < n ? len : n) == 0;
}

static unsigned int
pp_be16(const char *p)
{
	return (unsigned int)(unsigned char)p[0] << 8 |
	    (unsigned int)(unsigned char)p[1];
}

/* Stores an address and port (network order) in ss. */
static void
pp_set_addr(
    struct sockaddr_storage *ss, int family, const void *addr, uint16_t port_be)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = port_be;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = port_be;
	}
}

/* v1: a port, "0" to "65535" without leading zeros; 0 or -1. */
static int
pp_v1_port(const char *s, size_t n, uint16_t *port_be)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port_be = htons((uint16_t)v);
	return 0;
}

/* v1: an address of family af, as inet_pton(3) reads it; 0 or -1. */
static int
pp_v1_addr(const char *s, size_t n, int af, unsigned char out[16])
{
	char text[PP_V1_FIELD_MAX];

	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(af, text, out) == 1 ? 0 : -1;
}

/*
 * v1: "src dst sport dport" in line[0..n), fields split by single spaces,
 * into h.  Returns 0 or -1.
 */
static int
pp_v1_fields(const char *line, size_t n, int af, struct pp_header *h)
{
	const char *f[4];
	size_t flen[4], i, start = 0, k = 0;
	unsigned char src[16], dst[16];
	uint16_t sport, dport;

	for (i = 0; i <= n; i++) {
		if (i < n && line[i] != ' ')
			continue;
		if (k == 4)
			return -1;
		f[k] = line + start;
		flen[k++] = i - start;
		start = i + 1;
	}
	if (k != 4 || pp_v1_addr(f[0], flen[0], af, src) == -1 ||
	    pp_v1_addr(f[1], flen[1], af, dst) == -1 ||
	    pp_v1_port(f[2], flen[2], &sport) == -1 ||
	    pp_v1_port(f[3], flen[3], &dport) == -1)
		return -1;
	pp_set_addr(&h->src, af, src, sport);
	pp_set_addr(&h->dst, af, dst, dport);
	h->has_addr = 1;
	return 0;
}

/*
 * v1: judges the protocol word as far as it has come: "TCP4 ", "TCP6 " or
 * "UNKNOWN" then a space or the line end.  w[0..n) follows "PROXY ".
 * Returns 1 once the word is whole, with its family in *af (AF_UNSPEC for
 * UNKNOWN), 0 while it is a valid prefix, -1 when it cannot become one.
 */
static int
pp_v1_proto(const char *w, size_t n, int *af)
{
	static const struct {
		const char *word;
		int af;
	} words[] = { { "TCP4 ", AF_INET }, { "TCP6 ", AF_INET6 },
		{ "UNKNOWN", AF_UNSPEC } };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t wl = strlen(words[i].word);
		int unknown = words[i].af == AF_UNSPEC;

		if (!pp_prefix_matches(w, n, words[i].word, wl))
			continue;
		if (n < wl + (unknown ? 1 : 0))
			return 0;
		/* UNKNOWN may be followed by anything, which is ignored. */
		if (unknown && w[wl] != ' ' && w[wl] != '\r')
			return -1;
		*af = words[i].af;
		return 1;
	}
	return -1;
}

/* v1, after "PROXY " matched: the line up to its CRLF. */
static enum pp_status
pp_parse_v1(const char *buf, size_t len, struct pp_header *h)
{
	size_t max = len < PP_V1_MAX ? len : PP_V1_MAX, i;
	const char *w = buf + PP_V1_PREFIX_LEN;
	int af = AF_UNSPEC, word;

	/* Printable ASCII only; CR only right before the LF that ends it. */
	for (i = PP_V1_PREFIX_LEN; i < max; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r' && i + 1 < len && buf[i + 1] == '\n')
			break;
		if ((c < 0x20 || c > 0x7e) && !(c == '\r' && i + 1 == len))
			return PP_BAD;
	}
	word = pp_v1_proto(w, (i < max ? i + 1 : len) - PP_V1_PREFIX_LEN, &af);
	if (word == -1 || (i < max && word == 0))
		return PP_BAD;
	if (i == max)
		return len >= PP_V1_MAX ? PP_BAD : PP_INCOMPLETE;
	/* buf[i] is the CR; with its LF the line is at most PP_V1_MAX. */
	if (i + 2 > PP_V1_MAX)
		return PP_BAD;
	h->version = 1;
	h->len = i + 2;
	if (af != AF_UNSPEC &&
	    pp_v1_fields(w + 5, i - PP_V1_PREFIX_LEN - 5, af, h) == -1)
		return PP_BAD;
	return PP_DONE;
}

/* v2: the body's TLVs, each type, length and value inside p[0..n). */
static int
pp_v2_tlvs_fit(const char *p, size_t n)
{
	while (n > 0) {
		size_t tl;

		if (n < PP_V2_TLV_HEAD)
			return -1;
		tl = PP_V2_TLV_HEAD + pp_be16(p + 1);
		if (tl > n)
			return -1;
		p += tl;
		n -= tl;
	}
	return 0;
}

/* v2: the addresses of a PROXY command for family fam at p. */
static void
pp_v2_addresses(const char *p, unsigned int fam, struct pp_header *h)
{
	uint16_t sport, dport;

	if (fam == PP_V2_AF_INET) {
		memcpy(&sport, p + 8, 2);
		memcpy(&dport, p + 10, 2);
		pp_set_addr(&h->src, AF_INET, p, sport);
		pp_set_addr(&h->dst, AF_INET, p + 4, dport);
		h->has_addr = 1;
	} else if (fam == PP_V2_AF_INET6) {
		memcpy(&sport, p + 32, 2);
		memcpy(&dport, p + 34, 2);
		pp_set_addr(&h->src, AF_INET6, p, sport);
		pp_set_addr(&h->dst, AF_INET6, p + 16, dport);
		h->has_addr = 1;
	}
}

/*
 * v2, after the signature matched: judges version and command, family and
 * protocol, and length from the fixed part, then the body once whole.
 */
static enum pp_status
pp_parse_v2(const char *buf, size_t len, struct pp_header *h)
{
	unsigned int cmd, fam, proto, body;
	const char *p = buf + PP_V2_FIXED;

	if (len > 12 &&
	    ((unsigned char)buf[12] >> 4 != PP_V2_VERSION ||
		((unsigned char)buf[12] & 0xf) > PP_V2_CMD_PROXY))
		return PP_BAD;
	if (len <= 13)
		return PP_INCOMPLETE;
	cmd = (unsigned char)buf[12] & 0xf;
	fam = (unsigned char)buf[13] >> 4;
	proto = (unsigned char)buf[13] & 0xf;
	if (fam > PP_V2_AF_UNIX || proto > PP_V2_PROTO_DGRAM)
		return PP_BAD;
	/* We relay TCP: a PROXY command speaks of a stream, or of nothing. */
	if (cmd == PP_V2_CMD_PROXY &&
	    (proto == PP_V2_PROTO_DGRAM ||
		((fam == PP_V2_AF_INET || fam == PP_V2_AF_INET6) &&
		    proto != PP_V2_PROTO_STREAM)))
		return PP_BAD;
	if (len < PP_V2_FIXED)
		return PP_INCOMPLETE;
	body = pp_be16(buf + 14);
	if (body > PP_V2_BODY_MAX ||
	    (cmd == PP_V2_CMD_PROXY && body < pp_v2_addr_len[fam]))
		return PP_BAD;
	if (len < PP_V2_FIXED + body)
		return PP_INCOMPLETE;
	h->version = 2;
	h->len = PP_V2_FIXED + body;
	/* LOCAL: the spec has the receiver ignore whatever the body holds. */
	if (cmd == PP_V2_CMD_LOCAL) {
		h->local = 1;
		return PP_DONE;
	}
	if (pp_v2_tlvs_fit(
		p + pp_v2_addr_len[fam], body - pp_v2_addr_len[fam]) == -1)
		return PP_BAD;
	pp_v2_addresses(p, fam, h);
	return PP_DONE;
}

enum pp_status
pp_parse(const char *buf, size_t len, struct pp_header *h)
{
	memset(h, 0, sizeof(*h));
	if (len == 0)
		return PP_INCOMPLETE;
	if (buf[0] == 'P') {
		if (!pp_prefix_matches(
			buf, len, PP_V1_PREFIX, PP_V1_PREFIX_LEN))
			return PP_NONE;
		if (len <= PP_V1_PREFIX_LEN)
			return PP_INCOMPLETE;
		return pp_parse_v1(buf, len, h);
	}
	if (!pp_prefix_matches(buf, len, pp_v2_sig, PP_V2_SIG_LEN))
		return PP_NONE;
	if (len < PP_V2_SIG_LEN)
		return PP_INCOMPLETE;
	return pp_parse_v2(buf, len, h);
}

/*
 * Puts a and b in one family for a header: IPv4-mapped addresses as IPv4,
 * then, if one is still IPv4 and the other IPv6, the IPv4 one mapped.
 * Returns the family, or AF_UNSPEC when either is missing or not IP.
 */
static int
pp_common_family(const struct sockaddr *a, const struct sockaddr *b,
    struct sockaddr_in6 out[2])
{
	const struct sockaddr *in[2] = { a, b };
	int i, fam[2];

	for (i = 0; i < 2; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (in[i] == NULL ||
		    (in[i]->sa_family != AF_INET &&
			in[i]->sa_family != AF_INET6))
			return AF_UNSPEC;
		if (in[i]->sa_family == AF_INET6) {
			out[i] = *(const struct sockaddr_in6 *)in[i];
		} else {
			const struct sockaddr_in *s4 =
			    (const struct sockaddr_in *)in[i];

			out[i].sin6_family = AF_INET;
			out[i].sin6_port = s4->sin_port;
			memcpy(&out[i].sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		}
		if (out[i].sin6_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&out[i].sin6_addr))
			out[i].sin6_family = AF_INET;
		fam[i] = out[i].sin6_family;
	}
	/* An IPv4 address sits in bytes 12-15; ::ffff: before it maps it. */
	for (i = 0; i < 2 && fam[0] != fam[1]; i++) {
		if (fam[i] == AF_INET)
			memset(&out[i].sin6_addr.s6_addr[10], 0xff, 2);
		out[i].sin6_family = AF_INET6;
	}
	return out[0].sin6_family;
}

/* The address bytes of a, as pp_common_family() left them. */
static const void *
pp_addr_bytes(int fam, const struct sockaddr_in6 *a)
{
	return fam == AF_INET ? &a->sin6_addr.s6_addr[12]
			      : (const void *)&a->sin6_addr;
}

/* v1: "PROXY TCP4 src dst sport dport\r\n" or "PROXY UNKNOWN\r\n". */
static size_t
pp_build_v1(int fam, const struct sockaddr_in6 a[2], char *out, size_t size)
{
	char text[2][INET6_ADDRSTRLEN];
	int i, n;

	if (fam == AF_UNSPEC) {
		n = snprintf(out, size, "PROXY UNKNOWN\r\n");
	} else {
		for (i = 0; i < 2; i++)
			inet_ntop(fam, pp_addr_bytes(fam, &a[i]), text[i],
			    sizeof(text[i]));
		n = snprintf(out, size, "PROXY TCP%c %s %s %u %u\r\n",
		    fam == AF_INET ? '4' : '6', text[0], text[1],
		    ntohs(a[0].sin6_port), ntohs(a[1].sin6_port));
	}
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* v2: the fixed part, then the two addresses and the two ports. */
static size_t
pp_build_v2(int fam, const struct sockaddr_in6 a[2], char *out, size_t size)
{
	size_t alen = fam == AF_INET ? 4 : fam == AF_INET6 ? 16 : 0;
	size_t body = alen * 2 + (alen ? 4 : 0), i;
	char *p = out + PP_V2_FIXED;

	if (size < PP_V2_FIXED + body)
		return 0;
	memcpy(out, pp_v2_sig, PP_V2_SIG_LEN);
	out[12] = PP_V2_VERSION << 4 | PP_V2_CMD_PROXY;
	out[13] = fam == AF_INET ? PP_V2_AF_INET << 4 | PP_V2_PROTO_STREAM
	    : fam == AF_INET6	 ? PP_V2_AF_INET6 << 4 | PP_V2_PROTO_STREAM
				 : PP_V2_AF_UNSPEC << 4;
	out[14] = (char)(body >> 8);
	out[15] = (char)(body & 0xff);
	for (i = 0; alen && i < 2; i++)
		memcpy(p + i * alen, pp_addr_bytes(fam, &a[i]), alen);
	for (i = 0; alen && i < 2; i++)
		memcpy(p + 2 * alen + i * 2, &a[i].sin6_port, 2);
	return PP_V2_FIXED + body;
}

size_t
pp_build(int version, const struct sockaddr *src, const struct sockaddr *dst,
    char *out, size_t size)
{
	struct sockaddr_in6 a[2];
	int fam = pp_common_family(src, dst, a);

	if (version == 1)
		return pp_build_v1(fam, a, out, size);
	if (version == 2)
		return pp_build_v2(fam, a, out, size);
	return 0;
}
