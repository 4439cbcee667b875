/*
 * The durable store and deployment queue: deliveries (remembered so that a
 * redelivery is recognised) and deployments with their state. SQLite in WAL
 * mode under state_dir, behind this one interface so that another backend can
 * replace it without touching the HTTP or dispatch code.
 *
 * Threading. Reads are synchronous: they run on the caller's thread on a
 * read connection (WAL readers never wait for the writer) and are cheap.
 * Writes never run on the caller's thread when the store was opened with an
 * event base: they are queued to one writer thread that commits everything
 * queued so far in one transaction with one fsync (group commit), then calls
 * each request's callback on the event loop, in request order. A callback's
 * rc is 0 once the write is durable on disk, -1 when it failed (nothing of
 * that request was stored). Opened with base == NULL (tools, tests), writes
 * run synchronously and the callback is called before the function returns.
 * Writes are applied in the order they were requested.
 *
 * Times are Unix milliseconds (0: not set).
 */
#ifndef GITGATED_STORE_H
#define GITGATED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct gg_store gg_store;

/* Seconds a sender is asked to wait (Retry-After) when a delivery could not be stored. */
#define GG_STORE_RETRY_AFTER_S "5"

#define GG_STORE_NOTFOUND (-2)
#define GG_STORE_CONFLICT (-3) /* the deployment was not in the state the write expects */

typedef enum {
	GG_DEP_QUEUED,
	GG_DEP_RUNNING,
	GG_DEP_SUCCEEDED,
	GG_DEP_FAILED,
	GG_DEP_TIMED_OUT,
	GG_DEP_SUPERSEDED,
	GG_DEP_CANCELED,
	GG_DEP_REFUSED, /* stored and never run: a replay (see gg_store_replay_reason) */
} gg_dep_state;
#define GG_DEP_NSTATES 8

/* "queued", "running", "succeeded", ...; static. */
const char *gg_dep_state_name(gg_dep_state s);
/* The state named s; -1 when there is none. */
int gg_dep_state_parse(gg_dep_state *out, const char *s);

/* One deployment; strings are owned by the struct (NULL when unknown). */
typedef struct {
	int64_t id;
	char *target;
	char *source; /* source name the push came from */
	char *repo;   /* repository full name */
	char *ref;
	char *before;
	char *after; /* the commit the push asks for */
	char *pusher;
	char *delivery; /* delivery id; NULL when not from a webhook (poll/reconcile) */
	char *clone_url;
	char *client; /* who sent the delivery (a trusted proxy's client); NULL otherwise */
	gg_dep_state state;
	int exit_status;  /* -1: none (not finished, or killed by a signal) */
	char *commit;     /* the commit actually deployed; NULL until known */
	char *reason;     /* short free text on finish (e.g. "superseded by 42"); may be NULL */
	unsigned attempt; /* 0 for the first run, +1 per requeue */
	int64_t created_at, started_at, finished_at;
	int64_t not_before; /* queued: do not start before this time */
	char *replica;      /* the replica that runs or ran it (shared stores); NULL otherwise */
} gg_deployment;

void gg_deployment_free(gg_deployment *d);
void gg_deployments_free(gg_deployment *list, size_t n);

/*
 * Open (creating as needed) the store under dir (dir/gitgated.db). With a
 * base, writes go to a writer thread and complete on that base's loop. *out is
 * owned by the caller (gg_store_close). On failure returns -1 and *err holds an
 * allocated message.
 */
int gg_store_open(gg_store **out, struct event_base *base, const char *dir, char **err);
/*
 * Open the PostgreSQL store that conninfo (a libpq connection string or
 * URI) names, creating its schema or migrating it to this gitgated's
 * version (refused, and nothing changed, when the database's schema is
 * newer). Otherwise as gg_store_open; every other function works the same
 * on either store. conninfo is a secret: no message quotes its password.
 *
 * Several daemons may share the database, each under its own replica
 * name (refused while a live daemon holds the name). A deployment this
 * store claims is recorded as run by `replica`, and holds its target
 * everywhere for lease_ms past the last renewal (every heartbeat).
 */
int gg_store_open_postgres(gg_store **out, struct event_base *base, const char *conninfo,
                           const char *replica, uint64_t lease_ms, char **err);
/*
 * For gitgated --check: connect to conninfo and say in *msg (allocated)
 * whether the schema is current, missing or older (0: the daemon would
 * start on it), or why the daemon could not start on it (-1).
 */
int gg_store_check_postgres(const char *conninfo, char **msg);
/*
 * Whether conninfo parses as a libpq connection string or URI; when not,
 * *why (allocated) says so, or that libpq could not be loaded.
 */
