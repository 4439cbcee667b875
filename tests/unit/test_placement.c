/*
 * Unit tests for placement: queue names of on: any and on: each targets,
 * the queues a delivery fans out to, and that a store of one daemon keeps
 * one queue per target. Catching up across replicas needs a shared store
 * and is tested end to end (tests/e2e/replicas.sh).
 */
#include "../../daemon/config.h"
#include "../../daemon/placement.h"
#include "../../daemon/store.h"
#include "test.h"

#include "gitgate/util.h"

#include <stdlib.h>
#include <unistd.h>

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void test_names_split_at_the_first_at(void)
{
	char *key = gg_placement_key("www", "host-1@dc:8080");
	CHECK_STR(key, "www@host-1@dc:8080");
	size_t len = 0;
	const char *replica = NULL;
	gg_placement_split(key, &len, &replica);
	CHECK_INT(len, 3);
	CHECK_STR(replica, "host-1@dc:8080");
	gg_placement_split("prod", &len, &replica);
	CHECK_INT(len, 4);
	CHECK(replica == NULL);
	free(key);
}

static void test_a_delivery_fans_out_to_every_live_replica(void)
{
	gg_dtarget each = {.name = "www", .each = true}, any = {.name = "api"};
	char *live[] = {"r1", "r2", "r3"};
	char **q = NULL;
	size_t n = gg_placement_queues(&q, &each, live, 3);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(q[0], "www@r1");
		CHECK_STR(q[1], "www@r2");
		CHECK_STR(q[2], "www@r3");
	}
	free_strv(q, n);
	n = gg_placement_queues(&q, &any, live, 3);
	CHECK_INT(n, 1);
	CHECK_STR(q[0], "api");
	free_strv(q, n);
	/* No replica known (a store of one daemon): the target's one queue. */
	n = gg_placement_queues(&q, &each, NULL, 0);
	CHECK_INT(n, 1);
	CHECK_STR(q[0], "www");
	free_strv(q, n);
}

static void test_one_daemon_is_every_replica(void)
{
	char dir[] = "/tmp/gg-place-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	gg_store *st = NULL;
	char *err = NULL;
	CHECK(gg_store_open(&st, NULL, dir, &err) == 0);
	if (st == NULL) {
		free(err);
		return;
	}
	gg_dtarget each = {.name = "www", .each = true};
	char *own = gg_placement_own(st, &each, "host-1");
	CHECK_STR(own, "www");
	char **live = NULL;
	CHECK_INT(gg_store_placements(st, &live), 0);
	free(live);
	CHECK(gg_placement_catch_up(st, "www", own) == NULL);
	free(own);
	gg_store_close(st);
	char *cmd = gg_printf("rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
}

int main(void)
{
	RUN(test_names_split_at_the_first_at);
	RUN(test_a_delivery_fans_out_to_every_live_replica);
	RUN(test_one_daemon_is_every_replica);
	return TEST_DONE();
}
