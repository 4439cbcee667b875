#include "../../daemon/checkout.h"
#include "../../daemon/runner.h"
#include "gitgate/util.h"
#include "test.h"

#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static const gg_runner_vars vars = {
    .after = "a1b2c3",
    .before = "000000",
    .ref = "refs/heads/feature/x",
    .repo = "acme/docs",
    .delivery = "d-1",
    .target = "prod",
    .source = "github",
    .pusher = "alice",
    .deployment = 42,
};

static void test_expand_placeholders(void)
{
	char *s = gg_runner_expand("--commit={after}@{branch} {repo}/{target}#{deployment}", &vars);
	/* {deployment} is not a placeholder of the contract: it stays as written. */
	CHECK_STR(s, "--commit=a1b2c3@feature/x acme/docs/prod#{deployment}");
	free(s);
	s = gg_runner_expand("{ref}{before}{delivery}{source}{pusher}", &vars);
	CHECK_STR(s, "refs/heads/feature/x000000d-1githubalice");
	free(s);
	s = gg_runner_expand("{dir} { {after", &vars);
	CHECK_STR(s, "{dir} { {after");
	free(s);
	gg_runner_vars v = vars;
	v.dir = "/srv/www/docs";
	v.pusher = NULL;
	s = gg_runner_expand("{dir}/x:{pusher}:", &v);
	CHECK_STR(s, "/srv/www/docs/x::");
	free(s);
}

static void test_expand_is_literal(void)
{
	gg_runner_vars v = vars;
	v.ref = "refs/heads/$(touch /tmp/x)";
	const char *argv[] = {"/bin/echo", "{branch}", "'{ref}'", NULL};
	char **out;
	char *err = NULL;
	CHECK_INT(gg_runner_expand_argv(&out, argv, &v, &err), 0);
	CHECK_STR(out[0], "/bin/echo");
	CHECK_STR(out[1], "$(touch /tmp/x)");
	CHECK_STR(out[2], "'refs/heads/$(touch /tmp/x)'");
	CHECK(out[3] == NULL);
	gg_runner_strv_free(out);
	CHECK_STR(gg_runner_branch("refs/tags/v1.0"), "v1.0");
	CHECK_STR(gg_runner_branch("HEAD"), "HEAD");
}

/* A value that would turn an argument into an option is refused, whatever the placeholder. */
static void test_expand_refuses_options(void)
{
	gg_runner_vars v = vars;
	v.ref = "refs/heads/--upload-pack=touch pwned";
	const char *argv[] = {"git", "fetch", "origin", "{branch}", NULL};
	char **out = (char **)1;
	char *err = NULL;
	CHECK_INT(gg_runner_expand_argv(&out, argv, &v, &err), -1);
	CHECK(out == NULL);
	CHECK(err && strstr(err, "run[3] \"{branch}\" would start with '-'"));
	free(err);
	err = NULL;
	v.ref = "refs/heads/main";
	v.pusher = "-x";
	const char *argv2[] = {"deploy", "{pusher}", NULL};
	CHECK_INT(gg_runner_expand_argv(&out, argv2, &v, &err), -1);
	free(err);
	err = NULL;
	/* An option written in the config stays one; a value after '=' is no option. */
	const char *argv3[] = {"deploy", "--who={pusher}", "-{pusher}", NULL};
	CHECK_INT(gg_runner_expand_argv(&out, argv3, &v, &err), 0);
	CHECK_STR(out[1], "--who=-x");
	gg_runner_strv_free(out);
}

static const char *env_get(char **env, const char *key)
{
	size_t k = strlen(key);
	for (size_t i = 0; env[i]; i++)
		if (!strncmp(env[i], key, k) && env[i][k] == '=')
			return env[i] + k + 1;
	return NULL;
}

