/*
 * mtproxyd benchmark (make bench). One run measures a plain TCP relay with
 * mtproxyd's thread model (the baseline) and mtproxyd in direct mode
 * without and with fast_mode, all in front of the harness's fake DCs on
 * loopback, and mtproxyd in middle mode in front of the harness's fake
 * middle proxies, interleaved round by round so that a busy neighbour
 * slows all of them alike; the figures that matter are the ratios to the
 * baseline.
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
#include <sys/wait.h>

#include "bench.h"
#include "crypto.h"
#include "fakedc.h"
#include "proc.h"
#include "tclock.h"

#define START_MS		10000
#define STOP_MS			10000
#define LATENCY_MSG		1024
#define HS_PARALLEL		4
#define BULK_MANY		64

const char *const bench_names[NTARGETS + 1] = {
	"baseline", "direct", "fast", "middle", "no proxy"
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

/* --- helpers shared with idle.c and report.c */

double
bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
bench_note(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->nnotes == BENCH_MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(b->notes[b->nnotes++], sizeof(b->notes[0]), fmt, ap);
	va_end(ap);
}

void
bench_record(struct bench *b, enum row_id r, int ti, double v)
{
	struct bench_row *row = &b->rows[r];

	if (row->n[ti] < BENCH_MAX_ROUNDS && isfinite(v))
		row->v[ti][row->n[ti]++] = v;
}

/* --- the proxies */

const struct load_target *
bench_target(const struct bench *b, int ti)
{
	return ti == T_NONE ? &b->none : &b->px[ti].t;
}

int
bench_alive(struct bench *b, int ti)
{
	struct bench_proxy *p = &b->px[ti];
	int st = 0, gone;

	if (ti == T_NONE)
		return 1;
	if (p->dead)
		return 0;
	gone = p->d != NULL ? daemon_exited(p->d, &st) :
	    relay_exited(p->r, &st);
	if (!gone)
		return 1;
	p->dead = 1;
	b->broken = 1;
	printf("  !! %s exited (%s %d); its later figures are missing\n",
	    bench_names[ti], WIFSIGNALED(st) ? "signal" : "status",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	bench_note(b, "%s exited during the run (%s %d)", bench_names[ti],
	    WIFSIGNALED(st) ? "signal" : "status",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (p->d != NULL)
		daemon_dump_log(p->d, stdout);
	return 0;
}

/* DC ids 2, 3, 4 lead to the ECHO, SINK and SOURCE fake DCs. */
void
bench_dest_set(struct load_dest *d, uint16_t port, int which,
    const struct fakedc *fdc, const struct fakemp *fmp)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&d->ss;

	memset(d, 0, sizeof(*d));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
	d->len = sizeof(*sin);
	d->dc = (int16_t)(2 + which);
	d->fdc = fdc;
	d->fmp = fmp;
}

static int
start_relay(struct bench *b)
{
	struct bench_proxy *p = &b->px[T_BASE];
	uint16_t ports[LOAD_NDC];
	int i, rc;

	for (i = 0; i < LOAD_NDC; i++)
		ports[i] = fakedc_port(b->dc[i]);
	if ((rc = relay_spawn(ports, LOAD_NDC, START_MS, &p->r)) != 0) {
		fprintf(stderr, "bench: cannot start the baseline relay (%d): "
		    "%s\n", rc, strerror(errno));
		return -1;
	}
	p->t.name = bench_names[T_BASE];
	p->t.pid = relay_pid(p->r);
	p->t.secret = NULL;
	for (i = 0; i < LOAD_NDC; i++)
		bench_dest_set(&p->t.dest[i], relay_port(p->r, i), i,
		    b->dc[i], NULL);
	return 0;
}

void
bench_hex(const uint8_t *p, size_t n, char *out)
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
	struct bench_proxy *p = &b->px[ti];
	struct sockaddr_storage ss;
	char conf[1024], sec[33];
	socklen_t len;
	int i, rc;

	if (crypto_random(p->secret, sizeof(p->secret)) != 0)
		return -1;
	bench_hex(p->secret, sizeof(p->secret), sec);
	snprintf(conf, sizeof(conf),
	    "[server]\nport = 0\nlisten = 127.0.0.1\npublic_host = 127.0.0.1\n"
	    "modes = secure\nfast_mode = %s\nmax_clients = 10000\ndc_pool = 0\n"
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
	p->t.name = bench_names[ti];
	p->t.pid = daemon_pid(p->d);
	p->t.secret = p->secret;
	for (i = 0; i < LOAD_NDC; i++)
		bench_dest_set(&p->t.dest[i], ntohs(((struct sockaddr_in *)
		    &ss)->sin_port), i, b->dc[i], NULL);
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
			fprintf(stderr, "bench: fake DC: %s\n",
			    strerror(errno));
			return -1;
		}
	}
	b->none.name = bench_names[T_NONE];
	b->none.pid = getpid();
	for (i = 0; i < LOAD_NDC; i++)
		bench_dest_set(&b->none.dest[i], fakedc_port(b->dc[i]), i,
		    b->dc[i], NULL);
	if (start_relay(b) != 0 || start_daemon(b, T_DIRECT, 0) != 0 ||
	    start_daemon(b, T_FAST, 1) != 0 ||
	    midtarget_start(b, START_MS) != 0)
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
			    bench_names[i], STOP_MS / 1000);
			b->broken = 1;
		} else if (b->px[i].d != NULL && !b->px[i].dead &&
		    (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			printf("  !! %s ended with wait status 0x%x on "
			    "SIGTERM\n", bench_names[i], (unsigned)st);
			b->broken = 1;
		}
		if (b->px[i].r != NULL && relay_stop(b->px[i].r, STOP_MS) != 0)
			b->broken = 1;
		b->px[i].d = NULL;
		b->px[i].r = NULL;
	}
	for (i = 0; i < LOAD_NDC; i++)
		fakedc_stop(b->dc[i]);
	midtarget_stop(b);
}

