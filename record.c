/*
 * Step 6: fills the log record from what the session holds and writes the
 * connection's one line.  See record.h.
 */
#include <string.h>

#include "log.h"
#include "record.h"
#include "relay.h"
#include "sandbox.h"
#include "util.h"

/*
 * Fills the log record from what the session holds: the one place that
 * turns a connection's facts into its line.  The record points into s.
 */
static void
record_fill(const struct session *s, struct log_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	util_strlcpy(rec->client, s->client.client, sizeof(rec->client));
	rec->uid = s->uid[0] != '\0' ? s->uid : NULL;
	rec->user = s->user[0] != '\0' ? s->user : NULL;
	rec->target = s->req.target;
	rec->target_len = s->req.target_len;
	util_strlcpy(rec->addr, "-", sizeof(rec->addr));
	/* Through a parent, only the parent knows the target's address. */
	if (s->tunnel && !s->via_upstream)
		util_sockaddr_text((const struct sockaddr *)&s->dial.addr,
		    rec->addr, sizeof(rec->addr));
	if (s->via_upstream) {
		rec->via = s->via;
		rec->upstream_status = s->upstream_status;
	}
	rec->status = s->status;
	if (s->row != NULL) {
		rec->reason = s->row->reason;
		rec->rcode = s->row->rcode[0] != '\0' ? s->row->rcode : NULL;
	}
	if (s->has_end)
		rec->end = relay_end_name(s->end);
	if (s->relayed) {
		rec->up = s->relay.up;
		rec->down = s->relay.down;
		rec->urgent_up = s->relay.urgent_up;
		rec->urgent_down = s->relay.urgent_down;
		if (s->relay.closed)
			rec->closed_by = relay_side_name(s->relay.closed_by);
	}
	rec->down += s->early_down;
	rec->landlock = sandbox_landlock_gap();
	rec->tried = s->dialled ? s->dial.tried : NULL;
	rec->dns_ms = s->dialled ? s->dial.dns_ms : -1;
	rec->connect_ms = s->dialled ? s->connect_ms : -1;
	rec->duration_ms = util_now_ms() - s->start_ms;
}

/* Writes the connection's one log line. */
void
record_log(const struct session *s)
{
	struct log_record rec;

	record_fill(s, &rec);
	log_record(&rec);
}
