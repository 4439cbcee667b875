#!/bin/sh
# gitgate status: the daemon's targets and deployments as a table or JSON.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

status_config() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]
  - name: failing-one
    repo: acme/app
    ref: refs/heads/main
    run: [\"false\"]" "$1"
}

t_table_shows_targets_and_deployments() {
	status_config
	start_daemon
	expect_eq "$(send_event 1234567890abcdef1234567890abcdef12345678)" 202 "push"
	wait_until 20 settled
	expect_status 0 "$GITGATE" status --url "$URL" >"$T/out" 2>&1
	head -n 1 "$T/out" | grep -qE '^TARGET +KIND +STATE +DEPLOYED +LAST DEPLOYMENT$' ||
		fail "targets header"
	grep -qE '^app +run +succeeded +1234567890ab +#[0-9]+ ' "$T/out" || fail "app row"
	grep -qE '^failing-one +run +failed +- +#[0-9]+ ' "$T/out" || fail "failing-one row"
	grep -qE '^ID +TARGET +STATE +COMMIT +ATTEMPT +CREATED +REPLICA +REASON$' "$T/out" ||
		fail "deployments header"
	grep -qE '^[0-9]+ +failing-one +failed +1234567890ab +1 +[0-9T:.Z-]+ +[^ ]+ +exited 1$' "$T/out" ||
		fail "failed deployment row"
	# Columns line up: every row of the first table starts its STATE column at the same place.
	awk 'NR<=3 { print index($0, $3) }' "$T/out" | sort -u >"$T/cols"
	expect_eq "$(wc -l <"$T/cols")" 1 "aligned STATE column"

	GITGATE_URL=$URL "$GITGATE" status --json >"$T/json"
	expect_eq "$(json "$T/json" '[t["name"] for t in d["targets"]]')" "['app', 'failing-one']" "targets"
	expect_eq "$(json "$T/json" 'len(d["deployments"])')" 2 "deployments"
	"$GITGATE" status --url "$URL" --target app --json >"$T/json"
	expect_eq "$(json "$T/json" '[x["target"] for x in d["deployments"]]')" "['app']" "filtered"
	expect_eq "$(json "$T/json" '[t["name"] for t in d["targets"]]')" "['app']" "filtered targets"
}

# The attempt count starts at 1 in the API, the JSON, the table and both logs;
# a failed run's log line names the commit it was for.
t_attempts_count_from_one_everywhere() {
	status_config
	start_daemon
	commit=1234567890abcdef1234567890abcdef12345678
	expect_eq "$(send_event $commit)" 202 "push"
	wait_until 20 settled
	api "deployments?target=failing-one"
	id=$(json "$T/api.json" 'd["deployments"][0]["id"]')
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["attempt"]')" 1 "API attempt"
	"$GITGATE" status --url "$URL" --target failing-one --json >"$T/json"
	expect_eq "$(json "$T/json" 'd["deployments"][0]["attempt"]')" 1 "JSON attempt"
	"$GITGATE" status --url "$URL" --target failing-one >"$T/out"
	grep -qE "^$id +failing-one +failed +1234567890ab +1 " "$T/out" || {
		cat "$T/out" >&2
		fail "table attempt"
	}
	curl -sf "$URL/api/v1/deployments/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"])' >"$T/deplog"
	expect_contains "$T/deplog" "(attempt 1)"
	grep 'msg="deployment finished"' "$T/daemon.log" | grep 'target=failing-one' >"$T/line" ||
		fail "no log line for the failed deployment"
	expect_contains "$T/line" "commit=$commit"
	expect_contains "$T/line" "attempt=1"
	expect_not_contains "$T/line" "commit=-"
}

# A target the daemon does not have is an error, not an empty table.
t_unknown_target_exits_1() {
	status_config
	start_daemon
	expect_status 1 "$GITGATE" status --url "$URL" --target nope >"$T/out" 2>"$T/err"
	[ ! -s "$T/out" ] || fail "printed a table for an unknown target"
	expect_contains "$T/err" "gitgate: status: the daemon has no target named 'nope' (targets: app, failing-one)"
	expect_status 1 "$GITGATE" status --url "$URL" --target nope --json >"$T/out" 2>"$T/err"
	[ ! -s "$T/out" ] || fail "printed JSON for an unknown target"
	expect_status 0 "$GITGATE" status --url "$URL" --target app >"$T/out"
	grep -qE '^app ' "$T/out" || fail "no row for app"
	expect_not_contains "$T/out" "failing-one"
}

t_token_file_is_sent() {
	printf 's3cret-token\n' >"$T/api.token"
	chmod 600 "$T/api.token"
	API_YAML=
	status_config "api_token_file: $T/api.token"
	start_daemon
	expect_status 2 "$GITGATE" status --url "$URL" >"$T/out" 2>&1
	expect_contains "$T/out" "answered 401"
	expect_status 0 "$GITGATE" status --url "$URL" --token-file "$T/api.token" >"$T/out" 2>&1
	expect_contains "$T/out" "TARGET"
}

t_unix_socket_url() {
	LISTEN="unix:$T/gg.sock"
	status_config
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	trap 'stop_daemon' EXIT
	wait_until 10 test -S "$T/gg.sock"
	expect_status 0 "$GITGATE" status --url "unix:$T/gg.sock" >"$T/out" 2>&1
	grep -qE '^app +run +- +- +-$' "$T/out" || { cat "$T/out" >&2; fail "app row"; }
}

t_unreachable_daemon_exits_2() {
	port=$(free_port)
	expect_status 2 "$GITGATE" status --url "http://127.0.0.1:$port" >"$T/out" 2>&1
	expect_contains "$T/out" "gitgate: cannot reach gitgated at http://127.0.0.1:$port"
	expect_status 2 "$GITGATE" status --url "ftp://x" >"$T/out" 2>&1
	expect_status 2 "$GITGATE" status --bogus >"$T/out" 2>&1
}

run_cases
