/*
 * The policy loader: the positioned YAML tree is walked once, every key is
 * checked against the schema below, and every problem is collected with its
 * position before loading fails. Regexes are compiled here, once.
 */
#include "gitgate/policy.h"
#include "gitgate/manifest.h"
#include "gitgate/secrets.h"
#include "gitgate/verify.h"
#include "gitgate/yload.h"
#include "gitgate/ytree.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A policy is small; anything bigger is a mistake, not a policy. */
#define POLICY_MAX_BYTES (1024 * 1024)

static const char *type_name(const gg_ynode *n)
{
	return n ? gg_ytype_name(n->type) : "null";
}

static bool get_bool(gg_yload *c, const gg_ynode *n, const char *where, bool *out)
{
	if (n == NULL)
		return true;
	if (n->type != GG_Y_BOOL) {
		gg_yload_err(c, n, "%s: expected true or false, got %s", where, type_name(n));
		return false;
	}
	*out = n->boolean;
	return true;
}

static void get_regex(gg_yload *c, const gg_ynode *n, const char *where, gg_regex **out)
{
	if (n != NULL)
		(void)gg_yload_regex(c, n, where, out);
}

/* A string or a list of strings; *out gets copies. */
static void get_string_list(gg_yload *c, const gg_ynode *n, const char *where, char ***out,
                            size_t *nout, bool allow_single)
{
	if (n->type == GG_Y_STRING && allow_single && n->len == 0) {
		gg_yload_err(c, n, "%s: expected a non-empty string", where);
		return;
	}
	if (n->type == GG_Y_STRING && allow_single) {
		*out = gg_calloc(1, sizeof(char *));
		(*out)[0] = gg_strdup(n->str);
		*nout = 1;
		return;
	}
	if (n->type != GG_Y_SEQ) {
		gg_yload_err(c, n, "%s: expected %s, got %s", where,
		             allow_single ? "a string or a list of strings" : "a list of strings",
		             type_name(n));
		return;
	}
	char **v = gg_calloc(n->n ? n->n : 1, sizeof(char *));
	size_t k = 0;
	for (uint32_t i = 0; i < n->n; i++) {
		const gg_ynode *it = n->items[i];
		if (it->type != GG_Y_STRING || it->len == 0) {
			gg_yload_err(c, it, "%s[%u]: expected a non-empty string, got %s", where, i,
			             it->type == GG_Y_STRING ? "an empty string" : type_name(it));
			continue;
		}
		v[k++] = gg_strdup(it->str);
	}
	*out = v;
	*nout = k;
}

static bool is_map_or_null(gg_yload *c, const gg_ynode *n, const char *where)
{
	if (n->type == GG_Y_NULL)
		return false;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "%s: expected a mapping, got %s", where, type_name(n));
		return false;
	}
	return true;
}

static void parse_ref_rule(gg_yload *c, const gg_ynode *n, unsigned idx, gg_ref_rule *rr)
{
	static const char *const keys[] = {"match",       "deny_delete",  "deny_force_push",
	                                   "deny_update", "name_pattern", NULL};
	char where[64];
	snprintf(where, sizeof(where), "refs[%u]", idx);
	rr->line = n->line;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "%s: expected a mapping, got %s", where, type_name(n));
		return;
	}
	gg_yload_check_keys(c, n, where, keys);
	char sub[96];
	const gg_ynode *m = gg_ymap_get(n, "match");
	snprintf(sub, sizeof(sub), "%s.match", where);
	if (m == NULL)
		gg_yload_err(c, n, "%s: 'match' is required", where);
	else
		get_string_list(c, m, sub, &rr->match, &rr->nmatch, true);
	if (m && m->type == GG_Y_SEQ && m->n == 0)
		gg_yload_err(c, m, "%s: needs at least one glob", sub);
	snprintf(sub, sizeof(sub), "%s.deny_delete", where);
	get_bool(c, gg_ymap_get(n, "deny_delete"), sub, &rr->deny_delete);
	snprintf(sub, sizeof(sub), "%s.deny_force_push", where);
	get_bool(c, gg_ymap_get(n, "deny_force_push"), sub, &rr->deny_force_push);
	snprintf(sub, sizeof(sub), "%s.deny_update", where);
	get_bool(c, gg_ymap_get(n, "deny_update"), sub, &rr->deny_update);
	snprintf(sub, sizeof(sub), "%s.name_pattern", where);
	get_regex(c, gg_ymap_get(n, "name_pattern"), sub, &rr->name_pattern);
}

