/*
 * The pre-receive gate: reads git's "OLD NEW REF" lines, checks every update
 * against the policy with the gate engine, prints one line per violation and
 * a summary, and exits non-zero to reject the whole push. Fails closed: a bad
 * policy, an unreadable object or an internal error rejects the push.
 */
#include "gitgate/gate.h"
#include "gitgate/policy.h"
#include "gitgate/report.h"
#include "gitgate/util.h"

#include <errno.h>
#include <git2.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define SYSTEM_POLICY    "/etc/gitgate/policy.yaml"
#define MAX_SHOWN        100
#define MAX_INPUT_LINE   8192 /* two ids and a ref name; git caps ref names far below this */
#define MAX_REASON_CHARS 200

static const char *prefix = "";

/*
 * One line to the pusher. Names, reasons and library messages end up in it,
 * so the whole line is escaped: nothing in it can steer a terminal.
 */
static void say(const char *fmt, ...) GG_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = gg_vprintf(fmt, ap);
	va_end(ap);
	char *safe = gg_report_escape(line, strlen(line));
	fprintf(stderr, "%s%s\n", prefix, safe);
	free(safe);
	free(line);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Git does not mind a hook that stops reading early, but a pipe full of unread lines is rude. */
static void drain_stdin(void)
{
	char buf[4096];
	while (fread(buf, 1, sizeof(buf), stdin) > 0)
		;
}

/*
 * First found wins: $GITGATE_POLICY, git config gitgate.policy, the system
 * file. A configured path that does not exist is an error, never "no policy":
 * an administrator who set one meant the gate to run.
 */
static int find_policy(char **out, git_repository *repo)
{
	*out = NULL;
	const char *env = getenv("GITGATE_POLICY");
	if (env && *env) {
		*out = gg_strdup(env);
		return 0;
	}
	git_config *cfg = NULL;
	if (git_repository_config_snapshot(&cfg, repo) == 0) {
		git_buf b = GIT_BUF_INIT_CONST(NULL, 0);
		if (git_config_get_path(&b, cfg, "gitgate.policy") == 0 && b.ptr && *b.ptr) {
			if (b.ptr[0] == '/')
				*out = gg_strdup(b.ptr);
			else /* relative to the repository, wherever git runs the hook from */
				*out = gg_printf("%s%s", git_repository_path(repo), b.ptr);
		}
		git_buf_dispose(&b);
		git_config_free(cfg);
		if (*out)
			return 0;
	}
	struct stat st;
	if (stat(SYSTEM_POLICY, &st) == 0) {
		*out = gg_strdup(SYSTEM_POLICY);
		return 0;
	}
	return -1;
}

