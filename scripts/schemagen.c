/*
 * The build's schema compiler: a kubeconform _definitions.json in, the C
 * source of the compiled set out (build/gen/k8s_schema.c), so the gate never
 * parses the built-in definitions at run time.
 *
 *   schemagen DEFINITIONS.json OUT.c NAME [ENUMS.txt]
 *
 * ENUMS.txt: lines "DEFINITION FIELD VALUE..." ("" for the empty string, #
 * comments) adding the allowed values the definitions state only in prose.
 */
#include "gitgate/sset.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Apply ENUMS.txt; every problem is printed as FILE:LINE: message. */
static int add_enums(gg_ssetb *b, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "schemagen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[4096];
	unsigned n = 0;
	int rc = 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		char *w[64];
		size_t nw = 0;
		for (char *t = strtok(line, " \t\r\n"); t && nw < 64; t = strtok(NULL, " \t\r\n"))
			w[nw++] = strcmp(t, "\"\"") ? t : (char *)"";
		if (nw == 0 || w[0][0] == '#')
			continue;
		if (nw < 3 || gg_ssetb_set_enum(b, w[0], w[1], w + 2, nw - 2) < 0) {
			fprintf(stderr, "%s:%u: no such definition and field, or no values\n", path,
			        n);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: schemagen DEFINITIONS.json OUT.c NAME [ENUMS.txt]\n");
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
	if (rc == 0 && argc == 5 && add_enums(b, argv[4]) < 0)
		rc = -1;
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
