/*
 * Unit tests for report destinations (the request each kind documents, the
 * config's refusals). The store's outbox is tested with the store, on both
 * backends (test_store.c).
 */
#include "../../daemon/config.h"
#include "../../daemon/destination.h"
#include "../../daemon/store.h"
#include "test.h"

#include "gitgate/notify.h"
#include "gitgate/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gg-dest-XXXXXX";
static char token_path[256];

#define SHA "1f2e3d4c5b6a79880716253443526170a9b8c7d6"

static gg_deployment dep(void)
{
	gg_deployment d = {0};
	d.id = 17;
	d.target = "prod";
	d.source = "github";
	d.repo = "acme/app";
	d.ref = "refs/heads/main";
	d.before = "0000000000000000000000000000000000000000";
	d.after = SHA;
	d.pusher = "alice";
	d.exit_status = -1;
	return d;
}

static gg_dreport dest(gg_dest_kind k, const char *url)
{
	gg_dreport r = {0};
	r.name = (char *)gg_dest_kind_name(k);
	r.kind = k;
	r.url = (char *)url;
	r.token = "s3cret-token";
	r.token_len = strlen(r.token);
	return r;
}

static const char *header(const gg_dest_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!strcmp(rq->headers[i].name, name))
			return rq->headers[i].value;
	return NULL;
}

static const char *body_str(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static void test_github_status(void)
{
	gg_deployment d = dep();
	gg_dreport r = dest(GG_DEST_GITHUB, "https://ghe.example.com/api/v3");
	r.target_url = "https://deploy.example.com/{target}/{id}?c={commit}";
	gg_report_event ev = {5, 17, GG_DEP_RUNNING, 1};
	gg_dest_request rq;
	char *err = NULL;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(rq.url, "https://ghe.example.com/api/v3/repos/acme/app/statuses/" SHA);
	CHECK_STR(header(&rq, "Authorization"), "Bearer s3cret-token");
	CHECK_STR(header(&rq, "Accept"), "application/vnd.github+json");
	json_t *doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "pending");
	CHECK_STR(body_str(doc, "context"), "gitgate/prod");
	CHECK_STR(body_str(doc, "description"), "deploying");
	CHECK_STR(body_str(doc, "target_url"), "https://deploy.example.com/prod/17?c=" SHA);
	CHECK_INT(json_object_size(doc), 4);
	json_decref(doc);
	gg_dest_request_clear(&rq);

	/* A failure says why and how long; a replay of the deployed commit stays green. */
	d.reason = "exited 3";
	d.started_at = 1000;
	d.finished_at = 43000;
	ev.state = GG_DEP_FAILED;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "failure");
	CHECK_STR(body_str(doc, "description"), "deployment failed: exited 3 (42s)");
	json_decref(doc);
	gg_dest_request_clear(&rq);
	d.reason = GG_REPLAY_DEPLOYED;
	d.started_at = d.finished_at = 0;
	ev.state = GG_DEP_REFUSED;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "success");
	CHECK_STR(body_str(doc, "description"), "refused: commit already deployed");
	json_decref(doc);
	gg_dest_request_clear(&rq);
	d.reason = GG_REPLAY_OLDER;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "error");
	json_decref(doc);
	gg_dest_request_clear(&rq);
}

static void test_gitlab_and_gitea(void)
{
	gg_deployment d = dep();
	d.repo = "group/sub group/app";
	gg_dreport r = dest(GG_DEST_GITLAB, "https://gitlab.example.com/api/v4");
	gg_report_event ev = {1, 17, GG_DEP_SUPERSEDED, 1};
	gg_dest_request rq;
	char *err = NULL;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(
	    rq.url,
	    "https://gitlab.example.com/api/v4/projects/group%2Fsub%20group%2Fapp/statuses/" SHA);
	CHECK_STR(header(&rq, "PRIVATE-TOKEN"), "s3cret-token");
	json_t *doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "canceled");
	CHECK_STR(body_str(doc, "name"), "gitgate/prod");
	CHECK_STR(body_str(doc, "ref"), "main");
	json_decref(doc);
	gg_dest_request_clear(&rq);

	/* GitHub-shaped forges take owner/name only: a group path is not theirs. */
	r = dest(GG_DEST_GITEA, "https://git.example.com/api/v1");
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), -1);
	CHECK(err && strstr(err, "owner/name"));
	free(err);
	err = NULL;
	d.repo = "acme/app";
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(header(&rq, "Authorization"), "token s3cret-token");
	CHECK_STR(rq.url, "https://git.example.com/api/v1/repos/acme/app/statuses/" SHA);
	gg_dest_request_clear(&rq);
}

