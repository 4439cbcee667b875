/*
 * The status API under /api/v1/ (documented in docs/daemon.md): targets
 * with their deployed commit, deployments, one deployment with the tail of
 * its log, a checkout target's drift; and the only writes, pausing and
 * resuming a target. Protected by the bearer token from api_token_file; without
 * one, served to unix-socket clients only. Loopback clients get in without a
 * token only with api: {allow_loopback_without_token: true}.
 */
#include "gitgated.h"
#include "destination.h"
#include "log.h"
#include "placement.h"
#include "reconcile.h"

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
/* Who pauses a target, as the client names itself: this long at most, of PAUSE_BY_CHARS. */
#define API_MAX_BY     64
#define API_BY_CHARS   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-"
#define API_MAX_TARGET 64

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

/*
 * A stored string as JSON; null for none. Text that is not UTF-8 (written
 * before it was checked, or by hand) is shown with '?' for its bad bytes
 * rather than losing the object that holds it.
 */
static json_t *str_json(const char *s)
{
	if (s == NULL)
		return json_null();
	json_t *v = json_string(s);
	if (v == NULL) {
		char *clean = gg_utf8_sanitize(s, strlen(s));
		v = json_string(clean);
		free(clean);
	}
	return v;
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

/* Each report destination of t and how its last report went (`gitgate status`). */
static json_t *reports_json(gg_daemon *d, const gg_dtarget *t)
{
	json_t *list = json_array();
	gg_report_status *st = NULL;
	size_t n = 0;
	if (t->nreports && gg_store_report_status(&st, &n, d->store, t->name) < 0)
		n = 0;
	for (size_t i = 0; i < t->nreports; i++) {
		const gg_dreport *rep = &t->reports[i];
		const gg_report_status *s = NULL;
		for (size_t j = 0; j < n && s == NULL; j++)
			if (!strcmp(st[j].dest, rep->name))
				s = &st[j];
		json_array_append_new(list,
		                      json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:I}", "destination",
		                                rep->name, "kind", gg_dest_kind_name(rep->kind),
		                                "state", str_json(s ? s->state : NULL), "at",
		                                s && s->at ? time_json(s->at) : json_null(),
		                                "result", str_json(s ? s->result : NULL), "error",
		                                str_json(s ? s->error : NULL), "pending",
		                                (json_int_t)(s ? s->pending : 0)));
	}
	gg_report_statuses_free(st, n);
	return list;
}

/*
 * A deployment as the API shows it: with the replica that ran it (on a
 * store of one daemon, this daemon, once it started).
 */
static json_t *dep_json(gg_daemon *d, const gg_deployment *dep)
{
	json_t *o = gg_api_deployment_json(dep);
	const char *replica = dep->replica;
	if (replica == NULL && !gg_store_shared(d->store) && dep->started_at)
		replica = d->cfg->replica;
	if (dep->target) {
		/* A replica's own queue of an on: each target: the target, and whose it is. */
		size_t tlen;
		const char *placed;
		gg_placement_split(dep->target, &tlen, &placed);
		if (placed) {
			json_object_set_new(o, "target", json_stringn(dep->target, tlen));
			replica = placed;
		}
	}
	json_object_set_new(o, "replica", str_json(replica));
	return o;
}

/* What queue holds: its deployed commit, state and last deployment, into o. */
static void queue_json(gg_daemon *d, json_t *o, const char *queue)
{
	char *commit = NULL;
	gg_deployment *last = NULL;
	size_t n = 0;
	if (gg_store_last_deployed(&commit, d->store, queue) == 0)
		json_object_set_new(o, "deployed_commit", str_json(commit));
	else
		json_object_set_new(o, "deployed_commit", json_null());
	free(commit);
	if (gg_store_list(&last, &n, d->store, queue, 1) == 0 && n == 1) {
		json_object_set_new(o, "state", json_string(gg_dep_state_name(last->state)));
		json_object_set_new(o, "last_deployment", dep_json(d, last));
	} else {
		json_object_set_new(o, "state", json_null());
		json_object_set_new(o, "last_deployment", json_null());
	}
	gg_deployments_free(last, n);
}

/*
 * An on: each target on every replica that ever joined the store (and
 * this one): each one's own deployed commit, state and last deployment.
 */
