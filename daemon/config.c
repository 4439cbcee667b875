/*
 * The daemon config loader: walks the positioned YAML tree, reports every
 * problem with its position and keeps going, fails at the end.
 */
#include "config.h"
#include "proxy.h"
#include "destination.h"
#include "runner.h"
#include "store.h"
#include "tls.h"

#include "gitgate/verify.h"
#include "gitgate/yload.h"
#include "gitgate/ytree.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (1024 * 1024)

static const char *const kind_names[] = {
    "github", "gitlab", "gitea", "forgejo", "gogs", "bitbucket", "generic", "local",
};

const char *gg_source_kind_name(gg_source_kind k)
{
	return (unsigned)k < GG_ARRAY_LEN(kind_names) ? kind_names[k] : "unknown";
}

static char *get_str(gg_yload *c, const gg_ynode *map, const char *key, bool required)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	if (v == NULL || v->type == GG_Y_NULL) {
		if (required)
			gg_yload_err(c, map, "missing required key '%s'", key);
		return NULL;
	}
	if (!gg_yis_scalar(v) || v->str == NULL) {
		gg_yload_err(c, v, "'%s' must be a string, not a %s", key, gg_ytype_name(v->type));
		return NULL;
	}
	if (v->len == 0 || strlen(v->str) != v->len) {
		gg_yload_err(c, v, "'%s' must be a non-empty string without NUL bytes", key);
		return NULL;
	}
	return gg_strdup(v->str);
}

static void get_size(gg_yload *c, const gg_ynode *map, const char *key, uint64_t *out)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	if (v == NULL)
		return;
	if (!gg_yis_scalar(v) || v->str == NULL || gg_parse_size(out, v->str) < 0 || *out == 0)
		gg_yload_err(c, v, "'%s' must be a positive size like 64KiB or 1MiB", key);
}

static void get_duration(gg_yload *c, const gg_ynode *map, const char *key, uint64_t *out)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	if (v == NULL)
		return;
	if (!gg_yis_scalar(v) || v->str == NULL || gg_parse_duration_ms(out, v->str) < 0 ||
	    *out == 0)
		gg_yload_err(c, v, "'%s' must be a positive duration like 30s, 10m or 1h", key);
}

static void get_uint(gg_yload *c, const gg_ynode *map, const char *key, uint64_t *out, uint64_t min,
                     uint64_t max)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	if (v == NULL)
		return;
	if (v->type != GG_Y_INT || v->num < (double)min || v->num > (double)max) {
		gg_yload_err(c, v, "'%s' must be an integer from %llu to %llu", key,
		             (unsigned long long)min, (unsigned long long)max);
		return;
	}
	*out = (uint64_t)v->num;
}

/* A string or a list of strings; `nonempty` refuses an empty list. */
static char **get_list(gg_yload *c, const gg_ynode *map, const char *key, size_t *n, bool allow_one)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	*n = 0;
	if (v == NULL)
		return NULL;
	if (allow_one && gg_yis_scalar(v) && v->str && v->len) {
		char **l = gg_calloc(1, sizeof(*l));
		l[0] = gg_strdup(v->str);
		*n = 1;
		return l;
	}
	if (v->type != GG_Y_SEQ || v->n == 0) {
		gg_yload_err(c, v, "'%s' must be a non-empty list of strings", key);
		return NULL;
	}
	char **l = gg_calloc(v->n, sizeof(*l));
	for (uint32_t i = 0; i < v->n; i++) {
		const gg_ynode *e = v->items[i];
		if (!gg_yis_scalar(e) || e->str == NULL || e->type == GG_Y_NULL ||
		    strlen(e->str) != e->len) {
			gg_yload_err(c, e, "'%s' entries must be strings", key);
			l[i] = gg_strdup("");
		} else {
			l[i] = gg_strdup(e->str);
		}
	}
	*n = v->n;
	return l;
}

static bool valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* Read a secret file named at node n, reporting a refusal there. */
static int read_secret(gg_yload *c, const gg_ynode *n, const char *path, char **out, size_t *len)
{
	char *why = NULL;
	if (gg_read_secret_file(out, len, path, &why) < 0) {
		gg_yload_err(c, n, "%s", why);
		free(why);
		return -1;
	}
	return 0;
}

/* Standard Webhooks: the key is the base64 text after "whsec_". */
static int decode_whsec(unsigned char **key, size_t *klen, const char *s, size_t len)
{
	if (len <= 6 || strncmp(s, "whsec_", 6) != 0)
		return -1;
	s += 6;
	len -= 6;
	unsigned char *k = gg_malloc(len + 3);
	int n = EVP_DecodeBlock(k, (const unsigned char *)s, (int)len);
	if (n <= 0 || len % 4 != 0) {
		free(k);
		return -1;
	}
	/* EVP_DecodeBlock counts padding as data. */
	if (s[len - 1] == '=')
		n--;
	if (s[len - 2] == '=')
		n--;
	*key = k;
	*klen = (size_t)n;
	return 0;
}

static const char *const source_keys[] = {
    "name", "kind", "secret_file", "signing_secret_file", "root", "trusted_users", NULL};

