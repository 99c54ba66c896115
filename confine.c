/*
 * Confines this process for its role, built from the session's options:
 * once per process, before a byte of a request is read.  See confine.h.
 */
#include <errno.h>
#include <unistd.h>

#include "confine.h"
#include "log.h"
#include "sandbox.h"

/*
 * Confines this process for its role (see sandbox.h) before it reads a
 * byte of a request.  Returns OUT_OK, or when it cannot be confined as
 * --sandbox requires, after saying why, OUT_RESOURCES_EXHAUSTED (no
 * descriptor to build the sandbox with) or OUT_INTERNAL_ERROR.
 */
enum outcome
confine_as(struct session *s, enum sandbox_role role)
{
	struct sandbox sb;
	char err[256];
	int no_fds;

	sandbox_init(&sb, s->opt.sandbox, s->log_syslog ? -1 : STDERR_FILENO);
	sb.proc = s->opt.nuids > 0;
	if (s->opt.auth_file != NULL)
		sandbox_allow_file(&sb, s->opt.auth_file);
	if (s->opt.upstream_auth_file != NULL)
		sandbox_allow_file(&sb, s->opt.upstream_auth_file);
	if (sandbox_apply(&sb, role, err, sizeof(err)) == 0)
		return OUT_OK;
	no_fds = errno == EMFILE || errno == ENFILE;
	log_warnx("sandbox: %s; not serving", err);
	return no_fds ? OUT_RESOURCES_EXHAUSTED : OUT_INTERNAL_ERROR;
}

/*
 * Confines this process as a connection, once: a reused child stays under
 * the filter it applied first.  Returns as confine_as().
 */
enum outcome
confine_once(struct session *s)
{
	enum outcome o = s->confined ? OUT_OK
				     : confine_as(s, SANDBOX_CONNECTION);

	s->confined = o == OUT_OK;
	return o;
}
