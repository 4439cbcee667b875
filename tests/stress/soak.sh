#!/bin/sh
# Soak: 100,000 signed deliveries over loopback keep-alive connections as fast
# as the daemon takes them; every 202 stored, the newest commit of each target
# deployed last, VmRSS and open fds flat. Usage: sh tests/stress/soak.sh
# (after make; SOAK_COUNT, SOAK_CONNS, SOAK_TARGETS, SOAK_RSS_SLACK_KIB).
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/stress/lib.sh"
export FIGURES="${FIGURES:-$GG_BUILD/stress-figures.txt}"

t_soak() {
	soak "${SOAK_COUNT:-100000}" "${SOAK_CONNS:-4}" "${SOAK_TARGETS:-8}" "${SOAK_RSS_SLACK_KIB:-4096}"
}

run_cases
rc=$?
grep '^figure: soak' "$FIGURES" | tail -n 4
exit $rc
