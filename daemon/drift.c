/*
 * Drift: the live release against its commit's tree. Both sides are listed
 * (the tree with libgit2, the directory with openat/fstatat, never following
 * a symlink), sorted by path and merged; every file present on both sides is
 * hashed as a git blob, so an edit that kept size and mtime is still found.
 * Runs in the `gitgated --drift-check` child only.
 */
#include "drift.h"

#include "checkout.h"
#include "statedir.h"

#include "gitgate/report.h"
#include "gitgate/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DRIFT_READ_CHUNK (64 * 1024)

static const char *const kind_names[] = {"added", "removed", "modified", "mode", "type"};

const char *gg_drift_kind_name(gg_drift_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "unknown";
}

void gg_drift_report_free(gg_drift_report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nentries; i++)
		free(r->entries[i].path);
	free(r->entries);
	free(r);
}

/* One side's entry: a tree blob (mode, oid) or a file on disk (st_mode). */
typedef struct {
	char *path;
	unsigned mode; /* git file mode, or st_mode */
	git_oid oid;
} side_entry;

typedef struct {
	side_entry *v;
	size_t n, cap;
	char **skip; /* tree: submodule paths, left alone on disk */
	size_t nskip;
	bool too_many;
} side;

static void side_push(side *s, char *path, unsigned mode, const git_oid *oid)
{
	if (s->n >= GG_DRIFT_MAX_ENTRIES) {
		s->too_many = true;
		free(path);
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = gg_reallocarray(s->v, s->cap, sizeof(*s->v));
	}
	side_entry *e = &s->v[s->n++];
	e->path = path;
	e->mode = mode;
	if (oid)
		git_oid_cpy(&e->oid, oid);
	else
		memset(&e->oid, 0, sizeof(e->oid));
}

static void side_free(side *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].path);
	free(s->v);
	for (size_t i = 0; i < s->nskip; i++)
		free(s->skip[i]);
	free(s->skip);
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const side_entry *)a)->path, ((const side_entry *)b)->path);
}

static int tree_cb(const char *root, const git_tree_entry *e, void *payload)
{
	side *s = payload;
	git_object_t type = git_tree_entry_type(e);
	if (type == GIT_OBJECT_TREE)
		return 0;
	char *path = gg_printf("%s%s", root, git_tree_entry_name(e));
	if (type == GIT_OBJECT_COMMIT) {
		/* A submodule: checkout leaves an empty directory, whatever is in it is not ours.
		 */
		s->skip = gg_reallocarray(s->skip, s->nskip + 1, sizeof(*s->skip));
		s->skip[s->nskip++] = path;
		return 0;
	}
	side_push(s, path, (unsigned)git_tree_entry_filemode(e), git_tree_entry_id(e));
	return s->too_many ? -1 : 0;
}

static bool skipped(const side *tree, const char *path)
{
	for (size_t i = 0; i < tree->nskip; i++)
		if (!strcmp(tree->skip[i], path))
			return true;
	return false;
}

/* Everything under the directory dfd (named prefix) but directories themselves. */
static int walk_dir(side *s, const side *tree, int dfd, const char *prefix, unsigned depth,
                    char **err)
{
	if (depth > GG_DRIFT_MAX_DEPTH) {
		*err = gg_printf("%s: more than %d directories deep", prefix, GG_DRIFT_MAX_DEPTH);
		close(dfd);
		return -1;
	}
	DIR *dir = fdopendir(dfd);
	if (dir == NULL) {
		*err = gg_printf("cannot read %s: %s", *prefix ? prefix : ".", strerror(errno));
		close(dfd);
		return -1;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *path =
		    *prefix ? gg_printf("%s/%s", prefix, de->d_name) : gg_strdup(de->d_name);
		struct stat st;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			*err = gg_printf("cannot stat %s: %s", path, strerror(errno));
			free(path);
			rc = -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (skipped(tree, path)) {
				free(path);
				continue;
			}
			int sub = openat(dirfd(dir), de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				*err = gg_printf("cannot open %s: %s", path, strerror(errno));
				rc = -1;
			} else {
				rc = walk_dir(s, tree, sub, path, depth + 1, err);
			}
			free(path);
			continue;
		}
		side_push(s, path, (unsigned)st.st_mode, NULL);
		if (s->too_many) {
			*err = gg_printf("more than %d entries on disk", GG_DRIFT_MAX_ENTRIES);
			rc = -1;
		}
	}
	closedir(dir);
	return rc;
}

