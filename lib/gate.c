/*
 * The push-checking engine. Work is bounded by what the push introduces: the
 * revision walk hides every existing ref, each commit is diffed once against
 * its first parent, each (old blob, new blob) pair is scanned once, and blob
 * sizes come from the object header so an oversized blob is never loaded.
 */
#include "gitgate/gate.h"
#include "gitgate/glob.h"
#include "gitgate/manifest.h"
#include "gitgate/mscan.h"
#include "gitgate/refrules.h"
#include "gitgate/secrets.h"
#include "gitgate/verify.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Blobs larger than this are not loaded to be scanned for secrets (a warning says so). */
#define GATE_MAX_SCAN ((size_t)256 << 20)

/* A set of byte strings (open addressing); only ever grows during one push. */
struct set {
	struct slot {
		uint64_t h;
		char *key;
		size_t len;
	} * s;
	size_t n, cap;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static void set_insert_slot(struct slot *tab, size_t cap, struct slot e)
{
	size_t i = e.h & (cap - 1);
	while (tab[i].key)
		i = (i + 1) & (cap - 1);
	tab[i] = e;
}

static struct slot *set_find(const struct set *s, const void *key, size_t len, uint64_t h)
{
	if (s->cap == 0)
		return NULL;
	for (size_t i = h & (s->cap - 1); s->s[i].key; i = (i + 1) & (s->cap - 1))
		if (s->s[i].h == h && s->s[i].len == len && memcmp(s->s[i].key, key, len) == 0)
			return &s->s[i];
	return NULL;
}

static bool set_has(const struct set *s, const void *key, size_t len)
{
	return set_find(s, key, len, hash_bytes(key, len)) != NULL;
}

/* True when key was not in the set (and is now). */
static bool set_add(struct set *s, const void *key, size_t len)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct slot *tab = gg_calloc(cap, sizeof(*tab));
		for (size_t i = 0; i < s->cap; i++)
			if (s->s[i].key)
				set_insert_slot(tab, cap, s->s[i]);
		free(s->s);
		s->s = tab;
		s->cap = cap;
	}
	uint64_t h = hash_bytes(key, len);
	if (set_find(s, key, len, h))
		return false;
	size_t i = h & (s->cap - 1);
	while (s->s[i].key)
		i = (i + 1) & (s->cap - 1);
	s->s[i].h = h;
	s->s[i].key = gg_malloc(len ? len : 1);
	memcpy(s->s[i].key, key, len);
	s->s[i].len = len;
	s->n++;
	return true;
}

static void set_free(struct set *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->s[i].key);
	free(s->s);
	memset(s, 0, sizeof(*s));
}

struct gg_gate {
	git_repository *repo;
	git_odb *odb;
	const gg_policy *p;
	gg_report *r;
	bool allow_deletion;
	/* Existing refs, peeled to commits: the walk hides them (NEW --not --all). */
	git_oid *hide;
	size_t nhide, caphide;
	bool hide_loaded;
	struct set tips; /* the same commits, as a set, for the quarantine walk */
	/*
	 * The commits of branches and tags (refs/heads/, refs/tags/): every push that set them
	 * passed the gate, so their trees are where a new ref is compared from.
	 * Other namespaces (refs/pull/, refs/keep-around/) are written by forges
	 * without the gate and prove nothing. The tips this push moves refs to
	 * join them once checked: should one fail, the whole push is refused.
	 */
	struct set trusted;
	git_oid first_tip; /* the first of those, when have_first_tip */
	bool have_first_tip;
	git_odb *main_odb;    /* the store without the quarantine, when the push has one */
	struct set commits;   /* commits checked in this push */
	struct set pairs;     /* (old blob, new blob) pairs scanned for secrets */
	struct set seen;      /* path findings already reported */
	struct set diffed;    /* (from tree, to tree) of the commits checked whole */
	struct set ref_trees; /* (base tree, tree) pairs checked for some ref */
	struct set manifests; /* (tree, blob, path) of the manifests validated */
	/* The ref tree being checked, as charts and kustomizations see it (PASS_REF only). */
	gg_mscan *scan;
	git_tree *scan_tree;
	struct set ref_files; /* (blob, path) given the file rules for some ref */
	size_t ncommits;
};

char *gg_gate_sanitize(const char *s, size_t len)
{
	return gg_report_escape(s, len);
}

static int git_fail(char **err, const char *what)
{
	const git_error *e = git_error_last();
	*err = gg_printf("%s: %s", what, e && e->message ? e->message : "unknown error");
	return -1;
}

int gg_gate_new(gg_gate **out, git_repository *repo, const gg_policy *p, gg_report *r, char **err)
{
	*out = NULL;
	gg_gate *g = gg_calloc(1, sizeof(*g));
	g->repo = repo;
	g->p = p;
	g->r = r;
	if (git_repository_odb(&g->odb, repo) < 0) {
		free(g);
		return git_fail(err, "cannot open the object database");
	}
	*out = g;
	return 0;
}

void gg_gate_free(gg_gate *g)
{
	if (g == NULL)
		return;
	free(g->hide);
	set_free(&g->trusted);
	set_free(&g->diffed);
	set_free(&g->ref_trees);
	set_free(&g->manifests);
	set_free(&g->ref_files);
	set_free(&g->commits);
	set_free(&g->pairs);
	set_free(&g->seen);
	set_free(&g->tips);
	git_odb_free(g->main_odb);
	git_odb_free(g->odb);
	free(g);
}

int gg_gate_set_main_store(gg_gate *g, const char *objects_dir, char **err)
{
	git_odb_free(g->main_odb);
	g->main_odb = NULL;
	if (git_odb_open(&g->main_odb, objects_dir) < 0)
		return git_fail(err, "cannot open the repository's object store");
	return 0;
}

void gg_gate_allow_deletion(gg_gate *g, bool allow)
{
	g->allow_deletion = allow;
}

size_t gg_gate_ncommits(const gg_gate *g)
{
	return g->ncommits;
}

static gg_severity sev(void)
{
	return GG_SEV_ERROR; /* warn mode is applied once, at the end (gg_gate_apply_mode) */
}

/* ---- file rules ---- */

struct secret_ctx {
	gg_report *r;
	const char *path;   /* the file, or NULL for a message */
	const char *where;  /* "commit 1a2b3c4", or NULL in a working tree */
	const char *commit; /* a message's commit (or tag) id: the finding's place */
	const char *what;   /* "commit message", "tag message" */
};

static void on_secret(void *arg, const gg_secret_hit *h)
{
	struct secret_ctx *c = arg;
	gg_loc loc = {.path = c->path, .line = h->line, .col = h->col, .commit = c->commit};
	gg_buf m = GG_BUF_INIT;
	gg_buf_printf(&m, "possible %s%s%s (%s)", h->description, h->redacted[0] ? " " : "",
	              h->redacted, h->rule);
	if (c->what)
		gg_buf_printf(&m, " in the %s, line %u", c->what, h->line);
	else if (c->where)
		gg_buf_printf(&m, " added in %s", c->where);
	gg_report_add(c->r, "secret", h->warning ? GG_SEV_WARNING : sev(), &loc, "%s", m.ptr);
	gg_buf_free(&m);
}

