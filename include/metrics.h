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
#include "account.h"
#include "config.h"
#include "stats.h"
#include "wallclock.h"

#define METRICS_ERR	(-1)

struct metrics;

/* What a scrape reads; all of it must outlive the endpoint. */
struct metrics_view {
	const struct config *cfg;	/* the start's: mode, listen */
	const struct stats *st;
	const atomic_llong *active;	/* sessions alive */
	struct accounts *acc;		/* per-user series; NULL: none */
	const struct wallclock *clock;	/* quota periods, address windows */
};

/*
 * Serve v->cfg's [metrics] listen. *out is NULL when [metrics] listen is
 * not set. Failures are logged.
 */
int metrics_start(const struct metrics_view *v, struct metrics **out);
/* A reload's allow list (m NULL: nothing to do). */
void metrics_set_allow(struct metrics *m, const struct config *cfg);
void metrics_stop(struct metrics *m);
/* The /metrics body. */
int metrics_write(const struct metrics_view *v, FILE *out);

#endif
