/*
 * Quota state in state_dir/quota.state: 10,000 users (and the extreme
 * values) saved and loaded back field for field in the exact text format;
 * a missing file or directory is an empty table; every corrupt form and a
 * file cut at any byte is refused with the file and the line named; a
 * save that fails (the temporary file's name taken by a directory, the
 * write cut short by RLIMIT_FSIZE, state_dir a file, a bad table) leaves
 * the old file byte for byte and no temporary file; a writer killed with
 * SIGKILL at random moments always leaves one whole table or the other.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckmain.h"
#include "file.h"
#include "store.h"
#include "tclock.h"
#include "tfile.h"

#define MANY		10000
#define KILL_ROUNDS	20
#define KILL_A		1000	/* the two tables the killed writer saves */
#define KILL_B		2000
#define FILE_MAX	(4 * 1024 * 1024)

static char dir[] = "/tmp/test_store.XXXXXX";
static char path[PATH_MAX], tmp[PATH_MAX];
static char err[512];

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, STORE_TMP_FILE);
	err[0] = '\0';
}

static void
teardown(void)
{
	tfile_rm_tree(dir);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

static struct store *
open_store(const char *state_dir)
{
	struct store *s;

	ck_assert_int_eq(store_open_local(state_dir, &s, err, sizeof(err)), 0);
	return s;
}

/* n entries named u00000.., with values that differ per entry. */
static struct store_entry *
table(size_t n, uint64_t salt)
{
	struct store_entry *e = calloc(n, sizeof(*e));
	size_t i;

	ck_assert_ptr_nonnull(e);
	for (i = 0; i < n; i++) {
		snprintf(e[i].name, sizeof(e[i].name), "u%05zu", i);
		e[i].used = (i + salt) * 0x9E3779B97F4A7C15ULL;
		e[i].period_start = (int64_t)(i * 86400) - 1000 * 86400;
	}
	return e;
}

static void
assert_same(const struct store_entry *a, size_t na,
    const struct store_entry *b, size_t nb)
{
	size_t i;

	ck_assert_uint_eq(na, nb);
	for (i = 0; i < na; i++) {
		ck_assert_str_eq(a[i].name, b[i].name);
		ck_assert_msg(a[i].used == b[i].used &&
		    a[i].period_start == b[i].period_start, "entry %zu", i);
	}
}

static char *
read_all(const char *p, size_t *len)
{
	char *text;

	ck_assert_int_eq(file_read(p, 0, FILE_MAX, &text, len), 0);
	return text;
}

START_TEST(round_trip_many)
{
	struct store *s = open_store(dir);
	struct store_entry *e = table(MANY, 7), *got = NULL;
	struct stat st;
	char *text;
	size_t n = 0, len;
	static const char head[] = "mtproxyd-quota 1\n"
	    "u00000 18446744073709551615 -86400000\nu00001 ";
	static const char tail[] = "\nend 10000\n";

	/* The ends of both ranges and every character a name may hold. */
	e[0].used = UINT64_MAX;
	e[1].period_start = INT64_MIN;
	e[2].period_start = INT64_MAX;
	e[3].used = 0;
	snprintf(e[4].name, sizeof(e[4].name), "%s",
	    "AZaz09_.-AZaz09_.-AZaz09_.-AZaz09_.-AZaz09_.-AZaz09_.-AZaz09_.-");
	ck_assert_uint_eq(strlen(e[4].name), STORE_NAME_MAX - 1);
	snprintf(e[5].name, sizeof(e[5].name), "end");
	ck_assert_int_eq(store_save(s, e, MANY, err, sizeof(err)), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	assert_same(e, MANY, got, n);

	text = read_all(path, &len);
	ck_assert_int_eq(strncmp(text, head, strlen(head)), 0);
	ck_assert(strstr(text, "\nu00001 ") != NULL &&
	    strstr(text, " -9223372036854775808\nu00002 ") != NULL &&
	    strstr(text, " 9223372036854775807\nu00003 0 ") != NULL &&
	    strstr(text, "\nend ") != NULL);
	ck_assert_int_eq(memcmp(text + len - strlen(tail), tail, strlen(tail)),
	    0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	free(text);
	free(got);
	free(e);
	store_close(s);
}
END_TEST

START_TEST(missing_is_empty)
{
	char sub[PATH_MAX];
	struct store *s;
	struct store_entry *got = (void *)1;
	size_t n = 5;

	s = open_store(dir);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	ck_assert(got == NULL && n == 0);
	store_close(s);

	/* state_dir itself missing: empty too, and the save makes it. */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	s = open_store(sub);
	got = (void *)1;
	n = 5;
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	ck_assert(got == NULL && n == 0);
	ck_assert_int_eq(store_save(s, NULL, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	ck_assert(got == NULL && n == 0);
	store_close(s);
}
END_TEST

START_TEST(empty_table_text)
{
	struct store *s = open_store(dir);
	char *text;
	size_t len;

	ck_assert_int_eq(store_save(s, NULL, 0, err, sizeof(err)), 0);
	text = read_all(path, &len);
	ck_assert_str_eq(text, "mtproxyd-quota 1\nend 0\n");
	free(text);
	store_close(s);
}
END_TEST

struct corrupt {
	const char *text;
	size_t len;	/* 0: strlen */
	int line;
};

#define H	"mtproxyd-quota 1\n"
static const struct corrupt corrupt[] = {
	{ "", 0, 1 },
	{ "garbage", 0, 1 },
	{ "mtproxyd-quota 1", 0, 1 },
	{ "mtproxyd-quota 2\nend 0\n", 0, 1 },
	{ "mtproxyd-quota 1 \nend 0\n", 0, 1 },
	{ H, 0, 2 },
	{ H "alice 1 2\n", 0, 3 },
	{ H "alice 1 2\nbob 3", 0, 3 },
	{ H "alice 1 2\nend 1", 0, 3 },
	{ H "alice 1 2\nend 2\n", 0, 3 },
	{ H "alice 1 2\nend 0\n", 0, 3 },
	{ H "alice 1 2\nend x\n", 0, 3 },
	{ H "alice 1 2\nend 1\nbob 1 2\n", 0, 4 },
	{ H "alice 1 2\nend 1\n\n", 0, 4 },
	{ H "\nend 0\n", 0, 2 },
	{ H "al/ice 1 2\nend 1\n", 0, 2 },
	{ H "al ice 1 2\nend 1\n", 0, 2 },
	{ H " 1 2\nend 1\n", 0, 2 },
	{ H "alice 1\nend 1\n", 0, 2 },
	{ H "alice\nend 1\n", 0, 2 },
	{ H "alice  1 2\nend 1\n", 0, 2 },
	{ H "alice 1 2 \nend 1\n", 0, 2 },
	{ H "alice 1 2\r\nend 1\n", 0, 2 },
	{ H "alice -1 2\nend 1\n", 0, 2 },
	{ H "alice +1 2\nend 1\n", 0, 2 },
	{ H "alice 1 +2\nend 1\n", 0, 2 },
	{ H "alice 1 -\nend 1\n", 0, 2 },
	{ H "alice 1 0x2\nend 1\n", 0, 2 },
	{ H "alice 18446744073709551616 2\nend 1\n", 0, 2 },
	{ H "alice 1 9223372036854775808\nend 1\n", 0, 2 },
	{ H "alice 1 -9223372036854775809\nend 1\n", 0, 2 },
	{ H "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	    "abcd 1 2\nend 1\n", 0, 2 },
	{ H "al\0ce 1 2\nend 1\n", sizeof(H "al\0ce 1 2\nend 1\n") - 1, 2 },
	{ H "alice 1 2\nbob 3 4\nalice 5 6\nend 3\n", 0, 4 },
	{ H "bob 3 4\nalice 1 2\ncarol 0 0\nbob 5 6\nend 4\n", 0, 5 },
};

/* The load is refused with "PATH: line N: " and a reason. */
static void
assert_refused_at(struct store *s, int line)
{
	struct store_entry *got = (void *)1;
	size_t n = 5;
	char want[PATH_MAX + 32];

	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), STORE_ERR);
	ck_assert(got == NULL && n == 0);
	snprintf(want, sizeof(want), "%s: line %d: ", path, line);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 &&
	    strlen(err) > strlen(want) + 8 && strchr(err, '\n') == NULL,
	    "'%s', expected '%s...'", err, want);
}

START_TEST(corrupt_refused)
{
	const struct corrupt *c = &corrupt[_i];
	struct store *s = open_store(dir);

	ck_assert_int_eq(tfile_write(path, c->text, c->len != 0 ? c->len :
	    strlen(c->text)), 0);
	assert_refused_at(s, c->line);
	store_close(s);
}
END_TEST

/* The forms that look odd but are whole: a user named end, -2^63. */
START_TEST(odd_but_whole)
{
	static const char text[] = H "end 1 2\nx 0 -9223372036854775808\n"
	    "y 007 -0\nend 3\n";
	struct store *s = open_store(dir);
	struct store_entry *got;
	size_t n;

	ck_assert_int_eq(tfile_write(path, text, strlen(text)), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(got[0].name, "end");
	ck_assert(got[0].used == 1 && got[0].period_start == 2);
	ck_assert_str_eq(got[1].name, "x");
	ck_assert(got[1].used == 0 && got[1].period_start == INT64_MIN);
	ck_assert_str_eq(got[2].name, "y");
	ck_assert(got[2].used == 7 && got[2].period_start == 0);
	free(got);
	store_close(s);
}
END_TEST

/* A saved file cut at every byte is refused; only the whole is read. */
START_TEST(cut_anywhere_refused)
{
	struct store *s = open_store(dir);
	struct store_entry *e = table(3, 1), *got;
	char *text, want[PATH_MAX + 16];
	size_t len, cut, n;

	ck_assert_int_eq(store_save(s, e, 3, err, sizeof(err)), 0);
	text = read_all(path, &len);
	for (cut = 0; cut < len; cut++) {
		ck_assert_int_eq(tfile_write(path, text, cut), 0);
		ck_assert_msg(store_load(s, &got, &n, err, sizeof(err)) ==
		    STORE_ERR, "cut at %zu accepted", cut);
		snprintf(want, sizeof(want), "%s: line ", path);
		ck_assert_int_eq(strncmp(err, want, strlen(want)), 0);
	}
	ck_assert_int_eq(tfile_write(path, text, len), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	assert_same(e, 3, got, n);
	free(got);
	free(text);
	free(e);
	store_close(s);
}
END_TEST

/* The file as it was before a save that failed, and no temporary. */
static void
assert_unchanged(const char *before, size_t before_len)
{
	char *text;
	size_t len;

	text = read_all(path, &len);
	ck_assert_uint_eq(len, before_len);
	ck_assert_int_eq(memcmp(text, before, len), 0);
	free(text);
}

START_TEST(bad_table_not_saved)
{
	struct store *s = open_store(dir);
	struct store_entry *e = table(4, 3);
	char *before;
	size_t len;

	ck_assert_int_eq(store_save(s, e, 4, err, sizeof(err)), 0);
	before = read_all(path, &len);
	snprintf(e[2].name, sizeof(e[2].name), "a b");
	ck_assert_int_eq(store_save(s, e, 4, err, sizeof(err)), STORE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "user 2: expected a name"));
	e[2].name[0] = '\0';
	ck_assert_int_eq(store_save(s, e, 4, err, sizeof(err)), STORE_ERR);
	memset(e[2].name, 'a', sizeof(e[2].name));	/* no NUL */
	ck_assert_int_eq(store_save(s, e, 4, err, sizeof(err)), STORE_ERR);
	snprintf(e[2].name, sizeof(e[2].name), "u00000");
	ck_assert_int_eq(store_save(s, e, 4, err, sizeof(err)), STORE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "user u00000 twice"));
	ck_assert_int_eq(store_save(s, e, STORE_MAX_ENTRIES + 1, err,
	    sizeof(err)), STORE_ERR);
	assert_unchanged(before, len);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	free(before);
	free(e);
	store_close(s);
}
END_TEST

/* The temporary file cannot be made: its name is a directory's. */
START_TEST(tmp_blocked_keeps_old)
{
	struct store *s = open_store(dir);
	struct store_entry *e = table(5, 1), *got;
	char *before, want[PATH_MAX + 32];
	size_t len, n;

	ck_assert_int_eq(store_save(s, e, 5, err, sizeof(err)), 0);
	before = read_all(path, &len);
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	e[0].used = 99;
	ck_assert_int_eq(store_save(s, e, 5, err, sizeof(err)), STORE_ERR);
	snprintf(want, sizeof(want), "cannot write %s: ", path);
	ck_assert_int_eq(strncmp(err, want, strlen(want)), 0);
	assert_unchanged(before, len);
	ck_assert_int_eq(rmdir(tmp), 0);
	/* The next save goes through. */
	ck_assert_int_eq(store_save(s, e, 5, err, sizeof(err)), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), 0);
	assert_same(e, 5, got, n);
	free(got);
	free(before);
	free(e);
	store_close(s);
}
END_TEST

/* A temporary file left by a save that was killed, longer than the next
 * table, is overwritten from its start: no stale tail. */
START_TEST(stale_tmp_replaced)
{
	struct store *s = open_store(dir);
	char junk[8192];
	char *text;
	size_t len;

	memset(junk, 'j', sizeof(junk));
	ck_assert_int_eq(tfile_write(tmp, junk, sizeof(junk)), 0);
	ck_assert_int_eq(store_save(s, NULL, 0, err, sizeof(err)), 0);
	text = read_all(path, &len);
	ck_assert_str_eq(text, "mtproxyd-quota 1\nend 0\n");
	ck_assert_int_eq(access(tmp, F_OK), -1);
	free(text);
	store_close(s);
}
END_TEST

/* The write fails midway (EFBIG past RLIMIT_FSIZE): the old file stays
 * byte for byte and the partial temporary file is gone. */
START_TEST(write_cut_short_keeps_old)
{
	struct store *s = open_store(dir);
	struct store_entry *e = table(MANY, 2);
	struct rlimit old, lim;
	char *before, *text;
	size_t len, tlen;

	ck_assert_int_eq(store_save(s, e, 10, err, sizeof(err)), 0);
	before = read_all(path, &len);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 4096;
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(store_save(s, e, MANY, err, sizeof(err)), STORE_ERR);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	ck_assert_ptr_nonnull(strstr(err, strerror(EFBIG)));
	assert_unchanged(before, len);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* The table was big enough to be cut. */
	ck_assert_int_eq(store_format(e, MANY, &text, &tlen, err, sizeof(err)),
	    0);
	ck_assert_uint_gt(tlen, 4096);
	free(text);
	free(before);
	free(e);
	store_close(s);
}
END_TEST

START_TEST(state_dir_not_a_dir)
{
	char file[PATH_MAX];
	struct store *s;
	struct store_entry *got;
	size_t n;

	snprintf(file, sizeof(file), "%s/plain", dir);
	ck_assert_int_eq(tfile_write(file, "x", 1), 0);
	s = open_store(file);
	ck_assert_int_eq(store_save(s, NULL, 0, err, sizeof(err)), STORE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "cannot write"));
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), STORE_ERR);
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOTDIR)));
	store_close(s);
}
END_TEST

