/* Unit tests for trusted_proxies: blocks, and who the forwarding headers name. */
#include "../../daemon/proxy.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static gg_cidr block(const char *addr, unsigned bits)
{
	gg_cidr b = {.bits = bits};
	b.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	inet_pton(b.family, addr, b.addr);
	return b;
}

/* The client the headers name, or "-" when they name none. */
static const char *client(const gg_cidr *l, size_t n, const gg_header *h, size_t nh)
{
	static char out[GG_PROXY_ADDR_MAX];
	bool https;
	if (!gg_proxy_client(out, l, n, h, nh, &https))
		return "-";
	return out;
}

static void test_trusted_peers(void)
{
	gg_cidr l[2] = {block("10.1.0.0", 16), block("fd00::", 8)};
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET, "10.1.200.3", &in.sin_addr);
	CHECK(gg_proxy_trusted(l, 2, (struct sockaddr *)&in));
	inet_pton(AF_INET, "10.2.0.1", &in.sin_addr);
	CHECK(!gg_proxy_trusted(l, 2, (struct sockaddr *)&in));
	inet_pton(AF_INET6, "fd12::1", &in6.sin6_addr);
	CHECK(gg_proxy_trusted(l, 2, (struct sockaddr *)&in6));
	/* A v4-mapped peer is the v4 address. */
	inet_pton(AF_INET6, "::ffff:10.1.0.9", &in6.sin6_addr);
	CHECK(gg_proxy_trusted(l, 2, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr);
	CHECK(!gg_proxy_trusted(l, 2, (struct sockaddr *)&in6));
	CHECK(!gg_proxy_trusted(NULL, 0, (struct sockaddr *)&in));
	/* "unix" trusts unix-socket peers, and nothing else. */
	gg_cidr ux = {.family = AF_UNIX};
	struct sockaddr sun = {.sa_family = AF_UNIX};
	CHECK(gg_proxy_trusted(&ux, 1, &sun));
	CHECK(!gg_proxy_trusted(l, 2, &sun));
	inet_pton(AF_INET, "10.1.200.3", &in.sin_addr);
	CHECK(!gg_proxy_trusted(&ux, 1, (struct sockaddr *)&in));
	gg_cidr odd = block("192.168.1.128", 25);
	inet_pton(AF_INET, "192.168.1.200", &in.sin_addr);
	CHECK(gg_proxy_trusted(&odd, 1, (struct sockaddr *)&in));
	inet_pton(AF_INET, "192.168.1.127", &in.sin_addr);
	CHECK(!gg_proxy_trusted(&odd, 1, (struct sockaddr *)&in));
}

static void test_x_forwarded_for(void)
{
	gg_cidr l[1] = {block("10.0.0.0", 8)};
	gg_header h[3] = {{"X-Forwarded-For", "203.0.113.9"}};
	CHECK_STR(client(l, 1, h, 1), "203.0.113.9");
	/* What the client wrote itself is on the left: the right-most untrusted wins. */
	h[0].value = "6.6.6.6, 198.51.100.2, 10.0.0.7";
	CHECK_STR(client(l, 1, h, 1), "198.51.100.2");
	/* Several header lines are one list. */
	h[0].value = "6.6.6.6";
	h[1] = (gg_header){"x-forwarded-for", "198.51.100.3 , 10.9.9.9"};
	CHECK_STR(client(l, 1, h, 2), "198.51.100.3");
	/* Garbage at the right end: nothing is believed. */
	h[0].value = "1.2.3.4, <script>";
	CHECK_STR(client(l, 1, h, 1), "-");
	/* Garbage further left stops the walk at the last address we can verify. */
	h[0].value = "junk, 10.0.0.5";
	CHECK_STR(client(l, 1, h, 1), "10.0.0.5");
	/* Addresses come out normalized, never as written. */
	h[0].value = "2001:DB8:0:0::1";
	CHECK_STR(client(l, 1, h, 1), "2001:db8::1");
	h[0].value = "[2001:db8::2]:4711";
	CHECK_STR(client(l, 1, h, 1), "2001:db8::2");
	h[0].value = "192.0.2.1:80";
	CHECK_STR(client(l, 1, h, 1), "192.0.2.1");
	h[0].value = "";
	CHECK_STR(client(l, 1, h, 1), "-");
}

static void test_forwarded(void)
{
	gg_cidr l[1] = {block("10.0.0.0", 8)};
	bool https = false;
	char out[GG_PROXY_ADDR_MAX];
	gg_header h[2] = {{"Forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43"}};
	CHECK(gg_proxy_client(out, l, 1, h, 1, &https));
	CHECK_STR(out, "192.0.2.60");
	CHECK(https);
	h[0].value = "for=\"[2001:db8:cafe::17]:4711\", for=10.1.1.1;proto=http";
	CHECK(gg_proxy_client(out, l, 1, h, 1, &https));
	CHECK_STR(out, "2001:db8:cafe::17");
	CHECK(!https);
	/* Obfuscated or unknown: not an address. */
	h[0].value = "for=_hidden";
	CHECK_STR(client(l, 1, h, 1), "-");
	h[0].value = "For=unknown, for=198.51.100.17";
	CHECK_STR(client(l, 1, h, 1), "198.51.100.17");
	/* A quoted comma does not split elements. */
	h[0].value = "for=198.51.100.1;by=\"a,b\"";
	CHECK_STR(client(l, 1, h, 1), "198.51.100.1");
	/* With both, X-Forwarded-For is the one proxies commonly append to. */
	h[0].value = "for=6.6.6.6";
	h[1] = (gg_header){"X-Forwarded-For", "198.51.100.9"};
	CHECK_STR(client(l, 1, h, 2), "198.51.100.9");
}

static void test_headers_present(void)
{
	gg_header h[2] = {{"Host", "x"}, {"X-Real-IP", "1.2.3.4"}};
	CHECK(!gg_proxy_headers_present(h, 1));
	CHECK(gg_proxy_headers_present(h, 2));
	h[1].name = "forwarded";
	CHECK(gg_proxy_headers_present(h, 2));
}

int main(void)
{
	RUN(test_trusted_peers);
	RUN(test_x_forwarded_for);
	RUN(test_forwarded);
	RUN(test_headers_present);
	return TEST_DONE();
}
