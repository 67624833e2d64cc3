/*
 * Replay cache for fake-TLS hellos (doc/PROTOCOL.md 3.3): a bounded set of
 * 16-byte keys, each with the time it was stored. Entries expire after the
 * window; when the set is full the oldest goes first. Thread-safe (one
 * mutex); time is a parameter, there is no clock inside.
 */
#ifndef MTPROXYD_REPLAY_H
#define MTPROXYD_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include "proto.h"

#define REPLAY_KEY_LEN		FAKETLS_REPLAY_KEY_LEN

#define REPLAY_SEEN		(-2)	/* the key is already in the set */
#define REPLAY_EMPTY		(-3)	/* no live entries */
#define REPLAY_ERR_ARG		(-4)
#define REPLAY_ERR_NOMEM	(-5)

typedef struct replay replay;

/*
 * max_entries: 1..2^31. window_seconds > 0 (FAKETLS_REPLAY_WINDOW): an
 * entry stored at t is live while now - t < window_seconds.
 */
int replay_new(replay **out, size_t max_entries, uint32_t window_seconds);

/*
 * 0: the key was new and is now stored at time now; REPLAY_SEEN: it was
 * live in the set (its time is left alone). Stored times never go back: a
 * caller whose clock reading is older than the newest entry stores the
 * newest time, so insertion order is time order and replay_oldest is a
 * true lower bound for everything in the set.
 */
int replay_check_and_add(replay *r, const uint8_t key[REPLAY_KEY_LEN],
    int64_t now);

/*
 * Time of the oldest live entry (entries expired at now are dropped first);
 * REPLAY_EMPTY if there is none. See faketls_skew_past.
 */
int replay_oldest(replay *r, int64_t now, int64_t *oldest);

/* Entries held; expired ones leave at the next call that takes a time. */
size_t replay_count(replay *r);

void replay_free(replay *r);

#endif
