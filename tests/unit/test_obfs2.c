/*
 * obfuscated2 header: the known answers of doc/PROTOCOL.md 1.1-1.5 (computed by
 * an implementation that interoperates with the official server), round
 * trips, the 1.4 list and fast mode.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "crypto.h"
#include "itest.h"
#include "obfs2.h"
#include "vectors_obfs2.h"

#define NVECTORS	NOBFS2_VECTORS
/* ISO C before C2x adds no const to pointers to arrays by itself. */
#define SECRETS(p)	((const uint8_t (*)[SECRET_LEN])(p))
#define NPAYLOAD	3	/* the client vectors carry a payload */

START_TEST(parse_vector)
{
	const struct obfs2_vector *v = &obfs2_vectors[_i];
	uint8_t wire[64], secret[1][SECRET_LEN];
	struct obfs2_result r;

	itest_unhex(v->header_wire, wire, sizeof(wire));
	memset(&r, 0xaa, sizeof(r));
	if (v->secret != NULL) {
		itest_unhex(v->secret, secret[0], SECRET_LEN);
		ck_assert_int_eq(obfs2_parse(wire, SECRETS(secret), 1, &r), 0);
		ck_assert_int_eq(r.secret_index, 0);
	} else {
		ck_assert_int_eq(obfs2_parse(wire, NULL, 0, &r), 0);
		ck_assert_int_eq(r.secret_index, -1);
	}
	ck_assert_uint_eq(r.tag, v->tag);
	ck_assert_int_eq(r.dc, v->dc);
	itest_assert_hex(r.keys.rkey, v->c2s_key);
	itest_assert_hex(r.keys.riv, v->c2s_iv);
	itest_assert_hex(r.keys.wkey, v->s2c_key);
	itest_assert_hex(r.keys.wiv, v->s2c_iv);
}
END_TEST

START_TEST(build_vector)
{
	const struct obfs2_vector *v = &obfs2_vectors[_i];
	uint8_t rnd[64], wire[64], secret[SECRET_LEN];
	struct obfs2_keys k;

	itest_unhex(v->header_plain, rnd, sizeof(rnd));
	if (v->secret != NULL)
		itest_unhex(v->secret, secret, sizeof(secret));
	ck_assert_int_eq(obfs2_build(rnd, v->tag, (int16_t)v->dc,
	    v->secret != NULL ? secret : NULL, NULL, NULL, wire, &k), 0);
	itest_assert_hex(wire, v->header_wire);
	itest_assert_hex(k.wkey, v->c2s_key);
	itest_assert_hex(k.wiv, v->c2s_iv);
	itest_assert_hex(k.rkey, v->s2c_key);
	itest_assert_hex(k.riv, v->s2c_iv);
}
END_TEST

/* Payload keystream: c2s continues at offset 64, s2c starts at 0. */
START_TEST(payload_vector)
{
	const struct obfs2_vector *v = &obfs2_vectors[_i];
	uint8_t wire[64], secret[1][SECRET_LEN], pt[64], ct[64], buf[64];
	struct obfs2_result r;
	crypto_ctr *c;
	size_t n;

	itest_unhex(v->header_wire, wire, sizeof(wire));
	itest_unhex(v->secret, secret[0], SECRET_LEN);
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secret), 1, &r), 0);
	n = itest_unhex(v->payload, pt, sizeof(pt));

	/* The server decrypts the client's payload. */
	itest_unhex(v->payload_cipher, ct, sizeof(ct));
	ck_assert_int_eq(crypto_ctr_new(&c, r.keys.rkey, r.keys.riv), 0);
	ck_assert_int_eq(crypto_ctr_skip(c, OBFS2_HEADER_LEN), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, ct, buf, n), 0);
	crypto_ctr_free(c);
	ck_assert_mem_eq(buf, pt, n);

	/* And encrypts its own from offset 0. */
	ck_assert_int_eq(crypto_ctr_new(&c, r.keys.wkey, r.keys.wiv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, pt, buf, n), 0);
	crypto_ctr_free(c);
	itest_assert_hex(buf, v->s2c_payload_cipher);
}
END_TEST

static void
random_header(uint8_t rnd[64])
{
	do
		ck_assert_int_eq(crypto_random(rnd, 64), 0);
	while (obfs2_header_forbidden(rnd));
}

