#!/bin/sh
# Kubernetes schema validation (manifests.schemas) in the pre-receive hook:
# real pushes of built-in kinds, Lists, CRDs with their custom resources, and
# schema locations into a bare repository guarded by `gitgate install-hook`.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/hook_common.inc"

DATA="$GG_TOP/tests/data/schemas"

# add SRC DEST: copy a test file into the work tree.
add() {
	mkdir -p "$(dirname "$T/w/$2")"
	cp "$DATA/$1" "$T/w/$2"
}

save() { # message
	git -C "$T/w" add -A
	git -C "$T/w" commit -q -m "$1"
}

# The violation lines of the last push, without git's "remote: " prefix.
lines() {
	sed -n 's/^remote: //p' "$T/out" | sed 's/[[:space:]]*$//' | grep -E '^(error|warning)\[' || true
}

landed() {
	[ "$(git -C "$T/srv.git" rev-parse main)" = "$(git -C "$T/w" rev-parse main)" ] ||
		fail "main was not updated"
}

policy() { # extra lines under schemas:
	printf 'version: 1\nmanifests:\n  paths: ["**/*.yaml", "**/*.json"]\n  schemas:\n    kubernetes: "1.32"\n%s\n' "${1:-}"
}

t_valid_resources_land() {
	policy | setup
	add good.yaml apps/web.yaml
	save "deploy: web"
	push main || { cat out; fail "valid resources were refused"; }
	[ -z "$(lines)" ] || fail "violations on a valid push: $(lines)"
	landed
}

t_invalid_resources_refused_at_their_positions() {
	policy | setup
	add bad.yaml apps/web.yaml
	save "deploy: web"
	expect_status 1 push main
	expect_contains out "[remote rejected] main -> main"
	lines >got
	cat >want <<'W'
error[k8s-schema] apps/web.yaml:6:3: spec: unknown field "replica" (did you mean "replicas"?)
error[k8s-schema] apps/web.yaml:7:13: spec.replicas: expected integer, found string "three"
error[k8s-schema] apps/web.yaml:17:11: spec.template.spec.containers[0]: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)
error[k8s-schema] apps/web.yaml:20:22: spec.template.spec.containers[0].env[0].value: expected string, found boolean yes (Kubernetes reads an unquoted yes as the boolean true; quote it: "yes")
error[k8s-schema] apps/web.yaml:28:13: spec.ports[0].port: expected integer, found string "eighty"
error[k8s-schema] apps/web.yaml:30:9: spec.type: must be one of ExternalName, ClusterIP, NodePort, LoadBalancer (found "Internal")
error[k8s-schema] apps/web.yaml:37:3: spec: missing required field "jobTemplate"
error[k8s-schema] apps/web.yaml:48:13: spec.rules[0].http.paths[0]: missing required field "pathType"
error[k8s-schema] apps/web.yaml:50:15: spec.rules[0].http.paths[0].backend: unknown field "serviceName"
error[k8s-schema] apps/web.yaml:58:18: items[0].data.port: expected string, found integer 8080 (quote it: "8080")
error[k8s-schema] apps/web.yaml:59:17: items[1]: Ingress extensions/v1beta1 is not served by Kubernetes 1.32 (it serves networking.k8s.io/v1)
W
	diff want got || fail "the violation lines differ"
	! git -C srv.git rev-parse -q --verify main >/dev/null || fail "main was created"
}

t_gitgate_check_prints_the_same_lines() {
	policy >policy.yaml
	mkdir -p c/apps
	cp "$DATA/bad.yaml" c/apps/web.yaml
	cd c
	expect_status 1 "$GITGATE" check --policy ../policy.yaml apps/web.yaml >../text
	expect_status 1 "$GITGATE" check --policy ../policy.yaml --format json apps/web.yaml >../json
	expect_status 1 "$GITGATE" check --policy ../policy.yaml --format sarif apps/web.yaml >../sarif
	cd ..
	expect_contains text 'error[k8s-schema] apps/web.yaml:7:13: spec.replicas: expected integer, found string "three"'
	expect_contains json '"message": "spec.replicas: expected integer, found string \"three\""'
	expect_contains sarif '"ruleId": "k8s-schema"'
	expect_contains sarif 'spec.replicas: expected integer, found string \"three\"'
}

