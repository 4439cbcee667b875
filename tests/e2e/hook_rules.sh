#!/bin/sh
# The pre-receive gate's commit and file rules, through real pushes into a bare
# repository with the hook installed by `gitgate install-hook`.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

t_clean_push_accepted() {
	setup <<'EOF'
version: 1
commits:
  message_pattern: '^(feat|fix): .+'
files:
  secrets: true
  max_size: 1KiB
EOF
	commit README "hello" "feat: start"
	push main
	expect_contains "$T/out" "remote: gitgate: push accepted: 1 commit checked"
	expect_not_contains "$T/out" "error["
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse main)" ] ||
		fail "main was not updated"
}

t_commit_message_rejected() {
	setup <<'EOF'
version: 1
commits:
  message_pattern: '^(feat|fix)(\([a-z0-9-]+\))?: .+'
EOF
	commit a "1" "feat(api): fine"
	commit b "2" "wip"
	! push main || fail "push accepted"
	id=$(short HEAD)
	expect_contains "$T/out" "remote: error[commit-message] $id: subject 'wip' does not match message_pattern"
	expect_not_contains "$T/out" "$(short HEAD~1)"
	expect_contains "$T/out" "remote: gitgate: push rejected: 1 error, 0 warnings"
	! git -C "$T/srv.git" rev-parse -q --verify main >/dev/null || fail "main was created"
}

t_message_pattern_matches_the_subject_line() {
	setup <<'EOF'
version: 1
commits:
  message_pattern: '^(feat|fix): [^\n]+$'
EOF
	printf 'x\n' >"$T/w/x"
	git -C "$T/w" add x
	git -C "$T/w" commit -q -m "fix: the subject" -m "A body that matches nothing above."
	push main
	expect_contains "$T/out" "push accepted"
}

t_subject_length_and_author_email() {
	setup <<'EOF'
version: 1
commits:
  max_subject_length: 20
  author_email_pattern: '@example\.org$'
EOF
	commit a "1" "a subject that is clearly longer than twenty"
	! push main || fail "push accepted"
	id=$(short HEAD)
	expect_contains "$T/out" "remote: error[subject-length] $id: subject is 44 characters, over the limit of 20"
	expect_contains "$T/out" "remote: error[author-email] $id: author email 'author@example.com' does not match author_email_pattern '@example\\.org\$'"
	expect_contains "$T/out" "push rejected: 2 errors, 0 warnings"
}

t_signoff_required() {
	setup <<'EOF'
version: 1
commits:
  require_signoff: true
EOF
	commit a "1" "no trailer"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[signoff] $(short HEAD): commit has no Signed-off-by trailer"
	git -C "$T/w" commit -q --amend -s -m "with trailer"
	push main
	expect_contains "$T/out" "push accepted"
}

t_max_size_and_deny_paths() {
	setup <<'EOF'
version: 1
files:
  max_size: 1KiB
  deny_paths: ["**/*.pem", "**/.env"]
EOF
	commit small "ok" "add small"
	head -c 3000 /dev/zero | tr '\0' 'a' >"$T/w/big.txt"
	mkdir -p "$T/w/deploy/keys"
	echo "x" >"$T/w/deploy/keys/server.pem"
	echo "A=1" >"$T/w/.env"
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "add files"
	! push main || fail "push accepted"
	id=$(short HEAD)
	expect_contains "$T/out" "remote: error[max-size] big.txt:1:1: file is 2.9 KiB, over the 1.0 KiB limit (commit $id)"
	expect_contains "$T/out" "remote: error[deny-path] deploy/keys/server.pem:1:1: path matches denied pattern '**/*.pem' (commit $id)"
	expect_contains "$T/out" "remote: error[deny-path] .env:1:1: path matches denied pattern '**/.env'"
	expect_not_contains "$T/out" "small"
	expect_contains "$T/out" "push rejected: 3 errors"
}

t_secret_in_added_line_reported_with_line() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	printf 'one\ntwo\nthree\n' >"$T/w/app.env"
	git -C "$T/w" add app.env
	git -C "$T/w" commit -q -m "add env"
	push main
	printf 'one\ntwo\nthree\nTOKEN=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\n' >"$T/w/app.env"
	git -C "$T/w" commit -q -am "add token"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] app.env:4:7: possible GitHub personal access token ghp_****z0MM (secret-github-pat) added in commit $(short HEAD)"
	expect_not_contains "$T/out" "R2k9vXq7LmN4pT8sW1yZ3bC6dF0gH5jK2aQe"
}