bool gg_store_conninfo_valid(const char *conninfo, char **why);
/* Finish every queued write (callbacks are not called any more), then close. */
void gg_store_close(gg_store *s);
/*
 * Wait until every write requested so far (and any a callback requests in
 * turn) is committed, calling the callbacks on this thread. For shutdown,
 * after the event loop stopped and while the callbacks' owners still exist.
 */
void gg_store_flush(gg_store *s);

/*
 * True when deliveries can be stored now; otherwise *reason (static or owned
 * by the store, valid until the next call) says why.
 */
bool gg_store_healthy(gg_store *s, const char **reason);
/*
 * Whether other daemons may share this store's queue (PostgreSQL): then a
 * deployment may start only once its claim committed, since the claim is
 * what keeps two daemons from running one target.
 */
bool gg_store_shared(const gg_store *s);
/*
 * Call fn(arg, freed) on the event loop whenever a replica sharing the
 * store committed work for the queue (a delivery, a retry), with freed
 * when it freed a target (a finish, a requeue, a resume, a takeover), and
 * once the store (re)connected (freed: anything may have happened
 * unheard). busy(arg, target), asked on the loop as a delivery is stored,
 * says whether this daemon knows target to be running (here or on another
 * replica) or paused: a delivery for such targets only does not wake the
 * other replicas, since whoever runs the target reads the queue when it
 * ends. Never called on a store of one daemon.
 */
void gg_store_on_queue(gg_store *s, void (*fn)(void *arg, bool freed),
                       bool (*busy)(void *arg, const char *target), void *arg);
/*
 * Whether this daemon does the periodic duty named duty (poll a target's
 * branch, reconcile it, prune): on a shared store exactly one replica at a
 * time holds each duty, until it dies or loses the database; on a store of
 * one daemon, always.
 */
bool gg_store_duty(gg_store *s, const char *duty);
/* Writes queued and not yet committed. */
size_t gg_store_pending(const gg_store *s);
/* Transactions committed and writes they carried (group commit: writes / commits per fsync). */
void gg_store_commit_stats(const gg_store *s, uint64_t *commits, uint64_t *writes);

/* ---- Receiving deliveries ---- */

/* A deployment to create with a delivery; strings borrowed. */
typedef struct {
	const char *target;
	const char *source, *repo, *ref, *before, *after, *pusher, *clone_url;
	bool allow_rollback; /* the target's allow_rollback: older commits are no replay */
	const char *client;  /* the sender's address, as the log names it */
} gg_store_newdep;

typedef struct {
	int rc;         /* 0 stored, -1 failed */
	bool duplicate; /* the delivery id was already stored: nothing was queued */
	int64_t *ids;   /* ids of the deployments created, in request order */
	/* Per deployment: NULL when queued, else why it was stored `refused` (static). */
	const char *const *refused;
	size_t nids;
} gg_store_accept_result;

typedef void (*gg_store_accept_cb)(void *arg, const gg_store_accept_result *res);

/* Why a deployment is stored refused (gg_store_replay_reason). */
#define GG_REPLAY_OLDER    "replay of an older commit"
#define GG_REPLAY_DEPLOYED "commit already deployed"

/*
 * Durably record delivery `delivery` from source `source` (event names it)
 * and queue the deployments; all strings are copied. A deployment that
 * gg_store_replay_reason refuses, judged in the same transaction, is stored
 * in state `refused` with that reason instead of being queued. When the
 * source already has this delivery id, nothing is written and res->duplicate
 * is set.
 * The result and its ids are borrowed for the callback's duration.
 */
void gg_store_accept(gg_store *s, const char *source, const char *delivery, const char *event,
                     const gg_store_newdep *deps, size_t ndeps, gg_store_accept_cb cb, void *arg);

/* ---- The deployment queue (for the dispatcher) ---- */

/* Write completion: rc is 0, -1, GG_STORE_NOTFOUND or GG_STORE_CONFLICT; id as the call says. */
typedef void (*gg_store_cb)(void *arg, int rc, int64_t id);

/*
 * Queue a deployment not tied to a webhook delivery (poll/reconcile):
 * d->delivery may be NULL; d->reason, when set, is stored as it (a reconcile
 * says so there). The callback's id is the new deployment's id.
 * Strings are copied; d's id, state and times are ignored (state queued,
 * created_at now, not_before as given).
 */
