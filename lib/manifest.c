/* Placeholder until the manifest engine lands: a manifests: section is refused. */
#include "gitgate/manifest.h"

int gg_mpolicy_parse(gg_mpolicy **out, const char *file, const gg_ynode *node, gg_diag *diag)
{
	*out = NULL;
	gg_diag_add(diag, file, node ? node->line : 1, node ? node->col : 1,
	            "manifests: is not supported by this build");
	return -1;
}

void gg_mpolicy_free(gg_mpolicy *mp)
{
	(void)mp;
}

bool gg_mpolicy_selects(const gg_mpolicy *mp, const char *path)
{
	(void)mp;
	(void)path;
	return false;
}

bool gg_mpolicy_deny_deletion(const gg_mpolicy *mp)
{
	(void)mp;
	return false;
}

int gg_manifest_check(const gg_mpolicy *mp, const char *path, const char *data, size_t len,
                      gg_report *r)
{
	(void)mp, (void)path, (void)data, (void)len, (void)r;
	return 0;
}

int gg_manifest_check_deletions(const gg_mpolicy *mp, git_repository *repo,
                                const git_tree *old_tree, const git_tree *new_tree, gg_report *r)
{
	(void)mp, (void)repo, (void)old_tree, (void)new_tree, (void)r;
	return 0;
}
