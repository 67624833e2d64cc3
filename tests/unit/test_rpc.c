/*
 * Middle-proxy RPC codec (doc/PROTOCOL.md 4): the known answers of
 * ../shared/vectors/rpc.txt (copied here), every error branch, round trips,
 * one key derivation recomputed with the openssl command line, and both
 * CRC32C paths against the harness's bitwise reference.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckmain.h"
#include "crc.h"
#include "crypto.h"
#include "itest.h"
#include "proto.h"
#include "rpcstream.h"
#include "ref.h"
#include "rpc.h"

/* rpc.txt [ipv4] and [ipv6]: same secret, nonces and time. */
static const char v_secret[] =
    "0f8896442f1165bb95e9a5a460aaebb3af3de415b5639e833bc20bd70e0cc781"
    "6c2765340362c14a5be8a78c490693f7386fc24dfff3a482f791ba62c7028034"
    "811004717a6e02be11d253007eb4ddec9cc08c94a43f6898a09332b28af9db9d"
    "6b68ded0604be9a1bc02855480963fb573970151c5762e5ff1f4ed91d4e13851";
static const char v_nonce_srv[] = "5a13bbc5ae781523d02db05287213315";
static const char v_nonce_clt[] = "9e6af552380839ded1fad441ebaf4a28";
#define V_CLT_TS	1764000000u

struct key_vector {
	const char *srv_ip, *clt_ip;
	uint16_t srv_port, clt_port;
	const char *key_client, *iv_client, *key_server, *iv_server;
};

static const struct key_vector key_vectors[] = {
	{ "149.154.175.50", "10.0.0.5", 8888, 40000,
	    "f71a7d7d91d9274d872f9e53049c34179af1761d61a5f88ae8d55f51bb457fc6",
	    "68b9bbc14cdd5e53a98109566c880b26",
	    "a34877857eaef3389fdf7ffe176cec633432b548587565e7beea68b876478030",
	    "78566bc9306b7d50bb0111a6d77569fc" },
	{ "2001:b28:f23d:f001::d", "2001:db8::5", 8888, 40000,
	    "c8d64d2143aed5160149d6772ecd8f1553e98b7f8fbc8f49379a84a5502b0326",
	    "3e860cd51047ffd9b272181260f1333a",
	    "fc7f3cec2a6ec617a65833049a5827d6b6ab39b9ab032ad90035cca157b34b3d",
	    "f165d899cec6b33658cff56c88881b1d" },
};

/* rpc.txt [frame-nonce-crc32], [frame-ping-seq5-crc32c]. */
static const char v_nonce_payload[] =
    "aa87cb7a0f88964401000000008124699e6af552380839ded1fad441ebaf4a28";
static const char v_nonce_frame[] =
    "2c000000feffffff"
    "aa87cb7a0f88964401000000008124699e6af552380839ded1fad441ebaf4a28"
    "f0b5f1dc";
static const char v_ping_payload[] = "dfa230578877665544332211";
static const char v_ping_frame[] =
    "1800000005000000dfa230578877665544332211dd315b45";

/* rpc.txt [proxy-req-abridged-adtag]. */
static const char v_ad_tag[] = "147745069625d2f412d010bc34d716a3";
static const char v_message[] =
    "250224da108d9fdfa764eac2b4296ac5049c9fdf3169dcd12bab72810481e80f"
    "62976b0232b77d4ef28ae866373dc82e5f2c69ad9c8bd64901a4c8a3bf208816";
static const char v_proxy_req[] =
    "eef1ce3608100240efcdab8967452301"
    "00000000000000000000ffffcb007107" "22c80000"
    "00000000000000000000ffffc6336401" "bb010000"
    "18000000" "ae261edb" "10147745069625d2f412d010bc34d716a3000000"
    "250224da108d9fdfa764eac2b4296ac5049c9fdf3169dcd12bab72810481e80f"
    "62976b0232b77d4ef28ae866373dc82e5f2c69ad9c8bd64901a4c8a3bf208816";

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static void
endpoint(struct rpc_endpoint *e, const char *ip, uint16_t port)
{
	memset(e, 0, sizeof(*e));
	e->v6 = strchr(ip, ':') != NULL;
	ck_assert_int_eq(inet_pton(e->v6 ? AF_INET6 : AF_INET, ip, e->ip), 1);
	e->port = port;
}

static uint8_t secret[128];

static void
key_input(struct rpc_key_input *in, const struct key_vector *v)
{
	memset(in, 0, sizeof(*in));
	itest_unhex(v_nonce_srv, in->nonce_srv, 16);
	itest_unhex(v_nonce_clt, in->nonce_clt, 16);
	in->clt_ts = V_CLT_TS;
	endpoint(&in->srv, v->srv_ip, v->srv_port);
	endpoint(&in->clt, v->clt_ip, v->clt_port);
	in->secret = secret;
	in->secret_len = itest_unhex(v_secret, secret, sizeof(secret));
}

/* --- crc */

START_TEST(crc_check_values)
{
	static const char in[] = "123456789";

	ck_assert_uint_eq(crc_crc32(0, in, 9), 0xcbf43926);
	ck_assert_uint_eq(crc_crc32c(0, in, 9), 0xe3069283);
	/* zlib convention: chaining over pieces gives the CRC of the whole. */
	ck_assert_uint_eq(crc_crc32(crc_crc32(0, in, 4), in + 4, 5),
	    0xcbf43926);
	ck_assert_uint_eq(crc_crc32c(crc_crc32c(0, in, 1), in + 1, 8),
	    0xe3069283);
	ck_assert_uint_eq(crc_crc32(0, NULL, 0), 0);
	ck_assert_uint_eq(crc_crc32c(0, NULL, 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros. */
	{
		uint8_t zeros[32] = { 0 };

		ck_assert_uint_eq(crc_crc32c(0, zeros, 32), 0x8a9136aa);
	}
}
END_TEST

/* --- crypto additions */

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
typedef uint32_t (*ref_fn)(const void *, size_t);

/*
 * Against the harness's bitwise reference (ref.c): every length 0..300 at
 * every alignment 0..7, a split computation, and a long buffer, so that
 * each table entry is used many times.
 */
static void
assert_crc(crc_fn f, ref_fn ref)
{
	static uint8_t big[1 << 20];
	uint8_t buf[600];
	size_t off, len;

	ck_assert_int_eq(crypto_random(buf, sizeof(buf)), 0);
	for (off = 0; off < 8; off++)
		for (len = 0; len <= 300; len++)
			ck_assert_uint_eq(f(0, buf + off, len),
			    ref(buf + off, len));
	ck_assert_uint_eq(f(f(0, buf, 123), buf + 123, 477),
	    ref(buf, sizeof(buf)));
	ck_assert_int_eq(crypto_random(big, sizeof(big)), 0);
	ck_assert_uint_eq(f(0, big + 3, sizeof(big) - 3),
	    ref(big + 3, sizeof(big) - 3));
}

/* What crc_crc32c picks here: SSE4.2 on most machines. */
START_TEST(crc32c_fast_path)
{
	assert_crc(crc_crc32c, ref_crc32c);
}
END_TEST

/* The table path, which nothing else runs where SSE4.2 exists. */
START_TEST(crc32c_table_path)
{
	assert_crc(crc_crc32c_table, ref_crc32c);
	/* And the switch the daemon's MTPROXYD_CRC32C=table throws. */
	crc_use_table(1);
	assert_crc(crc_crc32c, ref_crc32c);
	crc_use_table(0);
}
END_TEST

START_TEST(crc32_reference)
{
	assert_crc(crc_crc32, ref_crc32);
}
END_TEST

/*
 * crc(a || b) from crc(a), crc(b) and the shift for len(b), against the
 * reference over the whole, for every split of a random buffer (b empty
 * and a empty included) and a b of 1 MiB.
 */
START_TEST(crc_combine)
{
	static uint8_t big[(1 << 20) + 5];
	uint8_t buf[300];
	size_t k;

	ck_assert_int_eq(crypto_random(buf, sizeof(buf)), 0);
	for (k = 0; k <= sizeof(buf); k++) {
		ck_assert_uint_eq(crc_crc32c_combine(ref_crc32c(buf, k),
		    ref_crc32c(buf + k, sizeof(buf) - k),
		    crc_crc32c_shift(sizeof(buf) - k)),
		    ref_crc32c(buf, sizeof(buf)));
		ck_assert_uint_eq(crc_crc32_combine(ref_crc32(buf, k),
		    ref_crc32(buf + k, sizeof(buf) - k),
		    crc_crc32_shift(sizeof(buf) - k)),
		    ref_crc32(buf, sizeof(buf)));
	}
	ck_assert_int_eq(crypto_random(big, sizeof(big)), 0);
	ck_assert_uint_eq(crc_crc32c_combine(crc_crc32c(0, big, 5),
	    crc_crc32c(0, big + 5, 1 << 20), crc_crc32c_shift(1 << 20)),
	    ref_crc32c(big, sizeof(big)));
	ck_assert_uint_eq(crc_crc32_combine(crc_crc32(0, big, 5),
	    crc_crc32(0, big + 5, 1 << 20), crc_crc32_shift(1 << 20)),
	    ref_crc32(big, sizeof(big)));
}
END_TEST

/*
 * prepare then seal gives rpc_frame_encode's bytes, both CRCs, payloads
 * of 4 bytes to 1 MiB and any seq; a capacity short of the frame and a
 * payload not in words are refused.
 */
START_TEST(frame_prepare_seal)
{
	static const size_t lens[] = { 4, 8, 12, 100, 4096, 65532, 1 << 20 };
	static const int32_t seqs[] = { 0, 1, 77, -1, 0x7fffffff };
	enum rpc_crc crc;
	struct rpc_frame_sum sum;
	uint8_t *want, *got;
	size_t i, cap, n, m;

	cap = rpc_frame_len(1 << 20);
	want = malloc(cap);
	got = malloc(cap);
	ck_assert(want != NULL && got != NULL);
	for (crc = RPC_CRC32; crc <= RPC_CRC32C; crc++) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			ck_assert_int_eq(crypto_random(got + 8, lens[i]), 0);
			ck_assert_int_eq(rpc_frame_encode(seqs[i % 5], crc,
			    got + 8, lens[i], want, cap, &n), 0);
			ck_assert_int_eq(rpc_frame_prepare(crc, got, lens[i],
			    cap, &sum), 0);
			ck_assert_int_eq(rpc_frame_seal(&sum, seqs[i % 5], got,
			    &m), 0);
			ck_assert_uint_eq(m, n);
			ck_assert_mem_eq(got, want, n);
		}
	}
	ck_assert_int_eq(rpc_frame_prepare(RPC_CRC32C, got, 100,
	    rpc_frame_len(100) - 1, &sum), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_prepare(RPC_CRC32C, got, 102, cap, &sum),
	    RPC_ERR_ARG);
	free(want);
	free(got);
}
END_TEST

