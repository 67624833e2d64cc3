/*
 * Transport frame headers (doc/PROTOCOL.md 2.1-2.4): every branch, byte exact.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "frame.h"
#include "proto.h"

struct decode_case {
	enum frame_transport t;
	uint8_t b[4];
	size_t avail;
	int rc;
	size_t header_len, len, data_len;
	int quickack;
};

#define A	FRAME_ABRIDGED
#define I	FRAME_INTERMEDIATE
#define P	FRAME_PADDED

static const struct decode_case decode_cases[] = {
	/* Abridged, 1-byte form. */
	{ A, { 0x01 }, 1, 0, 1, 4, 4, 0 },
	{ A, { 0x07, 0xff, 0xff, 0xff }, 4, 0, 1, 28, 28, 0 },
	{ A, { 0x7e }, 1, 0, 1, 504, 504, 0 },
	{ A, { 0x81 }, 1, 0, 1, 4, 4, 1 },
	{ A, { 0xfe }, 1, 0, 1, 504, 504, 1 },
	{ A, { 0x00 }, 1, FRAME_ERR_ZERO, 0, 0, 0, 0 },
	{ A, { 0x80 }, 1, FRAME_ERR_ZERO, 0, 0, 0, 0 },
	/* Abridged, extended form. */
	{ A, { 0x7f, 0x7f, 0x00, 0x00 }, 4, 0, 4, 508, 508, 0 },
	{ A, { 0xff, 0x7f, 0x00, 0x00 }, 4, 0, 4, 508, 508, 1 },
	{ A, { 0x7f, 0x00, 0x01, 0x00 }, 4, 0, 4, 1024, 1024, 0 },
	{ A, { 0x7f, 0x00, 0xfc, 0x03 }, 4, 0, 4, FRAME_MAX_LEN,
	    FRAME_MAX_LEN, 0 },
	{ A, { 0x7f, 0x01, 0xfc, 0x03 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ A, { 0xff, 0xff, 0xff, 0xff }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ A, { 0x7f, 0x7e, 0x00, 0x00 }, 4, FRAME_ERR_OVERLONG, 0, 0, 0, 0 },
	{ A, { 0x7f, 0x01, 0x00, 0x00 }, 4, FRAME_ERR_OVERLONG, 0, 0, 0, 0 },
	{ A, { 0xff, 0x00, 0x00, 0x00 }, 4, FRAME_ERR_OVERLONG, 0, 0, 0, 0 },
	{ A, { 0 }, 0, FRAME_NEED_MORE, 0, 0, 0, 0 },
	{ A, { 0x7f }, 1, FRAME_NEED_MORE, 0, 0, 0, 0 },
	{ A, { 0x7f, 0x7f }, 2, FRAME_NEED_MORE, 0, 0, 0, 0 },
	{ A, { 0xff, 0x7f, 0x00 }, 3, FRAME_NEED_MORE, 0, 0, 0, 0 },
	/* Intermediate. */
	{ I, { 0x04, 0x00, 0x00, 0x00 }, 4, 0, 4, 4, 4, 0 },
	{ I, { 0x04, 0x00, 0x00, 0x80 }, 4, 0, 4, 4, 4, 1 },
	{ I, { 0x00, 0xf0, 0x0f, 0x00 }, 4, 0, 4, FRAME_MAX_LEN,
	    FRAME_MAX_LEN, 0 },
	{ I, { 0x04, 0xf0, 0x0f, 0x00 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ I, { 0x04, 0x00, 0x00, 0x40 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ I, { 0x04, 0x00, 0x00, 0xc0 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ I, { 0x00, 0x00, 0x00, 0x40 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ I, { 0x00, 0x00, 0x00, 0x00 }, 4, FRAME_ERR_ZERO, 0, 0, 0, 0 },
	{ I, { 0x00, 0x00, 0x00, 0x80 }, 4, FRAME_ERR_ZERO, 0, 0, 0, 0 },
	{ I, { 0x05, 0x00, 0x00, 0x00 }, 4, FRAME_ERR_ALIGN, 0, 0, 0, 0 },
	{ I, { 0x02, 0x00, 0x00, 0x80 }, 4, FRAME_ERR_ALIGN, 0, 0, 0, 0 },
	{ I, { 0 }, 0, FRAME_NEED_MORE, 0, 0, 0, 0 },
	{ I, { 0x04 }, 1, FRAME_NEED_MORE, 0, 0, 0, 0 },
	{ I, { 0x04, 0x00, 0x00 }, 3, FRAME_NEED_MORE, 0, 0, 0, 0 },
	/* Padded intermediate: any length, the last partial word is padding. */
	{ P, { 0x01, 0x00, 0x00, 0x00 }, 4, 0, 4, 1, 0, 0 },
	{ P, { 0x03, 0x00, 0x00, 0x00 }, 4, 0, 4, 3, 0, 0 },
	{ P, { 0x04, 0x00, 0x00, 0x00 }, 4, 0, 4, 4, 4, 0 },
	{ P, { 0x05, 0x00, 0x00, 0x80 }, 4, 0, 4, 5, 4, 1 },
	{ P, { 0x2b, 0x00, 0x00, 0x00 }, 4, 0, 4, 43, 40, 0 },
	{ P, { 0xcc, 0x07, 0x00, 0x00 }, 4, 0, 4, 1996, 1996, 0 },
	{ P, { 0x00, 0xf0, 0x0f, 0x00 }, 4, 0, 4, FRAME_MAX_LEN,
	    FRAME_MAX_LEN, 0 },
	{ P, { 0x01, 0xf0, 0x0f, 0x00 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ P, { 0x05, 0x00, 0x00, 0x40 }, 4, FRAME_ERR_TOO_LONG, 0, 0, 0, 0 },
	{ P, { 0x00, 0x00, 0x00, 0x00 }, 4, FRAME_ERR_ZERO, 0, 0, 0, 0 },
	{ P, { 0x00, 0x00, 0x00, 0x80 }, 4, FRAME_ERR_ZERO, 0, 0, 0, 0 },
	{ P, { 0x05, 0x00 }, 2, FRAME_NEED_MORE, 0, 0, 0, 0 },
};
#define NDECODE	(sizeof(decode_cases) / sizeof(decode_cases[0]))

START_TEST(decode)
{
	const struct decode_case *c = &decode_cases[_i];
	struct frame_info fi, untouched;
	uint8_t buf[4];

	memcpy(buf, c->b, sizeof(buf));
	memset(&fi, 0x5c, sizeof(fi));
	untouched = fi;
	ck_assert_int_eq(frame_decode(c->t, buf, c->avail, &fi), c->rc);
	if (c->rc != 0) {
		ck_assert_mem_eq(&fi, &untouched, sizeof(fi));
		return;
	}
	ck_assert_uint_eq(fi.header_len, c->header_len);
	ck_assert_uint_eq(fi.len, c->len);
	ck_assert_uint_eq(fi.data_len, c->data_len);
	ck_assert_int_eq(fi.quickack, c->quickack);
}
END_TEST

/* Bytes after the header (the body) are not looked at. */
START_TEST(decode_ignores_body)
{
	uint8_t buf[16];
	struct frame_info fi;

	memset(buf, 0xff, sizeof(buf));
	buf[0] = 0x08;
	ck_assert_int_eq(frame_decode(A, buf, sizeof(buf), &fi), 0);
	ck_assert_uint_eq(fi.header_len, 1);
	ck_assert_uint_eq(fi.len, 32);
	buf[1] = buf[2] = buf[3] = 0;
	ck_assert_int_eq(frame_decode(I, buf, sizeof(buf), &fi), 0);
	ck_assert_uint_eq(fi.header_len, 4);
	ck_assert_uint_eq(fi.len, 8);
}
END_TEST

struct encode_case {
	enum frame_transport t;
	size_t len;
	int quickack;
	int rc;
	size_t hdr_len;
	uint8_t hdr[4];
};

static const struct encode_case encode_cases[] = {
	{ A, 4, 0, 0, 1, { 0x01 } },
	{ A, 4, 1, 0, 1, { 0x81 } },
	{ A, 504, 0, 0, 1, { 0x7e } },
	{ A, 504, 1, 0, 1, { 0xfe } },
	{ A, 508, 0, 0, 4, { 0x7f, 0x7f, 0x00, 0x00 } },
	{ A, 508, 1, 0, 4, { 0xff, 0x7f, 0x00, 0x00 } },
	{ A, 1024, 0, 0, 4, { 0x7f, 0x00, 0x01, 0x00 } },
	{ A, FRAME_MAX_LEN, 0, 0, 4, { 0x7f, 0x00, 0xfc, 0x03 } },
	{ A, 0, 0, FRAME_ERR_ZERO, 0, { 0 } },
	{ A, 6, 0, FRAME_ERR_ALIGN, 0, { 0 } },
	{ A, 509, 1, FRAME_ERR_ALIGN, 0, { 0 } },
	{ A, FRAME_MAX_LEN + 4, 0, FRAME_ERR_TOO_LONG, 0, { 0 } },
	{ I, 4, 0, 0, 4, { 0x04, 0x00, 0x00, 0x00 } },
	{ I, 4, 1, 0, 4, { 0x04, 0x00, 0x00, 0x80 } },
	{ I, 508, 0, 0, 4, { 0xfc, 0x01, 0x00, 0x00 } },
	{ I, FRAME_MAX_LEN, 1, 0, 4, { 0x00, 0xf0, 0x0f, 0x80 } },
	{ I, 0, 1, FRAME_ERR_ZERO, 0, { 0 } },
	{ I, 7, 0, FRAME_ERR_ALIGN, 0, { 0 } },
	{ I, FRAME_MAX_LEN + 4, 0, FRAME_ERR_TOO_LONG, 0, { 0 } },
	{ I, 0x40000004, 0, FRAME_ERR_TOO_LONG, 0, { 0 } },
	{ P, 5, 0, 0, 4, { 0x05, 0x00, 0x00, 0x00 } },
	{ P, 1, 1, 0, 4, { 0x01, 0x00, 0x00, 0x80 } },
	{ P, 0, 0, FRAME_ERR_ZERO, 0, { 0 } },
	{ P, FRAME_MAX_LEN + 1, 0, FRAME_ERR_TOO_LONG, 0, { 0 } },
};
#define NENCODE	(sizeof(encode_cases) / sizeof(encode_cases[0]))

START_TEST(encode)
{
	const struct encode_case *c = &encode_cases[_i];
	uint8_t hdr[4] = { 0 };
	size_t hdr_len = 99;

	ck_assert_int_eq(frame_encode(c->t, c->len, c->quickack, hdr,
	    &hdr_len), c->rc);
	if (c->rc != 0) {
		ck_assert_uint_eq(hdr_len, 99);
		return;
	}
	ck_assert_uint_eq(hdr_len, c->hdr_len);
	ck_assert_mem_eq(hdr, c->hdr, hdr_len);
}
END_TEST

static void
roundtrip_one(enum frame_transport t, size_t len, int quickack)
{
	uint8_t hdr[4];
	size_t hdr_len, avail;
	struct frame_info fi;

	ck_assert_int_eq(frame_encode(t, len, quickack, hdr, &hdr_len), 0);
	/* Every truncation of the header asks for more. */
	for (avail = 0; avail < hdr_len; avail++)
		ck_assert_int_eq(frame_decode(t, hdr, avail, &fi),
		    FRAME_NEED_MORE);
	ck_assert_int_eq(frame_decode(t, hdr, hdr_len, &fi), 0);
	ck_assert_uint_eq(fi.header_len, hdr_len);
	ck_assert_uint_eq(fi.len, len);
	ck_assert_uint_eq(fi.data_len, t == P ? len & ~(size_t)3 : len);
	ck_assert_int_eq(fi.quickack, quickack);
}

static const size_t big_lens[] = { 4, 8, 500, 504, 508, 512, 1020, 1024,
    65536, 131072, FRAME_MAX_LEN - 4096, FRAME_MAX_LEN - 4, FRAME_MAX_LEN };

START_TEST(roundtrip)
{
	enum frame_transport t = (enum frame_transport)_i;
	size_t len, i;
	int qa;

	for (qa = 0; qa < 2; qa++) {
		for (len = 1; len <= 4096; len++) {
			if (t != P && len % 4 != 0)
				continue;
			roundtrip_one(t, len, qa);
		}
		for (i = 0; i < sizeof(big_lens) / sizeof(big_lens[0]); i++)
			roundtrip_one(t, big_lens[i], qa);
	}
}
END_TEST

START_TEST(args)
{
	uint8_t buf[4] = { 4, 0, 0, 0 };
	struct frame_info fi;
	size_t hdr_len;
	enum frame_transport t;

	ck_assert_int_eq(frame_decode(A, buf, 4, NULL), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_decode(A, NULL, 4, &fi), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_decode(A, NULL, 0, &fi), FRAME_NEED_MORE);
	ck_assert_int_eq(frame_decode((enum frame_transport)3, buf, 4, &fi),
	    FRAME_ERR_ARG);
	ck_assert_int_eq(frame_encode(I, 4, 0, NULL, &hdr_len), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_encode(I, 4, 0, buf, NULL), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_encode((enum frame_transport)-1, 4, 0, buf,
	    &hdr_len), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_transport_from_tag(PROTO_TAG_ABRIDGED, NULL),
	    FRAME_ERR_ARG);
	ck_assert_int_eq(frame_transport_from_tag(0xefefefee, &t),
	    FRAME_ERR_ARG);
}
END_TEST

START_TEST(tags_and_names)
{
	enum frame_transport t;

	ck_assert_int_eq(frame_transport_from_tag(PROTO_TAG_ABRIDGED, &t), 0);
	ck_assert_int_eq(t, FRAME_ABRIDGED);
	ck_assert_int_eq(frame_transport_from_tag(PROTO_TAG_INTERMEDIATE, &t),
	    0);
	ck_assert_int_eq(t, FRAME_INTERMEDIATE);
	ck_assert_int_eq(frame_transport_from_tag(PROTO_TAG_PADDED, &t), 0);
	ck_assert_int_eq(t, FRAME_PADDED);
	ck_assert_str_eq(frame_transport_name(FRAME_ABRIDGED), "abridged");
	ck_assert_str_eq(frame_transport_name(FRAME_INTERMEDIATE),
	    "intermediate");
	ck_assert_str_eq(frame_transport_name(FRAME_PADDED), "padded");
	ck_assert_str_eq(frame_transport_name((enum frame_transport)9),
	    "unknown");
}
END_TEST

/* ---- frame_reader: the stream cut into packets ---- */

#define MAXPKT	4

struct got {
	size_t n;
	int rc;			/* of the last feed */
	struct {
		uint8_t data[512];
		size_t len;
		int quickack;
	} pkt[MAXPKT];
};

/* Feed p[0..n) until it is used up or the reader fails. */
static void
feed(struct frame_reader *r, const uint8_t *p, size_t n, struct got *g)
{
	struct frame_packet pkt;
	size_t used;

	while (n > 0) {
		g->rc = frame_reader_feed(r, p, n, &used, &pkt);
		if (g->rc != 0) {
			ck_assert_uint_eq(used, 0);
			ck_assert_ptr_null(pkt.data);
			return;
		}
		ck_assert_uint_le(used, n);
		ck_assert(used == n || pkt.data != NULL);
		p += used;
		n -= used;
		if (pkt.data == NULL)
			continue;
		ck_assert_uint_lt(g->n, MAXPKT);
		ck_assert_uint_le(pkt.len, sizeof(g->pkt[0].data));
		memcpy(g->pkt[g->n].data, pkt.data, pkt.len);
		g->pkt[g->n].len = pkt.len;
		g->pkt[g->n].quickack = pkt.quickack;
		g->n++;
	}
}

/*
 * Three frames per transport, written out by hand: 8 bytes, 4 bytes with
 * quick ack, 512 bytes (abridged: the extended header). Padded adds 3, 2
 * and 3 bytes of padding that no packet carries.
 */
struct stream {
	uint8_t b[600];
	size_t len;
	size_t body[3];		/* offsets of the bodies in b */
};

static void
body(struct stream *st, size_t i, size_t len, size_t wire)
{
	size_t k;

	st->body[i] = st->len;
	for (k = 0; k < wire; k++)
		st->b[st->len++] = (uint8_t)(i * 64 + k + (k < len ? 1 : 0x80));
}

static void
hdr(struct stream *st, const uint8_t *h, size_t n)
{
	memcpy(st->b + st->len, h, n);
	st->len += n;
}

static void
make_stream(enum frame_transport t, struct stream *st)
{
	static const uint8_t a[][4] = { { 0x02 }, { 0x81 },
	    { 0x7f, 0x80, 0x00, 0x00 } };
	static const uint8_t in[][4] = { { 8, 0, 0, 0 }, { 4, 0, 0, 0x80 },
	    { 0x00, 0x02, 0, 0 } };
	static const uint8_t pd[][4] = { { 11, 0, 0, 0 }, { 6, 0, 0, 0x80 },
	    { 0x03, 0x02, 0, 0 } };
	static const size_t lens[] = { 8, 4, 512 }, pads[] = { 3, 2, 3 };
	size_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < 3; i++) {
		if (t == A)
			hdr(st, a[i], i == 2 ? 4 : 1);
		else
			hdr(st, t == I ? in[i] : pd[i], 4);
		body(st, i, lens[i], lens[i] + (t == P ? pads[i] : 0));
	}
}

static void
expect_stream(const struct stream *st, const struct got *g)
{
	static const size_t lens[] = { 8, 4, 512 };
	size_t i;

	ck_assert_int_eq(g->rc, 0);
	ck_assert_uint_eq(g->n, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_uint_eq(g->pkt[i].len, lens[i]);
		ck_assert_int_eq(g->pkt[i].quickack, i == 1);
		ck_assert_mem_eq(g->pkt[i].data, st->b + st->body[i], lens[i]);
	}
}

/* Every cut of the stream into two feeds, and one feed of it all. */
START_TEST(reader_split_everywhere)
{
	enum frame_transport t = (enum frame_transport)_i;
	struct frame_reader r;
	struct stream st;
	struct got g;
	size_t cut;

	make_stream(t, &st);
	for (cut = 0; cut <= st.len; cut++) {
		memset(&g, 0, sizeof(g));
		frame_reader_init(&r, t);
		feed(&r, st.b, cut, &g);
		feed(&r, st.b + cut, st.len - cut, &g);
		expect_stream(&st, &g);
		frame_reader_free(&r);
	}
}
END_TEST

/* One byte per feed: a packet completes on its last byte, not before. */
START_TEST(reader_byte_by_byte)
{
	enum frame_transport t = (enum frame_transport)_i;
	struct frame_reader r;
	struct stream st;
	struct got g;
	size_t i, before;

	make_stream(t, &st);
	memset(&g, 0, sizeof(g));
	frame_reader_init(&r, t);
	for (i = 0; i < st.len; i++) {
		before = g.n;
		feed(&r, st.b + i, 1, &g);
		ck_assert_uint_eq(g.n - before, i == st.body[0] + (t == P ?
		    10 : 7) || i == st.body[1] + (t == P ? 5 : 3) ||
		    i == st.len - 1);
	}
	expect_stream(&st, &g);
	frame_reader_free(&r);
}
END_TEST

START_TEST(reader_bad_frame_ends_stream)
{
	static const uint8_t in[] = {
		4, 0, 0, 0, 1, 2, 3, 4,		/* a packet */
		6, 0, 0, 0,			/* not a multiple of 4 */
		4, 0, 0, 0, 5, 6, 7, 8		/* never a packet */
	};
	static const uint8_t ab[] = { 0x01, 9, 9, 9, 9, 0x80, 0x01, 1, 2, 3, 4 };
	struct frame_reader r;
	struct frame_packet pkt;
	struct got g;
	size_t used = 99;

	memset(&g, 0, sizeof(g));
	frame_reader_init(&r, I);
	feed(&r, in, sizeof(in), &g);
	ck_assert_int_eq(g.rc, FRAME_ERR_ALIGN);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.pkt[0].len, 4);
	ck_assert_mem_eq(g.pkt[0].data, in + 4, 4);
	/* The error stays: good bytes later are not read as a new frame. */
	ck_assert_int_eq(frame_reader_feed(&r, in, 8, &used, &pkt),
	    FRAME_ERR_ALIGN);
	ck_assert_uint_eq(used, 0);
	ck_assert_ptr_null(pkt.data);
	frame_reader_free(&r);

	/* Abridged: a zero length (with quick ack) after a packet. */
	memset(&g, 0, sizeof(g));
	frame_reader_init(&r, A);
	feed(&r, ab, sizeof(ab), &g);
	ck_assert_int_eq(g.rc, FRAME_ERR_ZERO);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_mem_eq(g.pkt[0].data, ab + 1, 4);
	frame_reader_free(&r);
}
END_TEST

/* The largest frame passes whole; one word more is refused at the header. */
START_TEST(reader_max_size)
{
	size_t total = 4 + FRAME_MAX_LEN, used;
	uint8_t *b = malloc(total), over[4];
	struct frame_reader r;
	struct frame_packet pkt;
	size_t i;

	ck_assert_ptr_nonnull(b);
	b[0] = FRAME_MAX_LEN & 0xff;
	b[1] = FRAME_MAX_LEN >> 8 & 0xff;
	b[2] = FRAME_MAX_LEN >> 16 & 0xff;
	b[3] = 0;
	for (i = 4; i < total; i++)
		b[i] = (uint8_t)(i * 7);
	frame_reader_init(&r, I);
	ck_assert_int_eq(frame_reader_feed(&r, b, total - 1, &used, &pkt), 0);
	ck_assert_uint_eq(used, total - 1);
	ck_assert_ptr_null(pkt.data);
	ck_assert_int_eq(frame_reader_feed(&r, b + total - 1, 1, &used, &pkt),
	    0);
	ck_assert_uint_eq(used, 1);
	ck_assert_ptr_nonnull(pkt.data);
	ck_assert_uint_eq(pkt.len, FRAME_MAX_LEN);
	ck_assert_mem_eq(pkt.data, b + 4, FRAME_MAX_LEN);
	frame_reader_free(&r);

	memcpy(over, b, 4);
	over[0] += 4;
	frame_reader_init(&r, I);
	ck_assert_int_eq(frame_reader_feed(&r, over, 4, &used, &pkt),
	    FRAME_ERR_TOO_LONG);
	frame_reader_free(&r);
	free(b);
}
END_TEST

START_TEST(reader_args)
{
	struct frame_reader r;
	struct frame_packet pkt;
	uint8_t b[1] = { 1 };
	size_t used;

	frame_reader_init(&r, A);
	ck_assert_int_eq(frame_reader_feed(NULL, b, 1, &used, &pkt),
	    FRAME_ERR_ARG);
	ck_assert_int_eq(frame_reader_feed(&r, NULL, 1, &used, &pkt),
	    FRAME_ERR_ARG);
	ck_assert_int_eq(frame_reader_feed(&r, b, 1, NULL, &pkt),
	    FRAME_ERR_ARG);
	ck_assert_int_eq(frame_reader_feed(&r, b, 1, &used, NULL),
	    FRAME_ERR_ARG);
	ck_assert_int_eq(frame_reader_feed(&r, NULL, 0, &used, &pkt), 0);
	ck_assert_uint_eq(used, 0);
	frame_reader_free(&r);
}
END_TEST

/* ---- answers towards the client ---- */

static const uint8_t ans_data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ans_rnd[4] = { 0x06, 0xa1, 0xa2, 0xa3 };

/* The same 8 bytes in each transport; padded takes 6 & 3 = 2 random bytes. */
START_TEST(answer_every_transport)
{
	static const uint8_t want[3][14] = {
		{ 0x02, 1, 2, 3, 4, 5, 6, 7, 8 },
		{ 0x08, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 },
		{ 0x0a, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xa1, 0xa2 },
	};
	static const size_t want_len[3] = { 9, 12, 14 };
	uint8_t out[FRAME_ANSWER_ROOM(8)];
	size_t len = 0;

	ck_assert_int_eq(frame_answer_encode((enum frame_transport)_i,
	    ans_data, sizeof(ans_data), ans_rnd, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, want_len[_i]);
	ck_assert_mem_eq(out, want[_i], len);
}
END_TEST

/* A long abridged answer takes the extended header. */
START_TEST(answer_abridged_long)
{
	static const uint8_t hdr[4] = { 0x7f, 0x00, 0x01, 0x00 };
	uint8_t data[1024], out[FRAME_ANSWER_ROOM(1024)];
	size_t len;

	memset(data, 0x5a, sizeof(data));
	ck_assert_int_eq(frame_answer_encode(A, data, sizeof(data), ans_rnd,
	    out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 4 + sizeof(data));
	ck_assert_mem_eq(out, hdr, 4);
	ck_assert_mem_eq(out + 4, data, sizeof(data));
}
END_TEST

/* Padded: rnd[0] & 3 bytes, each from rnd[1..3], counted in the header. */
START_TEST(answer_padding_bounds)
{
	uint8_t rnd[4] = { (uint8_t)_i, 0x11, 0x22, 0x33 };
	uint8_t out[FRAME_ANSWER_ROOM(8)];
	size_t len, pad = (size_t)_i & 3;

	ck_assert_int_eq(frame_answer_encode(P, ans_data, sizeof(ans_data),
	    rnd, out, sizeof(out), &len), 0);
	ck_assert_uint_eq(len, 4 + sizeof(ans_data) + pad);
	ck_assert_uint_eq(out[0], sizeof(ans_data) + pad);
	ck_assert_mem_eq(out + 4, ans_data, sizeof(ans_data));
	ck_assert_mem_eq(out + 4 + sizeof(ans_data), rnd + 1, pad);
}
END_TEST

/* No padding takes a frame past FRAME_MAX_LEN; past it nothing is built. */
START_TEST(answer_largest)
{
	static const uint8_t max_hdr[4] = { 0x00, 0xf0, 0x0f, 0x00 };
	uint8_t rnd[4] = { 3, 0xee, 0xee, 0xee }, *data, *out;
	size_t cap = FRAME_ANSWER_ROOM(FRAME_MAX_LEN + 4), len;

	data = calloc(1, FRAME_MAX_LEN + 4);
	out = malloc(cap);
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(frame_answer_encode(P, data, FRAME_MAX_LEN, rnd, out,
	    cap, &len), 0);
	ck_assert_uint_eq(len, 4 + FRAME_MAX_LEN);
	ck_assert_mem_eq(out, max_hdr, 4);
	ck_assert_int_eq(frame_answer_encode(P, data, FRAME_MAX_LEN - 2, rnd,
	    out, cap, &len), 0);
	ck_assert_uint_eq(len, 4 + FRAME_MAX_LEN);
	ck_assert_mem_eq(out, max_hdr, 4);
	ck_assert_mem_eq(out + 4 + FRAME_MAX_LEN - 2, rnd + 1, 2);
	ck_assert_int_eq(frame_answer_encode(I, data, FRAME_MAX_LEN, rnd, out,
	    cap, &len), 0);
	ck_assert_mem_eq(out, max_hdr, 4);
	ck_assert_int_eq(frame_answer_encode(I, data, FRAME_MAX_LEN + 4, rnd,
	    out, cap, &len), FRAME_ERR_TOO_LONG);
	ck_assert_int_eq(frame_answer_encode(P, data, FRAME_MAX_LEN + 1, rnd,
	    out, cap, &len), FRAME_ERR_TOO_LONG);
	free(data);
	free(out);
}
END_TEST

START_TEST(answer_errors)
{
	uint8_t out[FRAME_ANSWER_ROOM(8)];
	size_t len;

	ck_assert_int_eq(frame_answer_encode(I, ans_data, 6, ans_rnd, out,
	    sizeof(out), &len), FRAME_ERR_ALIGN);
	ck_assert_int_eq(frame_answer_encode(A, ans_data, 0, ans_rnd, out,
	    sizeof(out), &len), FRAME_ERR_ZERO);
	ck_assert_int_eq(frame_answer_encode(P, ans_data, 8, ans_rnd, out,
	    13, &len), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_answer_encode(I, ans_data, 8, ans_rnd, out,
	    11, &len), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_answer_encode(I, NULL, 8, ans_rnd, out,
	    sizeof(out), &len), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_answer_encode(I, ans_data, 8, NULL, out,
	    sizeof(out), &len), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_answer_encode((enum frame_transport)9,
	    ans_data, 8, ans_rnd, out, sizeof(out), &len), FRAME_ERR_ARG);
}
END_TEST

/* The confirm value's raw bytes: big-endian for abridged only. */
START_TEST(quickack_byte_order)
{
	static const uint8_t be[4] = { 0x81, 0x02, 0x03, 0x04 };
	static const uint8_t le[4] = { 0x04, 0x03, 0x02, 0x81 };
	uint8_t out[FRAME_QUICKACK_LEN];

	ck_assert_int_eq(frame_quickack_encode(A, 0x81020304u, out), 0);
	ck_assert_mem_eq(out, be, 4);
	ck_assert_int_eq(frame_quickack_encode(I, 0x81020304u, out), 0);
	ck_assert_mem_eq(out, le, 4);
	ck_assert_int_eq(frame_quickack_encode(P, 0x81020304u, out), 0);
	ck_assert_mem_eq(out, le, 4);
	ck_assert_int_eq(frame_quickack_encode((enum frame_transport)9, 1,
	    out), FRAME_ERR_ARG);
	ck_assert_int_eq(frame_quickack_encode(A, 1, NULL), FRAME_ERR_ARG);
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, decode, 0, NDECODE);
	tcase_add_test(tc, decode_ignores_body);
	tcase_add_loop_test(tc, encode, 0, NENCODE);
	tcase_add_loop_test(tc, roundtrip, FRAME_ABRIDGED, FRAME_PADDED + 1);
	tcase_add_test(tc, args);
	tcase_add_test(tc, tags_and_names);
	tcase_add_loop_test(tc, reader_split_everywhere, FRAME_ABRIDGED,
	    FRAME_PADDED + 1);
	tcase_add_loop_test(tc, reader_byte_by_byte, FRAME_ABRIDGED,
	    FRAME_PADDED + 1);
	tcase_add_test(tc, reader_bad_frame_ends_stream);
	tcase_add_test(tc, reader_max_size);
	tcase_add_test(tc, reader_args);
	tcase_add_loop_test(tc, answer_every_transport, FRAME_ABRIDGED,
	    FRAME_PADDED + 1);
	tcase_add_test(tc, answer_abridged_long);
	tcase_add_loop_test(tc, answer_padding_bounds, 0, 256);
	tcase_add_test(tc, answer_largest);
	tcase_add_test(tc, answer_errors);
	tcase_add_test(tc, quickack_byte_order);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return frame_suite();
}
