/*
 * The schema loader: JSON schemas (kubeconform's _definitions.json and kind
 * files, CRD openAPIV3Schema) from positioned trees into a flat gg_sset. Every
 * problem is reported at its position; a set with problems is not used.
 */
#include "gitgate/sset.h"

#include <stdlib.h>
#include <string.h>

struct def {
	uint32_t name; /* text offset; 0: free slot (offset 0 is the empty string) */
	uint32_t node;
};

struct gg_ssetb {
	gg_snode *nodes;
	size_t nnodes, cnodes;
	gg_sprop *props;
	size_t nprops, cprops;
	uint32_t *strs;
	size_t nstrs, cstrs;
	uint32_t *subs;
	size_t nsubs, csubs;
	gg_skind *kinds;
	size_t nkinds, ckinds;
	bool kinds_sorted;
	gg_buf text;
	uint32_t *tslots; /* interned strings: text offsets + 1, 0 free */
	size_t tcap, tn;
	struct def *defs;
	size_t dcap, dn;
	uint32_t objmeta;
	bool full; /* GG_SSET_MAX_NODES reached; reported once per load */
	gg_sset view;
};

struct ld {
	gg_ssetb *b;
	const char *file;
	gg_diag *diag;
	unsigned errors;
	bool crd;
};

static void err(struct ld *l, const gg_ynode *n, const char *fmt, ...) GG_PRINTF(3, 4);

static void err(struct ld *l, const gg_ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	gg_diag_add(l->diag, l->file, n ? n->line : 1, n ? n->col : 1, "%s", m);
	free(m);
	l->errors++;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

#define GROW(arr, n, cap)                                                                          \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? 2 * (cap) : 64;                                            \
			(arr) = gg_reallocarray((arr), (cap), sizeof(*(arr)));                     \
		}                                                                                  \
	} while (0)

static void text_rehash(gg_ssetb *b)
{
	size_t cap = b->tcap ? 2 * b->tcap : 1024;
	uint32_t *t = gg_calloc(cap, sizeof(*t));
	for (size_t i = 0; i < b->tcap; i++) {
		if (!b->tslots[i])
			continue;
		size_t j = hash_str(b->text.ptr + b->tslots[i] - 1) & (cap - 1);
		while (t[j])
			j = (j + 1) & (cap - 1);
		t[j] = b->tslots[i];
	}
	free(b->tslots);
	b->tslots = t;
	b->tcap = cap;
}

/* The offset of s in the text pool, added once. */
static uint32_t intern(gg_ssetb *b, const char *s)
{
	if (2 * (b->tn + 1) > b->tcap)
		text_rehash(b);
	size_t j = hash_str(s) & (b->tcap - 1);
	while (b->tslots[j]) {
		if (!strcmp(b->text.ptr + b->tslots[j] - 1, s))
			return b->tslots[j] - 1;
		j = (j + 1) & (b->tcap - 1);
	}
	uint32_t off = (uint32_t)b->text.len;
	gg_buf_put(&b->text, s, strlen(s) + 1);
	b->tslots[j] = off + 1;
	b->tn++;
	return off;
}

static struct def *def_slot(gg_ssetb *b, const char *name)
{
	size_t j = hash_str(name) & (b->dcap - 1);
	while (b->defs[j].name && strcmp(b->text.ptr + b->defs[j].name, name))
		j = (j + 1) & (b->dcap - 1);
	return &b->defs[j];
}

static void def_put(gg_ssetb *b, const char *name, uint32_t node)
{
	if (2 * (b->dn + 1) > b->dcap) {
		struct def *old = b->defs;
		size_t ocap = b->dcap;
		b->dcap = b->dcap ? 2 * b->dcap : 256;
		b->defs = gg_calloc(b->dcap, sizeof(*b->defs));
		for (size_t i = 0; i < ocap; i++)
			if (old[i].name)
				*def_slot(b, b->text.ptr + old[i].name) = old[i];
		free(old);
	}
	struct def *d = def_slot(b, name);
	if (!d->name)
		b->dn++;
	d->name = intern(b, name);
	d->node = node;
}

