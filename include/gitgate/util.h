/*
 * Small shared helpers: allocation that never returns NULL, a growable byte
 * buffer, a diagnostics list ("FILE:LINE:COL: message"), and the unit parsers
 * (sizes like 1MiB, durations like 10m) every config file uses.
 */
#ifndef GITGATE_UTIL_H
#define GITGATE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define GG_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Allocation: abort with a message on out-of-memory; callers never check NULL. */
void *gg_malloc(size_t n);
void *gg_calloc(size_t nmemb, size_t size);
void *gg_realloc(void *p, size_t n);
void *gg_reallocarray(void *p, size_t nmemb, size_t size);
char *gg_strdup(const char *s);
char *gg_strndup(const char *s, size_t n);
/* gg_strdup, NULL for NULL. */
char *gg_strdup_opt(const char *s);
/* Returns a newly allocated formatted string; the caller frees it. */
char *gg_printf(const char *fmt, ...) GG_PRINTF(1, 2);
char *gg_vprintf(const char *fmt, va_list ap) GG_PRINTF(1, 0);

/* Growable buffer, always NUL-terminated after the first append. */
typedef struct {
	char *ptr;
	size_t len;
	size_t cap;
} gg_buf;

#define GG_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void gg_buf_grow(gg_buf *b, size_t extra);
void gg_buf_put(gg_buf *b, const void *data, size_t len);
void gg_buf_puts(gg_buf *b, const char *s);
void gg_buf_putc(gg_buf *b, char c);
void gg_buf_printf(gg_buf *b, const char *fmt, ...) GG_PRINTF(2, 3);
/* Detaches the contents (never NULL); the buffer is left empty. */
char *gg_buf_detach(gg_buf *b);
void gg_buf_clear(gg_buf *b);
void gg_buf_free(gg_buf *b);
/*
 * Append s as a JSON string literal: quotes, backslashes and control
 * characters escaped, valid UTF-8 kept, every byte of an invalid sequence
 * replaced by U+FFFD, so the output is valid JSON whatever s holds.
 */
void gg_buf_json_string(gg_buf *b, const char *s);
/*
 * Length of the well-formed UTF-8 sequence of 2-4 bytes at p, or 0 when
 * p starts none (RFC 3629, table 3-7: no overlong forms, no surrogates).
 */
size_t gg_utf8_len(const unsigned char *p);
/*
 * A copy of s (allocated) that is valid UTF-8 and at most max bytes long:
 * every byte that starts no well-formed sequence becomes '?', and the copy
 * ends before a character that would pass max. Controls are kept: whoever
 * prints it escapes them.
 */
char *gg_utf8_sanitize(const char *s, size_t max);

/*
 * Diagnostics: a list of messages about a user's file, each already in the
 * form "FILE:LINE:COL: message". Loaders add all they find, then fail.
 */
typedef struct {
	char **msgs;
	size_t n;
	size_t cap;
} gg_diag;

#define GG_DIAG_INIT                                                                               \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}
void gg_diag_add(gg_diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
    GG_PRINTF(5, 6);
void gg_diag_addf(gg_diag *d, const char *fmt, ...) GG_PRINTF(2, 3);
/*
 * Order the messages by file, line and column (messages without a position
 * last, each group in the order it was found).
 */
void gg_diag_sort(gg_diag *d);
void gg_diag_free(gg_diag *d);

/*
 * Parse "512", "64KiB", "1MiB", "2GB", "10k" into bytes. 0 on success, -1 on a
 * malformed or overflowing value.
 */
int gg_parse_size(uint64_t *out, const char *s);
/* Parse "30s", "10m", "1h", "500ms", "2d" or a bare number of seconds into milliseconds. */
int gg_parse_duration_ms(uint64_t *out, const char *s);

/* mkdir -p: create path and its missing parents with mode. 0, or -1 with errno. */
int gg_mkdir_p(const char *path, unsigned mode);

/* Free n strings and the array holding them. */
void gg_strv_free(char **v, size_t n);

/* Read a whole file; *out is NUL-terminated and owned by the caller. -1 sets errno. */
int gg_read_file(char **out, size_t *len, const char *path, size_t max);

/*
 * Read a secret (an HMAC key, a token, a password) from a file. Refused when
 * the file is not a regular file, is group- or world-accessible (every local
 * user could read it), is over 4 KiB or is empty once trailing whitespace is
 * stripped. *out is owned by the caller. 0, or -1 with an allocated "PATH:
 * why" message in *err.
 */
int gg_read_secret_file(char **out, size_t *len, const char *path, char **err);

/*
 * Whether two buffers are equal, in time that tells nothing of where they
 * differ nor, beyond hashing both, of their lengths (HMACs of both sides are
 * compared). 1 equal, 0 not.
 */
int gg_secure_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void gg_hex(char *out, const unsigned char *in, size_t n);

/* Monotonic clock in milliseconds and microseconds. */
uint64_t gg_now_ms(void);
uint64_t gg_now_us(void);
/* Wall-clock time (what a database or a peer records), Unix milliseconds. */
int64_t gg_wall_ms(void);

#define GG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
