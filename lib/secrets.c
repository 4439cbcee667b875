/*
 * The secret-scanning engine; the rules it runs are data (secrets_rules.c and
 * a gitleaks config). Cost model: one Aho-Corasick step per byte of input
 * over the keywords of every rule (case-folded, a DFA on a compressed
 * alphabet), and a PCRE2 match only on lines where one of a rule's keywords
 * occurs. Patterns compile on first use, so a push with no candidate line
 * compiles nothing.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "gitgate/secrets.h"
#include "gitgate/gltoml.h"

#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A keyword longer than this is a mistake in a config, not a keyword. */
#define SECRETS_MAX_KEYWORD 256
/* All keywords of a config together: bounds the automaton (states x classes). */
#define SECRETS_MAX_KEYWORD_BYTES (64 * 1024)
/* Findings already reported on one line: more than this and overlap checks stop. */
#define SECRETS_MAX_SPANS 64
/* Bound on PCRE2's backtracking per match: a pathological pattern fails, never hangs. */
#define SECRETS_MATCH_LIMIT 1000000

/* Public documentation keys that the rules' patterns accept as they are. */
static const char *const known_examples[] = {
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "AIzaSyDOCAbC123dEf456GhI789jKl012-MnO",
    "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "xoxb-12345-abcd234",
    NULL,
};

/* Placeholder words (compared case-insensitively within the secret). */
static const char *const stop_words[] = {
    "example",    "xxxx",       "sample",     "dummy",   "placeholder", "changeme", "change_me",
    "redacted",   "your_",      "your-",      "yourkey", "insert",      "replace",  "fake",
    "1234567890", "0123456789", "abcdefghij", "...",     "****",        "${",       "{{",
    "%s",         "<",          ">",          NULL,
};

struct allow {
	pcre2_code **re;
	size_t nre;
	pcre2_code **paths;
	size_t npaths;
	char **stop; /* lower-cased */
	size_t nstop;
	gg_gl_target target;
	bool all;
};

struct rule {
	const char *id, *provider, *description, *pattern;
	unsigned group;
	double entropy;
	unsigned flags;
	bool warning;     /* reports as a warning (generic: warning) */
	pcre2_code *code; /* NULL until first used */
	bool broken;      /* failed to compile: skipped */
	pcre2_code *path; /* only files whose path matches; NULL: all */
	struct allow *allow;
	size_t nallow;
	bool path_only; /* a config rule with a path and no regex */
};

struct gg_secrets {
	struct rule *rules;
	size_t nrules;
	size_t words;     /* uint64 words in a rule bitset */
	uint64_t *always; /* rules without keywords: run on every line */
	bool any_always;
	/* The keyword automaton. */
	uint8_t cls[256];
	unsigned ncls;
	/*
	 * The transitions, nstates rows of ncls entries; an entry is the next
	 * state's row offset shifted left by one, its low bit set when that
	 * state ends a keyword: one dependent load and no multiply per byte.
	 */
	uint32_t *next;
	uint64_t *out; /* nstates * words */
	uint8_t *has_out;
	size_t nstates;
	struct allow *allow; /* global allowlists */
	size_t nallow;
	bool allow_inline;
	char **ignore;
	size_t nignore, capignore;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	char **owned; /* strings of config rules */
	size_t nowned;
	gg_gl_config *cfg;
};

/* ---- small helpers ---- */

double gg_secrets_entropy(const char *s, size_t n)
{
	unsigned counts[256] = {0};
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		counts[(unsigned char)s[i]]++;
	double h = 0;
	for (int c = 0; c < 256; c++)
		if (counts[c]) {
			double p = (double)counts[c] / (double)n;
			h -= p * log2(p);
		}
	return h;
}

