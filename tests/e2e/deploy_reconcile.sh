#!/bin/sh
# Continuous reconciliation through the real daemon: run targets that fetch
# their repository and poll it, reconciles that put back what was changed by
# hand, drift of checkout releases found and repaired, paused targets.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

# run_target EXTRA-YAML: target "app" whose command records "DEPLOYMENT COMMIT" in $T/runs.
run_target() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$GITGATE_DEPLOYMENT \$1 >> $T/runs\", \"sh\", \"{after}\"]
$1"
}

ran() { # COMMIT: the command ran for it
	grep -q " $1\$" "$T/runs" 2>/dev/null
}

head_of() {
	git -C "$T/w" rev-parse HEAD
}

t_run_target_with_url_deploys_by_polling() {
	make_repo
	run_target "    url: file://$T/src/acme/app.git
    poll: 1s"
	start_daemon
	# No notifier: the daemon never hears of these pushes.
	commit app.yaml "replicas: 1"
	push
	c1=$(head_of)
	wait_until 30 ran "$c1"
	wait_until 20 settled
	api "deployments?target=app"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["pusher"]')" "gitgated (poll)" "pusher"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$c1" "recorded commit"
	commit app.yaml "replicas: 2"
	push
	c2=$(head_of)
	wait_until 30 ran "$c2"
	wait_until 20 settled
	# A payload is only a trigger: {after} is what the fetch found, not what it named.
	expect_eq "$(send_event "$(printf '%040d' 7)")" 202 "event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" succeeded
	expect_eq "$(dep_field "$id" 'd["commit"]')" "$c2" "deployed commit"
	expect_eq "$(grep "^$id " "$T/runs")" "$id $c2" "the command's {after}"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "refs/heads/main is at $c2"
}

t_fetch_failure_fails_the_deployment_without_running() {
	run_target "    url: file://$T/nowhere.git"
	start_daemon
	expect_eq "$(send_event "$(printf '%040d' 1)")" 202 "event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" failed
	expect_eq "$(dep_field "$id" 'd["reason"]')" "checkout failed (exit 1)" "reason"
	[ ! -e "$T/runs" ] || fail "the command ran without a fetched commit"
}

