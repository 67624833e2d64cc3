/*
 * The input as the cover site's ServerHello message, as it comes and again
 * with its header made to fit (type 2, the input's length) so that the
 * fuzzer spends its time on the body. An accepted message has exactly the
 * length its header says, and cut by one byte (header fixed up again) it
 * is refused: the extensions must fill the message. faketls_server_hello_info
 * (the probe's and mtproxyd check's reading) agrees with it on every
 * input, and the share length it reports fits the message.
 */
#include <stdlib.h>
#include <string.h>

#include "faketls.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fit_header(uint8_t *m, size_t len)
{
	m[0] = TLS_HS_SERVER_HELLO;
	m[1] = (uint8_t)((len - TLS_HS_HEADER_LEN) >> 16);
	m[2] = (uint8_t)((len - TLS_HS_HEADER_LEN) >> 8);
	m[3] = (uint8_t)(len - TLS_HS_HEADER_LEN);
}

/* The same verdict; a HRR is the info's 0 with hrr set. */
static void
same_as_info(const uint8_t *m, size_t len, int rc, int vf)
{
	struct faketls_server_info si;
	int irc = faketls_server_hello_info(m, len, &si);

	if (rc == FAKETLS_ERR_HRR)
		fuzz_check(irc == 0 && si.hrr);
	else
		fuzz_check(irc == rc && (rc != 0 || (!si.hrr &&
		    si.versions_first == vf)));
	/* The share the probe copies lies inside the message. */
	fuzz_check(irc != 0 || si.share_len + TLS_HS_HEADER_LEN + 8 <= len);
}

static void
one(uint8_t *m, size_t len)
{
	int vf = -1, rc;

	rc = faketls_server_hello_parse(m, len, &vf);
	same_as_info(m, len, rc, vf);
	fuzz_check(rc == 0 || rc == FAKETLS_ERR_RECORD ||
	    rc == FAKETLS_ERR_HRR || rc == FAKETLS_ERR_VERSION ||
	    rc == FAKETLS_ERR_TRUNCATED || rc == FAKETLS_ERR_SESSION_ID ||
	    rc == FAKETLS_ERR_EXTENSIONS);
	fuzz_check(rc == 0 ? vf == 0 || vf == 1 : vf == -1);
	if (rc != 0)
		return;
	fuzz_check(len >= TLS_HS_HEADER_LEN && m[0] == TLS_HS_SERVER_HELLO &&
	    ((size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3]) ==
	    len - TLS_HS_HEADER_LEN);
	fit_header(m, len - 1);
	fuzz_check(faketls_server_hello_parse(m, len - 1, &vf) != 0);
	fit_header(m, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *m;

	if ((m = malloc(size + 1)) == NULL)
		return 0;
	memcpy(m, data, size);
	one(m, size);
	if (size >= TLS_HS_HEADER_LEN && size - TLS_HS_HEADER_LEN < 1 << 24) {
		memcpy(m, data, size);
		fit_header(m, size);
		one(m, size);
	}
	free(m);
	return 0;
}
