#ifndef MTPROXYD_WALLCLOCK_H
#define MTPROXYD_WALLCLOCK_H
#include <stddef.h>
#include <stdint.h>
struct wallclock { int64_t offset; };
int wallclock_init(struct wallclock *w, const char *env_value, char *err, size_t errlen);
int64_t wallclock_now(const struct wallclock *w);
#endif
