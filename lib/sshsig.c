/*
 * SSHSIG: the blob is
 *   "SSHSIG" uint32(1) string(publickey) string(namespace) string(reserved)
 *   string(hash_algorithm) string(signature)
 * and what the key signs is
 *   "SSHSIG" string(namespace) string(reserved) string(hash_algorithm)
 *   string(H(message)).
 * Every string is a uint32 length and that many bytes; the reader below
 * refuses a length that runs past the end, so a truncated or garbled block
 * ends in a reason.
 */
#include "gitgate/sshsig.h"
#include "gitgate/util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSHSIG_MAGIC           "SSHSIG"
#define SSHSIG_MAGIC_LEN       6
#define SSHSIG_VERSION         1
#define SSHSIG_BEGIN           "-----BEGIN SSH SIGNATURE-----"
#define SSHSIG_END             "-----END SSH SIGNATURE-----"
#define SSHKEY_MAX_BLOB        4096 /* a 16384-bit RSA key is about 2 KiB */
#define SSHSIG_MAX_NS          256
#define SSHSIG_MAX_SIGBLOB     4096
#define SSHCERT_SUFFIX         "-cert-v01@openssh.com"
#define SSHCERT_USER           1
#define SSHCERT_MAX_PRINCIPALS 256

typedef enum { KT_ED25519, KT_P256, KT_P384, KT_P521, KT_RSA } keytype;

struct gg_sshkey {
	keytype type;
	unsigned char *blob;
	size_t len;
	EVP_PKEY *pkey;
	char fp[64]; /* "SHA256:" + 43 base64 characters; a certificate's: of its plain key */
	/* A certificate: the CA that signed it (checked at parse time) and what it says. */
	bool cert;
	gg_sshkey *ca;
	uint32_t cert_type;
	uint64_t valid_after, valid_before;
	char **principals;
	size_t nprincipals;
	char *key_id;
};

struct gg_sshsig {
	gg_sshkey *key;
	char *ns;
	char *hashalg;
	unsigned char *reserved;
	size_t nreserved;
	char *sigtype;
	unsigned char *sig; /* the raw signature inside the signature blob */
	size_t nsig;
};

/* ---- a bounded reader ---- */

struct rd {
	const unsigned char *p;
	size_t n;
};

static int rd_u32(struct rd *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4, r->n -= 4;
	return 0;
}

static int rd_string(struct rd *r, const unsigned char **s, size_t *len)
{
	uint32_t n;
	if (rd_u32(r, &n) < 0 || n > r->n)
		return -1;
	*s = r->p;
	*len = n;
	r->p += n, r->n -= n;
	return 0;
}

static bool str_is(const unsigned char *s, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* An mpint's magnitude: a leading zero byte (the sign) dropped; negative refused. */
static int rd_mpint(struct rd *r, const unsigned char **s, size_t *len)
{
	if (rd_string(r, s, len) < 0)
		return -1;
	if (*len > 0 && ((*s)[0] & 0x80))
		return -1;
	while (*len > 0 && (*s)[0] == 0)
		(*s)++, (*len)--;
	return 0;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int gg_base64_decode(unsigned char **out, size_t *outlen, const char *in, size_t len)
{
	unsigned char *o = gg_malloc(len / 4 * 3 + 3);
	size_t k = 0, nch = 0, pad = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 || pad)
			goto bad;
		acc = acc << 6 | (uint32_t)v;
		if (++nch % 4 == 0) {
			o[k++] = (unsigned char)(acc >> 16);
			o[k++] = (unsigned char)(acc >> 8);
			o[k++] = (unsigned char)acc;
			acc = 0;
		}
	}
	switch (nch % 4) {
	case 1:
		goto bad;
	case 2:
		o[k++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		o[k++] = (unsigned char)(acc >> 10);
		o[k++] = (unsigned char)(acc >> 2);
		break;
	}
	if (pad > 2 || (pad && (nch + pad) % 4))
		goto bad;
	*out = o;
	*outlen = k;
	return 0;
bad:
	free(o);
	*out = NULL;
	*outlen = 0;
	return -1;
}

static void b64_encode_nopad(char *out, size_t cap, const unsigned char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t k = 0;
	for (size_t i = 0; i < n && k + 5 < cap; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[k++] = tab[(v >> 18) & 63];
		out[k++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[k++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[k++] = tab[v & 63];
	}
	out[k] = '\0';
}

/* ---- public keys ---- */

static EVP_PKEY *pkey_from_params(const char *alg, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *ec_key(const char *group, const unsigned char *q, size_t nq)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;
	if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, nq))
		pkey = pkey_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	/* fromdata takes any bytes; a point off the curve must not pass as a key. */
	if (pkey) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
		if (c == NULL || EVP_PKEY_public_check(c) != 1) {
			EVP_PKEY_free(pkey);
			pkey = NULL;
		}
		EVP_PKEY_CTX_free(c);
	}
	return pkey;
}

