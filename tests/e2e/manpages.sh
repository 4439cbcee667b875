#!/bin/sh
# The man pages render without a warning, and they cover what the programs
# and the example files really offer: every option the programs print in
# their usage, every key the example configs use, every exit code and signal.
. "$(dirname "$0")/../lib.sh"

MAN="$GG_TOP/man"
PAGES="gitgate.1 gitgated.8 gitgate-policy.5 gitgated.yaml.5"

t_pages_lint_without_warnings() {
	for p in $PAGES; do
		[ -f "$MAN/$p" ] || fail "missing man page $p"
		expect_status 0 mandoc -T lint -W warning "$MAN/$p" >lint.out 2>&1
		[ ! -s lint.out ] || {
			cat lint.out
			fail "mandoc warns about $p"
		}
		groff -man -ww -z "$MAN/$p" >groff.out 2>&1
		[ ! -s groff.out ] || {
			cat groff.out
			fail "groff warns about $p"
		}
	done
}

# The lint above must be able to fail.
t_lint_catches_a_broken_page() {
	sed 's/^\.SH DESCRIPTION/.SH DESCRIPTION\n.BOGUS macro\n.B/' "$MAN/gitgate.1" >broken.1
	expect_status 3 mandoc -T lint -W warning broken.1 >lint.out 2>&1
	expect_contains lint.out "BOGUS"
}

# The page, rendered as a user reads it, with hyphenation and justification off.
rendered() {
	MANWIDTH=200 man --nh --nj -l "$MAN/$1" 2>/dev/null | col -b
}

# Each long option, and each subcommand, that a program's usage prints.
t_gitgate_usage_is_documented() {
	"$GITGATE" --help >usage.txt
	# Each subcommand's own usage too.
	for c in check install-hook policy status notify; do
		"$GITGATE" $c --help >>sub.txt 2>&1
	done
	rendered gitgate.1 >page.txt
	cat usage.txt sub.txt | grep -oE -- '--[a-z][a-z-]*' | grep -vx -- '--help' | sort -u >opts.txt
	[ -s opts.txt ] || fail "gitgate --help printed no options"
	while read -r o; do
		expect_contains page.txt "$o"
	done <opts.txt
	sed -n -E 's/^(usage:)? *gitgate ([a-z][a-z-]*( [a-z]+)?).*/\2/p' usage.txt |
		sed -E 's/ (FILE|REPO|PATH|OLD).*//' | sort -u >cmds.txt
	[ -s cmds.txt ] || fail "gitgate --help printed no commands"
	while read -r c; do
		expect_contains page.txt "gitgate $c"
	done <cmds.txt
}

# The forms of gitgate's commands, one per line, as the SYNOPSIS renders them.
synopsis() {
	rendered gitgate.1 | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed -n 's/^ *\(gitgate .*\)/\1/p'
}

# The "gitgate ..." lines of a usage text, without "usage:" and the alignment.
usage_forms() {
	sed -n -E 's/^(usage:)? *(gitgate .*)/\2/p' "$1"
}

# gitgate --help prints exactly the man page's SYNOPSIS, and every option
# the page's OPTIONS section lists.
t_gitgate_help_is_the_synopsis() {
	expect_status 0 "$GITGATE" --help >usage.txt 2>err.txt
	[ ! -s err.txt ] || fail "gitgate --help wrote to stderr"
	synopsis >want.txt
	[ "$(wc -l <want.txt)" -ge 7 ] || fail "found only $(wc -l <want.txt) SYNOPSIS lines"
	usage_forms usage.txt >got.txt
	diff -u want.txt got.txt || fail "gitgate --help differs from gitgate(1)'s SYNOPSIS"
	rendered gitgate.1 | sed -n '/^OPTIONS/,/^HOOKS/p' | grep -E '^ {7}-' |
		grep -oE -- '--[a-z][a-z-]*' | sort -u >opts.txt
	[ "$(wc -l <opts.txt)" -ge 12 ] || fail "found only $(wc -l <opts.txt) options in OPTIONS"
	while read -r o; do
		grep -qE -- "$o( |\]|$)" usage.txt || fail "gitgate --help does not list $o"
	done <opts.txt
}

# Every command answers --help with exit 0 and its own forms of the SYNOPSIS,
# wherever --help stands among its arguments.
t_every_command_answers_help() {
	synopsis >syn.txt
	for c in check install-hook policy "policy lint" status notify "notify --flush" version; do
		first=${c%% *}
		for args in "$c --help" "$c -h" "$c --policy x.yaml --help"; do
			case $args in *"--policy x.yaml"*) [ "$first" = check ] || [ "$first" = install-hook ] || continue ;; esac
			# shellcheck disable=SC2086
			expect_status 0 "$GITGATE" $args >out.txt 2>err.txt
			[ ! -s err.txt ] || fail "gitgate $args wrote to stderr: $(cat err.txt)"
			usage_forms out.txt >got.txt
			if [ "$first" = version ]; then
				grep -x 'gitgate --version' syn.txt >want.txt
			else
				grep -E "^gitgate $first( |$)" syn.txt >want.txt
			fi
			[ -s want.txt ] || fail "no SYNOPSIS line for $first"
			diff -u want.txt got.txt || fail "gitgate $args differs from the SYNOPSIS"
		done
	done
	# A usage error still says how, on stderr, with exit 2.
	expect_status 2 "$GITGATE" check --bogus >out.txt 2>err.txt
	[ ! -s out.txt ] || fail "a usage error wrote to stdout"
	expect_contains err.txt "usage: gitgate check"
	expect_status 2 "$GITGATE" policy lint >out.txt 2>err.txt
	expect_contains err.txt "usage: gitgate policy lint FILE"
}

