/*
 * libFuzzer target for the request parser.  Besides "no crash", it checks
 * the parser's promises: an accepted head lies inside the input, the host is
 * terminated and the port in range, and a verdict reached on a prefix (as
 * the reader sees bytes arrive) never contradicts the one on the whole: no
 * valid request is refused early, no invalid one accepted early.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../request.h"

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
	free(copy);
	return 0;
}
