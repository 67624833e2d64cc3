/*
 * fake-TLS codec: the doc/PROTOCOL.md 3 known answers (a TDLib-shaped hello and
 * the server reply to it), every rejection reason, hellos cut at every byte
 * across reads and records, the record layer after the handshake, record
 * sizing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "ckmain.h"
#include "crypto.h"
#include "faketls.h"
#include "itest.h"

/* ../shared/vectors/faketls.txt, [tdlib-shaped-517] */
static const char vec_secret[] = "45b0ede1c70f7c81adfba76e66f32efd";
static const char vec_domain[] = "www.example.com";
#define VEC_TS	1764000000u
static const char vec_hello[] =
    "1603010200010001fc03034bd77b66b659ec2fc178bab6a46bcd22ec5b2487ae05cb1ca1"
    "c47c40e0c5858720275c5bdd4650501aeaa063da053a211b85c0697e99c6c57455531565"
    "5688010d00063a3a13011302010001ad00000014001200000f7777772e6578616d706c65"
    "2e636f6d000a000600040a0a001d002b0005040a0a0304000d0004000208040033002600"
    "24001d0020f944d83d00e8987e2f9a4be8a3901e3b44fb66e38bb5e4e87b33fc316197a0"
    "970015014c";		/* then 332 zero bytes of padding */
#define VEC_HELLO_LEN	517
static const char vec_random[] =
    "4bd77b66b659ec2fc178bab6a46bcd22ec5b2487ae05cb1ca1c47c40e0c58587";
static const char vec_session_id[] =
    "275c5bdd4650501aeaa063da053a211b85c0697e99c6c574555315655688010d";
#define VEC_REPLY_LEN	3016
static const char vec_reply[] =
    "160303007a02000076030334ff609ae77f47ec8ffc844e08a67944d9fb78e777c1308c0e"
    "1b440e7959dbe520275c5bdd4650501aeaa063da053a211b85c0697e99c6c57455531565"
    "5688010d130100002e00330024001d0020830607119f1b19449e74df71a431d978d81609"
    "909fcb49636e8eaa94666a3561002b000203041403030001011703030b3ee3cde45aa933"
    "fd5539cdd9ea7d0f71bfebe4822f7bd080487ddca908a2180bd72dd2902303397be9d619"
    "0ff31f84dda4c3c35883d80546f04342bd6799b700b65a50f5aacc69adafe1d17ff7c07e"
    "8a3536113299f4b72984fccc6f354f0dae351e981c9623bdcca7a613c2564cdc7b1c2411"
    "eccc6ac1384d094ae3e0169bb08eadc2707e4c098caf53151e6694c6d0b68171b9e9dbd0"
    "2e65b5163386643be6f8457d3cb065415cecf8552a1f1571ed1888e9174f4f9d135bc7da"
    "7e6bec5d830db57579c6a84b1c6c7dee8c5c09152b6c5ec752a9d5e67ab608e083cbd432"
    "bcc6f3808bf3edf1edd3beae5c1da7c9204e441bedff5f9ee631badefb39977491a96f70"
    "9f21629a09f1a0020694ba26248aa1ce0bfee20ad1a74f2740f7f31076c1c63f1bcf5ace"
    "b229727b83aec72c33b1e29f3c398d69bbdc4121bfab299065142db477525732979d4ad2"
    "3590062f1c3258f01878e9155cb78dd6968f95ac1164b29d481609aedc86982dfc693fa8"
    "436ba4f42c62375e016f326770f26d49a4f3f1f71a2c7abd55b123947a31651cf5ee74f3"
    "3b0d26d57ddbaaa71ea6709cddb259f34bcd8ccb4fcdae4e8b82cf01c1e247541b139cac"
    "1b0dcbe2bff8b62992ebc7c5754842296a025ef204dd453e238896c9265e5341ef2aec9c"
    "bd067b3b16ab6f8d53fdb380870b2cdac669c379032f95353fd481deb832bc98a44728bc"
    "7eacb4eb06f6df90695b8b2dd6daebb22a0ad0ea620cfe810f796fa2ea5d4202225f7c7b"
    "c54ff98e230b3671bb9701553a5b2b90f44f829eeaef47cf2d7278e772220541160ab674"
    "9790cf44c911befae578037f6dd4a481b23238c722a73ed943f1e47ef25aabb125a884f0"
    "4b71375cee0f2d02c3c9fbdc6200b79113cf94843682e2149b97506225c09cdef7b3ef72"
    "a86ea2a76c21eb3c5efcacc977eb3ffd4f4a20008169d9120438a0d5cdf73c3555ba28c3"
    "2e1657f3221a094284988a339f198fcd4e8449104152a7f019ff29e7d1e5e56f9071d02a"
    "fcf4f4754969aea604877c8989eb3f8571c59bacf52aee7e917ac52a5e645130402b79ab"
    "2fa55ef7768962098070cce464ded5eaa96b2ff85dd2d6377d1a478ad31603b617afae5e"
    "d83bd1b52e0c799c0b3fa797d94b7dbea86d88604a2232d09f04a360b27960bbb745a6df"
    "8d8a12e7bde64ce3468f8b91ae243f9aeba6d06137d9d204734342b08dc5486f08fb6b5f"
    "d64af74bc771cf85ea8268d970f4135a40e12962960f688938a9dc1d1164ac6ee9bc9889"
    "edc328013cd2a1629d1f4de56f4dd873b5ddcee0b6a1c8dc48438b9774cc681cd7469d49"
    "91785e385dee6fefe8ee3828320b61e98871afd042766798c87d081beb681e0c32e15b3b"
    "16ca3cf9582f82b12efb452443d17b64a98a23606c18f42f1eb8b5b602b6eff426f9dab4"
    "f18be695f5a39747a6d7566cf6e964793d28345ad5e4eca1ac54fb2a38847233c46ae77e"
    "c67abb18110c3ca5485de41c049fd2636d6be502985e0d1e1ee8a259d473a32729c2a8bc"
    "569691fb7ed5ac0405be25de371888b4c653fedf641ab30f7e073168a4c34ebf6821e8b2"
    "466642b63e5661760738ca2de4deb2976b35a69601c6eb807e91b5e5ddfbdbd1347ba378"
    "d6940cffc4a8e45ca7e8cc7e6cd1163fd9e199145783820f088a1e0525f5c049686bff67"
    "cd75efd339c07232b51b3706f2db41f7f8cf99c3883c900355829af5c0647dd23af320d4"
    "fac0c38d61b1219f228e1631a01cb1ee32b26a214ed009eb7619d19e4208912570b09841"
    "f2febe58b2cfb473f70d334eddac435555090fa295da7c83c3d63d7b8cb6ad0ea7f35a2e"
    "ef32818f6052071a1ade7c29381b32f98c5174b1d48227873c492ad2e571cbf855acad58"
    "54a7606d4273b6b68fe290404f7f3578c6d808f266e117cfaf8f652918e0284055bc45ea"
    "e36a8aea941bc5379eca23c607d4244b5afc3afc132704274e4064463924fb724bd0f734"
    "af19b7f38a4756e9e6a8b77da7039aa494264893add855352192804e3a86209b9a39d712"
    "f87842238df72ce76d47fcd0e3f7ebbae6aa49cb7e1f92437fafe53d1e6633f2dd6a2147"
    "80aca34705f1866543ddb4d694a97cbb37f296eae35cb7c8be94cc7ce3419901f3eabc58"
    "0254680825ce90aa4b68a8dc998a71f9443a76506cf72ee71eeee18a11cdd3bc4477e4d1"
    "4a01b8c86b9db181eaafdfb33087504b9d67d3c6b9926ba7ce91a745e64e614f42d3066d"
    "60d1bf1e4bbe67e75e56e9cfe20060ec2584f9fd802250172e47cab1f24ea6b793d5e318"
    "26b95815a0d6e2b7077be7ef9132b4da02612928a32ce9a21cae20360035c3dee5ee7e43"
    "2bd0056bd5b0a33985d8a68892e65b5e36b02a0fdd24a0d3f7fadf8c7aae451f6fda9b4a"
    "122e5e7c7c82a732dae106adbe4fd07c5b9772a4bbd85ab3194dd2747d1436851b0f23cd"
    "04f53d6e36711874c5f702d36e34b31098527c0648f882cf8f3017510f131ccb340b0b59"
    "c7b1c443d53b4856e2f857c8334c5c8f4f3e1c5899b3451c9fe6d25ec6d8abe0add17506"
    "a4c0601f81db5bad7baa25fec13c975409b67fd4edd10a4c7f62823558746a91577ddf6a"
    "1f6b4c9e9408098ba10c02d828c07814e8a027193c3de5ba4131af7c63d13e5680a5442f"
    "0efd73e769c274265df0f985b9aed88653e3f467f86176ab0edd71aee7fc719c8da4d84c"
    "c33d1fe095f30deaa89cbdc7f6b8f138180f26387fb94e0db29e7488d5603b4ee05dc5bc"
    "aa757f982f425baf8cdb2a2ddd80fe674fcb2fcf60f27bad9756bbc66799c9a3268b0614"
    "e9d9d2de9fc90599c04a929108bbf6b9681a714dcab3e7531171b00b3408d5ad8dfc361b"
    "8f4cd7bb38da2db40689238e1e65bc7ae3183496224f50ac9691d9c1bdd9e4658852f1ad"
    "971de09b87a090f45d4dbae46915c63ca1facf6f91466e411d34a6a519edfaad896c8c85"
    "73ee9f41189c7ae4f16f4f772d40a298bfac1670fa5ff8f6ba70b12beb39edafbaae4805"
    "38ee84877febb2b9bf62b6d55db5c2bc92bd94d37b1b67088272d1f346fcbea16452bec7"
    "87754126ab0a1230795671dbb012a59e8ef0eef90df01a88c7099722b01763fc32c1a600"
    "f1ace85fd4179300279d5c884c6f1ea1d9b5946ad7f31a10142fc2897c36a2fc4db6a5e5"
    "484bf897bd1853dd1e393d4a55a9c8257ac49b14494a09f2815dff488a214835274011dc"
    "fbbbe7227e073330a03ce0c14dea3a4dbb47812c7e4408608a54361bdf3e947e54c9aeba"
    "bbd2daa9ba7a2c18596db13c17a1f395cb9c16d6893ea8309c4907b3a647a83237270da7"
    "d01873b34c23c8f32d178b7d9fd9f0220c03bc12ff1b3ea2313d58adf14f7efdafe20cb8"
    "b4ac74ded7247273016ae1fc149fa90812331ad550add2f57c6378a8328d881e4f482777"
    "c0629f1d4d2532527a3da1e359b1d4fbb118b570dc1c33f6750387c9057ff833848e0d77"
    "00609d7f7b17a2b5b9e24a49ad62f4631f92dfd63bd047c3876bd4a7962085fb024b9d42"
    "8143057c457efce193f152c1db6e353630d131969877ae9895e0b0d75891ca020ce016a8"
    "368914d7b5ac3bfd215e72095022f149065d07aed1203c1a49a08b66a079ac72d08f5437"
    "768c091d2a11ab86cc86ae2296ec43a9aaee316b1494e4cd0779b6feca9bce1076f93664"
    "22b00c5f525db200bf4fe864457a5e41c73f768198e7992689519de3c969015ead8db6b9"
    "f495cdc70d4a10f55dcbe2880480035c94d51109594b3f2d74ee2d9d6da71ae335dad07f"
    "bb78f54bb2e0e451bd09e999764bd459721526784f5bf2ba1512c07e8a34b60c5d616af8"
    "dda8b526bc1b680fc20651d9d21485a7ac90b59c4a5432b072a686ad03ad5fb5a68c219e"
    "a0d19c8278be28ebcdc92217d64e8b865178d608f1de87e55259968c0229a3d4dcf8f58f"
    "9e54462b889d9b053a50032b5ae4b2b4b2cdfb4c5b541ebe5ac382d3fa11f9d1894b2d3c"
    "420608c53c1d6fa19b3f0d1da60fa08c242c617cb0fcac0e5c5858f9dc6399fd7c7fc818"
    "5b2d3ffce93cd70698b97ed6a6604a9db7e30e29ceb48fbbe15a28ed";
/* Offsets in the reply: the server key share and the ApplicationData body. */
#define VEC_KEY_OFF	89
#define VEC_APP_OFF	138
#define VEC_APP_LEN	2878

