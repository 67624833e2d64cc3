/*
 * Load generators. Clients are the harness's tclient; bulk transfer uses a
 * thread per client, as the proxies do, so that no client waits on another.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "load.h"
#include "proc.h"

#define LOAD_IO_MS		5000	/* any single wait on a peer */
#define LOAD_HEADERS_MS		10000	/* all bulk clients through to the DC */
#define LOAD_CHUNK		(64 * 1024)
#define LOAD_PROBE		16	/* handshake and idle echo, bytes */
#define LOAD_BATCH		64	/* idle clients opened before echoes */
#define LOAD_WARMUP_ROUNDS	20
#define LOAD_MAX_THREADS	64

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *
tclient_reason(int rc, int err)
{
	switch (rc) {
	case TCLIENT_ERR_TIMEOUT:
		return "no progress within 5 s";
	case TCLIENT_ERR_EOF:
		return "closed by the proxy";
	case TCLIENT_ERR_FRAME:
		return "bad frame";
	case TCLIENT_ERR_TOOBIG:
		return "frame too big";
	default:
		return strerror(err);
	}
}

static void
fail(char *why, size_t whylen, const char *what, int rc, int err)
{
	snprintf(why, whylen, "%s: %s", what, tclient_reason(rc, err));
}

static int
dial(const struct load_target *t, enum load_dc which, struct tclient **c)
{
	const struct load_dest *d = &t->dest[which];

	return tclient_connect((const struct sockaddr *)&d->ss, d->len,
	    t->secret, FRAME_PADDED, d->dc, LOAD_IO_MS, c);
}

/* One echo round trip of len bytes (at most LOAD_CHUNK), checked. */
static int
echo(struct tclient *c, const uint8_t *msg, size_t len, uint8_t *buf)
{
	size_t got;
	int rc;

	if ((rc = tclient_send(c, msg, len, 0)) != 0 ||
	    (rc = tclient_recv(c, buf, LOAD_CHUNK, &got, LOAD_IO_MS)) != 0)
		return rc;
	if (got < len || memcmp(buf, msg, len) != 0) {
		errno = EPROTO;
		return TCLIENT_ERR;
	}
	return 0;
}

/* --- bulk */

struct bulk_worker {
	struct tclient *c;
	pthread_t thread;
	int running;
	atomic_int *stop;
	atomic_ullong *received;
	int rc, err;
};

static void *
bulk_upload(void *arg)
{
	static const uint8_t zeros[LOAD_CHUNK];
	struct bulk_worker *w = arg;

	while (!atomic_load(w->stop))
		if ((w->rc = tclient_write_raw(w->c, zeros, sizeof(zeros),
		    0)) != 0) {
			w->err = errno;
			break;
		}
	return NULL;
}

static void *
bulk_download(void *arg)
{
	struct bulk_worker *w = arg;
	uint8_t *buf = malloc(LOAD_CHUNK);
	size_t n;

	if (buf == NULL) {
		w->rc = TCLIENT_ERR;
		w->err = errno;
		return NULL;
	}
	while (!atomic_load(w->stop)) {
		w->rc = tclient_read_raw(w->c, buf, LOAD_CHUNK, &n, 0,
		    LOAD_IO_MS);
		if (w->rc != 0) {
			w->err = errno;
			break;
		}
		atomic_fetch_add(w->received, n);
	}
	free(buf);
	return NULL;
}

struct bulk_snap {
	int64_t ns;
	uint64_t bytes;
	double cpu;
	unsigned long long busy, total;
};

static int
bulk_snap(const struct load_target *t, int upload, atomic_ullong *received,
    struct bulk_snap *s)
{
	s->ns = now_ns();
	s->bytes = upload ? fakedc_counter(t->dest[LOAD_SINK].fdc,
	    FAKEDC_BYTES_IN) : atomic_load(received);
	if (proc_cpu_seconds(t->pid, &s->cpu) != 0 ||
	    proc_machine_cpu(&s->busy, &s->total) != 0)
		return LOAD_ERR;
	return 0;
}

/* Connect every client and wait until the DC has all their headers. */
static int
bulk_connect(const struct load_target *t, enum load_dc which,
    struct bulk_worker *w, int n, char *why, size_t whylen)
{
	const struct fakedc *fdc = t->dest[which].fdc;
	uint64_t before = fakedc_counter(fdc, FAKEDC_HEADERS);
	int i, rc;

	for (i = 0; i < n; i++)
		if ((rc = dial(t, which, &w[i].c)) != 0) {
			fail(why, whylen, "connect", rc, errno);
			return LOAD_ERR;
		}
	if (fakedc_wait(fdc, FAKEDC_HEADERS, before + (uint64_t)n,
	    LOAD_HEADERS_MS) != 0) {
		snprintf(why, whylen, "only %llu of %d clients reached the DC "
		    "in %d s", (unsigned long long)(fakedc_counter(fdc,
		    FAKEDC_HEADERS) - before), n, LOAD_HEADERS_MS / 1000);
		return LOAD_ERR;
	}
	return 0;
}

