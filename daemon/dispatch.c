/*
 * The dispatcher. The store is the queue: a scan reads the queued
 * deployments, and for every idle target takes the newest one (the older ones
 * end superseded), claims it and starts it, up to max_parallel at once.
 *
 * A run starts before its claim is on disk, so that a push turns into a
 * running deployment without waiting for an fsync; the claim and every later
 * write of that target are ordered by the store, and a target is not scanned
 * again while any of its writes is still in flight, so a scan never sees a
 * deployment that is running as if it were still queued. A crash between the
 * start and the claim leaves the deployment queued: it runs again after the
 * restart (at least once).
 */
#include "dispatch.h"

#include "checkout.h"
#include "config.h"
#include "gitgated.h"
#include "log.h"
#include "placement.h"
#include "reconcile.h"
#include "runner.h"
#include "statedir.h"
#include "store.h"

#include "gitgate/glob.h"
#include "gitgate/util.h"

#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DISPATCH_POLL_PUSHER    "gitgated (poll)"
#define DISPATCH_MAX_BACKOFF_MS (3600ULL * 1000)

typedef struct job job;
typedef struct tstate tstate;

struct tstate {
	gg_dispatch *d;
	/*
	 * The queue's name in the store: the target's name, or TARGET@REPLICA
	 * for a target placed on: each on a shared store (this replica's queue).
	 */
	char *name;
	char *target; /* the config's target name */
	bool placed;  /* on: each on a shared store: name is this replica's own queue */
	struct event *catch_ev;
	bool configured; /* false once a reload dropped it; freed when idle */
	job *job;        /* the deployment running now, or NULL */
	/* Shared store: the deployment whose claim is on its way; it starts once the claim holds.
	 */
	gg_deployment *claiming;
	unsigned inflight;
	int64_t last_started; /* never start an older deployment after a newer one */
	bool paused;          /* through the API: its queue waits (gg_dispatch_set_paused) */
	/*
	 * A shared store: until then (ms), the target runs on another replica
	 * (a claim of it lost), which reads the queue when it ends: no scan
	 * here reads it for this target, nor claims it. A NOTIFY that freed a
	 * target ends it early; the deadline is the net for one never heard.
	 */
	int64_t elsewhere_until;
	uint64_t claim_freed; /* d->freed when the claim in flight was asked */
	struct event *poll_ev;
	uint64_t poll_ms;
	gg_run *poll_run;
	char *poll_result;
	/* The last commit refused for want of a trusted signature: a poll does not queue it again.
	 */
	char *refused_commit;
};

/* A job's child now: fetch (and check out), compare a release with its commit, or the run. */
typedef enum { PHASE_CHECKOUT, PHASE_DRIFT, PHASE_COMMAND } job_phase;

struct job {
	gg_dispatch *d;
	tstate *t;
	gg_deployment *dep;
	job_phase phase;
	gg_run *run;
	char *log_path;
	char *result_path;
	char *commit;   /* checkout targets and run targets with url: the commit deployed */
	bool reconcile; /* queued by the reconciler: applies the last successful commit again */
	char *note;     /* what a reconcile found (drift), for its reason */
	/* What the job needs from its target, copied: a reload may free the config. */
	char **run_tmpl;
	char **env_keys, **env_vals;
	size_t nenv;
	char *dir;
	uint64_t timeout_ms, started_ms;
	unsigned retries, nice;
	bool claim_failed;
};

struct gg_dispatch {
	struct event_base *base;
	gg_store *store;
	const gg_dconfig *cfg;
	gg_runner *runner;
	gg_reconciler *rec;
	tstate **ts;
	size_t nts;
	size_t running;
	char *self_exe;
	char *logs_dir;
	int64_t *pending;
	size_t npending;
	struct wctx *retrying; /* writes waiting to be made again */
	struct event *scan_ev;
	struct event *wake_ev;
	/* Read the queue even while every target is busy: at start, after a reload, a gone one. */
	bool scan_all;
	uint64_t freed;       /* NOTIFYs heard that freed a target, so far */
	uint64_t claims_lost; /* claims refused: the target ran on another replica */
	bool shutting_down;
	struct event *grace_ev;
	void (*shutdown_done)(void *);
	void *shutdown_arg;
};

static void schedule_scan(gg_dispatch *d);
static void maybe_shutdown_done(gg_dispatch *d);
static void job_start_command(job *j);

static int64_t now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void strv_dup(char ***out, char *const *v, size_t n)
{
	char **r = gg_calloc(n + 1, sizeof(*r));
	for (size_t i = 0; i < n; i++)
		r[i] = gg_strdup(v[i]);
	*out = r;
}

/* ---- target states ---- */

static tstate *tstate_find(gg_dispatch *d, const char *name)
{
	for (size_t i = 0; i < d->nts; i++)
		if (!strcmp(d->ts[i]->name, name))
			return d->ts[i];
	return NULL;
}

/* The configured state of the target the config names target. */
static tstate *tstate_of(gg_dispatch *d, const char *target)
{
	for (size_t i = 0; i < d->nts; i++)
		if (d->ts[i]->configured && !strcmp(d->ts[i]->target, target))
			return d->ts[i];
	return NULL;
}

/* Whether the store says target is paused (through any replica). */
static bool paused_in_store(gg_dispatch *d, const char *target)
{
	int64_t since = 0;
	char *by = NULL;
	bool paused = gg_store_paused(d->store, target, &since, &by) == 0;
	free(by);
	return paused;
}

static void tstate_free(tstate *t)
{
	if (t->poll_ev)
		event_free(t->poll_ev);
	if (t->catch_ev)
		event_free(t->catch_ev);
	free(t->poll_result);
	free(t->refused_commit);
	free(t->name);
	free(t->target);
	free(t);
}

/* Drop states of targets the config no longer has, once nothing of theirs is in progress. */
static void tstates_gc(gg_dispatch *d)
{
	size_t w = 0;
	bool freed = false;
	for (size_t i = 0; i < d->nts; i++) {
		tstate *t = d->ts[i];
		if (!t->configured && t->job == NULL && t->inflight == 0 && t->poll_run == NULL) {
			tstate_free(t);
			freed = true;
		} else {
			d->ts[w++] = t;
		}
	}
	d->nts = w;
	if (freed) {
		/* What is still queued for them is canceled by a full read of the queue. */
		d->scan_all = true;
		schedule_scan(d);
	}
}

/* ---- store write completions ---- */

/*
 * Deployments whose move out of `queued` (supersede, cancel, or a run's claim
 * up to its finish) is requested but may not be on disk yet: a scan reading
 * the queue meanwhile can still see them queued and must leave them alone.
 */
static void pending_add(gg_dispatch *d, int64_t id)
{
	d->pending = gg_reallocarray(d->pending, d->npending + 1, sizeof(*d->pending));
	d->pending[d->npending++] = id;
}

static bool pending_has(const gg_dispatch *d, int64_t id)
{
	for (size_t i = 0; i < d->npending; i++)
		if (d->pending[i] == id)
			return true;
	return false;
}

static void pending_remove(gg_dispatch *d, int64_t id)
{
	for (size_t i = 0; i < d->npending; i++) {
		if (d->pending[i] == id) {
			d->pending[i] = d->pending[--d->npending];
			return;
		}
	}
}

/*
 * One store write of the dispatcher, kept until it is on disk: a write the
 * disk refused (full, read-only) is made again later, in the same order
 * relative to the target's other writes, so that a deployment never stays
 * `running` or an older one `queued` behind the dispatcher's back.
 */
typedef enum { W_CLAIM, W_FINISH, W_SUPERSEDE, W_REQUEUE, W_INSERT, W_CANCEL } wkind;

#define DISPATCH_WRITE_RETRY_MS     250
#define DISPATCH_WRITE_RETRY_MAX_MS 5000
/* How long a lost claim keeps this replica off its target without a NOTIFY. */
#define DISPATCH_ELSEWHERE_MS 1000

