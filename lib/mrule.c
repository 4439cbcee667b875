#include "gitgate/mrule.h"
#include "gitgate/yload.h"
#include "gitgate/regex.h"
#include "gitgate/util.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what a policy may ask for: keeps a hostile or broken policy cheap. */
#define MAX_PATH_SEGS  64
#define MAX_PATH_LEN   1024
#define MAX_ID_LEN     100
#define MAX_DESCRIBE   80
#define MAX_LIST_ITEMS 1000

enum seg_type {
	SEG_KEY,    /* name */
	SEG_INDEX,  /* [N] */
	SEG_EACH,   /* [*]: every list item */
	SEG_VALUES, /* *: every map value (or list item) */
};

struct seg {
	enum seg_type type;
	char *key;
	uint32_t klen;
	uint32_t index;
};

typedef struct {
	struct seg *segs;
	size_t n;
	char *text;
} mpath;

/* A scalar from the policy, compared with document scalars. */
struct mval {
	gg_ytype type;
	char *str;
	uint32_t len;
	double num;
	bool boolean;
};

enum {
	T_STRING = 1 << 0,
	T_NUMBER = 1 << 1,
	T_BOOLEAN = 1 << 2,
	T_MAP = 1 << 3,
	T_LIST = 1 << 4,
	T_NULL = 1 << 5,
};

struct massert {
	int exists; /* -1 unset, 0 false, 1 true */
	bool has_equals;
	struct mval equals;
	struct mval *one_of;
	size_t n_one_of;
	struct mval *not_one_of;
	size_t n_not_one_of;
	gg_regex *matches, *not_matches;
	bool has_min, has_max;
	double min, max;
	unsigned types; /* T_* mask; 0 unset */
};

struct mcond {
	mpath path;
	struct massert a;
};

struct mscope {
	char *kind; /* NULL: every document */
	uint32_t klen;
	mpath prefix;
};

/*
 * when: one map of conditions that must all hold, or a list of such maps of
 * which one must hold. The conditions of every alternative sit in one array;
 * alternative i ends before conds[ends[i]].
 */
struct gg_mwhen {
	struct mcond *conds;
	size_t nconds;
	size_t *ends;
	size_t nalts;
};

struct gg_mrule {
	char *id;
	gg_severity sev;
	unsigned line;
	gg_mwhen *when;
	struct mscope *within;
	size_t nwithin;
	mpath *paths;
	size_t npaths;
	struct massert a;
	char *message;
};

/* ---- paths ---- */

static bool key_plain_char(char c)
{
	return c != '.' && c != '[' && c != ']' && c != '\0';
}

static void path_clear(mpath *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->segs[i].key);
	free(p->segs);
	free(p->text);
	memset(p, 0, sizeof(*p));
}

static struct seg *push_seg(mpath *p, enum seg_type type)
{
	p->segs = gg_reallocarray(p->segs, p->n + 1, sizeof(*p->segs));
	struct seg *s = &p->segs[p->n++];
	memset(s, 0, sizeof(*s));
	s->type = type;
	return s;
}

/* Parse `text` into p; on error returns -1 and an allocated *err. */
static int path_parse(mpath *p, const char *text, char **err)
{
	memset(p, 0, sizeof(*p));
	const char *s = text;
	size_t len = strlen(text);
	const char *why = NULL;
	if (len == 0) {
		*err = gg_strdup("empty path");
		return -1;
	}
	if (len > MAX_PATH_LEN) {
		*err = gg_printf("path longer than %d characters", MAX_PATH_LEN);
		return -1;
	}
	bool need_seg = true; /* after a '.' or at the start */
	while (*s) {
		if (p->n >= MAX_PATH_SEGS) {
			why = "too many segments";
			goto bad;
		}
		if (*s == '[') {
			if (need_seg && p->n > 0) {
				why = "'[' right after '.'";
				goto bad;
			}
			s++;
			if (s[0] == '*' && s[1] == ']') {
				push_seg(p, SEG_EACH);
				s += 2;
			} else if (*s >= '0' && *s <= '9') {
				uint64_t v = 0;
				while (*s >= '0' && *s <= '9') {
					v = v * 10 + (uint64_t)(*s - '0');
					if (v > UINT32_MAX) {
						why = "index too large";
						goto bad;
					}
					s++;
				}
				if (*s != ']') {
					why = "expected ']'";
					goto bad;
				}
				s++;
				push_seg(p, SEG_INDEX)->index = (uint32_t)v;
			} else {
				why = "expected a number or '*' inside [ ]";
				goto bad;
			}
			need_seg = false;
		} else if (*s == '.') {
			if (need_seg) {
				why = "empty key";
				goto bad;
			}
			need_seg = true;
			s++;
			if (*s == '\0') {
				why = "path ends with '.'";
				goto bad;
			}
		} else {
			if (!need_seg) {
				why = "expected '.' or '['";
				goto bad;
			}
			if (*s == '"') {
				/* A quoted key holds dots and brackets:
				 * metadata.labels."app.k8s.io/name". */
				gg_buf b = GG_BUF_INIT;
				s++;
				while (*s && *s != '"') {
					if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
						s++;
					gg_buf_putc(&b, *s++);
				}
				if (*s != '"') {
					gg_buf_free(&b);
					why = "unterminated quoted key";
					goto bad;
				}
				s++;
				struct seg *g = push_seg(p, SEG_KEY);
				g->klen = (uint32_t)b.len;
				g->key = gg_buf_detach(&b);
			} else if (*s == '*' && (s[1] == '.' || s[1] == '[' || s[1] == '\0')) {
				push_seg(p, SEG_VALUES);
				s++;
			} else if (*s == ']') {
				why = "unexpected ']'";
				goto bad;
			} else {
				const char *e = s;
				while (key_plain_char(*e))
					e++;
				struct seg *g = push_seg(p, SEG_KEY);
				g->key = gg_strndup(s, (size_t)(e - s));
				g->klen = (uint32_t)(e - s);
				s = e;
			}
			need_seg = false;
		}
	}
	p->text = gg_strdup(text);
	return 0;
bad:
	*err = gg_printf("%s at character %zu", why, (size_t)(s - text) + 1);
	path_clear(p);
	return -1;
}

