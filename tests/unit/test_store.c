/*
 * Unit tests for the store: deliveries, duplicates, the deployment queue,
 * group commit. One suite, run on both stores: SQLite under a temporary
 * directory, then PostgreSQL on a server tests/pgserver.sh starts for the
 * run (one database per store the suite opens). Then what only PostgreSQL
 * has: schema versions, concurrent migration, losing the server.
 */
#define GG_PQ_LINKED /* the tests call libpq themselves */
#include "../../daemon/store.h"
#include "../../daemon/store_pg_db.h"
#include "test.h"

#include "gitgate/util.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gg-store-XXXXXX";
static bool on_pg;      /* the suite's current store */
static char *pg_dir;    /* the server's directory */
static char *pg_passwd; /* role gg's password */

/* Run sql on database db as the server's superuser; 0 or -1. */
static int pg_admin(const char *db, const char *sql)
{
	char *ci = gg_printf("host=%s user=ggadmin dbname=%s", pg_dir, db);
	PGconn *c = PQconnectdb(ci);
	free(ci);
	PGresult *r = PQexec(c, sql);
	int rc =
	    PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
	if (rc < 0)
		printf("#   %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

/* The first column of the first row of sql on db, as an integer; -1 on failure. */
static long pg_value(const char *db, const char *sql)
{
	char *ci = gg_printf("host=%s user=ggadmin dbname=%s", pg_dir, db);
	PGconn *c = PQconnectdb(ci);
	free(ci);
	PGresult *r = PQexec(c, sql);
	long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
	             ? strtol(PQgetvalue(r, 0, 0), NULL, 10)
	             : -1;
	PQclear(r);
	PQfinish(c);
	return v;
}

/* gg's connection string to database db (created, owned by gg, on first use). */
static char *pg_conninfo(const char *db)
{
	char *sql = gg_printf("SELECT count(*) FROM pg_database WHERE datname='%s'", db);
	if (pg_value("postgres", sql) == 0) {
		char *create = gg_printf("CREATE DATABASE %s OWNER gg", db);
		pg_admin("postgres", create);
		free(create);
	}
	free(sql);
	return gg_printf("host=%s user=gg password=%s dbname=%s", pg_dir, pg_passwd, db);
}

/* Open the suite's store named by path's last component (a directory, or a database). */
static int open_store(gg_store **st, struct event_base *base, const char *path, char **err)
{
	if (!on_pg)
		return gg_store_open(st, base, path, err);
	char *db = gg_printf("gg_%s", strrchr(path, '/') + 1);
	char *ci = pg_conninfo(db);
	int rc = gg_store_open_postgres(st, base, ci, "test", 30000, err);
	free(ci);
	free(db);
	return rc;
}

typedef struct {
	int calls;
	int rc;
	bool duplicate;
	int64_t ids[8];
	const char *refused[8];
	size_t nids;
	int64_t id;
	int order[512];
	int norder;
} seen;

static void on_accept(void *arg, const gg_store_accept_result *res)
{
	seen *s = arg;
	s->calls++;
	s->rc = res->rc;
	s->duplicate = res->duplicate;
	s->nids = res->nids;
	for (size_t i = 0; i < res->nids && i < 8; i++) {
		s->ids[i] = res->ids[i];
		s->refused[i] = res->refused ? res->refused[i] : NULL;
	}
}

static void on_done(void *arg, int rc, int64_t id)
{
	seen *s = arg;
	s->calls++;
	s->rc = rc;
	s->id = id;
}

static const gg_store_newdep two[] = {
    {.target = "prod",
     .source = "github",
     .repo = "acme/x",
     .ref = "refs/heads/main",
     .before = "aaaa",
     .after = "bbbb",
     .pusher = "alice",
     .clone_url = "https://x"},
    {.target = "docs",
     .source = "github",
     .repo = "acme/x",
     .ref = "refs/heads/main",
     .before = "aaaa",
     .after = "bbbb",
     .pusher = "alice",
     .clone_url = "https://x"},
};

static void test_accept_and_duplicates(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/a", dir);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	if (st == NULL) {
		printf("#   %s\n", err);
		free(err);
		free(sub);
		return;
	}
	seen s = {0};
	gg_store_accept(st, "github", "d-1", "push", two, 2, on_accept, &s);
	CHECK_INT(s.calls, 1); /* synchronous without an event base */
	CHECK_INT(s.rc, 0);
	CHECK(!s.duplicate);
	CHECK_INT(s.nids, 2);
	int64_t first = s.ids[0];
	CHECK(s.ids[1] == first + 1);

	gg_store_accept(st, "github", "d-1", "push", two, 2, on_accept, &s);
	CHECK_INT(s.calls, 2);
	CHECK(s.duplicate);
	CHECK_INT(s.nids, 0);
	/* The same id from another source is another delivery. */
	gg_store_accept(st, "gitlab", "d-1", "push", two, 1, on_accept, &s);
	CHECK(!s.duplicate);
	CHECK_INT(s.nids, 1);
	/* A delivery that queues nothing is still remembered. */
	gg_store_accept(st, "github", "ping-1", "ping", NULL, 0, on_accept, &s);
	CHECK(!s.duplicate && s.rc == 0 && s.nids == 0);
	gg_store_accept(st, "github", "ping-1", "ping", NULL, 0, on_accept, &s);
	CHECK(s.duplicate);

	gg_deployment *d = NULL;
	CHECK_INT(gg_store_get(&d, st, first), 0);
	if (d) {
		CHECK_STR(d->target, "prod");
		CHECK_STR(d->delivery, "d-1");
		CHECK_STR(d->after, "bbbb");
		CHECK_STR(d->clone_url, "https://x");
		CHECK(d->state == GG_DEP_QUEUED);
		CHECK_INT(d->exit_status, -1);
		CHECK(d->created_at > 0 && d->started_at == 0);
		gg_deployment_free(d);
	}
	CHECK_INT(gg_store_get(&d, st, 9999), GG_STORE_NOTFOUND);

	/* Forgotten after pruning: the same id is new again. */
	usleep(5000);
	gg_store_prune(st, 0);
	gg_store_accept(st, "github", "d-1", "push", two, 1, on_accept, &s);
	CHECK(!s.duplicate);
	gg_store_close(st);

	/* Everything is still there after reopening. */
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	gg_deployment *list = NULL;
	size_t n = 0;
	CHECK_INT(gg_store_list(&list, &n, st, NULL, 100), 0);
	CHECK_INT(n, 4);
	if (n == 4)
		CHECK(list[0].id > list[3].id); /* most recent first */
	gg_deployments_free(list, n);
	CHECK_INT(gg_store_list(&list, &n, st, "docs", 100), 0);
	CHECK_INT(n, 1);
	gg_deployments_free(list, n);
	gg_store_close(st);
	free(sub);
}

static void test_queue_lifecycle(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/q", dir);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	free(sub);
	if (st == NULL) {
		free(err);
		return;
	}
	seen s = {0};
	int64_t ids[4];
	for (int i = 0; i < 4; i++) {
		char del[16];
		snprintf(del, sizeof(del), "q-%d", i);
		gg_store_accept(st, "github", del, "push", two, 1, on_accept, &s);
		ids[i] = s.ids[0];
	}
	gg_deployment *list = NULL;
	size_t n = 0;
	CHECK_INT(gg_store_list_queued(&list, &n, st, "prod"), 0);
	CHECK_INT(n, 4);
	if (n == 4)
		CHECK(list[0].id == ids[0] && list[3].id == ids[3]); /* oldest first */
	gg_deployments_free(list, n);

	/* The newest queued per target, cheaply. */
	gg_store_accept(st, "github", "q-docs", "push", two + 1, 1, on_accept, &s);
	int64_t docs_id = s.ids[0];
	CHECK_INT(gg_store_list_queued_newest(&list, &n, st), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK(list[0].id == ids[3]);
		CHECK_STR(list[0].target, "prod");
		CHECK(list[1].id == docs_id);
		CHECK_STR(list[1].target, "docs");
	}
	gg_deployments_free(list, n);
	gg_store_finish(st, docs_id, GG_DEP_CANCELED, -1, NULL, "test", on_done, &s);
	CHECK_INT(s.rc, 0);

	/* Coalesce: everything older than the newest is superseded. */
	gg_store_supersede(st, "prod", ids[3], on_done, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(s.id, 3);
	gg_deployment *d = NULL;
	CHECK_INT(gg_store_get(&d, st, ids[0]), 0);
	if (d) {
		CHECK(d->state == GG_DEP_SUPERSEDED);
		CHECK(d->finished_at > 0);
		CHECK(d->reason && strstr(d->reason, "superseded by"));
		gg_deployment_free(d);
	}

	gg_store_claim(st, ids[3], true, on_done, &s);
	CHECK_INT(s.rc, 0);
	gg_store_claim(st, ids[3], true, on_done, &s);
	CHECK_INT(s.rc, GG_STORE_CONFLICT);
	gg_store_claim(st, 424242, true, on_done, &s);
	CHECK_INT(s.rc, GG_STORE_NOTFOUND);
	CHECK_INT(gg_store_get(&d, st, ids[3]), 0);
	if (d) {
		CHECK(d->state == GG_DEP_RUNNING && d->started_at > 0);
		gg_deployment_free(d);
	}

	/* A retry goes back to the queue with a later start. */
	gg_store_requeue(st, ids[3], 12345, on_done, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(gg_store_get(&d, st, ids[3]), 0);
	if (d) {
		CHECK(d->state == GG_DEP_QUEUED);
		CHECK_INT(d->attempt, 1);
		CHECK_INT(d->not_before, 12345);
		gg_deployment_free(d);
	}
	gg_store_claim(st, ids[3], true, on_done, &s);
	gg_store_finish(st, ids[3], GG_DEP_SUCCEEDED, 0, "cafe", NULL, on_done, &s);
	CHECK_INT(s.rc, 0);
	gg_store_finish(st, ids[3], GG_DEP_FAILED, 1, NULL, NULL, on_done, &s);
	CHECK_INT(s.rc, GG_STORE_CONFLICT);
	CHECK_INT(gg_store_get(&d, st, ids[3]), 0);
	if (d) {
		CHECK(d->state == GG_DEP_SUCCEEDED);
		CHECK_INT(d->exit_status, 0);
		CHECK_STR(d->commit, "cafe");
		gg_deployment_free(d);
	}
	char *commit = NULL;
	CHECK_INT(gg_store_last_deployed(&commit, st, "prod"), 0);
	CHECK_STR(commit, "cafe");
	free(commit);
	CHECK_INT(gg_store_last_deployed(&commit, st, "docs"), GG_STORE_NOTFOUND);

	/* A deployment not tied to a delivery, interrupted and recovered. */
	gg_deployment nd = {.target = "docs",
	                    .source = "poll",
	                    .repo = "acme/docs",
	                    .ref = "refs/heads/main",
	                    .after = "dddd"};
	gg_store_insert(st, &nd, on_done, &s);
	CHECK_INT(s.rc, 0);
	int64_t pid = s.id;
	gg_store_claim(st, pid, true, on_done, &s);
	size_t recovered = 0;
	CHECK_INT(gg_store_recover(st, &recovered), 0);
	CHECK_INT(recovered, 1);
	CHECK_INT(gg_store_get(&d, st, pid), 0);
	if (d) {
		CHECK(d->state == GG_DEP_QUEUED);
		CHECK(d->delivery == NULL);
		gg_deployment_free(d);
	}
	gg_store_finish(st, pid, GG_DEP_TIMED_OUT, -1, NULL, "timeout", on_done, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(gg_store_get(&d, st, pid), 0);
	if (d) {
		CHECK(d->state == GG_DEP_TIMED_OUT);
		CHECK_INT(d->exit_status, -1);
		gg_deployment_free(d);
	}
	CHECK(gg_store_healthy(st, NULL));
	gg_store_close(st);
}

typedef struct {
	seen *s;
	int i;
} order_arg;

static void on_ordered(void *arg, const gg_store_accept_result *res)
{
	order_arg *a = arg;
	if (res->rc == 0 && res->nids == 1)
		a->s->order[a->s->norder++] = a->i;
	a->s->calls++;
}

static void test_threaded_group_commit(void)
{
	struct event_base *base = event_base_new();
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/t", dir);
	CHECK_INT(open_store(&st, base, sub, &err), 0);
	free(sub);
	if (st == NULL) {
		free(err);
		event_base_free(base);
		return;
	}
	enum { N = 300 };
	static order_arg args[N];
	seen s = {0};
	for (int i = 0; i < N; i++) {
		char del[16];
		snprintf(del, sizeof(del), "t-%d", i);
		args[i] = (order_arg){&s, i};
		gg_store_accept(st, "github", del, "push", two, 1, on_ordered, &args[i]);
	}
	/* Nothing completes before the loop runs: callbacks come from the loop. */
	CHECK_INT(s.calls, 0);
	for (int spins = 0; s.calls < N && spins < 100000; spins++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK_INT(s.calls, N);
	CHECK_INT(s.norder, N);
	bool in_order = true;
	for (int i = 0; i < s.norder; i++)
		in_order = in_order && s.order[i] == i;
	CHECK(in_order);
	CHECK_INT(gg_store_pending(st), 0);
	gg_deployment *list = NULL;
	size_t n = 0;
	CHECK_INT(gg_store_list_queued(&list, &n, st, "prod"), 0);
	CHECK_INT(n, N);
	gg_deployments_free(list, n);
	/*
	 * The store analyzed the young table as it grew, so that its cached
	 * plans are made for its size, not for an empty table (a scan).
	 */
	if (on_pg)
		CHECK(pg_value("gg_t",
		               "SELECT reltuples FROM pg_class WHERE relname='deployments'") > 0);

	/* Writes queued at close are finished, not lost. */
	gg_store_accept(st, "github", "late", "push", two, 1, NULL, NULL);
	gg_store_close(st);
	sub = gg_printf("%s/t", dir);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	free(sub);
	if (st) {
		CHECK_INT(gg_store_list_queued(&list, &n, st, "prod"), 0);
		CHECK_INT(n, N + 1);
		gg_deployments_free(list, n);
		gg_store_close(st);
	}
	event_base_free(base);
}

static void on_rc(void *arg, int rc, int64_t id)
{
	(void)id;
	*(int *)arg = rc;
}

/*
 * The reports outbox: an event per state a deployment enters, written
 * with the state; a cursor per destination that only moves forward;
 * pruning of what every cursor is past and of what is too old to send.
 */
static void test_report_outbox(void)
{
	gg_store *s = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/outbox", dir);
	CHECK_INT(open_store(&s, NULL, sub, &err), 0);
	free(sub);
	if (s == NULL) {
		free(err);
		return;
	}
	int rc = 1;
	gg_deployment d = {.target = "prod",
	                   .source = "github",
	                   .repo = "acme/app",
	                   .ref = "refs/heads/main",
	                   .before = "0000",
	                   .after = "bbbb",
	                   .pusher = "alice",
	                   .exit_status = -1};
	gg_store_insert(s, &d, on_rc, &rc); /* queued: an event before any cursor */
	CHECK_INT(rc, 0);
	gg_report_event ev;
	/* No cursor, nothing to send; a new destination starts after what exists. */
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), GG_STORE_NOTFOUND);
	gg_store_report_init(s, "prod", "github", on_rc, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), GG_STORE_NOTFOUND);

	gg_store_claim(s, 1, true, on_rc, &rc);
	gg_store_finish(s, 1, GG_DEP_SUCCEEDED, 0, "bbbb", NULL, on_rc, &rc);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	CHECK_INT(ev.deployment, 1);
	CHECK_INT(ev.state, GG_DEP_RUNNING);
	CHECK(ev.at > 0);
	int64_t running = ev.id;
	/* A failed attempt keeps the cursor; a sent one moves it, never back. */
	gg_store_report_record(s, "prod", "github", 0, "running", "failed", "HTTP 500", on_rc, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	CHECK_INT(ev.id, running);
	gg_report_status *st = NULL;
	size_t n = 0;
	CHECK_INT(gg_store_report_status(&st, &n, s, "prod"), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(st[0].result, "failed");
		CHECK_STR(st[0].error, "HTTP 500");
		CHECK_INT(st[0].pending, 2);
	}
	gg_report_statuses_free(st, n);
	gg_store_report_record(s, "prod", "github", running, "running", "sent", NULL, on_rc, &rc);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	CHECK_INT(ev.state, GG_DEP_SUCCEEDED);
	int64_t done = ev.id;
	gg_store_report_record(s, "prod", "github", done, "succeeded", "sent", NULL, on_rc, &rc);
	gg_store_report_record(s, "prod", "github", running, "running", "sent", NULL, on_rc, &rc);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), GG_STORE_NOTFOUND);
	gg_store_report_record(s, "prod", "nobody", done, NULL, "sent", NULL, on_rc, &rc);
	CHECK_INT(rc, GG_STORE_NOTFOUND);

	st = NULL;
	n = 0;
	CHECK_INT(gg_store_report_status(&st, &n, s, "prod"), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(st[0].dest, "github");
		CHECK_STR(st[0].state, "running"); /* the last record written */
		CHECK_STR(st[0].result, "sent");
		CHECK(st[0].error == NULL);
		CHECK_INT(st[0].pending, 0);
	}
	gg_report_statuses_free(st, n);
	/* Everything every cursor is past goes; the destination still has nothing to send. */
	gg_store_report_ref_set(s, "prod", "github", 1, 4321, on_rc, &rc);
	CHECK_INT(rc, 0);
	gg_store_report_ref_set(s, "prod", "github", 1, 4322, on_rc, &rc);
	CHECK_INT(rc, 0);
	int64_t remote = 0;
	CHECK_INT(gg_store_report_ref(&remote, s, "prod", "github", 1), 0);
	CHECK_INT(remote, 4322);
	CHECK_INT(gg_store_report_ref(&remote, s, "prod", "gitlab", 1), GG_STORE_NOTFOUND);
	gg_store_report_prune(s, 3600 * 1000);
	/* Its deployment has no events left: the remote id goes with them. */
	CHECK_INT(gg_store_report_ref(&remote, s, "prod", "github", 1), GG_STORE_NOTFOUND);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), GG_STORE_NOTFOUND);

	/* An event older than report_max_age is dropped unsent. */
	gg_store_insert(s, &d, on_rc, &rc);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	CHECK_INT(ev.deployment, 2);
	CHECK_INT(ev.state, GG_DEP_QUEUED);
	gg_store_report_prune(s, 3600 * 1000);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	usleep(20 * 1000);
	gg_store_report_prune(s, 10);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), GG_STORE_NOTFOUND);

	/* A replay of the commit the target runs is reported queued, then refused. */
	static const gg_store_newdep replay = {.target = "prod",
	                                       .source = "github",
	                                       .repo = "acme/app",
	                                       .ref = "refs/heads/main",
	                                       .before = "0000",
	                                       .after = "bbbb",
	                                       .pusher = "alice"};
	seen acc = {0};
	gg_store_accept(s, "github", "replay-1", "push", &replay, 1, on_accept, &acc);
	CHECK_INT(acc.rc, 0);
	CHECK_INT(acc.nids, 1);
	CHECK_STR(acc.refused[0], GG_REPLAY_DEPLOYED);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	CHECK_INT(ev.deployment, acc.ids[0]);
	CHECK_INT(ev.state, GG_DEP_QUEUED);
	gg_store_report_record(s, "prod", "github", ev.id, "queued", "sent", NULL, on_rc, &rc);
	CHECK_INT(gg_store_report_next(&ev, s, "prod", "github"), 0);
	CHECK_INT(ev.deployment, acc.ids[0]);
	CHECK_INT(ev.state, GG_DEP_REFUSED);
	gg_store_close(s);
}

