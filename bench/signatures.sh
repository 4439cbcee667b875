#!/bin/sh
# bench/signatures.sh: the pre-receive gate's wall time with
# commits: require_signature (SSH keys, match_committer: true) on
#   (a) a push of one SSH-signed commit (target: under 10 ms)
#   (b) a push of 1,000 SSH-signed commits, each changing one file (target: under 1 s)
# The commits are signed by the real `git commit -S` (gpg.format=ssh, Ed25519).
# The hook is run as git runs it (GIT_DIR, cwd, "OLD NEW REF" on stdin, the
# pushed objects in a quarantine); median of RUNS. The anchor is the usual shell
# hook: `git verify-commit` on every commit of `NEW --not --all`, which runs
# ssh-keygen once per commit (median of ANCHOR_RUNS for (b), it is slow).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
N=${N:-1000}
RUNS=${RUNS:-7}
ANCHOR_RUNS=${ANCHOR_RUNS:-1}
HOOK="$BUILD/libexec/gitgate/pre-receive"
[ -x "$HOOK" ] || { echo "signatures.sh: build first (make)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-sig.XXXXXX")
trap 'rm -rf "$W"' EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME="$W"
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com

ssh-keygen -q -t ed25519 -N '' -C bench -f "$W/key"
echo "bench@example.com namespaces=\"git\" $(cut -d' ' -f1,2 "$W/key.pub")" >"$W/allowed_signers"
cat >"$W/policy.yaml" <<POL
version: 1
commits:
  require_signature:
    allowed_signers: $W/allowed_signers
    match_committer: true
POL
cat >"$W/anchor.sh" <<SH
#!/bin/sh
while read -r old new ref; do
	for c in \$(git rev-list "\$new" --not --all); do
		git -c gpg.ssh.allowedSignersFile="$W/allowed_signers" verify-commit "\$c" 2>/dev/null || exit 1
	done
done
exit 0
SH
chmod +x "$W/anchor.sh"

# make_repo DIR N: a bare repository whose main holds one commit, and N signed
# commits on top of it moved into a quarantine; prints the hook's input line.
make_repo() {
	git init -q -b main "$W/w$2"
	git -C "$W/w$2" config gpg.format ssh
	git -C "$W/w$2" config user.signingKey "$W/key"
	echo base >"$W/w$2/f"
	git -C "$W/w$2" add f
	git -C "$W/w$2" commit -q -S -m "base"
	git init -q --bare "$1"
	git -C "$W/w$2" push -q "$1" main
	old=$(git -C "$W/w$2" rev-parse HEAD)
	i=0
	while [ $i -lt "$2" ]; do
		echo "$i" >"$W/w$2/f"
		git -C "$W/w$2" commit -q -S -a -m "deploy: $i"
		i=$((i + 1))
	done
	new=$(git -C "$W/w$2" rev-parse HEAD)
	git -C "$W/w$2" push -q "$1" main:refs/heads/bench
	git --git-dir="$1" update-ref -d refs/heads/bench
	git --git-dir="$1" rev-list --objects "$new" --not --all |
		git --git-dir="$1" pack-objects -q "$W/qpack" >/dev/null
	git --git-dir="$1" gc -q --prune=now
	mkdir -p "$1/objects/incoming-bench/pack"
	mv "$W"/qpack-* "$1/objects/incoming-bench/pack/"
	echo "$old $new refs/heads/main"
}

# median RUNS STDIN GITDIR CMD...: "WALL CPU" medians in seconds; exits non-zero on a rejection.
median() {
	python3 - "$W/policy.yaml" "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time
policy, runs, stdin, gitdir, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
env = dict(os.environ, GIT_DIR=gitdir, GITGATE_POLICY=policy)
q = os.path.join(os.path.abspath(gitdir), "objects", "incoming-bench")
env.update(GIT_OBJECT_DIRECTORY=q, GIT_QUARANTINE_PATH=q,
           GIT_ALTERNATE_OBJECT_DIRECTORIES=os.path.join(os.path.abspath(gitdir), "objects"))
walls, cpus = [], []
for _ in range(runs):
    c0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    p = subprocess.run(cmd, input=(stdin + "\n").encode(), capture_output=True, cwd=gitdir, env=env)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    walls.append(time.monotonic() - t)
    cpus.append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
        sys.exit("%s: exit %d" % (cmd[0], p.returncode))
print("%.4f %.4f" % (statistics.median(walls), statistics.median(cpus)))
PY
}

line1=$(make_repo "$W/one.git" 1)
lineN=$(make_repo "$W/many.git" "$N")
a_hook=$(median "$RUNS" "$line1" "$W/one.git" "$HOOK")
a_anchor=$(median "$RUNS" "$line1" "$W/one.git" "$W/anchor.sh")
b_hook=$(median "$RUNS" "$lineN" "$W/many.git" "$HOOK")
b_anchor=$(median "$ANCHOR_RUNS" "$lineN" "$W/many.git" "$W/anchor.sh")
# The same one-commit push with the rule off, for what the signature check adds.
printf 'version: 1\n' >"$W/policy.yaml"
a_off=$(median "$RUNS" "$line1" "$W/one.git" "$HOOK")

both() { python3 -c 'import sys; w, c = map(float, sys.argv[1].split()); print("%.1f ms (cpu %.1f)" % (w * 1000, c * 1000))' "$1"; }
wall_of() { echo "$1" | cut -d' ' -f1; }
echo "## signatures"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg); median of $RUNS runs ($ANCHOR_RUNS for the anchor on (b))"
printf '%-56s %24s %24s\n' "" "(a) 1 signed commit" "(b) $N signed commits"
printf '%-56s %24s %24s\n' "gitgate pre-receive, require_signature (10 ms / 1 s)" "$(both "$a_hook")" "$(both "$b_hook")"
printf '%-56s %24s %24s\n' "anchor: shell hook, git verify-commit per commit" "$(both "$a_anchor")" "$(both "$b_anchor")"
printf '%-56s %24s\n' "gitgate pre-receive, no rules (context)" "$(both "$a_off")"
python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("targets (wall): %s" % ("met" if a < 0.010 and b < 1.0 else "MISSED"))' "$(wall_of "$a_hook")" "$(wall_of "$b_hook")"
