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
#include "gitgate/ytree.h"

#include <stddef.h>

typedef struct gg_mrule gg_mrule;

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

/*
 * A compiled path, for callers that only need to walk documents. -1 with an
 * allocated *err on bad syntax.
 */
typedef struct gg_mpath gg_mpath;
int gg_mpath_compile(gg_mpath **out, const char *text, char **err);
void gg_mpath_free(gg_mpath *p);
/* Calls fn on every node p reaches from root; returns how many it reached. */
size_t gg_mpath_each(const gg_mpath *p, const gg_ynode *root,
                     void (*fn)(void *ctx, const gg_ynode *n), void *ctx);

/*
 * Describe a node for a message, the way users see it: strings quoted, other
 * scalars as written, "a map" / "a list"; control characters escaped and
 * long text shortened. Appends to b.
 */
void gg_mrule_describe(gg_buf *b, const gg_ynode *n);

/* The built-in packs, generated from packs/NAME.yaml at build time. */
typedef struct {
	const char *name;
	const unsigned char *data;
	size_t len;
} gg_mpack_src;
extern const gg_mpack_src gg_mpacks[];
extern const size_t gg_nmpacks;

#endif