void gg_store_insert(gg_store *s, const gg_deployment *d, gg_store_cb cb, void *arg);
/*
 * queued -> running with started_at now (GG_STORE_CONFLICT if not queued).
 * On a shared store, also when the target runs on another replica or is
 * paused, or when the replay rule (allow_rollback: the target's) refuses
 * the deployment as an older commit once every delivery in flight has
 * committed; a claim that can succeed first supersedes the target's older
 * queued deployments, in the same transaction (so their events come first,
 * as when the dispatcher of one daemon supersedes them before its claim).
 */
void gg_store_claim(gg_store *s, int64_t id, bool allow_rollback, gg_store_cb cb, void *arg);
/*
 * running (or queued) -> a final state (succeeded, failed, timed_out, superseded,
 * canceled) with finished_at now. exit_status -1 for none; commit and reason
 * may be NULL. GG_STORE_CONFLICT when the deployment was already final.
 */
void gg_store_finish(gg_store *s, int64_t id, gg_dep_state state, int exit_status,
                     const char *commit, const char *reason, gg_store_cb cb, void *arg);
/*
 * Every queued deployment of target with id < newer_than -> superseded (reason
 * names newer_than). The callback's id is the number of rows changed.
 */
void gg_store_supersede(gg_store *s, const char *target, int64_t newer_than, gg_store_cb cb,
                        void *arg);
/* running -> queued again for a retry: attempt + 1, not_before as given. */
void gg_store_requeue(gg_store *s, int64_t id, int64_t not_before, gg_store_cb cb, void *arg);

/*
 * Crash recovery, synchronous (call before the event loop runs): every
 * deployment left `running` goes back to `queued`. *n (may be NULL) gets
 * the count. Idempotent. gitgated calls it once at start.
 */
int gg_store_recover(gg_store *s, size_t *n);

/* ---- Reads (synchronous) ---- */

/* One deployment: 0, GG_STORE_NOTFOUND or -1. *out owned by the caller. */
int gg_store_get(gg_deployment **out, gg_store *s, int64_t id);
/*
 * Queued deployments, oldest first; of one target, or of all when target is
 * NULL. *out (an array of *n) owned by the caller (gg_deployments_free).
 */
int gg_store_list_queued(gg_deployment **out, size_t *n, gg_store *s, const char *target);
/*
 * The newest queued deployment of each target that has one, oldest of those
 * first: what a scan for work needs, at a cost that does not grow with the
 * number of older queued deployments (a burst while a long deployment runs).
 * *out (an array of *n) owned by the caller (gg_deployments_free).
 */
int gg_store_list_queued_newest(gg_deployment **out, size_t *n, gg_store *s);
/* Most recent deployments first, at most limit; target NULL for all. */
int gg_store_list(gg_deployment **out, size_t *n, gg_store *s, const char *target, size_t limit);
/*
 * The last deployment of target that succeeded: *commit (owned by the
 * caller) is its deployed commit (or its `after` when none was recorded).
 * GG_STORE_NOTFOUND when the target never succeeded.
 */
int gg_store_last_deployed(char **commit, gg_store *s, const char *target);
/*
 * Whether running commit `after` on target now would repeat or undo what it
 * already did; NULL when it would not, else a static reason:
 * GG_REPLAY_DEPLOYED when the target's last successful deployment is that
 * commit; GG_REPLAY_OLDER when an earlier deployment asked for it and a later
 * one (of any state but refused) asked for another commit since, unless
 * allow_rollback. `self` is the deployment being judged (0: a new one), left
 * out of the history. Read errors answer NULL: the store refuses nothing it
 * cannot read.
 */
const char *gg_store_replay_reason(gg_store *s, const char *target, const char *after, int64_t self,
                                   bool allow_rollback);
/* Deployments per target and state, for /metrics: calls fn once per group. */
int gg_store_count_by_state(gg_store *s,
                            void (*fn)(void *arg, const char *target, gg_dep_state st, uint64_t n),
                            void *arg);

/* A daemon sharing the store (gg_store_list_replicas); name owned. */
typedef struct {
	char *name;
	int64_t started_at, heartbeat_at;
} gg_replica;

/*
 * The replicas that ever used a shared store, by name, with their last
 * heartbeat; none (0, *n 0) for a store of one daemon. *out owned by the
 * caller (gg_replicas_free).
 */
int gg_store_list_replicas(gg_replica **out, size_t *n, gg_store *s);
void gg_replicas_free(gg_replica *list, size_t n);

/* ---- Placement: targets every replica deploys (on: each) ---- */

