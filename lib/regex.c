/*
 * PCRE2 in UTF mode for text that is UTF-8, and the same pattern compiled
 * without UTF (on first need) for text that is not: such text is matched as
 * bytes, never with PCRE2_NO_UTF_CHECK, which PCRE2 leaves undefined on
 * invalid input. Every match runs under a match limit, and a match that
 * fails with an error says so instead of reading as "no match".
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "gitgate/regex.h"
#include "gitgate/util.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Backtracking steps one match may take. PCRE2's default (10 million) lets
 * one pushed value hold the hook for seconds on a pathological pattern; real
 * patterns on real values stay far below this.
 */
#define REGEX_MATCH_LIMIT 1000000
#define REGEX_DEPTH_LIMIT 100000

struct gg_regex {
	pcre2_code *code; /* UTF mode */
	pcre2_match_data *md;
	pcre2_code *bytes; /* without UTF, compiled on first non-UTF-8 subject */
	pcre2_match_data *bytes_md;
	bool bytes_failed; /* the pattern does not compile without UTF */
	pcre2_match_context *mctx;
	char *source;
	char error[160];
};

/* As gg_malloc: running out of memory is not an outcome callers handle. */
static void no_memory(void)
{
	fputs("gitgate: out of memory\n", stderr);
	abort();
}

static pcre2_code *compile(const char *pattern, uint32_t options, int *errcode, PCRE2_SIZE *off)
{
	pcre2_code *code =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, errcode, off, NULL);
	/* JIT is an optimisation: without it (or where it fails) matching still works. */
	if (code)
		(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

int gg_regex_compile(gg_regex **out, const char *pattern, char **err, size_t *erroffset)
{
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *code = compile(pattern, PCRE2_UTF, &errcode, &off);
	if (code == NULL) {
		PCRE2_UCHAR buf[256];
		pcre2_get_error_message(errcode, buf, sizeof(buf));
		if (err)
			*err = gg_strdup((const char *)buf);
		if (erroffset)
			*erroffset = off;
		return -1;
	}
	gg_regex *re = gg_calloc(1, sizeof(*re));
	re->code = code;
	re->md = pcre2_match_data_create_from_pattern(code, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (re->md == NULL || re->mctx == NULL)
		no_memory();
	pcre2_set_match_limit(re->mctx, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, REGEX_DEPTH_LIMIT);
	re->source = gg_strdup(pattern);
	*out = re;
	return 0;
}

static bool is_utf_error(int rc)
{
	return rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21;
}

static int failed(gg_regex *re, int rc)
{
	PCRE2_UCHAR buf[128];
	if (pcre2_get_error_message(rc, buf, sizeof(buf)) < 0)
		snprintf((char *)buf, sizeof(buf), "error %d", rc);
	snprintf(re->error, sizeof(re->error), "%s", (const char *)buf);
	return GG_REGEX_ERROR;
}

int gg_regex_exec(gg_regex *re, const char *subject, size_t len)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, re->md, re->mctx);
	if (is_utf_error(rc)) {
		/* Not UTF-8 (a Latin-1 subject, a binary value): match its bytes. */
		if (re->bytes == NULL && !re->bytes_failed) {
			int errcode;
			PCRE2_SIZE off;
			re->bytes = compile(re->source, 0, &errcode, &off);
			if (re->bytes)
				re->bytes_md =
				    pcre2_match_data_create_from_pattern(re->bytes, NULL);
			if (re->bytes && re->bytes_md == NULL)
				no_memory();
			re->bytes_failed = re->bytes == NULL;
		}
		if (re->bytes_failed) {
			snprintf(re->error, sizeof(re->error),
			         "the text is not UTF-8 and the pattern needs UTF-8");
			return GG_REGEX_ERROR;
		}
		rc = pcre2_match(re->bytes, (PCRE2_SPTR)subject, len, 0, 0, re->bytes_md, re->mctx);
	}
	if (rc >= 0)
		return GG_REGEX_MATCH;
	if (rc == PCRE2_ERROR_NOMATCH)
		return GG_REGEX_NOMATCH;
	return failed(re, rc);
}

const char *gg_regex_error(const gg_regex *re)
{
	return re->error[0] ? re->error : "unknown error";
}

const char *gg_regex_source(const gg_regex *re)
{
	return re->source;
}

void gg_regex_free(gg_regex *re)
{
	if (re == NULL)
		return;
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	pcre2_match_data_free(re->bytes_md);
	pcre2_code_free(re->bytes);
	pcre2_match_context_free(re->mctx);
	free(re->source);
	free(re);
}
