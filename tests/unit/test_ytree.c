#include "gitgate/glob.h"
#include "gitgate/util.h"
#include "gitgate/ytree.h"
#include "test.h"

#include <stdlib.h>

static gg_yfile *parse(const char *s, gg_yformat fmt, int *rc)
{
	gg_yfile *f;
	*rc = gg_yparse(&f, s, strlen(s), fmt, NULL);
	return f;
}

static void test_yaml_positions_across_documents(void)
{
	int rc;
	gg_yfile *f = parse("a: 1\n---\nkind: Pod\nspec:\n  image: \"x\"\n", GG_YFMT_YAML, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(gg_yfile_ndocs(f), 2);
	const gg_ynode *d = gg_yfile_doc(f, 1);
	const gg_ynode *img = gg_ymap_get(gg_ymap_get(d, "spec"), "image");
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img->line, 5);
		CHECK_INT(img->col, 10);
		CHECK_INT(img->type, GG_Y_STRING);
	}
	CHECK_INT(gg_ymap_get(gg_yfile_doc(f, 0), "a")->type, GG_Y_INT);
	gg_yfile_free(f);
}

static void test_yaml_scalar_types(void)
{
	int rc;
	gg_yfile *f = parse("a: true\nb: ~\nc: 1.5\nd: '1'\ne: 0x1F\nf: abc\n", GG_YFMT_YAML, &rc);
	const gg_ynode *d = gg_yfile_doc(f, 0);
	CHECK_INT(gg_ymap_get(d, "a")->type, GG_Y_BOOL);
	CHECK_INT(gg_ymap_get(d, "b")->type, GG_Y_NULL);
	CHECK_INT(gg_ymap_get(d, "c")->type, GG_Y_FLOAT);
	CHECK_INT(gg_ymap_get(d, "d")->type, GG_Y_STRING);
	CHECK_INT(gg_ymap_get(d, "e")->type, GG_Y_INT);
	CHECK(gg_ymap_get(d, "e")->num == 31);
	CHECK_INT(gg_ymap_get(d, "f")->type, GG_Y_STRING);
	gg_yfile_free(f);
}

