# The load and fault scenarios, shared by the full scripts in tests/stress/
# (big numbers, figures printed, targets asserted) and by the short form in
# tests/e2e/stress_short.sh (small numbers, inside `make test`). Sourced after
# tests/lib.sh; every scenario works in $T and fails through `fail`.
#
# Scenario knobs come as arguments; each scenario appends its figures, one
# "figure: ..." line each, to $FIGURES (default $T/figures).

STRESS="$GG_TOP/tests/stress"
LOAD="python3 $STRESS/ggload.py"

# instrumented: the daemon runs under valgrind or was built with ASan.
instrumented() {
	[ "${VALGRIND:-}" = 1 ] || grep -q __asan_init "$GITGATED" 2>/dev/null
}

expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

figure() {
	echo "figure: $*" | tee -a "${FIGURES:-$T/figures}"
}

# stress_config NTARGETS [EXTRA-TOP-LEVEL-YAML]: $T/cfg.yaml, a generic source
# "git" and targets t0..tN-1 (repository acme/appK) whose command appends
# "TARGET COMMIT" to $T/deployed.log.
stress_config() {
	PORT=${PORT:-$(free_port)}
	STATE=${STATE:-$T/state}
	printf 'load-secret\n' >"$T/git.secret"
	chmod 600 "$T/git.secret"
	# Absolute paths only: the daemon does not pass its environment on.
	cat >"$T/record.sh" <<EOF
#!/bin/sh
printf '%s %s\n' "\$1" "\$2" >>"$T/deployed.log"
EOF
	chmod +x "$T/record.sh"
	{
		echo "listen: [\"127.0.0.1:$PORT\"]"
		echo "state_dir: $STATE"
		echo "max_connections: 2048"
		# Every load generator here is one peer (127.0.0.1).
		echo "max_connections_per_peer: 2048"
		echo "read_timeout: 5s"
		echo "retry_backoff: 100ms"
		echo "max_parallel: 4"
		echo "${2:-}"
		echo "sources:"
		echo "  - {name: git, kind: generic, secret_file: $T/git.secret}"
		echo "targets:"
		k=0
		while [ $k -lt "$1" ]; do
			echo "  - {name: t$k, repo: acme/app$k, ref: refs/heads/main, run: [\"$T/record.sh\", \"{target}\", \"{after}\"]}"
			k=$((k + 1))
		done
	} >"$T/cfg.yaml"
	URL="http://127.0.0.1:$PORT"
}

# stress_start: gitgated on $T/cfg.yaml, waiting for /healthz (any answer:
# a daemon on a full disk is up but unhealthy).
stress_start() {
	"$GITGATED" -c "$T/cfg.yaml" 2>>"$T/daemon.log" &
	DPID=$!
	trap 'stress_cleanup' EXIT
	_i=0
	until curl -s -o /dev/null "$URL/healthz"; do
		_i=$((_i + 1))
		if [ $_i -gt 600 ] || ! kill -0 $DPID 2>/dev/null; then
			tail -n 30 "$T/daemon.log" >&2
			fail "gitgated did not come up"
		fi
		sleep 0.05
	done
}

# stress_cleanup: on exit, the daemon stopped and any mount of the case gone
# (the case's directory is removed next).
stress_cleanup() {
	stress_stop
	for _m in ${MOUNTS:-}; do
		umount "$_m" 2>/dev/null || true
	done
}