static uint32_t crc32_ieee(const char *s, size_t n)
{
	static uint32_t table[256];
	if (table[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ (unsigned char)s[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static int b62(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

bool gg_secrets_crc32_ok(const char *token, size_t n)
{
	if (n < 36)
		return false;
	const char *body = token + n - 36, *sum = token + n - 6;
	uint64_t v = 0;
	for (int i = 0; i < 6; i++) {
		int d = b62(sum[i]);
		if (d < 0)
			return false;
		v = v * 62 + (uint64_t)d;
	}
	return v <= 0xffffffffu && (uint32_t)v == crc32_ieee(body, 30);
}

static bool ci_contains(const char *s, size_t n, const char *w)
{
	size_t m = strlen(w);
	if (m == 0 || m > n)
		return false;
	for (size_t i = 0; i + m <= n; i++) {
		size_t k = 0;
		while (k < m &&
		       (s[i + k] | (char)((s[i + k] >= 'A' && s[i + k] <= 'Z') ? 0x20 : 0)) == w[k])
			k++;
		if (k == m)
			return true;
	}
	return false;
}

/* Documentation placeholders, template references and runs of one character. */
static bool is_placeholder(const char *s, size_t n, bool check_repeats)
{
	char low[256];
	size_t m = n < sizeof(low) ? n : sizeof(low);
	for (size_t i = 0; i < m; i++)
		low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i]);
	for (size_t i = 0; stop_words[i]; i++)
		if (memmem(low, m, stop_words[i], strlen(stop_words[i])))
			return true;
	if (n > m)
		for (size_t i = 0; stop_words[i]; i++)
			if (ci_contains(s, n, stop_words[i]))
				return true;
	if (check_repeats) {
		/* letters and digits only: key block armour is made of dashes */
		size_t run = 1;
		for (size_t i = 1; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			bool alnum =
			    (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
			run = alnum && s[i] == s[i - 1] ? run + 1 : 1;
			if (run >= 5)
				return true;
		}
	}
	return false;
}

static bool is_known_example(const char *s, size_t n)
{
	for (size_t i = 0; known_examples[i]; i++)
		if (strlen(known_examples[i]) == n && !memcmp(known_examples[i], s, n))
			return true;
	return false;
}

/* A value of the generic rule that reads like a reference, not a secret. */
static bool generic_is_reference(const char *s, size_t n)
{
	bool lower = false, upper = false, digit = false, other = false, dot = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'a' && c <= 'z')
			lower = true;
		else if (c >= 'A' && c <= 'Z')
			upper = true;
		else if (c >= '0' && c <= '9')
			digit = true;
		else {
			other = true;
			if (c == '.')
				dot = true;
		}
	}
	int classes = lower + upper + digit + other;
	if (classes < 2 || (!digit && classes < 3))
		return true;
	if (s[0] == '/' || (n > 1 && s[0] == '.' && s[1] == '/') || memmem(s, n, "://", 3))
		return true;
	/* settings.api_token, process.env.TOKEN: identifiers joined by dots */
	if (dot) {
		bool ident = true;
		for (size_t i = 0; i < n && ident; i++) {
			unsigned char c = (unsigned char)s[i];
			ident = c == '.' || c == '_' || (c >= 'a' && c <= 'z') ||
			        (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		}
		if (ident)
			return true;
	}
	return false;
}

/*
 * The rest of a generic rule's name after its keyword: secretName,
 * token_url, password_policy, keyRef name where a secret is, not the secret.
 */
static bool generic_name_is_metadata(const char *s, size_t n)
{
	static const char *const suffixes[] = {
	    "name",    "names",   "ref",      "id",      "ids",        "url",    "uri",
	    "path",    "file",    "arn",      "type",    "policy",     "length", "ttl",
	    "header",  "field",   "env",      "version", "endpoint",   "prefix", "suffix",
	    "format",  "mode",    "enabled",  "count",   "rotation",   "size",   "expiry",
	    "expires", "timeout", "provider", "manager", "store",      "label",  "hint",
	    "regex",   "pattern", "location", "dir",     "secret_ref", NULL,
	};
	while (n && (s[n - 1] == '"' || s[n - 1] == '\''))
		n--;
	for (size_t i = 0; suffixes[i]; i++) {
		size_t m = strlen(suffixes[i]);
		if (m > n)
			continue;
		size_t k = 0;
		while (k < m &&
		       ((s[n - m + k] | 0x20) == suffixes[i][k] || s[n - m + k] == suffixes[i][k]))
			k++;
		if (k == m)
			return true;
	}
	return false;
}

static void redact(char *out, size_t cap, const char *s, size_t n)
{
	char head[5] = {0}, tail[5] = {0};
	size_t k = n >= 16 ? 4 : n >= 8 ? 2 : 0;
	for (size_t i = 0; i < k; i++) {
		unsigned char a = (unsigned char)s[i], b = (unsigned char)s[n - k + i];
		head[i] = a < 0x20 || a >= 0x7f ? '?' : (char)a;
		tail[i] = b < 0x20 || b >= 0x7f ? '?' : (char)b;
	}
	snprintf(out, cap, "%s****%s", head, tail);
}

/* ---- text kinds ---- */

gg_text_kind gg_secrets_text_kind(const char *data, size_t len)
{
	const unsigned char *d = (const unsigned char *)data;
	if (len >= 2 && d[0] == 0xff && d[1] == 0xfe)
		return GG_TEXT_UTF16LE;
	if (len >= 2 && d[0] == 0xfe && d[1] == 0xff)
		return GG_TEXT_UTF16BE;
	size_t n = len < 8000 ? len : 8000;
	/* The common case, decided at memchr's speed: no NUL, no UTF-16. */
	if (memchr(d, 0, n) == NULL)
		return GG_TEXT_PLAIN;
	n &= ~(size_t)1;
	size_t even0 = 0, odd0 = 0, ctl = 0;
	for (size_t i = 0; i < n; i += 2) {
		even0 += d[i] == 0;
		odd0 += d[i + 1] == 0;
	}
	size_t pairs = n / 2;
	/* ASCII-range UTF-16 has a NUL in (nearly) every other byte, and only there. */
	if (pairs >= 2 && odd0 * 10 >= pairs * 4 && even0 * 20 < pairs)
		return GG_TEXT_UTF16LE;
	if (pairs >= 2 && even0 * 10 >= pairs * 4 && odd0 * 20 < pairs)
		return GG_TEXT_UTF16BE;
	n = len < 8000 ? len : 8000;
	for (size_t i = 0; i < n; i++)
		if (d[i] < 0x20 && d[i] != '\t' && d[i] != '\n' && d[i] != '\r' && d[i] != '\f' &&
		    d[i] != '\v' && d[i] != '\b' && d[i] != 0x1b)
			ctl++;
	/* One stray byte (a leading NUL) does not make a text binary; a share of them does.
	 * (Without any NUL a text counts as plain: binary formats nearly always have one.) */
	return n && ctl * 20 > n ? GG_TEXT_BINARY : GG_TEXT_PLAIN;
}

static void put_utf8(gg_buf *b, uint32_t cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	gg_buf_put(b, u, n);
}

/* UTF-16 to UTF-8 (a BOM dropped, unpaired surrogates as '?'). */
static void utf16_decode(gg_buf *b, const char *data, size_t len, bool le)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t i = 0;
	if (len >= 2 &&
	    ((le && d[0] == 0xff && d[1] == 0xfe) || (!le && d[0] == 0xfe && d[1] == 0xff)))
		i = 2;
	for (; i + 1 < len; i += 2) {
		uint32_t u =
		    le ? (uint32_t)(d[i] | d[i + 1] << 8) : (uint32_t)(d[i] << 8 | d[i + 1]);
		if (u >= 0xd800 && u < 0xdc00 && i + 3 < len) {
			uint32_t v = le ? (uint32_t)(d[i + 2] | d[i + 3] << 8)
			                : (uint32_t)(d[i + 2] << 8 | d[i + 3]);
			if (v >= 0xdc00 && v < 0xe000) {
				put_utf8(b, 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00));
				i += 2;
				continue;
			}
		}
		put_utf8(b, u >= 0xd800 && u < 0xe000 ? '?' : u);
	}
}

/* ---- building a scanner ---- */

static pcre2_code *compile(const char *pattern, char *err, size_t errlen, size_t *off)
{
	int code;
	PCRE2_SIZE eo;
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &code, &eo, NULL);
	if (re == NULL) {
		if (err)
			pcre2_get_error_message(code, (PCRE2_UCHAR *)err, errlen);
		if (off)
			*off = eo;
		return NULL;
	}
	/* JIT is an optimisation: where it is unavailable the interpreter runs. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

static void free_allow(struct allow *a)
{
	for (size_t i = 0; i < a->nre; i++)
		pcre2_code_free(a->re[i]);
	for (size_t i = 0; i < a->npaths; i++)
		pcre2_code_free(a->paths[i]);
	gg_strv_free(a->stop, a->nstop);
	free(a->re);
	free(a->paths);
}

void gg_secrets_free(gg_secrets *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		pcre2_code_free(r->code);
		pcre2_code_free(r->path);
		for (size_t k = 0; k < r->nallow; k++)
			free_allow(&r->allow[k]);
		free(r->allow);
	}
	for (size_t k = 0; k < s->nallow; k++)
		free_allow(&s->allow[k]);
	free(s->allow);
	free(s->rules);
	free(s->always);
	free(s->next);
	free(s->out);
	free(s->has_out);
	gg_strv_free(s->ignore, s->nignore);
	gg_strv_free(s->owned, s->nowned);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	gg_gl_free(s->cfg);
	free(s);
}

bool gg_secrets_allow_inline(const gg_secrets *s)
{
	return s->allow_inline;
}

/* A keyword as the automaton sees it: lower-cased bytes, and the rule it belongs to. */
struct kw {
	char *s;
	size_t n;
	size_t rule;
};

static void add_keywords(struct kw **v, size_t *n, size_t *cap, const char *list, size_t rule)
{
	const char *p = list;
	while (p && *p) {
		size_t m = strcspn(p, "|");
		if (m && m <= SECRETS_MAX_KEYWORD) {
			if (*n == *cap) {
				*cap = *cap ? 2 * *cap : 256;
				*v = gg_reallocarray(*v, *cap, sizeof(**v));
			}
			char *k = gg_strndup(p, m);
			for (size_t i = 0; i < m; i++)
				if (k[i] >= 'A' && k[i] <= 'Z')
					k[i] = (char)(k[i] | 0x20);
			(*v)[(*n)++] = (struct kw){k, m, rule};
		}
		p += m;
		if (*p == '|')
			p++;
	}
}

/* The keyword DFA: a trie, failure links by breadth-first order, then full transitions. */
static void build_automaton(gg_secrets *s, struct kw *kws, size_t nkw)
{
	memset(s->cls, 0, sizeof(s->cls));
	s->ncls = 1;
	for (size_t i = 0; i < nkw; i++)
		for (size_t j = 0; j < kws[i].n; j++) {
			unsigned char c = (unsigned char)kws[i].s[j];
			if (s->cls[c] == 0)
				s->cls[c] = (uint8_t)s->ncls++;
		}
	for (int c = 'A'; c <= 'Z'; c++)
		s->cls[c] = s->cls[c | 0x20];
	size_t maxstates = 1;
	for (size_t i = 0; i < nkw; i++)
		maxstates += kws[i].n;
	size_t nc = s->ncls, w = s->words;
	int32_t *go = gg_calloc(maxstates * nc, sizeof(int32_t));
	uint64_t *out = gg_calloc(maxstates * w, sizeof(uint64_t));
	int32_t *fail = gg_calloc(maxstates, sizeof(int32_t));
	int32_t *queue = gg_calloc(maxstates, sizeof(int32_t));
	for (size_t i = 0; i < maxstates * nc; i++)
		go[i] = -1;
	size_t n = 1;
	for (size_t i = 0; i < nkw; i++) {
		int32_t st = 0;
		for (size_t j = 0; j < kws[i].n; j++) {
			size_t c = s->cls[(unsigned char)kws[i].s[j]];
			if (go[(size_t)st * nc + c] < 0)
				go[(size_t)st * nc + c] = (int32_t)n++;
			st = go[(size_t)st * nc + c];
		}
		out[(size_t)st * w + kws[i].rule / 64] |= 1ull << (kws[i].rule % 64);
	}
	size_t qh = 0, qt = 0;
	for (size_t c = 0; c < nc; c++) {
		int32_t t = go[c];
		if (t < 0)
			go[c] = 0;
		else {
			fail[t] = 0;
			queue[qt++] = t;
		}
	}
	go[0] = 0; /* class 0 (bytes in no keyword) always returns to the root */
	while (qh < qt) {
		int32_t st = queue[qh++];
		for (size_t k = 0; k < w; k++)
			out[(size_t)st * w + k] |= out[(size_t)fail[st] * w + k];
		for (size_t c = 0; c < nc; c++) {
			int32_t t = go[(size_t)st * nc + c];
			if (t < 0)
				go[(size_t)st * nc + c] = go[(size_t)fail[st] * nc + c];
			else {
				fail[t] = go[(size_t)fail[st] * nc + c];
				queue[qt++] = t;
			}
		}
	}
	s->nstates = n;
	s->out = out;
	s->has_out = gg_calloc(n, 1);
	for (size_t st = 0; st < n; st++)
		for (size_t k = 0; k < w; k++)
			if (out[st * w + k])
				s->has_out[st] = 1;
	s->next = gg_calloc(n * nc, sizeof(uint32_t));
	for (size_t i = 0; i < n * nc; i++)
		s->next[i] = (uint32_t)((size_t)go[i] * nc) << 1 | s->has_out[go[i]];
	free(go);
	free(fail);
	free(queue);
}

static bool disabled_by(const gg_gl_config *c, const char *id)
{
	for (size_t i = 0; c && i < c->ndisabled; i++)
		if (!strcmp(c->disabled[i], id) ||
		    (!strncmp(id, "secret-", 7) && !strcmp(c->disabled[i], id + 7)))
			return true;
	return false;
}

static const char *keep(gg_secrets *s, const char *str)
{
	s->owned = gg_reallocarray(s->owned, s->nowned + 1, sizeof(char *));
	s->owned[s->nowned] = gg_strdup(str);
	return s->owned[s->nowned++];
}

static int compile_allow(struct allow *a, const gg_gl_allowlist *g, const char *file, gg_diag *diag)
{
	char err[256];
	size_t off;
	int rc = 0;
	a->target = g->target;
	a->all = g->all;
	a->re = gg_calloc(g->nregexes + 1, sizeof(*a->re));
	a->paths = gg_calloc(g->npaths + 1, sizeof(*a->paths));
	for (size_t i = 0; i < g->nregexes; i++) {
		if ((a->re[a->nre] = compile(g->regexes[i], err, sizeof(err), &off)) == NULL) {
			gg_diag_addf(diag, "%s:%u: allowlist regex '%s': %s at offset %zu", file,
			             g->line, g->regexes[i], err, off);
			rc = -1;
		} else
			a->nre++;
	}
	for (size_t i = 0; i < g->npaths; i++) {
		if ((a->paths[a->npaths] = compile(g->paths[i], err, sizeof(err), &off)) == NULL) {
			gg_diag_addf(diag, "%s:%u: allowlist path '%s': %s at offset %zu", file,
			             g->line, g->paths[i], err, off);
			rc = -1;
		} else
			a->npaths++;
	}
	a->stop = gg_calloc(g->nstopwords + 1, sizeof(char *));
	for (size_t i = 0; i < g->nstopwords; i++) {
		char *w = gg_strdup(g->stopwords[i]);
		for (char *p = w; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p | 0x20);
		a->stop[a->nstop++] = w;
	}
	return rc;
}

int gg_secrets_new(gg_secrets **out, const gg_secrets_opts *o, gg_diag *diag)
{
	static const gg_secrets_opts defaults = {GG_SECRETS_ERROR, false, NULL};
	gg_gl_config *cfg = NULL;
	const char *file = NULL;
	size_t before = diag ? diag->n : 0;
	gg_diag local = GG_DIAG_INIT;
	if (diag == NULL)
		diag = &local;
	*out = NULL;
	if (o == NULL)
		o = &defaults;
	if (o->config) {
		file = o->config;
		if (gg_gl_load(&cfg, o->config, diag) < 0) {
			gg_diag_free(&local);
			return -1;
		}
	}
	gg_secrets *s = gg_calloc(1, sizeof(*s));
	s->cfg = cfg;
	s->allow_inline = o->allow_inline;
	size_t cap = gg_nsecret_rules + (cfg ? cfg->nrules : 0);
	s->rules = gg_calloc(cap ? cap : 1, sizeof(*s->rules));
	const gg_secret_rule *generic = NULL;
	bool builtins = cfg == NULL || cfg->use_default;
	/* Table order, config rules after the provider rules, the generic rule last. */
	for (size_t i = 0; builtins && i < gg_nsecret_rules; i++) {
		const gg_secret_rule *d = &gg_secret_rules[i];
		if (disabled_by(cfg, d->id))
			continue;
		if (d->flags & GG_SR_GENERIC) {
			generic = d;
			continue;
		}
		struct rule *r = &s->rules[s->nrules++];
		r->id = d->id;
		r->provider = d->provider;
		r->description = d->description;
		r->pattern = d->pattern;
		r->group = d->group;
		r->entropy = d->entropy;
		r->flags = d->flags;
	}
	char err[256];
	size_t off, kwbytes = 0;
	for (size_t i = 0; cfg && i < cfg->nrules; i++) {
		const gg_gl_rule *g = &cfg->rules[i];
		struct rule *r = &s->rules[s->nrules++];
		r->id = keep(s, g->id);
		r->provider = "custom";
		r->description = keep(s, g->description ? g->description : g->id);
		r->pattern = g->regex ? keep(s, g->regex) : NULL;
		r->group = (unsigned)g->secret_group;
		r->entropy = g->entropy;
		r->flags = GG_SR_NO_FILTER;
		r->path_only = g->regex == NULL;
		if (g->regex && (r->code = compile(g->regex, err, sizeof(err), &off)) == NULL)
			gg_diag_addf(diag, "%s:%u: rule '%s': regex: %s at offset %zu", file,
			             g->regex_line, g->id, err, off);
		if (r->code && g->secret_group > 0) {
			uint32_t ncap = 0;
			pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &ncap);
			if ((uint32_t)g->secret_group > ncap)
				gg_diag_addf(
				    diag,
				    "%s:%u: rule '%s': secretGroup %d, but the regex has %u groups",
				    file, g->regex_line, g->id, g->secret_group, ncap);
		}
		if (g->path && (r->path = compile(g->path, err, sizeof(err), &off)) == NULL)
			gg_diag_addf(diag, "%s:%u: rule '%s': path: %s at offset %zu", file,
			             g->path_line, g->id, err, off);
		for (size_t k = 0; k < g->nkeywords; k++)
			kwbytes += strlen(g->keywords[k]);
		r->allow = gg_calloc(g->nallow + 1, sizeof(*r->allow));
		for (size_t k = 0; k < g->nallow; k++)
			(void)compile_allow(&r->allow[r->nallow++], &g->allow[k], file, diag);
	}
	if (kwbytes > SECRETS_MAX_KEYWORD_BYTES)
		gg_diag_addf(diag, "%s: the rules' keywords add up to %zu bytes, over %d", file,
		             kwbytes, SECRETS_MAX_KEYWORD_BYTES);
	if (generic && o->generic != GG_SECRETS_OFF) {
		struct rule *r = &s->rules[s->nrules++];
		r->id = generic->id;
		r->provider = generic->provider;
		r->description = generic->description;
		r->pattern = generic->pattern;
		r->group = generic->group;
		r->entropy = generic->entropy;
		r->flags = generic->flags;
		r->warning = o->generic == GG_SECRETS_WARNING;
	}
	s->allow = gg_calloc((cfg ? cfg->nallow : 0) + 1, sizeof(*s->allow));
	for (size_t k = 0; cfg && k < cfg->nallow; k++)
		(void)compile_allow(&s->allow[s->nallow++], &cfg->allow[k], file, diag);
	if (diag->n != before) {
		gg_secrets_free(s);
		gg_diag_free(&local);
		return -1;
	}
	s->words = (s->nrules + 63) / 64;
	if (s->words == 0)
		s->words = 1;
	s->always = gg_calloc(s->words, sizeof(uint64_t));
	struct kw *kws = NULL;
	size_t nkw = 0, capkw = 0;
	for (size_t i = 0; i < s->nrules; i++) {
		size_t had = nkw;
		if (i < s->nrules && s->rules[i].provider &&
		    strcmp(s->rules[i].provider, "custom")) {
			/* built-in: its keywords from the table */
			for (size_t t = 0; t < gg_nsecret_rules; t++)
				if (gg_secret_rules[t].id == s->rules[i].id)
					add_keywords(&kws, &nkw, &capkw,
					             gg_secret_rules[t].keywords, i);
		} else {
			const gg_gl_rule *g = NULL;
			for (size_t k = 0; cfg && k < cfg->nrules && !g; k++)
				if (!strcmp(cfg->rules[k].id, s->rules[i].id))
					g = &cfg->rules[k];
			for (size_t k = 0; g && k < g->nkeywords; k++)
				add_keywords(&kws, &nkw, &capkw, g->keywords[k], i);
		}
		if (nkw == had && !s->rules[i].path_only) {
			s->always[i / 64] |= 1ull << (i % 64);
			s->any_always = true;
		}
	}
	build_automaton(s, kws, nkw);
	for (size_t i = 0; i < nkw; i++)
		free(kws[i].s);
	free(kws);
	s->md = pcre2_match_data_create(32, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(s->mctx, SECRETS_MATCH_LIMIT);
	*out = s;
	gg_diag_free(&local);
	return 0;
}

int gg_secrets_load_ignore(gg_secrets *s, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	if (gg_read_file(&data, &len, path, 4u << 20) < 0)
		return -1;
	const char *p = data, *end = data + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *q = p;
		while (n && (*q == ' ' || *q == '\t')) {
			q++;
			n--;
		}
		while (n && (q[n - 1] == '\r' || q[n - 1] == ' ' || q[n - 1] == '\t'))
			n--;
		if (n && *q != '#') {
			if (s->nignore == s->capignore) {
				s->capignore = s->capignore ? 2 * s->capignore : 16;
				s->ignore =
				    gg_reallocarray(s->ignore, s->capignore, sizeof(char *));
			}
			s->ignore[s->nignore++] = gg_strndup(q, n);
		}
		p += n + (size_t)(q - p);
		while (p < end && *p != '\n')
			p++;
		p++;
	}
	free(data);
	return 0;
}

