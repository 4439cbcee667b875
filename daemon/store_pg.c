/*
 * PostgreSQL store (store: {kind: postgres}). The same model as the SQLite
 * store: writes are queued to one worker thread that commits everything
 * queued so far in one transaction (group commit) and hands the results
 * back to the event loop through a pipe, in request order; reads are
 * synchronous on a second connection.
 *
 * Why a thread and not libpq's asynchronous API on the loop: a write is a
 * sequence of dependent statements (the replay rule reads before it
 * inserts, an update learns whether the row exists), and connecting,
 * migrating and backing off are sequences too; written as straight-line
 * code on a thread they stay short and alike to the SQLite writer, and the
 * loop never waits for a connect, a commit or a server that went away.
 *
 * The worker also owns the connection's health: a heartbeat when idle,
 * reconnecting with back-off (PG_BACKOFF_MIN_MS doubling to
 * PG_BACKOFF_MAX_MS) when the server went away, failing queued writes at
 * once meanwhile (a delivery is then answered 503, never 2xx), and
 * reopening the read connection when a read found it broken.
 *
 * Connecting, the statements' preparation, bounded reads, the schema and
 * its migrations live in store_pg_db.c; this file is the store itself.
 */
#include "store_pg.h"
#include "store_pg_db.h"
#include "store_pg_report.h"
#include "store_pg_stats.h"

#include "log.h"

#include "gitgate/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Reconnect back-off after a lost or refused connection. */
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000
/* An idle worker checks its connection this often. */
#define PG_HEARTBEAT_MS 1000
/* Queued writes above this make the store report itself unhealthy. */
#define PG_MAX_PENDING 100000
/* A write or heartbeat waiting this long for the server makes the store unhealthy. */
#define PG_STALL_MS 5000
/* Longest message kept about the connection's health. */
#define PG_REASON_MAX 256
/*
 * The channel on which a commit that queued work or freed a target wakes
 * every replica (NOTIFY in the committing transaction: sent only if it
 * committed, delivered at once, never a polling interval).
 */
#define PG_CHANNEL "gitgated_queue"
/*
 * The payload of a NOTIFY that freed a target (a finish, a requeue, a
 * resume, a takeover): replicas that saw the target run elsewhere look at
 * its queue again. A NOTIFY without it only queued work.
 */
#define PG_FREED        "freed"
#define PG_NOTIFY_WORK  "NOTIFY " PG_CHANNEL
#define PG_NOTIFY_FREED "NOTIFY " PG_CHANNEL ", '" PG_FREED "'"

/* What a committed write tells the other replicas: the most any write of its transaction does. */
typedef enum { WAKE_NONE, WAKE_WORK, WAKE_FREED } wake_kind;

/* A transaction's last statements for its wake (after RELEASE SAVEPOINT op when savepoint). */
static const char *commit_sql(wake_kind wake, bool savepoint)
{
	static const char *const sql[2][3] = {
	    {"COMMIT", PG_NOTIFY_WORK "; COMMIT", PG_NOTIFY_FREED "; COMMIT"},
	    {"RELEASE SAVEPOINT op; COMMIT", "RELEASE SAVEPOINT op; " PG_NOTIFY_WORK "; COMMIT",
	     "RELEASE SAVEPOINT op; " PG_NOTIFY_FREED "; COMMIT"},
	};
	return sql[savepoint][wake];
}

static wake_kind wake_max(wake_kind a, wake_kind b)
{
	return a > b ? a : b;
}
/* The class of the duty locks (two-key advisory locks: this, and the duty's hash). */
#define PG_DUTY_LOCK_CLASS 0x67676475 /* "ggdu" */

typedef enum {
	OP_ACCEPT,
	OP_INSERT,
	OP_CLAIM,
	OP_FINISH,
	OP_SUPERSEDE,
	OP_REQUEUE,
	OP_PRUNE,
	OP_PAUSE,
	OP_RESUME,
	OP_REPORT,
} op_kind;

typedef struct op op;
struct op {
	op *next;
	op_kind kind;
	int rc;
	int64_t id;
	int64_t id0; /* id as requested: SUPERSEDE, PAUSE and RESUME answer in id */
	char *source, *delivery, *event;
	gg_deployment *deps;
	size_t ndeps;
	bool duplicate;
	wake_kind wake; /* committed, it gives other replicas work or frees a target */
	/*
	 * A delivery whose every target this replica knows to be running (here
	 * or elsewhere): whoever runs them reads the queue when they end, so
	 * waking the other replicas would only make them read it for nothing.
	 */
	bool quiet;
	int64_t *ids;
	bool *allow_rollback;
	bool rollback_ok; /* claim: the target's allow_rollback */
	const char **refused;
	gg_dep_state state;
	int exit_status;
	char *commit, *reason, *target;
	int64_t when;
	const char *replica; /* the store's: it outlives every op */
	int64_t lease_ms;
	gg_store_cb cb;
	gg_store_accept_cb acb;
	void *arg;
	gg_pgreport_req *report;
};

struct gg_pgstore {
	char *conninfo;
	char *replica;    /* this daemon's name among the replicas sharing the database */
	int64_t lease_ms; /* how long a claim holds a target without a renewal */
	char *password;   /* from conninfo, to mask; NULL when it names none */
	PGconn *w;        /* worker thread (the caller's without a base) */
	PGconn *r;        /* reads, on the caller's thread, under rmu */
	bool r_bad;       /* under rmu: a read found r broken; the worker reopens it */
	char **duties;    /* under rmu: the duties whose session locks r holds; gone with r */
	size_t nduties;
	pthread_mutex_t rmu;
	struct event_base *base;
	pthread_t thread;
	bool threaded;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	op *queue, **queue_tail;
	op *done, **done_tail;
	size_t pending;
	uint64_t commits, committed_writes;
	bool stopping;
	bool up;            /* under mu: the write connection works */
	char *error;        /* under mu: why it does not, or the last write failure */
	int64_t busy_since; /* under mu: when the running batch or heartbeat began; 0: idle */
	int64_t next_try;
	int backoff_ms;
	int pipefd[2];
	struct event *done_ev;
	/*
	 * The LISTEN connection, on the loop: the worker opens it (connecting
	 * blocks) and hands it over in l_new; the loop watches its socket and
	 * drops it when it breaks, asking the worker for another (l_wanted).
	 */
	PGconn *l;
	struct event *l_ev;
	PGconn *l_new; /* under mu */
	bool l_wanted; /* under mu */
	int w_pid;     /* under mu: the write connection's server process, whose NOTIFYs are ours */
	bool self_wake; /* under mu: this replica took deployments over: its queue has work */
	void (*on_queue)(void *arg, bool freed);
	bool (*busy)(void *arg, const char *target);
	void *on_queue_arg;
	char reason[PG_REASON_MAX];
	gg_pgstats stats;  /* the write connection's: when to analyze the tables */
	uint64_t inserted; /* worker: rows committed since stats last heard of them */
	char **live;       /* under mu: the replicas the last heartbeat saw alive */
	size_t nlive;
};

static void op_free(op *o)
{
	free(o->source);
	free(o->delivery);
	free(o->event);
	gg_deployments_free(o->deps, o->ndeps);
	free(o->ids);
	free(o->allow_rollback);
	free(o->refused);
	free(o->commit);
	free(o->reason);
	free(o->target);
	gg_pgreport_req_free(o->report);
	free(o);
}

/* ---- Writes, on the write connection inside the batch's transaction ---- */

/*
 * The replay rule of store.h, as the SQLite store has it, on connection c:
 * its three indexed lookups (the last success, an earlier request for the
 * same commit, the newest request) in one statement, one round trip.
 */
static const char *replay_reason(PGconn *c, const char *target, const char *after, int64_t self,
                                 bool allow_rollback)
{
	if (c == NULL || target == NULL || after == NULL)
		return NULL;
	PGresult *r = gg_pgdb_exec(c,
	                           "SELECT (SELECT coalesce(commit_id, after) FROM deployments"
	                           "  WHERE state='succeeded' AND target=$1 AND id<>$3"
	                           "  ORDER BY id DESC LIMIT 1),"
	                           " (SELECT id FROM deployments WHERE target=$1 AND after=$2"
	                           "  AND id<>$3 AND state<>'refused' LIMIT 1),"
	                           " (SELECT after FROM deployments WHERE target=$1 AND id<>$3"
	                           "  AND state<>'refused' ORDER BY id DESC LIMIT 1)",
	                           "ssi", target, after, self);
	const char *why = NULL;
	/* Read errors refuse nothing: the store refuses nothing it cannot read. */
	if (gg_pgdb_ok(r) && PQntuples(r) == 1) {
		if (!PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 0), after) == 0)
			why = GG_REPLAY_DEPLOYED;
		else if (!allow_rollback && !PQgetisnull(r, 0, 1) && !PQgetisnull(r, 0, 2) &&
		         strcmp(PQgetvalue(r, 0, 2), after) != 0)
			why = GG_REPLAY_OLDER;
	}
	PQclear(r);
	return why;
}

