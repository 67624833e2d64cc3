/*
 * mtproxyd benchmark (make bench). One run measures a plain TCP relay with
 * mtproxyd's thread model (the baseline) and mtproxyd in direct mode
 * without and with fast_mode, all in front of the harness's fake DCs on
 * loopback, interleaved round by round so that a busy neighbour slows all
 * three alike; the figures that matter are the ratios to the baseline.
 * It reports and does not judge: the exit status is 0 unless something
 * broke (a proxy died, a transfer failed, a process could not start).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "crypto.h"
#include "daemon.h"
#include "fakedc.h"
#include "load.h"
#include "proc.h"
#include "relay.h"

#define MAX_ROUNDS		9
#define START_MS		10000
#define STOP_MS			10000
#define QUIET_MS		15000	/* for the DC to see every client go */
#define IDLE_QUIET_MS		60000
#define SETTLE_MS		1000	/* before reading memory figures */
#define MEM_SAMPLES		5
#define THREADS_STILL		10	/* reads 100 ms apart */
#define LATENCY_MSG		1024
#define HS_PARALLEL		4
#define BULK_MANY		64
#define MAX_NOTES		32

/* T_NONE: no proxy, the idle clients straight to the fake DC. */
enum target_id { T_BASE, T_DIRECT, T_FAST, NTARGETS, T_NONE = NTARGETS };

static const char *const target_names[NTARGETS + 1] = {
	"baseline", "direct", "fast", "no proxy"
};

enum row_id {
	R_UP1, R_UP64, R_DOWN1, R_DOWN64,
	R_CPU_UP1, R_CPU_UP64, R_CPU_DOWN1, R_CPU_DOWN64,
	R_LAT50, R_LAT99, R_HS,
	R_RSS_S, R_AVAIL_S, R_KERNEL_S, R_ALL_S, R_CG_S,
	R_RSS_L, R_AVAIL_L, R_KERNEL_L, R_ALL_L, R_CG_L, R_KSTACK_L,
	R_THREADS_L,
	NROWS
};

struct opts {
	int quick, rounds, skip_idle;
	int warmup_ms, window_ms;
	int latency_rounds, handshakes;
	int idle_small, idle_large, idle_ms;
};

struct row {
	char label[64];
	double v[NTARGETS][MAX_ROUNDS];
	int n[NTARGETS];
};

struct proxy {
	struct load_target t;
	struct daemon_proc *d;		/* mtproxyd */
	struct relay_proc *r;		/* the baseline */
	int dead;
	uint8_t secret[16];
};

/* Per idle client, from before the clients to with them. */
struct idle_fig {
	int n;			/* clients; 0: not measured */
	double rss;		/* the proxy's VmRSS, KiB */
	double avail;		/* MemAvailable drop, KiB */
	double kernel;		/* the kernel's memory growth, KiB */
	double kstack;		/* KernelStack growth, KiB */
	double cgroup;		/* memory cgroup growth, KiB */
	double threads;		/* the proxy's threads */
	int cgroup_ok;
};

struct bench {
	struct opts o;
	struct fakedc *dc[LOAD_NDC];
	struct proxy px[NTARGETS + 1];	/* px[T_NONE] has no process */
	struct load_target none;	/* the fake DCs themselves */
	struct idle_fig idle[NTARGETS + 1][2];	/* small, large */
	struct row rows[NROWS];
	char notes[MAX_NOTES][320];
	int nnotes, broken;
};

struct bulk_cfg {
	int upload, clients;
	enum row_id rate, cpu;
	const char *what;
};

static const struct bulk_cfg bulk_cfgs[] = {
	{ 1, 1, R_UP1, R_CPU_UP1, "upload, 1 client" },
	{ 1, BULK_MANY, R_UP64, R_CPU_UP64, "upload, 64 clients" },
	{ 0, 1, R_DOWN1, R_CPU_DOWN1, "download, 1 client" },
	{ 0, BULK_MANY, R_DOWN64, R_CPU_DOWN64, "download, 64 clients" },
};

/* --- small helpers */

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
note(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->nnotes == MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(b->notes[b->nnotes++], sizeof(b->notes[0]), fmt, ap);
	va_end(ap);
}

static void
record(struct bench *b, enum row_id r, int ti, double v)
{
	struct row *row = &b->rows[r];

