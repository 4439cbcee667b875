/*
 * GPGME against a private keyring. gpg.conf in that directory turns off
 * everything that could reach beyond it (key servers, auto-retrieval) and
 * trusts every key of the keyring: the configured file is the trust.
 */
#include "gitgate/pgp.h"

#include <errno.h>
#include <ftw.h>
#include <gpgme.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct gg_pgp {
	char *home;
	gpgme_ctx_t ctx;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

void gg_pgp_free(gg_pgp *p)
{
	if (p == NULL)
		return;
	if (p->ctx)
		gpgme_release(p->ctx);
	if (p->home)
		nftw(p->home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(p->home);
	free(p);
}

static char *gpg_err(const char *what, gpgme_error_t e)
{
	return gg_printf("%s: %s", what, gpgme_strerror(e));
}

int gg_pgp_open(gg_pgp **out, const char *name, const char *data, size_t len, char **err)
{
	gg_pgp *p = gg_calloc(1, sizeof(*p));
	gpgme_data_t keys = NULL;
	gpgme_error_t e;
	int rc = -1;
	*out = NULL;
	/* GPGME talks to gpg over pipes: a gpg that exits early must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (gpgme_check_version(NULL) == NULL) {
		*err = gg_strdup("GPGME cannot be initialised");
		goto done;
	}
	const char *tmp = getenv("TMPDIR");
	p->home = gg_printf("%s/gitgate-gnupg.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	if (mkdtemp(p->home) == NULL) {
		*err =
		    gg_printf("cannot create a keyring directory %s: %s", p->home, strerror(errno));
		free(p->home);
		p->home = NULL;
		goto done;
	}
	char *conf = gg_printf("%s/gpg.conf", p->home);
	FILE *f = fopen(conf, "w");
	free(conf);
	if (f == NULL ||
	    fputs("trust-model always\nno-auto-key-retrieve\nno-auto-key-locate\n"
	          "keyserver-options no-auto-key-retrieve\n",
	          f) < 0 ||
	    fclose(f) != 0) {
		*err = gg_printf("cannot write gpg.conf in %s", p->home);
		goto done;
	}
	if ((e = gpgme_new(&p->ctx)) || (e = gpgme_set_protocol(p->ctx, GPGME_PROTOCOL_OpenPGP)) ||
	    (e = gpgme_ctx_set_engine_info(p->ctx, GPGME_PROTOCOL_OpenPGP, NULL, p->home))) {
		*err = gpg_err("cannot start GPGME", e);
		goto done;
	}
	gpgme_set_offline(p->ctx, 1);
	if ((e = gpgme_data_new_from_mem(&keys, data, len, 0))) {
		*err = gpg_err("cannot read the keyring", e);
		goto done;
	}
	e = gpgme_op_import(p->ctx, keys);
	gpgme_import_result_t ir = e ? NULL : gpgme_op_import_result(p->ctx);
	if (ir == NULL || ir->imported + ir->unchanged == 0) {
		*err = gg_printf("%s: no OpenPGP public key could be read from it%s%s", name,
		                 e ? ": " : "", e ? gpgme_strerror(e) : "");
		goto done;
	}
	*out = p;
	p = NULL;
	rc = 0;
done:
	gpgme_data_release(keys);
	gg_pgp_free(p);
	return rc;
}

/* Does a (not revoked) user id of the key that made the signature carry email? */
static bool key_has_email(gg_pgp *p, const char *fpr, const char *email)
{
	gpgme_key_t key = NULL;
	bool got = false;
	if (gpgme_get_key(p->ctx, fpr, &key, 0) != 0 || key == NULL)
		return false;
	for (gpgme_user_id_t u = key->uids; u && !got; u = u->next)
		got = !u->revoked && u->email && !strcasecmp(u->email, email);
	gpgme_key_unref(key);
	return got;
}

int gg_pgp_verify(gg_pgp *p, gg_sig_result *res, const char *payload, size_t len, const char *sig,
                  size_t siglen, const char *email, char **err)
{
	gpgme_data_t ds = NULL, dp = NULL;
	gpgme_error_t e;
	int rc = -1;
	res->status = GG_SIG_BAD;
	res->fingerprint[0] = '\0';
	if (siglen > GG_PGP_MAX_SIG) {
		res->detail = gg_printf("signature block of %zu bytes is over the %u-byte limit",
		                        siglen, GG_PGP_MAX_SIG);
		return 0;
	}
	if ((e = gpgme_data_new_from_mem(&ds, sig, siglen, 0)) ||
	    (e = gpgme_data_new_from_mem(&dp, payload, len, 0))) {
		*err = gpg_err("cannot hand the signature to GPGME", e);
		goto done;
	}
	e = gpgme_op_verify(p->ctx, ds, dp, NULL);
	gpgme_verify_result_t vr = gpgme_op_verify_result(p->ctx);
	if (e || vr == NULL || vr->signatures == NULL) {
		res->detail = gg_printf("malformed OpenPGP signature%s%s", e ? ": " : "",
		                        e ? gpgme_strerror(e) : "");
		rc = 0;
		goto done;
	}
	gpgme_signature_t s = vr->signatures;
	if (s->fpr)
		snprintf(res->fingerprint, sizeof(res->fingerprint), "%s", s->fpr);
	gpgme_err_code_t code = gpgme_err_code(s->status);
	if (code == GPG_ERR_NO_PUBKEY || (s->summary & GPGME_SIGSUM_KEY_MISSING)) {
		res->status = GG_SIG_UNKNOWN_KEY;
		res->detail = gg_strdup("the key is not in gpg_keyring");
	} else if (code == GPG_ERR_CERT_REVOKED || (s->summary & GPGME_SIGSUM_KEY_REVOKED)) {
		res->status = GG_SIG_REVOKED;
		res->detail = gg_strdup("the key has been revoked");
	} else if (code == GPG_ERR_KEY_EXPIRED || (s->summary & GPGME_SIGSUM_KEY_EXPIRED)) {
		res->status = GG_SIG_EXPIRED;
		res->detail = gg_strdup("the key has expired");
	} else if (code == GPG_ERR_SIG_EXPIRED || (s->summary & GPGME_SIGSUM_SIG_EXPIRED)) {
		res->status = GG_SIG_EXPIRED;
		res->detail = gg_strdup("the signature has expired");
	} else if (code != GPG_ERR_NO_ERROR || (s->summary & GPGME_SIGSUM_RED)) {
		res->status = GG_SIG_BAD;
		res->detail = gg_printf("%s", gpgme_strerror(s->status));
	} else if (email && !key_has_email(p, s->fpr ? s->fpr : "", email)) {
		res->status = GG_SIG_PRINCIPAL;
		res->detail = gg_printf("no user id of the key has the e-mail %s", email);
	} else
		res->status = GG_SIG_GOOD;
	rc = 0;
done:
	gpgme_data_release(ds);
	gpgme_data_release(dp);
	return rc;
}
