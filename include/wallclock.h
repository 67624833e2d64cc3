/*
 * The wall clock that quotas and expiry read, with a test hook: the
 * daemon passes getenv(WALLCLOCK_ENV) to wallclock_init, and a test that
 * sets it starts the daemon at any date (a second before a month ends, a
 * day after an expiry) instead of waiting for one. The clock then runs at
 * the real rate from there. Owned by whoever reads it: no global.
 */
#ifndef MTPROXYD_WALLCLOCK_H
#define MTPROXYD_WALLCLOCK_H

#include <stddef.h>
#include <stdint.h>

#define WALLCLOCK_ERR	(-1)
#define WALLCLOCK_ENV	"MTPROXYD_TEST_TIME"

struct wallclock {
	int64_t offset;	/* seconds added to time(NULL) */
};

/*
 * NULL or "": the real clock. Otherwise what "now" is at this call: a
 * unix time in decimal ("1798761590", "-1") or an ISO 8601 time as
 * period_parse_time reads it ("2026-12-31T23:59:50Z"), within
 * PERIOD_TIME_MIN..PERIOD_TIME_MAX. Anything else is WALLCLOCK_ERR with
 * a message naming WALLCLOCK_ENV and the value.
 */
int wallclock_init(struct wallclock *w, const char *value, char *err,
    size_t errlen);
/* Unix seconds: time(NULL) shifted by the offset wallclock_init set. */
int64_t wallclock_now(const struct wallclock *w);

#endif
