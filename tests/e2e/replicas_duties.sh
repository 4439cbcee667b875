#!/bin/sh
# Duties among replicas sharing one PostgreSQL database: a checkout target's
# poll and the pruning of old delivery ids each run on exactly one replica,
# and when that replica dies (SIGKILL) another takes the duty over.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"
. "$(dirname "$0")/replicas_common.inc"

# A checkout target polled every second, whose command records "COMMIT" in $T/runs.
polled_site() {
	printf '%s\n' "  - name: site
    repo: acme/app
    ref: refs/heads/main
    checkout:
      url: file://$T/src/acme/app.git
      dir: $T/www/site
      keep: 2
      poll: 1s
      run: [\"sh\", \"-c\", \"echo \$1 >> $T/runs\", \"sh\", \"{after}\"]"
}

live_is() { # COMMIT: the live symlink points at releases/COMMIT
	[ "$(readlink "$T/www/site" 2>/dev/null)" = "releases/$1" ]
}

# pollers COMMIT: the replicas (numbers) that logged polling the branch to COMMIT.
pollers() {
	for _n in 1 2 3; do
		grep -q "msg=\"branch moved without a webhook\".*commit=$1" "$T/r$_n.log" 2>/dev/null &&
			printf '%s ' "$_n"
	done
	return 0
}

# polling [EXCEPT]: the replicas (numbers) that ever ran a poll of site (each run
# writes its log in the replica's own state_dir), leaving EXCEPT out.
polling() {
	for _n in 1 2 3; do
		[ "$_n" != "${1:-}" ] && [ -e "$T/state$_n/logs/poll-site.log" ] && printf '%s ' "$_n"
	done
	return 0
}

# deployed_once COMMIT: one deployment of COMMIT, queued by a poll, and its command ran once.
deployed_once() {
	expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE target='site' AND after='$1'")" \
		1 "deployments of $1"
	expect_eq "$(psql_admin "SELECT pusher || ' ' || state FROM deployments WHERE target='site' AND after='$1'")" \
		"gitgated (poll) succeeded" "the deployment of $1"
	expect_eq "$(grep -c "^$1\$" "$T/runs")" 1 "runs of $1"
}

t_one_replica_polls_and_another_takes_over_when_it_dies() {
	pg_start
	make_repo
	for n in 1 2 3; do
		replica_config "$n" "$(polled_site)"
	done
	for n in 1 2 3; do
		start_replica "$n"
	done
	at 1
	# No notifier: only a poll learns of these pushes.
	commit index.html "one"
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	wait_until 30 live_is "$c1"
	wait_until 20 settled
	# More polls of the unchanged branch, on every replica's timer: nothing new.
	sleep 2.5
	wait_until 20 settled
	deployed_once "$c1"
	p1=$(pollers "$c1")
	expect_eq "$(echo "$p1" | wc -w)" 1 "replicas that polled $c1 ($p1)"
	# The others never polled: the duty is one replica's, not a race that one wins.
	expect_eq "$(polling)" "$p1" "replicas that ran a poll"
	p1=$(echo "$p1" | tr -d ' ')

	# The poller dies without a word; the branch moves again.
	stop_replica "$p1" KILL
	for n in 1 2 3; do
		[ "$n" = "$p1" ] || at "$n"
	done
	commit index.html "two"
	push
	c2=$(git -C "$T/w" rev-parse HEAD)
	wait_until 30 live_is "$c2"
	wait_until 20 settled
	sleep 2.5
	wait_until 20 settled
	deployed_once "$c2"
	expect_eq "$(cat "$T/www/site/index.html")" "two" "live file"
	p2=$(pollers "$c2")
	expect_eq "$(echo "$p2" | wc -w)" 1 "replicas that polled $c2 ($p2)"
	[ "$(echo "$p2" | tr -d ' ')" != "$p1" ] || fail "the killed replica $p1 polled $c2"
	expect_eq "$(polling "$p1")" "$p2" "surviving replicas that ran a poll"
	expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE target='site'")" 2 "deployments"
}

# old_ids: delivery ids received in 1970, far past any delivery_retention.
old_ids() {
	psql_admin "SELECT count(*) FROM deliveries WHERE id LIKE 'old-%'"
}

t_one_replica_prunes_and_another_takes_over_when_it_dies() {
	pg_start
	for n in 1 2 3; do
		replica_config "$n" "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]"
	done
	# Replica 1 prunes when it starts, and holds the duty.
	start_replica 1
	psql_admin "INSERT INTO deliveries(source, id, event, received_at)
		SELECT 'git', 'old-' || n, 'push', 1000 FROM generate_series(1, 5) n"
	expect_eq "$(old_ids)" 5 "old delivery ids"
	# Replica 2 would prune when it starts too, if the duty were not replica 1's.
	start_replica 2
	at 2
	# Its writes commit in order: after this answer, a prune it asked for at start is done.
	expect_eq "$(send_event "$(printf '%040d' 1)")" 202 "a delivery to replica 2"
	expect_eq "$(old_ids)" 5 "old delivery ids while replica 1 holds the duty"
	stop_replica 1 KILL
	start_replica 3
	at 3
	wait_until 20 test "$(old_ids)" = 0
	expect_eq "$(psql_admin "SELECT count(*) FROM deliveries")" 1 "the recent delivery is kept"
}

run_cases
