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
