/*
 * gitgated: the webhook receiver and deployment dispatcher. main builds the
 * one context, opens the store and the listeners, and runs the event loop;
 * signals arrive as libevent events.
 *
 * Exit codes: 0 after SIGTERM/SIGINT or a valid --check, 2 for usage or an
 * invalid config, 1 when the daemon cannot start (store, listeners).
 */
#include "gitgated.h"
#include "checkout.h"
#include "drift.h"
#include "local.h"
#include "outbox.h"
#include "tls.h"

#include "gitgate/version.h"
#include "log.h"
#include "statedir.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/gitgate/gitgated.yaml"
/* How often deliveries older than delivery_retention are forgotten. */
#define PRUNE_INTERVAL_S 3600
/* During shutdown: how often to look whether the last answers went out. */
#define DRAIN_POLL_MS 20

typedef struct {
	gg_daemon d;
	const char *config_path;
	struct event *sighup, *sigterm, *sigint, *prune, *drain;
	bool dispatch_done;
	gg_outbox *outbox; /* reports to forges and people */
} daemon_main;

static void usage(FILE *f)
{
	fprintf(f, "usage: gitgated [-c FILE] [--check [--user NAME]]\n"
	           "       gitgated --version | -h\n"
	           "\n"
	           "  -c, --config FILE  the daemon config (default " DEFAULT_CONFIG ")\n"
	           "      --check        validate the config and exit (0 valid, 2 invalid)\n"
	           "      --user NAME    with --check: whose right to run the targets' programs\n"
	           "                     to check (default: yours; as root, " GG_DAEMON_USER ")\n"
	           "  -h, --help         this text\n"
	           "      --version      print the version\n");
}

static void print_diag(gg_diag *diag)
{
	gg_diag_sort(diag);
	for (size_t i = 0; i < diag->n; i++)
		fprintf(stderr, "%s\n", diag->msgs[i]);
}

static void on_prune(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	gg_daemon *d = arg;
	if (gg_store_duty(d->store, "prune"))
		gg_store_prune(d->store, d->cfg->delivery_retention_ms);
}

/* Another replica queued work or freed a target. */
static void on_queue(void *arg, bool freed)
{
	gg_daemon *d = arg;
	if (d->dispatch && !d->stopping)
		gg_dispatch_notified(d->dispatch, freed);
}

/* Whether a delivery for target needs the other replicas woken (store_pg). */
static bool on_busy(void *arg, const char *target)
{
	gg_daemon *d = arg;
	/* A stopping daemon starts nothing: the others must hear of the work. */
	return d->dispatch && !d->stopping && gg_dispatch_busy(d->dispatch, target);
}

static void on_sighup(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	daemon_main *m = arg;
	gg_diag diag = GG_DIAG_INIT;
	gg_dconfig *cfg = NULL;
	/* Renewed certificates first: that needs no valid config change. */
	gg_server_reload_tls(m->d.server);
	if (gg_dconfig_load(&cfg, m->config_path, &diag) < 0) {
		gg_diag_sort(&diag);
		for (size_t i = 0; i < diag.n; i++)
			gg_log(GG_LOG_ERROR, "config reload failed; keeping the running config",
			       "error", diag.msgs[i], NULL);
		gg_diag_free(&diag);
		return;
	}
	gg_diag_free(&diag);
	gg_dconfig *old = m->d.cfg;
	/* Listeners and the state directory stay as they are until a restart. */
	bool listen_changed = cfg->nlisten != old->nlisten;
	for (size_t i = 0; !listen_changed && i < cfg->nlisten; i++)
		listen_changed = strcmp(cfg->listen[i], old->listen[i]) != 0 ||
		                 !gg_dtls_same(cfg->listen_tls[i], old->listen_tls[i]);
	if (listen_changed || strcmp(cfg->state_dir, old->state_dir) != 0)
		gg_log(GG_LOG_WARN, "listen and state_dir changes take effect at the next start",
		       NULL);
	if (cfg->store_kind != old->store_kind ||
	    (cfg->store_conninfo && old->store_conninfo &&
	     strcmp(cfg->store_conninfo, old->store_conninfo) != 0))
		gg_log(GG_LOG_WARN, "store changes take effect at the next start", NULL);
	if (strcmp(cfg->replica, old->replica) != 0 || cfg->lease_ms != old->lease_ms) {
		/* The store holds the name's lock and renews with the lease it opened with. */
		gg_log(GG_LOG_WARN, "replica and lease changes take effect at the next start",
		       NULL);
		free(cfg->replica);
		cfg->replica = gg_strdup(old->replica);
		cfg->lease_ms = old->lease_ms;
	}
	m->d.cfg = cfg;
	gg_log_set_format(cfg->log_json ? GG_LOG_JSON : GG_LOG_LOGFMT);
	if (m->d.dispatch)
		gg_dispatch_reload(m->d.dispatch, cfg);
	if (m->outbox)
		gg_outbox_reload(m->outbox, cfg);
	gg_dconfig_free(old);
	char n1[32], n2[32];
	snprintf(n1, sizeof(n1), "%zu", cfg->nsources);
	snprintf(n2, sizeof(n2), "%zu", cfg->ntargets);
	gg_log(GG_LOG_INFO, "config reloaded", "config", m->config_path, "sources", n1, "targets",
	       n2, NULL);
}

