/*
 * Report destinations: their config, and the request each documents for a
 * deployment's state (GitHub, Gitea and Forgejo commit statuses, GitLab
 * commit statuses, signed JSON events).
 */
#include "destination.h"

#include "gitgate/notify.h"
#include "gitgate/util.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const report_kind_names[] = {
    "github", "gitlab", "gitea", "forgejo", "webhook", "bitbucket", "bitbucket-datacenter", "slack",
};

/* Kinds people may expect that gitgate does not report to (yet): refused by name. */
static const char *const unsupported_kinds[] = {"teams", "discord", "gogs", NULL};

static const char *const report_keys[] = {"name",    "kind",       "url",         "token_file",
                                          "ca_file", "target_url", "deployments", NULL};

const char *gg_dest_kind_name(gg_dest_kind k)
{
	return (unsigned)k < GG_ARRAY_LEN(report_kind_names) ? report_kind_names[k] : "unknown";
}

/* The public service's API, for kinds that have one. */
static const char *default_url(gg_dest_kind k)
{
	switch (k) {
	case GG_DEST_GITHUB:
		return "https://api.github.com";
	case GG_DEST_GITLAB:
		return "https://gitlab.com/api/v4";
	case GG_DEST_BITBUCKET:
		return "https://api.bitbucket.org/2.0";
	default:
		return NULL;
	}
}

static const gg_ynode *scalar(gg_yload *c, const gg_ynode *map, const char *key)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	if (v == NULL)
		return NULL;
	if (!gg_yis_scalar(v) || v->type == GG_Y_NULL || v->str == NULL || v->len == 0 ||
	    strlen(v->str) != v->len) {
		gg_yload_err(c, v, "report: '%s' must be a non-empty string", key);
		return NULL;
	}
	return v;
}

/*
 * Whether s is an http(s) URL a request can go to: a host, no credentials
 * (they belong in token_file, and would show wherever the URL does), no
 * spaces or control bytes. *why is static.
 */
static bool url_ok(const char *s, const char **why)
{
	const char *h;
	if (strlen(s) > GG_REPORT_MAX_URL) {
		*why = "is too long";
		return false;
	}
	if (!strncmp(s, "https://", 8))
		h = s + 8;
	else if (!strncmp(s, "http://", 7))
		h = s + 7;
	else {
		*why = "must start with https:// or http://";
		return false;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			*why = "must not contain spaces or control characters";
			return false;
		}
	}
	size_t hl = strcspn(h, "/?#");
	if (hl == 0) {
		*why = "has no host";
		return false;
	}
	if (memchr(h, '@', hl)) {
		*why = "must not carry credentials: put the token in token_file";
		return false;
	}
	if (strchr(s, '#')) {
		*why = "must not have a #fragment";
		return false;
	}
	return true;
}

static bool valid_dest_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static void free_one(gg_dreport *r)
{
	free(r->name);
	free(r->url);
	free(r->token_file);
	if (r->token)
		OPENSSL_cleanse(r->token, r->token_len);
	free(r->token);
	free(r->ca_file);
	free(r->target_url);
}

void gg_dreports_free(gg_dreport *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free_one(&list[i]);
	free(list);
}

