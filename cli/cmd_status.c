/*
 * gitgate status [--url URL] [--token-file FILE] [--json] [--target T] [--limit N]:
 * every target's deployed commit and state (and who paused it), then the
 * latest deployments, from gitgated's /api/v1/. With --drift, each checkout
 * target's live release compared with its commit instead (exit 1 when one
 * drifted). Exit 2 when the daemon cannot be reached or refuses.
 */
#include "cli.h"
#include "gitgate/httpc.h"
#include "gitgate/notify.h"
#include "gitgate/report.h"
#include "gitgate/util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_DEFAULT_URL   "http://127.0.0.1:8080"
#define STATUS_TIMEOUT_MS    10000
#define STATUS_DEFAULT_LIMIT 10
#define STATUS_SHORT_COMMIT  12

const char gg_usage_status[] = "gitgate status [--url URL] [--token-file FILE] [--json] "
                               "[--target NAME] [--limit N]\n"
                               "gitgate status --drift [--url URL] [--token-file FILE] "
                               "[--json] [--target NAME]\n"
                               "gitgate status --hooks DIR...\n";

static void status_usage(FILE *f)
{
	gg_cli_usage(f, gg_usage_status);
	fprintf(f, "URL defaults to $GITGATE_URL, else " STATUS_DEFAULT_URL "\n");
}

/* GET path; *out is the parsed JSON document. 0, or -1 after saying why. */
static int api_get(json_t **out, const char *url, const char *path, const char *auth)
{
	gg_httpc_header h[] = {{"Accept", "application/json"}, {"Authorization", auth}};
	gg_httpc_response *r = NULL;
	char *err = NULL;
	*out = NULL;
	int rc = gg_httpc_request(&r, "GET", url, path, h, auth ? 2 : 1, NULL, 0, STATUS_TIMEOUT_MS,
	                          &err);
	if (rc < 0) {
		fprintf(stderr, "gitgate: cannot reach gitgated at %s: %s\n", url, err);
		free(err);
		return -1;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(r->body, r->body_len, 0, &jerr);
	if (r->status != 200) {
		const char *msg = doc ? json_string_value(json_object_get(doc, "error")) : NULL;
		fprintf(stderr, "gitgate: %s%s answered %d%s%s\n", url, path, r->status,
		        msg ? ": " : "", msg ? msg : "");
		json_decref(doc);
		gg_httpc_response_free(r);
		return -1;
	}
	gg_httpc_response_free(r);
	if (doc == NULL) {
		fprintf(stderr, "gitgate: %s%s: not JSON: %s\n", url, path, jerr.text);
		return -1;
	}
	*out = doc;
	return 0;
}

static const char *field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		return json_string_value(v);
	return "-";
}

static char *short_commit(const char *c)
{
	if (c == NULL || !strcmp(c, "-"))
		return gg_strdup("-");
	return gg_strndup(c, STATUS_SHORT_COMMIT);
}

/* A table: rows of cells, printed with every column as wide as its widest cell. */
typedef struct {
	char **cells;
	size_t ncols, nrows;
} table;

static void table_add(table *t, const char **row)
{
	t->cells = gg_reallocarray(t->cells, (t->nrows + 1) * t->ncols, sizeof(char *));
	/* Cells come from the daemon, some from pushes and forges: never a terminal control. */
	for (size_t c = 0; c < t->ncols; c++) {
		const char *v = row[c] ? row[c] : "-";
		t->cells[t->nrows * t->ncols + c] = gg_report_escape(v, strlen(v));
	}
	t->nrows++;
}

static void table_print(table *t)
{
	size_t *w = gg_calloc(t->ncols, sizeof(*w));
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				printf("%s\n", cell);
			else
				printf("%-*s  ", (int)w[c], cell);
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
}

/* A row of the targets table: name and kind, then o's state, deployed commit and last one. */
static void target_row(table *t, const char *name, const char *kind, json_t *o)
{
	json_t *last = json_object_get(o, "last_deployment");
	char *commit = short_commit(field(o, "deployed_commit"));
	char *lastdesc =
	    json_is_object(last)
	        ? gg_printf("#%lld %s", (long long)json_integer_value(json_object_get(last, "id")),
	                    field(last, "created_at"))
	        : gg_strdup("-");
	const char *row[] = {name, kind, field(o, "state"), commit, lastdesc};
	table_add(t, row);
	free(commit);
	free(lastdesc);
}

