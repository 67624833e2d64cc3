/*
 * bench --handshake-cost: what one handshake costs by number of users, in
 * process and on one thread. Each handshake is handshake_run with the
 * session's seen_get before it and seen_put after it, over a socketpair
 * that already holds the client's bytes; the CPU is this thread's over
 * those three calls only, so that building the client's bytes is not
 * counted. A client on first contact comes from an address never seen,
 * with its user anywhere in the list (on average half the secrets are
 * tried); a returning one from an address seen with its user; a probe
 * from a new address with a secret of no user (every secret is tried).
 *
 * With --redis HOST:PORT every row is measured twice in the same run: the
 * local replay set alone, then with the shared one ([store] backend =
 * redis, replay_redis.h) after it, as the daemon checks them. Only the
 * proxy's side is counted: the CPU of redis-server is its own.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "client.h"
#include "crypto.h"
#include "handshake.h"
#include "hsenv.h"
#include "log.h"
#include "mask.h"
#include "net.h"
#include "replay_redis.h"
#include "seen.h"

#define HC_DOMAIN	"bench.example.com"
#define HC_SEEN_SLOTS	((size_t)1 << 16)	/* as the daemon's */
#define HC_RETURNING	8	/* addresses that come back, in turn: few,
				   so that they rarely share a slot */
#define HC_REPLAY	((size_t)1 << 20)
#define HC_STREAM_MAX	(FAKETLS_BUILD_MAX + 256)

static const size_t hc_user_counts[] = { 1, 100, 1000, 10000 };
#define HC_NCOUNTS	(sizeof(hc_user_counts) / sizeof(hc_user_counts[0]))

/* Clients, in the order of the table. */
enum hc_kind { HC_BACK, HC_FIRST, HC_PROBE, HC_NKINDS };

#define HC_PROBE_USER	SIZE_MAX	/* hc_one: the stranger's secret */

struct hc_opts {
	int count, rounds;
	const char *redis;	/* NULL: the local replay set only */
};

/* One measurement, per handshake: CPU and wall time, secrets tried. */
struct hc_fig {
	double cpu_us, wall_us, trials;
};

struct hc_env {
	struct hsenv hs;		/* the configuration: modes, domain */
	struct mask *cover;
	uint8_t (*secrets)[SECRET_LEN];
	uint8_t stranger[SECRET_LEN];	/* no user's */
	struct handshake_env env;	/* hs.env with secrets and a replay set */
	struct seen *seen;
	uint32_t next_addr;		/* first contacts: never seen before */
	struct replay_redis *shared;	/* --redis */
	atomic_ullong shared_errors;	/* must stay 0 */
};

static double
hc_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
hc_parse(int argc, char **argv, struct hc_opts *o)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "redis", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	*o = (struct hc_opts){ .count = 2000, .rounds = 3 };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			o->count = atoi(optarg);
		else if (c == 'r')
			o->rounds = atoi(optarg);
		else if (c == 's')
			o->redis = optarg;
		else
			return -1;
	}
	return optind < argc || o->count < 1 || o->rounds < 1 ||
	    o->rounds > BENCH_MAX_ROUNDS ? -1 : 0;
}

static int
hc_env_new(struct hc_env *e, size_t nusers, const char *redis)
{
	struct replay_redis_conf rc = { .addr = redis, .prefix = "bench:",
	    .timeout_ms = 50, .window = FAKETLS_REPLAY_WINDOW,
	    .errors = &e->shared_errors };
	struct config none;

	memset(e, 0, sizeof(*e));
	config_defaults(&none);
	if (mask_new(&none, &e->cover) != 0 ||
	    hsenv_init(&e->hs, "[server]\nmodes = classic, secure, tls\n"
	    "[tls]\ndomain = " HC_DOMAIN "\n[users]\nu = "
	    "000102030405060708090a0b0c0d0e0f\n", e->cover) != 0 ||
	    (e->secrets = calloc(nusers, SECRET_LEN)) == NULL ||
	    crypto_random((uint8_t *)e->secrets, nusers * SECRET_LEN) != 0 ||
	    crypto_random(e->stranger, SECRET_LEN) != 0 ||
	    seen_new(HC_SEEN_SLOTS, &e->seen) != 0)
		return -1;
	e->env = e->hs.env;
	e->env.secrets = (const uint8_t (*)[SECRET_LEN])e->secrets;
	e->env.nsecrets = nusers;
	atomic_init(&e->shared_errors, 0);
	if (redis != NULL && replay_redis_new(&e->shared, &rc) != 0)
		return -1;
	return replay_new(&e->env.replay, HC_REPLAY, FAKETLS_REPLAY_WINDOW);
}