static void load_one(gg_yload *c, gg_dreport *r, const gg_ynode *n)
{
	r->line = n->line;
	r->col = n->col;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "a report destination must be a map with 'kind'");
		return;
	}
	gg_yload_check_keys(c, n, "report destination", report_keys);
	const gg_ynode *k = scalar(c, n, "kind");
	if (k == NULL) {
		if (gg_ymap_get(n, "kind") == NULL)
			gg_yload_err(c, n, "report: missing required key 'kind'");
		return;
	}
	size_t i;
	for (i = 0; i < GG_ARRAY_LEN(report_kind_names); i++)
		if (!strcmp(k->str, report_kind_names[i]))
			break;
	if (i == GG_ARRAY_LEN(report_kind_names)) {
		bool known = false;
		for (const char *const *u = unsupported_kinds; *u; u++)
			known = known || !strcmp(*u, k->str);
		gg_yload_err(
		    c, k,
		    "report kind '%s' is %s; the kinds are github, gitlab, gitea, forgejo, "
		    "bitbucket, bitbucket-datacenter, slack (Mattermost and Rocket.Chat "
		    "take the same) and webhook",
		    k->str, known ? "not supported by this version" : "unknown");
		return;
	}
	r->kind = (gg_dest_kind)i;
	const gg_ynode *dep = gg_ymap_get(n, "deployments");
	if (dep && r->kind != GG_DEST_GITHUB)
		gg_yload_err(c, dep, "report: 'deployments' applies to github destinations only");
	else if (dep && dep->type != GG_Y_BOOL)
		gg_yload_err(c, dep, "report: 'deployments' must be true or false");
	else if (dep)
		r->deployments = dep->boolean;

	const gg_ynode *v = scalar(c, n, "name");
	r->name = gg_strdup(v ? v->str : report_kind_names[i]);
	if (v && !valid_dest_name(v->str))
		gg_yload_err(c, v, "report name '%s' must be 1-64 letters, digits, '.', '-' or '_'",
		             v->str);

	const char *why = NULL;
	v = scalar(c, n, "url");
	if (v && !url_ok(v->str, &why))
		gg_yload_err(c, v, "report: 'url' %s", why); /* the URL itself may hold a secret */
	else if (v)
		r->url = gg_strdup(v->str);
	else if (gg_ymap_get(n, "url") == NULL && default_url(r->kind))
		r->url = gg_strdup(default_url(r->kind));
	else if (gg_ymap_get(n, "url") == NULL && r->kind != GG_DEST_SLACK)
		gg_yload_err(c, n, "report: a %s destination needs 'url'", k->str);
	/* An API base ends without a slash: paths are appended. */
	if (r->url && r->kind != GG_DEST_WEBHOOK && r->kind != GG_DEST_SLACK) {
		size_t len = strlen(r->url);
		while (len > 0 && r->url[len - 1] == '/')
			r->url[--len] = '\0';
		if (strchr(r->url, '?'))
			gg_yload_err(c, v, "report: an API base 'url' has no ?query");
	}

	v = scalar(c, n, "token_file");
	if (r->kind == GG_DEST_SLACK) {
		/* The incoming webhook's URL is its secret: in the config, or in token_file. */
		if ((v != NULL) == (gg_ymap_get(n, "url") != NULL))
			gg_yload_err(c, n,
			             "report: a slack destination needs its incoming webhook URL "
			             "in 'url' or, better, in 'token_file', not both");
		if (v) {
			char *err = NULL;
			r->token_file = gg_strdup(v->str);
			if (gg_read_secret_file(&r->token, &r->token_len, v->str, &err) < 0) {
				gg_yload_err(c, v, "%s", err);
				free(err);
			} else if (strlen(r->token) != r->token_len || !url_ok(r->token, &why)) {
				gg_yload_err(c, v, "%s: the incoming webhook URL %s", v->str,
				             strlen(r->token) != r->token_len ? "has NUL bytes"
				                                              : why);
			} else {
				r->url = gg_strdup(r->token);
			}
		}
	} else if (v) {
		char *err = NULL;
		r->token_file = gg_strdup(v->str);
		if (gg_read_secret_file(&r->token, &r->token_len, v->str, &err) < 0) {
			gg_yload_err(c, v, "%s", err);
			free(err);
		} else if (r->token_len == 0 || memchr(r->token, '\n', r->token_len) ||
		           memchr(r->token, '\r', r->token_len) ||
		           strlen(r->token) != r->token_len) {
			gg_yload_err(c, v, "%s: a token is one line of text", v->str);
		}
	} else if (gg_ymap_get(n, "token_file") == NULL) {
		gg_yload_err(c, n, "report: a %s destination needs 'token_file'%s", k->str,
		             r->kind == GG_DEST_WEBHOOK ? " (the key its events are signed with)"
		                                        : "");
	}

	v = scalar(c, n, "ca_file");
	if (v)
		r->ca_file = gg_strdup(v->str);

	v = scalar(c, n, "target_url");
	if (v && (r->kind == GG_DEST_WEBHOOK || r->kind == GG_DEST_SLACK))
		gg_yload_err(c, v, "report: 'target_url' applies to commit statuses, not %s",
		             k->str);
	else if (!v && gg_ymap_get(n, "target_url") == NULL &&
	         (r->kind == GG_DEST_BITBUCKET || r->kind == GG_DEST_BITBUCKET_DC))
		gg_yload_err(c, n,
		             "report: a %s destination needs 'target_url': Bitbucket requires a "
		             "link with every build status",
		             k->str);
	else if (v && !url_ok(v->str, &why))
		gg_yload_err(c, v, "report: 'target_url' %s", why);
	else if (v)
		r->target_url = gg_strdup(v->str);
}

