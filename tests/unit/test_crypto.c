/* Known answers and keystream properties of the libcrypto wrappers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "crypto.h"
#include "itest.h"

START_TEST(sha256_abc)
{
	uint8_t want[32], got[32];

	itest_unhex(
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    want, sizeof(want));
	ck_assert_int_eq(crypto_sha256((const uint8_t *)"abc", 3, NULL, 0, got), 0);
	ck_assert_mem_eq(got, want, 32);
	/* The two-part form hashes the concatenation. */
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(crypto_sha256((const uint8_t *)"ab", 2,
	    (const uint8_t *)"c", 1, got), 0);
	ck_assert_mem_eq(got, want, 32);
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(crypto_sha256(NULL, 0, (const uint8_t *)"abc", 3, got), 0);
	ck_assert_mem_eq(got, want, 32);
}
END_TEST

START_TEST(sha256_empty)
{
	uint8_t want[32], got[32];

	itest_unhex(
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    want, sizeof(want));
	ck_assert_int_eq(crypto_sha256(NULL, 0, NULL, 0, got), 0);
	ck_assert_mem_eq(got, want, 32);
	ck_assert_int_eq(crypto_sha256(NULL, 3, NULL, 0, got), CRYPTO_ERR);
	ck_assert_int_eq(crypto_sha256(NULL, 0, NULL, 0, NULL), CRYPTO_ERR);
}
END_TEST

/* RFC 4231 test cases 1 and 2. */
START_TEST(hmac_rfc4231)
{
	static const char msg1[] = "Hi There";
	static const char msg2[] = "what do ya want for nothing?";
	uint8_t key1[20], want[32], got[32];

	memset(key1, 0x0b, sizeof(key1));
	itest_unhex(
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	    want, sizeof(want));
	ck_assert_int_eq(crypto_hmac_sha256(key1, sizeof(key1),
	    (const uint8_t *)msg1, strlen(msg1), got), 0);
	ck_assert_mem_eq(got, want, 32);

	itest_unhex(
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    want, sizeof(want));
	ck_assert_int_eq(crypto_hmac_sha256((const uint8_t *)"Jefe", 4,
	    (const uint8_t *)msg2, strlen(msg2), got), 0);
	ck_assert_mem_eq(got, want, 32);
}
END_TEST

/*
 * One context, key after key: RFC 4231 cases 2 and 1 in turn, twice (the
 * second key must replace the first, not add to it), and the arguments.
 */
START_TEST(hmac_context)
{
	static const char msg1[] = "Hi There";
	static const char msg2[] = "what do ya want for nothing?";
	uint8_t key1[20], want1[32], want2[32], got[32];
	crypto_hmac *c = NULL;
	int i;

	memset(key1, 0x0b, sizeof(key1));
	itest_unhex(
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
	    want1, sizeof(want1));
	itest_unhex(
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    want2, sizeof(want2));
	ck_assert_int_eq(crypto_hmac_new(&c), 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(crypto_hmac_run(c, (const uint8_t *)"Jefe", 4,
		    (const uint8_t *)msg2, strlen(msg2), got), 0);
		ck_assert_mem_eq(got, want2, 32);
		ck_assert_int_eq(crypto_hmac_run(c, key1, sizeof(key1),
		    (const uint8_t *)msg1, strlen(msg1), got), 0);
		ck_assert_mem_eq(got, want1, 32);
	}
	ck_assert_int_eq(crypto_hmac_run(c, NULL, 0, (const uint8_t *)msg1,
	    strlen(msg1), got), CRYPTO_ERR);
	ck_assert_int_eq(crypto_hmac_run(c, key1, sizeof(key1), NULL, 1,
	    got), CRYPTO_ERR);
	ck_assert_int_eq(crypto_hmac_run(NULL, key1, sizeof(key1), NULL, 0,
	    got), CRYPTO_ERR);
	crypto_hmac_free(c);
	crypto_hmac_free(NULL);
	ck_assert_int_eq(crypto_hmac_new(NULL), CRYPTO_ERR);
}
END_TEST

