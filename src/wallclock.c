/*
 * The wall clock with a test offset. See wallclock.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "errbuf.h"
#include "period.h"
#include "wallclock.h"

/* A decimal unix time: an optional '-', digits, nothing else (strtoll
 * alone would take spaces and '+' too). */
static int
parse_unix(const char *s, int64_t *out)
{
	const char *d = s + (*s == '-');
	char *end;
	long long v;

	if (*d < '0' || *d > '9')
		return WALLCLOCK_ERR;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return WALLCLOCK_ERR;
	*out = v;
	return 0;
}

int
wallclock_init(struct wallclock *w, const char *value, char *err,
    size_t errlen)
{
	int64_t at;

	w->offset = 0;
	if (value == NULL || *value == '\0')
		return 0;
	if ((parse_unix(value, &at) != 0 &&
	    period_parse_time(value, &at) != 0) ||
	    at < PERIOD_TIME_MIN || at > PERIOD_TIME_MAX) {
		errbuf_set(err, errlen, "%s = '%s': expected a unix time or "
		    "an ISO 8601 UTC date-time such as 2026-12-31T23:59:50Z",
		    WALLCLOCK_ENV, value);
		return WALLCLOCK_ERR;
	}
	w->offset = at - (int64_t)time(NULL);
	return 0;
}

int64_t
wallclock_now(const struct wallclock *w)
{
	return (int64_t)time(NULL) + w->offset;
}
