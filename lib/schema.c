/*
 * Kubernetes schema validation: the manifests.schemas policy, where each
 * kind's schema comes from (locations, the built-in definitions, CRDs of the
 * pushed tree), and the validator that walks a document beside its schema.
 */
#include "gitgate/schema.h"
#include "gitgate/sset.h"
#include "gitgate/yload.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Work one document may cost: schema steps, nested schema levels, $ref hops. */
#define MAX_STEPS       2000000u
#define MAX_SCHEMA_NEST 256u
#define MAX_REF_HOPS    64u
#define MAX_PATH        256u
/* What reading CRDs and locations may cost per push. */
#define MAX_SCAN_FILES   100000u
#define MAX_SCAN_BYTES   (512u << 20)
#define MAX_SCAN_DEPTH   32
#define MAX_LOCATIONS    64
#define MAX_KIND_LOOKUPS 256u /* kind files tried and missing, per location */
/* Location files are the administrator's, larger than any manifest. */
static const gg_ylimits location_limits = {64u << 20, 64, 8000000};

typedef enum { UNKNOWN_ERROR, UNKNOWN_WARN, UNKNOWN_IGNORE } unknown_mode;

struct location {
	char *dir; /* as written: relative to the repository root, or absolute */
	unsigned line, col;
	gg_ssetb *set;  /* _definitions.json, kind files read so far, CRDs */
	char **missing; /* kind files looked for and absent: "kind\x1fgroup\x1fversion" */
	size_t nmissing;
};

struct gg_schemap {
	char *file; /* the policy */
	bool strict;
	bool builtin; /* kubernetes: the built-in version */
	char *version;
	unknown_mode unknown;
	struct location *locs;
	size_t nlocs;

	/* Where the current checks read from (gg_schemap_set_tree / set_dir). */
	git_repository *repo;
	const git_tree *tree; /* borrowed: valid for the checks that follow set_tree */
	git_oid tree_id;      /* what the loaded sets were read from */
	char *root;
	gg_schema_select_fn select;
	const void *select_arg;
	bool loaded;  /* locations read for this source */
	bool scanned; /* the source's CRDs read */
	gg_ssetb *crds;
	/* What reading locations and CRDs found: errors, so a broken location refuses the
	 * push (fail closed). Each is reported once, with the first check after it. */
	gg_report problems;
	size_t nreported;
};

/* ---- policy ---- */

static const char *const schema_keys[] = {"kubernetes", "strict", "unknown_kinds", "locations",
                                          NULL};

/* "1.32.2", "v1.32.2", or the minor version alone: "1.32". */
static bool builtin_version(const char *v)
{
	const char *b = GG_SCHEMA_BUILTIN_VERSION;
	size_t minor = (size_t)(strrchr(b, '.') - b);
	if (*v == 'v')
		v++;
	return !strcmp(v, b) || (strlen(v) == minor && !strncmp(v, b, minor));
}

int gg_schemap_parse(gg_schemap **out, const char *file, const gg_ynode *node, gg_diag *diag)
{
	gg_yload l = {file, diag, 0};
	gg_schemap *sp = gg_calloc(1, sizeof(*sp));
	sp->file = gg_strdup(file);
	sp->strict = true;
	sp->builtin = true;
	sp->unknown = UNKNOWN_WARN;
	*out = NULL;
	const gg_ynode *version = NULL;
	if (node == NULL || node->type != GG_Y_MAP) {
		gg_yload_err(
		    &l, node,
		    "schemas must be a map (kubernetes, strict, unknown_kinds, locations)");
		goto done;
	}
	for (uint32_t i = 0; i < node->n; i++) {
		const gg_ynode *k = node->items[2 * i], *v = node->items[2 * i + 1];
		if (gg_yis(k, "kubernetes")) {
			if (!gg_yis_scalar(v) || v->type == GG_Y_NULL || v->type == GG_Y_BOOL ||
			    !v->str || !*v->str)
				gg_yload_err(&l, v,
				             "kubernetes must be a version such as \"1.32\"");
			else
				version = v;
		} else if (gg_yis(k, "strict")) {
			if (v->type != GG_Y_BOOL)
				gg_yload_err(&l, v, "strict must be true or false");
			else
				sp->strict = v->boolean;
		} else if (gg_yis(k, "unknown_kinds")) {
			if (gg_yis(v, "error"))
				sp->unknown = UNKNOWN_ERROR;
			else if (gg_yis(v, "warn"))
				sp->unknown = UNKNOWN_WARN;
			else if (gg_yis(v, "ignore"))
				sp->unknown = UNKNOWN_IGNORE;
			else
				gg_yload_err(&l, v, "unknown_kinds must be error, warn or ignore");
		} else if (gg_yis(k, "locations")) {
			uint32_t count = v->type == GG_Y_SEQ ? v->n : 1;
			if (v->type == GG_Y_MAP || count > MAX_LOCATIONS) {
				gg_yload_err(&l, v,
				             "locations must be a list of at most %d directories",
				             MAX_LOCATIONS);
				continue;
			}
			if (sp->locs) {
				gg_yload_err(&l, k, "locations is given twice");
				continue;
			}
			sp->locs = gg_calloc(count ? count : 1, sizeof(*sp->locs));
			for (uint32_t j = 0; j < count; j++) {
				const gg_ynode *d = v->type == GG_Y_SEQ ? v->items[j] : v;
				if (d->type != GG_Y_STRING || !d->str || !*d->str ||
				    strlen(d->str) != d->len) {
					gg_yload_err(&l, d, "locations: expected a directory");
					continue;
				}
				struct location *loc = &sp->locs[sp->nlocs++];
				loc->dir = gg_strdup(d->str);
				/* "schemas/" and "schemas" name the same directory. */
				for (size_t n = strlen(loc->dir); n > 1 && loc->dir[n - 1] == '/';
				     n--)
					loc->dir[n - 1] = 0;
				loc->line = d->line;
				loc->col = d->col;
			}
		} else {
			gg_yload_unknown_key(&l, k, "manifests.schemas", schema_keys);
		}
	}
	sp->version = version ? gg_strdup(version->str)
	                      : gg_strndup(GG_SCHEMA_BUILTIN_VERSION,
	                                   (size_t)(strrchr(GG_SCHEMA_BUILTIN_VERSION, '.') -
	                                            GG_SCHEMA_BUILTIN_VERSION));
	if (version && !builtin_version(version->str)) {
		sp->builtin = false;
		if (sp->nlocs == 0)
			gg_yload_err(
			    &l, version,
			    "kubernetes %s is not built in (built in: %s): give its schemas "
			    "under locations",
			    version->str, GG_SCHEMA_BUILTIN_VERSION);
	}
done:
	if (l.errors) {
		gg_schemap_free(sp);
		return -1;
	}
	*out = sp;
	return 0;
}