START_TEST(hmac_empty)
{
	uint8_t want[32], got[32];

	/* HMAC-SHA256 with an empty key over an empty message. */
	itest_unhex(
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad",
	    want, sizeof(want));
	ck_assert_int_eq(crypto_hmac_sha256(NULL, 0, NULL, 0, got), 0);
	ck_assert_mem_eq(got, want, 32);
	ck_assert_int_eq(crypto_hmac_sha256(NULL, 1, NULL, 0, got), CRYPTO_ERR);
}
END_TEST

/* NIST SP 800-38A F.5.5, CTR-AES256.Encrypt. */
START_TEST(ctr_nist)
{
	uint8_t key[32], iv[16], pt[64], want[64], got[64];
	crypto_ctr *c;

	itest_unhex(
	    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	    key, sizeof(key));
	itest_unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, sizeof(iv));
	itest_unhex(
	    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	    pt, sizeof(pt));
	itest_unhex(
	    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
	    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
	    want, sizeof(want));
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, pt, got, sizeof(pt)), 0);
	ck_assert_mem_eq(got, want, 64);
	crypto_ctr_free(c);

	/* Decryption is the same operation; in place is allowed. */
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, got, got, sizeof(got)), 0);
	ck_assert_mem_eq(got, pt, 64);
	crypto_ctr_free(c);
}
END_TEST

/*
 * A context re-keyed after 13 bytes under another key and iv runs from
 * offset 0 under the new ones, as a new context would.
 */
START_TEST(ctr_rekey)
{
	uint8_t key[32], iv[16], pt[64], want[64], got[64];
	crypto_ctr *c, *fresh;

	itest_unhex(
	    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	    key, sizeof(key));
	itest_unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, sizeof(iv));
	memset(pt, 0x5c, sizeof(pt));
	ck_assert_int_eq(crypto_ctr_new(&fresh, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(fresh, pt, want, sizeof(pt)), 0);
	key[0] ^= 1;
	iv[0] ^= 0x80;
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, pt, got, 13), 0);
	key[0] ^= 1;
	iv[0] ^= 0x80;
	ck_assert_int_eq(crypto_ctr_rekey(c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, pt, got, sizeof(pt)), 0);
	ck_assert_mem_eq(got, want, sizeof(want));
	ck_assert_int_eq(crypto_ctr_rekey(c, NULL, iv), CRYPTO_ERR);
	ck_assert_int_eq(crypto_ctr_rekey(NULL, key, iv), CRYPTO_ERR);
	crypto_ctr_free(c);
	crypto_ctr_free(fresh);
}
END_TEST

/* The counter is 128-bit big-endian: all-ones wraps to zero. */
START_TEST(ctr_counter_wraps)
{
	uint8_t key[32], iv[16], a[32] = { 0 }, b[16] = { 0 };
	crypto_ctr *c;

	memset(key, 0x5a, sizeof(key));
	memset(iv, 0xff, sizeof(iv));
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, a, a, sizeof(a)), 0);
	crypto_ctr_free(c);
	memset(iv, 0, sizeof(iv));
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, b, b, sizeof(b)), 0);
	crypto_ctr_free(c);
	ck_assert_mem_eq(a + 16, b, 16);
}
END_TEST

static void
keystream(const uint8_t key[32], const uint8_t iv[16], uint8_t *out, size_t n)
{
	crypto_ctr *c;

	memset(out, 0, n);
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, out, out, n), 0);
	crypto_ctr_free(c);
}

/* Splitting a stream at any points gives the same bytes as one call. */
START_TEST(ctr_split_continuity)
{
	static const size_t cuts[] = { 1, 15, 16, 17, 3, 64, 0, 200, 7, 33 };
	uint8_t key[32], iv[16], whole[512], part[512] = { 0 };
	size_t i, off = 0;
	crypto_ctr *c;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < 16; i++)
		iv[i] = (uint8_t)(0xf0 + i);
	keystream(key, iv, whole, sizeof(whole));
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		ck_assert_int_eq(crypto_ctr_apply(c, part + off, part + off,
		    cuts[i]), 0);
		off += cuts[i];
	}
	ck_assert_int_eq(crypto_ctr_apply(c, part + off, part + off,
	    sizeof(part) - off), 0);
	crypto_ctr_free(c);
	ck_assert_mem_eq(part, whole, sizeof(whole));
}
END_TEST

