#!/bin/sh
# Deployments of `run` targets through the real daemon: coalescing, timeouts
# that take the whole process group, retries, argv without a shell, and
# recovery after the daemon is killed or stopped mid-deployment.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

c() { # a commit-like id from a number
	printf '%040d' "$1"
}

t_quick_pushes_coalesce_to_the_newest() {
	make_repo
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/runs; while [ ! -e $T/release ]; do sleep 0.05; done\", \"sh\", \"{after}\"]"
	start_daemon
	use_notifier
	for n in 1 2 3 4 5; do
		commit file.txt "$n"
		push
		expect_contains "$T/push.out" "gitgate: notify: sent 1 event(s)"
	done
	newest=$(git -C "$T/w" rev-parse HEAD)
	# The first run is still going (it waits for this file) while the other four queue.
	touch "$T/release"
	wait_until 30 settled
	api "deployments?target=app"
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 5 "deployments"
	runs=$(wc -l <"$T/runs")
	[ "$runs" -le 2 ] || fail "five quick pushes ran $runs times"
	expect_eq "$(tail -n 1 "$T/runs")" "$newest" "the last run"
	expect_eq "$(json "$T/api.json" 'sum(1 for x in d["deployments"] if x["state"]=="superseded")')" \
		$((5 - runs)) "superseded deployments"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "newest state"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$newest" "newest commit"
}

t_targets_run_in_parallel_one_at_a_time_each() {
	deploy_config "  - name: a
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"touch $T/a.started; while [ ! -e $T/b.started ]; do sleep 0.05; done\"]
    timeout: 10s
  - name: b
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"touch $T/b.started; while [ ! -e $T/a.started ]; do sleep 0.05; done\"]
    timeout: 10s"
	start_daemon
	expect_eq "$(send_event "$(c 1)")" 202 "push"
	# Each command waits for the other one: both finish only when they run together.
	wait_until 20 settled
	api deployments
	expect_eq "$(json "$T/api.json" '",".join(sorted(x["state"] for x in d["deployments"]))')" \
		"succeeded,succeeded" "states"
}

t_timeout_kills_the_command_and_its_children() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    timeout: 1s
    run: [\"sh\", \"-c\", \"sleep 60 & echo \$! > $T/grandchild.pid; echo \$\$ > $T/child.pid; wait\"]"
	start_daemon
	expect_eq "$(send_event "$(c 1)")" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" timed_out
	gc=$(cat "$T/grandchild.pid")
	ch=$(cat "$T/child.pid")
	gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
	wait_until 5 gone "$ch"
	wait_until 5 gone "$gc"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "timed out"
	expect_eq "$(dep_field "$id" 'd["exit_status"]')" None "exit status of a killed run"
}

t_failing_command_is_retried() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    retries: 2
    run: [\"sh\", \"-c\", \"echo try >> $T/tries; [ \$(wc -l < $T/tries) -ge 3 ]\"]"
	start_daemon
	expect_eq "$(send_event "$(c 7)")" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(wc -l <"$T/tries")" 3 "attempts"
	expect_eq "$(dep_field "$id" 'd["attempt"]')" 3 "attempt counter"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "queued again: exited 1; retry 1 of 2"
}

t_failure_without_retries_ends_failed() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo broken >&2; exit 4\"]"
	start_daemon
	expect_eq "$(send_event "$(c 8)")" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" failed
	expect_eq "$(dep_field "$id" 'd["exit_status"]')" 4 "exit status"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "broken"
	expect_contains "$T/log" "exited 4"
}

