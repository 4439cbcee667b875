#include "gitgate/manifest.h"
#include "gitgate/yload.h"
#include "gitgate/glob.h"
#include "gitgate/mrule.h"
#include "gitgate/schema.h"
#include "gitgate/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define MAX_GLOBS 1000
/* A hostile file must not turn into millions of report lines held in memory. */
#define MAX_FILE_VIOLATIONS 1000

/* One rule of the policy, from a pack or written in the policy, as tuned by overrides. */
struct entry {
	gg_mrule *rule;
	gg_severity sev;
	bool off;
	const char *pack; /* pack name (static), NULL for the policy's own rules */
	size_t pack_index;
};

/*
 * A pack in use. Its `when` says which documents it is about (the Kubernetes
 * pack: documents with an apiVersion or a kind); `applies_to` says the same in
 * words, for the note on a file the pack leaves alone.
 */
struct pack {
	const char *name; /* static */
	gg_mwhen *when;   /* NULL: every document */
	char *applies_to;
};

/* At most this many packs are in use at once; a policy lists each once. */
#define MAX_PACKS 16

struct gg_mpolicy {
	char **paths;
	size_t npaths;
	char **exclude;
	size_t nexclude;
	bool deny_deletion;
	struct entry *rules;
	size_t nrules;
	struct pack packs[MAX_PACKS];
	size_t npacks;
	/* With deny_deletion: the resources of the files checked so far (see memo_*). */
	struct memo *memo;
	gg_schemap *schemas; /* manifests.schemas, NULL when absent */
};

struct memo;
static struct memo *memo_new(void);
static void memo_free(struct memo *m);
static void memo_record(struct memo *m, const char *path, const char *data, size_t len,
                        const gg_yfile *f);

static const char *const manifest_keys[] = {"paths",     "exclude",   "packs",
                                            "rules",     "overrides", "deny_deletion",
                                            "deletions", "schemas",   NULL};

static const char *const pack_keys[] = {"name", "applies_to", "when", "rules", NULL};

static const char *const default_paths[] = {"**/*.yaml", "**/*.yml", "**/*.json"};

/* A glob or a list of globs. */
static int load_globs(gg_yload *l, char ***out, size_t *nout, const gg_ynode *n, const char *name)
{
	uint32_t count = n->type == GG_Y_SEQ ? n->n : 1;
	if (n->type == GG_Y_MAP || count > MAX_GLOBS) {
		gg_yload_err(l, n, "%s must be a glob or a list of globs", name);
		return -1;
	}
	char **v = gg_calloc(count ? count : 1, sizeof(*v));
	size_t k = 0;
	for (uint32_t i = 0; i < count; i++) {
		const gg_ynode *g = n->type == GG_Y_SEQ ? n->items[i] : n;
		if (g->type != GG_Y_STRING || !g->str || !g->len) {
			gg_yload_err(l, g, "%s: expected a glob such as \"clusters/**/*.yaml\"",
			             name);
			continue;
		}
		v[k++] = gg_strdup(g->str);
	}
	*out = v;
	*nout = k;
	return k == count ? 0 : -1;
}

static bool is_pack_name(const gg_ynode *n)
{
	return n && n->type == GG_Y_STRING && n->str;
}

static const gg_mpack_src *find_pack(const char *name)
{
	for (size_t i = 0; i < gg_nmpacks; i++)
		if (gg_mpacks[i].name && !strcmp(gg_mpacks[i].name, name))
			return &gg_mpacks[i];
	return NULL;
}

static struct entry *find_rule(gg_mpolicy *mp, const char *id)
{
	for (size_t i = 0; i < mp->nrules; i++)
		if (!strcmp(gg_mrule_id(mp->rules[i].rule), id))
			return &mp->rules[i];
	return NULL;
}

static void add_rule(gg_mpolicy *mp, gg_mrule *rule, const char *pack)
{
	mp->rules = gg_reallocarray(mp->rules, mp->nrules + 1, sizeof(*mp->rules));
	/* A pack's rules are loaded right after its entry in packs[] is made. */
	size_t pi = pack ? mp->npacks - 1 : SIZE_MAX;
	mp->rules[mp->nrules++] = (struct entry){rule, gg_mrule_severity(rule), false, pack, pi};
}