static void
vec_load_hello(uint8_t out[VEC_HELLO_LEN])
{
	size_t n;

	memset(out, 0, VEC_HELLO_LEN);
	n = itest_unhex(vec_hello, out, VEC_HELLO_LEN);
	ck_assert_uint_eq(n, VEC_HELLO_LEN - 332);
}

static void
vec_load_secret(uint8_t s[SECRET_LEN])
{
	ck_assert_uint_eq(itest_unhex(vec_secret, s, SECRET_LEN), SECRET_LEN);
}

static void
parse_ok(const uint8_t *buf, size_t len, struct faketls_hello *h)
{
	ck_assert_int_eq(faketls_hello_parse(buf, len, h), 0);
}

/* 0 and the match's ts, or the verify error. */
static int
verify_one(const uint8_t *wire, const struct faketls_hello *h,
    const uint8_t secret[SECRET_LEN], uint32_t *ts)
{
	struct faketls_match m = { .secret_index = 99 };
	int rc;

	rc = faketls_hello_verify(wire, h,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m);
	if (rc == 0) {
		ck_assert_uint_eq(m.secret_index, 0);
		*ts = m.ts;
	}
	return rc;
}

/* A fixed client randomness for the builder. */
static void
client_rand(struct faketls_client_rand *r, uint8_t fill)
{
	uint8_t priv[32];

	memset(r->session_id, fill, sizeof(r->session_id));
	memset(r->grease, fill, sizeof(r->grease));
	memset(priv, fill ^ 0x5a, sizeof(priv));
	ck_assert_int_eq(crypto_x25519_public(priv, r->key_share), 0);
}

static size_t
build(const char *domain, uint32_t ts, size_t split, uint8_t *out)
{
	struct faketls_client_rand r;
	uint8_t secret[SECRET_LEN];
	size_t len = 0;

	vec_load_secret(secret);
	client_rand(&r, 0x42);
	ck_assert_int_eq(faketls_hello_build(secret, domain, ts, &r, split,
	    out, FAKETLS_BUILD_MAX, &len), 0);
	return len;
}

/* ---- the vector ---- */

START_TEST(vector_hello)
{
	uint8_t hello[VEC_HELLO_LEN], want[32], secrets[3][SECRET_LEN];
	struct faketls_hello h;
	struct faketls_match m;

	vec_load_hello(hello);
	parse_ok(hello, sizeof(hello), &h);
	ck_assert_uint_eq(h.wire_len, VEC_HELLO_LEN);
	ck_assert_uint_eq(h.nrecords, 1);
	ck_assert_uint_eq(h.msg_len, VEC_HELLO_LEN - 5);
	ck_assert_str_eq(h.sni, vec_domain);
	ck_assert_uint_eq(h.sni_len, strlen(vec_domain));
	ck_assert_uint_eq(h.cipher_suite, 0x1301);
	itest_unhex(vec_random, want, sizeof(want));
	ck_assert_mem_eq(h.random, want, 32);
	ck_assert_uint_eq(h.session_id_len, 32);
	itest_unhex(vec_session_id, want, sizeof(want));
	ck_assert_mem_eq(h.session_id, want, 32);

	/* The right secret is found among others, with its index. */
	memset(secrets, 0x11, sizeof(secrets));
	vec_load_secret(secrets[1]);
	ck_assert_int_eq(faketls_hello_verify(hello, &h,
	    (const uint8_t (*)[SECRET_LEN])secrets, 3, &m), 0);
	ck_assert_uint_eq(m.secret_index, 1);
	ck_assert_uint_eq(m.ts, VEC_TS);
	ck_assert_int_eq(faketls_time_ok(VEC_TS, m.ts, FAKETLS_SKEW_PAST,
	    FAKETLS_SKEW_FUTURE), 0);
}
END_TEST

/*
 * The first index goes first, then the rest in order without it (the
 * cases of test_obfs2's parse_from_order), over one record and over two.
 */
START_TEST(verify_from_order)
{
	static const struct { size_t first, index, trials; } c[] = {
		{ 3, 3, 1 }, { 1, 1, 1 }, { 0, 1, 2 }, { 2, 1, 3 },
		{ 4, 1, 2 }, { 99, 1, 2 },
	};
	uint8_t hello[FAKETLS_BUILD_MAX], secrets[4][SECRET_LEN];
	struct faketls_hello h;
	struct faketls_match m;
	size_t n, i, split;

	memset(secrets, 0x11, sizeof(secrets));
	secrets[2][0] = 0x22;
	vec_load_secret(secrets[1]);
	memcpy(secrets[3], secrets[1], SECRET_LEN);
	for (split = 0; split <= 100; split += 100) {
		n = build(vec_domain, VEC_TS, split, hello);
		parse_ok(hello, n, &h);
		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			memset(&m, 0, sizeof(m));
			ck_assert_int_eq(faketls_hello_verify_from(hello, &h,
			    (const uint8_t (*)[SECRET_LEN])secrets, 4,
			    c[i].first, &m), 0);
			ck_assert_uint_eq(m.secret_index, c[i].index);
			ck_assert_uint_eq(m.trials, c[i].trials);
			ck_assert_uint_eq(m.ts, VEC_TS);
		}
	}
	memset(secrets[1], 0x33, SECRET_LEN);
	memset(secrets[3], 0x44, SECRET_LEN);
	ck_assert_int_eq(faketls_hello_verify_from(hello, &h,
	    (const uint8_t (*)[SECRET_LEN])secrets, 4, 1, &m),
	    FAKETLS_ERR_DIGEST);
}
END_TEST

START_TEST(vector_wrong_secret)
{
	uint8_t hello[VEC_HELLO_LEN], secret[SECRET_LEN];
	struct faketls_hello h;
	struct faketls_match m;
	uint32_t ts;

	vec_load_hello(hello);
	parse_ok(hello, sizeof(hello), &h);
	vec_load_secret(secret);
	secret[15] ^= 1;
	ck_assert_int_eq(verify_one(hello, &h, secret, &ts),
	    FAKETLS_ERR_DIGEST);
	ck_assert_int_eq(faketls_hello_verify(hello, &h, NULL, 0, &m),
	    FAKETLS_ERR_DIGEST);
}
END_TEST

/*
 * Every byte flipped: either the parse refuses it or the digest does -
 * except the last 4 random bytes, which carry the time: those verify, with
 * another time.
 */
START_TEST(vector_flipped_byte)
{
	uint8_t hello[VEC_HELLO_LEN], secret[SECRET_LEN];
	struct faketls_hello h;
	uint32_t ts;
	size_t i;
	int rc;

	vec_load_secret(secret);
	for (i = 0; i < VEC_HELLO_LEN; i++) {
		vec_load_hello(hello);
		hello[i] ^= 0x01;
		rc = faketls_hello_parse(hello, sizeof(hello), &h);
		if (rc != 0)
			continue;
		rc = verify_one(hello, &h, secret, &ts);
		if (i >= TLS_RANDOM_OFF + 28 && i < TLS_RANDOM_OFF + 32) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_ne(ts, VEC_TS);
		} else {
			ck_assert_msg(rc == FAKETLS_ERR_DIGEST,
			    "byte %zu flipped: %d", i, rc);
		}
	}
}
END_TEST

START_TEST(time_window)
{
	const int64_t now = 1764000000;

	/* The defaults are the edges tested below. */
	ck_assert_int_eq(FAKETLS_SKEW_PAST, 600);
	ck_assert_int_eq(FAKETLS_SKEW_FUTURE, 30);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)now, 600, 30), 0);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now - 600), 600, 30),
	    0);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now - 601), 600, 30),
	    FAKETLS_ERR_TIME);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now + 30), 600, 30),
	    0);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now + 31), 600, 30),
	    FAKETLS_ERR_TIME);
	ck_assert_int_eq(faketls_time_ok(now, 0, 600, 30), FAKETLS_ERR_TIME);
	ck_assert_int_eq(faketls_time_ok(now, UINT32_MAX, 600, 30),
	    FAKETLS_ERR_TIME);
	/* The official server's numbers: -700 no, -500 yes, +2 yes, +10 no. */
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now - 700), 600, 3),
	    FAKETLS_ERR_TIME);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now - 500), 600, 3),
	    0);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now + 2), 600, 3), 0);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)(now + 10), 600, 3),
	    FAKETLS_ERR_TIME);
	/* Zero skews: only now itself. */
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)now, 0, 0), 0);
	ck_assert_int_eq(faketls_time_ok(now, (uint32_t)now + 1, 0, 0),
	    FAKETLS_ERR_TIME);
	/* A clock before 1970 or far away does not wrap around. */
	ck_assert_int_eq(faketls_time_ok(-5, 0, 600, 30), 0);
	ck_assert_int_eq(faketls_time_ok(INT64_MIN, 0, 600, 30),
	    FAKETLS_ERR_TIME);
	ck_assert_int_eq(faketls_time_ok(INT64_MAX, UINT32_MAX, 600, 30),
	    FAKETLS_ERR_TIME);
}
END_TEST

START_TEST(skew_past_from_cache)
{
	const int64_t now = 1000000;
	uint32_t p;

	/* Young cache: the default applies. */
	ck_assert_uint_eq(faketls_skew_past(now, now - 100, 600, 30), 600);
	ck_assert_uint_eq(faketls_skew_past(now, now, 600, 30), 600);
	ck_assert_uint_eq(faketls_skew_past(now, now + 50, 600, 30), 600);
	ck_assert_uint_eq(faketls_skew_past(now, now - 31, 600, 30), 600);
	/* Old cache: anything after oldest + skew_future, and nothing more. */
	p = faketls_skew_past(now, 1000, 600, 30);
	ck_assert_int_eq(faketls_time_ok(now, 1031, p, 30), 0);
	ck_assert_int_eq(faketls_time_ok(now, 1030, p, 30), FAKETLS_ERR_TIME);
	ck_assert_uint_eq(faketls_skew_past(now, now - 631, 600, 30), 600);
	ck_assert_uint_eq(faketls_skew_past(now, now - 632, 600, 30), 601);
	ck_assert_uint_eq(faketls_skew_past(INT64_MAX, INT64_MIN, 600, 30),
	    UINT32_MAX);
}
END_TEST

/* ---- hand-made hellos for each rejection ---- */

struct mk {
	uint8_t rec_ver;		/* record minor version */
	uint16_t version;		/* legacy_version */
	size_t sid_len;
	const char *suites;		/* hex */
	const char *comp;		/* hex, with its length byte */
	const char *exts;		/* hex, without the block length */
	int no_exts;			/* stop after compression */
	int ext_len_delta;		/* added to the block length */
	size_t trailer;			/* bytes after the message */
};

/* Hex of an SNI extension for name. */
static void
sni_ext(const char *name, char *out, size_t cap)
{
	size_t n = strlen(name), i;
	int w;

	w = snprintf(out, cap, "0000%04zx%04zx00%04zx", n + 5, n + 3, n);
	ck_assert_int_gt(w, 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt((size_t)w + 2, cap);
		w += snprintf(out + w, cap - (size_t)w, "%02x",
		    (unsigned char)name[i]);
	}
}

/* SNI extension for www.example.com, as in the vector hello. */
static const char example_sni[] =
    "00000014001200000f7777772e6578616d706c652e636f6d";

static size_t
mk_hello(const struct mk *m, uint8_t *out, size_t cap)
{
	uint8_t tmp[4096];
	size_t n = 0, exts_len, msg_len;

	tmp[n++] = TLS_HS_CLIENT_HELLO;
	n += 3;
	tmp[n++] = m->version >> 8;
	tmp[n++] = m->version & 0xff;
	memset(tmp + n, 0xab, 32);
	n += 32;
	tmp[n++] = (uint8_t)m->sid_len;
	memset(tmp + n, 0xcd, m->sid_len);
	n += m->sid_len;
	tmp[n++] = (uint8_t)((strlen(m->suites) / 2) >> 8);
	tmp[n++] = (uint8_t)(strlen(m->suites) / 2);
	n += itest_unhex(m->suites, tmp + n, sizeof(tmp) - n);
	n += itest_unhex(m->comp, tmp + n, sizeof(tmp) - n);
	if (!m->no_exts) {
		exts_len = strlen(m->exts) / 2 + (size_t)m->ext_len_delta;
		tmp[n++] = (uint8_t)(exts_len >> 8);
		tmp[n++] = (uint8_t)exts_len;
		n += itest_unhex(m->exts, tmp + n, sizeof(tmp) - n);
	}
	msg_len = n;
	tmp[1] = 0;
	tmp[2] = (uint8_t)((msg_len - 4) >> 8);
	tmp[3] = (uint8_t)(msg_len - 4);
	memset(tmp + n, 0, m->trailer);
	n += m->trailer;
	ck_assert_uint_le(n + 5, cap);
	out[0] = TLS_RECORD_HANDSHAKE;
	out[1] = 0x03;
	out[2] = m->rec_ver;
	out[3] = (uint8_t)(n >> 8);
	out[4] = (uint8_t)n;
	memcpy(out + 5, tmp, n);
	return n + 5;
}

