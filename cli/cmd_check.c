/*
 * gitgate check: the policy's file and manifest rules on a working tree, or
 * every rule but the ref rules on a range of commits, exactly as the hook
 * would apply them to a push of that range.
 */
#include "cli.h"
#include "gitgate/gate.h"
#include "gitgate/manifest.h"
#include "gitgate/mscan.h"
#include "gitgate/policy.h"
#include "gitgate/report.h"
#include "gitgate/secrets.h"
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
	const char *policy; /* the policy file's real path: never a manifest */
	gg_mscan *scan;     /* charts and kustomizations of the working tree */
};

const char gg_usage_check[] =
    "gitgate check [--policy FILE] [--format text|json|sarif] [PATH...]\n"
    "gitgate check [--policy FILE] [--format text|json|sarif] --range OLD..NEW\n"
    "gitgate check [--policy FILE] [--format text|json|sarif] [--stdin-name NAME] -\n";

/*
 * A line on stderr. Paths from the tree, revisions and library messages end
 * up in it, so everything but its final newline is escaped (see
 * gg_report_escape): a file name cannot steer a terminal or a CI log.
 */
static void say(const char *fmt, ...) GG_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = gg_vprintf(fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	bool nl = len && line[len - 1] == '\n';
	char *safe = gg_report_escape(line, nl ? len - 1 : len);
	fprintf(stderr, "%s%s", safe, nl ? "\n" : "");
	free(safe);
	free(line);
}

static int usage(void)
{
	gg_cli_usage(stderr, gg_usage_check);
	return GG_EXIT_ERROR;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* DIR/.gitgate.yaml or DIR/.gitgate/policy.yaml (dir ends with '/' or is ""), or NULL. */
static char *policy_in(const char *dir)
{
	char *a = gg_printf("%s.gitgate.yaml", dir);
	if (exists(a))
		return a;
	free(a);
	a = gg_printf("%s.gitgate/policy.yaml", dir);
	if (exists(a))
		return a;
	free(a);
	return NULL;
}

/*
 * --policy, $GITGATE_POLICY, .gitgate.yaml or .gitgate/policy.yaml at the top
 * of the repository's working tree, then in the current directory (also
 * outside any repository), then git config gitgate.policy.
 */
static char *find_policy(const char *opt, git_repository *repo)
{
	if (opt)
		return gg_strdup(opt);
	const char *env = getenv("GITGATE_POLICY");
	if (env && *env)
		return gg_strdup(env);
	char *found = NULL;
	if (repo && git_repository_workdir(repo))
		found = policy_in(git_repository_workdir(repo));
	if (found == NULL)
		found = policy_in("");
	if (found)
		return found;
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
		say("gitgate: %s: %s\n", display, strerror(errno));
		w->errors++;
		return;
	}
	w->files++;
	gg_gate_check_file(w->p, display, rel, data, len, size, w->r);
	/* The policy in use is gitgate's own file, not a manifest of the tree. */
	bool own = w->policy && !strcmp(abs, w->policy);
	int rc = 0;
	if (data && w->p->manifests && !own && gg_mpolicy_selects(w->p->manifests, rel)) {
		if (rel != display)
			rc = gg_mscan_file(w->scan, rel, display, data, len, w->r);
		else
			rc = gg_manifest_check_opts(w->p->manifests, display, data, len,
			                            &(gg_mcheck_opts){display, true, false}, w->r);
	}
	if (rc < 0) {
		say("gitgate: %s: the manifest check failed\n", display);
		w->errors++;
	}
	free(data);
}

/* The working tree, as the manifest scan sees it: paths relative to the walk's root. */
static gg_mtree_kind work_tree_kind(void *ctx, const char *path)
{
	const struct walk *w = ctx;
	char *full = gg_printf("%s/%s", w->root, path);
	struct stat st;
	gg_mtree_kind k = stat(full, &st) < 0   ? GG_MTREE_NONE
	                  : S_ISDIR(st.st_mode) ? GG_MTREE_DIR
	                                        : GG_MTREE_FILE;
	free(full);
	return k;
}

/*
 * A file a kustomization names is read only when it really lies in the tree: a
 * symlink to /etc/shadow in a checked-out pull request must not reach the
 * output of a CI job.
 */
static int work_tree_read(void *ctx, const char *path, char **data, size_t *len)
{
	const struct walk *w = ctx;
	char *full = gg_printf("%s/%s", w->root, path);
	char real[PATH_MAX];
	struct stat st;
	size_t rl = strlen(w->root);
	int rc = -1;
	if (realpath(full, real) && !strncmp(real, w->root, rl) &&
	    (real[rl] == '/' || !strcmp(w->root, "/")) && stat(real, &st) == 0 &&
	    S_ISREG(st.st_mode))
		rc = gg_read_file(data, len, real, CHECK_MAX_READ);
	free(full);
	return rc;
}

/*
 * gitgate check -: a stream of YAML documents on standard input, as helm
 * template or kustomize build write it, checked against the manifest rules.
 */