/* Append a path's segments from `from` on, in path syntax. */
static void path_tail(gg_buf *b, const mpath *p, size_t from)
{
	for (size_t i = from; i < p->n; i++) {
		const struct seg *s = &p->segs[i];
		switch (s->type) {
		case SEG_KEY: {
			if (i > from)
				gg_buf_putc(b, '.');
			bool plain = s->klen > 0 && strlen(s->key) == s->klen;
			for (uint32_t k = 0; plain && k < s->klen; k++)
				if (!key_plain_char(s->key[k]) || s->key[k] == '"')
					plain = false;
			if (plain && strcmp(s->key, "*") != 0) {
				gg_buf_put(b, s->key, s->klen);
			} else {
				gg_buf_putc(b, '"');
				for (uint32_t k = 0; k < s->klen; k++) {
					if (s->key[k] == '"' || s->key[k] == '\\')
						gg_buf_putc(b, '\\');
					gg_buf_putc(b, s->key[k]);
				}
				gg_buf_putc(b, '"');
			}
			break;
		}
		case SEG_VALUES:
			if (i > from)
				gg_buf_putc(b, '.');
			gg_buf_putc(b, '*');
			break;
		case SEG_INDEX:
			gg_buf_printf(b, "[%u]", s->index);
			break;
		case SEG_EACH:
			gg_buf_puts(b, "[*]");
			break;
		}
	}
}

/* Merges of merges are followed this deep: a chain of anchors must not exhaust the stack. */
#define MAX_MERGE_DEPTH 16

static const gg_ynode *map_find(const gg_ynode *map, const char *key, uint32_t klen, int depth);

/*
 * YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`), common in Compose files:
 * a key set only through a merge is still the service's key, so a rule cannot
 * be dodged by moving `privileged: true` into an anchor.
 */
static const gg_ynode *merged_lookup(const gg_ynode *map, const char *key, uint32_t klen, int depth)
{
	if (depth >= MAX_MERGE_DEPTH)
		return NULL;
	for (uint32_t i = 0; i < map->n; i++) {
		const gg_ynode *k = map->items[2 * i], *v = map->items[2 * i + 1];
		if (!(k->type == GG_Y_STRING && k->len == 2 && k->str[0] == '<' &&
		      k->str[1] == '<'))
			continue;
		if (v->type == GG_Y_MAP)
			return map_find(v, key, klen, depth + 1);
		if (v->type == GG_Y_SEQ)
			for (uint32_t j = 0; j < v->n; j++) {
				const gg_ynode *c =
				    v->items[j]->type == GG_Y_MAP
				        ? map_find(v->items[j], key, klen, depth + 1)
				        : NULL;
				if (c)
					return c;
			}
	}
	return NULL;
}

static const gg_ynode *map_find(const gg_ynode *map, const char *key, uint32_t klen, int depth)
{
	/* Last one wins, as in gg_ymap_get; a repeated key is reported separately. */
	for (uint32_t i = map->n; i-- > 0;) {
		const gg_ynode *k = map->items[2 * i];
		if (k->str && k->len == klen && memcmp(k->str, key, klen) == 0)
			return map->items[2 * i + 1];
	}
	return merged_lookup(map, key, klen, depth);
}

static const gg_ynode *map_lookup(const gg_ynode *map, const char *key, uint32_t klen)
{
	return map_find(map, key, klen, 0);
}

