/*
 * The text the shared store (store_redis.h) keeps per instance and user,
 * and the override fields an operator writes, pure. Other instances and
 * operators write these, so a reader takes nothing on trust: a value that
 * is not exactly of the form is refused, never half-read.
 *
 *	live value:	"ACTIVE IPS EXPIRES_MS", three decimals in
 *			0..INT64_MAX, one space between, nothing else
 *	enabled:	1, 0, yes, no, true or false
 *	expires:	unix seconds in 0..INT64_MAX (0: never)
 */
#ifndef MTPROXYD_LIVECOUNT_H
#define MTPROXYD_LIVECOUNT_H

#include <stddef.h>
#include <stdint.h>

#define LIVECOUNT_ERR	(-1)
#define LIVECOUNT_MAX	64	/* a formatted live value, with the NUL */

struct livecount {
	int64_t active;		/* sessions alive on the instance */
	int64_t ips;		/* their distinct client addresses */
	int64_t expires_ms;	/* unix ms after which the entry is void */
};

/* v as text into out (LIVECOUNT_MAX bytes); refuses a negative field. */
int livecount_format(const struct livecount *v, char out[LIVECOUNT_MAX]);
/* len bytes of s (no NUL needed). */
int livecount_parse(const char *s, size_t len, struct livecount *v);
int livecount_enabled(const char *s, size_t len, int *enabled);
int livecount_expires(const char *s, size_t len, int64_t *expires);

#endif
