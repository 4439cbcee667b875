/*
 * A bounded reader for the gitleaks TOML subset (gltoml.h). The lexer walks
 * the bytes once, keeping the line for messages; values are parsed into a
 * small tree, then applied to the table the last header opened. Every
 * problem is reported as FILE:LINE: message, and parsing stops at the first
 * syntax error (later lines cannot be trusted) but keeps going after a
 * semantic one.
 */
#include "gitgate/gltoml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum vtype { V_STR, V_INT, V_FLOAT, V_BOOL, V_ARRAY };

struct val {
	enum vtype t;
	char *s;
	double num;
	bool b;
	struct val *items;
	size_t n;
	unsigned line;
};

/* What the last [header] opened. */
enum ctx { C_ROOT, C_EXTEND, C_RULE, C_ALLOW, C_OTHER };

struct parser {
	const char *file;
	const char *p, *end;
	unsigned line;
	gg_diag *diag;
	size_t errors;
	bool fatal;
	gg_gl_config *cfg;
	enum ctx ctx;
	gg_gl_allowlist *allow; /* the allowlist being filled (C_ALLOW) */
};

static void err(struct parser *ps, unsigned line, const char *fmt, ...) GG_PRINTF(3, 4);
static void err(struct parser *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	gg_diag_addf(ps->diag, "%s:%u: %s", ps->file, line, m);
	free(m);
	ps->errors++;
}

static void fatal(struct parser *ps, const char *msg)
{
	if (!ps->fatal)
		err(ps, ps->line, "%s", msg);
	ps->fatal = true;
}

static void val_free(struct val *v)
{
	free(v->s);
	for (size_t i = 0; i < v->n; i++)
		val_free(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* ---- lexing ---- */

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static void skip_comment(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
}

/* Whitespace, comments and newlines (inside arrays and between statements). */
static void skip_all(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		skip_comment(ps);
		if (ps->p < ps->end && (*ps->p == '\n' || *ps->p == '\r')) {
			if (*ps->p == '\n')
				ps->line++;
			ps->p++;
			continue;
		}
		return;
	}
}

/* After a statement: only a comment may follow on the line. */
static void end_of_line(struct parser *ps)
{
	skip_ws(ps);
	skip_comment(ps);
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p < ps->end && *ps->p != '\n')
		fatal(ps, "unexpected text after the value");
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_cp(gg_buf *b, unsigned long cp)
{
	char u[4];
	if (cp < 0x80) {
		gg_buf_putc(b, (char)cp);
		return;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		gg_buf_put(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		gg_buf_put(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		gg_buf_put(b, u, 4);
	}
}

static bool starts(struct parser *ps, const char *s)
{
	size_t n = strlen(s);
	return (size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, s, n);
}

/* A string of any of TOML's four kinds; *out is allocated. */
static int parse_string(struct parser *ps, char **out)
{
	char q = *ps->p;
	bool multi = starts(ps, q == '"' ? "\"\"\"" : "'''");
	bool literal = q == '\'';
	gg_buf b = GG_BUF_INIT;
	ps->p += multi ? 3 : 1;
	if (multi && ps->p < ps->end && *ps->p == '\n') {
		ps->p++; /* a newline right after the opening quotes is trimmed */
		ps->line++;
	} else if (multi && starts(ps, "\r\n")) {
		ps->p += 2;
		ps->line++;
	}
	for (;;) {
		if (ps->p >= ps->end) {
			fatal(ps, "unterminated string");
			goto fail;
		}
		char c = *ps->p;
		if (multi && starts(ps, literal ? "'''" : "\"\"\"")) {
			ps->p += 3;
			/* up to two more quotes belong to the content */
			for (int k = 0; k < 2 && ps->p < ps->end && *ps->p == q; k++) {
				gg_buf_putc(&b, q);
				ps->p++;
			}
			break;
		}
		if (!multi && c == q) {
			ps->p++;
			break;
		}
		if (c == '\n') {
			if (!multi) {
				fatal(ps, "newline in a single-line string");
				goto fail;
			}
			ps->line++;
		}
		if (c == '\\' && !literal) {
			ps->p++;
			if (ps->p >= ps->end) {
				fatal(ps, "unterminated string");
				goto fail;
			}
			char e = *ps->p++;
			switch (e) {
			case 'b':
				gg_buf_putc(&b, '\b');
				break;
			case 't':
				gg_buf_putc(&b, '\t');
				break;
			case 'n':
				gg_buf_putc(&b, '\n');
				break;
			case 'f':
				gg_buf_putc(&b, '\f');
				break;
			case 'r':
				gg_buf_putc(&b, '\r');
				break;
			case 'e':
				gg_buf_putc(&b, 0x1b);
				break;
			case '"':
				gg_buf_putc(&b, '"');
				break;
			case '\\':
				gg_buf_putc(&b, '\\');
				break;
			case 'u':
			case 'U': {
				int nd = e == 'u' ? 4 : 8;
				unsigned long cp = 0;
				for (int k = 0; k < nd; k++) {
					int h = ps->p < ps->end ? hexval(*ps->p) : -1;
					if (h < 0) {
						fatal(ps, "malformed \\u escape");
						goto fail;
					}
					cp = cp * 16 + (unsigned long)h;
					ps->p++;
				}
				if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000) || cp == 0) {
					fatal(ps, "escape names no character");
					goto fail;
				}
				put_cp(&b, cp);
				break;
			}
			case '\n':
			case ' ':
			case '\t':
			case '\r':
				if (!multi) {
					fatal(ps, "unknown escape in a string");
					goto fail;
				}
				/* line-ending backslash: trim the whitespace that follows */
				ps->p--;
				while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				                           *ps->p == '\n' || *ps->p == '\r')) {
					if (*ps->p == '\n')
						ps->line++;
					ps->p++;
				}
				break;
			default:
				fatal(ps, "unknown escape in a string");
				goto fail;
			}
			continue;
		}
		if (c == '\0') {
			fatal(ps, "NUL byte in a string");
			goto fail;
		}
		gg_buf_putc(&b, c);
		ps->p++;
	}
	*out = b.ptr ? gg_buf_detach(&b) : gg_strdup("");
	return 0;
