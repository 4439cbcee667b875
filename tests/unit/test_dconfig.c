/* Unit tests for the daemon config loader: defaults, every key, errors with positions. */
#include "../../daemon/config.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gg-dconfig-XXXXXX";

static char *write_secret(const char *name, const char *text, mode_t mode)
{
	char *path = gg_printf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* Parse text with @S@ replaced by the secrets directory. */
static int parse(gg_dconfig **cfg, gg_diag *diag, const char *text)
{
	gg_buf b = GG_BUF_INIT;
	for (const char *p = text; *p; p++) {
		if (strncmp(p, "@S@", 3) == 0) {
			gg_buf_puts(&b, dir);
			p += 2;
		} else {
			gg_buf_putc(&b, *p);
		}
	}
	int rc = gg_dconfig_parse(cfg, "d.yaml", b.ptr, b.len, diag);
	gg_buf_free(&b);
	return rc;
}

static bool has_msg(const gg_diag *d, const char *s)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], s))
			return true;
	for (size_t i = 0; i < d->n; i++)
		printf("#   diag: %s\n", d->msgs[i]);
	return false;
}

static void test_full_config(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	int rc = parse(&cfg, &diag,
	               "listen: [\"127.0.0.1:8080\", \"[::1]:8081\", \"unix:/run/g.sock\"]\n"
	               "state_dir: /var/lib/gitgated\n"
	               "max_body: 2MiB\n"
	               "max_header: 8KiB\n"
	               "max_connections: 100\n"
	               "read_timeout: 5s\n"
	               "max_parallel: 2\n"
	               "shutdown_grace: 1m\n"
	               "log_max: 512KiB\n"
	               "retry_backoff: 10s\n"
	               "delivery_retention: 14d\n"
	               "api_token_file: @S@/api\n"
	               "sources:\n"
	               "  - {name: github, kind: github, secret_file: @S@/gh}\n"
	               "  - name: gitlab\n"
	               "    kind: gitlab\n"
	               "    secret_file: @S@/gh\n"
	               "    signing_secret_file: @S@/whsec\n"
	               "targets:\n"
	               "  - name: prod\n"
	               "    source: github\n"
	               "    repo: acme/platform-config\n"
	               "    ref: refs/heads/main\n"
	               "    paths: [\"clusters/prod/**\"]\n"
	               "    run: [/usr/local/bin/deploy, --commit, \"{after}\"]\n"
	               "    env: {KUBECONFIG: /etc/k, MODE: fast}\n"
	               "    timeout: 2m\n"
	               "    retries: 2\n"
	               "    nice: 0\n"
	               "  - name: docs\n"
	               "    repo: acme/docs\n"
	               "    ref: refs/heads/main\n"
	               "    checkout:\n"
	               "      url: file:///srv/git/docs.git\n"
	               "      dir: /srv/www/docs\n"
	               "      poll: 5m\n"
	               "      branch: main\n"
	               "      run: [/bin/true]\n"
	               "      username: bot\n"
	               "      password_file: /etc/p\n"
	               "      ssh_key_file: /etc/k\n"
	               "      ssh_public_key_file: /etc/k.pub\n"
	               "      ssh_known_hosts_file: /etc/kh\n");
	CHECK_INT(rc, 0);
	for (size_t i = 0; i < diag.n; i++)
		printf("#   %s\n", diag.msgs[i]);
	if (cfg == NULL)
		return;
	CHECK_INT(cfg->nlisten, 3);
	CHECK_STR(cfg->listen[2], "unix:/run/g.sock");
	CHECK_INT(cfg->max_body, 2 * 1024 * 1024);
	CHECK_INT(cfg->max_header, 8192);
	CHECK_INT(cfg->max_connections, 100);
	CHECK_INT(cfg->read_timeout_ms, 5000);
	CHECK_INT(cfg->max_parallel, 2);
	CHECK_INT(cfg->shutdown_grace_ms, 60000);
	CHECK_INT(cfg->log_max, 512 * 1024);
	CHECK_INT(cfg->retry_backoff_ms, 10000);
	CHECK_INT(cfg->delivery_retention_ms, 14ULL * 24 * 3600 * 1000);
	CHECK_STR(cfg->api_token, "api-token");
	CHECK_INT(cfg->nsources, 2);
	CHECK_STR(cfg->sources[0].secret, "gh-secret"); /* trailing newline stripped */
	CHECK_INT(cfg->sources[0].secret_len, 9);
	CHECK(cfg->sources[1].kind == GG_SRC_GITLAB);
	CHECK_INT(cfg->sources[1].signing_key_len, 32);
	if (cfg->sources[1].signing_key)
		CHECK(memcmp(cfg->sources[1].signing_key, "0123456789abcdef0123456789abcdef", 32) ==
		      0);
	const gg_dtarget *t = gg_dconfig_target(cfg, "prod");
	CHECK(t != NULL);
	if (t) {
		CHECK_STR(t->source, "github");
		CHECK_INT(t->nrun, 3);
		CHECK_STR(t->run[2], "{after}");
		CHECK_INT(t->nenv, 2);
		CHECK_STR(t->env[1].key, "MODE");
		CHECK_INT(t->timeout_ms, 120000);
		CHECK_INT(t->retries, 2);
		CHECK_INT(t->nice, 0);
		CHECK(t->checkout == NULL);
	}
	t = gg_dconfig_target(cfg, "docs");
	CHECK(t && t->checkout);
	if (t && t->checkout) {
		CHECK_INT(t->timeout_ms, GG_DEFAULT_TIMEOUT_MS);
		CHECK_INT(t->nice, GG_DEFAULT_NICE);
		CHECK_INT(t->checkout->keep, GG_DEFAULT_KEEP);
		CHECK_INT(t->checkout->poll_ms, 300000);
		CHECK_STR(t->checkout->ssh_known_hosts_file, "/etc/kh");
		CHECK_INT(t->checkout->nrun, 1);
		CHECK(t->nrun == 0);
	}
	CHECK(gg_dconfig_source(cfg, "nope") == NULL);
	gg_dconfig_free(cfg);
	gg_diag_free(&diag);
}

