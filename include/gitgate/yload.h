/*
 * What every loader of a user's YAML file (policy, rule packs, daemon config)
 * shares: problems reported at a node's position and counted, one wording for
 * unknown keys, and regexes compiled with their position on failure.
 */
#ifndef GITGATE_YLOAD_H
#define GITGATE_YLOAD_H

#include "gitgate/regex.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

typedef struct {
	const char *file; /* names the file in messages */
	gg_diag *diag;
	unsigned errors;
} gg_yload;

/* Add "FILE:LINE:COL: message" at n (1:1 when n is NULL) and count it. */
void gg_yload_err(gg_yload *l, const gg_ynode *n, const char *fmt, ...) GG_PRINTF(3, 4);

/* Report key k as unknown in `where`, listing the `known` keys (NULL-terminated). */
void gg_yload_unknown_key(gg_yload *l, const gg_ynode *k, const char *where,
                          const char *const *known);

/* Report every key of map that is not in `known` (NULL-terminated). */
void gg_yload_check_keys(gg_yload *l, const gg_ynode *map, const char *where,
                         const char *const *known);

/*
 * Compile the string at n into *out. On failure *out is NULL, the problem is
 * reported at n as "WHERE: invalid regular expression '...' at offset N: why",
 * and -1 is returned.
 */
int gg_yload_regex(gg_yload *l, const gg_ynode *n, const char *where, gg_regex **out);

#endif