/* ---- scanning ---- */

struct scan {
	gg_secrets *s;
	const char *path;
	const char *text;
	size_t len;
	const unsigned *lineno;
	size_t nlines;
	gg_secret_fn fn;
	void *ctx;
	size_t count;
	size_t spans[SECRETS_MAX_SPANS][2];
	size_t nspans;
};

static bool re_hit(pcre2_code *re, const char *s, size_t n, pcre2_match_data *md,
                   pcre2_match_context *mctx)
{
	return pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, md, mctx) >= 0;
}

static bool path_matches(pcre2_code *re, const char *path, pcre2_match_data *md,
                         pcre2_match_context *mctx)
{
	return path && re_hit(re, path, strlen(path), md, mctx);
}

/*
 * An allowlist holds for a finding when any of its criteria does (all of
 * them with condition = "AND"). Uses its own match data: the caller's
 * ovector is still being read.
 */
static bool allowed_by(const struct allow *a, const struct scan *sc, const char *secret, size_t sn,
                       const char *match, size_t mn, const char *line, size_t ln)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int given = 0, held = 0;
	if (a->npaths) {
		given++;
		for (size_t i = 0; i < a->npaths; i++)
			if (path_matches(a->paths[i], sc->path, md, sc->s->mctx)) {
				held++;
				break;
			}
	}
	if (a->nre) {
		given++;
		const char *t = a->target == GG_GL_TARGET_LINE    ? line
		                : a->target == GG_GL_TARGET_MATCH ? match
		                                                  : secret;
		size_t tn = a->target == GG_GL_TARGET_LINE    ? ln
		            : a->target == GG_GL_TARGET_MATCH ? mn
		                                              : sn;
		for (size_t i = 0; i < a->nre; i++)
			if (re_hit(a->re[i], t, tn, md, sc->s->mctx)) {
				held++;
				break;
			}
	}
	if (a->nstop) {
		given++;
		for (size_t i = 0; i < a->nstop; i++)
			if (ci_contains(secret, sn, a->stop[i])) {
				held++;
				break;
			}
	}
	pcre2_match_data_free(md);
	return given && (a->all ? held == given : held > 0);
}

