#include "gitgate/ytree.h"
#include "gitgate/util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const gg_ylimits gg_ylimits_default = {
    .max_bytes = 8u << 20,
    .max_depth = 64,
    .max_nodes = 1000000,
};

#define MAX_PROBLEMS 100

/* Nodes, strings and child arrays live in an arena freed at once. */
struct chunk {
	struct chunk *next;
	size_t used, cap;
	char data[];
};

struct frame {
	gg_ynode *node;
	size_t first; /* index of its first child in the pending vector */
};

struct anchor {
	char *name;
	gg_ynode *node;
};

struct gg_yfile {
	struct chunk *chunks;
	gg_ynode **docs;
	size_t ndocs, docs_cap;
	gg_yproblem *problems;
	size_t nproblems, problems_cap;
	bool truncated_problems;

	/* Builder state, only while parsing. */
	gg_ylimits lim;
	struct frame *stack;
	size_t depth, stack_cap;
	gg_ynode **pending;
	size_t npending, pending_cap;
	gg_ynode *root;
	uint64_t nodes;
	struct anchor *anchors; /* open-addressing hash */
	size_t anchors_cap, nanchors;
	bool failed;
};

static void *arena_alloc(gg_yfile *f, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct chunk *c = f->chunks;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		c = gg_malloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		c->next = f->chunks;
		f->chunks = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

static const char *arena_strndup(gg_yfile *f, const char *s, size_t n)
{
	/* Zero the padding too: SIMD matchers (PCRE2's JIT) read whole words past the NUL. */
	size_t padded = (n + 1 + 7) & ~(size_t)7;
	char *p = arena_alloc(f, padded);
	memcpy(p, s, n);
	memset(p + n, 0, padded - n);
	return p;
}

static void problem(gg_yfile *f, const char *rule, uint32_t line, uint32_t col, const char *fmt,
                    ...) GG_PRINTF(5, 6);

static void problem(gg_yfile *f, const char *rule, uint32_t line, uint32_t col, const char *fmt,
                    ...)
{
	if (f->nproblems >= MAX_PROBLEMS) {
		f->truncated_problems = true;
		return;
	}
	if (f->nproblems == f->problems_cap) {
		f->problems_cap = f->problems_cap ? 2 * f->problems_cap : 4;
		f->problems = gg_reallocarray(f->problems, f->problems_cap, sizeof(*f->problems));
	}
	va_list ap;
	va_start(ap, fmt);
	gg_yproblem *p = &f->problems[f->nproblems++];
	p->rule = rule;
	p->line = line;
	p->col = col;
	p->msg = gg_vprintf(fmt, ap);
	va_end(ap);
}

static void fail(gg_yfile *f, const char *rule, uint32_t line, uint32_t col, const char *msg)
{
	if (!f->failed)
		problem(f, rule, line, col, "%s", msg);
	f->failed = true;
}

/* ---- builder shared by the YAML and JSON front ends ---- */

static gg_ynode *new_node(gg_yfile *f, gg_ytype type, uint32_t line, uint32_t col)
{
	if (++f->nodes > f->lim.max_nodes) {
		char *m = gg_printf("more than %llu nodes", (unsigned long long)f->lim.max_nodes);
		fail(f, "limit", line, col, m);
		free(m);
		return NULL;
	}
	gg_ynode *n = arena_alloc(f, sizeof(*n));
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->line = line;
	n->col = col;
	n->weight = 1;
	return n;
}

static void attach(gg_yfile *f, gg_ynode *n)
{
	if (f->depth == 0) {
		f->root = n;
		return;
	}
	if (f->npending == f->pending_cap) {
		f->pending_cap = f->pending_cap ? 2 * f->pending_cap : 256;
		f->pending = gg_reallocarray(f->pending, f->pending_cap, sizeof(*f->pending));
	}
	f->pending[f->npending++] = n;
}

static int open_container(gg_yfile *f, gg_ytype type, uint32_t line, uint32_t col, gg_ynode **out)
{
	if (f->depth >= f->lim.max_depth) {
		char *m = gg_printf("nesting deeper than %u levels", f->lim.max_depth);
		fail(f, "limit", line, col, m);
		free(m);
		return -1;
	}
	gg_ynode *n = new_node(f, type, line, col);
	if (n == NULL)
		return -1;
	n->weight = 0; /* marks "still open" for alias checks; set on close */
	attach(f, n);
	if (f->depth == f->stack_cap) {
		f->stack_cap = f->stack_cap ? 2 * f->stack_cap : 16;
		f->stack = gg_reallocarray(f->stack, f->stack_cap, sizeof(*f->stack));
	}
	f->stack[f->depth].node = n;
	f->stack[f->depth].first = f->npending;
	f->depth++;
	if (out)
		*out = n;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const gg_ynode *x = *(gg_ynode *const *)a, *y = *(gg_ynode *const *)b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int c = memcmp(x->str, y->str, x->len);
	if (c)
		return c;
	/* Same text: order by position so the later one is the duplicate. */
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->col < y->col ? -1 : (x->col > y->col);
}

static bool same_key(const gg_ynode *a, const gg_ynode *b)
{
	return a->str && b->str && a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

static void check_duplicates(gg_yfile *f, gg_ynode *map)
{
	uint32_t n = map->n;
	if (n < 2)
		return;
	if (n <= 16) {
		for (uint32_t i = 1; i < n; i++)
			for (uint32_t j = 0; j < i; j++)
				if (same_key(map->items[2 * i], map->items[2 * j])) {
					const gg_ynode *k = map->items[2 * i];
					problem(f, "duplicate-key", k->line, k->col,
					        "duplicate key \"%s\" (first at line %u)", k->str,
					        map->items[2 * j]->line);
					break;
				}
		return;
	}
	gg_ynode **keys = gg_reallocarray(NULL, n, sizeof(*keys));
	uint32_t m = 0;
	for (uint32_t i = 0; i < n; i++)
		if (map->items[2 * i]->str)
			keys[m++] = map->items[2 * i];
	qsort(keys, m, sizeof(*keys), key_cmp);
	for (uint32_t i = 1; i < m; i++)
		if (same_key(keys[i], keys[i - 1])) {
			uint32_t j = i - 1;
			while (j > 0 && same_key(keys[j - 1], keys[i]))
				j--;
			problem(f, "duplicate-key", keys[i]->line, keys[i]->col,
			        "duplicate key \"%s\" (first at line %u)", keys[i]->str,
			        keys[j]->line);
		}
	free(keys);
}

static void close_container(gg_yfile *f)
{
	struct frame *fr = &f->stack[--f->depth];
	gg_ynode *n = fr->node;
	size_t count = f->npending - fr->first;
	if (n->type == GG_Y_MAP && (count & 1)) {
		/* A key without a value cannot come from either parser; drop it. */
		count--;
	}
	n->items = arena_alloc(f, (count ? count : 1) * sizeof(*n->items));
	if (count)
		memcpy(n->items, f->pending + fr->first, count * sizeof(*n->items));
	n->n = (uint32_t)(n->type == GG_Y_MAP ? count / 2 : count);
	uint64_t w = 1;
	for (size_t i = 0; i < count; i++)
		w += n->items[i]->weight;
	n->weight = w;
	f->npending = fr->first;
	if (n->type == GG_Y_MAP)
		check_duplicates(f, n);
}

static void end_document(gg_yfile *f)
{
	if (f->ndocs == f->docs_cap) {
		f->docs_cap = f->docs_cap ? 2 * f->docs_cap : 4;
		f->docs = gg_reallocarray(f->docs, f->docs_cap, sizeof(*f->docs));
	}
	f->docs[f->ndocs++] = f->root;
	f->root = NULL;
}

/* ---- scalar typing (YAML 1.2 core schema) ---- */

static bool match_int(const char *s, double *v)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p == s) {
		int base = p[1] == 'x' ? 16 : 8;
		p += 2;
		if (!*p)
			return false;
		for (const char *q = p; *q; q++)
			if (base == 16 ? !isxdigit((unsigned char)*q) : (*q < '0' || *q > '7'))
				return false;
		*v = (double)strtoull(p, NULL, base);
		return true;
	}
	if (!*p)
		return false;
	for (const char *q = p; *q; q++)
		if (!isdigit((unsigned char)*q))
			return false;
	*v = strtod(s, NULL);
	return true;
}

