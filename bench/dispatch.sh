#!/bin/sh
# bench/dispatch.sh — from the moment gitgated answers a push (202) to the
# moment the deployment's command starts, over 1,000 deliveries spread over
# 10 targets. The command is a tiny recorder (exec'd directly, no shell) that
# appends "DELIVERY START_US" with CLOCK_REALTIME; the client records the
# CLOCK_REALTIME µs at which each 202 was read. Deliveries that arrive while
# their target is busy coalesce (superseded): only deliveries whose command
# actually ran are counted, and the number that coalesced is printed.
#
# Prints its figures after the anchor "## dispatch". Run from the top of the
# tree after `make`: sh bench/dispatch.sh [DELIVERIES] [CLIENTS]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
GITGATED=${GITGATED:-$top/build/bin/gitgated}
N=${1:-1000}
CLIENTS=${2:-1}
T=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-dispatch.XXXXXX")
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/stamp.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (argc < 3)
		return 2;
	char line[256];
	int n = snprintf(line, sizeof(line), "%s %lld\n", argv[2],
			 (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
	return fd < 0 || write(fd, line, (size_t)n) != n;
}
C
cc -O2 -o "$T/stamp" "$T/stamp.c"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'bench-secret\n' >"$T/secret"
chmod 600 "$T/secret"
{
	echo "listen: [\"127.0.0.1:$port\"]"
	echo "state_dir: $T/state"
	echo "api: {allow_loopback_without_token: true}"
	echo "max_parallel: 10"
	echo "sources:"
	echo "  - {name: git, kind: generic, secret_file: $T/secret}"
	echo "targets:"
	for i in 0 1 2 3 4 5 6 7 8 9; do
		echo "  - name: t$i"
		echo "    repo: acme/app$i"
		echo "    ref: refs/heads/main"
		echo "    run: [\"$T/stamp\", \"$T/starts\", \"{delivery}\"]"
	done
} >"$T/cfg.yaml"

"$GITGATED" -c "$T/cfg.yaml" 2>"$T/daemon.log" &
DPID=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
	i=$((i + 1))
	[ $i -lt 200 ] || { cat "$T/daemon.log"; exit 1; }
	sleep 0.05
done

cat >"$T/client.py" <<'PY'
import hashlib, hmac, http.client, json, os, sys, threading, time
name, port, path, n, clients, starts_file, want = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], int(sys.argv[7])
secret = b"bench-secret"
answered = {}
lock = threading.Lock()

def now_us():
    return time.clock_gettime_ns(time.CLOCK_REALTIME) // 1000

def client(k):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(k, n, clients):
        body = json.dumps({"ref": "refs/heads/main", "before": "0" * 40,
                           "after": "%040x" % (i + 1),
                           "repository": {"full_name": "acme/app%d" % (i % 10),
                                          "clone_url": "file:///x"},
                           "pusher": {"name": "bench"}, "commits": []}).encode()
        sig = hmac.new(secret, body, hashlib.sha256).hexdigest()
        delivery = "bench-%06d" % i
        hdr = {"Content-Type": "application/json", "X-Gitgate-Delivery": delivery,
               "X-Gitgate-Signature": "sha256=" + sig, "X-Target": "t%d" % (i % 10)}
        for attempt in range(3):
            try:
                conn.request("POST", path, body, hdr)
                resp = conn.getresponse()
                resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        t = now_us()
        if resp.status != want:
            sys.exit("delivery %s answered %d" % (delivery, resp.status))
        with lock:
            answered[delivery] = t

t0 = time.time()
threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
for th in threads: th.start()
for th in threads: th.join()
elapsed = time.time() - t0

counts = {}
if name == "gitgated":
    # Wait until no deployment is queued or running.
    for _ in range(600):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/api/v1/deployments?limit=1000")
        deps = json.loads(c.getresponse().read())["deployments"]
        c.close()
        if not any(d["state"] in ("queued", "running") for d in deps):
            break
        time.sleep(0.1)
    for d in deps:
        counts[d["state"]] = counts.get(d["state"], 0) + 1
else:
    for _ in range(100):
        if os.path.exists(starts_file) and sum(1 for _ in open(starts_file)) >= n:
            break
        time.sleep(0.1)

starts = {}
for line in open(starts_file):
    dlv, us = line.split()
    starts[dlv] = int(us)
lat = sorted(starts[d] - answered[d] for d in starts if d in answered)
def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100.0 * (len(lat) - 1))))]
print("%-9s answer -> command start, us: p50=%d p90=%d p99=%d max=%d min=%d" %
      (name, pct(50), pct(90), pct(99), lat[-1], lat[0]))
print("%-9s %d deliveries to 10 targets, %d client(s), %.0f/s; commands run: %d%s" %
      (name, n, clients, n / elapsed, len(lat),
       "; coalesced (superseded): %d; states: %s" % (counts.get("superseded", 0),
       ", ".join("%s=%d" % kv for kv in sorted(counts.items()))) if counts else ""))
PY

echo "## dispatch"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
python3 "$T/client.py" gitgated "$port" /hooks/git "$N" "$CLIENTS" "$T/starts" 202
kill -TERM "$DPID" && wait "$DPID" || true
DPID=

# The anchor: adnanh/webhook running the same recorder asynchronously (it
# answers before the command runs, stores nothing and never coalesces).
if command -v webhook >/dev/null; then
	wport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$T/hooks.json" <<JSON
[{"id": "deploy", "execute-command": "$T/stamp", "include-command-output-in-response": false,
  "pass-arguments-to-command": [{"source": "string", "name": "$T/starts-webhook"},
                                {"source": "header", "name": "X-Gitgate-Delivery"}]}]
JSON
	webhook -hooks "$T/hooks.json" -ip 127.0.0.1 -port "$wport" >"$T/webhook.log" 2>&1 &
	DPID=$!
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$wport/"; do
		i=$((i + 1))
		[ $i -lt 200 ] || { cat "$T/webhook.log"; exit 1; }
		sleep 0.05
	done
	python3 "$T/client.py" webhook "$wport" /hooks/deploy "$N" "$CLIENTS" "$T/starts-webhook" 200
fi
python3 -c 'import time
p=[time.clock_gettime_ns(time.CLOCK_REALTIME) for _ in range(1001)]
print("clock read: %.2f us per call; the recorder process start (exec) is inside the figures" % ((p[-1]-p[0])/1000/1000.0))'
