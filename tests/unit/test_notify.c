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
	/* Never the bare directory name: the whole path when no root is configured. */
	char *whole = gg_printf("%s/work", tmp + 1);
	CHECK_STR(cfg.full_name, whole);
	free(whole);
	CHECK(cfg.url == NULL);
	CHECK(strncmp(cfg.clone_url, "file:///", 8) == 0);
	CHECK(strstr(cfg.spool_dir, "/work/.git/gitgate/spool") != NULL);
	CHECK_INT(cfg.shared_perm, 0);
	gg_notify_config_clear(&cfg);
	/* Below gitgate.repoRoot: the path relative to it. */
	CHECK_INT(
	    sh("mkdir -p %s/team-a && git -C %s/work config gitgate.repoRoot %s/", tmp, tmp, tmp),
	    0);
	git_repository_free(repo);
	CHECK_INT(git_repository_open(&repo, dir), 0);
	CHECK_INT(gg_notify_config_load(&cfg, repo, &err), 0);
	CHECK_STR(cfg.full_name, "work");
	gg_notify_config_clear(&cfg);
	/* gitgate.repoName wins over both. */
	CHECK_INT(sh("git -C %s/work config gitgate.repoName team-a/work && "
	             "git -C %s/work config core.sharedRepository group",
	             tmp, tmp),
	          0);
	git_repository_free(repo);
	CHECK_INT(git_repository_open(&repo, dir), 0);
	CHECK_INT(gg_notify_config_load(&cfg, repo, &err), 0);
	CHECK_STR(cfg.full_name, "team-a/work");
	CHECK_INT(cfg.shared_perm, 0660);
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

/* A spool for the bare directory tmp/NAME, as gg_notify_config_load would set it. */
static void spool_cfg(gg_notify_config *cfg, const char *name, int shared_perm)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->git_dir = gg_printf("%s/%s/", tmp, name);
	gg_mkdir_p(cfg->git_dir, 0755);
	cfg->spool_dir = gg_printf("%sgitgate/spool", cfg->git_dir);
	cfg->shared_perm = shared_perm;
	struct stat st;
	if (stat(cfg->git_dir, &st) == 0) {
		cfg->repo_uid = st.st_uid;
		cfg->repo_gid = st.st_gid;
	}
}

static void test_spool_and_flush(void)
{
	gg_notify_config cfg;
	spool_cfg(&cfg, "repo.git", 0);
	const gg_notify_config *spool = &cfg;
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
	gg_notify_config_clear(&cfg);
}

static void test_shared_perm(void)
{
	CHECK_INT(gg_notify_shared_perm(NULL), 0);
	CHECK_INT(gg_notify_shared_perm("umask"), 0);
	CHECK_INT(gg_notify_shared_perm("false"), 0);
	CHECK_INT(gg_notify_shared_perm("group"), 0660);
	CHECK_INT(gg_notify_shared_perm("true"), 0660);
	CHECK_INT(gg_notify_shared_perm("1"), 0660);
	CHECK_INT(gg_notify_shared_perm("all"), 0664);
	CHECK_INT(gg_notify_shared_perm("everybody"), 0664);
	CHECK_INT(gg_notify_shared_perm("2"), 0664);
	CHECK_INT(gg_notify_shared_perm("0640"), 0640);
	CHECK_INT(gg_notify_shared_perm("0440"), 0); /* the owner must keep write */
	CHECK_INT(gg_notify_shared_perm("rubbish"), 0);
}

/* Under core.sharedRepository the spool is the group's, whatever the umask. */
static void test_spool_follows_shared_repository(void)
{
	gg_notify_config cfg;
	spool_cfg(&cfg, "shared.git", 0660);
	mode_t old = umask(077);
	char *err = NULL;
	CHECK_INT(gg_notify_spool(&cfg, "44444444-4444-4444-8444-444444444444", "{}", 2, &err), 0);
	umask(old);
	struct stat st;
	char *top = gg_printf("%sgitgate", cfg.git_dir);
	CHECK_INT(stat(top, &st), 0);
	CHECK_INT(st.st_mode & 07777, 02770);
	CHECK_INT(stat(cfg.spool_dir, &st), 0);
	CHECK_INT(st.st_mode & 07777, 02770);
	char *ls = gg_printf("test \"$(stat -c %%a %s/*.json)\" = 660", cfg.spool_dir);
	CHECK_INT(sh("%s", ls), 0);
	free(ls);
	/* A spool an older version made private is opened up by its owner. */
	CHECK_INT(chmod(cfg.spool_dir, 0700), 0);
	CHECK_INT(gg_notify_spool(&cfg, "55555555-5555-4555-8555-555555555555", "{}", 2, &err), 0);
	CHECK_INT(stat(cfg.spool_dir, &st), 0);
	CHECK_INT(st.st_mode & 07777, 02770);
	free(top);
	gg_notify_config_clear(&cfg);
}