struct walker {
	const mpath *p;
	/* A node the whole path reaches. */
	void (*visit)(struct walker *w, const gg_ynode *n);
	/* Segment `seg` could not be followed from node n (the deepest that exists). */
	void (*missing)(struct walker *w, const gg_ynode *n, size_t seg);
	void *ctx;
	size_t reached;
};

static void walk(struct walker *w, const gg_ynode *n, size_t i)
{
	if (i == w->p->n) {
		w->reached++;
		w->visit(w, n);
		return;
	}
	const struct seg *s = &w->p->segs[i];
	switch (s->type) {
	case SEG_KEY: {
		const gg_ynode *c = n->type == GG_Y_MAP ? map_lookup(n, s->key, s->klen) : NULL;
		if (c)
			walk(w, c, i + 1);
		else if (w->missing)
			w->missing(w, n, i);
		return;
	}
	case SEG_INDEX:
		if (n->type == GG_Y_SEQ && s->index < n->n)
			walk(w, n->items[s->index], i + 1);
		else if (w->missing)
			w->missing(w, n, i);
		return;
	case SEG_EACH:
		if (n->type == GG_Y_SEQ) {
			for (uint32_t k = 0; k < n->n; k++)
				walk(w, n->items[k], i + 1);
		} else if (w->missing) {
			w->missing(w, n, i);
		}
		return;
	case SEG_VALUES:
		if (n->type == GG_Y_MAP) {
			for (uint32_t k = 0; k < n->n; k++)
				walk(w, n->items[2 * k + 1], i + 1);
		} else if (n->type == GG_Y_SEQ) {
			for (uint32_t k = 0; k < n->n; k++)
				walk(w, n->items[k], i + 1);
		} else if (w->missing) {
			w->missing(w, n, i);
		}
		return;
	}
}

/* ---- values and assertions ---- */

static bool is_number(gg_ytype t)
{
	return t == GG_Y_INT || t == GG_Y_FLOAT;
}

static void mval_set(struct mval *v, const gg_ynode *n)
{
	v->type = n->type;
	v->str = gg_strndup(n->str ? n->str : "", n->len);
	v->len = n->len;
	v->num = n->num;
	v->boolean = n->boolean;
}

static void mvals_free(struct mval *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].str);
	free(v);
}

/*
 * Numbers, booleans and nulls compare by value (0x1F equals 31, True equals
 * true); anything else by its text, so `equals: "80"` and `equals: 80` both
 * match a port written either way.
 */
static bool mval_eq(const struct mval *v, const gg_ynode *n)
{
	if (n->type == GG_Y_MAP || n->type == GG_Y_SEQ)
		return false;
	if (is_number(v->type) && is_number(n->type))
		return v->num == n->num;
	if (v->type == GG_Y_BOOL && n->type == GG_Y_BOOL)
		return v->boolean == n->boolean;
	if (v->type == GG_Y_NULL && n->type == GG_Y_NULL)
		return true;
	return n->str && v->len == n->len && memcmp(v->str, n->str, n->len) == 0;
}

static unsigned type_bit(gg_ytype t)
{
	switch (t) {
	case GG_Y_STRING:
		return T_STRING;
	case GG_Y_INT:
	case GG_Y_FLOAT:
		return T_NUMBER;
	case GG_Y_BOOL:
		return T_BOOLEAN;
	case GG_Y_NULL:
		return T_NULL;
	case GG_Y_MAP:
		return T_MAP;
	case GG_Y_SEQ:
		return T_LIST;
	}
	return 0;
}

static void massert_clear(struct massert *a)
{
	if (a->has_equals)
		free(a->equals.str);
	mvals_free(a->one_of, a->n_one_of);
	mvals_free(a->not_one_of, a->n_not_one_of);
	gg_regex_free(a->matches);
	gg_regex_free(a->not_matches);
	memset(a, 0, sizeof(*a));
	a->exists = -1;
}

/*
 * Whether node n (which exists) passes a pattern assertion: 1 yes, 0 no, -1
 * the match could not be decided (*failed: the pattern), never "passes".
 */
static int pattern_ok(gg_regex *re, bool want, const gg_ynode *n, gg_regex **failed)
{
	bool scalar = gg_yis_scalar(n) && n->str;
	if (re == NULL || (!scalar && !want))
		return 1;
	if (!scalar)
		return 0;
	int m = gg_regex_exec(re, n->str, n->len);
	if (m == GG_REGEX_ERROR) {
		*failed = re;
		return -1;
	}
	return (m == GG_REGEX_MATCH) == want;
}

