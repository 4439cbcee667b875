/*
 * logfmt (or JSON) lines, written with one fputs so concurrent writers (the
 * store's thread, child processes sharing stderr) do not interleave within a
 * line.
 */
#include "log.h"

#include "gitgate/util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define LOG_LINE_MAX 4096

static gg_log_level min_level = GG_LOG_INFO;
/* Set by the loop's thread (start, reload), read by the store's writer too. */
static _Atomic gg_log_format format = GG_LOG_LOGFMT;
static FILE *stream;

void gg_log_set_format(gg_log_format fmt)
{
	format = fmt;
}

void gg_log_set_level(gg_log_level lvl)
{
	min_level = lvl;
}

void gg_log_set_stream(FILE *f)
{
	stream = f;
}

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static bool needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v; v++)
		if ((unsigned char)*v <= ' ' || *v == '"' || *v == '=' || *v == '\\' ||
		    (unsigned char)*v >= 0x7f)
			return true;
	return false;
}

/*
 * Whether the UTF-8 character of n bytes at p is shown as it is: not a C1
 * control (U+0080-U+009F, which a terminal may take for an escape) and not
 * a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069).
 */
static bool printable_utf8(const unsigned char *p, size_t n)
{
	if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
		return false;
	if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
		return false;
	if (n == 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
		return false;
	return true;
}

static void put_value(gg_buf *b, const char *v)
{
	if (!needs_quotes(v)) {
		gg_buf_puts(b, v);
		return;
	}
	gg_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p;) {
		unsigned char c = *p;
		size_t n = c >= 0x80 ? gg_utf8_len(p) : 0;
		if (c == '"' || c == '\\') {
			gg_buf_putc(b, '\\');
			gg_buf_putc(b, (char)c);
		} else if (c == '\n') {
			gg_buf_puts(b, "\\n");
		} else if (c < ' ' || c == 0x7f ||
		           (c >= 0x80 && (n == 0 || !printable_utf8(p, n)))) {
			/* A control, or a byte of no or an unprintable UTF-8 character. */
			for (size_t i = 0; i < (n ? n : 1); i++)
				gg_buf_printf(b, "\\x%02x", p[i]);
			p += n ? n : 1;
			continue;
		} else if (n > 0) {
			gg_buf_put(b, p, n);
			p += n;
			continue;
		} else {
			gg_buf_putc(b, (char)c);
		}
		p++;
	}
	gg_buf_putc(b, '"');
}

void gg_log_quote(char *out, size_t outlen, const char *value)
{
	gg_buf b = GG_BUF_INIT;
	put_value(&b, value);
	snprintf(out, outlen, "%s", b.ptr);
	gg_buf_free(&b);
}

void gg_log(gg_log_level lvl, const char *msg, ...)
{
	if (lvl < min_level)
		return;
	struct timeval tv;
	struct tm tm;
	char ts[96];
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (int)(tv.tv_usec / 1000));
	bool json = format == GG_LOG_JSON;
	gg_buf b = GG_BUF_INIT;
	if (json) {
		gg_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[lvl]);
		gg_buf_json_string(&b, msg);
	} else {
		gg_buf_printf(&b, "ts=%s level=%s msg=", ts, level_names[lvl]);
		put_value(&b, msg);
	}
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (k == NULL)
			break;
		const char *v = va_arg(ap, const char *);
		if (v == NULL)
			break;
		if (json) {
			gg_buf_printf(&b, ",\"%s\":", k); /* keys are names in the code */
			gg_buf_json_string(&b, v);
		} else {
			gg_buf_printf(&b, " %s=", k);
			put_value(&b, v);
		}
		if (b.len > LOG_LINE_MAX)
			break;
	}
	va_end(ap);
	gg_buf_puts(&b, json ? "}\n" : "\n");
	fputs(b.ptr, stream ? stream : stderr);
	gg_buf_free(&b);
}
