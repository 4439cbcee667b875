/*
 * An allowed-signers file, the format of ssh-keygen(1)'s ALLOWED SIGNERS
 * (git's gpg.ssh.allowedSignersFile): one key per line,
 *   PRINCIPALS [OPTIONS] KEYTYPE BASE64 [COMMENT]
 * with the options cert-authority, namespaces="...", valid-after="..." and
 * valid-before="...". Read once; every problem reported as FILE:LINE:COL.
 */
#ifndef GITGATE_SIGNERS_H
#define GITGATE_SIGNERS_H

#include "gitgate/sshsig.h"
#include "gitgate/util.h"

#include <time.h>

/* An allowed-signers file larger than this is refused: it is a list of keys. */
#define GG_SIGNERS_MAX_BYTES (4u * 1024 * 1024)

typedef struct gg_signers gg_signers;

typedef enum {
	GG_SIGNERS_OK,        /* an entry holds the key for that namespace, time and principal */
	GG_SIGNERS_UNKNOWN,   /* no entry holds the key */
	GG_SIGNERS_NAMESPACE, /* entries hold it, but none for this namespace */
	GG_SIGNERS_EXPIRED,   /* ... but none is valid at that time */
	GG_SIGNERS_PRINCIPAL, /* ... but none lists that principal */
} gg_signers_result;

/*
 * Load path; *out owned by the caller (gg_signers_free). -1 with every
 * problem in diag as "FILE:LINE:COL: message".
 */
int gg_signers_load(gg_signers **out, const char *path, gg_diag *diag);
/* The same from memory; file names the source in messages. */
int gg_signers_parse(gg_signers **out, const char *file, const char *data, size_t len,
                     gg_diag *diag);
void gg_signers_free(gg_signers *s);
size_t gg_signers_count(const gg_signers *s);

/*
 * May key sign for namespace ns at time `at`? With principal non-NULL the
 * entry must also list it (its patterns, as ssh-keygen matches them). On
 * anything but OK, *detail (allocated, may be NULL) says which entries came
 * closest ("allowed_signers:3 limits it to namespaces file").
 */
gg_signers_result gg_signers_check(const gg_signers *s, const gg_sshkey *key, const char *ns,
                                   const char *principal, time_t at, char **detail);

/* Does name match the pattern list ("a@x,*@y,!b@y"), ssh's match_pattern_list? */
bool gg_signers_match_list(const char *list, const char *name);

#endif
