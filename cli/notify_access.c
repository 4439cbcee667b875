/*
 * Whether every account that pushes to a repository can notify gitgated: in a
 * repository shared by a group (core.sharedRepository), the notifier runs as
 * each member in turn, so the secret or the socket it uses must be theirs too.
 * Only warnings: the hooks are installed either way.
 */
#include "cli.h"
#include "gitgate/httpc.h"
#include "gitgate/notify.h"
#include "gitgate/util.h"

#include <git2.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *group_name(gid_t gid)
{
	struct group *g = getgrgid(gid);
	return g ? gg_strdup(g->gr_name) : gg_printf("%u", (unsigned)gid);
}

static char *user_name(uid_t uid)
{
	struct passwd *p = getpwuid(uid);
	return p ? gg_strdup(p->pw_name) : gg_printf("uid %u", (unsigned)uid);
}

#define SOCKET_HINT                                                                                \
	"notify through gitgated's unix socket instead, which needs no secret: --notify "          \
	"unix:/run/gitgated/notify.sock:/hooks/local with a `kind: local` source and "             \
	"`unix_socket: {mode: \"0660\", group: %s}` in gitgated.yaml (docs/deploy.md)"

void gg_cli_warn_notify_access(git_repository *repo, const char *repo_path, const char *notify,
                               const char *secret_file)
{
	git_config *cfg = NULL;
	git_buf b = GIT_BUF_INIT;
	int perm = 0;
	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_string_buf(&b, cfg, "core.sharedRepository") == 0)
		perm = gg_notify_shared_perm(b.ptr);
	git_buf_dispose(&b);
	git_config_free(cfg);
	git_error_clear();
	struct stat rs;
	if ((perm & 0060) != 0060 || stat(git_repository_path(repo), &rs) < 0)
		return; /* one account's repository: whoever owns it notifies */
	char *grp = group_name(rs.st_gid);
	struct stat st;
	if (secret_file) {
		/* The notifier takes only a secret its owner alone can read. */
		if (stat(secret_file, &st) == 0) {
			char *owner = user_name(st.st_uid);
			fprintf(
			    stderr,
			    "gitgate: warning: %s is shared by group %s, but only %s can read the "
			    "notify secret %s: pushes by the other members are spooled, never "
			    "sent; " SOCKET_HINT "\n",
			    repo_path, grp, owner, secret_file, grp);
			free(owner);
		}
	} else if (notify && strncmp(notify, "unix:", 5) == 0) {
		gg_httpc_url u;
		char *err = NULL;
		if (gg_httpc_url_parse(&u, notify, &err) == 0) {
			if (stat(u.socket_path, &st) < 0 || !S_ISSOCK(st.st_mode))
				fprintf(
				    stderr,
				    "gitgate: warning: %s: no socket at %s yet; start gitgated "
				    "with "
				    "`listen: [\"unix:%s\"]` and `unix_socket: {mode: \"0660\", "
				    "group: %s}`\n",
				    repo_path, u.socket_path, u.socket_path, grp);
			else if (!(st.st_mode & S_IWOTH) &&
			         !(st.st_gid == rs.st_gid && (st.st_mode & S_IWGRP))) {
				char *sgrp = group_name(st.st_gid);
				fprintf(
				    stderr,
				    "gitgate: warning: %s is shared by group %s, whose members "
				    "cannot "
				    "connect to %s (mode %04o, group %s): set `unix_socket: {mode: "
				    "\"0660\", group: %s}` in gitgated.yaml\n",
				    repo_path, grp, u.socket_path, (unsigned)(st.st_mode & 07777),
				    sgrp, grp);
				free(sgrp);
			}
			gg_httpc_url_clear(&u);
		}
		free(err);
	}
	free(grp);
}