START_TEST(md5_sha1_known)
{
	uint8_t want[20], got[20];

	itest_unhex("900150983cd24fb0d6963f7d28e17f72", want, 16);
	ck_assert_int_eq(crypto_md5((const uint8_t *)"abc", 3, got), 0);
	ck_assert_mem_eq(got, want, 16);
	itest_unhex("a9993e364706816aba3e25717850c26c9cd0d89d", want, 20);
	ck_assert_int_eq(crypto_sha1((const uint8_t *)"abc", 3, got), 0);
	ck_assert_mem_eq(got, want, 20);
	itest_unhex("d41d8cd98f00b204e9800998ecf8427e", want, 16);
	ck_assert_int_eq(crypto_md5(NULL, 0, got), 0);
	ck_assert_mem_eq(got, want, 16);
	ck_assert_int_eq(crypto_md5(NULL, 1, got), CRYPTO_ERR);
	ck_assert_int_eq(crypto_sha1((const uint8_t *)"abc", 3, NULL),
	    CRYPTO_ERR);
}
END_TEST

/* NIST SP 800-38A F.2.5/F.2.6, fed in pieces: one chain per context. */
START_TEST(cbc_nist)
{
	uint8_t key[32], iv[16], pt[64], ct[64], buf[64];
	crypto_cbc *enc, *dec;

	itest_unhex(
	    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	    key, 32);
	itest_unhex("000102030405060708090a0b0c0d0e0f", iv, 16);
	itest_unhex(
	    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	    pt, 64);
	itest_unhex(
	    "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
	    "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
	    ct, 64);
	ck_assert_int_eq(crypto_cbc_new(&enc, 1, key, iv), 0);
	ck_assert_int_eq(crypto_cbc_new(&dec, 0, key, iv), 0);
	ck_assert_int_eq(crypto_cbc_apply(enc, pt, buf, 16), 0);
	ck_assert_int_eq(crypto_cbc_apply(enc, pt + 16, buf + 16, 48), 0);
	ck_assert_mem_eq(buf, ct, 64);
	/* In place, and split differently. */
	ck_assert_int_eq(crypto_cbc_apply(dec, buf, buf, 32), 0);
	ck_assert_int_eq(crypto_cbc_apply(dec, buf + 32, buf + 32, 16), 0);
	ck_assert_int_eq(crypto_cbc_apply(dec, buf + 48, buf + 48, 16), 0);
	ck_assert_mem_eq(buf, pt, 64);
	ck_assert_int_eq(crypto_cbc_apply(enc, pt, buf, 15), CRYPTO_ERR);
	ck_assert_int_eq(crypto_cbc_apply(enc, NULL, buf, 16), CRYPTO_ERR);
	ck_assert_int_eq(crypto_cbc_apply(NULL, pt, buf, 16), CRYPTO_ERR);
	ck_assert_int_eq(crypto_cbc_apply(enc, pt, buf, 0), 0);
	ck_assert_int_eq(crypto_cbc_new(NULL, 1, key, iv), CRYPTO_ERR);
	ck_assert_int_eq(crypto_cbc_new(&enc, 1, NULL, iv), CRYPTO_ERR);
	crypto_cbc_free(enc);
	crypto_cbc_free(dec);
	crypto_cbc_free(NULL);
}
END_TEST

START_TEST(cleanse)
{
	uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t z[8];

	crypto_cleanse(b, sizeof(b));
	ck_assert_mem_eq(b, z, 8);
	crypto_cleanse(NULL, 8);
}
END_TEST

/* --- frames */

