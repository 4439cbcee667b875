#!/bin/sh
# Problems are printed by file, line and column, however the loaders found
# them: gitgate policy lint and gitgated --check.
. "$(dirname "$0")/../lib.sh"

# positions FILE: fail unless FILE's lines are in LINE:COL order.
sorted_by_position() {
	cut -d: -f2,3 "$1" >positions
	sort -t: -k1,1n -k2,2n positions >sorted
	diff positions sorted || { cat "$1"; fail "$1 is not sorted by position"; }
}

# Problems are printed by file, line and column, however they were found.
t_policy_lint_sorts_by_position() {
	cat >bad.yaml <<-'POL'
	version: 1
	manifests:
	  overrides: {no-such-rule: off}
	  rules:
	    - id: r
	      path: a..b
	      assert: {exists: true}
	      severity: fatal
	POL
	expect_status 2 "$GITGATE" policy lint bad.yaml 2>err
	sorted_by_position err
	[ "$(wc -l <err)" -ge 3 ] || { cat err; fail "expected three problems"; }
	head -n 1 err | grep -q '^bad.yaml:3:' || { cat err; fail "the override on line 3 is not first"; }
}

# The daemon reads sources before targets; its problems still come out in file order.
t_gitgated_check_sorts_by_position() {
	cat >d.yaml <<-EOF
	listen: ["127.0.0.1:8080"]
	state_dir: $T/state
	targets:
	  - name: prod
	    repo: acme/x
	    ref: refs/heads/main
	    run: ["/bin/true"]
	    frobnicate: 1
	sources:
	  - name: gh
	    kind: nosuchkind
	    secret_file: $T/nonexistent
	EOF
	expect_status 2 "$GITGATED" -c d.yaml --check 2>err
	[ "$(wc -l <err)" -eq 3 ] || { cat err; fail "expected three problems"; }
	sorted_by_position err
	head -n 1 err | grep -q "^d.yaml:8:5: unknown key 'frobnicate'" || { cat err; fail "line 8 is not first"; }
}

run_cases
