/*
 * Runs the real mtproxyd binary ($MTPROXYD_BIN) for integration tests and
 * the benchmark: a private temp dir per run, the config written there,
 * stdout and stderr appended to DIR/daemon.log. Every wait is bounded.
 *
 * In the config text and the extra arguments, "@DIR@" is replaced by the
 * run's temp dir (for state_dir and the like). The dir is removed when the
 * run ends unless KEEP_DAEMON_DIR is set in the environment.
 *
 * $MTPROXYD_BIN must be the daemon of the build tree the running program
 * was built in (BUILD/src/mtproxyd for BUILD/tests/DIR/PROG), and not older
 * than BUILD/src/libmtproxyd.a; else the run is refused (DAEMON_ERR_BIN)
 * with the reason on stderr. Setting MTPROXYD_BIN_ANY lifts this, for a
 * binary elsewhere on purpose.
 */
#ifndef MTPROXYD_DAEMON_H
#define MTPROXYD_DAEMON_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#define DAEMON_ERR		(-1)	/* system error: errno says why */
#define DAEMON_ERR_TIMEOUT	(-2)
#define DAEMON_ERR_EXITED	(-3)	/* it exited before doing that */
#define DAEMON_ERR_NOBIN	(-4)	/* MTPROXYD_BIN is not set */
#define DAEMON_ERR_NOTFOUND	(-5)
#define DAEMON_ERR_ARG		(-6)
#define DAEMON_ERR_BIN		(-7)	/* MTPROXYD_BIN is not this build's */

#define DAEMON_BIN_ANY		"MTPROXYD_BIN_ANY"

#define DAEMON_MAX_LISTEN	16

struct daemon_proc;

/*
 * Spawn `$MTPROXYD_BIN -c DIR/mtproxyd.conf extra_args...` (extra_args NULL
 * or NULL-terminated) and wait up to timeout_ms for its first
 * "listening on ADDR:PORT" / "listening on [ADDR]:PORT" log line. On failure
 * the log is printed to stderr and nothing is left to free (the process is
 * killed and reaped).
 */
int daemon_start(struct daemon_proc **out, const char *conf_text,
    const char *const *extra_args, int timeout_ms);
/*
 * Send sig, wait up to timeout_ms for the exit, SIGKILL after that
 * (DAEMON_ERR_TIMEOUT); *exit_status (may be NULL) gets the raw wait status
 * (WIFEXITED ...). Removes the dir and frees d. NULL is a no-op.
 */
int daemon_stop(struct daemon_proc *d, int sig, int timeout_ms,
    int *exit_status);
/* 1 if it has exited (reaped now, *status the wait status), 0 if running. */
int daemon_exited(struct daemon_proc *d, int *status);

pid_t daemon_pid(const struct daemon_proc *d);
/*
 * Port of the first listener of that family (AF_INET, AF_INET6), 0 if none.
 * A listener logged after daemon_start returned is waited for, briefly.
 */
unsigned daemon_port(struct daemon_proc *d, int family);
/* Its address, ready for connect (tclient_connect). */
int daemon_addr(struct daemon_proc *d, int family,
    struct sockaddr_storage *ss, socklen_t *len);

/* Poll the log until needle appears: 0, DAEMON_ERR_TIMEOUT or
   DAEMON_ERR_EXITED (it never will). */
int daemon_wait_log(struct daemon_proc *d, const char *needle, int timeout_ms);
/* 1 or 0 (negative on error). */
int daemon_log_contains(const struct daemon_proc *d, const char *needle);
/* Occurrences of needle in the log (negative on error). */
int daemon_log_count(const struct daemon_proc *d, const char *needle);
const char *daemon_log_path(const struct daemon_proc *d);
const char *daemon_dir(const struct daemon_proc *d);
/* For failure diagnostics. */
void daemon_dump_log(const struct daemon_proc *d, FILE *fp);

/* Entries in /proc/PID/task and /proc/PID/fd (negative on error). */
int daemon_count_threads(pid_t pid);
int daemon_count_fds(pid_t pid);

/*
 * Run `$MTPROXYD_BIN [-c DIR/mtproxyd.conf] args...` to completion (the -c
 * only when conf_text is not NULL) with stdout and stderr together in out
 * (NUL-terminated, truncated to outlen - 1). *exit_status gets the wait
 * status; after timeout_ms it is killed and DAEMON_ERR_TIMEOUT returned.
 */
int daemon_run(const char *const *args, const char *conf_text, char *out,
    size_t outlen, int *exit_status, int timeout_ms);

#endif