/* Rules from a `rules:` list; ids must be unique across packs and the policy. */
static void load_rules(gg_yload *l, gg_mpolicy *mp, const gg_ynode *n, const char *pack)
{
	if (n->type != GG_Y_SEQ) {
		gg_yload_err(l, n, "rules must be a list of rules");
		return;
	}
	for (uint32_t i = 0; i < n->n; i++) {
		gg_mrule *rule;
		if (gg_mrule_parse(&rule, l->file, n->items[i], l->diag) < 0) {
			l->errors++;
			continue;
		}
		struct entry *prev = find_rule(mp, gg_mrule_id(rule));
		if (prev) {
			if (prev->pack)
				gg_yload_err(l, n->items[i],
				             "rule id \"%s\" is already used by pack %s",
				             gg_mrule_id(rule), prev->pack);
			else
				gg_yload_err(l, n->items[i],
				             "duplicate rule id \"%s\" (first at line %u)",
				             gg_mrule_id(rule), gg_mrule_line(prev->rule));
			gg_mrule_free(rule);
			continue;
		}
		add_rule(mp, rule, pack);
	}
}

/* A pack is a YAML file with `rules:` (and descriptive keys) compiled into the program. */
static void load_pack(gg_yload *l, gg_mpolicy *mp, const gg_ynode *name_node)
{
	const gg_mpack_src *src = is_pack_name(name_node) ? find_pack(name_node->str) : NULL;
	if (src == NULL) {
		gg_buf known = GG_BUF_INIT;
		for (size_t i = 0; i < gg_nmpacks; i++)
			if (gg_mpacks[i].name)
				gg_buf_printf(&known, "%s%s", known.len ? ", " : "",
				              gg_mpacks[i].name);
		gg_yload_err(l, name_node, "unknown pack \"%s\" (built in: %s)",
		             gg_yis_scalar(name_node) && name_node->str ? name_node->str : "?",
		             known.ptr ? known.ptr : "none");
		gg_buf_free(&known);
		return;
	}
	for (size_t i = 0; i < mp->npacks; i++)
		if (mp->packs[i].name == src->name) {
			gg_yload_err(l, name_node, "pack %s is listed twice", src->name);
			return;
		}
	if (mp->npacks == MAX_PACKS) {
		gg_yload_err(l, name_node, "at most %d packs", MAX_PACKS);
		return;
	}
	char *file = gg_printf("packs/%s.yaml", src->name);
	gg_yload pl = {file, l->diag, 0};
	gg_yfile *f;
	gg_yparse(&f, (const char *)src->data, src->len, GG_YFMT_YAML, NULL);
	for (size_t i = 0; i < gg_yfile_nproblems(f); i++) {
		const gg_yproblem *p = gg_yfile_problem(f, i);
		gg_diag_add(l->diag, file, p->line, p->col, "%s", p->msg);
		pl.errors++;
	}
	const gg_ynode *root = gg_yfile_doc(f, 0);
	const gg_ynode *rules = gg_ymap_get(root, "rules");
	const gg_ynode *when = gg_ymap_get(root, "when");
	const gg_ynode *applies = gg_ymap_get(root, "applies_to");
	struct pack *pk = &mp->packs[mp->npacks++];
	pk->name = src->name;
	if (!pl.errors && root && root->type == GG_Y_MAP)
		gg_yload_check_keys(&pl, root, "a pack", pack_keys);
	if (!pl.errors && rules == NULL)
		gg_yload_err(&pl, root, "a pack needs a rules: list");
	if (!pl.errors && when)
		(void)gg_mwhen_load(&pk->when, &pl, when);
	pk->applies_to = gg_strdup(
	    applies && gg_yis_scalar(applies) && applies->str ? applies->str : "every document");
	if (!pl.errors)
		load_rules(&pl, mp, rules, src->name);
	l->errors += pl.errors;
	gg_yfile_free(f);
	free(file);
}

static void load_overrides(gg_yload *l, gg_mpolicy *mp, const gg_ynode *n)
{
	if (n->type != GG_Y_MAP) {
		gg_yload_err(l, n, "overrides must map rule ids to off, warning or error");
		return;
	}
	for (uint32_t i = 0; i < n->n; i++) {
		const gg_ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		struct entry *e = gg_yis_scalar(k) && k->str ? find_rule(mp, k->str) : NULL;
		if (e == NULL) {
			gg_yload_err(l, k, "overrides: unknown rule id \"%s\"",
			             k->str ? k->str : "?");
			continue;
		}
		if (gg_yis(v, "off")) {
			e->off = true;
		} else if (gg_yis(v, "warning")) {
			e->off = false;
			e->sev = GG_SEV_WARNING;
		} else if (gg_yis(v, "error")) {
			e->off = false;
			e->sev = GG_SEV_ERROR;
		} else {
			gg_yload_err(l, v, "override for %s must be off, warning or error", k->str);
		}
	}
}

