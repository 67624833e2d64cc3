/*
 * Memory per idle client: open idle clients (handshake and one echo done,
 * so that both relay threads run), read the proxy's and the machine's
 * memory before and with them, close them, open them once more to tell
 * the allocator keeping memory for reuse from a leak.
 */
#include <stdio.h>

#include "bench.h"
#include "proc.h"
#include "tclock.h"

#define MEM_SAMPLES	5
#define THREADS_STILL	10	/* equal thread counts 100 ms apart */

static void
idle_fig_set(struct idle_fig *f, const struct proc_mem *a,
    const struct proc_mem *z, int n)
{
	f->n = n;
	f->rss = (double)(z->rss - a->rss) / n;
	f->avail = (double)(a->avail - z->avail) / n;
	f->kernel = (double)(z->kernel - a->kernel) / n;
	f->kstack = (double)(z->kstack - a->kstack) / n;
	f->cgroup_ok = a->cgroup_ok && z->cgroup_ok;
	f->cgroup = (double)(z->cgroup - a->cgroup) / 1024 / n;
	f->threads = (double)(z->threads - a->threads) / n;
}

static void
idle_print(int ti, const struct idle_fig *f, double secs)
{
	char memcg[32] = "n/a";

	if (f->cgroup_ok)
		snprintf(memcg, sizeof(memcg), "%.1f", f->cgroup);
	printf("  %-8s idle %5d: KiB/client: RSS %.1f, kernel %.1f (stacks "
	    "%.1f), memcg %s, MemAvailable drop %.1f; threads %+.2f/client; "
	    "opened in %.1f s\n", bench_names[ti], f->n, f->rss, f->kernel,
	    f->kstack, memcg, f->avail, f->threads, secs);
}

/* Open idle clients up to `upto`; 0 if all of them, else a note says why. */
static int
idle_step(struct bench *b, int ti, struct load_idle *s, int upto,
    const struct proc_mem *m0, struct idle_fig *f)
{
	struct proc_mem m1;
	char why[256], hints[256];
	double t0 = bench_now_s();
	int rc;

	rc = load_idle_open(s, bench_target(b, ti), upto, b->o.idle_ms, why,
	    sizeof(why));
	if (rc != 0) {
		bench_hints(b, ti, hints, sizeof(hints));
		printf("  !! %-8s idle clients stopped at %d of %d: %s%s\n",
		    bench_names[ti], s->n, upto, why, hints);
		bench_note(b, "%s: idle clients stopped at %d of %d: %s%s; its "
		    "idle figures are for %d", bench_names[ti], s->n, upto,
		    why, hints, s->n);
	}
	if (s->n > 0 && proc_mem_take(bench_target(b, ti)->pid,
	    BENCH_SETTLE_MS, MEM_SAMPLES, &m1) == 0) {
		idle_fig_set(f, m0, &m1, s->n);
		idle_print(ti, f, bench_now_s() - t0);
	}
	return rc;
}

/*
 * Close them all, wait until the DC has seen every one go and the proxy's
 * thread count holds still (thousands of threads take a while to end).
 */
static void
idle_close(struct bench *b, int ti, struct load_idle *s)
{
	double deadline = bench_now_s() + BENCH_IDLE_QUIET_MS / 1000.0;
	int n, last = -1, same = 0;

	load_idle_close(s);
	bench_quiesce(b, ti, "idle clients", BENCH_IDLE_QUIET_MS);
	while (same < THREADS_STILL && bench_now_s() < deadline &&
	    proc_threads(bench_target(b, ti)->pid, &n) == 0) {
		same = n == last ? same + 1 : 0;
		last = n;
		tclock_sleep_ms(100);
	}
}

/*
 * The same number of clients once more: memory kept by the allocator for
 * reuse comes back into use, a leak grows again.
 */