static void parse_refs(gg_yload *c, const gg_ynode *n, gg_policy *p)
{
	if (n->type == GG_Y_NULL)
		return;
	if (n->type != GG_Y_SEQ) {
		gg_yload_err(c, n, "refs: expected a list of rules, got %s", type_name(n));
		return;
	}
	p->refs = gg_calloc(n->n ? n->n : 1, sizeof(*p->refs));
	p->nrefs = n->n;
	for (uint32_t i = 0; i < n->n; i++)
		parse_ref_rule(c, n->items[i], i, &p->refs[i]);
}

static char *beside(const char *policy_file, const char *path);

/*
 * require_signature: {allowed_signers: FILE, gpg_keyring: FILE, match_committer: BOOL}.
 * The key files are read here, once per run, with their own positions in errors.
 */
static void parse_signature(gg_yload *c, const gg_ynode *n, const char *where,
                            struct gg_trust **out, bool *match)
{
	static const char *const keys[] = {"allowed_signers", "gpg_keyring", "match_committer",
	                                   NULL};
	char sub[96];
	char *files[2] = {NULL, NULL};
	const gg_ynode *at[2] = {NULL, NULL};
	static const char *const names[2] = {"allowed_signers", "gpg_keyring"};
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n,
		             "%s: expected a mapping (allowed_signers, gpg_keyring, "
		             "match_committer), got %s",
		             where, type_name(n));
		return;
	}
	gg_yload_check_keys(c, n, where, keys);
	snprintf(sub, sizeof(sub), "%s.match_committer", where);
	get_bool(c, gg_ymap_get(n, "match_committer"), sub, match);
	for (int i = 0; i < 2; i++) {
		const gg_ynode *f = gg_ymap_get(n, names[i]);
		if (f == NULL)
			continue;
		if (f->type != GG_Y_STRING || f->len == 0) {
			gg_yload_err(c, f, "%s.%s: expected a file name, got %s", where, names[i],
			             type_name(f));
			continue;
		}
		files[i] = beside(c->file, f->str);
		at[i] = f;
	}
	if (files[0] == NULL && files[1] == NULL) {
		if (gg_ymap_get(n, "allowed_signers") == NULL &&
		    gg_ymap_get(n, "gpg_keyring") == NULL)
			gg_yload_err(c, n, "%s: needs allowed_signers, gpg_keyring or both", where);
		return;
	}
	size_t before = c->diag->n;
	if (gg_trust_load(out, files[0], files[1], c->diag) < 0) {
		*out = NULL;
		const gg_ynode *blame = at[0] ? at[0] : at[1];
		if (c->diag->n == before)
			gg_yload_err(c, blame, "%s: cannot load the trusted keys", where);
		else
			gg_yload_err(c, blame, "%s: the key files have the errors above", where);
	}
	free(files[0]);
	free(files[1]);
}

static void parse_tags(gg_yload *c, const gg_ynode *n, gg_policy *p)
{
	static const char *const keys[] = {"require_signature", NULL};
	if (!is_map_or_null(c, n, "tags"))
		return;
	gg_yload_check_keys(c, n, "tags", keys);
	const gg_ynode *r = gg_ymap_get(n, "require_signature");
	if (r == NULL)
		return;
	if (r->type == GG_Y_BOOL) {
		p->tags.require_signature = r->boolean;
		if (r->boolean && p->commits.signature == NULL)
			gg_yload_err(c, r,
			             "tags.require_signature: true uses the keys of "
			             "commits.require_signature, which has none; give the keys "
			             "here (allowed_signers, gpg_keyring)");
		return;
	}
	p->tags.require_signature = true;
	parse_signature(c, r, "tags.require_signature", &p->tags.signature, &p->tags.match_tagger);
}

