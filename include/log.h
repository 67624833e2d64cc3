/* Log lines to stderr: time, level, message. Thread-safe; never log secrets. */
#ifndef MTPROXYD_LOG_H
#define MTPROXYD_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };

void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * A warning that can come in floods (every refused connection at a limit):
 * at most one line per interval. log_limit_pass says whether this one may
 * go out and how many were held back since the last that did.
 */
struct log_limit {
	atomic_llong next_ms;		/* monotonic; 0: at once */
	atomic_ullong held;
};

int log_limit_pass(struct log_limit *l, int interval_ms,
    unsigned long long *held);

/*
 * The same, one per key (a client address): a fixed hashed table, so a
 * flood from many addresses costs no memory. A key that lands on a slot
 * another holds takes the slot over (its count of held lines is lost).
 */
#define LOG_LIMIT_KEY_MAX	16
#define LOG_LIMIT_SLOTS		256

struct log_limit_slot {
	uint8_t key[LOG_LIMIT_KEY_MAX];
	size_t len;			/* 0: free */
	long long next_ms;
	unsigned long long held;
};

struct log_limit_map {
	pthread_mutex_t mu;
	struct log_limit_slot slot[LOG_LIMIT_SLOTS];
};

#define LOG_LIMIT_MAP_INIT	{ .mu = PTHREAD_MUTEX_INITIALIZER }

/* As log_limit_pass, for key (at most LOG_LIMIT_KEY_MAX bytes, cut). */
int log_limit_map_pass(struct log_limit_map *m, const void *key, size_t len,
    int interval_ms, unsigned long long *held);

#define log_error(...)	log_msg(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_enabled(LOGL_DEBUG)) \
	log_msg(LOGL_DEBUG, __VA_ARGS__); } while (0)

#endif