	if (row->n[ti] < MAX_ROUNDS && isfinite(v))
		row->v[ti][row->n[ti]++] = v;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median over the rounds; NAN when never measured. */
static double
value(const struct bench *b, enum row_id r, int ti)
{
	double v[MAX_ROUNDS];
	int n = b->rows[r].n[ti];

	if (n == 0)
		return NAN;
	memcpy(v, b->rows[r].v[ti], (size_t)n * sizeof(v[0]));
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --- the proxies */

static int
proxy_alive(struct bench *b, int ti)
{
	struct proxy *p = &b->px[ti];
	int st = 0, gone;

	if (ti == T_NONE)
		return 1;
	if (p->dead)
		return 0;
	gone = p->d != NULL ? daemon_exited(p->d, &st) : relay_exited(p->r, &st);
	if (!gone)
		return 1;
	p->dead = 1;
	b->broken = 1;
	printf("  !! %s exited (%s %d); its later figures are missing\n",
	    target_names[ti], WIFSIGNALED(st) ? "signal" : "status",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	note(b, "%s exited during the run (%s %d)", target_names[ti],
	    WIFSIGNALED(st) ? "signal" : "status",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (p->d != NULL)
		daemon_dump_log(p->d, stdout);
	return 0;
}

static void
dest_set(struct load_dest *d, uint16_t port, int16_t dcid,
    const struct fakedc *fdc)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&d->ss;

	memset(d, 0, sizeof(*d));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
	d->len = sizeof(*sin);
	d->dc = dcid;
	d->fdc = fdc;
}

/* DC ids 2, 3, 4 lead to the ECHO, SINK and SOURCE fake DCs. */
static int16_t
dc_id(int which)
{
	return (int16_t)(2 + which);
}

static int
start_relay(struct bench *b)
{
	struct proxy *p = &b->px[T_BASE];
	uint16_t ports[LOAD_NDC];
	int i, rc;

	for (i = 0; i < LOAD_NDC; i++)
		ports[i] = fakedc_port(b->dc[i]);
	if ((rc = relay_spawn(ports, LOAD_NDC, START_MS, &p->r)) != 0) {
		fprintf(stderr, "bench: cannot start the baseline relay (%d): "
		    "%s\n", rc, strerror(errno));
		return -1;
	}
	p->t.name = target_names[T_BASE];
	p->t.pid = relay_pid(p->r);
	p->t.secret = NULL;
	for (i = 0; i < LOAD_NDC; i++)
		dest_set(&p->t.dest[i], relay_port(p->r, i), dc_id(i),
		    b->dc[i]);
	return 0;
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
start_daemon(struct bench *b, int ti, int fast)
{
	struct proxy *p = &b->px[ti];
	struct sockaddr_storage ss;
	char conf[1024], sec[33];
	socklen_t len;
	int i, rc;

	if (crypto_random(p->secret, sizeof(p->secret)) != 0)
		return -1;
	hex(p->secret, sizeof(p->secret), sec);
	snprintf(conf, sizeof(conf),
	    "[server]\nport = 0\nlisten = 127.0.0.1\npublic_host = 127.0.0.1\n"
	    "modes = secure\nfast_mode = %s\nmax_clients = 10000\n"
	    "log_level = info\nshutdown_grace = 1\nstate_dir = @DIR@\n"
	    "[users]\nbench = %s\n"
	    "[dc]\n2 = 127.0.0.1:%u\n3 = 127.0.0.1:%u\n4 = 127.0.0.1:%u\n",
	    fast ? "yes" : "no", sec, fakedc_port(b->dc[LOAD_ECHO]),
	    fakedc_port(b->dc[LOAD_SINK]), fakedc_port(b->dc[LOAD_SOURCE]));
	if ((rc = daemon_start(&p->d, conf, NULL, START_MS)) != 0) {
		fprintf(stderr, "bench: cannot start mtproxyd (%d)%s\n", rc,
		    rc == DAEMON_ERR_NOBIN ? ": set MTPROXYD_BIN to the "
		    "binary (make bench does)" : "");
		return -1;
	}
	if (daemon_addr(p->d, AF_INET, &ss, &len) != 0)
		return -1;
	p->t.name = target_names[ti];
	p->t.pid = daemon_pid(p->d);
	p->t.secret = p->secret;
	for (i = 0; i < LOAD_NDC; i++)
		dest_set(&p->t.dest[i], ntohs(((struct sockaddr_in *)&ss)->
		    sin_port), dc_id(i), b->dc[i]);
	return 0;
}

static int
start_all(struct bench *b)
{
	static const enum fakedc_mode modes[LOAD_NDC] = {
		[LOAD_ECHO] = FAKEDC_ECHO, [LOAD_SINK] = FAKEDC_SINK,
		[LOAD_SOURCE] = FAKEDC_SOURCE
	};
	struct fakedc_opts o = { .family = AF_INET };
	int i;

	for (i = 0; i < LOAD_NDC; i++) {
		o.mode = modes[i];
		if (fakedc_start(&o, &b->dc[i]) != 0) {
			fprintf(stderr, "bench: fake DC: %s\n", strerror(errno));
			return -1;
		}
	}
	b->none.name = target_names[T_NONE];
	b->none.pid = getpid();
	for (i = 0; i < LOAD_NDC; i++)
		dest_set(&b->none.dest[i], fakedc_port(b->dc[i]), dc_id(i),
		    b->dc[i]);
	if (start_relay(b) != 0 || start_daemon(b, T_DIRECT, 0) != 0 ||
	    start_daemon(b, T_FAST, 1) != 0)
		return -1;
	return 0;
}

static void
stop_all(struct bench *b)
{
	int i, st = 0;

	for (i = 0; i < NTARGETS; i++) {
		if (b->px[i].d != NULL &&
		    daemon_stop(b->px[i].d, SIGTERM, STOP_MS, &st) != 0) {
			printf("  !! %s did not stop within %d s of SIGTERM\n",
			    target_names[i], STOP_MS / 1000);
			b->broken = 1;
		}
		if (b->px[i].r != NULL && relay_stop(b->px[i].r, STOP_MS) != 0)
			b->broken = 1;
		b->px[i].d = NULL;
		b->px[i].r = NULL;
	}
	for (i = 0; i < LOAD_NDC; i++)
		fakedc_stop(b->dc[i]);
}

/* --- what went wrong */

/* Known limit messages of mtproxyd's log, to name what stopped a figure. */
static void
daemon_hints(const struct proxy *p, char *out, size_t outlen)
{
	static const char *const needles[] = {
		"no thread for the upstream direction", "worker pool full",
		"max_clients", "accept on", "unreachable", "out of memory",
	};
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; p->d != NULL && i < sizeof(needles) / sizeof(*needles);
	    i++)
		if ((n = daemon_log_count(p->d, needles[i])) > 0 &&
		    used < outlen)
			used += (size_t)snprintf(out + used, outlen - used,
			    "; its log has %d x \"%s\"", n, needles[i]);
}

static void
failed(struct bench *b, int ti, const char *what, const char *why)
{
	char hints[256];

	daemon_hints(&b->px[ti], hints, sizeof(hints));
	printf("  !! %-8s %s: %s%s\n", target_names[ti], what, why, hints);
	note(b, "%s, %s: failed: %s%s", target_names[ti], what, why, hints);
	b->broken = 1;
}

/* Every client of the last measurement gone at the DC, or say so. */
static void
quiesce(struct bench *b, int ti, const char *what, int timeout_ms)
{
	uint64_t open;
	int i;

	for (i = 0; i < LOAD_NDC; i++) {
		if (fakedc_wait(b->dc[i], FAKEDC_OPEN, 0, timeout_ms) == 0)
			continue;
		open = fakedc_counter(b->dc[i], FAKEDC_OPEN);
		printf("  !! %s, %s: %llu DC connections still open %d s after "
		    "the clients closed\n", target_names[ti], what,
		    (unsigned long long)open, timeout_ms / 1000);
		note(b, "%s, %s: %llu DC connections still open %d s after "
		    "the clients closed", target_names[ti], what,
		    (unsigned long long)open, timeout_ms / 1000);
	}
}

/* --- measurements */

static void
run_bulk(struct bench *b, int ti, const struct bulk_cfg *c)
{
	struct load_bulk r;
	char why[256];
	double mbps, cpu;

	if (!proxy_alive(b, ti))
		return;
	if (load_bulk_run(&b->px[ti].t, c->upload, c->clients,
	    b->o.warmup_ms, b->o.window_ms, &r, why, sizeof(why)) != 0) {
		failed(b, ti, c->what, why);
	} else {
		mbps = (double)r.bytes / r.seconds / 1e6;
		cpu = r.bytes > 0 ? r.proxy_cpu / ((double)r.bytes / 1e9) :
		    NAN;
		record(b, c->rate, ti, mbps);
		record(b, c->cpu, ti, cpu);
		printf("  %-8s %-21s %8.1f MB/s  %5.2f CPU s/GB  (proxy "
		    "%3.0f%% of a core, machine %3.0f%% busy)\n",
		    target_names[ti], c->what, mbps, cpu,
		    100 * r.proxy_cpu / r.seconds, 100 * r.machine_busy);
	}
	fflush(stdout);
	quiesce(b, ti, c->what, QUIET_MS);
}

static void
run_latency(struct bench *b, int ti)
{
	double p50, p99;
	char why[256];

	if (!proxy_alive(b, ti))
		return;
	if (load_latency(&b->px[ti].t, b->o.latency_rounds, LATENCY_MSG,
	    &p50, &p99, why, sizeof(why)) != 0) {
		failed(b, ti, "latency", why);
	} else {
		record(b, R_LAT50, ti, p50);
		record(b, R_LAT99, ti, p99);
		printf("  %-8s %-21s p50 %6.1f us  p99 %6.1f us  (%d round "
		    "trips of %d bytes)\n", target_names[ti], "latency", p50,
		    p99, b->o.latency_rounds, LATENCY_MSG);
	}
	fflush(stdout);
	quiesce(b, ti, "latency", QUIET_MS);
}

static void
run_handshakes(struct bench *b, int ti)
{
	char why[256];
	double rate;

	if (!proxy_alive(b, ti))
		return;
	if (load_handshakes(&b->px[ti].t, b->o.handshakes, HS_PARALLEL,
	    &rate, why, sizeof(why)) != 0) {
		failed(b, ti, "handshakes", why);
	} else {
		record(b, R_HS, ti, rate);
		printf("  %-8s %-21s %8.0f per s  (%d, %d connectors)\n",
		    target_names[ti], "handshakes", rate, b->o.handshakes,
		    HS_PARALLEL);
	}
	fflush(stdout);
	quiesce(b, ti, "handshakes", QUIET_MS);
}

/* Round r: every measurement on every target, the order rotated. */
static void
run_round(struct bench *b, int r)
{
	size_t c;
	int k, ti;

	printf("round %d of %d\n", r + 1, b->o.rounds);
	for (c = 0; c < sizeof(bulk_cfgs) / sizeof(*bulk_cfgs); c++)
		for (k = 0; k < NTARGETS; k++)
			run_bulk(b, (k + r) % NTARGETS, &bulk_cfgs[c]);
	for (k = 0; k < NTARGETS; k++) {
		ti = (k + r) % NTARGETS;
		run_latency(b, ti);
		run_handshakes(b, ti);
	}
}

/* --- idle clients and memory */

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
	    "opened in %.1f s\n", target_names[ti], f->n, f->rss, f->kernel,
	    f->kstack, memcg, f->avail, f->threads, secs);
}

static const struct load_target *
target_of(const struct bench *b, int ti)
{
	return ti == T_NONE ? &b->none : &b->px[ti].t;
}

/* Open idle clients up to `upto`; 0 if all of them, else a note says why. */
static int
idle_step(struct bench *b, int ti, struct load_idle *s, int upto,
    const struct proc_mem *m0, struct idle_fig *f)
{
	struct proc_mem m1;
	char why[256], hints[256];
	double t0 = now_s();
	int rc;

	rc = load_idle_open(s, target_of(b, ti), upto, b->o.idle_ms, why,
	    sizeof(why));
	if (rc != 0) {
		daemon_hints(&b->px[ti], hints, sizeof(hints));
		printf("  !! %-8s idle clients stopped at %d of %d: %s%s\n",
		    target_names[ti], s->n, upto, why, hints);
		note(b, "%s: idle clients stopped at %d of %d: %s%s; its "
		    "idle figures are for %d", target_names[ti], s->n, upto,
		    why, hints, s->n);
	}
	if (s->n > 0 && proc_mem_take(target_of(b, ti)->pid, SETTLE_MS,
	    MEM_SAMPLES, &m1) == 0) {
		idle_fig_set(f, m0, &m1, s->n);
		idle_print(ti, f, now_s() - t0);
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
	double deadline = now_s() + IDLE_QUIET_MS / 1000.0;
	int n, last = -1, same = 0;

	load_idle_close(s);
	quiesce(b, ti, "idle clients", IDLE_QUIET_MS);
	while (same < THREADS_STILL && now_s() < deadline &&
	    proc_threads(target_of(b, ti)->pid, &n) == 0) {
		same = n == last ? same + 1 : 0;
		last = n;
		sleep_ms(100);
	}
}

/*
 * The same number of clients once more: memory kept by the allocator for
 * reuse comes back into use, a leak grows again.
 */
static void
idle_again(struct bench *b, int ti, int n, const struct proc_mem *after)
{
	const struct load_target *t = target_of(b, ti);
	struct load_idle s = { 0 };
	struct proc_mem m;
	char why[256];

	if (load_idle_open(&s, t, n, b->o.idle_ms, why, sizeof(why)) != 0)
		printf("  !! %-8s second cycle stopped at %d: %s\n",
		    target_names[ti], s.n, why);
	n = s.n;
	idle_close(b, ti, &s);
	if (!proxy_alive(b, ti) ||
	    proc_mem_take(t->pid, SETTLE_MS, 1, &m) != 0)
		return;
	printf("  %-8s after a second cycle of %d: RSS %+ld KiB against "
	    "the first, threads %d\n", target_names[ti], n,
	    m.rss - after->rss, m.threads);
}

static void
run_idle(struct bench *b, int ti)
{
	const struct load_target *t = target_of(b, ti);
	struct load_idle s = { 0 };
	struct proc_mem m0, m1;
	int reached;

	if (!proxy_alive(b, ti))
		return;
	if (proc_mem_take(t->pid, SETTLE_MS, MEM_SAMPLES, &m0) != 0) {
		failed(b, ti, "idle", "cannot read /proc");
		return;
	}
	if (idle_step(b, ti, &s, b->o.idle_small, &m0, &b->idle[ti][0]) == 0)
		idle_step(b, ti, &s, b->o.idle_large, &m0, &b->idle[ti][1]);
	reached = s.n;
	idle_close(b, ti, &s);
	if (!proxy_alive(b, ti) ||
	    proc_mem_take(t->pid, SETTLE_MS, 1, &m1) != 0)
		return;
	printf("  %-8s after closing them: RSS %+ld KiB, threads %d (before "
	    "%d)\n", target_names[ti], m1.rss - m0.rss, m1.threads,
	    m0.threads);
	if (ti != T_NONE && reached > 0)
		idle_again(b, ti, reached, &m1);
}

/*
 * Per client, the proxy's all-in cost is its RSS plus the kernel's growth
 * less the test's own share of the kernel: the same clients connected
 * straight to the fake DC (client sockets, the DC's sockets). The memory
 * cgroup figure is net of the test's share the same way; it leaves out
 * what the kernel does not charge to a cgroup (socket page frags).
 */
static void
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
			record(b, rss[k], ti, f->rss);
			record(b, avail[k], ti, f->avail);
			record(b, kernel[k], ti, f->kernel);
			if (z->n > 0)
				record(b, all[k], ti, f->rss + f->kernel -
				    z->kernel);
			if (z->n > 0 && f->cgroup_ok && z->cgroup_ok)
				record(b, cg[k], ti, f->cgroup - z->cgroup);
			if (k == 0)
				continue;
			record(b, R_KSTACK_L, ti, f->kstack);
			record(b, R_THREADS_L, ti, f->threads);
		}
}