START_TEST(frame_vectors)
{
	uint8_t payload[64], want[64], out[64];
	struct rpc_frame f;
	size_t plen, flen, n;

	plen = itest_unhex(v_nonce_payload, payload, sizeof(payload));
	flen = itest_unhex(v_nonce_frame, want, sizeof(want));
	ck_assert_uint_eq(rpc_frame_len(plen), flen);
	ck_assert_int_eq(rpc_frame_encode(RPC_SEQ_NONCE, RPC_CRC32, payload,
	    plen, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, flen);
	ck_assert_mem_eq(out, want, flen);
	ck_assert_int_eq(rpc_frame_decode(want, flen, RPC_CRC32,
	    RPC_SEQ_NONCE, &f), 0);
	ck_assert_int_eq(f.pad, 0);
	ck_assert_int_eq(f.seq, -2);
	ck_assert_uint_eq(f.consumed, flen);
	ck_assert_ptr_eq(f.payload, want + 8);
	ck_assert_uint_eq(f.payload_len, plen);
	ck_assert_mem_eq(f.payload, payload, plen);

	plen = itest_unhex(v_ping_payload, payload, sizeof(payload));
	flen = itest_unhex(v_ping_frame, want, sizeof(want));
	ck_assert_int_eq(rpc_frame_encode(5, RPC_CRC32C, payload, plen, out,
	    sizeof(out), &n), 0);
	ck_assert_uint_eq(n, flen);
	ck_assert_mem_eq(out, want, flen);
	ck_assert_int_eq(rpc_frame_decode(want, flen, RPC_CRC32C, 5, &f), 0);
	ck_assert_int_eq(f.seq, 5);
	ck_assert_uint_eq(f.payload_len, 12);
	ck_assert_mem_eq(f.payload, payload, 12);
	/* The same frame checked with the other CRC fails. */
	ck_assert_int_eq(rpc_frame_decode(want, flen, RPC_CRC32, 5, &f),
	    RPC_ERR_CRC);
}
END_TEST

START_TEST(frame_decode_errors)
{
	uint8_t fr[64], bad[64];
	struct rpc_frame f;
	size_t flen, i;

	flen = itest_unhex(v_ping_frame, fr, sizeof(fr));
	/* Every prefix is incomplete. */
	for (i = 0; i < flen; i++)
		ck_assert_int_eq(rpc_frame_decode(fr, i, RPC_CRC32C, 5, &f),
		    RPC_NEED_MORE);
	ck_assert_int_eq(rpc_frame_decode(NULL, 0, RPC_CRC32C, 5, &f),
	    RPC_NEED_MORE);
	/* Extra bytes after the frame are left alone. */
	memcpy(bad, fr, flen);
	memset(bad + flen, 0xee, 8);
	ck_assert_int_eq(rpc_frame_decode(bad, flen + 8, RPC_CRC32C, 5, &f),
	    0);
	ck_assert_uint_eq(f.consumed, flen);
	/* Wrong sequence number, either way. */
	ck_assert_int_eq(rpc_frame_decode(fr, flen, RPC_CRC32C, 4, &f),
	    RPC_ERR_SEQ);
	ck_assert_int_eq(rpc_frame_decode(fr, flen, RPC_CRC32C, 6, &f),
	    RPC_ERR_SEQ);
	/* Any flipped bit in seq, payload or crc breaks the CRC. */
	for (i = 4; i < flen; i++) {
		memcpy(bad, fr, flen);
		bad[i] ^= 0x01;
		ck_assert_int_eq(rpc_frame_decode(bad, flen, RPC_CRC32C, 5,
		    &f), RPC_ERR_CRC);
	}
	/* Length field: too short, unaligned, too long. */
	memcpy(bad, fr, flen);
	put32(bad, 12);
	ck_assert_int_eq(rpc_frame_decode(bad, flen, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	put32(bad, 8);
	ck_assert_int_eq(rpc_frame_decode(bad, 4, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	put32(bad, 0);
	ck_assert_int_eq(rpc_frame_decode(bad, 4, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	put32(bad, 22);
	ck_assert_int_eq(rpc_frame_decode(bad, flen, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	put32(bad, 5);
	ck_assert_int_eq(rpc_frame_decode(bad, flen, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	/* Refused from the first 4 bytes, without waiting for the rest. */
	put32(bad, RPC_FRAME_MAX_LEN + 4);
	ck_assert_int_eq(rpc_frame_decode(bad, 4, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	put32(bad, 0xfffffffc);
	ck_assert_int_eq(rpc_frame_decode(bad, 4, RPC_CRC32C, 5, &f),
	    RPC_ERR_FRAME_LEN);
	put32(bad, RPC_FRAME_MAX_LEN);
	ck_assert_int_eq(rpc_frame_decode(bad, flen, RPC_CRC32C, 5, &f),
	    RPC_NEED_MORE);
	/* Arguments. */
	ck_assert_int_eq(rpc_frame_decode(fr, flen, RPC_CRC32C, 5, NULL),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_decode(NULL, 4, RPC_CRC32C, 5, &f),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_decode(fr, flen, (enum rpc_crc)2, 5, &f),
	    RPC_ERR_ARG);
}
END_TEST

START_TEST(frame_padding_word)
{
	static const uint8_t pad[4] = { 4, 0, 0, 0 };
	struct rpc_frame f;

	memset(&f, 0xa5, sizeof(f));
	ck_assert_int_eq(rpc_frame_decode(pad, 4, RPC_CRC32, 77, &f), 0);
	ck_assert_int_eq(f.pad, 1);
	ck_assert_uint_eq(f.consumed, 4);
	ck_assert_uint_eq(f.payload_len, 0);
	ck_assert_ptr_null(f.payload);
	ck_assert_int_eq(rpc_frame_decode(pad, 3, RPC_CRC32, 77, &f),
	    RPC_NEED_MORE);
}
END_TEST

/*
 * A stream of padding, nonce frame (CRC32), padding, ping frames (CRC32C)
 * fed one byte at a time: each frame completes exactly at its last byte.
 */
START_TEST(frame_stream)
{
	uint8_t stream[256], payload[32];
	struct rpc_frame f;
	size_t len = 0, pos = 0, avail, n, plen;
	int32_t seq = RPC_SEQ_NONCE;
	int frames = 0, pads = 0, rc;

	put32(stream, 4);
	len = 4;
	len += itest_unhex(v_nonce_frame, stream + len, sizeof(stream) - len);
	put32(stream + len, 4);
	put32(stream + len + 4, 4);
	len += 8;
	plen = itest_unhex(v_ping_payload, payload, sizeof(payload));
	for (n = 0; n < 3; n++) {
		size_t out;

		ck_assert_int_eq(rpc_frame_encode((int32_t)n, RPC_CRC32C,
		    payload, plen, stream + len, sizeof(stream) - len, &out),
		    0);
		len += out;
	}
	for (avail = 1; avail <= len; avail++) {
		while ((rc = rpc_frame_decode(stream + pos, avail - pos,
		    seq == RPC_SEQ_NONCE ? RPC_CRC32 : RPC_CRC32C, seq,
		    &f)) == 0) {
			pos += f.consumed;
			if (f.pad) {
				pads++;
				continue;
			}
			ck_assert_uint_eq(pos, avail);
			frames++;
			seq = seq == RPC_SEQ_NONCE ? 0 : seq + 1;
		}
		ck_assert_int_eq(rc, RPC_NEED_MORE);
	}
	ck_assert_uint_eq(pos, len);
	ck_assert_int_eq(frames, 4);
	ck_assert_int_eq(pads, 3);
}
END_TEST

START_TEST(frame_encode_errors)
{
	uint8_t buf[64], p[16] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct rpc_frame f;
	size_t n;

	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, p, 6, buf,
	    sizeof(buf), &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, p, 0, buf,
	    sizeof(buf), &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, p, 8, buf, 19, &n),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, p,
	    RPC_FRAME_MAX_LEN, buf, sizeof(buf), &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, NULL, 8, buf,
	    sizeof(buf), &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, p, 8, NULL,
	    sizeof(buf), &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32, p, 8, buf,
	    sizeof(buf), NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_frame_encode(0, (enum rpc_crc)5, p, 8, buf,
	    sizeof(buf), &n), RPC_ERR_ARG);
	/* Exactly enough room, and a payload built in place. */
	memcpy(buf + 8, p, 8);
	ck_assert_int_eq(rpc_frame_encode(-1, RPC_CRC32C, buf + 8, 8, buf, 20,
	    &n), 0);
	ck_assert_uint_eq(n, 20);
	ck_assert_int_eq(rpc_frame_decode(buf, n, RPC_CRC32C, -1, &f), 0);
	ck_assert_mem_eq(f.payload, p, 8);
}
END_TEST

START_TEST(cbc_padding)
{
	static const size_t in[] = { 0, 4, 8, 12, 16, 20, 44, 48 };
	static const size_t want[] = { 0, 16, 16, 16, 16, 32, 48, 48 };
	uint8_t buf[64];
	size_t i, j, n;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		memset(buf, 0xaa, sizeof(buf));
		ck_assert_int_eq(rpc_cbc_pad(buf, in[i], sizeof(buf), &n), 0);
		ck_assert_uint_eq(n, want[i]);
		for (j = 0; j < in[i]; j++)
			ck_assert_uint_eq(buf[j], 0xaa);
		for (j = in[i]; j < n; j += 4) {
			static const uint8_t word[4] = { 4, 0, 0, 0 };

			ck_assert_mem_eq(buf + j, word, 4);
		}
		ck_assert_uint_eq(buf[n], 0xaa);
	}
	ck_assert_int_eq(rpc_cbc_pad(buf, 6, sizeof(buf), &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_cbc_pad(buf, 20, 31, &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_cbc_pad(buf, 20, 32, &n), 0);
	ck_assert_int_eq(rpc_cbc_pad(buf, 16, 16, &n), 0);
	ck_assert_int_eq(rpc_cbc_pad(buf, 16, 15, &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_cbc_pad(NULL, 16, 16, &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_cbc_pad(buf, 16, 16, NULL), RPC_ERR_ARG);
}
END_TEST

/* --- nonce */

static void
nonce_with(uint8_t out[64], uint32_t type, int32_t ks, int32_t schema,
    uint32_t ts)
{
	memset(out, 0x5c, 64);
	put32(out, type);
	put32(out + 4, (uint32_t)ks);
	put32(out + 8, (uint32_t)schema);
	put32(out + 12, ts);
}

START_TEST(nonce_vector)
{
	uint8_t sec[128], nonce[16], want[32], out[32];
	struct rpc_nonce n;
	int32_t ks;

	itest_unhex(v_secret, sec, sizeof(sec));
	itest_unhex(v_nonce_clt, nonce, sizeof(nonce));
	itest_unhex(v_nonce_payload, want, sizeof(want));
	ck_assert_int_eq(rpc_key_select(sec, 128, &ks), 0);
	ck_assert_int_eq(ks, 0x4496880f);
	ck_assert_int_eq(rpc_nonce_build(ks, V_CLT_TS, nonce, out), 0);
	ck_assert_mem_eq(out, want, 32);
	ck_assert_int_eq(rpc_nonce_parse(out, 32, ks, V_CLT_TS, &n), 0);
	ck_assert_int_eq(n.key_select, ks);
	ck_assert_int_eq(n.schema, 1);
	ck_assert_uint_eq(n.ts, V_CLT_TS);
	ck_assert_mem_eq(n.nonce, nonce, 16);
	/* The secret length bounds of doc/PROTOCOL.md 4.1. */
	ck_assert_int_eq(rpc_key_select(sec, 32, &ks), 0);
	ck_assert_int_eq(rpc_key_select(sec, 31, &ks), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_key_select(sec, 257, &ks), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_key_select(NULL, 32, &ks), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_key_select(sec, 32, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_nonce_build(ks, 0, NULL, out), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_nonce_build(ks, 0, nonce, NULL), RPC_ERR_ARG);
}
END_TEST

START_TEST(nonce_errors)
{
	uint8_t b[64 + 256];
	struct rpc_nonce n;
	const int32_t ks = 0x11223344;
	const uint32_t now = 1700000000;

	nonce_with(b, RPC_NONCE, ks, 1, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), 0);
	ck_assert_int_eq(rpc_nonce_parse(b, 31, ks, now, &n), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_nonce_parse(b, 3, ks, now, &n), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_nonce_parse(b, 0, ks, now, &n), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_nonce_parse(b, 36, ks, now, &n), RPC_ERR_LEN);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_nonce_parse(NULL, 32, ks, now, &n), RPC_ERR_ARG);
	/* key_select: another secret, or none. */
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks + 1, now, &n),
	    RPC_ERR_KEY_SELECT);
	nonce_with(b, RPC_NONCE, 0, 1, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, 0, now, &n),
	    RPC_ERR_KEY_SELECT);
	/* Clock: 30 s either way is fine, 31 s is not. */
	nonce_with(b, RPC_NONCE, ks, 1, now + 30);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), 0);
	nonce_with(b, RPC_NONCE, ks, 1, now - 30);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), 0);
	nonce_with(b, RPC_NONCE, ks, 1, now + 31);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n),
	    RPC_ERR_CLOCK_SKEW);
	nonce_with(b, RPC_NONCE, ks, 1, now - 31);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n),
	    RPC_ERR_CLOCK_SKEW);
	nonce_with(b, RPC_NONCE, ks, 1, 0);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n),
	    RPC_ERR_CLOCK_SKEW);
	nonce_with(b, RPC_NONCE, ks, 1, 0xffffffff);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n),
	    RPC_ERR_CLOCK_SKEW);
	/* Schemas: DH refused by name even at its real length. */
	nonce_with(b, RPC_NONCE, ks, 3, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), RPC_ERR_DH);
	ck_assert_int_eq(rpc_nonce_parse(b, sizeof(b), ks, now, &n),
	    RPC_ERR_DH);
	nonce_with(b, RPC_NONCE, ks, 0, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), RPC_ERR_SCHEMA);
	nonce_with(b, RPC_NONCE, ks, 2, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 40, ks, now, &n), RPC_ERR_SCHEMA);
	nonce_with(b, RPC_NONCE, ks, -1, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), RPC_ERR_SCHEMA);
	/* Not a nonce at all. */
	nonce_with(b, RPC_HANDSHAKE, ks, 1, now);
	ck_assert_int_eq(rpc_nonce_parse(b, 32, ks, now, &n), RPC_ERR_TYPE);
}
END_TEST

/* --- key derivation */

START_TEST(derive_vectors)
{
	const struct key_vector *v = &key_vectors[_i];
	struct rpc_key_input in;
	uint8_t key[32], iv[16], want[32];

	key_input(&in, v);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv), 0);
	itest_unhex(v->key_client, want, 32);
	ck_assert_mem_eq(key, want, 32);
	itest_unhex(v->iv_client, want, 16);
	ck_assert_mem_eq(iv, want, 16);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_SERVER, key, iv), 0);
	itest_unhex(v->key_server, want, 32);
	ck_assert_mem_eq(key, want, 32);
	itest_unhex(v->iv_server, want, 16);
	ck_assert_mem_eq(iv, want, 16);
}
END_TEST

START_TEST(derive_errors)
{
	struct rpc_key_input in;
	uint8_t key[32], iv[16];

	key_input(&in, &key_vectors[0]);
	in.secret_len = 31;
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
	in.secret_len = 257;
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
	in.secret_len = 32;
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv), 0);
	in.secret = NULL;
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
	key_input(&in, &key_vectors[0]);
	in.clt.v6 = 1;
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
	in.clt.v6 = 2;
	in.srv.v6 = 2;
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
	key_input(&in, &key_vectors[0]);
	ck_assert_int_eq(rpc_derive_keys(&in, (enum rpc_purpose)2, key, iv),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_derive_keys(NULL, RPC_PURPOSE_CLIENT, key, iv),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, NULL, iv),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, NULL),
	    RPC_ERR_ARG);
}
END_TEST

/* Hash a file with "openssl dgst"; 0 when exactly len bytes came back. */
static int
openssl_dgst(const char *alg, const char *path, uint8_t *out, size_t len)
{
	char cmd[256];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "openssl dgst -%s -binary '%s'", alg, path);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(out, 1, len, f);
	if (pclose(f) != 0 || n != len)
		return -1;
	return 0;
}

/*
 * The IPv4 derivation redone from doc/PROTOCOL.md 4.4 with different inputs:
 * s laid out here byte by byte, hashed by the openssl binary.
 */
