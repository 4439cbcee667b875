#include "gitgate/manifest.h"
#include "gitgate/mrule.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"
#include "test.h"

#include <git2.h>
#include <stdlib.h>
#include <unistd.h>

/* Load a manifests: section written as YAML; NULL (and diag filled) on failure. */
static gg_mpolicy *load(const char *yaml, gg_diag *diag)
{
	gg_yfile *f;
	gg_yparse(&f, yaml, strlen(yaml), GG_YFMT_YAML, NULL);
	if (gg_yfile_nproblems(f)) {
		printf("#   fixture does not parse: %s\n", gg_yfile_problem(f, 0)->msg);
		gg_yfile_free(f);
		return NULL;
	}
	gg_mpolicy *mp = NULL;
	if (gg_mpolicy_parse(&mp, "policy.yaml", gg_yfile_doc(f, 0), diag) < 0)
		mp = NULL;
	gg_yfile_free(f);
	return mp;
}

/* The hook's text lines for one manifest, sorted as the gate prints them. */
static char *check(const gg_mpolicy *mp, const char *path, const char *data)
{
	gg_report r = GG_REPORT_INIT;
	CHECK_INT(gg_manifest_check(mp, path, data, strlen(data), &r), 0);
	gg_report_sort(&r);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	gg_report_print_text(&r, f, "", 0);
	fclose(f);
	gg_report_free(&r);
	return out;
}

/* Check data against a policy and compare the whole output. */
static void expect(const char *policy, const char *path, const char *data, const char *want)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load(policy, &d);
	CHECK(mp != NULL);
	for (size_t i = 0; i < d.n; i++)
		printf("#   policy: %s\n", d.msgs[i]);
	if (mp) {
		char *got = check(mp, path, data);
		CHECK_STR(got, want);
		free(got);
	}
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
}

/* The policy must fail to load with exactly these messages (joined by newlines). */
static void expect_load_error(const char *policy, const char *want)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load(policy, &d);
	CHECK(mp == NULL);
	gg_buf b = GG_BUF_INIT;
	for (size_t i = 0; i < d.n; i++)
		gg_buf_printf(&b, "%s\n", d.msgs[i]);
	CHECK_STR(b.ptr ? b.ptr : "", want);
	gg_buf_free(&b);
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
}

#define RULE(body) "rules:\n  - id: r\n    message: bad\n" body

/* ---- paths ---- */

static void test_path_index_and_each(void)
{
	const char *doc = "a:\n  - x: 1\n  - x: 2\n  - x: 3\n";
	expect(RULE("    path: a[1].x\n    assert: {equals: 1}\n"), "f.yaml", doc,
	       "error[r] f.yaml:3:8: bad (found 2)\n");
	expect(RULE("    path: a[*].x\n    assert: {max: 1}\n"), "f.yaml", doc,
	       "error[r] f.yaml:3:8: bad (found 2)\nerror[r] f.yaml:4:8: bad (found 3)\n");
	/* An index past the end is missing: the list is the deepest node there. */
	expect(RULE("    path: a[7].x\n    assert: {exists: true}\n"), "f.yaml", doc,
	       "error[r] f.yaml:2:3: bad (missing [7].x)\n");
}

static void test_path_star_over_map_values(void)
{
	const char *doc = "services:\n  web:\n    image: nginx\n  db:\n    image: pg:16\n";
	expect(RULE("    path: services.*.image\n    assert: {matches: ':'}\n"), "c.yaml", doc,
	       "error[r] c.yaml:3:12: bad (found \"nginx\")\n");
	/* A quoted key holds dots. */
	expect(RULE("    path: 'm.\"a.b/c\"'\n    assert: {equals: x}\n"), "f.yaml",
	       "m:\n  a.b/c: y\n", "error[r] f.yaml:2:10: bad (found \"y\")\n");
}

static void test_path_syntax_errors(void)
{
	expect_load_error(RULE("    path: a..b\n    assert: {exists: true}\n"),
	                  "policy.yaml:4:11: bad path \"a..b\": empty key at character 3\n");
	expect_load_error(RULE("    path: 'a[x]'\n    assert: {exists: true}\n"),
	                  "policy.yaml:4:11: bad path \"a[x]\": expected a number or '*' "
	                  "inside [ ] at character 3\n");
	expect_load_error(RULE("    path: 'a[1'\n    assert: {exists: true}\n"),
	                  "policy.yaml:4:11: bad path \"a[1\": expected ']' at character 4\n");
	expect_load_error(RULE("    path: a.\n    assert: {exists: true}\n"),
	                  "policy.yaml:4:11: bad path \"a.\": path ends with '.' at character 3\n");
}

/* ---- assertions, each true and false ---- */

static void test_assert_exists(void)
{
	const char *p =
	    RULE("    path: spec.template.spec.containers\n    assert: {exists: true}\n");
	expect(p, "f.yaml", "spec:\n  template:\n    spec:\n      containers: []\n", "");
	/* Points at the deepest node that exists, naming what is missing. */
	expect(p, "f.yaml", "kind: X\nspec:\n  replicas: 1\n",
	       "error[r] f.yaml:3:3: X: bad (missing template.spec.containers)\n");
	expect(p, "f.yaml", "kind: X\n",
	       "error[r] f.yaml:1:1: X: bad (missing spec.template.spec.containers)\n");
	/* A scalar where a map should be: the scalar is the deepest node. */
	expect(p, "f.yaml", "spec: oops\n",
	       "error[r] f.yaml:1:7: bad (missing template.spec.containers)\n");
	const char *q = RULE("    path: a.b\n    assert: {exists: false}\n");
	expect(q, "f.yaml", "a:\n  c: 1\n", "");
	expect(q, "f.yaml", "a:\n  b: {x: 1}\n", "error[r] f.yaml:2:6: bad (found a map)\n");
}

