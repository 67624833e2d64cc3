/*
 * bench --handshakes: handshake rate, daemon CPU per handshake and the
 * client's connect-to-first-byte latency of mtproxyd in direct mode alone,
 * for a list of connector counts, optionally with a warm DC pool and a
 * fake DC that serves each connection only a while after it arrived (a DC
 * one round trip away). CPU comes from /proc over a fixed number of
 * handshakes, so a busy neighbour slows the rate but barely moves it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>

#include "bench.h"
#include "crypto.h"
#include "proc.h"

#define HR_MAX_CONNECTORS	8
#define HR_START_MS		10000
#define HR_QUIET_MS		15000
#define HR_WARMUP		200

struct hr_opts {
	int count, rounds, dc_pool, dc_delay_ms, gap_ms;
	int connectors[HR_MAX_CONNECTORS], nconnectors;
};

struct hr_fig {
	double per_s, cpu_ms, user_ms, p50_ms, p99_ms;
};

static int
hr_parse(int argc, char **argv, struct hr_opts *o)
{
	char *end;
	int i;

	*o = (struct hr_opts){ .count = 4000, .rounds = 3 };
	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "--count") == 0)
			o->count = atoi(argv[++i]);
		else if (strcmp(argv[i], "--rounds") == 0)
			o->rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--dc-pool") == 0)
			o->dc_pool = atoi(argv[++i]);
		else if (strcmp(argv[i], "--dc-delay") == 0)
			o->dc_delay_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--gap") == 0)
			o->gap_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--connectors") == 0 &&
		    o->nconnectors < HR_MAX_CONNECTORS) {
			o->connectors[o->nconnectors++] =
			    (int)strtol(argv[++i], &end, 10);
			if (*end != '\0')
				return -1;
		} else
			return -1;
	}
	if (o->nconnectors == 0) {
		o->connectors[0] = 16;
		o->connectors[1] = 64;
		o->nconnectors = 2;
	}
	return o->count < 64 || o->rounds < 1 || o->rounds > BENCH_MAX_ROUNDS ?
	    -1 : 0;
}

static int
hr_start_daemon(const struct hr_opts *o, const struct fakedc *dc,
    uint8_t secret[16], struct daemon_proc **d, struct load_target *t)
{
	struct sockaddr_storage ss;
	char conf[1024], sec[33], pool[64] = "";
	socklen_t len;

	if (crypto_random(secret, 16) != 0)
		return -1;
	bench_hex(secret, 16, sec);
	/* -1 leaves the key out: a daemon from before dc_pool takes that. */
	if (o->dc_pool >= 0)
		snprintf(pool, sizeof(pool), "dc_pool = %d\n", o->dc_pool);
	snprintf(conf, sizeof(conf),
	    "[server]\nport = 0\nlisten = 127.0.0.1\npublic_host = 127.0.0.1\n"
	    "modes = secure\nfast_mode = no\nmax_clients = 10000\n%s"
	    "log_level = info\nshutdown_grace = 1\nstate_dir = @DIR@\n"
	    "[users]\nbench = %s\n[dc]\n2 = 127.0.0.1:%u\n", pool, sec,
	    fakedc_port(dc));
	if (daemon_start(d, conf, NULL, HR_START_MS) != 0 ||
	    daemon_addr(*d, AF_INET, &ss, &len) != 0) {
		fprintf(stderr, "bench: cannot start mtproxyd (set "
		    "MTPROXYD_BIN)\n");
		return -1;
	}
	memset(t, 0, sizeof(*t));
	t->name = "direct";
	t->pid = daemon_pid(*d);
	t->secret = secret;
	bench_dest_set(&t->dest[LOAD_ECHO], ntohs(((struct sockaddr_in *)
	    &ss)->sin_port), LOAD_ECHO, dc, NULL);
	return 0;
}