static const size_t skips[] = { 0, 1, 63, 64, 255, 256, 257, 1000, 4096 };

START_TEST(ctr_skip)
{
	uint8_t key[32], iv[16], whole[4096 + 48], tail[48] = { 0 };
	size_t n = skips[_i];
	crypto_ctr *c;

	memset(key, 0x11, sizeof(key));
	memset(iv, 0x22, sizeof(iv));
	keystream(key, iv, whole, n + sizeof(tail));
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_skip(c, n), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, tail, tail, sizeof(tail)), 0);
	crypto_ctr_free(c);
	ck_assert_mem_eq(tail, whole + n, sizeof(tail));
}
END_TEST

START_TEST(ctr_args)
{
	uint8_t key[32] = { 0 }, iv[16] = { 0 }, buf[4] = { 0 };
	crypto_ctr *c = NULL;

	ck_assert_int_eq(crypto_ctr_new(NULL, key, iv), CRYPTO_ERR);
	ck_assert_int_eq(crypto_ctr_new(&c, NULL, iv), CRYPTO_ERR);
	ck_assert_int_eq(crypto_ctr_new(&c, key, NULL), CRYPTO_ERR);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(crypto_ctr_apply(NULL, buf, buf, 4), CRYPTO_ERR);
	ck_assert_int_eq(crypto_ctr_new(&c, key, iv), 0);
	ck_assert_int_eq(crypto_ctr_apply(c, NULL, buf, 4), CRYPTO_ERR);
	ck_assert_int_eq(crypto_ctr_apply(c, NULL, NULL, 0), 0);
	crypto_ctr_free(c);
	crypto_ctr_free(NULL);
}
END_TEST

START_TEST(memeq)
{
	uint8_t a[33], b[33];

	memset(a, 0xa5, sizeof(a));
	memcpy(b, a, sizeof(b));
	ck_assert_int_eq(crypto_memeq(a, b, sizeof(a)), 1);
	ck_assert_int_eq(crypto_memeq(a, b, 0), 1);
	b[0] ^= 1;
	ck_assert_int_eq(crypto_memeq(a, b, sizeof(a)), 0);
	ck_assert_int_eq(crypto_memeq(a + 1, b + 1, sizeof(a) - 1), 1);
	b[0] = a[0];
	b[32] ^= 0x80;
	ck_assert_int_eq(crypto_memeq(a, b, sizeof(a)), 0);
	ck_assert_int_eq(crypto_memeq(a, b, sizeof(a) - 1), 1);
}
END_TEST

START_TEST(random_bytes)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	ck_assert_int_eq(crypto_random(a, sizeof(a)), 0);
	ck_assert_int_eq(crypto_random(b, sizeof(b)), 0);
	/* Equal 256-bit draws would mean the generator is broken. */
	ck_assert_int_eq(crypto_memeq(a, b, sizeof(a)), 0);
	ck_assert_int_eq(crypto_random(NULL, 0), 0);
	ck_assert_int_eq(crypto_random(NULL, 1), CRYPTO_ERR);
}
END_TEST

static Suite *
crypto_suite(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sha256_abc);
	tcase_add_test(tc, sha256_empty);
	tcase_add_test(tc, hmac_rfc4231);
	tcase_add_test(tc, hmac_empty);
	tcase_add_test(tc, hmac_context);
	tcase_add_test(tc, ctr_nist);
	tcase_add_test(tc, ctr_rekey);
	tcase_add_test(tc, ctr_counter_wraps);
	tcase_add_test(tc, ctr_split_continuity);
	tcase_add_loop_test(tc, ctr_skip, 0, sizeof(skips) / sizeof(skips[0]));
	tcase_add_test(tc, ctr_args);
	tcase_add_test(tc, memeq);
	tcase_add_test(tc, random_bytes);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return crypto_suite();
}
