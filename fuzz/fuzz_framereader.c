/*
 * The input as a client stream of each transport, cut into pieces: the
 * first byte k (mod 16) says how many piece sizes follow (cycled; none:
 * one piece), the rest is the stream. However it is cut, the reader must
 * hand out the packets a frame_decode walk over the whole stream finds, in
 * order and byte for byte, and fail exactly where that walk meets a bad
 * header.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct expect {
	size_t off, len;
	int quickack;
};

/* The packets of the whole stream; *bad: it ends in a refused header. */
static size_t
walk(enum frame_transport t, const uint8_t *s, size_t n, struct expect *e,
    int *bad)
{
	struct frame_info fi;
	size_t pos = 0, k = 0;
	int rc;

	*bad = 0;
	while (pos < n) {
		if ((rc = frame_decode(t, s + pos, n - pos, &fi)) != 0) {
			*bad = rc != FRAME_NEED_MORE;
			break;
		}
		if (fi.len > n - pos - fi.header_len)
			break;
		e[k].off = pos + fi.header_len;
		e[k].len = fi.data_len;
		e[k].quickack = fi.quickack;
		k++;
		pos += fi.header_len + fi.len;
	}
	return k;
}

static void
run(enum frame_transport t, const uint8_t *cuts, size_t ncuts,
    const uint8_t *s, size_t n, const struct expect *e, size_t ne, int bad)
{
	struct frame_reader r;
	struct frame_packet pkt;
	size_t pos = 0, piece, used, got = 0, c = 0;
	int rc = 0;

	frame_reader_init(&r, t);
	while (pos < n && rc == 0) {
		piece = ncuts == 0 ? n - pos : (size_t)cuts[c++ % ncuts] + 1;
		if (piece > n - pos)
			piece = n - pos;
		while (piece > 0) {
			if ((rc = frame_reader_feed(&r, s + pos, piece, &used,
			    &pkt)) != 0)
				break;
			fuzz_check(used <= piece &&
			    (used == piece || pkt.data));
			pos += used;
			piece -= used;
			if (pkt.data == NULL)
				continue;
			fuzz_check(got < ne && pkt.len == e[got].len &&
			    pkt.quickack == e[got].quickack &&
			    memcmp(pkt.data, s + e[got].off, pkt.len) == 0);
			got++;
		}
	}
	fuzz_check(got == ne && (rc != 0) == bad);
	if (rc != 0)
		fuzz_check(frame_reader_feed(&r, s, n, &used, &pkt) == rc &&
		    used == 0 && pkt.data == NULL);
	frame_reader_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum frame_transport ts[] = {
		FRAME_ABRIDGED, FRAME_INTERMEDIATE, FRAME_PADDED
	};
	struct expect *e;
	size_t ncuts, ne, i;
	int bad;

	if (size == 0)
		return 0;
	ncuts = data[0] % 16;
	if (ncuts >= size)
		return 0;
	/* A packet takes at least 2 stream bytes (abridged). */
	if ((e = malloc((size / 2 + 1) * sizeof(*e))) == NULL)
		return 0;
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		ne = walk(ts[i], data + 1 + ncuts, size - 1 - ncuts, e, &bad);
		run(ts[i], data + 1, ncuts, data + 1 + ncuts, size - 1 - ncuts,
		    e, ne, bad);
	}
	free(e);
	return 0;
}
