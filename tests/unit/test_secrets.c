#include "gitgate/gltoml.h"
#include "gitgate/secrets.h"
#include "gitgate/util.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#define MAX_HITS 16

struct hits {
	gg_secret_hit h[MAX_HITS];
	size_t n;
};

static void collect(void *ctx, const gg_secret_hit *hit)
{
	struct hits *hs = ctx;
	if (hs->n < MAX_HITS)
		hs->h[hs->n++] = *hit;
}

static gg_secrets *scanner(void)
{
	static gg_secrets *s;
	if (s == NULL && gg_secrets_new(&s, NULL, NULL) < 0)
		abort();
	return s;
}

static struct hits scan_with(gg_secrets *s, const char *path, const char *text, size_t len)
{
	struct hits hs;
	memset(&hs, 0, sizeof(hs));
	size_t n = gg_secrets_scan(s, path, text, len, NULL, 0, collect, &hs);
	CHECK_INT(n, hs.n);
	return hs;
}

static struct hits scan(const char *text)
{
	return scan_with(scanner(), "app/config.env", text, strlen(text));
}

static const gg_secret_hit *find(const struct hits *hs, const char *rule)
{
	for (size_t i = 0; i < hs->n; i++)
		if (!strcmp(hs->h[i].rule, rule))
			return &hs->h[i];
	return NULL;
}

/* The redaction shows at most 8 characters of the secret, never a long run of it. */
static bool redacted_ok(const gg_secret_hit *h, const char *text)
{
	const char *r = h->redacted;
	if (r[0] == '\0')
		return true; /* key blocks show nothing */
	if (strlen(r) > 12 || strstr(r, "****") == NULL)
		return false;
	/* no 9-character run of the text in it */
	for (size_t i = 0; r[i] && r[i + 8]; i++) {
		char probe[10];
		memcpy(probe, r + i, 9);
		probe[9] = '\0';
		if (!strstr(probe, "****") && strstr(text, probe))
			return false;
	}
	return true;
}

static void test_table(void)
{
	CHECK(gg_nsecret_rules >= 150);
	size_t generic = 0;
	for (size_t i = 0; i < gg_nsecret_rules; i++) {
		const gg_secret_rule *r = &gg_secret_rules[i];
		CHECK(!strncmp(r->id, "secret-", 7));
		CHECK(r->provider && *r->provider && r->description && *r->description);
		CHECK(r->keywords && *r->keywords);
		CHECK(r->tp[0] != NULL);
		CHECK(r->fp[0] != NULL);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(gg_secret_rules[k].id, r->id))
				printf("#   duplicate id %s\n", r->id), t_case_failed = 1;
		generic += (r->flags & GG_SR_GENERIC) != 0;
	}
	CHECK_INT(generic, 1);
	CHECK(gg_secret_rules[gg_nsecret_rules - 1].flags & GG_SR_GENERIC);
}

/* Every rule's own samples: each true positive caught by that rule, each look-alike by none. */
static void test_rule_samples(void)
{
	size_t tps = 0, fps = 0;
	for (size_t i = 0; i < gg_nsecret_rules; i++) {
		const gg_secret_rule *r = &gg_secret_rules[i];
		for (size_t k = 0; k < 4 && r->tp[k]; k++) {
			struct hits hs = scan(r->tp[k]);
			const gg_secret_hit *h = find(&hs, r->id);
			tps++;
			if (h == NULL) {
				printf("#   %s missed: %s\n", r->id, r->tp[k]);
				for (size_t j = 0; j < hs.n; j++)
					printf("#     (found %s)\n", hs.h[j].rule);
				t_case_failed = 1;
				continue;
			}
			if (!redacted_ok(h, r->tp[k]))
				printf("#   %s shows too much: %s\n", r->id, h->redacted),
				    t_case_failed = 1;
			if (h->warning && !(r->flags & GG_SR_GENERIC))
				printf("#   %s only a warning: %s\n", r->id, r->tp[k]),
				    t_case_failed = 1;
		}
		for (size_t k = 0; k < 4 && r->fp[k]; k++) {
			struct hits hs = scan(r->fp[k]);
			fps++;
			if (hs.n) {
				printf("#   %s look-alike reported by %s: %s\n", r->id,
				       hs.h[0].rule, r->fp[k]);
				t_case_failed = 1;
			}
		}
	}
	printf("#   %zu true positives, %zu look-alikes\n", tps, fps);
}