struct wctx {
	gg_dispatch *d;
	wkind kind;
	char *target;
	bool kick;          /* look for work once the write is on disk */
	int64_t id;         /* the deployment; for a supersede, newer_than */
	gg_dep_state state; /* finish */
	int exit_status;
	char *commit, *reason;
	int64_t not_before;  /* requeue */
	bool allow_rollback; /* claim: the target's */
	gg_deployment *dep;  /* insert */
	int64_t *ids;        /* pending ids settled once this write is on disk */
	size_t nids;
	unsigned failures;
	struct event *retry_ev;
	struct wctx *next, *prev; /* waiting for a retry */
};

static void write_done(void *arg, int rc, int64_t id);
static void claim_done(void *arg, int rc, int64_t id);

static struct wctx *wctx_new(gg_dispatch *d, wkind kind, const char *target, int64_t id, bool kick)
{
	struct wctx *w = gg_calloc(1, sizeof(*w));
	w->d = d;
	w->kind = kind;
	w->target = gg_strdup(target);
	w->id = id;
	w->kick = kick;
	tstate *t = tstate_find(d, target);
	if (t)
		t->inflight++;
	return w;
}

/* id is already pending (its job added it); this write settles it. */
static void wctx_adopt(struct wctx *w, int64_t id)
{
	w->ids = gg_reallocarray(w->ids, w->nids + 1, sizeof(*w->ids));
	w->ids[w->nids++] = id;
}

/* id leaves the queue with this write: keep scans off it until then. */
static void wctx_pend(struct wctx *w, int64_t id)
{
	w->ids = gg_reallocarray(w->ids, w->nids + 1, sizeof(*w->ids));
	w->ids[w->nids++] = id;
	pending_add(w->d, id);
}

static void wctx_free(struct wctx *w)
{
	if (w->retry_ev)
		event_free(w->retry_ev);
	free(w->ids);
	free(w->target);
	free(w->commit);
	free(w->reason);
	gg_deployment_free(w->dep); /* every field its own, whoever made it */
	free(w);
}

static void wctx_submit(struct wctx *w)
{
	gg_store *st = w->d->store;
	switch (w->kind) {
	case W_CLAIM:
		gg_store_claim(st, w->id, w->allow_rollback, claim_done, w);
		break;
	case W_FINISH:
	case W_CANCEL:
		gg_store_finish(st, w->id, w->state, w->exit_status, w->commit, w->reason,
		                write_done, w);
		break;
	case W_SUPERSEDE:
		gg_store_supersede(st, w->target, w->id, write_done, w);
		break;
	case W_REQUEUE:
		gg_store_requeue(st, w->id, w->not_before, write_done, w);
		break;
	case W_INSERT:
		gg_store_insert(st, w->dep, write_done, w);
		break;
	}
}

static void on_write_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct wctx *w = arg;
	gg_dispatch *d = w->d;
	if (w->prev)
		w->prev->next = w->next;
	else
		d->retrying = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
	wctx_submit(w);
}

static void write_done(void *arg, int rc, int64_t id)
{
	(void)id;
	struct wctx *w = arg;
	gg_dispatch *d = w->d;
	/*
	 * A claim is not made again: the run goes on, and its finish moves the
	 * deployment from queued as well.
	 */
	if (rc == -1 && w->kind != W_CLAIM) {
		uint64_t delay = DISPATCH_WRITE_RETRY_MS << (w->failures < 5 ? w->failures : 5);
		if (delay > DISPATCH_WRITE_RETRY_MAX_MS)
			delay = DISPATCH_WRITE_RETRY_MAX_MS;
		if (w->failures++ == 0)
			gg_log(GG_LOG_ERROR, "storing a deployment update failed; trying again",
			       "target", w->target, NULL);
		if (w->retry_ev == NULL)
			w->retry_ev = evtimer_new(d->base, on_write_retry, w);
		struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
		evtimer_add(w->retry_ev, &tv);
		w->next = d->retrying;
		if (d->retrying)
			d->retrying->prev = w;
		d->retrying = w;
		return;
	}
	if (rc == -1)
		gg_log(GG_LOG_WARN, "claiming a deployment was not stored", "target", w->target,
		       NULL);
	if (rc == GG_STORE_CONFLICT && w->kind == W_FINISH) {
		/*
		 * Fenced: it ended meanwhile without this run (canceled, or taken
		 * over by another replica when this one's lease lapsed).
		 */
		char idtext[32];
		snprintf(idtext, sizeof(idtext), "%lld", (long long)w->id);
		gg_log(GG_LOG_WARN,
		       "finish refused: the deployment is no longer this daemon's to end", "id",
		       idtext, "target", w->target, "state", gg_dep_state_name(w->state), NULL);
	}
	for (size_t i = 0; i < w->nids; i++)
		pending_remove(d, w->ids[i]);
	tstate *t = tstate_find(d, w->target);
	if (t && t->inflight > 0)
		t->inflight--;
	/*
	 * A finish or requeue of this replica's own run (one made again after a
	 * failed write) frees the target: a claim lost to that run meanwhile
	 * must not keep it waiting, and this replica does not hear its own NOTIFY.
	 */
	if (t && rc == 0 && (w->kind == W_FINISH || w->kind == W_REQUEUE))
		t->elsewhere_until = 0;
	if (t && !t->configured)
		tstates_gc(d);
	if (w->kick || w->nids > 0)
		schedule_scan(d);
	wctx_free(w);
}

static void job_start(gg_dispatch *d, tstate *t, const gg_dtarget *tg, gg_deployment *dep);
static void arm_wake(gg_dispatch *d, int64_t at_ms);

/*
 * A shared store's claim came back: the deployment starts only now, when
 * the database says no replica runs its target. A claim lost to another
 * replica leaves the deployment queued for whoever is free next (the
 * winner scans the queue when it finishes).
 */
static void claim_settled(gg_dispatch *d, tstate *t, int rc)
{
	gg_deployment *dep = t->claiming;
	t->claiming = NULL;
	d->running--;
	const gg_dtarget *tg = t->configured ? gg_dconfig_target(d->cfg, t->target) : NULL;
	if (rc == 0 && tg && !d->shutting_down) {
		job_start(d, t, tg, dep);
		return;
	}
	if (rc == 0) {
		/* Claimed, but nothing may start it now: back to the queue. */
		struct wctx *w = wctx_new(d, W_REQUEUE, t->name, dep->id, true);
		wctx_adopt(w, dep->id);
		wctx_submit(w);
	} else {
		pending_remove(d, dep->id);
		if (rc == -1)
			arm_wake(d, now_unix_ms() + DISPATCH_WRITE_RETRY_MAX_MS);
		else if ((t->paused = paused_in_store(d, t->target)))
			gg_log(GG_LOG_INFO, "deployment left queued: its target was paused",
			       "target", t->name, NULL);
		else {
			gg_log(GG_LOG_DEBUG, "deployment left queued: its target runs elsewhere",
			       "target", t->name, NULL);
			if (rc == GG_STORE_CONFLICT)
				d->claims_lost++;
			/*
			 * Unless a target was freed since the claim was asked (it may be
			 * this one), or the queue is this replica's own (on: each: what
			 * runs is a run of its own whose end it writes itself).
			 */
			if (rc == GG_STORE_CONFLICT && t->claim_freed == d->freed && !t->placed) {
				t->elsewhere_until = now_unix_ms() + DISPATCH_ELSEWHERE_MS;
				arm_wake(d, t->elsewhere_until);
			}
		}
	}
	gg_deployment_free(dep);
	maybe_shutdown_done(d);
}

static void claim_done(void *arg, int rc, int64_t id)
{
	struct wctx *w = arg;
	tstate *t = tstate_find(w->d, w->target);
	if (t && t->claiming && t->claiming->id == id)
		claim_settled(w->d, t, rc);
	if ((rc == GG_STORE_CONFLICT || rc == GG_STORE_NOTFOUND) && t && t->job &&
	    t->job->dep->id == id) {
		/* Finished meanwhile by someone else (e.g. canceled): it must not run. */
		t->job->claim_failed = true;
		if (t->job->run)
			gg_run_stop(t->job->run);
	}
	write_done(arg, rc == -1 ? -1 : 0, id);
}

