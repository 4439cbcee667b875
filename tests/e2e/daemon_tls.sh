#!/bin/sh
# gitgated's own TLS: a test CA made here with openssl, HTTPS deliveries that
# curl verifies, what a TLS port does with plain HTTP and with TLS 1.1,
# certificate renewal on SIGHUP (an upload in flight survives it, a broken pair
# is refused), clients stuck in their handshake, client certificates, socket
# activation; then trusted_proxies, behind a real nginx and from untrusted peers.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/e2e/daemon_common.inc"

# make_ca: $T/ca.pem and $T/ca.key.
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=gitgate test CA" \
		2>/dev/null
}

# make_cert NAME CN: $T/NAME.pem (signed by the test CA, for 127.0.0.1 and
# localhost) and $T/NAME.key (mode 600).
make_cert() {
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
		>"$T/ext.cnf"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$T/$1.key.new" -out "$T/$1.csr" -subj "/CN=$2" 2>/dev/null
	openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 2 -extfile "$T/ext.cnf" -out "$T/$1.pem.new" 2>/dev/null
	chmod 600 "$T/$1.key.new"
	mv "$T/$1.key.new" "$T/$1.key"
	mv "$T/$1.pem.new" "$T/$1.pem"
}

# tls_config [EXTRA-TLS-KEYS] [EXTRA-TOP-LEVEL-YAML]: the usual config,
# listening with TLS only, with the server pair srv.pem/srv.key.
tls_config() {
	make_ca
	make_cert srv "gitgate first"
	daemon_config "$2"
	sed -i "s|^listen: .*|listen: [{address: \"127.0.0.1:$PORT\", tls: {cert_file: \"$T/srv.pem\", key_file: \"$T/srv.key\"$1}}]|" \
		"$T/cfg.yaml"
}

# start_tls_daemon: like start_daemon, over HTTPS, curl trusting the test CA.
start_tls_daemon() {
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	URL="https://127.0.0.1:$PORT"
	trap 'stop_daemon' EXIT
	i=0
	until curl -sf --cacert "$T/ca.pem" -o /dev/null "$URL/healthz"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $DPID 2>/dev/null; then
			cat "$T/daemon.log" >&2
			fail "gitgated did not come up over TLS"
		fi
		sleep 0.05
	done
}

# signed_push URL DELIVERY [curl args...]: a signed GitHub push, each for a commit of its
# own (a commit the target already runs is not deployed again); prints the status.
signed_push() {
	_u=$1
	_id=$2
	shift 2
	_f=$(another_commit "$PAYLOADS/github-push.json")
	curl -s -o "$T/resp" -w '%{http_code}' -X POST --data-binary "@$_f" \
		-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: $_id" \
		-H "X-Hub-Signature-256: sha256=$(hmac_hex github-secret "$_f")" "$@" "$_u/hooks/github"
}

# failures: gitgated_tls_handshake_failures_total right now.
failures() {
	curl -s --cacert "$T/ca.pem" "$URL/metrics" |
		sed -n 's/^gitgated_tls_handshake_failures_total //p'
}

# wait_log TEXT: until the daemon's log has TEXT (at most 10 s).
wait_log() {
	i=0
	until grep -qF -- "$1" "$T/daemon.log"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the log never said: $1"
		sleep 0.05
	done
}

t_signed_push_over_https_is_202_and_verified() {
	tls_config
	start_tls_daemon
	expect_eq "$(signed_push "$URL" tls-1 --cacert "$T/ca.pem")" 202 "signed push over HTTPS"
	expect_eq "$(json "$T/resp" '[x["target"] for x in d["deployments"]]')" "['prod']" targets
	# A client that does not know the CA refuses the server: the chain is really checked.
	expect_status 60 curl -s -o /dev/null "$URL/healthz"
	# The certificate served is the configured one.
	openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/ca.pem" </dev/null \
		>"$T/sc" 2>&1 || true
	expect_contains "$T/sc" "CN = gitgate first"
	expect_contains "$T/sc" "Verify return code: 0 (ok)"
	expect_contains "$T/daemon.log" "client=127.0.0.1"
}

t_plain_http_on_tls_port_gets_no_http_answer() {
	tls_config
	start_tls_daemon
	before=$(failures)
	python3 - "$PORT" >"$T/out" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except OSError:
    pass
print("closed", repr(data[:5]))
PY
	expect_contains "$T/out" "closed"
	expect_not_contains "$T/out" "HTTP"
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" 000 \
		"curl over plain HTTP"
	expect_eq "$(failures)" $((before + 2)) "handshake failures counted"
}