static uint32_t def_get(gg_ssetb *b, const char *name)
{
	if (b->dn == 0)
		return GG_SNONE;
	struct def *d = def_slot(b, name);
	return d->name ? d->node : GG_SNONE;
}

static gg_snode any_node(void)
{
	gg_snode n;
	memset(&n, 0, sizeof(n));
	n.ref = n.items = n.addl = GG_SNONE;
	return n;
}

static uint32_t push_node(gg_ssetb *b, gg_snode n)
{
	GROW(b->nodes, b->nnodes, b->cnodes);
	b->nodes[b->nnodes] = n;
	return (uint32_t)b->nnodes++;
}

gg_ssetb *gg_ssetb_new(void)
{
	gg_ssetb *b = gg_calloc(1, sizeof(*b));
	gg_buf_putc(&b->text, '\0'); /* offset 0: "" */
	b->objmeta = GG_SNONE;
	push_node(b, any_node()); /* node 0 accepts anything: what a broken schema becomes */
	return b;
}

void gg_ssetb_free(gg_ssetb *b)
{
	if (b == NULL)
		return;
	free(b->nodes);
	free(b->props);
	free(b->strs);
	free(b->subs);
	free(b->kinds);
	gg_buf_free(&b->text);
	free(b->tslots);
	free(b->defs);
	free(b);
}

size_t gg_ssetb_nkinds(const gg_ssetb *b)
{
	return b->nkinds;
}

static const char *scalar(const gg_ynode *n)
{
	return n && gg_yis_scalar(n) && n->type != GG_Y_NULL && n->str ? n->str : NULL;
}

static int type_bit(const char *t)
{
	static const struct {
		const char *name;
		int bit;
	} types[] = {
	    {"null", GG_ST_NULL},     {"boolean", GG_ST_BOOLEAN}, {"integer", GG_ST_INTEGER},
	    {"number", GG_ST_NUMBER}, {"string", GG_ST_STRING},   {"array", GG_ST_ARRAY},
	    {"object", GG_ST_OBJECT},
	};
	for (size_t i = 0; t && i < GG_ARRAY_LEN(types); i++)
		if (!strcmp(types[i].name, t))
			return types[i].bit;
	return 0;
}

static uint32_t compile(struct ld *l, const gg_ynode *y, uint32_t slot);

static bool flag(struct ld *l, const gg_ynode *k, const gg_ynode *v)
{
	if (v->type != GG_Y_BOOL) {
		err(l, v, "%s must be true or false", k->str);
		return false;
	}
	return v->boolean;
}

/* allOf, anyOf, oneOf: a list of schemas, stored contiguously in subs. */
static void compile_list(struct ld *l, const gg_ynode *k, const gg_ynode *v, uint32_t *first,
                         uint32_t *count)
{
	if (v->type != GG_Y_SEQ) {
		err(l, v, "%s must be a list of schemas", k->str);
		return;
	}
	uint32_t *tmp = gg_calloc(v->n ? v->n : 1, sizeof(*tmp));
	for (uint32_t i = 0; i < v->n; i++)
		tmp[i] = compile(l, v->items[i], GG_SNONE);
	gg_ssetb *b = l->b;
	*first = (uint32_t)b->nsubs;
	*count = v->n;
	for (uint32_t i = 0; i < v->n; i++) {
		GROW(b->subs, b->nsubs, b->csubs);
		b->subs[b->nsubs++] = tmp[i];
	}
	free(tmp);
}

