/*
 * Per client address (an IPv4 address or an IPv6 /64, as seen.h names
 * them): the sessions it has now and the handshakes it failed lately, for
 * [server] max_connections_per_ip and handshake_failures_per_ip. Fixed in
 * size: an address has its entry among IPLIMIT_PROBE slots from its keyed
 * hash. When other addresses hold all of those, the address is not counted
 * and never refused: a full table errs towards letting clients in. One lock;
 * an entry with no session and no failure to remember is free again.
 */
#ifndef MTPROXYD_IPLIMIT_H
#define MTPROXYD_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define IPLIMIT_ERR	(-1)
#define IPLIMIT_OVER	(-2)	/* the address is at its limit */

#define IPLIMIT_PROBE	16
#define IPLIMIT_NONE	(-1L)	/* a session the table does not count */

struct iplimit;

/* slots: 1..2^24, rounded up to a power of two. */
int iplimit_new(size_t slots, struct iplimit **out);
/*
 * A session from sa starts at now_ms: *slot names its entry for
 * iplimit_leave (IPLIMIT_NONE: not counted). IPLIMIT_OVER: max (> 0)
 * sessions from sa are live already; the session is not counted.
 */
int iplimit_enter(struct iplimit *t, const struct sockaddr *sa, int max,
    int64_t now_ms, long *slot);
/* The session of that slot ended (IPLIMIT_NONE: nothing to do). */
void iplimit_leave(struct iplimit *t, long slot);
/*
 * A handshake from sa failed at now_ms. The max'th failure within
 * window_ms of the first starts a backoff of window_ms.
 */
void iplimit_fail(struct iplimit *t, const struct sockaddr *sa, int max,
    int window_ms, int64_t now_ms);
/* 1: sa is backing off at now_ms; else 0. */
int iplimit_backoff(struct iplimit *t, const struct sockaddr *sa,
    int64_t now_ms);
void iplimit_free(struct iplimit *t);

#endif
