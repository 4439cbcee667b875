/*
 * gitgate install-hook: each repository gets a small /bin/sh wrapper that
 * execs the gate installed beside this gitgate binary. The wrapper carries a
 * marker line, so installing again replaces our own hook and never a foreign
 * one (unless --force, which keeps the old hook as NAME.orig).
 */
#include "cli.h"
#include "gitgate/policy.h"
#include "gitgate/util.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOOK_MARKER   GG_HOOK_MARKER
#define MAX_HOOK_READ (1024 * 1024)

struct opts {
	const char *policy, *notify, *secret_file;
	bool force;
};

const char gg_usage_install_hook[] = "gitgate install-hook [--policy FILE] [--notify URL "
                                     "--secret-file FILE | --notify unix:SOCKET:/hooks/NAME] "
                                     "[--force] REPO.git...\n"
                                     "gitgate install-hook --gitolite [--policy FILE] "
                                     "[--include-admin] [--force]\n"
                                     "gitgate install-hook --gitolite --uninstall\n"
                                     "gitgate install-hook --check DIR...\n";

static int usage(void)
{
	gg_cli_usage(stderr, gg_usage_install_hook);
	return GG_EXIT_ERROR;
}

/* The program libexec/gitgate/NAME beside bin/gitgate, as an absolute path. */
char *gg_cli_find_program(const char *name)
{
	char *rel = gg_printf("%s/../libexec/gitgate/%s", gg_cli_bindir(), name);
	char abs[PATH_MAX];
	char *out = NULL;
	if (realpath(rel, abs) && access(abs, X_OK) == 0)
		out = gg_strdup(abs);
	else
		fprintf(stderr, "gitgate: %s: %s\n", rel, strerror(errno ? errno : ENOENT));
	free(rel);
	return out;
}

static char *absolute(const char *path)
{
	char abs[PATH_MAX];
	if (realpath(path, abs) == NULL) {
		fprintf(stderr, "gitgate: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	return gg_strdup(abs);
}

static void sh_quote(gg_buf *b, const char *s)
{
	gg_buf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			gg_buf_puts(b, "'\\''");
		else
			gg_buf_putc(b, *s);
	}
	gg_buf_putc(b, '\'');
}

/* True (after saying so) when hooks/NAME exists and is not one of ours. */
static bool foreign_hook(const char *repo, const char *hooks, const char *name)
{
	char *path = gg_printf("%s/%s", hooks, name);
	char *text = NULL;
	size_t len;
	bool foreign = gg_read_file(&text, &len, path, MAX_HOOK_READ) == 0 &&
	               strstr(text, HOOK_MARKER) == NULL;
	if (foreign)
		fprintf(stderr,
		        "gitgate: %s: hooks/%s exists and was not installed by gitgate; use "
		        "--force to replace it\n",
		        repo, name);
	free(text);
	free(path);
	return foreign;
}

/* Write hooks/NAME atomically. Returns 0, or -1 after saying why. */
static int install_one(const char *repo, const char *hooks, const char *name, const char *prog,
                       bool force)
{
	char *path = gg_printf("%s/%s", hooks, name);
	char *tmp = gg_printf("%s/.%s.gitgate-tmp", hooks, name);
	char *old = NULL;
	gg_buf text = GG_BUF_INIT;
	int rc = -1, fd;
	size_t len;
	if (gg_read_file(&old, &len, path, MAX_HOOK_READ) == 0) {
		if (strstr(old, HOOK_MARKER) == NULL) {
			if (!force) {
				fprintf(stderr,
				        "gitgate: %s: hooks/%s exists and was not installed by "
				        "gitgate; use --force to replace it\n",
				        repo, name);
				goto done;
			}
			char *keep = gg_printf("%s.orig", path);
			int r = rename(path, keep);
			if (r == 0)
				printf("gitgate: %s: kept the previous hooks/%s as hooks/%s.orig\n",
				       repo, name, name);
			free(keep);
			if (r < 0) {
				fprintf(stderr, "gitgate: %s: %s\n", path, strerror(errno));
				goto done;
			}
		}
	} else if (errno != ENOENT) {
		fprintf(stderr, "gitgate: %s: %s\n", path, strerror(errno));
		goto done;
	}
	gg_buf_puts(&text, "#!/bin/sh\n" HOOK_MARKER "\nexec ");
	sh_quote(&text, prog);
	gg_buf_puts(&text, " \"$@\"\n");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	bool ok =
	    fd >= 0 && write(fd, text.ptr, text.len) == (ssize_t)text.len && fchmod(fd, 0755) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "gitgate: %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		goto done;
	}
	if (rename(tmp, path) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto done;
	}
	rc = 0;
done:
	free(old);
	free(path);
	free(tmp);
	gg_buf_free(&text);
	return rc;
}