t_tls_1_1_refused_1_2_and_1_3_served() {
	tls_config
	start_tls_daemon
	before=$(failures)
	# SECLEVEL=0: let the client offer TLS 1.1 at all; the server must refuse it.
	expect_status 1 sh -c "openssl s_client -connect 127.0.0.1:$PORT -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' </dev/null >'$T/sc11' 2>&1"
	expect_contains "$T/sc11" "alert protocol version"
	expect_eq "$(failures)" $((before + 1)) "the refused handshake is counted"
	openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -CAfile "$T/ca.pem" </dev/null \
		>"$T/sc12" 2>&1
	expect_contains "$T/sc12" "Protocol  : TLSv1.2"
	openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -CAfile "$T/ca.pem" </dev/null \
		>"$T/sc13" 2>&1
	expect_contains "$T/sc13" "TLSv1.3"
}

t_min_version_1_3_refuses_1_2() {
	tls_config ", min_version: \"1.3\""
	start_tls_daemon
	expect_status 1 sh -c "openssl s_client -connect 127.0.0.1:$PORT -tls1_2 \
		</dev/null >'$T/sc12' 2>&1"
	expect_contains "$T/sc12" "alert protocol version"
	expect_eq "$(signed_push "$URL" tls13 --cacert "$T/ca.pem" --tlsv1.3)" 202 "TLS 1.3 push"
}

t_sighup_serves_renewed_cert_without_dropping_an_upload() {
	tls_config
	start_tls_daemon
	f=$PAYLOADS/github-push.json
	sig=$(hmac_hex github-secret "$f")
	# An upload that has sent half its body when the certificate is renewed.
	python3 - "$PORT" "$T" "$DPID" "$f" "$sig" >"$T/out" 2>&1 <<'PY'
import os, socket, ssl, subprocess, sys, time
port, t, pid, path, sig = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
body = open(path, "rb").read()
ctx = ssl.create_default_context(cafile=t + "/ca.pem")
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
s.settimeout(10)
s.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
          b"X-GitHub-Delivery: renew-1\r\nX-Hub-Signature-256: sha256=" + sig.encode() +
          b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:100])
print("old", dict(x[0] for x in s.getpeercert()["subject"])["commonName"])
# Renew: a new key and certificate in place, then SIGHUP.
ext = t + "/ext.cnf"
subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", t + "/new.key", "-out", t + "/new.csr", "-subj",
                "/CN=gitgate renewed"], check=True, capture_output=True)
subprocess.run(["openssl", "x509", "-req", "-in", t + "/new.csr", "-CA", t + "/ca.pem", "-CAkey",
                t + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile", ext, "-out",
                t + "/new.pem"], check=True, capture_output=True)
os.chmod(t + "/new.key", 0o600)
os.replace(t + "/new.key", t + "/srv.key")
os.replace(t + "/new.pem", t + "/srv.pem")
os.kill(pid, 1)
for _ in range(200):
    if "TLS certificate reloaded" in open(t + "/daemon.log").read():
        break
    time.sleep(0.05)
s.sendall(body[100:])
resp = b""
while b"\r\n\r\n" not in resp:
    b = s.recv(4096)
    if not b:
        break
    resp += b
print("in flight", resp.split(b"\r\n")[0].decode())
s2 = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
print("new", dict(x[0] for x in s2.getpeercert()["subject"])["commonName"])
PY
	cat "$T/out"
	expect_contains "$T/out" "old gitgate first"
	expect_contains "$T/out" "in flight HTTP/1.1 202"
	expect_contains "$T/out" "new gitgate renewed"
	expect_contains "$T/daemon.log" "TLS certificate reloaded"
}

