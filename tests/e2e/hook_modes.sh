#!/bin/sh
# The gate's modes and failure handling: bypass, warn mode, broken or missing
# policies, GitLab's prefix, and failing closed on bad input.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

STRICT='version: 1
commits:
  message_pattern: "^feat: "
bypass:
  users: [release-bot]
'

t_bypass_by_listed_user() {
	echo "$STRICT" | setup
	commit a 1 "hotfix without convention"
	GITGATE_USER=release-bot push -o "gitgate.bypass=prod is down" main
	expect_contains "$T/out" "remote: gitgate: bypass by release-bot: prod is down"
	expect_contains "$T/out" "push accepted without checks (bypass logged)"
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse main)" ] ||
		fail "main was not updated"
}

t_bypass_needs_a_reason() {
	echo "$STRICT" | setup
	commit a 1 "no convention"
	! GITGATE_USER=release-bot push -o gitgate.bypass main || fail "bypass without a reason accepted"
	expect_contains "$T/out" "remote: gitgate: bypass refused: give a reason (git push -o gitgate.bypass=REASON); checking the push"
	expect_contains "$T/out" "remote: error[commit-message]"
}

t_bypass_refused_for_other_user() {
	echo "$STRICT" | setup
	commit a 1 "hotfix without convention"
	! GITGATE_USER=mallory push -o "gitgate.bypass=trust me" main || fail "bypass accepted"
	expect_contains "$T/out" "remote: gitgate: bypass refused: user 'mallory' is not in bypass.users; checking the push"
	expect_contains "$T/out" "remote: error[commit-message] $(short HEAD):"
	# The pusher comes from the forge's variables when GITGATE_USER is unset.
	! GL_USERNAME=someone push -o gitgate.bypass=x main || fail "bypass accepted"
	expect_contains "$T/out" "bypass refused: user 'someone'"
	GITHUB_USER_LOGIN=release-bot push -o gitgate.bypass=x main
	expect_contains "$T/out" "bypass by release-bot: x"
}

t_warn_mode_accepts_and_reports() {
	setup <<'EOF2'
version: 1
mode: warn
commits:
  message_pattern: "^feat: "
files:
  secrets: true
EOF2
	commit cfg "token=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" "no convention"
	push main
	expect_contains "$T/out" "remote: warning[commit-message] $(short HEAD):"
	expect_contains "$T/out" "remote: warning[secret] cfg:1:7: possible GitHub personal access token ghp_****z0MM (secret-github-pat)"
	expect_contains "$T/out" "remote: gitgate: push accepted (mode: warn): 2 warnings"
	expect_not_contains "$T/out" "error["
}

t_broken_policy_rejects() {
	echo "version: 1" | setup
	# Broken after installation (install-hook refuses a broken policy).
	cat >"$T/policy.yaml" <<'EOF2'
version: 1
commits:
  mesage_pattern: "^feat: "
files:
  max_size: lots
EOF2
	commit a 1 "feat: fine"
	! push main || fail "push accepted with a broken policy"
	expect_contains "$T/out" "remote: error[policy] $T/policy.yaml:3:3: unknown key 'mesage_pattern' in commits"
	expect_contains "$T/out" "remote: error[policy] $T/policy.yaml:5:13: files.max_size:"
	expect_contains "$T/out" "remote: gitgate: push rejected: the policy $T/policy.yaml is invalid"
}

t_missing_configured_policy_rejects() {
	echo "version: 1" | setup
	git -C "$T/srv.git" config gitgate.policy "$T/gone.yaml"
	commit a 1 "x"
	! push main || fail "push accepted"
	expect_contains "$T/out" "$T/gone.yaml: No such file or directory"
}

t_no_policy_accepts_with_a_note() {
	[ ! -e /etc/gitgate/policy.yaml ] || fail "this test needs a machine without /etc/gitgate/policy.yaml"
	git init -q --bare "$T/srv.git"
	"$GITGATE" install-hook "$T/srv.git" >/dev/null
	git init -q -b main "$T/w"
	commit a 1 "anything"
	push main
	n=$(grep -c "remote: gitgate: no policy found" "$T/out")
	[ "$n" -eq 1 ] || fail "note printed $n times"
	expect_contains "$T/out" "push accepted without checks"
}

t_policy_from_environment_wins() {
	echo "version: 1" | setup
	printf 'version: 1\ncommits:\n  max_subject_length: 5\n' >"$T/env.yaml"
	commit a 1 "long subject"
	! GITGATE_POLICY="$T/env.yaml" push main || fail "push accepted"
	expect_contains "$T/out" "error[subject-length]"
}

t_gitlab_prefix() {
	echo "$STRICT" | setup
	commit a 1 "nope"
	! GL_ID=user-1 push main || fail "push accepted"
	expect_contains "$T/out" "remote: GL-HOOK-ERR: error[commit-message] $(short HEAD):"
	expect_contains "$T/out" "remote: GL-HOOK-ERR: gitgate: push rejected: 1 error"
}

t_fails_closed_on_bad_input() {
	echo "version: 1" | setup
	commit a 1 "x"
	push main
	hook="$T/srv.git/hooks/pre-receive"
	zero=0000000000000000000000000000000000000000
	missing=1234567812345678123456781234567812345678
	expect_status 1 env GIT_DIR="$T/srv.git" "$hook" <<EOF2 2>"$T/err"
$zero $missing refs/heads/x
EOF2
	expect_contains "$T/err" "gitgate: refs/heads/x: cannot read the pushed object"
	expect_contains "$T/err" "push rejected: internal error"
	echo "garbage" | { expect_status 1 env GIT_DIR="$T/srv.git" "$hook" 2>"$T/err"; }
	expect_contains "$T/err" "malformed input line"
	echo "$zero nothex refs/heads/x" | { expect_status 1 env GIT_DIR="$T/srv.git" "$hook" 2>"$T/err"; }
	expect_contains "$T/err" "malformed object id 'nothex'"
	# The zero id of a SHA-256 repository is a deletion too.
	z64=0000000000000000000000000000000000000000000000000000000000000000
	head=$(git -C "$T/srv.git" rev-parse main)
	echo "$head $z64 refs/heads/other" | expect_status 0 env GIT_DIR="$T/srv.git" "$hook" 2>"$T/err"
	expect_contains "$T/err" "push accepted"
}

t_repository_path_with_a_colon() {
	# git C-quotes such a path in GIT_ALTERNATE_OBJECT_DIRECTORIES; the hook
	# must still see both the quarantine and the existing objects.
	mkdir "$T/a:b"
	printf 'version: 1\nfiles:\n  secrets: true\n' >"$T/policy.yaml"
	git init -q --bare "$T/a:b/srv.git"
	"$GITGATE" install-hook --policy "$T/policy.yaml" "$T/a:b/srv.git" >/dev/null
	git init -q -b main "$T/w"
	commit a 1 "one"
	git -C "$T/w" push "$T/a:b/srv.git" main >"$T/out" 2>&1
	commit b 2 "two"
	git -C "$T/w" push "$T/a:b/srv.git" main >"$T/out" 2>&1
	expect_contains "$T/out" "remote: gitgate: push accepted"
	commit c "t=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" "three"
	! git -C "$T/w" push "$T/a:b/srv.git" main >"$T/out" 2>&1 || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] c:1:3: possible GitHub personal access token"
}

run_cases
