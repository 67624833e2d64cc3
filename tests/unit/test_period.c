/*
 * Quota periods, expiry dates and byte counts against answers computed
 * outside this code: every unix time below is what GNU date printed for
 * `date -u -d 'DATE UTC' +%s` (the comment names DATE where the literal
 * is not the string parsed next to it). Leap days (2024, 2000, not 2100),
 * month and year rollovers, Monday boundaries on either side of 1970 and
 * of a year's end, the ends of the 4-digit years, and refused input.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>

#include "ckmain.h"
#include "period.h"

#define DAY	86400LL

struct time_case {
	const char *s;
	int64_t t;	/* date -u -d "<s>" +%s */
};

static const struct time_case good_times[] = {
	{ "2026-12-31", 1798675200LL },
	{ "2026-12-31T23:59:59Z", 1798761599LL },
	{ "2026-12-31T23:59:59", 1798761599LL },
	{ "2026-12-31 23:59", 1798761540LL },
	{ "2026-12-31 23:59:59Z", 1798761599LL },
	{ "2026-12-31T23:59:59+03:00", 1798750799LL },
	{ "2026-12-31T00:00-05:30", 1798695000LL },
	{ "2026-12-31T23:59:59+00:00", 1798761599LL },
	{ "2026-12-31T23:59:59-00:00", 1798761599LL },
	{ "2024-02-29", 1709164800LL },
	{ "2024-02-29 12:00", 1709208000LL },
	{ "2024-03-01", 1709251200LL },
	{ "2000-02-29", 951782400LL },
	{ "2100-02-28", 4107456000LL },
	{ "2100-03-01", 4107542400LL },
	{ "1600-02-29", -11670998400LL },
	{ "1970-01-01", 0 },
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1969-12-31T23:59:59Z", -1 },
	{ "1900-01-01", -2208988800LL },
	{ "0000-01-01", PERIOD_TIME_MIN },	/* -62167219200 */
	{ "9999-12-31T23:59:59Z", PERIOD_TIME_MAX },	/* 253402300799 */
};

static const char *const bad_times[] = {
	"", "2026", "2026-12", "2026-1-31", "2026-12-1", "26-12-31",
	"2026/12/31", "20261231", "2026-13-01", "2026-00-10", "2026-12-00",
	"2026-12-32", "2026-02-29", "2100-02-29", "1900-02-29", "2024-02-30",
	"2026-04-31", "2026-06-31", "2026-09-31", "2026-11-31",
	"2026-12-31T", "2026-12-31T23", "2026-12-31T23:5", "2026-12-31T2:59",
	"2026-12-31T24:00", "2026-12-31T23:60", "2026-12-31T23:59:60",
	"2026-12-31T23:59:5", "2026-12-31T23:59:59.5", "2026-12-31T23:59:59ZZ",
	"2026-12-31Z", "2026-12-31+03:00", "2026-12-31T23:59+3",
	"2026-12-31T23:59+0300", "2026-12-31T23:59+24:00",
	"2026-12-31T23:59+03:60", "2026-12-31t23:59", "2026-12-31T23:59z",
	"2026-12-31  23:59", " 2026-12-31", "2026-12-31 ", "2026-12-31\n",
	"-2026-12-31", "+2026-12-31", "12026-12-31", "2026-12-31x",
	"2026-W53-4", "2026-365",
	/* 0000-01-01 00:00 at +01:00 is an hour before year 0 began. */
	"0000-01-01T00:00+01:00",
	/* 9999-12-31 23:59:59 at -00:01 is 10000-01-01T00:00:59Z. */
	"9999-12-31T23:59:59-00:01",
};

START_TEST(time_known_answers)
{
	const struct time_case *c = &good_times[_i];
	int64_t t = 42;

	ck_assert_msg(period_parse_time(c->s, &t) == 0, "%s refused", c->s);
	ck_assert_msg(t == c->t, "%s: %lld, expected %lld", c->s,
	    (long long)t, (long long)c->t);
}
END_TEST

START_TEST(time_refused)
{
	int64_t t = 42;

	ck_assert_msg(period_parse_time(bad_times[_i], &t) == PERIOD_ERR,
	    "'%s' accepted as %lld", bad_times[_i], (long long)t);
	ck_assert_int_eq(t, 42);
}
END_TEST

