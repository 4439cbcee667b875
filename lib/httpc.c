/*
 * Blocking HTTP/1.1 client: non-blocking sockets driven by poll() against
 * one deadline, so that neither connect, send nor a silent server can hold
 * the caller (a git push waiting for its post-receive hook) beyond it.
 */
#include "gitgate/httpc.h"
#include "gitgate/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void gg_httpc_url_clear(gg_httpc_url *u)
{
	free(u->host);
	free(u->port);
	free(u->socket_path);
	free(u->path);
	memset(u, 0, sizeof(*u));
}

int gg_httpc_url_parse(gg_httpc_url *out, const char *url, char **err)
{
	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (!strncmp(url, "unix:", 5)) {
		const char *sock = url + 5;
		const char *sep = NULL;
		for (const char *p = strstr(sock, ":/"); p; p = strstr(p + 1, ":/"))
			sep = p;
		size_t len = sep ? (size_t)(sep - sock) : strlen(sock);
		if (len == 0 || sock[0] != '/') {
			*err =
			    gg_printf("%s: a unix socket URL is unix:/path/to/socket[:/path]", url);
			return -1;
		}
		if (len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			*err = gg_printf("%s: socket path too long", url);
			return -1;
		}
		out->socket_path = gg_strndup(sock, len);
		out->path = gg_strdup(sep ? sep + 1 : "/");
		return 0;
	}
	if (strncmp(url, "http://", 7) != 0) {
		*err = gg_printf("%s: only http:// and unix: URLs are supported", url);
		return -1;
	}
	const char *h = url + 7;
	const char *slash = strchr(h, '/');
	size_t hostport_len = slash ? (size_t)(slash - h) : strlen(h);
	char *hp = gg_strndup(h, hostport_len);
	char *host = hp, *port = NULL;
	if (hp[0] == '[') {
		char *close = strchr(hp, ']');
		if (close == NULL) {
			free(hp);
			*err = gg_printf("%s: unterminated [IPv6] address", url);
			return -1;
		}
		*close = '\0';
		host = hp + 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			host = NULL;
	} else {
		char *colon = strchr(hp, ':');
		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (host == NULL || *host == '\0' ||
	    (port && (*port == '\0' || strspn(port, "0123456789") != strlen(port)))) {
		free(hp);
		*err = gg_printf("%s: expected http://HOST[:PORT]/PATH", url);
		return -1;
	}
	out->host = gg_strdup(host);
	out->port = gg_strdup(port ? port : "80");
	out->path = gg_strdup(slash ? slash : "/");
	free(hp);
	return 0;
}

void gg_httpc_response_free(gg_httpc_response *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->content_type);
	free(r);
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = gg_now_ms();
	return now >= deadline ? 0 : (int)(deadline - now);
}

/* Wait for fd to become ready for `events`; 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {fd, events, 0};
		int ms = remaining_ms(deadline);
		if (ms == 0)
			return 0;
		int n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		return n > 0 ? 1 : 0;
	}
}

static int connect_addr(const struct sockaddr *sa, socklen_t salen, int family, uint64_t deadline,
                        int *saved_errno)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*saved_errno = errno;
		return -1;
	}
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		*saved_errno = errno;
		close(fd);
		return -1;
	}
	int r = wait_fd(fd, POLLOUT, deadline);
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
		*saved_errno = r == 0 ? ETIMEDOUT : soerr ? soerr : errno;
		close(fd);
		return -1;
	}
	return fd;
}

static int open_conn(const gg_httpc_url *u, uint64_t deadline, char **err)
{
	int e = 0;
	if (u->socket_path) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, u->socket_path, strlen(u->socket_path));
		int fd = connect_addr((struct sockaddr *)&sun, sizeof(sun), AF_UNIX, deadline, &e);
		if (fd < 0)
			*err = gg_printf("cannot connect to %s: %s", u->socket_path, strerror(e));
		return fd;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = AF_UNSPEC;
	int gai = getaddrinfo(u->host, u->port, &hints, &res);
	if (gai != 0) {
		*err = gg_printf("cannot resolve %s: %s", u->host, gai_strerror(gai));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0 && remaining_ms(deadline) > 0;
	     ai = ai->ai_next)
		fd = connect_addr(ai->ai_addr, ai->ai_addrlen, ai->ai_family, deadline, &e);
	freeaddrinfo(res);
	if (fd < 0)
		*err = gg_printf("cannot connect to %s:%s: %s", u->host, u->port,
		                 strerror(e ? e : ETIMEDOUT));
	return fd;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) <= 0)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

static const char *find_header(const char *head, size_t headlen, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', headlen);
	while (p && (size_t)(p - head) < headlen) {
		p++;
		const char *eol = memchr(p, '\n', headlen - (size_t)(p - head));
		if (eol == NULL)
			break;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' && !strncasecmp(p, name, nlen)) {
			const char *v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *e = eol;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*vlen = (size_t)(e - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* Decode a chunked body in place; -1 when it is malformed or incomplete. */
static int dechunk(char *buf, size_t len, size_t *outlen)
{
	size_t r = 0, w = 0;
	for (;;) {
		char *eol = memchr(buf + r, '\n', len - r);
		if (eol == NULL)
			return -1;
		char *end;
		unsigned long long n = strtoull(buf + r, &end, 16);
		if (end == buf + r)
			return -1;
		r = (size_t)(eol - buf) + 1;
		if (n == 0)
			break;
		if (n > len - r)
			return -1;
		memmove(buf + w, buf + r, (size_t)n);
		w += (size_t)n;
		r += (size_t)n;
		if (r < len && buf[r] == '\r')
			r++;
		if (r < len && buf[r] == '\n')
			r++;
	}
	*outlen = w;
	return 0;
}

