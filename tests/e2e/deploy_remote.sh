#!/bin/sh
# Checkout targets that fetch over ssh:// and https:// with the credentials of
# the target's config. Each case starts its own servers on loopback: a real
# OpenSSH sshd (own config, host key and authorized_keys in $T) and a TLS
# git smart-HTTP server (tests/e2e/git_https_server.py running
# `git http-backend`, Basic auth, a certificate from a CA made for the case).
# Pushes reach the daemon through the notifier or a signed event; the cases
# look at what a user sees: the files under `dir`, the deployment's state
# through the API and `gitgate status`, the error in the deployment's log.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/deploy_common.inc"

SSHD=/usr/sbin/sshd
PASSWORD=correct-horse-$$-battery
WRONG_PASSWORD=wrong-staple-$$-battery

# Every server a case starts is stopped when the case ends, pass or fail.
cleanup() {
	stop_daemon
	for _p in ${SSHD_PID:-} ${HTTPS_PID:-}; do
		kill -TERM "$_p" 2>/dev/null || true
		wait "$_p" 2>/dev/null || true
	done
	SSHD_PID=""
	HTTPS_PID=""
}

# start_daemon installs its own EXIT trap; put back the one that stops everything.
daemon_up() {
	start_daemon
	trap cleanup EXIT
}

# push_that_deploys TEXT: index.html (TEXT) and docs/a.txt pushed through the
# notifier go live; the API and `gitgate status` record the commit, $c1, and
# the deployment's log lands in $T/log.
push_that_deploys() {
	use_notifier
	commit index.html "$1"
	commit docs/a.txt "a"
	push
	expect_contains "$T/push.out" "gitgate: notify: sent 1 event(s)"
	c1=$(git -C "$T/w" rev-parse HEAD)
	wait_until 30 live_is "$c1"
	wait_until 20 settled
	expect_eq "$(cat "$T/www/site/index.html")" "$1" "deployed file"
	expect_eq "$(cat "$T/www/site/docs/a.txt")" "a" "deployed file in a subdirectory"
	api "deployments?target=site"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["state"]')" succeeded "state"
	expect_eq "$(json "$T/api.json" 'd["deployments"][0]["commit"]')" "$c1" "recorded commit"
	dep_field "$(json "$T/api.json" 'd["deployments"][0]["id"]')" 'd["log"]' >"$T/log"
	expect_status 0 "$GITGATE" status --url "$URL" >"$T/status.out" 2>&1
	grep -qE "^site +checkout +succeeded +$(echo "$c1" | cut -c1-12) " "$T/status.out" ||
		fail "gitgate status row for site: $(cat "$T/status.out")"
}

# push_that_fails: a first commit pushed and announced; its deployment must
# end failed with no release switched in. Its log lands in $T/log.
push_that_fails() {
	commit index.html "never deployed"
	push
	expect_eq "$(send_event "$(git -C "$T/w" rev-parse HEAD)")" 202 "push event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 30 dep_state_is "$id" failed
	dep_field "$id" 'd["log"]' >"$T/log"
	[ ! -e "$T/www/site" ] || fail "a release was switched in: $(readlink "$T/www/site")"
}

live_is() { # COMMIT: the live symlink points at releases/COMMIT
	[ "$(readlink "$T/www/site" 2>/dev/null)" = "releases/$1" ]
}

remote_target() { # URL EXTRA-CHECKOUT-YAML [TARGET-LEVEL-YAML]
	deploy_config "  - name: site
    repo: acme/app
    ref: refs/heads/main
$3
    checkout:
      url: $1
      dir: $T/www/site
      keep: 2
$2"
}

# ---- ssh ----

