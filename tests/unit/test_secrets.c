#include "gitgate/secrets.h"
#include "gitgate/util.h"
#include "test.h"

#include <stdlib.h>

struct hits {
	gg_secret_hit h[8];
	size_t n;
};

static void collect(void *ctx, const gg_secret_hit *hit)
{
	struct hits *hs = ctx;
	if (hs->n < 8)
		hs->h[hs->n++] = *hit;
}

static struct hits scan(const char *line)
{
	struct hits hs;
	memset(&hs, 0, sizeof(hs));
	size_t n = gg_secrets_scan_line(line, strlen(line), collect, &hs);
	CHECK_INT(n, hs.n);
	return hs;
}

/* One finding of `kind` at `col`, redacted to `shown`, never holding `secret`. */
static void expect_hit(const char *line, const char *kind, size_t col, const char *shown,
                       const char *secret)
{
	struct hits hs = scan(line);
	CHECK_INT(hs.n, 1);
	if (hs.n != 1) {
		printf("#   line: %s\n", line);
		return;
	}
	CHECK_STR(hs.h[0].kind, kind);
	CHECK_INT(hs.h[0].col, col);
	CHECK_STR(hs.h[0].redacted, shown);
	CHECK(strstr(hs.h[0].redacted, secret) == NULL);
	CHECK(strlen(hs.h[0].redacted) < 10);
}

static void expect_none(const char *line)
{
	struct hits hs = scan(line);
	if (hs.n)
		printf("#   unexpected %s in: %s\n", hs.h[0].kind, line);
	CHECK_INT(hs.n, 0);
}

static void test_aws_access_key_id(void)
{
	expect_hit("aws_access_key_id = AKIA2E0A8F3B244C9986", "AWS access key id", 21, "AKIA****",
	           "AKIA2E0A8F3B244C9986");
	expect_hit("export KEY=ASIAY34FZKBOKMUTVV7A", "AWS access key id", 12, "ASIA****",
	           "ASIAY34FZKBOKMUTVV7A");
	expect_none("AKIA2E0A8F3B244C998");      /* 19 characters */
	expect_none("AKIA2E0A8F3B244C99861234"); /* too long: some other identifier */
	expect_none("xAKIA2E0A8F3B244C9986");    /* not at a word boundary */
	expect_none("AKIAIOSFODNN7EXAMPLE");     /* AWS's documentation placeholder */
	expect_none("AKIAlowercaseletters");
}