/* The keys of a local source: no secret, a root the repositories must live under. */
static void load_local_source(gg_yload *c, gg_dsource *s, const gg_ynode *n)
{
	if (gg_ymap_get(n, "secret_file"))
		gg_yload_err(c, gg_ymap_get(n, "secret_file"),
		             "a local source has no secret: the daemon knows who writes to its "
		             "unix socket");
	s->root = get_str(c, n, "root", true);
	if (s->root && s->root[0] != '/')
		gg_yload_err(c, gg_ymap_get(n, "root"), "'root' must be an absolute path, not '%s'",
		             s->root);
	s->trusted_users = get_list(c, n, "trusted_users", &s->ntrusted_users, true);
}

static void load_source(gg_yload *c, gg_dsource *s, const gg_ynode *n)
{
	s->line = n->line;
	s->col = n->col;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "a source must be a map");
		return;
	}
	gg_yload_check_keys(c, n, "source", source_keys);
	s->name = get_str(c, n, "name", true);
	if (s->name && !valid_name(s->name))
		gg_yload_err(c, gg_ymap_get(n, "name"),
		             "source name '%s' must be 1-64 letters, digits, '.', '-' or '_'",
		             s->name);
	char *kind = get_str(c, n, "kind", true);
	if (kind) {
		size_t i;
		for (i = 0; i < GG_ARRAY_LEN(kind_names); i++)
			if (strcmp(kind, kind_names[i]) == 0)
				break;
		if (i == GG_ARRAY_LEN(kind_names))
			gg_yload_err(
			    c, gg_ymap_get(n, "kind"),
			    "unknown source kind '%s' (github, gitlab, gitea, forgejo, gogs, "
			    "bitbucket, generic, local)",
			    kind);
		else
			s->kind = (gg_source_kind)i;
	}
	if (kind && s->kind == GG_SRC_LOCAL) {
		load_local_source(c, s, n);
		free(kind);
		return;
	}
	for (const char *const *k = (const char *const[]){"root", "trusted_users", NULL}; *k; k++)
		if (gg_ymap_get(n, *k))
			gg_yload_err(c, gg_ymap_get(n, *k), "'%s' applies to local sources only",
			             *k);
	s->secret_file = get_str(c, n, "secret_file", true);
	if (s->secret_file)
		read_secret(c, gg_ymap_get(n, "secret_file"), s->secret_file, &s->secret,
		            &s->secret_len);
	s->signing_secret_file = get_str(c, n, "signing_secret_file", false);
	if (s->signing_secret_file) {
		const gg_ynode *v = gg_ymap_get(n, "signing_secret_file");
		char *text = NULL;
		size_t tlen = 0;
		if (kind && s->kind != GG_SRC_GITLAB)
			gg_yload_err(c, v, "'signing_secret_file' applies to gitlab sources only");
		else if (read_secret(c, v, s->signing_secret_file, &text, &tlen) == 0 &&
		         decode_whsec(&s->signing_key, &s->signing_key_len, text, tlen) < 0)
			gg_yload_err(c, v, "%s: signing secret must be 'whsec_' followed by base64",
			             s->signing_secret_file);
		free(text);
	}
	free(kind);
}

static const char *const checkout_keys[] = {"url",
                                            "dir",
                                            "keep",
                                            "poll",
                                            "branch",
                                            "run",
                                            "username",
                                            "password_file",
                                            "ssh_key_file",
                                            "ssh_public_key_file",
                                            "ssh_known_hosts_file",
                                            NULL};

static gg_dcheckout *load_checkout(gg_yload *c, const gg_ynode *n)
{
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "'checkout' must be a map");
		return NULL;
	}
	gg_dcheckout *co = gg_calloc(1, sizeof(*co));
	gg_yload_check_keys(c, n, "checkout", checkout_keys);
	co->url = get_str(c, n, "url", true);
	co->dir = get_str(c, n, "dir", true);
	if (co->dir && co->dir[0] != '/')
		gg_yload_err(c, gg_ymap_get(n, "dir"), "'dir' must be an absolute path");
	uint64_t keep = GG_DEFAULT_KEEP;
	get_uint(c, n, "keep", &keep, 1, 1000);
	co->keep = (unsigned)keep;
	get_duration(c, n, "poll", &co->poll_ms);
	co->branch = get_str(c, n, "branch", false);
	co->run = get_list(c, n, "run", &co->nrun, false);
	co->username = get_str(c, n, "username", false);
	co->password_file = get_str(c, n, "password_file", false);
	co->ssh_key_file = get_str(c, n, "ssh_key_file", false);
	co->ssh_public_key_file = get_str(c, n, "ssh_public_key_file", false);
	co->ssh_known_hosts_file = get_str(c, n, "ssh_known_hosts_file", false);
	return co;
}

static void free_checkout(gg_dcheckout *co)
{
	if (co == NULL)
		return;
	free(co->url);
	free(co->dir);
	free(co->branch);
	gg_strv_free(co->run, co->nrun);
	free(co->username);
	free(co->password_file);
	free(co->ssh_key_file);
	free(co->ssh_public_key_file);
	free(co->ssh_known_hosts_file);
	free(co);
}

static const char *const target_keys[] = {
    "name", "source", "repo", "ref", "paths", "run", "env", "timeout", "retries", "nice",
    "checkout", "allow_rollback", "reconcile", "drift", "on",
    /* run targets that fetch their repository */
    "url", "branch", "poll", "username", "password_file", "ssh_key_file", "ssh_public_key_file",
    "ssh_known_hosts_file", "verify", "report", NULL};

/* The keys a run target may have only together with `url`. */
static const char *const remote_keys[] = {"branch",
                                          "poll",
                                          "username",
                                          "password_file",
                                          "ssh_key_file",
                                          "ssh_public_key_file",
                                          "ssh_known_hosts_file",
                                          NULL};

