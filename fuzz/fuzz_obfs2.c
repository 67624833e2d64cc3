/*
 * obfs2_parse on arbitrary headers, and build -> parse round trips on
 * input-derived random bytes. Input layout: header[64] secret[16] ctl[...]:
 * the secret (when present) is tried by the parser and used by the builder,
 * ctl picks tag, dc and fast mode.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "obfs2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t tags[] = {
	PROTO_TAG_ABRIDGED, PROTO_TAG_INTERMEDIATE, PROTO_TAG_PADDED
};

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_result(const struct obfs2_result *r, int nsecrets)
{
	check(obfs2_tag_valid(r->tag));
	check(r->secret_index >= (nsecrets > 0 ? 0 : -1));
	check(r->secret_index < nsecrets || r->secret_index == -1);
}

static int
mirrored(const struct obfs2_keys *b, const struct obfs2_keys *p)
{
	return memcmp(b->wkey, p->rkey, OBFS2_KEY_LEN) == 0 &&
	    memcmp(b->wiv, p->riv, OBFS2_IV_LEN) == 0 &&
	    memcmp(b->rkey, p->wkey, OBFS2_KEY_LEN) == 0 &&
	    memcmp(b->riv, p->wiv, OBFS2_IV_LEN) == 0;
}

/* The same bytes through the builder's write and the parser's read cipher. */
static void
check_stream(const struct obfs2_keys *b, const struct obfs2_keys *p,
    const uint8_t *msg, size_t len)
{
	uint8_t enc[64], dec[64];
	crypto_ctr *w, *r;

	check(crypto_ctr_new(&w, b->wkey, b->wiv) == 0);
	check(crypto_ctr_new(&r, p->rkey, p->riv) == 0);
	check(crypto_ctr_skip(w, OBFS2_HEADER_LEN) == 0);
	check(crypto_ctr_skip(r, OBFS2_HEADER_LEN) == 0);
	check(crypto_ctr_apply(w, msg, enc, len) == 0);
	check(crypto_ctr_apply(r, enc, dec, len) == 0);
	check(memcmp(dec, msg, len) == 0);
	crypto_ctr_free(w);
	crypto_ctr_free(r);
}

static void
roundtrip(const uint8_t rnd[OBFS2_HEADER_LEN], const uint8_t *secret,
    const uint8_t *ctl, size_t nctl)
{
	uint8_t secrets[2][SECRET_LEN], wire[OBFS2_HEADER_LEN];
	uint32_t tag = tags[(nctl > 0 ? ctl[0] : 0) % 3];
	int16_t dc = (int16_t)(uint16_t)(nctl > 2 ? ctl[1] | ctl[2] << 8 : 2);
	int fast = secret == NULL && nctl > 3 && (ctl[3] & 1);
	const uint8_t *fkey = fast ? rnd + 16 : NULL, *fiv = fast ? rnd : NULL;
	struct obfs2_keys k;
	struct obfs2_result r;
	int rc;

	rc = obfs2_build(rnd, tag, dc, secret, fkey, fiv, wire, &k);
	check(rc == 0 || rc == OBFS2_ERR_RETRY);
	check((rc == OBFS2_ERR_RETRY) == obfs2_header_forbidden(rnd));
	if (rc != 0)
		return;
	check(memcmp(wire, rnd, fast ? OBFS2_KEY_OFF : OBFS2_TAG_OFF) == 0);
	if (secret != NULL) {
		/* A decoy first: the builder's secret must still be found. */
		memcpy(secrets[0], secret, SECRET_LEN);
		secrets[0][0] ^= 0x80;
		memcpy(secrets[1], secret, SECRET_LEN);
		rc = obfs2_parse(wire, (const uint8_t (*)[SECRET_LEN])secrets,
		    2, &r);
	} else
		rc = obfs2_parse(wire, NULL, 0, &r);
	check(rc == 0);
	if (secret != NULL && r.secret_index == 0)
		return;	/* the decoy matched: chance 3 / 2^32, not a bug */
	check(r.secret_index == (secret != NULL ? 1 : -1));
	check(r.tag == tag && r.dc == dc);
	check(mirrored(&k, &r.keys));
	if (fast)
		check(memcmp(k.rkey, fkey, OBFS2_KEY_LEN) == 0 &&
		    memcmp(k.riv, fiv, OBFS2_IV_LEN) == 0);
	check_stream(&k, &r.keys, rnd, OBFS2_HEADER_LEN);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[OBFS2_HEADER_LEN] = { 0 };
	const uint8_t (*secret)[SECRET_LEN] = NULL;
	struct obfs2_result r;
	size_t nsecrets = 0;
	int rc;

	memcpy(hdr, data, size < sizeof(hdr) ? size : sizeof(hdr));
	if (size >= OBFS2_HEADER_LEN + SECRET_LEN) {
		secret = (const uint8_t (*)[SECRET_LEN])(data +
		    OBFS2_HEADER_LEN);
		nsecrets = 1;
	}
	rc = obfs2_parse(hdr, secret, nsecrets, &r);
	check(rc == 0 || rc == OBFS2_ERR_NOMATCH);
	if (rc == 0)
		check_result(&r, (int)nsecrets);
	rc = obfs2_parse(hdr, NULL, 0, &r);
	check(rc == 0 || rc == OBFS2_ERR_NOMATCH);
	if (rc == 0)
		check_result(&r, 0);

	if (nsecrets > 0)
		roundtrip(hdr, secret[0], data + OBFS2_HEADER_LEN + SECRET_LEN,
		    size - OBFS2_HEADER_LEN - SECRET_LEN);
	else
		roundtrip(hdr, NULL, data + (size < 64 ? size : 64),
		    size < 64 ? 0 : size - 64);
	return 0;
}
