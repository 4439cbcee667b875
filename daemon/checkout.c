/*
 * Checkout targets with libgit2. This code blocks (network, disk) and runs
 * only in the `gitgated --deploy-checkout` child, never on the event loop.
 */
#include "checkout.h"
#include "deploy_verify.h"

#include "statedir.h"

#include "gitgate/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <limits.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * libgit2 1.5's git_regexp_search leaks its PCRE2 match data when nothing
 * matches (creating a remote looks up url.*.insteadOf that way). Under LeakSanitizer the
 * checkout child would then exit non-zero; allocations inside libgit2's remote
 * calls are left out of leak checking instead, the rest of the child is checked.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LIBGIT2_LEAKS_BEGIN() __lsan_disable()
#define LIBGIT2_LEAKS_END()   __lsan_enable()
#else
#define LIBGIT2_LEAKS_BEGIN() ((void)0)
#define LIBGIT2_LEAKS_END()   ((void)0)
#endif

#define CHECKOUT_MAX_RELEASE 1024 /* entries looked at when pruning */

char *gg_checkout_mirror_path(const char *state_dir, const char *url)
{
	/*
	 * Named from the redacted URL only: a password in the URL must reach
	 * neither the directory name (shown in logs and the API) nor a hash of
	 * it that could be guessed against offline. URLs that differ only in
	 * their credentials name one repository and share its mirror.
	 */
	char *redacted = gg_checkout_redact_url(url);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)redacted, strlen(redacted), md);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	gg_hex(hex, md, sizeof(md));
	/* A readable hint plus a hash: distinct URLs never share a mirror. */
	const char *scheme = strstr(redacted, "://");
	const char *rest = scheme ? scheme + 3 : redacted;
	const char *base = strrchr(rest, '/');
	base = base && base[1] ? base + 1 : rest;
	/* Without a path the hint is the host, after any (redacted) user part. */
	const char *at = strrchr(base, '@');
	if (at && !strchr(at, '/'))
		base = at + 1;
	gg_buf b = GG_BUF_INIT;
	for (const char *p = base; *p && b.len < 40; p++)
		gg_buf_putc(&b, (char)((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		                               (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
		                           ? *p
		                           : '_'));
	char *hint = gg_buf_detach(&b);
	char *path = gg_printf("%s/mirrors/%s-%.16s.git", state_dir, hint, hex);
	free(hint);
	free(redacted);
	return path;
}

char *gg_checkout_redact_url(const char *url)
{
	const char *scheme = strstr(url, "://");
	if (scheme == NULL)
		return gg_strdup(url);
	const char *auth = scheme + 3;
	const char *end = auth + strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return gg_strdup(url);
	const char *colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon)
		return gg_printf("%.*s:***%s", (int)(colon - url), url, at);
	/*
	 * Over HTTP a user part alone is how forges take a token
	 * (https://TOKEN@github.com/...); over ssh it is the account (git@).
	 */
	if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8))
		return gg_printf("%.*s***%s", (int)(auth - url), url, at);
	return gg_strdup(url);
}

char *gg_checkout_full_ref(const char *branch)
{
	if (!strncmp(branch, "refs/", 5))
		return gg_strdup(branch);
	return gg_printf("refs/heads/%s", branch);
}

