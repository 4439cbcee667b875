#!/bin/sh
# gitgate install-hook and gitgate policy lint.
. "$(dirname "$0")/../lib.sh"

t_install_is_idempotent() {
	git init -q --bare r.git
	echo "version: 1" >p.yaml
	"$GITGATE" install-hook --policy p.yaml r.git >out
	expect_contains out "gitgate: r.git: installed pre-receive"
	cp r.git/hooks/pre-receive first
	"$GITGATE" install-hook --policy p.yaml r.git >out
	cmp -s first r.git/hooks/pre-receive || fail "hook changed on the second install"
	[ -x r.git/hooks/pre-receive ] || fail "hook not executable"
	expect_contains r.git/hooks/pre-receive "# installed by gitgate install-hook"
	expect_contains r.git/hooks/pre-receive "exec '$(cd "$GG_HOOKS" && pwd -P)/pre-receive' \"\$@\""
	[ "$(git -C r.git config receive.advertisePushOptions)" = true ] || fail "advertisePushOptions not set"
	[ "$(git -C r.git config gitgate.policy)" = "$(pwd -P)/p.yaml" ] || fail "policy path not absolute"
	[ ! -e r.git/hooks/pre-receive.orig ] || fail "own hook kept as .orig"
}

t_several_repositories() {
	git init -q --bare a.git
	git init -q --bare b.git
	"$GITGATE" install-hook a.git b.git >out
	expect_contains a.git/hooks/pre-receive "# installed by gitgate install-hook"
	expect_contains b.git/hooks/pre-receive "# installed by gitgate install-hook"
	[ "$(git -C b.git config receive.advertisePushOptions)" = true ] || fail "b.git not configured"
}

t_foreign_hook_refused_unless_forced() {
	git init -q --bare r.git
	printf '#!/bin/sh\necho mine\n' >r.git/hooks/pre-receive
	chmod +x r.git/hooks/pre-receive
	expect_status 2 "$GITGATE" install-hook r.git 2>err
	expect_contains err "r.git: hooks/pre-receive exists and was not installed by gitgate; use --force to replace it"
	expect_contains r.git/hooks/pre-receive "echo mine"
	"$GITGATE" install-hook --force r.git >out
	expect_contains r.git/hooks/pre-receive "# installed by gitgate install-hook"
	expect_contains r.git/hooks/pre-receive.orig "echo mine"
	expect_contains out "kept the previous hooks/pre-receive as hooks/pre-receive.orig"
}

t_notify_installs_post_receive() {
	git init -q --bare r.git
	umask 077
	echo s3cret >secret
	"$GITGATE" install-hook --notify http://127.0.0.1:9/hooks/git --secret-file secret r.git >out
	expect_contains out "installed pre-receive and post-receive"
	expect_contains r.git/hooks/post-receive "# installed by gitgate install-hook"
	expect_contains r.git/hooks/post-receive "/post-receive' \"\$@\""
	[ "$(git -C r.git config gitgate.notifyUrl)" = "http://127.0.0.1:9/hooks/git" ] || fail "notifyUrl"
	[ "$(git -C r.git config gitgate.notifySecretFile)" = "$(pwd -P)/secret" ] || fail "notifySecretFile"
}

t_foreign_post_receive_refused_before_anything_is_written() {
	git init -q --bare r.git
	printf '#!/bin/sh\necho theirs\n' >r.git/hooks/post-receive
	echo s >secret
	expect_status 2 "$GITGATE" install-hook --notify http://127.0.0.1:9/x --secret-file secret r.git 2>err
	expect_contains err "r.git: hooks/post-receive exists and was not installed by gitgate"
	[ ! -e r.git/hooks/pre-receive ] || fail "pre-receive written although the install was refused"
	[ -z "$(git -C r.git config --get gitgate.notifyUrl || true)" ] || fail "config written"
}

t_usage_errors() {
	git init -q --bare r.git
	expect_status 2 "$GITGATE" install-hook
	expect_status 2 "$GITGATE" install-hook --bogus r.git
	expect_status 2 "$GITGATE" install-hook --notify http://x r.git 2>err
	expect_contains err "--notify and --secret-file go together"
	expect_status 2 "$GITGATE" install-hook --policy 2>/dev/null
	expect_status 2 "$GITGATE" install-hook not-a-repo 2>err
	expect_contains err "not-a-repo: not a git repository"
	[ ! -e r.git/hooks/pre-receive ] || fail "hook installed on a usage error"
}

t_hooks_path_elsewhere_is_refused() {
	git init -q --bare r.git
	git -C r.git config core.hooksPath /srv/shared-hooks
	expect_status 2 "$GITGATE" install-hook r.git 2>err
	expect_contains err "r.git: core.hooksPath is set to /srv/shared-hooks, so git would not run hooks/pre-receive; unset it, or use --force"
	[ ! -e r.git/hooks/pre-receive ] || fail "hook installed"
	"$GITGATE" install-hook --force r.git >out 2>err
	expect_contains err "installing anyway (--force)"
	expect_contains r.git/hooks/pre-receive "# installed by gitgate install-hook"
}

t_broken_policy_refused_at_install() {
	git init -q --bare r.git
	printf 'version: 1\nfiles:\n  secret: true\n' >p.yaml
	expect_status 2 "$GITGATE" install-hook --policy p.yaml r.git 2>err
	expect_contains err "p.yaml:3:3: unknown key 'secret' in files (expected one of: max_size, deny_paths, secrets)"
	[ ! -e r.git/hooks/pre-receive ] || fail "hook installed with a broken policy"
}

t_relocated_installation() {
	# The hook program is found beside the gitgate binary, wherever it lives.
	mkdir -p inst/bin inst/libexec/gitgate
	cp "$GITGATE" inst/bin/gitgate
	cp "$GG_HOOKS/pre-receive" inst/libexec/gitgate/pre-receive
	git init -q --bare r.git
	inst/bin/gitgate install-hook r.git >/dev/null
	expect_contains r.git/hooks/pre-receive "exec '$(pwd -P)/inst/libexec/gitgate/pre-receive'"
}

t_policy_lint_reports_every_error() {
	cat >p.yaml <<'EOF2'
version: 1
mode: enforced
commits:
  message_pattern: '^(feat'
files:
  max_size: 1 lightyear
  deny_path: ["x"]
EOF2
	expect_status 2 "$GITGATE" policy lint p.yaml 2>err
	expect_contains err "p.yaml:2:7: mode: expected 'enforce' or 'warn', got 'enforced'"
	expect_contains err "p.yaml:4:20: commits.message_pattern: invalid regular expression '"
	expect_contains err "p.yaml:6:13: files.max_size: expected a size"
	expect_contains err "p.yaml:7:3: unknown key 'deny_path' in files"
	[ "$(wc -l <err)" -eq 4 ] || fail "want 4 lines"
}

t_policy_lint_clean() {
	cat >p.yaml <<'EOF2'
version: 1
refs:
  - match: "refs/tags/*"
    deny_update: true
files:
  max_size: 1MiB
  secrets: true
EOF2
	"$GITGATE" policy lint p.yaml >out 2>&1
	[ ! -s out ] || fail "lint printed something for a clean policy"
	expect_status 2 "$GITGATE" policy lint missing.yaml 2>err
	expect_contains err "missing.yaml: No such file or directory"
	expect_status 2 "$GITGATE" policy
	expect_status 2 "$GITGATE" policy check p.yaml
}

run_cases