static void locations_reset(gg_schemap *sp)
{
	for (size_t i = 0; i < sp->nlocs; i++) {
		gg_ssetb_free(sp->locs[i].set);
		sp->locs[i].set = NULL;
		gg_strv_free(sp->locs[i].missing, sp->locs[i].nmissing);
		sp->locs[i].missing = NULL;
		sp->locs[i].nmissing = 0;
	}
	gg_ssetb_free(sp->crds);
	sp->crds = NULL;
	gg_report_free(&sp->problems);
	sp->problems = (gg_report)GG_REPORT_INIT;
	sp->nreported = 0;
	sp->loaded = sp->scanned = false;
}

void gg_schemap_free(gg_schemap *sp)
{
	if (sp == NULL)
		return;
	locations_reset(sp);
	for (size_t i = 0; i < sp->nlocs; i++)
		free(sp->locs[i].dir);
	free(sp->locs);
	free(sp->root);
	free(sp->version);
	free(sp->file);
	free(sp);
}

void gg_schemap_set_tree(gg_schemap *sp, git_repository *repo, const git_tree *tree,
                         gg_schema_select_fn select, const void *arg)
{
	if (sp == NULL)
		return;
	bool same = sp->tree && tree && git_oid_equal(&sp->tree_id, git_tree_id(tree));
	if (!same) {
		locations_reset(sp);
		free(sp->root);
		sp->root = NULL;
		if (tree)
			git_oid_cpy(&sp->tree_id, git_tree_id(tree));
	}
	sp->repo = repo;
	sp->tree = tree;
	sp->select = select;
	sp->select_arg = arg;
}

void gg_schemap_set_dir(gg_schemap *sp, const char *root, gg_schema_select_fn select,
                        const void *arg)
{
	if (sp == NULL)
		return;
	if (sp->root && root && !strcmp(sp->root, root))
		return;
	locations_reset(sp);
	sp->tree = NULL;
	sp->repo = NULL;
	free(sp->root);
	sp->root = root ? gg_strdup(root) : NULL;
	sp->select = select;
	sp->select_arg = arg;
}

/* ---- reading files: the pushed tree, a working tree, or the server's disk ---- */

/* Escaped for one line of output: control bytes as \xNN. */
static void put_safe(gg_buf *b, const char *s, size_t max)
{
	size_t n = 0;
	for (; *s && n < max; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			gg_buf_printf(b, "\\x%02x", c);
		else
			gg_buf_putc(b, (char)c);
	}
	if (*s)
		gg_buf_puts(b, "...");
}

static char *safe(const char *s)
{
	gg_buf b = GG_BUF_INIT;
	put_safe(&b, s, 200);
	return gg_buf_detach(&b);
}

static void problem(gg_schemap *sp, const char *path, unsigned line, unsigned col, const char *msg)
{
	gg_loc loc = {.path = path, .line = line, .col = col};
	char *p = safe(msg);
	gg_report_add(&sp->problems, "k8s-schema", GG_SEV_ERROR, &loc, "%s", p);
	free(p);
}

/* A location's own error: reported at the location's entry in the policy. */
static void loc_problem(gg_schemap *sp, const struct location *loc, const char *fmt, ...)
    GG_PRINTF(3, 4);

static void loc_problem(gg_schemap *sp, const struct location *loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	char *d = safe(loc->dir);
	char *full = gg_printf("schemas location \"%s\": %s", d, m);
	problem(sp, sp->file, loc->line, loc->col, full);
	free(full);
	free(d);
	free(m);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || (n == 1 && dir[0] == '.'))
		return gg_strdup(name);
	return gg_printf("%.*s/%s", (int)n, dir, name);
}

static bool in_repo(const gg_schemap *sp, const char *dir)
{
	return dir[0] != '/' && (sp->tree || sp->root);
}

/* Read one file: 0 read, 1 absent, -1 error with *why. */
static int read_one(const gg_schemap *sp, const char *path, bool repo, char **data, size_t *len,
                    char **why)
{
	*data = NULL;
	*len = 0;
	if (repo && sp->tree) {
		git_tree_entry *e = NULL;
		git_blob *b = NULL;
		if (git_tree_entry_bypath(&e, (git_tree *)sp->tree, path) < 0)
			return 1;
		int rc = 1;
		if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			if (git_blob_lookup(&b, sp->repo, git_tree_entry_id(e)) < 0) {
				*why = gg_strdup("cannot read the blob");
				rc = -1;
			} else if ((size_t)git_blob_rawsize(b) > location_limits.max_bytes) {
				*why =
				    gg_printf("larger than %zu bytes", location_limits.max_bytes);
				rc = -1;
			} else {
				*len = (size_t)git_blob_rawsize(b);
				*data = gg_malloc(*len + 1);
				memcpy(*data, git_blob_rawcontent(b), *len);
				(*data)[*len] = 0;
				rc = 0;
			}
		}
		git_blob_free(b);
		git_tree_entry_free(e);
		return rc;
	}
	char *full = repo && sp->root ? join(sp->root, path) : gg_strdup(path);
	int rc = gg_read_file(data, len, full, location_limits.max_bytes);
	int e = errno;
	free(full);
	if (rc == 0)
		return 0;
	if (e == ENOENT || e == ENOTDIR)
		return 1;
	*why = gg_strdup(strerror(e));
	return -1;
}

typedef void (*file_fn)(gg_schemap *sp, void *ctx, const char *path, const char *data, size_t len);

