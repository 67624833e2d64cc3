/*
 * Token bucket in whole bytes plus the millionths of a byte earned since
 * (part): refills many microseconds apart at a low rate would each round
 * to nothing and lose the rate. Elapsed time is split into seconds and
 * microseconds so that no product leaves 64 bits: seconds times rate stop
 * at the deficit, microseconds times rate stay below 10^6 * 2^40.
 */
#include "tbucket.h"

#define US	1000000

static void
fill(struct tbucket *b)
{
	b->balance = (int64_t)b->burst;
	b->part = 0;
}

static void
refill(struct tbucket *b, int64_t now_us)
{
	uint64_t elapsed, deficit, secs, add, micro;

	if (now_us <= b->last_us)
		return;
	elapsed = (uint64_t)now_us - (uint64_t)b->last_us;
	b->last_us = now_us;
	/* Exact modulo 2^64: the true value lies in 0 .. 2^63. */
	deficit = b->burst - (uint64_t)b->balance;
	secs = elapsed / US;
	if (secs > deficit / b->rate) {
		fill(b);
		return;
	}
	micro = elapsed % US * b->rate + b->part;
	add = secs * b->rate + micro / US;
	/* Exactly full keeps its part: a reader that waited the debt off to
	 * the microsecond loses no fraction of a byte to the cap. */
	if (add > deficit) {
		fill(b);
		return;
	}
	b->balance += (int64_t)add;
	b->part = micro % US;
}

void
tbucket_init(struct tbucket *b, uint64_t rate, uint64_t burst,
    int64_t now_us)
{
	b->rate = rate < TBUCKET_RATE_MAX ? rate : TBUCKET_RATE_MAX;
	b->burst = burst < TBUCKET_BYTES_MAX ? burst : TBUCKET_BYTES_MAX;
	b->last_us = now_us;
	fill(b);
}

int64_t
tbucket_wait_us(struct tbucket *b, int64_t now_us)
{
	uint64_t need, q, r;
	int64_t x;

	if (b->rate == 0)
		return 0;
	refill(b, now_us);
	if (b->balance >= 0)
		return 0;
	need = (uint64_t)-b->balance;
	q = need / b->rate;
	r = need % b->rate;
	if (q >= (uint64_t)(INT64_MAX / US))
		return INT64_MAX;
	/* The time for need bytes less the part already earned, rounded
	 * up: waiting exactly this long makes the balance 0 or more. */
	x = (int64_t)(r * US) - (int64_t)b->part;
	if (x > 0)
		x = (int64_t)(((uint64_t)x + b->rate - 1) / b->rate);
	else
		x = -(int64_t)((uint64_t)-x / b->rate);
	return (int64_t)q * US + x;
}

void
tbucket_charge(struct tbucket *b, int64_t now_us, uint64_t n)
{
	const int64_t lowest = -(int64_t)TBUCKET_BYTES_MAX;

	if (b->rate == 0)
		return;
	refill(b, now_us);
	/* Distance to the lowest balance, exact in unsigned: at most 2^63. */
	if (n >= (uint64_t)b->balance - (uint64_t)lowest)
		b->balance = lowest;
	else
		b->balance -= (int64_t)n;
}