static void test_aws_secret_key(void)
{
	const char *k = "9drTJvcXLB89EXc4Ae0mBtbGJWiB1I6XNmpuYDb7";
	char line[200];
	snprintf(line, sizeof(line), "aws_secret_access_key = %s", k);
	expect_hit(line, "AWS secret access key", 25, "9drT****", k);
	snprintf(line, sizeof(line), "  \"SecretAccessKey\": \"%s\",", k);
	expect_hit(line, "AWS secret access key", 23, "9drT****", k);
	snprintf(line, sizeof(line), "AWS_SECRET_ACCESS_KEY=%s", k);
	expect_hit(line, "AWS secret access key", 23, "9drT****", k);
	/* 40 base64 characters without the context are just a hash. */
	snprintf(line, sizeof(line), "checksum = %s", k);
	expect_none(line);
	expect_none("aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY_FROM_THE_ENVIRONMENT}");
	expect_none("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	expect_none("aws_secret_access_key = da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void test_github_tokens(void)
{
	const char *prefixes[] = {"ghp_", "gho_", "ghs_", "ghu_", "ghr_"};
	for (size_t i = 0; i < GG_ARRAY_LEN(prefixes); i++) {
		char tok[64], line[128], shown[16];
		snprintf(tok, sizeof(tok), "%sR2k9vXq7LmN4pT8sW1yZ3bC6dF0gH5jK2aQe", prefixes[i]);
		snprintf(line, sizeof(line), "token: %s", tok);
		snprintf(shown, sizeof(shown), "%s****", prefixes[i]);
		expect_hit(line, "GitHub token", 8, shown, tok);
	}
	const char *pat = "github_pat_11ABCDEFG0123456789abc_"
	                  "xyzXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS";
	char line[200];
	snprintf(line, sizeof(line), "GH_TOKEN=%s", pat);
	expect_hit(line, "GitHub fine-grained token", 10, "gith****", pat);
	expect_none("ghp_short");
	expect_none("see https://github.com/ghp_docs for details");
	expect_none("ghx_R2k9vXq7LmN4pT8sW1yZ3bC6dF0gH5jK2aQe");
	expect_none("github_pat_");
}

static void test_gitlab_slack_stripe_google(void)
{
	expect_hit("CI_TOKEN=glpat-Xy3kP9mQ2rT7vW1zB4cD", "GitLab token", 10, "glpa****",
	           "glpat-Xy3kP9mQ2rT7vW1zB4cD");
	expect_none("glpat-short");
	expect_hit("SLACK=xoxb-2401234567-1234567890123-aBcDeFgHiJkLmNoPqRsTuVwX", "Slack token", 7,
	           "xoxb****", "xoxb-2401234567");
	expect_hit("xoxp-1234567890-abcdefghij", "Slack token", 1, "xoxp****", "xoxp-1234567890");
	expect_none("the xoxb-format-description-is-here");
	expect_hit("stripe.api_key = \"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"", "Stripe live key", 19,
	           "sk_l****", "sk_live_4eC39HqLyjWDarjtT1zdp7dc");
	expect_hit("rk_live_51H8abcdefghijklmnopqrstuvwx", "Stripe live key", 1, "rk_l****",
	           "rk_live_51H8abcdefghijklmnopqrstuvwx");
	expect_none("sk_test_4eC39HqLyjWDarjtT1zdp7dc");
	expect_none("sk_live_short");
	expect_hit("key=AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v", "Google API key", 5, "AIza****",
	           "AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v");
	expect_none("AIzaSyShort");
}

static void test_private_keys(void)
{
	const char *heads[] = {"-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----",
	                       "-----BEGIN OPENSSH PRIVATE KEY-----",
	                       "-----BEGIN EC PRIVATE KEY-----",
	                       "-----BEGIN ENCRYPTED PRIVATE KEY-----"};
	for (size_t i = 0; i < GG_ARRAY_LEN(heads); i++) {
		struct hits hs = scan(heads[i]);
		CHECK_INT(hs.n, 1);
		if (hs.n) {
			CHECK_STR(hs.h[0].kind, "private key block");
			CHECK_INT(hs.h[0].col, 1);
		}
	}
	expect_none("-----BEGIN CERTIFICATE-----");
	expect_none("-----BEGIN PUBLIC KEY-----");
	expect_none("----- BEGIN PRIVATE KEY -----");
}

static void test_several_on_one_line(void)
{
	struct hits hs = scan("a=AKIA2E0A8F3B244C9986 b=ghp_R2k9vXq7LmN4pT8sW1yZ3bC6dF0gH5jK2aQe");
	CHECK_INT(hs.n, 2);
	if (hs.n == 2) {
		CHECK_STR(hs.h[0].kind, "AWS access key id");
		CHECK_INT(hs.h[0].col, 3);
		CHECK_STR(hs.h[1].kind, "GitHub token");
		CHECK_INT(hs.h[1].col, 26);
	}
}

static void test_plain_text_has_none(void)
{
	expect_none("");
	expect_none("The quick brown fox jumps over the lazy dog; secrets are kept in vaults.");
	expect_none("static const char *gsx = \"sk_\"; // rk_ and AIza prefixes alone are fine");
	expect_none("-----BEGIN");
	/* A line cut right after a prefix must not read past its end. */
	const char *cut = "token ghp_";
	CHECK_INT(gg_secrets_scan_line(cut, strlen(cut), NULL, NULL), 0);
	CHECK_INT(gg_secrets_scan_line("AKIA2E0A8F3B244C9986", 10, NULL, NULL), 0);
}

static void test_binary(void)
{
	CHECK(gg_secrets_is_binary("ab\0cd", 5));
	CHECK(!gg_secrets_is_binary("abcd\n", 5));
	char *big = calloc(1, 9000);
	memset(big, 'a', 9000);
	big[8500] = '\0';
	CHECK(!gg_secrets_is_binary(big, 9000)); /* only the first 8000 bytes decide, like git */
	free(big);
}

struct bounds {
	size_t len;
	bool ok;
};

static void check_bounds(void *ctx, const gg_secret_hit *hit)
{
	struct bounds *b = ctx;
	if (hit->col < 1 || hit->col > b->len || strlen(hit->redacted) >= sizeof(hit->redacted))
		b->ok = false;
}

/* Pushed content is untrusted: random lines built from the detectors' own
 * prefixes and alphabets must never read out of bounds (ASan) or report a
 * column outside the line. */
static void test_garbage_lines(void)
{
	static const char *const parts[] = {"AKIA",
	                                    "ASIA",
	                                    "AIza",
	                                    "ghp_",
	                                    "github_pat_",
	                                    "glpat-",
	                                    "xoxb-",
	                                    "sk_live_",
	                                    "rk_live_",
	                                    "-----BEGIN ",
	                                    "PRIVATE KEY-----",
	                                    "secret_access_key",
	                                    "SECRET",
	                                    "A",
	                                    "g",
	                                    "x",
	                                    "s",
	                                    "r",
	                                    "-",
	                                    "0",
	                                    "Z",
	                                    "_",
	                                    " ",
	                                    "=",
	                                    "\xff",
	                                    "/",
	                                    "+"};
	unsigned seed = 12345;
	bool ok = true;
	for (int iter = 0; iter < 20000; iter++) {
		char line[256];
		size_t len = 0;
		seed = seed * 1103515245u + 12345u;
		int nparts = (int)(seed >> 16) % 12;
		for (int k = 0; k < nparts; k++) {
			seed = seed * 1103515245u + 12345u;
			const char *p = parts[(seed >> 16) % GG_ARRAY_LEN(parts)];
			size_t n = strlen(p);
			if (len + n >= sizeof(line))
				break;
			memcpy(line + len, p, n);
			len += n;
			seed = seed * 1103515245u + 12345u;
			size_t fill = (seed >> 16) % 48;
			for (size_t j = 0; j < fill && len < sizeof(line) - 1; j++) {
				seed = seed * 1103515245u + 12345u;
				line[len++] = (char)("ABCxyz019_-/+"[(seed >> 16) % 13]);
			}
		}
		/* Scan an exact-length copy on the heap so ASan sees any overread. */
		char *heap = gg_malloc(len ? len : 1);
		memcpy(heap, line, len);
		struct bounds b = {len, true};
		gg_secrets_scan_line(heap, len, check_bounds, &b);
		free(heap);
		ok = ok && b.ok;
	}
	CHECK(ok);
}

int main(void)
{
	RUN(test_aws_access_key_id);
	RUN(test_aws_secret_key);
	RUN(test_github_tokens);
	RUN(test_gitlab_slack_stripe_google);
	RUN(test_private_keys);
	RUN(test_several_on_one_line);
	RUN(test_plain_text_has_none);
	RUN(test_binary);
	RUN(test_garbage_lines);
	return TEST_DONE();
}