static struct mk
mk_default(void)
{
	struct mk m = { 0x01, 0x0303, 32, "0a0a130113021303", "0100",
	    example_sni, 0, 0, 0 };

	return m;
}

static int
mk_parse(const struct mk *m, struct faketls_hello *h)
{
	uint8_t buf[4200];
	size_t n = mk_hello(m, buf, sizeof(buf));

	return faketls_hello_parse(buf, n, h);
}

START_TEST(mk_valid)
{
	struct faketls_hello h;
	struct mk m = mk_default();

	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_str_eq(h.sni, "www.example.com");
	ck_assert_uint_eq(h.session_id_len, 32);
	ck_assert_uint_eq(h.session_id[31], 0xcd);
	ck_assert_uint_eq(h.cipher_suite, 0x1301);
	ck_assert_uint_eq(h.random[0], 0xab);
	/* Record version 03 03, empty session id, GREASE then 1.2 then 1.3. */
	m.rec_ver = 0x03;
	m.sid_len = 0;
	m.suites = "2a2ac02b00ff1303";
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_uint_eq(h.session_id_len, 0);
	ck_assert_uint_eq(h.cipher_suite, 0x1303);
	/* 0x1a2a is no GREASE (its bytes differ) and no 1.3 suite: skipped. */
	m.suites = "1a2a1302";
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_uint_eq(h.cipher_suite, 0x1302);
}
END_TEST

START_TEST(reject_not_tls)
{
	static const char *const inputs[] = {
		"474554202f20485454502f312e310d0a",	/* GET / HTTP/1.1 */
		"17030300100000",			/* application data */
		"15030300020228",			/* alert */
		"1602",					/* not version 3 */
		"16",					/* too short to tell */
		"ef",					/* abridged */
		"8003010031",				/* SSLv2 hello */
	};
	static const int want[] = {
		FAKETLS_NOT_TLS, FAKETLS_NOT_TLS, FAKETLS_NOT_TLS,
		FAKETLS_NOT_TLS, FAKETLS_NEED_MORE, FAKETLS_NOT_TLS,
		FAKETLS_NOT_TLS,
	};
	struct faketls_hello h;
	uint8_t buf[64];
	size_t i, n;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		n = itest_unhex(inputs[i], buf, sizeof(buf));
		ck_assert_int_eq(faketls_hello_parse(buf, n, &h), want[i]);
	}
	ck_assert_int_eq(faketls_hello_parse(buf, 0, &h), FAKETLS_NEED_MORE);
	ck_assert_int_eq(faketls_hello_parse(NULL, 0, &h), FAKETLS_NEED_MORE);
}
END_TEST

START_TEST(reject_version)
{
	struct faketls_hello h;
	struct mk m = mk_default();
	uint8_t buf[8] = { 0x16, 0x03, 0x02 };

	ck_assert_int_eq(faketls_hello_parse(buf, 3, &h), FAKETLS_ERR_VERSION);
	buf[2] = 0x04;
	ck_assert_int_eq(faketls_hello_parse(buf, 3, &h), FAKETLS_ERR_VERSION);
	buf[2] = 0x00;
	ck_assert_int_eq(faketls_hello_parse(buf, 3, &h), FAKETLS_ERR_VERSION);
	m.rec_ver = 0x02;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_VERSION);
	m = mk_default();
	m.version = 0x0301;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_VERSION);
	m.version = 0x0304;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_VERSION);
}
END_TEST

START_TEST(reject_record)
{
	struct faketls_hello h;
	struct mk m = mk_default();
	uint8_t buf[4200];
	size_t n;

	/* Empty record, record over 2^14, a ServerHello, a bare header. */
	memcpy(buf, "\x16\x03\x01\x00\x00", 5);
	ck_assert_int_eq(faketls_hello_parse(buf, 5, &h), FAKETLS_ERR_RECORD);
	memcpy(buf, "\x16\x03\x01\x40\x01", 5);
	ck_assert_int_eq(faketls_hello_parse(buf, 5, &h), FAKETLS_ERR_RECORD);
	memcpy(buf, "\x16\x03\x01\x00\x30\x02", 6);
	ck_assert_int_eq(faketls_hello_parse(buf, 6, &h), FAKETLS_ERR_RECORD);
	memcpy(buf, "\x16\x03\x01\x00\x30", 5);
	ck_assert_int_eq(faketls_hello_parse(buf, 5, &h), FAKETLS_NEED_MORE);
	/* Bytes after the message inside its record. */
	m.trailer = 1;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_RECORD);
	/* A second record that is not a handshake record. */
	m = mk_default();
	n = mk_hello(&m, buf, sizeof(buf));
	memmove(buf + 15, buf + 10, n - 10);
	buf[3] = 0;
	buf[4] = 5;
	memcpy(buf + 10, "\x17\x03\x03", 3);
	buf[13] = (uint8_t)((n - 10) >> 8);
	buf[14] = (uint8_t)(n - 10);
	ck_assert_int_eq(faketls_hello_parse(buf, n + 5, &h),
	    FAKETLS_ERR_RECORD);
	buf[10] = TLS_RECORD_HANDSHAKE;
	ck_assert_int_eq(faketls_hello_parse(buf, n + 5, &h), 0);
	buf[11] = 0x02;
	ck_assert_int_eq(faketls_hello_parse(buf, n + 5, &h),
	    FAKETLS_ERR_VERSION);
	buf[11] = 0x03;
	buf[12] = 0x02;
	ck_assert_int_eq(faketls_hello_parse(buf, n + 5, &h),
	    FAKETLS_ERR_VERSION);
}
END_TEST

START_TEST(reject_truncated)
{
	struct faketls_hello h;
	struct mk m = mk_default();
	uint8_t buf[4200];
	size_t n, len, k;

	/* Cut the message short and fix up the lengths: a field overruns. */
	mk_hello(&m, buf, sizeof(buf));
	for (len = 4; len < 88; len++) {
		buf[3] = (uint8_t)(len >> 8);
		buf[4] = (uint8_t)len;
		buf[6] = 0;
		buf[7] = (uint8_t)((len - 4) >> 8);
		buf[8] = (uint8_t)(len - 4);
		/* 83: header, version, random, session id, suites, comp. */
		ck_assert_int_eq(faketls_hello_parse(buf, 5 + len, &h),
		    len < 83 ? FAKETLS_ERR_TRUNCATED :
		    FAKETLS_ERR_EXTENSIONS);
	}
	/* Any prefix of a valid hello only asks for more. */
	n = mk_hello(&m, buf, sizeof(buf));
	for (k = 0; k < n; k++)
		ck_assert_int_eq(faketls_hello_parse(buf, k, &h),
		    FAKETLS_NEED_MORE);
	/* Odd cipher suite length, empty compression list. */
	m.suites = "0a0a130113";
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_TRUNCATED);
	m = mk_default();
	m.comp = "00";
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_TRUNCATED);
}
END_TEST

START_TEST(reject_oversize)
{
	struct faketls_hello h;
	uint8_t *buf;
	size_t n, i;

	/* The declared handshake length alone decides, before the body. */
	ck_assert_int_eq(faketls_hello_parse((const uint8_t *)
	    "\x16\x03\x01\x02\x00\x01\x00\x40\x00", 9, &h),
	    FAKETLS_ERR_OVERSIZE);
	ck_assert_int_eq(faketls_hello_parse((const uint8_t *)
	    "\x16\x03\x01\x02\x00\x01\xff\xff\xff", 9, &h),
	    FAKETLS_ERR_OVERSIZE);
	/* A message of 4 + 16380 = 16384 bytes fits; one more does not. */
	ck_assert_int_eq(faketls_hello_parse((const uint8_t *)
	    "\x16\x03\x01\x40\x00\x01\x00\x3f\xfc", 9, &h),
	    FAKETLS_NEED_MORE);
	ck_assert_int_eq(faketls_hello_parse((const uint8_t *)
	    "\x16\x03\x01\x40\x00\x01\x00\x3f\xfd", 9, &h),
	    FAKETLS_ERR_OVERSIZE);
	/*
	 * A hello that fits, cut into 1-byte records: the headers push the
	 * wire past the limit, refused at the first record that would cross it.
	 */
	buf = malloc(FAKETLS_HELLO_MAX + 64);
	ck_assert_ptr_nonnull(buf);
	for (i = 0, n = 0; n + 6 <= FAKETLS_HELLO_MAX + 6; i++) {
		memcpy(buf + n, "\x16\x03\x01\x00\x01", 5);
		buf[n + 5] = i == 0 ? 0x01 : i == 2 ? 0x10 : 0;
		n += 6;
	}
	ck_assert_int_eq(faketls_hello_parse(buf, n, &h), FAKETLS_ERR_OVERSIZE);
	/*
	 * 2901 records end at 17406: no room for a 6-byte one after them
	 * under FAKETLS_HELLO_MAX (17408).
	 */
	ck_assert_uint_eq(FAKETLS_HELLO_MAX, 17408);
	ck_assert_int_eq(faketls_hello_parse(buf, 2901 * 6 - 1, &h),
	    FAKETLS_NEED_MORE);
	ck_assert_int_eq(faketls_hello_parse(buf, 2901 * 6, &h),
	    FAKETLS_ERR_OVERSIZE);
	free(buf);
}
END_TEST

START_TEST(reject_session_id)
{
	struct faketls_hello h;
	struct mk m = mk_default();

	m.sid_len = 33;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_SESSION_ID);
	m.sid_len = 255;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_SESSION_ID);
}
END_TEST

START_TEST(reject_cipher)
{
	static const char *const suites[] = {
		"", "0a0a", "0a0afafa", "c02bc02f00ff", "1304", "13001305",
	};
	struct faketls_hello h;
	struct mk m = mk_default();
	size_t i;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		m.suites = suites[i];
		ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_CIPHER);
	}
}
END_TEST

START_TEST(reject_extensions)
{
	char exts[256];
	struct faketls_hello h;
	struct mk m = mk_default();

	/* Block length one more, one less than its content. */
	m.ext_len_delta = 1;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	m.ext_len_delta = -1;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	/* An extension running past the block, a short extension header. */
	m = mk_default();
	m.exts = "00170005000000";
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	m.exts = "001700";
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	/* One byte where the block length belongs. */
	m.exts = "";
	m.ext_len_delta = 0;
	m.no_exts = 1;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	/* The SNI extension twice. */
	m = mk_default();
	snprintf(exts, sizeof(exts), "%s%s", example_sni, example_sni);
	m.exts = exts;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	/* GREASE and unknown extensions around SNI are skipped. */
	snprintf(exts, sizeof(exts), "1a1a0000%sff01000100fafa000100",
	    example_sni);
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_str_eq(h.sni, "www.example.com");
}
END_TEST

/*
 * No server_name (iOS and macOS apps): the hello parses with sni "" and
 * the digest decides. No extension block at all is no TLS 1.3 client.
 */
START_TEST(accept_no_sni)
{
	struct faketls_hello h;
	struct mk m = mk_default();

	m.no_exts = 1;
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_EXTENSIONS);
	m = mk_default();
	m.exts = "";
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_uint_eq(h.sni_len, 0);
	m.exts = "00170000ff0100010000150003000000";
	memset(&h, 0x55, sizeof(h));
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_uint_eq(h.sni_len, 0);
	ck_assert_str_eq(h.sni, "");
	ck_assert_uint_eq(h.cipher_suite, 0x1301);
}
END_TEST

