#include "gitgate/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "gitgate: out of memory (%zu bytes)\n", n);
	abort();
}

void *gg_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *gg_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *gg_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom(n);
	return q;
}

void *gg_reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		oom(SIZE_MAX);
	return gg_realloc(p, nmemb * size);
}

char *gg_strdup(const char *s)
{
	return gg_strndup(s, strlen(s));
}

char *gg_strndup(const char *s, size_t n)
{
	char *p = gg_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *gg_vprintf(const char *fmt, va_list ap)
{
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		oom(0);
	return s;
}

char *gg_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = gg_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

void gg_buf_grow(gg_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1) {
		if (cap > SIZE_MAX / 2)
			oom(SIZE_MAX);
		cap *= 2;
	}
	b->ptr = gg_realloc(b->ptr, cap);
	b->cap = cap;
}

void gg_buf_put(gg_buf *b, const void *data, size_t len)
{
	gg_buf_grow(b, len);
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void gg_buf_puts(gg_buf *b, const char *s)
{
	gg_buf_put(b, s, strlen(s));
}

void gg_buf_putc(gg_buf *b, char c)
{
	gg_buf_put(b, &c, 1);
}

void gg_buf_printf(gg_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	gg_buf_grow(b, (size_t)n);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
}

char *gg_buf_detach(gg_buf *b)
{
	char *p = b->ptr ? b->ptr : gg_strdup("");
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}

void gg_buf_clear(gg_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

void gg_buf_free(gg_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

size_t gg_utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

char *gg_utf8_sanitize(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	gg_buf b = GG_BUF_INIT;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : gg_utf8_len(p);
		if (b.len + (n ? n : 1) > max)
			break;
		if (n == 0) {
			gg_buf_putc(&b, '?');
			p++;
			continue;
		}
		gg_buf_put(&b, p, n);
		p += n;
	}
	return gg_buf_detach(&b);
}

void gg_buf_json_string(gg_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	gg_buf_putc(b, '"');
	while (*p) {
		unsigned char c = *p;
		size_t n;
		if (c == '"' || c == '\\') {
			gg_buf_putc(b, '\\');
			gg_buf_putc(b, (char)c);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			gg_buf_printf(b, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			gg_buf_putc(b, (char)c);
			p++;
		} else if ((n = gg_utf8_len(p)) > 0) {
			gg_buf_put(b, p, n);
			p += n;
		} else {
			gg_buf_puts(b, "\\ufffd");
			p++;
		}
	}
	gg_buf_putc(b, '"');
}

static void diag_push(gg_diag *d, char *msg)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->msgs = gg_reallocarray(d->msgs, d->cap, sizeof(*d->msgs));
	}
	d->msgs[d->n++] = msg;
}

void gg_diag_add(gg_diag *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = gg_vprintf(fmt, ap);
	va_end(ap);
	diag_push(d, gg_printf("%s:%u:%u: %s", file, line, col, m));
	free(m);
}

void gg_diag_addf(gg_diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_push(d, gg_vprintf(fmt, ap));
	va_end(ap);
}

/* A message's position: FILE up to ":LINE:COL: ", which the first such run ends. */
struct diag_key {
	const char *msg;
	size_t file_len; /* 0: no position */
	unsigned long line, col;
	size_t index;
};

static void diag_key(struct diag_key *k, const char *msg, size_t index)
{
	memset(k, 0, sizeof(*k));
	k->msg = msg;
	k->index = index;
	for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
		char *e1, *e2;
		if (p[1] < '0' || p[1] > '9')
			continue;
		unsigned long line = strtoul(p + 1, &e1, 10);
		if (*e1 != ':' || e1[1] < '0' || e1[1] > '9')
			continue;
		unsigned long col = strtoul(e1 + 1, &e2, 10);
		if (*e2 != ':')
			continue;
		k->file_len = (size_t)(p - msg);
		k->line = line;
		k->col = col;
		return;
	}
}

static int diag_cmp(const void *pa, const void *pb)
{
	const struct diag_key *a = pa, *b = pb;
	if (!a->file_len != !b->file_len)
		return a->file_len ? -1 : 1;
	if (a->file_len) {
		size_t n = a->file_len < b->file_len ? a->file_len : b->file_len;
		int c = memcmp(a->msg, b->msg, n);
		if (c == 0 && a->file_len != b->file_len)
			c = a->file_len < b->file_len ? -1 : 1;
		if (c)
			return c;
		if (a->line != b->line)
			return a->line < b->line ? -1 : 1;
		if (a->col != b->col)
			return a->col < b->col ? -1 : 1;
	}
	return a->index < b->index ? -1 : (a->index > b->index);
}

void gg_diag_sort(gg_diag *d)
{
	if (d->n < 2)
		return;
	struct diag_key *keys = gg_calloc(d->n, sizeof(*keys));
	for (size_t i = 0; i < d->n; i++)
		diag_key(&keys[i], d->msgs[i], i);
	qsort(keys, d->n, sizeof(*keys), diag_cmp);
	for (size_t i = 0; i < d->n; i++)
		d->msgs[i] = (char *)keys[i].msg;
	free(keys);
}

void gg_diag_free(gg_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = d->cap = 0;
}

static int parse_number_unit(uint64_t *num, const char **unit, const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	uint64_t v = 0;
	while (isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		s++;
	}
	while (isspace((unsigned char)*s))
		s++;
	*num = v;
	*unit = s;
	return 0;
}

