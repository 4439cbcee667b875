/*
 * The reports outbox sender (see outbox.h): one small state machine per
 * destination, driven by one polling timer and by the completions of its
 * own requests and store writes.
 */
#include "outbox.h"
#include "gitgated.h"
#include "log.h"
#include "destination.h"

#include "gitgate/util.h"
#include "gitgate/version.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef struct dest dest;
struct dest {
	dest *next;
	gg_outbox *box;
	char *target, *name;
	const gg_dreport *r; /* in the running config; NULL once the config dropped it */
	bool ready;          /* the store has its cursor */
	bool busy;           /* a request or a store write is in flight */
	uint64_t next_try;   /* monotonic ms: no attempt before */
	uint64_t backoff_ms; /* 0 after a success */
	SSL_CTX *ctx;        /* https: built on first use, dropped on reload */
	/* The attempt in flight. */
	gg_report_event ev;
	struct evhttp_connection *conn;
	struct evhttp_connection *dead; /* finished: freed off its own callback */
	struct event *reap;
	char *error;   /* why the request in flight failed, before its callback */
	bool creating; /* the request in flight creates the remote deployment */
};

struct gg_outbox {
	struct event_base *base;
	struct evdns_base *dns;
	gg_store *store;
	const gg_dconfig *cfg;
	struct event *tick;
	dest *dests;
	bool stopping;
	uint64_t last_prune;
};

#define OUTBOX_PRUNE_EVERY_MS (3600 * 1000)
/* A forge's reason phrase is kept up to this many bytes in a report's error. */
#define OUTBOX_MAX_REASON 256

static void try_send(dest *d);

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	dest *d = arg;
	if (d->dead)
		evhttp_connection_free(d->dead);
	d->dead = NULL;
}

/* The connection of the attempt that just ended, freed once its callback returned. */
static void retire_conn(dest *d)
{
	if (d->conn == NULL)
		return;
	if (d->dead)
		evhttp_connection_free(d->dead);
	d->dead = d->conn;
	d->conn = NULL;
	struct timeval zero = {0, 0};
	event_add(d->reap, &zero);
}

static void record_done(void *arg, int rc, int64_t id)
{
	(void)id;
	dest *d = arg;
	if (rc < 0)
		gg_log(GG_LOG_WARN, "cannot record a report in the store", "target", d->target,
		       "destination", d->name, NULL);
	d->busy = false;
	if (!d->box->stopping)
		try_send(d);
}

/* Move past ev (when through) and keep what the attempt gave for `gitgate status`. */
static void record(dest *d, bool through, const char *result, const char *error)
{
	d->busy = true;
	gg_store_report_record(d->box->store, d->target, d->name, through ? d->ev.id : 0,
	                       gg_dep_state_name(d->ev.state), result, error, record_done, d);
}

static void ref_done(void *arg, int rc, int64_t id)
{
	(void)id;
	dest *d = arg;
	if (rc < 0) {
		/* Not made again at once: the next attempt waits as after a failure. */
		gg_log(GG_LOG_WARN, "cannot keep a remote deployment's id in the store", "target",
		       d->target, "destination", d->name, NULL);
		d->backoff_ms = GG_OUTBOX_BACKOFF_MAX_MS;
		d->next_try = gg_now_ms() + d->backoff_ms;
	}
	d->busy = false;
	if (!d->box->stopping)
		try_send(d);
}

static void drop(dest *d, const char *why)
{
	char id[32];
	snprintf(id, sizeof(id), "%lld", (long long)d->ev.deployment);
	gg_log(GG_LOG_WARN, "report dropped", "target", d->target, "destination", d->name,
	       "deployment", id, "state", gg_dep_state_name(d->ev.state), "reason", why, NULL);
	gg_metrics_report(d->target, d->name, "dropped");
	d->backoff_ms = 0;
	record(d, true, "dropped", why);
}

static void retry_later(dest *d, const char *why)
{
	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : GG_OUTBOX_BACKOFF_FIRST_MS;
	if (d->backoff_ms > GG_OUTBOX_BACKOFF_MAX_MS)
		d->backoff_ms = GG_OUTBOX_BACKOFF_MAX_MS;
	d->next_try = gg_now_ms() + d->backoff_ms;
	char ms[32];
	snprintf(ms, sizeof(ms), "%llu", (unsigned long long)d->backoff_ms);
	gg_log(GG_LOG_WARN, "report failed; retrying", "target", d->target, "destination", d->name,
	       "state", gg_dep_state_name(d->ev.state), "error", why, "retry_in_ms", ms, NULL);
	gg_metrics_report(d->target, d->name, "failed");
	record(d, false, "failed", why);
}