START_TEST(reject_bad_sni)
{
	static const char *const exts[] = {
		"00000000",				/* no list */
		"000000020000",				/* empty list */
		"0000000400030000",			/* list too short */
		"000000080007000003616263",		/* list > ext */
		"000000050003000000",			/* empty name */
		"0000000700050000036100",		/* name overruns list */
		"000000080006000003610062",		/* NUL inside */
		"000000080006000003612062",		/* space inside */
		"0000000800060000036162ff",		/* not ASCII */
		"00000009000601000361626300",		/* list < ext */
		"000000080006010003616263",		/* other name_type */
		"0000000e0008000003616263000003646566",	/* list too short */
		"0000000e000c000003616263000003646566",	/* two host names */
	};
	char big[600];
	struct faketls_hello h;
	struct mk m = mk_default();
	size_t i;
	char name[300];

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		m.exts = exts[i];
		ck_assert_msg(mk_parse(&m, &h) == FAKETLS_ERR_SNI,
		    "case %zu: %d", i, mk_parse(&m, &h));
	}
	/* A host_name after another name type is taken. */
	m.exts = "0000000e000c010003787878000003616263";
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_str_eq(h.sni, "abc");
	/* 253 characters pass, 254 do not. */
	memset(name, 'a', 253);
	name[253] = '\0';
	sni_ext(name, big, sizeof(big));
	m.exts = big;
	ck_assert_int_eq(mk_parse(&m, &h), 0);
	ck_assert_uint_eq(h.sni_len, 253);
	ck_assert_str_eq(h.sni, name);
	name[253] = 'a';
	name[254] = '\0';
	sni_ext(name, big, sizeof(big));
	ck_assert_int_eq(mk_parse(&m, &h), FAKETLS_ERR_SNI);
}
END_TEST

/* ---- reads, records, bytes after the hello ---- */

/* Every prefix asks for more; the whole answers; extra bytes stay out. */
static void
check_prefixes(const uint8_t *wire, size_t len,
    const struct faketls_hello *want)
{
	struct faketls_hello h;
	uint8_t *buf;
	size_t k;

	buf = malloc(len + 7);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, wire, len);
	memcpy(buf + len, "\x14\x03\x03\x00\x01\x01\x17", 7);
	for (k = 0; k < len; k++)
		ck_assert_msg(faketls_hello_parse(buf, k, &h) ==
		    FAKETLS_NEED_MORE, "prefix %zu of %zu", k, len);
	for (k = len; k <= len + 7; k++) {
		parse_ok(buf, k, &h);
		ck_assert_uint_eq(h.wire_len, len);
		ck_assert_mem_eq(&h, want, sizeof(h));
	}
	free(buf);
}

START_TEST(split_reads)
{
	uint8_t hello[FAKETLS_BUILD_MAX];
	struct faketls_hello h;
	size_t n;

	vec_load_hello(hello);
	parse_ok(hello, VEC_HELLO_LEN, &h);
	check_prefixes(hello, VEC_HELLO_LEN, &h);
	n = build(vec_domain, VEC_TS, 0, hello);
	parse_ok(hello, n, &h);
	check_prefixes(hello, n, &h);
}
END_TEST

/* Re-cut the one-record hello in `one` into records of the given sizes. */
static size_t
recut(const uint8_t *one, const size_t *sizes, size_t nsizes, uint8_t *out)
{
	size_t msg = (size_t)(one[3] << 8 | one[4]), off = 5, n = 0, i, s;

	for (i = 0; i < nsizes && off < 5 + msg; i++) {
		s = sizes[i];
		if (s > 5 + msg - off)
			s = 5 + msg - off;
		memcpy(out + n, one, 3);
		out[n + 3] = (uint8_t)(s >> 8);
		out[n + 4] = (uint8_t)s;
		memcpy(out + n + 5, one + off, s);
		n += 5 + s;
		off += s;
	}
	ck_assert_uint_eq(off, 5 + msg);
	return n;
}

/*
 * A hello signed over its two records as sent, cut at every point of the
 * message - the handshake header and the random included.
 */
START_TEST(split_records_signed)
{
	uint8_t secret[SECRET_LEN], one[FAKETLS_BUILD_MAX],
	    two[FAKETLS_BUILD_MAX];
	struct faketls_hello h1, h2;
	size_t n1, n2, split;
	uint32_t ts;

	vec_load_secret(secret);
	n1 = build(vec_domain, VEC_TS, 0, one);
	parse_ok(one, n1, &h1);
	for (split = 1; split < n1 - 5; split++) {
		n2 = build(vec_domain, VEC_TS, split, two);
		ck_assert_uint_eq(n2, n1 + 5);
		parse_ok(two, n2, &h2);
		ck_assert_uint_eq(h2.nrecords, 2);
		ck_assert_uint_eq(h2.wire_len, n2);
		ck_assert_str_eq(h2.sni, vec_domain);
		ck_assert_mem_eq(h2.session_id, h1.session_id, 32);
		ck_assert_int_eq(verify_one(two, &h2, secret, &ts), 0);
		ck_assert_uint_eq(ts, VEC_TS);
		if (split % 61 == 1)
			check_prefixes(two, n2, &h2);
	}
	ck_assert_int_eq(faketls_hello_build(secret, vec_domain, VEC_TS,
	    &(struct faketls_client_rand){ { 0 }, { 0 }, { 0 } }, n1 - 5, two,
	    sizeof(two), &n2), FAKETLS_ERR_ARG);
}
END_TEST

/*
 * The vector hello, signed over one record, re-cut by something on the way
 * (a DPI-evasion tool): at every point into two records, into 1-byte
 * records, into records of mixed version. It verifies over the record the
 * client sent.
 */
START_TEST(split_records_recut)
{
	uint8_t hello[VEC_HELLO_LEN], secret[SECRET_LEN], *cut;
	struct faketls_hello h;
	size_t sizes[2], ones[VEC_HELLO_LEN], n, i;
	uint32_t ts;

	vec_load_hello(hello);
	vec_load_secret(secret);
	cut = malloc(VEC_HELLO_LEN * 6);
	ck_assert_ptr_nonnull(cut);
	for (i = 1; i < VEC_HELLO_LEN - 5; i++) {
		sizes[0] = i;
		sizes[1] = VEC_HELLO_LEN;
		n = recut(hello, sizes, 2, cut);
		parse_ok(cut, n, &h);
		ck_assert_uint_eq(h.nrecords, 2);
		ck_assert_int_eq(verify_one(cut, &h, secret, &ts), 0);
		ck_assert_uint_eq(ts, VEC_TS);
	}
	for (i = 0; i < VEC_HELLO_LEN; i++)
		ones[i] = 1;
	n = recut(hello, ones, VEC_HELLO_LEN, cut);
	ck_assert_uint_eq(n, (VEC_HELLO_LEN - 5) * 6);
	for (i = 12; i < n; i += 12)
		cut[i - 4] = 0x03;	/* every other record says 03 03 */
	parse_ok(cut, n, &h);
	ck_assert_uint_eq(h.nrecords, VEC_HELLO_LEN - 5);
	ck_assert_str_eq(h.sni, vec_domain);
	ck_assert_int_eq(verify_one(cut, &h, secret, &ts), 0);
	ck_assert_uint_eq(ts, VEC_TS);
	check_prefixes(cut, n, &h);
	/* Re-cut, then a byte changed: still refused. */
	cut[n - 1] ^= 1;
	parse_ok(cut, n, &h);
	ck_assert_int_eq(verify_one(cut, &h, secret, &ts), FAKETLS_ERR_DIGEST);
	free(cut);
}
END_TEST