static void test_messages_name_provider_and_place(void)
{
	struct hits hs = scan("# config\nSTRIPE_KEY=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\n");
	CHECK_INT(hs.n, 1);
	if (hs.n) {
		CHECK_STR(hs.h[0].rule, "secret-stripe-secret-key");
		CHECK_STR(hs.h[0].provider, "Stripe");
		CHECK_STR(hs.h[0].description, "Stripe secret key");
		CHECK_INT(hs.h[0].line, 2);
		CHECK_INT(hs.h[0].col, 12);
		CHECK_STR(hs.h[0].redacted, "sk_l****j6Hd");
		CHECK(!hs.h[0].warning);
	}
}

static void test_github_checksum(void)
{
	/* ghp_ + 30 random + base62 CRC32 of the 30 */
	const char *good = gg_secret_rules[0].tp[0]; /* the table's first sample is a real shape */
	const char *tok = strstr(good, "ghp_");
	CHECK(tok != NULL);
	if (!tok)
		return;
	CHECK(gg_secrets_crc32_ok(tok, 40));
	char bad[64];
	snprintf(bad, sizeof(bad), "token = %.39s%c", tok, tok[39] == 'A' ? 'B' : 'A');
	CHECK(!gg_secrets_crc32_ok(bad + 8, 40));
	struct hits hs = scan(good);
	CHECK(hs.n == 1 && !hs.h[0].warning);
	hs = scan(bad);
	CHECK_INT(hs.n, 1); /* still reported ... */
	if (hs.n)
		CHECK(hs.h[0].warning); /* ... as a warning */
}

static void test_placeholders(void)
{
	static const char *const none[] = {
	    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "aws_access_key_id = AKIAXXXXXXXXXXXXXXXX",
	    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
	    "apiKey: \"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe\"",
	    "SLACK_TOKEN=xoxb-12345-abcd234",
	    "-----BEGIN RSA PRIVATE KEY-----",
	    "password = \"hunter2\"",
	    "password: ${DB_PASSWORD}",
	    "api_key = settings.PAYMENTS_API_KEY",
	    "secret: {{ .Values.secret }}",
	    "token = os.environ[\"TOKEN\"]",
	    "The quick brown fox jumps over the lazy dog; secrets are kept in vaults.",
	    "",
	};
	for (size_t i = 0; i < GG_ARRAY_LEN(none); i++) {
		struct hits hs = scan(none[i]);
		if (hs.n)
			printf("#   %s reported: %s\n", hs.h[0].rule, none[i]);
		CHECK_INT(hs.n, 0);
	}
}

static void test_key_blocks_need_a_body(void)
{
	const char *empty =
	    "-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----\n";
	CHECK_INT(scan(empty).n, 0);
	const char *doc = "Paste it here:\n\n    -----BEGIN PRIVATE KEY-----\n    <your key>\n";
	CHECK_INT(scan(doc).n, 0);
	const char *yaml = "tls.key: |\n  -----BEGIN EC PRIVATE KEY-----\n  "
	                   "MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oJoMk7Yk3pCZoAoGCCqGSM49\n";
	struct hits hs = scan(yaml);
	CHECK_INT(hs.n, 1);
	if (hs.n) {
		CHECK_STR(hs.h[0].rule, "secret-private-key");
		CHECK_INT(hs.h[0].line, 2);
		CHECK_INT(hs.h[0].col, 3);
	}
}

