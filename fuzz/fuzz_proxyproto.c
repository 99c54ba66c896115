/*
 * libFuzzer target for the PROXY header parser.  Besides "no crash", it
 * checks the parser's promises: an accepted header lies inside the input
 * and within the caps; a verdict reached on a prefix (as the reader sees
 * bytes arrive) is the verdict on the whole; bytes after an accepted
 * header never change it; and the addresses it carries, written again by
 * pp_build(), parse back the same.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_header(const struct pp_header *h, enum pp_status st, size_t size)
{
	if (st != PP_DONE)
		return;
	if (h->len == 0 || h->len > size || h->len > PP_HEADER_MAX ||
	    (h->version == 1 && h->len > PP_V1_MAX) ||
	    (h->version != 1 && h->version != 2))
		abort();
	if (h->has_addr && (h->local || h->src.ss_family != h->dst.ss_family))
		abort();
}

/* A verdict on buf[0..k) must be the verdict on the whole. */
static void
check_prefix(
    const char *buf, size_t k, enum pp_status whole, const struct pp_header *wh)
{
	struct pp_header h;
	enum pp_status st = pp_parse(buf, k, &h);

	if (st == PP_INCOMPLETE)
		return;
	if (st != whole || (st == PP_DONE && h.len != wh->len))
		abort();
}

/* 1 for an IPv4-mapped IPv6 address, which pp_build() writes as IPv4. */
static int
is_mapped(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	return ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
}

/* The carried addresses, written again in each version, parse back. */
static void
check_rebuild(const struct pp_header *h)
{
	char out[PP_BUILD_MAX];
	struct pp_header back;
	int v;

	if (!h->has_addr)
		return;
	for (v = 1; v <= 2; v++) {
		size_t n = pp_build(v, (const struct sockaddr *)&h->src,
		    (const struct sockaddr *)&h->dst, out, sizeof(out));

		if (n == 0 || pp_parse(out, n, &back) != PP_DONE ||
		    back.len != n || !back.has_addr)
			abort();
		/* Mapped addresses may come back as IPv4: compare the rest. */
		if (v == 2 && !is_mapped(&h->src) && !is_mapped(&h->dst) &&
		    (memcmp(&back.src, &h->src, sizeof(h->src)) != 0 ||
			memcmp(&back.dst, &h->dst, sizeof(h->dst)) != 0))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_header h;
	enum pp_status st;
	char *copy;

	if (size > 4 * PP_HEADER_MAX)
		return 0;
	/* A private copy, so reads past the end are caught by ASan. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	st = pp_parse(copy, size, &h);
	check_header(&h, st, size);
	if (size > 0) {
		check_prefix(copy, size / 2, st, &h);
		check_prefix(copy, size - 1, st, &h);
	}
	if (st == PP_DONE) {
		struct pp_header first = h;

		/* Incomplete one byte short, the same with anything after. */
		if (pp_parse(copy, first.len - 1, &h) != PP_INCOMPLETE ||
		    pp_parse(copy, first.len, &h) != PP_DONE ||
		    memcmp(&h, &first, sizeof(h)) != 0)
			abort();
		check_rebuild(&first);
	}
	free(copy);
	return 0;
}
