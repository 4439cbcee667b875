/*
 * A schema set: JSON schemas compiled into flat arrays of nodes that refer to
 * each other by index. The built-in Kubernetes definitions are a set generated
 * at build time (scripts/schemagen.c → build/gen/k8s_schema.c, no parsing at
 * run time); schema locations and CustomResourceDefinitions are compiled into
 * sets at run time by the same loader (lib/schema_load.c). The validator
 * (lib/schema.c) reads sets only through this layout.
 */
#ifndef GITGATE_SSET_H
#define GITGATE_SSET_H

#include "gitgate/report.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GG_SNONE UINT32_MAX

/* Types a node accepts (gg_snode.types); 0 accepts any. */
enum {
	GG_ST_NULL = 1,
	GG_ST_BOOLEAN = 2,
	GG_ST_INTEGER = 4,
	GG_ST_NUMBER = 8,
	GG_ST_STRING = 16,
	GG_ST_ARRAY = 32,
	GG_ST_OBJECT = 64,
};

/* gg_snode.flags */
enum {
	GG_SF_NULLABLE = 1,
	GG_SF_PRESERVE = 2, /* x-kubernetes-preserve-unknown-fields */
	GG_SF_INTORSTR = 4, /* x-kubernetes-int-or-string */
	GG_SF_EMBEDDED = 8, /* x-kubernetes-embedded-resource */
	GG_SF_CLOSED = 16,  /* fields outside properties are unknown */
	GG_SF_INT32 = 32,   /* format: int32 */
	GG_SF_INT64 = 64,   /* format: int64 */
};

/* One schema. Ranges are (first, count) into the set's arrays; GG_SNONE: absent. */
typedef struct {
	uint16_t types, flags;
	uint32_t ref;           /* $ref: this node stands for that one */
	uint32_t items;         /* array elements */
	uint32_t addl;          /* additionalProperties: {schema} */
	uint32_t props, nprops; /* gg_sprop, sorted by name */
	uint32_t req, nreq;     /* strs: required field names */
	uint32_t enm, nenm;     /* strs: allowed values, as text */
	uint32_t allof, nallof; /* subs */
	uint32_t anyof, nanyof; /* subs */
	uint32_t oneof, noneof; /* subs */
} gg_snode;

typedef struct {
	uint32_t name; /* text offset */
	uint32_t node;
} gg_sprop;

/* A top-level kind; sorted by kind, group, version (text compared). */
typedef struct {
	uint32_t group, version, kind; /* text offsets */
	uint32_t node;
} gg_skind;

typedef struct {
	const gg_snode *nodes;
	size_t nnodes;
	const gg_sprop *props;
	size_t nprops;
	const uint32_t *strs; /* text offsets */
	size_t nstrs;
	const uint32_t *subs; /* node indices */
	size_t nsubs;
	const gg_skind *kinds;
	size_t nkinds;
	const char *text; /* NUL-separated strings */
	size_t ntext;
	uint32_t objmeta; /* io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta, or GG_SNONE */
} gg_sset;

static inline const char *gg_sset_str(const gg_sset *s, uint32_t off)
{
	return s->text + off;
}

/* The kind's node in s, or GG_SNONE. */
uint32_t gg_sset_find_kind(const gg_sset *s, const char *group, const char *version,
                           const char *kind);
/* The property `name` of node n (n already resolved), or NULL. */
const gg_sprop *gg_sset_find_prop(const gg_sset *s, const gg_snode *n, const char *name);

/* The built-in Kubernetes definitions (generated at build time). */
extern const gg_sset gg_k8s_builtin;

/*
 * Validate doc against node of s (lib/schema.c), violations to r while
 * *budget lasts; returns how many did not fit. For tests and fuzzing: the
 * gate goes through gg_schema_check.
 */
size_t gg_sset_validate(const gg_sset *s, uint32_t node, const gg_ynode *doc, bool strict,
                        const char *path, size_t *budget, gg_report *r);

/* ---- building a set (lib/schema_load.c) ---- */

typedef struct gg_ssetb gg_ssetb;

/* Bounds on what one set may hold: a hostile CRD or location cannot grow it without end. */
#define GG_SSET_MAX_NODES 4000000u
#define GG_SSET_MAX_KINDS 100000u

gg_ssetb *gg_ssetb_new(void);
void gg_ssetb_free(gg_ssetb *b);
size_t gg_ssetb_nkinds(const gg_ssetb *b);

/*
 * Add every schema of a kubeconform `_definitions.json` (root: its document)
 * and a kind for each x-kubernetes-group-version-kind. $ref values
 * "#/definitions/NAME" and "_definitions.json#/definitions/NAME" resolve to
 * its definitions. Problems go to diag as "FILE:LINE:COL: message"; returns
 * -1 when there was any.
 */
int gg_ssetb_add_definitions(gg_ssetb *b, const char *file, const gg_ynode *root, gg_diag *diag);

/*
 * Compile one schema (a kind's file of a location, or a CRD version's
 * openAPIV3Schema with crd true: structural rules, objects without
 * properties or additionalProperties are closed, no $ref) into *out.
 */
int gg_ssetb_add_schema(gg_ssetb *b, uint32_t *out, const char *file, const gg_ynode *schema,
                        bool crd, gg_diag *diag);

/*
 * Add the kinds of one CustomResourceDefinition document (apiextensions.k8s.io/v1):
 * each served version's openAPIV3Schema under (spec.group, version name,
 * spec.names.kind). Returns 1 when doc is not such a CRD, 0 when added, -1
 * with its problems in diag.
 */
int gg_ssetb_add_crd(gg_ssetb *b, const char *file, const gg_ynode *doc, gg_diag *diag);

/*
 * Make field `field` of definition `def` (added by gg_ssetb_add_definitions)
 * accept only `values`, replacing any enum it had. -1 when there is no such
 * definition or field.
 */
int gg_ssetb_set_enum(gg_ssetb *b, const char *def, const char *field, char *const *values,
                      size_t n);

/* Register a kind; a later registration of the same kind replaces the earlier one. */
void gg_ssetb_add_kind(gg_ssetb *b, const char *group, const char *version, const char *kind,
                       uint32_t node);

/* The set as built so far; borrowed, valid until the next change to b. */
const gg_sset *gg_ssetb_view(gg_ssetb *b);

/* Write the set as C source defining `const gg_sset NAME` (the build's code generator). */
int gg_ssetb_write_c(gg_ssetb *b, FILE *out, const char *name);

#endif