/* --- what went wrong */

/* Known limit messages of mtproxyd's log, to name what stopped a figure. */
void
bench_hints(const struct bench *b, int ti, char *out, size_t outlen)
{
	static const char *const needles[] = {
		"no thread for the upstream direction", "worker pool full",
		"max_clients (", "accept on", "unreachable", "out of memory",
		"client queue full", "no middle-proxy link ready",
		"link closed", "bad frame", "bad answer",
	};
	const struct bench_proxy *p = &b->px[ti];
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

void
bench_failed(struct bench *b, int ti, const char *what, const char *why)
{
	char hints[256];

	bench_hints(b, ti, hints, sizeof(hints));
	printf("  !! %-8s %s: %s%s\n", bench_names[ti], what, why, hints);
	bench_note(b, "%s, %s: failed: %s%s", bench_names[ti], what, why,
	    hints);
	b->broken = 1;
}

/* Every client of the last measurement gone at the DC, or say so. */
void
bench_quiesce(struct bench *b, int ti, const char *what, int timeout_ms)
{
	uint64_t open;
	int i;

	if (ti == T_MIDDLE) {
		midtarget_quiesce(b, what, timeout_ms);
		return;
	}
	for (i = 0; i < LOAD_NDC; i++) {
		if (fakedc_wait(b->dc[i], FAKEDC_OPEN, 0, timeout_ms) == 0)
			continue;
		open = fakedc_counter(b->dc[i], FAKEDC_OPEN);
		printf("  !! %s, %s: %llu DC connections still open %d s after "
		    "the clients closed\n", bench_names[ti], what,
		    (unsigned long long)open, timeout_ms / 1000);
		bench_note(b, "%s, %s: %llu DC connections still open %d s "
		    "after the clients closed", bench_names[ti], what,
		    (unsigned long long)open, timeout_ms / 1000);
	}
}

/* --- measurements */

int
bench_bulk(struct bench *b, int ti, int upload, int clients, const char *what,
    double *mbps, double *cpu)
{
	struct load_bulk r;
	char why[256];

	if (load_bulk_run(&b->px[ti].t, upload, clients, b->o.warmup_ms,
	    b->o.window_ms, &r, why, sizeof(why)) != 0) {
		bench_failed(b, ti, what, why);
		return -1;
	}
	*mbps = (double)r.bytes / r.seconds / 1e6;
	*cpu = r.bytes > 0 ? r.proxy_cpu / ((double)r.bytes / 1e9) : NAN;
	printf("  %-8s %-21s %8.1f MB/s  %5.2f CPU s/GB  (proxy %3.0f%%, "
	    "bench %3.0f%% of a core, machine %3.0f%% busy)\n",
	    bench_names[ti], what, *mbps, *cpu, 100 * r.proxy_cpu / r.seconds,
	    100 * r.gen_cpu / r.seconds, 100 * r.machine_busy);
	fflush(stdout);
	return 0;
}

static void
run_bulk(struct bench *b, int ti, const struct bulk_cfg *c)
{
	double mbps, cpu;

	if (!bench_alive(b, ti))
		return;
	if (bench_bulk(b, ti, c->upload, c->clients, c->what, &mbps,
	    &cpu) == 0) {
		bench_record(b, c->rate, ti, mbps);
		bench_record(b, c->cpu, ti, cpu);
	}
	bench_quiesce(b, ti, c->what, BENCH_QUIET_MS);
}

static void
run_latency(struct bench *b, int ti)
{
	double p50, p99;
	char why[256];

	if (!bench_alive(b, ti))
		return;
	if (load_latency(&b->px[ti].t, b->o.latency_rounds, LATENCY_MSG,
	    &p50, &p99, why, sizeof(why)) != 0) {
		bench_failed(b, ti, "latency", why);
	} else {
		bench_record(b, R_LAT50, ti, p50);
		bench_record(b, R_LAT99, ti, p99);
		printf("  %-8s %-21s p50 %6.1f us  p99 %6.1f us  (%d round "
		    "trips of %d bytes)\n", bench_names[ti], "latency", p50,
		    p99, b->o.latency_rounds, LATENCY_MSG);
	}
	fflush(stdout);
	bench_quiesce(b, ti, "latency", BENCH_QUIET_MS);
}

static void
run_handshakes(struct bench *b, int ti)
{
	struct load_hs r;
	char why[256];
	double rate;

	if (!bench_alive(b, ti))
		return;
	if (load_handshakes(&b->px[ti].t, b->o.handshakes, HS_PARALLEL, 0,
	    &r, why, sizeof(why)) != 0) {
		bench_failed(b, ti, "handshakes", why);
	} else {
		rate = r.per_s;
		bench_record(b, R_HS, ti, rate);
		printf("  %-8s %-21s %8.0f per s  (%d, %d connectors)\n",
		    bench_names[ti], "handshakes", rate, b->o.handshakes,
		    HS_PARALLEL);
	}
	fflush(stdout);
	bench_quiesce(b, ti, "handshakes", BENCH_QUIET_MS);
}

/*
 * What each proxy holds with no client, round after round: growth that
 * does not level off would be a leak (the idle step checks this for all
 * but middle mode, at scale).
 */
static void
report_after_round(struct bench *b)
{
	long rss;
	int ti, threads;

	printf("  held with no client (RSS MiB, threads, fds):");
	for (ti = 0; ti < NTARGETS; ti++) {
		if (!bench_alive(b, ti) ||
		    proc_rss_kib(b->px[ti].t.pid, &rss) != 0 ||
		    proc_threads(b->px[ti].t.pid, &threads) != 0)
			continue;
		printf(" %s %.1f, %d, %d;", bench_names[ti], rss / 1024.0,
		    threads, daemon_count_fds(b->px[ti].t.pid));
	}
	printf("\n");
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
	report_after_round(b);
}

/* --- options and main */

/* --quick first, so that --rounds given with it wins wherever it is. */
static void
quick_opts(int argc, char **argv, struct bench_opts *o)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0) {
			o->rounds = 1;
			o->warmup_ms = 200;
			o->window_ms = 1000;
			o->latency_rounds = 500;
			o->handshakes = 200;
			o->idle_small = 1000;
			o->idle_large = 3000;
		}
}

