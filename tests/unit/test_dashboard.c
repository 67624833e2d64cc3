/*
 * contrib/grafana/mtproxyd.json: valid JSON (python3 -m json.tool), and
 * every mtproxyd_ series its queries name is one the daemon writes, as
 * metrics_write renders them in direct and in middle mode. A renamed
 * series fails here rather than leave a panel silently empty.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckmain.h"
#include "config.h"
#include "itest.h"
#include "metrics.h"
#include "stats.h"

#define DASHBOARD	"contrib/grafana/mtproxyd.json"
#define CMD_MAX		(PATH_MAX + 64)
#define NAME_MAX_LEN	128
#define MIN_NAMES	15	/* the dashboard's distinct series, at least */

/* Each series name in any query string of the dashboard, once a line. */
static const char names_py[] =
    "import json, re, sys\n"
    "def walk(v):\n"
    "    if isinstance(v, dict):\n"
    "        for k, x in v.items():\n"
    "            if k in ('expr', 'query', 'definition') and "
    "isinstance(x, str):\n"
    "                yield x\n"
    "            else:\n"
    "                yield from walk(x)\n"
    "    elif isinstance(v, list):\n"
    "        for x in v:\n"
    "            yield from walk(x)\n"
    "names = set()\n"
    "for q in walk(json.load(open(sys.argv[1]))):\n"
    "    names.update(re.findall(r'mtproxyd_[a-z0-9_]+', q))\n"
    "print('\\n'.join(sorted(names)))\n";

static struct config cfg;
static struct stats st;

/*
 * metrics_write in direct mode, then in middle mode, as one text; every
 * per-user family is written (with no user, its header alone).
 */
static char *
exposition(void)
{
	struct wallclock clk;
	atomic_llong active;
	struct metrics_view v = { &cfg, &st, &active, NULL, &clk };
	char *body = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&body, &len);

	ck_assert_ptr_nonnull(out);
	atomic_init(&active, 0);
	ck_assert_int_eq(wallclock_init(&clk, NULL, NULL, 0), 0);
	config_defaults(&cfg);
	ck_assert_int_eq(stats_init(&st), 0);
	ck_assert_int_eq(metrics_write(&v, out), 0);
	cfg.mode = CONFIG_MODE_MIDDLE;
	ck_assert_int_eq(metrics_write(&v, out), 0);
	ck_assert_int_eq(fclose(out), 0);
	return body;
}

/* name is a family of text ("# TYPE family kind"), or a histogram's part. */
static int
exported(const char *text, const char *name)
{
	static const char *const parts[] = { "_bucket", "_sum", "_count" };
	char want[NAME_MAX_LEN + 16];
	size_t i, n = strlen(name);

	snprintf(want, sizeof(want), "# TYPE %s ", name);
	if (strstr(text, want) != NULL)
		return 1;
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		size_t k = strlen(parts[i]);

		if (n > k && strcmp(name + n - k, parts[i]) == 0) {
			snprintf(want, sizeof(want), "# TYPE %.*s histogram\n",
			    (int)(n - k), name);
			if (strstr(text, want) != NULL)
				return 1;
		}
	}
	return 0;
}

START_TEST(series_exist)
{
	const char *src = getenv("MTPROXYD_SRCDIR");
	char path[PATH_MAX], cmd[CMD_MAX], *text, *names, *name, *save;
	FILE *p;
	int n = 0;

	if (system("python3 -c '' >/dev/null 2>&1") != 0) {
		itest_skip("no python3: the dashboard is not checked");
		return;
	}
	snprintf(path, sizeof(path), "%s/" DASHBOARD, src ? src : ".");
	snprintf(cmd, sizeof(cmd), "python3 -m json.tool '%s' >/dev/null",
	    path);
	ck_assert_msg(system(cmd) == 0, "%s is not valid JSON", path);
	ck_assert_int_eq(setenv("NAMES_PY", names_py, 1), 0);
	snprintf(cmd, sizeof(cmd), "python3 -c \"$NAMES_PY\" '%s'", path);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	names = itest_read_fd(fileno(p));
	ck_assert_int_eq(pclose(p), 0);
	text = exposition();
	for (name = strtok_r(names, "\n", &save); name != NULL;
	    name = strtok_r(NULL, "\n", &save), n++)
		ck_assert_msg(exported(text, name), "the dashboard queries %s,"
		    " which mtproxyd does not write", name);
	ck_assert_int_ge(n, MIN_NAMES);
	free(text);
	free(names);
}
END_TEST

static Suite *
dashboard_suite(void)
{
	Suite *s = suite_create("dashboard");
	TCase *tc = tcase_create("dashboard");

	tcase_add_test(tc, series_exist);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
ckmain_suite(void)
{
	return dashboard_suite();
}
