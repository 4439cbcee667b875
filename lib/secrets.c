#include "gitgate/secrets.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Bytes where a detector can start; everything else costs one table lookup. */
static const uint8_t trigger[256] = {
    ['A'] = 1, ['g'] = 1, ['x'] = 1, ['s'] = 1, ['S'] = 1, ['r'] = 1, ['-'] = 1,
};

enum { C_UPPER = 1, C_LOWER = 2, C_DIGIT = 4, C_UNDER = 8, C_DASH = 16, C_B64 = 32 };

static uint8_t cls[256];

static void init_classes(void)
{
	if (cls['a'])
		return;
	for (int c = 'A'; c <= 'Z'; c++)
		cls[c] = C_UPPER | C_B64;
	for (int c = 'a'; c <= 'z'; c++)
		cls[c] = C_LOWER | C_B64;
	for (int c = '0'; c <= '9'; c++)
		cls[c] = C_DIGIT | C_B64;
	cls['_'] = C_UNDER;
	cls['-'] = C_DASH;
	cls['/'] = C_B64;
	cls['+'] = C_B64;
}

#define ALNUM (C_UPPER | C_LOWER | C_DIGIT)
#define WORD  (ALNUM | C_UNDER)

/* Length of the run of bytes of class `mask` starting at p (at most max). */
static size_t run(const char *p, size_t avail, uint8_t mask)
{
	size_t n = 0;
	while (n < avail && (cls[(unsigned char)p[n]] & mask))
		n++;
	return n;
}

static bool has_prefix(const char *p, size_t avail, const char *prefix, size_t n)
{
	return avail >= n && memcmp(p, prefix, n) == 0;
}

/* Documentation placeholders (AWS's own examples end in EXAMPLE / EXAMPLEKEY). */
static bool is_placeholder(const char *p, size_t n)
{
	return memmem(p, n, "EXAMPLE", 7) != NULL;
}

static void emit(gg_secret_fn fn, void *ctx, const char *kind, const char *line, size_t at,
                 size_t *count, bool show_prefix)
{
	gg_secret_hit h;
	h.kind = kind;
	h.col = at + 1;
	if (show_prefix)
		snprintf(h.redacted, sizeof(h.redacted), "%.4s****", line + at);
	else
		h.redacted[0] = '\0';
	(*count)++;
	if (fn)
		fn(ctx, &h);
}

/*
 * A token "PREFIX" + body: the body is a run of `mask` bytes at least `min` long,
 * and the byte after it (if any) must not extend it. Returns the token length or 0.
 */
static size_t token(const char *p, size_t avail, size_t plen, uint8_t mask, size_t min, size_t max)
{
	size_t body = run(p + plen, avail - plen, mask);
	if (body < min || (max && body > max))
		return 0;
	return plen + body;
}