static void test_build_env(void)
{
	const char *keys[] = {"KUBECONFIG", "GITGATE_TARGET", "PATH", "BAD=KEY", ""};
	const char *vals[] = {"/etc/k", "evil", "/opt/bin", "x", "y"};
	char **env;
	setenv("GG_TEST_LEAK", "1", 1);
	gg_runner_build_env(&env, &vars, keys, vals, 5);
	size_t n = 0;
	while (env[n])
		n++;
	CHECK_INT(n, 11); /* PATH, KUBECONFIG and the nine GITGATE_* */
	CHECK_STR(env_get(env, "PATH"), "/opt/bin");
	CHECK_STR(env_get(env, "KUBECONFIG"), "/etc/k");
	CHECK_STR(env_get(env, "GITGATE_TARGET"), "prod");
	CHECK_STR(env_get(env, "GITGATE_SOURCE"), "github");
	CHECK_STR(env_get(env, "GITGATE_REPO"), "acme/docs");
	CHECK_STR(env_get(env, "GITGATE_REF"), "refs/heads/feature/x");
	CHECK_STR(env_get(env, "GITGATE_BEFORE"), "000000");
	CHECK_STR(env_get(env, "GITGATE_AFTER"), "a1b2c3");
	CHECK_STR(env_get(env, "GITGATE_DELIVERY"), "d-1");
	CHECK_STR(env_get(env, "GITGATE_PUSHER"), "alice");
	CHECK_STR(env_get(env, "GITGATE_DEPLOYMENT"), "42");
	CHECK(env_get(env, "GG_TEST_LEAK") == NULL);
	CHECK(env_get(env, "HOME") == NULL);
	gg_runner_strv_free(env);

	gg_runner_build_env(&env, &vars, NULL, NULL, 0);
	CHECK_STR(env_get(env, "PATH"),
	          "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	gg_runner_strv_free(env);
}

struct result {
	int calls;
	gg_run_end how;
	int code;
	struct event_base *base;
};

static void on_done(gg_run *r, gg_run_end how, int code, void *arg)
{
	struct result *res = arg;
	gg_run_log(r, "exited %d", code);
	res->calls++;
	res->how = how;
	res->code = code;
	event_base_loopbreak(res->base);
}

static char tmpdir[] = "/tmp/gg-runner-XXXXXX";

static int run_once(struct result *res, const char *const *argv, const char *log, uint64_t log_max,
                    uint64_t timeout_ms, char **err)
{
	struct event_base *base = event_base_new();
	gg_runner *rn;
	gg_runner_new(&rn, base);
	char **env;
	gg_runner_build_env(&env, &vars, NULL, NULL, 0);
	gg_run_spec spec = {.argv = argv,
	                    .envp = (const char *const *)env,
	                    .cwd = tmpdir,
	                    .log_path = log,
	                    .log_max = log_max,
	                    .timeout_ms = timeout_ms,
	                    .kill_grace_ms = 500};
	memset(res, 0, sizeof(*res));
	res->base = base;
	gg_run *r;
	int rc = gg_run_start(&r, rn, &spec, on_done, res, err);
	if (rc == 0)
		event_base_dispatch(base);
	CHECK_INT(gg_runner_count(rn), 0);
	gg_runner_free(rn);
	gg_runner_strv_free(env);
	event_base_free(base);
	return rc;
}

static void test_run_output_env_and_fds(void)
{
	char *log = gg_printf("%s/1.log", tmpdir);
	/* The child sees only its own environment, stdin at EOF and no inherited descriptors. */
	const char *argv[] = {"sh", "-c",
	                      "echo out; echo err >&2; echo \"t=$GITGATE_TARGET h=${HOME-unset}\"; "
	                      "read x || echo stdin-eof; ls /proc/self/fd | wc -l; pwd; exit 3",
	                      NULL};
	struct result res;
	char *err = NULL;
	CHECK_INT(run_once(&res, argv, log, 0, 0, &err), 0);
	CHECK_INT(res.calls, 1);
	CHECK_INT(res.how, GG_RUN_EXITED);
	CHECK_INT(res.code, 3);
	char *text = NULL;
	size_t len;
	CHECK_INT(gg_read_file(&text, &len, log, 1 << 20), 0);
	if (text) {
		CHECK(strstr(text, "out\n") != NULL);
		CHECK(strstr(text, "err\n") != NULL);
		CHECK(strstr(text, "t=prod h=unset\n") != NULL);
		CHECK(strstr(text, "stdin-eof\n") != NULL);
		/* 0, 1, 2 and the one ls opens to list them. */
		CHECK(strstr(text, "\n4\n") != NULL);
		CHECK(strstr(text, tmpdir) != NULL);
		CHECK(strstr(text, "gitgated: exited 3\n") != NULL);
	}
	free(text);
	free(log);
}

static void test_run_missing_program(void)
{
	char *log = gg_printf("%s/2.log", tmpdir);
	const char *argv[] = {"no-such-program-gitgate", NULL};
	struct result res;
	char *err = NULL;
	CHECK_INT(run_once(&res, argv, log, 0, 0, &err), -1);
	CHECK(err != NULL && strstr(err, "no-such-program-gitgate") != NULL);
	CHECK_INT(res.calls, 0);
	free(err);
	free(log);
}

static void test_run_timeout_kills_group(void)
{
	char *log = gg_printf("%s/3.log", tmpdir);
	char *pidfile = gg_printf("%s/grandchild.pid", tmpdir);
	char *script = gg_printf("sleep 30 & echo $! > %s; sleep 30", pidfile);
	const char *argv[] = {"sh", "-c", script, NULL};
	struct result res;
	char *err = NULL;
	CHECK_INT(run_once(&res, argv, log, 0, 200, &err), 0);
	CHECK_INT(res.how, GG_RUN_TIMED_OUT);
	char *pidtext = NULL;
	size_t len;
	CHECK_INT(gg_read_file(&pidtext, &len, pidfile, 64), 0);
	if (pidtext) {
		pid_t gc = (pid_t)atoi(pidtext);
		CHECK(gc > 0);
		/* The grandchild was in the group: it is gone (or a zombie of init's, not running).
		 */
		int alive = 0;
		for (int i = 0; i < 50; i++) {
			char path[64];
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)gc);
			char *st = NULL;
			alive =
			    gg_read_file(&st, &len, path, 4096) == 0 && strstr(st, ") Z ") == NULL;
			free(st);
			if (!alive)
				break;
			usleep(20000);
		}
		CHECK(!alive);
	}
	free(pidtext);
	free(script);
	free(pidfile);
	free(log);
}