static void test_assert_equals_one_of(void)
{
	expect(RULE("    path: n\n    assert: {equals: 3}\n"), "f.yaml", "n: 0x3\n", "");
	expect(RULE("    path: n\n    assert: {equals: 3}\n"), "f.yaml", "n: 4\n",
	       "error[r] f.yaml:1:4: bad (found 4)\n");
	expect(RULE("    path: n\n    assert: {equals: true}\n"), "f.yaml", "n: True\n", "");
	expect(RULE("    path: n\n    assert: {equals: abc}\n"), "f.json", "{\"n\": \"abd\"}",
	       "error[r] f.json:1:7: bad (found \"abd\")\n");
	const char *one = RULE("    path: k\n    assert: {one_of: [a, b]}\n");
	expect(one, "f.yaml", "k: b\n", "");
	expect(one, "f.yaml", "k: c\n", "error[r] f.yaml:1:4: bad (found \"c\")\n");
	const char *none = RULE("    path: k\n    assert: {not_one_of: [a, b]}\n");
	expect(none, "f.yaml", "k: c\n", "");
	expect(none, "f.yaml", "k: a\n", "error[r] f.yaml:1:4: bad (found \"a\")\n");
}

static void test_assert_matches(void)
{
	const char *m = RULE("    path: k\n    assert: {matches: '^v[0-9]+$'}\n");
	expect(m, "f.yaml", "k: v12\n", "");
	expect(m, "f.yaml", "k: x12\n", "error[r] f.yaml:1:4: bad (found \"x12\")\n");
	expect(m, "f.yaml", "k: [v1]\n", "error[r] f.yaml:1:4: bad (found a list)\n");
	const char *n = RULE("    path: k\n    assert: {not_matches: latest}\n");
	expect(n, "f.yaml", "k: v1\n", "");
	expect(n, "f.yaml", "k: app:latest\n", "error[r] f.yaml:1:4: bad (found \"app:latest\")\n");
}

static void test_assert_min_max_type(void)
{
	const char *mm = RULE("    path: r\n    assert: {min: 2, max: 5}\n");
	expect(mm, "f.yaml", "r: 2\n", "");
	expect(mm, "f.yaml", "r: 5.0\n", "");
	expect(mm, "f.yaml", "r: 1\n", "error[r] f.yaml:1:4: bad (found 1)\n");
	expect(mm, "f.yaml", "r: 6\n", "error[r] f.yaml:1:4: bad (found 6)\n");
	expect(mm, "f.yaml", "r: '3'\n", "error[r] f.yaml:1:4: bad (found \"3\")\n");
	const char *t = RULE("    path: v\n    assert: {type: [map, null]}\n");
	expect(t, "f.yaml", "v: {a: 1}\n", "");
	expect(t, "f.yaml", "v: ~\n", "");
	expect(t, "f.yaml", "v: [1]\n", "error[r] f.yaml:1:4: bad (found a list)\n");
	expect(RULE("    path: v\n    assert: {type: boolean}\n"), "f.yaml", "v: 'true'\n",
	       "error[r] f.yaml:1:4: bad (found \"true\")\n");
	expect(RULE("    path: v\n    assert: {type: number}\n"), "f.json", "{\"v\": 1.5e3}", "");
}

static void test_found_text_is_one_line(void)
{
	/* Pushed text must not forge a line in the hook's output. */
	expect(RULE("    path: k\n    assert: {equals: x}\n"), "f.yaml",
	       "k: \"a\\nerror[x] forged\"\n",
	       "error[r] f.yaml:1:4: bad (found \"a\\nerror[x] forged\")\n");
}

/* ---- when ---- */

static void test_when(void)
{
	const char *p = "rules:\n"
	                "  - id: r\n"
	                "    message: bad\n"
	                "    when: {kind: [Deployment, Job], metadata.namespace: prod,\n"
	                "           spec.replicas: {min: 2}}\n"
	                "    path: spec.paused\n"
	                "    assert: {exists: false}\n";
	const char *hit =
	    "kind: Job\nmetadata: {namespace: prod}\nspec: {replicas: 3, paused: x}\n";
	expect(p, "f.yaml", hit, "error[r] f.yaml:3:29: Job: bad (found \"x\")\n");
	expect(p, "f.yaml",
	       "kind: Pod\nmetadata: {namespace: prod}\nspec: {replicas: 3, paused: x}\n", "");
	expect(p, "f.yaml",
	       "kind: Job\nmetadata: {namespace: dev}\nspec: {replicas: 3, paused: x}\n", "");
	expect(p, "f.yaml",
	       "kind: Job\nmetadata: {namespace: prod}\nspec: {replicas: 1, paused: x}\n", "");
	/* A condition on a path that is absent does not hold... */
	expect(p, "f.yaml", "kind: Job\nspec: {replicas: 3, paused: x}\n", "");
	/* ...unless it asks for absence. */
	expect("rules:\n  - id: r\n    message: bad\n    when: {sops: {exists: false}}\n"
	       "    path: kind\n    assert: {not_one_of: [Secret]}\n",
	       "f.yaml", "kind: Secret\nsops: {mac: x}\n", "");
}

