/*
 * libFuzzer target for the parsers of option values: destination rules,
 * port lists, durations and numbers.  The first byte picks the parser, the
 * rest is the value, as an admin (or a config generator) would type it.
 * Besides "no crash": what a parser accepts must then be usable.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../policy.h"
#include "../util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy fuzz_policy;

/* After a rule is accepted, judging addresses and names must just work. */
static void
fuzz_use_policy(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	int opted;

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
	policy_check_addr(&fuzz_policy, (struct sockaddr *)&in, 0, NULL);
	policy_check_addr(
	    &fuzz_policy, (struct sockaddr *)&in6, 0, (struct sockaddr *)&in);
	policy_check_name(&fuzz_policy, "www.example.com", &opted);
	policy_check_port(&fuzz_policy, 443);
}

static void
fuzz_value(uint8_t which, const char *v)
{
	int64_t ms;
	long long n;

	switch (which % 5) {
	case 0:
	case 1:
		if (policy_add_rule(&fuzz_policy, which % 5 == 0, v) == 0)
			fuzz_use_policy();
		break;
	case 2:
		if (policy_add_ports(&fuzz_policy, v) == 0 &&
		    (fuzz_policy.nports == 0 ||
			fuzz_policy.nports > POLICY_PORT_RANGES_MAX))
			abort();
		break;
	case 3:
		if (util_parse_seconds(v, 7 * 24 * 3600 * 1000LL, &ms) == 0 &&
		    (ms < 0 || ms > 7 * 24 * 3600 * 1000LL))
			abort();
		break;
	case 4:
		if (util_parse_int(v, 1, 65535, &n) == 0 &&
		    (n < 1 || n > 65535))
			abort();
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v;

	if (size < 1 || size > 4096)
		return 0;
	/* A NUL-terminated copy: option values come from argv. */
	if ((v = malloc(size)) == NULL)
		return 0;
	memcpy(v, data + 1, size - 1);
	v[size - 1] = '\0';
	/* Each run starts from the defaults, so the lists never fill up. */
	policy_init(&fuzz_policy);
	fuzz_value(data[0], v);
	free(v);
	return 0;
}
