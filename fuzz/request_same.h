/*
 * Whether two parses of one buffer agree, for the unit tests and the fuzz
 * target that check req_resume() against req_parse(): a header of its own
 * so that both compare the same fields.
 */
#ifndef CONNECTD_REQUEST_SAME_H
#define CONNECTD_REQUEST_SAME_H

#include <string.h>

#include "../request.h"

/*
 * Returns 1 when a and b hold the same fields the reader and the log use,
 * after any outcome (pointers into the same buffer compare equal), else 0.
 */
static int
req_same(const struct request *a, const struct request *b)
{
	return strcmp(a->host, b->host) == 0 && a->host_kind == b->host_kind &&
	    a->port == b->port && a->minor == b->minor &&
	    a->head_len == b->head_len && a->target == b->target &&
	    a->target_len == b->target_len && a->method == b->method &&
	    a->method_len == b->method_len && a->auth == b->auth &&
	    a->auth_len == b->auth_len;
}

#endif
