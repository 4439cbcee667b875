/*
 * SQLite store: one write connection owned by a writer thread (group commit:
 * everything queued is written in one transaction, one fsync), one read
 * connection used on the caller's thread. WAL with synchronous=FULL: a
 * commit returns only after the WAL is synced, so a callback with rc 0 means
 * the write survives a crash or power loss; readers never block on it.
 */
#include "store.h"
#include "store_pg.h"
#include "store_pg_report.h"

#include "log.h"

#include "gitgate/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* How long a connection waits for a lock held by another process before failing. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* Queued writes above this make the store report itself unhealthy. */
#define STORE_MAX_PENDING 100000
/* WAL pages after which the writer copies them into the database. */
#define STORE_CHECKPOINT_PAGES 1000

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
	OP_REPORT_INIT,
	OP_REPORT_RECORD,
	OP_REPORT_PRUNE,
	OP_REPORT_REF,
} op_kind;

/* Distinct SQL texts the store runs; each connection caches its statements. */
#define STORE_STMT_CACHE 32

typedef struct {
	const char *sql; /* a string literal: compared by address */
	sqlite3_stmt *st;
} stmt_slot;

typedef struct op op;
struct op {
	op *next;
	op_kind kind;
	int rc;
	int64_t id; /* target deployment; result id */
	/* accept */
	char *source, *delivery, *event;
	gg_deployment *deps; /* accept: ndeps to create; insert: one */
	size_t ndeps;
	bool duplicate;
	int64_t *ids;
	bool *allow_rollback; /* accept: per dep */
	const char **refused; /* accept: per dep, NULL or a static reason */
	/* finish / supersede / requeue / prune */
	gg_dep_state state;
	int exit_status;
	char *commit, *reason, *target;
	int64_t when;
	char *rdest, *rstate, *rresult, *rerror; /* report cursor writes */
	gg_store_cb cb;
	gg_store_accept_cb acb;
	void *arg;
};

struct gg_store {
	gg_pgstore *pg; /* the PostgreSQL store; NULL: this file's SQLite store */
	sqlite3 *wdb;   /* writer thread only (or the caller's, without a base) */
	sqlite3 *rdb;   /* caller's thread */
	struct event_base *base;
	pthread_t thread;
	bool threaded;
	bool ckpt_wanted, ckpt_failing; /* writer thread only */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	op *queue, **queue_tail; /* waiting for the writer */
	op *done, **done_tail;   /* committed (or failed), waiting for the loop */
	size_t pending;
	uint64_t commits, committed_writes; /* under mu */
	bool stopping;
	int pipefd[2];
	struct event *done_ev;
	char *error; /* last write failure; NULL when the last commit worked */
	char reason[256];
	sqlite3_stmt *ins_delivery, *ins_dep;
	/* Prepared statements by SQL text: preparing costs more than running them. */
	stmt_slot wcache[STORE_STMT_CACHE]; /* writer thread */
	stmt_slot rcache[STORE_STMT_CACHE]; /* caller's thread */
};

static const char *const state_names[GG_DEP_NSTATES] = {
    "queued", "running", "succeeded", "failed", "timed_out", "superseded", "canceled", "refused",
};

const char *gg_dep_state_name(gg_dep_state s)
{
	return (unsigned)s < GG_DEP_NSTATES ? state_names[s] : "unknown";
}

int gg_dep_state_parse(gg_dep_state *out, const char *s)
{
	for (int i = 0; i < GG_DEP_NSTATES; i++) {
		if (strcmp(state_names[i], s) == 0) {
			*out = (gg_dep_state)i;
			return 0;
		}
	}
	return -1;
}

static void dep_clear(gg_deployment *d)
{
	free(d->target);
	free(d->source);
	free(d->repo);
	free(d->ref);
	free(d->before);
	free(d->after);
	free(d->pusher);
	free(d->delivery);
	free(d->clone_url);
	free(d->client);
	free(d->replica);
	free(d->commit);
	free(d->reason);
}

void gg_deployment_free(gg_deployment *d)
{
	if (d == NULL)
		return;
	dep_clear(d);
	free(d);
}

