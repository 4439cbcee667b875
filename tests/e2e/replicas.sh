#!/bin/sh
# Several gitgated replicas sharing one PostgreSQL database (tests/pgserver.sh
# starts a real server for each case): each under its own replica name, the
# same name refused twice, a delivery sent to two replicas at once stored
# once, at most one deployment per target running anywhere, pushes arriving
# at any replica coalescing into one for the newest commit, and the API and
# metrics naming the replicas.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

c() { # a commit-like id from a number
	printf '%040d' "$1"
}

. "$(dirname "$0")/replicas_common.inc"

# A target whose runs log "start COMMIT TIME" and "end COMMIT TIME" (ns) in
# $T/runs, and wait for $T/release to exist.
app_target() {
	printf '%s\n' "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo start \$1 \$(date +%s%N) >> $T/runs; while [ ! -e $T/release ]; do sleep 0.02; done; echo end \$1 \$(date +%s%N) >> $T/runs\", \"sh\", \"{after}\"]"
}

# no_overlap: in $T/runs every start is followed by its own end before the next start.
no_overlap() {
	python3 - "$T/runs" <<'PY' || fail "two deployments of one target overlapped: $(cat "$T/runs")"
import sys
running = None
for line in open(sys.argv[1]):
    kind, commit, _ = line.split()
    if kind == "start":
        if running is not None:
            sys.exit(1)
        running = commit
    else:
        if running != commit:
            sys.exit(1)
        running = None
PY
}

runs_started() {
	[ -e "$T/runs" ] && [ "$(grep -c '^start' "$T/runs")" -ge "$1" ]
}

t_replicas_share_deliveries_and_refuse_a_taken_name() {
	pg_start
	replica_config 1 "$(app_target)"
	replica_config 2 "$(app_target)"
	start_replica 1
	start_replica 2
	touch "$T/release"
	# The same delivery id to both replicas at the same moment: stored once.
	for n in 1 2 3 4 5 6 7 8; do
		at 1
		send_event "$(c "$n")" refs/heads/main "$ZERO" "same-$n" >"$T/st1" &
		p1=$!
		at 2
		send_event "$(c "$n")" refs/heads/main "$ZERO" "same-$n" >"$T/st2" &
		p2=$!
		wait "$p1" "$p2"
		got=$(printf '%s\n%s\n' "$(cat "$T/st1")" "$(cat "$T/st2")" | sort | tr '\n' ' ')
		expect_eq "$got" "200 202 " "statuses of delivery same-$n sent to both"
		expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE delivery='same-$n'")" \
			1 "deployments of same-$n"
	done
	at 1
	wait_until 30 settled
	# Each deployment names the replica that ran it.
	api "deployments?limit=100"
	expect_eq "$(json "$T/api.json" 'all(x["replica"] in ("r1","r2") for x in d["deployments"] if x["state"]!="superseded")')" \
		True "every run names its replica"
	# The replicas, with their heartbeats.
	api replicas
	expect_eq "$(json "$T/api.json" '",".join(x["name"] for x in d["replicas"])')" "r1,r2" "replicas"
	expect_eq "$(json "$T/api.json" '[x["name"] for x in d["replicas"] if x["self"]]')" "['r1']" "self"
	expect_eq "$(json "$T/api.json" 'all(x["last_heartbeat"] for x in d["replicas"])')" True "heartbeats"
	curl -sf -o "$T/metrics" "$URL/metrics" || fail "metrics"
	expect_contains "$T/metrics" 'gitgated_replica_info{replica="r1"} 1'
	"$GITGATE" status --url "$URL" >"$T/status.out" || fail "gitgate status"
	expect_contains "$T/status.out" "r2"
	# A third daemon under a name that is alive is refused; the two go on.
	replica_config 3 "$(app_target)" r2
	expect_status 1 "$GITGATED" -c "$T/r3.yaml" 2>"$T/r3.log"
	expect_contains "$T/r3.log" "replica 'r2' is already running on this database"
	at 2
	expect_eq "$(send_event "$(c 20)" refs/heads/main "$(c 8)")" 202 "r2 after the refusal"
	# Once r2 stopped, its name is free again (once the server saw its connection close).
	stop_replica 2
	wait_until 20 start_replica_quietly 3
	stop_replicas
}

