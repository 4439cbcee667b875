/*
 * The push-checking engine. Work is bounded by what the push introduces: the
 * revision walk hides every existing ref, each commit is diffed once against
 * its first parent, each (old blob, new blob) pair is scanned once, and blob
 * sizes come from the object header so an oversized blob is never loaded.
 */
#include "gitgate/gate.h"
#include "gitgate/glob.h"
#include "gitgate/manifest.h"
#include "gitgate/secrets.h"

#include <stdlib.h>
#include <string.h>

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
	struct set tips;    /* the same commits, as a set, for the quarantine walk */
	git_odb *main_odb;  /* the store without the quarantine, when the push has one */
	struct set commits; /* commits checked in this push */
	struct set pairs;   /* (old blob, new blob) pairs scanned for secrets */
	struct set seen;    /* path findings already reported */
	/* Paths changed by the current update's commits, in order, for the manifest engine. */
	char **changed;
	size_t nchanged, capchanged;
	struct set changed_set;
	size_t ncommits;
};

char *gg_gate_sanitize(const char *s, size_t len)
{
	char *o = gg_strndup(s, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)o[i] < 0x20 || o[i] == 0x7f)
			o[i] = '?';
	return o;
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

static void clear_changed(gg_gate *g)
{
	for (size_t i = 0; i < g->nchanged; i++)
		free(g->changed[i]);
	g->nchanged = 0;
	set_free(&g->changed_set);
}

void gg_gate_free(gg_gate *g)
{
	if (g == NULL)
		return;
	clear_changed(g);
	free(g->changed);
	free(g->hide);
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
	const char *path;
	const char *where; /* "commit 1a2b3c4", or NULL in a working tree */
	unsigned line;
};

static void on_secret(void *arg, const gg_secret_hit *h)
{
	struct secret_ctx *c = arg;
	gg_loc loc = {.path = c->path, .line = c->line, .col = (unsigned)h->col};
	gg_buf m = GG_BUF_INIT;
	gg_buf_printf(&m, "possible %s", h->kind);
	if (h->redacted[0])
		gg_buf_printf(&m, " (%s)", h->redacted);
	if (c->where)
		gg_buf_printf(&m, " added in %s", c->where);
	gg_report_add(c->r, "secret", sev(), &loc, "%s", m.ptr);
	gg_buf_free(&m);
}

/* Every line of a text counts as added. */
static void scan_text(struct secret_ctx *c, const char *data, size_t len)
{
	const char *p = data, *end = data + len;
	c->line = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		c->line++;
		if (n && p[n - 1] == '\r')
			n--;
		gg_secrets_scan_line(p, n, on_secret, c);
		p += n;
		while (p < end && *p != '\n')
			p++;
		p++;
	}
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
	if (p->files.secrets && !gg_secrets_is_binary(data, len)) {
		struct secret_ctx c = {r, display_path, NULL, 0};
		scan_text(&c, data, len);
	}
}

static bool is_blob_mode(uint32_t mode)
{
	return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

static int scan_patch(gg_gate *g, const git_diff_delta *d, git_blob *newb, struct secret_ctx *c,
                      char **err)
{
	git_blob *oldb = NULL;
	git_patch *patch = NULL;
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
			c->line = (unsigned)line->new_lineno;
			gg_secrets_scan_line(line->content, n, on_secret, c);
		}
	}
	rc = 0;
done:
	git_patch_free(patch);
	git_blob_free(oldb);
	return rc;
}

static void note_changed(gg_gate *g, const char *path)
{
	if (!set_add(&g->changed_set, path, strlen(path)))
		return;
	if (g->nchanged == g->capchanged) {
		g->capchanged = g->capchanged ? 2 * g->capchanged : 16;
		g->changed = gg_reallocarray(g->changed, g->capchanged, sizeof(char *));
	}
	g->changed[g->nchanged++] = gg_strdup(path);
}

