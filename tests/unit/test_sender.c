/* Unit tests for the sender kinds: signatures, tokens, payload readers, matching. */
#include "../../daemon/sender.h"
#include "test.h"

#include "gitgate/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

#define AFTER  "1f2e3d4c5b6a79880716253443526170a9b8c7d6"
#define BEFORE "9a4b7c1e2f3d4a5b6c7d8e9f0a1b2c3d4e5f6a7b"

static char *payload(const char *name, size_t *len)
{
	const char *top = getenv("GG_TOP");
	char *path = gg_printf("%s/tests/data/payloads/%s", top ? top : ".", name);
	char *data = NULL;
	if (gg_read_file(&data, len, path, 1 << 20) < 0) {
		printf("#   cannot read %s\n", path);
		data = gg_strdup("");
		*len = 0;
	}
	free(path);
	return data;
}

static void sign_hex(char out[65], const char *key, const void *data, size_t len)
{
	unsigned char mac[32];
	unsigned int n = sizeof(mac);
	HMAC(EVP_sha256(), key, (int)strlen(key), data, len, mac, &n);
	gg_hex(out, mac, sizeof(mac));
}

static gg_dsource source(gg_source_kind kind, const char *secret)
{
	gg_dsource s = {.name = "src", .kind = kind, .secret = (char *)secret};
	s.secret_len = strlen(secret);
	return s;
}

static void test_github_json(void)
{
	size_t len;
	char *body = payload("github-push.json", &len);
	char sig[65], hdr[80];
	sign_hex(sig, "k3y", body, len);
	snprintf(hdr, sizeof(hdr), "sha256=%s", sig);
	gg_header h[] = {
	    {"x-hub-signature-256", hdr}, {"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-1"}};
	gg_dsource src = source(GG_SRC_GITHUB, "k3y");
	gg_sender_result r;
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_OK);
	CHECK_STR(r.delivery, "d-1");
	CHECK(r.is_push);
	CHECK_INT(r.npushes, 1);
	if (r.npushes == 1) {
		gg_push *p = &r.pushes[0];
		CHECK_STR(p->ref, "refs/heads/main");
		CHECK_STR(p->before, BEFORE);
		CHECK_STR(p->after, AFTER);
		CHECK_STR(p->repo, "acme/platform-config");
		CHECK_STR(p->clone_url, "https://github.com/acme/platform-config.git");
		CHECK_STR(p->pusher, "alice");
		CHECK(p->paths_known);
		CHECK_INT(p->npaths, 4);
		if (p->npaths == 4) {
			CHECK_STR(p->paths[0], "clusters/prod/api/deployment.yaml");
			CHECK_STR(p->paths[3], "clusters/staging/web/old.yaml");
		}
	}
	gg_sender_result_free(&r);

	/* Upper-case hex is the same signature. */
	for (char *c = hdr + 7; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 32);
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_OK);
	gg_sender_result_free(&r);

	/* One flipped bit in the body. */
	body[10] ^= 1;
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_UNAUTHORIZED);
	CHECK(r.delivery == NULL);
	CHECK(r.npushes == 0);
	gg_sender_result_free(&r);
	body[10] ^= 1;

	/* Other key, missing header, legacy sha1, truncated hex. */
	gg_dsource other = source(GG_SRC_GITHUB, "k3y2");
	CHECK_INT(gg_sender_handle(&r, &other, h, 3, body, len, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h + 1, 2, body, len, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	h[0].value = "sha1=0123456789012345678901234567890123456789";
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	hdr[70] = '\0';
	h[0].value = hdr;
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	free(body);
}

static void test_github_form_ping_and_missing_delivery(void)
{
	const char *form = "payload=%7B%22zen%22%3A+%22Keep+it+logically+awesome.%22%7D&x=1";
	char sig[65], hdr[80];
	sign_hex(sig, "k", form, strlen(form));
	snprintf(hdr, sizeof(hdr), "sha256=%s", sig);
	gg_header h[] = {{"X-Hub-Signature-256", hdr},
	                 {"X-GitHub-Event", "ping"},
	                 {"Content-Type", "application/x-www-form-urlencoded"},
	                 {"X-GitHub-Delivery", "p-1"}};
	gg_dsource src = source(GG_SRC_GITHUB, "k");
	gg_sender_result r;
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, form, strlen(form), 0), GG_SENDER_OK);
	CHECK(!r.is_push);
	CHECK_STR(r.event, "ping");
	CHECK_INT(r.npushes, 0);
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, form, strlen(form), 0), GG_SENDER_BAD_REQUEST);
	CHECK_STR(r.error, "missing delivery id header");
	gg_sender_result_free(&r);
	h[3].value = "has space";
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, form, strlen(form), 0), GG_SENDER_BAD_REQUEST);
	gg_sender_result_free(&r);
}

