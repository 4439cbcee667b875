/*
 * Placeholder dispatcher until deployments are run: queued deployments stay
 * queued in the store.
 */
#include "dispatch.h"

#include "gitgate/util.h"

#include <stdlib.h>

struct gg_dispatch {
	int unused;
};

int gg_dispatch_new(gg_dispatch **out, struct event_base *base, gg_store *store,
		    const gg_dconfig *cfg)
{
	(void)base, (void)store, (void)cfg;
	*out = gg_calloc(1, sizeof(**out));
	return 0;
}

void gg_dispatch_kick(gg_dispatch *d)
{
	(void)d;
}

void gg_dispatch_reload(gg_dispatch *d, const gg_dconfig *cfg)
{
	(void)d, (void)cfg;
}

void gg_dispatch_shutdown(gg_dispatch *d, uint64_t grace_ms, void (*done)(void *), void *arg)
{
	(void)d, (void)grace_ms;
	done(arg);
}

size_t gg_dispatch_running(const gg_dispatch *d)
{
	(void)d;
	return 0;
}

void gg_dispatch_free(gg_dispatch *d)
{
	free(d);
}
