/*
 * The generic push event a plain git server sends to gitgated: GitHub's push
 * shape built from the repository with libgit2, signed with
 * `X-Gitgate-Signature: sha256=HEX`, sent with a fresh `X-Gitgate-Delivery`,
 * and spooled under the repository ($GIT_DIR/gitgate/spool/, one file per
 * event, oldest first) when the daemon cannot take it, to be sent again later
 * with the same delivery id. Shared by the post-receive notifier and
 * `gitgate notify`.
 */
#ifndef GITGATE_NOTIFY_H
#define GITGATE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct git_repository git_repository;

#define GG_NOTIFY_MAX_COMMITS 200
#define GG_NOTIFY_MAX_PATHS   5000 /* added + modified + removed, over the whole event */
#define GG_NOTIFY_TIMEOUT_MS  5000 /* the whole notifier run, connect included */
#define GG_NOTIFY_SPOOL_DIR   "gitgate/spool"

/* One line of a hook's stdin. */
typedef struct {
	const char *old_id, *new_id, *ref;
} gg_notify_update;

/* What describes the repository in every event. */
typedef struct {
	const char *full_name; /* see gg_notify_config */
	const char *clone_url; /* file:// URL of the repository */
	const char *pusher;
} gg_notify_repo;

/*
 * Build the event for one ref update as JSON: ref, before, after, created,
 * deleted, forced, repository{name, full_name, clone_url}, pusher{name},
 * sender{login}, head_commit, and commits[] (NEW --not OLD; for a new ref,
 * NEW --not every other ref), oldest first, at most GG_NOTIFY_MAX_COMMITS,
 * each with added/modified/removed against its first parent. *out is owned by
 * the caller. 0, or -1 with an allocated message in *err.
 */
int gg_notify_build(char **out, git_repository *repo, const gg_notify_repo *info,
                    const gg_notify_update *u, char **err);

/* "sha256=" + hex HMAC-SHA256 of body under key, into out (72 bytes). */
void gg_notify_sign(char out[72], const void *key, size_t keylen, const void *body, size_t len);

/* A random (version 4) UUID, into out (37 bytes). */
void gg_notify_new_delivery(char out[37]);

/* Who pushes: GITGATE_USER, GL_USERNAME, GITHUB_USER_LOGIN, GITEA_PUSHER_NAME, GL_USER,
 * REMOTE_USER, USER, else the account's name (borrowed). */
const char *gg_notify_pusher(void);

/* How one send ended. */
typedef enum {
	GG_NOTIFY_SENT,     /* 2xx: stored (or a duplicate the daemon already had) */
	GG_NOTIFY_REJECTED, /* 4xx: sending it again would not help */
	GG_NOTIFY_RETRY,    /* not reachable, timed out, or 5xx: keep it for later */
} gg_notify_result;

/*
 * POST body to url with the delivery header and, when secret is not NULL, the
 * signature (unsigned events go to a `local` source over a unix socket, which
 * knows the sender from the socket), bounded by the
 * monotonic deadline (gg_now_ms). *status gets the HTTP status (0 when none
 * came) and *err (may be NULL) an allocated one-line description on anything
 * but GG_NOTIFY_SENT.
 */
gg_notify_result gg_notify_send(const char *url, const char *secret, size_t secret_len,
                                const char *delivery, const char *body, size_t len,
                                uint64_t deadline_ms, int *status, char **err);

/* A repository's notifier settings, from its git config. */
typedef struct {
	char *url;         /* gitgate.notifyUrl; NULL when unset */
	char *secret_file; /* gitgate.notifySecretFile; NULL when unset */
	/*
	 * gitgate.repoName; else the path below gitgate.repoRoot; else the
	 * absolute path; without a leading "/" and a trailing ".git" — never the
	 * bare directory name, which two repositories may share.
	 */
	char *full_name;
	char *clone_url; /* file:// URL of the repository */
	char *git_dir;   /* the repository's directory, ending in "/" */
	char *spool_dir; /* $GIT_DIR/gitgate/spool */
	int shared_perm; /* core.sharedRepository: file mode bits, or 0 (owner only) */
	uid_t repo_uid;  /* owner and group of $GIT_DIR */
	gid_t repo_gid;
} gg_notify_config;

/* Fill *out (owned: gg_notify_config_clear) from repo. 0, or -1 with *err. */
int gg_notify_config_load(gg_notify_config *out, git_repository *repo, char **err);
void gg_notify_config_clear(gg_notify_config *c);

/*
 * core.sharedRepository's value as git reads it: the mode of the files git
 * creates (0660 for group/true, 0664 for all, or the octal mode given), or 0
 * when files are private (umask, false, unset, anything invalid).
 */
int gg_notify_shared_perm(const char *value);

/*
 * Store an event in cfg's spool (created as needed, as git creates its own
 * directories: group-writable and setgid in a shared repository), written to
 * a temporary file and renamed, named so that names sort oldest first. Never
 * through a symlink. 0 or -1 with *err.
 */
int gg_notify_spool(const gg_notify_config *cfg, const char *delivery, const char *body, size_t len,
                    char **err);

typedef struct {
	size_t sent;       /* delivered and removed from the spool */
	size_t rejected;   /* answered 4xx: renamed to NAME.rejected, not sent again */
	size_t skipped;    /* not sent: a symlink, not a plain file, or written by a stranger */
	size_t left;       /* still spooled, skipped ones included */
	bool stopped;      /* the daemon could not take one: the rest were not tried */
	char *last_error;  /* allocated; NULL when everything went */
	char *skipped_why; /* allocated: one line per skipped file; NULL when none */
} gg_notify_flush_stats;

/*
 * Send the spooled events, oldest first, with their own delivery ids; stop at
 * the first one that must be retried (order is kept). Every directory and file
 * is opened without following symlinks; a file is sent only when it is a plain
 * file with one link, not writable by everyone, and owned by the repository's
 * owner or the caller, or (in a shared repository) by the repository's group.
 * A spool directory that fails the same test is not used at all. 0 when the
 * spool is empty afterwards, -1 otherwise. Free st->last_error and st->skipped_why.
 */
int gg_notify_flush(gg_notify_flush_stats *st, const gg_notify_config *cfg, const char *url,
                    const char *secret, size_t secret_len, uint64_t deadline_ms);

/* Count the events waiting in cfg's spool. */
size_t gg_notify_spooled(const gg_notify_config *cfg);

#endif