static char *git_err(const char *what)
{
	const git_error *e = git_error_last();
	return gg_printf("%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
}

/* ---- credentials ---- */

/* What the fetch callbacks share: the options, and which credentials were handed out. */
struct fetch_ctx {
	const gg_checkout_opts *o;
	unsigned offered; /* GIT_CREDENTIAL_* bits */
};

/*
 * libgit2 asks again each time the server refuses what it was given, and
 * would keep offering the same file until the server hangs up (sshd after
 * MaxAuthTries, with a misleading "failed getting response") or its replay
 * limit trips: a second request for the same kind means the first was refused.
 */
static int cred_cb(git_credential **out, const char *url, const char *user_from_url,
                   unsigned int allowed, void *payload)
{
	(void)url;
	struct fetch_ctx *ctx = payload;
	const gg_checkout_opts *o = ctx->o;
	const char *user = o->username ? o->username : user_from_url;
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && o->ssh_key_file) {
		if (ctx->offered & GIT_CREDENTIAL_SSH_KEY) {
			git_error_set(
			    GIT_ERROR_SSH,
			    "authentication failed: the server refused the key %s for user %s",
			    o->ssh_key_file, user ? user : "git");
			return GIT_EAUTH;
		}
		ctx->offered |= GIT_CREDENTIAL_SSH_KEY;
		return git_credential_ssh_key_new(out, user ? user : "git", o->ssh_public_key_file,
		                                  o->ssh_key_file, NULL);
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && o->password_file && user) {
		if (ctx->offered & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
			git_error_set(GIT_ERROR_HTTP,
			              "authentication failed: the server refused user %s with the "
			              "password in %s",
			              user, o->password_file);
			return GIT_EAUTH;
		}
		char *pw = NULL;
		size_t pwlen;
		char *why = NULL;
		if (gg_read_secret_file(&pw, &pwlen, o->password_file, &why) < 0) {
			git_error_set_str(GIT_ERROR_NET, why);
			free(why);
			return -1;
		}
		ctx->offered |= GIT_CREDENTIAL_USERPASS_PLAINTEXT;
		int rc = git_credential_userpass_plaintext_new(out, user, pw);
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
		return rc;
	}
	/* An ssh:// URL without a user: the key's default name, not a failure. */
	if ((allowed & GIT_CREDENTIAL_USERNAME) && (user || o->ssh_key_file))
		return git_credential_username_new(out, user ? user : "git");
	/* No credentials configured for what the server asks: fail instead of prompting. */
	return GIT_PASSTHROUGH;
}

/* ---- SSH host keys: OpenSSH's known_hosts(5) ---- */

/* Base64 text to bytes (padding not counted); -1 when it is not base64. */
static int b64_decode(unsigned char **out, const char *text)
{
	size_t len = strlen(text);
	unsigned char *raw = gg_malloc(len / 4 * 3 + 3);
	int n = len > 0 && len % 4 == 0
	            ? EVP_DecodeBlock(raw, (const unsigned char *)text, (int)len)
	            : -1;
	for (size_t i = len; n > 0 && i > 0 && text[i - 1] == '='; i--)
		n--;
	if (n < 0) {
		free(raw);
		raw = NULL;
	}
	*out = raw;
	return n;
}

/* OpenSSH's patterns: '*' and '?', hostnames compared without case. */
static bool wild_match(const char *pat, const char *s)
{
	for (; *pat; pat++, s++) {
		if (*pat == '*') {
			while (pat[1] == '*')
				pat++;
			for (const char *t = s;; t++) {
				if (wild_match(pat + 1, t))
					return true;
				if (*t == '\0')
					return false;
			}
		}
		if (*s == '\0' ||
		    (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*s)))
			return false;
	}
	return *s == '\0';
}

/* "|1|SALT|HASH": HMAC-SHA1 of the name keyed with the salt, as ssh-keygen -H writes it. */
static bool hashed_match(const char *entry, const char *name)
{
	char *copy = gg_strdup(entry + 3);
	char *bar = strchr(copy, '|');
	bool ok = false;
	if (bar) {
		*bar = '\0';
		unsigned char *salt = NULL, *want = NULL;
		int ns = b64_decode(&salt, copy), nw = b64_decode(&want, bar + 1);
		unsigned char got[EVP_MAX_MD_SIZE];
		unsigned int ng = 0;
		ok = ns > 0 && nw == SHA_DIGEST_LENGTH &&
		     HMAC(EVP_sha1(), salt, ns, (const unsigned char *)name, strlen(name), got,
		          &ng) &&
		     ng == SHA_DIGEST_LENGTH && CRYPTO_memcmp(got, want, ng) == 0;
		free(salt);
		free(want);
	}
	free(copy);
	return ok;
}

