/*
 * The policy's refs: entries applied to one ref update, on the ref that
 * really moves: receive-pack writes through a symbolic ref to its target.
 * Severities are errors; warn mode is applied once, at the end, by the gate.
 */
#include "gitgate/refrules.h"
#include "gitgate/glob.h"

#include <stdlib.h>
#include <string.h>

struct ctx {
	git_repository *repo;
	const gg_policy *p;
	gg_report *r;
};

static bool ref_matches(const gg_ref_rule *rr, const char *ref)
{
	for (size_t i = 0; i < rr->nmatch; i++)
		if (gg_glob_match(rr->match[i], ref))
			return true;
	return false;
}

static int peel_commit(git_object **out, struct ctx *c, const git_oid *id)
{
	git_object *o = NULL;
	*out = NULL;
	if (git_object_lookup(&o, c->repo, id, GIT_OBJECT_ANY) < 0)
		return -1;
	int rc = git_object_peel(out, o, GIT_OBJECT_COMMIT);
	git_object_free(o);
	return rc;
}

static bool fast_forward(struct ctx *c, const git_oid *old, const git_oid *new)
{
	git_object *o = NULL, *n = NULL;
	bool ff = false;
	if (git_oid_equal(old, new))
		return true;
	/* Anything that does not peel to commits on both sides is a rewrite. */
	if (peel_commit(&o, c, old) == 0 && peel_commit(&n, c, new) == 0)
		ff = git_oid_equal(git_object_id(o), git_object_id(n)) ||
		     git_graph_descendant_of(c->repo, git_object_id(n), git_object_id(o)) == 1;
	git_object_free(o);
	git_object_free(n);
	return ff;
}

/*
 * Ref rules on `ref`, the ref that moves. `pushed` is the name the push gave
 * when that was a symbolic ref to `ref` (else NULL): the messages say so.
 */
static void check_ref_rules(struct ctx *c, const char *ref, const char *pushed, const git_oid *old,
                            const git_oid *new, bool create, bool del)
{
	gg_loc loc = {.ref = ref};
	char *via = pushed ? gg_printf(" (pushed as %s, a symbolic ref)", pushed) : gg_strdup("");
	for (size_t i = 0; i < c->p->nrefs; i++) {
		const gg_ref_rule *rr = &c->p->refs[i];
		if (!ref_matches(rr, ref))
			continue;
		bool reported = false;
		if (del && rr->deny_delete) {
			gg_report_add(c->r, "deny-delete", GG_SEV_ERROR, &loc,
			              "deleting this ref is not allowed%s", via);
			reported = true;
		}
		if (!create && rr->deny_update && !reported && (del || !git_oid_equal(old, new)))
			gg_report_add(c->r, "deny-update", GG_SEV_ERROR, &loc,
			              "this ref already exists and may not be %s%s",
			              del ? "deleted" : "moved", via);
		if (!create && !del && rr->deny_force_push && !fast_forward(c, old, new))
			gg_report_add(c->r, "deny-force-push", GG_SEV_ERROR, &loc,
			              "non-fast-forward update (force push) is not allowed%s", via);
		int m = create && rr->name_pattern
		            ? gg_regex_exec(rr->name_pattern, ref, strlen(ref))
		            : GG_REGEX_MATCH;
		if (m == GG_REGEX_NOMATCH)
			gg_report_add(c->r, "ref-name", GG_SEV_ERROR, &loc,
			              "new ref name does not match name_pattern '%s'%s",
			              gg_regex_source(rr->name_pattern), via);
		else if (m == GG_REGEX_ERROR)
			gg_report_add(c->r, "ref-name", GG_SEV_ERROR, &loc,
			              "name_pattern '%s' could not be evaluated: %s%s",
			              gg_regex_source(rr->name_pattern),
			              gg_regex_error(rr->name_pattern), via);
	}
	free(via);
}

/* git follows at most this many symbolic refs in a chain (SYMREF_MAXDEPTH). */
#define REFRULES_SYMREF_DEPTH 5

/*
 * The ref an update of `ref` really moves: receive-pack writes through a
 * symbolic ref to its target, and deleting one deletes the target and leaves
 * the name dangling. *out is the target's name (allocated) when ref is a
 * symbolic ref, else NULL; *dangling when the chain ends nowhere.
 */
static void resolve_symref(struct ctx *c, const char *ref, char **out, bool *dangling)
{
	git_reference *r = NULL;
	*out = NULL;
	*dangling = false;
	if (git_reference_lookup(&r, c->repo, ref) < 0)
		return;
	for (int depth = 0; r && git_reference_type(r) == GIT_REFERENCE_SYMBOLIC; depth++) {
		if (depth == REFRULES_SYMREF_DEPTH) {
			*dangling = true;
			break;
		}
		free(*out);
		*out = gg_strdup(git_reference_symbolic_target(r));
		git_reference *next = NULL;
		if (git_reference_lookup(&next, c->repo, *out) < 0)
			*dangling = true;
		git_reference_free(r);
		r = next;
	}
	git_reference_free(r);
}

/*
 * A push moves refs, never the links between them: an update of a symbolic
 * ref is checked as one of its target, but deleting it (git would delete the
 * target and leave the name pointing nowhere) or creating a ref through a
 * dangling one is refused.
 */
static void check_symref(struct ctx *c, const char *ref, const char *target, bool dangling,
                         bool del)
{
	gg_loc loc = {.ref = ref};
	if (del)
		gg_report_add(c->r, "symbolic-ref", GG_SEV_ERROR, &loc,
		              "%s is a symbolic ref to %s; a push may not delete or retarget it",
		              ref, target);
	else if (dangling)
		gg_report_add(c->r, "symbolic-ref", GG_SEV_ERROR, &loc,
		              "%s is a symbolic ref to %s, which does not exist; a push may not "
		              "create a ref through it",
		              ref, target);
}

void gg_refrules_check(git_repository *repo, const gg_policy *p, gg_report *r, const char *ref,
                       const git_oid *old, const git_oid *new, bool create, bool del)
{
	struct ctx c = {repo, p, r};
	char *target = NULL;
	bool dangling;
	resolve_symref(&c, ref, &target, &dangling);
	if (target)
		check_symref(&c, ref, target, dangling, del);
	check_ref_rules(&c, target ? target : ref, target ? ref : NULL, old, new, create, del);
	free(target);
}