/* Every line of a text counts as added. */
static void scan_text(const gg_policy *p, struct secret_ctx *c, const char *match_path,
                      const char *data, size_t len)
{
	gg_secrets_scan(p->files.secrets, match_path, data, len, NULL, 0, on_secret, c);
}

/* A commit's or tag's message: its findings carry the short id in place of a position. */
static void scan_message(gg_gate *g, const char *msg, const char *id, const char *what)
{
	if (!g->p->files.secrets || msg == NULL)
		return;
	struct secret_ctx c = {g->r, NULL, NULL, id, what};
	gg_secrets_scan(g->p->files.secrets, NULL, msg, strlen(msg), NULL, 0, on_secret, &c);
}

/* An annotated tag's message, and those of the tags it points at (bounded). */
static void scan_tag_messages(gg_gate *g, git_object *o)
{
	git_object *cur = NULL, *next = NULL;
	if (!g->p->files.secrets || git_object_dup(&cur, o) < 0)
		return;
	for (int depth = 0; depth < 16 && git_object_type(cur) == GIT_OBJECT_TAG; depth++) {
		char id[8];
		git_oid_tostr(id, sizeof(id), git_object_id(cur));
		scan_message(g, git_tag_message((git_tag *)cur), id, "tag message");
		if (git_tag_target(&next, (git_tag *)cur) < 0)
			break;
		git_object_free(cur);
		cur = next;
		next = NULL;
	}
	git_object_free(cur);
}

static const char *denied_by(const gg_policy *p, const char *path)
{
	for (size_t i = 0; i < p->files.ndeny_paths; i++)
		if (gg_glob_match(p->files.deny_paths[i], path))
			return p->files.deny_paths[i];
	return NULL;
}

static void human_size(char *out, size_t n, uint64_t v)
{
	if (v >= 1024 * 1024)
		snprintf(out, n, "%.1f MiB", (double)v / (1024.0 * 1024.0));
	else if (v >= 1024)
		snprintf(out, n, "%.1f KiB", (double)v / 1024.0);
	else
		snprintf(out, n, "%llu bytes", (unsigned long long)v);
}

static void report_size(gg_report *r, const gg_policy *p, const char *path, uint64_t size,
                        const char *where)
{
	char have[32], lim[32];
	human_size(have, sizeof(have), size);
	human_size(lim, sizeof(lim), p->files.max_size);
	gg_loc loc = {.path = path, .line = 1, .col = 1};
	if (where)
		gg_report_add(r, "max-size", sev(), &loc, "file is %s, over the %s limit (%s)",
		              have, lim, where);
	else
		gg_report_add(r, "max-size", sev(), &loc, "file is %s, over the %s limit", have,
		              lim);
}

static void report_denied(gg_report *r, const char *path, const char *glob, const char *where)
{
	gg_loc loc = {.path = path, .line = 1, .col = 1};
	if (where)
		gg_report_add(r, "deny-path", sev(), &loc, "path matches denied pattern '%s' (%s)",
		              glob, where);
	else
		gg_report_add(r, "deny-path", sev(), &loc, "path matches denied pattern '%s'",
		              glob);
}

void gg_gate_check_file(const gg_policy *p, const char *display_path, const char *match_path,
                        const char *data, size_t len, uint64_t size, gg_report *r)
{
	const char *glob = denied_by(p, match_path);
	if (glob)
		report_denied(r, display_path, glob, NULL);
	if (p->files.max_size && size > p->files.max_size) {
		report_size(r, p, display_path, size, NULL);
		return;
	}
	if (p->files.secrets && data == NULL) {
		gg_loc loc = {.path = display_path, .line = 1, .col = 1};
		gg_report_add(r, "secret", GG_SEV_WARNING, &loc,
		              "not scanned for secrets: %llu bytes, too large to read",
		              (unsigned long long)size);
		return;
	}
	if (p->files.secrets) {
		struct secret_ctx c = {r, display_path, NULL, NULL, NULL};
		scan_text(p, &c, match_path, data, len);
	}
}

/*
 * Entries whose object is a blob. A symlink's blob is its target's name to
 * git, but any bytes to whoever reads the repository: it is sized and scanned
 * like a file, or a key stored with mode 120000 would slip past both.
 */
static bool is_blob_mode(uint32_t mode)
{
	return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
	       mode == GIT_FILEMODE_LINK;
}

static int scan_patch(gg_gate *g, const git_diff_delta *d, git_blob *newb, struct secret_ctx *c,
                      char **err)
{
	git_blob *oldb = NULL;
	git_patch *patch = NULL;
	gg_buf added = GG_BUF_INIT; /* the added lines, joined by '\n' */
	unsigned *lineno = NULL;
	size_t nlines = 0, cap = 0;
	int rc = -1;
	if (git_blob_lookup(&oldb, g->repo, &d->old_file.id) < 0) {
		git_fail(err, "cannot read a blob of the push");
		goto done;
	}
	git_diff_options opts;
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	opts.context_lines = 0;
	opts.flags = GIT_DIFF_FORCE_TEXT;
	if (git_patch_from_blobs(&patch, oldb, d->old_file.path, newb, d->new_file.path, &opts) <
	    0) {
		git_fail(err, "cannot diff a blob of the push");
		goto done;
	}
	size_t nh = git_patch_num_hunks(patch);
	for (size_t h = 0; h < nh; h++) {
		const git_diff_hunk *hunk;
		size_t nl;
		if (git_patch_get_hunk(&hunk, &nl, patch, h) < 0) {
			git_fail(err, "cannot diff a blob of the push");
			goto done;
		}
		for (size_t l = 0; l < nl; l++) {
			const git_diff_line *line;
			if (git_patch_get_line_in_hunk(&line, patch, h, l) < 0) {
				git_fail(err, "cannot diff a blob of the push");
				goto done;
			}
			if (line->origin != GIT_DIFF_LINE_ADDITION)
				continue;
			size_t n = line->content_len;
			while (n && (line->content[n - 1] == '\n' || line->content[n - 1] == '\r'))
				n--;
			if (nlines == cap) {
				cap = cap ? 2 * cap : 64;
				lineno = gg_reallocarray(lineno, cap, sizeof(*lineno));
			}
			lineno[nlines++] = (unsigned)line->new_lineno;
			gg_buf_put(&added, line->content, n);
			gg_buf_putc(&added, '\n');
		}
	}
	if (nlines)
		gg_secrets_scan(g->p->files.secrets, d->new_file.path, added.ptr, added.len, lineno,
		                nlines, on_secret, c);
	rc = 0;
done:
	free(lineno);
	gg_buf_free(&added);
	git_patch_free(patch);
	git_blob_free(oldb);
	return rc;
}

/*
 * Which rules a tree difference is checked with. The commits a push
 * introduces get every file rule, each on what its commit changed. Each ref
 * the push moves gets the tree-level rules on what is new to that ref (its
 * old tree, or a trusted tree for a new ref, to its new tree): the manifests,
 * and deny_paths and max_size (SKIP_FILES: already done by an identical
 * commit difference). Secrets are a matter of the commits that add them.
 */
enum pass { PASS_COMMIT, PASS_REF, PASS_REF_SKIP_FILES };

