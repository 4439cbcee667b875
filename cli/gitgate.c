#include "cli.h"
#include "gitgate/util.h"
#include "gitgate/version.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char bindir[PATH_MAX];

const char *gg_cli_bindir(void)
{
	return bindir;
}

static void find_bindir(const char *argv0)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = '\0';
	} else if (realpath(argv0, path) == NULL) {
		snprintf(bindir, sizeof(bindir), ".");
		return;
	}
	char *slash = strrchr(path, '/');
	if (slash)
		*slash = '\0';
	snprintf(bindir, sizeof(bindir), "%s", path);
}

static const char usage_version[] = "gitgate --version\n";
static const char usage_help[] = "gitgate [COMMAND] --help\n";

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && gg_cli_is_help(argv[1])) {
		gg_cli_usage(stdout, usage_version);
		return GG_EXIT_OK;
	}
	printf("gitgate %s\n", GITGATE_VERSION);
	return GG_EXIT_OK;
}

bool gg_cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

/* The lines of text, the very first after "usage: ", every other aligned below it. */
static void usage_lines(FILE *f, const char *text, bool *first)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "%s%.*s\n", *first ? "usage: " : "       ", (int)len, p);
		*first = false;
		p += len + (nl != NULL);
	}
}

void gg_cli_usage(FILE *f, const char *text)
{
	bool first = true;
	usage_lines(f, text, &first);
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
    {"version", cmd_version},  {"policy", gg_cmd_policy},
    {"check", gg_cmd_check},   {"install-hook", gg_cmd_install_hook},
    {"notify", gg_cmd_notify}, {"status", gg_cmd_status},
    {"pause", gg_cmd_pause},   {"resume", gg_cmd_pause},
};

/* Every subcommand's own usage, in gitgate(1)'s order. */
static void usage(FILE *f)
{
	const char *texts[] = {
	    gg_usage_check, gg_usage_install_hook, gg_usage_policy, gg_usage_status,
	    gg_usage_pause, gg_usage_notify,       usage_version,   usage_help};
	bool first = true;
	for (size_t i = 0; i < GG_ARRAY_LEN(texts); i++)
		usage_lines(f, texts[i], &first);
}

int main(int argc, char **argv)
{
	find_bindir(argv[0]);
	if (argc < 2) {
		usage(stderr);
		return GG_EXIT_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return GG_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < GG_ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "gitgate: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return GG_EXIT_ERROR;
}