struct walk {
	gg_schemap *sp;
	file_fn fn;
	void *ctx;
	const char *prefix; /* the directory walked, for paths */
	size_t files;
	size_t bytes;
	bool (*want)(struct walk *w, const char *path);
	bool crd_only; /* skip files that cannot hold a CRD without parsing them */
	bool over;
};

static void walk_file(struct walk *w, const char *path, const char *data, size_t len)
{
	if (w->crd_only && !memmem(data, len, "CustomResourceDefinition", 24))
		return;
	w->fn(w->sp, w->ctx, path, data, len);
}

static int tree_cb(const char *root, const git_tree_entry *e, void *arg)
{
	struct walk *w = arg;
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	char *rel = gg_printf("%s%s", root, git_tree_entry_name(e));
	char *path = w->prefix ? join(w->prefix, rel) : gg_strdup(rel);
	bool want = w->want(w, path);
	if (want && (++w->files > MAX_SCAN_FILES || w->bytes > MAX_SCAN_BYTES)) {
		w->over = true;
		free(path);
		free(rel);
		return -1;
	}
	if (want) {
		git_blob *b = NULL;
		if (git_blob_lookup(&b, w->sp->repo, git_tree_entry_id(e)) == 0) {
			size_t len = (size_t)git_blob_rawsize(b);
			w->bytes += len;
			if (len <= location_limits.max_bytes)
				walk_file(w, path, git_blob_rawcontent(b), len);
			git_blob_free(b);
		}
	}
	free(path);
	free(rel);
	return 0;
}

static int disk_walk(struct walk *w, const char *dir, const char *shown, int depth)
{
	if (depth > MAX_SCAN_DEPTH)
		return 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return depth == 0 ? -1 : 0;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue; /* ., .., .git and hidden files */
		names = gg_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = gg_strdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < n && !w->over; i++) {
		char *full = join(dir, names[i]);
		char *rel = shown ? join(shown, names[i]) : gg_strdup(names[i]);
		struct stat st;
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			disk_walk(w, full, rel, depth + 1);
		} else if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && w->want(w, rel)) {
			if (++w->files > MAX_SCAN_FILES || w->bytes > MAX_SCAN_BYTES) {
				w->over = true;
			} else {
				char *data;
				size_t len;
				if (gg_read_file(&data, &len, full, location_limits.max_bytes) ==
				    0) {
					w->bytes += len;
					walk_file(w, rel, data, len);
					free(data);
				}
			}
		}
		free(full);
		free(rel);
	}
	gg_strv_free(names, n);
	return 0;
}

/*
 * Every file under dir (relative: in the repository; absolute: on the
 * server) that w->want accepts. -1 when dir cannot be opened.
 */
static int walk_dir(struct walk *w, const char *dir)
{
	gg_schemap *sp = w->sp;
	if (in_repo(sp, dir) && sp->tree) {
		git_tree *sub = NULL;
		git_tree_entry *e = NULL;
		int rc = -1;
		bool top = !*dir || !strcmp(dir, ".");
		if (top)
			sub = (git_tree *)sp->tree;
		else if (git_tree_entry_bypath(&e, (git_tree *)sp->tree, dir) < 0 ||
		         git_tree_entry_type(e) != GIT_OBJECT_TREE ||
		         git_tree_lookup(&sub, sp->repo, git_tree_entry_id(e)) < 0)
			sub = NULL;
		if (sub) {
			w->prefix = top ? NULL : dir;
			git_tree_walk(sub, GIT_TREEWALK_PRE, tree_cb, w);
			rc = 0;
		}
		if (!top)
			git_tree_free(sub);
		git_tree_entry_free(e);
		return rc;
	}
	if (in_repo(sp, dir)) {
		char *full = join(sp->root, dir);
		bool top = !*dir || !strcmp(dir, ".");
		int rc = disk_walk(w, full, top ? NULL : dir, 0);
		free(full);
		return rc;
	}
	return disk_walk(w, dir, dir, 0);
}

/* ---- CRDs and locations ---- */

static void report_diag(gg_schemap *sp, const char *shown, gg_diag *diag);

static void add_crds(gg_schemap *sp, gg_ssetb *set, const char *path, const char *data, size_t len,
                     gg_yformat fmt)
{
	gg_yfile *f;
	gg_yparse(&f, data, len, fmt, NULL);
	char *shown = safe(path);
	for (size_t i = 0; i < gg_yfile_nproblems(f); i++) {
		const gg_yproblem *p = gg_yfile_problem(f, i);
		/* A broken file in the pushed tree is already reported by its own check. */
		if (set != sp->crds)
			problem(sp, shown, p->line, p->col, p->msg);
	}
	gg_diag diag = GG_DIAG_INIT;
	for (size_t d = 0; d < gg_yfile_ndocs(f); d++)
		gg_ssetb_add_crd(set, shown, gg_yfile_doc(f, d), &diag);
	report_diag(sp, shown, &diag);
	gg_diag_free(&diag);
	gg_yfile_free(f);
	free(shown);
}

static bool want_yaml(struct walk *w, const char *path)
{
	(void)w;
	size_t n = strlen(path);
	return (n > 5 && !strcmp(path + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(path + n - 4, ".yml"));
}

static bool want_selected(struct walk *w, const char *path)
{
	gg_schemap *sp = w->sp;
	return sp->select ? sp->select(sp->select_arg, path) : want_yaml(w, path);
}

static void crd_file(gg_schemap *sp, void *ctx, const char *path, const char *data, size_t len)
{
	add_crds(sp, ctx, path, data, len, gg_yformat_for_path(path));
}

/* A file of a location parsed as JSON; problems reported; NULL when broken. */
static gg_yfile *parse_location_file(gg_schemap *sp, const char *path, const char *data, size_t len)
{
	gg_yfile *f;
	int rc = gg_yparse(&f, data, len, GG_YFMT_JSON, &location_limits);
	char *shown = safe(path);
	for (size_t i = 0; i < gg_yfile_nproblems(f); i++) {
		const gg_yproblem *p = gg_yfile_problem(f, i);
		problem(sp, shown, p->line, p->col, p->msg);
	}
	free(shown);
	if (rc < 0 || gg_yfile_nproblems(f) || gg_yfile_ndocs(f) != 1 || !gg_yfile_doc(f, 0)) {
		gg_yfile_free(f);
		return NULL;
	}
	return f;
}

/* The loader's "FILE:LINE:COL: message" lines back into their parts (FILE is `shown`). */
static void report_diag(gg_schemap *sp, const char *shown, gg_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++) {
		const char *m = diag->msgs[i] + strlen(shown) + 1;
		unsigned line = (unsigned)strtoul(m, (char **)&m, 10);
		unsigned col = (unsigned)strtoul(m + 1, (char **)&m, 10);
		problem(sp, shown, line, col, m + 2);
	}
}

