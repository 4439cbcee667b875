#!/bin/sh
# Slow and hostile clients: 500 connections trickling bytes, oversized heads
# and bodies, broken chunked framing, pipelined garbage, for HOSTILE_SECONDS
# (default 30); meanwhile valid deliveries one after another: all answered
# 202, their p99 within HOSTILE_P99_MS (default 10).
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/stress/lib.sh"
export FIGURES="${FIGURES:-$GG_BUILD/stress-figures.txt}"

t_hostile_clients() {
	hostile "${HOSTILE_SECONDS:-30}" "${HOSTILE_TRICKLERS:-500}" "${HOSTILE_P99_MS:-10}"
}

run_cases
rc=$?
grep '^figure: hostile' "$FIGURES" | tail -n 3
exit $rc