/* True when node n (which exists) passes every assertion in a; *failed as above. */
static bool massert_ok(const struct massert *a, const gg_ynode *n, gg_regex **failed)
{
	if (a->exists == 0)
		return false;
	if (a->has_equals && !mval_eq(&a->equals, n))
		return false;
	if (a->n_one_of) {
		bool hit = false;
		for (size_t i = 0; i < a->n_one_of && !hit; i++)
			hit = mval_eq(&a->one_of[i], n);
		if (!hit)
			return false;
	}
	for (size_t i = 0; i < a->n_not_one_of; i++)
		if (mval_eq(&a->not_one_of[i], n))
			return false;
	if (pattern_ok(a->matches, true, n, failed) != 1 ||
	    pattern_ok(a->not_matches, false, n, failed) != 1)
		return false;
	if ((a->has_min || a->has_max) && !is_number(n->type))
		return false;
	if (a->has_min && !(n->num >= a->min))
		return false;
	if (a->has_max && !(n->num <= a->max))
		return false;
	if (a->types && !(a->types & type_bit(n->type)))
		return false;
	return true;
}

/* Only exists (or nothing) asserted: nothing to check on a node that is there. */
static bool massert_only_exists(const struct massert *a)
{
	return !a->has_equals && !a->n_one_of && !a->n_not_one_of && !a->matches &&
	       !a->not_matches && !a->has_min && !a->has_max && !a->types;
}

/*
 * Describe a node the way users see it: strings quoted, other scalars as
 * written, "a map" / "a list"; control characters escaped, long text cut.
 */
static void describe(gg_buf *b, const gg_ynode *n)
{
	if (n->type == GG_Y_MAP) {
		gg_buf_puts(b, "a map");
		return;
	}
	if (n->type == GG_Y_SEQ) {
		gg_buf_puts(b, "a list");
		return;
	}
	bool quote = n->type == GG_Y_STRING;
	if (quote)
		gg_buf_putc(b, '"');
	const char *s = n->str ? n->str : "";
	uint32_t len = n->str ? n->len : 0;
	uint32_t shown = len > MAX_DESCRIBE ? MAX_DESCRIBE : len;
	for (uint32_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		/* Pushed text must never start a new line in the hook's output. */
		if (c == '"' || c == '\\')
			gg_buf_printf(b, "\\%c", c);
		else if (c == '\n')
			gg_buf_puts(b, "\\n");
		else if (c == '\t')
			gg_buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			gg_buf_printf(b, "\\x%02x", c);
		else
			gg_buf_putc(b, (char)c);
	}
	if (shown < len)
		gg_buf_puts(b, "...");
	if (quote)
		gg_buf_putc(b, '"');
}

/* ---- checking ---- */

struct check {
	const gg_mrule *rule;
	gg_severity sev;
	const char *file;
	gg_report *r;
	size_t *budget;
	size_t dropped;
	const gg_ynode *doc;
	/* The node a `within` scope reached, and the scope's path (NULL: the document). */
	const gg_ynode *scope;
	const mpath *scope_path;
};

/* A name from the document, shown on one line and cut when long; NULL when absent. */
static char *doc_text(const gg_ynode *n)
{
	if (!gg_yis_scalar(n) || n->type == GG_Y_NULL || !n->str || !n->len)
		return NULL;
	gg_buf b = GG_BUF_INIT;
	uint32_t shown = n->len > MAX_DESCRIBE ? MAX_DESCRIBE : n->len;
	for (uint32_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)n->str[i];
		if (c < 0x20 || c == 0x7f)
			gg_buf_printf(&b, "\\x%02x", c);
		else
			gg_buf_putc(&b, (char)c);
	}
	if (shown < n->len)
		gg_buf_puts(&b, "...");
	return gg_buf_detach(&b);
}

/*
 * What a scope node is, for messages: the list it sits in names it
 * (containers: "container"), with its `name`; NULL for other scopes.
 */
