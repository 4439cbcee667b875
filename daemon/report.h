/*
 * Reports: what a target tells the outside world about its deployments. A
 * target's `report:` list names destinations (a forge's commit status, or a
 * signed JSON event to any URL); this module loads them from the config and
 * turns one state change of one deployment into the HTTP request a
 * destination documents. Sending, retrying and the outbox are outbox.c's.
 */
#ifndef GITGATED_REPORT_H
#define GITGATED_REPORT_H

#include "store.h"

#include "gitgate/yload.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A description on a forge's commit page is cut to this many bytes (GitHub takes 140 chars). */
#define GG_REPORT_MAX_DESCRIPTION 140
/* Default of report_max_age: reports older than this are dropped, not sent. */
#define GG_REPORT_DEFAULT_MAX_AGE_MS (24ULL * 3600 * 1000)
/* Destinations per target. */
#define GG_REPORT_MAX_DESTINATIONS 16
/* A configured URL or target_url, bytes. */
#define GG_REPORT_MAX_URL 2048

typedef enum {
	GG_REPORT_GITHUB,
	GG_REPORT_GITLAB,
	GG_REPORT_GITEA,
	GG_REPORT_FORGEJO,
	GG_REPORT_WEBHOOK,
	GG_REPORT_BITBUCKET,    /* Bitbucket Cloud */
	GG_REPORT_BITBUCKET_DC, /* Bitbucket Data Center (and Server) */
	GG_REPORT_SLACK,        /* an incoming webhook: Slack, Mattermost, Rocket.Chat */
} gg_report_kind;

/* "github", "gitlab", ...; static. */
const char *gg_report_kind_name(gg_report_kind k);

/* One destination of a target's `report:` list. */
typedef struct gg_dreport_s {
	char *name; /* unique within the target; default: the kind's name */
	gg_report_kind kind;
	char *url;        /* API base URL (forges) or the URL posted to (webhook, slack) */
	char *token_file; /* NULL when the kind needs none */
	char *token;      /* the file's contents, trailing whitespace stripped; slack: the URL */
	size_t token_len;
	char *ca_file;    /* PEM CA bundle for https:// instead of the system's; NULL: system */
	char *target_url; /* the link shown with the status; {target} {id} {commit}; NULL: none */
	unsigned line, col;
} gg_dreport;

/*
 * Load a target's `report:` value at v into *out (an array of *n, owned:
 * gg_dreports_free), reading token files as secret files. Problems are
 * reported through c with their position.
 */
void gg_report_config(gg_yload *c, const gg_ynode *v, gg_dreport **out, size_t *n);
void gg_dreports_free(gg_dreport *list, size_t n);

#define GG_REPORT_MAX_HEADERS 4

/* One request to send; every string owned (gg_report_request_clear). */
typedef struct {
	char *url;  /* complete: scheme, host, port, path */
	char *body; /* JSON */
	size_t body_len;
	/* Extra headers; values may hold the credential: never logged, cleansed on clear. */
	struct {
		const char *name; /* static */
		char *value;
	} headers[GG_REPORT_MAX_HEADERS];
	size_t nheaders;
} gg_report_request;

void gg_report_request_clear(gg_report_request *r);

/*
 * The request that tells destination r of target `target` that deployment d
 * entered ev->state. 0, or -1 with an allocated *err when the deployment
 * cannot be reported there (no commit id, a repository name the forge cannot
 * have): sending it again would not help.
 */
int gg_report_build(gg_report_request *out, const gg_dreport *r, const char *target,
                    const gg_deployment *d, const gg_report_event *ev, char **err);

/*
 * url without credentials, query or path beyond the host: what a log line
 * may name (allocated).
 */
char *gg_report_url_for_log(const char *url);

#endif