START_TEST(verify_args)
{
	uint8_t hello[VEC_HELLO_LEN], secret[SECRET_LEN];
	struct faketls_hello h, bad;
	struct faketls_match m;

	vec_load_hello(hello);
	vec_load_secret(secret);
	parse_ok(hello, sizeof(hello), &h);
	ck_assert_int_eq(faketls_hello_verify(NULL, &h,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_verify(hello, NULL,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_verify(hello, &h, NULL, 1, &m),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_verify(hello, &h,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, NULL), FAKETLS_ERR_ARG);
	/* A description that does not match the bytes is refused. */
	bad = h;
	bad.wire_len = 300;
	ck_assert_int_eq(faketls_hello_verify(hello, &bad,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m), FAKETLS_ERR_ARG);
	bad = h;
	bad.nrecords = 2;
	ck_assert_int_eq(faketls_hello_verify(hello, &bad,
	    (const uint8_t (*)[SECRET_LEN])secret, 1, &m), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_parse(hello, sizeof(hello), NULL),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_parse(NULL, 5, &h), FAKETLS_ERR_ARG);
}
END_TEST

/* ---- client hello builder ---- */

/* Extension types of a one-record hello, in order. */
static size_t
ext_types(const uint8_t *hello, uint16_t *types, size_t cap)
{
	size_t off = 5 + 4 + 2 + 32, end, n = 0;

	off += 1 + hello[off];
	off += 2 + (size_t)(hello[off] << 8 | hello[off + 1]);
	off += 1 + hello[off];
	end = off + 2 + (size_t)(hello[off] << 8 | hello[off + 1]);
	for (off += 2; off < end; n++) {
		ck_assert_uint_lt(n, cap);
		types[n] = (uint16_t)(hello[off] << 8 | hello[off + 1]);
		off += 4 + (size_t)(hello[off + 2] << 8 | hello[off + 3]);
	}
	ck_assert_uint_eq(off, end);
	return n;
}

START_TEST(builder_shape)
{
	static const uint16_t mid[] = { 0x0000, 0x0017, 0xff01, 0x000a, 0x000b,
	    0x0023, 0x0010, 0x0005, 0x000d, 0x0012, 0x0033, 0x002d, 0x001b,
	    0x002b };
	uint8_t hello[FAKETLS_BUILD_MAX], secret[SECRET_LEN];
	uint16_t types[32];
	struct faketls_hello h;
	struct faketls_client_rand r;
	size_t n, nt, i, j;
	uint32_t ts;

	vec_load_secret(secret);
	n = build(vec_domain, VEC_TS, 0, hello);
	ck_assert_uint_eq(n, FAKETLS_TDLIB_HELLO_LEN);
	ck_assert_mem_eq(hello, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	    11);
	/* 293 + 15 bytes, then the padding extension to 517. */
	ck_assert_mem_eq(hello + 308, "\x00\x15\x00\xcd", 4);
	for (i = 312; i < n; i++)
		ck_assert_uint_eq(hello[i], 0);
	nt = ext_types(hello, types, 32);
	ck_assert_uint_eq(nt, 2 + sizeof(mid) / sizeof(mid[0]) + 1);
	ck_assert_uint_eq(types[0] & 0x0f0f, 0x0a0a);
	for (i = 0; i < sizeof(mid) / sizeof(mid[0]); i++)
		ck_assert_uint_eq(types[1 + i], mid[i]);
	ck_assert_uint_eq(types[nt - 2] & 0x0f0f, 0x0a0a);
	ck_assert_uint_eq(types[nt - 1], TLS_EXT_PADDING);
	for (i = 0; i < nt; i++)
		for (j = i + 1; j < nt; j++)
			ck_assert_uint_ne(types[i], types[j]);
	parse_ok(hello, n, &h);
	ck_assert_int_eq(verify_one(hello, &h, secret, &ts), 0);
	ck_assert_uint_eq(ts, VEC_TS);
	/* Equal GREASE seeds still give two distinct GREASE extensions. */
	client_rand(&r, 0);
	ck_assert_int_eq(faketls_hello_build(secret, "a.b", 7, &r, 0, hello,
	    sizeof(hello), &n), 0);
	nt = ext_types(hello, types, 32);
	ck_assert_uint_ne(types[0], types[nt - 2]);
	ck_assert_mem_eq(hello + 5 + 4 + 2 + 32 + 1 + 32, "\x00\x20\x0a\x0a",
	    4);
}
END_TEST

START_TEST(builder_domains)
{
	uint8_t hello[FAKETLS_BUILD_MAX], secret[SECRET_LEN];
	struct faketls_client_rand r;
	struct faketls_hello h;
	char name[300];
	size_t n, len;
	uint32_t ts;

	vec_load_secret(secret);
	client_rand(&r, 7);
	for (len = 1; len <= 253; len += len < 210 ? 13 : 1) {
		memset(name, 'x', len);
		name[len] = '\0';
		ck_assert_int_eq(faketls_hello_build(secret, name, 12345, &r, 0,
		    hello, sizeof(hello), &n), 0);
		ck_assert_uint_eq(n, len <= 220 ? 517 : 293 + len);
		parse_ok(hello, n, &h);
		ck_assert_str_eq(h.sni, name);
		ck_assert_uint_eq(h.cipher_suite, 0x1301);
		ck_assert_mem_eq(h.session_id, r.session_id, 32);
		ck_assert_int_eq(verify_one(hello, &h, secret, &ts), 0);
		ck_assert_uint_eq(ts, 12345);
	}
	memset(name, 'x', 254);
	name[254] = '\0';
	ck_assert_int_eq(faketls_hello_build(secret, name, 1, &r, 0, hello,
	    sizeof(hello), &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_build(secret, "", 1, &r, 0, hello,
	    sizeof(hello), &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_build(secret, "a b", 1, &r, 0, hello,
	    sizeof(hello), &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_build(secret, "a.b", 1, &r, 0, hello,
	    516, &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_build(secret, "a.b", 1, &r, 100, hello,
	    517, &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_build(NULL, "a.b", 1, &r, 0, hello,
	    sizeof(hello), &n), FAKETLS_ERR_ARG);
}
END_TEST

/* ---- server reply ---- */

struct vec_reply {
	uint8_t reply[VEC_REPLY_LEN], hello[VEC_HELLO_LEN], secret[SECRET_LEN];
	struct faketls_hello h;
	struct faketls_reply rp;
	size_t size;
};

static void
vec_reply_load(struct vec_reply *v)
{
	ck_assert_uint_eq(itest_unhex(vec_reply, v->reply, sizeof(v->reply)),
	    VEC_REPLY_LEN);
	vec_load_hello(v->hello);
	vec_load_secret(v->secret);
	parse_ok(v->hello, VEC_HELLO_LEN, &v->h);
	v->size = VEC_APP_LEN;
	v->rp.key_share = v->reply + VEC_KEY_OFF;
	v->rp.group = TLS_GROUP_X25519;
	v->rp.versions_first = 0;
	v->rp.app_sizes = &v->size;
	v->rp.napp = 1;
	v->rp.app_fill = v->reply + VEC_APP_OFF;
}

START_TEST(reply_vector)
{
	struct vec_reply v;
	uint8_t out[VEC_REPLY_LEN + 8];
	size_t n = 0;

	vec_reply_load(&v);
	ck_assert_int_eq(faketls_reply_len(&v.h, &v.rp, &n), 0);
	ck_assert_uint_eq(n, VEC_REPLY_LEN);
	ck_assert_int_eq(faketls_reply_build(v.secret, &v.h, &v.rp, out,
	    sizeof(out), &n), 0);
	ck_assert_uint_eq(n, VEC_REPLY_LEN);
	ck_assert_mem_eq(out, v.reply, VEC_REPLY_LEN);
	ck_assert_int_eq(faketls_reply_build(v.secret, &v.h, &v.rp, out,
	    VEC_REPLY_LEN - 1, &n), FAKETLS_ERR_ARG);
}
END_TEST

START_TEST(reply_client_verify)
{
	struct vec_reply v;
	uint8_t buf[VEC_REPLY_LEN + 16], secret[SECRET_LEN];
	size_t used = 0, k;

	vec_reply_load(&v);
	memcpy(buf, v.reply, VEC_REPLY_LEN);
	memcpy(buf + VEC_REPLY_LEN, "\x17\x03\x03\x00\x40", 5);
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1, buf,
	    VEC_REPLY_LEN + 16, &used), 0);
	ck_assert_uint_eq(used, VEC_REPLY_LEN);
	for (k = 0; k < VEC_REPLY_LEN; k += k < 200 ? 1 : 97)
		ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1,
		    buf, k, &used), FAKETLS_NEED_MORE);
	/* Wrong secret, wrong client random, a changed byte anywhere. */
	memcpy(secret, v.secret, SECRET_LEN);
	secret[0] ^= 1;
	ck_assert_int_eq(faketls_reply_verify(secret, v.h.random, 1, buf,
	    VEC_REPLY_LEN, &used), FAKETLS_ERR_DIGEST);
	v.h.random[31] ^= 1;
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1, buf,
	    VEC_REPLY_LEN, &used), FAKETLS_ERR_DIGEST);
	v.h.random[31] ^= 1;
	for (k = 0; k < VEC_REPLY_LEN; k += 7) {
		if (k == 3 || k == 4 || k == 136 || k == 137)
			continue;	/* lengths: shape errors, below */
		buf[k] ^= 0x80;
		ck_assert_int_ne(faketls_reply_verify(v.secret, v.h.random, 1,
		    buf, VEC_REPLY_LEN, &used), 0);
		buf[k] ^= 0x80;
	}
	/* Shape: not a handshake record, no CCS, no ApplicationData. */
	buf[0] = 0x17;
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1, buf, 1,
	    &used), FAKETLS_ERR_RECORD);
	buf[0] = 0x16;
	buf[127] = 0x15;
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1, buf,
	    VEC_REPLY_LEN, &used), FAKETLS_ERR_RECORD);
	buf[127] = 0x14;
	buf[133] = 0x16;
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1, buf,
	    VEC_REPLY_LEN, &used), FAKETLS_ERR_RECORD);
	buf[133] = 0x17;
	/* A first record too short to hold the random. */
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1,
	    (const uint8_t *)"\x16\x03\x03\x00\x25", 5 + 0x25, &used),
	    FAKETLS_ERR_RECORD);
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 0, buf,
	    VEC_REPLY_LEN, &used), FAKETLS_ERR_ARG);
}
END_TEST

/* Other session ids, suites, extension orders and record counts. */
START_TEST(reply_shapes)
{
	static const size_t sizes[] = { 1, 2000, TLS_CIPHERTEXT_MAX };
	struct vec_reply v;
	uint8_t *out, *fill;
	size_t n, used, want;

	vec_reply_load(&v);
	out = malloc(3 * (TLS_CIPHERTEXT_MAX + 5) + 200);
	fill = calloc(1, 3 * TLS_CIPHERTEXT_MAX);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(fill);
	v.rp.versions_first = 1;
	v.h.session_id_len = 0;
	v.h.cipher_suite = 0x1303;
	v.rp.app_sizes = sizes;
	v.rp.napp = 3;
	v.rp.app_fill = fill;
	want = 127 - 32 + 6 + 3 * 5 + 1 + 2000 + TLS_CIPHERTEXT_MAX;
	ck_assert_int_eq(faketls_reply_len(&v.h, &v.rp, &n), 0);
	ck_assert_uint_eq(n, want);
	ck_assert_int_eq(faketls_reply_build(v.secret, &v.h, &v.rp, out,
	    want, &n), 0);
	ck_assert_uint_eq(n, want);
	ck_assert_mem_eq(out, "\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03",
	    11);
	ck_assert_mem_eq(out + 43, "\x00\x13\x03\x00\x00\x2e"
	    "\x00\x2b\x00\x02\x03\x04\x00\x33\x00\x24\x00\x1d\x00\x20", 20);
	ck_assert_mem_eq(out + 63, v.rp.key_share, 32);
	ck_assert_mem_eq(out + 95, "\x14\x03\x03\x00\x01\x01"
	    "\x17\x03\x03\x00\x01\x00\x17\x03\x03\x07\xd0", 17);
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 3, out, n,
	    &used), 0);
	ck_assert_uint_eq(used, want);
	/* A TDLib client reads one ApplicationData record only: mismatch. */
	ck_assert_int_eq(faketls_reply_verify(v.secret, v.h.random, 1, out, n,
	    &used), FAKETLS_ERR_DIGEST);
	/* Sizes out of range. */
	v.rp.napp = 0;
	ck_assert_int_eq(faketls_reply_len(&v.h, &v.rp, &n), FAKETLS_ERR_ARG);
	v.rp.napp = 1;
	n = 0;
	v.rp.app_sizes = &n;
	ck_assert_int_eq(faketls_reply_len(&v.h, &v.rp, &n), FAKETLS_ERR_ARG);
	n = TLS_CIPHERTEXT_MAX + 1;
	ck_assert_int_eq(faketls_reply_len(&v.h, &v.rp, &used),
	    FAKETLS_ERR_ARG);
	v.rp.app_sizes = sizes;
	v.rp.key_share = NULL;
	ck_assert_int_eq(faketls_reply_len(&v.h, &v.rp, &n), FAKETLS_ERR_ARG);
	free(out);
	free(fill);
}
END_TEST

/* A hello from the builder gets a reply its client accepts. */
START_TEST(reply_roundtrip)
{
	uint8_t hello[FAKETLS_BUILD_MAX], secret[SECRET_LEN], key[32],
	    priv[32], fill[3000], out[4000];
	struct faketls_hello h;
	struct faketls_reply rp;
	size_t n, size = 2600, used;

	vec_load_secret(secret);
	n = build("cover.example.org", 99, 0, hello);
	parse_ok(hello, n, &h);
	memset(priv, 3, sizeof(priv));
	ck_assert_int_eq(crypto_x25519_public(priv, key), 0);
	memset(fill, 0x5c, sizeof(fill));
	rp.key_share = key;
	rp.group = TLS_GROUP_X25519;
	rp.versions_first = 0;
	rp.app_sizes = &size;
	rp.napp = 1;
	rp.app_fill = fill;
	ck_assert_int_eq(faketls_reply_build(secret, &h, &rp, out, sizeof(out),
	    &n), 0);
	ck_assert_uint_eq(n, 127 + 6 + 5 + size);
	ck_assert_mem_eq(out + 44, h.session_id, 32);
	ck_assert_int_eq(faketls_reply_verify(secret, h.random, 1, out, n,
	    &used), 0);
	ck_assert_uint_eq(used, n);
}
END_TEST

/* ---- records after the handshake ---- */

/* CCS, then data wrapped in records of up to max bytes. */
static size_t
client_stream(const uint8_t *data, size_t len, size_t max, uint8_t *out,
    size_t cap)
{
	size_t n;

	ck_assert_uint_ge(cap, FAKETLS_CCS_LEN);
	memcpy(out, FAKETLS_CCS, FAKETLS_CCS_LEN);
	ck_assert_int_eq(faketls_wrap(data, len, max, out + FAKETLS_CCS_LEN,
	    cap - FAKETLS_CCS_LEN, &n), 0);
	return FAKETLS_CCS_LEN + n;
}

START_TEST(reader_splits)
{
	uint8_t data[3000], stream[3200], buf[3200], got[3000];
	struct faketls_reader r;
	const uint8_t *p;
	size_t n, k, out, got_len, off, used, plen, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	n = client_stream(data, sizeof(data), 1000, stream, sizeof(stream));
	ck_assert_uint_eq(n, 6 + 3 * 1005);
	/* Two reads, cut at every point; unwrapped in place. */
	for (k = 0; k <= n; k++) {
		faketls_reader_init(&r);
		memcpy(buf, stream, n);
		ck_assert_int_eq(faketls_reader_unwrap(&r, buf, k, &out), 0);
		got_len = out;
		memcpy(got, buf, out);
		ck_assert_int_eq(faketls_reader_unwrap(&r, buf + k, n - k,
		    &out), 0);
		memcpy(got + got_len, buf + k, out);
		got_len += out;
		ck_assert_uint_eq(got_len, sizeof(data));
		ck_assert_mem_eq(got, data, sizeof(data));
	}
	/* One byte at a time: payload slices point into the input. */
	faketls_reader_init(&r);
	for (off = 0, got_len = 0; off < n; off += used) {
		ck_assert_int_eq(faketls_reader_next(&r, stream + off, 1, &used,
		    &p, &plen), 0);
		ck_assert_uint_eq(used, 1);
		if (plen > 0) {
			ck_assert_ptr_eq(p, stream + off);
			got[got_len++] = *p;
		}
	}
	ck_assert_uint_eq(got_len, sizeof(data));
	ck_assert_mem_eq(got, data, sizeof(data));
	/* A whole record's payload comes out as one slice. */
	faketls_reader_init(&r);
	ck_assert_int_eq(faketls_reader_next(&r, stream, n, &used, &p, &plen),
	    0);
	ck_assert_uint_eq(used, 5);
	ck_assert_uint_eq(plen, 0);
	ck_assert_int_eq(faketls_reader_next(&r, stream + 5, n - 5, &used, &p,
	    &plen), 0);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(faketls_reader_next(&r, stream + 6, n - 6, &used, &p,
	    &plen), 0);
	ck_assert_int_eq(faketls_reader_next(&r, stream + 11, n - 11, &used, &p,
	    &plen), 0);
	ck_assert_uint_eq(used, 1000);
	ck_assert_uint_eq(plen, 1000);
	ck_assert_ptr_eq(p, stream + 11);
}
END_TEST