static void test_several_paths_and_within(void)
{
	const char *p = "rules:\n"
	                "  - id: r\n"
	                "    message: bad\n"
	                "    within: {Pod: spec, Deployment: spec.template.spec}\n"
	                "    path: [a, b]\n"
	                "    assert: {exists: true}\n";
	expect(p, "f.yaml", "kind: Pod\nspec: {a: 1, b: 2}\n", "");
	expect(p, "f.yaml", "kind: Pod\nspec: {a: 1}\n",
	       "error[r] f.yaml:2:7: Pod: bad (missing b)\n");
	expect(p, "f.yaml", "kind: Deployment\nspec: {a: 1, b: 2}\n", "");
	expect(p, "f.yaml", "kind: Deployment\nspec:\n  template:\n    spec: {b: 1}\n",
	       "error[r] f.yaml:4:11: Deployment: bad (missing a)\n");
	/* A kind the scopes do not name is not checked. */
	expect(p, "f.yaml", "kind: Service\nspec: {}\n", "");
}

/* ---- the policy loader ---- */

static void test_loader_errors(void)
{
	expect_load_error(
	    "paths: [a]\nfrobnicate: 1\n",
	    "policy.yaml:2:1: unknown key 'frobnicate' in manifests (expected one of: paths, "
	    "exclude, packs, rules, overrides, deny_deletion, deletions, schemas)\n");
	expect_load_error(RULE("    path: a\n    assert: {exists: true}\n    sevrity: warning\n"),
	                  "policy.yaml:6:5: unknown key 'sevrity' in a rule (expected one of: id, "
	                  "severity, when, within, path, assert, message)\n");
	expect_load_error(
	    RULE("    path: a\n    assert: {mtches: x}\n"),
	    "policy.yaml:5:14: unknown assertion \"mtches\" (expected exists, equals, "
	    "one_of, not_one_of, matches, not_matches, min, max or type)\n");
	expect_load_error(
	    RULE("    path: a\n    assert: {matches: 'a(b'}\n"),
	    "policy.yaml:5:23: matches: invalid regular expression 'a(b' at offset 3: "
	    "missing closing parenthesis\n");
	expect_load_error("rules:\n  - id: r\n    path: a\n    assert: {exists: true}\n"
	                  "  - id: r\n    path: b\n    assert: {exists: true}\n",
	                  "policy.yaml:5:5: duplicate rule id \"r\" (first at line 2)\n");
	expect_load_error("packs: [kubernetes-baseline]\nrules:\n  - id: k8s-kind\n    path: a\n"
	                  "    assert: {exists: true}\n",
	                  "policy.yaml:3:5: rule id \"k8s-kind\" is already used by pack "
	                  "kubernetes-baseline\n");
	expect_load_error("packs: [kubernetes-basline]\n",
	                  "policy.yaml:1:9: unknown pack \"kubernetes-basline\" (built in: "
	                  "compose-baseline, kubernetes-baseline)\n");
	expect_load_error(RULE("    path: a\n    assert: {type: strng}\n    severity: fatal\n"),
	                  "policy.yaml:5:20: unknown type (expected string, number, boolean, map, "
	                  "list or null)\npolicy.yaml:6:15: severity must be error or warning\n");
	expect_load_error("rules:\n  - path: a\n    assert: {exists: true}\n",
	                  "policy.yaml:2:5: a rule needs an id\n");
	expect_load_error(
	    "rules:\n  - id: x\n    assert: {exists: false, equals: 1}\n    path: a\n",
	    "policy.yaml:3:13: exists: false cannot be combined with other "
	    "assertions\n");
}

static void test_selects(void)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load("paths: ['clusters/**/*.yaml', 'apps/**/*.json']\n"
	                      "exclude: ['**/testdata/**']\ndeny_deletion: true\n",
	                      &d);
	CHECK(mp != NULL);
	CHECK(gg_mpolicy_selects(mp, "clusters/prod/a.yaml"));
	CHECK(gg_mpolicy_selects(mp, "apps/x/y/z.json"));
	CHECK(!gg_mpolicy_selects(mp, "clusters/testdata/a.yaml"));
	CHECK(!gg_mpolicy_selects(mp, "README.md"));
	CHECK(gg_mpolicy_deny_deletion(mp));
	gg_mpolicy_free(mp);
	mp = load("packs: [compose-baseline]\n", &d);
	CHECK(mp != NULL);
	CHECK(gg_mpolicy_selects(mp, "docker-compose.yml"));
	CHECK(!gg_mpolicy_deny_deletion(mp));
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
}

/* ---- parse problems ---- */

static void test_parse_problems_are_violations(void)
{
	expect("rules: []\n", "f.yaml", "a: 1\nb:\n  c: 1\n  c: 2\n",
	       "error[duplicate-key] f.yaml:4:3: duplicate key \"c\" (first at line 3)\n");
	char *got = NULL;
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load("rules: []\n", &d);
	got = check(mp, "f.yaml", "a:\n\tb: 1\n");
	CHECK(strncmp(got, "error[syntax] f.yaml:2:1: ", 26) == 0);
	free(got);
	got = check(mp, "f.json", "{\"a\": [1, 2");
	CHECK_STR(got, "error[syntax] f.json:1:12: unexpected end of file\n");
	free(got);
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
}

/* ---- the built-in packs ---- */

#define K8S "packs: [kubernetes-baseline]\n"

