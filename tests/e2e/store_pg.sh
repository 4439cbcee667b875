#!/bin/sh
# The daemon on the PostgreSQL store (store: {kind: postgres}), against a
# real server each case starts for itself (tests/pgserver.sh): deliveries
# and deployments, the schema it creates and checks, an outage of the
# database, and the databases and files it must refuse. The password in the
# conninfo file never shows in a log line, an answer or --check.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

c() { # a commit-like id from a number
	printf '%040d' "$1"
}

pg_start() {
	sh "$GG_TOP/tests/pgserver.sh" start "$T/pg" || fail "cannot start PostgreSQL"
	trap 'stop_daemon; pg_stop' EXIT
	PW=$(cat "$T/pg/password")
	cp "$T/pg/conninfo" "$T/conninfo"
	chmod 600 "$T/conninfo"
}

pg_stop() {
	sh "$GG_TOP/tests/pgserver.sh" stop "$T/pg"
}

# psql_admin DB SQL: run SQL as the server's superuser; prints the result unaligned.
psql_admin() {
	psql -X -q -At -v ON_ERROR_STOP=1 -h "$T/pg" -U ggadmin -d "$1" -c "$2"
}

# pg_config TARGETS: deploy_config with the store on the database $T/conninfo names.
pg_config() {
	deploy_config "$1" "store: {kind: postgres, conninfo_file: $T/conninfo}"
}

start_pg_daemon() {
	start_daemon
	trap 'stop_daemon; pg_stop' EXIT
}

# no_password FILE...: none of the files holds the password.
no_password() {
	for f in "$@"; do
		[ -f "$f" ] || continue
		expect_not_contains "$f" "$PW"
	done
}

# A target whose runs are logged in $T/runs and wait for $T/release.
app_target() {
	printf '%s\n' "  - name: app
    repo: acme/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/runs; while [ ! -e $T/release ]; do sleep 0.05; done\", \"sh\", \"{after}\"]"
}

t_deliveries_and_deployments_on_postgres() {
	pg_start
	pg_config "$(app_target)"
	"$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1 || {
		cat "$T/check.out"
		fail "--check failed"
	}
	expect_contains "$T/check.out" "store: postgres ($T/conninfo): no schema yet"
	start_pg_daemon
	expect_contains "$T/daemon.log" 'store=postgres'
	# The schema is the daemon's own work.
	expect_eq "$(psql_admin gg 'SELECT max(version) FROM gitgated_schema')" 4 "schema version"
	"$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_contains "$T/check.out" "schema current (version 4)"

	expect_eq "$(send_event "$(c 1)" refs/heads/main "$ZERO" d-1)" 202 "first delivery"
	expect_eq "$(send_event "$(c 1)" refs/heads/main "$ZERO" d-1)" 200 "redelivery"
	expect_contains "$T/resp" '"duplicate":true'
	# Stored in PostgreSQL, not under state_dir.
	expect_eq "$(psql_admin gg "SELECT count(*) FROM deliveries WHERE id='d-1'")" 1 "stored"
	[ ! -e "$T/state/gitgated.db" ] || fail "the SQLite store was created too"
	# Four more while the first runs: they coalesce into one run of the newest.
	wait_until 20 test -s "$T/runs"
	for n in 2 3 4 5; do
		expect_eq "$(send_event "$(c $n)" refs/heads/main "$(c $((n - 1)))")" 202 "push $n"
	done
	touch "$T/release"
	wait_until 30 settled
	api "deployments?target=app"
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 5 "deployments"
	expect_eq "$(wc -l <"$T/runs")" 2 "runs"
	expect_eq "$(tail -n 1 "$T/runs")" "$(c 5)" "the last run"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "newest state"
	expect_eq "$(json "$T/api.json" 'sum(1 for x in d["deployments"] if x["state"]=="superseded")')" \
		3 "superseded"
	# Pause and resume go through the same store.
	curl -sf -o /dev/null -X POST "$URL/api/v1/targets/app/pause" || fail "pause"
	expect_eq "$(psql_admin gg "SELECT count(*) FROM pauses WHERE target='app'")" 1 "paused row"
	curl -sf -o /dev/null -X POST "$URL/api/v1/targets/app/resume" || fail "resume"
	curl -sf -o "$T/metrics" "$URL/metrics" || fail "metrics"
	expect_contains "$T/metrics" 'state="succeeded"'

	# Killed in the middle of a deployment: the next start runs it again.
	rm -f "$T/release" "$T/runs"
	expect_eq "$(send_event "$(c 6)" refs/heads/main "$(c 5)")" 202 "push 6"
	wait_until 20 test -s "$T/runs"
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
	expect_eq "$(psql_admin gg "SELECT state FROM deployments ORDER BY id DESC LIMIT 1")" \
		running "left running"
	start_pg_daemon
	expect_contains "$T/daemon.log" "interrupted deployments queued again"
	touch "$T/release"
	wait_until 30 settled
	api "deployments?target=app"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "recovered"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$(c 6)" "recovered commit"
	# A second daemon under the same replica name (the default: host name and
	# port) is refused while the first is alive, and the first one goes on.
	sed "s/127.0.0.1:$PORT/127.0.0.1:$(free_port)/" "$T/cfg.yaml" >"$T/cfg2.yaml"
	printf 'replica: "%s:%s"\n' "$(hostname)" "$PORT" >>"$T/cfg2.yaml"
	expect_status 1 "$GITGATED" -c "$T/cfg2.yaml" 2>"$T/second.log"
	expect_contains "$T/second.log" "replica '$(hostname):$PORT' is already running on this database"
	expect_eq "$(send_event "$(c 7)" refs/heads/main "$(c 6)")" 202 "push 7"
	wait_until 30 settled
	stop_daemon
	no_password "$T/daemon.log" "$T/check.out" "$T/api.json" "$T/metrics" "$T/resp"
}