void gg_deployments_free(gg_deployment *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dep_clear(&list[i]);
	free(list);
}

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
	free(o->rdest);
	free(o->rstate);
	free(o->rresult);
	free(o->rerror);
	free(o);
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS deliveries("
    " source TEXT NOT NULL, id TEXT NOT NULL, event TEXT, received_at INTEGER NOT NULL,"
    " PRIMARY KEY(source, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries(received_at);"
    "CREATE TABLE IF NOT EXISTS deployments("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, source TEXT, repo TEXT,"
    " ref TEXT, before TEXT, after TEXT, pusher TEXT, delivery TEXT, clone_url TEXT,"
    " state TEXT NOT NULL, exit_status INTEGER, commit_id TEXT, reason TEXT,"
    " attempt INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER,"
    " finished_at INTEGER, not_before INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS deployments_target ON deployments(target, id);"
    /*
     * The replay rule's reads, on every delivery: partial indexes without the
     * refused rows, so that a flood of replays costs none of the later ones.
     */
    "CREATE INDEX IF NOT EXISTS deployments_live_after ON deployments(target, after)"
    " WHERE state!='refused';"
    "CREATE INDEX IF NOT EXISTS deployments_live ON deployments(target, id)"
    " WHERE state!='refused';"
    /* (state, target, id) serves the queue scans; a (state, id) index only cost writes. */
    "DROP INDEX IF EXISTS deployments_state;"
    "CREATE INDEX IF NOT EXISTS deployments_state_target ON deployments(state, target, id);"
    /* Targets paused through the API: since when and by whom. */
    "CREATE TABLE IF NOT EXISTS pauses("
    " target TEXT PRIMARY KEY, since INTEGER NOT NULL, paused_by TEXT) WITHOUT ROWID;";

/*
 * The reports outbox: one event per state a deployment enters, written by
 * triggers so that it is part of the very transaction that changes the state
 * (no caller can forget it, and a crash keeps both or neither). Each report
 * destination has a cursor: the last event it is done with, and what the last
 * attempt gave.
 */
static const char report_schema[] =
    "CREATE TABLE IF NOT EXISTS report_events("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, deployment INTEGER NOT NULL,"
    " target TEXT NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS report_events_target ON report_events(target, id);"
    "CREATE TABLE IF NOT EXISTS report_cursors("
    " target TEXT NOT NULL, dest TEXT NOT NULL, last_event INTEGER NOT NULL,"
    " last_state TEXT, last_at INTEGER, last_result TEXT, last_error TEXT,"
    " PRIMARY KEY(target, dest)) WITHOUT ROWID;"
    /* What a destination made of a deployment on its side (a GitHub Deployment's id). */
    "CREATE TABLE IF NOT EXISTS report_refs("
    " target TEXT NOT NULL, dest TEXT NOT NULL, deployment INTEGER NOT NULL,"
    " remote_id INTEGER NOT NULL, PRIMARY KEY(target, dest, deployment)) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS report_on_insert AFTER INSERT ON deployments BEGIN"
    " INSERT INTO report_events(deployment, target, state, at) VALUES (NEW.id, NEW.target,"
    " NEW.state, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)); END;"
    "CREATE TRIGGER IF NOT EXISTS report_on_state AFTER UPDATE OF state ON deployments"
    " WHEN NEW.state != OLD.state BEGIN"
    " INSERT INTO report_events(deployment, target, state, at) VALUES (NEW.id, NEW.target,"
    " NEW.state, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)); END;";

/* Databases from before trusted_proxies lack deployments.client: add it. */
static int add_client_column(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int found = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM pragma_table_info('deployments') "
	                       "WHERE name='client'",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (found)
		return 0;
	return sqlite3_exec(db, "ALTER TABLE deployments ADD COLUMN client TEXT", NULL, NULL,
	                    NULL) == SQLITE_OK
	           ? 0
	           : -1;
}

static int open_db(sqlite3 **out, const char *path, bool writer, char **err)
{
	sqlite3 *db = NULL;
	/* The database is never opened through a symlink planted in the state directory. */
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		*err = gg_printf("%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	const char *pragmas = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                               "PRAGMA foreign_keys=OFF;"
	                             : "PRAGMA query_only=1;";
	if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
	    (writer && sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) ||
	    (writer && add_client_column(db) < 0) ||
	    (writer && sqlite3_exec(db, report_schema, NULL, NULL, NULL) != SQLITE_OK)) {
		*err = gg_printf("%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/* ---- Write operations, run on the write connection inside a transaction ---- */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/*
 * The cached statement for sql on db, reset and unbound; NULL when it cannot
 * be prepared. Callers reset it after use (a pending SELECT would hold its
 * read snapshot) and never finalize it.
 */
static sqlite3_stmt *stmt(sqlite3 *db, stmt_slot *cache, const char *sql)
{
	size_t i;
	for (i = 0; i < STORE_STMT_CACHE && cache[i].sql; i++) {
		if (cache[i].sql == sql) {
			sqlite3_reset(cache[i].st);
			sqlite3_clear_bindings(cache[i].st);
			return cache[i].st;
		}
	}
	if (i == STORE_STMT_CACHE)
		abort(); /* more distinct statements than STORE_STMT_CACHE: a bug here */
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return NULL;
	}
	cache[i].sql = sql;
	cache[i].st = st;
	return st;
}

static void stmt_cache_free(stmt_slot *cache)
{
	for (size_t i = 0; i < STORE_STMT_CACHE && cache[i].sql; i++)
		sqlite3_finalize(cache[i].st);
}

static int insert_dep(gg_store *s, const gg_deployment *d, const char *delivery, int64_t now,
                      int64_t *id)
{
	sqlite3_stmt *st = s->ins_dep;
	sqlite3_reset(st);
	bind_text(st, 1, d->target);
	bind_text(st, 2, d->source);
	bind_text(st, 3, d->repo);
	bind_text(st, 4, d->ref);
	bind_text(st, 5, d->before);
	bind_text(st, 6, d->after);
	bind_text(st, 7, d->pusher);
	bind_text(st, 8, delivery);
	bind_text(st, 9, d->clone_url);
	sqlite3_bind_int64(st, 10, now);
	sqlite3_bind_int64(st, 11, d->not_before);
	bind_text(st, 12, d->client);
	bind_text(st, 13, d->reason);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	*id = sqlite3_last_insert_rowid(s->wdb);
	return 0;
}

static int exec_update(gg_store *s, const char *sql, const char *fmt, ...);
static int run_report_op(gg_store *s, op *o, int64_t now);

/* One text column of the first row of a cached query; NULL when none. Bindings: 's'/'i'. */
static char *query_text(sqlite3 *db, stmt_slot *cache, const char *sql, const char *fmt, ...)
{
	char *out = NULL;
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = stmt(db, cache, sql);
	if (st == NULL)
		goto done;
	for (int i = 1; fmt[i - 1]; i++) {
		if (fmt[i - 1] == 's')
			bind_text(st, i, va_arg(ap, const char *));
		else
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		out = gg_strdup((const char *)sqlite3_column_text(st, 0));
done:
	va_end(ap);
	if (st)
		sqlite3_reset(st);
	return out;
}

/*
 * The replay rule (see gg_store_replay_reason) on one connection. Three
 * indexed lookups, none of which walks the history: the last success, whether
 * an earlier deployment asked for the same commit, and the commit the newest
 * deployment asked for. When an earlier one asked for this commit and the
 * newest asked for another, that one came after it: the target moved on.
 */
static const char *replay_reason(sqlite3 *db, stmt_slot *cache, const char *target,
                                 const char *after, int64_t self, bool allow_rollback)
{
	if (target == NULL || after == NULL)
		return NULL;
	const char *why = NULL;
	char *last = query_text(db, cache,
	                        "SELECT coalesce(commit_id, after) FROM deployments WHERE "
	                        "state='succeeded' AND target=? AND id!=? ORDER BY id DESC LIMIT 1",
	                        "si", target, self);
	if (last && strcmp(last, after) == 0) {
		why = GG_REPLAY_DEPLOYED;
		goto done;
	}
	if (allow_rollback)
		goto done;
	char *prev = query_text(db, cache,
	                        "SELECT id FROM deployments WHERE target=? AND after=? AND "
	                        "id!=? AND state!='refused' LIMIT 1",
	                        "ssi", target, after, self);
	if (prev) {
		char *newest = query_text(db, cache,
		                          "SELECT after FROM deployments WHERE target=? AND id!=? "
		                          "AND state!='refused' ORDER BY id DESC LIMIT 1",
		                          "si", target, self);
		if (newest && strcmp(newest, after) != 0)
			why = GG_REPLAY_OLDER;
		free(newest);
	}
	free(prev);
done:
	free(last);
	return why;
}

const char *gg_store_replay_reason(gg_store *s, const char *target, const char *after, int64_t self,
                                   bool allow_rollback)
{
	if (s->pg)
		return gg_pgstore_replay_reason(s->pg, target, after, self, allow_rollback);
	return replay_reason(s->rdb, s->rcache, target, after, self, allow_rollback);
}

static int run_accept(gg_store *s, op *o, int64_t now)
{
	sqlite3_stmt *st = s->ins_delivery;
	sqlite3_reset(st);
	bind_text(st, 1, o->source);
	bind_text(st, 2, o->delivery);
	bind_text(st, 3, o->event);
	sqlite3_bind_int64(st, 4, now);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(s->wdb) == 0) {
		o->duplicate = true;
		return 0;
	}
	o->ids = gg_calloc(o->ndeps, sizeof(*o->ids));
	o->refused = gg_calloc(o->ndeps ? o->ndeps : 1, sizeof(*o->refused));
	for (size_t i = 0; i < o->ndeps; i++) {
		const gg_deployment *d = &o->deps[i];
		/* Judged inside the transaction: it sees this batch's earlier deliveries. */
		const char *why =
		    replay_reason(s->wdb, s->wcache, d->target, d->after, 0, o->allow_rollback[i]);
		if (insert_dep(s, d, o->delivery, now, &o->ids[i]) < 0)
			return -1;
		if (why) {
			o->refused[i] = why;
			if (exec_update(s,
			                "UPDATE deployments SET state='refused', reason=?, "
			                "finished_at=? WHERE id=?",
			                "sii", why, now, o->ids[i]) != 1)
				return -1;
		}
	}
	return 0;
}

/* Run one UPDATE with bound values; the result is the number of rows changed or -1. */
static int exec_update(gg_store *s, const char *sql, const char *fmt, ...)
{
	int changed = -1;
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = stmt(s->wdb, s->wcache, sql);
	if (st == NULL)
		goto done;
	for (int i = 1; fmt[i - 1]; i++) {
		switch (fmt[i - 1]) {
		case 's':
			bind_text(st, i, va_arg(ap, const char *));
			break;
		case 'i':
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		}
	}
	if (sqlite3_step(st) == SQLITE_DONE)
		changed = sqlite3_changes(s->wdb);
done:
	va_end(ap);
	if (st)
		sqlite3_reset(st);
	return changed;
}

/* Whether deployment id exists: distinguishes not-found from a state conflict. */
static bool dep_exists(gg_store *s, int64_t id)
{
	bool found = false;
	sqlite3_stmt *st = stmt(s->wdb, s->wcache, "SELECT 1 FROM deployments WHERE id=?");
	if (st) {
		sqlite3_bind_int64(st, 1, id);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_reset(st);
	}
	return found;
}

static int changed_or_conflict(gg_store *s, int changed, int64_t id)
{
	if (changed < 0)
		return -1;
	if (changed == 0)
		return dep_exists(s, id) ? GG_STORE_CONFLICT : GG_STORE_NOTFOUND;
	return 0;
}

static int run_op(gg_store *s, op *o)
{
	int64_t now = gg_wall_ms();
	int c;
	switch (o->kind) {
	case OP_ACCEPT:
		return run_accept(s, o, now);
	case OP_INSERT:
		return insert_dep(s, &o->deps[0], o->deps[0].delivery, now, &o->id);
	case OP_CLAIM:
		c = exec_update(s,
		                "UPDATE deployments SET state='running', started_at=?, "
		                "finished_at=NULL, exit_status=NULL WHERE id=? AND state='queued'",
		                "ii", now, o->id);
		return changed_or_conflict(s, c, o->id);
	case OP_FINISH:
		c = exec_update(s,
		                "UPDATE deployments SET state=?, exit_status=?, "
		                "commit_id=coalesce(?, commit_id), reason=?, finished_at=? "
		                "WHERE id=? AND state IN ('queued','running')",
		                "sissii", gg_dep_state_name(o->state), (int64_t)o->exit_status,
		                o->commit, o->reason, now, o->id);
		if (c > 0 && o->exit_status < 0)
			exec_update(s, "UPDATE deployments SET exit_status=NULL WHERE id=?", "i",
			            o->id);
		return changed_or_conflict(s, c, o->id);
	case OP_SUPERSEDE:
		c = exec_update(s,
		                "UPDATE deployments SET state='superseded', finished_at=?, "
		                "reason=? WHERE target=? AND state='queued' AND id<?",
		                "issi", now, o->reason, o->target, o->id);
		if (c < 0)
			return -1;
		o->id = c;
		return 0;
	case OP_REQUEUE:
		c = exec_update(s,
		                "UPDATE deployments SET state='queued', attempt=attempt+1, "
		                "not_before=?, started_at=NULL WHERE id=? AND state='running'",
		                "ii", o->when, o->id);
		return changed_or_conflict(s, c, o->id);
	case OP_PRUNE:
		c = exec_update(s, "DELETE FROM deliveries WHERE received_at<?", "i", o->when);
		return c < 0 ? -1 : 0;
	case OP_PAUSE:
		/* Pausing a paused target keeps its first since and by. */
		c = exec_update(s,
		                "INSERT OR IGNORE INTO pauses(target, since, paused_by) "
		                "VALUES (?,?,?)",
		                "sis", o->target, now, o->reason);
		if (c < 0)
			return -1;
		o->id = c;
		return 0;
	case OP_RESUME:
		c = exec_update(s, "DELETE FROM pauses WHERE target=?", "s", o->target);
		if (c < 0)
			return -1;
		o->id = c;
		return 0;
	case OP_REPORT_INIT:
	case OP_REPORT_RECORD:
	case OP_REPORT_PRUNE:
	case OP_REPORT_REF:
		return run_report_op(s, o, now);
	}
	return -1;
}

static void set_error(gg_store *s, const char *what)
{
	char *msg = gg_printf("%s: %s", what, sqlite3_errmsg(s->wdb));
	pthread_mutex_lock(&s->mu);
	free(s->error);
	s->error = msg;
	pthread_mutex_unlock(&s->mu);
}

static void clear_error(gg_store *s)
{
	pthread_mutex_lock(&s->mu);
	free(s->error);
	s->error = NULL;
	pthread_mutex_unlock(&s->mu);
}

/* Run one cached statement without results on the write connection. */
static int wexec(gg_store *s, const char *sql)
{
	sqlite3_stmt *st = stmt(s->wdb, s->wcache, sql);
	if (st == NULL)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Run a batch in one transaction. Each op gets a savepoint so one failing
 * request does not take the others down; if the commit fails, all fail.
 */
static void run_batch(gg_store *s, op *batch)
{
	if (wexec(s, "BEGIN IMMEDIATE") < 0) {
		set_error(s, "begin");
		for (op *o = batch; o; o = o->next)
			o->rc = -1;
		return;
	}
	bool any_failed = false;
	for (op *o = batch; o; o = o->next) {
		wexec(s, "SAVEPOINT op");
		o->rc = run_op(s, o);
		if (o->rc == -1) {
			any_failed = true;
			set_error(s, "write");
			wexec(s, "ROLLBACK TO op");
		}
		wexec(s, "RELEASE op");
	}
	if (wexec(s, "COMMIT") < 0) {
		set_error(s, "commit");
		wexec(s, "ROLLBACK");
		for (op *o = batch; o; o = o->next)
			o->rc = -1;
		return;
	}
	size_t n = 0;
	for (op *o = batch; o; o = o->next)
		n++;
	pthread_mutex_lock(&s->mu);
	s->commits++;
	s->committed_writes += n;
	pthread_mutex_unlock(&s->mu);
	if (!any_failed)
		clear_error(s);
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

/* Called by SQLite on the writer thread after each commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db, (void)name;
	gg_store *s = arg;
	if (pages >= STORE_CHECKPOINT_PAGES)
		s->ckpt_wanted = true;
	return SQLITE_OK;
}

/*
 * The writer checkpoints between two batches, after handing the last one
 * back: only the next group waits for it, and as no commit runs meanwhile
 * the checkpoint copies the whole log, so the next write starts the log over
 * from its beginning. A checkpointer running beside the writer never catches
 * up under a steady load: the log then grows for as long as the load lasts,
 * and every fsync of the growing file writes its inode too.
 */
static void maybe_checkpoint(gg_store *s)
{
	if (!s->ckpt_wanted)
		return;
	s->ckpt_wanted = false;
	/* PASSIVE: never waits for readers; a reader in the way only delays the restart. */
	int rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	/* Said once per run of failures: the next batch tries again. */
	if (rc != SQLITE_OK && !s->ckpt_failing)
		gg_log(GG_LOG_WARN, "checkpointing the store failed; the WAL grows until it works",
		       "error", sqlite3_errmsg(s->wdb), NULL);
	s->ckpt_failing = rc != SQLITE_OK;
}

static void *writer_main(void *arg)
{
	gg_store *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->queue == NULL && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->queue == NULL && s->stopping)
			break;
		op *batch = s->queue;
		s->queue = NULL;
		s->queue_tail = &s->queue;
		pthread_mutex_unlock(&s->mu);

		run_batch(s, batch);

		pthread_mutex_lock(&s->mu);
		*s->done_tail = batch;
		op *last = batch;
		while (last->next)
			last = last->next;
		s->done_tail = &last->next;
		pthread_mutex_unlock(&s->mu);
		char b = 1;
		/* A full pipe already means a wakeup is pending. */
		ssize_t w = write(s->pipefd[1], &b, 1);
		(void)w;
		maybe_checkpoint(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void drain_done(gg_store *s, bool call)
{
	pthread_mutex_lock(&s->mu);
	op *list = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	for (op *o = list; o; o = o->next)
		s->pending--;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		op *next = list->next;
		list->next = NULL;
		if (call)
			complete(list);
		else
			op_free(list);
		list = next;
	}
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	drain_done(arg, true);
}

static void submit(gg_store *s, op *o)
{
	if (!s->threaded) {
		s->pending++;
		run_batch(s, o);
		s->pending--;
		complete(o);
		return;
	}
	pthread_mutex_lock(&s->mu);
	*s->queue_tail = o;
	s->queue_tail = &o->next;
	s->pending++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int gg_store_open(gg_store **out, struct event_base *base, const char *dir, char **err)
{
	gg_store *s = gg_calloc(1, sizeof(*s));
	char *path = gg_printf("%s/gitgated.db", dir);
	int rc = -1;
	*err = NULL;
	s->pipefd[0] = s->pipefd[1] = -1;
	s->queue_tail = &s->queue;
	s->done_tail = &s->done;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		*err = gg_printf("%s: %s", dir, strerror(errno));
		goto done;
	}
	if (open_db(&s->wdb, path, true, err) < 0 || open_db(&s->rdb, path, false, err) < 0)
		goto done;
	if (sqlite3_prepare_v3(s->wdb,
	                       "INSERT OR IGNORE INTO deliveries(source, id, event, received_at) "
	                       "VALUES (?,?,?,?)",
	                       -1, SQLITE_PREPARE_PERSISTENT, &s->ins_delivery,
	                       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->wdb,
	                       "INSERT INTO deployments(target, source, repo, ref, before, after, "
	                       "pusher, delivery, clone_url, state, created_at, not_before, "
	                       "client, reason) VALUES (?,?,?,?,?,?,?,?,?,'queued',?,?,?,?)",
	                       -1, SQLITE_PREPARE_PERSISTENT, &s->ins_dep, NULL) != SQLITE_OK) {
		*err = gg_printf("%s: %s", path, sqlite3_errmsg(s->wdb));
		goto done;
	}
	if (base) {
		if (pipe2(s->pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
			*err = gg_printf("pipe: %s", strerror(errno));
			goto done;
		}
		s->base = base;
		s->done_ev = event_new(base, s->pipefd[0], EV_READ | EV_PERSIST, on_done, s);
		event_add(s->done_ev, NULL);
		sqlite3_wal_autocheckpoint(s->wdb, 0);
		sqlite3_wal_hook(s->wdb, wal_hook, s);
		if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
			*err = gg_printf("cannot start the store's writer thread");
			goto done;
		}
		s->threaded = true;
	}
	rc = 0;
done:
	free(path);
	if (rc < 0) {
		gg_store_close(s);
		s = NULL;
	}
	*out = s;
	return rc;
}

int gg_store_open_postgres(gg_store **out, struct event_base *base, const char *conninfo,
                           const char *replica, uint64_t lease_ms, char **err)
{
	gg_pgstore *pg = NULL;
	*out = NULL;
	if (gg_pgstore_open(&pg, base, conninfo, replica, lease_ms, err) < 0)
		return -1;
	gg_store *s = gg_calloc(1, sizeof(*s));
	s->pg = pg;
	*out = s;
	return 0;
}

void gg_store_flush(gg_store *s)
{
	if (s->pg) {
		gg_pgstore_flush(s->pg);
		return;
	}
	if (!s->threaded)
		return;
	for (;;) {
		drain_done(s, true);
		if (gg_store_pending(s) == 0)
			break;
		/* Shutdown only: a short sleep beats another condition variable. */
		usleep(1000);
	}
}

void gg_store_close(gg_store *s)
{
	if (s == NULL)
		return;
	if (s->pg) {
		gg_pgstore_close(s->pg);
		free(s);
		return;
	}
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		drain_done(s, false);
	}
	if (s->done_ev)
		event_free(s->done_ev);
	if (s->pipefd[0] >= 0)
		close(s->pipefd[0]);
	if (s->pipefd[1] >= 0)
		close(s->pipefd[1]);
	sqlite3_finalize(s->ins_delivery);
	sqlite3_finalize(s->ins_dep);
	stmt_cache_free(s->wcache);
	stmt_cache_free(s->rcache);
	sqlite3_close(s->rdb);
	sqlite3_close(s->wdb); /* the last connection to close checkpoints the rest */
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->error);
	free(s);
}

void gg_store_commit_stats(const gg_store *s, uint64_t *commits, uint64_t *writes)
{
	if (s->pg) {
		gg_pgstore_commit_stats(s->pg, commits, writes);
		return;
	}
	gg_store *m = (gg_store *)s; /* the lock is not part of the value */
	pthread_mutex_lock(&m->mu);
	*commits = m->commits;
	*writes = m->committed_writes;
	pthread_mutex_unlock(&m->mu);
}

int gg_store_list_replicas(gg_replica **out, size_t *n, gg_store *s)
{
	*out = NULL;
	*n = 0;
	return s->pg ? gg_pgstore_list_replicas(out, n, s->pg) : 0;
}

size_t gg_store_placements(gg_store *s, char ***names)
{
	*names = NULL;
	return s->pg ? gg_pgstore_placements(s->pg, names) : 0;
}

int gg_store_newest_placed(gg_deployment **out, gg_store *s, const char *target, const char *queue,
                           const char *skip_pusher)
{
	*out = NULL;
	return s->pg ? gg_pgstore_newest_placed(out, s->pg, target, queue, skip_pusher)
	             : GG_STORE_NOTFOUND;
}

void gg_replicas_free(gg_replica *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
}

void gg_store_on_queue(gg_store *s, void (*fn)(void *arg, bool freed),
                       bool (*busy)(void *arg, const char *target), void *arg)
{
	if (s->pg)
		gg_pgstore_on_queue(s->pg, fn, busy, arg);
}

bool gg_store_duty(gg_store *s, const char *duty)
{
	return s->pg ? gg_pgstore_duty(s->pg, duty) : true;
}

bool gg_store_shared(const gg_store *s)
{
	return s->pg != NULL;
}

bool gg_store_healthy(gg_store *s, const char **reason)
{
	if (s->pg)
		return gg_pgstore_healthy(s->pg, reason);
	bool ok = true;
	pthread_mutex_lock(&s->mu);
	if (s->error) {
		snprintf(s->reason, sizeof(s->reason), "%s", s->error);
		ok = false;
	} else if (s->pending > STORE_MAX_PENDING) {
		snprintf(s->reason, sizeof(s->reason), "%zu writes waiting for the disk",
		         s->pending);
		ok = false;
	}
	pthread_mutex_unlock(&s->mu);
	if (ok) {
		/* The schema must still be readable: a broken database fails here. */
		sqlite3_stmt *st =
		    stmt(s->rdb, s->rcache, "SELECT count(*) FROM deployments WHERE id=0");
		if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
			snprintf(s->reason, sizeof(s->reason), "database: %s",
			         sqlite3_errmsg(s->rdb));
			ok = false;
		}
		if (st)
			sqlite3_reset(st);
	}
	if (reason)
		*reason = ok ? NULL : s->reason;
	return ok;
}

size_t gg_store_pending(const gg_store *s)
{
	if (s->pg)
		return gg_pgstore_pending(s->pg);
	gg_store *m = (gg_store *)s; /* the lock is not part of the value */
	pthread_mutex_lock(&m->mu);
	size_t n = m->pending;
	pthread_mutex_unlock(&m->mu);
	return n;
}

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

void gg_store_accept(gg_store *s, const char *source, const char *delivery, const char *event,
                     const gg_store_newdep *deps, size_t ndeps, gg_store_accept_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_accept(s->pg, source, delivery, event, deps, ndeps, cb, arg);
		return;
	}
	op *o = gg_calloc(1, sizeof(*o));
	o->kind = OP_ACCEPT;
	o->source = gg_strdup(source);
	o->delivery = gg_strdup(delivery);
	o->event = gg_strdup_opt(event);
	o->ndeps = ndeps;
	o->deps = gg_calloc(ndeps, sizeof(*o->deps));
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
	o->acb = cb;
	o->arg = arg;
	submit(s, o);
}

void gg_store_insert(gg_store *s, const gg_deployment *d, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_insert(s->pg, d, cb, arg);
		return;
	}
	op *o = gg_calloc(1, sizeof(*o));
	o->kind = OP_INSERT;
	o->ndeps = 1;
	o->deps = gg_calloc(1, sizeof(*o->deps));
	copy_dep(o->deps, d);
	o->cb = cb;
	o->arg = arg;
	submit(s, o);
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

void gg_store_claim(gg_store *s, int64_t id, bool allow_rollback, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_claim(s->pg, id, allow_rollback, cb, arg);
		return;
	}
	submit(s, simple_op(OP_CLAIM, id, cb, arg));
}