/* True when (d's blob, d's path) was not in s (and is now). */
static bool first_time(struct set *s, const git_diff_delta *d)
{
	gg_buf key = GG_BUF_INIT;
	gg_buf_put(&key, d->new_file.id.id, sizeof(d->new_file.id.id));
	gg_buf_puts(&key, d->new_file.path);
	bool fresh = set_add(s, key.ptr, key.len);
	gg_buf_free(&key);
	return fresh;
}

/* The pushed tree, as the manifest scan sees it (charts, kustomizations). */
struct push_tree {
	git_repository *repo;
	git_tree *tree;
};

/* A resource a kustomization names is read whole: bound what that may cost. */
#define TREE_MAX_READ (16u * 1024 * 1024)

static gg_mtree_kind push_tree_kind(void *ctx, const char *path)
{
	struct push_tree *t = ctx;
	git_tree_entry *e = NULL;
	if (*path == '\0')
		return GG_MTREE_DIR;
	if (git_tree_entry_bypath(&e, t->tree, path) < 0)
		return GG_MTREE_NONE;
	git_object_t type = git_tree_entry_type(e);
	git_tree_entry_free(e);
	/* A submodule (a commit) stands where a directory would. */
	return type == GIT_OBJECT_TREE || type == GIT_OBJECT_COMMIT ? GG_MTREE_DIR : GG_MTREE_FILE;
}

static int push_tree_read(void *ctx, const char *path, char **data, size_t *len)
{
	struct push_tree *t = ctx;
	git_tree_entry *e = NULL;
	git_blob *b = NULL;
	int rc = -1;
	if (git_tree_entry_bypath(&e, t->tree, path) < 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&b, t->repo, git_tree_entry_id(e)) < 0 ||
	    git_blob_rawsize(b) > TREE_MAX_READ)
		goto done;
	*len = (size_t)git_blob_rawsize(b);
	*data = gg_malloc(*len + 1);
	memcpy(*data, git_blob_rawcontent(b), *len);
	(*data)[*len] = '\0';
	rc = 0;
done:
	git_blob_free(b);
	git_tree_entry_free(e);
	return rc;
}

/*
 * A file a ref's tree adds, changes or drops: the kustomizations in its
 * directory and above must still find what they name in that tree.
 */
static void note_changed(gg_gate *g, enum pass pass, const char *path)
{
	if (pass == PASS_COMMIT || g->scan == NULL)
		return;
	char *shown = gg_gate_sanitize(path, strlen(path));
	(void)gg_mscan_changed(g->scan, path, shown, g->r);
	free(shown);
}

/*
 * Validate the manifest at d's path in the ref tree being checked, once per
 * (tree, blob, path) in this push: whether a file is a chart's template or
 * what a kustomization finds depends on the tree around it.
 */
static int check_manifest(gg_gate *g, const git_diff_delta *d, const char *shown, char **err)
{
	if (!gg_mpolicy_selects(g->p->manifests, d->new_file.path))
		return 0;
	gg_buf key = GG_BUF_INIT;
	if (g->scan_tree)
		gg_buf_put(&key, git_tree_id(g->scan_tree)->id, GIT_OID_RAWSZ);
	gg_buf_put(&key, d->new_file.id.id, sizeof(d->new_file.id.id));
	gg_buf_puts(&key, d->new_file.path);
	bool fresh = set_add(&g->manifests, key.ptr, key.len);
	gg_buf_free(&key);
	if (!fresh)
		return 0;
	git_blob *b = NULL;
	int rc = 0;
	const char *data;
	size_t len;
	if (git_blob_lookup(&b, g->repo, &d->new_file.id) < 0) {
		rc = git_fail(err, "cannot read a manifest of the push");
		goto done;
	}
	data = git_blob_rawcontent(b);
	len = (size_t)git_blob_rawsize(b);
	if ((g->scan ? gg_mscan_file(g->scan, d->new_file.path, shown, data, len, g->r)
	             : gg_manifest_check(g->p->manifests, shown, data, len, g->r)) < 0) {
		*err = gg_printf("%s: the manifest check failed", shown);
		rc = -1;
	}
done:
	git_blob_free(b);
	return rc;
}

static int check_delta(gg_gate *g, const git_diff_delta *d, const char *where, enum pass pass,
                       char **err)
{
	const gg_policy *p = g->p;
	if (d->status == GIT_DELTA_DELETED || d->new_file.mode == GIT_FILEMODE_COMMIT ||
	    d->new_file.mode == GIT_FILEMODE_TREE)
		return 0;
	char *path = gg_gate_sanitize(d->new_file.path, strlen(d->new_file.path));
	git_blob *blob = NULL;
	int rc = -1;
	if (p->manifests)
		note_changed(g, pass, d->new_file.path);
	if (pass != PASS_COMMIT && p->manifests && check_manifest(g, d, path, err) < 0)
		goto done;
	/* Many refs onto old commits (a push of every release tag) share most files. */
	if (pass == PASS_REF_SKIP_FILES || (pass == PASS_REF && !first_time(&g->ref_files, d))) {
		rc = 0;
		goto done;
	}
	const char *glob = denied_by(p, d->new_file.path);
	if (glob) {
		gg_buf key = GG_BUF_INIT;
		gg_buf_printf(&key, "D%s", d->new_file.path);
		if (set_add(&g->seen, key.ptr, key.len))
			report_denied(g->r, path, glob, where);
		gg_buf_free(&key);
	}
	if (!p->files.max_size && (pass != PASS_COMMIT || !p->files.secrets)) {
		rc = 0;
		goto done;
	}
	size_t size;
	git_object_t type;
	if (git_odb_read_header(&size, &type, g->odb, &d->new_file.id) < 0) {
		git_fail(err, "cannot read an object of the push");
		goto done;
	}
	rc = 0;
	if (p->files.max_size && size > p->files.max_size) {
		gg_buf key = GG_BUF_INIT;
		gg_buf_printf(&key, "S%s", d->new_file.path);
		gg_buf_put(&key, d->new_file.id.id, sizeof(d->new_file.id.id));
		if (set_add(&g->seen, key.ptr, key.len))
			report_size(g->r, p, path, size, where);
		gg_buf_free(&key);
		goto done;
	}
	if (!p->files.secrets || pass != PASS_COMMIT)
		goto done;
	if (size > GATE_MAX_SCAN) {
		/* Said out loud, not skipped in silence; max_size refuses such blobs. */
		gg_loc loc = {.path = path, .line = 1, .col = 1};
		gg_report_add(g->r, "secret", GG_SEV_WARNING, &loc,
		              "not scanned for secrets: %zu bytes, over the %u MiB scanning limit "
		              "(%s)",
		              size, (unsigned)(GATE_MAX_SCAN >> 20), where);
		goto done;
	}
	bool whole = d->status == GIT_DELTA_ADDED || !is_blob_mode(d->old_file.mode);
	unsigned char pair[2 * sizeof(d->new_file.id.id)];
	memset(pair, 0, sizeof(pair));
	if (!whole)
		memcpy(pair, d->old_file.id.id, sizeof(d->old_file.id.id));
	memcpy(pair + sizeof(d->new_file.id.id), d->new_file.id.id, sizeof(d->new_file.id.id));
	if (!set_add(&g->pairs, pair, sizeof(pair)))
		goto done;
	rc = -1;
	if (git_blob_lookup(&blob, g->repo, &d->new_file.id) < 0) {
		git_fail(err, "cannot read a blob of the push");
		goto done;
	}
	const char *data = git_blob_rawcontent(blob);
	size_t len = (size_t)git_blob_rawsize(blob);
	rc = 0;
	struct secret_ctx c = {g->r, path, where, NULL, NULL};
	/* A line diff of UTF-16 splits characters: such a file is scanned whole. */
	gg_text_kind kind = whole ? GG_TEXT_PLAIN : gg_secrets_text_kind(data, len);
	if (whole || kind == GG_TEXT_UTF16LE || kind == GG_TEXT_UTF16BE)
		scan_text(p, &c, d->new_file.path, data, len);
	else
		rc = scan_patch(g, d, blob, &c, err);
done:
	git_blob_free(blob);
	free(path);
	return rc;
}

