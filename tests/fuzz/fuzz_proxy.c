/*
 * libFuzzer target: the forwarding headers a proxy (or a client pretending
 * to be one) sends. The input is split at newlines into header lines
 * "Name: value" (names limited to the three the walk reads, chosen by the
 * first byte); whatever they say, a client that comes back must be an
 * address inet_pton accepts, and nothing may be read out of bounds.
 */
#include "../../daemon/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"X-Forwarded-For", "Forwarded", "X-Forwarded-Proto"};
	gg_header h[FUZZ_MAX_LINES];
	size_t nh = 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *p = text; *p && nh < FUZZ_MAX_LINES;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		h[nh].name = names[(unsigned char)*p % 3];
		h[nh].value = p + 1;
		nh++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	gg_cidr list[2] = {{.family = AF_INET, .bits = 8}, {.family = AF_INET6, .bits = 8}};
	list[0].addr[0] = 10;
	list[1].addr[0] = 0xfd;
	char out[GG_PROXY_ADDR_MAX];
	bool https;
	if (gg_proxy_client(out, list, 2, h, nh, &https)) {
		unsigned char buf[16];
		if (memchr(out, '\0', sizeof(out)) == NULL ||
		    (inet_pton(AF_INET, out, buf) != 1 && inet_pton(AF_INET6, out, buf) != 1))
			abort();
	}
	(void)gg_proxy_headers_present(h, nh);
	free(text);
	return 0;
}