/* ---- jobs ---- */

static void job_free(job *j)
{
	if (j == NULL)
		return;
	gg_deployment_free(j->dep);
	free(j->log_path);
	if (j->result_path) {
		unlink(j->result_path);
		free(j->result_path);
	}
	free(j->commit);
	free(j->note);
	gg_runner_strv_free(j->run_tmpl);
	gg_runner_strv_free(j->env_keys);
	gg_runner_strv_free(j->env_vals);
	free(j->dir);
	free(j);
}

static void vars_of(gg_runner_vars *v, const job *j)
{
	const gg_deployment *dep = j->dep;
	memset(v, 0, sizeof(*v));
	v->after = j->commit ? j->commit : dep->after;
	v->before = dep->before;
	v->ref = dep->ref;
	v->repo = dep->repo;
	v->delivery = dep->delivery;
	v->target = j->t->target; /* the config's name, also for a replica's own queue */
	v->replica = j->d->cfg->replica;
	v->source = dep->source;
	v->pusher = dep->pusher;
	v->dir = j->dir;
	v->deployment = dep->id;
}

static void maybe_shutdown_done(gg_dispatch *d)
{
	if (!d->shutting_down || d->running > 0 || d->shutdown_done == NULL ||
	    gg_reconcile_running(d->rec) > 0)
		return;
	for (size_t i = 0; i < d->nts; i++)
		if (d->ts[i]->poll_run)
			return;
	if (d->grace_ev)
		event_del(d->grace_ev);
	void (*done)(void *) = d->shutdown_done;
	d->shutdown_done = NULL;
	done(d->shutdown_arg);
}

/* The job is over: record how, free it, look for more work. */
static void job_end(job *j, gg_dep_state st, int exit_status, const char *commit, const char *why)
{
	gg_dispatch *d = j->d;
	tstate *t = j->t;
	/* A reconcile says so in its reason, with what it found or why it failed. */
	char *own = j->reconcile ? gg_reconcile_reason(why ? why : j->note) : NULL;
	const char *reason = own ? own : why;
	gg_runner_log_line(j->log_path, "deployment %lld %s%s%s", (long long)j->dep->id,
	                   gg_dep_state_name(st), reason ? ": " : "", reason ? reason : "");
	char idtext[32], attempt[16];
	snprintf(idtext, sizeof(idtext), "%lld", (long long)j->dep->id);
	snprintf(attempt, sizeof(attempt), "%u", j->dep->attempt + 1);
	/* A run that failed before a checkout reported its commit was still for the push's. */
	const char *shown = commit ? commit : j->dep->after;
	gg_log(st == GG_DEP_SUCCEEDED ? GG_LOG_INFO : GG_LOG_WARN, "deployment finished", "id",
	       idtext, "target", j->dep->target, "state", gg_dep_state_name(st), "commit",
	       shown ? shown : "-", "attempt", attempt, "reason", reason ? reason : "-", NULL);
	struct wctx *w = wctx_new(d, W_FINISH, t->name, j->dep->id, true);
	w->state = st;
	w->exit_status = exit_status;
	w->commit = commit ? gg_strdup(commit) : NULL;
	w->reason = reason ? gg_strdup(reason) : NULL;
	wctx_adopt(w, j->dep->id);
	wctx_submit(w);
	free(own);
	t->job = NULL;
	d->running--;
	job_free(j);
	tstates_gc(d);
	schedule_scan(d);
	maybe_shutdown_done(d);
}

/* Queue j's deployment again (a retry, or a run handed back at shutdown). */
static void job_requeue(job *j, int64_t not_before, const char *why)
{
	gg_dispatch *d = j->d;
	tstate *t = j->t;
	gg_runner_log_line(j->log_path, "deployment %lld queued again: %s", (long long)j->dep->id,
	                   why);
	char idtext[32];
	snprintf(idtext, sizeof(idtext), "%lld", (long long)j->dep->id);
	gg_log(GG_LOG_INFO, "deployment queued again", "id", idtext, "target", j->dep->target,
	       "reason", why, NULL);
	struct wctx *w = wctx_new(d, W_REQUEUE, t->name, j->dep->id, true);
	w->not_before = not_before;
	wctx_adopt(w, j->dep->id);
	wctx_submit(w);
	t->job = NULL;
	d->running--;
	job_free(j);
	tstates_gc(d);
	schedule_scan(d);
	maybe_shutdown_done(d);
}

static bool newer_queued(gg_dispatch *d, const job *j)
{
	gg_deployment *list = NULL;
	size_t n = 0;
	bool newer = false;
	if (gg_store_list_queued(&list, &n, d->store, j->dep->target) == 0)
		for (size_t i = 0; i < n; i++)
			if (list[i].id > j->dep->id)
				newer = true;
	gg_deployments_free(list, n);
	return newer;
}

static void job_failed(job *j, int code, const char *reason)
{
	gg_dispatch *d = j->d;
	if (!d->shutting_down && j->dep->attempt < j->retries && !newer_queued(d, j)) {
		uint64_t backoff = d->cfg->retry_backoff_ms;
		for (unsigned i = 0; i < j->dep->attempt && backoff < DISPATCH_MAX_BACKOFF_MS; i++)
			backoff *= 2;
		if (backoff > DISPATCH_MAX_BACKOFF_MS)
			backoff = DISPATCH_MAX_BACKOFF_MS;
		char *why = gg_printf("%s; retry %u of %u in %llums", reason, j->dep->attempt + 1,
		                      j->retries, (unsigned long long)backoff);
		job_requeue(j, now_unix_ms() + (int64_t)backoff, why);
		free(why);
		return;
	}
	job_end(j, GG_DEP_FAILED, code, j->commit, reason);
}