/* Where the base64 body of a key block starts, if one follows its header. */
static bool key_body_follows(const struct scan *sc, size_t after)
{
	const char *t = sc->text, *end = sc->text + sc->len;
	const char *p = t + after;
	/* The same line: a JSON or YAML string with escaped newlines. */
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL)
		eol = end;
	for (int lines = 0; lines < 8; lines++) {
		size_t run = 0, best = 0;
		for (const char *q = p; q < eol; q++) {
			char c = *q;
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=') {
				if (++run > best)
					best = run;
			} else if (c == '\\' && q + 1 < eol && q[1] == 'n') {
				run = 0;
				q++;
			} else
				run = 0;
		}
		if (best >= 40)
			return true;
		if (memmem(p, (size_t)(eol - p), "-----END", 8))
			return false;
		if (eol >= end)
			return false;
		p = eol + 1;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
	}
	return false;
}

static bool ignored(const struct scan *sc, const struct rule *r, unsigned line)
{
	if (!sc->s->nignore || !sc->path)
		return false;
	char fp[2][1024];
	snprintf(fp[0], sizeof(fp[0]), "%s:%s:%u", sc->path, r->id, line);
	snprintf(fp[1], sizeof(fp[1]), "%s:%s:%u", sc->path,
	         strncmp(r->id, "secret-", 7) ? r->id : r->id + 7, line);
	for (size_t i = 0; i < sc->s->nignore; i++) {
		const char *e = sc->s->ignore[i];
		for (int k = 0; k < 2; k++) {
			size_t el = strlen(e), fl = strlen(fp[k]);
			if (!strcmp(e, fp[k]) ||
			    (el > fl && e[el - fl - 1] == ':' && !strcmp(e + el - fl, fp[k])))
				return true;
		}
	}
	return false;
}