static int count;
static void count_cb(void *arg, const char *target, gg_dep_state st, uint64_t n)
{
	(void)arg, (void)target, (void)st;
	count += (int)n;
}

static void test_counts_and_state_names(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/q", dir);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	free(sub);
	if (st == NULL) {
		free(err);
		return;
	}
	count = 0;
	CHECK_INT(gg_store_count_by_state(st, count_cb, NULL), 0);
	CHECK_INT(count, 6);
	gg_store_close(st);
	gg_dep_state s;
	for (int i = 0; i < GG_DEP_NSTATES; i++) {
		CHECK_INT(gg_dep_state_parse(&s, gg_dep_state_name((gg_dep_state)i)), 0);
		CHECK_INT(s, i);
	}
	CHECK_INT(gg_dep_state_parse(&s, "exploded"), -1);
	CHECK_STR(gg_dep_state_name(GG_DEP_TIMED_OUT), "timed_out");
}

/* One deployment of `commit` on target "app", accepted; its id, and why it was refused. */
static int64_t push(gg_store *st, const char *delivery, const char *commit, bool rollback,
                    const char **why)
{
	gg_store_newdep d = {.target = "app",
	                     .source = "git",
	                     .repo = "acme/app",
	                     .ref = "refs/heads/main",
	                     .before = "0000",
	                     .after = commit,
	                     .pusher = "alice",
	                     .allow_rollback = rollback};
	seen s = {0};
	gg_store_accept(st, "git", delivery, "push", &d, 1, on_accept, &s);
	*why = s.nids == 1 ? s.refused[0] : "none";
	return s.nids == 1 ? s.ids[0] : -1;
}

