/*
 * libFuzzer target for the upstream module.  The input is read three ways:
 * as the parent's answer, where a verdict lies inside the input and the
 * caps, pieces of any size reach the verdict the whole does, and bytes
 * after a final head never change it; as an --upstream URL, where an
 * accepted one writes a CONNECT that our own request parser accepts with
 * the same host and port, and a redacted copy never shows the userinfo;
 * and as a credentials file, where an accepted line is user:password
 * without control bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../request.h"
#include "../upstream.h"

#define FUZZ_URL_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_verdict(
    enum upstream_verdict v, const struct upstream_reply *r, size_t size)
{
	if (v != UPSTREAM_DONE)
		return;
	if (r->head_len == 0 || r->head_len > size ||
	    r->head_len > UPSTREAM_HEAD_MAX || r->status < 200 ||
	    r->status > 999)
		abort();
}

/* Pieces of 1 to max bytes, max picked from the input. */
static void
check_pieces(const char *buf, size_t size, enum upstream_verdict whole,
    const struct upstream_reply *w)
{
	struct upstream_reply r;
	enum upstream_verdict v = UPSTREAM_INCOMPLETE;
	size_t k = 0, max = size > 0 ? (unsigned char)buf[0] % 17 + 1 : 1;

	upstream_reply_init(&r);
	while (v == UPSTREAM_INCOMPLETE && k < size) {
		k += (k * 7 + max) % max + 1;
		if (k > size)
			k = size;
		v = upstream_resume(buf, k, &r);
	}
	if (v != whole ||
	    (v == UPSTREAM_DONE &&
		(r.status != w->status || r.head_len != w->head_len)))
		abort();
}

static void
fuzz_answer(const char *buf, size_t size)
{
	struct upstream_reply r, again;
	enum upstream_verdict v;

	upstream_reply_init(&r);
	v = upstream_resume(buf, size, &r);
	check_verdict(v, &r, size);
	check_pieces(buf, size, v, &r);
	if (v == UPSTREAM_DONE) {
		/* The head alone gives the same; one byte less, no verdict. */
		upstream_reply_init(&again);
		if (upstream_resume(buf, r.head_len, &again) != UPSTREAM_DONE ||
		    again.status != r.status || again.head_len != r.head_len)
			abort();
		upstream_reply_init(&again);
		if (upstream_resume(buf, r.head_len - 1, &again) !=
		    UPSTREAM_INCOMPLETE)
			abort();
	}
}

/* Our CONNECT for an accepted URL: what our own parser accepts. */
static void
check_connect(const struct upstream *up)
{
	char buf[UPSTREAM_CONNECT_MAX];
	struct request req;
	size_t n = upstream_build_connect(up->host, up->v6, up->port, up->cred,
	    up->cred_len, buf, sizeof(buf));

	if (n == 0 || req_parse(buf, n, &req) != OUT_OK || req.head_len != n ||
	    strcmp(req.host, up->host) != 0 || req.port != up->port ||
	    (up->cred_len > 0) != (req.auth != NULL))
		abort();
}

static void
fuzz_url(const char *buf, size_t size)
{
	char url[FUZZ_URL_MAX + 1], why[256], shown[FUZZ_URL_MAX + 8];
	const char *a, *at;
	struct upstream up;

	if (size > FUZZ_URL_MAX)
		size = FUZZ_URL_MAX;
	memcpy(url, buf, size);
	url[size] = '\0';
	if (upstream_parse_url(url, &up, why, sizeof(why)) == 0) {
		if (up.host[0] == '\0' || up.port == 0 || up.port > 65535 ||
		    up.cred_len >= UPSTREAM_CRED_MAX ||
		    up.cred_len != strlen(up.cred))
			abort();
		check_connect(&up);
	}
	/* Whatever was before the last '@' of the authority is hidden. */
	upstream_redact(url, shown, sizeof(shown));
	a = strstr(url, "://");
	a = a != NULL ? a + 3 : url;
	at = memrchr(a, '@', strcspn(a, "/?#"));
	if (at != NULL && strstr(shown, "***") == NULL)
		abort();
}

static void
fuzz_cred(const char *buf, size_t size)
{
	char cred[UPSTREAM_CRED_MAX], why[256];
	size_t len, i;

	if (upstream_parse_cred(
		buf, size, cred, sizeof(cred), &len, why, sizeof(why)) == -1)
		return;
	if (len == 0 || len >= sizeof(cred) || len != strlen(cred) ||
	    cred[0] == ':' || strchr(cred, ':') == NULL)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)cred[i] < 0x20 || cred[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy;

	if (size > 2 * UPSTREAM_HEAD_MAX)
		return 0;
	/* A private copy, so reads past the end are caught by ASan. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	fuzz_answer(copy, size);
	fuzz_url(copy, size);
	fuzz_cred(copy, size);
	free(copy);
	return 0;
}