struct reader_case {
	const char *hex;
	int rc;
	size_t payload;
};

static const struct reader_case reader_cases[] = {
	/* Without CCS, with CCS, empty records, the largest record header. */
	{ "1703030003616263", 0, 3 },
	{ "1403030001011703030003616263", 0, 3 },
	{ "170303000017030300016114", 0, 1 },
	{ "1703034100", 0, 0 },
	/* CCS rules. */
	{ "170303000161140303000101", FAKETLS_ERR_RECORD, 1 },
	{ "140303000101140303000101", FAKETLS_ERR_RECORD, 0 },
	{ "1403030002", FAKETLS_ERR_RECORD, 0 },
	{ "1403030000", FAKETLS_ERR_RECORD, 0 },
	{ "140303000102", FAKETLS_ERR_RECORD, 0 },
	/* Other types, versions, sizes. */
	{ "1603030001", FAKETLS_ERR_RECORD, 0 },
	{ "1503030002", FAKETLS_ERR_RECORD, 0 },
	{ "0003030002", FAKETLS_ERR_RECORD, 0 },
	{ "1703010001", FAKETLS_ERR_VERSION, 0 },
	{ "1702030001", FAKETLS_ERR_VERSION, 0 },
	{ "1703034101", FAKETLS_ERR_OVERSIZE, 0 },
	{ "170303ffff", FAKETLS_ERR_OVERSIZE, 0 },
	{ "1703030001621704030000", FAKETLS_ERR_VERSION, 1 },
};
#define NREADER	(sizeof(reader_cases) / sizeof(reader_cases[0]))

START_TEST(reader_rules)
{
	const struct reader_case *c = &reader_cases[_i];
	struct faketls_reader r;
	const uint8_t *p;
	uint8_t buf[64];
	size_t n, off = 0, used, plen, total = 0;
	int rc = 0;

	n = itest_unhex(c->hex, buf, sizeof(buf));
	faketls_reader_init(&r);
	while (off < n && rc == 0) {
		rc = faketls_reader_next(&r, buf + off, n - off, &used, &p,
		    &plen);
		total += plen;
		off += used;
	}
	ck_assert_int_eq(rc, c->rc);
	ck_assert_uint_eq(total, c->payload);
	/* Sticky: the reader refuses anything after an error. */
	if (c->rc != 0) {
		ck_assert_int_eq(faketls_reader_next(&r, buf, 1, &used, &p,
		    &plen), c->rc);
		ck_assert_int_eq(faketls_reader_unwrap(&r, buf, n, &used),
		    c->rc);
	}
}
END_TEST

START_TEST(reader_args)
{
	struct faketls_reader r;
	const uint8_t *p;
	size_t used = 9, plen = 9;
	uint8_t b = 0x17;

	faketls_reader_init(&r);
	ck_assert_int_eq(faketls_reader_next(&r, &b, 0, &used, &p, &plen), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(plen, 0);
	ck_assert_int_eq(faketls_reader_next(NULL, &b, 1, &used, &p, &plen),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_reader_next(&r, NULL, 1, &used, &p, &plen),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_reader_unwrap(&r, NULL, 1, &used),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_reader_unwrap(&r, &b, 1, NULL),
	    FAKETLS_ERR_ARG);
}
END_TEST

START_TEST(wrap_sizes)
{
	static const struct {
		size_t len, max, want;
	} cases[] = {
		{ 0, 1369, 0 }, { 1, 1369, 6 }, { 1369, 1369, 1374 },
		{ 1370, 1369, 1380 }, { 3 * 16384, 16384, 3 * 16389 },
		{ 10, 1, 60 }, { 16640, TLS_CIPHERTEXT_MAX, 16645 },
		{ 100000, 1425, 100000 + 71 * 5 },
	};
	uint8_t *in, *out, *back;
	struct faketls_reader r;
	size_t i, n, total, k, off;

	in = malloc(100000);
	out = malloc(200000);
	back = malloc(200000);
	ck_assert(in != NULL && out != NULL && back != NULL);
	for (i = 0; i < 100000; i++)
		in[i] = (uint8_t)(i ^ (i >> 8));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(faketls_wrap_len(cases[i].len, cases[i].max,
		    &total), 0);
		ck_assert_uint_eq(total, cases[i].want);
		ck_assert_int_eq(faketls_wrap(in, cases[i].len, cases[i].max,
		    out, total, &n), 0);
		ck_assert_uint_eq(n, total);
		/* Every record full but the last, each 17 03 03 <len>. */
		for (off = 0, k = 0; off < n; k += out[off + 3] << 8 |
		    out[off + 4], off += 5 + (size_t)(out[off + 3] << 8 |
		    out[off + 4])) {
			ck_assert_mem_eq(out + off, "\x17\x03\x03", 3);
			ck_assert_uint_eq((size_t)(out[off + 3] << 8 |
			    out[off + 4]), cases[i].len - k < cases[i].max ?
			    cases[i].len - k : cases[i].max);
		}
		ck_assert_uint_eq(k, cases[i].len);
		faketls_reader_init(&r);
		memcpy(back, out, n);
		ck_assert_int_eq(faketls_reader_unwrap(&r, back, n, &k), 0);
		ck_assert_uint_eq(k, cases[i].len);
		ck_assert_mem_eq(back, in, k);
	}
	ck_assert_int_eq(faketls_wrap(in, 10, 5, out, 19, &n),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_wrap_len(10, 0, &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_wrap_len(10, TLS_CIPHERTEXT_MAX + 1, &n),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_wrap(NULL, 10, 5, out, 100, &n),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_wrap(in, 0, 5, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(in);
	free(out);
	free(back);
}
END_TEST

START_TEST(drs_policy)
{
	ck_assert_uint_eq(faketls_drs_size(0, 0), 1369);
	ck_assert_uint_eq(faketls_drs_size(128 * 1024 - 1, 0), 1369);
	ck_assert_uint_eq(faketls_drs_size(128 * 1024, 0), 16384);
	ck_assert_uint_eq(faketls_drs_size(UINT64_MAX, 999), 16384);
	ck_assert_uint_eq(faketls_drs_size(UINT64_MAX, 1000), 1369);
	ck_assert_uint_eq(faketls_drs_size(0, UINT64_MAX), 1369);
	ck_assert_uint_le(FAKETLS_DRS_LARGE, TLS_CIPHERTEXT_MAX);
}
END_TEST

/* ---- The cover site's ServerHello ---- */

enum { SH_SV_FIRST = 1, SH_NO_SV = 2, SH_NO_KS = 4, SH_SV_12 = 8,
    SH_HRR = 16, SH_OTHER = 32 };

/* A ServerHello message written out by hand; returns its length. */
static size_t
put_sh(uint8_t *m, int flags)
{
	static const uint8_t ks[] = { 0x00, 0x33, 0x00, 0x06, 0x00, 0x1d,
	    0x00, 0x02, 0xab, 0xcd };
	static const uint8_t sv13[] = { 0x00, 0x2b, 0x00, 0x02, 0x03, 0x04 };
	static const uint8_t sv12[] = { 0x00, 0x2b, 0x00, 0x02, 0x03, 0x03 };
	static const uint8_t other[] = { 0x00, 0x17, 0x00, 0x00 };
	const uint8_t *sv = flags & SH_SV_12 ? sv12 : sv13;
	size_t n = 4, ext;

	m[n++] = 0x03;
	m[n++] = 0x03;
	if (flags & SH_HRR)
		memcpy(m + n, TLS_HRR_RANDOM, 32);
	else
		memset(m + n, 0x5a, 32);
	n += 32;
	m[n++] = 32;
	memset(m + n, 0x77, 32);
	n += 32;
	m[n++] = 0x13;
	m[n++] = 0x01;
	m[n++] = 0x00;
	ext = n;
	n += 2;
	if (flags & SH_OTHER) {
		memcpy(m + n, other, sizeof(other));
		n += sizeof(other);
	}
	if ((flags & SH_SV_FIRST) && !(flags & SH_NO_SV)) {
		memcpy(m + n, sv, sizeof(sv13));
		n += sizeof(sv13);
	}
	if (!(flags & SH_NO_KS)) {
		memcpy(m + n, ks, sizeof(ks));
		n += sizeof(ks);
	}
	if (!(flags & SH_SV_FIRST) && !(flags & SH_NO_SV)) {
		memcpy(m + n, sv, sizeof(sv13));
		n += sizeof(sv13);
	}
	m[ext] = (uint8_t)((n - ext - 2) >> 8);
	m[ext + 1] = (uint8_t)(n - ext - 2);
	m[0] = 0x02;
	m[1] = 0;
	m[2] = (uint8_t)((n - 4) >> 8);
	m[3] = (uint8_t)(n - 4);
	return n;
}

START_TEST(server_hello_order)
{
	static const int cases[][2] = {
		{ SH_SV_FIRST, 1 }, { 0, 0 },
		{ SH_SV_FIRST | SH_OTHER, 1 }, { SH_OTHER, 0 },
	};
	uint8_t m[256];
	size_t i, n;
	int vf;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = put_sh(m, cases[i][0]);
		vf = -1;
		ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf), 0);
		ck_assert_int_eq(vf, cases[i][1]);
	}
}
END_TEST

START_TEST(server_hello_refused)
{
	static const int flags[] = { SH_NO_SV, SH_NO_KS, SH_SV_12,
	    SH_SV_FIRST | SH_SV_12, SH_NO_SV | SH_NO_KS | SH_OTHER };
	uint8_t m[256];
	size_t i, n;
	int vf = 7;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		n = put_sh(m, flags[i]);
		ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
		    FAKETLS_ERR_VERSION);
	}
	n = put_sh(m, SH_SV_FIRST | SH_HRR);
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
	    FAKETLS_ERR_HRR);
	/* Not a ServerHello, or not the length its header says. */
	n = put_sh(m, SH_SV_FIRST);
	m[0] = 0x01;
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
	    FAKETLS_ERR_RECORD);
	m[0] = 0x02;
	ck_assert_int_eq(faketls_server_hello_parse(m, n + 1, &vf),
	    FAKETLS_ERR_RECORD);
	/* A session id over 32 bytes. */
	m[38] = 33;
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
	    FAKETLS_ERR_SESSION_ID);
	m[38] = 32;
	/* Extensions length one off either way. */
	m[75]++;
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
	    FAKETLS_ERR_EXTENSIONS);
	m[75] -= 2;
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
	    FAKETLS_ERR_EXTENSIONS);
	m[75]++;
	/* The last extension's length runs past the end. */
	m[n - 7]++;
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf),
	    FAKETLS_ERR_EXTENSIONS);
	m[n - 7]--;
	ck_assert_int_eq(faketls_server_hello_parse(m, n, &vf), 0);
	ck_assert_int_eq(vf, 1);
	ck_assert_int_eq(faketls_server_hello_parse(NULL, 4, &vf),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_server_hello_parse(m, n, NULL),
	    FAKETLS_ERR_ARG);
}
END_TEST

/* Cut anywhere, with the header's length made to match: never accepted. */
START_TEST(server_hello_truncated)
{
	uint8_t m[256], c[256];
	size_t n, cut;
	int vf = 7;

	n = put_sh(m, SH_SV_FIRST | SH_OTHER);
	for (cut = 0; cut < n; cut++) {
		memcpy(c, m, cut);
		if (cut >= 4) {
			c[2] = (uint8_t)((cut - 4) >> 8);
			c[3] = (uint8_t)(cut - 4);
		}
		ck_assert_int_ne(faketls_server_hello_parse(c, cut, &vf), 0);
		ck_assert_int_eq(vf, 7);
	}
}
END_TEST

