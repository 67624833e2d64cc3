/* Transport framing inside the obfuscated stream (doc/PROTOCOL.md 2). Pure. */
#ifndef MTPROXYD_FRAME_H
#define MTPROXYD_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_NEED_MORE		(-2)	/* header incomplete: read more */
#define FRAME_ERR_ZERO		(-3)	/* length 0 */
#define FRAME_ERR_TOO_LONG	(-4)	/* over FRAME_MAX_LEN or bad high bits */
#define FRAME_ERR_ALIGN		(-5)	/* not a multiple of 4 (non-padded) */
#define FRAME_ERR_OVERLONG	(-6)	/* abridged extended form for a short length */
#define FRAME_ERR_ARG		(-7)
#define FRAME_ERR_NOMEM		(-8)

enum frame_transport {
	FRAME_ABRIDGED,		/* tag ef */
	FRAME_INTERMEDIATE,	/* tag ee */
	FRAME_PADDED		/* tag dd */
};

struct frame_info {
	size_t header_len;	/* 1 or 4 (abridged), 4 (intermediate) */
	size_t len;		/* bytes after the header, padding included */
	size_t data_len;	/* len, minus padding (padded: len & ~3) */
	int quickack;		/* the client asked for a quick ack */
};

int frame_transport_from_tag(uint32_t tag, enum frame_transport *out);
const char *frame_transport_name(enum frame_transport t);

/* Decode the header of the next frame in buf[0..avail). */
int frame_decode(enum frame_transport t, const uint8_t *buf, size_t avail,
    struct frame_info *out);

/*
 * Encode the header for a frame whose body (padding included) is len bytes.
 * hdr must hold 4 bytes; *hdr_len gets 1 or 4.
 */
int frame_encode(enum frame_transport t, size_t len, int quickack,
    uint8_t hdr[4], size_t *hdr_len);

/*
 * An answer from the middle proxy in the client's transport (doc/PROTOCOL.md
 * 2.1-2.3, 4.8): RPC_PROXY_ANS's data as one packet. Padded adds rnd[0] & 3
 * bytes of rnd[1..3], as the official server does, but never past
 * FRAME_MAX_LEN; rnd is unused otherwise. out must hold
 * FRAME_ANSWER_ROOM(len) bytes.
 */
#define FRAME_ANSWER_ROOM(len)	(4 + (size_t)(len) + 3)
int frame_answer_encode(enum frame_transport t, const uint8_t *data,
    size_t len, const uint8_t rnd[4], uint8_t *out, size_t cap,
    size_t *out_len);
/*
 * A quick ack (RPC_SIMPLE_ACK): the 4 raw bytes of its confirm value,
 * little-endian, big-endian towards an abridged client (2.1, 2.2).
 */
#define FRAME_QUICKACK_LEN	4
int frame_quickack_encode(enum frame_transport t, uint32_t confirm,
    uint8_t out[FRAME_QUICKACK_LEN]);

/*
 * A client stream cut into packets (doc/PROTOCOL.md 2), fed in whatever pieces
 * the socket gives. A bad header ends the stream: nothing after it is ever
 * a packet, since the official server does not resynchronise either.
 */
struct frame_reader {
	enum frame_transport transport;
	uint8_t hdr[4];
	size_t hn;
	struct frame_info fi;
	uint8_t *pkt;		/* the body being collected, or the last packet */
	size_t got;
	int done;		/* pkt is a packet already handed out */
	int err;		/* sticky */
};

struct frame_packet {
	const uint8_t *data;	/* NULL: no packet completed; else valid until
				   the next feed or free */
	size_t len;		/* frame_info.data_len */
	int quickack;
};

void frame_reader_init(struct frame_reader *r, enum frame_transport t);
/*
 * Take bytes of p[0..n) up to the end of the next complete packet: *used
 * gets how many, *pkt that packet (data NULL when p ran out first, with
 * *used == n). Call again with the rest. A FRAME_ERR_* is returned again by
 * every later call.
 */
int frame_reader_feed(struct frame_reader *r, const uint8_t *p, size_t n,
    size_t *used, struct frame_packet *pkt);
void frame_reader_free(struct frame_reader *r);

#endif