t_broken_new_pair_keeps_the_old_one() {
	tls_config
	start_tls_daemon
	cp "$T/srv.key" "$T/first.key"
	# A key that does not belong to the certificate.
	openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out "$T/other.key" \
		2>/dev/null
	chmod 600 "$T/other.key"
	cp "$T/other.key" "$T/srv.key"
	kill -HUP "$DPID"
	wait_log "TLS certificate reload failed; keeping the running one"
	expect_contains "$T/daemon.log" "does not match"
	expect_eq "$(signed_push "$URL" broken-1 --cacert "$T/ca.pem")" 202 "served by the old pair"
	# Garbage where the key was.
	echo "not a key" >"$T/srv.key"
	kill -HUP "$DPID"
	wait_log "not a PEM private key"
	# A key file others may read is refused like every secret file.
	cp "$T/first.key" "$T/srv.key"
	chmod 644 "$T/srv.key"
	kill -HUP "$DPID"
	wait_log "group- or world-accessible"
	expect_eq "$(signed_push "$URL" broken-2 --cacert "$T/ca.pem")" 202 "still served"
	openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/ca.pem" </dev/null \
		>"$T/sc" 2>&1 || true
	expect_contains "$T/sc" "CN = gitgate first"
	expect_not_contains "$T/daemon.log" "TLS certificate reloaded"
	# New TLS settings in the config wait for a restart, and the log says so.
	chmod 600 "$T/srv.key"
	sed -i "s|key_file: \"$T/srv.key\"|key_file: \"$T/srv.key\", min_version: \"1.3\"|" \
		"$T/cfg.yaml"
	kill -HUP "$DPID"
	wait_log "listen and state_dir changes take effect at the next start"
}

