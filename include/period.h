/*
 * Quota periods and the values of a user's limits (issue 10): when a
 * quota's counter resets, what an expiry date means, how many bytes
 * "10G" is. Pure: the time is always passed in, so that tests (and the
 * daemon's test clock) choose it; the calendar is the proleptic Gregorian
 * one in UTC, computed here, never through the C library's time zone.
 */
#ifndef MTPROXYD_PERIOD_H
#define MTPROXYD_PERIOD_H

#include <stdint.h>

#define PERIOD_ERR	(-1)

/* The instants the calendar functions take and give: 0000-01-01T00:00:00Z
 * to 9999-12-31T23:59:59Z, the years four digits can write. */
#define PERIOD_TIME_MIN	(-62167219200LL)
#define PERIOD_TIME_MAX	253402300799LL
/* period_next of PERIOD_TOTAL: a boundary no clock reaches. */
#define PERIOD_NEVER	INT64_MAX

/*
 * A quota counter resets at 00:00 UTC at the start of each period: every
 * day, every Monday (weeks start on Monday, as in ISO 8601), on the 1st
 * of every month, or never (total).
 */
enum period { PERIOD_TOTAL, PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };

/* "total", "day", "week" or "month", exactly (lower case). */
int period_parse(const char *s, enum period *out);
/* The name period_parse reads; "?" for a value outside the enum. */
const char *period_name(enum period p);

/*
 * The start of the period that holds unix_s: the 00:00 UTC that begins
 * its day, week or month, or 0 for PERIOD_TOTAL (at any time, before 1970
 * too: a mark that never changes, not an instant). PERIOD_ERR if unix_s
 * is outside PERIOD_TIME_MIN..PERIOD_TIME_MAX or p is not a period.
 */
int period_start(enum period p, int64_t unix_s, int64_t *start);
/* The first boundary after unix_s (the start of the next period), or
 * PERIOD_NEVER for PERIOD_TOTAL. Errors as period_start. */
int period_next(enum period p, int64_t unix_s, int64_t *next);

/*
 * An ISO 8601 date or date-time as a unix time: "YYYY-MM-DD" (00:00:00
 * UTC, the start of that day), then optionally 'T' or one space,
 * "HH:MM" and optionally ":SS", then optionally "Z" or an offset
 * "+HH:MM" / "-HH:MM" (up to 23:59). No zone means UTC. Refused: other
 * forms (week or ordinal dates, fractions of seconds, basic format
 * without dashes), days the month does not have, hour 24, second 60,
 * anything before or after.
 */
int period_parse_time(const char *s, int64_t *unix_s);

/*
 * A byte count: decimal digits, then optionally one of K M G T (or
 * k m g t), powers of 1024. Refused: no digits, signs, spaces, other
 * suffixes, and values over UINT64_MAX.
 */
int period_parse_bytes(const char *s, uint64_t *out);

#endif