int gg_mpolicy_parse(gg_mpolicy **out, const char *file, const gg_ynode *node, gg_diag *diag)
{
	gg_yload l = {file, diag, 0};
	gg_mpolicy *mp = gg_calloc(1, sizeof(*mp));
	*out = NULL;
	if (node == NULL || node->type != GG_Y_MAP) {
		gg_yload_err(&l, node,
		             "manifests must be a map (paths, exclude, packs, rules, overrides, "
		             "deny_deletion, schemas)");
		goto done;
	}
	const gg_ynode *paths = NULL, *exclude = NULL, *packs = NULL, *rules = NULL,
	               *overrides = NULL;
	for (uint32_t i = 0; i < node->n; i++) {
		const gg_ynode *k = node->items[2 * i], *v = node->items[2 * i + 1];
		if (gg_yis(k, "paths")) {
			paths = v;
		} else if (gg_yis(k, "exclude")) {
			exclude = v;
		} else if (gg_yis(k, "packs")) {
			packs = v;
		} else if (gg_yis(k, "rules")) {
			rules = v;
		} else if (gg_yis(k, "overrides")) {
			overrides = v;
		} else if (gg_yis(k, "deletions")) {
			/* allow_users: read by the policy loader, with bypass.users */
		} else if (gg_yis(k, "schemas")) {
			if (gg_schemap_parse(&mp->schemas, file, v, diag) < 0)
				l.errors++;
		} else if (gg_yis(k, "deny_deletion")) {
			if (v->type != GG_Y_BOOL)
				gg_yload_err(&l, v, "deny_deletion must be true or false");
			else
				mp->deny_deletion = v->boolean;
		} else {
			gg_yload_unknown_key(&l, k, "manifests", manifest_keys);
		}
	}
	if (paths) {
		(void)load_globs(&l, &mp->paths, &mp->npaths, paths, "paths");
	} else {
		mp->npaths = GG_ARRAY_LEN(default_paths);
		mp->paths = gg_calloc(mp->npaths, sizeof(*mp->paths));
		for (size_t i = 0; i < mp->npaths; i++)
			mp->paths[i] = gg_strdup(default_paths[i]);
	}
	if (exclude)
		(void)load_globs(&l, &mp->exclude, &mp->nexclude, exclude, "exclude");
	if (packs && packs->type == GG_Y_SEQ) {
		for (uint32_t i = 0; i < packs->n; i++)
			load_pack(&l, mp, packs->items[i]);
	} else if (packs && gg_yis_scalar(packs)) {
		load_pack(&l, mp, packs);
	} else if (packs) {
		gg_yload_err(&l, packs, "packs must be a list of pack names");
	}
	if (rules)
		load_rules(&l, mp, rules, NULL);
	if (overrides)
		load_overrides(&l, mp, overrides);
	if (mp->deny_deletion)
		mp->memo = memo_new();
done:
	if (l.errors) {
		gg_mpolicy_free(mp);
		return -1;
	}
	*out = mp;
	return 0;
}

void gg_mpolicy_free(gg_mpolicy *mp)
{
	if (mp == NULL)
		return;
	gg_strv_free(mp->paths, mp->npaths);
	gg_strv_free(mp->exclude, mp->nexclude);
	for (size_t i = 0; i < mp->nrules; i++)
		gg_mrule_free(mp->rules[i].rule);
	free(mp->rules);
	for (size_t i = 0; i < mp->npacks; i++) {
		gg_mwhen_free(mp->packs[i].when);
		free(mp->packs[i].applies_to);
	}
	memo_free(mp->memo);
	gg_schemap_free(mp->schemas);
	free(mp);
}

bool gg_mpolicy_selects(const gg_mpolicy *mp, const char *path)
{
	if (mp == NULL || path == NULL)
		return false;
	bool hit = false;
	for (size_t i = 0; i < mp->npaths && !hit; i++)
		hit = gg_glob_match(mp->paths[i], path);
	for (size_t i = 0; i < mp->nexclude && hit; i++)
		if (gg_glob_match(mp->exclude[i], path))
			hit = false;
	return hit;
}

bool gg_mpolicy_deny_deletion(const gg_mpolicy *mp)
{
	return mp && mp->deny_deletion;
}

static bool selects(const void *mp, const char *path)
{
	return gg_mpolicy_selects(mp, path);
}