/* ---- commit rules ---- */

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

static bool has_signoff(const char *msg)
{
	for (const char *p = msg; p && *p;) {
		if (!strncmp(p, "Signed-off-by:", 14)) {
			const char *v = p + 14;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v && *v != '\n')
				return true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

static void check_commit_rules(gg_gate *g, git_commit *c, const char *id)
{
	const gg_commit_rules *cr = &g->p->commits;
	gg_loc loc = {.commit = id};
	const char *msg = git_commit_message(c);
	if (msg == NULL)
		msg = "";
	/* The subject is the first line: what users mean by `^(feat|fix): ...`. */
	size_t sn = strcspn(msg, "\n");
	while (sn && (msg[sn - 1] == '\r' || msg[sn - 1] == ' ' || msg[sn - 1] == '\t'))
		sn--;
	int m = cr->message_pattern ? gg_regex_exec(cr->message_pattern, msg, sn) : GG_REGEX_MATCH;
	if (m != GG_REGEX_MATCH) {
		char *subj = gg_gate_sanitize(msg, sn > 80 ? 80 : sn);
		if (m == GG_REGEX_ERROR)
			gg_report_add(
			    g->r, "commit-message", sev(), &loc,
			    "subject '%s%s': message_pattern '%s' could not be evaluated: %s", subj,
			    sn > 80 ? "..." : "", gg_regex_source(cr->message_pattern),
			    gg_regex_error(cr->message_pattern));
		else
			gg_report_add(g->r, "commit-message", sev(), &loc,
			              "subject '%s%s' does not match message_pattern '%s'", subj,
			              sn > 80 ? "..." : "", gg_regex_source(cr->message_pattern));
		free(subj);
	}
	if (cr->max_subject_length) {
		size_t chars = utf8_chars(msg, sn);
		if (chars > cr->max_subject_length)
			gg_report_add(g->r, "subject-length", sev(), &loc,
			              "subject is %zu characters, over the limit of %u", chars,
			              cr->max_subject_length);
	}
	if (cr->author_email_pattern) {
		const git_signature *a = git_commit_author(c);
		const char *email = a && a->email ? a->email : "";
		m = gg_regex_exec(cr->author_email_pattern, email, strlen(email));
		char *e = gg_gate_sanitize(email, strlen(email));
		if (m == GG_REGEX_ERROR)
			gg_report_add(g->r, "author-email", sev(), &loc,
			              "author email '%s': author_email_pattern '%s' could not be "
			              "evaluated: %s",
			              e, gg_regex_source(cr->author_email_pattern),
			              gg_regex_error(cr->author_email_pattern));
		else if (m == GG_REGEX_NOMATCH)
			gg_report_add(g->r, "author-email", sev(), &loc,
			              "author email '%s' does not match author_email_pattern '%s'",
			              e, gg_regex_source(cr->author_email_pattern));
		free(e);
	}
	if (cr->require_signoff && !has_signoff(msg))
		gg_report_add(g->r, "signoff", sev(), &loc, "commit has no Signed-off-by trailer");
}

static bool needs_diff(const gg_policy *p)
{
	return p->files.max_size || p->files.ndeny_paths || p->files.secrets || p->manifests;
}

/*
 * A merge's file that is identical to the same path in another parent came
 * from that side, whose own commits are either on the server already or
 * introduced by this push and checked there: like `git diff-tree -c`, only
 * what the merge itself changed (a conflict resolution) is new.
 */
static bool from_other_parent(git_tree **others, unsigned n, const git_diff_delta *d)
{
	for (unsigned k = 0; k < n; k++) {
		git_tree_entry *e = NULL;
		if (git_tree_entry_bypath(&e, others[k], d->new_file.path) < 0)
			continue;
		bool same = git_oid_equal(git_tree_entry_id(e), &d->new_file.id) &&
		            git_tree_entry_filemode(e) == (git_filemode_t)d->new_file.mode;
		git_tree_entry_free(e);
		if (same)
			return true;
	}
	return false;
}

/* Directories nested deeper than this in a pushed tree refuse the push. */
#define GATE_MAX_TREE_DEPTH 1024

struct tree_diff {
	gg_gate *g;
	git_tree **others;
	unsigned nothers;
	const char *where;
	enum pass pass;
	char **err;
	gg_buf path;
	bool dropped; /* something of `from` is gone from `to` */
};

static int diff_trees(struct tree_diff *t, git_tree *from, git_tree *to, unsigned depth);

/* One entry of `to` against the entry of the same name in `from` (may be NULL). */
static int diff_entry(struct tree_diff *t, const git_tree_entry *f, const git_tree_entry *e,
                      unsigned depth)
{
	git_filemode_t emode = git_tree_entry_filemode(e);
	if (f && git_tree_entry_filemode(f) == emode &&
	    git_oid_equal(git_tree_entry_id(f), git_tree_entry_id(e)))
		return 0; /* identical: a whole unchanged directory costs nothing */
	size_t mark = t->path.len;
	if (mark)
		gg_buf_putc(&t->path, '/');
	gg_buf_puts(&t->path, git_tree_entry_name(e));
	int rc = -1;
	if (emode == GIT_FILEMODE_TREE) {
		git_tree *sub = NULL, *fsub = NULL;
		if (git_tree_lookup(&sub, t->g->repo, git_tree_entry_id(e)) < 0 ||
		    (f && git_tree_entry_filemode(f) == GIT_FILEMODE_TREE &&
		     git_tree_lookup(&fsub, t->g->repo, git_tree_entry_id(f)) < 0)) {
			git_fail(t->err, "cannot read a tree of the push");
		} else {
			rc = diff_trees(t, fsub, sub, depth + 1);
		}
		git_tree_free(sub);
		git_tree_free(fsub);
	} else {
		/* A directory replaced by a file is, as in git's diff, the file added. */
		bool modified = f && git_tree_entry_filemode(f) != GIT_FILEMODE_TREE;
		git_diff_delta d;
		memset(&d, 0, sizeof(d));
		d.status = modified ? GIT_DELTA_MODIFIED : GIT_DELTA_ADDED;
		d.new_file.path = t->path.ptr;
		d.new_file.mode = (uint16_t)emode;
		git_oid_cpy(&d.new_file.id, git_tree_entry_id(e));
		if (modified) {
			d.old_file.path = t->path.ptr;
			d.old_file.mode = (uint16_t)git_tree_entry_filemode(f);
			git_oid_cpy(&d.old_file.id, git_tree_entry_id(f));
		}
		rc = 0;
		if (!from_other_parent(t->others, t->nothers, &d))
			rc = check_delta(t->g, &d, t->where, t->pass, t->err);
	}
	t->path.len = mark;
	t->path.ptr[mark] = '\0';
	return rc;
}

/*
 * What was added or changed from `from` to `to`, descending only into
 * directories whose ids differ: libgit2's tree-to-tree diff expands every
 * directory of both trees, so a commit touching one file of a 50,000-file
 * tree cost a walk over all of them, once per pushed commit. Deletions are
 * not reported: no file rule applies to them.
 */
static int diff_trees(struct tree_diff *t, git_tree *from, git_tree *to, unsigned depth)
{
	if (depth > GATE_MAX_TREE_DEPTH) {
		*t->err = gg_printf("a tree of the push nests directories more than %d deep",
		                    GATE_MAX_TREE_DEPTH);
		return -1;
	}
	size_t n = git_tree_entrycount(to);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(to, i);
		const git_tree_entry *f =
		    from ? git_tree_entry_byname(from, git_tree_entry_name(e)) : NULL;
		if (diff_entry(t, f, e, depth) < 0)
			return -1;
	}
	/* What went away matters only to the kustomizations that may name it. */
	size_t m = from && t->g->p->manifests ? git_tree_entrycount(from) : 0;
	for (size_t i = 0; i < m; i++) {
		const char *name = git_tree_entry_name(git_tree_entry_byindex(from, i));
		if (git_tree_entry_byname(to, name))
			continue;
		t->dropped = true;
		size_t mark = t->path.len;
		if (mark)
			gg_buf_putc(&t->path, '/');
		gg_buf_puts(&t->path, name);
		note_changed(t->g, t->pass, t->path.ptr);
		t->path.len = mark;
		t->path.ptr[mark] = '\0';
	}
	return 0;
}

static int kustomization_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct tree_diff *t = payload;
	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	const char *name = git_tree_entry_name(e);
	if (strcmp(name, "kustomization.yaml") && strcmp(name, "kustomization.yml") &&
	    strcmp(name, "Kustomization"))
		return 0;
	gg_buf_clear(&t->path);
	gg_buf_puts(&t->path, root);
	gg_buf_puts(&t->path, name);
	note_changed(t->g, t->pass, t->path.ptr);
	return 0;
}