static int
bulk_measure(const struct load_target *t, int upload, atomic_ullong *rcvd,
    int warmup_ms, int window_ms, struct load_bulk *r)
{
	struct bulk_snap a, b;

	sleep_ms(warmup_ms);
	if (bulk_snap(t, upload, rcvd, &a) != 0)
		return LOAD_ERR;
	sleep_ms(window_ms);
	if (bulk_snap(t, upload, rcvd, &b) != 0)
		return LOAD_ERR;
	r->bytes = b.bytes - a.bytes;
	r->seconds = (double)(b.ns - a.ns) / 1e9;
	r->proxy_cpu = b.cpu - a.cpu;
	r->machine_busy = b.total > a.total ?
	    (double)(b.busy - a.busy) / (double)(b.total - a.total) : 0;
	return 0;
}

/* The first worker failure, if any, makes the run's figures meaningless. */
static int
bulk_check(const struct bulk_worker *w, int n, char *why, size_t whylen)
{
	int i;

	for (i = 0; i < n; i++)
		if (w[i].rc != 0) {
			fail(why, whylen, "transfer", w[i].rc, w[i].err);
			return LOAD_ERR;
		}
	return 0;
}

int
load_bulk_run(const struct load_target *t, int upload, int nclients,
    int warmup_ms, int window_ms, struct load_bulk *r, char *why,
    size_t whylen)
{
	struct bulk_worker w[LOAD_MAX_THREADS];
	atomic_int stop;
	atomic_ullong received;
	int i, rc = LOAD_ERR;

	if (nclients < 1 || nclients > LOAD_MAX_THREADS) {
		snprintf(why, whylen, "1..%d clients", LOAD_MAX_THREADS);
		return LOAD_ERR;
	}
	memset(w, 0, sizeof(w));
	atomic_init(&stop, 0);
	atomic_init(&received, 0);
	if (bulk_connect(t, upload ? LOAD_SINK : LOAD_SOURCE, w, nclients,
	    why, whylen) != 0)
		goto out;
	for (i = 0; i < nclients; i++) {
		w[i].stop = &stop;
		w[i].received = &received;
		if ((errno = pthread_create(&w[i].thread, NULL, upload ?
		    bulk_upload : bulk_download, &w[i])) != 0) {
			fail(why, whylen, "pthread_create", TCLIENT_ERR, errno);
			goto out;
		}
		w[i].running = 1;
	}
	if (bulk_measure(t, upload, &received, warmup_ms, window_ms, r) != 0)
		snprintf(why, whylen, "cannot read /proc for pid %d",
		    (int)t->pid);
	else
		rc = 0;
out:
	atomic_store(&stop, 1);
	for (i = 0; i < nclients; i++)
		if (w[i].running)
			pthread_join(w[i].thread, NULL);
	if (rc == 0)
		rc = bulk_check(w, nclients, why, whylen);
	for (i = 0; i < nclients; i++)
		tclient_close(w[i].c);
	return rc;
}

/* --- latency */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
latency_rounds(struct tclient *c, const uint8_t *msg, size_t msglen,
    uint8_t *buf, int64_t *ns, int rounds, char *why, size_t whylen)
{
	int64_t t0;
	int i, rc;

	for (i = -LOAD_WARMUP_ROUNDS; i < rounds; i++) {
		t0 = now_ns();
		if ((rc = echo(c, msg, msglen, buf)) != 0) {
			fail(why, whylen, "echo", rc, errno);
			return LOAD_ERR;
		}
		if (i >= 0)
			ns[i] = now_ns() - t0;
	}
	return 0;
}

int
load_latency(const struct load_target *t, int rounds, size_t msglen,
    double *p50_us, double *p99_us, char *why, size_t whylen)
{
	uint8_t *msg = malloc(msglen), *buf = malloc(LOAD_CHUNK);
	int64_t *ns = calloc((size_t)rounds, sizeof(*ns));
	struct tclient *c = NULL;
	int rc = LOAD_ERR;

	if (msg == NULL || buf == NULL || ns == NULL ||
	    msglen > LOAD_CHUNK / 2 || rounds < 1 ||
	    crypto_random(msg, msglen) != 0) {
		snprintf(why, whylen, "bad arguments or out of memory");
		goto out;
	}
	if ((rc = dial(t, LOAD_ECHO, &c)) != 0) {
		fail(why, whylen, "connect", rc, errno);
		rc = LOAD_ERR;
		goto out;
	}
	if ((rc = latency_rounds(c, msg, msglen, buf, ns, rounds, why,
	    whylen)) != 0)
		goto out;
	qsort(ns, (size_t)rounds, sizeof(*ns), cmp_i64);
	*p50_us = (double)ns[rounds / 2] / 1e3;
	*p99_us = (double)ns[(size_t)rounds * 99 / 100] / 1e3;
out:
	tclient_close(c);
	free(msg);
	free(buf);
	free(ns);
	return rc;
}