/* url, branch, poll and credentials of a run target: the fetch half of a checkout. */
static gg_dcheckout *load_remote(gg_yload *c, const gg_ynode *n, bool checkout)
{
	if (gg_ymap_get(n, "url") == NULL) {
		for (size_t i = 0; remote_keys[i]; i++) {
			const gg_ynode *v = gg_ymap_get(n, remote_keys[i]);
			if (v)
				gg_yload_err(c, v, "'%s' needs 'url' (the repository to fetch)",
				             remote_keys[i]);
		}
		return NULL;
	}
	if (checkout) {
		gg_yload_err(c, gg_ymap_get(n, "url"),
		             "a checkout target names its repository under 'checkout'");
		return NULL;
	}
	gg_dcheckout *co = gg_calloc(1, sizeof(*co));
	co->url = get_str(c, n, "url", true);
	get_duration(c, n, "poll", &co->poll_ms);
	co->branch = get_str(c, n, "branch", false);
	co->username = get_str(c, n, "username", false);
	co->password_file = get_str(c, n, "password_file", false);
	co->ssh_key_file = get_str(c, n, "ssh_key_file", false);
	co->ssh_public_key_file = get_str(c, n, "ssh_public_key_file", false);
	co->ssh_known_hosts_file = get_str(c, n, "ssh_known_hosts_file", false);
	return co;
}

static void get_bool(gg_yload *c, const gg_ynode *map, const char *key, bool *out)
{
	const gg_ynode *v = gg_ymap_get(map, key);
	if (v == NULL)
		return;
	if (v->type != GG_Y_BOOL)
		gg_yload_err(c, v, "'%s' must be true or false", key);
	else
		*out = v->boolean;
}

/* A relative key file is read beside the config file, wherever the daemon runs. */
static char *beside_config(const char *config, const char *path)
{
	const char *slash = strrchr(config, '/');
	if (path[0] == '/')
		return gg_strdup(path);
	if (slash == NULL) {
		char cwd[4096];
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return gg_strdup(path);
		return gg_printf("%s/%s", cwd, path);
	}
	return gg_printf("%.*s/%s", (int)(slash - config), config, path);
}

static void free_verify(gg_dverify *v)
{
	if (v == NULL)
		return;
	free(v->allowed_signers);
	free(v->gpg_keyring);
	free(v);
}

/*
 * verify: {allowed_signers: FILE, gpg_keyring: FILE}. The files are loaded
 * once here so that --check and a reload report their errors at their own
 * positions; the deployment that verifies reads them again, as they are then.
 */
static gg_dverify *load_verify(gg_yload *c, const gg_ynode *n)
{
	static const char *const keys[] = {"allowed_signers", "gpg_keyring", NULL};
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "'verify' must be a map (allowed_signers, gpg_keyring)");
		return NULL;
	}
	gg_yload_check_keys(c, n, "verify", keys);
	gg_dverify *v = gg_calloc(1, sizeof(*v));
	char *as = get_str(c, n, "allowed_signers", false);
	char *kr = get_str(c, n, "gpg_keyring", false);
	if (as)
		v->allowed_signers = beside_config(c->file, as);
	if (kr)
		v->gpg_keyring = beside_config(c->file, kr);
	free(as);
	free(kr);
	if (v->allowed_signers == NULL && v->gpg_keyring == NULL) {
		gg_yload_err(c, n, "'verify' needs allowed_signers, gpg_keyring or both");
		free_verify(v);
		return NULL;
	}
	gg_trust *t = NULL;
	size_t before = c->diag->n;
	if (gg_trust_load(&t, v->allowed_signers, v->gpg_keyring, c->diag) < 0) {
		const gg_ynode *at =
		    gg_ymap_get(n, v->allowed_signers ? "allowed_signers" : "gpg_keyring");
		if (c->diag->n == before)
			gg_yload_err(c, at, "verify: cannot load the trusted keys");
		else
			gg_yload_err(c, at, "verify: the key files have the errors above");
	}
	gg_trust_free(t);
	return v;
}