t_crd_and_custom_resource_in_one_push() {
	policy | setup
	add cr-bad.yaml apps/a-widget.yaml
	add crd.yaml crds/widget.yaml
	save "deploy: widget"
	expect_status 1 push main
	lines >got
	cat >want <<'W'
error[k8s-schema] apps/a-widget.yaml:6:9: spec.size: expected integer, found string "big"
error[k8s-schema] apps/a-widget.yaml:7:3: spec: unknown field "colour" (did you mean "color"?)
W
	diff want got || fail "the violation lines differ"
	add cr-good.yaml apps/a-widget.yaml
	save "fix: widget"
	push main || { cat out; fail "the fixed custom resource was refused"; }
	[ -z "$(lines)" ] || fail "violations on the fixed push: $(lines)"
	landed
}

t_crd_pushed_earlier_still_applies() {
	policy | setup
	add crd.yaml crds/widget.yaml
	save "crd"
	push main || fail "the CRD was refused"
	add cr-bad.yaml apps/w.yaml
	save "cr"
	expect_status 1 push main
	expect_contains out 'error[k8s-schema] apps/w.yaml:7:3: spec: unknown field "colour" (did you mean "color"?)'
}

t_custom_resource_without_crd_follows_unknown_kinds() {
	policy | setup
	add cr-bad.yaml apps/w.yaml
	save "cr"
	push main || { cat out; fail "warn (the default) refused the push"; }
	lines >got
	echo 'warning[k8s-schema] apps/w.yaml:2:7: no schema for kind Widget (example.com/v1): add its CustomResourceDefinition to the repository or a schema location, or set unknown_kinds' >want
	diff want got || fail "the warning differs"
	landed

	rm -rf "$T/srv.git" "$T/w"
	policy "    unknown_kinds: error" | setup
	add cr-bad.yaml apps/w.yaml
	save "cr"
	expect_status 1 push main
	expect_contains out 'error[k8s-schema] apps/w.yaml:2:7: no schema for kind Widget (example.com/v1)'

	rm -rf "$T/srv.git" "$T/w"
	policy "    unknown_kinds: ignore" | setup
	add cr-bad.yaml apps/w.yaml
	save "cr"
	push main || { cat out; fail "ignore refused the push"; }
	[ -z "$(lines)" ] || fail "violations with unknown_kinds: ignore: $(lines)"
}

t_strict_false_accepts_unknown_fields() {
	policy "    strict: false" | setup
	commit apps/d.yaml 'apiVersion: v1
kind: ConfigMap
metadata: {name: x, colour: red}
dta: {a: "1"}
data: {b: 2}' "cm"
	expect_status 1 push main
	lines >got
	echo 'error[k8s-schema] apps/d.yaml:5:11: data.b: expected string, found integer 2 (quote it: "2")' >want
	diff want got || fail "strict: false should still check types, and only types"
}

t_location_in_repository_supplies_kinds() {
	# Only apps/ holds manifests: the CRD is found through the location alone.
	policy '    locations: [schemas/]' | sed 's|"\*\*/\*.yaml", "\*\*/\*.json"|"apps/**"|' | setup
	grep -q '"apps/\*\*"' policy.yaml || fail "the policy was not narrowed to apps/"
	# A vendored CRD under the location, and a kind file in kubeconform's layout.
	add crd.yaml schemas/vendor/widget.yaml
	mkdir -p w/schemas
	cat >w/schemas/gadget-example-v1.json <<'J'
{"type": "object", "additionalProperties": false, "required": ["apiVersion", "kind", "spec"],
 "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
  "metadata": {"type": "object"},
  "spec": {"type": "object", "additionalProperties": false,
   "properties": {"level": {"type": "integer", "format": "int32"}}}}}
J
	commit apps/g.yaml 'apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
spec: {level: 4294967296, levl: 1}' "gadget"
	add cr-bad.yaml apps/w.yaml
	save "widget"
	expect_status 1 push main
	lines >got
	cat >want <<'W'
error[k8s-schema] apps/g.yaml:4:15: spec.level: 4294967296 is out of range for int32
error[k8s-schema] apps/g.yaml:4:27: spec: unknown field "levl" (did you mean "level"?)
error[k8s-schema] apps/w.yaml:6:9: spec.size: expected integer, found string "big"
error[k8s-schema] apps/w.yaml:7:3: spec: unknown field "colour" (did you mean "color"?)
W
	diff want got || fail "the violation lines differ"
}

