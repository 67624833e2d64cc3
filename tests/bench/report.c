/*
 * The report: the machine, one table of medians with the ratios to the
 * baseline (and middle mode's to direct mode), the aims, and the notes
 * gathered during the run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "bench.h"
#include "proc.h"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
report_median(const struct bench_row *row, int ti)
{
	double v[BENCH_MAX_ROUNDS];
	int n = row->n[ti];

	if (n == 0)
		return NAN;
	memcpy(v, row->v[ti], (size_t)n * sizeof(v[0]));
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
value(const struct bench *b, enum row_id r, int ti)
{
	return report_median(&b->rows[r], ti);
}

void
report_labels(struct bench *b)
{
	static const char *const fixed[] = {
		[R_UP1] = "upload 1 client, MB/s",
		[R_UP64] = "upload 64 clients, MB/s",
		[R_DOWN1] = "download 1 client, MB/s",
		[R_DOWN64] = "download 64 clients, MB/s",
		[R_CPU_UP1] = "CPU s/GB, upload 1",
		[R_CPU_UP64] = "CPU s/GB, upload 64",
		[R_CPU_DOWN1] = "CPU s/GB, download 1",
		[R_CPU_DOWN64] = "CPU s/GB, download 64",
		[R_LAT50] = "latency 1 KiB p50, us",
		[R_LAT99] = "latency 1 KiB p99, us",
		[R_HS] = "handshakes per s",
	};
	size_t len = sizeof(b->rows[0].label);
	int i, k, n;

	for (i = 0; i < R_RSS_S; i++)
		snprintf(b->rows[i].label, sizeof(b->rows[i].label), "%s",
		    fixed[i]);
	for (k = 0; k < 2; k++) {
		n = k ? b->o.idle_large : b->o.idle_small;
		snprintf(b->rows[k ? R_RSS_L : R_RSS_S].label, len,
		    "idle %d: proxy RSS KiB/client", n);
		snprintf(b->rows[k ? R_AVAIL_L : R_AVAIL_S].label, len,
		    "idle %d: MemAvail drop KiB/cl.", n);
		snprintf(b->rows[k ? R_KERNEL_L : R_KERNEL_S].label, len,
		    "idle %d: kernel KiB/client", n);
		snprintf(b->rows[k ? R_ALL_L : R_ALL_S].label, len,
		    "idle %d: proxy all-in KiB/cl.", n);
		snprintf(b->rows[k ? R_CG_L : R_CG_S].label, len,
		    "idle %d: proxy memcg KiB/cl.", n);
	}
	snprintf(b->rows[R_KSTACK_L].label, len,
	    "idle %d: kernel stacks KiB/cl.", b->o.idle_large);
	snprintf(b->rows[R_THREADS_L].label, len,
	    "idle %d: threads/client", b->o.idle_large);
}

static void
cell(double v)
{
	if (isnan(v))
		printf(" %9s", "-");
	else if (fabs(v) >= 100)
		printf(" %9.0f", v);
	else
		printf(" %9.2f", v);
}

/* The ratio columns: target over reference. */
static const struct {
	enum target_id num, den;
	const char *head;
} ratios[] = {
	{ T_DIRECT, T_BASE, "dir/base" },
	{ T_FAST, T_BASE, "fast/base" },
	{ T_MIDDLE, T_BASE, "mid/base" },
	{ T_MIDDLE, T_DIRECT, "mid/dir" },
};

#define NRATIOS	(sizeof(ratios) / sizeof(ratios[0]))

void
report_table(const struct bench *b)
{
	double num, den;
	size_t k;
	int r, ti;

	printf("\n%-32s", "metric");
	for (ti = 0; ti < NTARGETS; ti++)
		printf(" %9s", bench_names[ti]);
	for (k = 0; k < NRATIOS; k++)
		printf(" %9s", ratios[k].head);
	printf("\n");
	for (r = 0; r < NROWS; r++) {
		printf("%-32s", b->rows[r].label);
		for (ti = 0; ti < NTARGETS; ti++)
			cell(value(b, r, ti));
		for (k = 0; k < NRATIOS; k++) {
			num = value(b, r, ratios[k].num);
			den = value(b, r, ratios[k].den);
			if (isnan(num) || isnan(den) || den == 0)
				printf(" %9s", "-");
			else
				printf(" %8.2fx", num / den);
		}
		printf("\n");
	}
}

