/*
 * The harness's reference implementations (tests/harness/ref.c) against
 * the known answers of ../shared/vectors (obfs2.txt, rpc.txt, copied here)
 * and published check values: the oracle the fakes judge the daemon by is
 * itself judged by nothing from src/.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "bytes.h"
#include "ckmain.h"
#include "itest.h"
#include "ref.h"
#include "vectors_obfs2.h"

/* obfs2.txt */
#define NOBFS2	NOBFS2_VECTORS

/* rpc.txt [ipv4] and [ipv6]: same secret, nonces and time. */
static const char v_secret[] =
    "0f8896442f1165bb95e9a5a460aaebb3af3de415b5639e833bc20bd70e0cc781"
    "6c2765340362c14a5be8a78c490693f7386fc24dfff3a482f791ba62c7028034"
    "811004717a6e02be11d253007eb4ddec9cc08c94a43f6898a09332b28af9db9d"
    "6b68ded0604be9a1bc02855480963fb573970151c5762e5ff1f4ed91d4e13851";

struct rpc_vector {
	const char *srv_ip, *clt_ip;
	const char *key_client, *iv_client, *key_server, *iv_server;
};

static const struct rpc_vector rpc_vectors[] = {
	{ "149.154.175.50", "10.0.0.5",
	    "f71a7d7d91d9274d872f9e53049c34179af1761d61a5f88ae8d55f51bb457fc6",
	    "68b9bbc14cdd5e53a98109566c880b26",
	    "a34877857eaef3389fdf7ffe176cec633432b548587565e7beea68b876478030",
	    "78566bc9306b7d50bb0111a6d77569fc" },
	{ "2001:b28:f23d:f001::d", "2001:db8::5",
	    "c8d64d2143aed5160149d6772ecd8f1553e98b7f8fbc8f49379a84a5502b0326",
	    "3e860cd51047ffd9b272181260f1333a",
	    "fc7f3cec2a6ec617a65833049a5827d6b6ab39b9ab032ad90035cca157b34b3d",
	    "f165d899cec6b33658cff56c88881b1d" },
};
#define NRPC	(sizeof(rpc_vectors) / sizeof(rpc_vectors[0]))

/* rpc.txt [frame-nonce-crc32], [frame-ping-seq5-crc32c] */
static const struct {
	int32_t seq;
	enum rpc_crc crc;
	const char *payload, *frame;
} frame_vectors[] = {
	{ -2, RPC_CRC32,
	    "aa87cb7a0f88964401000000008124699e6af552380839ded1fad441ebaf4a28",
	    "2c000000feffffff"
	    "aa87cb7a0f88964401000000008124699e6af552380839ded1fad441ebaf4a28"
	    "f0b5f1dc" },
	{ 5, RPC_CRC32C, "dfa230578877665544332211",
	    "1800000005000000dfa230578877665544332211dd315b45" },
};

START_TEST(crc_check_values)
{
	uint8_t zeros[32] = { 0 };

	/* The catalogue's check input "123456789". */
	ck_assert_uint_eq(ref_crc32("123456789", 9), 0xcbf43926u);
	ck_assert_uint_eq(ref_crc32c("123456789", 9), 0xe3069283u);
	/* RFC 3720 B.4. */
	ck_assert_uint_eq(ref_crc32c(zeros, sizeof(zeros)), 0x8a9136aau);
	ck_assert_uint_eq(ref_crc32(NULL, 0), 0);
	ck_assert_uint_eq(ref_crc32c(NULL, 0), 0);
}
END_TEST

static const uint8_t *
vector_secret(const struct obfs2_vector *v, uint8_t buf[16])
{
	if (v->secret == NULL)
		return NULL;
	itest_unhex(v->secret, buf, 16);
	return buf;
}