static int git_say(const char *repo, const char *what)
{
	const git_error *e = git_error_last();
	fprintf(stderr, "gitgate: %s: %s: %s\n", repo, what, e ? e->message : "unknown error");
	return -1;
}

/*
 * With core.hooksPath set git runs hooks from there, not from hooks/: the gate
 * would look installed and never run. Refused unless --force.
 */
static int check_hooks_path(git_repository *repo, const char *repo_path, bool force)
{
	git_config *cfg = NULL;
	git_buf b = GIT_BUF_INIT_CONST(NULL, 0);
	int rc = 0;
	if (git_repository_config_snapshot(&cfg, repo) < 0)
		return git_say(repo_path, "cannot read the repository's config");
	if (git_config_get_path(&b, cfg, "core.hooksPath") == 0 && b.ptr && *b.ptr) {
		fprintf(stderr,
		        "gitgate: %s: core.hooksPath is set to %s, so git would not run "
		        "hooks/pre-receive%s\n",
		        repo_path, b.ptr,
		        force ? "; installing anyway (--force)" : "; unset it, or use --force");
		rc = force ? 0 : -1;
	}
	git_buf_dispose(&b);
	git_config_free(cfg);
	return rc;
}

static int install_repo(const char *repo_path, const struct opts *o, const char *pre,
                        const char *post, const char *policy, const char *secret)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	char *hooks = NULL;
	int rc = -1;
	if (git_repository_open_ext(&repo, repo_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		git_say(repo_path, "not a git repository");
		goto done;
	}
	hooks = gg_printf("%shooks", git_repository_path(repo));
	if (check_hooks_path(repo, repo_path, o->force) < 0)
		goto done;
	if (mkdir(hooks, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "gitgate: %s: %s\n", hooks, strerror(errno));
		goto done;
	}
	/* Refuse before writing anything, so a refusal never leaves half an installation. */
	if (!o->force && (foreign_hook(repo_path, hooks, "pre-receive") ||
	                  (post && foreign_hook(repo_path, hooks, "post-receive"))))
		goto done;
	if (install_one(repo_path, hooks, "pre-receive", pre, o->force) < 0)
		goto done;
	if (post && install_one(repo_path, hooks, "post-receive", post, o->force) < 0)
		goto done;
	if (git_repository_config(&cfg, repo) < 0) {
		git_say(repo_path, "cannot open the repository's config");
		goto done;
	}
	/* Without it git drops `push -o` options and the bypass never reaches the hook. */
	if (git_config_set_bool(cfg, "receive.advertisePushOptions", 1) < 0 ||
	    (policy && git_config_set_string(cfg, "gitgate.policy", policy) < 0) ||
	    (post && git_config_set_string(cfg, "gitgate.notifyUrl", o->notify) < 0) ||
	    (post && secret &&
	     git_config_set_string(cfg, "gitgate.notifySecretFile", secret) < 0)) {
		git_say(repo_path, "cannot write the repository's config");
		goto done;
	}
	/* A socket needs no secret; an old one would only keep other accounts from sending. */
	int drc =
	    post && secret == NULL ? git_config_delete_entry(cfg, "gitgate.notifySecretFile") : 0;
	if (drc < 0 && drc != GIT_ENOTFOUND) {
		git_say(repo_path, "cannot write the repository's config");
		goto done;
	}
	git_error_clear();
	printf("gitgate: %s: installed pre-receive%s\n", repo_path,
	       post ? " and post-receive" : "");
	if (post)
		gg_cli_warn_notify_access(repo, repo_path, o->notify, secret);
	rc = 0;
done:
	free(hooks);
	git_config_free(cfg);
	git_repository_free(repo);
	return rc;
}