static const char *req_error_text(enum evhttp_request_error e)
{
	switch (e) {
	case EVREQ_HTTP_TIMEOUT:
		return "no answer in time";
	case EVREQ_HTTP_EOF:
		return "the connection closed before an answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "an invalid answer";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "cannot connect";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "an answer too long";
	default:
		return "the request was canceled";
	}
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	dest *d = arg;
	char tls[256] = "";
	struct bufferevent *bev = d->conn ? evhttp_connection_get_bufferevent(d->conn) : NULL;
	unsigned long ssl_err = bev ? bufferevent_get_openssl_error(bev) : 0;
	if (ssl_err)
		ERR_error_string_n(ssl_err, tls, sizeof(tls));
	free(d->error);
	d->error = tls[0] ? gg_printf("%s: TLS: %s", req_error_text(e), tls)
	                  : gg_strdup(req_error_text(e));
}

static void on_response(struct evhttp_request *req, void *arg)
{
	dest *d = arg;
	int status = req ? evhttp_request_get_response_code(req) : 0;
	char *why = NULL;
	retire_conn(d);
	if (d->box->stopping) {
		d->busy = false;
		goto done;
	}
	if (status >= 200 && status < 300 && d->creating) {
		/* Made on the forge: its id is kept, then the state goes to it. */
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		const char *body = (const char *)evbuffer_pullup(in, -1);
		int64_t remote = 0;
		if (body == NULL || gg_dest_created_id(&remote, body, len) < 0) {
			gg_metrics_report(d->target, d->name, "failed");
			drop(d, "the forge's answer carries no deployment id");
			goto done;
		}
		d->backoff_ms = 0;
		gg_store_report_ref_set(d->box->store, d->target, d->name, d->ev.deployment, remote,
		                        ref_done, d);
		goto done;
	}
	if (status >= 200 && status < 300) {
		d->backoff_ms = 0;
		gg_metrics_report(d->target, d->name, "sent");
		record(d, true, "sent", NULL);
		goto done;
	}
	if (status == 0) {
		why = gg_strdup(d->error ? d->error : "cannot connect");
		retry_later(d, why);
		goto done;
	}
	/*
	 * The forge's reason phrase is kept as the report's error: made valid
	 * UTF-8 and bounded here, so that the store and the API can hold it
	 * whatever bytes the forge sent; its controls are escaped where printed.
	 */
	const char *raw = req ? evhttp_request_get_response_code_line(req) : NULL;
	char *line = gg_utf8_sanitize(raw ? raw : "", OUTBOX_MAX_REASON);
	why = gg_printf("HTTP %d%s%s", status, *line ? " " : "", line);
	free(line);
	/* Only the forge can say what is wrong; its answer is not quoted to the log. */
	if (status >= 400 && status < 500 && status != 408 && status != 429) {
		gg_metrics_report(d->target, d->name, "failed");
		drop(d, why);
	} else {
		retry_later(d, why);
	}
done:
	free(why);
	free(d->error);
	d->error = NULL;
}

static SSL_CTX *client_ctx(dest *d, char **err)
{
	if (d->ctx)
		return d->ctx;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (d->r->ca_file ? SSL_CTX_load_verify_locations(ctx, d->r->ca_file, NULL) != 1
	                  : SSL_CTX_set_default_verify_paths(ctx) != 1)
		goto fail;
	d->ctx = ctx;
	return ctx;
fail:;
	char buf[256] = "";
	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	ERR_clear_error();
	*err = gg_printf("TLS setup%s%s: %s", d->r->ca_file ? " with " : "",
	                 d->r->ca_file ? d->r->ca_file : "", buf);
	SSL_CTX_free(ctx);
	return NULL;
}

