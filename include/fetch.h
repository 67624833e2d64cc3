/* HTTPS GET with libcurl: certificate verification, size and time caps. */
#ifndef MTPROXYD_FETCH_H
#define MTPROXYD_FETCH_H

#include <stddef.h>
#include <stdint.h>

#define FETCH_ERR		(-1)	/* transport error: err says which */
#define FETCH_ERR_STATUS	(-2)	/* HTTP status other than 200 */
#define FETCH_ERR_SIZE		(-3)	/* body over max_bytes */

/* Call once before any thread starts (curl_global_init is not thread-safe). */
int fetch_global_init(void);
void fetch_global_cleanup(void);

/* *out is malloc'd (free it); err gets one line on failure. */
int fetch_url(const char *url, size_t max_bytes, int timeout_s, uint8_t **out,
    size_t *len, char *err, size_t errlen);

#endif
