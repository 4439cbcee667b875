#!/bin/sh
# bench/takeover.sh — two gitgated replicas on one PostgreSQL database
# (tests/pgserver.sh, unix socket): how long after a replica is killed
# (SIGKILL) in the middle of a deployment its target runs again on the other
# replica (lease lapse + the taker's next heartbeat + claim + start), for a
# few leases; and how long a delivery accepted by a replica with no free slot
# takes to start on the free one (NOTIFY -> LISTEN -> scan -> claim -> start).
#
# Times are CLOCK_REALTIME in ns, taken by this script around kill(1) and by
# the deployment command itself. Prints its figures after the anchor
# "## takeover". Run from the top of the tree after `make`:
#   sh bench/takeover.sh [RUNS_PER_LEASE] [LEASES...]     (default: 3 3s 10s 30s)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
GITGATED=${GITGATED:-$top/build/bin/gitgated}
RUNS=${1:-3}
[ $# -gt 0 ] && shift
LEASES=${*:-3s 10s 30s}
T=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-takeover.XXXXXX")
P1= P2=
cleanup() {
	for p in $P1 $P2; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	sh "$top/tests/pgserver.sh" stop "$T/pg" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
[ -x "$GITGATED" ] || {
	echo "bench/takeover.sh: build first (make)" >&2
	exit 2
}
port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PGSERVER_FSYNC=on sh "$top/tests/pgserver.sh" start "$T/pg" >/dev/null
cp "$T/pg/conninfo" "$T/conninfo"
chmod 600 "$T/conninfo"
printf 'bench-secret\n' >"$T/secret"
chmod 600 "$T/secret"

# config N LEASE MAXPAR: $T/rN.yaml; the command logs "start NS" and waits for $T/go.
config() {
	eval "PORT_$1=$(port)"
	cat >"$T/r$1.yaml" <<YAML
listen: ["127.0.0.1:$(eval echo "\$PORT_$1")"]
state_dir: $T/state$1
replica: r$1
lease: $2
max_parallel: $3
store: {kind: postgres, conninfo_file: $T/conninfo}
sources:
  - {name: git, kind: generic, secret_file: $T/secret}
targets:
  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: ["sh", "-c", "echo start \$(date +%s%N) >> $T/runs; while [ ! -e $T/go ]; do sleep 0.01; done"]
  - name: slow
    repo: acme/app
    ref: refs/heads/slow
    run: ["sh", "-c", "while [ ! -e $T/slow-go ]; do sleep 0.01; done"]
YAML
}
start() {
	"$GITGATED" -c "$T/r$1.yaml" 2>>"$T/r$1.log" &
	eval "P$1=$!"
	until curl -sf -o /dev/null "http://127.0.0.1:$(eval echo "\$PORT_$1")/healthz"; do sleep 0.02; done
}
send() { # N REF COMMIT: a signed push to replica N; prints the status
	printf '{"ref":"%s","before":"%040d","after":"%s","repository":{"full_name":"acme/app","clone_url":"file:///x"},"pusher":{"name":"b"},"commits":[]}' \
		"$2" 0 "$3" >"$T/ev.json"
	sig=$(openssl dgst -sha256 -hmac bench-secret "$T/ev.json" | sed 's/^.*= *//')
	curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary "@$T/ev.json" \
		-H 'Content-Type: application/json' -H "X-Gitgate-Delivery: d-$(date +%s%N)" \
		-H "X-Gitgate-Signature: sha256=$sig" "http://127.0.0.1:$(eval echo "\$PORT_$1")/hooks/git"
}
psql_q() {
	psql -X -q -At -h "$T/pg" -U ggadmin -d gg -c "$1"
}
starts() {
	grep -c '^start' "$T/runs" 2>/dev/null || echo 0
}
reset() {
	for p in $P1 $P2; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	P1= P2=
	psql_q "TRUNCATE deployments, deliveries; DELETE FROM replicas" 2>/dev/null || true
	rm -f "$T/runs" "$T/go" "$T/slow-go"
}
n=0

echo "## takeover"
echo "machine: $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); PostgreSQL $(psql -V | awk '{print $3}') on a unix socket, fsync on"
printf '%-34s %10s %10s %10s %10s\n' "SIGKILL -> run again elsewhere" lease min_ms max_ms "minus lease"
for lease in $LEASES; do
	min= max=
	i=0
	while [ $i -lt "$RUNS" ]; do
		reset
		config 1 "$lease" 10
		config 2 "$lease" 10
		start 1
		start 2
		n=$((n + 1))
		[ "$(send 1 refs/heads/main "$(printf '%040d' $n)")" = 202 ] || exit 1
		until [ "$(starts)" -ge 1 ]; do sleep 0.005; done
		# Wait a random part of a heartbeat, so the kill does not always follow a renewal.
		sleep "0.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')"
		who=$(psql_q "SELECT replica FROM deployments WHERE state='running'")
		t0=$(date +%s%N)
		eval "kill -KILL \$P${who#r}"
		until [ "$(starts)" -ge 2 ]; do sleep 0.005; done
		t1=$(tail -n 1 "$T/runs" | cut -d' ' -f2)
		ms=$(( (t1 - t0) / 1000000 ))
		[ -z "$min" ] || [ "$ms" -lt "$min" ] && min=$ms
		[ -z "$max" ] || [ "$ms" -gt "$max" ] && max=$ms
		i=$((i + 1))
	done
	lease_ms=$(echo "$lease" | sed 's/s$//')
	lease_ms=$((lease_ms * 1000))
	printf '%-34s %10s %10s %10s %10s\n' "" "$lease" "$min" "$max" "$((min - lease_ms))..$((max - lease_ms))"
done

# A delivery accepted by a replica with no free slot: started by the other.
reset
config 1 30s 1
config 2 30s 1
start 1
start 2
[ "$(send 1 refs/heads/slow "$(printf '%040d' 1)")" = 202 ] || exit 1
until [ -n "$(psql_q "SELECT replica FROM deployments WHERE target='slow' AND state='running'")" ]; do sleep 0.01; done
busy=$(psql_q "SELECT replica FROM deployments WHERE target='slow' AND state='running'")
free=r1
[ "$busy" = r1 ] && free=r2
# measure N LABEL: 20 pushes of app to replica N, each waited for; one line of figures.
measure() {
	lat=
	i=0
	psql_q "DELETE FROM deployments WHERE target='app'" >/dev/null
	while [ $i -lt 20 ]; do
		before=$(starts)
		t0=$(date +%s%N)
		n=$((n + 1))
		[ "$(send "$1" refs/heads/main "$(printf '%040d' $((n + 1000)))")" = 202 ] || exit 1
		until [ "$(starts)" -gt "$before" ]; do sleep 0.002; done
		t1=$(tail -n 1 "$T/runs" | cut -d' ' -f2)
		lat="$lat $(( (t1 - t0) / 1000 ))"
		# Let the run end before the next.
		touch "$T/go"
		until [ "$(psql_q "SELECT count(*) FROM deployments WHERE target='app' AND state IN ('queued','running')")" = 0 ]; do sleep 0.005; done
		rm -f "$T/go"
		i=$((i + 1))
	done
	db=$(psql_q "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY started_at - created_at) || ' ' ||
		max(started_at - created_at) FROM deployments WHERE target='app'")
	echo "$lat" | tr ' ' '\n' | grep . | sort -n | awk -v label="$2" -v db="$db" '{a[NR]=$1} END {
		split(db, d, " ");
		printf "%-34s %10.1f %10.1f %10s %10s\n", label, a[int((NR+1)/2)]/1000, a[NR]/1000, d[1], d[2] }'
}
echo
printf '%-34s %10s %10s %10s %10s\n' "push -> its run starts (20 each)" "p50 ms" "max ms" "db p50" "db max"
measure "${free#r}" "to the free replica (anchor)"
measure "${busy#r}" "to the busy one, run by the free"
echo "(p50/max: from sending to the command's first line, client forks included; db: stored"
echo " to claimed, created_at to started_at, ms)"
