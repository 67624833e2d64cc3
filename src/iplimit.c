/*
 * Open addressing without tombstones: a lookup reads all IPLIMIT_PROBE
 * slots of its window for its key before it takes a free one, so an entry
 * can be freed where it stands.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crypto.h"
#include "iplimit.h"
#include "seen.h"

#define SEED_LEN	32
#define MAX_SLOTS	((size_t)1 << 24)

struct entry {
	uint8_t key[SEEN_KEY_MAX];
	uint8_t len;			/* 0: never used */
	int live;			/* sessions now */
	int fails;			/* in the window from first_ms */
	int64_t window_end;		/* failures before this count */
	int64_t backoff_end;		/* refused until then */
};

struct iplimit {
	pthread_mutex_t mu;
	size_t mask;
	uint8_t seed[SEED_LEN];
	struct entry e[];
};

static int
entry_free(const struct entry *e, int64_t now)
{
	return e->live == 0 && now >= e->window_end && now >= e->backoff_end;
}

/*
 * Under t->mu: the entry of sa, or with make a free one given to it; else
 * -1 (not an IP address, or the window is full, or none and !make).
 */
static long
find(struct iplimit *t, const struct sockaddr *sa, int make, int64_t now)
{
	uint8_t key[SEEN_KEY_MAX], d[32];
	size_t len, i, at;
	long spare = -1;

	if (seen_addr_key(sa, key, &len) != 0 ||
	    crypto_sha256(t->seed, SEED_LEN, key, len, d) != 0)
		return -1;
	at = (size_t)bytes_le64(d);
	for (i = 0; i < IPLIMIT_PROBE; i++) {
		struct entry *e = &t->e[(at + i) & t->mask];

		if (e->len == len && memcmp(e->key, key, len) == 0 &&
		    !entry_free(e, now))
			return (long)((at + i) & t->mask);
		if (spare < 0 && entry_free(e, now))
			spare = (long)((at + i) & t->mask);
	}
	if (!make || spare < 0)
		return -1;
	memset(&t->e[spare], 0, sizeof(t->e[spare]));
	memcpy(t->e[spare].key, key, len);
	t->e[spare].len = (uint8_t)len;
	return spare;
}

int
iplimit_new(size_t slots, struct iplimit **out)
{
	struct iplimit *t;
	size_t n = IPLIMIT_PROBE;

	if (out == NULL || slots == 0 || slots > MAX_SLOTS)
		return IPLIMIT_ERR;
	while (n < slots)
		n <<= 1;
	if ((t = calloc(1, sizeof(*t) + n * sizeof(t->e[0]))) == NULL)
		return IPLIMIT_ERR;
	if (crypto_random(t->seed, sizeof(t->seed)) != 0) {
		free(t);
		return IPLIMIT_ERR;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->mask = n - 1;
	*out = t;
	return 0;
}

int
iplimit_enter(struct iplimit *t, const struct sockaddr *sa, int max,
    int64_t now_ms, long *slot)
{
	int rc = 0;
	long i;

	*slot = IPLIMIT_NONE;
	if (t == NULL || max <= 0)
		return 0;
	pthread_mutex_lock(&t->mu);
	if ((i = find(t, sa, 1, now_ms)) >= 0) {
		if (t->e[i].live >= max) {
			rc = IPLIMIT_OVER;
		} else {
			t->e[i].live++;
			*slot = i;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void
iplimit_leave(struct iplimit *t, long slot)
{
	if (t == NULL || slot < 0)
		return;
	pthread_mutex_lock(&t->mu);
	t->e[slot].live--;
	pthread_mutex_unlock(&t->mu);
}

void
iplimit_fail(struct iplimit *t, const struct sockaddr *sa, int max,
    int window_ms, int64_t now_ms)
{
	struct entry *e;
	long i;

	if (t == NULL || max <= 0)
		return;
	pthread_mutex_lock(&t->mu);
	if ((i = find(t, sa, 1, now_ms)) >= 0) {
		e = &t->e[i];
		if (now_ms >= e->window_end) {
			e->fails = 0;
			e->window_end = now_ms + window_ms;
		}
		if (++e->fails >= max) {
			e->backoff_end = now_ms + window_ms;
			e->fails = 0;
			e->window_end = 0;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

int
iplimit_backoff(struct iplimit *t, const struct sockaddr *sa, int64_t now_ms)
{
	int on = 0;
	long i;

	if (t == NULL)
		return 0;
	pthread_mutex_lock(&t->mu);
	if ((i = find(t, sa, 0, now_ms)) >= 0)
		on = now_ms < t->e[i].backoff_end;
	pthread_mutex_unlock(&t->mu);
	return on;
}

void
iplimit_free(struct iplimit *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	crypto_cleanse(t->seed, sizeof(t->seed));
	free(t);
}
