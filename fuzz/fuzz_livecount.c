/*
 * The shared store's values (livecount.h) as other instances and
 * operators leave them in Redis: a live value accepted is three fields in
 * range that format back to the very input, unless it had leading zeros;
 * an enabled value is 0 or 1; an expires value is not negative.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "livecount.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
leading_zero(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (s[i] == '0' && (i == 0 || s[i - 1] == ' ') &&
		    s[i + 1] != ' ')
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char back[LIVECOUNT_MAX];
	struct livecount v;
	int64_t t;
	int e;

	if (livecount_parse(s, size, &v) == 0) {
		fuzz_check(v.active >= 0 && v.ips >= 0 && v.expires_ms >= 0);
		fuzz_check(livecount_format(&v, back) == 0);
		if (!leading_zero(s, size))
			fuzz_check(strlen(back) == size &&
			    memcmp(back, s, size) == 0);
	}
	if (livecount_enabled(s, size, &e) == 0)
		fuzz_check(e == 0 || e == 1);
	if (livecount_expires(s, size, &t) == 0)
		fuzz_check(t >= 0);
	return 0;
}