void gg_dest_config(gg_yload *c, const gg_ynode *v, gg_dreport **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (v == NULL)
		return;
	if (v->type != GG_Y_SEQ) {
		gg_yload_err(c, v, "'report' must be a list of destinations");
		return;
	}
	if (v->n > GG_REPORT_MAX_DESTINATIONS) {
		gg_yload_err(c, v, "'report' has more than %d destinations",
		             GG_REPORT_MAX_DESTINATIONS);
		return;
	}
	gg_dreport *list = gg_calloc(v->n ? v->n : 1, sizeof(*list));
	for (uint32_t i = 0; i < v->n; i++) {
		load_one(c, &list[i], v->items[i]);
		for (uint32_t j = 0; list[i].name && j < i; j++)
			if (list[j].name && !strcmp(list[j].name, list[i].name))
				gg_yload_err(
				    c, v->items[i],
				    "report: two destinations named '%s' (first at line %u); "
				    "give one a 'name'",
				    list[i].name, list[j].line);
	}
	*out = list;
	*n = v->n;
}

void gg_dest_request_clear(gg_dest_request *r)
{
	free(r->url);
	free(r->body);
	for (size_t i = 0; i < r->nheaders; i++) {
		if (r->headers[i].value)
			OPENSSL_cleanse(r->headers[i].value, strlen(r->headers[i].value));
		free(r->headers[i].value);
	}
	memset(r, 0, sizeof(*r));
}

static void add_header(gg_dest_request *r, const char *name, char *value)
{
	if (r->nheaders == GG_REPORT_MAX_HEADERS)
		abort(); /* a bug here: more headers than room */
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = value;
	r->nheaders++;
}

/* Percent-encode every byte but RFC 3986's unreserved ones (and '/' when keep_slash). */
static void put_encoded(gg_buf *b, const char *s, bool keep_slash)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
		    (keep_slash && ch == '/'))
			gg_buf_putc(b, (char)ch);
		else
			gg_buf_printf(b, "%%%02X", ch);
	}
}

static bool is_commit_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "owner/name" with neither part empty nor "." or "..": what a forge's path can hold. */
static bool repo_ok(const char *repo)
{
	const char *slash = repo ? strchr(repo, '/') : NULL;
	if (slash == NULL || slash == repo || slash[1] == '\0' || strlen(repo) > 512)
		return false;
	for (const char *seg = repo; seg;) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg = end ? end + 1 : NULL;
	}
	return true;
}

/* What people read next to the status: the state, and why when there is a reason. */
static char *describe(const gg_deployment *d, gg_dep_state st)
{
	const char *what;
	switch (st) {
	case GG_DEP_QUEUED:
		what = "queued";
		break;
	case GG_DEP_RUNNING:
		what = "deploying";
		break;
	case GG_DEP_SUCCEEDED:
		what = "deployed";
		break;
	case GG_DEP_FAILED:
		what = "deployment failed";
		break;
	case GG_DEP_TIMED_OUT:
		what = "deployment timed out";
		break;
	case GG_DEP_SUPERSEDED:
		what = "superseded: a newer push was deployed instead";
		break;
	case GG_DEP_CANCELED:
		what = "canceled";
		break;
	case GG_DEP_REFUSED:
		what = "refused";
		break;
	default:
		what = "unknown";
	}
	gg_buf b = {0};
	gg_buf_printf(&b, "%s", what);
	if (st != GG_DEP_QUEUED && st != GG_DEP_RUNNING && st != GG_DEP_SUCCEEDED &&
	    st != GG_DEP_SUPERSEDED && d->reason && d->reason[0])
		gg_buf_printf(&b, ": %s", d->reason);
	if (st != GG_DEP_QUEUED && st != GG_DEP_RUNNING && d->started_at > 0 &&
	    d->finished_at >= d->started_at)
		gg_buf_printf(&b, " (%llds)", (long long)((d->finished_at - d->started_at) / 1000));
	char *s = gg_buf_detach(&b);
	/* Cut at a character boundary, with control bytes made spaces. */
	size_t len = strlen(s);
	if (len > GG_REPORT_MAX_DESCRIPTION) {
		len = GG_REPORT_MAX_DESCRIPTION;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
		s[len] = '\0';
	}
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	return s;
}

