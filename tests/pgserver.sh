#!/bin/sh
# A throwaway PostgreSQL server for the tests, in a directory of its own.
#
#   tests/pgserver.sh start DIR   initdb + pg_ctl start; no TCP, one unix socket in DIR
#   tests/pgserver.sh stop DIR    stop it (DIR is left for the caller to remove)
#
# After start, DIR/conninfo holds a libpq connection string for the role gg
# (password authentication, scram-sha-256) to its database gg, and
# DIR/admin one for the superuser ggadmin (trust, over the socket only).
# DIR/password holds gg's password. The server runs with fsync off (the
# tests want speed, not durability) unless PGSERVER_FSYNC=on (benchmarks).
#
# initdb refuses to run as root: as root, the server runs as `nobody`
# through runuser, owning DIR; otherwise as the caller. Debian keeps initdb
# and pg_ctl under /usr/lib/postgresql/VERSION/bin, off PATH. As root, DIR's
# parent is made traversable (o+x) so that nobody reaches DIR.
set -eu
cmd=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -x "$bin/pg_ctl" ] || {
	echo "pgserver: no PostgreSQL server here (Debian: apt-get install postgresql)" >&2
	exit 2
}
as_server() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}
case $cmd in
start)
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$dir"
		# nobody must reach DIR: its parent (a test's temporary directory) is
		# opened for traversal, not for listing.
		chmod o+x "$(dirname "$dir")"
	fi
	as_server "$bin/initdb" -D "$dir/data" -U ggadmin --auth-local=trust --auth-host=reject \
		-E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	# The superuser by trust, everyone else by password.
	as_server sh -c "printf 'local all ggadmin trust\nlocal all all scram-sha-256\n' \
		>'$dir/data/pg_hba.conf'"
	as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=${PGSERVER_FSYNC:-off} -c max_connections=100" \
		start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	"$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U ggadmin -d postgres \
		-c "CREATE ROLE gg LOGIN PASSWORD '$pw'" -c "CREATE DATABASE gg OWNER gg" >/dev/null
	umask 077
	printf '%s\n' "$pw" >"$dir/password"
	printf 'host=%s user=gg password=%s dbname=gg\n' "$dir" "$pw" >"$dir/conninfo"
	printf 'host=%s user=ggadmin dbname=postgres\n' "$dir" >"$dir/admin"
	;;
stop)
	[ -d "$dir/data" ] || exit 0
	as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	;;
restart)
	as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart \
		-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=${PGSERVER_FSYNC:-off} -c max_connections=100" \
		>/dev/null
	;;
*)
	echo "usage: pgserver.sh start|stop|restart DIR" >&2
	exit 2
	;;
esac
