/*
 * libFuzzer target: the daemon config loader (daemon/config.c) on hostile
 * YAML. Secret files exist under a fixed directory so that seeds naming them
 * load whole; a config that loads is then used the way the daemon uses it:
 * sources and targets looked up, every target matched against a push.
 */
#include "../../daemon/config.h"
#include "../../daemon/sender.h"
#include "gitgate/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DIR "/tmp/gg-fuzz-dconfig"

static void write_secret(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), FUZZ_DIR "/%s", name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	chmod(path, 0600);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		mkdir(FUZZ_DIR, 0700);
		write_secret("s.secret", "fuzz-secret\n");
		write_secret("wh.secret", "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
		write_secret("api.token", "token\n");
		ready = true;
	}
	gg_dconfig *cfg = NULL;
	gg_diag d = GG_DIAG_INIT;
	if (gg_dconfig_parse(&cfg, "fuzz.yaml", (const char *)data, size, &d) == 0) {
		char *paths[] = {"clusters/prod/a.yaml", "docs/x.md"};
		gg_push p = {.ref = "refs/heads/main",
		             .before = "0000000000000000000000000000000000000000",
		             .after = "1f2e3d4c5b6a79880716253443526170a9b8c7d6",
		             .repo = "acme/platform-config",
		             .paths = paths,
		             .npaths = 2,
		             .paths_known = true};
		for (size_t i = 0; i < cfg->nsources; i++)
			if (gg_dconfig_source(cfg, cfg->sources[i].name) == NULL)
				abort();
		for (size_t i = 0; i < cfg->ntargets; i++) {
			const gg_dtarget *t = &cfg->targets[i];
			if (gg_dconfig_target(cfg, t->name) == NULL)
				abort();
			if ((t->run == NULL) == (t->checkout == NULL))
				abort(); /* exactly one of run / checkout */
			(void)gg_push_matches(t, "github", &p);
		}
		gg_dconfig_free(cfg);
	} else if (d.n == 0) {
		abort(); /* a refusal always says why */
	}
	gg_diag_free(&d);
	return 0;
}