static void
assert_keys(const struct ref_obfs2_keys *k, const struct obfs2_vector *v)
{
	itest_assert_hex(k->c2s_key, v->c2s_key);
	itest_assert_hex(k->c2s_iv, v->c2s_iv);
	itest_assert_hex(k->s2c_key, v->s2c_key);
	itest_assert_hex(k->s2c_iv, v->s2c_iv);
}

START_TEST(obfs2_build_vector)
{
	const struct obfs2_vector *v = &obfs2_vectors[_i];
	uint8_t rnd[64], wire[64], sbuf[16];
	struct ref_obfs2_keys k;

	itest_unhex(v->header_plain, rnd, sizeof(rnd));
	ck_assert_int_eq(ref_obfs2_build(rnd, v->tag, (int16_t)v->dc,
	    vector_secret(v, sbuf), wire, &k), 0);
	itest_assert_hex(wire, v->header_wire);
	assert_keys(&k, v);
}
END_TEST

START_TEST(obfs2_parse_vector)
{
	const struct obfs2_vector *v = &obfs2_vectors[_i];
	uint8_t wire[64], sbuf[16];
	struct ref_obfs2_keys k;
	uint32_t tag;
	int16_t dc;

	itest_unhex(v->header_wire, wire, sizeof(wire));
	ck_assert_int_eq(ref_obfs2_parse(wire, vector_secret(v, sbuf), &tag,
	    &dc, &k), 0);
	ck_assert_uint_eq(tag, v->tag);
	ck_assert_int_eq(dc, v->dc);
	assert_keys(&k, v);
	/* Another secret, or none where one was used: no valid tag. */
	sbuf[0] ^= 1;
	ck_assert_int_eq(ref_obfs2_parse(wire, v->secret != NULL ? sbuf :
	    (const uint8_t *)"0123456789abcdef", &tag, &dc, &k), REF_ERR_TAG);
}
END_TEST

/* c2s continues at keystream offset 64, s2c starts at 0. */
START_TEST(obfs2_payload_vector)
{
	const struct obfs2_vector *v = &obfs2_vectors[_i];
	uint8_t wire[64], sbuf[16], pt[64], buf[64];
	struct ref_obfs2_keys k;
	EVP_CIPHER_CTX *c;
	uint32_t tag;
	int16_t dc;
	size_t n;

	itest_unhex(v->header_wire, wire, sizeof(wire));
	ck_assert_int_eq(ref_obfs2_parse(wire, vector_secret(v, sbuf), &tag,
	    &dc, &k), 0);
	n = itest_unhex(v->payload, pt, sizeof(pt));
	ck_assert_int_eq(ref_ctr_new(k.c2s_key, k.c2s_iv, 64, &c), 0);
	ck_assert_int_eq(ref_cipher_apply(c, pt, buf, n), 0);
	EVP_CIPHER_CTX_free(c);
	itest_assert_hex(buf, v->payload_cipher);
	ck_assert_int_eq(ref_ctr_new(k.s2c_key, k.s2c_iv, 0, &c), 0);
	/* In place, in two pieces. */
	memcpy(buf, pt, n);
	ck_assert_int_eq(ref_cipher_apply(c, buf, buf, 7), 0);
	ck_assert_int_eq(ref_cipher_apply(c, buf + 7, buf + 7, n - 7), 0);
	EVP_CIPHER_CTX_free(c);
	itest_assert_hex(buf, v->s2c_payload_cipher);
}
END_TEST

