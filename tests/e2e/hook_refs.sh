#!/bin/sh
# The pre-receive gate's ref rules (delete, force push, immutable tags, names)
# through real pushes.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

POLICY='version: 1
refs:
  - match: ["refs/heads/main", "refs/heads/release/*"]
    deny_delete: true
    deny_force_push: true
  - match: "refs/tags/*"
    deny_update: true
  - match: "refs/heads/*"
    name_pattern: "^refs/heads/(main|release/[0-9.]+|[a-z0-9-]+)$"
'

t_fast_forward_accepted() {
	echo "$POLICY" | setup
	commit a 1 "one"
	push main
	commit a 2 "two"
	push main
	expect_contains "$T/out" "push accepted"
}

t_force_push_refused() {
	echo "$POLICY" | setup
	commit a 1 "one"
	commit a 2 "two"
	push main
	git -C "$T/w" reset -q --hard HEAD~1
	commit a 3 "rewritten"
	! push --force main || fail "force push accepted"
	expect_contains "$T/out" "remote: error[deny-force-push] refs/heads/main: non-fast-forward update (force push) is not allowed"
	expect_contains "$T/out" "push rejected: 1 error, 0 warnings"
	# An unprotected branch may be rewritten.
	git -C "$T/w" branch -f feature HEAD
	push feature
	git -C "$T/w" branch -f feature HEAD~1
	push --force feature
	expect_contains "$T/out" "push accepted"
}

t_protected_delete_refused() {
	echo "$POLICY" | setup
	commit a 1 "one"
	git -C "$T/w" branch release/1.0
	git -C "$T/w" branch scratch
	push main release/1.0 scratch
	! push --delete main || fail "delete accepted"
	expect_contains "$T/out" "remote: error[deny-delete] refs/heads/main: deleting this ref is not allowed"
	! push --delete release/1.0 || fail "delete accepted"
	expect_contains "$T/out" "remote: error[deny-delete] refs/heads/release/1.0:"
	push --delete scratch
	expect_contains "$T/out" "push accepted"
	! git -C "$T/srv.git" rev-parse -q --verify scratch >/dev/null || fail "scratch still there"
}

t_tag_is_immutable() {
	echo "$POLICY" | setup
	commit a 1 "one"
	commit a 2 "two"
	git -C "$T/w" tag v1 HEAD~1
	git -C "$T/w" tag -a -m "annotated" v2 HEAD
	push main v1 v2
	expect_contains "$T/out" "push accepted"
	git -C "$T/w" tag -f v1 HEAD >/dev/null
	! push --force v1 || fail "moving a tag accepted"
	expect_contains "$T/out" "remote: error[deny-update] refs/tags/v1: this ref already exists and may not be moved"
	! push --delete v2 || fail "deleting a tag accepted"
	expect_contains "$T/out" "remote: error[deny-update] refs/tags/v2: this ref already exists and may not be deleted"
	[ "$(git -C "$T/srv.git" rev-parse v1)" = "$(git -C "$T/w" rev-parse HEAD~1)" ] ||
		fail "v1 moved"
}

t_new_ref_name_pattern() {
	echo "$POLICY" | setup
	commit a 1 "one"
	push main
	git -C "$T/w" branch Bad_Name
	! push Bad_Name || fail "bad name accepted"
	expect_contains "$T/out" "remote: error[ref-name] refs/heads/Bad_Name: new ref name does not match name_pattern"
	git -C "$T/w" branch good-name
	push good-name
	expect_contains "$T/out" "push accepted"
}

t_refs_and_commits_in_one_push() {
	printf '%s\ncommits:\n  message_pattern: "^ok"\n' "$POLICY" | setup
	commit a 1 "ok one"
	commit a 2 "ok two"
	push main
	git -C "$T/w" reset -q --hard HEAD~1
	commit a 3 "not ok"
	git -C "$T/w" branch BAD
	! push --force main BAD || fail "accepted"
	expect_contains "$T/out" "remote: error[deny-force-push] refs/heads/main:"
	expect_contains "$T/out" "remote: error[ref-name] refs/heads/BAD:"
	# The commit both refs introduce is reported once.
	n=$(grep -c "error\[commit-message\] $(short HEAD)" "$T/out")
	[ "$n" -eq 1 ] || fail "commit reported $n times"
	expect_contains "$T/out" "push rejected: 3 errors"
}

run_cases