void gg_manifest_set_tree(const gg_mpolicy *mp, git_repository *repo, const git_tree *tree)
{
	if (mp)
		gg_schemap_set_tree(mp->schemas, repo, tree, selects, mp);
}

void gg_manifest_set_dir(const gg_mpolicy *mp, const char *root)
{
	if (mp)
		gg_schemap_set_dir(mp->schemas, root, selects, mp);
}

/* Parser messages may quote a key from the file: keep them on one line. */
static char *one_line(const char *s)
{
	gg_buf b = GG_BUF_INIT;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			gg_buf_printf(&b, "\\x%02x", c);
		else
			gg_buf_putc(&b, (char)c);
	}
	return gg_buf_detach(&b);
}

/*
 * A rendered stream (helm template, kustomize build) names the file each
 * document came from in a "# Source: PATH" comment before it. The comments
 * are kept in order of their lines.
 */
#define MAX_SOURCES 100000

struct source {
	uint32_t line;
	char *path; /* one line, control characters escaped */
};

struct sources {
	struct source *v;
	size_t n;
};

static void sources_scan(struct sources *s, const char *data, size_t len)
{
	static const char tag[] = "# Source: ";
	const size_t tlen = sizeof(tag) - 1;
	uint32_t line = 1;
	for (size_t i = 0; i < len && s->n < MAX_SOURCES;) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - data) : len;
		size_t e = end;
		while (e > i && (data[e - 1] == '\r' || data[e - 1] == ' '))
			e--;
		if (e - i > tlen && !memcmp(data + i, tag, tlen)) {
			char *raw = gg_strndup(data + i + tlen, e - i - tlen);
			s->v = gg_reallocarray(s->v, s->n + 1, sizeof(*s->v));
			s->v[s->n++] = (struct source){line, one_line(raw)};
			free(raw);
		}
		i = end + 1;
		line++;
	}
}

static void sources_free(struct sources *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
}

/*
 * The file named for what sits at `line`: the last Source comment above it
 * and below `after` (the previous document's start), else `fallback`.
 */
static const char *source_at(const struct sources *s, uint32_t line, uint32_t after,
                             const char *fallback)
{
	const char *found = fallback;
	for (size_t i = 0; i < s->n && s->v[i].line < line; i++)
		if (s->v[i].line > after)
			found = s->v[i].path;
	return found;
}

/* gitgate's own files (a policy, a JSON or SARIF report) are never manifests. */
static bool is_gitgate_file(const gg_ynode *doc)
{
	static const char *const policy_keys[] = {"version", "mode",      "refs",  "commits",
	                                          "files",   "manifests", "bypass"};
	if (doc == NULL)
		return false;
	if (doc->type == GG_Y_SEQ) {
		/* A JSON report: a list of {rule, severity, ..., message}. */
		for (uint32_t i = 0; i < doc->n; i++)
			if (!gg_ymap_get(doc->items[i], "rule") ||
			    !gg_ymap_get(doc->items[i], "severity") ||
			    !gg_ymap_get(doc->items[i], "message"))
				return false;
		return doc->n > 0;
	}
	if (doc->type != GG_Y_MAP)
		return false;
	const gg_ynode *runs = gg_ymap_get(doc, "runs");
	if (runs && runs->type == GG_Y_SEQ && runs->n > 0) {
		const gg_ynode *tool = gg_ymap_get(runs->items[0], "tool");
		return gg_yis(gg_ymap_get(gg_ymap_get(tool, "driver"), "name"), "gitgate");
	}
	if (!gg_ymap_get(doc, "version") || gg_ymap_get(doc, "apiVersion") ||
	    gg_ymap_get(doc, "kind"))
		return false;
	for (uint32_t i = 0; i < doc->n; i++) {
		bool known = false;
		for (size_t j = 0; j < GG_ARRAY_LEN(policy_keys) && !known; j++)
			known = gg_yis(doc->items[2 * i], policy_keys[j]);
		if (!known)
			return false;
	}
	return doc->n > 1;
}

/* A map used as a key: what YAML makes of an unquoted "{{ .Values.x }}". */
static bool has_complex_key(const gg_ynode *n, int depth)
{
	if (n == NULL || depth > 64 || (n->type != GG_Y_MAP && n->type != GG_Y_SEQ))
		return false;
	uint32_t count = n->type == GG_Y_MAP ? 2 * n->n : n->n;
	for (uint32_t i = 0; i < count; i++) {
		const gg_ynode *c = n->items[i];
		if (n->type == GG_Y_MAP && i % 2 == 0 &&
		    (c->type == GG_Y_MAP || c->type == GG_Y_SEQ))
			return true;
		if (has_complex_key(c, depth + 1))
			return true;
	}
	return false;
}