static void print_targets(json_t *targets)
{
	table t = {NULL, 5, 0};
	const char *head[] = {"TARGET", "KIND", "STATE", "DEPLOYED", "LAST DEPLOYMENT"};
	table_add(&t, head);
	size_t i;
	json_t *o;
	json_array_foreach(targets, i, o)
	{
		json_t *placed = json_object_get(o, "replicas");
		if (!json_is_array(placed)) {
			target_row(&t, field(o, "name"), field(o, "kind"), o);
			continue;
		}
		/* on: each: what is live on every replica, one row each (TARGET@REPLICA). */
		size_t k;
		json_t *p;
		json_array_foreach(placed, k, p)
		{
			char *name = gg_printf("%s@%s", field(o, "name"), field(p, "replica"));
			target_row(&t, name, field(o, "kind"), p);
			free(name);
		}
	}
	table_print(&t);
}

/* One line per paused target: since when and by whom. */
static void print_paused(json_t *targets)
{
	size_t i;
	json_t *o;
	bool first = true;
	json_array_foreach(targets, i, o)
	{
		json_t *p = json_object_get(o, "paused");
		if (!json_is_object(p))
			continue;
		const char *by = field(p, "by");
		char *shown = gg_report_escape(by, strlen(by));
		printf("%s%s is paused since %s by %s\n", first ? "\n" : "", field(o, "name"),
		       field(p, "since"), shown);
		free(shown);
		first = false;
	}
}

/*
 * The last report to each destination of each target, and its error: only
 * when some target reports. The error may quote a forge's answer: escaped.
 */
static void print_reports(json_t *targets)
{
	table t = {NULL, 7, 0};
	const char *head[] = {"TARGET", "REPORT", "KIND", "STATE", "RESULT", "PENDING", "ERROR"};
	table_add(&t, head);
	size_t i, j;
	json_t *o, *rep;
	json_array_foreach(targets, i, o)
	{
		json_array_foreach(json_object_get(o, "reports"), j, rep)
		{
			const char *e = field(rep, "error");
			char *err = gg_report_escape(e, strlen(e));
			char *result =
			    strcmp(field(rep, "at"), "-")
			        ? gg_printf("%s %s", field(rep, "result"), field(rep, "at"))
			        : gg_strdup("-");
			char pending[32];
			snprintf(pending, sizeof(pending), "%lld",
			         (long long)json_integer_value(json_object_get(rep, "pending")));
			const char *row[] = {field(o, "name"),
			                     field(rep, "destination"),
			                     field(rep, "kind"),
			                     field(rep, "state"),
			                     result,
			                     pending,
			                     err};
			table_add(&t, row);
			free(err);
			free(result);
		}
	}
	if (t.nrows > 1) {
		printf("\n");
		table_print(&t);
	} else {
		for (size_t k = 0; k < t.nrows * t.ncols; k++)
			free(t.cells[k]);
		free(t.cells);
	}
}

static void put_escaped(const char *prefix, const char *s)
{
	char *shown = gg_report_escape(s, strlen(s));
	printf("%s%s\n", prefix, shown);
	free(shown);
}

/*
 * status --drift: GET each checkout target's drift and print it (or gather
 * it into one JSON document). GG_EXIT_VIOLATIONS when a release drifted.
 */
