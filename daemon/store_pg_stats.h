/*
 * Keeping the planner's picture of the store's tables true while they grow
 * (store_pg.c only): see store_pg_stats.c.
 */
#ifndef GITGATED_STORE_PG_STATS_H
#define GITGATED_STORE_PG_STATS_H

#include "pq.h"

#include <stdint.h>

typedef struct {
	uint64_t grown; /* rows the store inserted since the tables were last analyzed */
	uint64_t next;  /* analyze again when grown reaches this */
} gg_pgstats;

/* On a new write connection: learn how large the tables were when last analyzed. */
void gg_pgstats_start(gg_pgstats *s, PGconn *c);
/*
 * After a commit that inserted rows (outside a transaction): analyze the
 * store's tables when they have doubled since they last were.
 */
void gg_pgstats_grew(gg_pgstats *s, PGconn *c, uint64_t rows);

#endif
