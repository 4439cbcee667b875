/*
 * The dispatcher: runs queued deployments from the store on the daemon's event
 * loop — at most one per target, newest queued state wins, a global limit on
 * parallel runs, timeouts, retries, recovery of interrupted runs.
 */
#ifndef GITGATED_DISPATCH_H
#define GITGATED_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct gg_store gg_store;
typedef struct gg_dconfig gg_dconfig;
typedef struct gg_dispatch gg_dispatch;
typedef struct gg_reconciler gg_reconciler;

/*
 * Create the dispatcher on `base`. It borrows store and cfg (the caller keeps
 * them alive, and calls gg_dispatch_reload when cfg is replaced). *out is
 * owned by the caller (gg_dispatch_free). 0 or -1.
 */
int gg_dispatch_new(gg_dispatch **out, struct event_base *base, gg_store *store,
                    const gg_dconfig *cfg);
/*
 * New deployments for these targets were durably queued: look for work now.
 * NULL/0 when it is not known for which (all of the queue is read).
 */
void gg_dispatch_kick(gg_dispatch *d, char *const *targets, size_t ntargets);
/*
 * Another replica sharing the store committed work for the queue, or freed
 * a target (freed: a finish, a requeue, a resume, a takeover, or the store
 * reconnected): look for work that may run here.
 */
void gg_dispatch_notified(gg_dispatch *d, bool freed);
/*
 * Whether the queue named target is known to be running (here, or on
 * another replica since a claim of it was lost) or paused: work queued for
 * it needs no other replica woken.
 */
bool gg_dispatch_busy(gg_dispatch *d, const char *target);
/* The config was replaced (SIGHUP); cfg is the new one. */
void gg_dispatch_reload(gg_dispatch *d, const gg_dconfig *cfg);
/*
 * Stop starting deployments; let running ones finish for up to grace_ms, then
 * stop them and leave them queued for the next start; call done(arg) once
 * nothing runs any more.
 */
void gg_dispatch_shutdown(gg_dispatch *d, uint64_t grace_ms, void (*done)(void *), void *arg);
/* Claims refused so far: the target ran elsewhere, the deployment left the queue, or a replay. */
uint64_t gg_dispatch_claims_lost(const gg_dispatch *d);
/* Deployments running now (for /metrics). */
size_t gg_dispatch_running(const gg_dispatch *d);
/*
 * target was paused or resumed (the store has it): a paused target's
 * deployments stay queued, the one running goes on; on resume the newest
 * queued runs.
 */
void gg_dispatch_set_paused(gg_dispatch *d, const char *target, bool paused);
/* The reconciler the dispatcher runs (drift checks on demand); borrowed. */
gg_reconciler *gg_dispatch_reconciler(gg_dispatch *d);
void gg_dispatch_free(gg_dispatch *d);

#endif