# start_sshd: an sshd on a free loopback port serving $T/src as the current
# user, host key $T/ssh/host_key, keys allowed in $T/ssh/authorized_keys.
# Sets SPORT, SSH_USER.
start_sshd() {
	[ -x "$SSHD" ] || fail "$SSHD is missing: install openssh-server (scripts/deps.sh does)"
	SSH_USER=$(id -un)
	mkdir -p "$T/ssh"
	# sshd's privilege separation directory; only root can make it, and only
	# root needs it: an sshd that cannot start says why in sshd.log below.
	mkdir -p /run/sshd 2>/dev/null || true
	ssh-keygen -q -t ed25519 -N '' -C test-host -f "$T/ssh/host_key"
	: >"$T/ssh/authorized_keys"
	SPORT=$(free_port)
	cat >"$T/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SPORT
HostKey $T/ssh/host_key
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $T/ssh/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
MaxAuthTries 6
EOF
	trap cleanup EXIT
	"$SSHD" -D -e -f "$T/ssh/sshd_config" 2>"$T/sshd.log" &
	SSHD_PID=$!
	# Up when the port shows this sshd's own host key (not another server's
	# that took the port meanwhile).
	_want=$(cut -d' ' -f2 "$T/ssh/host_key.pub")
	_i=0
	until ssh-keyscan -T 1 -p "$SPORT" 127.0.0.1 2>/dev/null | grep -qF "$_want"; do
		_i=$((_i + 1))
		if ! kill -0 "$SSHD_PID" 2>/dev/null || [ $_i -gt 100 ]; then
			cat "$T/sshd.log" >&2
			fail "sshd did not start on 127.0.0.1:$SPORT as $(id -un) (log above)"
		fi
		sleep 0.1
	done
}

# user_key NAME: an ed25519 key pair $T/ssh/NAME, $T/ssh/NAME.pub.
user_key() {
	ssh-keygen -q -t ed25519 -N '' -C "$1" -f "$T/ssh/$1"
}

# known_hosts FILE HOST-KEY.pub: a known-hosts line for the test server.
known_hosts() {
	awk -v p="$SPORT" '{ print "[127.0.0.1]:" p " " $1 " " $2 }' "$2" >"$1"
}

ssh_target() { # KEY-NAME KNOWN-HOSTS-FILE [USER@ in the URL] [EXTRA-CHECKOUT-YAML]
	remote_target "ssh://${3-$SSH_USER@}127.0.0.1:$SPORT$T/src/acme/app.git" \
		"      ssh_key_file: $T/ssh/$1
      ssh_public_key_file: $T/ssh/$1.pub
      ssh_known_hosts_file: $2
${4:-}"
}

t_ssh_key_auth_deploys() {
	make_repo
	start_sshd
	user_key deploy
	cat "$T/ssh/deploy.pub" >>"$T/ssh/authorized_keys"
	known_hosts "$T/ssh/known_hosts" "$T/ssh/host_key.pub"
	ssh_target deploy "$T/ssh/known_hosts"
	daemon_up
	push_that_deploys "over ssh"
	expect_contains "$T/log" "fetching refs/heads/main from ssh://$SSH_USER@127.0.0.1:$SPORT"
	expect_contains "$T/log" "switched $T/www/site to releases/$c1"
	expect_contains "$T/sshd.log" "Accepted publickey for $SSH_USER"
}

t_ssh_unknown_host_key_is_refused() {
	make_repo
	start_sshd
	user_key deploy
	cat "$T/ssh/deploy.pub" >>"$T/ssh/authorized_keys"
	# Someone else's host key where this server's should be.
	ssh-keygen -q -t ed25519 -N '' -C other-host -f "$T/ssh/other_host_key"
	known_hosts "$T/ssh/known_hosts" "$T/ssh/other_host_key.pub"
	ssh_target deploy "$T/ssh/known_hosts"
	daemon_up
	push_that_fails
	expect_contains "$T/log" "host key of [127.0.0.1]:$SPORT is not in $T/ssh/known_hosts"
	expect_contains "$T/log" "error: fetch failed"
	# The key was never offered to a server that could not be verified.
	expect_not_contains "$T/sshd.log" "Accepted publickey"
	expect_not_contains "$T/sshd.log" "Failed publickey"
}

