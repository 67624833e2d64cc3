/*
 * Address -> user hints in a direct-mapped table of atomic words: a slot
 * holds the high 32 bits of the address's keyed hash (the tag) above the
 * user index, so that one load reads both and a reader never sees half of
 * a writer's entry. The low bits of the same hash pick the slot; the tag
 * tells the slot's owner from another address that landed there. Tag 0
 * is never stored, so a zeroed slot matches nothing.
 *
 * The hash is SHA-256 of a per-table random seed and the address, as in
 * the replay cache: a plain digest that is never shown to anyone.
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crypto.h"
#include "seen.h"

#define SEED_LEN	32
#define USER_MAX	UINT32_MAX

struct seen {
	size_t mask;			/* slots - 1 */
	uint8_t seed[SEED_LEN];
	_Atomic uint64_t slot[];
};

int
seen_addr_key(const struct sockaddr *sa, uint8_t key[SEEN_KEY_MAX],
    size_t *len)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;

	if (sa == NULL)
		return SEEN_NONE;
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &a4->sin_addr, 4);
		*len = 5;
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return SEEN_NONE;
	if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		/* A dual-stack listener's IPv4 client: its /64 is everyone. */
		key[0] = 4;
		memcpy(key + 1, a6->sin6_addr.s6_addr + 12, 4);
		*len = 5;
		return 0;
	}
	key[0] = 6;
	memcpy(key + 1, a6->sin6_addr.s6_addr, 8);
	*len = 9;
	return 0;
}

/* The slot for the address and the tag its entry carries there. */
static int
locate(const struct seen *s, const struct sockaddr *sa, size_t *i,
    uint32_t *tag)
{
	uint8_t key[SEEN_KEY_MAX], d[32];
	uint64_t h;
	size_t len;

	if (s == NULL || seen_addr_key(sa, key, &len) != 0)
		return SEEN_NONE;
	if (crypto_sha256(s->seed, SEED_LEN, key, len, d) != 0)
		return SEEN_NONE;
	h = bytes_le64(d);
	*i = (size_t)h & s->mask;
	*tag = (uint32_t)(h >> 32);
	if (*tag == 0)
		*tag = 1;
	return 0;
}

int
seen_new(size_t slots, struct seen **out)
{
	struct seen *s;
	size_t n = 1;

	if (out == NULL || slots == 0 || slots > SEEN_MAX_SLOTS)
		return SEEN_ERR;
	while (n < slots)
		n <<= 1;
	if ((s = calloc(1, sizeof(*s) + n * sizeof(s->slot[0]))) == NULL)
		return SEEN_ERR;
	if (crypto_random(s->seed, sizeof(s->seed)) != 0) {
		free(s);
		return SEEN_ERR;
	}
	s->mask = n - 1;
	*out = s;
	return 0;
}

int
seen_get(const struct seen *s, const struct sockaddr *sa, size_t *user)
{
	uint64_t v;
	uint32_t tag;
	size_t i;

	if (user == NULL || locate(s, sa, &i, &tag) != 0)
		return SEEN_NONE;
	v = atomic_load_explicit(&s->slot[i], memory_order_relaxed);
	if ((uint32_t)(v >> 32) != tag)
		return SEEN_NONE;
	*user = (size_t)(uint32_t)v;
	return 0;
}

void
seen_put(struct seen *s, const struct sockaddr *sa, size_t user)
{
	uint32_t tag;
	size_t i;

	if (user > USER_MAX || locate(s, sa, &i, &tag) != 0)
		return;
	atomic_store_explicit(&s->slot[i], (uint64_t)tag << 32 | user,
	    memory_order_relaxed);
}

void
seen_free(struct seen *s)
{
	if (s == NULL)
		return;
	crypto_cleanse(s->seed, sizeof(s->seed));
	free(s);
}
