/*
 * The generic push event: built with libgit2 and jansson, signed with
 * OpenSSL's HMAC, sent with the blocking client, spooled as plain files.
 */
#include "gitgate/notify.h"
#include "gitgate/httpc.h"
#include "gitgate/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOTIFY_MAX_SPOOLED 10000       /* files looked at per flush */
#define NOTIFY_MAX_EVENT   (64u << 20) /* bytes of one spooled event */

static bool is_zero_id(const char *id)
{
	if (id == NULL || *id == '\0')
		return true;
	return strspn(id, "0") == strlen(id);
}

static char *git_err(const char *what)
{
	const git_error *e = git_error_last();
	return gg_printf("%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
}

static json_t *json_str(const char *s)
{
	/* jansson refuses invalid UTF-8; a commit message may hold any bytes. */
	json_t *j = json_string(s ? s : "");
	if (j == NULL) {
		char *copy = gg_strdup(s);
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		j = json_string(copy);
		free(copy);
	}
	return j;
}

static json_t *json_time(git_time_t t, int offset_min)
{
	time_t local = (time_t)t + (time_t)offset_min * 60;
	struct tm tm;
	gmtime_r(&local, &tm);
	char buf[96];
	int off = offset_min < 0 ? -offset_min : offset_min;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         offset_min < 0 ? '-' : '+', off / 60, off % 60);
	return json_string(buf);
}

static json_t *json_person(const git_signature *s)
{
	return json_pack("{s:o,s:o}", "name", json_str(s->name), "email", json_str(s->email));
}

struct files {
	json_t *added, *modified, *removed;
	size_t *budget;
};

static int file_cb(const git_diff_delta *delta, float progress, void *payload)
{
	(void)progress;
	struct files *f = payload;
	if (*f->budget == 0)
		return 0;
	json_t *list = NULL;
	const char *path = delta->new_file.path;
	switch (delta->status) {
	case GIT_DELTA_ADDED:
		list = f->added;
		break;
	case GIT_DELTA_DELETED:
		list = f->removed;
		path = delta->old_file.path;
		break;
	default:
		list = f->modified;
		break;
	}
	json_array_append_new(list, json_str(path));
	(*f->budget)--;
	return 0;
}

static int commit_json(json_t **out, git_repository *repo, git_commit *c, size_t *budget,
                       char **err)
{
	int rc = -1;
	git_tree *tree = NULL, *ptree = NULL;
	git_commit *parent = NULL;
	git_diff *diff = NULL;
	struct files f = {json_array(), json_array(), json_array(), budget};
	char id[GIT_OID_HEXSZ + 1];
	git_oid_tostr(id, sizeof(id), git_commit_id(c));

	if (git_commit_tree(&tree, c) < 0 ||
	    (git_commit_parentcount(c) > 0 &&
	     (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&ptree, parent) < 0))) {
		*err = git_err("reading a commit");
		goto done;
	}
	git_diff_options dopts;
	git_diff_options_init(&dopts, GIT_DIFF_OPTIONS_VERSION);
	if (git_diff_tree_to_tree(&diff, repo, ptree, tree, &dopts) < 0 ||
	    git_diff_foreach(diff, file_cb, NULL, NULL, NULL, &f) < 0) {
		*err = git_err("diffing a commit");
		goto done;
	}
	const git_signature *a = git_commit_author(c), *cm = git_commit_committer(c);
	*out = json_pack("{s:s,s:o,s:o,s:o,s:o,s:O,s:O,s:O}", "id", id, "message",
	                 json_str(git_commit_message(c)), "timestamp",
	                 json_time(cm->when.time, cm->when.offset), "author", json_person(a),
	                 "committer", json_person(cm), "added", f.added, "modified", f.modified,
	                 "removed", f.removed);
	rc = *out ? 0 : -1;
	if (rc < 0)
		*err = gg_strdup("cannot build the commit's JSON");
done:
	json_decref(f.added);
	json_decref(f.modified);
	json_decref(f.removed);
	git_diff_free(diff);
	git_tree_free(tree);
	git_tree_free(ptree);
	git_commit_free(parent);
	return rc;
}

/* Hide every ref but `ref` itself: for a new ref, only what no other ref had is new. */
static int hide_other_refs(git_revwalk *walk, git_repository *repo, const char *ref)
{
	git_reference_iterator *it = NULL;
	git_reference *r;
	if (git_reference_iterator_new(&it, repo) < 0)
		return -1;
	while (git_reference_next(&r, it) == 0) {
		git_object *obj = NULL;
		if (strcmp(git_reference_name(r), ref) != 0 &&
		    git_reference_peel(&obj, r, GIT_OBJECT_COMMIT) == 0)
			git_revwalk_hide(walk, git_object_id(obj));
		git_object_free(obj);
		git_reference_free(r);
	}
	git_reference_iterator_free(it);
	return 0;
}

