#include "gitgate/glob.h"
#include "gitgate/policy.h"
#include "gitgate/secrets.h"
#include "gitgate/util.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static int load(gg_policy **p, gg_diag *d, const char *text)
{
	return gg_policy_parse(p, "policy.yaml", text, strlen(text), d);
}

/* True when some message in d is exactly want. */
static bool has_msg(const gg_diag *d, const char *want)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->msgs[i], want))
			return true;
	for (size_t i = 0; i < d->n; i++)
		printf("#   got: %s\n", d->msgs[i]);
	return false;
}

static bool has_prefix_msg(const gg_diag *d, const char *want)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strncmp(d->msgs[i], want, strlen(want)))
			return true;
	for (size_t i = 0; i < d->n; i++)
		printf("#   got: %s\n", d->msgs[i]);
	return false;
}

static void test_full_policy_loads(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	int rc = load(&p, &d,
	              "version: 1\n"
	              "mode: warn\n"
	              "refs:\n"
	              "  - match: [\"refs/heads/main\", \"refs/heads/release/*\"]\n"
	              "    deny_delete: true\n"
	              "    deny_force_push: true\n"
	              "  - match: \"refs/tags/*\"\n"
	              "    deny_update: true\n"
	              "  - match: \"refs/heads/*\"\n"
	              "    name_pattern: '^refs/heads/[a-z0-9._/-]+$'\n"
	              "commits:\n"
	              "  message_pattern: '^(feat|fix)(\\([a-z0-9-]+\\))?: .+'\n"
	              "  max_subject_length: 72\n"
	              "  author_email_pattern: '@example\\.com$'\n"
	              "  require_signoff: true\n"
	              "files:\n"
	              "  max_size: 1MiB\n"
	              "  deny_paths: [\"**/*.pem\", \"**/.env\"]\n"
	              "  secrets: true\n"
	              "bypass:\n"
	              "  users: [release-bot]\n");
	CHECK_INT(rc, 0);
	CHECK_INT(d.n, 0);
	if (p) {
		CHECK_INT(p->version, 1);
		CHECK_INT(p->mode, GG_MODE_WARN);
		CHECK_INT(p->nrefs, 3);
		CHECK_INT(p->refs[0].nmatch, 2);
		CHECK_STR(p->refs[0].match[1], "refs/heads/release/*");
		CHECK(p->refs[0].deny_delete && p->refs[0].deny_force_push);
		CHECK(!p->refs[0].deny_update);
		CHECK_INT(p->refs[1].nmatch, 1);
		CHECK(p->refs[1].deny_update);
		CHECK_INT(p->refs[1].line, 7);
		CHECK(p->refs[2].name_pattern != NULL);
		CHECK(p->commits.message_pattern != NULL);
		CHECK(gg_regex_exec(p->commits.message_pattern, "feat(api): x", 12) ==
		      GG_REGEX_MATCH);
		CHECK_INT(p->commits.max_subject_length, 72);
		CHECK(p->commits.require_signoff);
		CHECK_INT(p->files.max_size, 1024 * 1024);
		CHECK_INT(p->files.ndeny_paths, 2);
		CHECK(p->files.secrets);
		CHECK_INT(p->nbypass_users, 1);
		CHECK_STR(p->bypass_users[0], "release-bot");
	}
	gg_policy_free(p);
	gg_diag_free(&d);
}

static void test_unknown_key_at_its_position(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d, "version: 1\ncommits:\n  max_subjet_length: 50\n"), -1);
	CHECK(p == NULL);
	CHECK_INT(d.n, 1);
	CHECK(has_prefix_msg(&d, "policy.yaml:3:3: unknown key 'max_subjet_length' in commits "
	                         "(expected one of: message_pattern,"));
	gg_diag_free(&d);
}

static void test_unknown_top_level_and_ref_keys(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d,
	               "version: 1\nfile:\n  secrets: true\nrefs:\n  - match: x\n    deny_delet: "
	               "true\n"),
	          -1);
	CHECK_INT(d.n, 2);
	CHECK(has_prefix_msg(
	    &d, "policy.yaml:2:1: unknown key 'file' in policy (expected one of: version, mode,"));
	CHECK(has_prefix_msg(
	    &d, "policy.yaml:6:5: unknown key 'deny_delet' in refs[0] (expected one of: match,"));
	gg_diag_free(&d);
}

