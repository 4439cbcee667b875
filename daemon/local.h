/*
 * The local source: push events from the post-receive notifier over a unix
 * socket, with no shared secret. Any account that may connect to the socket
 * can write an event, so nothing in it is believed that the daemon can check
 * itself: the sender's identity comes from the kernel (SO_PEERCRED), the
 * repository must be a git repository under the source's `root` (and is named
 * by its path there), and the ref must point at the event's `after` on disk.
 * See docs/deploy.md, "Who can make gitgated deploy what".
 */
#ifndef GITGATED_LOCAL_H
#define GITGATED_LOCAL_H

#include "config.h"
#include "sender.h"

#include <stdbool.h>
#include <sys/types.h>

/* Who is at the other end of a unix-socket connection, as the kernel says. */
typedef struct {
	bool known; /* false: not a unix socket, or the kernel would not say */
	uid_t uid;
	gid_t gid;
	pid_t pid;
} gg_peer;

/* Fill *out from a connected socket (SO_PEERCRED); out->known false on any other socket. */
void gg_peer_from_fd(gg_peer *out, int fd);

/*
 * Before bind(2): when the config sets unix_socket, the socket file is created
 * owner-only (Linux takes the new file's mode from the socket's inode), so no
 * one else can connect before gg_local_socket_setup has set the group.
 */
void gg_local_socket_prebind(int fd, const gg_dconfig *cfg);

/*
 * Give a freshly bound unix socket at path the config's unix_socket mode and
 * group. Refuses a socket whose directory others may write (they could swap
 * the socket for a symlink before the chmod) unless that directory is sticky.
 * 0, or -1 with an allocated *err.
 */
int gg_local_socket_setup(const char *path, const gg_dconfig *cfg, char **err);

/* Set libgit2 up (once), so that the first event is not the one that pays for it. */
void gg_local_ready(void);

/*
 * Authenticate and parse an event for local source src from peer: the
 * generic push shape, delivery id from X-Gitgate-Delivery. Each push is
 * checked against the repository on disk: its clone_url must be a file://
 * path to a git repository below src->root (its name becomes that path,
 * without ".git"), and the ref must point at `after` there (for a delete: no
 * longer exist). A push whose ref has moved on since is dropped (a newer event
 * covers it). The pusher is the peer's account name, unless the peer is root
 * or one of src->trusted_users, whose claimed pusher is kept. Fills *res like
 * gg_sender_handle; GG_SENDER_UNAUTHORIZED when the peer is unknown (not a
 * unix socket, or the kernel's overflow uid: an account outside the daemon's
 * user namespace),
 * GG_SENDER_FORBIDDEN when a repository is not one the source serves.
 */
gg_sender_rc gg_local_handle(gg_sender_result *res, const gg_dsource *src, const gg_peer *peer,
                             const gg_header *hdrs, size_t nhdrs, const char *body, size_t len);

#endif
