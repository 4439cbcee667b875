#!/bin/sh
# Manifest rules in the pre-receive hook: real pushes into a bare repository
# guarded by `gitgate install-hook --policy`.
. "$(dirname "$0")/../lib.sh"

DATA="$GG_TOP/tests/data/manifests"

# A bare repository guarded by POLICY (default: kubernetes-baseline with
# deny_deletion) and a work tree cloned from it, in $T/w.
setup() {
	if [ -z "${1:-}" ]; then
		cat >"$T/policy.yaml" <<-'POL'
		version: 1
		manifests:
		  paths: ["clusters/**/*.yaml", "clusters/**/*.yml", "clusters/**/*.json"]
		  exclude: ["**/testdata/**"]
		  packs: [kubernetes-baseline]
		  deny_deletion: true
		  deletions:
		    allow_users: [ops]
		POL
	else
		cp "$1" "$T/policy.yaml"
	fi
	git init -q --bare "$T/r.git"
	"$GITGATE" install-hook --policy "$T/policy.yaml" "$T/r.git" >/dev/null
	git init -q "$T/w"
	git -C "$T/w" config user.name "Test Author"
	git -C "$T/w" config user.email author@example.com
}

commit() { # message
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "$1"
}

# push [git push options...]: push HEAD to main; output in $T/push.out, the
# violation lines (without git's "remote: " prefix) in $T/lines.
push() {
	rc=0
	git -C "$T/w" push "$@" "$T/r.git" HEAD:refs/heads/main >"$T/push.out" 2>&1 || rc=$?
	sed -n 's/^remote: //p' "$T/push.out" | sed 's/[[:space:]]*$//' |
		grep -E '^(error|warning)\[' >"$T/lines" || true
	return $rc
}

t_pinned_limited_deployment_passes() {
	setup
	mkdir -p w/clusters/prod
	cp "$DATA/good/web.yaml" w/clusters/prod/web.yaml
	commit "deploy: web"
	push || { cat push.out; fail "a clean Deployment was refused"; }
	[ ! -s lines ] || fail "violations reported for a clean push: $(cat lines)"
	[ "$(git --git-dir=r.git rev-parse main)" = "$(git -C w rev-parse HEAD)" ] ||
		fail "main was not updated"
}

t_baseline_rules_reject_at_their_lines() {
	setup
	mkdir -p w/clusters/prod w/docs
	for f in workloads.yaml pod.json secret.yaml cronjob.yaml object.yaml; do
		cp "$DATA/bad/$f" w/clusters/prod/
	done
	cp "$DATA/bad/secret.yaml" w/docs/not-selected.yaml
	commit "deploy: everything wrong"
	expect_status 1 push
	expect_contains push.out "[remote rejected] HEAD -> main"
	# The second document of a multi-document file, lines from the top.
	for l in \
		'warning[k8s-run-as-non-root] clusters/prod/workloads.yaml:15:7: Deployment/agent: set securityContext.runAsNonRoot true in the pod spec (missing securityContext.runAsNonRoot)' \
		"error[k8s-no-host-network] clusters/prod/workloads.yaml:15:20: Deployment/agent: pods must not use the host's network (found true)" \
		"error[k8s-no-host-pid] clusters/prod/workloads.yaml:16:16: Deployment/agent: pods must not share the host's process namespace (found true)" \
		"error[k8s-no-host-ipc] clusters/prod/workloads.yaml:17:16: Deployment/agent: pods must not share the host's IPC namespace (found true)" \
		'error[k8s-no-host-path] clusters/prod/workloads.yaml:20:21: Deployment/agent: hostPath volumes are not allowed (found a map)' \
		'error[k8s-cpu-limit] clusters/prod/workloads.yaml:22:11: Deployment/agent: init container "init": set a CPU limit on every container (missing resources.limits.cpu)' \
		'error[k8s-memory-limit] clusters/prod/workloads.yaml:22:11: Deployment/agent: init container "init": set a memory limit on every container (missing resources.limits.memory)' \
		'error[k8s-image-pinned] clusters/prod/workloads.yaml:23:18: Deployment/agent: init container "init": pin container images to a version or a digest (found "busybox")' \
		'error[k8s-image-pinned] clusters/prod/workloads.yaml:26:18: Deployment/agent: container "agent": pin container images to a version or a digest (found "nginx:latest")' \
		'error[k8s-no-privileged] clusters/prod/workloads.yaml:28:25: Deployment/agent: container "agent": privileged containers are not allowed (found true)' \
		'error[k8s-image-pinned] clusters/prod/pod.json:8:34: Pod/cache: container "redis": pin container images to a version or a digest (found "redis")' \
		'error[k8s-cpu-limit] clusters/prod/pod.json:8:67: Pod/cache: container "redis": set a CPU limit on every container (missing cpu)' \
		'error[k8s-no-plain-secret] clusters/prod/secret.yaml:2:7: Secret/db: plain Secret objects are refused; commit an encrypted form (SealedSecret, SOPS) (found "Secret")' \
		'error[k8s-image-pinned] clusters/prod/cronjob.yaml:14:22: CronJob/backup: container "backup": pin container images to a version or a digest (found "registry.example.com:5000/backup")' \
		'error[k8s-api-version] clusters/prod/object.yaml:1:1: ConfigMap: every Kubernetes object needs an apiVersion (missing apiVersion)' \
		'error[k8s-metadata-name] clusters/prod/object.yaml:3:3: ConfigMap: every Kubernetes object needs metadata.name (missing name)'; do
		grep -qxF -- "$l" lines || { cat push.out; fail "missing line: $l"; }
	done
	[ "$(wc -l <lines)" -eq 16 ] || { cat lines; fail "expected exactly 16 violations"; }
	expect_not_contains lines "docs/not-selected.yaml"
	expect_status 1 git --git-dir=r.git rev-parse -q --verify refs/heads/main
}