stress_stop() {
	if [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	DPID=
}

# stress_kill: SIGKILL the daemon, reap it.
stress_kill() {
	kill -KILL "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	DPID=
}

# db_count SQL: one number from the store (read-only, WAL readers do not block).
db_count() {
	python3 -c 'import sqlite3,sys; db=sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True); print(db.execute(sys.argv[2]).fetchone()[0])' \
		"$STATE/gitgated.db" "$1"
}

# settle SECONDS: wait until no deployment is queued or running.
settle() {
	_i=0
	until [ "$(db_count "SELECT count(*) FROM deployments WHERE state IN ('queued','running')")" = 0 ]; do
		_i=$((_i + 1))
		[ $_i -lt $(($1 * 10)) ] || fail "deployments still queued or running after $1 s"
		sleep 0.1
	done
}

healthz() {
	curl -s -o "$T/healthz" -w '%{http_code}' "$URL/healthz"
}

# ---- Soak: many signed deliveries as fast as the daemon takes them ----
# soak COUNT CONNS TARGETS RSS_SLACK_KIB
soak() {
	stress_config "$3"
	stress_start
	idle0=$($LOAD sample --pid "$DPID")
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix soak --targets "$3" \
		--count "$1" --conns "$2" --out "$T/results" --pid "$DPID" \
		--sample-every $(($1 / 10)) --samples-out "$T/samples" --wal "$STATE/gitgated.db-wal" |
		tee "$T/send.out"
	settle 120
	idle1=$($LOAD sample --pid "$DPID")
	stress_stop
	n202=$(grep -c ' 202 ' "$T/results" || true)
	[ "$n202" -eq "$1" ] || fail "$n202 of $1 deliveries answered 202: $(cut -d' ' -f2 "$T/results" | sort | uniq -c | tr '\n' ' ')"
	$LOAD verify --db "$STATE/gitgated.db" --record "$T/deployed.log" --settled "$T/results" |
		tee "$T/verify.out" || fail "verify found problems"
	figure "soak: $(grep '^sent' "$T/send.out")"
	figure "soak: deployments run $(wc -l <"$T/deployed.log"), $(grep '^verify: accepted' "$T/verify.out")"
	figure "soak: VmRSS KiB / fds at each tenth: $(awk '{printf "%s/%s ", $2, $3}' "$T/samples")"
	figure "soak: idle before: VmRSS ${idle0% *} KiB, fds ${idle0#* }; idle after: VmRSS ${idle1% *} KiB, fds ${idle1#* }"
	# The WAL starts over after each checkpoint (1,000 pages): it must not
	# grow with the load however long that lasts.
	max_wal=$(awk 'BEGIN{m=0} {if ($4 > m) m = $4} END{print m}' "$T/samples")
	figure "soak: WAL KiB at each tenth: $(awk '{printf "%s ", $4}' "$T/samples")"
	awk '$4 < 0 {exit 1}' "$T/samples" || fail "no WAL at $STATE/gitgated.db-wal"
	[ "$max_wal" -le 8192 ] || fail "the WAL grew to $max_wal KiB under load"
	# Memory: the first sample (after a tenth of the run) is the baseline;
	# nothing may grow beyond it by more than the slack (SQLite's page caches
	# fill up to their fixed size meanwhile).
	# (Not under ASan or valgrind: they keep freed memory in quarantine.)
	base_rss=$(head -n 1 "$T/samples" | cut -d' ' -f2)
	max_rss=$(awk 'BEGIN{m=0} {if ($2 > m) m = $2} END{print m}' "$T/samples")
	if instrumented; then
		echo "VmRSS not checked: the daemon runs under ASan or valgrind"
	else
		[ "$max_rss" -le $((base_rss + $4)) ] ||
			fail "VmRSS grew from $base_rss KiB to $max_rss KiB (slack $4 KiB)"
	fi
	# Descriptors: back to exactly the idle count; under load at most the
	# client connections plus each running deployment's pipe and log.
	[ "${idle1#* }" -eq "${idle0#* }" ] || fail "idle fds ${idle0#* } before the load, ${idle1#* } after"
	max_fds=$(awk 'BEGIN{m=0} {if ($3 > m) m = $3} END{print m}' "$T/samples")
	[ "$max_fds" -le $((${idle0#* } + $2 + 12)) ] || fail "fds reached $max_fds under load (idle ${idle0#* })"
}

# ---- Crash: the same, with SIGKILLs at random moments ----
# crash KILLS CONNS TARGETS MAX_GAP_MS
crash() {
	stress_config "$3"
	stress_start
	rm -f "$T/stop"
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix crash --targets "$3" \
		--count 100000000 --conns "$2" --retries 1000 --stop-file "$T/stop" \
		--out "$T/results" >"$T/send.out" 2>&1 &
	spid=$!
	kills=0
	while [ $kills -lt "$1" ]; do
		# A random moment: between 50 ms and MAX_GAP_MS after the daemon is up.
		sleep "$(python3 -c "import random; print(random.randint(50, $4) / 1000)")"
		stress_kill
		kills=$((kills + 1))
		stress_start
	done
	# Let the senders get through a last stretch on a daemon that stays up.
	sleep 1
	touch "$T/stop"
	wait $spid || fail "sender failed: $(cat "$T/send.out")"
	settle 120
	stress_stop
	# One more clean start: recovery has nothing left to requeue.
	stress_start
	settle 60
	stress_stop
	$LOAD verify --db "$STATE/gitgated.db" --record "$T/deployed.log" --settled "$T/results" |
		tee "$T/verify.out" || fail "verify found problems"
	n202=$(grep -c ' 202 ' "$T/results" || true)
	[ "$n202" -gt 0 ] || fail "nothing was accepted"
	figure "crash: SIGKILLs: $kills; $(grep '^sent' "$T/send.out")"
	figure "crash: $(grep '^verify: [0-9]' "$T/verify.out")"
	figure "crash: $(grep '^verify: accepted' "$T/verify.out"); integrity_check: ok"
}

# ---- Disk full and unwritable state ----
# can_mount: whether this process may mount a tmpfs (root, no seccomp veto).
can_mount() {
	mkdir -p "$T/probe-mnt"
	if mount -t tmpfs -o size=1m tmpfs "$T/probe-mnt" 2>/dev/null; then
		umount "$T/probe-mnt"
		return 0
	fi
	return 1
}

# diskfull: the state on a small tmpfs, filled up, then freed.
diskfull() {
	mkdir -p "$T/mnt"
	mount -t tmpfs -o size=16m tmpfs "$T/mnt" || fail "cannot mount a tmpfs (needs root)"
	MOUNTS="$T/mnt"
	trap 'stress_cleanup' EXIT
	STATE="$T/mnt/state"
	stress_config 2
	stress_start
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix before --targets 2 \
		--count 200 --conns 2 --out "$T/r1" >/dev/null
	settle 30
	expect_eq "$(grep -c ' 202 ' "$T/r1")" 200 "202s before the disk filled"
	# Fill the file system to the last block.
	dd if=/dev/zero of="$T/mnt/filler" bs=64k 2>/dev/null || true
	sync
	# Deliveries while full: each is 202 (it fit in pages SQLite already had)
	# or 503; never anything else, and at least one 503.
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix full --targets 2 \
		--count 3000 --conns 2 --out "$T/r2" >"$T/send2.out"
	n503=$(grep -c ' 503 ' "$T/r2" || true)
	nother=$(grep -vc ' 20[02] \| 503 ' "$T/r2" || true)
	[ "$n503" -gt 0 ] || fail "no 503 on a full disk: $(cat "$T/send2.out")"
	[ "$nother" -eq 0 ] || fail "answers other than 202/503 on a full disk: $(grep -v ' 20[02] \| 503 ' "$T/r2" | head -3)"
	code=$(healthz)
	expect_eq "$code" 503 "/healthz on a full disk"
	figure "diskfull: full 16 MiB tmpfs: $(cat "$T/send2.out"); /healthz $code: $(cat "$T/healthz")"
	# Space comes back: service resumes.
	rm -f "$T/mnt/filler"
	_i=0
	until [ "$(healthz)" = 200 ]; do
		# A delivery (a sender's retry) is also how the store finds out.
		$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix retry$_i --targets 2 \
			--count 1 --conns 1 --out "$T/r3.$_i" >/dev/null
		_i=$((_i + 1))
		[ $_i -lt 50 ] || fail "/healthz not back to 200 after space returned: $(cat "$T/healthz")"
		sleep 0.1
	done
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix after --targets 2 \
		--count 200 --conns 2 --out "$T/r4" >/dev/null
	expect_eq "$(grep -c ' 202 ' "$T/r4")" 200 "202s after space returned"
	settle 30
	stress_stop
	cat "$T"/r3.* >"$T/r3" 2>/dev/null || : >"$T/r3"
	$LOAD verify --db "$STATE/gitgated.db" --record "$T/deployed.log" --settled \
		"$T/r1" "$T/r2" "$T/r3" "$T/r4" | tee "$T/verify.out" || fail "verify found problems"
	figure "diskfull: after space returned: $(grep '^verify: accepted' "$T/verify.out"), integrity_check ok"
	umount "$T/mnt"
}

# readonly_state: the state directory is read-only (a remount after an
# error, a full quota): the daemon either refuses to start, saying why, or
# runs and answers 503; never a 2xx. Writable again: service resumes.
# (A mount cannot turn read-only under the daemon's open files: EBUSY.)
readonly_state() {
	mkdir -p "$T/ro-src" "$T/ro"
	mount --bind "$T/ro-src" "$T/ro" || fail "cannot bind-mount (needs root)"
	MOUNTS="$T/ro"
	trap 'stress_cleanup' EXIT
	STATE="$T/ro"
	stress_config 2
	stress_start
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix rw --targets 2 \
		--count 100 --conns 2 --out "$T/r1" >/dev/null
	settle 30
	stress_stop
	mount -o remount,bind,ro "$T/ro" || fail "cannot remount read-only"
	"$GITGATED" -c "$T/cfg.yaml" 2>"$T/ro.log" &
	DPID=$!
	_i=0
	while kill -0 $DPID 2>/dev/null && ! curl -s -o /dev/null "$URL/healthz"; do
		_i=$((_i + 1))
		[ $_i -lt 600 ] || fail "gitgated neither up nor gone on a read-only state directory"
		sleep 0.05
	done
	if kill -0 $DPID 2>/dev/null; then
		$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix ro --targets 2 \
			--count 50 --conns 1 --out "$T/r2" >"$T/send2.out"
		nother=$(grep -vc ' 503 ' "$T/r2" || true)
		[ "$nother" -eq 0 ] || fail "answers other than 503 on a read-only state: $(cat "$T/send2.out")"
		code=$(healthz)
		expect_eq "$code" 503 "/healthz on a read-only state directory"
		figure "readonly: running on a read-only state: $(cat "$T/send2.out"); /healthz $code: $(cat "$T/healthz")"
		stress_stop
	else
		wait $DPID && fail "gitgated exited 0 on a read-only state directory"
		expect_contains "$T/ro.log" "cannot open the store"
		figure "readonly: gitgated refuses to start: $(grep -m1 'error' "$T/ro.log")"
		: >"$T/r2"
	fi
	mount -o remount,bind,rw "$T/ro" || fail "cannot remount read-write"
	stress_start
	$LOAD send --port "$PORT" --secret-file "$T/git.secret" --prefix rw2 --targets 2 \
		--count 100 --conns 2 --out "$T/r4" >/dev/null
	expect_eq "$(grep -c ' 202 ' "$T/r4")" 100 "202s once writable again"
	settle 30
	stress_stop
	$LOAD verify --db "$STATE/gitgated.db" --record "$T/deployed.log" --settled \
		"$T/r1" "$T/r2" "$T/r4" | tee "$T/verify.out" || fail "verify found problems"
	figure "readonly: writable again: $(grep '^verify: accepted' "$T/verify.out"), integrity_check ok"
	umount "$T/ro"
}

# ---- Slow and hostile clients ----
# hostile SECONDS TRICKLERS P99_LIMIT_MS (empty: do not assert the p99)
hostile() {
	stress_config 2
	stress_start
	# The same probe without hostile clients first: what this machine gives.
	$LOAD probe --port "$PORT" --secret-file "$T/git.secret" --prefix base --targets 2 \
		--seconds 5 --interval 0.005 >"$T/base.out" 2>&1 || fail "baseline probe: $(cat "$T/base.out")"
	$LOAD hostile --port "$PORT" --seconds "$1" --tricklers "$2" >"$T/hostile.out" 2>&1 &
	hpid=$!
	sleep 1 # the tricklers are connected
	conns=$(($(ls /proc/$DPID/fd | wc -l)))
	prc=0
	$LOAD probe --port "$PORT" --secret-file "$T/git.secret" --prefix probe --targets 2 \
		--seconds $(($1 - 2)) --interval 0.005 --json-out "$T/probe.json" >"$T/probe.out" 2>&1 ||
		prc=$?
	wait $hpid || fail "hostile clients failed: $(cat "$T/hostile.out")"
	cat "$T/probe.out" "$T/hostile.out"
	[ $prc -eq 0 ] || fail "valid deliveries not all answered 202: $(cat "$T/probe.out")"
	kill -0 "$DPID" || fail "daemon died"
	expect_eq "$(healthz)" 200 "/healthz after the hostile clients"
	settle 30
	figure "hostile: $(grep '^hostile:' "$T/hostile.out"); daemon fds while trickling: $conns"
	figure "hostile: baseline without hostile clients: $(head -n 2 "$T/base.out" | tr '\n' ';')"
	figure "hostile: $(head -n 2 "$T/probe.out" | tr '\n' ';')"
	if [ -n "${3:-}" ]; then
		p99=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["p99"])' "$T/probe.json")
		python3 -c "import sys; sys.exit(0 if $p99 <= $3 else 1)" ||
			fail "p99 of valid deliveries $p99 ms over $3 ms"
	fi
	stress_stop
}

# ---- The hook under pressure ----
# A bare srv.git gated by `gitgate install-hook` with a policy using every
# kind of rule; its pre-receive is wrapped so the hook's own wall time and
# exit status land in $T/hook.times ("START_NS END_NS STATUS").
hook_setup() {
	cat >"$T/policy.yaml" <<'YAML'
version: 1
mode: enforce
refs:
  - match: ["refs/heads/main"]
    deny_force_push: true
  - match: "refs/heads/*"
    name_pattern: '^refs/heads/[a-z0-9._/-]+$'
commits:
  message_pattern: '^(feat|fix|chore|docs|deploy): .+'
  max_subject_length: 72
files:
  max_size: 4MiB
  deny_paths: ["**/*.pem", "**/.env"]
  secrets: true
manifests:
  paths: ["clusters/**/*.yaml"]
  packs: [kubernetes-baseline]
  rules:
    - id: pinned-images
      when: {kind: [Deployment]}
      path: spec.template.spec.containers[*].image
      assert: {not_matches: '(:latest$)|(^[^:@]+$)'}
YAML
	git init -q --bare -b main "$T/srv.git"
	"$GITGATE" install-hook --policy "$T/policy.yaml" "$T/srv.git" >/dev/null
	mv "$T/srv.git/hooks/pre-receive" "$T/srv.git/hooks/pre-receive.gate"
	cat >"$T/srv.git/hooks/pre-receive" <<WRAP
#!/bin/sh
t0=\$(date +%s%N)
"$T/srv.git/hooks/pre-receive.gate" "\$@"
rc=\$?
echo "\$t0 \$(date +%s%N) \$rc" >>"$T/hook.times"
exit \$rc
WRAP
	chmod +x "$T/srv.git/hooks/pre-receive"
	git init -q -b main "$T/w"
	git -C "$T/w" commit -q --allow-empty -m "chore: start"
	git -C "$T/w" push -q "$T/srv.git" main
}

# hook_push NAME ARGS...: push from w/; record the hook's time and answer.
# HOOK_BUDGET_MS: the time the hook may take (GitHub Enterprise gives 5 s).
hook_push() {
	_name=$1
	shift
	: >"$T/hook.times"
	_prc=0
	git -C "$T/w" push "$T/srv.git" "$@" >"$T/push.out" 2>&1 || _prc=$?
	[ -s "$T/hook.times" ] || fail "$_name: the hook did not run: $(tail -n 5 "$T/push.out")"
	read -r _t0 _t1 _hrc <"$T/hook.times"
	_ms=$(((_t1 - _t0) / 1000000))
	[ "$_hrc" -lt 128 ] || fail "$_name: the hook died with status $_hrc (a signal)"
	if [ "$_hrc" -eq 0 ]; then
		_what=accepted
		[ $_prc -eq 0 ] || fail "$_name: hook accepted but the push failed: $(tail -n 5 "$T/push.out")"
	else
		grep -q 'remote: error\[' "$T/push.out" ||
			fail "$_name: rejected without an error[RULE] line: $(tail -n 5 "$T/push.out")"
		_what="rejected: $(grep -m1 'remote: error\[' "$T/push.out" | sed 's/^remote: //; s/ *$//')"
	fi
	figure "hook: $_name: ${_ms} ms, $_what"
	if [ -n "${HOOK_BUDGET_MS:-}" ] && [ "$_ms" -gt "$HOOK_BUDGET_MS" ]; then
		fail "$_name: the hook took $_ms ms, over the $HOOK_BUDGET_MS ms budget"
	fi
}

# branches N PREFIX FROM: fast-import commands for N branches PREFIX/I, each
# with one commit of its own on top of FROM.
branches() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys
out = sys.stdout.buffer
n, prefix, base = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
for i in range(n):
    msg = b"feat: branch %d" % i
    data = b"branch %d\n" % i
    out.write(b"commit refs/heads/%s/%d\ncommitter Test <t@example.com> 1700000000 +0000\n" % (prefix, i))
    out.write(b"data %d\n%s\nfrom %s\n" % (len(msg), msg, base))
    out.write(b"M 100644 inline %s%d.txt\ndata %d\n%s\n" % (prefix, i, len(data), data))
PY
}

# hook_pressure NFILES BLOB_MIB YAML_LINES NREFS
hook_pressure() {
	hook_setup
	# (1) NFILES new files in one commit, written by fast-import.
	python3 - "$1" <<'PY' | git -C "$T/w" fast-import --quiet
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(n):
    data = b"line one of file %d\nvalue: %d\n" % (i, i * 7)
    out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (i + 1, len(data), data))
msg = b"feat: %d files" % n
out.write(b"commit refs/heads/main\ncommitter Test <t@example.com> 1700000000 +0000\n")
out.write(b"data %d\n%s\nfrom refs/heads/main^0\n" % (len(msg), msg))
for i in range(n):
    out.write(b"M 100644 :%d files/d%03d/f%d.txt\n" % (i + 1, i % 500, i))
PY
	hook_push "$1 files" main
	# (2) one blob of BLOB_MIB MiB (over max_size: a clear rejection, not a crash).
	git -C "$T/w" fetch -q "$T/srv.git" main
	git -C "$T/w" reset -q --hard main
	head -c $(($2 * 1024 * 1024)) /dev/urandom >"$T/w/big.bin"
	git -C "$T/w" add big.bin
	git -C "$T/w" commit -q -m "feat: a big blob"
	hook_push "$2 MiB blob" main
	[ "$_hrc" -eq 0 ] || git -C "$T/w" reset -q --hard HEAD~1
	# (3) a manifest of YAML_LINES lines: validated whole.
	mkdir -p "$T/w/clusters/prod"
	python3 - "$3" >"$T/w/clusters/prod/big.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  namespace: prod\ndata:")
for i in range(n - 6):
    print("  key%d: \"value %d\"" % (i, i))
PY
	git -C "$T/w" add clusters/prod/big.yaml
	git -C "$T/w" commit -q -m "deploy: a big config map"
	hook_push "$3-line YAML" main
	# (4) NREFS new branches in one push, each with its own commit, on the
	# pushed main; (5) as many again, all on top of one commit the server does
	# not have yet (1 MiB of text): each ref introduces it, the gate must not
	# pay for it NREFS times.
	git -C "$T/w" fetch -q "$T/srv.git" main
	git -C "$T/w" reset -q --hard FETCH_HEAD
	branches "$4" b main^0 | git -C "$T/w" fast-import --quiet
	hook_push "$4 refs" "refs/heads/b/*:refs/heads/b/*"
	python3 -c 'import sys; sys.stdout.write("".join("shared line %d of the base\n" % i for i in range(40000)))' >"$T/w/shared.txt"
	git -C "$T/w" add shared.txt
	git -C "$T/w" commit -q -m "feat: a shared base"
	branches "$4" c main^0 | git -C "$T/w" fast-import --quiet
	hook_push "$4 refs on one new commit" "refs/heads/c/*:refs/heads/c/*"
	expect_eq "$(git -C "$T/srv.git" for-each-ref refs/heads/b | wc -l)" "$4" "branches b/* pushed"
	expect_eq "$(git -C "$T/srv.git" for-each-ref refs/heads/c | wc -l)" "$4" "branches c/* pushed"
}
