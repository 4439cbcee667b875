/*
 * libFuzzer target: the secret scanner on hostile pushed content (any bytes:
 * UTF-16, binary, long lines, keyword soup). Every finding must lie inside
 * the input and carry a short redaction.
 */
#include "gitgate/secrets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(void *ctx, const gg_secret_hit *h)
{
	(void)ctx;
	if (h->line == 0 || h->col == 0 || strlen(h->redacted) >= sizeof(h->redacted))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gg_secrets *s;
	if (s == NULL) {
		gg_secrets_opts o = {GG_SECRETS_ERROR, true, NULL};
		if (gg_secrets_new(&s, &o, NULL) < 0)
			abort();
	}
	gg_secrets_scan(s, "fuzz/file.env", (const char *)data, size, NULL, 0, check, NULL);
	return 0;
}
