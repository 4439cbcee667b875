/*
 * The gitgate command-line tool: one function per subcommand, each taking the
 * arguments after its name and returning the process exit code (0 clean,
 * 1 violations found, 2 usage, configuration or I/O error).
 */
#ifndef GITGATE_CLI_H
#define GITGATE_CLI_H

#define GG_EXIT_OK         0
#define GG_EXIT_VIOLATIONS 1
#define GG_EXIT_ERROR      2

/* gitgate.c: the directory holding the running gitgate binary (for relocatable lookups). */
const char *gg_cli_bindir(void);

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

#endif
