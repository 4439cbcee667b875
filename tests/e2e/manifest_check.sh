#!/bin/sh
# gitgate check applies the same manifest engine as the hook: same violations
# for the same files, in text, JSON and SARIF; policy errors with positions.
. "$(dirname "$0")/../lib.sh"

DATA="$GG_TOP/tests/data/manifests"

policy() {
	cat >"$T/policy.yaml" <<-'POL'
	version: 1
	manifests:
	  paths: ["clusters/**/*.yaml", "clusters/**/*.json", "**/docker-compose.yml"]
	  packs: [kubernetes-baseline, compose-baseline]
	  overrides: {k8s-run-as-non-root: off}
	POL
}

# A work tree holding bad manifests of every kind, committed.
worktree() {
	git init -q "$T/w"
	git -C "$T/w" config user.name "Test Author"
	git -C "$T/w" config user.email author@example.com
	mkdir -p "$T/w/clusters/prod" "$T/w/stack"
	cp "$DATA/bad/workloads.yaml" "$DATA/bad/pod.json" "$DATA/bad/duplicate.yaml" \
		"$DATA/bad/truncated.json" "$DATA/good/web.yaml" "$T/w/clusters/prod/"
	cp "$DATA/compose/docker-compose.yml" "$T/w/stack/"
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "deploy: all of it"
}

t_check_prints_what_the_hook_prints() {
	policy
	worktree
	git init -q --bare r.git
	"$GITGATE" install-hook --policy "$T/policy.yaml" r.git >/dev/null
	rc=0
	git -C w push "$T/r.git" HEAD:refs/heads/main 2>push.out || rc=$?
	[ $rc -eq 1 ] || { cat push.out; fail "git push exited $rc, want 1"; }
	sed -n 's/^remote: //p' push.out | sed 's/[[:space:]]*$//' | grep -E '^(error|warning)\[' |
		sort >hook.lines
	rc=0
	(cd w && "$GITGATE" check --policy "$T/policy.yaml" >../check.out) || rc=$?
	[ $rc -eq 1 ] || fail "gitgate check exited $rc, want 1"
	sort check.out >check.lines
	[ -s hook.lines ] || { cat push.out; fail "the hook reported nothing"; }
	diff hook.lines check.lines || fail "gitgate check and the hook disagree"
	# Sanity: what both printed covers each engine's parts.
	expect_contains check.lines 'error[compose-no-docker-socket] stack/docker-compose.yml:11:9: do not mount the Docker socket into a service (found "/var/run/docker.sock:/var/run/docker.sock:ro")'
	expect_contains check.lines 'error[compose-no-docker-socket] stack/docker-compose.yml:13:17:'
	expect_contains check.lines 'error[compose-image-pinned] stack/docker-compose.yml:7:12: pin service images to a version or a digest (found "traefik")'
	expect_contains check.lines "error[compose-no-host-network] stack/docker-compose.yml:8:19:"
	expect_contains check.lines "error[compose-no-privileged] stack/docker-compose.yml:9:17:"
	expect_contains check.lines 'error[duplicate-key] clusters/prod/duplicate.yaml:7:3:'
	expect_contains check.lines 'error[syntax] clusters/prod/truncated.json:4:27: unexpected end of file'
	expect_not_contains check.lines 'k8s-run-as-non-root'
	expect_not_contains check.lines 'web.yaml'
}

t_json_and_sarif_carry_the_same_violations() {
	policy
	worktree
	cd w
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" >../text.out
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --format json >../out.json
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --format sarif >../out.sarif
	cd ..
	python3 -c '
import json, sys
for v in json.load(open(sys.argv[1])):
    print("%s[%s] %s:%d:%d: %s" % (v["severity"], v["rule"], v["path"], v["line"], v["column"], v["message"]))
' out.json | sort >json.lines
	sort text.out >text.lines
	diff text.lines json.lines || fail "JSON differs from text"
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["version"] == "2.1.0", doc["version"]
run = doc["runs"][0]
ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
for res in run["results"]:
    assert res["ruleId"] in ids, res["ruleId"]
    assert res["level"] in ("error", "warning"), res["level"]
    loc = res["locations"][0]["physicalLocation"]
    reg = loc["region"]
    print("%s[%s] %s:%d:%d: %s" % (res["level"], res["ruleId"], loc["artifactLocation"]["uri"],
          reg["startLine"], reg["startColumn"], res["message"]["text"]))
' out.sarif | sort >sarif.lines
	diff text.lines sarif.lines || fail "SARIF differs from text"
	# Kubernetes rules only on Kubernetes objects: the Compose file gets none.
	[ "$(wc -l <text.lines)" -eq 18 ] || { cat text.lines; fail "expected 18 violations"; }
	expect_not_contains text.lines 'stack/docker-compose.yml:1:1'
}

