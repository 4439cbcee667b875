/*
 * The PostgreSQL connection and schema layer of the store (store_pg*.c
 * only): see store_pg_db.c.
 */
#ifndef GITGATED_STORE_PG_DB_H
#define GITGATED_STORE_PG_DB_H

#include "pq.h"

#include <stdbool.h>
#include <stdint.h>

/* The schema this gitgated writes; a database at a higher version is refused. */
#define GG_PGDB_SCHEMA_VERSION 4

/*
 * The write lock (a transaction advisory lock, "ggre"), taken by every
 * write transaction of the store before anything else. A batch made only
 * of deliveries (store_pg.c, run_pipelined) takes it shared: deliveries
 * insert and lock no existing row, so replicas' batches run and commit side
 * by side (their report events commit out of id order; readers take them
 * in commit order, schema 4). Everything else takes it exclusive, so the
 * queue's changes (claims, finishes, takeovers, pauses) happen one after
 * the other, with no delivery in flight: a claim sees every deployment
 * whose id was drawn before it (a delivery that drew id 9 cannot commit
 * after a claim ran id 10), judges the replay rule again on that (the
 * delivery's own judgement could not see the others in flight), sees
 * nothing change between its statements, and two replicas' claims never
 * lock rows in opposite orders (a deadlock PostgreSQL breaks only after
 * deadlock_timeout, 1 s, failing one of them). Taken first, before any row
 * lock, it adds no deadlock of its own; two delivery batches carrying the
 * same two delivery ids in opposite orders can still wait on each other's
 * rows, a deadlock PostgreSQL breaks after that second, and the batch it
 * failed runs again the slow way (run_batch), nothing lost.
 */
#define GG_PGDB_WRITE_LOCK_KEYS   "1734832741, 0"
#define GG_PGDB_WRITE_LOCK        "SELECT pg_advisory_xact_lock(" GG_PGDB_WRITE_LOCK_KEYS ")"
#define GG_PGDB_WRITE_LOCK_SHARED "SELECT pg_advisory_xact_lock_shared(" GG_PGDB_WRITE_LOCK_KEYS ")"

typedef enum {
	GG_PGDB_SCHEMA_MISSING, /* no gitgated tables yet */
	GG_PGDB_SCHEMA_OLDER,
	GG_PGDB_SCHEMA_CURRENT,
	GG_PGDB_SCHEMA_NEWER,
} gg_pgdb_schema;

/* The password conninfo names, to mask in messages; NULL when none. Owned by the caller. */
char *gg_pgdb_password(const char *conninfo);
/* "what: msg" as one line (allocated), with password masked wherever it appears. */
char *gg_pgdb_message(const char *password, const char *what, const char *msg);
/*
 * Connect (blocking) with the daemon's defaults (connect_timeout, keepalives),
 * which conninfo overrides. NULL with *err (allocated, password masked).
 */
PGconn *gg_pgdb_connect(const char *conninfo, const char *password, char **err);
/* Whether r is a successful command or query result. */
bool gg_pgdb_ok(PGresult *r);
/* Rows an INSERT/UPDATE/DELETE result r changed, -1 when it failed; r is cleared. */
int gg_pgdb_changed(PGresult *r);
/*
 * Run sql (a string literal: prepared once per connection by its address)
 * with bound values ('s' text or NULL, 'i' int64_t); the result is the
 * caller's. On a non-blocking connection the wait is bounded and NULL
 * means it timed out (the connection is then mid-query: reopen it).
 */
PGresult *gg_pgdb_exec(PGconn *c, const char *sql, const char *fmt, ...);
/* Prepare sql (a string literal, as for gg_pgdb_exec) on c unless it is: 0 or -1. */
int gg_pgdb_prepare(PGconn *c, const char *sql, int nparams);
/*
 * In pipeline mode: queue sql, prepared before the pipeline began
 * (gg_pgdb_prepare), with bound values as gg_pgdb_exec takes them; 0 or -1.
 */
int gg_pgdb_send(PGconn *c, const char *sql, const char *fmt, ...);
/* Run sql (unprepared, may hold several statements) without results: 0 or -1. */
int gg_pgdb_exec0(PGconn *c, const char *sql);
/* An integer column (0 when NULL). */
int64_t gg_pgdb_i64(PGresult *r, int row, int col);
/* A text column as an allocated copy the caller frees; NULL when NULL. */
char *gg_pgdb_text(PGresult *r, int row, int col);
/*
 * Look at the schema and, when migrate, bring it to GG_PGDB_SCHEMA_VERSION
 * under the migration lock; refuse a newer one or a read-only database
 * (nothing changed). *state and *found say what was there.
 */
int gg_pgdb_schema_prepare(PGconn *c, const char *password, bool migrate, gg_pgdb_schema *state,
                           int *found, char **err);
/*
 * Name this daemon in the replicas table and hold that name's session lock
 * on c; -1 with *err when a live daemon already runs under the name.
 */
int gg_pgdb_lock_replica(PGconn *c, const char *password, const char *name, int64_t now,
                         char **err);

#endif
