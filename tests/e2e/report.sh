#!/bin/sh
# Reports: every state of a deployment reaches every destination (GitHub,
# GitLab, Gitea and Forgejo commit statuses, signed webhooks) on a test forge
# on loopback, in order, once; through a forge that is down, a daemon killed
# with SIGKILL, a forge that hangs, and HTTPS with a test CA. The cases named
# on_postgres_* run the same on the PostgreSQL store, on a server they start.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

FORGE="$GG_TOP/tests/e2e/report_forge.py"
TOKEN=forge-token-5f1e9c
KINDS="github gitlab gitea forgejo webhook bitbucket bitbucket-datacenter slack github-deployment-status"

c() { # a commit id made of one repeated hex digit
	printf '%040d' 0 | tr 0 "$1"
}

# forge_start [CERT KEY]: the test forge on $FORGE_PORT (any free port when
# unset), answering as $T/forge.mode says; its log is $T/forge.log.
forge_start() {
	rm -f "$T/forge.port"
	FORGE_PORT=${FORGE_PORT:-0} python3 "$FORGE" "$T/forge.port" "$T/forge.log" \
		"$T/forge.mode" "$TOKEN" "$@" 2>>"$T/forge.err" &
	FPID=$!
	wait_until 20 test -s "$T/forge.port"
	FORGE_PORT=$(cat "$T/forge.port")
}

# start: the daemon, stopped with the forge (and the database) when the case ends.
start() {
	start_daemon
	trap 'stop_daemon; forge_stop; pg_stop' EXIT
}

# on_postgres: the case's store is PostgreSQL on a server of its own ($STORE_YAML).
on_postgres() {
	sh "$GG_TOP/tests/pgserver.sh" start "$T/pg" || fail "cannot start PostgreSQL"
	trap 'pg_stop' EXIT
	cp "$T/pg/conninfo" "$T/conninfo"
	chmod 600 "$T/conninfo"
	STORE_YAML="store: {kind: postgres, conninfo_file: $T/conninfo}"
}

pg_stop() {
	[ ! -d "$T/pg" ] || sh "$GG_TOP/tests/pgserver.sh" stop "$T/pg"
}

# psql_admin SQL: SQL on the case's database as the server's superuser, unaligned.
psql_admin() {
	psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U ggadmin -d gg -c "$1"
}

forge_stop() {
	[ -z "${FPID:-}" ] || kill "$FPID" 2>/dev/null || true
	[ -z "${FPID:-}" ] || wait "$FPID" 2>/dev/null || true
	FPID=
}

token_file() {
	printf '%s\n' "$TOKEN" >"$T/token"
	printf 'http://127.0.0.1:%s/slack/services/%s\n' "$FORGE_PORT" "$TOKEN" >"$T/slack-url"
	chmod 600 "$T/token" "$T/slack-url"
}

# report_yaml SCHEME: the five destinations, indented for a target.
report_yaml() {
	_b="$1://127.0.0.1:$FORGE_PORT"
	cat <<YAML
    report:
      - {kind: github, url: "$_b/gh", token_file: $T/token, target_url: "https://deploy.example.com/{target}/{id}"}
      - {kind: gitlab, url: "$_b/gl/api/v4", token_file: $T/token}
      - {kind: gitea, url: "$_b/gitea/api/v1/", token_file: $T/token}
      - {kind: forgejo, url: "$_b/forgejo/api/v1", token_file: $T/token}
      - {kind: webhook, url: "$_b/hook", token_file: $T/token}
      - {kind: bitbucket, url: "$_b/bb/2.0", token_file: $T/token, target_url: "https://deploy.example.com/{target}/{id}"}
      - {kind: bitbucket-datacenter, url: "$_b/bbdc", token_file: $T/token, target_url: "https://deploy.example.com/{commit}"}
      - {kind: slack, token_file: $T/slack-url}
      - {name: environments, kind: github, deployments: true, url: "$_b/gh", token_file: $T/token, target_url: "https://deploy.example.com/{id}"}
YAML
}

