/*
 * Every way a connection can end before or at the tunnel, as one enum, and
 * beside it the one table that gives each its HTTP status, reason key, body
 * text and RFC 9209 Proxy-Status error type.  The parser, the policy and
 * the dialer return these; the answer and the log line read the row.
 */
#ifndef CONNECTD_OUTCOME_H
#define CONNECTD_OUTCOME_H

enum outcome {
	OUT_OK, /* tunnel established: 200 */
	OUT_INCOMPLETE, /* parser wants more; as an answer: EOF mid-head */
	OUT_NO_REQUEST, /* client closed or timed out before any byte */
	OUT_PROBE, /* a balancer's health check: closed with nothing to serve */
	/* The PROXY protocol: each ends the connection without a reply. */
	OUT_PROXY_PEER_NOT_ALLOWED, /* the peer is not a trusted sender */
	OUT_PROXY_HEADER_MISSING, /* required, but the bytes are no header */
	OUT_PROXY_HEADER_BAD, /* malformed, too large, or cut short */
	OUT_PROXY_HEADER_UNEXPECTED, /* a header, without --proxy-protocol */
	OUT_BAD_REQUEST_LINE,
	OUT_BAD_TARGET,
	OUT_BAD_PORT,
	OUT_BAD_HEADER,
	OUT_BAD_HOST,
	OUT_REQUEST_CONTENT,
	OUT_METHOD_NOT_ALLOWED,
	OUT_METHOD_NOT_IMPLEMENTED,
	OUT_VERSION_NOT_SUPPORTED,
	OUT_TARGET_TOO_LONG,
	OUT_FIELD_TOO_LONG,
	OUT_TOO_MANY_FIELDS,
	OUT_HEAD_TOO_LARGE,
	OUT_REQUEST_TIMEOUT,
	OUT_UID_NOT_ALLOWED,
	OUT_AUTH_REQUIRED,
	OUT_BAD_CREDENTIALS,
	OUT_PORT_NOT_ALLOWED,
	OUT_NAME_NOT_ALLOWED,
	OUT_ADDRESS_NOT_ALLOWED,
	OUT_DNS_NXDOMAIN,
	OUT_DNS_NO_ADDRESS,
	OUT_DNS_SERVFAIL,
	OUT_DNS_REFUSED,
	OUT_DNS_FAILURE, /* no usable answer: another rcode, unreadable */
	OUT_DNS_TIMEOUT,
	OUT_CONNECTION_REFUSED,
	OUT_DESTINATION_UNREACHABLE,
	OUT_CONNECTION_BLOCKED, /* a firewall or a prohibit route: EACCES */
	OUT_CONNECTION_TIMEOUT,
	/* --upstream: the parent, and what it answered. */
	OUT_UPSTREAM_UNREACHABLE, /* it could not be dialled */
	OUT_UPSTREAM_TIMEOUT, /* no whole answer by the connect deadline */
	OUT_UPSTREAM_CLOSED, /* it closed before its answer was whole */
	OUT_UPSTREAM_BAD_RESPONSE, /* not an HTTP/1.x head, or too large */
	OUT_UPSTREAM_AUTH_FAILED, /* its 407: our credentials, not the client's */
	OUT_UPSTREAM_DENIED, /* its 403 */
	OUT_UPSTREAM_BAD_GATEWAY, /* its 502 */
	OUT_UPSTREAM_UNAVAILABLE, /* its 503 */
	OUT_UPSTREAM_GATEWAY_TIMEOUT, /* its 504 */
	OUT_UPSTREAM_REFUSED, /* any other status but 2xx */
	OUT_RESOURCES_EXHAUSTED,
	OUT_CONFIG_ERROR,
	OUT_INTERNAL_ERROR,
	OUT_COUNT
};

/*
 * What an outcome means to the client and to the log.  The strings are
 * held in the row, "" for none, rather than pointed to: a table of
 * pointers is relocated at every start, and the page written so is memory
 * that every process pays for (tests/unit/outcome_test checks each string
 * fits with its NUL).
 */
struct outcome_row {
	int status; /* HTTP status; 0: never answered */
	char phrase[32]; /* the status line's reason phrase */
	char reason[32]; /* our key: body, Proxy-Status details and log */
	char rfc9209[32]; /* Proxy-Status error type */
	char text[64]; /* human text after the key in the body */
	char rcode[16]; /* DNS rcode for dns_error, or "" */
	char field[32]; /* one more header line ending in CRLF, or "" */
};

/* Indexed by enum outcome; every row is filled (tests/unit/outcome_test). */
extern const struct outcome_row outcome_table[OUT_COUNT];

/* The row of o; never NULL (an unknown value gets internal_error's). */
const struct outcome_row *outcome_row(enum outcome o);

#endif
