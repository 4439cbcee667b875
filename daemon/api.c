/*
 * The read-only status API under /api/v1/ (documented in docs/daemon.md):
 * targets with their deployed commit, deployments, one deployment with the
 * tail of its log. Protected by the bearer token from api_token_file; without
 * one, served to unix-socket clients only. Loopback clients get in without a
 * token only with api: {allow_loopback_without_token: true}.
 */
#include "gitgated.h"

#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define API_LOG_TAIL      (64 * 1024)
#define API_DEFAULT_LIMIT 50
#define API_MAX_LIMIT     1000

static json_t *time_json(int64_t ms)
{
	if (ms <= 0)
		return json_null();
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[96];
	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

static json_t *str_json(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *gg_api_deployment_json(const gg_deployment *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "target", str_json(d->target));
	json_object_set_new(o, "state", json_string(gg_dep_state_name(d->state)));
	json_object_set_new(o, "source", str_json(d->source));
	json_object_set_new(o, "repo", str_json(d->repo));
	json_object_set_new(o, "ref", str_json(d->ref));
	json_object_set_new(o, "before", str_json(d->before));
	json_object_set_new(o, "after", str_json(d->after));
	json_object_set_new(o, "commit", str_json(d->commit));
	json_object_set_new(o, "pusher", str_json(d->pusher));
	json_object_set_new(o, "delivery", str_json(d->delivery));
	json_object_set_new(o, "clone_url", str_json(d->clone_url));
	json_object_set_new(o, "client", str_json(d->client));
	json_object_set_new(o, "exit_status",
	                    d->exit_status >= 0 ? json_integer(d->exit_status) : json_null());
	json_object_set_new(o, "reason", str_json(d->reason));
	/* The store counts retries; users count runs, the first being 1. */
	json_object_set_new(o, "attempt", json_integer((json_int_t)d->attempt + 1));
	json_object_set_new(o, "created_at", time_json(d->created_at));
	json_object_set_new(o, "started_at", time_json(d->started_at));
	json_object_set_new(o, "finished_at", time_json(d->finished_at));
	json_object_set_new(o, "not_before", time_json(d->not_before));
	return o;
}

int gg_api_authorize(gg_daemon *d, gg_http_req *r)
{
	const gg_dconfig *cfg = d->cfg;
	/*
	 * A loopback peer may be any proxy on the host, forwarding anyone's
	 * request: it is trusted only when the config says so. A unix socket's
	 * own permissions decide who connects to it.
	 */
	if (cfg->api_allow_loopback && r->local)
		return 0;
	if (cfg->api_token == NULL) {
		if (r->unix_peer)
			return 0;
		gg_http_reply_error(r, 403,
		                    "set api_token_file, listen on a unix socket, or set "
		                    "api: {allow_loopback_without_token: true}");
		return -1;
	}
	const char *auth = gg_header_get(r->headers, r->nheaders, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
		const char *tok = auth + 7;
		while (*tok == ' ')
			tok++;
		if (gg_secure_equal(tok, strlen(tok), cfg->api_token, cfg->api_token_len))
			return 0;
	}
	json_t *doc = json_pack("{s:s}", "error", "missing or wrong bearer token");
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	gg_http_reply(r, 401, "application/json", "WWW-Authenticate: Bearer\r\n", text,
	              strlen(text));
	free(text);
	return -1;
}

/* The last API_LOG_TAIL bytes of state_dir/logs/<id>.log; NULL when there is none. */
static json_t *log_tail(gg_daemon *d, int64_t id, bool *truncated)
{
	char *path = gg_printf("%s/logs/%lld.log", d->cfg->state_dir, (long long)id);
	json_t *out = NULL;
	*truncated = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		off_t start = st.st_size > API_LOG_TAIL ? st.st_size - API_LOG_TAIL : 0;
		size_t want = (size_t)(st.st_size - start);
		char *buf = gg_malloc(want + 1);
		ssize_t n = pread(fd, buf, want, start);
		if (n >= 0) {
			size_t skip = 0;
			*truncated = start > 0;
			/* A cut in the middle of a UTF-8 sequence: start at the next character. */
			while (*truncated && skip < (size_t)n && skip < 3 &&
			       ((unsigned char)buf[skip] & 0xc0) == 0x80)
				skip++;
			out = json_stringn(buf + skip, (size_t)n - skip);
			if (out == NULL) {
				/* Not UTF-8 (or NUL bytes): the command's output, shown lossily. */
				for (ssize_t i = 0; i < n; i++)
					if ((unsigned char)buf[i] >= 0x80 || buf[i] == '\0')
						buf[i] = '?';
				out = json_stringn(buf + skip, (size_t)n - skip);
			}
		}
		free(buf);
	}
	close(fd);
	return out;
}