# target_yaml [SCHEME]: target prod: commits f... fail, e... hang past the timeout.
target_yaml() {
	cat <<YAML
  - name: prod
    repo: acme/app
    ref: refs/heads/main
    timeout: 6s
    run: ["sh", "-c", "case \$1 in f*) exit 1;; e*) sleep 60;; esac", "sh", "{after}"]
$(report_yaml "${1:-http}")
YAML
}

# ok_count KIND: requests of KIND the forge accepted.
ok_count() {
	python3 - "$T/forge.log" "$1" <<'PY'
import json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        e = json.loads(line)
        n += e["kind"] == sys.argv[2] and e["status"] in (200, 201, 204)
except FileNotFoundError:
    pass
print(n)
PY
}

# all_reached N: every kind has N accepted requests.
all_reached() {
	for _k in $KINDS; do
		[ "$(ok_count $_k)" -ge "$1" ] || return 1
	done
}

# check_sequence EXPECTED: the webhook's accepted (commit digit, state) sequence is
# EXPECTED (space-separated DIGIT:STATE, in order), nothing was refused by the forge,
# and each commit status kind got the same sequence, mapped to its own states.
check_sequence() {
	python3 - "$T/forge.log" "$1" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
bad = [e for e in log if e["error"]]
if bad:
    sys.exit("the forge refused requests: %s" % bad)
want = [tuple(x.split(":")) for x in sys.argv[2].split()]
ok = lambda k: [e for e in log if e["kind"] == k and e["status"] in (200, 201, 204)]
hook = [(e["body"]["after"][0], e["body"]["state"]) for e in ok("webhook")]
if hook != want:
    sys.exit("webhook got %s\n want %s" % (hook, want))
ids = [e["body"]["deployment"] for e in ok("webhook")]
dels = [e["headers"].get("X-Gitgate-Delivery") for e in ok("webhook")]
if len(set(dels)) != len(dels):
    sys.exit("a webhook delivery id repeats: %s" % dels)
gh = {"queued": "pending", "running": "pending", "succeeded": "success", "failed": "failure",
      "timed_out": "failure", "superseded": "error", "refused": "success"}
gl = {"queued": "pending", "running": "running", "succeeded": "success", "failed": "failed",
      "timed_out": "failed", "superseded": "canceled", "refused": "success"}
bb = {"queued": "INPROGRESS", "running": "INPROGRESS", "succeeded": "SUCCESSFUL",
      "failed": "FAILED", "timed_out": "FAILED", "superseded": "STOPPED", "refused": "SUCCESSFUL"}
dc = dict(bb, superseded="CANCELLED")
for kind, m, label in (("github", gh, "context"), ("gitea", gh, "context"),
                       ("forgejo", gh, "context"), ("gitlab", gl, "name"),
                       ("bitbucket", bb, "key"), ("bitbucket-datacenter", dc, "key")):
    got = [(e["sha"][0], e["body"]["state"]) for e in ok(kind)]
    exp = [(c, m[s]) for c, s in want]
    if got != exp:
        sys.exit("%s got %s\n want %s" % (kind, got, exp))
    for e in ok(kind):
        want_label = "gitgate-prod" if label == "key" else "gitgate/prod"
        if e["repo"] != "acme/app" or e["body"][label] != want_label:
            sys.exit("%s: wrong repo or context: %s" % (kind, e))
words = {"queued": "queued", "running": "deploying", "succeeded": "deployed",
         "failed": "deployment failed", "timed_out": "deployment timed out",
         "superseded": "superseded", "refused": "refused"}
got = [e["body"]["text"] for e in ok("slack")]
if len(got) != len(want):
    sys.exit("slack got %d messages, want %d" % (len(got), len(want)))
for text, (c, s) in zip(got, want):
    if not text.startswith("gitgate/prod: " + words[s]) or ("@ " + c * 12) not in text \
            or "acme/app refs/heads/main" not in text or " by tester" not in text:
        sys.exit("slack message %r is not about %s %s" % (text, c, s))
for e, i in zip(ok("github"), ids):
    if e["body"].get("target_url") != "https://deploy.example.com/prod/%d" % i:
        sys.exit("github target_url: %s" % e["body"])
gd = {"queued": "queued", "running": "in_progress", "succeeded": "success",
      "failed": "failure", "timed_out": "failure", "superseded": "inactive",
      "refused": "success"}
got = [(e["sha"][0], e["body"]["state"]) for e in ok("github-deployment-status")]
exp = [(c, gd[s]) for c, s in want]
if got != exp:
    sys.exit("github deployments got %s\n want %s" % (got, exp))
made = ok("github-deployment")
if len(made) != len(set(ids)) or any(e["body"]["environment"] != "prod" for e in made):
    sys.exit("one GitHub deployment per deployment, environment prod: %s" % made)
# Each deployment's statuses go to the GitHub deployment made for it.
per = {}
for e in ok("github-deployment-status"):
    per.setdefault(e["deployment_id"], set()).add(e["sha"])
if any(len(v) != 1 for v in per.values()) or len(per) != len(made):
    sys.exit("statuses went to the wrong deployments: %s" % per)
print("ok", len(want), "reports on each of 9 destinations")
PY
}