int gg_httpc_request(gg_httpc_response **out, const char *method, const char *url, const char *path,
                     const gg_httpc_header *headers, size_t nheaders, const void *body,
                     size_t body_len, uint64_t timeout_ms, char **err)
{
	int rc = -1, fd = -1;
	gg_httpc_url u;
	gg_buf req = GG_BUF_INIT, resp = GG_BUF_INIT;
	gg_httpc_response *r = NULL;
	uint64_t deadline = gg_now_ms() + timeout_ms;
	*out = NULL;
	*err = NULL;

	if (gg_httpc_url_parse(&u, url, err) < 0)
		return -1;
	fd = open_conn(&u, deadline, err);
	if (fd < 0) {
		rc = GG_HTTPC_UNREACHABLE;
		goto done;
	}
	const char *target = u.path;
	char *joined = NULL;
	if (path) {
		size_t ul = strlen(u.path);
		joined = gg_printf("%.*s%s", (int)(ul > 0 && u.path[ul - 1] == '/' ? ul - 1 : ul),
		                   u.path, path);
		target = joined;
	}
	if (u.host == NULL)
		gg_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: localhost\r\n", method, target);
	else
		gg_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n", method, target,
		              strchr(u.host, ':') ? "[" : "", u.host,
		              strchr(u.host, ':') ? "]" : "", strcmp(u.port, "80") ? ":" : "",
		              strcmp(u.port, "80") ? u.port : "");
	gg_buf_puts(&req, "Connection: close\r\n");
	free(joined);
	if (body)
		gg_buf_printf(&req, "Content-Length: %zu\r\n", body_len);
	for (size_t i = 0; i < nheaders; i++)
		gg_buf_printf(&req, "%s: %s\r\n", headers[i].name, headers[i].value);
	gg_buf_puts(&req, "\r\n");
	if (body)
		gg_buf_put(&req, body, body_len);
	if (send_all(fd, req.ptr, req.len, deadline) < 0) {
		*err = gg_printf("sending to %s failed: %s", url,
		                 remaining_ms(deadline) ? strerror(errno) : "timed out");
		rc = GG_HTTPC_UNREACHABLE;
		goto done;
	}

	/* Read until EOF, or until the announced body is complete. */
	size_t head_end = 0;
	long long clen = -1;
	bool chunked = false;
	for (;;) {
		if (head_end && clen >= 0 && resp.len - head_end >= (size_t)clen)
			break;
		gg_buf_grow(&resp, 16384);
		ssize_t n = recv(fd, resp.ptr + resp.len, resp.cap - resp.len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(fd, POLLIN, deadline);
			if (w <= 0) {
				*err = gg_printf("no complete answer from %s within %llums", url,
				                 (unsigned long long)timeout_ms);
				rc = GG_HTTPC_UNREACHABLE;
				goto done;
			}
			continue;
		}
		if (n < 0) {
			*err = gg_printf("reading from %s failed: %s", url, strerror(errno));
			rc = GG_HTTPC_UNREACHABLE;
			goto done;
		}
		if (n == 0)
			break;
		resp.len += (size_t)n;
		resp.ptr[resp.len] = '\0';
		if (resp.len > GG_HTTPC_MAX_RESPONSE) {
			*err = gg_printf("the answer from %s is larger than %u bytes", url,
			                 GG_HTTPC_MAX_RESPONSE);
			goto done;
		}
		if (head_end == 0) {
			char *e = strstr(resp.ptr, "\r\n\r\n");
			if (e) {
				head_end = (size_t)(e - resp.ptr) + 4;
				size_t vl;
				const char *v =
				    find_header(resp.ptr, head_end, "Content-Length", &vl);
				if (v)
					clen = strtoll(v, NULL, 10);
				v = find_header(resp.ptr, head_end, "Transfer-Encoding", &vl);
				chunked = v && vl >= 7 && !strncasecmp(v, "chunked", 7);
				if (chunked)
					clen = -1;
			}
		}
	}
	if (head_end == 0 || resp.len < 12 || strncmp(resp.ptr, "HTTP/1.", 7) != 0) {
		*err = gg_printf("%s did not answer with HTTP", url);
		rc = resp.len == 0 ? GG_HTTPC_UNREACHABLE : -1;
		goto done;
	}
	r = gg_calloc(1, sizeof(*r));
	r->status = atoi(resp.ptr + 9);
	size_t vl;
	const char *ct = find_header(resp.ptr, head_end, "Content-Type", &vl);
	if (ct)
		r->content_type = gg_strndup(ct, vl);
	size_t blen = resp.len - head_end;
	if (chunked && dechunk(resp.ptr + head_end, blen, &blen) < 0) {
		*err = gg_printf("%s sent a malformed chunked body", url);
		goto done;
	}
	if (clen >= 0 && (size_t)clen < blen)
		blen = (size_t)clen;
	r->body = gg_malloc(blen + 1);
	memcpy(r->body, resp.ptr + head_end, blen);
	r->body[blen] = '\0';
	r->body_len = blen;
	*out = r;
	r = NULL;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	gg_httpc_response_free(r);
	gg_buf_free(&req);
	gg_buf_free(&resp);
	gg_httpc_url_clear(&u);
	return rc;
}