/* Start the request; 0, or -1 with *err (the attempt failed before it began). */
static int start_request(dest *d, const gg_dest_request *rq, char **err)
{
	struct evhttp_uri *uri = evhttp_uri_parse(rq->url);
	struct bufferevent *bev = NULL;
	struct evhttp_request *req = NULL;
	SSL *ssl = NULL;
	int rc = -1;
	const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
	if (scheme == NULL || host == NULL || host[0] == '\0') {
		*err = gg_strdup("the URL cannot be parsed");
		goto done;
	}
	bool https = !strcmp(scheme, "https");
	int port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = https ? 443 : 80;
	if (https) {
		SSL_CTX *ctx = client_ctx(d, err);
		if (ctx == NULL)
			goto done;
		ssl = SSL_new(ctx);
		unsigned char addr[16];
		bool literal =
		    inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
		if (ssl == NULL ||
		    (literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1
		             : (SSL_set_tlsext_host_name(ssl, host) != 1 ||
		                SSL_set1_host(ssl, host) != 1))) {
			*err = gg_strdup("TLS setup failed");
			goto done;
		}
		bev = bufferevent_openssl_socket_new(
		    d->box->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		ssl = NULL; /* the bufferevent owns it, even on failure */
		if (bev == NULL) {
			*err = gg_strdup("TLS setup failed");
			goto done;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	d->conn = evhttp_connection_base_bufferevent_new(d->box->base, d->box->dns, bev, host,
	                                                 (unsigned short)port);
	bev = NULL;
	if (d->conn == NULL) {
		*err = gg_strdup("cannot create a connection");
		goto done;
	}
	struct timeval tv = {GG_OUTBOX_TIMEOUT_MS / 1000, (GG_OUTBOX_TIMEOUT_MS % 1000) * 1000};
	evhttp_connection_set_timeout_tv(d->conn, &tv);
	evhttp_connection_set_retries(d->conn, 0);
	evhttp_connection_set_max_body_size(d->conn, GG_OUTBOX_MAX_RESPONSE);
	evhttp_connection_set_max_headers_size(d->conn, GG_OUTBOX_MAX_RESPONSE);
	req = evhttp_request_new(on_response, d);
	evhttp_request_set_error_cb(req, on_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char hostport[300];
	bool v6 = strchr(host, ':') != NULL;
	if (port == (https ? 443 : 80))
		snprintf(hostport, sizeof(hostport), "%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
	else
		snprintf(hostport, sizeof(hostport), "%s%s%s:%d", v6 ? "[" : "", host,
		         v6 ? "]" : "", port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "User-Agent", "gitgated/" GITGATE_VERSION);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Connection", "close");
	char len[32];
	snprintf(len, sizeof(len), "%zu", rq->body_len);
	evhttp_add_header(h, "Content-Length", len);
	for (size_t i = 0; i < rq->nheaders; i++)
		evhttp_add_header(h, rq->headers[i].name, rq->headers[i].value);
	evbuffer_add(evhttp_request_get_output_buffer(req), rq->body, rq->body_len);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	char *target =
	    gg_printf("%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
	int mk = evhttp_make_request(d->conn, req, EVHTTP_REQ_POST, target);
	free(target);
	req = NULL; /* freed by libevent, also on failure */
	if (mk != 0) {
		*err = gg_strdup("cannot send the request");
		goto done;
	}
	rc = 0;
done:
	if (rc < 0 && d->conn) {
		evhttp_connection_free(d->conn);
		d->conn = NULL;
	}
	if (bev)
		bufferevent_free(bev);
	SSL_free(ssl);
	if (uri)
		evhttp_uri_free(uri);
	return rc;
}

static void try_send(dest *d)
{
	gg_outbox *box = d->box;
	if (box->stopping || d->r == NULL || !d->ready || d->busy || gg_now_ms() < d->next_try)
		return;
	int rc = gg_store_report_next(&d->ev, box->store, d->target, d->name);
	if (rc != 0)
		return;
	if (gg_wall_ms() - d->ev.at > (int64_t)box->cfg->report_max_age_ms) {
		drop(d, "older than report_max_age");
		return;
	}
	gg_deployment *dep = NULL;
	rc = gg_store_get(&dep, box->store, d->ev.deployment);
	if (rc == GG_STORE_NOTFOUND) {
		drop(d, "the deployment is no longer stored");
		return;
	}
	if (rc < 0)
		return; /* a read failure: the next tick tries again */
	int64_t remote = 0;
	if (d->r->deployments && (rc = gg_store_report_ref(&remote, box->store, d->target, d->name,
	                                                   d->ev.deployment)) == -1) {
		gg_deployment_free(dep);
		return;
	}
	gg_dest_request rq;
	char *err = NULL;
	if (gg_dest_build(&rq, d->r, d->target, dep, &d->ev, remote, &err) < 0) {
		gg_deployment_free(dep);
		drop(d, err);
		free(err);
		return;
	}
	gg_deployment_free(dep);
	d->busy = true;
	d->creating = rq.creates;
	free(d->error);
	d->error = NULL;
	if (start_request(d, &rq, &err) < 0) {
		retry_later(d, err);
		free(err);
	}
	gg_dest_request_clear(&rq);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_outbox *box = arg;
	/* Replicas sharing a database: one of them sends the reports. */
	if (box->stopping || !gg_store_duty(box->store, "reports"))
		return;
	uint64_t now = gg_now_ms();
	if (box->last_prune == 0 || now - box->last_prune >= OUTBOX_PRUNE_EVERY_MS) {
		box->last_prune = now;
		/* Twice the age: whatever a destination still had by then was dropped with a line.
		 */
		gg_store_report_prune(box->store, 2 * box->cfg->report_max_age_ms);
	}
	for (dest *d = box->dests; d; d = d->next)
		try_send(d);
}

static void init_done(void *arg, int rc, int64_t id)
{
	(void)id;
	dest *d = arg;
	if (rc < 0) {
		gg_log(GG_LOG_ERROR, "cannot start reporting: the store refused the cursor",
		       "target", d->target, "destination", d->name, NULL);
		d->busy = false;
		return;
	}
	d->ready = true;
	d->busy = false;
	if (!d->box->stopping)
		try_send(d);
}

static void follow(gg_outbox *box, const gg_dconfig *cfg)
{
	box->cfg = cfg;
	for (dest *d = box->dests; d; d = d->next) {
		d->r = NULL;
		SSL_CTX_free(d->ctx);
		d->ctx = NULL;
	}
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const gg_dtarget *t = &cfg->targets[i];
		for (size_t j = 0; j < t->nreports; j++) {
			const gg_dreport *r = &t->reports[j];
			dest *d;
			for (d = box->dests; d; d = d->next)
				if (!strcmp(d->target, t->name) && !strcmp(d->name, r->name))
					break;
			if (d) {
				d->r = r;
				d->next_try = 0; /* a fixed config is tried at once */
				continue;
			}
			d = gg_calloc(1, sizeof(*d));
			d->box = box;
			d->target = gg_strdup(t->name);
			d->name = gg_strdup(r->name);
			d->r = r;
			d->reap = evtimer_new(box->base, reap_cb, d);
			d->next = box->dests;
			box->dests = d;
			d->busy = true;
			gg_store_report_init(box->store, d->target, d->name, init_done, d);
		}
	}
}

int gg_outbox_new(gg_outbox **out, struct event_base *base, gg_store *store, const gg_dconfig *cfg)
{
	gg_outbox *box = gg_calloc(1, sizeof(*box));
	box->base = base;
	box->store = store;
	/* Names are resolved without blocking the loop; addresses need no resolver. */
	box->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (box->dns == NULL)
		gg_log(GG_LOG_WARN, "no DNS resolver for reports: only addresses work", NULL);
	box->tick = event_new(base, -1, EV_PERSIST, on_tick, box);
	struct timeval tv = {0, GG_OUTBOX_POLL_MS * 1000};
	event_add(box->tick, &tv);
	follow(box, cfg);
	*out = box;
	return 0;
}

void gg_outbox_reload(gg_outbox *o, const gg_dconfig *cfg)
{
	follow(o, cfg);
}

void gg_outbox_free(gg_outbox *o)
{
	if (o == NULL)
		return;
	o->stopping = true;
	for (dest *d = o->dests; d; d = d->next) {
		if (d->conn) {
			struct evhttp_connection *c = d->conn;
			d->conn = NULL;
			evhttp_connection_free(c);
		}
	}
	while (o->dests) {
		dest *d = o->dests;
		o->dests = d->next;
		if (d->dead)
			evhttp_connection_free(d->dead);
		if (d->reap)
			event_free(d->reap);
		SSL_CTX_free(d->ctx);
		free(d->error);
		free(d->target);
		free(d->name);
		free(d);
	}
	if (o->tick)
		event_free(o->tick);
	if (o->dns)
		evdns_base_free(o->dns, 0);
	free(o);
}