no_token_in_logs() {
	expect_not_contains "$T/daemon.log" "$TOKEN"
}

t_every_state_reaches_every_destination_in_order() {
	forge_start
	token_file
	deploy_config "$(target_yaml)" "${STORE_YAML:-}"
	start
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 settled
	expect_eq "$(send_event "$(c f)")" 202 "push f"
	wait_until 30 settled
	expect_eq "$(send_event "$(c e)")" 202 "push e"
	E=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 30 dep_state_is "$E" running
	expect_eq "$(send_event "$(c b)")" 202 "push b"
	expect_eq "$(send_event "$(c c)")" 202 "push c"
	wait_until 30 settled
	# The commit the target already runs, again: refused, and still reported.
	send_event "$(c c)" >/dev/null
	expect_eq "$(json "$T/resp" 'd["deployments"][0]["id"]')" 6 "the replay is stored"
	wait_until 30 settled
	wait_until 60 all_reached 16
	# e is running while b and c arrive; when it times out, c supersedes b and runs.
	check_sequence "a:queued a:running a:succeeded f:queued f:running f:failed \
e:queued e:running b:queued c:queued b:superseded e:timed_out c:running c:succeeded \
c:queued c:refused" 2>"$T/seq.err" ||
		check_sequence "a:queued a:running a:succeeded f:queued f:running f:failed \
e:queued e:running b:queued c:queued e:timed_out b:superseded c:running c:succeeded \
c:queued c:refused" || fail "the forge's record differs (see above)"
	curl -sf "$URL/metrics" >"$T/metrics"
	for k in github gitlab gitea forgejo webhook bitbucket bitbucket-datacenter slack environments; do
		expect_contains "$T/metrics" \
			"gitgated_reports_total{target=\"prod\",destination=\"$k\",result=\"sent\"} 16"
	done
	expect_not_contains "$T/metrics" 'result="failed"'
	no_token_in_logs
	stop_daemon
	forge_stop
}

t_on_postgres_every_state_reaches_every_destination_in_order() {
	on_postgres
	t_every_state_reaches_every_destination_in_order
	# The outbox is in the database: every destination's cursor is past every event.
	[ ! -e "$T/state/gitgated.db" ] || fail "the SQLite store was created too"
	expect_eq "$(psql_admin "SELECT count(*) FROM report_cursors WHERE last_event >= 16")" 9 \
		"cursors past the 16 events"
	expect_eq "$(psql_admin "SELECT count(*) FROM report_events e JOIN report_cursors c
		ON e.target = c.target AND e.id > c.last_event")" 0 "events left to send"
	pg_stop
}