static bool match_float(const char *s, double *v)
{
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF")) {
		*v = *s == '-' ? -INFINITY : INFINITY;
		return true;
	}
	if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN"))) {
		*v = NAN;
		return true;
	}
	bool digits = false;
	while (isdigit((unsigned char)*p)) {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p)
		return false;
	*v = strtod(s, NULL);
	return true;
}

static void resolve_plain(gg_ynode *n)
{
	const char *s = n->str;
	/* Most plain scalars are words: look at the first byte before comparing. */
	switch (s[0]) {
	case '\0':
	case '~':
		if (n->len <= 1)
			n->type = GG_Y_NULL;
		return;
	case 'n':
	case 'N':
		if (!strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
			n->type = GG_Y_NULL;
		return;
	case 't':
	case 'T':
		if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
			n->type = GG_Y_BOOL, n->boolean = true;
		return;
	case 'f':
	case 'F':
		if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
			n->type = GG_Y_BOOL, n->boolean = false;
		return;
	case '-':
	case '+':
	case '.':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		if (match_int(s, &n->num))
			n->type = GG_Y_INT;
		else if (match_float(s, &n->num))
			n->type = GG_Y_FLOAT;
		return;
	default:
		return;
	}
}

/* ---- anchors ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void anchor_put(gg_yfile *f, const char *name, gg_ynode *n)
{
	if (2 * (f->nanchors + 1) > f->anchors_cap) {
		size_t cap = f->anchors_cap ? 2 * f->anchors_cap : 16;
		struct anchor *t = gg_calloc(cap, sizeof(*t));
		for (size_t i = 0; i < f->anchors_cap; i++) {
			if (!f->anchors[i].name)
				continue;
			size_t j = hash_str(f->anchors[i].name) & (cap - 1);
			while (t[j].name)
				j = (j + 1) & (cap - 1);
			t[j] = f->anchors[i];
		}
		free(f->anchors);
		f->anchors = t;
		f->anchors_cap = cap;
	}
	size_t j = hash_str(name) & (f->anchors_cap - 1);
	while (f->anchors[j].name && strcmp(f->anchors[j].name, name))
		j = (j + 1) & (f->anchors_cap - 1);
	if (!f->anchors[j].name) {
		f->anchors[j].name = gg_strdup(name);
		f->nanchors++;
	}
	f->anchors[j].node = n; /* a redefined anchor replaces the old one */
}

