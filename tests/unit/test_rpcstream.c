/*
 * The encrypted middle-proxy stream (rpcstream): the daemon's codec and
 * the harness's reference codec plugged into it write the same bytes, and
 * either reads the other's, however the ciphertext is cut.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "crypto.h"
#include "proto.h"
#include "ref.h"
#include "rpcstream.h"

#define NFRAMES		3
#define STREAM_MAX	256

static const uint8_t key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t iv[16] = { 0xa0, 0xa1, 0xa2, 0xa3 };
/* Frames of 16, 20 and 40 bytes: no padding, three words, two words. */
static const size_t plens[NFRAMES] = { 4, 8, 28 };

/* A cipher of the codec: the daemon's crypto_cbc or ref.c's EVP context. */
static void *
cipher_new(const struct rpcstream_ops *ops, int encrypt)
{
	crypto_cbc *c = NULL;
	EVP_CIPHER_CTX *e = NULL;

	if (ops == rpcstream_ops_daemon()) {
		ck_assert_int_eq(crypto_cbc_new(&c, encrypt, key, iv), 0);
		return c;
	}
	ck_assert_int_eq(ref_cbc_new(encrypt, key, iv, &e), 0);
	return e;
}

static void
cipher_free(const struct rpcstream_ops *ops, void *c)
{
	if (ops == rpcstream_ops_daemon())
		crypto_cbc_free(c);
	else
		EVP_CIPHER_CTX_free(c);
}

static void
payload(size_t i, uint8_t *p)
{
	size_t k;

	for (k = 0; k < plens[i]; k++)
		p[k] = (uint8_t)(i * 31 + k);
}

/* NFRAMES frames from seq 0 with crc, through ops; *n: stream bytes. */
static void
write_stream(const struct rpcstream_ops *ops, enum rpc_crc crc, uint8_t *s,
    size_t *n)
{
	struct rpcstream_out out = { ops, cipher_new(ops, 1), crc, 0 };
	uint8_t buf[64];
	size_t i, len;

	*n = 0;
	for (i = 0; i < NFRAMES; i++) {
		ck_assert_uint_le(rpcstream_room(plens[i]), sizeof(buf));
		payload(i, buf + RPCSTREAM_PAYLOAD_OFF);
		ck_assert_int_eq(rpcstream_put(&out, buf, sizeof(buf),
		    plens[i], &len), 0);
		ck_assert_uint_eq(len % RPC_CBC_BLOCK, 0);
		memcpy(s + *n, buf, len);
		*n += len;
	}
	ck_assert_int_eq(out.seq, NFRAMES);
	cipher_free(ops, out.cipher);
}

/* Take every frame there is, checking each against its payload. */
static void
drain(struct rpcstream_in *in, size_t *frames)
{
	uint8_t want[64];
	const uint8_t *p;
	size_t len;
	int rc;

	while ((rc = rpcstream_in_next(in, &p, &len)) == 0) {
		ck_assert_uint_lt(*frames, NFRAMES);
		payload(*frames, want);
		ck_assert_uint_eq(len, plens[*frames]);
		ck_assert_mem_eq(p, want, len);
		++*frames;
	}
	ck_assert_int_eq(rc, RPC_NEED_MORE);
}

/* _i: bit 0 the CRC, bit 1 which codec writes. */
START_TEST(daemon_and_ref_write_the_same)
{
	enum rpc_crc crc = _i & 1 ? RPC_CRC32C : RPC_CRC32;
	uint8_t a[STREAM_MAX], b[STREAM_MAX];
	size_t na, nb;

	write_stream(rpcstream_ops_daemon(), crc, a, &na);
	write_stream(&ref_rpcstream_ops, crc, b, &nb);
	ck_assert_uint_eq(na, 16 + 32 + 48);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(a, b, na);
}
END_TEST

/* _i: bit 0 the CRC, bit 1 the writer, bit 2 the reader. */
START_TEST(split_at_every_byte)
{
	enum rpc_crc crc = _i & 1 ? RPC_CRC32C : RPC_CRC32;
	const struct rpcstream_ops *w = _i & 2 ? &ref_rpcstream_ops :
	    rpcstream_ops_daemon();
	const struct rpcstream_ops *r = _i & 4 ? &ref_rpcstream_ops :
	    rpcstream_ops_daemon();
	struct rpcstream_in in;
	uint8_t s[STREAM_MAX];
	size_t n, cut, frames;
	void *dec;

	write_stream(w, crc, s, &n);
	for (cut = 0; cut <= n; cut++) {
		frames = 0;
		dec = cipher_new(r, 0);
		rpcstream_in_init(&in, r);
		rpcstream_in_expect(&in, 0, crc);
		ck_assert_int_eq(rpcstream_in_decrypt(&in, dec), 0);
		ck_assert_int_eq(rpcstream_in_feed(&in, s, cut), 0);
		drain(&in, &frames);
		ck_assert_int_eq(frames, cut >= 96 ? 3 : cut >= 48 ? 2 :
		    cut >= 16 ? 1 : 0);
		ck_assert_int_eq(rpcstream_in_feed(&in, s + cut, n - cut), 0);
		drain(&in, &frames);
		ck_assert_int_eq(frames, NFRAMES);
		ck_assert_int_eq(in.seq, NFRAMES);
		rpcstream_in_free(&in);
		cipher_free(r, dec);
	}
}
END_TEST

