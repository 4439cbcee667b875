#!/bin/sh
# `make install`: the contract's layout under DESTDIR/PREFIX, units naming the
# installed daemon, and an installed gitgate that finds its own installed hook
# (relocatable: bin/../libexec/gitgate), even after the tree is moved.
. "$(dirname "$0")/../lib.sh"

# make install, without rebuilding: the same build directory and flags as the
# suite that runs this (build/ or build/san/).
do_install() { # DESTDIR PREFIX
	san=
	case $GG_BUILD in */san) san=1 ;; esac
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$GG_TOP" install \
		SANITIZE="$san" DESTDIR="$1" PREFIX="$2" >install.log 2>&1 || {
		cat install.log
		fail "make install failed"
	}
}

expect_file() { # MODE PATH
	[ -f "$2" ] || fail "not installed: $2"
	got=$(stat -c %a "$2")
	[ "$got" = "$1" ] || fail "$2 has mode $got, want $1"
}

t_layout_under_destdir() {
	do_install "$T/dest" /usr/local
	p="$T/dest/usr/local"
	expect_file 755 "$p/bin/gitgate"
	expect_file 755 "$p/sbin/gitgated"
	expect_file 755 "$p/libexec/gitgate/pre-receive"
	expect_file 755 "$p/libexec/gitgate/post-receive"
	expect_file 644 "$p/lib/systemd/system/gitgated.service"
	expect_file 644 "$p/lib/systemd/system/gitgated.socket"
	expect_file 644 "$p/lib/sysusers.d/gitgated.conf"
	expect_file 644 "$p/share/man/man1/gitgate.1"
	expect_file 644 "$p/share/man/man5/gitgate-policy.5"
	expect_file 644 "$p/share/man/man5/gitgated.yaml.5"
	expect_file 644 "$p/share/man/man8/gitgated.8"
	expect_file 644 "$p/share/gitgate/packs/kubernetes-baseline.yaml"
	for s in git github gitlab gitea; do
		expect_file 644 "$p/share/gitgate/examples/$s-policy.yaml"
		expect_file 644 "$p/share/gitgate/examples/$s-gitgated.yaml"
	done
	# DESTDIR is a staging root: nothing installed may point into it.
	! grep -rqF "$T/dest" "$p/lib" "$p/share" || fail "an installed file names DESTDIR"
	expect_contains "$p/lib/systemd/system/gitgated.service" \
		"ExecStart=/usr/local/sbin/gitgated -c /etc/gitgate/gitgated.yaml"
	! grep -q '@SBINDIR@' "$p/lib/systemd/system/gitgated.service" ||
		fail "@SBINDIR@ left in the installed unit"
	"$p/bin/gitgate" --version >version.out
	expect_contains version.out "gitgate "
}

# Installed into a real prefix, the units verify as they are: their daemon
# exists and the man pages they name are installed.
t_installed_units_verify() {
	do_install "" "$T/prefix"
	expect_contains "$T/prefix/lib/systemd/system/gitgated.service" \
		"ExecStart=$T/prefix/sbin/gitgated -c"
	MANPATH="$T/prefix/share/man:" systemd-analyze verify \
		"$T/prefix/lib/systemd/system/gitgated.service" \
		"$T/prefix/lib/systemd/system/gitgated.socket" >verify.out 2>&1 || {
		cat verify.out
		fail "systemd-analyze verify failed on the installed units"
	}
	[ ! -s verify.out ] || {
		cat verify.out
		fail "systemd-analyze verify warned"
	}
	# The sysusers entry creates the user the unit runs as.
	mkdir -p root/etc
	systemd-sysusers --root="$T/root" "$T/prefix/lib/sysusers.d/gitgated.conf" >sysusers.out 2>&1
	grep -q '^gitgated:x:[0-9]*:[0-9]*:.*:/var/lib/gitgated:/usr/sbin/nologin$' root/etc/passwd ||
		fail "sysusers did not create the gitgated user"
}

# A bare repository with the installed gate: install-hook links the hook of
# the installation it belongs to, and that hook enforces the policy with the
# installed packs.
guard_and_push() { # PREFIX
	prefix=$1
	git init -q --bare repo.git
	cat >policy.yaml <<'YAML'
version: 1
manifests:
  paths: ["clusters/**/*.yaml"]
  packs: [kubernetes-baseline]
files:
  deny_paths: ["**/*.pem"]
YAML
	"$prefix/bin/gitgate" install-hook --policy "$T/policy.yaml" "$T/repo.git" >hook.out 2>&1 || {
		cat hook.out
		fail "install-hook failed"
	}
	# The hook the repository runs is the installed one.
	hook=repo.git/hooks/pre-receive
	[ -e "$hook" ] || fail "no pre-receive hook installed"
	if [ -L "$hook" ]; then
		[ "$(readlink -f "$hook")" = "$(readlink -f "$prefix/libexec/gitgate/pre-receive")" ] ||
			fail "hook links to $(readlink -f "$hook")"
	else
		expect_contains "$hook" "$prefix/libexec/gitgate/pre-receive"
	fi
	expect_not_contains hook.out "$GG_BUILD"
	! grep -rqF "$GG_BUILD" repo.git/hooks repo.git/config || fail "the repository names the build tree"

	git clone -q repo.git work 2>/dev/null
	cd work
	mkdir -p keys
	echo "-----BEGIN PRIVATE KEY-----" >keys/server.pem
	git add keys && git commit -q -m "add a key"
	expect_status 1 git push -q origin HEAD:refs/heads/main >push.out 2>&1
	expect_contains push.out "keys/server.pem"
	expect_contains push.out "error["
	cd ..
}

t_installed_gitgate_uses_installed_hook() {
	do_install "$T/dest" /usr/local
	guard_and_push "$T/dest/usr/local"
}

# Relocatable: the whole tree moved elsewhere still finds its own hook.
t_moved_installation_finds_its_hook() {
	do_install "$T/dest" /opt/gitgate
	mv "$T/dest/opt/gitgate" "$T/moved"
	guard_and_push "$T/moved"
}

# The examples installed with it are valid: every policy lints, every daemon
# config checks (with its secret files made, and its paths moved under $T).
t_installed_examples_are_valid() {
	do_install "$T/dest" /usr/local
	p="$T/dest/usr/local"
	n=0
	for f in "$p"/share/gitgate/examples/*-policy.yaml; do
		"$p/bin/gitgate" policy lint "$f" >lint.out 2>&1 || {
			cat lint.out
			fail "$(basename "$f") does not lint"
		}
		n=$((n + 1))
	done
	mkdir -p etc state
	for f in "$p"/share/gitgate/examples/*-gitgated.yaml; do
		sed -e "s|/etc/gitgate/|$T/etc/|g" -e "s|/var/lib/gitgated/ssh/|$T/etc/|g" \
			-e "s|state_dir: .*|state_dir: $T/state|" "$f" >cfg.yaml
		for s in $(grep -oE "$T/etc/[A-Za-z0-9._-]+" cfg.yaml | sort -u); do
			(umask 077 && echo "whsec_c2VjcmV0IGtleSBmb3IgdGVzdHM=" >"$s")
		done
		"$p/sbin/gitgated" -c cfg.yaml --check >check.out 2>&1 || {
			cat check.out
			fail "$(basename "$f") does not pass gitgated --check"
		}
		n=$((n + 1))
	done
	[ $n -eq 8 ] || fail "checked $n examples, want 8"
}

run_cases
