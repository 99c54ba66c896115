/*
 * Destination policy.  Checks are pure functions of the configuration and
 * the request, so they can be table-tested and run before any resolution.
 */
#include "policy.h"

#include <errno.h>
#include <string.h>

#include "util.h"

void
policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->ports[443 / 8] |= 1u << (443 % 8);
}

/* Parses one "N" or "N-M" item of length n; returns 0 or -1 with errno. */
static int
policy_parse_range(
    const char *item, size_t n, unsigned int *lo, unsigned int *hi)
{
	char text[16];
	char *dash;
	long long a, b;

	if (n == 0 || n >= sizeof(text)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(text, item, n);
	text[n] = '\0';
	if ((dash = strchr(text, '-')) != NULL)
		*dash = '\0';
	if (util_parse_int(text, 1, 65535, &a) == -1)
		return -1;
	b = a;
	if (dash != NULL && util_parse_int(dash + 1, 1, 65535, &b) == -1)
		return -1;
	if (b < a) {
		errno = EINVAL;
		return -1;
	}
	*lo = (unsigned int)a;
	*hi = (unsigned int)b;
	return 0;
}

int
policy_add_ports(struct policy *p, const char *list)
{
	uint8_t ports[sizeof(p->ports)];
	const char *s = list;

	/* Work on a copy so that a bad list leaves p as it was. */
	if (p->ports_given)
		memcpy(ports, p->ports, sizeof(ports));
	else
		memset(ports, 0, sizeof(ports));
	for (;;) {
		size_t n = strcspn(s, ",");
		unsigned int lo, hi, port;

		if (policy_parse_range(s, n, &lo, &hi) == -1)
			return -1;
		for (port = lo; port <= hi; port++)
			ports[port / 8] |= (uint8_t)(1u << (port % 8));
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	memcpy(p->ports, ports, sizeof(ports));
	p->ports_given = 1;
	return 0;
}

enum outcome
policy_check_port(const struct policy *p, unsigned int port)
{
	if (port == 0 || port > 65535)
		return OUT_PORT_NOT_ALLOWED;
	if (p->ports[port / 8] & (1u << (port % 8)))
		return OUT_OK;
	return OUT_PORT_NOT_ALLOWED;
}