/*
 * A replay of the commit the target already runs is refused, and yet that
 * commit is deployed: its status says so rather than an error.
 */
static bool refused_but_deployed(const gg_deployment *d, gg_dep_state st)
{
	return st == GG_DEP_REFUSED && d->reason && !strcmp(d->reason, GG_REPLAY_DEPLOYED);
}

/* GitHub, Gitea and Forgejo: pending, success, failure, error. */
static const char *github_state(const gg_deployment *d, gg_dep_state st)
{
	switch (st) {
	case GG_DEP_QUEUED:
	case GG_DEP_RUNNING:
		return "pending";
	case GG_DEP_SUCCEEDED:
		return "success";
	case GG_DEP_FAILED:
	case GG_DEP_TIMED_OUT:
		return "failure";
	case GG_DEP_REFUSED:
		return refused_but_deployed(d, st) ? "success" : "error";
	default:
		return "error";
	}
}

/* GitLab: pending, running, success, failed, canceled. */
static const char *gitlab_state(const gg_deployment *d, gg_dep_state st)
{
	switch (st) {
	case GG_DEP_QUEUED:
		return "pending";
	case GG_DEP_RUNNING:
		return "running";
	case GG_DEP_SUCCEEDED:
		return "success";
	case GG_DEP_SUPERSEDED:
	case GG_DEP_CANCELED:
		return "canceled";
	case GG_DEP_REFUSED:
		return refused_but_deployed(d, st) ? "success" : "failed";
	default:
		return "failed";
	}
}

/* Bitbucket Cloud: INPROGRESS, SUCCESSFUL, FAILED, STOPPED; Data Center has CANCELLED for STOPPED.
 */
static const char *bitbucket_state(const gg_deployment *d, gg_dep_state st, bool dc)
{
	switch (st) {
	case GG_DEP_QUEUED:
	case GG_DEP_RUNNING:
		return "INPROGRESS";
	case GG_DEP_SUCCEEDED:
		return "SUCCESSFUL";
	case GG_DEP_SUPERSEDED:
	case GG_DEP_CANCELED:
		return dc ? "CANCELLED" : "STOPPED";
	case GG_DEP_REFUSED:
		return refused_but_deployed(d, st) ? "SUCCESSFUL" : "FAILED";
	default:
		return "FAILED";
	}
}

/* Text for a chat message: Slack's three escapes, so that no payload can mention or link. */
static void put_chat(gg_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '&')
			gg_buf_puts(b, "&amp;");
		else if (*s == '<')
			gg_buf_puts(b, "&lt;");
		else if (*s == '>')
			gg_buf_puts(b, "&gt;");
		else if ((unsigned char)*s < ' ' || *s == 0x7f)
			gg_buf_putc(b, ' ');
		else
			gg_buf_putc(b, *s);
	}
}

/* One line for people: target, state, repository and ref, commit, pusher, duration. */
static char *chat_text(const char *target, const gg_deployment *d, const gg_report_event *ev)
{
	gg_buf b = {0};
	char *what = describe(d, ev->state);
	gg_buf_puts(&b, "gitgate/");
	put_chat(&b, target);
	gg_buf_puts(&b, ": ");
	put_chat(&b, what);
	free(what);
	if (d->repo) {
		gg_buf_puts(&b, " | ");
		put_chat(&b, d->repo);
	}
	if (d->ref) {
		gg_buf_puts(&b, " ");
		put_chat(&b, d->ref);
	}
	if (d->after) {
		gg_buf_puts(&b, " @ ");
		gg_buf_printf(&b, "%.12s", d->after);
		/* (a commit id is hex; anything else was escaped above or is cut here) */
	}
	if (d->pusher) {
		gg_buf_puts(&b, " by ");
		put_chat(&b, d->pusher);
	}
	gg_buf_printf(&b, " (deployment %lld)", (long long)d->id);
	return gg_buf_detach(&b);
}

