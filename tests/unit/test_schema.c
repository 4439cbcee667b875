/*
 * The Kubernetes schema check: every keyword the validator supports, the YAML
 * 1.1 typing of plain scalars, CRDs, locations, the built-in definitions, and
 * the loader's errors.
 */
#include "gitgate/manifest.h"
#include "gitgate/schema.h"
#include "gitgate/sset.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static const char *root; /* the working tree the check reads CRDs from; NULL: dir */

static void write_file(const char *name, const char *data)
{
	char *path = gg_printf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(data, f);
		fclose(f);
	}
	free(path);
}

/* A fresh location directory holding `defs` as _definitions.json (NULL: none). */
static void location(const char *defs)
{
	if (*dir) {
		char *cmd = gg_printf("rm -rf '%s'", dir);
		CHECK(system(cmd) == 0);
		free(cmd);
	}
	snprintf(dir, sizeof(dir), "/tmp/gg-schema.XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	if (defs)
		write_file("_definitions.json", defs);
}

static gg_mpolicy *load(const char *schemas, gg_diag *diag)
{
	char *yaml = gg_printf("paths: [\"**/*.yaml\", \"**/*.json\"]\nschemas:\n%s", schemas);
	gg_yfile *f;
	gg_yparse(&f, yaml, strlen(yaml), GG_YFMT_YAML, NULL);
	gg_mpolicy *mp = NULL;
	if (gg_yfile_nproblems(f))
		printf("#   fixture does not parse: %s\n", gg_yfile_problem(f, 0)->msg);
	else if (gg_mpolicy_parse(&mp, "policy.yaml", gg_yfile_doc(f, 0), diag) < 0)
		mp = NULL;
	gg_yfile_free(f);
	free(yaml);
	return mp;
}

/* The hook's lines for one file checked under `schemas` (a YAML mapping body). */
static char *run(const char *schemas, const char *path, const char *data)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load(schemas, &d);
	for (size_t i = 0; i < d.n; i++)
		printf("#   policy: %s\n", d.msgs[i]);
	gg_diag_free(&d);
	if (mp == NULL)
		return gg_strdup("(no policy)");
	gg_manifest_set_dir(mp, root ? root : dir);
	gg_report r = GG_REPORT_INIT;
	CHECK_INT(gg_manifest_check(mp, path, data, strlen(data), &r), 0);
	gg_report_sort(&r);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	gg_report_print_text(&r, f, "", 0);
	fclose(f);
	gg_report_free(&r);
	gg_mpolicy_free(mp);
	return out;
}

/* One kind, example.com/v1 T, whose schema is definition "t"; others may follow. */
#define DEFS(t, ...)                                                                               \
	"{\"definitions\": {\"t\": {" t ", \"x-kubernetes-group-version-kind\": "                  \
	"[{\"group\": \"example.com\", \"version\": \"v1\", \"kind\": \"T\"}]}" __VA_ARGS__ "}}"

static char *with(const char *defs, const char *doc)
{
	location(defs);
	char *schemas = gg_printf("  locations: [\"%s\"]\n", dir);
	char *out = run(schemas, "m.yaml", doc);
	free(schemas);
	return out;
}

static void expect(const char *defs, const char *doc, const char *want)
{
	char *got = with(defs, doc);
	CHECK_STR(got, want);
	free(got);
}

#define HEAD "apiVersion: example.com/v1\nkind: T\n"

static void test_types(void)
{
	const char *d = DEFS("\"type\": \"object\", \"additionalProperties\": false, "
	                     "\"properties\": {\"apiVersion\": {\"type\": \"string\"}, "
	                     "\"kind\": {\"type\": \"string\"}, \"s\": {\"type\": \"string\"}, "
	                     "\"i\": {\"type\": \"integer\"}, \"n\": {\"type\": \"number\"}, "
	                     "\"b\": {\"type\": \"boolean\"}, \"a\": {\"type\": \"array\"}, "
	                     "\"o\": {\"type\": \"object\"}, \"m\": {\"type\": [\"string\", "
	                     "\"integer\"]}}");
	expect(d, HEAD "s: x\ni: 3\nn: 2\nb: true\na: []\no: {}\nm: 4\n", "");
	expect(d, HEAD "n: 2.5\nm: x\ns: \"yes\"\nb: off\n", "");
	expect(
	    d, HEAD "s: 3\ni: three\nn: x\nb: \"true\"\na: {}\no: []\nm: 1.5\n",
	    "error[k8s-schema] m.yaml:3:4: s: expected string, found integer 3 (quote it: \"3\")\n"
	    "error[k8s-schema] m.yaml:4:4: i: expected integer, found string \"three\"\n"
	    "error[k8s-schema] m.yaml:5:4: n: expected number, found string \"x\"\n"
	    "error[k8s-schema] m.yaml:6:4: b: expected boolean, found string \"true\"\n"
	    "error[k8s-schema] m.yaml:7:4: a: expected array, found object\n"
	    "error[k8s-schema] m.yaml:8:4: o: expected object, found array\n"
	    "error[k8s-schema] m.yaml:9:4: m: expected integer or string, found number 1.5 (quote "
	    "it: \"1.5\")\n");
	expect(d, HEAD "i: 1.0\n",
	       "error[k8s-schema] m.yaml:3:4: i: expected integer, found number 1.0\n");
}