static void finish(gg_store *st, int64_t id, gg_dep_state state)
{
	seen s = {0};
	gg_store_claim(st, id, true, on_done, &s);
	gg_store_finish(st, id, state, 0, NULL, NULL, on_done, &s);
	CHECK_INT(s.rc, 0);
}

/* Replays never move a target back, nor run what it already runs. */
static void test_replays(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/replay", dir);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	free(sub);
	if (st == NULL) {
		free(err);
		return;
	}
	const char *why = NULL;
	int64_t a = push(st, "d-a", "aaaa", false, &why);
	CHECK(why == NULL);
	finish(st, a, GG_DEP_SUCCEEDED);
	/* The commit it runs, again under a fresh delivery id: stored, refused. */
	int64_t again = push(st, "d-a2", "aaaa", false, &why);
	CHECK(again > a);
	CHECK_STR(why, GG_REPLAY_DEPLOYED);
	gg_deployment *dep = NULL;
	CHECK_INT(gg_store_get(&dep, st, again), 0);
	if (dep) {
		CHECK_STR(gg_dep_state_name(dep->state), "refused");
		CHECK_STR(dep->reason, GG_REPLAY_DEPLOYED);
		CHECK(dep->finished_at > 0);
	}
	gg_deployment_free(dep);

	int64_t b = push(st, "d-b", "bbbb", false, &why);
	CHECK(why == NULL);
	/* b is only queued: a replay of a, the last success, is still refused ... */
	push(st, "d-a3", "aaaa", false, &why);
	CHECK_STR(why, GG_REPLAY_DEPLOYED);
	finish(st, b, GG_DEP_SUCCEEDED);
	/* ... and once b ran, a is an older commit. */
	push(st, "d-a4", "aaaa", false, &why);
	CHECK_STR(why, GG_REPLAY_OLDER);
	/* Unless the target allows rollbacks. */
	int64_t back = push(st, "d-a5", "aaaa", true, &why);
	CHECK(why == NULL);
	CHECK(gg_store_replay_reason(st, "app", "aaaa", back, true) == NULL);
	finish(st, back, GG_DEP_SUCCEEDED);

	/* A commit that never ran but was superseded by a newer one is older too. */
	int64_t c = push(st, "d-c", "cccc", false, &why);
	int64_t d = push(st, "d-d", "dddd", false, &why);
	CHECK(why == NULL);
	seen s = {0};
	gg_store_supersede(st, "app", d, on_done, &s);
	CHECK_STR(gg_store_replay_reason(st, "app", "cccc", 0, false), GG_REPLAY_OLDER);
	/* The newest request itself is no replay, judged before it runs. */
	CHECK(gg_store_replay_reason(st, "app", "dddd", d, false) == NULL);
	CHECK(gg_store_replay_reason(st, "app", "eeee", 0, false) == NULL);
	(void)c;
	/* Refused rows are no history: they never asked anything of the target. */
	CHECK(gg_store_replay_reason(st, "other", "aaaa", 0, false) == NULL);
	gg_store_close(st);
}

