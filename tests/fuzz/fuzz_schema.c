/*
 * libFuzzer target: the schema loader on hostile schemas, and the validator
 * on whatever the loader accepted. The first byte picks what the rest is:
 * 0 a _definitions.json, 1 a CRD (YAML), 2 a kind's schema (JSON), 3 a
 * document validated against the built-in Kubernetes definitions. Every
 * kind a hostile schema defines then validates a fixed document and the
 * input itself: cycles, deep nesting and huge schemas must stay bounded.
 */
#include "gitgate/report.h"
#include "gitgate/sset.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc[] = "apiVersion: example.com/v1\nkind: T\nmetadata: {name: x}\n"
                          "spec: {a: [1, yes, \"s\", {b: ~}], c: 010, d: {e: 1.5}}\n";

static void validate_all(const gg_sset *s, const gg_ynode *d, gg_report *r)
{
	for (size_t i = 0; i < s->nkinds && i < 64; i++) {
		size_t budget = 1000;
		gg_sset_validate(s, s->kinds[i].node, d, true, "f.yaml", &budget, r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned mode = data[0] & 3;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	gg_yfile *f, *fd;
	gg_yparse(&f, in, len, mode == 1 || mode == 3 ? GG_YFMT_YAML : GG_YFMT_JSON, NULL);
	gg_yparse(&fd, doc, sizeof(doc) - 1, GG_YFMT_YAML, NULL);
	gg_ssetb *b = gg_ssetb_new();
	gg_diag diag = GG_DIAG_INIT;
	gg_report r = GG_REPORT_INIT;
	for (size_t i = 0; i < gg_yfile_ndocs(f); i++) {
		const gg_ynode *root = gg_yfile_doc(f, i);
		if (root == NULL)
			continue;
		uint32_t node;
		if (mode == 0) {
			gg_ssetb_add_definitions(b, "f.json", root, &diag);
		} else if (mode == 1) {
			gg_ssetb_add_crd(b, "f.yaml", root, &diag);
		} else if (mode == 2) {
			if (gg_ssetb_add_schema(b, &node, "f.json", root, false, &diag) == 0)
				gg_ssetb_add_kind(b, "example.com", "v1", "T", node);
		} else {
			size_t budget = 1000;
			uint32_t k = gg_sset_find_kind(&gg_k8s_builtin, "apps", "v1", "Deployment");
			gg_sset_validate(&gg_k8s_builtin, k, root, true, "f.yaml", &budget, &r);
		}
	}
	const gg_sset *s = gg_ssetb_view(b);
	validate_all(s, gg_yfile_doc(fd, 0), &r);
	for (size_t i = 0; mode != 3 && i < gg_yfile_ndocs(f); i++)
		if (gg_yfile_doc(f, i))
			validate_all(s, gg_yfile_doc(f, i), &r);
	/* Every message is one line: loader problems and violations alike. */
	for (size_t i = 0; i < r.n; i++)
		if (strchr(r.v[i].message, '\n') || strchr(r.v[i].message, '\r'))
			abort();
	gg_report_free(&r);
	gg_diag_free(&diag);
	gg_ssetb_free(b);
	gg_yfile_free(fd);
	gg_yfile_free(f);
	return 0;
}
