/*
 * Replay cache: new and seen keys, expiry at the window's edge, eviction
 * of the oldest when full, the oldest time, and several threads at once
 * (run under TSan in CI).
 */
#include <check.h>
#include <pthread.h>
#include <string.h>

#include "ckmain.h"
#include "replay.h"

static void
key_of(uint32_t n, uint8_t key[REPLAY_KEY_LEN])
{
	memset(key, 0x5a, REPLAY_KEY_LEN);
	key[0] = n & 0xff;
	key[1] = (n >> 8) & 0xff;
	key[2] = (n >> 16) & 0xff;
	key[3] = (n >> 24) & 0xff;
}

static int
add(replay *r, uint32_t n, int64_t now)
{
	uint8_t key[REPLAY_KEY_LEN];

	key_of(n, key);
	return replay_check_and_add(r, key, now);
}

START_TEST(new_and_seen)
{
	replay *r = NULL;
	uint8_t key[REPLAY_KEY_LEN];

	ck_assert_int_eq(replay_new(&r, 100, 60), 0);
	ck_assert_uint_eq(replay_count(r), 0);
	ck_assert_int_eq(add(r, 1, 1000), 0);
	ck_assert_int_eq(add(r, 1, 1000), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 1, 1030), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 2, 1030), 0);
	ck_assert_uint_eq(replay_count(r), 2);
	/* Keys differing in the last byte only are different keys. */
	key_of(3, key);
	ck_assert_int_eq(replay_check_and_add(r, key, 1030), 0);
	key[REPLAY_KEY_LEN - 1] ^= 1;
	ck_assert_int_eq(replay_check_and_add(r, key, 1030), 0);
	ck_assert_int_eq(replay_check_and_add(r, key, 1030), REPLAY_SEEN);
	replay_free(r);
}
END_TEST

START_TEST(window_edges)
{
	replay *r = NULL;
	int64_t t;

	ck_assert_int_eq(replay_new(&r, 10, 10), 0);
	ck_assert_int_eq(add(r, 1, 100), 0);
	/* Live while now - t < window. */
	ck_assert_int_eq(add(r, 1, 109), REPLAY_SEEN);
	ck_assert_int_eq(replay_oldest(r, 109, &t), 0);
	ck_assert_int_eq(t, 100);
	ck_assert_int_eq(add(r, 1, 110), 0);
	ck_assert_int_eq(replay_oldest(r, 110, &t), 0);
	ck_assert_int_eq(t, 110);
	ck_assert_uint_eq(replay_count(r), 1);
	/* The seen check does not renew the entry. */
	ck_assert_int_eq(add(r, 1, 119), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 1, 120), 0);
	replay_free(r);
}
END_TEST

START_TEST(evicts_oldest)
{
	replay *r = NULL;
	int64_t t;

	ck_assert_int_eq(replay_new(&r, 3, 1000), 0);
	ck_assert_int_eq(add(r, 1, 1), 0);
	ck_assert_int_eq(add(r, 2, 2), 0);
	ck_assert_int_eq(add(r, 3, 3), 0);
	ck_assert_int_eq(add(r, 4, 4), 0);
	ck_assert_uint_eq(replay_count(r), 3);
	ck_assert_int_eq(replay_oldest(r, 4, &t), 0);
	ck_assert_int_eq(t, 2);
	ck_assert_int_eq(add(r, 2, 5), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 3, 5), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 4, 5), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 1, 5), 0);	/* gone: new again; 2 goes */
	ck_assert_int_eq(add(r, 2, 6), 0);	/* and 3 goes */
	ck_assert_int_eq(add(r, 4, 6), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 3, 7), 0);
	ck_assert_int_eq(replay_oldest(r, 7, &t), 0);
	ck_assert_int_eq(t, 5);
	replay_free(r);
}
END_TEST

START_TEST(oldest_time)
{
	replay *r = NULL;
	int64_t t = 42;

	ck_assert_int_eq(replay_new(&r, 10, 10), 0);
	ck_assert_int_eq(replay_oldest(r, 100, &t), REPLAY_EMPTY);
	ck_assert_int_eq(t, 42);
	ck_assert_int_eq(add(r, 1, 100), 0);
	ck_assert_int_eq(add(r, 2, 105), 0);
	ck_assert_int_eq(replay_oldest(r, 105, &t), 0);
	ck_assert_int_eq(t, 100);
	ck_assert_int_eq(replay_oldest(r, 110, &t), 0);
	ck_assert_int_eq(t, 105);
	ck_assert_int_eq(replay_oldest(r, 115, &t), REPLAY_EMPTY);
	ck_assert_uint_eq(replay_count(r), 0);
	/* A caller with an older clock reading stores the newest time. */
	ck_assert_int_eq(add(r, 3, 200), 0);
	ck_assert_int_eq(add(r, 4, 150), 0);
	ck_assert_int_eq(add(r, 3, 150), REPLAY_SEEN);
	ck_assert_int_eq(add(r, 5, 201), 0);
	ck_assert_int_eq(replay_oldest(r, 205, &t), 0);
	ck_assert_int_eq(t, 200);
	/* 3 and 4 both expire at 210, 5 at 211. */
	ck_assert_int_eq(replay_oldest(r, 210, &t), 0);
	ck_assert_int_eq(t, 201);
	ck_assert_uint_eq(replay_count(r), 1);
	replay_free(r);
}
END_TEST