static int
parse_opts(int argc, char **argv, struct bench_opts *o)
{
	int i;

	*o = (struct bench_opts){ .rounds = 5, .warmup_ms = 300,
	    .window_ms = 1500, .latency_rounds = 2000, .handshakes = 1000,
	    .idle_small = 1000, .idle_large = 9000, .idle_ms = 120000 };
	quick_opts(argc, argv, o);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			continue;
		if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			o->rounds = atoi(argv[++i]);
			if (o->rounds < 0 || o->rounds > BENCH_MAX_ROUNDS)
				return -1;
		} else if (strcmp(argv[i], "--cores") == 0 && i + 1 < argc) {
			if (scale_parse(argv[++i], o) != 0)
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
	    "[--rounds N] [--skip-idle] [--cores LIST]\n"
	    "  --quick       one short round, 1000 and 3000 idle clients\n"
	    "  --rounds N    rounds of throughput, latency and handshakes "
	    "(0..%d, default 5)\n"
	    "  --skip-idle   no idle-client memory figures\n"
	    "  --cores LIST  the proxies on these CPUs only (e.g. 0,1 or "
	    "0-15), and\n"
	    "                throughput and scaling on 1, 2, 4 ... of them\n",
	    BENCH_MAX_ROUNDS);
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
	double t0 = bench_now_s();
	int r, ti;

	if (argc > 1 && strcmp(argv[1], RELAY_OPTION) == 0)
		return relay_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], HSRATE_OPTION) == 0)
		return hsrate_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], HSCOST_OPTION) == 0)
		return hscost_main(argc - 1, argv + 1);
	if (parse_opts(argc, argv, &b.o) != 0) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	report_machine();
	raise_nofile();
	report_labels(&b);
	if (start_all(&b) != 0) {
		stop_all(&b);
		return 1;
	}
	if (b.o.ncpus > 0) {
		printf("proxies pinned to %d core(s) of --cores\n", b.o.ncpus);
		scale_pin(&b, b.o.ncpus);
	}
	for (r = 0; r < b.o.rounds; r++)
		run_round(&b, r);
	if (b.o.ncpus > 0)
		scale_run(&b);
	if (!b.o.skip_idle) {
		printf("idle clients (not for middle)\n");
		idle_run(&b, T_NONE);
		for (ti = 0; ti < NTARGETS; ti++)
			if (ti != T_MIDDLE)
				idle_run(&b, ti);
		idle_rows(&b);
	}
	stop_all(&b);
	report_table(&b);
	scale_report(&b);
	report_aims(&b);
	report_notes(&b);
	printf("bench: %.0f s%s\n", bench_now_s() - t0, b.broken ?
	    "; something broke, see the lines marked !!" : "");
	return b.broken ? 1 : 0;
}