/*
 * Exit once the dispatcher is done and every answer in progress has been
 * written out (a connection closing with unsent output is bounded by
 * read_timeout).
 */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	daemon_main *m = arg;
	if (m->dispatch_done && gg_server_busy(m->d.server) == 0 &&
	    gg_server_connections(m->d.server) == 0) {
		event_base_loopexit(m->d.base, NULL);
		return;
	}
	struct timeval tv = {0, DRAIN_POLL_MS * 1000};
	evtimer_add(m->drain, &tv);
}

static void on_dispatch_done(void *arg)
{
	daemon_main *m = arg;
	m->dispatch_done = true;
}

static void on_sigterm(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	daemon_main *m = arg;
	if (m->d.stopping)
		return;
	gg_log(GG_LOG_INFO, "stopping", "signal", fd == SIGINT ? "INT" : "TERM", NULL);
	m->d.stopping = true;
	gg_server_stop_accepting(m->d.server);
	evtimer_del(m->prune);
	if (m->d.dispatch)
		gg_dispatch_shutdown(m->d.dispatch, m->d.cfg->shutdown_grace_ms, on_dispatch_done,
		                     m);
	else
		m->dispatch_done = true;
	on_drain(-1, 0, m);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'C'},
	    {"user", required_argument, NULL, 'U'},   {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	daemon_main m = {.config_path = DEFAULT_CONFIG};
	gg_daemon *d = &m.d;
	bool check = false;
	const char *check_user = NULL;
	int opt, rc = 1;
	char *err = NULL;
	gg_diag diag = GG_DIAG_INIT;

	if (argc > 1 && !strcmp(argv[1], GG_CHECKOUT_OPTION))
		return gg_checkout_main(argc - 1, argv + 1); /* the dispatcher's checkout child */
	if (argc > 1 && !strcmp(argv[1], GG_DRIFT_OPTION))
		return gg_drift_main(argc - 1, argv + 1); /* a checkout target's drift check */
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			m.config_path = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'U':
			check_user = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("gitgated %s\n", GITGATE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (check_user && !check)) {
		usage(stderr);
		return 2;
	}
	if (gg_dconfig_load(&d->cfg, m.config_path, &diag) < 0) {
		print_diag(&diag);
		gg_diag_free(&diag);
		return 2;
	}
	size_t before = diag.n;
	gg_dconfig_source_warnings(d->cfg, &diag);
	int source_warnings = (int)(diag.n - before);
	if (check) {
		int warnings = gg_dconfig_warnings(d->cfg, check_user, &diag);
		if (warnings >= 0)
			warnings += source_warnings;
		print_diag(&diag);
		if (warnings < 0) {
			gg_dconfig_free(d->cfg);
			gg_diag_free(&diag);
			return 2;
		}
		if (d->cfg->store_kind == GG_STORE_POSTGRES) {
			/* The connection string stays out of this: it holds the password. */
			char *msg = NULL;
			int src = gg_store_check_postgres(d->cfg->store_conninfo, &msg);
			fprintf(src < 0 ? stderr : stdout, "%s: store: postgres (%s): %s%s\n",
			        m.config_path, d->cfg->store_conninfo_file,
			        src < 0 ? "error: " : "", msg);
			free(msg);
			if (src < 0) {
				gg_dconfig_free(d->cfg);
				gg_diag_free(&diag);
				return 2;
			}
		}
		printf("%s: ok (%zu sources, %zu targets", m.config_path, d->cfg->nsources,
		       d->cfg->ntargets);
		if (warnings)
			printf(", %d warning%s", warnings, warnings == 1 ? "" : "s");
		printf(")\n");
		gg_dconfig_free(d->cfg);
		gg_diag_free(&diag);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	gg_log_set_format(d->cfg->log_json ? GG_LOG_JSON : GG_LOG_LOGFMT);
	for (size_t i = 0; i < diag.n; i++)
		gg_log(GG_LOG_WARN, "config", "warning", diag.msgs[i], NULL);

	d->base = event_base_new();
	if (d->base == NULL) {
		fprintf(stderr, "gitgated: cannot create the event loop\n");
		goto done;
	}
	if (gg_statedir_prepare(d->cfg->state_dir, &err) < 0) {
		gg_log(GG_LOG_ERROR, "refusing the state directory", "error", err, NULL);
		goto done;
	}
	if ((d->cfg->store_kind == GG_STORE_POSTGRES
	         ? gg_store_open_postgres(&d->store, d->base, d->cfg->store_conninfo,
	                                  d->cfg->replica, d->cfg->lease_ms, &err)
	         : gg_store_open(&d->store, d->base, d->cfg->state_dir, &err)) < 0) {
		gg_log(GG_LOG_ERROR, "cannot open the store", "error", err, NULL);
		goto done;
	}
	size_t recovered = 0;
	if (gg_store_recover(d->store, &recovered) < 0) {
		gg_log(GG_LOG_ERROR, "cannot recover interrupted deployments", NULL);
		goto done;
	}
	if (recovered) {
		char n[32];
		snprintf(n, sizeof(n), "%zu", recovered);
		gg_log(GG_LOG_WARN, "interrupted deployments queued again", "count", n, NULL);
	}
	for (size_t i = 0; i < d->cfg->nsources; i++)
		if (d->cfg->sources[i].kind == GG_SRC_LOCAL)
			gg_local_ready();
	if (gg_server_new(&d->server, d, &err) < 0) {
		gg_log(GG_LOG_ERROR, "cannot listen", "error", err, NULL);
		goto done;
	}
	if (gg_dispatch_new(&d->dispatch, d->base, d->store, d->cfg) < 0) {
		gg_log(GG_LOG_ERROR, "cannot start the dispatcher", NULL);
		goto done;
	}
	gg_store_on_queue(d->store, on_queue, on_busy, d);
	gg_outbox_new(&m.outbox, d->base, d->store, d->cfg);
	m.sighup = evsignal_new(d->base, SIGHUP, on_sighup, &m);
	m.sigterm = evsignal_new(d->base, SIGTERM, on_sigterm, &m);
	m.sigint = evsignal_new(d->base, SIGINT, on_sigterm, &m);
	m.prune = event_new(d->base, -1, EV_PERSIST, on_prune, d);
	m.drain = evtimer_new(d->base, on_drain, &m);
	struct timeval prune_tv = {PRUNE_INTERVAL_S, 0};
	event_add(m.sighup, NULL);
	event_add(m.sigterm, NULL);
	event_add(m.sigint, NULL);
	event_add(m.prune, &prune_tv);
	if (gg_store_duty(d->store, "prune"))
		gg_store_prune(d->store, d->cfg->delivery_retention_ms);

	gg_log(GG_LOG_INFO, "started", "version", GITGATE_VERSION, "config", m.config_path,
	       "state_dir", d->cfg->state_dir, "store",
	       d->cfg->store_kind == GG_STORE_POSTGRES ? "postgres" : "sqlite", NULL);
	/* Deployments queued before a restart are waiting. */
	gg_dispatch_kick(d->dispatch, NULL, 0);
	event_base_dispatch(d->base);
	gg_log(GG_LOG_INFO, "stopped", NULL);
	rc = 0;
done:
	if (m.sighup)
		event_free(m.sighup);
	if (m.sigterm)
		event_free(m.sigterm);
	if (m.sigint)
		event_free(m.sigint);
	if (m.prune)
		event_free(m.prune);
	if (m.drain)
		event_free(m.drain);
	/* Writes still in flight complete while their requesters exist. */
	if (d->store)
		gg_store_flush(d->store);
	/* Reports in flight are abandoned: their cursors did not move, the next start sends them.
	 */
	gg_outbox_free(m.outbox);
	if (d->dispatch)
		gg_dispatch_free(d->dispatch);
	gg_server_free(d->server);
	gg_store_close(d->store);
	gg_dconfig_free(d->cfg);
	gg_metrics_free();
	if (d->base)
		event_base_free(d->base);
	free(err);
	gg_diag_free(&diag);
	return rc;
}
