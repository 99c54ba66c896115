/*
 * libFuzzer target for the Basic credentials decoder.  Besides "no crash",
 * it checks the decoder's promises: accepted names and passwords are
 * terminated inside their buffers and free of ':' (user) and control bytes,
 * a refusal leaves them empty and wiped, the token is the one canonical
 * encoding of what was decoded, and smaller buffers change only "fits".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../auth.h"

#define FUZZ_VALUE_MAX 8192 /* the parser's REQ_LINE_MAX */
#define FUZZ_B64_MAX 1024 /* "Basic " + base64 of 255 + 1 + 255 bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Base64 of "user:pass" (RFC 4648, padded) into out. */
static void
fuzz_encode(char *out, size_t outsize, const char *user, const char *pass)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char plain[AUTH_USER_MAX + AUTH_PASS_MAX];
	size_t n, i, o = 0;
	unsigned long v;

	n = (size_t)snprintf(plain, sizeof(plain), "%s:%s", user, pass);
	if (n >= sizeof(plain) || (n + 2) / 3 * 4 >= outsize)
		abort();
	for (i = 0; i < n; i += 3) {
		v = (unsigned long)(unsigned char)plain[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)(unsigned char)plain[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)plain[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

static int
fuzz_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* The promises about the buffers, whatever the result. */
static void
fuzz_check_buffers(enum auth_result r, const char *user, size_t usersize,
    const char *pass, size_t passsize)
{
	size_t i;

	if (r != AUTH_OK) {
		if (user[0] != '\0')
			abort();
		for (i = 0; i < passsize; i++)
			if (pass[i] != '\0')
				abort();
		return;
	}
	if (memchr(user, '\0', usersize) == NULL ||
	    memchr(pass, '\0', passsize) == NULL)
		abort();
	if (strchr(user, ':') != NULL || fuzz_has_ctl(user) ||
	    fuzz_has_ctl(pass))
		abort();
}

/* An accepted value is "basic" 1*SP token, token canonical, in OWS. */
static void
fuzz_check_canonical(
    const char *v, size_t len, const char *user, const char *pass)
{
	char enc[FUZZ_B64_MAX];
	size_t i = 0, n;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len - i < 7 || strncasecmp(v + i, "basic ", 6) != 0)
		abort();
	for (i += 6; i < len && v[i] == ' '; i++)
		;
	fuzz_encode(enc, sizeof(enc), user, pass);
	n = strlen(enc);
	if (len - i != n || memcmp(v + i, enc, n) != 0)
		abort();
}

/* Exact-size heap buffers, so ASan sees any write past them. */
static enum auth_result
fuzz_decode_sized(const char *v, size_t len, size_t usersize, size_t passsize,
    char *uout, char *pout)
{
	char *user = malloc(usersize), *pass = malloc(passsize);
	enum auth_result r;

	if (user == NULL || pass == NULL)
		abort();
	memset(pass, 'x', passsize);
	r = auth_decode_basic(v, len, user, usersize, pass, passsize);
	fuzz_check_buffers(r, user, usersize, pass, passsize);
	if (r == AUTH_OK) {
		memcpy(uout, user, strlen(user) + 1);
		memcpy(pout, pass, strlen(pass) + 1);
	}
	free(user);
	free(pass);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[AUTH_USER_MAX], pass[AUTH_PASS_MAX];
	char suser[AUTH_USER_MAX], spass[AUTH_PASS_MAX];
	size_t us = 1 + size % 7, ps = 1 + size % 11;
	enum auth_result r, s;
	char *copy;

	if (size > FUZZ_VALUE_MAX)
		return 0;
	/* A private copy, so reads past the end are caught by ASan. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	r = fuzz_decode_sized(
	    copy, size, AUTH_USER_MAX, AUTH_PASS_MAX, user, pass);
	if (r == AUTH_OK)
		fuzz_check_canonical(copy, size, user, pass);
	/* Small buffers: the same verdict, unless the text does not fit. */
	s = fuzz_decode_sized(copy, size, us, ps, suser, spass);
	if (s == AUTH_OK &&
	    (r != AUTH_OK || strcmp(user, suser) != 0 ||
		strcmp(pass, spass) != 0))
		abort();
	if (r == AUTH_OK && strlen(user) < us && strlen(pass) < ps &&
	    s != AUTH_OK)
		abort();
	if ((r != AUTH_OK && r != s) ||
	    (r == AUTH_REQUIRED) != (s == AUTH_REQUIRED))
		abort();
	free(copy);
	return 0;
}
