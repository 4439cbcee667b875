/*
 * Sender kinds: authentication schemes and payload readers. Signatures are
 * decoded to bytes and compared in constant time with CRYPTO_memcmp on equal
 * lengths; the payload is parsed only after authentication succeeded.
 */
#include "sender.h"

#include "gitgate/glob.h"
#include "gitgate/ytree.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHA256_LEN 32

static const char zero_hex[] = "0000000000000000000000000000000000000000"
                               "000000000000000000000000";

const char *gg_header_get(const gg_header *hdrs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(hdrs[i].name, name) == 0)
			return hdrs[i].value;
	return NULL;
}

bool gg_is_zero_id(const char *id)
{
	if (id == NULL || *id == '\0')
		return false;
	for (; *id; id++)
		if (*id != '0')
			return false;
	return true;
}

static void set_error(gg_sender_result *res, const char *fmt, ...) GG_PRINTF(2, 3);
static void set_error(gg_sender_result *res, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	free(res->error);
	res->error = gg_vprintf(fmt, ap);
	va_end(ap);
}

void gg_push_clear(gg_push *p)
{
	free(p->ref);
	free(p->before);
	free(p->after);
	free(p->repo);
	free(p->clone_url);
	free(p->pusher);
	for (size_t i = 0; i < p->npaths; i++)
		free(p->paths[i]);
	free(p->paths);
}

void gg_sender_result_free(gg_sender_result *res)
{
	free(res->delivery);
	free(res->event);
	for (size_t i = 0; i < res->npushes; i++)
		gg_push_clear(&res->pushes[i]);
	free(res->pushes);
	free(res->error);
	memset(res, 0, sizeof(*res));
}

/* ---- Signatures ---- */

static int unhex(unsigned char *out, size_t outlen, const char *s, size_t len)
{
	if (len != 2 * outlen)
		return -1;
	for (size_t i = 0; i < outlen; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + j];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			if (d < 0)
				return -1;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return 0;
}

static void hmac256(unsigned char out[SHA256_LEN], const void *key, size_t klen, const void *data,
                    size_t len)
{
	unsigned int olen = SHA256_LEN;
	HMAC(EVP_sha256(), key, (int)klen, data, len, out, &olen);
}

/* Whether hexsig (64 hex digits) is the HMAC-SHA256 of data under the source's secret. */
static bool hex_sig_ok(const gg_dsource *src, const char *hexsig, const void *data, size_t len)
{
	unsigned char want[SHA256_LEN], got[SHA256_LEN];
	if (hexsig == NULL || unhex(got, sizeof(got), hexsig, strlen(hexsig)) < 0)
		return false;
	hmac256(want, src->secret, src->secret_len, data, len);
	return CRYPTO_memcmp(want, got, SHA256_LEN) == 0;
}

/* "sha256=HEX" header form. */
static bool prefixed_sig_ok(const gg_dsource *src, const char *hdr, const void *data, size_t len)
{
	if (hdr == NULL || strncmp(hdr, "sha256=", 7) != 0)
		return false;
	return hex_sig_ok(src, hdr + 7, data, len);
}

/*
 * Standard Webhooks (GitLab): "v1,BASE64" entries separated by spaces over
 * "ID.TIMESTAMP.BODY"; any one matching entry is enough (key rotation).
 */