static void api_targets(gg_daemon *d, gg_http_req *r)
{
	json_t *list = json_array();
	for (size_t i = 0; i < d->cfg->ntargets; i++) {
		const gg_dtarget *t = &d->cfg->targets[i];
		json_t *o = json_object();
		char *commit = NULL;
		gg_deployment *last = NULL;
		size_t n = 0;
		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "source", str_json(t->source));
		json_object_set_new(o, "repo", json_string(t->repo));
		json_object_set_new(o, "ref", json_string(t->ref));
		json_object_set_new(o, "kind", json_string(t->checkout ? "checkout" : "run"));
		if (gg_store_last_deployed(&commit, d->store, t->name) == 0)
			json_object_set_new(o, "deployed_commit", str_json(commit));
		else
			json_object_set_new(o, "deployed_commit", json_null());
		free(commit);
		if (gg_store_list(&last, &n, d->store, t->name, 1) == 0 && n == 1) {
			json_object_set_new(o, "state",
			                    json_string(gg_dep_state_name(last->state)));
			json_object_set_new(o, "last_deployment", gg_api_deployment_json(last));
		} else {
			json_object_set_new(o, "state", json_null());
			json_object_set_new(o, "last_deployment", json_null());
		}
		gg_deployments_free(last, n);
		json_array_append_new(list, o);
	}
	gg_http_reply_json(r, 200, json_pack("{s:o}", "targets", list));
}

static void api_deployments(gg_daemon *d, gg_http_req *r)
{
	struct evkeyvalq q;
	q.tqh_first = NULL;
	q.tqh_last = &q.tqh_first;
	const char *target = NULL;
	size_t limit = API_DEFAULT_LIMIT;
	if (r->query && evhttp_parse_query_str(r->query, &q) < 0) {
		gg_http_reply_error(r, 400, "malformed query string");
		return;
	}
	target = evhttp_find_header(&q, "target");
	const char *lim = evhttp_find_header(&q, "limit");
	if (lim) {
		char *end;
		long v = strtol(lim, &end, 10);
		if (*lim == '\0' || *end || v <= 0) {
			evhttp_clear_headers(&q);
			gg_http_reply_error(r, 400, "limit must be a positive integer");
			return;
		}
		limit = v > API_MAX_LIMIT ? API_MAX_LIMIT : (size_t)v;
	}
	gg_deployment *list = NULL;
	size_t n = 0;
	if (gg_store_list(&list, &n, d->store, target, limit) < 0) {
		evhttp_clear_headers(&q);
		gg_http_reply_error(r, 503, "the store cannot be read");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, gg_api_deployment_json(&list[i]));
	gg_deployments_free(list, n);
	evhttp_clear_headers(&q);
	gg_http_reply_json(r, 200, json_pack("{s:o}", "deployments", arr));
}

static void api_deployment(gg_daemon *d, gg_http_req *r, const char *idtext)
{
	char *end;
	errno = 0;
	long long id = strtoll(idtext, &end, 10);
	if (*idtext == '\0' || *end || errno || id <= 0) {
		gg_http_reply_error(r, 404, "no such deployment");
		return;
	}
	gg_deployment *dep = NULL;
	int rc = gg_store_get(&dep, d->store, id);
	if (rc == GG_STORE_NOTFOUND) {
		gg_http_reply_error(r, 404, "no such deployment");
		return;
	}
	if (rc < 0) {
		gg_http_reply_error(r, 503, "the store cannot be read");
		return;
	}
	json_t *o = gg_api_deployment_json(dep);
	bool truncated = false;
	json_t *log = log_tail(d, dep->id, &truncated);
	json_object_set_new(o, "log", log ? log : json_null());
	json_object_set_new(o, "log_truncated", json_boolean(truncated));
	gg_deployment_free(dep);
	gg_http_reply_json(r, 200, o);
}

void gg_api_handle(gg_daemon *d, gg_http_req *r)
{
	if (gg_api_authorize(d, r) < 0)
		return;
	const char *p = r->path;
	if (strcmp(p, "/api/v1/targets") == 0)
		api_targets(d, r);
	else if (strcmp(p, "/api/v1/deployments") == 0)
		api_deployments(d, r);
	else if (strncmp(p, "/api/v1/deployments/", 20) == 0)
		api_deployment(d, r, p + 20);
	else
		gg_http_reply_error(r, 404, "not found");
}
