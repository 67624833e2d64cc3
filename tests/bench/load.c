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
#include <unistd.h>

#include "crypto.h"
#include "load.h"
#include "proc.h"
#include "tclock.h"

#define LOAD_IO_MS		5000	/* any single wait on a peer */
#define LOAD_HEADERS_MS		10000	/* all bulk clients through to the DC */
/* Handshake and idle echo, bytes: a packet middle mode forwards. */
#define LOAD_PROBE		64
#define LOAD_MP_AHEAD		2	/* middle download: requests ahead */
#define LOAD_BATCH		64	/* idle clients opened before echoes */
#define LOAD_WARMUP_ROUNDS	20
#define LOAD_MAX_THREADS	64

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
	uint64_t packets;	/* middle upload: sent whole */
	int rc, err;
	char bad[96];		/* middle download: a wrong answer */
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

/*
 * Middle mode: packets of LOAD_CHUNK bytes, a frame each. The first byte
 * makes auth_key_id non-zero, so the daemon's filter lets them through.
 */
static void *
bulk_upload_mp(void *arg)
{
	static const uint8_t packet[LOAD_CHUNK] = { 1 };
	struct bulk_worker *w = arg;

	while (!atomic_load(w->stop)) {
		if ((w->rc = tclient_send(w->c, packet, sizeof(packet), 0)) !=
		    0) {
			w->err = errno;
			break;
		}
		w->packets++;
	}
	return NULL;
}

/* One answer of the SOURCE middle proxy, its bytes checked and counted. */
static int
mp_answer(struct bulk_worker *w, uint8_t *buf, const uint8_t *want)
{
	size_t n;
	int rc;

	if ((rc = tclient_recv(w->c, buf, LOAD_CHUNK + 4, &n, LOAD_IO_MS)) !=
	    0) {
		w->err = errno;
		return rc;
	}
	/* Padded intermediate: the daemon adds 0..3 bytes. */
	if (n < LOAD_CHUNK || n > LOAD_CHUNK + 3)
		snprintf(w->bad, sizeof(w->bad), "an answer of %zu bytes, not "
		    "%d..%d", n, LOAD_CHUNK, LOAD_CHUNK + 3);
	else if (memcmp(buf, want, LOAD_CHUNK) != 0)
		snprintf(w->bad, sizeof(w->bad), "an answer with other bytes "
		    "than the fake middle proxy sent");
	if (w->bad[0] != '\0')
		return TCLIENT_ERR;
	atomic_fetch_add(w->received, LOAD_CHUNK);
	return 0;
}

/*
 * Middle mode: each request (a small packet) brings LOAD_MP_ANSWERS
 * answers; LOAD_MP_AHEAD requests are kept outstanding, so that the
 * daemon's queue for the client never runs dry and never holds more than
 * that (its queue_bytes closes a client beyond 4 MiB). When told to stop,
 * take every answer asked for: nothing is left in flight.
 */
static void *
bulk_download_mp(void *arg)
{
	static const uint8_t request[LOAD_PROBE] = "download request";
	struct bulk_worker *w = arg;
	uint8_t *buf = malloc(LOAD_CHUNK + 4), *want = malloc(LOAD_CHUNK);
	uint64_t asked = 0, got = 0;
	size_t i;

	w->rc = TCLIENT_ERR;
	w->err = ENOMEM;
	if (buf == NULL || want == NULL)
		goto out;
	/* fakemp.c's SOURCE bytes. */
	for (i = 0; i < LOAD_CHUNK; i++)
		want[i] = (uint8_t)(i * 7 + 1);
	w->rc = 0;
	while (w->rc == 0 && !atomic_load(w->stop)) {
		while (w->rc == 0 &&
		    asked < got + LOAD_MP_AHEAD * LOAD_MP_ANSWERS) {
			if ((w->rc = tclient_send(w->c, request,
			    sizeof(request), 0)) != 0)
				w->err = errno;
			asked += LOAD_MP_ANSWERS;
		}
		if (w->rc == 0 && (w->rc = mp_answer(w, buf, want)) == 0)
			got++;
	}
	while (w->rc == 0 && got < asked)
		if ((w->rc = mp_answer(w, buf, want)) == 0)
			got++;
out:
	free(buf);
	free(want);
	return NULL;
}

struct bulk_snap {
	int64_t ns;
	uint64_t bytes;
	double cpu, gen;
	unsigned long long busy, total;
};

static int
bulk_snap(const struct load_target *t, int upload, atomic_ullong *received,
    struct bulk_snap *s)
{
	const struct load_dest *sink = &t->dest[LOAD_SINK];