static void test_pauses_and_insert_reason(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/p", dir);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	free(err);
	if (st == NULL) {
		free(sub);
		return;
	}
	int64_t since = -1;
	char *by = NULL;
	seen s = {0};
	CHECK_INT(gg_store_paused(st, "prod", &since, &by), GG_STORE_NOTFOUND);
	CHECK(by == NULL && since == 0);
	gg_store_pause(st, "prod", "alice from 127.0.0.1", on_done, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(s.id, 1);
	CHECK_INT(gg_store_paused(st, "prod", &since, &by), 0);
	CHECK_STR(by, "alice from 127.0.0.1");
	CHECK(since > 0);
	int64_t first = since;
	free(by);
	/* Pausing again keeps who paused it first, and since when. */
	gg_store_pause(st, "prod", "bob", on_done, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(s.id, 0);
	CHECK_INT(gg_store_paused(st, "prod", &since, &by), 0);
	CHECK_STR(by, "alice from 127.0.0.1");
	CHECK_INT(since, first);
	free(by);
	CHECK_INT(gg_store_paused(st, "docs", &since, &by), GG_STORE_NOTFOUND);
	gg_store_resume(st, "prod", on_done, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(s.id, 1);
	CHECK_INT(gg_store_paused(st, "prod", &since, &by), GG_STORE_NOTFOUND);
	gg_store_resume(st, "prod", on_done, &s);
	CHECK_INT(s.id, 0);

	/* A paused target stays paused across a reopen. */
	gg_store_pause(st, "docs", NULL, on_done, &s);
	gg_store_close(st);
	CHECK_INT(open_store(&st, NULL, sub, &err), 0);
	free(err);
	free(sub);
	if (st == NULL)
		return;
	CHECK_INT(gg_store_paused(st, "docs", &since, &by), 0);
	CHECK(by == NULL);

	/* An inserted deployment keeps its reason while queued. */
	gg_deployment dep = {.target = "prod",
	                     .after = "cccc",
	                     .pusher = "gitgated (reconcile)",
	                     .reason = "reconcile"};
	gg_store_insert(st, &dep, on_done, &s);
	CHECK_INT(s.rc, 0);
	gg_deployment *got = NULL;
	CHECK_INT(gg_store_get(&got, st, s.id), 0);
	if (got) {
		CHECK_STR(got->reason, "reconcile");
		CHECK(got->delivery == NULL);
		gg_deployment_free(got);
	}
	gg_store_close(st);
}

static void test_open_failure(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	CHECK_INT(open_store(&st, NULL, "/proc/gitgate-no-such/dir", &err), -1);
	CHECK(st == NULL);
	CHECK(err != NULL);
	free(err);
}

static void test_pg_open_failures(void)
{
	gg_store *st = NULL;
	char *err = NULL;
	/* A database that does not exist. */
	char *ci = gg_printf("host=%s user=gg password=%s dbname=gg_missing", pg_dir, pg_passwd);
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), -1);
	CHECK(st == NULL);
	CHECK(err && strstr(err, "gg_missing") && strstr(err, "does not exist"));
	CHECK(err && !strstr(err, pg_passwd));
	free(err);
	free(ci);
	/* A wrong password: refused, and it is not repeated back. */
	ci = gg_printf("host=%s user=gg password=WrongSecret1234 dbname=gg", pg_dir);
	err = NULL;
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), -1);
	CHECK(err && strstr(err, "password authentication failed"));
	CHECK(err && !strstr(err, "WrongSecret1234"));
	if (err)
		printf("#   %s\n", err);
	free(err);
	free(ci);
	/* A string libpq cannot parse: its message (which quotes it) is not passed on. */
	err = NULL;
	CHECK_INT(
	    gg_store_open_postgres(&st, NULL, "host=x password TopSecret99", "test", 30000, &err),
	    -1);
	CHECK(err && !strstr(err, "TopSecret99"));
	free(err);
	char *why = NULL;
	CHECK(!gg_store_conninfo_valid("host=x password TopSecret99", &why));
	CHECK(why && strstr(why, "not a libpq connection string") && !strstr(why, "TopSecret99"));
	free(why);
	why = NULL;
	CHECK(gg_store_conninfo_valid("postgresql://gg:pw@localhost/gg", &why));
	CHECK(why == NULL);
	/* A read-only database is refused at open, with the reason. */
	ci = pg_conninfo("gg_ro");
	CHECK_INT(pg_admin("postgres", "ALTER DATABASE gg_ro SET default_transaction_read_only=on"),
	          0);
	err = NULL;
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), -1);
	CHECK(err && strstr(err, "read-only"));
	CHECK_INT(pg_value("gg_ro", "SELECT count(*) FROM pg_tables WHERE schemaname='public'"), 0);
	free(err);
	char *msg = NULL;
	CHECK_INT(gg_store_check_postgres(ci, &msg), -1);
	CHECK(msg && strstr(msg, "read-only"));
	free(msg);
	free(ci);
}

static void test_pg_schema_versions(void)
{
	gg_store *st = NULL;
	char *err = NULL, *msg = NULL;
	char *ci = pg_conninfo("gg_versions");
	CHECK_INT(gg_store_check_postgres(ci, &msg), 0);
	CHECK(msg && strstr(msg, "no schema yet"));
	free(msg);
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), 0);
	gg_store_close(st);
	CHECK_INT(gg_store_check_postgres(ci, &msg), 0);
	CHECK(msg && strstr(msg, "schema current (version 4)"));
	free(msg);
	/* Reopening a current schema changes nothing. */
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), 0);
	gg_store_close(st);
	CHECK_INT(pg_value("gg_versions", "SELECT count(*) FROM gitgated_schema"), 1);

	/* A newer gitgated migrated it: refused, with a clear message, nothing changed. */
	CHECK_INT(pg_admin("gg_versions", "INSERT INTO gitgated_schema VALUES (7, 0)"), 0);
	CHECK_INT(pg_admin("gg_versions", "CREATE TABLE later_table(x int)"), 0);
	st = NULL;
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), -1);
	CHECK(st == NULL);
	CHECK(err && strstr(err, "version 7, newer than this gitgated's (4)"));
	free(err);
	CHECK_INT(gg_store_check_postgres(ci, &msg), -1);
	CHECK(msg && strstr(msg, "newer"));
	free(msg);
	CHECK_INT(pg_value("gg_versions", "SELECT count(*) FROM gitgated_schema"), 2);
	CHECK_INT(pg_value("gg_versions", "SELECT max(version) FROM gitgated_schema"), 7);
	free(ci);
}

/*
 * A database at schema version 1 (before the reports outbox and replicas)
 * is migrated to the current one at start: its deployments kept, their state changes reported.
 */
static void test_pg_migrates_to_reports(void)
{
	gg_store *st = NULL;
	char *err = NULL, *msg = NULL;
	char *ci = pg_conninfo("gg_v1");
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), 0);
	if (st == NULL) {
		free(err);
		free(ci);
		return;
	}
	int rc = 1;
	gg_deployment d = {.target = "prod", .after = "bbbb", .exit_status = -1};
	gg_store_insert(st, &d, on_rc, &rc);
	CHECK_INT(rc, 0);
	gg_store_close(st);
	/* Back to version 1: what migrations 2 and 3 add, gone. */
	CHECK_INT(pg_admin("gg_v1", "DROP TABLE report_events, report_cursors, report_refs;"
	                            "DROP FUNCTION gitgated_report_event() CASCADE;"
	                            "DROP TABLE replicas; DROP INDEX deployments_one_running;"
	                            "ALTER TABLE deployments DROP COLUMN replica,"
	                            " DROP COLUMN lease_until;"
	                            "DELETE FROM gitgated_schema;"
	                            "INSERT INTO gitgated_schema VALUES (1, 0)"),
	          0);
	CHECK_INT(gg_store_check_postgres(ci, &msg), 0);
	CHECK(msg && strstr(msg, "schema version 1: gitgated migrates it to version 4"));
	free(msg);
	st = NULL;
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), 0);
	if (st) {
		gg_deployment *got = NULL;
		CHECK_INT(gg_store_get(&got, st, 1), 0);
		gg_deployments_free(got, got ? 1 : 0);
		gg_store_report_init(st, "prod", "chat", on_rc, &rc);
		CHECK_INT(rc, 0);
		gg_store_claim(st, 1, true, on_rc, &rc);
		CHECK_INT(rc, 0);
		gg_report_event ev;
		CHECK_INT(gg_store_report_next(&ev, st, "prod", "chat"), 0);
		CHECK_INT(ev.deployment, 1);
		CHECK_INT(ev.state, GG_DEP_RUNNING);
		gg_store_close(st);
	}
	CHECK_INT(pg_value("gg_v1", "SELECT max(version) FROM gitgated_schema"), 4);
	free(ci);
}

/* A connection of role gg to the database ci names, outside the store; NULL (checked) on failure.
 */
static PGconn *pg_raw(const char *ci)
{
	PGconn *c = PQconnectdb(ci);
	CHECK(PQstatus(c) == CONNECTION_OK);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* sql on c, checked; 0 or -1. */
static int pg_raw_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int rc =
	    PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
	if (rc < 0)
		printf("#   %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	CHECK_INT(rc, 0);
	return rc;
}

/*
 * The suite's store on database db, and a connection of its own to it (as
 * another replica's writes): 0, or -1 (checked) with neither open.
 */
static int open_with_other(gg_store **st, PGconn **other, const char *db)
{
	char *err = NULL;
	char *ci = pg_conninfo(db);
	CHECK_INT(gg_store_open_postgres(st, NULL, ci, "test", 30000, &err), 0);
	*other = *st ? pg_raw(ci) : NULL;
	free(err);
	free(ci);
	if (*st && *other)
		return 0;
	gg_store_close(*st);
	*st = NULL;
	return -1;
}

/* Queue a deployment of commit after for prod on c, as another replica would. */
static void other_queues(PGconn *c, const char *after)
{
	char *sql = gg_printf("INSERT INTO deployments(target, after, state, created_at)"
	                      " VALUES ('prod', '%s', 'queued', 0)",
	                      after);
	pg_raw_exec(c, sql);
	free(sql);
}

/* The next event of (prod, chat): its deployment and state, recorded as sent; 0 when none. */
static int64_t next_reported(gg_store *st, gg_dep_state *state)
{
	gg_report_event ev;
	if (gg_store_report_next(&ev, st, "prod", "chat") != 0)
		return 0;
	int rc = 1;
	gg_store_report_record(st, "prod", "chat", ev.id, gg_dep_state_name(ev.state), "sent", NULL,
	                       on_rc, &rc);
	CHECK_INT(rc, 0);
	*state = ev.state;
	return ev.deployment;
}

/*
 * A database at schema version 3 (report cursors over event ids alone) is
 * migrated to 4: a destination goes on from the event it was at, the events
 * written before the migration (xid 0) before those written after.
 */
static void test_pg_migrates_to_commit_order(void)
{
	gg_store *st = NULL;
	char *err = NULL, *msg = NULL;
	char *ci = pg_conninfo("gg_v3");
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), 0);
	if (st == NULL) {
		free(err);
		free(ci);
		return;
	}
	int rc = 1;
	gg_store_report_init(st, "prod", "chat", on_rc, &rc);
	CHECK_INT(rc, 0);
	gg_deployment d = {.target = "prod", .after = "aaaa", .exit_status = -1};
	gg_store_insert(st, &d, on_rc, &rc);
	d.after = "bbbb";
	gg_store_insert(st, &d, on_rc, &rc);
	gg_dep_state state = GG_DEP_FAILED;
	CHECK_INT(next_reported(st, &state), 1);
	CHECK_INT(state, GG_DEP_QUEUED);
	gg_store_close(st);
	/* Back to version 3: what migration 4 adds, gone. */
	CHECK_INT(pg_admin("gg_v3",
	                   "ALTER TABLE report_events DROP COLUMN xid;"
	                   "ALTER TABLE report_cursors DROP COLUMN last_xid;"
	                   "CREATE INDEX report_events_target ON report_events(target, id);"
	                   "UPDATE gitgated_schema SET version=3"),
	          0);
	CHECK_INT(gg_store_check_postgres(ci, &msg), 0);
	CHECK(msg && strstr(msg, "schema version 3: gitgated migrates it to version 4"));
	free(msg);
	st = NULL;
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "test", 30000, &err), 0);
	if (st) {
		CHECK_INT(pg_value("gg_v3", "SELECT count(*) FROM report_events WHERE xid='0'"), 2);
		/* Written after the migration: 1 superseded, then 2 running. */
		gg_store_claim(st, 2, true, on_rc, &rc);
		CHECK_INT(rc, 0);
		CHECK_INT(next_reported(st, &state), 2);
		CHECK_INT(state, GG_DEP_QUEUED);
		CHECK_INT(next_reported(st, &state), 1);
		CHECK_INT(state, GG_DEP_SUPERSEDED);
		CHECK_INT(next_reported(st, &state), 2);
		CHECK_INT(state, GG_DEP_RUNNING);
		CHECK_INT(next_reported(st, &state), 0);
		gg_store_close(st);
	}
	CHECK_INT(pg_value("gg_v3", "SELECT max(version) FROM gitgated_schema"), 4);
	free(err);
	free(ci);
}