static void
hc_env_free(struct hc_env *e)
{
	replay_free(e->env.replay);
	replay_redis_free(e->shared);
	seen_free(e->seen);
	free(e->secrets);
	hsenv_free(&e->hs);
	mask_free(e->cover);
}

/* A padded-intermediate header for secret, not one that looks like TLS. */
static int
hc_header(const uint8_t *secret, uint8_t wire[OBFS2_HEADER_LEN])
{
	uint8_t rnd[OBFS2_HEADER_LEN];
	struct obfs2_keys k;
	int rc;

	do {
		if (crypto_random(rnd, sizeof(rnd)) != 0)
			return -1;
		rc = obfs2_build(rnd, PROTO_TAG_PADDED, 2, secret, NULL, NULL,
		    wire, &k);
	} while (rc == OBFS2_ERR_RETRY ||
	    (rc == 0 && wire[0] == TLS_RECORD_HANDSHAKE));
	crypto_cleanse(&k, sizeof(k));
	return rc;
}

/* What the client sends: the header, or a hello and the header in records. */
static int
hc_stream(int tls, const uint8_t *secret, uint8_t *buf, size_t *len)
{
	uint8_t hdr[OBFS2_HEADER_LEN];
	size_t n = 0, w;

	if (hc_header(secret, hdr) != 0)
		return -1;
	if (!tls) {
		memcpy(buf, hdr, sizeof(hdr));
		*len = sizeof(hdr);
		return 0;
	}
	if (tclient_tls_hello_build(secret, HC_DOMAIN, 0, 0, buf,
	    HC_STREAM_MAX, &n) != 0 ||
	    faketls_wrap(hdr, sizeof(hdr), TLS_PLAINTEXT_MAX, buf + n,
	    HC_STREAM_MAX - n, &w) != 0)
		return -1;
	*len = n + w;
	return 0;
}

static void
hc_addr(struct sockaddr_in *a, uint32_t n)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0x0a000000 + n);
}

/*
 * One handshake of user's client (HC_PROBE_USER: a probe, which must
 * fail) from a: its CPU and the secrets tried added to *f.
 */
static int
hc_one(struct hc_env *e, int tls, size_t user, const struct sockaddr_in *a,
    struct hc_fig *f)
{
	int probe = user == HC_PROBE_USER;
	const struct sockaddr *sa = (const struct sockaddr *)a;
	uint8_t buf[HC_STREAM_MAX];
	struct handshake h;
	double c0, w0;
	size_t len;
	int peer, rc;

	if (hc_stream(tls, probe ? e->stranger : e->secrets[user], buf,
	    &len) != 0)
		return -1;
	memset(&h, 0, sizeof(h));
	if ((peer = hsenv_client(NULL, 0, buf, len, 1, &h.fd)) < 0)
		return -1;
	h.env = &e->env;
	h.deadline = net_now_ms() + 10000;
	h.unix_now = (int64_t)time(NULL);
	h.who = "bench";
	w0 = bench_now_s();
	c0 = hc_cpu_s();
	(void)seen_get(e->seen, sa, &h.first);
	rc = handshake_run(&h);
	if (rc == 0)
		seen_put(e->seen, sa, (size_t)h.res.secret_index);
	f->cpu_us += (hc_cpu_s() - c0) * 1e6;
	f->wall_us += (bench_now_s() - w0) * 1e6;
	f->trials += (double)(probe ? e->env.nsecrets : h.trials);
	if (probe)
		rc = rc == HANDSHAKE_ERR ? 0 : -1;
	else if (rc == 0 && (h.res.secret_index != (int)user || h.tls != tls))
		rc = -1;
	handshake_free(&h);
	close(h.fd);
	close(peer);
	return rc;
}

static size_t
hc_pick(size_t n)
{
	uint8_t r[4];

	crypto_random(r, sizeof(r));
	return ((size_t)r[0] << 24 | (size_t)r[1] << 16 | (size_t)r[2] << 8 |
	    r[3]) % n;
}

/*
 * count handshakes of one kind; per handshake into *f. Returning clients
 * are HC_RETURNING addresses, each seen once with its user first.
 */
static int
hc_cell(struct hc_env *e, int tls, enum hc_kind kind, int count,
    struct hc_fig *f)
{
	int returning = kind == HC_BACK;
	struct sockaddr_in a[HC_RETURNING];
	size_t user[HC_RETURNING], nu = e->env.nsecrets;
	struct hc_fig warm = { 0, 0, 0 };
	int i, k;

