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
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "errbuf.h"
#include "fetch.h"

#define FETCH_REDIRECTS		3L
#define FETCH_USER_AGENT	"mtproxyd/" PACKAGE_VERSION
#define FETCH_PROTOCOLS		"http,https"
#define FETCH_FIRST_CAP		4096
#define FETCH_DATE_MAX		64	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define FETCH_URL_MAX		320	/* https://, a host, a port */

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

int
fetch_date_header(const char *line, size_t len, time_t *date)
{
	char value[FETCH_DATE_MAX + 1];
	size_t n;

	if (len < 5 || strncasecmp(line, "date:", 5) != 0)
		return FETCH_ERR;
	line += 5;
	len -= 5;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
	    line[len - 1] == ' '))
		len--;
	n = len < FETCH_DATE_MAX ? len : FETCH_DATE_MAX;
	memcpy(value, line, n);
	value[n] = '\0';
	if (len > FETCH_DATE_MAX || (*date = curl_getdate(value, NULL)) < 0)
		return FETCH_ERR;
	return 0;
}

struct date_seen {
	int have;
	time_t date;
	time_t local;		/* our clock when it arrived */
};

static size_t
date_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct date_seen *d = arg;

	if (!d->have && fetch_date_header(data, size * nmemb, &d->date) == 0) {
		d->local = time(NULL);
		d->have = 1;
	}
	return size * nmemb;
}

int
fetch_clock_offset(const char *url, int timeout_s, long long *offset,
    char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE];
	struct date_seen d = { 0, 0, 0 };
	struct body b;
	CURL *c;
	CURLcode res;
	int bad;

	memset(&b, 0, sizeof(b));
	cerr[0] = '\0';
	/* Any answer carries the Date: the body is cut short on purpose. */
	b.max = b.cap = FETCH_FIRST_CAP;
	if ((b.p = malloc(b.cap)) == NULL || (c = curl_easy_init()) == NULL) {
		free(b.p);
		errbuf_set(err, errlen, "fetch %s: out of memory", url);
		return FETCH_ERR;
	}
	bad = setup(c, url, &b, timeout_s, cerr) != 0 ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, date_header) !=
	    CURLE_OK || curl_easy_setopt(c, CURLOPT_HEADERDATA, &d) != CURLE_OK;
	res = bad ? CURLE_FAILED_INIT : curl_easy_perform(c);
	if (d.have)
		*offset = (long long)(d.date - d.local);
	else if (bad)
		errbuf_set(err, errlen, "fetch %s: libcurl refused an option",
		    url);
	else
		errbuf_set(err, errlen, "fetch %s: %s", url, res != CURLE_OK ?
		    (cerr[0] != '\0' ? cerr : curl_easy_strerror(res)) :
		    "no Date header");
	free(b.p);
	curl_easy_cleanup(c);
	return d.have ? 0 : FETCH_ERR;
}

/* IPv6 literals go in brackets in a URL and in CONNECT_TO. */
static void
host_part(const char *host, char *out, size_t outlen)
{
	snprintf(out, outlen, strchr(host, ':') != NULL ? "[%s]" : "%s", host);
}

int
fetch_tls_verify(const char *domain, const char *host, uint16_t port,
    int timeout_s, char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE], url[FETCH_URL_MAX], to[2 * FETCH_URL_MAX];
	char h[FETCH_URL_MAX];
	const char *ca = getenv("CURL_CA_BUNDLE");
	struct curl_slist *list = NULL;
	struct body b;
	CURL *c;
	CURLcode res;
	int bad, rc;

	memset(&b, 0, sizeof(b));
	cerr[0] = '\0';
	b.max = 1;
	host_part(host, h, sizeof(h));
	snprintf(url, sizeof(url), "https://%s:%u/", domain, (unsigned)port);
	snprintf(to, sizeof(to), "%s:%u:%s:%u", domain, (unsigned)port, h,
	    (unsigned)port);
	if ((c = curl_easy_init()) == NULL ||
	    (list = curl_slist_append(NULL, to)) == NULL) {
		errbuf_set(err, errlen, "TLS to %s: out of memory", h);
		rc = FETCH_ERR;
		goto out;
	}
	/* The handshake and its checks only: no request is sent. */
	bad = setup(c, url, &b, timeout_s, cerr) != 0 ||
	    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECT_TO, list) != CURLE_OK ||
	    (ca != NULL && *ca != '\0' &&
	    curl_easy_setopt(c, CURLOPT_CAINFO, ca) != CURLE_OK);
	res = bad ? CURLE_FAILED_INIT : curl_easy_perform(c);
	rc = res == CURLE_OK ? 0 : res == CURLE_PEER_FAILED_VERIFICATION ?
	    FETCH_ERR_CERT : FETCH_ERR;
	if (rc != 0)
		errbuf_set(err, errlen, "%s", cerr[0] != '\0' ? cerr :
		    curl_easy_strerror(res));
out:
	curl_slist_free_all(list);
	if (c != NULL)
		curl_easy_cleanup(c);
	return rc;
}
