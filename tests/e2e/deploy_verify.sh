#!/bin/sh
# verify: a checkout target deploys only a head that a trusted key signed.
# Real commits signed by `git commit -S` with keys made here by ssh-keygen and
# gpg, pushed into a bare repository; the daemon fetches the head itself.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

# verify_target VERIFY-YAML [EXTRA-CHECKOUT-YAML]: a checkout target whose run records
# each release it follows.
verify_target() {
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
    verify: $1
    checkout:
      url: file://$T/src/acme/app.git
      dir: $T/www/site
      run: [\"sh\", \"-c\", \"echo \$1 >> $T/ran\", \"sh\", \"{after}\"]
${2:-}"
}

live_is() {
	[ "$(readlink "$T/www/site" 2>/dev/null)" = "releases/$1" ]
}

sshkey() {
	ssh-keygen -q -N '' -C "$1" -f "$T/$1" >/dev/null
}

ssh_commit() { # KEY FILE CONTENT
	printf '%s\n' "$3" >"$T/w/$2"
	git -C "$T/w" add "$2"
	git -C "$T/w" -c gpg.format=ssh -c user.signingKey="$T/$1" commit -q -S -m "deploy: $2"
}

# deploy_head: push main, send its event, wait for the deployment; its id in $ID.
deploy_head() {
	push
	expect_eq "$(send_event "$(git -C "$T/w" rev-parse HEAD)")" 202 "push event"
	ID=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 20 settled
}

t_unsigned_head_refused_signed_one_deployed() {
	make_repo
	sshkey deployer
	echo "committer@example.com $(cut -d' ' -f1,2 "$T/deployer.pub")" >"$T/allowed_signers"
	verify_target "{allowed_signers: $T/allowed_signers}"
	start_daemon
	ssh_commit deployer index.html "one"
	c1=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" succeeded "signed head"
	live_is "$c1" || fail "signed head not live"

	commit index.html "two, unsigned"
	c2=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" refused "unsigned head"
	expect_eq "$(dep_field "$ID" 'd["reason"]')" "unsigned: the commit carries no signature" "reason"
	expect_eq "$(dep_field "$ID" 'd["commit"]')" "$c2" "the refused commit"
	live_is "$c1" || fail "the previous release did not stay live"
	expect_eq "$(cat "$T/www/site/index.html")" "one" "live file"
	[ ! -e "$T/www/releases/$c2" ] || fail "the unsigned commit was checked out"
	expect_eq "$(cat "$T/ran")" "$c1" "commands run"

	ssh_commit deployer index.html "three"
	c3=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" succeeded "signed again"
	live_is "$c3" || fail "signed head not live"
	expect_eq "$(cat "$T/ran" | tr '\n' ' ')" "$c1 $c3 " "commands run"
}

t_unknown_key_and_expired_key_refused() {
	make_repo
	sshkey deployer
	sshkey stranger
	sshkey old
	{
		echo "committer@example.com $(cut -d' ' -f1,2 "$T/deployer.pub")"
		echo "committer@example.com valid-before=\"20210101Z\" $(cut -d' ' -f1,2 "$T/old.pub")"
	} >"$T/allowed_signers"
	verify_target "{allowed_signers: allowed_signers}" # beside the config
	start_daemon
	ssh_commit stranger index.html "by a stranger"
	deploy_head
	fp=$(ssh-keygen -lf "$T/stranger.pub" | cut -d' ' -f2)
	expect_eq "$(dep_field "$ID" 'd["state"]')" refused "stranger's head"
	expect_eq "$(dep_field "$ID" 'd["reason"]')" "unknown key: the key is not in allowed_signers (key $fp)" "reason"
	ssh_commit old index.html "by a key that expired"
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" refused "expired key's head"
	dep_field "$ID" 'd["reason"]' >"$T/reason"
	expect_contains "$T/reason" "expired key: $T/allowed_signers:2: the key is valid until 2021-01-01 00:00:00Z"
	[ ! -e "$T/www/site" ] || fail "something was deployed"
	[ ! -e "$T/ran" ] || fail "a command ran"
	grep -q 'deployment finished.*state=refused' "$T/daemon.log" || fail "no log line for the refusal"
}

t_openpgp_signed_head_deployed() {
	mkdir -m 700 "$T/gnupg"
	export GNUPGHOME="$T/gnupg"
	trap 'gpgconf --homedir "$T/gnupg" --kill gpg-agent 2>/dev/null || true; stop_daemon' EXIT
	gpg --batch --passphrase '' --quick-gen-key "Dev <committer@example.com>" ed25519 sign 1y 2>/dev/null
	fpr=$(gpg --with-colons --list-keys Dev | awk -F: '/^fpr/ {print $10; exit}')
	gpg --armor --export "$fpr" >"$T/team.asc"
	make_repo
	verify_target "{gpg_keyring: $T/team.asc}"
	start_daemon
	printf 'x\n' >"$T/w/index.html"
	git -C "$T/w" add index.html
	git -C "$T/w" -c user.signingKey="$fpr" commit -q -S -m "deploy: signed"
	c1=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" succeeded "OpenPGP-signed head"
	live_is "$c1" || fail "not live"
	dep_field "$ID" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "$c1 is signed by a trusted key ($fpr)"
}

t_replayed_signed_payload_does_not_roll_back() {
	make_repo
	sshkey deployer
	echo "committer@example.com $(cut -d' ' -f1,2 "$T/deployer.pub")" >"$T/allowed_signers"
	verify_target "{allowed_signers: $T/allowed_signers}"
	start_daemon
	ssh_commit deployer index.html "old"
	old=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	ssh_commit deployer index.html "new"
	new=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	live_is "$new" || fail "new not live"
	# The old push's event again, under a fresh delivery id: old is signed, and still old.
	send_event "$old" refs/heads/main "$ZERO" >/dev/null
	wait_until 20 settled
	live_is "$new" || fail "rolled back to $(readlink "$T/www/site")"
	expect_eq "$(cat "$T/www/site/index.html")" "new" "live file"
}

# polls_done: how many fetches the target's poll has made so far.
polls_done() {
	grep -c 'fetching refs/heads/main from' "$T/state/logs/poll-site.log" 2>/dev/null || echo 0
}

polls_at_least() {
	[ "$(polls_done)" -ge "$1" ]
}

t_poll_refuses_an_unsigned_head_once_and_deploys_a_signed_one() {
	make_repo
	sshkey deployer
	echo "committer@example.com $(cut -d' ' -f1,2 "$T/deployer.pub")" >"$T/allowed_signers"
	commit index.html "unsigned"
	push
	unsigned=$(git -C "$T/w" rev-parse HEAD)
	verify_target "{allowed_signers: $T/allowed_signers}" "      poll: 1s"
	start_daemon
	wait_until 20 settled
	# Three more polls see the same unsigned head: none queues it again.
	n=$(polls_done)
	wait_until 20 polls_at_least $((n + 3))
	wait_until 20 settled
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'len(d["deployments"])')" 1 "deployments"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" refused "state"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$unsigned" "commit"
	# A signed head, never announced by a webhook: the poll deploys it.
	ssh_commit deployer index.html "signed"
	push
	signed=$(git -C "$T/w" rev-parse HEAD)
	wait_until 20 live_is "$signed"
	wait_until 20 settled
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "state"
}