	s->ns = tclock_now_ns();
	if (!upload)
		s->bytes = atomic_load(received);
	else if (sink->fmp != NULL)
		s->bytes = fakemp_counter(sink->fmp, FAKEMP_REQ_BYTES);
	else
		s->bytes = fakedc_counter(sink->fdc, FAKEDC_BYTES_IN);
	if (proc_cpu_seconds(t->pid, &s->cpu) != 0 ||
	    proc_cpu_seconds(getpid(), &s->gen) != 0 ||
	    proc_machine_cpu(&s->busy, &s->total) != 0)
		return LOAD_ERR;
	return 0;
}

/*
 * Connect every client and wait until the DC has all their headers. A
 * middle proxy sees a client only with its first packet: no wait.
 */
static int
bulk_connect(const struct load_target *t, enum load_dc which,
    struct bulk_worker *w, int n, char *why, size_t whylen)
{
	const struct fakedc *fdc = t->dest[which].fdc;
	uint64_t before = fdc != NULL ? fakedc_counter(fdc, FAKEDC_HEADERS) :
	    0;
	int i, rc;

	for (i = 0; i < n; i++) {
		if ((rc = dial(t, which, &w[i].c)) != 0) {
			fail(why, whylen, "connect", rc, errno);
			return LOAD_ERR;
		}
		/* Middle upload: exactly LOAD_CHUNK message bytes a packet. */
		if (fdc == NULL && tclient_set_padding(w[i].c, 0) != 0) {
			snprintf(why, whylen, "tclient_set_padding failed");
			return LOAD_ERR;
		}
	}
	if (fdc == NULL)
		return 0;
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

	tclock_sleep_ms(warmup_ms);
	if (bulk_snap(t, upload, rcvd, &a) != 0)
		return LOAD_ERR;
	tclock_sleep_ms(window_ms);
	if (bulk_snap(t, upload, rcvd, &b) != 0)
		return LOAD_ERR;
	r->bytes = b.bytes - a.bytes;
	r->seconds = (double)(b.ns - a.ns) / 1e9;
	r->proxy_cpu = b.cpu - a.cpu;
	r->gen_cpu = b.gen - a.gen;
	r->machine_busy = b.total > a.total ?
	    (double)(b.busy - a.busy) / (double)(b.total - a.total) : 0;
	return 0;
}

/* The first worker failure, if any, makes the run's figures meaningless. */
static int
bulk_check(const struct bulk_worker *w, int n, char *why, size_t whylen)
{
	int i;

	for (i = 0; i < n; i++) {
		if (w[i].bad[0] != '\0') {
			snprintf(why, whylen, "transfer: %s", w[i].bad);
			return LOAD_ERR;
		}
		if (w[i].rc != 0) {
			fail(why, whylen, "transfer", w[i].rc, w[i].err);
			return LOAD_ERR;
		}
	}
	return 0;
}

/*
 * Middle upload, after the clients closed: every packet they sent reached
 * the SINK middle proxy once, whole. The daemon forwards what a client
 * sent before its FIN, so the count must come out exact.
 */
static int
bulk_check_sink(const struct fakemp *mp, uint64_t reqs0, uint64_t bytes0,
    const struct bulk_worker *w, int n, char *why, size_t whylen)
{
	uint64_t sent = 0, reqs, bytes;
	int i;

	for (i = 0; i < n; i++)
		sent += w[i].packets;
	(void)fakemp_wait(mp, FAKEMP_REQS, reqs0 + sent, LOAD_HEADERS_MS);
	reqs = fakemp_counter(mp, FAKEMP_REQS) - reqs0;
	bytes = fakemp_counter(mp, FAKEMP_REQ_BYTES) - bytes0;
	if (reqs == sent && bytes == sent * LOAD_CHUNK)
		return 0;
	snprintf(why, whylen, "the clients sent %llu packets of %d bytes, the "
	    "fake middle proxy got %llu requests of %llu bytes in all",
	    (unsigned long long)sent, LOAD_CHUNK, (unsigned long long)reqs,
	    (unsigned long long)bytes);
	return LOAD_ERR;
}

