/*
 * The PostgreSQL backend of the store (store.h), for store.c only: every
 * function here does what its gg_store_ namesake does, on a database that
 * conninfo names instead of a file under state_dir. store.c chooses the
 * backend once, at open; no other module sees which one it has.
 */
#ifndef GITGATED_STORE_PG_H
#define GITGATED_STORE_PG_H

#include "store.h"

typedef struct gg_pgstore gg_pgstore;

int gg_pgstore_open(gg_pgstore **out, struct event_base *base, const char *conninfo,
                    const char *replica, uint64_t lease_ms, char **err);
void gg_pgstore_close(gg_pgstore *p);
void gg_pgstore_flush(gg_pgstore *p);
bool gg_pgstore_healthy(gg_pgstore *p, const char **reason);
size_t gg_pgstore_pending(const gg_pgstore *p);
void gg_pgstore_commit_stats(const gg_pgstore *p, uint64_t *commits, uint64_t *writes);

void gg_pgstore_accept(gg_pgstore *p, const char *source, const char *delivery, const char *event,
                       const gg_store_newdep *deps, size_t ndeps, gg_store_accept_cb cb, void *arg);
void gg_pgstore_insert(gg_pgstore *p, const gg_deployment *d, gg_store_cb cb, void *arg);
void gg_pgstore_claim(gg_pgstore *p, int64_t id, bool allow_rollback, gg_store_cb cb, void *arg);
void gg_pgstore_finish(gg_pgstore *p, int64_t id, gg_dep_state state, int exit_status,
                       const char *commit, const char *reason, gg_store_cb cb, void *arg);
void gg_pgstore_supersede(gg_pgstore *p, const char *target, int64_t newer_than, gg_store_cb cb,
                          void *arg);
void gg_pgstore_requeue(gg_pgstore *p, int64_t id, int64_t not_before, gg_store_cb cb, void *arg);
int gg_pgstore_recover(gg_pgstore *p, size_t *n);

int gg_pgstore_get(gg_deployment **out, gg_pgstore *p, int64_t id);
int gg_pgstore_list_queued(gg_deployment **out, size_t *n, gg_pgstore *p, const char *target);
int gg_pgstore_list_queued_newest(gg_deployment **out, size_t *n, gg_pgstore *p);
int gg_pgstore_list(gg_deployment **out, size_t *n, gg_pgstore *p, const char *target,
                    size_t limit);
int gg_pgstore_last_deployed(char **commit, gg_pgstore *p, const char *target);
const char *gg_pgstore_replay_reason(gg_pgstore *p, const char *target, const char *after,
                                     int64_t self, bool allow_rollback);
void gg_pgstore_on_queue(gg_pgstore *p, void (*fn)(void *arg, bool freed),
                         bool (*busy)(void *arg, const char *target), void *arg);
bool gg_pgstore_duty(gg_pgstore *p, const char *duty);
int gg_pgstore_list_replicas(gg_replica **out, size_t *n, gg_pgstore *p);
size_t gg_pgstore_placements(gg_pgstore *p, char ***names);
int gg_pgstore_newest_placed(gg_deployment **out, gg_pgstore *p, const char *target,
                             const char *queue, const char *skip_pusher);
int gg_pgstore_count_by_state(gg_pgstore *p,
                              void (*fn)(void *arg, const char *target, gg_dep_state st,
                                         uint64_t n),
                              void *arg);

void gg_pgstore_pause(gg_pgstore *p, const char *target, const char *by, gg_store_cb cb, void *arg);
void gg_pgstore_resume(gg_pgstore *p, const char *target, gg_store_cb cb, void *arg);
int gg_pgstore_paused(gg_pgstore *p, const char *target, int64_t *since, char **by);
void gg_pgstore_prune(gg_pgstore *p, uint64_t max_age_ms);

#endif
