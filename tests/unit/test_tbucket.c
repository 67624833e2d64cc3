/*
 * Token bucket: a reader charging a chunk whenever the wait is 0 gets
 * rate * 10 s + burst bytes in 10 simulated seconds, to within its last
 * chunk, whether it sleeps exactly the wait or polls every 100 us at a
 * rate of a fraction of a byte per poll; two readers sharing a bucket get
 * that together; idle time is worth burst at most, even idle for decades
 * at the largest rate; a re-init changes the rate and forgives the debt;
 * time going back gives no credit; waits are exact at the extremes.
 */
#include <check.h>
#include <stdint.h>

#include "ckmain.h"
#include "tbucket.h"

#define US		1000000LL
#define SPAN_US		(10 * US)
#define T0		123456789LL
#define KIB		1024ULL

/*
 * One reader from t0 for SPAN_US: reads a chunk whenever the wait is 0,
 * otherwise sleeps the wait (step 0) or polls step microseconds later.
 * The last look is at t0 + SPAN_US exactly. Returns the bytes granted.
 */
static uint64_t
run(struct tbucket *b, int64_t t0, uint64_t chunk, int64_t step)
{
	int64_t now = t0, end = t0 + SPAN_US, w;
	uint64_t granted = 0;

	for (;;) {
		w = tbucket_wait_us(b, now);
		ck_assert_int_ge(w, 0);
		if (w == 0) {
			tbucket_charge(b, now, chunk);
			granted += chunk;
			continue;
		}
		if (now == end)
			break;
		now += step > 0 ? step : w;
		if (now > end)
			now = end;
	}
	return granted;
}

static void
assert_granted(uint64_t rate, uint64_t burst, uint64_t chunk, int64_t step)
{
	struct tbucket b;
	uint64_t got, want = rate * (SPAN_US / US) + burst;

	tbucket_init(&b, rate, burst, T0);
	got = run(&b, T0, chunk, step);
	ck_assert_msg(got > want && got <= want + chunk,
	    "rate %llu burst %llu chunk %llu step %lld: %llu bytes, want %llu",
	    (unsigned long long)rate, (unsigned long long)burst,
	    (unsigned long long)chunk, (long long)step,
	    (unsigned long long)got, (unsigned long long)want);
}

START_TEST(granted_sleeping)
{
	assert_granted(3, 0, 16 * KIB, 0);
	assert_granted(1000, 64 * KIB, 16 * KIB, 0);
	assert_granted(1 << 20, 0, 16 * KIB, 0);
	assert_granted(1000003, 100000, 16 * KIB, 0);
	assert_granted(TBUCKET_RATE_MAX, 1 << 30, 1 << 30, 0);
}
END_TEST

/*
 * 0.1 byte a poll at 1000 B/s: kept, not rounded away each time. The burst
 * holds at least what a poll earns: a poller comes late by up to one
 * step, and what is earned over the burst meanwhile is lost, as it must.
 */
START_TEST(granted_polling)
{
	assert_granted(1000, 1, 512, 100);
	assert_granted(1000, 3000, 512, 100);
	assert_granted(1000003, 101, 16 * KIB, 100);
	assert_granted(33, 1, 16, 7);
}
END_TEST

static unsigned
reads_now(struct tbucket *b, int64_t now, uint64_t chunk)
{
	unsigned n = 0;

	while (n < 1000 && tbucket_wait_us(b, now) == 0) {
		tbucket_charge(b, now, chunk);
		n++;
	}
	return n;
}

/* Full at now: a charge of burst + 1 leaves a debt of exactly one byte. */
static void
assert_full(struct tbucket *b, int64_t now, uint64_t burst, int64_t byte_us)
{
	tbucket_charge(b, now, burst + 1);
	ck_assert_int_eq(tbucket_wait_us(b, now), byte_us);
}

START_TEST(idle_capped)
{
	struct tbucket b;
	int64_t t;

	/* 50,000 bytes: reads while the balance is not negative, 4 of 16K,
	 * leaving a debt of 15,536: 65.536 s to full. */
	tbucket_init(&b, 1000, 50000, T0);
	ck_assert_uint_eq(reads_now(&b, T0, 16 * KIB), 4);
	/* Less than a second over: not one byte of it above the burst. */
	t = T0 + 65900 * 1000;
	assert_full(&b, t, 50000, 1000);
	t += 3600 * US;
	assert_full(&b, t, 50000, 1000);
	ck_assert_uint_eq(reads_now(&b, t + 3600 * US, 16 * KIB), 4);

	/*
	 * The largest rate, idle 2^24 s (where seconds times rate would wrap
	 * to 0 in 64 bits), then across the whole int64 range.
	 */
	tbucket_init(&b, TBUCKET_RATE_MAX, 3 * 16 * KIB, INT64_MIN);
	ck_assert_uint_eq(reads_now(&b, INT64_MIN, 16 * KIB), 4);
	t = INT64_MIN + (1LL << 24) * US;
	ck_assert_uint_eq(reads_now(&b, t, 16 * KIB), 4);
	ck_assert_uint_eq(reads_now(&b, INT64_MAX, 16 * KIB), 4);
	tbucket_init(&b, TBUCKET_RATE_MAX, 3 * 16 * KIB, INT64_MIN);
	assert_full(&b, INT64_MAX, 3 * 16 * KIB, 1);
}
END_TEST

