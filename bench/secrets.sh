#!/bin/sh
# bench/secrets.sh: one push of 10,000 files through gitgate's pre-receive
# hook with `secrets: true` and with scanning off, best of RUNS, CPU time of
# the hook (the machine is shared: wall time is printed but not compared).
#   CORPUS=manifests (default): 10,000 Kubernetes manifests (a Deployment and
#     a Service each, ~1.2 KB) under kubernetes-baseline, the push the gate is
#     for. Target: secrets on <= 1.3x secrets off.
#   CORPUS=config: 10,000 ~1 KB .env, YAML, Terraform, Python and prose files
#     full of the words the rules key on (password, token, secret, key) but
#     holding no secret, with max_size as the only other rule (which reads no
#     blob): the scanner's own cost, reported as throughput — bytes per
#     second of scan CPU, and rule-bytes per second (every built-in rule
#     considered for every byte).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
FILES=${FILES:-10000}
CORPUS=${CORPUS:-manifests}
RUNS=${RUNS:-5}
HOOK="$BUILD/libexec/gitgate/pre-receive"
TOOL="$BUILD/tools/secrets-rules-md"
[ -x "$HOOK" ] && [ -x "$TOOL" ] || { echo "secrets.sh: build first (make, make $TOOL)" >&2; exit 2; }
NRULES=$("$TOOL" | grep -c '^| `secret-')
W=$(mktemp -d "${TMPDIR:-/tmp}/gg-bench-secrets.XXXXXX")
[ -n "${KEEP:-}" ] && echo "keeping $W" >&2 || trap 'rm -rf "$W"' EXIT

git init -q --bare "$W/repo.git"
python3 - "$FILES" "$CORPUS" <<'PY' | git --git-dir="$W/repo.git" fast-import --quiet
import sys
n, corpus = int(sys.argv[1]), sys.argv[2]
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")
def env(i):
    return f"""# service {i} settings; secrets come from the vault at deploy time
APP_NAME=svc-{i:05d}
LOG_LEVEL=info
DB_HOST=db-{i % 17}.internal
DB_PORT=5432
DB_USER=svc_{i:05d}
DB_PASSWORD=${{DB_PASSWORD}}
API_TOKEN=${{API_TOKEN}}
SESSION_SECRET=changeme
STRIPE_KEY=sk_test_xxxxxxxxxxxxxxxxxxxxxxxx
CACHE_TTL_SECONDS={300 + i % 60}
FEATURE_FLAGS=search,checkout,profile
REGION=eu-west-{1 + i % 3}
""".encode() * 2
def yaml(i):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: svc-{i:05d}
data:
  apiKey: "{{{{ .Values.apiKey }}}}"
  tokenUrl: https://auth.example.com/oauth/token
  secretName: svc-{i:05d}-credentials
  keyRef: projects/acme/secrets/svc-{i:05d}/versions/latest
  passwordPolicy: "min length 12, one digit, one symbol"
  retries: "{i % 5}"
  endpoints: |
    https://api-{i % 9}.example.com/v1/items
    https://api-{i % 9}.example.com/v1/orders
""".encode() * 2
def tf(i):
    return f"""resource "aws_db_instance" "svc_{i}" {{
  identifier        = "svc-{i:05d}"
  engine            = "postgres"
  instance_class    = "db.t3.micro"
  username          = "svc_{i:05d}"
  password          = var.db_password
  kms_key_id        = aws_kms_key.main.arn
  secret_arn        = aws_secretsmanager_secret.svc_{i}.arn
  storage_encrypted = true
  tags = {{ team = "team-{i % 40}", token_rotation = "30d" }}
}}
""".encode() * 2
def py(i):
    return f'''import os

def client_{i}():
    """Build the client for service {i}; the token is read at run time."""
    token = os.environ["API_TOKEN"]
    secret = load_secret("svc-{i:05d}")
    api_key = settings.PAYMENTS_API_KEY
    password = getpass.getpass()
    return Client(base_url="https://api.example.com", token=token, key=api_key,
                  secret=secret, password=password, timeout={10 + i % 20})
'''.encode() * 2
def prose(i):
    return (f"Release notes {i}: rotate every token and key; never commit a password or a secret. "
            "The quick brown fox jumps over the lazy dog. " * 12 + "\n").encode()
def manifest(i):
    app = "app-%05d" % i
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: team-{i % 100:02d}
  labels: {{app: {app}, tier: backend}}
  annotations:
    example.com/owner: team-{i % 100:02d}
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
          image: registry.example.com/team-{i % 100:02d}/{app}:2.{i % 7}.{i % 13}
          ports:
            - containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {{name: {app}-db, key: password}}
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
spec:
  selector: {{app: {app}}}
  ports:
    - name: http
      port: 80
      targetPort: 8080
""".encode()
kinds = [(".env", env), (".yaml", yaml), (".tf", tf), (".py", py), (".md", prose)]
if corpus == "manifests":
    kinds = [(".yaml", manifest)]
