/*
 * libpq, loaded at run time. A daemon on the embedded SQLite store (the
 * default) never uses it, and linking it would load it and what it links
 * (GnuTLS, p11-kit, LDAP, SASL: about 3 MB of resident pages and their
 * start-up code) into every gitgated. So the PostgreSQL store opens it with dlopen
 * the first time it needs it, by the soname libpq has kept since
 * PostgreSQL 8.2, and a missing library is an error of that store alone.
 */
#define GG_PQ_IMPL
#include "pq.h"

#include "gitgate/util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

gg_pq_api gg_pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *why; /* why loading failed; NULL once loaded */

static void load(void)
{
	/* RTLD_LOCAL: nothing else in the process binds to its symbols. */
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		why = gg_printf("cannot load libpq (Debian's libpq5): %s", e ? e : "not found");
		return;
	}
	const char *missing = NULL;
#define GG_PQ_FIND(f)                                                                              \
	if (missing == NULL && (*(void **)&gg_pq.f = dlsym(h, #f)) == NULL)                        \
		missing = #f;
	GG_PQ_FUNCTIONS(GG_PQ_FIND)
#undef GG_PQ_FIND
	if (missing) {
		why = gg_printf("libpq.so.5 has no %s: libpq 14 or later is needed", missing);
		gg_pq = (gg_pq_api){0};
		dlclose(h);
	}
}

bool gg_pq_load(char **err)
{
	pthread_once(&once, load);
	if (why && err)
		*err = gg_strdup(why);
	return why == NULL;
}