START_TEST(time_null_refused)
{
	int64_t t = 42;

	ck_assert_int_eq(period_parse_time(NULL, &t), PERIOD_ERR);
	ck_assert_int_eq(t, 42);
}
END_TEST

struct start_case {
	enum period p;
	int64_t at;	/* an instant... */
	int64_t start;	/* ...the start of its period... */
	int64_t next;	/* ...and of the next one */
};

static const struct start_case starts[] = {
	/* 2026-07-15 12:34:56 (a Wednesday) */
	{ PERIOD_TOTAL, 1784118896LL, 0, PERIOD_NEVER },
	{ PERIOD_DAY, 1784118896LL, 1784073600LL, 1784160000LL },
	/* Monday 2026-07-13, Monday 2026-07-20 */
	{ PERIOD_WEEK, 1784118896LL, 1783900800LL, 1783900800LL + 7 * DAY },
	/* 2026-07-01, 2026-08-01 */
	{ PERIOD_MONTH, 1784118896LL, 1782864000LL, 1785542400LL },
	/* A Monday at 00:00 starts its own week; a second before is the
	 * last of the week before: 2026-01-05 (Monday), 2025-12-29. */
	{ PERIOD_WEEK, 1767571200LL, 1767571200LL, 1767571200LL + 7 * DAY },
	{ PERIOD_WEEK, 1767571199LL, 1766966400LL, 1767571200LL },
	/* The week across a year's end: 2024-12-31 23:59:59 is in the week
	 * of Monday 2024-12-30, which ends Monday 2025-01-06. */
	{ PERIOD_WEEK, 1735689599LL, 1735516800LL, 1736121600LL },
	/* A month and a year rolling over: 2024-12-31 23:59:59 in
	 * December (2024-12-01 is 1733011200), next 2025-01-01. */
	{ PERIOD_MONTH, 1735689599LL, 1733011200LL, 1735689600LL },
	{ PERIOD_MONTH, 1735689600LL, 1735689600LL, 1738368000LL },
	{ PERIOD_DAY, 1735689599LL, 1735603200LL, 1735689600LL },
	/* February of a leap year ends after the 29th: 2024-02-29 12:00
	 * in 2024-02-01's month, next 2024-03-01; in 2026, 2026-02-01 and
	 * 2026-03-01 (28 days). */
	{ PERIOD_MONTH, 1709208000LL, 1706745600LL, 1709251200LL },
	{ PERIOD_MONTH, 1769904000LL + 27 * DAY, 1769904000LL, 1772323200LL },
	/* 2100 is not a leap year: 2100-02-28 runs into 2100-03-01. */
	{ PERIOD_DAY, 4107456000LL, 4107456000LL, 4107542400LL },
	{ PERIOD_MONTH, 4107542400LL - 1, 4107542400LL - 28 * DAY,
	    4107542400LL },
	/* Monday 2024-02-26's week holds 2024-02-29 and ends 2024-03-04. */
	{ PERIOD_WEEK, 1709208000LL, 1708905600LL, 1709510400LL },
	/* Before 1970: 1969-12-31 23:59:59 is a Wednesday in the week of
	 * Monday 1969-12-29 (-259200), the month of 1969-12-01 (-2678400),
	 * the day of 1969-12-31 (-86400). */
	{ PERIOD_DAY, -1, -86400LL, 0 },
	{ PERIOD_WEEK, -1, -259200LL, -259200LL + 7 * DAY },
	{ PERIOD_MONTH, -1, -2678400LL, 0 },
	/* The ends of the range: 9999-12-31 is a Friday in the week of
	 * 9999-12-27 (253401868800), month 9999-12-01 (253399622400),
	 * next 10000-01-01 (253402300800); 0000-01-01 a Saturday, its
	 * week's Monday five days earlier. */
	{ PERIOD_WEEK, PERIOD_TIME_MAX, 253401868800LL, 253402300800LL + 2 * DAY },
	{ PERIOD_MONTH, PERIOD_TIME_MAX, 253399622400LL, 253402300800LL },
	{ PERIOD_DAY, PERIOD_TIME_MIN, PERIOD_TIME_MIN, PERIOD_TIME_MIN + DAY },
	{ PERIOD_WEEK, PERIOD_TIME_MIN, PERIOD_TIME_MIN - 5 * DAY,
	    PERIOD_TIME_MIN + 2 * DAY },
	/* 0000-02-01 is 31 days in; year 0 is a leap year. */
	{ PERIOD_MONTH, PERIOD_TIME_MIN + 40 * DAY, PERIOD_TIME_MIN + 31 * DAY,
	    PERIOD_TIME_MIN + 60 * DAY },
};

