/*
 * A PROXY protocol header from a load balancer (proxyhdr_parse): the input
 * as the first bytes of a connection. An accepted header fits its version's
 * bounds, ends where the spec says, reads the same from its own bytes
 * alone, and its addresses survive a build and a parse; a short one is
 * never PROXYHDR_MAX bytes long.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "proto.h"
#include "proxyhdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

/* Built again from what it said, the header says the same. */
static void
check_rebuilt(const struct proxyhdr_info *info)
{
	unsigned char out[PROXYHDR_MAX];
	struct proxyhdr_info back;
	size_t len, used;

	fuzz_check(info->src.ss_family == info->dst.ss_family);
	fuzz_check(info->src.ss_family == AF_INET ||
	    info->src.ss_family == AF_INET6);
	fuzz_check(proxyhdr_build(info->version,
	    (const struct sockaddr *)&info->src,
	    (const struct sockaddr *)&info->dst, out, sizeof(out), &len) == 0);
	fuzz_check(proxyhdr_parse(out, len, &back, &used) == 0);
	fuzz_check(used == len && back.version == info->version && !back.local);
	fuzz_check(memcmp(&back.src, &info->src, addr_len(&info->src)) == 0);
	fuzz_check(memcmp(&back.dst, &info->dst, addr_len(&info->dst)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyhdr_info info, again;
	size_t used, used2;
	int rc = proxyhdr_parse(data, size, &info, &used);

	if (rc == PROXYHDR_ERR_SHORT)
		fuzz_check(size < PROXYHDR_MAX);
	if (rc != 0) {
		fuzz_check(rc == PROXYHDR_ERR_SHORT || rc == PROXYHDR_ERR_BAD);
		return 0;
	}
	fuzz_check(info.version == 1 || info.version == 2);
	if (info.version == 1)
		fuzz_check(used <= 107 && used <= size &&
		    memcmp(data + used - 2, "\r\n", 2) == 0);
	else
		fuzz_check(used == PROXYHDR_V2_FIXED_LEN +
		    ((size_t)data[14] << 8 | data[15]));
	if (used <= size) {
		fuzz_check(proxyhdr_parse(data, used, &again, &used2) == 0);
		fuzz_check(used2 == used && again.local == info.local);
	}
	if (!info.local)
		check_rebuilt(&info);
	return 0;
}