static void
assert_mirrored(const struct obfs2_keys *builder,
    const struct obfs2_keys *parser)
{
	ck_assert_mem_eq(builder->wkey, parser->rkey, OBFS2_KEY_LEN);
	ck_assert_mem_eq(builder->wiv, parser->riv, OBFS2_IV_LEN);
	ck_assert_mem_eq(builder->rkey, parser->wkey, OBFS2_KEY_LEN);
	ck_assert_mem_eq(builder->riv, parser->wiv, OBFS2_IV_LEN);
}

static const uint32_t tags[] = {
	PROTO_TAG_ABRIDGED, PROTO_TAG_INTERMEDIATE, PROTO_TAG_PADDED
};
static const int16_t dcs[] = { 1, 2, 5, -1, -5, 10002, -10002, 203, 0,
    32767, -32768 };

/* Build with the third of four secrets; the parser must find that one. */
START_TEST(roundtrip_secret_list)
{
	uint8_t secrets[4][SECRET_LEN], rnd[64], wire[64];
	struct obfs2_keys k;
	struct obfs2_result r;
	size_t t, d;

	for (t = 0; t < 4; t++)
		ck_assert_int_eq(crypto_random(secrets[t], SECRET_LEN), 0);
	for (t = 0; t < 3; t++) {
		for (d = 0; d < sizeof(dcs) / sizeof(dcs[0]); d++) {
			random_header(rnd);
			ck_assert_int_eq(obfs2_build(rnd, tags[t], dcs[d],
			    secrets[2], NULL, NULL, wire, &k), 0);
			ck_assert_mem_eq(wire, rnd, OBFS2_TAG_OFF);
			ck_assert_int_eq(obfs2_parse(wire, SECRETS(secrets), 4,
			    &r), 0);
			ck_assert_int_eq(r.secret_index, 2);
			ck_assert_uint_eq(r.tag, tags[t]);
			ck_assert_int_eq(r.dc, dcs[d]);
			assert_mirrored(&k, &r.keys);
		}
	}
}
END_TEST

START_TEST(roundtrip_no_secret)
{
	uint8_t rnd[64], wire[64];
	struct obfs2_keys k;
	struct obfs2_result r;
	size_t t;

	for (t = 0; t < 3; t++) {
		random_header(rnd);
		ck_assert_int_eq(obfs2_build(rnd, tags[t], -2, NULL, NULL, NULL,
		    wire, &k), 0);
		ck_assert_int_eq(obfs2_parse(wire, NULL, 0, &r), 0);
		ck_assert_int_eq(r.secret_index, -1);
		ck_assert_uint_eq(r.tag, tags[t]);
		ck_assert_int_eq(r.dc, -2);
		assert_mirrored(&k, &r.keys);
		/* Without a secret the keys are the seed bytes themselves. */
		ck_assert_mem_eq(k.wkey, rnd + OBFS2_KEY_OFF, OBFS2_KEY_LEN);
		ck_assert_mem_eq(k.wiv, rnd + OBFS2_IV_OFF, OBFS2_IV_LEN);
	}
}
END_TEST

