#!/bin/sh
# Attacks on gitgated, made as an attacker with push access or network access
# would make them: real HTTP on loopback to the built daemon, real
# deployments, real pushes. Each case is one way into the daemon that used to
# work; see docs/reliability.md, "Security".
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

# event FILE AFTER REF [PUSHER] [REPO]: a generic push event as JSON in FILE.
event() {
	python3 - "$2" "$3" "${4:-tester}" "${5:-acme/app}" >"$1" <<'PY'
import json, sys
after, ref, pusher, repo = sys.argv[1:5]
doc = {"ref": ref, "before": "0" * 40, "after": after,
       "repository": {"full_name": repo, "clone_url": "file:///nonexistent"},
       "pusher": {"name": pusher}, "commits": []}
# Bytes that are not UTF-8 go out raw, as a sender could put them on the wire.
sys.stdout.buffer.write(json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogateescape"))
PY
}

# get [CURL-ARGS...] URL: GET into $T/get; prints the status code.
get() {
	curl -s -o "$T/get" -w '%{http_code}' "$@"
}

# send FILE DELIVERY: POST FILE signed as the source "git"; prints the status.
send() {
	_sig=$(openssl dgst -sha256 -hmac notify-secret "$1" | sed 's/^.*= *//')
	curl -s -o "$T/resp" -w '%{http_code}' -X POST --data-binary "@$1" \
		-H 'Content-Type: application/json' -H "X-Gitgate-Delivery: $2" \
		-H "X-Gitgate-Signature: sha256=$_sig" "$URL/hooks/git"
}

c() { printf '%040d' "$1"; }

# A clone at $T/work of a real repository: what `git fetch origin {branch}` runs in.
fetch_repo() {
	make_repo
	commit a.txt one
	push
	git clone -q "$T/src/acme/app.git" "$T/work"
}

# ---- Option injection through the branch name, the pusher, the delivery id (item 6) ----

t_branch_named_as_an_option_is_refused() {
	fetch_repo
	deploy_config "  - name: app
    repo: acme/app
    ref: \"refs/heads/**\"
    run: [\"git\", \"-C\", \"$T/work\", \"fetch\", \"origin\", \"{branch}\"]"
	start_daemon
	# The branch as git would store it; any shell that saw ${IFS} would split there.
	event "$T/e.json" "$(c 1)" 'refs/heads/--upload-pack=touch${IFS}pwned;false'
	expect_eq "$(send "$T/e.json" inj-1)" 400 "branch starting with --"
	expect_contains "$T/resp" "not a valid git ref name"
	# Every other way out of git's ref rules is refused the same way.
	for ref in 'refs/heads/a/-x' 'refs/heads/.hidden' 'refs/heads/a..b' 'refs/heads/a.lock' \
		'refs/heads/a@{1}' "$(printf 'refs/heads/a\033[31m')" "$(printf 'refs/heads/a\302\233x')" \
		"$(printf 'refs/heads/a\377')" 'refs/heads/a b' 'refs/heads/a:b' 'refs/heads//a'; do
		event "$T/e.json" "$(c 2)" "$ref"
		expect_eq "$(send "$T/e.json" "inj-$(date +%s%N)")" 400 "ref '$ref'"
	done
	sleep 0.5
	[ ! -e "$T/work/pwned" ] && [ ! -e "$T/pwned" ] || fail "the branch name ran a command"
	api deployments
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 0 "nothing queued"
}

t_placeholder_that_would_start_an_option_fails_the_deployment() {
	fetch_repo
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"git\", \"-C\", \"$T/work\", \"fetch\", \"origin\", \"{pusher}\"]"
	start_daemon
	event "$T/e.json" "$(c 1)" refs/heads/main '--upload-pack=touch${IFS}pwned;false'
	expect_eq "$(send "$T/e.json" pusher-1)" 202 "a pusher may be named anything printable"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$id" failed
	expect_eq "$(dep_field "$id" 'd["reason"]')" \
		"refused: run[5] \"{pusher}\" would start with '-' once its placeholders are replaced" reason
	expect_eq "$(dep_field "$id" 'd["attempt"]')" 1 "not retried: one attempt"
	expect_contains "$T/dep.json" "would start with"
	[ ! -e "$T/work/pwned" ] && [ ! -e "$T/pwned" ] || fail "the pusher ran a command"
}

t_delivery_id_is_limited_to_a_safe_alphabet() {
	fetch_repo
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"git\", \"-C\", \"$T/work\", \"fetch\", \"origin\", \"{delivery}\"]"
	start_daemon
	event "$T/e.json" "$(c 1)" refs/heads/main
	expect_eq "$(send "$T/e.json" '--upload-pack=touch${IFS}pwned;false')" 400 "delivery id as an option"
	expect_contains "$T/resp" "delivery id must be"
	expect_eq "$(send "$T/e.json" 'a$(id)')" 400 "delivery id with a command"
	sleep 0.5
	[ ! -e "$T/work/pwned" ] || fail "the delivery id ran a command"
}

# ---- Replays (item 7; and a flushed spool after the poll, issue 17) ----

replay_target() { # [EXTRA-TARGET-YAML]
	deploy_config "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/deployed\", \"sh\", \"{after}\"]
$1"
}

# deploy_ok FILE DELIVERY: send and wait until the deployment succeeded.
deploy_ok() {
	expect_eq "$(send "$1" "$2")" 202 "delivery $2"
	_id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 dep_state_is "$_id" succeeded
}

t_replayed_old_delivery_does_not_roll_the_target_back() {
	replay_target
	start_daemon
	event "$T/old.json" "$(c 1)" refs/heads/main
	event "$T/new.json" "$(c 2)" refs/heads/main
	deploy_ok "$T/old.json" d-1
	deploy_ok "$T/new.json" d-2
	# The attacker kept the old body and its signature; a fresh delivery id gets it past dedup.
	expect_eq "$(send "$T/old.json" d-1-again)" 200 "replay answered, not queued"
	expect_eq "$(json "$T/resp" 'd["deployments"][0]["state"]')" refused "state in the answer"
	expect_eq "$(json "$T/resp" 'd["deployments"][0]["reason"]')" "replay of an older commit" "reason"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	expect_eq "$(dep_field "$id" 'd["state"]')" refused "stored as refused"
	expect_eq "$(dep_field "$id" 'd["after"]')" "$(c 1)" "what it asked for"
	# The current commit again runs nothing either.
	expect_eq "$(send "$T/new.json" d-2-again)" 200 "repeat of the current commit"
	expect_eq "$(json "$T/resp" 'd["deployments"][0]["reason"]')" "commit already deployed" "reason"
	wait_until 20 settled
	expect_eq "$(tr '\n' ' ' <"$T/deployed")" "$(c 1) $(c 2) " "deployed, in order, once each"
	expect_contains "$T/daemon.log" 'msg="deployment refused"'
}

t_replay_waiting_behind_a_newer_push_never_runs() {
	# The newer push is still queued behind a slow one when the replay comes.
	replay_target
	sed -i "s|echo \$1 >> $T/deployed|sleep \$2; echo \$1 >> $T/deployed|; s|\"{after}\"\]|\"{after}\", \"{pusher}\"]|" "$T/cfg.yaml"
	start_daemon
	event "$T/a.json" "$(c 1)" refs/heads/main 0
	event "$T/b.json" "$(c 2)" refs/heads/main 1
	event "$T/c.json" "$(c 3)" refs/heads/main 0
	deploy_ok "$T/a.json" a
	expect_eq "$(send "$T/b.json" b)" 202 "b"
	expect_eq "$(send "$T/c.json" c)" 202 "c (queued behind b)"
	cid=$(json "$T/resp" 'd["deployments"][0]["id"]')
	# a, replayed while b runs and c waits: it must not push c out of the queue.
	expect_eq "$(send "$T/a.json" a-again)" 200 "replay of a"
	wait_until 30 dep_state_is "$cid" succeeded
	wait_until 20 settled
	expect_eq "$(tr '\n' ' ' <"$T/deployed")" "$(c 1) $(c 2) $(c 3) " "deployed"
}

t_allow_rollback_lets_an_older_commit_run() {
	replay_target "    allow_rollback: true"
	start_daemon
	event "$T/old.json" "$(c 1)" refs/heads/main
	event "$T/new.json" "$(c 2)" refs/heads/main
	deploy_ok "$T/old.json" d-1
	deploy_ok "$T/new.json" d-2
	deploy_ok "$T/old.json" d-1-rollback
	expect_eq "$(tr '\n' ' ' <"$T/deployed")" "$(c 1) $(c 2) $(c 1) " "rolled back on request"
}

t_gitlab_replay_with_a_fresh_idempotency_key_is_a_duplicate() {
	PORT=$(free_port)
	printf 'gl-token\n' >"$T/gl.secret"
	key=$(python3 -c 'import base64; print(base64.b64encode(b"0123456789abcdef0123456789abcdef").decode())')
	printf 'whsec_%s\n' "$key" >"$T/gl.sign"
	chmod 600 "$T/gl.secret" "$T/gl.sign"
	cat >"$T/cfg.yaml" <<YAML
listen: ["127.0.0.1:$PORT"]
state_dir: $T/state
${API_YAML-api: {allow_loopback_without_token: true\}}
sources:
  - {name: gl, kind: gitlab, secret_file: $T/gl.secret, signing_secret_file: $T/gl.sign}
targets:
  - {name: app, repo: acme/app, ref: refs/heads/main, run: ["sh", "-c", "echo x >> $T/deployed"]}
YAML
	start_daemon
	python3 - "$(c 1)" >"$T/gl.json" <<'PY'
import json, sys
print(json.dumps({"object_kind": "push", "ref": "refs/heads/main", "before": "0" * 40,
                  "after": sys.argv[1], "project": {"path_with_namespace": "acme/app"},
                  "user_username": "alice", "commits": []}), end="")
PY
	now=$(date +%s)
	sig=$(python3 - "$key" msg_1 "$now" "$T/gl.json" <<'PY'
import base64, hashlib, hmac, sys
key = base64.b64decode(sys.argv[1])
msg = ("%s.%s." % (sys.argv[2], sys.argv[3])).encode() + open(sys.argv[4], "rb").read()
print("v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())
PY
)
	for k in key-1 key-2-replayed; do
		curl -s -o "$T/resp" -w '%{http_code}\n' -X POST --data-binary "@$T/gl.json" \
			-H "X-Gitlab-Event: Push Hook" -H "X-Gitlab-Token: gl-token" -H "Idempotency-Key: $k" \
			-H "webhook-id: msg_1" -H "webhook-timestamp: $now" -H "webhook-signature: $sig" \
			"$URL/hooks/gl" >>"$T/codes"
	done
	expect_eq "$(tr '\n' ' ' <"$T/codes")" "202 200 " "signed, then its replay"
	expect_eq "$(json "$T/resp" 'd["duplicate"]')" True "the replay is the same signed delivery"
	expect_eq "$(json "$T/resp" 'd["delivery"]')" msg_1 "dedup on the signed id"
	wait_until 20 settled
	expect_eq "$(wc -l <"$T/deployed")" 1 "ran once"
}

t_spooled_push_found_by_the_poll_is_not_deployed_again_by_the_flush() {
	make_repo
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
    checkout:
      url: file://$T/src/acme/app.git
      dir: $T/www/site
      poll: 1s
      run: [\"sh\", \"-c\", \"echo \$1 >> $T/deployed\", \"sh\", \"{after}\"]"
	use_notifier
	commit index.html "pushed while the daemon was down"
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	expect_contains "$T/push.out" "spooled"
	start_daemon
	wait_until 30 settled
	expect_eq "$(cat "$T/deployed")" "$c1" "the poll deployed it"
	expect_status 0 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" refused "the flushed delivery"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["reason"]')" "commit already deployed" reason
	wait_until 20 settled
	expect_eq "$(cat "$T/deployed")" "$c1" "deployed once"
}

# ---- The API behind a same-host proxy (item 8) ----

# proxy PORT UPSTREAM-PORT: a reverse proxy on loopback, as nginx would be.
proxy() {
	python3 - "$1" "$2" >"$T/proxy.log" 2>&1 <<'PY' &
import http.server, socketserver, sys, urllib.request
port, up = int(sys.argv[1]), int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            r = urllib.request.urlopen("http://127.0.0.1:%d%s" % (up, self.path))
            code, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
socketserver.TCPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
	PROXY_PID=$!
}

t_api_and_metrics_need_a_token_behind_a_same_host_proxy() {
	API_YAML=
	deploy_config "  - {name: secret-target, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}"
	start_daemon
	pport=$(free_port)
	proxy "$pport" "$PORT"
	# Under set -e a failing command ends a trap: a proxy already gone and
	# reaped must not keep the daemon from being stopped.
	trap 'kill $PROXY_PID 2>/dev/null || true; stop_daemon' EXIT
	wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$pport/healthz"
	for p in /api/v1/targets /api/v1/deployments /metrics; do
		expect_eq "$(get "http://127.0.0.1:$pport$p")" 403 "$p through the proxy"
		expect_not_contains "$T/get" secret-target
		expect_eq "$(get "$URL$p")" 403 "$p from loopback"
	done
	expect_contains "$T/get" "allow_loopback_without_token"
	expect_eq "$(get "http://127.0.0.1:$pport/healthz")" 200 "healthz stays open"
}

t_api_token_is_required_whenever_configured() {
	API_YAML=
	printf 'api-token-1\n' >"$T/api.token"
	chmod 600 "$T/api.token"
	deploy_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}" \
		"api_token_file: $T/api.token"
	start_daemon
	expect_eq "$(get "$URL/api/v1/targets")" 401 "loopback without the token"
	expect_eq "$(get "$URL/metrics")" 401 "metrics without the token"
	expect_eq "$(get -H 'Authorization: Bearer api-token' "$URL/api/v1/targets")" 401 "a prefix"
	expect_eq "$(get -H 'Authorization: Bearer api-token-12' "$URL/api/v1/targets")" 401 "longer"
	expect_eq "$(get -H 'Authorization: Bearer api-token-1' "$URL/metrics")" 200 "metrics with it"
	expect_contains "$T/get" 'gitgated_'
	stop_daemon
	# Over a unix socket: the token still, when there is one ...
	LISTEN="unix:$T/gg.sock"
	deploy_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}" \
		"api_token_file: $T/api.token"
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	wait_until 10 test -S "$T/gg.sock"
	expect_eq "$(get --unix-socket "$T/gg.sock" http://x/api/v1/targets)" 401 "unix socket, token set"
	stop_daemon
	# ... and none without one: the socket's permissions decide.
	deploy_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}"
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	wait_until 10 test -S "$T/gg.sock"
	expect_eq "$(get --unix-socket "$T/gg.sock" http://x/api/v1/targets)" 200 "unix socket, no token"
	expect_eq "$(get --unix-socket "$T/gg.sock" http://x/metrics)" 200 "metrics on the socket"
}

# ---- The state directory (item 9) ----

t_state_dir_others_can_write_is_refused() {
	deploy_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}"
	mkdir -p "$T/state"
	chmod 777 "$T/state"
	expect_status 1 timeout 20 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "refusing the state directory"
	expect_contains "$T/err" "$T/state: writable by group or others (mode 0777)"
	chmod 750 "$T/state"
	mkdir -p "$T/state/logs"
	chmod 775 "$T/state/logs"
	expect_status 1 timeout 20 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "$T/state/logs: writable by group or others"
	chmod 750 "$T/state/logs"
	if [ "$(id -u)" = 0 ]; then
		# Made by another user: the daemon would write where that user can plant links.
		chown nobody "$T/state"
		expect_status 1 timeout 20 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/err"
		expect_contains "$T/err" "$T/state: owned by uid $(id -u nobody), not by the daemon's user"
		chown 0 "$T/state"
		mkdir "$T/above"
		chown nobody "$T/above"
		sed -i "s|^state_dir: .*|state_dir: $T/above/state|" "$T/cfg.yaml"
		expect_status 1 timeout 20 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/err"
		expect_contains "$T/err" "$T/above: a directory above state_dir that another user can change"
		sed -i "s|^state_dir: .*|state_dir: $T/state|" "$T/cfg.yaml"
	fi
	start_daemon
	expect_eq "$(get "$URL/healthz")" 200 "a state dir of our own"
}