/* target_url with {target}, {id} and {commit} filled in (values URL-encoded). */
static char *expand_link(const char *tmpl, const char *target, const gg_deployment *d)
{
	gg_buf b = {0};
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)d->id);
	for (const char *p = tmpl; *p;) {
		if (!strncmp(p, "{target}", 8)) {
			put_encoded(&b, target, false);
			p += 8;
		} else if (!strncmp(p, "{id}", 4)) {
			gg_buf_puts(&b, id);
			p += 4;
		} else if (!strncmp(p, "{commit}", 8)) {
			put_encoded(&b, d->after ? d->after : "", false);
			p += 8;
		} else {
			gg_buf_putc(&b, *p++);
		}
	}
	return gg_buf_detach(&b);
}

static char *dump(json_t *doc, size_t *len)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	*len = s ? strlen(s) : 0;
	return s;
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int build_webhook(gg_dest_request *out, const gg_dreport *r, const char *target,
                         const gg_deployment *d, const gg_report_event *ev)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "event", json_string("deployment"));
	json_object_set_new(doc, "target", json_string(target));
	json_object_set_new(doc, "deployment", json_integer(d->id));
	json_object_set_new(doc, "state", json_string(gg_dep_state_name(ev->state)));
	json_object_set_new(doc, "at", json_integer(ev->at));
	json_object_set_new(doc, "source", str_or_null(d->source));
	json_object_set_new(doc, "repository", str_or_null(d->repo));
	json_object_set_new(doc, "ref", str_or_null(d->ref));
	json_object_set_new(doc, "before", str_or_null(d->before));
	json_object_set_new(doc, "after", str_or_null(d->after));
	json_object_set_new(doc, "commit", str_or_null(d->commit));
	json_object_set_new(doc, "pusher", str_or_null(d->pusher));
	json_object_set_new(doc, "delivery", str_or_null(d->delivery));
	json_object_set_new(doc, "attempt", json_integer(d->attempt));
	/* The reason and exit status are those of the deployment's final state. */
	bool final = ev->state != GG_DEP_QUEUED && ev->state != GG_DEP_RUNNING;
	json_object_set_new(doc, "reason", final ? str_or_null(d->reason) : json_null());
	json_object_set_new(doc, "exit_status",
	                    final && d->exit_status >= 0 ? json_integer(d->exit_status)
	                                                 : json_null());
	json_object_set_new(doc, "duration_ms",
	                    final && d->started_at > 0 && d->finished_at >= d->started_at
	                        ? json_integer(d->finished_at - d->started_at)
	                        : json_null());
	out->body = dump(doc, &out->body_len);
	if (out->body == NULL)
		return -1;
	out->url = gg_strdup(r->url);
	char sig[72];
	gg_notify_sign(sig, r->token, r->token_len, out->body, out->body_len);
	add_header(out, "X-Gitgate-Signature", gg_strdup(sig));
	add_header(out, "X-Gitgate-Event", gg_strdup("deployment"));
	/* The same for every attempt of one report, so that a receiver can drop repeats. */
	add_header(out, "X-Gitgate-Delivery",
	           gg_printf("report-%s-%s-%lld", target, r->name, (long long)ev->id));
	return 0;
}

static int build_bitbucket(gg_dest_request *out, const gg_dreport *r, const char *target,
                           const gg_deployment *d, const gg_report_event *ev)
{
	bool dc = r->kind == GG_DEST_BITBUCKET_DC;
	const char *slash = strchr(d->repo, '/');
	char *owner = gg_strndup(d->repo, (size_t)(slash - d->repo));
	gg_buf url = {0};
	gg_buf_puts(&url, r->url);
	if (dc) {
		gg_buf_puts(&url, "/rest/api/latest/projects/");
		put_encoded(&url, owner, false);
		gg_buf_puts(&url, "/repos/");
		put_encoded(&url, slash + 1, false);
		gg_buf_printf(&url, "/commits/%s/builds", d->after);
	} else {
		gg_buf_puts(&url, "/repositories/");
		put_encoded(&url, owner, false);
		gg_buf_puts(&url, "/");
		put_encoded(&url, slash + 1, false);
		gg_buf_printf(&url, "/commit/%s/statuses/build", d->after);
	}
	free(owner);
	char *key = gg_printf("gitgate-%s", target);
	char *name = gg_printf("gitgate/%s", target);
	char *description = describe(d, ev->state);
	char *link = expand_link(r->target_url, target, d);
	json_t *doc = json_object();
	json_object_set_new(doc, "key", json_string(key));
	json_object_set_new(doc, "state", json_string(bitbucket_state(d, ev->state, dc)));
	json_object_set_new(doc, "name", json_string(name));
	json_object_set_new(doc, "url", json_string(link));
	json_object_set_new(doc, "description", json_string(description));
	free(key);
	free(name);
	free(description);
	free(link);
	out->url = gg_buf_detach(&url);
	out->body = dump(doc, &out->body_len);
	add_header(out, "Authorization", gg_printf("Bearer %s", r->token));
	return out->body ? 0 : -1;
}

