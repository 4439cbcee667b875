/*
 * The HTTP server: HTTP/1.1 on libevent bufferevents, written for webhooks
 * rather than on evhttp so that every limit is ours to enforce: a maximum
 * number of connections, a cap on the request head, max_body (413), and one
 * deadline per request that bounds the whole read (evhttp's timeout is per
 * read, so a client sending a byte a second would never time out).
 *
 * A connection reads one request, hands it to a handler, and reads nothing
 * more until it is answered (the answer may come later, from the store's
 * callback). One function, conn_free, releases everything a connection owns.
 */
#include "gitgated.h"

#include "local.h"
#include "log.h"
#include "placement.h"
#include "proxy.h"
#include "tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The longest chunk-size line we accept in a chunked body. */
#define HTTP_MAX_CHUNK_LINE 64

typedef enum {
	CONN_HEAD,       /* reading the request line and headers */
	CONN_BODY,       /* reading a Content-Length body */
	CONN_CHUNK_SIZE, /* chunked body: the size line */
	CONN_CHUNK_DATA,
	CONN_CHUNK_CRLF,
	CONN_TRAILER,
	CONN_PROCESSING, /* handed to a handler, waiting for the answer */
	CONN_CLOSING,    /* answered; close once the output is written */
} conn_state;

typedef struct conn conn;
struct conn {
	gg_server *srv;
	conn *prev, *next;
	struct bufferevent *bev;
	struct event *deadline;
	conn_state state;
	bool keepalive;
	bool dead; /* the peer went away while a handler still owns the request */
	bool local;
	bool unix_peer;                 /* came through a unix socket */
	unsigned char peer_key[17];     /* the peer's address, family first: one per-peer count */
	gg_peer cred;                   /* unix-socket peers: who connected, from the kernel */
	bool handshaking;               /* TLS: accepted, handshake not finished */
	bool trusted_peer;              /* inside trusted_proxies */
	char peer[GG_PROXY_ADDR_MAX];   /* the peer's address, or "unix" */
	char client[GG_PROXY_ADDR_MAX]; /* the client a trusted proxy names */
	char *head;                     /* the request head, split in place */
	gg_header hdrs[GG_HTTP_MAX_HEADERS];
	size_t nhdrs;
	char *method, *path, *query;
	size_t content_length;
	size_t chunk_left;
	gg_buf body;
	uint64_t started_us;
	gg_http_req req;
	char *source; /* the hook's source name, copied: the config may be reloaded */
};

typedef struct listener listener;
struct listener {
	listener *next;
	gg_server *srv;
	struct evconnlistener *lev;
	char *unix_path; /* unlinked at exit when we created it */
	gg_tls *tls;     /* NULL: plain HTTP */
};

struct gg_server {
	gg_daemon *d;
	listener *listeners;
	conn *conns;
	size_t nconns;
	size_t busy;
};

static void conn_input(conn *c);

static const char *status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	default:
		return "Unknown";
	}
}

static void conn_reset_request(conn *c)
{
	free(c->head);
	c->head = NULL;
	c->nhdrs = 0;
	c->method = c->path = c->query = NULL;
	c->content_length = 0;
	c->chunk_left = 0;
	gg_buf_free(&c->body);
	free(c->source);
	c->source = NULL;
	memset(&c->req, 0, sizeof(c->req));
}

