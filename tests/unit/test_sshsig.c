/*
 * The SSH signature verifier and the allowed-signers parser, against keys
 * and signatures made here by the real ssh-keygen.
 */
#include "gitgate/signers.h"
#include "gitgate/sshsig.h"
#include "gitgate/util.h"
#include "test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/gg-sshsig-XXXXXX";

static int sh(const char *fmt, ...) GG_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = gg_vprintf(fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

static char *slurp(const char *name, size_t *len)
{
	char *path = gg_printf("%s/%s", tmp, name);
	char *data = NULL;
	size_t n = 0;
	if (gg_read_file(&data, &n, path, 1 << 24) < 0)
		data = NULL;
	free(path);
	if (len)
		*len = n;
	return data;
}

static const char msg[] = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n";
static const char *kinds[][2] = {
    {"ed", "-t ed25519"},        {"p256", "-t ecdsa -b 256"}, {"p384", "-t ecdsa -b 384"},
    {"p521", "-t ecdsa -b 521"}, {"rsa", "-t rsa -b 2048"},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void setup(void)
{
	if (mkdtemp(tmp) == NULL)
		abort();
	char *mpath = gg_printf("%s/msg", tmp);
	FILE *f = fopen(mpath, "w");
	free(mpath);
	fputs(msg, f);
	fclose(f);
	for (size_t i = 0; i < NKINDS; i++) {
		sh("ssh-keygen -q %s -N '' -C %s@example.com -f %s/%s >/dev/null", kinds[i][1],
		   kinds[i][0], tmp, kinds[i][0]);
		sh("ssh-keygen -Y sign -n git -f %s/%s %s/msg >/dev/null 2>&1 && mv %s/msg.sig "
		   "%s/%s.sig",
		   tmp, kinds[i][0], tmp, tmp, tmp, kinds[i][0]);
		/* The fingerprint as ssh-keygen prints it, to compare with ours. */
		sh("ssh-keygen -lf %s/%s.pub | cut -d' ' -f2 | tr -d '\\n' > %s/%s.fp", tmp,
		   kinds[i][0], tmp, kinds[i][0]);
	}
	sh("ssh-keygen -Y sign -n file -f %s/ed %s/msg >/dev/null 2>&1 && mv %s/msg.sig "
	   "%s/ed-file.sig",
	   tmp, tmp, tmp, tmp);
	/* A CA, and certificates of the ed key: a user one, an expired one, a host one. */
	sh("cd %s && ssh-keygen -q -t ed25519 -N '' -f ca && ssh-keygen -q -t ed25519 -N '' -f ca2 "
	   "&& for c in user:'-n dev@example.com,ops@example.com -V -5m:+1h' "
	   "old:'-n dev@example.com -V 20200101:20200102' host:'-h -n git.example.com -V -5m:+1h'; "
	   "do n=${c%%%%:*}; o=${c#*:}; ssh-keygen -q -t ed25519 -N '' -f $n && "
	   "ssh-keygen -q -s ca -I id-$n $o $n.pub 2>/dev/null && "
	   "ssh-keygen -Y sign -n git -f $n-cert.pub msg >/dev/null 2>&1 && mv msg.sig "
	   "$n-cert.sig; "
	   "done",
	   tmp);
}

static void test_each_key_type_verifies(void)
{
	for (size_t i = 0; i < NKINDS; i++) {
		char *name = gg_printf("%s.sig", kinds[i][0]);
		char *fpname = gg_printf("%s.fp", kinds[i][0]);
		size_t n = 0;
		char *sig = slurp(name, &n);
		char *fp = slurp(fpname, NULL);
		gg_sshsig *s = NULL;
		char *err = NULL;
		CHECK(sig != NULL);
		if (sig == NULL)
			continue;
		CHECK_INT(gg_sshsig_parse(&s, sig, n, &err), 0);
		if (s) {
			CHECK_STR(gg_sshsig_namespace(s), "git");
			CHECK_STR(gg_sshkey_fingerprint(gg_sshsig_key(s)), fp);
			CHECK_INT(gg_sshsig_verify(s, msg, strlen(msg), &err), 0);
			/* The same signature over other content. */
			CHECK_INT(gg_sshsig_verify(s, "hello\n", 6, &err), -1);
			CHECK(err && strstr(err, "does not match"));
		}
		free(err);
		gg_sshsig_free(s);
		free(sig);
		free(fp);
		free(fpname);
		free(name);
	}
}

static void test_garbled_blocks_are_refused(void)
{
	size_t n = 0;
	char *sig = slurp("ed.sig", &n);
	gg_sshsig *s = NULL;
	char *err = NULL;
	CHECK(sig != NULL);
	if (sig == NULL)
		return;
	/* Truncated: cut in the middle of the base64, armor end put back. */
	gg_buf b = GG_BUF_INIT;
	gg_buf_put(&b, sig, n / 2);
	gg_buf_puts(&b, "\n-----END SSH SIGNATURE-----\n");
	CHECK_INT(gg_sshsig_parse(&s, b.ptr, b.len, &err), -1);
	CHECK(err != NULL);
	free(err), err = NULL;
	/* No end line at all. */
	CHECK_INT(gg_sshsig_parse(&s, sig, n / 2, &err), -1);
	free(err), err = NULL;
	/* Not base64. */
	gg_buf_clear(&b);
	gg_buf_puts(&b,
	            "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH!!!\n-----END SSH SIGNATURE-----\n");
	CHECK_INT(gg_sshsig_parse(&s, b.ptr, b.len, &err), -1);
	CHECK(err && strstr(err, "base64"));
	free(err), err = NULL;
	/* Valid base64 of the magic alone. */
	gg_buf_clear(&b);
	gg_buf_puts(&b, "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH "
	                "SIGNATURE-----\n");
	CHECK_INT(gg_sshsig_parse(&s, b.ptr, b.len, &err), -1);
	CHECK(err && strstr(err, "truncated"));
	free(err), err = NULL;
	/* One byte of the signature itself flipped: parses, does not verify. */
	char *flip = gg_strndup(sig, n);
	char *end = strstr(flip, "-----END");
	CHECK(end != NULL);
	if (end) {
		end[-6] = end[-6] == 'A' ? 'B' : 'A';
		if (gg_sshsig_parse(&s, flip, n, &err) == 0) {
			CHECK_INT(gg_sshsig_verify(s, msg, strlen(msg), &err), -1);
			gg_sshsig_free(s);
			s = NULL;
		}
		free(err), err = NULL;
	}
	free(flip);
	/* A megabyte: refused unread. */
	gg_buf_clear(&b);
	gg_buf_puts(&b, "-----BEGIN SSH SIGNATURE-----\n");
	for (int i = 0; i < 1024 * 1024 / 64; i++)
		gg_buf_puts(&b,
		            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
	gg_buf_puts(&b, "-----END SSH SIGNATURE-----\n");
	CHECK_INT(gg_sshsig_parse(&s, b.ptr, b.len, &err), -1);
	CHECK(err && strstr(err, "limit"));
	free(err), err = NULL;
	gg_buf_free(&b);
	free(sig);
}

static void test_namespace_is_signed(void)
{
	size_t n = 0;
	char *sig = slurp("ed-file.sig", &n);
	gg_sshsig *s = NULL;
	char *err = NULL;
	CHECK(sig != NULL);
	if (sig && gg_sshsig_parse(&s, sig, n, &err) == 0) {
		CHECK_STR(gg_sshsig_namespace(s), "file");
		CHECK_INT(gg_sshsig_verify(s, msg, strlen(msg), &err), 0);
	}
	free(err);
	gg_sshsig_free(s);
	free(sig);
}

static char *pubkey(const char *kind)
{
	char *name = gg_printf("%s.pub", kind);
	char *k = slurp(name, NULL);
	free(name);
	if (k) {
		/* "TYPE BASE64 COMMENT\n" without the comment */
		char *sp = strchr(k, ' ');
		if (sp && (sp = strchr(sp + 1, ' ')))
			*sp = '\0';
	}
	return k;
}

static gg_sshkey *key_of(const char *kind)
{
	char *name = gg_printf("%s.sig", kind);
	size_t n = 0;
	char *sig = slurp(name, &n);
	gg_sshsig *s = NULL;
	char *err = NULL;
	gg_sshkey *k = NULL;
	if (sig && gg_sshsig_parse(&s, sig, n, &err) == 0) {
		/* A copy through the text form, as the allowed-signers file holds it. */
		char *pk = pubkey(kind);
		char *sp = pk ? strchr(pk, ' ') : NULL;
		if (sp) {
			*sp = '\0';
			gg_sshkey_from_text(&k, pk, sp + 1, strlen(sp + 1), &err);
		}
		free(pk);
	}
	gg_sshsig_free(s);
	free(err);
	free(sig);
	free(name);
	return k;
}

static void test_allowed_signers_checks(void)
{
	char *ed = pubkey("ed"), *p256 = pubkey("p256"), *rsa = pubkey("rsa");
	char *text =
	    gg_printf("# the team\n"
	              "ed@example.com,*@ops.example.com namespaces=\"git\" %s\n"
	              "\"p256@example.com\" namespaces=\"file\" %s\n"
	              "rsa@example.com valid-after=\"20200101\",valid-before=\"20210101Z\" "
	              "%s old key\n",
	              ed, p256, rsa);
	gg_signers *s = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(gg_signers_parse(&s, "signers", text, strlen(text), &d), 0);
	for (size_t i = 0; i < d.n; i++)
		printf("#   %s\n", d.msgs[i]);
	gg_sshkey *ked = key_of("ed"), *kp = key_of("p256"), *kr = key_of("rsa"),
	          *kother = key_of("p384");
	char *detail = NULL;
	time_t now = time(NULL);
	if (s && ked && kp && kr && kother) {
		CHECK_INT(gg_signers_count(s), 3);
		CHECK_INT(gg_signers_check(s, ked, "git", NULL, now, &detail), GG_SIGNERS_OK);
		CHECK_INT(gg_signers_check(s, ked, "git", "ed@example.com", now, &detail),
		          GG_SIGNERS_OK);
		CHECK_INT(gg_signers_check(s, ked, "git", "bob@ops.example.com", now, &detail),
		          GG_SIGNERS_OK);
		CHECK_INT(gg_signers_check(s, ked, "git", "mallory@example.com", now, &detail),
		          GG_SIGNERS_PRINCIPAL);
		CHECK(detail && strstr(detail, "signers:2"));
		free(detail);
		CHECK_INT(gg_signers_check(s, kp, "git", NULL, now, &detail), GG_SIGNERS_NAMESPACE);
		CHECK(detail && strstr(detail, "signers:3") && strstr(detail, "file"));
		free(detail);
		CHECK_INT(gg_signers_check(s, kr, "git", NULL, now, &detail), GG_SIGNERS_EXPIRED);
		CHECK(detail && strstr(detail, "until 2021-01-01"));
		free(detail);
		CHECK_INT(gg_signers_check(s, kr, "git", NULL, 1590000000, &detail), GG_SIGNERS_OK);
		CHECK_INT(gg_signers_check(s, kr, "git", NULL, 1500000000, &detail),
		          GG_SIGNERS_EXPIRED);
		free(detail);
		CHECK_INT(gg_signers_check(s, kother, "git", NULL, now, &detail),
		          GG_SIGNERS_UNKNOWN);
		free(detail);
	} else
		CHECK(!"keys");
	gg_sshkey_free(ked);
	gg_sshkey_free(kp);
	gg_sshkey_free(kr);
	gg_sshkey_free(kother);
	gg_signers_free(s);
	gg_diag_free(&d);
	free(text);
	free(ed);
	free(p256);
	free(rsa);
}

static void test_allowed_signers_errors_have_positions(void)
{
	char *ed = pubkey("ed");
	char *text = gg_printf("a@x %s\n"
	                       "b@x bogus=\"1\" %s\n"
	                       "c@x valid-before=\"2024\" %s\n"
	                       "d@x ssh-ed25519 AAAA!!!\n"
	                       "e@x\n"
	                       "\"f@x %s\n"
	                       "g@x ssh-dss AAAAB3NzaC1kc3MAAACBAP\n",
	                       ed, ed, ed, ed);
	gg_signers *s = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(gg_signers_parse(&s, "as", text, strlen(text), &d), -1);
	CHECK(s == NULL);
	const char *want[] = {"as:2:5: unknown or malformed option 'bogus'",
	                      "as:3:5: valid-before: '2024' is not a time",
	                      "as:4:17: ssh-ed25519 key: the key is not valid base64",
	                      "as:5:4: a key type and key must follow the principals",
	                      "as:6:1: unterminated quote",
	                      "as:7:5: ssh-dss key:"};
	CHECK_INT(d.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < d.n && i < sizeof(want) / sizeof(want[0]); i++) {
		if (strncmp(d.msgs[i], want[i], strlen(want[i])) != 0) {
			printf("#   got  %s\n#   want %s...\n", d.msgs[i], want[i]);
			CHECK(!"message");
		}
	}
	gg_diag_free(&d);
	/* An empty file trusts nobody: that is a mistake, not a policy. */
	CHECK_INT(gg_signers_parse(&s, "empty", "# nobody\n", 9, &d), -1);
	CHECK(d.n == 1 && strstr(d.msgs[0], "no keys"));
	gg_diag_free(&d);
	free(text);
	free(ed);
}

static gg_sshkey *sig_key(const char *name, gg_sshsig **s)
{
	size_t n = 0;
	char *sig = slurp(name, &n);
	char *err = NULL;
	*s = NULL;
	if (sig == NULL || gg_sshsig_parse(s, sig, n, &err) < 0) {
		printf("#   %s: %s\n", name, err ? err : "missing");
		*s = NULL;
	}
	free(err);
	free(sig);
	return *s ? (gg_sshkey *)gg_sshsig_key(*s) : NULL;
}

static void test_certificates(void)
{
	char *ca = pubkey("ca"), *ca2 = pubkey("ca2");
	char *text = gg_printf("*@example.com cert-authority,namespaces=\"git\" %s\n"
	                       "other@example.com cert-authority %s\n",
	                       ca, ca2);
	gg_signers *s = NULL;
	gg_diag d = GG_DIAG_INIT;
	CHECK_INT(gg_signers_parse(&s, "as", text, strlen(text), &d), 0);
	gg_sshsig *su = NULL, *so = NULL, *sh_ = NULL;
	const gg_sshkey *user = sig_key("user-cert.sig", &su), *old = sig_key("old-cert.sig", &so),
	                *host = sig_key("host-cert.sig", &sh_);
	char *detail = NULL, *err = NULL;
	time_t now = time(NULL);
	CHECK(user && old && host && s);
	if (user && old && host && s) {
		CHECK(gg_sshkey_is_cert(user));
		CHECK_STR(gg_sshkey_cert_id(user), "id-user");
		CHECK_INT(gg_sshsig_verify(su, msg, strlen(msg), &err), 0);
		CHECK_INT(gg_signers_check(s, user, "git", NULL, now, &detail), GG_SIGNERS_OK);
		CHECK_INT(gg_signers_check(s, user, "git", "ops@example.com", now, &detail),
		          GG_SIGNERS_OK);
		/* The entry allows *@example.com, but the certificate must name the principal. */
		CHECK_INT(gg_signers_check(s, user, "git", "eve@example.com", now, &detail),
		          GG_SIGNERS_PRINCIPAL);
		CHECK(detail && strstr(detail, "id-user"));
		free(detail);
		CHECK_INT(gg_signers_check(s, user, "file", NULL, now, &detail),
		          GG_SIGNERS_NAMESPACE);
		free(detail);
		CHECK_INT(gg_signers_check(s, old, "git", NULL, now, &detail), GG_SIGNERS_EXPIRED);
		CHECK(detail && strstr(detail, "no longer valid"));
		free(detail);
		CHECK_INT(gg_signers_check(s, host, "git", NULL, now, &detail),
		          GG_SIGNERS_NAMESPACE);
		CHECK(detail && strstr(detail, "host certificate"));
		free(detail);
		/* The certificate's own key, listed plainly, is not the CA: unknown. */
		char *plain = pubkey("user");
		char *t2 = gg_printf("dev@example.com %s\n", plain);
		gg_signers *s2 = NULL;
		CHECK_INT(gg_signers_parse(&s2, "as2", t2, strlen(t2), &d), 0);
		if (s2)
			CHECK_INT(gg_signers_check(s2, user, "git", NULL, now, &detail),
			          GG_SIGNERS_UNKNOWN);
		free(detail);
		gg_signers_free(s2);
		free(t2);
		free(plain);
	}
	/* A certificate whose principals were edited no longer carries its CA's signature. */
	size_t n = 0;
	char *sig = slurp("user-cert.sig", &n);
	if (sig) {
		unsigned char *blob = NULL;
		size_t nb = 0;
		const char *b = strchr(sig, '\n') + 1;
		const char *e = strstr(sig, "-----END");
		CHECK(gg_base64_decode(&blob, &nb, b, (size_t)(e - b)) == 0);
		unsigned char *p = blob ? memmem(blob, nb, "ops@example.com", 15) : NULL;
		CHECK(p != NULL);
		if (p) {
			p[0] = 'x';
			gg_sshkey *k = NULL;
			/* the public key string starts after "SSHSIG" and the version */
			uint32_t klen = (uint32_t)blob[10] << 24 | (uint32_t)blob[11] << 16 |
			                (uint32_t)blob[12] << 8 | blob[13];
			CHECK_INT(gg_sshkey_from_blob(&k, blob + 14, klen, &err), -1);
			CHECK(err && strstr(err, "certificate not signed by its CA"));
			gg_sshkey_free(k);
		}
		free(blob);
	}
	free(err);
	free(sig);
	gg_sshsig_free(su);
	gg_sshsig_free(so);
	gg_sshsig_free(sh_);
	gg_signers_free(s);
	gg_diag_free(&d);
	free(text);
	free(ca);
	free(ca2);
}

static void test_pattern_lists(void)
{
	CHECK(gg_signers_match_list("a@x,b@y", "b@y"));
	CHECK(gg_signers_match_list("*@example.com", "dev@example.com"));
	CHECK(!gg_signers_match_list("*@example.com", "dev@example.com.evil"));
	CHECK(!gg_signers_match_list("*@example.com,!eve@example.com", "eve@example.com"));
	CHECK(gg_signers_match_list("git", "git"));
	CHECK(!gg_signers_match_list("file", "git"));
	CHECK(gg_signers_match_list("gi?", "git"));
	CHECK(!gg_signers_match_list("", "git"));
}

int main(void)
{
	setup();
	RUN(test_each_key_type_verifies);
	RUN(test_garbled_blocks_are_refused);
	RUN(test_namespace_is_signed);
	RUN(test_allowed_signers_checks);
	RUN(test_allowed_signers_errors_have_positions);
	RUN(test_pattern_lists);
	RUN(test_certificates);
	sh("rm -rf %s", tmp);
	return TEST_DONE();
}