/* The key_share's group, and whether it is a HelloRetryRequest. */
START_TEST(server_hello_info_group)
{
	struct faketls_server_info si;
	uint8_t m[256];
	size_t n;

	n = put_sh(m, SH_SV_FIRST | SH_OTHER);
	ck_assert_int_eq(faketls_server_hello_info(m, n, &si), 0);
	ck_assert_int_eq(si.hrr, 0);
	ck_assert_int_eq(si.versions_first, 1);
	ck_assert_uint_eq(si.group, 0x001d);
	/* The group is the 2 bytes after the key_share's header. */
	ck_assert_int_eq(m[n - 6], 0x00);
	m[n - 6] = 0x11;
	m[n - 5] = 0xec;
	ck_assert_int_eq(faketls_server_hello_info(m, n, &si), 0);
	ck_assert_uint_eq(si.group, FAKETLS_GROUP_X25519MLKEM768);
	n = put_sh(m, SH_HRR);
	ck_assert_int_eq(faketls_server_hello_info(m, n, &si), 0);
	ck_assert_int_eq(si.hrr, 1);
	ck_assert_int_eq(si.versions_first, 0);
	ck_assert_uint_eq(si.group, 0x001d);
	ck_assert_int_eq(faketls_server_hello_info(m, n, NULL),
	    FAKETLS_ERR_ARG);
}
END_TEST

/* Extension type's body in a one-record hello; NULL if absent. */
static const uint8_t *
hello_ext(const uint8_t *h, size_t len, uint16_t type, size_t *elen)
{
	size_t off = 5 + 4 + 2 + 32, end;

	off += 1 + h[off];
	off += 2 + ((size_t)h[off] << 8 | h[off + 1]);
	off += 1 + h[off];
	end = off + 2 + ((size_t)h[off] << 8 | h[off + 1]);
	ck_assert_uint_eq(end, len);
	for (off += 2; off + 4 <= end; off += 4 + *elen) {
		*elen = (size_t)h[off + 2] << 8 | h[off + 3];
		if (((uint16_t)(h[off] << 8 | h[off + 1])) == type)
			return h + off + 4;
	}
	return NULL;
}

/*
 * The check's hello: a valid signed hello for the domain that offers the
 * hybrid first in supported_groups and key_share, with a well-formed
 * ML-KEM-768 key: every coefficient below q, made from any bytes.
 */
