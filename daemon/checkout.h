/*
 * Checkout targets: a bare mirror per repository under state_dir/mirrors/,
 * fetched with libgit2; each release a fresh checkout in
 * <parent of dir>/releases/<commit>; `dir` a symlink switched with rename(2).
 * All of it blocks, so the daemon runs it in a child process:
 * `gitgated --deploy-checkout ...` (gg_checkout_main) started by the
 * dispatcher like any deployment command.
 */
#ifndef GITGATED_CHECKOUT_H
#define GITGATED_CHECKOUT_H

#include <stddef.h>

#define GG_CHECKOUT_OPTION "--deploy-checkout"
/* The child's exit code when the fetched commit is not signed by a trusted key. */
#define GG_CHECKOUT_EXIT_REFUSED 3
/* The result file of a refused commit: "COMMIT\nreason", at most this long. */
#define GG_CHECKOUT_MAX_RESULT 2048

typedef struct {
	const char *url;
	const char *branch; /* "main" or "refs/heads/main" */
	const char *mirror; /* the bare mirror's directory */
	const char *dir;    /* the live symlink; NULL to fetch only */
	unsigned keep;      /* releases kept, the live one included; 0 means 1 */
	/* Credentials from the config's files; NULL when unset. */
	const char *username;
	const char *password_file;
	const char *ssh_key_file;
	const char *ssh_public_key_file;
	const char *ssh_known_hosts_file;
	/* verify: the trusted keys; both NULL when the target does not verify. */
	const char *allowed_signers;
	const char *gpg_keyring;
} gg_checkout_opts;

/* The mirror directory for url under state_dir: an allocated string the caller frees. */
char *gg_checkout_mirror_path(const char *state_dir, const char *url);

/*
 * url for logs: a password in its user info becomes "***"
 * (https://user:***@host/...). Allocated.
 */
char *gg_checkout_redact_url(const char *url);

/* "refs/heads/main" for "main"; refs/... as given. Allocated. */
char *gg_checkout_full_ref(const char *branch);

/*
 * Fetch the branch into the mirror (created on first use; one fetch per
 * mirror at a time) and put the commit the branch points at, as hex, in
 * commit (41 bytes). Progress goes to stdout. 0, or -1 with an allocated
 * message in *err.
 */
int gg_checkout_fetch(char commit[41], const gg_checkout_opts *o, char **err);

/*
 * Check commit out from the mirror into releases/<commit> (reused when it is
 * already there), switch o->dir to it atomically and prune releases beyond
 * o->keep. A failure leaves the live release as it was. 0, or -1 with *err.
 */
int gg_checkout_release(const gg_checkout_opts *o, const char *commit, char **err);

/*
 * Check commit out of the bare mirror into dest, a directory created for it
 * (anything at dest first removed). 0, or -1 with an allocated *err and no
 * dest left behind.
 */
int gg_checkout_materialize(const char *mirror, const char *commit, const char *dest, char **err);

/* rm -rf path, never following symlinks. 0 or -1. */
int gg_checkout_remove_tree(const char *path);

/*
 * The environment variable the daemon hands the child its repository URL
 * in: a URL may hold a password, and argv is readable by every local user.
 */
#define GG_CHECKOUT_URL_ENV "GITGATE_CHECKOUT_URL"

/*
 * The child's main, for argv starting at GG_CHECKOUT_OPTION:
 *   --deploy-checkout [--url URL] --branch REF --mirror DIR --result FILE
 *                     [--dir DIR --keep N] [--want COMMIT] [--username U]
 *                     [--password-file F] [--ssh-key F] [--ssh-public-key F]
 *                     [--known-hosts F] [--allowed-signers F] [--gpg-keyring F]
 * Without --url the URL is read from GG_CHECKOUT_URL_ENV. Without --dir it
 * only fetches; with --allowed-signers or --gpg-keyring the fetched commit's
 * signature is verified first, with or without --dir. Writes the commit (fetched or deployed) to
 * FILE. Returns the exit code: 0, 1 when the fetch or checkout failed, 2 on
 * usage errors, GG_CHECKOUT_EXIT_REFUSED when the commit is not signed by a
 * trusted key (FILE then holds the commit and the reason; nothing deployed).
 */
int gg_checkout_main(int argc, char **argv);

#endif