static void load_location(gg_schemap *sp, struct location *loc)
{
	bool repo = in_repo(sp, loc->dir);
	char *defs = join(loc->dir, "_definitions.json");
	char *data, *why = NULL;
	size_t len;
	loc->set = gg_ssetb_new();
	int rc = read_one(sp, defs, repo, &data, &len, &why);
	if (rc < 0) {
		loc_problem(sp, loc, "%s: %s", "_definitions.json", why);
	} else if (rc == 0) {
		gg_yfile *f = parse_location_file(sp, defs, data, len);
		if (f) {
			gg_diag diag = GG_DIAG_INIT;
			char *shown = safe(defs);
			gg_ssetb_add_definitions(loc->set, shown, gg_yfile_doc(f, 0), &diag);
			report_diag(sp, shown, &diag);
			gg_diag_free(&diag);
			free(shown);
			gg_yfile_free(f);
		}
	}
	free(why);
	free(data);
	free(defs);
	/* Vendored CRDs: every YAML file of the location. */
	struct walk w = {sp, crd_file, loc->set, NULL, 0, 0, want_yaml, true, false};
	if (walk_dir(&w, loc->dir) < 0 && rc == 1)
		loc_problem(sp, loc, "no such directory");
	if (w.over)
		loc_problem(sp, loc, "more than %u files or %u MiB", MAX_SCAN_FILES,
		            MAX_SCAN_BYTES >> 20);
}

static void load_locations(gg_schemap *sp)
{
	if (sp->loaded)
		return;
	sp->loaded = true;
	for (size_t i = 0; i < sp->nlocs; i++)
		load_location(sp, &sp->locs[i]);
}

static void scan_crds(gg_schemap *sp)
{
	if (sp->scanned)
		return;
	sp->scanned = true;
	sp->crds = gg_ssetb_new();
	if (!sp->tree && !sp->root)
		return;
	struct walk w = {sp, crd_file, sp->crds, NULL, 0, 0, want_selected, true, false};
	walk_dir(&w, "");
	if (w.over) {
		char *m =
		    gg_printf("CustomResourceDefinitions: more than %u manifest files or %u MiB "
		              "to read in the tree",
		              MAX_SCAN_FILES, MAX_SCAN_BYTES >> 20);
		problem(sp, sp->file, 1, 1, m);
		free(m);
	}
}