static json_t *placements_json(gg_daemon *d, const gg_dtarget *t)
{
	json_t *arr = json_array();
	gg_replica *list = NULL;
	size_t n = 0;
	if (gg_store_list_replicas(&list, &n, d->store) < 0)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s,s:o}", "replica", list[i].name, "last_heartbeat",
		                      time_json(list[i].heartbeat_at));
		char *key = gg_placement_key(t->name, list[i].name);
		queue_json(d, o, key);
		free(key);
		json_array_append_new(arr, o);
	}
	gg_replicas_free(list, n);
	return arr;
}

/* GET /api/v1/replicas: the daemons sharing the store, with their last heartbeat. */
static void api_replicas(gg_daemon *d, gg_http_req *r)
{
	gg_replica *list = NULL;
	size_t n = 0;
	if (gg_store_list_replicas(&list, &n, d->store) < 0) {
		gg_http_reply_error(r, 503, "the store cannot be read");
		return;
	}
	json_t *arr = json_array();
	bool listed = false;
	for (size_t i = 0; i < n; i++) {
		bool self = strcmp(list[i].name, d->cfg->replica) == 0;
		listed |= self;
		json_array_append_new(
		    arr, json_pack("{s:s,s:o,s:o,s:b}", "name", list[i].name, "started_at",
		                   time_json(list[i].started_at), "last_heartbeat",
		                   time_json(list[i].heartbeat_at), "self", self));
	}
	if (!listed)
		json_array_append_new(arr,
		                      json_pack("{s:s,s:n,s:o,s:b}", "name", d->cfg->replica,
		                                "started_at", "last_heartbeat",
		                                time_json((int64_t)time(NULL) * 1000), "self", 1));
	gg_replicas_free(list, n);
	gg_http_reply_json(r, 200,
	                   json_pack("{s:s,s:o}", "replica", d->cfg->replica, "replicas", arr));
}

static void api_targets(gg_daemon *d, gg_http_req *r)
{
	json_t *list = json_array();
	for (size_t i = 0; i < d->cfg->ntargets; i++) {
		const gg_dtarget *t = &d->cfg->targets[i];
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(t->name));
		json_object_set_new(o, "source", str_json(t->source));
		json_object_set_new(o, "repo", json_string(t->repo));
		json_object_set_new(o, "ref", json_string(t->ref));
		json_object_set_new(o, "kind", json_string(t->checkout ? "checkout" : "run"));
		json_object_set_new(o, "on", json_string(t->each ? "each" : "any"));
		/* For on: each, this replica's own; every replica's under "replicas". */
		char *queue = gg_placement_own(d->store, t, d->cfg->replica);
		queue_json(d, o, queue);
		free(queue);
		if (t->each && gg_store_shared(d->store))
			json_object_set_new(o, "replicas", placements_json(d, t));
		int64_t since = 0;
		char *by = NULL;
		if (gg_store_paused(d->store, t->name, &since, &by) == 0)
			json_object_set_new(
			    o, "paused",
			    json_pack("{s:o,s:o}", "since", time_json(since), "by", str_json(by)));
		else
			json_object_set_new(o, "paused", json_null());
		free(by);
		json_object_set_new(o, "reports", reports_json(d, t));
		json_array_append_new(list, o);
	}
	gg_http_reply_json(r, 200, json_pack("{s:o}", "targets", list));
}

