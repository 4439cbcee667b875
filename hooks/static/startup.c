/*
 * What the pre-receive hook defers from libgit2's start-up when it links
 * libgit2 statically (scripts/hooklibs.sh decides; the daemon and the CLI keep
 * the shared library and all of this).
 *
 * The hook runs once per push inside git's receive-pack and reads objects
 * from the local repository: it never opens a network connection through
 * libgit2. What libgit2 1.5 starts for its network transports in
 * git_libgit2_init() was most of the hook's start-up, so the link wraps each
 * of them to start the first time it is used instead, as it was:
 *
 * - mbedTLS: git_mbedtls_stream_global_init() parses the system's whole CA
 *   bundle (the path is compiled into Debian's build and loaded
 *   unconditionally; no option can run before init) and seeds a random
 *   generator. It now runs, unchanged, before the first TLS stream or the
 *   first GIT_OPT_SET_SSL_CERT_LOCATIONS, the only users of what it makes.
 * - libssh2: libssh2_init() starts OpenSSL's engines and error strings.
 *   libssh2 starts itself when its first session is made
 *   (libssh2_session_init_ex), so the wrap leaves it to that; libgit2's
 *   libssh2_exit() at shutdown is a no-op then.
 * - GSSAPI (Kerberos "Negotiate" over HTTP) maps seven shared libraries. The
 *   functions below load libgssapi_krb5 the first time one is called and
 *   forward to it.
 */
#include "gssapi_min.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define GSSAPI_LIBRARY "libgssapi_krb5.so.2"

/* libgit2's internal entry points of its mbedTLS stream (src/libgit2/streams/mbedtls.h). */
typedef struct git_stream git_stream;
int __real_git_mbedtls_stream_global_init(void);
int __real_git_mbedtls_stream_new(git_stream **out, const char *host, const char *port);
int __real_git_mbedtls_stream_wrap(git_stream **out, git_stream *in, const char *host);
int __real_git_mbedtls__set_cert_location(const char *file, const char *path);

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static bool tls_pending;

/* Called by git_libgit2_init() (again after a full shutdown): start later. */
int __wrap_git_mbedtls_stream_global_init(void);
int __wrap_git_mbedtls_stream_global_init(void)
{
	pthread_mutex_lock(&tls_lock);
	tls_pending = true;
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

/* Runs libgit2's own start of mbedTLS once it is needed; its error is libgit2's. */
static int tls_start(void)
{
	int rc = 0;
	pthread_mutex_lock(&tls_lock);
	if (tls_pending) {
		tls_pending = false;
		rc = __real_git_mbedtls_stream_global_init();
	}
	pthread_mutex_unlock(&tls_lock);
	return rc;
}

int __wrap_git_mbedtls_stream_new(git_stream **out, const char *host, const char *port);
int __wrap_git_mbedtls_stream_new(git_stream **out, const char *host, const char *port)
{
	return tls_start() < 0 ? -1 : __real_git_mbedtls_stream_new(out, host, port);
}

int __wrap_git_mbedtls_stream_wrap(git_stream **out, git_stream *in, const char *host);
int __wrap_git_mbedtls_stream_wrap(git_stream **out, git_stream *in, const char *host)
{
	return tls_start() < 0 ? -1 : __real_git_mbedtls_stream_wrap(out, in, host);
}

int __wrap_git_mbedtls__set_cert_location(const char *file, const char *path);
int __wrap_git_mbedtls__set_cert_location(const char *file, const char *path)
{
	return tls_start() < 0 ? -1 : __real_git_mbedtls__set_cert_location(file, path);
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