/* A kind file of a location, kubeconform's names: deployment-apps-v1.json, service-v1.json. */
static uint32_t location_kind_file(gg_schemap *sp, struct location *loc, const char *group,
                                   const char *version, const char *kind)
{
	/* Kinds come from the push: past MAX_KIND_LOOKUPS misses no more files are tried, so a
	 * push of endless made-up kinds costs neither I/O nor a growing list. */
	if (loc->nmissing >= MAX_KIND_LOOKUPS)
		return GG_SNONE;
	char *key = gg_printf("%s\x1f%s\x1f%s", kind, group, version);
	for (size_t i = 0; i < loc->nmissing; i++)
		if (!strcmp(loc->missing[i], key)) {
			free(key);
			return GG_SNONE;
		}
	char *lower = gg_strdup(kind);
	for (char *p = lower; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	char *names[3] = {NULL, NULL, NULL};
	if (!*group) {
		names[0] = gg_printf("%s-%s.json", lower, version);
	} else {
		size_t dot = strcspn(group, ".");
		names[0] = gg_printf("%s-%.*s-%s.json", lower, (int)dot, group, version);
		names[1] = gg_printf("%s-%s-%s.json", lower, group, version);
		names[2] = gg_printf("%s/%s_%s.json", group, lower, version);
	}
	uint32_t node = GG_SNONE;
	bool repo = in_repo(sp, loc->dir);
	for (int i = 0; i < 3 && names[i] && node == GG_SNONE; i++) {
		if (strchr(names[i], '\x1f') || strstr(names[i], ".."))
			continue; /* names from a document never leave the location */
		char *path = join(loc->dir, names[i]), *data, *why = NULL;
		size_t len;
		int rc = read_one(sp, path, repo, &data, &len, &why);
		if (rc < 0)
			loc_problem(sp, loc, "%s: %s", names[i], why);
		if (rc == 0) {
			gg_yfile *f = parse_location_file(sp, path, data, len);
			if (f) {
				gg_diag diag = GG_DIAG_INIT;
				char *shown = safe(path);
				uint32_t n;
				if (gg_ssetb_add_schema(loc->set, &n, shown, gg_yfile_doc(f, 0),
				                        false, &diag) == 0) {
					gg_ssetb_add_kind(loc->set, group, version, kind, n);
					node = n;
				}
				report_diag(sp, shown, &diag);
				gg_diag_free(&diag);
				free(shown);
				gg_yfile_free(f);
			}
		}
		free(why);
		free(data);
		free(path);
	}
	for (int i = 0; i < 3; i++)
		free(names[i]);
	free(lower);
	if (node == GG_SNONE) {
		loc->missing = gg_reallocarray(loc->missing, loc->nmissing + 1, sizeof(char *));
		loc->missing[loc->nmissing++] = key;
	} else {
		free(key);
	}
	return node;
}

/* The schema of a kind: locations first, then the built-in set, then the tree's CRDs. */
static bool find_kind(gg_schemap *sp, const char *group, const char *version, const char *kind,
                      const gg_sset **set, uint32_t *node)
{
	load_locations(sp);
	for (size_t i = 0; i < sp->nlocs; i++) {
		struct location *loc = &sp->locs[i];
		*set = gg_ssetb_view(loc->set);
		*node = gg_sset_find_kind(*set, group, version, kind);
		if (*node == GG_SNONE)
			*node = location_kind_file(sp, loc, group, version, kind);
		if (*node != GG_SNONE) {
			*set = gg_ssetb_view(loc->set);
			return true;
		}
	}
	if (sp->builtin) {
		*set = &gg_k8s_builtin;
		*node = gg_sset_find_kind(*set, group, version, kind);
		if (*node != GG_SNONE)
			return true;
	}
	scan_crds(sp);
	*set = gg_ssetb_view(sp->crds);
	*node = gg_sset_find_kind(*set, group, version, kind);
	return *node != GG_SNONE;
}

/* ---- the validator ---- */

struct vc {
	gg_schemap *sp;
	const char *path;
	gg_report *r;
	size_t *budget;
	size_t dropped;
	/* Where in the document: keys and indices, rendered only for a violation
	 * ("spec.template.spec.containers[0]"). */
	struct seg {
		const char *key; /* NULL: an index */
		uint32_t index;
	} jp[MAX_PATH];
	size_t depth;
	unsigned quiet;
	unsigned nest;
	uint64_t steps;
	bool stopped;
	bool strict;
};

static void verr(struct vc *c, const gg_ynode *at, gg_severity sev, const char *fmt, ...)
    GG_PRINTF(4, 5);

static void verr(struct vc *c, const gg_ynode *at, gg_severity sev, const char *fmt, ...)
{
	if (c->quiet)
		return;
	if (*c->budget == 0) {
		c->dropped++;
		return;
	}
	(*c->budget)--;
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	gg_loc loc = {.path = c->path, .line = at->line, .col = at->col};
	gg_buf where = GG_BUF_INIT;
	for (size_t i = 0; i < c->depth; i++) {
		if (c->jp[i].key == NULL) {
			gg_buf_printf(&where, "[%u]", c->jp[i].index);
			continue;
		}
		if (i)
			gg_buf_putc(&where, '.');
		put_safe(&where, c->jp[i].key, 100);
	}
	gg_report_add(c->r, "k8s-schema", sev, &loc, "%s%s%s", where.len ? where.ptr : "",
	              where.len ? ": " : "", m);
	gg_buf_free(&where);
	free(m);
}

static size_t jp_push_key(struct vc *c, const char *key)
{
	size_t mark = c->depth;
	if (c->depth < MAX_PATH)
		c->jp[c->depth++] = (struct seg){key, 0};
	return mark;
}

static size_t jp_push_index(struct vc *c, uint32_t i)
{
	size_t mark = c->depth;
	if (c->depth < MAX_PATH)
		c->jp[c->depth++] = (struct seg){NULL, i};
	return mark;
}

static void jp_pop(struct vc *c, size_t mark)
{
	c->depth = mark;
}

/* YAML 1.1 booleans as Kubernetes' YAML decoder reads plain scalars. */
static bool yaml11_bool(const char *s, bool *value)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF"};
	if (!strchr("yYnNoO", *s) || !*s || strlen(s) > 3)
		return false;
	for (size_t i = 0; i < GG_ARRAY_LEN(yes); i++) {
		if (!strcmp(s, yes[i]))
			return *value = true, true;
		if (!strcmp(s, no[i]))
			return *value = false, true;
	}
	return false;
}

/* YAML 1.1 integers the core schema leaves as strings: 0b1010, 1_000. */
static bool yaml11_int(const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (p[0] == '0' && p[1] == 'b' && p[2]) {
		for (p += 2; *p; p++)
			if (*p != '0' && *p != '1' && *p != '_')
				return false;
		return true;
	}
	if (!(*p >= '0' && *p <= '9'))
		return false;
	bool under = false;
	for (; *p; p++) {
		if (*p == '_')
			under = true;
		else if (!(*p >= '0' && *p <= '9'))
			return false;
	}
	return under;
}

/* 010 is octal in YAML 1.1 */
static bool yaml11_octal(const gg_ynode *v)
{
	const char *p = v->str + (v->str[0] == '-' || v->str[0] == '+');
	return v->type == GG_Y_INT && v->plain && p[0] == '0' && p[1] >= '0' && p[1] <= '7';
}

/* The value's type as the API server sees it (GG_ST_*). */
static unsigned value_type(const gg_ynode *v)
{
	bool b;
	switch (v->type) {
	case GG_Y_MAP:
		return GG_ST_OBJECT;
	case GG_Y_SEQ:
		return GG_ST_ARRAY;
	case GG_Y_BOOL:
		return GG_ST_BOOLEAN;
	case GG_Y_INT:
		return GG_ST_INTEGER;
	case GG_Y_FLOAT:
		return GG_ST_NUMBER;
	case GG_Y_NULL:
		return GG_ST_NULL;
	case GG_Y_STRING:
		if (v->plain && v->str && yaml11_bool(v->str, &b))
			return GG_ST_BOOLEAN;
		if (v->plain && v->str && yaml11_int(v->str))
			return GG_ST_INTEGER;
		return GG_ST_STRING;
	}
	return GG_ST_STRING;
}

static void put_types(gg_buf *b, unsigned types)
{
	static const char *const names[] = {"null",   "boolean", "integer", "number",
	                                    "string", "array",   "object"};
	unsigned n = 0;
	for (unsigned i = 0; i < GG_ARRAY_LEN(names); i++)
		if (types & (1u << i))
			gg_buf_printf(b, "%s%s", n++ ? " or " : "", names[i]);
}

/* "string \"three\"", "boolean yes", "integer 3", "object". */
static void put_found(gg_buf *b, const gg_ynode *v, unsigned vt)
{
	put_types(b, vt);
	if (v->type == GG_Y_MAP || v->type == GG_Y_SEQ || v->type == GG_Y_NULL)
		return;
	gg_buf_puts(b, vt == GG_ST_STRING ? " \"" : " ");
	put_safe(b, v->str ? v->str : "", 60);
	if (vt == GG_ST_STRING)
		gg_buf_putc(b, '"');
}

