#!/bin/sh
# Manifests as repositories hold them: Helm charts, kustomizations, rendered
# streams on standard input, YAML that is not Kubernetes, every pod template
# kind. Real pushes into a bare repository guarded by the hook, and gitgate
# check on work trees and on standard input.
. "$(dirname "$0")/../lib.sh"

DATA="$GG_TOP/tests/data/manifests"

# A bare repository guarded by POLICY (default: kubernetes-baseline on every
# YAML file, the default paths) and an empty work tree in $T/w.
setup() {
	if [ -z "${1:-}" ]; then
		cat >"$T/policy.yaml" <<-'POL'
		version: 1
		manifests:
		  packs: [kubernetes-baseline]
		POL
	else
		cp "$1" "$T/policy.yaml"
	fi
	git init -q --bare "$T/r.git"
	"$GITGATE" install-hook --policy "$T/policy.yaml" "$T/r.git" >/dev/null
	git init -q "$T/w"
}

commit() { # message
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "$1"
}

# push: HEAD to main; output in $T/push.out, gitgate's lines (without
# "remote: ") in $T/lines.
push() {
	rc=0
	git -C "$T/w" push "$T/r.git" HEAD:refs/heads/main >"$T/push.out" 2>&1 || rc=$?
	sed -n 's/^remote: //p' "$T/push.out" | sed 's/[[:space:]]*$//' |
		grep -E '^(error|warning|note)\[' >"$T/lines" || true
	return $rc
}

landed() {
	[ "$(git --git-dir="$T/r.git" rev-parse -q --verify refs/heads/main)" = \
		"$(git -C "$T/w" rev-parse HEAD)" ] || fail "the push did not land"
}

chart() {
	mkdir -p w/charts
	cp -R "$DATA/chart/web" w/charts/
}

t_chart_lands_with_a_note() {
	setup
	chart
	mkdir -p w/.github/workflows w/clusters/prod
	printf 'name: ci\non: [push]\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps: [{run: make}]\n' \
		>w/.github/workflows/ci.yaml
	cp "$DATA/good/web.yaml" w/clusters/prod/web.yaml
	commit "deploy: the web chart"
	push || { cat push.out; fail "the chart was refused"; }
	landed
	# One note for the chart; nothing about templates, values or the workflow.
	grep -qxF 'note[helm-chart] charts/web/Chart.yaml:1:1: chart "web": its templates are not rendered here; check what they render with: helm template charts/web | gitgate check -' lines ||
		{ cat push.out; fail "the chart note is missing"; }
	[ "$(wc -l <lines)" -eq 1 ] || { cat push.out; fail "expected the chart note alone"; }
	expect_contains push.out "push accepted"
}

t_chart_v1_is_refused() {
	setup
	chart
	sed -i 's/^apiVersion: v2/apiVersion: v1/; s/^version: 0.3.1/version: "0.3"/' \
		w/charts/web/Chart.yaml
	commit "deploy: an old chart"
	expect_status 1 push
	for l in \
		'error[helm-chart] charts/web/Chart.yaml:1:13: Chart.yaml: apiVersion must be v2, as Helm 3 charts have it (found "v1")' \
		'error[helm-chart] charts/web/Chart.yaml:5:10: Chart.yaml: version must be SemVer 2 such as 1.2.3 (found "0.3")'; do
		grep -qxF -- "$l" lines || { cat push.out; fail "missing line: $l"; }
	done
	expect_not_contains lines "templates/"
	expect_not_contains lines "values.yaml"
	expect_status 1 git --git-dir=r.git rev-parse -q --verify refs/heads/main
}

# What `helm template web charts/web | gitgate check -` gives: violations named by template.
t_rendered_stream_on_stdin() {
	setup
	rc=0
	"$GITGATE" check --policy policy.yaml --stdin-name rendered.yaml - <"$DATA/rendered/web.yaml" \
		>out 2>err || rc=$?
	[ $rc -eq 1 ] || { cat out err; fail "gitgate check - exited $rc, want 1"; }
	expect_contains out 'error[k8s-image-pinned] web/templates/deployment.yaml:24:18: Deployment/release-web: container "web": pin container images to a version or a digest (found "nginx:latest")'
	# A document without a Source comment is named by --stdin-name.
	expect_contains out 'error[k8s-metadata-name] rendered.yaml:33:3: ConfigMap: every Kubernetes object needs metadata.name (missing name)'
	[ "$(wc -l <out)" -eq 2 ] || { cat out; fail "expected 2 violations"; }
	# The same as JSON, and "-" as the default name.
	expect_status 1 "$GITGATE" check --policy policy.yaml --format json - \
		<"$DATA/rendered/web.yaml" >out.json
	python3 - out.json <<-'PY' || fail "JSON does not name the template"
	import json, sys
	v = {(x["path"], x["line"]) : x for x in json.load(open(sys.argv[1]))}
	assert v[("web/templates/deployment.yaml", 24)]["name"] == "release-web", v
	assert v[("-", 33)]["namespace"] == "prod", v
	PY
	# A clean stream exits 0; --stdin-name without - is a usage error.
	sed 's/nginx:latest/nginx:1.25.3/; s/^  namespace: prod/  name: motd/' \
		"$DATA/rendered/web.yaml" >clean.yaml
	"$GITGATE" check --policy policy.yaml - <clean.yaml >out || { cat out; fail "a clean stream failed"; }
	expect_status 2 "$GITGATE" check --policy policy.yaml --stdin-name x.yaml
}

