/*
 * libFuzzer target: the policy loader (with the manifests: section, its
 * rules, packs and overrides) on hostile input. A policy that loads is then
 * applied to a small manifest so the compiled rules run too.
 */
#include "gitgate/manifest.h"
#include "gitgate/policy.h"
#include "gitgate/util.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char manifest[] = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n"
                               "spec:\n  replicas: 1\n  template:\n    spec:\n"
                               "      containers: [{name: c, image: 'x:latest'}]\n"
                               "---\nservices: {web: {image: nginx, volumes: [a, {source: b}]}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	if (gg_policy_parse(&p, "fuzz.yaml", (const char *)data, size, &d) == 0) {
		if (p->manifests) {
			gg_report r = GG_REPORT_INIT;
			gg_manifest_check(p->manifests, "m.yaml", manifest, sizeof(manifest) - 1,
			                  &r);
			gg_report_free(&r);
		}
		gg_policy_free(p);
	}
	gg_diag_free(&d);
	return 0;
}