t_ssh_known_hosts_lines_name_the_host_and_port() {
	make_repo
	start_sshd
	user_key deploy
	cat "$T/ssh/deploy.pub" >"$T/ssh/authorized_keys"
	read -r ktype key _ <"$T/ssh/host_key.pub"
	line() { printf '%s %s %s\n' "$1" "$ktype" "$key"; }
	# The right key, but on lines for other names (the host on port 22, another port, another
	# host) and on a wildcard line that a negation vetoes for this server.
	{
		line 127.0.0.1
		line "[127.0.0.1]:$((SPORT + 1))"
		line "[gitgate.example]:$SPORT"
		line "[127.0.0.*]:*,![127.0.0.1]:$SPORT"
	} >"$T/ssh/known_hosts"
	ssh_target deploy "$T/ssh/known_hosts"
	daemon_up
	push_that_fails
	expect_contains "$T/log" "host key of [127.0.0.1]:$SPORT is not in $T/ssh/known_hosts"
	deploys() { # MESSAGE: a commit that must go live
		commit index.html "$1"
		push
		_c=$(git -C "$T/w" rev-parse HEAD)
		expect_eq "$(send_event "$_c")" 202 "push event"
		wait_until 30 live_is "$_c"
		wait_until 20 settled
	}
	# Hashed names, as ssh-keygen -H writes them.
	known_hosts "$T/ssh/known_hosts" "$T/ssh/host_key.pub"
	ssh-keygen -q -H -f "$T/ssh/known_hosts" 2>/dev/null
	grep -q '^|1|' "$T/ssh/known_hosts" || fail "not hashed: $(cat "$T/ssh/known_hosts")"
	deploys hashed
	# A wildcard.
	line "[127.0.0.?]:*" >"$T/ssh/known_hosts"
	deploys wildcard
	c1=$(git -C "$T/w" rev-parse HEAD)
	# A @revoked line for the key refuses it, whatever else the file says.
	line "@revoked *" >>"$T/ssh/known_hosts"
	commit index.html "revoked"
	push
	expect_eq "$(send_event "$(git -C "$T/w" rev-parse HEAD)")" 202 "push event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 30 dep_state_is "$id" failed
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "host key of [127.0.0.1]:$SPORT is revoked in $T/ssh/known_hosts"
	expect_eq "$(readlink "$T/www/site")" "releases/$c1" "live release"
}

t_ssh_key_the_server_does_not_authorize_fails() {
	make_repo
	start_sshd
	user_key deploy
	user_key other
	cat "$T/ssh/deploy.pub" >"$T/ssh/authorized_keys"
	known_hosts "$T/ssh/known_hosts" "$T/ssh/host_key.pub"
	ssh_target deploy "$T/ssh/known_hosts"
	daemon_up
	commit index.html "first"
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$c1")" 202 "push event"
	wait_until 30 live_is "$c1"
	wait_until 20 settled
	# The server stops accepting the deploy key.
	cat "$T/ssh/other.pub" >"$T/ssh/authorized_keys"
	commit index.html "second"
	push
	c2=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$c2" refs/heads/main "$c1")" 202 "push event"
	id=$(json "$T/resp" 'd["deployments"][0]["id"]')
	wait_until 30 dep_state_is "$id" failed
	dep_field "$id" 'd["log"]' >"$T/log"
	expect_contains "$T/log" "error: fetch failed: authentication failed: the server refused the key $T/ssh/deploy for user $SSH_USER"
	expect_eq "$(readlink "$T/www/site")" "releases/$c1" "live release"
	expect_eq "$(cat "$T/www/site/index.html")" "first" "live file"
	expect_eq "$(ls "$T/www/releases")" "$c1" "releases"
	expect_status 0 "$GITGATE" status --url "$URL" >"$T/status.out" 2>&1
	grep -qE "^site +checkout +failed +$(echo "$c1" | cut -c1-12) " "$T/status.out" ||
		fail "gitgate status row for site: $(cat "$T/status.out")"
}

t_ssh_username_from_the_config() {
	make_repo
	start_sshd
	user_key deploy
	cat "$T/ssh/deploy.pub" >>"$T/ssh/authorized_keys"
	known_hosts "$T/ssh/known_hosts" "$T/ssh/host_key.pub"
	ssh_target deploy "$T/ssh/known_hosts" "" "      username: $SSH_USER"
	daemon_up
	commit index.html "user from the config"
	push
	c1=$(git -C "$T/w" rev-parse HEAD)
	expect_eq "$(send_event "$c1")" 202 "push event"
	wait_until 30 live_is "$c1"
	expect_eq "$(cat "$T/www/site/index.html")" "user from the config" "deployed file"
	expect_contains "$T/sshd.log" "Accepted publickey for $SSH_USER"
}

