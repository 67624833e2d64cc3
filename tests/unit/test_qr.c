/*
 * The link subcommand's codecs: a QR code drawn with half blocks holds
 * exactly libqrencode's modules inside a light quiet zone (zbarimg decodes
 * one in tests/integration/test_diag), and the clock check's Date header.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "ckmain.h"
#include "fetch.h"
#include "qr.h"
#include "qrtext.h"

START_TEST(qr_modules)
{
	static const char link[] = "https://t.me/proxy?server=proxy.example."
	    "com&port=443&secret=dd0123456789abcdef0123456789abcdef";
	static unsigned char mod[QRTEXT_SIDE_MAX][QRTEXT_SIDE_MAX];
	QRcode *q;
	char *text;
	int side, x, y, dark;

	ck_assert_int_eq(qr_render(link, &text), 0);
	ck_assert_int_eq(qrtext_modules(text, mod, &side), 0);
	q = QRcode_encodeString8bit(link, 0, QR_ECLEVEL_M);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(side, q->width + 2 * QR_QUIET);
	for (y = 0; y < side + (side & 1); y++)
		for (x = 0; x < side; x++) {
			dark = x >= QR_QUIET && y >= QR_QUIET &&
			    x < QR_QUIET + q->width && y < QR_QUIET + q->width &&
			    (q->data[(y - QR_QUIET) * q->width + x - QR_QUIET] &
			    1);
			ck_assert_msg(mod[y][x] == dark, "module %d,%d", x, y);
		}
	QRcode_free(q);
	free(text);
}
END_TEST

START_TEST(qr_too_long)
{
	char *big = malloc(8000), *text = NULL;

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 7999);
	big[7999] = '\0';
	ck_assert_int_eq(qr_render(big, &text), QR_ERR_TOOLONG);
	ck_assert_ptr_null(text);
	free(big);
}
END_TEST

START_TEST(date_header)
{
	static const char *const bad[] = { "", "Date:", "Date: \r\n",
	    "Dated: Sun, 06 Nov 1994 08:49:37 GMT", "Date: yesterday",
	    "Expires: Sun, 06 Nov 1994 08:49:37 GMT",
	    "Date: Sun, 06 Nov 1994 08:49:37 GMT                           "
	    "                 x" };
	time_t t = 0;
	size_t i;

	ck_assert_int_eq(fetch_date_header("Date: Sun, 06 Nov 1994 08:49:37 "
	    "GMT\r\n", 37, &t), 0);
	ck_assert_int_eq((long long)t, 784111777LL);
	t = 0;
	ck_assert_int_eq(fetch_date_header("date:Sun, 06 Nov 1994 08:49:38 GMT",
	    34, &t), 0);
	ck_assert_int_eq((long long)t, 784111778LL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(fetch_date_header(bad[i], strlen(bad[i]), &t) ==
		    FETCH_ERR, "accepted '%s'", bad[i]);
}
END_TEST

Suite *
ckmain_suite(void)
{
	Suite *s = suite_create("qr");
	TCase *tc = tcase_create("qr");

	tcase_add_test(tc, qr_modules);
	tcase_add_test(tc, qr_too_long);
	tcase_add_test(tc, date_header);
	suite_add_tcase(s, tc);
	return s;
}