/*
 * Open path under root for reading without following a symbolic link in any
 * of its components: a directory swapped for a link to elsewhere after the
 * walk listed it must not send the hashing there. openat2 (Linux 5.6) says
 * so for every component; where it is missing, O_NOFOLLOW covers the last.
 */
static int open_beneath(int root, const char *path)
{
	int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
#ifdef SYS_openat2
	struct open_how how = {.flags = (uint64_t)flags,
	                       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH};
	long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;
#endif
	return openat(root, path, flags);
}

/* The git blob id of the regular file at path under root: SHA-1 of "blob LEN\0" + data. */
static int hash_file(git_oid *out, int root, const char *path)
{
	int fd = open_beneath(root, path);
	if (fd < 0)
		return -1;
	int rc = -1;
	struct stat st;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[DRIFT_READ_CHUNK];
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || ctx == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1)
		goto done;
	int hl = snprintf((char *)buf, sizeof(buf), "blob %lld", (long long)st.st_size);
	EVP_DigestUpdate(ctx, buf, (size_t)hl + 1);
	off_t left = st.st_size;
	while (left > 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto done; /* shrank while read: the caller reports it modified */
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		left -= n;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != GIT_OID_RAWSZ)
		goto done;
	git_oid_fromraw(out, md);
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}

/* Whether the symlink at path holds the target that the blob oid stores. */
static bool link_matches(git_repository *repo, int root, const char *path, const git_oid *oid)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(root, path, target, sizeof(target));
	git_blob *blob = NULL;
	if (n < 0 || git_blob_lookup(&blob, repo, oid) < 0)
		return false;
	bool same = (git_object_size_t)n == git_blob_rawsize(blob) &&
	            memcmp(target, git_blob_rawcontent(blob), (size_t)n) == 0;
	git_blob_free(blob);
	return same;
}

static void report_add(gg_drift_report *r, gg_drift_kind kind, const char *path)
{
	r->total++;
	if (r->nentries >= GG_DRIFT_MAX_PATHS)
		return;
	r->entries = gg_reallocarray(r->entries, r->nentries + 1, sizeof(*r->entries));
	r->entries[r->nentries].kind = kind;
	r->entries[r->nentries].path = gg_strdup(path);
	r->nentries++;
}

/* One path on both sides: how the file on disk differs from the tree's entry, if it does. */
static int compare_one(git_repository *repo, int root, const side_entry *want,
                       const side_entry *have, gg_drift_kind *kind)
{
	mode_t st = (mode_t)have->mode;
	if (want->mode == GIT_FILEMODE_LINK) {
		if (!S_ISLNK(st)) {
			*kind = GG_DRIFT_TYPE;
			return 1;
		}
		if (!link_matches(repo, root, have->path, &want->oid)) {
			*kind = GG_DRIFT_MODIFIED;
			return 1;
		}
		return 0;
	}
	if (!S_ISREG(st)) {
		*kind = GG_DRIFT_TYPE;
		return 1;
	}
	git_oid got;
	if (hash_file(&got, root, have->path) < 0 || !git_oid_equal(&got, &want->oid)) {
		*kind = GG_DRIFT_MODIFIED;
		return 1;
	}
	bool exec_want = want->mode == GIT_FILEMODE_BLOB_EXECUTABLE;
	if (exec_want != ((st & S_IXUSR) != 0)) {
		*kind = GG_DRIFT_MODE;
		return 1;
	}
	return 0;
}

int gg_drift_compare(gg_drift_report **out, const char *mirror, const char *commit,
                     const char *release, char **err)
{
	int rc = -1, root = -1;
	git_repository *repo = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_oid oid;
	side want = {0}, have = {0};
	gg_drift_report *r = gg_calloc(1, sizeof(*r));
	*out = NULL;
	*err = NULL;

	if (git_oid_fromstr(&oid, commit) < 0) {
		*err = gg_printf("not a commit id: %s", commit);
		goto done;
	}
	if (git_repository_open_bare(&repo, mirror) < 0 || git_commit_lookup(&c, repo, &oid) < 0 ||
	    git_commit_tree(&tree, c) < 0) {
		const git_error *e = git_error_last();
		*err = gg_printf("cannot read %s from the mirror: %s", commit,
		                 e && e->message ? e->message : "unknown libgit2 error");
		goto done;
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, tree_cb, &want) < 0) {
		*err = want.too_many
		           ? gg_printf("more than %d entries in the tree", GG_DRIFT_MAX_ENTRIES)
		           : gg_strdup("cannot walk the commit's tree");
		goto done;
	}
	root = open(release, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		*err = gg_printf("cannot open %s: %s", release, strerror(errno));
		goto done;
	}
	int walk_fd = dup(root);
	if (walk_fd < 0 || walk_dir(&have, &want, walk_fd, "", 0, err) < 0) {
		if (*err == NULL)
			*err = gg_printf("cannot read %s: %s", release, strerror(errno));
		goto done;
	}
	qsort(want.v, want.n, sizeof(*want.v), entry_cmp);
	qsort(have.v, have.n, sizeof(*have.v), entry_cmp);
	size_t i = 0, j = 0;
	while (i < want.n || j < have.n) {
		int cmp = i == want.n   ? 1
		          : j == have.n ? -1
		                        : strcmp(want.v[i].path, have.v[j].path);
		if (cmp < 0) {
			report_add(r, GG_DRIFT_REMOVED, want.v[i++].path);
		} else if (cmp > 0) {
			report_add(r, GG_DRIFT_ADDED, have.v[j++].path);
		} else {
			gg_drift_kind kind;
			if (compare_one(repo, root, &want.v[i], &have.v[j], &kind))
				report_add(r, kind, want.v[i].path);
			i++, j++;
		}
	}
	r->files = want.n;
	*out = r;
	r = NULL;
	rc = 0;