static void test_generic_level(void)
{
	const char *line = "DB_PASSWORD=Xk29vLpq8Zt3mWr7\n";
	struct hits hs = scan(line);
	CHECK_INT(hs.n, 1);
	if (hs.n) {
		CHECK_STR(hs.h[0].rule, "secret-generic-secret");
		CHECK(!hs.h[0].warning);
	}
	gg_secrets *s = NULL;
	gg_secrets_opts o = {GG_SECRETS_WARNING, false, NULL};
	CHECK_INT(gg_secrets_new(&s, &o, NULL), 0);
	hs = scan_with(s, "x", line, strlen(line));
	CHECK(hs.n == 1 && hs.h[0].warning);
	gg_secrets_free(s);
	o.generic = GG_SECRETS_OFF;
	CHECK_INT(gg_secrets_new(&s, &o, NULL), 0);
	CHECK_INT(scan_with(s, "x", line, strlen(line)).n, 0);
	/* a provider token in the same place is still an error */
	const char *tok = "DB_PASSWORD=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd";
	hs = scan_with(s, "x", tok, strlen(tok));
	CHECK(hs.n == 1 && !hs.h[0].warning);
	gg_secrets_free(s);
}

static void test_one_finding_per_span(void)
{
	/* The specific rule wins; the generic rule does not report the same value again. */
	struct hits hs = scan("api_key = \"sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\"");
	CHECK_INT(hs.n, 1);
	if (hs.n)
		CHECK_STR(hs.h[0].rule, "secret-stripe-secret-key");
}

static void test_text_kinds(void)
{
	CHECK_INT(gg_secrets_text_kind("abcd\n", 5), GG_TEXT_PLAIN);
	CHECK_INT(gg_secrets_text_kind("\0abcdefghijklmnopqrstuvwxyz\n", 28), GG_TEXT_PLAIN);
	CHECK_INT(gg_secrets_text_kind("\xff\xfe"
	                               "a\0",
	                               4),
	          GG_TEXT_UTF16LE);
	CHECK_INT(gg_secrets_text_kind("\xfe\xff\0a", 4), GG_TEXT_UTF16BE);
	CHECK_INT(gg_secrets_text_kind("k\0e\0y\0=\0v\0", 10), GG_TEXT_UTF16LE);
	CHECK_INT(gg_secrets_text_kind("\0k\0e\0y\0=\0v", 10), GG_TEXT_UTF16BE);
	char bin[512];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)((i * 7919u) & 0xff);
	CHECK_INT(gg_secrets_text_kind(bin, sizeof(bin)), GG_TEXT_BINARY);
}

/* Builds UTF-16 of an ASCII string, little- or big-endian, with or without a BOM. */
static size_t to_utf16(char *out, const char *s, bool le, bool bom)
{
	size_t n = 0;
	if (bom) {
		out[n++] = le ? '\xff' : '\xfe';
		out[n++] = le ? '\xfe' : '\xff';
	}
	for (; *s; s++) {
		out[n++] = le ? *s : '\0';
		out[n++] = le ? '\0' : *s;
	}
	return n;
}

static void test_utf16_and_leading_nul_are_scanned(void)
{
	const char *text = "# settings\r\nSTRIPE_KEY=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\r\n";
	char buf[512];
	for (int v = 0; v < 4; v++) {
		size_t n = to_utf16(buf, text, v & 1, v & 2);
		struct hits hs = scan_with(scanner(), "w.ini", buf, n);
		CHECK_INT(hs.n, 1);
		if (hs.n) {
			CHECK_STR(hs.h[0].rule, "secret-stripe-secret-key");
			CHECK_INT(hs.h[0].line, 2);
		}
	}
	char nul[128];
	nul[0] = '\0';
	size_t n = 1 + (size_t)snprintf(nul + 1, sizeof(nul) - 1, "%s", text);
	CHECK_INT(scan_with(scanner(), "n.ini", nul, n).n, 1);
	/* binary around it does not hide it either */
	char bin[600];
	for (size_t i = 0; i < 512; i++)
		bin[i] = (char)((i * 7919u) & 0xff);
	memcpy(bin + 512, "\nsk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\n", 34);
	CHECK_INT(scan_with(scanner(), "b.bin", bin, 546).n, 1);
}

static void test_line_map(void)
{
	const char *added = "x = 1\nSTRIPE_KEY=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\n";
	unsigned lines[] = {10, 42};
	struct hits hs;
	memset(&hs, 0, sizeof(hs));
	gg_secrets_scan(scanner(), "a", added, strlen(added), lines, 2, collect, &hs);
	CHECK(hs.n == 1 && hs.h[0].line == 42);
}