void gg_store_finish(gg_store *s, int64_t id, gg_dep_state state, int exit_status,
                     const char *commit, const char *reason, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_finish(s->pg, id, state, exit_status, commit, reason, cb, arg);
		return;
	}
	op *o = simple_op(OP_FINISH, id, cb, arg);
	o->state = state;
	o->exit_status = exit_status;
	o->commit = gg_strdup_opt(commit);
	o->reason = gg_strdup_opt(reason);
	submit(s, o);
}

void gg_store_supersede(gg_store *s, const char *target, int64_t newer_than, gg_store_cb cb,
                        void *arg)
{
	if (s->pg) {
		gg_pgstore_supersede(s->pg, target, newer_than, cb, arg);
		return;
	}
	op *o = simple_op(OP_SUPERSEDE, newer_than, cb, arg);
	o->target = gg_strdup(target);
	o->reason = gg_printf("superseded by %lld", (long long)newer_than);
	submit(s, o);
}

void gg_store_requeue(gg_store *s, int64_t id, int64_t not_before, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_requeue(s->pg, id, not_before, cb, arg);
		return;
	}
	op *o = simple_op(OP_REQUEUE, id, cb, arg);
	o->when = not_before;
	submit(s, o);
}

void gg_store_pause(gg_store *s, const char *target, const char *by, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_pause(s->pg, target, by, cb, arg);
		return;
	}
	op *o = simple_op(OP_PAUSE, 0, cb, arg);
	o->target = gg_strdup(target);
	o->reason = gg_strdup_opt(by);
	submit(s, o);
}

