/*
 * handshake_run over a socketpair with a stub environment (hsenv): every
 * way a client passes and every reason it fails, with the bytes read, kept
 * and answered compared byte for byte.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ckmain.h"
#include "crypto.h"
#include "handshake.h"
#include "hsenv.h"
#include "log.h"
#include "mask.h"
#include "net.h"
#include "replay.h"

#define NOW		1764000000
#define STREAM_MAX	4096
#define DOMAIN		"example.com"

static const uint8_t alice[SECRET_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
static const uint8_t bob[SECRET_LEN] = {
	0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
	0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f };
static const uint8_t stranger[SECRET_LEN] = { 0x55, 0x66 };
static const uint8_t tail[] = "bytes after the header";

static const char users[] =
    "[users]\n"
    "alice = 000102030405060708090a0b0c0d0e0f\n"
    "bob = f0e1d2c3b4a5968778695a4b3c2d1e0f\n";

static struct mask *cover;
static struct hsenv hs;

/* A stream being built: what the client sends. */
struct stream {
	uint8_t b[STREAM_MAX];
	size_t n;
};

static void
put(struct stream *s, const void *p, size_t n)
{
	ck_assert_uint_le(s->n + n, sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void
env_up(const char *server_ini)
{
	char ini[512];
	struct config none;

	log_set_level(LOGL_ERROR);
	config_defaults(&none);
	ck_assert_int_eq(mask_new(&none, &cover), 0);
	snprintf(ini, sizeof(ini), "%s%s", server_ini, users);
	ck_assert_int_eq(hsenv_init(&hs, ini, cover), 0);
	ck_assert_int_eq(replay_new(&hs.env.replay, 64, FAKETLS_REPLAY_WINDOW),
	    0);
}

static void
env_down(void)
{
	replay_free(hs.env.replay);
	hsenv_free(&hs);
	mask_free(cover);
}

static void
setup_all(void)
{
	env_up("[server]\nmodes = classic, secure, tls\n[tls]\ndomain = "
	    DOMAIN "\n");
}

/*
 * An obfuscated2 header for secret with tag and DC 2. Not one that starts
 * like a TLS record: in small pieces that may pass for a broken hello
 * before its 64 bytes are in (see tls_hello), which a test would then
 * meet once in 256 runs.
 */
static void
put_header(struct stream *s, const uint8_t *secret, uint32_t tag)
{
	uint8_t rnd[OBFS2_HEADER_LEN], wire[OBFS2_HEADER_LEN];
	struct obfs2_keys k;
	int rc;

	do {
		ck_assert_int_eq(crypto_random(rnd, sizeof(rnd)), 0);
		rc = obfs2_build(rnd, tag, 2, secret, NULL, NULL, wire, &k);
	} while (rc == OBFS2_ERR_RETRY ||
	    (rc == 0 && wire[0] == TLS_RECORD_HANDSHAKE));
	ck_assert_int_eq(rc, 0);
	put(s, wire, sizeof(wire));
}

/* A fake-TLS hello for secret, domain and time ts. */
static void
put_hello(struct stream *s, const uint8_t *secret, const char *domain,
    uint32_t ts)
{
	struct faketls_client_rand r;
	uint8_t priv[TLS_X25519_LEN], buf[FAKETLS_BUILD_MAX];
	size_t n;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(crypto_random(r.session_id, sizeof(r.session_id)), 0);
	ck_assert_int_eq(crypto_random(priv, sizeof(priv)), 0);
	ck_assert_int_eq(crypto_x25519_public(priv, r.key_share), 0);
	ck_assert_int_eq(faketls_hello_build(secret, domain, ts, &r, 0, buf,
	    sizeof(buf), &n), 0);
	put(s, buf, n);
}

/* Inside TLS records: a header for secret with tag, then the tail. */
static void
put_records(struct stream *s, const uint8_t *secret, uint32_t tag)
{
	struct stream inner = { .n = 0 };
	uint8_t rec[STREAM_MAX];
	size_t n;

	put_header(&inner, secret, tag);
	put(&inner, tail, sizeof(tail));
	/* Small records: the header spans two of them. */
	ck_assert_int_eq(faketls_wrap(inner.b, inner.n, 40, rec, sizeof(rec),
	    &n), 0);
	put(s, rec, n);
}

/*
 * handshake_run on s in env, user first tried first (EOF after s when
 * eof); *peer: the client's end.
 */
static int
run_from(const struct stream *s, int eof, int timeout_ms,
    const struct handshake_env *env, size_t first, struct handshake *h,
    int *peer)
{
	memset(h, 0, sizeof(*h));
	*peer = hsenv_client(NULL, 0, s->b, s->n, eof, &h->fd);
	ck_assert_int_ge(*peer, 0);
	h->env = env;
	h->first = first;
	h->deadline = net_now_ms() + timeout_ms;
	h->unix_now = NOW;
	h->who = "test";
	return handshake_run(h);
}

static int
run(const struct stream *s, int eof, int timeout_ms, struct handshake *h,
    int *peer)
{
	return run_from(s, eof, timeout_ms, &hs.env, 0, h, peer);
}

static void
done(struct handshake *h, int peer)
{
	handshake_free(h);
	close(h->fd);
	close(peer);
}

/* Every byte the client sent was read and kept for the cover site. */
static void
assert_raw(const struct handshake *h, const struct stream *s)
{
	ck_assert_uint_eq(h->nraw, s->n);
	ck_assert_mem_eq(h->raw, s->b, s->n);
}

/* The handshake sent the client nothing. */
static void
assert_silent(int peer)
{
	uint8_t b[1];

	ck_assert_int_eq(recv(peer, b, sizeof(b), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

static void
assert_reject(const struct stream *s, enum handshake_reject why)
{
	struct handshake h;
	int peer;

	ck_assert_int_eq(run(s, 1, 5000, &h, &peer), HANDSHAKE_ERR);
	ck_assert_int_eq(h.why, why);
	ck_assert_int_eq(h.drop, 0);
	assert_raw(&h, s);
	assert_silent(peer);
	done(&h, peer);
}

static void
assert_obfs2_passes(const struct stream *s, int user, uint32_t tag)
{
	struct handshake h;
	int peer;

	ck_assert_int_eq(run(s, 1, 5000, &h, &peer), 0);
	ck_assert_int_eq(h.res.secret_index, user);
	ck_assert_uint_eq(h.res.tag, tag);
	ck_assert_int_eq(h.res.dc, 2);
	ck_assert_int_eq(h.tls, 0);
	assert_raw(&h, s);
	ck_assert_uint_eq(h.npend, sizeof(tail));
	ck_assert_mem_eq(h.pend, tail, sizeof(tail));
	assert_silent(peer);
	done(&h, peer);
}

START_TEST(obfs2_each_transport)
{
	static const uint32_t tags[] = { PROTO_TAG_ABRIDGED,
	    PROTO_TAG_INTERMEDIATE, PROTO_TAG_PADDED };
	struct stream s;
	size_t i;

	for (i = 0; i < 3; i++) {
		s.n = 0;
		put_header(&s, i == 1 ? alice : bob, tags[i]);
		put(&s, tail, sizeof(tail));
		assert_obfs2_passes(&s, i == 1 ? 0 : 1, tags[i]);
	}
}
END_TEST

START_TEST(obfs2_in_pieces)
{
	static const uint8_t cuts[] = { 0, 6, 62 };	/* 1, 7, 63 bytes */
	struct handshake h;
	struct stream s = { .n = 0 };
	int peer;

	put_header(&s, alice, PROTO_TAG_INTERMEDIATE);
	put(&s, tail, sizeof(tail));
	memset(&h, 0, sizeof(h));
	peer = hsenv_client(cuts, 3, s.b, s.n, 0, &h.fd);
	ck_assert_int_ge(peer, 0);
	h.env = &hs.env;
	h.deadline = net_now_ms() + 5000;
	h.unix_now = NOW;
	h.who = "test";
	ck_assert_int_eq(handshake_run(&h), 0);
	/* It stops reading once it has the header: the tail may come later. */
	ck_assert_uint_ge(h.nraw, OBFS2_HEADER_LEN);
	ck_assert_mem_eq(h.raw, s.b, h.nraw);
	ck_assert_uint_eq(h.npend, h.nraw - OBFS2_HEADER_LEN);
	ck_assert_mem_eq(h.pend, tail, h.npend);
	done(&h, peer);
}
END_TEST

START_TEST(tls_accepted)
{
	struct faketls_hello hello;
	struct stream s = { .n = 0 };
	struct handshake h;
	uint8_t reply[STREAM_MAX];
	size_t used;
	ssize_t n;
	int peer;

	put_hello(&s, bob, DOMAIN, NOW - 5);
	ck_assert_int_eq(faketls_hello_parse(s.b, s.n, &hello), 0);
	put_records(&s, bob, PROTO_TAG_PADDED);
	ck_assert_int_eq(run(&s, 1, 5000, &h, &peer), 0);
	ck_assert_int_eq(h.tls, 1);
	ck_assert_int_eq(h.res.secret_index, 1);
	ck_assert_uint_eq(h.res.tag, PROTO_TAG_PADDED);
	ck_assert_int_eq(h.res.dc, 2);
	assert_raw(&h, &s);
	ck_assert_uint_eq(h.npend, sizeof(tail));
	ck_assert_mem_eq(h.pend, tail, sizeof(tail));
	/* One reply, signed for bob over this hello's random, and no more. */
	n = recv(peer, reply, sizeof(reply), MSG_DONTWAIT);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(faketls_reply_verify(bob, hello.random, 1, reply,
	    (size_t)n, &used), 0);
	ck_assert_uint_eq(used, (size_t)n);
	assert_silent(peer);
	done(&h, peer);
}
END_TEST

/*
 * Users 1 and 2 share bob's secret: the user tried first wins, and a hit
 * on it costs one trial; a miss on it tries it no second time.
 */
START_TEST(first_user_first)
{
	static const struct { size_t first; int user; size_t trials; } c[] = {
		{ 2, 2, 1 }, { 1, 1, 1 }, { 0, 1, 2 }, { 3, 1, 2 },
	};
	uint8_t three[3][SECRET_LEN];
	struct handshake_env env = hs.env;
	struct handshake h;
	struct stream s;
	size_t i;
	int tls, peer;

	memcpy(three[0], alice, SECRET_LEN);
	memcpy(three[1], bob, SECRET_LEN);
	memcpy(three[2], bob, SECRET_LEN);
	env.secrets = (const uint8_t (*)[SECRET_LEN])three;
	env.nsecrets = 3;
	env.replay = NULL;
	for (tls = 0; tls <= 1; tls++)
		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			s.n = 0;
			if (tls) {
				put_hello(&s, bob, DOMAIN, NOW);
				put_records(&s, bob, PROTO_TAG_PADDED);
			} else {
				put_header(&s, bob, PROTO_TAG_PADDED);
				put(&s, tail, sizeof(tail));
			}
			ck_assert_int_eq(run_from(&s, 1, 5000, &env,
			    c[i].first, &h, &peer), 0);
			ck_assert_int_eq(h.tls, tls);
			ck_assert_int_eq(h.res.secret_index, c[i].user);
			ck_assert_uint_eq(h.trials, c[i].trials);
			ck_assert_uint_eq(h.npend, sizeof(tail));
			done(&h, peer);
		}
}
END_TEST

/*
 * A hello in pieces, where plain modes are allowed too: its first 64 bytes
 * (16 03 01 02 ...) are no client's header, so they are not tried against
 * every secret before the hello is; a returning client costs one trial.
 */
START_TEST(split_hello_one_trial)
{
	static const uint8_t cut[] = { 99 };
	uint8_t three[3][SECRET_LEN];
	struct handshake_env env = hs.env;
	struct handshake h;
	struct stream s = { .n = 0 };
	int peer;

	memcpy(three[0], alice, SECRET_LEN);
	memcpy(three[1], stranger, SECRET_LEN);
	memcpy(three[2], bob, SECRET_LEN);
	env.secrets = (const uint8_t (*)[SECRET_LEN])three;
	env.nsecrets = 3;
	env.replay = NULL;
	put_hello(&s, bob, DOMAIN, NOW);
	put_records(&s, bob, PROTO_TAG_PADDED);
	memset(&h, 0, sizeof(h));
	peer = hsenv_client(cut, 1, s.b, s.n, 1, &h.fd);
	ck_assert_int_ge(peer, 0);
	h.env = &env;
	h.first = 2;
	h.deadline = net_now_ms() + 5000;
	h.unix_now = NOW;
	h.who = "test";
	ck_assert_int_eq(handshake_run(&h), 0);
	ck_assert_int_eq(h.tls, 1);
	ck_assert_int_eq(h.res.secret_index, 2);
	ck_assert_uint_eq(h.trials, 1);
	done(&h, peer);
}
END_TEST

START_TEST(reject_bad_secret)
{
	struct stream s = { .n = 0 };

	put_header(&s, stranger, PROTO_TAG_PADDED);
	put(&s, tail, sizeof(tail));
	assert_reject(&s, HANDSHAKE_REJECT_BAD_SECRET);
}
END_TEST

START_TEST(reject_tls_checks)
{
	struct stream s = { .n = 0 };

	put_hello(&s, stranger, DOMAIN, NOW);
	assert_reject(&s, HANDSHAKE_REJECT_TLS_DIGEST);
	s.n = 0;
	put_hello(&s, alice, DOMAIN, NOW - 3600);
	assert_reject(&s, HANDSHAKE_REJECT_TLS_TIME);
	s.n = 0;
	put_hello(&s, alice, DOMAIN, NOW + 3600);
	assert_reject(&s, HANDSHAKE_REJECT_TLS_TIME);
	s.n = 0;
	put_hello(&s, alice, "other.example.org", NOW);
	assert_reject(&s, HANDSHAKE_REJECT_TLS_SNI);
}
END_TEST

/* The checks passed and the reply went out; the records then fail. */
START_TEST(reject_tls_inner)
{
	struct stream s = { .n = 0 };
	struct handshake h;
	uint8_t reply[STREAM_MAX];
	int peer;

	put_hello(&s, alice, DOMAIN, NOW);
	put_records(&s, alice, PROTO_TAG_INTERMEDIATE);
	ck_assert_int_eq(run(&s, 1, 5000, &h, &peer), HANDSHAKE_ERR);
	ck_assert_int_eq(h.why, HANDSHAKE_REJECT_TLS_INNER);
	assert_raw(&h, &s);
	ck_assert_int_gt(recv(peer, reply, sizeof(reply), MSG_DONTWAIT), 0);
	done(&h, peer);
}
END_TEST

START_TEST(reject_timeout_and_closed)
{
	struct stream s = { .n = 0 };
	struct handshake h;
	int64_t start = net_now_ms();
	int peer;

	put_header(&s, alice, PROTO_TAG_PADDED);
	s.n = 10;
	ck_assert_int_eq(run(&s, 0, 200, &h, &peer), HANDSHAKE_ERR);
	ck_assert_int_eq(h.why, HANDSHAKE_REJECT_TIMEOUT);
	ck_assert_int_ge(net_now_ms() - start, 200);
	assert_raw(&h, &s);
	done(&h, peer);
	ck_assert_int_eq(run(&s, 1, 5000, &h, &peer), HANDSHAKE_CLOSED);
	assert_raw(&h, &s);
	done(&h, peer);
}
END_TEST

START_TEST(replay_refused)
{
	struct stream s = { .n = 0 };
	struct handshake h;
	int peer;

	put_header(&s, alice, PROTO_TAG_ABRIDGED);
	put(&s, tail, sizeof(tail));
	assert_obfs2_passes(&s, 0, PROTO_TAG_ABRIDGED);
	assert_reject(&s, HANDSHAKE_REJECT_REPLAY);
	s.n = 0;
	put_hello(&s, alice, DOMAIN, NOW);
	put_records(&s, alice, PROTO_TAG_PADDED);
	ck_assert_int_eq(run(&s, 1, 5000, &h, &peer), 0);
	done(&h, peer);
	assert_reject(&s, HANDSHAKE_REJECT_REPLAY);
}
END_TEST

static void
setup_secure_tls(void)
{
	env_up("[server]\nmodes = secure, tls\n[tls]\ndomain = " DOMAIN "\n");
}

START_TEST(reject_mode)
{
	struct stream s = { .n = 0 };

	put_header(&s, alice, PROTO_TAG_ABRIDGED);
	assert_reject(&s, HANDSHAKE_REJECT_MODE);
	s.n = 0;
	put_header(&s, alice, PROTO_TAG_INTERMEDIATE);
	assert_reject(&s, HANDSHAKE_REJECT_MODE);
}
END_TEST

static void
setup_tls_drop(void)
{
	env_up("[server]\nmodes = tls\n[tls]\ndomain = " DOMAIN "\n"
	    "unknown_sni = drop\n");
}

START_TEST(reject_not_tls_and_drop)
{
	struct stream s = { .n = 0 };
	struct handshake h;
	int peer;

	put_header(&s, alice, PROTO_TAG_PADDED);
	assert_reject(&s, HANDSHAKE_REJECT_NOT_TLS);
	s.n = 0;
	put_hello(&s, alice, "other.example.org", NOW);
	ck_assert_int_eq(run(&s, 1, 5000, &h, &peer), HANDSHAKE_ERR);
	ck_assert_int_eq(h.why, HANDSHAKE_REJECT_TLS_SNI);
	ck_assert_int_eq(h.drop, 1);
	assert_silent(peer);
	done(&h, peer);
}
END_TEST

static Suite *
handshake_suite(void)
{
	Suite *s = suite_create("handshake");
	TCase *all = tcase_create("all modes");
	TCase *sec = tcase_create("secure and tls");
	TCase *tls = tcase_create("tls only, drop");

	tcase_add_checked_fixture(all, setup_all, env_down);
	tcase_add_test(all, obfs2_each_transport);
	tcase_add_test(all, obfs2_in_pieces);
	tcase_add_test(all, tls_accepted);
	tcase_add_test(all, first_user_first);
	tcase_add_test(all, split_hello_one_trial);
	tcase_add_test(all, reject_bad_secret);
	tcase_add_test(all, reject_tls_checks);
	tcase_add_test(all, reject_tls_inner);
	tcase_add_test(all, reject_timeout_and_closed);
	tcase_add_test(all, replay_refused);
	suite_add_tcase(s, all);
	tcase_add_checked_fixture(sec, setup_secure_tls, env_down);
	tcase_add_test(sec, reject_mode);
	suite_add_tcase(s, sec);
	tcase_add_checked_fixture(tls, setup_tls_drop, env_down);
	tcase_add_test(tls, reject_not_tls_and_drop);
	suite_add_tcase(s, tls);
	return s;
}

Suite *
ckmain_suite(void)
{
	return handshake_suite();
}