static void test_gitlab_token_and_truncation(void)
{
	size_t len;
	char *body = payload("gitlab-push-truncated.json", &len);
	gg_header h[] = {{"X-Gitlab-Token", "tok"},
	                 {"X-Gitlab-Event", "Push Hook"},
	                 {"Idempotency-Key", "ik-1"}};
	gg_dsource src = source(GG_SRC_GITLAB, "tok");
	gg_sender_result r;
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_OK);
	CHECK_STR(r.delivery, "ik-1");
	CHECK_INT(r.npushes, 1);
	if (r.npushes == 1) {
		CHECK_STR(r.pushes[0].repo, "acme/platform-config");
		CHECK_STR(r.pushes[0].pusher, "alice");
		CHECK(!r.pushes[0].paths_known); /* 25 commits, 1 listed */
	}
	gg_sender_result_free(&r);
	h[0].value = "to";
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	h[0].value = "tok ";
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	free(body);
	body = payload("gitlab-push.json", &len);
	h[0].value = "tok";
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_OK);
	CHECK(r.npushes == 1 && r.pushes[0].paths_known && r.pushes[0].npaths == 1);
	gg_sender_result_free(&r);
	/* Without X-Gitlab-Event the body's object_kind decides. */
	CHECK_INT(gg_sender_handle(
	              &r, &src, (gg_header[]){{"X-Gitlab-Token", "tok"}, {"Idempotency-Key", "x"}},
	              2, body, len, 0),
	          GG_SENDER_OK);
	CHECK(r.is_push);
	gg_sender_result_free(&r);
	free(body);
}

static void sw_sign(char *out, size_t outlen, const unsigned char *key, size_t klen, const char *id,
                    const char *ts, const char *body)
{
	char *msg = gg_printf("%s.%s.%s", id, ts, body);
	unsigned char mac[32];
	unsigned int n = sizeof(mac);
	HMAC(EVP_sha256(), key, (int)klen, (unsigned char *)msg, strlen(msg), mac, &n);
	unsigned char b64[64];
	EVP_EncodeBlock(b64, mac, 32);
	snprintf(out, outlen, "v1,%s", b64);
	free(msg);
}