static int print_drift(json_t *targets, const char *url, const char *auth, bool as_json)
{
	int rc = GG_EXIT_OK;
	json_t *all = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(targets, i, o)
	{
		const char *name = field(o, "name");
		if (strcmp(field(o, "kind"), "checkout") != 0) {
			if (!as_json)
				printf("%s: a run target (drift is undone by its reconcile, not "
				       "checked)\n",
				       name);
			continue;
		}
		if (json_is_null(json_object_get(o, "deployed_commit"))) {
			if (!as_json)
				printf("%s: nothing deployed yet\n", name);
			continue;
		}
		char *path = gg_printf("/api/v1/targets/%s/drift", name);
		json_t *doc = NULL;
		int got = api_get(&doc, url, path, auth);
		free(path);
		if (got < 0) {
			rc = GG_EXIT_ERROR;
			continue;
		}
		bool drifted = json_is_true(json_object_get(doc, "drifted"));
		if (drifted && rc == GG_EXIT_OK)
			rc = GG_EXIT_VIOLATIONS;
		if (as_json) {
			json_array_append(all, doc);
			json_decref(doc);
			continue;
		}
		char *commit = short_commit(field(doc, "commit"));
		if (!drifted) {
			printf("%s: no drift from %s (%lld files)\n", name, commit,
			       (long long)json_integer_value(json_object_get(doc, "files")));
		} else {
			printf("%s: drifted from %s: %lld path(s)\n", name, commit,
			       (long long)json_integer_value(json_object_get(doc, "total")));
			if (json_is_true(json_object_get(doc, "missing")))
				printf("  the live release is missing\n");
			if (json_is_true(json_object_get(doc, "switched")))
				put_escaped("  the live symlink points at ", field(doc, "release"));
			size_t k;
			json_t *e;
			json_array_foreach(json_object_get(doc, "paths"), k, e)
			{
				char *pre = gg_printf("  %-8s ", field(e, "change"));
				put_escaped(pre, field(e, "path"));
				free(pre);
			}
			if (json_is_true(json_object_get(doc, "truncated")))
				printf("  ... and more\n");
		}
		free(commit);
		json_decref(doc);
	}
	if (as_json) {
		json_t *top = json_pack("{s:o}", "drift", all);
		char *text = json_dumps(top, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
		json_decref(top);
	} else {
		json_decref(all);
	}
	return rc;
}

static void print_deployments(json_t *deps)
{
	table t = {NULL, 8, 0};
	const char *head[] = {"ID",      "TARGET",  "STATE",   "COMMIT",
	                      "ATTEMPT", "CREATED", "REPLICA", "REASON"};
	table_add(&t, head);
	size_t i;
	json_t *o;
	json_array_foreach(deps, i, o)
	{
		char id[32], attempt[32];
		snprintf(id, sizeof(id), "%lld",
		         (long long)json_integer_value(json_object_get(o, "id")));
		snprintf(attempt, sizeof(attempt), "%lld",
		         (long long)json_integer_value(json_object_get(o, "attempt")));
		const char *c = field(o, "commit");
		char *commit = short_commit(strcmp(c, "-") ? c : field(o, "after"));
		const char *row[] = {
		    id,      field(o, "target"),     field(o, "state"),   commit,
		    attempt, field(o, "created_at"), field(o, "replica"), field(o, "reason")};
		table_add(&t, row);
		free(commit);
	}
	table_print(&t);
}

/* The daemons sharing the store, with their last heartbeat. */
static void print_replicas(json_t *doc)
{
	json_t *list = json_object_get(doc, "replicas");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return;
	table t = {NULL, 3, 0};
	const char *head[] = {"REPLICA", "STARTED", "LAST HEARTBEAT"};
	table_add(&t, head);
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		char *name =
		    gg_printf("%s%s", field(o, "name"),
		              json_is_true(json_object_get(o, "self")) ? " (answering)" : "");
		const char *row[] = {name, field(o, "started_at"), field(o, "last_heartbeat")};
		table_add(&t, row);
		free(name);
	}
	printf("\n");
	table_print(&t);
}

/*
 * Keep only the target named name in the daemon's {"targets": [...]}; -1, after
 * saying which targets there are, when the daemon has none of that name.
 */
static int only_target(json_t *doc, const char *name)
{
	json_t *list = json_object_get(doc, "targets");
	json_t *keep = json_array();
	gg_buf names = GG_BUF_INIT;
	size_t i;
	json_t *o;
	json_array_foreach(list, i, o)
	{
		const char *n = field(o, "name");
		if (!strcmp(n, name))
			json_array_append(keep, o);
		gg_buf_printf(&names, "%s%s", names.len ? ", " : "", n);
	}
	int rc = 0;
	if (json_array_size(keep) == 0) {
		fprintf(stderr,
		        "gitgate: status: the daemon has no target named '%s' (targets: %s)\n",
		        name, names.len ? names.ptr : "none");
		rc = -1;
	} else {
		json_object_set(doc, "targets", keep);
	}
	json_decref(keep);
	gg_buf_free(&names);
	return rc;
}