/* The ciphertext that followed a plaintext nonce in one read is kept. */
START_TEST(nonce_then_ciphertext)
{
	uint8_t s[STREAM_MAX + 64], nonce[RPC_NONCE_LEN];
	struct rpcstream_in in;
	const uint8_t *p;
	size_t n, k, len, frames = 0;
	void *dec = cipher_new(rpcstream_ops_daemon(), 0);

	memset(nonce, 0x3c, sizeof(nonce));
	ck_assert_int_eq(rpc_frame_encode(RPC_SEQ_NONCE, RPC_CRC32, nonce,
	    sizeof(nonce), s, sizeof(s), &k), 0);
	write_stream(rpcstream_ops_daemon(), RPC_CRC32C, s + k, &n);
	rpcstream_in_init(&in, rpcstream_ops_daemon());
	/* The nonce and the first 5 bytes of ciphertext. */
	ck_assert_int_eq(rpcstream_in_feed(&in, s, k + 5), 0);
	ck_assert_int_eq(rpcstream_in_next(&in, &p, &len), 0);
	ck_assert_uint_eq(len, sizeof(nonce));
	ck_assert_mem_eq(p, nonce, len);
	rpcstream_in_expect(&in, 0, RPC_CRC32C);
	ck_assert_int_eq(rpcstream_in_decrypt(&in, dec), 0);
	ck_assert_int_eq(rpcstream_in_decrypt(&in, dec), RPC_ERR_ARG);
	ck_assert_int_eq(rpcstream_in_feed(&in, s + k + 5, n - 5), 0);
	drain(&in, &frames);
	ck_assert_int_eq(frames, NFRAMES);
	rpcstream_in_free(&in);
	cipher_free(rpcstream_ops_daemon(), dec);
}
END_TEST

/*
 * _i: the reader's codec. A frame with another seq, or read with the
 * other CRC, ends the stream for good: more bytes change nothing.
 */
START_TEST(seq_and_crc_errors_stick)
{
	const struct rpcstream_ops *r = _i ? &ref_rpcstream_ops :
	    rpcstream_ops_daemon();
	static const struct { int32_t seq; enum rpc_crc crc; int rc; } c[] = {
		{ 1, RPC_CRC32, RPC_ERR_SEQ },
		{ -1, RPC_CRC32, RPC_ERR_SEQ },
		{ 0, RPC_CRC32C, RPC_ERR_CRC },
	};
	struct rpcstream_in in;
	uint8_t s[STREAM_MAX];
	const uint8_t *p;
	size_t n, len, k;
	void *dec;

	write_stream(rpcstream_ops_daemon(), RPC_CRC32, s, &n);
	for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		dec = cipher_new(r, 0);
		rpcstream_in_init(&in, r);
		rpcstream_in_expect(&in, c[k].seq, c[k].crc);
		ck_assert_int_eq(rpcstream_in_decrypt(&in, dec), 0);
		ck_assert_int_eq(rpcstream_in_feed(&in, s, n), 0);
		ck_assert_int_eq(rpcstream_in_next(&in, &p, &len), c[k].rc);
		ck_assert_int_eq(rpcstream_in_feed(&in, s, n), 0);
		ck_assert_int_eq(rpcstream_in_next(&in, &p, &len), c[k].rc);
		rpcstream_in_free(&in);
		cipher_free(r, dec);
	}
}
END_TEST

/* Hand-framed bytes: padded with 04 00 00 00 words, no seq taken. */
START_TEST(encrypt_pads_without_seq)
{
	struct rpcstream_out out = { rpcstream_ops_daemon(), NULL, RPC_CRC32, 7 };
	uint8_t buf[32] = { 0x11, 0x22, 0x33, 0x44 }, plain[32];
	void *dec = cipher_new(rpcstream_ops_daemon(), 0);
	size_t len;

	ck_assert_int_eq(rpcstream_encrypt(&out, buf, 4, sizeof(buf), &len),
	    RPC_ERR_ARG);
	out.cipher = cipher_new(rpcstream_ops_daemon(), 1);
	ck_assert_int_eq(rpcstream_encrypt(&out, buf, 4, sizeof(buf), &len),
	    0);
	ck_assert_uint_eq(len, 16);
	ck_assert_int_eq(out.seq, 7);
	ck_assert_int_eq(crypto_cbc_apply(dec, buf, plain, len), 0);
	ck_assert_mem_eq(plain, "\x11\x22\x33\x44\x04\0\0\0\x04\0\0\0\x04\0\0\0",
	    16);
	cipher_free(rpcstream_ops_daemon(), out.cipher);
	cipher_free(rpcstream_ops_daemon(), dec);
}
END_TEST

static Suite *
rpcstream_suite(void)
{
	Suite *s = suite_create("rpcstream");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, daemon_and_ref_write_the_same, 0, 2);
	tcase_add_loop_test(tc, split_at_every_byte, 0, 8);
	tcase_add_test(tc, nonce_then_ciphertext);
	tcase_add_loop_test(tc, seq_and_crc_errors_stick, 0, 2);
	tcase_add_test(tc, encrypt_pads_without_seq);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return rpcstream_suite();
}