static void test_yaml11_scalars(void)
{
	const char *d =
	    DEFS("\"type\": \"object\", \"properties\": {\"s\": {\"type\": \"string\"}, "
	         "\"t\": {\"type\": \"string\"}, \"i\": {\"type\": \"integer\"}, "
	         "\"b\": {\"type\": \"boolean\"}}");
	expect(
	    d, HEAD "s: on\nt: 010\n",
	    "error[k8s-schema] m.yaml:3:4: s: expected string, found boolean on (Kubernetes reads "
	    "an unquoted on as the boolean true; quote it: \"on\")\n"
	    "error[k8s-schema] m.yaml:4:4: t: expected string, found integer 010 (Kubernetes "
	    "reads an unquoted 010 as the octal number 8; quote it: \"010\")\n");
	expect(
	    d, HEAD "s: No\n",
	    "error[k8s-schema] m.yaml:3:4: s: expected string, found boolean No (Kubernetes reads "
	    "an unquoted No as the boolean false; quote it: \"No\")\n");
	/* YAML 1.1 integers and booleans are what the fields want: accepted. */
	expect(d, HEAD "i: 1_000\nb: yes\ns: 'no'\nt: \"010\"\n", "");
	expect(d, HEAD "i: 0b101\nb: OFF\n", "");
	/* JSON strings are strings, whatever they spell. */
	location(d);
	char *schemas = gg_printf("  locations: [\"%s\"]\n", dir);
	char *got = run(schemas, "m.json",
	                "{\"apiVersion\": \"example.com/v1\", \"kind\": \"T\", \"s\": \"yes\", "
	                "\"b\": \"yes\"}");
	CHECK_STR(got,
	          "error[k8s-schema] m.json:1:64: b: expected boolean, found string \"yes\"\n");
	free(got);
	free(schemas);
}

static void test_required_and_nullable(void)
{
	const char *d = DEFS("\"type\": \"object\", \"required\": [\"a\", \"b\", \"c\"], "
	                     "\"properties\": {\"a\": {\"type\": \"string\"}, "
	                     "\"b\": {\"type\": \"string\", \"nullable\": true}, "
	                     "\"c\": {\"type\": \"string\"}, \"d\": {\"type\": \"string\"}}");
	expect(d, HEAD "a: x\nb: null\nc: z\nd: ~\n", "");
	expect(d, HEAD "a: ~\nd: x\n",
	       "error[k8s-schema] m.yaml:1:1: missing required field \"a\"\n"
	       "error[k8s-schema] m.yaml:1:1: missing required field \"b\"\n"
	       "error[k8s-schema] m.yaml:1:1: missing required field \"c\"\n");
}

static void test_enum(void)
{
	const char *d = DEFS("\"type\": \"object\", \"properties\": {\"p\": {\"type\": \"string\", "
	                     "\"enum\": [\"Always\", \"IfNotPresent\", \"Never\"]}, "
	                     "\"n\": {\"type\": \"integer\", \"enum\": [1, 2]}}");
	expect(d, HEAD "p: Never\nn: 2\n", "");
	expect(d, HEAD "p: Sometimes\nn: 3\n",
	       "error[k8s-schema] m.yaml:3:4: p: must be one of Always, IfNotPresent, Never (found "
	       "\"Sometimes\")\n"
	       "error[k8s-schema] m.yaml:4:4: n: must be one of 1, 2 (found 3)\n");
}

