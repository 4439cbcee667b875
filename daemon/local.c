/*
 * The local source and its socket. Verifying an event opens the repository
 * with libgit2 (ownership check on) and reads one ref: a few small reads on
 * the loop, bounded, with no object access.
 */
#include "local.h"

#include "log.h"

#include <errno.h>
#include <git2.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCAL_MAX_DELIVERY 128

void gg_peer_from_fd(gg_peer *out, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	memset(out, 0, sizeof(*out));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
		return;
	out->known = true;
	out->uid = cred.uid;
	out->gid = cred.gid;
	out->pid = cred.pid;
}

void gg_local_socket_prebind(int fd, const gg_dconfig *cfg)
{
	if (cfg->socket_mode >= 0 || cfg->socket_group)
		(void)fchmod(fd, 0600);
}

static int lookup_group(gid_t *out, const char *name, char **err)
{
	struct group gr, *res = NULL;
	char buf[16384];
	int e = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (res == NULL) {
		*err = gg_printf("unix_socket: no group '%s'%s%s", name, e ? ": " : "",
		                 e ? strerror(e) : "");
		return -1;
	}
	*out = gr.gr_gid;
	return 0;
}

int gg_local_socket_setup(const char *path, const gg_dconfig *cfg, char **err)
{
	if (cfg->socket_mode < 0 && cfg->socket_group == NULL)
		return 0;
	char *dir = gg_strdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	struct stat ds, ss;
	int rc = -1;
	if (stat(dir, &ds) < 0) {
		*err = gg_printf("unix:%s: %s: %s", path, dir, strerror(errno));
		goto done;
	}
	if ((ds.st_mode & (S_IWGRP | S_IWOTH)) && !(ds.st_mode & S_ISVTX)) {
		*err = gg_printf("unix:%s: %s may be written by others, who could replace the "
		                 "socket; put it in a directory only the daemon writes "
		                 "(e.g. /run/gitgated)",
		                 path, dir);
		goto done;
	}
	if (lstat(path, &ss) < 0 || !S_ISSOCK(ss.st_mode) || ss.st_uid != geteuid()) {
		*err = gg_printf("unix:%s: not the socket just bound", path);
		goto done;
	}
	if (cfg->socket_group) {
		gid_t gid;
		if (lookup_group(&gid, cfg->socket_group, err) < 0)
			goto done;
		if (lchown(path, (uid_t)-1, gid) < 0) {
			*err = gg_printf("unix:%s: cannot give it to group %s: %s", path,
			                 cfg->socket_group, strerror(errno));
			goto done;
		}
	}
	if (cfg->socket_mode >= 0 && chmod(path, (mode_t)cfg->socket_mode) < 0) {
		*err = gg_printf("unix:%s: chmod %o: %s", path, cfg->socket_mode, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	free(dir);
	return rc;
}

static void set_error(gg_sender_result *res, const char *fmt, ...) GG_PRINTF(2, 3);
static void set_error(gg_sender_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(res->error);
	res->error = gg_vprintf(fmt, ap);
	va_end(ap);
}

static char *peer_name(const gg_peer *peer)
{
	struct passwd pw, *res = NULL;
	char buf[16384];
	if (getpwuid_r(peer->uid, &pw, buf, sizeof(buf), &res) == 0 && res && pw.pw_name[0])
		return gg_strdup(pw.pw_name);
	return gg_printf("uid:%u", (unsigned)peer->uid);
}

static bool peer_trusted(const gg_dsource *src, const gg_peer *peer, const char *name)
{
	if (peer->uid == 0)
		return true;
	for (size_t i = 0; i < src->ntrusted_users; i++)
		if (strcmp(src->trusted_users[i], name) == 0)
			return true;
	return false;
}

static bool delivery_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > LOCAL_MAX_DELIVERY)
		return false;
	return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") == n;
}

/* real below root (both resolved), without ".git"; NULL when not below it. */
static char *name_below(const char *real, const char *root)
{
	size_t rl = strlen(root);
	if (rl == 1)
		rl = 0; /* root "/" */
	else if (strncmp(real, root, rl) != 0 || real[rl] != '/')
		return NULL;
	const char *rel = real + rl + 1;
	size_t n = strlen(rel);
	while (n > 0 && rel[n - 1] == '/')
		n--;
	if (n > 4 && !strncmp(rel + n - 4, ".git", 4))
		n -= 4;
	while (n > 0 && rel[n - 1] == '/')
		n--;
	return n ? gg_strndup(rel, n) : NULL;
}

typedef enum { PUSH_OK, PUSH_STALE, PUSH_FORBIDDEN } push_check;

