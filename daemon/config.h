/*
 * The daemon config (YAML, `gitgated -c FILE`; see the contract and
 * docs/daemon.md): loaded with the positioned YAML tree into a plain struct.
 * Every problem is reported as "FILE:LINE:COL: message", all of them, then
 * loading fails. Unknown keys are errors. Secrets named by the config are read
 * (and checked to be neither group- nor world-readable) at load time, so a
 * config that loads is one the daemon can run with.
 */
#ifndef GITGATED_CONFIG_H
#define GITGATED_CONFIG_H

#include "gitgate/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of the named limits. */
/* replica: names are at most this long; lease: at least this (a heartbeat is 1 s). */
#define GG_REPLICA_NAME_MAX        128
#define GG_DEFAULT_LEASE_MS        (30 * 1000)
#define GG_LEASE_MIN_MS            3000
#define GG_DEFAULT_MAX_BODY        (1024 * 1024)
#define GG_DEFAULT_MAX_HEADER      (16 * 1024)
#define GG_DEFAULT_MAX_CONNECTIONS 512
/* Default max_connections_per_peer: this share of max_connections (at least 1). */
#define GG_DEFAULT_PEER_SHARE        4
#define GG_DEFAULT_READ_TIMEOUT_MS   10000
#define GG_DEFAULT_MAX_PARALLEL      4
#define GG_DEFAULT_SHUTDOWN_GRACE_MS 30000
#define GG_DEFAULT_LOG_MAX           (1024 * 1024)
#define GG_DEFAULT_RETRY_BACKOFF_MS  5000
#define GG_DEFAULT_TIMEOUT_MS        (10 * 60 * 1000)
/* Deployments run below the daemon's own priority: answering senders comes first. */
#define GG_DEFAULT_NICE               10
#define GG_DEFAULT_KEEP               5
#define GG_DEFAULT_DELIVERY_RETENTION (7ULL * 24 * 3600 * 1000)
/* A reconcile is a whole deployment: none more often than this. */
#define GG_MIN_RECONCILE_MS 1000

typedef enum {
	GG_SRC_GITHUB,
	GG_SRC_GITLAB,
	GG_SRC_GITEA,
	GG_SRC_FORGEJO,
	GG_SRC_GOGS,
	GG_SRC_BITBUCKET,
	GG_SRC_GENERIC,
	GG_SRC_LOCAL, /* the notifier over a unix socket: SO_PEERCRED, verified on disk */
} gg_source_kind;

/* "github", "gitlab", ...; static. */
const char *gg_source_kind_name(gg_source_kind k);

typedef struct {
	char *name; /* served at POST /hooks/NAME */
	gg_source_kind kind;
	char *secret_file;
	char *secret; /* file contents, trailing whitespace stripped */
	size_t secret_len;
	char *signing_secret_file;  /* gitlab only; NULL when unset */
	unsigned char *signing_key; /* base64-decoded text after "whsec_" */
	size_t signing_key_len;
	char *root;           /* local only: the directory the repositories live under */
	char **trusted_users; /* local only: accounts whose claimed pusher is believed */
	size_t ntrusted_users;
	unsigned line, col;
} gg_dsource;

typedef struct {
	char *key;
	char *value;
} gg_denv;

typedef struct {
	char *url;
	char *dir;
	unsigned keep;    /* releases kept; default GG_DEFAULT_KEEP */
	uint64_t poll_ms; /* 0: no polling */
	char *branch;     /* NULL: derived from the target's ref */
	char **run;       /* argv run after the switch; NULL/0 when unset */
	size_t nrun;
	/* Credentials: paths only, read by whoever fetches. NULL when unset. */
	char *username;
	char *password_file;
	char *ssh_key_file;
	char *ssh_public_key_file;
	char *ssh_known_hosts_file;
} gg_dcheckout;

/* What a reconcile does with a checkout whose files no longer match the commit. */
typedef enum {
	GG_DRIFT_REPAIR, /* report it, materialize a fresh release and switch to it (default) */
	GG_DRIFT_REPORT, /* report it only */
} gg_drift_mode;

/* verify: the trusted keys the commit a target deploys must be signed by. */
typedef struct {
	char *allowed_signers; /* absolute paths (relative ones are read beside the config); */
	char *gpg_keyring;     /* either may be NULL, not both */
} gg_dverify;

typedef struct {
	char *name;
	char *source; /* source name; NULL: any */
	char *repo;   /* glob over owner/name */
	char *ref;    /* glob */
	char **paths; /* globs; NULL/0: any push */
	size_t npaths;
	char **run; /* argv; exactly one of run / checkout is set */
	size_t nrun;
	gg_denv *env;
	size_t nenv;
	uint64_t timeout_ms;    /* default GG_DEFAULT_TIMEOUT_MS */
	unsigned retries;       /* default 0 */
	unsigned nice;          /* added to the daemon's niceness; default GG_DEFAULT_NICE */
	gg_dcheckout *checkout; /* NULL for run targets */
	/*
	 * Run targets with `url:`: the repository the daemon fetches before each
	 * run (url, branch, poll and the credentials; dir NULL, run unused).
	 * NULL without url. gg_dtarget_repository covers both kinds.
	 */
	gg_dcheckout *remote;
	uint64_t reconcile_ms; /* re-apply the last successful commit this often; 0: never */
	gg_drift_mode drift;   /* checkout targets: what a drifted release gets */
	gg_dverify *verify;    /* NULL: what is fetched deploys unverified */
	bool allow_rollback;   /* a delivery may ask for an older commit (default false) */
	bool each; /* on: each: every replica sharing the store deploys it (default: any one) */
	struct gg_dreport_s *reports; /* report: destinations told of every state (report.h) */
	size_t nreports;
	unsigned line, col;
} gg_dtarget;

