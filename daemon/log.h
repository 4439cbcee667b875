/*
 * Logs: one logfmt line per event on stderr (journald keeps it), e.g.
 *   ts=2026-01-02T03:04:05.678Z level=info msg="delivery stored" delivery=abc source=github
 * Values with spaces, quotes, '=' or control characters are quoted and escaped.
 * Or, with the config's log_format: json, one JSON object per line with the
 * same keys in the same order. Callers never pass secrets or whole bodies.
 */
#ifndef GITGATED_LOG_H
#define GITGATED_LOG_H

#include <stdio.h>

typedef enum { GG_LOG_DEBUG, GG_LOG_INFO, GG_LOG_WARN, GG_LOG_ERROR } gg_log_level;

/* Lines below this level are dropped (default info). */
void gg_log_set_level(gg_log_level lvl);
typedef enum { GG_LOG_LOGFMT, GG_LOG_JSON } gg_log_format;
/* How lines are written (default logfmt). */
void gg_log_set_format(gg_log_format fmt);
/* Where lines go (default stderr); for tests. */
void gg_log_set_stream(FILE *f);

/*
 * Log msg with key/value pairs: alternating const char * keys and values,
 * ended by a NULL key (a NULL value also ends the list).
 */
void gg_log(gg_log_level lvl, const char *msg, ...);

/* Append one logfmt value (quoted when needed) to the buffer; for tests. */
void gg_log_quote(char *out, size_t outlen, const char *value);

#endif
