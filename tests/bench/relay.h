/*
 * The benchmark's baseline: a plain TCP relay with mtproxyd's thread model
 * (an acceptor thread per listening socket, a thread pair per client copying
 * both ways through a buffer of mtproxyd's default size, threads with
 * mtproxyd's stack size) and no crypto. It runs as a separate process, the
 * bench binary re-executed with --relay, so that its CPU time and memory are
 * read from /proc exactly as the daemon's are.
 */
#ifndef MTPROXYD_BENCH_RELAY_H
#define MTPROXYD_BENCH_RELAY_H

#include <stdint.h>
#include <sys/types.h>

#define RELAY_ERR		(-1)	/* system error: errno says why */
#define RELAY_ERR_START		(-2)	/* it did not report its ports */
#define RELAY_ERR_ARG		(-3)
#define RELAY_ERR_KILLED	(-4)	/* it ignored SIGTERM */

#define RELAY_MAX_TARGETS	8
#define RELAY_OPTION		"--relay"

struct relay_proc;

/*
 * Start `SELF --relay T1 T2 ...`: one loopback listener per target port,
 * each relaying to 127.0.0.1:Ti. Waits up to timeout_ms for its ports.
 */
int relay_spawn(const uint16_t *targets, int n, int timeout_ms,
    struct relay_proc **out);
pid_t relay_pid(const struct relay_proc *r);
/* The port relaying to targets[i]. */
uint16_t relay_port(const struct relay_proc *r, int i);
/* 1 if it has exited (reaped, *status the wait status), 0 if running. */
int relay_exited(struct relay_proc *r, int *status);
/* SIGTERM, SIGKILL after timeout_ms; frees r. NULL is a no-op. */
int relay_stop(struct relay_proc *r, int timeout_ms);

/* The child's side: argv[0] is RELAY_OPTION. Returns the exit status. */
int relay_main(int argc, char **argv);

#endif