static bool stdwebhook_ok(gg_sender_result *res, const gg_dsource *src, const char *id,
                          const char *ts, const char *sigs, const char *body, size_t len,
                          time_t now)
{
	if (id == NULL || ts == NULL || sigs == NULL) {
		set_error(res, "missing webhook-id, webhook-timestamp or webhook-signature");
		return false;
	}
	char *end;
	long long t = strtoll(ts, &end, 10);
	if (*ts == '\0' || *end != '\0' || t < (long long)now - GG_SENDER_WEBHOOK_SKEW ||
	    t > (long long)now + GG_SENDER_WEBHOOK_SKEW) {
		set_error(res, "webhook-timestamp outside the allowed %d seconds",
		          GG_SENDER_WEBHOOK_SKEW);
		return false;
	}
	unsigned char want[SHA256_LEN];
	unsigned int olen = SHA256_LEN;
	gg_buf msg = GG_BUF_INIT;
	gg_buf_printf(&msg, "%s.%s.", id, ts);
	gg_buf_put(&msg, body, len);
	HMAC(EVP_sha256(), src->signing_key, (int)src->signing_key_len,
	     (const unsigned char *)msg.ptr, msg.len, want, &olen);
	gg_buf_free(&msg);

	bool ok = false;
	const char *p = sigs;
	while (*p && !ok) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		size_t n = (size_t)(e - p);
		if (n > 3 && strncmp(p, "v1,", 3) == 0 && n - 3 <= 88 && (n - 3) % 4 == 0) {
			unsigned char dec[96];
			int dl = EVP_DecodeBlock(dec, (const unsigned char *)p + 3, (int)(n - 3));
			if (dl >= 0 && p[n - 1] == '=')
				dl--;
			if (dl >= 0 && p[n - 2] == '=')
				dl--;
			if (dl == SHA256_LEN && CRYPTO_memcmp(dec, want, SHA256_LEN) == 0)
				ok = true;
		}
		p = e;
	}
	if (!ok)
		set_error(res, "no matching webhook-signature");
	return ok;
}

/* ---- Form bodies ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* The url-decoded value of `payload=` in a form body, or NULL. */
static char *form_payload(const char *body, size_t len, size_t *outlen)
{
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp ? amp : end;
		if ((size_t)(fe - p) >= 8 && memcmp(p, "payload=", 8) == 0) {
			char *out = gg_malloc((size_t)(fe - p));
			size_t n = 0;
			for (const char *q = p + 8; q < fe; q++) {
				if (*q == '+') {
					out[n++] = ' ';
				} else if (*q == '%' && fe - q >= 3 && hexval(q[1]) >= 0 &&
				           hexval(q[2]) >= 0) {
					out[n++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
					q += 2;
				} else {
					out[n++] = *q;
				}
			}
			out[n] = '\0';
			*outlen = n;
			return out;
		}
		p = fe + 1;
	}
	return NULL;
}

static bool is_form(const gg_header *h, size_t nh)
{
	const char *ct = gg_header_get(h, nh, "Content-Type");
	return ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

/* ---- Payload readers ---- */

/*
 * Payloads are read with the project's JSON tree (lib/ytree.c): bounded,
 * duplicate keys refused, and several times faster than a general-purpose
 * DOM on webhook-sized bodies, which matters on the event loop.
 */
typedef const gg_ynode jnode;

static jnode *jget(jnode *obj, const char *key)
{
	return obj && obj->type == GG_Y_MAP ? gg_ymap_get(obj, key) : NULL;
}

static bool jis_map(jnode *v)
{
	return v && v->type == GG_Y_MAP;
}

static bool jis_seq(jnode *v)
{
	return v && v->type == GG_Y_SEQ;
}

/* A string value without embedded NUL bytes, or NULL. */
static const char *jstrv(jnode *v)
{
	return v && v->type == GG_Y_STRING && v->str && strlen(v->str) == v->len ? v->str : NULL;
}

static const char *jstr(jnode *obj, const char *key)
{
	return jstrv(jget(obj, key));
}

static const char *jpath(jnode *obj, const char *a, const char *b)
{
	return jstr(jget(obj, a), b);
}

static bool valid_hex_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Length of the UTF-8 sequence at s (shortest form, no surrogates), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xc2 && c <= 0xdf   ? 2
	           : c >= 0xe0 && c <= 0xef ? 3
	           : c >= 0xf0 && c <= 0xf4 ? 4
	                                    : 0;
	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* Valid UTF-8 without C0 or C1 control characters or DEL. */
static bool clean_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = utf8_seq(p);
		if (n == 0 || *p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
			return false;
		p += n;
	}
	return true;
}

bool gg_ref_valid(const char *ref)
{
	if (ref == NULL || strncmp(ref, "refs/", 5) != 0 || strlen(ref) > GG_SENDER_MAX_REF ||
	    !clean_text(ref))
		return false;
	/* git check-ref-format, and no component that a command could read as an option. */
	if (strstr(ref, "..") || strstr(ref, "@{") || strpbrk(ref, " ~^:?*[\\"))
		return false;
	const char *comp = ref;
	for (;;) {
		const char *end = strchr(comp, '/');
		size_t n = end ? (size_t)(end - comp) : strlen(comp);
		if (n == 0 || comp[0] == '.' || comp[0] == '-' ||
		    (n >= 5 && memcmp(comp + n - 5, ".lock", 5) == 0))
			return false;
		if (end == NULL)
			return comp[n - 1] != '.' && strcmp(ref, "refs/heads/@") != 0;
		comp = end + 1;
	}
}