static EVP_PKEY *rsa_key(const unsigned char *e, size_t ne, const unsigned char *n, size_t nn)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *be = BN_bin2bn(e, (int)ne, NULL), *bn = BN_bin2bn(n, (int)nn, NULL);
	EVP_PKEY *pkey = NULL;
	if (bld && be && bn && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		pkey = pkey_from_params("RSA", bld);
	OSSL_PARAM_BLD_free(bld);
	BN_free(be);
	BN_free(bn);
	return pkey;
}

void gg_sshkey_free(gg_sshkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	gg_sshkey_free(k->ca);
	gg_strv_free(k->principals, k->nprincipals);
	free(k->key_id);
	free(k->blob);
	free(k);
}

/*
 * The key material after the type name (name, nname: a plain type) from r:
 * sets k->type and k->pkey. What follows the material is left in r.
 */
static int parse_material(gg_sshkey *k, const unsigned char *name, size_t nname, struct rd *r,
                          char **err)
{
	const unsigned char *a, *b;
	size_t na, nb;
	if (str_is(name, nname, "ssh-ed25519")) {
		k->type = KT_ED25519;
		if (rd_string(r, &a, &na) < 0 || na != 32) {
			*err = gg_strdup("malformed ssh-ed25519 key");
			return -1;
		}
		k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, a, na);
	} else if (str_is(name, nname, "ecdsa-sha2-nistp256") ||
	           str_is(name, nname, "ecdsa-sha2-nistp384") ||
	           str_is(name, nname, "ecdsa-sha2-nistp521")) {
		const char *curve = (const char *)name + 11; /* "nistpNNN" */
		const char *group = curve[5] == '2' ? "P-256" : curve[5] == '3' ? "P-384" : "P-521";
		k->type = curve[5] == '2' ? KT_P256 : curve[5] == '3' ? KT_P384 : KT_P521;
		if (rd_string(r, &a, &na) < 0 || na != 8 || memcmp(a, curve, 8) != 0 ||
		    rd_string(r, &b, &nb) < 0 || nb == 0) {
			*err = gg_printf("malformed %.*s key", (int)nname, (const char *)name);
			return -1;
		}
		k->pkey = ec_key(group, b, nb);
	} else if (str_is(name, nname, "ssh-rsa")) {
		k->type = KT_RSA;
		if (rd_mpint(r, &a, &na) < 0 || rd_mpint(r, &b, &nb) < 0 || na == 0 || na > 8 ||
		    nb == 0) {
			*err = gg_strdup("malformed ssh-rsa key");
			return -1;
		}
		size_t bits = nb * 8;
		for (unsigned char top = b[0]; !(top & 0x80); top <<= 1)
			bits--;
		if (bits < GG_SSHKEY_RSA_MIN_BITS || bits > GG_SSHKEY_RSA_MAX_BITS) {
			*err = gg_printf("ssh-rsa key of %zu bits: only %u to %u bits are accepted",
			                 bits, GG_SSHKEY_RSA_MIN_BITS, GG_SSHKEY_RSA_MAX_BITS);
			return -1;
		}
		k->pkey = rsa_key(a, na, b, nb);
	} else {
		char *shown = gg_strndup((const char *)name, nname > 64 ? 64 : nname);
		for (char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
				*p = '?';
		*err = gg_printf("key type %s is not supported (ssh-ed25519, "
		                 "ecdsa-sha2-nistp256/384/521, ssh-rsa, and their certificates)",
		                 shown);
		free(shown);
		return -1;
	}
	if (k->pkey == NULL) {
		*err = gg_printf("invalid %.*s key", (int)nname, (const char *)name);
		return -1;
	}
	return 0;
}