/* A Deployment that passes every kubernetes-baseline rule. */
static const char good_deploy[] =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata:\n"
    "  name: web\n"
    "spec:\n"
    "  template:\n"
    "    spec:\n"
    "      securityContext:\n"
    "        runAsNonRoot: true\n"
    "      initContainers:\n"
    "        - name: init\n"
    "          image: registry:5000/tools/init:1.2\n"
    "          resources: {limits: {cpu: 100m, memory: 64Mi}}\n"
    "      containers:\n"
    "        - name: web\n"
    "          image: nginx@sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
    "          resources:\n"
    "            limits: {cpu: 500m, memory: 128Mi}\n";

static void test_k8s_good_objects_pass(void)
{
	expect(K8S, "d.yaml", good_deploy, "");
	expect(
	    K8S, "s.yaml",
	    "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n",
	    "");
	expect(K8S, "s.json",
	       "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}",
	       "");
	expect(K8S, "k.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
	       "");
	/* SOPS keeps kind: Secret and adds its own block. */
	expect(
	    K8S, "sec.yaml",
	    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: ENC}\nsops: {mac: x}\n",
	    "");
	expect(K8S, "ss.yaml",
	       "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: s}\n", "");
}

/* A pod spec with one container, then `extra` appended to the container or the pod. */
static char *pod(const char *kind, const char *image, const char *container_extra,
                 const char *pod_extra)
{
	return gg_printf("apiVersion: v1\n"
	                 "kind: %s\n"
	                 "metadata: {name: p}\n"
	                 "spec:\n"
	                 "  securityContext: {runAsNonRoot: true}\n"
	                 "%s"
	                 "  containers:\n"
	                 "    - name: c\n"
	                 "      image: %s\n"
	                 "      resources: {limits: {cpu: 1, memory: 1Gi}}\n"
	                 "%s",
	                 kind, pod_extra, image, container_extra);
}

static void expect_pod(const char *image, const char *cextra, const char *pextra, const char *want)
{
	char *d = pod("Pod", image, cextra, pextra);
	expect(K8S, "p.yaml", d, want);
	free(d);
}

static void test_k8s_image_pinned(void)
{
	expect_pod("nginx:1.25", "", "", "");
	expect_pod("ghcr.io/acme/app:v1.2.3", "", "", "");
	expect_pod("nginx:latest", "", "",
	           "error[k8s-image-pinned] p.yaml:8:14: Pod/p: container \"c\": pin container "
	           "images to a version or a "
	           "digest (found \"nginx:latest\")\n");
	expect_pod("nginx", "", "",
	           "error[k8s-image-pinned] p.yaml:8:14: Pod/p: container \"c\": pin container "
	           "images to a version or a "
	           "digest (found \"nginx\")\n");
	/* A registry port is not a tag. */
	expect_pod("registry:5000/nginx", "", "",
	           "error[k8s-image-pinned] p.yaml:8:14: Pod/p: container \"c\": pin container "
	           "images to a version or a "
	           "digest (found \"registry:5000/nginx\")\n");
}

static void test_k8s_container_rules(void)
{
	expect_pod("a:1", "      securityContext: {privileged: false}\n", "", "");
	expect_pod("a:1", "      securityContext: {privileged: true}\n", "",
	           "error[k8s-no-privileged] p.yaml:10:37: Pod/p: container \"c\": privileged "
	           "containers are not allowed "
	           "(found true)\n");
	char *d = gg_printf("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
	                    "  securityContext: {runAsNonRoot: true}\n"
	                    "  containers:\n    - name: c\n      image: a:1\n"
	                    "      resources: {limits: {memory: 1Gi}}\n"
	                    "    - name: d\n      image: a:1\n");
	expect(K8S, "p.yaml", d,
	       "error[k8s-cpu-limit] p.yaml:9:27: Pod/p: container \"c\": set a CPU limit on every "
	       "container (missing cpu)\n"
	       "error[k8s-cpu-limit] p.yaml:10:7: Pod/p: container \"d\": set a CPU limit on every "
	       "container (missing "
	       "resources.limits.cpu)\n"
	       "error[k8s-memory-limit] p.yaml:10:7: Pod/p: container \"d\": set a memory limit on "
	       "every container (missing "
	       "resources.limits.memory)\n");
	free(d);
}

static void test_k8s_pod_rules(void)
{
	expect_pod("a:1", "", "  hostNetwork: false\n  hostPID: false\n", "");
	expect_pod(
	    "a:1", "", "  hostNetwork: true\n  hostPID: true\n  hostIPC: true\n",
	    "error[k8s-no-host-network] p.yaml:6:16: Pod/p: pods must not use the host's network "
	    "(found true)\n"
	    "error[k8s-no-host-pid] p.yaml:7:12: Pod/p: pods must not share the host's process "
	    "namespace (found true)\n"
	    "error[k8s-no-host-ipc] p.yaml:8:12: Pod/p: pods must not share the host's IPC "
	    "namespace "
	    "(found true)\n");
	expect_pod("a:1", "", "  volumes:\n    - name: v\n      emptyDir: {}\n", "");
	expect_pod("a:1", "", "  volumes:\n    - name: v\n      hostPath: {path: /}\n",
	           "error[k8s-no-host-path] p.yaml:8:17: Pod/p: hostPath volumes are not allowed "
	           "(found a map)\n");
	expect(K8S, "p.yaml",
	       "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
	       "    - {name: c, image: 'a:1', resources: {limits: {cpu: 1, memory: 1}}}\n",
	       "warning[k8s-run-as-non-root] p.yaml:5:3: Pod/p: set securityContext.runAsNonRoot "
	       "true in "
	       "the pod spec (missing securityContext.runAsNonRoot)\n");
}

