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

struct vector {
	const char *name;
	const char *secret;		/* NULL: no secret (proxy -> DC) */
	const char *header_plain;
	const char *header_wire;
	const char *c2s_key, *c2s_iv;	/* builder -> parser */
	const char *s2c_key, *s2c_iv;	/* parser -> builder */
	uint32_t tag;
	int dc;
	const char *payload, *payload_cipher, *s2c_payload_cipher;
};

static const struct vector vectors[] = {
	{
		"client-abridged-dc2",
		"4228380141720bc776d2a628a3c65f90",
		"428e405b134f3a43072d4ca246a5212cf0c37724a539a4a2d7df5d7b6165507c"
		"7ef244087eb30e3d061ec44b246c795a15b0d879b4330472efefefef020082e2",
		"428e405b134f3a43072d4ca246a5212cf0c37724a539a4a2d7df5d7b6165507c"
		"7ef244087eb30e3d061ec44b246c795a15b0d879b4330472022e63637c7d7bfe",
		"14c46f40792fdfd7ef78e4403388b817bc85a607d9cf0c0e4c80eb4444a86b3a",
		"061ec44b246c795a15b0d879b4330472",
		"da8aa662c5298b3855c62c3e4ea9deecd07a508b581ddb2089e5b7e290a6c2bc",
		"a2a439a52477c3f02c21a546a24c2d07",
		0xefefefefu, 2,
		"99cba362bded9a10422aa6ab0a11af0c2c134866e7bbbde17467992c7f7be67b"
		"a04e519cd599ec0e",
		"19ad08e26909b2111de1056e76426435c884280b52cc067a1ff28263956b3f4a"
		"efdab08255cef67d",
		"9fdd6cbe9d382349f86297ea12b3836c8f43e8852f964a4965ca99e61481dfd1"
		"59ae4dc4678ff17b",
	},
	{
		"client-intermediate-dc-4",
		"8c221b7d9efb200bab29d966e00f8371",
		"422c903eafb827dba3b48d84d51d62cd2ec67a7cb12a399c6df3f9f818c83cdd"
		"11bfbeaab23ca89590e46a4baa68b72ea0a876cf991240e1eeeeeeeefcff6e45",
		"422c903eafb827dba3b48d84d51d62cd2ec67a7cb12a399c6df3f9f818c83cdd"
		"11bfbeaab23ca89590e46a4baa68b72ea0a876cf991240e1a0cc929daa96a7be",
		"63fce1e986eaa544c683c4aa77cc77fbbe634223cec940913bc8077fa86c0c20",
		"90e46a4baa68b72ea0a876cf991240e1",
		"143f23e064ce3a7bb9f052917aee66d0d376a318141855db135d80a2e4afdcbd",
		"9c392ab17c7ac62ecd621dd5848db4a3",
		0xeeeeeeeeu, -4,
		"05aac5427a651f435dc5d311c90703d063bfde6e9799ad7e971161182be5a853"
		"08de1a461476e11e",
		"8253d2bdd02b4ecd1096fe6a3552950f32a56b629155ae7b16f009530f35f68d"
		"446d6809e91d66d1",
		"b9ab9bd256fac171032bafa394334d474d77e175f3a0001e58d5be27732bb7c4"
		"f44953430900946c",
	},
	{
		"client-padded-dc10003",
		"0881fc71ba46a836f65a5f520a41f997",
		"423ad5260f393014cb13a11c5aaac308809bc88ded168a27f096e5de8d6926b1"
		"68b7fbdbf940ac51a23e0b76746d3e9f201b1f446bb777c8dddddddd13276d1d",
		"423ad5260f393014cb13a11c5aaac308809bc88ded168a27f096e5de8d6926b1"
		"68b7fbdbf940ac51a23e0b76746d3e9f201b1f446bb777c83945e652f2c91d5a",
		"cb8bcdd1234138febf82cf7cb7ab818375e201bf59b07fa48a346c2d33bee74b",
		"a23e0b76746d3e9f201b1f446bb777c8",
		"bb0a2e9ef859c8ad10792a17df10a81427d5c10e92cc5955aea2e24609e44b57",
		"278a16ed8dc89b8008c3aa5a1ca113cb",
		0xddddddddu, 10003,
		"754f9223b4b5304a7b8bff488e05624740a03383c9eac35fcf00d22ec6d8a732"
		"d69a2ce2c2e998e4",
		"1e555648e4e3f0b94033d6f0b0729d0a228dcd07133f6608f3f3120ec74655db"
		"96aaa6f5fe9b6737",
		"f377e400c1a00afca5abb490c8c7be23ec1668ddfcb172690f593481163ca9f5"
		"31e0ff2d66c2b308",
	},
	{
		/* The DC id is the plain header's 19 4c: mtprotoproxy leaves it random. */
		"proxy-to-dc-no-secret",
		NULL,
		"4235a58408122ed9c3443857ca2fb77f0f77ec900079cf7ddb2c9ddf69663ce5"
		"dd0d5ae51e88aaa8b89e5799b0e57391fd130c534abb2ed6eeeeeeee194c7f6a",
		"4235a58408122ed9c3443857ca2fb77f0f77ec900079cf7ddb2c9ddf69663ce5"
		"dd0d5ae51e88aaa8b89e5799b0e57391fd130c534abb2ed67ea03d3f81b201f2",
		"c3443857ca2fb77f0f77ec900079cf7ddb2c9ddf69663ce5dd0d5ae51e88aaa8",
		"b89e5799b0e57391fd130c534abb2ed6",
		"d62ebb4a530c13fd9173e5b099579eb8a8aa881ee55a0ddde53c6669df9d2cdb",
		"7dcf790090ec770f7fb72fca573844c3",
		0xeeeeeeeeu, 0x4c19,
		NULL, NULL, NULL,
	},
};
#define NVECTORS	(sizeof(vectors) / sizeof(vectors[0]))
/* ISO C before C2x adds no const to pointers to arrays by itself. */
#define SECRETS(p)	((const uint8_t (*)[SECRET_LEN])(p))
#define NPAYLOAD	3	/* the client vectors carry a payload */

