/*
 * OpenPGP signatures checked with GPGME against a keyring of our own: the
 * configured key file is imported into a private directory (mode 0700,
 * created by gg_pgp_open, removed by gg_pgp_free), so neither the user's
 * ~/.gnupg nor any key but the configured ones is ever consulted.
 */
#ifndef GITGATE_PGP_H
#define GITGATE_PGP_H

#include "gitgate/verify.h"

#include <stddef.h>

/* A keyring file larger than this is refused: it holds a team's public keys. */
#define GG_PGP_MAX_KEYRING (16u * 1024 * 1024)
/* An armored signature larger than this is refused unread. */
#define GG_PGP_MAX_SIG (64u * 1024)

typedef struct gg_pgp gg_pgp;

/*
 * Import data (len bytes of the file named `name`, armored or binary) into a
 * fresh private keyring. -1 with an allocated *err when GPGME cannot start or
 * no public key could be read from it.
 */
int gg_pgp_open(gg_pgp **out, const char *name, const char *data, size_t len, char **err);
void gg_pgp_free(gg_pgp *p);

/*
 * Is sig a good signature of payload by a key of the keyring? Fills *res
 * (status, fingerprint, detail). With email non-NULL a good signature must
 * come from a key with a user id of that e-mail (else GG_SIG_PRINCIPAL).
 * 0 when a verdict was reached; -1 with *err when GPGME failed.
 */
int gg_pgp_verify(gg_pgp *p, gg_sig_result *res, const char *payload, size_t len, const char *sig,
                  size_t siglen, const char *email, char **err);

#endif
