/*
 * The wall clock's test hook: no value is the real clock; a unix time or
 * an ISO 8601 time is "now" at init, to the second, and the clock then
 * runs at the real rate; anything else is refused with a message naming
 * the variable and the value. Bounds come from time(2) read around each
 * call, so they are exact however slow the machine is.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ckmain.h"
#include "period.h"
#include "tclock.h"
#include "wallclock.h"

#define AT		1798761590LL	/* date -u -d '2026-12-31 23:59:50 UTC' +%s */
#define TICK_MS		1100	/* more than one second of time(2) */

/* now read right after init from value: AT plus the seconds between. */
static void
assert_starts_at(const char *value, int64_t at)
{
	struct wallclock w;
	char err[256] = "";
	int64_t t0, t1, now;

	t0 = time(NULL);
	ck_assert_int_eq(wallclock_init(&w, value, err, sizeof(err)), 0);
	now = wallclock_now(&w);
	t1 = time(NULL);
	ck_assert_str_eq(err, "");
	ck_assert_msg(now >= at && now <= at + (t1 - t0),
	    "%s: now %lld, expected %lld..%lld", value, (long long)now,
	    (long long)at, (long long)(at + t1 - t0));
}

START_TEST(real_clock_without_value)
{
	static const char *const values[] = { NULL, "" };
	struct wallclock w;
	int64_t t0, now;
	int i;

	for (i = 0; i < 2; i++) {
		t0 = time(NULL);
		ck_assert_int_eq(wallclock_init(&w, values[i], NULL, 0), 0);
		now = wallclock_now(&w);
		ck_assert(now >= t0 && now <= time(NULL));
		ck_assert_int_eq(w.offset, 0);
	}
}
END_TEST

START_TEST(unix_time_is_now)
{
	assert_starts_at("1798761590", AT);
	assert_starts_at("0", 0);
	assert_starts_at("-1", -1);
	assert_starts_at("253402300799", PERIOD_TIME_MAX);
}
END_TEST

START_TEST(iso_time_is_now)
{
	assert_starts_at("2026-12-31T23:59:50Z", AT);
	assert_starts_at("2027-01-01T02:59:50+03:00", AT);
	assert_starts_at("2026-12-31", AT - (23 * 3600 + 59 * 60 + 50));
}
END_TEST

START_TEST(runs_at_real_rate)
{
	struct wallclock w;
	int64_t t0, t1, start, later;

	ck_assert_int_eq(wallclock_init(&w, "1798761590", NULL, 0), 0);
	t0 = time(NULL);
	start = wallclock_now(&w);
	tclock_sleep_ms(TICK_MS);
	later = wallclock_now(&w);
	t1 = time(NULL);
	ck_assert(later - start >= 1 && later - start <= t1 - t0);
}
END_TEST

static const char *const bad[] = {
	"abc", "12x", " 12", "12 ", "+12", "-", "--1", "1.5", "0x10", "1e9",
	"99999999999999999999", "-99999999999999999999",
	"253402300800", "-62167219201", "2026-02-30", "2026-12-31T24:00",
	"tomorrow",
};

START_TEST(garbage_refused)
{
	struct wallclock w;
	char err[256] = "", want[128];

	ck_assert_int_eq(wallclock_init(&w, bad[_i], err, sizeof(err)),
	    WALLCLOCK_ERR);
	snprintf(want, sizeof(want), "MTPROXYD_TEST_TIME = '%s': ", bad[_i]);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_int_eq(w.offset, 0);
}
END_TEST

static Suite *
wallclock_suite(void)
{
	Suite *s = suite_create("wallclock");
	TCase *tc = tcase_create("wallclock");

	tcase_add_test(tc, real_clock_without_value);
	tcase_add_test(tc, unix_time_is_now);
	tcase_add_test(tc, iso_time_is_now);
	tcase_add_test(tc, runs_at_real_rate);
	tcase_add_loop_test(tc, garbage_refused, 0,
	    (int)(sizeof(bad) / sizeof(bad[0])));
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return wallclock_suite();
}
