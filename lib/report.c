#include "gitgate/report.h"
#include "gitgate/version.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), and its
 * code point in *cp; 0 when the bytes are not one (overlong, surrogate, past
 * U+10FFFF, truncated).
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * What a terminal or a CI log would act on rather than show: C0 controls
 * (ESC, CR, LF: a new line a runner may read as a `::command::`), DEL, C1
 * controls (U+0080-U+009F: U+009B is CSI), the bidirectional overrides that
 * reorder what is shown, and bytes that are not UTF-8 (a raw 0x9B is CSI to
 * an 8-bit terminal).
 */
static bool shown_as_is(uint32_t cp)
{
	return !(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
	         (cp >= 0x2066 && cp <= 0x2069));
}

char *gg_report_escape(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	gg_buf b = GG_BUF_INIT;
	gg_buf_grow(&b, len + 1);
	b.ptr[0] = '\0';
	for (size_t i = 0; i < len;) {
		uint32_t cp = u[i];
		size_t n = cp < 0x80 ? 1 : utf8_seq(u + i, len - i, &cp);
		if (n == 0 || !shown_as_is(cp)) {
			gg_buf_putc(&b, '?');
			i += n ? n : 1;
		} else {
			gg_buf_put(&b, s + i, n);
			i += n;
		}
	}
	return gg_buf_detach(&b);
}

/* Every name and message leaves through here: see gg_report_escape. */
static void put_escaped(FILE *out, const char *s)
{
	char *e = gg_report_escape(s, strlen(s));
	fputs(e, out);
	free(e);
}

static json_t *json_escaped(const char *s)
{
	char *e = gg_report_escape(s, strlen(s));
	json_t *j = json_string(e);
	free(e);
	return j;
}

static char *dup_or_null(const char *s)
{
	return s ? gg_strdup(s) : NULL;
}

void gg_report_add(gg_report *r, const char *rule, gg_severity sev, const gg_loc *loc,
                   const char *fmt, ...)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->v = gg_reallocarray(r->v, r->cap, sizeof(*r->v));
	}
	gg_violation *v = &r->v[r->n++];
	memset(v, 0, sizeof(*v));
	v->rule = gg_strdup(rule);
	v->severity = sev;
	if (loc) {
		v->path = dup_or_null(loc->path);
		v->ref = dup_or_null(loc->ref);
		v->commit = dup_or_null(loc->commit);
		v->line = loc->line;
		v->col = loc->col;
		v->kind = dup_or_null(loc->kind);
		v->name = dup_or_null(loc->name);
		v->ns = dup_or_null(loc->ns);
		v->about = dup_or_null(loc->about);
	}
	va_list ap;
	va_start(ap, fmt);
	v->message = gg_vprintf(fmt, ap);
	va_end(ap);
	if (sev == GG_SEV_ERROR)
		r->nerrors++;
	else if (sev == GG_SEV_WARNING)
		r->nwarnings++;
}

static int cmp_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int violation_cmp(const void *pa, const void *pb)
{
	const gg_violation *a = pa, *b = pb;
	int c = cmp_str(a->path, b->path);
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	if (a->path == NULL) /* refs and commits keep the order they were found in */
		return a < b ? -1 : (a > b);
	c = strcmp(a->rule, b->rule);
	return c ? c : (a < b ? -1 : (a > b));
}

void gg_report_sort(gg_report *r)
{
	/* qsort is not stable; the address tie-break above keeps insertion order. */
	if (r->n > 1)
		qsort(r->v, r->n, sizeof(*r->v), violation_cmp);
}

void gg_report_free(gg_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		gg_violation *v = &r->v[i];
		free(v->rule);
		free(v->path);
		free(v->ref);
		free(v->commit);
		free(v->message);
		free(v->kind);
		free(v->name);
		free(v->ns);
		free(v->about);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static const char *sev_name(gg_severity s)
{
	return s == GG_SEV_ERROR ? "error" : s == GG_SEV_WARNING ? "warning" : "note";
}

void gg_report_print_text(const gg_report *r, FILE *out, const char *prefix, size_t cap)
{
	/* Over the cap, notes give way: an error must not hide behind a thousand charts' notes. */
	size_t notes = r->n, others = 0;
	for (size_t i = 0; cap && r->n > cap && i < r->n; i++)
		others += r->v[i].severity != GG_SEV_NOTE;
	if (cap && r->n > cap)
		notes = others < cap ? cap - others : 0;
	size_t shown = 0;
	for (size_t i = 0; i < r->n && (!cap || shown < cap); i++) {
		const gg_violation *v = &r->v[i];
		if (v->severity == GG_SEV_NOTE) {
			if (notes == 0)
				continue;
			notes--;
		}
		shown++;
		fprintf(out, "%s%s[", prefix, sev_name(v->severity));
		put_escaped(out, v->rule);
		fputs("] ", out);
		if (v->path) {
			put_escaped(out, v->path);
			fprintf(out, ":%u:%u", v->line, v->col);
		} else if (v->ref)
			put_escaped(out, v->ref);
		else if (v->commit)
			put_escaped(out, v->commit);
		else
			fputs("-", out);
		fputs(": ", out);
		put_escaped(out, v->message);
		fputc('\n', out);
	}
	if (shown < r->n)
		fprintf(out, "%s... and %zu more violations not shown\n", prefix, r->n - shown);
}

int gg_report_print_json(const gg_report *r, FILE *out)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const gg_violation *v = &r->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "rule", json_escaped(v->rule));
		json_object_set_new(o, "severity", json_string(sev_name(v->severity)));
		json_object_set_new(o, "path", v->path ? json_escaped(v->path) : json_null());
		json_object_set_new(o, "line", v->path ? json_integer(v->line) : json_null());
		json_object_set_new(o, "column", v->path ? json_integer(v->col) : json_null());
		json_object_set_new(o, "ref", v->ref ? json_escaped(v->ref) : json_null());
		json_object_set_new(o, "commit", v->commit ? json_escaped(v->commit) : json_null());
		json_object_set_new(o, "kind", v->kind ? json_escaped(v->kind) : json_null());
		json_object_set_new(o, "name", v->name ? json_escaped(v->name) : json_null());
		json_object_set_new(o, "namespace", v->ns ? json_escaped(v->ns) : json_null());
		json_object_set_new(o, "message", json_escaped(v->message));
		json_array_append_new(arr, o);
	}
	int rc = json_dumpf(arr, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(arr);
	return rc;
}

