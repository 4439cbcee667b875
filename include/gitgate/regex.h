/*
 * PCRE2 regular expressions, compiled once (JIT where available) and matched
 * many times. Match data is per regex, so a regex is not shared between threads.
 */
#ifndef GITGATE_REGEX_H
#define GITGATE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gg_regex gg_regex;

/*
 * Compile pattern. On failure returns -1, *err is an allocated message and
 * *erroffset the byte offset in the pattern where PCRE2 stopped.
 */
int gg_regex_compile(gg_regex **out, const char *pattern, char **err, size_t *erroffset);
#define GG_REGEX_NOMATCH 0
#define GG_REGEX_MATCH   1
#define GG_REGEX_ERROR   (-1)

/*
 * Match subject (len bytes, any bytes): GG_REGEX_MATCH, GG_REGEX_NOMATCH, or
 * GG_REGEX_ERROR when the match could not be decided (match or depth limit,
 * a pattern that needs UTF-8 on text that is not): callers treat that as a
 * failed check, never as "no match". Text that is not UTF-8 is matched as
 * bytes.
 */
int gg_regex_exec(gg_regex *re, const char *subject, size_t len);
/* Why the last gg_regex_exec on re returned GG_REGEX_ERROR (borrowed). */
const char *gg_regex_error(const gg_regex *re);
/* The source text of the pattern (borrowed). */
const char *gg_regex_source(const gg_regex *re);
void gg_regex_free(gg_regex *re);

#endif