void gg_store_resume(gg_store *s, const char *target, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_resume(s->pg, target, cb, arg);
		return;
	}
	op *o = simple_op(OP_RESUME, 0, cb, arg);
	o->target = gg_strdup(target);
	submit(s, o);
}

int gg_store_paused(gg_store *s, const char *target, int64_t *since, char **by)
{
	if (s->pg)
		return gg_pgstore_paused(s->pg, target, since, by);
	*since = 0;
	*by = NULL;
	sqlite3_stmt *st =
	    stmt(s->rdb, s->rcache, "SELECT since, paused_by FROM pauses WHERE target=?");
	if (st == NULL)
		return -1;
	bind_text(st, 1, target);
	int step = sqlite3_step(st), rc = -1;
	if (step == SQLITE_ROW) {
		*since = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			*by = gg_strdup((const char *)sqlite3_column_text(st, 1));
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = GG_STORE_NOTFOUND;
	}
	sqlite3_reset(st);
	return rc;
}

void gg_store_prune(gg_store *s, uint64_t max_age_ms)
{
	if (s->pg) {
		gg_pgstore_prune(s->pg, max_age_ms);
		return;
	}
	op *o = simple_op(OP_PRUNE, 0, NULL, NULL);
	o->when = gg_wall_ms() - (int64_t)max_age_ms;
	submit(s, o);
}

