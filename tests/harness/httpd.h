/*
 * A tiny HTTP/1.0 server on 127.0.0.1 standing in for core.telegram.org:
 * the test sets a few paths in memory (body and status, or a redirect),
 * one thread answers one connection at a time with Connection: close and
 * counts the requests each path got. Plain HTTP only.
 */
#ifndef MTPROXYD_HTTPD_H
#define MTPROXYD_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_ERR		(-1)	/* system error: errno says why */
#define HTTPD_ERR_ARG		(-2)	/* bad path or status, table full */

#define HTTPD_MAX_PATHS		32
#define HTTPD_PATH_MAX		256
#define HTTPD_HEAD_MAX		4096	/* request head kept by httpd_last */

struct httpd;

/* Listening on 127.0.0.1, an ephemeral port, serving nothing yet (404). */
int httpd_start(struct httpd **out);
/* Stops the thread (bounded by the I/O timeouts) and frees h. NULL: no-op. */
void httpd_stop(struct httpd *h);
uint16_t httpd_port(const struct httpd *h);

/* path (starting with '/') answers status with body[0..len), copied. */
int httpd_set(struct httpd *h, const char *path, const void *body,
    size_t len, int status);
/* path answers 302 with Location: location. */
int httpd_redirect(struct httpd *h, const char *path, const char *location);
/* Requests path got since it was first set or asked for. */
unsigned httpd_requests(struct httpd *h, const char *path);
/* Every answer's Date header is the time now plus seconds (default 0). */
void httpd_date_offset(struct httpd *h, int seconds);
/* The head of the last request (up to the blank line), NUL-terminated. */
void httpd_last(struct httpd *h, char *out, size_t cap);

#endif
