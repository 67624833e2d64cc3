/*
 * Token bucket for a user's rate limit (bytes per second per direction,
 * one bucket shared by all of the user's sessions). A debt model, so that
 * a relay keeps reading whole buffers: a reader asks how long to wait
 * until the balance is not negative, reads as much as it can, then
 * charges what it read, which may leave the balance negative. The next
 * reader waits the debt off. Tokens refill at rate, up to burst: a long
 * idle time is worth burst bytes at most. Over a span T the bytes read
 * are rate * T + burst, plus at most one read of each reader.
 *
 * Pure: the caller passes a monotonic time in microseconds and holds the
 * lock that guards the bucket. Sessions reading the clock before taking
 * that lock pass times slightly out of order: a time older than the
 * bucket's last counts as no time passed, so no credit is given twice.
 */
#ifndef MTPROXYD_TBUCKET_H
#define MTPROXYD_TBUCKET_H

#include <stdint.h>

/* Largest rate (bytes/s): 1 TiB/s, all arithmetic stays in 64 bits. */
#define TBUCKET_RATE_MAX	((uint64_t)1 << 40)
/* Largest burst, and the deepest debt kept (a larger charge is held here). */
#define TBUCKET_BYTES_MAX	((uint64_t)1 << 62)

struct tbucket {
	uint64_t rate;		/* bytes/s; 0: no limit */
	uint64_t burst;
	int64_t balance;	/* bytes; negative: debt */
	uint64_t part;		/* millionths of a byte earned beyond balance */
	int64_t last_us;	/* newest time seen */
};

/*
 * Starts full (balance = burst) at now_us. rate 0 means no limit: the wait
 * is always 0. rate and burst above the maxima are taken as the maxima. To
 * change the rate, initialise again (the debt is then forgiven).
 */
void tbucket_init(struct tbucket *b, uint64_t rate, uint64_t burst,
    int64_t now_us);
/* Microseconds from now_us until the balance is >= 0; 0: read now. */
int64_t tbucket_wait_us(struct tbucket *b, int64_t now_us);
/* n bytes were just read: the balance drops by n, below 0 if need be. */
void tbucket_charge(struct tbucket *b, int64_t now_us, uint64_t n);

#endif