static int insert_dep(PGconn *c, const gg_deployment *d, const char *delivery, int64_t now,
                      int64_t *id)
{
	PGresult *r = gg_pgdb_exec(
	    c,
	    "INSERT INTO deployments(target, source, repo, ref, before, after, "
	    "pusher, delivery, clone_url, state, created_at, not_before, client, "
	    "reason) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'queued',$10,$11,$12,$13) "
	    "RETURNING id",
	    "sssssssssiiss", d->target, d->source, d->repo, d->ref, d->before, d->after, d->pusher,
	    delivery, d->clone_url, now, d->not_before, d->client, d->reason);
	int rc = -1;
	if (gg_pgdb_ok(r) && PQntuples(r) == 1) {
		*id = gg_pgdb_i64(r, 0, 0);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/*
 * The replay rule's lookups and verdict as the CTEs h and w, for a
 * deployment whose target is $1, commit $6 and allow_rollback $13 (0 or
 * 1): the rule's lookups see the history before the row being inserted.
 */
#define JUDGE_CTES                                                                                 \
	" h AS (SELECT"                                                                            \
	" (SELECT coalesce(commit_id, after) FROM deployments WHERE state='succeeded'"             \
	"  AND target=$1::text ORDER BY id DESC LIMIT 1) AS last,"                                 \
	" (SELECT id FROM deployments WHERE target=$1::text AND after=$6::text"                    \
	"  AND state<>'refused' LIMIT 1) AS prev,"                                                 \
	" (SELECT after FROM deployments WHERE target=$1::text AND state<>'refused'"               \
	"  ORDER BY id DESC LIMIT 1) AS newest),"                                                  \
	" w AS (SELECT CASE WHEN $6::text IS NULL THEN NULL"                                       \
	"  WHEN last = $6::text THEN '" GG_REPLAY_DEPLOYED "'"                                     \
	"  WHEN $13::int = 0 AND prev IS NOT NULL AND newest <> $6::text"                          \
	"  THEN '" GG_REPLAY_OLDER "' END AS why FROM h)"

/* The judged deployment's row from $1..$12 and w's verdict. */
#define JUDGED_INSERT                                                                              \
	"INSERT INTO deployments(target, source, repo, ref, before, after, pusher, delivery,"      \
	" clone_url, state, created_at, not_before, client, reason, finished_at) "                 \
	"SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text,"   \
	" $9::text, CASE WHEN why IS NULL THEN 'queued' ELSE 'refused' END, $10::bigint,"          \
	" $11::bigint, $12::text, why, CASE WHEN why IS NULL THEN NULL ELSE $10::bigint END "      \
	"FROM w"

/* The static reason a judged row's reason column names; NULL when it was queued. */
static const char *judged_reason(PGresult *r, int row, int col)
{
	const char *reason = PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
	if (strcmp(reason, GG_REPLAY_DEPLOYED) == 0)
		return GG_REPLAY_DEPLOYED;
	if (strcmp(reason, GG_REPLAY_OLDER) == 0)
		return GG_REPLAY_OLDER;
	return NULL;
}

/*
 * Insert a delivery's deployment judged by the replay rule in the same
 * statement (one round trip): the rule's lookups see the history before
 * this row, as replay_reason's do. *why is NULL when it was queued, else
 * the static reason it was stored refused.
 */
static int insert_judged(PGconn *c, const gg_deployment *d, const char *delivery, int64_t now,
                         bool allow_rollback, int64_t *id, const char **why)
{
	PGresult *r = gg_pgdb_exec(c, "WITH" JUDGE_CTES " " JUDGED_INSERT " RETURNING id, reason",
	                           "sssssssssiisi", d->target, d->source, d->repo, d->ref,
	                           d->before, d->after, d->pusher, delivery, d->clone_url, now,
	                           d->not_before, d->client, (int64_t)allow_rollback);
	int rc = -1;
	*why = NULL;
	if (gg_pgdb_ok(r) && PQntuples(r) == 1) {
		*id = gg_pgdb_i64(r, 0, 0);
		*why = judged_reason(r, 0, 1);
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/*
 * Store the delivery ($14, $8, $15) and, when it is new, its first
 * deployment judged, in one statement: one round trip for the usual
 * delivery of one deployment. A concurrent insert of the same delivery
 * waits for its commit, then inserts nothing. Its row: whether the
 * delivery was new, the deployment's id and its refusal reason.
 */
static const char accept_sql[] =
    "WITH dl AS (INSERT INTO deliveries(source, id, event, received_at)"
    " VALUES ($14::text, $8::text, $15::text, $10::bigint) ON CONFLICT DO NOTHING"
    " RETURNING 1)," JUDGE_CTES ", ins AS (" JUDGED_INSERT " WHERE EXISTS (SELECT 1 FROM dl)"
    " RETURNING id, reason) "
    "SELECT (SELECT count(*) FROM dl), (SELECT id FROM ins), (SELECT reason FROM ins)";
#define ACCEPT_PARAMS 15

/* accept_sql's bound values for o (gg_pgdb_exec's format, then the values). */
#define ACCEPT_ARGS(o, now)                                                                        \
	"sssssssssiisiss", (o)->deps[0].target, (o)->deps[0].source, (o)->deps[0].repo,            \
	    (o)->deps[0].ref, (o)->deps[0].before, (o)->deps[0].after, (o)->deps[0].pusher,        \
	    (o)->delivery, (o)->deps[0].clone_url, (now), (o)->deps[0].not_before,                 \
	    (o)->deps[0].client, (int64_t)(o)->allow_rollback[0], (o)->source, (o)->event

/* Take accept_sql's answer r into o (ids and refused allocated); 0 or -1. */
static int accept_result(op *o, PGresult *r)
{
	if (!gg_pgdb_ok(r) || PQntuples(r) != 1)
		return -1;
	if (o->ids == NULL) {
		o->ids = gg_calloc(o->ndeps ? o->ndeps : 1, sizeof(*o->ids));
		o->refused = gg_calloc(o->ndeps ? o->ndeps : 1, sizeof(*o->refused));
	}
	o->duplicate = gg_pgdb_i64(r, 0, 0) == 0;
	if (!o->duplicate && PQgetisnull(r, 0, 1))
		return -1;
	o->ids[0] = gg_pgdb_i64(r, 0, 1);
	o->refused[0] = judged_reason(r, 0, 2);
	o->wake = !o->quiet && !o->duplicate && o->refused[0] == NULL ? WAKE_WORK : WAKE_NONE;
	return 0;
}

static int run_accept(PGconn *c, op *o, int64_t now)
{
	size_t first = 0;
	o->ids = gg_calloc(o->ndeps ? o->ndeps : 1, sizeof(*o->ids));
	o->refused = gg_calloc(o->ndeps ? o->ndeps : 1, sizeof(*o->refused));
	if (o->ndeps > 0) {
		PGresult *r = gg_pgdb_exec(c, accept_sql, ACCEPT_ARGS(o, now));
		int rc = accept_result(o, r);
		PQclear(r);
		if (rc < 0)
			return -1;
		first = 1;
	} else {
		/* A concurrent insert of the same id waits for its commit, then does nothing. */
		int n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "INSERT INTO deliveries(source, id, event, received_at) "
		                 "VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
		                 "sssi", o->source, o->delivery, o->event, now));
		if (n < 0)
			return -1;
		o->duplicate = n == 0;
	}
	if (o->duplicate)
		return 0;
	for (size_t i = first; i < o->ndeps; i++) {
		if (insert_judged(c, &o->deps[i], o->delivery, now, o->allow_rollback[i],
		                  &o->ids[i], &o->refused[i]) < 0)
			return -1;
		if (!o->quiet && o->refused[i] == NULL)
			o->wake = WAKE_WORK;
	}
	return 0;
}

static int changed_or_conflict(PGconn *c, int n, int64_t id)
{
	if (n < 0)
		return -1;
	if (n > 0)
		return 0;
	PGresult *r = gg_pgdb_exec(c, "SELECT 1 FROM deployments WHERE id=$1", "i", id);
	int rc = !gg_pgdb_ok(r) ? -1 : PQntuples(r) > 0 ? GG_STORE_CONFLICT : GG_STORE_NOTFOUND;
	PQclear(r);
	return rc;
}

/*
 * The replay rule's "older commit" (replay_reason) for the deployment d
 * being claimed, $N its target's allow_rollback (0 or 1): judged again
 * under the exclusive write lock, where every delivery that drew an id is
 * visible. The dispatcher judged it already, on its read connection, which
 * does not see a delivery still in flight; one that drew a lower id (a
 * newer commit, say, while d redelivers an older one) would be superseded
 * by d's claim, and the older commit deployed over the newer.
 */
#define CLAIM_NOT_A_REPLAY(N)                                                                      \
	" AND ($" N "::int = 1 OR d.delivery IS NULL OR d.attempt > 0 OR d.after IS NULL"          \
	" OR NOT EXISTS (SELECT 1 FROM deployments p WHERE p.target=d.target"                      \
	"  AND p.after=d.after AND p.id<>d.id AND p.state<>'refused')"                             \
	" OR d.after=(SELECT n.after FROM deployments n WHERE n.target=d.target"                   \
	"  AND n.id<>d.id AND n.state<>'refused' ORDER BY n.id DESC LIMIT 1))"

/*
 * queued -> running for this replica, unless the target runs already
 * anywhere (or the replay rule refuses it now: a conflict, after which the
 * dispatcher's own check refuses it): the unique index on running rows per
 * target decides between replicas claiming at the same moment (the later
 * one waits for the earlier's commit, then fails), and that loss is a
 * conflict like any other, rolled back to the request's savepoint by
 * run_batch.
 */
static int run_claim(PGconn *c, op *o, int64_t now)
{
	/*
	 * The older queued deployments of the target end superseded, only when
	 * the claim can succeed: a replica that loses leaves them to the winner.
	 * Both statements run under the write lock, so nothing changes between
	 * them; were the claim to fail all the same, its savepoint (or the
	 * batch's rollback) takes this back with it.
	 */
	int n = gg_pgdb_changed(gg_pgdb_exec(
	    c,
	    "UPDATE deployments o SET state='superseded', finished_at=$1,"
	    " reason='superseded by ' || $2::bigint FROM deployments d "
	    "WHERE d.id=$2 AND d.state='queued' AND o.target=d.target AND o.state='queued'"
	    " AND o.id<d.id AND NOT EXISTS (SELECT 1 FROM deployments r"
	    " WHERE r.target=d.target AND r.state='running')"
	    " AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.target=split_part(d.target, '@', 1))"
	    /* The replay rule, judged with everything in flight visible. */
	    CLAIM_NOT_A_REPLAY("3"),
	    "iii", now, o->id, (int64_t)o->rollback_ok));
	if (n < 0)
		return -1;
	PGresult *r = gg_pgdb_exec(
	    c,
	    "UPDATE deployments d SET state='running', started_at=$1, finished_at=NULL,"
	    " exit_status=NULL, replica=$3, lease_until=$1::bigint + $4::bigint "
	    "WHERE id=$2 AND state='queued' AND NOT EXISTS (SELECT 1 FROM deployments r"
	    " WHERE r.target=d.target AND r.state='running')"
	    /* Paused through any replica (a pause names the target, not its queue). */
	    " AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.target=split_part(d.target, '@', 1))"
	    /* The replay rule, judged with everything in flight visible. */
	    CLAIM_NOT_A_REPLAY("5"),
	    "iisii", now, o->id, o->replica, o->lease_ms, (int64_t)o->rollback_ok);
	if (!gg_pgdb_ok(r)) {
		const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		bool lost_race = code && strcmp(code, "23505") == 0;
		PQclear(r);
		return lost_race ? GG_STORE_CONFLICT : -1;
	}
	return changed_or_conflict(c, gg_pgdb_changed(r), o->id);
}

static int run_op(PGconn *c, op *o)
{
	int64_t now = gg_wall_ms();
	char status[16];
	int n;
	switch (o->kind) {
	case OP_ACCEPT:
		return run_accept(c, o, now);
	case OP_INSERT:
		o->wake = WAKE_WORK;
		return insert_dep(c, &o->deps[0], o->deps[0].delivery, now, &o->id);
	case OP_CLAIM:
		return run_claim(c, o, now);
	case OP_FINISH:
		snprintf(status, sizeof(status), "%d", o->exit_status);
		n = gg_pgdb_changed(gg_pgdb_exec(
		    c,
		    "UPDATE deployments SET state=$1, exit_status=$2, "
		    "commit_id=coalesce($3, commit_id), reason=$4, finished_at=$5, "
		    "lease_until=NULL "
		    "WHERE id=$6 AND (state='queued' OR (state='running' AND replica=$7))",
		    "ssssiis", gg_dep_state_name(o->state), o->exit_status < 0 ? NULL : status,
		    o->commit, o->reason, now, o->id, o->replica));
		o->wake = n > 0 ? WAKE_FREED : WAKE_NONE; /* the target is free again */
		return changed_or_conflict(c, n, o->id);
	case OP_SUPERSEDE:
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "UPDATE deployments SET state='superseded', finished_at=$1, "
		                 "reason=$2 WHERE target=$3 AND state='queued' AND id<$4",
		                 "issi", now, o->reason, o->target, o->id));
		if (n < 0)
			return -1;
		o->id = n;
		return 0;
	case OP_REQUEUE:
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "UPDATE deployments SET state='queued', attempt=attempt+1, "
		                 "not_before=$1, started_at=NULL, replica=NULL, lease_until=NULL "
		                 "WHERE id=$2 AND state='running' AND replica=$3",
		                 "iis", o->when, o->id, o->replica));
		o->wake = n > 0 ? WAKE_FREED : WAKE_NONE;
		return changed_or_conflict(c, n, o->id);
	case OP_PRUNE:
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c, "DELETE FROM deliveries WHERE received_at<$1", "i", o->when));
		return n < 0 ? -1 : 0;
	case OP_PAUSE:
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c,
		                 "INSERT INTO pauses(target, since, paused_by) VALUES ($1,$2,$3) "
		                 "ON CONFLICT DO NOTHING",
		                 "sis", o->target, now, o->reason));
		if (n < 0)
			return -1;
		o->id = n;
		return 0;
	case OP_RESUME:
		n = gg_pgdb_changed(
		    gg_pgdb_exec(c, "DELETE FROM pauses WHERE target=$1", "s", o->target));
		if (n < 0)
			return -1;
		o->id = n;
		o->wake = n > 0 ? WAKE_FREED : WAKE_NONE; /* the others run what queued meanwhile */
		return 0;
	case OP_REPORT:
		return gg_pgreport_run(c, o->report, now);
	}
	return -1;
}