static void test_bad_regex_with_position(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d, "version: 1\ncommits:\n  message_pattern: '^(feat|fix'\n"), -1);
	CHECK_INT(d.n, 1);
	CHECK(has_prefix_msg(&d, "policy.yaml:3:20: commits.message_pattern: invalid regular "
	                         "expression '^(feat|fix' at offset 10:"));
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "version: 1\nrefs:\n  - match: '*'\n    name_pattern: '[a-'\n"), -1);
	CHECK(has_prefix_msg(&d, "policy.yaml:4:19: refs[0].name_pattern: invalid regular"));
	gg_diag_free(&d);
}

static void test_bad_size(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  max_size: 1 megabyte\n"), -1);
	CHECK(has_prefix_msg(&d, "policy.yaml:3:13: files.max_size: expected a size"));
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  max_size: 0\n"), -1);
	CHECK_INT(d.n, 1);
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  max_size: 2048\n"), 0);
	CHECK(p && p->files.max_size == 2048);
	gg_policy_free(p);
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  max_size: 512KiB\n"), 0);
	CHECK(p && p->files.max_size == 512 * 1024);
	gg_policy_free(p);
	gg_diag_free(&d);
}

static void test_wrong_types(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d,
	               "version: 1\n"
	               "mode: strict\n"
	               "refs:\n"
	               "  - match: [1]\n"
	               "    deny_delete: yes\n"
	               "commits:\n"
	               "  max_subject_length: -3\n"
	               "  require_signoff: 'true'\n"
	               "files:\n"
	               "  deny_paths: \"**/*.pem\"\n"
	               "  secrets: [true]\n"
	               "bypass:\n"
	               "  users: release-bot\n"),
	          -1);
	CHECK(has_msg(&d, "policy.yaml:2:7: mode: expected 'enforce' or 'warn', got 'strict'"));
	CHECK(has_msg(&d, "policy.yaml:4:13: refs[0].match[0]: expected a non-empty string, got "
	                  "number"));
	CHECK(has_msg(&d, "policy.yaml:5:18: refs[0].deny_delete: expected true or false, got "
	                  "string"));
	CHECK(has_prefix_msg(&d, "policy.yaml:7:23: commits.max_subject_length: expected a "
	                         "positive whole number"));
	CHECK(has_msg(&d, "policy.yaml:8:20: commits.require_signoff: expected true or false, got "
	                  "string"));
	CHECK(has_msg(&d, "policy.yaml:10:15: files.deny_paths: expected a list of strings, got "
	                  "string"));
	CHECK(has_msg(&d, "policy.yaml:11:12: files.secrets: expected true, false or a mapping "
	                  "(generic, config, allow_inline), got list"));
	CHECK(has_msg(&d, "policy.yaml:13:10: bypass.users: expected a list of strings, got "
	                  "string"));
	/* All of them, not just the first. */
	CHECK_INT(d.n, 8);
	gg_diag_free(&d);
}

static void test_version_required(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d, "mode: warn\n"), -1);
	CHECK(has_msg(&d, "policy.yaml:1:1: 'version: 1' is required"));
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "version: 2\n"), -1);
	CHECK(has_msg(&d, "policy.yaml:1:10: version: only version 1 is supported, got '2'"));
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, ""), -1);
	CHECK_INT(d.n, 1);
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "- version: 1\n"), -1);
	CHECK_INT(d.n, 1);
	gg_diag_free(&d);
}

static void test_ref_match_required(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d, "version: 1\nrefs:\n  - deny_delete: true\n  - match: []\n"), -1);
	CHECK(has_msg(&d, "policy.yaml:3:5: refs[0]: 'match' is required"));
	CHECK(has_msg(&d, "policy.yaml:4:12: refs[1].match: needs at least one glob"));
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "version: 1\nrefs:\n  - match: ''\n"), -1);
	CHECK(has_msg(&d, "policy.yaml:3:12: refs[0].match: expected a non-empty string"));
	gg_diag_free(&d);
}