done:
	if (root >= 0)
		close(root);
	side_free(&want);
	side_free(&have);
	git_tree_free(tree);
	git_commit_free(c);
	git_repository_free(repo);
	gg_drift_report_free(r);
	return rc;
}

/* ---- the child ---- */

static char *parent_of(const char *dir)
{
	char *p = gg_strdup(dir);
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	char *slash = strrchr(p, '/');
	if (slash == NULL) {
		free(p);
		return gg_strdup(".");
	}
	if (slash == p)
		slash[1] = '\0';
	else
		*slash = '\0';
	return p;
}

/*
 * Replace releases/<commit> by a fresh checkout: the two directories are
 * exchanged in one renameat2, so the live path never shows a half-written
 * release, then the drifted one is removed and dir switched to it (which it
 * may have been taken away from) and old releases pruned.
 */
static int repair(const gg_checkout_opts *o, const char *commit, char **err)
{
	int rc = -1;
	char *parent = parent_of(o->dir);
	char *rel = gg_printf("%s/releases/%s", parent, commit);
	char *fresh = gg_printf("%s/releases/.%s.fresh-%ld", parent, commit, (long)getpid());
	char *rdir = gg_printf("%s/releases", parent);
	if (gg_mkdir_p(rdir, 0755) < 0) {
		*err = gg_printf("cannot create %s: %s", rdir, strerror(errno));
		goto done;
	}
	if (gg_checkout_materialize(o->mirror, commit, fresh, err) < 0)
		goto done;
	struct stat st;
	if (lstat(rel, &st) == 0) {
		if (renameat2(AT_FDCWD, fresh, AT_FDCWD, rel, RENAME_EXCHANGE) < 0) {
			*err = gg_printf("cannot switch %s to a fresh release: %s", rel,
			                 strerror(errno));
			gg_checkout_remove_tree(fresh);
			goto done;
		}
		gg_checkout_remove_tree(fresh); /* now the drifted release */
	} else if (rename(fresh, rel) < 0) {
		*err = gg_printf("cannot rename %s to %s: %s", fresh, rel, strerror(errno));
		gg_checkout_remove_tree(fresh);
		goto done;
	}
	printf("materialized a fresh release of %s\n", commit);
	rc = gg_checkout_release(o, commit, err);
done:
	free(rdir);
	free(fresh);
	free(rel);
	free(parent);
	return rc;
}

static void print_escaped(const char *prefix, const char *s)
{
	char *e = gg_report_escape(s, strlen(s));
	printf("%s%s\n", prefix, e);
	free(e);
}

static int write_result(const char *path, const char *text)
{
	int fd = gg_statedir_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL && fd >= 0)
		close(fd);
	if (f == NULL || fputs(text, f) < 0)
		return f ? (fclose(f), -1) : -1;
	return fclose(f) == 0 ? 0 : -1;
}

