/*
 * gitgate install-hook --gitolite [--policy FILE] [--include-admin] [--force]
 * [--uninstall]: the gate as gitolite's common pre-receive hook, so every
 * repository gitolite has or creates later runs it. Run as the gitolite user.
 *
 * What it changes, each marked so that --uninstall removes exactly that:
 * - ~/.gitolite.rc: LOCAL_CODE (when unset) and receive\.advertisePushOptions
 *   in GIT_CONFIG_KEYS (so gitolite.conf may turn push options off per
 *   repository); lines carry "# added by gitgate" / "# gitgate added ...".
 * - LOCAL_CODE/hooks/common/pre-receive: a marked /bin/sh wrapper that skips
 *   gitolite-admin (GL_REPO) unless --include-admin and execs the gate. A
 *   common pre-receive already there is moved to LOCAL_CODE/gitgate/ and run
 *   after the gate with the same input.
 * - the gitolite user's ~/.gitconfig: receive.advertisePushOptions=true when
 *   unset, read by every repository present and future, so `git push -o`
 *   reaches the gate (recorded in LOCAL_CODE/gitgate/).
 * Then `gitolite setup --hooks-only` links the hook into every repository.
 */
#include "cli.h"
#include "gitgate/policy.h"
#include "gitgate/regex.h"
#include "gitgate/util.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GL_MAX_OUTPUT    (1024 * 1024)
#define GL_MAX_RC        (1024 * 1024)
#define GL_PUSH_KEY      "receive.advertisePushOptions"
#define GL_PUSH_KEY_RE   "receive\\.advertisePushOptions"
#define GL_ADDED         "# added by gitgate"
#define GL_ADDED_KEY     "# gitgate added " GL_PUSH_KEY_RE
#define GL_DEFAULT_LOCAL "\"$ENV{HOME}/local\""
#define GL_FLAG_FILE     "push-options-set-in-gitconfig"

struct gl_opts {
	const char *policy;
	bool include_admin, uninstall, force;
};

struct gl {
	char *home, *rc_file, *repo_base, *local;
	char *common, *chained, *state_dir;
	int changes;
};

static int gl_usage(void)
{
	fprintf(stderr, "usage: gitgate install-hook --gitolite [--policy FILE] [--include-admin] "
	                "[--force]\n"
	                "       gitgate install-hook --gitolite --uninstall\n"
	                "  run as the gitolite user (the owner of ~/.gitolite.rc)\n");
	return GG_EXIT_ERROR;
}