static void test_k8s_workload_kinds(void)
{
	/* CronJob: the pod spec four levels down; an initContainer is checked too. */
	expect(K8S, "cj.yaml",
	       "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n"
	       "  jobTemplate:\n    spec:\n      template:\n        spec:\n"
	       "          securityContext: {runAsNonRoot: true}\n"
	       "          hostPID: true\n"
	       "          initContainers:\n"
	       "            - {name: i, image: busybox, resources: {limits: {cpu: 1, memory: 1}}}\n"
	       "          containers:\n"
	       "            - {name: c, image: 'a:1', resources: {limits: {cpu: 1, memory: 1}}}\n",
	       "error[k8s-no-host-pid] cj.yaml:10:20: CronJob/c: pods must not share the host's "
	       "process "
	       "namespace (found true)\n"
	       "error[k8s-image-pinned] cj.yaml:12:32: CronJob/c: init container \"i\": pin "
	       "container images to a version or a "
	       "digest (found \"busybox\")\n");
	static const char *const kinds[] = {"StatefulSet", "DaemonSet", "ReplicaSet", "Job"};
	for (size_t i = 0; i < GG_ARRAY_LEN(kinds); i++) {
		char *d =
		    gg_printf("apiVersion: apps/v1\nkind: %s\nmetadata: {name: w}\nspec:\n"
		              "  template:\n    spec:\n"
		              "      securityContext: {runAsNonRoot: true}\n"
		              "      containers:\n"
		              "        - {name: c, image: 'a:latest', resources: {limits: {cpu: "
		              "1, memory: 1}}}\n",
		              kinds[i]);
		char *want =
		    gg_printf("error[k8s-image-pinned] w.yaml:9:28: %s/w: container \"c\": "
		              "pin container images to a version or a digest (found "
		              "\"a:latest\")\n",
		              kinds[i]);
		expect(K8S, "w.yaml", d, want);
		free(want);
		free(d);
	}
	/* A Pod-shaped spec under another kind is not a pod. */
	expect(K8S, "x.yaml",
	       "apiVersion: x/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  hostNetwork: true\n",
	       "");
}

static void test_k8s_object_rules(void)
{
	expect(K8S, "o.yaml", "kind: ConfigMap\nmetadata: {}\n",
	       "error[k8s-api-version] o.yaml:1:1: ConfigMap: every Kubernetes object needs an "
	       "apiVersion "
	       "(missing apiVersion)\n"
	       "error[k8s-metadata-name] o.yaml:2:11: ConfigMap: every Kubernetes object needs "
	       "metadata.name "
	       "(missing name)\n");
	expect(K8S, "o.yaml", "apiVersion: v1\nmetadata: {name: x}\n",
	       "error[k8s-kind] o.yaml:1:1: every Kubernetes object needs a kind (missing kind)\n");
	/* The second document of a file, with lines counted from the top. */
	expect(K8S, "o.yaml",
	       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\n"
	       "kind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n",
	       "error[k8s-no-plain-secret] o.yaml:6:7: Secret/s: plain Secret objects are refused; "
	       "commit an "
	       "encrypted form (SealedSecret, SOPS) (found \"Secret\")\n");
}

static void test_k8s_overrides(void)
{
	const char *m = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostIPC: true\n"
	                "  containers:\n"
	                "    - {name: c, image: 'a:1', resources: {limits: {cpu: 1, memory: 1}}}\n";
	expect(K8S "overrides: {k8s-run-as-non-root: off, k8s-no-host-ipc: warning}\n", "p.yaml", m,
	       "warning[k8s-no-host-ipc] p.yaml:5:12: Pod/p: pods must not share the host's IPC "
	       "namespace "
	       "(found true)\n");
	expect(K8S "overrides: {k8s-run-as-non-root: error, k8s-no-host-ipc: off}\n", "p.yaml", m,
	       "error[k8s-run-as-non-root] p.yaml:5:3: Pod/p: set securityContext.runAsNonRoot "
	       "true in the "
	       "pod spec (missing securityContext.runAsNonRoot)\n");
	expect_load_error(K8S "overrides: {k8s-no-such-rule: off}\n",
	                  "policy.yaml:2:13: overrides: unknown rule id \"k8s-no-such-rule\"\n");
	expect_load_error(
	    K8S "overrides: {k8s-kind: disabled}\n",
	    "policy.yaml:2:23: override for k8s-kind must be off, warning or error\n");
}

#define COMPOSE "packs: [compose-baseline]\n"

static void test_compose_pack(void)
{
	expect(COMPOSE, "docker-compose.yml",
	       "services:\n"
	       "  web:\n"
	       "    image: nginx:1.25\n"
	       "    volumes: ['./site:/usr/share/nginx/html:ro', {type: volume, source: data, "
	       "target: /d}]\n"
	       "  build-only:\n"
	       "    build: .\n",
	       "");
	expect(
	    COMPOSE, "docker-compose.yml",
	    "services:\n"
	    "  web:\n"
	    "    image: nginx\n"
	    "    privileged: true\n"
	    "    network_mode: host\n"
	    "    volumes:\n"
	    "      - /var/run/docker.sock:/var/run/docker.sock\n"
	    "      - type: bind\n"
	    "        source: /var/run/docker.sock\n"
	    "        target: /sock\n"
	    "  db:\n"
	    "    image: postgres:latest\n",
	    "error[compose-image-pinned] docker-compose.yml:3:12: pin service images to a version "
	    "or a digest (found \"nginx\")\n"
	    "error[compose-no-privileged] docker-compose.yml:4:17: privileged services are not "
	    "allowed (found true)\n"
	    "error[compose-no-host-network] docker-compose.yml:5:19: services must not use the "
	    "host's network (found \"host\")\n"
	    "error[compose-no-docker-socket] docker-compose.yml:7:9: do not mount the Docker "
	    "socket into a service (found \"/var/run/docker.sock:/var/run/docker.sock\")\n"
	    "error[compose-no-docker-socket] docker-compose.yml:9:17: do not mount the Docker "
	    "socket into a service (found \"/var/run/docker.sock\")\n"
	    "error[compose-image-pinned] docker-compose.yml:12:12: pin service images to a "
	    "version or a digest (found \"postgres:latest\")\n");
}