/* 1.4: each forbidden start is refused, a neighbour of each is not. */
START_TEST(obfs2_forbidden)
{
	static const char *const bad[] = {
		"ef", "48454144", "504f5354", "47455420", "4f505449",
		"eeeeeeee", "dddddddd", "16030102",
	};
	uint8_t rnd[64], wire[64];
	struct ref_obfs2_keys k;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(rnd, 0x42, sizeof(rnd));
		itest_unhex(bad[i], rnd, sizeof(rnd));
		ck_assert_int_eq(ref_obfs2_forbidden(rnd), 1);
		ck_assert_int_eq(ref_obfs2_build(rnd, REF_TAG_PADDED, 1, NULL,
		    wire, &k), REF_ERR_RETRY);
		rnd[1] ^= 0x01;
		ck_assert_int_eq(ref_obfs2_forbidden(rnd), i == 0);
	}
	memset(rnd, 0x42, sizeof(rnd));
	memset(rnd + 4, 0, 4);
	ck_assert_int_eq(ref_obfs2_forbidden(rnd), 1);
	rnd[7] = 1;
	ck_assert_int_eq(ref_obfs2_forbidden(rnd), 0);
	ck_assert_int_eq(ref_obfs2_build(rnd, 0x12345678u, 1, NULL, wire, &k),
	    REF_ERR_ARG);
}
END_TEST

static void
assert_encode(enum frame_transport t, size_t len, int ack, const char *hex)
{
	uint8_t hdr[4], want[4];
	struct ref_frame f;
	size_t n, wn = itest_unhex(hex, want, sizeof(want));

	ck_assert_int_eq(ref_frame_encode(t, len, ack, hdr, &n), 0);
	ck_assert_uint_eq(n, wn);
	ck_assert_mem_eq(hdr, want, n);
	ck_assert_int_eq(ref_frame_decode(t, hdr, n - 1, &f), REF_NEED_MORE);
	ck_assert_int_eq(ref_frame_decode(t, hdr, n, &f), 0);
	ck_assert_uint_eq(f.hdr_len, n);
	ck_assert_uint_eq(f.len, len);
	ck_assert_int_eq(f.quickack, ack);
}

static void
assert_refused(enum frame_transport t, const char *hex)
{
	uint8_t hdr[4];
	struct ref_frame f;
	size_t n = itest_unhex(hex, hdr, sizeof(hdr));

	ck_assert_int_eq(ref_frame_decode(t, hdr, n, &f), REF_ERR_FRAME);
}

/* 2.1-2.4, byte for byte. */
START_TEST(transport_frames)
{
	uint8_t hdr[4];
	size_t n;

	assert_encode(FRAME_ABRIDGED, 4, 0, "01");
	assert_encode(FRAME_ABRIDGED, 504, 0, "7e");
	assert_encode(FRAME_ABRIDGED, 504, 1, "fe");
	assert_encode(FRAME_ABRIDGED, 508, 0, "7f7f0000");
	assert_encode(FRAME_ABRIDGED, 1044480, 1, "ff00fc03");
	assert_encode(FRAME_INTERMEDIATE, 8, 0, "08000000");
	assert_encode(FRAME_INTERMEDIATE, 8, 1, "08000080");
	assert_encode(FRAME_PADDED, 13, 0, "0d000000");
	assert_refused(FRAME_ABRIDGED, "7f7e0000");	/* overlong */
	assert_refused(FRAME_ABRIDGED, "00");
	assert_refused(FRAME_ABRIDGED, "7f01fc03");	/* over the maximum */
	assert_refused(FRAME_INTERMEDIATE, "00000000");
	assert_refused(FRAME_INTERMEDIATE, "05000000");
	assert_refused(FRAME_INTERMEDIATE, "04000040");	/* bit 30 */
	assert_refused(FRAME_PADDED, "04000fc0");
	assert_refused(FRAME_PADDED, "01f00f00");
	ck_assert_int_eq(ref_frame_encode(FRAME_INTERMEDIATE, 6, 0, hdr, &n),
	    REF_ERR_FRAME);
	ck_assert_int_eq(ref_frame_encode(FRAME_PADDED, 0, 0, hdr, &n),
	    REF_ERR_FRAME);
	ck_assert_uint_eq(ref_transport_tag(FRAME_ABRIDGED), REF_TAG_ABRIDGED);
	ck_assert_uint_eq(ref_transport_tag(FRAME_PADDED), REF_TAG_PADDED);
}
END_TEST

