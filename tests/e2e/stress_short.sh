#!/bin/sh
# The load and fault scenarios of tests/stress/ in a short form for `make
# test`: the same checks (every 202 stored, newest commit deployed, store
# intact, 503 and recovery on a full disk, valid deliveries answered among
# hostile clients), small numbers, no timing asserts.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/stress/lib.sh"

t_soak_short() {
	soak 3000 4 3 8192
}

t_crash_short() {
	crash 5 2 3 400
}

t_hostile_clients_short() {
	hostile 6 100
}

t_disk_full_short() {
	# Only where mounting works (CI runs as root); the full script fails instead.
	can_mount || { echo "skipped: cannot mount a tmpfs here"; return 0; }
	diskfull
}

t_readonly_state_short() {
	can_mount || { echo "skipped: cannot bind-mount here"; return 0; }
	readonly_state
}

t_hook_pressure_short() {
	hook_pressure 5000 20 10000 100
}

t_deep_tree_is_refused_with_a_reason() {
	# 1,100 nested directories: the gate refuses (fail closed) and says why,
	# rather than recursing without bound.
	hook_setup
	python3 - <<'PY' | git -C "$T/w" fast-import --quiet
import sys
out = sys.stdout.buffer
path = "/".join(["d"] * 1100) + "/f.txt"
msg = b"feat: deep"
out.write(b"commit refs/heads/main\ncommitter Test <t@example.com> 1700000000 +0000\n")
out.write(b"data %d\n%s\nfrom refs/heads/main^0\n" % (len(msg), msg))
out.write(b"M 100644 inline %s\ndata 3\nhi\n\n" % path.encode())
PY
	: >"$T/hook.times"
	! git -C "$T/w" push "$T/srv.git" main >"$T/push.out" 2>&1 || fail "a 1,100-deep tree was accepted"
	read -r _t0 _t1 rc <"$T/hook.times"
	[ "$rc" -gt 0 ] && [ "$rc" -lt 128 ] || fail "the hook exited $rc"
	expect_contains "$T/push.out" "nests directories more than 1024 deep"
}

run_cases