t_symlink_planted_in_the_state_dir() {
	printf 'precious\n' >"$T/victim"
	replay_target
	mkdir -p "$T/state/logs"
	chmod 750 "$T/state" "$T/state/logs"
	# Planted while the directory was open to others: the daemon refuses to start.
	ln -s "$T/victim" "$T/state/logs/1.log"
	expect_status 1 timeout 20 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "$T/state/logs/1.log: a symlink in the state directory"
	rm "$T/state/logs/1.log"
	start_daemon
	# Planted after the start (by something running as the daemon's user): never followed.
	ln -s "$T/victim" "$T/state/logs/1.log"
	event "$T/e.json" "$(c 1)" refs/heads/main
	expect_eq "$(send "$T/e.json" sym-1)" 202 "push"
	wait_until 20 settled
	expect_eq "$(cat "$T/victim")" precious "the linked file is untouched"
}

# ---- HTTP framing (item 13) and connection slots (item 17) ----

t_chunk_size_with_0x_prefix_is_refused() {
	deploy_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}"
	start_daemon
	event "$T/e.json" "$(c 1)" refs/heads/main
	sig=$(openssl dgst -sha256 -hmac notify-secret "$T/e.json" | sed 's/^.*= *//')
	python3 - "$PORT" "$T/e.json" "$sig" >"$T/out" <<'PY'
