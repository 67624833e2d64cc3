/* HTTPS GET with libcurl: certificate verification, size and time caps. */
#ifndef MTPROXYD_FETCH_H
#define MTPROXYD_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define FETCH_ERR		(-1)	/* transport error: err says which */
#define FETCH_ERR_STATUS	(-2)	/* HTTP status other than 200 */
#define FETCH_ERR_SIZE		(-3)	/* body over max_bytes */
#define FETCH_ERR_CERT		(-4)	/* certificate not valid for the name */

/* Call once before any thread starts (curl_global_init is not thread-safe). */
int fetch_global_init(void);
void fetch_global_cleanup(void);

/* *out is malloc'd (free it); err gets one line on failure. */
int fetch_url(const char *url, size_t max_bytes, int timeout_s, uint8_t **out,
    size_t *len, char *err, size_t errlen);

/*
 * mtproxyd check: *offset is the Date header of url's answer (any status)
 * minus our clock when it arrived, in seconds.
 */
int fetch_clock_offset(const char *url, int timeout_s, long long *offset,
    char *err, size_t errlen);
/* One header line ("Date: <HTTP date>", CRLF or not): its time. Pure. */
int fetch_date_header(const char *line, size_t len, time_t *date);
/*
 * A TLS handshake with host:port for domain (SNI and the name checked),
 * verified against the system's CA store, or $CURL_CA_BUNDLE when set:
 * 0, FETCH_ERR_CERT (err says why the certificate fails) or FETCH_ERR.
 */
int fetch_tls_verify(const char *domain, const char *host, uint16_t port,
    int timeout_s, char *err, size_t errlen);

#endif
