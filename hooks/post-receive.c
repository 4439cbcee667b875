/*
 * The post-receive notifier for plain git servers: one signed generic push
 * event per updated ref, sent to gitgate.notifyUrl; spooled under the
 * repository when the daemon cannot take it, sent first next time. The push
 * is already done when this runs, so it never fails: exit 0 always, within
 * GG_NOTIFY_TIMEOUT_MS, and one line on stderr saying what happened.
 */
#include "gitgate/notify.h"
#include "gitgate/util.h"

#include <git2.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UPDATES 10000
#define MAX_LINE    4096

typedef struct {
	char *delivery;
	char *body;
	char *ref;
} event;

/* A ref the event could not be built for, said at the end of the one line. */
static char *build_err;

static void say(const char *fmt, ...) GG_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = gg_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "gitgate: %s%s%s\n", msg, build_err ? "; skipped: " : "",
	        build_err ? build_err : "");
	free(msg);
}

/* Read `OLD NEW REF` lines and build one event each. */
static size_t build_events(event **out, git_repository *repo, const gg_notify_config *cfg,
                           char **first_err)
{
	event *evs = NULL;
	size_t n = 0;
	char line[MAX_LINE];
	gg_notify_repo info = {cfg->full_name, cfg->clone_url, gg_notify_pusher()};
	while (n < MAX_UPDATES && fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *save = NULL;
		char *old_id = strtok_r(line, " ", &save);
		char *new_id = strtok_r(NULL, " ", &save);
		char *ref = strtok_r(NULL, " ", &save);
		if (old_id == NULL || new_id == NULL || ref == NULL)
			continue;
		gg_notify_update u = {old_id, new_id, ref};
		char *body = NULL, *err = NULL;
		if (gg_notify_build(&body, repo, &info, &u, &err) < 0) {
			if (*first_err == NULL)
				*first_err = err;
			else
				free(err);
			continue;
		}
		char delivery[37];
		gg_notify_new_delivery(delivery);
		evs = gg_reallocarray(evs, n + 1, sizeof(*evs));
		evs[n].delivery = gg_strdup(delivery);
		evs[n].body = body;
		evs[n].ref = gg_strdup(ref);
		n++;
	}
	*out = evs;
	return n;
}

static size_t spool_rest(event *evs, size_t from, size_t n, const gg_notify_config *cfg, char **err)
{
	size_t spooled = 0;
	for (size_t i = from; i < n; i++) {
		char *e = NULL;
		if (gg_notify_spool(cfg, evs[i].delivery, evs[i].body, strlen(evs[i].body), &e) ==
		    0)
			spooled++;
		else if (*err == NULL)
			*err = e;
		else
			free(e);
	}
	return spooled;
}

int main(int argc, char **argv)
{
	(void)argc, (void)argv;
	git_repository *repo = NULL;
	gg_notify_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	event *evs = NULL;
	size_t nev = 0;
	char *secret = NULL, *err = NULL, *skipped = NULL;
	size_t secret_len = 0;
	uint64_t deadline = gg_now_ms() + GG_NOTIFY_TIMEOUT_MS;

	signal(SIGPIPE, SIG_IGN);
	git_libgit2_init();
	/* git has applied safe.directory already (its system, global and command-line
	 * scopes, `*` included); libgit2 1.5 reads neither that scope nor `*`. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	if (git_repository_open_ext(&repo, NULL, GIT_REPOSITORY_OPEN_FROM_ENV, NULL) < 0) {
		const git_error *e = git_error_last();
		say("notify: cannot open the repository: %s; nothing sent",
		    e && e->message ? e->message : "?");
		goto done;
	}
	if (gg_notify_config_load(&cfg, repo, &err) < 0) {
		say("notify: %s; nothing sent", err);
		goto done;
	}
	if (cfg.url == NULL) {
		say("notify: gitgate.notifyUrl is not set; nothing sent");
		goto done;
	}
	nev = build_events(&evs, repo, &cfg, &build_err);

	/* A unix socket needs no secret: the daemon knows who connects. */
	bool unsigned_ok = cfg.secret_file == NULL && strncmp(cfg.url, "unix:", 5) == 0;
	if (!unsigned_ok &&
	    (cfg.secret_file == NULL ||
	     gg_read_secret_file(&secret, &secret_len, cfg.secret_file, &err) < 0)) {
		/* The events wait in the spool until the secret is fixed and they are flushed. */
		size_t s = spool_rest(evs, 0, nev, &cfg, &err);
		say("notify: %s; %zu event(s) spooled in %s",
		    err ? err : "gitgate.notifySecretFile is not set", s, cfg.spool_dir);
		goto done;
	}

	/* Older events first, so that the daemon sees pushes in order. */
	gg_notify_flush_stats st;
	size_t before = gg_notify_spooled(&cfg);
	if (before > 0 && gg_notify_flush(&st, &cfg, cfg.url, secret, secret_len, deadline) < 0 &&
	    st.stopped) {
		size_t s = spool_rest(evs, 0, nev, &cfg, &err);
		say("notify: %s unreachable (%s); %zu event(s) spooled in %s, %zu waiting in all",
		    cfg.url, st.last_error ? st.last_error : "?", s, cfg.spool_dir, st.left + s);
		free(st.last_error);
		free(st.skipped_why);
		goto done;
	}
	size_t flushed = 0;
	if (before > 0) {
		flushed = st.sent;
		skipped = st.skipped_why; /* one line for the pusher */
		for (char *c = skipped; c && *c; c++)
			if (*c == '\n')
				*c = ' ';
		free(st.last_error);
	}
	size_t sent = 0, rejected = 0;
	int last_status = 0;
	for (size_t i = 0; i < nev; i++) {
		int status = 0;
		char *e = NULL;
		gg_notify_result r =
		    gg_notify_send(cfg.url, secret, secret_len, evs[i].delivery, evs[i].body,
		                   strlen(evs[i].body), deadline, &status, &e);
		if (r == GG_NOTIFY_SENT) {
			sent++;
			free(e);
			continue;
		}
		if (r == GG_NOTIFY_REJECTED) {
			rejected++;
			last_status = status;
			free(e);
			continue;
		}
		size_t s = spool_rest(evs, i, nev, &cfg, &err);
		say("notify: %s unreachable (%s); %zu event(s) spooled in %s", cfg.url, e ? e : "?",
		    s, cfg.spool_dir);
		free(e);
		goto done;
	}
	if (rejected)
		say("notify: %s refused %zu of %zu event(s) (HTTP %d); check the secret and the "
		    "source's name",
		    cfg.url, rejected, nev, last_status);
	else if (flushed)
		say("notify: sent %zu event(s) and %zu spooled earlier to %s", sent, flushed,
		    cfg.url);
	else
		say("notify: sent %zu event(s) to %s", sent, cfg.url);
	if (skipped)
		say("notify: spooled events left unsent: %s", skipped);
done:
	free(skipped);
	for (size_t i = 0; i < nev; i++) {
		free(evs[i].delivery);
		free(evs[i].body);
		free(evs[i].ref);
	}
	free(evs);
	if (secret) {
		OPENSSL_cleanse(secret, secret_len);
		free(secret);
	}
	free(err);
	free(build_err);
	build_err = NULL;
	gg_notify_config_clear(&cfg);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return 0;
}