static void emit(struct scan *sc, const struct rule *r, size_t lineidx, size_t col,
                 const char *secret, size_t sn, bool warning)
{
	gg_secret_hit h;
	memset(&h, 0, sizeof(h));
	h.rule = r->id;
	h.provider = r->provider;
	h.description = r->description;
	h.warning = warning;
	h.line = sc->lineno && lineidx < sc->nlines ? sc->lineno[lineidx] : (unsigned)(lineidx + 1);
	h.col = (unsigned)col;
	if (ignored(sc, r, h.line))
		return;
	if (!(r->flags & GG_SR_PEM_BODY)) /* a key block's header is no part of the key */
		redact(h.redacted, sizeof(h.redacted), secret, sn);
	sc->count++;
	if (sc->fn)
		sc->fn(sc->ctx, &h);
}

static bool overlaps(const struct scan *sc, size_t a, size_t b)
{
	for (size_t i = 0; i < sc->nspans; i++)
		if (a < sc->spans[i][1] && sc->spans[i][0] < b)
			return true;
	return false;
}

static void run_rule(struct scan *sc, struct rule *r, size_t ls, size_t le, size_t lineidx)
{
	gg_secrets *s = sc->s;
	if (r->broken || r->path_only)
		return;
	if (r->path && !path_matches(r->path, sc->path, s->md, s->mctx))
		return;
	if (r->code == NULL) {
		if ((r->code = compile(r->pattern, NULL, 0, NULL)) == NULL) {
			r->broken = true;
			return;
		}
	}
	const char *line = sc->text + ls;
	size_t ln = le - ls, at = 0;
	while (at <= ln) {
		int rc = pcre2_match(r->code, (PCRE2_SPTR)line, ln, at, 0, s->md, s->mctx);
		if (rc < 0)
			return;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
		size_t m0 = ov[0], m1 = ov[1];
		size_t g0 = m0, g1 = m1;
		if (r->group && (uint32_t)rc > r->group && ov[2 * r->group] != PCRE2_UNSET) {
			g0 = ov[2 * r->group];
			g1 = ov[2 * r->group + 1];
		}
		at = m1 > at ? m1 : at + 1;
		const char *secret = line + g0;
		size_t sn = g1 - g0;
		if (sn == 0 || overlaps(sc, g0, g1))
			continue;
		if (r->entropy > 0 && gg_secrets_entropy(secret, sn) < r->entropy)
			continue;
		if (!(r->flags & GG_SR_NO_FILTER) &&
		    is_placeholder(secret, sn, !(r->flags & GG_SR_NO_REPEAT)))
			continue;
		if (is_known_example(secret, sn))
			continue;
		if ((r->flags & GG_SR_GENERIC) &&
		    (generic_is_reference(secret, sn) ||
		     (rc > 1 && ov[2] != PCRE2_UNSET &&
		      generic_name_is_metadata(line + ov[2], ov[3] - ov[2]))))
			continue;
		if ((r->flags & GG_SR_PEM_BODY) && !key_body_follows(sc, ls + m1))
			continue;
		bool allowed = false;
		for (size_t k = 0; k < r->nallow && !allowed; k++)
			allowed =
			    allowed_by(&r->allow[k], sc, secret, sn, line + m0, m1 - m0, line, ln);
		for (size_t k = 0; k < s->nallow && !allowed; k++)
			allowed =
			    allowed_by(&s->allow[k], sc, secret, sn, line + m0, m1 - m0, line, ln);
		if (allowed)
			continue;
		if (s->allow_inline && memmem(line, ln, "gitleaks:allow", 14))
			continue;
		bool warning = r->warning;
		if ((r->flags & GG_SR_CRC32) && !gg_secrets_crc32_ok(secret, sn))
			warning = true; /* the shape of a token whose checksum fails */
		if (sc->nspans < SECRETS_MAX_SPANS) {
			sc->spans[sc->nspans][0] = g0;
			sc->spans[sc->nspans][1] = g1;
			sc->nspans++;
		}
		emit(sc, r, lineidx, g0 + 1, secret, sn, warning);
	}
}

