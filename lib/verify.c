/*
 * Signed objects: the signature is taken out of the commit (its gpgsig
 * header) or the tag (the block that ends its message), the rest is what it
 * must sign, and the block's armor says which kind of key made it. An SSH
 * key is looked up in the allowed signers before any arithmetic is done with
 * it, so an unknown key costs nothing.
 */
#include "gitgate/verify.h"
#include "gitgate/pgp.h"
#include "gitgate/signers.h"
#include "gitgate/sshsig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSH_BEGIN    "-----BEGIN SSH SIGNATURE-----"
#define PGP_BEGIN    "-----BEGIN PGP SIGNATURE-----"
#define GIT_SIG_NS   "git"
#define MAX_SIG_TEXT (64u * 1024) /* both parsers' limit: bigger is refused unread */

struct gg_trust {
	gg_signers *signers;
	char *keyring_path;
	char *keyring; /* the file's bytes, imported on first use */
	size_t nkeyring;
	gg_pgp *pgp;
	char *pgp_err; /* the import failed: every OpenPGP check fails closed with it */
};

const char *gg_sig_reason(gg_sig_status s)
{
	switch (s) {
	case GG_SIG_GOOD:
		return "good signature";
	case GG_SIG_UNSIGNED:
		return "unsigned";
	case GG_SIG_UNKNOWN_KEY:
		return "unknown key";
	case GG_SIG_BAD:
		return "bad signature";
	case GG_SIG_EXPIRED:
		return "expired key";
	case GG_SIG_REVOKED:
		return "revoked key";
	case GG_SIG_PRINCIPAL:
		return "principal mismatch";
	}
	return "?";
}

void gg_sig_result_clear(gg_sig_result *r)
{
	free(r->detail);
	memset(r, 0, sizeof(*r));
}

