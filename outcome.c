/*
 * The outcome table: what each way a connection ends means to the client
 * (status, Proxy-Status, body) and to the log (reason key, rcode).
 */
#include "outcome.h"

#include <stddef.h>

#include "util.h"

const struct outcome_row outcome_table[OUT_COUNT] = {
	[OUT_OK] = { 200, "Connection established", "ok" },
	[OUT_INCOMPLETE] = { 400, "Bad Request", "incomplete_request",
	    "http_request_error", "the request head ended early" },
	[OUT_NO_REQUEST] = { 0, "", "no_request" },
	[OUT_PROBE] = { 0, "", "probe" },
	/* The peer is a balancer: an HTTP answer would go to it, not a user. */
	[OUT_PROXY_PEER_NOT_ALLOWED] = { 0, "", "proxy_peer_not_allowed" },
	[OUT_PROXY_HEADER_MISSING] = { 0, "", "proxy_header_missing" },
	[OUT_PROXY_HEADER_BAD] = { 0, "", "proxy_header_bad" },
	[OUT_PROXY_HEADER_UNEXPECTED] = { 0, "", "proxy_header_unexpected" },
	[OUT_BAD_REQUEST_LINE] = { 400, "Bad Request", "bad_request_line",
	    "http_request_error", "malformed request line" },
	[OUT_BAD_TARGET] = { 400, "Bad Request", "bad_target",
	    "http_request_error", "the target must be host:port" },
	[OUT_BAD_PORT] = { 400, "Bad Request", "bad_port", "http_request_error",
	    "the target port must be 1-65535" },
	[OUT_BAD_HEADER] = { 400, "Bad Request", "bad_header",
	    "http_request_error", "malformed header field" },
	[OUT_BAD_HOST] = { 400, "Bad Request", "bad_host", "http_request_error",
	    "missing, repeated or invalid Host" },
	[OUT_REQUEST_CONTENT] = { 400, "Bad Request", "request_content",
	    "http_request_error", "a CONNECT request has no content" },
	/* RFC 9110 section 15.5.6: a 405 lists the allowed methods. */
	[OUT_METHOD_NOT_ALLOWED] = { 405, "Method Not Allowed",
	    "method_not_allowed", "http_request_error",
	    "this proxy only tunnels with CONNECT", "", "Allow: CONNECT\r\n" },
	[OUT_METHOD_NOT_IMPLEMENTED] = { 501, "Not Implemented",
	    "method_not_implemented", "http_request_error", "unknown method" },
	[OUT_VERSION_NOT_SUPPORTED] = { 505, "HTTP Version Not Supported",
	    "version_not_supported", "http_request_error",
	    "only HTTP/1.0 and HTTP/1.1 are spoken" },
	[OUT_TARGET_TOO_LONG] = { 414, "URI Too Long", "target_too_long",
	    "http_request_error", "the request target is too long" },
	[OUT_FIELD_TOO_LONG] = { 431, "Request Header Fields Too Large",
	    "field_too_long", "http_request_error",
	    "a header field line is too long" },
	[OUT_TOO_MANY_FIELDS] = { 431, "Request Header Fields Too Large",
	    "too_many_fields", "http_request_error", "too many header fields" },
	[OUT_HEAD_TOO_LARGE] = { 431, "Request Header Fields Too Large",
	    "head_too_large", "http_request_error",
	    "the request head is too large" },
	[OUT_REQUEST_TIMEOUT] = { 408, "Request Timeout", "request_timeout",
	    "http_request_error", "the request head took too long" },
	[OUT_UID_NOT_ALLOWED] = { 403, "Forbidden", "uid_not_allowed",
	    "http_request_denied", "this proxy is not for your user" },
	[OUT_AUTH_REQUIRED] = { 407, "Proxy Authentication Required",
	    "auth_required", "http_request_denied",
	    "valid proxy credentials are required" },
	[OUT_BAD_CREDENTIALS] = { 400, "Bad Request", "bad_credentials",
	    "http_request_error", "malformed Proxy-Authorization" },
	[OUT_PORT_NOT_ALLOWED] = { 403, "Forbidden", "port_not_allowed",
	    "http_request_denied", "the destination port is not allowed" },
	[OUT_NAME_NOT_ALLOWED] = { 403, "Forbidden", "name_not_allowed",
	    "http_request_denied", "the destination name is not allowed" },
	[OUT_ADDRESS_NOT_ALLOWED] = { 403, "Forbidden",
	    "destination_ip_prohibited", "destination_ip_prohibited",
	    "the destination address is not allowed" },
	/* RFC 9209 section 2.3.2: dns_error, with the DNS rcode. */
	[OUT_DNS_NXDOMAIN] = { 502, "Bad Gateway", "dns_error", "dns_error",
	    "the destination name does not exist", "NXDOMAIN" },
	[OUT_DNS_NO_ADDRESS] = { 502, "Bad Gateway", "dns_error", "dns_error",
	    "the destination name has no address", "NOERROR" },
	[OUT_DNS_SERVFAIL] = { 502, "Bad Gateway", "dns_error", "dns_error",
	    "the resolver failed", "SERVFAIL" },
	[OUT_DNS_REFUSED] = { 502, "Bad Gateway", "dns_error", "dns_error",
	    "the resolver refused the query", "REFUSED" },
	[OUT_DNS_FAILURE] = { 502, "Bad Gateway", "dns_error", "dns_error",
	    "the resolver failed or gave no answer" },
	[OUT_DNS_TIMEOUT] = { 504, "Gateway Timeout", "dns_timeout",
	    "dns_timeout", "the resolver did not answer in time" },
	[OUT_CONNECTION_REFUSED] = { 502, "Bad Gateway", "connection_refused",
	    "connection_refused", "the destination refused the connection" },
	[OUT_DESTINATION_UNREACHABLE] = { 502, "Bad Gateway",
	    "destination_ip_unroutable", "destination_ip_unroutable",
	    "the destination is unreachable" },
	/* Blocked by the host's own firewall or routes, or a firewall on
	 * the path: the intermediary's configuration, not connectd's. */
	[OUT_CONNECTION_BLOCKED] = { 502, "Bad Gateway", "connection_blocked",
	    "destination_ip_prohibited",
	    "a firewall or a route prohibits the destination" },
	[OUT_CONNECTION_TIMEOUT] = { 504, "Gateway Timeout",
	    "connection_timeout", "connection_timeout",
	    "the destination did not answer in time" },
	/*
	 * The parent's own status goes in Proxy-Status as received-status
	 * (RFC 9209 section 2.1.3); a 407 is never passed on as a prompt:
	 * the credentials it wants are ours, not the client's.
	 */
	[OUT_UPSTREAM_UNREACHABLE] = { 502, "Bad Gateway",
	    "upstream_unreachable", "destination_unavailable",
	    "the upstream proxy could not be reached" },
	[OUT_UPSTREAM_TIMEOUT] = { 504, "Gateway Timeout", "upstream_timeout",
	    "connection_timeout", "the upstream proxy did not answer in time" },
	[OUT_UPSTREAM_CLOSED] = { 502, "Bad Gateway", "upstream_closed",
	    "http_response_incomplete",
	    "the upstream proxy closed before it answered" },
	[OUT_UPSTREAM_BAD_RESPONSE] = { 502, "Bad Gateway",
	    "upstream_bad_response", "http_protocol_error",
	    "the upstream proxy's answer was malformed or too large" },
	[OUT_UPSTREAM_AUTH_FAILED] = { 502, "Bad Gateway",
	    "upstream_auth_failed", "proxy_configuration_error",
	    "the upstream proxy refused this proxy's credentials" },
	[OUT_UPSTREAM_DENIED] = { 403, "Forbidden", "upstream_denied",
	    "http_request_denied", "the upstream proxy denied the tunnel" },
	[OUT_UPSTREAM_BAD_GATEWAY] = { 502, "Bad Gateway",
	    "upstream_bad_gateway", "destination_unavailable",
	    "the upstream proxy could not reach the destination" },
	[OUT_UPSTREAM_UNAVAILABLE] = { 503, "Service Unavailable",
	    "upstream_unavailable", "destination_unavailable",
	    "the upstream proxy is unavailable" },
	[OUT_UPSTREAM_GATEWAY_TIMEOUT] = { 504, "Gateway Timeout",
	    "upstream_gateway_timeout", "connection_timeout",
	    "the destination did not answer the upstream proxy in time" },
	[OUT_UPSTREAM_REFUSED] = { 502, "Bad Gateway", "upstream_refused",
	    "http_request_denied", "the upstream proxy refused the tunnel" },
	[OUT_RESOURCES_EXHAUSTED] = { 503, "Service Unavailable",
	    "resources_exhausted", "proxy_internal_error",
	    "the proxy is out of resources" },
	[OUT_CONFIG_ERROR] = { 500, "Internal Server Error", "config_error",
	    "proxy_configuration_error", "the proxy is misconfigured" },
	[OUT_INTERNAL_ERROR] = { 500, "Internal Server Error", "internal_error",
	    "proxy_internal_error", "the proxy failed" },
};
_Static_assert(NELEM(outcome_table) == OUT_COUNT, "a row per outcome");

const struct outcome_row *
outcome_row(enum outcome o)
{
	if ((size_t)o >= OUT_COUNT || outcome_table[o].reason[0] == '\0')
		return &outcome_table[OUT_INTERNAL_ERROR];
	return &outcome_table[o];
}
