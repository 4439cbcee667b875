/*
 * libFuzzer target: the gitleaks TOML reader (secrets: {config: FILE}) on
 * hostile input. A config that parses is walked so every field it filled is
 * read back (ASan sees a dangling or short string).
 */
#include "gitgate/gltoml.h"
#include "gitgate/util.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t touch(const char *s)
{
	return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gg_gl_config *c = NULL;
	gg_diag d = GG_DIAG_INIT;
	size_t sum = 0;
	if (gg_gl_parse(&c, "fuzz.toml", (const char *)data, size, &d) == 0) {
		for (size_t i = 0; i < c->nrules; i++) {
			const gg_gl_rule *r = &c->rules[i];
			sum +=
			    touch(r->id) + touch(r->regex) + touch(r->path) + touch(r->description);
			for (size_t k = 0; k < r->nkeywords; k++)
				sum += touch(r->keywords[k]);
			for (size_t k = 0; k < r->nallow; k++)
				sum += r->allow[k].nregexes + r->allow[k].npaths +
				       r->allow[k].nstopwords;
		}
		for (size_t k = 0; k < c->ndisabled; k++)
			sum += touch(c->disabled[k]);
		gg_gl_free(c);
	}
	for (size_t i = 0; i < d.n; i++)
		sum += touch(d.msgs[i]);
	gg_diag_free(&d);
	return sum == (size_t)-1;
}
