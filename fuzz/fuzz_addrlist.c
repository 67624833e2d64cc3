/*
 * An address list file (addrlist_parse): the input as the file. An accepted
 * list answers every probe address (windows of the input, as IPv4 and as
 * IPv6) as its lines one by one do: sorting, merging and the binary search
 * lose no range and invent none. A refused list names a line that exists.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "addrlist.h"
#include "fuzz.h"

#define MAX_LINES	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether any single line of the text holds sa. */
static int
any_line(const char *text, size_t size, const struct sockaddr *sa)
{
	struct addrlist_bad bad;
	struct addrlist *one;
	size_t a = 0, e;
	int hit = 0;

	while (a < size && !hit) {
		for (e = a; e < size && text[e] != '\n'; e++)
			;
		fuzz_check(addrlist_parse(text + a, e - a, &one, &bad) == 0);
		hit = addrlist_match(one, sa);
		addrlist_free(one);
		a = e + 1;
	}
	return hit;
}

static void
probe(const struct addrlist *l, const char *text, size_t size,
    const uint8_t *bytes)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	memcpy(&in.sin_addr, bytes, 4);
	fuzz_check(addrlist_match(l, (struct sockaddr *)&in) ==
	    any_line(text, size, (struct sockaddr *)&in));
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	memcpy(&in6.sin6_addr, bytes, 16);
	fuzz_check(addrlist_match(l, (struct sockaddr *)&in6) ==
	    any_line(text, size, (struct sockaddr *)&in6));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct addrlist_bad bad = { 0, 0, 0 };
	struct addrlist *l;
	size_t i, lines = 1;
	int rc;

	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (lines > MAX_LINES)
		return 0;
	rc = addrlist_parse(text, size, &l, &bad);
	if (rc != 0) {
		fuzz_check(rc == ADDRLIST_ERR_LINE);
		fuzz_check(bad.line >= 1 && bad.line <= lines);
		fuzz_check(bad.len > 0 && bad.off + bad.len <= size);
		return 0;
	}
	fuzz_check(addrlist_entries(l) < lines + 1);
	for (i = 0; i + 16 <= size; i += 7)
		probe(l, text, size, data + i);
	addrlist_free(l);
	return 0;
}
