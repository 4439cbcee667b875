/*
 * Built-in secret detectors: AWS access key ids and secret keys, GitHub,
 * GitLab, Slack, Stripe live and Google API keys, PEM private key blocks.
 * A line is scanned in one pass: a table of trigger bytes picks the few
 * positions worth a closer look, so the cost is one lookup per byte.
 */
#ifndef GITGATE_SECRETS_H
#define GITGATE_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
	const char *kind;  /* "GitHub token", "AWS access key id", ...; static */
	size_t col;        /* 1-based byte column of the secret in the line */
	char redacted[16]; /* its first 4 characters then "****": never the secret */
} gg_secret_hit;

typedef void (*gg_secret_fn)(void *ctx, const gg_secret_hit *hit);

/* Scan one line (without its newline); calls fn for every finding. Returns the count. */
size_t gg_secrets_scan_line(const char *line, size_t len, gg_secret_fn fn, void *ctx);

/* Git's heuristic: a NUL byte in the first 8000 bytes makes content binary. */
bool gg_secrets_is_binary(const char *data, size_t len);

#endif