/* A TLS listener's files: listen: [{address: A, tls: {...}}]. */
typedef struct {
	char *cert_file;      /* PEM, the leaf first, then its chain */
	char *key_file;       /* PEM; a secret file (not group/world accessible) */
	char *client_ca_file; /* NULL: no client certificate is asked for */
	int min_version;      /* 12 (TLS 1.2, the default) or 13 */
} gg_dtls;

/* One trusted_proxies entry: an address block. */
typedef struct {
	int family; /* AF_INET, AF_INET6, or AF_UNIX for "unix" (bits 0) */
	unsigned char addr[16];
	unsigned bits;
} gg_cidr;

/* store: where deliveries and deployments are kept. */
typedef enum {
	GG_STORE_SQLITE,   /* state_dir/gitgated.db (the default) */
	GG_STORE_POSTGRES, /* the database conninfo_file names */
} gg_dstore_kind;
typedef struct gg_dconfig gg_dconfig;
struct gg_dconfig {
	char *path; /* the file it was loaded from */
	char **listen;
	gg_dtls **listen_tls; /* per listen entry; NULL for plain HTTP */
	size_t nlisten;
	gg_cidr *trusted_proxies; /* peers whose Forwarded/X-Forwarded-* are believed */
	size_t ntrusted_proxies;
	char *state_dir;
	uint64_t max_body;
	uint64_t max_header;      /* request line + headers */
	uint64_t max_connections; /* open client connections */
	/* open connections from one address (all unix-socket clients count as one) */
	uint64_t max_connections_per_peer;
	uint64_t read_timeout_ms; /* whole request must arrive within this */
	uint64_t max_parallel;    /* running deployments, all targets */
	uint64_t shutdown_grace_ms;
	uint64_t log_max; /* per-deployment log cap, bytes */
	bool log_json;    /* log_format: json (default logfmt) */
	uint64_t retry_backoff_ms;
	uint64_t delivery_retention_ms; /* delivery ids remembered at least this long */
	uint64_t report_max_age_ms;     /* reports not sent by this age are dropped */
	int socket_mode;                /* unix_socket.mode for unix: listeners; -1: umask */
	char *socket_group;             /* unix_socket.group; NULL: the daemon's group */
	char *api_token_file;           /* NULL: /api/ answers unix-socket clients only */
	char *api_token;
	size_t api_token_len;
	bool api_allow_loopback; /* api: {allow_loopback_without_token: true} */
	gg_dstore_kind store_kind;
	char *store_conninfo_file; /* postgres: a secret file */
	char *store_conninfo;      /* its contents, trailing whitespace stripped; a secret */
	char *replica;             /* this daemon's name among replicas sharing a store */
	uint64_t lease_ms;         /* a running deployment's hold on its target without renewal */
	gg_dsource *sources;
	size_t nsources;
	gg_dtarget *targets;
	size_t ntargets;
	bool each; /* a target is placed on: each */
};

/*
 * Load and validate a daemon config, reading the secret files it names. On
 * success *out is owned by the caller (gg_dconfig_free). On failure returns -1
 * with every problem in diag as "FILE:LINE:COL: message" (I/O as "FILE: ...").
 */
int gg_dconfig_load(gg_dconfig **out, const char *path, gg_diag *diag);
/* The same from memory; `file` names the source in messages. */
int gg_dconfig_parse(gg_dconfig **out, const char *file, const char *data, size_t len,
                     gg_diag *diag);
void gg_dconfig_free(gg_dconfig *cfg);

/* The account the shipped systemd unit runs the daemon as. */
#define GG_DAEMON_USER "gitgated"

/*
 * What loading cannot refuse but a deployment would trip on: a target's
 * program (run[0], checkout.run[0]) that does not exist, or that the daemon's
 * user cannot execute. That user is `user` when given; otherwise the one
 * running this and, when that is root, also GG_DAEMON_USER if the account
 * exists. Appends one "FILE:LINE:COL: warning: ..." line per finding to warn
 * and returns how many; -1 (with the reason in warn) when `user` is unknown.
 */
int gg_dconfig_warnings(const gg_dconfig *cfg, const char *user, gg_diag *warn);

/*
 * What a valid config may still get wrong, as "FILE[:LINE:COL]: warning: ..."
 * lines appended to out: a target without `source` while several sources
 * exist (any of them can name its repository), a local source without a unix
 * listener.
 */
void gg_dconfig_source_warnings(const gg_dconfig *cfg, gg_diag *out);

/* Borrowed lookups; NULL when there is no such name. */
const gg_dsource *gg_dconfig_source(const gg_dconfig *cfg, const char *name);
const gg_dtarget *gg_dconfig_target(const gg_dconfig *cfg, const char *name);

/*
 * The repository a target fetches itself: its checkout, or the url of a run
 * target; NULL when it has none (a run target the payload alone drives). Borrowed.
 */
const gg_dcheckout *gg_dtarget_repository(const gg_dtarget *t);

#endif
