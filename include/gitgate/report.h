/*
 * Violations found by the gate and by gitgate check, and their three output
 * forms: the hook's text lines, a stable JSON array, and SARIF 2.1.0.
 */
#ifndef GITGATE_REPORT_H
#define GITGATE_REPORT_H

#include "gitgate/policy.h"

#include <stdio.h>

/* A note (GG_SEV_NOTE) informs: it counts as neither error nor warning. */
typedef struct {
	char *rule; /* rule id: "deny-force-push", "secret", "syntax", "pinned-images", ... */
	gg_severity severity;
	char *path;   /* file path (with line/col), or NULL */
	char *ref;    /* ref name, for ref rules, or NULL */
	char *commit; /* short commit id, for commit rules, or NULL */
	unsigned line, col;
	char *message;
	/* The Kubernetes object (or other named document) at fault, or NULL. */
	char *kind, *name, *ns;
	char *about; /* what the rule checks, for SARIF; NULL: the built-in wording */
} gg_violation;

/*
 * Where a violation is: a file position, a ref, or a commit; and, for a
 * manifest, the object it is about (unused fields NULL/0).
 */
typedef struct {
	const char *path;
	unsigned line, col;
	const char *ref;
	const char *commit;
	const char *kind, *name, *ns;
	const char *about;
} gg_loc;

typedef struct {
	gg_violation *v;
	size_t n, cap;
	size_t nerrors, nwarnings;
} gg_report;

#define GG_REPORT_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0, 0, 0                                                                   \
	}

/*
 * A copy of s (len bytes) fit to reach a terminal or a CI log: every C0 and C1
 * control, DEL, bidirectional override and byte that is not UTF-8 becomes
 * '?'. Every output of a report goes through it. Caller frees.
 */
char *gg_report_escape(const char *s, size_t len);

void gg_report_add(gg_report *r, const char *rule, gg_severity sev, const gg_loc *loc,
                   const char *fmt, ...) GG_PRINTF(5, 6);
/* Sort by path, line, column, then rule (refs and commits first, in insertion order). */
void gg_report_sort(gg_report *r);
void gg_report_free(gg_report *r);

/*
 * One line per violation, "error[RULE] PATH:LINE:COL: MESSAGE" (REF or the
 * commit id in place of the position), each prefixed with `prefix` (e.g.
 * "GL-HOOK-ERR: ", or ""). At most `cap` lines (0: all), then a line counting
 * the rest.
 */
void gg_report_print_text(const gg_report *r, FILE *out, const char *prefix, size_t cap);
/*
 * A JSON array of {rule, severity, path, line, column, ref, commit, kind,
 * name, namespace, message}.
 */
int gg_report_print_json(const gg_report *r, FILE *out);
/*
 * SARIF 2.1.0 with one run: rules with a description, results with levels,
 * regions and, for an object, a logical location.
 */
int gg_report_print_sarif(const gg_report *r, FILE *out);

#endif