# What `kubectl apply` does for a manifest: make the live object what the commit says.
t_reconcile_undoes_a_hand_edit() {
	make_repo
	mkdir -p "$T/cluster"
	deploy_config "  - name: apply
    repo: acme/app
    ref: refs/heads/main
    reconcile: 1s
    run: [\"sh\", \"-c\", \"git --git-dir=$T/src/acme/app.git show \$1:app.yaml > $T/cluster/app.yaml\", \"sh\", \"{after}\"]"
	start_daemon
	use_notifier
	commit app.yaml "replicas: 3"
	push
	c1=$(head_of)
	wait_until 20 grep -qx "replicas: 3" "$T/cluster/app.yaml"
	# By hand, behind Git's back.
	echo "replicas: 9" >"$T/cluster/app.yaml"
	wait_until 30 grep -qx "replicas: 3" "$T/cluster/app.yaml"
	wait_until 20 has_reconcile apply
	api "deployments?target=apply&limit=1000"
	json "$T/api.json" '[x for x in d["deployments"] if x["pusher"]=="gitgated (reconcile)" and x["state"]=="succeeded"][-1]' >"$T/rec"
	expect_contains "$T/rec" "'reason': 'reconcile'"
	expect_contains "$T/rec" "'commit': '$c1'"
	expect_contains "$T/rec" "'delivery': None"
}

# A reload that adds `reconcile` starts it; one that removes it stops it.
t_reload_starts_and_stops_reconciles() {
	make_repo
	mkdir -p "$T/cluster"
	target='  - name: apply
    repo: acme/app
    ref: refs/heads/main
    run: ["sh", "-c", "git --git-dir='"$T"'/src/acme/app.git show $1:app.yaml > '"$T"'/cluster/app.yaml", "sh", "{after}"]'
	deploy_config "$target"
	start_daemon
	use_notifier
	commit app.yaml "replicas: 3"
	push
	wait_until 20 grep -qx "replicas: 3" "$T/cluster/app.yaml"
	wait_until 20 settled
	deploy_config "$target
    reconcile: 1s"
	kill -HUP "$DPID"
	echo "replicas: 9" >"$T/cluster/app.yaml"
	wait_until 30 grep -qx "replicas: 3" "$T/cluster/app.yaml"
	deploy_config "$target"
	kill -HUP "$DPID"
	wait_until 20 reloads 2
	wait_until 20 settled
	api "deployments?target=apply&limit=1000"
	before=$(json "$T/api.json" 'len(d["deployments"])')
	sleep 2.5
	api "deployments?target=apply&limit=1000"
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" "$before" "deployments after the reload removed reconcile"
}

reloads() { # N: the daemon logged N config reloads
	[ "$(grep -c "config reloaded" "$T/daemon.log")" = "$1" ]
}

has_reconcile() { # TARGET: a reconcile deployment of TARGET succeeded
	curl -sf -o "$T/hr.json" "$URL/api/v1/deployments?target=$1&limit=1000" &&
		[ "$(json "$T/hr.json" 'sum(1 for x in d["deployments"] if x["reason"]=="reconcile" and x["state"]=="succeeded")')" -gt 0 ]
}

# A target that never deployed has nothing to reconcile.
t_reconcile_waits_for_a_first_deployment() {
	run_target "    reconcile: 1s"
	start_daemon
	sleep 2.5
	api deployments
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 0 "deployments"
}

checkout_target() { # EXTRA-TARGET-YAML
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
    checkout:
      url: file://$T/src/acme/app.git
      dir: $T/www/site
$1"
}

live_is() {
	[ "$(readlink "$T/www/site" 2>/dev/null)" = "releases/$1" ]
}

# A release with a few kinds of file, deployed and settled.
deploy_site() {
	make_repo
	commit a.txt "alpha"
	commit b.txt "bravo"
	commit docs/d.txt "delta"
	printf '#!/bin/sh\n' >"$T/w/run.sh"
	chmod +x "$T/w/run.sh"
	ln -s a.txt "$T/w/link"
	git -C "$T/w" add run.sh link
	git -C "$T/w" commit -q -m "deploy: tools"
	start_daemon
	use_notifier
	push
	C1=$(head_of)
	wait_until 30 live_is "$C1"
	wait_until 20 settled
}

# An edit that keeps size and mtime, a deletion and an addition.
tamper() {
	s=$T/www/site
	touch -r "$s/a.txt" "$T/stamp"
	printf 'ALPHA\n' >"$s/a.txt"
	touch -r "$T/stamp" "$s/a.txt"
	rm "$s/b.txt"
	echo "planted" >"$s/c.txt"
}

none_running() {
	curl -sf -o "$T/nr.json" "$URL/api/v1/deployments?limit=1000" &&
		[ "$(json "$T/nr.json" 'sum(1 for x in d["deployments"] if x["state"]=="running")')" = 0 ]
}

drift_paths() { # the "change path" lines of the drift in $T/drift.json
	json "$T/drift.json" '"\n".join(x["change"] + " " + x["path"] for x in d["paths"])'
}

t_drifted_checkout_is_reported_and_repaired() {
	checkout_target "    reconcile: 1s"
	deploy_site
	# Paused, nothing reconciles while the release is tampered with (once a
	# reconcile that was already running has finished).
	expect_status 0 "$GITGATE" pause --url "$URL" site >"$T/pause.out"
	expect_contains "$T/pause.out" "site: paused since "
	wait_until 20 none_running
	tamper
	curl -sf -o "$T/drift.json" "$URL/api/v1/targets/site/drift" || fail "GET drift"
	expect_eq "$(json "$T/drift.json" 'd["drifted"]')" True "drifted"
	expect_eq "$(json "$T/drift.json" 'd["commit"]')" "$C1" "compared with"
	expect_eq "$(drift_paths)" "modified a.txt
removed b.txt
added c.txt" "paths"
	expect_status 1 "$GITGATE" status --drift --url "$URL" >"$T/status.out"
	expect_contains "$T/status.out" "site: drifted from $(echo "$C1" | cut -c1-12): 3 path(s)"
	expect_contains "$T/status.out" "  modified a.txt"
	expect_contains "$T/status.out" "  removed  b.txt"
	expect_contains "$T/status.out" "  added    c.txt"

	expect_status 0 "$GITGATE" resume --url "$URL" site >"$T/resume.out"
	expect_contains "$T/resume.out" "site: resumed"
	wait_until 30 test -e "$T/www/site/b.txt"
	wait_until 20 test ! -e "$T/www/site/c.txt"
	expect_eq "$(cat "$T/www/site/a.txt")" "alpha" "repaired file"
	expect_eq "$(readlink "$T/www/site")" "releases/$C1" "live release"
	wait_until 20 settled
	api "deployments?target=site&limit=1000"
	id=$(json "$T/api.json" '[x["id"] for x in d["deployments"] if (x["reason"] or "").startswith("reconcile: drift repaired")][0]')
	expect_eq "$(dep_field "$id" 'd["reason"]')" "reconcile: drift repaired: 3 path(s)" "reason"
	expect_eq "$(dep_field "$id" 'd["state"]')" succeeded "state"
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "modified a.txt"
	expect_contains "$T/log" "removed  b.txt"
	expect_contains "$T/log" "added    c.txt"
	expect_contains "$T/log" "materialized a fresh release of $C1"
	curl -sf "$URL/metrics" >"$T/metrics"
	grep -qE '^gitgated_drift_total\{target="site"\} [1-9]' "$T/metrics" ||
		fail "gitgated_drift_total does not count site: $(grep drift "$T/metrics")"
	expect_status 0 "$GITGATE" status --drift --url "$URL" >"$T/status.out"
	expect_contains "$T/status.out" "site: no drift from"
}

t_drift_report_only_leaves_the_release_alone() {
	checkout_target "    reconcile: 1s
    drift: report"
	deploy_site
	s=$T/www/site
	chmod -x "$s/run.sh"
	ln -sfn b.txt "$s/link"
	rm "$s/docs/d.txt"
	rmdir "$s/docs"
	ln -s /etc "$s/docs" # not followed: /etc's files are not the release's
	wait_until 30 has_reason site "reconcile: drift reported: 4 path(s)"
	[ "$(cat "$s/link")" = "bravo" ] || fail "drift: report changed the release"
	curl -sf -o "$T/drift.json" "$URL/api/v1/targets/site/drift" || fail "GET drift"
	expect_eq "$(drift_paths)" "added docs
removed docs/d.txt
modified link
mode run.sh" "paths"
}

has_reason() { # TARGET REASON
	curl -sf -o "$T/hr.json" "$URL/api/v1/deployments?target=$1&limit=1000" &&
		[ "$(json "$T/hr.json" 'sum(1 for x in d["deployments"] if x["reason"]==sys.argv[3])' "$2")" -gt 0 ]
}

t_paused_target_deploys_only_the_newest_after_resume() {
	run_target ""
	start_daemon
	expect_status 0 "$GITGATE" pause --url "$URL" app >"$T/pause.out"
	expect_status 0 "$GITGATE" status --url "$URL" >"$T/status.out"
	expect_contains "$T/status.out" "app is paused since "
	expect_contains "$T/status.out" " by $(id -un) from 127.0.0.1"
	api targets
	expect_eq "$(json "$T/api.json" 'd["targets"][0]["paused"]["by"]')" "$(id -un) from 127.0.0.1" "by"
	for n in 1 2 3 4 5; do
		expect_eq "$(send_event "$(printf '%040d' $n)")" 202 "push $n"
	done
	api deployments
	expect_eq "$(json "$T/api.json" '",".join(x["state"] for x in d["deployments"])')" \
		"queued,queued,queued,queued,queued" "states while paused"
	[ ! -e "$T/runs" ] || fail "a paused target ran"
	expect_status 0 "$GITGATE" resume --url "$URL" app >/dev/null
	wait_until 20 settled
	expect_eq "$(cut -d' ' -f2 "$T/runs")" "$(printf '%040d' 5)" "the one run"
	api deployments
	expect_eq "$(json "$T/api.json" '",".join(x["state"] for x in d["deployments"])')" \
		"succeeded,superseded,superseded,superseded,superseded" "states"
	api targets
	expect_eq "$(json "$T/api.json" 'd["targets"][0]["paused"]')" None "paused after resume"
}

# Paused, the reconcile that comes due queues; the push after it supersedes it.
t_reconcile_and_push_together_run_once() {
	run_target "    reconcile: 1s"
	start_daemon
	expect_eq "$(send_event "$(printf '%040d' 1)")" 202 "first push"
	wait_until 20 settled
	expect_status 0 "$GITGATE" pause --url "$URL" app >/dev/null
	wait_until 20 reconcile_queued
	rec=$(json "$T/rq.json" '[x["id"] for x in d["deployments"] if x["state"]=="queued"][0]')
	expect_eq "$(send_event "$(printf '%040d' 2)")" 202 "second push"
	push=$(json "$T/resp" 'd["deployments"][0]["id"]')
	expect_status 0 "$GITGATE" resume --url "$URL" app >/dev/null
	wait_until 20 dep_state_is "$push" succeeded
	expect_eq "$(dep_field "$rec" 'd["state"]')" superseded "the reconcile"
	expect_eq "$(grep -c "^$push " "$T/runs")" 1 "runs of the push"
	expect_eq "$(grep -c "^$rec " "$T/runs")" 0 "runs of the reconcile"
}

reconcile_queued() {
	curl -sf -o "$T/rq.json" "$URL/api/v1/deployments?target=app" &&
		[ "$(json "$T/rq.json" 'sum(1 for x in d["deployments"] if x["state"]=="queued" and x["pusher"]=="gitgated (reconcile)")')" = 1 ]
}

# ---- attacks ----

t_pause_refuses_bad_requests() {
	printf 'api-secret\n' >"$T/api.token"
	chmod 600 "$T/api.token"
	API_YAML="api_token_file: $T/api.token" run_target ""
	start_daemon
	H="Authorization: Bearer api-secret"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/api/v1/targets/app/pause")" 401 "no token"
	expect_status 2 "$GITGATE" pause --url "$URL" app 2>"$T/err"
	expect_contains "$T/err" "answered 401"
	code=$(curl -s -o "$T/out" -w '%{http_code}' -H "$H" -X POST --data-binary '{"by":"eve\u001b[2J"}' "$URL/api/v1/targets/app/pause")
	expect_eq "$code" 400 "control characters in by"
	code=$(curl -s -o "$T/out" -w '%{http_code}' -H "$H" -X POST --data-binary "{\"by\":\"$(printf '%070d' 0)\"}" "$URL/api/v1/targets/app/pause")
	expect_eq "$code" 400 "a long by"
	code=$(curl -s -o "$T/out" -w '%{http_code}' -H "$H" -X POST --data-binary '[1]' "$URL/api/v1/targets/app/pause")
	expect_eq "$code" 400 "not an object"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "$H" -X POST "$URL/api/v1/targets/nope/pause")" 404 "unknown target"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "$H" --path-as-is -X POST "$URL/api/v1/targets/../targets/app/pause")" 404 "dot-dot"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "$H" "$URL/api/v1/targets/app/pause")" 405 "GET pause"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "$H" -X POST "$URL/api/v1/targets/app/drift")" 405 "POST drift"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "$H" -X POST "$URL/api/v1/deployments")" 405 "POST deployments"
	expect_eq "$(curl -s -o "$T/out" -w '%{http_code}' -H "$H" "$URL/api/v1/targets/app/drift")" 409 "drift of a run target"
	api_get_targets() { curl -sf -H "$H" -o "$T/api.json" "$URL/api/v1/targets"; }
	api_get_targets
	expect_eq "$(json "$T/api.json" 'd["targets"][0]["paused"]')" None "never paused"
	expect_status 0 "$GITGATE" pause --url "$URL" --token-file "$T/api.token" app >/dev/null
	api_get_targets
	expect_eq "$(json "$T/api.json" 'd["targets"][0]["paused"] is not None')" True "paused with the token"
}

# File names planted in a release reach the terminal escaped.
t_drift_names_are_escaped() {
	checkout_target ""
	deploy_site
	evil=$(printf 'evil\033]0;pwned\007\nname')
	echo x >"$T/www/site/$evil"
	expect_status 1 "$GITGATE" status --drift --url "$URL" >"$T/status.out"
	if grep -q "$(printf '\033')" "$T/status.out"; then
		fail "an escape sequence reached the terminal"
	fi
	expect_contains "$T/status.out" "added    evil?]0;pwned??name"
	curl -sf -o "$T/drift.json" "$URL/api/v1/targets/site/drift" || fail "GET drift"
	expect_eq "$(json "$T/drift.json" 'd["paths"][0]["path"] == sys.argv[3]' "$evil")" True "the JSON keeps the name"
}

run_cases
