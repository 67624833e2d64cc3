/*
 * Fake Telegram DC on loopback for the integration tests and the benchmark.
 * It speaks the DC side of a secret-less obfuscated2 stream (doc/PROTOCOL.md
 * 1.5). One epoll thread serves every connection, so ten thousand idle
 * connections cost no extra threads.
 */
#ifndef MTPROXYD_FAKEDC_H
#define MTPROXYD_FAKEDC_H

#include <stdint.h>

#define FAKEDC_ERR		(-1)	/* system error: errno says why */
#define FAKEDC_ERR_ARG		(-2)
#define FAKEDC_ERR_TIMEOUT	(-3)

enum fakedc_mode {
	/*
	 * Decrypt, decode each transport frame (the tag in the header says
	 * which transport) and send it back in the same transport, body byte
	 * for byte (padding included), never with the quick-ack flag. A bad
	 * frame closes the connection.
	 */
	FAKEDC_ECHO,
	FAKEDC_SINK,		/* count what follows the header, discard */
	FAKEDC_SOURCE,		/* after the header, send bytes (see
				   struct fakedc_opts) */
	FAKEDC_BLACKHOLE	/* accept, never read nor answer; notice the
				   peer's close only */
};

struct fakedc_opts {
	int family;		/* AF_INET: 127.0.0.1, AF_INET6: ::1 */
	enum fakedc_mode mode;
	/*
	 * SOURCE only. pattern 0: unencrypted bytes as fast as the peer takes
	 * them, with no end (the benchmark). pattern 1: fakedc_pattern(seed)
	 * encrypted with the DC->proxy cipher of the header received
	 * (doc/PROTOCOL.md 1.5), so that the far end can check every byte;
	 * source_len of them (0: no end), then the connection stays open.
	 * With source_interval_ms, source_chunk bytes each time it elapses
	 * (a DC trickling an answer), else as fast as the peer takes them.
	 */
	int pattern;
	uint64_t seed;
	uint64_t source_len;
	size_t source_chunk;
	int source_interval_ms;
	/*
	 * Any mode: a connection is neither read nor answered until this
	 * long after it was accepted, so its first answer comes that much
	 * later (a DC a round trip away, as far as a connection opened
	 * ahead of its client is concerned), to the millisecond.
	 */
	int accept_delay_ms;
};

/* Counters, all atomic; bytes count payload after the 64-byte header. */
enum fakedc_counter {
	FAKEDC_ACCEPTED,	/* connections accepted */
	FAKEDC_OPEN,		/* connections open now */
	FAKEDC_HEADERS,		/* valid headers */
	FAKEDC_BAD_HEADERS,	/* headers without a valid tag: closed */
	FAKEDC_BYTES_IN,
	FAKEDC_BYTES_OUT,
	FAKEDC_FRAMES,		/* frames echoed (ECHO) */
	FAKEDC_QUICKACKS,	/* of which had the quick-ack flag */
	FAKEDC_BAD_FRAMES,	/* frames doc/PROTOCOL.md 2 refuses: closed */
	FAKEDC_ACCEPT_ERRORS,	/* accept() out of fds or memory */
	FAKEDC_NCOUNTERS
};

struct fakedc;

int fakedc_start(const struct fakedc_opts *o, struct fakedc **out);
/* Close every connection (the DC going away), keep listening. Asynchronous:
   wait for FAKEDC_OPEN to reach 0. */
void fakedc_close_all(struct fakedc *dc);
/* Prompt; closes every connection and frees everything. NULL is a no-op. */
void fakedc_stop(struct fakedc *dc);

uint16_t fakedc_port(const struct fakedc *dc);
uint64_t fakedc_counter(const struct fakedc *dc, enum fakedc_counter which);
/*
 * Poll until the counter reaches value: equals it for FAKEDC_OPEN (which goes
 * down as well as up), at least value for the others. 0 or FAKEDC_ERR_TIMEOUT.
 */
int fakedc_wait(const struct fakedc *dc, enum fakedc_counter which,
    uint64_t value, int timeout_ms);
/* Tag (PROTO_TAG_*) and DC id of the last valid header; 0, 0 before any. */
void fakedc_last_header(const struct fakedc *dc, uint32_t *tag, int16_t *dcid);
/* The last valid header as it arrived on the wire; zeros before any. */
void fakedc_last_header_raw(struct fakedc *dc, uint8_t hdr[64]);
/* Bytes off..off+len of the plaintext a pattern SOURCE with seed sends. */
void fakedc_pattern(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);

/*
 * A loopback port nothing listens on (bound then closed, so connecting is
 * refused unless another process grabs it in between).
 */
int fakedc_closed_port(int family, uint16_t *port);

#endif