t_branch_name_reaches_the_command_literally() {
	deploy_config "  - name: app
    repo: acme/app
    ref: \"refs/heads/**\"
    run: [\"sh\", \"-c\", \"printf '%s|%s|%s\\\\n' \\\"\$1\\\" \\\"\$GITGATE_REF\\\" \\\"\$2\\\" > $T/argv\", \"sh\", \"{branch}\", \"x{ref}y\"]"
	start_daemon
	# Valid for git (check-ref-format), and a command to any shell that saw it.
	evil="\$(touch\${IFS}$T/pwned)"
	expect_eq "$(send_event "$(c 9)" "refs/heads/$evil")" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(cat "$T/argv")" "$evil|refs/heads/$evil|xrefs/heads/${evil}y" "argv"
	[ ! -e "$T/pwned" ] || fail "the branch name was run by a shell"
}

t_environment_is_the_contract_s() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    env: {EXTRA: hello}
    run: [\"sh\", \"-c\", \"env | sort > $T/env\"]"
	export LEAKED_FROM_DAEMON=1
	start_daemon
	expect_eq "$(send_event "$(c 3)" refs/heads/main "$(c 2)" my-delivery)" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	for kv in GITGATE_TARGET=app GITGATE_SOURCE=git GITGATE_REPO=acme/app \
		GITGATE_REF=refs/heads/main "GITGATE_BEFORE=$(c 2)" "GITGATE_AFTER=$(c 3)" \
		GITGATE_DELIVERY=my-delivery GITGATE_PUSHER=tester "GITGATE_DEPLOYMENT=$id" EXTRA=hello; do
		grep -qx "$kv" "$T/env" || { cat "$T/env" >&2; fail "missing $kv"; }
	done
	expect_not_contains "$T/env" LEAKED_FROM_DAEMON
	expect_not_contains "$T/env" "HOME="
}

t_commands_run_below_the_daemon_s_priority() {
	# The command writes its own niceness (field 19 of /proc/PID/stat).
	printf '#!/bin/sh\nout=$1\nset -- $(cat /proc/$$/stat)\necho "${19}" >"$out"\n' >"$T/nice.sh"
	chmod +x "$T/nice.sh"
	deploy_config "  - {name: default, repo: acme/app, ref: refs/heads/main, run: [$T/nice.sh, $T/n.default]}
  - {name: same, repo: acme/app, ref: refs/heads/main, nice: 0, run: [$T/nice.sh, $T/n.same]}
  - {name: least, repo: acme/app, ref: refs/heads/main, nice: 19, run: [$T/nice.sh, $T/n.least]}"
	start_daemon
	expect_eq "$(send_event "$(c 5)")" 202 "push"
	for t in default same least; do
		id=$(json "$T/resp" "[x['id'] for x in d['deployments'] if x['target'] == '$t'][0]")
		wait_until 20 dep_state_is "$id" succeeded
	done
	set -- $(cat /proc/$DPID/stat)
	own=${19}
	[ "$own" -le 9 ] || fail "the daemon runs at nice $own: 10 steps below it cannot be told apart"
	want=$((own + 10))
	expect_eq "$(cat "$T/n.default")" "$want" "niceness of a default target (the daemon's is $own)"
	expect_eq "$(cat "$T/n.same")" "$own" "niceness with nice: 0"
	expect_eq "$(cat "$T/n.least")" 19 "niceness with nice: 19"
}

t_removed_target_s_queue_is_canceled_while_the_others_are_busy() {
	waiter() { # NAME: a command that runs until $T/NAME.go exists
		echo "[\"sh\", \"-c\", \"touch $T/$1.started; while [ ! -e $T/$1.go ]; do sleep 0.05; done\"]"
	}
	busy="  - {name: busy, repo: acme/app, ref: refs/heads/busy, run: $(waiter busy)}"
	deploy_config "  - {name: old, repo: acme/app, ref: refs/heads/main, run: $(waiter old)}
$busy"
	start_daemon
	expect_eq "$(send_event "$(c 31)")" 202 "push to main"
	wait_until 10 test -e "$T/old.started"
	expect_eq "$(send_event "$(c 32)" refs/heads/busy)" 202 "push to busy"
	wait_until 10 test -e "$T/busy.started"
	expect_eq "$(send_event "$(c 33)")" 202 "second push to main"
	queued=$(json "$T/resp" 'd["deployments"][0]["id"]')
	deploy_config "$busy"
	kill -HUP "$DPID"
	wait_until 20 grep -q "config reloaded" "$T/daemon.log"
	# The only configured target is busy: the removed one's end must still
	# settle its queue.
	touch "$T/old.go"
	wait_until 20 dep_state_is "$queued" canceled
	touch "$T/busy.go"
	wait_until 20 settled
}

t_sigkill_mid_deployment_runs_again_after_restart() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo start >> $T/starts; while [ ! -e $T/release ]; do sleep 0.05; done; echo \$1 > $T/done\", \"sh\", \"{after}\"]"
	start_daemon
	expect_eq "$(send_event "$(c 11)")" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 10 test -s "$T/starts"
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	touch "$T/release"
	sleep 0.2
	[ ! -e "$T/done" ] || fail "the command outlived the daemon that was killed"
	start_daemon
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(cat "$T/done")" "$(c 11)" "deployed commit"
	expect_eq "$(wc -l <"$T/starts")" 2 "runs"
}

