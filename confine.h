/*
 * Confinement at session level: the sandbox (sandbox.c) built for this
 * process's role from the session's options, the files they name let in,
 * and applied once per process before a byte of a request is read.
 */
#ifndef CONNECTD_CONFINE_H
#define CONNECTD_CONFINE_H

#include "outcome.h"
#include "sandbox.h"
#include "session.h"

/*
 * Confines this process for role (see sandbox.h) under s's options.
 * Returns OUT_OK, or when it cannot be confined as --sandbox requires,
 * after saying why, OUT_RESOURCES_EXHAUSTED (no descriptor to build the
 * sandbox with) or OUT_INTERNAL_ERROR.  Does not set s->confined.
 */
enum outcome confine_as(struct session *s, enum sandbox_role role);

/*
 * Confines this process as a connection, once: a reused child stays under
 * the filter it applied first.  Sets s->confined on success.  Returns as
 * confine_as().
 */
enum outcome confine_once(struct session *s);

#endif
