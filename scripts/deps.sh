#!/bin/sh
# Install what gitgate needs to build and test, but only when something is missing:
# `make` and `make test` call this before anything else, so a fresh Debian machine
# gets from clone to running with those two commands.
set -eu

PKGS="libgit2 yaml-0.1 libpcre2-8 openssl jansson libevent libevent_openssl sqlite3 gpgme libpq"
TOOLS="cc git curl pkg-config python3"
# The built-in Kubernetes schemas are committed gzip-compressed.
TOOLS="$TOOLS gzip"
# What the tests of the man pages and systemd units run.
TOOLS="$TOOLS mandoc groff man col systemd-analyze systemd-socket-activate"
# What the deployment tests run: signed events, and the ssh:// and https://
# servers of tests/e2e/deploy_remote.sh (sshd is checked by path below).
TOOLS="$TOOLS openssl ssh-keygen ssh-keyscan"
# The multi-user server tests: accounts, Apache's password file, a change of account.
TOOLS="$TOOLS htpasswd setpriv setsid runuser"
# What tests/e2e/gitolite.sh sets up for a test account.
TOOLS="$TOOLS gitolite"
# The signature tests sign commits and tags with real keys of both kinds.
TOOLS="$TOOLS gpg"
DEBS="build-essential pkg-config git curl ca-certificates python3 libgit2-dev libyaml-dev \
libpcre2-dev libssl-dev libjansson-dev libevent-dev libsqlite3-dev"
# OpenPGP signatures are checked with GPGME (Debian 12's libgpgme-dev ships gpgme.pc),
# which runs gpg itself.
DEBS="$DEBS libgpgme-dev gnupg"
DEBS="$DEBS gzip mandoc groff-base man-db bsdextrautils systemd"
DEBS="$DEBS openssl openssh-client openssh-server"
# tests/e2e/multiuser_http.sh: Apache, and nginx with fcgiwrap, running git-http-backend
# with basic auth.
DEBS="$DEBS passwd util-linux apache2 apache2-utils nginx fcgiwrap"
# The proxies tests/e2e/daemon_tls.sh puts in front of the daemon.
DEBS="$DEBS caddy"
DEBS="$DEBS gitolite3"
# The PostgreSQL store: libpq to build, and a server the tests start for
# themselves (tests/pgserver.sh; Debian keeps initdb and pg_ctl off PATH).
DEBS="$DEBS libpq-dev postgresql"

missing=""
for t in $TOOLS; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
# /usr/sbin is not in every user's PATH.
[ -x /usr/sbin/sshd ] || missing="$missing sshd"
[ -x /usr/sbin/apache2 ] || missing="$missing apache2"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -x /usr/sbin/fcgiwrap ] || missing="$missing fcgiwrap"
[ -x /usr/sbin/useradd ] || missing="$missing useradd"
command -v caddy >/dev/null 2>&1 || missing="$missing caddy"
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$missing postgresql"
if command -v pkg-config >/dev/null 2>&1; then
	for p in $PKGS; do
		pkg-config --exists "$p" || missing="$missing $p"
	done
fi
[ -z "$missing" ] && exit 0

echo "gitgate: missing build dependencies:$missing; installing with apt-get" >&2
if ! command -v apt-get >/dev/null 2>&1; then
	echo "gitgate: no apt-get here; install the -dev packages of:$missing" >&2
	exit 2
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own sshd; installing openssh-server must not start
# (or fail to start) the system's one: no service starts during the install.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi
# gitolite3 asks debconf for an administrator's key and sets gitolite up for its
# own account when given one: preseed none, so that it sets nothing up (the tests
# set gitolite up for an account of their own) and never prompts.
if command -v debconf-set-selections >/dev/null 2>&1; then
	echo "gitolite3 gitolite3/adminkey string" | $SUDO debconf-set-selections
fi
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $DEBS >&2
