/*
 * The dispatcher on a real event loop, store and child processes, without
 * HTTP: the global parallel limit, and a failure that is not retried because
 * a newer deployment of its target was queued meanwhile.
 */
#include "../../daemon/config.h"
#include "../../daemon/dispatch.h"
#include "../../daemon/store.h"
#include "gitgate/util.h"
#include "test.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/gg-dispatch-XXXXXX";

typedef struct {
	struct event_base *base;
	gg_store *store;
	gg_dconfig *cfg;
	gg_dispatch *d;
	struct event *tick;
	size_t max_running;
	int ticks;
	int64_t *watch;
	size_t nwatch;
} fixture;

static int setup(fixture *f, const char *targets_yaml)
{
	memset(f, 0, sizeof(*f));
	char *secret = gg_printf("%s/s.secret", tmp);
	FILE *sf = fopen(secret, "w");
	fputs("x\n", sf);
	fclose(sf);
	chmod(secret, 0600);
	char *state = gg_printf("%s/state-%d", tmp, rand());
	char *yaml = gg_printf("listen: [\"127.0.0.1:1\"]\nstate_dir: %s\nmax_parallel: 2\n"
	                       "retry_backoff: 50ms\nsources:\n  - {name: git, kind: generic, "
	                       "secret_file: %s}\ntargets:\n%s",
	                       state, secret, targets_yaml);
	gg_diag diag = GG_DIAG_INIT;
	int rc = gg_dconfig_parse(&f->cfg, "test.yaml", yaml, strlen(yaml), &diag);
	for (size_t i = 0; i < diag.n; i++)
		printf("#   %s\n", diag.msgs[i]);
	gg_diag_free(&diag);
	free(yaml);
	free(secret);
	if (rc < 0) {
		free(state);
		return -1;
	}
	mkdir(state, 0750);
	free(state);
	f->base = event_base_new();
	char *err = NULL;
	if (gg_store_open(&f->store, f->base, f->cfg->state_dir, &err) < 0) {
		printf("#   %s\n", err);
		free(err);
		return -1;
	}
	return gg_dispatch_new(&f->d, f->base, f->store, f->cfg);
}

static void teardown(fixture *f)
{
	if (f->tick)
		event_free(f->tick);
	gg_dispatch_free(f->d);
	gg_store_close(f->store);
	event_base_free(f->base);
	gg_dconfig_free(f->cfg);
	free(f->watch);
}

static void accepted(void *arg, const gg_store_accept_result *res)
{
	fixture *f = arg;
	CHECK_INT(res->rc, 0);
	for (size_t i = 0; i < res->nids; i++) {
		f->watch = gg_reallocarray(f->watch, f->nwatch + 1, sizeof(*f->watch));
		f->watch[f->nwatch++] = res->ids[i];
	}
	gg_dispatch_kick(f->d, NULL, 0);
}

static void push(fixture *f, const char *delivery, const char *after, const char **targets,
                 size_t n)
{
	gg_store_newdep deps[8];
	for (size_t i = 0; i < n; i++)
		deps[i] = (gg_store_newdep){.target = targets[i],
		                            .source = "git",
		                            .repo = "acme/app",
		                            .ref = "refs/heads/main",
		                            .before = "0",
		                            .after = after,
		                            .pusher = "tester",
		                            .clone_url = "file:///x"};
	gg_store_accept(f->store, "git", delivery, "push", deps, n, accepted, f);
}

static bool all_final(fixture *f)
{
	if (f->nwatch == 0)
		return false;
	for (size_t i = 0; i < f->nwatch; i++) {
		gg_deployment *dep = NULL;
		if (gg_store_get(&dep, f->store, f->watch[i]) < 0)
			return false;
		bool fin = dep->state != GG_DEP_QUEUED && dep->state != GG_DEP_RUNNING;
		gg_deployment_free(dep);
		if (!fin)
			return false;
	}
	return true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	fixture *f = arg;
	size_t r = gg_dispatch_running(f->d);
	if (r > f->max_running)
		f->max_running = r;
	if (++f->ticks > 1000 || (all_final(f) && r == 0))
		event_base_loopbreak(f->base);
}

