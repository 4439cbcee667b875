/*
 * The store's statements are prepared once per connection and run on
 * generic plans, which PostgreSQL builds from the tables' statistics and
 * keeps until the statistics change. A new database has none: its tables
 * are planned as empty, and a lookup that an index answers in three page
 * reads is planned as a sequential scan and a sort. Autovacuum analyzes a
 * table only at its next round (a minute by default) and after a tenth of
 * it changed, so a store that takes a burst of deliveries on a young
 * table scans every row it holds for every delivery, slower with each one
 * (measured: 0.78 ms per delivery after 5,000 of them, 333 buffers read
 * each). So the store analyzes its tables itself whenever they doubled
 * since they last were: a few times while they are young, then seldom;
 * the analyze invalidates the cached plans, which are rebuilt on the next
 * run from the new figures.
 */
#include "store_pg_stats.h"

#include "store_pg_db.h"

/*
 * Rows inserted before the first analyze of a store that has no
 * statistics yet: below this a scan costs as little as an index lookup.
 */
#define PG_ANALYZE_FIRST 256

/* Statistics target of the store's own analyze: a sample of 300 times this many rows. */
#define PG_ANALYZE_TARGET "10"

void gg_pgstats_start(gg_pgstats *s, PGconn *c)
{
	s->grown = 0;
	s->next = PG_ANALYZE_FIRST;
	/* reltuples is -1 for a table never analyzed. */
	PGresult *r = gg_pgdb_exec(c,
	                           "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
	                           "WHERE oid = 'deployments'::regclass",
	                           "");
	if (gg_pgdb_ok(r) && PQntuples(r) == 1) {
		uint64_t rows = (uint64_t)gg_pgdb_i64(r, 0, 0);
		if (rows > s->next)
			s->next = rows;
	}
	PQclear(r);
}

void gg_pgstats_grew(gg_pgstats *s, PGconn *c, uint64_t rows)
{
	s->grown += rows;
	if (s->grown < s->next)
		return;
	/*
	 * Deployments and the report events that follow them: the lookups of
	 * deliveries are by key, one plan whatever the size. A small sample (PG_ANALYZE_TARGET) is
	 * enough to tell an index from a scan and keeps the writer's pause short; autovacuum's own
	 * analyze later replaces these figures with finer ones. SKIP_LOCKED: a table that
	 * autovacuum (or another daemon) is working on is left to it rather than waited for.
	 */
	gg_pgdb_exec0(c, "BEGIN; SET LOCAL default_statistics_target = " PG_ANALYZE_TARGET
	                 "; ANALYZE (SKIP_LOCKED) deployments, report_events; COMMIT");
	/* Failed or not, the next try waits for the next doubling. */
	s->next += s->grown;
	s->grown = 0;
}