static void test_inline_allow(void)
{
	const char *line = "STRIPE_KEY=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd # gitleaks:allow";
	CHECK_INT(scan(line).n, 1); /* off by default: a pusher cannot allow its own secret */
	gg_secrets *s = NULL;
	gg_secrets_opts o = {GG_SECRETS_ERROR, true, NULL};
	CHECK_INT(gg_secrets_new(&s, &o, NULL), 0);
	CHECK_INT(scan_with(s, "a", line, strlen(line)).n, 0);
	/* .gitleaksignore fingerprints: FILE:RULE:LINE, with or without a commit */
	char path[] = "/tmp/gg-ignore-XXXXXX";
	int fd = mkstemp(path);
	const char *ign = "# reviewed\nconf/a.env:stripe-secret-key:2\nabc123:conf/b.env:secret-"
	                  "stripe-secret-key:1\n";
	CHECK(fd >= 0 && write(fd, ign, strlen(ign)) == (ssize_t)strlen(ign));
	close(fd);
	CHECK_INT(gg_secrets_load_ignore(s, path), 0);
	unlink(path);
	const char *t = "x\nK=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\n";
	CHECK_INT(scan_with(s, "conf/a.env", t, strlen(t)).n, 0);
	CHECK_INT(scan_with(s, "conf/c.env", t, strlen(t)).n, 1);
	CHECK_INT(scan_with(s, "conf/b.env", t + 2, strlen(t + 2)).n, 0);
	gg_secrets_free(s);
}

static gg_secrets *from_toml(const char *toml, gg_diag *d)
{
	char path[] = "/tmp/gg-gitleaks-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, toml, strlen(toml)) != (ssize_t)strlen(toml))
		abort();
	close(fd);
	gg_secrets *s = NULL;
	gg_secrets_opts o = {GG_SECRETS_ERROR, false, path};
	int rc = gg_secrets_new(&s, &o, d);
	unlink(path);
	return rc == 0 ? s : NULL;
}

static void test_gitleaks_config(void)
{
	gg_diag d = GG_DIAG_INIT;
	gg_secrets *s = from_toml("title = \"acme\"\n"
	                          "[extend]\nuseDefault = true\n"
	                          "[[rules]]\n"
	                          "id = \"acme-internal-token\"\n"
	                          "description = \"Acme internal token\"\n"
	                          "regex = '''\\b(acme_[a-z0-9]{24})\\b'''\n"
	                          "secretGroup = 1\n"
	                          "entropy = 3.0\n"
	                          "keywords = [\"acme_\"]\n"
	                          "[[rules.allowlists]]\n"
	                          "stopwords = [\"acme_testtoken\"]\n"
	                          "\n[allowlist]\n"
	                          "description = \"fixtures\"\n"
	                          "paths = ['''^testdata/''']\n",
	                          &d);
	CHECK(s != NULL);
	for (size_t i = 0; i < d.n; i++)
		printf("#   %s\n", d.msgs[i]);
	if (s == NULL) {
		gg_diag_free(&d);
		return;
	}
	const char *t = "TOKEN=acme_k3j9x8w7v6u5t4s3r2q1p0n9\n";
	struct hits hs = scan_with(s, "app/a.env", t, strlen(t));
	CHECK(hs.n == 1 && !strcmp(hs.h[0].rule, "acme-internal-token"));
	if (hs.n)
		CHECK_STR(hs.h[0].description, "Acme internal token");
	const char *stop = "ACME=acme_testtokenk3j9x8w7v6u5t4z\n";
	CHECK_INT(scan_with(s, "app/a.env", stop, strlen(stop)).n, 0);
	CHECK_INT(scan_with(s, "testdata/a.env", t, strlen(t)).n, 0);     /* allowlisted path */
	const char *gh = "STRIPE_KEY=sk_live_4Tq8Lm2Zr9Wx7Nc5Vb3Kj6Hd\n"; /* defaults kept */
	CHECK_INT(scan_with(s, "app/a.env", gh, strlen(gh)).n, 1);
	gg_secrets_free(s);
	/* without [extend] useDefault, only the config's rules run (as in gitleaks) */
	s = from_toml("[[rules]]\nid = \"only\"\nregex = 'zzz[0-9]{6}'\n", &d);
	CHECK(s != NULL);
	CHECK_INT(scan_with(s, "a", gh, strlen(gh)).n, 0);
	CHECK_INT(scan_with(s, "a", "x zzz123456", 11).n, 1);
	gg_secrets_free(s);
	gg_diag_free(&d);
}

