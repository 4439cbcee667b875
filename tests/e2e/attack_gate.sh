#!/bin/sh
# Attacks on the pre-receive gate by someone with push access: each case does
# what such a pusher would (real `git push` into a bare repository gated by
# `gitgate install-hook`) and asserts that the gate refuses, or that nothing it
# prints can steer the pusher's terminal or a CI log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

# Manifest rules that look at a tree: an unpinned image or a privileged
# container in clusters/ is refused.
MANIFESTS='version: 1
manifests:
  paths: ["clusters/**/*.yaml"]
  rules:
    - id: pinned-images
      path: spec.containers[*].image
      assert: {not_matches: "(:latest$)|(^[^:@]+$)"}
      message: pin container images to a version or a digest
    - id: no-privileged
      path: spec.containers[*].securityContext.privileged
      assert: {not_one_of: [true]}
      message: privileged containers are not allowed
'

pod() { # IMAGE PRIVILEGED
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  containers:\n    - name: app\n      image: %s\n      securityContext: {privileged: %s}\n' "$1" "$2"
}

# BAD (a privileged, unpinned pod) and GOOD on top of it (the pod fixed).
bad_then_good() {
	mkdir -p "$T/w/clusters"
	commit README "hello" "start"
	pod nginx:latest true >"$T/w/clusters/app.yaml"
	git -C "$T/w" add clusters/app.yaml
	git -C "$T/w" commit -q -m "bad pod"
	git -C "$T/w" tag BAD
	pod nginx:1.25.3 false >"$T/w/clusters/app.yaml"
	git -C "$T/w" commit -q -am "fixed pod"
	git -C "$T/w" tag GOOD
}

srv_has() { # REF
	git -C "$T/srv.git" rev-parse -q --verify "$1" >/dev/null
}

# ---- one push, several refs ----

t_second_ref_on_an_intermediate_commit_is_checked() {
	echo "$MANIFESTS" | setup
	bad_then_good
	# GOOD's walk visits BAD; ref b must still be checked on its own tree.
	! push GOOD:refs/heads/a BAD:refs/heads/b || fail "a ref on a bad tree landed"
	expect_contains "$T/out" "remote: error[pinned-images] clusters/app.yaml:7:14:"
	expect_contains "$T/out" "remote: error[no-privileged] clusters/app.yaml:8:37:"
	! srv_has refs/heads/b || fail "b was created"
	# The other order of the same refs.
	! push BAD:refs/heads/b GOOD:refs/heads/a || fail "a ref on a bad tree landed"
	expect_contains "$T/out" "remote: error[pinned-images] clusters/app.yaml:7:14:"
	# Alone, the good one is fine.
	push GOOD:refs/heads/a
	expect_contains "$T/out" "push accepted"
}

t_sibling_merged_away_is_checked_on_its_own_ref() {
	echo "$MANIFESTS" | setup
	commit README "hello" "start"
	push main
	git -C "$T/w" checkout -q -b side
	mkdir -p "$T/w/clusters"
	pod nginx:latest true >"$T/w/clusters/app.yaml"
	git -C "$T/w" add clusters
	git -C "$T/w" commit -q -m "bad pod"
	git -C "$T/w" checkout -q main
	git -C "$T/w" merge -q --no-ff --no-commit side
	pod nginx:1.25.3 false >"$T/w/clusters/app.yaml"
	git -C "$T/w" add clusters
	git -C "$T/w" commit -q -m "merge, fixed"
	! push main side || fail "the sibling's bad tree landed"
	expect_contains "$T/out" "remote: error[no-privileged] clusters/app.yaml:8:37:"
	! srv_has refs/heads/side || fail "side was created"
}

t_branch_at_an_existing_commit_is_checked() {
	echo "$MANIFESTS" | setup
	bad_then_good
	push GOOD:refs/heads/main
	expect_contains "$T/out" "push accepted"
	# BAD is on the server now, as an intermediate commit of main.
	! push BAD:refs/heads/b || fail "a branch at an old bad commit landed"
	expect_contains "$T/out" "remote: error[pinned-images] clusters/app.yaml:7:14:"
	! push BAD:refs/tags/v1 || fail "a tag at an old bad commit landed"
	! srv_has refs/tags/v1 || fail "v1 was created"
	# A branch at an existing good tip costs nothing and passes.
	push GOOD:refs/heads/copy
	expect_contains "$T/out" "push accepted"
}

