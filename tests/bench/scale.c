/*
 * --cores LIST: the proxies run on those CPUs only (sched_setaffinity on
 * every thread; later threads inherit it), and after the rounds the
 * 64-client upload and download are measured with the proxies on the first
 * 1, 2, 4 ... cores of the list and on all of it. Scaling efficiency at n
 * cores is the throughput over n times the throughput on one core: 1.00
 * means each core added carries as much as the first. The load generator
 * and the fakes are not pinned: on a small machine they share the cores.
 */
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "proc.h"

#define SCALE_CLIENTS	64

/* One "N" or "N-M" of the list; *end past it. */
static int
parse_range(const char *p, char **end, int *lo, int *hi)
{
	long a, z;

	errno = 0;
	a = strtol(p, end, 10);
	if (*end == p || errno != 0 || a < 0 || a >= CPU_SETSIZE)
		return -1;
	z = a;
	if (**end == '-') {
		p = *end + 1;
		z = strtol(p, end, 10);
		if (*end == p || errno != 0 || z < a || z >= CPU_SETSIZE)
			return -1;
	}
	*lo = (int)a;
	*hi = (int)z;
	return 0;
}

int
scale_parse(const char *list, struct bench_opts *o)
{
	const char *p = list;
	char *end;
	int lo, hi;

	o->ncpus = 0;
	for (;;) {
		if (parse_range(p, &end, &lo, &hi) != 0)
			return -1;
		for (; lo <= hi; lo++) {
			if (o->ncpus == BENCH_MAX_CPUS)
				return -1;
			o->cpus[o->ncpus++] = lo;
		}
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
}

void
scale_pin(struct bench *b, int n)
{
	int ti;

	for (ti = 0; ti < NTARGETS; ti++)
		if (bench_alive(b, ti) &&
		    proc_pin(b->px[ti].t.pid, b->o.cpus, n) != 0) {
			printf("  !! %s: cannot pin to %d core(s)\n",
			    bench_names[ti], n);
			bench_note(b, "%s could not be pinned to %d core(s)",
			    bench_names[ti], n);
		}
}

/* 1, 2, 4 ... below the list's length, then the whole list. */
static void
scale_steps(struct bench *b)
{
	struct bench_scale *s = &b->scale;
	int n;

	s->nsteps = 0;
	for (n = 1; n < b->o.ncpus && s->nsteps < BENCH_MAX_STEPS - 1; n *= 2)
		s->cores[s->nsteps++] = n;
	s->cores[s->nsteps++] = b->o.ncpus;
}

static void
scale_one(struct bench *b, int ti, int upload, struct bench_row *row)
{
	double mbps, cpu;

	if (!bench_alive(b, ti))
		return;
	if (bench_bulk(b, ti, upload, SCALE_CLIENTS, upload ? "upload, 64 "
	    "clients" : "download, 64 clients", &mbps, &cpu) == 0 &&
	    row->n[ti] < BENCH_MAX_ROUNDS && isfinite(mbps))
		row->v[ti][row->n[ti]++] = mbps;
	bench_quiesce(b, ti, "scaling", BENCH_QUIET_MS);
}

void
scale_run(struct bench *b)
{
	struct bench_scale *s = &b->scale;
	int i, r, k, ti, rounds = b->o.rounds > 0 ? b->o.rounds : 1;

	scale_steps(b);
	for (i = 0; i < s->nsteps; i++) {
		printf("scaling: proxies on %d core(s)\n", s->cores[i]);
		scale_pin(b, s->cores[i]);
		for (r = 0; r < rounds; r++)
			for (k = 0; k < NTARGETS; k++) {
				ti = (k + r) % NTARGETS;
				scale_one(b, ti, 1, &s->up[i]);
				scale_one(b, ti, 0, &s->down[i]);
			}
	}
	scale_pin(b, b->o.ncpus);
}

static void
scale_rows(const struct bench *b, const struct bench_row *rows,
    const char *what)
{
	const struct bench_scale *s = &b->scale;
	double v, one;
	int i, ti;

	for (i = 0; i < s->nsteps; i++) {
		printf("%-9s %2d core(s)   ", what, s->cores[i]);
		for (ti = 0; ti < NTARGETS; ti++) {
			v = report_median(&rows[i], ti);
			one = report_median(&rows[0], ti);
			if (isnan(v) || isnan(one) || one == 0)
				printf(" %8s %5s", "-", "-");
			else
				printf(" %8.1f %5.2f", v,
				    v / (s->cores[i] * one));
		}
		printf("\n");
	}
}

void
scale_report(const struct bench *b)
{
	int ti;

	if (b->scale.nsteps == 0)
		return;
	printf("\nscaling, %d clients: MB/s and efficiency (MB/s over n times "
	    "the 1-core figure), medians\n%-22s", SCALE_CLIENTS, "");
	for (ti = 0; ti < NTARGETS; ti++)
		printf(" %14s", bench_names[ti]);
	printf("\n");
	scale_rows(b, b->scale.up, "upload");
	scale_rows(b, b->scale.down, "download");
}
