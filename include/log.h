/* Log lines to stderr: time, level, message. Thread-safe; never log secrets. */
#ifndef MTPROXYD_LOG_H
#define MTPROXYD_LOG_H

#include <stdatomic.h>

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

#define log_error(...)	log_msg(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)	do { if (log_enabled(LOGL_DEBUG)) \
	log_msg(LOGL_DEBUG, __VA_ARGS__); } while (0)

#endif