static void parse_commits(gg_yload *c, const gg_ynode *n, gg_commit_rules *cr)
{
	static const char *const keys[] = {"message_pattern",      "max_subject_length",
	                                   "author_email_pattern", "require_signoff",
	                                   "require_signature",    NULL};
	if (!is_map_or_null(c, n, "commits"))
		return;
	gg_yload_check_keys(c, n, "commits", keys);
	get_regex(c, gg_ymap_get(n, "message_pattern"), "commits.message_pattern",
	          &cr->message_pattern);
	get_regex(c, gg_ymap_get(n, "author_email_pattern"), "commits.author_email_pattern",
	          &cr->author_email_pattern);
	get_bool(c, gg_ymap_get(n, "require_signoff"), "commits.require_signoff",
	         &cr->require_signoff);
	const gg_ynode *sig = gg_ymap_get(n, "require_signature");
	if (sig && !(sig->type == GG_Y_BOOL && !sig->boolean))
		parse_signature(c, sig, "commits.require_signature", &cr->signature,
		                &cr->match_committer);
	const gg_ynode *len = gg_ymap_get(n, "max_subject_length");
	if (len) {
		if (len->type != GG_Y_INT || len->num < 1 || len->num > 100000 ||
		    len->num != floor(len->num))
			gg_yload_err(
			    c, len,
			    "commits.max_subject_length: expected a positive whole number, got %s",
			    len->type == GG_Y_INT ? len->str : type_name(len));
		else
			cr->max_subject_length = (unsigned)len->num;
	}
}

/* A relative config path is read from the policy file's directory. */
static char *beside(const char *policy_file, const char *path)
{
	const char *slash = strrchr(policy_file, '/');
	if (path[0] == '/' || slash == NULL)
		return gg_strdup(path);
	return gg_printf("%.*s/%s", (int)(slash - policy_file), policy_file, path);
}

/* `secrets: true|false` or `secrets: {generic: error|warning|off, config: FILE, allow_inline:
 * BOOL}`. */
static void parse_secrets(gg_yload *c, const gg_ynode *n, gg_file_rules *fr)
{
	static const char *const keys[] = {"generic", "config", "allow_inline", NULL};
	gg_secrets_opts o = {GG_SECRETS_ERROR, false, NULL};
	char *config = NULL;
	const gg_ynode *at = n;
	if (n->type == GG_Y_BOOL) {
		if (!n->boolean)
			return;
	} else if (n->type == GG_Y_MAP) {
		gg_yload_check_keys(c, n, "files.secrets", keys);
		const gg_ynode *g = gg_ymap_get(n, "generic");
		if (g) {
			if (gg_yis(g, "error"))
				o.generic = GG_SECRETS_ERROR;
			else if (gg_yis(g, "warning"))
				o.generic = GG_SECRETS_WARNING;
			else if (gg_yis(g, "off") || (g->type == GG_Y_BOOL && !g->boolean))
				o.generic = GG_SECRETS_OFF;
			else
				gg_yload_err(
				    c, g,
				    "files.secrets.generic: expected error, warning or off, got "
				    "'%s'",
				    g->str ? g->str : type_name(g));
		}
		get_bool(c, gg_ymap_get(n, "allow_inline"), "files.secrets.allow_inline",
		         &o.allow_inline);
		const gg_ynode *cf = gg_ymap_get(n, "config");
		if (cf) {
			if (cf->type != GG_Y_STRING || cf->len == 0)
				gg_yload_err(c, cf,
				             "files.secrets.config: expected a file name, got %s",
				             type_name(cf));
			else {
				config = beside(c->file, cf->str);
				at = cf;
			}
		}
	} else {
		gg_yload_err(c, n,
		             "files.secrets: expected true, false or a mapping (generic, config, "
		             "allow_inline), got %s",
		             type_name(n));
		return;
	}
	o.config = config;
	size_t before = c->diag->n;
	if (gg_secrets_new(&fr->secrets, &o, c->diag) < 0) {
		fr->secrets = NULL;
		if (c->diag->n == before)
			gg_yload_err(c, at, "files.secrets: cannot build the secret scanner");
		else
			gg_yload_err(c, at, "files.secrets.config: '%s' has the errors above",
			             config);
	}
	free(config);
}

