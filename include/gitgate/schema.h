/*
 * Kubernetes schema validation of manifests (manifests.schemas in the policy,
 * see docs/manifests.md): each resource is checked against the schema of its
 * kind, from the built-in Kubernetes definitions, from schema locations
 * (kubeconform's layout, in the repository or on the server) or from a
 * CustomResourceDefinition found in the pushed tree. Problems are
 * "k8s-schema" violations at the offending key or value.
 */
#ifndef GITGATE_SCHEMA_H
#define GITGATE_SCHEMA_H

#include "gitgate/report.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct gg_schemap gg_schemap;

/* The Kubernetes version whose definitions are compiled in. */
#define GG_SCHEMA_BUILTIN_VERSION "1.32.2"

/*
 * Parse the manifests.schemas mapping of policy `file`. On failure returns -1
 * with every problem in diag as "FILE:LINE:COL: message". *out is owned by
 * the caller (gg_schemap_free).
 */
int gg_schemap_parse(gg_schemap **out, const char *file, const gg_ynode *node, gg_diag *diag);
void gg_schemap_free(gg_schemap *sp);

/* Chooses the files that may hold CustomResourceDefinitions (the policy's manifest paths). */
typedef bool (*gg_schema_select_fn)(const void *arg, const char *path);

/*
 * Where the checks that follow find CRDs and the repository's schema
 * locations: the tree of a pushed commit (borrowed: it must live while
 * gg_schema_check is called, until the next call), or the root directory of
 * a working tree. Both are read only when a document's kind is not otherwise
 * known; switching to another tree drops what was read from the previous one.
 */
void gg_schemap_set_tree(gg_schemap *sp, git_repository *repo, const git_tree *tree,
                         gg_schema_select_fn select, const void *arg);
void gg_schemap_set_dir(gg_schemap *sp, const char *root, gg_schema_select_fn select,
                        const void *arg);

/*
 * Validate one document of file `path`: add its violations to r while
 * *budget lasts (each one uses one). Documents without a kind are not
 * resources and are skipped. Returns how many violations did not fit.
 */
size_t gg_schema_check(gg_schemap *sp, const gg_ynode *doc, const char *path, size_t *budget,
                       gg_report *r);

#endif
