#!/bin/sh
# Crash: deliveries under load while gitgated is SIGKILLed at random moments
# and restarted (CRASH_KILLS, default 25): no 202 lost, every deployment
# finished or queued, the newest commit deployed, PRAGMA integrity_check ok.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/stress/lib.sh"
export FIGURES="${FIGURES:-$GG_BUILD/stress-figures.txt}"

t_crash() {
	crash "${CRASH_KILLS:-25}" "${CRASH_CONNS:-4}" "${CRASH_TARGETS:-8}" 1500
}

run_cases
rc=$?
grep '^figure: crash' "$FIGURES" | tail -n 3
exit $rc
