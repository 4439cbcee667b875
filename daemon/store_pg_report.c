/*
 * The reports outbox on PostgreSQL, as the SQLite store keeps it: one
 * event per state a deployment enters, written by a trigger (schema
 * version 2, store_pg_db.c) in the very transaction that changes the
 * state, so no caller can forget it and a crash keeps both or neither.
 * Each report destination has a cursor, the last event it is done with,
 * which moves only forward and only when outbox.c records a sent event.
 *
 * Replicas write events at the same time, so ids do not commit in order:
 * an event is placed by (xid, id), its transaction's id first (schema 4),
 * and a reader takes only events of transactions older than the oldest
 * one still running (its snapshot's xmin). Those have all ended, and
 * every transaction still to write an event has a higher xid: a cursor
 * never passes an event that commits later. An event waits for every
 * transaction older than its own to end, on the whole server: a
 * transaction left open delays reports as long as it stays open.
 *
 * Writes go through the store's writer (store_pg.c) and share its group
 * commit; reads use its read connection.
 */
#include "store_pg_report.h"
#include "store_pg_db.h"

#include "gitgate/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int gg_pgreport_run(PGconn *c, const gg_pgreport_req *r, int64_t now)
{
	int n;
	switch (r->kind) {
	case GG_PGREPORT_INIT:
		/* A new destination starts with what happens from now on, not the past. */
		n = gg_pgdb_changed(gg_pgdb_exec(
		    c,
		    "INSERT INTO report_cursors(target, dest, last_xid, last_event) "
		    "SELECT $1::text, $2::text, x, i FROM (SELECT xid, id FROM report_events "
		    "WHERE target=$1::text UNION ALL SELECT '0', 0) m(x, i) "
		    "ORDER BY x DESC, i DESC LIMIT 1 ON CONFLICT DO NOTHING",
		    "ss", r->target, r->dest));
		return n < 0 ? -1 : 0;
	case GG_PGREPORT_RECORD:
		/*
		 * Never backwards: the cursor only moves past events, to the
		 * event's (xid, id) (an event gone already leaves it).
		 */
		n = gg_pgdb_changed(gg_pgdb_exec(
		    c,
		    "UPDATE report_cursors c SET (last_xid, last_event)=(SELECT x, i FROM"
		    " (SELECT c.last_xid, c.last_event UNION ALL SELECT xid, id FROM report_events"
		    " WHERE id=$1) m(x, i) ORDER BY x DESC, i DESC LIMIT 1),"
		    " last_state=coalesce($2, last_state), last_at=$3,"
		    " last_result=$4, last_error=$5 WHERE target=$6 AND dest=$7",
		    "isissss", r->id, r->state, now, r->result, r->error, r->target, r->dest));
		if (n < 0)
			return -1;
		return n == 0 ? GG_STORE_NOTFOUND : 0;
	case GG_PGREPORT_PRUNE:
		/* Events every cursor of their target is past, and whatever is too old to send. */
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "DELETE FROM report_events e WHERE at<$1 OR (xid, id)<=(SELECT "
		                 "c.last_xid, c.last_event FROM report_cursors c WHERE "
		                 "c.target=e.target ORDER BY 1, 2 LIMIT 1)",
		                 "i", r->when));
		if (n < 0)
			return -1;
		/* A remote deployment is wanted while its deployment has events left. */
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "DELETE FROM report_refs f WHERE NOT EXISTS (SELECT 1 FROM "
		                 "report_events e WHERE e.deployment=f.deployment)",
		                 ""));
		return n < 0 ? -1 : 0;
	case GG_PGREPORT_REF:
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "INSERT INTO report_refs(target, dest, deployment, remote_id) "
		                 "VALUES ($1,$2,$3,$4) ON CONFLICT (target, dest, deployment) "
		                 "DO UPDATE SET remote_id=EXCLUDED.remote_id",
		                 "ssii", r->target, r->dest, r->id, r->when));
		return n < 0 ? -1 : 0;
	}
	return -1;
}

void gg_pgreport_req_free(gg_pgreport_req *r)
{
	if (r == NULL)
		return;
	free(r->target);
	free(r->dest);
	free(r->state);
	free(r->result);
	free(r->error);
	free(r);
}

static gg_pgreport_req *req(gg_pgreport_kind kind, const char *target, const char *dest)
{
	gg_pgreport_req *r = gg_calloc(1, sizeof(*r));
	r->kind = kind;
	r->target = gg_strdup_opt(target);
	r->dest = gg_strdup_opt(dest);
	return r;
}

void gg_pgstore_report_init(gg_pgstore *p, const char *target, const char *dest, gg_store_cb cb,
                            void *arg)
{
	gg_pgstore_report(p, req(GG_PGREPORT_INIT, target, dest), cb, arg);
}