int gg_drift_main(int argc, char **argv)
{
	gg_checkout_opts o;
	memset(&o, 0, sizeof(o));
	const char *commit = NULL, *result = NULL;
	bool do_repair = false;
	o.keep = 5;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = NULL;
		if (!strcmp(a, "--repair")) {
			do_repair = true;
			continue;
		}
		if (!strcmp(a, "--mirror"))
			slot = &o.mirror;
		else if (!strcmp(a, "--dir"))
			slot = &o.dir;
		else if (!strcmp(a, "--commit"))
			slot = &commit;
		else if (!strcmp(a, "--result"))
			slot = &result;
		else if (!strcmp(a, "--keep") && v) {
			o.keep = (unsigned)strtoul(v, NULL, 10);
			i++;
			continue;
		}
		if (slot == NULL || v == NULL) {
			fprintf(stderr, "gitgated %s: bad option %s\n", GG_DRIFT_OPTION, a);
			return 2;
		}
		*slot = v;
		i++;
	}
	if (o.mirror == NULL || o.dir == NULL || commit == NULL || result == NULL) {
		fprintf(stderr,
		        "gitgated %s: --mirror, --dir, --commit and --result are required\n",
		        GG_DRIFT_OPTION);
		return 2;
	}
	git_libgit2_init();
	int code = 1;
	char *err = NULL, *link = NULL;
	gg_drift_report *r = NULL;
	bool missing = false, switched = false, repaired = false;
	char *want_link = gg_printf("releases/%s", commit);
	gg_buf out = GG_BUF_INIT;

	char target[PATH_MAX];
	ssize_t n = readlink(o.dir, target, sizeof(target) - 1);
	if (n < 0 && (errno == ENOENT || errno == ENOTDIR)) {
		missing = true;
		printf("drift: %s does not exist\n", o.dir);
	} else if (n < 0) {
		err = gg_printf("%s is not the symlink to a release: %s", o.dir, strerror(errno));
		goto done;
	} else {
		target[n] = '\0';
		link = gg_strdup(target);
		if (strcmp(link, want_link) != 0) {
			switched = true;
			print_escaped("drift: the live symlink points at ", link);
		}
		if (gg_drift_compare(&r, o.mirror, commit, o.dir, &err) < 0)
			goto done;
	}
	bool drifted = missing || switched || (r && r->total > 0);
	if (r && r->total > 0) {
		printf("drift: %zu path(s) differ from %s:\n", r->total, commit);
		for (size_t i = 0; i < r->nentries; i++) {
			char *pre = gg_printf("  %-8s ", gg_drift_kind_name(r->entries[i].kind));
			print_escaped(pre, r->entries[i].path);
			free(pre);
		}
		if (r->total > r->nentries)
			printf("  ... and %zu more\n", r->total - r->nentries);
	} else if (!drifted) {
		printf("no drift: %s matches %s (%zu files)\n", o.dir, commit, r ? r->files : 0);
	}
	fflush(stdout);
	if (drifted && do_repair) {
		if (repair(&o, commit, &err) < 0)
			goto done;
		repaired = true;
	}
	gg_buf_puts(&out, "{\"commit\":");
	gg_buf_json_string(&out, commit);
	gg_buf_puts(&out, ",\"release\":");
	if (link)
		gg_buf_json_string(&out, link);
	else
		gg_buf_puts(&out, "null");
	gg_buf_printf(&out,
	              ",\"drifted\":%s,\"missing\":%s,\"switched\":%s,\"repaired\":%s,"
	              "\"total\":%zu,\"files\":%zu,\"truncated\":%s,\"paths\":[",
	              drifted ? "true" : "false", missing ? "true" : "false",
	              switched ? "true" : "false", repaired ? "true" : "false", r ? r->total : 0,
	              r ? r->files : 0, r && r->total > r->nentries ? "true" : "false");
	for (size_t i = 0; r && i < r->nentries; i++) {
		gg_buf_puts(&out, i ? ",{\"path\":" : "{\"path\":");
		gg_buf_json_string(&out, r->entries[i].path);
		gg_buf_printf(&out, ",\"change\":\"%s\"}", gg_drift_kind_name(r->entries[i].kind));
	}
	gg_buf_puts(&out, "]}\n");
	if (write_result(result, out.ptr) < 0) {
		err = gg_printf("cannot write %s: %s", result, strerror(errno));
		goto done;
	}
	code = 0;
done:
	if (err)
		printf("error: %s\n", err);
	fflush(stdout);
	gg_buf_free(&out);
	gg_drift_report_free(r);
	free(want_link);
	free(link);
	free(err);
	git_libgit2_shutdown();
	return code;
}

int gg_drift_result_read(json_t **out, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	if (gg_statedir_read(&text, &len, path, GG_DRIFT_MAX_RESULT) < 0)
		return -1;
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(doc) || !json_is_boolean(json_object_get(doc, "drifted")) ||
	    !json_is_string(json_object_get(doc, "commit")) ||
	    !json_is_array(json_object_get(doc, "paths"))) {
		json_decref(doc);
		return -1;
	}
	*out = doc;
	return 0;
}