t_run_target_with_url_verifies_before_its_command() {
	make_repo
	sshkey deployer
	echo "committer@example.com $(cut -d' ' -f1,2 "$T/deployer.pub")" >"$T/allowed_signers"
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
    url: file://$T/src/acme/app.git
    verify: {allowed_signers: $T/allowed_signers}
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/ran\", \"sh\", \"{after}\"]"
	start_daemon
	commit index.html "unsigned"
	unsigned=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" refused "unsigned head"
	expect_eq "$(dep_field "$ID" 'd["reason"]')" "unsigned: the commit carries no signature" "reason"
	expect_eq "$(dep_field "$ID" 'd["commit"]')" "$unsigned" "the refused commit"
	[ ! -e "$T/ran" ] || fail "the command ran for an unsigned head"
	ssh_commit deployer index.html "signed"
	signed=$(git -C "$T/w" rev-parse HEAD)
	deploy_head
	expect_eq "$(dep_field "$ID" 'd["state"]')" succeeded "signed head"
	expect_eq "$(cat "$T/ran")" "$signed" "commands run"
	dep_field "$ID" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "$signed is signed by a trusted key"
	# The repository's URL is handed over in the environment, not on the command line.
	expect_contains "$T/log" "--deploy-checkout --branch refs/heads/main"
	expect_not_contains "$T/log" "--url"
}

t_config_errors() {
	make_repo
	echo "bad line here" >"$T/allowed_signers"
	verify_target "{allowed_signers: $T/allowed_signers}"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check" 2>&1
	expect_contains "$T/check" "$T/allowed_signers:1:5: unknown or malformed option 'line'"
	expect_contains "$T/check" "$T/cfg.yaml:11:31: verify: the key files have the errors above"
	deploy_config "  - name: cmd
    repo: acme/app
    ref: refs/heads/main
    verify: {allowed_signers: $T/allowed_signers}
    run: [\"true\"]"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check" 2>&1
	expect_contains "$T/check" "'verify' needs a target that fetches the commit it deploys itself"
	verify_target "{}"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check" 2>&1
	expect_contains "$T/check" "'verify' needs allowed_signers, gpg_keyring or both"
}

run_cases