static char *dupn(const char *s)
{
	return s ? gg_strdup(s) : NULL;
}

static gg_push *add_push(gg_sender_result *res)
{
	res->pushes = gg_reallocarray(res->pushes, res->npushes + 1, sizeof(*res->pushes));
	gg_push *p = &res->pushes[res->npushes++];
	memset(p, 0, sizeof(*p));
	return p;
}

static void add_path(gg_push *p, const char *path)
{
	if (!p->paths_known)
		return;
	if (p->npaths >= GG_SENDER_MAX_PATHS) {
		p->paths_known = false;
		return;
	}
	if (p->npaths % 16 == 0)
		p->paths = gg_reallocarray(p->paths, p->npaths + 16, sizeof(*p->paths));
	p->paths[p->npaths++] = gg_strdup(path);
}

/* commits[].added/modified/removed; an absent, empty or truncated list leaves paths unknown. */
static void read_commits(gg_push *p, jnode *root, const char *total_key)
{
	jnode *commits = jget(root, "commits");
	p->paths_known = jis_seq(commits) && commits->n > 0;
	if (!p->paths_known)
		return;
	jnode *total = total_key ? jget(root, total_key) : NULL;
	if (total && total->type == GG_Y_INT && total->num > (double)commits->n) {
		p->paths_known = false;
		return;
	}
	static const char *const lists[] = {"added", "modified", "removed"};
	for (uint32_t i = 0; i < commits->n && p->paths_known; i++) {
		for (size_t k = 0; k < GG_ARRAY_LEN(lists); k++) {
			jnode *l = jget(commits->items[i], lists[k]);
			if (!jis_seq(l)) {
				p->paths_known = false;
				break;
			}
			for (uint32_t j = 0; j < l->n; j++) {
				const char *path = jstrv(l->items[j]);
				if (path)
					add_path(p, path);
			}
		}
	}
	if (!p->paths_known) {
		for (size_t k = 0; k < p->npaths; k++)
			free(p->paths[k]);
		free(p->paths);
		p->paths = NULL;
		p->npaths = 0;
	}
}

static gg_sender_rc check_push(gg_sender_result *res, const gg_push *p)
{
	if (p->ref == NULL)
		set_error(res, "payload: missing 'ref'");
	else if (!gg_ref_valid(p->ref))
		set_error(res, "payload: 'ref' is not a valid git ref name (git check-ref-format)");
	else if (!valid_hex_id(p->before) || !valid_hex_id(p->after))
		set_error(res, "payload: missing or invalid 'before'/'after' commit ids");
	else if (p->repo == NULL || *p->repo == '\0')
		set_error(res, "payload: missing repository name");
	else if (!clean_text(p->repo) || p->repo[0] == '-' || p->repo[0] == '.')
		set_error(res, "payload: invalid repository name");
	else if ((p->pusher && !clean_text(p->pusher)) ||
	         (p->clone_url && !clean_text(p->clone_url)))
		set_error(
		    res, "payload: control characters or invalid UTF-8 in the pusher or clone URL");
	else
		return GG_SENDER_OK;
	return GG_SENDER_BAD_REQUEST;
}

/* GitHub, generic, Gitea, Forgejo, Gogs: GitHub's push shape. */
static gg_sender_rc parse_github_shape(gg_sender_result *res, jnode *root)
{
	gg_push *p = add_push(res);
	jnode *repo = jget(root, "repository");
	jnode *pusher = jget(root, "pusher");
	p->ref = dupn(jstr(root, "ref"));
	p->before = dupn(jstr(root, "before"));
	p->after = dupn(jstr(root, "after"));
	p->repo = dupn(jstr(repo, "full_name"));
	p->clone_url = dupn(jstr(repo, "clone_url"));
	const char *who = jstr(pusher, "name");
	if (who == NULL)
		who = jstr(pusher, "login");
	if (who == NULL)
		who = jstr(pusher, "username");
	p->pusher = dupn(who);
	read_commits(p, root, "total_commits");
	return check_push(res, p);
}

