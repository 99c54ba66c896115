/*
 * libFuzzer target for the configuration file parser: the whole input is
 * the file's text.  Besides "no crash": a file that parses leaves options
 * that are usable and within their bounds, and a file that fails says
 * where.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct options fuzz_opt;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, err[512];
	int rc;

	if (size > OPTIONS_CONFIG_MAX)
		return 0;
	/* The parser terminates the last line in place: one byte more. */
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	options_defaults(&fuzz_opt);
	err[0] = '\0';
	rc = options_parse_config(
	    text, size, "fuzz.conf", &fuzz_opt, err, sizeof(err));
	if (rc == -1 && strncmp(err, "fuzz.conf:", 10) != 0)
		abort();
	if (rc == 0 &&
	    (fuzz_opt.request_timeout_ms <= 0 ||
		fuzz_opt.connect_timeout_ms <= 0 ||
		fuzz_opt.dns_timeout_ms <= 0 || fuzz_opt.idle_timeout_ms < 0 ||
		fuzz_opt.max_lifetime_ms < 0 || fuzz_opt.max_children < 1 ||
		fuzz_opt.max_children > 1000000 ||
		fuzz_opt.nuids > PEER_UIDS_MAX ||
		fuzz_opt.policy.nports > POLICY_PORT_RANGES_MAX ||
		memchr(fuzz_opt.realm, '\0', sizeof(fuzz_opt.realm)) == NULL))
		abort();
	free(text);
	return 0;
}