/* The worst of rows [from, to] for target ti: lowest or highest. */
static double
worst(const struct bench *b, int ti, int from, int to, int ratio, int high,
    int *which)
{
	double w = NAN, v;
	int r;

	*which = from;
	for (r = from; r <= to; r++) {
		v = value(b, r, ti);
		if (ratio)
			v /= value(b, r, T_BASE);
		if (isnan(v))
			continue;
		if (isnan(w) || (high ? v > w : v < w)) {
			w = v;
			*which = r;
		}
	}
	return w;
}

static void
aim_line(const struct bench *b, int ti, const char *aim, double v,
    int which, const char *fmt, int ok)
{
	char val[32];

	if (isnan(v)) {
		printf("  %-6s %s: not measured\n", bench_names[ti], aim);
		return;
	}
	snprintf(val, sizeof(val), fmt, v);
	printf("  %-6s %s: %s (%s): %s\n", bench_names[ti], aim, val,
	    b->rows[which].label, ok ? "met" : "NOT met");
}

void
report_aims(const struct bench *b)
{
	char aim[64];
	double v;
	int ti, which;

	printf("\naims (mtproxyd; ratios to the baseline of this run):\n");
	for (ti = T_DIRECT; ti < NTARGETS; ti++) {
		v = worst(b, ti, R_UP1, R_DOWN64, 1, 0, &which);
		aim_line(b, ti, "throughput >= 0.70x relay, worst", v, which,
		    "%.2fx", v >= 0.70);
		v = worst(b, ti, R_CPU_UP1, R_CPU_DOWN64, 0, 1, &which);
		aim_line(b, ti, "CPU <= 0.50 s per GB, worst", v, which,
		    "%.2f", v <= 0.50);
		if (ti == T_MIDDLE)
			continue;	/* no idle figures */
		snprintf(aim, sizeof(aim), "%d idle clients <= 80 KiB each",
		    b->o.idle_large);
		aim_line(b, ti, aim, value(b, R_ALL_L, ti), R_ALL_L,
		    "%.1f KiB", value(b, R_ALL_L, ti) <= 80);
	}
}

void
report_notes(const struct bench *b)
{
	const struct idle_fig *z = b->idle[T_NONE];
	int i, k;

	printf("\nMB = 10^6 bytes, GB = 10^9 bytes. Throughput and CPU are "
	    "medians of %d round(s) of %.1f s windows.\n"
	    "Ratios are to the baseline (mid/dir: middle to direct); for CPU, "
	    "latency and memory\nlower is better. \"bench\" CPU in the "
	    "progress lines is the load generator's and\nthe fakes'; the fake "
	    "middle proxies' CBC and CRC32C are in it and compete with\n"
	    "the daemon for the same cores.\n", b->o.rounds,
	    b->o.window_ms / 1000.0);
	if (z[0].n > 0) {
		printf("Idle memory per client: \"kernel\" is the growth of "
		    "the machine's MemTotal - MemFree\n- AnonPages - Cached - "
		    "Buffers (slab, stacks, page tables, socket page frags); "
		    "\"all-in\"\nis the proxy's RSS + kernel - the test's own "
		    "kernel share (its memcg charge beyond\nits RSS with the "
		    "clients straight to the fake DC):");
		for (k = 0; k < 2; k++)
			if (z[k].n > 0)
				printf(" %.1f KiB at %d",
				    idle_test_share(&z[k]), z[k].n);
		printf(".\n");
	}
	for (i = 0; i < b->nnotes; i++)
		printf("note: %s\n", b->notes[i]);
}

void
report_machine(void)
{
	char line[256], model[256] = "unknown";
	struct utsname u;
	long total = 0;
	FILE *fp;

	if ((fp = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "model name", 10) == 0) {
				snprintf(model, sizeof(model), "%s",
				    strchr(line, ':') + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		fclose(fp);
	}
	proc_meminfo_kib("MemTotal", &total);
	uname(&u);
	printf("machine: %ld CPUs (%s), %ld MiB, Linux %s, bench built by "
	    "%s\n", sysconf(_SC_NPROCESSORS_ONLN), model, total / 1024,
	    u.release, __VERSION__);
}