static void describe_scope(gg_buf *b, const struct check *c)
{
	if (c->scope == NULL || c->scope->type != GG_Y_MAP)
		return;
	char *name = doc_text(gg_ymap_get(c->scope, "name"));
	const char *list = NULL;
	for (size_t i = c->scope_path->n; i-- > 0;)
		if (c->scope_path->segs[i].type == SEG_KEY) {
			list = c->scope_path->segs[i].key;
			break;
		}
	if (name && list) {
		const char *what = !strcmp(list, "containers")            ? "container"
		                   : !strcmp(list, "initContainers")      ? "init container"
		                   : !strcmp(list, "ephemeralContainers") ? "ephemeral container"
		                                                          : list;
		gg_buf_printf(b, "%s \"", what);
		for (const char *p = name; *p; p++)
			gg_buf_printf(b, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
		gg_buf_puts(b, "\": ");
	}
	free(name);
}

static void report_at(struct check *c, const gg_ynode *n, const char *what, gg_buf *detail)
{
	if (*c->budget == 0) {
		c->dropped++;
		return;
	}
	(*c->budget)--;
	const gg_ynode *meta = gg_ymap_get(c->doc, "metadata");
	char *kind = doc_text(gg_ymap_get(c->doc, "kind"));
	char *name = doc_text(gg_ymap_get(meta, "name"));
	char *ns = doc_text(gg_ymap_get(meta, "namespace"));
	/* The object first, as kubectl names it: "Deployment/web: container \"api\": ". */
	gg_buf obj = GG_BUF_INIT;
	if (kind && name)
		gg_buf_printf(&obj, "%s/%s: ", kind, name);
	else if (kind)
		gg_buf_printf(&obj, "%s: ", kind);
	describe_scope(&obj, c);
	gg_loc loc = {c->file, n->line, n->col, NULL, NULL, kind, name, ns, c->rule->message};
	gg_report_add(c->r, c->rule->id, c->sev, &loc, "%s%s (%s %s)", obj.ptr ? obj.ptr : "",
	              c->rule->message, what, detail->ptr ? detail->ptr : "");
	gg_buf_free(&obj);
	free(kind);
	free(name);
	free(ns);
}

static void rule_visit(struct walker *w, const gg_ynode *n)
{
	struct check *c = w->ctx;
	gg_regex *failed = NULL;
	if (massert_ok(&c->rule->a, n, &failed))
		return;
	gg_buf b = GG_BUF_INIT;
	describe(&b, n);
	if (failed)
		gg_buf_printf(&b, "; the pattern '%s' could not be evaluated: %s",
		              gg_regex_source(failed), gg_regex_error(failed));
	report_at(c, n, "found", &b);
	gg_buf_free(&b);
}

static void rule_missing(struct walker *w, const gg_ynode *n, size_t seg)
{
	struct check *c = w->ctx;
	if (c->rule->a.exists != 1)
		return;
	gg_buf b = GG_BUF_INIT;
	path_tail(&b, w->p, seg);
	report_at(c, n, "missing", &b);
	gg_buf_free(&b);
}

static void check_paths(struct check *c, const gg_ynode *base)
{
	for (size_t i = 0; i < c->rule->npaths; i++) {
		struct walker w = {&c->rule->paths[i], rule_visit, rule_missing, c, 0};
		walk(&w, base, 0);
	}
}

static void scope_visit(struct walker *w, const gg_ynode *n)
{
	struct check *c = w->ctx;
	c->scope = n;
	c->scope_path = w->p;
	check_paths(c, n);
	c->scope = NULL;
}

struct cond_state {
	const struct massert *a;
	bool bad;
};

static void cond_visit(struct walker *w, const gg_ynode *n)
{
	struct cond_state *st = w->ctx;
	gg_regex *failed = NULL;
	/* A condition that cannot be decided holds: the rule applies (fails closed). */
	if (!massert_ok(st->a, n, &failed) && failed == NULL)
		st->bad = true;
}

static void count_visit(struct walker *w, const gg_ynode *n)
{
	(void)w;
	(void)n;
}

/*
 * A condition holds when its path reaches something and every node reached
 * passes; {exists: false} holds when the path reaches nothing.
 */
static bool cond_holds(const struct mcond *c, const gg_ynode *doc)
{
	struct cond_state st = {&c->a, false};
	struct walker w = {&c->path, cond_visit, NULL, &st, 0};
	if (c->a.exists == 0)
		w.visit = count_visit;
	walk(&w, doc, 0);
	if (c->a.exists == 0)
		return w.reached == 0;
	return w.reached > 0 && !st.bad;
}

bool gg_mwhen_holds(const gg_mwhen *w, const gg_ynode *doc)
{
	size_t start = 0;
	for (size_t a = 0; a < w->nalts; a++) {
		bool ok = true;
		for (size_t i = start; i < w->ends[a] && ok; i++)
			ok = cond_holds(&w->conds[i], doc);
		if (ok)
			return true;
		start = w->ends[a];
	}
	return false;
}

size_t gg_mrule_check(const gg_mrule *rule, gg_severity sev, const gg_ynode *doc, const char *path,
                      size_t *budget, gg_report *r)
{
	if (doc == NULL || (rule->when && !gg_mwhen_holds(rule->when, doc)))
		return 0;
	struct check c = {rule, sev, path, r, budget, 0, doc, NULL, NULL};
	if (rule->nwithin == 0) {
		check_paths(&c, doc);
		return c.dropped;
	}
	const gg_ynode *kind = gg_ymap_get(doc, "kind");
	if (kind && (!gg_yis_scalar(kind) || !kind->str))
		kind = NULL;
	for (size_t i = 0; i < rule->nwithin; i++) {
		const struct mscope *s = &rule->within[i];
		if (s->kind &&
		    !(kind && kind->len == s->klen && !memcmp(kind->str, s->kind, s->klen)))
			continue;
		struct walker w = {&s->prefix, scope_visit, NULL, &c, 0};
		walk(&w, doc, 0);
	}
	return c.dropped;
}

/* ---- loading ---- */

static bool is_text(const gg_ynode *n)
{
	return n && n->type == GG_Y_STRING && n->str;
}

static int load_path(gg_yload *l, mpath *p, const gg_ynode *n)
{
	if (!gg_yis_scalar(n) || !n->str || n->type == GG_Y_NULL) {
		gg_yload_err(l, n, "a path must be a string");
		return -1;
	}
	char *err = NULL;
	if (path_parse(p, n->str, &err) < 0) {
		gg_yload_err(l, n, "bad path \"%s\": %s", n->str, err);
		free(err);
		return -1;
	}
	return 0;
}

static int load_scalar_list(gg_yload *l, struct mval **out, size_t *nout, const gg_ynode *n,
                            const char *name)
{
	if (n->type != GG_Y_SEQ || n->n == 0) {
		gg_yload_err(l, n, "%s must be a non-empty list of values", name);
		return -1;
	}
	if (n->n > MAX_LIST_ITEMS) {
		gg_yload_err(l, n, "%s has more than %d values", name, MAX_LIST_ITEMS);
		return -1;
	}
	struct mval *v = gg_calloc(n->n, sizeof(*v));
	for (uint32_t i = 0; i < n->n; i++) {
		if (!gg_yis_scalar(n->items[i])) {
			gg_yload_err(l, n->items[i], "%s takes plain values, not a map or a list",
			             name);
			mvals_free(v, i);
			return -1;
		}
		mval_set(&v[i], n->items[i]);
	}
	*out = v;
	*nout = n->n;
	return 0;
}

static int load_number(gg_yload *l, double *out, const gg_ynode *n, const char *name)
{
	if (!is_number(n->type) || isnan(n->num)) {
		gg_yload_err(l, n, "%s must be a number", name);
		return -1;
	}
	*out = n->num;
	return 0;
}

static int load_type(gg_yload *l, unsigned *out, const gg_ynode *n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {{"string", T_STRING}, {"number", T_NUMBER}, {"boolean", T_BOOLEAN},
	             {"map", T_MAP},       {"list", T_LIST},     {"null", T_NULL}};
	const gg_ynode *one = n;
	uint32_t count = 1;
	if (n->type == GG_Y_SEQ) {
		count = n->n;
		if (count == 0) {
			gg_yload_err(l, n, "type must name at least one type");
			return -1;
		}
	}
	unsigned mask = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (n->type == GG_Y_SEQ)
			one = n->items[i];
		unsigned bit = 0;
		for (size_t k = 0; k < GG_ARRAY_LEN(names) && gg_yis_scalar(one); k++)
			if (gg_yis(one, names[k].name))
				bit = names[k].bit;
		if (!bit) {
			gg_yload_err(
			    l, one,
			    "unknown type (expected string, number, boolean, map, list or null)");
			return -1;
		}
		mask |= bit;
	}
	*out = mask;
	return 0;
}

