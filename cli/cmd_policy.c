/* gitgate policy lint FILE: every problem of a policy file with its position. */
#include "cli.h"
#include "gitgate/policy.h"
#include "gitgate/util.h"

#include <stdio.h>
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
	gg_policy_free(p);
	gg_diag_free(&diag);
	return rc;
}
