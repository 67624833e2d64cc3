/*
 * HTTP(S) GET with libcurl for the middle-proxy configuration. libcurl's
 * defaults already verify the certificate and the host name; we add the
 * caps an unattended daemon needs: time, body size, redirects, protocols.
 * NOSIGNAL because the fetch runs on a thread and must not use alarm().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "errbuf.h"
#include "fetch.h"

#define FETCH_REDIRECTS		3L
#define FETCH_USER_AGENT	"mtproxyd/" PACKAGE_VERSION
#define FETCH_PROTOCOLS		"http,https"
#define FETCH_FIRST_CAP		4096

struct body {
	uint8_t *p;
	size_t len, cap, max;
	int over;		/* max_bytes exceeded: transfer aborted */
};

int
fetch_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 :
	    FETCH_ERR;
}

void
fetch_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Returning less than n makes libcurl abort the transfer. */
static size_t
body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb, cap;
	uint8_t *p;

	if (n > b->max - b->len) {
		b->over = 1;
		return 0;
	}
	if (b->len + n > b->cap) {
		cap = b->cap;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		if ((p = realloc(b->p, cap)) == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return n;
}

static int
setup(CURL *c, const char *url, struct body *b, int timeout_s, char *cerr)
{
	int bad = 0;

	bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_MAXREDIRS, FETCH_REDIRECTS) !=
	    CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, FETCH_PROTOCOLS) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
	    FETCH_PROTOCOLS) != CURLE_OK;
#else
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, FETCH_USER_AGENT) !=
	    CURLE_OK;
	/* A declared length over the cap fails before any byte is read. */
	bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)b->max) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, b) != CURLE_OK;
	return bad ? FETCH_ERR : 0;
}

/*
 * A finished transfer, or one we cut short, is judged by its status first:
 * a 404 page may well be large. A redirect loop or a failed connection is
 * libcurl's to describe.
 */
static int
outcome(CURL *c, CURLcode res, const struct body *b, const char *url,
    const char *cerr, char *err, size_t errlen)
{
	long status = 0;
	int cut = b->over || res == CURLE_FILESIZE_EXCEEDED;

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if ((res == CURLE_OK || cut) && status != 200) {
		errbuf_set(err, errlen, "fetch %s: HTTP status %ld", url, status);
		return FETCH_ERR_STATUS;
	}
	if (cut) {
		errbuf_set(err, errlen, "fetch %s: body over %zu bytes", url,
		    b->max);
		return FETCH_ERR_SIZE;
	}
	if (res != CURLE_OK) {
		errbuf_set(err, errlen, "fetch %s: %s", url,
		    cerr[0] != '\0' ? cerr : curl_easy_strerror(res));
		return FETCH_ERR;
	}
	return 0;
}

int
fetch_url(const char *url, size_t max_bytes, int timeout_s, uint8_t **out,
    size_t *len, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE];
	struct body b;
	CURL *c = NULL;
	CURLcode res;
	int rc = FETCH_ERR;

	if (url == NULL || out == NULL || len == NULL || max_bytes == 0 ||
	    timeout_s <= 0) {
		errbuf_set(err, errlen, "fetch: bad arguments");
		return FETCH_ERR;
	}
	memset(&b, 0, sizeof(b));
	cerr[0] = '\0';
	b.max = max_bytes;
	b.cap = max_bytes < FETCH_FIRST_CAP ? max_bytes : FETCH_FIRST_CAP;
	/* Never NULL, even for an empty body: the caller frees it. */
	if ((b.p = malloc(b.cap)) == NULL || (c = curl_easy_init()) == NULL) {
		errbuf_set(err, errlen, "fetch %s: out of memory", url);
		goto out;
	}
	if (setup(c, url, &b, timeout_s, cerr) != 0) {
		errbuf_set(err, errlen, "fetch %s: libcurl refused an option",
		    url);
		goto out;
	}
	res = curl_easy_perform(c);
	if ((rc = outcome(c, res, &b, url, cerr, err, errlen)) != 0)
		goto out;
	*out = b.p;
	*len = b.len;
	b.p = NULL;
out:
	free(b.p);
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc;
}