static void parse_files(gg_yload *c, const gg_ynode *n, gg_file_rules *fr)
{
	static const char *const keys[] = {"max_size", "deny_paths", "secrets", NULL};
	if (!is_map_or_null(c, n, "files"))
		return;
	gg_yload_check_keys(c, n, "files", keys);
	const gg_ynode *sz = gg_ymap_get(n, "max_size");
	if (sz) {
		if ((sz->type != GG_Y_STRING && sz->type != GG_Y_INT) ||
		    gg_parse_size(&fr->max_size, sz->str) < 0 || fr->max_size == 0) {
			gg_yload_err(
			    c, sz,
			    "files.max_size: expected a size such as 512KiB, 1MiB or 1048576, got "
			    "'%s'",
			    sz->str ? sz->str : type_name(sz));
			fr->max_size = 0;
		}
	}
	const gg_ynode *dp = gg_ymap_get(n, "deny_paths");
	if (dp)
		get_string_list(c, dp, "files.deny_paths", &fr->deny_paths, &fr->ndeny_paths,
		                false);
	const gg_ynode *sec = gg_ymap_get(n, "secrets");
	if (sec)
		parse_secrets(c, sec, fr);
}

static void parse_bypass(gg_yload *c, const gg_ynode *n, gg_policy *p)
{
	static const char *const keys[] = {"users", NULL};
	if (!is_map_or_null(c, n, "bypass"))
		return;
	gg_yload_check_keys(c, n, "bypass", keys);
	const gg_ynode *u = gg_ymap_get(n, "users");
	if (u)
		get_string_list(c, u, "bypass.users", &p->bypass_users, &p->nbypass_users, false);
}

/*
 * manifests.deletions: who may allow resource deletions with a push option.
 * Read here, beside bypass.users, since both decide what a pusher may
 * override; the rest of manifests: belongs to the manifest engine.
 */
static void parse_deletions(gg_yload *c, const gg_ynode *n, gg_policy *p)
{
	static const char *const keys[] = {"allow_users", NULL};
	if (!is_map_or_null(c, n, "manifests.deletions"))
		return;
	gg_yload_check_keys(c, n, "manifests.deletions", keys);
	const gg_ynode *u = gg_ymap_get(n, "allow_users");
	if (u) {
		get_string_list(c, u, "manifests.deletions.allow_users", &p->deletion_users,
		                &p->ndeletion_users, false);
		p->deletion_users_set = true;
	}
}

