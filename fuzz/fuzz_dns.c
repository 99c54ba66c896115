/*
 * libFuzzer target for the stub resolver's pure part.  The input is read
 * as a server's answer to an A and to an AAAA query, where a verdict never
 * yields more than DNS_ADDRS_MAX addresses; as a host name, where an
 * accepted one's query, echoed back as a response, is judged its own
 * answer; and as lines of /etc/hosts and /etc/resolv.conf, whose results
 * stay within their bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../dns.h"

#define FUZZ_NAME_MAX 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_answer(const uint8_t *buf, size_t size, uint16_t type)
{
	struct dns_query q;
	struct dns_addrs out;
	enum dns_verdict v;

	if (dns_query_build(&q, "example.com",
		size > 1 ? (uint16_t)(buf[0] << 8 | buf[1]) : 0, type, 0) == -1)
		abort();
	v = dns_judge(&q, buf, size, &out);
	if (out.n > DNS_ADDRS_MAX || (v != DNS_ANSWER && out.n != 0))
		abort();
}

/* An accepted name's query, its QR bit set, is an empty answer to it. */
static void
fuzz_name(const uint8_t *buf, size_t size)
{
	char name[FUZZ_NAME_MAX + 1];
	struct dns_query q;
	struct dns_addrs out;
	uint8_t echo[DNS_QUERY_MAX];

	if (size > FUZZ_NAME_MAX)
		size = FUZZ_NAME_MAX;
	memcpy(name, buf, size);
	name[size] = '\0';
	if (dns_query_build(&q, name, 7, DNS_TYPE_A, size & 1) == -1)
		return;
	if (q.len > DNS_QUERY_MAX || q.qend > q.len || q.qend < 12 + 2 + 4)
		abort();
	memcpy(echo, q.msg, q.len);
	echo[2] |= 0x80;
	if (dns_judge(&q, echo, q.qend, &out) != DNS_ANSWER || out.n != 0)
		abort();
}

static void
fuzz_files(const uint8_t *buf, size_t size)
{
	struct dns_addrs v6 = { 0 }, v4 = { 0 };
	struct dns_conf c;
	const char *line = (const char *)buf;

	dns_hosts_line(line, size, "host", &v6, &v4);
	if (v6.n > 1 || v4.n > 1 || v6.n + v4.n > 1)
		abort();
	dns_conf_init(&c);
	dns_conf_line(&c, line, size);
	dns_conf_finish(&c);
	if (c.nservers < 1 || c.nservers > DNS_SERVERS_MAX || c.timeout_s < 1 ||
	    c.timeout_s > DNS_TIMEOUT_MAX_S || c.attempts < 1 ||
	    c.attempts > DNS_ATTEMPTS_MAX ||
	    (c.server[0].family != AF_INET && c.server[0].family != AF_INET6))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > 65536)
		return 0;
	/* A private copy, so reads past the end are caught by ASan. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	fuzz_answer(copy, size, DNS_TYPE_A);
	fuzz_answer(copy, size, DNS_TYPE_AAAA);
	fuzz_name(copy, size);
	fuzz_files(copy, size);
	free(copy);
	return 0;
}
