/*
 * The Prometheus endpoint ([metrics] listen): /metrics in text format
 * 0.0.4 and /healthz, served by libmicrohttpd's own thread to the [metrics]
 * allow list only. A scrape reads the counters' atomics and takes no lock
 * a session thread waits on.
 */
#ifndef MTPROXYD_METRICS_H
#define MTPROXYD_METRICS_H

#include <stdatomic.h>
#include <stdio.h>
#include "config.h"
#include "stats.h"

#define METRICS_ERR	(-1)

struct metrics;

/*
 * Serve cfg's [metrics] listen; st and active (the sessions alive) must
 * outlive it. *out is NULL when [metrics] listen is not set. Failures are
 * logged.
 */
int metrics_start(const struct config *cfg, const struct stats *st,
    const atomic_llong *active, struct metrics **out);
void metrics_stop(struct metrics *m);
/* The /metrics body. */
int metrics_write(const struct config *cfg, const struct stats *st,
    long long active, FILE *out);

#endif