static void test_unknown_fields(void)
{
	const char *d = DEFS("\"type\": \"object\", \"additionalProperties\": false, "
	                     "\"properties\": {\"apiVersion\": {\"type\": \"string\"}, "
	                     "\"kind\": {\"type\": \"string\"}, \"replicas\": {\"type\": "
	                     "\"integer\"}, \"spec\": {\"type\": \"object\"}}");
	expect(
	    d, HEAD "replica: 3\nSpec: {}\nzzz: 1\nspec: {free: 1}\n",
	    "error[k8s-schema] m.yaml:3:1: unknown field \"replica\" (did you mean \"replicas\"?)\n"
	    "error[k8s-schema] m.yaml:4:1: unknown field \"Spec\" (did you mean \"spec\"?)\n"
	    "error[k8s-schema] m.yaml:5:1: unknown field \"zzz\"\n");
	/* strict: false */
	location(d);
	char *schemas = gg_printf("  strict: false\n  locations: [\"%s\"]\n", dir);
	char *got = run(schemas, "m.yaml", HEAD "replica: 3\nreplicas: x\n");
	CHECK_STR(
	    got, "error[k8s-schema] m.yaml:4:11: replicas: expected integer, found string \"x\"\n");
	free(got);
	free(schemas);
}

static void test_formats(void)
{
	const char *d =
	    DEFS("\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\", "
	         "\"format\": \"int32\"}, \"b\": {\"type\": \"integer\", \"format\": "
	         "\"int64\"}}");
	expect(d, HEAD "a: 2147483647\nb: 9223372036854775807\n", "");
	expect(d, HEAD "a: -2147483648\nb: -9223372036854775808\n", "");
	expect(d, HEAD "a: 2147483648\nb: 9223372036854775808\n",
	       "error[k8s-schema] m.yaml:3:4: a: 2147483648 is out of range for int32\n"
	       "error[k8s-schema] m.yaml:4:4: b: 9223372036854775808 is out of range for int64\n");
}

static void test_items_and_maps(void)
{
	const char *d = DEFS("\"type\": \"object\", \"properties\": {\"l\": {\"type\": \"array\", "
	                     "\"items\": {\"type\": \"integer\"}}, \"m\": {\"type\": \"object\", "
	                     "\"additionalProperties\": {\"type\": \"string\"}}}");
	expect(d, HEAD "l: [1, 2]\nm: {a: x}\n", "");
	expect(d, HEAD "l: [1, x]\nm: {a: x, b: [1]}\n",
	       "error[k8s-schema] m.yaml:3:8: l[1]: expected integer, found string \"x\"\n"
	       "error[k8s-schema] m.yaml:4:14: m.b: expected string, found array\n");
}

static void test_ref_and_combinators(void)
{
	const char *d = DEFS("\"type\": \"object\", \"properties\": {"
	                     "\"r\": {\"$ref\": \"#/definitions/port\"}, "
	                     "\"q\": {\"$ref\": \"_definitions.json#/definitions/port\"}, "
	                     "\"all\": {\"allOf\": [{\"required\": [\"x\"]}, {\"required\": "
	                     "[\"y\"]}]}, "
	                     "\"any\": {\"anyOf\": [{\"type\": \"integer\"}, {\"type\": "
	                     "\"boolean\"}]}, "
	                     "\"one\": {\"oneOf\": [{\"type\": \"object\", \"required\": "
	                     "[\"a\"]}, {\"type\": \"object\", \"required\": [\"b\"]}]}}",
	                     ", \"port\": {\"type\": \"object\", \"required\": [\"number\"], "
	                     "\"properties\": {\"number\": {\"type\": \"integer\"}}}");
	expect(d,
	       HEAD "r: {number: 1}\nq: {number: 2}\nall: {x: 1, y: 2}\nany: true\none: {a: 1}\n",
	       "");
	expect(
	    d, HEAD "r: {number: x}\nq: {}\nall: {x: 1}\nany: x\none: {c: 1}\n",
	    "error[k8s-schema] m.yaml:3:13: r.number: expected integer, found string \"x\"\n"
	    "error[k8s-schema] m.yaml:4:4: q: missing required field \"number\"\n"
	    "error[k8s-schema] m.yaml:5:6: all: missing required field \"y\"\n"
	    "error[k8s-schema] m.yaml:6:6: any: expected boolean or integer, found string \"x\"\n"
	    "error[k8s-schema] m.yaml:7:6: one: missing required field \"a\"\n");
	expect(
	    d, HEAD "one: {a: 1, b: 2}\n",
	    "error[k8s-schema] m.yaml:3:6: one: matches 2 of the schemas of oneOf, it must match "
	    "one\n");
}