t_gitgated_options_are_documented() {
	[ -x "$GITGATED" ] || fail "no daemon built at $GITGATED"
	"$GITGATED" --help >usage.txt 2>&1 || true
	rendered gitgated.8 >page.txt
	grep -oE -- '(^| |\[)-(-[a-z][a-z-]*|[a-zA-Z])\b' usage.txt | tr -d ' [' | sort -u >opts.txt
	[ -s opts.txt ] || fail "gitgated --help printed no options"
	while read -r o; do
		expect_contains page.txt "$o"
	done <opts.txt
}

# Every HTTP status the daemon's server and API answer with is explained.
t_http_statuses_are_documented() {
	rendered gitgated.8 >d.txt
	grep -ohE '(return|reply[a-z_]*\([a-z>-]+,|respond\([a-z>-]+,) [0-9]{3}\b' \
		"$GG_TOP"/daemon/server.c "$GG_TOP"/daemon/api.c | grep -oE '[0-9]{3}$' | sort -u >codes.txt
	[ "$(wc -l <codes.txt)" -ge 5 ] || fail "found only $(wc -l <codes.txt) status codes in the daemon"
	for c in $(cat codes.txt) 202 413; do
		grep -qE "(^ {7}$c( |$))|[ (]$c[ )]" d.txt || fail "gitgated(8) does not explain HTTP $c"
	done
}

t_exit_codes_and_signals_are_documented() {
	rendered gitgate.1 >g.txt
	rendered gitgated.8 >d.txt
	for f in g.txt d.txt; do
		expect_contains $f "EXIT STATUS"
		for c in 0 2; do
			grep -qE "^ {7}$c( |$)" $f || fail "$f does not explain exit code $c"
		done
	done
	grep -qE "^ {7}1( |$)" g.txt || fail "gitgate(1) does not explain exit code 1"
	for s in SIGTERM SIGINT SIGHUP LISTEN_FDS; do
		expect_contains d.txt "$s"
	done
	# And whatever other signal the daemon handles (SIGCHLD only reaps its children).
	sigs=$(grep -ohE 'evsignal_new\([^,]+, *SIG[A-Z]+' "$GG_TOP"/daemon/*.c |
		grep -oE 'SIG[A-Z]+' | grep -vx SIGCHLD | sort -u)
	[ -n "$sigs" ] || fail "found no signal handlers in the daemon"
	for s in $sigs; do
		sed -n '/^SIGNALS/,/^[A-Z]/p' d.txt | grep -q "$s" || fail "SIGNALS does not explain $s"
	done
}

# Every key the commented examples use has its entry in the page of its format.
t_example_keys_are_documented() {
	rendered gitgate-policy.5 >policy.txt
	rendered gitgated.yaml.5 >daemon.txt
	n=0
	for f in "$GG_TOP"/examples/*.yaml; do
		case $(basename "$f") in
		*policy*) page=policy.txt ;;
		*) page=daemon.txt ;;
		esac
		# Mapping keys at the start of a line or after "- ", comments skipped.
		sed -e 's/#.*//' "$f" | grep -oE '^[ -]*[a-z_]+:' | sed -E 's/^[ -]*//' | sort -u >keys.txt
		while read -r k; do
			grep -qE "(^| )$k( |$)" $page || fail "$(basename "$f") uses '$k', undocumented in $page"
			n=$((n + 1))
		done <keys.txt
	done
	[ $n -gt 20 ] || fail "only $n keys found in examples/"
}

# The key names a loader accepts: the strings of its `..._keys[] = {...}`
# and `keys[] = {...}` tables.
accepted_keys() { # FILE.c
	awk '/keys\[\] = \{/ { on = 1 } on { print } on && /\};/ { on = 0 }' "$1" |
		grep -oE '"[a-z_]+"' | tr -d '"' | sort -u
}

# Every key the daemon config and the policy loaders accept has its entry.
t_accepted_keys_are_documented() {
	rendered gitgated.yaml.5 >daemon.txt
	rendered gitgate-policy.5 >policy.txt
	{ accepted_keys "$GG_TOP/daemon/config.c" && accepted_keys "$GG_TOP/daemon/tls.c"; } |
		sort -u >dkeys.txt
	{ accepted_keys "$GG_TOP/lib/policy.c"; accepted_keys "$GG_TOP/lib/schema.c"; } | sort -u >pkeys.txt
	[ "$(wc -l <dkeys.txt)" -ge 30 ] || fail "found only $(wc -l <dkeys.txt) daemon config keys"
	[ "$(wc -l <pkeys.txt)" -ge 15 ] || fail "found only $(wc -l <pkeys.txt) policy keys"
	while read -r k; do
		grep -qE "(^| )$k:( |$)" daemon.txt || fail "gitgated.yaml(5) does not document '$k'"
	done <dkeys.txt
	while read -r k; do
		grep -qE "(^| )$k:( |$)" policy.txt || fail "gitgate-policy(5) does not document '$k'"
	done <pkeys.txt
}

# Every built-in pack and each of its rule ids.
t_pack_rules_are_documented() {
	rendered gitgate-policy.5 >policy.txt
	n=0
	for f in "$GG_TOP"/packs/*.yaml; do
		name=$(sed -n 's/^name: *//p' "$f")
		[ -n "$name" ] || fail "$f has no name"
		expect_contains policy.txt "$name"
		for id in $(sed -n 's/^ *- id: *//p' "$f"); do
			grep -qE "(^| )$id([ ,.)]|$)" policy.txt || fail "rule $id of $name is undocumented"
			n=$((n + 1))
		done
	done
	[ $n -gt 0 ] || fail "no pack rules found"
}

run_cases