static void fingerprint(gg_sshkey *k, const void *plain, size_t n)
{
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_Digest(plain, n, md, &mdlen, EVP_sha256(), NULL);
	memcpy(k->fp, "SHA256:", 7);
	b64_encode_nopad(k->fp + 7, sizeof(k->fp) - 7, md, mdlen);
}

static int rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;
	if (rd_u32(r, &hi) < 0 || rd_u32(r, &lo) < 0)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

static int verify_sig(const gg_sshkey *key, const char *sigtype, const unsigned char *sig,
                      size_t nsig, const void *data, size_t ndata, char **err);

/*
 * An OpenSSH certificate (PROTOCOL.certkeys): nonce, the key material, serial,
 * type, key id, principals, validity, options, extensions, reserved, the CA's
 * key and its signature over everything before the signature. The CA's
 * signature is checked here, so a certificate that parses is the CA's word.
 */
static int parse_cert(gg_sshkey *k, const unsigned char *blob, const unsigned char *name,
                      size_t nname, struct rd *r, char **err)
{
	size_t nbase = nname - strlen(SSHCERT_SUFFIX);
	const unsigned char *nonce, *m0, *keyid, *princ, *crit, *ext, *resv, *cakey, *sigblob;
	size_t nnonce, nkeyid, nprinc, ncrit, next, nresv, ncakey, nsigblob;
	uint64_t serial;
	k->cert = true;
	if (rd_string(r, &nonce, &nnonce) < 0)
		goto malformed;
	m0 = r->p;
	if (parse_material(k, name, nbase, r, err) < 0)
		return -1;
	gg_buf plain = GG_BUF_INIT;
	unsigned char len[4] = {(unsigned char)(nbase >> 24), (unsigned char)(nbase >> 16),
	                        (unsigned char)(nbase >> 8), (unsigned char)nbase};
	gg_buf_put(&plain, len, 4);
	gg_buf_put(&plain, name, nbase);
	gg_buf_put(&plain, m0, (size_t)(r->p - m0));
	fingerprint(k, plain.ptr, plain.len);
	gg_buf_free(&plain);
	if (rd_u64(r, &serial) < 0 || rd_u32(r, &k->cert_type) < 0 ||
	    rd_string(r, &keyid, &nkeyid) < 0 || rd_string(r, &princ, &nprinc) < 0 ||
	    rd_u64(r, &k->valid_after) < 0 || rd_u64(r, &k->valid_before) < 0 ||
	    rd_string(r, &crit, &ncrit) < 0 || rd_string(r, &ext, &next) < 0 ||
	    rd_string(r, &resv, &nresv) < 0 || rd_string(r, &cakey, &ncakey) < 0)
		goto malformed;
	size_t signed_len = (size_t)(r->p - blob);
	if (rd_string(r, &sigblob, &nsigblob) < 0 || r->n != 0)
		goto malformed;
	k->key_id = gg_strndup((const char *)keyid, nkeyid > 64 ? 64 : nkeyid);
	for (char *p = k->key_id; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	struct rd pr = {princ, nprinc};
	while (pr.n) {
		const unsigned char *p;
		size_t np;
		if (rd_string(&pr, &p, &np) < 0 || memchr(p, '\0', np) ||
		    k->nprincipals >= SSHCERT_MAX_PRINCIPALS)
			goto malformed;
		k->principals = gg_reallocarray(k->principals, k->nprincipals + 1, sizeof(char *));
		k->principals[k->nprincipals++] = gg_strndup((const char *)p, np);
	}
	if (gg_sshkey_from_blob(&k->ca, cakey, ncakey, err) < 0)
		return -1;
	if (k->ca->cert) {
		*err = gg_strdup("a certificate signed by a certificate");
		return -1;
	}
	struct rd sr = {sigblob, nsigblob};
	const unsigned char *st, *sb;
	size_t nst, nsb;
	if (rd_string(&sr, &st, &nst) < 0 || rd_string(&sr, &sb, &nsb) < 0 || sr.n != 0 ||
	    nst > 64 || memchr(st, '\0', nst))
		goto malformed;
	char *sigtype = gg_strndup((const char *)st, nst);
	char *why = NULL;
	int rc = verify_sig(k->ca, sigtype, sb, nsb, blob, signed_len, &why);
	free(sigtype);
	if (rc < 0) {
		*err = gg_printf("certificate not signed by its CA: %s", why);
		free(why);
		return -1;
	}
	return 0;
malformed:
	*err = gg_strdup("malformed certificate");
	return -1;
}

int gg_sshkey_from_blob(gg_sshkey **out, const unsigned char *blob, size_t len, char **err)
{
	struct rd r = {blob, len};
	const unsigned char *name;
	size_t nname;
	gg_sshkey *k = NULL;
	*out = NULL;
	if (len > SSHKEY_MAX_BLOB) {
		*err = gg_printf("public key blob of %zu bytes is over the %u-byte limit", len,
		                 SSHKEY_MAX_BLOB);
		return -1;
	}
	if (rd_string(&r, &name, &nname) < 0) {
		*err = gg_strdup("malformed public key");
		return -1;
	}
	k = gg_calloc(1, sizeof(*k));
	size_t ns = strlen(SSHCERT_SUFFIX);
	if (nname > ns && memcmp(name + nname - ns, SSHCERT_SUFFIX, ns) == 0) {
		if (parse_cert(k, blob, name, nname, &r, err) < 0)
			goto fail;
	} else {
		if (parse_material(k, name, nname, &r, err) < 0)
			goto fail;
		if (r.n != 0) {
			*err = gg_printf("malformed %.*s key", (int)nname, (const char *)name);
			goto fail;
		}
		fingerprint(k, blob, len);
	}
	k->blob = gg_malloc(len ? len : 1);
	memcpy(k->blob, blob, len);
	k->len = len;
	*out = k;
	return 0;
fail:
	gg_sshkey_free(k);
	return -1;
}

bool gg_sshkey_is_cert(const gg_sshkey *k)
{
	return k->cert;
}

const gg_sshkey *gg_sshkey_cert_ca(const gg_sshkey *k)
{
	return k->ca;
}

const char *gg_sshkey_cert_id(const gg_sshkey *k)
{
	return k->key_id ? k->key_id : "";
}

bool gg_sshkey_cert_user(const gg_sshkey *k)
{
	return k->cert_type == SSHCERT_USER;
}

int gg_sshkey_cert_valid_at(const gg_sshkey *k, int64_t at)
{
	if (at < 0 || (uint64_t)at < k->valid_after)
		return -1;
	if ((uint64_t)at >= k->valid_before)
		return 1;
	return 0;
}

size_t gg_sshkey_cert_principals(const gg_sshkey *k, const char *const **out)
{
	*out = (const char *const *)k->principals;
	return k->nprincipals;
}

int gg_sshkey_from_text(gg_sshkey **out, const char *type, const char *b64, size_t len, char **err)
{
	unsigned char *blob = NULL;
	size_t n = 0;
	*out = NULL;
	if (gg_base64_decode(&blob, &n, b64, len) < 0) {
		*err = gg_strdup("the key is not valid base64");
		return -1;
	}
	struct rd r = {blob, n};
	const unsigned char *name;
	size_t nname;
	int rc = -1;
	if (rd_string(&r, &name, &nname) < 0 || !str_is(name, nname, type)) {
		*err = gg_printf("the key's data is not a %s key", type);
		goto done;
	}
	rc = gg_sshkey_from_blob(out, blob, n, err);
done:
	free(blob);
	return rc;
}

const char *gg_sshkey_fingerprint(const gg_sshkey *k)
{
	return k->fp;
}

const char *gg_sshkey_type(const gg_sshkey *k)
{
	switch (k->type) {
	case KT_ED25519:
		return "ssh-ed25519";
	case KT_P256:
		return "ecdsa-sha2-nistp256";
	case KT_P384:
		return "ecdsa-sha2-nistp384";
	case KT_P521:
		return "ecdsa-sha2-nistp521";
	case KT_RSA:
		return "ssh-rsa";
	}
	return "?";
}

bool gg_sshkey_equal(const gg_sshkey *a, const gg_sshkey *b)
{
	return a && b && a->len == b->len && memcmp(a->blob, b->blob, a->len) == 0;
}

/* ---- signatures ---- */

void gg_sshsig_free(gg_sshsig *s)
{
	if (s == NULL)
		return;
	gg_sshkey_free(s->key);
	free(s->ns);
	free(s->hashalg);
	free(s->reserved);
	free(s->sigtype);
	free(s->sig);
	free(s);
}

const gg_sshkey *gg_sshsig_key(const gg_sshsig *s)
{
	return s->key;
}

const char *gg_sshsig_namespace(const gg_sshsig *s)
{
	return s->ns;
}

/* The base64 between the armor lines, which must each stand on a line of their own. */
static int dearmor(const char *in, size_t len, const char **b64, size_t *nb64)
{
	size_t nb = strlen(SSHSIG_BEGIN), ne = strlen(SSHSIG_END);
	while (len && (in[len - 1] == '\n' || in[len - 1] == '\r' || in[len - 1] == ' '))
		len--;
	if (len < nb + ne + 1 || memcmp(in, SSHSIG_BEGIN, nb) != 0 ||
	    (in[nb] != '\n' && in[nb] != '\r') || memcmp(in + len - ne, SSHSIG_END, ne) != 0 ||
	    (in[len - ne - 1] != '\n'))
		return -1;
	*b64 = in + nb;
	*nb64 = len - ne - nb;
	return 0;
}

static char *dup_text(const unsigned char *s, size_t n)
{
	if (memchr(s, '\0', n))
		return NULL;
	return gg_strndup((const char *)s, n);
}

int gg_sshsig_parse(gg_sshsig **out, const char *armored, size_t len, char **err)
{
	const char *b64;
	size_t nb64;
	unsigned char *blob = NULL;
	size_t n = 0;
	gg_sshsig *s = NULL;
	int rc = -1;
	*out = NULL;
	if (len > GG_SSHSIG_MAX_ARMOR) {
		*err = gg_printf("signature block of %zu bytes is over the %u-byte limit", len,
		                 GG_SSHSIG_MAX_ARMOR);
		return -1;
	}
	if (dearmor(armored, len, &b64, &nb64) < 0) {
		*err = gg_strdup("malformed signature block: no SSH SIGNATURE armor");
		return -1;
	}
	if (gg_base64_decode(&blob, &n, b64, nb64) < 0) {
		*err = gg_strdup("malformed signature block: not base64");
		return -1;
	}
	struct rd r = {blob, n};
	uint32_t version;
	const unsigned char *pk, *ns, *resv, *halg, *sigblob;
	size_t npk, nns, nresv, nhalg, nsigblob;
	if (r.n < SSHSIG_MAGIC_LEN || memcmp(r.p, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN) != 0) {
		*err = gg_strdup("malformed signature: no SSHSIG preamble");
		goto done;
	}
	r.p += SSHSIG_MAGIC_LEN, r.n -= SSHSIG_MAGIC_LEN;
	if (rd_u32(&r, &version) < 0 || rd_string(&r, &pk, &npk) < 0 ||
	    rd_string(&r, &ns, &nns) < 0 || rd_string(&r, &resv, &nresv) < 0 ||
	    rd_string(&r, &halg, &nhalg) < 0 || rd_string(&r, &sigblob, &nsigblob) < 0) {
		*err = gg_strdup("malformed signature: truncated");
		goto done;
	}
	if (version != SSHSIG_VERSION) {
		*err = gg_printf("unsupported SSHSIG version %u", version);
		goto done;
	}
	if (r.n != 0) {
		*err = gg_strdup("malformed signature: trailing bytes");
		goto done;
	}
	if (nns == 0 || nns > SSHSIG_MAX_NS || nsigblob > SSHSIG_MAX_SIGBLOB) {
		*err = gg_strdup("malformed signature: bad namespace or signature length");
		goto done;
	}
	if (!str_is(halg, nhalg, "sha256") && !str_is(halg, nhalg, "sha512")) {
		*err = gg_strdup("unsupported hash algorithm (sha256 and sha512 are)");
		goto done;
	}
	s = gg_calloc(1, sizeof(*s));
	if (gg_sshkey_from_blob(&s->key, pk, npk, err) < 0)
		goto done;
	s->ns = dup_text(ns, nns);
	s->hashalg = dup_text(halg, nhalg);
	if (s->ns == NULL) {
		*err = gg_strdup("malformed signature: NUL in the namespace");
		goto done;
	}
	s->reserved = gg_malloc(nresv ? nresv : 1);
	memcpy(s->reserved, resv, nresv);
	s->nreserved = nresv;
	struct rd sr = {sigblob, nsigblob};
	const unsigned char *st, *sb;
	size_t nst, nsb;
	if (rd_string(&sr, &st, &nst) < 0 || rd_string(&sr, &sb, &nsb) < 0 || sr.n != 0 ||
	    nst > 64 || (s->sigtype = dup_text(st, nst)) == NULL) {
		*err = gg_strdup("malformed signature: bad signature blob");
		goto done;
	}
	s->sig = gg_malloc(nsb ? nsb : 1);
	memcpy(s->sig, sb, nsb);
	s->nsig = nsb;
	*out = s;
	s = NULL;
	rc = 0;
done:
	gg_sshsig_free(s);
	free(blob);
	return rc;
}

static void put_string(gg_buf *b, const void *s, size_t n)
{
	unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	                        (unsigned char)(n >> 8), (unsigned char)n};
	gg_buf_put(b, len, 4);
	gg_buf_put(b, s, n);
}

