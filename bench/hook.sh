#!/bin/sh
# bench/hook.sh: the pre-receive gate's wall time on
#   (a) a one-commit, one-file push (target: under 10 ms)
#   (b) one commit adding 10,000 files of ~1 KB with `secrets: true` (target: under 0.5 s)
#   (c) for context: a one-file push into a repository with 20,000 refs, each
#       naming its own commit (every existing ref counts as known history)
# The hook is run as git runs it: GIT_DIR, cwd, "OLD NEW REF" on stdin, and the
# pushed objects in a quarantine directory with the environment receive-pack
# sets (GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES,
# GIT_QUARANTINE_PATH); median of RUNS. For comparison, the anchor is the usual shell
# hook (git diff-tree -p over `NEW --not --all` piped into grep -E with the
# same token patterns), and the whole `git push` into a repository with the
# gate installed is timed too.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
FILES=${FILES:-10000}
RUNS=${RUNS:-7}
HOOK="$BUILD/libexec/gitgate/pre-receive"
GITGATE="$BUILD/bin/gitgate"
[ -x "$HOOK" ] && [ -x "$GITGATE" ] || { echo "hook.sh: build first (make)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-hook.XXXXXX")
trap 'rm -rf "$W"' EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME="$W"
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com

cat >"$W/policy.yaml" <<'POL'
version: 1
refs:
  - match: ["refs/heads/main"]
    deny_delete: true
    deny_force_push: true
commits:
  message_pattern: '^(feat|fix|chore|docs|deploy)(\([a-z0-9-]+\))?: .+'
  max_subject_length: 72
files:
  max_size: 1MiB
  deny_paths: ["**/*.pem", "**/id_rsa", "**/.env"]
  secrets: true
POL

# The anchor: what a hand-written hook usually does.
cat >"$W/anchor.sh" <<'SH'
#!/bin/sh
while read -r old new ref; do
	git rev-list "$new" --not --all | git diff-tree --stdin -r -p --root --no-commit-id |
		grep -E '^\+.*(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[posur]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_live_[A-Za-z0-9]{24,}|AIza[A-Za-z0-9_-]{35}|-----BEGIN [A-Z ]*PRIVATE KEY-----)' && exit 1
done
exit 0
SH
chmod +x "$W/anchor.sh"

# make_repo DIR NFILES: a bare repo whose main holds a README and whose
# unreferenced commit (printed) adds NFILES text files of ~1 KB.
make_repo() {
	git init -q --bare "$1"
	python3 - "$2" <<'PY' | git --git-dir="$1" fast-import --quiet
import random, sys
n = int(sys.argv[1])
out = sys.stdout.buffer
rnd = random.Random(42)
words = ("deploy service config value replica region cluster secret-free token-free "
         "alpha beta gamma delta image version limit request probe port").split()
def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")
out.write(b"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> 1700000000 +0000\n")
data(b"chore: init")
out.write(b"M 644 inline README\n")
data(b"bench\n")
out.write(b"commit refs/heads/bench\ncommitter Bench <bench@example.com> 1700000001 +0000\n")
data(b"feat: add %d files" % n)
out.write(b"from :1\n")
for i in range(n):
    lines, size = [], 0
    while size < 1000:
        l = "%s_%d = %s %s %d" % (rnd.choice(words), i, rnd.choice(words), rnd.choice(words), rnd.randrange(10**6))
        lines.append(l)
        size += len(l) + 1
    out.write(b"M 644 inline src/d%03d/file%05d.conf\n" % (i % 100, i))
    data(("\n".join(lines) + "\n").encode())
PY
	old=$(git --git-dir="$1" rev-parse main)
	new=$(git --git-dir="$1" rev-parse bench)
	git --git-dir="$1" update-ref -d refs/heads/bench
	quarantine "$1" "$new"
	echo "$old $new refs/heads/main"
}

# make_refs_repo DIR NREFS: NREFS branches on a chain of commits, and an
# unreferenced commit (printed as the push) on top of the last one.
make_refs_repo() {
	git init -q --bare "$1"
	python3 - "$2" <<'PY' | git --git-dir="$1" fast-import --quiet
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")
for i in range(n):
    out.write(b"commit refs/heads/b%05d\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n" % (i, i + 1, 1700000000 + i))
    data(b"chore: commit %d" % i)
    if i:
        out.write(b"from :%d\n" % i)
    out.write(b"M 644 inline f\n")
    data(b"%d\n" % i)
out.write(b"commit refs/heads/bench\ncommitter Bench <bench@example.com> 1800000000 +0000\n")
data(b"feat: one more")
out.write(b"from :%d\nM 644 inline g\n" % n)
data(b"g\n")
PY
	git --git-dir="$1" pack-refs --all
	old=$(git --git-dir="$1" rev-parse refs/heads/b$(printf %05d $(($2 - 1))))
	new=$(git --git-dir="$1" rev-parse refs/heads/bench)
	git --git-dir="$1" update-ref -d refs/heads/bench
	quarantine "$1" "$new"
	echo "$old $new refs/heads/main"
}

# quarantine GITDIR NEW: move the objects only NEW reaches out of the repository
# into GITDIR/objects/incoming-bench, where git's receive-pack would have put
# them; median() then runs the hook with the environment git sets for it.
quarantine() {
	git --git-dir="$1" rev-list --objects "$2" --not --all |
		git --git-dir="$1" pack-objects -q "$W/qpack" >/dev/null
	git --git-dir="$1" gc -q --prune=now
	mkdir -p "$1/objects/incoming-bench/pack"
	mv "$W"/qpack-* "$1/objects/incoming-bench/pack/"
}