/* The rules of `pass` on what changed from tree `from` (NULL: the empty tree) to `to`. */
static int check_trees(gg_gate *g, git_tree *from, git_tree *to, git_tree **others,
                       unsigned nothers, const char *where, enum pass pass, char **err)
{
	struct tree_diff t = {g, others, nothers, where, pass, err, GG_BUF_INIT, false};
	gg_buf_grow(&t.path, 256);
	t.path.ptr[0] = '\0';
	int rc = diff_trees(&t, from, to, 0);
	/*
	 * What went away may be named by a kustomization anywhere in the tree
	 * (an overlay's `../../base`), not only in the directories above it: on
	 * a ref's tree that lost something, every kustomization is re-checked.
	 */
	if (rc == 0 && t.dropped && pass != PASS_COMMIT && g->scan &&
	    git_tree_walk(to, GIT_TREEWALK_PRE, kustomization_cb, &t) < 0)
		rc = git_fail(err, "cannot read a tree of the push");
	gg_buf_free(&t.path);
	return rc;
}

/* The key of a (from, to) tree pair; from NULL is the empty tree. Static storage. */
static const unsigned char *tree_pair(git_tree *from, git_tree *to)
{
	static unsigned char key[2 * GIT_OID_RAWSZ];
	memset(key, 0, sizeof(key));
	if (from)
		memcpy(key, git_tree_id(from)->id, GIT_OID_RAWSZ);
	memcpy(key + GIT_OID_RAWSZ, git_tree_id(to)->id, GIT_OID_RAWSZ);
	return key;
}

/* ---- signatures ---- */

/* "unknown key: the key is not in allowed_signers (key SHA256:...)" */
static void report_signature(gg_gate *g, const gg_loc *loc, const char *what,
                             const gg_sig_result *res)
{
	gg_buf m = GG_BUF_INIT;
	gg_buf_printf(&m, "%s%s%s", what, gg_sig_reason(res->status), res->detail ? ": " : "");
	if (res->detail)
		gg_buf_puts(&m, res->detail);
	if (res->fingerprint[0])
		gg_buf_printf(&m, " (key %s)", res->fingerprint);
	gg_report_add(g->r, "signature", sev(), loc, "%s", m.ptr);
	gg_buf_free(&m);
}

/*
 * Keys are judged at the time of the push, not at the commit's own date: a
 * committer date is whatever the signer wrote, and a key past its
 * valid-before must not sign commits dated back into its validity.
 */
static int check_commit_signature(gg_gate *g, const git_oid *oid, const char *id, char **err)
{
	const gg_commit_rules *cr = &g->p->commits;
	if (cr->signature == NULL)
		return 0;
	gg_sig_result res;
	gg_verify_opts o = {.match_committer = cr->match_committer, .at = time(NULL)};
	if (gg_verify_commit(&res, cr->signature, g->repo, oid, &o, err) < 0)
		return -1;
	if (res.status != GG_SIG_GOOD) {
		gg_loc loc = {.commit = id};
		report_signature(g, &loc, "", &res);
	}
	gg_sig_result_clear(&res);
	return 0;
}

/* tags: require_signature on a ref update under refs/tags/ to object o. */
static int check_tag_signature(gg_gate *g, git_object *o, const char *ref, char **err)
{
	const gg_tag_rules *tr = &g->p->tags;
	struct gg_trust *trust = tr->signature ? tr->signature : g->p->commits.signature;
	if (!tr->require_signature || trust == NULL || strncmp(ref, "refs/tags/", 10) != 0)
		return 0;
	gg_loc loc = {.ref = ref};
	gg_sig_result res;
	memset(&res, 0, sizeof(res));
	if (git_object_type(o) != GIT_OBJECT_TAG) {
		res.status = GG_SIG_UNSIGNED;
		res.detail = gg_strdup("a lightweight tag carries no signature; push an "
		                       "annotated, signed tag (git tag -s)");
	} else {
		bool match = tr->signature ? tr->match_tagger : g->p->commits.match_committer;
		gg_verify_opts opts = {.match_committer = match, .at = time(NULL)};
		if (gg_verify_tag(&res, trust, g->repo, git_object_id(o), &opts, err) < 0)
			return -1;
	}
	if (res.status != GG_SIG_GOOD) {
		char id[8], what[32];
		git_oid_tostr(id, sizeof(id), git_object_id(o));
		snprintf(what, sizeof(what), "tag %s: ", id);
		report_signature(g, &loc, what, &res);
	}
	gg_sig_result_clear(&res);
	return 0;
}

