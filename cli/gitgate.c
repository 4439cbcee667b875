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

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("gitgate %s\n", GITGATE_VERSION);
	return GG_EXIT_OK;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
    {"version", cmd_version},  {"policy", gg_cmd_policy},
    {"check", gg_cmd_check},   {"install-hook", gg_cmd_install_hook},
    {"notify", gg_cmd_notify}, {"status", gg_cmd_status},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: gitgate check [--policy FILE] [--format text|json|sarif] [PATH...]\n"
	           "       gitgate check [--policy FILE] --range OLD..NEW\n"
	           "       gitgate install-hook [--policy FILE] [--notify URL --secret-file FILE]"
	           " [--force] REPO.git...\n"
	           "       gitgate install-hook --gitolite [--policy FILE] [--include-admin]"
	           " [--uninstall]\n"
	           "       gitgate policy lint FILE\n"
	           "       gitgate status [--url URL] [--json]\n"
	           "       gitgate status --hooks DIR...\n"
	           "       gitgate notify --flush REPO.git\n"
	           "       gitgate --version\n");
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
