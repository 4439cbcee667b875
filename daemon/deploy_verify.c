/*
 * The deployment's signature check: the library's verifier (lib/verify.c)
 * with the target's keys, its verdict turned into the reason a refused
 * deployment is stored with.
 */
#include "deploy_verify.h"

#include "gitgate/report.h"
#include "gitgate/util.h"
#include "gitgate/verify.h"

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A reason is stored and shown in the API: long enough for a path and a fingerprint. */
#define DEPLOY_VERIFY_MAX_REASON 400

static char *git_err(const char *what)
{
	const git_error *e = git_error_last();
	return gg_printf("%s: %s", what, e && e->message ? e->message : "unknown error");
}

int gg_deploy_verify(const char *repo_dir, const char *commit, const char *allowed_signers,
                     const char *gpg_keyring, char **reason, char **err)
{
	git_repository *repo = NULL;
	gg_trust *trust = NULL;
	gg_diag diag = GG_DIAG_INIT;
	gg_sig_result res;
	git_oid oid;
	int rc = -1;
	memset(&res, 0, sizeof(res));
	*reason = NULL;
	if (git_oid_fromstr(&oid, commit) < 0) {
		*err = gg_printf("not a commit id: %s", commit);
		goto done;
	}
	if (gg_trust_load(&trust, allowed_signers, gpg_keyring, &diag) < 0) {
		gg_buf b = GG_BUF_INIT;
		gg_buf_puts(&b, "the trusted keys cannot be loaded:");
		for (size_t i = 0; i < diag.n; i++)
			gg_buf_printf(&b, " %s", diag.msgs[i]);
		*err = gg_buf_detach(&b);
		goto done;
	}
	if (git_repository_open_bare(&repo, repo_dir) < 0) {
		*err = git_err("cannot open the mirror");
		goto done;
	}
	gg_verify_opts vo = {.match_committer = false, .at = 0};
	if (gg_verify_commit(&res, trust, repo, &oid, &vo, err) < 0)
		goto done;
	if (res.status == GG_SIG_GOOD) {
		printf("%s is signed by a trusted key (%s)\n", commit, res.fingerprint);
		rc = 0;
		goto done;
	}
	gg_buf b = GG_BUF_INIT;
	gg_buf_puts(&b, gg_sig_reason(res.status));
	if (res.detail)
		gg_buf_printf(&b, ": %s", res.detail);
	if (res.fingerprint[0])
		gg_buf_printf(&b, " (key %s)", res.fingerprint);
	/* Committer e-mails and key comments reach logs and the API: one escaped line. */
	*reason = gg_report_escape(
	    b.ptr, b.len > DEPLOY_VERIFY_MAX_REASON ? DEPLOY_VERIFY_MAX_REASON : b.len);
	gg_buf_free(&b);
	rc = 1;
done:
	fflush(stdout);
	gg_sig_result_clear(&res);
	git_repository_free(repo);
	gg_trust_free(trust);
	gg_diag_free(&diag);
	return rc;
}
