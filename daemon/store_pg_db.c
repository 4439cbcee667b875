/*
 * Talking to PostgreSQL for the store (store_pg.c): connecting with the
 * daemon's defaults, keeping the password out of every message, running
 * statements prepared once per connection (and, on a read connection,
 * bounded in time), and the schema: created and migrated under an
 * advisory lock, refused when newer. The replica-name lock lives here too.
 *
 * The connection string is a secret: libpq's messages about a string it
 * cannot parse may quote it, so those are never passed on, and every other
 * message has the password, should it appear, masked.
 */
#include "store_pg_db.h"
#include "store.h"

#include "log.h"

#include "gitgate/util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* The advisory lock that serializes migrations across daemons ("gitgated"). */
#define PG_MIGRATION_LOCK 0x67697467617465LL

/*
 * The class of the replica locks (two-key advisory locks: this, and the
 * replica's lock_key). A replica's write connection holds its lock for as
 * long as it lives, so that a second daemon under the same name is refused
 * while the first is alive, and admitted as soon as its connection is gone
 * (a crash closes it; the server drops the lock at once).
 */
#define PG_REPLICA_LOCK_CLASS 0x67677270 /* "ggrp" */

/*
 * The longest a read (on the caller's thread: the event loop) waits for the
 * server; then it fails and the read connection is reopened. A server that
 * went silent (a cut network) stalls the loop this long at most, once.
 */
#define PG_READ_TIMEOUT_MS 2000

/* Distinct SQL texts the store runs; each connection prepares them once. */
#define PG_STMT_CACHE 32

/* Bound parameters of one statement. */
#define PG_MAX_PARAMS 16

/* ---- Connecting ---- */

