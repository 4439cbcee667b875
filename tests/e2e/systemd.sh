#!/bin/sh
# The systemd units: they verify, the service's sandbox rates 2.0 or lower in
# `systemd-analyze security`, and the daemon serves a socket systemd hands it.
. "$(dirname "$0")/../lib.sh"

UNITS="$GG_TOP/systemd"

# The units as `make install` writes them, with ExecStart at the built daemon,
# and the man pages their Documentation= names in a man tree of their own.
stage_units() {
	mkdir -p units man/man1 man/man5 man/man8
	for u in gitgated.service gitgated.socket; do
		sed "s|@SBINDIR@|$GG_BUILD/bin|g" "$UNITS/$u" >"units/$u"
	done
	cp "$GG_TOP"/man/*.1 man/man1/
	cp "$GG_TOP"/man/*.5 man/man5/
	cp "$GG_TOP"/man/*.8 man/man8/
	MANPATH="$T/man:"
	export MANPATH
}

t_units_verify_cleanly() {
	[ -x "$GITGATED" ] || fail "no daemon built at $GITGATED"
	stage_units
	expect_status 0 systemd-analyze verify units/gitgated.service units/gitgated.socket \
		>verify.out 2>&1
	# Unknown keys and typos are only warnings: any output is a defect.
	[ ! -s verify.out ] || {
		cat verify.out
		fail "systemd-analyze verify printed warnings"
	}
}

# The check above must be able to fail: a unit whose daemon is missing does not verify.
t_verify_rejects_missing_daemon() {
	stage_units
	sed -i "s|$GG_BUILD/bin/gitgated|$T/nowhere/gitgated|" units/gitgated.service
	expect_status 1 systemd-analyze verify units/gitgated.service units/gitgated.socket \
		>verify.out 2>&1
	expect_contains verify.out "$T/nowhere/gitgated"
}

t_service_security_score_at_most_2() {
	stage_units
	systemd-analyze security --offline=true --no-pager units/gitgated.service >sec.out 2>&1 ||
		true
	line=$(grep 'Overall exposure level for gitgated.service:' sec.out) || {
		cat sec.out
		fail "no exposure level in the output"
	}
	score=$(echo "$line" | sed -E 's/.*gitgated.service: ([0-9]+\.[0-9]+).*/\1/')
	echo "exposure: $score"
	awk -v s="$score" 'BEGIN { exit !(s + 0 <= 2.0) }' || {
		grep '✗' sec.out
		fail "exposure $score is above 2.0"
	}
}

# What the unit's comment and the README say the sandbox rates is what the
# tool prints for it.
t_documented_score_is_what_the_tool_prints() {
	stage_units
	systemd-analyze security --offline=true --no-pager units/gitgated.service >sec.out 2>&1 ||
		true
	score=$(sed -n -E 's/.*Overall exposure level for gitgated.service: ([0-9]+\.[0-9]+).*/\1/p' sec.out)
	[ -n "$score" ] || {
		cat sec.out
		fail "no exposure level in the output"
	}
	version=$(systemd-analyze --version | sed -n -E '1s/^systemd ([0-9]+).*/\1/p')
	unit=$(sed -n -E 's/^# The sandbox below rates ([0-9]+\.[0-9]+) in .*/\1/p' "$UNITS/gitgated.service")
	[ -n "$unit" ] || fail "the unit's comment states no figure"
	readme=$(tr '\n' ' ' <"$GG_TOP/README.md" |
		sed -n -E 's/.*systemd-analyze security gitgated.service` rates +it ([0-9]+\.[0-9]+).*/\1/p')
	[ -n "$readme" ] || fail "the README states no figure"
	echo "systemd $version: tool $score, unit comment $unit, README $readme"
	expect_contains "$UNITS/gitgated.service" "(systemd $version)"
	[ "$unit" = "$score" ] || fail "the unit's comment says $unit, systemd-analyze $version says $score"
	[ "$readme" = "$score" ] || fail "the README says $readme, systemd-analyze $version says $score"
	tr '\n' ' ' <"$GG_TOP/README.md" | grep -q "rates  *it $score on systemd $version" ||
		fail "the README does not name systemd $version"
}

# The score check must be able to fail: the same unit without its sandbox rates high.
t_security_score_of_bare_unit_is_high() {
	stage_units
	sed -n '1,/^# Hardening\./p' units/gitgated.service | grep -v -E '^(User|Group)=' \
		>units/bare.service
	systemd-analyze security --offline=true --no-pager units/bare.service >sec.out 2>&1 || true
	score=$(sed -n -E 's/.*Overall exposure level for bare.service: ([0-9]+\.[0-9]+).*/\1/p' sec.out)
	[ -n "$score" ] || fail "no exposure level for the bare unit"
	awk -v s="$score" 'BEGIN { exit !(s + 0 > 2.0) }' || fail "bare unit rates $score"
}

t_service_runs_as_its_own_user_with_reload() {
	u="$UNITS/gitgated.service"
	expect_contains "$u" "ExecStart=@SBINDIR@/gitgated -c /etc/gitgate/gitgated.yaml"
	expect_contains "$u" 'ExecReload=/bin/kill -HUP $MAINPID'
	expect_contains "$u" "User=gitgated"
	expect_contains "$u" "StateDirectory=gitgated"
	expect_contains "$u" "Requires=gitgated.socket"
	# Extra writable paths belong in a drop-in, not in the shipped unit.
	! grep -q '^ReadWritePaths=' "$u" || fail "the shipped unit widens ReadWritePaths"
	expect_contains "$UNITS/gitgated.socket" "ListenStream="
}

# What gitgated.socket does, without systemd as PID 1: systemd-socket-activate
# binds the port and hands it over in LISTEN_FDS; the config's own listen
# address stays unbound.
t_daemon_serves_socket_from_systemd() {
	[ -x "$GITGATED" ] || fail "no daemon built at $GITGATED"
	port=$(free_port)
	other=$(free_port)
	mkdir state
	(umask 077 && echo "s3cret" >secret)
	cat >gitgated.yaml <<YAML
listen: ["127.0.0.1:$other"]
state_dir: $T/state
sources:
  - name: git
    kind: generic
    secret_file: $T/secret
targets:
  - name: t
    repo: "**"
    ref: refs/heads/main
    run: ["/bin/true"]
YAML
	systemd-socket-activate -l "127.0.0.1:$port" "$GITGATED" -c gitgated.yaml \
		>daemon.log 2>&1 &
	pid=$!
	code=000
	i=0
	while [ $i -lt 100 ]; do
		code=$(curl -s -o health.out -w '%{http_code}' "http://127.0.0.1:$port/healthz") ||
			true
		[ "$code" = 200 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	# Not bound by the daemon: systemd's socket replaced the config's address.
	other_code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$other/healthz") ||
		true
	kill -TERM $pid 2>/dev/null || true
	wait $pid || true
	[ "$code" = 200 ] || {
		cat daemon.log
		fail "GET /healthz on the activated socket answered $code"
	}
	[ "$other_code" = 000 ] || fail "the config's listen address answered $other_code"
}

run_cases