t_kustomization_entries_must_exist() {
	cat >"$T/kpolicy.yaml" <<-'POL'
	version: 1
	manifests:
	  paths: ["**/kustomization.yaml"]
	  packs: [kubernetes-baseline]
	POL
	setup "$T/kpolicy.yaml"
	cp -R "$DATA/kustomize/base" "$DATA/kustomize/overlays" w/
	# Outside manifests.paths, but a resource of the build: validated.
	sed -i 's/nginx:1.25.3/nginx:latest/' w/base/deployment.yaml
	commit "deploy: prod overlay"
	expect_status 1 push
	for l in \
		'error[kustomize] base/kustomization.yaml:5:5: resource "service.yaml" does not exist' \
		'error[kustomize] overlays/prod/kustomization.yaml:7:11: patch "replicas.yaml" does not exist' \
		'note[kustomize] overlays/prod/kustomization.yaml:5:5: resource "https://github.com/acme/shared//monitoring?ref=v1.2.0" is remote: it is not fetched, and not checked here' \
		'error[k8s-image-pinned] base/deployment.yaml:18:18: Deployment/web: container "web": pin container images to a version or a digest (found "nginx:latest")'; do
		grep -qxF -- "$l" lines || { cat push.out; fail "missing line: $l"; }
	done
	[ "$(wc -l <lines)" -eq 4 ] || { cat push.out; fail "expected 4 lines"; }
	# gitgate check on the work tree says the same.
	(cd w && "$GITGATE" check --policy "$T/kpolicy.yaml" >../check.out) && fail "check passed"
	expect_contains check.out 'error[kustomize] base/kustomization.yaml:5:5: resource "service.yaml" does not exist'
	expect_contains check.out 'error[kustomize] overlays/prod/kustomization.yaml:7:11: patch "replicas.yaml" does not exist'
	# Fixed: the files exist, the image is pinned.
	cp "$DATA/kustomize/service.yaml" w/base/service.yaml
	cp "$DATA/kustomize/replicas.yaml" w/overlays/prod/replicas.yaml
	sed -i 's/nginx:latest/nginx:1.25.3/' w/base/deployment.yaml
	commit "deploy: prod overlay, complete"
	push || { cat push.out; fail "the fixed kustomizations were refused"; }
	landed
	# The base goes away alone: the overlay in its sibling directory names it.
	git -C w rm -rq base
	commit "deploy: drop the base"
	expect_status 1 push
	grep -qxF 'error[kustomize] overlays/prod/kustomization.yaml:4:5: resource "../../base" does not exist' lines ||
		{ cat push.out; fail "an overlay whose base was deleted landed"; }
	git -C w reset -q --hard HEAD~1
	# A generator file that goes away, and a base that is not a kustomization.
	rm w/base/config/nginx.conf
	sed -i 's|../../base|../../base/config|' w/overlays/prod/kustomization.yaml
	commit "deploy: drop the config"
	expect_status 1 push
	grep -qxF 'error[kustomize] base/kustomization.yaml:9:9: file "config/nginx.conf" does not exist' lines ||
		{ cat push.out; fail "missing generator file not reported"; }
}

# A resource that is a symlink out of the tree is never read by gitgate check.
t_kustomization_symlink_out_of_the_tree_is_not_read() {
	printf 'apiVersion: v1\nkind: Secret\nmetadata: {name: leaked-token}\n' >outside.yaml
	mkdir -p tree/base
	printf 'version: 1\nmanifests:\n  packs: [kubernetes-baseline]\n' >tree/.gitgate.yaml
	printf 'resources:\n  - secret.yaml\n  - gone.yaml\n' >tree/base/kustomization.yaml
	ln -s "$T/outside.yaml" tree/base/secret.yaml
	(cd tree && GIT_CEILING_DIRECTORIES="$T" "$GITGATE" check >../out 2>../err) && fail "check passed"
	expect_contains out 'error[kustomize] base/kustomization.yaml:3:5: resource "gone.yaml" does not exist'
	expect_not_contains out "leaked-token"
	expect_not_contains out "k8s-no-plain-secret"
}