t_secret_kinds_in_a_new_file() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	cat >"$T/w/creds" <<'EOF'
[default]
aws_access_key_id = AKIA2E0A8F3B244C9986
aws_secret_access_key = 9drTJvcXLB89EXc4Ae0mBtbGJWiB1I6XNmpuYDb7
gitlab = glpat-Xy3kP9mQ2rT7vW1zB4cD
-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
-----END OPENSSH PRIVATE KEY-----
EOF
	git -C "$T/w" add creds
	git -C "$T/w" commit -q -m "creds"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] creds:2:21: possible AWS access key ID AKIA****9986 (secret-aws-access-key-id)"
	expect_contains "$T/out" "remote: error[secret] creds:3:25: possible AWS secret access key 9drT****YDb7 (secret-aws-secret-access-key)"
	expect_contains "$T/out" "remote: error[secret] creds:4:10: possible GitLab personal access token glpa****B4cD (secret-gitlab-pat)"
	expect_contains "$T/out" "remote: error[secret] creds:5:1: possible private key block (secret-private-key)"
	expect_not_contains "$T/out" "9drTJvcXLB89EXc4Ae0mBtbGJWiB1I6XNmpuYDb7"
	expect_not_contains "$T/out" "AKIA2E0A8F3B244C9986"
}

t_only_added_lines_are_scanned() {
	# A secret that is already on the server (pushed before the rule existed)
	# does not block an edit elsewhere in the same file.
	cat >"$T/p0.yaml" <<'EOF'
version: 1
EOF
	setup <"$T/p0.yaml"
	printf 'A=AKIA2E0A8F3B244C9986\nB=1\n' >"$T/w/old.env"
	git -C "$T/w" add old.env
	git -C "$T/w" commit -q -m "old"
	push main
	printf 'version: 1\nfiles:\n  secrets: true\n' >"$T/policy.yaml"
	printf 'A=AKIA2E0A8F3B244C9986\nB=2\n' >"$T/w/old.env"
	git -C "$T/w" commit -q -am "edit B"
	push main
	expect_contains "$T/out" "push accepted"
	expect_not_contains "$T/out" "error["
}

t_a_nul_byte_does_not_hide_a_secret() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	printf 'AKIA2E0A8F3B244C9986\0binary' >"$T/w/blob.bin"
	printf '\0STRIPE_KEY=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\n' >"$T/w/lead.env"
	git -C "$T/w" add blob.bin lead.env
	git -C "$T/w" commit -q -m "binary"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] blob.bin:1:1: possible AWS access key ID"
	expect_contains "$T/out" "remote: error[secret] lead.env:1:13: possible Stripe secret key sk_l****j6Hd"
}

t_new_branch_of_old_commits_is_not_rechecked() {
	printf 'version: 1\n' | setup
	commit a "1" "an old commit from before the rule"
	push main
	# The rule is tightened after the old commits landed.
	printf "version: 1\ncommits:\n  message_pattern: '^feat: '\n" >"$T/policy.yaml"
	git -C "$T/w" branch topic
	push topic
	expect_contains "$T/out" "remote: gitgate: push accepted: 0 commits checked"
	expect_not_contains "$T/out" "error["
	# A new commit on top is checked, and only it.
	git -C "$T/w" checkout -q topic
	commit b "2" "still not conventional"
	! push topic || fail "push accepted"
	expect_contains "$T/out" "error[commit-message] $(short HEAD):"
	expect_not_contains "$T/out" "$(short HEAD~1)"
}

t_branch_from_an_older_commit_checks_only_new_commits() {
	printf 'version: 1\n' | setup
	commit a "1" "old one"
	commit a "2" "old two"
	push main
	printf "version: 1\ncommits:\n  message_pattern: '^feat: '\n" >"$T/policy.yaml"
	# Started from a commit that is no ref's tip: the old history is still known.
	git -C "$T/w" branch at-old HEAD~1
	push at-old
	expect_contains "$T/out" "remote: gitgate: push accepted: 0 commits checked"
	git -C "$T/w" checkout -q -b topic HEAD~1
	commit b "3" "new and unconventional"
	! push topic || fail "push accepted"
	expect_contains "$T/out" "remote: error[commit-message] $(short HEAD): subject 'new and unconventional'"
	expect_contains "$T/out" "push rejected: 1 error"
}

t_fast_forward_over_another_branch_checks_only_new_commits() {
	printf 'version: 1\n' | setup
	commit a "1" "feat: base"
	push main
	git -C "$T/w" checkout -q -b topic
	commit b "2" "topic one"
	commit b "3" "topic two"
	push topic
	printf "version: 1\ncommits:\n  message_pattern: '^feat: '\n" >"$T/policy.yaml"
	git -C "$T/w" checkout -q main
	git -C "$T/w" merge -q --ff-only topic
	commit c "4" "feat: on top"
	push main
	expect_contains "$T/out" "remote: gitgate: push accepted: 1 commit checked"
	# Several new commits, the oldest reported first.
	commit d "5" "bad one"
	commit d "6" "bad two"
	! push main || fail "push accepted"
	grep "error\[commit-message\]" "$T/out" >"$T/lines"
	head -n 1 "$T/lines" | grep -qF "$(short HEAD~1)" || fail "oldest commit not first"
	[ "$(wc -l <"$T/lines")" -eq 2 ] || fail "want 2 commit-message lines"
}