static void parse_root(gg_yload *c, const gg_ynode *root, gg_policy *p)
{
	static const char *const keys[] = {"version", "mode",      "refs",   "commits", "tags",
	                                   "files",   "manifests", "bypass", NULL};
	if (root == NULL || root->type != GG_Y_MAP) {
		gg_yload_err(c, root, "a policy is a mapping with at least 'version: 1'");
		return;
	}
	gg_yload_check_keys(c, root, "policy", keys);
	const gg_ynode *v = gg_ymap_get(root, "version");
	if (v == NULL)
		gg_yload_err(c, root, "'version: 1' is required");
	else if (v->type != GG_Y_INT || v->num != 1)
		gg_yload_err(c, v, "version: only version 1 is supported, got '%s'",
		             v->str ? v->str : type_name(v));
	else
		p->version = 1;
	const gg_ynode *n = gg_ymap_get(root, "mode");
	if (n) {
		if (gg_yis(n, "enforce"))
			p->mode = GG_MODE_ENFORCE;
		else if (gg_yis(n, "warn"))
			p->mode = GG_MODE_WARN;
		else
			gg_yload_err(c, n, "mode: expected 'enforce' or 'warn', got '%s'",
			             n->str ? n->str : type_name(n));
	}
	if ((n = gg_ymap_get(root, "refs")))
		parse_refs(c, n, p);
	if ((n = gg_ymap_get(root, "commits")))
		parse_commits(c, n, &p->commits);
	if ((n = gg_ymap_get(root, "tags")))
		parse_tags(c, n, p);
	if ((n = gg_ymap_get(root, "files")))
		parse_files(c, n, &p->files);
	if ((n = gg_ymap_get(root, "bypass")))
		parse_bypass(c, n, p);
	if ((n = gg_ymap_get(root, "manifests")) && n->type == GG_Y_MAP &&
	    gg_ymap_get(n, "deletions"))
		parse_deletions(c, gg_ymap_get(n, "deletions"), p);
	if ((n = gg_ymap_get(root, "manifests")) && n->type != GG_Y_NULL) {
		if (gg_mpolicy_parse(&p->manifests, c->file, n, c->diag) < 0)
			p->manifests = NULL;
	}
}

int gg_policy_parse(gg_policy **out, const char *file, const char *data, size_t len, gg_diag *diag)
{
	*out = NULL;
	gg_yload c = {file, diag, 0};
	size_t before = diag->n;
	gg_policy *p = gg_calloc(1, sizeof(*p));
	p->path = gg_strdup(file);
	gg_ylimits lim = gg_ylimits_default;
	lim.max_bytes = POLICY_MAX_BYTES;
	gg_yparse(&p->src, data, len, GG_YFMT_YAML, &lim);
	for (size_t i = 0; i < gg_yfile_nproblems(p->src); i++) {
		const gg_yproblem *pr = gg_yfile_problem(p->src, i);
		gg_diag_add(diag, file, pr->line, pr->col, "%s", pr->msg);
	}
	if (diag->n == before) {
		if (gg_yfile_ndocs(p->src) > 1) {
			const gg_ynode *d = gg_yfile_doc(p->src, 1);
			gg_yload_err(&c, d, "a policy file holds one YAML document");
		}
		parse_root(&c, gg_yfile_doc(p->src, 0), p);
	}
	if (diag->n != before) {
		gg_policy_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int gg_policy_load(gg_policy **out, const char *path, gg_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	if (gg_read_file(&data, &len, path, POLICY_MAX_BYTES) < 0) {
		gg_diag_addf(diag, "%s: %s", path,
		             errno == EFBIG ? "policy file is over 1 MiB" : strerror(errno));
		return -1;
	}
	int rc = gg_policy_parse(out, path, data, len, diag);
	free(data);
	return rc;
}

void gg_policy_free(gg_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nrefs; i++) {
		gg_strv_free(p->refs[i].match, p->refs[i].nmatch);
		gg_regex_free(p->refs[i].name_pattern);
	}
	free(p->refs);
	gg_regex_free(p->commits.message_pattern);
	gg_regex_free(p->commits.author_email_pattern);
	gg_trust_free(p->commits.signature);
	gg_trust_free(p->tags.signature);
	gg_strv_free(p->files.deny_paths, p->files.ndeny_paths);
	gg_secrets_free(p->files.secrets);
	gg_strv_free(p->bypass_users, p->nbypass_users);
	gg_strv_free(p->deletion_users, p->ndeletion_users);
	gg_mpolicy_free(p->manifests);
	gg_yfile_free(p->src);
	free(p->path);
	free(p);
}