static void conn_free(conn *c)
{
	gg_server *s = c->srv;
	if (c->state == CONN_PROCESSING && !c->dead)
		s->busy--;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	conn_reset_request(c);
	if (c->deadline)
		event_free(c->deadline);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

/*
 * The peer went away or broke the protocol. A request a handler still owns
 * cannot be freed under it: mark it dead and let the answer free it.
 */
static void conn_drop(conn *c)
{
	if (c->state == CONN_PROCESSING) {
		if (!c->dead) {
			c->dead = true;
			c->srv->busy--;
		}
		if (c->bev) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
		event_del(c->deadline);
		return;
	}
	conn_free(c);
}

static void arm_deadline(conn *c)
{
	uint64_t ms = c->srv->d->cfg->read_timeout_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	event_add(c->deadline, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	conn *c = arg;
	if (c->handshaking)
		gg_metrics_tls_handshake_failure(); /* never finished its handshake */
	if (c->state == CONN_PROCESSING || c->state == CONN_CLOSING) {
		if (c->state == CONN_CLOSING)
			conn_free(c); /* the peer does not read its answer */
		return;
	}
	/* The whole request did not arrive in time: a slow or stalled client. */
	conn_free(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn *c = arg;
	if (c->state == CONN_CLOSING)
		conn_free(c);
}

/* Close once the answers already written have left (on_write frees it). */
static bool close_after_output(conn *c)
{
	if (c->bev == NULL || evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		return false;
	c->state = CONN_CLOSING;
	c->keepalive = false;
	bufferevent_disable(c->bev, EV_READ);
	arm_deadline(c);
	return true;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	conn *c = arg;
	if (c->handshaking) {
		if (what & BEV_EVENT_CONNECTED) {
			c->handshaking = false;
			return;
		}
		if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
			gg_metrics_tls_handshake_failure();
			gg_log(GG_LOG_DEBUG, "TLS handshake failed", "client", c->peer, "error",
			       gg_tls_error(bev), NULL);
			conn_free(c);
			return;
		}
	}
	/* A client that half-closes after its last request still gets the answer. */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->state != CONN_PROCESSING &&
	    c->state != CONN_CLOSING && close_after_output(c))
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_drop(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_input(arg);
}

/* Write the answer; keep the connection for the next request or close it. */
static void conn_respond(conn *c, int status, const char *ctype, const char *extra,
                         const char *body, size_t len)
{
	bool was_processing = c->state == CONN_PROCESSING;
	if (was_processing && !c->dead)
		c->srv->busy--;
	if (c->dead) {
		conn_free(c);
		return;
	}
	gg_metrics_request(status, gg_now_us() - c->started_us);
	/* A request we did not read to its end leaves the stream unusable. */
	if (!was_processing || c->srv->d->stopping)
		c->keepalive = false;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                    "Connection: %s\r\n%s\r\n",
	                    status, status_text(status), ctype ? ctype : "text/plain", len,
	                    c->keepalive ? "keep-alive" : "close", extra ? extra : "");
	if (len && !(c->method && strcmp(c->method, "HEAD") == 0))
		evbuffer_add(out, body, len);
	conn_reset_request(c);
	if (!c->keepalive) {
		c->state = CONN_CLOSING;
		bufferevent_disable(c->bev, EV_READ);
		arm_deadline(c); /* a peer that never reads its answer is dropped too */
		return;
	}
	c->state = CONN_HEAD;
	arm_deadline(c);
	bufferevent_enable(c->bev, EV_READ);
	/*
	 * A pipelined request may already be waiting in the input buffer: read
	 * it from the loop, not from here, so that a client pipelining many
	 * requests neither recurses nor starves the other connections.
	 */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ,
		                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Protocol-level refusal before a handler saw the request: answer and close. */
static void conn_refuse(conn *c, int status, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
	c->keepalive = false;
	if (c->started_us == 0)
		c->started_us = gg_now_us();
	conn_respond(c, status, "application/json", NULL, body, (size_t)n);
}

void gg_http_reply(gg_http_req *r, int status, const char *ctype, const char *extra_headers,
                   const char *body, size_t len)
{
	conn_respond(r->conn, status, ctype, extra_headers, body, len);
}

void gg_http_reply_json(gg_http_req *r, int status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (text == NULL) {
		conn_respond(r->conn, 500, "text/plain", NULL, "out of memory\n", 14);
		return;
	}
	size_t n = strlen(text);
	text = gg_realloc(text, n + 2);
	text[n++] = '\n';
	text[n] = '\0';
	conn_respond(r->conn, status, "application/json", NULL, text, n);
	free(text);
}

void gg_http_reply_error(gg_http_req *r, int status, const char *msg)
{
	gg_http_reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* ---- Parsing ---- */

static bool is_token_char(char ch)
{
	unsigned char u = (unsigned char)ch;
	return u > ' ' && u < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	return s;
}

static bool has_token(const char *value, const char *token)
{
	size_t n = strlen(token);
	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, token, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' || p[n] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/* Split the head in place. Returns 0, or an HTTP status to refuse with. */
static int parse_head(conn *c, const char **why)
{
	char *p = c->head;
	char *eol = strstr(p, "\r\n");
	*why = "malformed request line";
	if (eol == NULL)
		return 400;
	*eol = '\0';
	char *sp1 = strchr(p, ' ');
	char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' '))
		return 400;
	*sp1 = *sp2 = '\0';
	c->method = p;
	c->path = sp1 + 1;
	const char *version = sp2 + 1;
	for (char *m = c->method; *m; m++)
		if (!is_token_char(*m))
			return 400;
	if (*c->method == '\0' || c->path[0] != '/')
		return 400;
	for (char *q = c->path; *q; q++)
		if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
			return 400;
	if (strcmp(version, "HTTP/1.1") == 0)
		c->keepalive = true;
	else if (strcmp(version, "HTTP/1.0") == 0)
		c->keepalive = false;
	else {
		*why = "unsupported HTTP version";
		return 400;
	}
	char *q = strchr(c->path, '?');
	if (q) {
		*q = '\0';
		c->query = q + 1;
	}

	bool have_cl = false, chunked = false;
	p = eol + 2;
	while (*p) {
		eol = strstr(p, "\r\n");
		if (eol == NULL || eol == p)
			break;
		*why = "malformed header";
		if (*p == ' ' || *p == '\t')
			return 400; /* obsolete line folding */
		char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return 400;
		for (char *n = p; n < colon; n++)
			if (!is_token_char(*n))
				return 400;
		for (char *v = colon + 1; v < eol; v++)
			if (((unsigned char)*v < ' ' && *v != '\t') || *v == 0x7f)
				return 400;
		if (c->nhdrs == GG_HTTP_MAX_HEADERS) {
			*why = "too many headers";
			return 431;
		}
		*colon = '\0';
		gg_header *h = &c->hdrs[c->nhdrs++];
		h->name = p;
		h->value = trim(colon + 1, eol);
		if (strcasecmp(h->name, "Content-Length") == 0) {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(h->value, &end, 10);
			if (!isdigit((unsigned char)h->value[0]) || *end || errno ||
			    (have_cl && v != c->content_length)) {
				*why = "invalid Content-Length";
				return 400;
			}
			if (v > SIZE_MAX / 2)
				v = SIZE_MAX / 2;
			c->content_length = (size_t)v;
			have_cl = true;
		} else if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
			if (strcasecmp(h->value, "chunked") != 0) {
				*why = "unsupported Transfer-Encoding";
				return 501;
			}
			chunked = true;
		} else if (strcasecmp(h->name, "Connection") == 0) {
			if (has_token(h->value, "close"))
				c->keepalive = false;
			else if (has_token(h->value, "keep-alive"))
				c->keepalive = true;
		}
		p = eol + 2;
	}
	if (have_cl && chunked) {
		/* Both framings at once is how requests are smuggled. */
		*why = "both Content-Length and Transfer-Encoding";
		return 400;
	}
	if (chunked) {
		c->state = CONN_CHUNK_SIZE;
		return 0;
	}
	c->state = CONN_BODY;
	return 0;
}

/* ---- Routing ---- */

static void handle_hook(conn *c, const char *name);

static void handle_healthz(gg_daemon *d, gg_http_req *r)
{
	const char *reason = NULL;
	if (d->stopping)
		reason = "shutting down";
	else if (!gg_store_healthy(d->store, &reason) && reason == NULL)
		reason = "store unavailable";
	if (reason) {
		json_t *doc = json_pack("{s:s,s:s}", "status", "unavailable", "reason", reason);
		gg_http_reply_json(r, 503, doc);
		return;
	}
	gg_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void handle_metrics(gg_daemon *d, gg_http_req *r)
{
	/* Target and source names are no one else's business: the API's rules apply. */
	if (gg_api_authorize(d, r) < 0)
		return;
	gg_buf b = GG_BUF_INIT;
	gg_metrics_render(&b, d);
	gg_http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.ptr ? b.ptr : "",
	              b.len);
	gg_buf_free(&b);
}

static bool is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/*
 * Whether the request came through a proxy: from a trusted proxy, or
 * carrying the headers a proxy adds. Such a request may look local (a proxy
 * on this machine) while its client is anywhere.
 */
static bool request_via_proxy(const conn *c)
{
	return c->trusted_peer || gg_proxy_headers_present(c->hdrs, c->nhdrs);
}

/* The /api/v1 loopback exception: a local peer, and never a proxied request. */
static bool loopback_exception_applies(const conn *c)
{
	return c->local && !request_via_proxy(c);
}

/* The client as logs and handlers name it: the peer, or whom a trusted proxy names. */
static const char *request_client(conn *c)
{
	const gg_dconfig *cfg = c->srv->d->cfg;
	bool https = false;
	if (c->trusted_peer && gg_proxy_client(c->client, cfg->trusted_proxies,
	                                       cfg->ntrusted_proxies, c->hdrs, c->nhdrs, &https))
		return c->client;
	return c->peer;
}

static void dispatch_request(conn *c)
{
	gg_server *s = c->srv;
	gg_daemon *d = s->d;
	gg_buf_putc(&c->body, '\0'); /* handlers get a NUL-terminated body */
	c->body.len--;
	c->req = (gg_http_req){
	    .method = c->method,
	    .path = c->path,
	    .query = c->query,
	    .headers = c->hdrs,
	    .nheaders = c->nhdrs,
	    .body = c->body.ptr,
	    .len = c->body.len,
	    .local = loopback_exception_applies(c),
	    .unix_peer = c->unix_peer,
	    .client = request_client(c),
	    .conn = c,
	};
	c->state = CONN_PROCESSING;
	s->busy++;
	event_del(c->deadline);
	bufferevent_disable(c->bev, EV_READ);
	gg_http_req *r = &c->req;
	if (strncmp(c->path, "/hooks/", 7) == 0) {
		handle_hook(c, c->path + 7);
	} else if (strcmp(c->path, "/healthz") == 0) {
		if (is_get(c->method))
			handle_healthz(d, r);
		else
			gg_http_reply(r, 405, "text/plain", "Allow: GET\r\n",
			              "method not allowed\n", 19);
	} else if (strcmp(c->path, "/metrics") == 0) {
		if (is_get(c->method))
			handle_metrics(d, r);
		else
			gg_http_reply(r, 405, "text/plain", "Allow: GET\r\n",
			              "method not allowed\n", 19);
	} else if (strncmp(c->path, "/api/v1/", 8) == 0 || strcmp(c->path, "/api/v1") == 0) {
		/* The API answers the few POSTs it has (pause, resume) itself. */
		if (is_get(c->method) || strcmp(c->method, "POST") == 0)
			gg_api_handle(d, r);
		else
			gg_http_reply(r, 405, "text/plain", "Allow: GET\r\n",
			              "method not allowed\n", 19);
	} else {
		gg_http_reply_error(r, 404, "not found");
	}
}

/* The request head is complete: can its body be refused before it is read? */
static bool early_refusal(conn *c)
{
	gg_daemon *d = c->srv->d;
	const char *expect = gg_header_get(c->hdrs, c->nhdrs, "Expect");
	if (c->state == CONN_BODY && c->content_length > d->cfg->max_body) {
		conn_refuse(c, 413, "body too large");
		return true;
	}
	if (expect && strcasecmp(expect, "100-continue") == 0 &&
	    (c->state != CONN_BODY || c->content_length > 0)) {
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		                    "HTTP/1.1 100 Continue\r\n\r\n");
	}
	return false;
}

/* Consume what the input buffer holds, as far as the state allows. */
static void conn_input(conn *c)
{
	gg_daemon *d = c->srv->d;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		switch (c->state) {
		case CONN_HEAD: {
			if (avail == 0)
				return;
			struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
			if (end.pos < 0) {
				if (avail > d->cfg->max_header)
					conn_refuse(c, 431, "request head too large");
				return;
			}
			size_t hlen = (size_t)end.pos + 4;
			if (hlen > d->cfg->max_header) {
				conn_refuse(c, 431, "request head too large");
				return;
			}
			c->head = gg_malloc(hlen + 1);
			evbuffer_remove(in, c->head, hlen);
			c->head[hlen] = '\0';
			if (memchr(c->head, '\0', hlen)) {
				conn_refuse(c, 400, "NUL byte in the request head");
				return;
			}
			c->started_us = gg_now_us();
			const char *why = NULL;
			int st = parse_head(c, &why);
			if (st) {
				conn_refuse(c, st, why);
				return;
			}
			if (early_refusal(c))
				return;
			break;
		}
		case CONN_BODY:
			if (avail < c->content_length)
				return;
			gg_buf_grow(&c->body, c->content_length + 1);
			evbuffer_remove(in, c->body.ptr, c->content_length);
			c->body.len = c->content_length;
			dispatch_request(c);
			return;
		case CONN_CHUNK_SIZE: {
			size_t n = 0;
			char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
			if (line == NULL) {
				if (avail > HTTP_MAX_CHUNK_LINE)
					conn_refuse(c, 400, "malformed chunk");
				return;
			}
			/*
			 * RFC 9112: chunk-size is 1*HEXDIG, then optional extensions.
			 * strtoull would also take "0x", a sign or blanks, which a
			 * proxy in front may read differently (request smuggling).
			 */
			uint64_t v = 0;
			size_t k = 0;
			while (isxdigit((unsigned char)line[k]) && k < 16) {
				char h = line[k++];
				v = v * 16 + (uint64_t)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
			}
			size_t digits = k;
			while (line[k] == ' ' || line[k] == '\t')
				k++;
			/* Blanks only before an extension (BWS ";"), never trailing. */
			bool ok = digits > 0 &&
			          (line[k] == ';' || (line[k] == '\0' && k == digits)) &&
			          n <= HTTP_MAX_CHUNK_LINE;
			free(line);
			if (!ok) {
				conn_refuse(c, 400, "malformed chunk");
				return;
			}
			if (v > d->cfg->max_body || c->body.len + v > d->cfg->max_body) {
				conn_refuse(c, 413, "body too large");
				return;
			}
			c->chunk_left = (size_t)v;
			c->state = v == 0 ? CONN_TRAILER : CONN_CHUNK_DATA;
			break;
		}
		case CONN_CHUNK_DATA: {
			if (avail == 0)
				return;
			size_t take = avail < c->chunk_left ? avail : c->chunk_left;
			gg_buf_grow(&c->body, take + 1);
			evbuffer_remove(in, c->body.ptr + c->body.len, take);
			c->body.len += take;
			c->chunk_left -= take;
			if (c->chunk_left == 0)
				c->state = CONN_CHUNK_CRLF;
			break;
		}
		case CONN_CHUNK_CRLF: {
			if (avail < 2)
				return;
			char crlf[2];
			evbuffer_remove(in, crlf, 2);
			if (crlf[0] != '\r' || crlf[1] != '\n') {
				conn_refuse(c, 400, "malformed chunk");
				return;
			}
			c->state = CONN_CHUNK_SIZE;
			break;
		}
		case CONN_TRAILER: {
			size_t n = 0;
			char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
			if (line == NULL) {
				if (avail > d->cfg->max_header)
					conn_refuse(c, 431, "trailer too large");
				return;
			}
			free(line);
			if (n == 0) {
				dispatch_request(c);
				return;
			}
			break;
		}
		case CONN_PROCESSING:
		case CONN_CLOSING:
			return;
		}
	}
}