static int check_commit(gg_gate *g, const git_oid *oid, char **err)
{
	git_commit *c = NULL, *parent = NULL;
	git_tree *tree = NULL, *ptree = NULL;
	git_tree **others = NULL; /* the trees of a merge's other parents */
	unsigned nothers = 0;
	int rc = -1;
	char id[8];
	git_oid_tostr(id, sizeof(id), oid);
	g->ncommits++;
	if (git_commit_lookup(&c, g->repo, oid) < 0) {
		git_fail(err, "cannot read a commit of the push");
		goto done;
	}
	check_commit_rules(g, c, id);
	if (check_commit_signature(g, oid, id, err) < 0)
		goto done;
	scan_message(g, git_commit_message(c), id, "commit message");
	if (!needs_diff(g->p)) {
		rc = 0;
		goto done;
	}
	if (git_commit_tree(&tree, c) < 0) {
		git_fail(err, "cannot read a tree of the push");
		goto done;
	}
	/* Merges are diffed against their first parent: what the merge brings in. */
	if (git_commit_parentcount(c) > 0) {
		if (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&ptree, parent) < 0) {
			git_fail(err, "cannot read a parent commit of the push");
			goto done;
		}
	}
	nothers = git_commit_parentcount(c) > 1 ? git_commit_parentcount(c) - 1 : 0;
	others = gg_calloc(nothers ? nothers : 1, sizeof(*others));
	for (unsigned k = 0; k < nothers; k++) {
		git_commit *pk = NULL;
		int r = git_commit_parent(&pk, c, k + 1);
		if (r == 0)
			r = git_commit_tree(&others[k], pk);
		git_commit_free(pk);
		if (r < 0) {
			git_fail(err, "cannot read a parent commit of the push");
			goto done;
		}
	}
	char where[32];
	snprintf(where, sizeof(where), "commit %s", id);
	if (check_trees(g, ptree, tree, others, nothers, where, PASS_COMMIT, err) < 0)
		goto done;
	if (nothers == 0) /* a merge's difference skips what came from its other side */
		set_add(&g->diffed, tree_pair(ptree, tree), 2 * GIT_OID_RAWSZ);
	rc = 0;
done:
	for (unsigned k = 0; others && k < nothers; k++)
		git_tree_free(others[k]);
	free(others);
	git_tree_free(ptree);
	git_tree_free(tree);
	git_commit_free(parent);
	git_commit_free(c);
	return rc;
}

/* ---- walking what a push introduces ---- */

static int walk(gg_gate *g, const git_oid *tip, const git_oid *hide, size_t nhide, char **err)
{
	git_revwalk *w = NULL;
	int rc = -1;
	if (git_revwalk_new(&w, g->repo) < 0) {
		git_fail(err, "cannot walk the history");
		goto done;
	}
	git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	if (git_revwalk_push(w, tip) < 0) {
		git_fail(err, "cannot walk the pushed commits");
		goto done;
	}
	for (size_t i = 0; i < nhide; i++)
		if (git_revwalk_hide(w, &hide[i]) < 0) {
			git_fail(err, "cannot walk the existing history");
			goto done;
		}
	git_oid oid;
	int r;
	while ((r = git_revwalk_next(&oid, w)) == 0) {
		if (!set_add(&g->commits, oid.id, sizeof(oid.id)))
			continue;
		if (check_commit(g, &oid, err) < 0)
			goto done;
	}
	if (r != GIT_ITEROVER) {
		git_fail(err, "cannot walk the pushed commits");
		goto done;
	}
	rc = 0;
done:
	git_revwalk_free(w);
	return rc;
}

/*
 * The quick way to NEW --not --all when the push sits in a quarantine: walk
 * back from NEW through commits that only the quarantine holds, stopping at
 * existing ref tips. Such commits reach no ref (refs only reach the main
 * store), and everything beyond a tip is reachable from it, so the set is
 * exact. Meeting a commit the main store holds that is not a tip (a branch
 * started from an older commit) proves nothing: return 0 and let the caller
 * run the full walk, which parses every ref's commit. 1: done; -1: error.
 */
/* The main store does not change under the hook: a miss need not rescan its packs. */
static bool in_main_store(gg_gate *g, const git_oid *id)
{
	return git_odb_exists_ext(g->main_odb, id, GIT_ODB_LOOKUP_NO_REFRESH) == 1;
}

static int walk_quarantine(gg_gate *g, const git_oid *tip, char **err)
{
	git_oid *todo = NULL, *found = NULL;
	size_t ntodo = 0, nfound = 0;
	struct set visited = {0};
	int rc = 0;
	if (g->main_odb == NULL)
		return 0;
	if (set_has(&g->tips, tip->id, sizeof(tip->id))) {
		rc = 1; /* NEW is an existing tip: nothing new */
		goto done;
	}
	if (in_main_store(g, tip))
		goto done;
	todo = gg_reallocarray(NULL, 1, sizeof(git_oid));
	git_oid_cpy(&todo[ntodo++], tip);
	set_add(&visited, tip->id, sizeof(tip->id));
	while (ntodo) {
		git_oid id = todo[--ntodo];
		git_commit *c = NULL;
		if (git_commit_lookup(&c, g->repo, &id) < 0) {
			rc = git_fail(err, "cannot read a commit of the push");
			goto done;
		}
		found = gg_reallocarray(found, nfound + 1, sizeof(git_oid));
		git_oid_cpy(&found[nfound++], &id);
		bool known = false;
		for (unsigned k = 0; k < git_commit_parentcount(c) && !known; k++) {
			const git_oid *pid = git_commit_parent_id(c, k);
			if (!set_add(&visited, pid->id, sizeof(pid->id)))
				continue;
			if (set_has(&g->tips, pid->id, sizeof(pid->id)))
				continue;
			if (in_main_store(g, pid)) {
				known = true; /* an old commit that is no tip: only the full walk
				                 can tell */
				break;
			}
			todo = gg_reallocarray(todo, ntodo + 1, sizeof(git_oid));
			git_oid_cpy(&todo[ntodo++], pid);
		}
		git_commit_free(c);
		if (known)
			goto done; /* rc 0: fall back */
	}
	/* Oldest first, as the full walk reports them. */
	for (size_t i = nfound; i-- > 0;) {
		if (!set_add(&g->commits, found[i].id, sizeof(found[i].id)))
			continue;
		if (check_commit(g, &found[i], err) < 0) {
			rc = -1;
			goto done;
		}
	}
	rc = 1;
done:
	set_free(&visited);
	free(todo);
	free(found);
	return rc;
}

static int peel(git_object **out, gg_gate *g, const git_oid *id, git_object_t type)
{
	git_object *o = NULL;
	*out = NULL;
	if (git_object_lookup(&o, g->repo, id, GIT_OBJECT_ANY) < 0)
		return -1;
	int rc = git_object_peel(out, o, type);
	git_object_free(o);
	return rc;
}

static void hide_commit(gg_gate *g, const git_oid *id)
{
	if (g->nhide == g->caphide) {
		g->caphide = g->caphide ? 2 * g->caphide : 64;
		g->hide = gg_reallocarray(g->hide, g->caphide, sizeof(git_oid));
	}
	git_oid_cpy(&g->hide[g->nhide++], id);
	set_add(&g->tips, id->id, sizeof(id->id));
}

