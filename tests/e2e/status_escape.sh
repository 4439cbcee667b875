#!/bin/sh
# gitgate status prints text that others wrote (a forge's answer, rows in the
# store) as one escaped line per cell: no terminal control reaches the
# terminal, no newline starts a row of its own.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

FORGE="$GG_TOP/tests/e2e/report_forge.py"
TOKEN=forge-token-3c9d2a

# no_controls FILE: FILE holds no C0 control but newline, no DEL, no C1
# control (raw or as UTF-8) and no bidirectional override.
no_controls() {
	python3 - "$1" <<'PY' || fail "terminal controls in $1"
import re, sys
data = open(sys.argv[1], "rb").read()
bad = re.search(rb"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]", data)
if bad:
    sys.stderr.write("byte %r at %d: %r\n" % (bad.group(0), bad.start(), data[max(0, bad.start() - 40):bad.end() + 40]))
    sys.exit(1)
PY
}

forge_start() {
	FORGE_PORT=0 python3 "$FORGE" "$T/forge.port" "$T/forge.log" "$T/forge.mode" "$TOKEN" \
		2>>"$T/forge.err" &
	FPID=$!
	trap 'stop_daemon; kill "$FPID" 2>/dev/null || true' EXIT
	wait_until 20 test -s "$T/forge.port"
	FORGE_PORT=$(cat "$T/forge.port")
	printf '%s\n' "$TOKEN" >"$T/token"
	chmod 600 "$T/token"
}

# report_fails: a target reporting to the test forge (in the mode already
# written to $T/forge.mode) deploys one push, and its report has failed.
report_fails() {
	forge_start
	deploy_config "  - name: prod
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]
    report:
      - {name: audit, kind: webhook, url: \"http://127.0.0.1:$FORGE_PORT/hook\", token_file: $T/token}"
	start_daemon
	trap 'stop_daemon; kill "$FPID" 2>/dev/null || true' EXIT
	expect_eq "$(send_event 1234567890abcdef1234567890abcdef12345678)" 202 "push"
	wait_until 30 settled
	wait_until 30 grep -q 'report failed; retrying.*destination=audit' "$T/daemon.log"
}

# A real path: a report destination answers with an ANSI "erase display", a
# bell, a carriage return and a C1 CSI in its HTTP status line; the daemon
# keeps that answer as the report's error, and status shows it in ERROR.
t_a_forges_status_line_is_shown_escaped() {
	echo hostile >"$T/forge.mode"
	report_fails
	# The daemon kept exactly what the forge said (the JSON escapes it for JSON).
	"$GITGATE" status --url "$URL" --json >"$T/status.json"
	expect_eq "$(json "$T/status.json" 'd["targets"][0]["reports"][0]["error"] == "HTTP 500 Down\x1b[2J\x07\rX\x9b31m"')" \
		True "the error as the forge sent it"
	"$GITGATE" status --url "$URL" >"$T/status" || fail "gitgate status failed"
	no_controls "$T/status"
	# Each control is one '?', on the destination's own row.
	grep -E '^prod +audit +webhook +[a-z_]+ +failed [0-9TZ:.-]+ +[0-9]+ +HTTP 500 Down\?\[2J\?\?X\?31m$' \
		"$T/status" >/dev/null || fail "status: $(cat "$T/status")"
	expect_eq "$(grep -c 'Down' "$T/status")" 1 "one line carries the error"
	# The log line of the failed report escapes the C0 controls too.
	python3 - "$T/daemon.log" <<'PY' || fail "ESC, BEL or CR in the daemon's log"
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(1 if any(c in data for c in b"\x1b\x07\r") else 0)
PY
	expect_contains "$T/daemon.log" 'error="HTTP 500 Down\x1b[2J\x07\x0dX\xc2\x9b31m"'
	no_controls "$T/daemon.log"
}

# A forge's status line with bytes that are no UTF-8 (a lone C1 CSI byte,
# 0xff): the report is kept and shown, each such byte as '?', and the log
# names the bytes.
t_a_forges_status_line_that_is_no_utf8_is_kept_and_shown() {
	echo badbytes >"$T/forge.mode"
	report_fails
	"$GITGATE" status --url "$URL" --json >"$T/status.json"
	expect_eq "$(json "$T/status.json" '[(r["destination"], r["error"]) for r in d["targets"][0]["reports"]]')" \
		"[('audit', 'HTTP 500 Down?31mX?')]" "the report and its error"
	"$GITGATE" status --url "$URL" >"$T/status" || fail "gitgate status failed"
	no_controls "$T/status"
	grep -E '^prod +audit +webhook +[a-z_]+ +failed [0-9TZ:.-]+ +[0-9]+ +HTTP 500 Down\?31mX\?$' \
		"$T/status" >/dev/null || fail "status: $(cat "$T/status")"
	no_controls "$T/daemon.log"
}

# No real path puts a newline into a deployment's printed cells (reasons and
# commits are the daemon's own text, or escaped where a forge's or a
# signer's text enters them), so this row is written straight into the
# SQLite store, as a damaged or tampered database would hold it: a reason
# and a commit with a newline, an ANSI escape and a bell.
t_a_stored_reason_with_a_newline_stays_on_its_row() {
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]"
	start_daemon
	stop_daemon
	sqlite3 "$T/state/gitgated.db" "INSERT INTO deployments(target, source, repo, ref, after,
		state, exit_status, commit_id, reason, attempt, created_at, finished_at)
		VALUES ('app', 'git', 'acme/app', 'refs/heads/main', 'abc', 'failed', 1,
		'abc' || char(10) || 'defdefdefdef', 'exited 1' || char(10) || 'FAKE ROW' ||
		char(27) || '[2J' || char(7), 0, 1700000000000, 1700000001000)" ||
		fail "cannot write the row"
	start_daemon
	"$GITGATE" status --url "$URL" >"$T/status" || fail "gitgate status failed"
	no_controls "$T/status"
	grep -E '^1 +app +failed +abc\?defdefde +1 +[0-9TZ:.-]+ +[^ ]+ +exited 1\?FAKE ROW\?\[2J\?$' \
		"$T/status" >/dev/null || fail "status: $(cat "$T/status")"
	if grep -q '^FAKE ROW' "$T/status"; then
		fail "the reason's newline started a row of its own"
	fi
}

run_cases
