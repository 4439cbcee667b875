#!/bin/sh
# bench/drift.sh — how long a drift check of a checkout release takes, warm
# (the files in the page cache), for a release of 10,000 files: the whole
# `gitgated --drift-check` child, from exec to exit (it lists the commit's
# tree, walks the release and hashes every file as a git blob; no mtime is
# trusted). Side by side: the same comparison done by git itself, `git
# status` over a fresh index read from the commit (an index without stat
# data, so git has to hash every file too). Median of RUNS runs each.
#
# Prints its figures after the anchor "## drift". Run from the top of the
# tree after `make`: sh bench/drift.sh [FILES] [RUNS]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
GITGATED=${GITGATED:-$top/build/bin/gitgated}
N=${1:-10000}
RUNS=${2:-7}
T=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-drift.XXXXXX")
trap 'rm -rf "$T"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@example.com \
	GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@example.com

# N files of 100 to 4,000 bytes in 100 directories, one commit.
python3 - "$T/w" "$N" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.yaml" % i), "w") as f:
        f.write(("key%d: value %d\n" % (i, random.random())) * random.randint(4, 130))
PY
git -C "$T/w" init -q -b main
git -C "$T/w" add -A
git -C "$T/w" commit -q -m bench
C=$(git -C "$T/w" rev-parse HEAD)
git clone -q --bare "$T/w" "$T/mirror.git"
mkdir -p "$T/www"

check() { # [--repair]
	"$GITGATED" --drift-check --mirror "$T/mirror.git" --dir "$T/www/site" --commit "$C" \
		--result "$T/result.json" "$@" >"$T/check.out"
}
# The first check finds no release and materializes one (the repair path).
check --repair
[ "$(readlink "$T/www/site")" = "releases/$C" ] || {
	cat "$T/check.out"
	echo "no release was materialized" >&2
	exit 1
}

now() { date +%s%N; }
# median_of CMD...: the median wall time of RUNS runs of CMD, in seconds.
median_of() {
	for _ in $(seq "$RUNS"); do
		a=$(now)
		"$@" >/dev/null
		b=$(now)
		echo "$a $b" | awk '{ printf "%.6f\n", ($2 - $1) / 1e9 }'
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }'
}
git_status() {
	rm -f "$T/index"
	GIT_INDEX_FILE="$T/index" git --git-dir="$T/mirror.git" --work-tree="$T/www/site" read-tree "$C"
	GIT_INDEX_FILE="$T/index" git --git-dir="$T/mirror.git" --work-tree="$T/www/site" \
		status --porcelain --untracked-files=all
}

check # warms the page cache
clean_gg=$(median_of check)
grep -q '"drifted":false' "$T/result.json" || {
	echo "the fresh release drifted" >&2
	exit 1
}
clean_git=$(median_of git_status)

s=$T/www/site
printf 'changed: 1\n' >"$s/d01/f00001.yaml"
rm "$s/d02/f00002.yaml"
echo planted >"$s/d03/new.yaml"
drift_gg=$(median_of check)
grep -q '"total":3' "$T/result.json" || {
	cat "$T/result.json" >&2
	echo "the drift check did not find the 3 changes" >&2
	exit 1
}
drift_git=$(median_of git_status)
met=MISSED
awk -v a="$clean_gg" -v b="$drift_gg" 'BEGIN { exit !(a < 0.5 && b < 0.5) }' && met=met

echo "## drift"
printf '%-44s %10s %12s %8s\n' "" "gitgated" "git status" "target"
printf '%-44s %10s %12s %8s\n' "$N files, no drift, median s (of $RUNS)" "$clean_gg" "$clean_git" "< 0.5"
printf '%-44s %10s %12s %8s\n' "$N files, 3 paths drifted, median s" "$drift_gg" "$drift_git" "< 0.5"
echo "drift target (10,000 files compared in under 0.5 s warm): $met"