/* --- handshakes */

struct hs_worker {
	const struct load_target *t;
	pthread_t thread;
	int count, done;
	int rc, err;
	const char *step;
};

static void *
hs_run(void *arg)
{
	struct hs_worker *w = arg;
	uint8_t msg[LOAD_PROBE] = "handshake probe", *buf = malloc(LOAD_CHUNK);
	struct tclient *c;

	w->rc = TCLIENT_ERR;
	w->err = ENOMEM;
	w->step = "malloc";
	for (; buf != NULL && w->done < w->count; w->done++) {
		w->step = "connect";
		if ((w->rc = dial(w->t, LOAD_ECHO, &c)) != 0)
			break;
		w->step = "echo";
		w->rc = echo(c, msg, sizeof(msg), buf);
		tclient_close(c);
		if (w->rc != 0)
			break;
	}
	w->err = errno;
	free(buf);
	return NULL;
}

int
load_handshakes(const struct load_target *t, int total, int parallel,
    double *per_s, char *why, size_t whylen)
{
	struct hs_worker w[LOAD_MAX_THREADS];
	int64_t t0 = now_ns();
	int i, started = 0, done = 0, rc = 0;

	if (parallel < 1 || parallel > LOAD_MAX_THREADS || total < parallel) {
		snprintf(why, whylen, "bad arguments");
		return LOAD_ERR;
	}
	memset(w, 0, sizeof(w));
	for (i = 0; i < parallel; i++) {
		w[i].t = t;
		w[i].count = total / parallel + (i < total % parallel);
		if (pthread_create(&w[i].thread, NULL, hs_run, &w[i]) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		done += w[i].done;
		if (w[i].rc != 0 && rc == 0) {
			fail(why, whylen, w[i].step, w[i].rc, w[i].err);
			rc = LOAD_ERR;
		}
	}
	if (started < parallel && rc == 0) {
		snprintf(why, whylen, "pthread_create failed");
		rc = LOAD_ERR;
	}
	*per_s = (double)done / ((double)(now_ns() - t0) / 1e9);
	return rc;
}

/* --- idle clients */

static int
idle_grow(struct load_idle *s, int upto)
{
	struct tclient **p;

	if (s->cap >= upto)
		return 0;
	if ((p = realloc(s->c, (size_t)upto * sizeof(*p))) == NULL)
		return LOAD_ERR;
	s->c = p;
	s->cap = upto;
	return 0;
}

/*
 * Open up to LOAD_BATCH clients and send each a probe before waiting for
 * the first echo: the proxy sets them up while we dial the next ones.
 */
static int
idle_batch(struct load_idle *s, const struct load_target *t, int n,
    uint8_t *buf, char *why, size_t whylen)
{
	static const uint8_t msg[LOAD_PROBE] = "idle probe";
	struct tclient **c = s->c + s->n;
	size_t got;
	int i, rc = 0, erc = 0, opened;

	for (opened = 0; opened < n; opened++) {
		if ((rc = dial(t, LOAD_ECHO, &c[opened])) != 0) {
			fail(why, whylen, "connect", rc, errno);
			break;
		}
		if ((rc = tclient_send(c[opened], msg, sizeof(msg), 0)) != 0) {
			fail(why, whylen, "send", rc, errno);
			tclient_close(c[opened]);
			break;
		}
	}
	/* Those opened before a failed dial still count if they echo. */
	for (i = 0; i < opened; i++) {
		if (erc == 0 && (erc = tclient_recv(c[i], buf, LOAD_CHUNK, &got,
		    LOAD_IO_MS)) != 0 && rc == 0)
			fail(why, whylen, "echo", erc, errno);
		if (erc != 0)
			tclient_close(c[i]);
		else
			s->n++;
	}
	return rc != 0 || erc != 0 ? LOAD_ERR : 0;
}

int
load_idle_open(struct load_idle *s, const struct load_target *t, int upto,
    int time_ms, char *why, size_t whylen)
{
	int64_t deadline = now_ns() + (int64_t)time_ms * 1000000;
	uint8_t *buf = malloc(LOAD_CHUNK);
	int n, rc = 0;

	if (buf == NULL || idle_grow(s, upto) != 0) {
		snprintf(why, whylen, "out of memory in the bench process");
		free(buf);
		return LOAD_ERR;
	}
	while (rc == 0 && s->n < upto) {
		if (now_ns() >= deadline) {
			snprintf(why, whylen, "only %d clients opened in %d s",
			    s->n, time_ms / 1000);
			rc = LOAD_ERR;
			break;
		}
		n = upto - s->n < LOAD_BATCH ? upto - s->n : LOAD_BATCH;
		rc = idle_batch(s, t, n, buf, why, whylen);
	}
	free(buf);
	return rc;
}

void
load_idle_close(struct load_idle *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		tclient_close(s->c[i]);
	free(s->c);
	memset(s, 0, sizeof(*s));
}
