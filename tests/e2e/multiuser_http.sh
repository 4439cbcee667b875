#!/bin/sh
# Smart HTTP: Apache (started on loopback by the case, with setsid: its
# prefork parent signals its whole process group when it stops), or nginx
# with fcgiwrap, runs git-http-backend as the web server's account ggmuweb, a
# member of the repository's group, with basic auth for two users. The hook sees the HTTP
# user as REMOTE_USER; the notifier reaches gitgated's unix socket as ggmuweb,
# an account the local source trusts to name its own users.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"
. "$(dirname "$0")/multiuser.inc"

APACHE=/usr/sbin/apache2
MODS=/usr/lib/apache2/modules
BACKEND=/usr/lib/git-core/git-http-backend
NGINX=/usr/sbin/nginx
FCGIWRAP=/usr/sbin/fcgiwrap

# mu_apache: Apache on a free loopback port; users dave and erin.
mu_apache() {
	[ -x "$APACHE" ] || fail "$APACHE is missing: install apache2 (scripts/deps.sh does)"
	command -v htpasswd >/dev/null || fail "htpasswd is missing: install apache2-utils"
	mkdir -p "$T/apache/run"
	HPORT=$(free_port)
	htpasswd -bcB "$T/apache/htpasswd" dave dave-pw-$$ 2>/dev/null
	htpasswd -bB "$T/apache/htpasswd" erin erin-pw-$$ 2>/dev/null
	chmod 644 "$T/apache/htpasswd"
	cat >"$T/apache/httpd.conf" <<CONF
ServerName 127.0.0.1
Listen 127.0.0.1:$HPORT
PidFile $T/apache/run/httpd.pid
DefaultRuntimeDir $T/apache/run
ErrorLog $T/apache/error.log
LogLevel warn
User $MU_WEB
Group $MU_GROUP
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authn_core_module $MODS/mod_authn_core.so
LoadModule authn_file_module $MODS/mod_authn_file.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule authz_user_module $MODS/mod_authz_user.so
LoadModule auth_basic_module $MODS/mod_auth_basic.so
LoadModule alias_module $MODS/mod_alias.so
LoadModule env_module $MODS/mod_env.so
LoadModule cgi_module $MODS/mod_cgi.so
# git-http-backend(1): the repositories, all of them exported, and (git 2.39
# matches no exact path here, GIT_DIR being ".") safe.directory for any.
SetEnv GIT_PROJECT_ROOT $T/srv
SetEnv GIT_HTTP_EXPORT_ALL 1
SetEnv GIT_CONFIG_COUNT 1
SetEnv GIT_CONFIG_KEY_0 safe.directory
SetEnv GIT_CONFIG_VALUE_0 *
ScriptAlias /git/ $BACKEND/
<Location /git/>
	AuthType Basic
	AuthName "git"
	AuthUserFile $T/apache/htpasswd
	Require valid-user
</Location>
CONF
	HTTP_BASE="http://127.0.0.1:$HPORT/git"
	"$APACHE" -t -f "$T/apache/httpd.conf" 2>"$T/apache/check.log" ||
		fail "apache config: $(cat "$T/apache/check.log")"
	setsid "$APACHE" -f "$T/apache/httpd.conf" -DFOREGROUND 2>>"$T/apache/error.log" &
	HTTPD_PID=$!
	_i=0
	until curl -s -o /dev/null "http://127.0.0.1:$HPORT/"; do
		_i=$((_i + 1))
		if ! kill -0 "$HTTPD_PID" 2>/dev/null || [ $_i -gt 200 ]; then
			cat "$T/apache/error.log" >&2
			fail "apache did not start on 127.0.0.1:$HPORT"
		fi
		sleep 0.05
	done
}

# as USER git-push-args...: push from $T/w over HTTP as USER; output in $T/out.
as() {
	_u=$1
	shift
	git -C "$T/w" push "${HTTP_BASE%%//*}//$_u:$_u-pw-$$@${HTTP_BASE#*//}/team/app.git" "$@" \
		>"$T/out" 2>&1
}

file() { # PATH CONTENT: commit one file in $T/w
	mkdir -p "$(dirname "$T/w/$1")"
	printf '%s\n' "$2" >"$T/w/$1"
	git -C "$T/w" add "$1"
	git -C "$T/w" commit -q -m "add $1"
}