static void run_loop(fixture *f)
{
	f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, f);
	struct timeval tv = {0, 10000};
	event_add(f->tick, &tv);
	event_base_dispatch(f->base);
}

static gg_dep_state state_of(fixture *f, int64_t id, unsigned *attempt)
{
	gg_deployment *dep = NULL;
	gg_dep_state st = (gg_dep_state)-1;
	if (gg_store_get(&dep, f->store, id) == 0) {
		st = dep->state;
		if (attempt)
			*attempt = dep->attempt;
	}
	gg_deployment_free(dep);
	return st;
}

static void test_parallel_limit(void)
{
	fixture f;
	char *yaml = NULL;
	gg_buf b = GG_BUF_INIT;
	for (int i = 0; i < 4; i++)
		gg_buf_printf(&b,
		              "  - {name: t%d, repo: acme/app, ref: refs/heads/main, run: [sleep, "
		              "\"0.3\"]}\n",
		              i);
	yaml = gg_buf_detach(&b);
	CHECK_INT(setup(&f, yaml), 0);
	free(yaml);
	const char *targets[] = {"t0", "t1", "t2", "t3"};
	push(&f, "d1", "1111111111111111111111111111111111111111", targets, 4);
	run_loop(&f);
	CHECK_INT(f.max_running, 2);
	CHECK_INT(f.nwatch, 4);
	for (size_t i = 0; i < f.nwatch; i++)
		CHECK_INT(state_of(&f, f.watch[i], NULL), GG_DEP_SUCCEEDED);
	teardown(&f);
}

static void push_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	fixture *f = arg;
	const char *targets[] = {"app"};
	push(f, "d2", "2222222222222222222222222222222222222222", targets, 1);
}

static void test_no_retry_when_newer_is_queued(void)
{
	fixture f;
	/* The first commit fails after a while; the second one succeeds. */
	CHECK_INT(setup(&f, "  - name: app\n    repo: acme/app\n    ref: refs/heads/main\n"
	                    "    retries: 3\n    run: [sh, -c, 'sleep 0.3; [ $0 = "
	                    "2222222222222222222222222222222222222222 ]', '{after}']\n"),
	          0);
	const char *targets[] = {"app"};
	push(&f, "d1", "1111111111111111111111111111111111111111", targets, 1);
	struct event *later = evtimer_new(f.base, push_later, &f);
	struct timeval tv = {0, 100000};
	evtimer_add(later, &tv);
	run_loop(&f);
	event_free(later);
	CHECK_INT(f.nwatch, 2);
	if (f.nwatch == 2) {
		unsigned attempt = 9;
		CHECK_INT(state_of(&f, f.watch[0], &attempt), GG_DEP_FAILED);
		CHECK_INT(attempt, 0);
		CHECK_INT(state_of(&f, f.watch[1], NULL), GG_DEP_SUCCEEDED);
	}
	teardown(&f);
}

static void test_retry_then_success(void)
{
	fixture f;
	char *yaml = gg_printf("  - name: app\n    repo: acme/app\n    ref: refs/heads/main\n"
	                       "    retries: 2\n    run: [sh, -c, 'echo x >> %s/tries; [ $(wc -l < "
	                       "%s/tries) -ge 2 ]']\n",
	                       tmp, tmp);
	CHECK_INT(setup(&f, yaml), 0);
	free(yaml);
	const char *targets[] = {"app"};
	push(&f, "d1", "1111111111111111111111111111111111111111", targets, 1);
	run_loop(&f);
	unsigned attempt = 9;
	CHECK_INT(f.nwatch, 1);
	if (f.nwatch == 1) {
		CHECK_INT(state_of(&f, f.watch[0], &attempt), GG_DEP_SUCCEEDED);
		CHECK_INT(attempt, 1);
	}
	teardown(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmp) == NULL)
		return 1;
	RUN(test_parallel_limit);
	RUN(test_no_retry_when_newer_is_queued);
	RUN(test_retry_then_success);
	char *cmd = gg_printf("rm -rf %s", tmp);
	if (system(cmd) != 0)
		t_failures++;
	free(cmd);
	return TEST_DONE();
}
