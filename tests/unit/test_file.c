/*
 * Whole-file reads and full writes: a file exactly at the cap is read
 * byte for byte with a NUL after it, one byte over is refused, an empty
 * file is an empty string, a missing file keeps open's errno, and neither
 * a directory nor a FIFO is read (the FIFO without waiting for a writer).
 * Writes go through a stub of write(2) (the test links with
 * -Wl,--wrap=write): short writes and EINTR still deliver every byte, and
 * a write that takes nothing fails with EIO instead of looping forever.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckmain.h"
#include "file.h"

#define CAP		4096
#define SHORT		7	/* bytes the stub lets through per call */
#define STUB_CALLS_MAX	100000	/* a loop that never ends, ended */

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);

static enum { STUB_OFF, STUB_SHORT, STUB_EINTR, STUB_ZERO } stub;
static int stub_fd = -1;
static int stub_calls;

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	if (stub == STUB_OFF || fd != stub_fd)
		return __real_write(fd, buf, len);
	if (++stub_calls > STUB_CALLS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	switch (stub) {
	case STUB_SHORT:
		return __real_write(fd, buf, len < SHORT ? len : SHORT);
	case STUB_EINTR:
		if (stub_calls == 1) {
			errno = EINTR;
			return -1;
		}
		return __real_write(fd, buf, len);
	default:
		return 0;
	}
}

static char dir[] = "/tmp/test_file.XXXXXX";
static char path[PATH_MAX];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
}

static void
teardown(void)
{
	unlink(path);
	rmdir(dir);
}

/* n bytes that are not text: NULs and every other value. */
static void
pattern(char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(i * 7 + i / 256);
}

static void
make_file(size_t n)
{
	char *p = malloc(n + 1);
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(f);
	pattern(p, n);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
	free(p);
}

START_TEST(read_at_cap)
{
	char want[CAP], *out = NULL;
	size_t len = 0;

	make_file(CAP);
	pattern(want, CAP);
	ck_assert_int_eq(file_read(path, 0, CAP, &out, &len), 0);
	ck_assert_uint_eq(len, CAP);
	ck_assert_mem_eq(out, want, CAP);
	ck_assert_int_eq(out[CAP], '\0');
	free(out);
}
END_TEST

START_TEST(read_over_cap)
{
	char *out = (char *)1;
	size_t len = 1;

	make_file(CAP + 1);
	ck_assert_int_eq(file_read(path, 0, CAP, &out, &len), FILE_ERR_BIG);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
	make_file(4 * CAP);
	ck_assert_int_eq(file_read(path, 0, CAP, &out, &len), FILE_ERR_BIG);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(read_empty)
{
	char *out = NULL;
	size_t len = 1;

	make_file(0);
	ck_assert_int_eq(file_read(path, 0, CAP, &out, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(out[0], '\0');
	free(out);
}
END_TEST

START_TEST(read_missing)
{
	char *out = (char *)1;
	size_t len = 1;

	errno = 0;
	ck_assert_int_eq(file_read(path, 0, CAP, &out, &len), FILE_ERR_OPEN);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(out);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(read_symlink_nofollow)
{
	char link[PATH_MAX + 8], *out = NULL;
	size_t len;

	make_file(10);
	snprintf(link, sizeof(link), "%s/l", dir);
	ck_assert_int_eq(symlink(path, link), 0);
	errno = 0;
	ck_assert_int_eq(file_read(link, O_NOFOLLOW, CAP, &out, &len),
	    FILE_ERR_OPEN);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(file_read(link, 0, CAP, &out, &len), 0);
	ck_assert_uint_eq(len, 10);
	free(out);
	unlink(link);
}
END_TEST

/* A FIFO with no writer: refused at once, not waited on. */
START_TEST(read_not_regular)
{
	char *out = (char *)1;
	size_t len;

	ck_assert_int_eq(file_read(dir, 0, CAP, &out, &len), FILE_ERR_TYPE);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(file_read(path, 0, CAP, &out, &len), FILE_ERR_TYPE);
	ck_assert_ptr_null(out);
}
END_TEST

/* len bytes through file_write_all into a pipe, read back and compared. */
static void
write_through(int mode, size_t n, int calls)
{
	char *src = malloc(n), *got = malloc(n);
	size_t off = 0;
	ssize_t r;
	int p[2];

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(got);
	pattern(src, n);
	ck_assert_int_eq(pipe(p), 0);
	stub = mode;
	stub_fd = p[1];
	ck_assert_int_eq(file_write_all(p[1], src, n), 0);
	stub = STUB_OFF;
	ck_assert_int_eq(stub_calls, calls);
	close(p[1]);
	while ((r = read(p[0], got + off, n - off)) > 0)
		off += (size_t)r;
	ck_assert_uint_eq(off, n);
	ck_assert_mem_eq(got, src, n);
	close(p[0]);
	free(src);
	free(got);
}

START_TEST(write_short)
{
	write_through(STUB_SHORT, 1000, (1000 + SHORT - 1) / SHORT);
}
END_TEST

START_TEST(write_eintr)
{
	write_through(STUB_EINTR, 1000, 2);
}
END_TEST

START_TEST(write_zero)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	stub = STUB_ZERO;
	stub_fd = p[1];
	errno = 0;
	ck_assert_int_eq(file_write_all(p[1], "abc", 3), FILE_ERR_IO);
	stub = STUB_OFF;
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(stub_calls, 1);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(write_error)
{
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	errno = 0;
	ck_assert_int_eq(file_write_all(p[0], "abc", 3), FILE_ERR_IO);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(file_write_all(p[1], "", 0), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *
file_suite(void)
{
	Suite *s = suite_create("file");
	TCase *r = tcase_create("read"), *w = tcase_create("write");

	tcase_add_checked_fixture(r, setup, teardown);
	tcase_add_test(r, read_at_cap);
	tcase_add_test(r, read_over_cap);
	tcase_add_test(r, read_empty);
	tcase_add_test(r, read_missing);
	tcase_add_test(r, read_symlink_nofollow);
	tcase_add_test(r, read_not_regular);
	tcase_add_test(w, write_short);
	tcase_add_test(w, write_eintr);
	tcase_add_test(w, write_zero);
	tcase_add_test(w, write_error);
	suite_add_tcase(s, r);
	suite_add_tcase(s, w);
	return s;
}

Suite *
ckmain_suite(void)
{
	return file_suite();
}