fail:
	gg_buf_free(&b);
	return -1;
}

static int parse_value(struct parser *ps, struct val *v, int depth);

static int parse_array(struct parser *ps, struct val *v, int depth)
{
	if (depth >= GG_GL_MAX_NESTING) {
		fatal(ps, "arrays nested too deeply");
		return -1;
	}
	ps->p++; /* [ */
	v->t = V_ARRAY;
	size_t cap = 0;
	for (;;) {
		skip_all(ps);
		if (ps->p >= ps->end) {
			fatal(ps, "unterminated array");
			return -1;
		}
		if (*ps->p == ']') {
			ps->p++;
			return 0;
		}
		if (v->n >= GG_GL_MAX_ITEMS) {
			fatal(ps, "array has too many items");
			return -1;
		}
		if (v->n == cap) {
			cap = cap ? 2 * cap : 8;
			v->items = gg_reallocarray(v->items, cap, sizeof(*v->items));
		}
		memset(&v->items[v->n], 0, sizeof(*v->items));
		if (parse_value(ps, &v->items[v->n], depth + 1) < 0) {
			val_free(&v->items[v->n]);
			return -1;
		}
		v->n++;
		skip_all(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		skip_all(ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		fatal(ps, "expected ',' or ']' in an array");
		return -1;
	}
}

static int parse_value(struct parser *ps, struct val *v, int depth)
{
	v->line = ps->line;
	if (ps->p >= ps->end) {
		fatal(ps, "expected a value");
		return -1;
	}
	char c = *ps->p;
	if (c == '"' || c == '\'') {
		v->t = V_STR;
		return parse_string(ps, &v->s);
	}
	if (c == '[')
		return parse_array(ps, v, depth);
	if (c == '{') {
		fatal(ps, "inline tables are not supported here; use a [table] header");
		return -1;
	}
	if (starts(ps, "true") && (ps->p + 4 == ps->end || !is_bare(ps->p[4]))) {
		v->t = V_BOOL;
		v->b = true;
		ps->p += 4;
		return 0;
	}
	if (starts(ps, "false") && (ps->p + 5 == ps->end || !is_bare(ps->p[5]))) {
		v->t = V_BOOL;
		v->b = false;
		ps->p += 5;
		return 0;
	}
	/* a number: digits, sign, '.', exponent and '_' separators */
	char buf[64];
	size_t n = 0;
	bool fl = false;
	while (ps->p < ps->end && n + 1 < sizeof(buf) &&
	       (strchr("+-0123456789._eE", *ps->p) != NULL && *ps->p != '\0')) {
		if (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')
			fl = true;
		if (*ps->p != '_')
			buf[n++] = *ps->p;
		ps->p++;
	}
	buf[n] = '\0';
	if (n == 0) {
		fatal(ps, "expected a value (a string, number, boolean or array)");
		return -1;
	}
	char *e = NULL;
	errno = 0;
	v->num = strtod(buf, &e);
	if (*e || errno) {
		fatal(ps, "malformed number");
		return -1;
	}
	v->t = fl ? V_FLOAT : V_INT;
	return 0;
}

/* A key: bare or quoted parts joined by dots. */
static int parse_key(struct parser *ps, gg_buf *key)
{
	for (;;) {
		skip_ws(ps);
		if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
			if (starts(ps, "\"\"\"") || starts(ps, "'''")) {
				fatal(ps, "a key cannot be a multi-line string");
				return -1;
			}
			char *s = NULL;
			if (parse_string(ps, &s) < 0)
				return -1;
			gg_buf_puts(key, s);
			free(s);
		} else {
			const char *b = ps->p;
			while (ps->p < ps->end && is_bare(*ps->p))
				ps->p++;
			if (ps->p == b) {
				fatal(ps, "expected a key");
				return -1;
			}
			gg_buf_put(key, b, (size_t)(ps->p - b));
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '.') {
			ps->p++;
			gg_buf_putc(key, '.');
			continue;
		}
		return 0;
	}
}

/* ---- applying values ---- */

static const char *type_name(const struct val *v)
{
	switch (v->t) {
	case V_STR:
		return "a string";
	case V_INT:
		return "an integer";
	case V_FLOAT:
		return "a float";
	case V_BOOL:
		return "a boolean";
	default:
		return "an array";
	}
}

static bool want_str(struct parser *ps, const struct val *v, const char *key, char **out)
{
	if (v->t != V_STR) {
		err(ps, v->line, "%s: expected a string, got %s", key, type_name(v));
		return false;
	}
	free(*out);
	*out = gg_strdup(v->s);
	return true;
}

static void want_strs(struct parser *ps, const struct val *v, const char *key, char ***out,
                      size_t *n)
{
	if (v->t != V_ARRAY) {
		err(ps, v->line, "%s: expected an array of strings, got %s", key, type_name(v));
		return;
	}
	gg_strv_free(*out, *n);
	*out = gg_calloc(v->n + 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (v->items[i].t != V_STR || !v->items[i].s[0]) {
			err(ps, v->items[i].line, "%s[%zu]: expected a non-empty string", key, i);
			continue;
		}
		(*out)[(*n)++] = gg_strdup(v->items[i].s);
	}
}

static gg_gl_rule *cur_rule(struct parser *ps)
{
	return ps->cfg->nrules ? &ps->cfg->rules[ps->cfg->nrules - 1] : NULL;
}

static void set_allow(struct parser *ps, const char *key, const struct val *v)
{
	gg_gl_allowlist *a = ps->allow;
	if (!strcmp(key, "description"))
		return; /* documentation only */
	if (!strcmp(key, "regexes"))
		want_strs(ps, v, key, &a->regexes, &a->nregexes);
	else if (!strcmp(key, "paths"))
		want_strs(ps, v, key, &a->paths, &a->npaths);
	else if (!strcmp(key, "stopwords"))
		want_strs(ps, v, key, &a->stopwords, &a->nstopwords);
	else if (!strcmp(key, "regexTarget")) {
		if (v->t == V_STR && !strcmp(v->s, "secret"))
			a->target = GG_GL_TARGET_SECRET;
		else if (v->t == V_STR && !strcmp(v->s, "match"))
			a->target = GG_GL_TARGET_MATCH;
		else if (v->t == V_STR && !strcmp(v->s, "line"))
			a->target = GG_GL_TARGET_LINE;
		else
			err(ps, v->line, "regexTarget: expected \"secret\", \"match\" or \"line\"");
	} else if (!strcmp(key, "condition")) {
		if (v->t == V_STR && !strcmp(v->s, "OR"))
			a->all = false;
		else if (v->t == V_STR && !strcmp(v->s, "AND"))
			a->all = true;
		else
			err(ps, v->line, "condition: expected \"OR\" or \"AND\"");
	} else if (!strcmp(key, "commits") || !strcmp(key, "targetRules"))
		err(ps, v->line, "allowlist key '%s' is not supported by gitgate", key);
	else
		err(ps, v->line, "unknown allowlist key '%s'", key);
}

static void set_rule(struct parser *ps, const char *key, const struct val *v)
{
	gg_gl_rule *r = cur_rule(ps);
	if (!strcmp(key, "id"))
		want_str(ps, v, key, &r->id);
	else if (!strcmp(key, "description"))
		want_str(ps, v, key, &r->description);
	else if (!strcmp(key, "regex")) {
		if (want_str(ps, v, key, &r->regex))
			r->regex_line = v->line;
	} else if (!strcmp(key, "path")) {
		if (want_str(ps, v, key, &r->path))
			r->path_line = v->line;
	} else if (!strcmp(key, "secretGroup")) {
		if (v->t != V_INT || v->num < 0 || v->num > 99)
			err(ps, v->line, "secretGroup: expected a whole number from 0 to 99");
		else
			r->secret_group = (int)v->num;
	} else if (!strcmp(key, "entropy")) {
		if ((v->t != V_INT && v->t != V_FLOAT) || v->num < 0 || v->num > 8)
			err(ps, v->line, "entropy: expected a number from 0 to 8");
		else
			r->entropy = v->num;
	} else if (!strcmp(key, "keywords"))
		want_strs(ps, v, key, &r->keywords, &r->nkeywords);
	else if (!strcmp(key, "tags")) {
		if (v->t != V_ARRAY)
			err(ps, v->line, "tags: expected an array of strings");
	} else
		err(ps, v->line, "unknown rule key '%s'", key);
}

static void set_key(struct parser *ps, const char *key, const struct val *v)
{
	switch (ps->ctx) {
	case C_ROOT:
		if (!strcmp(key, "title") || !strcmp(key, "description") ||
		    !strcmp(key, "minVersion")) {
			if (v->t != V_STR)
				err(ps, v->line, "%s: expected a string", key);
		} else
			err(ps, v->line, "unknown top-level key '%s'", key);
		break;
	case C_EXTEND:
		if (!strcmp(key, "useDefault")) {
			if (v->t != V_BOOL)
				err(ps, v->line, "useDefault: expected true or false");
			else
				ps->cfg->use_default = v->b;
		} else if (!strcmp(key, "disabledRules"))
			want_strs(ps, v, key, &ps->cfg->disabled, &ps->cfg->ndisabled);
		else if (!strcmp(key, "path") || !strcmp(key, "url"))
			err(ps, v->line, "[extend] %s is not supported: put the rules in this file",
			    key);
		else
			err(ps, v->line, "unknown [extend] key '%s'", key);
		break;
	case C_RULE:
		set_rule(ps, key, v);
		break;
	case C_ALLOW:
		set_allow(ps, key, v);
		break;
	case C_OTHER:
		break; /* the header was already reported */
	}
}

static gg_gl_allowlist *new_allow(gg_gl_allowlist **v, size_t *n, unsigned line)
{
	*v = gg_reallocarray(*v, *n + 1, sizeof(**v));
	gg_gl_allowlist *a = &(*v)[(*n)++];
	memset(a, 0, sizeof(*a));
	a->line = line;
	return a;
}

static void open_table(struct parser *ps, const char *name, bool array, unsigned line)
{
	gg_gl_config *c = ps->cfg;
	ps->ctx = C_OTHER;
	if (!strcmp(name, "extend") && !array)
		ps->ctx = C_EXTEND;
	else if (!strcmp(name, "rules") && array) {
		if (c->nrules >= GG_GL_MAX_RULES) {
			err(ps, line, "more than %d rules", GG_GL_MAX_RULES);
			return;
		}
		c->rules = gg_reallocarray(c->rules, c->nrules + 1, sizeof(*c->rules));
		memset(&c->rules[c->nrules], 0, sizeof(*c->rules));
		c->rules[c->nrules++].line = line;
		ps->ctx = C_RULE;
	} else if ((!strcmp(name, "allowlist") && !array) ||
	           (!strcmp(name, "allowlists") && array)) {
		ps->allow = new_allow(&c->allow, &c->nallow, line);
		ps->ctx = C_ALLOW;
	} else if ((!strcmp(name, "rules.allowlist") && !array) ||
	           (!strcmp(name, "rules.allowlists") && array)) {
		gg_gl_rule *r = cur_rule(ps);
		if (r == NULL) {
			err(ps, line, "[%s] before any [[rules]]", name);
			return;
		}
		ps->allow = new_allow(&r->allow, &r->nallow, line);
		ps->ctx = C_ALLOW;
	} else
		err(ps, line, "unsupported table %s%s%s", array ? "[[" : "[", name,
		    array ? "]]" : "]");
}

static void parse_statement(struct parser *ps)
{
	unsigned line = ps->line;
	gg_buf key = GG_BUF_INIT;
	if (*ps->p == '[') {
		bool array = starts(ps, "[[");
		ps->p += array ? 2 : 1;
		if (parse_key(ps, &key) < 0)
			goto done;
		if (!starts(ps, array ? "]]" : "]")) {
			fatal(ps, "malformed table header");
			goto done;
		}
		ps->p += array ? 2 : 1;
		end_of_line(ps);
		if (!ps->fatal)
			open_table(ps, key.ptr, array, line);
		goto done;
	}
	if (parse_key(ps, &key) < 0)
		goto done;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '=') {
		fatal(ps, "expected '=' after a key");
		goto done;
	}
	ps->p++;
	skip_ws(ps);
	struct val v;
	memset(&v, 0, sizeof(v));
	if (parse_value(ps, &v, 0) == 0) {
		end_of_line(ps);
		if (!ps->fatal)
			set_key(ps, key.ptr, &v);
	}
	val_free(&v);
done:
	gg_buf_free(&key);
}

void gg_gl_free(gg_gl_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nrules; i++) {
		gg_gl_rule *r = &c->rules[i];
		free(r->id);
		free(r->description);
		free(r->regex);
		free(r->path);
		gg_strv_free(r->keywords, r->nkeywords);
		for (size_t k = 0; k < r->nallow; k++) {
			gg_strv_free(r->allow[k].regexes, r->allow[k].nregexes);
			gg_strv_free(r->allow[k].paths, r->allow[k].npaths);
			gg_strv_free(r->allow[k].stopwords, r->allow[k].nstopwords);
		}
		free(r->allow);
	}
	for (size_t k = 0; k < c->nallow; k++) {
		gg_strv_free(c->allow[k].regexes, c->allow[k].nregexes);
		gg_strv_free(c->allow[k].paths, c->allow[k].npaths);
		gg_strv_free(c->allow[k].stopwords, c->allow[k].nstopwords);
	}
	free(c->allow);
	free(c->rules);
	gg_strv_free(c->disabled, c->ndisabled);
	free(c);
}