void gg_pgstore_report_record(gg_pgstore *p, const char *target, const char *dest, int64_t through,
                              const char *state, const char *result, const char *error,
                              gg_store_cb cb, void *arg)
{
	gg_pgreport_req *r = req(GG_PGREPORT_RECORD, target, dest);
	r->id = through;
	r->state = gg_strdup_opt(state);
	r->result = gg_strdup_opt(result);
	r->error = gg_strdup_opt(error);
	gg_pgstore_report(p, r, cb, arg);
}

void gg_pgstore_report_ref_set(gg_pgstore *p, const char *target, const char *dest,
                               int64_t deployment, int64_t remote_id, gg_store_cb cb, void *arg)
{
	gg_pgreport_req *r = req(GG_PGREPORT_REF, target, dest);
	r->id = deployment;
	r->when = remote_id;
	gg_pgstore_report(p, r, cb, arg);
}

void gg_pgstore_report_prune(gg_pgstore *p, uint64_t max_age_ms)
{
	gg_pgreport_req *r = req(GG_PGREPORT_PRUNE, NULL, NULL);
	r->when = gg_wall_ms() - (int64_t)max_age_ms;
	gg_pgstore_report(p, r, NULL, NULL);
}

int gg_pgstore_report_ref(int64_t *remote_id, gg_pgstore *p, const char *target, const char *dest,
                          int64_t deployment)
{
	*remote_id = 0;
	PGconn *c = gg_pgstore_reader(p);
	if (c == NULL)
		return -1;
	PGresult *r = gg_pgdb_exec(c,
	                           "SELECT remote_id FROM report_refs WHERE target=$1 AND dest=$2 "
	                           "AND deployment=$3",
	                           "ssi", target, dest, deployment);
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		rc = GG_STORE_NOTFOUND;
		if (PQntuples(r) > 0) {
			*remote_id = gg_pgdb_i64(r, 0, 0);
			rc = 0;
		}
	}
	gg_pgstore_reader_done(p);
	PQclear(r);
	return rc;
}

int gg_pgstore_report_next(gg_report_event *out, gg_pgstore *p, const char *target,
                           const char *dest)
{
	memset(out, 0, sizeof(*out));
	PGconn *c = gg_pgstore_reader(p);
	if (c == NULL)
		return -1;
	PGresult *r = gg_pgdb_exec(c,
	                           "SELECT e.id, e.deployment, e.state, e.at FROM report_events e "
	                           "JOIN report_cursors c ON e.target=c.target AND "
	                           "(e.xid, e.id)>(c.last_xid, c.last_event) "
	                           "WHERE c.target=$1 AND c.dest=$2 "
	                           "AND e.xid<pg_snapshot_xmin(pg_current_snapshot()) "
	                           "ORDER BY e.xid, e.id LIMIT 1",
	                           "ss", target, dest);
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		rc = GG_STORE_NOTFOUND;
		if (PQntuples(r) > 0) {
			out->id = gg_pgdb_i64(r, 0, 0);
			out->deployment = gg_pgdb_i64(r, 0, 1);
			if (gg_dep_state_parse(&out->state, PQgetvalue(r, 0, 2)) < 0)
				out->state = GG_DEP_FAILED;
			out->at = gg_pgdb_i64(r, 0, 3);
			rc = 0;
		}
	}
	gg_pgstore_reader_done(p);
	PQclear(r);
	return rc;
}

int gg_pgstore_report_status(gg_report_status **out, size_t *n, gg_pgstore *p, const char *target)
{
	*out = NULL;
	*n = 0;
	PGconn *c = gg_pgstore_reader(p);
	if (c == NULL)
		return -1;
	PGresult *r = gg_pgdb_exec(c,
	                           "SELECT dest, last_state, last_at, last_result, last_error, "
	                           "(SELECT count(*) FROM report_events e WHERE e.target=c.target "
	                           "AND (e.xid, e.id)>(c.last_xid, c.last_event)) "
	                           "FROM report_cursors c WHERE target=$1 "
	                           "ORDER BY dest",
	                           "s", target);
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		int rows = PQntuples(r);
		gg_report_status *list = gg_calloc(rows ? (size_t)rows : 1, sizeof(*list));
		for (int k = 0; k < rows; k++) {
			list[k].dest = gg_pgdb_text(r, k, 0);
			list[k].state = gg_pgdb_text(r, k, 1);
			list[k].at = gg_pgdb_i64(r, k, 2);
			list[k].result = gg_pgdb_text(r, k, 3);
			list[k].error = gg_pgdb_text(r, k, 4);
			list[k].pending = (uint64_t)gg_pgdb_i64(r, k, 5);
		}
		*out = list;
		*n = (size_t)rows;
		rc = 0;
	}
	gg_pgstore_reader_done(p);
	PQclear(r);
	return rc;
}
