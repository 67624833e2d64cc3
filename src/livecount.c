/*
 * The shared store's values (include/livecount.h), by hand: sscanf and
 * strtoll take signs, spaces and overflow that a strict reader refuses.
 */
#include <stdio.h>
#include <string.h>

#include "livecount.h"

/* n decimal digits at s, no sign, within 0..INT64_MAX. */
static int
decimal(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0, d;
	size_t i;

	if (n == 0 || n > 19)
		return LIVECOUNT_ERR;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return LIVECOUNT_ERR;
		d = (uint64_t)(s[i] - '0');
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return LIVECOUNT_ERR;
		v = v * 10 + d;
	}
	*out = (int64_t)v;
	return 0;
}

int
livecount_format(const struct livecount *v, char out[LIVECOUNT_MAX])
{
	if (v->active < 0 || v->ips < 0 || v->expires_ms < 0)
		return LIVECOUNT_ERR;
	snprintf(out, LIVECOUNT_MAX, "%lld %lld %lld", (long long)v->active,
	    (long long)v->ips, (long long)v->expires_ms);
	return 0;
}

int
livecount_parse(const char *s, size_t len, struct livecount *v)
{
	int64_t *field[3] = { &v->active, &v->ips, &v->expires_ms };
	const char *sp;
	size_t i, n;

	for (i = 0; i < 3; i++) {
		sp = i < 2 ? memchr(s, ' ', len) : NULL;
		if (i < 2 && sp == NULL)
			return LIVECOUNT_ERR;
		n = sp != NULL ? (size_t)(sp - s) : len;
		if (decimal(s, n, field[i]) != 0)
			return LIVECOUNT_ERR;
		if (sp != NULL) {
			len -= n + 1;
			s = sp + 1;
		}
	}
	return 0;
}

static int
word(const char *s, size_t len, const char *w)
{
	return len == strlen(w) && memcmp(s, w, len) == 0;
}

int
livecount_enabled(const char *s, size_t len, int *enabled)
{
	if (word(s, len, "1") || word(s, len, "yes") || word(s, len, "true"))
		*enabled = 1;
	else if (word(s, len, "0") || word(s, len, "no") ||
	    word(s, len, "false"))
		*enabled = 0;
	else
		return LIVECOUNT_ERR;
	return 0;
}

int
livecount_expires(const char *s, size_t len, int64_t *expires)
{
	return decimal(s, len, expires);
}