int gg_notify_build(char **out, git_repository *repo, const gg_notify_repo *info,
                    const gg_notify_update *u, char **err)
{
	int rc = -1;
	git_revwalk *walk = NULL;
	git_oid *ids = NULL;
	size_t nids = 0;
	bool truncated = false;
	json_t *commits = json_array(), *head = json_null();
	json_t *ev = NULL;
	*out = NULL;
	*err = NULL;
	bool created = is_zero_id(u->old_id), deleted = is_zero_id(u->new_id);
	bool forced = false;

	if (!deleted) {
		git_oid newid, oldid;
		if (git_oid_fromstr(&newid, u->new_id) < 0 ||
		    (!created && git_oid_fromstr(&oldid, u->old_id) < 0)) {
			*err =
			    gg_printf("%s: not an object id: %s %s", u->ref, u->old_id, u->new_id);
			goto done;
		}
		if (git_revwalk_new(&walk, repo) < 0) {
			*err = git_err("revwalk");
			goto done;
		}
		git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
		git_object *peeled = NULL, *obj = NULL;
		/* A tag push names a tag object: walk from the commit it points at. */
		if (git_object_lookup(&obj, repo, &newid, GIT_OBJECT_ANY) < 0 ||
		    git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
			git_object_free(obj);
			git_error_clear();
			goto build; /* a ref to a tree or blob: no commits to list */
		}
		git_revwalk_push(walk, git_object_id(peeled));
		git_object_free(peeled);
		git_object_free(obj);
		if (created) {
			if (hide_other_refs(walk, repo, u->ref) < 0) {
				*err = git_err("listing refs");
				goto done;
			}
		} else {
			int ff = git_graph_descendant_of(repo, &newid, &oldid);
			forced = ff == 0 && !git_oid_equal(&newid, &oldid);
			if (git_revwalk_hide(walk, &oldid) < 0)
				git_error_clear(); /* OLD unknown (pruned): list from NEW alone */
		}
		git_oid id;
		while (git_revwalk_next(&id, walk) == 0) {
			if (nids == GG_NOTIFY_MAX_COMMITS) {
				truncated = true;
				break;
			}
			ids = gg_reallocarray(ids, nids + 1, sizeof(*ids));
			ids[nids++] = id;
		}
		/* Newest first from the walk; GitHub lists them oldest first. */
		size_t budget = GG_NOTIFY_MAX_PATHS;
		for (size_t i = nids; i-- > 0;) {
			git_commit *c = NULL;
			json_t *cj = NULL;
			if (git_commit_lookup(&c, repo, &ids[i]) < 0) {
				*err = git_err("reading a commit");
				goto done;
			}
			int crc = commit_json(&cj, repo, c, &budget, err);
			git_commit_free(c);
			if (crc < 0)
				goto done;
			json_array_append_new(commits, cj);
		}
		if (budget == 0)
			truncated = true;
		if (nids > 0) {
			json_decref(head);
			head =
			    json_deep_copy(json_array_get(commits, json_array_size(commits) - 1));
		}
	}
build:;
	const char *slash = strrchr(info->full_name, '/');
	ev = json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:{s:s,s:s,s:s},s:{s:s},s:{s:s},s:O,s:O,s:b}",
	               "ref", u->ref, "before", u->old_id, "after", u->new_id, "created", created,
	               "deleted", deleted, "forced", forced, "repository", "name",
	               slash ? slash + 1 : info->full_name, "full_name", info->full_name,
	               "clone_url", info->clone_url, "pusher", "name", info->pusher, "sender",
	               "login", info->pusher, "head_commit", head, "commits", commits,
	               "commits_truncated", truncated);
	if (ev == NULL) {
		*err = gg_strdup("cannot build the event's JSON (invalid UTF-8 in a name?)");
		goto done;
	}
	*out = json_dumps(ev, JSON_COMPACT);
	if (*out == NULL) {
		*err = gg_strdup("cannot serialise the event");
		goto done;
	}
	rc = 0;
done:
	json_decref(ev);
	json_decref(commits);
	json_decref(head);
	free(ids);
	git_revwalk_free(walk);
	return rc;
}

