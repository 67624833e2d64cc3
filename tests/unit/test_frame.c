/* Transport frame headers (PROTOCOL.md 2.1-2.4): every branch, byte exact. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? 1 : 0;
}