START_TEST(derive_openssl_cli)
{
	static const uint8_t srv_ip[4] = { 127, 0, 0, 1 };
	static const uint8_t clt_ip[4] = { 192, 168, 1, 200 };
	uint8_t s[512], key[32], iv[16], md5a[16], sha[20], md5b[16];
	char dir[] = "/tmp/test_rpc.XXXXXX", path[3][64], name[8];
	struct rpc_key_input in;
	size_t n = 0, i;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		itest_skip("no openssl binary");
		return;
	}
	memset(&in, 0, sizeof(in));
	for (i = 0; i < 16; i++) {
		in.nonce_srv[i] = (uint8_t)(0x10 + i);
		in.nonce_clt[i] = (uint8_t)(0xf0 - i);
	}
	for (i = 0; i < 48; i++)
		secret[i] = (uint8_t)(i * 7 + 3);
	in.secret = secret;
	in.secret_len = 48;
	in.clt_ts = 0x01020304;
	memcpy(in.srv.ip, srv_ip, 4);
	in.srv.port = 0x22b8;		/* 8888 */
	memcpy(in.clt.ip, clt_ip, 4);
	in.clt.port = 0xc350;		/* 50000 */

	memcpy(s + n, in.nonce_srv, 16);
	n += 16;
	memcpy(s + n, in.nonce_clt, 16);
	n += 16;
	memcpy(s + n, "\x04\x03\x02\x01", 4);
	n += 4;
	memcpy(s + n, "\x01\x00\x00\x7f", 4);	/* 127.0.0.1 reversed */
	n += 4;
	memcpy(s + n, "\x50\xc3", 2);		/* clt port */
	n += 2;
	memcpy(s + n, "SERVER", 6);
	n += 6;
	memcpy(s + n, "\xc8\x01\xa8\xc0", 4);	/* 192.168.1.200 reversed */
	n += 4;
	memcpy(s + n, "\xb8\x22", 2);		/* srv port */
	n += 2;
	memcpy(s + n, secret, 48);
	n += 48;
	memcpy(s + n, in.nonce_srv, 16);
	n += 16;
	memcpy(s + n, in.nonce_clt, 16);
	n += 16;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
		itest_write_file(dir, name, s + i, n - i);
	}
	ck_assert_int_eq(openssl_dgst("md5", path[1], md5a, 16), 0);
	ck_assert_int_eq(openssl_dgst("sha1", path[0], sha, 20), 0);
	ck_assert_int_eq(openssl_dgst("md5", path[2], md5b, 16), 0);
	for (i = 0; i < 3; i++)
		unlink(path[i]);
	rmdir(dir);

	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_SERVER, key, iv), 0);
	ck_assert_mem_eq(key, md5a, 12);
	ck_assert_mem_eq(key + 12, sha, 20);
	ck_assert_mem_eq(iv, md5b, 16);
}
END_TEST

/* --- handshake */

static const struct rpc_pid pid_a = { 0x0a000005, 443, 4242, 1764000000 };
static const struct rpc_pid pid_b = { 0x959aaf32, 8888, 0, 0 };

START_TEST(handshake_bytes)
{
	uint8_t out[32], want[32];
	struct rpc_handshake h;

	ck_assert_int_eq(rpc_handshake_build(RPC_FLAG_CRC32C, &pid_a, &pid_b,
	    out), 0);
	itest_unhex("f5ee8276" "00080000"
	    "0500000a" "bb01" "9210" "00812469"
	    "32af9a95" "b822" "0000" "00000000", want, 32);
	ck_assert_mem_eq(out, want, 32);
	ck_assert_int_eq(rpc_handshake_parse(out, 32, &h), 0);
	ck_assert_uint_eq(h.flags, 0x800);
	ck_assert_mem_eq(&h.sender, &pid_a, sizeof(pid_a));
	ck_assert_mem_eq(&h.peer, &pid_b, sizeof(pid_b));
	/* Negative utime survives the round trip. */
	{
		struct rpc_pid neg = pid_a;

		neg.utime = -5;
		ck_assert_int_eq(rpc_handshake_build(0, &neg, &neg, out), 0);
		ck_assert_int_eq(rpc_handshake_parse(out, 32, &h), 0);
		ck_assert_int_eq(h.sender.utime, -5);
		ck_assert_uint_eq(h.flags, 0);
	}
}
END_TEST

START_TEST(handshake_errors)
{
	uint8_t b[40];
	struct rpc_handshake h;
	struct rpc_pid pid;
	int32_t code;

	ck_assert_int_eq(rpc_handshake_build(0x801, &pid_a, &pid_b, b),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_build(0, NULL, &pid_b, b), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_build(0, &pid_a, NULL, b), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_build(0, &pid_a, &pid_b, NULL),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_build(0x800, &pid_a, &pid_b, b), 0);
	ck_assert_int_eq(rpc_handshake_parse(b, 31, &h), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_handshake_parse(b, 2, &h), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_handshake_parse(b, 36, &h), RPC_ERR_LEN);
	ck_assert_int_eq(rpc_handshake_parse(b, 32, NULL), RPC_ERR_ARG);
	/* Each reserved low bit alone is refused. */
	for (int bit = 0; bit < 8; bit++) {
		put32(b + 4, 0x800u | 1u << bit);
		ck_assert_int_eq(rpc_handshake_parse(b, 32, &h),
		    RPC_ERR_FLAGS);
	}
	put32(b + 4, 0x100);
	ck_assert_int_eq(rpc_handshake_parse(b, 32, &h), 0);
	put32(b, RPC_NONCE);
	ck_assert_int_eq(rpc_handshake_parse(b, 32, &h), RPC_ERR_TYPE);

	/* RPC_HANDSHAKE_ERROR: refused by the handshake parser, then read. */
	put32(b, RPC_HANDSHAKE_ERROR);
	put32(b + 4, (uint32_t)-3);
	ck_assert_int_eq(rpc_handshake_parse(b, 20, &h), RPC_ERR_HANDSHAKE);
	ck_assert_int_eq(rpc_handshake_parse(b, 32, &h), RPC_ERR_HANDSHAKE);
	ck_assert_int_eq(rpc_handshake_error_parse(b, 20, &code, &pid), 0);
	ck_assert_int_eq(code, -3);
	ck_assert_mem_eq(&pid, &pid_a, sizeof(pid));
	ck_assert_int_eq(rpc_handshake_error_parse(b, 19, &code, &pid),
	    RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_handshake_error_parse(b, 24, &code, &pid),
	    RPC_ERR_LEN);
	ck_assert_int_eq(rpc_handshake_error_parse(b, 20, NULL, &pid),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_error_parse(b, 20, &code, NULL),
	    RPC_ERR_ARG);
	put32(b, RPC_HANDSHAKE);
	ck_assert_int_eq(rpc_handshake_error_parse(b, 20, &code, &pid),
	    RPC_ERR_TYPE);

	/* The builder writes what the parser reads. */
	memset(b, 0xcc, sizeof(b));
	ck_assert_int_eq(rpc_handshake_error_build(-7, &pid_b, b), 0);
	{
		uint8_t want[20];

		itest_unhex("dabe276a" "f9ffffff" "32af9a95" "b822" "0000"
		    "00000000", want, sizeof(want));
		ck_assert_mem_eq(b, want, 20);
	}
	ck_assert_uint_eq(b[20], 0xcc);
	ck_assert_int_eq(rpc_handshake_error_parse(b, 20, &code, &pid), 0);
	ck_assert_int_eq(code, -7);
	ck_assert_mem_eq(&pid, &pid_b, sizeof(pid));
	ck_assert_int_eq(rpc_handshake_error_build(1, NULL, b), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_error_build(1, &pid_b, NULL),
	    RPC_ERR_ARG);
}
END_TEST

START_TEST(handshake_check)
{
	struct rpc_handshake r;
	enum rpc_crc crc;

	memset(&r, 0, sizeof(r));
	/* An all-zero echo matches anything. */
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0x800, &crc), 0);
	r.peer = pid_a;
	r.flags = 0x800;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0x800, &crc), 0);
	ck_assert_int_eq(crc, RPC_CRC32C);
	/* CRC32C needs both sides. */
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc), 0);
	ck_assert_int_eq(crc, RPC_CRC32);
	r.flags = 0;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0x800, &crc), 0);
	ck_assert_int_eq(crc, RPC_CRC32);
	/* Each field wrong alone, and each field zero alone. */
	r.peer = pid_a;
	r.peer.ip++;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc),
	    RPC_ERR_PEER_PID);
	r.peer.ip = 0;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc), 0);
	r.peer = pid_a;
	r.peer.port++;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc),
	    RPC_ERR_PEER_PID);
	r.peer.port = 0;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc), 0);
	r.peer = pid_a;
	r.peer.pid++;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc),
	    RPC_ERR_PEER_PID);
	r.peer.pid = 0;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc), 0);
	r.peer = pid_a;
	r.peer.utime++;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc),
	    RPC_ERR_PEER_PID);
	r.peer.utime = 0;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc), 0);
	/* A reply naming the middle-end itself as our peer is not ours. */
	r.peer = pid_b;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc),
	    RPC_ERR_PEER_PID);
	r.peer = pid_a;
	r.flags = 0x801;
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, &crc),
	    RPC_ERR_FLAGS);
	ck_assert_int_eq(rpc_handshake_check(NULL, &pid_a, 0, &crc),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_check(&r, NULL, 0, &crc), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_handshake_check(&r, &pid_a, 0, NULL),
	    RPC_ERR_ARG);
}
END_TEST

/* --- keepalive */