START_TEST(parse_vector)
{
	const struct vector *v = &vectors[_i];
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
	const struct vector *v = &vectors[_i];
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
	const struct vector *v = &vectors[_i];
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

	itest_unhex(vectors[0].header_wire, wire, sizeof(wire));
	itest_unhex(vectors[1].secret, secrets[0], SECRET_LEN);
	itest_unhex(vectors[2].secret, secrets[1], SECRET_LEN);
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secrets), 2, &r),
	    OBFS2_ERR_NOMATCH);
	/* One flipped bit in the right secret is as wrong as any other. */
	itest_unhex(vectors[0].secret, secrets[2], SECRET_LEN);
	secrets[2][15] ^= 1;
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secrets + 2), 1, &r),
	    OBFS2_ERR_NOMATCH);
	/* A secret header read as a secret-less one. */
	ck_assert_int_eq(obfs2_parse(wire, NULL, 0, &r), OBFS2_ERR_NOMATCH);
}
END_TEST

/* A header whose decrypted tag is not one of the three. */
START_TEST(bad_tag)
{
	uint8_t secret[1][SECRET_LEN], wire[64];
	struct obfs2_result r;

	itest_unhex(vectors[0].secret, secret[0], SECRET_LEN);
	itest_unhex(vectors[0].header_wire, wire, sizeof(wire));
	wire[OBFS2_TAG_OFF + 3] ^= 0x01;
	ck_assert_int_eq(obfs2_parse(wire, SECRETS(secret), 1, &r),
	    OBFS2_ERR_NOMATCH);
	/* The DC bytes and the trailer are not checked. */
	itest_unhex(vectors[0].header_wire, wire, sizeof(wire));
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

	itest_unhex(vectors[0].header_plain, rnd, sizeof(rnd));
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

	itest_unhex(vectors[0].header_plain, rnd, sizeof(rnd));
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

	itest_unhex(vectors[3].header_wire, wire, sizeof(wire));
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