int gg_store_recover(gg_store *s, size_t *n)
{
	if (s->pg)
		return gg_pgstore_recover(s->pg, n);
	/*
	 * Called before the loop runs; the writer thread may already exist but
	 * is idle, and the busy timeout covers the rare overlap.
	 */
	sqlite3 *db = s->wdb;
	sqlite3_stmt *st = NULL;
	int rc = -1;
	if (s->threaded) {
		char *err = NULL;
		sqlite3 *tmp = NULL;
		const char *file = sqlite3_db_filename(s->wdb, "main");
		if (open_db(&tmp, file, true, &err) < 0) {
			free(err);
			return -1;
		}
		db = tmp;
	}
	if (sqlite3_prepare_v2(db,
	                       "UPDATE deployments SET state='queued', started_at=NULL "
	                       "WHERE state='running'",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto done;
	if (n)
		*n = (size_t)sqlite3_changes(db);
	rc = 0;
done:
	sqlite3_finalize(st);
	if (db != s->wdb)
		sqlite3_close(db);
	return rc;
}

/* ---- Reads ---- */

#define DEP_COLUMNS                                                                                \
	"id, target, source, repo, ref, before, after, pusher, delivery, clone_url, state, "       \
	"exit_status, commit_id, reason, attempt, created_at, started_at, finished_at, "           \
	"not_before, "                                                                             \
	"client"

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? gg_strdup((const char *)t) : NULL;
}

static void read_dep(gg_deployment *d, sqlite3_stmt *st)
{
	memset(d, 0, sizeof(*d));
	d->id = sqlite3_column_int64(st, 0);
	d->target = col_text(st, 1);
	d->source = col_text(st, 2);
	d->repo = col_text(st, 3);
	d->ref = col_text(st, 4);
	d->before = col_text(st, 5);
	d->after = col_text(st, 6);
	d->pusher = col_text(st, 7);
	d->delivery = col_text(st, 8);
	d->clone_url = col_text(st, 9);
	const char *state = (const char *)sqlite3_column_text(st, 10);
	if (state == NULL || gg_dep_state_parse(&d->state, state) < 0)
		d->state = GG_DEP_FAILED;
	d->exit_status =
	    sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 11);
	d->commit = col_text(st, 12);
	d->reason = col_text(st, 13);
	d->attempt = (unsigned)sqlite3_column_int(st, 14);
	d->created_at = sqlite3_column_int64(st, 15);
	d->started_at = sqlite3_column_int64(st, 16);
	d->finished_at = sqlite3_column_int64(st, 17);
	d->not_before = sqlite3_column_int64(st, 18);
	d->client = col_text(st, 19);
}