/* The password conninfo names, to mask in messages; NULL when none (or unparsable). */
char *gg_pgdb_password(const char *conninfo)
{
	char *msg = NULL;
	char *pw = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	PQfreemem(msg);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			pw = gg_strdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/* libpq's message as one line, with the password masked wherever it appears. */
char *gg_pgdb_message(const char *password, const char *what, const char *msg)
{
	char *line = gg_printf("%s: %s", what, msg && *msg ? msg : "unknown error");
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	size_t n = strlen(line);
	while (n && line[n - 1] == ' ')
		line[--n] = '\0';
	if (password && *password) {
		size_t pl = strlen(password);
		for (char *hit; (hit = strstr(line, password)) != NULL;) {
			memset(hit, '*', pl);
		}
	}
	return line;
}

bool gg_store_conninfo_valid(const char *conninfo, char **why)
{
	if (!gg_pq_load(why))
		return false;
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
	/* msg may quote the string, password and all: it is dropped unread. */
	PQfreemem(msg);
	PQconninfoFree(opts);
	if (opts == NULL && why)
		*why = gg_strdup("not a libpq connection string or URI");
	return opts != NULL;
}

/*
 * Statements prepared on a connection, by SQL text (string literals,
 * compared by address): planning the store's queries anew for each run
 * cost more than running them. Kept as the connection's instance data,
 * freed with it.
 */
typedef struct {
	const char *sql[PG_STMT_CACHE];
	int n;
} stmt_cache;

static int stmt_cache_event(PGEventId id, void *info, void *pass);

static void ignore_notice(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

/*
 * Connect, blocking (the worker's thread, or before the loop runs). The
 * defaults come first so that the user's string overrides them.
 */
PGconn *gg_pgdb_connect(const char *conninfo, const char *password, char **err)
{
	static const char *const keys[] = {
	    "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
	const char *vals[] = {"5", "gitgated", "10", "5", "3", "10000", conninfo, NULL};
	if (!gg_pq_load(err))
		return NULL;
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		*err = gg_strdup("cannot connect to PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		*err = gg_pgdb_message(password, "cannot connect to PostgreSQL", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	if (!PQregisterEventProc(c, stmt_cache_event, "gitgated statements", NULL) ||
	    !PQsetInstanceData(c, stmt_cache_event, gg_calloc(1, sizeof(stmt_cache))))
		gg_log(GG_LOG_WARN, "store: statements will not be prepared", NULL);
	/* Keep the server's notices (e.g. "terminating connection") off stderr. */
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

bool gg_pgdb_ok(PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/*
 * A query on a bounded connection (the read connection, set non-blocking
 * for this): sent, then waited for at most PG_READ_TIMEOUT_MS. NULL when
 * it failed to go out or the server did not answer in time; the
 * connection is then in the middle of a query, and is reopened.
 */
static PGresult *bounded_wait(PGconn *c);

static int stmt_cache_event(PGEventId id, void *info, void *pass)
{
	(void)pass;
	if (id == PGEVT_CONNDESTROY) {
		PGEventConnDestroy *e = info;
		free(PQinstanceData(e->conn, stmt_cache_event));
	}
	return 1;
}

/*
 * The name sql is prepared under on c (preparing it now when it is not
 * yet); NULL when it cannot be (the query then runs unprepared).
 */
static const char *prepared(PGconn *c, const char *sql, int n, char *name, size_t len)
{
	stmt_cache *sc = PQinstanceData(c, stmt_cache_event);
	if (sc == NULL)
		return NULL;
	int k = 0;
	while (k < sc->n && sc->sql[k] != sql)
		k++;
	snprintf(name, len, "gg%d", k);
	if (k < sc->n)
		return name;
	if (k == PG_STMT_CACHE)
		return NULL;
	PGresult *r;
	if (PQisnonblocking(c))
		r = PQsendPrepare(c, name, sql, n, NULL) ? bounded_wait(c) : NULL;
	else
		r = PQprepare(c, name, sql, n, NULL);
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return NULL;
	sc->sql[sc->n++] = sql;
	return name;
}

static PGresult *bounded_exec(PGconn *c, const char *sql, int n, const char *const *vals)
{
	char buf[16];
	const char *name = prepared(c, sql, n, buf, sizeof(buf));
	if (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)
		return NULL; /* the prepare timed out */
	if (!(name ? PQsendQueryPrepared(c, name, n, vals, NULL, NULL, 0)
	           : PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0)))
		return NULL;
	return bounded_wait(c);
}

/* The result of the query just sent, waiting at most PG_READ_TIMEOUT_MS. */
static PGresult *bounded_wait(PGconn *c)
{
	int64_t deadline = gg_wall_ms() + PG_READ_TIMEOUT_MS;
	PGresult *last = NULL;
	for (;;) {
		int f = PQflush(c);
		if (f < 0)
			break;
		if (!PQconsumeInput(c))
			break;
		while (f == 0 && !PQisBusy(c)) {
			PGresult *r = PQgetResult(c);
			if (r == NULL)
				return last;
			PQclear(last);
			last = r;
		}
		int64_t left = deadline - gg_wall_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {PQsocket(c), (short)(POLLIN | (f == 1 ? POLLOUT : 0)), 0};
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	PQclear(last);
	return NULL;
}

/*
 * The values of fmt ('s' text or NULL, 'i' int64_t) from ap into vals, the
 * numbers as text in nums; how many (at most PG_MAX_PARAMS).
 */
static int bind(const char **vals, char (*nums)[24], const char *fmt, va_list ap)
{
	int n = 0;
	for (; fmt[n] && n < PG_MAX_PARAMS; n++) {
		if (fmt[n] == 's') {
			vals[n] = va_arg(ap, const char *);
		} else {
			snprintf(nums[n], 24, "%lld", (long long)va_arg(ap, int64_t));
			vals[n] = nums[n];
		}
	}
	return n;
}

/* Rows an INSERT/UPDATE/DELETE result r changed, -1 when it failed; r is cleared. */
int gg_pgdb_changed(PGresult *r)
{
	int n = gg_pgdb_ok(r) ? atoi(PQcmdTuples(r)) : -1;
	PQclear(r);
	return n;
}

/* Run sql with bound values ('s' text or NULL, 'i' int64_t); the result is the caller's. */
PGresult *gg_pgdb_exec(PGconn *c, const char *sql, const char *fmt, ...)
{
	const char *vals[PG_MAX_PARAMS];
	char nums[PG_MAX_PARAMS][24];
	va_list ap;
	va_start(ap, fmt);
	int n = bind(vals, nums, fmt, ap);
	va_end(ap);
	if (PQisnonblocking(c))
		return bounded_exec(c, sql, n, vals);
	char buf[16];
	const char *name = prepared(c, sql, n, buf, sizeof(buf));
	if (name)
		return PQexecPrepared(c, name, n, vals, NULL, NULL, 0);
	return PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
}

int gg_pgdb_prepare(PGconn *c, const char *sql, int nparams)
{
	char buf[16];
	return prepared(c, sql, nparams, buf, sizeof(buf)) ? 0 : -1;
}

int gg_pgdb_send(PGconn *c, const char *sql, const char *fmt, ...)
{
	stmt_cache *sc = PQinstanceData(c, stmt_cache_event);
	int k = 0;
	while (sc && k < sc->n && sc->sql[k] != sql)
		k++;
	if (sc == NULL || k == sc->n)
		return -1; /* not prepared: preparing would end the pipeline */
	char name[16];
	snprintf(name, sizeof(name), "gg%d", k);
	const char *vals[PG_MAX_PARAMS];
	char nums[PG_MAX_PARAMS][24];
	va_list ap;
	va_start(ap, fmt);
	int n = bind(vals, nums, fmt, ap);
	va_end(ap);
	return PQsendQueryPrepared(c, name, n, vals, NULL, NULL, 0) ? 0 : -1;
}

/* Run sql without results; 0 or -1. */
int gg_pgdb_exec0(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int rc = gg_pgdb_ok(r) ? 0 : -1;
	PQclear(r);
	return rc;
}

int64_t gg_pgdb_i64(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

char *gg_pgdb_text(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : gg_strdup(PQgetvalue(r, row, col));
}

/* ---- The schema ---- */

/*
 * The report trigger's function (migrations 2 and 4) after its DECLARE and
 * BEGIN: a deployment inserted refused was queued, then refused, as the
 * SQLite store records it: two events.
 */
#define REPORT_EVENT_INSERTS                                                                       \
	"  IF TG_OP = 'INSERT' AND NEW.state = 'refused' THEN"                                     \
	"   INSERT INTO report_events(deployment, target, state, at)"                              \
	"    VALUES (NEW.id, NEW.target, 'queued', now);"                                          \
	"  END IF;"                                                                                \
	"  INSERT INTO report_events(deployment, target, state, at)"                               \
	"   VALUES (NEW.id, NEW.target, NEW.state, now);"                                          \
	"  RETURN NULL;"                                                                           \
	" END $$;"

/*
 * Migrations, each taking the schema from version i to i + 1; run in order
 * inside one transaction under the migration lock. Never edit one that has
 * shipped: add the next.
 */
static const char *const migrations[GG_PGDB_SCHEMA_VERSION] = {
    /* 1: deliveries, deployments and pauses, as the SQLite store keeps them. */
    "CREATE TABLE deliveries("
    " source text NOT NULL, id text NOT NULL, event text, received_at bigint NOT NULL,"
    " PRIMARY KEY(source, id));"
    "CREATE INDEX deliveries_time ON deliveries(received_at);"
    "CREATE TABLE deployments("
    " id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, target text NOT NULL,"
    " source text, repo text, ref text, before text, after text, pusher text,"
    " delivery text, clone_url text, client text, state text NOT NULL,"
    " exit_status integer, commit_id text, reason text,"
    " attempt integer NOT NULL DEFAULT 0, created_at bigint NOT NULL, started_at bigint,"
    " finished_at bigint, not_before bigint NOT NULL DEFAULT 0);"
    "CREATE INDEX deployments_target ON deployments(target, id);"
    "CREATE INDEX deployments_live_after ON deployments(target, after)"
    " WHERE state<>'refused';"
    "CREATE INDEX deployments_live ON deployments(target, id) WHERE state<>'refused';"
    "CREATE INDEX deployments_state_target ON deployments(state, target, id);"
    "CREATE TABLE pauses(target text PRIMARY KEY, since bigint NOT NULL, paused_by text);",
    /*
     * 2: the reports outbox, as the SQLite store keeps it: an event per
     * state a deployment enters, written by a trigger in the transaction
     * that changes the state; a cursor per report destination; what a
     * destination made of a deployment on its side.
     */
    "CREATE TABLE report_events("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, deployment bigint NOT NULL,"
    " target text NOT NULL, state text NOT NULL, at bigint NOT NULL);"
    "CREATE INDEX report_events_target ON report_events(target, id);"
    "CREATE INDEX report_events_deployment ON report_events(deployment);"
    "CREATE TABLE report_cursors("
    " target text NOT NULL, dest text NOT NULL, last_event bigint NOT NULL,"
    " last_state text, last_at bigint, last_result text, last_error text,"
    " PRIMARY KEY(target, dest));"
    "CREATE TABLE report_refs("
    " target text NOT NULL, dest text NOT NULL, deployment bigint NOT NULL,"
    " remote_id bigint NOT NULL, PRIMARY KEY(target, dest, deployment));"
    /*
     * A delivery judged a replay is inserted refused in one statement; it
     * was queued, then refused, as the SQLite store records it: two events.
     * Replicas write events at the same time, and a destination's cursor
     * is an event id: the lock (held to the commit) makes events commit in
     * the order of their ids, so a cursor never passes one committed late.
     */
    "CREATE FUNCTION gitgated_report_event() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE now bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;"
    " BEGIN"
    "  PERFORM pg_advisory_xact_lock(" GG_PGDB_WRITE_LOCK_KEYS ");" REPORT_EVENT_INSERTS
    "CREATE TRIGGER report_on_insert AFTER INSERT ON deployments"
    " FOR EACH ROW EXECUTE FUNCTION gitgated_report_event();"
    "CREATE TRIGGER report_on_state AFTER UPDATE OF state ON deployments"
    " FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state)"
    " EXECUTE FUNCTION gitgated_report_event();",
    /*
     * 3: replicas sharing the database. Each names itself in `replicas`
     * (its lock_key keys its advisory lock); a running deployment records
     * its replica and the lease that replica renews; at most one
     * deployment per target runs anywhere, whatever the daemons believe.
     */
    "CREATE TABLE replicas(name text PRIMARY KEY,"
    " lock_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,"
    " started_at bigint NOT NULL, heartbeat_at bigint NOT NULL);"
    "ALTER TABLE deployments ADD COLUMN replica text, ADD COLUMN lease_until bigint;"
    "CREATE UNIQUE INDEX deployments_one_running ON deployments(target)"
    " WHERE state='running';",
    /*
     * 4: report events in commit order without the write lock. An event
     * keeps the id of the transaction that wrote it; a cursor is the last
     * (xid, id) done with, and readers take only events of transactions
     * older than every one still running (store_pg_report.c): those have
     * all committed or rolled back, and any later event has a higher xid.
     * Events and cursors from before keep xid 0, so their order stays.
     */
    "ALTER TABLE report_events ADD COLUMN xid xid8 NOT NULL DEFAULT '0';"
    "ALTER TABLE report_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();"
    "CREATE INDEX report_events_commit ON report_events(target, xid, id);"
    "DROP INDEX report_events_target;"
    "ALTER TABLE report_cursors ADD COLUMN last_xid xid8 NOT NULL DEFAULT '0';"
    "CREATE OR REPLACE FUNCTION gitgated_report_event() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE now bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;"
    " BEGIN" REPORT_EVENT_INSERTS,
};

/*
 * Inside a transaction holding the migration lock: the schema's version
 * (0 when none) in *version. -1 on a database error.
 */
static int schema_version(PGconn *c, int *version)
{
	*version = 0;
	PGresult *r = PQexec(c, "SELECT to_regclass('gitgated_schema') IS NOT NULL");
	if (!gg_pgdb_ok(r) || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists)
		return 0;
	r = PQexec(c, "SELECT coalesce(max(version), 0) FROM gitgated_schema");
	if (!gg_pgdb_ok(r) || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	*version = (int)gg_pgdb_i64(r, 0, 0);
	PQclear(r);
	return 0;
}

static bool read_only(PGconn *c)
{
	PGresult *r = PQexec(c, "SHOW transaction_read_only");
	bool ro = gg_pgdb_ok(r) && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "on") == 0;
	PQclear(r);
	return ro;
}

/*
 * Look at the schema and, when migrate, bring it to GG_PGDB_SCHEMA_VERSION: all
 * in one transaction under an advisory lock, so that daemons starting at
 * the same moment migrate once (the others wait, then find it current). A
 * newer schema is refused and nothing is changed. *state says what was
 * found; *err (allocated) why it failed.
 */
int gg_pgdb_schema_prepare(PGconn *c, const char *password, bool migrate, gg_pgdb_schema *state,
                           int *found, char **err)
{
	int rc = -1;
	*found = 0;
	if (read_only(c)) {
		*err = gg_strdup("the database is read-only (a standby, or "
		                 "default_transaction_read_only is on): gitgated needs to write");
		return -1;
	}
	if (gg_pgdb_exec0(c, "BEGIN") < 0)
		goto fail;
	PGresult *r =
	    gg_pgdb_exec(c, "SELECT pg_advisory_xact_lock($1)", "i", (int64_t)PG_MIGRATION_LOCK);
	bool locked = gg_pgdb_ok(r);
	PQclear(r);
	if (!locked || schema_version(c, found) < 0)
		goto fail;
	if (*found > GG_PGDB_SCHEMA_VERSION) {
		*state = GG_PGDB_SCHEMA_NEWER;
		*err = gg_printf("the database's schema is version %d, newer than this gitgated's "
		                 "(%d): upgrade gitgated; nothing was changed",
		                 *found, GG_PGDB_SCHEMA_VERSION);
		gg_pgdb_exec0(c, "ROLLBACK");
		return -1;
	}
	*state = *found == GG_PGDB_SCHEMA_VERSION ? GG_PGDB_SCHEMA_CURRENT
	         : *found == 0                    ? GG_PGDB_SCHEMA_MISSING
	                                          : GG_PGDB_SCHEMA_OLDER;
	if (*state == GG_PGDB_SCHEMA_CURRENT || !migrate) {
		gg_pgdb_exec0(c, "ROLLBACK");
		return 0;
	}
	if (*found == 0 &&
	    gg_pgdb_exec0(c, "CREATE TABLE gitgated_schema(version integer NOT NULL, "
	                     "migrated_at bigint NOT NULL)") < 0)
		goto fail;
	for (int v = *found; v < GG_PGDB_SCHEMA_VERSION; v++)
		if (gg_pgdb_exec0(c, migrations[v]) < 0)
			goto fail;
	r = gg_pgdb_exec(c, "INSERT INTO gitgated_schema(version, migrated_at) VALUES ($1, $2)",
	                 "ii", (int64_t)GG_PGDB_SCHEMA_VERSION, gg_wall_ms());
	bool inserted = gg_pgdb_ok(r);
	PQclear(r);
	if (!inserted || gg_pgdb_exec0(c, "COMMIT") < 0)
		goto fail;
	if (*found)
		gg_log(GG_LOG_INFO, "store: schema migrated", NULL);
	return 0;
fail:
	*err = gg_pgdb_message(password, "preparing the schema", PQerrorMessage(c));
	gg_pgdb_exec0(c, "ROLLBACK");
	return rc;
}

/*
 * Name this daemon `name` in the replicas table and take that name's
 * session lock on c (it goes with the connection). -1 with *err when a
 * live daemon holds the name.
 */
int gg_pgdb_lock_replica(PGconn *c, const char *password, const char *name, int64_t now, char **err)
{
	int rc = -1;
	PGresult *r = gg_pgdb_exec(c,
	                           "INSERT INTO replicas(name, started_at, heartbeat_at) "
	                           "VALUES ($1,$2,$2) ON CONFLICT (name) DO NOTHING",
	                           "si", name, now);
	bool ok = gg_pgdb_ok(r);
	PQclear(r);
	r = NULL;
	if (!ok)
		goto fail;
	r = gg_pgdb_exec(c,
	                 "SELECT pg_try_advisory_lock($1::int, lock_key) FROM replicas "
	                 "WHERE name=$2",
	                 "is", (int64_t)PG_REPLICA_LOCK_CLASS, name);
	if (!gg_pgdb_ok(r) || PQntuples(r) != 1)
		goto fail;
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		*err =
		    gg_printf("replica '%s' is already running on this database (a live daemon "
		              "under that name, or this one's previous connection the server has "
		              "not closed yet): give each gitgated its own replica: name",
		              name);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	r = gg_pgdb_exec(c, "UPDATE replicas SET started_at=$1, heartbeat_at=$1 WHERE name=$2",
	                 "is", now, name);
	if (gg_pgdb_ok(r))
		rc = 0;
fail:
	if (rc < 0 && *err == NULL)
		*err = gg_pgdb_message(password, "naming the replica", PQerrorMessage(c));
	PQclear(r);
	return rc;
}

int gg_store_check_postgres(const char *conninfo, char **msg)
{
	char *password = gg_pgdb_password(conninfo);
	char *err = NULL;
	gg_pgdb_schema state;
	int found, rc = -1;
	*msg = NULL;
	PGconn *c = gg_pgdb_connect(conninfo, password, &err);
	if (c == NULL) {
		*msg = err;
		goto done;
	}
	if (gg_pgdb_schema_prepare(c, password, false, &state, &found, &err) < 0) {
		*msg = err;
		goto done;
	}
	switch (state) {
	case GG_PGDB_SCHEMA_CURRENT:
		*msg = gg_printf("schema current (version %d)", found);
		break;
	case GG_PGDB_SCHEMA_MISSING:
		*msg = gg_printf("no schema yet: gitgated creates it (version %d) when it starts",
		                 GG_PGDB_SCHEMA_VERSION);
		break;
	default:
		*msg = gg_printf("schema version %d: gitgated migrates it to version %d when it "
		                 "starts",
		                 found, GG_PGDB_SCHEMA_VERSION);
		break;
	}
	rc = 0;
done:
	PQfinish(c);
	free(password);
	return rc;
}