/* An assertion object: {exists: true}, {matches: '...', type: string}, ... */
static int load_assert(gg_yload *l, struct massert *a, const gg_ynode *n)
{
	memset(a, 0, sizeof(*a));
	a->exists = -1;
	if (n->type != GG_Y_MAP || n->n == 0) {
		gg_yload_err(
		    l, n, "an assertion must be a map such as {exists: true} or {matches: '...'}");
		return -1;
	}
	unsigned before = l->errors;
	for (uint32_t i = 0; i < n->n; i++) {
		const gg_ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		if (gg_yis(k, "exists")) {
			if (v->type != GG_Y_BOOL)
				gg_yload_err(l, v, "exists must be true or false");
			else
				a->exists = v->boolean ? 1 : 0;
		} else if (gg_yis(k, "equals")) {
			if (!gg_yis_scalar(v)) {
				gg_yload_err(l, v,
				             "equals takes a plain value, not a map or a list");
			} else {
				mval_set(&a->equals, v);
				a->has_equals = true;
			}
		} else if (gg_yis(k, "one_of")) {
			(void)load_scalar_list(l, &a->one_of, &a->n_one_of, v, "one_of");
		} else if (gg_yis(k, "not_one_of")) {
			(void)load_scalar_list(l, &a->not_one_of, &a->n_not_one_of, v,
			                       "not_one_of");
		} else if (gg_yis(k, "matches")) {
			(void)gg_yload_regex(l, v, "matches", &a->matches);
		} else if (gg_yis(k, "not_matches")) {
			(void)gg_yload_regex(l, v, "not_matches", &a->not_matches);
		} else if (gg_yis(k, "min")) {
			a->has_min = load_number(l, &a->min, v, "min") == 0;
		} else if (gg_yis(k, "max")) {
			a->has_max = load_number(l, &a->max, v, "max") == 0;
		} else if (gg_yis(k, "type")) {
			(void)load_type(l, &a->types, v);
		} else {
			gg_yload_err(l, k,
			             "unknown assertion \"%s\" (expected exists, equals, one_of, "
			             "not_one_of, matches, not_matches, min, max or type)",
			             k->str ? k->str : "?");
		}
	}
	if (a->exists == 0 && !massert_only_exists(a))
		gg_yload_err(l, n, "exists: false cannot be combined with other assertions");
	return l->errors > before ? -1 : 0;
}