/* --- the report */

static void
labels(struct bench *b)
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
		printf(" %10s", "-");
	else if (fabs(v) >= 100)
		printf(" %10.0f", v);
	else
		printf(" %10.2f", v);
}

static void
print_table(const struct bench *b)
{
	double base, v;
	int r, ti;

	printf("\n%-32s %10s %10s %10s %10s %10s\n", "metric", "baseline",
	    "direct", "fast", "dir/base", "fast/base");
	for (r = 0; r < NROWS; r++) {
		printf("%-32s", b->rows[r].label);
		for (ti = 0; ti < NTARGETS; ti++)
			cell(value(b, r, ti));
		base = value(b, r, T_BASE);
		for (ti = T_DIRECT; ti < NTARGETS; ti++) {
			v = value(b, r, ti);
			if (isnan(v) || isnan(base) || base == 0)
				printf(" %10s", "-");
			else
				printf(" %9.2fx", v / base);
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
		printf("  %-6s %s: not measured\n", target_names[ti], aim);
		return;
	}
	snprintf(val, sizeof(val), fmt, v);
	printf("  %-6s %s: %s (%s): %s\n", target_names[ti], aim, val,
	    b->rows[which].label, ok ? "met" : "NOT met");
}

static void
print_aims(const struct bench *b)
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
		snprintf(aim, sizeof(aim), "%d idle clients <= 80 KiB each",
		    b->o.idle_large);
		aim_line(b, ti, aim, value(b, R_ALL_L, ti), R_ALL_L,
		    "%.1f KiB", value(b, R_ALL_L, ti) <= 80);
	}
}