START_TEST(not_a_regular_file)
{
	struct store *s = open_store(dir);
	struct store_entry *got;
	size_t n;

	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), STORE_ERR);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_int_eq(rmdir(path), 0);
	/* A link is not followed. */
	ck_assert_int_eq(symlink("/etc/hostname", path), 0);
	ck_assert_int_eq(store_load(s, &got, &n, err, sizeof(err)), STORE_ERR);
	ck_assert_ptr_nonnull(strstr(err, strerror(ELOOP)));
	store_close(s);
}
END_TEST

START_TEST(open_refuses_bad_dir)
{
	char longdir[PATH_MAX + 1];
	struct store *s = (void *)1;

	ck_assert_int_eq(store_open_local("", &s, err, sizeof(err)),
	    STORE_ERR);
	ck_assert_ptr_null(s);
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = '\0';
	longdir[PATH_MAX - 12] = '\0';	/* fits alone, not with the file */
	ck_assert_int_eq(store_open_local(longdir, &s, err, sizeof(err)),
	    STORE_ERR);
	ck_assert_int_eq(strncmp(err, "[server] state_dir = 'ddd", 25), 0);
	store_close(NULL);
}
END_TEST

START_TEST(names)
{
	static const char *const good[] = {
		"a", "Z", "0", "_", ".", "-", "alice.smith-2_x",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc",
	};
	static const char *const bad[] = {
		"", " ", "a b", "a/b", "a:b", "a\tb", "\xc3\xa9", "a\n",
		"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(store_name_valid(good[i]), "%s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!store_name_valid(bad[i]), "%s", bad[i]);
}
END_TEST

