/*
 * Load generators of the benchmark: bulk transfer, echo latency, handshake
 * rate and idle clients, against a proxy (mtproxyd, or the baseline relay)
 * in front of the harness's fake DCs, or mtproxyd in middle mode in front
 * of its fake middle proxies. Every wait is bounded; on failure a one-line
 * reason is written to why.
 */
#ifndef MTPROXYD_BENCH_LOAD_H
#define MTPROXYD_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "client.h"
#include "fakedc.h"
#include "fakemp.h"

#define LOAD_ERR	(-1)	/* see why */

/*
 * Bulk packets and middle-mode answers, bytes. In middle mode a download
 * client asks with a small packet for LOAD_MP_ANSWERS answers of this
 * size, the fake SOURCE middle proxy's answer_len and answer_count.
 */
#define LOAD_CHUNK		(64 * 1024)
#define LOAD_MP_ANSWERS		8

/* The fake DCs (or middle proxies) behind every proxy, one per mode. */
enum load_dc { LOAD_ECHO, LOAD_SINK, LOAD_SOURCE, LOAD_NDC };

struct load_dest {
	struct sockaddr_storage ss;	/* where clients connect */
	socklen_t len;
	int16_t dc;			/* the DC id in the client's header */
	/*
	 * Where the proxy takes it: a fake DC, or for mtproxyd in middle
	 * mode (fmp set, fdc NULL) a fake middle proxy. Middle-mode clients
	 * send whole packets that pass the daemon's forwarding filter.
	 */
	const struct fakedc *fdc;
	const struct fakemp *fmp;
};

struct load_target {
	const char *name;
	pid_t pid;			/* the proxy process */
	/*
	 * The user's secret; NULL for the baseline, which passes the
	 * secret-less header through to the fake DC untouched.
	 */
	const uint8_t *secret;
	struct load_dest dest[LOAD_NDC];
};

struct load_bulk {
	uint64_t bytes;		/* arrived at the far end in the window */
	double seconds;		/* the window */
	double proxy_cpu;	/* the proxy's CPU seconds in the window */
	double gen_cpu;		/* ours: clients, fake DCs, fake middle
				   proxies */
	double machine_busy;	/* share of all the machine's CPUs busy */
};

/*
 * nclients clients move bytes one way for warmup_ms, then window_ms are
 * measured: upload (client -> SINK DC, counted by the DC) or download
 * (SOURCE DC -> client, counted by the clients). Unencrypted bytes both
 * ways: the proxy does its full work, the clients and the DC none.
 *
 * In middle mode the clients must frame and encrypt: upload is
 * LOAD_CHUNK-byte packets, counted as message bytes by the SINK middle
 * proxy; download asks for answers, two requests ahead, and checks and
 * counts each one's message bytes. Afterwards every packet sent must have
 * reached the SINK once, and every answer asked for must have arrived.
 */
int load_bulk_run(const struct load_target *t, int upload, int nclients,
    int warmup_ms, int window_ms, struct load_bulk *r, char *why,
    size_t whylen);

/* Round trips of msglen-byte frames through the ECHO DC; microseconds. */
int load_latency(const struct load_target *t, int rounds, size_t msglen,
    double *p50_us, double *p99_us, char *why, size_t whylen);

/*
 * total connections by `parallel` threads, each: connect, header, a 64-byte
 * echo round trip, close, then gap_ms of rest. Completed handshakes per
 * second, and the time from connect to the echo's arrival.
 */
struct load_hs {
	double per_s;
	double p50_ms, p99_ms;
};

int load_handshakes(const struct load_target *t, int total, int parallel,
    int gap_ms, struct load_hs *r, char *why, size_t whylen);

/* Idle clients, each with its handshake and one echo round trip done. */
struct load_idle {
	struct tclient **c;
	int n, cap;
};

/*
 * Open clients until s->n reaches upto or time_ms passes; on failure s->n
 * says how many are open and why names what stopped it.
 */
int load_idle_open(struct load_idle *s, const struct load_target *t,
    int upto, int time_ms, char *why, size_t whylen);
void load_idle_close(struct load_idle *s);

#endif