static void set_error(gg_pgstore *p, char *msg, bool down)
{
	pthread_mutex_lock(&p->mu);
	free(p->error);
	p->error = msg;
	if (down)
		p->up = false;
	pthread_mutex_unlock(&p->mu);
}

static void fail_batch(op *batch)
{
	for (op *o = batch; o; o = o->next)
		o->rc = -1;
}

/* Whether the write connection was lost: then every write of the batch failed. */
static bool lost(gg_pgstore *p)
{
	if (PQstatus(p->w) == CONNECTION_OK)
		return false;
	pthread_mutex_lock(&p->mu);
	bool was_up = p->up;
	pthread_mutex_unlock(&p->mu);
	if (was_up)
		gg_log(GG_LOG_WARN, "store: lost the connection to PostgreSQL; reconnecting", NULL);
	set_error(p, gg_pgdb_message(p->password, "database unreachable", PQerrorMessage(p->w)),
	          true);
	PQfinish(p->w);
	p->w = NULL;
	p->next_try = gg_wall_ms();
	return true;
}

/* Undo what a run of o left in it, for a second run in a new transaction. */
static void op_reset(op *o)
{
	o->rc = 0;
	o->id = o->id0;
	o->duplicate = false;
	o->wake = WAKE_NONE;
	free(o->ids);
	o->ids = NULL;
	free(o->refused);
	o->refused = NULL;
}

/* The next query's result in a pipeline, with the NULL that ends it read. */
static PGresult *pipe_result(PGconn *c)
{
	PGresult *r = PQgetResult(c);
	if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC)
		PQclear(PQgetResult(c));
	return r;
}

/*
 * A batch of deliveries with one deployment each (what a busy webhook
 * brings) in one round trip: libpq's pipeline mode sends BEGIN, the write
 * lock shared, each delivery's statement and COMMIT together, then reads
 * the answers. Round trips, not the statements, were most of a batch's
 * time. Shared (store_pg_db.h): deliveries lock no existing row, so
 * replicas' batches commit side by side, sharing the server's WAL flushes,
 * instead of one after the other. 0: committed; 1: a statement failed
 * and the transaction was rolled back (run the batch again the slow way);
 * 2: not such a batch; -1: the connection or the commit failed.
 */
static int run_pipelined(PGconn *c, op *batch, int64_t now)
{
	for (op *o = batch; o; o = o->next)
		if (o->kind != OP_ACCEPT || o->ndeps != 1)
			return 2;
	if (gg_pgdb_prepare(c, accept_sql, ACCEPT_PARAMS) < 0 || !PQenterPipelineMode(c))
		return 2;
	bool sent = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) &&
	            PQsendQueryParams(c, GG_PGDB_WRITE_LOCK_SHARED, 0, NULL, NULL, NULL, NULL, 0);
	for (op *o = batch; sent && o; o = o->next)
		sent = gg_pgdb_send(c, accept_sql, ACCEPT_ARGS(o, now)) == 0;
	/*
	 * The wake-up is sent whatever the answers (a replica woken for a
	 * duplicate finds nothing new and sleeps again, and this replica does
	 * not hear its own), unless every delivery is quiet.
	 */
	bool notify = false;
	for (op *o = batch; o; o = o->next)
		notify |= !o->quiet;
	sent =
	    sent && (!notify || PQsendQueryParams(c, PG_NOTIFY_WORK, 0, NULL, NULL, NULL, NULL, 0));
	sent = sent && PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
	if (!PQpipelineSync(c) || !sent)
		return -1;
	/* The answers in order: BEGIN, the lock, each delivery's, NOTIFY, COMMIT, the sync. */
	PGresult *r = pipe_result(c);
	int state = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
	PQclear(r);
	r = pipe_result(c);
	if (!(r && PQresultStatus(r) == PGRES_TUPLES_OK))
		state = -1;
	PQclear(r);
	/* Every answer is read, failed or not, for the connection to leave the pipeline. */
	bool broken = false;
	for (op *o = batch; o && !broken; o = o->next) {
		r = pipe_result(c);
		broken = r == NULL;
		if (broken)
			state = -1;
		else if (state == 0 && accept_result(o, r) < 0)
			state = 1;
		PQclear(r);
	}
	if (!broken) {
		if (notify) {
			r = pipe_result(c);
			if (state == 0 && !(r && PQresultStatus(r) == PGRES_COMMAND_OK))
				state = -1;
			PQclear(r);
		}
		r = pipe_result(c);
		if (state == 0 && !(r && PQresultStatus(r) == PGRES_COMMAND_OK &&
		                    strcmp(PQcmdStatus(r), "COMMIT") == 0))
			state = -1;
		PQclear(r);
		r = PQgetResult(c);
		if (!(r && PQresultStatus(r) == PGRES_PIPELINE_SYNC))
			state = -1;
		PQclear(r);
	}
	if (!PQexitPipelineMode(c))
		return -1;
	if (state == 1 && PQtransactionStatus(c) != PQTRANS_IDLE &&
	    gg_pgdb_exec0(c, "ROLLBACK") < 0)
		return -1;
	for (op *o = batch; state == 0 && o; o = o->next)
		o->rc = 0;
	return state;
}