/* Whether a line's comma-separated host patterns name `name`; a matching "!pattern" vetoes. */
static bool hosts_match(char *patterns, const char *name)
{
	bool hit = false;
	for (char *save = NULL, *p = strtok_r(patterns, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		if (!strncmp(p, "|1|", 3)) {
			hit = hit || hashed_match(p, name);
		} else if (p[0] == '!') {
			if (wild_match(p + 1, name))
				return false;
		} else if (wild_match(p, name)) {
			hit = true;
		}
	}
	return hit;
}

/* How known_hosts names the server: "host", or "[host]:port" off port 22. */
static char *known_hosts_name(const char *url, const char *host)
{
	unsigned port = 22;
	const char *auth = strstr(url, "://");
	if (auth) {
		auth += 3;
		const char *end = auth + strcspn(auth, "/");
		const char *at = memchr(auth, '@', (size_t)(end - auth));
		const char *h = at ? at + 1 : auth;
		const char *close = *h == '[' ? memchr(h, ']', (size_t)(end - h)) : NULL;
		const char *colon =
		    memchr(close ? close : h, ':', (size_t)(end - (close ? close : h)));
		if (colon && colon + 1 < end)
			port = (unsigned)strtoul(colon + 1, NULL, 10);
	}
	return port == 22 ? gg_strdup(host) : gg_printf("[%s]:%u", host, port);
}

/*
 * The server's key must be on a line of the known-hosts file whose host
 * patterns name the server (plain, wildcard or hashed); a "@revoked" line
 * with the key refuses it outright. "@cert-authority" lines do not apply:
 * host certificates are not checked here.
 */
static int cert_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	const gg_checkout_opts *o = ((const struct fetch_ctx *)payload)->o;
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2 || o->ssh_known_hosts_file == NULL)
		return valid ? 0 : GIT_PASSTHROUGH;
	const git_cert_hostkey *hk = (const git_cert_hostkey *)cert;
	if (!(hk->type & GIT_CERT_SSH_RAW))
		return GIT_ECERTIFICATE;
	char *text = NULL;
	size_t len;
	if (gg_read_file(&text, &len, o->ssh_known_hosts_file, 1 << 20) < 0) {
		fprintf(stdout, "cannot read %s: %s\n", o->ssh_known_hosts_file, strerror(errno));
		return GIT_ECERTIFICATE;
	}
	char *name = known_hosts_name(o->url, host);
	bool known = false, revoked = false;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !revoked;
	     line = strtok_r(NULL, "\n", &save)) {
		/* [@MARKER] HOSTS KEYTYPE BASE64 [comment] */
		char *f[4] = {NULL, NULL, NULL, NULL};
		char *s2 = NULL;
		char *tok = strtok_r(line, " \t\r", &s2);
		for (int i = 0; i < 4 && tok; i++, tok = strtok_r(NULL, " \t\r", &s2))
			f[i] = tok;
		if (f[0] == NULL || f[0][0] == '#')
			continue;
		char **h = f;
		const char *marker = NULL;
		if (f[0][0] == '@') {
			marker = f[0];
			h = f + 1;
		}
		if (h[2] == NULL || (marker && strcmp(marker, "@revoked") != 0))
			continue;
		unsigned char *raw = NULL;
		int n = b64_decode(&raw, h[2]);
		bool same = n > 0 && (size_t)n == hk->hostkey_len &&
		            !memcmp(raw, hk->hostkey, hk->hostkey_len);
		free(raw);
		if (!same || !hosts_match(h[0], name))
			continue;
		if (marker)
			revoked = true;
		else
			known = true;
	}
	free(text);
	int rc = known && !revoked ? 0 : GIT_ECERTIFICATE;
	if (revoked)
		fprintf(stdout, "host key of %s is revoked in %s\n", name, o->ssh_known_hosts_file);
	else if (!known)
		fprintf(stdout, "host key of %s is not in %s\n", name, o->ssh_known_hosts_file);
	free(name);
	return rc;
}

/* ---- fetch ---- */

int gg_checkout_fetch(char commit[41], const gg_checkout_opts *o, char **err)
{
	int rc = -1, lockfd = -1;
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_reference *ref = NULL;
	git_object *obj = NULL;
	char *full = gg_checkout_full_ref(o->branch);
	char *spec = gg_printf("+%s:%s", full, full);
	char *lock = gg_printf("%s.lock", o->mirror);
	char *parent = gg_strdup(o->mirror);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	*err = NULL;

	if (gg_mkdir_p(parent, 0755) < 0) {
		*err = gg_printf("cannot create %s: %s", parent, strerror(errno));
		goto done;
	}
	/* Targets sharing a repository share its mirror: one fetch at a time. */
	lockfd = gg_statedir_open(lock, O_RDWR | O_CREAT, 0644);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
		*err = gg_printf("cannot lock %s: %s", lock, strerror(errno));
		goto done;
	}
	if (git_repository_open_bare(&repo, o->mirror) < 0 &&
	    git_repository_init(&repo, o->mirror, 1) < 0) {
		*err = git_err("cannot create the mirror");
		goto done;
	}
	LIBGIT2_LEAKS_BEGIN();
	int crc = git_remote_create_anonymous(&remote, repo, o->url);
	LIBGIT2_LEAKS_END();
	if (crc < 0) {
		*err = git_err("bad url");
		goto done;
	}
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks.credentials = cred_cb;
	fo.callbacks.certificate_check = cert_cb;
	struct fetch_ctx ctx = {.o = o, .offered = 0};
	fo.callbacks.payload = &ctx;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	char *specs[] = {spec};
	git_strarray refspecs = {specs, 1};
	char *shown = gg_checkout_redact_url(o->url);
	printf("fetching %s from %s\n", full, shown);
	free(shown);
	fflush(stdout);
	LIBGIT2_LEAKS_BEGIN();
	int frc = git_remote_fetch(remote, &refspecs, &fo, "gitgated fetch");
	LIBGIT2_LEAKS_END();
	if (frc < 0) {
		*err = git_err("fetch failed");
		goto done;
	}
	if (git_reference_lookup(&ref, repo, full) < 0 ||
	    git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) < 0) {
		*err = gg_printf("%s does not exist in %s", full, o->url);
		goto done;
	}
	git_oid_tostr(commit, 41, git_object_id(obj));
	printf("%s is at %s\n", full, commit);
	rc = 0;
