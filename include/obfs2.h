/*
 * obfuscated2: the 64-byte header that opens every client and DC stream
 * (doc/PROTOCOL.md 1.1-1.5). Pure: no I/O, random bytes come in as arguments.
 */
#ifndef MTPROXYD_OBFS2_H
#define MTPROXYD_OBFS2_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define OBFS2_ERR_NOMATCH	(-2)	/* no secret yields a valid tag */
#define OBFS2_ERR_RETRY		(-3)	/* random header hits the 1.4 list: redraw */
#define OBFS2_ERR_ARG		(-4)
#define OBFS2_ERR_CRYPTO	(-5)

/* Keys seen from one end: r* decrypts what it reads, w* encrypts what it writes. */
struct obfs2_keys {
	uint8_t rkey[OBFS2_KEY_LEN], riv[OBFS2_IV_LEN];
	uint8_t wkey[OBFS2_KEY_LEN], wiv[OBFS2_IV_LEN];
};

struct obfs2_result {
	int secret_index;	/* which secret matched; -1 when none given */
	size_t trials;		/* secrets tried, the matching one included;
				   set on a miss too */
	uint32_t tag;		/* PROTO_TAG_* */
	int16_t dc;		/* signed DC id from bytes 60..61 */
	struct obfs2_keys keys;	/* server's view: rkey = client->server */
};

/*
 * Server side: try each secret in order (nsecrets 0: the secret-less scheme a
 * DC uses). The read cipher must then skip OBFS2_HEADER_LEN bytes.
 */
int obfs2_parse(const uint8_t hdr[OBFS2_HEADER_LEN],
    const uint8_t (*secrets)[SECRET_LEN], size_t nsecrets,
    struct obfs2_result *out);
/* The same, trying secrets[first] first (secret_trial's order). */
int obfs2_parse_from(const uint8_t hdr[OBFS2_HEADER_LEN],
    const uint8_t (*secrets)[SECRET_LEN], size_t nsecrets, size_t first,
    struct obfs2_result *out);

/*
 * Builder side (client, or proxy towards a DC): from 64 random bytes, build
 * the wire header carrying tag and dc. secret may be NULL (no secret). With
 * fast_key/fast_iv (only without a secret) the seed is chosen so that the
 * builder's read key/iv equal them (doc/PROTOCOL.md 1.5 fast mode).
 * keys: builder's view (wkey = builder->peer). The write cipher must then skip
 * OBFS2_HEADER_LEN bytes. OBFS2_ERR_RETRY: draw new random bytes.
 */
int obfs2_build(const uint8_t rnd[OBFS2_HEADER_LEN], uint32_t tag, int16_t dc,
    const uint8_t *secret, const uint8_t *fast_key, const uint8_t *fast_iv,
    uint8_t wire[OBFS2_HEADER_LEN], struct obfs2_keys *keys);

/* 1 if a random header's first bytes would be mistaken for another protocol. */
int obfs2_header_forbidden(const uint8_t hdr[OBFS2_HEADER_LEN]);

int obfs2_tag_valid(uint32_t tag);

#endif