/* Check one push against the disk; rename its repository. */
static push_check check_push(gg_sender_result *res, const gg_dsource *src, gg_push *p)
{
	push_check rc = PUSH_FORBIDDEN;
	git_repository *repo = NULL;
	git_reference *ref = NULL, *resolved = NULL;
	char *name = NULL;
	char root[PATH_MAX], real[PATH_MAX];
	if (p->clone_url == NULL || strncmp(p->clone_url, "file:///", 8) != 0) {
		set_error(res,
		          "repository.clone_url must be the file:// URL of a repository under %s",
		          src->root);
		return PUSH_FORBIDDEN;
	}
	const char *path = p->clone_url + 7;
	if (realpath(src->root, root) == NULL) {
		set_error(res, "the source's root %s: %s", src->root, strerror(errno));
		return PUSH_FORBIDDEN;
	}
	if (realpath(path, real) == NULL || (name = name_below(real, root)) == NULL) {
		set_error(res, "%s is not a repository under %s", p->clone_url, src->root);
		return PUSH_FORBIDDEN;
	}
	if (git_repository_open_ext(&repo, real, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		const git_error *e = git_error_last();
		set_error(res, "%s: %s", real,
		          e && e->message ? e->message : "not a git repository");
		goto done;
	}
	int v = 0;
	if (git_reference_name_is_valid(&v, p->ref) < 0 || !v) {
		set_error(res, "'%s' is not a valid ref name", p->ref);
		goto done;
	}
	bool deleted = gg_is_zero_id(p->after);
	int lrc = git_reference_lookup(&ref, repo, p->ref);
	if (lrc == GIT_ENOTFOUND) {
		rc = deleted ? PUSH_OK : PUSH_STALE;
	} else if (lrc < 0 || git_reference_resolve(&resolved, ref) < 0) {
		const git_error *e = git_error_last();
		set_error(res, "%s: %s: %s", real, p->ref, e && e->message ? e->message : "?");
		goto done;
	} else {
		char hex[GIT_OID_HEXSZ + 1];
		git_oid_tostr(hex, sizeof(hex), git_reference_target(resolved));
		rc = !deleted && strcasecmp(hex, p->after) == 0 ? PUSH_OK : PUSH_STALE;
	}
	if (rc == PUSH_OK) {
		free(p->repo);
		p->repo = name;
		name = NULL;
		free(p->clone_url);
		p->clone_url = gg_printf("file://%s", real);
	}
done:
	git_error_clear();
	free(name);
	git_reference_free(resolved);
	git_reference_free(ref);
	git_repository_free(repo);
	return rc;
}

/*
 * The uid the kernel reports for an account outside the daemon's user
 * namespace (systemd's PrivateUsers=yes): every such peer looks the same.
 */
static uid_t overflow_uid(void)
{
	static long cached = -1;
	if (cached < 0) {
		cached = 65534;
		FILE *f = fopen("/proc/sys/kernel/overflowuid", "re");
		if (f) {
			long v;
			if (fscanf(f, "%ld", &v) == 1 && v >= 0)
				cached = v;
			fclose(f);
		}
	}
	return (uid_t)cached;
}

void gg_local_ready(void)
{
	static bool git_ready;
	if (!git_ready) {
		git_libgit2_init(); /* once for the daemon's life; the ownership check stays on */
		git_ready = true;
	}
}

gg_sender_rc gg_local_handle(gg_sender_result *res, const gg_dsource *src, const gg_peer *peer,
                             const gg_header *h, size_t nh, const char *body, size_t len)
{
	memset(res, 0, sizeof(*res));
	if (peer == NULL || !peer->known) {
		set_error(res, "a local source takes events only over a unix socket");
		return GG_SENDER_UNAUTHORIZED;
	}
	if (peer->uid == overflow_uid()) {
		set_error(res,
		          "the sender's account is not visible to the daemon (uid %u: under "
		          "systemd, PrivateUsers=no)",
		          (unsigned)peer->uid);
		return GG_SENDER_UNAUTHORIZED;
	}
	const char *delivery = gg_header_get(h, nh, "X-Gitgate-Delivery");
	if (!delivery_ok(delivery)) {
		set_error(res, "X-Gitgate-Delivery must be 1-%d letters, digits, '-', '_' or '.'",
		          LOCAL_MAX_DELIVERY);
		return GG_SENDER_BAD_REQUEST;
	}
	res->delivery = gg_strdup(delivery);
	gg_sender_rc rc = gg_sender_parse(res, GG_SRC_GENERIC,
	                                  gg_header_get(h, nh, "X-Gitgate-Event"), body, len);
	if (rc != GG_SENDER_OK || !res->is_push)
		return rc;
	gg_local_ready();
	char *who = peer_name(peer);
	bool trusted = peer_trusted(src, peer, who);
	size_t kept = 0;
	for (size_t i = 0; i < res->npushes; i++) {
		gg_push *p = &res->pushes[i];
		push_check c = check_push(res, src, p);
		if (c == PUSH_FORBIDDEN) {
			gg_log(GG_LOG_WARN, "local event refused", "peer", who, "delivery",
			       delivery, "reason", res->error, NULL);
			free(who);
			return GG_SENDER_FORBIDDEN;
		}
		if (c == PUSH_STALE) {
			gg_log(GG_LOG_INFO, "local event for a ref that has moved on: not deployed",
			       "peer", who, "delivery", delivery, "ref", p->ref, "after", p->after,
			       NULL);
			gg_push_clear(p);
			continue;
		}
		if (!trusted || p->pusher == NULL || p->pusher[0] == '\0') {
			free(p->pusher);
			p->pusher = gg_strdup(who);
		}
		res->pushes[kept++] = *p;
	}
	res->npushes = kept;
	free(who);
	return GG_SENDER_OK;
}