static void test_crd_keywords(void)
{
	location(NULL);
	write_file(
	    "crd.yaml",
	    "apiVersion: apiextensions.k8s.io/v1\n"
	    "kind: CustomResourceDefinition\n"
	    "metadata: {name: ts.example.com}\n"
	    "spec:\n"
	    "  group: example.com\n"
	    "  names: {kind: T, plural: ts}\n"
	    "  versions:\n"
	    "  - name: v0\n"
	    "    served: false\n"
	    "    schema: {openAPIV3Schema: {type: object}}\n"
	    "  - name: v1\n"
	    "    served: true\n"
	    "    schema:\n"
	    "      openAPIV3Schema:\n"
	    "        type: object\n"
	    "        properties:\n"
	    "          apiVersion: {type: string}\n"
	    "          metadata: {type: object}\n"
	    "          spec:\n"
	    "            type: object\n"
	    "            properties:\n"
	    "              port: {x-kubernetes-int-or-string: true}\n"
	    "              free: {type: object, x-kubernetes-preserve-unknown-fields: true,\n"
	    "                     properties: {n: {type: integer}}}\n"
	    "              pod: {type: object, x-kubernetes-embedded-resource: true,\n"
	    "                    x-kubernetes-preserve-unknown-fields: true}\n"
	    "              closed: {type: object}\n");
	char *got = run("  unknown_kinds: error\n", "m.yaml",
	                "apiVersion: example.com/v1\nkind: T\nmetadata: {name: t, labelz: {}}\n"
	                "spec:\n  port: 80\n  free: {any: thing, n: 1}\n"
	                "  pod: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {}}\n"
	                "  closed: {}\n");
	CHECK_STR(got, "error[k8s-schema] m.yaml:3:21: metadata: unknown field \"labelz\" (did you "
	               "mean \"labels\"?)\n");
	free(got);
	got = run("  unknown_kinds: error\n", "m.yaml",
	          "apiVersion: example.com/v1\nkind: T\n"
	          "spec:\n  port: [1]\n  free: {n: x}\n  pod: {metadata: {}}\n  closed: {a: 1}\n"
	          "---\napiVersion: example.com/v0\nkind: T\n");
	CHECK_STR(
	    got,
	    "error[k8s-schema] m.yaml:4:9: spec.port: expected integer or string, found array\n"
	    "error[k8s-schema] m.yaml:5:13: spec.free.n: expected integer, found string \"x\"\n"
	    "error[k8s-schema] m.yaml:6:8: spec.pod: missing required field \"apiVersion\"\n"
	    "error[k8s-schema] m.yaml:6:8: spec.pod: missing required field \"kind\"\n"
	    "error[k8s-schema] m.yaml:7:12: spec.closed: unknown field \"a\"\n"
	    "error[k8s-schema] m.yaml:10:7: no schema for kind T (example.com/v0): add its "
	    "CustomResourceDefinition to the repository or a schema location, or set "
	    "unknown_kinds\n");
	free(got);
}