/* required, enum: scalars as text. */
static void compile_strs(struct ld *l, const gg_ynode *k, const gg_ynode *v, uint32_t *first,
                         uint32_t *count, bool any_scalar)
{
	if (v->type != GG_Y_SEQ) {
		err(l, v, "%s must be a list", k->str);
		return;
	}
	gg_ssetb *b = l->b;
	uint32_t *tmp = gg_calloc(v->n ? v->n : 1, sizeof(*tmp));
	uint32_t m = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		const gg_ynode *s = v->items[i];
		bool ok = any_scalar ? gg_yis_scalar(s) && s->type != GG_Y_NULL && s->str
		                     : s->type == GG_Y_STRING && s->str;
		if (!ok) {
			if (!(any_scalar && s->type == GG_Y_NULL))
				err(l, s, "%s: expected %s", k->str,
				    any_scalar ? "a scalar value" : "a field name");
			continue;
		}
		tmp[m++] = intern(b, s->str);
	}
	*first = (uint32_t)b->nstrs;
	*count = m;
	for (uint32_t i = 0; i < m; i++) {
		GROW(b->strs, b->nstrs, b->cstrs);
		b->strs[b->nstrs++] = tmp[i];
	}
	free(tmp);
}

static int prop_cmp(const void *a, const void *c, void *arg)
{
	const gg_sprop *x = a, *y = c;
	const gg_ssetb *b = arg;
	return strcmp(b->text.ptr + x->name, b->text.ptr + y->name);
}

static void compile_props(struct ld *l, const gg_ynode *v, gg_snode *n)
{
	if (v->type != GG_Y_MAP) {
		err(l, v, "properties must map field names to schemas");
		return;
	}
	gg_ssetb *b = l->b;
	gg_sprop *tmp = gg_calloc(v->n ? v->n : 1, sizeof(*tmp));
	uint32_t m = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		const gg_ynode *pk = v->items[2 * i];
		uint32_t node = compile(l, v->items[2 * i + 1], GG_SNONE);
		if (!pk->str)
			continue;
		/* Repeated names are reported by the parser as duplicate-key; keep the last. */
		uint32_t name = intern(b, pk->str);
		uint32_t j = 0;
		while (j < m && tmp[j].name != name)
			j++;
		tmp[j] = (gg_sprop){name, node};
		if (j == m)
			m++;
	}
	qsort_r(tmp, m, sizeof(*tmp), prop_cmp, b);
	n->props = (uint32_t)b->nprops;
	n->nprops = m;
	for (uint32_t i = 0; i < m; i++) {
		GROW(b->props, b->nprops, b->cprops);
		b->props[b->nprops++] = tmp[i];
	}
	free(tmp);
}

static uint32_t resolve_ref(struct ld *l, const gg_ynode *v)
{
	const char *s = scalar(v);
	static const char *const prefixes[] = {"#/definitions/", "_definitions.json#/definitions/"};
	if (l->crd) {
		err(l, v, "$ref is not allowed in a CustomResourceDefinition schema");
		return 0;
	}
	for (size_t i = 0; s && i < GG_ARRAY_LEN(prefixes); i++) {
		size_t pl = strlen(prefixes[i]);
		if (strncmp(s, prefixes[i], pl))
			continue;
		uint32_t node = def_get(l->b, s + pl);
		if (node != GG_SNONE)
			return node;
		err(l, v, "$ref \"%s\": no such definition", s);
		return 0;
	}
	err(l, v, "$ref must be \"#/definitions/NAME\" or \"_definitions.json#/definitions/NAME\"");
	return 0;
}

