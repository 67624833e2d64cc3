#ifndef MTPROXYD_TBUCKET_H
#define MTPROXYD_TBUCKET_H
#include <stdint.h>
struct tbucket { uint64_t rate, burst; int64_t tokens, last_us; };
void tbucket_init(struct tbucket *b, uint64_t rate, uint64_t burst, int64_t now_us);
int64_t tbucket_wait_us(struct tbucket *b, int64_t now_us);
void tbucket_charge(struct tbucket *b, int64_t now_us, uint64_t n);
#endif