static void test_defaults(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	CHECK_INT(
	    parse(&cfg, &diag,
	          "state_dir: /s\nsources: [{name: g, kind: generic, secret_file: @S@/gh}]\n"),
	    0);
	if (cfg == NULL)
		return;
	CHECK_INT(cfg->max_body, GG_DEFAULT_MAX_BODY);
	CHECK_INT(cfg->max_parallel, GG_DEFAULT_MAX_PARALLEL);
	CHECK_INT(cfg->shutdown_grace_ms, 30000);
	CHECK_INT(cfg->delivery_retention_ms, GG_DEFAULT_DELIVERY_RETENTION);
	CHECK(cfg->api_token == NULL);
	CHECK(!cfg->api_allow_loopback);
	CHECK_INT(cfg->max_connections_per_peer, GG_DEFAULT_MAX_CONNECTIONS / 4);
	CHECK_INT(cfg->ntargets, 0);
	gg_dconfig_free(cfg);
	gg_diag_free(&diag);
}

/* The keys of the security settings: API loopback trust, per-peer cap, rollbacks. */
static void test_security_keys(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	CHECK_INT(
	    parse(&cfg, &diag,
	          "state_dir: /s\n"
	          "max_connections: 2\n"
	          "api: {allow_loopback_without_token: true}\n"
	          "sources: [{name: g, kind: generic, secret_file: @S@/gh}]\n"
	          "targets:\n"
	          "  - {name: a, repo: x/y, ref: refs/heads/main, run: [d], allow_rollback: true}\n"
	          "  - {name: b, repo: x/y, ref: refs/heads/main, run: [d]}\n"),
	    0);
	if (cfg) {
		CHECK(cfg->api_allow_loopback);
		CHECK_INT(cfg->max_connections_per_peer, 1); /* a quarter, at least one */
		CHECK(cfg->targets[0].allow_rollback);
		CHECK(!cfg->targets[1].allow_rollback);
	}
	gg_dconfig_free(cfg);
	cfg = NULL;
	CHECK_INT(
	    parse(&cfg, &diag,
	          "state_dir: /s\n"
	          "max_connections_per_peer: 0\n"
	          "api: {allow_loopback_without_token: yes please, token: x}\n"
	          "sources: [{name: g, kind: generic, secret_file: @S@/gh}]\n"
	          "targets:\n"
	          "  - {name: a, repo: x/y, ref: refs/heads/main, run: [d], allow_rollback: 1}\n"),
	    -1);
	CHECK(has_msg(&diag, "d.yaml:2:27: 'max_connections_per_peer' must be an integer from 1"));
	CHECK(has_msg(&diag, "d.yaml:3:37: 'allow_loopback_without_token' must be true or false"));
	CHECK(has_msg(&diag, "unknown key 'token' in api"));
	CHECK(has_msg(&diag, "'allow_rollback' must be true or false"));
	gg_diag_free(&diag);
}