# The object a violation is about: in the text line, as JSON fields, as a SARIF logical location.
t_violations_name_their_object() {
	policy
	worktree
	cd w
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" >../text.out
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --format json >../out.json
	expect_status 1 "$GITGATE" check --policy "$T/policy.yaml" --format sarif >../out.sarif
	cd ..
	expect_contains text.out 'error[k8s-image-pinned] clusters/prod/workloads.yaml:26:18: Deployment/agent: container "agent": pin container images to a version or a digest (found "nginx:latest")'
	python3 - out.json out.sarif <<-'PY' || fail "the object is missing from JSON or SARIF"
	import json, sys
	vs = [v for v in json.load(open(sys.argv[1])) if v["line"] == 26 and v["rule"] == "k8s-image-pinned"]
	assert len(vs) == 1, vs
	v = vs[0]
	assert (v["kind"], v["name"], v["namespace"]) == ("Deployment", "agent", None), v
	dup = [v for v in json.load(open(sys.argv[1])) if v["rule"] == "duplicate-key"][0]
	assert dup["kind"] is None and dup["name"] is None, dup
	run = json.load(open(sys.argv[2]))["runs"][0]
	rules = {r["id"]: r["shortDescription"]["text"] for r in run["tool"]["driver"]["rules"]}
	assert rules["k8s-image-pinned"] == "pin container images to a version or a digest", rules
	assert rules["duplicate-key"] == "no key is repeated within one mapping", rules
	for rid, text in rules.items():
	    assert text != rid, (rid, text)
	res = [r for r in run["results"] if r["ruleId"] == "k8s-image-pinned"
	       and r["locations"][0]["physicalLocation"]["region"]["startLine"] == 26][0]
	logical = res["locations"][0]["logicalLocations"][0]
	assert logical == {"name": "agent", "fullyQualifiedName": "Deployment/agent",
	                   "kind": "resource"}, logical
	PY
}

t_clean_tree_exits_zero() {
	policy
	mkdir -p clusters/prod
	cp "$DATA/good/web.yaml" clusters/prod/
	"$GITGATE" check --policy "$T/policy.yaml" >out 2>err || fail "a clean tree did not exit 0"
	[ ! -s out ] || fail "violations on a clean tree: $(cat out)"
}

t_bad_manifest_rules_are_policy_errors_with_positions() {
	cat >bad.yaml <<-'POL'
	version: 1
	manifests:
	  packs: [kubernetes-baseline]
	  overrides: {k8s-no-such-rule: off}
	  rules:
	    - id: one
	      path: spec..replicas
	      assert: {min: 2}
	    - id: two
	      path: a
	      assert: {matches: '(unclosed'}
	    - id: one
	      path: b
	      assert: {exist: true}
	POL
	expect_status 2 "$GITGATE" policy lint bad.yaml 2>err
	expect_contains err 'bad.yaml:7:13: bad path "spec..replicas": empty key at character 6'
	expect_contains err "bad.yaml:11:25: matches: invalid regular expression '(unclosed' at offset 9: missing closing parenthesis"
	expect_contains err 'bad.yaml:14:16: unknown assertion "exist"'
	expect_contains err 'bad.yaml:4:15: overrides: unknown rule id "k8s-no-such-rule"'
	mkdir -p clusters
	cp "$DATA/good/web.yaml" clusters/
	expect_status 2 "$GITGATE" check --policy bad.yaml >out 2>err2
	expect_contains err2 'bad.yaml:7:13: bad path "spec..replicas"'
}

t_range_reports_deletions_like_the_hook() {
	git init -q w
	git -C w config user.name "Test Author"
	git -C w config user.email author@example.com
	mkdir -p w/clusters
	cp "$DATA/good/web.yaml" w/clusters/web.yaml
	git -C w add -A
	git -C w commit -q -m "deploy: web"
	sed -n '1,/^---$/p' "$DATA/good/web.yaml" | sed '$d' >w/clusters/web.yaml
	git -C w commit -q -a -m "deploy: drop the service"
	cat >p.yaml <<-'POL'
	version: 1
	manifests:
	  paths: ["clusters/**"]
	  packs: [kubernetes-baseline]
	  deny_deletion: true
	POL
	rc=0
	(cd w && "$GITGATE" check --policy "$T/p.yaml" --range HEAD~1..HEAD >../out) || rc=$?
	[ $rc -eq 1 ] || fail "gitgate check --range exited $rc, want 1"
	grep -qxF 'error[deny-deletion] clusters/web.yaml:23:1: Service "web" (v1, namespace "prod") was deleted (it was at clusters/web.yaml:23); push with -o gitgate.allow=deletion to allow it' out ||
		{ cat out; fail "deletion not reported by --range"; }
	[ "$(wc -l <out)" -eq 1 ] || { cat out; fail "expected one violation"; }
}

run_cases