static void test_no_status_without_a_commit_or_a_sane_repo(void)
{
	gg_deployment d = dep();
	gg_dreport r = dest(GG_DEST_GITHUB, "https://api.github.com");
	gg_report_event ev = {1, 17, GG_DEP_QUEUED, 1};
	gg_dest_request rq;
	char *err = NULL;
	char *bad_commits[] = {NULL, "", "main", SHA "00", "../../../../etc/passwd"};
	for (size_t i = 0; i < GG_ARRAY_LEN(bad_commits); i++) {
		d.after = bad_commits[i];
		CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), -1);
		free(err);
		err = NULL;
	}
	d.after = SHA;
	char *bad_repos[] = {NULL, "app", "/app", "acme/", "acme/..", "../x", "a//b"};
	for (size_t i = 0; i < GG_ARRAY_LEN(bad_repos); i++) {
		d.repo = bad_repos[i];
		CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), -1);
		free(err);
		err = NULL;
	}
	/* What the path may not hold is encoded, never passed through. */
	d.repo = "ac?me/a#p p";
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(rq.url, "https://api.github.com/repos/ac%3Fme/a%23p%20p/statuses/" SHA);
	gg_dest_request_clear(&rq);
}

static void test_description_is_cut_on_a_character(void)
{
	gg_deployment d = dep();
	gg_buf b = {0};
	for (int i = 0; i < 200; i++)
		gg_buf_puts(&b, "\xc3\xa9"); /* é */
	gg_buf_puts(&b, "\n\x1b[31m");
	char *reason = gg_buf_detach(&b);
	d.reason = reason;
	gg_dreport r = dest(GG_DEST_GITEA, "https://git.example.com/api/v1");
	gg_report_event ev = {1, 17, GG_DEP_FAILED, 1};
	gg_dest_request rq;
	char *err = NULL;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	json_t *doc = json_loads(rq.body, 0, NULL);
	const char *desc = body_str(doc, "description");
	CHECK(desc != NULL);
	CHECK(desc && strlen(desc) <= GG_REPORT_MAX_DESCRIPTION);
	CHECK(desc && !strncmp(desc, "deployment failed: \xc3\xa9", 21));
	json_decref(doc);
	gg_dest_request_clear(&rq);
	free(reason);
}

static void test_bitbucket_both_editions(void)
{
	gg_deployment d = dep();
	gg_dreport r = dest(GG_DEST_BITBUCKET, "https://api.bitbucket.org/2.0");
	r.target_url = "https://deploy.example.com/{id}";
	gg_report_event ev = {1, 17, GG_DEP_CANCELED, 1};
	gg_dest_request rq;
	char *err = NULL;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(rq.url, "https://api.bitbucket.org/2.0/repositories/acme/app/commit/" SHA
	                  "/statuses/build");
	CHECK_STR(header(&rq, "Authorization"), "Bearer s3cret-token");
	json_t *doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "STOPPED");
	CHECK_STR(body_str(doc, "key"), "gitgate-prod");
	CHECK_STR(body_str(doc, "url"), "https://deploy.example.com/17");
	json_decref(doc);
	gg_dest_request_clear(&rq);
	r.kind = GG_DEST_BITBUCKET_DC;
	r.url = "https://bitbucket.example.com";
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(rq.url, "https://bitbucket.example.com/rest/api/latest/projects/acme/repos/app/"
	                  "commits/" SHA "/builds");
	doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "CANCELLED");
	json_decref(doc);
	gg_dest_request_clear(&rq);
}