/* The whole stream after the header, both ways, with the derived keys. */
START_TEST(roundtrip_stream)
{
	uint8_t secret[1][SECRET_LEN], rnd[64], wire[64], msg[100], buf[100];
	struct obfs2_keys k;
	struct obfs2_result r;
	crypto_ctr *enc, *dec;

	ck_assert_int_eq(crypto_random(secret[0], SECRET_LEN), 0);
	ck_assert_int_eq(crypto_random(msg, sizeof(msg)), 0);
	random_header(rnd);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_PADDED, 3, secret[0], NULL,
	    NULL, wire, &k), 0);
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secret), 1, &r), 0);

	ck_assert_int_eq(crypto_ctr_new(&enc, k.wkey, k.wiv), 0);
	ck_assert_int_eq(crypto_ctr_new(&dec, r.keys.rkey, r.keys.riv), 0);
	ck_assert_int_eq(crypto_ctr_skip(enc, OBFS2_HEADER_LEN), 0);
	ck_assert_int_eq(crypto_ctr_skip(dec, OBFS2_HEADER_LEN), 0);
	ck_assert_int_eq(crypto_ctr_apply(enc, msg, buf, sizeof(msg)), 0);
	ck_assert_int_eq(crypto_memeq(buf, msg, sizeof(msg)), 0);
	ck_assert_int_eq(crypto_ctr_apply(dec, buf, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, msg, sizeof(msg));
	crypto_ctr_free(enc);
	crypto_ctr_free(dec);

	ck_assert_int_eq(crypto_ctr_new(&enc, r.keys.wkey, r.keys.wiv), 0);
	ck_assert_int_eq(crypto_ctr_new(&dec, k.rkey, k.riv), 0);
	ck_assert_int_eq(crypto_ctr_apply(enc, msg, buf, sizeof(msg)), 0);
	ck_assert_int_eq(crypto_ctr_apply(dec, buf, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, msg, sizeof(msg));
	crypto_ctr_free(enc);
	crypto_ctr_free(dec);
}
END_TEST

START_TEST(wrong_secret)
{
	uint8_t wire[64], secrets[3][SECRET_LEN];
	struct obfs2_result r;

	itest_unhex(obfs2_vectors[0].header_wire, wire, sizeof(wire));
	itest_unhex(obfs2_vectors[1].secret, secrets[0], SECRET_LEN);
	itest_unhex(obfs2_vectors[2].secret, secrets[1], SECRET_LEN);
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secrets), 2, &r),
	    OBFS2_ERR_NOMATCH);
	/* One flipped bit in the right secret is as wrong as any other. */
	itest_unhex(obfs2_vectors[0].secret, secrets[2], SECRET_LEN);
	secrets[2][15] ^= 1;
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secrets + 2), 1, &r),
	    OBFS2_ERR_NOMATCH);
	/* A secret header read as a secret-less one. */
	ck_assert_int_eq(obfs2_parse(wire, NULL, 0, &r), OBFS2_ERR_NOMATCH);
}
END_TEST

/*
 * The first index goes first, then the rest in order without it: with the
 * right secret twice, the one tried first wins; trials counts each secret
 * once, so a hit on the first costs one.
 */
START_TEST(parse_from_order)
{
	static const struct { size_t first; int index; size_t trials; } c[] = {
		{ 3, 3, 1 }, { 1, 1, 1 }, { 0, 1, 2 }, { 2, 1, 3 },
		{ 4, 1, 2 }, { 99, 1, 2 },
	};
	uint8_t wire[64], secrets[4][SECRET_LEN];
	struct obfs2_result r;
	size_t i;

	itest_unhex(obfs2_vectors[0].header_wire, wire, sizeof(wire));
	memset(secrets, 0x33, sizeof(secrets));
	secrets[2][0] = 0x44;
	itest_unhex(obfs2_vectors[0].secret, secrets[1], SECRET_LEN);
	memcpy(secrets[3], secrets[1], SECRET_LEN);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&r, 0, sizeof(r));
		ck_assert_int_eq(obfs2_parse_from(wire, SECRETS(secrets), 4,
		    c[i].first, &r), 0);
		ck_assert_int_eq(r.secret_index, c[i].index);
		ck_assert_uint_eq(r.trials, c[i].trials);
		ck_assert_uint_eq(r.tag, obfs2_vectors[0].tag);
	}
	/* The right one last: every other is tried once before it. */
	memset(secrets[3], 0x55, SECRET_LEN);
	memcpy(secrets[0], secrets[1], SECRET_LEN);
	memset(secrets[1], 0x66, SECRET_LEN);
	for (i = 1; i < 4; i++) {
		ck_assert_int_eq(obfs2_parse_from(wire, SECRETS(secrets), 4,
		    i, &r), 0);
		ck_assert_int_eq(r.secret_index, 0);
		ck_assert_uint_eq(r.trials, 2);
	}
	ck_assert_int_eq(obfs2_parse_from(wire, SECRETS(secrets + 1), 3, 1,
	    &r), OBFS2_ERR_NOMATCH);
}
END_TEST

/* A header whose decrypted tag is not one of the three. */
START_TEST(bad_tag)
{
	uint8_t secret[1][SECRET_LEN], wire[64];
	struct obfs2_result r;

	itest_unhex(obfs2_vectors[0].secret, secret[0], SECRET_LEN);
	itest_unhex(obfs2_vectors[0].header_wire, wire, sizeof(wire));
	wire[OBFS2_TAG_OFF + 3] ^= 0x01;
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secret), 1, &r),
	    OBFS2_ERR_NOMATCH);
	/* The DC bytes and the trailer are not checked. */
	itest_unhex(obfs2_vectors[0].header_wire, wire, sizeof(wire));
	wire[OBFS2_DC_OFF] ^= 0x01;
	wire[63] ^= 0xff;
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secret), 1, &r), 0);
	ck_assert_int_eq(r.dc, 3);
}
END_TEST

