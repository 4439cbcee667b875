/*
 * Senders: how each source kind authenticates a webhook, where its delivery
 * id and event name come from, and how its push payload becomes push
 * records. Everything here is pure (no I/O), so it is unit-tested and fuzzed
 * directly.
 */
#ifndef GITGATED_SENDER_H
#define GITGATED_SENDER_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Bounds on what one payload may yield. */
#define GG_SENDER_MAX_PATHS    10000 /* changed paths kept per push; more marks it incomplete */
#define GG_SENDER_MAX_CHANGES  100   /* Bitbucket changes turned into pushes */
#define GG_SENDER_MAX_DELIVERY 128   /* delivery id length */
#define GG_SENDER_WEBHOOK_SKEW 300   /* Standard Webhooks timestamp tolerance, seconds */
#define GG_SENDER_MAX_REF      1024  /* ref name length */

typedef struct {
	const char *name; /* case-insensitive */
	const char *value;
} gg_header;

/* One ref update. Strings owned by the record. */
typedef struct {
	char *ref;       /* refs/heads/... or refs/tags/... */
	char *before;    /* hex; all zeros for a create */
	char *after;     /* hex; all zeros for a delete */
	char *repo;      /* owner/name */
	char *clone_url; /* may be NULL */
	char *pusher;    /* may be NULL */
	char **paths;    /* added, modified and removed paths of every commit */
	size_t npaths;
	bool paths_known; /* false: the payload has no (or a truncated) file list */
} gg_push;

typedef enum {
	GG_SENDER_OK = 0,
	GG_SENDER_UNAUTHORIZED = -1, /* 401 */
	GG_SENDER_BAD_REQUEST = -2,  /* 400 */
	GG_SENDER_FORBIDDEN = -3,    /* 403: authenticated, but not allowed (local sources) */
} gg_sender_rc;

typedef struct {
	char *delivery;  /* the delivery id */
	char *event;     /* the sender's event name, e.g. "push", "Tag Push Hook", "repo:push" */
	bool is_push;    /* false: a ping or another event, answered 200 with nothing queued */
	gg_push *pushes; /* one per ref change (Bitbucket can carry several) */
	size_t npushes;
	char *error; /* why the request was refused; never contains a secret */
} gg_sender_result;

/*
 * Authenticate and parse one webhook request for source src: the signature or
 * token is checked over the raw body first, and nothing is parsed before it
 * holds. `now` is the current Unix time (for Standard Webhooks timestamps).
 * Fills *res (release with gg_sender_result_free, also on failure) and
 * returns GG_SENDER_OK, GG_SENDER_UNAUTHORIZED or GG_SENDER_BAD_REQUEST.
 */
gg_sender_rc gg_sender_handle(gg_sender_result *res, const gg_dsource *src, const gg_header *hdrs,
                              size_t nhdrs, const char *body, size_t len, time_t now);
void gg_sender_result_free(gg_sender_result *res);
/* Free what one push record owns (not the record itself). */
void gg_push_clear(gg_push *p);

/* Parse a push payload of kind (already authenticated, JSON). For tests and fuzzing. */
gg_sender_rc gg_sender_parse(gg_sender_result *res, gg_source_kind kind, const char *event,
                             const char *json, size_t len);

/* The header's value, or NULL. */
const char *gg_header_get(const gg_header *hdrs, size_t n, const char *name);

/*
 * Whether ref is a ref name a payload may carry: under refs/, valid by git's
 * check-ref-format rules (no "..", "@{", control characters, space, ~ ^ : ? *
 * [ or backslash; no empty component, none starting with '.' or ending with
 * ".lock" or '.'), valid UTF-8, and no component starting with '-'.
 */
bool gg_ref_valid(const char *ref);

/*
 * Whether a delivery id (an unsigned header that reaches {delivery}) is
 * 1-GG_SENDER_MAX_DELIVERY letters, digits, '-', '_', '.', ':', '{' or '}',
 * starting with a letter, a digit or '{' (Bitbucket's braced UUIDs).
 */
bool gg_delivery_valid(const char *id);

/* True when a hex object id is all zeros (a create's before, a delete's after). */
bool gg_is_zero_id(const char *id);

/*
 * Whether target t wants push p that came from source `source`: source,
 * repository glob, ref glob and, when the target has paths and the push's
 * file list is known, a changed path matching one of them.
 */
bool gg_push_matches(const gg_dtarget *t, const char *source, const gg_push *p);

#endif