static void type_error(struct vc *c, const gg_ynode *v, unsigned want, unsigned vt)
{
	gg_buf m = GG_BUF_INIT;
	gg_buf_puts(&m, "expected ");
	put_types(&m, want);
	gg_buf_puts(&m, ", found ");
	put_found(&m, v, vt);
	bool plain_scalar =
	    v->plain && v->str && (vt & (GG_ST_BOOLEAN | GG_ST_INTEGER | GG_ST_NUMBER));
	if (plain_scalar && (want & GG_ST_STRING)) {
		bool b;
		if (v->type == GG_Y_STRING && yaml11_bool(v->str, &b)) {
			gg_buf_puts(&m, " (Kubernetes reads an unquoted ");
			put_safe(&m, v->str, 20);
			gg_buf_printf(&m, " as the boolean %s; quote it: \"", b ? "true" : "false");
		} else if (yaml11_octal(v)) {
			gg_buf_puts(&m, " (Kubernetes reads an unquoted ");
			put_safe(&m, v->str, 20);
			gg_buf_printf(&m, " as the octal number %lld; quote it: \"",
			              strtoll(v->str, NULL, 8));
		} else {
			gg_buf_puts(&m, " (quote it: \"");
		}
		put_safe(&m, v->str, 60);
		gg_buf_puts(&m, "\")");
	}
	verr(c, v, GG_SEV_ERROR, "%s", m.ptr);
	gg_buf_free(&m);
}

/* Integer bounds of format int32 / int64, on the text so that 2^63 is exact. */
static bool fits(const gg_ynode *v, bool int32)
{
	if (v->type != GG_Y_INT)
		return true; /* 0b and 1_000 forms: rare, not range-checked */
	errno = 0;
	const char *s = v->str;
	long long x;
	if (yaml11_octal(v))
		x = strtoll(s, NULL, 8);
	else if (strstr(s, "0o"))
		x = strtoll(strstr(s, "0o") + 2, NULL, 8) * (s[0] == '-' ? -1 : 1);
	else
		x = strtoll(s, NULL, 0);
	if (errno == ERANGE)
		return false;
	return !int32 || (x >= INT32_MIN && x <= INT32_MAX);
}

static unsigned validate(struct vc *c, const gg_sset *s, uint32_t idx, const gg_ynode *v);

/* Optimal string alignment distance, capped: enough for "did you mean". */
static unsigned distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 64 || m > 64)
		return 99;
	unsigned d[66][66];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned x = d[i - 1][j] + 1, y = d[i][j - 1] + 1,
			         z = d[i - 1][j - 1] + cost;
			unsigned best = x < y ? x : y;
			best = best < z ? best : z;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[n][m];
}

static void consider(const char *key, const char *cand, const char **best, unsigned *bestd)
{
	unsigned d = strcasecmp(key, cand) ? distance(key, cand) : 0;
	size_t len = strlen(key);
	unsigned limit = len <= 3 ? 1 : len <= 8 ? 2 : 3;
	if (d <= limit && d < *bestd) {
		*best = cand;
		*bestd = d;
	}
}

static const char *const embedded_fields[] = {"apiVersion", "kind", "metadata"};

static void unknown_field(struct vc *c, const gg_sset *s, const gg_snode *n, const gg_ynode *k)
{
	const char *key = k->str ? k->str : "";
	const char *best = NULL;
	unsigned bestd = 99;
	for (uint32_t i = 0; i < n->nprops; i++)
		consider(key, gg_sset_str(s, s->props[n->props + i].name), &best, &bestd);
	for (size_t i = 0; (n->flags & GG_SF_EMBEDDED) && i < GG_ARRAY_LEN(embedded_fields); i++)
		consider(key, embedded_fields[i], &best, &bestd);
	gg_buf m = GG_BUF_INIT;
	gg_buf_puts(&m, "unknown field \"");
	put_safe(&m, key, 100);
	gg_buf_putc(&m, '"');
	if (best) {
		gg_buf_puts(&m, " (did you mean \"");
		put_safe(&m, best, 100);
		gg_buf_puts(&m, "\"?)");
	}
	verr(c, k, GG_SEV_ERROR, "%s", m.ptr);
	gg_buf_free(&m);
}

static bool nullable(const gg_sset *s, uint32_t idx)
{
	for (unsigned hops = 0; idx != GG_SNONE && hops < MAX_REF_HOPS; hops++) {
		if (s->nodes[idx].flags & GG_SF_NULLABLE)
			return true;
		idx = s->nodes[idx].ref;
	}
	return false;
}

static unsigned check_object(struct vc *c, const gg_sset *s, const gg_snode *n, const gg_ynode *v)
{
	unsigned e = 0;
	bool embedded = n->flags & GG_SF_EMBEDDED;
	for (uint32_t i = 0; i < v->n && !c->stopped; i++) {
		const gg_ynode *k = v->items[2 * i], *val = v->items[2 * i + 1];
		const char *key = k->str ? k->str : "";
		const gg_sprop *p = gg_sset_find_prop(s, n, key);
		size_t mark = jp_push_key(c, key);
		if (embedded && !strcmp(key, "metadata")) {
			/* A resource's metadata is ObjectMeta whatever its CRD declares (CRDs
			 * generated from Go types say only "type: object" there). */
			if (gg_k8s_builtin.objmeta != GG_SNONE)
				e += validate(c, &gg_k8s_builtin, gg_k8s_builtin.objmeta, val);
		} else if (p) {
			e += validate(c, s, p->node, val);
		} else if (embedded && (!strcmp(key, "apiVersion") || !strcmp(key, "kind"))) {
			if (val->type != GG_Y_STRING) {
				type_error(c, val, GG_ST_STRING, value_type(val));
				e++;
			}
		} else if (n->addl != GG_SNONE) {
			e += validate(c, s, n->addl, val);
		} else if ((n->flags & GG_SF_CLOSED) && c->strict) {
			jp_pop(c, mark);
			unknown_field(c, s, n, k);
			e++;
			continue;
		}
		jp_pop(c, mark);
	}
	for (uint32_t i = 0; i < n->nreq; i++) {
		const char *name = gg_sset_str(s, s->strs[n->req + i]);
		const gg_ynode *val = gg_ymap_get(v, name);
		const gg_sprop *p = gg_sset_find_prop(s, n, name);
		if (val && (val->type != GG_Y_NULL || (p && nullable(s, p->node))))
			continue;
		gg_buf q = GG_BUF_INIT;
		put_safe(&q, name, 100);
		verr(c, v, GG_SEV_ERROR, "missing required field \"%s\"", q.ptr);
		gg_buf_free(&q);
		e++;
	}
	if (embedded) {
		for (size_t i = 0; i < 2; i++)
			if (!gg_ymap_get(v, embedded_fields[i])) {
				verr(c, v, GG_SEV_ERROR, "missing required field \"%s\"",
				     embedded_fields[i]);
				e++;
			}
	}
	return e;
}

