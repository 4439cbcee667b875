#include "gitgate/regex.h"
#include "gitgate/report.h"
#include "gitgate/util.h"
#include "test.h"

#include <stdlib.h>

static gg_regex *re(const char *pattern)
{
	gg_regex *r = NULL;
	char *err = NULL;
	size_t off = 0;
	if (gg_regex_compile(&r, pattern, &err, &off) < 0) {
		printf("#   %s: %s at %zu\n", pattern, err, off);
		free(err);
		return NULL;
	}
	return r;
}

static void test_utf8_and_plain_matches(void)
{
	gg_regex *r = re("^caf\xc3\xa9$");
	CHECK(r != NULL);
	CHECK_INT(gg_regex_exec(r, "caf\xc3\xa9", 5), GG_REGEX_MATCH);
	CHECK_INT(gg_regex_exec(r, "cafe", 4), GG_REGEX_NOMATCH);
	gg_regex_free(r);
	r = re("^.{4}$"); /* four characters, not bytes, in UTF-8 text */
	CHECK_INT(gg_regex_exec(r, "caf\xc3\xa9", 5), GG_REGEX_MATCH);
	gg_regex_free(r);
}

/* Text that is not UTF-8 is matched as bytes: decided, never undefined. */
static void test_invalid_utf8_matches_as_bytes(void)
{
	gg_regex *r = re("^caf.$");
	CHECK_INT(gg_regex_exec(r, "caf\xe9", 4), GG_REGEX_MATCH);
	CHECK_INT(gg_regex_exec(r, "caf\xe9\xe9", 5), GG_REGEX_NOMATCH);
	/* A truncated sequence at the very end, and a lone continuation byte. */
	CHECK_INT(gg_regex_exec(r, "caf\xc3", 4), GG_REGEX_MATCH);
	CHECK_INT(gg_regex_exec(r,
	                        "\x80"
	                        "caf",
	                        4),
	          GG_REGEX_NOMATCH);
	gg_regex_free(r);
	r = re("^[a-z]+$");
	CHECK_INT(gg_regex_exec(r, "ab\xff", 3), GG_REGEX_NOMATCH);
	CHECK_INT(gg_regex_exec(r, "abc", 3), GG_REGEX_MATCH);
	gg_regex_free(r);
	r = re("\xff"); /* the pattern itself must be UTF-8 */
	CHECK(r == NULL);
}

/* A pattern only UTF mode can compile cannot decide on bytes: an error. */
static void test_utf_only_pattern_on_bytes_is_an_error(void)
{
	gg_regex *r = re("\\x{100}");
	CHECK_INT(gg_regex_exec(r, "\xc4\x80", 2), GG_REGEX_MATCH);
	CHECK_INT(gg_regex_exec(r, "\xc4", 1), GG_REGEX_ERROR);
	CHECK(strstr(gg_regex_error(r), "not UTF-8") != NULL);
	gg_regex_free(r);
}

/* Catastrophic backtracking ends in an error, not in "no match". */
static void test_match_limit_is_an_error(void)
{
	gg_regex *r = re("^(a|a)+$");
	char s[64];
	memset(s, 'a', 40);
	s[40] = '!';
	CHECK_INT(gg_regex_exec(r, s, 41), GG_REGEX_ERROR);
	CHECK(strstr(gg_regex_error(r), "limit") != NULL);
	CHECK_INT(gg_regex_exec(r, s, 40), GG_REGEX_MATCH);
	/* The same in byte mode. */
	s[40] = '\xff';
	CHECK_INT(gg_regex_exec(r, s, 41), GG_REGEX_ERROR);
	gg_regex_free(r);
}

static void test_escape_for_terminals(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"plain/path.yaml", 15, "plain/path.yaml"},
	    {"a\x1b[2Jb", 6, "a?[2Jb"},
	    {"a\nb\rc\td", 7, "a?b?c?d"},
	    {"nul\0x", 5, "nul?x"},
	    {"del\x7f", 4, "del?"},
	    {"csi\xc2\x9b"
	     "31m",
	     8, "csi?31m"},
	    {"raw\x9b"
	     "31m",
	     7, "raw?31m"},
	    {"caf\xc3\xa9 \xe2\x9c\x93", 9, "caf\xc3\xa9 \xe2\x9c\x93"},
	    {"rlo\xe2\x80\xae"
	     "x",
	     7, "rlo?x"},
	    {"overlong\xc0\xaf", 10, "overlong??"},
	    {"cut\xe2\x9c", 5, "cut??"},
	    {"surrogate\xed\xa0\x80", 12, "surrogate???"},
	    {"", 0, ""},
	};
	for (size_t i = 0; i < GG_ARRAY_LEN(cases); i++) {
		char *got = gg_report_escape(cases[i].in, cases[i].len);
		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	RUN(test_utf8_and_plain_matches);
	RUN(test_invalid_utf8_matches_as_bytes);
	RUN(test_utf_only_pattern_on_bytes_is_an_error);
	RUN(test_match_limit_is_an_error);
	RUN(test_escape_for_terminals);
	return TEST_DONE();
}
