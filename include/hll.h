/*
 * HyperLogLog: an estimate of how many distinct values were added, in a
 * fixed few hundred bytes whatever the count (mtproxyd_unique_ips: distinct
 * client addresses per user). 2^8 registers of one byte: the standard
 * error is 1.04 / sqrt(256), about 6.5%; below 2.5 * 256 added values the
 * estimate is by linear counting, close to exact for a few dozen.
 *
 * Pure: no clock, no lock. The caller passes the time and serialises the
 * calls on one struct.
 */
#ifndef MTPROXYD_HLL_H
#define MTPROXYD_HLL_H

#include <stdint.h>

#define HLL_BITS	8
#define HLL_REGS	(1 << HLL_BITS)
#define HLL_STDERR	0.065	/* 1.04 / sqrt(HLL_REGS) */

#define HLL_ERR_ARG	(-1)

struct hll {
	uint8_t reg[HLL_REGS];	/* all zero: the empty set */
};

/*
 * Add one value by its 64-bit hash. The hash must be well mixed (every
 * bit equally likely) and, when the values come from clients (addresses),
 * keyed with a secret: whoever can choose values whose hashes start with
 * many zero bits can inflate the estimate at will.
 */
void hll_add(struct hll *h, uint64_t hash);
/* Distinct hashes added so far: 0 for none. */
double hll_estimate(const struct hll *h);
/* dst becomes the union of dst and src. */
void hll_merge(struct hll *dst, const struct hll *src);

/*
 * A sliding window: HLL_SLICES slices, each window_s / HLL_SLICES seconds
 * of time (its epoch: floor(now_s / slice)). A value goes into the slice of
 * its time; a slice whose epoch has passed out of the window is cleared and
 * reused for the new epoch, so the memory never grows: 4 * 256 bytes of
 * registers, the epochs and the slice length, 1,064 bytes a window
 * (a user's 5m, 1h and 1d windows: 3.2 KB).
 *
 * The estimate at now_s covers the current slice (partly elapsed) and the
 * HLL_SLICES - 1 before it: between (HLL_SLICES - 1) / HLL_SLICES and all of
 * the window, i.e. 45 to 60 minutes of a 1h window. A value added at t
 * is counted until t + window - slice at least and gone by t + window.
 */
#define HLL_SLICES	4

struct hll_window {
	int64_t slice_s;
	int64_t epoch[HLL_SLICES];	/* of what slice[i] holds */
	struct hll slice[HLL_SLICES];
};

/*
 * window_s: a multiple of HLL_SLICES (300, 3600, 86400 are); a shorter
 * one is taken as one-second slices. Also re-initialises (all forgotten).
 */
void hll_window_init(struct hll_window *w, int64_t window_s);
/*
 * Add at now_s. Time may go backwards (clock readings taken outside the
 * caller's lock): a value whose slice already holds a newer epoch is
 * counted in that newer one, never clearing it.
 */
void hll_window_add(struct hll_window *w, int64_t now_s, uint64_t hash);
/*
 * The estimate over the window ending at now_s into *out: 0, or
 * HLL_ERR_ARG for a window never initialised (a zeroed struct, whose
 * adds were ignored).
 */
int hll_window_estimate(const struct hll_window *w, int64_t now_s,
    double *out);

#endif
