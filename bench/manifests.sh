#!/bin/sh
# bench/manifests.sh: one push of 10,000 Kubernetes manifests (a Deployment and
# a Service each, ~1.1 KB, ~11 MB) validated with kubernetes-baseline by
#   - the floor: libgit2 blob reads + a bare libyaml event parse (C, built here)
#   - the anchor: a pre-receive hook in Python (git diff-tree + one
#     git cat-file --batch + PyYAML's CSafeLoader), bench/manifests_hook.py
#   - gitgate's pre-receive hook
#   - the same hook with Kubernetes schema validation on (manifests.schemas)
# each run as git runs a hook (GIT_DIR, cwd, "OLD NEW REF" on stdin), best of
# RUNS, with the peak RSS of the process tree (wait4's rusage).
#
# TREE=mixed pushes a tree as repositories hold it instead: in every ten files,
# four plain manifests, a Helm chart (Chart.yaml, values.yaml, a template) and
# a Kustomize base and overlay (two kustomizations and the base's Deployment),
# selected by the default paths (every YAML file). The anchor knows no charts
# and is not run then.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
FILES=${FILES:-10000}
RUNS=${RUNS:-5}
# add: the push adds every file; update: main already holds them and the push
# changes each one (an image bump), so deny_deletion reads both sides too.
SCENARIO=${SCENARIO:-add}
TREE=${TREE:-plain}
HOOK="$BUILD/libexec/gitgate/pre-receive"
[ -x "$HOOK" ] || { echo "manifests.sh: build first (make)" >&2; exit 2; }
W=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-manifests.XXXXXX")
[ -n "${KEEP:-}" ] && echo "keeping $W" >&2 || trap 'rm -rf "$W"' EXIT

cc -O2 -o "$W/floor" "$top/bench/manifests_floor.c" $(pkg-config --cflags --libs libgit2 yaml-0.1)

# The repository: main holds a README; the pushed commit adds the manifests.
git init -q --bare "$W/repo.git"
python3 - "$FILES" "$SCENARIO" "$TREE" <<'PY' | git --git-dir="$W/repo.git" fast-import --quiet
import sys
n, scenario, tree = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")
def manifest(i, major):
    app = "app-%05d" % i
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: team-{i % 100:02d}
  labels: {{app: {app}, tier: backend}}
  annotations:
    example.com/owner: team-{i % 100:02d}
    example.com/runbook: https://runbooks.example.com/{app}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}, tier: backend}}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: {app}
          image: registry.example.com/team-{i % 100:02d}/{app}:{major}.{i % 7}.{i % 13}
          ports:
            - containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
          readinessProbe:
            httpGet: {{path: /healthz, port: 8080}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {app}
  namespace: team-{i % 100:02d}
  labels: {{app: {app}}}
spec:
  selector: {{app: {app}}}
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: 8080
  type: ClusterIP
""".encode()
def chart(g, major):
    return {
        "Chart.yaml": b"apiVersion: v2\nname: svc-%05d\nversion: %d.%d.0\n" % (g, major, g % 9),
        "values.yaml": b"image: {repository: registry.example.com/svc, tag: '%d.0.%d'}\n"
                       b"replicas: 2\nresources: {limits: {cpu: 500m, memory: 256Mi}}\n" % (major, g % 11),
        "templates/deployment.yaml": b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "svc.fullname" . }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: svc
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
""",
    }
def kustomize(g, major):
    return {
        "base/kustomization.yaml": b"apiVersion: kustomize.config.k8s.io/v1beta1\n"
                                   b"kind: Kustomization\nresources:\n  - deployment.yaml\n",
        "base/deployment.yaml": manifest(g, major).split(b"---")[0],
        "overlays/prod/kustomization.yaml": b"apiVersion: kustomize.config.k8s.io/v1beta1\n"
            b"kind: Kustomization\nnamespace: prod\nresources:\n  - ../../base\n"
            b"patches:\n  - target: {kind: Deployment}\n"
            b"    patch: '[{\"op\": \"replace\", \"path\": \"/spec/replicas\", \"value\": 3}]'\n",
    }
