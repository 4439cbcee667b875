/*
 * The gitgate command-line tool: one function per subcommand, each taking the
 * arguments after its name and returning the process exit code (0 clean,
 * 1 violations found, 2 usage, configuration or I/O error).
 */
#ifndef GITGATE_CLI_H
#define GITGATE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define GG_EXIT_OK         0
#define GG_EXIT_VIOLATIONS 1
#define GG_EXIT_ERROR      2

/* The line every hook wrapper gitgate writes carries; how a hook is known to be ours. */
#define GG_HOOK_MARKER "# installed by gitgate install-hook"

/* gitgate.c: the directory holding the running gitgate binary (for relocatable lookups). */
const char *gg_cli_bindir(void);

/*
 * Each subcommand's usage: one "gitgate ..." line per form, as gitgate(1)'s
 * SYNOPSIS writes it. `gitgate SUB --help` prints its own, `gitgate --help`
 * all of them; tests/e2e/manpages.sh holds them to the man page.
 */
extern const char gg_usage_check[];        /* cmd_check.c */
extern const char gg_usage_install_hook[]; /* cmd_install_hook.c */
extern const char gg_usage_policy[];       /* cmd_policy.c */
extern const char gg_usage_status[];       /* cmd_status.c */
extern const char gg_usage_notify[];       /* cmd_notify.c */
extern const char gg_usage_pause[];        /* cmd_pause.c */

/* gitgate.c: print a usage text, its first line after "usage: ", the rest aligned below. */
void gg_cli_usage(FILE *f, const char *text);

/* gitgate.c: whether arg asks for help (-h, --help). */
bool gg_cli_is_help(const char *arg);

typedef struct git_repository git_repository;
/*
 * notify_access.c: warn on stderr when repo is shared by a group whose members
 * cannot use the notify secret or socket (secret_file NULL for a socket).
 */
void gg_cli_warn_notify_access(git_repository *repo, const char *repo_path, const char *notify,
                               const char *secret_file);

/* Subcommands: argv[0] is the subcommand's name. */
int gg_cmd_policy(int argc, char **argv);       /* cmd_policy.c: policy lint FILE */
int gg_cmd_install_hook(int argc, char **argv); /* cmd_install_hook.c */
int gg_cmd_check(int argc, char **argv);        /* cmd_check.c */
int gg_cmd_notify(int argc, char **argv);       /* cmd_notify.c: notify --flush REPO.git... */
int gg_cmd_status(int argc, char **argv);       /* cmd_status.c: status [--url URL] [--json] */
int gg_cmd_pause(int argc, char **argv);        /* cmd_pause.c: pause|resume TARGET */
/* cmd_gitolite.c: install-hook --gitolite [--policy FILE] [--include-admin] [--uninstall] */
int gg_cmd_install_gitolite(int argc, char **argv);
/* hook_check.c: status --hooks DIR... and install-hook --check DIR... (argv[0] the option) */
int gg_cmd_hooks_check(int argc, char **argv);

/* cmd_install_hook.c: libexec/gitgate/NAME beside bin/gitgate, absolute (caller frees), or
 * NULL after saying why. */
char *gg_cli_find_program(const char *name);

/* hook_check.c */
/* Print s with control characters and backslashes as \xNN. */
void gg_cli_put_path(FILE *f, const char *s);
/* True when the file at path (symlinks followed) carries GG_HOOK_MARKER. */
bool gg_cli_hook_is_ours(const char *path);
/* Why the git directory's pre-receive does not reach the gate ("KIND: detail", caller
 * frees), or NULL when it does. */
char *gg_cli_hook_problem(const char *gitdir);
/* Check every repository under root, printing to report (when not NULL) one line per
 * repository that is not gated; *repos and *bad count them. 0, or -1 when root (or a
 * directory in it) cannot be read. */
int gg_cli_check_root(const char *root, FILE *report, size_t *repos, size_t *bad);

#endif
