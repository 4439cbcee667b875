/*
 * Ref rules (deny_delete, deny_update, deny_force_push, name_pattern) on one
 * ref update, applied to the ref that moves: an update of a symbolic ref is
 * one of its target, and deleting a symbolic ref or creating a ref through a
 * dangling one is refused ("symbolic-ref").
 */
#ifndef GITGATE_REFRULES_H
#define GITGATE_REFRULES_H

#include "gitgate/policy.h"
#include "gitgate/report.h"

#include <git2.h>
#include <stdbool.h>

/*
 * Add to r the violations of updating ref (as the push names it) from old to
 * new (create: old is absent; del: new is absent) in repo under policy p.
 * Borrows everything; reads refs and commits of repo.
 */
void gg_refrules_check(git_repository *repo, const gg_policy *p, gg_report *r, const char *ref,
                       const git_oid *old, const git_oid *new, bool create, bool del);

#endif