START_TEST(ping_pong)
{
	uint8_t out[16], want[12];
	int64_t id;

	itest_unhex(v_ping_payload, want, sizeof(want));
	ck_assert_int_eq(rpc_ping_build(RPC_PING, 0x1122334455667788, out), 0);
	ck_assert_mem_eq(out, want, 12);
	ck_assert_int_eq(rpc_ping_parse(RPC_PING, out, 12, &id), 0);
	ck_assert(id == 0x1122334455667788);
	ck_assert_int_eq(rpc_ping_build(RPC_PONG, -2, out), 0);
	itest_unhex("a7ea3084feffffffffffffff", want, sizeof(want));
	ck_assert_mem_eq(out, want, 12);
	ck_assert_int_eq(rpc_ping_parse(RPC_PONG, out, 12, &id), 0);
	ck_assert(id == -2);
	ck_assert_int_eq(rpc_ping_parse(RPC_PING, out, 12, &id), RPC_ERR_TYPE);
	ck_assert_int_eq(rpc_ping_parse(RPC_PONG, out, 11, &id),
	    RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_ping_parse(RPC_PONG, out, 16, &id), RPC_ERR_LEN);
	ck_assert_int_eq(rpc_ping_parse(RPC_PONG, out, 12, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_ping_parse(RPC_NONCE, out, 12, &id),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_ping_build(RPC_NONCE, 1, out), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_ping_build(RPC_PING, 1, NULL), RPC_ERR_ARG);
}
END_TEST

/* --- TL strings */

START_TEST(tl_strings)
{
	static uint8_t src[1100], out[1200];
	static const struct {
		size_t len, total;
		uint8_t hdr[4];
		size_t hdr_len;
	} cases[] = {
		{ 0, 4, { 0 }, 1 },
		{ 1, 4, { 1 }, 1 },
		{ 3, 4, { 3 }, 1 },
		{ 4, 8, { 4 }, 1 },
		{ 16, 20, { 16 }, 1 },
		{ 253, 256, { 253 }, 1 },
		{ 254, 260, { 0xfe, 254, 0, 0 }, 4 },
		{ 256, 260, { 0xfe, 0, 1, 0 }, 4 },
		{ 1027, 1032, { 0xfe, 3, 4, 0 }, 4 },
	};
	size_t i, j, n;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + 1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0xcc, sizeof(out));
		ck_assert_uint_eq(rpc_tl_string_len(cases[i].len),
		    cases[i].total);
		ck_assert_int_eq(rpc_tl_string_put(src, cases[i].len, out,
		    cases[i].total, &n), 0);
		ck_assert_uint_eq(n, cases[i].total);
		ck_assert_mem_eq(out, cases[i].hdr, cases[i].hdr_len);
		ck_assert_mem_eq(out + cases[i].hdr_len, src, cases[i].len);
		for (j = cases[i].hdr_len + cases[i].len; j < n; j++)
			ck_assert_uint_eq(out[j], 0);
		ck_assert_uint_eq(out[n], 0xcc);
		ck_assert_int_eq(rpc_tl_string_put(src, cases[i].len, out,
		    cases[i].total - 1, &n), RPC_ERR_ARG);
	}
	ck_assert_int_eq(rpc_tl_string_put(NULL, 0, out, 4, &n), 0);
	ck_assert_int_eq(rpc_tl_string_put(NULL, 1, out, 4, &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_tl_string_put(src, 1, NULL, 4, &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_tl_string_put(src, 1, out, 4, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_tl_string_put(src, 0x1000000, out, sizeof(out),
	    &n), RPC_ERR_ARG);
}
END_TEST

/* --- RPC_PROXY_REQ */

static uint8_t req_msg[64], req_tag[16];

static void
vector_req(struct rpc_proxy_req *r)
{
	memset(r, 0, sizeof(*r));
	r->transport = FRAME_ABRIDGED;
	r->conn_id = 0x0123456789abcdef;
	endpoint(&r->client, "203.0.113.7", 51234);
	endpoint(&r->ours, "198.51.100.1", 443);
	itest_unhex(v_ad_tag, req_tag, sizeof(req_tag));
	r->ad_tag = req_tag;
	r->msg_len = itest_unhex(v_message, req_msg, sizeof(req_msg));
	r->msg = req_msg;
}

START_TEST(proxy_req_vector)
{
	uint8_t want[256], out[256];
	struct rpc_proxy_req r;
	uint32_t flags;
	size_t wlen, len, n;

	vector_req(&r);
	wlen = itest_unhex(v_proxy_req, want, sizeof(want));
	ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), 0);
	ck_assert_uint_eq(flags, 0x40021008);
	ck_assert_int_eq(rpc_proxy_req_len(&r, &len), 0);
	ck_assert_uint_eq(len, wlen);
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, wlen);
	ck_assert_mem_eq(out, want, wlen);
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, wlen - 1, &n),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, wlen, &n), 0);
}
END_TEST

START_TEST(proxy_req_flags)
{
	static const struct {
		enum frame_transport t;
		int quickack, tag, zero_key;
		uint32_t flags;
	} cases[] = {
		{ FRAME_ABRIDGED, 0, 0, 0, 0x40021000 },
		{ FRAME_INTERMEDIATE, 0, 0, 0, 0x20021000 },
		{ FRAME_PADDED, 0, 0, 0, 0x20021000 },
		{ FRAME_ABRIDGED, 0, 0, 1, 0x40021002 },
		{ FRAME_INTERMEDIATE, 0, 1, 0, 0x20021008 },
		{ FRAME_PADDED, 1, 0, 0, 0xa0021000 },
		{ FRAME_ABRIDGED, 1, 1, 1, 0xc002100a },
	};
	struct rpc_proxy_req r;
	uint32_t flags;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vector_req(&r);
		r.transport = cases[i].t;
		r.quickack = cases[i].quickack;
		r.ad_tag = cases[i].tag ? req_tag : NULL;
		if (cases[i].zero_key)
			memset(req_msg, 0, 8);
		ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), 0);
		ck_assert_uint_eq(flags, cases[i].flags);
	}
	/* One non-zero byte anywhere in auth_key_id means encrypted. */
	for (i = 0; i < 8; i++) {
		vector_req(&r);
		memset(req_msg, 0, 8);
		req_msg[i] = 1;
		ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), 0);
		ck_assert_uint_eq(flags & RPC_REQ_NOT_ENCRYPTED, 0);
	}
}
END_TEST

/* No tag: no extra section; an IPv6 client is copied as is. */
START_TEST(proxy_req_ipv6_no_tag)
{
	uint8_t out[256], want[16];
	struct rpc_proxy_req r;
	size_t n;

	vector_req(&r);
	r.ad_tag = NULL;
	r.transport = FRAME_INTERMEDIATE;
	endpoint(&r.client, "2001:db8::77", 65535);
	endpoint(&r.ours, "2001:db8::1", 8443);
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 56 + 64);
	itest_unhex("eef1ce3600100220efcdab8967452301", want, 16);
	ck_assert_mem_eq(out, want, 16);
	itest_unhex("20010db8000000000000000000000077", want, 16);
	ck_assert_mem_eq(out + 16, want, 16);
	ck_assert_mem_eq(out + 32, "\xff\xff\x00\x00", 4);
	itest_unhex("20010db8000000000000000000000001", want, 16);
	ck_assert_mem_eq(out + 36, want, 16);
	ck_assert_mem_eq(out + 52, "\xfb\x20\x00\x00", 4);
	ck_assert_mem_eq(out + 56, req_msg, 64);
}
END_TEST