# median NAME STDIN GITDIR CMD...: "WALL CPU", the median wall seconds and the
# median CPU seconds (user + system of the process tree) of RUNS runs; exits
# non-zero on a rejection. CPU time says what the hook costs when the machine
# is shared; wall time is what the pusher waits.
median() {
	python3 - "$RUNS" "$W/policy.yaml" "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, policy, name, stdin, gitdir, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
env = dict(os.environ, GIT_DIR=gitdir, GITGATE_POLICY=policy)
q = os.path.join(os.path.abspath(gitdir), "objects", "incoming-bench")
if os.path.isdir(q):
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
        sys.exit("%s: exit %d" % (name, p.returncode))
print("%.4f %.4f" % (statistics.median(walls), statistics.median(cpus)))
PY
}

# push_time NFILES: wall seconds of one `git push` of the bench commit into a fresh gated repo.
push_time() {
	src="$W/src$1.git"
	dst="$W/dst$1.git"
	git clone -q --bare "$W/repo$1.git" "$src"
	cp "$W/repo$1.git"/objects/incoming-bench/pack/* "$src/objects/pack/"
	git --git-dir="$src" update-ref refs/heads/main "$(echo "$2" | cut -d' ' -f2)"
	git init -q --bare "$dst"
	git --git-dir="$src" push -q "$dst" "$(echo "$2" | cut -d' ' -f1):refs/heads/main"
	"$GITGATE" install-hook --policy "$W/policy.yaml" "$dst" >/dev/null
	python3 - "$src" "$dst" <<'PY'
import subprocess, sys, time
t = time.monotonic()
p = subprocess.run(["git", "--git-dir", sys.argv[1], "push", "-q", sys.argv[2], "main"], capture_output=True)
dt = time.monotonic() - t
if p.returncode:
    sys.exit(p.stderr.decode(errors="replace"))
print("%.4f" % dt)
PY
}

REFS=${REFS:-20000}
line1=$(make_repo "$W/repo1.git" 1)
lineR=$(make_refs_repo "$W/refs.git" "$REFS")
lineN=$(make_repo "$W/repo$FILES.git" "$FILES")
qgit() { # GITDIR ARGS...: git seeing the quarantined objects too
	d=$1
	shift
	GIT_OBJECT_DIRECTORY="$d/objects/incoming-bench" GIT_ALTERNATE_OBJECT_DIRECTORIES="$d/objects" \
		git --git-dir="$d" "$@"
}
BYTES=$(qgit "$W/repo$FILES.git" diff-tree -r $(echo "$lineN" | cut -d' ' -f1-2) | awk '{print $4}' |
	qgit "$W/repo$FILES.git" cat-file --batch-check='%(objectsize)' | awk '{s+=$1} END {print s}')

a_hook=$(median "gitgate (a)" "$line1" "$W/repo1.git" "$HOOK")
a_anchor=$(median "anchor (a)" "$line1" "$W/repo1.git" "$W/anchor.sh")
b_hook=$(median "gitgate (b)" "$lineN" "$W/repo$FILES.git" "$HOOK")
b_anchor=$(median "anchor (b)" "$lineN" "$W/repo$FILES.git" "$W/anchor.sh")
c_hook=$(median "gitgate (c)" "$lineR" "$W/refs.git" "$HOOK")
c_anchor=$(median "anchor (c)" "$lineR" "$W/refs.git" "$W/anchor.sh")
a_push=$(push_time 1 "$line1")
b_push=$(push_time "$FILES" "$lineN")

# wall "WALL CPU" -> "W ms (cpu C ms)"
ms() { python3 -c 'import sys; print("%.1f ms" % (float(sys.argv[1]) * 1000))' "$1"; }
both() { python3 -c 'import sys; w, c = map(float, sys.argv[1].split()); print("%.1f ms (cpu %.1f)" % (w * 1000, c * 1000))' "$1"; }
wall_of() { echo "$1" | cut -d' ' -f1; }
echo "## hook"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg); median of $RUNS runs"
printf '%-52s %24s %24s\n' "" "(a) 1 file" "(b) $FILES files"
printf '%-52s %24s %24s\n' "gitgate pre-receive hook (target: 10 ms / 500 ms)" "$(both "$a_hook")" "$(both "$b_hook")"
printf '%-52s %24s %24s\n' "anchor: shell hook, diff-tree -p | grep -E" "$(both "$a_anchor")" "$(both "$b_anchor")"
printf '%-52s %24s %24s\n' "whole git push into a gated repository (context)" "$(ms "$a_push")" "$(ms "$b_push")"
printf '%-52s %24s %24s\n' "(c) one file, $REFS existing refs: gitgate, anchor" "$(both "$c_hook")" "$(both "$c_anchor")"
echo "(b) pushes $BYTES bytes of text in $FILES new blobs; policy: ref, commit and file rules, secrets: true"
python3 -c 'import sys; a, b = map(float, sys.argv[1:]); ok = a < 0.010 and b < 0.5; print("targets (wall): %s" % ("met" if ok else "MISSED"))' "$(wall_of "$a_hook")" "$(wall_of "$b_hook")"
