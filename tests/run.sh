#!/bin/sh
# Run every unit test binary and every end-to-end script; each prints one
# "ok NAME" or "FAIL NAME" line per test. Prints the failures' details and
# ends with "N passed, N failed".
#
# VALGRIND=1: every gitgate program the tests run goes through valgrind
# memcheck. $BUILD/vg/RUN/bin/{gitgate,gitgated}, .../libexec/gitgate/*
# are wrappers exec'ing valgrind on the real binaries. gitgate finds the
# hooks beside its own binary (/proc/self/exe, which valgrind reports as the
# client's path), so its wrapper runs a copy of the real binary kept next to
# itself (bin/.gitgate.vg-real, made on first use wherever the wrapper was
# copied to): install-hook then installs the hook wrappers, and the hooks git
# runs go through valgrind too. Every process writes its report to
# $BUILD/vg/RUN/logs/vg.PID; the run fails on any
# error or definite leak found there. Children of gitgated (deployment
# commands, its checkout child) run natively.
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD="$top/$BUILD" ;; esac
export GG_TOP="$top" GG_BUILD="$BUILD"
export GITGATE="$BUILD/bin/gitgate" GITGATED="$BUILD/bin/gitgated"
export GG_HOOKS="$BUILD/libexec/gitgate"
export VALGRIND="${VALGRIND:-}"

VG_OPTS="--error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --num-callers=40 --trace-children=no"
if [ "$VALGRIND" = 1 ]; then
	command -v valgrind >/dev/null || {
		echo "VALGRIND=1: valgrind is not installed"
		echo "0 passed, 1 failed"
		exit 1
	}
	# One tree per run: several runs at once must not share reports.
	vg="$BUILD/vg/$$"
	rm -rf "$vg"
	mkdir -p "$vg/bin" "$vg/libexec/gitgate" "$vg/logs"
	# Hooks that run as the multi-user tests' accounts write their reports too.
	chmod 1777 "$vg/logs"
	# PCRE2's JIT-compiled matchers read ahead in ways memcheck cannot follow
	# (a "conditional jump on uninitialised value" in anonymous code, gone
	# with the JIT off): under valgrind, patterns run in PCRE2's interpreter.
	printf 'int pcre2_jit_compile_8(void *code, unsigned options);\n%s\n' \
		'int pcre2_jit_compile_8(void *code, unsigned options) { (void)code; (void)options; return -45; }' \
		>"$vg/nojit.c"
	${CC:-cc} -shared -fPIC -o "$vg/nojit.so" "$vg/nojit.c" || {
		echo "VALGRIND=1: cannot build $vg/nojit.so"
		echo "0 passed, 1 failed"
		exit 1
	}
	VG_ENV="LD_PRELOAD=$vg/nojit.so"
	# vgwrap WRAPPER PROGRAM
	vgwrap() {
		printf '#!/bin/sh\nexec env %s valgrind %s --log-file=%s/logs/vg.%%p "%s" "$@"\n' \
			"$VG_ENV" "$VG_OPTS" "$vg" "$2" >"$1"
		chmod +x "$1"
	}
	{
		echo '#!/bin/sh'
		echo 'real="$(cd "$(dirname "$0")" && pwd -P)/.gitgate.vg-real"'
		echo "[ -x \"\$real\" ] || cp '$BUILD/bin/gitgate' \"\$real\" || exit 2"
		echo "exec env $VG_ENV valgrind $VG_OPTS --log-file=$vg/logs/vg.%p \"\$real\" \"\$@\""
	} >"$vg/bin/gitgate"
	chmod +x "$vg/bin/gitgate"
	[ -x "$BUILD/bin/gitgated" ] && vgwrap "$vg/bin/gitgated" "$BUILD/bin/gitgated"
	for h in "$BUILD"/libexec/gitgate/*; do
		[ -x "$h" ] || continue
		vgwrap "$vg/libexec/gitgate/$(basename "$h")" "$h"
	done
	export GITGATE="$vg/bin/gitgate" GITGATED="$vg/bin/gitgated" GG_HOOKS="$vg/libexec/gitgate"
fi
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
		# shellcheck disable=SC2086
		set -- env "$VG_ENV" valgrind $VG_OPTS --log-file="$vg/logs/vg.%p" "$@"
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

if [ "$VALGRIND" = 1 ]; then
	# A report without errors is only valgrind's banner: drop it; keep and
	# count the others (an error or a definite leak in any program run).
	nvg=0
	for f in "$vg"/logs/vg.*; do
		[ -f "$f" ] || continue
		nvg=$((nvg + 1))
		if grep -q 'ERROR SUMMARY: [1-9]' "$f"; then
			prog=$(grep -m1 '^==[0-9]*== Command:' "$f" | sed 's/^==[0-9]*== Command: //')
			echo "FAIL valgrind: $prog: $(grep -m1 'ERROR SUMMARY' "$f" | sed 's/^==[0-9]*== //') (report: $f)" |
				tee -a "$out/results"
			sed -n '/^==[0-9]*== [A-Z].*\(Invalid\|uninitialised\|definitely lost\|Mismatched\|overlap\|Syscall param\)/,/^==[0-9]*== $/p' "$f" |
				head -n 40 | sed 's/^/    /'
		else
			rm -f "$f"
		fi
	done
	if grep -q '^FAIL valgrind: ' "$out/results"; then
		echo "valgrind: $nvg processes checked, reports with errors kept in $vg/logs"
	else
		echo "valgrind: $nvg processes checked, no errors"
		rm -rf "$vg"
	fi
fi

passed=$(grep -c '^ok ' "$out/results")
failed=$(grep -c '^FAIL ' "$out/results")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
