#ifndef MTPROXYD_PERIOD_H
#define MTPROXYD_PERIOD_H
#include <stdint.h>
enum period { PERIOD_TOTAL, PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };
int period_parse(const char *s, enum period *out);
const char *period_name(enum period p);
int period_start(enum period p, int64_t unix_s, int64_t *start);
int period_next(enum period p, int64_t unix_s, int64_t *next);
int period_parse_time(const char *s, int64_t *unix_s);
int period_parse_bytes(const char *s, uint64_t *out);
#endif
