/*
 * Lock-free histograms and their text form. Values are kept in integer
 * microseconds and written as exact decimal seconds, so the text does not
 * depend on how a float rounds.
 */
#include "histo.h"

#define US_PER_S	1000000ULL

int
histo_init(struct histo *h, const uint64_t *bounds, size_t nbounds)
{
	size_t i;

	if (nbounds > HISTO_MAX_BOUNDS)
		return HISTO_ERR;
	for (i = 1; i < nbounds; i++)
		if (bounds[i] <= bounds[i - 1])
			return HISTO_ERR;
	h->bounds = bounds;
	h->nbounds = nbounds;
	for (i = 0; i <= HISTO_MAX_BOUNDS; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum_us, 0);
	return 0;
}

void
histo_observe(struct histo *h, uint64_t value_us)
{
	size_t i = 0;

	/* A bound is inclusive (le); a dozen bounds: a scan beats a search. */
	while (i < h->nbounds && value_us > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, value_us, memory_order_relaxed);
}

void
histo_put_label(FILE *out, const char *value)
{
	for (; *value != '\0'; value++) {
		if (*value == '\\')
			fputs("\\\\", out);
		else if (*value == '"')
			fputs("\\\"", out);
		else if (*value == '\n')
			fputs("\\n", out);
		else
			fputc(*value, out);
	}
}

/* us as seconds: "2.5", "0.001", "30", without trailing zeros. */
static void
fmt_seconds(char *buf, size_t cap, unsigned long long us)
{
	unsigned long long frac = us % US_PER_S;
	int digits = 6;

	if (frac == 0) {
		snprintf(buf, cap, "%llu", us / US_PER_S);
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(buf, cap, "%llu.%0*llu", us / US_PER_S, digits, frac);
}

/* name_suffix{labels,le="le"} and a space; le NULL: none. */
static void
put_name(FILE *out, const char *name, const char *suffix,
    const struct histo_label *labels, size_t nlabels, const char *le)
{
	const char *sep = "{";
	size_t i;

	fprintf(out, "%s%s", name, suffix);
	for (i = 0; i < nlabels; i++) {
		fprintf(out, "%s%s=\"", sep, labels[i].key);
		histo_put_label(out, labels[i].value);
		fputc('"', out);
		sep = ",";
	}
	if (le != NULL) {
		fprintf(out, "%sle=\"%s\"", sep, le);
		sep = ",";
	}
	fputs(sep[0] == ',' ? "} " : " ", out);
}

int
histo_write(const struct histo *h, const char *name,
    const struct histo_label *labels, size_t nlabels, FILE *out)
{
	unsigned long long total = 0;
	char le[32];
	size_t i;

	for (i = 0; i <= h->nbounds; i++) {
		total += atomic_load_explicit(&h->bucket[i],
		    memory_order_relaxed);
		if (i < h->nbounds)
			fmt_seconds(le, sizeof(le), h->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		put_name(out, name, "_bucket", labels, nlabels, le);
		fprintf(out, "%llu\n", total);
	}
	put_name(out, name, "_sum", labels, nlabels, NULL);
	fmt_seconds(le, sizeof(le), atomic_load_explicit(&h->sum_us,
	    memory_order_relaxed));
	fprintf(out, "%s\n", le);
	put_name(out, name, "_count", labels, nlabels, NULL);
	fprintf(out, "%llu\n", total);
	return ferror(out) ? HISTO_ERR : 0;
}