/* ECDSA's (mpint r, mpint s) as the DER OpenSSL verifies. */
static unsigned char *ecdsa_der(const unsigned char *sig, size_t n, size_t *outlen)
{
	struct rd r = {sig, n};
	const unsigned char *pr, *ps;
	size_t npr, nps;
	if (rd_mpint(&r, &pr, &npr) < 0 || rd_mpint(&r, &ps, &nps) < 0 || r.n != 0 || npr > 66 ||
	    nps > 66)
		return NULL;
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(pr, (int)npr, NULL), *bs = BN_bin2bn(ps, (int)nps, NULL);
	unsigned char *der = NULL;
	if (es && br && bs && ECDSA_SIG_set0(es, br, bs) == 1) {
		br = bs = NULL;
		int len = i2d_ECDSA_SIG(es, &der);
		*outlen = len > 0 ? (size_t)len : 0;
		if (len <= 0)
			der = NULL;
	}
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(es);
	return der;
}

/* sig (of type sigtype) by key over data, hashed as the type says. 0 good; -1 with *err. */
static int verify_sig(const gg_sshkey *key, const char *sigtype, const unsigned char *sig,
                      size_t nsig, const void *data, size_t ndata, char **err)
{
	const EVP_MD *md = NULL;
	unsigned char *der = NULL;
	EVP_MD_CTX *ctx = NULL;
	int rc = -1;
	switch (key->type) {
	case KT_ED25519:
		if (strcmp(sigtype, "ssh-ed25519") != 0 || nsig != 64)
			goto mismatch;
		break;
	case KT_P256:
	case KT_P384:
	case KT_P521:
		if (strcmp(sigtype, gg_sshkey_type(key)) != 0)
			goto mismatch;
		md = key->type == KT_P256   ? EVP_sha256()
		     : key->type == KT_P384 ? EVP_sha384()
		                            : EVP_sha512();
		if ((der = ecdsa_der(sig, nsig, &nsig)) == NULL) {
			*err = gg_strdup("malformed ECDSA signature");
			goto done;
		}
		sig = der;
		break;
	case KT_RSA:
		if (!strcmp(sigtype, "rsa-sha2-256"))
			md = EVP_sha256();
		else if (!strcmp(sigtype, "rsa-sha2-512"))
			md = EVP_sha512();
		else if (!strcmp(sigtype, "ssh-rsa")) {
			*err = gg_strdup("RSA signature with SHA-1 (ssh-rsa) is not accepted");
			goto done;
		} else
			goto mismatch;
		break;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey) != 1) {
		*err = gg_strdup("cannot set up the signature check");
		goto done;
	}
	if (EVP_DigestVerify(ctx, sig, nsig, data, ndata) != 1) {
		*err = gg_strdup("the signature does not match the signed content");
		goto done;
	}
	rc = 0;
	goto done;
mismatch:
	*err = gg_printf("signature type does not fit a %s key", gg_sshkey_type(key));
done:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}

int gg_sshsig_verify(const gg_sshsig *s, const void *msg, size_t len, char **err)
{
	const EVP_MD *hmd = !strcmp(s->hashalg, "sha512") ? EVP_sha512() : EVP_sha256();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	gg_buf data = GG_BUF_INIT;
	if (EVP_Digest(msg, len, h, &hlen, hmd, NULL) != 1) {
		*err = gg_strdup("cannot hash the signed content");
		return -1;
	}
	gg_buf_put(&data, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN);
	put_string(&data, s->ns, strlen(s->ns));
	put_string(&data, s->reserved, s->nreserved);
	put_string(&data, s->hashalg, strlen(s->hashalg));
	put_string(&data, h, hlen);
	int rc = verify_sig(s->key, s->sigtype, s->sig, s->nsig, data.ptr, data.len, err);
	gg_buf_free(&data);
	return rc;
}