static void load_target(gg_yload *c, gg_dconfig *cfg, gg_dtarget *t, const gg_ynode *n)
{
	t->line = n->line;
	t->col = n->col;
	t->timeout_ms = GG_DEFAULT_TIMEOUT_MS;
	t->nice = GG_DEFAULT_NICE;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "a target must be a map");
		return;
	}
	gg_yload_check_keys(c, n, "target", target_keys);
	t->name = get_str(c, n, "name", true);
	if (t->name && !valid_name(t->name))
		gg_yload_err(c, gg_ymap_get(n, "name"),
		             "target name '%s' must be 1-64 letters, digits, '.', '-' or '_'",
		             t->name);
	t->source = get_str(c, n, "source", false);
	if (t->source && gg_dconfig_source(cfg, t->source) == NULL)
		gg_yload_err(c, gg_ymap_get(n, "source"), "no source named '%s'", t->source);
	t->repo = get_str(c, n, "repo", true);
	t->ref = get_str(c, n, "ref", true);
	t->paths = get_list(c, n, "paths", &t->npaths, true);
	t->run = get_list(c, n, "run", &t->nrun, false);
	const gg_ynode *env = gg_ymap_get(n, "env");
	if (env && env->type != GG_Y_MAP) {
		gg_yload_err(c, env, "'env' must be a map of names to strings");
	} else if (env) {
		t->env = gg_calloc(env->n, sizeof(*t->env));
		for (uint32_t i = 0; i < env->n; i++) {
			const gg_ynode *k = env->items[2 * i], *v = env->items[2 * i + 1];
			if (!gg_yis_scalar(k) || k->str == NULL || k->len == 0 ||
			    strchr(k->str, '=') || !gg_yis_scalar(v) || v->type == GG_Y_NULL ||
			    v->str == NULL) {
				gg_yload_err(c, k, "'env' entries must be NAME: string");
				continue;
			}
			t->env[t->nenv].key = gg_strdup(k->str);
			t->env[t->nenv].value = gg_strdup(v->str);
			t->nenv++;
		}
	}
	get_duration(c, n, "timeout", &t->timeout_ms);
	uint64_t retries = 0;
	get_uint(c, n, "retries", &retries, 0, 100);
	t->retries = (unsigned)retries;
	uint64_t nice = GG_DEFAULT_NICE;
	get_uint(c, n, "nice", &nice, 0, 19);
	t->nice = (unsigned)nice;
	get_bool(c, n, "allow_rollback", &t->allow_rollback);
	const gg_ynode *co = gg_ymap_get(n, "checkout");
	if (co)
		t->checkout = load_checkout(c, co);
	if (co && gg_ymap_get(n, "run"))
		gg_yload_err(
		    c, gg_ymap_get(n, "run"),
		    "a target has either 'run' or 'checkout', not both (use checkout.run)");
	else if (!co && !gg_ymap_get(n, "run"))
		gg_yload_err(c, n, "target needs 'run' or 'checkout'");
	t->remote = load_remote(c, n, co != NULL);
	get_duration(c, n, "reconcile", &t->reconcile_ms);
	if (t->reconcile_ms > 0 && t->reconcile_ms < GG_MIN_RECONCILE_MS)
		gg_yload_err(c, gg_ymap_get(n, "reconcile"),
		             "'reconcile' must be at least 1s: each one is a deployment");
	const gg_ynode *drift = gg_ymap_get(n, "drift");
	if (drift) {
		char *mode = get_str(c, n, "drift", false);
		if (co == NULL)
			gg_yload_err(c, drift, "'drift' applies to checkout targets only");
		else if (mode && !strcmp(mode, "report"))
			t->drift = GG_DRIFT_REPORT;
		else if (mode && strcmp(mode, "repair") != 0)
			gg_yload_err(c, drift, "'drift' must be repair or report");
		free(mode);
	}
	const gg_ynode *on = gg_ymap_get(n, "on");
	if (on) {
		char *where = get_str(c, n, "on", false);
		if (where && !strcmp(where, "each"))
			t->each = cfg->each = true;
		else if (where && strcmp(where, "any") != 0)
			gg_yload_err(c, on,
			             "'on' must be any (one replica runs it) or each "
			             "(every replica runs it on its own host)");
		free(where);
	}
	const gg_ynode *v = gg_ymap_get(n, "verify");
	if (v && !co && !t->remote)
		gg_yload_err(
		    c, v,
		    "'verify' needs a target that fetches the commit it deploys itself "
		    "(checkout, or url on a run target); a payload's word is not verified");
	else if (v)
		t->verify = load_verify(c, v);
	gg_dest_config(c, gg_ymap_get(n, "report"), &t->reports, &t->nreports);
	if (t->each && t->nreports > 0)
		gg_yload_err(c, gg_ymap_get(n, "report"),
		             "'report' is not available with 'on: each': every replica's "
		             "deployment would set the one status of the same commit");
}

static void free_target(gg_dtarget *t)
{
	free(t->name);
	free(t->source);
	free(t->repo);
	free(t->ref);
	gg_strv_free(t->paths, t->npaths);
	gg_strv_free(t->run, t->nrun);
	for (size_t i = 0; i < t->nenv; i++) {
		free(t->env[i].key);
		free(t->env[i].value);
	}
	free(t->env);
	free_checkout(t->checkout);
	free_checkout(t->remote);
	free_verify(t->verify);
	gg_dreports_free(t->reports, t->nreports);
}

static const char *const top_keys[] = {"listen",          "state_dir",
                                       "max_body",        "max_header",
                                       "max_connections", "max_connections_per_peer",
                                       "read_timeout",    "max_parallel",
                                       "shutdown_grace",  "log_max",
                                       "retry_backoff",   "delivery_retention",
                                       "api_token_file",  "api",
                                       "log_format",      "unix_socket",
                                       "trusted_proxies", "sources",
                                       "targets",         "report_max_age",
                                       "store",           "replica",
                                       "lease",           NULL};

/*
 * A replica name is shown in logs, the API, metrics labels and `gitgate
 * status`: printable, without quotes or spaces, and bounded.
 */
