/*
 * TLS for the listeners: contexts built from the configured files, swapped
 * on reload, and the server side of each connection's handshake as a libevent
 * OpenSSL bufferevent. The handshake needs no deadline of its own here: the
 * connection's deadline runs from accept (server.c), so a client that never
 * finishes its handshake holds one slot for at most read_timeout.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The largest certificate (chain) or CA file read: far above any real one. */
#define TLS_PEM_MAX (1024 * 1024)

struct gg_tls {
	gg_dtls cfg;
	SSL_CTX *ctx; /* replaced on reload; connections hold their own reference */
};

static const char *const tls_keys[] = {"cert_file", "key_file", "client_ca_file", "min_version",
                                       NULL};
static const char *const entry_keys[] = {"address", "tls", NULL};

void gg_dtls_free(gg_dtls *t)
{
	if (t == NULL)
		return;
	free(t->cert_file);
	free(t->key_file);
	free(t->client_ca_file);
	free(t);
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

bool gg_dtls_same(const gg_dtls *a, const gg_dtls *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return same_str(a->cert_file, b->cert_file) && same_str(a->key_file, b->key_file) &&
	       same_str(a->client_ca_file, b->client_ca_file) && a->min_version == b->min_version;
}

/* The last OpenSSL error as "what: reason", allocated; the queue is cleared. */
static char *ssl_err(const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	return gg_printf("%s: %s: %s", path, what, reason);
}

/*
 * A PEM file into a memory BIO: a regular file of bounded size, so that a
 * FIFO or a device named by mistake can neither hang nor flood the loader.
 */
static BIO *read_pem(const char *path, char **err)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = gg_printf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		*err = gg_printf("%s: not a regular file", path);
		return NULL;
	}
	if (gg_read_file(&data, &len, path, TLS_PEM_MAX) < 0) {
		*err = gg_printf("%s: %s", path, errno == EFBIG ? "too large" : strerror(errno));
		return NULL;
	}
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio == NULL || BIO_write(bio, data, (int)len) != (int)len) {
		BIO_free(bio);
		bio = NULL;
		*err = ssl_err("out of memory", path);
	}
	free(data);
	return bio;
}

/* The leaf certificate, then every further one in the file as its chain. */
static int use_cert_chain(SSL_CTX *ctx, const char *path, char **err)
{
	BIO *bio = read_pem(path, err);
	X509 *x = NULL;
	int rc = -1;
	if (bio == NULL)
		return -1;
	x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		*err = ssl_err("cannot load the certificate", path);
		goto done;
	}
	SSL_CTX_clear_chain_certs(ctx);
	X509 *ca;
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			*err = ssl_err("cannot load the chain", path);
			goto done;
		}
	}
	ERR_clear_error(); /* the end of the file */
	rc = 0;
done:
	X509_free(x);
	BIO_free(bio);
	return rc;
}

/* Trust the CAs of the file for client certificates, and name them to clients. */
static int use_client_ca(SSL_CTX *ctx, const char *path, char **err)
{
	BIO *bio = read_pem(path, err);
	X509 *x;
	int n = 0;
	if (bio == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		int ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x) == 1 &&
		         SSL_CTX_add_client_CA(ctx, x) == 1;
		X509_free(x);
		if (!ok) {
			BIO_free(bio);
			*err = ssl_err("cannot load the client CA", path);
			return -1;
		}
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (n == 0) {
		*err = gg_printf("%s: no PEM certificate in the client CA file", path);
		return -1;
	}
	return 0;
}

static SSL_CTX *ctx_new(const gg_dtls *cfg, char **err)
{
	char *key = NULL;
	size_t klen = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *ret = NULL;
	if (ctx == NULL) {
		*err = ssl_err("cannot create a TLS context", cfg->cert_file);
		goto done;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, cfg->min_version == 13 ? TLS1_3_VERSION
	                                                               : TLS1_2_VERSION)) {
		*err = ssl_err("cannot set the TLS version", cfg->cert_file);
		goto done;
	}
	/* Client-initiated renegotiation only costs us CPU. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (use_cert_chain(ctx, cfg->cert_file, err) < 0)
		goto done;
	/* The key is a secret: refused when group/world accessible, cleansed after. */
	if (gg_read_secret_file(&key, &klen, cfg->key_file, err) < 0)
		goto done;
	bio = BIO_new_mem_buf(key, (int)klen);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (pkey == NULL) {
		*err = ssl_err("not a PEM private key", cfg->key_file);
		goto done;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		*err = ssl_err("the key does not match the certificate", cfg->key_file);
		goto done;
	}
	if (cfg->client_ca_file) {
		if (use_client_ca(ctx, cfg->client_ca_file, err) < 0)
			goto done;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	ret = ctx;
	ctx = NULL;
done:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (key) {
		OPENSSL_cleanse(key, klen);
		free(key);
	}
	SSL_CTX_free(ctx);
	return ret;
}

