/*
 * Helpers shared by the integration tests (tests/integration): whole files,
 * the daemon's stop and stats report, secrets in hex. They fail the running
 * Check test with ck_assert_* rather than return errors: a test has
 * nothing to do with a broken helper but stop, and the message says why.
 * Only Check tests may use them.
 */
#ifndef MTPROXYD_ITEST_H
#define MTPROXYD_ITEST_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"
#include "fakedc.h"
#include "frame.h"
#include "secret.h"

/*
 * The integration suites' one timeout policy. These bound what must happen
 * (an answer, a counter's change, the daemon's start and exit), sized for
 * the ASan and TSan builds CI runs, 2 to 10 times slower than a plain one;
 * a passing test never waits them out. A deadline that is itself asserted
 * ("closed within 1 s") stays in its test.
 */
#define ITEST_IO_MS	15000	/* an answer, a close, a counter's change */
#define ITEST_START_MS	30000	/* the daemon listening */
#define ITEST_STOP_MS	30000	/* SIGTERM to exit */
#define ITEST_CASE_S	180	/* one test: tcase_set_timeout */

/* Everything up to EOF, NUL-terminated, malloc'd. */
char *itest_read_fd(int fd);
char *itest_read_file(const char *path);
char *itest_read_log(const struct daemon_proc *d);
/*
 * daemon_run to completion within timeout_ms, stdout and stderr in
 * out[0..outlen): its exit code; a signal or a timeout fails the test.
 */
int itest_run(const char *const *args, const char *conf, char *out,
    size_t outlen, int timeout_ms);

/*
 * The running check skips what it cannot do here (no IPv6, no openssl):
 * "SKIP: TEST: reason" on stderr, the line tests/summary.sh counts as a
 * skipped check rather than a passed one. At most once per check; the
 * caller then returns or goes on without the skipped part. Unit tests use
 * it too.
 */
#define ITEST_SKIP_MARK	"SKIP: "
void itest_skip(const char *reason);

/* A fake DC in that mode on loopback of that family (AF_INET, AF_INET6). */
struct fakedc *itest_fakedc(int family, enum fakedc_mode mode);

/* len random bytes, malloc'd. */
uint8_t *itest_random_bytes(size_t len);
/* Bytes on the wire for a frame whose body (padding included) is len. */
size_t itest_framed_len(enum frame_transport t, size_t len);
/* The 16 secret bytes a Telegram app derives from 32 hex digits. */
void itest_key(const char *hex, uint8_t key[SECRET_LEN]);
/* The bytes hex spells, two digits each, into out (cap bytes): their count. */
size_t itest_unhex(const char *hex, uint8_t *out, size_t cap);
/* got starts with the bytes hex spells. */
void itest_assert_hex(const uint8_t *got, const char *hex);
/*
 * len bytes of p as dir/name, written beside it and renamed over it: a
 * daemon reading it meanwhile sees the old file or the new, never half.
 */
void itest_write_file(const char *dir, const char *name, const void *p,
    size_t len);

/*
 * The first line of log holding hex in any case other than a link printed
 * at start-up ("user NAME (MODE): ...proxy?server=...&secret=[dd|ee]HEX"),
 * NULL if none.
 */
const char *itest_secret_leak(const char *log, const char *hex);
/*
 * SIGTERM: the daemon must exit 0 within timeout_ms (a sanitizer report
 * changes the status), log a "stopped" line, and its whole log, the final
 * lines included, must hold none of the nhex secrets outside link lines.
 * The log is shown on stderr when not. Frees d.
 */
void itest_stop(struct daemon_proc *d, const char *const *hexes, size_t nhex,
    int timeout_ms);

/*
 * SIGUSR1 and the report it writes (malloc'd, from its first line, "stats:
 * accepted ", on), once a line "stats: LAST " has been added.
 */
char *itest_stats(struct daemon_proc *d, const char *last, int timeout_ms);
/* VALUE of the line "stats: NAME VALUE" of report, which must have it. */
unsigned long long itest_stats_value(const char *report, const char *name);
/* Counter name from a fresh report. */
long long itest_counter(struct daemon_proc *d, const char *name,
    int timeout_ms);
/* Fresh reports until counter name is want, for up to wait_ms. */
void itest_wait_counter(struct daemon_proc *d, const char *name,
    long long want, int timeout_ms, int wait_ms);

#endif
