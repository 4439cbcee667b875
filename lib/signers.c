/*
 * The allowed-signers parser: one pass over the lines, each split into
 * principals, options, key type, key and comment the way ssh-keygen splits
 * them (a principals field or option value may be quoted). Every problem is
 * collected with its position before loading fails.
 */
#include "gitgate/signers.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A line longer than this is no key (a 16384-bit RSA key's line is about 3 KiB). */
#define SIGNERS_MAX_LINE (16u * 1024)

struct entry {
	char *principals;
	char *namespaces; /* NULL: every namespace */
	bool ca;
	bool has_after, has_before;
	time_t after, before;
	gg_sshkey *key;
	unsigned line;
};

struct gg_signers {
	char *file;
	struct entry *v;
	size_t n;
};

/* ---- patterns (ssh's match.c semantics: '*' and '?', '!' negates in a list) ---- */

static bool match_pattern(const char *s, size_t ns, const char *p, size_t np)
{
	size_t si = 0, pi = 0, star = (size_t)-1, mark = 0;
	while (si < ns) {
		if (pi < np && (p[pi] == '?' || p[pi] == s[si])) {
			si++, pi++;
		} else if (pi < np && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (star != (size_t)-1) {
			pi = star + 1;
			si = ++mark;
		} else
			return false;
	}
	while (pi < np && p[pi] == '*')
		pi++;
	return pi == np;
}

bool gg_signers_match_list(const char *list, const char *name)
{
	bool got = false;
	size_t nname = strlen(name);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		bool neg = n > 0 && p[0] == '!';
		if (match_pattern(name, nname, p + neg, n - neg)) {
			if (neg)
				return false;
			got = true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return got;
}

/* ---- parsing ---- */

struct cur {
	const char *file;
	gg_diag *diag;
	const char *line; /* the line's first byte */
	const char *p, *end;
	unsigned lineno;
	bool bad;
};

static void err_at(struct cur *c, const char *at, const char *fmt, ...) GG_PRINTF(3, 4);
static void err_at(struct cur *c, const char *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	gg_diag_add(c->diag, c->file, c->lineno, (unsigned)(at - c->line) + 1, "%s", m);
	free(m);
	c->bad = true;
}

static void skip_space(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

enum quotes { Q_NONE, Q_STRIP, Q_KEEP };

/* A field up to unquoted whitespace. NULL on an open quote. */
static char *field(struct cur *c, enum quotes mode)
{
	gg_buf b = GG_BUF_INIT;
	bool q = false;
	const char *start = c->p;
	while (c->p < c->end && (q || (*c->p != ' ' && *c->p != '\t'))) {
		if (mode != Q_NONE && *c->p == '"') {
			q = !q;
			if (mode == Q_STRIP) {
				c->p++;
				continue;
			}
		}
		gg_buf_putc(&b, *c->p++);
	}
	if (q) {
		err_at(c, start, "unterminated quote");
		gg_buf_free(&b);
		return NULL;
	}
	if (b.ptr == NULL)
		gg_buf_puts(&b, "");
	return gg_buf_detach(&b);
}

static bool is_key_type(const char *s)
{
	return !strncmp(s, "ssh-", 4) || !strncmp(s, "ecdsa-", 6) || !strncmp(s, "sk-", 3);
}

/* YYYYMMDD[HHMM[SS]][Z]: UTC with Z, else local time, as ssh-keygen reads it. */
static int parse_time(const char *s, time_t *out)
{
	size_t n = strlen(s);
	bool utc = n > 0 && (s[n - 1] == 'Z' || s[n - 1] == 'z');
	if (utc)
		n--;
	if (n != 8 && n != 12 && n != 14)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int v[6] = {0};
	const int w[6] = {4, 2, 2, 2, 2, 2};
	size_t at = 0;
	for (int i = 0; i < 6 && at < n; i++) {
		for (int k = 0; k < w[i]; k++)
			v[i] = v[i] * 10 + (s[at++] - '0');
	}
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60 ||
	    v[0] < 1970)
		return -1;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	tm.tm_isdst = -1;
	time_t t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

/* cert-authority,namespaces="git",valid-after="20240101",valid-before="20251231Z" */
static void parse_options(struct cur *c, const char *opts, const char *at, struct entry *e)
{
	const char *p = opts;
	while (*p) {
		size_t nname = strcspn(p, "=,");
		char *value = NULL;
		const char *name = p;
		p += nname;
		if (*p == '=') {
			p++;
			if (*p == '"') {
				const char *q = strchr(p + 1, '"');
				if (q == NULL) {
					err_at(c, at, "unterminated quote in the options");
					return;
				}
				value = gg_strndup(p + 1, (size_t)(q - p - 1));
				p = q + 1;
			} else {
				size_t nv = strcspn(p, ",");
				value = gg_strndup(p, nv);
				p += nv;
			}
			if (*p && *p != ',') {
				err_at(c, at, "malformed options: expected ',' after a value");
				free(value);
				return;
			}
		}
		if (nname == 14 && !strncmp(name, "cert-authority", 14) && value == NULL)
			e->ca = true;
		else if (nname == 10 && !strncmp(name, "namespaces", 10) && value && *value) {
			free(e->namespaces);
			e->namespaces = gg_strdup(value);
		} else if (nname == 11 && !strncmp(name, "valid-after", 11) && value) {
			if (parse_time(value, &e->after) < 0)
				err_at(c, at,
				       "valid-after: '%s' is not a time (YYYYMMDD[HHMM[SS]][Z])",
				       value);
			e->has_after = true;
		} else if (nname == 12 && !strncmp(name, "valid-before", 12) && value) {
			if (parse_time(value, &e->before) < 0)
				err_at(c, at,
				       "valid-before: '%s' is not a time (YYYYMMDD[HHMM[SS]][Z])",
				       value);
			e->has_before = true;
		} else {
			char *shown = gg_strndup(name, nname > 40 ? 40 : nname);
			err_at(c, at,
			       "unknown or malformed option '%s' (cert-authority, namespaces=, "
			       "valid-after=, valid-before=)",
			       shown);
			free(shown);
		}
		free(value);
		if (*p == ',')
			p++;
	}
}

static void entry_free(struct entry *e)
{
	free(e->principals);
	free(e->namespaces);
	gg_sshkey_free(e->key);
}

static void parse_line(struct cur *c, gg_signers *s)
{
	struct entry e;
	memset(&e, 0, sizeof(e));
	e.line = c->lineno;
	skip_space(c);
	if (c->p == c->end || *c->p == '#')
		return;
	const char *at = c->p;
	e.principals = field(c, Q_STRIP);
	if (e.principals == NULL)
		goto fail;
	if (*e.principals == '\0') {
		err_at(c, at, "empty principals");
		goto fail;
	}
	skip_space(c);
	at = c->p;
	char *tok = field(c, Q_KEEP);
	if (tok == NULL)
		goto fail;
	if (*tok == '\0') {
		free(tok);
		err_at(c, at, "a key type and key must follow the principals");
		goto fail;
	}
	if (!is_key_type(tok)) {
		parse_options(c, tok, at, &e);
		free(tok);
		skip_space(c);
		at = c->p;
		if ((tok = field(c, Q_NONE)) == NULL)
			goto fail;
	}
	const char *type_at = at;
	skip_space(c);
	at = c->p;
	size_t nkey = 0; /* the line is not NUL-terminated: no str* functions past here */
	while (c->p + nkey < c->end && c->p[nkey] != ' ' && c->p[nkey] != '\t')
		nkey++;
	if (*tok == '\0' || nkey == 0) {
		err_at(c, *tok ? at : type_at, "a key type and key must follow the principals");
		free(tok);
		goto fail;
	}
	char *why = NULL;
	if (gg_sshkey_from_text(&e.key, tok, c->p, nkey, &why) < 0) {
		char *shown = gg_strndup(tok, strlen(tok) > 40 ? 40 : strlen(tok));
		for (char *q = shown; *q; q++)
			if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
				*q = '?';
		err_at(c, strstr(why, "supported") ? type_at : at, "%s key: %s", shown, why);
		free(shown);
		free(why);
		free(tok);
		goto fail;
	}
	free(tok);
	s->v = gg_reallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = e;
	return;
fail:
	entry_free(&e);
}

int gg_signers_parse(gg_signers **out, const char *file, const char *data, size_t len,
                     gg_diag *diag)
{
	gg_signers *s = gg_calloc(1, sizeof(*s));
	struct cur c = {file, diag, NULL, NULL, NULL, 0, false};
	s->file = gg_strdup(file);
	*out = NULL;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		c.lineno++;
		c.line = c.p = p;
		c.end = le > p && le[-1] == '\r' ? le - 1 : le;
		if ((size_t)(le - p) > SIGNERS_MAX_LINE)
			err_at(&c, p, "line is over %u bytes", SIGNERS_MAX_LINE);
		else if (memchr(p, '\0', (size_t)(le - p)))
			err_at(&c, p, "NUL byte in the line");
		else
			parse_line(&c, s);
		p = nl ? nl + 1 : end;
	}
	if (!c.bad && s->n == 0) {
		gg_diag_add(diag, file, 1, 1, "no keys: the file lists no signer");
		c.bad = true;
	}
	if (c.bad) {
		gg_signers_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int gg_signers_load(gg_signers **out, const char *path, gg_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	if (gg_read_file(&data, &len, path, GG_SIGNERS_MAX_BYTES) < 0) {
		gg_diag_addf(diag, "%s: %s", path,
		             errno == EFBIG ? "allowed-signers file is over 4 MiB"
		                            : strerror(errno));
		return -1;
	}
	int rc = gg_signers_parse(out, path, data, len, diag);
	free(data);
	return rc;
}

void gg_signers_free(gg_signers *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	free(s->v);
	free(s->file);
	free(s);
}

size_t gg_signers_count(const gg_signers *s)
{
	return s->n;
}

static char *fmt_time(time_t t)
{
	struct tm tm;
	char buf[32];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
	return gg_strdup(buf);
}

/*
 * A certificate's principal the entry allows: `principal` itself when given
 * (the certificate must name it and the entry's patterns match it), else the
 * first of the certificate's that the patterns match. NULL: none.
 */
static const char *cert_principal(const struct entry *e, const gg_sshkey *key,
                                  const char *principal)
{
	const char *const *v;
	size_t n = gg_sshkey_cert_principals(key, &v);
	for (size_t i = 0; i < n; i++) {
		if (principal && strcmp(v[i], principal) != 0)
			continue;
		if (gg_signers_match_list(e->principals, v[i]))
			return v[i];
	}
	return NULL;
}

/* An entry with cert-authority, for a certificate its CA signed. */
static gg_signers_result check_cert(const gg_signers *s, const struct entry *e,
                                    const gg_sshkey *key, const char *principal, time_t at,
                                    char **why)
{
	int v = gg_sshkey_cert_valid_at(key, (int64_t)at);
	if (!gg_sshkey_cert_user(key)) {
		*why = gg_printf("%s:%u: certificate '%s' is a host certificate", s->file, e->line,
		                 gg_sshkey_cert_id(key));
		return GG_SIGNERS_NAMESPACE;
	}
	if (v != 0) {
		*why =
		    gg_printf("%s:%u: certificate '%s' is %s", s->file, e->line,
		              gg_sshkey_cert_id(key), v < 0 ? "not valid yet" : "no longer valid");
		return GG_SIGNERS_EXPIRED;
	}
	if (cert_principal(e, key, principal) == NULL) {
		*why = gg_printf("%s:%u: certificate '%s' names no principal the entry allows%s%s",
		                 s->file, e->line, gg_sshkey_cert_id(key), principal ? " as " : "",
		                 principal ? principal : "");
		return GG_SIGNERS_PRINCIPAL;
	}
	return GG_SIGNERS_OK;
}

gg_signers_result gg_signers_check(const gg_signers *s, const gg_sshkey *key, const char *ns,
                                   const char *principal, time_t at, char **detail)
{
	gg_signers_result best = GG_SIGNERS_UNKNOWN;
	bool cert = gg_sshkey_is_cert(key);
	*detail = NULL;
	for (size_t i = 0; i < s->n; i++) {
		const struct entry *e = &s->v[i];
		/* A CA entry vouches only for certificates it signed, a plain one only for its key.
		 */
		if (cert ? !e->ca || !gg_sshkey_equal(e->key, gg_sshkey_cert_ca(key))
		         : e->ca || !gg_sshkey_equal(e->key, key))
			continue;
		gg_signers_result r = GG_SIGNERS_OK;
		char *why = NULL;
		if (e->namespaces && !gg_signers_match_list(e->namespaces, ns)) {
			r = GG_SIGNERS_NAMESPACE;
			why = gg_printf("%s:%u limits the key to namespaces \"%s\", not %s",
			                s->file, e->line, e->namespaces, ns);
		} else if ((e->has_after && at < e->after) || (e->has_before && at >= e->before)) {
			r = GG_SIGNERS_EXPIRED;
			char *t = fmt_time(e->has_after && at < e->after ? e->after : e->before);
			why = gg_printf("%s:%u: the key is valid %s %s", s->file, e->line,
			                e->has_after && at < e->after ? "from" : "until", t);
			free(t);
		} else if (cert) {
			r = check_cert(s, e, key, principal, at, &why);
		} else if (principal && !gg_signers_match_list(e->principals, principal)) {
			r = GG_SIGNERS_PRINCIPAL;
			why = gg_printf("%s:%u lists the key for %s", s->file, e->line,
			                e->principals);
		}
		if (r == GG_SIGNERS_OK) {
			free(*detail);
			*detail = NULL;
			free(why);
			return r;
		}
		/* Report the entry that came closest: principal, then time, then namespace. */
		if (r > best) {
			best = r;
			free(*detail);
			*detail = why;
		} else
			free(why);
	}
	return best;
}
