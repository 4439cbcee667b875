/*
 * Manifest rules: the rule language of the policy's manifests.rules and of the
 * built-in packs (see docs/manifests.md). A rule selects nodes of a document by
 * paths ("spec.containers[*].image", "services.*.image"), optionally inside
 * per-kind scopes (`within`) and under conditions (`when`), and asserts on
 * every node reached. Rules are compiled once (paths split, regexes compiled)
 * and then checked against any number of documents.
 */
#ifndef GITGATE_MRULE_H
#define GITGATE_MRULE_H

#include "gitgate/policy.h"
#include "gitgate/report.h"
#include "gitgate/yload.h"
#include "gitgate/ytree.h"

#include <stdbool.h>

#include <stddef.h>

typedef struct gg_mrule gg_mrule;

/*
 * Conditions on a document (a rule's or a pack's `when`): a map of
 * conditions that must all hold, or a list of such maps of which one must.
 * gg_mwhen_load reports problems through l and returns -1; *out is owned by
 * the caller.
 */
typedef struct gg_mwhen gg_mwhen;
int gg_mwhen_load(gg_mwhen **out, gg_yload *l, const gg_ynode *n);
bool gg_mwhen_holds(const gg_mwhen *w, const gg_ynode *doc);
void gg_mwhen_free(gg_mwhen *w);

/*
 * Compile one rule mapping of `file`. On failure returns -1 with every problem
 * in diag as "FILE:LINE:COL: message". *out is owned by the caller.
 */
int gg_mrule_parse(gg_mrule **out, const char *file, const gg_ynode *node, gg_diag *diag);
void gg_mrule_free(gg_mrule *rule);

/* Borrowed id, the severity the rule declares, and where the rule starts. */
const char *gg_mrule_id(const gg_mrule *rule);
gg_severity gg_mrule_severity(const gg_mrule *rule);
unsigned gg_mrule_line(const gg_mrule *rule);

/*
 * Check one document (the root node of one YAML document or of a JSON file)
 * and add its violations to r at `path` and the offending node's position,
 * with severity `sev`, while *budget lasts (each one added uses one). Returns
 * how many were found beyond the budget and not added.
 */
size_t gg_mrule_check(const gg_mrule *rule, gg_severity sev, const gg_ynode *doc, const char *path,
                      size_t *budget, gg_report *r);

/* The built-in packs, generated from packs/NAME.yaml at build time. */
typedef struct {
	const char *name;
	const unsigned char *data;
	size_t len;
} gg_mpack_src;
extern const gg_mpack_src gg_mpacks[];
extern const size_t gg_nmpacks;

#endif