static bool has_msg(const gg_diag *d, const char *want)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], want))
			return true;
	for (size_t i = 0; i < d->n; i++)
		printf("#   diag: %s\n", d->msgs[i]);
	return false;
}

static void test_gitleaks_config_errors(void)
{
	static const struct {
		const char *toml, *msg;
	} cases[] = {
	    {"[[rules]]\nid = \"a\"\nregex = '(unclosed'\n",
	     ":3: rule 'a': regex: missing closing"},
	    {"[[rules]]\nid = \"a\"\n", ":1: rule 'a' needs a regex or a path"},
	    {"[[rules]]\nregex = 'x'\n", ":1: a rule needs an id"},
	    {"[[rules]]\nid = \"a\"\nregex = 'x'\n[[rules]]\nid = \"a\"\nregex = 'y'\n",
	     ":4: rule id 'a' is used twice"},
	    {"[[rules]]\nid = \"a\"\nregex = 'x'\nsecretGroup = 2\n",
	     ":3: rule 'a': secretGroup 2"},
	    {"[[rules]]\nid = \"a\"\nregex = \"x\nfoo\"\n", ":3: newline in a single-line string"},
	    {"[[rules]]\nid = \"a\"\nregex = 'x'\nkeywords = [\"a\", 3]\n",
	     ":4: keywords[1]: expected a non-empty string"},
	    {"[[rules]]\nid = \"a\"\nregx = 'x'\n", ":3: unknown rule key 'regx'"},
	    {"[extend]\npath = \"other.toml\"\n", ":2: [extend] path is not supported"},
	    {"[allowlist]\ncommits = [\"abc\"]\n", ":2: allowlist key 'commits' is not supported"},
	    {"[[rules]]\nid = \"a\"\nregex = 'x'\nentropy = {a = 1}\n",
	     ":4: inline tables are not supported"},
	    {"[rules.allowlist]\nregexes = ['x']\n", ":1: [rules.allowlist] before any [[rules]]"},
	    {"[[rules]\n", ":1: malformed table header"},
	    {"[[rules]]\nid = \"a\" x\n", ":2: unexpected text after the value"},
	    {"[[rules]]\nid = '''abc\n", "unterminated string"},
	    {"key\n", ":1: expected '=' after a key"},
	    {"[[rules]]\nid = \"\\q\"\n", ":2: unknown escape"},
	    {"[[rules]]\nentropy = 9\nid = \"a\"\nregex = 'x'\n", ":2: entropy: expected a number"},
	    {"[weird]\n", ":1: unsupported table [weird]"},
	};
	for (size_t i = 0; i < GG_ARRAY_LEN(cases); i++) {
		gg_diag d = GG_DIAG_INIT;
		gg_secrets *s = from_toml(cases[i].toml, &d);
		CHECK(s == NULL);
		gg_secrets_free(s);
		if (!has_msg(&d, cases[i].msg))
			printf("#   want '%s' for case %zu\n", cases[i].msg, i), t_case_failed = 1;
		gg_diag_free(&d);
	}
	/* nesting and size bounds */
	char deep[64];
	memset(deep, '[', sizeof(deep));
	deep[sizeof(deep) - 1] = '\0';
	char doc[128];
	snprintf(doc, sizeof(doc), "title = %s", deep);
	gg_diag d = GG_DIAG_INIT;
	gg_gl_config *c = NULL;
	CHECK_INT(gg_gl_parse(&c, "f.toml", doc, strlen(doc), &d), -1);
	CHECK(has_msg(&d, "f.toml:1: arrays nested too deeply"));
	gg_diag_free(&d);
	/* every string kind and escapes */
	const char *kinds =
	    "[[rules]]\nid = \"a\\u00e9\\t\"\ndescription = \"\"\"\nmulti \\\n   "
	    "line\"\"\"\nregex = '''a'b'''\npath = 'p'\nkeywords = [\n  \"k\", # c\n"
	    "]\ntags = []\nentropy = 1_0.5e-1\n";
	CHECK_INT(gg_gl_parse(&c, "k.toml", kinds, strlen(kinds), &d), 0);
	if (c) {
		CHECK_STR(c->rules[0].id, "a\xc3\xa9\t");
		CHECK_STR(c->rules[0].description, "multi line");
		CHECK_STR(c->rules[0].regex, "a'b");
		CHECK_INT(c->rules[0].nkeywords, 1);
		CHECK(c->rules[0].entropy > 1.04 && c->rules[0].entropy < 1.06);
	}
	gg_gl_free(c);
	gg_diag_free(&d);
}