int gg_cmd_status(int argc, char **argv)
{
	const char *url = getenv("GITGATE_URL");
	const char *token_file = NULL, *target = NULL;
	bool as_json = false, drift = false;
	long limit = STATUS_DEFAULT_LIMIT;
	if (argc > 1 && !strcmp(argv[1], "--hooks")) /* the repositories' hooks, not the daemon */
		return gg_cmd_hooks_check(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--url") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
			token_file = argv[++i];
		else if (!strcmp(argv[i], "--target") && i + 1 < argc)
			target = argv[++i];
		else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			char *end;
			limit = strtol(argv[++i], &end, 10);
			if (*end || limit <= 0 || limit > 1000) {
				fprintf(stderr, "gitgate status: --limit takes 1 to 1000\n");
				return GG_EXIT_ERROR;
			}
		} else if (!strcmp(argv[i], "--json"))
			as_json = true;
		else if (!strcmp(argv[i], "--drift"))
			drift = true;
		else if (gg_cli_is_help(argv[i])) {
			status_usage(stdout);
			return GG_EXIT_OK;
		} else {
			fprintf(stderr, "gitgate status: unexpected argument %s\n", argv[i]);
			status_usage(stderr);
			return GG_EXIT_ERROR;
		}
	}
	if (url == NULL || *url == '\0')
		url = STATUS_DEFAULT_URL;

	int rc = GG_EXIT_ERROR;
	char *auth = NULL, *token = NULL, *err = NULL, *q = NULL;
	size_t token_len = 0;
	json_t *targets = NULL, *deps = NULL, *all = NULL, *replicas = NULL;
	if (token_file) {
		if (gg_read_secret_file(&token, &token_len, token_file, &err) < 0) {
			fprintf(stderr, "gitgate: %s\n", err);
			goto done;
		}
		auth = gg_printf("Bearer %s", token);
	}
	if (api_get(&targets, url, "/api/v1/targets", auth) < 0)
		goto done;
	if (target && only_target(targets, target) < 0) {
		rc = GG_EXIT_VIOLATIONS;
		goto done;
	}
	if (drift) {
		rc = print_drift(json_object_get(targets, "targets"), url, auth, as_json);
		goto done;
	}
	gg_buf b = GG_BUF_INIT;
	gg_buf_printf(&b, "/api/v1/deployments?limit=%ld", limit);
	if (target) {
		/* Target names are plain; anything else is escaped. */
		gg_buf_puts(&b, "&target=");
		for (const char *p = target; *p; p++) {
			unsigned char ch = (unsigned char)*p;
			if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
				gg_buf_putc(&b, (char)ch);
			else
				gg_buf_printf(&b, "%%%02X", ch);
		}
	}
	q = gg_buf_detach(&b);
	if (api_get(&deps, url, q, auth) < 0)
		goto done;
	if (as_json) {
		all = json_pack("{s:O,s:O}", "targets", json_object_get(targets, "targets"),
		                "deployments", json_object_get(deps, "deployments"));
		char *text = json_dumps(all, JSON_INDENT(2));
		printf("%s\n", text);
		free(text);
	} else {
		print_targets(json_object_get(targets, "targets"));
		print_paused(json_object_get(targets, "targets"));
		print_reports(json_object_get(targets, "targets"));
		if (api_get(&replicas, url, "/api/v1/replicas", auth) == 0)
			print_replicas(replicas);
		printf("\n");
		print_deployments(json_object_get(deps, "deployments"));
	}
	rc = GG_EXIT_OK;
done:
	if (token) {
		OPENSSL_cleanse(token, token_len);
		free(token);
	}
	if (auth) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	free(err);
	free(q);
	json_decref(targets);
	json_decref(deps);
	json_decref(replicas);
	json_decref(all);
	return rc;
}
