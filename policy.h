/*
 * Who may go where.  Pure, table-driven checks that run before anything is
 * resolved or dialled: today the destination port.
 */
#ifndef CONNECTD_POLICY_H
#define CONNECTD_POLICY_H

#include <stdint.h>

#include "outcome.h"

struct policy {
	uint8_t ports[65536 / 8]; /* bit per port: allowed */
	int ports_given; /* an --allow-port was seen */
};

/* Sets the defaults: port 443 only. */
void policy_init(struct policy *p);

/*
 * Adds a port list "443,8443,1000-2000" to the allowed ports; the first call
 * replaces the default.  Returns 0, or -1 with errno EINVAL (bad syntax, a
 * range upside down) or ERANGE (a port outside 1-65535); p is unchanged then.
 */
int policy_add_ports(struct policy *p, const char *list);

/* OUT_OK when port may be dialled, else OUT_PORT_NOT_ALLOWED. */
enum outcome policy_check_port(const struct policy *p, unsigned int port);

#endif
