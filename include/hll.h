#ifndef MTPROXYD_HLL_H
#define MTPROXYD_HLL_H
#include <stdint.h>
struct hll { uint8_t reg[256]; };
struct hll_window { int64_t slice_s; int64_t epoch[4]; struct hll slice[4]; };
void hll_window_init(struct hll_window *w, int64_t window_s);
void hll_window_add(struct hll_window *w, int64_t now_s, uint64_t hash);
int hll_window_estimate(const struct hll_window *w, int64_t now_s, double *out);
#endif