/* One map of conditions, appended to w as one alternative. */
static int load_when_map(gg_yload *l, gg_mwhen *w, const gg_ynode *n)
{
	if (n->type != GG_Y_MAP || n->n == 0) {
		gg_yload_err(l, n,
		             "when must be a map of path: value, path: [values] or path: "
		             "{assertion}, or a list of such maps (any one holds)");
		return -1;
	}
	w->conds = gg_reallocarray(w->conds, w->nconds + n->n, sizeof(*w->conds));
	unsigned before = l->errors;
	for (uint32_t i = 0; i < n->n; i++) {
		const gg_ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		struct mcond *c = &w->conds[w->nconds];
		memset(c, 0, sizeof(*c));
		c->a.exists = -1;
		if (load_path(l, &c->path, k) < 0)
			continue;
		int rc;
		if (v->type == GG_Y_MAP) {
			rc = load_assert(l, &c->a, v);
		} else if (v->type == GG_Y_SEQ) {
			rc = load_scalar_list(l, &c->a.one_of, &c->a.n_one_of, v, "a when list");
		} else {
			mval_set(&c->a.equals, v);
			c->a.has_equals = true;
			rc = 0;
		}
		if (rc < 0) {
			massert_clear(&c->a);
			path_clear(&c->path);
			continue;
		}
		w->nconds++;
	}
	w->ends = gg_reallocarray(w->ends, w->nalts + 1, sizeof(*w->ends));
	w->ends[w->nalts++] = w->nconds;
	return l->errors > before ? -1 : 0;
}