t_malformed_location_fails_closed_with_its_position() {
	policy '    locations: [schemas]' | setup
	mkdir -p w/schemas
	printf '{"definitions": {\n  "a": {"type": "object",\n        "properties": {"x": {"$ref": "#/definitions/nope"}}},\n' >w/schemas/_definitions.json
	add good.yaml apps/web.yaml
	save "broken location"
	expect_status 1 push main
	expect_contains out 'error[k8s-schema] schemas/_definitions.json:4:1:'
	printf '{"definitions": {\n  "a": {"type": "object",\n        "properties": {"x": {"$ref": "#/definitions/nope"}}}}}\n' >w/schemas/_definitions.json
	save "still broken"
	expect_status 1 push main
	expect_contains out 'error[k8s-schema] schemas/_definitions.json:3:38: $ref "#/definitions/nope": no such definition'
}

t_malformed_crd_in_server_location_fails_closed() {
	mkdir -p loc
	sed 's/type: integer, format: int32/type: int/' "$DATA/crd.yaml" >loc/widget.yaml
	policy "    locations: [$T/loc]" | setup
	add cr-good.yaml apps/w.yaml
	save "widget"
	expect_status 1 push main
	lines >got
	cat >want <<W
error[k8s-schema] $T/loc/widget.yaml:21:30: type must be one of null, boolean, integer, number, string, array, object
warning[k8s-schema] apps/w.yaml:2:7: no schema for kind Widget (example.com/v1): add its CustomResourceDefinition to the repository or a schema location, or set unknown_kinds
W
	diff want got || fail "the violation lines differ"
}

t_missing_server_location_fails_closed() {
	policy "    locations: [$T/nowhere]" | setup
	add good.yaml apps/web.yaml
	save "web"
	expect_status 1 push main
	expect_contains out "error[k8s-schema] $T/policy.yaml:6:17: schemas location \"$T/nowhere\": no such directory"
}

t_schema_cycles_stay_within_limits() {
	mkdir -p loc
	# a -> b -> a through $ref, and c holding itself in allOf: bounded, never a crash.
	cat >loc/_definitions.json <<'J'
{"definitions": {
 "a": {"$ref": "#/definitions/b"},
 "b": {"$ref": "#/definitions/a"},
 "c": {"allOf": [{"$ref": "#/definitions/c"}],
       "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Loop"}]},
 "d": {"type": "object", "properties": {"spec": {"$ref": "#/definitions/a"}},
       "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Ring"}]}}}
J
	policy "    locations: [$T/loc]" | setup
	commit apps/l.yaml 'apiVersion: example.com/v1
kind: Loop
metadata: {name: l}
---
apiVersion: example.com/v1
kind: Ring
spec: {}' "loops"
	expect_status 1 push main
	expect_contains out 'error[k8s-schema] apps/l.yaml:1:1: limit: the schema needs more than'
	expect_contains out 'error[k8s-schema] apps/l.yaml:7:7: spec: limit: more than 64 $ref in a row'
}

t_ten_thousand_crds_in_one_push() {
	policy | setup
	mkdir -p w/crds
	awk 'BEGIN { for (i = 0; i < 10000; i++) {
		printf "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
		printf "metadata: {name: k%ds.example.com}\n", i
		printf "spec:\n  group: example.com\n  scope: Namespaced\n"
		printf "  names: {kind: K%d, plural: k%ds}\n", i, i
		printf "  versions:\n  - name: v1\n    served: true\n    storage: true\n"
		printf "    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {n: {type: integer}}}}}}\n"
	} }' >w/crds/all.yaml
	mkdir -p w/apps
	printf 'apiVersion: example.com/v1\nkind: K9999\nmetadata: {name: last}\nspec: {n: many}\n' >w/apps/k.yaml
	save "ten thousand"
	expect_status 1 push main
	expect_contains out 'error[k8s-schema] apps/k.yaml:4:11: spec.n: expected integer, found string "many"'
}

t_oversized_schema_is_a_limit() {
	# A 10 MB CRD in the push is over the manifest limit: a limit error, never its schema.
	policy | setup
	mkdir -p w/crds
	awk 'BEGIN { printf "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: bigs.example.com}\nspec:\n  group: example.com\n  names: {kind: Big, plural: bigs}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n"
		for (i = 0; i < 200000; i++) printf "          field%06d: {type: string, description: padding-padding-padding}\n", i }' >w/crds/big.yaml
	[ "$(wc -c <w/crds/big.yaml)" -gt 10000000 ] || fail "the CRD is not over 10 MB"
	mkdir -p w/apps
	printf 'apiVersion: example.com/v1\nkind: Big\nmetadata: {name: b}\n' >w/apps/b.yaml
	save "big"
	expect_status 1 push main
	expect_contains out 'error[limit] crds/big.yaml:1:1: file is'
	expect_contains out 'warning[k8s-schema] apps/b.yaml:2:7: no schema for kind Big (example.com/v1)'
}

run_cases