/* ---- Webhooks ---- */

typedef struct {
	conn *c;
	char *delivery;
	char *event;
	char **targets;
	size_t ntargets;
} hook_job;

static void hook_job_free(hook_job *j)
{
	free(j->delivery);
	free(j->event);
	for (size_t i = 0; i < j->ntargets; i++)
		free(j->targets[i]);
	free(j->targets);
	free(j);
}

static void on_accepted(void *arg, const gg_store_accept_result *res)
{
	hook_job *j = arg;
	conn *c = j->c;
	gg_daemon *d = c->srv->d;
	const char *source = c->source ? c->source : "";
	if (res->rc < 0) {
		gg_metrics_delivery(source, "error");
		gg_log(GG_LOG_ERROR, "delivery not stored", "delivery", j->delivery, "source",
		       source, "client", c->req.client, NULL);
		/* The store reconnects by itself: the sender may try again shortly. */
		static const char body[] = "{\"error\":\"the delivery could not be stored\"}\n";
		gg_http_reply(&c->req, 503, "application/json",
		              "Retry-After: " GG_STORE_RETRY_AFTER_S "\r\n", body,
		              sizeof(body) - 1);
		hook_job_free(j);
		return;
	}
	const char *result;
	int status;
	size_t queued = 0;
	for (size_t i = 0; !res->duplicate && i < res->nids; i++)
		if (res->refused == NULL || res->refused[i] == NULL)
			queued++;
	if (res->duplicate) {
		result = "duplicate";
		status = 200;
	} else if (queued > 0) {
		result = "accepted";
		status = 202;
	} else if (res->nids > 0) {
		result = "refused"; /* stored, never to run: replays */
		status = 200;
	} else {
		result = "ignored";
		status = 200;
	}
	/* Built by hand: this is the hot path, and the shape is fixed. */
	gg_buf out = GG_BUF_INIT;
	gg_buf_puts(&out, "{\"delivery\":");
	gg_buf_json_string(&out, j->delivery);
	gg_buf_puts(&out, ",\"event\":");
	gg_buf_json_string(&out, j->event);
	gg_buf_puts(&out, ",\"deployments\":[");
	for (size_t i = 0; !res->duplicate && i < res->nids; i++) {
		size_t tlen;
		const char *placed;
		gg_placement_split(j->targets[i], &tlen, &placed);
		gg_buf_puts(&out, i ? ",{\"target\":" : "{\"target\":");
		char *tname = gg_printf("%.*s", (int)tlen, j->targets[i]);
		gg_buf_json_string(&out, tname);
		free(tname);
		if (placed) {
			gg_buf_puts(&out, ",\"replica\":");
			gg_buf_json_string(&out, placed);
		}
		gg_buf_printf(&out, ",\"id\":%lld", (long long)res->ids[i]);
		if (res->refused && res->refused[i]) {
			gg_buf_puts(&out, ",\"state\":\"refused\",\"reason\":");
			gg_buf_json_string(&out, res->refused[i]);
			char idtext[32];
			snprintf(idtext, sizeof(idtext), "%lld", (long long)res->ids[i]);
			gg_log(GG_LOG_WARN, "deployment refused", "id", idtext, "target",
			       j->targets[i], "delivery", j->delivery, "reason", res->refused[i],
			       NULL);
		}
		gg_buf_putc(&out, '}');
	}
	gg_buf_puts(&out, res->duplicate ? "],\"duplicate\":true}\n" : "]}\n");
	char nbuf[32];
	snprintf(nbuf, sizeof(nbuf), "%zu", queued);
	gg_metrics_delivery(source, result);
	gg_log(GG_LOG_INFO, "delivery", "result", result, "delivery", j->delivery, "source", source,
	       "event", j->event, "deployments", nbuf, "client", c->req.client, NULL);
	if (queued > 0 && d->dispatch)
		gg_dispatch_kick(d->dispatch, j->targets, res->nids);
	gg_http_reply(&c->req, status, "application/json", NULL, out.ptr, out.len);
	gg_buf_free(&out);
	hook_job_free(j);
}

