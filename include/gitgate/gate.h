/*
 * The push-checking engine shared by the pre-receive hook and gitgate check:
 * ref rules on each update, commit rules on every commit the push introduces
 * (NEW --not --all), file rules on every blob those commits add or change,
 * and the manifest engine on the changed manifests, read from NEW's tree.
 */
#ifndef GITGATE_GATE_H
#define GITGATE_GATE_H

#include "gitgate/policy.h"
#include "gitgate/report.h"

#include <git2.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gg_gate gg_gate;

/*
 * A checker for one push into repo with policy p, adding violations to r.
 * Borrows repo, p and r for its lifetime. *out is freed with gg_gate_free.
 * Returns -1 with *err (allocated) when the existing refs cannot be listed.
 */
int gg_gate_new(gg_gate **out, git_repository *repo, const gg_policy *p, gg_report *r, char **err);
void gg_gate_free(gg_gate *g);

/*
 * The push sits in a quarantine and objects_dir is the repository's own store
 * (without it): commits only the quarantine holds are new, which finds what a
 * push introduces without parsing every existing ref's commit. Optional.
 */
int gg_gate_set_main_store(gg_gate *g, const char *objects_dir, char **err);

/* `git push -o gitgate.allow=deletion`: resource deletions in manifests are allowed. */
void gg_gate_allow_deletion(gg_gate *g, bool allow);

/*
 * One "OLD NEW REF" line of the hook's input (hex ids of either hash length;
 * all zeros for create/delete). Commits already checked for an earlier update
 * of the same push are not checked again. Returns 0, or -1 with *err
 * (allocated) when an id is malformed or an object cannot be read: the caller
 * must then reject the push.
 */
int gg_gate_check_update(gg_gate *g, const char *old_hex, const char *new_hex, const char *ref,
                         char **err);

/*
 * Every rule but the ref rules on the commits reachable from new and not from
 * old (old may be NULL: everything reachable from new), as the hook would.
 */
int gg_gate_check_range(gg_gate *g, const git_oid *old, const git_oid *new, char **err);

/* Commits the gate has checked so far. */
size_t gg_gate_ncommits(const gg_gate *g);

/*
 * File rules on one file of a working tree: deny_paths against match_path
 * (relative to the repository root), max_size against size, secrets on every
 * line of data (skipped when binary; a warning when data is NULL: too large to
 * read). Violations name display_path.
 */
void gg_gate_check_file(const gg_policy *p, const char *display_path, const char *match_path,
                        const char *data, size_t len, uint64_t size, gg_report *r);

/* In `mode: warn` every error becomes a warning. */
void gg_gate_apply_mode(const gg_policy *p, gg_report *r);

/* A copy of s safe to print on a terminal: gg_report_escape. */
char *gg_gate_sanitize(const char *s, size_t len);

#endif
