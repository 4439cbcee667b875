/*
 * Report destinations: what a target tells the outside world about its
 * deployments (the violation reports of the gate are gitgate/report.h's). A
 * target's `report:` list names destinations (a forge's commit status, or a
 * signed JSON event to any URL); this module loads them from the config and
 * turns one state change of one deployment into the HTTP request a
 * destination documents. Sending, retrying and the outbox are outbox.c's.
 */
#ifndef GITGATED_DESTINATION_H
#define GITGATED_DESTINATION_H

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
	GG_DEST_GITHUB,
	GG_DEST_GITLAB,
	GG_DEST_GITEA,
	GG_DEST_FORGEJO,
	GG_DEST_WEBHOOK,
	GG_DEST_BITBUCKET,    /* Bitbucket Cloud */
	GG_DEST_BITBUCKET_DC, /* Bitbucket Data Center (and Server) */
	GG_DEST_SLACK,        /* an incoming webhook: Slack, Mattermost, Rocket.Chat */
} gg_dest_kind;

/* "github", "gitlab", ...; static. */
const char *gg_dest_kind_name(gg_dest_kind k);

/* One destination of a target's `report:` list. */
typedef struct gg_dreport_s {
	char *name; /* unique within the target; default: the kind's name */
	gg_dest_kind kind;
	char *url;        /* API base URL (forges) or the URL posted to (webhook, slack) */
	char *token_file; /* NULL when the kind needs none */
	char *token;      /* the file's contents, trailing whitespace stripped; slack: the URL */
	size_t token_len;
	char *ca_file;    /* PEM CA bundle for https:// instead of the system's; NULL: system */
	char *target_url; /* the link shown with the status; {target} {id} {commit}; NULL: none */
	bool deployments; /* github: GitHub Deployments and their statuses, not commit statuses */
	unsigned line, col;
} gg_dreport;

/*
 * Load a target's `report:` value at v into *out (an array of *n, owned:
 * gg_dreports_free), reading token files as secret files. Problems are
 * reported through c with their position.
 */
void gg_dest_config(gg_yload *c, const gg_ynode *v, gg_dreport **out, size_t *n);
void gg_dreports_free(gg_dreport *list, size_t n);

#define GG_REPORT_MAX_HEADERS 4

/* One request to send; every string owned (gg_dest_request_clear). */
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
	bool creates; /* creates the remote deployment: keep the id its answer carries */
} gg_dest_request;

void gg_dest_request_clear(gg_dest_request *r);

/*
 * The request that tells destination r of target `target` that deployment d
 * entered ev->state. remote_id is the forge's own deployment made for d (a
 * github destination with deployments), 0 when none was made yet: then the
 * request creates it (out->creates) and the state is sent by the next one.
 * 0, or -1 with an allocated *err when the deployment cannot be reported
 * there (no commit id, a repository name the forge cannot have): sending it
 * again would not help.
 */
int gg_dest_build(gg_dest_request *out, const gg_dreport *r, const char *target,
                  const gg_deployment *d, const gg_report_event *ev, int64_t remote_id, char **err);
/* The id of what a creating request made, from the forge's answer: 0, or -1 when there is none. */
int gg_dest_created_id(int64_t *id, const char *body, size_t len);

#endif