	*f = (struct hc_fig){ 0, 0, 0 };
	for (i = 0; i < count; i++) {
		k = returning ? i % HC_RETURNING : 0;
		if (!returning || i < HC_RETURNING) {
			hc_addr(&a[k], e->next_addr++);
			user[k] = kind == HC_PROBE ? HC_PROBE_USER :
			    hc_pick(nu);
		}
		/* A returning client was here once before, not counted. */
		if (returning && i < HC_RETURNING &&
		    hc_one(e, tls, user[k], &a[k], &warm) != 0)
			return -1;
		if (hc_one(e, tls, user[k], &a[k], f) != 0)
			return -1;
	}
	f->cpu_us /= count;
	f->wall_us /= count;
	f->trials /= count;
	return 0;
}

static int
hc_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
hc_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), hc_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* First contacts and probes try many secrets: fewer of them. */
static int
hc_count(const struct hc_opts *o, size_t nusers, enum hc_kind kind)
{
	int n = kind == HC_BACK ? o->count :
	    o->count / (int)(1 + nusers / 200);

	return n < 20 ? 20 : n;
}

/* Every round of one row, printed. */
static int
hc_row(const struct hc_opts *o, struct hc_env *e, int tls,
    enum hc_kind kind, int shared)
{
	static const char *const tname[] = { "obfuscated2", "fake-TLS" };
	static const char *const kname[HC_NKINDS] = { "returning", "first",
	    "probe" };
	static const char *const sname[] = { "local", "+redis" };
	double cpu[BENCH_MAX_ROUNDS], wall[BENCH_MAX_ROUNDS], trials = 0;
	size_t nusers = e->env.nsecrets;
	int r, n = hc_count(o, nusers, kind);
	struct hc_fig f;

	e->env.shared = shared ? e->shared : NULL;
	for (r = 0; r < o->rounds; r++) {
		if (hc_cell(e, tls, kind, n, &f) != 0) {
			fprintf(stderr, "bench: a handshake failed\n");
			return -1;
		}
		cpu[r] = f.cpu_us;
		wall[r] = f.wall_us;
		trials += f.trials / o->rounds;
	}
	printf("| %5zu | %-11s | %-9s | %-6s | %9.1f | %8.0f | %8.0f "
	    "| %7.1f |\n", nusers, tname[tls], kname[kind], sname[shared],
	    hc_median(cpu, o->rounds), 1e6 / hc_median(cpu, o->rounds),
	    1e6 / hc_median(wall, o->rounds), trials);
	return 0;
}

/* Every row of one user count: transport x client (x replay set). */
static int
hc_users(const struct hc_opts *o, size_t nusers)
{
	struct hc_fig f;
	struct hc_env e;
	int tls, kind, shared, rc = -1;

	if (hc_env_new(&e, nusers, o->redis) != 0) {
		fprintf(stderr, "bench: cannot set up %zu users\n", nusers);
		goto out;
	}
	/* Not counted: the first handshakes of a process set things up. */
	for (tls = 0; tls <= 1; tls++)
		if (hc_cell(&e, tls, HC_BACK, HC_RETURNING, &f) != 0)
			goto out;
	for (tls = 0; tls <= 1; tls++)
		for (kind = 0; kind < HC_NKINDS; kind++)
			for (shared = 0; shared <= (e.shared != NULL);
			    shared++)
				if (hc_row(o, &e, tls, (enum hc_kind)kind,
				    shared) != 0)
					goto out;
	/* A check Redis missed was a local one: the figures would lie. */
	if (atomic_load(&e.shared_errors) != 0) {
		fprintf(stderr, "bench: %llu replay checks Redis did not "
		    "answer\n", atomic_load(&e.shared_errors));
		goto out;
	}
	rc = 0;
out:
	hc_env_free(&e);
	return rc;
}

int
hscost_main(int argc, char **argv)
{
	struct hc_opts o;
	size_t i;

	if (hc_parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: bench --handshake-cost [--count N] "
		    "[--rounds R] [--redis HOST:PORT]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(LOGL_ERROR);
	report_machine();
	printf("handshakes per measurement: %d returning, %d/(1 + users/200) "
	    "first contacts or probes (at least 20); %d rounds, medians\n\n",
	    o.count, o.count, o.rounds);
	printf("| users | transport   | client    | replay | CPU µs/hs | "
	    "hs/s CPU | hs/s wall | trials |\n");
	printf("|------:|-------------|-----------|--------|----------:|"
	    "---------:|----------:|-------:|\n");
	for (i = 0; i < HC_NCOUNTS; i++)
		if (hc_users(&o, hc_user_counts[i]) != 0)
			return 1;
	return 0;
}
