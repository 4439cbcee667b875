/*
 * Positioned document trees for YAML (libyaml) and JSON (own parser): every
 * node keeps the line and column where it starts in the file, counted from the
 * top of the file across "---" documents. Parsing is bounded (bytes, depth,
 * nodes including alias expansion) and reports what it could not accept as
 * problems with a rule id ("syntax", "duplicate-key", "limit") and a position.
 */
#ifndef GITGATE_YTREE_H
#define GITGATE_YTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	GG_Y_STRING,
	GG_Y_INT,
	GG_Y_FLOAT,
	GG_Y_BOOL,
	GG_Y_NULL,
	GG_Y_MAP,
	GG_Y_SEQ,
} gg_ytype;

typedef struct gg_ynode gg_ynode;
struct gg_ynode {
	gg_ytype type;
	uint32_t line; /* 1-based */
	uint32_t col;  /* 1-based, in bytes */
	/* Scalars: the text as written (unquoted, unescaped), NUL-terminated. */
	const char *str;
	uint32_t len;
	/* Maps: n pairs, items[2i] the key and items[2i+1] the value. Sequences: n items. */
	uint32_t n;
	gg_ynode **items;
	/* Nodes in this subtree, aliases expanded: bounds the work a walk can do. */
	uint64_t weight;
	double num;   /* GG_Y_INT, GG_Y_FLOAT */
	bool boolean; /* GG_Y_BOOL */
	/* A YAML plain scalar (unquoted, untagged): Kubernetes' decoder types it by YAML 1.1. */
	bool plain;
};

typedef enum { GG_YFMT_YAML, GG_YFMT_JSON } gg_yformat;

typedef struct {
	size_t max_bytes;   /* whole file */
	unsigned max_depth; /* nesting of maps and sequences */
	uint64_t max_nodes; /* per file, aliases counted at their expanded size */
} gg_ylimits;

/* 8 MiB, depth 64, 1,000,000 nodes. */
extern const gg_ylimits gg_ylimits_default;

typedef struct {
	const char *rule; /* "syntax", "duplicate-key" or "limit"; static */
	uint32_t line, col;
	char *msg;
} gg_yproblem;

typedef struct gg_yfile gg_yfile;

/*
 * Parse a whole file. *out is always set and owned by the caller (free with
 * gg_yfile_free), holding the documents parsed and the problems found. Returns
 * 0 when the whole input was read (there may still be duplicate-key problems),
 * -1 when parsing stopped at a syntax error or a limit.
 */
int gg_yparse(gg_yfile **out, const char *data, size_t len, gg_yformat fmt,
              const gg_ylimits *limits);
void gg_yfile_free(gg_yfile *f);

size_t gg_yfile_ndocs(const gg_yfile *f);
/* Borrowed; NULL for an empty document. */
const gg_ynode *gg_yfile_doc(const gg_yfile *f, size_t i);
size_t gg_yfile_nproblems(const gg_yfile *f);
const gg_yproblem *gg_yfile_problem(const gg_yfile *f, size_t i);

/* Value of `key` in a map (last one wins if repeated), or NULL. */
const gg_ynode *gg_ymap_get(const gg_ynode *map, const char *key);
/* True when n is a scalar whose text is exactly s. */
bool gg_yis(const gg_ynode *n, const char *s);
bool gg_yis_scalar(const gg_ynode *n);
/* "string", "number", "boolean", "map", "list" or "null". */
const char *gg_ytype_name(gg_ytype t);

/* Choose the format from a file name: .json is JSON, everything else YAML. */
gg_yformat gg_yformat_for_path(const char *path);

#endif