static int add_hidden(git_reference *ref, void *arg)
{
	gg_gate *g = arg;
	git_reference *res = NULL;
	const char *name = git_reference_name(ref);
	bool trust = !strncmp(name, "refs/heads/", 11) || !strncmp(name, "refs/tags/", 10);
	/* Only symbolic refs need resolving; looking up every direct one again costs. */
	if (git_reference_type(ref) == GIT_REFERENCE_DIRECT ||
	    git_reference_resolve(&res, ref) == 0) {
		const git_oid *id = git_reference_target(res ? res : ref);
		size_t size;
		git_object_t type;
		git_object *c;
		/*
		 * Most refs name a commit: the object header says so without parsing
		 * it, which matters on servers with tens of thousands of refs. Refs
		 * that name no commit (a tag of a blob) hide nothing.
		 */
		if (git_odb_read_header(&size, &type, g->odb, id) == 0 &&
		    type == GIT_OBJECT_COMMIT) {
			hide_commit(g, id);
			if (trust)
				set_add(&g->trusted, id->id, sizeof(id->id));
		} else if (peel(&c, g, id, GIT_OBJECT_COMMIT) == 0) {
			hide_commit(g, git_object_id(c));
			if (trust)
				set_add(&g->trusted, git_object_id(c)->id, GIT_OID_RAWSZ);
			git_object_free(c);
		}
	}
	git_reference_free(res);
	git_reference_free(ref);
	return 0;
}

/*
 * The tree-level rules for a ref that ends on tree `to`, on what is new to it
 * compared with tree `from` (NULL: everything is new): the manifests that
 * differ, and deny_paths and max_size on the files that differ. Whatever
 * other refs the push moves, and whatever commits were walked for them, each
 * ref's own tree is checked; a (from, to) pair only once per push, and a
 * difference some checked commit already made skips the file rules.
 */
static int check_ref_tree(gg_gate *g, git_tree *from, git_tree *to, const char *ref, char **err)
{
	const gg_policy *p = g->p;
	if (!p->manifests && !p->files.max_size && !p->files.ndeny_paths)
		return 0;
	if (from && git_oid_equal(git_tree_id(from), git_tree_id(to)))
		return 0;
	bool files_done = set_has(&g->diffed, tree_pair(from, to), 2 * GIT_OID_RAWSZ);
	if (files_done && !p->manifests)
		return 0;
	if (!set_add(&g->ref_trees, tree_pair(from, to), 2 * GIT_OID_RAWSZ))
		return 0;
	char *where = gg_printf("new to %s", ref);
	struct push_tree pt = {g->repo, to};
	gg_mtree ops = {push_tree_kind, push_tree_read, &pt};
	g->scan = p->manifests ? gg_mscan_new(p->manifests, &ops, false) : NULL;
	if (p->manifests)
		gg_manifest_set_tree(p->manifests, g->repo, to);
	g->scan_tree = to;
	int rc = check_trees(g, from, to, NULL, 0, where,
	                     files_done ? PASS_REF_SKIP_FILES : PASS_REF, err);
	gg_mscan_free(g->scan);
	g->scan = NULL;
	g->scan_tree = NULL;
	free(where);
	return rc;
}

/* First-parent steps a new ref's tip is followed back to find a trusted commit. */
#define GATE_BASE_SEARCH 256

/*
 * What a new ref's tree is compared with: the tree of the nearest trusted
 * commit on tip's first-parent line (a branch started from main's tip finds
 * it at once), else that of HEAD's branch, else that of the first ref this
 * push checked (a first push of many branches into an empty repository),
 * else none (every file is new).
 * Any trusted tree gives the right answer, since a file identical to one of a
 * tree that passed passes too; the nearest is the least work. A commit that
 * is on the server but no branch or tag tip (an intermediate commit of an
 * earlier push) is not trusted: its tree was never checked whole.
 */
/*
 * A commit's tree and first parent (*nparents 0 or 1), read from the raw
 * object. git_commit_lookup would leave a parsed entry in libgit2's cache,
 * where the revision walk looks for the raw one and never finds it: every
 * later walk of the push would inflate that commit again (a push of 300 old
 * tags cost three times as long).
 */
static int commit_links(gg_gate *g, const git_oid *id, git_oid *tree, git_oid *parent,
                        int *nparents)
{
	git_odb_object *o = NULL;
	int rc = -1;
	*nparents = 0;
	if (git_odb_read(&o, g->odb, id) < 0 || git_odb_object_type(o) != GIT_OBJECT_COMMIT)
		goto done;
	const char *p = git_odb_object_data(o);
	size_t n = git_odb_object_size(o);
	const size_t hex = GIT_OID_HEXSZ;
	if (n < 5 + hex + 1 || memcmp(p, "tree ", 5) || p[5 + hex] != '\n' ||
	    git_oid_fromstrn(tree, p + 5, hex) < 0)
		goto done;
	p += 5 + hex + 1, n -= 5 + hex + 1;
	if (n >= 7 + hex + 1 && !memcmp(p, "parent ", 7) && p[7 + hex] == '\n') {
		if (git_oid_fromstrn(parent, p + 7, hex) < 0)
			goto done;
		*nparents = 1;
	}
	rc = 0;
done:
	git_odb_object_free(o);
	return rc;
}

static int create_base(gg_gate *g, const git_oid *tip, git_tree **out, char **err)
{
	git_commit *c = NULL;
	git_reference *head = NULL;
	git_object *o = NULL;
	git_oid id, tree, parent;
	*out = NULL;
	git_oid_cpy(&id, tip);
	for (int i = 0; i < GATE_BASE_SEARCH; i++) {
		int nparents;
		if (commit_links(g, &id, &tree, &parent, &nparents) < 0)
			return git_fail(err, "cannot read a commit of the push");
		if (set_has(&g->trusted, id.id, sizeof(id.id)))
			return git_tree_lookup(out, g->repo, &tree) < 0
			           ? git_fail(err, "cannot read a tree of the repository")
			           : 0;
		if (nparents == 0)
			break;
		git_oid_cpy(&id, &parent);
	}
	if (git_repository_head(&head, g->repo) == 0 &&
	    git_reference_peel(&o, head, GIT_OBJECT_COMMIT) == 0 &&
	    set_has(&g->trusted, git_object_id(o)->id, GIT_OID_RAWSZ) &&
	    git_commit_tree(out, (git_commit *)o) < 0)
		*out = NULL;
	git_object_free(o);
	git_reference_free(head);
	if (*out == NULL && g->have_first_tip &&
	    git_commit_lookup(&c, g->repo, &g->first_tip) == 0) {
		if (git_commit_tree(out, c) < 0)
			*out = NULL;
		git_commit_free(c);
	}
	return 0;
}

/* check_ref_tree from the commit (or tree) `base` (NULL: none) to the commit `tip`. */
static int check_ref_commits(gg_gate *g, const git_oid *base, const git_oid *tip, const char *ref,
                             char **err)
{
	git_object *from = NULL, *to = NULL;
	int rc = -1;
	if (peel(&to, g, tip, GIT_OBJECT_TREE) < 0) {
		git_fail(err, "cannot read the pushed tree");
		goto done;
	}
	if (base && peel(&from, g, base, GIT_OBJECT_TREE) < 0)
		from = NULL; /* the old value names no tree: everything is new */
	rc = check_ref_tree(g, (git_tree *)from, (git_tree *)to, ref, err);
done:
	git_object_free(from);
	git_object_free(to);
	return rc;
}