static bool valid_replica(const char *s)
{
	size_t n = strlen(s);
	/* Never an option: {replica} may be an argument of a deployment's command. */
	if (n == 0 || n > GG_REPLICA_NAME_MAX || *s == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:@/[]-", *s))
			return false;
	return true;
}

/* replica: (default: the host name and the first listener's port) and lease:. */
static void load_replica(gg_yload *c, gg_dconfig *cfg, const gg_ynode *root)
{
	get_duration(c, root, "lease", &cfg->lease_ms);
	if (cfg->lease_ms < GG_LEASE_MIN_MS)
		gg_yload_err(c, gg_ymap_get(root, "lease"), "'lease' must be at least %u ms",
		             (unsigned)GG_LEASE_MIN_MS);
	cfg->replica = get_str(c, root, "replica", false);
	if (cfg->replica) {
		if (!valid_replica(cfg->replica))
			gg_yload_err(
			    c, gg_ymap_get(root, "replica"),
			    "'replica' must be 1 to %d letters, digits or ._:@/[]-, not starting "
			    "with '-'",
			    GG_REPLICA_NAME_MAX);
		return;
	}
	char host[256] = "localhost";
	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	const char *l = cfg->nlisten ? cfg->listen[0] : "";
	const char *port = strncmp(l, "unix:", 5) == 0 ? l + 5 : strrchr(l, ':');
	port = port ? (*port == ':' ? port + 1 : port) : "";
	cfg->replica = gg_printf("%s:%s", host, port);
	/* Stable across restarts, so that a restarted replica finds its own rows. */
	for (char *p = cfg->replica; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._:@/[]-", *p))
			*p = '-';
	if (strlen(cfg->replica) > GG_REPLICA_NAME_MAX)
		cfg->replica[GG_REPLICA_NAME_MAX] = '\0';
}

static bool valid_listen(const char *s)
{
	if (strncmp(s, "unix:", 5) == 0)
		return s[5] == '/';
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || colon[1] == '\0')
		return false;
	if (s[0] == '[' && colon[-1] != ']')
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

static const char *const unix_socket_keys[] = {"mode", "group", NULL};

/* unix_socket: {mode: "0660", group: NAME}, for the unix: listeners the daemon binds. */
static void load_unix_socket(gg_yload *c, gg_dconfig *cfg, const gg_ynode *n)
{
	if (n == NULL)
		return;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "'unix_socket' must be a map with 'mode' and 'group'");
		return;
	}
	gg_yload_check_keys(c, n, "unix_socket", unix_socket_keys);
	char *mode = get_str(c, n, "mode", false);
	if (mode) {
		char *end;
		errno = 0;
		long v = strtol(mode, &end, 8);
		if (*end || errno || v < 0 || v > 0777 || (v & 0600) != 0600)
			gg_yload_err(c, gg_ymap_get(n, "mode"),
			             "'mode' must be an octal mode such as \"0660\" that lets the "
			             "daemon's user read and write, not '%s'",
			             mode);
		else
			cfg->socket_mode = (int)v;
	}
	free(mode);
	cfg->socket_group = get_str(c, n, "group", false);
}

static const char *const store_keys[] = {"kind", "conninfo_file", NULL};

/* store: {kind: sqlite} (the default) or {kind: postgres, conninfo_file: FILE}. */
static void load_store(gg_yload *c, gg_dconfig *cfg, const gg_ynode *n)
{
	if (n == NULL)
		return;
	if (n->type != GG_Y_MAP) {
		gg_yload_err(c, n, "'store' must be a map with 'kind'");
		return;
	}
	gg_yload_check_keys(c, n, "store", store_keys);
	char *kind = get_str(c, n, "kind", true);
	cfg->store_conninfo_file = get_str(c, n, "conninfo_file", false);
	const gg_ynode *file = gg_ymap_get(n, "conninfo_file");
	char *why = NULL;
	if (kind && strcmp(kind, "postgres") == 0) {
		cfg->store_kind = GG_STORE_POSTGRES;
		if (cfg->store_conninfo_file == NULL)
			gg_yload_err(c, n, "a postgres store needs 'conninfo_file'");
		else if (read_secret(c, file, cfg->store_conninfo_file, &cfg->store_conninfo,
		                     &(size_t){0}) == 0 &&
		         !gg_store_conninfo_valid(cfg->store_conninfo, &why))
			/* libpq's own message may quote the string, password and all. */
			gg_yload_err(c, file, "%s: %s", cfg->store_conninfo_file, why);
		free(why);
	} else if (kind && strcmp(kind, "sqlite") == 0) {
		if (file)
			gg_yload_err(c, file, "'conninfo_file' applies to postgres stores only");
	} else if (kind) {
		gg_yload_err(c, gg_ymap_get(n, "kind"),
		             "'kind' must be sqlite or postgres, not '%s'", kind);
	}
	free(kind);
}

/* listen: a string or a list of strings (plain HTTP) and {address:, tls:} maps. */
static void load_listen(gg_yload *c, gg_dconfig *cfg, const gg_ynode *ln)
{
	if (ln == NULL)
		return;
	bool one = ln->type != GG_Y_SEQ;
	if (one && !(gg_yis_scalar(ln) && ln->str && ln->len) && ln->type != GG_Y_MAP) {
		gg_yload_err(c, ln, "'listen' must be an address or a non-empty list of them");
		return;
	}
	if (!one && ln->n == 0) {
		gg_yload_err(c, ln, "'listen' must be a non-empty list");
		return;
	}
	size_t n = one ? 1 : ln->n;
	cfg->listen = gg_calloc(n, sizeof(*cfg->listen));
	cfg->listen_tls = gg_calloc(n, sizeof(*cfg->listen_tls));
	cfg->nlisten = n;
	for (size_t i = 0; i < n; i++) {
		const gg_ynode *e = one ? ln : ln->items[i];
		if (e->type == GG_Y_MAP)
			cfg->listen_tls[i] = gg_tls_config_parse(c, e, &cfg->listen[i]);
		else if (gg_yis_scalar(e) && e->str && e->type != GG_Y_NULL &&
		         strlen(e->str) == e->len)
			cfg->listen[i] = gg_strdup(e->str);
		else
			gg_yload_err(c, e,
			             "'listen' entries must be strings or maps with 'address'");
		if (cfg->listen[i] == NULL)
			cfg->listen[i] = gg_strdup("");
		else if (!valid_listen(cfg->listen[i]))
			gg_yload_err(
			    c, e,
			    "listen address '%s' must be host:port, [v6addr]:port or unix:/path",
			    cfg->listen[i]);
		else if (cfg->listen_tls[i] && strncmp(cfg->listen[i], "unix:", 5) == 0)
			gg_yload_err(c, e,
			             "'tls' applies to host:port listeners, not unix sockets");
	}
}

