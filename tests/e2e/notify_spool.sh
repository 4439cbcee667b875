#!/bin/sh
# The post-receive notifier when the daemon is away: the push still succeeds,
# the event waits in the repository's spool, and `gitgate notify --flush` (or
# the next push) delivers it with its original delivery id.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

SPOOL=
run_target() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/deployed\", \"sh\", \"{after}\"]"
	SPOOL="$T/src/acme/app.git/gitgate/spool"
}

spooled() {
	ls "$SPOOL" 2>/dev/null | grep -c '\.json$' || true
}

t_spools_when_down_and_flush_delivers() {
	make_repo
	run_target
	use_notifier
	commit a.txt one
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	expect_contains "$T/push.out" "gitgate: notify: http://127.0.0.1:$PORT/hooks/git unreachable"
	expect_contains "$T/push.out" "1 event(s) spooled in"
	expect_eq "$(spooled)" 1 "spooled events"
	[ "$(git -C "$T/src/acme/app.git" rev-parse main)" = "$c1" ] || fail "the push did not land"
	delivery=$(ls "$SPOOL" | sed 's/^[0-9]*-//; s/\.json$//')

	start_daemon
	expect_status 0 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
	expect_contains "$T/flush.out" "sent 1, rejected 0, still spooled 0"
	expect_eq "$(spooled)" 0 "spooled events after the flush"
	wait_until 20 settled
	expect_eq "$(cat "$T/deployed")" "$c1" "deployed commit"
	api deployments
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["delivery"]')" "$delivery" "delivery id"
	# Flushing again sends nothing and is not an error.
	expect_status 0 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
	expect_contains "$T/flush.out" "sent 0, rejected 0, still spooled 0"
}

t_next_push_sends_the_spooled_ones_first() {
	make_repo
	run_target
	use_notifier
	commit a.txt one
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	commit a.txt two
	push
	c2=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(spooled)" 2 "spooled events"
	start_daemon
	commit a.txt three
	push
	c3=$(git -C "$T/w" rev-parse HEAD)
	expect_contains "$T/push.out" "gitgate: notify: sent 1 event(s) and 2 spooled earlier"
	expect_eq "$(spooled)" 0 "spooled events"
	wait_until 20 settled
	api deployments
	# Oldest first: ids follow the pushes, and the newest is what ends up deployed.
	expect_eq "$(json "$T/api.json" '" ".join(x["after"] for x in reversed(d["deployments"]))')" \
		"$c1 $c2 $c3" "order of the deliveries"
	expect_eq "$(tail -n 1 "$T/deployed")" "$c3" "last deployed"
}

t_readable_secret_is_refused_and_the_push_still_succeeds() {
	make_repo
	run_target
	start_daemon
	use_notifier
	chmod 644 "$T/git.secret"
	commit a.txt one
	push
	expect_contains "$T/push.out" "secret file is group- or world-accessible"
	expect_eq "$(spooled)" 1 "spooled events"
	api deployments
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 0 "deployments"
	chmod 600 "$T/git.secret"
	expect_status 0 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
	wait_until 20 settled
}

t_wrong_secret_is_rejected_not_retried() {
	make_repo
	run_target
	start_daemon
	use_notifier
	printf 'not-the-secret\n' >"$T/wrong.secret"
	chmod 600 "$T/wrong.secret"
	git -C "$T/src/acme/app.git" config gitgate.notifySecretFile "$T/wrong.secret"
	commit a.txt one
	push
	expect_contains "$T/push.out" "refused 1 of 1 event(s) (HTTP 401)"
	expect_eq "$(spooled)" 0 "spooled events"
}

t_unix_socket_url() {
	make_repo
	LISTEN="unix:$T/gitgated.sock"
	run_target
	PORT=none
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	trap 'stop_daemon' EXIT
	wait_until 10 test -S "$T/gitgated.sock"
	use_notifier "unix:$T/gitgated.sock:/hooks/git"
	commit a.txt one
	push
	expect_contains "$T/push.out" "gitgate: notify: sent 1 event(s) to unix:$T/gitgated.sock:/hooks/git"
	wait_until 20 test -s "$T/deployed"
	expect_eq "$(cat "$T/deployed")" "$(git -C "$T/w" rev-parse HEAD)" "deployed commit"
}

t_daemon_that_never_answers_does_not_hang_the_push() {
	make_repo
	run_target
	# A listener that accepts and never answers.
	python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(5)
open(sys.argv[1],"w").write(str(s.getsockname()[1])); c=[]
while True: c.append(s.accept()[0])' "$T/port" &
	SILENT=$!
	trap 'kill $SILENT 2>/dev/null || true' EXIT
	wait_until 10 test -s "$T/port"
	use_notifier "http://127.0.0.1:$(cat "$T/port")/hooks/git"
	commit a.txt one
	start=$(date +%s)
	push
	took=$(($(date +%s) - start))
	[ $took -lt 30 ] || fail "the push took ${took}s"
	expect_contains "$T/push.out" "unreachable (no complete answer"
	expect_eq "$(spooled)" 1 "spooled events"
}

run_cases
