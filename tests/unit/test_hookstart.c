/*
 * hooks/static/startup.c, the pre-receive hook's start-up shims, in a program
 * linked as the hook is: libgit2 starts, the CA bundle parse loads nothing,
 * libssh2 still starts itself with its first session, and the GSSAPI
 * functions reach the real library (loaded on first use) with libgit2's name
 * type.
 */
#include "test.h"

#include <dlfcn.h>
#include <git2.h>
#include <libssh2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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
typedef void *gss_name_t, *gss_OID_set;

extern gss_OID GSS_C_NT_HOSTBASED_SERVICE;
int __wrap_mbedtls_x509_crt_parse_file(void *chain, const char *path);
OM_uint32 gss_import_name(OM_uint32 *minor, gss_buffer_desc *name, gss_OID type, gss_name_t *out);
OM_uint32 gss_release_name(OM_uint32 *minor, gss_name_t *name);
OM_uint32 gss_indicate_mechs(OM_uint32 *minor, gss_OID_set *out);
OM_uint32 gss_release_oid_set(OM_uint32 *minor, gss_OID_set *set);
OM_uint32 gss_display_status(OM_uint32 *minor, OM_uint32 status, int type, gss_OID mech,
                             OM_uint32 *context, gss_buffer_desc *out);
OM_uint32 gss_release_buffer(OM_uint32 *minor, gss_buffer_desc *buf);

#define GSS_S_FAILURE  (13u << 16)
#define GSS_C_GSS_CODE 1

static void test_ca_bundle_loads_nothing(void)
{
	char chain[64] = {0};
	CHECK(__wrap_mbedtls_x509_crt_parse_file(chain, "/etc/ssl/certs/ca-certificates.crt") < 0);
	for (size_t i = 0; i < sizeof(chain); i++)
		CHECK_INT(chain[i], 0);
}

/* The archives linked in work as the shared libgit2 does: a repository, a blob. */
static void test_libgit2_starts(void)
{
	char dir[] = "/tmp/gitgate-hookstart.XXXXXX";
	CHECK(git_libgit2_init() > 0);
	CHECK(mkdtemp(dir) != NULL);
	git_repository *repo = NULL;
	git_oid id;
	git_blob *blob = NULL;
	CHECK_INT(git_repository_init(&repo, dir, 1), 0);
	CHECK_INT(git_blob_create_from_buffer(&id, repo, "hello\n", 6), 0);
	CHECK_STR(git_oid_tostr_s(&id), "ce013625030ba8dba906f756967f9e9ca394464a");
	CHECK_INT(git_blob_lookup(&blob, repo, &id), 0);
	CHECK(blob && git_blob_rawsize(blob) == 6 &&
	      !memcmp(git_blob_rawcontent(blob), "hello\n", 6));
	git_blob_free(blob);
	git_repository_free(repo);
	git_libgit2_shutdown();
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

/* libgit2 started with libssh2_init() wrapped: the first session starts libssh2. */
static void test_ssh_session_starts_libssh2(void)
{
	CHECK(git_libgit2_init() > 0);
	LIBSSH2_SESSION *s = libssh2_session_init();
	CHECK(s != NULL);
	const char **algs = NULL;
	int n = s ? libssh2_session_supported_algs(s, LIBSSH2_METHOD_HOSTKEY, &algs) : 0;
	CHECK(n > 0);
	if (n > 0)
		libssh2_free(s, algs);
	CHECK_INT(s ? libssh2_session_method_pref(s, LIBSSH2_METHOD_CRYPT_CS, "aes128-ctr") : -1,
	          0);
	CHECK_INT(s ? libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY, "ssh-ed25519") : -1,
	          0);
	if (s)
		libssh2_session_free(s);
	git_libgit2_shutdown();
}

/* The library accepts the OID this file defines in place of its own. */
static void test_hostbased_name_reaches_the_library(void)
{
	OM_uint32 minor = 1;
	gss_name_t name = NULL;
	gss_buffer_desc in = {sizeof("HTTP@git.example.com") - 1, (void *)"HTTP@git.example.com"};
	CHECK_INT(GSS_C_NT_HOSTBASED_SERVICE->length, 10);
	CHECK_INT(gss_import_name(&minor, &in, GSS_C_NT_HOSTBASED_SERVICE, &name), 0);
	CHECK(name != NULL);
	CHECK_INT(gss_release_name(&minor, &name), 0);
}

/* The OID is the library's own, byte for byte. */
static void test_hostbased_oid_is_the_librarys(void)
{
	void *lib = dlopen("libgssapi_krb5.so.2", RTLD_NOW | RTLD_LOCAL);
	CHECK(lib != NULL);
	gss_OID *theirs = lib ? dlsym(lib, "GSS_C_NT_HOSTBASED_SERVICE") : NULL;
	CHECK(theirs != NULL && *theirs != NULL);
	if (theirs && *theirs) {
		CHECK(*theirs != GSS_C_NT_HOSTBASED_SERVICE);
		CHECK_INT((*theirs)->length, GSS_C_NT_HOSTBASED_SERVICE->length);
		CHECK(memcmp((*theirs)->elements, GSS_C_NT_HOSTBASED_SERVICE->elements,
		             GSS_C_NT_HOSTBASED_SERVICE->length) == 0);
	}
	if (lib)
		dlclose(lib);
}

static void test_library_calls_forward(void)
{
	OM_uint32 minor = 1, ctx = 0;
	gss_OID_set mechs = NULL;
	CHECK_INT(gss_indicate_mechs(&minor, &mechs), 0);
	CHECK(mechs != NULL);
	CHECK_INT(gss_release_oid_set(&minor, &mechs), 0);
	gss_buffer_desc msg = {0, NULL};
	CHECK_INT(gss_display_status(&minor, GSS_S_FAILURE, GSS_C_GSS_CODE, NULL, &ctx, &msg), 0);
	CHECK(msg.length > 0 && msg.value != NULL);
	CHECK_INT(gss_release_buffer(&minor, &msg), 0);
}

int main(void)
{
	RUN(test_ca_bundle_loads_nothing);
	RUN(test_libgit2_starts);
	RUN(test_ssh_session_starts_libssh2);
	RUN(test_hostbased_name_reaches_the_library);
	RUN(test_hostbased_oid_is_the_librarys);
	RUN(test_library_calls_forward);
	return TEST_DONE();
}