/* Compile schema y into node `slot` (reserved earlier) or a new node; returns its index. */
static uint32_t compile(struct ld *l, const gg_ynode *y, uint32_t slot)
{
	gg_ssetb *b = l->b;
	gg_snode n = any_node();
	bool explicit_addl = false;
	if (b->nnodes >= GG_SSET_MAX_NODES) {
		if (!b->full)
			err(l, y, "limit: schemas hold more than %u nodes", GG_SSET_MAX_NODES);
		b->full = true;
		return 0;
	}
	if (y->type == GG_Y_BOOL) /* JSON schema `true`: anything */
		return slot == GG_SNONE ? 0 : slot;
	if (y->type != GG_Y_MAP) {
		err(l, y, "a schema must be an object");
		return slot == GG_SNONE ? 0 : slot;
	}
	for (uint32_t i = 0; i < y->n; i++) {
		const gg_ynode *k = y->items[2 * i], *v = y->items[2 * i + 1];
		const char *key = scalar(k);
		if (key == NULL)
			continue;
		if (!strcmp(key, "type")) {
			if (v->type == GG_Y_SEQ) {
				for (uint32_t j = 0; j < v->n; j++) {
					int bit = type_bit(scalar(v->items[j]));
					if (!bit)
						err(l, v->items[j], "unknown type in a schema");
					n.types |= (uint16_t)bit;
				}
			} else {
				int bit = type_bit(scalar(v));
				if (!bit)
					err(l, v,
					    "type must be one of null, boolean, integer, number, "
					    "string, array, object");
				n.types |= (uint16_t)bit;
			}
		} else if (!strcmp(key, "properties")) {
			compile_props(l, v, &n);
		} else if (!strcmp(key, "required")) {
			compile_strs(l, k, v, &n.req, &n.nreq, false);
		} else if (!strcmp(key, "enum")) {
			compile_strs(l, k, v, &n.enm, &n.nenm, true);
		} else if (!strcmp(key, "items")) {
			if (v->type == GG_Y_MAP)
				n.items = compile(l, v, GG_SNONE);
			else if (v->type != GG_Y_SEQ && v->type != GG_Y_BOOL)
				err(l, v, "items must be a schema");
		} else if (!strcmp(key, "additionalProperties")) {
			explicit_addl = true;
			if (v->type == GG_Y_BOOL) {
				if (!v->boolean)
					n.flags |= GG_SF_CLOSED;
			} else if (v->type == GG_Y_MAP) {
				n.addl = compile(l, v, GG_SNONE);
			} else {
				err(l, v, "additionalProperties must be a schema, true or false");
			}
		} else if (!strcmp(key, "$ref")) {
			n.ref = resolve_ref(l, v);
		} else if (!strcmp(key, "allOf")) {
			compile_list(l, k, v, &n.allof, &n.nallof);
		} else if (!strcmp(key, "anyOf")) {
			compile_list(l, k, v, &n.anyof, &n.nanyof);
		} else if (!strcmp(key, "oneOf")) {
			compile_list(l, k, v, &n.oneof, &n.noneof);
		} else if (!strcmp(key, "nullable")) {
			if (flag(l, k, v))
				n.flags |= GG_SF_NULLABLE;
		} else if (!strcmp(key, "format")) {
			const char *f = scalar(v);
			if (f && !strcmp(f, "int32"))
				n.flags |= GG_SF_INT32;
			else if (f && !strcmp(f, "int64"))
				n.flags |= GG_SF_INT64;
		} else if (!strcmp(key, "x-kubernetes-preserve-unknown-fields")) {
			if (flag(l, k, v))
				n.flags |= GG_SF_PRESERVE;
		} else if (!strcmp(key, "x-kubernetes-int-or-string")) {
			if (flag(l, k, v))
				n.flags |= GG_SF_INTORSTR;
		} else if (!strcmp(key, "x-kubernetes-embedded-resource")) {
			if (flag(l, k, v))
				n.flags |= GG_SF_EMBEDDED;
		}
	}
	/* A structural schema prunes what it does not declare: the API server's strict field
	 * validation calls those fields unknown. */
	if (l->crd && (n.types & GG_ST_OBJECT) && !explicit_addl && !(n.flags & GG_SF_PRESERVE))
		n.flags |= GG_SF_CLOSED;
	if (n.flags & GG_SF_PRESERVE)
		n.flags &= (uint16_t)~GG_SF_CLOSED;
	if (slot == GG_SNONE)
		return push_node(b, n);
	b->nodes[slot] = n;
	return slot;
}

