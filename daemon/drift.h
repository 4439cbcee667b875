/*
 * Drift of checkout targets: whether the live release still holds exactly
 * what its commit's tree says (files added, changed, removed, modes and
 * symlinks; contents hashed, mtimes never trusted), and its repair by a
 * fresh release switched in atomically. The comparison reads the whole
 * release, so it runs only in the `gitgated --drift-check` child
 * (gg_drift_main), never on the event loop; the daemon reads the child's
 * JSON result.
 */
#ifndef GITGATED_DRIFT_H
#define GITGATED_DRIFT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define GG_DRIFT_OPTION "--drift-check"
/* Paths a report names; the rest are only counted. */
#define GG_DRIFT_MAX_PATHS 100
/* Directory depth and entries (either side) a comparison reads before it gives up. */
#define GG_DRIFT_MAX_DEPTH   256
#define GG_DRIFT_MAX_ENTRIES 2000000
/* The largest result file the daemon reads back. */
#define GG_DRIFT_MAX_RESULT (4 * 1024 * 1024)

typedef enum {
	GG_DRIFT_ADDED,    /* on disk, not in the tree */
	GG_DRIFT_REMOVED,  /* in the tree, not on disk */
	GG_DRIFT_MODIFIED, /* other contents (a symlink: another target) */
	GG_DRIFT_MODE,     /* executable bit differs */
	GG_DRIFT_TYPE,     /* a file where a symlink should be, or anything not a file */
} gg_drift_kind;

/* "added", "removed", ...; static. */
const char *gg_drift_kind_name(gg_drift_kind k);

typedef struct {
	gg_drift_kind kind;
	char *path; /* relative to the release, as on disk (any bytes but NUL) */
} gg_drift_entry;

typedef struct {
	gg_drift_entry *entries; /* sorted by path; at most GG_DRIFT_MAX_PATHS */
	size_t nentries;
	size_t total; /* differences found, named or not */
	size_t files; /* entries of the tree compared */
} gg_drift_report;

void gg_drift_report_free(gg_drift_report *r);

/*
 * Compare the directory release with the tree of commit (hex) in the bare
 * repository at mirror. *out is owned by the caller (gg_drift_report_free).
 * 0, or -1 with an allocated message in *err.
 */
int gg_drift_compare(gg_drift_report **out, const char *mirror, const char *commit,
                     const char *release, char **err);

/*
 * The child's main, for argv starting at GG_DRIFT_OPTION:
 *   --drift-check --mirror DIR --dir LIVE --commit C --result FILE
 *                 [--repair --keep N]
 * Compares LIVE (the target's symlink) with C; with --repair a drifted
 * release is replaced by a fresh checkout of C, switched atomically. Prints
 * the report, writes it as JSON to FILE (gg_drift_result_read). Exit 0 when
 * the comparison (and repair) worked, drifted or not; 1 when not; 2 on usage.
 */
int gg_drift_main(int argc, char **argv);

/*
 * The child's result: *out the JSON object {"commit", "release", "drifted",
 * "total", "paths": [{"path", "change"}], "truncated", "repaired", "files"},
 * owned by the caller. 0, or -1 when it is missing, too large or malformed.
 */
int gg_drift_result_read(json_t **out, const char *path);

#endif