static void test_slack_escapes_what_a_push_says(void)
{
	gg_deployment d = dep();
	d.pusher = "<!channel> & <@U1|x>";
	d.repo = "acme/<http://evil>";
	gg_dreport r = dest(GG_DEST_SLACK, "https://hooks.slack.com/services/T/B/X");
	gg_report_event ev = {1, 17, GG_DEP_SUCCEEDED, 1};
	gg_dest_request rq;
	char *err = NULL;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_INT(rq.nheaders, 0);
	json_t *doc = json_loads(rq.body, 0, NULL);
	const char *text = body_str(doc, "text");
	CHECK(text && !strchr(text, '<') && !strchr(text, '>'));
	CHECK(text && strstr(text, "by &lt;!channel&gt; &amp; &lt;@U1|x&gt;"));
	CHECK(text && strstr(text, "acme/&lt;http://evil&gt;"));
	CHECK_INT(json_object_size(doc), 1);
	json_decref(doc);
	gg_dest_request_clear(&rq);
}

static void test_webhook_is_signed_as_the_notifier_signs(void)
{
	gg_deployment d = dep();
	gg_dreport r = dest(GG_DEST_WEBHOOK, "https://audit.example.com/in?x=1");
	gg_report_event ev = {42, 17, GG_DEP_QUEUED, 1234};
	gg_dest_request rq;
	char *err = NULL;
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK_STR(rq.url, "https://audit.example.com/in?x=1");
	char want[72];
	gg_notify_sign(want, "s3cret-token", 12, rq.body, rq.body_len);
	CHECK_STR(header(&rq, "X-Gitgate-Signature"), want);
	CHECK_STR(header(&rq, "X-Gitgate-Delivery"), "report-prod-webhook-42");
	json_t *doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "queued");
	CHECK_INT(json_integer_value(json_object_get(doc, "deployment")), 17);
	CHECK_INT(json_integer_value(json_object_get(doc, "at")), 1234);
	CHECK(json_is_null(json_object_get(doc, "reason")));
	json_decref(doc);
	gg_dest_request_clear(&rq);
}

static void test_github_deployments(void)
{
	gg_deployment d = dep();
	gg_dreport r = dest(GG_DEST_GITHUB, "https://api.github.com");
	r.deployments = true;
	gg_report_event ev = {3, 17, GG_DEP_RUNNING, 1};
	gg_dest_request rq;
	char *err = NULL;
	/* Without the remote deployment, the request makes it. */
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 0, &err), 0);
	CHECK(rq.creates);
	CHECK_STR(rq.url, "https://api.github.com/repos/acme/app/deployments");
	json_t *doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "ref"), SHA);
	CHECK_STR(body_str(doc, "environment"), "prod");
	CHECK(json_is_false(json_object_get(doc, "auto_merge")));
	CHECK_INT(json_array_size(json_object_get(doc, "required_contexts")), 0);
	json_decref(doc);
	gg_dest_request_clear(&rq);
	/* With it, the state goes to it. */
	CHECK_INT(gg_dest_build(&rq, &r, "prod", &d, &ev, 99, &err), 0);
	CHECK(!rq.creates);
	CHECK_STR(rq.url, "https://api.github.com/repos/acme/app/deployments/99/statuses");
	doc = json_loads(rq.body, 0, NULL);
	CHECK_STR(body_str(doc, "state"), "in_progress");
	CHECK_STR(body_str(doc, "environment"), "prod");
	json_decref(doc);
	gg_dest_request_clear(&rq);
	int64_t id = 0;
	CHECK_INT(gg_dest_created_id(&id, "{\"id\": 1234, \"sha\": \"x\"}", 24), 0);
	CHECK_INT(id, 1234);
	CHECK_INT(gg_dest_created_id(&id, "{\"message\": \"x\"}", 16), -1);
	CHECK_INT(gg_dest_created_id(&id, "{\"id\": -5}", 11), -1);
	CHECK_INT(gg_dest_created_id(&id, "not json", 8), -1);
}

