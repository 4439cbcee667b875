#!/bin/sh
# The local source: the post-receive notifier posts to gitgated's unix socket
# with no secret; the daemon names the pusher from the socket (SO_PEERCRED)
# and deploys only what the repository on disk holds. Forged events — a ref
# that does not point at `after`, a repository outside the source's root, a
# local source reached over TCP, a claimed pusher from an untrusted account —
# are tried here against the running daemon.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

SOCK=

# local_config [TRUSTED-YAML] [UNIX-SOCKET-YAML]: a local source rooted at $T/src and a target.
local_config() {
	PORT=$(free_port)
	SOCK="$T/run/notify.sock"
	mkdir -p "$T/run"
	chmod 755 "$T/run"
	cat >"$T/cfg.yaml" <<YAML
listen: ["127.0.0.1:$PORT", "unix:$SOCK"]
state_dir: $T/state
# The tests read /api/v1 over TCP loopback, without a token.
api: {allow_loopback_without_token: true}
$2
sources:
  - name: local
    kind: local
    root: $T/src
$1
targets:
  - name: app
    source: local
    repo: acme/app
    ref: refs/heads/main
    run: ["sh", "-c", "echo \$1 \$2 >> $T/deployed", "sh", "{after}", "{pusher}"]
YAML
}

use_socket() {
	use_notifier "unix:$SOCK:/hooks/local"
	git -C "$T/src/acme/app.git" config --unset gitgate.notifySecretFile
	git -C "$T/src/acme/app.git" config --unset gitgate.repoName
}

# forge AFTER [CLONE-URL] [PUSHER]: an unsigned event over the socket; prints the status.
forge() {
	python3 - "$1" "${2:-file://$T/src/acme/app.git}" "${3:-mallory}" >"$T/event.json" <<'PY'
import json, sys
after, url, pusher = sys.argv[1:4]
print(json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": after,
                  "repository": {"full_name": "acme/app", "clone_url": url},
                  "pusher": {"name": pusher}, "commits": []}), end="")
PY
	# The body and then the status, on stdout: the shell (root) writes the files.
	${AS:-} curl -s -o - -w '\n%{http_code}' --unix-socket "$SOCK" -X POST \
		--data-binary @- -H 'Content-Type: application/json' \
		-H "X-Gitgate-Delivery: forged-$(date +%s%N)" http://gitgated/hooks/local \
		<"$T/event.json" >"$T/forge.out"
	sed '$d' "$T/forge.out" >"$T/resp"
	tail -n 1 "$T/forge.out"
}

t_push_notifies_through_the_socket_without_a_secret() {
	make_repo
	local_config
	start_daemon
	use_socket
	commit a.txt one
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	expect_contains "$T/push.out" "gitgate: notify: sent 1 event(s) to unix:$SOCK:/hooks/local"
	wait_until 20 settled
	# Named by its path below root, the pusher by the kernel: this account.
	expect_eq "$(cat "$T/deployed")" "$c1 $(id -un)" "deployed commit and pusher"
	api deployments
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["pusher"]')" "$(id -un)" "pusher"
	expect_eq "$(ls "$T/src/acme/app.git/gitgate/spool" 2>/dev/null | wc -l)" 0 "spooled"
}

t_forged_events_deploy_nothing_new() {
	make_repo
	local_config
	start_daemon
	use_socket
	commit a.txt one
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	commit a.txt two
	git -C "$T/w" push -q origin HEAD:refs/heads/other 2>/dev/null
	c2=$(git -C "$T/w" rev-parse HEAD)
	wait_until 20 settled
	# A commit the branch does not hold: answered, stored, nothing queued.
	expect_eq "$(forge "$c2")" 200 "event for a commit main does not point at"
	expect_eq "$(json "$T/resp" 'len(d["deployments"])')" 0 "deployments queued"
	# A repository outside the root, or reached through a symlink out of it: 403.
	git init -q --bare "$T/elsewhere.git"
	expect_eq "$(forge "$c1" "file://$T/elsewhere.git")" 403 "repository outside root"
	expect_contains "$T/resp" "is not a repository under $T/src"
	ln -s "$T/elsewhere.git" "$T/src/acme/link.git"
	expect_eq "$(forge "$c1" "file://$T/src/acme/link.git")" 403 "symlink out of root"
	expect_eq "$(forge "$c1" "file://$T/src/acme/../../elsewhere.git")" 403 "dot-dot out of root"
	expect_eq "$(forge "$c1" "http://example.com/acme/app.git")" 403 "not a file:// URL"
	mkdir -p "$T/src/plain"
	expect_eq "$(forge "$c1" "file://$T/src/plain")" 403 "not a repository"
	# The current tip again: answered and recorded, but what main holds already runs.
	expect_eq "$(forge "$c1")" 200 "event for main's tip"
	expect_eq "$(json "$T/resp" 'd["deployments"][0]["state"]')" refused "the tip again"
	# Over TCP a local source authenticates nobody.
	expect_eq "$(curl -s -o "$T/resp" -w '%{http_code}' -X POST --data-binary "@$T/event.json" \
		-H "X-Gitgate-Delivery: tcp-1" "$URL/hooks/local")" 401 "local source over TCP"
	wait_until 20 settled
	expect_eq "$(cut -d' ' -f1 "$T/deployed" | sort -u)" "$c1" "only main's tip was deployed"
	expect_contains "$T/daemon.log" "local event refused"
}

