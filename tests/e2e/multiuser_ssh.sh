#!/bin/sh
# One Unix account per developer: three accounts push over a real OpenSSH sshd
# (started on loopback by the case) into one repository shared by their group
# (`git init --bare --shared=group`, owned by root). git's safe.directory comes
# from its command-line scope (GIT_CONFIG_COUNT, set by sshd: the exact path), which libgit2
# does not read: the hooks must trust the repository git handed them. The
# notifier reaches gitgated over its unix socket, with no secret; every push
# must be deployed with the right pusher, nothing may stay in the spool, and
# nothing in the repository may be writable by one account only.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"
. "$(dirname "$0")/multiuser.inc"

SSHD=/usr/sbin/sshd

# mu_sshd: sshd on a free loopback port for the developers' keys.
mu_sshd() {
	[ -x "$SSHD" ] || fail "$SSHD is missing: install openssh-server (scripts/deps.sh does)"
	mkdir -p "$T/ssh/keys" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -C test-host -f "$T/ssh/host_key"
	for _u in $MU_DEVS; do
		ssh-keygen -q -t ed25519 -N '' -C "$_u" -f "$T/ssh/$_u"
		cp "$T/ssh/$_u.pub" "$T/ssh/keys/$_u"
	done
	SPORT=$(free_port)
	cat >"$T/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SPORT
HostKey $T/ssh/host_key
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $T/ssh/keys/%u
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
AllowUsers $MU_DEVS
SetEnv GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0=$REPO
CONF
	"$SSHD" -D -e -f "$T/ssh/sshd_config" 2>"$T/sshd.log" &
	SSHD_PID=$!
	_want=$(cut -d' ' -f2 "$T/ssh/host_key.pub")
	_i=0
	until ssh-keyscan -T 1 -p "$SPORT" 127.0.0.1 2>/dev/null | grep -qF "$_want"; do
		_i=$((_i + 1))
		if ! kill -0 "$SSHD_PID" 2>/dev/null || [ $_i -gt 100 ]; then
			cat "$T/sshd.log" >&2
			fail "sshd did not start on 127.0.0.1:$SPORT"
		fi
		sleep 0.1
	done
	awk -v p="$SPORT" '{ print "[127.0.0.1]:" p " " $1 " " $2 }' "$T/ssh/host_key.pub" \
		>"$T/ssh/known_hosts"
}

# as USER git-push-args...: push from $T/w over ssh as USER; output in $T/out.
as() {
	_u=$1
	shift
	GIT_SSH_COMMAND="ssh -i $T/ssh/$_u -o IdentitiesOnly=yes -o BatchMode=yes \
-o UserKnownHostsFile=$T/ssh/known_hosts -o StrictHostKeyChecking=yes" \
		git -C "$T/w" push "ssh://$_u@127.0.0.1:$SPORT$REPO" "$@" >"$T/out" 2>&1
}

# accepted USER ARGS...: the push lands and one event reaches gitgated.
accepted() {
	as "$@" || {
		cat "$T/out" >&2
		fail "push by $1 refused"
	}
	expect_contains "$T/out" "remote: gitgate: notify: sent 1 event(s) to unix:$SOCK:/hooks/local"
	expect_not_contains "$T/out" "internal error"
}

refused() {
	if as "$@"; then
		cat "$T/out" >&2
		fail "push by $1 accepted"
	fi
	expect_not_contains "$T/out" "internal error"
}

file() { # PATH CONTENT: commit one file in $T/w
	mkdir -p "$(dirname "$T/w/$1")"
	printf '%s\n' "$2" >"$T/w/$1"
	git -C "$T/w" add "$1"
	git -C "$T/w" commit -q -m "add $1"
}

t_three_accounts_push_over_ssh() {
	mu_need_root || return 0
	mu_accounts
	mu_repo
	# Before the daemon runs there is no socket: install-hook says what to set up.
	expect_contains "$T/install.out" "no socket at $SOCK yet"
	mu_daemon
	"$GITGATE" install-hook --policy "$T/policy.yaml" --notify "unix:$SOCK:/hooks/local" \
		"$REPO" >"$T/install.out" 2>&1
	expect_not_contains "$T/install.out" "warning"
	mu_sshd

	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n' >"$T/cm.yaml"
	mkdir -p "$T/w/clusters"
	cp "$T/cm.yaml" "$T/w/clusters/web.yaml"
	git -C "$T/w" add clusters/web.yaml
	file README "hello"
	accepted ggmualice main
	c1=$(git -C "$T/w" rev-parse HEAD)
	expect_contains "$T/sshd.log" "Accepted publickey for ggmualice"
	wait_until 20 settled

	# Refusals reach the pusher as remote: lines.
	file certs/server.pem "-----BEGIN CERTIFICATE-----"
	refused ggmubob main
	expect_contains "$T/out" "remote: error[deny-path] certs/server.pem"
	expect_contains "$T/out" "remote: gitgate: push rejected"
	# The bypass user gets through, and says why.
	accepted ggmucarol -o "gitgate.bypass=rotating the certificate" main
	expect_contains "$T/out" "bypass"
	wait_until 20 settled

	# A branch of bob's, then its deletion: notified, nothing deployed for it.
	git -C "$T/w" checkout -q -b feature
	file notes.txt "by bob"
	accepted ggmubob feature
	wait_until 20 settled
	git -C "$T/w" checkout -q main
	accepted ggmubob :refs/heads/feature
	wait_until 20 grep -q 'result=ignored' "$T/daemon.log"

	# Deleting a manifest needs the option (and a user allowed to use it);
	# main itself cannot be deleted.
	git -C "$T/w" rm -q clusters/web.yaml
	git -C "$T/w" commit -q -m "drop web"
	refused ggmualice main
	expect_contains "$T/out" "remote: error[deny-deletion] clusters/web.yaml"
	accepted ggmucarol -o gitgate.allow=deletion main
	wait_until 20 settled
	refused ggmualice :refs/heads/main
	expect_contains "$T/out" "remote: error["

	expect_eq "$(mu_pushers)" \
		"ggmualice@main ggmucarol@main ggmubob@feature ggmucarol@main" "deployments' pushers"
	expect_eq "$(cut -d' ' -f1 "$T/deployed" | head -n 1)" "$c1" "first deployed commit"
	mu_assert_shared
}