static char *read_result(const char *path)
{
	char *text = NULL;
	size_t len;
	if (gg_statedir_read(&text, &len, path, 256) < 0)
		return NULL;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (len != 40 && len != 64) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * A reconcile's drift check ended well: take the commit it compared with and
 * what it found. -1 when that ended the job.
 */
static int job_drift_checked(job *j)
{
	bool drifted = false;
	if (gg_reconcile_drift_result(&j->commit, &j->note, &drifted, j->result_path) < 0) {
		job_failed(j, -1, "the drift check left no result");
		return -1;
	}
	if (drifted) {
		gg_metrics_drift(j->dep->target);
		gg_log(GG_LOG_WARN, "drift found", "target", j->dep->target, "commit", j->commit,
		       "result", j->note, NULL);
	}
	return 0;
}

/*
 * The fetch (or checkout) child ended well: take the commit it resolved,
 * the branch head now in the mirror. For a run target with url this is the
 * one place where that commit is known and nothing has run with it yet.
 * -1 when that ended the job.
 */
static int job_fetched(job *j)
{
	j->commit = read_result(j->result_path);
	if (j->commit == NULL) {
		job_failed(j, -1, "checkout did not report a commit");
		return -1;
	}
	return 0;
}

/*
 * The checkout child fetched a commit that no trusted key signed: nothing
 * ran, the live release is untouched, and no retry can change the verdict.
 * Its result file holds the commit and the reason.
 */
static void job_refused(job *j)
{
	char *text = NULL;
	size_t len = 0;
	const char *reason = "not signed by a trusted key";
	if (gg_statedir_read(&text, &len, j->result_path, GG_CHECKOUT_MAX_RESULT) == 0) {
		char *nl = strchr(text, '\n');
		if (nl && (nl - text == 40 || nl - text == 64)) {
			*nl = '\0';
			free(j->commit);
			j->commit = gg_strdup(text);
			char *r = nl + 1;
			r[strcspn(r, "\n")] = '\0';
			if (*r)
				reason = r;
		}
	}
	if (j->commit) {
		free(j->t->refused_commit);
		j->t->refused_commit = gg_strdup(j->commit);
	}
	job_end(j, GG_DEP_REFUSED, GG_CHECKOUT_EXIT_REFUSED, j->commit, reason);
	free(text);
}

static void on_job_done(gg_run *r, gg_run_end how, int code, void *arg)
{
	job *j = arg;
	j->run = NULL;
	double secs = (double)(gg_now_ms() - j->started_ms) / 1000.0;
	if (how == GG_RUN_EXITED)
		gg_run_log(r, "exited %d after %.1fs", code, secs);
	else
		gg_run_log(r, "killed by signal %d after %.1fs", code, secs);

	if (j->claim_failed) {
		/* Someone else finished it (e.g. canceled): leave its state alone. */
		gg_dispatch *d = j->d;
		pending_remove(d, j->dep->id);
		j->t->job = NULL;
		d->running--;
		job_free(j);
		schedule_scan(d);
		maybe_shutdown_done(d);
		return;
	}
	if (how == GG_RUN_STOPPED) {
		job_requeue(j, 0, "the daemon is stopping");
		return;
	}
	if (how == GG_RUN_TIMED_OUT) {
		char *why =
		    gg_printf("ran over its timeout of %llums", (unsigned long long)j->timeout_ms);
		job_end(j, GG_DEP_TIMED_OUT, -1, j->commit, why);
		free(why);
		return;
	}
	if (how == GG_RUN_SIGNALED) {
		char *why = gg_printf("killed by signal %d", code);
		job_failed(j, -1, why);
		free(why);
		return;
	}
	if (j->phase == PHASE_CHECKOUT && code == GG_CHECKOUT_EXIT_REFUSED) {
		job_refused(j);
		return;
	}
	if (code != 0) {
		char *why = gg_printf(j->phase == PHASE_CHECKOUT ? "checkout failed (exit %d)"
		                      : j->phase == PHASE_DRIFT  ? "drift check failed (exit %d)"
		                                                 : "exited %d",
		                      code);
		job_failed(j, code, why);
		free(why);
		return;
	}
	if (j->phase == PHASE_DRIFT && job_drift_checked(j) < 0)
		return;
	if (j->phase == PHASE_CHECKOUT && job_fetched(j) < 0)
		return;
	if (j->phase == PHASE_CHECKOUT || j->phase == PHASE_DRIFT) {
		if (j->run_tmpl && j->run_tmpl[0]) {
			j->phase = PHASE_COMMAND;
			job_start_command(j);
			return;
		}
	}
	job_end(j, GG_DEP_SUCCEEDED, 0, j->commit ? j->commit : j->dep->after, NULL);
}

static int job_spawn(job *j, char **argv, char **env, uint64_t timeout_ms)
{
	gg_dispatch *d = j->d;
	gg_run_spec spec = {.argv = (const char *const *)argv,
	                    .envp = (const char *const *)env,
	                    .cwd = NULL,
	                    .log_path = j->log_path,
	                    .log_max = d->cfg->log_max,
	                    .timeout_ms = timeout_ms,
	                    .nice = j->nice};
	char *err = NULL;
	gg_buf line = GG_BUF_INIT;
	for (size_t i = 0; argv[i]; i++) {
		char *shown = gg_checkout_redact_url(argv[i]);
		gg_buf_printf(&line, "%s%s", i ? " " : "", shown);
		free(shown);
	}
	gg_runner_log_line(j->log_path, "running %s", line.ptr);
	gg_buf_free(&line);
	int rc = gg_run_start(&j->run, d->runner, &spec, on_job_done, j, &err);
	if (rc < 0) {
		gg_runner_log_line(j->log_path, "%s", err);
		job_failed(j, -1, err);
		free(err);
		return -1;
	}
	return 0;
}

static void job_start_command(job *j)
{
	gg_runner_vars v;
	vars_of(&v, j);
	char **argv = NULL, **env = NULL;
	char *err = NULL;
	if (gg_runner_expand_argv(&argv, (const char *const *)j->run_tmpl, &v, &err) < 0) {
		/* Not worth a retry: the same push expands the same way again. */
		gg_runner_log_line(j->log_path, "%s", err);
		job_end(j, GG_DEP_FAILED, -1, j->commit, err);
		free(err);
		return;
	}
	gg_runner_build_env(&env, &v, (const char *const *)j->env_keys,
	                    (const char *const *)j->env_vals, j->nenv);
	uint64_t timeout = j->timeout_ms;
	uint64_t spent = gg_now_ms() - j->started_ms;
	/* A checkout's command gets what is left of the target's timeout. */
	if (timeout > 0)
		timeout = spent < timeout ? timeout - spent : 1;
	job_spawn(j, argv, env, timeout);
	gg_runner_strv_free(argv);
	gg_runner_strv_free(env);
}

static char *checkout_branch(const gg_dtarget *tg, const gg_deployment *dep)
{
	const gg_dcheckout *co = gg_dtarget_repository(tg);
	if (co && co->branch)
		return gg_checkout_full_ref(co->branch);
	if (tg->ref && !strpbrk(tg->ref, "*?["))
		return gg_checkout_full_ref(tg->ref);
	return gg_checkout_full_ref(dep->ref ? dep->ref : "main");
}

static void argv_add(char ***argv, size_t *n, const char *a, const char *b)
{
	*argv = gg_reallocarray(*argv, *n + 3, sizeof(**argv));
	(*argv)[(*n)++] = gg_strdup(a);
	if (b)
		(*argv)[(*n)++] = gg_strdup(b);
	(*argv)[*n] = NULL;
}

/*
 * The repository URL reaches the checkout child in its environment, not on
 * its command line: a URL may carry a password or token, and any local
 * user can read another process's argv, not its environment.
 */
static void env_add_url(char ***env, const gg_dtarget *tg)
{
	size_t n = 0;
	while (*env && (*env)[n])
		n++;
	*env = gg_reallocarray(*env, n + 2, sizeof(**env));
	/* First, so that it wins over a target env entry of the same name. */
	memmove(*env + 1, *env, n * sizeof(**env));
	(*env)[0] = gg_printf("%s=%s", GG_CHECKOUT_URL_ENV, gg_dtarget_repository(tg)->url);
	(*env)[n + 1] = NULL;
}

/*
 * argv of `gitgated --deploy-checkout` for target tg; dir NULL to fetch
 * only. verify: check the fetched commit's signature (a deployment's fetch,
 * not a poll's: the deployment it queues verifies).
 */
static char **checkout_argv(gg_dispatch *d, const gg_dtarget *tg, const char *branch,
                            const char *dir, const char *want, const char *result, bool verify)
{
	const gg_dcheckout *co = gg_dtarget_repository(tg);
	char **argv = NULL;
	size_t n = 0;
	char *mirror = gg_checkout_mirror_path(d->cfg->state_dir, co->url);
	argv_add(&argv, &n, d->self_exe, NULL);
	argv_add(&argv, &n, GG_CHECKOUT_OPTION, NULL);
	argv_add(&argv, &n, "--branch", branch);
	argv_add(&argv, &n, "--mirror", mirror);
	argv_add(&argv, &n, "--result", result);
	if (dir) {
		char keep[16];
		snprintf(keep, sizeof(keep), "%u", co->keep ? co->keep : GG_DEFAULT_KEEP);
		argv_add(&argv, &n, "--dir", dir);
		argv_add(&argv, &n, "--keep", keep);
	}
	if (want && *want)
		argv_add(&argv, &n, "--want", want);
	if (co->username)
		argv_add(&argv, &n, "--username", co->username);
	if (co->password_file)
		argv_add(&argv, &n, "--password-file", co->password_file);
	if (co->ssh_key_file)
		argv_add(&argv, &n, "--ssh-key", co->ssh_key_file);
	if (co->ssh_public_key_file)
		argv_add(&argv, &n, "--ssh-public-key", co->ssh_public_key_file);
	if (co->ssh_known_hosts_file)
		argv_add(&argv, &n, "--known-hosts", co->ssh_known_hosts_file);
	if (verify && tg->verify && tg->verify->allowed_signers)
		argv_add(&argv, &n, "--allowed-signers", tg->verify->allowed_signers);
	if (verify && tg->verify && tg->verify->gpg_keyring)
		argv_add(&argv, &n, "--gpg-keyring", tg->verify->gpg_keyring);
	free(mirror);
	return argv;
}

/* The environment of j's children: the target's env and the GITGATE_* variables. */
static char **job_env(const job *j)
{
	char **env = NULL;
	gg_runner_vars v;
	vars_of(&v, j);
	gg_runner_build_env(&env, &v, (const char *const *)j->env_keys,
	                    (const char *const *)j->env_vals, j->nenv);
	return env;
}

/*
 * A run target with url: fetch its repository into the mirror and resolve
 * the branch's head, which becomes {after} (on_job_done reads it from the
 * result file, then starts the command). The payload only said "look".
 */
static void job_start_fetch(job *j, const gg_dtarget *tg)
{
	j->phase = PHASE_CHECKOUT;
	j->result_path = gg_printf("%s/%lld.commit", j->d->logs_dir, (long long)j->dep->id);
	char *branch = checkout_branch(tg, j->dep);
	char **argv = checkout_argv(j->d, tg, branch, NULL, j->dep->after, j->result_path, true);
	char **env = job_env(j);
	env_add_url(&env, tg);
	job_spawn(j, argv, env, j->timeout_ms);
	gg_runner_strv_free(argv);
	gg_runner_strv_free(env);
	free(branch);
}

/* A reconcile of a checkout target: compare the live release with its commit, repair it. */
static void job_start_drift(job *j, const gg_dtarget *tg)
{
	j->phase = PHASE_DRIFT;
	j->result_path = gg_printf("%s/%lld.drift", j->d->logs_dir, (long long)j->dep->id);
	char **argv =
	    gg_reconcile_drift_argv(j->d->self_exe, j->d->cfg->state_dir, tg, j->dep->after,
	                            j->result_path, tg->drift == GG_DRIFT_REPAIR);
	char **env = job_env(j);
	job_spawn(j, argv, env, j->timeout_ms);
	gg_runner_strv_free(argv);
	gg_runner_strv_free(env);
}

/* Start dep on target t (already claimed or being claimed). */
static void job_start(gg_dispatch *d, tstate *t, const gg_dtarget *tg, gg_deployment *dep)
{
	job *j = gg_calloc(1, sizeof(*j));
	j->d = d;
	j->t = t;
	j->dep = dep;
	j->log_path = gg_printf("%s/%lld.log", d->logs_dir, (long long)dep->id);
	j->timeout_ms = tg->timeout_ms;
	j->retries = tg->retries;
	j->nice = tg->nice;
	j->started_ms = gg_now_ms();
	j->env_keys = gg_calloc(tg->nenv + 1, sizeof(char *));
	j->env_vals = gg_calloc(tg->nenv + 1, sizeof(char *));
	for (size_t i = 0; i < tg->nenv; i++) {
		j->env_keys[i] = gg_strdup(tg->env[i].key);
		j->env_vals[i] = gg_strdup(tg->env[i].value ? tg->env[i].value : "");
	}
	j->nenv = tg->nenv;
	j->reconcile = gg_reconcile_is(dep);
	t->job = j;
	d->running++;
	gg_runner_log_line(j->log_path, "deployment %lld of %s: %s %s (attempt %u)",
	                   (long long)dep->id, dep->target, dep->ref ? dep->ref : "-",
	                   dep->after ? dep->after : "-", dep->attempt + 1);
	if (tg->checkout && j->reconcile) {
		j->dir = gg_strdup(tg->checkout->dir);
		if (tg->checkout->run)
			strv_dup(&j->run_tmpl, tg->checkout->run, tg->checkout->nrun);
		job_start_drift(j, tg);
	} else if (tg->remote && !j->reconcile) {
		strv_dup(&j->run_tmpl, tg->run, tg->nrun);
		job_start_fetch(j, tg);
	} else if (tg->checkout) {
		j->phase = PHASE_CHECKOUT;
		j->dir = gg_strdup(tg->checkout->dir);
		if (tg->checkout->run)
			strv_dup(&j->run_tmpl, tg->checkout->run, tg->checkout->nrun);
		j->result_path = gg_printf("%s/%lld.commit", d->logs_dir, (long long)dep->id);
		char *branch = checkout_branch(tg, dep);
		char **argv =
		    checkout_argv(d, tg, branch, j->dir, dep->after, j->result_path, true);
		char **env = job_env(j);
		env_add_url(&env, tg);
		job_spawn(j, argv, env, j->timeout_ms);
		gg_runner_strv_free(argv);
		gg_runner_strv_free(env);
		free(branch);
	} else {
		j->phase = PHASE_COMMAND;
		strv_dup(&j->run_tmpl, tg->run, tg->nrun);
		job_start_command(j);
	}
}

/* ---- the scan ---- */

static void arm_wake(gg_dispatch *d, int64_t at_ms)
{
	int64_t delay = at_ms - now_unix_ms();
	if (delay < 1)
		delay = 1;
	struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
	/* Only ever bring the wake-up earlier. */
	struct timeval cur;
	if (event_pending(d->wake_ev, EV_TIMEOUT, &cur)) {
		struct timeval now;
		event_base_gettimeofday_cached(d->base, &now);
		int64_t cur_ms = ((int64_t)cur.tv_sec - now.tv_sec) * 1000 +
		                 ((int64_t)cur.tv_usec - now.tv_usec) / 1000;
		if (cur_ms <= delay)
			return;
	}
	evtimer_add(d->wake_ev, &tv);
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* A target with queued work: its newest row, and how long it has waited (its oldest). */
struct cand {
	tstate *t;
	const gg_dtarget *tg;
	size_t newest;
	int64_t oldest;
};

static int cand_waited_longest(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->oldest < y->oldest ? -1 : x->oldest > y->oldest;
}

static void cancel_row(gg_dispatch *d, const char *target, int64_t id)
{
	struct wctx *w = wctx_new(d, W_CANCEL, target, id, false);
	w->state = GG_DEP_CANCELED;
	w->exit_status = -1;
	w->reason = gg_strdup("the target is not configured");
	wctx_pend(w, id);
	wctx_submit(w);
}

/*
 * A delivery that the intake let through may still be a replay once the
 * deployments before it finished: judge it again just before it would run.
 * A refused one supersedes nothing, so the next scan takes the newest of
 * the others. The poll's own deployments (no delivery) read the branch itself
 * and are never replays.
 */
static bool refuse_replay(gg_dispatch *d, tstate *t, const gg_dtarget *tg, const gg_deployment *dep)
{
	if (dep->delivery == NULL || dep->attempt > 0)
		return false;
	const char *why =
	    gg_store_replay_reason(d->store, t->name, dep->after, dep->id, tg->allow_rollback);
	if (why == NULL)
		return false;
	char idtext[32];
	snprintf(idtext, sizeof(idtext), "%lld", (long long)dep->id);
	gg_log(GG_LOG_WARN, "deployment refused", "id", idtext, "target", t->name, "delivery",
	       dep->delivery, "reason", why, NULL);
	struct wctx *w = wctx_new(d, W_CANCEL, t->name, dep->id, false);
	w->state = GG_DEP_REFUSED;
	w->exit_status = -1;
	w->reason = gg_strdup(why);
	wctx_pend(w, dep->id);
	wctx_submit(w);
	return true;
}

/*
 * The reconcile row `rec` is the newest queued deployment of t: make it
 * ready to run (0), or drop it (-1). A push queued with it wins: the
 * reconcile ends superseded and the push, which applies the branch anew,
 * runs alone. Otherwise it applies the last successful commit as it is now
 * (one may have succeeded since it was queued).
 */
static int reconcile_ready(gg_dispatch *d, tstate *t, gg_deployment *rec)
{
	gg_deployment *q = NULL;
	size_t nq = 0;
	int64_t push = 0;
	if (gg_store_list_queued(&q, &nq, d->store, t->name) == 0)
		for (size_t i = 0; i < nq; i++)
			if (q[i].id < rec->id && !gg_reconcile_is(&q[i]) &&
			    !pending_has(d, q[i].id))
				push = q[i].id;
	gg_deployments_free(q, nq);
	char *last = NULL;
	int lrc = push ? 0 : gg_store_last_deployed(&last, d->store, t->name);
	if (push == 0 && lrc == 0) {
		free(rec->after);
		rec->after = last;
		return 0;
	}
	struct wctx *w = wctx_new(d, W_CANCEL, t->name, rec->id, false);
	w->exit_status = -1;
	if (push) {
		w->state = GG_DEP_SUPERSEDED;
		w->reason = gg_printf("reconcile: coalesced with %lld", (long long)push);
	} else {
		w->state = GG_DEP_CANCELED;
		w->reason = gg_strdup("reconcile: nothing has been deployed yet");
	}
	wctx_pend(w, rec->id);
	wctx_submit(w);
	free(last);
	return -1;
}

/* A target removed from the config: nothing will ever run its queue. */
static void cancel_target_queue(gg_dispatch *d, const char *target)
{
	gg_deployment *q = NULL;
	size_t nq = 0;
	if (gg_store_list_queued(&q, &nq, d->store, target) < 0)
		return;
	for (size_t i = 0; i < nq; i++)
		if (!pending_has(d, q[i].id))
			cancel_row(d, target, q[i].id);
	gg_deployments_free(q, nq);
}

static bool runs_elsewhere(const tstate *t, int64_t now)
{
	return t->elsewhere_until > now;
}

/*
 * Whether a scan could do anything: start a deployment (a configured target
 * is idle, under max_parallel), or cancel the queue of a target that is no
 * longer configured and no longer running.
 */
static bool worth_scanning(const gg_dispatch *d)
{
	bool slot = d->cfg->max_parallel == 0 || d->running < d->cfg->max_parallel;
	int64_t now = now_unix_ms();
	for (size_t i = 0; i < d->nts; i++) {
		const tstate *t = d->ts[i];
		if (t->job == NULL && t->claiming == NULL &&
		    (!t->configured || (slot && !t->paused && !runs_elsewhere(t, now))))
			return true;
	}
	return false;
}

static void scan(gg_dispatch *d)
{
	if (d->shutting_down)
		return;
	/*
	 * While every target is busy, pushes only add to queues that the end of
	 * each running deployment scans again: reading them on every commit
	 * would cost the loop a query per group of deliveries for nothing.
	 */
	if (!d->scan_all && !worth_scanning(d)) {
		/* The wake-up is shared: keep the earliest deadline of a target run elsewhere. */
		int64_t now = now_unix_ms(), next = 0;
		for (size_t i = 0; i < d->nts; i++)
			if (runs_elsewhere(d->ts[i], now) &&
			    (next == 0 || d->ts[i]->elsewhere_until < next))
				next = d->ts[i]->elsewhere_until;
		if (next)
			arm_wake(d, next);
		return;
	}
	gg_deployment *list = NULL;
	size_t n = 0;
	/*
	 * Only the newest queued deployment of each target can run: older ones
	 * end superseded by one range update when it starts. Reading just those
	 * keeps a scan's cost to the number of targets however long a backlog
	 * grows behind a slow deployment.
	 */
	if (gg_store_list_queued_newest(&list, &n, d->store) < 0) {
		gg_log(GG_LOG_ERROR, "cannot read the deployment queue", NULL);
		return;
	}
	d->scan_all = false;
	/* Rows on their way out of the queue are not work. */
	int64_t *pend = NULL;
	if (d->npending > 0) {
		pend = gg_reallocarray(NULL, d->npending, sizeof(*pend));
		memcpy(pend, d->pending, d->npending * sizeof(*pend));
		qsort(pend, d->npending, sizeof(*pend), id_cmp);
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		bool skip =
		    list[i].target == NULL ||
		    (pend && bsearch(&list[i].id, pend, d->npending, sizeof(*pend), id_cmp));
		if (skip) {
			gg_deployment *gone = gg_malloc(sizeof(*gone));
			*gone = list[i];
			memset(&list[i], 0, sizeof(list[i]));
			gg_deployment_free(gone);
			continue;
		}
		if (kept != i) {
			list[kept] = list[i];
			memset(&list[i], 0, sizeof(list[i]));
		}
		kept++;
	}
	n = kept;
	free(pend);

	/* One candidate per target (indexed like d->ts), then longest waiting first. */
	struct cand *c = gg_calloc(d->nts + 1, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		size_t tlen;
		const char *placed;
		gg_placement_split(list[i].target, &tlen, &placed);
		if (placed && strcmp(placed, d->cfg->replica) != 0)
			continue; /* another replica's own queue (on: each) */
		size_t ti = 0;
		while (ti < d->nts && strcmp(d->ts[ti]->name, list[i].target) != 0)
			ti++;
		tstate *t = ti < d->nts ? d->ts[ti] : NULL;
		const gg_dtarget *tg =
		    t && t->configured ? gg_dconfig_target(d->cfg, t->target) : NULL;
		if (tg == NULL) {
			/* No such target any more (config reloaded): nothing will run it. */
			if (t == NULL || (t->job == NULL && t->claiming == NULL))
				cancel_target_queue(d, list[i].target);
			continue;
		}
		struct cand *k = &c[ti];
		if (k->t == NULL) {
			k->t = t;
			k->tg = tg;
			k->newest = i;
			k->oldest = list[i].id;
		}
		if (list[i].id > list[k->newest].id)
			k->newest = i;
		if (list[i].id < k->oldest)
			k->oldest = list[i].id;
	}
	size_t nc = 0;
	for (size_t ti = 0; ti < d->nts; ti++)
		if (c[ti].t)
			c[nc++] = c[ti];
	qsort(c, nc, sizeof(*c), cand_waited_longest);

	int64_t now = now_unix_ms();
	for (size_t ci = 0;
	     ci < nc && (d->cfg->max_parallel == 0 || d->running < d->cfg->max_parallel); ci++) {
		tstate *t = c[ci].t;
		size_t newest = c[ci].newest;
		if (t->job || t->claiming || t->paused)
			continue;
		if (runs_elsewhere(t, now)) {
			arm_wake(d, t->elsewhere_until); /* one wake-up serves every reason */
			continue;
		}
		if (list[newest].id < t->last_started) {
			/* E.g. a retry whose requeue reached the disk late: a newer one ran. */
			struct wctx *ow = wctx_new(d, W_SUPERSEDE, t->name, t->last_started, false);
			wctx_pend(ow, list[newest].id);
			wctx_submit(ow);
			continue;
		}
		if (list[newest].not_before > now) {
			arm_wake(d, list[newest].not_before);
			continue;
		}
		if (gg_reconcile_is(&list[newest])) {
			/* The finish of what ran last decides which commit is the last good one. */
			if (t->inflight > 0 || reconcile_ready(d, t, &list[newest]) < 0)
				continue;
		}
		if (refuse_replay(d, t, c[ci].tg, &list[newest]))
			continue;
		/*
		 * Everything older of this target ends superseded — also a retry
		 * whose requeue is still on its way to disk, hence always; on a
		 * shared store by the claim, when it wins (gg_store_claim): a
		 * replica that loses leaves the queue to the winner.
		 */
		if (!gg_store_shared(d->store))
			wctx_submit(wctx_new(d, W_SUPERSEDE, t->name, list[newest].id, false));
		/* The deployment stays pending until its finish (or requeue) is on disk. */
		pending_add(d, list[newest].id);
		t->last_started = list[newest].id;
		gg_deployment *dep = gg_malloc(sizeof(*dep));
		*dep = list[newest];
		memset(&list[newest], 0, sizeof(list[newest]));
		if (gg_store_shared(d->store)) {
			/* Other daemons run this queue too: start only what the database granted.
			 */
			t->claiming = dep;
			t->claim_freed = d->freed;
			d->running++;
		}
		struct wctx *cw = wctx_new(d, W_CLAIM, t->name, dep->id, false);
		cw->allow_rollback = c[ci].tg->allow_rollback;
		wctx_submit(cw);
		if (!gg_store_shared(d->store))
			job_start(d, t, c[ci].tg, dep);
	}
	free(c);
	gg_deployments_free(list, n);
}

static void on_scan(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	scan(arg);
}

static void schedule_scan(gg_dispatch *d)
{
	if (!d->shutting_down)
		event_active(d->scan_ev, EV_TIMEOUT, 0);
}

/* ---- poll: reconcile checkout targets with what their branch holds ---- */

static void on_poll_done(gg_run *r, gg_run_end how, int code, void *arg)
{
	(void)r;
	tstate *t = arg;
	gg_dispatch *d = t->d;
	t->poll_run = NULL;
	char *path = gg_strdup(t->poll_result);
	char *commit = how == GG_RUN_EXITED && code == 0 ? read_result(path) : NULL;
	unlink(path);
	free(path);
	const gg_dtarget *tg = t->configured ? gg_dconfig_target(d->cfg, t->target) : NULL;
	const gg_dcheckout *repo = tg ? gg_dtarget_repository(tg) : NULL;
	if (commit && repo && !d->shutting_down && t->job == NULL && t->inflight == 0 &&
	    !(t->refused_commit && !strcmp(t->refused_commit, commit))) {
		gg_deployment *q = NULL;
		size_t nq = 0;
		char *last = NULL;
		int lrc = gg_store_last_deployed(&last, d->store, t->name);
		if (gg_store_list_queued(&q, &nq, d->store, t->name) == 0 && nq == 0 &&
		    (lrc == GG_STORE_NOTFOUND || (lrc == 0 && strcmp(last, commit) != 0))) {
			char *branch = checkout_branch(tg, &(gg_deployment){.ref = NULL});
			gg_deployment dep;
			memset(&dep, 0, sizeof(dep));
			dep.target = t->name;
			dep.repo = tg->repo;
			dep.ref = branch;
			dep.before = last;
			dep.after = commit;
			dep.pusher = DISPATCH_POLL_PUSHER;
			dep.clone_url = repo->url;
			gg_log(GG_LOG_INFO, "branch moved without a webhook", "target", t->name,
			       "ref", branch, "commit", commit, NULL);
			struct wctx *w = wctx_new(d, W_INSERT, t->name, 0, true);
			w->dep = gg_calloc(1, sizeof(*w->dep));
			w->dep->target = gg_strdup(dep.target);
			w->dep->repo = gg_strdup(dep.repo);
			w->dep->ref = gg_strdup(dep.ref);
			w->dep->before = dep.before ? gg_strdup(dep.before) : NULL;
			w->dep->after = gg_strdup(dep.after);
			w->dep->pusher = gg_strdup(dep.pusher);
			w->dep->clone_url = gg_strdup(dep.clone_url);
			wctx_submit(w);
			free(branch);
		}
		gg_deployments_free(q, nq);
		free(last);
	}
	free(commit);
	tstates_gc(d);
	maybe_shutdown_done(d);
}

/* Whether this daemon does what (poll, reconcile) for target: one replica does. */
static bool duty(gg_dispatch *d, const char *what, const char *target)
{
	char *name = gg_printf("%s/%s", what, target);
	bool mine = gg_store_duty(d->store, name);
	free(name);
	return mine;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	tstate *t = arg;
	gg_dispatch *d = t->d;
	if (d->shutting_down || t->poll_run || t->job || t->inflight)
		return; /* busy: what it deploys next is decided without a poll */
	if (!duty(d, "poll", t->name))
		return; /* another replica polls this target */
	const gg_dtarget *tg = gg_dconfig_target(d->cfg, t->target);
	if (tg == NULL || gg_dtarget_repository(tg) == NULL)
		return;
	char *branch = checkout_branch(tg, &(gg_deployment){.ref = NULL});
	char **argv = checkout_argv(d, tg, branch, NULL, NULL, t->poll_result, false);
	char **env = NULL;
	gg_runner_build_env(&env, &(gg_runner_vars){.target = t->target}, NULL, NULL, 0);
	env_add_url(&env, tg);
	char *log = gg_printf("%s/poll-%s.log", d->logs_dir, t->target);
	gg_run_spec spec = {.argv = (const char *const *)argv,
	                    .envp = (const char *const *)env,
	                    .log_path = log,
	                    .log_max = d->cfg->log_max ? d->cfg->log_max : GG_DEFAULT_LOG_MAX,
	                    .timeout_ms = tg->timeout_ms,
	                    .nice = tg->nice};
	char *err = NULL;
	if (gg_run_start(&t->poll_run, d->runner, &spec, on_poll_done, t, &err) < 0) {
		gg_log(GG_LOG_ERROR, "cannot poll", "target", t->name, "error", err, NULL);
		free(err);
	}
	free(log);
	free(branch);
	gg_runner_strv_free(argv);
	gg_runner_strv_free(env);
}

static void tstate_set_poll(gg_dispatch *d, tstate *t, uint64_t poll_ms)
{
	if (t->poll_ev && t->poll_ms == poll_ms)
		return;
	if (t->poll_ev) {
		event_free(t->poll_ev);
		t->poll_ev = NULL;
	}
	t->poll_ms = poll_ms;
	if (poll_ms == 0)
		return;
	t->poll_ev = event_new(d->base, -1, EV_PERSIST, on_poll, t);
	struct timeval tv = {(time_t)(poll_ms / 1000), (suseconds_t)(poll_ms % 1000) * 1000};
	event_add(t->poll_ev, &tv);
}

/* on: each: this replica's own queue follows the newest state any replica was given. */
static void catch_up(gg_dispatch *d, tstate *t)
{
	if (!t->placed || !t->configured || d->shutting_down || t->inflight > 0)
		return;
	gg_deployment *row = gg_placement_catch_up(d->store, t->target, t->name);
	if (row == NULL)
		return;
	struct wctx *w = wctx_new(d, W_INSERT, t->name, 0, true);
	w->dep = row;
	wctx_submit(w);
}

static void on_catch_up(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	tstate *t = arg;
	catch_up(t->d, t);
}

static tstate *tstate_new(gg_dispatch *d, const gg_dtarget *tg, char *name)
{
	tstate *t = gg_calloc(1, sizeof(*t));
	t->d = d;
	t->name = name;
	t->target = gg_strdup(tg->name);
	t->placed = strcmp(name, tg->name) != 0;
	t->configured = true;
	t->poll_result = gg_printf("%s/poll-%s.commit", d->logs_dir, tg->name);
	/* A pause names the target: it holds its queue on every replica. */
	t->paused = paused_in_store(d, tg->name);
	if (t->placed) {
		t->catch_ev = event_new(d->base, -1, EV_PERSIST, on_catch_up, t);
		struct timeval tv = {GG_PLACEMENT_CATCH_UP_MS / 1000, 0};
		event_add(t->catch_ev, &tv);
	}
	return t;
}

static void sync_targets(gg_dispatch *d)
{
	for (size_t i = 0; i < d->nts; i++)
		d->ts[i]->configured = false;
	for (size_t i = 0; i < d->cfg->ntargets; i++) {
		const gg_dtarget *tg = &d->cfg->targets[i];
		char *name = gg_placement_own(d->store, tg, d->cfg->replica);
		tstate *t = tstate_find(d, name);
		bool fresh = t == NULL;
		if (fresh) {
			t = tstate_new(d, tg, name);
			d->ts = gg_reallocarray(d->ts, d->nts + 1, sizeof(*d->ts));
			d->ts[d->nts++] = t;
		} else {
			free(name);
		}
		t->configured = true;
		/* What was delivered while this replica was away is its state too. */
		if (fresh && t->placed)
			catch_up(d, t);
		const gg_dcheckout *repo = gg_dtarget_repository(tg);
		tstate_set_poll(d, t, repo ? repo->poll_ms : 0);
		/*
		 * A polled target reconciles as soon as it appears (at start, or
		 * added by a reload): what its branch got while the daemon was away
		 * is deployed now, not one poll interval later.
		 */
		if (fresh && t->poll_ev)
			on_poll(-1, 0, t);
	}
	for (size_t i = 0; i < d->nts; i++)
		if (!d->ts[i]->configured)
			tstate_set_poll(d, d->ts[i], 0);
	gg_reconcile_sync(d->rec, d->cfg);
	tstates_gc(d);
}

/* ---- reconcile: apply the last successful commit again ---- */

/*
 * The reconciler says target's interval is up. A reconcile is queued only
 * when nothing of the target is: while it deploys or has work queued, what
 * it runs next applies the branch anyway, and the next interval comes soon
 * enough. A paused target queues its reconcile like a push, and a push
 * queued after it supersedes it: they run once.
 */
static void on_reconcile_due(void *arg, const char *target)
{
	gg_dispatch *d = arg;
	tstate *t = tstate_of(d, target);
	const gg_dtarget *tg = gg_dconfig_target(d->cfg, target);
	/* The duty is per queue: each replica reconciles its own host (on: each). */
	if (t == NULL || !t->configured || tg == NULL || d->shutting_down || t->job ||
	    t->inflight || t->poll_run || !duty(d, "reconcile", t->name))
		return;
	char *ref = gg_dtarget_repository(tg) ? checkout_branch(tg, &(gg_deployment){.ref = NULL})
	                                      : gg_strdup(tg->ref);
	gg_deployment *row = gg_reconcile_next(d->store, tg, t->name, ref);
	if (row) {
		gg_log(GG_LOG_DEBUG, "reconcile queued", "target", t->name, "commit", row->after,
		       NULL);
		struct wctx *w = wctx_new(d, W_INSERT, t->name, 0, true);
		w->dep = row;
		wctx_submit(w);
	}
	free(ref);
}

/* A drift check on demand ended: a shutdown may have been waiting for it. */
static void on_reconcile_idle(void *arg)
{
	maybe_shutdown_done(arg);
}

/* ---- the interface ---- */

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	scan(arg);
}

int gg_dispatch_new(gg_dispatch **out, struct event_base *base, gg_store *store,
                    const gg_dconfig *cfg)
{
	gg_dispatch *d = gg_calloc(1, sizeof(*d));
	*out = NULL;
	d->base = base;
	d->store = store;
	d->cfg = cfg;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		free(d);
		return -1;
	}
	exe[n] = '\0';
	d->self_exe = gg_strdup(exe);
	d->logs_dir = gg_printf("%s/logs", cfg->state_dir);
	if (mkdir(d->logs_dir, 0750) < 0 && errno != EEXIST) {
		gg_log(GG_LOG_ERROR, "cannot create the log directory", "dir", d->logs_dir, "error",
		       strerror(errno), NULL);
		free(d->logs_dir);
		free(d->self_exe);
		free(d);
		return -1;
	}
	if (gg_runner_new(&d->runner, base) < 0) {
		free(d->logs_dir);
		free(d->self_exe);
		free(d);
		return -1;
	}
	d->scan_ev = event_new(base, -1, 0, on_scan, d);
	d->wake_ev = evtimer_new(base, on_wake, d);
	gg_reconcile_new(&d->rec, base, d->runner, d->self_exe, d->logs_dir, on_reconcile_due,
	                 on_reconcile_idle, d);
	sync_targets(d);
	d->scan_all = true;
	*out = d;
	/* Whatever is queued (recovered or accepted before a restart) runs now. */
	schedule_scan(d);
	return 0;
}