static int id_desc(const void *a, const void *b)
{
	const gg_deployment *x = a, *y = b;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* The newest limit deployments of an on: each target over every replica's own queue. */
static int list_placed(gg_deployment **out, size_t *n, gg_daemon *d, const char *target,
                       size_t limit)
{
	gg_replica *reps = NULL;
	size_t nreps = 0;
	*out = NULL;
	*n = 0;
	if (gg_store_list_replicas(&reps, &nreps, d->store) < 0)
		return -1;
	gg_deployment *all = NULL;
	size_t nall = 0;
	int rc = 0;
	for (size_t i = 0; i < nreps && rc == 0; i++) {
		gg_deployment *part = NULL;
		size_t np = 0;
		char *key = gg_placement_key(target, reps[i].name);
		rc = gg_store_list(&part, &np, d->store, key, limit);
		free(key);
		if (rc < 0)
			break;
		all = gg_reallocarray(all, nall + np + 1, sizeof(*all));
		memcpy(all + nall, part, np * sizeof(*part));
		nall += np;
		free(part); /* its rows' strings now belong to all */
	}
	gg_replicas_free(reps, nreps);
	if (rc < 0) {
		gg_deployments_free(all, nall);
		return -1;
	}
	if (nall > 0)
		qsort(all, nall, sizeof(*all), id_desc);
	if (nall > limit) {
		gg_deployment *tail = gg_malloc((nall - limit) * sizeof(*tail));
		memcpy(tail, all + limit, (nall - limit) * sizeof(*tail));
		gg_deployments_free(tail, nall - limit);
		nall = limit;
	}
	*out = all ? all : gg_calloc(1, sizeof(*all));
	*n = nall;
	return 0;
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
	const gg_dtarget *tg = target ? gg_dconfig_target(d->cfg, target) : NULL;
	int rc = tg && tg->each && gg_store_shared(d->store)
	             ? list_placed(&list, &n, d, target, limit)
	             : gg_store_list(&list, &n, d->store, target, limit);
	if (rc < 0) {
		evhttp_clear_headers(&q);
		gg_http_reply_error(r, 503, "the store cannot be read");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, dep_json(d, &list[i]));
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
	json_t *o = dep_json(d, dep);
	bool truncated = false;
	json_t *log = log_tail(d, dep->id, &truncated);
	json_object_set_new(o, "log", log ? log : json_null());
	json_object_set_new(o, "log_truncated", json_boolean(truncated));
	gg_deployment_free(dep);
	gg_http_reply_json(r, 200, o);
}

/* ---- pause and resume ---- */

typedef struct {
	gg_daemon *d;
	gg_http_req *r;
	char *target;
	bool pause;
} pause_req;

static void pause_stored(void *arg, int rc, int64_t changed)
{
	pause_req *p = arg;
	if (rc < 0) {
		gg_http_reply_error(p->r, 503, "the store cannot be written");
	} else {
		gg_dispatch_set_paused(p->d->dispatch, p->target, p->pause);
		int64_t since = 0;
		char *by = NULL;
		bool paused = gg_store_paused(p->d->store, p->target, &since, &by) == 0;
		gg_log(GG_LOG_INFO, p->pause ? "target paused" : "target resumed", "target",
		       p->target, "by", paused && by ? by : "-", NULL);
		gg_http_reply_json(p->r, 200,
		                   json_pack("{s:s,s:b,s:b,s:o,s:o}", "target", p->target, "paused",
		                             paused, "changed", changed > 0, "since",
		                             paused ? time_json(since) : json_null(), "by",
		                             paused ? str_json(by) : json_null()));
		free(by);
	}
	free(p->target);
	free(p);
}

/* Who asks, as stored: the name the client gives ("by"), and where it came from. */
static int pause_by(char **out, gg_http_req *r)
{
	const char *name = NULL;
	json_t *doc = NULL;
	*out = NULL;
	if (r->len > 0) {
		json_error_t jerr;
		doc = json_loadb(r->body, r->len, 0, &jerr);
		json_t *by = json_object_get(doc, "by");
		if (!json_is_object(doc) || (by && !json_is_string(by))) {
			json_decref(doc);
			gg_http_reply_error(r, 400,
			                    "the body must be a JSON object, \"by\" a string");
			return -1;
		}
		name = json_string_value(by);
		if (name && (*name == '\0' || strlen(name) > API_MAX_BY ||
		             name[strspn(name, API_BY_CHARS)] != '\0')) {
			json_decref(doc);
			gg_http_reply_error(r, 400, "\"by\" must be 1-64 letters, digits or ._@+-");
			return -1;
		}
	}
	const char *from = r->client ? r->client : (r->unix_peer ? "unix socket" : "-");
	*out = name ? gg_printf("%s from %s", name, from) : gg_printf("%s", from);
	json_decref(doc);
	return 0;
}

static void api_pause(gg_daemon *d, gg_http_req *r, const char *target, bool pause)
{
	char *by = NULL;
	if (pause && pause_by(&by, r) < 0)
		return;
	pause_req *p = gg_calloc(1, sizeof(*p));
	p->d = d;
	p->r = r;
	p->target = gg_strdup(target);
	p->pause = pause;
	if (pause)
		gg_store_pause(d->store, target, by, pause_stored, p);
	else
		gg_store_resume(d->store, target, pause_stored, p);
	free(by);
}

/* ---- drift ---- */

typedef struct {
	gg_http_req *r;
	char *target;
} drift_req;

static void drift_checked(void *arg, json_t *report, const char *err)
{
	drift_req *q = arg;
	if (report == NULL) {
		gg_http_reply_error(q->r, 500, err ? err : "the drift check failed");
	} else {
		json_t *doc = json_deep_copy(report);
		json_object_set_new(doc, "target", json_string(q->target));
		if (json_is_true(json_object_get(doc, "drifted")))
			gg_metrics_drift(q->target);
		gg_http_reply_json(q->r, 200, doc);
	}
	free(q->target);
	free(q);
}

static void api_drift(gg_daemon *d, gg_http_req *r, const gg_dtarget *t)
{
	if (t->checkout == NULL) {
		gg_http_reply_error(r, 409,
		                    "drift is checked for checkout targets only; a run target's "
		                    "drift is undone by its reconcile");
		return;
	}
	char *commit = NULL, *err = NULL;
	char *queue = gg_placement_own(d->store, t, d->cfg->replica); /* the release on this host */
	int rc = gg_store_last_deployed(&commit, d->store, queue);
	free(queue);
	if (rc == GG_STORE_NOTFOUND) {
		gg_http_reply_error(r, 409, "nothing has been deployed to this target yet");
		return;
	}
	if (rc < 0) {
		gg_http_reply_error(r, 503, "the store cannot be read");
		return;
	}
	drift_req *q = gg_calloc(1, sizeof(*q));
	q->r = r;
	q->target = gg_strdup(t->name);
	if (gg_reconcile_drift_check(gg_dispatch_reconciler(d->dispatch), d->cfg, t, commit,
	                             drift_checked, q, &err) < 0) {
		gg_http_reply_error(r, 503, err);
		free(err);
		free(q->target);
		free(q);
	}
	free(commit);
}

/* /api/v1/targets/NAME/ACTION: pause and resume (POST), drift (GET). */
static void api_target_action(gg_daemon *d, gg_http_req *r, const char *rest)
{
	const char *slash = strchr(rest, '/');
	size_t nlen = slash ? (size_t)(slash - rest) : 0;
	char name[API_MAX_TARGET + 1];
	if (slash == NULL || nlen == 0 || nlen > API_MAX_TARGET) {
		gg_http_reply_error(r, 404, "not found");
		return;
	}
	memcpy(name, rest, nlen);
	name[nlen] = '\0';
	const char *action = slash + 1;
	const gg_dtarget *t = gg_dconfig_target(d->cfg, name);
	bool post = strcmp(r->method, "POST") == 0;
	bool is_pause = !strcmp(action, "pause"), is_resume = !strcmp(action, "resume");
	if (!is_pause && !is_resume && strcmp(action, "drift") != 0) {
		gg_http_reply_error(r, 404, "not found");
		return;
	}
	if ((is_pause || is_resume) != post) {
		gg_http_reply(r, 405, "text/plain", post ? "Allow: GET\r\n" : "Allow: POST\r\n",
		              "method not allowed\n", 19);
		return;
	}
	if (t == NULL) {
		gg_http_reply_error(r, 404, "no such target");
		return;
	}
	if (is_pause || is_resume)
		api_pause(d, r, t->name, is_pause);
	else
		api_drift(d, r, t);
}

void gg_api_handle(gg_daemon *d, gg_http_req *r)
{
	if (gg_api_authorize(d, r) < 0)
		return;
	const char *p = r->path;
	if (strncmp(p, "/api/v1/targets/", 16) == 0) {
		api_target_action(d, r, p + 16);
		return;
	}
	if (strcmp(r->method, "POST") == 0) {
		gg_http_reply(r, 405, "text/plain", "Allow: GET\r\n", "method not allowed\n", 19);
		return;
	}
	if (strcmp(p, "/api/v1/targets") == 0)
		api_targets(d, r);
	else if (strcmp(p, "/api/v1/replicas") == 0)
		api_replicas(d, r);
	else if (strcmp(p, "/api/v1/deployments") == 0)
		api_deployments(d, r);
	else if (strncmp(p, "/api/v1/deployments/", 20) == 0)
		api_deployment(d, r, p + 20);
	else
		gg_http_reply_error(r, 404, "not found");
}