done:
	fflush(stdout);
	git_object_free(obj);
	git_reference_free(ref);
	git_remote_free(remote);
	git_repository_free(repo);
	if (lockfd >= 0)
		close(lockfd); /* releases the lock */
	free(parent);
	free(lock);
	free(spec);
	free(full);
	return rc;
}

/* ---- releases ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *dir_parent(const char *dir)
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

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

struct release {
	char *name;
	struct timespec mtime;
};

static int release_newer_first(const void *a, const void *b)
{
	const struct release *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
	return strcmp(x->name, y->name);
}

/*
 * Names under releases/ that a symlink in parent points at: targets whose
 * dirs share a parent share releases/, and one must not prune the other's
 * live release.
 */
static size_t live_releases(char ***out, const char *parent)
{
	DIR *d = opendir(parent);
	char **names = NULL;
	size_t n = 0;
	*out = NULL;
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < CHECKOUT_MAX_RELEASE) {
		if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
			continue;
		char *path = gg_printf("%s/%s", parent, e->d_name);
		char buf[PATH_MAX];
		ssize_t len = readlink(path, buf, sizeof(buf) - 1);
		free(path);
		if (len <= 9 || strncmp(buf, "releases/", 9) != 0)
			continue;
		buf[len] = '\0';
		names = gg_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = gg_strdup(buf + 9);
	}
	closedir(d);
	*out = names;
	return n;
}

/* Keep the newest `keep` releases (the live one always); remove the rest. */
static void prune_releases(const char *parent, const char *releases, const char *live,
                           unsigned keep)
{
	DIR *d = opendir(releases);
	if (d == NULL)
		return;
	char **others = NULL;
	size_t nothers = live_releases(&others, parent);
	struct release *list = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < CHECKOUT_MAX_RELEASE) {
		if (e->d_name[0] == '.') {
			/* .COMMIT.tmp-PID of a checkout that was killed: its process is gone. */
			const char *t = strstr(e->d_name, ".tmp-");
			long pid = t ? strtol(t + 5, NULL, 10) : 0;
			if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
				char *path = gg_printf("%s/%s", releases, e->d_name);
				rm_rf(path);
				free(path);
			}
			continue;
		}
		bool in_use = false;
		for (size_t i = 0; i < nothers && !in_use; i++)
			in_use = !strcmp(others[i], e->d_name) && strcmp(e->d_name, live) != 0;
		if (in_use)
			continue;
		char *path = gg_printf("%s/%s", releases, e->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			list = gg_reallocarray(list, n + 1, sizeof(*list));
			list[n].name = gg_strdup(e->d_name);
			list[n].mtime = st.st_mtim;
			n++;
		}
		free(path);
	}
	closedir(d);
	qsort(list, n, sizeof(*list), release_newer_first);
	/* The live release counts against keep and is never removed. */
	unsigned budget = keep ? keep : 1, kept = 1;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(list[i].name, live) || kept < budget) {
			if (strcmp(list[i].name, live) != 0)
				kept++;
			free(list[i].name);
			continue;
		}
		char *path = gg_printf("%s/%s", releases, list[i].name);
		if (rm_rf(path) == 0)
			printf("removed old release %s\n", list[i].name);
		free(path);
		free(list[i].name);
	}
	free(list);
	for (size_t i = 0; i < nothers; i++)
		free(others[i]);
	free(others);
}

int gg_checkout_remove_tree(const char *path)
{
	return rm_rf(path);
}

