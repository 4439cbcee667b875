/*
 * libFuzzer target: the SSH signature parser and verifier on hostile blocks,
 * and the allowed-signers parser on the same bytes. A block that parses is
 * verified over a fixed message: it must fail without crashing.
 */
#include "gitgate/signers.h"
#include "gitgate/sshsig.h"
#include "gitgate/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char begin[] = "-----BEGIN SSH SIGNATURE-----\n";
	static const char end[] = "\n-----END SSH SIGNATURE-----\n";
	gg_sshsig *s = NULL;
	char *err = NULL;
	/* As given, and armored: the second reaches the blob parser every time. */
	if (gg_sshsig_parse(&s, (const char *)data, size, &err) == 0) {
		(void)gg_sshsig_verify(s, "x", 1, &err);
		gg_sshsig_free(s);
	}
	free(err);
	err = NULL;
	gg_buf b = GG_BUF_INIT;
	gg_buf_puts(&b, begin);
	gg_buf_put(&b, data, size);
	gg_buf_puts(&b, end);
	if (gg_sshsig_parse(&s, b.ptr, b.len, &err) == 0) {
		free(err);
		err = NULL;
		(void)gg_sshsig_verify(s, "x", 1, &err);
		gg_sshsig_free(s);
	}
	free(err);
	gg_buf_free(&b);
	gg_signers *sg = NULL;
	gg_diag d = GG_DIAG_INIT;
	if (gg_signers_parse(&sg, "fuzz", (const char *)data, size, &d) == 0)
		gg_signers_free(sg);
	gg_diag_free(&d);
	return 0;
}
