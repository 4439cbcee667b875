/*
 * The policy file (YAML, see docs/policy.md and the contract): loaded with the
 * positioned YAML tree into a plain struct. Every problem is reported as
 * "FILE:LINE:COL: message", all of them, then loading fails. Unknown keys are
 * errors so that a typo never silently disables a rule.
 */
#ifndef GITGATE_POLICY_H
#define GITGATE_POLICY_H

#include "gitgate/regex.h"
#include "gitgate/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { GG_MODE_ENFORCE, GG_MODE_WARN } gg_mode;
typedef enum { GG_SEV_ERROR, GG_SEV_WARNING, GG_SEV_NOTE } gg_severity;

typedef struct {
	char **match; /* ref globs; the entry applies when any matches */
	size_t nmatch;
	bool deny_delete;
	bool deny_force_push;
	bool deny_update;
	gg_regex *name_pattern; /* NULL when unset */
	unsigned line;          /* where the entry starts in the policy file */
} gg_ref_rule;

typedef struct {
	gg_regex *message_pattern;      /* NULL when unset */
	unsigned max_subject_length;    /* 0: no limit */
	gg_regex *author_email_pattern; /* NULL when unset */
	bool require_signoff;
	/* require_signature: every commit signed by a key of this trust; NULL when unset. */
	struct gg_trust *signature;
	bool match_committer;
} gg_commit_rules;

/* tags: require_signature (true: with the commits' trust, or a trust of its own). */
typedef struct {
	bool require_signature;
	struct gg_trust *signature; /* owned; NULL: the commits' */
	bool match_tagger;
} gg_tag_rules;

typedef struct {
	uint64_t max_size; /* bytes; 0: no limit */
	char **deny_paths; /* globs */
	size_t ndeny_paths;
	/* `secrets: true` or a map (generic, config, allow_inline); NULL: off. */
	struct gg_secrets *secrets;
} gg_file_rules;

/* The manifests: section; its fields belong to the manifest engine (manifest.h). */
typedef struct gg_mpolicy gg_mpolicy;

typedef struct {
	char *path; /* the file it was loaded from */
	int version;
	gg_mode mode;
	gg_ref_rule *refs;
	size_t nrefs;
	gg_commit_rules commits;
	gg_tag_rules tags;
	gg_file_rules files;
	gg_mpolicy *manifests; /* NULL when the policy has no manifests: section */
	char **bypass_users;
	size_t nbypass_users;
	/* manifests.deletions.allow_users: who may push -o gitgate.allow=deletion. */
	char **deletion_users;
	size_t ndeletion_users;
	bool deletion_users_set; /* false: the bypass users may */
	/* The parsed file, kept while the policy lives: the manifest engine may borrow nodes. */
	struct gg_yfile *src;
} gg_policy;

/*
 * Load and validate a policy file. On success *out is owned by the caller
 * (gg_policy_free). On failure returns -1 with every problem in diag, as
 * "FILE:LINE:COL: message" (I/O errors as "FILE: message").
 */
int gg_policy_load(gg_policy **out, const char *path, gg_diag *diag);
/* The same from memory; `file` names the source in messages. */
int gg_policy_parse(gg_policy **out, const char *file, const char *data, size_t len, gg_diag *diag);
void gg_policy_free(gg_policy *p);

#endif