static void test_yaml_errors_and_duplicates(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n\tsecrets: true\n"), -1);
	CHECK(d.n >= 1 && !strncmp(d.msgs[0], "policy.yaml:3:", 14));
	gg_diag_free(&d);
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  secrets: false\n  secrets: true\n"), -1);
	CHECK(has_prefix_msg(&d, "policy.yaml:4:3:"));
	gg_diag_free(&d);
}

static void test_load_missing_file(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(gg_policy_load(&p, "/nonexistent/policy.yaml", &d), -1);
	CHECK(has_msg(&d, "/nonexistent/policy.yaml: No such file or directory"));
	gg_diag_free(&d);
}

static void test_glob_edges(void)
{
	CHECK(gg_glob_match("**/.env", ".env"));
	CHECK(gg_glob_match("**/.env", "a/b/.env"));
	CHECK(!gg_glob_match("**/.env", "a/b/.envrc"));
	CHECK(gg_glob_match("**/id_rsa", "home/u/.ssh/id_rsa"));
	CHECK(!gg_glob_match("**/id_rsa", "id_rsa.pub"));
	CHECK(gg_glob_match("refs/heads/release/*", "refs/heads/release/1.2"));
	CHECK(!gg_glob_match("refs/heads/release/*", "refs/heads/release/1.2/x"));
	CHECK(gg_glob_match("refs/heads/**", "refs/heads/a/b/c"));
	CHECK(gg_glob_match("secrets/**", "secrets/x"));
	CHECK(gg_glob_match("a/**/b", "a/b"));
	CHECK(gg_glob_match("a/**/b", "a/x/y/b"));
	CHECK(!gg_glob_match("a/**/b", "a/x/yb"));
	CHECK(gg_glob_match("*.pem", "key.pem"));
	CHECK(!gg_glob_match("*.pem", "dir/key.pem"));
	CHECK(gg_glob_match("[!.]*", "file"));
	CHECK(!gg_glob_match("[!.]*", ".hidden"));
	CHECK(gg_glob_match("v[0-9].?", "v1.x"));
	CHECK(gg_glob_match("\\*", "*"));
	CHECK(!gg_glob_match("\\*", "a"));
	CHECK(gg_glob_match("", ""));
	CHECK(!gg_glob_match("", "a"));
}

/* Mangled policies (bytes dropped, swapped or replaced) load or fail with
 * positioned messages; they never crash (run under ASan by make test SANITIZE=1). */
static void test_mangled_policies(void)
{
	static const char base[] = "version: 1\n"
	                           "mode: warn\n"
	                           "refs:\n"
	                           "  - match: [\"refs/heads/main\", \"refs/tags/*\"]\n"
	                           "    deny_delete: true\n"
	                           "    name_pattern: '^refs/heads/[a-z]+$'\n"
	                           "commits:\n"
	                           "  message_pattern: '^(feat|fix): .+'\n"
	                           "  max_subject_length: 72\n"
	                           "files:\n"
	                           "  max_size: 1MiB\n"
	                           "  deny_paths: [\"**/*.pem\"]\n"
	                           "  secrets: true\n"
	                           "bypass: {users: [bot]}\n";
	static const char junk[] = "-:[]{}'\"\t\n #&*!|>%@`0aZ\\(";
	unsigned seed = 99;
	bool ok = true;
	for (int iter = 0; iter < 3000; iter++) {
		char buf[sizeof(base)];
		memcpy(buf, base, sizeof(base));
		size_t len = sizeof(base) - 1;
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			buf[at] = junk[(seed >> 8) % (sizeof(junk) - 1)];
		}
		gg_policy *p = NULL;
		gg_diag d = GG_DIAG_INIT;
		int rc = gg_policy_parse(&p, "m.yaml", buf, len, &d);
		if (rc == 0)
			ok = ok && p != NULL && d.n == 0;
		else
			ok = ok && p == NULL && d.n > 0 && !strncmp(d.msgs[0], "m.yaml:", 7);
		gg_policy_free(p);
		gg_diag_free(&d);
	}
	CHECK(ok);
}

