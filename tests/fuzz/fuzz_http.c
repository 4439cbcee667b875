/*
 * libFuzzer target: the daemon's HTTP request path, end to end in one
 * process. The real server (daemon/server.c) listens on a unix socket on a
 * private event loop with a real store; each input is written to one fresh
 * connection as raw bytes (request line, headers, chunked or fixed bodies,
 * pipelined requests, garbage), the write side is shut, and the loop runs
 * until the server has closed the connection. Every answer must be a
 * well-formed HTTP/1.1 status line.
 */
#include "../../daemon/gitgated.h"
#include "../../daemon/log.h"
#include "gitgate/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loop turns per input before the harness gives up on the server closing. */
#define FUZZ_MAX_TURNS 20000

static gg_daemon dm;
static char sock_path[256];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		abort();
	chmod(path, 0600);
}

static void setup(void)
{
	char dir[] = "/tmp/gg-fuzz-http.XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	char *secret = gg_printf("%s/s.secret", dir);
	write_file(secret, "fuzz-secret\n");
	snprintf(sock_path, sizeof(sock_path), "%s/http.sock", dir);
	char *state = gg_printf("%s/state", dir);
	char *cfgtext = gg_printf("listen: [\"unix:%s\"]\n"
	                          "state_dir: %s\n"
	                          "max_body: 4KiB\n"
	                          "max_header: 2KiB\n"
	                          "read_timeout: 1s\n"
	                          "sources:\n"
	                          "  - {name: gh, kind: github, secret_file: %s}\n"
	                          "  - {name: git, kind: generic, secret_file: %s}\n"
	                          "targets:\n"
	                          "  - {name: t, repo: '*', ref: '*', run: [/bin/true]}\n",
	                          sock_path, state, secret, secret);
	gg_diag diag = GG_DIAG_INIT;
	if (gg_dconfig_parse(&dm.cfg, "fuzz.yaml", cfgtext, strlen(cfgtext), &diag) < 0) {
		for (size_t i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		abort();
	}
	gg_diag_free(&diag);
	mkdir(state, 0750);
	char *err = NULL;
	dm.base = event_base_new();
	/* A synchronous store: no writer thread, so every input is fully done on return. */
	if (dm.base == NULL || gg_store_open(&dm.store, NULL, state, &err) < 0 ||
	    gg_server_new(&dm.server, &dm, &err) < 0) {
		fprintf(stderr, "fuzz_http: %s\n", err ? err : "setup failed");
		abort();
	}
	gg_log_set_level(GG_LOG_ERROR + 1);
	free(secret);
	free(state);
	free(cfgtext);
}

/* Every answer in out starts with a status line the server can produce. */
static void check_answers(const char *out, size_t n)
{
	if (n == 0)
		return;
	if (n < 12 || memcmp(out, "HTTP/1.1 ", 9) != 0)
		abort();
	int st = (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
	if (st < 100 || st > 599)
		abort();
	/* Nothing unauthenticated may be accepted. */
	if (st == 202)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		setup();
		ready = true;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	strcpy(sun.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t off = 0;
	bool shut = false, eof = false;
	char out[8192];
	size_t nout = 0;
	for (int turn = 0; turn < FUZZ_MAX_TURNS && !eof; turn++) {
		if (off < size) {
			ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (w > 0)
				off += (size_t)w;
			else if (w < 0 && errno != EAGAIN)
				off = size; /* the server closed on us */
		}
		if (off == size && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		event_base_loop(dm.base, EVLOOP_NONBLOCK);
		for (;;) {
			char tmp[4096];
			ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
			if (r == 0) {
				eof = true;
				break;
			}
			if (r < 0)
				break;
			size_t take =
			    (size_t)r < sizeof(out) - nout ? (size_t)r : sizeof(out) - nout;
			memcpy(out + nout, tmp, take);
			nout += take;
		}
	}
	close(fd);
	/* Let the server notice the close and free the connection. */
	for (int turn = 0; turn < 100 && gg_server_connections(dm.server) > 0; turn++)
		event_base_loop(dm.base, EVLOOP_NONBLOCK);
	if (getenv("FUZZ_HTTP_SHOW")) /* replaying one input: what the server answered */
		fprintf(stderr, "%.*s\n", (int)nout, out);
	check_answers(out, nout);
	return 0;
}