t_stuck_handshakes_do_not_block_a_delivery() {
	tls_config "" "max_connections: 100
max_connections_per_peer: 100"
	sed -i 's/^read_timeout: .*/read_timeout: 2s/' "$T/cfg.yaml"
	start_tls_daemon
	before=$(failures)
	fds=$(ls /proc/$DPID/fd | wc -l)
	# 50 clients: half send nothing, half the start of a ClientHello, then stall.
	python3 - "$PORT" "$T/go" >"$T/stuck" 2>&1 <<'PY' &
import os, socket, sys, time
port, flag = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(50):
    s = socket.create_connection(("127.0.0.1", port))
    if i % 2:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    socks.append(s)
open(flag, "w").close()
closed = 0
for s in socks:
    s.settimeout(30)
    try:
        closed += s.recv(1) == b""
    except OSError:
        closed += 1
print("closed by the server:", closed)
PY
	spid=$!
	i=0
	until [ -e "$T/go" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the stuck clients did not connect"
		sleep 0.05
	done
	expect_eq "$(signed_push "$URL" stuck-1 --cacert "$T/ca.pem" --max-time 5)" 202 \
		"a delivery next to 50 stuck handshakes"
	wait $spid
	expect_contains "$T/stuck" "closed by the server: 50"
	expect_eq "$(failures)" $((before + 50)) "handshakes that never finished are counted"
	curl -s --cacert "$T/ca.pem" "$URL/metrics" >"$T/metrics"
	expect_contains "$T/metrics" "gitgated_connections 1"
	# Every socket of those connections was closed (curl's own goes once it hangs up).
	i=0
	until [ "$(ls /proc/$DPID/fd | wc -l)" -le "$fds" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "file descriptors leaked: $fds before, $(ls /proc/$DPID/fd | wc -l) after"
		sleep 0.05
	done
}

t_client_certificates_when_client_ca_file_is_set() {
	tls_config ", client_ca_file: \"$T/ca.pem\""
	# The daemon's own readiness probe needs a client certificate too.
	make_cert cli "a forge"
	cat >"$T/curlrc" <<EOF2
cert = "$T/cli.pem"
key = "$T/cli.key"
EOF2
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	URL="https://127.0.0.1:$PORT"
	trap 'stop_daemon' EXIT
	i=0
	until curl -sf -K "$T/curlrc" --cacert "$T/ca.pem" -o /dev/null "$URL/healthz"; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "gitgated did not come up"
		sleep 0.05
	done
	expect_eq "$(signed_push "$URL" mtls-1 --cacert "$T/ca.pem" -K "$T/curlrc")" 202 \
		"with a client certificate"
	expect_eq "$(signed_push "$URL" mtls-2 --cacert "$T/ca.pem")" 000 \
		"without a client certificate"
	# A client certificate from another CA is refused as well.
	mv "$T/ca.pem" "$T/real-ca.pem"
	mv "$T/ca.key" "$T/real-ca.key"
	make_ca
	make_cert rogue "a stranger"
	mv "$T/ca.pem" "$T/rogue-ca.pem"
	mv "$T/real-ca.pem" "$T/ca.pem"
	expect_eq "$(signed_push "$URL" mtls-3 --cacert "$T/ca.pem" --cert "$T/rogue.pem" \
		--key "$T/rogue.key")" 000 "a certificate of another CA"
}

t_socket_activation_serves_tls() {
	tls_config
	other=$(free_port)
	# The config's address is not used; the TLS settings of the entry with the
	# activated socket's port are.
	sed -i "s|\"127.0.0.1:$PORT\"|\"127.0.0.1:$PORT\"}, {address: \"127.0.0.1:$other\"|" \
		"$T/cfg.yaml"
	sed -i "s|\"127.0.0.1:$PORT\"}, {address: \"127.0.0.1:$other\", tls:|\"127.0.0.1:$other\"}, {address: \"127.0.0.1:$PORT\", tls:|" \
		"$T/cfg.yaml"
	grep -q "address: \"127.0.0.1:$PORT\", tls:" "$T/cfg.yaml" || fail "config rewrite"
	systemd-socket-activate -l "127.0.0.1:$PORT" "$GITGATED" -c "$T/cfg.yaml" \
		2>>"$T/daemon.log" &
	DPID=$!
	URL="https://127.0.0.1:$PORT"
	trap 'stop_daemon' EXIT
	i=0
	until [ "$(signed_push "$URL" act-1 --cacert "$T/ca.pem")" = 202 ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "no 202 over the activated TLS socket"
		sleep 0.1
	done
	expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$other/healthz")" 000 \
		"the config's own address is not bound"
}

t_config_refusals() {
	tls_config
	cp "$T/cfg.yaml" "$T/base.yaml"
	chmod 640 "$T/srv.key"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "cfg.yaml:1:"
	expect_contains "$T/err" "group- or world-accessible"
	chmod 600 "$T/srv.key"
	"$GITGATED" --check -c "$T/cfg.yaml" >/dev/null
	sed "s|min_version: x|x|; s|key_file: \"$T/srv.key\"|key_file: \"$T/srv.key\", min_version: \"1.1\"|" \
		"$T/base.yaml" >"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "'min_version' must be \"1.2\" or \"1.3\""
	sed "s|key_file: \"$T/srv.key\"|key_file: \"$T/ca.key\"|" "$T/base.yaml" >"$T/cfg.yaml"
	chmod 600 "$T/ca.key"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "does not match the certificate"
	sed "s|address: \"127.0.0.1:$PORT\"|address: \"unix:$T/s.sock\"|" "$T/base.yaml" >"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "not unix sockets"
	# A FIFO or a device named by mistake is refused, not read forever.
	mkfifo "$T/fifo"
	sed "s|cert_file: \"$T/srv.pem\"|cert_file: \"$T/fifo\"|" "$T/base.yaml" >"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "fifo: not a regular file"
	sed "s|cert_file: \"$T/srv.pem\"|cert_file: \"/dev/zero\"|" "$T/base.yaml" >"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "/dev/zero: not a regular file"
	sed "s|cert_file: \"$T/srv.pem\"|cert_file: \"$T/srv.key\"|" "$T/base.yaml" >"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "cannot load the certificate"
	sed "s|key_file: \"$T/srv.key\"||" "$T/base.yaml" >"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "needs both cert_file and key_file"
	{ cat "$T/base.yaml"; echo 'trusted_proxies: ["10.0.0.0/33", "nonsense", "::1/128"]'; } \
		>"$T/cfg.yaml"
	expect_status 2 "$GITGATED" --check -c "$T/cfg.yaml" 2>"$T/err"
	expect_contains "$T/err" "10.0.0.0/33"
	[ "$(grep -c 'trusted_proxies entry' "$T/err")" = 2 ] || fail "two bad entries, not $(cat "$T/err")"
}

# ---- trusted_proxies ----

t_forged_forwarding_from_an_untrusted_peer_changes_nothing() {
	daemon_config "trusted_proxies: [\"10.0.0.0/8\", \"fd00::/8\"]"
	start_daemon
	expect_eq "$(signed_push "$URL" forged-1 -H "X-Forwarded-For: 203.0.113.9" \
		-H "Forwarded: for=198.51.100.7;proto=https" -H "X-Forwarded-Proto: https")" 202 \
		"a delivery with forged headers"
	expect_contains "$T/daemon.log" "delivery=forged-1"
	grep 'delivery=forged-1' "$T/daemon.log" >"$T/line"
	expect_contains "$T/line" "client=127.0.0.1"
	expect_not_contains "$T/daemon.log" "203.0.113.9"
	expect_not_contains "$T/daemon.log" "198.51.100.7"
	id=$(first_id)
	expect_eq "$(get "$URL/api/v1/deployments/$id")" 200 "the deployment"
	expect_eq "$(json "$T/get" 'd["client"]')" 127.0.0.1 "client in the API"
	# A request that says it was relayed never gets the loopback exception of /api/v1.
	expect_eq "$(get -H "X-Forwarded-For: 127.0.0.1" "$URL/api/v1/targets")" 403 \
		"API with a forwarding header"
}

# nginx_start PORT UPSTREAM: a Debian nginx on loopback, its own prefix.
nginx_start() {
	mkdir -p "$T/nginx/logs" "$T/nginx/tmp"
	cat >"$T/nginx/nginx.conf" <<EOF2
worker_processes 1;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
daemon off;
events { worker_connections 64; }
http {
	access_log $T/nginx/logs/access.log;
	client_body_temp_path $T/nginx/tmp/body;
	proxy_temp_path $T/nginx/tmp/proxy;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	server {
		listen 127.0.0.1:$1;
		client_max_body_size 1m;
		location / {
			proxy_pass http://$2;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_read_timeout 30s;
		}
	}
}
EOF2
	/usr/sbin/nginx -e "$T/nginx/logs/error.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" &
	NPID=$!
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$1/healthz"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 $NPID 2>/dev/null; then
			cat "$T/nginx/logs/error.log" >&2
			fail "nginx did not come up"
		fi
		sleep 0.05
	done
	trap 'kill -TERM $NPID 2>/dev/null || true; wait $NPID 2>/dev/null || true; stop_daemon' EXIT
}

t_through_nginx_the_log_names_the_forwarded_client() {
	daemon_config "trusted_proxies: [\"127.0.0.1/32\"]"
	# Every loopback TCP peer is the trusted proxy here: ask the API on a unix socket.
	sed -i "s|^listen: \[\(.*\)\]|listen: [\1, \"unix:$T/api.sock\"]|" "$T/cfg.yaml"
	start_daemon
	nport=$(free_port)
	nginx_start "$nport" "127.0.0.1:$PORT"
	# The sender connects from 127.0.0.5; nginx (127.0.0.1) relays.
	expect_eq "$(signed_push "http://127.0.0.1:$nport" via-nginx-1 --interface 127.0.0.5)" 202 \
		"a delivery through nginx"
	grep 'delivery=via-nginx-1' "$T/daemon.log" >"$T/line"
	expect_contains "$T/line" "client=127.0.0.5"
	# The API's record of the deployment names the same client.
	id=$(first_id)
	expect_eq "$(get --unix-socket "$T/api.sock" "http://x/api/v1/deployments/$id")" 200 \
		"the deployment, asked on the unix socket"
	expect_eq "$(json "$T/get" 'd["client"]')" 127.0.0.5 "client in the API"
	# A sender that forges X-Forwarded-For: nginx appends the real address,
	# and only the right end of the list, written by trusted proxies, counts.
	expect_eq "$(signed_push "http://127.0.0.1:$nport" via-nginx-2 --interface 127.0.0.6 \
		-H "X-Forwarded-For: 203.0.113.9")" 202 "a forged header through nginx"
	grep 'delivery=via-nginx-2' "$T/daemon.log" >"$T/line"
	expect_contains "$T/line" "client=127.0.0.6"
	expect_not_contains "$T/daemon.log" "203.0.113.9"
	# The loopback exception of /api/v1 never applies through the proxy.
	expect_eq "$(get "http://127.0.0.1:$nport/api/v1/targets")" 403 "API through nginx"
	expect_eq "$(get "$URL/api/v1/targets")" 403 "API from the trusted proxy's address"
	# A refused delivery through nginx names the client as well.
	code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.7 -X POST \
		--data-binary "@$PAYLOADS/github-push.json" -H "X-GitHub-Delivery: bad-1" \
		-H "X-Hub-Signature-256: sha256=00" "http://127.0.0.1:$nport/hooks/github")
	expect_eq "$code" 401 "a bad signature through nginx"
	grep 'delivery refused' "$T/daemon.log" >"$T/line"
	expect_contains "$T/line" "client=127.0.0.7"
}

t_through_caddy_with_tls_the_log_names_the_forwarded_client() {
	make_ca
	make_cert srv "caddy front"
	daemon_config "trusted_proxies: [\"127.0.0.1\"]"
	start_daemon
	cport=$(free_port)
	mkdir -p "$T/caddy"
	cat >"$T/Caddyfile" <<EOF2
{
	admin off
	auto_https disable_redirects
	storage file_system $T/caddy
}
https://127.0.0.1:$cport {
	tls $T/srv.pem $T/srv.key
	request_body {
		max_size 1MB
	}
	reverse_proxy 127.0.0.1:$PORT
}
EOF2
	XDG_DATA_HOME=$T/caddy XDG_CONFIG_HOME=$T/caddy caddy run --config "$T/Caddyfile" \
		--adapter caddyfile >"$T/caddy.log" 2>&1 &
	CPID=$!
	trap 'kill -TERM $CPID 2>/dev/null || true; wait $CPID 2>/dev/null || true; stop_daemon' EXIT
	i=0
	until curl -s --cacert "$T/ca.pem" -o /dev/null "https://127.0.0.1:$cport/healthz"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 $CPID 2>/dev/null; then
			cat "$T/caddy.log" >&2
			fail "caddy did not come up"
		fi
		sleep 0.05
	done
	expect_eq "$(signed_push "https://127.0.0.1:$cport" via-caddy-1 --cacert "$T/ca.pem" \
		--interface 127.0.0.8 -H "X-Forwarded-For: 203.0.113.9")" 202 "a delivery through caddy"
	grep 'delivery=via-caddy-1' "$T/daemon.log" >"$T/line"
	expect_contains "$T/line" "client=127.0.0.8"
	expect_not_contains "$T/daemon.log" "203.0.113.9"
	expect_eq "$(get --cacert "$T/ca.pem" "https://127.0.0.1:$cport/api/v1/targets")" 403 \
		"API through caddy"
}