t_one_run_per_target_anywhere_and_coalescing() {
	pg_start
	replica_config 1 "$(app_target)"
	replica_config 2 "$(app_target)"
	start_replica 1
	start_replica 2
	# A push through r1 starts a run that waits; pushes through both replicas queue behind it.
	at 1
	expect_eq "$(send_event "$(c 1)" refs/heads/main "$ZERO")" 202 "push 1 to r1"
	wait_until 20 runs_started 1
	n=2
	while [ $n -le 9 ]; do
		at $((n % 2 + 1))
		expect_eq "$(send_event "$(c $n)" refs/heads/main "$(c $((n - 1)))")" 202 "push $n"
		n=$((n + 1))
	done
	# Only the first runs, wherever the others arrived.
	expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE state='running'")" 1 "running"
	touch "$T/release"
	at 1
	wait_until 30 settled
	no_overlap
	# Two runs: the first, then the newest; the ones between were superseded.
	expect_eq "$(grep -c '^start' "$T/runs")" 2 "runs"
	expect_eq "$(tail -n 1 "$T/runs" | cut -d' ' -f2)" "$(c 9)" "last run"
	expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE state='superseded'")" 7 "superseded"
	stop_replicas
}

# A target on refs/heads/slow whose runs wait for $T/slow-release.
slow_target() {
	printf '%s\n' "  - name: slow
    repo: acme/app
    ref: refs/heads/slow
    run: [\"sh\", \"-c\", \"while [ ! -e $T/slow-release ]; do sleep 0.02; done\"]"
}

t_a_delivery_accepted_by_a_busy_replica_is_started_by_a_free_one() {
	pg_start
	# Each replica runs one deployment at a time.
	for n in 1 2; do
		replica_config $n "$(app_target)
$(slow_target)"
		printf 'max_parallel: 1\n' >>"$T/r$n.yaml"
		start_replica $n
	done
	touch "$T/release"
	at 1
	expect_eq "$(send_event "$(c 1)" refs/heads/slow "$ZERO")" 202 "slow push"
	wait_until 20 has_rows "SELECT replica FROM deployments WHERE target='slow' AND state='running'"
	busy=$(psql_admin "SELECT replica FROM deployments WHERE target='slow' AND state='running'")
	free=r1
	[ "$busy" = r1 ] && free=r2
	# The busy one has no slot left: only the free one can start this, and
	# only a notification tells it to (nothing is sent to it).
	at "${busy#r}"
	expect_eq "$(send_event "$(c 2)" refs/heads/main "$ZERO")" 202 "app push to the busy one"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(dep_field "$id" 'd["replica"]')" "$free" "app push ran on"
	expect_eq "$(psql_admin "SELECT state FROM deployments WHERE target='slow'")" running "slow"
	touch "$T/slow-release"
	wait_until 30 settled
	stop_replicas
}

# has_rows SQL: the query (run again each time wait_until asks) returns something.
has_rows() {
	[ -n "$(psql_admin "$1")" ]
}

# listen_start: a psql session LISTENing on the replicas' channel, printing
# each NOTIFY (psql: 'Asynchronous notification "gitgated_queue" [with
# payload "P"] received ...') into $T/notifies as it runs a query every 50
# ms; `listen_mark WORD` adds the line WORD there, listen_stop ends it.
listen_start() {
	(
		echo "LISTEN gitgated_queue;"
		echo "SELECT 'listening';"
		while [ ! -e "$T/listen.stop" ]; do
			for m in "$T"/listen.mark.*; do
				[ -e "$m" ] || continue
				echo "SELECT '${m##*/listen.mark.}';"
				rm -f "$m"
			done
			echo "SELECT 1;"
			sleep 0.05
		done
	) | psql -X -q -At -h "$T/pg" -U ggadmin -d gg >"$T/notifies" 2>&1 &
	LISTEN_PID=$!
	wait_until 20 grep -q '^listening$' "$T/notifies"
}

listen_mark() {
	touch "$T/listen.mark.$1"
	wait_until 20 grep -q "^$1\$" "$T/notifies"
}

listen_stop() {
	touch "$T/listen.stop"
	wait "$LISTEN_PID"
}

# claims_lost N: replica N's gitgated_claims_lost_total.
claims_lost() {
	curl -sf "http://127.0.0.1:$(eval echo "\$PORT_$1")/metrics" |
		awk '/^gitgated_claims_lost_total / {print $2}'
}

t_pushes_for_a_target_running_elsewhere_wait_for_its_run_to_end() {
	pg_start
	for n in 1 2; do
		replica_config $n "$(app_target)"
		start_replica $n
	done
	at 1
	expect_eq "$(send_event "$(c 1)" refs/heads/main "$ZERO")" 202 "push 1"
	wait_until 20 runs_started 1
	wait_until 20 has_rows "SELECT replica FROM deployments WHERE state='running'"
	busy=$(psql_admin "SELECT replica FROM deployments WHERE state='running'")
	idle=1
	[ "$busy" = r1 ] && idle=2
	# Pushes to the replica the target does not run on: one lost claim tells
	# it where the target runs, and until that run ends (or a second passes)
	# it neither tries again nor wakes the other replica for each push.
	# Sent back to back by one process (so that a slow machine does not
	# stretch them over seconds), which prints how long they took and the
	# replica's lost claims then: one may come per second (the deadline),
	# not one per push; and the pushes after it send no NOTIFY.
	listen_start
	at $idle
	cat >"$T/storm.py" <<'PY'
import hashlib, hmac, http.client, json, math, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
t0 = time.monotonic()
for i in range(2, 26):
    body = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": "%040d" % i,
                       "repository": {"full_name": "acme/app", "clone_url": "file:///nonexistent"},
                       "pusher": {"name": "tester"}, "commits": []}).encode()
    sig = hmac.new(b"notify-secret", body, hashlib.sha256).hexdigest()
    conn.request("POST", u.path, body, {"Content-Type": "application/json",
                 "X-Gitgate-Delivery": "storm-%d" % i, "X-Gitgate-Signature": "sha256=" + sig})
    r = conn.getresponse()
    r.read()
    if r.status != 202:
        print("push %d answered %d" % (i, r.status))
        sys.exit(1)
