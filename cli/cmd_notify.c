/*
 * gitgate notify --flush [--url URL] [--secret-file FILE] REPO.git...:
 * send the push events the post-receive notifier spooled while gitgated was
 * unreachable, oldest first, with their original delivery ids.
 */
#include "cli.h"
#include "gitgate/notify.h"
#include "gitgate/util.h"

#include <git2.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOTIFY_FLUSH_TIMEOUT_MS 30000

const char gg_usage_notify[] =
    "gitgate notify --flush [--url URL] [--secret-file FILE] REPO.git...\n";

static void notify_usage(FILE *f)
{
	gg_cli_usage(f, gg_usage_notify);
}

static int flush_repo(const char *path, const char *url_opt, const char *secret_opt)
{
	int rc = GG_EXIT_ERROR;
	git_repository *repo = NULL;
	gg_notify_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	char *secret = NULL, *err = NULL;
	size_t secret_len = 0;

	int orc = git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	struct stat rst;
	const git_error *oe = orc < 0 ? git_error_last() : NULL;
	bool owner_refused =
	    orc == GIT_EOWNER ||
	    (oe && oe->message &&
	     (strstr(oe->message, "safe.directory") || strstr(oe->message, "owned")) &&
	     stat(path, &rst) == 0 && rst.st_uid != geteuid() && rst.st_uid != 0);
	if (owner_refused) {
		/* libgit2 1.5 may word this as a missing config value; say what git would. */
		fprintf(stderr,
		        "gitgate: %s: not owned by current user; as git does, trust it with "
		        "git config --global --add safe.directory %s\n",
		        path, path);
		goto done;
	}
	if (orc < 0) {
		const git_error *e = git_error_last();
		fprintf(stderr, "gitgate: %s: %s\n", path, e && e->message ? e->message : "?");
		goto done;
	}
	if (gg_notify_config_load(&cfg, repo, &err) < 0) {
		fprintf(stderr, "gitgate: %s: %s\n", path, err);
		goto done;
	}
	const char *url = url_opt ? url_opt : cfg.url;
	const char *secret_file = secret_opt ? secret_opt : cfg.secret_file;
	/* A unix socket needs no secret: the daemon knows who connects. */
	bool unsigned_ok = url && secret_file == NULL && strncmp(url, "unix:", 5) == 0;
	if (url == NULL || (secret_file == NULL && !unsigned_ok)) {
		fprintf(stderr,
		        "gitgate: %s: gitgate.notifyUrl and gitgate.notifySecretFile must be set "
		        "(or give --url and --secret-file; a unix: URL needs no secret)\n",
		        path);
		goto done;
	}
	if (!unsigned_ok && gg_read_secret_file(&secret, &secret_len, secret_file, &err) < 0) {
		fprintf(stderr, "gitgate: %s\n", err);
		goto done;
	}
	gg_notify_flush_stats st;
	int frc = gg_notify_flush(&st, &cfg, url, secret, secret_len,
	                          gg_now_ms() + NOTIFY_FLUSH_TIMEOUT_MS);
	printf("%s: sent %zu, rejected %zu, still spooled %zu\n", path, st.sent, st.rejected,
	       st.left);
	/* Every file left behind, then why the sending stopped (when it did). */
	for (char *line = st.skipped_why, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		fprintf(stderr, "gitgate: %s: %s\n", path, line);
	}
	if (st.last_error && (st.stopped || st.rejected || st.skipped == 0))
		fprintf(stderr, "gitgate: %s: %s\n", path, st.last_error);
	free(st.last_error);
	free(st.skipped_why);
	rc = frc == 0 && st.rejected == 0 ? GG_EXIT_OK : GG_EXIT_ERROR;
done:
	if (secret) {
		OPENSSL_cleanse(secret, secret_len);
		free(secret);
	}
	free(err);
	gg_notify_config_clear(&cfg);
	git_repository_free(repo);
	return rc;
}

int gg_cmd_notify(int argc, char **argv)
{
	bool flush = false;
	const char *url = NULL, *secret_file = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--flush"))
			flush = true;
		else if (!strcmp(argv[i], "--url") && i + 1 < argc)
			url = argv[++i];
		else if (!strcmp(argv[i], "--secret-file") && i + 1 < argc)
			secret_file = argv[++i];
		else if (gg_cli_is_help(argv[i])) {
			notify_usage(stdout);
			return GG_EXIT_OK;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "gitgate notify: unknown option %s\n", argv[i]);
			notify_usage(stderr);
			return GG_EXIT_ERROR;
		} else
			break;
	}
	if (!flush || i >= argc) {
		notify_usage(stderr);
		return GG_EXIT_ERROR;
	}
	git_libgit2_init();
	int rc = GG_EXIT_OK;
	for (; i < argc; i++)
		if (flush_repo(argv[i], url, secret_file) != GG_EXIT_OK)
			rc = GG_EXIT_ERROR;
	git_libgit2_shutdown();
	return rc;
}
