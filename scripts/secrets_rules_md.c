/*
 * Prints the built-in secret rules as the Markdown table that docs/policy.md
 * carries between its "secrets-rules" markers (`make docs` rewrites it; the
 * test e2e/secrets_doc fails when the two drift apart).
 */
#include "gitgate/secrets.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char *md = gg_secrets_rules_markdown();
	fputs(md, stdout);
	free(md);
	return ferror(stdout) ? 1 : 0;
}