static void say(struct gl *g, const char *fmt, ...) GG_PRINTF(2, 3);
static void say(struct gl *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("gitgate: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	g->changes++;
}

/*
 * Run argv (never through a shell), stdin from /dev/null, stderr inherited;
 * stdout into *out (allocated, bounded) when out is not NULL. Returns the exit
 * status, or -1 when it could not run.
 */
static int run(char **out, const char *const argv[])
{
	int fds[2] = {-1, -1}, status;
	gg_buf b = GG_BUF_INIT;
	fflush(stdout);
	if (out && pipe(fds) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		if (out) {
			close(fds[0]);
			close(fds[1]);
		}
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (out)
			dup2(fds[1], 1);
		else
			dup2(2, 1); /* gitolite's chatter goes with the errors, not our report */
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "gitgate: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		char chunk[4096];
		ssize_t n;
		close(fds[1]);
		while ((n = read(fds[0], chunk, sizeof(chunk))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			if (b.len + (size_t)n <= GL_MAX_OUTPUT)
				gg_buf_put(&b, chunk, (size_t)n);
		}
		close(fds[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			gg_buf_free(&b);
			return -1;
		}
	if (out)
		*out = b.len ? gg_buf_detach(&b) : gg_strdup("");
	gg_buf_free(&b);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The rc's value for key as gitolite reads it, or NULL when unset or empty. */
static char *rc_query(const char *key)
{
	const char *argv[] = {"gitolite", "query-rc", key, NULL};
	char *out = NULL;
	int st = run(&out, argv);
	if (st != 0 || out == NULL || *out == '\0') {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = '\0';
	if (*out == '\0') {
		free(out);
		return NULL;
	}
	return out;
}

/* True when one of GIT_CONFIG_KEYS's patterns admits the push-options key (as gitolite
 * does: each whitespace-separated regex anchored, case-insensitive). */
static bool keys_cover(const char *keys)
{
	bool yes = false;
	char *copy = gg_strdup(keys ? keys : ""), *save = NULL;
	for (char *t = strtok_r(copy, " \t", &save); t && !yes; t = strtok_r(NULL, " \t", &save)) {
		char *pat = gg_printf("(?i)^(?:%s)$", t), *err = NULL;
		size_t off;
		gg_regex *re = NULL;
		if (gg_regex_compile(&re, pat, &err, &off) == 0)
			yes = gg_regex_exec(re, GL_PUSH_KEY, strlen(GL_PUSH_KEY)) == GG_REGEX_MATCH;
		gg_regex_free(re);
		free(err);
		free(pat);
	}
	free(copy);
	return yes;
}

/* Write text to path through a temporary file beside it and rename(2). 0 or -1 (said). */
static int write_atomic(const char *path, const char *text, size_t len, mode_t mode)
{
	char *tmp = gg_printf("%s.gitgate-tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fchmod(fd, mode) == 0 &&
	          fsync(fd) == 0;
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	if (ok && rename(tmp, path) < 0)
		ok = false;
	if (!ok) {
		fprintf(stderr, "gitgate: %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

/* ---- ~/.gitolite.rc ---- */

typedef struct {
	char **v;
	size_t n;
} lines;

static void lines_split(lines *l, const char *text)
{
	const char *p = text;
	l->v = NULL;
	l->n = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		l->v = gg_reallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = gg_strndup(p, len);
		p += len + (nl ? 1 : 0);
	}
}

static void lines_insert(lines *l, size_t at, char *line)
{
	l->v = gg_reallocarray(l->v, l->n + 1, sizeof(*l->v));
	memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(*l->v));
	l->v[at] = line;
	l->n++;
}

static void lines_remove(lines *l, size_t at)
{
	free(l->v[at]);
	memmove(l->v + at, l->v + at + 1, (l->n - at - 1) * sizeof(*l->v));
	l->n--;
}

static char *lines_join(const lines *l)
{
	gg_buf b = GG_BUF_INIT;
	for (size_t i = 0; i < l->n; i++) {
		gg_buf_puts(&b, l->v[i]);
		gg_buf_putc(&b, '\n');
	}
	return gg_buf_detach(&b);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The line holding "%RC = (", where added settings go; or -1. */
static long rc_open_line(const lines *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->v[i] + strspn(l->v[i], " \t");
		if (!strncmp(p, "%RC", 3) && strchr(p, '=') && strchr(p, '('))
			return (long)i;
	}
	return -1;
}

/*
 * A "GIT_CONFIG_KEYS => '...'," line (not a comment): the offsets of the quoted
 * value in *vstart and *vend. False when the line is anything else.
 */
static bool keys_line(const char *line, size_t *vstart, size_t *vend)
{
	const char *p = line + strspn(line, " \t");
	if (strncmp(p, "GIT_CONFIG_KEYS", 15) != 0)
		return false;
	p += 15;
	p += strspn(p, " \t");
	if (strncmp(p, "=>", 2) != 0)
		return false;
	p += 2;
	p += strspn(p, " \t");
	if (*p != '\'')
		return false;
	const char *q = strchr(p + 1, '\'');
	if (q == NULL || q[-1] == '\\')
		return false; /* an escaped quote: not a line this tool rewrites */
	*vstart = (size_t)(p + 1 - line);
	*vend = (size_t)(q - line);
	return true;
}

static void free_lines(lines *l)
{
	gg_strv_free(l->v, l->n);
	l->v = NULL;
	l->n = 0;
}

static int rc_load(lines *l, mode_t *mode, const char *rc_file)
{
	char *text = NULL;
	size_t len;
	struct stat st;
	if (gg_read_file(&text, &len, rc_file, GL_MAX_RC) < 0 || stat(rc_file, &st) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", rc_file, strerror(errno));
		free(text);
		return -1;
	}
	*mode = st.st_mode & 07777;
	lines_split(l, text);
	free(text);
	return 0;
}

static int rc_save(const lines *l, mode_t mode, const char *rc_file)
{
	char *text = lines_join(l);
	int rc = write_atomic(rc_file, text, strlen(text), mode);
	free(text);
	return rc;
}

/* Set LOCAL_CODE and admit the push-options key in GIT_CONFIG_KEYS, as needed. */
static int rc_install(struct gl *g)
{
	lines l;
	mode_t mode;
	bool dirty = false;
	int rc = -1;
	char *keys = rc_query("GIT_CONFIG_KEYS");
	bool want_local = g->local == NULL, want_key = !keys_cover(keys);
	if (!want_local && !want_key) {
		free(keys);
		return 0;
	}
	if (rc_load(&l, &mode, g->rc_file) < 0)
		goto done;
	long open = rc_open_line(&l);
	if (open < 0) {
		fprintf(stderr,
		        "gitgate: %s: no \"%%RC = (\" line; add LOCAL_CODE and GIT_CONFIG_KEYS "
		        "yourself\n",
		        g->rc_file);
		goto done;
	}
	if (want_key) {
		bool edited = false;
		for (size_t i = 0; i < l.n && !edited; i++) {
			size_t vs, ve;
			if (!keys_line(l.v[i], &vs, &ve))
				continue;
			char *line = gg_printf("%.*s%s%s%s %s", (int)ve, l.v[i], ve > vs ? " " : "",
			                       GL_PUSH_KEY_RE, l.v[i] + ve, GL_ADDED_KEY);
			free(l.v[i]);
			l.v[i] = line;
			edited = true;
		}
		if (!edited)
			lines_insert(
			    &l, (size_t)open + 1,
			    gg_strdup("    GIT_CONFIG_KEYS => '" GL_PUSH_KEY_RE "', " GL_ADDED));
		dirty = true;
	}
	if (want_local) {
		lines_insert(&l, (size_t)open + 1,
		             gg_strdup("    LOCAL_CODE => " GL_DEFAULT_LOCAL ", " GL_ADDED));
		dirty = true;
	}
	if (dirty && rc_save(&l, mode, g->rc_file) < 0) {
		/* Debian's rc is root's /etc/gitolite3/gitolite.rc: say what to add there. */
		fprintf(stderr,
		        "gitgate: nothing was changed; set in %%RC in %s (as its owner), in "
		        "place of any line for the same key:\n",
		        g->rc_file);
		if (want_local)
			fprintf(stderr, "    LOCAL_CODE => " GL_DEFAULT_LOCAL ",\n");
		if (want_key)
			fprintf(stderr, "    GIT_CONFIG_KEYS => '%s%s" GL_PUSH_KEY_RE "',\n",
			        keys ? keys : "", keys ? " " : "");
		fprintf(stderr, "  then run this again\n");
		goto done;
	}
	if (want_local) {
		if ((g->local = rc_query("LOCAL_CODE")) == NULL) {
			fprintf(stderr, "gitgate: %s: gitolite still reads no LOCAL_CODE\n",
			        g->rc_file);
			goto done;
		}
		say(g, "%s: LOCAL_CODE set to %s (gitolite's local code: %s)", g->rc_file,
		    GL_DEFAULT_LOCAL, g->local);
	}
	if (want_key) {
		free(keys);
		keys = rc_query("GIT_CONFIG_KEYS");
		if (keys_cover(keys))
			say(g,
			    "%s: GIT_CONFIG_KEYS admits %s, so gitolite.conf may set it per "
			    "repository",
			    g->rc_file, GL_PUSH_KEY);
		else
			fprintf(stderr,
			        "gitgate: %s: warning: gitolite does not read the GIT_CONFIG_KEYS "
			        "line added (another setting wins?); push options still reach the "
			        "gate through ~/.gitconfig\n",
			        g->rc_file);
	}
	rc = 0;
done:
	free(keys);
	free_lines(&l);
	return rc;
}

/* Remove the lines this tool added and the key it added to GIT_CONFIG_KEYS. Sets
 * *removed_local when LOCAL_CODE was ours. */
static int rc_uninstall(struct gl *g, bool *removed_local)
{
	lines l = {NULL, 0};
	mode_t mode;
	bool dirty = false;
	*removed_local = false;
	if (rc_load(&l, &mode, g->rc_file) < 0)
		return -1;
	for (size_t i = 0; i < l.n;) {
		size_t vs, ve;
		if (ends_with(l.v[i], GL_ADDED)) {
			const char *p = l.v[i] + strspn(l.v[i], " \t");
			if (!strncmp(p, "LOCAL_CODE", 10)) {
				*removed_local = true;
				say(g, "%s: removed LOCAL_CODE", g->rc_file);
			} else {
				say(g, "%s: removed GIT_CONFIG_KEYS", g->rc_file);
			}
			lines_remove(&l, i);
			dirty = true;
			continue;
		}
		if (ends_with(l.v[i], " " GL_ADDED_KEY) && keys_line(l.v[i], &vs, &ve)) {
			/* The value with our key (and the space before it) taken out. */
			gg_buf b = GG_BUF_INIT;
			size_t klen = strlen(GL_PUSH_KEY_RE);
			size_t cut = ve >= klen ? ve - klen : ve;
			bool ours = ve >= vs + klen && !strncmp(l.v[i] + cut, GL_PUSH_KEY_RE, klen);
			if (ours && cut > vs && l.v[i][cut - 1] == ' ')
				cut--;
			gg_buf_put(&b, l.v[i], ours ? cut : ve);
			size_t tail = strlen(l.v[i]) - strlen(" " GL_ADDED_KEY);
			gg_buf_put(&b, l.v[i] + ve, tail - ve);
			free(l.v[i]);
			l.v[i] = gg_buf_detach(&b);
			say(g, "%s: GIT_CONFIG_KEYS no longer admits %s", g->rc_file, GL_PUSH_KEY);
			dirty = true;
		}
		i++;
	}
	int rc = dirty ? rc_save(&l, mode, g->rc_file) : 0;
	free_lines(&l);
	return rc;
}

/* ---- the common hook ---- */

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

static char *wrapper_text(const char *gate, const char *policy, const char *chained,
                          bool include_admin)
{
	gg_buf b = GG_BUF_INIT;
	gg_buf_puts(&b, "#!/bin/sh\n" GG_HOOK_MARKER " --gitolite\n"
	                "# gitolite links this common hook into every repository; "
	                "`gitgate install-hook --gitolite --uninstall` removes it.\n");
	if (chained)
		gg_buf_puts(&b, "in=$(mktemp) || exit 1\n"
		                "trap 'rm -f \"$in\"' EXIT\n"
		                "cat >\"$in\" || exit 1\n");
	const char *indent = "";
	if (!include_admin) {
		gg_buf_puts(&b, "# gitolite-admin holds gitolite's own configuration: not gated "
		                "(--include-admin gates it too).\n");
		if (chained) {
			gg_buf_puts(&b, "if [ \"${GL_REPO-}\" != gitolite-admin ]; then\n");
			indent = "\t";
		} else {
			gg_buf_puts(&b, "[ \"${GL_REPO-}\" = gitolite-admin ] && exit 0\n");
		}
	}
	if (policy) {
		/* After $GITGATE_POLICY and the repository's gitgate.policy, as the lookup goes. */
		gg_buf_printf(&b,
		              "%sif [ -z \"${GITGATE_POLICY-}\" ] && ! git config --get "
		              "gitgate.policy >/dev/null 2>&1; then\n%s\tGITGATE_POLICY=",
		              indent, indent);
		sh_quote(&b, policy);
		gg_buf_printf(&b, "\n%s\texport GITGATE_POLICY\n%sfi\n", indent, indent);
	}
	if (chained) {
		gg_buf_puts(&b, indent);
		sh_quote(&b, gate);
		gg_buf_puts(&b, " \"$@\" <\"$in\" || exit 1\n");
		if (!include_admin)
			gg_buf_puts(&b, "fi\n");
		gg_buf_puts(&b, "# the common pre-receive hook that was here before gitgate\n");
		sh_quote(&b, chained);
		gg_buf_puts(&b, " \"$@\" <\"$in\"\n");
	} else {
		gg_buf_puts(&b, "exec ");
		sh_quote(&b, gate);
		gg_buf_puts(&b, " \"$@\"\n");
	}
	return gg_buf_detach(&b);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int mkdirs(const char *path)
{
	if (gg_mkdir_p(path, 0755) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int hook_install(struct gl *g, const char *gate, const char *policy, bool include_admin)
{
	char *dir = gg_printf("%s/hooks/common", g->local), *text = NULL, *old = NULL;
	size_t len;
	int rc = -1;
	if (mkdirs(dir) < 0 || mkdirs(g->state_dir) < 0)
		goto done;
	if (exists(g->common) && !gg_cli_hook_is_ours(g->common)) {
		if (exists(g->chained)) {
			fprintf(stderr,
			        "gitgate: %s is not gitgate's, and %s already holds an earlier "
			        "one; merge them by hand first\n",
			        g->common, g->chained);
			goto done;
		}
		if (rename(g->common, g->chained) < 0) {
			fprintf(stderr, "gitgate: %s: %s\n", g->common, strerror(errno));
			goto done;
		}
		say(g,
		    "%s: the common pre-receive hook already there moved to %s; it runs after "
		    "the gate",
		    g->common, g->chained);
	}
	text = wrapper_text(gate, policy, exists(g->chained) ? g->chained : NULL, include_admin);
	if (gg_read_file(&old, &len, g->common, GL_MAX_RC) == 0 && !strcmp(old, text)) {
		rc = 0;
		goto done;
	}
	if (write_atomic(g->common, text, strlen(text), 0755) < 0)
		goto done;
	say(g, "%s: %s the gate as gitolite's common pre-receive hook (%s)", g->common,
	    old ? "updated" : "installed",
	    include_admin ? "gitolite-admin included" : "gitolite-admin skipped");
	rc = 0;
done:
	free(dir);
	free(text);
	free(old);
	return rc;
}

/* ---- ~/.gitconfig ---- */

static int push_options_install(struct gl *g)
{
	const char *get[] = {"git", "config", "--global", "--get", GL_PUSH_KEY, NULL};
	const char *set[] = {"git", "config", "--global", GL_PUSH_KEY, "true", NULL};
	char *val = NULL, *flag = gg_printf("%s/%s", g->state_dir, GL_FLAG_FILE);
	int rc = -1, st = run(&val, get);
	if (st == 0 && val) {
		val[strcspn(val, "\n")] = '\0';
		if (strcasecmp(val, "true") && strcasecmp(val, "yes") && strcasecmp(val, "on") &&
		    strcmp(val, "1"))
			fprintf(stderr,
			        "gitgate: warning: %s/.gitconfig sets %s = %s: git push -o "
			        "(gitgate.bypass, gitgate.allow) will not reach the gate\n",
			        g->home, GL_PUSH_KEY, val);
		rc = 0;
		goto done;
	}
	if (run(NULL, set) != 0) {
		fprintf(stderr, "gitgate: git config --global %s true failed\n", GL_PUSH_KEY);
		goto done;
	}
	static const char note[] = "gitgate install-hook --gitolite set "
	                           "receive.advertisePushOptions in ~/.gitconfig; --uninstall "
	                           "unsets it.\n";
	if (write_atomic(flag, note, sizeof(note) - 1, 0644) < 0)
		goto done;
	say(g, "%s/.gitconfig: %s = true, so git push -o reaches the gate in every repository",
	    g->home, GL_PUSH_KEY);
	rc = 0;
done:
	free(val);
	free(flag);
	return rc;
}

static int push_options_uninstall(struct gl *g)
{
	const char *unset[] = {"git", "config", "--global", "--unset", GL_PUSH_KEY, NULL};
	char *flag = gg_printf("%s/%s", g->state_dir, GL_FLAG_FILE);
	int rc = 0;
	if (exists(flag)) {
		int st = run(NULL, unset);
		/* 5: already unset */
		if (st != 0 && st != 5) {
			fprintf(stderr, "gitgate: git config --global --unset %s failed\n",
			        GL_PUSH_KEY);
			rc = -1;
		} else {
			unlink(flag);
			say(g, "%s/.gitconfig: %s unset", g->home, GL_PUSH_KEY);
		}
	}
	free(flag);
	return rc;
}

/* ---- repositories ---- */

/* gitolite's physical repositories, as paths of their git directories. */
static int list_repos(char ***out, size_t *n, const struct gl *g)
{
	const char *argv[] = {"gitolite", "list-phy-repos", NULL};
	char *text = NULL, *save = NULL;
	*out = NULL;
	*n = 0;
	if (run(&text, argv) != 0) {
		fprintf(stderr, "gitgate: gitolite list-phy-repos failed\n");
		free(text);
		return -1;
	}
	for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		*out = gg_reallocarray(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = gg_printf("%s/%s.git", g->repo_base, t);
	}
	free(text);
	return 0;
}

static bool links_to(const char *path, const char *target)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return !strcmp(buf, target);
}

/*
 * gitolite setup replaces every repository's hooks/pre-receive with the common
 * one. A repository's own pre-receive (not gitolite's link, not gitgate's) would
 * be lost: refuse unless --force, before anything is changed.
 */
static int own_hooks_check(const struct gl *g, bool force)
{
	char **repos = NULL;
	size_t n = 0, own = 0;
	if (list_repos(&repos, &n, g) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *hook = gg_printf("%s/hooks/pre-receive", repos[i]);
		struct stat st;
		/* stat: a dangling link (a common hook removed by hand) holds nothing to keep. */
		if (stat(hook, &st) == 0 && !(g->common && links_to(hook, g->common)) &&
		    !gg_cli_hook_is_ours(hook)) {
			fprintf(stderr,
			        "gitgate: %s: has its own hooks/pre-receive, which gitolite "
			        "setup would replace",
			        repos[i]);
			fputs(force ? " (--force: replacing it)\n" : "\n", stderr);
			own++;
		}
		free(hook);
	}
	gg_strv_free(repos, n);
	if (own && !force) {
		fprintf(stderr, "gitgate: move those hooks to LOCAL_CODE/hooks/repo-specific or "
		                "remove them, or use --force; nothing was changed\n");
		return -1;
	}
	return 0;
}

/* Remove every repository's hooks/pre-receive link to the common hook. */
static int unlink_repo_hooks(struct gl *g)
{
	char **repos = NULL;
	size_t n = 0, removed = 0;
	int rc = 0;
	if (list_repos(&repos, &n, g) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *hook = gg_printf("%s/hooks/pre-receive", repos[i]);
		if (links_to(hook, g->common)) {
			if (unlink(hook) < 0) {
				fprintf(stderr, "gitgate: %s: %s\n", hook, strerror(errno));
				rc = -1;
			} else {
				removed++;
			}
		}
		free(hook);
	}
	gg_strv_free(repos, n);
	if (removed)
		say(g, "removed hooks/pre-receive (the link to %s) from %zu repositories",
		    g->common, removed);
	return rc;
}

static int gitolite_hooks_only(void)
{
	const char *argv[] = {"gitolite", "setup", "--hooks-only", NULL};
	if (run(NULL, argv) != 0) {
		fprintf(stderr, "gitgate: gitolite setup --hooks-only failed\n");
		return -1;
	}
	return 0;
}

/* ---- the command ---- */

static int gl_locate(struct gl *g)
{
	const char *home = getenv("HOME");
	char path[PATH_MAX];
	if (home == NULL || *home != '/') {
		fprintf(stderr, "gitgate: HOME is not set to the gitolite user's home\n");
		return -1;
	}
	g->home = gg_strdup(home);
	char *rc = gg_printf("%s/.gitolite.rc", home);
	/* Debian links ~/.gitolite.rc to /etc/gitolite3/gitolite.rc: edit the file itself. */
	if (realpath(rc, path) == NULL) {
		fprintf(stderr,
		        "gitgate: %s: %s; run this as the gitolite user, after gitolite setup\n",
		        rc, strerror(errno));
		free(rc);
		return -1;
	}
	free(rc);
	g->rc_file = gg_strdup(path);
	if ((g->repo_base = rc_query("GL_REPO_BASE")) == NULL) {
		fprintf(stderr, "gitgate: gitolite query-rc GL_REPO_BASE failed: is gitolite "
		                "installed and set up for this user?\n");
		return -1;
	}
	/* Files made as anyone else (root, most likely) would be gitolite's no longer. */
	struct stat st;
	if (stat(g->repo_base, &st) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", g->repo_base, strerror(errno));
		return -1;
	}
	if (st.st_uid != geteuid()) {
		struct passwd *pw = getpwuid(st.st_uid);
		fprintf(stderr,
		        "gitgate: %s belongs to %s: run this as that user (su -s /bin/sh %s -c "
		        "'cd && gitgate install-hook --gitolite ...')\n",
		        g->repo_base, pw ? pw->pw_name : "another user", pw ? pw->pw_name : "USER");
		return -1;
	}
	g->local = rc_query("LOCAL_CODE");
	return 0;
}

static void gl_paths(struct gl *g)
{
	g->common = gg_printf("%s/hooks/common/pre-receive", g->local);
	g->chained = gg_printf("%s/gitgate/pre-receive.chained", g->local);
	g->state_dir = gg_printf("%s/gitgate", g->local);
}

static void gl_free(struct gl *g)
{
	free(g->home);
	free(g->rc_file);
	free(g->repo_base);
	free(g->local);
	free(g->common);
	free(g->chained);
	free(g->state_dir);
}

static int report_repos(struct gl *g)
{
	size_t repos = 0, bad = 0;
	if (gg_cli_check_root(g->repo_base, stdout, &repos, &bad) < 0)
		return GG_EXIT_ERROR;
	if (bad) {
		printf("gitgate: %zu of %zu repositories under %s do not run the gate\n", bad,
		       repos, g->repo_base);
		return GG_EXIT_VIOLATIONS;
	}
	if (g->changes == 0)
		printf("gitgate: nothing to change: ");
	else
		printf("gitgate: ");
	printf("all %zu repositories under %s run the gate\n", repos, g->repo_base);
	return GG_EXIT_OK;
}

static int gl_install(struct gl *g, const struct gl_opts *o)
{
	char *gate = NULL, *policy = NULL;
	int rc = GG_EXIT_ERROR;
	if ((gate = gg_cli_find_program("pre-receive")) == NULL)
		goto done;
	if (o->policy) {
		/* A policy that does not load would reject every push: refuse it now. */
		gg_policy *p = NULL;
		gg_diag d = GG_DIAG_INIT;
		char abs[PATH_MAX];
		if (gg_policy_load(&p, o->policy, &d) < 0) {
			for (size_t i = 0; i < d.n; i++)
				fprintf(stderr, "%s\n", d.msgs[i]);
			gg_diag_free(&d);
			goto done;
		}
		gg_policy_free(p);
		if (realpath(o->policy, abs) == NULL) {
			fprintf(stderr, "gitgate: %s: %s\n", o->policy, strerror(errno));
			goto done;
		}
		policy = gg_strdup(abs);
	}
	if (g->local)
		gl_paths(g);
	if (own_hooks_check(g, o->force) < 0 || rc_install(g) < 0)
		goto done;
	if (g->common == NULL)
		gl_paths(g);
	if (hook_install(g, gate, policy, o->include_admin) < 0 || push_options_install(g) < 0)
		goto done;
	size_t repos = 0, before = 0;
	if (gg_cli_check_root(g->repo_base, NULL, &repos, &before) < 0)
		goto done;
	if (gitolite_hooks_only() < 0)
		goto done;
	if (before) {
		size_t after = 0;
		if (gg_cli_check_root(g->repo_base, NULL, &repos, &after) < 0)
			goto done;
		if (after < before)
			say(g, "gitolite setup --hooks-only: %zu repositories now run the gate",
			    before - after);
	}
	rc = report_repos(g);
done:
	free(gate);
	free(policy);
	return rc;
}

static int gl_uninstall(struct gl *g)
{
	bool removed_local = false, removed_ours = false;
	int rc = GG_EXIT_OK;
	if (g->local) {
		gl_paths(g);
		if (exists(g->common) && gg_cli_hook_is_ours(g->common)) {
			if (exists(g->chained)) {
				if (rename(g->chained, g->common) < 0) {
					fprintf(stderr, "gitgate: %s: %s\n", g->chained,
					        strerror(errno));
					return GG_EXIT_ERROR;
				}
				say(g,
				    "%s: the common pre-receive hook from before gitgate is back",
				    g->common);
			} else if (unlink(g->common) < 0) {
				fprintf(stderr, "gitgate: %s: %s\n", g->common, strerror(errno));
				return GG_EXIT_ERROR;
			} else {
				removed_ours = true;
				say(g, "%s: removed", g->common);
			}
		}
		if (push_options_uninstall(g) < 0)
			rc = GG_EXIT_ERROR;
	}
	if (rc_uninstall(g, &removed_local) < 0)
		rc = GG_EXIT_ERROR;
	if (g->local) {
		/* Links to a hook that is gone (or to a file gitolite no longer reads) would
		 * be left dangling: take them out of every repository. */
		if ((removed_ours || removed_local) && unlink_repo_hooks(g) < 0)
			rc = GG_EXIT_ERROR;
		rmdir(g->state_dir);
		if (removed_local) {
			char *common = gg_printf("%s/hooks/common", g->local);
			char *hooks = gg_printf("%s/hooks", g->local);
			rmdir(common);
			rmdir(hooks);
			rmdir(g->local);
			free(common);
			free(hooks);
		}
	}
	if (gitolite_hooks_only() < 0)
		rc = GG_EXIT_ERROR;
	if (g->changes == 0)
		printf("gitgate: nothing to remove: gitgate was not installed for gitolite here\n");
	return rc;
}

int gg_cmd_install_gitolite(int argc, char **argv)
{
	struct gl_opts o = {NULL, false, false, false};
	struct gl g;
	memset(&g, 0, sizeof(g));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--gitolite"))
			continue;
		if (!strcmp(a, "--include-admin"))
			o.include_admin = true;
		else if (!strcmp(a, "--uninstall"))
			o.uninstall = true;
		else if (!strcmp(a, "--force"))
			o.force = true;
		else if (!strcmp(a, "--policy") && i + 1 < argc && *argv[i + 1])
			o.policy = argv[++i];
		else if (!strncmp(a, "--policy=", 9) && a[9])
			o.policy = a + 9;
		else {
			fprintf(stderr,
			        "gitgate: install-hook --gitolite: unexpected argument '%s'\n", a);
			return gl_usage();
		}
	}
	if (o.uninstall && (o.policy || o.include_admin || o.force)) {
		fprintf(stderr, "gitgate: install-hook --gitolite: --uninstall takes no other "
		                "option\n");
		return gl_usage();
	}
	git_libgit2_init();
	int rc = GG_EXIT_ERROR;
	if (gl_locate(&g) == 0)
		rc = o.uninstall ? gl_uninstall(&g) : gl_install(&g, &o);
	gl_free(&g);
	git_libgit2_shutdown();
	return rc;
}