static int deletions(gg_gate *g, const git_oid *old, const git_oid *new, char **err)
{
	const gg_mpolicy *mp = g->p->manifests;
	if (mp == NULL || !gg_mpolicy_deny_deletion(mp) || g->allow_deletion)
		return 0;
	git_object *ot = NULL, *nt = NULL;
	int rc = 0;
	if (peel(&ot, g, old, GIT_OBJECT_TREE) < 0 || peel(&nt, g, new, GIT_OBJECT_TREE) < 0)
		goto done; /* not commits on both sides: no trees to compare */
	if (gg_manifest_check_deletions(mp, g->repo, (git_tree *)ot, (git_tree *)nt, g->r) < 0) {
		rc = -1;
		*err = gg_strdup("the manifest deletion check failed");
	}
done:
	git_object_free(ot);
	git_object_free(nt);
	return rc;
}

int gg_gate_check_range(gg_gate *g, const git_oid *old, const git_oid *new, char **err)
{
	git_object *tip = NULL, *base = NULL;
	int rc = -1;
	if (peel(&tip, g, new, GIT_OBJECT_COMMIT) < 0) {
		git_fail(err, "cannot read the new commit");
		goto done;
	}
	if (old && peel(&base, g, old, GIT_OBJECT_COMMIT) < 0) {
		git_fail(err, "cannot read the old commit");
		goto done;
	}
	if (walk(g, git_object_id(tip), base ? git_object_id(base) : NULL, base ? 1 : 0, err) < 0)
		goto done;
	if (check_ref_commits(g, base ? git_object_id(base) : NULL, git_object_id(tip), "the range",
	                      err) < 0)
		goto done;
	if (base && deletions(g, git_object_id(base), git_object_id(tip), err) < 0)
		goto done;
	rc = 0;
done:
	git_object_free(tip);
	git_object_free(base);
	return rc;
}

/* ---- ref updates (the hook) ---- */

/*
 * A ref (a tag, usually) naming a tree or a blob brings content without a
 * commit: the tree is checked like a root commit's, a blob as a file named
 * after the ref, so such a push cannot slip a secret past the gate.
 */
static int check_non_commit(gg_gate *g, git_object *o, const char *ref, char **err)
{
	git_object *target = NULL;
	char id[8], where[48];
	int rc = -1;
	if (git_object_peel(&target, o, GIT_OBJECT_TREE) == 0) {
		git_oid_tostr(id, sizeof(id), git_object_id(target));
		snprintf(where, sizeof(where), "tagged tree %s", id);
		if (check_trees(g, NULL, (git_tree *)target, NULL, 0, where, PASS_COMMIT, err) < 0)
			goto done;
		set_add(&g->diffed, tree_pair(NULL, (git_tree *)target), 2 * GIT_OID_RAWSZ);
		if (check_ref_tree(g, NULL, (git_tree *)target, ref, err) < 0)
			goto done;
	} else if (git_object_peel(&target, o, GIT_OBJECT_BLOB) == 0) {
		git_diff_delta d;
		memset(&d, 0, sizeof(d));
		d.status = GIT_DELTA_ADDED;
		git_oid_cpy(&d.new_file.id, git_object_id(target));
		d.new_file.path = ref;
		d.new_file.mode = GIT_FILEMODE_BLOB;
		git_oid_tostr(id, sizeof(id), git_object_id(target));
		snprintf(where, sizeof(where), "tagged blob %s", id);
		if (check_delta(g, &d, where, PASS_COMMIT, err) < 0)
			goto done;
	}
	rc = 0;
done:
	git_object_free(target);
	return rc;
}

static bool is_zero_hex(const char *s)
{
	size_t n = strlen(s);
	if (n != 40 && n != 64)
		return false;
	return strspn(s, "0") == n;
}

static int parse_id(git_oid *out, const char *hex, char **err)
{
	size_t n = strlen(hex);
	if (n == 64 && strspn(hex, "0123456789abcdef") == n) {
		*err = gg_strdup("SHA-256 repositories are not supported by this build of libgit2");
		return -1;
	}
	if (n != GIT_OID_HEXSZ || strspn(hex, "0123456789abcdef") != n ||
	    git_oid_fromstr(out, hex) < 0) {
		char *s = gg_gate_sanitize(hex, n > 80 ? 80 : n);
		*err = gg_printf("malformed object id '%s' on the hook's input", s);
		free(s);
		return -1;
	}
	return 0;
}

int gg_gate_check_update(gg_gate *g, const char *old_hex, const char *new_hex, const char *ref,
                         char **err)
{
	git_oid old, new;
	git_object *tip = NULL, *o = NULL;
	git_tree *base = NULL;
	int rc = -1;
	bool create = is_zero_hex(old_hex), del = is_zero_hex(new_hex);
	memset(&old, 0, sizeof(old));
	memset(&new, 0, sizeof(new));
	if ((!create && parse_id(&old, old_hex, err) < 0) ||
	    (!del && parse_id(&new, new_hex, err) < 0))
		return -1;
	gg_refrules_check(g->repo, g->p, g->r, ref, &old, &new, create, del);
	if (del) {
		rc = 0;
		goto done;
	}
	if (git_object_lookup(&o, g->repo, &new, GIT_OBJECT_ANY) < 0) {
		git_fail(err, "cannot read the pushed object");
		goto done;
	}
	scan_tag_messages(g, o);
	if (check_tag_signature(g, o, ref, err) < 0)
		goto done;
	if (git_object_peel(&tip, o, GIT_OBJECT_COMMIT) < 0) {
		rc = check_non_commit(g, o, ref, err);
		goto done;
	}
	if (!g->hide_loaded) {
		if (git_reference_foreach(g->repo, add_hidden, g) < 0) {
			git_fail(err, "cannot list the existing refs");
			goto done;
		}
		g->hide_loaded = true;
	}
	int quick = walk_quarantine(g, git_object_id(tip), err);
	if (quick < 0 || (quick == 0 && walk(g, git_object_id(tip), g->hide, g->nhide, err) < 0))
		goto done;
	/* What is new to this ref: from its old value, or from a trusted tree. */
	const git_oid *from = &old;
	if (create) {
		if (create_base(g, git_object_id(tip), &base, err) < 0)
			goto done;
		from = base ? git_tree_id(base) : NULL;
	}
	if (check_ref_commits(g, from, git_object_id(tip), ref, err) < 0)
		goto done;
	set_add(&g->trusted, git_object_id(tip)->id, GIT_OID_RAWSZ);
	if (!g->have_first_tip) {
		git_oid_cpy(&g->first_tip, git_object_id(tip));
		g->have_first_tip = true;
	}
	if (!create && deletions(g, &old, &new, err) < 0)
		goto done;
	rc = 0;
done:
	git_tree_free(base);
	git_object_free(o);
	git_object_free(tip);
	return rc;
}

void gg_gate_apply_mode(const gg_policy *p, gg_report *r)
{
	if (p->mode != GG_MODE_WARN)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].severity == GG_SEV_ERROR) {
			r->v[i].severity = GG_SEV_WARNING;
			r->nerrors--;
			r->nwarnings++;
		}
}
