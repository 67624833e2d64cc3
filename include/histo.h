/*
 * A Prometheus histogram that any number of threads update without a lock:
 * one atomic counter per bucket and an atomic sum. The bucket bounds are
 * the caller's static table, in microseconds. The count written is the sum
 * of the buckets read, not a counter of its own, so that it always equals
 * the +Inf bucket; the sum may lag an observation behind, as every other
 * value a scrape reads may.
 */
#ifndef MTPROXYD_HISTO_H
#define MTPROXYD_HISTO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HISTO_ERR		(-1)
#define HISTO_MAX_BOUNDS	16

struct histo {
	const uint64_t *bounds;		/* ascending upper bounds, µs */
	size_t nbounds;
	/* Per bucket, not cumulative; [nbounds]: above the last bound. */
	atomic_ullong bucket[HISTO_MAX_BOUNDS + 1];
	atomic_ullong sum_us;
};

/* A label of a sample: value is escaped as the format wants. */
struct histo_label {
	const char *key;
	const char *value;
};

/* bounds (ascending, at most HISTO_MAX_BOUNDS) must outlive h. */
int histo_init(struct histo *h, const uint64_t *bounds, size_t nbounds);
void histo_observe(struct histo *h, uint64_t value_us);
/*
 * The samples of h in text format 0.0.4: name_bucket{labels,le="..."}
 * cumulative up to le="+Inf", name_sum in seconds, name_count; no HELP or
 * TYPE line, so several label sets can share one family.
 */
int histo_write(const struct histo *h, const char *name,
    const struct histo_label *labels, size_t nlabels, FILE *out);
/* A label value with backslash, double quote and newline escaped. */
void histo_put_label(FILE *out, const char *value);

#endif