int gg_gl_parse(gg_gl_config **out, const char *file, const char *data, size_t len, gg_diag *diag)
{
	*out = NULL;
	struct parser ps;
	memset(&ps, 0, sizeof(ps));
	ps.file = file;
	ps.p = data;
	ps.end = data + len;
	ps.line = 1;
	ps.diag = diag;
	ps.cfg = gg_calloc(1, sizeof(*ps.cfg));
	if (len > GG_GL_MAX_BYTES) {
		gg_diag_addf(diag, "%s: config is over %d bytes", file, GG_GL_MAX_BYTES);
		gg_gl_free(ps.cfg);
		return -1;
	}
	for (;;) {
		skip_all(&ps);
		if (ps.fatal || ps.p >= ps.end)
			break;
		parse_statement(&ps);
	}
	/* Every rule needs an id and something to match; ids are unique. */
	for (size_t i = 0; !ps.fatal && i < ps.cfg->nrules; i++) {
		gg_gl_rule *r = &ps.cfg->rules[i];
		if (r->id == NULL || !r->id[0]) {
			err(&ps, r->line, "a rule needs an id");
			continue;
		}
		if (r->regex == NULL && r->path == NULL)
			err(&ps, r->line, "rule '%s' needs a regex or a path", r->id);
		for (size_t k = 0; k < i; k++)
			if (ps.cfg->rules[k].id && !strcmp(ps.cfg->rules[k].id, r->id))
				err(&ps, r->line, "rule id '%s' is used twice", r->id);
	}
	if (ps.errors) {
		gg_gl_free(ps.cfg);
		return -1;
	}
	*out = ps.cfg;
	return 0;
}

int gg_gl_load(gg_gl_config **out, const char *path, gg_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	if (gg_read_file(&data, &len, path, GG_GL_MAX_BYTES) < 0) {
		gg_diag_addf(diag, "%s: %s", path,
		             errno == EFBIG ? "config is over 1 MiB" : strerror(errno));
		return -1;
	}
	int rc = gg_gl_parse(out, path, data, len, diag);
	free(data);
	return rc;
}