/* Run a SELECT of DEP_COLUMNS with bound values, collecting every row. */
static int select_deps(gg_deployment **out, size_t *n, gg_store *s, const char *sql,
                       const char *fmt, ...)
{
	gg_deployment *list = NULL;
	size_t len = 0, cap = 0;
	int rc = -1, step;
	va_list ap;
	va_start(ap, fmt);
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = stmt(s->rdb, s->rcache, sql);
	if (st == NULL)
		goto done;
	for (int i = 1; fmt[i - 1]; i++) {
		if (fmt[i - 1] == 's')
			bind_text(st, i, va_arg(ap, const char *));
		else
			sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			list = gg_reallocarray(list, cap, sizeof(*list));
		}
		read_dep(&list[len++], st);
	}
	if (step != SQLITE_DONE)
		goto done;
	*out = list;
	*n = len;
	list = NULL;
	len = 0;
	rc = 0;
done:
	va_end(ap);
	gg_deployments_free(list, len);
	if (st)
		sqlite3_reset(st);
	return rc;
}

int gg_store_get(gg_deployment **out, gg_store *s, int64_t id)
{
	if (s->pg)
		return gg_pgstore_get(out, s->pg, id);
	gg_deployment *list;
	size_t n;
	*out = NULL;
	if (select_deps(&list, &n, s, "SELECT " DEP_COLUMNS " FROM deployments WHERE id=?", "i",
	                id) < 0)
		return -1;
	if (n == 0) {
		free(list);
		return GG_STORE_NOTFOUND;
	}
	*out = list; /* one element: the array is the struct */
	return 0;
}