int gg_mwhen_load(gg_mwhen **out, gg_yload *l, const gg_ynode *n)
{
	gg_mwhen *w = gg_calloc(1, sizeof(*w));
	unsigned before = l->errors;
	*out = NULL;
	if (n->type == GG_Y_SEQ && n->n > 0 && n->n <= MAX_LIST_ITEMS) {
		for (uint32_t i = 0; i < n->n; i++)
			(void)load_when_map(l, w, n->items[i]);
	} else if (n->type == GG_Y_SEQ) {
		gg_yload_err(l, n, "when: a list holds 1 to %d maps of conditions", MAX_LIST_ITEMS);
	} else {
		(void)load_when_map(l, w, n);
	}
	if (l->errors > before) {
		gg_mwhen_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

void gg_mwhen_free(gg_mwhen *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nconds; i++) {
		path_clear(&w->conds[i].path);
		massert_clear(&w->conds[i].a);
	}
	free(w->conds);
	free(w->ends);
	free(w);
}

static int load_when(gg_yload *l, gg_mrule *r, const gg_ynode *n)
{
	if (r->when) {
		gg_yload_err(l, n, "when is given twice");
		return -1;
	}
	return gg_mwhen_load(&r->when, l, n);
}

static void add_scope(gg_mrule *r, const char *kind, mpath *prefix)
{
	r->within = gg_reallocarray(r->within, r->nwithin + 1, sizeof(*r->within));
	struct mscope *s = &r->within[r->nwithin++];
	s->kind = kind ? gg_strdup(kind) : NULL;
	s->klen = kind ? (uint32_t)strlen(kind) : 0;
	s->prefix = *prefix;
}

static int load_scope_paths(gg_yload *l, gg_mrule *r, const char *kind, const gg_ynode *n)
{
	uint32_t count = n->type == GG_Y_SEQ ? n->n : 1;
	if (n->type == GG_Y_SEQ && count == 0) {
		gg_yload_err(l, n, "within needs at least one path");
		return -1;
	}
	int rc = 0;
	for (uint32_t i = 0; i < count; i++) {
		mpath p;
		if (load_path(l, &p, n->type == GG_Y_SEQ ? n->items[i] : n) < 0) {
			rc = -1;
			continue;
		}
		add_scope(r, kind, &p);
	}
	return rc;
}

/*
 * within: PATH | [PATH...] — the rule's paths start at every node these reach;
 * within: {KIND: PATH | [PATH...]} — the same, per value of the document's
 * `kind`; documents of other kinds are not checked by the rule.
 */
static int load_within(gg_yload *l, gg_mrule *r, const gg_ynode *n)
{
	if (n->type != GG_Y_MAP)
		return load_scope_paths(l, r, NULL, n);
	if (n->n == 0) {
		gg_yload_err(l, n, "within needs at least one kind");
		return -1;
	}
	int rc = 0;
	for (uint32_t i = 0; i < n->n; i++) {
		const gg_ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		if (!is_text(k) || k->len == 0) {
			gg_yload_err(l, k, "within: keys are kinds such as Deployment");
			rc = -1;
			continue;
		}
		if (load_scope_paths(l, r, k->str, v) < 0)
			rc = -1;
	}
	return rc;
}

static bool valid_id(const char *s, size_t len)
{
	if (len == 0 || len > MAX_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_' || c == '.'));
		if (!ok)
			return false;
	}
	return true;
}

/* path: PATH | [PATH...] */
static void load_rule_paths(gg_yload *l, gg_mrule *r, const gg_ynode *n)
{
	uint32_t count = n->type == GG_Y_SEQ ? n->n : 1;
	if (r->paths) {
		gg_yload_err(l, n, "path is given twice");
		return;
	}
	if (count == 0) {
		gg_yload_err(l, n, "path needs at least one entry");
		return;
	}
	r->paths = gg_calloc(count, sizeof(*r->paths));
	for (uint32_t i = 0; i < count; i++)
		if (load_path(l, &r->paths[r->npaths], n->type == GG_Y_SEQ ? n->items[i] : n) == 0)
			r->npaths++;
}
static const char *const rule_keys[] = {"id",   "severity", "when",    "within",
                                        "path", "assert",   "message", NULL};

int gg_mrule_parse(gg_mrule **out, const char *file, const gg_ynode *node, gg_diag *diag)
{
	gg_yload l = {file, diag, 0};
	gg_mrule *r = gg_calloc(1, sizeof(*r));
	r->a.exists = -1;
	r->line = node ? node->line : 1;
	*out = NULL;
	if (node == NULL || node->type != GG_Y_MAP) {
		gg_yload_err(&l, node, "a rule must be a map with id, path and assert");
		goto done;
	}
	const gg_ynode *id = NULL, *path = NULL, *as = NULL, *msg = NULL;
	for (uint32_t i = 0; i < node->n; i++) {
		const gg_ynode *k = node->items[2 * i], *v = node->items[2 * i + 1];
		if (gg_yis(k, "id")) {
			id = v;
		} else if (gg_yis(k, "severity")) {
			if (gg_yis(v, "error"))
				r->sev = GG_SEV_ERROR;
			else if (gg_yis(v, "warning"))
				r->sev = GG_SEV_WARNING;
			else
				gg_yload_err(&l, v, "severity must be error or warning");
		} else if (gg_yis(k, "when")) {
			(void)load_when(&l, r, v);
		} else if (gg_yis(k, "within")) {
			(void)load_within(&l, r, v);
		} else if (gg_yis(k, "path")) {
			path = v;
			load_rule_paths(&l, r, v);
		} else if (gg_yis(k, "assert")) {
			if (as)
				gg_yload_err(&l, k, "assert is given twice");
			else
				(void)load_assert(&l, &r->a, v);
			as = v;
		} else if (gg_yis(k, "message")) {
			msg = v;
		} else {
			gg_yload_unknown_key(&l, k, "a rule", rule_keys);
		}
	}
	if (id == NULL)
		gg_yload_err(&l, node, "a rule needs an id");
	else if (!is_text(id) || !valid_id(id->str, id->len))
		gg_yload_err(
		    &l, id, "a rule id is letters, digits, '-', '_' and '.', at most %d characters",
		    MAX_ID_LEN);
	else
		r->id = gg_strdup(id->str);
	if (path == NULL)
		gg_yload_err(&l, node, "a rule needs a path");
	if (as == NULL)
		gg_yload_err(&l, node, "a rule needs an assert");
	if (msg && (!gg_yis_scalar(msg) || !msg->str || msg->type == GG_Y_NULL || !msg->len)) {
		gg_yload_err(&l, msg, "message must be text");
	} else if (msg) {
		r->message = gg_strdup(msg->str);
	} else if (r->npaths) {
		r->message = gg_printf("%s fails rule %s", r->paths[0].text, r->id ? r->id : "?");
	}
done:
	if (l.errors) {
		gg_mrule_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void gg_mrule_free(gg_mrule *r)
{
	if (r == NULL)
		return;
	gg_mwhen_free(r->when);
	for (size_t i = 0; i < r->nwithin; i++) {
		free(r->within[i].kind);
		path_clear(&r->within[i].prefix);
	}
	free(r->within);
	for (size_t i = 0; i < r->npaths; i++)
		path_clear(&r->paths[i]);
	free(r->paths);
	massert_clear(&r->a);
	free(r->id);
	free(r->message);
	free(r);
}

const char *gg_mrule_id(const gg_mrule *r)
{
	return r->id;
}

gg_severity gg_mrule_severity(const gg_mrule *r)
{
	return r->sev;
}

unsigned gg_mrule_line(const gg_mrule *r)
{
	return r->line;
}