static void test_markdown(void)
{
	char *md = gg_secrets_rules_markdown();
	for (size_t i = 0; i < gg_nsecret_rules; i++)
		CHECK(strstr(md, gg_secret_rules[i].id) != NULL);
	free(md);
}

static void test_entropy(void)
{
	CHECK(gg_secrets_entropy("aaaa", 4) == 0);
	CHECK(gg_secrets_entropy("abcd", 4) > 1.99 && gg_secrets_entropy("abcd", 4) < 2.01);
	CHECK(gg_secrets_entropy("", 0) == 0);
}

struct bounds {
	size_t len;
	bool ok;
};

static void check_bounds(void *ctx, const gg_secret_hit *hit)
{
	struct bounds *b = ctx;
	if (hit->col < 1 || hit->col > b->len + 1 || strlen(hit->redacted) >= sizeof(hit->redacted))
		b->ok = false;
}

/*
 * Pushed content is untrusted: random texts built from the rules' own
 * keywords and alphabets must never read out of bounds (ASan) or report a
 * column outside the text.
 */
static void test_garbage(void)
{
	static const char alpha[] = "ABCxyz019_-/+=:\"' \n\0\xff.";
	unsigned seed = 12345;
	bool ok = true;
	for (int iter = 0; iter < 3000; iter++) {
		char text[512];
		size_t len = 0;
		seed = seed * 1103515245u + 12345u;
		int nparts = (int)(seed >> 16) % 10;
		for (int k = 0; k < nparts; k++) {
			seed = seed * 1103515245u + 12345u;
			const gg_secret_rule *r = &gg_secret_rules[(seed >> 16) % gg_nsecret_rules];
			size_t n = strcspn(r->keywords, "|");
			if (len + n >= sizeof(text))
				break;
			memcpy(text + len, r->keywords, n);
			len += n;
			seed = seed * 1103515245u + 12345u;
			size_t fill = (seed >> 16) % 80;
			for (size_t j = 0; j < fill && len < sizeof(text) - 1; j++) {
				seed = seed * 1103515245u + 12345u;
				text[len++] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
			}
		}
		char *heap = gg_malloc(len ? len : 1);
		memcpy(heap, text, len);
		struct bounds b = {len, true};
		gg_secrets_scan(scanner(), "g", heap, len, NULL, 0, check_bounds, &b);
		free(heap);
		ok = ok && b.ok;
	}
	CHECK(ok);
}

int main(void)
{
	RUN(test_table);
	RUN(test_rule_samples);
	RUN(test_messages_name_provider_and_place);
	RUN(test_github_checksum);
	RUN(test_placeholders);
	RUN(test_key_blocks_need_a_body);
	RUN(test_generic_level);
	RUN(test_one_finding_per_span);
	RUN(test_text_kinds);
	RUN(test_utf16_and_leading_nul_are_scanned);
	RUN(test_line_map);
	RUN(test_inline_allow);
	RUN(test_gitleaks_config);
	RUN(test_gitleaks_config_errors);
	RUN(test_markdown);
	RUN(test_entropy);
	RUN(test_garbage);
	gg_secrets_free(scanner());
	return TEST_DONE();
}