static void test_merge_keys_are_followed(void)
{
	/* A setting moved into an anchor and merged in is still the service's. */
	expect(COMPOSE, "docker-compose.yml",
	       "x-base: &base\n"
	       "  privileged: true\n"
	       "x-net: &net\n"
	       "  network_mode: host\n"
	       "services:\n"
	       "  web:\n"
	       "    <<: [*net, *base]\n"
	       "    image: nginx:1.25\n"
	       "  db:\n"
	       "    <<: *base\n"
	       "    privileged: false\n"
	       "    image: pg:16\n",
	       "error[compose-no-privileged] docker-compose.yml:2:15: privileged services are not "
	       "allowed (found true)\n"
	       "error[compose-no-host-network] docker-compose.yml:4:17: services must not use the "
	       "host's network (found \"host\")\n");
}

static void test_violations_per_file_are_capped(void)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load(RULE("    path: 'a[*]'\n    assert: {equals: 0}\n"), &d);
	CHECK(mp != NULL);
	gg_buf b = GG_BUF_INIT;
	gg_buf_puts(&b, "a:\n");
	for (int i = 0; i < 1005; i++)
		gg_buf_puts(&b, "- 1\n");
	gg_report r = GG_REPORT_INIT;
	gg_manifest_check(mp, "f.yaml", b.ptr, b.len, &r);
	CHECK_INT(r.n, 1001);
	gg_report_sort(&r);
	CHECK_STR(r.v[0].rule, "limit");
	CHECK_INT(r.v[0].line, 1);
	CHECK_STR(r.v[0].message,
	          "5 more violations in this file are not reported (at most 1000 per file)");
	CHECK_STR(r.v[1000].rule, "r");
	CHECK_INT(r.v[1000].line, 1001);
	gg_report_free(&r);
	gg_buf_free(&b);
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
}

/* ---- deletions, on trees built in a scratch repository ---- */

struct file {
	const char *path;
	const char *data;
};

/* A tree of blobs at top-level paths (no directories needed here). */
static git_tree *tree_of(git_repository *repo, const struct file *files, size_t n)
{
	git_treebuilder *tb = NULL;
	git_oid id;
	git_tree *t = NULL;
	if (git_treebuilder_new(&tb, repo, NULL) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		git_oid blob;
		if (git_blob_create_from_buffer(&blob, repo, files[i].data, strlen(files[i].data)) <
		        0 ||
		    git_treebuilder_insert(NULL, tb, files[i].path, &blob, GIT_FILEMODE_BLOB) < 0)
			goto done;
	}
	if (git_treebuilder_write(&id, tb) == 0)
		git_tree_lookup(&t, repo, &id);
done:
	git_treebuilder_free(tb);
	return t;
}

static char *deletions(const char *policy, const struct file *old, size_t nold,
                       const struct file *new, size_t nnew, bool check_new_first)
{
	char dir[] = "/tmp/gg-test-manifest.XXXXXX";
	char *out = NULL;
	git_repository *repo = NULL;
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load(policy, &d);
	CHECK(mp != NULL);
	if (mp == NULL || mkdtemp(dir) == NULL || git_repository_init(&repo, dir, 1) < 0) {
		CHECK(!"cannot set up a scratch repository");
		goto done;
	}
	git_tree *ot = tree_of(repo, old, nold), *nt = tree_of(repo, new, nnew);
	CHECK(ot != NULL && nt != NULL);
	gg_report r = GG_REPORT_INIT;
	/* As the hook does: NEW's changed manifests are checked before the deletion diff. */
	for (size_t i = 0; check_new_first && i < nnew; i++)
		gg_manifest_check(mp, new[i].path, new[i].data, strlen(new[i].data), &r);
	gg_report_free(&r);
	CHECK_INT(gg_manifest_check_deletions(mp, repo, ot, nt, &r), 0);
	gg_report_sort(&r);
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	gg_report_print_text(&r, f, "", 0);
	fclose(f);
	gg_report_free(&r);
	git_tree_free(ot);
	git_tree_free(nt);
	char *rm = gg_printf("rm -rf '%s'", dir);
	CHECK_INT(system(rm), 0);
	free(rm);
done:
	git_repository_free(repo);
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
	return out;
}

#define DEPLOY "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\n"
#define SVC    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: prod}\n"
#define CM     "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"cm\"}}"