static void test_gitlab_standard_webhooks(void)
{
	const char *body =
	    "{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\",\"before\":\"" BEFORE
	    "\",\"after\":\"" AFTER "\",\"project\":{\"path_with_namespace\":\"a/b\"},"
	    "\"commits\":[]}";
	unsigned char key[] = "0123456789abcdef0123456789abcdef";
	gg_dsource src = source(GG_SRC_GITLAB, "tok");
	src.signing_key = key;
	src.signing_key_len = 32;
	char sig[128], both[300], ts[32];
	time_t now = 1763630000;
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	sw_sign(sig, sizeof(sig), key, 32, "msg_1", ts, body);
	gg_header h[] = {{"X-Gitlab-Token", "tok"},
	                 {"webhook-id", "msg_1"},
	                 {"webhook-timestamp", ts},
	                 {"webhook-signature", sig}};
	gg_sender_result r;
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now), GG_SENDER_OK);
	CHECK_STR(r.delivery, "msg_1");
	CHECK(r.npushes == 1 && !r.pushes[0].paths_known); /* empty commit list */
	gg_sender_result_free(&r);
	/* Within 5 minutes either way, not beyond. */
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now + 300), GG_SENDER_OK);
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now - 300), GG_SENDER_OK);
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now + 301),
	          GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now - 301),
	          GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	/* Several signatures, one valid. */
	snprintf(both, sizeof(both), "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v2,xyz %s",
	         sig);
	h[3].value = both;
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now), GG_SENDER_OK);
	gg_sender_result_free(&r);
	/* Only wrong ones, garbage, or none. */
	h[3].value = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1,!!!! v1,";
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now),
	          GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, strlen(body), now),
	          GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	/* The signature binds the id. */
	h[3].value = sig;
	h[1].value = "msg_2";
	CHECK_INT(gg_sender_handle(&r, &src, h, 4, body, strlen(body), now),
	          GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
	/*
	 * A replay with a fresh, unsigned Idempotency-Key is still the signed
	 * webhook-id's delivery, so the store recognises it.
	 */
	h[1].value = "msg_1";
	gg_header h5[] = {h[0], h[1], h[2], h[3], {"Idempotency-Key", "fresh-key-1"}};
	CHECK_INT(gg_sender_handle(&r, &src, h5, 5, body, strlen(body), now), GG_SENDER_OK);
	CHECK_STR(r.delivery, "msg_1");
	gg_sender_result_free(&r);
	/* Without a signing key, Idempotency-Key (stable across GitLab's retries) is the id. */
	src.signing_key = NULL;
	CHECK_INT(gg_sender_handle(&r, &src, h5, 5, body, strlen(body), now), GG_SENDER_OK);
	CHECK_STR(r.delivery, "fresh-key-1");
	gg_sender_result_free(&r);
}

/* Ref names by git's check-ref-format rules, and no component that reads as an option. */
static void test_ref_names(void)
{
	static const char *const good[] = {
	    "refs/heads/main",        "refs/heads/feature/x-1", "refs/tags/v1.2.3",
	    "refs/heads/caf\xc3\xa9", "refs/heads/a-",          "refs/heads/a.b",
	    "refs/heads/x@y",
	};
	static const char *const bad[] = {
	    "main",
	    "refs/heads/--upload-pack=touch${IFS}pwned;false",
	    "refs/heads/-x",
	    "refs/heads/a/-x",
	    "refs/heads/.hidden",
	    "refs/heads/a/.b",
	    "refs/heads/a..b",
	    "refs/heads/a//b",
	    "refs/heads/a/",
	    "refs/heads/a.",
	    "refs/heads/a.lock",
	    "refs/heads/a@{1}",
	    "refs/heads/@",
	    "refs/heads/a b",
	    "refs/heads/a~1",
	    "refs/heads/a^",
	    "refs/heads/a:b",
	    "refs/heads/a?",
	    "refs/heads/a*",
	    "refs/heads/a[",
	    "refs/heads/a\\b",
	    "refs/heads/a\tb",
	    "refs/heads/a\x1b[31m",
	    "refs/heads/a\x7f",
	    "refs/heads/a\xc2\x9b",
	    "refs/heads/a\xff",
	    "refs/heads/a\xc0\xaf",
	    "refs/heads/a\xed\xa0\x80",
	};
	for (size_t i = 0; i < GG_ARRAY_LEN(good); i++)
		if (!gg_ref_valid(good[i])) {
			printf("#   refused: %s\n", good[i]);
			t_case_failed = 1;
		}
	for (size_t i = 0; i < GG_ARRAY_LEN(bad); i++)
		if (gg_ref_valid(bad[i])) {
			printf("#   accepted: %s\n", bad[i]);
			t_case_failed = 1;
		}
	char *longref = gg_malloc(GG_SENDER_MAX_REF + 2);
	memcpy(longref, "refs/heads/", 11);
	memset(longref + 11, 'a', GG_SENDER_MAX_REF + 1 - 11);
	longref[GG_SENDER_MAX_REF + 1] = '\0';
	CHECK(!gg_ref_valid(longref));
	free(longref);

	/* A payload with such a ref is a bad request. */
	const char *body = "{\"ref\":\"refs/heads/--upload-pack=x\",\"before\":\"" BEFORE
	                   "\",\"after\":\"" AFTER "\",\"repository\":{\"full_name\":\"a/b\"}}";
	gg_sender_result r = {0};
	CHECK_INT(gg_sender_parse(&r, GG_SRC_GITHUB, "push", body, strlen(body)),
	          GG_SENDER_BAD_REQUEST);
	CHECK(r.error && strstr(r.error, "check-ref-format"));
	gg_sender_result_free(&r);
	/* So is a Bitbucket branch name that makes one. */
	const char *cloud =
	    "{\"repository\":{\"full_name\":\"a/b\"},\"push\":{\"changes\":[{"
	    "\"new\":{\"name\":\"-x\",\"type\":\"branch\",\"target\":{\"hash\":\"" AFTER "\"}}}]}}";
	CHECK_INT(gg_sender_parse(&r, GG_SRC_BITBUCKET, "repo:push", cloud, strlen(cloud)),
	          GG_SENDER_BAD_REQUEST);
	gg_sender_result_free(&r);
	/* Control characters in the pusher or repository name are refused too. */
	const char *esc =
	    "{\"ref\":\"refs/heads/main\",\"before\":\"" BEFORE "\",\"after\":\"" AFTER
	    "\",\"repository\":{\"full_name\":\"a/b\"},\"pusher\":{\"name\":"
	    "\"x\\u001b]0;t\\u0007\"}}";
	CHECK_INT(gg_sender_parse(&r, GG_SRC_GITHUB, "push", esc, strlen(esc)),
	          GG_SENDER_BAD_REQUEST);
	gg_sender_result_free(&r);
}