int gg_trust_load(gg_trust **out, const char *allowed_signers, const char *gpg_keyring,
                  gg_diag *diag)
{
	gg_trust *t = gg_calloc(1, sizeof(*t));
	size_t before = diag->n;
	*out = NULL;
	if (allowed_signers)
		(void)gg_signers_load(&t->signers, allowed_signers, diag);
	if (gpg_keyring) {
		t->keyring_path = gg_strdup(gpg_keyring);
		if (gg_read_file(&t->keyring, &t->nkeyring, gpg_keyring, GG_PGP_MAX_KEYRING) < 0)
			gg_diag_addf(diag, "%s: %s", gpg_keyring,
			             errno == EFBIG ? "keyring is over 16 MiB" : strerror(errno));
		else if (t->nkeyring == 0)
			gg_diag_addf(diag, "%s: the keyring is empty", gpg_keyring);
	}
	if (diag->n != before) {
		gg_trust_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

void gg_trust_free(gg_trust *t)
{
	if (t == NULL)
		return;
	gg_signers_free(t->signers);
	gg_pgp_free(t->pgp);
	free(t->keyring_path);
	free(t->keyring);
	free(t->pgp_err);
	free(t);
}

int gg_trust_open_keyring(gg_trust *t, char **err)
{
	if (t->keyring == NULL)
		return 0;
	if (t->pgp == NULL && t->pgp_err == NULL &&
	    gg_pgp_open(&t->pgp, t->keyring_path, t->keyring, t->nkeyring, &t->pgp_err) < 0)
		t->pgp = NULL;
	if (t->pgp == NULL) {
		*err = gg_printf("gpg_keyring %s", t->pgp_err);
		return -1;
	}
	return 0;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(s, prefix, k) == 0;
}

static void set(gg_sig_result *res, gg_sig_status st, char *detail)
{
	res->status = st;
	free(res->detail);
	res->detail = detail;
}

static int verify_ssh(gg_sig_result *res, gg_trust *t, const char *payload, size_t len,
                      const char *sig, size_t siglen, const char *email, time_t when,
                      bool match_committer)
{
	gg_sshsig *s = NULL;
	char *why = NULL;
	if (t->signers == NULL) {
		set(res, GG_SIG_UNKNOWN_KEY, gg_strdup("SSH signature, but no allowed_signers"));
		return 0;
	}
	if (gg_sshsig_parse(&s, sig, siglen, &why) < 0) {
		set(res, GG_SIG_BAD, why);
		return 0;
	}
	const gg_sshkey *key = gg_sshsig_key(s);
	snprintf(res->fingerprint, sizeof(res->fingerprint), "%s", gg_sshkey_fingerprint(key));
	switch (gg_signers_check(t->signers, key, GIT_SIG_NS, NULL, when, &why)) {
	case GG_SIGNERS_OK:
		break;
	case GG_SIGNERS_UNKNOWN:
		if (gg_sshkey_is_cert(key))
			set(res, GG_SIG_UNKNOWN_KEY,
			    gg_printf("certificate '%s' is signed by CA %s, which is not a "
			              "cert-authority in allowed_signers",
			              gg_sshkey_cert_id(key),
			              gg_sshkey_fingerprint(gg_sshkey_cert_ca(key))));
		else
			set(res, GG_SIG_UNKNOWN_KEY,
			    gg_strdup("the key is not in allowed_signers"));
		goto done;
	case GG_SIGNERS_NAMESPACE:
		set(res, GG_SIG_UNKNOWN_KEY, why);
		why = NULL;
		goto done;
	case GG_SIGNERS_EXPIRED:
		set(res, GG_SIG_EXPIRED, why);
		why = NULL;
		goto done;
	case GG_SIGNERS_PRINCIPAL: /* a certificate naming no principal its CA's entry allows */
		set(res, GG_SIG_PRINCIPAL, why);
		why = NULL;
		goto done;
	}
	free(why);
	why = NULL;
	if (strcmp(gg_sshsig_namespace(s), GIT_SIG_NS) != 0) {
		const char *nsp = gg_sshsig_namespace(s);
		char *ns = gg_strndup(nsp, strnlen(nsp, 64));
		set(res, GG_SIG_BAD, gg_printf("made for namespace '%s', not git", ns));
		free(ns);
		goto done;
	}
	if (gg_sshsig_verify(s, payload, len, &why) < 0) {
		set(res, GG_SIG_BAD, why);
		why = NULL;
		goto done;
	}
	if (match_committer) {
		if (gg_signers_check(t->signers, key, GIT_SIG_NS, email ? email : "", when, &why) !=
		    GG_SIGNERS_OK) {
			char *d = gg_printf("committer %s: %s", email ? email : "(none)",
			                    why ? why : "not a principal of the key");
			set(res, GG_SIG_PRINCIPAL, d);
			goto done;
		}
	}
	set(res, GG_SIG_GOOD, NULL);
done:
	free(why);
	gg_sshsig_free(s);
	return 0;
}

int gg_verify_payload(gg_sig_result *res, gg_trust *t, const char *payload, size_t len,
                      const char *sig, size_t siglen, const char *email, time_t when,
                      bool match_committer, char **err)
{
	memset(res, 0, sizeof(*res));
	if (siglen > MAX_SIG_TEXT) {
		set(res, GG_SIG_BAD,
		    gg_printf("signature block of %zu bytes is over the %u-byte limit", siglen,
		              MAX_SIG_TEXT));
		return 0;
	}
	if (starts(sig, siglen, SSH_BEGIN))
		return verify_ssh(res, t, payload, len, sig, siglen, email, when, match_committer);
	if (!starts(sig, siglen, PGP_BEGIN)) {
		set(res, GG_SIG_BAD, gg_strdup("not an SSH or OpenPGP signature block"));
		return 0;
	}
	if (t->keyring == NULL) {
		set(res, GG_SIG_UNKNOWN_KEY, gg_strdup("OpenPGP signature, but no gpg_keyring"));
		return 0;
	}
	if (gg_trust_open_keyring(t, err) < 0)
		return -1;
	return gg_pgp_verify(t->pgp, res, payload, len, sig, siglen,
	                     match_committer ? (email ? email : "") : NULL, err);
}

static char *git_err(const char *what)
{
	const git_error *e = git_error_last();
	return gg_printf("%s: %s", what, e && e->message ? e->message : "unknown error");
}

int gg_verify_commit(gg_sig_result *res, gg_trust *t, git_repository *repo, const git_oid *id,
                     const gg_verify_opts *o, char **err)
{
	git_buf sig = {0}, data = {0};
	git_commit *c = NULL;
	int rc = -1;
	memset(res, 0, sizeof(*res));
	if (git_commit_lookup(&c, repo, id) < 0) {
		*err = git_err("cannot read the commit");
		goto done;
	}
	int r = git_commit_extract_signature(&sig, &data, repo, (git_oid *)id, NULL);
	if (r == GIT_ENOTFOUND) {
		set(res, GG_SIG_UNSIGNED, gg_strdup("the commit carries no signature"));
		rc = 0;
		goto done;
	}
	if (r < 0) {
		*err = git_err("cannot read the commit's signature");
		goto done;
	}
	const git_signature *who = git_commit_committer(c);
	time_t when = o->at ? o->at : (time_t)git_commit_time(c);
	rc =
	    gg_verify_payload(res, t, data.ptr, data.size, sig.ptr, sig.size,
	                      who && who->email ? who->email : NULL, when, o->match_committer, err);
done:
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	git_commit_free(c);
	return rc;
}

/* Where the signature of a tag's text starts: the last line opening a block (git's rule). */
static size_t tag_sig_start(const char *buf, size_t n)
{
	size_t match = n;
	for (size_t at = 0; at < n;) {
		if (starts(buf + at, n - at, SSH_BEGIN) || starts(buf + at, n - at, PGP_BEGIN))
			match = at;
		const char *eol = memchr(buf + at, '\n', n - at);
		at = eol ? (size_t)(eol - buf) + 1 : n;
	}
	return match;
}

int gg_verify_tag(gg_sig_result *res, gg_trust *t, git_repository *repo, const git_oid *id,
                  const gg_verify_opts *o, char **err)
{
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_tag *tag = NULL;
	int rc = -1;
	memset(res, 0, sizeof(*res));
	if (git_repository_odb(&odb, repo) < 0 || git_odb_read(&obj, odb, id) < 0 ||
	    git_odb_object_type(obj) != GIT_OBJECT_TAG || git_tag_lookup(&tag, repo, id) < 0) {
		*err = git_err("cannot read the tag");
		goto done;
	}
	const char *buf = git_odb_object_data(obj);
	size_t n = git_odb_object_size(obj);
	size_t at = tag_sig_start(buf, n);
	if (at == n) {
		set(res, GG_SIG_UNSIGNED, gg_strdup("the tag carries no signature"));
		rc = 0;
		goto done;
	}
	const git_signature *who = git_tag_tagger(tag);
	time_t when = o->at ? o->at : who ? (time_t)who->when.time : 0;
	rc =
	    gg_verify_payload(res, t, buf, at, buf + at, n - at,
	                      who && who->email ? who->email : NULL, when, o->match_committer, err);
done:
	git_tag_free(tag);
	git_odb_object_free(obj);
	git_odb_free(odb);
	return rc;
}