/*
 * The replicas alive as the last heartbeat saw them (heartbeat within the
 * lease), this one always among them: whom a delivery queues an on: each
 * target for. *names (each and the array) owned by the caller; 0 names on
 * a store of one daemon.
 */
size_t gg_store_placements(gg_store *s, char ***names);
/*
 * On a shared store, a target placed on: each has one queue per replica,
 * named TARGET@REPLICA (placement.h). The newest deployment of target not
 * pushed by skip_pusher (the reconciler's rows re-apply a state, they do
 * not ask for one): over every replica's queue when queue is NULL, and
 * then not refused (what some replica was asked to deploy); else of that
 * one queue, refused or not (what it was last asked for). 0,
 * GG_STORE_NOTFOUND (always, on a store of one daemon) or -1; *out owned
 * by the caller.
 */
int gg_store_newest_placed(gg_deployment **out, gg_store *s, const char *target, const char *queue,
                           const char *skip_pusher);

/* ---- Paused targets ---- */

/*
 * Pause target: its deployments queue but do not run until it is resumed.
 * by (copied; may be NULL) says who. Pausing a paused target changes
 * nothing. The callback's id is 1 when it was not paused before, else 0.
 */
void gg_store_pause(gg_store *s, const char *target, const char *by, gg_store_cb cb, void *arg);
/* Resume target; the callback's id is 1 when it was paused, else 0. */
void gg_store_resume(gg_store *s, const char *target, gg_store_cb cb, void *arg);
/*
 * Whether target is paused: 0 with *since (Unix ms) and *by (owned by the
 * caller, NULL when nobody was named), GG_STORE_NOTFOUND when it is not, -1.
 */
int gg_store_paused(gg_store *s, const char *target, int64_t *since, char **by);

/* ---- The reports outbox ---- */

/*
 * Every state a deployment enters is an event, written in the transaction
 * that changes the state. Each report destination (target, dest) has a cursor:
 * the last event it is done with. Events are sent in the order their
 * transactions committed per destination (on SQLite, id order).
 */
typedef struct {
	int64_t id; /* unique; increasing on SQLite */
	int64_t deployment;
	gg_dep_state state;
	int64_t at; /* when the deployment entered the state */
} gg_report_event;

/* What a destination's last attempt gave; strings owned (NULL when none). */
typedef struct {
	char *dest;
	char *state;      /* the state last reported or tried */
	int64_t at;       /* when; 0 never */
	char *result;     /* "sent", "failed", "dropped" */
	char *error;      /* the last attempt's error, when it failed */
	uint64_t pending; /* events not yet done */
} gg_report_status;

/*
 * Give destination dest of target a cursor, unless it has one: it starts
 * after the target's newest event (a new destination gets what happens from
 * now on). The callback's id is unused.
 */
void gg_store_report_init(gg_store *s, const char *target, const char *dest, gg_store_cb cb,
                          void *arg);
/*
 * Record an attempt for (target, dest): the cursor moves to `through` (never
 * backwards; 0 leaves it), and state, result and error (copied; may be NULL)
 * are kept for `gitgate status`. GG_STORE_NOTFOUND when there is no cursor.
 */
void gg_store_report_record(gg_store *s, const char *target, const char *dest, int64_t through,
                            const char *state, const char *result, const char *error,
                            gg_store_cb cb, void *arg);
/* Keep what (target, dest) made of deployment on its side (remote_id: a GitHub Deployment). */
void gg_store_report_ref_set(gg_store *s, const char *target, const char *dest, int64_t deployment,
                             int64_t remote_id, gg_store_cb cb, void *arg);
/* That id: 0, GG_STORE_NOTFOUND or -1. */
int gg_store_report_ref(int64_t *remote_id, gg_store *s, const char *target, const char *dest,
                        int64_t deployment);
/*
 * Forget events every cursor of their target is past, and all older than
 * max_age_ms, and the remote ids of deployments without events left.
 */
void gg_store_report_prune(gg_store *s, uint64_t max_age_ms);
/* The oldest event (target, dest) is not done with: 0, GG_STORE_NOTFOUND (none, or no cursor), -1.
 */
int gg_store_report_next(gg_report_event *out, gg_store *s, const char *target, const char *dest);
/* The cursors of target, by dest; *out (an array of *n) owned: gg_report_statuses_free. */
int gg_store_report_status(gg_report_status **out, size_t *n, gg_store *s, const char *target);
void gg_report_statuses_free(gg_report_status *list, size_t n);

/* ---- Maintenance ---- */

/* Forget deliveries older than max_age_ms (queued as a write; no callback). */
void gg_store_prune(gg_store *s, uint64_t max_age_ms);

#endif