t_a_database_from_before_the_client_column_is_upgraded() {
	daemon_config
	mkdir -p "$T/state"
	# The deployments table as earlier versions created it, with one old row.
	python3 - "$T/state/gitgated.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
CREATE TABLE deployments(
 id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, source TEXT, repo TEXT,
 ref TEXT, before TEXT, after TEXT, pusher TEXT, delivery TEXT, clone_url TEXT,
 state TEXT NOT NULL, exit_status INTEGER, commit_id TEXT, reason TEXT,
 attempt INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, started_at INTEGER,
 finished_at INTEGER, not_before INTEGER NOT NULL DEFAULT 0);
INSERT INTO deployments(target, state, created_at) VALUES ('gone', 'succeeded', 0);
""")
db.commit()
PY
	start_daemon
	expect_eq "$(get "$URL/api/v1/deployments/1")" 200 "the old row"
	expect_eq "$(json "$T/get" 'd["client"]')" None "no client recorded then"
	expect_eq "$(signed_push "$URL" upgraded-1)" 202 "a delivery into the upgraded database"
	id=$(first_id)
	get "$URL/api/v1/deployments/$id" >/dev/null
	expect_eq "$(json "$T/get" 'd["client"]')" 127.0.0.1 "client of the new row"
}

t_intermediate_certificates_in_cert_file_are_sent() {
	tls_config
	# root -> intermediate -> leaf; cert_file holds the leaf, then the intermediate.
	printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$T/ca.cnf"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/int.key" \
		-out "$T/int.csr" -subj "/CN=gitgate test intermediate" 2>/dev/null
	openssl x509 -req -in "$T/int.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 2 -extfile "$T/ca.cnf" -out "$T/int.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/leaf.key" \
		-out "$T/leaf.csr" -subj "/CN=gitgate leaf" 2>/dev/null
	openssl x509 -req -in "$T/leaf.csr" -CA "$T/int.pem" -CAkey "$T/int.key" -CAcreateserial \
		-days 2 -extfile "$T/ext.cnf" -out "$T/leaf.pem" 2>/dev/null
	cat "$T/leaf.pem" "$T/int.pem" >"$T/srv.pem"
	cp "$T/leaf.key" "$T/srv.key"
	chmod 600 "$T/srv.key"
	start_tls_daemon
	# curl knows only the root: the server must send the intermediate.
	expect_eq "$(signed_push "$URL" chain-1 --cacert "$T/ca.pem")" 202 "through the chain"
	openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/ca.pem" -showcerts </dev/null \
		>"$T/sc" 2>&1 || true
	expect_contains "$T/sc" "CN = gitgate test intermediate"
	expect_contains "$T/sc" "Verify return code: 0 (ok)"
}

run_cases
