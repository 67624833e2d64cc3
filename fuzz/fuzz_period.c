/*
 * The values of a user's limits as the config gives them: the input, cut
 * at its first NUL, as an expiry time, a byte count and a period name. An
 * accepted time is in range, every period but total holds it, and a date
 * alone is a midnight; an accepted count without a suffix prints back as
 * written (leading zeros aside), one with a suffix is a multiple of 1024;
 * an accepted period name is the one period_name gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "period.h"

#define DAY_S	86400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_time(const char *s)
{
	int64_t t, start, next;
	enum period p;

	if (period_parse_time(s, &t) != 0)
		return;
	fuzz_check(t >= PERIOD_TIME_MIN && t <= PERIOD_TIME_MAX);
	if (strlen(s) == 10)
		fuzz_check((t - PERIOD_TIME_MIN) % DAY_S == 0);
	for (p = PERIOD_TOTAL; p <= PERIOD_MONTH; p++) {
		fuzz_check(period_start(p, t, &start) == 0);
		fuzz_check(period_next(p, t, &next) == 0);
		if (p == PERIOD_TOTAL)
			fuzz_check(start == 0 && next == PERIOD_NEVER);
		else
			fuzz_check(start <= t && t < next &&
			    start % DAY_S == 0);
	}
}

static void
check_bytes(const char *s)
{
	char back[32];
	uint64_t v;
	size_t n = strlen(s);

	if (period_parse_bytes(s, &v) != 0)
		return;
	fuzz_check(n > 0 && s[0] >= '0' && s[0] <= '9');
	if (s[n - 1] >= '0' && s[n - 1] <= '9') {
		while (s[0] == '0' && s[1] != '\0')
			s++;
		snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
		fuzz_check(strcmp(back, s) == 0);
	} else {
		fuzz_check(v % 1024 == 0);
	}
}

static void
check_name(const char *s)
{
	enum period p;

	if (period_parse(s, &p) == 0)
		fuzz_check(strcmp(period_name(p), s) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_time(s);
	check_bytes(s);
	check_name(s);
	free(s);
	return 0;
}
