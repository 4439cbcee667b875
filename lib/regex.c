#define PCRE2_CODE_UNIT_WIDTH 8
#include "gitgate/regex.h"
#include "gitgate/util.h"

#include <pcre2.h>
#include <stdlib.h>

struct gg_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	char *source;
};

int gg_regex_compile(gg_regex **out, const char *pattern, char **err, size_t *erroffset)
{
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
	                                 &errcode, &off, NULL);
	if (code == NULL) {
		PCRE2_UCHAR buf[256];
		pcre2_get_error_message(errcode, buf, sizeof(buf));
		if (err)
			*err = gg_strdup((const char *)buf);
		if (erroffset)
			*erroffset = off;
		return -1;
	}
	/* JIT is an optimisation: without it (or where it fails) matching still works. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	gg_regex *re = gg_calloc(1, sizeof(*re));
	re->code = code;
	re->md = pcre2_match_data_create_from_pattern(code, NULL);
	re->source = gg_strdup(pattern);
	*out = re;
	return 0;
}

bool gg_regex_match(gg_regex *re, const char *subject, size_t len)
{
	/* Invalid UTF-8 in pushed content must not make a pattern silently miss. */
	int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, re->md, NULL);
	if (rc == PCRE2_ERROR_UTF8_ERR1 ||
	    (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21))
		rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, PCRE2_NO_UTF_CHECK, re->md,
		                 NULL);
	return rc >= 0;
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
	free(re->source);
	free(re);
}