static void test_yaml_duplicate_key(void)
{
	int rc;
	gg_yfile *f = parse("a: 1\nb:\n  c: 1\n  c: 2\n", GG_YFMT_YAML, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(gg_yfile_nproblems(f), 1);
	const gg_yproblem *p = gg_yfile_problem(f, 0);
	CHECK_STR(p->rule, "duplicate-key");
	CHECK_INT(p->line, 4);
	CHECK_INT(p->col, 3);
	gg_yfile_free(f);
}

static void test_yaml_duplicate_key_large_map(void)
{
	gg_buf b = GG_BUF_INIT;
	for (int i = 0; i < 100; i++)
		gg_buf_printf(&b, "k%d: %d\n", i, i);
	gg_buf_puts(&b, "k7: again\n");
	int rc;
	gg_yfile *f = parse(b.ptr, GG_YFMT_YAML, &rc);
	CHECK_INT(gg_yfile_nproblems(f), 1);
	CHECK_INT(gg_yfile_problem(f, 0)->line, 101);
	gg_yfile_free(f);
	gg_buf_free(&b);
}

static void test_yaml_syntax_error_tab(void)
{
	int rc;
	gg_yfile *f = parse("a:\n\tb: 1\n", GG_YFMT_YAML, &rc);
	CHECK_INT(rc, -1);
	CHECK_STR(gg_yfile_problem(f, 0)->rule, "syntax");
	CHECK_INT(gg_yfile_problem(f, 0)->line, 2);
	gg_yfile_free(f);
}

/* An unclosed quote is reported where it opened, with where the scanner gave up. */
static void test_yaml_unclosed_quote(void)
{
	const char *y = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n"
	                "  a: 1\n  b: 2\n  motd: \"hello\n  c: 3\n";
	gg_yfile *f;
	CHECK_INT(gg_yparse(&f, y, strlen(y), GG_YFMT_YAML, NULL), -1);
	CHECK_INT(gg_yfile_nproblems(f), 1);
	const gg_yproblem *p = gg_yfile_problem(f, 0);
	CHECK_INT(p->line, 8);
	CHECK_INT(p->col, 9);
	CHECK_STR(p->msg, "a quoted string opened here is not closed (found unexpected end of "
	                  "stream at 10:1)");
	gg_yfile_free(f);
}

/* Loader messages come out by file, line and column, however they were found. */
static void test_diag_sort(void)
{
	gg_diag d = GG_DIAG_INIT;
	gg_diag_addf(&d, "no position");
	gg_diag_add(&d, "p.yaml", 12, 25, "third");
	gg_diag_add(&d, "p.yaml", 8, 15, "second");
	gg_diag_add(&d, "a:b.yaml", 51, 1, "fifth");
	gg_diag_add(&d, "a:b.yaml", 50, 14, "fourth");
	gg_diag_add(&d, "p.yaml", 8, 3, "first");
	gg_diag_sort(&d);
	CHECK_STR(d.msgs[0], "a:b.yaml:50:14: fourth");
	CHECK_STR(d.msgs[1], "a:b.yaml:51:1: fifth");
	CHECK_STR(d.msgs[2], "p.yaml:8:3: first");
	CHECK_STR(d.msgs[3], "p.yaml:8:15: second");
	CHECK_STR(d.msgs[4], "p.yaml:12:25: third");
	CHECK_STR(d.msgs[5], "no position");
	gg_diag_free(&d);
}

static void test_yaml_billion_laughs(void)
{
	const char *s = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	                "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	                "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	                "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	                "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	                "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	                "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
	int rc;
	gg_yfile *f = parse(s, GG_YFMT_YAML, &rc);
	CHECK_INT(rc, -1);
	CHECK_STR(gg_yfile_problem(f, 0)->rule, "limit");
	gg_yfile_free(f);
}

static void test_yaml_depth_limit(void)
{
	gg_buf b = GG_BUF_INIT;
	for (int i = 0; i < 200; i++)
		gg_buf_putc(&b, '[');
	int rc;
	gg_yfile *f = parse(b.ptr, GG_YFMT_YAML, &rc);
	CHECK_INT(rc, -1);
	CHECK_STR(gg_yfile_problem(f, 0)->rule, "limit");
	gg_yfile_free(f);
	gg_yfile *g = parse(b.ptr, GG_YFMT_JSON, &rc);
	CHECK_INT(rc, -1);
	CHECK_STR(gg_yfile_problem(g, 0)->rule, "limit");
	gg_yfile_free(g);
	gg_buf_free(&b);
}

static void test_json_positions_and_types(void)
{
	int rc;
	gg_yfile *f =
	    parse("{\n  \"a\": [1, 2.5, true, null],\n  \"b\": {\"c\": \"x\\u00e9\"}\n}\n",
	          GG_YFMT_JSON, &rc);
	CHECK_INT(rc, 0);
	const gg_ynode *d = gg_yfile_doc(f, 0);
	const gg_ynode *a = gg_ymap_get(d, "a");
	CHECK_INT(a->type, GG_Y_SEQ);
	CHECK_INT(a->n, 4);
	CHECK_INT(a->items[1]->type, GG_Y_FLOAT);
	CHECK_INT(a->items[2]->type, GG_Y_BOOL);
	CHECK_INT(a->items[3]->type, GG_Y_NULL);
	const gg_ynode *c = gg_ymap_get(gg_ymap_get(d, "b"), "c");
	CHECK_STR(c->str, "x\xc3\xa9");
	CHECK_INT(c->line, 3);
	CHECK_INT(c->col, 14);
	gg_yfile_free(f);
}

static void test_json_errors(void)
{
	int rc;
	gg_yfile *f = parse("{\"a\": 1,\n \"a\": 2}", GG_YFMT_JSON, &rc);
	CHECK_INT(rc, 0);
	CHECK_STR(gg_yfile_problem(f, 0)->rule, "duplicate-key");
	CHECK_INT(gg_yfile_problem(f, 0)->line, 2);
	gg_yfile_free(f);
	f = parse("{\"a\": [1, 2,]}", GG_YFMT_JSON, &rc);
	CHECK_INT(rc, -1);
	CHECK_STR(gg_yfile_problem(f, 0)->rule, "syntax");
	gg_yfile_free(f);
	f = parse("{\"a\": 1", GG_YFMT_JSON, &rc);
	CHECK_INT(rc, -1);
	gg_yfile_free(f);
	f = parse("[] x", GG_YFMT_JSON, &rc);
	CHECK_INT(rc, -1);
	gg_yfile_free(f);
	f = parse("{}", GG_YFMT_JSON, &rc);
	CHECK_INT(rc, 0);
	CHECK_INT(gg_yfile_doc(f, 0)->type, GG_Y_MAP);
	gg_yfile_free(f);
}

static void test_glob(void)
{
	CHECK(gg_glob_match("**/*.pem", "a/b/c.pem"));
	CHECK(gg_glob_match("**/*.pem", "c.pem"));
	CHECK(!gg_glob_match("*.pem", "a/c.pem"));
	CHECK(gg_glob_match("clusters/**/*.yaml", "clusters/prod/x.yaml"));
	CHECK(gg_glob_match("clusters/**/*.yaml", "clusters/x.yaml"));
	CHECK(!gg_glob_match("clusters/**/*.yaml", "apps/x.yaml"));
	CHECK(gg_glob_match("refs/heads/*", "refs/heads/main"));
	CHECK(!gg_glob_match("refs/heads/*", "refs/heads/feature/x"));
	CHECK(gg_glob_match("refs/heads/**", "refs/heads/feature/x"));
	CHECK(gg_glob_match("**/testdata/**", "a/testdata/b/c.yaml"));
	CHECK(gg_glob_match("file?.[ch]", "file1.c"));
	CHECK(!gg_glob_match("file?.[!ch]", "file1.c"));
	CHECK(gg_glob_match("**/.env", ".env"));
}

static void test_units(void)
{
	uint64_t v;
	CHECK(gg_parse_size(&v, "1MiB") == 0 && v == 1048576);
	CHECK(gg_parse_size(&v, "512") == 0 && v == 512);
	CHECK(gg_parse_size(&v, "10 KB") == 0 && v == 10000);
	CHECK(gg_parse_size(&v, "1XB") == -1);
	CHECK(gg_parse_size(&v, "99999999999999999999") == -1);
	CHECK(gg_parse_duration_ms(&v, "10m") == 0 && v == 600000);
	CHECK(gg_parse_duration_ms(&v, "500ms") == 0 && v == 500);
	CHECK(gg_parse_duration_ms(&v, "5") == 0 && v == 5000);
	CHECK(gg_parse_duration_ms(&v, "m") == -1);
}

static void json_is(const char *in, const char *want)
{
	gg_buf b = GG_BUF_INIT;
	gg_buf_json_string(&b, in);
	CHECK_STR(b.ptr, want);
	gg_buf_free(&b);
}

static void test_json_string(void)
{
	json_is("", "\"\"");
	json_is("plain text", "\"plain text\"");
	json_is("a\"b\\c", "\"a\\\"b\\\\c\"");
	json_is("tab\tnl\n\x7f", "\"tab\\u0009nl\\u000a\\u007f\"");
	/* Well-formed UTF-8 stays: 2, 3 and 4 bytes. */
	json_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* Every byte of an ill-formed sequence becomes U+FFFD. */
	json_is("\xff", "\"\\ufffd\"");
	json_is("\xc0\xaf", "\"\\ufffd\\ufffd\"");                       /* overlong '/' */
	json_is("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* a surrogate */
	json_is("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
	json_is("x\xe2\x82", "\"x\\ufffd\\ufffd\"");                     /* cut short at the end */
	json_is("\xe2\x82y", "\"\\ufffd\\ufffdy\"");                     /* cut short by ASCII */
}

int main(void)
{
	RUN(test_yaml_positions_across_documents);
	RUN(test_yaml_scalar_types);
	RUN(test_yaml_duplicate_key);
	RUN(test_yaml_duplicate_key_large_map);
	RUN(test_yaml_syntax_error_tab);
	RUN(test_yaml_unclosed_quote);
	RUN(test_diag_sort);
	RUN(test_yaml_billion_laughs);
	RUN(test_yaml_depth_limit);
	RUN(test_json_positions_and_types);
	RUN(test_json_errors);
	RUN(test_glob);
	RUN(test_units);
	RUN(test_json_string);
	return TEST_DONE();
}