/*
 * A template (Go templates as Helm writes them, outside a chart): template
 * markers that YAML cannot read as text. Quoted markers ("{{ $labels.x }}" in
 * an alert rule) are plain strings and leave the file a manifest. On true,
 * *line and *col say where the first marker is.
 */
static bool is_template(const char *data, size_t len, const gg_yfile *f, uint32_t *line,
                        uint32_t *col)
{
	/* memchr runs through a file without '{' at memory speed; memmem costs more. */
	const char *m = NULL, *end = data + len;
	for (const char *p = data; p + 1 < end && !m; p++) {
		p = memchr(p, '{', (size_t)(end - p) - 1);
		if (p == NULL)
			break;
		if (p[1] == '{')
			m = p;
	}
	if (m == NULL)
		return false;
	bool broken = false;
	for (size_t i = 0; i < gg_yfile_nproblems(f) && !broken; i++)
		broken = !strcmp(gg_yfile_problem(f, i)->rule, "syntax");
	for (size_t d = 0; d < gg_yfile_ndocs(f) && !broken; d++)
		broken = has_complex_key(gg_yfile_doc(f, d), 0);
	if (!broken)
		return false;
	*line = 1;
	*col = 1;
	for (const char *p = data; p < m; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
	return true;
}

int gg_manifest_check_opts(const gg_mpolicy *mp, const char *path, const char *data, size_t len,
                           const gg_mcheck_opts *o, gg_report *r)
{
	static const gg_mcheck_opts plain = {NULL, false, false};
	gg_yfile *f;
	struct sources src = {NULL, 0};
	if (o == NULL)
		o = &plain;
	const char *shown = o->shown ? o->shown : path;
	if (data == NULL)
		data = "", len = 0;
	gg_yparse(&f, data, len, o->stream ? GG_YFMT_YAML : gg_yformat_for_path(path), NULL);
	if (mp && mp->memo && !o->stream)
		memo_record(mp->memo, path, data, len, f);
	if (o->stream)
		sources_scan(&src, data, len);
	bool own = false;
	for (size_t d = 0; d < gg_yfile_ndocs(f) && !o->stream; d++)
		own = own || is_gitgate_file(gg_yfile_doc(f, d));
	uint32_t tl, tc;
	if (own) {
		goto done;
	} else if (is_template(data, len, f, &tl, &tc)) {
		gg_loc loc = {.path = o->stream ? source_at(&src, tl, 0, shown) : shown,
		              .line = tl,
		              .col = tc};
		gg_report_add(
		    r, "template", GG_SEV_NOTE, &loc,
		    "template markers ({{ }}) that are not YAML: checked as a template, "
		    "not as a manifest; render it and check the output (gitgate check -)");
		goto done;
	}
	for (size_t i = 0; i < gg_yfile_nproblems(f); i++) {
		const gg_yproblem *p = gg_yfile_problem(f, i);
		gg_loc loc = {.path = o->stream ? source_at(&src, p->line, 0, shown) : shown,
		              .line = p->line,
		              .col = p->col};
		char *msg = one_line(p->msg);
		gg_report_add(r, p->rule, GG_SEV_ERROR, &loc, "%s", msg);
		free(msg);
	}
	/* Documents read whole before a syntax error are still checked. */
	size_t budget = MAX_FILE_VIOLATIONS, dropped = 0, dropped_errors = 0;
	bool applied[MAX_PACKS] = {false}, any_doc = false;
	uint32_t prev_line = 0;
	for (size_t d = 0; mp && d < gg_yfile_ndocs(f); d++) {
		const gg_ynode *doc = gg_yfile_doc(f, d);
		if (doc == NULL)
			continue;
		any_doc = true;
		const char *at = o->stream ? source_at(&src, doc->line, prev_line, shown) : shown;
		prev_line = doc->line;
		bool applies[MAX_PACKS];
		for (size_t k = 0; k < mp->npacks; k++) {
			applies[k] = !mp->packs[k].when || gg_mwhen_holds(mp->packs[k].when, doc);
			applied[k] = applied[k] || applies[k];
		}
		for (size_t i = 0; i < mp->nrules; i++) {
			const struct entry *e = &mp->rules[i];
			if (e->off || (e->pack && !applies[e->pack_index]))
				continue;
			size_t n = gg_mrule_check(e->rule, e->sev, doc, at, &budget, r);
			dropped += n;
			if (e->sev == GG_SEV_ERROR)
				dropped_errors += n;
		}
		size_t n = gg_schema_check(mp->schemas, doc, path, &budget, r);
		dropped += n;
		dropped_errors += n;
	}
	/*
	 * A file no pack applies to (a CI workflow, Helm values): only gitgate
	 * check says so, once; in a push such files pass silently.
	 */
	bool any_applied = mp == NULL || mp->npacks == 0;
	for (size_t k = 0; mp && k < mp->npacks; k++)
		any_applied = any_applied || applied[k];
	if (o->notes && any_doc && !any_applied) {
		gg_buf why = GG_BUF_INIT;
		for (size_t k = 0; k < mp->npacks; k++)
			gg_buf_printf(&why, "%s%s applies to %s", k ? "; " : "", mp->packs[k].name,
			              mp->packs[k].applies_to);
		gg_loc loc = {.path = shown, .line = 1, .col = 1, .about = mp->packs[0].applies_to};
		gg_report_add(r, mp->packs[0].name, GG_SEV_NOTE, &loc, "not checked: %s", why.ptr);
		gg_buf_free(&why);
	}
	if (dropped) {
		gg_loc loc = {.path = shown, .line = 1, .col = 1};
		gg_report_add(r, "limit", dropped_errors ? GG_SEV_ERROR : GG_SEV_WARNING, &loc,
		              "%zu more violations in this file are not reported (at most %d per "
		              "file)",
		              dropped, MAX_FILE_VIOLATIONS);
	}
done:
	sources_free(&src);
	gg_yfile_free(f);
	return 0;
}

int gg_manifest_check(const gg_mpolicy *mp, const char *path, const char *data, size_t len,
                      gg_report *r)
{
	return gg_manifest_check_opts(mp, path, data, len, NULL, r);
}

/* ---- deletions ---- */

/* A resource seen in the old tree: its identity and where it was. */
struct resource {
	char *key; /* apiVersion \x1f kind \x1f namespace \x1f name */
	char *path;
	unsigned line, col;
};

struct resources {
	struct resource *v;
	size_t n, cap;
};

/* The new tree's resource keys: an open-addressing set. */
struct keyset {
	char **slots;
	size_t cap, n;
};

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void keyset_add(struct keyset *ks, char *key)
{
	if (2 * (ks->n + 1) > ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 64;
		char **slots = gg_calloc(cap, sizeof(*slots));
		for (size_t i = 0; i < ks->cap; i++) {
			if (!ks->slots[i])
				continue;
			size_t j = hash_key(ks->slots[i]) & (cap - 1);
			while (slots[j])
				j = (j + 1) & (cap - 1);
			slots[j] = ks->slots[i];
		}
		free(ks->slots);
		ks->slots = slots;
		ks->cap = cap;
	}
	size_t j = hash_key(key) & (ks->cap - 1);
	while (ks->slots[j]) {
		if (!strcmp(ks->slots[j], key)) {
			free(key);
			return;
		}
		j = (j + 1) & (ks->cap - 1);
	}
	ks->slots[j] = key;
	ks->n++;
}

static bool keyset_has(const struct keyset *ks, const char *key)
{
	if (ks->cap == 0)
		return false;
	size_t j = hash_key(key) & (ks->cap - 1);
	while (ks->slots[j]) {
		if (!strcmp(ks->slots[j], key))
			return true;
		j = (j + 1) & (ks->cap - 1);
	}
	return false;
}

static void keyset_free(struct keyset *ks)
{
	for (size_t i = 0; i < ks->cap; i++)
		free(ks->slots[i]);
	free(ks->slots);
}

static const char *scalar_text(const gg_ynode *n)
{
	return gg_yis_scalar(n) && n->str && n->type != GG_Y_NULL ? n->str : "";
}

/* The identity of a document, or NULL when it names no resource (no kind or name). */
static char *resource_key(const gg_ynode *doc)
{
	const gg_ynode *kind = gg_ymap_get(doc, "kind");
	const gg_ynode *meta = gg_ymap_get(doc, "metadata");
	const gg_ynode *name = gg_ymap_get(meta, "name");
	if (!*scalar_text(kind) || !*scalar_text(name))
		return NULL;
	return gg_printf("%s\x1f%s\x1f%s\x1f%s", scalar_text(gg_ymap_get(doc, "apiVersion")),
	                 scalar_text(kind), scalar_text(gg_ymap_get(meta, "namespace")),
	                 scalar_text(name));
}

/*
 * The memo: on a ref update the hook checks each changed manifest of NEW and
 * then, for deny_deletion, needs the resources of the same files again. The
 * memo keeps each checked file's resource keys under its path, length and a
 * keyed hash of its content, so the new side is not parsed a second time. The
 * hash key is random per policy load: contents cannot be crafted to collide.
 */
#define MEMO_MAX_KEYS  200000
#define MEMO_MAX_FILES 100000

struct memo_ent {
	char *path; /* NULL: free slot */
	uint64_t hash;
	size_t len;
	char **keys;
	size_t nkeys;
};

struct memo {
	uint64_t seed;
	struct memo_ent *slots;
	size_t cap, n, nkeys;
};

static struct memo *memo_new(void)
{
	struct memo *m = gg_calloc(1, sizeof(*m));
	if (getrandom(&m->seed, sizeof(m->seed), 0) != (ssize_t)sizeof(m->seed))
		m->seed = gg_now_us() ^ ((uint64_t)getpid() << 32);
	return m;
}

static void memo_free(struct memo *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].path);
		gg_strv_free(m->slots[i].keys, m->slots[i].nkeys);
	}
	free(m->slots);
	free(m);
}

