/*
 * A SOCKS5 server's answers as socks5io reads them: the input's first
 * bytes as a method choice and an RFC 1929 status, then the whole input as
 * a CONNECT reply, its length taken from its head as socks5io takes it.
 * An accepted choice is one offered; a reply parses only at the length its
 * head gives, which is within the bounds of the buffers, and its fields are
 * the input's bytes.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_method(const uint8_t *in)
{
	uint8_t m;
	int userpass;

	for (userpass = 0; userpass < 2; userpass++) {
		if (socks5_method_parse(in, userpass, &m) != 0)
			continue;
		fuzz_check(in[0] == 5 && m == in[1]);
		fuzz_check(m == SOCKS5_METHOD_NONE ||
		    (userpass && m == SOCKS5_METHOD_USERPASS));
	}
	if (socks5_auth_parse(in) == 0)
		fuzz_check(in[0] == 1 && in[1] == 0);
}

static void
check_reply(const uint8_t *in, size_t size)
{
	struct socks5_reply r;
	size_t len;
	int rc;

	if (socks5_reply_len(in, &len) != 0) {
		fuzz_check(socks5_reply_parse(in, size, &r) != 0);
		return;
	}
	fuzz_check(len >= 7 && len <= SOCKS5_REPLY_MAX);
	rc = socks5_reply_parse(in, size, &r);
	fuzz_check((rc == 0) == (size == len));
	if (rc != 0)
		return;
	fuzz_check(r.rep == in[1] && r.atyp == in[3]);
	fuzz_check(r.addrlen == len - 6 - (r.atyp == SOCKS5_ATYP_DOMAIN));
	fuzz_check(memcmp(r.addr, in + len - 2 - r.addrlen, r.addrlen) == 0);
	fuzz_check(r.port == (in[len - 2] << 8 | in[len - 1]));
	fuzz_check(socks5_rep_name(r.rep)[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= SOCKS5_METHOD_LEN)
		check_method(data);
	if (size >= SOCKS5_REPLY_HEAD)
		check_reply(data, size);
	return 0;
}
