/* Secrets as users see them, and tg:// / t.me links. Pure. */
#ifndef MTPROXYD_SECRET_H
#define MTPROXYD_SECRET_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define SECRET_ERR_FORMAT	(-2)
#define SECRET_ERR_SPACE	(-3)

enum secret_kind {
	SECRET_CLASSIC,		/* 32 hex: abridged/intermediate */
	SECRET_SECURE,		/* dd + 32 hex: padded intermediate */
	SECRET_TLS		/* ee + 32 hex + hex(domain) */
};

#define SECRET_DOMAIN_MAX	253

struct secret {
	enum secret_kind kind;
	uint8_t key[SECRET_LEN];
	char domain[SECRET_DOMAIN_MAX + 1];	/* SECRET_TLS only */
};

/* Accepts any of the three client forms (hex, case-insensitive). */
int secret_parse(const char *text, struct secret *out);
/* Exactly 32 hex digits into key. */
int secret_parse_key(const char *text, uint8_t key[SECRET_LEN]);
/* The client form: prefix + hex key (+ hex domain). */
int secret_format(const struct secret *s, char *out, size_t outlen);
/* tg://proxy?server=..&port=..&secret=.. or https://t.me/proxy?... */
int secret_link(const struct secret *s, const char *host, uint16_t port,
    int tme, char *out, size_t outlen);

/*
 * The secret to try k-th (k < n) when secrets[first] goes first and the
 * others follow in their order, none tried twice (many users: the one a
 * client's address was last seen with first). first >= n: plain order.
 */
size_t secret_trial(size_t k, size_t first, size_t n);

#endif
