/*
 * Secret detection. The rules are data (secrets_rules.c: one entry per
 * provider token format, each with its own samples); this engine runs them.
 * A text is scanned in one pass of an Aho-Corasick automaton over every
 * rule's keywords; only the rules whose keywords occur on a line run their
 * (lazily compiled, JIT) PCRE2 pattern on it. A match is then filtered by
 * the rule's entropy floor, the placeholder and stop-word filters, known
 * documentation keys and the allowlists of a gitleaks config, and graded by
 * the token's checksum where its format has one.
 */
#ifndef GITGATE_SECRETS_H
#define GITGATE_SECRETS_H

#include "gitgate/util.h"

#include <stdbool.h>
#include <stddef.h>

/* How a rule (or the generic rule) reports: refuse, report only, or not at all. */
typedef enum { GG_SECRETS_ERROR, GG_SECRETS_WARNING, GG_SECRETS_OFF } gg_secrets_level;

/* Flags of a rule in the table. */
enum {
	GG_SR_GENERIC = 1 << 0,   /* the generic assignment rule (its level is the policy's) */
	GG_SR_CRC32 = 1 << 1,     /* base62 CRC32 in the last 6 characters (GitHub, npm) */
	GG_SR_PEM_BODY = 1 << 2,  /* a key block: reported only when a body follows */
	GG_SR_NO_REPEAT = 1 << 3, /* the format itself repeats characters (no repeat filter) */
	GG_SR_NO_FILTER = 1 << 4, /* no placeholder/stop-word filter */
};

/* One built-in rule: see docs/policy.md "Adding a rule". */
typedef struct {
	const char *id;          /* "secret-openai-api-key" */
	const char *provider;    /* "OpenAI" */
	const char *description; /* "OpenAI API key": names the provider, used in messages */
	const char *keywords;    /* '|'-separated, matched case-insensitively; one is required */
	const char *pattern;     /* PCRE2, matched against one line (bytes, not UTF) */
	unsigned group;          /* capture group holding the secret; 0: the whole match */
	double entropy;          /* minimum Shannon entropy (bits/char) of the secret; 0: none */
	unsigned flags;          /* GG_SR_* */
	const char *tp[4];       /* lines that must be reported (NULL-terminated) */
	const char *fp[4];       /* look-alike lines that must not be */
} gg_secret_rule;

extern const gg_secret_rule gg_secret_rules[];
extern const size_t gg_nsecret_rules;

typedef struct {
	gg_secrets_level generic; /* the generic rule; default error */
	bool allow_inline;        /* honour `gitleaks:allow` (and .gitleaksignore entries) */
	const char *config;       /* a gitleaks TOML file, or NULL */
} gg_secrets_opts;

typedef struct gg_secrets gg_secrets;

/*
 * A scanner with the built-in rules and those of o->config (NULL o: the
 * defaults). On failure returns -1 with every problem of the config in diag
 * as "FILE:LINE: message". The caller frees *out with gg_secrets_free.
 */
int gg_secrets_new(gg_secrets **out, const gg_secrets_opts *o, gg_diag *diag);
void gg_secrets_free(gg_secrets *s);
bool gg_secrets_allow_inline(const gg_secrets *s);

/*
 * Entries of a .gitleaksignore file (one fingerprint a line: FILE:RULE:LINE
 * or COMMIT:FILE:RULE:LINE, `#` comments): findings they name are dropped.
 * Only honoured when the scanner allows inline suppression. -1 on I/O error.
 */
int gg_secrets_load_ignore(gg_secrets *s, const char *path);

typedef struct {
	const char *rule;        /* rule id; static or owned by the scanner */
	const char *provider;    /* "GitHub" */
	const char *description; /* "GitHub personal access token" */
	bool warning;            /* report as a warning (checksum fails, generic: warning) */
	unsigned line;           /* 1-based line in the scanned text (mapped through lineno) */
	unsigned col;            /* 1-based byte column (in the UTF-8 text for UTF-16 input) */
	char redacted[32];       /* first 4 characters, "****", last 4 ("" for key blocks) */
} gg_secret_hit;

typedef void (*gg_secret_fn)(void *ctx, const gg_secret_hit *hit);

/*
 * Scan a text: a file's content (UTF-8, Latin-1, UTF-16 with or without a
 * BOM, or binary: nothing switches scanning off) or a message. `path`
 * (may be NULL) selects path-bound rules and allowlists. When lineno is not
 * NULL, line i (0-based) of data is reported as lineno[i] (added lines of a
 * diff joined by '\n'); nlines bounds it. Returns the number of findings.
 */
size_t gg_secrets_scan(gg_secrets *s, const char *path, const char *data, size_t len,
                       const unsigned *lineno, size_t nlines, gg_secret_fn fn, void *ctx);

typedef enum { GG_TEXT_PLAIN, GG_TEXT_UTF16LE, GG_TEXT_UTF16BE, GG_TEXT_BINARY } gg_text_kind;

/*
 * What data looks like, from its first 8000 bytes: UTF-16 (a BOM, or NULs in
 * every other byte), binary (a sizeable share of control bytes; a single NUL
 * is not enough) or plain text. Informative only: every kind is scanned.
 */
gg_text_kind gg_secrets_text_kind(const char *data, size_t len);

/* Shannon entropy of s in bits per byte. */
double gg_secrets_entropy(const char *s, size_t n);

/* The GitHub/npm token checksum: last 6 characters, base62 CRC32 of the 30 before. */
bool gg_secrets_crc32_ok(const char *token, size_t n);

/* Markdown table of the built-in rules, for docs/policy.md (caller frees). */
char *gg_secrets_rules_markdown(void);

#endif
