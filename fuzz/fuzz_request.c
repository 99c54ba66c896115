/*
 * libFuzzer target for the request parser.  Besides "no crash", it checks
 * the parser's promises: an accepted head lies inside the input, the host is
 * terminated and the port in range, a verdict reached on a prefix (as the
 * reader sees bytes arrive) never contradicts the one on the whole: no
 * valid request is refused early, no invalid one accepted early; and
 * req_resume() fed the input in pieces reaches the verdict at the same byte,
 * with the same outcome and fields, as req_parse() on that prefix whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../request.h"
#include "request_same.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_request(const struct request *req, enum outcome o, size_t size)
{
	if (o != OUT_OK)
		return;
	if (req->head_len == 0 || req->head_len > size ||
	    req->head_len > REQ_HEAD_MAX)
		abort();
	if (memchr(req->host, '\0', sizeof(req->host)) == NULL ||
	    req->host[0] == '\0')
		abort();
	if (req->port == 0 || req->port > 65535)
		abort();
}

/* xorshift32, seeded from the input: the same input, the same pieces. */
static uint32_t
next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static uint32_t
seed_of(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h != 0 ? h : 1;
}

/*
 * Feeds buf[0..size) to req_resume() in pieces of 1 to max bytes (max picked
 * per input, from 1 up) until a verdict; req_parse() on the prefix must give
 * it too, and on the prefix before the last piece no verdict yet.
 */
static void
check_pieces(const char *buf, size_t size, const uint8_t *data)
{
	static const size_t maxes[] = { 1, 2, 3, 16, 200, 8193, 40000 };
	struct request inc, whole;
	uint32_t rnd = seed_of(data, size);
	size_t max = maxes[next_random(&rnd) % 7], got = 0, prev = 0;
	enum outcome o = OUT_INCOMPLETE;

	req_init(&inc);
	while (o == OUT_INCOMPLETE && got < size) {
		prev = got;
		got += 1 + next_random(&rnd) % max;
		if (got > size)
			got = size;
		o = req_resume(buf, got, &inc);
	}
	if (req_parse(buf, got, &whole) != o || !req_same(&inc, &whole))
		abort();
	if (req_parse(buf, prev, &whole) != OUT_INCOMPLETE)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req;
	enum outcome o;
	char *copy;

	if (size > 2 * REQ_HEAD_MAX)
		return 0;
	/* A private copy, so reads past the end are caught by ASan. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	o = req_parse(copy, size, &req);
	check_request(&req, o, size);
	if (size > 1) {
		size_t whole_head = req.head_len;
		enum outcome p = req_parse(copy, size / 2, &req);

		if (p == OUT_OK && (o != OUT_OK || req.head_len != whole_head))
			abort();
		if (p != OUT_OK && p != OUT_INCOMPLETE &&
		    (o == OUT_OK || o == OUT_INCOMPLETE))
			abort();
	}
	check_pieces(copy, size, data);
	free(copy);
	return 0;
}
