/* Placement of targets on replicas: queue names and catching up (see placement.h). */
#include "placement.h"

#include "log.h"
#include "reconcile.h"

#include "gitgate/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *gg_placement_key(const char *target, const char *replica)
{
	return gg_printf("%s@%s", target, replica);
}

void gg_placement_split(const char *queue, size_t *len, const char **replica)
{
	const char *at = strchr(queue, '@');
	*len = at ? (size_t)(at - queue) : strlen(queue);
	if (replica)
		*replica = at ? at + 1 : NULL;
}

char *gg_placement_own(gg_store *st, const gg_dtarget *tg, const char *replica)
{
	if (tg->each && gg_store_shared(st))
		return gg_placement_key(tg->name, replica);
	return gg_strdup(tg->name);
}

size_t gg_placement_queues(char ***queues, const gg_dtarget *tg, char *const *live, size_t nlive)
{
	size_t n = tg->each && nlive > 0 ? nlive : 1;
	char **out = gg_calloc(n, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		out[i] = tg->each && nlive > 0 ? gg_placement_key(tg->name, live[i])
		                               : gg_strdup(tg->name);
	*queues = out;
	return n;
}

gg_deployment *gg_placement_catch_up(gg_store *st, const char *target, const char *queue)
{
	gg_deployment *newest = NULL, *own = NULL, *row = NULL;
	if (gg_store_newest_placed(&newest, st, target, NULL, GG_RECONCILE_PUSHER) != 0)
		return NULL;
	/* Its own newest counts refused ones: a refused catch-up is not tried again. */
	int orc = gg_store_newest_placed(&own, st, target, queue, GG_RECONCILE_PUSHER);
	if (orc == -1 ||
	    (orc == 0 && (own->id >= newest->id || !strcmp(own->after, newest->after))))
		goto done;
	size_t tlen;
	const char *from;
	gg_placement_split(newest->target, &tlen, &from);
	char idtext[32];
	snprintf(idtext, sizeof(idtext), "%lld", (long long)newest->id);
	gg_log(GG_LOG_INFO, "catching up with another replica", "target", target, "replica",
	       from ? from : "-", "id", idtext, "commit", newest->after, NULL);
	row = gg_calloc(1, sizeof(*row));
	row->target = gg_strdup(queue);
	row->source = gg_strdup_opt(newest->source);
	row->repo = gg_strdup_opt(newest->repo);
	row->ref = gg_strdup_opt(newest->ref);
	row->before = orc == 0 ? gg_strdup_opt(own->after) : gg_strdup_opt(newest->before);
	row->after = gg_strdup(newest->after);
	row->pusher = gg_strdup_opt(newest->pusher);
	row->delivery = gg_strdup_opt(newest->delivery);
	row->clone_url = gg_strdup_opt(newest->clone_url);
	row->client = gg_strdup_opt(newest->client);
	row->reason = gg_printf("caught up with deployment %lld of replica %s",
	                        (long long)newest->id, from ? from : "?");
done:
	if (own)
		gg_deployment_free(own);
	gg_deployment_free(newest);
	return row;
}
