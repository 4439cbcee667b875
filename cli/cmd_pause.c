/*
 * gitgate pause|resume [--url URL] [--token-file FILE] TARGET: stop a
 * target's deployments from running (they queue) and let them run again,
 * through gitgated's /api/v1/targets/TARGET/pause and .../resume. The
 * daemon records who paused it: the local user name this sends, and where
 * the request came from.
 */
#include "cli.h"
#include "gitgate/httpc.h"
#include "gitgate/report.h"
#include "gitgate/util.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAUSE_DEFAULT_URL "http://127.0.0.1:8080"
#define PAUSE_TIMEOUT_MS  10000
#define PAUSE_MAX_TARGET  64

const char gg_usage_pause[] = "gitgate pause [--url URL] [--token-file FILE] TARGET\n"
                              "gitgate resume [--url URL] [--token-file FILE] TARGET\n";

/* The local account's name, when it fits what the daemon accepts as "by"; else NULL. */
static const char *local_user(void)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : NULL;
	if (name == NULL || *name == '\0' || strlen(name) > 64 ||
	    name[strspn(name,
	                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-")])
		return NULL;
	return name;
}

static bool plain_name(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= PAUSE_MAX_TARGET &&
	       s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] ==
	           '\0';
}

int gg_cmd_pause(int argc, char **argv)
{
	bool pause = !strcmp(argv[0], "pause");
	const char *url = getenv("GITGATE_URL");
	const char *token_file = NULL, *target = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--url") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
			token_file = argv[++i];
		else if (gg_cli_is_help(argv[i])) {
			gg_cli_usage(stdout, gg_usage_pause);
			return GG_EXIT_OK;
		} else if (argv[i][0] != '-' && target == NULL)
			target = argv[i];
		else {
			char *shown = gg_report_escape(argv[i], strlen(argv[i]));
			fprintf(stderr, "gitgate %s: unexpected argument %s\n", argv[0], shown);
			free(shown);
			gg_cli_usage(stderr, gg_usage_pause);
			return GG_EXIT_ERROR;
		}
	}
	if (target == NULL || !plain_name(target)) {
		fprintf(stderr, "gitgate %s: name one target (letters, digits, '.', '-', '_')\n",
		        argv[0]);
		gg_cli_usage(stderr, gg_usage_pause);
		return GG_EXIT_ERROR;
	}
	if (url == NULL || *url == '\0')
		url = PAUSE_DEFAULT_URL;

	int rc = GG_EXIT_ERROR;
	char *auth = NULL, *token = NULL, *err = NULL, *path = NULL, *body = NULL;
	size_t token_len = 0;
	gg_httpc_response *r = NULL;
	json_t *doc = NULL;
	if (token_file) {
		if (gg_read_secret_file(&token, &token_len, token_file, &err) < 0) {
			fprintf(stderr, "gitgate: %s\n", err);
			goto done;
		}
		auth = gg_printf("Bearer %s", token);
	}
	path = gg_printf("/api/v1/targets/%s/%s", target, pause ? "pause" : "resume");
	const char *user = local_user();
	json_t *req = user ? json_pack("{s:s}", "by", user) : json_object();
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	gg_httpc_header h[] = {{"Accept", "application/json"},
	                       {"Content-Type", "application/json"},
	                       {"Authorization", auth}};
	if (gg_httpc_request(&r, "POST", url, path, h, auth ? 3 : 2, body, strlen(body),
	                     PAUSE_TIMEOUT_MS, &err) < 0) {
		fprintf(stderr, "gitgate: cannot reach gitgated at %s: %s\n", url, err);
		goto done;
	}
	json_error_t jerr;
	doc = json_loadb(r->body, r->body_len, 0, &jerr);
	if (r->status != 200) {
		const char *msg = doc ? json_string_value(json_object_get(doc, "error")) : NULL;
		char *shown = msg ? gg_report_escape(msg, strlen(msg)) : NULL;
		fprintf(stderr, "gitgate: %s%s answered %d%s%s\n", url, path, r->status,
		        shown ? ": " : "", shown ? shown : "");
		free(shown);
		goto done;
	}
	bool changed = json_is_true(json_object_get(doc, "changed"));
	if (pause) {
		const char *since = json_string_value(json_object_get(doc, "since"));
		const char *by = json_string_value(json_object_get(doc, "by"));
		char *shown = gg_report_escape(by ? by : "-", strlen(by ? by : "-"));
		printf("%s: %s since %s by %s\n", target, changed ? "paused" : "already paused",
		       since ? since : "-", shown);
		free(shown);
	} else {
		printf("%s: %s\n", target, changed ? "resumed" : "was not paused");
	}
	rc = GG_EXIT_OK;
done:
	if (token) {
		OPENSSL_cleanse(token, token_len);
		free(token);
	}
	if (auth) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	gg_httpc_response_free(r);
	json_decref(doc);
	free(err);
	free(path);
	free(body);
	return rc;
}
