#include "gitgate/mscan.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <stdlib.h>
#include <string.h>

/* A kustomization names a few dozen files; a hostile one must not cost more than this. */
#define MAX_KUSTOMIZE_ENTRIES 10000
/* Deeper directories than this are not searched for a Chart.yaml. */
#define MAX_CHART_DEPTH 64

/* ---- a set of strings ---- */

struct strset {
	char **slots;
	size_t cap, n;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static char **strset_slot(const struct strset *ss, const char *s)
{
	size_t j = str_hash(s) & (ss->cap - 1);
	while (ss->slots[j] && strcmp(ss->slots[j], s))
		j = (j + 1) & (ss->cap - 1);
	return &ss->slots[j];
}

static bool strset_has(const struct strset *ss, const char *s)
{
	return ss->cap && *strset_slot(ss, s);
}

/* Add s (copied); false when it was there already. */
static bool strset_add(struct strset *ss, const char *s)
{
	if (2 * (ss->n + 1) > ss->cap) {
		struct strset old = *ss;
		ss->cap = ss->cap ? 2 * ss->cap : 64;
		ss->slots = gg_calloc(ss->cap, sizeof(*ss->slots));
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i])
				*strset_slot(ss, old.slots[i]) = old.slots[i];
		free(old.slots);
	}
	char **slot = strset_slot(ss, s);
	if (*slot)
		return false;
	*slot = gg_strdup(s);
	ss->n++;
	return true;
}

static void strset_free(struct strset *ss)
{
	for (size_t i = 0; i < ss->cap; i++)
		free(ss->slots[i]);
	free(ss->slots);
}

/* ---- the scan ---- */

struct gg_mscan {
	const gg_mpolicy *mp;
	gg_mtree tree;
	bool notes;
	struct strset chart_dirs, plain_dirs; /* directories with and without a Chart.yaml */
	struct strset charts_done;            /* charts checked and noted */
	struct strset files_done;             /* files validated */
	struct strset kust_dirs;              /* directories searched for a kustomization */
};

gg_mscan *gg_mscan_new(const gg_mpolicy *mp, const gg_mtree *tree, bool notes)
{
	gg_mscan *s = gg_calloc(1, sizeof(*s));
	s->mp = mp;
	s->tree = *tree;
	s->notes = notes;
	return s;
}

void gg_mscan_free(gg_mscan *s)
{
	if (s == NULL)
		return;
	strset_free(&s->chart_dirs);
	strset_free(&s->plain_dirs);
	strset_free(&s->charts_done);
	strset_free(&s->files_done);
	strset_free(&s->kust_dirs);
	free(s);
}

/* Text from a file or a path, on one line: control characters escaped, quotes too. */
static void put_text(gg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			gg_buf_printf(b, "\\x%02x", c);
		else if (c == '"' || c == '\\')
			gg_buf_printf(b, "\\%c", c);
		else
			gg_buf_putc(b, (char)c);
	}
}

/* "DIR/NAME", or NAME at the top ("" is the top). */
static char *join(const char *dir, const char *name)
{
	return *dir ? gg_printf("%s/%s", dir, name) : gg_strdup(name);
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? gg_strndup(path, (size_t)(slash - path)) : gg_strdup("");
}

/*
 * How another file of the tree is named in messages: as `shown` names `path`
 * (gitgate check may show "./clusters/x.yaml" for "clusters/x.yaml").
 */
static char *shown_for(const char *path, const char *shown, const char *other)
{
	size_t pl = strlen(path), sl = strlen(shown);
	gg_buf b = GG_BUF_INIT;
	if (sl >= pl && !strcmp(shown + sl - pl, path))
		gg_buf_put(&b, shown, sl - pl);
	put_text(&b, other);
	return gg_buf_detach(&b);
}

/* ---- Helm charts ---- */

/* The nearest directory above path holding a Chart.yaml, or NULL. */
static char *chart_root(gg_mscan *s, const char *path)
{
	char *dir = dir_of(path);
	for (int depth = 0; depth < MAX_CHART_DEPTH; depth++) {
		if (strset_has(&s->chart_dirs, dir))
			return dir;
		if (!strset_has(&s->plain_dirs, dir)) {
			char *chart = join(dir, "Chart.yaml");
			bool is = s->tree.kind(s->tree.ctx, chart) == GG_MTREE_FILE;
			free(chart);
			strset_add(is ? &s->chart_dirs : &s->plain_dirs, dir);
			if (is)
				return dir;
		}
		if (!*dir)
			break;
		char *up = dir_of(dir);
		free(dir);
		dir = up;
	}
	free(dir);
	return NULL;
}

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static bool has_suffix(const char *s, const char *x)
{
	size_t sl = strlen(s), xl = strlen(x);
	return sl >= xl && !strcmp(s + sl - xl, x);
}

