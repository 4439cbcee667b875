#!/bin/sh
# make run's demo, end to end: start scripts/demo.sh in the background in a
# temp dir on a free port, type the commands it prints (clone, commit a
# manifest, push), see the deployment land and a bad manifest refused, stop it.
. "$(dirname "$0")/../lib.sh"

DEMO_PID=

start_demo() {
	port=$(free_port)
	export GITGATE_DEMO_DIR="$T/demo" GITGATE_DEMO_PORT=$port TMPDIR="$T"
	sh "$GG_TOP/scripts/demo.sh" "$GG_BUILD" >demo.out 2>demo.err &
	DEMO_PID=$!
	i=0
	until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
		kill -0 $DEMO_PID 2>/dev/null || {
			cat demo.out demo.err
			fail "the demo exited early"
		}
		i=$((i + 1))
		[ $i -lt 300 ] || fail "the demo's daemon never answered /healthz"
		sleep 0.1
	done
	# The commands it tells a newcomer to type, in order.
	sed -n 's/^  \$ //p' demo.out >cmds.txt
	[ "$(wc -l <cmds.txt)" -eq 8 ] || {
		cat demo.out
		fail "the demo printed $(wc -l <cmds.txt) commands, want 8"
	}
}

# SIGINT, as Ctrl-C would: the daemon stops cleanly.
stop_demo() {
	[ -n "$DEMO_PID" ] || return 0
	kill -INT $DEMO_PID 2>/dev/null || true
	rc=0
	wait $DEMO_PID || rc=$?
	DEMO_PID=
	[ $rc -eq 0 ] || {
		cat demo.err
		fail "the demo's daemon exited $rc on SIGINT"
	}
}

cmd() { sed -n "${1}p" cmds.txt; }

# wait_for TEST...: poll until the test holds (deployments run asynchronously).
wait_for() {
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -lt 300 ] || return 1
		sleep 0.1
	done
}

t_demo_deploys_a_push_and_refuses_a_bad_manifest() {
	trap 'kill $DEMO_PID 2>/dev/null || true' EXIT
	start_demo
	d="$T/demo"
	# The repository's first commit is deployed at start, before any push.
	expect_contains demo.out "at start and every 15 s"
	wait_for [ -f "$d/deployed/clusters/demo/namespace.yaml" ] || {
		cat demo.err
		fail "the first commit was not deployed at start"
	}
	# The layout make run promises.
	[ -d "$d/platform.git" ] || fail "no bare repository"
	[ -d "$d/state" ] || fail "no state directory"
	expect_contains "$d/policy.yaml" "kubernetes-baseline"
	expect_contains "$d/gitgated.yaml" "url: file://$d/platform.git"
	expect_contains "$d/gitgated.yaml" "dir: $d/deployed"
	[ "$(git -C "$d/platform.git" config receive.advertisePushOptions)" = true ] ||
		fail "the gate was not installed"

	# 1-3: clone, commit a manifest, push. Accepted.
	{ cmd 1; cmd 2; cmd 3; echo 'pwd >"$T/workdir"'; } >step1.sh
	sh -e step1.sh >push1.out 2>&1 || {
		cat step1.sh push1.out
		fail "the printed clone/commit/push failed"
	}
	expect_not_contains push1.out "error["
	work=$(cat workdir)
	new=$(git -C "$work" rev-parse HEAD)
	[ "$(git -C "$d/platform.git" rev-parse refs/heads/main)" = "$new" ] ||
		fail "the push did not update main"

	# The daemon deploys it into deployed/.
	wait_for [ -f "$d/deployed/clusters/demo/web.yaml" ] || {
		cat demo.err
		fail "web.yaml was never deployed"
	}
	cmp "$d/samples/web.yaml" "$d/deployed/clusters/demo/web.yaml"

	# 4-5: what to look at.
	sh -e -c "$(cmd 4)" >ls.out 2>&1 || fail "$(cmd 4) failed"
	expect_contains ls.out "web.yaml"
	wait_for sh -c "$(cmd 5) >status.out 2>&1 && grep -q '$(echo "$new" | cut -c1-7)' status.out" || {
		cat status.out
		fail "gitgate status does not show the deployment of $new"
	}
	expect_contains status.out "demo"

	# 6-7: a bad manifest is refused, with the reason, and never deployed.
	{ echo "cd '$work'"; cmd 6; cmd 7; } >step2.sh
	expect_status 1 sh -e step2.sh >push2.out 2>&1
	expect_contains push2.out "error[k8s-no-privileged] clusters/demo/bad.yaml:"
	expect_contains push2.out "error[k8s-image-pinned] clusters/demo/bad.yaml:"
	expect_contains push2.out "[remote rejected]"
	[ "$(git -C "$d/platform.git" rev-parse refs/heads/main)" = "$new" ] ||
		fail "a refused push moved main"
	[ ! -e "$d/deployed/clusters/demo/bad.yaml" ] || fail "bad.yaml was deployed"

	# 8: the way back it prints, then the clone pushes cleanly again.
	[ "$(cmd 8)" = "git reset --hard HEAD~1" ] || fail "command 8 is '$(cmd 8)'"
	reset=$(cmd 8)
	(cd "$work" && sh -e -c "$reset" && [ "$(git rev-parse HEAD)" = "$new" ]) >reset.out 2>&1 ||
		fail "the printed reset did not bring the clone back to main"

	stop_demo
	trap - EXIT
}

# make run again: the repository, its history, the secret and the daemon's
# state are reused, not recreated.
t_second_run_reuses_what_exists() {
	trap 'kill $DEMO_PID 2>/dev/null || true' EXIT
	start_demo
	d="$T/demo"
	{ cmd 1; cmd 2; cmd 3; } >step1.sh
	sh -e step1.sh >push1.out 2>&1 || {
		cat push1.out
		fail "push failed"
	}
	head=$(git -C "$d/platform.git" rev-parse refs/heads/main)
	secret=$(cat "$d/secret")
	echo "# local edit" >>"$d/policy.yaml"
	wait_for [ -f "$d/deployed/clusters/demo/web.yaml" ] || fail "never deployed"
	stop_demo

	start_demo
	[ "$(git -C "$d/platform.git" rev-parse refs/heads/main)" = "$head" ] ||
		fail "the second run changed the repository"
	[ "$(cat "$d/secret")" = "$secret" ] || fail "the second run replaced the secret"
	expect_contains "$d/policy.yaml" "# local edit"
	[ -f "$d/deployed/clusters/demo/web.yaml" ] || fail "the deployment is gone"
	sh -c "$(cmd 5)" >status.out 2>&1 || {
		cat status.out
		fail "gitgate status failed after a restart"
	}
	expect_contains status.out "$(echo "$head" | cut -c1-7)"
	stop_demo
	trap - EXIT
}

# A second demo on a port in use is refused with a clear message.
t_refuses_a_busy_port() {
	trap 'kill $DEMO_PID 2>/dev/null || true' EXIT
	start_demo
	expect_status 2 sh "$GG_TOP/scripts/demo.sh" "$GG_BUILD" >again.out 2>&1
	expect_contains again.out "already answers on 127.0.0.1:$GITGATE_DEMO_PORT"
	stop_demo
	trap - EXIT
}

run_cases
