#!/bin/sh
# bench/webhook.sh: gitgated against adnanh/webhook on loopback with wrk.
#
# Both receive the same signed ~3.9 KB GitHub push body from wrk (-t2 -c16
# -d10s --latency). Valid: every request carries a fresh X-GitHub-Delivery,
# so gitgated verifies, parses, matches a target and durably stores the
# delivery and its queued deployment (SQLite WAL, synchronous=FULL, group
# commit) before its 202; webhook verifies and starts /bin/true for each.
# gitgated's target is busy with a deployment (a long command), as a real
# deploy is while pushes keep coming: every push is queued behind it. A
# second valid run goes to a target whose command is /bin/true. Every
# request asks for the same commit, so once the first run succeeded each
# later delivery is judged a repeat of what the target runs and stored
# refused without running: that run measures the intake with the replay
# check of every delivery (three indexed reads in the writer's transaction).
# Rejected: the signature is
# wrong. Prints requests/s, p99 latency and peak RSS (VmHWM) of each, with
# ratios, next to the anchor figures.
#
# PostgreSQL rows: the same valid deliveries to a third gitgated whose store
# is PostgreSQL (store: {kind: postgres}) on a server started here by
# tests/pgserver.sh, on a unix socket, with fsync on (synchronous_commit
# on, the default): a 202 means the commit reached the server's disk.
#
# Three replicas on PostgreSQL: three more gitgated, the same config apart
# from replica:, state_dir and listen port, sharing one fresh database (gg3)
# on the same server, so that they start from empty tables as the one-replica
# row did. wrk talks to one host:port, so three wrk processes run at once,
# one per replica, each with one thread and a third of the 16 connections
# (6+5+5): the valid deliveries are spread over the replicas as a
# round-robin load balancer would, without a proxy's own cost in the figure.
# The row prints the sum of the three rates and the worst of the three p99s,
# next to the one-replica row, and checks that the total is not below it.
#
# HTTPS rows: the same valid deliveries over TLS (wrk keeps its connections
# alive, so the handshake is paid once per connection), to a second gitgated
# with a fresh state directory serving its own TLS listener, and to a second
# webhook started with -secure; both get the same certificate (ECDSA P-256,
# made here by openssl).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
GITGATED=${GITGATED:-$BUILD/bin/gitgated}
DURATION=${DURATION:-10s}
W=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-webhook.XXXXXX")
GPID=
WPID=
GTPID=
WTPID=
GPPID=
R3PIDS=
cleanup() {
	for p in $R3PIDS; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	[ -n "$GPPID" ] && kill "$GPPID" 2>/dev/null && wait "$GPPID" 2>/dev/null
	[ -d "$W/pg" ] && sh "$top/tests/pgserver.sh" stop "$W/pg"
	[ -n "$GPID" ] && kill "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null && wait "$WPID" 2>/dev/null
	[ -n "$GTPID" ] && kill "$GTPID" 2>/dev/null && wait "$GTPID" 2>/dev/null
	[ -n "$WTPID" ] && kill "$WTPID" 2>/dev/null && wait "$WTPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT INT TERM

for tool in wrk webhook openssl python3; do
	command -v $tool >/dev/null || {
		echo "bench/webhook.sh: $tool is not installed" >&2
		exit 1
	}
done
[ -x "$GITGATED" ] || {
	echo "bench/webhook.sh: build first (make)" >&2
	exit 1
}

port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # URL
	i=0
	until curl -sk -o /dev/null "$1"; do
		i=$((i + 1))
		[ $i -lt 200 ] || {
			echo "bench/webhook.sh: nothing answers at $1" >&2
			exit 1
		}
		sleep 0.05
	done
}

SECRET=bench-secret-3f9a
BODY=$top/tests/data/payloads/github-push.json
SIG=$(openssl dgst -sha256 -hmac "$SECRET" "$BODY" | sed 's/^.*= *//')
BADSIG=$(openssl dgst -sha256 -hmac "not-$SECRET" "$BODY" | sed 's/^.*= *//')