/* Tokens compare equal only when equal, whatever their lengths (no early exit on length). */
static void test_secure_equal(void)
{
	CHECK(gg_secure_equal("token", 5, "token", 5));
	CHECK(!gg_secure_equal("token", 5, "tokex", 5));
	CHECK(!gg_secure_equal("tok", 3, "token", 5));
	CHECK(!gg_secure_equal("token", 5, "token\0", 6));
	CHECK(!gg_secure_equal("", 0, "x", 1));
	CHECK(gg_secure_equal("", 0, "", 0));
	/* A GitLab token that is a prefix of the secret is refused. */
	gg_dsource src = source(GG_SRC_GITLAB, "gitlab-token");
	gg_header h[] = {{"X-Gitlab-Token", "gitlab"}, {"Idempotency-Key", "k"}};
	gg_sender_result r;
	CHECK_INT(gg_sender_handle(&r, &src, h, 2, "{}", 2, 0), GG_SENDER_UNAUTHORIZED);
	gg_sender_result_free(&r);
}

static void test_delivery_ids(void)
{
	CHECK(gg_delivery_valid("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
	CHECK(gg_delivery_valid("{8d4c1f5e-0c8a-4a5e-9a51-2f0c6a3b7d11}"));
	CHECK(gg_delivery_valid("msg_2b"));
	CHECK(gg_delivery_valid("a.b:c"));
	CHECK(!gg_delivery_valid("-x"));
	CHECK(!gg_delivery_valid("--upload-pack=x"));
	CHECK(!gg_delivery_valid("a b"));
	CHECK(!gg_delivery_valid("a$(x)"));
	CHECK(!gg_delivery_valid("a/b"));
	CHECK(!gg_delivery_valid(""));
	char id[GG_SENDER_MAX_DELIVERY + 2];
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	CHECK(!gg_delivery_valid(id));
	id[GG_SENDER_MAX_DELIVERY] = '\0';
	CHECK(gg_delivery_valid(id));
}

static void test_gitea_family(void)
{
	static const struct {
		gg_source_kind kind;
		const char *file, *sig, *delivery;
	} cases[] = {
	    {GG_SRC_GITEA, "gitea-push.json", "X-Gitea-Signature", "X-Gitea-Delivery"},
	    {GG_SRC_FORGEJO, "forgejo-push.json", "X-Forgejo-Signature", "X-Forgejo-Delivery"},
	    {GG_SRC_GOGS, "gogs-push.json", "X-Gogs-Signature", "X-Gogs-Delivery"},
	};
	for (size_t i = 0; i < GG_ARRAY_LEN(cases); i++) {
		size_t len;
		char *body = payload(cases[i].file, &len);
		char sig[65];
		sign_hex(sig, "s", body, len);
		gg_header h[] = {{cases[i].sig, sig}, {cases[i].delivery, "g-1"}};
		gg_dsource src = source(cases[i].kind, "s");
		gg_sender_result r;
		CHECK_INT(gg_sender_handle(&r, &src, h, 2, body, len, 0), GG_SENDER_OK);
		CHECK(r.npushes == 1 && r.pushes[0].pusher &&
		      strcmp(r.pushes[0].pusher, "alice") == 0);
		gg_sender_result_free(&r);
		/* Form body: the signature is over the JSON inside. */
		gg_buf form = GG_BUF_INIT;
		gg_buf_puts(&form, "payload=");
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)body[k];
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9'))
				gg_buf_putc(&form, (char)c);
			else
				gg_buf_printf(&form, "%%%02X", c);
		}
		gg_header hf[] = {{cases[i].sig, sig},
		                  {cases[i].delivery, "g-2"},
		                  {"Content-Type", "application/x-www-form-urlencoded"}};
		CHECK_INT(gg_sender_handle(&r, &src, hf, 3, form.ptr, form.len, 0), GG_SENDER_OK);
		gg_sender_result_free(&r);
		gg_buf_free(&form);
		/* GitHub's prefixed form is not theirs. */
		char pre[80];
		snprintf(pre, sizeof(pre), "sha256=%s", sig);
		h[0].value = pre;
		CHECK_INT(gg_sender_handle(&r, &src, h, 2, body, len, 0), GG_SENDER_UNAUTHORIZED);
		gg_sender_result_free(&r);
		free(body);
	}
}

