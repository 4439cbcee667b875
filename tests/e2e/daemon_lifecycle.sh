#!/bin/sh
# gitgated's life: --check on good and bad configs, secret file permissions,
# SIGHUP reloads (a bad config keeps the old one), SIGTERM exits 0, a SIGKILL
# right after a 202 loses nothing, a storage failure answers 503, systemd
# socket activation.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/e2e/daemon_common.inc"

t_version_and_help() {
	"$GITGATED" --version >"$T/out"
	expect_contains "$T/out" "gitgated "
	"$GITGATED" -h >"$T/out"
	expect_contains "$T/out" "usage: gitgated"
	expect_status 2 "$GITGATED" --bogus
}

t_check_good_config() {
	daemon_config
	"$GITGATED" -c "$T/cfg.yaml" --check >"$T/out" 2>&1
	expect_contains "$T/out" "ok"
	[ ! -e "$T/state" ] || fail "--check must not create the state directory"
}

t_check_bad_config_reports_every_error_with_positions() {
	secret s x >/dev/null
	cat >"$T/bad.yaml" <<YAML
listen: ["127.0.0.1:99999"]
state_dir: $T/state
max_body: lots
colour: blue
sources:
  - name: gh
    kind: gitbucket
    secret_file: $T/s.secret
  - name: gh
    kind: github
targets:
  - name: prod
    source: nowhere
    repo: acme/x
    ref: refs/heads/main
    timeout: soon
  - name: both
    repo: acme/x
    ref: refs/heads/main
    run: [/bin/true]
    checkout: {url: "file:///x", dir: /srv/x}
log_format: yaml
YAML
	expect_status 2 "$GITGATED" -c "$T/bad.yaml" --check 2>"$T/err"
	expect_contains "$T/err" "$T/bad.yaml:1:10: listen address '127.0.0.1:99999'"
	expect_contains "$T/err" "$T/bad.yaml:3:11: 'max_body' must be a positive size"
	expect_contains "$T/err" "$T/bad.yaml:4:1: unknown key 'colour'"
	expect_contains "$T/err" "$T/bad.yaml:7:11: unknown source kind 'gitbucket'"
	expect_contains "$T/err" "$T/bad.yaml:9:11: duplicate source name 'gh'"
	expect_contains "$T/err" "missing required key 'secret_file'"
	expect_contains "$T/err" "$T/bad.yaml:13:13: no source named 'nowhere'"
	expect_contains "$T/err" "$T/bad.yaml:16:14: 'timeout' must be a positive duration"
	expect_contains "$T/err" "$T/bad.yaml:20:10: a target has either 'run' or 'checkout'"
	expect_contains "$T/err" "$T/bad.yaml:22:13: 'log_format' must be logfmt or json, not 'yaml'"
	printf 'listen: [\n' >"$T/syntax.yaml"
	expect_status 2 "$GITGATED" -c "$T/syntax.yaml" --check 2>"$T/err"
	grep -qE "^$T/syntax.yaml:[0-9]+:[0-9]+: " "$T/err" || fail "no position for a syntax error"
	expect_status 2 "$GITGATED" -c "$T/missing.yaml" --check 2>"$T/err"
	expect_contains "$T/err" "$T/missing.yaml: No such file or directory"
}

t_group_readable_secret_is_refused() {
	daemon_config
	chmod 640 "$T/gh.secret"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check 2>"$T/err"
	expect_contains "$T/err" "$T/gh.secret: secret file is group- or world-accessible (mode 0640)"
	expect_contains "$T/err" "$T/cfg.yaml:6:"
	# The daemon itself refuses to start.
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "group- or world-accessible"
	chmod 604 "$T/gh.secret"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check 2>/dev/null
	chmod 600 "$T/gh.secret"
	expect_status 0 "$GITGATED" -c "$T/cfg.yaml" --check
}

t_secret_trailing_whitespace_is_stripped() {
	daemon_config
	printf 'github-secret \r\n\n' >"$T/gh.secret"
	start_daemon
	f=$PAYLOADS/github-push.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: ws-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 202 "stripped secret"
}