int gg_dconfig_parse(gg_dconfig **out, const char *file, const char *data, size_t len,
                     gg_diag *diag)
{
	gg_yload c = {file, diag, 0};
	gg_yfile *yf = NULL;
	gg_dconfig *cfg = gg_calloc(1, sizeof(*cfg));
	*out = NULL;
	cfg->path = gg_strdup(file);
	cfg->max_body = GG_DEFAULT_MAX_BODY;
	cfg->max_header = GG_DEFAULT_MAX_HEADER;
	cfg->max_connections = GG_DEFAULT_MAX_CONNECTIONS;
	cfg->read_timeout_ms = GG_DEFAULT_READ_TIMEOUT_MS;
	cfg->max_parallel = GG_DEFAULT_MAX_PARALLEL;
	cfg->shutdown_grace_ms = GG_DEFAULT_SHUTDOWN_GRACE_MS;
	cfg->log_max = GG_DEFAULT_LOG_MAX;
	cfg->retry_backoff_ms = GG_DEFAULT_RETRY_BACKOFF_MS;
	cfg->delivery_retention_ms = GG_DEFAULT_DELIVERY_RETENTION;
	cfg->report_max_age_ms = GG_REPORT_DEFAULT_MAX_AGE_MS;
	cfg->lease_ms = GG_DEFAULT_LEASE_MS;
	cfg->socket_mode = -1;

	if (data == NULL || len == 0) {
		gg_diag_add(diag, file, 1, 1, "the config is empty");
		c.errors++;
		goto done;
	}
	int prc = gg_yparse(&yf, data, len, GG_YFMT_YAML, &gg_ylimits_default);
	for (size_t i = 0; i < gg_yfile_nproblems(yf); i++) {
		const gg_yproblem *p = gg_yfile_problem(yf, i);
		gg_diag_add(diag, file, p->line, p->col, "%s", p->msg);
		c.errors++;
	}
	/* Duplicate keys still leave a whole tree: report the rest of it too. */
	if (prc < 0)
		goto done;
	const gg_ynode *root = gg_yfile_ndocs(yf) == 1 ? gg_yfile_doc(yf, 0) : NULL;
	if (root == NULL || root->type != GG_Y_MAP) {
		gg_yload_err(&c, root, "the config must be one YAML mapping");
		goto done;
	}
	gg_yload_check_keys(&c, root, "the daemon config", top_keys);

	load_listen(&c, cfg, gg_ymap_get(root, "listen"));
	gg_proxy_config(&c, gg_ymap_get(root, "trusted_proxies"), &cfg->trusted_proxies,
	                &cfg->ntrusted_proxies);
	cfg->state_dir = get_str(&c, root, "state_dir", true);
	get_size(&c, root, "max_body", &cfg->max_body);
	get_size(&c, root, "max_header", &cfg->max_header);
	get_uint(&c, root, "max_connections", &cfg->max_connections, 1, 1000000);
	cfg->max_connections_per_peer = cfg->max_connections / GG_DEFAULT_PEER_SHARE;
	if (cfg->max_connections_per_peer == 0)
		cfg->max_connections_per_peer = 1;
	get_uint(&c, root, "max_connections_per_peer", &cfg->max_connections_per_peer, 1, 1000000);
	get_duration(&c, root, "read_timeout", &cfg->read_timeout_ms);
	get_uint(&c, root, "max_parallel", &cfg->max_parallel, 1, 10000);
	get_duration(&c, root, "shutdown_grace", &cfg->shutdown_grace_ms);
	get_size(&c, root, "log_max", &cfg->log_max);
	get_duration(&c, root, "retry_backoff", &cfg->retry_backoff_ms);
	get_duration(&c, root, "delivery_retention", &cfg->delivery_retention_ms);
	get_duration(&c, root, "report_max_age", &cfg->report_max_age_ms);
	char *lf = get_str(&c, root, "log_format", false);
	if (lf && !strcmp(lf, "json"))
		cfg->log_json = true;
	else if (lf && strcmp(lf, "logfmt") != 0)
		gg_yload_err(&c, gg_ymap_get(root, "log_format"),
		             "'log_format' must be logfmt or json, not '%s'", lf);
	free(lf);
	const gg_ynode *api = gg_ymap_get(root, "api");
	static const char *const api_keys[] = {"allow_loopback_without_token", NULL};
	if (api && api->type != GG_Y_MAP) {
		gg_yload_err(&c, api, "'api' must be a map");
	} else if (api) {
		gg_yload_check_keys(&c, api, "api", api_keys);
		get_bool(&c, api, "allow_loopback_without_token", &cfg->api_allow_loopback);
	}
	load_unix_socket(&c, cfg, gg_ymap_get(root, "unix_socket"));
	cfg->api_token_file = get_str(&c, root, "api_token_file", false);
	if (cfg->api_token_file)
		read_secret(&c, gg_ymap_get(root, "api_token_file"), cfg->api_token_file,
		            &cfg->api_token, &cfg->api_token_len);

	load_store(&c, cfg, gg_ymap_get(root, "store"));
	load_replica(&c, cfg, root);

	const gg_ynode *srcs = gg_ymap_get(root, "sources");
	if (srcs == NULL || srcs->type != GG_Y_SEQ || srcs->n == 0) {
		gg_yload_err(&c, srcs ? srcs : root, "'sources' must be a non-empty list");
	} else {
		cfg->sources = gg_calloc(srcs->n, sizeof(*cfg->sources));
		for (uint32_t i = 0; i < srcs->n; i++) {
			gg_dsource *s = &cfg->sources[cfg->nsources];
			load_source(&c, s, srcs->items[i]);
			cfg->nsources++;
			for (size_t j = 0; s->name && j + 1 < cfg->nsources; j++)
				if (cfg->sources[j].name &&
				    strcmp(cfg->sources[j].name, s->name) == 0)
					gg_yload_err(
					    &c, gg_ymap_get(srcs->items[i], "name"),
					    "duplicate source name '%s' (first at line %u)",
					    s->name, cfg->sources[j].line);
		}
	}
	const gg_ynode *tgts = gg_ymap_get(root, "targets");
	if (tgts && tgts->type != GG_Y_SEQ) {
		gg_yload_err(&c, tgts, "'targets' must be a list");
	} else if (tgts) {
		cfg->targets = gg_calloc(tgts->n, sizeof(*cfg->targets));
		for (uint32_t i = 0; i < tgts->n; i++) {
			gg_dtarget *t = &cfg->targets[cfg->ntargets];
			load_target(&c, cfg, t, tgts->items[i]);
			cfg->ntargets++;
			for (size_t j = 0; t->name && j + 1 < cfg->ntargets; j++)
				if (cfg->targets[j].name &&
				    strcmp(cfg->targets[j].name, t->name) == 0)
					gg_yload_err(
					    &c, gg_ymap_get(tgts->items[i], "name"),
					    "duplicate target name '%s' (first at line %u)",
					    t->name, cfg->targets[j].line);
		}
	}
done:
	gg_yfile_free(yf);
	if (c.errors) {
		gg_dconfig_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

int gg_dconfig_load(gg_dconfig **out, const char *path, gg_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	*out = NULL;
	if (gg_read_file(&data, &len, path, CONFIG_MAX) < 0) {
		gg_diag_addf(diag, "%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = gg_dconfig_parse(out, path, data, len, diag);
	free(data);
	return rc;
}

void gg_dconfig_free(gg_dconfig *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	for (size_t i = 0; cfg->listen_tls && i < cfg->nlisten; i++)
		gg_dtls_free(cfg->listen_tls[i]);
	free(cfg->listen_tls);
	gg_strv_free(cfg->listen, cfg->nlisten);
	free(cfg->trusted_proxies);
	free(cfg->state_dir);
	free(cfg->api_token_file);
	free(cfg->socket_group);
	free(cfg->store_conninfo_file);
	free(cfg->replica);
	if (cfg->store_conninfo)
		OPENSSL_cleanse(cfg->store_conninfo, strlen(cfg->store_conninfo));
	free(cfg->store_conninfo);
	if (cfg->api_token)
		OPENSSL_cleanse(cfg->api_token, cfg->api_token_len);
	free(cfg->api_token);
	for (size_t i = 0; i < cfg->nsources; i++) {
		gg_dsource *s = &cfg->sources[i];
		free(s->name);
		free(s->secret_file);
		if (s->secret)
			OPENSSL_cleanse(s->secret, s->secret_len);
		free(s->secret);
		free(s->signing_secret_file);
		if (s->signing_key)
			OPENSSL_cleanse(s->signing_key, s->signing_key_len);
		free(s->signing_key);
		free(s->root);
		gg_strv_free(s->trusted_users, s->ntrusted_users);
	}
	free(cfg->sources);
	for (size_t i = 0; i < cfg->ntargets; i++)
		free_target(&cfg->targets[i]);
	free(cfg->targets);
	free(cfg);
}

const gg_dsource *gg_dconfig_source(const gg_dconfig *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsources; i++)
		if (cfg->sources[i].name && strcmp(cfg->sources[i].name, name) == 0)
			return &cfg->sources[i];
	return NULL;
}

const gg_dcheckout *gg_dtarget_repository(const gg_dtarget *t)
{
	return t->checkout ? t->checkout : t->remote;
}

const gg_dtarget *gg_dconfig_target(const gg_dconfig *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntargets; i++)
		if (cfg->targets[i].name && strcmp(cfg->targets[i].name, name) == 0)
			return &cfg->targets[i];
	return NULL;
}

/* ---- warnings for --check ---- */

#define CONFIG_MAX_GROUPS 256

/* An account to check a program for, other than the one running the check. */
typedef struct {
	char name[64];
	uid_t uid;
	gid_t groups[CONFIG_MAX_GROUPS];
	int ngroups;
} account;

static bool in_groups(const account *a, gid_t g)
{
	for (int i = 0; i < a->ngroups; i++)
		if (a->groups[i] == g)
			return true;
	return false;
}

/* The x bit that applies to a for a file of this owner and mode. */
static bool has_x(const account *a, const struct stat *st)
{
	if (st->st_uid == a->uid)
		return st->st_mode & S_IXUSR;
	if (in_groups(a, st->st_gid))
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

/* Whether a may execute path, by the mode bits of the file and of every directory above it. */
static bool account_may_exec(const account *a, const char *path)
{
	char *p = gg_strdup(path);
	bool ok = true;
	for (char *slash = strchr(p + 1, '/'); ok && slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		struct stat st;
		ok = stat(p, &st) == 0 && has_x(a, &st);
		*slash = '/';
	}
	struct stat st;
	ok = ok && stat(p, &st) == 0 && has_x(a, &st);
	free(p);
	return ok;
}

/* The program argv0 names, as the runner would find it; NULL when it is nowhere. */
static char *find_program(const char *argv0, const char *path_env)
{
	if (argv0[0] == '/')
		return gg_strdup(argv0);
	for (const char *p = path_env; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 0) {
			char *cand = gg_printf("%.*s/%s", (int)len, p, argv0);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode))
				return cand;
			free(cand);
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return NULL;
}

static void warn_program(const gg_dconfig *cfg, const gg_dtarget *t, const char *what,
                         const char *argv0, const account *other, bool self_too, gg_diag *warn,
                         int *n)
{
	/* A placeholder is filled in per deployment, a relative path is resolved in its cwd. */
	if (strchr(argv0, '{') || (argv0[0] != '/' && strchr(argv0, '/')))
		return;
	const char *path_env = GG_RUN_DEFAULT_PATH;
	for (size_t i = 0; i < t->nenv; i++)
		if (!strcmp(t->env[i].key, "PATH") && t->env[i].value)
			path_env = t->env[i].value;
	char *prog = find_program(argv0, path_env);
	struct stat st;
	char *problem = NULL;
	if (prog == NULL)
		problem = gg_printf("'%s' is not in the deployments' PATH (%s)", argv0, path_env);
	else if (stat(prog, &st) < 0)
		problem =
		    gg_printf("%s %s", prog, errno == ENOENT ? "does not exist" : strerror(errno));
	else if (!S_ISREG(st.st_mode))
		problem = gg_printf("%s is not a regular file", prog);
	else if (self_too && access(prog, X_OK) < 0) {
		struct passwd *me = getpwuid(geteuid());
		if (me)
			problem = gg_printf("%s is not executable by %s", prog, me->pw_name);
		else
			problem =
			    gg_printf("%s is not executable by uid %u", prog, (unsigned)geteuid());
	} else if (other && !account_may_exec(other, prog))
		problem = gg_printf("%s is not executable by %s", prog, other->name);
	if (problem) {
		gg_diag_add(warn, cfg->path, t->line, t->col, "warning: target '%s': %s: %s",
		            t->name, what, problem);
		(*n)++;
	}
	free(problem);
	free(prog);
}

int gg_dconfig_warnings(const gg_dconfig *cfg, const char *user, gg_diag *warn)
{
	account acct, *other = NULL;
	const char *name = user ? user : geteuid() == 0 ? GG_DAEMON_USER : NULL;
	struct passwd *pw = name ? getpwnam(name) : NULL;
	if (user && pw == NULL) {
		gg_diag_addf(warn, "gitgated: --user %s: no such user", user);
		return -1;
	}
	if (pw) {
		snprintf(acct.name, sizeof(acct.name), "%s", pw->pw_name);
		acct.uid = pw->pw_uid;
		acct.ngroups = CONFIG_MAX_GROUPS;
		if (getgrouplist(pw->pw_name, pw->pw_gid, acct.groups, &acct.ngroups) < 0)
			acct.ngroups = CONFIG_MAX_GROUPS;
		other = &acct;
	}
	int n = 0;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const gg_dtarget *t = &cfg->targets[i];
		if (t->nrun > 0)
			warn_program(cfg, t, "run", t->run[0], other, user == NULL, warn, &n);
		if (t->checkout && t->checkout->nrun > 0)
			warn_program(cfg, t, "checkout.run", t->checkout->run[0], other,
			             user == NULL, warn, &n);
	}
	return n;
}

void gg_dconfig_source_warnings(const gg_dconfig *cfg, gg_diag *out)
{
	bool local = false, unix_listener = false;
	for (size_t i = 0; i < cfg->nsources; i++)
		local |= cfg->sources[i].kind == GG_SRC_LOCAL;
	for (size_t i = 0; i < cfg->nlisten; i++)
		unix_listener |= strncmp(cfg->listen[i], "unix:", 5) == 0;
	if (local && !unix_listener)
		gg_diag_addf(
		    out,
		    "%s: warning: a local source takes events only over a unix socket, and "
		    "'listen' has no unix:/path (fine only under a systemd unix socket)",
		    cfg->path);
	if (cfg->nsources < 2)
		return;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const gg_dtarget *t = &cfg->targets[i];
		if (t->source == NULL)
			gg_diag_addf(
			    out,
			    "%s:%u:%u: warning: target '%s' has no 'source' while %zu sources "
			    "exist: a push to a repository named '%s' from any of them deploys "
			    "it",
			    cfg->path, t->line, t->col, t->name ? t->name : "?", cfg->nsources,
			    t->repo ? t->repo : "*");
	}
}
