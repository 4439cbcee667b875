/*
 * libFuzzer target: the manifest parser and rule engine on hostile input. The
 * first byte picks how the rest is read: bit 0 JSON or YAML, bit 1 a rendered
 * stream (gitgate check -), bit 2 a kustomization inside a Helm chart of a
 * tree where every path names the same hostile file.
 * The policy enables both built-in packs and custom rules using every
 * assertion, `when`, `within` and each path form.
 */
#include "gitgate/manifest.h"
#include "gitgate/mscan.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy[] =
    "packs: [kubernetes-baseline, compose-baseline]\n"
    "deny_deletion: true\n"
    "rules:\n"
    "  - id: c1\n"
    "    when: {kind: [Deployment, Pod], metadata.namespace: {matches: '^p'}}\n"
    "    path: [spec.replicas, 'spec.template.spec.containers[0].ports[*].containerPort']\n"
    "    assert: {exists: true, min: 1, max: 65535, type: number}\n"
    "  - id: c2\n"
    "    within: ['items[*]', '*']\n"
    "    path: 'metadata.labels.\"app.kubernetes.io/name\"'\n"
    "    assert: {one_of: [a, 1, true, ~], not_one_of: [b], equals: a}\n"
    "  - id: c3\n"
    "    severity: warning\n"
    "    path: '*.*[*]'\n"
    "    assert: {not_matches: '(a|b)+c', matches: '.'}\n"
    "  - id: c4\n"
    "    path: a.b\n"
    "    assert: {exists: false}\n";

static gg_mpolicy *mp;

static void init(void)
{
	gg_yfile *f;
	gg_diag d = GG_DIAG_INIT;
	gg_yparse(&f, policy, sizeof(policy) - 1, GG_YFMT_YAML, NULL);
	if (gg_mpolicy_parse(&mp, "fuzz.yaml", gg_yfile_doc(f, 0), &d) < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		abort();
	}
	gg_diag_free(&d);
	gg_yfile_free(f);
}

struct fake_tree {
	const char *data;
	size_t len;
};

/* Every path exists; those with a dot in their last part are files holding the input. */
static gg_mtree_kind fake_kind(void *ctx, const char *path)
{
	(void)ctx;
	const char *slash = strrchr(path, '/');
	return strchr(slash ? slash : path, '.') ? GG_MTREE_FILE : GG_MTREE_DIR;
}

static int fake_read(void *ctx, const char *path, char **out, size_t *len)
{
	const struct fake_tree *t = ctx;
	(void)path;
	*out = gg_malloc(t->len + 1);
	memcpy(*out, t->data, t->len);
	(*out)[t->len] = '\0';
	*len = t->len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (mp == NULL)
		init();
	if (size == 0)
		return 0;
	const char *path = (data[0] & 1) ? "f.json" : "f.yaml";
	gg_report r = GG_REPORT_INIT;
	const char *text = (const char *)data + 1;
	if (data[0] & 4) {
		struct fake_tree t = {text, size - 1};
		gg_mtree ops = {fake_kind, fake_read, &t};
		gg_mscan *scan = gg_mscan_new(mp, &ops, true);
		gg_mscan_file(scan, "c/k/kustomization.yaml", "c/k/kustomization.yaml", text,
		              size - 1, &r);
		gg_mscan_changed(scan, "c/k/x/deleted.yaml", "c/k/x/deleted.yaml", &r);
		gg_mscan_free(scan);
	} else {
		gg_mcheck_opts o = {path, true, (data[0] & 2) != 0};
		gg_manifest_check_opts(mp, path, text, size - 1, &o, &r);
	}
	gg_report_sort(&r);
	/* Every violation is one printable line. */
	for (size_t i = 0; i < r.n; i++)
		for (const char *s = r.v[i].message; *s; s++)
			if (*s == '\n' || *s == '\r')
				abort();
	for (size_t i = 0; i < r.n; i++)
		for (const char *s = r.v[i].path; s && *s; s++)
			if (*s == '\n' || *s == '\r')
				abort();
	gg_report_free(&r);
	return 0;
}