static void
print_notes(const struct bench *b)
{
	const struct idle_fig *z = b->idle[T_NONE];
	int i, k;

	printf("\nMB = 10^6 bytes, GB = 10^9 bytes. Throughput and CPU are "
	    "medians of %d round(s) of %.1f s windows.\n"
	    "Ratios are to the baseline; for CPU, latency and memory lower is "
	    "better.\n",
	    b->o.rounds, b->o.window_ms / 1000.0);
	printf("Idle memory per client: \"kernel\" is the machine's "
	    "MemTotal - MemFree - AnonPages - Cached - Buffers\n(slab, "
	    "stacks, page tables, socket page frags); \"all-in\" is the "
	    "proxy's RSS + kernel - the test's own\nkernel share, measured "
	    "with the clients straight to the fake DC:");
	for (k = 0; k < 2; k++)
		if (z[k].n > 0)
			printf(" %.1f KiB at %d", z[k].kernel, z[k].n);
	printf(".\n");
	for (i = 0; i < b->nnotes; i++)
		printf("note: %s\n", b->notes[i]);
}

static void
print_machine(void)
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

/* --- options and main */

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	*o = (struct opts){ .rounds = 5, .warmup_ms = 300, .window_ms = 1500,
	    .latency_rounds = 2000, .handshakes = 1000, .idle_small = 1000,
	    .idle_large = 9000, .idle_ms = 120000 };
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			o->quick = 1;
			o->rounds = 1;
			o->warmup_ms = 200;
			o->window_ms = 1000;
			o->latency_rounds = 500;
			o->handshakes = 200;
			o->idle_small = 200;
			o->idle_large = 1000;
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			o->rounds = atoi(argv[++i]);
			if (o->rounds < 0 || o->rounds > MAX_ROUNDS)
				return -1;
		} else if (strcmp(argv[i], "--skip-idle") == 0)
			o->skip_idle = 1;
		else
			return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: MTPROXYD_BIN=path/to/mtproxyd bench [--quick] "
	    "[--rounds N] [--skip-idle]\n"
	    "  --quick      one short round, 200 and 1000 idle clients\n"
	    "  --rounds N   rounds of throughput, latency and handshakes "
	    "(0..%d, default 5)\n"
	    "  --skip-idle  no idle-client memory figures\n", MAX_ROUNDS);
}

/* The client and fake-DC sockets of 9,000 idle clients need 18,000 fds. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		printf("open files limit: %llu\n",
		    (unsigned long long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
	static struct bench b;
	double t0 = now_s();
	int r, ti;

	if (argc > 1 && strcmp(argv[1], RELAY_OPTION) == 0)
		return relay_main(argc - 1, argv + 1);
	if (parse_opts(argc, argv, &b.o) != 0) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	print_machine();
	raise_nofile();
	labels(&b);
	if (start_all(&b) != 0) {
		stop_all(&b);
		return 1;
	}
	for (r = 0; r < b.o.rounds; r++)
		run_round(&b, r);
	if (!b.o.skip_idle) {
		printf("idle clients\n");
		for (ti = 0; ti <= NTARGETS; ti++)
			run_idle(&b, (ti + T_NONE) % (NTARGETS + 1));
		idle_rows(&b);
	}
	stop_all(&b);
	print_table(&b);
	print_aims(&b);
	print_notes(&b);
	printf("bench: %.0f s%s\n", now_s() - t0, b.broken ?
	    "; something broke, see the lines marked !!" : "");
	return b.broken ? 1 : 0;
}