static gg_sender_rc parse_gitlab(gg_sender_result *res, jnode *root)
{
	gg_push *p = add_push(res);
	jnode *project = jget(root, "project");
	p->ref = dupn(jstr(root, "ref"));
	p->before = dupn(jstr(root, "before"));
	p->after = dupn(jstr(root, "after"));
	p->repo = dupn(jstr(project, "path_with_namespace"));
	p->clone_url = dupn(jstr(project, "git_http_url"));
	p->pusher = dupn(jstr(root, "user_username"));
	read_commits(p, root, "total_commits_count");
	return check_push(res, p);
}

/* Both Bitbucket kinds list their ref changes: at least one, and a bounded number. */
static bool changes_ok(gg_sender_result *res, jnode *changes, const char *name)
{
	if (!jis_seq(changes) || changes->n == 0) {
		set_error(res, "payload: missing '%s'", name);
		return false;
	}
	if (changes->n > GG_SENDER_MAX_CHANGES) {
		set_error(res, "payload: more than %d changes", GG_SENDER_MAX_CHANGES);
		return false;
	}
	return true;
}

/* Bitbucket Cloud repo:push: one push per change (at most GG_SENDER_MAX_CHANGES). */
static gg_sender_rc parse_bitbucket_cloud(gg_sender_result *res, jnode *root)
{
	jnode *repo = jget(root, "repository");
	jnode *changes = jget(jget(root, "push"), "changes");
	const char *full = jstr(repo, "full_name");
	const char *html = jpath(jget(repo, "links"), "html", "href");
	jnode *actor = jget(root, "actor");
	const char *who = jstr(actor, "nickname");
	if (who == NULL)
		who = jstr(actor, "display_name");
	if (!changes_ok(res, changes, "push.changes"))
		return GG_SENDER_BAD_REQUEST;
	for (uint32_t i = 0; i < changes->n; i++) {
		jnode *c = changes->items[i];
		jnode *nw = jget(c, "new"), *old = jget(c, "old");
		jnode *named = jis_map(nw) ? nw : old;
		const char *name = jstr(named, "name"), *type = jstr(named, "type");
		gg_push *p = add_push(res);
		if (name && type)
			p->ref = strcmp(type, "tag") == 0 ? gg_printf("refs/tags/%s", name)
			                                  : gg_printf("refs/heads/%s", name);
		const char *b = jis_map(old) ? jpath(old, "target", "hash") : NULL;
		const char *a = jis_map(nw) ? jpath(nw, "target", "hash") : NULL;
		p->before = gg_strdup(b ? b : zero_hex + 24);
		p->after = gg_strdup(a ? a : zero_hex + 24);
		p->repo = dupn(full);
		p->clone_url = html ? gg_printf("%s.git", html) : NULL;
		p->pusher = dupn(who);
		p->paths_known = false; /* Bitbucket sends no file lists */
		gg_sender_rc rc = check_push(res, p);
		if (rc != GG_SENDER_OK)
			return rc;
	}
	return GG_SENDER_OK;
}

/* Bitbucket Data Center repo:refs_changed: changes[].refId fromHash toHash. */
static gg_sender_rc parse_bitbucket_dc(gg_sender_result *res, jnode *root)
{
	jnode *repo = jget(root, "repository");
	jnode *changes = jget(root, "changes");
	const char *slug = jstr(repo, "slug");
	const char *key = jpath(repo, "project", "key");
	const char *clone = NULL;
	jnode *clones = jget(jget(repo, "links"), "clone");
	for (uint32_t i = 0; jis_seq(clones) && i < clones->n; i++) {
		const char *n = jstr(clones->items[i], "name");
		if (n && strcmp(n, "http") == 0)
			clone = jstr(clones->items[i], "href");
	}
	jnode *actor = jget(root, "actor");
	if (!changes_ok(res, changes, "changes"))
		return GG_SENDER_BAD_REQUEST;
	for (uint32_t i = 0; i < changes->n; i++) {
		jnode *c = changes->items[i];
		gg_push *p = add_push(res);
		p->ref = dupn(jstr(c, "refId"));
		p->before = dupn(jstr(c, "fromHash"));
		p->after = dupn(jstr(c, "toHash"));
		p->repo = slug && key ? gg_printf("%s/%s", key, slug) : NULL;
		p->clone_url = dupn(clone);
		p->pusher = dupn(jstr(actor, "name"));
		p->paths_known = false;
		gg_sender_rc rc = check_push(res, p);
		if (rc != GG_SENDER_OK)
			return rc;
	}
	return GG_SENDER_OK;
}