def files(major):
    if tree == "mixed":
        for g in range(n // 10):
            for k in range(4):
                i = g * 10 + k
                out.write(b"M 644 inline clusters/team-%02d/app-%05d.yaml\n" % (i % 100, i))
                data(manifest(i, major))
            for name, body in chart(g, major).items():
                out.write(b"M 644 inline charts/svc-%05d/%s\n" % (g, name.encode()))
                data(body)
            for name, body in kustomize(g, major).items():
                out.write(b"M 644 inline apps/app-%05d/%s\n" % (g, name.encode()))
                data(body)
        return
    for i in range(n):
        out.write(b"M 644 inline clusters/team-%02d/app-%05d.yaml\n" % (i % 100, i))
        data(manifest(i, major))
out.write(b"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> 1700000000 +0000\n")
data(b"init")
out.write(b"M 644 inline README\n")
data(b"manifests\n")
if scenario == "update":
    files(1)
out.write(b"commit refs/heads/bench\ncommitter Bench <bench@example.com> 1700000001 +0000\n")
data(b"deploy: many apps")
out.write(b"from :1\n")
files(2)
PY
OLD=$(git --git-dir="$W/repo.git" rev-parse main)
NEW=$(git --git-dir="$W/repo.git" rev-parse bench)
# Unreferenced, as in the quarantine a push sees: NEW --not --all is the push.
git --git-dir="$W/repo.git" update-ref -d refs/heads/bench
BYTES=$(git --git-dir="$W/repo.git" diff-tree -r "$OLD" "$NEW" | awk '{print $4}' |
	git --git-dir="$W/repo.git" cat-file --batch-check='%(objectsize)' | awk '{s+=$1} END {print s}')
if [ "$TREE" = mixed ]; then
	cat >"$W/policy.yaml" <<-'POL'
	version: 1
	manifests:
	  packs: [kubernetes-baseline]
	  deny_deletion: true
	POL
else
	cat >"$W/policy.yaml" <<-'POL'
	version: 1
	manifests:
	  paths: ["clusters/**/*.yaml"]
	  packs: [kubernetes-baseline]
	  deny_deletion: true
	POL
fi
sed 's/^  deny_deletion: true$/&\n  schemas: {kubernetes: "1.32"}/' "$W/policy.yaml" >"$W/policy-schemas.yaml"
echo "$OLD $NEW refs/heads/main" >"$W/stdin"

# measure NAME CMD...: best wall time of RUNS, peak RSS, exit status.
measure() {
	python3 - "$W/stdin" "$W/repo.git" "$RUNS" "$@" <<'PY'
import os, subprocess, sys, time
stdin, gitdir, runs, name, cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
env = dict(os.environ, GIT_DIR=gitdir, GITGATE_POLICY=os.path.join(os.path.dirname(gitdir), os.environ.get("BENCH_POLICY", "policy.yaml")))
best, cpu, rss, codes = None, None, 0, set()
for _ in range(runs):
    with open(stdin) as f:
        t = time.monotonic()
        p = subprocess.Popen(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=gitdir, env=env)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.monotonic() - t
    best = dt if best is None else min(best, dt)
    c = ru.ru_utime + ru.ru_stime
    cpu = c if cpu is None else min(cpu, c)
    rss = max(rss, ru.ru_maxrss)
    codes.add(os.waitstatus_to_exitcode(status))
    if codes != {0}:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
print("%s %.3f %.3f %d %s" % (name, best, cpu, rss // 1024, ",".join(map(str, sorted(codes)))))
PY
}

measure floor "$W/floor" "$W/repo.git" "$OLD" "$NEW" >"$W/floor.out"
measure gitgate "$HOOK" >"$W/gitgate.out"

read -r _ ft fcpu frss fc <"$W/floor.out"
read -r _ gt gcpu grss gc <"$W/gitgate.out"
if [ "$TREE" = mixed ]; then
	echo "## manifests (mixed, $SCENARIO): one push of $FILES files: plain manifests, Helm charts, Kustomize bases and overlays ($BYTES bytes), kubernetes-baseline, best of $RUNS"
	printf '%-9s %7.3f s wall  %7.3f s CPU  %4d MB peak RSS  exit %s  %s\n' \
		floor "$ft" "$fcpu" "$frss" "$fc" "libgit2 blob reads + bare libyaml event parse (C)" \
		gitgate "$gt" "$gcpu" "$grss" "$gc" "gitgate pre-receive hook: charts, kustomizations, manifests"
	python3 -c 'import sys; g, f, gc, fc = map(float, sys.argv[1:]); print("gitgate / floor: %.2fx (CPU %.2fx)" % (g / f, gc / fc))' "$gt" "$ft" "$gcpu" "$fcpu"
	[ "$gc" = 0 ] || { echo "manifests.sh: the hook rejected the clean push" >&2; exit 1; }
	exit 0
fi
measure anchor python3 "$top/bench/manifests_hook.py" >"$W/anchor.out"
read -r _ at acpu arss ac <"$W/anchor.out"
BENCH_POLICY=policy-schemas.yaml measure schemas "$HOOK" >"$W/schemas.out"
read -r _ st scpu srss sc <"$W/schemas.out"
echo "## manifests ($SCENARIO): one push of $FILES Kubernetes manifest files ($((FILES * 2)) documents, $BYTES bytes), kubernetes-baseline, best of $RUNS"
printf '%-9s %7.3f s wall  %7.3f s CPU  %4d MB peak RSS  exit %s  %s\n' \
	floor "$ft" "$fcpu" "$frss" "$fc" "libgit2 blob reads + bare libyaml event parse (C)" \
	anchor "$at" "$acpu" "$arss" "$ac" "Python hook: diff-tree, one cat-file --batch, PyYAML CSafeLoader" \
	gitgate "$gt" "$gcpu" "$grss" "$gc" "gitgate pre-receive hook, kubernetes-baseline, deny_deletion" \
	+schemas "$st" "$scpu" "$srss" "$sc" "the same with schemas: {kubernetes: \"1.32\"}"
python3 -c 'import sys; a, g, f, ac, gc, fc = map(float, sys.argv[1:]); print("gitgate vs anchor: %.1fx faster (CPU %.1fx); gitgate / floor: %.2fx (CPU %.2fx)" % (a / g, ac / gc, g / f, gc / fc))' "$at" "$gt" "$ft" "$acpu" "$gcpu" "$fcpu"
python3 -c 'import sys; g, s, gc, sc, n = map(float, sys.argv[1:]); print("schemas on / off: %.2fx wall (CPU %.2fx); %.0f resources per CPU second with schemas on (kubeconform: ~1,900 per core)" % (s / g, sc / gc, n / sc))' "$gt" "$st" "$gcpu" "$scpu" "$((FILES * 2))"
[ "$gc" = 0 ] && [ "$ac" = 0 ] && [ "$sc" = 0 ] || { echo "manifests.sh: a hook rejected the clean push" >&2; exit 1; }
