/*
 * The input as state_dir/quota.state. A refusal names a line of the text
 * in one line of message and returns nothing; an accepted table has valid,
 * distinct names, and store_format writes a text that store_parse reads
 * back as the same table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_refusal(const char *text, size_t size, const char *err)
{
	size_t i, lines = 1;
	unsigned long line;
	int used = 0;

	for (i = 0; i < size; i++)
		lines += text[i] == '\n';
	fuzz_check(sscanf(err, "line %lu: %n", &line, &used) == 1 &&
	    used > 0);
	fuzz_check(line >= 1 && line <= lines + 1);
	fuzz_check(err[used] != '\0' && strchr(err, '\n') == NULL);
}

static void
check_table(const struct store_entry *e, size_t n)
{
	struct store_entry *back;
	char *text, err[256];
	size_t len, nback, i;

	fuzz_check(n <= STORE_MAX_ENTRIES && (n == 0) == (e == NULL));
	for (i = 0; i < n; i++)
		fuzz_check(store_name_valid(e[i].name));
	fuzz_check(store_format(e, n, &text, &len, err, sizeof(err)) == 0);
	fuzz_check(strlen(text) == len);
	fuzz_check(store_parse(text, len, &back, &nback, err,
	    sizeof(err)) == 0 && nback == n);
	for (i = 0; i < n; i++)
		fuzz_check(strcmp(back[i].name, e[i].name) == 0 &&
		    back[i].used == e[i].used &&
		    back[i].period_start == e[i].period_start);
	free(back);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_entry *e = (void *)1;
	const char *text = (const char *)data;
	char err[256] = "";
	size_t n = 7;

	if (store_parse(text, size, &e, &n, err, sizeof(err)) != 0) {
		fuzz_check(e == NULL && n == 0);
		check_refusal(text, size, err);
		return 0;
	}
	check_table(e, n);
	free(e);
	return 0;
}