static bool event_is_push(gg_source_kind kind, const char *event)
{
	switch (kind) {
	case GG_SRC_GITLAB:
		return strcmp(event, "Push Hook") == 0 || strcmp(event, "Tag Push Hook") == 0;
	case GG_SRC_BITBUCKET:
		return strcmp(event, "repo:push") == 0 || strcmp(event, "repo:refs_changed") == 0;
	default:
		return strcmp(event, "push") == 0;
	}
}

gg_sender_rc gg_sender_parse(gg_sender_result *res, gg_source_kind kind, const char *event,
                             const char *jsontext, size_t len)
{
	gg_sender_rc rc = GG_SENDER_BAD_REQUEST;
	gg_yfile *yf = NULL;
	gg_yparse(&yf, jsontext, len, GG_YFMT_JSON, &gg_ylimits_default);
	jnode *root = gg_yfile_ndocs(yf) == 1 ? gg_yfile_doc(yf, 0) : NULL;
	if (gg_yfile_nproblems(yf) > 0) {
		const gg_yproblem *pr = gg_yfile_problem(yf, 0);
		set_error(res, "payload is not valid JSON: %u:%u: %s", pr->line, pr->col, pr->msg);
		goto done;
	}
	if (!jis_map(root)) {
		set_error(res, "payload is not a JSON object");
		goto done;
	}
	if (event == NULL && kind == GG_SRC_GITLAB) {
		/* No X-Gitlab-Event: fall back to the body's own kind. */
		const char *ok = jstr(root, "object_kind");
		event = ok && strcmp(ok, "push") == 0       ? "Push Hook"
		        : ok && strcmp(ok, "tag_push") == 0 ? "Tag Push Hook"
		                                            : "unknown";
	}
	if (event == NULL)
		event = "push";
	free(res->event);
	res->event = gg_strdup(event);
	res->is_push = event_is_push(kind, event);
	if (!res->is_push) {
		rc = GG_SENDER_OK;
		goto done;
	}
	switch (kind) {
	case GG_SRC_GITLAB:
		rc = parse_gitlab(res, root);
		break;
	case GG_SRC_BITBUCKET:
		rc = strcmp(event, "repo:push") == 0 ? parse_bitbucket_cloud(res, root)
		                                     : parse_bitbucket_dc(res, root);
		break;
	default:
		rc = parse_github_shape(res, root);
		break;
	}
done:
	gg_yfile_free(yf);
	return rc;
}

bool gg_delivery_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > GG_SENDER_MAX_DELIVERY || !(isalnum((unsigned char)s[0]) || s[0] == '{'))
		return false;
	/* An unsigned header that reaches {delivery}: letters, digits and a few separators. */
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.:{}", *s))
			return false;
	return true;
}