# wrk script: method, body, headers; a fresh delivery id per request for gitgated.
cat >"$W/post.lua" <<LUA
local f = io.open("$BODY", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "sha256=" .. os.getenv("GG_SIG")
local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
local n = 0
function request()
	n = n + 1
	wrk.headers["X-GitHub-Delivery"] = string.format("%s-%d-%d", os.getenv("GG_RUN"), tid, n)
	return wrk.format()
end
LUA

# gitgated: one github source, one target that the push matches.
printf '%s\n' "$SECRET" >"$W/gh.secret"
chmod 600 "$W/gh.secret"
GPORT=$(port)
cat >"$W/gitgated.yaml" <<YAML
listen: ["127.0.0.1:$GPORT"]
state_dir: $W/state
api: {allow_loopback_without_token: true}
sources:
  - {name: github, kind: github, secret_file: $W/gh.secret}
  - {name: churn, kind: github, secret_file: $W/gh.secret}
targets:
  - name: prod
    source: github
    repo: acme/platform-config
    ref: refs/heads/main
    run: ["sleep", "3600"]
  - name: churn
    source: churn
    repo: acme/platform-config
    ref: refs/heads/main
    run: ["/bin/true"]
YAML
"$GITGATED" -c "$W/gitgated.yaml" 2>"$W/gitgated.log" &
GPID=$!
wait_http "http://127.0.0.1:$GPORT/healthz"

# webhook (adnanh): payload-hmac-sha256 on X-Hub-Signature-256, /bin/true.
WPORT=$(port)
cat >"$W/hooks.json" <<JSON
[{"id": "deploy", "execute-command": "/bin/true",
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$SECRET",
    "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}]
JSON
webhook -hooks "$W/hooks.json" -ip 127.0.0.1 -port "$WPORT" >"$W/webhook.log" 2>&1 &
WPID=$!
wait_http "http://127.0.0.1:$WPORT/"

# The HTTPS pair: one self-signed certificate for both.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
	-keyout "$W/tls.key" -out "$W/tls.pem" 2>/dev/null
chmod 600 "$W/tls.key"
GTPORT=$(port)
sed -e "s|^listen: .*|listen: [{address: \"127.0.0.1:$GTPORT\", tls: {cert_file: \"$W/tls.pem\", key_file: \"$W/tls.key\"}}]|" \
	-e "s|^state_dir: .*|state_dir: $W/state-tls|" "$W/gitgated.yaml" >"$W/gitgated-tls.yaml"
"$GITGATED" -c "$W/gitgated-tls.yaml" 2>"$W/gitgated-tls.log" &
GTPID=$!
wait_http "https://127.0.0.1:$GTPORT/healthz"
WTPORT=$(port)
webhook -hooks "$W/hooks.json" -ip 127.0.0.1 -port "$WTPORT" -secure -cert "$W/tls.pem" \
	-key "$W/tls.key" >"$W/webhook-tls.log" 2>&1 &
WTPID=$!
wait_http "https://127.0.0.1:$WTPORT/"

# The PostgreSQL pair's gitgated: the same config, its store on a fresh server.
PGSERVER_FSYNC=on sh "$top/tests/pgserver.sh" start "$W/pg" >/dev/null
cp "$W/pg/conninfo" "$W/pg.conninfo"
chmod 600 "$W/pg.conninfo"
GPPORT=$(port)
sed -e "s|^listen: .*|listen: [\"127.0.0.1:$GPPORT\"]|" -e "s|^state_dir: .*|state_dir: $W/state-pg|" \
	"$W/gitgated.yaml" >"$W/gitgated-pg.yaml"
printf 'store: {kind: postgres, conninfo_file: %s}\n' "$W/pg.conninfo" >>"$W/gitgated-pg.yaml"
"$GITGATED" -c "$W/gitgated-pg.yaml" 2>"$W/gitgated-pg.log" &
GPPID=$!
wait_http "http://127.0.0.1:$GPPORT/healthz"

# The three replicas: one database of their own on the same server.
psql -X -q -h "$W/pg" -U ggadmin -d postgres -c "CREATE DATABASE gg3 OWNER gg" >/dev/null
sed 's/dbname=gg$/dbname=gg3/' "$W/pg/conninfo" >"$W/pg3.conninfo"
chmod 600 "$W/pg3.conninfo"
R3PORTS=
for r in 1 2 3; do
	rport=$(port)
	sed -e "s|^listen: .*|listen: [\"127.0.0.1:$rport\"]|" -e "s|^state_dir: .*|state_dir: $W/state-r$r|" \
		"$W/gitgated.yaml" >"$W/gitgated-r$r.yaml"
	printf 'store: {kind: postgres, conninfo_file: %s}\nreplica: r%s\n' "$W/pg3.conninfo" "$r" >>"$W/gitgated-r$r.yaml"
	"$GITGATED" -c "$W/gitgated-r$r.yaml" 2>"$W/gitgated-r$r.log" &
	R3PIDS="$R3PIDS $!"
	R3PORTS="$R3PORTS $rport"
	wait_http "http://127.0.0.1:$rport/healthz"
done

# wrk's reports -> "RPS P99_MS NON2XX ERRORS ANSWERED": the rates summed, the
# worst p99, the non-2xx and the answered requests summed.
cat >"$W/wrkres.py" <<'PY'
import re, sys
rps = p99 = 0.0
bad = answered = 0
errs = "-"
for name in sys.argv[1:]:
    t = open(name).read()
    rps += float(re.search(r"Requests/sec:\s+([0-9.]+)", t).group(1))
    m = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)\s*$", t, re.M)
    p99 = max(p99, float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)])
    b = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    bad += int(b.group(1)) if b else 0
    answered += int(re.search(r"(\d+) requests in", t).group(1))
    if re.search(r"Socket errors:.*", t):
        errs = "errors"