t_database_outage_answers_503_and_recovers_by_itself() {
	pg_start
	pg_config "$(app_target)"
	start_pg_daemon
	expect_eq "$(send_event "$(c 1)" refs/heads/main "$ZERO" o-1)" 202 "before"
	wait_until 20 test -s "$T/runs"
	pg_stop
	# The running deployment ends while the database is away.
	touch "$T/release"
	# /healthz fails so that a load balancer stops sending here.
	wait_until 30 sh -c "[ \"\$(curl -s -o '$T/health' -w '%{http_code}' '$URL/healthz')\" = 503 ]"
	expect_contains "$T/health" "unreachable"
	status=$(curl -s -D "$T/headers" -o "$T/resp" -w '%{http_code}' -X POST \
		--data-binary '{}' "$URL/hooks/git")
	expect_eq "$status" 401 "unsigned, still refused first"
	expect_eq "$(send_event "$(c 2)" refs/heads/main "$(c 1)" o-2)" 503 "during the outage"
	curl -s -D "$T/headers" -o /dev/null -X POST --data-binary "@$T/event.json" \
		-H "X-Gitgate-Delivery: o-2" \
		-H "X-Gitgate-Signature: sha256=$(openssl dgst -sha256 -hmac notify-secret "$T/event.json" | sed 's/^.*= *//')" \
		"$URL/hooks/git"
	expect_contains "$T/headers" "Retry-After: 5"
	# The server comes back; the daemon reconnects on its own.
	sh "$GG_TOP/tests/pgserver.sh" restart "$T/pg" || fail "restart"
	wait_until 30 curl -sf -o /dev/null "$URL/healthz"
	# The delivery answered 503 was not stored: sent again, it is new.
	expect_eq "$(send_event "$(c 2)" refs/heads/main "$(c 1)" o-2)" 202 "after the outage"
	wait_until 30 settled
	api "deployments?target=app"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$(c 2)" "newest"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "newest state"
	# The finish recorded late, once the database was back.
	expect_eq "$(json "$T/api.json" 'd["deployments"][1]["commit"]')" "$(c 1)" "the first"
	expect_eq "$(json "$T/api.json" 'd["deployments"][1]["state"]')" succeeded "the first's state"
	expect_contains "$T/daemon.log" "connected to PostgreSQL"
	stop_daemon
	no_password "$T/daemon.log" "$T/health" "$T/resp"
}

# refused WHAT TEXT: --check exits 2 and the daemon does not start, both saying TEXT.
refused() {
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_contains "$T/check.out" "$2"
	expect_status 1 "$GITGATED" -c "$T/cfg.yaml" 2>"$T/start.out"
	expect_contains "$T/start.out" "$2"
	no_password "$T/check.out" "$T/start.out"
	echo "refused: $1"
}

