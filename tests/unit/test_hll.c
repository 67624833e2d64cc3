/*
 * HyperLogLog: n distinct hashes (0 to 100,000, several independent
 * streams each) are estimated within 3 standard errors and one value as
 * 1; duplicates leave the registers as they are; a merge is the union's
 * registers. Windows: a value is counted a slice before the window ends
 * and gone a slice after (exactly: a window after its slice began, before
 * 1970 too); slices are cleared for reuse so the estimate follows the
 * last window only, and time going back clears nothing.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ckmain.h"
#include "hll.h"

#define STREAMS		8
#define WINDOW_S	3600
#define SLICE_S		(WINDOW_S / HLL_SLICES)
#define T0		1700000000

/*
 * The hashes: splitmix64's output function over a counter, a bijection,
 * so distinct inputs give distinct, well-mixed hashes. Computed here, not
 * taken from src, so that a bad mixer there cannot pass its own test.
 */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
value(unsigned stream, uint64_t i)
{
	return mix((uint64_t)stream << 40 | i);
}

static void
fill(struct hll *h, unsigned stream, uint64_t from, uint64_t to)
{
	uint64_t i;

	for (i = from; i < to; i++)
		hll_add(h, value(stream, i));
}

static void
assert_near(double est, double n)
{
	ck_assert_msg(fabs(est - n) <= 3 * HLL_STDERR * n,
	    "estimate %.2f for %.0f distinct", est, n);
}

START_TEST(estimates)
{
	static const uint64_t ns[] = { 0, 1, 10, 50, 100, 1000, 100000 };
	struct hll h;
	unsigned k, s, streams;

	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		streams = ns[k] > 1000 ? 1 : STREAMS;
		for (s = 0; s < streams; s++) {
			memset(&h, 0, sizeof(h));
			fill(&h, s, 0, ns[k]);
			assert_near(hll_estimate(&h), (double)ns[k]);
		}
	}
	/* One value: 256 ln(256/255), not the raw estimate's ~184. */
	memset(&h, 0, sizeof(h));
	hll_add(&h, value(0, 0));
	ck_assert_double_eq_tol(hll_estimate(&h), 1.0, 0.01);
}
END_TEST

START_TEST(duplicates_change_nothing)
{
	struct hll h, once;
	double est;

	memset(&h, 0, sizeof(h));
	fill(&h, 0, 0, 1000);
	once = h;
	est = hll_estimate(&h);
	fill(&h, 0, 0, 1000);
	fill(&h, 0, 500, 600);
	ck_assert_mem_eq(h.reg, once.reg, sizeof(h.reg));
	ck_assert_double_eq(hll_estimate(&h), est);
}
END_TEST

START_TEST(merge_is_union)
{
	struct hll a, b, both, empty;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&both, 0, sizeof(both));
	memset(&empty, 0, sizeof(empty));
	fill(&a, 0, 0, 1000);
	fill(&b, 0, 500, 1500);
	fill(&both, 0, 0, 1500);
	hll_merge(&a, &b);
	ck_assert_mem_eq(a.reg, both.reg, sizeof(a.reg));
	assert_near(hll_estimate(&a), 1500);
	hll_merge(&a, &empty);
	ck_assert_mem_eq(a.reg, both.reg, sizeof(a.reg));
	hll_merge(&empty, &both);
	ck_assert_mem_eq(empty.reg, both.reg, sizeof(empty.reg));
}
END_TEST

static double
window_est(const struct hll_window *w, int64_t now)
{
	double est = -1;

	ck_assert_int_eq(hll_window_estimate(w, now, &est), 0);
	return est;
}

