/*
 * The state directory (state_dir): who may own it and what may be in it.
 * The daemon writes its database, deployment logs and mirrors there, and
 * often runs as root: a directory another account can write to would let
 * that account plant a symlink and have the daemon append to, or truncate,
 * any file it points at.
 */
#ifndef GITGATED_STATEDIR_H
#define GITGATED_STATEDIR_H

#include <sys/types.h>

/*
 * Create dir (and its logs/ and mirrors/) when missing, then check it: dir and
 * every directory above it must belong to the daemon's user or root and not
 * be writable by others (a sticky directory such as /tmp excepted above
 * dir); dir, and everything directly in dir, logs/ and mirrors/, must belong
 * to the daemon's user, be no symlink, and not be writable by group or
 * others. 0 when it may be used; -1 with an allocated message in *err that
 * names the path and what to do.
 */
int gg_statedir_prepare(const char *dir, char **err);

/*
 * open(2) for a file in the state directory: never through a symlink
 * (O_NOFOLLOW) and close-on-exec. Creating with O_EXCL is the caller's
 * choice; for temporary files, always.
 */
int gg_statedir_open(const char *path, int flags, mode_t mode);

/*
 * Read a whole file of the state directory (never through a symlink), at most
 * max bytes: *out (NUL-terminated, owned by the caller) and *len. 0, or -1
 * with errno set (EFBIG when over max).
 */
int gg_statedir_read(char **out, size_t *len, const char *path, size_t max);

#endif