print("%.0f %.2f %d %s %d" % (rps, p99, bad, errs, answered))
PY
# run NAME URL SIG: wrk; leaves wrkres.py's line in $W/NAME.res
run() {
	GG_SIG=$3 GG_RUN="$1-$$" wrk -t2 -c16 -d"$DURATION" --latency -s "$W/post.lua" "$2" >"$W/$1.out" 2>&1
	python3 "$W/wrkres.py" "$W/$1.out" >"$W/$1.res"
}
# run3 NAME SIG PORT PORT PORT: three wrk at once, one per replica (delivery ids
# of its own: no delivery reaches two replicas), one thread
# and 6, 5 and 5 connections; leaves wrkres.py's line over the three in $W/NAME.res
run3() {
	_name=$1 _sig=$2
	shift 2
	_pids= _outs= _c=6 _i=0
	for _p in "$@"; do
		_i=$((_i + 1))
		GG_SIG=$_sig GG_RUN="$_name-$$-$_i" wrk -t1 -c$_c -d"$DURATION" --latency -s "$W/post.lua" \
			"http://127.0.0.1:$_p/hooks/github" >"$W/$_name.$_i.out" 2>&1 &
		_pids="$_pids $!"
		_outs="$_outs $W/$_name.$_i.out"
		_c=5
	done
	for _p in $_pids; do
		wait "$_p"
	done
	python3 "$W/wrkres.py" $_outs >"$W/$_name.res"
}
commit_stats() { # -> "COMMITS WRITES" from gitgated's /metrics
	curl -s "http://127.0.0.1:$GPORT/metrics" |
		awk '/^gitgated_store_commits_total / {c=$2} /^gitgated_store_writes_total / {w=$2} END {print c, w}'
}
group() { # BEFORE AFTER -> writes per commit between two commit_stats
	python3 -c 'import sys; c0,w0,c1,w1=map(float,sys.argv[1:]); print("%.1f writes/commit over %d commits" % ((w1-w0)/max(c1-c0,1), c1-c0))' $1 $2
}
# quiet: wait (at most 60 s) until the machine is idle again, so that work left
# over from one run (commands still starting) is not measured in the next.
quiet() {
	python3 - <<'PY'
import time
def busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)
for _ in range(120):
    b0, t0 = busy(); time.sleep(0.5); b1, t1 = busy()
    if (b1 - b0) / max(t1 - t0, 1) < 0.1:
        break