static uint64_t memo_hash(const struct memo *m, const char *path, const char *data, size_t len)
{
	uint64_t h = m->seed ^ (len * 0x9e3779b97f4a7c15ull);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, data + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char)data[i]) * 0x100000001b3ull;
	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static struct memo_ent *memo_slot(struct memo *m, const char *path, uint64_t hash, size_t len)
{
	size_t j = hash & (m->cap - 1);
	while (m->slots[j].path && !(m->slots[j].hash == hash && m->slots[j].len == len &&
	                             !strcmp(m->slots[j].path, path)))
		j = (j + 1) & (m->cap - 1);
	return &m->slots[j];
}

static const struct memo_ent *memo_find(const struct memo *m, const char *path, const char *data,
                                        size_t len)
{
	if (m == NULL || m->n == 0)
		return NULL;
	struct memo_ent *e = memo_slot((struct memo *)m, path, memo_hash(m, path, data, len), len);
	return e->path ? e : NULL;
}

static char *resource_key(const gg_ynode *doc);

static void memo_record(struct memo *m, const char *path, const char *data, size_t len,
                        const gg_yfile *f)
{
	if (m->nkeys >= MEMO_MAX_KEYS || m->n >= MEMO_MAX_FILES)
		return;
	if (2 * (m->n + 1) > m->cap) {
		struct memo old = *m;
		m->cap = m->cap ? 2 * m->cap : 256;
		m->slots = gg_calloc(m->cap, sizeof(*m->slots));
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].path)
				*memo_slot(m, old.slots[i].path, old.slots[i].hash,
				           old.slots[i].len) = old.slots[i];
		free(old.slots);
	}
	uint64_t hash = memo_hash(m, path, data, len);
	struct memo_ent *e = memo_slot(m, path, hash, len);
	if (e->path)
		return; /* the same content at the same path: already known */
	e->path = gg_strdup(path);
	e->hash = hash;
	e->len = len;
	for (size_t d = 0; d < gg_yfile_ndocs(f); d++) {
		const gg_ynode *doc = gg_yfile_doc(f, d);
		char *key = doc ? resource_key(doc) : NULL;
		if (key == NULL)
			continue;
		e->keys = gg_reallocarray(e->keys, e->nkeys + 1, sizeof(*e->keys));
		e->keys[e->nkeys++] = key;
	}
	m->n++;
	m->nkeys += e->nkeys;
}

