/*
 * Step 2: checks a parsed request against the session's options, in the
 * documented order, and each resolved address as the dialer is about to
 * connect to it.  See check.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "auth.h"
#include "check.h"
#include "log.h"
#include "peer.h"
#include "policy.h"
#include "request.h"

/* With --allow-uid: the client must be one of the listed local users. */
static enum outcome
check_uid(struct session *s)
{
	uid_t uid;

	if (s->opt.nuids == 0)
		return OUT_OK;
	/* A uid that cannot be established is refused, never waved through. */
	if (!s->client.is_socket || peer_uid(s->client.in_fd, &uid) == -1)
		return OUT_UID_NOT_ALLOWED;
	snprintf(s->uid, sizeof(s->uid), "%lu", (unsigned long)uid);
	if (!peer_uid_allowed(uid, s->opt.uids, s->opt.nuids))
		return OUT_UID_NOT_ALLOWED;
	return OUT_OK;
}

/* With --auth-file: Basic credentials that match a line of the file. */
static enum outcome
check_credentials(struct session *s)
{
	struct auth_file *af;
	char err[256];
	enum auth_result r;

	if (s->opt.auth_file == NULL)
		return OUT_OK;
	/* Read per connection, as the service user: edits apply at once. */
	if (auth_load(s->opt.auth_file, &af, err, sizeof(err)) == -1) {
		log_warnx("--auth-file: %s", err);
		return OUT_CONFIG_ERROR;
	}
	r = auth_check(
	    af, s->req.auth, s->req.auth_len, s->user, sizeof(s->user));
	auth_free(af);
	switch (r) {
	case AUTH_OK:
		return OUT_OK;
	case AUTH_REQUIRED:
		return OUT_AUTH_REQUIRED;
	case AUTH_MALFORMED:
		return OUT_BAD_CREDENTIALS;
	}
	return OUT_INTERNAL_ERROR;
}

/*
 * Checks the parsed request in the documented order (peer user,
 * credentials, port, then the name; each address as it is dialled, by
 * check_address()).  Nothing is resolved or dialled for a request refused
 * here.
 */
enum outcome
check_request(struct session *s)
{
	enum outcome o;

	if ((o = check_uid(s)) != OUT_OK ||
	    (o = check_credentials(s)) != OUT_OK)
		return o;
	if ((o = policy_check_port(&s->opt.policy, s->req.port)) != OUT_OK)
		return o;
	if (s->req.host_kind == REQ_HOST_NAME) {
		o = policy_check_name(
		    &s->opt.policy, s->req.host, &s->name_opted_in);
		if (o != OUT_OK)
			return o;
	}
	return OUT_OK;
}

/* The dial filter: policy on each resolved address. */
enum outcome
check_address(const struct sockaddr *sa, const void *ctx)
{
	const struct session *s = ctx;
	const struct sockaddr *self = NULL;

	if (s->client.has_local)
		self = (const struct sockaddr *)&s->client.local;
	return policy_check_addr(&s->opt.policy, sa, s->name_opted_in, self);
}

/*
 * An address literal sent to the parent is judged here as if dialled:
 * the parent never resolves it, so the address policy still holds.
 */
enum outcome
check_literal(const struct session *s)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (s->req.host_kind == REQ_HOST_IPV4) {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, s->req.host, &sin->sin_addr) != 1)
			return OUT_BAD_TARGET;
	} else {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, s->req.host, &sin6->sin6_addr) != 1)
			return OUT_BAD_TARGET;
	}
	return check_address((const struct sockaddr *)&ss, s);
}