static int parse(gg_dconfig **cfg, const char *report, gg_diag *diag)
{
	char *text = gg_printf("state_dir: %s\nsources:\n  - {name: s, kind: generic, secret_file: "
	                       "%s}\ntargets:\n  - name: prod\n    repo: a/b\n    ref: refs/heads/"
	                       "main\n    run: [\"true\"]\n    report:\n%s",
	                       dir, token_path, report);
	int rc = gg_dconfig_parse(cfg, "cfg.yaml", text, strlen(text), diag);
	free(text);
	return rc;
}

static bool diag_has(const gg_diag *d, const char *s)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], s))
			return true;
	return false;
}

static void test_config(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	char *ok =
	    gg_printf("      - {kind: github, token_file: %s}\n"
	              "      - {kind: gitea, name: mine, url: \"http://127.0.0.1:3000/api/v1//\","
	              " token_file: %s}\n",
	              token_path, token_path);
	CHECK_INT(parse(&cfg, ok, &diag), 0);
	free(ok);
	if (cfg) {
		const gg_dtarget *t = &cfg->targets[0];
		CHECK_INT(t->nreports, 2);
		CHECK_STR(t->reports[0].url, "https://api.github.com");
		CHECK_STR(t->reports[0].name, "github");
		CHECK_STR(t->reports[0].token, "s3cret-token");
		CHECK_STR(t->reports[1].url, "http://127.0.0.1:3000/api/v1");
		CHECK_STR(t->reports[1].name, "mine");
		CHECK_INT(cfg->report_max_age_ms, GG_REPORT_DEFAULT_MAX_AGE_MS);
	}
	gg_dconfig_free(cfg);
	gg_diag_free(&diag);

	diag = (gg_diag)GG_DIAG_INIT;
	char *bad =
	    gg_printf("      - {kind: github, token_file: %s, url: "
	              "\"https://u:pa55word@x.example.com\"}\n"
	              "      - {kind: bitbucket, token_file: %s}\n"
	              "      - {kind: slack}\n"
	              "      - {kind: github, name: \"a b\", token_file: %s, deployments: true}\n"
	              "      - 12\n"
	              "      - {kind: gitea, url: \"https://g.example.com\", token_file: %s, "
	              "deployments: true}\n",
	              token_path, token_path, token_path, token_path);
	CHECK_INT(parse(&cfg, bad, &diag), -1);
	free(bad);
	CHECK(cfg == NULL);
	CHECK(diag_has(&diag, "must not carry credentials"));
	CHECK(diag_has(&diag, "needs 'target_url'"));
	CHECK(diag_has(&diag, "a slack destination needs its incoming webhook URL"));
	CHECK(diag_has(&diag, "report name 'a b'"));
	CHECK(diag_has(&diag, "'deployments' applies to github destinations only"));
	for (size_t i = 0; t_case_failed && i < diag.n; i++)
		printf("#   %s\n", diag.msgs[i]);
	CHECK(diag_has(&diag, "a report destination must be a map"));
	for (size_t i = 0; i < diag.n; i++)
		CHECK(strstr(diag.msgs[i], "pa55word") == NULL &&
		      strstr(diag.msgs[i], "s3cret-token") == NULL);
	gg_diag_free(&diag);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	FILE *f = fopen(token_path, "w");
	if (f == NULL)
		return 1;
	fputs("s3cret-token\n", f);
	fclose(f);
	chmod(token_path, 0600);
	RUN(test_github_status);
	RUN(test_gitlab_and_gitea);
	RUN(test_no_status_without_a_commit_or_a_sane_repo);
	RUN(test_description_is_cut_on_a_character);
	RUN(test_bitbucket_both_editions);
	RUN(test_slack_escapes_what_a_push_says);
	RUN(test_webhook_is_signed_as_the_notifier_signs);
	RUN(test_github_deployments);
	RUN(test_config);
	char *cmd = gg_printf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		t_failures++;
	free(cmd);
	return TEST_DONE();
}