t_ssh_without_a_user_logs_in_as_git() {
	make_repo
	start_sshd
	user_key deploy
	cat "$T/ssh/deploy.pub" >>"$T/ssh/authorized_keys"
	known_hosts "$T/ssh/known_hosts" "$T/ssh/host_key.pub"
	ssh_target deploy "$T/ssh/known_hosts" ""
	daemon_up
	push_that_fails
	expect_contains "$T/log" "authentication failed: the server refused the key $T/ssh/deploy for user git"
	# "Invalid user git" here; "authenticating user git" where the account exists.
	grep -qE '(nvalid|authenticating) user git ' "$T/sshd.log" || fail "sshd saw no login as git: $(cat "$T/sshd.log")"
}

# ---- https ----

# make_tls: a CA ($T/tls/ca.pem) and a certificate it signed for 127.0.0.1.
# OTHER=1: a second, unrelated CA signs the server's certificate instead.
make_tls() {
	mkdir -p "$T/tls"
	(
		cd "$T/tls"
		for ca in ca other-ca; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout $ca.key -out $ca.pem -days 2 -subj "/CN=gitgate test $ca" \
				-addext basicConstraints=critical,CA:TRUE \
				-addext keyUsage=critical,keyCertSign,cRLSign
		done
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout server.key -out server.csr -subj /CN=127.0.0.1
		# Both SAN forms: OpenSSL matches the IP entry, mbedTLS 2.x only DNS names.
		printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1' \
			'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' >server.ext
		signer=ca
		[ "${OTHER:-}" = 1 ] && signer=other-ca
		openssl x509 -req -in server.csr -CA $signer.pem -CAkey $signer.key -CAcreateserial \
			-out server.pem -days 2 -extfile server.ext
	) >"$T/tls/openssl.log" 2>&1 || {
		cat "$T/tls/openssl.log" >&2
		fail "openssl could not make the test certificates"
	}
}

# start_https: the TLS git server for $T/src, user deployer with $PASSWORD. Sets HPORT.
start_https() {
	make_tls
	mkdir -p "$T/server"
	printf '%s\n' "$PASSWORD" >"$T/server/password"
	trap cleanup EXIT
	python3 "$GG_TOP/tests/e2e/git_https_server.py" --root "$T/src" \
		--cert "$T/tls/server.pem" --key "$T/tls/server.key" --user deployer \
		--password-file "$T/server/password" --port-file "$T/server/port" 2>"$T/https.log" &
	HTTPS_PID=$!
	_i=0
	until [ -s "$T/server/port" ]; do
		_i=$((_i + 1))
		if ! kill -0 "$HTTPS_PID" 2>/dev/null || [ $_i -gt 200 ]; then
			cat "$T/https.log" >&2
			fail "the https git server did not start (log above)"
		fi
		sleep 0.05
	done
	HPORT=$(cat "$T/server/port")
}

# https_target PASSWORD-FILE [TRUST]: TRUST=ca trusts the test CA through the target's env.
https_target() {
	_env=
	[ "${2:-}" = ca ] && _env="    env: {SSL_CERT_FILE: $T/tls/ca.pem}"
	remote_target "https://127.0.0.1:$HPORT/acme/app.git" \
		"      username: deployer
      password_file: $1" "$_env"
}

# secret_file FILE TEXT [MODE]
secret_file() {
	mkdir -p "$(dirname "$1")"
	printf '%s\n' "$2" >"$1"
	chmod "${3:-600}" "$1"
}

# expect_secret_nowhere TEXT: TEXT is in no log, no API answer, no status output
# and nowhere in the daemon's state directory (database and deployment logs).
expect_secret_nowhere() {
	mkdir -p "$T/seen"
	for p in targets deployments "deployments?target=site"; do
		curl -sf "$URL/api/v1/$p" >"$T/seen/api-$(echo "$p" | tr '?=' '__')" || fail "GET /api/v1/$p"
	done
	for id in $(json "$T/seen/api-deployments" '" ".join(str(x["id"]) for x in d["deployments"])'); do
		curl -sf "$URL/api/v1/deployments/$id" >"$T/seen/api-deployment-$id" || fail "GET deployment $id"
	done
	curl -sf "$URL/metrics" >"$T/seen/metrics" || fail "GET /metrics"
	"$GITGATE" status --url "$URL" >"$T/seen/status" 2>&1 || true
	"$GITGATE" status --url "$URL" --json >"$T/seen/status.json" 2>&1 || true
	cp "$T/daemon.log" "$T/https.log" "$T/seen/"
	if grep -rlaF -- "$1" "$T/seen" "$T/state"; then
		fail "the password shows up in the files above"
	fi
}

