/*
 * The reconciler: on each target's `reconcile:` interval it asks the
 * dispatcher to apply the target's last successful commit again, so that
 * what was changed by hand on the target is put back (for checkout targets,
 * a drift check and repair of the live release). It owns one timer per
 * target and what a reconcile deployment looks like in the store; the
 * dispatcher decides whether one is queued (never while the target is busy,
 * paused or has work queued) and runs it like any deployment. It also runs
 * drift checks on demand (GET /api/v1/targets/NAME/drift) in a child.
 */
#ifndef GITGATED_RECONCILE_H
#define GITGATED_RECONCILE_H

#include "config.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct event_base;
typedef struct gg_runner gg_runner;
typedef struct gg_reconciler gg_reconciler;

/* What a reconcile deployment carries as its pusher and its (initial) reason. */
#define GG_RECONCILE_PUSHER "gitgated (reconcile)"
#define GG_RECONCILE_REASON "reconcile"

/* Called when target's interval is up: queue a reconcile if it should run now. */
typedef void (*gg_reconcile_due_fn)(void *arg, const char *target);

/* Called after a drift check on demand ended (the dispatcher may be waiting to stop). */
typedef void (*gg_reconcile_idle_fn)(void *arg);

/*
 * One reconciler per dispatcher, on base, starting children with runner
 * (borrowed) as `self_exe --drift-check ...`, their files under logs_dir.
 * due and idle get arg. *out is owned by the caller (gg_reconcile_free).
 */
void gg_reconcile_new(gg_reconciler **out, struct event_base *base, gg_runner *runner,
                      const char *self_exe, const char *logs_dir, gg_reconcile_due_fn due,
                      gg_reconcile_idle_fn idle, void *arg);
/*
 * Make target's timer fire every interval_ms (0 removes it). An unchanged
 * interval keeps the timer's phase.
 */
void gg_reconcile_set(gg_reconciler *r, const char *target, uint64_t interval_ms);
/* Drop the timers of targets not in cfg. */
void gg_reconcile_sync(gg_reconciler *r, const gg_dconfig *cfg);
/* Stop every timer (shutdown); drift checks in progress are stopped. */
void gg_reconcile_stop(gg_reconciler *r);
/* Drift checks still running (shutdown waits for them). */
size_t gg_reconcile_running(const gg_reconciler *r);
void gg_reconcile_free(gg_reconciler *r);

/* Whether dep (queued or running) was queued by a reconcile. */
bool gg_reconcile_is(const gg_deployment *dep);

/*
 * The reconcile to queue for tg now, on ref, in the store's queue named
 * queue (tg's name, or this replica's own for on: each): NULL when the
 * store holds something queued there (that runs first and applies the branch anyway)
 * or it never succeeded (nothing to apply again). Its after is the last
 * successful commit, a hint: the dispatcher takes that commit again when it
 * starts it. Allocated with every string its own (gg_deployment_free).
 */
gg_deployment *gg_reconcile_next(gg_store *st, const gg_dtarget *tg, const char *queue,
                                 const char *ref);

/*
 * How a reconcile deployment ends up described: "reconcile", or
 * "reconcile: " followed by why (allocated).
 */
char *gg_reconcile_reason(const char *why);

/*
 * argv of the drift child for checkout target tg against commit; with
 * repair, a drifted release is replaced. NULL-terminated, free with
 * gg_runner_strv_free.
 */
char **gg_reconcile_drift_argv(const char *self_exe, const char *state_dir, const gg_dtarget *tg,
                               const char *commit, const char *result, bool repair);

/*
 * Read what a reconcile's drift child left in result_path: *commit (the
 * commit it compared with, hex) and, when the release drifted, *note (e.g.
 * "drift repaired: 3 path(s)"), both allocated; *drifted. 0, or -1 when the
 * result is missing or malformed.
 */
int gg_reconcile_drift_result(char **commit, char **note, bool *drifted, const char *result_path);

/*
 * Called once a drift check ends: report is the child's JSON result
 * (borrowed for the call) or NULL with err saying why.
 */
typedef void (*gg_reconcile_drift_fn)(void *arg, json_t *report, const char *err);

/*
 * Compare checkout target tg's live release with commit in a child, without
 * repairing; done is called on the event loop. 0, or -1 with an allocated
 * *err (done is then never called).
 */
int gg_reconcile_drift_check(gg_reconciler *r, const gg_dconfig *cfg, const gg_dtarget *tg,
                             const char *commit, gg_reconcile_drift_fn done, void *arg, char **err);

#endif