static void test_bitbucket(void)
{
	size_t len;
	char *body = payload("bitbucket-cloud-push.json", &len);
	char sig[65], hdr[80];
	sign_hex(sig, "b", body, len);
	snprintf(hdr, sizeof(hdr), "sha256=%s", sig);
	gg_header h[] = {
	    {"X-Hub-Signature", hdr}, {"X-Event-Key", "repo:push"}, {"X-Request-UUID", "u-1"}};
	gg_dsource src = source(GG_SRC_BITBUCKET, "b");
	gg_sender_result r;
	CHECK_INT(gg_sender_handle(&r, &src, h, 3, body, len, 0), GG_SENDER_OK);
	CHECK_STR(r.delivery, "u-1");
	CHECK_INT(r.npushes, 2);
	if (r.npushes == 2) {
		CHECK_STR(r.pushes[0].ref, "refs/heads/main");
		CHECK_STR(r.pushes[0].after, AFTER);
		CHECK_STR(r.pushes[0].before, BEFORE);
		CHECK_STR(r.pushes[0].pusher, "alice");
		CHECK(!r.pushes[0].paths_known);
		CHECK_STR(r.pushes[1].ref, "refs/heads/feature/old");
		CHECK(gg_is_zero_id(r.pushes[1].after)); /* new: null is a delete */
	}
	gg_sender_result_free(&r);
	CHECK_INT(gg_sender_handle(&r, &src, h, 2, body, len, 0), GG_SENDER_BAD_REQUEST);
	gg_sender_result_free(&r);
	free(body);

	body = payload("bitbucket-dc-refs-changed.json", &len);
	sign_hex(sig, "b", body, len);
	snprintf(hdr, sizeof(hdr), "sha256=%s", sig);
	gg_header hd[] = {{"X-Hub-Signature", hdr},
	                  {"X-Event-Key", "repo:refs_changed"},
	                  {"X-Request-Id", "r-1"}};
	CHECK_INT(gg_sender_handle(&r, &src, hd, 3, body, len, 0), GG_SENDER_OK);
	CHECK_STR(r.delivery, "r-1");
	CHECK(r.npushes == 1);
	if (r.npushes == 1) {
		CHECK_STR(r.pushes[0].repo, "ACME/platform-config");
		CHECK_STR(r.pushes[0].clone_url,
		          "https://bitbucket.example.com/scm/acme/platform-config.git");
	}
	gg_sender_result_free(&r);
	hd[1].value = "diagnostics:ping";
	CHECK_INT(gg_sender_handle(&r, &src, hd, 3, body, len, 0), GG_SENDER_OK);
	CHECK(!r.is_push && r.npushes == 0);
	gg_sender_result_free(&r);
	free(body);
}

