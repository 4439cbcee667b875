/*
 * The manifest engine: the policy's manifests: section (paths, exclude, packs,
 * custom rules, deny_deletion) and the validation of manifest files with it.
 * One engine serves the pre-receive hook and gitgate check.
 */
#ifndef GITGATE_MANIFEST_H
#define GITGATE_MANIFEST_H

#include "gitgate/policy.h"
#include "gitgate/report.h"
#include "gitgate/ytree.h"

#include <git2.h>
#include <stdbool.h>

/*
 * Parse the manifests: mapping of a policy file (`file` names it in
 * messages). On failure returns -1 with every problem in diag as
 * "FILE:LINE:COL: message". *out is owned by the caller.
 */
int gg_mpolicy_parse(gg_mpolicy **out, const char *file, const gg_ynode *node, gg_diag *diag);
void gg_mpolicy_free(gg_mpolicy *mp);

/* True when `path` matches manifests.paths and no exclude glob. */
bool gg_mpolicy_selects(const gg_mpolicy *mp, const char *path);
bool gg_mpolicy_deny_deletion(const gg_mpolicy *mp);

/*
 * Where the schema check (manifests.schemas) finds the CustomResourceDefinitions
 * and in-repository schema locations of the files checked next: the tree of
 * the pushed commit (borrowed until the next call), or a working tree's root.
 */
void gg_manifest_set_tree(const gg_mpolicy *mp, git_repository *repo, const git_tree *tree);
void gg_manifest_set_dir(const gg_mpolicy *mp, const char *root);

/*
 * Validate one manifest file (YAML, or JSON for *.json): syntax, duplicate
 * keys, limits, pack and custom rules, Kubernetes schemas. Violations go to r with `path` and the
 * offending node's line and column. Returns 0, or -1 on an internal error.
 */
int gg_manifest_check(const gg_mpolicy *mp, const char *path, const char *data, size_t len,
                      gg_report *r);

typedef struct {
	const char *shown; /* the file's name in messages; NULL: path */
	/* Add a note when no pack applies to the file (gitgate check; the hook is silent). */
	bool notes;
	/*
	 * A rendered stream of YAML documents (helm template, kustomize build):
	 * a "# Source: PATH" comment before a document names PATH as the file of
	 * its violations, with lines counted in the stream.
	 */
	bool stream;
} gg_mcheck_opts;

/*
 * gg_manifest_check with options (NULL: as gg_manifest_check). A file that
 * holds template markers YAML cannot read ("{{ .Values.x }}") is one
 * "template" note; gitgate's own policy and report files are skipped.
 */
int gg_manifest_check_opts(const gg_mpolicy *mp, const char *path, const char *data, size_t len,
                           const gg_mcheck_opts *o, gg_report *r);

/*
 * Resource deletions on a ref update: every resource (apiVersion, kind,
 * namespace, name) found in old_tree's selected manifests and absent from
 * new_tree's is a "deny-deletion" error in r, naming the resource and where
 * it was. Only files that differ between the trees are read.
 */
int gg_manifest_check_deletions(const gg_mpolicy *mp, git_repository *repo,
                                const git_tree *old_tree, const git_tree *new_tree, gg_report *r);

#endif