/*
 * Files of a chart that are not Kubernetes objects: the templates (Go
 * templates, never YAML), Chart.yaml, values files (values.yaml,
 * values-prod.yaml, the ci/ directory chart-testing reads), the lock file.
 */
static bool chart_skips(const char *rel)
{
	const char *base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	return has_prefix(rel, "templates/") || has_prefix(rel, "ci/") ||
	       !strcmp(rel, "Chart.yaml") || !strcmp(rel, "Chart.lock") ||
	       !strcmp(rel, "requirements.yaml") || !strcmp(rel, "values.schema.json") ||
	       (has_prefix(base, "values") &&
	        (has_suffix(base, ".yaml") || has_suffix(base, ".yml")));
}

static bool is_ident_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-';
}

/* Dot-separated, non-empty identifiers; the end of them, or NULL. */
static const char *idents(const char *v)
{
	for (;;) {
		const char *start = v;
		while (is_ident_char(*v))
			v++;
		if (v == start)
			return NULL;
		if (*v != '.')
			return v;
		v++;
	}
}

/* SemVer 2: MAJOR.MINOR.PATCH, numbers without leading zeros, then -PRE and +BUILD. */
static bool is_semver(const char *v)
{
	for (int part = 0; part < 3; part++) {
		if (*v < '0' || *v > '9' || (v[0] == '0' && v[1] >= '0' && v[1] <= '9'))
			return false;
		while (*v >= '0' && *v <= '9')
			v++;
		if (part < 2 && *v++ != '.')
			return false;
	}
	if (*v == '-' && (v = idents(v + 1)) == NULL)
		return false;
	if (*v == '+' && (v = idents(v + 1)) == NULL)
		return false;
	return *v == '\0';
}

static const char *text_of(const gg_ynode *n)
{
	return gg_yis_scalar(n) && n->type != GG_Y_NULL && n->str && n->len ? n->str : NULL;
}

/* A Chart.yaml problem at n; `found` (may be NULL) is quoted safely after the message. */
static void chart_error(gg_report *r, const char *shown, const gg_ynode *n, const char *msg,
                        const gg_ynode *found)
{
	gg_buf b = GG_BUF_INIT;
	gg_buf_puts(&b, msg);
	if (found) {
		gg_buf_puts(&b, " (found \"");
		put_text(&b, text_of(found) ? text_of(found) : "");
		gg_buf_puts(&b, "\")");
	}
	gg_loc loc = {.path = shown,
	              .line = n ? n->line : 1,
	              .col = n ? n->col : 1,
	              .about = "a Helm chart's Chart.yaml has what Helm requires"};
	gg_report_add(r, "helm-chart", GG_SEV_ERROR, &loc, "%s", b.ptr);
	gg_buf_free(&b);
}

/*
 * Once per chart: its Chart.yaml holds what Helm 3 requires (apiVersion v2, a
 * name, a SemVer version), and a note says that its templates are checked
 * only once rendered.
 */