static void scan_line(struct scan *sc, const uint64_t *cand, size_t ls, size_t le, size_t lineidx)
{
	gg_secrets *s = sc->s;
	sc->nspans = 0;
	for (size_t w = 0; w < s->words; w++) {
		uint64_t bits = cand[w] | s->always[w];
		while (bits) {
			size_t b = (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			run_rule(sc, &s->rules[w * 64 + b], ls, le, lineidx);
		}
	}
}

static void scan_text(struct scan *sc)
{
	gg_secrets *s = sc->s;
	const unsigned char *t = (const unsigned char *)sc->text;
	size_t nc = s->ncls, w = s->words;
	uint64_t *cand = gg_calloc(w, sizeof(uint64_t));
	bool any = false;
	uint32_t st = 0; /* row offset << 1 | ends-a-keyword */
	size_t ls = 0, lineidx = 0;
	const uint32_t *next = s->next;
	const uint8_t *cls = s->cls;
	for (size_t i = 0; i <= sc->len; i++) {
		if (i == sc->len || t[i] == '\n') {
			if (any || s->any_always) {
				size_t le = i;
				if (le > ls && t[le - 1] == '\r')
					le--;
				scan_line(sc, cand, ls, le, lineidx);
				memset(cand, 0, w * sizeof(uint64_t));
				any = false;
			}
			st = 0;
			ls = i + 1;
			lineidx++;
			continue;
		}
		st = next[(st >> 1) + cls[t[i]]];
		if (st & 1) {
			const uint64_t *o = &s->out[(size_t)(st >> 1) / nc * w];
			for (size_t k = 0; k < w; k++)
				cand[k] |= o[k];
			any = true;
		}
	}
	free(cand);
}

size_t gg_secrets_scan(gg_secrets *s, const char *path, const char *data, size_t len,
                       const unsigned *lineno, size_t nlines, gg_secret_fn fn, void *ctx)
{
	struct scan sc;
	memset(&sc, 0, sizeof(sc));
	sc.s = s;
	sc.path = path;
	sc.lineno = lineno;
	sc.nlines = nlines;
	sc.fn = fn;
	sc.ctx = ctx;
	for (size_t k = 0; k < s->nallow; k++) {
		const struct allow *a = &s->allow[k];
		if (a->npaths && !a->nre && !a->nstop)
			for (size_t i = 0; i < a->npaths; i++)
				if (path_matches(a->paths[i], path, s->md, s->mctx))
					return 0; /* the whole file is allowlisted */
	}
	for (size_t i = 0; i < s->nrules; i++) {
		struct rule *r = &s->rules[i];
		if (r->path_only && path_matches(r->path, path, s->md, s->mctx) && !lineno) {
			sc.text = "";
			emit(&sc, r, 0, 1, path, strlen(path), false);
		}
	}
	gg_buf dec = GG_BUF_INIT;
	gg_text_kind kind = gg_secrets_text_kind(data, len);
	if (kind == GG_TEXT_UTF16LE || kind == GG_TEXT_UTF16BE) {
		utf16_decode(&dec, data, len, kind == GG_TEXT_UTF16LE);
		sc.text = dec.ptr ? dec.ptr : "";
		sc.len = dec.len;
	} else {
		sc.text = data;
		sc.len = len;
	}
	scan_text(&sc);
	gg_buf_free(&dec);
	return sc.count;
}

/* ---- the documentation table ---- */

static void md_cell(gg_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			gg_buf_puts(b, "\\|");
		else if (*s == '`')
			gg_buf_puts(b, "'");
		else
			gg_buf_put(b, s, 1);
	}
}