static size_t ci_word(const char *p, size_t avail, const char *w)
{
	size_t n = strlen(w);
	if (avail < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((p[i] | 0x20) != w[i])
			return 0;
	return n;
}

/* "secret" [_-]? "access" [_-]? "key", any case: the context of an AWS secret key. */
static size_t aws_secret_context(const char *p, size_t avail)
{
	size_t i = ci_word(p, avail, "secret");
	if (!i)
		return 0;
	if (i < avail && (p[i] == '_' || p[i] == '-'))
		i++;
	size_t k = ci_word(p + i, avail - i, "access");
	if (!k)
		return 0;
	i += k;
	if (i < avail && (p[i] == '_' || p[i] == '-'))
		i++;
	k = ci_word(p + i, avail - i, "key");
	return k ? i + k : 0;
}

/* The first run of exactly 40 base64 characters after the context, mixing cases and digits. */
static bool aws_secret_value(const char *line, size_t len, size_t from, size_t *at)
{
	size_t i = from;
	while (i < len) {
		if (!(cls[(unsigned char)line[i]] & C_B64)) {
			i++;
			continue;
		}
		size_t n = run(line + i, len - i, C_B64);
		if (n == 40) {
			uint8_t seen = 0;
			for (size_t j = 0; j < n; j++)
				seen |= cls[(unsigned char)line[i + j]];
			if ((seen & C_UPPER) && (seen & C_LOWER) && (seen & C_DIGIT) &&
			    !is_placeholder(line + i, n)) {
				*at = i;
				return true;
			}
		}
		i += n;
	}
	return false;
}

size_t gg_secrets_scan_line(const char *line, size_t len, gg_secret_fn fn, void *ctx)
{
	size_t count = 0;
	bool aws_secret_done = false;
	init_classes();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (!trigger[c])
			continue;
		const char *p = line + i;
		size_t avail = len - i;
		/* Tokens start at a word boundary; "-----BEGIN" and the key context need not. */
		bool boundary = i == 0 || !(cls[(unsigned char)line[i - 1]] & WORD);
		size_t n = 0;
		switch (c) {
		case 'A':
			if (!boundary || avail < 4)
				break;
			if (has_prefix(p, avail, "AKIA", 4) || has_prefix(p, avail, "ASIA", 4)) {
				n = token(p, avail, 4, C_UPPER | C_DIGIT, 16, 16);
				if (n && i + n < len && (cls[(unsigned char)p[n]] & ALNUM))
					n = 0;
				if (n && !is_placeholder(p, n))
					emit(fn, ctx, "AWS access key id", line, i, &count, true);
			} else if (has_prefix(p, avail, "AIza", 4)) {
				n = token(p, avail, 4, ALNUM | C_UNDER | C_DASH, 35, 0);
				if (n)
					emit(fn, ctx, "Google API key", line, i, &count, true);
			}
			break;
		case 'g':
			if (!boundary || avail < 6)
				break;
			if (p[1] == 'h' && p[3] == '_' && p[2] && strchr("posur", p[2])) {
				n = token(p, avail, 4, ALNUM, 36, 0);
				if (n)
					emit(fn, ctx, "GitHub token", line, i, &count, true);
			} else if (has_prefix(p, avail, "github_pat_", 11)) {
				n = token(p, avail, 11, WORD, 22, 0);
				if (n)
					emit(fn, ctx, "GitHub fine-grained token", line, i, &count,
					     true);
			} else if (has_prefix(p, avail, "glpat-", 6)) {
				n = token(p, avail, 6, WORD | C_DASH, 20, 0);
				if (n)
					emit(fn, ctx, "GitLab token", line, i, &count, true);
			}
			break;
		case 'x':
			if (boundary && avail > 5 && p[1] == 'o' && p[2] == 'x' && p[3] &&
			    strchr("abposre", p[3]) && p[4] == '-') {
				n = token(p, avail, 5, ALNUM | C_DASH, 10, 0);
				/* Real tokens carry numeric ids; an all-letter run is prose. */
				bool digit = false;
				for (size_t j = 5; j < n && !digit; j++)
					digit = cls[(unsigned char)p[j]] & C_DIGIT;
				if (!digit)
					n = 0;
				if (n)
					emit(fn, ctx, "Slack token", line, i, &count, true);
			}
			break;
		case 'r':
		case 's':
			if (boundary && (has_prefix(p, avail, "sk_live_", 8) ||
			                 has_prefix(p, avail, "rk_live_", 8))) {
				n = token(p, avail, 8, ALNUM, 24, 0);
				if (n) {
					emit(fn, ctx, "Stripe live key", line, i, &count, true);
					break;
				}
			}
			/* fall through */
		case 'S':
			if (c != 'r' && !aws_secret_done) {
				size_t ctxlen = aws_secret_context(p, avail);
				size_t at;
				if (ctxlen && aws_secret_value(line, len, i + ctxlen, &at)) {
					emit(fn, ctx, "AWS secret access key", line, at, &count,
					     true);
					aws_secret_done = true;
					n = at + 40 - i;
				}
			}
			break;
		case '-':
			if (has_prefix(p, avail, "-----BEGIN ", 11)) {
				/* "-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY-----" */
				size_t j = 11;
				while (j < avail && j < 11 + 40 &&
				       ((p[j] >= 'A' && p[j] <= 'Z') || p[j] == ' '))
					j++;
				if (j >= 11 + 11 && memcmp(p + j - 11, "PRIVATE KEY", 11) == 0 &&
				    has_prefix(p + j, avail - j, "-----", 5)) {
					emit(fn, ctx, "private key block", line, i, &count, false);
					n = j + 5;
				}
			}
			break;
		}
		if (n)
			i += n - 1;
	}
	return count;
}

bool gg_secrets_is_binary(const char *data, size_t len)
{
	return memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
}