static void test_malformed_crd_and_definitions(void)
{
	location(NULL);
	write_file("crd.yaml", "apiVersion: apiextensions.k8s.io/v1\n"
	                       "kind: CustomResourceDefinition\n"
	                       "spec:\n"
	                       "  group: example.com\n"
	                       "  names: {kind: T}\n"
	                       "  versions:\n"
	                       "  - name: v1\n"
	                       "    schema:\n"
	                       "      openAPIV3Schema:\n"
	                       "        type: thing\n"
	                       "        properties: {a: {$ref: '#/definitions/x'}}\n");
	/* The tree's broken CRD: reported at its positions; its kind stays unknown. */
	char *got = run("  unknown_kinds: ignore\n", "m.yaml", HEAD);
	CHECK_STR(got, "error[k8s-schema] crd.yaml:10:15: type must be one of null, boolean, "
	               "integer, number, string, array, object\n"
	               "error[k8s-schema] crd.yaml:11:32: $ref is not allowed in a "
	               "CustomResourceDefinition schema\n");
	free(got);
	/* A location's: the same, under its own path. */
	char *schemas = gg_printf("  locations: [\"%s\"]\n", dir);
	root = "/nonexistent";
	got = run(schemas, "m.yaml", HEAD);
	root = NULL;
	char *want = gg_printf("error[k8s-schema] %s/crd.yaml:10:15: type must be one of null, "
	                       "boolean, integer, number, string, array, object\n"
	                       "error[k8s-schema] %s/crd.yaml:11:32: $ref is not allowed in a "
	                       "CustomResourceDefinition schema\n"
	                       "warning[k8s-schema] m.yaml:2:7: no schema for kind T "
	                       "(example.com/v1): add its CustomResourceDefinition to the "
	                       "repository or a schema location, or set unknown_kinds\n",
	                       dir, dir);
	CHECK_STR(got, want);
	free(want);
	free(got);
	free(schemas);

	got = with("{\"definitions\": [1]}", HEAD);
	want =
	    gg_printf("error[k8s-schema] %s/_definitions.json:1:17: expected an object with "
	              "\"definitions\"\n"
	              "warning[k8s-schema] m.yaml:2:7: no schema for kind T (example.com/v1): add "
	              "its CustomResourceDefinition to the repository or a schema location, or "
	              "set unknown_kinds\n",
	              dir);
	CHECK_STR(got, want);
	free(want);
	free(got);
	got = with("{\"definitions\": {\"t\": {\"type\": 1", HEAD);
	CHECK(strstr(got, "/_definitions.json:1:") != NULL);
	free(got);
}

static void test_kind_files_of_a_location(void)
{
	location(NULL);
	write_file("widget-example-v1.json",
	           "{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\"}}}");
	write_file("service-v1.json", "{\"type\": \"object\", \"additionalProperties\": false}");
	char *schemas = gg_printf("  locations: [\"%s\"]\n", dir);
	char *got = run(schemas, "m.yaml",
	                "apiVersion: example.com/v1\nkind: Widget\nn: x\n---\n"
	                "apiVersion: v1\nkind: Service\n");
	/* The location's Service replaces the built-in one. */
	CHECK_STR(got, "error[k8s-schema] m.yaml:3:4: n: expected integer, found string \"x\"\n"
	               "error[k8s-schema] m.yaml:5:1: unknown field \"apiVersion\"\n"
	               "error[k8s-schema] m.yaml:6:1: unknown field \"kind\"\n");
	free(got);
	free(schemas);
}

static void test_builtin_kinds_and_lists(void)
{
	location(NULL);
	char *got =
	    run("  kubernetes: \"1.32\"\n", "d.yaml",
	        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\n"
	        "spec:\n  replicas: 2\n  selector: {matchLabels: {a: b}}\n"
	        "  template:\n    metadata: {labels: {a: b}}\n"
	        "    spec:\n      containers: [{name: c, image: x, imagePullPolicyy: x}]\n"
	        "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n"
	        "  type: 3\n- 1\nextra: 1\n"
	        "---\napiVersion: apps/v1beta2\nkind: Deployment\n"
	        "---\nkind: Kustomization\napiVersion: kustomize.config.k8s.io/v1beta1\n"
	        "---\nnot: a resource\n");
	CHECK_STR(got,
	          "error[k8s-schema] d.yaml:10:40: spec.template.spec.containers[0]: unknown "
	          "field \"imagePullPolicyy\" (did you mean \"imagePullPolicy\"?)\n"
	          "error[k8s-schema] d.yaml:17:9: items[0].type: expected string, found integer "
	          "3 (quote it: \"3\")\n"
	          "error[k8s-schema] d.yaml:18:3: items[1]: expected object, found integer 1\n"
	          "error[k8s-schema] d.yaml:19:1: unknown field \"extra\" (a List holds "
	          "apiVersion, kind, metadata and items)\n"
	          "error[k8s-schema] d.yaml:21:13: Deployment apps/v1beta2 is not served by "
	          "Kubernetes 1.32 (it serves apps/v1)\n");
	free(got);
	/* The table is compiled in: kinds and ObjectMeta are there without any file. */
	CHECK(gg_k8s_builtin.nkinds > 150);
	CHECK(gg_k8s_builtin.objmeta != GG_SNONE);
	CHECK(gg_sset_find_kind(&gg_k8s_builtin, "batch", "v1", "CronJob") != GG_SNONE);
	CHECK(gg_sset_find_kind(&gg_k8s_builtin, "", "v1", "Service") != GG_SNONE);
	CHECK(gg_sset_find_kind(&gg_k8s_builtin, "apps", "v1", "Service") == GG_SNONE);
}