typedef void (*resource_fn)(void *ctx, char *key, const gg_ynode *doc);

/*
 * Hand each resource's key in one blob (owned by fn) to fn: from the memo when
 * the file was checked already, else by parsing it.
 */
static int blob_resources(git_repository *repo, const struct memo *memo, const git_diff_file *file,
                          resource_fn fn, void *ctx)
{
	if (file->mode != GIT_FILEMODE_BLOB && file->mode != GIT_FILEMODE_BLOB_EXECUTABLE)
		return 0;
	git_blob *b = NULL;
	if (git_blob_lookup(&b, repo, &file->id) < 0)
		return -1;
	const char *data = git_blob_rawcontent(b);
	size_t len = (size_t)git_blob_rawsize(b);
	const struct memo_ent *e = memo_find(memo, file->path, data, len);
	if (e) {
		for (size_t i = 0; i < e->nkeys; i++)
			fn(ctx, gg_strdup(e->keys[i]), NULL);
		git_blob_free(b);
		return 0;
	}
	gg_yfile *f;
	gg_yparse(&f, data, len, gg_yformat_for_path(file->path), NULL);
	for (size_t d = 0; d < gg_yfile_ndocs(f); d++) {
		const gg_ynode *doc = gg_yfile_doc(f, d);
		char *key = doc ? resource_key(doc) : NULL;
		if (key)
			fn(ctx, key, doc);
	}
	gg_yfile_free(f);
	git_blob_free(b);
	return 0;
}