/* What each built-in rule checks; rules of packs and policies bring their own text. */
static const struct {
	const char *id, *text;
} builtin_rules[] = {
    {"syntax", "the file is valid YAML or JSON"},
    {"duplicate-key", "no key is repeated within one mapping"},
    {"limit", "a file stays within the size, depth and node limits"},
    {"deny-deletion", "a push does not delete a Kubernetes resource unless allowed"},
    {"helm-chart", "a Helm chart's Chart.yaml has what Helm requires"},
    {"kustomize", "the files a kustomization names exist in the tree"},
    {"template", "files holding template markers are checked once rendered"},
    {"secret", "no secret (key, token, password) is committed"},
    {"max-size", "files stay under the policy's size limit"},
    {"deny-path", "no file is added at a denied path"},
    {"commit-message", "commit messages match the policy's pattern"},
    {"subject-length", "commit subjects stay under the policy's length"},
    {"author-email", "commit author emails match the policy's pattern"},
    {"signoff", "commits carry a Signed-off-by line"},
    {"signature", "commits and tags carry a valid signature by a trusted key"},
    {"deny-delete", "protected refs are not deleted"},
    {"deny-force-push", "protected refs are not force-pushed"},
    {"deny-update", "immutable refs (tags) are not moved"},
    {"ref-name", "ref names match the policy's pattern"},
};

static const char *rule_about(const gg_violation *v)
{
	if (v->about)
		return v->about;
	for (size_t i = 0; i < GG_ARRAY_LEN(builtin_rules); i++)
		if (!strcmp(builtin_rules[i].id, v->rule))
			return builtin_rules[i].text;
	return "a gitgate policy rule";
}

int gg_report_print_sarif(const gg_report *r, FILE *out)
{
	json_t *rules = json_array(), *results = json_array();
	json_t *seen = json_object();
	for (size_t i = 0; i < r->n; i++) {
		const gg_violation *v = &r->v[i];
		char *rule = gg_report_escape(v->rule, strlen(v->rule));
		json_t *idx = json_object_get(seen, rule);
		if (idx == NULL) {
			idx = json_integer((json_int_t)json_array_size(rules));
			json_object_set_new(seen, rule, idx);
			json_array_append_new(rules,
			                      json_pack("{s:s, s:{s:s}}", "id", rule,
			                                "shortDescription", "text", rule_about(v)));
		}
		json_t *res =
		    json_pack("{s:s, s:O, s:s, s:{s:o}}", "ruleId", rule, "ruleIndex", idx, "level",
		              sev_name(v->severity), "message", "text", json_escaped(v->message));
		free(rule);
		json_t *phys;
		if (v->path) {
			phys = json_pack("{s:{s:o}, s:{s:i, s:i}}", "artifactLocation", "uri",
			                 json_escaped(v->path), "region", "startLine",
			                 v->line ? v->line : 1, "startColumn", v->col ? v->col : 1);
		} else {
			/* Ref and commit findings have no file; SARIF still wants a location. */
			phys = json_pack(
			    "{s:{s:o}}", "artifactLocation", "uri",
			    json_escaped(v->ref ? v->ref : (v->commit ? v->commit : ".")));
		}
		json_t *where = json_pack("{s:o}", "physicalLocation", phys);
		if (v->kind && v->name) {
			/* The object, as kubectl names it: [NAMESPACE/]KIND/NAME. */
			char *fq = v->ns ? gg_printf("%s/%s/%s", v->ns, v->kind, v->name)
			                 : gg_printf("%s/%s", v->kind, v->name);
			json_object_set_new(where, "logicalLocations",
			                    json_pack("[{s:o, s:o, s:s}]", "name",
			                              json_escaped(v->name), "fullyQualifiedName",
			                              json_escaped(fq), "kind", "resource"));
			free(fq);
		}
		json_object_set_new(res, "locations", json_pack("[o]", where));
		json_array_append_new(results, res);
	}
	json_t *doc = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:o}}, s:o}]}", "$schema",
	                        "https://json.schemastore.org/sarif-2.1.0.json", "version", "2.1.0",
	                        "runs", "tool", "driver", "name", "gitgate", "version",
	                        GITGATE_VERSION, "rules", rules, "results", results);
	int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', out);
	json_decref(doc);
	json_decref(seen);
	return rc;
}
