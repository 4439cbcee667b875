/*
 * Path and ref globs: `*` and `?` stay within one `/`-separated segment, `**`
 * spans any number of segments (including none: "**" then "/x" matches "x"), and
 * `[abc]`, `[a-z]`, `[!a]` are character classes.
 */
#ifndef GITGATE_GLOB_H
#define GITGATE_GLOB_H

#include <stdbool.h>

bool gg_glob_match(const char *pattern, const char *path);

#endif