/* A simple branch of oneOf/anyOf: a type and nothing else, as IntOrString's. */
static bool type_only(const gg_sset *s, uint32_t idx, unsigned *types)
{
	const gg_snode *n = &s->nodes[idx];
	if (n->ref != GG_SNONE || !n->types || n->nprops || n->nreq || n->nenm ||
	    n->items != GG_SNONE || n->addl != GG_SNONE || n->nallof || n->nanyof || n->noneof)
		return false;
	*types |= n->types;
	return true;
}

static unsigned check_choice(struct vc *c, const gg_sset *s, uint32_t first, uint32_t count,
                             const gg_ynode *v, bool one)
{
	unsigned passes = 0, best_errors = UINT_MAX, types = 0;
	uint32_t best = GG_SNONE;
	bool simple = true;
	c->quiet++;
	for (uint32_t i = 0; i < count && !c->stopped; i++) {
		uint32_t sub = s->subs[first + i];
		unsigned e = validate(c, s, sub, v);
		if (e == 0)
			passes++;
		if (e < best_errors)
			best_errors = e, best = sub;
		simple = simple && type_only(s, sub, &types);
	}
	c->quiet--;
	if (c->stopped)
		return 1;
	if (one ? passes == 1 : passes >= 1)
		return 0;
	if (passes > 1) {
		verr(c, v, GG_SEV_ERROR, "matches %u of the schemas of oneOf, it must match one",
		     passes);
		return 1;
	}
	if (simple && types) {
		type_error(c, v, types, value_type(v));
		return 1;
	}
	if (best != GG_SNONE)
		return validate(c, s, best, v) ? best_errors : 1;
	return 1;
}

static unsigned validate(struct vc *c, const gg_sset *s, uint32_t idx, const gg_ynode *v)
{
	if (c->stopped)
		return 1;
	if (++c->steps > MAX_STEPS || c->nest >= MAX_SCHEMA_NEST) {
		bool q = c->quiet;
		c->quiet = 0;
		verr(c, v, GG_SEV_ERROR,
		     "limit: the schema needs more than %u steps or %u nested levels here "
		     "(a schema cycle?)",
		     MAX_STEPS, MAX_SCHEMA_NEST);
		c->quiet = q;
		c->stopped = true;
		return 1;
	}
	const gg_snode *n = &s->nodes[idx];
	for (unsigned hops = 0; n->ref != GG_SNONE; hops++) {
		if (hops >= MAX_REF_HOPS) {
			verr(c, v, GG_SEV_ERROR,
			     "limit: more than %u $ref in a row (a $ref cycle?)", MAX_REF_HOPS);
			return 1;
		}
		n = &s->nodes[n->ref];
	}
	/* null means "not set" to the API server's decoder. */
	if (v->type == GG_Y_NULL)
		return 0;
	unsigned e = 0;
	unsigned vt = value_type(v);
	if (n->flags & GG_SF_INTORSTR) {
		if (!(vt & (GG_ST_INTEGER | GG_ST_STRING))) {
			type_error(c, v, GG_ST_INTEGER | GG_ST_STRING, vt);
			return 1;
		}
	} else if (n->types) {
		unsigned want = n->types;
		if (want & GG_ST_NUMBER)
			want |= GG_ST_INTEGER;
		if (!(vt & want)) {
			type_error(c, v, n->types, vt);
			return 1;
		}
	}
	c->nest++;
	if (n->nenm && gg_yis_scalar(v)) {
		bool ok = false;
		for (uint32_t i = 0; i < n->nenm && !ok; i++)
			ok = v->str && !strcmp(v->str, gg_sset_str(s, s->strs[n->enm + i]));
		if (!ok) {
			gg_buf m = GG_BUF_INIT;
			gg_buf_puts(&m, "must be one of ");
			for (uint32_t i = 0; i < n->nenm && i < 20; i++) {
				gg_buf_puts(&m, i ? ", " : "");
				put_safe(&m, gg_sset_str(s, s->strs[n->enm + i]), 60);
			}
			if (n->nenm > 20)
				gg_buf_puts(&m, ", ...");
			gg_buf_puts(&m, " (found ");
			if (vt == GG_ST_STRING)
				gg_buf_putc(&m, '"');
			put_safe(&m, v->str ? v->str : "", 60);
			gg_buf_puts(&m, vt == GG_ST_STRING ? "\")" : ")");
			verr(c, v, GG_SEV_ERROR, "%s", m.ptr);
			gg_buf_free(&m);
			e++;
		}
	}
	if (vt == GG_ST_INTEGER && (n->flags & (GG_SF_INT32 | GG_SF_INT64)) &&
	    !fits(v, n->flags & GG_SF_INT32)) {
		verr(c, v, GG_SEV_ERROR, "%s is out of range for %s", v->str,
		     n->flags & GG_SF_INT32 ? "int32" : "int64");
		e++;
	}
	if (v->type == GG_Y_MAP)
		e += check_object(c, s, n, v);
	if (v->type == GG_Y_SEQ && n->items != GG_SNONE) {
		for (uint32_t i = 0; i < v->n && !c->stopped; i++) {
			size_t mark = jp_push_index(c, i);
			e += validate(c, s, n->items, v->items[i]);
			jp_pop(c, mark);
		}
	}
	for (uint32_t i = 0; i < n->nallof && !c->stopped; i++)
		e += validate(c, s, s->subs[n->allof + i], v);
	if (n->nanyof)
		e += check_choice(c, s, n->anyof, n->nanyof, v, false);
	if (n->noneof)
		e += check_choice(c, s, n->oneof, n->noneof, v, true);
	c->nest--;
	return e;
}