int gg_store_list_queued(gg_deployment **out, size_t *n, gg_store *s, const char *target)
{
	if (s->pg)
		return gg_pgstore_list_queued(out, n, s->pg, target);
	if (target)
		return select_deps(out, n, s,
		                   "SELECT " DEP_COLUMNS " FROM deployments WHERE state='queued' "
		                   "AND target=? ORDER BY id",
		                   "s", target);
	return select_deps(out, n, s,
	                   "SELECT " DEP_COLUMNS " FROM deployments WHERE state='queued' "
	                   "ORDER BY id",
	                   "");
}

int gg_store_list_queued_newest(gg_deployment **out, size_t *n, gg_store *s)
{
	if (s->pg)
		return gg_pgstore_list_queued_newest(out, n, s->pg);
	/*
	 * A skip scan over the (state, target, id) index: one seek per target
	 * for the next target name and one for its newest id, so the cost
	 * follows the number of targets, not of queued rows.
	 */
	return select_deps(out, n, s,
	                   "WITH RECURSIVE t(target) AS ("
	                   " SELECT min(target) FROM deployments WHERE state='queued'"
	                   " UNION ALL SELECT (SELECT min(target) FROM deployments"
	                   "  WHERE state='queued' AND target > t.target)"
	                   " FROM t WHERE t.target IS NOT NULL) "
	                   "SELECT " DEP_COLUMNS " FROM deployments WHERE id IN "
	                   "(SELECT (SELECT max(id) FROM deployments WHERE state='queued'"
	                   "  AND target=t.target) FROM t WHERE t.target IS NOT NULL) "
	                   "ORDER BY id",
	                   "");
}

int gg_store_list(gg_deployment **out, size_t *n, gg_store *s, const char *target, size_t limit)
{
	if (s->pg)
		return gg_pgstore_list(out, n, s->pg, target, limit);
	if (target)
		return select_deps(out, n, s,
		                   "SELECT " DEP_COLUMNS " FROM deployments WHERE target=? "
		                   "ORDER BY id DESC LIMIT ?",
		                   "si", target, (int64_t)limit);
	return select_deps(out, n, s,
	                   "SELECT " DEP_COLUMNS " FROM deployments ORDER BY id DESC LIMIT ?", "i",
	                   (int64_t)limit);
}

int gg_store_last_deployed(char **commit, gg_store *s, const char *target)
{
	if (s->pg)
		return gg_pgstore_last_deployed(commit, s->pg, target);
	gg_deployment *list;
	size_t n;
	*commit = NULL;
	if (select_deps(&list, &n, s,
	                "SELECT " DEP_COLUMNS " FROM deployments WHERE target=? AND "
	                "state='succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1",
	                "s", target) < 0)
		return -1;
	if (n == 0) {
		free(list);
		return GG_STORE_NOTFOUND;
	}
	*commit = list[0].commit ? gg_strdup(list[0].commit) : gg_strdup_opt(list[0].after);
	gg_deployments_free(list, n);
	return 0;
}

int gg_store_count_by_state(gg_store *s,
                            void (*fn)(void *arg, const char *target, gg_dep_state st, uint64_t n),
                            void *arg)
{
	if (s->pg)
		return gg_pgstore_count_by_state(s->pg, fn, arg);
	int rc = -1, step;
	sqlite3_stmt *st = stmt(s->rdb, s->rcache,
	                        "SELECT target, state, count(*) FROM deployments "
	                        "GROUP BY target, state ORDER BY target, state");
	if (st == NULL)
		goto done;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		gg_dep_state ds;
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		if (t && name && gg_dep_state_parse(&ds, name) == 0)
			fn(arg, t, ds, (uint64_t)sqlite3_column_int64(st, 2));
	}
	if (step == SQLITE_DONE)
		rc = 0;
done:
	if (st)
		sqlite3_reset(st);
	return rc;
}

/* ---- The reports outbox (the tables and triggers are in report_schema) ---- */

static int run_report_op(gg_store *s, op *o, int64_t now)
{
	int c;
	switch (o->kind) {
	case OP_REPORT_INIT:
		/* A new destination starts with what happens from now on, not the past. */
		c = exec_update(
		    s,
		    "INSERT OR IGNORE INTO report_cursors(target, dest, last_event) "
		    "SELECT ?, ?, coalesce(max(id), 0) FROM report_events WHERE target=?",
		    "sss", o->target, o->rdest, o->target);
		return c < 0 ? -1 : 0;
	case OP_REPORT_RECORD:
		/* Never backwards: the cursor only moves past events. */
		c = exec_update(s,
		                "UPDATE report_cursors SET last_event=max(last_event, ?), "
		                "last_state=coalesce(?, last_state), last_at=?, last_result=?, "
		                "last_error=? WHERE target=? AND dest=?",
		                "isissss", o->id, o->rstate, now, o->rresult, o->rerror, o->target,
		                o->rdest);
		if (c < 0)
			return -1;
		return c == 0 ? GG_STORE_NOTFOUND : 0;
	case OP_REPORT_PRUNE:
		/* Events every cursor of their target is past, and whatever is too old to send. */
		c = exec_update(
		    s,
		    "DELETE FROM report_events WHERE at<? OR id<=(SELECT min(last_event) "
		    "FROM report_cursors c WHERE c.target=report_events.target)",
		    "i", o->when);
		if (c < 0)
			return -1;
		/* A remote deployment is wanted while its deployment has events left. */
		c = exec_update(s,
		                "DELETE FROM report_refs WHERE NOT EXISTS (SELECT 1 FROM "
		                "report_events e WHERE e.deployment=report_refs.deployment)",
		                "");
		return c < 0 ? -1 : 0;
	case OP_REPORT_REF:
		c = exec_update(s,
		                "INSERT OR REPLACE INTO report_refs(target, dest, deployment, "
		                "remote_id) VALUES (?,?,?,?)",
		                "ssii", o->target, o->rdest, o->id, o->when);
		return c < 0 ? -1 : 0;
	default:
		return -1;
	}
}