t_sigterm_hands_running_deployments_back() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo start >> $T/starts; if [ -e $T/fast ]; then exit 0; fi; sleep 60\"]" \
		"shutdown_grace: 500ms"
	start_daemon
	expect_eq "$(send_event "$(c 12)")" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 10 test -s "$T/starts"
	kill -TERM "$DPID"
	wait "$DPID" || fail "gitgated exited non-zero on SIGTERM"
	DPID=
	touch "$T/fast"
	start_daemon
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(wc -l <"$T/starts")" 2 "runs"
}

t_reload_keeps_running_and_cancels_removed_targets() {
	deploy_config "  - name: old
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"touch $T/old.started; while [ ! -e $T/release ]; do sleep 0.05; done; echo \$1 >> $T/old\", \"sh\", \"{after}\"]"
	start_daemon
	expect_eq "$(send_event "$(c 21)")" 202 "push 1"
	first=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 10 test -e "$T/old.started"
	expect_eq "$(send_event "$(c 22)")" 202 "push 2"
	second=$(json "$T/resp" 'd["deployments"][0]["id"]')
	deploy_config "  - name: new
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/new\", \"sh\", \"{after}\"]"
	kill -HUP "$DPID"
	wait_until 20 grep -q "config reloaded" "$T/daemon.log"
	expect_eq "$(dep_field "$second" 'd["state"]')" queued "the second push while the first runs"
	touch "$T/release"
	wait_until 20 dep_state_is "$second" canceled
	wait_until 20 dep_state_is "$first" succeeded
	expect_eq "$(cat "$T/old")" "$(c 21)" "the run that was going on"
	reloaded() { [ "$(send_event "$(c 23)")" = 202 ] && [ "$(json "$T/resp" 'd["deployments"][0]["target"]')" = new ]; }
	wait_until 20 reloaded
	wait_until 20 test -s "$T/new"
	expect_eq "$(cat "$T/new")" "$(c 23)" "the new target's run"
}

t_on_each_on_one_daemon_runs_as_any() {
	# On SQLite there is one daemon: it is every replica, and the target's
	# queue, the 202 and the API are those of any target.
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    on: each
    run: [\"sh\", \"-c\", \"echo \$1 \$2 \$GITGATE_REPLICA >> $T/runs\", \"sh\", \"{after}\", \"{replica}\"]" "replica: host-1"
	start_daemon
	expect_eq "$(send_event 1111111111111111111111111111111111111111)" 202 "push"
	expect_eq "$(json "$T/resp" '[(x["target"], x.get("replica")) for x in d["deployments"]]')" \
		"[('app', None)]" "deployments of the push"
	wait_until 30 settled
	expect_eq "$(cat "$T/runs")" "1111111111111111111111111111111111111111 host-1 host-1" "the run"
	api targets
	expect_eq "$(json "$T/api.json" '(d["targets"][0]["on"], d["targets"][0]["deployed_commit"], "replicas" in d["targets"][0])')" \
		"('each', '1111111111111111111111111111111111111111', False)" "the target"
}

run_cases