import socket, sys
port, path, sig = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
def ask(size_line, delivery):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Gitgate-Delivery: " + delivery +
              b"\r\nX-Gitgate-Signature: sha256=" + sig.encode() +
              b"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
              size_line + b"\r\n" + body + b"\r\n0\r\n\r\n")
    s.settimeout(5)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    print(data.split(b"\r\n")[0].decode())
n = len(body)
ask(b"0x%x" % n, b"hex-1")
ask(b"+%x" % n, b"hex-2")
ask(b" %x" % n, b"hex-3")
ask(b"%x " % n, b"hex-4")
ask(b"%x;ext=1" % n, b"hex-5")
PY
	expect_eq "$(tr '\n' '|' <"$T/out")" \
		"HTTP/1.1 400 Bad Request|HTTP/1.1 400 Bad Request|HTTP/1.1 400 Bad Request|HTTP/1.1 400 Bad Request|HTTP/1.1 202 Accepted|" \
		"chunk sizes"
}

t_one_peer_cannot_hold_every_connection() {
	deploy_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}" \
		"max_connections: 8
read_timeout: 10s"
	start_daemon
	event "$T/e.json" "$(c 1)" refs/heads/main
	sig=$(openssl dgst -sha256 -hmac notify-secret "$T/e.json" | sed 's/^.*= *//')
	python3 - "$PORT" "$T/e.json" "$sig" >"$T/out" <<'PY'