static void handle_hook(conn *c, const char *name)
{
	gg_daemon *d = c->srv->d;
	gg_http_req *r = &c->req;
	const gg_dsource *src = gg_dconfig_source(d->cfg, name);
	if (src == NULL) {
		gg_http_reply_error(r, 404, "no such source");
		return;
	}
	if (strcmp(c->method, "POST") != 0) {
		gg_http_reply(r, 405, "application/json", "Allow: POST\r\n",
		              "{\"error\":\"method not allowed\"}\n", 31);
		return;
	}
	if (d->stopping) {
		gg_http_reply_error(r, 503, "shutting down");
		return;
	}
	gg_sender_result res;
	gg_sender_rc rc =
	    src->kind == GG_SRC_LOCAL
	        ? gg_local_handle(&res, src, &c->cred, r->headers, r->nheaders, r->body, r->len)
	        : gg_sender_handle(&res, src, r->headers, r->nheaders, r->body, r->len, time(NULL));
	if (rc != GG_SENDER_OK) {
		int status = rc == GG_SENDER_UNAUTHORIZED ? 401
		             : rc == GG_SENDER_FORBIDDEN  ? 403
		                                          : 400;
		const char *result = rc == GG_SENDER_UNAUTHORIZED ? "unauthorized"
		                     : rc == GG_SENDER_FORBIDDEN  ? "forbidden"
		                                                  : "bad_request";
		gg_metrics_delivery(src->name, result);
		gg_log(GG_LOG_WARN, "delivery refused", "result", result, "source", src->name,
		       "delivery", res.delivery ? res.delivery : "-", "reason",
		       res.error ? res.error : "-", "client", r->client, NULL);
		gg_http_reply_error(r, status, res.error ? res.error : "refused");
		gg_sender_result_free(&res);
		return;
	}
	/* Match every push against every target. */
	hook_job *j = gg_calloc(1, sizeof(*j));
	gg_store_newdep *deps = NULL;
	size_t ndeps = 0;
	j->c = c;
	j->delivery = gg_strdup(res.delivery);
	j->event = gg_strdup(res.event ? res.event : "push");
	c->source = gg_strdup(src->name);
	char **live = NULL;
	size_t nlive = d->cfg->each ? gg_store_placements(d->store, &live) : 0;
	for (size_t i = 0; res.is_push && i < res.npushes; i++) {
		const gg_push *p = &res.pushes[i];
		if (gg_is_zero_id(p->after))
			continue; /* a delete: nothing to deploy */
		for (size_t k = 0; k < d->cfg->ntargets; k++) {
			const gg_dtarget *t = &d->cfg->targets[k];
			if (!gg_push_matches(t, src->name, p))
				continue;
			/* on: each, on a shared store: one deployment per replica alive. */
			char **queues = NULL;
			size_t nq = gg_placement_queues(&queues, t, live, nlive);
			deps = gg_reallocarray(deps, ndeps + nq, sizeof(*deps));
			j->targets = gg_reallocarray(j->targets, ndeps + nq, sizeof(*j->targets));
			for (size_t e = 0; e < nq; e++) {
				j->targets[ndeps] = queues[e]; /* j owns it now */
				deps[ndeps] = (gg_store_newdep){
				    .target = j->targets[ndeps],
				    .source = src->name,
				    .repo = p->repo,
				    .ref = p->ref,
				    .before = p->before,
				    .after = p->after,
				    .pusher = p->pusher,
				    .clone_url = p->clone_url,
				    .allow_rollback = t->allow_rollback,
				    .client = r->client,
				};
				ndeps++;
			}
			free(queues);
		}
	}
	for (size_t e = 0; e < nlive; e++)
		free(live[e]);
	free(live);
	j->ntargets = ndeps;
	gg_store_accept(d->store, src->name, res.delivery, j->event, deps, ndeps, on_accepted, j);
	free(deps);
	gg_sender_result_free(&res);
}