static void check_chart(gg_mscan *s, const char *root, const char *path, const char *shown,
                        gg_report *r)
{
	if (!strset_add(&s->charts_done, root))
		return;
	char *cpath = join(root, "Chart.yaml");
	char *cshown = shown_for(path, shown, cpath);
	char *dshown = shown_for(path, shown, *root ? root : ".");
	char *data = NULL;
	size_t len = 0;
	gg_yfile *f = NULL;
	if (s->tree.read(s->tree.ctx, cpath, &data, &len) < 0)
		goto done;
	gg_yparse(&f, data, len, GG_YFMT_YAML, NULL);
	for (size_t i = 0; i < gg_yfile_nproblems(f); i++) {
		const gg_yproblem *p = gg_yfile_problem(f, i);
		gg_buf b = GG_BUF_INIT;
		put_text(&b, p->msg);
		gg_loc loc = {.path = cshown, .line = p->line, .col = p->col};
		gg_report_add(r, p->rule, GG_SEV_ERROR, &loc, "%s", b.ptr);
		gg_buf_free(&b);
	}
	const gg_ynode *doc = gg_yfile_ndocs(f) ? gg_yfile_doc(f, 0) : NULL;
	const char *name = NULL;
	if (gg_yfile_nproblems(f) == 0 && (doc == NULL || doc->type != GG_Y_MAP)) {
		chart_error(r, cshown, doc,
		            "Chart.yaml must be a map with apiVersion, name and version", NULL);
	} else if (doc) {
		const gg_ynode *api = gg_ymap_get(doc, "apiVersion");
		const gg_ynode *nm = gg_ymap_get(doc, "name");
		const gg_ynode *ver = gg_ymap_get(doc, "version");
		name = text_of(nm);
		if (api == NULL)
			chart_error(r, cshown, doc, "Chart.yaml needs apiVersion: v2", NULL);
		else if (!gg_yis(api, "v2"))
			chart_error(r, cshown, api,
			            "Chart.yaml: apiVersion must be v2, as Helm 3 charts have it",
			            api);
		if (name == NULL)
			chart_error(r, cshown, nm ? nm : doc, "Chart.yaml needs a name", NULL);
		if (ver == NULL)
			chart_error(r, cshown, doc, "Chart.yaml needs a version (SemVer: 1.2.3)",
			            NULL);
		else if (!text_of(ver) || !is_semver(text_of(ver)))
			chart_error(r, cshown, ver,
			            "Chart.yaml: version must be SemVer 2 such as 1.2.3", ver);
	}
	gg_buf what = GG_BUF_INIT;
	if (name) {
		gg_buf_puts(&what, "chart \"");
		put_text(&what, name);
		gg_buf_puts(&what, "\"");
	} else {
		gg_buf_puts(&what, "this chart");
	}
	gg_loc loc = {.path = cshown, .line = 1, .col = 1};
	gg_report_add(r, "helm-chart", GG_SEV_NOTE, &loc,
	              "%s: its templates are not rendered here; check what they render with: helm "
	              "template %s | gitgate check -",
	              what.ptr, dshown);
	gg_buf_free(&what);
done:
	gg_yfile_free(f);
	free(data);
	free(cpath);
	free(cshown);
	free(dshown);
}

/* ---- Kustomize ---- */

static bool is_kustomization_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return !strcmp(base, "kustomization.yaml") || !strcmp(base, "kustomization.yml") ||
	       !strcmp(base, "Kustomization");
}

/* Kustomize fetches these itself: git repositories and URLs. */
static bool is_remote(const char *s)
{
	return strstr(s, "://") || has_prefix(s, "git@") || has_prefix(s, "github.com/") ||
	       has_prefix(s, "gitlab.com/") || has_prefix(s, "bitbucket.org/") ||
	       strstr(s, "?ref=") || strstr(s, "?version=");
}

/* DIR joined with a relative NAME, "." and ".." resolved; NULL when it leaves the tree. */
static char *resolve(const char *dir, const char *name)
{
	char *full = join(dir, name);
	char **parts = NULL;
	size_t n = 0;
	char *save = NULL;
	bool out = false;
	for (char *p = strtok_r(full, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			if (n == 0)
				out = true;
			else
				n--;
			continue;
		}
		parts = gg_reallocarray(parts, n + 1, sizeof(*parts));
		parts[n++] = p;
	}
	gg_buf b = GG_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		gg_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
	free(parts);
	free(full);
	if (out) {
		gg_buf_free(&b);
		return NULL;
	}
	return b.ptr ? gg_buf_detach(&b) : gg_strdup("");
}

static const char *const kustomization_names[] = {"kustomization.yaml", "kustomization.yml",
                                                  "Kustomization"};

enum entry_kind { E_RESOURCE, E_COMPONENT, E_PATCH, E_FILE };

static const char *const entry_words[] = {"resource", "component", "patch", "file"};

struct kctx {
	gg_mscan *s;
	const char *path, *shown, *dir;
	gg_report *r;
	size_t nentries;
};