START_TEST(start_known_answers)
{
	const struct start_case *c = &starts[_i];
	int64_t start = 42, next = 42;

	ck_assert_int_eq(period_start(c->p, c->at, &start), 0);
	ck_assert_int_eq(period_next(c->p, c->at, &next), 0);
	ck_assert_msg(start == c->start && next == c->next,
	    "%s of %lld: start %lld next %lld, expected %lld %lld",
	    period_name(c->p), (long long)c->at, (long long)start,
	    (long long)next, (long long)c->start, (long long)c->next);
}
END_TEST

/*
 * Every day of 1999..2101 (the leap rules' three cases), at a time of day
 * that drifts: a period holds its instant, starts at 00:00, the next one
 * begins where it ends, the last second of a period and its start map to
 * the same period, a week is 7 days from a Monday (1970-01-01 was a
 * Thursday) and a month 28 to 31 days.
 */
START_TEST(start_next_agree_every_day)
{
	int64_t t, s, n, s2, n2, len;
	enum period p;

	for (p = PERIOD_DAY; p <= PERIOD_MONTH; p++) {
		for (t = 915148800LL; t < 4133980800LL; t += DAY + 3607) {
			ck_assert_int_eq(period_start(p, t, &s), 0);
			ck_assert_int_eq(period_next(p, t, &n), 0);
			ck_assert(s <= t && t < n && s % DAY == 0);
			ck_assert_int_eq(period_start(p, n - 1, &s2), 0);
			ck_assert_int_eq(period_next(p, s, &n2), 0);
			ck_assert(s2 == s && n2 == n);
			ck_assert_int_eq(period_start(p, n, &s2), 0);
			ck_assert_int_eq(s2, n);
			len = (n - s) / DAY;
			if (p == PERIOD_DAY)
				ck_assert_int_eq(len, 1);
			if (p == PERIOD_WEEK)
				ck_assert(len == 7 && (s / DAY + 3) % 7 == 0);
			if (p == PERIOD_MONTH)
				ck_assert(len >= 28 && len <= 31);
		}
	}
}
END_TEST

/* The 1st of every month of 1999..2100 as written and parsed starts the
 * month of every instant up to the next 1st, which period_next gives. */