static void test_deletions(void)
{
	const char *pol = "paths: ['*.yaml', '*.json']\nexclude: ['skip-*']\ndeny_deletion: true\n";
	const struct file old[] = {
	    {"a.yaml", DEPLOY "---\n" SVC},
	    {"b.json", CM},
	    {"skip-me.yaml", SVC},
	    {"z.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"}};
	/* The Service dropped, the ConfigMap moved to another changed file (YAML now), the
	 * excluded file and the untouched one gone or kept: only the Service is refused. */
	const struct file new[] = {
	    {"a.yaml", DEPLOY},
	    {"c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n"},
	    {"z.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"}};
	const char *want =
	    "error[deny-deletion] a.yaml:5:1: Service \"web\" (v1, namespace \"prod\") was deleted "
	    "(it was at a.yaml:5); push with -o gitgate.allow=deletion to allow it\n";
	for (int memo = 0; memo < 2; memo++) {
		char *got = deletions(pol, old, 4, new, 3, memo);
		CHECK_STR(got, want);
		free(got);
	}
	/* The identity includes apiVersion: a changed apiVersion is a deletion of the old one. */
	const struct file moved[] = {{"a.yaml", "apiVersion: apps/v1beta1\nkind: Deployment\n"
	                                        "metadata: {name: web, namespace: prod}\n"}};
	char *got = deletions(pol, old, 1, moved, 1, true);
	CHECK_STR(got, "error[deny-deletion] a.yaml:1:1: Deployment \"web\" (apps/v1, namespace "
	               "\"prod\") was deleted (it was at a.yaml:1); push with -o "
	               "gitgate.allow=deletion to allow it\n"
	               "error[deny-deletion] a.yaml:5:1: Service \"web\" (v1, namespace \"prod\") "
	               "was deleted (it was at a.yaml:5); push with -o gitgate.allow=deletion to "
	               "allow it\n");
	free(got);
	/* Nothing removed: nothing reported. */
	got = deletions(pol, old, 2, old, 2, true);
	CHECK_STR(got, "");
	free(got);
}

/* With options: what gitgate check (notes) or a rendered stream would print. */
static char *check_opts(const char *policy, const char *path, const char *data,
                        const gg_mcheck_opts *o)
{
	gg_diag d = GG_DIAG_INIT;
	gg_mpolicy *mp = load(policy, &d);
	CHECK(mp != NULL);
	gg_report r = GG_REPORT_INIT;
	if (mp)
		CHECK_INT(gg_manifest_check_opts(mp, path, data, strlen(data), o, &r), 0);
	gg_report_sort(&r);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	gg_report_print_text(&r, f, "", 0);
	fclose(f);
	gg_report_free(&r);
	gg_mpolicy_free(mp);
	gg_diag_free(&d);
	return out;
}

static void test_k8s_only_kubernetes_objects(void)
{
	/* A CI workflow, Helm values, an application config: neither apiVersion nor kind. */
	const char *workflow =
	    "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n";
	expect(K8S, ".github/workflows/ci.yaml", workflow, "");
	expect(K8S, "values.yaml", "image: {repository: nginx, tag: latest}\nreplicas: 2\n", "");
	/* gitgate check says so, once per file. */
	gg_mcheck_opts o = {NULL, true, false};
	char *got = check_opts(K8S, "ci.yaml", workflow, &o);
	CHECK_STR(got, "note[kubernetes-baseline] ci.yaml:1:1: not checked: kubernetes-baseline "
	               "applies to Kubernetes objects (documents with an apiVersion or a kind)\n");
	free(got);
	/* One Kubernetes document in the file is enough: no note, and the rules apply to it. */
	got = check_opts(K8S, "m.yaml",
	                 "a: 1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", &o);
	CHECK_STR(got, "error[k8s-metadata-name] m.yaml:5:11: ConfigMap: every Kubernetes object "
	               "needs metadata.name (missing name)\n");
	free(got);
	/* A kind alone is enough to be held to the object rules. */
	expect(K8S, "o.yaml", "kind: Service\nmetadata: {name: s}\n",
	       "error[k8s-api-version] o.yaml:1:1: Service/s: every Kubernetes object needs an "
	       "apiVersion (missing apiVersion)\n");
	/* gitgate's own policy and reports are never manifests, not even noted. */
	got = check_opts(K8S, ".gitgate.yaml",
	                 "version: 1\nmode: enforce\nmanifests: {packs: [kubernetes-baseline]}\n",
	                 &o);
	CHECK_STR(got, "");
	free(got);
	got = check_opts(K8S, "report.json",
	                 "[{\"rule\": \"k8s-kind\", \"severity\": \"error\", \"message\": \"x\"}]",
	                 &o);
	CHECK_STR(got, "");
	free(got);
}

static void test_when_list_is_any_of(void)
{
	const char *p = "rules:\n"
	                "  - id: r\n"
	                "    message: bad\n"
	                "    when: [{kind: Job}, {metadata.namespace: prod, kind: Pod}]\n"
	                "    path: x\n"
	                "    assert: {exists: false}\n";
	expect(p, "f.yaml", "kind: Job\nx: 1\n", "error[r] f.yaml:2:4: Job: bad (found 1)\n");
	expect(p, "f.yaml", "kind: Pod\nmetadata: {namespace: prod}\nx: 1\n",
	       "error[r] f.yaml:3:4: Pod: bad (found 1)\n");
	expect(p, "f.yaml", "kind: Pod\nmetadata: {namespace: dev}\nx: 1\n", "");
	expect_load_error(RULE("    when: []\n    path: a\n    assert: {exists: true}\n"),
	                  "policy.yaml:4:11: when: a list holds 1 to 1000 maps of conditions\n");
}