# Only root and trusted_users name the pusher; anyone else is named by the kernel.
t_claimed_pusher_only_from_trusted_accounts() {
	[ "$(id -u)" -eq 0 ] || {
		echo "skipped: needs root to connect as other accounts (bin, daemon)"
		return 0
	}
	make_repo
	local_config "    trusted_users: [daemon]" 'unix_socket: {mode: "0666"}'
	chmod 755 "$T"
	start_daemon
	use_socket
	commit a.txt one
	push
	wait_until 20 settled
	# The next commits land without the notifier: the forged events are the
	# only news of them (a commit the target already runs is never run again).
	git -C "$T/src/acme/app.git" config --unset gitgate.notifyUrl
	commit a.txt two
	push
	c2=$(git -C "$T/w" rev-parse HEAD)
	AS="setpriv --reuid=bin --regid=bin --clear-groups"
	expect_eq "$(forge "$c2")" 202 "event from bin"
	wait_until 20 settled
	# An account the kernel cannot name (systemd's PrivateUsers=yes shows
	# every other account as the overflow uid) is refused, not misnamed.
	AS=""
	commit a.txt three
	push
	c3=$(git -C "$T/w" rev-parse HEAD)
	AS="setpriv --reuid=$(cat /proc/sys/kernel/overflowuid) --regid=nogroup --clear-groups"
	expect_eq "$(forge "$c3")" 401 "event from the overflow uid"
	expect_contains "$T/resp" "PrivateUsers=no"
	AS="setpriv --reuid=daemon --regid=daemon --clear-groups"
	expect_eq "$(forge "$c3" "" alice-via-web)" 202 "event from a trusted account"
	AS=""
	wait_until 20 settled
	api deployments
	expect_eq "$(json "$T/api.json" '",".join(x["pusher"] for x in reversed(d["deployments"]))')" \
		"$(id -un),bin,alice-via-web" "pushers"
}

t_socket_mode_and_group() {
	local_config "" 'unix_socket: {mode: "0660", group: "'"$(id -gn)"'"}'
	start_daemon
	expect_eq "$(stat -c '%a %G' "$SOCK")" "660 $(id -gn)" "socket mode and group"
	stop_daemon
	# A directory others may write is refused: they could swap the socket.
	chmod 777 "$T/run"
	"$GITGATED" -c "$T/cfg.yaml" 2>"$T/start.err" && fail "gitgated started"
	expect_contains "$T/start.err" "may be written by others"
}

t_check_warns_about_targets_without_source() {
	local_config
	cat >>"$T/cfg.yaml" <<YAML
  - name: any
    repo: acme/app
    ref: refs/heads/main
    run: ["true"]
YAML
	expect_status 0 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_not_contains "$T/check.out" "warning"
	printf 'secret-x\n' >"$T/gh.secret"
	chmod 600 "$T/gh.secret"
	sed -i "s|^targets:|  - {name: gh, kind: github, secret_file: $T/gh.secret}\ntargets:|" "$T/cfg.yaml"
	expect_status 0 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_contains "$T/check.out" "warning: target 'any' has no 'source' while 2 sources exist"
	expect_not_contains "$T/check.out" "target 'app'"
	# A local source with a secret is a mistake worth stopping at.
	sed -i "s|    root: $T/src|    root: $T/src\n    secret_file: $T/gh.secret|" "$T/cfg.yaml"
	expect_status 2 "$GITGATED" -c "$T/cfg.yaml" --check >"$T/check.out" 2>&1
	expect_contains "$T/check.out" "a local source has no secret"
}

