/*
 * SSH signatures (OpenSSH's PROTOCOL.sshsig, what `git commit -S` writes with
 * gpg.format=ssh) parsed and verified in-process with OpenSSL: Ed25519,
 * ECDSA P-256/384/521 and RSA with SHA-2. Every length in the blob is checked
 * against what is left before it is read; a malformed block is an error with
 * a reason, never a crash or an accept.
 */
#ifndef GITGATE_SSHSIG_H
#define GITGATE_SSHSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An armored signature block larger than this is refused unread. */
#define GG_SSHSIG_MAX_ARMOR (64u * 1024)
/* RSA keys smaller than this are refused (OpenSSH itself refuses under 1024). */
#define GG_SSHKEY_RSA_MIN_BITS 2048
#define GG_SSHKEY_RSA_MAX_BITS 16384

typedef struct gg_sshkey gg_sshkey;
typedef struct gg_sshsig gg_sshsig;

/*
 * A public key from its wire blob (what the base64 of an authorized_keys line
 * decodes to). *out is owned by the caller (gg_sshkey_free). -1 with an
 * allocated *err saying why (unsupported type, malformed, weak RSA).
 */
int gg_sshkey_from_blob(gg_sshkey **out, const unsigned char *blob, size_t len, char **err);
/* The same from a type name and its base64 text, as in an allowed-signers line. */
int gg_sshkey_from_text(gg_sshkey **out, const char *type, const char *b64, size_t len, char **err);
void gg_sshkey_free(gg_sshkey *k);
/* "SHA256:..." as ssh-keygen -l prints it; borrowed from k. */
const char *gg_sshkey_fingerprint(const gg_sshkey *k);
/* The key's type name ("ssh-ed25519"); borrowed. */
const char *gg_sshkey_type(const gg_sshkey *k);
bool gg_sshkey_equal(const gg_sshkey *a, const gg_sshkey *b);

/*
 * OpenSSH certificates (PROTOCOL.certkeys). A certificate parses only when
 * its CA's signature over it holds; the getters say what it then vouches for.
 */
bool gg_sshkey_is_cert(const gg_sshkey *k);
/* The CA's key (borrowed); NULL for a plain key. */
const gg_sshkey *gg_sshkey_cert_ca(const gg_sshkey *k);
/* The key id, printable; borrowed. */
const char *gg_sshkey_cert_id(const gg_sshkey *k);
/* A user certificate (not a host one). */
bool gg_sshkey_cert_user(const gg_sshkey *k);
/* 0 when valid at `at` (seconds since the epoch); -1 not yet; 1 no longer. */
int gg_sshkey_cert_valid_at(const gg_sshkey *k, int64_t at);
/* The principals it names (borrowed array of *out, returned count). */
size_t gg_sshkey_cert_principals(const gg_sshkey *k, const char *const **out);

/*
 * Parse an armored block ("-----BEGIN SSH SIGNATURE-----" ... END) of len
 * bytes. *out owned by the caller (gg_sshsig_free). -1 with *err.
 */
int gg_sshsig_parse(gg_sshsig **out, const char *armored, size_t len, char **err);
void gg_sshsig_free(gg_sshsig *s);
/* The key the block says signed it (borrowed): the caller decides whether to trust it. */
const gg_sshkey *gg_sshsig_key(const gg_sshsig *s);
/* The namespace the signature was made for ("git"); borrowed. */
const char *gg_sshsig_namespace(const gg_sshsig *s);

/*
 * Does s sign msg (len bytes) with its own key? 0 yes; -1 no, with *err (a
 * wrong signature, or one over other content).
 */
int gg_sshsig_verify(const gg_sshsig *s, const void *msg, size_t len, char **err);

/* Base64 text (whitespace skipped) to bytes; -1 when it is not base64. *out freed by caller. */
int gg_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t len);

#endif