static void test_parse_refuses_malformed(void)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"ref\": 1}",
	    "{\"ref\":\"main\",\"before\":\"" BEFORE "\",\"after\":\"" AFTER
	    "\",\"repository\":{\"full_name\":\"a/b\"}}",
	    "{\"ref\":\"refs/heads/main\",\"before\":\"xyz\",\"after\":\"" AFTER
	    "\",\"repository\":{\"full_name\":\"a/b\"}}",
	    "{\"ref\":\"refs/heads/main\",\"before\":\"" BEFORE "\",\"after\":\"" AFTER "\"}",
	    "{\"ref\":\"refs/heads/main\",\"ref\":\"refs/heads/x\"}",
	};
	for (size_t i = 0; i < GG_ARRAY_LEN(bad); i++) {
		gg_sender_result r = {0};
		CHECK_INT(gg_sender_parse(&r, GG_SRC_GITHUB, "push", bad[i], strlen(bad[i])),
		          GG_SENDER_BAD_REQUEST);
		CHECK(r.error != NULL);
		gg_sender_result_free(&r);
	}
	const char *cloud = "{\"push\":{\"changes\":[{\"new\":{\"name\":\"x\"}}]}}";
	gg_sender_result r = {0};
	CHECK_INT(gg_sender_parse(&r, GG_SRC_BITBUCKET, "repo:push", cloud, strlen(cloud)),
	          GG_SENDER_BAD_REQUEST);
	gg_sender_result_free(&r);
}

static void test_matching(void)
{
	char *paths[] = {"clusters/prod/api.yaml", "README.md"};
	gg_push p = {.ref = "refs/heads/main",
	             .repo = "acme/platform-config",
	             .after = AFTER,
	             .paths = paths,
	             .npaths = 2,
	             .paths_known = true};
	char *tp[] = {"clusters/prod/**"};
	char *other[] = {"docs/**"};
	gg_dtarget t = {.name = "t", .repo = "acme/*", .ref = "refs/heads/main"};
	CHECK(gg_push_matches(&t, "gh", &p));
	t.source = "gl";
	CHECK(!gg_push_matches(&t, "gh", &p));
	t.source = "gh";
	CHECK(gg_push_matches(&t, "gh", &p));
	t.repo = "acme/other";
	CHECK(!gg_push_matches(&t, "gh", &p));
	t.repo = "**";
	t.ref = "refs/tags/*";
	CHECK(!gg_push_matches(&t, "gh", &p));
	t.ref = "refs/heads/*";
	t.paths = tp;
	t.npaths = 1;
	CHECK(gg_push_matches(&t, "gh", &p));
	t.paths = other;
	CHECK(!gg_push_matches(&t, "gh", &p));
	p.paths_known = false; /* cannot be ruled out */
	CHECK(gg_push_matches(&t, "gh", &p));
	CHECK(gg_is_zero_id("0000000000000000000000000000000000000000"));
	CHECK(!gg_is_zero_id(AFTER));
	CHECK(!gg_is_zero_id(""));
}

int main(void)
{
	RUN(test_github_json);
	RUN(test_github_form_ping_and_missing_delivery);
	RUN(test_gitlab_token_and_truncation);
	RUN(test_gitlab_standard_webhooks);
	RUN(test_gitea_family);
	RUN(test_bitbucket);
	RUN(test_parse_refuses_malformed);
	RUN(test_matching);
	RUN(test_ref_names);
	RUN(test_delivery_ids);
	RUN(test_secure_equal);
	return TEST_DONE();
}