static int check_stdin(const gg_policy *p, const char *name, gg_report *r)
{
	if (p->manifests == NULL) {
		fprintf(stderr, "gitgate: check -: the policy has no manifests: section\n");
		return -1;
	}
	gg_buf b = GG_BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (b.len + n > CHECK_MAX_READ) {
			fprintf(stderr, "gitgate: %s: more than %u MiB on standard input\n", name,
			        CHECK_MAX_READ >> 20);
			gg_buf_free(&b);
			return -1;
		}
		gg_buf_put(&b, chunk, n);
	}
	if (ferror(stdin)) {
		fprintf(stderr, "gitgate: %s: %s\n", name, strerror(errno));
		gg_buf_free(&b);
		return -1;
	}
	gg_mcheck_opts o = {name, true, true};
	int rc = gg_manifest_check_opts(p->manifests, name, b.ptr ? b.ptr : "", b.len, &o, r);
	gg_buf_free(&b);
	return rc;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void walk_path(struct walk *w, const char *display, const char *abs, int depth)
{
	struct stat st;
	if (lstat(display, &st) < 0) {
		say("gitgate: %s: %s\n", display, strerror(errno));
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
		say("gitgate: %s: %s\n", display, strerror(errno));
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
		say("gitgate: %s: %s\n", spec, e ? e->message : "not a commit");
	}
	git_object_free(c);
	git_object_free(o);
	return rc;
}

static int check_range(gg_policy *p, git_repository *repo, const char *range, gg_report *r)
{
	const char *dots = strstr(range, "..");
	if (dots == NULL || dots == range || dots[2] == '\0' || dots[2] == '.') {
		say("gitgate: --range wants OLD..NEW, got '%s'\n", range);
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
		say("gitgate: %s\n", err);
		goto done;
	}
	rc = GG_EXIT_OK;
done:
	gg_gate_free(g);
	free(err);
	free(old);
	return rc;
}

/*
 * With `secrets: {allow_inline: true}`, the .gitleaksignore at the top of the
 * working tree (or the current directory) drops the findings it names.
 */
static int load_gitleaksignore(gg_policy *p, git_repository *repo)
{
	if (!p->files.secrets || !gg_secrets_allow_inline(p->files.secrets))
		return 0;
	const char *wd = repo ? git_repository_workdir(repo) : NULL;
	char *f = wd ? gg_printf("%s.gitleaksignore", wd) : gg_strdup(".gitleaksignore");
	int rc = 0;
	if (exists(f) && gg_secrets_load_ignore(p->files.secrets, f) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", f, strerror(errno));
		rc = -1;
	}
	free(f);
	return rc;
}

int gg_cmd_check(int argc, char **argv)
{
	const char *policy_opt = NULL, *range = NULL, *stdin_name = NULL;
	enum format fmt = FMT_TEXT;
	int first = argc;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (gg_cli_is_help(a)) {
			gg_cli_usage(stdout, gg_usage_check);
			return GG_EXIT_OK;
		}
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
				say("gitgate: check: --format is text, json or sarif\n");
				return usage();
			}
		} else if (nlen == 7 && !strncmp(a, "--range", 7))
			range = v;
		else if (nlen == 12 && !strncmp(a, "--stdin-name", 12))
			stdin_name = v;
		else {
			say("gitgate: check: unknown option '%s'\n", a);
			return usage();
		}
		if (v == NULL || !*v)
			return usage();
		if (used_next)
			i++;
	}
	if (range && first < argc) {
		say("gitgate: check: --range takes no paths\n");
		return usage();
	}
	bool from_stdin = first < argc && !strcmp(argv[first], "-");
	if (from_stdin && first + 1 < argc) {
		fprintf(stderr, "gitgate: check: - (standard input) takes no other paths\n");
		return usage();
	}
	if (stdin_name && !from_stdin) {
		fprintf(stderr, "gitgate: check: --stdin-name goes with - (standard input)\n");
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
			say("gitgate: check --range: not inside a git repository\n");
			goto done;
		}
	}
	if ((path = find_policy(policy_opt, repo)) == NULL) {
		say("gitgate: no policy found (--policy, $GITGATE_POLICY, .gitgate.yaml or "
		    ".gitgate/policy.yaml at the top of the repository or in the "
		    "current directory, git config gitgate.policy)\n");
		goto done;
	}
	if (gg_policy_load(&p, path, &diag) < 0) {
		gg_diag_sort(&diag);
		for (size_t i = 0; i < diag.n; i++)
			say("%s\n", diag.msgs[i]);
		goto done;
	}
	if (load_gitleaksignore(p, repo) < 0)
		goto done;
	if (range) {
		if (check_range(p, repo, range, &r) != GG_EXIT_OK)
			goto done;
	} else if (from_stdin) {
		if (check_stdin(p, stdin_name ? stdin_name : "-", &r) < 0)
			goto done;
	} else {
		char root[PATH_MAX], cwd[PATH_MAX];
		const char *wd = repo ? git_repository_workdir(repo) : NULL;
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			say("gitgate: cannot find the current directory: %s\n", strerror(errno));
			goto done;
		}
		if (wd == NULL || realpath(wd, root) == NULL)
			snprintf(root, sizeof(root), "%s", cwd);
		char policy_abs[PATH_MAX];
		struct walk w = {p, &r, root, 0, 0, NULL, NULL};
		if (realpath(path, policy_abs))
			w.policy = policy_abs;
		gg_mtree ops = {work_tree_kind, work_tree_read, &w};
		if (p->manifests)
			w.scan = gg_mscan_new(p->manifests, &ops, true);
		gg_manifest_set_dir(p->manifests, root);
		static char dot[] = ".";
		char *defaults[] = {dot};
		char **paths = first < argc ? argv + first : defaults;
		int npaths = first < argc ? argc - first : 1;
		for (int i = 0; i < npaths; i++) {
			char abs[PATH_MAX];
			if (realpath(paths[i], abs) == NULL) {
				say("gitgate: %s: %s\n", paths[i], strerror(errno));
				w.errors++;
				continue;
			}
			walk_path(&w, paths[i], abs, 0);
		}
		gg_mscan_free(w.scan);
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
			say("gitgate: %zu error%s, %zu warning%s\n", r.nerrors,
			    r.nerrors == 1 ? "" : "s", r.nwarnings, r.nwarnings == 1 ? "" : "s");
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