int gg_checkout_materialize(const char *mirror, const char *commit, const char *dest, char **err)
{
	int rc = -1;
	git_repository *repo = NULL;
	git_object *obj = NULL;
	git_oid oid;
	*err = NULL;
	if (git_oid_fromstr(&oid, commit) < 0) {
		*err = gg_printf("not a commit id: %s", commit);
		goto done;
	}
	if (git_repository_open_bare(&repo, mirror) < 0 ||
	    git_object_lookup(&obj, repo, &oid, GIT_OBJECT_COMMIT) < 0) {
		*err = git_err("cannot find the commit in the mirror");
		goto done;
	}
	rm_rf(dest);
	if (mkdir(dest, 0755) < 0) {
		*err = gg_printf("cannot create %s: %s", dest, strerror(errno));
		goto done;
	}
	git_checkout_options co;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
	co.target_directory = dest;
	if (git_checkout_tree(repo, obj, &co) < 0) {
		*err = git_err("checkout failed");
		rm_rf(dest);
		goto done;
	}
	rc = 0;
done:
	git_object_free(obj);
	git_repository_free(repo);
	return rc;
}

int gg_checkout_release(const gg_checkout_opts *o, const char *commit, char **err)
{
	int rc = -1;
	git_oid oid;
	char *parent = dir_parent(o->dir);
	char *releases = gg_printf("%s/releases", parent);
	char *rel = gg_printf("%s/%s", releases, commit);
	char *tmp = gg_printf("%s/.%s.tmp-%ld", releases, commit, (long)getpid());
	char *target = gg_printf("releases/%s", commit);
	char *link = gg_printf("%s.tmp-%ld-%lx", o->dir, (long)getpid(), (unsigned long)time(NULL));
	*err = NULL;

	if (git_oid_fromstr(&oid, commit) < 0) {
		*err = gg_printf("not a commit id: %s", commit);
		goto done;
	}
	struct stat st;
	if (lstat(o->dir, &st) == 0 && !S_ISLNK(st.st_mode)) {
		*err = gg_printf(
		    "%s exists and is not a symlink; move it away so that releases can be "
		    "switched atomically",
		    o->dir);
		goto done;
	}
	if (gg_mkdir_p(releases, 0755) < 0) {
		*err = gg_printf("cannot create %s: %s", releases, strerror(errno));
		goto done;
	}
	if (lstat(rel, &st) == 0) {
		printf("release %s is already checked out\n", commit);
	} else {
		if (gg_checkout_materialize(o->mirror, commit, tmp, err) < 0)
			goto done;
		if (rename(tmp, rel) < 0) {
			*err = gg_printf("cannot rename %s to %s: %s", tmp, rel, strerror(errno));
			rm_rf(tmp);
			goto done;
		}
		printf("checked out %s into %s\n", commit, rel);
	}
	/* The mtime orders releases for pruning: a redeployed release counts as new. */
	utimensat(AT_FDCWD, rel, NULL, 0);
	unlink(link);
	if (symlink(target, link) < 0) {
		*err = gg_printf("cannot create %s: %s", link, strerror(errno));
		goto done;
	}
	if (rename(link, o->dir) < 0) {
		*err = gg_printf("cannot switch %s: %s", o->dir, strerror(errno));
		unlink(link);
		goto done;
	}
	fsync_dir(parent);
	printf("switched %s to %s\n", o->dir, target);
	prune_releases(parent, releases, commit, o->keep);
	rc = 0;
done:
	fflush(stdout);
	free(link);
	free(target);
	free(tmp);
	free(rel);
	free(releases);
	free(parent);
	return rc;
}

/* ---- the child process ---- */

/*
 * The child's environment is PATH, the target's env and GITGATE_*: no HOME
 * unless the target sets one. libgit2 1.5.1 fails every ssh:// fetch
 * ("error loading known_hosts") when it cannot place ~/.ssh/known_hosts, so
 * HOME falls back to the daemon user's home directory, which is where
 * OpenSSH's client would look too.
 */
static void home_default(void)
{
	const char *home = getenv("HOME");
	if (home && *home)
		return;
	struct passwd *pw = getpwuid(getuid());
	setenv("HOME", pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : "/", 1);
}

/*
 * SSL_CERT_FILE and SSL_CERT_DIR (set in the target's env) replace the system's
 * CA certificates for https:// whatever TLS library libgit2 was built with:
 * OpenSSL reads them by itself, mbedTLS (Debian's libgit2) would ignore them.
 */
