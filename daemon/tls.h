/*
 * TLS on gitgated's own listeners: one OpenSSL context per TLS listener,
 * re-read from its files on SIGHUP (the old context keeps serving when the
 * new pair is refused), and connections accepted as libevent OpenSSL
 * bufferevents in the accepting state. TLS 1.2 and 1.3 only; the ciphers are
 * OpenSSL's system defaults.
 */
#ifndef GITGATED_TLS_H
#define GITGATED_TLS_H

#include "config.h"

#include "gitgate/yload.h"
#include "gitgate/ytree.h"

#include <event2/util.h>

struct bufferevent;
struct event_base;

typedef struct gg_tls gg_tls;

/*
 * Parse one `listen:` map, {address: A, tls: {cert_file, key_file,
 * client_ca_file, min_version}}, reporting problems at their position. The
 * files are loaded as the daemon would (the key checked like every secret
 * file, the pair matched), so a config that loads is one that can serve.
 * *address gets the address (allocated) or NULL; returns the TLS settings
 * (owned by the caller, gg_dtls_free) or NULL when the map has none or is bad.
 */
gg_dtls *gg_tls_config_parse(gg_yload *c, const gg_ynode *map, char **address);
void gg_dtls_free(gg_dtls *t);
/* Do two listen entries' TLS settings (either may be NULL) say the same? */
bool gg_dtls_same(const gg_dtls *a, const gg_dtls *b);

/* A listener's TLS from its settings (copied). -1 with *err (allocated). */
int gg_tls_new(gg_tls **out, const gg_dtls *cfg, char **err);
/*
 * Read the certificate and key again. On failure the current pair stays and
 * -1 comes back with *err (allocated); connections in flight are untouched
 * either way (each holds a reference to the context it started with).
 */
int gg_tls_reload(gg_tls *t, char **err);
/* The certificate file, for log lines. */
const char *gg_tls_cert_file(const gg_tls *t);
/*
 * A bufferevent for an accepted socket that starts with the server side of a
 * handshake; it owns fd (closed when freed). NULL when it cannot be created
 * (fd is closed then too).
 */
struct bufferevent *gg_tls_accept(gg_tls *t, struct event_base *base, evutil_socket_t fd);
/* Why a TLS bufferevent failed (static text or an OpenSSL reason). */
const char *gg_tls_error(struct bufferevent *bev);
void gg_tls_free(gg_tls *t);

#endif