t_parse_problems_have_positions() {
	setup
	mkdir -p w/clusters/prod
	cp "$DATA/bad/duplicate.yaml" "$DATA/bad/tab.yaml" "$DATA/bad/truncated.json" w/clusters/prod/
	commit "deploy: broken files"
	expect_status 1 push
	grep -qxF 'error[duplicate-key] clusters/prod/duplicate.yaml:7:3: duplicate key "key" (first at line 6)' lines ||
		{ cat push.out; fail "duplicate key not reported"; }
	grep -qE '^error\[syntax\] clusters/prod/tab\.yaml:4:1: .+' lines ||
		{ cat push.out; fail "tab indentation not reported at 4:1"; }
	grep -qxF 'error[syntax] clusters/prod/truncated.json:4:27: unexpected end of file' lines ||
		{ cat push.out; fail "truncated JSON not reported"; }
}

t_billion_laughs_is_refused() {
	setup
	mkdir -p w/clusters/prod
	cp "$DATA/bad/laughs.yaml" w/clusters/prod/
	commit "deploy: laughs"
	expect_status 1 push
	grep -qE '^error\[limit\] clusters/prod/laughs\.yaml:[0-9]+:[0-9]+: aliases expand to more than [0-9]+ nodes$' lines ||
		{ cat push.out; fail "alias bomb not refused with a limit violation"; }
}

t_custom_rule_with_when() {
	cat >"$T/custom.yaml" <<-'POL'
	version: 1
	manifests:
	  paths: ["**/*.yaml"]
	  rules:
	    - id: pinned-images
	      severity: error
	      when: {kind: [Deployment, StatefulSet, DaemonSet]}
	      path: spec.template.spec.containers[*].image
	      assert: {not_matches: '(:latest$)|(^[^:@]+$)'}
	      message: pin container images to a version or a digest
	    - id: replicas
	      severity: warning
	      when: {kind: Deployment, metadata.namespace: {matches: '^prod'}}
	      path: spec.replicas
	      assert: {exists: true, min: 3}
	      message: production Deployments run at least 3 replicas
	POL
	setup "$T/custom.yaml"
	mkdir -p w/apps
	cp "$DATA/good/web.yaml" w/apps/web.yaml
	sed 's/nginx:1.25.3/nginx:latest/' "$DATA/good/web.yaml" >w/apps/latest.yaml
	# The same image in a Pod is not a Deployment: the `when` does not hold.
	printf 'kind: Pod\nspec:\n  template:\n    spec:\n      containers: [{image: nginx}]\n' >w/apps/pod.yaml
	commit "deploy: custom rules"
	expect_status 1 push
	grep -qxF 'error[pinned-images] apps/latest.yaml:19:18: Deployment/web: pin container images to a version or a digest (found "nginx:latest")' lines ||
		{ cat push.out; fail "custom rule violation missing"; }
	grep -qxF 'warning[replicas] apps/web.yaml:8:13: Deployment/web: production Deployments run at least 3 replicas (found 2)' lines ||
		{ cat push.out; fail "custom warning missing"; }
	[ "$(wc -l <lines)" -eq 3 ] || { cat lines; fail "expected 3 violations (2 replicas warnings, 1 error)"; }
}

t_deletion_refused_then_allowed() {
	setup
	mkdir -p w/clusters/prod
	cp "$DATA/good/web.yaml" w/clusters/prod/web.yaml
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n' >w/clusters/prod/cm.yaml
	commit "deploy: web"
	push || { cat push.out; fail "first push refused"; }
	# Moving a resource to another changed file is not a deletion.
	git -C w mv clusters/prod/cm.yaml clusters/prod/settings.yaml
	commit "chore: rename"
	push || { cat push.out; fail "a moved resource was taken for a deletion"; }
	# Dropping the Service document is.
	sed -n '1,/^---$/p' "$DATA/good/web.yaml" | sed '$d' >w/clusters/prod/web.yaml
	commit "deploy: drop the service"
	expect_status 1 push
	grep -qxF 'error[deny-deletion] clusters/prod/web.yaml:23:1: Service "web" (v1, namespace "prod") was deleted (it was at clusters/prod/web.yaml:23); push with -o gitgate.allow=deletion to allow it' lines ||
		{ cat push.out; fail "deletion not refused as expected"; }
	[ "$(wc -l <lines)" -eq 1 ] || { cat lines; fail "expected one violation"; }
	GITGATE_USER=ops push -o gitgate.allow=deletion || { cat push.out; fail "the allowed deletion was refused"; }
	expect_contains push.out "remote: gitgate: resource deletions allowed for ops"
	[ "$(git --git-dir=r.git rev-parse main)" = "$(git -C w rev-parse HEAD)" ] ||
		fail "main was not updated"
	# Deleting a whole file is a deletion too.
	git -C w rm -q clusters/prod/settings.yaml
	commit "chore: drop settings"
	expect_status 1 push
	expect_contains lines 'error[deny-deletion] clusters/prod/settings.yaml:1:1: ConfigMap "settings" (v1) was deleted'
}

run_cases
