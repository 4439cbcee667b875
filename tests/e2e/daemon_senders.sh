#!/bin/sh
# gitgated receives a correctly signed push from every sender kind (payloads
# shaped like each sender's documented push event) and queues deployments;
# wrong or missing signatures and tokens are 401, redeliveries are duplicates.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/e2e/daemon_common.inc"

# check_deployment ID TARGET REF AFTER REPO: the API shows the deployment.
check_deployment() {
	expect_eq "$(get "$URL/api/v1/deployments?target=$2")" 200 "list"
	expect_eq "$(json "$T/get" "[x['id'] for x in d['deployments']].count($1)")" 1 "listed"
	expect_eq "$(get "$URL/api/v1/deployments/$1")" 200 "GET deployment $1"
	expect_eq "$(json "$T/get" 'd["target"]')" "$2" "target"
	expect_eq "$(json "$T/get" 'd["ref"]')" "$3" "ref"
	expect_eq "$(json "$T/get" 'd["after"]')" "$4" "after"
	expect_eq "$(json "$T/get" 'd["repo"]')" "$5" "repo"
}

t_github_json_push_is_queued_and_redelivery_is_duplicate() {
	daemon_config
	start_daemon
	f=$PAYLOADS/github-push.json
	sig=$(hmac_hex github-secret "$f")
	code=$(post /hooks/github "$f" -H "Content-Type: application/json" \
		-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958" \
		-H "X-Hub-Signature-256: sha256=$sig")
	expect_eq "$code" 202 "signed push"
	expect_eq "$(json "$T/resp" 'd["delivery"]')" 72d3162e-cc78-11e3-81ab-4c9367dc0958 delivery
	expect_eq "$(json "$T/resp" '[x["target"] for x in d["deployments"]]')" "['prod']" targets
	id=$(first_id)
	check_deployment "$id" prod refs/heads/main $AFTER acme/platform-config
	expect_eq "$(json "$T/get" 'd["pusher"]')" alice pusher
	expect_eq "$(json "$T/get" 'd["clone_url"]')" https://github.com/acme/platform-config.git clone

	code=$(post /hooks/github "$f" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958" \
		-H "X-Hub-Signature-256: sha256=$sig")
	expect_eq "$code" 200 "redelivery"
	expect_eq "$(json "$T/resp" 'd["duplicate"]')" True duplicate
	expect_eq "$(json "$T/resp" 'd["deployments"]')" "[]" "nothing queued again"
	expect_eq "$(get "$URL/api/v1/deployments?target=prod")" 200 list
	expect_eq "$(json "$T/get" 'len(d["deployments"])')" 1 "one deployment"
}

t_github_bad_and_missing_signatures_are_401() {
	daemon_config
	start_daemon
	f=$PAYLOADS/github-push.json
	wrong=$(hmac_hex not-the-secret "$f")
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: a1" \
		-H "X-Hub-Signature-256: sha256=$wrong")" 401 "wrong signature"
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: a2")" \
		401 "missing signature"
	right=$(hmac_hex github-secret "$f")
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: a3" \
		-H "X-Hub-Signature-256: sha1=$right")" 401 "wrong scheme"
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: a4" \
		-H "X-Hub-Signature-256: sha256=${right%?}")" 401 "short signature"
	# The body changed after signing.
	sed 's/alice/mallory/' "$f" >"$T/tampered.json"
	expect_eq "$(post /hooks/github "$T/tampered.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: a5" -H "X-Hub-Signature-256: sha256=$right")" 401 "tampered body"
	expect_eq "$(get "$URL/api/v1/deployments")" 200 list
	expect_eq "$(json "$T/get" 'len(d["deployments"])')" 0 "nothing queued"
	expect_contains "$T/daemon.log" 'level=warn msg="delivery refused" result=unauthorized source=github'
	expect_not_contains "$T/daemon.log" 'github-secret'
	# Every line is logfmt: ts, level, msg first.
	grep -vE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=(debug|info|warn|error) msg=' \
		"$T/daemon.log" >"$T/badlog" || true
	[ ! -s "$T/badlog" ] || fail "log lines not in logfmt: $(head -3 "$T/badlog")"
}

t_json_logs() {
	daemon_config "log_format: json"
	start_daemon
	f=$PAYLOADS/github-push.json
	right=$(hmac_hex github-secret "$f")
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H 'X-GitHub-Delivery: {q:u.o}' \
		-H "X-Hub-Signature-256: sha256=$right")" 202 "accepted"
	# An event name (answered 200, nothing to deploy) with a byte that is not UTF-8.
	expect_eq "$(post /hooks/github "$f" -H "$(printf 'X-GitHub-Event: pi"ng\377')" \
		-H "X-GitHub-Delivery: odd-1" -H "X-Hub-Signature-256: sha256=$right")" 200 "odd event"
	expect_eq "$(json "$T/resp" 'd["event"]')" "$(printf 'pi"ng\357\277\275')" "the event in the answer"
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: bad-1" \
		-H "X-Hub-Signature-256: sha256=00")" 401 "refused"
	# The daemon logs each answer before sending it.
	# Every line is one JSON object: ts, level, msg first, then the event's fields.
	python3 - "$T/daemon.log" <<'PY' || fail "the log is not one JSON object per line"
import json, sys
lines = open(sys.argv[1], "rb").read().decode("utf-8").splitlines()
assert lines, "no lines"
seen = []
for ln in lines:
    d = json.loads(ln)
    assert list(d)[:3] == ["ts", "level", "msg"], ln
    seen.append(d)
acc = [d for d in seen if d["msg"] == "delivery" and d["delivery"] == '{q:u.o}']
assert acc and acc[0]["result"] == "accepted" and acc[0]["source"] == "github", seen
odd = [d for d in seen if d["msg"] == "delivery" and d["delivery"] == "odd-1"]
assert odd and odd[0]["event"] == 'pi"ng\ufffd', seen
ref = [d for d in seen if d["msg"] == "delivery refused"]
assert ref and ref[0]["level"] == "warn" and ref[0]["result"] == "unauthorized", seen
PY
	expect_not_contains "$T/daemon.log" 'github-secret'
	expect_not_contains "$T/daemon.log" 'level=info'
}

t_github_form_body() {
	daemon_config
	start_daemon
	python3 -c 'import sys,urllib.parse; sys.stdout.write("payload="+urllib.parse.quote_plus(open(sys.argv[1]).read()))' \
		"$PAYLOADS/github-push.json" >"$T/form"
	sig=$(hmac_hex github-secret "$T/form")
	code=$(post /hooks/github "$T/form" -H "Content-Type: application/x-www-form-urlencoded" \
		-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: form-1" -H "X-Hub-Signature-256: sha256=$sig")
	expect_eq "$code" 202 "form push"
	check_deployment "$(first_id)" prod refs/heads/main $AFTER acme/platform-config
}

t_github_ping_tag_and_delete() {
	daemon_config
	start_daemon
	f=$PAYLOADS/github-ping.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: ping" -H "X-GitHub-Delivery: p1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 200 ping
	expect_eq "$(json "$T/resp" 'd["deployments"]')" "[]" "ping queues nothing"
	# A ping with a bad signature is still refused.
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: ping" -H "X-GitHub-Delivery: p2" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex wrong "$f")")" 401 "unsigned ping"
	f=$PAYLOADS/github-tag.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: t1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 202 "tag push"
	check_deployment "$(first_id)" releases refs/tags/v1.4.0 $AFTER acme/platform-config
	f=$PAYLOADS/github-delete.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: del1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 200 "branch delete"
	expect_eq "$(json "$T/resp" 'd["deployments"]')" "[]" "delete queues nothing"
	f=$PAYLOADS/github-push.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: issues" -H "X-GitHub-Delivery: i1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 200 "other event"
	expect_eq "$(json "$T/resp" 'd["deployments"]')" "[]" "other event queues nothing"
}

t_gitlab_token() {
	daemon_config
	start_daemon
	f=$PAYLOADS/gitlab-push.json
	code=$(post /hooks/gitlab "$f" -H "Content-Type: application/json" -H "X-Gitlab-Event: Push Hook" \
		-H "X-Gitlab-Token: gitlab-token" -H "Idempotency-Key: 0b9ac5a3-7a2c-4a25-9c8b-1c3d2e4f5a6b")
	expect_eq "$code" 202 "gitlab push"
	check_deployment "$(first_id)" prod refs/heads/main $AFTER acme/platform-config
	expect_eq "$(json "$T/get" 'd["pusher"]')" alice pusher
	expect_eq "$(json "$T/get" 'd["clone_url"]')" https://gitlab.example.com/acme/platform-config.git clone
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-tokem" \
		-H "Idempotency-Key: k2")" 401 "wrong token"
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "Idempotency-Key: k3")" \
		401 "missing token"
	f=$PAYLOADS/gitlab-tag-push.json
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Tag Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: k4")" 202 "tag push"
	check_deployment "$(first_id)" releases refs/tags/v1.4.0 $AFTER acme/platform-config
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Merge Request Hook" \
		-H "X-Gitlab-Token: gitlab-token" -H "Idempotency-Key: k5")" 200 "other event"
	expect_eq "$(json "$T/resp" 'd["deployments"]')" "[]" "other event queues nothing"
	# Without Idempotency-Key, webhook-id is the delivery id; with neither: 400.
	f=$(another_commit "$PAYLOADS/gitlab-push.json")
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "webhook-id: msg_2b")" 202 "webhook-id"
	expect_eq "$(json "$T/resp" 'd["delivery"]')" msg_2b "delivery from webhook-id"
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token")" \
		400 "no delivery id"
}

