/*
 * The subset of gitleaks' TOML configuration that `secrets: {config: FILE}`
 * reads: [extend] useDefault and disabledRules, [[rules]] (id, description,
 * regex, secretGroup, entropy, keywords, path, tags, allowlist/allowlists)
 * and the global [allowlist] / [[allowlists]] (description, regexes,
 * regexTarget, paths, stopwords, condition). A small bounded TOML reader
 * (strings of every kind, numbers, booleans, arrays, [tables] and
 * [[arrays of tables]]); anything else is an error with FILE:LINE.
 */
#ifndef GITGATE_GLTOML_H
#define GITGATE_GLTOML_H

#include "gitgate/util.h"

#include <stdbool.h>
#include <stddef.h>

/* Limits that keep a hostile or broken file cheap to reject. */
#define GG_GL_MAX_BYTES   (1024 * 1024)
#define GG_GL_MAX_RULES   2000
#define GG_GL_MAX_ITEMS   10000 /* entries in one array */
#define GG_GL_MAX_NESTING 8     /* arrays within arrays */

typedef enum { GG_GL_TARGET_SECRET, GG_GL_TARGET_MATCH, GG_GL_TARGET_LINE } gg_gl_target;

typedef struct {
	char **regexes;
	size_t nregexes;
	char **paths;
	size_t npaths;
	char **stopwords;
	size_t nstopwords;
	gg_gl_target target; /* what the regexes are matched against */
	bool all;            /* condition = "AND": every criterion given must hold */
	unsigned line;
} gg_gl_allowlist;

typedef struct {
	char *id;
	char *description; /* NULL when unset */
	char *regex;       /* NULL: a path-only rule */
	char *path;        /* NULL when unset */
	int secret_group;
	double entropy;
	char **keywords;
	size_t nkeywords;
	gg_gl_allowlist *allow;
	size_t nallow;
	unsigned line; /* of its [[rules]] header */
	unsigned regex_line, path_line;
} gg_gl_rule;

typedef struct {
	bool use_default; /* [extend] useDefault: the built-in rules too */
	char **disabled;  /* [extend] disabledRules */
	size_t ndisabled;
	gg_gl_rule *rules;
	size_t nrules;
	gg_gl_allowlist *allow;
	size_t nallow;
} gg_gl_config;

/*
 * Parse a config; `file` names it in messages. On failure returns -1 with
 * every problem in diag as "FILE:LINE: message". *out is the caller's
 * (gg_gl_free). Regexes are not compiled here.
 */
int gg_gl_parse(gg_gl_config **out, const char *file, const char *data, size_t len, gg_diag *diag);
int gg_gl_load(gg_gl_config **out, const char *path, gg_diag *diag);
void gg_gl_free(gg_gl_config *c);

#endif