/* Many keys through a small set: only the last max_entries are held. */
START_TEST(many_keys)
{
	replay *r = NULL;
	uint32_t i;

	ck_assert_int_eq(replay_new(&r, 1000, 100000), 0);
	for (i = 0; i < 5000; i++)
		ck_assert_int_eq(add(r, i, 1000 + i / 100), 0);
	ck_assert_uint_eq(replay_count(r), 1000);
	for (i = 4000; i < 5000; i++)
		ck_assert_int_eq(add(r, i, 2000), REPLAY_SEEN);
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(add(r, i, 2000), 0);
	ck_assert_uint_eq(replay_count(r), 1000);
	replay_free(r);
}
END_TEST

START_TEST(args)
{
	replay *r = NULL;
	uint8_t key[REPLAY_KEY_LEN] = { 0 };
	int64_t t;

	ck_assert_int_eq(replay_new(NULL, 10, 10), REPLAY_ERR_ARG);
	ck_assert_int_eq(replay_new(&r, 0, 10), REPLAY_ERR_ARG);
	ck_assert_int_eq(replay_new(&r, 10, 0), REPLAY_ERR_ARG);
	ck_assert_int_eq(replay_new(&r, ((size_t)1 << 31) + 1, 10),
	    REPLAY_ERR_ARG);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(replay_check_and_add(NULL, key, 1), REPLAY_ERR_ARG);
	ck_assert_int_eq(replay_oldest(NULL, 1, &t), REPLAY_ERR_ARG);
	ck_assert_uint_eq(replay_count(NULL), 0);
	ck_assert_int_eq(replay_new(&r, 1, 1), 0);
	ck_assert_int_eq(replay_check_and_add(r, NULL, 1), REPLAY_ERR_ARG);
	ck_assert_int_eq(replay_oldest(r, 1, NULL), REPLAY_ERR_ARG);
	replay_free(r);
	replay_free(NULL);
}
END_TEST

#define NTHREADS	4
#define SHARED_KEYS	3000
#define OWN_KEYS	1000

struct worker {
	replay *r;
	uint32_t id;
	uint32_t won;		/* shared keys this thread stored first */
	int bad;		/* an unexpected answer */
};

/*
 * Every thread offers the same shared keys (each in its own order) and its
 * own keys twice: each shared key must be new to exactly one thread, each
 * own key new once and then seen.
 */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	uint32_t i, k;
	int64_t t;
	int rc;

	for (i = 0; i < SHARED_KEYS; i++) {
		k = (i * 7919u + w->id * 1021u) % SHARED_KEYS;
		rc = add(w->r, k, 1000 + i / 500);
		if (rc == 0)
			w->won++;
		else if (rc != REPLAY_SEEN)
			w->bad = 1;
		if (i % 256 == 0 && replay_oldest(w->r, 1000, &t) != 0)
			w->bad = 1;
	}
	for (i = 0; i < OWN_KEYS; i++) {
		k = 1000000 + w->id * OWN_KEYS + i;
		if (add(w->r, k, 1010) != 0 ||
		    add(w->r, k, 1010) != REPLAY_SEEN)
			w->bad = 1;
	}
	return NULL;
}

START_TEST(threads)
{
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	replay *r = NULL;
	uint32_t won = 0, i;

	ck_assert_int_eq(replay_new(&r, SHARED_KEYS + NTHREADS * OWN_KEYS,
	    3600), 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ r, i, 0, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run,
		    &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(w[i].bad, 0);
		won += w[i].won;
	}
	ck_assert_uint_eq(won, SHARED_KEYS);
	ck_assert_uint_eq(replay_count(r), SHARED_KEYS + NTHREADS * OWN_KEYS);
	replay_free(r);
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, new_and_seen);
	tcase_add_test(tc, window_edges);
	tcase_add_test(tc, evicts_oldest);
	tcase_add_test(tc, oldest_time);
	tcase_add_test(tc, many_keys);
	tcase_add_test(tc, args);
	tcase_add_test(tc, threads);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return replay_suite();
}