int
load_bulk_run(const struct load_target *t, int upload, int nclients,
    int warmup_ms, int window_ms, struct load_bulk *r, char *why,
    size_t whylen)
{
	const struct fakemp *sink = t->dest[LOAD_SINK].fmp;
	int middle = sink != NULL;
	struct bulk_worker w[LOAD_MAX_THREADS];
	void *(*run)(void *);
	atomic_int stop;
	atomic_ullong received;
	uint64_t reqs0 = 0, bytes0 = 0;
	int i, rc = LOAD_ERR;

	if (nclients < 1 || nclients > LOAD_MAX_THREADS) {
		snprintf(why, whylen, "1..%d clients", LOAD_MAX_THREADS);
		return LOAD_ERR;
	}
	if (middle)
		run = upload ? bulk_upload_mp : bulk_download_mp;
	else
		run = upload ? bulk_upload : bulk_download;
	if (middle && upload) {
		reqs0 = fakemp_counter(sink, FAKEMP_REQS);
		bytes0 = fakemp_counter(sink, FAKEMP_REQ_BYTES);
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
		if ((errno = pthread_create(&w[i].thread, NULL, run, &w[i])) !=
		    0) {
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
	if (rc == 0 && middle && upload)
		rc = bulk_check_sink(sink, reqs0, bytes0, w, nclients, why,
		    whylen);
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
		t0 = tclock_now_ns();
		if ((rc = echo(c, msg, msglen, buf)) != 0) {
			fail(why, whylen, "echo", rc, errno);
			return LOAD_ERR;
		}
		if (i >= 0)
			ns[i] = tclock_now_ns() - t0;
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
	msg[0] |= 1;	/* a packet middle mode forwards: auth_key_id != 0 */
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
	int count, done, gap_ms;
	int64_t *ns;		/* connect to first echoed byte, each */
	int rc, err;
	const char *step;
};

static void *
hs_run(void *arg)
{
	struct hs_worker *w = arg;
	uint8_t msg[LOAD_PROBE] = "handshake probe", *buf = malloc(LOAD_CHUNK);
	struct tclient *c;
	int64_t t0;

	w->rc = TCLIENT_ERR;
	w->err = ENOMEM;
	w->step = "malloc";
	for (; buf != NULL && w->done < w->count; w->done++) {
		if (w->gap_ms > 0 && w->done > 0)
			tclock_sleep_ms(w->gap_ms);
		w->step = "connect";
		t0 = tclock_now_ns();
		if ((w->rc = dial(w->t, LOAD_ECHO, &c)) != 0)
			break;
		w->step = "echo";
		w->rc = echo(c, msg, sizeof(msg), buf);
		w->ns[w->done] = tclock_now_ns() - t0;
		tclient_close(c);
		if (w->rc != 0)
			break;
	}
	w->err = errno;
	free(buf);
	return NULL;
}

/* The workers' slices of all, moved together and sorted: p50 and p99. */
static void
hs_percentiles(struct hs_worker *w, int n, int done, int64_t *all,
    struct load_hs *r)
{
	int i, k = 0;

	for (i = 0; i < n; i++) {
		memmove(all + k, w[i].ns, (size_t)w[i].done * sizeof(*all));
		k += w[i].done;
	}
	if (done == 0)
		return;
	qsort(all, (size_t)done, sizeof(*all), cmp_i64);
	r->p50_ms = (double)all[done / 2] / 1e6;
	r->p99_ms = (double)all[(size_t)done * 99 / 100] / 1e6;
}

int
load_handshakes(const struct load_target *t, int total, int parallel,
    int gap_ms, struct load_hs *r, char *why, size_t whylen)
{
	struct hs_worker w[LOAD_MAX_THREADS];
	int64_t t0, *all;
	int i, started = 0, done = 0, rc = 0;

	if (parallel < 1 || parallel > LOAD_MAX_THREADS || total < parallel) {
		snprintf(why, whylen, "bad arguments");
		return LOAD_ERR;
	}
	if ((all = calloc((size_t)total, sizeof(*all))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return LOAD_ERR;
	}
	memset(w, 0, sizeof(w));
	memset(r, 0, sizeof(*r));
	for (i = 0, t0 = tclock_now_ns(); i < parallel; i++) {
		w[i].t = t;
		w[i].gap_ms = gap_ms;
		w[i].count = total / parallel + (i < total % parallel);
		w[i].ns = all + (size_t)(i * (total / parallel)) +
		    (size_t)(i < total % parallel ? i : total % parallel);
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
	r->per_s = (double)done / ((double)(tclock_now_ns() - t0) / 1e9);
	if (started < parallel && rc == 0) {
		snprintf(why, whylen, "pthread_create failed");
		rc = LOAD_ERR;
	}
	hs_percentiles(w, started, done, all, r);
	free(all);
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
	int64_t deadline = tclock_now_ns() + (int64_t)time_ms * 1000000;
	uint8_t *buf = malloc(LOAD_CHUNK);
	int n, rc = 0;

	if (buf == NULL || idle_grow(s, upto) != 0) {
		snprintf(why, whylen, "out of memory in the bench process");
		free(buf);
		return LOAD_ERR;
	}
	while (rc == 0 && s->n < upto) {
		if (tclock_now_ns() >= deadline) {
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