out.write(b"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> 1700000000 +0000\n")
data(b"init")
out.write(b"M 644 inline README\n")
data(b"services\n")
out.write(b"commit refs/heads/bench\ncommitter Bench <bench@example.com> 1700000001 +0000\n")
data(b"feat: ten thousand services")
out.write(b"from :1\n")
for i in range(n):
    ext, f = kinds[i % len(kinds)]
    out.write(b"M 644 inline svc/%05d/config%s\n" % (i, ext.encode()))
    data(f(i))
PY
OLD=$(git --git-dir="$W/repo.git" rev-parse main)
NEW=$(git --git-dir="$W/repo.git" rev-parse bench)
git --git-dir="$W/repo.git" update-ref -d refs/heads/bench
BYTES=$(git --git-dir="$W/repo.git" diff-tree -r "$OLD" "$NEW" | awk '{print $4}' |
	git --git-dir="$W/repo.git" cat-file --batch-check='%(objectsize)' | awk '{s+=$1} END {print s}')
if [ "$CORPUS" = manifests ]; then
	rules='manifests:\n  paths: ["svc/**/*.yaml"]\n  packs: [kubernetes-baseline]\n'
else
	rules=''
fi
printf "version: 1\nfiles:\n  max_size: 1MiB\n$rules" >"$W/off.yaml"
printf "version: 1\nfiles:\n  max_size: 1MiB\n  secrets: true\n$rules" >"$W/on.yaml"
echo "$OLD $NEW refs/heads/main" >"$W/stdin"

# measure POLICY: best wall and CPU time of RUNS, peak RSS, exit statuses.
measure() {
	python3 - "$W/stdin" "$W/repo.git" "$RUNS" "$1" "$HOOK" <<'PY'
import os, subprocess, sys, time
stdin, gitdir, runs, policy, hook = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
env = dict(os.environ, GIT_DIR=gitdir, GITGATE_POLICY=policy)
best, cpu, rss, codes = None, None, 0, set()
for _ in range(runs):
    with open(stdin) as f:
        t = time.monotonic()
        p = subprocess.Popen([hook], stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=gitdir, env=env)
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
print("%.3f %.3f %d %s" % (best, cpu, rss // 1024, ",".join(map(str, sorted(codes)))))
PY
}

measure "$W/off.yaml" >"$W/off.out"
measure "$W/on.yaml" >"$W/on.out"
read -r ot ocpu orss oc <"$W/off.out"
read -r nt ncpu nrss nc <"$W/on.out"
echo "## secrets ($CORPUS): one push of $FILES files ($BYTES bytes), $NRULES built-in rules, best of $RUNS"
printf '%-12s %7.3f s wall  %7.3f s CPU  %4d MB peak RSS  exit %s\n' \
	"secrets off" "$ot" "$ocpu" "$orss" "$oc" "secrets on" "$nt" "$ncpu" "$nrss" "$nc"
python3 -c '
import sys
ot, nt, oc, nc, b, r = map(float, sys.argv[1:])
d = nc - oc
print("on / off: %.2fx CPU (%.2fx wall)" % (nc / oc, nt / ot))
if d > 0.01:
    print("scanning: %.0f MB/s of CPU; %.2e rule-bytes/s (%d rules x %.0f bytes / %.3f s)" % (b / d / 1e6, r * b / d, r, b, d))
else:
    print("scanning: its CPU cost is within the run-to-run noise (%.3f s)" % d)
' "$ot" "$nt" "$ocpu" "$ncpu" "$BYTES" "$NRULES"
[ "$oc" = 0 ] && [ "$nc" = 0 ] || { echo "secrets.sh: the hook rejected the clean push" >&2; exit 1; }