t_sighup_reloads_and_keeps_old_config_when_bad() {
	daemon_config
	start_daemon
	cp "$T/cfg.yaml" "$T/good.yaml"
	printf 'sources: [\n' >"$T/cfg.yaml"
	kill -HUP "$DPID"
	i=0
	until grep -q "config reload failed" "$T/daemon.log"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no reload error logged"
		sleep 0.05
	done
	f=$PAYLOADS/github-push.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: hup-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 202 "old config still serves"
	# A good config: new secret, one more target.
	sed "s|$T/gh.secret|$T/gh2.secret|" "$T/good.yaml" >"$T/cfg.yaml"
	secret gh2 rotated-secret >/dev/null
	cat >>"$T/cfg.yaml" <<YAML
  - name: added
    repo: acme/platform-config
    ref: refs/heads/main
    run: ["/bin/true"]
YAML
	kill -HUP "$DPID"
	i=0
	until grep -q "config reloaded" "$T/daemon.log"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no reload logged"
		sleep 0.05
	done
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: hup-2" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 401 "old secret after reload"
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: hup-3" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex rotated-secret "$f")")" 202 "new secret"
	expect_eq "$(json "$T/resp" 'sorted(x["target"] for x in d["deployments"])')" "['added', 'prod']" "new target"
}

t_sigterm_exits_zero() {
	daemon_config
	start_daemon
	kill -TERM "$DPID"
	set +e
	wait "$DPID"
	rc=$?
	set -e
	DPID=
	expect_eq "$rc" 0 "exit status after SIGTERM"
	expect_contains "$T/daemon.log" "msg=stopped"
	daemon_config
	start_daemon
	kill -INT "$DPID"
	set +e
	wait "$DPID"
	rc=$?
	set -e
	DPID=
	expect_eq "$rc" 0 "exit status after SIGINT"
}

t_sigkill_after_202_loses_nothing() {
	daemon_config "shutdown_grace: 1s"
	# A slow deployment, so that the daemon is killed while it is queued or running.
	sed -i 's|run: \["/bin/true", "{after}"\]|run: ["/bin/sleep", "5"]|' "$T/cfg.yaml"
	start_daemon
	f=$PAYLOADS/github-push.json
	sig=$(hmac_hex github-secret "$f")
	ids=
	for n in 1 2 3 4 5; do
		expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: kill-$n" \
			-H "X-Hub-Signature-256: sha256=$sig")" 202 "push $n"
		ids="$ids $(first_id)"
	done
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	start_daemon
	for id in $ids; do
		expect_eq "$(get "$URL/api/v1/deployments/$id")" 200 "deployment $id after SIGKILL"
		expect_eq "$(json "$T/get" 'd["after"]')" $AFTER "deployment $id commit"
	done
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: kill-5" \
		-H "X-Hub-Signature-256: sha256=$sig")" 200 "delivery remembered across the crash"
	expect_eq "$(json "$T/resp" 'd["duplicate"]')" True duplicate
}

t_storage_failure_is_503_never_2xx() {
	daemon_config
	start_daemon
	f=$PAYLOADS/github-push.json
	sig=$(hmac_hex github-secret "$f")
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: s-1" \
		-H "X-Hub-Signature-256: sha256=$sig")" 202 "before the failure"
	# Break the database under the running daemon.
	python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=10); c.execute("DROP TABLE deployments"); c.commit()' \
		"$T/state/gitgated.db"
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: s-2" \
		-H "X-Hub-Signature-256: sha256=$sig")" 503 "write fails"
	expect_eq "$(get "$URL/healthz")" 503 "healthz"
	expect_eq "$(json "$T/get" 'd["status"]')" unavailable "healthz status"
	expect_contains "$T/daemon.log" 'msg="delivery not stored"'
	# The failed delivery was not remembered either.
	python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from deliveries where id=?", ("s-2",)).fetchone()[0])' \
		"$T/state/gitgated.db" >"$T/n"
	expect_eq "$(cat "$T/n")" 0 "nothing of the failed delivery stored"
}

t_systemd_socket_activation() {
	daemon_config
	# No listen address of its own: only the inherited socket.
	sed -i "s|^listen: .*|listen: [\"unix:$T/unused.sock\"]|" "$T/cfg.yaml"
	python3 - "$PORT" "$GITGATED" "$T/cfg.yaml" 2>>"$T/daemon.log" <<'PY' &
import os, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], [sys.argv[2], "-c", sys.argv[3]])
PY
	DPID=$!
	URL="http://127.0.0.1:$PORT"
	trap 'stop_daemon' EXIT
	i=0
	until curl -sf -o /dev/null "$URL/healthz"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no answer on the inherited socket"
		sleep 0.05
	done
	[ ! -e "$T/unused.sock" ] || fail "listen was used despite LISTEN_FDS"
	f=$PAYLOADS/generic-push.json
	expect_eq "$(post /hooks/generic "$f" -H "X-Gitgate-Delivery: sd-1" \
		-H "X-Gitgate-Signature: sha256=$(hmac_hex generic-secret "$f")")" 202 "push on the inherited socket"
}

run_cases