t_rollback_to_a_bad_commit_is_checked() {
	echo "$MANIFESTS" | setup
	bad_then_good
	push GOOD:refs/heads/main
	! push --force BAD:refs/heads/main || fail "main was rolled back onto a bad tree"
	expect_contains "$T/out" "remote: error[no-privileged] clusters/app.yaml:8:37:"
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse GOOD)" ] ||
		fail "main moved"
}

t_deny_paths_on_a_branch_at_an_old_commit() {
	# A key committed and removed again while the policy did not deny it.
	echo 'version: 1' | setup
	commit README "hello" "start"
	commit keys/server.pem "not really a key" "add a key"
	git -C "$T/w" tag BAD
	git -C "$T/w" rm -q keys/server.pem
	git -C "$T/w" commit -q -m "drop the key"
	push main
	printf 'version: 1\nfiles:\n  deny_paths: ["**/*.pem"]\n' >"$T/policy.yaml"
	! push BAD:refs/heads/b || fail "a branch holding a denied path landed"
	expect_contains "$T/out" "remote: error[deny-path] keys/server.pem:1:1: path matches denied pattern '**/*.pem'"
	! srv_has refs/heads/b || fail "b was created"
}

# ---- symlinks ----

# link PATH CONTENT-FILE: a tree entry of mode 120000 holding the file's bytes.
link() {
	id=$(git -C "$T/w" hash-object -w "$2")
	git -C "$T/w" update-index --add --cacheinfo "120000,$id,$1"
}

t_symlink_blobs_are_scanned_and_sized() {
	setup <<'EOF'
version: 1
files:
  max_size: 1KiB
  secrets: true
EOF
	commit README "hello" "start"
	push main
	{
		echo "-----BEGIN RSA PRIVATE KEY-----"
		echo "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
		echo "-----END RSA PRIVATE KEY-----"
	} >"$T/key"
	link key-link "$T/key"
	git -C "$T/w" commit -q -m "a key as a link"
	! push main || fail "a private key in a symlink landed"
	expect_contains "$T/out" "remote: error[secret] key-link:1:"
	git -C "$T/w" reset -q --hard HEAD~1
	printf 'token = "ghp_%s"\n' R2k9vXq7LmN4pT8sW1yZ3bC6dF0gH50Yz0MM >"$T/tok"
	link tok-link "$T/tok"
	git -C "$T/w" commit -q -m "a token as a link"
	! push main || fail "a token in a symlink landed"
	expect_contains "$T/out" "remote: error[secret] tok-link:1:"
	git -C "$T/w" reset -q --hard HEAD~1
	head -c 27000 /dev/zero | tr '\0' 'a' >"$T/big"
	link big-link "$T/big"
	git -C "$T/w" commit -q -m "a big link"
	! push main || fail "a 27 KB symlink blob landed under a 1 KiB limit"
	expect_contains "$T/out" "remote: error[max-size] big-link:1:1: file is 26.4 KiB, over the 1.0 KiB limit"
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse HEAD~1)" ] ||
		fail "main moved"
}

# ---- symbolic refs ----

SYMREF_POLICY='version: 1
refs:
  - match: refs/heads/main
    deny_force_push: true
    deny_delete: true
'

symref_setup() {
	echo "$SYMREF_POLICY" | setup
	commit a 1 "one"
	commit a 2 "two"
	push main
	git -C "$T/srv.git" symbolic-ref refs/heads/master refs/heads/main
}

t_force_push_through_a_symref_is_refused() {
	symref_setup
	! push --force HEAD~1:refs/heads/master || fail "main was rewritten through master"
	expect_contains "$T/out" "remote: error[deny-force-push] refs/heads/main: non-fast-forward update (force push) is not allowed (pushed as refs/heads/master, a symbolic ref)"
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse HEAD)" ] ||
		fail "main moved"
}

