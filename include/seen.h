/*
 * The user last seen from a client address, so that a returning client's
 * handshake tries that user's secret first instead of every user's in turn.
 * Lossy and fixed in size: one 64-bit slot per hashed address, the newest
 * put wins a slot, and a lookup may find nothing. Lock-free; any thread may
 * get and put at once. An IPv4 address counts whole, an IPv6 one by its /64
 * (a mobile client's low bits change); an IPv4-mapped IPv6 address counts
 * as its IPv4 address.
 */
#ifndef MTPROXYD_SEEN_H
#define MTPROXYD_SEEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SEEN_ERR	(-1)
#define SEEN_NONE	(-2)	/* no user remembered for the address */

#define SEEN_MAX_SLOTS	((size_t)1 << 30)
#define SEEN_KEY_MAX	9	/* family byte and an IPv6 /64 */

struct seen;

/*
 * slots: 1..SEEN_MAX_SLOTS, rounded up to a power of two; 8 bytes each.
 * The slots are chosen by a hash keyed with random bytes drawn here, so
 * that clients cannot aim their addresses at one slot.
 */
int seen_new(size_t slots, struct seen **out);
/*
 * 0 and *user: the user last put for the address, or, with a chance of
 * 2^-32 per lookup whose slot another address holds, that address's user.
 * Either way only a hint: the handshake still checks the secret. SEEN_NONE
 * (and *user untouched): nothing, or s NULL, or not an IP address.
 */
int seen_get(const struct seen *s, const struct sockaddr *sa, size_t *user);
/* Remember user for the address; user past 2^32 - 1 is not remembered. */
void seen_put(struct seen *s, const struct sockaddr *sa, size_t user);
void seen_free(struct seen *s);
/*
 * The bytes that name a client as above (iplimit.h counts the same way):
 * a family byte, then the IPv4 address or the IPv6 /64. SEEN_NONE: not an
 * IP address.
 */
int seen_addr_key(const struct sockaddr *sa, uint8_t key[SEEN_KEY_MAX],
    size_t *len);

#endif