# The daemon away: one account's event waits in the spool, and the next push
# by another account sends it first; root's `gitgate notify --flush` (a timer)
# delivers too. The spool is the group's, never one account's.
t_spool_is_shared_by_the_group() {
	mu_need_root || return 0
	mu_accounts
	mu_repo
	mu_sshd
	file a.txt one
	as ggmualice main || fail "push: $(cat "$T/out")"
	expect_contains "$T/out" "1 event(s) spooled in"
	expect_eq "$(stat -c '%a %U %G' "$REPO/gitgate/spool")" "2770 ggmualice $MU_GROUP" "spool"
	expect_eq "$(stat -c '%a %G' "$REPO/gitgate/spool"/*.json)" "660 $MU_GROUP" "spooled event"
	file a.txt two
	as ggmubob main || fail "push: $(cat "$T/out")"
	expect_eq "$(mu_spooled)" 2 "spooled events"
	mu_daemon
	file a.txt three
	as ggmucarol main || fail "push: $(cat "$T/out")"
	expect_contains "$T/out" "remote: gitgate: notify: sent 1 event(s) and 2 spooled earlier"
	wait_until 20 settled
	expect_eq "$(mu_spooled)" 0 "spooled events"
	# main has moved past the two spooled events: only its tip is deployed,
	# by carol, whom the kernel names as the sender of all three.
	c3=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(json "$T/settle.json" 'len(d["deployments"])')" 1 "deployments"
	expect_eq "$(json "$T/settle.json" 'd["deployments"][0]["after"]')" "$c3" "deployed commit"
	expect_eq "$(json "$T/settle.json" 'd["deployments"][0]["pusher"]')" ggmucarol "pusher"
	expect_eq "$(grep -c 'ref that has moved on' "$T/daemon.log")" 2 "stale events"

	stop_daemon
	file a.txt four
	as ggmubob main || fail "push: $(cat "$T/out")"
	c4=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(mu_spooled)" 1 "spooled events"
	mu_daemon
	# root flushing (a timer) keeps the pusher the notifier recorded.
	expect_status 0 "$GITGATE" notify --flush "$REPO" >"$T/flush.out" 2>&1
	expect_contains "$T/flush.out" "sent 1, rejected 0, still spooled 0"
	wait_until 20 settled
	api "deployments?limit=1"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["pusher"]')" ggmubob "pusher of the flushed event"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["after"]')" "$c4" "flushed commit"

	# A member flushes too. gitgate notify keeps libgit2's ownership check, as
	# git does: a repository another account owns must be in safe.directory.
	stop_daemon
	file a.txt five
	as ggmubob main || fail "push: $(cat "$T/out")"
	c5=$(git -C "$T/w" rev-parse HEAD)
	mu_daemon
	carol() {
		setpriv --reuid=ggmucarol --regid="$MU_GROUP" --init-groups \
			env HOME="$T/home/ggmucarol" "$@"
	}
	if carol "$GITGATE" notify --flush "$REPO" >"$T/flush.out" 2>&1; then
		fail "flushed a repository carol does not own without safe.directory"
	fi
	expect_contains "$T/flush.out" "not owned by current user"
	carol git config --global safe.directory "$REPO"
	expect_status 0 carol "$GITGATE" notify --flush "$REPO" >"$T/flush.out" 2>&1
	expect_contains "$T/flush.out" "sent 1, rejected 0, still spooled 0"
	wait_until 20 settled
	api "deployments?limit=1"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["after"]')" "$c5" "flushed commit"
	# Sent by carol's process: the kernel names her (docs/deploy.md).
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["pusher"]')" ggmucarol "pusher"
	mu_assert_shared
}

# What install-hook says about a group-shared repository and an HMAC secret.
t_install_hook_warns_about_a_private_secret() {
	mu_need_root || return 0
	mu_accounts
	mu_repo
	printf 's3cret\n' >"$T/git.secret"
	chmod 600 "$T/git.secret"
	"$GITGATE" install-hook --notify http://127.0.0.1:1/hooks/git --secret-file "$T/git.secret" \
		"$REPO" >"$T/install.out" 2>&1
	expect_contains "$T/install.out" "is shared by group $MU_GROUP, but only root can read the notify secret"
	expect_contains "$T/install.out" "--notify unix:"
	# A socket the group cannot connect to.
	mu_daemon
	stop_daemon
	sed -i 's/unix_socket: .*/unix_socket: {mode: "0600"}/' "$T/cfg.yaml"
	start_daemon
	trap mu_cleanup EXIT
	"$GITGATE" install-hook --notify "unix:$SOCK:/hooks/local" "$REPO" >"$T/install.out" 2>&1
	expect_contains "$T/install.out" "whose members cannot connect to $SOCK"
	expect_eq "$(git -C "$REPO" config gitgate.notifySecretFile || echo unset)" unset "secret file setting"
}

run_cases
