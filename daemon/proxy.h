/*
 * trusted_proxies: which peers may tell us who the client is. Only from a
 * peer inside one of the configured blocks are `Forwarded` (RFC 7239) and
 * `X-Forwarded-For` / `X-Forwarded-Proto` believed; from anyone else they are
 * ignored.
 */
#ifndef GITGATED_PROXY_H
#define GITGATED_PROXY_H

#include "config.h"
#include "sender.h"

#include "gitgate/yload.h"
#include "gitgate/ytree.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Room for any address gg_proxy_client writes, with its NUL. */
#define GG_PROXY_ADDR_MAX 46

/*
 * Parse `trusted_proxies:` (a list of "addr/bits", plain addresses, or
 * "unix" for every peer of a unix-socket listener),
 * reporting bad entries at their position. *out (allocated) and *n.
 */
void gg_proxy_config(gg_yload *c, const gg_ynode *v, gg_cidr **out, size_t *n);
/* Is the peer inside one of the blocks? */
bool gg_proxy_trusted(const gg_cidr *list, size_t n, const struct sockaddr *sa);
/* Does the request carry any header by which a proxy names a client? */
bool gg_proxy_headers_present(const gg_header *h, size_t nh);
/*
 * The client a trusted proxy names: the right-most address of its
 * X-Forwarded-For (or, without one, of Forwarded's for=) that is not itself a
 * trusted proxy. Written to out (GG_PROXY_ADDR_MAX bytes, normalized with
 * inet_ntop) and true; false when the headers name no usable address.
 * *https is set from X-Forwarded-Proto / proto= when they say "https".
 */
bool gg_proxy_client(char *out, const gg_cidr *list, size_t n, const gg_header *h, size_t nh,
                     bool *https);

#endif
