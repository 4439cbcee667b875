#!/bin/sh
# gitgated's HTTP side: status codes of the contract, limits (body, head,
# connections, a client that trickles bytes), garbage, keep-alive, chunked
# bodies, unix sockets, the API's access rules, /healthz and /metrics.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/e2e/daemon_common.inc"

t_status_codes_404_405_413() {
	daemon_config "max_body: 8KiB"
	start_daemon
	f=$PAYLOADS/github-push.json
	expect_eq "$(post /hooks/nope "$f" -H "X-GitHub-Delivery: x")" 404 "unknown source"
	expect_eq "$(get "$URL/hooks/github")" 405 "GET on a hook"
	curl -s -D "$T/hdr" -o /dev/null -X PUT "$URL/hooks/github"
	expect_contains "$T/hdr" "HTTP/1.1 405"
	expect_contains "$T/hdr" "Allow: POST"
	expect_eq "$(get "$URL/nothing/here")" 404 "unknown path"
	expect_eq "$(post /healthz "$f")" 405 "POST /healthz"
	head -c 9000 /dev/zero | tr '\0' 'a' >"$T/big"
	expect_eq "$(post /hooks/github "$T/big" -H "X-GitHub-Delivery: big" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$T/big")")" 413 "body over max_body"
	# The same, announced by Content-Length before any body byte is sent.
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n")
print(s.recv(4096).decode().split("\r\n")[0])
PY
	expect_contains "$T/out" "HTTP/1.1 413"
	# A chunked body is counted as it arrives.
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
try:
    for _ in range(20):
        s.sendall(b"400\r\n" + b"a" * 1024 + b"\r\n")
except OSError:
    pass
print(s.recv(4096).decode().split("\r\n")[0])
PY
	expect_contains "$T/out" "HTTP/1.1 413"
	# Just under the limit is read (and refused for its signature only).
	head -c 8000 /dev/zero | tr '\0' 'a' >"$T/ok"
	expect_eq "$(post /hooks/github "$T/ok" -H "X-GitHub-Delivery: ok")" 401 "under max_body"
}

