# Shared helpers for the end-to-end tests (sourced, POSIX sh).
#
# A test file defines functions named t_* and ends with `run_cases`. Each case
# runs in its own subshell with `set -e`, in a fresh directory $T that is
# removed afterwards; its output is kept only when it fails.

: "${GG_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${GG_BUILD:=$GG_TOP/build}"
: "${GITGATE:=$GG_BUILD/bin/gitgate}"
: "${GITGATED:=$GG_BUILD/bin/gitgated}"
: "${GG_HOOKS:=$GG_BUILD/libexec/gitgate}"
export GG_TOP GG_BUILD GITGATE GITGATED GG_HOOKS

# A predictable git for every case: no user config, fixed identity.
export GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL="author@example.com"
export GIT_COMMITTER_NAME="Test Committer" GIT_COMMITTER_EMAIL="committer@example.com"
unset GITGATE_POLICY GL_ID GL_USERNAME GITHUB_USER_LOGIN GITEA_PUSHER_NAME GL_USER REMOTE_USER

fail() {
	echo "assertion failed: $*" >&2
	exit 1
}

# expect_contains FILE TEXT: FILE has a line containing TEXT (fixed string).
expect_contains() {
	grep -qF -- "$2" "$1" || {
		echo "--- $1 ---" >&2
		cat "$1" >&2
		fail "$1 does not contain: $2"
	}
}

expect_not_contains() {
	! grep -qF -- "$2" "$1" || {
		echo "--- $1 ---" >&2
		cat "$1" >&2
		fail "$1 contains: $2"
	}
}

# expect_status WANT CMD...: run CMD, fail unless it exits WANT.
expect_status() {
	want=$1
	shift
	set +e
	"$@"
	got=$?
	set -e
	[ "$got" -eq "$want" ] || fail "'$*' exited $got, want $want"
}

# Pick a free TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + $$ % 20000))
}

run_cases() {
	_failed=0
	for _case in $(grep -oE '^t_[A-Za-z0-9_]+' "$0" | sort -u); do
		T=$(mktemp -d "${TMPDIR:-/tmp}/gg-case.XXXXXX")
		export T HOME="$T/home"
		mkdir -p "$HOME"
		(
			set -e
			cd "$T"
			"$_case"
		) >"$T.log" 2>&1
		_rc=$?
		if [ $_rc -eq 0 ] && grep -q '^skipped: ' "$T.log"; then
			# A case that cannot run here says why, on its result line.
			echo "ok ${_case#t_} # $(grep -m1 '^skipped: ' "$T.log")"
		elif [ $_rc -eq 0 ]; then
			echo "ok ${_case#t_}"
		else
			echo "FAIL ${_case#t_}"
			sed 's/^/#   /' "$T.log" | tail -n 80
			_failed=1
		fi
		[ -n "${KEEP:-}" ] || rm -rf "$T" "$T.log"
	done
	return $_failed
}