/* ---- documents ---- */

static const char *str_of(const gg_ynode *n)
{
	return n && n->type == GG_Y_STRING && n->str ? n->str : NULL;
}

static bool builtin_has_kind(const char *kind, gg_buf *versions)
{
	const gg_sset *s = &gg_k8s_builtin;
	bool any = false;
	for (size_t i = 0; i < s->nkinds; i++) {
		if (strcmp(gg_sset_str(s, s->kinds[i].kind), kind))
			continue;
		const char *g = gg_sset_str(s, s->kinds[i].group);
		gg_buf_printf(versions, "%s%s%s%s", any ? ", " : "", g, *g ? "/" : "",
		              gg_sset_str(s, s->kinds[i].version));
		any = true;
	}
	return any;
}

static void check_resource(struct vc *c, const gg_ynode *doc);

/* kind: List (v1): a list of resources, each checked as its own. */
static void check_list(struct vc *c, const gg_ynode *doc)
{
	for (uint32_t i = 0; i < doc->n; i++) {
		const gg_ynode *k = doc->items[2 * i], *v = doc->items[2 * i + 1];
		if (gg_yis(k, "apiVersion") || gg_yis(k, "kind") || gg_yis(k, "metadata"))
			continue;
		if (!gg_yis(k, "items")) {
			if (c->strict) {
				char *name = safe(k->str ? k->str : "");
				verr(
				    c, k, GG_SEV_ERROR,
				    "unknown field \"%s\" (a List holds apiVersion, kind, metadata "
				    "and items)",
				    name);
				free(name);
			}
			continue;
		}
		if (v->type == GG_Y_NULL)
			continue;
		if (v->type != GG_Y_SEQ) {
			size_t mark = jp_push_key(c, "items");
			type_error(c, v, GG_ST_ARRAY, value_type(v));
			jp_pop(c, mark);
			continue;
		}
		for (uint32_t j = 0; j < v->n && !c->stopped; j++) {
			size_t mark = jp_push_key(c, "items");
			jp_push_index(c, j);
			if (v->items[j]->type != GG_Y_MAP)
				type_error(c, v->items[j], GG_ST_OBJECT, value_type(v->items[j]));
			else
				check_resource(c, v->items[j]);
			jp_pop(c, mark);
		}
	}
}

static void check_resource(struct vc *c, const gg_ynode *doc)
{
	const gg_ynode *kn = gg_ymap_get(doc, "kind");
	const gg_ynode *an = gg_ymap_get(doc, "apiVersion");
	const char *kind = str_of(kn), *api = str_of(an);
	if (kn == NULL)
		return; /* not a resource: values, Chart.yaml, other YAML */
	if (kind == NULL || !*kind) {
		size_t mark = jp_push_key(c, "kind");
		type_error(c, kn, GG_ST_STRING, value_type(kn));
		jp_pop(c, mark);
		return;
	}
	if (an == NULL) {
		verr(c, doc, GG_SEV_ERROR, "missing required field \"apiVersion\"");
		return;
	}
	if (api == NULL || !*api) {
		size_t mark = jp_push_key(c, "apiVersion");
		type_error(c, an, GG_ST_STRING, value_type(an));
		jp_pop(c, mark);
		return;
	}
	const char *slash = strchr(api, '/');
	char *group = slash ? gg_strndup(api, (size_t)(slash - api)) : gg_strdup("");
	const char *version = slash ? slash + 1 : api;
	/* Kustomize's own files are not resources of the cluster. */
	if (!strcmp(group, "kustomize.config.k8s.io") || !strcmp(group, "config.kubernetes.io"))
		goto done;
	if (!strcmp(api, "v1") && !strcmp(kind, "List")) {
		check_list(c, doc);
		goto done;
	}
	const gg_sset *set;
	uint32_t node;
	if (find_kind(c->sp, group, version, kind, &set, &node)) {
		validate(c, set, node, doc);
		goto done;
	}
	gg_buf known = GG_BUF_INIT;
	char *k = safe(kind), *a = safe(api);
	if (c->sp->builtin && builtin_has_kind(kind, &known)) {
		verr(c, an, GG_SEV_ERROR, "%s %s is not served by Kubernetes %s (it serves %s)", k,
		     a, c->sp->version, known.ptr);
	} else if (c->sp->unknown != UNKNOWN_IGNORE) {
		verr(c, kn, c->sp->unknown == UNKNOWN_ERROR ? GG_SEV_ERROR : GG_SEV_WARNING,
		     "no schema for kind %s (%s): add its CustomResourceDefinition to the "
		     "repository or a schema location, or set unknown_kinds",
		     k, a);
	}
	free(k);
	free(a);
	gg_buf_free(&known);
done:
	free(group);
}

size_t gg_schema_check(gg_schemap *sp, const gg_ynode *doc, const char *path, size_t *budget,
                       gg_report *r)
{
	if (sp == NULL || doc == NULL || doc->type != GG_Y_MAP)
		return 0;
	struct vc c = {.sp = sp, .path = path, .r = r, .budget = budget, .strict = sp->strict};
	check_resource(&c, doc);
	/* What reading the locations and the tree's CRDs found, once per push. */
	for (; sp->nreported < sp->problems.n; sp->nreported++) {
		const gg_violation *p = &sp->problems.v[sp->nreported];
		gg_loc loc = {.path = p->path, .line = p->line, .col = p->col};
		gg_report_add(r, p->rule, p->severity, &loc, "%s", p->message);
	}
	return c.dropped;
}

size_t gg_sset_validate(const gg_sset *s, uint32_t node, const gg_ynode *doc, bool strict,
                        const char *path, size_t *budget, gg_report *r)
{
	struct vc c = {.path = path, .r = r, .budget = budget, .strict = strict};
	if (doc && node < s->nnodes)
		validate(&c, s, node, doc);
	return c.dropped;
}