static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		return "";
	return argv[++*i];
}

int gg_cmd_install_hook(int argc, char **argv)
{
	struct opts o = {NULL, NULL, NULL, false};
	int first = argc, rc = GG_EXIT_ERROR;
	/* The gitolite mode and the check of installed hooks live in their own files. */
	if (argc > 1 && !strcmp(argv[1], "--check"))
		return gg_cmd_hooks_check(argc - 1, argv + 1);
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--gitolite"))
			return gg_cmd_install_gitolite(argc, argv);
	char *pre = NULL, *post = NULL, *policy = NULL, *secret = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if (gg_cli_is_help(argv[i])) {
			gg_cli_usage(stdout, gg_usage_install_hook);
			return GG_EXIT_OK;
		}
		if (!strcmp(argv[i], "--force"))
			o.force = true;
		else if ((v = opt_value(argc, argv, &i, "--policy")))
			o.policy = v;
		else if ((v = opt_value(argc, argv, &i, "--notify")))
			o.notify = v;
		else if ((v = opt_value(argc, argv, &i, "--secret-file")))
			o.secret_file = v;
		else if (!strcmp(argv[i], "--")) {
			first = i + 1;
			break;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "gitgate: install-hook: unknown option '%s'\n", argv[i]);
			return usage();
		} else {
			first = i;
			break;
		}
	}
	/* A unix socket needs no secret: gitgated knows who connects. */
	bool via_socket = o.notify && strncmp(o.notify, "unix:", 5) == 0;
	if (first >= argc || (o.policy && !*o.policy) || (o.notify && !*o.notify) ||
	    (o.secret_file && !*o.secret_file) || (!o.notify && o.secret_file) ||
	    (o.notify && !o.secret_file && !via_socket)) {
		if (!o.notify != !o.secret_file && !via_socket)
			fprintf(stderr, "gitgate: install-hook: --notify and --secret-file go "
			                "together (a unix: URL needs no secret)\n");
		return usage();
	}
	if (via_socket && !strstr(o.notify + 5, ":/hooks/")) {
		fprintf(stderr,
		        "gitgate: install-hook: %s names no source: use "
		        "unix:/path/to/socket:/hooks/NAME\n",
		        o.notify);
		return usage();
	}
	for (int i = first; i < argc; i++)
		if (argv[i][0] == '-') {
			fprintf(stderr,
			        "gitgate: install-hook: options go before the repositories\n");
			return usage();
		}
	git_libgit2_init();
	if ((pre = gg_cli_find_program("pre-receive")) == NULL)
		goto done;
	if (o.notify && (post = gg_cli_find_program("post-receive")) == NULL)
		goto done;
	if (o.policy) {
		/* A policy that does not load would reject every push: refuse it now. */
		gg_policy *p = NULL;
		gg_diag d = GG_DIAG_INIT;
		if (gg_policy_load(&p, o.policy, &d) < 0) {
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "%s\n", d.msgs[i]);
			gg_diag_free(&d);
			goto done;
		}
		gg_policy_free(p);
		if ((policy = absolute(o.policy)) == NULL)
			goto done;
	}
	if (o.secret_file && (secret = absolute(o.secret_file)) == NULL)
		goto done;
	rc = GG_EXIT_OK;
	for (int i = first; i < argc; i++)
		if (install_repo(argv[i], &o, pre, post, policy, secret) < 0)
			rc = GG_EXIT_ERROR;
done:
	free(pre);
	free(post);
	free(policy);
	free(secret);
	git_libgit2_shutdown();
	return rc;
}