static void
idle_again(struct bench *b, int ti, int n, const struct proc_mem *after)
{
	const struct load_target *t = bench_target(b, ti);
	struct load_idle s = { 0 };
	struct proc_mem m;
	char why[256];

	if (load_idle_open(&s, t, n, b->o.idle_ms, why, sizeof(why)) != 0)
		printf("  !! %-8s second cycle stopped at %d: %s\n",
		    bench_names[ti], s.n, why);
	n = s.n;
	idle_close(b, ti, &s);
	if (!bench_alive(b, ti) ||
	    proc_mem_take(t->pid, BENCH_SETTLE_MS, 1, &m) != 0)
		return;
	printf("  %-8s after a second cycle of %d: RSS %+ld KiB against "
	    "the first, threads %d, fds %d\n", bench_names[ti], n,
	    m.rss - after->rss, m.threads, daemon_count_fds(t->pid));
}

void
idle_run(struct bench *b, int ti)
{
	const struct load_target *t = bench_target(b, ti);
	struct load_idle s = { 0 };
	struct proc_mem m0, m1;
	int reached, fds0 = daemon_count_fds(t->pid);

	if (!bench_alive(b, ti))
		return;
	if (proc_mem_take(t->pid, BENCH_SETTLE_MS, MEM_SAMPLES, &m0) != 0) {
		bench_failed(b, ti, "idle", "cannot read /proc");
		return;
	}
	if (idle_step(b, ti, &s, b->o.idle_small, &m0, &b->idle[ti][0]) == 0)
		idle_step(b, ti, &s, b->o.idle_large, &m0, &b->idle[ti][1]);
	reached = s.n;
	idle_close(b, ti, &s);
	if (!bench_alive(b, ti) ||
	    proc_mem_take(t->pid, BENCH_SETTLE_MS, 1, &m1) != 0)
		return;
	printf("  %-8s after closing them: RSS %+ld KiB, threads %d (before "
	    "%d), fds %d (before %d)\n", bench_names[ti], m1.rss - m0.rss,
	    m1.threads, m0.threads, daemon_count_fds(t->pid), fds0);
	if (ti != T_NONE && reached > 0)
		idle_again(b, ti, reached, &m1);
}

/*
 * The test's own kernel memory per client (the client sockets, the fake
 * DC's sockets), from the run without a proxy: what the memory cgroup
 * charged beyond the bench's RSS. The machine-wide figure would do, but it
 * moves with the other tenants by more than this small share.
 */
double
idle_test_share(const struct idle_fig *z)
{
	return z->cgroup_ok ? z->cgroup - z->rss : z->kernel;
}

/*
 * Per client, the proxy's all-in cost is its RSS plus the kernel's growth
 * less the test's own share of the kernel. The memory cgroup figure is net
 * of the test's share too; it leaves out what the kernel does not charge
 * to a cgroup (socket page frags).
 */
void
idle_rows(struct bench *b)
{
	static const enum row_id rss[2] = { R_RSS_S, R_RSS_L };
	static const enum row_id avail[2] = { R_AVAIL_S, R_AVAIL_L };
	static const enum row_id kernel[2] = { R_KERNEL_S, R_KERNEL_L };
	static const enum row_id all[2] = { R_ALL_S, R_ALL_L };
	static const enum row_id cg[2] = { R_CG_S, R_CG_L };
	const struct idle_fig *f, *z;
	int ti, k;

	for (ti = 0; ti < NTARGETS; ti++)
		for (k = 0; k < 2; k++) {
			f = &b->idle[ti][k];
			z = &b->idle[T_NONE][k];
			if (f->n == 0)
				continue;
			bench_record(b, rss[k], ti, f->rss);
			bench_record(b, avail[k], ti, f->avail);
			bench_record(b, kernel[k], ti, f->kernel);
			if (z->n > 0)
				bench_record(b, all[k], ti, f->rss +
				    f->kernel - idle_test_share(z));
			if (z->n > 0 && f->cgroup_ok && z->cgroup_ok)
				bench_record(b, cg[k], ti,
				    f->cgroup - z->cgroup);
			if (k == 0)
				continue;
			bench_record(b, R_KSTACK_L, ti, f->kstack);
			bench_record(b, R_THREADS_L, ti, f->threads);
		}
}