/* Saves table A then B forever, until killed. */
static void
writer(const struct store_entry *a, const struct store_entry *b)
{
	struct store *s;
	char e[256];

	if (store_open_local(dir, &s, e, sizeof(e)) != 0)
		_exit(1);
	for (;;) {
		if (store_save(s, a, KILL_A, e, sizeof(e)) != 0 ||
		    store_save(s, b, KILL_B, e, sizeof(e)) != 0)
			_exit(1);
	}
}

/*
 * SIGKILL at any moment of a save: rename replaces the file in one step,
 * so a load afterwards reads all of table A or all of table B.
 */
START_TEST(sigkill_leaves_whole_table)
{
	struct store_entry *a = table(KILL_A, 1), *b = table(KILL_B, 2), *got;
	struct store *s = open_store(dir);
	int round, status, seen_a = 0, seen_b = 0;
	size_t n;
	pid_t pid;

	ck_assert_int_eq(store_save(s, a, KILL_A, err, sizeof(err)), 0);
	for (round = 0; round < KILL_ROUNDS; round++) {
		ck_assert_int_ge(pid = fork(), 0);
		if (pid == 0)
			writer(a, b);
		tclock_sleep_ms(5 + round % 7);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		ck_assert_msg(store_load(s, &got, &n, err, sizeof(err)) == 0,
		    "round %d: %s", round, err);
		if (n == KILL_A) {
			assert_same(a, KILL_A, got, n);
			seen_a++;
		} else {
			assert_same(b, KILL_B, got, n);
			seen_b++;
		}
		free(got);
	}
	ck_assert_int_eq(seen_a + seen_b, KILL_ROUNDS);
	free(a);
	free(b);
	store_close(s);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip_many);
	tcase_add_test(tc, missing_is_empty);
	tcase_add_test(tc, empty_table_text);
	tcase_add_loop_test(tc, corrupt_refused, 0,
	    (int)(sizeof(corrupt) / sizeof(corrupt[0])));
	tcase_add_test(tc, odd_but_whole);
	tcase_add_test(tc, cut_anywhere_refused);
	tcase_add_test(tc, bad_table_not_saved);
	tcase_add_test(tc, tmp_blocked_keeps_old);
	tcase_add_test(tc, stale_tmp_replaced);
	tcase_add_test(tc, write_cut_short_keeps_old);
	tcase_add_test(tc, state_dir_not_a_dir);
	tcase_add_test(tc, not_a_regular_file);
	tcase_add_test(tc, open_refuses_bad_dir);
	tcase_add_test(tc, names);
	tcase_add_test(tc, sigkill_leaves_whole_table);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return store_suite();
}
