/*
 * Transport frame headers (doc/PROTOCOL.md 2.1-2.4). Decoding is strict in the
 * same places the official server is, so a client that works with it works
 * with us and nothing else gets through.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "frame.h"
#include "proto.h"

/* Rules shared by decode and encode for a frame body of len bytes. */
static int
check_len(enum frame_transport t, size_t len)
{
	if (len == 0)
		return FRAME_ERR_ZERO;
	if (len > FRAME_MAX_LEN)
		return FRAME_ERR_TOO_LONG;
	if (t != FRAME_PADDED && len % 4 != 0)
		return FRAME_ERR_ALIGN;
	return 0;
}

static int
valid_transport(enum frame_transport t)
{
	return t == FRAME_ABRIDGED || t == FRAME_INTERMEDIATE ||
	    t == FRAME_PADDED;
}

int
frame_transport_from_tag(uint32_t tag, enum frame_transport *out)
{
	if (out == NULL)
		return FRAME_ERR_ARG;
	switch (tag) {
	case PROTO_TAG_ABRIDGED:
		*out = FRAME_ABRIDGED;
		return 0;
	case PROTO_TAG_INTERMEDIATE:
		*out = FRAME_INTERMEDIATE;
		return 0;
	case PROTO_TAG_PADDED:
		*out = FRAME_PADDED;
		return 0;
	}
	return FRAME_ERR_ARG;
}

const char *
frame_transport_name(enum frame_transport t)
{
	switch (t) {
	case FRAME_ABRIDGED:
		return "abridged";
	case FRAME_INTERMEDIATE:
		return "intermediate";
	case FRAME_PADDED:
		return "padded";
	}
	return "unknown";
}

static int
decode_abridged(const uint8_t *buf, size_t avail, struct frame_info *out)
{
	size_t words, hlen = 1;

	if (avail < 1)
		return FRAME_NEED_MORE;
	words = buf[0] & ~ABRIDGED_QUICKACK;
	if (words == ABRIDGED_EXTENDED) {
		if (avail < 4)
			return FRAME_NEED_MORE;
		words = bytes_le32(buf) >> 8;
		/* The official server refuses a long form for a short length. */
		if (words <= ABRIDGED_SHORT_MAX)
			return FRAME_ERR_OVERLONG;
		hlen = 4;
	}
	out->header_len = hlen;
	out->len = words * 4;
	out->quickack = (buf[0] & ABRIDGED_QUICKACK) != 0;
	return 0;
}

static int
decode_intermediate(const uint8_t *buf, size_t avail, struct frame_info *out)
{
	uint32_t v;

	if (avail < 4)
		return FRAME_NEED_MORE;
	v = bytes_le32(buf);
	out->quickack = (v & INTERMEDIATE_QUICKACK) != 0;
	v &= ~INTERMEDIATE_QUICKACK;
	if (v & INTERMEDIATE_BADBITS)
		return FRAME_ERR_TOO_LONG;
	out->header_len = 4;
	out->len = v;
	return 0;
}

int
frame_decode(enum frame_transport t, const uint8_t *buf, size_t avail,
    struct frame_info *out)
{
	struct frame_info fi;
	int rc;

	if (out == NULL || (buf == NULL && avail > 0) || !valid_transport(t))
		return FRAME_ERR_ARG;
	if (t == FRAME_ABRIDGED)
		rc = decode_abridged(buf, avail, &fi);
	else
		rc = decode_intermediate(buf, avail, &fi);
	if (rc != 0)
		return rc;
	if ((rc = check_len(t, fi.len)) != 0)
		return rc;
	/* Padded: the official server drops only the last partial word. */
	fi.data_len = t == FRAME_PADDED ? fi.len & ~(size_t)3 : fi.len;
	*out = fi;
	return 0;
}