PY
}
hwm() { # PID -> MB
	awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"
}
count() { # SQL
	python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' \
		"$W/state/gitgated.db" "$1"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
CS0=$(commit_stats)
run gg-valid "http://127.0.0.1:$GPORT/hooks/github" "$SIG"
CS1=$(commit_stats)
GRSS_VALID=$(hwm $GPID)
STORED=$(count "select count(*) from deliveries")
DEPS=$(count "select count(*) from deployments where target = 'prod'")
QUEUED=$(count "select count(*) from deployments where target = 'prod' and state = 'queued'")
# The same deliveries to the target that runs /bin/true back to back.
run gg-churn "http://127.0.0.1:$GPORT/hooks/churn" "$SIG"
CS2=$(commit_stats)
CDEPS=$(count "select count(*) from deployments where target = 'churn'")
CRAN=$(count "select count(*) from deployments where target = 'churn' and state not in ('queued','superseded','refused')")
CREF=$(count "select count(*) from deployments where target = 'churn' and state = 'refused'")
quiet
run gg-bad "http://127.0.0.1:$GPORT/hooks/github" "$BADSIG"
GRSS_BAD=$(hwm $GPID)
quiet
run wh-valid "http://127.0.0.1:$WPORT/hooks/deploy" "$SIG"
WRSS_VALID=$(hwm $WPID)
# webhook goes on starting /bin/true for what it accepted after wrk stops.
quiet
run wh-bad "http://127.0.0.1:$WPORT/hooks/deploy" "$BADSIG"
WRSS_BAD=$(hwm $WPID)
quiet
run gg-tls "https://127.0.0.1:$GTPORT/hooks/github" "$SIG"
GTRSS=$(hwm $GTPID)
TSTORED=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from deliveries").fetchone()[0])' "$W/state-tls/gitgated.db")
TFAIL=$(curl -sk "https://127.0.0.1:$GTPORT/metrics" | sed -n 's/^gitgated_tls_handshake_failures_total //p')
quiet
run gg-pg "http://127.0.0.1:$GPPORT/hooks/github" "$SIG"
GPRSS=$(hwm $GPPID)
PSTORED=$(psql -X -At -h "$W/pg" -U ggadmin -d gg -c "select count(*) from deliveries")
PDEPS=$(psql -X -At -h "$W/pg" -U ggadmin -d gg -c "select count(*) from deployments where target = 'prod'")
quiet
run3 gg-pg3 "$SIG" $R3PORTS
R3RSS=0
for p in $R3PIDS; do
	R3RSS=$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))' "$R3RSS" "$(hwm "$p")")
done
P3STORED=$(psql -X -At -h "$W/pg" -U ggadmin -d gg3 -c "select count(*) from deliveries")
P3DEPS=$(psql -X -At -h "$W/pg" -U ggadmin -d gg3 -c "select count(*) from deployments where target = 'prod'")
quiet
run wh-tls "https://127.0.0.1:$WTPORT/hooks/deploy" "$SIG"
WTRSS=$(hwm $WTPID)

set -- $(cat "$W/gg-churn.res")
c_rps=$1 c_p99=$2
set -- $(cat "$W/gg-valid.res")
g_rps=$1 g_p99=$2 g_non2xx=$3
set -- $(cat "$W/wh-valid.res")
w_rps=$1 w_p99=$2
set -- $(cat "$W/gg-bad.res")
gb_rps=$1 gb_p99=$2 gb_non2xx=$3
set -- $(cat "$W/wh-bad.res")
wb_rps=$1 wb_p99=$2
set -- $(cat "$W/gg-tls.res")
t_rps=$1 t_p99=$2 t_non2xx=$3
set -- $(cat "$W/wh-tls.res")
wt_rps=$1 wt_p99=$2
set -- $(cat "$W/gg-pg.res")
p_rps=$1 p_p99=$2 p_non2xx=$3 p_ok=$(($5 - $3))
set -- $(cat "$W/gg-pg3.res")
p3_rps=$1 p3_p99=$2 p3_non2xx=$3 p3_ok=$(($5 - $3))