void gg_dispatch_kick(gg_dispatch *d, char *const *targets, size_t ntargets)
{
	/*
	 * A delivery matched against the config before a reload may name a
	 * target that is gone by now: only a full read cancels its deployment.
	 */
	if (targets == NULL) {
		d->scan_all = true;
		/* Another replica may have resumed a target this one saw paused. */
		for (size_t i = 0; i < d->nts; i++)
			if (d->ts[i]->paused)
				d->ts[i]->paused = paused_in_store(d, d->ts[i]->target);
	}
	for (size_t i = 0; targets && i < ntargets && !d->scan_all; i++) {
		const tstate *t = tstate_find(d, targets[i]);
		if (t == NULL || !t->configured)
			d->scan_all = true;
	}
	schedule_scan(d);
}

void gg_dispatch_notified(gg_dispatch *d, bool freed)
{
	if (freed) {
		d->freed++;
		for (size_t i = 0; i < d->nts; i++) {
			tstate *t = d->ts[i];
			t->elsewhere_until = 0;
			/* Another replica may have resumed a target this one saw paused. */
			if (t->paused)
				t->paused = paused_in_store(d, t->target);
		}
	}
	/* Only targets that may run here make the queue worth a read. */
	schedule_scan(d);
}

bool gg_dispatch_busy(gg_dispatch *d, const char *target)
{
	const tstate *t = tstate_find(d, target);
	return t && t->configured &&
	       (t->job || t->claiming || t->paused || runs_elsewhere(t, now_unix_ms()));
}