# sw_sign KEY-B64 ID TS FILE: a Standard Webhooks v1 signature.
sw_sign() {
	python3 - "$@" <<'PY'
import base64, hashlib, hmac, sys
key = base64.b64decode(sys.argv[1])
msg = ("%s.%s." % (sys.argv[2], sys.argv[3])).encode() + open(sys.argv[4], "rb").read()
print("v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())
PY
}

t_gitlab_standard_webhooks() {
	daemon_config
	key=$(python3 -c 'import base64; print(base64.b64encode(b"0123456789abcdef0123456789abcdef").decode())')
	secret glsign "whsec_$key" >/dev/null
	sed -i "s|{name: gitlab, kind: gitlab, secret_file: $T/gl.secret}|{name: gitlab, kind: gitlab, secret_file: $T/gl.secret, signing_secret_file: $T/glsign.secret}|" "$T/cfg.yaml"
	start_daemon
	f=$PAYLOADS/gitlab-push.json
	now=$(date +%s)
	sig=$(sw_sign "$key" msg_1 "$now" "$f")
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: sw-1" -H "webhook-id: msg_1" -H "webhook-timestamp: $now" \
		-H "webhook-signature: $sig")" 202 "signed"
	check_deployment "$(first_id)" prod refs/heads/main $AFTER acme/platform-config
	# Several signatures (key rotation): one matching is enough.
	f=$(another_commit "$f")
	other=$(sw_sign "$(printf 'another key of 32 bytes.........' | base64)" msg_2 "$now" "$f")
	sig=$(sw_sign "$key" msg_2 "$now" "$f")
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: sw-2" -H "webhook-id: msg_2" -H "webhook-timestamp: $now" \
		-H "webhook-signature: $other $sig")" 202 "two signatures"
	old=$((now - 600))
	sig=$(sw_sign "$key" msg_3 "$old" "$f")
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: sw-3" -H "webhook-id: msg_3" -H "webhook-timestamp: $old" \
		-H "webhook-signature: $sig")" 401 "expired timestamp"
	sig=$(sw_sign "$key" msg_4 "$now" "$f")
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: sw-4" -H "webhook-id: msg_4" -H "webhook-timestamp: $now")" \
		401 "missing signature"
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: sw-5" -H "webhook-id: msg_5" -H "webhook-timestamp: $now" \
		-H "webhook-signature: $sig")" 401 "signature of another message id"
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: wrong" \
		-H "Idempotency-Key: sw-6" -H "webhook-id: msg_4" -H "webhook-timestamp: $now" \
		-H "webhook-signature: $sig")" 401 "good signature, wrong token"
}

# gitea_like KIND: bare hex signature over the JSON, JSON and form bodies.
gitea_like() {
	kind=$1
	H=$(python3 -c 'import sys; print(sys.argv[1].capitalize())' "$kind")
	f=$PAYLOADS/$kind-push.json
	sig=$(hmac_hex gitea-secret "$f")
	expect_eq "$(post "/hooks/$kind" "$f" -H "Content-Type: application/json" -H "X-$H-Event: push" \
		-H "X-$H-Delivery: $kind-1" -H "X-$H-Signature: $sig")" 202 "$kind push"
	check_deployment "$(first_id)" prod refs/heads/main $AFTER acme/platform-config
	expect_eq "$(json "$T/get" 'd["pusher"]')" alice "$kind pusher"
	expect_eq "$(post "/hooks/$kind" "$f" -H "X-$H-Event: push" -H "X-$H-Delivery: $kind-2" \
		-H "X-$H-Signature: sha256=$sig")" 401 "$kind prefixed signature"
	expect_eq "$(post "/hooks/$kind" "$f" -H "X-$H-Event: push" -H "X-$H-Delivery: $kind-3" \
		-H "X-$H-Signature: $(hmac_hex wrong "$f")")" 401 "$kind wrong signature"
	# Form body: the signature covers the JSON payload, not the form. Another
	# commit: the one already deployed would be refused as a replay.
	f2=$(another_commit "$f")
	python3 -c 'import sys,urllib.parse; sys.stdout.write("payload="+urllib.parse.quote_plus(open(sys.argv[1]).read()))' \
		"$f2" >"$T/form"
	expect_eq "$(post "/hooks/$kind" "$T/form" -H "Content-Type: application/x-www-form-urlencoded" \
		-H "X-$H-Event: push" -H "X-$H-Delivery: $kind-4" -H "X-$H-Signature: $(hmac_hex gitea-secret "$f2")")" \
		202 "$kind form"
	expect_eq "$(post "/hooks/$kind" "$f" -H "X-$H-Event: push" -H "X-$H-Delivery: $kind-1" \
		-H "X-$H-Signature: $sig")" 200 "$kind redelivery"
	expect_eq "$(json "$T/resp" 'd["duplicate"]')" True "$kind duplicate"
}

t_gitea() {
	daemon_config
	start_daemon
	gitea_like gitea
}

t_forgejo() {
	daemon_config
	start_daemon
	gitea_like forgejo
}

t_gogs() {
	daemon_config
	start_daemon
	gitea_like gogs
}

t_bitbucket_cloud() {
	daemon_config
	start_daemon
	f=$PAYLOADS/bitbucket-cloud-push.json
	sig=$(hmac_hex bitbucket-secret "$f")
	expect_eq "$(post /hooks/bitbucket "$f" -H "Content-Type: application/json" -H "X-Event-Key: repo:push" \
		-H "X-Request-UUID: 3a1b6e8c-0b5d-4b59-9e3c-4d2a6f1e7c90" -H "X-Hub-Signature: sha256=$sig")" \
		202 "bitbucket cloud push"
	# Two changes: main updated (no file lists, so paths cannot rule it out) and a deleted branch.
	expect_eq "$(json "$T/resp" 'len(d["deployments"])')" 1 "one deployment"
	check_deployment "$(first_id)" prod refs/heads/main $AFTER acme/platform-config
	expect_eq "$(json "$T/get" 'd["before"]')" $BEFORE before
	expect_eq "$(json "$T/get" 'd["clone_url"]')" https://bitbucket.org/acme/platform-config.git clone
	expect_eq "$(post /hooks/bitbucket "$f" -H "X-Event-Key: repo:push" -H "X-Request-UUID: bb-2" \
		-H "X-Hub-Signature: sha256=$(hmac_hex wrong "$f")")" 401 "wrong signature"
	expect_eq "$(post /hooks/bitbucket "$f" -H "X-Event-Key: repo:push" -H "X-Request-UUID: bb-3")" \
		401 "missing signature"
	expect_eq "$(post /hooks/bitbucket "$f" -H "X-Event-Key: pullrequest:created" -H "X-Request-UUID: bb-4" \
		-H "X-Hub-Signature: sha256=$sig")" 200 "other event"
	expect_eq "$(json "$T/resp" 'd["deployments"]')" "[]" "other event queues nothing"
}

t_bitbucket_data_center() {
	daemon_config
	start_daemon
	f=$PAYLOADS/bitbucket-dc-refs-changed.json
	sig=$(hmac_hex bitbucket-secret "$f")
	expect_eq "$(post /hooks/bitbucket "$f" -H "Content-Type: application/json; charset=UTF-8" \
		-H "X-Event-Key: repo:refs_changed" -H "X-Request-Id: 6c1f2d2e-3c47-4b1d-9a8c-ff00aa11bb22" \
		-H "X-Hub-Signature: sha256=$sig")" 202 "data center push"
	check_deployment "$(first_id)" dc refs/heads/main $AFTER ACME/platform-config
	expect_eq "$(json "$T/get" 'd["clone_url"]')" https://bitbucket.example.com/scm/acme/platform-config.git clone
	expect_eq "$(json "$T/get" 'd["pusher"]')" alice pusher
	printf '{"test": true}' >"$T/ping.json"
	expect_eq "$(post /hooks/bitbucket "$T/ping.json" -H "X-Event-Key: diagnostics:ping" \
		-H "X-Request-Id: dc-ping" -H "X-Hub-Signature: sha256=$(hmac_hex bitbucket-secret "$T/ping.json")")" \
		200 "test connection"
}

t_generic() {
	daemon_config
	start_daemon
	f=$PAYLOADS/generic-push.json
	sig=$(hmac_hex generic-secret "$f")
	expect_eq "$(post /hooks/generic "$f" -H "Content-Type: application/json" -H "X-Gitgate-Delivery: gen-1" \
		-H "X-Gitgate-Signature: sha256=$sig")" 202 "generic push"
	check_deployment "$(first_id)" prod refs/heads/main $AFTER acme/platform-config
	expect_eq "$(json "$T/get" 'd["clone_url"]')" file:///srv/git/acme/platform-config.git clone
	expect_eq "$(post /hooks/generic "$f" -H "X-Gitgate-Delivery: gen-2" \
		-H "X-Gitgate-Signature: sha256=$(hmac_hex github-secret "$f")")" 401 "other source's secret"
}

t_paths_and_truncated_lists() {
	daemon_config
	# Only the staging target's paths are not touched by the GitHub payload.
	cat >>"$T/cfg.yaml" <<YAML
  - name: staging-only
    repo: acme/platform-config
    ref: refs/heads/main
    paths: ["clusters/qa/**"]
    run: ["/bin/true"]
YAML
	start_daemon
	f=$PAYLOADS/github-push.json
	post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: paths-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")" >/dev/null
	expect_eq "$(json "$T/resp" '[x["target"] for x in d["deployments"]]')" "['prod']" "paths filter"
	# GitLab says 25 commits but lists 1: the files cannot be known, so it matches.
	f=$PAYLOADS/gitlab-push-truncated.json
	expect_eq "$(post /hooks/gitlab "$f" -H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gitlab-token" \
		-H "Idempotency-Key: trunc-1")" 202 "truncated"
	expect_eq "$(json "$T/resp" 'sorted(x["target"] for x in d["deployments"])')" \
		"['prod', 'staging-only']" "truncated list matches every path filter"
}

t_malformed_payloads_are_400() {
	daemon_config
	start_daemon
	printf 'not json at all' >"$T/bad"
	expect_eq "$(post /hooks/github "$T/bad" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: m1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$T/bad")")" 400 "not JSON"
	printf '{"ref": "refs/heads/main", "repository": {"full_name": "acme/x"}}' >"$T/bad"
	expect_eq "$(post /hooks/github "$T/bad" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: m2" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$T/bad")")" 400 "missing commits ids"
	f=$PAYLOADS/github-push.json
	expect_eq "$(post /hooks/github "$f" -H "X-GitHub-Event: push" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")")" 400 "missing delivery id"
	expect_eq "$(json "$T/resp" 'd["error"]')" "missing delivery id header" message
	expect_eq "$(get "$URL/api/v1/deployments")" 200 list
	expect_eq "$(json "$T/get" 'len(d["deployments"])')" 0 "nothing queued"
}

run_cases
