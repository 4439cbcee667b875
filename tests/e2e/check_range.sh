#!/bin/sh
# gitgate check: a working tree (file rules) and a commit range (every rule
# but the ref rules, as the hook applies them).
. "$(dirname "$0")/../lib.sh"

POLICY='version: 1
commits:
  message_pattern: "^(feat|fix): "
files:
  max_size: 1KiB
  deny_paths: ["**/*.pem"]
  secrets: true
'

repo() {
	git init -q -b main w
	echo "$POLICY" >w/.gitgate.yaml
	git -C w add .gitgate.yaml
	git -C w commit -q -m "feat: policy"
}

commit() { # FILE CONTENT MESSAGE
	mkdir -p "$(dirname "w/$1")"
	printf '%s\n' "$2" >"w/$1"
	git -C w add "$1"
	git -C w commit -q -m "$3"
}

t_range_reports_like_the_hook() {
	repo
	base=$(git -C w rev-parse HEAD)
	commit app/conf.ini "token = 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" "add config"
	commit ok.txt "fine" "fix: fine"
	bad=$(git -C w rev-parse --short=7 HEAD~1)
	cd w
	expect_status 1 "$GITGATE" check --range "$base..HEAD" >../out 2>../err
	cd ..
	expect_contains out "error[commit-message] $bad: subject 'add config' does not match"
	expect_contains out "error[secret] app/conf.ini:1:9: possible GitHub personal access token ghp_****z0MM (secret-github-pat) added in commit $bad"
	expect_not_contains out "R2k9vXq7LmN4pT8sW1yZ3bC6dF0gH5jK2aQe"
	expect_not_contains out "fix: fine"
	[ "$(wc -l <out)" -eq 2 ] || fail "want exactly 2 violations"
	expect_contains err "gitgate: 2 errors, 0 warnings"
}

t_range_clean_and_only_new_commits() {
	repo
	commit a.txt "x" "not conventional, but old"
	base=$(git -C w rev-parse HEAD)
	commit b.txt "y" "feat: new"
	cd w
	"$GITGATE" check --range "$base..HEAD" >../out 2>&1
	cd ..
	[ ! -s out ] || fail "clean range printed something"
}

t_range_json() {
	repo
	base=$(git -C w rev-parse HEAD)
	commit k.pem "x" "feat: key"
	cd w
	expect_status 1 "$GITGATE" check --format json --range "$base..HEAD" >../out
	cd ..
	python3 - out <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 1, v
assert v[0]["rule"] == "deny-path" and v[0]["path"] == "k.pem" and v[0]["line"] == 1, v
assert v[0]["severity"] == "error", v
PY
}

t_range_errors() {
	repo
	cd w
	expect_status 2 "$GITGATE" check --range HEAD 2>../err
	expect_contains ../err "--range wants OLD..NEW"
	expect_status 2 "$GITGATE" check --range HEAD..nosuchref 2>../err
	expect_contains ../err "nosuchref"
	cd ..
	mkdir plain
	cd plain
	expect_status 2 "$GITGATE" check --policy ../w/.gitgate.yaml --range a..b 2>../err
	expect_contains ../err "not inside a git repository"
}

t_tree_check_files() {
	repo
	mkdir -p w/deploy w/.git/ignored
	echo "aws_secret_access_key = 9drTJvcXLB89EXc4Ae0mBtbGJWiB1I6XNmpuYDb7" >w/deploy/creds
	echo "x" >w/deploy/tls.pem
	head -c 2000 /dev/zero | tr '\0' a >w/big.txt
	echo "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" >w/.git/ignored/x
	cd w
	expect_status 1 "$GITGATE" check >../out 2>../err
	cd ..
	expect_contains out "error[secret] deploy/creds:1:25: possible AWS secret access key 9drT****YDb7 (secret-aws-secret-access-key)"
	expect_contains out "error[deny-path] deploy/tls.pem:1:1: path matches denied pattern '**/*.pem'"
	expect_contains out "error[max-size] big.txt:1:1: file is 2.0 KiB, over the 1.0 KiB limit"
	expect_not_contains out ".git/"
	[ "$(wc -l <out)" -eq 3 ] || fail "want 3 violations"
	# Paths as given, relative to the current directory; globs see the repository path.
	cd w/deploy
	expect_status 1 "$GITGATE" check tls.pem >../../out
	cd ../..
	expect_contains out "error[deny-path] tls.pem:1:1:"
	# A clean subset is exit 0.
	cd w
	"$GITGATE" check .gitgate.yaml >../out
	cd ..
	[ ! -s out ] || fail "clean file printed something"
}

t_tree_formats_and_errors() {
	repo
	echo "x" >w/a.pem
	cd w
	expect_status 1 "$GITGATE" check --format sarif >../out
	expect_status 2 "$GITGATE" check --format xml 2>/dev/null
	expect_status 2 "$GITGATE" check missing-file 2>../err
	cd ..
	expect_contains err "missing-file: No such file or directory"
	python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == "2.1.0"
res = d["runs"][0]["results"]
assert len(res) == 1 and res[0]["ruleId"] == "deny-path", res
assert res[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "a.pem"
PY
	mkdir none
	cd none
	expect_status 2 "$GITGATE" check 2>../err
	cd ..
	expect_contains err "no policy found"
}

t_warn_mode_is_clean() {
	repo
	printf 'version: 1\nmode: warn\nfiles:\n  deny_paths: ["*.pem"]\n' >p.yaml
	echo x >w/a.pem
	cd w
	"$GITGATE" check --policy ../p.yaml >../out 2>&1
	cd ..
	expect_contains out "warning[deny-path] a.pem:1:1:"
}

t_policy_from_git_config() {
	git init -q -b main w
	printf 'version: 1\nfiles:\n  deny_paths: ["*.key"]\n' >w/.git/gate.yaml
	git -C w config gitgate.policy gate.yaml
	echo x >w/a.key
	cd w
	expect_status 1 "$GITGATE" check >../out
	cd ..
	expect_contains out "error[deny-path] a.key:1:1:"
}

t_huge_file_is_named_not_skipped_silently() {
	repo
	printf 'version: 1\nfiles:\n  secrets: true\n' >p.yaml
	truncate -s 70M w/huge.img
	cd w
	"$GITGATE" check --policy ../p.yaml huge.img >../out 2>&1
	cd ..
	expect_contains out "warning[secret] huge.img:1:1: not scanned for secrets: 73400320 bytes, too large to read"
}

run_cases