t_https_password_deploys() {
	make_repo
	start_https
	secret_file "$T/secrets/deployer.password" "$PASSWORD"
	https_target "$T/secrets/deployer.password" ca
	daemon_up
	push_that_deploys "over https"
	# The fetch really went through the password-protected server.
	expect_contains "$T/https.log" "GET /acme/app.git/info/refs?service=git-upload-pack 401 -"
	expect_contains "$T/https.log" "POST /acme/app.git/git-upload-pack 200 deployer"
	expect_secret_nowhere "$PASSWORD"
}

t_https_wrong_password_fails_and_stays_secret() {
	make_repo
	start_https
	secret_file "$T/secrets/deployer.password" "$WRONG_PASSWORD"
	https_target "$T/secrets/deployer.password" ca
	daemon_up
	push_that_fails
	expect_contains "$T/log" "error: fetch failed: authentication failed: the server refused user deployer with the password in $T/secrets/deployer.password"
	# One try with the configured password, not a loop of them.
	expect_eq "$(grep -c 'info/refs?service=git-upload-pack 401' "$T/https.log")" 2 "401 answers"
	expect_not_contains "$T/https.log" " 200 deployer"
	expect_secret_nowhere "$WRONG_PASSWORD"
	expect_secret_nowhere "$PASSWORD"
}

# A forge token as the URL's user part (https://TOKEN@host/...) is a secret too.
t_https_token_in_url_stays_secret() {
	make_repo
	start_https
	_token=ghp_tok$$en0123456789abcdefghijklmnopqrstuv
	remote_target "https://$_token@127.0.0.1:$HPORT/acme/app.git" "" \
		"    env: {SSL_CERT_FILE: $T/tls/ca.pem}"
	daemon_up
	push_that_fails
	# The server saw the request: the token was really used, and is shown nowhere.
	expect_contains "$T/https.log" "GET /acme/app.git/info/refs?service=git-upload-pack 401 -"
	expect_contains "$T/log" "https://***@127.0.0.1:$HPORT/acme/app.git"
	expect_secret_nowhere "$_token"
}

t_https_untrusted_certificate_fails() {
	make_repo
	OTHER=1 start_https
	secret_file "$T/secrets/deployer.password" "$PASSWORD"
	# The target trusts the test CA, but the server's certificate comes from another one.
	https_target "$T/secrets/deployer.password" ca
	daemon_up
	push_that_fails
	expect_contains "$T/log" "error: fetch failed: the SSL certificate is invalid"
	# Nothing, credentials least of all, was sent to the unverified server.
	expect_not_contains "$T/https.log" "GET "
	expect_not_contains "$T/https.log" "POST "
}

t_https_system_trust_store_does_not_know_the_test_ca() {
	make_repo
	start_https
	secret_file "$T/secrets/deployer.password" "$PASSWORD"
	https_target "$T/secrets/deployer.password"
	daemon_up
	push_that_fails
	expect_contains "$T/log" "error: fetch failed: the SSL certificate is invalid"
	expect_not_contains "$T/https.log" "GET "
}

t_https_readable_password_file_is_refused() {
	make_repo
	start_https
	secret_file "$T/secrets/deployer.password" "$PASSWORD" 644
	https_target "$T/secrets/deployer.password" ca
	daemon_up
	push_that_fails
	expect_contains "$T/log" "error: fetch failed: $T/secrets/deployer.password: secret file is group- or world-accessible (mode 0644); chmod 600 it"
	# The password was not sent.
	expect_not_contains "$T/https.log" " 200 deployer"
	expect_secret_nowhere "$PASSWORD"
}

run_cases