/* The allowed values the definitions state in prose (data/.../enums.txt) are enums. */
static void test_builtin_enums(void)
{
	location(NULL);
	char *got = run("  kubernetes: \"1.32\"\n", "p.yaml",
	                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	                "spec:\n  restartPolicy: Sometimes\n"
	                "  containers: [{name: c, image: x, imagePullPolicy: Sometimes}]\n"
	                "  tolerations: [{operator: Exists, effect: \"\"}]\n"
	                "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
	                "spec: {type: Internal, ports: [{port: 80, protocol: tcp}]}\n");
	CHECK_STR(got,
	          "error[k8s-schema] p.yaml:5:18: spec.restartPolicy: must be one of Always, "
	          "OnFailure, Never (found \"Sometimes\")\n"
	          "error[k8s-schema] p.yaml:6:53: spec.containers[0].imagePullPolicy: must be "
	          "one of Always, IfNotPresent, Never (found \"Sometimes\")\n"
	          "error[k8s-schema] p.yaml:12:14: spec.type: must be one of ExternalName, "
	          "ClusterIP, NodePort, LoadBalancer (found \"Internal\")\n"
	          "error[k8s-schema] p.yaml:12:53: spec.ports[0].protocol: must be one of TCP, "
	          "UDP, SCTP (found \"tcp\")\n");
	free(got);
}

static void test_policy_keys(void)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load("  kubernetes: \"1.29\"\n  strict: maybe\n  unknown_kinds: loud\n"
	                      "  location: []\n",
	                      &d);
	CHECK(mp == NULL);
	CHECK_INT(d.n, 4);
	if (d.n == 4) {
		CHECK_STR(d.msgs[0], "policy.yaml:4:11: strict must be true or false");
		CHECK_STR(d.msgs[1],
		          "policy.yaml:5:18: unknown_kinds must be error, warn or ignore");
		CHECK_STR(d.msgs[2],
		          "policy.yaml:6:3: unknown key 'location' in manifests.schemas "
		          "(expected one of: kubernetes, strict, unknown_kinds, locations)");
		CHECK_STR(d.msgs[3], "policy.yaml:3:15: kubernetes 1.29 is not built in (built in: "
		                     "1.32.2): give its schemas under locations");
	}
	gg_diag_free(&d);
	mp = load("  kubernetes: 1.29\n  locations: [/srv/k8s/v1.29]\n", &d);
	CHECK(mp != NULL);
	CHECK_INT(d.n, 0);
	gg_mpolicy_free(mp);
	mp = load("  kubernetes: v1.32.2\n", &d);
	CHECK(mp != NULL);
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
}

static void test_set_builder(void)
{
	gg_ssetb *b = gg_ssetb_new();
	gg_ssetb_add_kind(b, "g", "v1", "K", 1);
	gg_ssetb_add_kind(b, "g", "v1", "A", 2);
	gg_ssetb_add_kind(b, "g", "v1", "K", 3);
	const gg_sset *s = gg_ssetb_view(b);
	CHECK_INT(s->nkinds, 2);
	CHECK_INT(gg_sset_find_kind(s, "g", "v1", "K"), 3); /* the last registration wins */
	CHECK_INT(gg_sset_find_kind(s, "g", "v1", "A"), 2);
	CHECK_INT(gg_sset_find_kind(s, "g", "v2", "A"), GG_SNONE);
	gg_ssetb_free(b);
}

int main(void)
{
	RUN(test_types);
	RUN(test_yaml11_scalars);
	RUN(test_required_and_nullable);
	RUN(test_enum);
	RUN(test_unknown_fields);
	RUN(test_formats);
	RUN(test_items_and_maps);
	RUN(test_ref_and_combinators);
	RUN(test_crd_keywords);
	RUN(test_malformed_crd_and_definitions);
	RUN(test_kind_files_of_a_location);
	RUN(test_builtin_kinds_and_lists);
	RUN(test_builtin_enums);
	RUN(test_policy_keys);
	RUN(test_set_builder);
	location(NULL);
	char *cmd = gg_printf("rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(cmd);
	return TEST_DONE();
}
