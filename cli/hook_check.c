/*
 * gitgate status --hooks DIR... (also install-hook --check DIR...): every git
 * repository under each DIR whose pre-receive hook does not reach the gate.
 * A hook reaches the gate when hooks/pre-receive, followed through its
 * symlinks, is an executable file that gitgate wrote (it carries the marker
 * line) and git would run it (no core.hooksPath elsewhere). What an
 * administrator runs from cron: exit 1 when any repository is not gated.
 */
#include "cli.h"
#include "gitgate/util.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deep enough for gitolite's nested names, shallow enough to stop a loop of bind mounts. */
#define CHECK_MAX_DEPTH 32
#define CHECK_MAX_HOOK  (1024 * 1024)

static void check_usage(FILE *f)
{
	fprintf(f, "usage: gitgate status --hooks DIR...\n"
	           "       gitgate install-hook --check DIR...\n");
}

void gg_cli_put_path(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

bool gg_cli_hook_is_ours(const char *path)
{
	char *text = NULL;
	size_t len;
	bool ours = gg_read_file(&text, &len, path, CHECK_MAX_HOOK) == 0 &&
	            memmem(text, len, GG_HOOK_MARKER, strlen(GG_HOOK_MARKER)) != NULL;
	free(text);
	return ours;
}

/* core.hooksPath from the repository's own config file (and its includes), or NULL. */
static char *hooks_path_setting(const char *gitdir)
{
	char *file = gg_printf("%s/config", gitdir);
	git_config *cfg = NULL;
	git_buf b = GIT_BUF_INIT_CONST(NULL, 0);
	char *out = NULL;
	if (git_config_open_ondisk(&cfg, file) == 0 &&
	    git_config_get_string_buf(&b, cfg, "core.hooksPath") == 0 && b.ptr && *b.ptr)
		out = gg_strdup(b.ptr);
	git_buf_dispose(&b);
	git_config_free(cfg);
	free(file);
	return out;
}

/*
 * Why the repository at gitdir does not reach the gate, as "KIND: detail"
 * (allocated), or NULL when it does.
 */
char *gg_cli_hook_problem(const char *gitdir)
{
	char *hook = gg_printf("%s/hooks/pre-receive", gitdir);
	char *why = NULL, *hp = NULL;
	char link[4096];
	struct stat lst, st;
	if ((hp = hooks_path_setting(gitdir)) != NULL) {
		why = gg_printf("hooksPath: core.hooksPath is %s, so git does not run "
		                "hooks/pre-receive",
		                hp);
		goto done;
	}
	if (lstat(hook, &lst) < 0) {
		why = gg_printf("missing: no hooks/pre-receive");
		goto done;
	}
	if (stat(hook, &st) < 0) {
		ssize_t n = S_ISLNK(lst.st_mode) ? readlink(hook, link, sizeof(link) - 1) : -1;
		if (n >= 0)
			link[n] = '\0';
		why = gg_printf("dangling: hooks/pre-receive -> %s, which does not exist",
		                n >= 0 ? link : "?");
		goto done;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
		why = gg_printf("not executable: git would not run hooks/pre-receive");
		goto done;
	}
	if (!gg_cli_hook_is_ours(hook)) {
		ssize_t n = S_ISLNK(lst.st_mode) ? readlink(hook, link, sizeof(link) - 1) : -1;
		if (n >= 0)
			link[n] = '\0';
		why = gg_printf("replaced: hooks/pre-receive%s%s is not gitgate's gate",
		                n >= 0 ? " -> " : "", n >= 0 ? link : "");
	}
done:
	free(hp);
	free(hook);
	return why;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A git directory: HEAD, objects/ and refs/ (bare repositories, and a work tree's .git). */
static bool is_gitdir(const char *dir)
{
	char *head = gg_printf("%s/HEAD", dir), *obj = gg_printf("%s/objects", dir),
	     *refs = gg_printf("%s/refs", dir);
	struct stat st;
	bool yes = stat(head, &st) == 0 && S_ISREG(st.st_mode) && is_dir(obj) && is_dir(refs);
	free(head);
	free(obj);
	free(refs);
	return yes;
}

struct walk {
	FILE *report;
	size_t repos, bad;
	int err;
};

static void check_repo(struct walk *w, const char *gitdir)
{
	char *why = gg_cli_hook_problem(gitdir);
	w->repos++;
	if (why) {
		w->bad++;
		if (w->report) {
			gg_cli_put_path(w->report, gitdir);
			fprintf(w->report, ": %s\n", why);
		}
		free(why);
	}
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(struct walk *w, const char *dir, int depth)
{
	if (is_gitdir(dir)) {
		check_repo(w, dir);
		return;
	}
	if (depth >= CHECK_MAX_DEPTH)
		return;
	DIR *d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "gitgate: ");
		gg_cli_put_path(stderr, dir);
		fprintf(stderr, ": %s\n", strerror(errno));
		w->err = -1;
		return;
	}
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		names = gg_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = gg_printf("%s/%s", dir, e->d_name);
	}
	closedir(d);
	/* Sorted, so the report reads the same from one run to the next. */
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		/* Never through a symlinked directory: no loops, no leaving the root. */
		if (lstat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
			walk_dir(w, names[i], depth + 1);
	}
	gg_strv_free(names, n);
}

int gg_cli_check_root(const char *root, FILE *report, size_t *repos, size_t *bad)
{
	struct walk w = {report, 0, 0, 0};
	if (!is_dir(root)) {
		fprintf(stderr, "gitgate: ");
		gg_cli_put_path(stderr, root);
		fprintf(stderr, ": not a directory\n");
		return -1;
	}
	walk_dir(&w, root, 0);
	*repos = w.repos;
	*bad = w.bad;
	return w.err;
}

int gg_cmd_hooks_check(int argc, char **argv)
{
	int first = 1, rc = GG_EXIT_OK;
	size_t repos = 0, bad = 0;
	if (first < argc && !strcmp(argv[first], "--")) /* DIR names may start with '-' after it */
		first++;
	if (first >= argc) {
		check_usage(stderr);
		return GG_EXIT_ERROR;
	}
	git_libgit2_init();
	for (int i = first; i < argc; i++) {
		size_t r = 0, b = 0;
		if (gg_cli_check_root(argv[i], stdout, &r, &b) < 0)
			rc = GG_EXIT_ERROR;
		else if (r == 0) {
			fprintf(stderr, "gitgate: no git repository under ");
			gg_cli_put_path(stderr, argv[i]);
			fputc('\n', stderr);
			rc = GG_EXIT_ERROR;
		}
		repos += r;
		bad += b;
	}
	git_libgit2_shutdown();
	if (bad)
		printf("gitgate: %zu of %zu repositories do not run the gate\n", bad, repos);
	else if (repos)
		printf("gitgate: all %zu repositories run the gate\n", repos);
	if (rc == GG_EXIT_OK && bad)
		rc = GG_EXIT_VIOLATIONS;
	return rc;
}