t_deleting_a_symref_is_refused() {
	symref_setup
	# git would delete main, the ref master points to, and leave master dangling.
	! push --delete master || fail "deleting through master accepted"
	expect_contains "$T/out" "remote: error[deny-delete] refs/heads/main: deleting this ref is not allowed (pushed as refs/heads/master, a symbolic ref)"
	expect_contains "$T/out" "remote: error[symbolic-ref] refs/heads/master: refs/heads/master is a symbolic ref to refs/heads/main; a push may not delete or retarget it"
	srv_has refs/heads/main || fail "main was deleted"
}

t_fast_forward_through_a_symref_is_checked_as_its_target() {
	symref_setup
	commit a 3 "three"
	push HEAD:refs/heads/master
	expect_contains "$T/out" "push accepted"
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse HEAD)" ] ||
		fail "main did not move"
}

t_push_to_a_dangling_symref_is_refused() {
	echo "$SYMREF_POLICY" | setup
	commit a 1 "one"
	push HEAD:refs/heads/dev
	git -C "$T/srv.git" symbolic-ref refs/heads/master refs/heads/main
	! push HEAD:refs/heads/master || fail "main was created through a dangling symref"
	expect_contains "$T/out" "remote: error[symbolic-ref] refs/heads/master: refs/heads/master is a symbolic ref to refs/heads/main, which does not exist; a push may not create a ref through it"
	! srv_has refs/heads/main || fail "main was created"
}

# ---- -o gitgate.allow=deletion ----

DELETIONS='version: 1
manifests:
  paths: ["clusters/**/*.yaml"]
  deny_deletion: true
bypass:
  users: [release-bot]
'

deployed_configmap() {
	mkdir -p "$T/w/clusters"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n' >"$T/w/clusters/cm.yaml"
	git -C "$T/w" add clusters
	git -C "$T/w" commit -q -m "deploy"
	push main
	git -C "$T/w" rm -q clusters/cm.yaml
	git -C "$T/w" commit -q -m "drop it"
}

t_allow_deletion_only_for_listed_users() {
	echo "$DELETIONS" | setup
	deployed_configmap
	! GITGATE_USER=mallory push -o gitgate.allow=deletion main || fail "mallory deleted a resource"
	expect_contains "$T/out" "remote: gitgate: allow=deletion refused: user 'mallory' is not in manifests.deletions.allow_users (unset: bypass.users); checking deletions"
	expect_contains "$T/out" "remote: error[deny-deletion] clusters/cm.yaml:1:1: ConfigMap \"settings\" (v1) was deleted"
	! push -o gitgate.allow=deletion main || fail "an unknown pusher deleted a resource"
	# Without a list of its own, the bypass users may.
	GITGATE_USER=release-bot push -o gitgate.allow=deletion main
	expect_contains "$T/out" "remote: gitgate: resource deletions allowed for release-bot (git push -o gitgate.allow=deletion, logged)"
	expect_contains "$T/out" "push accepted"
}

t_allow_deletion_users_from_the_policy() {
	setup <<'EOF'
version: 1
manifests:
  paths: ["clusters/**/*.yaml"]
  deny_deletion: true
  deletions:
    allow_users: [ops]
bypass:
  users: [release-bot]
EOF
	deployed_configmap
	! GITGATE_USER=release-bot push -o gitgate.allow=deletion main || fail "a user not in allow_users deleted"
	expect_contains "$T/out" "remote: gitgate: allow=deletion refused: user 'release-bot' is not in manifests.deletions.allow_users; checking deletions"
	GITGATE_USER=ops push -o gitgate.allow=deletion main
	expect_contains "$T/out" "remote: gitgate: resource deletions allowed for ops"
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse main)" ] ||
		fail "main was not updated"
}

# ---- what reaches a terminal ----

