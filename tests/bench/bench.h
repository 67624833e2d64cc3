/*
 * The benchmark's shared state: the proxies under test, the figures
 * gathered round by round, and the notes printed under the table.
 * bench.c runs the measurements, midtarget.c sets up the middle-mode
 * target, idle.c the idle-client memory figures, report.c prints.
 */
#ifndef MTPROXYD_BENCH_H
#define MTPROXYD_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "fakemp.h"
#include "load.h"
#include "relay.h"

#define BENCH_MAX_ROUNDS	9
#define BENCH_MAX_CPUS		256	/* --cores LIST */
#define BENCH_MAX_STEPS		10	/* 1, 2, 4 ... cores, and all of them */
#define BENCH_MAX_NOTES		32
#define BENCH_SETTLE_MS		1000	/* before reading memory figures */
#define BENCH_QUIET_MS		15000	/* for the DC to see every client go */
#define BENCH_IDLE_QUIET_MS	60000	/* for the DC to see 9,000 go */

#define BENCH_MP_SECRET_LEN	128	/* as Telegram's proxy secret */
#define BENCH_MP_LINKS		2	/* connections_per_target */

/*
 * T_MIDDLE: mtproxyd in middle mode before the fake middle proxies; not in
 * the idle figures. T_NONE: no proxy, the idle clients straight to the
 * fake DC.
 */
enum target_id {
	T_BASE, T_DIRECT, T_FAST, T_MIDDLE, NTARGETS, T_NONE = NTARGETS
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

struct bench_opts {
	int rounds, skip_idle;
	int cpus[BENCH_MAX_CPUS], ncpus;	/* --cores; 0: not pinned */
	int warmup_ms, window_ms;
	int latency_rounds, handshakes;
	int idle_small, idle_large, idle_ms;
};

/* One figure of the table: a value per target per round. */
struct bench_row {
	char label[64];
	double v[NTARGETS][BENCH_MAX_ROUNDS];
	int n[NTARGETS];
};

struct bench_proxy {
	struct load_target t;
	struct daemon_proc *d;		/* mtproxyd */
	struct relay_proc *r;		/* the baseline */
	int dead;
	int fds;			/* mtproxyd's fds with no client */
	uint8_t secret[16];
};

/* The middle target's fake middle proxies and the files it reads. */
struct bench_middle {
	struct fakemp *mp[LOAD_NDC];
	uint8_t secret[BENCH_MP_SECRET_LEN];
	char dir[64];			/* "" until made */
	uint64_t handshakes;		/* once its links were ready */
	int relinked;			/* said so already */
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

/* --cores: throughput with the proxies on the first n cores of the list. */
struct bench_scale {
	int cores[BENCH_MAX_STEPS], nsteps;
	struct bench_row up[BENCH_MAX_STEPS], down[BENCH_MAX_STEPS];
};

struct bench {
	struct bench_opts o;
	struct bench_scale scale;
	struct fakedc *dc[LOAD_NDC];
	struct bench_middle mid;
	struct bench_proxy px[NTARGETS + 1];	/* px[T_NONE]: no process */
	struct load_target none;	/* the fake DCs themselves */
	struct idle_fig idle[NTARGETS + 1][2];	/* small, large */
	struct bench_row rows[NROWS];
	char notes[BENCH_MAX_NOTES][320];
	int nnotes, broken;
};

extern const char *const bench_names[NTARGETS + 1];

double bench_now_s(void);
/* A line printed under the table. */
void bench_note(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One round's figure; NAN and infinities are dropped. */
void bench_record(struct bench *b, enum row_id r, int ti, double v);
/* 0 once the target has exited (said once, its log shown). */
int bench_alive(struct bench *b, int ti);
const struct load_target *bench_target(const struct bench *b, int ti);
/* mtproxyd's log lines that name a limit, as "; its log has ..." */
void bench_hints(const struct bench *b, int ti, char *out, size_t outlen);
/* A measurement failed: say so and mark the run broken. */
void bench_failed(struct bench *b, int ti, const char *what, const char *why);
/* Wait until every fake DC connection is closed, or say so. */
void bench_quiesce(struct bench *b, int ti, const char *what,
    int timeout_ms);

/* Where clients of target `which` (enum load_dc) connect. */
void bench_dest_set(struct load_dest *d, uint16_t port, int which,
    const struct fakedc *fdc, const struct fakemp *fmp);
/* 2n lowercase hex digits and a NUL. */
void bench_hex(const uint8_t *p, size_t n, char *out);

/*
 * Clients upload or download through target ti for one window: MB/s and
 * CPU s/GB, and a progress line; 0, or -1 after bench_failed.
 */
int bench_bulk(struct bench *b, int ti, int upload, int clients,
    const char *what, double *mbps, double *cpu);
/* Wait until every fake DC connection is closed, or say so. */

/* scale.c */
/* "0,1", "0-3,8": the CPU ids into o->cpus; -1 if malformed. */
int scale_parse(const char *list, struct bench_opts *o);
/* Every proxy onto the first n CPUs of --cores. */
void scale_pin(struct bench *b, int n);
/* The scaling rounds: 64-client upload and download at each step. */
void scale_run(struct bench *b);
void scale_report(const struct bench *b);

/* midtarget.c */
/* The fake middle proxies, their files, mtproxyd in middle mode. */
int midtarget_start(struct bench *b, int start_ms);
/* Wait until mtproxyd has closed every client, or say so. */
void midtarget_quiesce(struct bench *b, const char *what, int timeout_ms);
/* After mtproxyd has stopped. */
void midtarget_stop(struct bench *b);

/* idle.c */
void idle_run(struct bench *b, int ti);
void idle_rows(struct bench *b);
/* The test's own kernel memory per client, from the run without proxy. */
double idle_test_share(const struct idle_fig *z);

/* hsrate.c: `bench --handshakes ...`, handshakes alone (see its usage). */
#define HSRATE_OPTION	"--handshakes"
int hsrate_main(int argc, char **argv);

/* hscost.c: `bench --handshake-cost ...`, in process, by number of users. */
#define HSCOST_OPTION	"--handshake-cost"
int hscost_main(int argc, char **argv);

/* report.c */
/* Median over the rounds of one target; NAN when never measured. */
double report_median(const struct bench_row *row, int ti);
void report_machine(void);
void report_labels(struct bench *b);
void report_table(const struct bench *b);
void report_aims(const struct bench *b);
void report_notes(const struct bench *b);

#endif