static void kerror(struct kctx *k, gg_severity sev, const gg_ynode *n, const char *what,
                   const char *text, const char *fmt)
{
	gg_buf b = GG_BUF_INIT;
	gg_buf_printf(&b, "%s \"", what);
	put_text(&b, text);
	gg_buf_puts(&b, "\"");
	gg_loc loc = {.path = k->shown,
	              .line = n->line,
	              .col = n->col,
	              .about = "the files a kustomization names exist in the tree"};
	gg_report_add(k->r, "kustomize", sev, &loc, "%s %s", b.ptr, fmt);
	gg_buf_free(&b);
}

/* A resource outside manifests.paths is still a manifest of this build: validate it. */
static void validate_resource(struct kctx *k, const char *target)
{
	gg_mscan *s = k->s;
	gg_yformat fmt = gg_yformat_for_path(target);
	bool yaml = has_suffix(target, ".yaml") || has_suffix(target, ".yml");
	if ((!yaml && fmt != GG_YFMT_JSON) || gg_mpolicy_selects(s->mp, target) ||
	    !strset_add(&s->files_done, target))
		return;
	char *data = NULL;
	size_t len = 0;
	if (s->tree.read(s->tree.ctx, target, &data, &len) < 0)
		return;
	char *tshown = shown_for(k->path, k->shown, target);
	gg_mcheck_opts o = {tshown, s->notes, false};
	(void)gg_manifest_check_opts(s->mp, target, data, len, &o, k->r);
	free(tshown);
	free(data);
}

static void kentry(struct kctx *k, const gg_ynode *n, enum entry_kind kind)
{
	const char *what = entry_words[kind];
	if (++k->nentries > MAX_KUSTOMIZE_ENTRIES || !gg_yis_scalar(n) || n->type == GG_Y_NULL ||
	    !n->str || !n->len)
		return;
	const char *text = n->str;
	if (kind == E_FILE) {
		/* configMapGenerator files: "KEY=PATH" or "PATH". */
		const char *eq = strchr(text, '=');
		if (eq)
			text = eq + 1;
	}
	if (is_remote(text)) {
		kerror(k, GG_SEV_NOTE, n, what, text,
		       "is remote: it is not fetched, and not checked here");
		return;
	}
	if (text[0] == '/') {
		kerror(k, GG_SEV_ERROR, n, what, text,
		       "is an absolute path; name it relative to the kustomization");
		return;
	}
	char *target = resolve(k->dir, text);
	if (target == NULL) {
		kerror(k, GG_SEV_ERROR, n, what, text, "is outside the repository");
		return;
	}
	gg_mtree_kind tk = *target ? k->s->tree.kind(k->s->tree.ctx, target) : GG_MTREE_DIR;
	if (tk == GG_MTREE_NONE) {
		kerror(k, GG_SEV_ERROR, n, what, text, "does not exist");
	} else if (tk == GG_MTREE_DIR && (kind == E_PATCH || kind == E_FILE)) {
		kerror(k, GG_SEV_ERROR, n, what, text, "is a directory, not a file");
	} else if (tk == GG_MTREE_DIR) {
		bool found = false;
		for (size_t i = 0; i < GG_ARRAY_LEN(kustomization_names) && !found; i++) {
			char *kf = join(target, kustomization_names[i]);
			found = k->s->tree.kind(k->s->tree.ctx, kf) == GG_MTREE_FILE;
			free(kf);
		}
		if (!found)
			kerror(k, GG_SEV_ERROR, n, what, text,
			       "is a directory without a kustomization.yaml");
	} else if (kind == E_COMPONENT) {
		kerror(k, GG_SEV_ERROR, n, what, text,
		       "is a file; a component is a directory with a kustomization.yaml");
	} else if (kind == E_RESOURCE) {
		validate_resource(k, target);
	}
	free(target);
}

static void kentries(struct kctx *k, const gg_ynode *list, enum entry_kind kind)
{
	if (list == NULL || list->type != GG_Y_SEQ)
		return;
	for (uint32_t i = 0; i < list->n; i++)
		kentry(k, list->items[i], kind);
}

/* Each entry of a list of maps: its `key` (a path or a list of paths). */
static void kentries_in(struct kctx *k, const gg_ynode *list, const char *key, enum entry_kind kind)
{
	if (list == NULL || list->type != GG_Y_SEQ)
		return;
	for (uint32_t i = 0; i < list->n; i++) {
		const gg_ynode *v = gg_ymap_get(list->items[i], key);
		if (v && v->type == GG_Y_SEQ)
			kentries(k, v, kind);
		else if (v)
			kentry(k, v, kind);
	}
}