/* ---- Connections and listeners ---- */

static bool peer_is_local(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX)
		return true;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/*
 * The peer's address as a count key: IPv4 (also v4-mapped IPv6) and IPv6
 * addresses, every unix-socket client as one peer.
 */
static void peer_key(unsigned char key[17], const struct sockaddr *sa)
{
	memset(key, 0, 17);
	if (sa == NULL || sa->sa_family == AF_UNIX)
		return;
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 16);
		}
	}
}

/* Refuse a connection we cannot take, without blocking (the socket is non-blocking). */
static void refuse_busy(evutil_socket_t fd, bool plain, const char *why)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
	                           "Connection: close\r\n\r\n";
	/* Over TLS the plain text would only be a protocol error. */
	if (plain) {
		ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
	}
	evutil_closesocket(fd);
	gg_log(GG_LOG_WARN, why, NULL);
}

static void peer_text(char *out, const struct sockaddr *sa)
{
	strcpy(out, "unix");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
		          GG_PROXY_ADDR_MAX);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
		          GG_PROXY_ADDR_MAX);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	(void)lev, (void)salen;
	listener *l = arg;
	gg_server *s = l->srv;
	gg_daemon *d = s->d;
	if (d->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (s->nconns >= d->cfg->max_connections) {
		refuse_busy(fd, l->tls == NULL, "connection refused: max_connections reached");
		return;
	}
	/*
	 * One client must not hold every slot: count its connections (a walk
	 * over at most max_connections, once per connection, not per request).
	 */
	unsigned char key[17];
	peer_key(key, sa);
	size_t same = 0;
	for (conn *o = s->conns; o; o = o->next)
		if (memcmp(o->peer_key, key, sizeof(key)) == 0)
			same++;
	if (same >= d->cfg->max_connections_per_peer) {
		refuse_busy(fd, l->tls == NULL,
		            "connection refused: max_connections_per_peer reached");
		return;
	}
	if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
		/* Each answer is one write; never hold it back for an ACK (Nagle). */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	conn *c = gg_calloc(1, sizeof(*c));
	c->srv = s;
	c->local = sa ? peer_is_local(sa) : false;
	c->unix_peer = sa == NULL || sa->sa_family == AF_UNIX;
	memcpy(c->peer_key, key, sizeof(key));
	if (sa && sa->sa_family == AF_UNIX)
		gg_peer_from_fd(&c->cred, fd);
	c->trusted_peer = gg_proxy_trusted(d->cfg->trusted_proxies, d->cfg->ntrusted_proxies, sa);
	peer_text(c->peer, sa);
	c->handshaking = l->tls != NULL;
	if (l->tls)
		c->bev = gg_tls_accept(l->tls, d->base, fd); /* closes fd on failure */
	else if ((c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		evutil_closesocket(fd);
	c->deadline = event_new(d->base, -1, 0, on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	c->state = CONN_HEAD;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	/* Never buffer more than one whole request (plus chunk framing) from a client. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	                         (size_t)(d->cfg->max_header + d->cfg->max_body) + 65536);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	arm_deadline(c);
}

static void on_listen_error(struct evconnlistener *lev, void *arg)
{
	(void)lev, (void)arg;
	int e = EVUTIL_SOCKET_ERROR();
	/* EMFILE and friends: keep serving the connections we have. */
	gg_log(GG_LOG_ERROR, "accept failed", "error", evutil_socket_error_to_string(e), NULL);
}

static int add_listener(gg_server *s, evutil_socket_t fd, const char *unix_path, char **err,
                        const char *what, const gg_dtls *tls)
{
	listener *l = gg_calloc(1, sizeof(*l));
	l->srv = s;
	if (tls && gg_tls_new(&l->tls, tls, err) < 0) {
		evutil_closesocket(fd);
		free(l);
		return -1;
	}
	l->lev =
	    evconnlistener_new(s->d->base, on_accept, l,
	                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, GG_HTTP_BACKLOG, fd);
	if (l->lev == NULL) {
		*err = gg_printf("%s: cannot listen: %s", what, strerror(errno));
		evutil_closesocket(fd);
		gg_tls_free(l->tls);
		free(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, on_listen_error);
	l->unix_path = unix_path ? gg_strdup(unix_path) : NULL;
	l->next = s->listeners;
	s->listeners = l;
	return 0;
}

static int listen_unix(gg_server *s, const char *path, char **err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*err = gg_printf("unix:%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = gg_printf("unix:%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket from an earlier run */
	gg_local_socket_prebind(fd, s->d->cfg);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, GG_HTTP_BACKLOG) < 0) {
		*err = gg_printf("unix:%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (gg_local_socket_setup(path, s->d->cfg, err) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	return add_listener(s, fd, path, err, path, NULL);
}

static int listen_tcp(gg_server *s, const char *addr, const gg_dtls *tls, char **err)
{
	char *host = NULL, *port = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
	int rc = -1, fd = -1;
	const char *colon = strrchr(addr, ':');
	if (colon == NULL) {
		*err = gg_printf("%s: missing port", addr);
		return -1;
	}
	if (addr[0] == '[' && colon > addr && colon[-1] == ']')
		host = gg_strndup(addr + 1, (size_t)(colon - addr - 2));
	else
		host = gg_strndup(addr, (size_t)(colon - addr));
	port = gg_strdup(colon + 1);
	int gai = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gai != 0) {
		*err = gg_printf("%s: %s", addr, gai_strerror(gai));
		goto done;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            res->ai_protocol);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, GG_HTTP_BACKLOG) < 0) {
		*err = gg_printf("%s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto done;
	}
	rc = add_listener(s, fd, NULL, err, addr, tls);
done:
	if (res)
		freeaddrinfo(res);
	free(host);
	free(port);
	return rc;
}

/* The port of a host:port listen address; 0 for unix sockets. */
static int listen_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	if (strncmp(addr, "unix:", 5) == 0 || colon == NULL)
		return 0;
	return atoi(colon + 1);
}

/*
 * A socket systemd passed serves TLS when a TLS listen entry names its port:
 * the unit's ListenStream= says where, the config says how.
 */
static const gg_dtls *systemd_tls(const gg_dconfig *cfg, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return NULL;
	if (ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	for (size_t i = 0; port && i < cfg->nlisten; i++)
		if (cfg->listen_tls[i] && listen_port(cfg->listen[i]) == port)
			return cfg->listen_tls[i];
	return NULL;
}

/* systemd socket activation without libsystemd: fds 3.. when LISTEN_PID is us. */
static int listen_systemd(gg_server *s, bool *used, char **err)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	*used = false;
	if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	long n = strtol(fds, NULL, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n <= 0 || n > 64)
		return 0;
	for (int fd = 3; fd < 3 + n; fd++) {
		char what[32];
		snprintf(what, sizeof(what), "systemd fd %d", fd);
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0 ||
		    evutil_make_socket_nonblocking(fd) < 0) {
			*err = gg_printf("%s: %s", what, strerror(errno));
			return -1;
		}
		if (add_listener(s, fd, NULL, err, what, systemd_tls(s->d->cfg, fd)) < 0)
			return -1;
	}
	*used = true;
	return 0;
}

int gg_server_new(gg_server **out, gg_daemon *d, char **err)
{
	gg_server *s = gg_calloc(1, sizeof(*s));
	bool systemd = false;
	*out = NULL;
	*err = NULL;
	s->d = d;
	if (listen_systemd(s, &systemd, err) < 0)
		goto fail;
	for (size_t i = 0; !systemd && i < d->cfg->nlisten; i++) {
		const char *a = d->cfg->listen[i];
		int rc =
		    strncmp(a, "unix:", 5) == 0
		        ? listen_unix(s, a + 5, err)
		        : listen_tcp(s, a, d->cfg->listen_tls ? d->cfg->listen_tls[i] : NULL, err);
		if (rc < 0)
			goto fail;
	}
	if (s->listeners == NULL) {
		*err =
		    gg_strdup("nothing to listen on: set 'listen' or start from a systemd socket");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	gg_server_free(s);
	return -1;
}

static void close_listeners(gg_server *s)
{
	while (s->listeners) {
		listener *l = s->listeners;
		s->listeners = l->next;
		evconnlistener_free(l->lev);
		gg_tls_free(l->tls);
		if (l->unix_path)
			unlink(l->unix_path);
		free(l->unix_path);
		free(l);
	}
}

void gg_server_stop_accepting(gg_server *s)
{
	close_listeners(s);
	/* Idle and half-read connections go; answers in progress are still sent. */
	conn *c = s->conns;
	while (c) {
		conn *next = c->next;
		if (c->state == CONN_PROCESSING)
			c->keepalive = false;
		else if (c->state != CONN_CLOSING && !close_after_output(c))
			conn_free(c);
		c = next;
	}
}

int gg_server_reload_tls(gg_server *s)
{
	int rc = 0;
	for (listener *l = s->listeners; l; l = l->next) {
		char *err = NULL;
		if (l->tls == NULL)
			continue;
		if (gg_tls_reload(l->tls, &err) < 0) {
			gg_log(GG_LOG_ERROR,
			       "TLS certificate reload failed; keeping the running one", "error",
			       err, NULL);
			free(err);
			rc = -1;
			continue;
		}
		gg_log(GG_LOG_INFO, "TLS certificate reloaded", "cert", gg_tls_cert_file(l->tls),
		       NULL);
	}
	return rc;
}

size_t gg_server_busy(const gg_server *s)
{
	return s->busy;
}

size_t gg_server_connections(const gg_server *s)
{
	return s->nconns;
}

void gg_server_free(gg_server *s)
{
	if (s == NULL)
		return;
	close_listeners(s);
	/* Requests still owned by a store callback must outlive this: only at exit. */
	while (s->conns) {
		conn *c = s->conns;
		c->state = CONN_HEAD;
		conn_free(c);
	}
	free(s);
}
