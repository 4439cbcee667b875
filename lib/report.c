#include "gitgate/report.h"
#include "gitgate/version.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
		fprintf(out, "%s%s[%s] ", prefix, sev_name(v->severity), v->rule);
		if (v->path)
			fprintf(out, "%s:%u:%u", v->path, v->line, v->col);
		else if (v->ref)
			fputs(v->ref, out);
		else if (v->commit)
			fputs(v->commit, out);
		else
			fputs("-", out);
		fprintf(out, ": %s\n", v->message);
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
		json_object_set_new(o, "rule", json_string(v->rule));
		json_object_set_new(o, "severity", json_string(sev_name(v->severity)));
		json_object_set_new(o, "path", v->path ? json_string(v->path) : json_null());
		json_object_set_new(o, "line", v->path ? json_integer(v->line) : json_null());
		json_object_set_new(o, "column", v->path ? json_integer(v->col) : json_null());
		json_object_set_new(o, "ref", v->ref ? json_string(v->ref) : json_null());
		json_object_set_new(o, "commit", v->commit ? json_string(v->commit) : json_null());
		json_object_set_new(o, "kind", v->kind ? json_string(v->kind) : json_null());
		json_object_set_new(o, "name", v->name ? json_string(v->name) : json_null());
		json_object_set_new(o, "namespace", v->ns ? json_string(v->ns) : json_null());
		json_object_set_new(o, "message", json_string(v->message));
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
		json_t *idx = json_object_get(seen, v->rule);
		if (idx == NULL) {
			idx = json_integer((json_int_t)json_array_size(rules));
			json_object_set_new(seen, v->rule, idx);
			json_array_append_new(rules,
			                      json_pack("{s:s, s:{s:s}}", "id", v->rule,
			                                "shortDescription", "text", rule_about(v)));
		}
		json_t *res =
		    json_pack("{s:s, s:O, s:s, s:{s:s}}", "ruleId", v->rule, "ruleIndex", idx,
		              "level", sev_name(v->severity), "message", "text", v->message);
		json_t *phys;
		if (v->path) {
			phys = json_pack("{s:{s:s}, s:{s:i, s:i}}", "artifactLocation", "uri",
			                 v->path, "region", "startLine", v->line ? v->line : 1,
			                 "startColumn", v->col ? v->col : 1);
		} else {
			/* Ref and commit findings have no file; SARIF still wants a location. */
			phys = json_pack("{s:{s:s}}", "artifactLocation", "uri",
			                 v->ref ? v->ref : (v->commit ? v->commit : "."));
		}
		json_t *where = json_pack("{s:o}", "physicalLocation", phys);
		if (v->kind && v->name) {
			/* The object, as kubectl names it: [NAMESPACE/]KIND/NAME. */
			char *fq = v->ns ? gg_printf("%s/%s/%s", v->ns, v->kind, v->name)
			                 : gg_printf("%s/%s", v->kind, v->name);
			json_object_set_new(where, "logicalLocations",
			                    json_pack("[{s:s, s:s, s:s}]", "name", v->name,
			                              "fullyQualifiedName", fq, "kind",
			                              "resource"));
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