static int unit_is(const char *unit, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(unit, name, n) != 0)
		return 0;
	for (unit += n; *unit; unit++)
		if (!isspace((unsigned char)*unit))
			return 0;
	return 1;
}

static int mul_checked(uint64_t *out, uint64_t v, uint64_t m)
{
	if (m && v > UINT64_MAX / m)
		return -1;
	*out = v * m;
	return 0;
}

int gg_parse_size(uint64_t *out, const char *s)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {
	    {"", 1},
	    {"b", 1},
	    {"k", 1000},
	    {"kb", 1000},
	    {"kib", 1024},
	    {"m", 1000 * 1000},
	    {"mb", 1000 * 1000},
	    {"mib", 1024 * 1024},
	    {"g", 1000 * 1000 * 1000},
	    {"gb", 1000 * 1000 * 1000},
	    {"gib", 1024 * 1024 * 1024},
	};
	uint64_t v;
	const char *unit;
	if (parse_number_unit(&v, &unit, s) < 0)
		return -1;
	for (size_t i = 0; i < GG_ARRAY_LEN(units); i++)
		if (unit_is(unit, units[i].name))
			return mul_checked(out, v, units[i].mult);
	return -1;
}

int gg_parse_duration_ms(uint64_t *out, const char *s)
{
	static const struct {
		const char *name;
		uint64_t mult;
	} units[] = {
	    {"", 1000},   {"ms", 1},      {"s", 1000},    {"sec", 1000},
	    {"m", 60000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	uint64_t v;
	const char *unit;
	if (parse_number_unit(&v, &unit, s) < 0)
		return -1;
	for (size_t i = 0; i < GG_ARRAY_LEN(units); i++)
		if (unit_is(unit, units[i].name))
			return mul_checked(out, v, units[i].mult);
	return -1;
}

int gg_mkdir_p(const char *path, unsigned mode)
{
	char *p = gg_strdup(path);
	int rc = 0;
	for (char *s = p + 1; *s && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
		rc = -1;
	int e = errno;
	free(p);
	errno = e;
	return rc;
}

void gg_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int gg_read_file(char **out, size_t *lenp, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	gg_buf b = GG_BUF_INIT;
	int rc = -1;
	for (;;) {
		gg_buf_grow(&b, 65536);
		ssize_t n = read(fd, b.ptr + b.len, b.cap - b.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (max && b.len > max) {
			errno = EFBIG;
			goto done;
		}
	}
	gg_buf_grow(&b, 0);
	b.ptr[b.len] = '\0';
	if (lenp)
		*lenp = b.len;
	*out = gg_buf_detach(&b);
	rc = 0;
done:
	if (rc < 0) {
		int e = errno;
		gg_buf_free(&b);
		errno = e;
	}
	close(fd);
	return rc;
}

#define SECRET_FILE_MAX 4096

int gg_read_secret_file(char **out, size_t *len, const char *path, char **err)
{
	struct stat st;
	char *data = NULL;
	size_t dlen = 0;
	*out = NULL;
	*len = 0;
	*err = NULL;
	/* O_NONBLOCK: a FIFO named by mistake must not hang the reader. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = gg_printf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		*err = gg_printf("%s: not a regular file", path);
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		*err = gg_printf("%s: secret file is group- or world-accessible (mode %04o); chmod "
		                 "600 it",
		                 path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (gg_read_file(&data, &dlen, path, SECRET_FILE_MAX) < 0) {
		*err = gg_printf("%s: %s", path,
		                 errno == EFBIG ? "too large for a secret" : strerror(errno));
		return -1;
	}
	while (dlen > 0 && isspace((unsigned char)data[dlen - 1]))
		data[--dlen] = '\0';
	if (dlen == 0) {
		free(data);
		*err = gg_printf("%s: secret file is empty", path);
		return -1;
	}
	*out = data;
	*len = dlen;
	return 0;
}

static unsigned char secure_key[32];

static void secure_equal_key(void)
{
	/* Without randomness the key is known, which costs nothing but the hiding of lengths. */
	if (RAND_bytes(secure_key, sizeof(secure_key)) != 1)
		memset(secure_key, 0x5c, sizeof(secure_key));
}

int gg_secure_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	/*
	 * Compare HMACs of both sides under a key drawn once per process: the
	 * time taken depends on the lengths only through hashing both, and an
	 * early return on a length mismatch would tell a caller how long a
	 * secret is.
	 */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, secure_equal_key);
	unsigned char ma[EVP_MAX_MD_SIZE], mb[EVP_MAX_MD_SIZE];
	unsigned int la = 0, lb = 0;
	if (HMAC(EVP_sha256(), secure_key, sizeof(secure_key), a, alen, ma, &la) == NULL ||
	    HMAC(EVP_sha256(), secure_key, sizeof(secure_key), b, blen, mb, &lb) == NULL)
		return 0;
	return (CRYPTO_memcmp(ma, mb, la) == 0) & (alen == blen);
}

void gg_hex(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

uint64_t gg_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t gg_wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

char *gg_strdup_opt(const char *s)
{
	return s ? gg_strdup(s) : NULL;
}

uint64_t gg_now_ms(void)
{
	return gg_now_us() / 1000u;
}