t_bad_databases_and_files_are_refused() {
	pg_start
	pg_config "  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}"
	good=$(cat "$T/conninfo")
	# A wrong password: refused, and neither password shows.
	printf 'host=%s user=gg password=Wr0ngPassw0rd dbname=gg\n' "$T/pg" >"$T/conninfo"
	refused "wrong password" "password authentication failed"
	expect_not_contains "$T/check.out" Wr0ngPassw0rd
	expect_not_contains "$T/start.out" Wr0ngPassw0rd
	# A database that does not exist.
	printf 'host=%s user=gg password=%s dbname=nosuchdb\n' "$T/pg" "$PW" >"$T/conninfo"
	refused "missing database" 'does not exist'
	expect_contains "$T/check.out" '"nosuchdb" does not exist'
	# A read-only database.
	psql_admin postgres "CREATE DATABASE ro OWNER gg" >/dev/null
	psql_admin postgres "ALTER DATABASE ro SET default_transaction_read_only = on" >/dev/null
	printf 'host=%s user=gg password=%s dbname=ro\n' "$T/pg" "$PW" >"$T/conninfo"
	refused "read-only database" "the database is read-only"
	expect_eq "$(psql_admin ro "SELECT count(*) FROM pg_tables WHERE schemaname='public'")" 0 \
		"tables in the read-only database"
	# A schema from a newer gitgated: refused, nothing changed.
	printf '%s\n' "$good" >"$T/conninfo"
	start_pg_daemon
	stop_daemon
	psql_admin gg "INSERT INTO gitgated_schema VALUES (42, 0)" >/dev/null
	psql_admin gg "SELECT count(*), max(version) FROM gitgated_schema" >"$T/before"
	psql_admin gg "SELECT count(*) FROM deployments" >>"$T/before"
	refused "newer schema" "schema is version 42, newer than this gitgated's (4): upgrade gitgated"
	psql_admin gg "SELECT count(*), max(version) FROM gitgated_schema" >"$T/after"
	psql_admin gg "SELECT count(*) FROM deployments" >>"$T/after"
	cmp -s "$T/before" "$T/after" || fail "the newer schema was changed"
	# A conninfo file others can read.
	chmod 644 "$T/conninfo"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_contains "$T/check.out" "secret file is group- or world-accessible"
	no_password "$T/check.out"
	# One libpq cannot parse is not quoted back.
	printf 'host=/x password %s\n' "$PW" >"$T/conninfo"
	chmod 600 "$T/conninfo"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_contains "$T/check.out" "not a libpq connection string or URI"
	no_password "$T/check.out"
}

# Whether the daemon DPID has libpq mapped.
maps_libpq() {
	grep -q 'libpq\.so' "/proc/$DPID/maps"
}

t_libpq_is_loaded_only_for_a_postgres_store() {
	app="  - {name: app, repo: acme/app, ref: refs/heads/main, run: [\"true\"]}"
	# On the embedded store libpq is never loaded, nor what it links.
	deploy_config "$app" ""
	start_daemon
	! maps_libpq || fail "libpq loaded by a daemon on SQLite"
	! grep -q 'libgnutls\|libldap' "/proc/$DPID/maps" || fail "libpq's dependencies loaded"
	stop_daemon
	pg_start
	pg_config "$app"
	start_pg_daemon
	maps_libpq || fail "libpq not loaded on the PostgreSQL store"
	stop_daemon
	# Without libpq on the machine: the SQLite store runs, a PostgreSQL
	# store is refused with the reason.
	lib=$(/sbin/ldconfig -p | sed -n 's/^[[:space:]]*libpq\.so\.5 .*=> //p' | head -n 1)
	[ -n "$lib" ] || fail "ldconfig does not list libpq.so.5"
	if ! unshare -m true 2>/dev/null; then
		echo "skipped: hiding libpq needs a mount namespace (root and unshare)"
		return 0
	fi
	unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$lib" \
		"$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1 && fail "--check passed without libpq"
	expect_contains "$T/check.out" "cannot load libpq (Debian's libpq5)"
	no_password "$T/check.out"
	deploy_config "$app" ""
	unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$lib" \
		"$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1 || {
		cat "$T/check.out"
		fail "--check of a SQLite store failed without libpq"
	}
}

run_cases