static void
endpoint(struct rpc_endpoint *e, const char *ip, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->v6 = strchr(ip, ':') != NULL;
	ck_assert_int_eq(inet_pton(e->v6 ? AF_INET6 : AF_INET, ip, e->ip), 1);
	e->port = port;
}

START_TEST(rpc_keys_vector)
{
	const struct rpc_vector *v = &rpc_vectors[_i];
	static uint8_t secret[128];
	struct rpc_key_input in;
	uint8_t key[32], iv[16];

	memset(&in, 0, sizeof(in));
	itest_unhex("5a13bbc5ae781523d02db05287213315", in.nonce_srv, 16);
	itest_unhex("9e6af552380839ded1fad441ebaf4a28", in.nonce_clt, 16);
	in.clt_ts = 1764000000u;
	endpoint(&in.srv, v->srv_ip, 8888);
	endpoint(&in.clt, v->clt_ip, 40000);
	in.secret = secret;
	in.secret_len = itest_unhex(v_secret, secret, sizeof(secret));
	ck_assert_int_eq(ref_rpc_keys(&in, RPC_PURPOSE_CLIENT, key, iv), 0);
	itest_assert_hex(key, v->key_client);
	itest_assert_hex(iv, v->iv_client);
	ck_assert_int_eq(ref_rpc_keys(&in, RPC_PURPOSE_SERVER, key, iv), 0);
	itest_assert_hex(key, v->key_server);
	itest_assert_hex(iv, v->iv_server);
	in.secret_len = 31;
	ck_assert_int_eq(ref_rpc_keys(&in, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
}
END_TEST

START_TEST(rpc_frame_vector)
{
	uint8_t payload[64], want[80], buf[80];
	struct rpc_frame f;
	size_t plen, flen, n;

	plen = itest_unhex(frame_vectors[_i].payload, payload, sizeof(payload));
	flen = itest_unhex(frame_vectors[_i].frame, want, sizeof(want));
	ck_assert_uint_eq(ref_rpc_frame_len(plen), flen);
	ck_assert_int_eq(ref_rpc_seal(frame_vectors[_i].seq,
	    frame_vectors[_i].crc, payload, plen, buf, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, flen);
	ck_assert_mem_eq(buf, want, flen);
	ck_assert_int_eq(ref_rpc_open(want, flen - 1, frame_vectors[_i].crc,
	    frame_vectors[_i].seq, &f), RPC_NEED_MORE);
	ck_assert_int_eq(ref_rpc_open(want, flen, frame_vectors[_i].crc,
	    frame_vectors[_i].seq, &f), 0);
	ck_assert_int_eq(f.pad, 0);
	ck_assert_uint_eq(f.consumed, flen);
	ck_assert_uint_eq(f.payload_len, plen);
	ck_assert_mem_eq(f.payload, payload, plen);
	/* The other checksum, the next seq, a flipped payload bit. */
	ck_assert_int_eq(ref_rpc_open(want, flen,
	    frame_vectors[_i].crc == RPC_CRC32 ? RPC_CRC32C : RPC_CRC32,
	    frame_vectors[_i].seq, &f), RPC_ERR_CRC);
	ck_assert_int_eq(ref_rpc_open(want, flen, frame_vectors[_i].crc,
	    frame_vectors[_i].seq + 1, &f), RPC_ERR_SEQ);
	want[9] ^= 0x10;
	ck_assert_int_eq(ref_rpc_open(want, flen, frame_vectors[_i].crc,
	    frame_vectors[_i].seq, &f), RPC_ERR_CRC);
}
END_TEST

/* 4.2: 04 00 00 00 words to the AES block, skipped by the reader. */
/*
 * Frames carry table CRCs (the fake's speed), which must equal the bitwise
 * ones for every byte value: 4 KiB of every byte value in turn, and random.
 */
START_TEST(rpc_frame_crc_is_bitwise)
{
	static const enum rpc_crc crcs[] = { RPC_CRC32, RPC_CRC32C };
	uint8_t payload[4096], frame[4096 + 64];
	uint32_t want;
	size_t i, len;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 167 + i / 256);
	if (_i == 1)
		ck_assert_int_eq(RAND_bytes(payload, sizeof(payload)), 1);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(ref_rpc_seal(7, crcs[i], payload,
		    sizeof(payload), frame, sizeof(frame), &len), 0);
		want = crcs[i] == RPC_CRC32C ? ref_crc32c(frame, len - 4) :
		    ref_crc32(frame, len - 4);
		ck_assert_uint_eq(bytes_le32(frame + len - 4), want);
	}
}
END_TEST

START_TEST(rpc_padding)
{
	uint8_t buf[48], pad[4] = { 4, 0, 0, 0 };
	struct rpc_frame f;
	size_t n;

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_int_eq(ref_rpc_pad(buf, 24, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, 32);
	ck_assert_mem_eq(buf + 24, pad, 4);
	ck_assert_mem_eq(buf + 28, pad, 4);
	ck_assert_uint_eq(buf[32], 0xaa);
	ck_assert_int_eq(ref_rpc_pad(buf, 32, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, 32);
	ck_assert_int_eq(ref_rpc_pad(buf, 36, 40, &n), RPC_ERR_ARG);
	ck_assert_int_eq(ref_rpc_open(pad, 4, RPC_CRC32, 0, &f), 0);
	ck_assert_int_eq(f.pad, 1);
	ck_assert_uint_eq(f.consumed, 4);
	memcpy(buf, "\x0c\x00\x00\x00", 4);
	ck_assert_int_eq(ref_rpc_open(buf, 16, RPC_CRC32, 0, &f),
	    RPC_ERR_FRAME_LEN);
}
END_TEST

/* NIST SP 800-38A F.2.5: one chain across calls, either direction. */
START_TEST(cbc_one_chain)
{
	uint8_t key[32], iv[16], pt[64], buf[64];
	EVP_CIPHER_CTX *enc, *dec;

	itest_unhex(
	    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	    key, 32);
	itest_unhex("000102030405060708090a0b0c0d0e0f", iv, 16);
	itest_unhex(
	    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	    pt, 64);
	ck_assert_int_eq(ref_cbc_new(1, key, iv, &enc), 0);
	ck_assert_int_eq(ref_cbc_new(0, key, iv, &dec), 0);
	ck_assert_int_eq(ref_cipher_apply(enc, pt, buf, 16), 0);
	ck_assert_int_eq(ref_cipher_apply(enc, pt + 16, buf + 16, 48), 0);
	itest_assert_hex(buf, "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d"
	    "679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fc"
	    "da6c19078c6a9d1b");
	ck_assert_int_eq(ref_cipher_apply(dec, buf, buf, 48), 0);
	ck_assert_int_eq(ref_cipher_apply(dec, buf + 48, buf + 48, 16), 0);
	ck_assert_mem_eq(buf, pt, 64);
	ck_assert_int_eq(ref_cipher_apply(enc, pt, buf, 15), REF_ERR_CRYPTO);
	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
}
END_TEST

static Suite *
ref_suite(void)
{
	Suite *s = suite_create("ref");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, crc_check_values);
	tcase_add_loop_test(tc, obfs2_build_vector, 0, NOBFS2);
	tcase_add_loop_test(tc, obfs2_parse_vector, 0, NOBFS2);
	tcase_add_loop_test(tc, obfs2_payload_vector, 0, NOBFS2 - 1);
	tcase_add_test(tc, obfs2_forbidden);
	tcase_add_test(tc, transport_frames);
	tcase_add_loop_test(tc, rpc_keys_vector, 0, NRPC);
	tcase_add_loop_test(tc, rpc_frame_vector, 0, 2);
	tcase_add_loop_test(tc, rpc_frame_crc_is_bitwise, 0, 2);
	tcase_add_test(tc, rpc_padding);
	tcase_add_test(tc, cbc_one_chain);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return ref_suite();
}