import socket, sys, time
port, path, sig = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
# The attacker: every slot, idle, from 127.0.0.1.
held = []
for _ in range(8):
    try:
        held.append(socket.create_connection(("127.0.0.1", port)))
    except OSError:
        break
time.sleep(0.3)
# A sender from another address (127.0.0.2 is loopback too on Linux).
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", port))
s.sendall(b"POST /hooks/git HTTP/1.1\r\nHost: x\r\nX-Gitgate-Delivery: peer-1\r\n"
          b"X-Gitgate-Signature: sha256=" + sig.encode() +
          b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
s.settimeout(5)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    pass
print(data.split(b"\r\n")[0].decode() or "closed")
PY
	expect_eq "$(cat "$T/out")" "HTTP/1.1 202 Accepted" "a delivery while one peer holds its share"
	expect_contains "$T/daemon.log" "max_connections_per_peer reached"
}

# ---- Credentials in checkout URLs (item 14) ----

t_password_in_a_checkout_url_names_nothing() {
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
    checkout:
      url: http://deploy:s3cretpw@127.0.0.1:9
      dir: $T/www/site"
	start_daemon
	event "$T/e.json" "$(c 1)" refs/heads/main
	expect_eq "$(send "$T/e.json" cred-1)" 202 "push"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 30 dep_state_is "$id" failed
	ls -R "$T/state" >"$T/tree"
	expect_not_contains "$T/tree" s3cretpw
	curl -sf "$URL/api/v1/deployments/$id" >"$T/dep.json"
	expect_not_contains "$T/dep.json" s3cretpw
	expect_contains "$T/dep.json" "127_0_0_1_9-"
	expect_not_contains "$T/daemon.log" s3cretpw
}

run_cases
