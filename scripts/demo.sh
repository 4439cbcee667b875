#!/bin/sh
# make run: the whole gitgate loop on one machine, under var/demo/.
#
#   a bare repository guarded by the pre-receive gate (policy: kubernetes-baseline)
#   and notifying gitgated after every accepted push; gitgated with its state in
#   var/demo/state and a checkout target that deploys main into var/demo/deployed.
#
# Usage: sh scripts/demo.sh BUILD_DIR. GITGATE_DEMO_DIR (default var/demo) and
# GITGATE_DEMO_PORT (default 8080) move it. Running it again reuses what exists:
# the repository, its history, the secret, the policy and the daemon's state.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build="$top/$build" ;; esac
demo=${GITGATE_DEMO_DIR:-$top/var/demo}
port=${GITGATE_DEMO_PORT:-8080}
gitgate="$build/bin/gitgate"
gitgated="$build/bin/gitgated"
url="http://127.0.0.1:$port"

for p in "$gitgate" "$gitgated" "$build/libexec/gitgate/pre-receive" \
	"$build/libexec/gitgate/post-receive"; do
	[ -x "$p" ] || {
		echo "demo: $p is not built; run make run" >&2
		exit 2
	}
done
if curl -s -o /dev/null "$url/healthz" 2>/dev/null; then
	echo "demo: something already answers on 127.0.0.1:$port; stop it or set GITGATE_DEMO_PORT" >&2
	exit 2
fi

mkdir -p "$demo/state" "$demo/samples"
case $demo in /*) ;; *) demo="$(cd "$demo" && pwd)" ;; esac
repo="$demo/platform.git"

# The shared secret of the notifier and the daemon; files neither may be
# group- or world-readable.
if [ ! -s "$demo/secret" ]; then
	(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$demo/secret")
fi
chmod 600 "$demo/secret"

if [ ! -f "$demo/policy.yaml" ]; then
	cat >"$demo/policy.yaml" <<'YAML'
# The demo's push policy (see gitgate-policy(5)); edit it and push again.
version: 1
mode: enforce
refs:
  - match: "refs/heads/main"
    deny_delete: true
    deny_force_push: true
files:
  max_size: 1MiB
  deny_paths: ["**/*.pem", "**/.env"]
  secrets: true
manifests:
  paths: ["clusters/**/*.yaml", "clusters/**/*.yml"]
  packs: [kubernetes-baseline]
YAML
fi

# Manifests to push: one the policy accepts, one it refuses.
cat >"$demo/samples/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext:
        runAsNonRoot: true
      containers:
        - name: web
          image: nginx:1.27.2
          resources:
            limits: {cpu: 500m, memory: 256Mi}
YAML
cat >"$demo/samples/bad.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bad
  namespace: demo
spec:
  selector:
    matchLabels: {app: bad}
  template:
    metadata:
      labels: {app: bad}
    spec:
      hostNetwork: true
      containers:
        - name: bad
          image: nginx:latest
          securityContext:
            privileged: true
YAML

# The repository, seeded once with a first commit on main, before the gate
# and the notifier are installed.
if [ ! -d "$repo" ]; then
	git init -q --bare -b main "$repo"
	seed=$(mktemp -d "${TMPDIR:-/tmp}/gitgate-demo-seed.XXXXXX")
	git clone -q "$repo" "$seed/work" 2>/dev/null
	mkdir -p "$seed/work/clusters/demo"
	cat >"$seed/work/clusters/demo/namespace.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
YAML
	printf '# platform\n\nWhat runs in the demo cluster. Pushes to main are deployed.\n' \
		>"$seed/work/README.md"
	git -C "$seed/work" add -A
	git -C "$seed/work" -c user.name=gitgate-demo -c user.email=demo@gitgate.invalid \
		commit -q -m "chore: start the platform repository"
	git -C "$seed/work" push -q origin HEAD:refs/heads/main
	rm -rf "$seed"
fi

# Idempotent: a second run only refreshes the notifier's URL.
"$gitgate" install-hook --policy "$demo/policy.yaml" --notify "$url/hooks/git" \
	--secret-file "$demo/secret" "$repo" >/dev/null
# Named by its path below the demo directory: "platform".
git -C "$repo" config gitgate.repoRoot "$demo"

cat >"$demo/gitgated.yaml" <<YAML
# Written by scripts/demo.sh on each run (see gitgated.yaml(5)).
listen: ["127.0.0.1:$port"]
state_dir: $demo/state
# gitgate status on this machine, without a token (a demo only: see gitgated.yaml(5))
api: {allow_loopback_without_token: true}
sources:
  - name: git
    kind: generic
    secret_file: $demo/secret
targets:
  - name: demo
    source: git
    repo: platform
    ref: refs/heads/main
    checkout:
      url: file://$repo
      dir: $demo/deployed
      keep: 3
      poll: 15s
YAML
"$gitgated" -c "$demo/gitgated.yaml" --check >/dev/null

cat <<EOF_
gitgate demo: $repo
  guarded by the pre-receive gate (policy $demo/policy.yaml),
  deployed by gitgated on $url into $demo/deployed
  (on every push; at start and every 15 s it also deploys what main holds, so the
  repository's first commit is live at once and a missed push is caught up)

In another terminal, clone, commit a manifest, push:
  \$ cd "\$(mktemp -d)" && git clone $repo work && cd work
  \$ cp $demo/samples/web.yaml clusters/demo/web.yaml && git add clusters && git commit -q -m "deploy: web"
  \$ git push origin main

Then look at what landed and what the daemon did:
  \$ ls -l $demo/deployed/clusters/demo/
  \$ $gitgate status --url $url

A manifest the policy refuses (privileged, host network, image :latest):
  \$ cp $demo/samples/bad.yaml clusters/demo/bad.yaml && git add clusters && git commit -q -m "deploy: bad"
  \$ git push origin main

The refused commit stays in your clone; drop it to push again from what main holds:
  \$ git reset --hard HEAD~1

gitgated runs in the foreground; Ctrl-C stops it. make run again picks up where it stopped.

EOF_

exec "$gitgated" -c "$demo/gitgated.yaml"
