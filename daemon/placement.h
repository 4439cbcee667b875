/*
 * Placement: where a target deploys when replicas share a store. `on: any`
 * (one replica runs each deployment) keeps one queue per target, named as
 * the target. `on: each` (every replica deploys it on its own host) keeps
 * one queue per replica, stored under the name TARGET@REPLICA (a target
 * name never holds '@'), so that each replica runs, coalesces, judges and
 * is fenced on its own deployments. On a store of one daemon every target
 * has one queue: that daemon is every replica.
 *
 * This module owns those names and what a replica that missed a delivery
 * queues to catch up; the dispatcher owns the timer that asks it.
 */
#ifndef GITGATED_PLACEMENT_H
#define GITGATED_PLACEMENT_H

#include "config.h"
#include "store.h"

#include <stddef.h>

/* A replica checks its own queue of an on: each target against the others' this often. */
#define GG_PLACEMENT_CATCH_UP_MS 5000

/* The queue name TARGET@REPLICA (allocated). */
char *gg_placement_key(const char *target, const char *replica);
/*
 * A queue name split: the target is its first *len bytes; *replica (may be
 * NULL) points after the '@', or is NULL for a queue of every replica.
 */
void gg_placement_split(const char *queue, size_t *len, const char **replica);
/* The name of tg's queue that the replica named replica runs (allocated). */
char *gg_placement_own(gg_store *st, const gg_dtarget *tg, const char *replica);
/*
 * The queues a delivery for tg creates deployments in: one per replica
 * alive (as the store's last heartbeat saw them) for on: each on a shared
 * store, else tg's one. *queues (each and the array) owned by the caller.
 * live/nlive: gg_store_placements' answer, read once per delivery.
 */
size_t gg_placement_queues(char ***queues, const gg_dtarget *tg, char *const *live, size_t nlive);
/*
 * What a replica's own queue (queue) of the on: each target should run to catch up:
 * the newest state queued for any replica (neither refused nor a
 * reconcile), when its own queue was never asked for it since; NULL when
 * nothing is to be done (or the store cannot be read). The row is ready for
 * gg_store_insert, into queue, with a reason naming what it follows;
 * allocated (gg_deployment_free).
 */
gg_deployment *gg_placement_catch_up(gg_store *st, const char *target, const char *queue);

#endif
