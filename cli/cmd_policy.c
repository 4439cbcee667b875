/* gitgate policy lint FILE: every problem of a policy file with its position. */
#include "cli.h"
#include "gitgate/policy.h"
#include "gitgate/util.h"
#include "gitgate/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char gg_usage_policy[] = "gitgate policy lint FILE\n";

static int usage(void)
{
	gg_cli_usage(stderr, gg_usage_policy);
	return GG_EXIT_ERROR;
}

int gg_cmd_policy(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (gg_cli_is_help(argv[i])) {
			gg_cli_usage(stdout, gg_usage_policy);
			return GG_EXIT_OK;
		}
		if (!strcmp(argv[i], "--"))
			break;
	}
	if (argc != 3 || strcmp(argv[1], "lint") != 0)
		return usage();
	gg_policy *p = NULL;
	gg_diag diag = GG_DIAG_INIT;
	int rc = GG_EXIT_OK;
	if (gg_policy_load(&p, argv[2], &diag) < 0) {
		gg_diag_sort(&diag);
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		rc = GG_EXIT_ERROR;
	}
	/* The gate imports an OpenPGP keyring only for a push that needs it: lint imports it now.
	 */
	struct gg_trust *keys[2] = {p ? p->commits.signature : NULL, p ? p->tags.signature : NULL};
	for (int i = 0; i < 2; i++) {
		char *err = NULL;
		if (keys[i] && gg_trust_open_keyring(keys[i], &err) < 0) {
			fprintf(stderr, "%s\n", err);
			rc = GG_EXIT_ERROR;
		}
		free(err);
	}
	gg_policy_free(p);
	gg_diag_free(&diag);
	return rc;
}