# no_controls FILE: no ESC, no other C0 control but newline and tab, no C1
# control (raw or UTF-8 encoded), and no line a CI runner reads as a command.
no_controls() {
	python3 - "$1" <<'PY' || { cat -v "$1"; fail "control characters in $1"; }
import re, sys
data = open(sys.argv[1], "rb").read()
bad = re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", data)
text = data.decode("utf-8", "replace")
raw_c1 = re.search("[\x80-\x9f]", text) or "\ufffd" in text
cmd = re.search(r"(?m)^(remote: )?::", text)
sys.exit(1 if bad or raw_c1 or cmd else 0)
PY
}

t_names_with_controls_never_reach_the_terminal() {
	echo "$DELETIONS" | setup
	mkdir -p "$T/w/clusters"
	esc=$(printf '\033')
	csi=$(printf '\302\233')
	f="clusters/x${esc}[2Jy${csi}31m.yaml"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "n\\e[5m\\u009b1m"}\n' >"$T/w/$f"
	git -C "$T/w" add clusters
	git -C "$T/w" commit -q -m "deploy"
	push main
	git -C "$T/w" rm -q "$f"
	git -C "$T/w" commit -q -m "drop"
	! push main || fail "deletion accepted"
	expect_contains "$T/out" "error[deny-deletion] clusters/x?[2Jy?31m.yaml:1:1: ConfigMap"
	no_controls "$T/out"
	# A ref name and a bypass reason with raw 8-bit bytes.
	GITGATE_USER=release-bot push -o "gitgate.bypass=$(printf 'ok\302\233 \233x')" main:refs/heads/y
	expect_contains "$T/out" "bypass by release-bot: ok? ?x"
	no_controls "$T/out"
}

t_check_never_prints_controls() {
	cat >"$T/policy.yaml" <<'EOF'
version: 1
files:
  deny_paths: ["**/*.pem"]
EOF
	mkdir -p "$T/tree"
	touch "$T/tree/$(printf 'a\033]0;pwned\007\302\233b.pem')"
	touch "$T/tree/$(printf 'x\n::error file=ci.yml::forged\n.pem')"
	(cd "$T/tree" && expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" .) >"$T/out" 2>&1
	expect_contains "$T/out" "error[deny-path] a?]0;pwned??b.pem:1:1: path matches denied pattern '**/*.pem'"
	expect_contains "$T/out" "error[deny-path] x?::error file=ci.yml::forged?.pem:1:1:"
	no_controls "$T/out"
	(cd "$T/tree" && expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --format json .) >"$T/out" 2>&1
	no_controls "$T/out"
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert len(v) == 2, v' "$T/out" ||
		fail "the JSON report lost a violation"
}

# ---- regular expressions ----

t_match_error_is_a_violation() {
	# Catastrophic backtracking: PCRE2 gives up with a match limit error, which
	# must not read as "does not match" for not_matches.
	setup <<'EOF'
version: 1
manifests:
  paths: ["clusters/**/*.yaml"]
  rules:
    - id: no-aaa
      path: metadata.name
      assert: {not_matches: "^(a|a)+$"}
      message: no names of only a
EOF
	mkdir -p "$T/w/clusters"
	printf 'kind: ConfigMap\nmetadata: {name: %s!}\n' "$(head -c 40 /dev/zero | tr '\0' a)" >"$T/w/clusters/cm.yaml"
	git -C "$T/w" add clusters
	git -C "$T/w" commit -q -m "deploy"
	! push main || fail "a name the pattern could not evaluate passed not_matches"
	expect_contains "$T/out" "remote: error[no-aaa] clusters/cm.yaml:2:18:"
	expect_contains "$T/out" "could not be evaluated"
}

t_invalid_utf8_is_matched_as_bytes() {
	setup <<'EOF'
version: 1
commits:
  message_pattern: '^(feat|fix): [a-z ]+$'
EOF
	printf 'x\n' >"$T/w/x"
	git -C "$T/w" add x
	git -C "$T/w" -c i18n.commitEncoding=latin1 commit -q -m "$(printf 'feat: caf\351')"
	! push main || fail "a subject with a byte the pattern does not allow passed"
	expect_contains "$T/out" "error[commit-message]"
	git -C "$T/w" commit -q --amend -m "$(printf 'feat: cafe')"
	push --force main
	expect_contains "$T/out" "push accepted"
}

run_cases