/* GitHub deployment statuses: queued, in_progress, success, failure, error, inactive. */
static const char *github_deployment_state(const gg_deployment *d, gg_dep_state st)
{
	switch (st) {
	case GG_DEP_QUEUED:
		return "queued";
	case GG_DEP_RUNNING:
		return "in_progress";
	case GG_DEP_SUCCEEDED:
		return "success";
	case GG_DEP_FAILED:
	case GG_DEP_TIMED_OUT:
		return "failure";
	case GG_DEP_SUPERSEDED:
	case GG_DEP_CANCELED:
		return "inactive";
	case GG_DEP_REFUSED:
		return refused_but_deployed(d, st) ? "success" : "error";
	default:
		return "error";
	}
}

/*
 * GitHub Deployments: the first request of a deployment creates it (ref: the
 * commit, environment: the target), every state is a deployment status.
 */
static int build_github_deployment(gg_dest_request *out, const gg_dreport *r, const char *target,
                                   const gg_deployment *d, const gg_report_event *ev,
                                   int64_t remote_id)
{
	gg_buf url = {0};
	json_t *doc = json_object();
	gg_buf_puts(&url, r->url);
	gg_buf_puts(&url, "/repos/");
	put_encoded(&url, d->repo, true);
	char *description = describe(d, ev->state);
	if (remote_id <= 0) {
		char *what = gg_printf("gitgate deployment %lld", (long long)d->id);
		gg_buf_puts(&url, "/deployments");
		json_object_set_new(doc, "ref", json_string(d->after));
		json_object_set_new(doc, "environment", json_string(target));
		json_object_set_new(doc, "task", json_string("deploy"));
		json_object_set_new(doc, "description", json_string(what));
		/* gitgate deploys what was pushed: no merge, no waiting for other checks. */
		json_object_set_new(doc, "auto_merge", json_false());
		json_object_set_new(doc, "required_contexts", json_array());
		json_object_set_new(doc, "payload",
		                    json_pack("{s:I}", "gitgate_deployment", (json_int_t)d->id));
		free(what);
		out->creates = true;
	} else {
		gg_buf_printf(&url, "/deployments/%lld/statuses", (long long)remote_id);
		json_object_set_new(doc, "state",
		                    json_string(github_deployment_state(d, ev->state)));
		json_object_set_new(doc, "environment", json_string(target));
		json_object_set_new(doc, "description", json_string(description));
		if (r->target_url) {
			char *link = expand_link(r->target_url, target, d);
			json_object_set_new(doc, "log_url", json_string(link));
			free(link);
		}
	}
	free(description);
	out->url = gg_buf_detach(&url);
	out->body = dump(doc, &out->body_len);
	add_header(out, "Authorization", gg_printf("Bearer %s", r->token));
	add_header(out, "Accept", gg_strdup("application/vnd.github+json"));
	add_header(out, "X-GitHub-Api-Version", gg_strdup("2022-11-28"));
	return out->body ? 0 : -1;
}

int gg_dest_created_id(int64_t *id, const char *body, size_t len)
{
	json_t *doc = json_loadb(body, len, 0, NULL);
	json_t *v = json_object_get(doc, "id");
	int rc = json_is_integer(v) && json_integer_value(v) > 0 ? 0 : -1;
	*id = rc == 0 ? json_integer_value(v) : 0;
	json_decref(doc);
	return rc;
}

