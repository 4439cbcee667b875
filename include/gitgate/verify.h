/*
 * Signed commits and tags: is this object signed by a trusted key? Trust is
 * an allowed-signers file (SSH keys, sshsig.h and signers.h) and/or an
 * OpenPGP keyring (pgp.h). The gate calls it for every commit a push
 * introduces, gitgated for the head it is about to deploy.
 */
#ifndef GITGATE_VERIFY_H
#define GITGATE_VERIFY_H

#include "gitgate/util.h"

#include <git2.h>
#include <stdbool.h>
#include <time.h>

/* What a check found; gg_sig_reason names each as users read it. */
typedef enum {
	GG_SIG_GOOD,
	GG_SIG_UNSIGNED,    /* "unsigned" */
	GG_SIG_UNKNOWN_KEY, /* "unknown key": no trusted key made it (or not for git) */
	GG_SIG_BAD,         /* "bad signature": malformed, or not over this content */
	GG_SIG_EXPIRED,     /* "expired key": outside the key's validity */
	GG_SIG_REVOKED,     /* "revoked key" (OpenPGP) */
	GG_SIG_PRINCIPAL,   /* "principal mismatch": the key is not the committer's */
} gg_sig_status;

typedef struct {
	gg_sig_status status;
	char fingerprint[128]; /* "SHA256:..." or an OpenPGP fingerprint; "" when none */
	char *detail;          /* allocated, may be NULL: why, in a few words */
} gg_sig_result;

const char *gg_sig_reason(gg_sig_status s);
void gg_sig_result_clear(gg_sig_result *r);

typedef struct gg_trust gg_trust;

/*
 * Trust from an allowed-signers file and/or an OpenPGP keyring (either may
 * be NULL, not both). The allowed-signers file is read and checked now
 * (errors in diag as FILE:LINE:COL); the keyring is read now and imported
 * into a private keyring directory on the first OpenPGP signature. *out is
 * owned by the caller (gg_trust_free, which removes that directory).
 */
int gg_trust_load(gg_trust **out, const char *allowed_signers, const char *gpg_keyring,
                  gg_diag *diag);
void gg_trust_free(gg_trust *t);

/*
 * Import the OpenPGP keyring now rather than at the first OpenPGP signature,
 * for linting. 0 when there is none or it imports; -1 with *err (allocated).
 */
int gg_trust_open_keyring(gg_trust *t, char **err);

typedef struct {
	/* The key's principal (SSH) or a user id's e-mail (OpenPGP) must be the committer's. */
	bool match_committer;
	/* Judge key validity at this time; 0: at the commit's committer (tagger) time, as git. */
	time_t at;
} gg_verify_opts;

/*
 * Check the signature of commit id in repo. Fills *res (gg_sig_result_clear
 * frees it). Returns 0 when a verdict was reached, good or not; -1 with an
 * allocated *err when the object cannot be read or the keyring cannot be
 * used: the caller must then fail closed.
 */
int gg_verify_commit(gg_sig_result *res, gg_trust *t, git_repository *repo, const git_oid *id,
                     const gg_verify_opts *o, char **err);
/* The same for an annotated tag object (its signature ends its message). */
int gg_verify_tag(gg_sig_result *res, gg_trust *t, git_repository *repo, const git_oid *id,
                  const gg_verify_opts *o, char **err);

/*
 * The core both use: is sig (an armored SSH or OpenPGP block) a trusted
 * signature of payload? email is the committer's (or NULL), when the time
 * to judge validity at.
 */
int gg_verify_payload(gg_sig_result *res, gg_trust *t, const char *payload, size_t len,
                      const char *sig, size_t siglen, const char *email, time_t when,
                      bool match_committer, char **err);

#endif
