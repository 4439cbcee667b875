/*
 * State directory checks, made once at start before anything is written
 * there, plus the one open(2) every file in it goes through.
 */
#include "statedir.h"

#include "gitgate/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATEDIR_MODE 0750

int gg_statedir_open(const char *path, int flags, mode_t mode)
{
	return open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

int gg_statedir_read(char **out, size_t *len, const char *path, size_t max)
{
	*out = NULL;
	*len = 0;
	int fd = gg_statedir_open(path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	gg_buf b = GG_BUF_INIT;
	for (;;) {
		gg_buf_grow(&b, 65536);
		ssize_t n = read(fd, b.ptr + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (max && b.len + (size_t)(n > 0 ? n : 0) > max)) {
			int e = n < 0 ? errno : EFBIG;
			close(fd);
			gg_buf_free(&b);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
	}
	close(fd);
	b.ptr[b.len] = '\0';
	*len = b.len;
	*out = gg_buf_detach(&b);
	return 0;
}

/* Whether st (of path) may be trusted as part of the state directory. */
static int check_owned(const char *path, const struct stat *st, bool dir_expected, char **err)
{
	uid_t me = geteuid();
	if (S_ISLNK(st->st_mode)) {
		*err = gg_printf("%s: a symlink in the state directory; remove it", path);
		return -1;
	}
	if (dir_expected && !S_ISDIR(st->st_mode)) {
		*err = gg_printf("%s: not a directory", path);
		return -1;
	}
	if (st->st_uid != me) {
		*err = gg_printf("%s: owned by uid %u, not by the daemon's user (uid %u); "
		                 "chown it or choose another state_dir",
		                 path, (unsigned)st->st_uid, (unsigned)me);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		*err = gg_printf("%s: writable by group or others (mode %04o); chmod go-w it", path,
		                 (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Every ancestor of dir: root's or ours, and not writable by others unless sticky. */
static int check_ancestors(const char *dir, char **err)
{
	char *abs = realpath(dir, NULL);
	if (abs == NULL) {
		*err = gg_printf("%s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	uid_t me = geteuid();
	for (char *slash = strrchr(abs, '/'); slash; slash = strrchr(abs, '/')) {
		if (slash == abs)
			slash[1] = '\0';
		else
			*slash = '\0';
		struct stat st;
		if (stat(abs, &st) < 0) {
			*err = gg_printf("%s: %s", abs, strerror(errno));
			rc = -1;
			break;
		}
		bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX);
		if ((st.st_uid != 0 && st.st_uid != me) || others_write) {
			*err = gg_printf("%s: a directory above state_dir that another user can "
			                 "change (owner uid %u, mode %04o); choose a state_dir "
			                 "under directories only root or the daemon's user can "
			                 "write",
			                 abs, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
			rc = -1;
			break;
		}
		if (slash == abs)
			break;
	}
	free(abs);
	return rc;
}

/* Everything directly in dir: ours, no symlink, not writable by others; subdirs too. */
static int check_entries(const char *dir, bool recurse, char **err)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		*err = gg_printf("%s: %s", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		char *path = gg_printf("%s/%s", dir, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) {
				*err = gg_printf("%s: %s", path, strerror(errno));
				rc = -1;
			}
		} else if (check_owned(path, &st, false, err) < 0) {
			rc = -1;
		} else if (recurse && S_ISDIR(st.st_mode) &&
		           (!strcmp(e->d_name, "logs") || !strcmp(e->d_name, "mirrors"))) {
			rc = check_entries(path, false, err);
		}
		free(path);
	}
	closedir(d);
	return rc;
}

int gg_statedir_prepare(const char *dir, char **err)
{
	*err = NULL;
	if (gg_mkdir_p(dir, STATEDIR_MODE) < 0) {
		*err = gg_printf("%s: cannot create: %s", dir, strerror(errno));
		return -1;
	}
	/* The directory itself may be a symlink the administrator made: judge its target. */
	struct stat st;
	if (stat(dir, &st) < 0) {
		*err = gg_printf("%s: %s", dir, strerror(errno));
		return -1;
	}
	if (check_owned(dir, &st, true, err) < 0 || check_ancestors(dir, err) < 0)
		return -1;
	static const char *const subdirs[] = {"logs", "mirrors"};
	for (size_t i = 0; i < GG_ARRAY_LEN(subdirs); i++) {
		char *sub = gg_printf("%s/%s", dir, subdirs[i]);
		int rc = mkdir(sub, STATEDIR_MODE);
		if (rc < 0 && errno != EEXIST) {
			*err = gg_printf("%s: cannot create: %s", sub, strerror(errno));
			free(sub);
			return -1;
		}
		free(sub);
	}
	return check_entries(dir, true, err);
}
