#include <string.h>
#include "hll.h"
#include "tbucket.h"
void hll_window_init(struct hll_window *w, int64_t window_s) { memset(w, 0, sizeof(*w)); w->slice_s = window_s; }
void hll_window_add(struct hll_window *w, int64_t now_s, uint64_t hash) { (void)now_s; w->slice[0].reg[hash & 255]++; }
int hll_window_estimate(const struct hll_window *w, int64_t now_s, double *out) { (void)now_s; double n = 0; for (int i = 0; i < 256; i++) n += w->slice[0].reg[i] != 0; *out = n; return 0; }
void tbucket_init(struct tbucket *b, uint64_t rate, uint64_t burst, int64_t now_us) { b->rate = rate; b->burst = burst; b->tokens = 0; b->last_us = now_us; }
int64_t tbucket_wait_us(struct tbucket *b, int64_t now_us) { int64_t t = b->tokens + (int64_t)((now_us - b->last_us) * (double)b->rate / 1e6); if (t > (int64_t)b->burst) t = (int64_t)b->burst; b->tokens = t; b->last_us = now_us; return t >= 0 ? 0 : (int64_t)(-t * 1e6 / (double)b->rate); }
void tbucket_charge(struct tbucket *b, int64_t now_us, uint64_t n) { tbucket_wait_us(b, now_us); b->tokens -= (int64_t)n; }
#include <stdlib.h>
#include <time.h>
#include "wallclock.h"
int wallclock_init(struct wallclock *w, const char *v, char *err, size_t errlen) { (void)err; (void)errlen; w->offset = 0; if (v && *v) w->offset = strtoll(v, NULL, 10) - (int64_t)time(NULL); return 0; }
int64_t wallclock_now(const struct wallclock *w) { return (int64_t)time(NULL) + w->offset; }
#include <stdio.h>
#include "store.h"
struct store { char path[4096]; };
int store_open_local(const char *d, struct store **out, char *err, size_t errlen) { (void)err; (void)errlen; *out = calloc(1, sizeof(**out)); snprintf((*out)->path, 4096, "%s/quota.state", d); return 0; }
int store_load(struct store *s, struct store_entry **out, size_t *n, char *err, size_t errlen) { (void)err; (void)errlen; FILE *f = fopen(s->path, "r"); *out = NULL; *n = 0; if (!f) return 0; struct store_entry e; while (fscanf(f, "%63s %lu %ld", e.name, &e.used, &e.period_start) == 3) { *out = realloc(*out, (*n + 1) * sizeof(e)); (*out)[(*n)++] = e; } fclose(f); return 0; }
int store_save(struct store *s, const struct store_entry *e, size_t n, char *err, size_t errlen) { (void)err; (void)errlen; char t[4200]; snprintf(t, sizeof(t), "%s.tmp", s->path); FILE *f = fopen(t, "w"); if (!f) return -1; for (size_t i = 0; i < n; i++) fprintf(f, "%s %lu %ld\n", e[i].name, e[i].used, e[i].period_start); fclose(f); return rename(t, s->path); }
void store_close(struct store *s) { free(s); }