/*
 * Run a batch in one transaction: pipelined when it is only deliveries
 * (run_pipelined), else first without savepoints: a write
 * failing is rare (a value the server refuses), and a savepoint per
 * request costs a round trip per request, as much as the request's own
 * statement. When one fails, the transaction is rolled back and the batch
 * runs again with a savepoint per request, so that one failing request
 * does not take the others down. A commit that fails fails them all.
 */
static void run_batch(gg_pgstore *p, op *batch)
{
	PGconn *c = p->w;
	bool any_failed = false;
	wake_kind wake = WAKE_NONE;
	int piped = run_pipelined(c, batch, gg_wall_ms());
	if (piped == 0)
		goto committed;
	if (piped < 0)
		goto fail;
	if (piped == 1) {
		for (op *o = batch; o; o = o->next)
			op_reset(o);
		goto savepoints;
	}
	if (gg_pgdb_exec0(c, "BEGIN; " GG_PGDB_WRITE_LOCK) < 0)
		goto fail;
	op *failed = batch;
	for (; failed; failed = failed->next) {
		failed->rc = run_op(c, failed);
		/* A conflict that aborted the transaction (a lost claim) needs its savepoint too.
		 */
		if (failed->rc == -1 || PQtransactionStatus(c) == PQTRANS_INERROR)
			break;
		wake = wake_max(wake, failed->wake);
	}
	if (failed == NULL) {
		/* The wake-up travels with the commit: sent only if it committed. */
		if (gg_pgdb_exec0(c, commit_sql(wake, false)) < 0)
			goto fail;
		goto committed;
	}
	wake = WAKE_NONE;
	if (PQstatus(c) != CONNECTION_OK || gg_pgdb_exec0(c, "ROLLBACK") < 0)
		goto fail;
	for (op *o = batch; o; o = o->next)
		op_reset(o);
savepoints:
	/* Transaction and savepoint statements travel together: fewer round trips. */
	if (gg_pgdb_exec0(c, "BEGIN; " GG_PGDB_WRITE_LOCK "; SAVEPOINT op") < 0)
		goto fail;
	for (op *o = batch; o; o = o->next) {
		o->rc = run_op(c, o);
		if (o->rc != -1 && PQtransactionStatus(c) == PQTRANS_INERROR &&
		    gg_pgdb_exec0(c, "ROLLBACK TO SAVEPOINT op") < 0)
			goto fail;
		if (o->rc != -1)
			wake = wake_max(wake, o->wake);
		if (o->rc == -1) {
			if (PQstatus(c) != CONNECTION_OK)
				goto fail;
			any_failed = true;
			set_error(p, gg_pgdb_message(p->password, "write", PQerrorMessage(c)),
			          false);
			if (gg_pgdb_exec0(c, "ROLLBACK TO SAVEPOINT op") < 0)
				goto fail;
		}
		/* The wake-up travels with the commit: one round trip, sent only if it committed.
		 */
		if (gg_pgdb_exec0(c, o->next ? "RELEASE SAVEPOINT op; SAVEPOINT op"
		                             : commit_sql(wake, true)) < 0)
			goto fail;
	}
committed:;
	size_t n = 0;
	for (op *o = batch; o; o = o->next)
		n++;
	uint64_t inserted = 0;
	for (op *o = batch; o; o = o->next)
		if (o->rc == 0 && (o->kind == OP_INSERT || (o->kind == OP_ACCEPT && !o->duplicate)))
			inserted += o->kind == OP_INSERT ? 1 : o->ndeps;
	p->inserted += inserted;
	pthread_mutex_lock(&p->mu);
	p->commits++;
	p->committed_writes += n;
	if (!any_failed) {
		free(p->error);
		p->error = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return;
fail:
	fail_batch(batch);
	char *why = gg_pgdb_message(p->password, "commit", PQerrorMessage(c));
	/* libpq may notice that the server went away only at the next statement. */
	gg_pgdb_exec0(c, "ROLLBACK");
	if (lost(p))
		free(why);
	else
		set_error(p, why, false);
}

/*
 * (Re)open the write connection and check the schema, at most once per
 * back-off interval; on success also reopen the read connection. 0 when
 * the store is up.
 */
static int reconnect(gg_pgstore *p)
{
	if (p->w)
		return 0;
	int64_t now = gg_wall_ms();
	if (now < p->next_try)
		return -1;
	char *err = NULL;
	gg_pgdb_schema state;
	int found;
	PGconn *c = gg_pgdb_connect(p->conninfo, p->password, &err);
	if (c && gg_pgdb_schema_prepare(c, p->password, false, &state, &found, &err) == 0) {
		if (state != GG_PGDB_SCHEMA_CURRENT)
			err = gg_printf("the database's schema is version %d, not %d: restart "
			                "gitgated to migrate it",
			                found, GG_PGDB_SCHEMA_VERSION);
		else
			gg_pgdb_lock_replica(c, p->password, p->replica, now, &err);
	}
	if (err) {
		PQfinish(c);
		bool first = p->backoff_ms == 0;
		p->backoff_ms = first ? PG_BACKOFF_MIN_MS
		                      : (p->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS
		                                                               : p->backoff_ms * 2);
		p->next_try = now + p->backoff_ms;
		if (first)
			gg_log(GG_LOG_WARN, "store: PostgreSQL unreachable; retrying with back-off",
			       "error", err, NULL);
		set_error(p, gg_printf("database unreachable: %s", err), true);
		free(err);
		return -1;
	}
	p->w = c;
	gg_pgstats_start(&p->stats, c);
	p->backoff_ms = 0;
	pthread_mutex_lock(&p->mu);
	p->w_pid = PQbackendPID(c);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_lock(&p->rmu);
	p->r_bad = true; /* reopened below, by the caller */
	pthread_mutex_unlock(&p->rmu);
	pthread_mutex_lock(&p->mu);
	p->up = true;
	free(p->error);
	p->error = NULL;
	pthread_mutex_unlock(&p->mu);
	gg_log(GG_LOG_INFO, "store: connected to PostgreSQL", NULL);
	return 0;
}

static PGconn *reader_connect(gg_pgstore *p, char **err);

/* Under rmu, as r is replaced: its session locks, and so its duties, end with it. */
static void duties_forget(gg_pgstore *p)
{
	for (size_t i = 0; i < p->nduties; i++)
		free(p->duties[i]);
	free(p->duties);
	p->duties = NULL;
	p->nduties = 0;
}

/* Reopen the read connection when a read found it broken (or the writer reconnected). */
static void reopen_reader(gg_pgstore *p)
{
	pthread_mutex_lock(&p->rmu);
	bool bad = p->r_bad || p->r == NULL;
	pthread_mutex_unlock(&p->rmu);
	if (!bad)
		return;
	char *err = NULL;
	PGconn *c = reader_connect(p, &err);
	free(err);
	if (c == NULL)
		return;
	pthread_mutex_lock(&p->rmu);
	PGconn *old = p->r;
	p->r = c;
	p->r_bad = false;
	duties_forget(p);
	pthread_mutex_unlock(&p->rmu);
	PQfinish(old);
}

/*
 * Deployments whose replica let their lease lapse (it died, or lost the
 * database for longer than the lease) end failed, naming that replica, and
 * their target's state is queued again, unless something newer is queued
 * already; other replicas are woken for it. Every replica looks, each
 * heartbeat: the row locks make one of them win, the others find nothing.
 * A takeover never reuses a row, so the deployment id is the fencing token:
 * the lost replica's late finish names a row that is no longer running and
 * is refused (finish checks state and owner).
 */
static void take_over(gg_pgstore *p, int64_t now)
{
	PGconn *c = p->w;
	if (gg_pgdb_exec0(c, "BEGIN; " GG_PGDB_WRITE_LOCK) < 0)
		goto fail;
	PGresult *r = gg_pgdb_exec(
	    c,
	    "WITH lost AS (UPDATE deployments SET state='failed', finished_at=$1,"
	    " lease_until=NULL, reason='replica ' || coalesce(replica, '?') ||"
	    " ' was lost (its lease lapsed); taken over by ' || $2::text"
	    " WHERE state='running' AND lease_until < $1 RETURNING *),"
	    " again AS (INSERT INTO deployments(target, source, repo, ref, before, after, pusher,"
	    " delivery, clone_url, client, state, created_at, not_before)"
	    " SELECT target, source, repo, ref, before, after, pusher, delivery, clone_url,"
	    " client, 'queued', $1, 0 FROM lost l WHERE NOT EXISTS (SELECT 1 FROM deployments q"
	    "  WHERE q.target=l.target AND q.state='queued' AND q.id > l.id)"
	    " RETURNING id, target) "
	    "SELECT l.id, l.target, coalesce(l.replica, '?'),"
	    " (SELECT a.id FROM again a WHERE a.target=l.target) FROM lost l",
	    "is", now, p->replica);
	if (!gg_pgdb_ok(r)) {
		PQclear(r);
		goto fail;
	}
	int n = PQntuples(r);
	for (int k = 0; k < n; k++) {
		char again[24];
		snprintf(again, sizeof(again), "%s",
		         PQgetisnull(r, k, 3) ? "-" : PQgetvalue(r, k, 3));
		gg_log(GG_LOG_WARN, "deployment taken over: its replica's lease lapsed", "id",
		       PQgetvalue(r, k, 0), "target", PQgetvalue(r, k, 1), "lost_replica",
		       PQgetvalue(r, k, 2), "queued_again", again, NULL);
	}
	PQclear(r);
	if (gg_pgdb_exec0(c, commit_sql(n ? WAKE_FREED : WAKE_NONE, false)) < 0)
		goto fail;
	if (n && p->pipefd[1] >= 0) {
		/* Our own NOTIFY does not wake us (on_listen): the pipe does. */
		pthread_mutex_lock(&p->mu);
		p->self_wake = true;
		pthread_mutex_unlock(&p->mu);
		char b = 1;
		if (write(p->pipefd[1], &b, 1) < 0 && errno != EAGAIN)
			gg_log(GG_LOG_ERROR, "store: cannot wake the event loop", NULL);
	}
	return;
fail:
	gg_pgdb_exec0(c, "ROLLBACK");
	lost(p);
}

/*
 * Say this replica is alive and renew the leases of the deployments it
 * runs, in one statement (one round trip); then take over lapsed ones.
 */
static void heartbeat(gg_pgstore *p)
{
	if (p->w == NULL)
		return;
	int64_t now = gg_wall_ms();
	/* The replicas alive, as of this statement's snapshot: whom on: each targets are for. */
	PGresult *r =
	    gg_pgdb_exec(p->w,
	                 "WITH l AS (UPDATE deployments SET lease_until=$1::bigint + $3::bigint"
	                 " WHERE state='running' AND replica=$2::text RETURNING 1),"
	                 " h AS (UPDATE replicas SET heartbeat_at=$1 WHERE name=$2 RETURNING 1) "
	                 "SELECT name FROM replicas WHERE name<>$2 AND"
	                 " heartbeat_at >= $1::bigint - $3::bigint ORDER BY name",
	                 "isi", now, p->replica, p->lease_ms);
	bool ok = gg_pgdb_ok(r);
	if (ok) {
		size_t n = (size_t)PQntuples(r);
		char **live = gg_calloc(n + 1, sizeof(*live));
		live[0] = gg_strdup(p->replica);
		for (size_t k = 0; k < n; k++)
			live[k + 1] = gg_strdup(PQgetvalue(r, (int)k, 0));
		pthread_mutex_lock(&p->mu);
		char **old = p->live;
		size_t nold = p->nlive;
		p->live = live;
		p->nlive = n + 1;
		pthread_mutex_unlock(&p->mu);
		for (size_t k = 0; k < nold; k++)
			free(old[k]);
		free(old);
	}
	PQclear(r);
	if (!ok)
		lost(p);
	else
		take_over(p, now);
}

static void complete(op *o)
{
	if (o->kind == OP_ACCEPT) {
		gg_store_accept_result res = {
		    .rc = o->rc < 0 ? -1 : 0,
		    .duplicate = o->duplicate,
		    .ids = o->rc == 0 ? o->ids : NULL,
		    .refused = o->rc == 0 ? o->refused : NULL,
		    .nids = o->rc == 0 && !o->duplicate ? o->ndeps : 0,
		};
		if (o->acb)
			o->acb(o->arg, &res);
	} else if (o->cb) {
		o->cb(o->arg, o->rc, o->id);
	}
	op_free(o);
}

/*
 * On the worker: open the LISTEN connection the loop asked for, and hand it
 * over (on_done installs it).
 */
static void open_listener(gg_pgstore *p)
{
	pthread_mutex_lock(&p->mu);
	bool wanted = p->l_wanted && p->l_new == NULL;
	pthread_mutex_unlock(&p->mu);
	if (!wanted)
		return;
	char *err = NULL;
	PGconn *c = gg_pgdb_connect(p->conninfo, p->password, &err);
	if (c && (gg_pgdb_exec0(c, "LISTEN " PG_CHANNEL) < 0 || PQsetnonblocking(c, 1) != 0)) {
		PQfinish(c);
		c = NULL;
	}
	free(err);
	if (c == NULL)
		return; /* tried again with the next batch or heartbeat */
	pthread_mutex_lock(&p->mu);
	p->l_new = c;
	p->l_wanted = false;
	pthread_mutex_unlock(&p->mu);
}

/*
 * Analyze the tables when the rows committed since the last time doubled
 * them (store_pg_stats.c). Called once a batch's answers are handed back,
 * so that the analyze's pause (milliseconds) is not added to the answers
 * of the batch that crossed the mark; requests arriving meanwhile wait.
 */
static void analyze_if_grown(gg_pgstore *p)
{
	if (p->w && p->inserted) {
		gg_pgstats_grew(&p->stats, p->w, p->inserted);
		p->inserted = 0;
	}
}

static void *worker_main(void *arg)
{
	gg_pgstore *p = arg;
	int64_t next_beat = gg_wall_ms() + PG_HEARTBEAT_MS;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		for (;;) {
			pthread_mutex_lock(&p->rmu);
			bool rbad = p->r_bad;
			pthread_mutex_unlock(&p->rmu);
			int64_t wake = p->w ? next_beat : p->next_try;
			if (p->queue || p->stopping || ((rbad || p->l_wanted) && p->w) ||
			    gg_wall_ms() >= wake)
				break;
			struct timespec ts = {(time_t)(wake / 1000), (long)(wake % 1000) * 1000000};
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		}
		if (p->queue == NULL && p->stopping)
			break;
		op *batch = p->queue;
		p->queue = NULL;
		p->queue_tail = &p->queue;
		pthread_mutex_unlock(&p->mu);

		bool beat = gg_wall_ms() >= next_beat;
		if (beat)
			next_beat = gg_wall_ms() + PG_HEARTBEAT_MS;
		pthread_mutex_lock(&p->mu);
		p->busy_since = gg_wall_ms();
		pthread_mutex_unlock(&p->mu);
		if (p->w == NULL)
			reconnect(p);
		if (batch) {
			if (p->w)
				run_batch(p, batch);
			else
				fail_batch(batch);
		}
		/* Beats also while busy: the leases must not lapse under load. */
		if (beat)
			heartbeat(p);
		if (p->w) {
			reopen_reader(p);
			open_listener(p);
		}

		pthread_mutex_lock(&p->mu);
		p->busy_since = 0;
		if (p->l_new && batch == NULL) {
			char b = 1;
			if (write(p->pipefd[1], &b, 1) < 0 && errno != EAGAIN)
				gg_log(GG_LOG_ERROR, "store: cannot wake the event loop", NULL);
		}
		if (batch) {
			*p->done_tail = batch;
			op *last = batch;
			while (last->next)
				last = last->next;
			p->done_tail = &last->next;
			char b = 1;
			/* A full pipe already means a wakeup is pending. */
			if (write(p->pipefd[1], &b, 1) < 0 && errno != EAGAIN)
				gg_log(GG_LOG_ERROR, "store: cannot wake the event loop", NULL);
			pthread_mutex_unlock(&p->mu);
			analyze_if_grown(p);
			pthread_mutex_lock(&p->mu);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Hand completed writes back, in request order, on the caller's thread. */
static void drain_done(gg_pgstore *p, bool call)
{
	pthread_mutex_lock(&p->mu);
	op *list = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	pthread_mutex_unlock(&p->mu);
	size_t n = 0;
	for (op *o = list, *next; o; o = next) {
		next = o->next;
		if (call)
			complete(o);
		else
			op_free(o);
		n++;
	}
	pthread_mutex_lock(&p->mu);
	p->pending -= n;
	pthread_mutex_unlock(&p->mu);
}

static void wake_queue(gg_pgstore *p, bool freed)
{
	if (p->on_queue)
		p->on_queue(p->on_queue_arg, freed);
}

/* The LISTEN connection broke: drop it and ask the worker for another. */
static void drop_listener(gg_pgstore *p)
{
	if (p->l_ev)
		event_free(p->l_ev);
	p->l_ev = NULL;
	PQfinish(p->l);
	p->l = NULL;
	pthread_mutex_lock(&p->mu);
	p->l_wanted = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Another replica (or this one) committed work: look at the queue. */
static void on_listen(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_pgstore *p = arg;
	if (!PQconsumeInput(p->l) || PQstatus(p->l) != CONNECTION_OK) {
		drop_listener(p);
		return;
	}
	pthread_mutex_lock(&p->mu);
	int own = p->w_pid;
	pthread_mutex_unlock(&p->mu);
	bool any = false, freed = false;
	for (PGnotify *n; (n = PQnotifies(p->l)) != NULL;) {
		/* This replica's own commits already told its dispatcher. */
		if (n->be_pid != own) {
			any = true;
			freed |= n->extra && strcmp(n->extra, PG_FREED) == 0;
		}
		PQfreemem(n);
	}
	if (any)
		wake_queue(p, freed);
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	gg_pgstore *p = arg;
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	drain_done(p, true);
	pthread_mutex_lock(&p->mu);
	PGconn *l = p->l_new;
	p->l_new = NULL;
	bool self_wake = p->self_wake;
	p->self_wake = false;
	pthread_mutex_unlock(&p->mu);
	if (self_wake)
		wake_queue(p, true);
	if (l == NULL)
		return;
	if (p->l)
		drop_listener(p);
	p->l = l;
	p->l_ev = event_new(p->base, PQsocket(l), EV_READ | EV_PERSIST, on_listen, p);
	event_add(p->l_ev, NULL);
	/*
	 * What was committed while nobody listened is in the queue, and a
	 * target may have been freed unheard: look now.
	 */
	wake_queue(p, true);
}

void gg_pgstore_on_queue(gg_pgstore *p, void (*fn)(void *arg, bool freed),
                         bool (*busy)(void *arg, const char *target), void *arg)
{
	p->on_queue = fn;
	p->busy = busy;
	p->on_queue_arg = arg;
}

static void submit(gg_pgstore *p, op *o)
{
	o->id0 = o->id;
	o->replica = p->replica;
	o->lease_ms = p->lease_ms;
	if (!p->threaded) {
		/* Synchronous (tools, tests): the same transaction, on this thread. */
		if (p->w == NULL) {
			p->next_try = 0;
			reconnect(p);
		}
		if (p->w)
			run_batch(p, o);
		else
			o->rc = -1;
		complete(o);
		analyze_if_grown(p);
		return;
	}
	pthread_mutex_lock(&p->mu);
	o->next = NULL;
	*p->queue_tail = o;
	p->queue_tail = &o->next;
	p->pending++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int gg_pgstore_open(gg_pgstore **out, struct event_base *base, const char *conninfo,
                    const char *replica, uint64_t lease_ms, char **err)
{
	int rc = -1;
	gg_pgstore *p = gg_calloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->rmu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->queue_tail = &p->queue;
	p->done_tail = &p->done;
	p->pipefd[0] = p->pipefd[1] = -1;
	*err = NULL;
	char *why = NULL;
	if (!gg_store_conninfo_valid(conninfo, &why)) {
		*err = gg_printf("the PostgreSQL connection string: %s", why);
		free(why);
		goto done;
	}
	p->conninfo = gg_strdup(conninfo);
	p->replica = gg_strdup(replica);
	p->lease_ms = (int64_t)lease_ms;
	p->password = gg_pgdb_password(conninfo);
	gg_pgdb_schema state;
	int found;
	p->w = gg_pgdb_connect(conninfo, p->password, err);
	if (p->w)
		p->w_pid = PQbackendPID(p->w);
	if (p->w == NULL ||
	    gg_pgdb_schema_prepare(p->w, p->password, true, &state, &found, err) < 0 ||
	    gg_pgdb_lock_replica(p->w, p->password, p->replica, gg_wall_ms(), err) < 0)
		goto done;
	gg_pgstats_start(&p->stats, p->w);
	p->r = reader_connect(p, err);
	if (p->r == NULL)
		goto done;
	p->up = true;
	if (base) {
		if (pipe2(p->pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
			*err = gg_printf("pipe: %s", strerror(errno));
			goto done;
		}
		p->base = base;
		p->l_wanted = true;
		p->done_ev = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, on_done, p);
		event_add(p->done_ev, NULL);
		if (pthread_create(&p->thread, NULL, worker_main, p) != 0) {
			*err = gg_printf("cannot start the store's worker thread");
			goto done;
		}
		p->threaded = true;
	}
	rc = 0;
done:
	if (rc < 0) {
		gg_pgstore_close(p);
		p = NULL;
	}
	*out = p;
	return rc;
}

void gg_pgstore_flush(gg_pgstore *p)
{
	if (!p->threaded)
		return;
	for (;;) {
		drain_done(p, true);
		if (gg_pgstore_pending(p) == 0)
			break;
		usleep(1000);
	}
}

void gg_pgstore_close(gg_pgstore *p)
{
	if (p == NULL)
		return;
	if (p->threaded) {
		pthread_mutex_lock(&p->mu);
		p->stopping = true;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
		drain_done(p, false);
	}
	if (p->done_ev)
		event_free(p->done_ev);
	if (p->l_ev)
		event_free(p->l_ev);
	PQfinish(p->l);
	PQfinish(p->l_new);
	if (p->pipefd[0] >= 0)
		close(p->pipefd[0]);
	if (p->pipefd[1] >= 0)
		close(p->pipefd[1]);
	PQfinish(p->w);
	PQfinish(p->r);
	duties_forget(p);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->rmu);
	pthread_cond_destroy(&p->cv);
	for (size_t k = 0; k < p->nlive; k++)
		free(p->live[k]);
	free(p->live);
	free(p->error);
	free(p->conninfo);
	free(p->replica);
	free(p->password);
	free(p);
}

void gg_pgstore_commit_stats(const gg_pgstore *p, uint64_t *commits, uint64_t *writes)
{
	gg_pgstore *m = (gg_pgstore *)p; /* the lock is not part of the value */
	pthread_mutex_lock(&m->mu);
	*commits = m->commits;
	*writes = m->committed_writes;
	pthread_mutex_unlock(&m->mu);
}

bool gg_pgstore_healthy(gg_pgstore *p, const char **reason)
{
	bool ok = true;
	pthread_mutex_lock(&p->mu);
	if (!p->up || p->error) {
		snprintf(p->reason, sizeof(p->reason), "%s",
		         p->error ? p->error : "database unreachable");
		ok = false;
	} else if (p->busy_since && gg_wall_ms() - p->busy_since > PG_STALL_MS) {
		snprintf(p->reason, sizeof(p->reason), "the database has not answered for %lld ms",
		         (long long)(gg_wall_ms() - p->busy_since));
		ok = false;
	} else if (p->pending > PG_MAX_PENDING) {
		snprintf(p->reason, sizeof(p->reason), "%zu writes waiting for the database",
		         p->pending);
		ok = false;
	}
	pthread_mutex_unlock(&p->mu);
	if (reason)
		*reason = ok ? NULL : p->reason;
	return ok;
}

size_t gg_pgstore_pending(const gg_pgstore *p)
{
	gg_pgstore *m = (gg_pgstore *)p; /* the lock is not part of the value */
	pthread_mutex_lock(&m->mu);
	size_t n = m->pending;
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* ---- Requests ---- */

static void copy_dep(gg_deployment *dst, const gg_deployment *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->target = gg_strdup_opt(src->target);
	dst->source = gg_strdup_opt(src->source);
	dst->repo = gg_strdup_opt(src->repo);
	dst->ref = gg_strdup_opt(src->ref);
	dst->before = gg_strdup_opt(src->before);
	dst->after = gg_strdup_opt(src->after);
	dst->pusher = gg_strdup_opt(src->pusher);
	dst->delivery = gg_strdup_opt(src->delivery);
	dst->clone_url = gg_strdup_opt(src->clone_url);
	dst->client = gg_strdup_opt(src->client);
	dst->reason = gg_strdup_opt(src->reason);
	dst->not_before = src->not_before;
}

void gg_pgstore_accept(gg_pgstore *p, const char *source, const char *delivery, const char *event,
                       const gg_store_newdep *deps, size_t ndeps, gg_store_accept_cb cb, void *arg)
{
	op *o = gg_calloc(1, sizeof(*o));
	o->kind = OP_ACCEPT;
	o->source = gg_strdup(source);
	o->delivery = gg_strdup(delivery);
	o->event = gg_strdup_opt(event);
	o->ndeps = ndeps;
	o->deps = gg_calloc(ndeps ? ndeps : 1, sizeof(*o->deps));
	o->allow_rollback = gg_calloc(ndeps ? ndeps : 1, sizeof(*o->allow_rollback));
	for (size_t i = 0; i < ndeps; i++) {
		gg_deployment *d = &o->deps[i];
		o->allow_rollback[i] = deps[i].allow_rollback;
		d->target = gg_strdup_opt(deps[i].target);
		d->source = gg_strdup_opt(deps[i].source);
		d->repo = gg_strdup_opt(deps[i].repo);
		d->ref = gg_strdup_opt(deps[i].ref);
		d->before = gg_strdup_opt(deps[i].before);
		d->after = gg_strdup_opt(deps[i].after);
		d->pusher = gg_strdup_opt(deps[i].pusher);
		d->clone_url = gg_strdup_opt(deps[i].clone_url);
		d->client = gg_strdup_opt(deps[i].client);
	}
	o->quiet = p->busy != NULL;
	for (size_t i = 0; o->quiet && i < ndeps; i++)
		o->quiet = p->busy(p->on_queue_arg, o->deps[i].target);
	o->acb = cb;
	o->arg = arg;
	submit(p, o);
}

void gg_pgstore_insert(gg_pgstore *p, const gg_deployment *d, gg_store_cb cb, void *arg)
{
	op *o = gg_calloc(1, sizeof(*o));
	o->kind = OP_INSERT;
	o->ndeps = 1;
	o->deps = gg_calloc(1, sizeof(*o->deps));
	copy_dep(o->deps, d);
	o->cb = cb;
	o->arg = arg;
	submit(p, o);
}

static op *simple_op(op_kind kind, int64_t id, gg_store_cb cb, void *arg)
{
	op *o = gg_calloc(1, sizeof(*o));
	o->kind = kind;
	o->id = id;
	o->cb = cb;
	o->arg = arg;
	return o;
}

void gg_pgstore_claim(gg_pgstore *p, int64_t id, bool allow_rollback, gg_store_cb cb, void *arg)
{
	op *o = simple_op(OP_CLAIM, id, cb, arg);
	o->rollback_ok = allow_rollback;
	submit(p, o);
}

void gg_pgstore_finish(gg_pgstore *p, int64_t id, gg_dep_state state, int exit_status,
                       const char *commit, const char *reason, gg_store_cb cb, void *arg)
{
	op *o = simple_op(OP_FINISH, id, cb, arg);
	o->state = state;
	o->exit_status = exit_status;
	o->commit = gg_strdup_opt(commit);
	o->reason = gg_strdup_opt(reason);
	submit(p, o);
}

void gg_pgstore_supersede(gg_pgstore *p, const char *target, int64_t newer_than, gg_store_cb cb,
                          void *arg)
{
	op *o = simple_op(OP_SUPERSEDE, newer_than, cb, arg);
	o->target = gg_strdup(target);
	o->reason = gg_printf("superseded by %lld", (long long)newer_than);
	submit(p, o);
}

void gg_pgstore_requeue(gg_pgstore *p, int64_t id, int64_t not_before, gg_store_cb cb, void *arg)
{
	op *o = simple_op(OP_REQUEUE, id, cb, arg);
	o->when = not_before;
	submit(p, o);
}

void gg_pgstore_pause(gg_pgstore *p, const char *target, const char *by, gg_store_cb cb, void *arg)
{
	op *o = simple_op(OP_PAUSE, 0, cb, arg);
	o->target = gg_strdup(target);
	o->reason = gg_strdup_opt(by);
	submit(p, o);
}

void gg_pgstore_resume(gg_pgstore *p, const char *target, gg_store_cb cb, void *arg)
{
	op *o = simple_op(OP_RESUME, 0, cb, arg);
	o->target = gg_strdup(target);
	submit(p, o);
}

void gg_pgstore_report(gg_pgstore *p, gg_pgreport_req *r, gg_store_cb cb, void *arg)
{
	op *o = simple_op(OP_REPORT, 0, cb, arg);
	o->report = r;
	submit(p, o);
}

void gg_pgstore_prune(gg_pgstore *p, uint64_t max_age_ms)
{
	op *o = simple_op(OP_PRUNE, 0, NULL, NULL);
	o->when = gg_wall_ms() - (int64_t)max_age_ms;
	submit(p, o);
}

/* ---- Reads, on the read connection ---- */

/*
 * The read connection, locked; NULL (unlocked) when it is broken: the read
 * then fails at once rather than wait for a connect on the caller's loop.
 */
/* Open a read connection: non-blocking, so that its queries are bounded (bounded_exec). */
static PGconn *reader_connect(gg_pgstore *p, char **err)
{
	PGconn *c = gg_pgdb_connect(p->conninfo, p->password, err);
	if (c && PQsetnonblocking(c, 1) != 0) {
		PQfinish(c);
		*err = gg_strdup("cannot make the read connection non-blocking");
		return NULL;
	}
	return c;
}

static PGconn *reader(gg_pgstore *p)
{
	pthread_mutex_lock(&p->rmu);
	if (p->r && !p->r_bad && PQstatus(p->r) == CONNECTION_OK)
		return p->r;
	p->r_bad = true;
	if (!p->threaded) {
		/* Without a worker nobody else reopens it. */
		char *err = NULL;
		PQfinish(p->r);
		duties_forget(p);
		p->r = reader_connect(p, &err);
		free(err);
		p->r_bad = p->r == NULL;
		if (p->r)
			return p->r;
	}
	pthread_mutex_unlock(&p->rmu);
	if (p->threaded) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	return NULL;
}

/*
 * Release the read connection. One that broke, or that a timed-out read
 * left in the middle of a query, is reopened by the worker.
 */
static void reader_done(gg_pgstore *p)
{
	if (PQstatus(p->r) != CONNECTION_OK || PQtransactionStatus(p->r) != PQTRANS_IDLE)
		p->r_bad = true;
	bool bad = p->r_bad;
	pthread_mutex_unlock(&p->rmu);
	if (bad && p->threaded) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

PGconn *gg_pgstore_reader(gg_pgstore *p)
{
	return reader(p);
}

void gg_pgstore_reader_done(gg_pgstore *p)
{
	reader_done(p);
}

int gg_pgstore_recover(gg_pgstore *p, size_t *n)
{
	PGconn *c = reader(p);
	if (c == NULL)
		return -1;
	/*
	 * A write like any other, under the write lock (store_pg_db.h), taken in
	 * the statement itself (the read connection runs one statement at a
	 * time), before any row is locked.
	 */
	PGresult *r = gg_pgdb_exec(c,
	                           "WITH w AS MATERIALIZED (" GG_PGDB_WRITE_LOCK ") "
	                           "UPDATE deployments SET state='queued', started_at=NULL, "
	                           "replica=NULL, lease_until=NULL WHERE EXISTS (SELECT 1 FROM w) "
	                           "AND state='running' AND (replica=$1 OR replica IS NULL)",
	                           "s", p->replica);
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		if (n)
			*n = (size_t)atoi(PQcmdTuples(r));
		rc = 0;
	}
	reader_done(p);
	PQclear(r);
	return rc;
}

#define DEP_COLUMNS                                                                                \
	"id, target, source, repo, ref, before, after, pusher, delivery, clone_url, state, "       \
	"exit_status, commit_id, reason, attempt, created_at, started_at, finished_at, "           \
	"not_before, client, replica"

static void read_dep(gg_deployment *d, PGresult *r, int row)
{
	memset(d, 0, sizeof(*d));
	d->id = gg_pgdb_i64(r, row, 0);
	d->target = gg_pgdb_text(r, row, 1);
	d->source = gg_pgdb_text(r, row, 2);
	d->repo = gg_pgdb_text(r, row, 3);
	d->ref = gg_pgdb_text(r, row, 4);
	d->before = gg_pgdb_text(r, row, 5);
	d->after = gg_pgdb_text(r, row, 6);
	d->pusher = gg_pgdb_text(r, row, 7);
	d->delivery = gg_pgdb_text(r, row, 8);
	d->clone_url = gg_pgdb_text(r, row, 9);
	if (gg_dep_state_parse(&d->state, PQgetvalue(r, row, 10)) < 0)
		d->state = GG_DEP_FAILED;
	d->exit_status = PQgetisnull(r, row, 11) ? -1 : (int)gg_pgdb_i64(r, row, 11);
	d->commit = gg_pgdb_text(r, row, 12);
	d->reason = gg_pgdb_text(r, row, 13);
	d->attempt = (unsigned)gg_pgdb_i64(r, row, 14);
	d->created_at = gg_pgdb_i64(r, row, 15);
	d->started_at = gg_pgdb_i64(r, row, 16);
	d->finished_at = gg_pgdb_i64(r, row, 17);
	d->not_before = gg_pgdb_i64(r, row, 18);
	d->client = gg_pgdb_text(r, row, 19);
	d->replica = gg_pgdb_text(r, row, 20);
}

/* A SELECT of DEP_COLUMNS with up to two bound values ('s'/'i'), every row collected. */
static int select_deps(gg_deployment **out, size_t *n, gg_pgstore *p, const char *sql,
                       const char *fmt, const char *s, int64_t i, const char *s2)
{
	*out = NULL;
	*n = 0;
	PGconn *c = reader(p);
	if (c == NULL)
		return -1;
	PGresult *r;
	if (strcmp(fmt, "s") == 0)
		r = gg_pgdb_exec(c, sql, "s", s);
	else if (strcmp(fmt, "i") == 0)
		r = gg_pgdb_exec(c, sql, "i", i);
	else if (strcmp(fmt, "si") == 0)
		r = gg_pgdb_exec(c, sql, "si", s, i);
	else if (strcmp(fmt, "ss") == 0)
		r = gg_pgdb_exec(c, sql, "ss", s, s2);
	else
		r = gg_pgdb_exec(c, sql, "");
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		int rows = PQntuples(r);
		gg_deployment *list = gg_calloc(rows ? (size_t)rows : 1, sizeof(*list));
		for (int k = 0; k < rows; k++)
			read_dep(&list[k], r, k);
		*out = list;
		*n = (size_t)rows;
		rc = 0;
	}
	reader_done(p);
	PQclear(r);
	return rc;
}

int gg_pgstore_get(gg_deployment **out, gg_pgstore *p, int64_t id)
{
	gg_deployment *list;
	size_t n;
	*out = NULL;
	if (select_deps(&list, &n, p, "SELECT " DEP_COLUMNS " FROM deployments WHERE id=$1", "i",
	                NULL, id, NULL) < 0)
		return -1;
	if (n == 0) {
		free(list);
		return GG_STORE_NOTFOUND;
	}
	*out = list;
	return 0;
}

int gg_pgstore_list_queued(gg_deployment **out, size_t *n, gg_pgstore *p, const char *target)
{
	if (target)
		return select_deps(out, n, p,
		                   "SELECT " DEP_COLUMNS " FROM deployments WHERE state='queued' "
		                   "AND target=$1 ORDER BY id",
		                   "s", target, 0, NULL);
	return select_deps(out, n, p,
	                   "SELECT " DEP_COLUMNS " FROM deployments WHERE state='queued' "
	                   "ORDER BY id",
	                   "", NULL, 0, NULL);
}

int gg_pgstore_list_queued_newest(gg_deployment **out, size_t *n, gg_pgstore *p)
{
	/*
	 * A skip scan over the (state, target, id) index, as the SQLite store
	 * does: one seek per target for the next name and one for its newest
	 * id, so a scan costs the number of targets, not of queued rows (a
	 * DISTINCT ON would read every queued row, and a backlog grows during
	 * a long deployment). The newest of each target is one backward
	 * index seek (LATERAL ... LIMIT 1): an `id IN (...)` of the same was
	 * planned as a hash join over every row of the table, 4 ms per call
	 * on the event loop with 5,000 deliveries queued.
	 */
	return select_deps(out, n, p,
	                   "WITH RECURSIVE t(target) AS ("
	                   " SELECT min(target) FROM deployments WHERE state='queued'"
	                   " UNION ALL SELECT (SELECT min(target) FROM deployments"
	                   "  WHERE state='queued' AND target > t.target)"
	                   " FROM t WHERE t.target IS NOT NULL) "
	                   "SELECT d.* FROM t CROSS JOIN LATERAL (SELECT " DEP_COLUMNS
	                   " FROM deployments WHERE state='queued' AND target=t.target"
	                   " ORDER BY id DESC LIMIT 1) d WHERE t.target IS NOT NULL "
	                   "ORDER BY d.id",
	                   "", NULL, 0, NULL);
}

int gg_pgstore_list(gg_deployment **out, size_t *n, gg_pgstore *p, const char *target, size_t limit)
{
	if (target)
		return select_deps(out, n, p,
		                   "SELECT " DEP_COLUMNS " FROM deployments WHERE target=$1 "
		                   "ORDER BY id DESC LIMIT $2",
		                   "si", target, (int64_t)limit, NULL);
	return select_deps(out, n, p,
	                   "SELECT " DEP_COLUMNS " FROM deployments ORDER BY id DESC LIMIT $1", "i",
	                   NULL, (int64_t)limit, NULL);
}

int gg_pgstore_last_deployed(char **commit, gg_pgstore *p, const char *target)
{
	gg_deployment *list;
	size_t n;
	*commit = NULL;
	if (select_deps(&list, &n, p,
	                "SELECT " DEP_COLUMNS " FROM deployments WHERE target=$1 AND "
	                "state='succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
	                "s", target, 0, NULL) < 0)
		return -1;
	if (n == 0) {
		free(list);
		return GG_STORE_NOTFOUND;
	}
	*commit = list[0].commit ? gg_strdup(list[0].commit) : gg_strdup_opt(list[0].after);
	gg_deployments_free(list, n);
	return 0;
}

const char *gg_pgstore_replay_reason(gg_pgstore *p, const char *target, const char *after,
                                     int64_t self, bool allow_rollback)
{
	PGconn *c = reader(p);
	if (c == NULL)
		return NULL;
	const char *why = replay_reason(c, target, after, self, allow_rollback);
	reader_done(p);
	return why;
}

int gg_pgstore_count_by_state(gg_pgstore *p,
                              void (*fn)(void *arg, const char *target, gg_dep_state st,
                                         uint64_t n),
                              void *arg)
{
	PGconn *c = reader(p);
	if (c == NULL)
		return -1;
	PGresult *r = gg_pgdb_exec(c,
	                           "SELECT target, state, count(*) FROM deployments "
	                           "GROUP BY target, state ORDER BY target, state",
	                           "");
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		for (int k = 0; k < PQntuples(r); k++) {
			gg_dep_state ds;
			if (gg_dep_state_parse(&ds, PQgetvalue(r, k, 1)) == 0)
				fn(arg, PQgetvalue(r, k, 0), ds, (uint64_t)gg_pgdb_i64(r, k, 2));
		}
		rc = 0;
	}
	reader_done(p);
	PQclear(r);
	return rc;
}

int gg_pgstore_paused(gg_pgstore *p, const char *target, int64_t *since, char **by)
{
	*since = 0;
	*by = NULL;
	PGconn *c = reader(p);
	if (c == NULL)
		return -1;
	PGresult *r =
	    gg_pgdb_exec(c, "SELECT since, paused_by FROM pauses WHERE target=$1", "s", target);
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		rc = GG_STORE_NOTFOUND;
		if (PQntuples(r) > 0) {
			*since = gg_pgdb_i64(r, 0, 0);
			*by = gg_pgdb_text(r, 0, 1);
			rc = 0;
		}
	}
	reader_done(p);
	PQclear(r);
	return rc;
}

int gg_pgstore_list_replicas(gg_replica **out, size_t *n, gg_pgstore *p)
{
	*out = NULL;
	*n = 0;
	PGconn *c = reader(p);
	if (c == NULL)
		return -1;
	PGresult *r = gg_pgdb_exec(
	    c, "SELECT name, started_at, heartbeat_at FROM replicas ORDER BY name", "");
	int rc = -1;
	if (gg_pgdb_ok(r)) {
		int rows = PQntuples(r);
		gg_replica *list = gg_calloc(rows ? (size_t)rows : 1, sizeof(*list));
		for (int k = 0; k < rows; k++) {
			list[k].name = gg_pgdb_text(r, k, 0);
			list[k].started_at = gg_pgdb_i64(r, k, 1);
			list[k].heartbeat_at = gg_pgdb_i64(r, k, 2);
		}
		*out = list;
		*n = (size_t)rows;
		rc = 0;
	}
	reader_done(p);
	PQclear(r);
	return rc;
}

size_t gg_pgstore_placements(gg_pgstore *p, char ***names)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->nlive ? p->nlive : 1;
	char **out = gg_calloc(n, sizeof(*out));
	if (p->nlive == 0)
		out[0] = gg_strdup(p->replica); /* no heartbeat yet: this one is alive */
	for (size_t k = 0; k < p->nlive; k++)
		out[k] = gg_strdup(p->live[k]);
	pthread_mutex_unlock(&p->mu);
	*names = out;
	return n;
}

int gg_pgstore_newest_placed(gg_deployment **out, gg_pgstore *p, const char *target,
                             const char *queue, const char *skip_pusher)
{
	gg_deployment *list;
	size_t n;
	*out = NULL;
	int rc;
	if (queue) {
		rc = select_deps(&list, &n, p,
		                 "SELECT " DEP_COLUMNS " FROM deployments WHERE target=$1"
		                 " AND after IS NOT NULL"
		                 " AND pusher IS DISTINCT FROM $2::text ORDER BY id DESC LIMIT 1",
		                 "ss", queue, 0, skip_pusher);
	} else {
		/* One backward index seek over (target, id) per replica that ever joined. */
		rc =
		    select_deps(&list, &n, p,
		                "SELECT x.* FROM replicas r CROSS JOIN LATERAL (SELECT " DEP_COLUMNS
		                " FROM deployments WHERE target = $1::text || '@' || r.name"
		                " AND state<>'refused' AND after IS NOT NULL"
		                " AND pusher IS DISTINCT FROM $2::text ORDER BY id DESC LIMIT 1) x "
		                "ORDER BY x.id DESC LIMIT 1",
		                "ss", target, 0, skip_pusher);
	}
	if (rc < 0)
		return -1;
	if (n == 0) {
		free(list);
		return GG_STORE_NOTFOUND;
	}
	*out = list;
	return 0;
}

static bool duty_held(const gg_pgstore *p, const char *duty)
{
	for (size_t i = 0; i < p->nduties; i++)
		if (!strcmp(p->duties[i], duty))
			return true;
	return false;
}

bool gg_pgstore_duty(gg_pgstore *p, const char *duty)
{
	PGconn *c = reader(p);
	if (c == NULL)
		return false;
	bool mine;
	if (duty_held(p, duty)) {
		/*
		 * Asking again would stack the session lock once more on every tick
		 * and cost a round trip. Reading what the server sent, without
		 * waiting, still notices a connection it ended (and with it the
		 * lock): reader_done has that one reopened, which forgets its
		 * duties. One cut off silently is noticed by its keepalives or the
		 * next read.
		 */
		mine = PQconsumeInput(c) == 1 && PQstatus(c) == CONNECTION_OK;
		if (!mine)
			p->r_bad = true;
	} else {
		/* A session lock on the read connection: held until it closes or the daemon dies.
		 */
		PGresult *r = gg_pgdb_exec(c, "SELECT pg_try_advisory_lock($1::int, hashtext($2))",
		                           "is", (int64_t)PG_DUTY_LOCK_CLASS, duty);
		mine = gg_pgdb_ok(r) && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (mine) {
			p->duties = gg_reallocarray(p->duties, p->nduties + 1, sizeof(*p->duties));
			p->duties[p->nduties++] = gg_strdup(duty);
		}
	}
	reader_done(p);
	return mine;
}
