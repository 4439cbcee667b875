/*
 * gitgate check: the policy's file and manifest rules on a working tree, or
 * every rule but the ref rules on a range of commits, exactly as the hook
 * would apply them to a push of that range.
 */
#include "cli.h"
#include "gitgate/gate.h"
#include "gitgate/manifest.h"
#include "gitgate/policy.h"
#include "gitgate/report.h"
#include "gitgate/util.h"

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files larger than this are only size-checked: nobody commits a 64 MiB manifest. */
#define CHECK_MAX_READ (64u * 1024 * 1024)

enum format { FMT_TEXT, FMT_JSON, FMT_SARIF };

struct walk {
	const gg_policy *p;
	gg_report *r;
	const char *root; /* absolute; globs and manifest selection see paths relative to it */
	int errors;
	size_t files;
};

static int usage(void)
{
	fprintf(stderr,
	        "usage: gitgate check [--policy FILE] [--format text|json|sarif] [PATH...]\n"
	        "       gitgate check [--policy FILE] [--format text|json|sarif] --range "
	        "OLD..NEW\n");
	return GG_EXIT_ERROR;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/*
 * --policy, $GITGATE_POLICY, the repository's own .gitgate.yaml or
 * .gitgate/policy.yaml, then git config gitgate.policy.
 */
static char *find_policy(const char *opt, git_repository *repo)
{
	if (opt)
		return gg_strdup(opt);
	const char *env = getenv("GITGATE_POLICY");
	if (env && *env)
		return gg_strdup(env);
	if (repo && git_repository_workdir(repo)) {
		const char *wd = git_repository_workdir(repo);
		char *a = gg_printf("%s.gitgate.yaml", wd);
		if (exists(a))
			return a;
		free(a);
		a = gg_printf("%s.gitgate/policy.yaml", wd);
		if (exists(a))
			return a;
		free(a);
	}
	char *out = NULL;
	git_config *cfg = NULL;
	if (repo && git_repository_config_snapshot(&cfg, repo) == 0) {
		git_buf b = GIT_BUF_INIT_CONST(NULL, 0);
		/* Relative to the repository directory, as the hook reads it. */
		if (git_config_get_path(&b, cfg, "gitgate.policy") == 0 && b.ptr && *b.ptr)
			out = b.ptr[0] == '/' ? gg_strdup(b.ptr)
			                      : gg_printf("%s%s", git_repository_path(repo), b.ptr);
		git_buf_dispose(&b);
		git_config_free(cfg);
	}
	return out;
}

static void check_one(struct walk *w, const char *display, const char *abs, const struct stat *st)
{
	const char *rel = abs;
	size_t rl = strlen(w->root);
	if (!strncmp(abs, w->root, rl) && abs[rl] == '/')
		rel = abs + rl + 1;
	else if (!strcmp(w->root, "/"))
		rel = abs + 1;
	else
		rel = display; /* outside the tree: the path as given is the best name */
	char *data = NULL;
	size_t len = 0;
	uint64_t size = (uint64_t)st->st_size;
	bool too_big =
	    (w->p->files.max_size && size > w->p->files.max_size) || size > CHECK_MAX_READ;
	if (!too_big && gg_read_file(&data, &len, display, CHECK_MAX_READ) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", display, strerror(errno));
		w->errors++;
		return;
	}
	w->files++;
	gg_gate_check_file(w->p, display, rel, data, len, size, w->r);
	if (data && w->p->manifests && gg_mpolicy_selects(w->p->manifests, rel) &&
	    gg_manifest_check(w->p->manifests, display, data, len, w->r) < 0) {
		fprintf(stderr, "gitgate: %s: the manifest check failed\n", display);
		w->errors++;
	}
	free(data);
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void walk_path(struct walk *w, const char *display, const char *abs, int depth)
{
	struct stat st;
	if (lstat(display, &st) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", display, strerror(errno));
		w->errors++;
		return;
	}
	if (S_ISREG(st.st_mode)) {
		check_one(w, display, abs, &st);
		return;
	}
	if (!S_ISDIR(st.st_mode) || depth > 64)
		return; /* symlinks, devices, runaway depth: not files of the tree */
	struct dirent **ents = NULL;
	int n = scandir(display, &ents, NULL, name_cmp);
	if (n < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", display, strerror(errno));
		w->errors++;
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (strcmp(name, ".") && strcmp(name, "..") && strcmp(name, ".git")) {
			char *d =
			    !strcmp(display, ".")
			        ? gg_strdup(name)
			        : gg_printf("%s%s%s", display,
			                    display[strlen(display) - 1] == '/' ? "" : "/", name);
			char *a = gg_printf("%s/%s", abs, name);
			walk_path(w, d, a, depth + 1);
			free(d);
			free(a);
		}
		free(ents[i]);
	}
	free(ents);
}

static int resolve_commit(git_oid *out, git_repository *repo, const char *spec)
{
	git_object *o = NULL, *c = NULL;
	int rc = -1;
	if (git_revparse_single(&o, repo, spec) == 0 &&
	    git_object_peel(&c, o, GIT_OBJECT_COMMIT) == 0) {
		git_oid_cpy(out, git_object_id(c));
		rc = 0;
	} else {
		const git_error *e = git_error_last();
		fprintf(stderr, "gitgate: %s: %s\n", spec, e ? e->message : "not a commit");
	}
	git_object_free(c);
	git_object_free(o);
	return rc;
}

static int check_range(gg_policy *p, git_repository *repo, const char *range, gg_report *r)
{
	const char *dots = strstr(range, "..");
	if (dots == NULL || dots == range || dots[2] == '\0' || dots[2] == '.') {
		fprintf(stderr, "gitgate: --range wants OLD..NEW, got '%s'\n", range);
		return GG_EXIT_ERROR;
	}
	char *old = gg_strndup(range, (size_t)(dots - range));
	git_oid o, n;
	gg_gate *g = NULL;
	char *err = NULL;
	int rc = GG_EXIT_ERROR;
	if (resolve_commit(&o, repo, old) < 0 || resolve_commit(&n, repo, dots + 2) < 0)
		goto done;
	if (gg_gate_new(&g, repo, p, r, &err) < 0 || gg_gate_check_range(g, &o, &n, &err) < 0) {
		fprintf(stderr, "gitgate: %s\n", err);
		goto done;
	}
	rc = GG_EXIT_OK;
done:
	gg_gate_free(g);
	free(err);
	free(old);
	return rc;
}

int gg_cmd_check(int argc, char **argv)
{
	const char *policy_opt = NULL, *range = NULL;
	enum format fmt = FMT_TEXT;
	int first = argc;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (!strcmp(a, "--")) {
			first = i + 1;
			break;
		}
		if (a[0] != '-' || !strcmp(a, "-")) {
			first = i;
			break;
		}
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (eq)
			v = eq + 1;
		else if (i + 1 < argc)
			v = argv[i + 1];
		bool used_next = !eq;
		if (nlen == 8 && !strncmp(a, "--policy", 8))
			policy_opt = v;
		else if (nlen == 8 && !strncmp(a, "--format", 8)) {
			if (v && !strcmp(v, "text"))
				fmt = FMT_TEXT;
			else if (v && !strcmp(v, "json"))
				fmt = FMT_JSON;
			else if (v && !strcmp(v, "sarif"))
				fmt = FMT_SARIF;
			else {
				fprintf(stderr,
				        "gitgate: check: --format is text, json or sarif\n");
				return usage();
			}
		} else if (nlen == 7 && !strncmp(a, "--range", 7))
			range = v;
		else {
			fprintf(stderr, "gitgate: check: unknown option '%s'\n", a);
			return usage();
		}
		if (v == NULL || !*v)
			return usage();
		if (used_next)
			i++;
	}
	if (range && first < argc) {
		fprintf(stderr, "gitgate: check: --range takes no paths\n");
		return usage();
	}

	git_libgit2_init();
	git_repository *repo = NULL;
	gg_policy *p = NULL;
	gg_diag diag = GG_DIAG_INIT;
	gg_report r = GG_REPORT_INIT;
	char *path = NULL;
	int rc = GG_EXIT_ERROR;
	if (git_repository_open_ext(&repo, ".", 0, NULL) < 0) {
		repo = NULL;
		if (range) {
			fprintf(stderr, "gitgate: check --range: not inside a git repository\n");
			goto done;
		}
	}
	if ((path = find_policy(policy_opt, repo)) == NULL) {
		fprintf(stderr,
		        "gitgate: no policy found (--policy, $GITGATE_POLICY, .gitgate.yaml, "
		        ".gitgate/policy.yaml, git config gitgate.policy)\n");
		goto done;
	}
	if (gg_policy_load(&p, path, &diag) < 0) {
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		goto done;
	}
	if (range) {
		if (check_range(p, repo, range, &r) != GG_EXIT_OK)
			goto done;
	} else {
		char root[PATH_MAX], cwd[PATH_MAX];
		const char *wd = repo ? git_repository_workdir(repo) : NULL;
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			fprintf(stderr, "gitgate: cannot find the current directory: %s\n",
			        strerror(errno));
			goto done;
		}
		if (wd == NULL || realpath(wd, root) == NULL)
			snprintf(root, sizeof(root), "%s", cwd);
		struct walk w = {p, &r, root, 0, 0};
		gg_manifest_set_dir(p->manifests, root);
		static char dot[] = ".";
		char *defaults[] = {dot};
		char **paths = first < argc ? argv + first : defaults;
		int npaths = first < argc ? argc - first : 1;
		for (int i = 0; i < npaths; i++) {
			char abs[PATH_MAX];
			if (realpath(paths[i], abs) == NULL) {
				fprintf(stderr, "gitgate: %s: %s\n", paths[i], strerror(errno));
				w.errors++;
				continue;
			}
			walk_path(&w, paths[i], abs, 0);
		}
		if (w.errors)
			goto done;
	}
	gg_gate_apply_mode(p, &r);
	gg_report_sort(&r);
	if (fmt == FMT_JSON)
		gg_report_print_json(&r, stdout);
	else if (fmt == FMT_SARIF)
		gg_report_print_sarif(&r, stdout);
	else {
		gg_report_print_text(&r, stdout, "", 0);
		if (r.n)
			fprintf(stderr, "gitgate: %zu error%s, %zu warning%s\n", r.nerrors,
			        r.nerrors == 1 ? "" : "s", r.nwarnings,
			        r.nwarnings == 1 ? "" : "s");
	}
	rc = r.nerrors ? GG_EXIT_VIOLATIONS : GG_EXIT_OK;
done:
	fflush(stdout);
	free(path);
	gg_report_free(&r);
	gg_diag_free(&diag);
	gg_policy_free(p);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