static void test_k8s_every_pod_template_kind(void)
{
	/* ReplicationController and PodTemplate; an ephemeral container's image is checked. */
	expect(K8S, "rc.yaml",
	       "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n"
	       "  template:\n    spec:\n"
	       "      securityContext: {runAsNonRoot: true}\n"
	       "      containers:\n"
	       "        - {name: c, image: 'a:1', resources: {limits: {cpu: 1, memory: 1}}}\n"
	       "      ephemeralContainers:\n"
	       "        - {name: debug, image: 'busybox:latest'}\n",
	       "error[k8s-image-pinned] rc.yaml:11:32: ReplicationController/rc: ephemeral "
	       "container \"debug\": pin container images to a version or a digest (found "
	       "\"busybox:latest\")\n");
	expect(K8S, "pt.yaml",
	       "apiVersion: v1\nkind: PodTemplate\nmetadata: {name: pt, namespace: ops}\n"
	       "template:\n  spec:\n"
	       "    securityContext: {runAsNonRoot: true}\n"
	       "    hostNetwork: true\n"
	       "    containers:\n"
	       "      - {name: c, image: 'a', resources: {limits: {cpu: 1, memory: 1}}}\n",
	       "error[k8s-no-host-network] pt.yaml:7:18: PodTemplate/pt: pods must not use the "
	       "host's network (found true)\n"
	       "error[k8s-image-pinned] pt.yaml:9:26: PodTemplate/pt: container \"c\": pin "
	       "container images to a version or a digest (found \"a\")\n");
}

static void test_template_markers(void)
{
	/* Outside a chart, {{ }} that YAML reads as maps: one note, no false type errors. */
	const char *tpl =
	    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
	    "  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n";
	expect(K8S, "deploy.yaml", tpl,
	       "note[template] deploy.yaml:4:9: template markers ({{ }}) that are not YAML: "
	       "checked as a template, not as a manifest; render it and check the output "
	       "(gitgate check -)\n");
	/* Quoted markers are text (an alert's summary): the file is a manifest. */
	expect(K8S, "rule.yaml",
	       "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: r}\n"
	       "spec: {groups: [{name: g, rules: [{alert: Down, annotations: "
	       "{summary: '{{ $labels.instance }} down'}}]}]}\n",
	       "");
}

static void test_rendered_stream_sources(void)
{
	const char *stream = "---\n"
	                     "# Source: web/templates/service.yaml\n"
	                     "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
	                     "---\n"
	                     "# Source: web/templates/deployment.yaml\n"
	                     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
	                     "spec:\n  template:\n    spec:\n"
	                     "      securityContext: {runAsNonRoot: true}\n"
	                     "      containers:\n"
	                     "        - {name: api, image: 'web:latest', resources: {limits: "
	                     "{cpu: 1, memory: 1}}}\n"
	                     "---\n"
	                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n";
	gg_mcheck_opts o = {"-", false, true};
	char *got = check_opts(K8S, "-", stream, &o);
	/* Named by template, lines counted in the stream; a document without a comment: the stream.
	 */
	CHECK_STR(got,
	          "error[k8s-metadata-name] -:20:11: ConfigMap: every Kubernetes object needs "
	          "metadata.name (missing name)\n"
	          "error[k8s-image-pinned] web/templates/deployment.yaml:16:30: Deployment/web: "
	          "container \"api\": pin container images to a version or a digest (found "
	          "\"web:latest\")\n");
	free(got);
}

/* Over the hook's cap, notes give way to errors; notes count as neither. */
static void test_report_cap_keeps_errors(void)
{
	gg_report r = GG_REPORT_INIT;
	for (unsigned i = 1; i <= 5; i++) {
		gg_loc loc = {.path = "a.yaml", .line = i, .col = 1};
		gg_report_add(&r, "helm-chart", GG_SEV_NOTE, &loc, "note %u", i);
	}
	gg_loc loc = {.path = "b.yaml", .line = 9, .col = 3};
	gg_report_add(&r, "k8s-kind", GG_SEV_ERROR, &loc, "error");
	CHECK_INT(r.nerrors, 1);
	CHECK_INT(r.nwarnings, 0);
	gg_report_sort(&r);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	gg_report_print_text(&r, f, "", 3);
	fclose(f);
	CHECK_STR(out, "note[helm-chart] a.yaml:1:1: note 1\n"
	               "note[helm-chart] a.yaml:2:1: note 2\n"
	               "error[k8s-kind] b.yaml:9:3: error\n"
	               "... and 3 more violations not shown\n");
	free(out);
	gg_report_free(&r);
}

int main(void)
{
	git_libgit2_init();
	RUN(test_path_index_and_each);
	RUN(test_path_star_over_map_values);
	RUN(test_path_syntax_errors);
	RUN(test_assert_exists);
	RUN(test_assert_equals_one_of);
	RUN(test_assert_matches);
	RUN(test_assert_min_max_type);
	RUN(test_found_text_is_one_line);
	RUN(test_when);
	RUN(test_several_paths_and_within);
	RUN(test_loader_errors);
	RUN(test_selects);
	RUN(test_parse_problems_are_violations);
	RUN(test_k8s_good_objects_pass);
	RUN(test_k8s_image_pinned);
	RUN(test_k8s_container_rules);
	RUN(test_k8s_pod_rules);
	RUN(test_k8s_workload_kinds);
	RUN(test_k8s_object_rules);
	RUN(test_k8s_overrides);
	RUN(test_compose_pack);
	RUN(test_merge_keys_are_followed);
	RUN(test_violations_per_file_are_capped);
	RUN(test_deletions);
	RUN(test_k8s_only_kubernetes_objects);
	RUN(test_when_list_is_any_of);
	RUN(test_k8s_every_pod_template_kind);
	RUN(test_template_markers);
	RUN(test_rendered_stream_sources);
	RUN(test_report_cap_keeps_errors);
	return TEST_DONE();
}
