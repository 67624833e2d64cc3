/*
 * Quota periods, expiry dates and byte counts. See period.h.
 *
 * Dates are counted in days since 1970-01-01. A year's first day comes
 * from the number of years and leap days before it, counted from a year 1
 * shifted 400 years back: 400 Gregorian years are a whole number of weeks
 * and days (146097 days), so the shift changes no date, and it keeps
 * every quotient non-negative down to year 0, where C's division would
 * otherwise round the wrong way.
 */
#include <stdint.h>
#include <string.h>

#include "period.h"

#define DAY_S		86400
#define WEEK_DAYS	7
#define SHIFT_YEARS	400
#define EPOCH_YEAR	1970
/* 1970-01-01 was a Thursday: day 0 is 3 days after a Monday. */
#define EPOCH_WEEKDAY	3
#define KILO_SHIFT	10

static int
is_leap(int y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int
month_days(int y, int m)
{
	static const int len[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return len[m - 1] + (m == 2 && is_leap(y));
}

/* Days from the shifted year 1 to January 1 of year y (y >= 0). */
static int64_t
year_days(int y)
{
	int64_t before = (int64_t)y + SHIFT_YEARS - 1;

	return 365 * before + before / 4 - before / 100 + before / 400;
}

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
static int64_t
civil_days(int y, int m, int d)
{
	int64_t n = year_days(y) - year_days(EPOCH_YEAR);
	int i;

	for (i = 1; i < m; i++)
		n += month_days(y, i);
	return n + d - 1;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The year and month of day n since 1970-01-01 (within the 4-digit
 * years). The guess from the mean year is off by at most one. */
static void
civil_month(int64_t n, int *y, int *m)
{
	*y = EPOCH_YEAR + (int)floor_div(n * 400, 146097);
	while (*y < 9999 && civil_days(*y + 1, 1, 1) <= n)
		(*y)++;
	while (*y > 0 && civil_days(*y, 1, 1) > n)
		(*y)--;
	*m = 12;
	while (*m > 1 && civil_days(*y, *m, 1) > n)
		(*m)--;
}

int
period_parse(const char *s, enum period *out)
{
	enum period p;

	if (s == NULL)
		return PERIOD_ERR;
	for (p = PERIOD_TOTAL; p <= PERIOD_MONTH; p++) {
		if (strcmp(s, period_name(p)) == 0) {
			*out = p;
			return 0;
		}
	}
	return PERIOD_ERR;
}

const char *
period_name(enum period p)
{
	switch (p) {
	case PERIOD_TOTAL:
		return "total";
	case PERIOD_DAY:
		return "day";
	case PERIOD_WEEK:
		return "week";
	case PERIOD_MONTH:
		return "month";
	}
	return "?";
}

static int
valid(enum period p, int64_t unix_s)
{
	return p >= PERIOD_TOTAL && p <= PERIOD_MONTH &&
	    unix_s >= PERIOD_TIME_MIN && unix_s <= PERIOD_TIME_MAX;
}

int
period_start(enum period p, int64_t unix_s, int64_t *start)
{
	int64_t day;
	int y, m;

	if (!valid(p, unix_s))
		return PERIOD_ERR;
	day = floor_div(unix_s, DAY_S);
	switch (p) {
	case PERIOD_TOTAL:
		day = 0;
		break;
	case PERIOD_DAY:
		break;
	case PERIOD_WEEK:
		day = WEEK_DAYS * floor_div(day + EPOCH_WEEKDAY, WEEK_DAYS) -
		    EPOCH_WEEKDAY;
		break;
	case PERIOD_MONTH:
		civil_month(day, &y, &m);
		day = civil_days(y, m, 1);
		break;
	}
	*start = day * DAY_S;
	return 0;
}

int
period_next(enum period p, int64_t unix_s, int64_t *next)
{
	int64_t start;
	int y, m;

	if (period_start(p, unix_s, &start) != 0)
		return PERIOD_ERR;
	switch (p) {
	case PERIOD_TOTAL:
		*next = PERIOD_NEVER;
		break;
	case PERIOD_DAY:
		*next = start + DAY_S;
		break;
	case PERIOD_WEEK:
		*next = start + WEEK_DAYS * DAY_S;
		break;
	case PERIOD_MONTH:
		civil_month(start / DAY_S, &y, &m);
		*next = (m == 12 ? civil_days(y + 1, 1, 1) :
		    civil_days(y, m + 1, 1)) * DAY_S;
		break;
	}
	return 0;
}

/* Exactly width decimal digits at *p, which moves past them. */
static int
take_num(const char **p, int width, int *out)
{
	int i;

	*out = 0;
	for (i = 0; i < width; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return PERIOD_ERR;
		*out = *out * 10 + ((*p)[i] - '0');
	}
	*p += width;
	return 0;
}

/* 1 and *p moved past c if *p starts with c. */
static int
take_char(const char **p, char c)
{
	if (**p != c)
		return 0;
	(*p)++;
	return 1;
}

/* "HH:MM" with hours up to max_h, seconds of the day (or of an offset). */
static int
take_hhmm(const char **p, int max_h, int *secs)
{
	int h, m;

	if (take_num(p, 2, &h) != 0 || !take_char(p, ':') ||
	    take_num(p, 2, &m) != 0 || h > max_h || m > 59)
		return PERIOD_ERR;
	*secs = h * 3600 + m * 60;
	return 0;
}

/* "YYYY-MM-DD" as days since 1970-01-01. */
static int
take_date(const char **p, int64_t *days)
{
	int y, m, d;

	if (take_num(p, 4, &y) != 0 || !take_char(p, '-') ||
	    take_num(p, 2, &m) != 0 || !take_char(p, '-') ||
	    take_num(p, 2, &d) != 0 || m < 1 || m > 12 || d < 1 ||
	    d > month_days(y, m))
		return PERIOD_ERR;
	*days = civil_days(y, m, d);
	return 0;
}

/* What follows the date: time of day and zone, as seconds to add. */
static int
take_time(const char **p, int64_t *secs)
{
	int hm, s = 0, off = 0;
	char sign;

	*secs = 0;
	if (**p == '\0')
		return 0;
	if (!take_char(p, 'T') && !take_char(p, ' '))
		return PERIOD_ERR;
	if (take_hhmm(p, 23, &hm) != 0 ||
	    (take_char(p, ':') && (take_num(p, 2, &s) != 0 || s > 59)))
		return PERIOD_ERR;
	sign = **p;
	if (sign == '+' || sign == '-') {
		(*p)++;
		if (take_hhmm(p, 23, &off) != 0)
			return PERIOD_ERR;
	} else {
		take_char(p, 'Z');
	}
	/* The time written is UTC plus the offset. */
	*secs = hm + s - (sign == '-' ? -off : off);
	return 0;
}

int
period_parse_time(const char *s, int64_t *unix_s)
{
	const char *p = s;
	int64_t days, secs, t;

	if (s == NULL || take_date(&p, &days) != 0 ||
	    take_time(&p, &secs) != 0 || *p != '\0')
		return PERIOD_ERR;
	t = days * DAY_S + secs;
	if (t < PERIOD_TIME_MIN || t > PERIOD_TIME_MAX)
		return PERIOD_ERR;
	*unix_s = t;
	return 0;
}

int
period_parse_bytes(const char *s, uint64_t *out)
{
	static const char suffixes[] = "kmgt";
	const char *p = s, *suf;
	uint64_t v = 0;
	unsigned shift = 0, digit;

	if (s == NULL || *p < '0' || *p > '9')
		return PERIOD_ERR;
	for (; *p >= '0' && *p <= '9'; p++) {
		digit = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - digit) / 10)
			return PERIOD_ERR;
		v = v * 10 + digit;
	}
	if (*p != '\0') {
		/* Lower-casing by hand: ctype depends on the locale. */
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		if ((suf = strchr(suffixes, c)) == NULL || p[1] != '\0')
			return PERIOD_ERR;
		shift = KILO_SHIFT * (unsigned)(suf - suffixes + 1);
	}
	if (v > UINT64_MAX >> shift)
		return PERIOD_ERR;
	*out = v << shift;
	return 0;
}