void gg_notify_sign(char out[72], const void *key, size_t keylen, const void *body, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	HMAC(EVP_sha256(), key, (int)keylen, body, len, md, &mdlen);
	memcpy(out, "sha256=", 7);
	gg_hex(out + 7, md, mdlen);
}

void gg_notify_new_delivery(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* No entropy source at all: still unique enough per process and time. */
		uint64_t t = gg_now_us() ^ ((uint64_t)getpid() << 40);
		memcpy(b, &t, sizeof(t));
		t = (uint64_t)time(NULL) * 2654435761u;
		memcpy(b + 8, &t, sizeof(t));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char hex[33];
	gg_hex(hex, b, sizeof(b));
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

const char *gg_notify_pusher(void)
{
	static const char *vars[] = {
	    "GITGATE_USER", "GL_USERNAME", "GITHUB_USER_LOGIN", "GITEA_PUSHER_NAME", "GL_USER",
	    "REMOTE_USER",  "USER"};
	for (size_t i = 0; i < GG_ARRAY_LEN(vars); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return v;
	}
	/* sshd and git-http-backend may leave USER unset: the account itself. */
	struct passwd *pw = getpwuid(geteuid());
	if (pw && pw->pw_name && *pw->pw_name)
		return pw->pw_name;
	return "unknown";
}

gg_notify_result gg_notify_send(const char *url, const char *secret, size_t secret_len,
                                const char *delivery, const char *body, size_t len,
                                uint64_t deadline_ms, int *status, char **err)
{
	char sig[72];
	if (secret)
		gg_notify_sign(sig, secret, secret_len, body, len);
	gg_httpc_header h[] = {
	    {"Content-Type", "application/json"}, {"User-Agent", "gitgate-notify"},
	    {"X-Gitgate-Event", "push"},          {"X-Gitgate-Delivery", delivery},
	    {"X-Gitgate-Signature", sig},
	};
	/* Unsigned over a unix socket: the daemon knows the sender from the socket. */
	size_t nh = secret ? GG_ARRAY_LEN(h) : GG_ARRAY_LEN(h) - 1;
	uint64_t now = gg_now_ms();
	uint64_t timeout = deadline_ms > now ? deadline_ms - now : 1;
	gg_httpc_response *resp = NULL;
	char *e = NULL;
	*status = 0;
	int rc = gg_httpc_request(&resp, "POST", url, NULL, h, nh, body, len, timeout, &e);
	gg_notify_result res;
	if (rc < 0) {
		res = GG_NOTIFY_RETRY;
	} else {
		*status = resp->status;
		if (resp->status >= 200 && resp->status < 300) {
			res = GG_NOTIFY_SENT;
		} else if (resp->status >= 400 && resp->status < 500) {
			res = GG_NOTIFY_REJECTED;
			e = gg_printf("%s answered %d", url, resp->status);
		} else {
			res = GG_NOTIFY_RETRY;
			e = gg_printf("%s answered %d", url, resp->status);
		}
	}
	gg_httpc_response_free(resp);
	if (err)
		*err = e;
	else
		free(e);
	return res;
}

/* ---- The spool ---- */

/*
 * Everything under $GIT_DIR/gitgate/ is reached through directory descriptors
 * opened with O_NOFOLLOW, so a symlink planted in the repository never sends
 * `gitgate notify --flush` (often run by root) elsewhere; and only files that
 * the repository's owner, the caller, or (in a shared repository) the
 * repository's group wrote are ever sent.
 */

int gg_notify_shared_perm(const char *value)
{
	if (value == NULL || *value == '\0')
		return 0;
	static const char *const umask_words[] = {"umask", "false", "no", "off", "0"};
	static const char *const group_words[] = {"group", "true", "yes", "on", "1"};
	static const char *const all_words[] = {"all", "world", "everybody", "2"};
	for (size_t i = 0; i < GG_ARRAY_LEN(umask_words); i++)
		if (strcasecmp(value, umask_words[i]) == 0)
			return 0;
	for (size_t i = 0; i < GG_ARRAY_LEN(group_words); i++)
		if (strcasecmp(value, group_words[i]) == 0)
			return 0660;
	for (size_t i = 0; i < GG_ARRAY_LEN(all_words); i++)
		if (strcasecmp(value, all_words[i]) == 0)
			return 0664;
	/* An octal mode, as git takes it: the owner must keep read and write. */
	char *end;
	errno = 0;
	long v = strtol(value, &end, 8);
	if (*end != '\0' || errno || v < 0 || v > 0777 || (v & 0600) != 0600)
		return 0;
	return (int)(v & 0666);
}

static mode_t spool_file_mode(const gg_notify_config *cfg)
{
	return cfg->shared_perm ? (mode_t)cfg->shared_perm : 0600;
}

/* git's directories in a shared repository: x wherever r, and setgid so the group sticks. */
static mode_t spool_dir_mode(const gg_notify_config *cfg)
{
	if (cfg->shared_perm == 0)
		return 0700;
	mode_t p = (mode_t)cfg->shared_perm;
	return p | ((p & 0444) >> 2) | S_ISGID;
}

/* Who may have written a spool entry that this process will send. */
static bool spool_trusted(const gg_notify_config *cfg, const struct stat *st)
{
	if (st->st_mode & S_IWOTH)
		return false;
	if (st->st_uid == geteuid() || st->st_uid == cfg->repo_uid)
		return true;
	return cfg->shared_perm != 0 && st->st_gid == cfg->repo_gid;
}

static char *untrusted_msg(const gg_notify_config *cfg, const char *what, const struct stat *st)
{
	if (st->st_mode & S_IWOTH)
		return gg_printf("%s is writable by everyone; not used", what);
	return gg_printf(
	    "%s belongs to uid %u, neither the repository's owner (uid %u)%s; not used", what,
	    (unsigned)st->st_uid, (unsigned)cfg->repo_uid,
	    cfg->shared_perm ? " nor its group" : "");
}

/* Open (creating when asked) the directory `name` under dirfd, never through a symlink. */
static int spool_subdir(int dirfd, const char *name, const char *path, const gg_notify_config *cfg,
                        bool create, char **err)
{
	bool created = false;
	if (create) {
		if (mkdirat(dirfd, name, spool_dir_mode(cfg) & 0777) == 0)
			created = true;
		else if (errno != EEXIST) {
			*err = gg_printf("cannot create %s: %s", path, strerror(errno));
			return -1;
		}
	}
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			*err = gg_printf("%s is not a directory (a symlink?); not used", path);
		else if (errno != ENOENT || create)
			*err = gg_printf("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*err = gg_printf("cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* Ours and shared: make it what git would (an older spool may be 0700). */
	if ((created || st.st_uid == geteuid()) && cfg->shared_perm != 0 &&
	    (st.st_mode & 07777) != spool_dir_mode(cfg))
		(void)fchmod(fd, spool_dir_mode(cfg));
	if (!spool_trusted(cfg, &st)) {
		*err = untrusted_msg(cfg, path, &st);
		close(fd);
		return -1;
	}
	return fd;
}

/* The spool directory's descriptor, or -1: with *err, or without when it does not exist. */
static int spool_open(const gg_notify_config *cfg, bool create, char **err)
{
	*err = NULL;
	int gfd = open(cfg->git_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0) {
		*err = gg_printf("cannot open %s: %s", cfg->git_dir, strerror(errno));
		return -1;
	}
	char *top = gg_printf("%sgitgate", cfg->git_dir);
	int tfd = spool_subdir(gfd, "gitgate", top, cfg, create, err);
	int sfd = -1;
	if (tfd >= 0)
		sfd = spool_subdir(tfd, "spool", cfg->spool_dir, cfg, create, err);
	if (tfd >= 0)
		close(tfd);
	close(gfd);
	free(top);
	return sfd;
}

static bool spool_name_ok(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int gg_notify_spool(const gg_notify_config *cfg, const char *delivery, const char *body, size_t len,
                    char **err)
{
	int rc = -1, fd = -1, dfd = -1;
	char *tmp = NULL, *final = NULL;
	*err = NULL;
	if (strspn(delivery, "0123456789abcdefABCDEF-") != strlen(delivery) || *delivery == '\0') {
		*err = gg_printf("bad delivery id %s", delivery);
		return -1;
	}
	dfd = spool_open(cfg, true, err);
	if (dfd < 0)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Zero-padded time first: names sort in the order the events were spooled. */
	final = gg_printf("%020lld-%s.json", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec,
	                  delivery);
	tmp = gg_printf(".%s.tmp-%ld", delivery, (long)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	            spool_file_mode(cfg));
	if (fd < 0) {
		*err = gg_printf("cannot write %s/%s: %s", cfg->spool_dir, tmp, strerror(errno));
		goto done;
	}
	/* The umask may have taken the group's bits away. */
	if ((cfg->shared_perm && fchmod(fd, spool_file_mode(cfg)) < 0) ||
	    write_all(fd, body, len) < 0 || fsync(fd) < 0) {
		*err = gg_printf("cannot write %s/%s: %s", cfg->spool_dir, tmp, strerror(errno));
		goto done;
	}
	int crc = close(fd);
	fd = -1;
	if (crc < 0 || renameat(dfd, tmp, dfd, final) < 0) {
		*err = gg_printf("cannot write %s/%s: %s", cfg->spool_dir, final, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && dfd >= 0)
		unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(final);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spooled names, oldest first; dirfd stays the caller's. */
static size_t spool_list(char ***out, int dirfd)
{
	char **names = NULL;
	size_t n = 0;
	*out = NULL;
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < NOTIFY_MAX_SPOOLED) {
		if (!spool_name_ok(e->d_name))
			continue;
		names = gg_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = gg_strdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	return n;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

size_t gg_notify_spooled(const gg_notify_config *cfg)
{
	char *err = NULL;
	int dfd = spool_open(cfg, false, &err);
	free(err);
	if (dfd < 0)
		return 0;
	char **names;
	size_t n = spool_list(&names, dfd);
	names_free(names, n);
	close(dfd);
	return n;
}

/* Read one spooled event: a regular file, one link, written by someone trusted. */
static int spool_read(char **body, size_t *len, const gg_notify_config *cfg, int dfd,
                      const char *name, char **err)
{
	int rc = -1;
	*body = NULL;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*err = gg_printf("%s/%s: %s", cfg->spool_dir, name,
		                 errno == ELOOP ? "a symlink; not sent" : strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*err = gg_printf("%s/%s: %s", cfg->spool_dir, name, strerror(errno));
		goto done;
	}
	char *what = gg_printf("%s/%s", cfg->spool_dir, name);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
		*err = gg_printf("%s is not a plain file with one link; not sent", what);
	else if (!spool_trusted(cfg, &st))
		*err = untrusted_msg(cfg, what, &st);
	else if ((uint64_t)st.st_size > NOTIFY_MAX_EVENT)
		*err = gg_printf("%s is larger than an event can be; not sent", what);
	free(what);
	if (*err)
		goto done;
	gg_buf b = GG_BUF_INIT;
	char chunk[8192];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err = gg_printf("%s/%s: %s", cfg->spool_dir, name, strerror(errno));
			gg_buf_free(&b);
			goto done;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > NOTIFY_MAX_EVENT) {
			*err = gg_printf("%s/%s grew while read; not sent", cfg->spool_dir, name);
			gg_buf_free(&b);
			goto done;
		}
		gg_buf_put(&b, chunk, (size_t)r);
	}
	gg_buf_putc(&b, '\0');
	*len = b.len - 1;
	*body = b.ptr;
	rc = 0;
done:
	close(fd);
	return rc;
}

static void set_last_error(gg_notify_flush_stats *st, char *e)
{
	free(st->last_error);
	st->last_error = e;
}

/* A file left in the spool: counted, and its reason kept with the others. */
static void skip(gg_notify_flush_stats *st, char *why)
{
	char *all = st->skipped_why ? gg_printf("%s\n%s", st->skipped_why, why) : gg_strdup(why);
	free(st->skipped_why);
	st->skipped_why = all;
	st->skipped++;
	set_last_error(st, why);
}

int gg_notify_flush(gg_notify_flush_stats *st, const gg_notify_config *cfg, const char *url,
                    const char *secret, size_t secret_len, uint64_t deadline_ms)
{
	memset(st, 0, sizeof(*st));
	char *err = NULL;
	int dfd = spool_open(cfg, false, &err);
	if (dfd < 0) {
		/* No spool at all is an empty one. */
		set_last_error(st, err);
		return err ? -1 : 0;
	}
	char **names;
	size_t n = spool_list(&names, dfd);
	size_t i = 0;
	for (; i < n; i++) {
		/* NAME is TIME-DELIVERY.json */
		const char *dash = strchr(names[i], '-');
		char *delivery = dash ? gg_strndup(dash + 1, strlen(dash + 1) - 5) : NULL;
		char *body = NULL;
		size_t len = 0;
		bool stop = false;
		if (delivery == NULL) {
			skip(st, gg_printf("%s/%s: not a spooled event", cfg->spool_dir, names[i]));
		} else if (spool_read(&body, &len, cfg, dfd, names[i], &err) < 0) {
			/* Left where it is for someone to look at; the rest still go. */
			skip(st, err);
			err = NULL;
		} else {
			int status;
			gg_notify_result r = gg_notify_send(url, secret, secret_len, delivery, body,
			                                    len, deadline_ms, &status, &err);
			if (r == GG_NOTIFY_SENT) {
				unlinkat(dfd, names[i], 0);
				st->sent++;
			} else if (r == GG_NOTIFY_REJECTED) {
				char *rej = gg_printf("%s.rejected", names[i]);
				renameat(dfd, names[i], dfd, rej);
				free(rej);
				st->rejected++;
				set_last_error(st, err);
			} else {
				set_last_error(st, err);
				stop = true;
			}
			err = NULL;
		}
		free(body);
		free(delivery);
		if (stop)
			break;
	}
	st->stopped = i < n;
	st->left = n - i + st->skipped;
	names_free(names, n);
	close(dfd);
	return st->left == 0 ? 0 : -1;
}

/* ---- The repository's settings ---- */

static char *config_string(git_config *cfg, const char *name)
{
	git_buf b = GIT_BUF_INIT;
	char *v = NULL;
	if (git_config_get_string_buf(&b, cfg, name) == 0 && b.size > 0)
		v = gg_strdup(b.ptr);
	git_buf_dispose(&b);
	git_error_clear();
	return v;
}

/* DIR without a trailing ".git" and slashes, as a repository's name; NULL when empty. */
static char *name_of(const char *path)
{
	while (*path == '/')
		path++;
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n > 4 && !strncmp(path + n - 4, ".git", 4))
		n -= 4;
	while (n > 0 && path[n - 1] == '/')
		n--;
	return n ? gg_strndup(path, n) : NULL;
}

/* abs relative to root (both real paths), or NULL when abs is not below root. */
static char *below_root(const char *abs, const char *root)
{
	char real[PATH_MAX];
	if (realpath(root, real) == NULL)
		return NULL;
	size_t rl = strlen(real);
	while (rl > 1 && real[rl - 1] == '/')
		real[--rl] = '\0';
	if (rl == 1) /* root "/" */
		return name_of(abs);
	if (strncmp(abs, real, rl) != 0 || abs[rl] != '/')
		return NULL;
	return name_of(abs + rl + 1);
}

int gg_notify_config_load(gg_notify_config *out, git_repository *repo, char **err)
{
	git_config *cfg = NULL;
	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (git_repository_config_snapshot(&cfg, repo) < 0) {
		*err = git_err("cannot read the repository's config");
		return -1;
	}
	out->url = config_string(cfg, "gitgate.notifyUrl");
	out->secret_file = config_string(cfg, "gitgate.notifySecretFile");
	out->full_name = config_string(cfg, "gitgate.repoName");
	char *root = config_string(cfg, "gitgate.repoRoot");
	char *shared = config_string(cfg, "core.sharedRepository");
	git_config_free(cfg);
	out->shared_perm = gg_notify_shared_perm(shared);
	free(shared);

	/* git_repository_path ends with a slash. */
	out->git_dir = gg_strdup(git_repository_path(repo));
	struct stat st;
	if (stat(out->git_dir, &st) < 0) {
		*err = gg_printf("cannot stat %s: %s", out->git_dir, strerror(errno));
		free(root);
		gg_notify_config_clear(out);
		return -1;
	}
	out->repo_uid = st.st_uid;
	out->repo_gid = st.st_gid;

	char *dir = gg_strdup(out->git_dir);
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	if (git_repository_is_bare(repo) == 0 && n > 5 && !strcmp(dir + n - 5, "/.git")) {
		/* A non-bare repository: name it after its working tree. */
		n -= 5;
		dir[n] = '\0';
	}
	char abs[PATH_MAX];
	if (realpath(dir, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", dir);
	out->clone_url = gg_printf("file://%s", abs);
	/* Never the bare directory name: team-a/app and team-b/app are two repositories. */
	if (out->full_name == NULL && root != NULL)
		out->full_name = below_root(abs, root);
	if (out->full_name == NULL)
		out->full_name = name_of(abs);
	if (out->full_name == NULL)
		out->full_name = gg_strdup("/");
	out->spool_dir = gg_printf("%s" GG_NOTIFY_SPOOL_DIR, out->git_dir);
	free(root);
	free(dir);
	return 0;
}

void gg_notify_config_clear(gg_notify_config *c)
{
	free(c->url);
	free(c->secret_file);
	free(c->full_name);
	free(c->clone_url);
	free(c->spool_dir);
	free(c->git_dir);
	memset(c, 0, sizeof(*c));
}