gg_dtls *gg_tls_config_parse(gg_yload *c, const gg_ynode *map, char **address)
{
	*address = NULL;
	gg_yload_check_keys(c, map, "a listen entry", entry_keys);
	const gg_ynode *a = gg_ymap_get(map, "address");
	if (a == NULL || !gg_yis_scalar(a) || a->str == NULL || a->len == 0 ||
	    strlen(a->str) != a->len) {
		gg_yload_err(c, a ? a : map, "a listen entry needs 'address': host:port");
		return NULL;
	}
	*address = gg_strdup(a->str);
	const gg_ynode *t = gg_ymap_get(map, "tls");
	if (t == NULL || t->type == GG_Y_NULL)
		return NULL;
	if (t->type != GG_Y_MAP) {
		gg_yload_err(c, t, "'tls' must be a map with cert_file and key_file");
		return NULL;
	}
	gg_yload_check_keys(c, t, "'tls'", tls_keys);
	gg_dtls *cfg = gg_calloc(1, sizeof(*cfg));
	cfg->min_version = 12;
	bool bad = false;
	for (const char *const *k = tls_keys; *k; k++) {
		const gg_ynode *v = gg_ymap_get(t, *k);
		if (v == NULL)
			continue;
		if (!gg_yis_scalar(v) || v->str == NULL || v->len == 0 ||
		    strlen(v->str) != v->len) {
			gg_yload_err(c, v, "'%s' must be a non-empty string", *k);
			bad = true;
			continue;
		}
		if (strcmp(*k, "cert_file") == 0)
			cfg->cert_file = gg_strdup(v->str);
		else if (strcmp(*k, "key_file") == 0)
			cfg->key_file = gg_strdup(v->str);
		else if (strcmp(*k, "client_ca_file") == 0)
			cfg->client_ca_file = gg_strdup(v->str);
		else if (strcmp(v->str, "1.2") == 0)
			cfg->min_version = 12;
		else if (strcmp(v->str, "1.3") == 0)
			cfg->min_version = 13;
		else {
			gg_yload_err(c, v, "'min_version' must be \"1.2\" or \"1.3\", not '%s'",
			             v->str);
			bad = true;
		}
	}
	if (cfg->cert_file == NULL || cfg->key_file == NULL) {
		gg_yload_err(c, t, "'tls' needs both cert_file and key_file");
		bad = true;
	}
	if (!bad) {
		char *err = NULL;
		SSL_CTX *ctx = ctx_new(cfg, &err);
		if (ctx == NULL) {
			gg_yload_err(c, t, "%s", err);
			bad = true;
		}
		SSL_CTX_free(ctx);
		free(err);
	}
	if (bad) {
		gg_dtls_free(cfg);
		return NULL;
	}
	return cfg;
}

int gg_tls_new(gg_tls **out, const gg_dtls *cfg, char **err)
{
	*out = NULL;
	*err = NULL;
	SSL_CTX *ctx = ctx_new(cfg, err);
	if (ctx == NULL)
		return -1;
	gg_tls *t = gg_calloc(1, sizeof(*t));
	t->cfg.cert_file = gg_strdup(cfg->cert_file);
	t->cfg.key_file = gg_strdup(cfg->key_file);
	t->cfg.client_ca_file = cfg->client_ca_file ? gg_strdup(cfg->client_ca_file) : NULL;
	t->cfg.min_version = cfg->min_version;
	t->ctx = ctx;
	*out = t;
	return 0;
}

int gg_tls_reload(gg_tls *t, char **err)
{
	*err = NULL;
	SSL_CTX *ctx = ctx_new(&t->cfg, err);
	if (ctx == NULL)
		return -1;
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	return 0;
}

const char *gg_tls_cert_file(const gg_tls *t)
{
	return t->cfg.cert_file;
}

struct bufferevent *gg_tls_accept(gg_tls *t, struct event_base *base, evutil_socket_t fd)
{
	SSL *ssl = SSL_new(t->ctx);
	if (ssl == NULL) {
		ERR_clear_error();
		evutil_closesocket(fd);
		return NULL;
	}
	struct bufferevent *bev = bufferevent_openssl_socket_new(
	    base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* libevent freed ssl (BEV_OPT_CLOSE_ON_FREE); the socket is still ours. */
		evutil_closesocket(fd);
		return NULL;
	}
	/* Many clients close without close_notify; that is an end, not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

const char *gg_tls_error(struct bufferevent *bev)
{
	unsigned long e = bufferevent_get_openssl_error(bev);
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	/* Drain the rest: the next connection must not see this one's errors. */
	while (bufferevent_get_openssl_error(bev))
		;
	return r ? r : "connection closed during the handshake";
}

void gg_tls_free(gg_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t->cfg.cert_file);
	free(t->cfg.key_file);
	free(t->cfg.client_ca_file);
	free(t);
}
