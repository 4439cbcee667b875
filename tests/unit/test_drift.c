/*
 * Unit tests for the drift comparison: a real repository made with git, a
 * release checked out of its bare mirror, then edits the comparison must
 * find (and what it must not call drift).
 */
#include "../../daemon/checkout.h"
#include "../../daemon/drift.h"
#include "gitgate/util.h"
#include "test.h"

#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gg-drift-XXXXXX";
static char commit[41];

static int sh(const char *fmt, const char *arg)
{
	char *cmd = gg_printf(fmt, arg, arg, arg, arg);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

static void put(const char *path, const char *text)
{
	char *p = gg_printf("%s/%s", dir, path);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	free(p);
}

/* A fresh release of the commit at dir/rel; 0 or -1. */
static int fresh_release(void)
{
	char *rel = gg_printf("%s/rel", dir), *mirror = gg_printf("%s/m.git", dir), *err = NULL;
	int rc = gg_checkout_materialize(mirror, commit, rel, &err);
	if (err)
		printf("#   %s\n", err);
	free(err);
	free(rel);
	free(mirror);
	return rc;
}

/* The report's entries as "kind path" lines. */
static char *compare(size_t *total, char **errout)
{
	char *rel = gg_printf("%s/rel", dir), *mirror = gg_printf("%s/m.git", dir), *err = NULL;
	gg_drift_report *r = NULL;
	gg_buf b = GG_BUF_INIT;
	*total = 0;
	if (gg_drift_compare(&r, mirror, commit, rel, &err) == 0) {
		for (size_t i = 0; i < r->nentries; i++)
			gg_buf_printf(&b, "%s %s\n", gg_drift_kind_name(r->entries[i].kind),
			              r->entries[i].path);
		*total = r->total;
	}
	gg_drift_report_free(r);
	if (errout)
		*errout = err;
	else
		free(err);
	free(rel);
	free(mirror);
	return gg_buf_detach(&b);
}

static void test_fresh_release_has_no_drift(void)
{
	CHECK_INT(fresh_release(), 0);
	size_t total = 9;
	char *got = compare(&total, NULL);
	CHECK_STR(got, "");
	CHECK_INT(total, 0);
	free(got);
	/* An empty directory is nothing git could hold: no drift. */
	char *p = gg_printf("%s/rel/empty", dir);
	CHECK_INT(mkdir(p, 0755), 0);
	free(p);
	got = compare(&total, NULL);
	CHECK_STR(got, "");
	free(got);
}

static void test_every_kind_of_change(void)
{
	CHECK_INT(fresh_release(), 0);
	/* Same size, same mtime: only the contents tell. */
	char *p = gg_printf("%s/rel/a.txt", dir);
	struct stat st;
	CHECK_INT(stat(p, &st), 0);
	put("rel/a.txt", "ALPHA\n");
	struct timespec times[2] = {st.st_atim, st.st_mtim};
	utimensat(AT_FDCWD, p, times, 0);
	free(p);
	CHECK_INT(sh("chmod -x %s/rel/tool.sh && rm %s/rel/link && ln -s b.txt %s/rel/link", dir),
	          0);
	CHECK_INT(sh("rm %s/rel/sub/c.txt && echo x > %s/rel/sub/new.txt", dir), 0);
	CHECK_INT(sh("rm %s/rel/b.txt && ln -s a.txt %s/rel/b.txt", dir), 0);
	size_t total = 0;
	char *got = compare(&total, NULL);
	CHECK_STR(got, "modified a.txt\n"
	               "type b.txt\n"
	               "modified link\n"
	               "removed sub/c.txt\n"
	               "added sub/new.txt\n"
	               "mode tool.sh\n");
	CHECK_INT(total, 6);
	free(got);
}

static void test_names_at_most_100_paths(void)
{
	CHECK_INT(fresh_release(), 0);
	for (int i = 0; i < 150; i++) {
		char *name = gg_printf("rel/extra-%03d", i);
		put(name, "x");
		free(name);
	}
	size_t total = 0;
	char *got = compare(&total, NULL);
	CHECK_INT(total, 150);
	size_t lines = 0;
	for (const char *c = got; *c; c++)
		lines += *c == '\n';
	CHECK_INT(lines, GG_DRIFT_MAX_PATHS);
	free(got);
}

static void test_too_deep_is_an_error(void)
{
	CHECK_INT(fresh_release(), 0);
	gg_buf path = GG_BUF_INIT;
	gg_buf_printf(&path, "%s/rel", dir);
	for (int i = 0; i <= GG_DRIFT_MAX_DEPTH + 1; i++) {
		gg_buf_puts(&path, "/d");
		if (mkdir(path.ptr, 0755) < 0)
			break;
	}
	gg_buf_free(&path);
	size_t total = 0;
	char *err = NULL;
	char *got = compare(&total, &err);
	CHECK(err != NULL && strstr(err, "directories deep") != NULL);
	free(err);
	free(got);
	CHECK_INT(sh("rm -rf %s/rel/d", dir), 0);
}

static void test_bad_commit(void)
{
	char *mirror = gg_printf("%s/m.git", dir), *rel = gg_printf("%s/rel", dir), *err = NULL;
	gg_drift_report *r = NULL;
	CHECK_INT(gg_drift_compare(&r, mirror, "not-a-commit", rel, &err), -1);
	CHECK(err && strstr(err, "not a commit id"));
	free(err);
	err = NULL;
	CHECK_INT(
	    gg_drift_compare(&r, mirror, "0123456789012345678901234567890123456789", rel, &err),
	    -1);
	CHECK(err && strstr(err, "cannot read"));
	free(err);
	free(mirror);
	free(rel);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "t", 1);
	setenv("GIT_AUTHOR_EMAIL", "t@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "t", 1);
	setenv("GIT_COMMITTER_EMAIL", "t@example.com", 1);
	if (sh("git init -q -b main %s/w", dir) != 0)
		return 1;
	put("w/a.txt", "alpha\n");
	put("w/b.txt", "bravo\n");
	sh("mkdir %s/w/sub", dir);
	put("w/sub/c.txt", "charlie\n");
	put("w/tool.sh", "#!/bin/sh\n");
	if (sh("chmod +x %s/w/tool.sh && ln -s a.txt %s/w/link", dir) != 0 ||
	    sh("cd %s/w && git add -A && git commit -q -m t", dir) != 0 ||
	    sh("git clone -q --bare %s/w %s/m.git", dir) != 0)
		return 1;
	char *head = gg_printf("git -C %s/w rev-parse HEAD", dir);
	FILE *f = popen(head, "r");
	free(head);
	if (f == NULL || fgets(commit, sizeof(commit), f) == NULL)
		return 1;
	pclose(f);
	git_libgit2_init();
	RUN(test_fresh_release_has_no_drift);
	RUN(test_every_kind_of_change);
	RUN(test_names_at_most_100_paths);
	RUN(test_too_deep_is_an_error);
	RUN(test_bad_commit);
	git_libgit2_shutdown();
	sh("rm -rf %s", dir);
	return t_failures ? 1 : 0;
}