# `gitgate notify --flush`, run by root, follows nothing planted in a spool:
# a symlink or a hard link to a file elsewhere, named like an event, is
# reported and left; so is an event another account wrote into a repository
# it does not share. The real event still goes.
t_flush_sends_nothing_planted() {
	make_repo
	local_config
	start_daemon
	use_socket
	commit a.txt one
	stop_daemon
	git -C "$T/w" push -q origin main 2>"$T/push.out"
	spool="$T/src/acme/app.git/gitgate/spool"
	expect_eq "$(ls "$spool" | wc -l)" 1 "spooled events"
	printf 'root-only secret\n' >"$T/secret.txt"
	ln -s "$T/secret.txt" "$spool/00000000000000000001-aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa.json"
	ln "$T/secret.txt" "$spool/00000000000000000002-bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb.json"
	if [ "$(id -u)" -eq 0 ]; then
		printf '{}' >"$spool/00000000000000000003-cccccccc-cccc-4ccc-8ccc-cccccccccccc.json"
		chown nobody "$spool/00000000000000000003-cccccccc-cccc-4ccc-8ccc-cccccccccccc.json"
	fi
	start_daemon
	expect_status 2 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
	expect_contains "$T/flush.out" "sent 1, rejected 0"
	grep -q "a symlink; not sent\|not a plain file with one link" "$T/flush.out" ||
		fail "no refusal reported: $(cat "$T/flush.out")"
	wait_until 20 settled
	expect_not_contains "$T/daemon.log" "delivery refused"
	expect_eq "$(ls "$spool" | wc -l)" "$([ "$(id -u)" -eq 0 ] && echo 3 || echo 2)" "left in the spool"
	if [ "$(id -u)" -eq 0 ]; then
		# One at a time, each refusal has its own line.
		rm "$spool"/*aaaa*.json "$spool"/*bbbb*.json
		expect_status 2 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
		expect_contains "$T/flush.out" "belongs to uid $(id -u nobody), neither the repository's owner"
	fi
	# A spool that is a symlink is not used at all.
	rm -rf "$spool"
	mkdir "$T/elsewhere"
	cp "$T/event.json" "$T/elsewhere/00000000000000000004-dddddddd-dddd-4ddd-8ddd-dddddddddddd.json" 2>/dev/null ||
		printf '{}' >"$T/elsewhere/00000000000000000004-dddddddd-dddd-4ddd-8ddd-dddddddddddd.json"
	ln -s "$T/elsewhere" "$spool"
	expect_status 2 "$GITGATE" notify --flush "$T/src/acme/app.git" >"$T/flush.out" 2>&1
	expect_contains "$T/flush.out" "is not a directory (a symlink?)"
}

# Two repositories with the same directory name are two repositories: each is
# named by its path below gitgate.repoRoot (item 11 of the hardening work).
t_same_basename_in_two_teams() {
	deploy_config "  - name: a-app
    source: git
    repo: team-a/app
    ref: refs/heads/main
    run: [\"sh\", \"-c\", \"echo \$1 >> $T/deployed\", \"sh\", \"{repo}\"]"
	start_daemon
	for team in team-a team-b; do
		git init -q --bare -b main "$T/src/$team/app.git"
		git -C "$T/src/$team/app.git" config gitgate.notifyUrl "http://127.0.0.1:$PORT/hooks/git"
		git -C "$T/src/$team/app.git" config gitgate.notifySecretFile "$T/git.secret"
		git -C "$T/src/$team/app.git" config gitgate.repoRoot "$T/src"
		printf '#!/bin/sh\nexec "%s/post-receive" "$@"\n' "$GG_HOOKS" >"$T/src/$team/app.git/hooks/post-receive"
		chmod +x "$T/src/$team/app.git/hooks/post-receive"
	done
	git init -q -b main "$T/w"
	commit a.txt one
	git -C "$T/w" push -q "$T/src/team-b/app.git" main 2>"$T/push.out"
	expect_contains "$T/push.out" "sent 1 event(s)"
	git -C "$T/w" push -q "$T/src/team-a/app.git" main 2>"$T/push.out"
	expect_contains "$T/push.out" "sent 1 event(s)"
	wait_until 20 settled
	expect_eq "$(cat "$T/deployed")" "team-a/app" "deployed for"
	# Without a root, the whole path names it: still not "app".
	git -C "$T/src/team-b/app.git" config --unset gitgate.repoRoot
	commit a.txt two
	git -C "$T/w" push -q "$T/src/team-b/app.git" main 2>"$T/push.out"
	expect_contains "$T/push.out" "sent 1 event(s)"
	expect_contains "$T/daemon.log" "result=ignored"
	expect_eq "$(cat "$T/deployed")" "team-a/app" "deployed for"
}

run_cases