t_head_limits_and_malformed_requests() {
	daemon_config "max_header: 2KiB"
	start_daemon
	big=$(head -c 3000 /dev/zero | tr '\0' 'h')
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$URL/healthz")" 431 "big head"
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys
def ask(raw):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(raw)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    print(data.decode(errors="replace").split("\r\n")[0])
ask(b"GARBAGE\r\n\r\n")
ask(b"GET /healthz HTTP/9.9\r\n\r\n")
ask(b"POST /hooks/github HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc")
ask(b"POST /hooks/github HTTP/1.1\r\nContent-Length: x1\r\n\r\n")
ask(b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")
PY
	expect_eq "$(grep -c '^HTTP/1.1 400' "$T/out")" 5 "malformed requests"
	curl -s "$URL/healthz" >/dev/null || fail "daemon gone"
}

t_slow_client_is_disconnected() {
	daemon_config
	sed -i 's/^read_timeout: .*/read_timeout: 1s/' "$T/cfg.yaml"
	start_daemon
	# One byte per second: the request would take a minute, the daemon cuts it off.
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 60 + b"\r\n\r\n"
closed = False
for i in range(len(req)):
    try:
        s.send(req[i:i+1])
    except OSError:
        closed = True
        break
    s.settimeout(1.0)
    try:
        if s.recv(1) == b"":
            closed = True
            break
    except socket.timeout:
        pass
    except OSError:
        closed = True
        break
print("closed" if closed else "still open after the whole request")
PY
	expect_contains "$T/out" "closed"
	curl -sf "$URL/healthz" >/dev/null || fail "daemon gone"
}

t_garbage_requests_do_not_hurt() {
	daemon_config
	start_daemon
	python3 - "$PORT" <<'PY'
import os, random, socket, sys
random.seed(7)
port = int(sys.argv[1])
shapes = [
    lambda: os.urandom(random.randint(1, 600)),
    lambda: b"POST /hooks/github HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % random.randint(0, 99) + os.urandom(random.randint(0, 120)),
    lambda: b"GET /" + os.urandom(30) + b" HTTP/1.1\r\n\r\n",
    lambda: b"POST /hooks/gitlab HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + os.urandom(40),
    lambda: b"\r\n" * random.randint(1, 50),
]
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    try:
        s.sendall(random.choice(shapes)())
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
    except OSError:
        pass
    s.close()
PY
	expect_eq "$(get "$URL/healthz")" 200 "healthz after garbage"
	expect_eq "$(json "$T/get" 'd["status"]')" ok status
	kill -0 "$DPID" || fail "daemon died"
}

t_max_connections() {
	daemon_config "max_connections: 3
max_connections_per_peer: 3"
	start_daemon
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(5)
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except OSError:
    pass
print(data.decode().split("\r\n")[0] or "closed")
for c in idle:
    c.close()
PY
	expect_contains "$T/out" "HTTP/1.1 503"
	i=0
	until [ "$(get "$URL/healthz")" = 200 ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "no connection after the idle ones closed"
		sleep 0.05
	done
}

t_keepalive_pipelining_and_chunked() {
	daemon_config
	start_daemon
	f=$PAYLOADS/github-push.json
	sig=$(hmac_hex github-secret "$f")
	# The second delivery asks for another commit: the same one again would be refused.
	sed "s/$AFTER/$BEFORE/g" "$f" >"$T/second.json"
	sig2=$(hmac_hex github-secret "$T/second.json")
	python3 - "$PORT" "$f" "$sig" "$T/second.json" "$sig2" >"$T/out" <<'PY'
import socket, sys
port, path, sig = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
body2, sig2 = open(sys.argv[4], "rb").read(), sys.argv[5]
def req(delivery, chunked=False):
    b, sg = (body2, sig2) if chunked else (body, sig)
    h = b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: " + delivery + b"\r\nX-Hub-Signature-256: sha256=" + sg.encode() + b"\r\n"
    if chunked:
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(b[i:i+1000]), b[i:i+1000]) for i in range(0, len(b), 1000))
        return h + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    return h + b"Content-Length: %d\r\n\r\n" % len(b) + b
s = socket.create_connection(("127.0.0.1", port))
# Three requests in one write, then a fourth on the same connection.
s.sendall(req(b"ka-1") + req(b"ka-2", chunked=True) + req(b"ka-1"))
s.settimeout(5)
data = b""
while data.count(b"HTTP/1.1 ") < 3:
    data += s.recv(65536)
s.sendall(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
import re
for line in re.findall(rb"HTTP/1\.1 [0-9]{3} [A-Za-z ]+(?=\r\n)", data):
    print(line.decode())
PY
	expect_eq "$(tr '\n' ' ' <"$T/out")" "HTTP/1.1 202 Accepted HTTP/1.1 202 Accepted HTTP/1.1 200 OK HTTP/1.1 200 OK " \
		"answers in order"
	expect_eq "$(get "$URL/api/v1/deployments?target=prod")" 200 list
	expect_eq "$(json "$T/get" 'len(d["deployments"])')" 2 "two deliveries queued"
}

t_many_pipelined_requests() {
	daemon_config
	start_daemon
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
n = 5000
def send():
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * n + b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
threading.Thread(target=send).start()
s.settimeout(30)
data = b""
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    data += b
print(data.count(b"HTTP/1.1 200 OK"))
PY
	expect_eq "$(cat "$T/out")" 5001 "answers to pipelined requests"
	expect_eq "$(get "$URL/healthz")" 200 "still serving"
}

t_half_closed_client_gets_its_answers() {
	daemon_config
	start_daemon
	f=$PAYLOADS/generic-push.json
	sig=$(hmac_hex generic-secret "$f")
	python3 - "$PORT" "$f" "$sig" >"$T/out" <<'PY'
import re, socket, sys
port, path, sig = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n" +
          b"POST /hooks/generic HTTP/1.1\r\nX-Gitgate-Delivery: half-1\r\nX-Gitgate-Signature: sha256=" +
          sig.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
s.shutdown(socket.SHUT_WR)
s.settimeout(5)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
for line in re.findall(rb"HTTP/1\.1 [0-9]{3} [A-Za-z ]+(?=\r\n)", data):
    print(line.decode())
PY
	expect_eq "$(tr '\n' ' ' <"$T/out")" "HTTP/1.1 200 OK HTTP/1.1 202 Accepted " "answers after the client's FIN"
}

t_unix_socket_listener() {
	daemon_config
	sed -i "s|^listen: .*|listen: [\"127.0.0.1:$PORT\", \"unix:$T/gitgated.sock\"]|" "$T/cfg.yaml"
	start_daemon
	f=$PAYLOADS/generic-push.json
	code=$(curl -s -o "$T/resp" -w '%{http_code}' --unix-socket "$T/gitgated.sock" -X POST \
		--data-binary "@$f" -H "X-Gitgate-Delivery: sock-1" \
		-H "X-Gitgate-Signature: sha256=$(hmac_hex generic-secret "$f")" http://localhost/hooks/generic)
	expect_eq "$code" 202 "push over a unix socket"
	# Unix-socket clients are local: the API answers them without a token.
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/gitgated.sock" \
		http://localhost/api/v1/targets)" 200 "API over the socket"
	stop_daemon
	[ ! -e "$T/gitgated.sock" ] || fail "socket left behind"
}

t_ipv6_listener() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null || {
		echo "no IPv6 loopback here" >&2
		return 0
	}
	daemon_config
	sed -i "s|^listen: .*|listen: [\"[::1]:$PORT\"]|" "$T/cfg.yaml"
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	trap 'stop_daemon' EXIT
	i=0
	until curl -sf -o /dev/null "http://[::1]:$PORT/healthz"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no answer on [::1]"
		sleep 0.05
	done
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$PORT/api/v1/targets")" 200 "::1 is local"
}

t_api_token_and_loopback_rules() {
	API_YAML=
	daemon_config
	secret api "s3cr3t-api-token" >/dev/null
	sed -i "s|^state_dir:|api_token_file: $T/api.secret\nstate_dir:|" "$T/cfg.yaml"
	start_daemon
	expect_eq "$(get "$URL/api/v1/targets")" 401 "no token"
	expect_eq "$(get -H 'Authorization: Bearer wrong' "$URL/api/v1/targets")" 401 "wrong token"
	expect_eq "$(get -H 'Authorization: Bearer s3cr3t-api-token' "$URL/api/v1/targets")" 200 "token"
	expect_eq "$(json "$T/get" '[t["name"] for t in d["targets"]]')" "['prod', 'releases', 'dc']" targets
	expect_eq "$(get -H 'Authorization: Bearer s3cr3t-api-token' "$URL/api/v1/deployments/999")" 404 "no such id"
	expect_eq "$(get -H 'Authorization: Bearer s3cr3t-api-token' "$URL/api/v1/deployments/abc")" 404 "bad id"
	stop_daemon
	unset API_YAML

	# Without a token file, loopback trusted by the config (the
	# tests' default): loopback only. Reach the daemon over a non-loopback address.
	addr=$(python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.connect(("192.0.2.1", 9)); a = s.getsockname()[0]
except OSError:
    a = ""
print(a if a and not a.startswith("127.") else "")')
	daemon_config
	sed -i "s|^listen: .*|listen: [\"0.0.0.0:$PORT\"]|" "$T/cfg.yaml"
	start_daemon
	expect_eq "$(get "$URL/api/v1/targets")" 200 "loopback without a token"
	if [ -n "$addr" ]; then
		expect_eq "$(get "http://$addr:$PORT/api/v1/targets")" 403 "remote without a token"
		# Webhooks and health are not restricted.
		expect_eq "$(get "http://$addr:$PORT/healthz")" 200 "remote healthz"
	else
		echo "no non-loopback address: the 403 case is covered by loopback only" >&2
	fi
}

t_metrics_and_healthz() {
	daemon_config
	start_daemon
	f=$PAYLOADS/github-push.json
	post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: m-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$f")" >/dev/null
	post /hooks/github "$f" -H "X-GitHub-Event: push" -H "X-GitHub-Delivery: m-2" >/dev/null
	curl -s -D "$T/hdr" -o "$T/metrics" "$URL/metrics"
	expect_contains "$T/hdr" "Content-Type: text/plain; version=0.0.4"
	expect_contains "$T/metrics" 'gitgated_deliveries_total{source="github",result="accepted"} 1'
	expect_contains "$T/metrics" 'gitgated_deliveries_total{source="github",result="unauthorized"} 1'
	expect_contains "$T/metrics" '# TYPE gitgated_http_request_duration_seconds histogram'
	expect_contains "$T/metrics" 'gitgated_http_request_duration_seconds_count '
	expect_contains "$T/metrics" 'gitgated_deployments{target="prod",state="'
	expect_contains "$T/metrics" 'gitgated_queue_depth '
	expect_contains "$T/metrics" 'gitgated_deployments_running '
	# Every sample line is NAME{labels} VALUE or NAME VALUE.
	grep -v '^#' "$T/metrics" | grep -vE '^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$' >"$T/badlines" || true
	[ ! -s "$T/badlines" ] || fail "malformed metric lines: $(cat "$T/badlines")"
}

run_cases
