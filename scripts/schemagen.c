/*
 * The build's schema compiler: a kubeconform _definitions.json in, the C
 * source of the compiled set out (build/gen/k8s_schema.c), so the gate never
 * parses the built-in definitions at run time.
 *
 *   schemagen DEFINITIONS.json OUT.c NAME
 */
#include "gitgate/sset.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: schemagen DEFINITIONS.json OUT.c NAME\n");
		return 2;
	}
	char *data;
	size_t len;
	if (gg_read_file(&data, &len, argv[1], 256u << 20) < 0) {
		fprintf(stderr, "schemagen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	const gg_ylimits lim = {256u << 20, 64, 50000000};
	gg_yfile *f;
	int rc = gg_yparse(&f, data, len, GG_YFMT_JSON, &lim);
	for (size_t i = 0; i < gg_yfile_nproblems(f); i++) {
		const gg_yproblem *p = gg_yfile_problem(f, i);
		fprintf(stderr, "%s:%u:%u: %s\n", argv[1], p->line, p->col, p->msg);
		rc = -1;
	}
	gg_ssetb *b = gg_ssetb_new();
	gg_diag diag = GG_DIAG_INIT;
	if (rc == 0 && gg_ssetb_add_definitions(b, argv[1], gg_yfile_doc(f, 0), &diag) < 0)
		rc = -1;
	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.msgs[i]);
	FILE *out = rc == 0 ? fopen(argv[2], "w") : NULL;
	if (rc == 0 && (out == NULL || gg_ssetb_write_c(b, out, argv[3]) < 0 || fclose(out) != 0)) {
		fprintf(stderr, "schemagen: %s: cannot write\n", argv[2]);
		rc = -1;
	}
	gg_diag_free(&diag);
	gg_ssetb_free(b);
	gg_yfile_free(f);
	free(data);
	return rc == 0 ? 0 : 1;
}