void gg_dispatch_reload(gg_dispatch *d, const gg_dconfig *cfg)
{
	d->cfg = cfg;
	sync_targets(d);
	d->scan_all = true;
	schedule_scan(d);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_dispatch *d = arg;
	for (size_t i = 0; i < d->nts; i++) {
		if (d->ts[i]->job && d->ts[i]->job->run)
			gg_run_stop(d->ts[i]->job->run);
		if (d->ts[i]->poll_run)
			gg_run_stop(d->ts[i]->poll_run);
	}
}

void gg_dispatch_shutdown(gg_dispatch *d, uint64_t grace_ms, void (*done)(void *), void *arg)
{
	d->shutting_down = true;
	d->shutdown_done = done;
	d->shutdown_arg = arg;
	event_del(d->wake_ev);
	gg_reconcile_stop(d->rec);
	for (size_t i = 0; i < d->nts; i++) {
		tstate_set_poll(d, d->ts[i], 0);
		/* A poll deploys nothing by itself: no need to let it finish. */
		if (d->ts[i]->poll_run)
			gg_run_stop(d->ts[i]->poll_run);
	}
	d->grace_ev = evtimer_new(d->base, on_grace, d);
	struct timeval tv = {(time_t)(grace_ms / 1000), (suseconds_t)(grace_ms % 1000) * 1000};
	evtimer_add(d->grace_ev, &tv);
	maybe_shutdown_done(d);
}

