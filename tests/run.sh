#!/bin/sh
# Run every unit test binary and every end-to-end script; each prints one
# "ok NAME" or "FAIL NAME" line per test. Prints the failures' details and
# ends with "N passed, N failed".
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD="$top/$BUILD" ;; esac
export GG_TOP="$top" GG_BUILD="$BUILD"
export GITGATE="$BUILD/bin/gitgate" GITGATED="$BUILD/bin/gitgated"
export GG_HOOKS="$BUILD/libexec/gitgate"
export VALGRIND="${VALGRIND:-}"
out=$(mktemp -d "${TMPDIR:-/tmp}/gitgate-tests.XXXXXX")
trap 'rm -rf "$out"' EXIT
only="${TESTS:-}"

run_one() { # name, command...
	name=$1
	shift
	if [ -n "$only" ] && ! echo "$name" | grep -q -- "$only"; then
		return
	fi
	log="$out/$(echo "$name" | tr '/' '_').log"
	if [ "$VALGRIND" = 1 ] && [ "${name#unit/}" != "$name" ]; then
		set -- valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
			--error-exitcode=99 "$@"
	fi
	"$@" >"$log" 2>&1
	rc=$?
	grep -E "^(ok|FAIL) " "$log" | sed -E "s#^(ok|FAIL) #\1 $name: #"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log"; then
		echo "FAIL $name: exited $rc" | tee -a "$log"
	fi
	if [ $rc -ne 0 ] || grep -q '^FAIL ' "$log"; then
		echo "--- $name log (last 60 lines) ---"
		tail -n 60 "$log" | sed 's/^/    /'
		echo "---"
	fi
	cat "$log" >>"$out/all.log"
}

{
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "unit/$(basename "$t")" "$t"
	done
	for t in "$top"/tests/e2e/*.sh; do
		[ -f "$t" ] || continue
		run_one "e2e/$(basename "$t" .sh)" sh "$t"
	done
} | tee "$out/results"

passed=$(grep -c '^ok ' "$out/results")
failed=$(grep -c '^FAIL ' "$out/results")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
