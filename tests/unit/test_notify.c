#include "gitgate/httpc.h"
#include "gitgate/notify.h"
#include "gitgate/util.h"
#include "test.h"

#include <git2.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[] = "/tmp/gg-notify-XXXXXX";

static int sh(const char *fmt, ...) GG_PRINTF(1, 2);
static int sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = gg_vprintf(fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	free(cmd);
	return rc;
}

static char *git_out(const char *args)
{
	char *cmd = gg_printf("git -C %s/work %s", tmp, args);
	FILE *p = popen(cmd, "r");
	char buf[128] = "";
	if (p) {
		if (fgets(buf, sizeof(buf), p) == NULL)
			buf[0] = '\0';
		pclose(p);
	}
	free(cmd);
	buf[strcspn(buf, "\n")] = '\0';
	return gg_strdup(buf);
}

static void test_sign_known_vector(void)
{
	/* RFC 4231, test case 2. */
	char sig[72];
	const char *data = "what do ya want for nothing?";
	gg_notify_sign(sig, "Jefe", 4, data, strlen(data));
	CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_delivery_ids(void)
{
	char a[37], b[37];
	gg_notify_new_delivery(a);
	gg_notify_new_delivery(b);
	CHECK_INT(strlen(a), 36);
	CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	CHECK(a[14] == '4');
	CHECK(strchr("89ab", a[19]) != NULL);
	CHECK(strcmp(a, b) != 0);
}

static void test_secret_file_permissions(void)
{
	char *path = gg_printf("%s/secret", tmp);
	sh("printf 's3cret\\n' > %s", path);
	char *s = NULL, *err = NULL;
	size_t len = 0;
	chmod(path, 0644);
	CHECK_INT(gg_read_secret_file(&s, &len, path, &err), -1);
	CHECK(err && strstr(err, "group- or world-accessible (mode 0644)"));
	free(err);
	err = NULL;
	chmod(path, 0600);
	CHECK_INT(gg_read_secret_file(&s, &len, path, &err), 0);
	CHECK_STR(s, "s3cret");
	CHECK_INT(len, 6);
	free(s);
	/* The daemon reads the same file the same way: all trailing whitespace goes. */
	sh("printf 's3cret \\r\\n\\n' > %s", path);
	CHECK_INT(gg_read_secret_file(&s, &len, path, &err), 0);
	CHECK_STR(s, "s3cret");
	free(s);
	sh("printf '\\n' > %s", path);
	CHECK_INT(gg_read_secret_file(&s, &len, path, &err), -1);
	CHECK(err && strstr(err, "secret file is empty"));
	free(err);
	free(path);
}

static json_t *build(git_repository *repo, const char *old_id, const char *new_id, const char *ref)
{
	gg_notify_repo info = {"acme/proj", "file:///srv/git/proj.git", "alice"};
	gg_notify_update u = {old_id, new_id, ref};
	char *body = NULL, *err = NULL;
	int rc = gg_notify_build(&body, repo, &info, &u, &err);
	CHECK_INT(rc, 0);
	if (rc < 0) {
		printf("#   %s\n", err);
		free(err);
		return NULL;
	}
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	return j;
}

static const char *jstr(json_t *j, const char *path)
{
	/* "a.b" lookups over objects only. */
	char *p = gg_strdup(path), *save = NULL;
	for (char *k = strtok_r(p, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = json_object_get(j, k);
	free(p);
	return j ? json_string_value(j) : NULL;
}

static bool list_is(json_t *list, const char *a, const char *b)
{
	if (b == NULL)
		return json_array_size(list) == (a ? 1u : 0u) &&
		       (!a || !strcmp(json_string_value(json_array_get(list, 0)), a));
	return json_array_size(list) == 2 &&
	       !strcmp(json_string_value(json_array_get(list, 0)), a) &&
	       !strcmp(json_string_value(json_array_get(list, 1)), b);
}

static void test_build_payload(void)
{
	CHECK_INT(sh("cd %s && git init -q -b main work && cd work && "
	             "echo a > a.txt && echo b > b.txt && git add . && "
	             "git -c user.name=A -c user.email=a@x commit -qm 'first' && "
	             "echo a2 > a.txt && git rm -q b.txt && mkdir c && echo d > c/d.txt && "
	             "git add . && git -c user.name=B -c user.email=b@x commit -qm 'second'",
	             tmp),
	          0);
	char *c1 = git_out("rev-parse HEAD~1"), *c2 = git_out("rev-parse HEAD");
	char *dir = gg_printf("%s/work", tmp);
	git_repository *repo = NULL;
	CHECK_INT(git_repository_open(&repo, dir), 0);
	const char *zero = "0000000000000000000000000000000000000000";

	json_t *j = build(repo, c1, c2, "refs/heads/main");
	if (j) {
		CHECK_STR(jstr(j, "ref"), "refs/heads/main");
		CHECK_STR(jstr(j, "before"), c1);
		CHECK_STR(jstr(j, "after"), c2);
		CHECK_STR(jstr(j, "repository.full_name"), "acme/proj");
		CHECK_STR(jstr(j, "repository.name"), "proj");
		CHECK_STR(jstr(j, "repository.clone_url"), "file:///srv/git/proj.git");
		CHECK_STR(jstr(j, "pusher.name"), "alice");
		json_t *commits = json_object_get(j, "commits");
		CHECK_INT(json_array_size(commits), 1);
		json_t *c = json_array_get(commits, 0);
		CHECK_STR(jstr(c, "id"), c2);
		CHECK_STR(jstr(c, "message"), "second\n");
		CHECK_STR(jstr(c, "author.email"), "b@x");
		CHECK(list_is(json_object_get(c, "added"), "c/d.txt", NULL));
		CHECK(list_is(json_object_get(c, "modified"), "a.txt", NULL));
		CHECK(list_is(json_object_get(c, "removed"), "b.txt", NULL));
		CHECK_STR(jstr(j, "head_commit.id"), c2);
		CHECK(json_is_false(json_object_get(j, "created")));
		CHECK(json_is_false(json_object_get(j, "forced")));
		json_decref(j);
	}

	/* A new branch lists what no other ref has: both commits here, oldest first. */
	j = build(repo, zero, c2, "refs/heads/main");
	if (j) {
		json_t *commits = json_object_get(j, "commits");
		CHECK_INT(json_array_size(commits), 2);
		CHECK_STR(jstr(json_array_get(commits, 0), "id"), c1);
		CHECK(list_is(json_object_get(json_array_get(commits, 0), "added"), "a.txt",
		              "b.txt"));
		CHECK(json_is_true(json_object_get(j, "created")));
		json_decref(j);
	}
	/* ... and nothing when another ref already holds them. */
	sh("git -C %s/work branch other %s", tmp, c2);
	j = build(repo, zero, c2, "refs/heads/feature");
	if (j) {
		CHECK_INT(json_array_size(json_object_get(j, "commits")), 0);
		json_decref(j);
	}
	/* A deletion: no commits, deleted set. */
	j = build(repo, c2, zero, "refs/heads/other");
	if (j) {
		CHECK(json_is_true(json_object_get(j, "deleted")));
		CHECK(json_is_null(json_object_get(j, "head_commit")));
		json_decref(j);
	}
	/* A forced update backwards. */
	j = build(repo, c2, c1, "refs/heads/main");
	if (j) {
		CHECK(json_is_true(json_object_get(j, "forced")));
		json_decref(j);
	}
	/* Garbage ids are refused with a message. */
	gg_notify_repo info = {"a/b", "file:///x", "p"};
	gg_notify_update bad = {"xyz", c2, "refs/heads/main"};
	char *body = NULL, *err = NULL;
	CHECK_INT(gg_notify_build(&body, repo, &info, &bad, &err), -1);
	CHECK(err != NULL);
	free(err);

	/* 205 new commits: the newest 200 are listed, oldest first, and the cut is said. */
	CHECK_INT(sh("cd %s/work && i=1; while [ $i -le 205 ]; do "
	             "printf 'commit refs/heads/big\\nmark :%%d\\ncommitter A <a@x> %%d +0000\\n"
	             "data 2\\nc\\n' $i $((1000000 + i)); "
	             "[ $i -gt 1 ] && printf 'from :%%d\\n' $((i - 1)); "
	             "printf 'M 644 inline f%%d\\ndata 2\\nx\\n\\n' $i; i=$((i + 1)); done | "
	             "git fast-import --quiet",
	             tmp),
	          0);
	char *big = git_out("rev-parse big");
	j = build(repo, zero, big, "refs/heads/big");
	if (j) {
		json_t *commits = json_object_get(j, "commits");
		CHECK_INT(json_array_size(commits), GG_NOTIFY_MAX_COMMITS);
		CHECK_STR(jstr(json_array_get(commits, json_array_size(commits) - 1), "id"), big);
		CHECK(json_is_true(json_object_get(j, "commits_truncated")));
		CHECK(list_is(json_object_get(json_array_get(commits, 0), "added"), "f6", NULL));
		json_decref(j);
	}
	free(big);

	gg_notify_config cfg;
	CHECK_INT(gg_notify_config_load(&cfg, repo, &err), 0);
	CHECK_STR(cfg.full_name, "work");
	CHECK(cfg.url == NULL);
	CHECK(strncmp(cfg.clone_url, "file:///", 8) == 0);
	CHECK(strstr(cfg.spool_dir, "/work/.git/gitgate/spool") != NULL);
	gg_notify_config_clear(&cfg);

	git_repository_free(repo);
	free(dir);
	free(c1);
	free(c2);
}

/* A one-shot HTTP server in a child: answers `status` to n requests, appending them to a file. */
static pid_t serve(int *port, int n, int status, const char *record)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 8) < 0)
		return -1;
	getsockname(ls, (struct sockaddr *)&a, &al);
	*port = ntohs(a.sin_port);
	pid_t pid = fork();
	if (pid != 0) {
		close(ls);
		return pid;
	}
	FILE *rec = fopen(record, "a");
	for (int i = 0; i < n; i++) {
		int c = accept(ls, NULL, NULL);
		char buf[65536];
		size_t len = 0;
		/* Headers, then Content-Length bytes. */
		for (;;) {
			ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = '\0';
			char *e = strstr(buf, "\r\n\r\n");
			char *cl = strcasestr(buf, "Content-Length:");
			if (e && cl && len - (size_t)(e + 4 - buf) >= (size_t)atol(cl + 15))
				break;
		}
		fwrite(buf, 1, len, rec);
		fputs("\n=====\n", rec);
		fflush(rec);
		char resp[128];
		int rl = snprintf(resp, sizeof(resp),
		                  "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
		                  "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		                  status);
		if (write(c, resp, (size_t)rl) < 0)
			break;
		close(c);
	}
	fclose(rec);
	_exit(0);
}

static void test_spool_and_flush(void)
{
	char *spool = gg_printf("%s/repo.git/gitgate/spool", tmp);
	char *record = gg_printf("%s/requests", tmp);
	char *err = NULL;
	CHECK_INT(
	    gg_notify_spool(spool, "11111111-1111-4111-8111-111111111111", "{\"n\":1}", 7, &err),
	    0);
	CHECK_INT(
	    gg_notify_spool(spool, "22222222-2222-4222-8222-222222222222", "{\"n\":2}", 7, &err),
	    0);
	CHECK_INT(gg_notify_spool(spool, "../evil", "{}", 2, &err), -1);
	free(err);
	CHECK_INT(gg_notify_spooled(spool), 2);

	/* Nobody listens: both stay, in order. */
	int port = 0;
	pid_t pid = serve(&port, 0, 202, record);
	waitpid(pid, NULL, 0);
	char *url = gg_printf("http://127.0.0.1:%d/hooks/git", port);
	gg_notify_flush_stats st;
	CHECK_INT(gg_notify_flush(&st, spool, url, "k", 1, gg_now_ms() + 2000), -1);
	CHECK_INT(st.sent, 0);
	CHECK_INT(st.left, 2);
	CHECK(st.last_error && strstr(st.last_error, "cannot connect"));
	free(st.last_error);
	free(url);

	pid = serve(&port, 2, 202, record);
	url = gg_printf("http://127.0.0.1:%d/hooks/git", port);
	CHECK_INT(gg_notify_flush(&st, spool, url, "k", 1, gg_now_ms() + 5000), 0);
	CHECK_INT(st.sent, 2);
	CHECK_INT(st.left, 0);
	free(st.last_error);
	waitpid(pid, NULL, 0);
	CHECK_INT(gg_notify_spooled(spool), 0);

	char *text = NULL;
	size_t len;
	CHECK_INT(gg_read_file(&text, &len, record, 1 << 20), 0);
	if (text) {
		char *first = strstr(text, "X-Gitgate-Delivery: 11111111");
		char *second = strstr(text, "X-Gitgate-Delivery: 22222222");
		CHECK(first && second && first < second);
		char sig[72], *want;
		gg_notify_sign(sig, "k", 1, "{\"n\":1}", 7);
		want = gg_printf("X-Gitgate-Signature: %s", sig);
		CHECK(strstr(text, want) != NULL);
		free(want);
		CHECK(strstr(text, "POST /hooks/git HTTP/1.1\r\n") != NULL);
	}
	free(text);
	free(url);

	/* A 4xx is not retried: the event is set aside as .rejected. */
	CHECK_INT(gg_notify_spool(spool, "33333333-3333-4333-8333-333333333333", "{}", 2, &err), 0);
	pid = serve(&port, 1, 401, record);
	url = gg_printf("http://127.0.0.1:%d/hooks/git", port);
	CHECK_INT(gg_notify_flush(&st, spool, url, "k", 1, gg_now_ms() + 5000), 0);
	CHECK_INT(st.rejected, 1);
	free(st.last_error);
	waitpid(pid, NULL, 0);
	CHECK_INT(gg_notify_spooled(spool), 0);
	free(url);
	free(record);
	free(spool);
}

static void test_url_forms(void)
{
	gg_httpc_url u;
	char *err = NULL;
	CHECK_INT(gg_httpc_url_parse(&u, "http://127.0.0.1:8080/hooks/git", &err), 0);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_STR(u.port, "8080");
	CHECK_STR(u.path, "/hooks/git");
	gg_httpc_url_clear(&u);
	CHECK_INT(gg_httpc_url_parse(&u, "http://[::1]/x", &err), 0);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.port, "80");
	gg_httpc_url_clear(&u);
	CHECK_INT(gg_httpc_url_parse(&u, "unix:/run/a:b.sock:/hooks/git", &err), 0);
	CHECK_STR(u.socket_path, "/run/a:b.sock");
	CHECK_STR(u.path, "/hooks/git");
	gg_httpc_url_clear(&u);
	CHECK_INT(gg_httpc_url_parse(&u, "unix:/run/g.sock", &err), 0);
	CHECK_STR(u.path, "/");
	gg_httpc_url_clear(&u);
	CHECK_INT(gg_httpc_url_parse(&u, "https://example.com/", &err), -1);
	free(err);
	CHECK_INT(gg_httpc_url_parse(&u, "http://host:port/", &err), -1);
	free(err);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	if (mkdtemp(tmp) == NULL)
		return 1;
	git_libgit2_init();
	RUN(test_sign_known_vector);
	RUN(test_delivery_ids);
	RUN(test_secret_file_permissions);
	RUN(test_build_payload);
	RUN(test_spool_and_flush);
	RUN(test_url_forms);
	git_libgit2_shutdown();
	sh("rm -rf %s", tmp);
	return TEST_DONE();
}
