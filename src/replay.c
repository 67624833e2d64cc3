/*
 * Replay cache: a ring of entries in insertion order (the head is the
 * oldest, so expiry and eviction both pop the head) indexed by a chained
 * hash table. Keys come from clients, so buckets are chosen by a keyed hash
 * (SHA-256 of a per-cache random seed and the key, computed outside the
 * lock; a plain digest, as HMAC costs several times more per handshake and
 * the hash is never shown to anyone): a client cannot aim its randoms at
 * one chain.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "replay.h"

#define NIL		UINT32_MAX
#define MAX_ENTRIES	((size_t)1 << 31)
#define SEED_LEN	32

struct entry {
	uint8_t key[REPLAY_KEY_LEN];
	int64_t t;
	uint32_t next;		/* next entry in the same bucket */
	uint32_t bucket;
};

struct replay {
	pthread_mutex_t lock;
	struct entry *e;
	uint32_t *buckets;	/* first entry of each chain */
	size_t cap, head, count, nbuckets;
	uint32_t window;
	int64_t newest;
	uint8_t seed[SEED_LEN];
};

int
replay_new(replay **out, size_t max_entries, uint32_t window_seconds)
{
	replay *r;

	if (out == NULL || max_entries == 0 || max_entries > MAX_ENTRIES ||
	    window_seconds == 0)
		return REPLAY_ERR_ARG;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return REPLAY_ERR_NOMEM;
	r->cap = max_entries;
	r->window = window_seconds;
	for (r->nbuckets = 1; r->nbuckets < max_entries; r->nbuckets <<= 1)
		;
	r->e = calloc(r->cap, sizeof(*r->e));
	r->buckets = malloc(r->nbuckets * sizeof(*r->buckets));
	if (r->e == NULL || r->buckets == NULL ||
	    crypto_random(r->seed, sizeof(r->seed)) != 0 ||
	    pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r->e);
		free(r->buckets);
		free(r);
		return REPLAY_ERR_NOMEM;
	}
	memset(r->buckets, 0xff, r->nbuckets * sizeof(*r->buckets));
	*out = r;
	return 0;
}

static int
bucket_of(const replay *r, const uint8_t key[REPLAY_KEY_LEN], uint32_t *b)
{
	uint8_t d[32];
	uint64_t h = 0;
	size_t i;

	if (crypto_sha256(r->seed, sizeof(r->seed), key, REPLAY_KEY_LEN, d) != 0)
		return REPLAY_ERR_NOMEM;
	for (i = 0; i < 8; i++)
		h = h << 8 | d[i];
	*b = (uint32_t)(h & (r->nbuckets - 1));
	return 0;
}

/* Unlink the oldest entry from its chain and the ring. */
static void
drop_head(replay *r)
{
	uint32_t idx = (uint32_t)r->head, *link;

	link = &r->buckets[r->e[idx].bucket];
	while (*link != idx)
		link = &r->e[*link].next;
	*link = r->e[idx].next;
	r->head = (r->head + 1) % r->cap;
	r->count--;
}

static void
expire(replay *r, int64_t now)
{
	int64_t t;

	while (r->count > 0) {
		t = r->e[r->head].t;
		if (now < t || (uint64_t)now - (uint64_t)t < r->window)
			break;
		drop_head(r);
	}
}

static int
lookup(const replay *r, uint32_t b, const uint8_t key[REPLAY_KEY_LEN])
{
	uint32_t i;

	for (i = r->buckets[b]; i != NIL; i = r->e[i].next)
		if (memcmp(r->e[i].key, key, REPLAY_KEY_LEN) == 0)
			return 1;
	return 0;
}

static void
insert(replay *r, uint32_t b, const uint8_t key[REPLAY_KEY_LEN], int64_t now)
{
	struct entry *e;
	uint32_t idx;

	if (r->count == r->cap)
		drop_head(r);
	idx = (uint32_t)((r->head + r->count) % r->cap);
	e = &r->e[idx];
	memcpy(e->key, key, REPLAY_KEY_LEN);
	if (r->count > 0 && now < r->newest)
		now = r->newest;
	e->t = r->newest = now;
	e->bucket = b;
	e->next = r->buckets[b];
	r->buckets[b] = idx;
	r->count++;
}

int
replay_check_and_add(replay *r, const uint8_t key[REPLAY_KEY_LEN], int64_t now)
{
	uint32_t b;
	int rc = 0;

	if (r == NULL || key == NULL)
		return REPLAY_ERR_ARG;
	if ((rc = bucket_of(r, key, &b)) != 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	expire(r, now);
	if (lookup(r, b, key))
		rc = REPLAY_SEEN;
	else
		insert(r, b, key, now);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int
replay_oldest(replay *r, int64_t now, int64_t *oldest)
{
	int rc = 0;

	if (r == NULL || oldest == NULL)
		return REPLAY_ERR_ARG;
	pthread_mutex_lock(&r->lock);
	expire(r, now);
	if (r->count == 0)
		rc = REPLAY_EMPTY;
	else
		*oldest = r->e[r->head].t;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

size_t
replay_count(replay *r)
{
	size_t n;

	if (r == NULL)
		return 0;
	pthread_mutex_lock(&r->lock);
	n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void
replay_free(replay *r)
{
	if (r == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->e);
	free(r->buckets);
	free(r);
}