START_TEST(month_starts_are_the_firsts)
{
	char text[32];	/* room for any int, as the compiler counts */
	int64_t first, next, s, n;
	int y, m;

	for (y = 1999; y <= 2100; y++) {
		for (m = 1; m <= 12; m++) {
			snprintf(text, sizeof(text), "%04d-%02d-01", y, m);
			ck_assert_int_eq(period_parse_time(text, &first), 0);
			snprintf(text, sizeof(text), "%04d-%02d-01",
			    m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
			ck_assert_int_eq(period_parse_time(text, &next), 0);
			ck_assert_int_eq(period_start(PERIOD_MONTH, next - 1,
			    &s), 0);
			ck_assert_int_eq(period_next(PERIOD_MONTH, first, &n),
			    0);
			ck_assert_msg(s == first && n == next, "%04d-%02d", y,
			    m);
		}
	}
}
END_TEST

START_TEST(start_refused)
{
	int64_t out = 42;

	ck_assert_int_eq(period_start(PERIOD_DAY, PERIOD_TIME_MAX + 1, &out),
	    PERIOD_ERR);
	ck_assert_int_eq(period_start(PERIOD_DAY, PERIOD_TIME_MIN - 1, &out),
	    PERIOD_ERR);
	ck_assert_int_eq(period_next(PERIOD_MONTH, INT64_MAX, &out),
	    PERIOD_ERR);
	ck_assert_int_eq(period_next(PERIOD_WEEK, INT64_MIN, &out),
	    PERIOD_ERR);
	ck_assert_int_eq(period_start((enum period)4, 0, &out), PERIOD_ERR);
	ck_assert_int_eq(period_next((enum period)-1, 0, &out), PERIOD_ERR);
	ck_assert_int_eq(out, 42);
}
END_TEST

START_TEST(names_round_trip)
{
	static const char *const names[] = { "total", "day", "week", "month" };
	static const char *const bad[] = {
		"", "Day", "DAY", "days", "daily", "weekly", " day", "day ",
		"year", "tota", "monthx",
	};
	enum period p, q;
	size_t i;

	for (p = PERIOD_TOTAL; p <= PERIOD_MONTH; p++) {
		ck_assert_str_eq(period_name(p), names[p]);
		ck_assert_int_eq(period_parse(names[p], &q), 0);
		ck_assert_int_eq(q, p);
	}
	ck_assert_str_eq(period_name((enum period)7), "?");
	q = PERIOD_MONTH;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(period_parse(bad[i], &q) == PERIOD_ERR,
		    "'%s' accepted", bad[i]);
	ck_assert_int_eq(period_parse(NULL, &q), PERIOD_ERR);
	ck_assert_int_eq(q, PERIOD_MONTH);
}
END_TEST

struct bytes_case {
	const char *s;
	uint64_t v;
};

static const struct bytes_case good_bytes[] = {
	{ "0", 0 },
	{ "1", 1 },
	{ "007", 7 },
	{ "1000", 1000 },
	{ "1K", 1024 },
	{ "1k", 1024 },
	{ "3M", 3ULL * 1024 * 1024 },
	{ "10G", 10737418240ULL },
	{ "10g", 10737418240ULL },
	{ "2T", 2199023255552ULL },
	{ "0T", 0 },
	{ "18446744073709551615", UINT64_MAX },
	/* 2^64 / 2^40 - 1 terabytes: the largest that fits. */
	{ "16777215T", 18446742974197923840ULL },
	{ "17179869183G", 18446744072635809792ULL },
};

static const char *const bad_bytes[] = {
	"", "K", "-1", "+1", " 1", "1 ", "1 K", "1KB", "1KiB", "1B", "1P",
	"1.5G", "0x10", "1e3", "1KK", "18446744073709551616",
	"99999999999999999999", "16777216T", "17179869184G", "1\n",
};

START_TEST(bytes_known_answers)
{
	uint64_t v = 42;

	ck_assert_msg(period_parse_bytes(good_bytes[_i].s, &v) == 0,
	    "%s refused", good_bytes[_i].s);
	ck_assert_msg(v == good_bytes[_i].v, "%s: %llu", good_bytes[_i].s,
	    (unsigned long long)v);
}
END_TEST

START_TEST(bytes_refused)
{
	uint64_t v = 42;

	ck_assert_msg(period_parse_bytes(bad_bytes[_i], &v) == PERIOD_ERR,
	    "'%s' accepted as %llu", bad_bytes[_i], (unsigned long long)v);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(period_parse_bytes(NULL, &v), PERIOD_ERR);
}
END_TEST

#define N(a)	((int)(sizeof(a) / sizeof((a)[0])))

static Suite *
period_suite(void)
{
	Suite *s = suite_create("period");
	TCase *tc = tcase_create("period");

	tcase_add_loop_test(tc, time_known_answers, 0, N(good_times));
	tcase_add_loop_test(tc, time_refused, 0, N(bad_times));
	tcase_add_test(tc, time_null_refused);
	tcase_add_loop_test(tc, start_known_answers, 0, N(starts));
	tcase_add_test(tc, start_next_agree_every_day);
	tcase_add_test(tc, month_starts_are_the_firsts);
	tcase_add_test(tc, start_refused);
	tcase_add_test(tc, names_round_trip);
	tcase_add_loop_test(tc, bytes_known_answers, 0, N(good_bytes));
	tcase_add_loop_test(tc, bytes_refused, 0, N(bad_bytes));
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return period_suite();
}
