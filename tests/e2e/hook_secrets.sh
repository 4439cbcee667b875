#!/bin/sh
# Secret detection through real pushes: provider tokens in the places they
# leak (.env, a Kubernetes Secret's stringData, Terraform, a commit or tag
# message, UTF-16 and NUL-led files) are refused with the provider named; the
# same pushes with placeholders land; a gitleaks config's custom rule and
# allowlist are honoured; gitleaks:allow only when the policy says so.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

# Tokens in the providers' documented shapes (random bodies; none is live).
STRIPE=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd
OPENAI=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
VAULT=hvs.jAWtGSU8po_799NksnRH9ucAUsdMlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9SkpXz9w3QlY7Zkuvqdt7s8Stqcbnr3y
SLACK=xoxb-128734562901-4471923850176-Zq8Rt3Wm6Ky1Xp9Lv4Bn7Hc2

t_token_in_dotenv_refused_placeholder_lands() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	printf '# payments\nSTRIPE_SECRET_KEY=%s\n' "$STRIPE" >"$T/w/.env"
	git -C "$T/w" add .env
	git -C "$T/w" commit -q -m "config"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] .env:2:19: possible Stripe secret key sk_l****j6Hd (secret-stripe-secret-key) added in commit $(short HEAD)"
	expect_not_contains "$T/out" "$STRIPE"
	printf '# payments\nSTRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\n' >"$T/w/.env"
	git -C "$T/w" commit -q -a --amend -m "config"
	push main || fail "placeholder refused: $(cat "$T/out")"
	expect_contains "$T/out" "push accepted"
}

t_token_in_kubernetes_secret_refused() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	cat >"$T/w/secret.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: api
type: Opaque
stringData:
  OPENAI_API_KEY: $OPENAI
  DB_PASSWORD: Vq7#mK2p!Zr9xL4w
EOF
	git -C "$T/w" add secret.yaml
	git -C "$T/w" commit -q -m "secret"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] secret.yaml:7:19: possible OpenAI API key sk-p****tmUd (secret-openai-api-key)"
	expect_contains "$T/out" "remote: error[secret] secret.yaml:8:16: possible secret assigned to a password/secret/token/key variable Vq7#****xL4w (secret-generic-secret)"
	expect_not_contains "$T/out" "Vq7#mK2p!Zr9xL4w"
	sed -i "s|$OPENAI|\${OPENAI_API_KEY}|; s|Vq7#mK2p!Zr9xL4w|changeme|" "$T/w/secret.yaml"
	git -C "$T/w" commit -q -a --amend -m "secret"
	push main || fail "placeholders refused: $(cat "$T/out")"
}

t_generic_as_warning() {
	setup <<'EOF'
version: 1
files:
  secrets: {generic: warning}
EOF
	commit app.ini "db_password = Vq7mK2pZr9xL4wT8" "config"
	push main || fail "generic finding refused at warning level"
	expect_contains "$T/out" "remote: warning[secret] app.ini:1:15: possible secret assigned"
	commit app2.ini "key = $STRIPE" "provider token"
	! push main || fail "a provider token passed with generic: warning"
	expect_contains "$T/out" "remote: error[secret] app2.ini:1:7: possible Stripe secret key"
}

t_token_in_terraform_refused() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	cat >"$T/w/main.tf" <<EOF
provider "vault" {
  address = "https://vault.internal:8200"
  token   = "$VAULT"
}
EOF
	git -C "$T/w" add main.tf
	git -C "$T/w" commit -q -m "tf"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] main.tf:3:14: possible HashiCorp Vault service token hvs.****nr3y (secret-vault-service-token)"
	sed -i "s|$VAULT|\${var.vault_token}|" "$T/w/main.tf"
	git -C "$T/w" commit -q -a --amend -m "tf"
	push main || fail "placeholder refused: $(cat "$T/out")"
}

t_token_in_commit_message_refused() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	commit README "hello" "$(printf 'add bot\n\nuse %s for the alerts channel' "$SLACK")"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] $(short HEAD): possible Slack bot token xoxb****7Hc2 (secret-slack-bot-token) in the commit message, line 3"
	expect_not_contains "$T/out" "$SLACK"
	git -C "$T/w" commit -q --amend -m "$(printf 'add bot\n\nuse xoxb-your-bot-token for the alerts channel')"
	push main || fail "placeholder refused: $(cat "$T/out")"
}

t_token_in_tag_message_refused() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	commit README "hello" "start"
	push main
	git -C "$T/w" tag -a v1 -m "release; deploy key $STRIPE"
	! push refs/tags/v1 || fail "push accepted"
	tag=$(git -C "$T/w" rev-parse --short=7 v1)
	expect_contains "$T/out" "remote: error[secret] $tag: possible Stripe secret key sk_l****j6Hd (secret-stripe-secret-key) in the tag message, line 1"
}