int gg_ssetb_add_definitions(gg_ssetb *b, const char *file, const gg_ynode *root, gg_diag *diag)
{
	struct ld l = {b, file, diag, 0, false};
	b->full = false;
	const gg_ynode *defs =
	    root && root->type == GG_Y_MAP ? gg_ymap_get(root, "definitions") : NULL;
	if (defs == NULL || defs->type != GG_Y_MAP) {
		err(&l, defs ? defs : root, "expected an object with \"definitions\"");
		return -1;
	}
	uint32_t *slots = gg_calloc(defs->n ? defs->n : 1, sizeof(*slots));
	for (uint32_t i = 0; i < defs->n; i++) {
		const char *name = scalar(defs->items[2 * i]);
		slots[i] = push_node(b, any_node());
		if (name)
			def_put(b, name, slots[i]);
	}
	for (uint32_t i = 0; i < defs->n && !b->full; i++) {
		const char *name = scalar(defs->items[2 * i]);
		const gg_ynode *d = defs->items[2 * i + 1];
		compile(&l, d, slots[i]);
		if (name && !strcmp(name, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
			b->objmeta = slots[i];
		const gg_ynode *gvks =
		    d->type == GG_Y_MAP ? gg_ymap_get(d, "x-kubernetes-group-version-kind") : NULL;
		if (gvks == NULL)
			continue;
		if (gvks->type != GG_Y_SEQ) {
			err(&l, gvks, "x-kubernetes-group-version-kind must be a list");
			continue;
		}
		for (uint32_t j = 0; j < gvks->n; j++) {
			const gg_ynode *g = gvks->items[j];
			const char *grp = scalar(gg_ymap_get(g, "group"));
			const char *ver = scalar(gg_ymap_get(g, "version"));
			const char *kind = scalar(gg_ymap_get(g, "kind"));
			if (g->type != GG_Y_MAP || !ver || !kind) {
				err(&l, g,
				    "x-kubernetes-group-version-kind: expected group, version "
				    "and kind");
				continue;
			}
			gg_ssetb_add_kind(b, grp ? grp : "", ver, kind, slots[i]);
		}
	}
	free(slots);
	return l.errors ? -1 : 0;
}

int gg_ssetb_add_schema(gg_ssetb *b, uint32_t *out, const char *file, const gg_ynode *schema,
                        bool crd, gg_diag *diag)
{
	struct ld l = {b, file, diag, 0, crd};
	b->full = false;
	*out = compile(&l, schema, GG_SNONE);
	return l.errors ? -1 : 0;
}

void gg_ssetb_add_kind(gg_ssetb *b, const char *group, const char *version, const char *kind,
                       uint32_t node)
{
	if (b->nkinds >= GG_SSET_MAX_KINDS)
		return;
	GROW(b->kinds, b->nkinds, b->ckinds);
	b->kinds[b->nkinds++] =
	    (gg_skind){intern(b, group), intern(b, version), intern(b, kind), node};
	b->kinds_sorted = false;
}

static int kind_cmp3(const gg_sset *s, const gg_skind *k, const char *group, const char *version,
                     const char *kind)
{
	int c = strcmp(s->text + k->kind, kind);
	if (!c)
		c = strcmp(s->text + k->group, group);
	if (!c)
		c = strcmp(s->text + k->version, version);
	return c;
}

struct kind_at {
	gg_skind k;
	size_t at; /* registration order: of equal kinds the last one wins */
};

static int kind_cmp(const void *a, const void *c, void *arg)
{
	const struct kind_at *x = a, *y = c;
	const gg_sset *s = arg;
	int r =
	    kind_cmp3(s, &x->k, s->text + y->k.group, s->text + y->k.version, s->text + y->k.kind);
	if (!r)
		r = x->at < y->at ? -1 : x->at > y->at;
	return r;
}

const gg_sset *gg_ssetb_view(gg_ssetb *b)
{
	gg_sset *v = &b->view;
	v->nodes = b->nodes;
	v->nnodes = b->nnodes;
	v->props = b->props;
	v->nprops = b->nprops;
	v->strs = b->strs;
	v->nstrs = b->nstrs;
	v->subs = b->subs;
	v->nsubs = b->nsubs;
	v->text = b->text.ptr;
	v->ntext = b->text.len;
	v->objmeta = b->objmeta;
	if (!b->kinds_sorted && b->nkinds) {
		struct kind_at *t = gg_calloc(b->nkinds, sizeof(*t));
		for (size_t i = 0; i < b->nkinds; i++)
			t[i] = (struct kind_at){b->kinds[i], i};
		qsort_r(t, b->nkinds, sizeof(*t), kind_cmp, v);
		size_t m = 0;
		for (size_t i = 0; i < b->nkinds; i++) {
			if (m && !kind_cmp3(v, &b->kinds[m - 1], v->text + t[i].k.group,
			                    v->text + t[i].k.version, v->text + t[i].k.kind))
				m--;
			b->kinds[m++] = t[i].k;
		}
		free(t);
		b->nkinds = m;
		b->kinds_sorted = true;
	}
	v->kinds = b->kinds;
	v->nkinds = b->nkinds;
	return v;
}

uint32_t gg_sset_find_kind(const gg_sset *s, const char *group, const char *version,
                           const char *kind)
{
	size_t lo = 0, hi = s->nkinds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kind_cmp3(s, &s->kinds[mid], group, version, kind);
		if (c == 0)
			return s->kinds[mid].node;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return GG_SNONE;
}

const gg_sprop *gg_sset_find_prop(const gg_sset *s, const gg_snode *n, const char *name)
{
	size_t lo = 0, hi = n->nprops;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const gg_sprop *p = &s->props[n->props + mid];
		int c = strcmp(s->text + p->name, name);
		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- C source of a set, for the built-in table ---- */

static void write_u32s(FILE *out, const char *type, const char *name, const uint32_t *v, size_t n)
{
	fprintf(out, "static const %s %s[] = {", type, name);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%u,", i % 16 ? "" : "\n", v[i]);
	fprintf(out, "%s0};\n", n ? "\n" : "");
}

int gg_ssetb_write_c(gg_ssetb *b, FILE *out, const char *name)
{
	const gg_sset *s = gg_ssetb_view(b);
	fprintf(out, "/* Generated by scripts/schemagen.c; do not edit. */\n"
	             "#include \"gitgate/sset.h\"\n\n");
	fprintf(out, "static const gg_snode %s_nodes[] = {\n", name);
	for (size_t i = 0; i < s->nnodes; i++) {
		const gg_snode *n = &s->nodes[i];
		fprintf(out, "{%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u},\n", n->types,
		        n->flags, n->ref, n->items, n->addl, n->props, n->nprops, n->req, n->nreq,
		        n->enm, n->nenm, n->allof, n->nallof, n->anyof, n->nanyof, n->oneof,
		        n->noneof);
	}
	fprintf(out, "};\nstatic const gg_sprop %s_props[] = {", name);
	for (size_t i = 0; i < s->nprops; i++)
		fprintf(out, "%s{%u,%u},", i % 8 ? "" : "\n", s->props[i].name, s->props[i].node);
	fprintf(out, "%s{0,0}};\nstatic const gg_skind %s_kinds[] = {\n", s->nprops ? "\n" : "",
	        name);
	for (size_t i = 0; i < s->nkinds; i++)
		fprintf(out, "{%u,%u,%u,%u},\n", s->kinds[i].group, s->kinds[i].version,
		        s->kinds[i].kind, s->kinds[i].node);
	fprintf(out, "{0,0,0,0}};\n");
	char sub[128], str[128];
	snprintf(str, sizeof(str), "%s_strs", name);
	snprintf(sub, sizeof(sub), "%s_subs", name);
	write_u32s(out, "uint32_t", str, s->strs, s->nstrs);
	write_u32s(out, "uint32_t", sub, s->subs, s->nsubs);
	/* The text pool as one literal: every byte that is not plain printable ASCII, and the
	 * characters C gives meaning to, as three-digit octal escapes. */
	fprintf(out, "static const char %s_text[] =", name);
	for (size_t i = 0; i < s->ntext; i++) {
		unsigned char c = (unsigned char)s->text[i];
		if (i % 64 == 0)
			fprintf(out, "\n\"");
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '?')
			fprintf(out, "\\%03o", c);
		else
			fputc(c, out);
		if (i % 64 == 63 || i + 1 == s->ntext)
			fputc('"', out);
	}
	fprintf(out,
	        ";\n\nconst gg_sset %s = {\n"
	        "\t%s_nodes, %zu, %s_props, %zu, %s_strs, %zu, %s_subs, %zu,\n"
	        "\t%s_kinds, %zu, %s_text, %zu, %u,\n};\n",
	        name, name, s->nnodes, name, s->nprops, name, s->nstrs, name, s->nsubs, name,
	        s->nkinds, name, s->ntext, s->objmeta);
	return ferror(out) ? -1 : 0;
}

int gg_ssetb_set_enum(gg_ssetb *b, const char *def, const char *field, char *const *values,
                      size_t n)
{
	uint32_t d = def_get(b, def);
	if (d == GG_SNONE)
		return -1;
	const gg_sset *s = gg_ssetb_view(b);
	const gg_sprop *p = gg_sset_find_prop(s, &s->nodes[d], field);
	if (p == NULL)
		return -1;
	uint32_t node = p->node;
	uint32_t first = (uint32_t)b->nstrs;
	for (size_t i = 0; i < n; i++) {
		uint32_t off = intern(b, values[i]);
		GROW(b->strs, b->nstrs, b->cstrs);
		b->strs[b->nstrs++] = off;
	}
	b->nodes[node].enm = first;
	b->nodes[node].nenm = (uint32_t)n;
	return 0;
}

/* ---- CustomResourceDefinitions ---- */

static const char *str_at(struct ld *l, const gg_ynode *map, const char *key, const char *where)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	const char *s = v && v->type == GG_Y_STRING ? v->str : NULL;
	if (s == NULL || !*s)
		err(l, v ? v : map, "%s.%s: expected a non-empty string", where, key);
	return s && *s ? s : NULL;
}

int gg_ssetb_add_crd(gg_ssetb *b, const char *file, const gg_ynode *doc, gg_diag *diag)
{
	struct ld l = {b, file, diag, 0, true};
	b->full = false;
	if (doc == NULL || doc->type != GG_Y_MAP ||
	    !gg_yis(gg_ymap_get(doc, "apiVersion"), "apiextensions.k8s.io/v1") ||
	    !gg_yis(gg_ymap_get(doc, "kind"), "CustomResourceDefinition"))
		return 1;
	const gg_ynode *spec = gg_ymap_get(doc, "spec");
	if (spec == NULL || spec->type != GG_Y_MAP) {
		err(&l, spec ? spec : doc, "CustomResourceDefinition: spec must be an object");
		return -1;
	}
	const char *group = str_at(&l, spec, "group", "spec");
	const gg_ynode *names = gg_ymap_get(spec, "names");
	const char *kind = NULL;
	if (names == NULL || names->type != GG_Y_MAP)
		err(&l, names ? names : spec, "spec.names must be an object");
	else
		kind = str_at(&l, names, "kind", "spec.names");
	const gg_ynode *versions = gg_ymap_get(spec, "versions");
	if (versions == NULL || versions->type != GG_Y_SEQ || versions->n == 0) {
		err(&l, versions ? versions : spec, "spec.versions must be a non-empty list");
		return -1;
	}
	if (l.errors)
		return -1;
	for (uint32_t i = 0; i < versions->n; i++) {
		const gg_ynode *v = versions->items[i];
		if (v->type != GG_Y_MAP) {
			err(&l, v, "spec.versions[%u] must be an object", i);
			continue;
		}
		const char *name = str_at(&l, v, "name", "spec.versions[]");
		const gg_ynode *served = gg_ymap_get(v, "served");
		if (served && served->type == GG_Y_BOOL && !served->boolean)
			continue;
		const gg_ynode *schema = gg_ymap_get(gg_ymap_get(v, "schema"), "openAPIV3Schema");
		if (schema == NULL || schema->type != GG_Y_MAP) {
			err(&l, schema ? schema : v,
			    "spec.versions[%u].schema.openAPIV3Schema must be an object", i);
			continue;
		}
		uint32_t node = compile(&l, schema, GG_SNONE);
		/* The resource itself: apiVersion, kind and metadata need not be declared. */
		if (node != 0)
			b->nodes[node].flags |= GG_SF_EMBEDDED;
		if (name && node != 0 && !l.errors)
			gg_ssetb_add_kind(b, group, name, kind, node);
	}
	return l.errors ? -1 : 0;
}
