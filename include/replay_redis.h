/*
 * The replay set shared by several instances through Redis (issue 13): a
 * hello or header one instance accepted is a replay at every other. Each
 * key is stored as SET <prefix>replay:<hex of SHA-256(key), 16 bytes> 1
 * NX EX window ([store] prefix ends in its own separator, "mtproxyd:"), so Redis never holds client bytes in clear and forgets a key
 * when the local set would.
 *
 * A handshake never waits on Redis for longer than the timeout: a small
 * pool of persistent connections, each command bounded by the timeout.
 * Redis down or slow: the check answers REPLAY_REDIS_DOWN (the caller
 * relies on its local set), the error counter goes up by one, and new
 * connections are tried at most once a second meanwhile. The change of
 * state is logged once each way. Thread-safe.
 */
#ifndef MTPROXYD_REPLAY_REDIS_H
#define MTPROXYD_REPLAY_REDIS_H

#include <stdatomic.h>
#include <stdint.h>

#define REPLAY_REDIS_KEY_LEN	16	/* REPLAY_KEY_LEN */

#define REPLAY_REDIS_SEEN	(-2)	/* stored already, by anyone */
#define REPLAY_REDIS_DOWN	(-3)	/* no answer in time: not known */
#define REPLAY_REDIS_ERR_ARG	(-4)
#define REPLAY_REDIS_ERR_NOMEM	(-5)

struct replay_redis;

struct replay_redis_conf {
	const char *addr;	/* HOST:PORT, [IPv6]:PORT or /unix/socket */
	const char *password;	/* "" or NULL: no AUTH */
	const char *prefix;	/* the key namespace, as is: "mtproxyd:" */
	int timeout_ms;		/* connect and each command, > 0 */
	uint32_t window;	/* seconds a key lives, > 0 */
	atomic_ullong *errors;	/* checks Redis did not answer */
};

/* Connects lazily: a Redis down at start is not an error. */
int replay_redis_new(struct replay_redis **out,
    const struct replay_redis_conf *conf);

/*
 * 0: the key was new to Redis and is stored now; REPLAY_REDIS_SEEN: it
 * was there; REPLAY_REDIS_DOWN: no answer (counted in conf->errors).
 */
int replay_redis_check_and_add(struct replay_redis *r,
    const uint8_t key[REPLAY_REDIS_KEY_LEN]);

void replay_redis_free(struct replay_redis *r);

#endif
