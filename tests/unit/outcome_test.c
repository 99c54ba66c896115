/*
 * The outcome table, row by row: every enum outcome has a filled row, its
 * status and phrase agree, its RFC 9209 error type is one the RFC
 * registers, and its reason key is a log word.  TAP output.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../../outcome.h"
#include "../../util.h"

/* The error types of RFC 9209 section 2.3 that connectd uses. */
static const char *const known_types[] = { "http_request_error",
	"http_request_denied", "destination_ip_prohibited", "dns_error",
	"dns_timeout", "connection_refused", "destination_ip_unroutable",
	"connection_timeout", "proxy_internal_error",
	"proxy_configuration_error", "destination_unavailable",
	"http_protocol_error", "http_response_incomplete" };

static int
known_type(const char *t)
{
	size_t i;

	for (i = 0; t != NULL && i < NELEM(known_types); i++)
		if (strcmp(t, known_types[i]) == 0)
			return 1;
	return 0;
}

/* A log word: lowercase letters, digits and underscores. */
static int
log_word(const char *w)
{
	if (w == NULL || *w == '\0')
		return 0;
	for (; *w != '\0'; w++)
		if (!islower((unsigned char)*w) &&
		    !isdigit((unsigned char)*w) && *w != '_')
			return 0;
	return 1;
}

/*
 * The outcomes closed without a byte: nothing arrived, a balancer's health
 * check, or the peer is a balancer whose PROXY header was refused (man page
 * "PROXY protocol").
 */
static int
unanswered(enum outcome o)
{
	return o == OUT_NO_REQUEST || o == OUT_PROBE ||
	    o == OUT_PROXY_PEER_NOT_ALLOWED || o == OUT_PROXY_HEADER_MISSING ||
	    o == OUT_PROXY_HEADER_BAD || o == OUT_PROXY_HEADER_UNEXPECTED;
}

/* Whether each string of r ends within its array. */
static int
strings_end(const struct outcome_row *r)
{
	return memchr(r->phrase, '\0', sizeof(r->phrase)) != NULL &&
	    memchr(r->reason, '\0', sizeof(r->reason)) != NULL &&
	    memchr(r->rfc9209, '\0', sizeof(r->rfc9209)) != NULL &&
	    memchr(r->text, '\0', sizeof(r->text)) != NULL &&
	    memchr(r->rcode, '\0', sizeof(r->rcode)) != NULL &&
	    memchr(r->field, '\0', sizeof(r->field)) != NULL;
}

/* Why row r of outcome o is wrong, or NULL. */
static const char *
row_fault(enum outcome o, const struct outcome_row *r)
{
	if (!strings_end(r))
		return "a string fills its array, with no NUL";
	if (r->reason[0] == '\0')
		return "no row";
	if (!log_word(r->reason))
		return "reason is not a log word";
	if (o == OUT_OK)
		return r->status == 200 ? NULL : "OUT_OK is not 200";
	if (r->status == 0)
		return unanswered(o)
		    ? NULL
		    : "unanswered, but not no_request or PROXY";
	if (r->status < 400 || r->status > 599)
		return "an error status outside 4xx and 5xx";
	if (r->phrase[0] == '\0' || r->text[0] == '\0')
		return "no reason phrase or body text";
	if (!known_type(r->rfc9209))
		return "not an RFC 9209 error type";
	if (r->field[0] != '\0' &&
	    (strlen(r->field) < 2 ||
		strcmp(r->field + strlen(r->field) - 2, "\r\n") != 0))
		return "extra field does not end in CRLF";
	return NULL;
}

int
main(void)
{
	int o, failed = 0;

	printf("1..%d\n", OUT_COUNT + 1);
	for (o = 0; o < OUT_COUNT; o++) {
		const char *why = row_fault((enum outcome)o, &outcome_table[o]);

		printf("%s %d - outcome %d (%s)%s%s\n", why ? "not ok" : "ok",
		    o + 1, o,
		    outcome_table[o].reason[0] ? outcome_table[o].reason : "-",
		    why ? ": " : "", why ? why : "");
		failed += why != NULL;
	}
	/* An out-of-range value is answered as internal_error, never read. */
	if (strcmp(outcome_row((enum outcome)OUT_COUNT)->reason,
		"internal_error") != 0) {
		printf("not ok %d - out of range\n", OUT_COUNT + 1);
		failed++;
	} else {
		printf(
		    "ok %d - out of range is internal_error\n", OUT_COUNT + 1);
	}
	return failed > 0;
}
