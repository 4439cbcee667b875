/*
 * The reconciler's timers, the shape of a reconcile deployment, and drift
 * checks on demand. Deciding whether a reconcile runs, and running it, is
 * the dispatcher's: a reconcile is a deployment like any other.
 */
#include "reconcile.h"

#include "checkout.h"
#include "drift.h"
#include "log.h"
#include "runner.h"

#include "gitgate/util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Drift checks on demand running at once; more are refused until one ends. */
#define RECONCILE_MAX_CHECKS 4
/* A check on demand gets this long before it is stopped. */
#define RECONCILE_CHECK_TIMEOUT_MS (5 * 60 * 1000)

typedef struct rtimer {
	struct gg_reconciler *r;
	char *target;
	uint64_t interval_ms;
	struct event *ev;
} rtimer;

typedef struct check {
	struct gg_reconciler *r;
	gg_run *run;
	char *result;
	gg_reconcile_drift_fn done;
	void *arg;
	struct check *next;
} check;

struct gg_reconciler {
	struct event_base *base;
	gg_runner *runner;
	char *self_exe;
	char *logs_dir;
	gg_reconcile_due_fn due;
	gg_reconcile_idle_fn idle;
	void *arg;
	rtimer **timers;
	size_t ntimers;
	check *checks;
	size_t nchecks;
	uint64_t seq;
};

void gg_reconcile_new(gg_reconciler **out, struct event_base *base, gg_runner *runner,
                      const char *self_exe, const char *logs_dir, gg_reconcile_due_fn due,
                      gg_reconcile_idle_fn idle, void *arg)
{
	gg_reconciler *r = gg_calloc(1, sizeof(*r));
	r->base = base;
	r->runner = runner;
	r->self_exe = gg_strdup(self_exe);
	r->logs_dir = gg_strdup(logs_dir);
	r->due = due;
	r->idle = idle;
	r->arg = arg;
	*out = r;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	rtimer *t = arg;
	t->r->due(t->r->arg, t->target);
}

static void timer_free(rtimer *t)
{
	if (t->ev)
		event_free(t->ev);
	free(t->target);
	free(t);
}

static size_t timer_find(const gg_reconciler *r, const char *target)
{
	size_t i = 0;
	while (i < r->ntimers && strcmp(r->timers[i]->target, target) != 0)
		i++;
	return i;
}

static void timer_remove(gg_reconciler *r, size_t i)
{
	timer_free(r->timers[i]);
	r->timers[i] = r->timers[--r->ntimers];
}

void gg_reconcile_set(gg_reconciler *r, const char *target, uint64_t interval_ms)
{
	size_t i = timer_find(r, target);
	if (i < r->ntimers && r->timers[i]->interval_ms == interval_ms)
		return;
	if (i < r->ntimers)
		timer_remove(r, i);
	if (interval_ms == 0)
		return;
	rtimer *t = gg_calloc(1, sizeof(*t));
	t->r = r;
	t->target = gg_strdup(target);
	t->interval_ms = interval_ms;
	t->ev = event_new(r->base, -1, EV_PERSIST, on_timer, t);
	struct timeval tv = {(time_t)(interval_ms / 1000),
	                     (suseconds_t)(interval_ms % 1000) * 1000};
	event_add(t->ev, &tv);
	r->timers = gg_reallocarray(r->timers, r->ntimers + 1, sizeof(*r->timers));
	r->timers[r->ntimers++] = t;
}

void gg_reconcile_sync(gg_reconciler *r, const gg_dconfig *cfg)
{
	for (size_t i = 0; i < r->ntimers;) {
		if (gg_dconfig_target(cfg, r->timers[i]->target) == NULL)
			timer_remove(r, i);
		else
			i++;
	}
	for (size_t i = 0; i < cfg->ntargets; i++)
		gg_reconcile_set(r, cfg->targets[i].name, cfg->targets[i].reconcile_ms);
}

void gg_reconcile_stop(gg_reconciler *r)
{
	while (r->ntimers > 0)
		timer_remove(r, r->ntimers - 1);
	for (check *c = r->checks; c; c = c->next)
		if (c->run)
			gg_run_stop(c->run);
}

size_t gg_reconcile_running(const gg_reconciler *r)
{
	return r->nchecks;
}

void gg_reconcile_free(gg_reconciler *r)
{
	if (r == NULL)
		return;
	while (r->ntimers > 0)
		timer_remove(r, r->ntimers - 1);
	free(r->timers);
	/* The runner (freed first) killed what still ran; their callbacks never come. */
	while (r->checks) {
		check *c = r->checks;
		r->checks = c->next;
		unlink(c->result);
		free(c->result);
		free(c);
	}
	free(r->self_exe);
	free(r->logs_dir);
	free(r);
}

bool gg_reconcile_is(const gg_deployment *dep)
{
	return dep->delivery == NULL && dep->pusher && !strcmp(dep->pusher, GG_RECONCILE_PUSHER);
}

gg_deployment *gg_reconcile_next(gg_store *st, const gg_dtarget *tg, const char *queue,
                                 const char *ref)
{
	gg_deployment *q = NULL, *row = NULL;
	size_t nq = 0;
	char *last = NULL;
	if (gg_store_list_queued(&q, &nq, st, queue) == 0 && nq == 0 &&
	    gg_store_last_deployed(&last, st, queue) == 0) {
		const gg_dcheckout *repo = gg_dtarget_repository(tg);
		row = gg_calloc(1, sizeof(*row));
		row->target = gg_strdup(queue);
		row->repo = gg_strdup(tg->repo);
		row->ref = gg_strdup(ref);
		row->before = gg_strdup(last);
		row->after = last;
		last = NULL;
		row->pusher = gg_strdup(GG_RECONCILE_PUSHER);
		row->reason = gg_strdup(GG_RECONCILE_REASON);
		row->clone_url = repo ? gg_strdup(repo->url) : NULL;
	}
	gg_deployments_free(q, nq);
	free(last);
	return row;
}