conn.request("GET", "/metrics")
r = conn.getresponse()
lost = [l.split()[1] for l in r.read().decode().splitlines()
        if l.startswith("gitgated_claims_lost_total ")]
print(math.ceil(time.monotonic() - t0), lost[0] if lost else "")
PY
	out=$(python3 "$T/storm.py" "$URL/hooks/git") || fail "pushes 2 to 25: $out"
	secs=${out% *}
	lost=${out#* }
	[ -n "$lost" ] && [ "$lost" -le $((secs + 2)) ] && [ "$lost" -lt 24 ] ||
		fail "r$idle tried to start a target running on $busy $lost times for 24 pushes in ${secs}s"
	listen_mark storm
	woke=$(sed '/^storm$/q' "$T/notifies" |
		grep -c '^Asynchronous notification "gitgated_queue" received' || true)
	[ "$woke" -le $((secs + 2)) ] && [ "$woke" -lt 24 ] ||
		fail "24 pushes for a target running on $busy sent $woke NOTIFYs in ${secs}s"
	expect_eq "$(claims_lost "${busy#r}")" 0 "claims lost by $busy"
	expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE state='running'")" 1 "running"
	# The run ends: the newest push runs next (on either replica), and only it.
	touch "$T/release"
	wait_until 30 settled
	# Its end told the other replica that a target was freed.
	listen_stop
	sed '1,/^storm$/d' "$T/notifies" >"$T/after-storm"
	expect_contains "$T/after-storm" 'Asynchronous notification "gitgated_queue" with payload "freed"'
	expect_eq "$(grep -c '^start' "$T/runs")" 2 "runs"
	expect_eq "$(sed -n '3s/^start \([0-9]*\) .*/\1/p' "$T/runs")" "$(c 25)" "the second run"
	no_overlap
	# And a push after that, to the replica that lost claims, runs too.
	expect_eq "$(send_event "$(c 26)" refs/heads/main "$ZERO")" 202 "push 26"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	stop_replicas
}

t_a_lost_replica_is_taken_over_and_its_late_finish_refused() {
	pg_start
	replica_config 1 "$(app_target)"
	printf 'lease: 3s\n' >>"$T/r1.yaml"
	replica_config 2 "$(app_target)"
	printf 'lease: 3s\n' >>"$T/r2.yaml"
	start_replica 1
	start_replica 2
	at 1
	expect_eq "$(send_event "$(c 1)" refs/heads/main "$ZERO")" 202 "push to r1"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 runs_started 1
	wait_until 20 has_rows "SELECT replica FROM deployments WHERE id=$id AND state='running'"
	lost=$(psql_admin "SELECT replica FROM deployments WHERE id=$id")
	taker=r1
	[ "$lost" = r1 ] && taker=r2
	# It freezes (as a host cut off would): its lease lapses and the other takes over.
	kill -STOP "$(eval echo "\$PID_${lost#r}")"
	at "${taker#r}"
	wait_until 30 dep_state_is "$id" failed
	expect_contains "$T/$taker.log" "deployment taken over"
	dep_field "$id" 'd["reason"]' >"$T/reason"
	expect_contains "$T/reason" "replica $lost was lost (its lease lapsed); taken over by $taker"
	# The target's state is deployed again, by r2.
	wait_until 20 runs_started 2
	again=$(psql_admin "SELECT id FROM deployments WHERE state='running'")
	expect_eq "$(psql_admin "SELECT replica || ' ' || after FROM deployments WHERE id=$again")" \
		"$taker $(c 1)" "deployed again"
	# The lost one comes back and its run ends: its finish is refused and logged.
	kill -CONT "$(eval echo "\$PID_${lost#r}")"
	touch "$T/release"
	wait_until 20 dep_state_is "$again" succeeded
	wait_until 20 grep -q "finish refused" "$T/$lost.log"
	expect_eq "$(dep_field "$id" 'd["state"]')" failed "the lost run stays failed"
	expect_eq "$(psql_admin "SELECT count(*) FROM deployments WHERE state='succeeded'")" 1 "succeeded"
	stop_replicas
}

# chaos_target NAME: a short run logging "start|end COMMIT NS PID" in $T/runs-NAME.
chaos_target() {
	printf '%s\n' "  - name: $1
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo start \$1 \$(date +%s%N) \$\$\$\$ >> $T/runs-$1; sleep 0.3; echo end \$1 \$(date +%s%N) \$\$\$\$ >> $T/runs-$1\", \"sh\", \"{after}\"]"
}

# mark_killed: a run that started and will never end (its replica was
# killed, and it with it) gets a "killed" line once its process is gone.
mark_killed() {
	for f in "$T"/runs-*; do
		[ -f "$f" ] || continue
		for pid in $(awk '$1=="start"{s[$4]=1} $1!="start"{delete s[$4]} END{for(p in s) print p}' "$f"); do
			wait_until 10 sh -c "! kill -0 $pid 2>/dev/null"
			grep -q "^end .* $pid\$" "$f" || echo "killed - $(date +%s%N) $pid" >>"$f"
		done
	done
}

# no_overlap_in FILE: the runs FILE logs never overlap (a killed run ends when it was seen dead).
no_overlap_in() {
	python3 - "$1" <<'PY' || fail "runs of one target overlapped: see $1"
import sys
runs = {}
for line in open(sys.argv[1]):
    kind, commit, ns, pid = line.split()
    r = runs.setdefault(pid, [None, None])
    if kind == "start":
        r[0] = int(ns)
    else:
        r[1] = int(ns)
spans = sorted(runs.values())
for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
    if e1 is None or e1 > s2:
        print("overlap:", s1, e1, s2, e2)
        sys.exit(1)
PY
}

# The background sender: deliveries to r1, r2, r3 in turn until $T/stop-sending
# exists; every answer lands in $T/sent as "STATUS DELIVERY COMMIT".
sender() {
	k=100
	while [ ! -e "$T/stop-sending" ]; do
		k=$((k + 1))
		at $((k % 3 + 1))
		st=$(send_event "$(c $k)" refs/heads/main "$ZERO" "chaos-$k" 2>/dev/null || true)
		echo "$st chaos-$k $(c $k)" >>"$T/sent"
		sleep 0.05
	done
}

all_settled() {
	[ "$(psql_admin "SELECT count(*) FROM deployments WHERE state IN ('queued','running')")" = 0 ]
}

t_three_replicas_survive_sigkills_and_a_database_restart() {
	pg_start
	for n in 1 2 3; do
		replica_config $n "$(chaos_target app)
$(chaos_target web)
$(fleet_target runs-fleet-)"
		printf 'lease: 3s\n' >>"$T/r$n.yaml"
		start_replica $n
	done
	sender &
	spid=$!
	round=1
	while [ $round -le 10 ]; do
		victim=$((round % 3 + 1))
		sleep 0.7
		stop_replica $victim KILL
		mark_killed
		# Every other time the replica stays away past its lease: the others take over.
		[ $((round % 2)) -eq 0 ] && sleep 3.5
		if [ $round -eq 5 ]; then
			sh "$GG_TOP/tests/pgserver.sh" restart "$T/pg" || fail "PostgreSQL restart"
		fi
		# Its name is free once the server noticed the connection close.
		_try=0
		until "$GITGATED" -c "$T/r$victim.yaml" --check >/dev/null 2>&1 && start_replica_quietly $victim; do
			_try=$((_try + 1))
			[ $_try -lt 40 ] || fail "replica $victim did not come back"
			sleep 0.1
		done
		round=$((round + 1))
	done
	touch "$T/stop-sending"
	wait "$spid"
	# The last word: one more push, accepted.
	at 1
	expect_eq "$(send_event "$(c 999)" refs/heads/main "$ZERO" chaos-last)" 202 "last push"
	wait_until 60 all_settled
	mark_killed
	# No delivery answered 2xx is lost; each queued its two deployments.
	accepted=$(grep -c '^20[02] ' "$T/sent")
	[ "$accepted" -gt 20 ] || fail "only $accepted deliveries were accepted"
	for id in $(awk '$1 ~ /^20[02]$/ {print $2}' "$T/sent"); do
		expect_eq "$(psql_admin "SELECT count(*) FROM deliveries WHERE id='$id'")" 1 "delivery $id stored"
	done
	for id in $(awk '$1 == "202" {print $2}' "$T/sent"); do
		expect_eq "$(psql_admin "SELECT count(DISTINCT target) FROM deployments WHERE delivery='$id' AND target NOT LIKE '%@%'")" \
			2 "targets of $id"
		[ "$(psql_admin "SELECT count(*) FROM deployments WHERE delivery='$id' AND target LIKE 'fleet@%'")" -ge 1 ] ||
			fail "delivery $id queued the fleet on no replica"
	done
	# Never two runs of a target at once, and each ends on the newest commit.
	for t in app web; do
		no_overlap_in "$T/runs-$t"
		expect_eq "$(psql_admin "SELECT after FROM deployments WHERE target='$t' AND state='succeeded' ORDER BY finished_at DESC LIMIT 1")" \
			"$(c 999)" "$t ends on"
	done
	# The on: each target is live on every replica, on the newest commit, and
	# never ran twice at once on one.
	for n in 1 2 3; do
		no_overlap_in "$T/runs-fleet-r$n"
		expect_eq "$(psql_admin "SELECT after FROM deployments WHERE target='fleet@r$n' AND state='succeeded' ORDER BY finished_at DESC LIMIT 1")" \
			"$(c 999)" "fleet on r$n ends on"
	done
	# Takeovers happened, and named the lost replica.
	[ "$(psql_admin "SELECT count(*) FROM deployments WHERE reason LIKE 'replica r_ was lost%'")" -gt 0 ] ||
		echo "# no takeover was needed (every run ended before its replica was killed)"
	stop_replicas
}

# h N: a commit-like id whose short form (as `gitgate status` prints it) differs per N.
h() {
	printf 'commit-%s' "$1" | sha1sum | cut -c1-40
}

# fleet_target [PREFIX]: placed on: each; every run logs "start|end COMMIT NS
# PID" in $T/PREFIXREPLICA (default prefix fleet-; the replica is the
# command's {replica}).
fleet_target() {
	_f="$T/${1:-fleet-}"
	printf '%s\n' "  - name: fleet
    repo: acme/app
    ref: refs/heads/main
    on: each
    run: [\"sh\", \"-c\", \"echo start \$1 \$(date +%s%N) \$\$\$\$ >> $_f\$2; sleep 0.2; echo end \$1 \$(date +%s%N) \$\$\$\$ >> $_f\$2\", \"sh\", \"{after}\", \"{replica}\"]"
}

# ran_on REPLICA COMMIT: the fleet's run of COMMIT ended on REPLICA.
ran_on() {
	grep -q "^end $2 " "$T/fleet-$1" 2>/dev/null
}

# starts_on REPLICA COMMIT: how many runs of COMMIT started on REPLICA.
starts_on() {
	grep -c "^start $2 " "$T/fleet-$1" 2>/dev/null || true
}

t_on_each_runs_on_every_replica_and_a_returning_one_catches_up() {
	pg_start
	for n in 1 2 3; do
		replica_config $n "$(fleet_target)
$(app_target)"
		printf 'lease: 3s\n' >>"$T/r$n.yaml"
		start_replica $n
	done
	touch "$T/release"
	sleep 1.5 # every replica's heartbeat has seen the others
	at 2
	expect_eq "$(send_event "$(h 1)" refs/heads/main "$ZERO" each-1)" 202 "push 1"
	# The answer has the fleet once per replica, and app (on: any) once.
	expect_eq "$(json "$T/resp" 'sorted(x["target"]+"@"+x.get("replica","-") for x in d["deployments"])')" \
		"['app@-', 'fleet@r1', 'fleet@r2', 'fleet@r3']" "deployments of push 1"
	for n in 1 2 3; do
		wait_until 30 ran_on "r$n" "$(h 1)"
	done
	wait_until 30 runs_started 1
	# r3 is away (past its lease) while the branch moves twice; back, it
	# deploys the newest state and skips the one in between.
	stop_replica 3
	sleep 3.5
	at 1
	expect_eq "$(send_event "$(h 2)" refs/heads/main "$ZERO" each-2)" 202 "push 2"
	expect_eq "$(json "$T/resp" 'sorted(x.get("replica","-") for x in d["deployments"] if x["target"]=="fleet")')" \
		"['r1', 'r2']" "replicas alive for push 2"
	expect_eq "$(send_event "$(h 3)" refs/heads/main "$ZERO" each-3)" 202 "push 3"
	wait_until 30 ran_on r1 "$(h 3)"
	wait_until 30 ran_on r2 "$(h 3)"
	expect_eq "$(starts_on r3 "$(h 3)")" 0 "runs on r3 while it was away"
	start_replica 3
	wait_until 30 ran_on r3 "$(h 3)"
	expect_eq "$(starts_on r3 "$(h 2)")" 0 "r3 deployed the state it missed in between"
	grep -q 'catching up with another replica' "$T/r3.log" || fail "r3 did not say it caught up"
	# Every replica ran each commit once, one run at a time.
	for n in 1 2 3; do
		no_overlap_in "$T/fleet-r$n"
		expect_eq "$(starts_on "r$n" "$(h 1)")" 1 "runs of commit 1 on r$n"
		expect_eq "$(starts_on "r$n" "$(h 3)")" 1 "runs of commit 3 on r$n"
	done
	# Any replica shows what is live on every host.
	at 2
	wait_until 30 settled
	expect_status 0 "$GITGATE" status --url "$URL" >"$T/status" 2>&1
	for n in 1 2 3; do
		grep -qE "^fleet@r$n +run +succeeded +$(h 3 | cut -c1-12) +#[0-9]+ " "$T/status" ||
			fail "status row of fleet on r$n: $(cat "$T/status")"
	done
	grep -qE "^[0-9]+ +fleet +succeeded +$(h 3 | cut -c1-12) +1 +[^ ]+ +r3 " "$T/status" ||
		fail "status: the deployment on r3"
	api targets
	expect_eq "$(json "$T/api.json" '[(t["on"], sorted((p["replica"], p["deployed_commit"]) for p in t["replicas"])) for t in d["targets"] if t["name"]=="fleet"][0]')" \
		"('each', [('r1', '$(h 3)'), ('r2', '$(h 3)'), ('r3', '$(h 3)')])" "targets API"
	api "deployments?target=fleet&limit=100"
	expect_eq "$(json "$T/api.json" 'sorted(set((x["target"], x["replica"]) for x in d["deployments"]))')" \
		"[('fleet', 'r1'), ('fleet', 'r2'), ('fleet', 'r3')]" "deployments of fleet"
	# A pause through one replica holds the target on every one; a resume
	# through another releases it everywhere.
	at 1
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/api/v1/targets/fleet/pause")" 200 "pause"
	at 3
	expect_eq "$(send_event "$(h 4)" refs/heads/main "$ZERO" each-4)" 202 "push 4"
	sleep 1.5
	for n in 1 2 3; do
		expect_eq "$(starts_on "r$n" "$(h 4)")" 0 "runs of the paused fleet on r$n"
	done
	at 2
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/api/v1/targets/fleet/resume")" 200 "resume"
	for n in 1 2 3; do
		wait_until 30 ran_on "r$n" "$(h 4)"
	done
	# A stranger replays the first push under a fresh delivery id: every
	# replica's own queue judges it a replay of an older commit.
	at 1
	expect_eq "$(send_event "$(h 1)" refs/heads/main "$ZERO" each-replay)" 200 "replayed push 1"
	expect_eq "$(json "$T/resp" 'sorted((x["target"], x.get("replica","-"), x.get("reason")) for x in d["deployments"])')" \
		"[('app', '-', 'replay of an older commit'), ('fleet', 'r1', 'replay of an older commit'), ('fleet', 'r2', 'replay of an older commit'), ('fleet', 'r3', 'replay of an older commit')]" \
		"the replay's deployments"
	sleep 1
	for n in 1 2 3; do
		expect_eq "$(starts_on "r$n" "$(h 1)")" 1 "runs of commit 1 on r$n after the replay"
	done
	stop_replicas
}

t_on_each_is_checked_in_the_config() {
	printf 'a-token\n' >"$T/gh.token"
	chmod 600 "$T/gh.token"
	deploy_config "  - name: bad
    repo: acme/app
    ref: refs/heads/main
    on: everywhere
    run: [\"true\"]
  - name: reported
    repo: acme/app
    ref: refs/heads/main
    on: each
    run: [\"true\"]
    report: [{kind: github, token_file: $T/gh.token}]" "replica: -r1"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check" 2>&1
	grep -q "'on' must be any (one replica runs it) or each" "$T/check" || fail "on: everywhere: $(cat "$T/check")"
	grep -q "'report' is not available with 'on: each'" "$T/check" || fail "report with on: each: $(cat "$T/check")"
	grep -q "not starting with '-'" "$T/check" || fail "replica -r1: $(cat "$T/check")"
}

# start_replica_quietly N: as start_replica, but 1 when it exits (its name still held).
start_replica_quietly() {
	"$GITGATED" -c "$T/r$1.yaml" 2>>"$T/r$1.log" &
	eval "PID_$1=$!"
	_port=$(eval echo "\$PORT_$1")
	until curl -sf -o /dev/null "http://127.0.0.1:$_port/healthz"; do
		kill -0 "$(eval echo "\$PID_$1")" 2>/dev/null || {
			eval "PID_$1="
			return 1
		}
		sleep 0.05
	done
}

run_cases