static int build_slack(gg_dest_request *out, const gg_dreport *r, const char *target,
                       const gg_deployment *d, const gg_report_event *ev)
{
	char *text = chat_text(target, d, ev);
	json_t *doc = json_object();
	json_object_set_new(doc, "text", json_string(text));
	free(text);
	out->url = gg_strdup(r->url);
	out->body = dump(doc, &out->body_len);
	return out->body ? 0 : -1;
}

int gg_dest_build(gg_dest_request *out, const gg_dreport *r, const char *target,
                  const gg_deployment *d, const gg_report_event *ev, int64_t remote_id, char **err)
{
	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (r->kind == GG_DEST_WEBHOOK || r->kind == GG_DEST_SLACK) {
		if ((r->kind == GG_DEST_WEBHOOK ? build_webhook(out, r, target, d, ev)
		                                : build_slack(out, r, target, d, ev)) < 0)
			goto fail;
		return 0;
	}
	if (!is_commit_id(d->after)) {
		*err = gg_printf("deployment %lld has no commit id to put a status on",
		                 (long long)d->id);
		return -1;
	}
	if (!repo_ok(d->repo)) {
		*err = gg_printf("deployment %lld: repository name is not owner/name",
		                 (long long)d->id);
		return -1;
	}
	if (r->kind != GG_DEST_GITLAB && strchr(strchr(d->repo, '/') + 1, '/')) {
		*err = gg_printf(
		    "deployment %lld: a %s repository name is owner/name, not a group path",
		    (long long)d->id, gg_dest_kind_name(r->kind));
		return -1;
	}
	if (r->kind == GG_DEST_GITHUB && r->deployments) {
		if (build_github_deployment(out, r, target, d, ev, remote_id) < 0)
			goto fail;
		return 0;
	}
	if (r->kind == GG_DEST_BITBUCKET || r->kind == GG_DEST_BITBUCKET_DC) {
		if (build_bitbucket(out, r, target, d, ev) < 0)
			goto fail;
		return 0;
	}
	char *description = describe(d, ev->state);
	char *context = gg_printf("gitgate/%s", target);
	char *link = r->target_url ? expand_link(r->target_url, target, d) : NULL;
	json_t *doc = json_object();
	gg_buf url = {0};
	gg_buf_puts(&url, r->url);
	if (r->kind == GG_DEST_GITLAB) {
		gg_buf_puts(&url, "/projects/");
		put_encoded(&url, d->repo, false);
		gg_buf_puts(&url, "/statuses/");
		gg_buf_puts(&url, d->after);
		json_object_set_new(doc, "state", json_string(gitlab_state(d, ev->state)));
		json_object_set_new(doc, "name", json_string(context));
		if (d->ref && !strncmp(d->ref, "refs/heads/", 11))
			json_object_set_new(doc, "ref", json_string(d->ref + 11));
		else if (d->ref && !strncmp(d->ref, "refs/tags/", 10))
			json_object_set_new(doc, "ref", json_string(d->ref + 10));
		add_header(out, "PRIVATE-TOKEN", gg_strdup(r->token));
	} else {
		gg_buf_puts(&url, "/repos/");
		put_encoded(&url, d->repo, true);
		gg_buf_puts(&url, "/statuses/");
		gg_buf_puts(&url, d->after);
		json_object_set_new(doc, "state", json_string(github_state(d, ev->state)));
		json_object_set_new(doc, "context", json_string(context));
		if (r->kind == GG_DEST_GITHUB) {
			add_header(out, "Authorization", gg_printf("Bearer %s", r->token));
			add_header(out, "Accept", gg_strdup("application/vnd.github+json"));
			add_header(out, "X-GitHub-Api-Version", gg_strdup("2022-11-28"));
		} else {
			add_header(out, "Authorization", gg_printf("token %s", r->token));
		}
	}
	json_object_set_new(doc, "description", json_string(description));
	if (link)
		json_object_set_new(doc, "target_url", json_string(link));
	free(description);
	free(context);
	free(link);
	out->url = gg_buf_detach(&url);
	out->body = dump(doc, &out->body_len);
	if (out->body == NULL)
		goto fail;
	return 0;
fail:
	gg_dest_request_clear(out);
	*err = gg_printf("cannot encode the report");
	return -1;
}
