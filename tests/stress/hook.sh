#!/bin/sh
# The pre-receive hook under pressure: a push of 50,000 files, one of a
# 200 MiB blob, one of a 100,000-line manifest, one of 1,000 new refs. Each
# must finish within HOOK_BUDGET_MS (default 5000: GitHub Enterprise's budget
# for all pre-receive hooks) or be rejected with an error[RULE] line; never
# a crash. The hook's wall times are the figures. Also 1,000 new refs all on
# top of one new commit.
. "$(dirname "$0")/../lib.sh"
. "$GG_TOP/tests/stress/lib.sh"
export FIGURES="${FIGURES:-$GG_BUILD/stress-figures.txt}"
export HOOK_BUDGET_MS="${HOOK_BUDGET_MS:-5000}"

t_hook_pressure() {
	hook_pressure 50000 200 100000 1000
}

run_cases
rc=$?
grep '^figure: hook' "$FIGURES" | tail -n 5
exit $rc