t_on_postgres_sigkill_between_the_state_change_and_the_send_loses_and_repeats_nothing() {
	on_postgres
	t_sigkill_between_the_state_change_and_the_send_loses_and_repeats_nothing
	pg_stop
}

t_on_postgres_reports_older_than_report_max_age_are_dropped_with_a_line() {
	on_postgres
	t_reports_older_than_report_max_age_are_dropped_with_a_line
	pg_stop
}

t_a_forge_down_for_a_while_gets_every_report_once_back() {
	FORGE_PORT=$(free_port)
	token_file
	deploy_config "$(target_yaml)" "${STORE_YAML:-}"
	start
	down_since=$(date +%s)
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 settled
	expect_eq "$(send_event "$(c f)")" 202 "push f"
	wait_until 30 settled
	# Nobody listens: the daemon retries, with back-off, and says so.
	wait_until 60 sh -c "[ \$(grep -c 'report failed; retrying.*destination=github' '$T/daemon.log') -ge 3 ]"
	expect_contains "$T/daemon.log" 'error="cannot connect"'
	curl -sf "$URL/metrics" >"$T/metrics"
	expect_contains "$T/metrics" 'destination="github",result="failed"'
	# The forge stays away for 30 s in all, as an upgrade or an outage would.
	while [ $(($(date +%s) - down_since)) -lt 30 ]; do sleep 1; done
	forge_start
	wait_until 120 all_reached 6
	check_sequence "a:queued a:running a:succeeded f:queued f:running f:failed" ||
		fail "the forge's record differs (see above)"
	curl -sf "$URL/metrics" >"$T/metrics"
	expect_contains "$T/metrics" \
		'gitgated_reports_total{target="prod",destination="gitlab",result="sent"} 6'
	no_token_in_logs
	stop_daemon
	forge_stop
}

t_reports_older_than_report_max_age_are_dropped_with_a_line() {
	FORGE_PORT=$(free_port)
	token_file
	deploy_config "$(target_yaml)" "report_max_age: 2s
${STORE_YAML:-}"
	start
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 settled
	# Nobody listens until a's reports are older than 2 s: each is dropped, said once.
	wait_until 90 sh -c "[ \$(grep -c 'report dropped.*destination=gitlab.*older than report_max_age' '$T/daemon.log') -ge 3 ]"
	grep 'report dropped.*destination=gitlab' "$T/daemon.log" >"$T/dropped"
	expect_contains "$T/dropped" 'state=queued'
	expect_contains "$T/dropped" 'state=running'
	expect_contains "$T/dropped" 'state=succeeded'
	wait_until 90 sh -c "[ \$(grep -c 'report dropped.*destination=webhook' '$T/daemon.log') -ge 3 ]"
	curl -sf "$URL/metrics" >"$T/metrics"
	expect_contains "$T/metrics" \
		'gitgated_reports_total{target="prod",destination="gitlab",result="dropped"} 3'
	# The forge is back: a new deployment's reports reach it, the dropped ones never do.
	forge_start
	expect_eq "$(send_event "$(c b)")" 202 "push b"
	wait_until 30 settled
	wait_until 120 all_reached 3
	check_sequence "b:queued b:running b:succeeded" ||
		fail "the forge's record differs (see above)"
	no_token_in_logs
	stop_daemon
	forge_stop
}

t_sigkill_between_the_state_change_and_the_send_loses_and_repeats_nothing() {
	echo hang >"$T/forge.mode"
	forge_start
	token_file
	deploy_config "$(target_yaml)" "${STORE_YAML:-}"
	start
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 settled
	# Every destination holds a request the forge never answers: nothing is confirmed.
	wait_until 30 sh -c "[ \$(grep -c '\"hang\"' '$T/forge.log') -ge 8 ]"
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	echo ok >"$T/forge.mode"
	start
	wait_until 60 all_reached 3
	expect_eq "$(send_event "$(c f)")" 202 "push f"
	wait_until 30 settled
	wait_until 60 all_reached 6
	check_sequence "a:queued a:running a:succeeded f:queued f:running f:failed" ||
		fail "the forge's record differs (see above)"
	no_token_in_logs
	stop_daemon
	forge_stop
}