/* A value added offset seconds into the slice that begins at start. */
static void
check_span(int64_t start, int64_t offset)
{
	struct hll_window w;
	int64_t t = start + offset;

	hll_window_init(&w, WINDOW_S);
	ck_assert_double_eq(window_est(&w, t), 0);
	hll_window_add(&w, t, value(0, 1));
	ck_assert_double_eq_tol(window_est(&w, t), 1, 0.01);
	ck_assert_double_eq_tol(window_est(&w, t + WINDOW_S - SLICE_S), 1, 0.01);
	ck_assert_double_eq(window_est(&w, t + WINDOW_S + SLICE_S), 0);
	/* Exactly: until a window after its slice began. */
	ck_assert_double_eq_tol(window_est(&w, start + WINDOW_S - 1), 1, 0.01);
	ck_assert_double_eq(window_est(&w, start + WINDOW_S), 0);
	/* Nothing before the value's slice saw it. */
	ck_assert_double_eq(window_est(&w, start - 1), 0);
}

/* Anywhere in a slice, and before 1970 (slices by floor, not truncation). */
START_TEST(window_span)
{
	static const int64_t starts[] = { T0 - T0 % SLICE_S, -10 * SLICE_S };
	static const int64_t offsets[] = { 0, 1, SLICE_S / 2, SLICE_S - 1 };
	unsigned j, k;

	for (j = 0; j < sizeof(starts) / sizeof(starts[0]); j++)
		for (k = 0; k < sizeof(offsets) / sizeof(offsets[0]); k++)
			check_span(starts[j], offsets[k]);
}
END_TEST

/* 100 new values every slice for ten windows: the slices are reused, so
 * each estimate is of the last HLL_SLICES slices' values, not all. */
START_TEST(window_slices_reused)
{
	struct hll_window w;
	int64_t t = T0 - T0 % SLICE_S;
	unsigned s, i;

	hll_window_init(&w, WINDOW_S);
	for (s = 0; s < 10 * HLL_SLICES; s++, t += SLICE_S) {
		for (i = 0; i < 100; i++)
			hll_window_add(&w, t + i, value(0, s * 100 + i));
		assert_near(window_est(&w, t + SLICE_S - 1),
		    100.0 * (s + 1 < HLL_SLICES ? s + 1 : HLL_SLICES));
	}
	/* Past the last slice the window empties one slice at a time. */
	t -= SLICE_S;
	assert_near(window_est(&w, t + SLICE_S), 100.0 * (HLL_SLICES - 1));
	ck_assert_double_eq(window_est(&w, t + WINDOW_S), 0);
}
END_TEST

START_TEST(window_time_back)
{
	struct hll_window w;
	int64_t t = T0 - T0 % SLICE_S;

	hll_window_init(&w, WINDOW_S);
	hll_window_add(&w, t, value(0, 1));
	/* The same slot a window earlier: must not clear the newer slice. */
	hll_window_add(&w, t - WINDOW_S, value(0, 2));
	ck_assert_double_eq_tol(window_est(&w, t), 2, 0.02);
}
END_TEST

START_TEST(window_uninitialised)
{
	struct hll_window w;
	double est = -1;

	memset(&w, 0, sizeof(w));
	hll_window_add(&w, T0, value(0, 1));
	ck_assert_int_eq(hll_window_estimate(&w, T0, &est), HLL_ERR_ARG);
	ck_assert_double_eq(est, -1);
	/* Short windows still have slices of a second. */
	hll_window_init(&w, 2);
	hll_window_add(&w, T0, value(0, 1));
	ck_assert_double_eq_tol(window_est(&w, T0 + HLL_SLICES - 1), 1, 0.01);
	ck_assert_double_eq(window_est(&w, T0 + HLL_SLICES), 0);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("hll");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, estimates);
	tcase_add_test(tc, duplicates_change_nothing);
	tcase_add_test(tc, merge_is_union);
	tcase_add_test(tc, window_span);
	tcase_add_test(tc, window_slices_reused);
	tcase_add_test(tc, window_time_back);
	tcase_add_test(tc, window_uninitialised);
	suite_add_tcase(s, tc);
	return s;
}