/* What an attacker plants in a spool is never sent or followed. */
static void test_flush_refuses_planted_files(void)
{
	gg_notify_config cfg;
	spool_cfg(&cfg, "planted.git", 0);
	char *err = NULL;
	char *record = gg_printf("%s/planted-requests", tmp);
	CHECK_INT(
	    gg_notify_spool(&cfg, "66666666-6666-4666-8666-666666666666", "{\"ok\":1}", 8, &err),
	    0);
	/* A symlink and a hard link to a file outside, named like events. */
	CHECK_INT(
	    sh("printf 'TOP-SECRET' > %s/secret.txt && "
	       "ln -s %s/secret.txt "
	       "%s/00000000000000000001-aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa.json && "
	       "ln %s/secret.txt %s/00000000000000000002-bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb.json",
	       tmp, tmp, cfg.spool_dir, tmp, cfg.spool_dir),
	    0);
	int port = 0;
	pid_t pid = serve(&port, 1, 202, record);
	char *url = gg_printf("http://127.0.0.1:%d/hooks/git", port);
	gg_notify_flush_stats st;
	CHECK_INT(gg_notify_flush(&st, &cfg, url, "k", 1, gg_now_ms() + 5000), -1);
	CHECK_INT(st.sent, 1);
	CHECK_INT(st.skipped, 2);
	CHECK_INT(st.left, 2);
	CHECK(!st.stopped);
	CHECK(st.last_error && strstr(st.last_error, "not sent"));
	CHECK(st.skipped_why && strstr(st.skipped_why, "a symlink; not sent") &&
	      strstr(st.skipped_why, "not a plain file with one link"));
	free(st.last_error);
	free(st.skipped_why);
	waitpid(pid, NULL, 0);
	char *text = NULL;
	size_t len;
	CHECK_INT(gg_read_file(&text, &len, record, 1 << 20), 0);
	CHECK(text && strstr(text, "{\"ok\":1}") && !strstr(text, "TOP-SECRET"));
	free(text);

	/* A spool directory that is a symlink is not used at all. */
	CHECK_INT(
	    sh("rm -rf %s && mkdir %s/elsewhere && "
	       "printf x > "
	       "%s/elsewhere/00000000000000000003-cccccccc-cccc-4ccc-8ccc-cccccccccccc.json && "
	       "ln -s %s/elsewhere %s",
	       cfg.spool_dir, tmp, tmp, tmp, cfg.spool_dir),
	    0);
	CHECK_INT(gg_notify_flush(&st, &cfg, url, "k", 1, gg_now_ms() + 2000), -1);
	CHECK_INT(st.sent, 0);
	CHECK(st.last_error && strstr(st.last_error, "not a directory (a symlink?)"));
	free(st.last_error);
	CHECK_INT(gg_notify_spool(&cfg, "77777777-7777-4777-8777-777777777777", "{}", 2, &err), -1);
	CHECK(err && strstr(err, "symlink"));
	free(err);
	err = NULL;

	/* Written by another account in a repository that is not shared: refused. */
	if (geteuid() == 0) {
		CHECK_INT(sh("rm -f %s && mkdir %s", cfg.spool_dir, cfg.spool_dir), 0);
		CHECK_INT(sh("printf '{}' > "
		             "%s/00000000000000000004-dddddddd-dddd-4ddd-8ddd-dddddddddddd.json && "
		             "chown 54321:54321 %s/*.json",
		             cfg.spool_dir, cfg.spool_dir),
		          0);
		CHECK_INT(gg_notify_flush(&st, &cfg, url, "k", 1, gg_now_ms() + 2000), -1);
		CHECK_INT(st.skipped, 1);
		CHECK(st.last_error && strstr(st.last_error, "belongs to uid 54321"));
		free(st.last_error);
		free(st.skipped_why);
		/* In a repository shared with that group, the same file goes. */
		cfg.shared_perm = 0660;
		cfg.repo_gid = 54321;
		pid = serve(&port, 1, 202, record);
		free(url);
		url = gg_printf("http://127.0.0.1:%d/hooks/git", port);
		CHECK_INT(gg_notify_flush(&st, &cfg, url, "k", 1, gg_now_ms() + 5000), 0);
		CHECK_INT(st.sent, 1);
		free(st.last_error);
		waitpid(pid, NULL, 0);
	}
	free(url);
	free(record);
	gg_notify_config_clear(&cfg);
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
	RUN(test_shared_perm);
	RUN(test_spool_follows_shared_repository);
	RUN(test_flush_refuses_planted_files);
	RUN(test_url_forms);
	git_libgit2_shutdown();
	sh("rm -rf %s", tmp);
	return TEST_DONE();
}
