/*
 * The input read as a client stream in each transport: decode a header, skip
 * its body, repeat until the data runs out or a header is refused. Each
 * accepted header must re-encode to the very same bytes (the decoder accepts
 * only canonical forms), and its length must obey doc/PROTOCOL.md 2.4.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int ok)
{
	if (!ok)
		abort();
}

static void
check_frame(enum frame_transport t, const uint8_t *hdr,
    const struct frame_info *fi, size_t avail)
{
	uint8_t enc[4];
	size_t enc_len;

	check(fi->header_len <= avail);
	check(fi->header_len == 4 ||
	    (t == FRAME_ABRIDGED && fi->header_len == 1));
	check(fi->len > 0 && fi->len <= FRAME_MAX_LEN);
	check(fi->data_len <= fi->len && fi->data_len % 4 == 0);
	check(t == FRAME_PADDED ? fi->len - fi->data_len < 4 :
	    fi->data_len == fi->len);
	check(fi->quickack == 0 || fi->quickack == 1);
	check(frame_encode(t, fi->len, fi->quickack, enc, &enc_len) == 0);
	check(enc_len == fi->header_len);
	check(memcmp(enc, hdr, enc_len) == 0);
}

static void
walk(enum frame_transport t, const uint8_t *data, size_t size)
{
	struct frame_info fi;
	size_t pos = 0;
	int rc;

	while (pos < size) {
		rc = frame_decode(t, data + pos, size - pos, &fi);
		if (rc != 0) {
			check(rc == FRAME_NEED_MORE || rc == FRAME_ERR_ZERO ||
			    rc == FRAME_ERR_TOO_LONG || rc == FRAME_ERR_ALIGN ||
			    rc == FRAME_ERR_OVERLONG);
			check(rc != FRAME_NEED_MORE || size - pos < 4);
			return;
		}
		check_frame(t, data + pos, &fi, size - pos);
		pos += fi.header_len;
		if (fi.len > size - pos)
			return;
		pos += fi.len;
	}
}

/* An input-chosen length through encode, and back through decode. */
static void
encode_decode(enum frame_transport t, const uint8_t *data, size_t size)
{
	uint8_t hdr[4];
	size_t len, hdr_len;
	struct frame_info fi;
	int qa, rc;

	if (size < 4)
		return;
	len = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 |
	    (size_t)(data[3] & 0x7f) << 24;
	qa = data[3] >> 7;
	rc = frame_encode(t, len, qa, hdr, &hdr_len);
	if (rc != 0) {
		check(len == 0 || len > FRAME_MAX_LEN ||
		    (t != FRAME_PADDED && len % 4 != 0));
		return;
	}
	check(frame_decode(t, hdr, hdr_len, &fi) == 0);
	check(fi.len == len && fi.quickack == qa &&
	    fi.header_len == hdr_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum frame_transport ts[] = {
		FRAME_ABRIDGED, FRAME_INTERMEDIATE, FRAME_PADDED
	};
	size_t i;

	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		walk(ts[i], data, size);
		encode_decode(ts[i], data, size);
	}
	return 0;
}
