/*
 * A tiny blocking HTTP/1.1 client for the notifier and `gitgate status`:
 * one request per connection, plain http:// over TCP or a unix socket,
 * bounded in time (connect and the whole exchange) and in response size.
 *
 * URLs: http://HOST[:PORT][/PATH] (HOST may be [IPv6]) and
 * unix:/PATH/TO/SOCKET[:/HTTP-PATH] — the HTTP path starts at the last ":/"
 * (default "/"), e.g. unix:/run/gitgated.sock:/hooks/git.
 */
#ifndef GITGATE_HTTPC_H
#define GITGATE_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#define GG_HTTPC_MAX_RESPONSE (8u * 1024 * 1024)
/* The server could not be reached in time (refused, unreachable, timed out). */
#define GG_HTTPC_UNREACHABLE (-2)

typedef struct {
	char *host;        /* TCP: host name or address (no brackets); NULL for unix */
	char *port;        /* TCP: "80" when not given */
	char *socket_path; /* unix: the socket; NULL for TCP */
	char *path;        /* request target, "/" at least */
} gg_httpc_url;

/* Split url; *out's strings are owned (gg_httpc_url_clear). 0, or -1 with an allocated *err. */
int gg_httpc_url_parse(gg_httpc_url *out, const char *url, char **err);
void gg_httpc_url_clear(gg_httpc_url *u);

typedef struct {
	const char *name;
	const char *value;
} gg_httpc_header;

typedef struct {
	int status;
	char *body; /* NUL-terminated */
	size_t body_len;
	char *content_type; /* NULL when absent */
} gg_httpc_response;

/*
 * Send one request to url (relative paths in `path` are appended to the URL's
 * path when path is not NULL) and read the whole answer within timeout_ms.
 * Returns 0 with *out owned by the caller (gg_httpc_response_free),
 * GG_HTTPC_UNREACHABLE when no connection could be made or nothing came back
 * in time, -1 on any other error; both with an allocated message in *err.
 */
int gg_httpc_request(gg_httpc_response **out, const char *method, const char *url, const char *path,
                     const gg_httpc_header *headers, size_t nheaders, const void *body,
                     size_t body_len, uint64_t timeout_ms, char **err);
void gg_httpc_response_free(gg_httpc_response *r);

#endif
