/*
 * The reports outbox on the PostgreSQL store (store.c and store_pg.c only):
 * see store_pg_report.c. Each function does what its gg_store_report_
 * namesake in store.h does.
 */
#ifndef GITGATED_STORE_PG_REPORT_H
#define GITGATED_STORE_PG_REPORT_H

#include "store.h"
#include "store_pg.h"

#include "pq.h"

typedef enum {
	GG_PGREPORT_INIT,
	GG_PGREPORT_RECORD,
	GG_PGREPORT_PRUNE,
	GG_PGREPORT_REF,
} gg_pgreport_kind;

/* A write to the outbox, queued to the store's writer; strings owned. */
typedef struct {
	gg_pgreport_kind kind;
	char *target, *dest, *state, *result, *error;
	int64_t id;   /* RECORD: the cursor's new event; REF: the deployment */
	int64_t when; /* PRUNE: events older than this go; REF: the remote id */
} gg_pgreport_req;

/* Run r on c inside the writer's transaction: 0, GG_STORE_NOTFOUND or -1. */
int gg_pgreport_run(PGconn *c, const gg_pgreport_req *r, int64_t now);
void gg_pgreport_req_free(gg_pgreport_req *r);

/* Queue r (now the store's) to the writer; cb gets gg_pgreport_run's answer. (store_pg.c) */
void gg_pgstore_report(gg_pgstore *p, gg_pgreport_req *r, gg_store_cb cb, void *arg);
/* The store's read connection, locked; NULL when it is broken. (store_pg.c) */
PGconn *gg_pgstore_reader(gg_pgstore *p);
/* Unlock it after a read. (store_pg.c) */
void gg_pgstore_reader_done(gg_pgstore *p);

void gg_pgstore_report_init(gg_pgstore *p, const char *target, const char *dest, gg_store_cb cb,
                            void *arg);
void gg_pgstore_report_record(gg_pgstore *p, const char *target, const char *dest, int64_t through,
                              const char *state, const char *result, const char *error,
                              gg_store_cb cb, void *arg);
void gg_pgstore_report_ref_set(gg_pgstore *p, const char *target, const char *dest,
                               int64_t deployment, int64_t remote_id, gg_store_cb cb, void *arg);
void gg_pgstore_report_prune(gg_pgstore *p, uint64_t max_age_ms);
int gg_pgstore_report_ref(int64_t *remote_id, gg_pgstore *p, const char *target, const char *dest,
                          int64_t deployment);
int gg_pgstore_report_next(gg_report_event *out, gg_pgstore *p, const char *target,
                           const char *dest);
int gg_pgstore_report_status(gg_report_status **out, size_t *n, gg_pgstore *p, const char *target);

#endif