START_TEST(proxy_req_errors)
{
	uint8_t out[256];
	struct rpc_proxy_req r;
	uint32_t flags;
	size_t n;

	vector_req(&r);
	r.msg_len = 62;
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, sizeof(out), &n),
	    RPC_ERR_ARG);
	r.msg_len = 4;
	ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), RPC_ERR_ARG);
	r.msg_len = FRAME_MAX_LEN + 4;
	ck_assert_int_eq(rpc_proxy_req_len(&r, &n), RPC_ERR_ARG);
	vector_req(&r);
	r.msg = NULL;
	ck_assert_int_eq(rpc_proxy_req_len(&r, &n), RPC_ERR_ARG);
	vector_req(&r);
	r.transport = (enum frame_transport)7;
	ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), RPC_ERR_ARG);
	vector_req(&r);
	r.client.v6 = 3;
	ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), RPC_ERR_ARG);
	vector_req(&r);
	ck_assert_int_eq(rpc_proxy_req_flags(NULL, &flags), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_flags(&r, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_len(&r, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_build(&r, NULL, 256, &n), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, 256, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_build(NULL, out, 256, &n),
	    RPC_ERR_ARG);
}
END_TEST

/* --- answers */

START_TEST(answers)
{
	uint8_t b[64];
	struct rpc_answer a;

	/* RPC_PROXY_ANS with 8 bytes of data. */
	itest_unhex("0dda0344" "08000000" "efcdab8967452301" "0102030405060708",
	    b, sizeof(b));
	ck_assert_int_eq(rpc_answer_parse(b, 24, &a), 0);
	ck_assert_uint_eq(a.type, RPC_PROXY_ANS);
	ck_assert_uint_eq(a.flags, 8);
	ck_assert(a.conn_id == 0x0123456789abcdefULL);
	ck_assert_ptr_eq(a.data, b + 16);
	ck_assert_uint_eq(a.data_len, 8);
	ck_assert_int_eq(rpc_answer_parse(b, 16, &a), 0);
	ck_assert_uint_eq(a.data_len, 0);
	ck_assert_int_eq(rpc_answer_parse(b, 15, &a), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_answer_parse(b, 3, &a), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_answer_parse(NULL, 0, &a), RPC_ERR_SHORT);

	/* RPC_SIMPLE_ACK. */
	itest_unhex("9b40ac3b" "0100000000000080" "78563412", b, sizeof(b));
	ck_assert_int_eq(rpc_answer_parse(b, 16, &a), 0);
	ck_assert_uint_eq(a.type, RPC_SIMPLE_ACK);
	ck_assert(a.conn_id == 0x8000000000000001ULL);
	ck_assert_uint_eq(a.confirm, 0x12345678);
	ck_assert_ptr_null(a.data);
	ck_assert_int_eq(rpc_answer_parse(b, 15, &a), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_answer_parse(b, 20, &a), RPC_ERR_LEN);

	/* RPC_CLOSE_EXT. */
	itest_unhex("a234b65e" "2a00000000000000", b, sizeof(b));
	ck_assert_int_eq(rpc_answer_parse(b, 12, &a), 0);
	ck_assert_uint_eq(a.type, RPC_CLOSE_EXT);
	ck_assert(a.conn_id == 42);
	ck_assert_int_eq(rpc_answer_parse(b, 11, &a), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_answer_parse(b, 16, &a), RPC_ERR_LEN);

	/* Anything else, including what we send ourselves. */
	put32(b, RPC_CLOSE_CONN);
	ck_assert_int_eq(rpc_answer_parse(b, 12, &a), RPC_ERR_UNKNOWN);
	put32(b, RPC_PING);
	ck_assert_int_eq(rpc_answer_parse(b, 12, &a), RPC_ERR_UNKNOWN);
	put32(b, 0);
	ck_assert_int_eq(rpc_answer_parse(b, 4, &a), RPC_ERR_UNKNOWN);
	ck_assert_int_eq(rpc_answer_parse(b, 12, NULL), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_answer_parse(NULL, 12, &a), RPC_ERR_ARG);
}
END_TEST

START_TEST(close_conn)
{
	uint8_t out[12], want[12];

	ck_assert_int_eq(rpc_close_conn_build(0x0123456789abcdef, out), 0);
	itest_unhex("5d42cf1f" "efcdab8967452301", want, sizeof(want));
	ck_assert_mem_eq(out, want, 12);
	ck_assert_int_eq(rpc_close_conn_build(1, NULL), RPC_ERR_ARG);
}
END_TEST

/* --- the middle-end's side: RPC_PROXY_REQ and RPC_CLOSE_CONN in */

START_TEST(tl_string_get)
{
	static const size_t lens[] = { 0, 1, 3, 4, 16, 253, 254, 256, 1027 };
	static uint8_t src[1100], out[1200];
	const uint8_t *str;
	size_t i, n, len, used;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ck_assert_int_eq(rpc_tl_string_put(src, lens[i], out,
		    sizeof(out), &n), 0);
		ck_assert_int_eq(rpc_tl_string_get(out, sizeof(out), &str,
		    &len, &used), 0);
		ck_assert_uint_eq(len, lens[i]);
		ck_assert_uint_eq(used, n);
		ck_assert_ptr_eq(str, out + (lens[i] <= 253 ? 1 : 4));
		ck_assert_mem_eq(str, src, lens[i]);
		/* One byte short of its padding. */
		ck_assert_int_eq(rpc_tl_string_get(out, n - 1, &str, &len,
		    &used), RPC_ERR_SHORT);
	}
	/* The long form may carry a short length. */
	itest_unhex("fe050000" "6162636465000000", out, sizeof(out));
	ck_assert_int_eq(rpc_tl_string_get(out, 12, &str, &len, &used), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(used, 12);
	ck_assert_mem_eq(str, "abcde", 5);
	out[0] = 0xff;
	ck_assert_int_eq(rpc_tl_string_get(out, 12, &str, &len, &used),
	    RPC_ERR_MALFORMED);
	ck_assert_int_eq(rpc_tl_string_get(out, 3, &str, &len, &used),
	    RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_tl_string_get(NULL, 0, &str, &len, &used),
	    RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_tl_string_get(NULL, 4, &str, &len, &used),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_tl_string_get(out, 4, NULL, &len, &used),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_tl_string_get(out, 4, &str, NULL, &used),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_tl_string_get(out, 4, &str, &len, NULL),
	    RPC_ERR_ARG);
}
END_TEST

START_TEST(proxy_req_parse_vector)
{
	uint8_t b[256], ip[4];
	struct rpc_proxy_req req;
	struct rpc_proxy_req_info r;
	size_t n;

	n = itest_unhex(v_proxy_req, b, sizeof(b));
	vector_req(&req);
	ck_assert_int_eq(rpc_proxy_req_parse(b, n, &r), 0);
	ck_assert_uint_eq(r.flags, 0x40021008);
	ck_assert(r.conn_id == 0x0123456789abcdefULL);
	ck_assert_int_eq(r.client.v6, 0);
	ck_assert_int_eq(inet_pton(AF_INET, "203.0.113.7", ip), 1);
	ck_assert_mem_eq(r.client.ip, ip, 4);
	ck_assert_uint_eq(r.client.port, 51234);
	ck_assert_int_eq(r.ours.v6, 0);
	ck_assert_int_eq(inet_pton(AF_INET, "198.51.100.1", ip), 1);
	ck_assert_mem_eq(r.ours.ip, ip, 4);
	ck_assert_uint_eq(r.ours.port, 443);
	ck_assert_ptr_eq(r.ad_tag, b + 65);
	ck_assert_uint_eq(r.ad_tag_len, 16);
	ck_assert_mem_eq(r.ad_tag, req_tag, 16);
	ck_assert_ptr_eq(r.msg, b + 84);
	ck_assert_uint_eq(r.msg_len, 64);
	ck_assert_mem_eq(r.msg, req_msg, 64);
}
END_TEST

/* What rpc_proxy_req_build writes, rpc_proxy_req_parse reads back. */
START_TEST(proxy_req_parse_round_trip)
{
	static uint8_t out[FRAME_MAX_LEN + 128], big[FRAME_MAX_LEN];
	struct rpc_proxy_req r;
	struct rpc_proxy_req_info in;
	uint32_t flags;
	size_t n;
	int tag, v6;

	for (tag = 0; tag < 2; tag++)
		for (v6 = 0; v6 < 2; v6++) {
			vector_req(&r);
			r.ad_tag = tag ? req_tag : NULL;
			r.quickack = 1;
			if (v6) {
				endpoint(&r.client, "2001:db8::77", 65535);
				endpoint(&r.ours, "::1", 1);
			}
			ck_assert_int_eq(rpc_proxy_req_build(&r, out,
			    sizeof(out), &n), 0);
			ck_assert_int_eq(rpc_proxy_req_flags(&r, &flags), 0);
			ck_assert_int_eq(rpc_proxy_req_parse(out, n, &in), 0);
			ck_assert_uint_eq(in.flags, flags);
			ck_assert(in.conn_id == r.conn_id);
			ck_assert_mem_eq(&in.client, &r.client,
			    sizeof(r.client));
			ck_assert_mem_eq(&in.ours, &r.ours, sizeof(r.ours));
			ck_assert_uint_eq(in.ad_tag_len, tag ? 16 : 0);
			ck_assert(tag ? in.ad_tag != NULL : in.ad_tag == NULL);
			ck_assert_uint_eq(in.msg_len, r.msg_len);
			ck_assert_mem_eq(in.msg, r.msg, r.msg_len);
		}
	/* The largest client packet. */
	for (n = 0; n < sizeof(big); n++)
		big[n] = (uint8_t)(n * 31 + 7);
	vector_req(&r);
	r.msg = big;
	r.msg_len = sizeof(big);
	ck_assert_int_eq(rpc_proxy_req_build(&r, out, sizeof(out), &n), 0);
	ck_assert_int_eq(rpc_proxy_req_parse(out, n, &in), 0);
	ck_assert_uint_eq(in.msg_len, FRAME_MAX_LEN);
	ck_assert_mem_eq(in.msg, big, FRAME_MAX_LEN);
}
END_TEST

START_TEST(proxy_req_parse_extra)
{
	uint8_t b[512];
	struct rpc_proxy_req req;
	struct rpc_proxy_req_info r;
	size_t n, len;

	vector_req(&req);
	/* 0x4: TL_HTTP_QUERY_INFO and three strings; no ad tag. */
	itest_unhex(v_proxy_req, b, sizeof(b));
	put32(b + 4, 0x3005);
	itest_unhex("14000000" "81b35ad4" "03616263" "00000000" "07757365"
	    "722d6167", b + 56, 24);
	ck_assert_int_eq(rpc_proxy_req_parse(b, 56 + 24, &r), 0);
	ck_assert_ptr_null(r.ad_tag);
	ck_assert_uint_eq(r.msg_len, 0);
	/* 0xc: the tag first, then the HTTP info. */
	n = itest_unhex("28000000" "ae261edb"
	    "10147745069625d2f412d010bc34d716a3000000"
	    "81b35ad4" "00000000" "00000000" "00000000", b + 56, 60);
	put32(b + 4, 0x300d);
	memcpy(b + 56 + n, req_msg, 64);
	ck_assert_int_eq(rpc_proxy_req_parse(b, 56 + n + 64, &r), 0);
	ck_assert_uint_eq(r.ad_tag_len, 16);
	ck_assert_mem_eq(r.ad_tag, req_tag, 16);
	ck_assert_uint_eq(r.msg_len, 64);
	ck_assert_mem_eq(r.msg, req_msg, 64);
	/* In the other order it is malformed. */
	n = itest_unhex("28000000" "81b35ad4" "00000000" "00000000" "00000000"
	    "ae261edb" "10147745069625d2f412d010bc34d716a3000000", b + 56, 60);
	ck_assert_int_eq(rpc_proxy_req_parse(b, 56 + n, &r),
	    RPC_ERR_MALFORMED);

	/* Back to the vector: extra_size at 56, the tag string at 64. */
	len = itest_unhex(v_proxy_req, b, sizeof(b));
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), 0);
	put32(b + 56, 28);		/* swallows 4 message bytes */
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 56, 26);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 56, 20);		/* the tag string overruns it */
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 56, (uint32_t)len - 59);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_SHORT);
	put32(b + 56, 0);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 56, 24);
	put32(b + 60, TL_HTTP_QUERY_INFO);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 60, TL_PROXY_TAG);
	b[64] = 0xff;
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	b[64] = 20;
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	b[64] = 12;		/* a shorter tag leaves 4 bytes over */
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	b[64] = 16;
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), 0);
	/* The flag's extra_size word itself missing. */
	ck_assert_int_eq(rpc_proxy_req_parse(b, 59, &r), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_proxy_req_parse(b, 60, &r), RPC_ERR_SHORT);
}
END_TEST

START_TEST(proxy_req_parse_errors)
{
	uint8_t b[256];
	struct rpc_proxy_req_info r;
	size_t len;

	len = itest_unhex(v_proxy_req, b, sizeof(b));
	ck_assert_int_eq(rpc_proxy_req_parse(b, len - 2, &r),
	    RPC_ERR_MALFORMED);
	ck_assert_int_eq(rpc_proxy_req_parse(b, 55, &r), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_proxy_req_parse(b, 3, &r), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_proxy_req_parse(NULL, 0, &r), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_proxy_req_parse(NULL, 8, &r), RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, NULL), RPC_ERR_ARG);
	/* Ports are u32 on the wire, u16 in fact. */
	put32(b + 32, 0x10000);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 32, 51234);
	put32(b + 52, 0x10000);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_MALFORMED);
	put32(b + 52, 443);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), 0);
	/* Not quite ::ffff: is an IPv6 address. */
	b[26] = 0xfe;
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), 0);
	ck_assert_int_eq(r.client.v6, 1);
	ck_assert_mem_eq(r.client.ip, b + 16, 16);
	put32(b, RPC_PROXY_ANS);
	ck_assert_int_eq(rpc_proxy_req_parse(b, len, &r), RPC_ERR_TYPE);
}
END_TEST