char *gg_reconcile_reason(const char *why)
{
	if (why == NULL || *why == '\0')
		return gg_strdup(GG_RECONCILE_REASON);
	return gg_printf("%s: %s", GG_RECONCILE_REASON, why);
}

static void argv_add(char ***argv, size_t *n, const char *a, const char *b)
{
	*argv = gg_reallocarray(*argv, *n + 3, sizeof(**argv));
	(*argv)[(*n)++] = gg_strdup(a);
	if (b)
		(*argv)[(*n)++] = gg_strdup(b);
	(*argv)[*n] = NULL;
}

char **gg_reconcile_drift_argv(const char *self_exe, const char *state_dir, const gg_dtarget *tg,
                               const char *commit, const char *result, bool repair)
{
	const gg_dcheckout *co = tg->checkout;
	char **argv = NULL;
	size_t n = 0;
	char *mirror = gg_checkout_mirror_path(state_dir, co->url);
	char keep[16];
	snprintf(keep, sizeof(keep), "%u", co->keep ? co->keep : GG_DEFAULT_KEEP);
	argv_add(&argv, &n, self_exe, NULL);
	argv_add(&argv, &n, GG_DRIFT_OPTION, NULL);
	argv_add(&argv, &n, "--mirror", mirror);
	argv_add(&argv, &n, "--dir", co->dir);
	argv_add(&argv, &n, "--commit", commit);
	argv_add(&argv, &n, "--result", result);
	if (repair) {
		argv_add(&argv, &n, "--repair", NULL);
		argv_add(&argv, &n, "--keep", keep);
	}
	free(mirror);
	return argv;
}

int gg_reconcile_drift_result(char **commit, char **note, bool *drifted, const char *result_path)
{
	json_t *doc = NULL;
	*commit = NULL;
	*note = NULL;
	*drifted = false;
	if (gg_drift_result_read(&doc, result_path) < 0)
		return -1;
	const char *c = json_string_value(json_object_get(doc, "commit"));
	if (c == NULL || (strlen(c) != 40 && strlen(c) != 64) || c[strspn(c, "0123456789abcdef")]) {
		json_decref(doc);
		return -1;
	}
	*commit = gg_strdup(c);
	if (json_is_true(json_object_get(doc, "drifted"))) {
		long long total = (long long)json_integer_value(json_object_get(doc, "total"));
		bool repaired = json_is_true(json_object_get(doc, "repaired"));
		const char *extra = json_is_true(json_object_get(doc, "missing")) ? ", no release"
		                    : json_is_true(json_object_get(doc, "switched"))
		                        ? ", symlink moved"
		                        : "";
		*note = gg_printf("drift %s: %lld path(s)%s", repaired ? "repaired" : "reported",
		                  total, extra);
		*drifted = true;
	}
	json_decref(doc);
	return 0;
}

static void on_check_done(gg_run *run, gg_run_end how, int code, void *arg)
{
	(void)run;
	check *c = arg;
	gg_reconciler *r = c->r;
	json_t *report = NULL;
	const char *err = NULL;
	if (how != GG_RUN_EXITED || code != 0)
		err = how == GG_RUN_TIMED_OUT ? "the drift check ran over its time"
		      : how == GG_RUN_EXITED  ? "the drift check failed (see the daemon's logs/)"
		                              : "the drift check was stopped";
	else if (gg_drift_result_read(&report, c->result) < 0)
		err = "the drift check left no result";
	unlink(c->result);
	for (check **p = &r->checks; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	r->nchecks--;
	c->done(c->arg, report, err);
	json_decref(report);
	free(c->result);
	free(c);
	r->idle(r->arg);
}

int gg_reconcile_drift_check(gg_reconciler *r, const gg_dconfig *cfg, const gg_dtarget *tg,
                             const char *commit, gg_reconcile_drift_fn done, void *arg, char **err)
{
	*err = NULL;
	if (tg->checkout == NULL) {
		*err = gg_strdup("drift is checked for checkout targets only");
		return -1;
	}
	if (r->nchecks >= RECONCILE_MAX_CHECKS) {
		*err = gg_printf("%d drift checks are running; try again", RECONCILE_MAX_CHECKS);
		return -1;
	}
	check *c = gg_calloc(1, sizeof(*c));
	c->r = r;
	c->done = done;
	c->arg = arg;
	c->result =
	    gg_printf("%s/drift-%s-%llu.json", r->logs_dir, tg->name, (unsigned long long)++r->seq);
	char *log = gg_printf("%s/drift-%s.log", r->logs_dir, tg->name);
	char **argv =
	    gg_reconcile_drift_argv(r->self_exe, cfg->state_dir, tg, commit, c->result, false);
	char **env = NULL;
	gg_runner_build_env(&env, &(gg_runner_vars){.target = tg->name}, NULL, NULL, 0);
	gg_run_spec spec = {.argv = (const char *const *)argv,
	                    .envp = (const char *const *)env,
	                    .log_path = log,
	                    .log_max = cfg->log_max ? cfg->log_max : GG_DEFAULT_LOG_MAX,
	                    .timeout_ms = RECONCILE_CHECK_TIMEOUT_MS,
	                    .nice = tg->nice};
	int rc = gg_run_start(&c->run, r->runner, &spec, on_check_done, c, err);
	gg_runner_strv_free(argv);
	gg_runner_strv_free(env);
	free(log);
	if (rc < 0) {
		free(c->result);
		free(c);
		return -1;
	}
	c->next = r->checks;
	r->checks = c;
	r->nchecks++;
	return 0;
}