/*
 * Transactions of several replicas commit out of the order of their
 * events' ids. An event is reported only once every transaction older than
 * its own has ended: a destination's cursor never passes an event that
 * commits later (it would never be sent).
 */
static void test_pg_reports_in_commit_order(void)
{
	gg_store *st = NULL;
	PGconn *other = NULL;
	if (open_with_other(&st, &other, "gg_commit_order") < 0)
		return;
	int rc = 1;
	gg_store_report_init(st, "prod", "chat", on_rc, &rc);
	CHECK_INT(rc, 0);
	/* Another replica's write, still open: deployment 1, its event the older. */
	pg_raw_exec(other, "BEGIN");
	other_queues(other, "aaaa");
	/* This one's, committed: deployment 2. */
	gg_deployment d = {.target = "prod", .after = "bbbb", .exit_status = -1};
	gg_store_insert(st, &d, on_rc, &rc);
	CHECK_INT(rc, 0);
	gg_dep_state state = GG_DEP_FAILED;
	CHECK_INT(next_reported(st, &state), 0);
	pg_raw_exec(other, "COMMIT");
	CHECK_INT(next_reported(st, &state), 1);
	CHECK_INT(next_reported(st, &state), 2);
	CHECK_INT(next_reported(st, &state), 0);
	/* A transaction that rolls back holds its successors' events only while it is open. */
	pg_raw_exec(other, "BEGIN");
	other_queues(other, "cccc");
	d.after = "dddd";
	gg_store_insert(st, &d, on_rc, &rc);
	CHECK_INT(next_reported(st, &state), 0);
	pg_raw_exec(other, "ROLLBACK");
	CHECK_INT(next_reported(st, &state), 4);
	CHECK_INT(next_reported(st, &state), 0);
	/* By transaction, not by id: the older transaction's event first, its id the higher. */
	pg_raw_exec(other, "BEGIN");
	pg_raw_exec(other, "SELECT pg_current_xact_id()");
	d.after = "eeee";
	gg_store_insert(st, &d, on_rc, &rc); /* 5 */
	CHECK_INT(next_reported(st, &state), 0);
	other_queues(other, "ffff"); /* 6 */
	pg_raw_exec(other, "COMMIT");
	CHECK_INT(next_reported(st, &state), 6);
	CHECK_INT(next_reported(st, &state), 5);
	CHECK_INT(next_reported(st, &state), 0);
	gg_report_status *list = NULL;
	size_t n = 0;
	CHECK_INT(gg_store_report_status(&list, &n, st, "prod"), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_INT(list[0].pending, 0);
	gg_report_statuses_free(list, n);
	PQfinish(other);
	gg_store_close(st);
}

typedef struct {
	PGconn *c;
	const char *sql;
	int delay_ms;
	int done; /* set once sql has run */
} late_exec;

static void *exec_later(void *arg)
{
	late_exec *l = arg;
	usleep((useconds_t)l->delay_ms * 1000);
	PQclear(PQexec(l->c, l->sql));
	__atomic_store_n(&l->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Deliveries take the write lock shared, the queue's changes exclusive: a
 * claim waits for the deliveries in flight, so one that drew an older id
 * cannot commit after a claim ran a newer one, stay queued, and run after
 * it (an older state deployed over the newer).
 */
static void test_pg_claim_waits_for_deliveries_in_flight(void)
{
	gg_store *st = NULL;
	PGconn *other = NULL;
	if (open_with_other(&st, &other, "gg_in_flight") < 0)
		return;
	/* Another replica's delivery batch, in flight: deployment 1. */
	pg_raw_exec(other, "BEGIN");
	pg_raw_exec(other, GG_PGDB_WRITE_LOCK_SHARED);
	other_queues(other, "aaaa");
	late_exec l = {other, "COMMIT", 1000, 0};
	pthread_t th;
	pthread_create(&th, NULL, exec_later, &l);
	/*
	 * This replica's delivery (a batch of deliveries: shared too) commits
	 * while the other is in flight: deployment 2.
	 */
	seen s = {0};
	gg_store_accept(st, "github", "d-newer", "push", two, 1, on_accept, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(s.ids[0], 2);
	CHECK_INT(__atomic_load_n(&l.done, __ATOMIC_SEQ_CST), 0);
	/* The claim of 2 waits for the batch of 1 to commit, then supersedes it. */
	int rc = 1;
	gg_store_claim(st, 2, true, on_rc, &rc);
	CHECK_INT(rc, 0);
	pthread_join(th, NULL);
	gg_deployment *got = NULL;
	CHECK_INT(gg_store_get(&got, st, 1), 0);
	if (got)
		CHECK_STR(gg_dep_state_name(got->state), "superseded");
	gg_deployments_free(got, got ? 1 : 0);
	PQfinish(other);
	gg_store_close(st);
}

/*
 * The replay rule judged again by the claim: a redelivery of an older
 * commit, accepted while a delivery of a newer one (with the lower id) was
 * still in flight, judged queued since it could not see it. Its claim waits
 * for that delivery and refuses to supersede it (a conflict), unless the
 * target allows rollbacks.
 */
static void test_pg_claim_judges_replays_again(void)
{
	gg_store *st = NULL;
	PGconn *other = NULL;
	if (open_with_other(&st, &other, "gg_claim_replay") < 0)
		return;
	int rc = 1;
	gg_deployment d = {.target = "prod", .after = "aaaa", .exit_status = -1};
	gg_store_insert(st, &d, on_rc, &rc); /* 1: commit aaaa */
	CHECK_INT(rc, 0);
	/* Another replica's delivery of the newer commit bbbb, in flight: 2. */
	pg_raw_exec(other, "BEGIN");
	pg_raw_exec(other, GG_PGDB_WRITE_LOCK_SHARED);
	pg_raw_exec(other, "INSERT INTO deployments(target, after, delivery, state, created_at)"
	                   " VALUES ('prod', 'bbbb', 'd-bbbb', 'queued', 0)");
	/* aaaa delivered again: aaaa is the newest this replica sees, so it is queued: 3. */
	gg_store_newdep again = {.target = "prod", .source = "github", .after = "aaaa"};
	seen s = {0};
	gg_store_accept(st, "github", "d-aaaa-again", "push", &again, 1, on_accept, &s);
	CHECK_INT(s.rc, 0);
	CHECK_INT(s.ids[0], 3);
	CHECK(s.refused[0] == NULL);
	late_exec l = {other, "COMMIT", 300, 0};
	pthread_t th;
	pthread_create(&th, NULL, exec_later, &l);
	gg_store_claim(st, 3, false, on_rc, &rc);
	CHECK_INT(rc, GG_STORE_CONFLICT);
	pthread_join(th, NULL);
	/* The newer commit is still queued, nothing runs. */
	gg_deployment *got = NULL;
	CHECK_INT(gg_store_get(&got, st, 2), 0);
	if (got)
		CHECK_STR(gg_dep_state_name(got->state), "queued");
	gg_deployments_free(got, got ? 1 : 0);
	CHECK_INT(
	    pg_value("gg_claim_replay", "SELECT count(*) FROM deployments WHERE state='running'"),
	    0);
	/* A target that allows rollbacks deploys the redelivered commit. */
	gg_store_claim(st, 3, true, on_rc, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(gg_store_get(&got, st, 2), 0);
	if (got)
		CHECK_STR(gg_dep_state_name(got->state), "superseded");
	gg_deployments_free(got, got ? 1 : 0);
	PQfinish(other);
	gg_store_close(st);
}

static pthread_barrier_t race_done;

typedef struct {
	const char *ci;
	const char *replica;
	int rc;
	char *err;
} race_arg;

static void *race_open(void *arg)
{
	race_arg *a = arg;
	gg_store *st = NULL;
	a->rc = gg_store_open_postgres(&st, NULL, a->ci, a->replica, 30000, &a->err);
	/* Every daemon has tried before any lets go. */
	pthread_barrier_wait(&race_done);
	gg_store_close(st);
	return NULL;
}

/* Three daemons starting at once on ci under these names; how many started. */
static int race_start(const char *ci, const char *const names[3], int *refused)
{
	pthread_t th[3];
	race_arg args[3];
	pthread_barrier_init(&race_done, NULL, 3);
	for (int i = 0; i < 3; i++) {
		args[i] = (race_arg){ci, names[i], -9, NULL};
		pthread_create(&th[i], NULL, race_open, &args[i]);
	}
	int started = 0;
	*refused = 0;
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		started += args[i].rc == 0;
		*refused += args[i].rc == -1 && args[i].err &&
		            strstr(args[i].err, "is already running on this database") != NULL;
		free(args[i].err);
	}
	pthread_barrier_destroy(&race_done);
	return started;
}

/*
 * Three daemons starting at once on an empty database: the schema is
 * migrated once. Under one replica name one daemon starts and the others
 * are told that the name is taken; under three names all three start.
 */
static void test_pg_concurrent_start(void)
{
	char *ci = pg_conninfo("gg_race");
	int refused;
	const char *const same[3] = {"a", "a", "a"};
	CHECK_INT(race_start(ci, same, &refused), 1);
	CHECK_INT(refused, 2);
	/* Once it stopped, the next one under that name starts. */
	gg_store *st = NULL;
	char *err = NULL;
	CHECK_INT(gg_store_open_postgres(&st, NULL, ci, "a", 30000, &err), 0);
	free(err);
	gg_store_close(st);
	const char *const names[3] = {"a", "b", "c"};
	CHECK_INT(race_start(ci, names, &refused), 3);
	CHECK_INT(refused, 0);
	CHECK_INT(pg_value("gg_race", "SELECT count(*) FROM gitgated_schema"), 1);
	CHECK_INT(pg_value("gg_race", "SELECT count(*) FROM pg_tables WHERE tablename IN "
	                              "('deliveries','deployments','pauses','replicas')"),
	          4);
	CHECK_INT(pg_value("gg_race", "SELECT count(*) FROM replicas"), 3);
	free(ci);
}

static const gg_store_newdep one_prod[] = {
    {.target = "prod",
     .source = "github",
     .repo = "acme/x",
     .ref = "refs/heads/main",
     .before = "aaaa",
     .after = "cccc",
     .pusher = "alice",
     .clone_url = "https://x"},
};

/* Two replicas, host-a:8080 and host-b:8080, on the database ci names: 0, or -1 (checked). */
static int open_two_replicas(gg_store **a, gg_store **b, const char *ci)
{
	char *err = NULL;
	CHECK_INT(gg_store_open_postgres(a, NULL, ci, "host-a:8080", 30000, &err), 0);
	CHECK_INT(gg_store_open_postgres(b, NULL, ci, "host-b:8080", 30000, &err), 0);
	free(err);
	return *a && *b ? 0 : -1;
}

/*
 * Two replicas on one database: a deployment one of them claimed holds its
 * target against the other's claims; the other can neither finish nor
 * requeue it, nor recover it at its start; its claims and finishes name
 * the replica.
 */
static void test_pg_replicas_share_the_queue(void)
{
	char *ci = pg_conninfo("gg_replicas");
	gg_store *a = NULL, *b = NULL;
	if (open_two_replicas(&a, &b, ci) < 0)
		goto done;
	seen s1 = {0}, s2 = {0}, w = {0};
	gg_store_accept(a, "github", "r-1", "push", two, 1, on_accept, &s1);
	gg_store_accept(b, "github", "r-2", "push", one_prod, 1, on_accept, &s2);
	CHECK_INT(s1.rc, 0);
	CHECK_INT(s2.rc, 0);
	/* The same delivery id through the other replica: a duplicate. */
	seen dup = {0};
	gg_store_accept(b, "github", "r-1", "push", two, 1, on_accept, &dup);
	CHECK(dup.rc == 0 && dup.duplicate);

	gg_store_claim(a, s1.ids[0], true, on_done, &w);
	CHECK_INT(w.rc, 0);
	/* The target runs on A: B cannot start another deployment of it. */
	gg_store_claim(b, s2.ids[0], true, on_done, &w);
	CHECK_INT(w.rc, GG_STORE_CONFLICT);
	const char *why = NULL;
	CHECK(gg_store_healthy(b, &why)); /* a lost claim is no failure */
	gg_deployment *d = NULL;
	CHECK_INT(gg_store_get(&d, b, s2.ids[0]), 0);
	CHECK(d && d->state == GG_DEP_QUEUED && d->replica == NULL);
	gg_deployment_free(d);
	CHECK_INT(gg_store_get(&d, b, s1.ids[0]), 0);
	CHECK(d && d->state == GG_DEP_RUNNING && d->replica && !strcmp(d->replica, "host-a:8080"));
	gg_deployment_free(d);
	/* B neither finishes, requeues nor recovers what A runs. */
	gg_store_finish(b, s1.ids[0], GG_DEP_SUCCEEDED, 0, "bbbb", NULL, on_done, &w);
	CHECK_INT(w.rc, GG_STORE_CONFLICT);
	gg_store_requeue(b, s1.ids[0], 0, on_done, &w);
	CHECK_INT(w.rc, GG_STORE_CONFLICT);
	size_t n = 9;
	CHECK_INT(gg_store_recover(b, &n), 0);
	CHECK_INT((int)n, 0);
	CHECK_INT(pg_value("gg_replicas", "SELECT count(*) FROM deployments WHERE "
	                                  "state='running' AND replica='host-a:8080'"),
	          1);
	/* Once A finished, B claims the newest. */
	gg_store_finish(a, s1.ids[0], GG_DEP_SUCCEEDED, 0, "bbbb", NULL, on_done, &w);
	CHECK_INT(w.rc, 0);
	gg_store_claim(b, s2.ids[0], true, on_done, &w);
	CHECK_INT(w.rc, 0);
	CHECK_INT(pg_value("gg_replicas", "SELECT count(*) FROM deployments WHERE "
	                                  "state='running' AND replica='host-b:8080'"),
	          1);
	/* Each duty is held by one replica at a time, and free once its holder is gone. */
	CHECK(gg_store_duty(a, "poll/prod"));
	CHECK(gg_store_duty(a, "poll/prod"));
	CHECK(!gg_store_duty(b, "poll/prod"));
	CHECK(gg_store_duty(b, "prune"));
	CHECK(!gg_store_duty(a, "prune"));
	gg_store_close(a);
	a = NULL;
	/* The server lets go of a closed connection's locks when its backend ends. */
	bool taken = false;
	for (int i = 0; i < 500 && !taken; i++) {
		taken = gg_store_duty(b, "poll/prod");
		if (!taken)
			usleep(10000);
	}
	CHECK(taken);
	/* A restart of B under its name takes its own running row back to the queue. */
	gg_store_close(b);
	b = NULL;
	char *err = NULL;
	CHECK_INT(gg_store_open_postgres(&b, NULL, ci, "host-b:8080", 30000, &err), 0);
	free(err);
	n = 0;
	CHECK_INT(gg_store_recover(b, &n), 0);
	CHECK_INT((int)n, 1);
done:
	gg_store_close(a);
	gg_store_close(b);
	free(ci);
}

/*
 * Rows of pg_locks for duty's advisory lock in database db (the store's
 * duty class, PG_DUTY_LOCK_CLASS in daemon/store_pg.c, and the duty's
 * hashtext): -1 on failure. With holder, the backend that
 * holds it (0 when none).
 */
static long duty_locks(const char *db, const char *duty, long *holder)
{
	const char *where =
	    "FROM pg_locks WHERE locktype='advisory' AND granted AND "
	    "database=(SELECT oid FROM pg_database WHERE datname=current_database()) "
	    "AND classid=x'67676475'::int AND objsubid=2 AND "
	    "objid=(hashtext('%s')::bigint & 4294967295)::oid";
	char *cond = gg_printf(where, duty);
	char *sql = gg_printf("SELECT count(*) %s", cond);
	long n = pg_value(db, sql);
	free(sql);
	if (holder) {
		sql = gg_printf("SELECT coalesce(min(pid), 0) %s", cond);
		*holder = pg_value(db, sql);
		free(sql);
	}
	free(cond);
	return n;
}

/* Whether backend pid's latest statement (pg_stat_activity.query) contains what. */
static bool last_query_has(const char *db, long pid, const char *what)
{
	char *sql = gg_printf("SELECT count(*) FROM pg_stat_activity WHERE pid=%ld AND "
	                      "strpos(query, '%s') > 0",
	                      pid, what);
	long n = pg_value(db, sql);
	free(sql);
	return n == 1;
}

/*
 * A duty is locked once per read connection: asked again, the replica
 * sends the server nothing (the session lock is not stacked once per
 * tick); the other replica still cannot take it. When the server ends that
 * connection the lock is gone, the replica forgets the duty with it, and
 * takes it again only once it is free.
 */
static void test_pg_duty_taken_once_per_connection(void)
{
	char *ci = pg_conninfo("gg_duty");
	gg_store *a = NULL, *b = NULL;
	if (open_two_replicas(&a, &b, ci) < 0)
		goto done;
	long pid = 0;
	CHECK(gg_store_duty(a, "reports"));
	CHECK_INT(duty_locks("gg_duty", "reports", &pid), 1);
	CHECK(pid > 0 && last_query_has("gg_duty", pid, "pg_try_advisory_lock"));
	/* A read on the same connection, then the duty asked for again and again. */
	gg_deployment *d = NULL;
	CHECK_INT(gg_store_get(&d, a, 1), GG_STORE_NOTFOUND);
	CHECK(last_query_has("gg_duty", pid, "FROM deployments"));
	for (int i = 0; i < 20; i++)
		CHECK(gg_store_duty(a, "reports"));
	CHECK(last_query_has("gg_duty", pid, "FROM deployments"));
	CHECK(!last_query_has("gg_duty", pid, "pg_try_advisory_lock"));
	long again = 0;
	CHECK_INT(duty_locks("gg_duty", "reports", &again), 1);
	CHECK_INT(again, pid);
	/* The second replica cannot take it meanwhile, and takes another duty. */
	CHECK(!gg_store_duty(b, "reports"));
	CHECK(!gg_store_duty(b, "reports"));
	CHECK(gg_store_duty(b, "prune"));
	CHECK(!gg_store_duty(a, "prune"));

	/* The server ends A's read connection: B can take the duty, then A cannot. */
	char *kill = gg_printf("SELECT pg_terminate_backend(%ld)", pid);
	CHECK_INT(pg_admin("gg_duty", kill), 0);
	free(kill);
	bool taken = false;
	for (int i = 0; i < 500 && !taken; i++) {
		taken = gg_store_duty(b, "reports");
		if (!taken)
			usleep(10000);
	}
	CHECK(taken);
	bool lost = false;
	for (int i = 0; i < 500 && !lost; i++) {
		lost = !gg_store_duty(a, "reports");
		if (!lost)
			usleep(10000);
	}
	CHECK(lost);
	/* A reads on a new connection and does not believe it still holds the duty. */
	for (int i = 0; i < 5; i++)
		CHECK(!gg_store_duty(a, "reports"));
	CHECK_INT(gg_store_get(&d, a, 1), GG_STORE_NOTFOUND);
	long holder = 0;
	CHECK_INT(duty_locks("gg_duty", "reports", &holder), 1);
	CHECK(holder != pid);

	/* Once B is gone, A takes it on its new connection: one lock again. */
	gg_store_close(b);
	b = NULL;
	taken = false;
	for (int i = 0; i < 500 && !taken; i++) {
		taken = gg_store_duty(a, "reports");
		if (!taken)
			usleep(10000);
	}
	CHECK(taken);
	for (int i = 0; i < 5; i++)
		CHECK(gg_store_duty(a, "reports"));
	CHECK_INT(duty_locks("gg_duty", "reports", &again), 1);
	CHECK(again != pid && again != holder);
	CHECK(last_query_has("gg_duty", again, "pg_try_advisory_lock"));
done:
	gg_store_close(a);
	gg_store_close(b);
	free(ci);
}

static void on_count(void *arg, const gg_store_accept_result *res)
{
	seen *s = arg;
	s->calls++;
	s->rc = res->rc;
}

/* Spin the loop until the store's health is `want`; false after a generous bound. */
static bool wait_health(struct event_base *base, gg_store *st, bool want)
{
	for (int i = 0; i < 6000; i++) {
		if (gg_store_healthy(st, NULL) == want)
			return true;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	return false;
}

/* Accept one delivery on a threaded store and run the loop until it is answered. */
static int accept_one(struct event_base *base, gg_store *st, const char *delivery)
{
	seen s = {0};
	gg_store_accept(st, "github", delivery, "push", two, 1, on_count, &s);
	for (int spins = 0; s.calls == 0 && spins < 100000; spins++)
		event_base_loop(base, EVLOOP_ONCE);
	return s.calls == 1 ? s.rc : -9;
}

/* The server goes away and comes back: writes fail meanwhile, then resume by themselves. */
static void test_pg_reconnect(void)
{
	struct event_base *base = event_base_new();
	gg_store *st = NULL;
	char *err = NULL;
	char *ci = pg_conninfo("gg_reconnect");
	CHECK_INT(gg_store_open_postgres(&st, base, ci, "test", 30000, &err), 0);
	free(ci);
	if (st == NULL) {
		free(err);
		event_base_free(base);
		return;
	}
	CHECK_INT(accept_one(base, st, "before"), 0);
	const char *top = getenv("GG_TOP") ? getenv("GG_TOP") : ".";
	char *cmd = gg_printf("sh '%s/tests/pgserver.sh' stop '%s'", top, pg_dir);
	CHECK_INT(system(cmd), 0);
	free(cmd);
	CHECK(wait_health(base, st, false));
	const char *why = NULL;
	CHECK(!gg_store_healthy(st, &why));
	CHECK(why && strstr(why, "unreachable"));
	CHECK_INT(accept_one(base, st, "during"), -1);
	gg_deployment *d = NULL;
	CHECK_INT(gg_store_get(&d, st, 1), -1);
	cmd = gg_printf("sh '%s/tests/pgserver.sh' restart '%s'", top, pg_dir);
	CHECK_INT(system(cmd), 0);
	free(cmd);
	CHECK(wait_health(base, st, true));
	CHECK_INT(accept_one(base, st, "after"), 0);
	/* The delivery that failed was not half-written: sent again, it is new. */
	CHECK_INT(accept_one(base, st, "during"), 0);
	/* Reads work again too (the read connection was reopened). */
	gg_deployment *list = NULL;
	size_t n = 0;
	int rc = -1;
	for (int i = 0; i < 500 && rc != 0; i++) {
		rc = gg_store_list(&list, &n, st, NULL, 10);
		if (rc != 0)
			usleep(10000);
	}
	CHECK_INT(rc, 0);
	CHECK_INT(n, 3);
	gg_deployments_free(list, n);
	gg_store_close(st);
	event_base_free(base);
}

/* What a store's NOTIFY callback was told: how often, and the last freed flag. */
typedef struct {
	int calls;
	bool freed;
} heard;

static void on_heard(void *arg, bool freed)
{
	heard *h = arg;
	h->calls++;
	h->freed = freed;
}

static bool never_busy(void *arg, const char *target)
{
	(void)arg, (void)target;
	return false;
}

/*
 * Spin the loop until *calls is above n (a callback counter); false after
 * about 3 s. With n of -1, spin the loop for about 0.2 s: whatever was
 * already on its way has then come in.
 */
static bool spin_past(struct event_base *base, const int *calls, int n)
{
	int rounds = n < 0 ? 200 : 3000;
	for (int i = 0; i < rounds && (n < 0 || *calls <= n); i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (n < 0 || *calls <= n)
			usleep(1000);
	}
	return *calls > n;
}

/*
 * What another replica's NOTIFY tells the dispatcher: that a target was
 * freed only for the exact payload "freed", that work was queued for any
 * other; and nothing of what this replica's own write connection sends.
 */
static void test_pg_notifications_say_what_was_freed(void)
{
	struct event_base *base = event_base_new();
	gg_store *st = NULL;
	PGconn *other = NULL;
	char *err = NULL;
	char *ci = pg_conninfo("gg_notify");
	CHECK_INT(gg_store_open_postgres(&st, base, ci, "test", 30000, &err), 0);
	if (st)
		other = pg_raw(ci);
	free(ci);
	free(err);
	if (st == NULL || other == NULL)
		goto done;
	heard h = {0};
	gg_store_on_queue(st, on_heard, never_busy, &h);
	/* Once listening, the store looks at the queue for what it did not hear. */
	CHECK(spin_past(base, &h.calls, 0));
	CHECK(h.freed);
	static const struct {
		const char *sql;
		bool freed;
	} sent[] = {
	    {"NOTIFY gitgated_queue", false},
	    {"NOTIFY gitgated_queue, 'freed'", true},
	    {"NOTIFY gitgated_queue, 'freedom'", false},
	    {"NOTIFY gitgated_queue, 'FREED'", false},
	    {"NOTIFY gitgated_queue, 'free'", false},
	};
	for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++) {
		int before = h.calls;
		pg_raw_exec(other, sent[i].sql);
		CHECK(spin_past(base, &h.calls, before));
		CHECK_INT(h.calls, before + 1);
		if (h.freed != sent[i].freed)
			printf("#   %s: heard freed=%d\n", sent[i].sql, h.freed);
		CHECK(h.freed == sent[i].freed);
	}
	/*
	 * This store's own delivery, claim and finish (which sends "freed")
	 * NOTIFY on its write connection; the other's plain NOTIFY after them
	 * is all the callback hears. NOTIFYs come in commit order: by the time
	 * the last is in, so are the store's own (any heard would show as a
	 * call more, or as freed).
	 */
	int before = h.calls;
	seen s = {0}, w = {0};
	gg_store_accept(st, "github", "n-1", "push", two, 1, on_accept, &s);
	CHECK(spin_past(base, &s.calls, 0));
	CHECK_INT(s.rc, 0);
	gg_store_claim(st, s.ids[0], true, on_done, &w);
	CHECK(spin_past(base, &w.calls, 0));
	CHECK_INT(w.rc, 0);
	gg_store_finish(st, s.ids[0], GG_DEP_SUCCEEDED, 0, "bbbb", NULL, on_done, &w);
	CHECK(spin_past(base, &w.calls, 1));
	CHECK_INT(w.rc, 0);
	pg_raw_exec(other, "NOTIFY gitgated_queue");
	CHECK(spin_past(base, &h.calls, before));
	spin_past(base, &h.calls, -1);
	CHECK_INT(h.calls, before + 1);
	CHECK(!h.freed);
done:
	if (other)
		PQfinish(other);
	gg_store_close(st);
	event_base_free(base);
}

/* Send sig to the server processes serving database db (found by the superuser). */
static void signal_backends(const char *db, const char *sig)
{
	char *sql = gg_printf("host=%s user=ggadmin dbname=postgres", pg_dir);
	PGconn *c = PQconnectdb(sql);
	free(sql);
	sql = gg_printf("SELECT pid FROM pg_stat_activity WHERE datname='%s' AND "
	                "application_name='gitgated'",
	                db);
	PGresult *r = PQexec(c, sql);
	free(sql);
	CHECK(PQntuples(r) >= 2); /* the write and the read connection */
	for (int i = 0; i < PQntuples(r); i++) {
		char *cmd = gg_printf("kill -%s %s", sig, PQgetvalue(r, i, 0));
		CHECK_INT(system(cmd), 0);
		free(cmd);
	}
	PQclear(r);
	PQfinish(c);
}

/*
 * A server that stops answering without closing anything (a cut network,
 * a frozen host): a read on the loop gives up instead of hanging, the
 * store says it is unhealthy, and all works again once the server answers.
 */
/*
 * A write the server refuses (here a delivery id that is not UTF-8) fails
 * alone: the deliveries queued with it, in the same transaction, are
 * stored all the same.
 */
static void test_pg_batch_one_fails(void)
{
	struct event_base *base = event_base_new();
	gg_store *st = NULL;
	char *err = NULL;
	char *sub = gg_printf("%s/onefails", dir);
	CHECK_INT(open_store(&st, base, sub, &err), 0);
	free(sub);
	if (st == NULL) {
		free(err);
		event_base_free(base);
		return;
	}
	enum { N = 101, BAD = 50 };
	static seen each[N];
	for (int i = 0; i < N; i++) {
		char del[16];
		snprintf(del, sizeof(del), i == BAD ? "bad-\xff" : "ok-%d", i);
		memset(&each[i], 0, sizeof(each[i]));
		gg_store_accept(st, "github", del, "push", two, 1, on_accept, &each[i]);
	}
	int calls = 0;
	for (int spins = 0; calls < N && spins < 100000; spins++) {
		event_base_loop(base, EVLOOP_ONCE);
		calls = 0;
		for (int i = 0; i < N; i++)
			calls += each[i].calls;
	}
	CHECK_INT(calls, N);
	int stored = 0;
	for (int i = 0; i < N; i++)
		if (i != BAD && each[i].rc == 0 && each[i].nids == 1 && each[i].ids[0] > 0)
			stored++;
	CHECK_INT(stored, N - 1);
	CHECK_INT(each[BAD].rc, -1);
	gg_deployment *list = NULL;
	size_t n = 0;
	CHECK_INT(gg_store_list_queued(&list, &n, st, "prod"), 0);
	CHECK_INT(n, N - 1);
	gg_deployments_free(list, n);
	CHECK_INT(pg_value("gg_onefails", "SELECT count(*) FROM deliveries"), N - 1);
	gg_store_close(st);
	event_base_free(base);
}

static void test_pg_silent_server(void)
{
	struct event_base *base = event_base_new();
	gg_store *st = NULL;
	char *err = NULL;
	char *ci = pg_conninfo("gg_silent");
	CHECK_INT(gg_store_open_postgres(&st, base, ci, "test", 30000, &err), 0);
	free(ci);
	if (st == NULL) {
		free(err);
		event_base_free(base);
		return;
	}
	CHECK_INT(accept_one(base, st, "one"), 0);
	signal_backends("gg_silent", "STOP");
	gg_deployment *d = NULL;
	CHECK_INT(gg_store_get(&d, st, 1), -1);
	/* A write waits for the server; the store says so. */
	seen s = {0};
	gg_store_accept(st, "github", "two", "push", two, 1, on_count, &s);
	CHECK(wait_health(base, st, false));
	const char *why = NULL;
	CHECK(!gg_store_healthy(st, &why));
	CHECK(why && strstr(why, "has not answered"));
	signal_backends("gg_silent", "CONT");
	for (int spins = 0; s.calls == 0 && spins < 100000; spins++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK_INT(s.rc, 0);
	CHECK(wait_health(base, st, true));
	int rc = -1;
	for (int i = 0; i < 500 && rc != 0; i++) {
		rc = gg_store_get(&d, st, 1);
		if (rc != 0)
			usleep(10000);
	}
	CHECK_INT(rc, 0);
	gg_deployment_free(d);
	gg_store_close(st);
	event_base_free(base);
}

static void run_suite(void)
{
	RUN(test_accept_and_duplicates);
	RUN(test_queue_lifecycle);
	RUN(test_threaded_group_commit);
	RUN(test_counts_and_state_names);
	RUN(test_replays);
	RUN(test_pauses_and_insert_reason);
	RUN(test_report_outbox);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	printf("# store: sqlite\n");
	run_suite();
	RUN(test_open_failure);

	printf("# store: postgres\n");
	on_pg = true;
	pg_dir = gg_printf("%s/pg", dir);
	const char *top = getenv("GG_TOP") ? getenv("GG_TOP") : ".";
	char *cmd = gg_printf("sh '%s/tests/pgserver.sh' start '%s'", top, pg_dir);
	char *pwfile = gg_printf("%s/password", pg_dir);
	size_t len = 0;
	if (system(cmd) != 0 || gg_read_file(&pg_passwd, &len, pwfile, 256) < 0) {
		printf("FAIL postgres: tests/pgserver.sh could not start a server\n");
		t_failures++;
	} else {
		pg_passwd[strcspn(pg_passwd, "\n")] = '\0';
		run_suite();
		RUN(test_pg_open_failures);
		RUN(test_pg_schema_versions);
		RUN(test_pg_migrates_to_reports);
		RUN(test_pg_migrates_to_commit_order);
		RUN(test_pg_reports_in_commit_order);
		RUN(test_pg_claim_waits_for_deliveries_in_flight);
		RUN(test_pg_claim_judges_replays_again);
		RUN(test_pg_concurrent_start);
		RUN(test_pg_replicas_share_the_queue);
		RUN(test_pg_duty_taken_once_per_connection);
		RUN(test_pg_notifications_say_what_was_freed);
		RUN(test_pg_reconnect);
		RUN(test_pg_silent_server);
		RUN(test_pg_batch_one_fails);
	}
	free(cmd);
	free(pwfile);
	cmd = gg_printf("sh '%s/tests/pgserver.sh' stop '%s'", top, pg_dir);
	if (system(cmd) != 0)
		printf("#   could not stop the server in %s\n", pg_dir);
	free(cmd);
	free(pg_dir);
	free(pg_passwd);
	cmd = gg_printf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("#   could not remove %s\n", dir);
	free(cmd);
	return TEST_DONE();
}