static void test_deletion_users(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK(load(&p, &d,
	           "version: 1\nmanifests:\n  deny_deletion: true\n  deletions:\n"
	           "    allow_users: [ops, release-bot]\nbypass: {users: [x]}\n") == 0);
	if (p) {
		CHECK(p->deletion_users_set);
		CHECK_INT(p->ndeletion_users, 2);
		CHECK_STR(p->deletion_users[1], "release-bot");
	}
	gg_policy_free(p);
	p = NULL;
	CHECK(load(&p, &d, "version: 1\nmanifests:\n  deny_deletion: true\n") == 0);
	if (p)
		CHECK(!p->deletion_users_set);
	gg_policy_free(p);
	p = NULL;
	gg_diag_free(&d);
	d = (gg_diag)GG_DIAG_INIT;
	CHECK(load(&p, &d,
	           "version: 1\nmanifests:\n  deletions:\n    allow: [ops]\n"
	           "    allow_users: ops\n") < 0);
	CHECK(has_prefix_msg(&d, "policy.yaml:4:5: unknown key 'allow' in manifests.deletions"));
	CHECK(has_prefix_msg(
	    &d, "policy.yaml:5:18: manifests.deletions.allow_users: expected a list of strings"));
	gg_diag_free(&d);
}

/* `secrets:` as a map: the generic rule's level, inline allows, a gitleaks config beside the
 * policy. */
static void test_secrets_map(void)
{
	gg_policy *p = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(
	    load(&p, &d, "version: 1\nfiles:\n  secrets: {generic: warning, allow_inline: true}\n"),
	    0);
	CHECK(p && p->files.secrets && gg_secrets_allow_inline(p->files.secrets));
	gg_policy_free(p);
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  secrets: false\n"), 0);
	CHECK(p && p->files.secrets == NULL);
	gg_policy_free(p);
	CHECK_INT(load(&p, &d, "version: 1\nfiles:\n  secrets: {generic: loud, allow: 1}\n"), -1);
	CHECK(has_msg(&d,
	              "policy.yaml:3:22: files.secrets.generic: expected error, warning or off, "
	              "got 'loud'"));
	CHECK(has_prefix_msg(&d, "policy.yaml:3:28: unknown key 'allow' in files.secrets"));
	gg_diag_free(&d);
	char dir[] = "/tmp/gg-policy-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char *toml = gg_printf("%s/gitleaks.toml", dir), *pol = gg_printf("%s/policy.yaml", dir);
	FILE *f = fopen(toml, "w");
	fputs("[[rules]]\nid = \"x\"\nregex = '(bad'\n", f);
	fclose(f);
	f = fopen(pol, "w");
	fputs("version: 1\nfiles:\n  secrets:\n    config: gitleaks.toml\n", f);
	fclose(f);
	CHECK_INT(gg_policy_load(&p, pol, &d), -1);
	char *want = gg_printf("%s:3: rule 'x': regex: missing closing parenthesis", toml);
	CHECK(has_prefix_msg(&d, want));
	free(want);
	want = gg_printf("%s:4:13: files.secrets.config: '%s' has the errors above", pol, toml);
	CHECK(has_msg(&d, want));
	free(want);
	gg_diag_free(&d);
	f = fopen(toml, "w");
	fputs("[extend]\nuseDefault = true\n[[rules]]\nid = \"x\"\nregex = 'acme_[0-9]{8}'\n", f);
	fclose(f);
	CHECK_INT(gg_policy_load(&p, pol, &d), 0);
	gg_policy_free(p);
	unlink(toml);
	unlink(pol);
	rmdir(dir);
	free(toml);
	free(pol);
	gg_diag_free(&d);
}

int main(void)
{
	RUN(test_full_policy_loads);
	RUN(test_unknown_key_at_its_position);
	RUN(test_unknown_top_level_and_ref_keys);
	RUN(test_bad_regex_with_position);
	RUN(test_bad_size);
	RUN(test_wrong_types);
	RUN(test_version_required);
	RUN(test_ref_match_required);
	RUN(test_yaml_errors_and_duplicates);
	RUN(test_load_missing_file);
	RUN(test_glob_edges);
	RUN(test_mangled_policies);
	RUN(test_deletion_users);
	RUN(test_secrets_map);
	return TEST_DONE();
}