t_a_hanging_forge_does_not_slow_webhook_answers() {
	forge_start
	token_file
	deploy_config "$(target_yaml)" "${STORE_YAML:-}"
	start
	echo hang >"$T/forge.mode"
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 sh -c "[ \$(grep -c '\"hang\"' '$T/forge.log') -ge 8 ]"
	# While every destination holds a request that will not be answered in
	# the report timeout (10 s): each delivery is still answered at once.
	for n in 1 2 3 4 5 6 7 8 9; do
		_t0=$(date +%s%N)
		expect_eq "$(send_event "$(printf '%039d%d' 0 "$n" | tr 0 d)")" 202 "push $n"
		echo $((($(date +%s%N) - _t0) / 1000000)) >>"$T/during"
	done
	# A loop stuck on the forge would answer only after it gave up on it:
	expect_not_contains "$T/daemon.log" 'report failed'
	echo "# delivery answer ms while the forge hangs: $(sort -n "$T/during" | tr '\n' ' ')"
	no_token_in_logs
	stop_daemon
	forge_stop
}

t_https_with_a_test_ca_and_an_untrusted_certificate_refused() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj /CN=gitgate-test-ca 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/srv.key" \
		-out "$T/srv.csr" -subj /CN=forge 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
	openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-out "$T/srv.pem" -days 2 -extfile "$T/ext" 2>/dev/null
	forge_start "$T/srv.pem" "$T/srv.key"
	token_file
	deploy_config "  - name: prod
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]
    report:
      - {kind: github, url: \"https://127.0.0.1:$FORGE_PORT/gh\", token_file: $T/token, ca_file: $T/ca.pem}
      - {kind: webhook, url: \"https://127.0.0.1:$FORGE_PORT/hook\", token_file: $T/token, ca_file: $T/ca.pem}
      - {name: untrusted, kind: gitea, url: \"https://127.0.0.1:$FORGE_PORT/gitea/api/v1\", token_file: $T/token}"
	start
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 settled
	wait_until 60 sh -c "[ \$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)[\"status\"] in (200,201,204)))' '$T/forge.log') -ge 6 ]"
	expect_eq "$(ok_count github)" 3 "github over https"
	expect_eq "$(ok_count webhook)" 3 "webhook over https"
	expect_eq "$(ok_count gitea)" 0 "a certificate the system does not trust"
	wait_until 30 grep -q 'destination=untrusted.*certificate verify failed' "$T/daemon.log"
	no_token_in_logs
	stop_daemon
	forge_stop
}

t_status_shows_each_destinations_last_report_and_its_error() {
	echo 500 >"$T/forge.mode"
	forge_start
	token_file
	deploy_config "  - name: prod
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]
    report:
      - {kind: github, url: \"http://127.0.0.1:$FORGE_PORT/gh\", token_file: $T/token}
      - {name: audit, kind: webhook, url: \"http://127.0.0.1:$FORGE_PORT/hook\", token_file: $T/token}"
	start
	expect_eq "$(send_event "$(c a)")" 202 "push a"
	wait_until 30 settled
	wait_until 30 grep -q 'report failed; retrying.*destination=audit' "$T/daemon.log"
	wait_until 30 grep -q 'report failed; retrying.*destination=github' "$T/daemon.log"
	"$GITGATE" status --url "$URL" >"$T/status" || fail "gitgate status failed"
	expect_contains "$T/status" "TARGET  REPORT  KIND     STATE   RESULT"
	grep -E '^prod +github +github +queued +failed 20[0-9-]+T[0-9:.]+Z +3 +HTTP 500 Internal Server Error$' \
		"$T/status" >/dev/null || fail "status: $(cat "$T/status")"
	grep -E '^prod +audit +webhook +queued +failed .* 3 +HTTP 500' "$T/status" >/dev/null ||
		fail "status: $(cat "$T/status")"
	echo ok >"$T/forge.mode"
	wait_until 60 sh -c "[ \$(grep -c '\"status\": 201' '$T/forge.log') -ge 3 ]"
	wait_until 60 sh -c "[ \$(grep -c '\"status\": 200' '$T/forge.log') -ge 3 ]"
	wait_until 30 sh -c "'$GITGATE' status --url '$URL' | grep -qE '^prod +audit +webhook +succeeded +sent .* 0 +-\$'"
	"$GITGATE" status --url "$URL" --json >"$T/status.json"
	expect_eq "$(json "$T/status.json" '[(r["destination"], r["result"], r["error"]) for r in d["targets"][0]["reports"]]')" \
		"[('github', 'sent', None), ('audit', 'sent', None)]" "reports in the JSON status"
	no_token_in_logs
}

t_a_pusher_cannot_mention_or_link_in_chat() {
	forge_start
	token_file
	deploy_config "  - name: prod
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]
    report:
      - {kind: slack, token_file: $T/slack-url}"
	start
	PUSHER='<!channel> & <https://evil.example|click>' send_event "$(c a)" >/dev/null
	wait_until 30 settled
	wait_until 30 sh -c "[ \$(grep -c '\"slack\"' '$T/forge.log') -ge 3 ]"
	expect_not_contains "$T/forge.log" '"error": "'
	expect_contains "$T/forge.log" 'by &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;'
	no_token_in_logs
	expect_not_contains "$T/daemon.log" "slack/services"
}

t_config_refuses_what_it_cannot_report_to() {
	token_file
	chmod 644 "$T/token"
	printf 'x\n' >"$T/ok.token"
	chmod 600 "$T/ok.token"
	deploy_config "  - name: prod
    repo: acme/app
    ref: refs/heads/main
    run: [\"true\"]
    report:
      - {kind: teams, url: \"https://hooks.example.com/x\", token_file: $T/ok.token}
      - {kind: slack, url: \"https://hooks.example.com/x\", token_file: $T/ok.token}
      - {name: chat, kind: slack, token_file: $T/ok.token}
      - {kind: gitlab, deployments: true, token_file: $T/ok.token}
      - {kind: gitlab, url: \"https://user:s3cr3t-pass@gitlab.example.com/api/v4\", token_file: $T/ok.token}
      - {kind: gitea, token_file: $T/ok.token}
      - {kind: webhook, url: \"https://example.com/hook\"}
      - {kind: github, token_file: $T/token}
      - {kind: carrier-pigeon}
      - {kind: github, token_file: $T/ok.token, url: \"ftp://example.com\"}"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check 2>"$T/err"
	expect_contains "$T/err" "report kind 'teams' is not supported by this version"
	expect_contains "$T/err" "a slack destination needs its incoming webhook URL in 'url' or"
	expect_contains "$T/err" "ok.token: the incoming webhook URL must start with https://"
	expect_contains "$T/err" "report kind 'carrier-pigeon' is unknown"
	expect_contains "$T/err" "'deployments' applies to github destinations only"
	expect_contains "$T/err" "'url' must not carry credentials"
	expect_not_contains "$T/err" "s3cr3t-pass"
	expect_contains "$T/err" "a gitea destination needs 'url'"
	expect_contains "$T/err" "a webhook destination needs 'token_file'"
	expect_contains "$T/err" "$T/token"
	expect_contains "$T/err" "must start with https:// or http://"
	expect_contains "$T/err" "two destinations named 'github'"
	expect_not_contains "$T/err" "$TOKEN"
}

run_cases