/* One measurement: count handshakes by p connectors, then quiet. */
static int
hr_measure(const struct load_target *t, const struct fakedc *dc,
    uint64_t idle_open, int count, int p, int gap_ms, struct hr_fig *f)
{
	struct load_hs r;
	double u0, s0, u1, s1;
	char why[256];

	if (proc_cpu_split(t->pid, &u0, &s0) != 0)
		return -1;
	if (load_handshakes(t, count, p, gap_ms, &r, why, sizeof(why)) != 0) {
		printf("  !! %d connectors: %s\n", p, why);
		return -1;
	}
	if (proc_cpu_split(t->pid, &u1, &s1) != 0)
		return -1;
	f->per_s = r.per_s;
	f->cpu_ms = (u1 + s1 - u0 - s0) * 1e3 / count;
	f->user_ms = (u1 - u0) * 1e3 / count;
	f->p50_ms = r.p50_ms;
	f->p99_ms = r.p99_ms;
	/* What stays open is the pool, refilled. */
	if (fakedc_wait(dc, FAKEDC_OPEN, idle_open, HR_QUIET_MS) != 0) {
		printf("  !! %llu DC connections open %d s after the clients "
		    "closed\n", (unsigned long long)fakedc_counter(dc,
		    FAKEDC_OPEN), HR_QUIET_MS / 1000);
		return -1;
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void
hr_summary(const struct hr_opts *o, int p, struct hr_fig *f)
{
	double v[5][BENCH_MAX_ROUNDS];
	int r;

	for (r = 0; r < o->rounds; r++) {
		v[0][r] = f[r].per_s;
		v[1][r] = f[r].cpu_ms;
		v[2][r] = f[r].user_ms;
		v[3][r] = f[r].p50_ms;
		v[4][r] = f[r].p99_ms;
	}
	printf("median of %d: %2d connectors %7.0f per s  %.4f CPU ms per "
	    "handshake (user %.4f)  p50 %.2f ms  p99 %.2f ms\n", o->rounds, p,
	    median(v[0], o->rounds), median(v[1], o->rounds),
	    median(v[2], o->rounds), median(v[3], o->rounds),
	    median(v[4], o->rounds));
}

int
hsrate_main(int argc, char **argv)
{
	struct fakedc_opts fo = { .family = AF_INET, .mode = FAKEDC_ECHO };
	struct hr_fig f[HR_MAX_CONNECTORS][BENCH_MAX_ROUNDS], w;
	struct daemon_proc *d = NULL;
	struct load_target t;
	struct fakedc *dc = NULL;
	struct hr_opts o;
	uint8_t secret[16];
	uint64_t idle_open;
	int i, r, rc = 1, st;

	if (hr_parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: bench --handshakes [--count N] "
		    "[--rounds R] [--connectors P]... [--dc-pool K] "
		    "[--dc-delay MS] [--gap MS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fo.accept_delay_ms = o.dc_delay_ms;
	idle_open = o.dc_pool > 0 ? (uint64_t)o.dc_pool : 0;
	if (fakedc_start(&fo, &dc) != 0 ||
	    hr_start_daemon(&o, dc, secret, &d, &t) != 0)
		goto out;
	printf("handshakes: %d per measurement, dc_pool %d, DC delay %d ms, "
	    "%d ms between a connector's handshakes\n", o.count, o.dc_pool,
	    o.dc_delay_ms, o.gap_ms);
	if (hr_measure(&t, dc, idle_open, HR_WARMUP, 8, 0, &w) != 0)
		goto out;
	for (r = 0; r < o.rounds; r++)
		for (i = 0; i < o.nconnectors; i++) {
			if (hr_measure(&t, dc, idle_open, o.count,
			    o.connectors[i], o.gap_ms, &f[i][r]) != 0)
				goto out;
			printf("  round %d: %2d connectors %7.0f per s  %.4f "
			    "CPU ms per handshake (user %.4f)  p50 %.2f ms  "
			    "p99 %.2f ms\n", r + 1, o.connectors[i],
			    f[i][r].per_s, f[i][r].cpu_ms, f[i][r].user_ms,
			    f[i][r].p50_ms, f[i][r].p99_ms);
		}
	for (i = 0; i < o.nconnectors; i++)
		hr_summary(&o, o.connectors[i], f[i]);
	rc = 0;
out:
	if (d != NULL && daemon_stop(d, SIGTERM, HR_START_MS, &st) != 0)
		rc = 1;
	fakedc_stop(dc);
	return rc;
}