char *gg_secrets_rules_markdown(void)
{
	gg_buf b = GG_BUF_INIT;
	gg_buf_printf(&b, "%zu built-in rules.\n\n", gg_nsecret_rules);
	gg_buf_puts(&b, "| id | provider | detects | keywords | min. entropy | checks |\n");
	gg_buf_puts(&b, "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < gg_nsecret_rules; i++) {
		const gg_secret_rule *r = &gg_secret_rules[i];
		gg_buf_printf(&b, "| `%s` | ", r->id);
		md_cell(&b, r->provider);
		gg_buf_puts(&b, " | ");
		md_cell(&b, r->description);
		gg_buf_puts(&b, " | ");
		for (const char *p = r->keywords; *p;) {
			size_t m = strcspn(p, "|");
			gg_buf_puts(&b, "`");
			gg_buf_put(&b, p, m);
			gg_buf_puts(&b, "`");
			p += m;
			if (*p == '|') {
				gg_buf_puts(&b, " ");
				p++;
			}
		}
		if (r->entropy > 0)
			gg_buf_printf(&b, " | %.1f | ", r->entropy);
		else
			gg_buf_puts(&b, " | - | ");
		const char *sep = "";
		if (r->flags & GG_SR_CRC32) {
			gg_buf_printf(&b, "%schecksum", sep);
			sep = ", ";
		}
		if (r->flags & GG_SR_PEM_BODY) {
			gg_buf_printf(&b, "%sbody required", sep);
			sep = ", ";
		}
		if (r->flags & GG_SR_GENERIC)
			gg_buf_printf(&b, "%slevel set by `generic:`", sep);
		gg_buf_puts(&b, " |\n");
	}
	return gg_buf_detach(&b);
}