ratio() { python3 -c "import sys; print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "## webhook"
echo "machine: $(nproc) CPUs, $cpu; wrk -t2 -c16 -d$DURATION --latency; body $(wc -c <"$BODY") bytes"
printf '%-34s %12s %12s %12s %8s\n' "" "gitgated" "webhook" "anchor" "ratio"
printf '%-34s %12s %12s %12s %8s\n' "valid deliveries, requests/s" "$g_rps" "$w_rps" "~3700" "$(ratio "$g_rps" "$w_rps")"
printf '%-34s %12s %12s %12s %8s\n' "valid deliveries, p99 ms" "$g_p99" "$w_p99" "" ""
printf '%-34s %12s %12s %12s %8s\n' "valid, /bin/true back to back, r/s" "$c_rps" "" "" "$(ratio "$c_rps" "$w_rps")"
printf '%-34s %12s %12s %12s %8s\n' "valid, /bin/true back to back, p99" "$c_p99" "" "" ""
printf '%-34s %12s %12s %12s %8s\n' "bad signature, requests/s" "$gb_rps" "$wb_rps" "~5900" "$(ratio "$gb_rps" "$wb_rps")"
printf '%-34s %12s %12s %12s %8s\n' "bad signature, p99 ms" "$gb_p99" "$wb_p99" "" ""
printf '%-34s %12s %12s %12s %8s\n' "peak RSS after valid run, MB" "$GRSS_VALID" "$WRSS_VALID" "~50" ""
printf '%-34s %12s %12s %12s %8s\n' "peak RSS after both runs, MB" "$GRSS_BAD" "$WRSS_BAD" "" ""
printf '%-34s %12s %12s %12s %8s\n' "HTTPS valid, keep-alive, r/s" "$t_rps" "$wt_rps" "" "$(ratio "$t_rps" "$wt_rps")"
printf '%-34s %12s %12s %12s %8s\n' "HTTPS valid, keep-alive, p99 ms" "$t_p99" "$wt_p99" "" ""
printf '%-34s %12s %12s %12s %8s\n' "peak RSS after HTTPS run, MB" "$GTRSS" "$WTRSS" "" ""
printf '%-34s %12s %12s %12s %8s\n' "PostgreSQL store valid, r/s" "$p_rps" "$w_rps" "" "$(ratio "$p_rps" "$w_rps")"
printf '%-34s %12s %12s %12s %8s\n' "PostgreSQL store valid, p99 ms" "$p_p99" "$w_p99" "" ""
printf '%-34s %12s %12s %12s %8s\n' "peak RSS after PostgreSQL run, MB" "$GPRSS" "" "" ""
printf '%-34s %12s %12s %12s %8s\n' "3 replicas on PostgreSQL, total r/s" "$p3_rps" "$p_rps" "" "$(ratio "$p3_rps" "$p_rps")"
printf '%-34s %12s %12s %12s %8s\n' "3 replicas, worst p99 ms" "$p3_p99" "$p_p99" "" "$(ratio "$p3_p99" "$p_p99")"
printf '%-34s %12s %12s %12s %8s\n' "peak RSS, biggest replica, MB" "$R3RSS" "$GPRSS" "" ""
echo "(in the 3-replica rows the webhook column holds the one-replica PostgreSQL figure)"
echo "PostgreSQL run: gitgated stored $PSTORED deliveries and $PDEPS deployments (non-2xx: $p_non2xx); wrk saw $p_ok 2xx: $([ "$PSTORED" -ge "$p_ok" ] && echo 'every one stored' || echo 'SOME NOT STORED')"
echo "3-replica run: the replicas stored $P3STORED deliveries and $P3DEPS deployments (non-2xx: $p3_non2xx); wrk saw $p3_ok 2xx: $([ "$P3STORED" -ge "$p3_ok" ] && echo 'every one stored' || echo 'SOME NOT STORED')"
echo "HTTPS run: gitgated stored $TSTORED deliveries (non-2xx: $t_non2xx); handshake failures: $TFAIL"
echo "valid run: gitgated stored $STORED deliveries and $DEPS deployments durably, $QUEUED of them queued behind the running one (non-2xx: $g_non2xx)"
echo "/bin/true run: $CDEPS deployments stored; the dispatcher ran $CRAN of them, $CREF refused as repeats of the commit the target runs (the rest superseded); bad run: $gb_non2xx answered 401"
echo "group commit: valid run $(group "$CS0" "$CS1"); /bin/true run $(group "$CS1" "$CS2")"
echo "load average before/after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
met=yes
python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; sys.exit(0 if a[0] >= 3*a[1] and a[2] >= 3*a[3] and a[4] < 10 and a[5] < 10 and a[6] < 16 else 1)" \
	"$g_rps" "$w_rps" "$gb_rps" "$wb_rps" "$g_p99" "$gb_p99" "$GRSS_BAD" || met=no
echo "targets (3x valid, 3x rejected, p99 < 10 ms, RSS < 16 MB): $([ $met = yes ] && echo met || echo MISSED)"
tmet=yes
python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; sys.exit(0 if a[0] >= 3*a[1] and a[2] < 20 else 1)" \
	"$t_rps" "$wt_rps" "$t_p99" || tmet=no
echo "HTTPS targets (3x webhook -secure, p99 < 20 ms): $([ $tmet = yes ] && echo met || echo MISSED)"
pmet=yes
python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; sys.exit(0 if a[0] >= 2*a[1] and a[2] < 20 else 1)" \
	"$p_rps" "$w_rps" "$p_p99" || pmet=no
echo "PostgreSQL targets (2x webhook, p99 < 20 ms): $([ $pmet = yes ] && echo met || echo MISSED)"
p3met=yes
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$p3_rps" "$p_rps" || p3met=no
echo "three replicas not slower in total than one: $([ $p3met = yes ] && echo met || echo MISSED)"