struct old_ctx {
	struct resources *res;
	const char *path;
};

static void add_old(void *arg, char *key, const gg_ynode *doc)
{
	struct old_ctx *c = arg;
	struct resources *res = c->res;
	if (res->n == res->cap) {
		res->cap = res->cap ? 2 * res->cap : 16;
		res->v = gg_reallocarray(res->v, res->cap, sizeof(*res->v));
	}
	res->v[res->n++] = (struct resource){key, gg_strdup(c->path), doc->line, doc->col};
}

static void add_new(void *arg, char *key, const gg_ynode *doc)
{
	(void)doc;
	keyset_add(arg, key);
}

/* "Deployment \"web\" (apps/v1, namespace \"prod\")", quoted safely. */
static char *describe_resource(const char *key)
{
	char *parts[4] = {NULL, NULL, NULL, NULL};
	const char *s = key;
	for (int i = 0; i < 4; i++) {
		const char *e = strchr(s, '\x1f');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char *raw = gg_strndup(s, n);
		parts[i] = one_line(raw);
		free(raw);
		s = e ? e + 1 : s + n;
	}
	char *out;
	if (*parts[2])
		out = gg_printf("%s \"%s\" (%s, namespace \"%s\")", parts[1], parts[3],
		                *parts[0] ? parts[0] : "no apiVersion", parts[2]);
	else
		out = gg_printf("%s \"%s\" (%s)", parts[1], parts[3],
		                *parts[0] ? parts[0] : "no apiVersion");
	for (int i = 0; i < 4; i++)
		free(parts[i]);
	return out;
}

int gg_manifest_check_deletions(const gg_mpolicy *mp, git_repository *repo,
                                const git_tree *old_tree, const git_tree *new_tree, gg_report *r)
{
	git_diff *diff = NULL;
	git_diff_options opts;
	struct resources old = {NULL, 0, 0};
	struct keyset now = {NULL, 0, 0};
	int rc = -1;
	if (mp == NULL)
		return 0;
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	/* Tree to tree without rename detection: a moved file is a delete and an add, and the
	 * resources it holds are matched by identity across all changed files. */
	if (git_diff_tree_to_tree(&diff, repo, (git_tree *)old_tree, (git_tree *)new_tree, &opts) <
	    0)
		goto done;
	size_t n = git_diff_num_deltas(diff);
	/* The old side first: most pushes delete nothing, and then the new side is not read. */
	for (size_t i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		if (d->status == GIT_DELTA_ADDED || !gg_mpolicy_selects(mp, d->old_file.path))
			continue;
		struct old_ctx c = {&old, d->old_file.path};
		if (blob_resources(repo, NULL, &d->old_file, add_old, &c) < 0)
			goto done;
	}
	if (old.n == 0) {
		rc = 0;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		if (d->status == GIT_DELTA_DELETED || !gg_mpolicy_selects(mp, d->new_file.path))
			continue;
		if (blob_resources(repo, mp->memo, &d->new_file, add_new, &now) < 0)
			goto done;
	}
	for (size_t i = 0; i < old.n; i++) {
		if (keyset_has(&now, old.v[i].key))
			continue;
		char *what = describe_resource(old.v[i].key);
		char *where = one_line(old.v[i].path);
		gg_loc loc = {.path = old.v[i].path, .line = old.v[i].line, .col = old.v[i].col};
		gg_report_add(r, "deny-deletion", GG_SEV_ERROR, &loc,
		              "%s was deleted (it was at %s:%u); push with -o "
		              "gitgate.allow=deletion to allow it",
		              what, where, old.v[i].line);
		free(what);
		free(where);
	}
	rc = 0;
done:
	for (size_t i = 0; i < old.n; i++) {
		free(old.v[i].key);
		free(old.v[i].path);
	}
	free(old.v);
	keyset_free(&now);
	git_diff_free(diff);
	return rc;
}