static void test_log_cap_keeps_head_and_tail(void)
{
	char *log = gg_printf("%s/4.log", tmpdir);
	const char *argv[] = {"sh", "-c",
	                      "echo FIRST-LINE; i=0; while [ $i -lt 3000 ]; do echo line-$i; "
	                      "i=$((i+1)); done; echo LAST-LINE",
	                      NULL};
	struct result res;
	char *err = NULL;
	CHECK_INT(run_once(&res, argv, log, 4096, 0, &err), 0);
	CHECK_INT(res.code, 0);
	struct stat st;
	CHECK_INT(stat(log, &st), 0);
	CHECK(st.st_size <= 4096);
	char *text = NULL;
	size_t len;
	CHECK_INT(gg_read_file(&text, &len, log, 1 << 20), 0);
	if (text) {
		CHECK(strncmp(text, "FIRST-LINE\n", 11) == 0);
		CHECK(strstr(text, "output truncated") != NULL);
		CHECK(strstr(text, "LAST-LINE\ngitgated: exited 0\n") != NULL);
		CHECK(strstr(text, "line-1500\n") == NULL);
	}
	free(text);
	free(log);
}

static void test_log_cap_one_big_write(void)
{
	char *log = gg_printf("%s/5.log", tmpdir);
	/* One write larger than the cap: its start is the head that stays. */
	const char *argv[] = {
	    "sh", "-c",
	    "printf 'FIRST-LINE\\n%s\\nLAST-LINE\\n' \"$(head -c 20000 /dev/zero | "
	    "tr '\\0' x)\"",
	    NULL};
	struct result res;
	char *err = NULL;
	CHECK_INT(run_once(&res, argv, log, 4096, 0, &err), 0);
	char *text = NULL;
	size_t len;
	CHECK_INT(gg_read_file(&text, &len, log, 1 << 20), 0);
	if (text) {
		CHECK(len <= 4096);
		CHECK(strncmp(text, "FIRST-LINE\nxxx", 14) == 0);
		CHECK(strstr(text, "xxx\nLAST-LINE\ngitgated: exited 0\n") != NULL);
	}
	free(text);
	free(log);
}

static void test_redact_url(void)
{
	const char *cases[][2] = {
	    {"https://user:pw@example.com/a.git", "https://user:***@example.com/a.git"},
	    {"https://ghp_0123456789abcdef@github.com/a.git", "https://***@github.com/a.git"},
	    {"HTTP://tok@example.com/a.git", "HTTP://***@example.com/a.git"},
	    {"ssh://git@host:22/x.git", "ssh://git@host:22/x.git"},
	    {"file:///srv/git/a.git", "file:///srv/git/a.git"},
	    {"https://host/p@th:x", "https://host/p@th:x"},
	    {"--keep", "--keep"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = gg_checkout_redact_url(cases[i][0]);
		CHECK_STR(r, cases[i][1]);
		free(r);
	}
	char *m = gg_checkout_mirror_path("/var/lib/gitgated", "https://example.com/acme/docs.git");
	CHECK(strncmp(m, "/var/lib/gitgated/mirrors/docs_git-", 35) == 0);
	CHECK_INT(strlen(m), strlen("/var/lib/gitgated/mirrors/docs_git-") + 16 + 4);
	char *m2 =
	    gg_checkout_mirror_path("/var/lib/gitgated", "https://example.org/acme/docs.git");
	CHECK(strcmp(m, m2) != 0);
	free(m);
	free(m2);
	/* A password never names the mirror, not even through a hash of it. */
	m = gg_checkout_mirror_path("/s", "https://deploy:s3cretpw@git.example.com:8443");
	CHECK(strstr(m, "s3cretpw") == NULL && strstr(m, "deploy") == NULL);
	CHECK(strncmp(m, "/s/mirrors/git_example_com_8443-", 32) == 0);
	m2 = gg_checkout_mirror_path("/s", "https://deploy:other@git.example.com:8443");
	CHECK_STR(m, m2);
	free(m);
	free(m2);
	m = gg_checkout_mirror_path("/s", "https://deploy:s3cretpw@git.example.com/acme/app.git");
	CHECK(strncmp(m, "/s/mirrors/app_git-", 19) == 0);
	free(m);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(test_expand_placeholders);
	RUN(test_expand_is_literal);
	RUN(test_expand_refuses_options);
	RUN(test_build_env);
	RUN(test_run_output_env_and_fds);
	RUN(test_run_missing_program);
	RUN(test_run_timeout_kills_group);
	RUN(test_log_cap_keeps_head_and_tail);
	RUN(test_log_cap_one_big_write);
	RUN(test_redact_url);
	char *cmd = gg_printf("rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		t_failures++;
	free(cmd);
	return TEST_DONE();
}