static gg_ynode *anchor_get(gg_yfile *f, const char *name)
{
	if (!f->anchors_cap)
		return NULL;
	size_t j = hash_str(name) & (f->anchors_cap - 1);
	while (f->anchors[j].name) {
		if (!strcmp(f->anchors[j].name, name))
			return f->anchors[j].node;
		j = (j + 1) & (f->anchors_cap - 1);
	}
	return NULL;
}

static void anchors_clear(gg_yfile *f)
{
	for (size_t i = 0; i < f->anchors_cap; i++)
		free(f->anchors[i].name);
	free(f->anchors);
	f->anchors = NULL;
	f->anchors_cap = f->nanchors = 0;
}

/* ---- YAML front end ---- */

static void yaml_failure(gg_yfile *f, yaml_parser_t *p)
{
	yaml_mark_t m = p->problem_mark;
	const char *what = p->problem ? p->problem : "malformed YAML";
	char *msg;
	if (p->context && strstr(p->context, "quoted scalar") &&
	    (p->context_mark.line != m.line || p->context_mark.column != m.column)) {
		/*
		 * An unclosed quote runs to wherever the scanner gave up, often the
		 * end of the file: the quote that opened it is what to fix.
		 */
		msg = gg_printf("a quoted string opened here is not closed (%s at %u:%u)", what,
		                (unsigned)m.line + 1, (unsigned)m.column + 1);
		m = p->context_mark;
	} else if (p->context) {
		msg = gg_printf("%s %s", what, p->context);
	} else {
		msg = gg_strdup(what);
	}
	if (p->error == YAML_MEMORY_ERROR)
		fail(f, "limit", (uint32_t)m.line + 1, (uint32_t)m.column + 1, "out of memory");
	else
		fail(f, "syntax", (uint32_t)m.line + 1, (uint32_t)m.column + 1, msg);
	free(msg);
}

