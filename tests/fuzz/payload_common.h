/*
 * Shared body of the fuzz_payload_*.c targets: one sender kind (FUZZ_KIND)
 * on hostile payloads. The first input byte picks the event name and the
 * framing (JSON or a form body); the rest is the body. The harness signs the
 * body the way the sender would, so every input reaches the payload parser
 * through gg_sender_handle exactly as a delivery over HTTP does; the parser
 * is also called directly with the chosen event.
 */
#ifndef FUZZ_PAYLOAD_COMMON_H
#define FUZZ_PAYLOAD_COMMON_H

#include "../../daemon/sender.h"
#include "gitgate/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_events[] = {
    "push", "ping", "Push Hook", "Tag Push Hook", "repo:push", "repo:refs_changed", NULL, "create",
};
static const char fuzz_secret[] = "fuzz-secret";
static const unsigned char fuzz_signing_key[] = "0123456789abcdef0123456789abcdef";

static void fuzz_sign(char out[72], const char *prefix, const void *body, size_t len)
{
	unsigned char mac[32];
	unsigned int n = sizeof(mac);
	char hex[65];
	HMAC(EVP_sha256(), fuzz_secret, (int)strlen(fuzz_secret), body, len, mac, &n);
	gg_hex(hex, mac, sizeof(mac));
	snprintf(out, 72, "%s%s", prefix, hex);
}

/* The sender's headers for this kind, signed over body. */
static size_t fuzz_headers(gg_header *h, gg_source_kind kind, const char *event, bool form,
                           const uint8_t *body, size_t len, char sig[72], char stdsig[128],
                           char ts[32])
{
	size_t n = 0;
	if (form)
		h[n++] = (gg_header){"Content-Type", "application/x-www-form-urlencoded"};
	else
		h[n++] = (gg_header){"Content-Type", "application/json"};
	switch (kind) {
	case GG_SRC_GITHUB:
		fuzz_sign(sig, "sha256=", body, len);
		h[n++] = (gg_header){"X-Hub-Signature-256", sig};
		h[n++] = (gg_header){"X-GitHub-Delivery", "fuzz-1"};
		if (event)
			h[n++] = (gg_header){"X-GitHub-Event", event};
		break;
	case GG_SRC_GENERIC:
		fuzz_sign(sig, "sha256=", body, len);
		h[n++] = (gg_header){"X-Gitgate-Signature", sig};
		h[n++] = (gg_header){"X-Gitgate-Delivery", "fuzz-1"};
		if (event)
			h[n++] = (gg_header){"X-Gitgate-Event", event};
		break;
	case GG_SRC_GITEA:
	case GG_SRC_FORGEJO:
	case GG_SRC_GOGS: {
		const char *pre = kind == GG_SRC_GITEA     ? "X-Gitea-"
		                  : kind == GG_SRC_FORGEJO ? "X-Forgejo-"
		                                           : "X-Gogs-";
		static char sname[40], dname[40], ename[40];
		snprintf(sname, sizeof(sname), "%sSignature", pre);
		snprintf(dname, sizeof(dname), "%sDelivery", pre);
		snprintf(ename, sizeof(ename), "%sEvent", pre);
		fuzz_sign(sig, "", body, len); /* form bodies fail here: the JSON is signed */
		h[n++] = (gg_header){sname, sig};
		h[n++] = (gg_header){dname, "fuzz-1"};
		if (event)
			h[n++] = (gg_header){ename, event};
		break;
	}
	case GG_SRC_BITBUCKET:
		fuzz_sign(sig, "sha256=", body, len);
		h[n++] = (gg_header){"X-Hub-Signature", sig};
		h[n++] = (gg_header){form ? "X-Request-Id" : "X-Request-UUID", "{fuzz-1}"};
		if (event)
			h[n++] = (gg_header){"X-Event-Key", event};
		break;
	case GG_SRC_GITLAB: {
		h[n++] = (gg_header){"X-Gitlab-Token", fuzz_secret};
		h[n++] = (gg_header){"Idempotency-Key", "fuzz-1"};
		if (event)
			h[n++] = (gg_header){"X-Gitlab-Event", event};
		/* Standard Webhooks over "ID.TS.BODY" (checked when the source has a key). */
		snprintf(ts, 32, "%lld", (long long)time(NULL));
		gg_buf msg = GG_BUF_INIT;
		gg_buf_printf(&msg, "fuzz-1.%s.", ts);
		gg_buf_put(&msg, body, len);
		unsigned char mac[32];
		unsigned int ml = sizeof(mac);
		HMAC(EVP_sha256(), fuzz_signing_key, 32, (const unsigned char *)msg.ptr, msg.len,
		     mac, &ml);
		gg_buf_free(&msg);
		memcpy(stdsig, "v1,", 3);
		EVP_EncodeBlock((unsigned char *)stdsig + 3, mac, 32);
		h[n++] = (gg_header){"webhook-id", "fuzz-1"};
		h[n++] = (gg_header){"webhook-timestamp", ts};
		h[n++] = (gg_header){"webhook-signature", stdsig};
		break;
	}
	}
	return n;
}

static void fuzz_check(const gg_sender_result *r, gg_sender_rc rc)
{
	/* What the server relies on after GG_SENDER_OK. */
	if (rc != GG_SENDER_OK)
		return;
	if (r->delivery == NULL || r->event == NULL)
		abort();
	for (size_t i = 0; r->is_push && i < r->npushes; i++) {
		const gg_push *p = &r->pushes[i];
		if (!p->ref || !p->before || !p->after || !p->repo)
			abort();
		if (p->npaths > GG_SENDER_MAX_PATHS)
			abort();
		for (size_t k = 0; k < p->npaths; k++)
			if (p->paths[k] == NULL)
				abort();
	}
}

static int fuzz_payload(gg_source_kind kind, const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	const char *event = fuzz_events[sel & 7];
	bool form = (sel & 8) != 0;
	bool stdwh = (sel & 16) != 0;
	const uint8_t *body = data + 1;
	size_t len = size - 1;
	/* A NUL-terminated copy, as the server hands bodies over. */
	char *copy = gg_malloc(len + 1);
	memcpy(copy, body, len);
	copy[len] = '\0';

	gg_dsource src = {.name = "fuzz",
	                  .kind = kind,
	                  .secret = (char *)fuzz_secret,
	                  .secret_len = strlen(fuzz_secret)};
	if (kind == GG_SRC_GITLAB && stdwh) {
		src.signing_key = (unsigned char *)fuzz_signing_key;
		src.signing_key_len = 32;
	}
	gg_header h[12];
	char sig[72], stdsig[128], ts[32];
	size_t nh = fuzz_headers(h, kind, event, form, body, len, sig, stdsig, ts);
	gg_sender_result r;
	gg_sender_rc rc = gg_sender_handle(&r, &src, h, nh, copy, len, time(NULL));
	fuzz_check(&r, rc);
	gg_sender_result_free(&r);

	gg_sender_result p;
	memset(&p, 0, sizeof(p));
	rc = gg_sender_parse(&p, kind, event, copy, len);
	if (rc == GG_SENDER_OK && p.event == NULL)
		abort();
	gg_sender_result_free(&p);
	free(copy);
	return 0;
}

#endif
