#!/bin/sh
# bench/signatures.sh: the pre-receive gate's wall time with
# commits: require_signature (SSH keys, match_committer: true) on
#   (a) a push of one SSH-signed commit (target: under 10 ms)
#   (b) a push of 1,000 SSH-signed commits, each changing one file (target: under 1 s)
# The commits are signed by the real `git commit -S` (gpg.format=ssh, Ed25519).
# The hook is run as git runs it (GIT_DIR, cwd, "OLD NEW REF" on stdin, the
# pushed objects in a quarantine); median of RUNS, the rows of (a) taking turns.
# The anchor is the usual shell hook: `git verify-commit` on every commit of
# `NEW --not --all`, which runs ssh-keygen once per commit (median of
# ANCHOR_RUNS for (b), it is slow).
# For (a), the floors beside it: a program that only starts libgit2, linked
# with the shared libraries the hook used to load and linked as the hook is now
# (scripts/hooklibs.sh), that program's exec and exit alone, and the hook
# itself linked the old way.
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

# median RUNS STDIN GITDIR CMD...: for each CMD (a command line split on spaces;
# "off:" before it runs it with the policy that has no rules), "WALL CPU" medians
# in seconds, one line each. The commands take turns, run after run, so a change
# in the machine's load falls on all of them alike. Exits non-zero on a rejection.
median() {
	python3 - "$W" "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time
w, runs, stdin, gitdir, cmds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
q = os.path.join(os.path.abspath(gitdir), "objects", "incoming-bench")
env = dict(os.environ, GIT_DIR=gitdir, GIT_OBJECT_DIRECTORY=q, GIT_QUARANTINE_PATH=q,
           GIT_ALTERNATE_OBJECT_DIRECTORIES=os.path.join(os.path.abspath(gitdir), "objects"))
walls, cpus = [[] for _ in cmds], [[] for _ in cmds]
for _ in range(runs):
    for i, c in enumerate(cmds):
        policy = os.path.join(w, "policy.yaml")
        if c.startswith("off:"):
            c, policy = c[4:], os.path.join(w, "policy_off.yaml")
        argv = c.split(" ")
        c0, t = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
        p = subprocess.run(argv, input=(stdin + "\n").encode(), capture_output=True, cwd=gitdir,
                           env=dict(env, GITGATE_POLICY=policy))
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls[i].append(time.monotonic() - t)
        cpus[i].append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
            sys.exit("%s: exit %d" % (argv[0], p.returncode))
for i in range(len(cmds)):
    print("%.4f %.4f" % (statistics.median(walls[i]), statistics.median(cpus[i])))
PY
}

# The floors: programs that only start libgit2 (bench/startup_floor.c), linked
# as the hook was (the shared libraries it used to load) and as it is now
# (scripts/hooklibs.sh), and the same hook linked the old way.
PKGS_HOOK="libgit2 yaml-0.1 libpcre2-8 libcrypto jansson gpgme"
HOOK_LIBS=$(sed -n 's/^HOOK_LIBS := //p' "$BUILD/config.mk" 2>/dev/null || true)
[ -n "$HOOK_LIBS" ] || HOOK_LIBS=$(sh "$top/scripts/hooklibs.sh")
SHIM=
case $HOOK_LIBS in *--wrap=*) SHIM="$BUILD/obj/hooks/static/startup.o" ;; esac
# shellcheck disable=SC2046,SC2086
cc -O2 -o "$W/floor_shared" "$top/bench/startup_floor.c" $(pkg-config --cflags libgit2) \
	-Wl,--no-as-needed $(pkg-config --libs $PKGS_HOOK) -lm
# shellcheck disable=SC2086
cc -O2 -o "$W/floor_hook" "$top/bench/startup_floor.c" $(pkg-config --cflags libgit2) $SHIM $HOOK_LIBS
# shellcheck disable=SC2046
cc -o "$W/hook_shared" "$BUILD/obj/hooks/pre-receive.o" "$BUILD/libgitgate.a" \
	-Wl,--as-needed $(pkg-config --libs $PKGS_HOOK) -lm

line1=$(make_repo "$W/one.git" 1)
lineN=$(make_repo "$W/many.git" "$N")
# The same one-commit push with the rule off, for what the signature check adds.
printf 'version: 1\n' >"$W/policy_off.yaml"
median "$RUNS" "$line1" "$W/one.git" "$HOOK" "off:$HOOK" "$W/hook_shared" "$W/anchor.sh" \
	"$W/floor_shared" "$W/floor_hook" "$W/floor_hook noinit" >"$W/a.out"
row() { sed -n "$1p" "$W/a.out"; }
a_hook=$(row 1) a_off=$(row 2) a_shared=$(row 3) a_anchor=$(row 4)
f_shared=$(row 5) f_hook=$(row 6) f_exec=$(row 7)
b_hook=$(median "$RUNS" "$lineN" "$W/many.git" "$HOOK")
b_anchor=$(median "$ANCHOR_RUNS" "$lineN" "$W/many.git" "$W/anchor.sh")

both() { python3 -c 'import sys; w, c = map(float, sys.argv[1].split()); print("%.1f ms (cpu %.1f)" % (w * 1000, c * 1000))' "$1"; }
wall_of() { echo "$1" | cut -d' ' -f1; }
echo "## signatures"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg); median of $RUNS runs ($ANCHOR_RUNS for the anchor on (b))"
printf '%-56s %24s %24s\n' "" "(a) 1 signed commit" "(b) $N signed commits"
printf '%-56s %24s %24s\n' "gitgate pre-receive, require_signature (10 ms / 1 s)" "$(both "$a_hook")" "$(both "$b_hook")"
printf '%-56s %24s %24s\n' "anchor: shell hook, git verify-commit per commit" "$(both "$a_anchor")" "$(both "$b_anchor")"
printf '%-56s %24s\n' "gitgate pre-receive, no rules (context)" "$(both "$a_off")"
printf '%-56s %24s\n' "gitgate pre-receive, shared libraries (the old link)" "$(both "$a_shared")"
printf '%-56s %24s\n' "floor: git_libgit2_init, the hook's shared libraries" "$(both "$f_shared")"
printf '%-56s %24s\n' "floor: git_libgit2_init, linked as the hook is" "$(both "$f_hook")"
printf '%-56s %24s\n' "floor: the same program, exec and exit only" "$(both "$f_exec")"
python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("targets (wall): %s" % ("met" if a < 0.010 and b < 1.0 else "MISSED"))' "$(wall_of "$a_hook")" "$(wall_of "$b_hook")"
