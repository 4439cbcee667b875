/*
 * A tiny unit-test harness: each test is a function run by RUN(); a failed
 * CHECK prints where and why and marks the test failed. Every test prints one
 * line, "ok NAME" or "FAIL NAME", which tests/run.sh counts.
 */
#ifndef GITGATE_TEST_H
#define GITGATE_TEST_H

#include <stdio.h>
#include <string.h>

static int t_case_failed;
static int t_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);        \
			t_case_failed = 1;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (g_ == NULL || w_ == NULL || strcmp(g_, w_) != 0) {                             \
			printf("#   %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got, \
			       g_ ? g_ : "(null)", w_ ? w_ : "(null)");                            \
			t_case_failed = 1;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (g_ != w_) {                                                                    \
			printf("#   %s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, #got, g_, \
			       w_);                                                                \
			t_case_failed = 1;                                                         \
		}                                                                                  \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		t_case_failed = 0;                                                                 \
		fn();                                                                              \
		printf("%s %s\n", t_case_failed ? "FAIL" : "ok", #fn);                             \
		t_failures += t_case_failed;                                                       \
		fflush(stdout);                                                                    \
	} while (0)

#define TEST_DONE() (t_failures ? 1 : 0)

#endif