struct forbidden_case {
	uint8_t b[8];
	int forbidden;
};

static const struct forbidden_case forbidden_cases[] = {
	{ { 0xef, 0x00, 0x00, 0x00, 1, 2, 3, 4 }, 1 },
	{ { 0xef, 0x12, 0x34, 0x56, 1, 2, 3, 4 }, 1 },
	{ { 'H', 'E', 'A', 'D', 1, 2, 3, 4 }, 1 },
	{ { 'P', 'O', 'S', 'T', 1, 2, 3, 4 }, 1 },
	{ { 'G', 'E', 'T', ' ', 1, 2, 3, 4 }, 1 },
	{ { 'O', 'P', 'T', 'I', 1, 2, 3, 4 }, 1 },
	{ { 0xee, 0xee, 0xee, 0xee, 1, 2, 3, 4 }, 1 },
	{ { 0xdd, 0xdd, 0xdd, 0xdd, 1, 2, 3, 4 }, 1 },
	{ { 0x16, 0x03, 0x01, 0x02, 1, 2, 3, 4 }, 1 },
	{ { 0x42, 0x42, 0x42, 0x42, 0, 0, 0, 0 }, 1 },
	/* Near misses stay allowed. */
	{ { 0x42, 0x42, 0x42, 0x42, 0, 0, 0, 1 }, 0 },
	{ { 0x42, 0x42, 0x42, 0x42, 1, 0, 0, 0 }, 0 },
	{ { 0xee, 0xee, 0xee, 0xef, 1, 2, 3, 4 }, 0 },
	{ { 0xdd, 0xdd, 0xdd, 0xde, 1, 2, 3, 4 }, 0 },
	{ { 0x16, 0x03, 0x01, 0x03, 1, 2, 3, 4 }, 0 },
	{ { 'G', 'E', 'T', '/', 1, 2, 3, 4 }, 0 },
	{ { 'h', 'e', 'a', 'd', 1, 2, 3, 4 }, 0 },
	{ { 0xfe, 0xef, 0xef, 0xef, 1, 2, 3, 4 }, 0 },
};
#define NFORBIDDEN	(sizeof(forbidden_cases) / sizeof(forbidden_cases[0]))

START_TEST(forbidden_first_bytes)
{
	const struct forbidden_case *fc = &forbidden_cases[_i];
	uint8_t rnd[64], wire[64], secret[SECRET_LEN] = { 1 }, fast[48] = { 0 };
	struct obfs2_keys k;
	int want = fc->forbidden ? OBFS2_ERR_RETRY : 0;

	itest_unhex(obfs2_vectors[0].header_plain, rnd, sizeof(rnd));
	memcpy(rnd, fc->b, sizeof(fc->b));
	ck_assert_int_eq(obfs2_header_forbidden(rnd), fc->forbidden);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, secret, NULL,
	    NULL, wire, &k), want);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, NULL, NULL,
	    NULL, wire, &k), want);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, NULL, fast,
	    fast + 32, wire, &k), want);
}
END_TEST

/*
 * doc/PROTOCOL.md 1.5 fast mode: the DC's write cipher must be the proxy's
 * proxy->client cipher, so DC->client bytes pass through untouched.
 */
