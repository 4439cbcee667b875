#!/bin/sh
# gitolite as the gate's home. The gitolite cases set gitolite up (Debian's
# gitolite3, installed by scripts/deps.sh) for a test account made for the
# case (gg... , removed when the case ends), start a real sshd on loopback, and
# push as two gitolite users, alice and bob, with their own keys; the admin
# changes gitolite.conf by pushing to gitolite-admin, as on a real server.
# `gitgate install-hook --gitolite` runs as the gitolite account. The checks of
# installed hooks (`gitgate status --hooks`) also run on plain bare repositories.
. "$(dirname "$0")/../lib.sh"

SSHD=/usr/sbin/sshd

expect_eq() { # GOT WANT WHAT
	[ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

# need_gitolite: true when the gitolite cases can run here; says why not otherwise.
need_gitolite() {
	_why=""
	if [ "$(id -u)" -ne 0 ]; then
		_why="not root: a gitolite account can only be made (and sshd run for it) as root"
	elif ! command -v gitolite >/dev/null 2>&1; then
		_why="no gitolite: scripts/deps.sh installs Debian's gitolite3"
	elif [ ! -x "$SSHD" ] || ! command -v useradd >/dev/null 2>&1; then
		_why="no sshd or useradd"
	fi
	[ -z "$_why" ] && return 0
	echo "skipped: $_why"
	return 1
}

# Everything a case started or made goes when it ends, pass or fail.
cleanup() {
	if [ -n "${SSHD_PID:-}" ]; then
		kill -TERM "$SSHD_PID" 2>/dev/null || true
		wait "$SSHD_PID" 2>/dev/null || true
	fi
	SSHD_PID=""
	# userdel refuses while the account still runs something (a session that is
	# still closing): try again for a moment.
	_i=0
	while [ -n "${GLU:-}" ] && getent passwd "$GLU" >/dev/null && [ $_i -lt 50 ]; do
		userdel "$GLU" 2>/dev/null || sleep 0.1
		_i=$((_i + 1))
	done
}

# as_git CMD...: run CMD as the gitolite account, in its home, as a login would.
as_git() {
	runuser -u "$GLU" -- env -i HOME="$GLHOME" USER="$GLU" LOGNAME="$GLU" \
		PATH=/usr/local/bin:/usr/bin:/bin sh -c 'cd && exec "$@"' sh "$@"
}

# gitgate_as_git ARGS...: the installed gitgate, as the gitolite account.
gitgate_as_git() {
	as_git "$PREFIX/bin/gitgate" "$@"
}

# start_sshd: an sshd on a free loopback port that lets only the gitolite
# account in, with the keys gitolite writes to its ~/.ssh/authorized_keys.
start_sshd() {
	mkdir -p /run/sshd "$T/sshd"
	ssh-keygen -q -t ed25519 -N '' -C test-host -f "$T/sshd/host_key"
	SPORT=$(free_port)
	cat >"$T/sshd/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SPORT
HostKey $T/sshd/host_key
PidFile $T/sshd/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers $GLU
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
EOF
	"$SSHD" -D -e -f "$T/sshd/sshd_config" 2>"$T/sshd.log" &
	SSHD_PID=$!
	awk -v p="$SPORT" '{ print "[127.0.0.1]:" p " " $1 " " $2 }' "$T/sshd/host_key.pub" >"$T/keys/known_hosts"
	_want=$(cut -d' ' -f2 "$T/sshd/host_key.pub")
	_i=0
	until ssh-keyscan -T 1 -p "$SPORT" 127.0.0.1 2>/dev/null | grep -qF "$_want"; do
		_i=$((_i + 1))
		if ! kill -0 "$SSHD_PID" 2>/dev/null || [ $_i -gt 100 ]; then
			cat "$T/sshd.log" >&2
			fail "sshd did not start on 127.0.0.1:$SPORT (log above)"
		fi
		sleep 0.1
	done
}

# gl_up: a gitolite account with admin, alice and bob; repositories app
# (alice and bob write) and testing; gitgate installed under $PREFIX, the
# policy in the account's home. The gate is not installed yet.
gl_up() {
	GLU=gg$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	GLHOME=$T/gl
	PREFIX=$T/prefix
	trap cleanup EXIT
	useradd -M -d "$GLHOME" -s /bin/sh -U "$GLU"
	# useradd leaves the account locked, and sshd refuses locked accounts: keys only.
	usermod -p '*' "$GLU"
	chmod 711 "$T"
	mkdir -p "$GLHOME" "$PREFIX/bin" "$PREFIX/libexec/gitgate" "$T/keys"
	cp "$GITGATE" "$PREFIX/bin/"
	cp "$GG_HOOKS"/* "$PREFIX/libexec/gitgate/"
	chmod -R a+rX "$PREFIX"
	cat >"$GLHOME/policy.yaml" <<'EOF'
version: 1
commits:
  message_pattern: '^(feat|fix): .+'
bypass:
  users: [bob]
EOF
	for u in admin alice bob; do
		ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$T/keys/$u"
	done
	cp "$T/keys/admin.pub" "$GLHOME/admin.pub"
	chown -R "$GLU:" "$GLHOME"
	as_git gitolite setup -pk "$GLHOME/admin.pub" >"$T/setup.log" 2>&1 || {
		cat "$T/setup.log" >&2
		fail "gitolite setup failed"
	}
	start_sshd
	clone admin gitolite-admin "$T/admin"
	cp "$T/keys/alice.pub" "$T/keys/bob.pub" "$T/admin/keydir/"
	conf_repo app "RW+ = alice bob"
	admin_push "add alice and bob, and app"
	[ -d "$GLHOME/repositories/app.git" ] || fail "gitolite did not create app.git"
}

# git_as USER ARGS...: git over ssh with USER's key, output in $T/out.
git_as() {
	_u=$1
	shift
	GIT_SSH_COMMAND="ssh -F /dev/null -i $T/keys/$_u -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=$T/keys/known_hosts -o StrictHostKeyChecking=yes" \
		git "$@" >"$T/out" 2>&1
}

url() { echo "ssh://$GLU@127.0.0.1:$SPORT/$1"; }

# clone USER REPO DIR
clone() {
	git_as "$1" clone -q "$(url "$2")" "$3" || {
		cat "$T/out" >&2
		fail "$1 could not clone $2"
	}
	git -C "$3" config user.name "$1"
	git -C "$3" config user.email "$1@example.com"
}

# conf_repo NAME RULE: a repository in gitolite.conf (pushed by admin_push).
conf_repo() {
	printf 'repo %s\n    %s\n' "$1" "$2" >>"$T/admin/conf/gitolite.conf"
}

# admin_push MESSAGE: commit the admin clone and push it; git's status is returned.
admin_push() {
	git -C "$T/admin" add -A
	git -C "$T/admin" commit -q -m "$1"
	git_as admin -C "$T/admin" push origin HEAD
}

# work USER REPO: a clone of REPO as USER in $T/USER-REPO.
work() {
	[ -d "$T/$1-$2" ] || clone "$1" "$2" "$T/$1-$2"
	W=$T/$1-$2
}

# commit_in DIR MESSAGE: a new commit in DIR.
commit_in() {
	echo "$2" >>"$1/file.txt"
	git -C "$1" add file.txt
	git -C "$1" commit -q -m "$2"
}

# push_as USER REPO MESSAGE [OPTIONS...]: commit MESSAGE in USER's clone of
# REPO and push it; git's status is returned, its output in $T/out.
push_as() {
	_u=$1 _r=$2 _m=$3
	shift 3
	work "$_u" "$_r"
	# On top of what the server has (the other user may have pushed since).
	git_as "$_u" -C "$W" fetch -q origin
	if git -C "$W" rev-parse -q --verify refs/remotes/origin/main >/dev/null; then
		git -C "$W" checkout -q -B main refs/remotes/origin/main
	fi
	commit_in "$W" "$_m"
	git_as "$_u" -C "$W" push "$@" origin HEAD:refs/heads/main
}

# A refused push leaves the clone ahead: drop the commit before the next one.
drop_last() {
	git -C "$W" reset -q --hard HEAD~1
}

# hooks_of REPO: the hooks a repository has, git's samples left out.
hooks_of() {
	ls "$GLHOME/repositories/$1.git/hooks" | grep -v '\.sample$' | tr '\n' ' '
}

install_gate() { # ARGS...: install-hook --gitolite as the gitolite account, output in $T/install.out
	gitgate_as_git install-hook --gitolite "$@" >"$T/install.out" 2>&1 || {
		cat "$T/install.out" >&2
		fail "install-hook --gitolite $* failed"
	}
}

t_gitolite_gates_every_repository_but_the_admin_one() {
	need_gitolite || return 0
	gl_up
	cp "$GLHOME/.gitolite.rc" "$T/rc.before"
	# Root, with the gitolite user's home: refused, or gitolite's files would be root's.
	expect_status 2 env HOME="$GLHOME" "$GITGATE" install-hook --gitolite >"$T/install.out" 2>&1
	expect_contains "$T/install.out" "gitgate: $GLHOME/repositories belongs to $GLU: run this as that user"
	cmp "$GLHOME/.gitolite.rc" "$T/rc.before" || fail "the rc changed"
	install_gate --policy policy.yaml
	expect_contains "$T/install.out" "$GLHOME/.gitolite.rc: LOCAL_CODE set to"
	expect_contains "$T/install.out" "GIT_CONFIG_KEYS admits receive.advertisePushOptions"
	expect_contains "$T/install.out" "$GLHOME/local/hooks/common/pre-receive: installed the gate as gitolite's common pre-receive hook (gitolite-admin skipped)"
	expect_contains "$T/install.out" "$GLHOME/.gitconfig: receive.advertisePushOptions = true"
	expect_contains "$T/install.out" "gitgate: all 3 repositories under $GLHOME/repositories run the gate"

	# The policy, by gitolite user.
	push_as alice app "feat: first" || {
		cat "$T/out" >&2
		fail "alice's good commit was refused"
	}
	! push_as alice app "wip" || fail "alice's wip commit was accepted"
	expect_contains "$T/out" "remote: error[commit-message] $(git -C "$W" rev-parse --short=7 HEAD): subject 'wip' does not match message_pattern"
	drop_last
	# Bypass: only bob is listed, and the gate knows who pushes from gitolite's GL_USER.
	! push_as alice app "wip again" -o "gitgate.bypass=in a hurry" || fail "alice bypassed the gate"
	expect_contains "$T/out" "remote: gitgate: bypass refused: user 'alice' is not in bypass.users; checking the push"
	expect_contains "$T/out" "remote: error[commit-message]"
	drop_last
	push_as bob app "hotfix" -o "gitgate.bypass=prod is down" || {
		cat "$T/out" >&2
		fail "bob's bypass was refused"
	}
	expect_contains "$T/out" "remote: gitgate: bypass by bob: prod is down"
	expect_contains "$T/out" "remote: gitgate: push accepted without checks (bypass logged)"

	# gitolite-admin is not gated: this message breaks the policy. A repository
	# added to gitolite.conf after the install is gated.
	conf_repo later "RW+ = alice"
	admin_push "add later" || {
		cat "$T/out" >&2
		fail "the admin's push to gitolite-admin was refused"
	}
	[ -L "$GLHOME/repositories/later.git/hooks/pre-receive" ] || fail "later.git has no pre-receive link"
	push_as alice later "fix: second" || fail "a good commit to the new repository was refused"
	! push_as alice later "wip" || fail "a wip commit reached the new repository"
	expect_contains "$T/out" "remote: error[commit-message]"
	drop_last

	# Again: nothing changes.
	sum() { cat "$GLHOME/.gitolite.rc" "$GLHOME/.gitconfig" "$GLHOME/local/hooks/common/pre-receive" | cksum; }
	_before=$(sum)
	install_gate --policy policy.yaml
	expect_eq "$(sum)" "$_before" "the files after a second install"
	expect_contains "$T/install.out" "gitgate: nothing to change: all 4 repositories under $GLHOME/repositories run the gate"
	expect_eq "$(grep -c . "$T/install.out")" 1 "lines of the second install's report"
	expect_status 0 "$GITGATE" status --hooks "$GLHOME/repositories" >"$T/status.out"
	expect_contains "$T/status.out" "gitgate: all 4 repositories run the gate"

	# A common hook removed by hand leaves dangling links: status says so.
	mv "$GLHOME/local/hooks/common/pre-receive" "$T/moved-hook"
	expect_status 1 "$GITGATE" status --hooks "$GLHOME/repositories" >"$T/status.out"
	expect_contains "$T/status.out" "$GLHOME/repositories/app.git: dangling: hooks/pre-receive -> $GLHOME/local/hooks/common/pre-receive, which does not exist"
	expect_contains "$T/status.out" "gitgate: 4 of 4 repositories do not run the gate"
	# Installing again repairs it.
	rm "$T/moved-hook"
	install_gate --policy policy.yaml
	expect_contains "$T/install.out" "$GLHOME/local/hooks/common/pre-receive: installed the gate"
	expect_contains "$T/install.out" "gitgate: all 4 repositories under $GLHOME/repositories run the gate"

	# Uninstall: gitolite's own hooks only, the rc as it was, no dangling link.
	gitgate_as_git install-hook --gitolite --uninstall >"$T/uninstall.out" 2>&1 || {
		cat "$T/uninstall.out" >&2
		fail "--uninstall failed"
	}
	expect_contains "$T/uninstall.out" "$GLHOME/local/hooks/common/pre-receive: removed"
	expect_contains "$T/uninstall.out" "removed hooks/pre-receive (the link to $GLHOME/local/hooks/common/pre-receive) from 4 repositories"
	cmp "$GLHOME/.gitolite.rc" "$T/rc.before" || fail "the rc differs from before the install"
	[ ! -e "$GLHOME/local" ] || fail "LOCAL_CODE's directory is left: $(find "$GLHOME/local")"
	! as_git git config --global --get receive.advertisePushOptions >/dev/null || fail "push options still set"
	for r in app later testing; do
		expect_eq "$(hooks_of $r)" "update " "hooks of $r"
	done
	expect_eq "$(hooks_of gitolite-admin)" "post-update update " "hooks of gitolite-admin"
	expect_eq "$(find "$GLHOME/repositories" -xtype l | wc -l)" 0 "dangling links"
	push_as alice app "wip, ungated" || fail "a push after --uninstall was refused"
	expect_not_contains "$T/out" "gitgate"
	expect_status 1 "$GITGATE" status --hooks "$GLHOME/repositories" >"$T/status.out"
	expect_contains "$T/status.out" "$GLHOME/repositories/app.git: missing: no hooks/pre-receive"
	# And once more: nothing left to remove.
	gitgate_as_git install-hook --gitolite --uninstall >"$T/uninstall.out" 2>&1
	expect_contains "$T/uninstall.out" "gitgate: nothing to remove"
}

t_gitolite_include_admin_gates_gitolite_admin() {
	need_gitolite || return 0
	gl_up
	install_gate --policy policy.yaml --include-admin
	expect_contains "$T/install.out" "(gitolite-admin included)"
	conf_repo later "RW+ = alice"
	! admin_push "add later" || fail "the admin's non-conforming push was accepted"
	expect_contains "$T/out" "remote: error[commit-message]"
	[ ! -d "$GLHOME/repositories/later.git" ] || fail "gitolite compiled a refused push"
	git -C "$T/admin" commit -q --amend -m "feat: add later"
	git_as admin -C "$T/admin" push origin HEAD || fail "the admin's good push was refused"
	[ -d "$GLHOME/repositories/later.git" ] || fail "later.git not created"
}

t_gitolite_chains_the_common_hook_already_there() {
	need_gitolite || return 0
	gl_up
	# The site's own common hook: refuses the branch "frozen", says it ran.
	sed -i 's|^%RC = (|%RC = (\n    LOCAL_CODE => "$ENV{HOME}/site",|' "$GLHOME/.gitolite.rc"
	mkdir -p "$GLHOME/site/hooks/common"
	cat >"$GLHOME/site/hooks/common/pre-receive" <<'EOF'
#!/bin/sh
echo "site hook ran for $GL_REPO"
while read -r old new ref; do
	[ "$ref" = refs/heads/frozen ] && { echo "site hook: frozen is frozen"; exit 1; }
done
exit 0
EOF
	chmod 755 "$GLHOME/site/hooks/common/pre-receive"
	chown -R "$GLU:" "$GLHOME/site"
	as_git gitolite setup --hooks-only
	cp "$GLHOME/.gitolite.rc" "$T/rc.before"
	cp "$GLHOME/site/hooks/common/pre-receive" "$T/site-hook"

	install_gate --policy policy.yaml
	expect_contains "$T/install.out" "$GLHOME/site/hooks/common/pre-receive: the common pre-receive hook already there moved to $GLHOME/site/gitgate/pre-receive.chained; it runs after the gate"
	expect_not_contains "$T/install.out" "LOCAL_CODE set"
	push_as alice app "feat: one" || fail "a good push was refused"
	expect_contains "$T/out" "remote: site hook ran for app"
	! push_as alice app "wip" || fail "the gate did not run before the site hook"
	expect_contains "$T/out" "remote: error[commit-message]"
	drop_last
	commit_in "$W" "feat: frozen"
	! git_as alice -C "$W" push origin HEAD:refs/heads/frozen || fail "the site hook did not run"
	expect_contains "$T/out" "remote: site hook: frozen is frozen"
	# gitolite-admin still runs the site's hook, not the gate.
	conf_repo later "RW+ = alice"
	admin_push "add later" || fail "the admin's push was refused"
	expect_contains "$T/out" "remote: site hook ran for gitolite-admin"

	gitgate_as_git install-hook --gitolite --uninstall >"$T/uninstall.out" 2>&1 || {
		cat "$T/uninstall.out" >&2
		fail "--uninstall failed"
	}
	expect_contains "$T/uninstall.out" "the common pre-receive hook from before gitgate is back"
	cmp "$GLHOME/site/hooks/common/pre-receive" "$T/site-hook" || fail "the site hook changed"
	cmp "$GLHOME/.gitolite.rc" "$T/rc.before" || fail "the rc differs from before the install"
	[ ! -e "$GLHOME/site/gitgate" ] || fail "gitgate's state directory is left"
	expect_eq "$(find "$GLHOME/repositories" -xtype l | wc -l)" 0 "dangling links"
	expect_eq "$(readlink "$GLHOME/repositories/later.git/hooks/pre-receive")" \
		"$GLHOME/site/hooks/common/pre-receive" "later.git's pre-receive"
	push_as alice app "wip" || fail "after --uninstall the gate still ran"
	expect_contains "$T/out" "remote: site hook ran for app"
}

t_gitolite_keeps_a_repositorys_own_hook_unless_forced() {
	need_gitolite || return 0
	gl_up
	printf '#!/bin/sh\nexit 0\n' >"$GLHOME/repositories/testing.git/hooks/pre-receive"
	chmod 755 "$GLHOME/repositories/testing.git/hooks/pre-receive"
	chown "$GLU:" "$GLHOME/repositories/testing.git/hooks/pre-receive"
	# A dangling link holds nothing to keep: no reason to refuse.
	ln -s "$T/gone" "$GLHOME/repositories/app.git/hooks/pre-receive"
	cp "$GLHOME/.gitolite.rc" "$T/rc.before"
	! gitgate_as_git install-hook --gitolite >"$T/install.out" 2>&1 || fail "the install replaced a repository's own hook"
	expect_contains "$T/install.out" "$GLHOME/repositories/testing.git: has its own hooks/pre-receive, which gitolite setup would replace"
	expect_not_contains "$T/install.out" "app.git"
	expect_contains "$T/install.out" "nothing was changed"
	cmp "$GLHOME/.gitolite.rc" "$T/rc.before" || fail "the rc changed"
	[ ! -e "$GLHOME/local" ] || fail "LOCAL_CODE's directory was made"
	install_gate --force
	expect_contains "$T/install.out" "(--force: replacing it)"
	expect_contains "$T/install.out" "all 3 repositories under $GLHOME/repositories run the gate"
}

t_gitolite_rc_owned_by_root_as_on_debian() {
	need_gitolite || return 0
	gl_up
	# Debian's package keeps the rc in /etc, owned by root, and links it from the home.
	mkdir -m 755 "$T/etc"
	mv "$GLHOME/.gitolite.rc" "$T/etc/gitolite.rc"
	chown root:root "$T/etc/gitolite.rc"
	chmod 644 "$T/etc/gitolite.rc"
	ln -s "$T/etc/gitolite.rc" "$GLHOME/.gitolite.rc"
	cp "$T/etc/gitolite.rc" "$T/rc.before"
	expect_status 2 gitgate_as_git install-hook --gitolite --policy policy.yaml >"$T/install.out" 2>&1
	expect_contains "$T/install.out" "gitgate: nothing was changed; set in %RC in $T/etc/gitolite.rc (as its owner), in place of any line for the same key:"
	expect_contains "$T/install.out" "    LOCAL_CODE => \"\$ENV{HOME}/local\","
	expect_contains "$T/install.out" "    GIT_CONFIG_KEYS => 'receive\\.advertisePushOptions',"
	cmp "$T/etc/gitolite.rc" "$T/rc.before" || fail "the rc changed"
	[ ! -e "$GLHOME/local" ] && [ ! -e "$GLHOME/.gitconfig" ] || fail "something was changed"
	# Root adds what it was told; the install then goes through without touching the rc.
	grep '^    LOCAL_CODE => ' "$T/install.out" >"$T/local-line"
	grep '^    GIT_CONFIG_KEYS => ' "$T/install.out" >"$T/keys-line"
	sed -i -e "/^%RC = (/r $T/local-line" -e "/^ *GIT_CONFIG_KEYS *=>/{r $T/keys-line" -e "d}" "$T/etc/gitolite.rc"
	diff "$T/rc.before" "$T/etc/gitolite.rc" >"$T/rc.diff" || true
	expect_eq "$(grep -c '^[<>]' "$T/rc.diff")" 3 "lines root changed"
	cp "$T/etc/gitolite.rc" "$T/rc.edited"
	install_gate --policy policy.yaml
	expect_not_contains "$T/install.out" ".gitolite.rc"
	cmp "$T/etc/gitolite.rc" "$T/rc.edited" || fail "the rc changed"
	push_as alice app "feat: one" || fail "a good push was refused"
	! push_as alice app "wip" || fail "the gate did not run"
	# What root added is root's: --uninstall leaves it.
	gitgate_as_git install-hook --gitolite --uninstall >"$T/uninstall.out" 2>&1
	cmp "$T/etc/gitolite.rc" "$T/rc.edited" || fail "--uninstall changed root's rc"
	expect_eq "$(find "$GLHOME/repositories" -xtype l | wc -l)" 0 "dangling links"
	expect_eq "$(hooks_of app)" "update " "hooks of app"
}

t_gitolite_needs_the_gitolite_account() {
	# As an account without gitolite: a clear error and nothing written.
	mkdir -p "$HOME"
	expect_status 2 "$GITGATE" install-hook --gitolite >"$T/out" 2>&1
	expect_contains "$T/out" "$HOME/.gitolite.rc: No such file or directory; run this as the gitolite user, after gitolite setup"
	expect_status 2 "$GITGATE" install-hook --gitolite --uninstall --policy x >"$T/out" 2>&1
	expect_contains "$T/out" "--uninstall takes no other option"
	expect_status 2 "$GITGATE" install-hook --gitolite --bogus >"$T/out" 2>&1
	expect_contains "$T/out" "unexpected argument '--bogus'"
}

# ---- gitgate status --hooks, on plain bare repositories ----

t_status_hooks_lists_repositories_without_the_gate() {
	printf 'version: 1\n' >"$T/policy.yaml"
	R=$T/root
	for r in good nested/deep/good2 none dangling replaced hookspath noexec; do
		git init -q --bare "$R/$r.git"
	done
	"$GITGATE" install-hook --policy "$T/policy.yaml" "$R/good.git" "$R/nested/deep/good2.git" \
		"$R/hookspath.git" "$R/noexec.git" >/dev/null
	ln -s "$T/gone/pre-receive" "$R/dangling.git/hooks/pre-receive"
	printf '#!/bin/sh\nexit 0\n' >"$R/replaced.git/hooks/pre-receive"
	chmod 755 "$R/replaced.git/hooks/pre-receive"
	git -C "$R/hookspath.git" config core.hooksPath /srv/other-hooks
	chmod 644 "$R/noexec.git/hooks/pre-receive"
	# A link to a directory outside is not followed (no loops, no leaving the root).
	ln -s "$R" "$R/loop"
	expect_status 1 "$GITGATE" status --hooks "$R" >"$T/out"
	cat >"$T/want" <<EOF
$R/dangling.git: dangling: hooks/pre-receive -> $T/gone/pre-receive, which does not exist
$R/hookspath.git: hooksPath: core.hooksPath is /srv/other-hooks, so git does not run hooks/pre-receive
$R/noexec.git: not executable: git would not run hooks/pre-receive
$R/none.git: missing: no hooks/pre-receive
$R/replaced.git: replaced: hooks/pre-receive is not gitgate's gate
gitgate: 5 of 7 repositories do not run the gate
EOF
	diff -u "$T/want" "$T/out" || fail "status --hooks output differs (above)"
	# The other name gives the same answer.
	expect_status 1 "$GITGATE" install-hook --check "$R" >"$T/out2"
	cmp "$T/out" "$T/out2" || fail "install-hook --check differs from status --hooks"
	# Only gated repositories: exit 0.
	expect_status 0 "$GITGATE" status --hooks "$R/good.git" "$R/nested" >"$T/out"
	expect_contains "$T/out" "gitgate: all 2 repositories run the gate"
}

t_status_hooks_errors() {
	mkdir -p "$T/empty"
	expect_status 2 "$GITGATE" status --hooks "$T/empty" >"$T/out" 2>&1
	expect_contains "$T/out" "gitgate: no git repository under $T/empty"
	expect_status 2 "$GITGATE" status --hooks "$T/nope" >"$T/out" 2>&1
	expect_contains "$T/out" "gitgate: $T/nope: not a directory"
	expect_status 2 "$GITGATE" status --hooks >"$T/out" 2>&1
	expect_contains "$T/out" "usage: gitgate status --hooks DIR..."
	# A repository's name reaches the terminal escaped.
	git init -q --bare "$T/r/$(printf 'evil\033[2J')"
	expect_status 1 "$GITGATE" status --hooks "$T/r" >"$T/out" 2>&1
	expect_contains "$T/out" "$T/r/evil\\x1b[2J: missing"
}

run_cases