# mu_nginx: nginx on a free loopback port, git-http-backend through fcgiwrap
# (run as the web server's account); users dave and erin.
mu_nginx() {
	[ -x "$NGINX" ] || fail "$NGINX is missing: install nginx (scripts/deps.sh does)"
	[ -x "$FCGIWRAP" ] || fail "$FCGIWRAP is missing: install fcgiwrap (scripts/deps.sh does)"
	mkdir -p "$T/nginx/tmp" "$T/nginx/fcgi"
	chown "$MU_WEB" "$T/nginx/tmp" "$T/nginx/fcgi"
	NPORT=$(free_port)
	htpasswd -bcB "$T/nginx/htpasswd" dave dave-pw-$$ 2>/dev/null
	htpasswd -bB "$T/nginx/htpasswd" erin erin-pw-$$ 2>/dev/null
	chmod 644 "$T/nginx/htpasswd"
	cat >"$T/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
user $MU_WEB $MU_GROUP;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/nginx/tmp/body;
	fastcgi_temp_path $T/nginx/tmp/fastcgi;
	proxy_temp_path $T/nginx/tmp/proxy;
	uwsgi_temp_path $T/nginx/tmp/uwsgi;
	scgi_temp_path $T/nginx/tmp/scgi;
	client_max_body_size 0;
	server {
		listen 127.0.0.1:$NPORT;
		location ~ ^/git(/.*) {
			auth_basic "git";
			auth_basic_user_file $T/nginx/htpasswd;
			fastcgi_pass unix:$T/nginx/fcgi/fcgiwrap.sock;
			fastcgi_param SCRIPT_FILENAME $BACKEND;
			fastcgi_param PATH_INFO \$1;
			fastcgi_param QUERY_STRING \$query_string;
			fastcgi_param REQUEST_METHOD \$request_method;
			fastcgi_param CONTENT_TYPE \$content_type;
			fastcgi_param CONTENT_LENGTH \$content_length;
			fastcgi_param REMOTE_USER \$remote_user;
			fastcgi_param REMOTE_ADDR \$remote_addr;
			fastcgi_param GIT_PROJECT_ROOT $T/srv;
			fastcgi_param GIT_HTTP_EXPORT_ALL 1;
			fastcgi_param GIT_CONFIG_COUNT 1;
			fastcgi_param GIT_CONFIG_KEY_0 safe.directory;
			fastcgi_param GIT_CONFIG_VALUE_0 *;
		}
	}
}
CONF
	HTTP_BASE="http://127.0.0.1:$NPORT/git"
	setpriv --reuid="$MU_WEB" --regid="$MU_GROUP" --init-groups \
		"$FCGIWRAP" -s "unix:$T/nginx/fcgi/fcgiwrap.sock" 2>>"$T/nginx/fcgiwrap.log" &
	FCGI_PID=$!
	"$NGINX" -t -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" 2>"$T/nginx/check.log" ||
		fail "nginx config: $(cat "$T/nginx/check.log")"
	"$NGINX" -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" 2>>"$T/nginx/error.log" &
	NGINX_PID=$!
	_i=0
	until [ -S "$T/nginx/fcgi/fcgiwrap.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$NPORT/"; do
		_i=$((_i + 1))
		if ! kill -0 "$NGINX_PID" 2>/dev/null || ! kill -0 "$FCGI_PID" 2>/dev/null ||
			[ $_i -gt 200 ]; then
			cat "$T/nginx/error.log" "$T/nginx/fcgiwrap.log" >&2
			fail "nginx and fcgiwrap did not start on 127.0.0.1:$NPORT"
		fi
		sleep 0.05
	done
}

# two_users_push: the pushes of dave and erin through whichever server set HTTP_BASE.
two_users_push() {
	# Without credentials receive-pack is refused before any hook runs.
	git -C "$T/w" commit -q --allow-empty -m "anonymous"
	if git -C "$T/w" push "$HTTP_BASE/team/app.git" main >"$T/out" 2>&1; then
		fail "an anonymous push was accepted"
	fi

	file index.html "v1"
	as dave main || fail "push by dave: $(cat "$T/out")"
	expect_contains "$T/out" "remote: gitgate: notify: sent 1 event(s) to unix:$SOCK:/hooks/local"
	wait_until 20 settled

	file keys/site.pem "-----BEGIN PRIVATE KEY-----"
	if as dave main; then fail "dave's key was accepted: $(cat "$T/out")"; fi
	expect_contains "$T/out" "remote: error[deny-path] keys/site.pem"
	expect_contains "$T/out" "remote: gitgate: push rejected"
	# The bypass user is the one HTTP authenticated (REMOTE_USER).
	as erin -o "gitgate.bypass=test key" main || fail "erin's bypass: $(cat "$T/out")"
	expect_contains "$T/out" "erin"
	wait_until 20 settled

	git -C "$T/w" checkout -q -b topic
	file topic.txt "t"
	as dave topic || fail "push by dave: $(cat "$T/out")"
	wait_until 20 settled
	as erin :refs/heads/topic || fail "deletion by erin: $(cat "$T/out")"
	expect_contains "$T/out" "remote: gitgate: notify: sent 1 event(s)"
	if as dave :refs/heads/main; then fail "main was deleted"; fi
	expect_contains "$T/out" "remote: error["

	# The web server's account is trusted to name its users; the kernel names it.
	expect_eq "$(mu_pushers)" "dave@main erin@main dave@topic" "deployments' pushers"
	mu_assert_shared
}

t_two_http_users_push_through_apache() {
	mu_need_root || return 0
	mu_accounts
	mu_repo
	mu_daemon
	mu_apache
	two_users_push
}

t_two_http_users_push_through_nginx_and_fcgiwrap() {
	mu_need_root || return 0
	mu_accounts
	mu_repo
	mu_daemon
	mu_nginx
	two_users_push
}

run_cases
