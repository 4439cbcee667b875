#!/bin/sh
# Every full load and fault script in turn; the figures of this run are
# printed at the end (and kept in build/stress-figures.txt).
# Usage: make && sh tests/stress/all.sh
top=$(cd "$(dirname "$0")/../.." && pwd)
export GG_TOP="$top" GG_BUILD="${GG_BUILD:-$top/build}"
export FIGURES="$GG_BUILD/stress-figures.txt"
: >"$FIGURES"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(date -u +%Y-%m-%d)" >>"$FIGURES"
rc=0
for s in hook soak crash diskfull hostile; do
	echo "== $s"
	sh "$top/tests/stress/$s.sh" || rc=1
done
echo "== figures"
cat "$FIGURES"
exit $rc