uint64_t gg_dispatch_claims_lost(const gg_dispatch *d)
{
	return d->claims_lost;
}

size_t gg_dispatch_running(const gg_dispatch *d)
{
	return d->running;
}

void gg_dispatch_set_paused(gg_dispatch *d, const char *target, bool paused)
{
	tstate *t = tstate_of(d, target);
	if (t == NULL)
		return;
	t->paused = paused;
	if (!paused) {
		/* What queued meanwhile runs now: its newest, as after any busy spell. */
		d->scan_all = true;
		schedule_scan(d);
	}
}

gg_reconciler *gg_dispatch_reconciler(gg_dispatch *d)
{
	return d->rec;
}

void gg_dispatch_free(gg_dispatch *d)
{
	if (d == NULL)
		return;
	/* Runs still alive are killed; their deployments stay running and are recovered at start.
	 */
	gg_runner_free(d->runner);
	gg_reconcile_free(d->rec);
	for (size_t i = 0; i < d->nts; i++) {
		job_free(d->ts[i]->job);
		if (d->ts[i]->claiming)
			gg_deployment_free(d->ts[i]->claiming);
		tstate_free(d->ts[i]);
	}
	free(d->ts);
	event_free(d->scan_ev);
	event_free(d->wake_ev);
	if (d->grace_ev)
		event_free(d->grace_ev);
	while (d->retrying) {
		struct wctx *w = d->retrying;
		d->retrying = w->next;
		wctx_free(w);
	}
	free(d->pending);
	free(d->logs_dir);
	free(d->self_exe);
	free(d);
}