static int trust_from_env(char **err)
{
	const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
	if (file && !*file)
		file = NULL;
	if (dir && !*dir)
		dir = NULL;
	if (file == NULL && dir == NULL)
		return 0;
	if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, dir) < 0) {
		char *what = gg_printf("cannot load CA certificates from %s%s%s", file ? file : "",
		                       file && dir ? " and " : "", dir ? dir : "");
		*err = git_err(what);
		free(what);
		return -1;
	}
	return 0;
}

/* The result file is in the state directory: never written through a symlink. */
static int write_result(const char *path, const char *commit, const char *refused, char **err)
{
	int rfd = gg_statedir_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	FILE *f = rfd >= 0 ? fdopen(rfd, "w") : NULL;
	if (f == NULL && rfd >= 0)
		close(rfd);
	if (f == NULL || fprintf(f, "%s\n", commit) < 0 ||
	    (refused && fprintf(f, "%s\n", refused) < 0) || fclose(f) != 0) {
		*err = gg_printf("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int gg_checkout_main(int argc, char **argv)
{
	gg_checkout_opts o;
	memset(&o, 0, sizeof(o));
	const char *result = NULL, *want = NULL;
	o.keep = 5;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = NULL;
		if (!strcmp(a, "--url"))
			slot = &o.url;
		else if (!strcmp(a, "--branch"))
			slot = &o.branch;
		else if (!strcmp(a, "--mirror"))
			slot = &o.mirror;
		else if (!strcmp(a, "--dir"))
			slot = &o.dir;
		else if (!strcmp(a, "--result"))
			slot = &result;
		else if (!strcmp(a, "--want"))
			slot = &want;
		else if (!strcmp(a, "--username"))
			slot = &o.username;
		else if (!strcmp(a, "--password-file"))
			slot = &o.password_file;
		else if (!strcmp(a, "--ssh-key"))
			slot = &o.ssh_key_file;
		else if (!strcmp(a, "--ssh-public-key"))
			slot = &o.ssh_public_key_file;
		else if (!strcmp(a, "--known-hosts"))
			slot = &o.ssh_known_hosts_file;
		else if (!strcmp(a, "--allowed-signers"))
			slot = &o.allowed_signers;
		else if (!strcmp(a, "--gpg-keyring"))
			slot = &o.gpg_keyring;
		else if (!strcmp(a, "--keep") && v) {
			o.keep = (unsigned)strtoul(v, NULL, 10);
			i++;
			continue;
		}
		if (slot == NULL || v == NULL) {
			fprintf(stderr, "gitgated %s: bad option %s\n", GG_CHECKOUT_OPTION, a);
			return 2;
		}
		*slot = v;
		i++;
	}
	if (o.url == NULL)
		o.url = getenv(GG_CHECKOUT_URL_ENV);
	if (o.url == NULL || o.branch == NULL || o.mirror == NULL || result == NULL) {
		fprintf(stderr,
		        "gitgated %s: --url (or %s), --branch, --mirror and --result are "
		        "required\n",
		        GG_CHECKOUT_OPTION, GG_CHECKOUT_URL_ENV);
		return 2;
	}
	home_default();
	git_libgit2_init();
	int code = 1;
	char commit[41];
	char *err = NULL, *refused = NULL;
	if (trust_from_env(&err) < 0 || gg_checkout_fetch(commit, &o, &err) < 0)
		goto done;
	if (want && *want && strcmp(want, commit) != 0)
		printf("the push named %s; deploying what the branch holds now, %s\n", want,
		       commit);
	/* The daemon asks a poll's fetch for no verdict: the deployment it queues verifies. */
	if (o.allowed_signers || o.gpg_keyring) {
		int v = gg_deploy_verify(o.mirror, commit, o.allowed_signers, o.gpg_keyring,
		                         &refused, &err);
		if (v < 0)
			goto done;
		if (v > 0) {
			printf("refused: %s\n", refused);
			code = GG_CHECKOUT_EXIT_REFUSED;
			if (write_result(result, commit, refused, &err) < 0)
				code = 1;
			goto done;
		}
	}
	if (o.dir && gg_checkout_release(&o, commit, &err) < 0)
		goto done;
	if (write_result(result, commit, NULL, &err) < 0)
		goto done;
	code = 0;
done:
	free(refused);
	if (err)
		printf("error: %s\n", err);
	fflush(stdout);
	free(err);
	git_libgit2_shutdown();
	return code;
}
