/*
 * hooks/static/startup.c, the pre-receive hook's start-up shims, in a program
 * linked as the hook is: libgit2 starts, mbedTLS starts when first used,
 * libssh2 still starts itself with its first session, and the GSSAPI
 * functions reach the real library (loaded on first use) with libgit2's name
 * type.
 */
#include "test.h"
#include "../../hooks/static/gssapi_min.h"

#include <dlfcn.h>
#include <git2.h>
#include <libssh2.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* mbedTLS starts on first use, as libgit2 starts it: the CA files load then. */
static void test_tls_starts_when_used(void)
{
	const char *ca = "/etc/ssl/certs/ca-certificates.crt";
	CHECK(git_libgit2_init() > 0);
	CHECK_INT(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ca, NULL), 0);
	CHECK(git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, "/nonexistent/ca.pem", NULL) < 0);
	const git_error *e = git_error_last();
	CHECK(e != NULL && strstr(e->message, "failed to load CA certificates") != NULL);
	git_libgit2_shutdown();
}

struct seen {
	int calls, valid, x509;
};

static int cert_check(git_cert *cert, int valid, const char *host, void *payload)
{
	struct seen *s = payload;
	(void)host;
	s->calls++;
	s->valid = valid;
	s->x509 = cert->cert_type == GIT_CERT_X509;
	return -1; /* seen enough: stop here */
}

/*
 * A real handshake with a TLS server on loopback (openssl s_server, a
 * self-signed certificate): mbedTLS, started on the first stream, completes
 * it and checks the certificate against the system's CAs, which do not
 * trust it. Then again after a full shutdown and init.
 */
static void test_tls_handshake_after_lazy_start(void)
{
	char dir[] = "/tmp/gitgate-hookstart.XXXXXX", cmd[512], url[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
	         "-subj /CN=localhost -keyout %s/key.pem -out %s/cert.pem 2>/dev/null",
	         dir, dir);
	CHECK_INT(system(cmd), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) == 0 &&
	      getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	int port = ntohs(sa.sin_port);
	pid_t pid = fork();
	if (pid == 0) {
		char accept[32], cert[128], key[128];
		snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
		snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
		snprintf(key, sizeof(key), "%s/key.pem", dir);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		execlp("openssl", "openssl", "s_server", "-quiet", "-accept", accept, "-cert", cert,
		       "-key", key, "-www", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* until it listens, at most 5 s */
		int c = socket(AF_INET, SOCK_STREAM, 0);
		int ok = connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(c);
		if (ok)
			break;
		usleep(50 * 1000);
	}
	snprintf(url, sizeof(url), "https://localhost:%d/repo.git", port);
	for (int round = 0; round < 2; round++) {
		struct seen seen = {0, -1, 0};
		git_remote *remote = NULL;
		git_remote_callbacks cb;
		git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
		cb.certificate_check = cert_check;
		cb.payload = &seen;
		CHECK(git_libgit2_init() > 0);
		CHECK_INT(git_remote_create_detached(&remote, url), 0);
		CHECK(git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0);
		CHECK_INT(seen.calls, 1);
		CHECK_INT(seen.x509, 1);
		CHECK_INT(seen.valid, 0);
		git_remote_free(remote);
		git_libgit2_shutdown();
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
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
	RUN(test_tls_starts_when_used);
	RUN(test_tls_handshake_after_lazy_start);
	RUN(test_libgit2_starts);
	RUN(test_ssh_session_starts_libssh2);
	RUN(test_hostbased_name_reaches_the_library);
	RUN(test_hostbased_oid_is_the_librarys);
	RUN(test_library_calls_forward);
	return TEST_DONE();
}
