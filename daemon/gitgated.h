/*
 * gitgated: program-wide declarations. One context (gg_daemon) is built in
 * main and handed to the modules; the only other mutable file-scope state is
 * the counters of metrics.c and the level and stream of log.c.
 */
#ifndef GITGATED_H
#define GITGATED_H

#include "config.h"
#include "dispatch.h"
#include "sender.h"
#include "store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
typedef struct gg_server gg_server;

typedef struct {
	struct event_base *base;
	gg_dconfig *cfg; /* replaced on SIGHUP */
	gg_store *store;
	gg_dispatch *dispatch;
	gg_server *server;
	bool stopping;
} gg_daemon;

/* server.c */

/* Named limits of the HTTP server that are not in the config. */
#define GG_HTTP_MAX_HEADERS 100
#define GG_HTTP_BACKLOG     1024

/* One request, complete (head and body), as the handlers see it; borrowed. */
typedef struct gg_http_req {
	const char *method;
	const char *path;  /* without the query */
	const char *query; /* after '?', or NULL */
	const gg_header *headers;
	size_t nheaders;
	const char *body; /* NUL-terminated; len bytes */
	size_t len;
	bool local;         /* loopback or unix-socket peer, and not through a proxy */
	bool unix_peer;     /* came through a unix socket */
	const char *client; /* the peer's address, or the one a trusted proxy names */
	void *conn;         /* the connection; private to server.c */
} gg_http_req;

/*
 * Open the listeners (systemd's LISTEN_FDS when set for this process,
 * otherwise cfg->listen) on d->base. *out owned by the caller
 * (gg_server_free). -1 with *err (allocated) on failure.
 */
int gg_server_new(gg_server **out, gg_daemon *d, char **err);
/* Close the listeners and idle connections; requests in progress are answered. */
void gg_server_stop_accepting(gg_server *s);
/*
 * Re-read every TLS listener's certificate and key (SIGHUP). A pair that
 * fails to load is logged and the running one kept; -1 when any failed.
 */
int gg_server_reload_tls(gg_server *s);
/* Requests waiting for an answer (e.g. for the store). */
size_t gg_server_busy(const gg_server *s);
/* Open client connections. */
size_t gg_server_connections(const gg_server *s);
void gg_server_free(gg_server *s);

/*
 * Answer a request (once; also later, from a store callback). body is
 * copied; extra_headers (may be NULL) are complete "Name: value\r\n" lines.
 */
void gg_http_reply(gg_http_req *r, int status, const char *ctype, const char *extra_headers,
                   const char *body, size_t len);
/* Answer with a JSON document (stolen: the reference is released). */
void gg_http_reply_json(gg_http_req *r, int status, json_t *doc);
/* {"error": msg} with the status. */
void gg_http_reply_error(gg_http_req *r, int status, const char *msg);

/* api.c */

/*
 * Whether r may read /api/v1/ and /metrics: with a bearer token when
 * api_token_file is set; without one, from a unix socket only; from loopback
 * without a token only under api.allow_loopback_without_token. 0 when it
 * may; otherwise r was answered (401 or 403) and -1 is returned.
 */
int gg_api_authorize(gg_daemon *d, gg_http_req *r);
/* GET /api/v1/... : authorization, then targets and deployments as JSON. */
void gg_api_handle(gg_daemon *d, gg_http_req *r);
/* One deployment as a JSON object (new reference). */
json_t *gg_api_deployment_json(const gg_deployment *dep);

/* metrics.c */

/* Count a webhook delivery's result for a source ("accepted", "ignored", ...). */
void gg_metrics_delivery(const char *source, const char *result);
/* Count a drifted release found on checkout target `target` (reconcile or on demand). */
void gg_metrics_drift(const char *target);
/* Count a report to destination dest of target: result is "sent", "failed" or "dropped". */
void gg_metrics_report(const char *target, const char *dest, const char *result);
/* Count a TLS handshake that failed or did not finish in time. */
void gg_metrics_tls_handshake_failure(void);
/* Count one answered HTTP request and how long it took. */
void gg_metrics_request(int status, uint64_t duration_us);
/* The Prometheus text exposition of everything. */
void gg_metrics_render(gg_buf *out, gg_daemon *d);
/* Release the counters (at exit, for leak checkers). */
void gg_metrics_free(void);

#endif
