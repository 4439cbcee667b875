#!/bin/sh
# Disk full (the state on a 16 MiB tmpfs filled to the last block) and a
# read-only state directory: 503 and /healthz 503, nothing half-written,
# service back once space returns. Needs root to mount; fails otherwise.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/stress/lib.sh"
export FIGURES="${FIGURES:-$GG_BUILD/stress-figures.txt}"

t_disk_full() {
	can_mount || fail "cannot mount a tmpfs: run as root (mount -t tmpfs)"
	diskfull
}

t_readonly_state() {
	can_mount || fail "cannot bind-mount: run as root"
	readonly_state
}

run_cases
rc=$?
grep '^figure: \(diskfull\|readonly\)' "$FIGURES" | tail -n 4
exit $rc
