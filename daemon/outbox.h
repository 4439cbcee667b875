/*
 * The reports outbox sender: for every report destination of every target,
 * the events the store holds for it (store.h, "The reports outbox") are sent
 * in order, one request at a time per destination, on the event loop with
 * non-blocking HTTP(S). A failure is retried with back-off; a report older
 * than report_max_age is dropped with a log line; a destination's cursor
 * moves only once the forge has answered 2xx, so a restart or a SIGKILL sends
 * again what was not confirmed. Nothing here is waited on by deployments or
 * by webhook answers.
 */
#ifndef GITGATED_OUTBOX_H
#define GITGATED_OUTBOX_H

#include "config.h"
#include "store.h"

struct event_base;
typedef struct gg_outbox gg_outbox;

/* One request may take this long, connect and TLS included. */
#define GG_OUTBOX_TIMEOUT_MS 10000
/* Retries wait twice as long each time, from the first to the most. */
#define GG_OUTBOX_BACKOFF_FIRST_MS 1000
#define GG_OUTBOX_BACKOFF_MAX_MS   30000
/* How often the store is looked at for new events. */
#define GG_OUTBOX_POLL_MS 500
/* A forge's answer is read up to this size; the rest is not wanted. */
#define GG_OUTBOX_MAX_RESPONSE (64 * 1024)

/* Start sending for cfg's destinations. *out owned (gg_outbox_free). 0 or -1. */
int gg_outbox_new(gg_outbox **out, struct event_base *base, gg_store *store, const gg_dconfig *cfg);
/* Follow a new config (borrowed until the next reload or free). */
void gg_outbox_reload(gg_outbox *o, const gg_dconfig *cfg);
/* Requests in flight are abandoned: their reports are sent again at the next start. */
void gg_outbox_free(gg_outbox *o);

#endif