static void parse_yaml(gg_yfile *f, const char *data, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	if (!yaml_parser_initialize(&p)) {
		fail(f, "limit", 1, 1, "out of memory");
		return;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	bool done = false;
	while (!done && !f->failed) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_failure(f, &p);
			break;
		}
		uint32_t line = (uint32_t)ev.start_mark.line + 1;
		uint32_t col = (uint32_t)ev.start_mark.column + 1;
		gg_ynode *n = NULL;
		const char *anchor = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			end_document(f);
			anchors_clear(f);
			break;
		case YAML_SCALAR_EVENT:
			n = new_node(f, GG_Y_STRING, line, col);
			if (n == NULL)
				break;
			n->str = arena_strndup(f, (const char *)ev.data.scalar.value,
			                       ev.data.scalar.length);
			n->len = (uint32_t)ev.data.scalar.length;
			if (ev.data.scalar.plain_implicit &&
			    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
				n->plain = true;
				resolve_plain(n);
			}
			attach(f, n);
			anchor = (const char *)ev.data.scalar.anchor;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (open_container(f, GG_Y_SEQ, line, col, &n) == 0)
				anchor = (const char *)ev.data.sequence_start.anchor;
			break;
		case YAML_MAPPING_START_EVENT:
			if (open_container(f, GG_Y_MAP, line, col, &n) == 0)
				anchor = (const char *)ev.data.mapping_start.anchor;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			close_container(f);
			break;
		case YAML_ALIAS_EVENT: {
			gg_ynode *t = anchor_get(f, (const char *)ev.data.alias.anchor);
			if (t == NULL) {
				fail(f, "syntax", line, col, "alias to an undefined anchor");
				break;
			}
			if (t->weight == 0) {
				fail(f, "syntax", line, col, "alias refers to its own ancestor");
				break;
			}
			f->nodes += t->weight;
			if (f->nodes > f->lim.max_nodes) {
				char *m = gg_printf("aliases expand to more than %llu nodes",
				                    (unsigned long long)f->lim.max_nodes);
				fail(f, "limit", line, col, m);
				free(m);
				break;
			}
			attach(f, t);
			break;
		}
		default:
			break;
		}
		if (n && anchor)
			anchor_put(f, anchor, n);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	anchors_clear(f);
}

/* ---- JSON front end ---- */

struct jp {
	gg_yfile *f;
	const char *s, *end, *p;
	const char *line_start;
	uint32_t line;
	gg_buf tmp;
};

static uint32_t jcol(struct jp *j)
{
	return (uint32_t)(j->p - j->line_start) + 1;
}

static void jfail(struct jp *j, const char *msg)
{
	fail(j->f, "syntax", j->line, jcol(j), msg);
}

static void jskip(struct jp *j)
{
	while (j->p < j->end) {
		char c = *j->p;
		if (c == '\n') {
			j->line++;
			j->line_start = j->p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			return;
		}
		j->p++;
	}
}