t_ephemeral_latest_in_rc_and_cronjob_is_refused() {
	setup
	mkdir -p w/clusters
	cat >w/clusters/rc.yaml <<-'EOF'
	apiVersion: v1
	kind: ReplicationController
	metadata: {name: legacy}
	spec:
	  template:
	    spec:
	      securityContext: {runAsNonRoot: true}
	      containers:
	        - {name: app, image: 'app:1.0', resources: {limits: {cpu: 1, memory: 1Gi}}}
	      ephemeralContainers:
	        - {name: debug, image: 'busybox:latest'}
	EOF
	cat >w/clusters/cronjob.yaml <<-'EOF'
	apiVersion: batch/v1
	kind: CronJob
	metadata: {name: backup, namespace: ops}
	spec:
	  schedule: "0 3 * * *"
	  jobTemplate:
	    spec:
	      template:
	        spec:
	          securityContext: {runAsNonRoot: true}
	          containers:
	            - {name: backup, image: 'backup:2.1', resources: {limits: {cpu: 1, memory: 1Gi}}}
	          ephemeralContainers:
	            - name: shell
	              image: alpine:latest
	EOF
	commit "deploy: jobs"
	expect_status 1 push
	for l in \
		'error[k8s-image-pinned] clusters/rc.yaml:11:32: ReplicationController/legacy: ephemeral container "debug": pin container images to a version or a digest (found "busybox:latest")' \
		'error[k8s-image-pinned] clusters/cronjob.yaml:15:22: CronJob/backup: ephemeral container "shell": pin container images to a version or a digest (found "alpine:latest")'; do
		grep -qxF -- "$l" lines || { cat push.out; fail "missing line: $l"; }
	done
	[ "$(wc -l <lines)" -eq 2 ] || { cat push.out; fail "expected 2 violations"; }
}

# gitgate check finds .gitgate.yaml where its message says it looks, and never
# reads its own policy or reports as manifests.
t_check_finds_its_policy_and_skips_its_own_files() {
	mkdir plain
	cat >plain/.gitgate.yaml <<-'POL'
	version: 1
	manifests:
	  packs: [kubernetes-baseline]
	POL
	sed 's/nginx:1.25.3/nginx:latest/' "$DATA/good/web.yaml" >plain/web.yaml
	# Outside any repository: the current directory's policy is used.
	(cd plain && GIT_CEILING_DIRECTORIES="$T" "$GITGATE" check >../out 2>../err) && fail "check passed"
	expect_not_contains err "no policy found"
	expect_contains out 'error[k8s-image-pinned] web.yaml:19:18: Deployment/web: container "web"'
	# Inside a repository, with the default paths: the policy, a JSON report
	# beside it and Helm values are not Kubernetes objects.
	git init -q plain
	(cd plain && "$GITGATE" check --format json >report.json) && fail "check passed"
	(cd plain && "$GITGATE" check --format sarif >report.sarif) && fail "check passed"
	printf 'replicaCount: 2\nimage: {tag: latest}\n' >plain/values.yaml
	(cd plain && "$GITGATE" check >../out 2>../err) && fail "check passed"
	expect_not_contains out ".gitgate.yaml"
	expect_not_contains out "report.json"
	expect_not_contains out "report.sarif"
	expect_not_contains out "missing apiVersion"
	expect_contains out 'note[kubernetes-baseline] values.yaml:1:1: not checked: kubernetes-baseline applies to Kubernetes objects (documents with an apiVersion or a kind)'
	[ "$(grep -c '^error' out)" -eq 1 ] || { cat out; fail "expected the one image error"; }
	# With no policy anywhere, the message says where it looked.
	mkdir empty
	(cd empty && GIT_CEILING_DIRECTORIES="$T" "$GITGATE" check >../out 2>../err) && fail "check passed"
	expect_contains err "no policy found (--policy, \$GITGATE_POLICY, .gitgate.yaml or .gitgate/policy.yaml at the top of the repository or in the current directory, git config gitgate.policy)"
}

t_unclosed_quote_is_reported_where_it_opened() {
	setup
	mkdir -p w/clusters
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: motd\ndata:\n  a: "1"\n  b: "2"\n  motd: "hello\n  c: 3\n' \
		>w/clusters/motd.yaml
	commit "deploy: motd"
	expect_status 1 push
	grep -qxF 'error[syntax] clusters/motd.yaml:8:9: a quoted string opened here is not closed (found unexpected end of stream at 10:1)' lines ||
		{ cat push.out; fail "the unclosed quote is not reported where it opened"; }
}

run_cases
