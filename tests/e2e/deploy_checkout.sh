#!/bin/sh
# Checkout targets: real pushes into a bare repository whose post-receive
# notifier tells the daemon, which fetches its mirror, checks the branch head
# out into releases/<commit> and switches the `dir` symlink.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

checkout_target() { # [EXTRA-CHECKOUT-YAML]
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
    checkout:
      url: file://$T/src/acme/app.git
      dir: $T/www/site
      keep: 2
$1"
}

live_is() { # COMMIT: the live symlink points at releases/COMMIT
	[ "$(readlink "$T/www/site" 2>/dev/null)" = "releases/$1" ]
}

t_push_through_the_notifier_deploys_the_files() {
	make_repo
	checkout_target "      run: [\"sh\", \"-c\", \"cat \$1/index.html > $T/after-switch; echo \$2 >> $T/after-switch\", \"sh\", \"{dir}\", \"{after}\"]"
	start_daemon
	use_notifier
	commit index.html "version one"
	commit docs/a.txt "a"
	push
	expect_contains "$T/push.out" "gitgate: notify: sent 1 event(s)"
	c1=$(git -C "$T/w" rev-parse HEAD)
	wait_until 20 test -e "$T/www/site/docs/a.txt"
	wait_until 20 settled
	expect_eq "$(cat "$T/www/site/index.html")" "version one" "deployed file"
	expect_eq "$(readlink "$T/www/site")" "releases/$c1" "symlink"
	expect_eq "$(cat "$T/after-switch")" "version one
$c1" "the run after the switch"

	commit index.html "version two"
	push
	c2=$(git -C "$T/w" rev-parse HEAD)
	wait_until 20 live_is "$c2"
	expect_eq "$(cat "$T/www/site/index.html")" "version two" "second release"
	commit index.html "version three"
	push
	c3=$(git -C "$T/w" rev-parse HEAD)
	wait_until 20 live_is "$c3"
	wait_until 20 settled
	# keep: 2 — the live release and the one before it.
	expect_eq "$(ls "$T/www/releases" | sort | tr '\n' ' ')" \
		"$(printf '%s\n' "$c2" "$c3" | sort | tr '\n' ' ')" "kept releases"
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$c3" "recorded commit"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "state"
}

t_replayed_old_payload_deploys_the_branch_head() {
	make_repo
	checkout_target
	start_daemon
	commit index.html "old"
	push
	old=$(git -C "$T/w" rev-parse HEAD)
	commit index.html "new"
	push
	new=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$new" refs/heads/main "$old")" 202 "push event"
	wait_until 20 live_is "$new"
	wait_until 20 settled
	# An attacker (or a late redelivery) replays the older push.
	expect_eq "$(send_event "$old" refs/heads/main "$ZERO")" 202 "replayed event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(dep_field "$id" 'd["commit"]')" "$new" "deployed commit"
	expect_eq "$(dep_field "$id" 'd["after"]')" "$old" "the payload's after"
	expect_eq "$(readlink "$T/www/site")" "releases/$new" "live release"
	expect_eq "$(cat "$T/www/site/index.html")" "new" "live file"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "the push named $old; deploying what the branch holds now, $new"
}

# A polled target reconciles when the daemon starts, not one interval later:
# with poll: 1h only that first reconcile can deploy these commits.
t_poll_target_deploys_at_start() {
	make_repo
	checkout_target "      poll: 1h"
	commit index.html "before the daemon"
	git -C "$T/w" push -q origin main
	c1=$(git -C "$T/w" rev-parse HEAD)
	start_daemon
	wait_until 30 live_is "$c1"
	wait_until 20 settled
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["pusher"]')" "gitgated (poll)" "pusher"
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 1 "deployments"
	stop_daemon

	# Pushed while the daemon was down, with no notifier to tell it.
	commit index.html "while it was down"
	git -C "$T/w" push -q origin main
	c2=$(git -C "$T/w" rev-parse HEAD)
	start_daemon
	wait_until 30 live_is "$c2"
	wait_until 20 settled
}

t_poll_catches_a_missed_webhook() {
	make_repo
	checkout_target "      poll: 1s"
	start_daemon
	commit index.html "never announced"
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	wait_until 30 live_is "$c1"
	expect_eq "$(cat "$T/www/site/index.html")" "never announced" "polled release"
	wait_until 20 settled
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["delivery"]')" None "a poll has no delivery"
	commit index.html "again"
	push
	c2=$(git -C "$T/w" rev-parse HEAD)
	wait_until 30 live_is "$c2"
	wait_until 20 settled
	# Polls of an unchanged branch queue nothing.
	sleep 2.2
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 2 "deployments"
}

t_failed_checkout_leaves_the_live_release() {
	make_repo
	checkout_target
	start_daemon
	commit index.html "good"
	push
	good=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$good")" 202 "push event"
	wait_until 20 live_is "$good"
	wait_until 20 settled
	mv "$T/src/acme/app.git" "$T/src/acme/moved.git"
	expect_eq "$(send_event "$(printf '%040d' 5)")" 202 "push event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" failed
	expect_eq "$(readlink "$T/www/site")" "releases/$good" "live release"
	expect_eq "$(cat "$T/www/site/index.html")" "good" "live file"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "error: fetch failed"
}

t_a_directory_in_the_way_is_not_replaced() {
	make_repo
	checkout_target
	mkdir -p "$T/www/site"
	echo precious >"$T/www/site/file"
	start_daemon
	commit index.html "x"
	push
	expect_eq "$(send_event "$(git -C "$T/w" rev-parse HEAD)")" 202 "push event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" failed
	expect_eq "$(cat "$T/www/site/file")" precious "the existing directory"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "exists and is not a symlink"
}

t_targets_sharing_a_parent_keep_each_other_s_release() {
	make_repo
	deploy_config "  - name: a
    repo: acme/app
    ref: refs/heads/main
    checkout: {url: \"file://$T/src/acme/app.git\", dir: $T/www/a, keep: 1}
  - name: b
    repo: acme/app
    ref: refs/heads/other
    checkout: {url: \"file://$T/src/acme/app.git\", dir: $T/www/b, keep: 1}"
	start_daemon
	commit index.html "main"
	push
	m=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$m")" 202 "push to main"
	wait_until 20 settled
	git -C "$T/w" checkout -q -b other
	commit index.html "other"
	git -C "$T/w" push -q origin other 2>/dev/null
	o=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$o" refs/heads/other)" 202 "push to other"
	wait_until 20 settled
	expect_eq "$(cat "$T/www/a/index.html")" main "a's live release"
	expect_eq "$(cat "$T/www/b/index.html")" other "b's live release"
	expect_eq "$(readlink "$T/www/a")" "releases/$m" "a's symlink"
}

run_cases