/* store: sqlite by default; postgres with a conninfo file that is a secret. */
/* replica: and lease:, with their defaults and the names refused. */
static void test_replica_keys(void)
{
	const char *src = "sources: [{name: g, kind: generic, secret_file: @S@/gh}]\n";
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	char *text = gg_printf("listen: [\"127.0.0.1:8123\"]\nstate_dir: /s\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), 0);
	free(text);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char *want = gg_printf("%s:8123", host);
	if (cfg) {
		CHECK_STR(cfg->replica, want);
		CHECK_INT(cfg->lease_ms, GG_DEFAULT_LEASE_MS);
	}
	free(want);
	gg_dconfig_free(cfg);
	cfg = NULL;

	text = gg_printf("state_dir: /s\nreplica: web-2.example:443\nlease: 10s\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), 0);
	free(text);
	if (cfg) {
		CHECK_STR(cfg->replica, "web-2.example:443");
		CHECK_INT(cfg->lease_ms, 10000);
	}
	gg_dconfig_free(cfg);
	cfg = NULL;

	/* A name that would break a metrics label or a terminal line, and a lease too short. */
	text = gg_printf("state_dir: /s\nreplica: \"a\\\"b\\e[2J\"\nlease: 1s\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), -1);
	free(text);
	CHECK(has_msg(&diag, "d.yaml:2:10: 'replica' must be 1 to 128 letters"));
	CHECK(has_msg(&diag, "d.yaml:3:8: 'lease' must be at least 3000 ms"));
	gg_dconfig_free(cfg);
	gg_diag_free(&diag);
}

static void test_store_keys(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	const char *src = "sources: [{name: g, kind: generic, secret_file: @S@/gh}]\n";
	char *text = gg_printf("state_dir: /s\nstore: {kind: sqlite}\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), 0);
	free(text);
	if (cfg)
		CHECK(cfg->store_kind == GG_STORE_SQLITE && cfg->store_conninfo == NULL);
	gg_dconfig_free(cfg);
	cfg = NULL;

	free(write_secret("pg", "host=/run/pg user=gg password=S3cretPw dbname=gg\n", 0600));
	text = gg_printf("state_dir: /s\nstore: {kind: postgres, conninfo_file: @S@/pg}\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), 0);
	free(text);
	if (cfg) {
		CHECK(cfg->store_kind == GG_STORE_POSTGRES);
		CHECK_STR(cfg->store_conninfo, "host=/run/pg user=gg password=S3cretPw dbname=gg");
	}
	gg_dconfig_free(cfg);
	cfg = NULL;

	/* A conninfo file others can read is refused, like every secret file. */
	free(write_secret("pg", "host=/run/pg user=gg password=S3cretPw dbname=gg\n", 0640));
	text = gg_printf("state_dir: /s\nstore: {kind: postgres, conninfo_file: @S@/pg}\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), -1);
	free(text);
	CHECK(has_msg(&diag, "secret file is group- or world-accessible"));
	gg_diag_free(&diag);

	/* A string libpq cannot parse is refused without quoting it. */
	free(write_secret("pg", "host=/run/pg password S3cretPw\n", 0600));
	text = gg_printf("state_dir: /s\nstore: {kind: postgres, conninfo_file: @S@/pg}\n"
	                 "%s",
	                 src);
	CHECK_INT(parse(&cfg, &diag, text), -1);
	free(text);
	CHECK(has_msg(&diag, "not a libpq connection string or URI"));
	for (size_t i = 0; i < diag.n; i++)
		CHECK(strstr(diag.msgs[i], "S3cretPw") == NULL);
	gg_diag_free(&diag);

	text = gg_printf("state_dir: /s\nstore: {kind: mysql, conninfo_file: @S@/pg, x: 1}\n"
	                 "%sstore2: {kind: postgres}\n",
	                 src);
	CHECK_INT(parse(&cfg, &diag, text), -1);
	free(text);
	CHECK(has_msg(&diag, "'kind' must be sqlite or postgres, not 'mysql'"));
	CHECK(has_msg(&diag, "unknown key 'x' in store"));
	gg_diag_free(&diag);
	text = gg_printf("state_dir: /s\nstore: {kind: postgres}\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), -1);
	free(text);
	CHECK(has_msg(&diag, "a postgres store needs 'conninfo_file'"));
	gg_diag_free(&diag);
	text = gg_printf("state_dir: /s\nstore: {kind: sqlite, conninfo_file: @S@/pg}\n%s", src);
	CHECK_INT(parse(&cfg, &diag, text), -1);
	free(text);
	CHECK(has_msg(&diag, "'conninfo_file' applies to postgres stores only"));
	gg_diag_free(&diag);

	/* Both stores keep the reports outbox: a target's report destinations stay. */
	free(write_secret("pg", "host=/run/pg user=gg password=S3cretPw dbname=gg\n", 0600));
	free(write_secret("hook", "hook-key\n", 0600));
	text = gg_printf("state_dir: /s\nstore: {kind: postgres, conninfo_file: @S@/pg}\n%s"
	                 "targets:\n  - {name: t, source: g, repo: a/b, ref: refs/heads/main,"
	                 " run: [\"true\"],\n"
	                 "     report: [{kind: webhook, url: \"http://127.0.0.1:9/x\","
	                 " token_file: @S@/hook}]}\n",
	                 src);
	CHECK_INT(parse(&cfg, &diag, text), 0);
	free(text);
	if (cfg) {
		CHECK(cfg->store_kind == GG_STORE_POSTGRES);
		CHECK_INT(cfg->ntargets, 1);
		if (cfg->ntargets == 1)
			CHECK_INT(cfg->targets[0].nreports, 1);
	}
	gg_dconfig_free(cfg);
	cfg = NULL;
	gg_diag_free(&diag);
}

static void test_errors_with_positions(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	int rc =
	    parse(&cfg, &diag,
	          "listen: nowhere\n"
	          "state_dir: /s\n"
	          "max_connections: -1\n"
	          "sources:\n"
	          "  - {name: \"bad name\", kind: github, secret_file: @S@/open}\n"
	          "  - {name: gl, kind: github, secret_file: @S@/gh, signing_secret_file: @S@/gh}\n"
	          "  - {name: x, kind: gitlab, secret_file: @S@/gh, signing_secret_file: @S@/gh}\n"
	          "  - {name: y, kind: github, secret_file: @S@/missing}\n"
	          "targets:\n"
	          "  - name: t\n"
	          "    repo: a/b\n"
	          "    ref: refs/heads/main\n"
	          "    run: []\n"
	          "    retries: many\n"
	          "    env: {A: [1]}\n"
	          "    extra: 1\n"
	          "  - name: t\n"
	          "    repo: a/b\n"
	          "    ref: x\n"
	          "    nice: 20\n"
	          "    checkout: {url: u, dir: relative, keep: 0, bogus: 1}\n");
	CHECK_INT(rc, -1);
	CHECK(cfg == NULL);
	CHECK(has_msg(&diag, "d.yaml:1:9: listen address 'nowhere'"));
	CHECK(has_msg(&diag, "d.yaml:3:18: 'max_connections' must be an integer"));
	CHECK(has_msg(&diag, "d.yaml:5:12: source name 'bad name'"));
	CHECK(has_msg(&diag, "d.yaml:5:51: "));
	CHECK(has_msg(&diag, "secret file is group- or world-accessible (mode 0644)"));
	CHECK(has_msg(&diag, "d.yaml:6:91: 'signing_secret_file' applies to gitlab sources only"));
	CHECK(has_msg(&diag, "signing secret must be 'whsec_' followed by base64"));
	CHECK(has_msg(&diag, "missing: No such file or directory"));
	CHECK(has_msg(&diag, "d.yaml:13:10: 'run' must be a non-empty list"));
	CHECK(has_msg(&diag, "d.yaml:14:14: 'retries' must be an integer"));
	CHECK(has_msg(&diag, "d.yaml:15:11: 'env' entries must be NAME: string"));
	CHECK(has_msg(&diag, "d.yaml:16:5: unknown key 'extra' in target"));
	CHECK(has_msg(&diag, "d.yaml:17:11: duplicate target name 't'"));
	CHECK(has_msg(&diag, "'dir' must be an absolute path"));
	CHECK(has_msg(&diag, "'keep' must be an integer from 1"));
	CHECK(has_msg(&diag, "d.yaml:20:11: 'nice' must be an integer from 0 to 19"));
	CHECK(has_msg(&diag, "unknown key 'bogus' in checkout"));
	gg_diag_free(&diag);

	CHECK_INT(parse(&cfg, &diag, "a: [\n"), -1);
	CHECK(diag.n >= 1 && strncmp(diag.msgs[0], "d.yaml:", 7) == 0);
	gg_diag_free(&diag);
	CHECK_INT(parse(&cfg, &diag, "state_dir: /s\nstate_dir: /t\nsources: []\n"), -1);
	CHECK(has_msg(&diag, "d.yaml:2:1: "));
	CHECK(has_msg(&diag, "'sources' must be a non-empty list"));
	gg_diag_free(&diag);
	CHECK_INT(parse(&cfg, &diag, "- 1\n"), -1);
	CHECK(has_msg(&diag, "the config must be one YAML mapping"));
	gg_diag_free(&diag);
	CHECK_INT(parse(&cfg, &diag, ""), -1);
	gg_diag_free(&diag);
}

static void test_local_source(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	CHECK_INT(
	    parse(&cfg, &diag,
	          "listen: [\"unix:/run/gitgated/notify.sock\"]\n"
	          "state_dir: /s\n"
	          "unix_socket: {mode: \"0660\", group: git}\n"
	          "sources:\n"
	          "  - {name: local, kind: local, root: /srv/git, trusted_users: www-data}\n"),
	    0);
	if (cfg) {
		CHECK_INT(cfg->socket_mode, 0660);
		CHECK_STR(cfg->socket_group, "git");
		CHECK_INT(cfg->sources[0].kind, GG_SRC_LOCAL);
		CHECK_STR(cfg->sources[0].root, "/srv/git");
		CHECK_INT(cfg->sources[0].ntrusted_users, 1);
		CHECK_STR(cfg->sources[0].trusted_users[0], "www-data");
		CHECK(cfg->sources[0].secret == NULL);
		gg_diag w = GG_DIAG_INIT;
		gg_dconfig_source_warnings(cfg, &w);
		CHECK_INT(w.n, 0);
		gg_diag_free(&w);
		gg_dconfig_free(cfg);
	}
	gg_diag_free(&diag);

	char *sec = write_secret("local.secret", "s3cret\n", 0600);
	CHECK_INT(parse(&cfg, &diag,
	                "listen: [\"127.0.0.1:1\"]\n"
	                "state_dir: /s\n"
	                "unix_socket: {mode: \"0066\", owner: x}\n"
	                "sources:\n"
	                "  - {name: a, kind: local}\n"
	                "  - {name: b, kind: local, root: srv/git}\n"
	                "  - {name: c, kind: local, root: /srv, secret_file: @S@/local.secret}\n"
	                "  - {name: d, kind: generic, secret_file: @S@/local.secret, root: /x}\n"),
	          -1);
	CHECK(has_msg(&diag, "d.yaml:5:5: missing required key 'root'"));
	CHECK(has_msg(&diag, "'root' must be an absolute path, not 'srv/git'"));
	CHECK(has_msg(&diag, "a local source has no secret"));
	CHECK(has_msg(&diag, "'root' applies to local sources only"));
	CHECK(has_msg(&diag, "'mode' must be an octal mode"));
	CHECK(has_msg(&diag, "unknown key 'owner'"));
	gg_diag_free(&diag);
	free(sec);

	/* Valid, but worth a warning. */
	CHECK_INT(parse(&cfg, &diag,
	                "listen: [\"127.0.0.1:1\"]\n"
	                "state_dir: /s\n"
	                "sources:\n"
	                "  - {name: local, kind: local, root: /srv/git}\n"
	                "  - {name: gh, kind: github, secret_file: @S@/local.secret}\n"
	                "targets:\n"
	                "  - {name: t, repo: a/b, ref: refs/heads/main, run: [x]}\n"
	                "  - {name: u, source: gh, repo: a/b, ref: refs/heads/main, run: [x]}\n"),
	          0);
	if (cfg) {
		gg_diag w = GG_DIAG_INIT;
		gg_dconfig_source_warnings(cfg, &w);
		CHECK_INT(w.n, 2);
		CHECK(has_msg(&w, "takes events only over a unix socket"));
		CHECK(
		    has_msg(&w, "d.yaml:7:5: warning: target 't' has no 'source' while 2 sources"));
		gg_diag_free(&w);
		gg_dconfig_free(cfg);
	}
	gg_diag_free(&diag);
}

static void test_reconcile_keys(void)
{
	gg_dconfig *cfg = NULL;
	gg_diag diag = GG_DIAG_INIT;
	int rc = parse(&cfg, &diag,
	               "state_dir: /s\n"
	               "sources: [{name: gh, kind: github, secret_file: @S@/gh}]\n"
	               "targets:\n"
	               "  - name: apply\n"
	               "    repo: a/b\n"
	               "    ref: refs/heads/main\n"
	               "    run: [apply, \"{after}\"]\n"
	               "    url: https://git.example.com/a/b.git\n"
	               "    branch: main\n"
	               "    poll: 30s\n"
	               "    username: deploy\n"
	               "    password_file: /etc/p\n"
	               "    reconcile: 10m\n"
	               "  - name: docs\n"
	               "    repo: a/b\n"
	               "    ref: refs/heads/main\n"
	               "    reconcile: 1s\n"
	               "    drift: report\n"
	               "    checkout: {url: file:///g.git, dir: /srv/docs}\n"
	               "  - name: plain\n"
	               "    repo: a/b\n"
	               "    ref: refs/heads/main\n"
	               "    run: [x]\n");
	CHECK_INT(rc, 0);
	if (rc == 0) {
		const gg_dtarget *a = gg_dconfig_target(cfg, "apply");
		CHECK(a->remote != NULL && a->checkout == NULL);
		CHECK_STR(a->remote->url, "https://git.example.com/a/b.git");
		CHECK_STR(a->remote->branch, "main");
		CHECK_INT(a->remote->poll_ms, 30000);
		CHECK_STR(a->remote->username, "deploy");
		CHECK_STR(a->remote->password_file, "/etc/p");
		CHECK(a->remote->dir == NULL);
		CHECK_INT(a->reconcile_ms, 600000);
		CHECK(gg_dtarget_repository(a) == a->remote);
		const gg_dtarget *d = gg_dconfig_target(cfg, "docs");
		CHECK_INT(d->reconcile_ms, 1000);
		CHECK_INT(d->drift, GG_DRIFT_REPORT);
		CHECK(gg_dtarget_repository(d) == d->checkout);
		const gg_dtarget *p = gg_dconfig_target(cfg, "plain");
		CHECK(p->remote == NULL && gg_dtarget_repository(p) == NULL);
		CHECK_INT(p->reconcile_ms, 0);
		CHECK_INT(p->drift, GG_DRIFT_REPAIR);
		gg_dconfig_free(cfg);
	}
	gg_diag_free(&diag);

	rc = parse(&cfg, &diag,
	           "state_dir: /s\n"
	           "sources: [{name: gh, kind: github, secret_file: @S@/gh}]\n"
	           "targets:\n"
	           "  - name: a\n"
	           "    repo: a/b\n"
	           "    ref: refs/heads/main\n"
	           "    run: [x]\n"
	           "    poll: 1m\n"
	           "    ssh_key_file: /k\n"
	           "    drift: report\n"
	           "    reconcile: 500ms\n"
	           "  - name: b\n"
	           "    repo: a/b\n"
	           "    ref: refs/heads/main\n"
	           "    url: file:///g.git\n"
	           "    drift: sometimes\n"
	           "    checkout: {url: file:///g.git, dir: /srv/b}\n");
	CHECK_INT(rc, -1);
	CHECK(has_msg(&diag, "d.yaml:8:11: 'poll' needs 'url' (the repository to fetch)"));
	CHECK(has_msg(&diag, "d.yaml:9:19: 'ssh_key_file' needs 'url'"));
	CHECK(has_msg(&diag, "d.yaml:10:12: 'drift' applies to checkout targets only"));
	CHECK(has_msg(&diag, "d.yaml:11:16: 'reconcile' must be at least 1s"));
	CHECK(has_msg(&diag,
	              "d.yaml:15:10: a checkout target names its repository under 'checkout'"));
	CHECK(has_msg(&diag, "d.yaml:16:12: 'drift' must be repair or report"));
	gg_diag_free(&diag);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	char *paths[] = {
	    write_secret("gh", "gh-secret\n", 0600),
	    write_secret("api", "api-token \n\n", 0400),
	    write_secret("open", "x", 0644),
	    write_secret("whsec", "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", 0600),
	};
	RUN(test_full_config);
	RUN(test_defaults);
	RUN(test_errors_with_positions);
	RUN(test_security_keys);
	RUN(test_store_keys);
	RUN(test_replica_keys);
	RUN(test_local_source);
	RUN(test_reconcile_keys);
	for (size_t i = 0; i < GG_ARRAY_LEN(paths); i++) {
		unlink(paths[i]);
		free(paths[i]);
	}
	rmdir(dir);
	return TEST_DONE();
}