t_several_refs_report_all_violations() {
	setup <<'EOF'
version: 1
commits:
  message_pattern: '^feat: '
files:
  deny_paths: ["**/*.key"]
EOF
	commit a "1" "feat: base"
	push main
	git -C "$T/w" checkout -q -b one
	commit one.txt "1" "bad one"
	git -C "$T/w" checkout -q -b two main
	commit secret.key "k" "feat: add a key"
	! push one two || fail "push accepted"
	expect_contains "$T/out" "remote: error[commit-message] $(short one): subject 'bad one'"
	expect_contains "$T/out" "remote: error[deny-path] secret.key:1:1:"
	expect_contains "$T/out" "push rejected: 2 errors"
	! git -C "$T/srv.git" rev-parse -q --verify two >/dev/null || fail "two was created"
}

t_merge_checks_only_what_the_merge_changes() {
	printf 'version: 1\n' | setup
	commit a "1" "base"
	push main
	git -C "$T/w" checkout -q -b topic
	commit creds "KEY=AKIA2E0A8F3B244C9986" "a secret that predates the rule"
	push topic
	printf 'version: 1\nfiles:\n  secrets: true\n' >"$T/policy.yaml"
	git -C "$T/w" checkout -q main
	commit b "2" "main moves on"
	git -C "$T/w" merge -q --no-edit topic
	push main
	expect_contains "$T/out" "push accepted"
	# A merge that adds content of its own (an "evil merge") is checked.
	git -C "$T/w" checkout -q -b topic2 HEAD~1
	commit c "3" "clean side"
	git -C "$T/w" checkout -q main
	git -C "$T/w" merge -q --no-commit topic2
	echo "t=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" >"$T/w/merge-only"
	git -C "$T/w" add merge-only
	git -C "$T/w" commit -q --no-edit
	! push main topic2 || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] merge-only:1:3: possible GitHub personal access token ghp_****z0MM (secret-github-pat) added in commit $(short HEAD)"
	expect_not_contains "$T/out" "creds"
	expect_contains "$T/out" "push rejected: 1 error"
}

t_tags_of_trees_and_blobs_are_checked() {
	setup <<'EOF'
version: 1
files:
  deny_paths: ["**/*.pem"]
  secrets: true
EOF
	commit a "1" "base"
	push main
	blob=$(printf 'key=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\n' | git -C "$T/w" hash-object -w --stdin)
	git -C "$T/w" tag loose "$blob"
	! push loose || fail "a tag of a blob with a secret was accepted"
	expect_contains "$T/out" "remote: error[secret] refs/tags/loose:1:5: possible GitHub personal access token ghp_****z0MM (secret-github-pat) added in tagged blob $(git -C "$T/w" rev-parse --short=7 "$blob")"
	pem=$(echo x | git -C "$T/w" hash-object -w --stdin)
	tree=$(printf '100644 blob %s\tserver.pem\n' "$pem" | git -C "$T/w" mktree)
	git -C "$T/w" tag -a -m "a tree" treetag "$tree"
	! push treetag || fail "a tag of a tree with a denied path was accepted"
	expect_contains "$T/out" "remote: error[deny-path] server.pem:1:1: path matches denied pattern '**/*.pem' (tagged tree $(git -C "$T/w" rev-parse --short=7 "$tree"))"
}

t_control_characters_in_paths_are_neutralised() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	name=$(printf 'a\nremote: error[fake] x\033[2J')
	printf '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\n' >"$T/w/$name"
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "odd name"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] a?remote: error[fake] x?[2J:1:1: possible GitHub personal access token"
	expect_not_contains "$T/out" "$(printf '\033')"
}

t_many_violations_are_capped() {
	setup <<'EOF'
version: 1
files:
  deny_paths: ["**/*.key"]
EOF
	i=0
	while [ $i -lt 120 ]; do
		echo $i >"$T/w/f$i.key"
		i=$((i + 1))
	done
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "many keys"
	! push main || fail "push accepted"
	n=$(grep -c "remote: error\[deny-path\]" "$T/out")
	[ "$n" -eq 100 ] || fail "$n lines shown, want 100"
	expect_contains "$T/out" "remote: ... and 20 more violations not shown"
	expect_contains "$T/out" "push rejected: 120 errors, 0 warnings"
}

run_cases