gg_sender_rc gg_sender_handle(gg_sender_result *res, const gg_dsource *src, const gg_header *h,
                              size_t nh, const char *body, size_t len, time_t now)
{
	const char *delivery = NULL, *event = NULL;
	char *form = NULL;
	size_t flen = 0;
	const char *json = body;
	size_t jlen = len;
	gg_sender_rc rc = GG_SENDER_UNAUTHORIZED;
	memset(res, 0, sizeof(*res));

	if (is_form(h, nh) && src->kind != GG_SRC_GITLAB && src->kind != GG_SRC_BITBUCKET) {
		form = form_payload(body, len, &flen);
		if (form) {
			json = form;
			jlen = flen;
		}
	}
	/* Authentication first: nothing of an unauthenticated body is looked at. */
	switch (src->kind) {
	case GG_SRC_GITHUB:
		if (!prefixed_sig_ok(src, gg_header_get(h, nh, "X-Hub-Signature-256"), body, len))
			goto unauthorized;
		delivery = gg_header_get(h, nh, "X-GitHub-Delivery");
		event = gg_header_get(h, nh, "X-GitHub-Event");
		break;
	case GG_SRC_GENERIC:
		if (!prefixed_sig_ok(src, gg_header_get(h, nh, "X-Gitgate-Signature"), body, len))
			goto unauthorized;
		delivery = gg_header_get(h, nh, "X-Gitgate-Delivery");
		event = gg_header_get(h, nh, "X-Gitgate-Event");
		break;
	case GG_SRC_GITEA:
	case GG_SRC_FORGEJO:
	case GG_SRC_GOGS: {
		const char *prefix = src->kind == GG_SRC_GITEA     ? "Gitea"
		                     : src->kind == GG_SRC_FORGEJO ? "Forgejo"
		                                                   : "Gogs";
		char name[64];
		snprintf(name, sizeof(name), "X-%s-Signature", prefix);
		/* With form bodies these sign the JSON payload, not the form. */
		if (!hex_sig_ok(src, gg_header_get(h, nh, name), json, jlen))
			goto unauthorized;
		snprintf(name, sizeof(name), "X-%s-Delivery", prefix);
		delivery = gg_header_get(h, nh, name);
		snprintf(name, sizeof(name), "X-%s-Event", prefix);
		event = gg_header_get(h, nh, name);
		break;
	}
	case GG_SRC_BITBUCKET:
		if (!prefixed_sig_ok(src, gg_header_get(h, nh, "X-Hub-Signature"), body, len))
			goto unauthorized;
		delivery = gg_header_get(h, nh, "X-Request-UUID");
		if (delivery == NULL)
			delivery = gg_header_get(h, nh, "X-Request-Id");
		event = gg_header_get(h, nh, "X-Event-Key");
		if (event == NULL) {
			set_error(res, "missing X-Event-Key header");
			rc = GG_SENDER_BAD_REQUEST;
			goto done;
		}
		break;
	case GG_SRC_LOCAL:
		/* Only the server knows the socket's peer: see local.c. */
		goto unauthorized;
	case GG_SRC_GITLAB: {
		const char *tok = gg_header_get(h, nh, "X-Gitlab-Token");
		if (tok == NULL || !gg_secure_equal(tok, strlen(tok), src->secret, src->secret_len))
			goto unauthorized;
		const char *wid = gg_header_get(h, nh, "webhook-id");
		if (src->signing_key &&
		    !stdwebhook_ok(res, src, wid, gg_header_get(h, nh, "webhook-timestamp"),
		                   gg_header_get(h, nh, "webhook-signature"), body, len, now)) {
			rc = GG_SENDER_UNAUTHORIZED;
			goto done;
		}
		/*
		 * With a signature, only the signed webhook-id identifies the
		 * delivery: an unsigned Idempotency-Key could be changed on a replay.
		 */
		delivery = src->signing_key ? wid : gg_header_get(h, nh, "Idempotency-Key");
		if (delivery == NULL)
			delivery = wid;
		event = gg_header_get(h, nh, "X-Gitlab-Event");
		break;
	}
	}
	if (delivery == NULL || !gg_delivery_valid(delivery)) {
		if (delivery)
			set_error(res,
			          "delivery id must be 1-%d letters, digits, '-', '_', '.', ':', "
			          "'{' or '}', starting with a letter, a digit or '{'",
			          GG_SENDER_MAX_DELIVERY);
		else
			set_error(res, "missing delivery id header");
		rc = GG_SENDER_BAD_REQUEST;
		goto done;
	}
	res->delivery = gg_strdup(delivery);
	rc = gg_sender_parse(res, src->kind, event, json, jlen);
	goto done;
unauthorized:
	set_error(res, "missing or wrong signature");
done:
	free(form);
	return rc;
}

bool gg_push_matches(const gg_dtarget *t, const char *source, const gg_push *p)
{
	if (t->source && strcmp(t->source, source) != 0)
		return false;
	if (!gg_glob_match(t->repo, p->repo) || !gg_glob_match(t->ref, p->ref))
		return false;
	if (t->npaths == 0 || !p->paths_known)
		return true;
	for (size_t i = 0; i < p->npaths; i++)
		for (size_t j = 0; j < t->npaths; j++)
			if (gg_glob_match(t->paths[j], p->paths[i]))
				return true;
	return false;
}