START_TEST(pq_hello)
{
	static const uint8_t secret[SECRET_LEN] = { 7, 7, 7 };
	const uint8_t (*secrets)[SECRET_LEN] = &secret;
	struct faketls_client_rand r;
	struct faketls_hello fh;
	struct faketls_match fm;
	uint8_t pq[FAKETLS_PQ_SHARE_LEN], out[FAKETLS_PQ_BUILD_MAX];
	const uint8_t *e, *k;
	size_t len, elen, i;
	unsigned a, b;

	memset(&r, 0x21, sizeof(r));
	memset(pq, 0xff, sizeof(pq));
	ck_assert_int_eq(faketls_hello_build_pq(secret, "cover.example",
	    1700000000, &r, pq, out, sizeof(out), &len), 0);
	ck_assert_int_eq(faketls_hello_parse(out, len, &fh), 0);
	ck_assert_uint_eq(fh.wire_len, len);
	ck_assert_str_eq(fh.sni, "cover.example");
	ck_assert_int_eq(faketls_hello_verify(out, &fh, secrets, 1, &fm), 0);
	ck_assert_uint_eq(fm.ts, 1700000000);
	e = hello_ext(out, len, 0x000a, &elen);
	ck_assert_ptr_nonnull(e);
	/* list length, GREASE, then the hybrid before x25519 */
	ck_assert_uint_eq(elen, 2 + 5 * 2);
	ck_assert_int_eq(e[4] << 8 | e[5], FAKETLS_GROUP_X25519MLKEM768);
	ck_assert_int_eq(e[6] << 8 | e[7], 0x001d);
	e = hello_ext(out, len, 0x0033, &elen);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(elen, 2 + 5 + 4 + FAKETLS_PQ_SHARE_LEN + 4 + 32);
	k = e + 2 + 5;
	ck_assert_int_eq(k[0] << 8 | k[1], FAKETLS_GROUP_X25519MLKEM768);
	ck_assert_int_eq(k[2] << 8 | k[3], FAKETLS_PQ_SHARE_LEN);
	k += 4;
	/* 0xfff folds to 4095 - 3329 = 766 = 0x2fe. */
	for (i = 0; i < FAKETLS_MLKEM768_T_LEN; i += 3) {
		a = k[i] | (unsigned)(k[i + 1] & 0x0f) << 8;
		b = (unsigned)k[i + 1] >> 4 | (unsigned)k[i + 2] << 4;
		ck_assert_uint_eq(a, 766);
		ck_assert_uint_eq(b, 766);
	}
	for (i = FAKETLS_MLKEM768_T_LEN; i < FAKETLS_PQ_SHARE_LEN; i++)
		ck_assert_uint_eq(k[i], 0xff);
	k += FAKETLS_PQ_SHARE_LEN;
	ck_assert_int_eq(k[0] << 8 | k[1], 0x001d);
	ck_assert_mem_eq(k + 4, r.key_share, 32);
	/* Coefficients below q stay as they are. */
	memset(pq, 0x00, sizeof(pq));
	pq[0] = 0x00;
	pq[1] = 0x0d;
	ck_assert_int_eq(faketls_hello_build_pq(secret, "cover.example",
	    1700000000, &r, pq, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(pq[1], 0x0d);
	ck_assert_int_eq(faketls_hello_build_pq(secret, "cover.example",
	    1700000000, &r, NULL, out, sizeof(out), &len), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_hello_build_pq(secret, "cover.example",
	    1700000000, &r, pq, out, FAKETLS_BUILD_MAX, &len), FAKETLS_ERR_ARG);
}
END_TEST

/*
 * RFC 8448 3 (simple 1-RTT handshake): the client's ClientHello record as
 * the RFC prints it, SNI "server"; then by hand the same without its SNI
 * extension (the lengths 15 bytes shorter), as iOS apps send theirs.
 */
static const char rfc8448_hello[] =
    "16030100c4010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18"
    "a2ef6283024dece7000006130113031302010000910000000b0009000006736572766572"
    "ff01000100000a00140012001d0017001800190100010101020103010400230000003300"
    "260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e52"
    "9aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102"
    "01040205020602020200 2d00020101001c00024001";
static const char rfc8448_no_sni[] =
    "16030100b5010000b10303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18"
    "a2ef6283024dece700000613011303130201000082"
    "ff01000100000a00140012001d0017001800190100010101020103010400230000003300"
    "260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e52"
    "9aaf2c002b0003020304000d0020001e040305030603020308040805080604010501060102"
    "01040205020602020200 2d00020101001c00024001";

static size_t
unhex_spaced(const char *hex, uint8_t *out, size_t cap)
{
	char clean[512];
	size_t n = 0;

	for (; *hex != '\0'; hex++)
		if (*hex != ' ') {
			ck_assert_uint_lt(n, sizeof(clean) - 1);
			clean[n++] = *hex;
		}
	clean[n] = '\0';
	return itest_unhex(clean, out, cap);
}

START_TEST(rfc8448_hellos)
{
	uint8_t buf[256];
	struct faketls_hello h;
	size_t n;

	n = unhex_spaced(rfc8448_hello, buf, sizeof(buf));
	ck_assert_uint_eq(n, 201);
	parse_ok(buf, n, &h);
	ck_assert_str_eq(h.sni, "server");
	ck_assert_uint_eq(h.sni_len, 6);
	ck_assert_uint_eq(h.session_id_len, 0);
	ck_assert_uint_eq(h.cipher_suite, 0x1301);
	ck_assert_uint_eq(h.wire_len, 201);
	ck_assert_uint_eq(h.msg_len, 196);
	/* The record version 03 03 some clients send. */
	buf[2] = 0x03;
	parse_ok(buf, n, &h);
	ck_assert_str_eq(h.sni, "server");
	n = unhex_spaced(rfc8448_no_sni, buf, sizeof(buf));
	ck_assert_uint_eq(n, 186);
	parse_ok(buf, n, &h);
	ck_assert_uint_eq(h.sni_len, 0);
	ck_assert_str_eq(h.sni, "");
	ck_assert_uint_eq(h.wire_len, 186);
}
END_TEST

/* The record headers of wire[0..len): count, and each one's version. */
static size_t
record_count(const uint8_t *wire, size_t len, uint8_t version_lo)
{
	size_t off = 0, n = 0;

	while (off < len) {
		ck_assert_uint_eq(wire[off], TLS_RECORD_HANDSHAKE);
		ck_assert_uint_eq(wire[off + 1], 0x03);
		ck_assert_uint_eq(wire[off + 2], version_lo);
		ck_assert_uint_le(bytes_be16(wire + off + 3), TLS_PLAINTEXT_MAX);
		off += TLS_RECORD_HEADER_LEN + bytes_be16(wire + off + 3);
		n++;
	}
	ck_assert_uint_eq(off, len);
	return n;
}

/*
 * faketls_hello_build_with: each shape parses back as built, in the
 * records asked for (a 16 KiB message in two when not cut), signed.
 */
START_TEST(builder_shapes)
{
	static const uint8_t secret[SECRET_LEN] = { 9, 8, 7 };
	const uint8_t (*secrets)[SECRET_LEN] = &secret;
	uint8_t *out = malloc(FAKETLS_HELLO_MAX), pq[FAKETLS_PQ_SHARE_LEN];
	struct faketls_build b = { .domain = "cover.example" };
	struct faketls_client_rand r;
	struct faketls_hello h;
	struct faketls_match m;
	const uint8_t *e;
	size_t len, elen;

	ck_assert_ptr_nonnull(out);
	client_rand(&r, 0x33);
	memset(pq, 0x5a, sizeof(pq));
	/* Chrome: PQ, ECH, ALPS, no SNI, 03 03, padded to 2 KiB. */
	b.domain = NULL;
	b.pq_share = pq;
	b.ech = 1;
	b.alps = FAKETLS_EXT_ALPS;
	b.record_version = TLS_VERSION_12;
	b.msg_len = 2048;
	ck_assert_int_eq(faketls_hello_build_with(secret, &b, 1700000000, &r,
	    out, FAKETLS_HELLO_MAX, &len), 0);
	ck_assert_uint_eq(len, 2048 + TLS_RECORD_HEADER_LEN);
	ck_assert_uint_eq(record_count(out, len, 0x03), 1);
	parse_ok(out, len, &h);
	ck_assert_uint_eq(h.sni_len, 0);
	ck_assert_ptr_null(hello_ext(out, len, TLS_EXT_SNI, &elen));
	ck_assert_ptr_nonnull(e = hello_ext(out, len, FAKETLS_EXT_ECH, &elen));
	ck_assert_uint_eq(elen, 6 + 2 + 32 + 2 + 144);
	ck_assert_ptr_nonnull(e = hello_ext(out, len, FAKETLS_EXT_ALPS, &elen));
	ck_assert_uint_eq(elen, 5);
	ck_assert_mem_eq(e, "\x00\x03\x02h2", 5);
	ck_assert_ptr_nonnull(e = hello_ext(out, len, TLS_EXT_KEY_SHARE, &elen));
	ck_assert_uint_eq(elen, 2 + 5 + 4 + FAKETLS_PQ_SHARE_LEN + 4 + 32);
	ck_assert_int_eq(faketls_hello_verify(out, &h, secrets, 1, &m), 0);
	ck_assert_uint_eq(m.ts, 1700000000);
	/* 16 KiB: one full record, or two when the message is cut. */
	memset(&b, 0, sizeof(b));
	b.alps = FAKETLS_EXT_ALPS_OLD;
	b.msg_len = FAKETLS_HELLO_MSG_MAX;
	ck_assert_int_eq(faketls_hello_build_with(secret, &b, 5, &r, out,
	    FAKETLS_HELLO_MAX, &len), 0);
	ck_assert_uint_eq(record_count(out, len, 0x01), 1);
	ck_assert_ptr_nonnull(hello_ext(out, len, FAKETLS_EXT_ALPS_OLD, &elen));
	parse_ok(out, len, &h);
	ck_assert_uint_eq(h.msg_len, FAKETLS_HELLO_MSG_MAX);
	b.cuts[0] = 1;
	b.cuts[1] = 3;
	b.cuts[2] = 9000;
	ck_assert_int_eq(faketls_hello_build_with(secret, &b, 5, &r, out,
	    FAKETLS_HELLO_MAX, &len), 0);
	ck_assert_uint_eq(record_count(out, len, 0x01), 4);
	parse_ok(out, len, &h);
	ck_assert_uint_eq(h.nrecords, 4);
	ck_assert_uint_eq(h.msg_len, FAKETLS_HELLO_MSG_MAX);
	ck_assert_int_eq(faketls_hello_verify(out, &h, secrets, 1, &m), 0);
	ck_assert_uint_eq(m.ts, 5);
	/* Sizes it cannot make, versions no client sends. */
	b.cuts[0] = 0;
	b.msg_len = FAKETLS_HELLO_MSG_MAX + 1;
	ck_assert_int_eq(faketls_hello_build_with(secret, &b, 5, &r, out,
	    FAKETLS_HELLO_MAX, &len), FAKETLS_ERR_ARG);
	b.msg_len = 100;
	ck_assert_int_eq(faketls_hello_build_with(secret, &b, 5, &r, out,
	    FAKETLS_HELLO_MAX, &len), FAKETLS_ERR_ARG);
	b.msg_len = 0;
	b.record_version = 0x0302;
	ck_assert_int_eq(faketls_hello_build_with(secret, &b, 5, &r, out,
	    FAKETLS_HELLO_MAX, &len), FAKETLS_ERR_ARG);
	free(out);
}
END_TEST

/* A pq hello as pq_hello builds it, parsed after mutate changed it. */
static unsigned
pq_groups(void (*mutate)(uint8_t *out, size_t len))
{
	static const uint8_t secret[SECRET_LEN] = { 7, 7, 7 };
	struct faketls_client_rand r;
	struct faketls_hello fh;
	uint8_t pq[FAKETLS_PQ_SHARE_LEN], out[FAKETLS_PQ_BUILD_MAX];
	size_t len;

	memset(&r, 0x21, sizeof(r));
	memset(pq, 0x33, sizeof(pq));
	ck_assert_int_eq(faketls_hello_build_pq(secret, "cover.example",
	    1700000000, &r, pq, out, sizeof(out), &len), 0);
	if (mutate != NULL)
		mutate(out, len);
	ck_assert_int_eq(faketls_hello_parse(out, len, &fh), 0);
	return fh.groups;
}

/* key_share: GREASE, hybrid, x25519 - the entry at index i renamed. */
static void
rename_share(uint8_t *out, size_t len, size_t i, uint16_t group)
{
	size_t elen, off = 2;
	uint8_t *e = (uint8_t *)hello_ext(out, len, 0x0033, &elen);

	ck_assert_ptr_nonnull(e);
	while (i-- > 0)
		off += 4 + (size_t)(e[off + 2] << 8 | e[off + 3]);
	e[off] = (uint8_t)(group >> 8);
	e[off + 1] = (uint8_t)group;
}

static void
x25519_share_greased(uint8_t *out, size_t len)
{
	rename_share(out, len, 2, 0x5a5a);
}

static void
hybrid_share_greased(uint8_t *out, size_t len)
{
	rename_share(out, len, 1, 0x5a5a);
}

/* supported_groups: GREASE, hybrid, x25519, ...: the hybrid unlisted. */
static void
hybrid_unlisted(uint8_t *out, size_t len)
{
	size_t elen;
	uint8_t *e = (uint8_t *)hello_ext(out, len, 0x000a, &elen);

	ck_assert_ptr_nonnull(e);
	e[4] = 0x00;
	e[5] = 0x19;
}

/* A key_share list length one short: the list offers nothing. */
static void
shares_malformed(uint8_t *out, size_t len)
{
	size_t elen;
	uint8_t *e = (uint8_t *)hello_ext(out, len, 0x0033, &elen);

	ck_assert_ptr_nonnull(e);
	e[1]--;
}

/*
 * The groups a hello offers are those with a share of the right size that
 * supported_groups lists too.
 */
START_TEST(hello_groups)
{
	uint8_t hello[FAKETLS_BUILD_MAX];
	struct faketls_hello h;

	parse_ok(hello, build("cover.example.org", 99, 0, hello), &h);
	ck_assert_uint_eq(h.groups, FAKETLS_OFFER_X25519);
	/* Split over two records: the same. */
	parse_ok(hello, build("cover.example.org", 99, 100, hello), &h);
	ck_assert_uint_eq(h.groups, FAKETLS_OFFER_X25519);
	ck_assert_uint_eq(pq_groups(NULL),
	    FAKETLS_OFFER_X25519 | FAKETLS_OFFER_HYBRID);
	ck_assert_uint_eq(pq_groups(x25519_share_greased),
	    FAKETLS_OFFER_HYBRID);
	ck_assert_uint_eq(pq_groups(hybrid_share_greased),
	    FAKETLS_OFFER_X25519);
	ck_assert_uint_eq(pq_groups(hybrid_unlisted), FAKETLS_OFFER_X25519);
	ck_assert_uint_eq(pq_groups(shares_malformed), 0);
}
END_TEST

/* The cover's pick for the client's groups; never a group not offered. */
START_TEST(reply_group_choice)
{
	static const struct {
		unsigned groups;
		uint16_t pick, want;	/* want 0: FAKETLS_ERR_GROUP */
	} t[] = {
		{ FAKETLS_OFFER_X25519, 0x001d, 0x001d },
		{ FAKETLS_OFFER_X25519, 0x11ec, 0x001d },
		{ FAKETLS_OFFER_HYBRID, 0x11ec, 0x11ec },
		{ FAKETLS_OFFER_HYBRID, 0x001d, 0 },
		{ FAKETLS_OFFER_X25519 | FAKETLS_OFFER_HYBRID, 0x11ec, 0x11ec },
		{ FAKETLS_OFFER_X25519 | FAKETLS_OFFER_HYBRID, 0x001d, 0x001d },
		{ FAKETLS_OFFER_X25519 | FAKETLS_OFFER_HYBRID, 0x0017, 0x001d },
		{ 0, 0x11ec, 0 },
		{ 0, 0x001d, 0 },
	};
	struct faketls_hello h;
	uint16_t g;
	size_t i;

	memset(&h, 0, sizeof(h));
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		h.groups = t[i].groups;
		g = 0xffff;
		ck_assert_int_eq(faketls_reply_group(&h, t[i].pick, &g),
		    t[i].want != 0 ? 0 : FAKETLS_ERR_GROUP);
		ck_assert_uint_eq(g, t[i].want != 0 ? t[i].want : 0xffff);
	}
	ck_assert_int_eq(faketls_reply_group(NULL, 0x001d, &g),
	    FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_reply_group(&h, 0x001d, NULL),
	    FAKETLS_ERR_ARG);
}
END_TEST

/*
 * A hybrid reply: the key_share carries 1120 bytes (ciphertext, then the
 * x25519 key) under group 0x11ec, the lengths grow by 1088, the client
 * accepts it and the probe's parser reads it back.
 */
START_TEST(reply_hybrid)
{
	uint8_t hello[FAKETLS_BUILD_MAX], secret[SECRET_LEN], out[5000],
	    key[FAKETLS_PQ_REPLY_SHARE_LEN], fill[2600];
	struct faketls_server_info si;
	struct faketls_hello h;
	struct faketls_reply rp;
	size_t n, x25519_len, size = sizeof(fill), used, i;

	vec_load_secret(secret);
	parse_ok(hello, build("cover.example.org", 99, 0, hello), &h);
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	memset(fill, 0x5c, sizeof(fill));
	memset(&rp, 0, sizeof(rp));
	rp.key_share = key;
	rp.app_sizes = &size;
	rp.napp = 1;
	rp.app_fill = fill;
	ck_assert_int_eq(faketls_reply_len(&h, &rp, &x25519_len), 0);
	ck_assert_uint_eq(x25519_len, 127 + 6 + 5 + size);
	rp.group = FAKETLS_GROUP_X25519MLKEM768;
	rp.versions_first = 1;
	ck_assert_int_eq(faketls_reply_len(&h, &rp, &n), 0);
	ck_assert_uint_eq(n, x25519_len + FAKETLS_MLKEM768_CT_LEN);
	ck_assert_int_eq(faketls_reply_build(secret, &h, &rp, out, n - 1,
	    &used), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_reply_build(secret, &h, &rp, out,
	    sizeof(out), &n), 0);
	ck_assert_uint_eq(n, x25519_len + FAKETLS_MLKEM768_CT_LEN);
	/* 122 + 1088 = 0x4ba in the record, 0x4b6 in the message. */
	ck_assert_mem_eq(out, "\x16\x03\x03\x04\xba\x02\x00\x04\xb6", 9);
	ck_assert_mem_eq(out + 81, "\x00\x2b\x00\x02\x03\x04"
	    "\x00\x33\x04\x64\x11\xec\x04\x60", 14);
	ck_assert_mem_eq(out + 95, key, sizeof(key));
	ck_assert_mem_eq(out + 95 + sizeof(key), FAKETLS_CCS "\x17\x03\x03"
	    "\x0a\x28", 11);
	ck_assert_int_eq(faketls_reply_verify(secret, h.random, 1, out, n,
	    &used), 0);
	ck_assert_uint_eq(used, n);
	ck_assert_int_eq(faketls_server_hello_info(out + 5, 0x4ba, &si), 0);
	ck_assert_uint_eq(si.group, FAKETLS_GROUP_X25519MLKEM768);
	ck_assert_uint_eq(si.share_len, FAKETLS_PQ_REPLY_SHARE_LEN);
	ck_assert_int_eq(si.versions_first, 1);
	/* A group we have no share size for. */
	rp.group = TLS_GROUP_SECP256R1;
	ck_assert_int_eq(faketls_reply_len(&h, &rp, &n), FAKETLS_ERR_ARG);
	ck_assert_int_eq(faketls_reply_build(secret, &h, &rp, out,
	    sizeof(out), &n), FAKETLS_ERR_ARG);
}
END_TEST

static Suite *
faketls_suite(void)
{
	Suite *s = suite_create("faketls");
	TCase *tc = tcase_create("hello");
	TCase *tr = tcase_create("reply");
	TCase *tl = tcase_create("records");

	tcase_add_test(tc, vector_hello);
	tcase_add_test(tc, vector_wrong_secret);
	tcase_add_test(tc, verify_from_order);
	tcase_add_test(tc, vector_flipped_byte);
	tcase_add_test(tc, time_window);
	tcase_add_test(tc, skew_past_from_cache);
	tcase_add_test(tc, mk_valid);
	tcase_add_test(tc, reject_not_tls);
	tcase_add_test(tc, reject_version);
	tcase_add_test(tc, reject_record);
	tcase_add_test(tc, reject_truncated);
	tcase_add_test(tc, reject_oversize);
	tcase_add_test(tc, reject_session_id);
	tcase_add_test(tc, reject_cipher);
	tcase_add_test(tc, reject_extensions);
	tcase_add_test(tc, accept_no_sni);
	tcase_add_test(tc, reject_bad_sni);
	tcase_add_test(tc, split_reads);
	tcase_add_test(tc, split_records_signed);
	tcase_add_test(tc, split_records_recut);
	tcase_add_test(tc, verify_args);
	tcase_add_test(tc, builder_shape);
	tcase_add_test(tc, builder_domains);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, reply_vector);
	tcase_add_test(tr, reply_client_verify);
	tcase_add_test(tr, reply_shapes);
	tcase_add_test(tr, reply_roundtrip);
	tcase_add_test(tr, server_hello_order);
	tcase_add_test(tr, server_hello_refused);
	tcase_add_test(tr, server_hello_truncated);
	tcase_add_test(tr, server_hello_info_group);
	tcase_add_test(tc, pq_hello);
	tcase_add_test(tc, rfc8448_hellos);
	tcase_add_test(tc, builder_shapes);
	tcase_add_test(tc, hello_groups);
	tcase_add_test(tr, reply_group_choice);
	tcase_add_test(tr, reply_hybrid);
	suite_add_tcase(s, tr);
	tcase_add_test(tl, reader_splits);
	tcase_add_loop_test(tl, reader_rules, 0, NREADER);
	tcase_add_test(tl, reader_args);
	tcase_add_test(tl, wrap_sizes);
	tcase_add_test(tl, drs_policy);
	suite_add_tcase(s, tl);
	return s;
}

Suite *
ckmain_suite(void)
{
	return faketls_suite();
}
