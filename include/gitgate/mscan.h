/*
 * Manifests in the tree they sit in: what one file cannot say alone. A
 * directory with a Chart.yaml is a Helm chart, whose templates are not YAML
 * and whose Chart.yaml and values files are not Kubernetes objects; a
 * kustomization names files and directories that must exist. The tree is
 * read through callbacks: the pushed commit's tree in the hook, the working
 * tree in gitgate check.
 */
#ifndef GITGATE_MSCAN_H
#define GITGATE_MSCAN_H

#include "gitgate/manifest.h"
#include "gitgate/report.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { GG_MTREE_NONE, GG_MTREE_FILE, GG_MTREE_DIR } gg_mtree_kind;

typedef struct {
	/* What is at `path` (relative to the tree's top, '/'-separated). */
	gg_mtree_kind (*kind)(void *ctx, const char *path);
	/* The content of the file at path: 0 with *data (caller frees) and *len, or -1. */
	int (*read)(void *ctx, const char *path, char **data, size_t *len);
	void *ctx;
} gg_mtree;

typedef struct gg_mscan gg_mscan;

/*
 * A scan of one tree with mp. `notes`: gitgate check's notes on files no pack
 * applies to. The scan remembers charts and resources already handled, so
 * each chart is checked and noted once. Free with gg_mscan_free.
 */
gg_mscan *gg_mscan_new(const gg_mpolicy *mp, const gg_mtree *tree, bool notes);
void gg_mscan_free(gg_mscan *s);

/*
 * Check the selected manifest at `path` in the tree (`shown` names it in
 * messages) with its content: as a chart file, a kustomization, or a plain
 * manifest. Returns 0, or -1 on an internal error.
 */
int gg_mscan_file(gg_mscan *s, const char *path, const char *shown, const char *data, size_t len,
                  gg_report *r);

/*
 * A file the push changed or deleted at `path` (selected or not): the
 * kustomizations in its directory and the directories above it must still
 * find what they name. Each kustomization is resolved once per scan.
 */
int gg_mscan_changed(gg_mscan *s, const char *path, const char *shown, gg_report *r);

#endif
