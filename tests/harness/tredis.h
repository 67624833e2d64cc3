/*
 * A real redis-server for the shared-store tests: on loopback, an
 * ephemeral port, nothing written to disk, killed with the test (or by
 * tredis_kill, SIGKILL, to play an outage).
 */
#ifndef MTPROXYD_TREDIS_H
#define MTPROXYD_TREDIS_H

#include <stddef.h>
#include <stdint.h>

#define TREDIS_ERR		(-1)
#define TREDIS_ERR_MISSING	(-2)	/* no redis-server on PATH */

struct tredis;

/*
 * redis-server on 127.0.0.1:port (0: a free one), requiring password
 * (NULL: none), answering PING within timeout_ms.
 */
int tredis_start(uint16_t port, const char *password, int timeout_ms,
    struct tredis **out);
uint16_t tredis_port(const struct tredis *t);
/* sig to the server: SIGSTOP plays a Redis that hangs, SIGCONT ends it. */
void tredis_signal(const struct tredis *t, int sig);
/* SIGKILL and reaped; frees; NULL: nothing. */
void tredis_kill(struct tredis *t);
/*
 * One command, hiredis's format: its answer as text into out (an integer
 * in decimal, a string or status as is, nil as ""; arrays refused).
 */
int tredis_cmd(const struct tredis *t, char *out, size_t outlen,
    const char *fmt, ...);

#endif