/*
 * Every local file and directory a kustomization names must exist in the
 * tree: resources, components, patches, generator files. Remote ones are
 * noted and never fetched.
 */
static void check_kustomization(gg_mscan *s, const char *path, const char *shown, const char *data,
                                size_t len, gg_report *r)
{
	if (!strset_add(&s->kust_dirs, path))
		return; /* resolved already */
	gg_yfile *f;
	gg_yparse(&f, data, len, GG_YFMT_YAML, NULL);
	const gg_ynode *doc = gg_yfile_ndocs(f) ? gg_yfile_doc(f, 0) : NULL;
	const char *api = text_of(gg_ymap_get(doc, "apiVersion"));
	if (doc && doc->type == GG_Y_MAP && (!api || has_prefix(api, "kustomize.config.k8s.io/"))) {
		char *dir = dir_of(path);
		struct kctx k = {s, path, shown, dir, r, 0};
		kentries(&k, gg_ymap_get(doc, "resources"), E_RESOURCE);
		kentries(&k, gg_ymap_get(doc, "bases"), E_RESOURCE);
		kentries(&k, gg_ymap_get(doc, "components"), E_COMPONENT);
		kentries_in(&k, gg_ymap_get(doc, "patches"), "path", E_PATCH);
		kentries_in(&k, gg_ymap_get(doc, "patchesJson6902"), "path", E_PATCH);
		/* patchesStrategicMerge holds paths or inline patches (several lines). */
		const gg_ynode *psm = gg_ymap_get(doc, "patchesStrategicMerge");
		for (uint32_t i = 0; psm && psm->type == GG_Y_SEQ && i < psm->n; i++)
			if (text_of(psm->items[i]) && !strchr(psm->items[i]->str, '\n'))
				kentry(&k, psm->items[i], E_PATCH);
		static const char *const generators[] = {"configMapGenerator", "secretGenerator"};
		for (size_t g = 0; g < GG_ARRAY_LEN(generators); g++) {
			const gg_ynode *gen = gg_ymap_get(doc, generators[g]);
			kentries_in(&k, gen, "files", E_FILE);
			kentries_in(&k, gen, "envs", E_FILE);
			kentries_in(&k, gen, "env", E_FILE);
		}
		free(dir);
	}
	gg_yfile_free(f);
}

/* ---- one file ---- */

int gg_mscan_file(gg_mscan *s, const char *path, const char *shown, const char *data, size_t len,
                  gg_report *r)
{
	char *root = chart_root(s, path);
	if (root) {
		check_chart(s, root, path, shown, r);
		const char *rel = path + strlen(root) + (*root ? 1 : 0);
		bool skip = chart_skips(rel);
		free(root);
		if (skip)
			return 0;
	}
	strset_add(&s->files_done, path);
	gg_mcheck_opts o = {shown, s->notes, false};
	if (gg_manifest_check_opts(s->mp, path, data, len, &o, r) < 0)
		return -1;
	if (is_kustomization_name(path))
		check_kustomization(s, path, shown, data, len, r);
	return 0;
}

int gg_mscan_changed(gg_mscan *s, const char *path, const char *shown, gg_report *r)
{
	char *dir = dir_of(path);
	for (int depth = 0; depth < MAX_CHART_DEPTH; depth++) {
		if (!strset_add(&s->kust_dirs, dir))
			break; /* this directory and those above it were searched */
		for (size_t i = 0; i < GG_ARRAY_LEN(kustomization_names); i++) {
			char *kf = join(dir, kustomization_names[i]);
			char *data = NULL;
			size_t len = 0;
			if (gg_mpolicy_selects(s->mp, kf) && !strset_has(&s->kust_dirs, kf) &&
			    s->tree.kind(s->tree.ctx, kf) == GG_MTREE_FILE &&
			    s->tree.read(s->tree.ctx, kf, &data, &len) == 0) {
				char *kshown = shown_for(path, shown, kf);
				check_kustomization(s, kf, kshown, data, len, r);
				free(kshown);
			}
			free(data);
			free(kf);
		}
		if (!*dir)
			break;
		char *up = dir_of(dir);
		free(dir);
		dir = up;
	}
	free(dir);
	return 0;
}