void gg_store_report_init(gg_store *s, const char *target, const char *dest, gg_store_cb cb,
                          void *arg)
{
	if (s->pg) {
		gg_pgstore_report_init(s->pg, target, dest, cb, arg);
		return;
	}
	op *o = simple_op(OP_REPORT_INIT, 0, cb, arg);
	o->target = gg_strdup(target);
	o->rdest = gg_strdup(dest);
	submit(s, o);
}

void gg_store_report_record(gg_store *s, const char *target, const char *dest, int64_t through,
                            const char *state, const char *result, const char *error,
                            gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_report_record(s->pg, target, dest, through, state, result, error, cb,
		                         arg);
		return;
	}
	op *o = simple_op(OP_REPORT_RECORD, through, cb, arg);
	o->target = gg_strdup(target);
	o->rdest = gg_strdup(dest);
	o->rstate = gg_strdup_opt(state);
	o->rresult = gg_strdup_opt(result);
	o->rerror = gg_strdup_opt(error);
	submit(s, o);
}

void gg_store_report_prune(gg_store *s, uint64_t max_age_ms)
{
	if (s->pg) {
		gg_pgstore_report_prune(s->pg, max_age_ms);
		return;
	}
	op *o = simple_op(OP_REPORT_PRUNE, 0, NULL, NULL);
	o->when = gg_wall_ms() - (int64_t)max_age_ms;
	submit(s, o);
}

void gg_store_report_ref_set(gg_store *s, const char *target, const char *dest, int64_t deployment,
                             int64_t remote_id, gg_store_cb cb, void *arg)
{
	if (s->pg) {
		gg_pgstore_report_ref_set(s->pg, target, dest, deployment, remote_id, cb, arg);
		return;
	}
	op *o = simple_op(OP_REPORT_REF, deployment, cb, arg);
	o->target = gg_strdup(target);
	o->rdest = gg_strdup(dest);
	o->when = remote_id;
	submit(s, o);
}

int gg_store_report_ref(int64_t *remote_id, gg_store *s, const char *target, const char *dest,
                        int64_t deployment)
{
	if (s->pg)
		return gg_pgstore_report_ref(remote_id, s->pg, target, dest, deployment);
	int rc = -1, step;
	*remote_id = 0;
	sqlite3_stmt *st = stmt(s->rdb, s->rcache,
	                        "SELECT remote_id FROM report_refs WHERE target=? AND dest=? AND "
	                        "deployment=?");
	if (st == NULL)
		return -1;
	bind_text(st, 1, target);
	bind_text(st, 2, dest);
	sqlite3_bind_int64(st, 3, deployment);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*remote_id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = GG_STORE_NOTFOUND;
	}
	sqlite3_reset(st);
	return rc;
}

int gg_store_report_next(gg_report_event *out, gg_store *s, const char *target, const char *dest)
{
	if (s->pg)
		return gg_pgstore_report_next(out, s->pg, target, dest);
	int rc = -1, step;
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = stmt(s->rdb, s->rcache,
	                        "SELECT e.id, e.deployment, e.state, e.at FROM report_events e, "
	                        "report_cursors c WHERE c.target=? AND c.dest=? AND "
	                        "e.target=c.target AND e.id>c.last_event ORDER BY e.id LIMIT 1");
	if (st == NULL)
		return -1;
	bind_text(st, 1, target);
	bind_text(st, 2, dest);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->id = sqlite3_column_int64(st, 0);
		out->deployment = sqlite3_column_int64(st, 1);
		const char *state = (const char *)sqlite3_column_text(st, 2);
		if (state == NULL || gg_dep_state_parse(&out->state, state) < 0)
			out->state = GG_DEP_FAILED;
		out->at = sqlite3_column_int64(st, 3);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = GG_STORE_NOTFOUND;
	}
	sqlite3_reset(st);
	return rc;
}

void gg_report_statuses_free(gg_report_status *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++) {
		free(list[i].dest);
		free(list[i].state);
		free(list[i].result);
		free(list[i].error);
	}
	free(list);
}

int gg_store_report_status(gg_report_status **out, size_t *n, gg_store *s, const char *target)
{
	if (s->pg)
		return gg_pgstore_report_status(out, n, s->pg, target);
	gg_report_status *list = NULL;
	size_t len = 0, cap = 0;
	int rc = -1, step;
	*out = NULL;
	*n = 0;
	sqlite3_stmt *st = stmt(s->rdb, s->rcache,
	                        "SELECT dest, last_state, last_at, last_result, last_error, "
	                        "(SELECT count(*) FROM report_events e WHERE e.target=c.target AND "
	                        "e.id>c.last_event) FROM report_cursors c WHERE target=? "
	                        "ORDER BY dest");
	if (st == NULL)
		return -1;
	bind_text(st, 1, target);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4;
			list = gg_reallocarray(list, cap, sizeof(*list));
		}
		gg_report_status *r = &list[len++];
		r->dest = col_text(st, 0);
		r->state = col_text(st, 1);
		r->at = sqlite3_column_int64(st, 2);
		r->result = col_text(st, 3);
		r->error = col_text(st, 4);
		r->pending = (uint64_t)sqlite3_column_int64(st, 5);
	}
	if (step != SQLITE_DONE)
		goto done;
	*out = list;
	*n = len;
	list = NULL;
	len = 0;
	rc = 0;
done:
	gg_report_statuses_free(list, len);
	sqlite3_reset(st);
	return rc;
}