START_TEST(close_conn_parse)
{
	uint8_t b[16];
	uint64_t id;

	ck_assert_int_eq(rpc_close_conn_build(0x8877665544332211ULL, b), 0);
	ck_assert_int_eq(rpc_close_conn_parse(b, 12, &id), 0);
	ck_assert(id == 0x8877665544332211ULL);
	ck_assert_int_eq(rpc_close_conn_parse(b, 11, &id), RPC_ERR_SHORT);
	ck_assert_int_eq(rpc_close_conn_parse(b, 16, &id), RPC_ERR_LEN);
	ck_assert_int_eq(rpc_close_conn_parse(b, 12, NULL), RPC_ERR_ARG);
	put32(b, RPC_CLOSE_EXT);
	ck_assert_int_eq(rpc_close_conn_parse(b, 12, &id), RPC_ERR_TYPE);
}
END_TEST

/* Built answers: the bytes of the answers test, read back by the proxy. */
START_TEST(answer_builders)
{
	uint8_t out[64], want[64];
	struct rpc_answer a;
	size_t n;

	itest_unhex("0dda0344" "08000000" "efcdab8967452301" "0102030405060708",
	    want, sizeof(want));
	ck_assert_int_eq(rpc_proxy_ans_build(8, 0x0123456789abcdef,
	    want + 16, 8, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 24);
	ck_assert_mem_eq(out, want, 24);
	/* In place: the data already at out + 16. */
	memset(out, 0, 16);
	ck_assert_int_eq(rpc_proxy_ans_build(8, 0x0123456789abcdef,
	    out + 16, 8, out, 24, &n), 0);
	ck_assert_mem_eq(out, want, 24);
	ck_assert_int_eq(rpc_answer_parse(out, n, &a), 0);
	ck_assert_uint_eq(a.type, RPC_PROXY_ANS);
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, NULL, 0, out, 16, &n), 0);
	ck_assert_uint_eq(n, 16);
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, want, 6, out, 64, &n),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, want, 8, out, 23, &n),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, NULL, 8, out, 64, &n),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, want, 8, NULL, 64, &n),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpc_proxy_ans_build(0, 1, want, 8, out, 64, NULL),
	    RPC_ERR_ARG);

	itest_unhex(
	    "9b40ac3b" "0100000000000080" "78563412", want, sizeof(want));
	ck_assert_int_eq(rpc_simple_ack_build(0x8000000000000001ULL,
	    0x12345678, out), 0);
	ck_assert_mem_eq(out, want, 16);
	ck_assert_int_eq(rpc_answer_parse(out, 16, &a), 0);
	ck_assert_uint_eq(a.confirm, 0x12345678);
	ck_assert_int_eq(rpc_simple_ack_build(1, 2, NULL), RPC_ERR_ARG);

	itest_unhex("a234b65e" "2a00000000000000", want, sizeof(want));
	ck_assert_int_eq(rpc_close_ext_build(42, out), 0);
	ck_assert_mem_eq(out, want, 12);
	ck_assert_int_eq(rpc_answer_parse(out, 12, &a), 0);
	ck_assert_uint_eq(a.type, RPC_CLOSE_EXT);
	ck_assert_int_eq(rpc_close_ext_build(42, NULL), RPC_ERR_ARG);
}
END_TEST

/*
 * The handshake from the middle-end's side: the proxy names it by its port
 * (IP 0 for loopback); the middle-end accepts that against its own PID and
 * echoes the proxy's sender PID, which the proxy then accepts.
 */
START_TEST(handshake_server_side)
{
	const struct rpc_pid me = { 0x7f000001, 8888, 77, 1764000001 };
	const struct rpc_pid seen = { 0, 8888, 0, 0 };
	uint8_t b[32];
	struct rpc_handshake h;
	enum rpc_crc crc;

	ck_assert_int_eq(rpc_handshake_build(RPC_FLAG_CRC32C, &pid_a, &seen,
	    b), 0);
	ck_assert_int_eq(rpc_handshake_parse(b, 32, &h), 0);
	ck_assert_int_eq(rpc_handshake_check(&h, &me, RPC_FLAG_CRC32C, &crc),
	    0);
	ck_assert_int_eq(crc, RPC_CRC32C);
	/* Another middle-end's port. */
	ck_assert_int_eq(rpc_handshake_check(&h, &pid_a, RPC_FLAG_CRC32C,
	    &crc), RPC_ERR_PEER_PID);
	ck_assert_int_eq(rpc_handshake_build(RPC_FLAG_CRC32C, &me, &h.sender,
	    b), 0);
	ck_assert_int_eq(rpc_handshake_parse(b, 32, &h), 0);
	ck_assert_int_eq(rpc_handshake_check(&h, &pid_a, RPC_FLAG_CRC32C,
	    &crc), 0);
	ck_assert_int_eq(crc, RPC_CRC32C);
}
END_TEST

/* --- forwarding filter (doc/PROTOCOL.md 2.4) */

static size_t
unencrypted(uint8_t *b, size_t total, uint32_t body_len, uint32_t ctor)
{
	memset(b, 0, total);
	memset(b + 8, 0x77, 8);		/* msg_id */
	put32(b + 16, body_len);
	put32(b + 20, ctor);
	return total;
}

START_TEST(forward_filter)
{
	static const uint32_t ok[] = {
		0x60469778, 0xbe7e8ef1, 0xd712e4be, 0xf5045f1f
	};
	uint8_t b[128];
	size_t i;

	for (i = 0; i < 4; i++) {
		unencrypted(b, 40, 20, ok[i]);
		ck_assert_int_eq(rpc_forward_check(b, 40), 0);
	}
	/* body length: 20 .. total - 20. */
	unencrypted(b, 40, 19, ok[0]);
	ck_assert_int_eq(rpc_forward_check(b, 40), RPC_ERR_FILTERED);
	unencrypted(b, 40, 21, ok[0]);
	ck_assert_int_eq(rpc_forward_check(b, 40), RPC_ERR_FILTERED);
	unencrypted(b, 80, 60, ok[0]);
	ck_assert_int_eq(rpc_forward_check(b, 80), 0);
	unencrypted(b, 80, 0xffffffff, ok[0]);
	ck_assert_int_eq(rpc_forward_check(b, 80), RPC_ERR_FILTERED);
	unencrypted(b, 40, 20, 0x62d6b459);	/* msgs_ack */
	ck_assert_int_eq(rpc_forward_check(b, 40), RPC_ERR_FILTERED);
	/* Length rules. */
	unencrypted(b, 28, 20, ok[0]);
	ck_assert_int_eq(rpc_forward_check(b, 28), RPC_ERR_FILTERED);
	unencrypted(b, 44, 24, ok[0]);
	ck_assert_int_eq(rpc_forward_check(b, 44), 0);
	ck_assert_int_eq(rpc_forward_check(b, 42), RPC_ERR_FILTERED);
	ck_assert_int_eq(rpc_forward_check(b, 24), RPC_ERR_FILTERED);
	ck_assert_int_eq(rpc_forward_check(NULL, 0), RPC_ERR_FILTERED);
	ck_assert_int_eq(rpc_forward_check(NULL, 40), RPC_ERR_ARG);
	/* Encrypted: at least 56 bytes, nothing else looked at. */
	memset(b, 0xab, sizeof(b));
	ck_assert_int_eq(rpc_forward_check(b, 52), RPC_ERR_FILTERED);
	ck_assert_int_eq(rpc_forward_check(b, 56), 0);
	ck_assert_int_eq(rpc_forward_check(b, 60), 0);
	ck_assert_int_eq(rpc_forward_check(b, 58), RPC_ERR_FILTERED);
	memset(b, 0, 8);
	b[7] = 1;
	ck_assert_int_eq(rpc_forward_check(b, 56), 0);
	ck_assert_int_eq(rpc_forward_check(req_msg, 0), RPC_ERR_FILTERED);
}
END_TEST

START_TEST(strerror_distinct)
{
	const char *seen[21];
	int i, j;

	for (i = 0; i < 21; i++) {
		seen[i] = rpc_strerror(-i);
		ck_assert_str_ne(seen[i], "unknown error");
		for (j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	}
	ck_assert_str_eq(rpc_strerror(-21), "unknown error");
	ck_assert_str_eq(rpc_strerror(1), "unknown error");
}
END_TEST

/* ---- rpcstream, plaintext, with the daemon's codec ---- */

/*
 * Padding, the nonce frame (seq -2, CRC32), two padding words, the ping
 * frame (seq 5, CRC32C): the vectors above as one stream.
 */
static size_t
reader_stream(uint8_t *b, size_t cap)
{
	size_t n;

	put32(b, 4);
	n = 4 + itest_unhex(v_nonce_frame, b + 4, cap - 4);
	put32(b + n, 4);
	put32(b + n + 4, 4);
	n += 8;
	return n + itest_unhex(v_ping_frame, b + n, cap - n);
}

/* Take every frame there is; the stage after the nonce is seq 5, CRC32C. */
static void
reader_drain(struct rpcstream_in *r, int *frames)
{
	uint8_t want[64];
	const uint8_t *p;
	size_t len, n;
	int rc;

	while ((rc = rpcstream_in_next(r, &p, &len)) == 0) {
		n = itest_unhex(*frames == 0 ? v_nonce_payload : v_ping_payload,
		    want, sizeof(want));
		ck_assert_uint_eq(len, n);
		ck_assert_mem_eq(p, want, n);
		if (++*frames == 1) {
			ck_assert_int_eq(r->seq, RPC_SEQ_HANDSHAKE);
			rpcstream_in_expect(r, 5, RPC_CRC32C);
		}
	}
	ck_assert_int_eq(rc, RPC_NEED_MORE);
}

START_TEST(reader_split_everywhere)
{
	uint8_t b[128];
	struct rpcstream_in r;
	size_t n = reader_stream(b, sizeof(b)), cut;
	int frames;

	for (cut = 0; cut <= n; cut++) {
		frames = 0;
		rpcstream_in_init(&r, rpcstream_ops_daemon());
		ck_assert_int_eq(rpcstream_in_feed(&r, b, cut), 0);
		reader_drain(&r, &frames);
		ck_assert_int_eq(frames, (cut == n ? 2 : cut >= 4 + 44 ? 1 : 0));
		ck_assert_int_eq(rpcstream_in_feed(&r, b + cut, n - cut), 0);
		reader_drain(&r, &frames);
		ck_assert_int_eq(frames, 2);
		ck_assert_int_eq(r.seq, 6);
		rpcstream_in_free(&r);
	}
}
END_TEST

/* A frame bigger than the first buffer, in pieces, between small ones. */
START_TEST(reader_large_frame)
{
	size_t plen = 200000, flen = rpc_frame_len(plen), n, i;
	uint8_t *b = malloc(flen), *payload = malloc(plen), ping[64];
	struct rpcstream_in r;
	const uint8_t *p;
	size_t len;

	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(payload);
	for (i = 0; i < plen; i++)
		payload[i] = (uint8_t)(i * 13);
	ck_assert_int_eq(rpc_frame_encode(6, RPC_CRC32C, payload, plen, b,
	    flen, &n), 0);
	rpcstream_in_init(&r, rpcstream_ops_daemon());
	rpcstream_in_expect(&r, 5, RPC_CRC32C);
	ck_assert_int_eq(rpcstream_in_feed(&r, ping,
	    itest_unhex(v_ping_frame, ping, sizeof(ping))), 0);
	ck_assert_int_eq(rpcstream_in_feed(&r, b, 70000), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len),
	    RPC_NEED_MORE);
	for (i = 70000; i < flen; i += 50000)
		ck_assert_int_eq(rpcstream_in_feed(&r, b + i, i + 50000 < flen ?
		    50000 : flen - i), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len), 0);
	ck_assert_uint_eq(len, plen);
	ck_assert_mem_eq(p, payload, plen);
	ck_assert_int_eq(r.seq, 7);
	rpcstream_in_free(&r);
	free(payload);
	free(b);
}
END_TEST