static int check_delta(gg_gate *g, const git_diff_delta *d, const char *where, char **err)
{
	const gg_policy *p = g->p;
	if (d->status == GIT_DELTA_DELETED || d->new_file.mode == GIT_FILEMODE_COMMIT ||
	    d->new_file.mode == GIT_FILEMODE_TREE)
		return 0;
	char *path = gg_gate_sanitize(d->new_file.path, strlen(d->new_file.path));
	git_blob *blob = NULL;
	int rc = -1;
	if (p->manifests)
		note_changed(g, d->new_file.path);
	const char *glob = denied_by(p, d->new_file.path);
	if (glob) {
		gg_buf key = GG_BUF_INIT;
		gg_buf_printf(&key, "D%s", d->new_file.path);
		if (set_add(&g->seen, key.ptr, key.len))
			report_denied(g->r, path, glob, where);
		gg_buf_free(&key);
	}
	if (!is_blob_mode(d->new_file.mode)) { /* a symlink: only its path matters */
		rc = 0;
		goto done;
	}
	if (!p->files.max_size && !p->files.secrets) {
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
	if (!p->files.secrets)
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
	if (gg_secrets_is_binary(data, len))
		goto done;
	struct secret_ctx c = {g->r, path, where, 0};
	if (whole)
		scan_text(&c, data, len);
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
	if (cr->message_pattern && !gg_regex_match(cr->message_pattern, msg, sn)) {
		char *subj = gg_gate_sanitize(msg, sn > 80 ? 80 : sn);
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
		if (!gg_regex_match(cr->author_email_pattern, email, strlen(email))) {
			char *e = gg_gate_sanitize(email, strlen(email));
			gg_report_add(g->r, "author-email", sev(), &loc,
			              "author email '%s' does not match author_email_pattern '%s'",
			              e, gg_regex_source(cr->author_email_pattern));
			free(e);
		}
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
	char **err;
	gg_buf path;
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
			rc = check_delta(t->g, &d, t->where, t->err);
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
	return 0;
}

/* File rules on what changed from tree `from` (NULL: the empty tree) to `to`. */
static int check_trees(gg_gate *g, git_tree *from, git_tree *to, git_tree **others,
                       unsigned nothers, const char *where, char **err)
{
	struct tree_diff t = {g, others, nothers, where, err, GG_BUF_INIT};
	gg_buf_grow(&t.path, 256);
	t.path.ptr[0] = '\0';
	int rc = diff_trees(&t, from, to, 0);
	gg_buf_free(&t.path);
	return rc;
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
	if (check_trees(g, ptree, tree, others, nothers, where, err) < 0)
		goto done;
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
		if (git_odb_read_header(&size, &type, g->odb, id) == 0 && type == GIT_OBJECT_COMMIT)
			hide_commit(g, id);
		else if (peel(&c, g, id, GIT_OBJECT_COMMIT) == 0) {
			hide_commit(g, git_object_id(c));
			git_object_free(c);
		}
	}
	git_reference_free(res);
	git_reference_free(ref);
	return 0;
}

static int manifests_of_update(gg_gate *g, const git_oid *new_commit, char **err)
{
	git_object *tree = NULL;
	int rc = -1;
	if (g->p->manifests == NULL || g->nchanged == 0) {
		rc = 0;
		goto done;
	}
	if (peel(&tree, g, new_commit, GIT_OBJECT_TREE) < 0) {
		git_fail(err, "cannot read the pushed tree");
		goto done;
	}
	gg_manifest_set_tree(g->p->manifests, g->repo, (git_tree *)tree);
	for (size_t i = 0; i < g->nchanged; i++) {
		const char *path = g->changed[i];
		if (!gg_mpolicy_selects(g->p->manifests, path))
			continue;
		git_tree_entry *e = NULL;
		if (git_tree_entry_bypath(&e, (git_tree *)tree, path) < 0)
			continue; /* changed, then removed again: nothing to validate */
		git_blob *b = NULL;
		int ok = 0;
		if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			if (git_blob_lookup(&b, g->repo, git_tree_entry_id(e)) < 0)
				ok = git_fail(err, "cannot read a manifest of the push");
			else {
				char *shown = gg_gate_sanitize(path, strlen(path));
				if (gg_manifest_check(g->p->manifests, shown,
				                      git_blob_rawcontent(b),
				                      (size_t)git_blob_rawsize(b), g->r) < 0) {
					*err = gg_printf("%s: the manifest check failed", shown);
					ok = -1;
				}
				free(shown);
			}
		}
		git_blob_free(b);
		git_tree_entry_free(e);
		if (ok < 0)
			goto done;
	}
	rc = 0;
done:
	clear_changed(g);
	git_object_free(tree);
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
	if (manifests_of_update(g, git_object_id(tip), err) < 0)
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
		if (check_trees(g, NULL, (git_tree *)target, NULL, 0, where, err) < 0 ||
		    manifests_of_update(g, git_object_id(target), err) < 0)
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
		if (check_delta(g, &d, where, err) < 0)
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

static bool ref_matches(const gg_ref_rule *rr, const char *ref)
{
	for (size_t i = 0; i < rr->nmatch; i++)
		if (gg_glob_match(rr->match[i], ref))
			return true;
	return false;
}

static bool fast_forward(gg_gate *g, const git_oid *old, const git_oid *new)
{
	git_object *o = NULL, *n = NULL;
	bool ff = false;
	if (git_oid_equal(old, new))
		return true;
	/* Anything that does not peel to commits on both sides is a rewrite. */
	if (peel(&o, g, old, GIT_OBJECT_COMMIT) == 0 && peel(&n, g, new, GIT_OBJECT_COMMIT) == 0)
		ff = git_oid_equal(git_object_id(o), git_object_id(n)) ||
		     git_graph_descendant_of(g->repo, git_object_id(n), git_object_id(o)) == 1;
	git_object_free(o);
	git_object_free(n);
	return ff;
}

static void check_ref_rules(gg_gate *g, const char *ref, const git_oid *old, const git_oid *new,
                            bool create, bool del)
{
	char *name = gg_gate_sanitize(ref, strlen(ref));
	gg_loc loc = {.ref = name};
	for (size_t i = 0; i < g->p->nrefs; i++) {
		const gg_ref_rule *rr = &g->p->refs[i];
		if (!ref_matches(rr, ref))
			continue;
		bool reported = false;
		if (del && rr->deny_delete) {
			gg_report_add(g->r, "deny-delete", sev(), &loc,
			              "deleting this ref is not allowed");
			reported = true;
		}
		if (!create && rr->deny_update && !reported && (del || !git_oid_equal(old, new)))
			gg_report_add(g->r, "deny-update", sev(), &loc,
			              "this ref already exists and may not be %s",
			              del ? "deleted" : "moved");
		if (!create && !del && rr->deny_force_push && !fast_forward(g, old, new))
			gg_report_add(g->r, "deny-force-push", sev(), &loc,
			              "non-fast-forward update (force push) is not allowed");
		if (create && rr->name_pattern &&
		    !gg_regex_match(rr->name_pattern, ref, strlen(ref)))
			gg_report_add(g->r, "ref-name", sev(), &loc,
			              "new ref name does not match name_pattern '%s'",
			              gg_regex_source(rr->name_pattern));
	}
	free(name);
}

int gg_gate_check_update(gg_gate *g, const char *old_hex, const char *new_hex, const char *ref,
                         char **err)
{
	git_oid old, new;
	git_object *tip = NULL;
	int rc = -1;
	bool create = is_zero_hex(old_hex), del = is_zero_hex(new_hex);
	memset(&old, 0, sizeof(old));
	memset(&new, 0, sizeof(new));
	if ((!create && parse_id(&old, old_hex, err) < 0) ||
	    (!del && parse_id(&new, new_hex, err) < 0))
		return -1;
	check_ref_rules(g, ref, &old, &new, create, del);
	if (del)
		return 0;
	git_object *o = NULL;
	if (git_object_lookup(&o, g->repo, &new, GIT_OBJECT_ANY) < 0)
		return git_fail(err, "cannot read the pushed object");
	if (git_object_peel(&tip, o, GIT_OBJECT_COMMIT) < 0) {
		rc = check_non_commit(g, o, ref, err);
		git_object_free(o);
		goto done;
	}
	git_object_free(o);
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
	if (manifests_of_update(g, git_object_id(tip), err) < 0)
		goto done;
	if (!create && deletions(g, &old, &new, err) < 0)
		goto done;
	rc = 0;
done:
	clear_changed(g);
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