static void put_utf8(gg_buf *b, unsigned long cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6)), o[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12)), o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18)), o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), o[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	}
	gg_buf_put(b, o, n);
}

static int jhex4(struct jp *j, unsigned long *out)
{
	if (j->end - j->p < 4)
		return -1;
	unsigned long v = 0;
	for (int i = 0; i < 4; i++) {
		char c = j->p[i];
		if (!isxdigit((unsigned char)c))
			return -1;
		v = v * 16 +
		    (unsigned long)(isdigit((unsigned char)c) ? c - '0' : (c | 32) - 'a' + 10);
	}
	j->p += 4;
	*out = v;
	return 0;
}

static gg_ynode *jstring(struct jp *j)
{
	uint32_t line = j->line, col = jcol(j);
	j->p++; /* opening quote */
	gg_buf_clear(&j->tmp);
	for (;;) {
		if (j->p >= j->end) {
			jfail(j, "unterminated string");
			return NULL;
		}
		unsigned char c = (unsigned char)*j->p;
		if (c == '"')
			break;
		if (c < 0x20) {
			jfail(j, "control character in string");
			return NULL;
		}
		if (c != '\\') {
			const char *q = j->p;
			while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
				q++;
			gg_buf_put(&j->tmp, j->p, (size_t)(q - j->p));
			j->p = q;
			continue;
		}
		j->p++;
		if (j->p >= j->end) {
			jfail(j, "unterminated string");
			return NULL;
		}
		char e = *j->p++;
		unsigned long cp;
		switch (e) {
		case '"':
			gg_buf_putc(&j->tmp, '"');
			break;
		case '\\':
			gg_buf_putc(&j->tmp, '\\');
			break;
		case '/':
			gg_buf_putc(&j->tmp, '/');
			break;
		case 'b':
			gg_buf_putc(&j->tmp, '\b');
			break;
		case 'f':
			gg_buf_putc(&j->tmp, '\f');
			break;
		case 'n':
			gg_buf_putc(&j->tmp, '\n');
			break;
		case 'r':
			gg_buf_putc(&j->tmp, '\r');
			break;
		case 't':
			gg_buf_putc(&j->tmp, '\t');
			break;
		case 'u':
			if (jhex4(j, &cp) < 0) {
				jfail(j, "bad \\u escape");
				return NULL;
			}
			if (cp >= 0xd800 && cp < 0xdc00) {
				unsigned long lo;
				if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
					j->p += 2;
					if (jhex4(j, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
						jfail(j, "bad surrogate pair");
						return NULL;
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = 0xfffd;
			}
			put_utf8(&j->tmp, cp);
			break;
		default:
			j->p--;
			jfail(j, "bad escape in string");
			return NULL;
		}
	}
	j->p++;
	gg_ynode *n = new_node(j->f, GG_Y_STRING, line, col);
	if (n == NULL)
		return NULL;
	n->str = arena_strndup(j->f, j->tmp.ptr ? j->tmp.ptr : "", j->tmp.len);
	n->len = (uint32_t)j->tmp.len;
	return n;
}

static gg_ynode *jnumber(struct jp *j)
{
	uint32_t col = jcol(j);
	const char *q = j->p;
	bool is_float = false;
	if (*q == '-')
		q++;
	if (q < j->end && *q == '0') {
		q++;
	} else if (q < j->end && *q >= '1' && *q <= '9') {
		while (q < j->end && isdigit((unsigned char)*q))
			q++;
	} else {
		jfail(j, "unexpected character");
		return NULL;
	}
	if (q < j->end && *q == '.') {
		is_float = true;
		q++;
		if (q >= j->end || !isdigit((unsigned char)*q)) {
			j->p = q;
			jfail(j, "digit expected after '.'");
			return NULL;
		}
		while (q < j->end && isdigit((unsigned char)*q))
			q++;
	}
	if (q < j->end && (*q == 'e' || *q == 'E')) {
		is_float = true;
		q++;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= j->end || !isdigit((unsigned char)*q)) {
			j->p = q;
			jfail(j, "digit expected in exponent");
			return NULL;
		}
		while (q < j->end && isdigit((unsigned char)*q))
			q++;
	}
	gg_ynode *n = new_node(j->f, is_float ? GG_Y_FLOAT : GG_Y_INT, j->line, col);
	if (n == NULL)
		return NULL;
	n->str = arena_strndup(j->f, j->p, (size_t)(q - j->p));
	n->len = (uint32_t)(q - j->p);
	n->num = strtod(n->str, NULL);
	j->p = q;
	return n;
}

static bool jword(struct jp *j, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0;
}

/* Iterative parse: containers go on the builder's stack, so depth is bounded there. */
static void parse_json(gg_yfile *f, const char *data, size_t len)
{
	struct jp j = {
	    .f = f, .s = data, .end = data + len, .p = data, .line_start = data, .line = 1};
	/* Per open container: do we expect a key next (maps) / is this the first item. */
	enum { VALUE, AFTER_VALUE } state = VALUE;
	if (len >= 3 && !memcmp(data, "\xef\xbb\xbf", 3))
		j.p += 3, j.line_start = j.p;
	jskip(&j);
	if (j.p >= j.end) {
		end_document(f); /* empty file: one empty document, like YAML */
		goto done;
	}
	for (;;) {
		if (f->failed)
			goto done;
		jskip(&j);
		gg_ynode *top = f->depth ? f->stack[f->depth - 1].node : NULL;
		size_t have = f->depth ? f->npending - f->stack[f->depth - 1].first : 0;
		if (state == AFTER_VALUE) {
			if (top == NULL) {
				if (j.p < j.end) {
					jfail(&j, "unexpected data after the top-level value");
					goto done;
				}
				end_document(f);
				goto done;
			}
			if (j.p >= j.end) {
				jfail(&j, "unexpected end of file");
				goto done;
			}
			char c = *j.p;
			bool in_map = top->type == GG_Y_MAP;
			if (in_map && (have & 1)) {
				if (c != ':') {
					jfail(&j, "expected ':' after a key");
					goto done;
				}
				j.p++;
				state = VALUE;
				continue;
			}
			if (c == ',') {
				j.p++;
				jskip(&j);
				if (j.p < j.end && (*j.p == ']' || *j.p == '}')) {
					jfail(&j, "trailing comma");
					goto done;
				}
				state = VALUE;
				continue;
			}
			if (c == (in_map ? '}' : ']')) {
				j.p++;
				close_container(f);
				continue;
			}
			jfail(&j, in_map ? "expected ',' or '}'" : "expected ',' or ']'");
			goto done;
		}
		if (j.p >= j.end) {
			jfail(&j, "unexpected end of file");
			goto done;
		}
		bool want_key = top && top->type == GG_Y_MAP && !(have & 1);
		char c = *j.p;
		if (want_key && c != '"') {
			if (c == '}' && have == 0) {
				j.p++;
				close_container(f);
				state = AFTER_VALUE;
				continue;
			}
			jfail(&j, "expected a string key");
			goto done;
		}
		gg_ynode *n = NULL;
		if (c == '{' || c == '[') {
			uint32_t col = jcol(&j);
			j.p++;
			if (open_container(f, c == '{' ? GG_Y_MAP : GG_Y_SEQ, j.line, col, NULL) <
			    0)
				goto done;
			jskip(&j);
			if (c == '[' && j.p < j.end && *j.p == ']') {
				j.p++;
				close_container(f);
				state = AFTER_VALUE;
			}
			continue;
		}
		if (c == ']' && top && top->type == GG_Y_SEQ && have == 0) {
			j.p++;
			close_container(f);
			state = AFTER_VALUE;
			continue;
		}
		if (c == '"') {
			n = jstring(&j);
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			n = jnumber(&j);
		} else if (jword(&j, "true") || jword(&j, "false") || jword(&j, "null")) {
			n = new_node(f, c == 'n' ? GG_Y_NULL : GG_Y_BOOL, j.line, jcol(&j));
			size_t wl = c == 'f' ? 5 : 4;
			if (n) {
				n->str = arena_strndup(f, j.p, wl);
				n->len = (uint32_t)wl;
				n->boolean = c == 't';
			}
			j.p += wl;
		} else {
			jfail(&j, "unexpected character");
			goto done;
		}
		if (n == NULL)
			goto done;
		attach(f, n);
		state = AFTER_VALUE;
	}
done:
	gg_buf_free(&j.tmp);
}

/* ---- public ---- */

int gg_yparse(gg_yfile **out, const char *data, size_t len, gg_yformat fmt,
              const gg_ylimits *limits)
{
	gg_yfile *f = gg_calloc(1, sizeof(*f));
	f->lim = limits ? *limits : gg_ylimits_default;
	*out = f;
	if (f->lim.max_bytes && len > f->lim.max_bytes) {
		char *m =
		    gg_printf("file is %zu bytes, over the %zu byte limit", len, f->lim.max_bytes);
		fail(f, "limit", 1, 1, m);
		free(m);
	} else if (fmt == GG_YFMT_JSON) {
		parse_json(f, data, len);
	} else {
		parse_yaml(f, data, len);
	}
	free(f->stack);
	free(f->pending);
	f->stack = NULL;
	f->pending = NULL;
	f->depth = f->npending = 0;
	return f->failed ? -1 : 0;
}

void gg_yfile_free(gg_yfile *f)
{
	if (f == NULL)
		return;
	for (struct chunk *c = f->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	for (size_t i = 0; i < f->nproblems; i++)
		free(f->problems[i].msg);
	free(f->problems);
	free(f->docs);
	free(f);
}

size_t gg_yfile_ndocs(const gg_yfile *f)
{
	return f->ndocs;
}

const gg_ynode *gg_yfile_doc(const gg_yfile *f, size_t i)
{
	return i < f->ndocs ? f->docs[i] : NULL;
}

size_t gg_yfile_nproblems(const gg_yfile *f)
{
	return f->nproblems;
}

const gg_yproblem *gg_yfile_problem(const gg_yfile *f, size_t i)
{
	return i < f->nproblems ? &f->problems[i] : NULL;
}

const gg_ynode *gg_ymap_get(const gg_ynode *map, const char *key)
{
	if (map == NULL || map->type != GG_Y_MAP)
		return NULL;
	size_t klen = strlen(key);
	for (uint32_t i = map->n; i-- > 0;) {
		const gg_ynode *k = map->items[2 * i];
		if (k->str && k->len == klen && memcmp(k->str, key, klen) == 0)
			return map->items[2 * i + 1];
	}
	return NULL;
}

bool gg_yis_scalar(const gg_ynode *n)
{
	return n && n->type != GG_Y_MAP && n->type != GG_Y_SEQ;
}

bool gg_yis(const gg_ynode *n, const char *s)
{
	return gg_yis_scalar(n) && n->str && strcmp(n->str, s) == 0;
}

const char *gg_ytype_name(gg_ytype t)
{
	switch (t) {
	case GG_Y_STRING:
		return "string";
	case GG_Y_INT:
	case GG_Y_FLOAT:
		return "number";
	case GG_Y_BOOL:
		return "boolean";
	case GG_Y_NULL:
		return "null";
	case GG_Y_MAP:
		return "map";
	case GG_Y_SEQ:
		return "list";
	}
	return "unknown";
}

gg_yformat gg_yformat_for_path(const char *path)
{
	size_t n = strlen(path);
	if (n >= 5 && strcasecmp(path + n - 5, ".json") == 0)
		return GG_YFMT_JSON;
	return GG_YFMT_YAML;
}