t_utf16_files_are_scanned() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	printf 'STRIPE=%s\r\n' "$STRIPE" | iconv -f UTF-8 -t UTF-16 >"$T/w/bom.ini"   # with a BOM
	printf 'x=1\r\nSTRIPE=%s\r\n' "$STRIPE" | iconv -f UTF-8 -t UTF-16LE >"$T/w/le.ini"
	printf 'STRIPE=%s\n' "$STRIPE" | iconv -f UTF-8 -t UTF-16BE >"$T/w/be.ini"
	git -C "$T/w" add .
	git -C "$T/w" commit -q -m "windows files"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] bom.ini:1:8: possible Stripe secret key"
	expect_contains "$T/out" "remote: error[secret] le.ini:2:8: possible Stripe secret key"
	expect_contains "$T/out" "remote: error[secret] be.ini:1:8: possible Stripe secret key"
	# an edit of a UTF-16 file is scanned too (whole: a line diff would split characters)
	git -C "$T/w" reset -q --hard HEAD~0
	printf 'x=1\r\n' | iconv -f UTF-8 -t UTF-16LE >"$T/w/le.ini"
	rm "$T/w/bom.ini" "$T/w/be.ini"
	git -C "$T/w" add -A
	git -C "$T/w" commit -q --amend -m "clean"
	push main || fail "clean UTF-16 refused: $(cat "$T/out")"
	printf 'x=1\r\nSTRIPE=%s\r\n' "$STRIPE" | iconv -f UTF-8 -t UTF-16LE >"$T/w/le.ini"
	git -C "$T/w" commit -q -am "edit"
	! push main || fail "edit accepted"
	expect_contains "$T/out" "remote: error[secret] le.ini:2:8: possible Stripe secret key"
}

t_gitleaks_config_rule_and_allowlist() {
	cat >"$T/gitleaks.toml" <<'EOF'
title = "acme"

[extend]
useDefault = true

[[rules]]
id = "acme-deploy-token"
description = "Acme deploy token"
regex = '''\b(acmedt_[a-z0-9]{32})\b'''
secretGroup = 1
entropy = 3.0
keywords = ["acmedt_"]

[[allowlists]]
description = "test fixtures"
paths = ['''^fixtures/''']
EOF
	setup <<EOF
version: 1
files:
  secrets: {config: $T/gitleaks.toml}
EOF
	commit deploy.sh "curl -H 'X-Token: acmedt_k3j9x8w7v6u5t4s3r2q1p0n9m8l7k6j5' https://deploy" "deploy"
	! push main || fail "push accepted"
	expect_contains "$T/out" "remote: error[secret] deploy.sh:1:19: possible Acme deploy token acme****k6j5 (acme-deploy-token)"
	git -C "$T/w" reset -q --hard HEAD~0
	git -C "$T/w" rm -q deploy.sh
	git -C "$T/w" commit -q --amend --allow-empty -m "none"
	commit fixtures/stripe.env "STRIPE=$STRIPE" "fixture"
	push main || fail "allowlisted path refused: $(cat "$T/out")"
	commit app/stripe.env "STRIPE=$STRIPE" "not a fixture"
	! push main || fail "the default rules were dropped"
	expect_contains "$T/out" "remote: error[secret] app/stripe.env:1:8: possible Stripe secret key"
}

t_gitleaks_config_errors_fail_closed() {
	printf '[[rules]]\nid = "x"\nregex = "unclosed"\n' >"$T/gitleaks.toml"
	setup <<EOF
version: 1
files:
  secrets:
    config: $T/gitleaks.toml
EOF
	# the config breaks after the hook was installed
	printf '[[rules]]\nid = "x"\nregex = "(unclosed"\n' >"$T/gitleaks.toml"
	commit a "1" "one"
	! push main || fail "push accepted with a broken config"
	expect_contains "$T/out" "$T/gitleaks.toml:3: rule 'x': regex: missing closing parenthesis"
	rc=0
	"$GITGATE" policy lint "$T/policy.yaml" >"$T/lint" 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "policy lint exited $rc, want 2"
	expect_contains "$T/lint" "$T/gitleaks.toml:3: rule 'x': regex:"
}

t_inline_allow_only_when_the_policy_says_so() {
	setup <<'EOF'
version: 1
files:
  secrets: true
EOF
	commit app.env "STRIPE=$STRIPE # gitleaks:allow" "allow myself"
	! push main || fail "the hook honoured a pusher's own gitleaks:allow"
	# gitgate check on the working tree: the same without allow_inline ...
	cp "$T/policy.yaml" "$T/w/.gitgate.yaml"
	(cd "$T/w" && expect_status 1 "$GITGATE" check app.env >"$T/check" 2>&1)
	expect_contains "$T/check" "error[secret] app.env:1:8: possible Stripe secret key"
	# ... and with it, gitleaks:allow and .gitleaksignore are honoured.
	printf 'version: 1\nfiles:\n  secrets: {allow_inline: true}\n' >"$T/w/.gitgate.yaml"
	printf 'STRIPE=%s\n' "$STRIPE" >"$T/w/other.env"
	printf '# reviewed\nother.env:stripe-secret-key:1\n' >"$T/w/.gitleaksignore"
	(cd "$T/w" && "$GITGATE" check app.env other.env >"$T/check" 2>&1) || fail "check: $(cat "$T/check")"
	printf 'STRIPE=%s\n' "$STRIPE" >"$T/w/third.env"
	(cd "$T/w" && expect_status 1 "$GITGATE" check third.env >"$T/check" 2>&1)
	expect_contains "$T/check" "error[secret] third.env:1:8: possible Stripe secret key"
}

run_cases "$@"