START_TEST(shared_by_two)
{
	static const uint64_t chunk[2] = { 16 * KIB, 4 * KIB };
	static const int64_t lag[2] = { 0, 3 };	/* B's clock read earlier */
	const uint64_t rate = 250000, burst = 32 * KIB;
	const uint64_t want = rate * (SPAN_US / US) + burst;
	struct tbucket b;
	int64_t wake[2] = { T0, T0 }, end = T0 + SPAN_US, now, w;
	uint64_t got[2] = { 0, 0 };
	unsigned i, turn = 0;

	tbucket_init(&b, rate, burst, T0);
	for (;;) {
		/* The earlier reader runs; on a tie they take turns. */
		i = wake[0] != wake[1] ? wake[1] < wake[0] : turn;
		if (wake[i] > end)
			break;
		now = wake[i] - lag[i];
		w = tbucket_wait_us(&b, now);
		if (w == 0) {
			tbucket_charge(&b, now, chunk[i]);
			got[i] += chunk[i];
			turn = !i;
		} else {
			wake[i] += w;
		}
	}
	ck_assert_int_gt(tbucket_wait_us(&b, end), 0);
	ck_assert_uint_gt(got[0], 0);
	ck_assert_uint_gt(got[1], 0);
	ck_assert_uint_gt(got[0] + got[1], want);
	ck_assert_uint_le(got[0] + got[1], want + chunk[0] + chunk[1]);
}
END_TEST

START_TEST(rate_change)
{
	struct tbucket b;
	uint64_t got;

	tbucket_init(&b, 1000, 0, T0);
	got = run(&b, T0, 16 * KIB, 0);
	ck_assert_uint_eq(got, 16 * KIB);	/* 10,000 earned: one read */
	ck_assert_int_gt(tbucket_wait_us(&b, T0 + SPAN_US), 0);

	tbucket_init(&b, 100000, 0, T0 + SPAN_US);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 + SPAN_US), 0);
	got = run(&b, T0 + SPAN_US, 16 * KIB, 0);
	ck_assert_uint_gt(got, 1000000);
	ck_assert_uint_le(got, 1000000 + 16 * KIB);
}
END_TEST

START_TEST(time_back_no_credit)
{
	struct tbucket b;

	tbucket_init(&b, 1000, 0, T0);
	tbucket_charge(&b, T0, 1000);
	ck_assert_int_eq(tbucket_wait_us(&b, T0), US);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 - US / 2), US);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 + US / 4), 3 * US / 4);
	/* Back again: neither credit nor its loss. */
	ck_assert_int_eq(tbucket_wait_us(&b, T0), 3 * US / 4);
	tbucket_charge(&b, T0 - US, 250);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 + US / 4), US);
}
END_TEST

START_TEST(waits_exact)
{
	struct tbucket b;

	/* Just under a third of a byte a microsecond: 2 bytes take 7 us,
	 * and after 6 the part earned counts towards the last one. */
	tbucket_init(&b, 333333, 0, T0);
	tbucket_charge(&b, T0, 2);
	ck_assert_int_eq(tbucket_wait_us(&b, T0), 7);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 + 6), 1);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 + 7), 0);
	/* Exactly paid off, the 0.33 byte earned beyond is kept: the next
	 * byte takes 3 us, not 4. */
	tbucket_charge(&b, T0 + 7, 1);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 + 7), 3);

	tbucket_init(&b, TBUCKET_RATE_MAX, TBUCKET_RATE_MAX, INT64_MAX);
	tbucket_charge(&b, INT64_MAX, 3 * TBUCKET_RATE_MAX);
	ck_assert_int_eq(tbucket_wait_us(&b, INT64_MAX), 2 * US);
	/* The deepest debt: 2^62 bytes at 2^40 a second. */
	tbucket_charge(&b, INT64_MAX, UINT64_MAX);
	ck_assert_int_eq(tbucket_wait_us(&b, INT64_MAX), (1LL << 22) * US);
	/* At 1 B/s that would be longer than int64 microseconds hold. */
	tbucket_init(&b, 1, 0, 0);
	tbucket_charge(&b, 0, UINT64_MAX);
	ck_assert_int_eq(tbucket_wait_us(&b, 0), INT64_MAX);
	/* A rate above the maximum is the maximum. */
	tbucket_init(&b, UINT64_MAX, 0, 0);
	tbucket_charge(&b, 0, TBUCKET_RATE_MAX);
	ck_assert_int_eq(tbucket_wait_us(&b, 0), US);
}
END_TEST

START_TEST(rate_zero_unlimited)
{
	struct tbucket b;

	tbucket_init(&b, 0, 0, T0);
	tbucket_charge(&b, T0, UINT64_MAX);
	ck_assert_int_eq(tbucket_wait_us(&b, T0), 0);
	ck_assert_int_eq(tbucket_wait_us(&b, T0 - US), 0);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("tbucket");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, granted_sleeping);
	tcase_add_test(tc, granted_polling);
	tcase_add_test(tc, idle_capped);
	tcase_add_test(tc, shared_by_two);
	tcase_add_test(tc, rate_change);
	tcase_add_test(tc, time_back_no_credit);
	tcase_add_test(tc, waits_exact);
	tcase_add_test(tc, rate_zero_unlimited);
	suite_add_tcase(s, tc);
	return s;
}