int
frame_encode(enum frame_transport t, size_t len, int quickack,
    uint8_t hdr[4], size_t *hdr_len)
{
	size_t words = len / 4;
	int rc;

	if (hdr == NULL || hdr_len == NULL || !valid_transport(t))
		return FRAME_ERR_ARG;
	if ((rc = check_len(t, len)) != 0)
		return rc;
	if (t != FRAME_ABRIDGED) {
		bytes_put_le32(hdr, (uint32_t)len |
		    (quickack ? INTERMEDIATE_QUICKACK : 0));
		*hdr_len = 4;
	} else if (words <= ABRIDGED_SHORT_MAX) {
		hdr[0] = (uint8_t)words | (quickack ? ABRIDGED_QUICKACK : 0);
		*hdr_len = 1;
	} else {
		bytes_put_le32(hdr, (uint32_t)words << 8 | ABRIDGED_EXTENDED |
		    (quickack ? ABRIDGED_QUICKACK : 0));
		*hdr_len = 4;
	}
	return 0;
}

int
frame_answer_encode(enum frame_transport t, const uint8_t *data, size_t len,
    const uint8_t rnd[4], uint8_t *out, size_t cap, size_t *out_len)
{
	size_t pad = 0, hl;
	uint8_t hdr[4];
	int rc;

	if ((data == NULL && len > 0) || rnd == NULL || out == NULL ||
	    out_len == NULL)
		return FRAME_ERR_ARG;
	/* A client takes no frame longer than FRAME_MAX_LEN. */
	if (t == FRAME_PADDED && len < FRAME_MAX_LEN) {
		pad = rnd[0] & 3;
		if (pad > FRAME_MAX_LEN - len)
			pad = FRAME_MAX_LEN - len;
	}
	if ((rc = frame_encode(t, len + pad, 0, hdr, &hl)) != 0)
		return rc;
	if (cap < hl + len + pad)
		return FRAME_ERR_ARG;
	memcpy(out, hdr, hl);
	memcpy(out + hl, data, len);
	memcpy(out + hl + len, rnd + 1, pad);
	*out_len = hl + len + pad;
	return 0;
}

int
frame_quickack_encode(enum frame_transport t, uint32_t confirm,
    uint8_t out[FRAME_QUICKACK_LEN])
{
	if (out == NULL || !valid_transport(t))
		return FRAME_ERR_ARG;
	if (t == FRAME_ABRIDGED)
		bytes_put_be32(out, confirm);
	else
		bytes_put_le32(out, confirm);
	return 0;
}

void
frame_reader_init(struct frame_reader *r, enum frame_transport t)
{
	memset(r, 0, sizeof(*r));
	r->transport = t;
}

/* One more header byte: 1 once the header is complete and its body allocated. */
static int
header_byte(struct frame_reader *r, uint8_t b)
{
	int rc;

	r->hdr[r->hn++] = b;
	rc = frame_decode(r->transport, r->hdr, r->hn, &r->fi);
	if (rc == FRAME_NEED_MORE && r->hn < sizeof(r->hdr))
		return 0;
	if (rc != 0)
		return rc;
	r->hn = r->got = 0;
	if ((r->pkt = malloc(r->fi.len)) == NULL)
		return FRAME_ERR_NOMEM;
	return 1;
}

int
frame_reader_feed(struct frame_reader *r, const uint8_t *p, size_t n,
    size_t *used, struct frame_packet *pkt)
{
	size_t off = 0, take;
	int rc;

	if (r == NULL || (p == NULL && n > 0) || used == NULL || pkt == NULL)
		return FRAME_ERR_ARG;
	pkt->data = NULL;
	*used = 0;
	if (r->err != 0)
		return r->err;
	if (r->done) {
		free(r->pkt);
		r->pkt = NULL;
		r->done = 0;
	}
	while (off < n) {
		if (r->pkt == NULL) {
			if ((rc = header_byte(r, p[off++])) < 0)
				return r->err = rc;
			continue;
		}
		take = n - off < r->fi.len - r->got ? n - off :
		    r->fi.len - r->got;
		memcpy(r->pkt + r->got, p + off, take);
		r->got += take;
		off += take;
		if (r->got == r->fi.len) {
			r->done = 1;
			pkt->data = r->pkt;
			pkt->len = r->fi.data_len;
			pkt->quickack = r->fi.quickack;
			break;
		}
	}
	*used = off;
	return 0;
}

void
frame_reader_free(struct frame_reader *r)
{
	free(r->pkt);
	r->pkt = NULL;
	r->done = 0;
}
