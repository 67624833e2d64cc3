#ifndef MTPROXYD_STORE_H
#define MTPROXYD_STORE_H
#include <stddef.h>
#include <stdint.h>
struct store_entry { char name[64]; uint64_t used; int64_t period_start; };
struct store;
int store_open_local(const char *state_dir, struct store **out, char *err, size_t errlen);
int store_load(struct store *s, struct store_entry **out, size_t *n, char *err, size_t errlen);
int store_save(struct store *s, const struct store_entry *e, size_t n, char *err, size_t errlen);
void store_close(struct store *s);
#endif