static const char *pusher(void)
{
	static const char *const vars[] = {
	    "GITGATE_USER", "GL_USERNAME", "GITHUB_USER_LOGIN", "GITEA_PUSHER_NAME", "GL_USER",
	    "REMOTE_USER",  "USER"};
	for (size_t i = 0; i < GG_ARRAY_LEN(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

struct push_opts {
	char *bypass; /* the reason, or NULL */
	bool allow_deletion;
};

static void read_push_options(struct push_opts *o)
{
	const char *cnt = getenv("GIT_PUSH_OPTION_COUNT");
	long n = cnt ? strtol(cnt, NULL, 10) : 0;
	for (long i = 0; i < n && i < 1000; i++) {
		char name[64];
		snprintf(name, sizeof(name), "GIT_PUSH_OPTION_%ld", i);
		const char *v = getenv(name);
		if (v == NULL)
			continue;
		if (!strncmp(v, "gitgate.bypass", 14) && (v[14] == '=' || v[14] == '\0')) {
			const char *reason = v[14] ? v + 15 : "";
			size_t len = strlen(reason);
			free(o->bypass);
			o->bypass = gg_gate_sanitize(
			    reason, len > MAX_REASON_CHARS ? MAX_REASON_CHARS : len);
		} else if (!strcmp(v, "gitgate.allow=deletion")) {
			o->allow_deletion = true;
		}
	}
}

static bool listed(char *const *users, size_t n, const char *user)
{
	for (size_t i = 0; user && i < n; i++)
		if (!strcmp(users[i], user))
			return true;
	return false;
}

static bool may_allow_deletion(const gg_policy *p, const char *user)
{
	if (p->deletion_users_set)
		return listed(p->deletion_users, p->ndeletion_users, user);
	return listed(p->bypass_users, p->nbypass_users, user);
}

static void audit(const char *fmt, ...) GG_PRINTF(1, 2);
static void audit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	openlog("gitgate", LOG_PID, LOG_AUTH);
	vsyslog(LOG_NOTICE, fmt, ap);
	closelog();
	va_end(ap);
}

/*
 * One entry of GIT_ALTERNATE_OBJECT_DIRECTORIES, as git writes it: a path up
 * to the next ':', or a C-quoted string when the path holds ':' or starts with
 * '"'. Returns the position after the entry, or NULL at a malformed quote.
 */
static const char *alternate_entry(gg_buf *out, const char *s)
{
	gg_buf_clear(out);
	if (*s != '"') {
		const char *end = strchrnul(s, ':');
		gg_buf_put(out, s, (size_t)(end - s));
		return *end ? end + 1 : end;
	}
	for (s++; *s && *s != '"'; s++) {
		if (*s != '\\') {
			gg_buf_putc(out, *s);
			continue;
		}
		s++;
		const char *from = "abfnrtv\\\"", *to = "\a\b\f\n\r\t\v\\\"";
		const char *hit = *s ? strchr(from, *s) : NULL;
		if (hit) {
			gg_buf_putc(out, to[hit - from]);
		} else if (s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' &&
		           s[2] >= '0' && s[2] <= '7') {
			gg_buf_putc(out,
			            (char)((s[0] - '0') << 6 | (s[1] - '0') << 3 | (s[2] - '0')));
			s += 2;
		} else {
			return NULL;
		}
	}
	if (*s != '"')
		return NULL;
	s++;
	return *s == ':' ? s + 1 : s;
}

/*
 * Open the repository git runs the hook for, seeing the quarantined objects.
 * libgit2's FROM_ENV splits the alternates on ':' without undoing git's
 * quoting, so when an entry is quoted (a repository path holding ':') the
 * variable is set aside and its entries are added here, unquoted.
 */
static int open_repository(git_repository **out, char **err)
{
	const char *env = getenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	char *saved = env && strchr(env, '"') ? gg_strdup(env) : NULL;
	git_odb *odb = NULL;
	gg_buf entry = GG_BUF_INIT;
	int rc = -1;
	*out = NULL;
	if (saved)
		unsetenv("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	if (git_repository_open_ext(out, NULL, GIT_REPOSITORY_OPEN_FROM_ENV, NULL) < 0) {
		const git_error *e = git_error_last();
		*err =
		    gg_printf("cannot open the repository: %s", e ? e->message : "unknown error");
		goto done;
	}
	if (saved) {
		if (git_repository_odb(&odb, *out) < 0) {
			*err = gg_strdup("cannot open the object database");
			goto done;
		}
		for (const char *s = saved; s && *s;) {
			s = alternate_entry(&entry, s);
			if (s == NULL) {
				*err = gg_strdup("malformed GIT_ALTERNATE_OBJECT_DIRECTORIES");
				goto done;
			}
			if (entry.len && entry.ptr[0] != '#' &&
			    git_odb_add_disk_alternate(odb, entry.ptr) < 0) {
				const git_error *e = git_error_last();
				*err = gg_printf("cannot add an object directory: %s",
				                 e ? e->message : "unknown error");
				goto done;
			}
		}
	}
	rc = 0;
done:
	if (saved)
		setenv("GIT_ALTERNATE_OBJECT_DIRECTORIES", saved, 1);
	if (rc < 0) {
		git_repository_free(*out);
		*out = NULL;
	}
	git_odb_free(odb);
	gg_buf_free(&entry);
	free(saved);
	return rc;
}

struct update {
	char *old, *new, *ref;
};

/* Parse git's input; a malformed line is an error, not something to skip. */
static int read_updates(struct update **out, size_t *nout, char **err)
{
	struct update *u = NULL;
	size_t n = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = -1;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		if (len > MAX_INPUT_LINE) {
			*err = gg_strdup("an input line is too long");
			goto done;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (sp2 == NULL || sp2[1] == '\0') {
			*err = gg_strdup("malformed input line (want \"OLD NEW REF\")");
			goto done;
		}
		u = gg_reallocarray(u, n + 1, sizeof(*u));
		u[n].old = gg_strndup(line, (size_t)(sp1 - line));
		u[n].new = gg_strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
		u[n].ref = gg_strdup(sp2 + 1);
		n++;
	}
	rc = 0;
done:
	free(line);
	*out = u;
	*nout = n;
	return rc;
}

static void free_updates(struct update *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(u[i].old);
		free(u[i].new);
		free(u[i].ref);
	}
	free(u);
}

int main(void)
{
	git_repository *repo = NULL;
	gg_policy *policy = NULL;
	gg_gate *gate = NULL;
	gg_report report = GG_REPORT_INIT;
	gg_diag diag = GG_DIAG_INIT;
	struct push_opts opts = {NULL, false};
	struct update *ups = NULL;
	size_t nups = 0;
	char *path = NULL, *err = NULL, *user = NULL;
	int rc = 1;

	const char *glid = getenv("GL_ID");
	if (glid && *glid)
		prefix = "GL-HOOK-ERR: ";
	/*
	 * OpenSSL's error strings (thousands, hashed at its start) are never
	 * shown by the hook: its messages are its own. A signature rule's first
	 * key starts OpenSSL, and that table was a sixth of it.
	 */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	git_libgit2_init();
	/* git has applied safe.directory already (its system, global and command-line
	 * scopes, `*` included); libgit2 1.5 reads neither that scope nor `*`. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	/*
	 * receive-pack's index-pack has already hashed every pushed object, and
	 * the rest of the store was verified when it arrived: hashing each blob
	 * again on read cost a third of the hook's time on big pushes.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/*
	 * Changed manifests are looked up by path in NEW's tree; libgit2 caches
	 * no tree over 4 KiB by default, so a directory of 100 files was
	 * inflated again for each of them (a third of a 10,000-file push).
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE, (size_t)1 << 20);

	if (open_repository(&repo, &err) < 0) {
		say("gitgate: %s", err);
		say("gitgate: push rejected: internal error");
		drain_stdin();
		goto done;
	}
	if (find_policy(&path, repo) < 0) {
		say("gitgate: no policy found ($GITGATE_POLICY, git config gitgate.policy, %s); "
		    "push accepted without checks",
		    SYSTEM_POLICY);
		drain_stdin();
		rc = 0;
		goto done;
	}
	if (gg_policy_load(&policy, path, &diag) < 0) {
		gg_diag_sort(&diag);
		for (size_t i = 0; i < diag.n; i++)
			say("error[policy] %s", diag.msgs[i]);
		say("gitgate: push rejected: the policy %s is invalid", path);
		drain_stdin();
		goto done;
	}
	if (read_updates(&ups, &nups, &err) < 0) {
		say("gitgate: %s", err);
		say("gitgate: push rejected: internal error");
		goto done;
	}
	read_push_options(&opts);
	if (opts.bypass && opts.bypass[strspn(opts.bypass, " \t")] == '\0') {
		/* A bypass is audited by its reason: without one it is no bypass. */
		say("gitgate: bypass refused: give a reason (git push -o gitgate.bypass=REASON); "
		    "checking the push");
	} else if (opts.bypass) {
		const char *who = pusher();
		user = who ? gg_gate_sanitize(who, strlen(who)) : NULL;
		if (listed(policy->bypass_users, policy->nbypass_users, who)) {
			audit("bypass by %s in %s (%zu ref updates): %s", user,
			      git_repository_path(repo), nups, opts.bypass);
			say("gitgate: bypass by %s: %s", user, opts.bypass);
			say("gitgate: push accepted without checks (bypass logged)");
			rc = 0;
			goto done;
		}
		say("gitgate: bypass refused: user '%s' is not in bypass.users; checking the push",
		    user ? user : "(unknown)");
	}
	if (gg_gate_new(&gate, repo, policy, &report, &err) < 0) {
		say("gitgate: %s", err);
		say("gitgate: push rejected: internal error");
		goto done;
	}
	if (opts.allow_deletion) {
		/* Deleting deployed resources is an override like a bypass: same audit. */
		const char *who = pusher();
		char *u = who ? gg_gate_sanitize(who, strlen(who)) : NULL;
		if (may_allow_deletion(policy, who)) {
			audit("allow=deletion by %s in %s (%zu ref updates)", u,
			      git_repository_path(repo), nups);
			say("gitgate: resource deletions allowed for %s (git push -o "
			    "gitgate.allow=deletion, logged)",
			    u);
			gg_gate_allow_deletion(gate, true);
		} else {
			say("gitgate: allow=deletion refused: user '%s' is not in "
			    "manifests.deletions.allow_users%s; checking deletions",
			    u ? u : "(unknown)",
			    policy->deletion_users_set ? "" : " (unset: bypass.users)");
		}
		free(u);
	}
	/* Under git's quarantine the repository's own store is the old state. */
	const char *quarantine = getenv("GIT_QUARANTINE_PATH");
	if (quarantine && *quarantine) {
		char *objects = gg_printf("%sobjects", git_repository_commondir(repo));
		int r = gg_gate_set_main_store(gate, objects, &err);
		free(objects);
		if (r < 0) {
			say("gitgate: %s", err);
			say("gitgate: push rejected: internal error");
			goto done;
		}
	}
	for (size_t i = 0; i < nups; i++) {
		if (gg_gate_check_update(gate, ups[i].old, ups[i].new, ups[i].ref, &err) < 0) {
			char *ref = gg_gate_sanitize(ups[i].ref, strlen(ups[i].ref));
			say("gitgate: %s: %s", ref, err);
			free(ref);
			say("gitgate: push rejected: internal error");
			goto done;
		}
	}
	gg_gate_apply_mode(policy, &report);
	gg_report_sort(&report);
	gg_report_print_text(&report, stderr, prefix, MAX_SHOWN);
	if (report.nerrors) {
		say("gitgate: push rejected: %zu %s, %zu %s", report.nerrors,
		    plural(report.nerrors, "error", "errors"), report.nwarnings,
		    plural(report.nwarnings, "warning", "warnings"));
		goto done;
	}
	if (report.nwarnings)
		say("gitgate: push accepted%s: %zu %s",
		    policy->mode == GG_MODE_WARN ? " (mode: warn)" : "", report.nwarnings,
		    plural(report.nwarnings, "warning", "warnings"));
	else
		say("gitgate: push accepted: %zu %s checked", gg_gate_ncommits(gate),
		    plural(gg_gate_ncommits(gate), "commit", "commits"));
	rc = 0;
done:
	free_updates(ups, nups);
	free(opts.bypass);
	free(user);
	free(err);
	free(path);
	gg_gate_free(gate);
	gg_report_free(&report);
	gg_diag_free(&diag);
	gg_policy_free(policy);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}
