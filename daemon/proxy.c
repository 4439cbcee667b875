/*
 * trusted_proxies and the headers a proxy adds. A client can write any of
 * these headers itself, and a proxy appends to what it received, so only the
 * right end of the list is the proxies' own: we walk it from the right and
 * stop at the first address that is not a trusted proxy (what nginx calls
 * real_ip_recursive). Every address is parsed and printed again with
 * inet_ntop, so nothing of the header's own text reaches a log.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How many hops of a forwarding list we look at, from the right. */
#define PROXY_MAX_HOPS 32

typedef struct {
	int family;
	unsigned char addr[16];
} ipaddr;

/* "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80", optionally quoted. */
static bool parse_addr(ipaddr *out, const char *s, size_t len)
{
	char buf[64];
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
		s++, len -= 2;
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *a = buf;
	if (a[0] == '[') {
		char *end = strchr(a, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return false;
		*end = '\0';
		a++;
		out->family = AF_INET6;
		return inet_pton(AF_INET6, a, out->addr) == 1;
	}
	char *colon = strchr(a, ':');
	if (colon && strchr(colon + 1, ':') == NULL)
		*colon = '\0'; /* v4 with a port */
	if (inet_pton(AF_INET, a, out->addr) == 1) {
		out->family = AF_INET;
		return true;
	}
	out->family = AF_INET6;
	return inet_pton(AF_INET6, a, out->addr) == 1;
}

/* v4-mapped v6 addresses compare as v4. */
static void unmap(ipaddr *a)
{
	static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (a->family == AF_INET6 && memcmp(a->addr, prefix, 12) == 0) {
		memmove(a->addr, a->addr + 12, 4);
		a->family = AF_INET;
	}
}

static bool in_block(const gg_cidr *b, const ipaddr *a)
{
	if (b->family != a->family)
		return false;
	unsigned full = b->bits / 8, rest = b->bits % 8;
	if (memcmp(b->addr, a->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (b->addr[full] & mask) == (a->addr[full] & mask);
}

static bool trusted(const gg_cidr *list, size_t n, const ipaddr *a)
{
	for (size_t i = 0; i < n; i++)
		if (in_block(&list[i], a))
			return true;
	return false;
}

void gg_proxy_config(gg_yload *c, const gg_ynode *v, gg_cidr **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (v == NULL)
		return;
	if (v->type != GG_Y_SEQ) {
		gg_yload_err(c, v, "'trusted_proxies' must be a list of addresses or CIDR blocks");
		return;
	}
	*out = gg_calloc(v->n ? v->n : 1, sizeof(**out));
	for (uint32_t i = 0; i < v->n; i++) {
		const gg_ynode *e = v->items[i];
		const char *s = gg_yis_scalar(e) && e->str ? e->str : NULL;
		if (s && strcmp(s, "unix") == 0) {
			/* A proxy on this machine that talks to a unix-socket listener. */
			(*out)[(*n)++] = (gg_cidr){.family = AF_UNIX, .bits = 0};
			continue;
		}
		const char *slash = s ? strchr(s, '/') : NULL;
		ipaddr a;
		bool ok = s && strlen(s) == e->len &&
		          parse_addr(&a, s, slash ? (size_t)(slash - s) : strlen(s)) &&
		          (slash || strchr(s, '[') == NULL);
		unsigned long bits = 0;
		if (ok) {
			unsigned max = a.family == AF_INET ? 32 : 128;
			bits = max;
			if (slash) {
				char *end;
				bits = isdigit((unsigned char)slash[1])
				           ? strtoul(slash + 1, &end, 10)
				           : max + 1;
				ok =
				    isdigit((unsigned char)slash[1]) && *end == '\0' && bits <= max;
			}
		}
		if (!ok) {
			gg_yload_err(c, e,
			             "trusted_proxies entry '%s' must be an address, a CIDR block "
			             "like 10.0.0.0/8 or fd00::/8, or unix",
			             s ? s : "");
			continue;
		}
		gg_cidr *b = &(*out)[(*n)++];
		b->family = a.family;
		memcpy(b->addr, a.addr, sizeof(b->addr));
		b->bits = (unsigned)bits;
	}
}

bool gg_proxy_trusted(const gg_cidr *list, size_t n, const struct sockaddr *sa)
{
	ipaddr a = {0};
	if (n == 0 || sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		a.family = AF_INET;
		memcpy(a.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a.family = AF_INET6;
		memcpy(a.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		unmap(&a);
	} else if (sa->sa_family == AF_UNIX) {
		a.family = AF_UNIX;
	} else {
		return false;
	}
	return trusted(list, n, &a);
}

bool gg_proxy_headers_present(const gg_header *h, size_t nh)
{
	for (size_t i = 0; i < nh; i++)
		if (strcasecmp(h[i].name, "Forwarded") == 0 ||
		    strcasecmp(h[i].name, "X-Forwarded-For") == 0 ||
		    strcasecmp(h[i].name, "X-Forwarded-Proto") == 0 ||
		    strcasecmp(h[i].name, "X-Real-IP") == 0)
			return true;
	return false;
}

/* The hops, left to right, keeping the right-most PROXY_MAX_HOPS. */
typedef struct {
	const char *s[PROXY_MAX_HOPS];
	size_t len[PROXY_MAX_HOPS];
	size_t n;
} hops;

static void hop_add(hops *l, const char *s, size_t len)
{
	if (l->n == PROXY_MAX_HOPS) {
		memmove(l->s, l->s + 1, sizeof(l->s[0]) * (PROXY_MAX_HOPS - 1));
		memmove(l->len, l->len + 1, sizeof(l->len[0]) * (PROXY_MAX_HOPS - 1));
		l->n--;
	}
	l->s[l->n] = s;
	l->len[l->n++] = len;
}

/* X-Forwarded-For: a, b, c (over any number of header lines). */
static void xff_hops(hops *l, const gg_header *h, size_t nh)
{
	for (size_t i = 0; i < nh; i++) {
		if (strcasecmp(h[i].name, "X-Forwarded-For") != 0)
			continue;
		for (const char *p = h[i].value; *p;) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			hop_add(l, p, len);
			p += len + (e ? 1 : 0);
		}
	}
}

/* The value of `key=` inside one Forwarded element [p, end), or NULL. */
static const char *fwd_param(const char *p, const char *end, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		const char *e = p;
		bool quoted = false;
		while (e < end && (quoted || *e != ';')) {
			if (*e == '"')
				quoted = !quoted;
			e++;
		}
		if ((size_t)(e - p) > klen && strncasecmp(p, key, klen) == 0 && p[klen] == '=') {
			*len = (size_t)(e - p) - klen - 1;
			return p + klen + 1;
		}
		p = e;
	}
	return NULL;
}

/* Split Forwarded at commas outside quotes; call fn per element. */
static void fwd_elements(const gg_header *h, size_t nh,
                         void (*fn)(void *arg, const char *p, const char *end), void *arg)
{
	for (size_t i = 0; i < nh; i++) {
		if (strcasecmp(h[i].name, "Forwarded") != 0)
			continue;
		const char *p = h[i].value;
		while (*p) {
			const char *e = p;
			bool quoted = false;
			while (*e && (quoted || *e != ',')) {
				if (*e == '"')
					quoted = !quoted;
				e++;
			}
			fn(arg, p, e);
			p = *e ? e + 1 : e;
		}
	}
}

typedef struct {
	hops *l;
	bool https; /* proto= of the right-most element */
} fwd_state;

static void fwd_element(void *arg, const char *p, const char *end)
{
	fwd_state *st = arg;
	size_t len = 0;
	const char *v = fwd_param(p, end, "for", &len);
	/* An element without for= still is a hop: an unknown one. */
	hop_add(st->l, v ? v : "unknown", v ? len : 7);
	v = fwd_param(p, end, "proto", &len);
	st->https = v && len == 5 && strncasecmp(v, "https", 5) == 0;
}

bool gg_proxy_client(char *out, const gg_cidr *list, size_t n, const gg_header *h, size_t nh,
                     bool *https)
{
	hops l = {.n = 0};
	fwd_state st = {&l, false};
	*https = false;
	out[0] = '\0';
	xff_hops(&l, h, nh);
	if (l.n > 0) {
		const char *proto = NULL;
		for (size_t i = 0; i < nh; i++)
			if (strcasecmp(h[i].name, "X-Forwarded-Proto") == 0)
				proto = h[i].value;
		*https = proto && strcasecmp(proto, "https") == 0;
	} else {
		fwd_elements(h, nh, fwd_element, &st);
		*https = st.https;
	}
	bool found = false;
	ipaddr a;
	for (size_t i = l.n; i-- > 0;) {
		if (!parse_addr(&a, l.s[i], l.len[i]))
			break; /* "unknown", obfuscated or garbage: stop at what we know */
		unmap(&a);
		inet_ntop(a.family, a.addr, out, GG_PROXY_ADDR_MAX);
		found = true;
		if (!trusted(list, n, &a))
			break;
	}
	return found;
}
