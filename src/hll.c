/*
 * HyperLogLog (Flajolet, Fusy, Gandouet, Meunier 2007) with 2^8 one-byte
 * registers: the top 8 bits of the hash choose the register, which keeps
 * the largest rank (position of the first 1 bit) seen in the other 56.
 * No large-range correction: with 64-bit hashes collisions only matter
 * near 2^64 values.
 */
#include <math.h>
#include <string.h>

#include "hll.h"

/* The first 1 bit of the low 56 bits is at most here; 57 when they are 0. */
#define RANK_MAX	(64 - HLL_BITS + 1)

void
hll_add(struct hll *h, uint64_t hash)
{
	unsigned idx = (unsigned)(hash >> (64 - HLL_BITS));
	/* A 1 just past the 56 bits stops the count at RANK_MAX. */
	uint64_t rest = hash << HLL_BITS | (uint64_t)1 << (HLL_BITS - 1);
	uint8_t rank = 1;

	for (; !(rest >> 63); rest <<= 1)
		rank++;
	if (rank > h->reg[idx])
		h->reg[idx] = rank;
}

double
hll_estimate(const struct hll *h)
{
	const double m = HLL_REGS;
	const double alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, e;
	unsigned zeros = 0, i;

	for (i = 0; i < HLL_REGS; i++) {
		sum += 1.0 / (double)((uint64_t)1 << h->reg[i]);
		zeros += h->reg[i] == 0;
	}
	e = alpha * m * m / sum;
	/* The raw estimate is biased upwards for small sets; empty registers
	 * count those far better. */
	if (e <= 2.5 * m && zeros > 0)
		e = m * log(m / zeros);
	return e;
}

void
hll_merge(struct hll *dst, const struct hll *src)
{
	unsigned i;

	for (i = 0; i < HLL_REGS; i++)
		if (src->reg[i] > dst->reg[i])
			dst->reg[i] = src->reg[i];
}

static int64_t
epoch_of(const struct hll_window *w, int64_t now_s)
{
	int64_t e = now_s / w->slice_s;

	/* Floor, not truncation: a slice's epochs before 0 too. */
	return now_s % w->slice_s < 0 ? e - 1 : e;
}

static unsigned
slot_of(int64_t epoch)
{
	int64_t s = epoch % HLL_SLICES;

	return (unsigned)(s < 0 ? s + HLL_SLICES : s);
}

void
hll_window_init(struct hll_window *w, int64_t window_s)
{
	unsigned i;

	memset(w, 0, sizeof(*w));
	w->slice_s = window_s >= HLL_SLICES ? window_s / HLL_SLICES : 1;
	/* Older than any time: the first add to each slot clears nothing
	 * and takes it, before 1970 too. */
	for (i = 0; i < HLL_SLICES; i++)
		w->epoch[i] = INT64_MIN;
}

void
hll_window_add(struct hll_window *w, int64_t now_s, uint64_t hash)
{
	int64_t e;
	unsigned i;

	if (w->slice_s <= 0)
		return;
	e = epoch_of(w, now_s);
	i = slot_of(e);
	if (w->epoch[i] < e) {
		memset(&w->slice[i], 0, sizeof(w->slice[i]));
		w->epoch[i] = e;
	}
	hll_add(&w->slice[i], hash);
}

int
hll_window_estimate(const struct hll_window *w, int64_t now_s, double *out)
{
	struct hll u;
	int64_t e;
	unsigned i;

	if (w->slice_s <= 0)
		return HLL_ERR_ARG;
	e = epoch_of(w, now_s);
	memset(&u, 0, sizeof(u));
	/* Unsigned: the distance is exact even across the whole int64 range. */
	for (i = 0; i < HLL_SLICES; i++)
		if (w->epoch[i] <= e &&
		    (uint64_t)e - (uint64_t)w->epoch[i] < HLL_SLICES)
			hll_merge(&u, &w->slice[i]);
	*out = hll_estimate(&u);
	return 0;
}
