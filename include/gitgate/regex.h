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
bool gg_regex_match(gg_regex *re, const char *subject, size_t len);
/* The source text of the pattern (borrowed). */
const char *gg_regex_source(const gg_regex *re);
void gg_regex_free(gg_regex *re);

#endif
