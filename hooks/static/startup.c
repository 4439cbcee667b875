/*
 * What the pre-receive hook leaves out of libgit2's start-up when it links
 * libgit2 statically (scripts/hooklibs.sh decides; the daemon and the CLI keep
 * the shared library and all of this).
 *
 * The hook runs once per push inside git's receive-pack and reads objects
 * from the local repository: it never opens a network connection through
 * libgit2. What libgit2 1.5 does for the network at start cost it most of its
 * start-up on a short-lived process:
 *
 * - git_libgit2_init() parses the system's whole CA bundle with mbedTLS
 *   (the path is compiled into Debian's build and loaded unconditionally; no
 *   option can run before init). The link wraps that parse
 *   (-Wl,--wrap=mbedtls_x509_crt_parse_file) with one that loads nothing, so
 *   the hook trusts no certificate authority: a TLS connection libgit2 made
 *   in the hook would fail its certificate check, never pass it.
 * - git_libgit2_init() starts libssh2, which starts OpenSSL's engines and
 *   error strings. libssh2 starts itself when its first session is made
 *   (libssh2_session_init_ex), so the wrap of libssh2_init() below leaves it
 *   to that; libgit2's libssh2_exit() at shutdown is a no-op then.
 * - libgit2's HTTP transport links GSSAPI (Kerberos "Negotiate"), which maps
 *   seven more shared libraries at every start. The functions below load
 *   libgssapi_krb5 the first time one is called and forward to it, so the
 *   behaviour is the library's, paid only by a process that uses it.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define GSSAPI_LIBRARY "libgssapi_krb5.so.2"
#define GSS_S_FAILURE  (13u << 16) /* RFC 2744: GSS_S_FAILURE, a routine error */

typedef uint32_t OM_uint32;
typedef struct {
	OM_uint32 length;
	void *elements;
} gss_OID_desc;
typedef gss_OID_desc *gss_OID;
typedef struct {
	size_t length;
	void *value;
} gss_buffer_desc;
typedef gss_buffer_desc *gss_buffer_t;
typedef void *gss_name_t, *gss_ctx_id_t, *gss_cred_id_t, *gss_OID_set, *gss_chan_t;

int __wrap_mbedtls_x509_crt_parse_file(void *chain, const char *path);
int __wrap_mbedtls_x509_crt_parse_file(void *chain, const char *path)
{
	(void)chain;
	(void)path;
	return -0x2900; /* MBEDTLS_ERR_X509_FILE_IO_ERROR: nothing loaded */
}

int __wrap_libssh2_init(int flags);
int __wrap_libssh2_init(int flags)
{
	(void)flags;
	return 0;
}

/* RFC 2744's GSS_C_NT_HOSTBASED_SERVICE, 1.2.840.113554.1.2.1.4, by value:
 * the library compares name types by their bytes. */
static gss_OID_desc hostbased = {10, (void *)"\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
extern gss_OID GSS_C_NT_HOSTBASED_SERVICE;
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &hostbased;

static pthread_once_t gss_once = PTHREAD_ONCE_INIT;
static void *gss_lib;

static void gss_open(void)
{
	gss_lib = dlopen(GSSAPI_LIBRARY, RTLD_NOW | RTLD_LOCAL);
}

/* The library's function NAME, or NULL when the library cannot be loaded. */
static void *gss_fn(const char *name)
{
	pthread_once(&gss_once, gss_open);
	return gss_lib ? dlsym(gss_lib, name) : NULL;
}

/* Without the library every call fails as GSSAPI reports failures: libgit2
 * then gives up on Negotiate like on any other GSSAPI error. */
#define GSS_FORWARD(name, params, args)                                                            \
	OM_uint32 name params;                                                                     \
	OM_uint32 name params                                                                      \
	{                                                                                          \
		OM_uint32(*fn) params = (OM_uint32(*) params)gss_fn(#name);                        \
		if (fn)                                                                            \
			return fn args;                                                            \
		*minor = 0;                                                                        \
		return GSS_S_FAILURE;                                                              \
	}

GSS_FORWARD(gss_delete_sec_context, (OM_uint32 * minor, gss_ctx_id_t *ctx, gss_buffer_t out),
            (minor, ctx, out))
GSS_FORWARD(gss_import_name, (OM_uint32 * minor, gss_buffer_t name, gss_OID type, gss_name_t *out),
            (minor, name, type, out))
GSS_FORWARD(gss_indicate_mechs, (OM_uint32 * minor, gss_OID_set *out), (minor, out))
GSS_FORWARD(gss_init_sec_context,
            (OM_uint32 * minor, gss_cred_id_t cred, gss_ctx_id_t *ctx, gss_name_t target,
             gss_OID mech, OM_uint32 flags, OM_uint32 time_req, gss_chan_t chan, gss_buffer_t in,
             gss_OID *actual_mech, gss_buffer_t out, OM_uint32 *ret_flags, OM_uint32 *time_rec),
            (minor, cred, ctx, target, mech, flags, time_req, chan, in, actual_mech, out, ret_flags,
             time_rec))
GSS_FORWARD(gss_release_buffer, (OM_uint32 * minor, gss_buffer_t buf), (minor, buf))
GSS_FORWARD(gss_release_name, (OM_uint32 * minor, gss_name_t *name), (minor, name))
GSS_FORWARD(gss_release_oid_set, (OM_uint32 * minor, gss_OID_set *set), (minor, set))

/* Also clears the message it would return, so a caller that prints it prints nothing. */
OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech,
                             OM_uint32 *context, gss_buffer_t out);
OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech,
                             OM_uint32 *context, gss_buffer_t out)
{
	OM_uint32 (*fn)(OM_uint32 *, OM_uint32, int, gss_OID, OM_uint32 *, gss_buffer_t) =
	    (OM_uint32(*)(OM_uint32 *, OM_uint32, int, gss_OID, OM_uint32 *, gss_buffer_t))gss_fn(
	        "gss_display_status");
	if (fn)
		return fn(minor, status, type, mech, context, out);
	*minor = 0;
	*context = 0;
	out->length = 0;
	out->value = NULL;
	return GSS_S_FAILURE;
}