START_TEST(fast_mode)
{
	uint8_t fkey[32], fiv[16], rnd[64], wire[64], rev[48];
	uint8_t msg[40], a[40], b[40];
	struct obfs2_keys k;
	struct obfs2_result r;
	crypto_ctr *c;
	size_t i;

	ck_assert_int_eq(crypto_random(fkey, sizeof(fkey)), 0);
	ck_assert_int_eq(crypto_random(fiv, sizeof(fiv)), 0);
	ck_assert_int_eq(crypto_random(msg, sizeof(msg)), 0);
	random_header(rnd);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_INTERMEDIATE, 4, NULL,
	    fkey, fiv, wire, &k), 0);
	ck_assert_mem_eq(k.rkey, fkey, 32);
	ck_assert_mem_eq(k.riv, fiv, 16);
	/* Seed on the wire is reverse(fast_key || fast_iv); 0..7 untouched. */
	for (i = 0; i < 32; i++)
		rev[47 - i] = fkey[i];
	for (i = 0; i < 16; i++)
		rev[15 - i] = fiv[i];
	ck_assert_mem_eq(wire + OBFS2_KEY_OFF, rev, sizeof(rev));
	ck_assert_mem_eq(wire, rnd, OBFS2_KEY_OFF);

	ck_assert_int_eq(obfs2_parse(wire, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.tag, PROTO_TAG_INTERMEDIATE);
	ck_assert_int_eq(r.dc, 4);
	assert_mirrored(&k, &r.keys);
	ck_assert_mem_eq(r.keys.wkey, fkey, 32);
	ck_assert_mem_eq(r.keys.wiv, fiv, 16);

	/* Same bytes on the wire from the DC and towards the client. */
	ck_assert_int_eq(crypto_ctr_new(&c, r.keys.wkey, r.keys.wiv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, msg, a, sizeof(msg)), 0);
	crypto_ctr_free(c);
	ck_assert_int_eq(crypto_ctr_new(&c, fkey, fiv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, msg, b, sizeof(msg)), 0);
	crypto_ctr_free(c);
	ck_assert_mem_eq(a, b, sizeof(a));
}
END_TEST

START_TEST(build_args)
{
	uint8_t rnd[64], wire[64], key[32] = { 0 }, iv[16] = { 0 };
	uint8_t secret[SECRET_LEN] = { 0 };
	struct obfs2_keys k;

	itest_unhex(obfs2_vectors[0].header_plain, rnd, sizeof(rnd));
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, secret, key,
	    iv, wire, &k), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, NULL, key,
	    NULL, wire, &k), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, NULL, NULL,
	    iv, wire, &k), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_build(rnd, 0x12345678, 2, NULL, NULL, NULL,
	    wire, &k), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_build(NULL, PROTO_TAG_ABRIDGED, 2, NULL, NULL,
	    NULL, wire, &k), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, NULL, NULL,
	    NULL, NULL, &k), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_build(rnd, PROTO_TAG_ABRIDGED, 2, NULL, NULL,
	    NULL, wire, NULL), OBFS2_ERR_ARG);
}
END_TEST

START_TEST(parse_args)
{
	uint8_t wire[64];
	struct obfs2_result r;

	itest_unhex(obfs2_vectors[3].header_wire, wire, sizeof(wire));
	ck_assert_int_eq(obfs2_parse(NULL, NULL, 0, &r), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_parse(wire, NULL, 0, NULL), OBFS2_ERR_ARG);
	ck_assert_int_eq(obfs2_parse(wire, NULL, 1, &r), OBFS2_ERR_ARG);
}
END_TEST

START_TEST(tag_valid)
{
	ck_assert_int_eq(obfs2_tag_valid(PROTO_TAG_ABRIDGED), 1);
	ck_assert_int_eq(obfs2_tag_valid(PROTO_TAG_INTERMEDIATE), 1);
	ck_assert_int_eq(obfs2_tag_valid(PROTO_TAG_PADDED), 1);
	ck_assert_int_eq(obfs2_tag_valid(0), 0);
	ck_assert_int_eq(obfs2_tag_valid(0xefefefee), 0);
	ck_assert_int_eq(obfs2_tag_valid(0x02010316), 0);
}
END_TEST

static Suite *
obfs2_suite(void)
{
	Suite *s = suite_create("obfs2");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, parse_vector, 0, NVECTORS);
	tcase_add_loop_test(tc, build_vector, 0, NVECTORS);
	tcase_add_loop_test(tc, payload_vector, 0, NPAYLOAD);
	tcase_add_test(tc, roundtrip_secret_list);
	tcase_add_test(tc, roundtrip_no_secret);
	tcase_add_test(tc, roundtrip_stream);
	tcase_add_test(tc, wrong_secret);
	tcase_add_test(tc, parse_from_order);
	tcase_add_test(tc, bad_tag);
	tcase_add_loop_test(tc, forbidden_first_bytes, 0, NFORBIDDEN);
	tcase_add_test(tc, fast_mode);
	tcase_add_test(tc, build_args);
	tcase_add_test(tc, parse_args);
	tcase_add_test(tc, tag_valid);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return obfs2_suite();
}
