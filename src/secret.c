/*
 * Secrets in the forms clients paste (doc/PROTOCOL.md 2.3, 3): a 16-byte key in
 * hex, with a "dd" prefix for padded intermediate or an "ee" prefix and a hex
 * domain for fake-TLS.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "secret.h"

#define KEY_HEX_LEN		(2 * SECRET_LEN)
#define PREFIX_HEX_LEN		2
/* "ee" + key + hex domain + NUL. */
#define SECRET_TEXT_MAX		(PREFIX_HEX_LEN + KEY_HEX_LEN + \
				    2 * SECRET_DOMAIN_MAX + 1)

static const char hexdigits[] = "0123456789abcdef";

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly 2*n hex digits. */
static int
unhex(const char *text, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = hexval(text[2 * i]);
		lo = hi < 0 ? -1 : hexval(text[2 * i + 1]);
		if (lo < 0)
			return SECRET_ERR_FORMAT;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void
tohex(const uint8_t *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0xf];
	}
}

/* Is text a two-digit prefix equal to byte v? */
static int
has_prefix(const char *text, uint8_t v)
{
	uint8_t b;

	return unhex(text, &b, 1) == 0 && b == v;
}

/*
 * A DNS name: 1..253 visible ASCII characters. Spaces and control bytes are
 * refused because the domain ends up in SNI checks and in log lines.
 */
static int
domain_valid(const char *d, size_t len)
{
	size_t i;

	if (len < 1 || len > SECRET_DOMAIN_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (d[i] <= ' ' || d[i] > '~')
			return 0;
	return 1;
}

static int
parse_domain(const char *hex, size_t hexlen, struct secret *s)
{
	size_t len = hexlen / 2;

	if (hexlen % 2 != 0 || len < 1 || len > SECRET_DOMAIN_MAX)
		return SECRET_ERR_FORMAT;
	if (unhex(hex, (uint8_t *)s->domain, len) != 0)
		return SECRET_ERR_FORMAT;
	s->domain[len] = '\0';
	return domain_valid(s->domain, len) ? 0 : SECRET_ERR_FORMAT;
}

int
secret_parse(const char *text, struct secret *out)
{
	struct secret s;
	size_t n;
	int rc = SECRET_ERR_FORMAT;

	if (text == NULL || out == NULL)
		return SECRET_ERR_FORMAT;
	memset(&s, 0, sizeof(s));
	n = strnlen(text, SECRET_TEXT_MAX);
	if (n == KEY_HEX_LEN) {
		s.kind = SECRET_CLASSIC;
		rc = unhex(text, s.key, SECRET_LEN);
	} else if (n == PREFIX_HEX_LEN + KEY_HEX_LEN &&
	    has_prefix(text, SECRET_PREFIX_SECURE)) {
		s.kind = SECRET_SECURE;
		rc = unhex(text + PREFIX_HEX_LEN, s.key, SECRET_LEN);
	} else if (n > PREFIX_HEX_LEN + KEY_HEX_LEN && n < SECRET_TEXT_MAX &&
	    has_prefix(text, SECRET_PREFIX_TLS)) {
		s.kind = SECRET_TLS;
		rc = unhex(text + PREFIX_HEX_LEN, s.key, SECRET_LEN);
		if (rc == 0)
			rc = parse_domain(text + PREFIX_HEX_LEN + KEY_HEX_LEN,
			    n - PREFIX_HEX_LEN - KEY_HEX_LEN, &s);
	}
	if (rc == 0)
		*out = s;
	OPENSSL_cleanse(&s, sizeof(s));
	return rc;
}

int
secret_parse_key(const char *text, uint8_t key[SECRET_LEN])
{
	if (text == NULL || key == NULL ||
	    strnlen(text, KEY_HEX_LEN + 1) != KEY_HEX_LEN)
		return SECRET_ERR_FORMAT;
	return unhex(text, key, SECRET_LEN);
}

int
secret_format(const struct secret *s, char *out, size_t outlen)
{
	size_t dlen = 0, need, pos = 0;
	uint8_t prefix = 0;

	if (s == NULL || out == NULL)
		return SECRET_ERR_FORMAT;
	switch (s->kind) {
	case SECRET_CLASSIC:
		break;
	case SECRET_SECURE:
		prefix = SECRET_PREFIX_SECURE;
		break;
	case SECRET_TLS:
		prefix = SECRET_PREFIX_TLS;
		dlen = strnlen(s->domain, sizeof(s->domain));
		if (!domain_valid(s->domain, dlen))
			return SECRET_ERR_FORMAT;
		break;
	default:
		return SECRET_ERR_FORMAT;
	}
	need = (prefix ? PREFIX_HEX_LEN : 0) + KEY_HEX_LEN + 2 * dlen + 1;
	if (outlen < need)
		return SECRET_ERR_SPACE;
	if (prefix) {
		tohex(&prefix, 1, out);
		pos = PREFIX_HEX_LEN;
	}
	tohex(s->key, SECRET_LEN, out + pos);
	pos += KEY_HEX_LEN;
	tohex((const uint8_t *)s->domain, dlen, out + pos);
	out[pos + 2 * dlen] = '\0';
	return 0;
}

/* Characters that need no URL escaping in a host name or IP literal. */
static int
host_valid(const char *host)
{
	const char *p;

	if (*host == '\0')
		return 0;
	for (p = host; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == ':' ||
		    *p == '-'))
			return 0;
	return 1;
}

int
secret_link(const struct secret *s, const char *host, uint16_t port,
    int tme, char *out, size_t outlen)
{
	char text[SECRET_TEXT_MAX];
	int n, rc;

	if (host == NULL || out == NULL || port == 0 || !host_valid(host))
		return SECRET_ERR_FORMAT;
	if ((rc = secret_format(s, text, sizeof(text))) != 0)
		return rc;
	n = snprintf(out, outlen, "%s?server=%s&port=%u&secret=%s",
	    tme ? "https://t.me/proxy" : "tg://proxy", host, (unsigned)port,
	    text);
	OPENSSL_cleanse(text, sizeof(text));
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return SECRET_ERR_SPACE;
	}
	return 0;
}

size_t
secret_trial(size_t k, size_t first, size_t n)
{
	if (first >= n)
		return k;
	if (k == 0)
		return first;
	return k - 1 < first ? k - 1 : k;
}