START_TEST(reader_errors_stick)
{
	uint8_t b[128], bad[8];
	struct rpcstream_in r;
	const uint8_t *p;
	size_t n = reader_stream(b, sizeof(b)), len;

	/* A flipped CRC byte in the nonce frame. */
	rpcstream_in_init(&r, rpcstream_ops_daemon());
	b[4 + 44 - 1] ^= 1;
	ck_assert_int_eq(rpcstream_in_feed(&r, b, n), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len),
	    RPC_ERR_CRC);
	b[4 + 44 - 1] ^= 1;
	/* Good bytes after it change nothing. */
	ck_assert_int_eq(rpcstream_in_feed(&r, b, n), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len),
	    RPC_ERR_CRC);
	/* A reset forgets the error and the bytes. */
	rpcstream_in_reset(&r);
	ck_assert_int_eq(rpcstream_in_feed(&r, b, n), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len), 0);
	ck_assert_uint_eq(len, 32);
	/* The ping carries 5, not the -1 that follows the nonce. */
	rpcstream_in_expect(&r, RPC_SEQ_HANDSHAKE, RPC_CRC32C);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len),
	    RPC_ERR_SEQ);
	/* A length that cannot be is refused before its bytes come. */
	rpcstream_in_reset(&r);
	rpcstream_in_expect(&r, 0, RPC_CRC32);
	put32(bad, 8);
	put32(bad + 4, 0);
	ck_assert_int_eq(rpcstream_in_feed(&r, bad, 4), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len),
	    RPC_ERR_FRAME_LEN);
	rpcstream_in_reset(&r);
	rpcstream_in_expect(&r, 0, RPC_CRC32);
	put32(bad, RPC_FRAME_MAX_LEN + 4);
	ck_assert_int_eq(rpcstream_in_feed(&r, bad, 4), 0);
	ck_assert_int_eq(rpcstream_in_next(&r, &p, &len),
	    RPC_ERR_FRAME_LEN);
	ck_assert_int_eq(rpcstream_in_next(&r, NULL, &len),
	    RPC_ERR_ARG);
	ck_assert_int_eq(rpcstream_in_feed(&r, NULL, 1), RPC_ERR_ARG);
	rpcstream_in_free(&r);
}
END_TEST


/*
 * Both ends of a link built from the codec alone: the proxy's handshake and
 * a ping go through padding and one CBC chain, the middle-end side skips
 * the padding words and sees the right sequence numbers and CRCs.
 */
START_TEST(link_round_trip)
{
	struct rpc_key_input in;
	uint8_t key[32], iv[16], wire[256], payload[32];
	crypto_cbc *enc, *dec;
	struct rpc_handshake h;
	struct rpc_frame f;
	size_t len = 0, n, pos = 0;
	int64_t id;

	key_input(&in, &key_vectors[0]);
	ck_assert_int_eq(rpc_derive_keys(&in, RPC_PURPOSE_CLIENT, key, iv), 0);
	ck_assert_int_eq(crypto_cbc_new(&enc, 1, key, iv), 0);
	ck_assert_int_eq(crypto_cbc_new(&dec, 0, key, iv), 0);

	/* Proxy side: handshake (CRC32, seq -1), then ping (CRC32C, 0). */
	ck_assert_int_eq(rpc_handshake_build(RPC_FLAG_CRC32C, &pid_a, &pid_b,
	    payload), 0);
	ck_assert_int_eq(rpc_frame_encode(RPC_SEQ_HANDSHAKE, RPC_CRC32,
	    payload, 32, wire, sizeof(wire), &n), 0);
	ck_assert_int_eq(rpc_cbc_pad(wire, n, sizeof(wire), &len), 0);
	ck_assert_uint_eq(len, 48);
	ck_assert_int_eq(rpc_ping_build(RPC_PING, 99, payload), 0);
	ck_assert_int_eq(rpc_frame_encode(0, RPC_CRC32C, payload, 12,
	    wire + len, sizeof(wire) - len, &n), 0);
	ck_assert_int_eq(rpc_cbc_pad(wire + len, n, sizeof(wire) - len, &n),
	    0);
	len += n;
	ck_assert_int_eq(crypto_cbc_apply(enc, wire, wire, 48), 0);
	ck_assert_int_eq(crypto_cbc_apply(enc, wire + 48, wire + 48,
	    len - 48), 0);

	/* Middle-end side. */
	ck_assert_int_eq(crypto_cbc_apply(dec, wire, wire, len), 0);
	ck_assert_int_eq(rpc_frame_decode(wire, len, RPC_CRC32,
	    RPC_SEQ_HANDSHAKE, &f), 0);
	ck_assert_int_eq(rpc_handshake_parse(f.payload, f.payload_len, &h), 0);
	ck_assert_mem_eq(&h.sender, &pid_a, sizeof(pid_a));
	pos = f.consumed;
	ck_assert_uint_eq(pos, 44);
	ck_assert_int_eq(rpc_frame_decode(wire + pos, len - pos, RPC_CRC32C,
	    0, &f), 0);
	ck_assert_int_eq(f.pad, 1);
	pos += f.consumed;
	ck_assert_int_eq(rpc_frame_decode(wire + pos, len - pos, RPC_CRC32C,
	    0, &f), 0);
	ck_assert_int_eq(f.pad, 0);
	ck_assert_int_eq(rpc_ping_parse(RPC_PING, f.payload, f.payload_len,
	    &id), 0);
	ck_assert(id == 99);
	pos += f.consumed;
	for (; pos < len; pos += 4) {
		ck_assert_int_eq(rpc_frame_decode(wire + pos, len - pos,
		    RPC_CRC32C, 1, &f), 0);
		ck_assert_int_eq(f.pad, 1);
	}
	ck_assert_uint_eq(pos, len);
	crypto_cbc_free(enc);
	crypto_cbc_free(dec);
}
END_TEST

static Suite *
rpc_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, crc_check_values);
	tcase_add_test(tc, crc32c_fast_path);
	tcase_add_test(tc, crc32c_table_path);
	tcase_add_test(tc, crc32_reference);
	tcase_add_test(tc, crc_combine);
	tcase_add_test(tc, frame_prepare_seal);
	tcase_add_test(tc, md5_sha1_known);
	tcase_add_test(tc, cbc_nist);
	tcase_add_test(tc, cleanse);
	tcase_add_test(tc, frame_vectors);
	tcase_add_test(tc, frame_decode_errors);
	tcase_add_test(tc, frame_padding_word);
	tcase_add_test(tc, frame_stream);
	tcase_add_test(tc, frame_encode_errors);
	tcase_add_test(tc, cbc_padding);
	tcase_add_test(tc, nonce_vector);
	tcase_add_test(tc, nonce_errors);
	tcase_add_loop_test(tc, derive_vectors, 0,
	    sizeof(key_vectors) / sizeof(key_vectors[0]));
	tcase_add_test(tc, derive_errors);
	tcase_add_test(tc, derive_openssl_cli);
	tcase_add_test(tc, handshake_bytes);
	tcase_add_test(tc, handshake_errors);
	tcase_add_test(tc, handshake_check);
	tcase_add_test(tc, ping_pong);
	tcase_add_test(tc, tl_strings);
	tcase_add_test(tc, proxy_req_vector);
	tcase_add_test(tc, proxy_req_flags);
	tcase_add_test(tc, proxy_req_ipv6_no_tag);
	tcase_add_test(tc, proxy_req_errors);
	tcase_add_test(tc, answers);
	tcase_add_test(tc, close_conn);
	tcase_add_test(tc, tl_string_get);
	tcase_add_test(tc, proxy_req_parse_vector);
	tcase_add_test(tc, proxy_req_parse_round_trip);
	tcase_add_test(tc, proxy_req_parse_extra);
	tcase_add_test(tc, proxy_req_parse_errors);
	tcase_add_test(tc, close_conn_parse);
	tcase_add_test(tc, answer_builders);
	tcase_add_test(tc, handshake_server_side);
	tcase_add_test(tc, forward_filter);
	tcase_add_test(tc, strerror_distinct);
	tcase_add_test(tc, link_round_trip);
	tcase_add_test(tc, reader_split_everywhere);
	tcase_add_test(tc, reader_large_frame);
	tcase_add_test(tc, reader_errors_stick);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return rpc_suite();
}
