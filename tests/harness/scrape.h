/*
 * The daemon's /metrics as the integration tests read it: over HTTP on
 * loopback, through a real Prometheus text parser (Debian's
 * python3-prometheus-client), so that a test reads what a Prometheus
 * server would understand, not the raw text. Like itest.h, these fail the
 * running Check test rather than return errors; only Check tests use them.
 */
#ifndef MTPROXYD_SCRAPE_H
#define MTPROXYD_SCRAPE_H

#include <stdint.h>

#include "daemon.h"

/*
 * The first python3 that has the parser: Debian's package installs it for
 * the system's python3, which a python3 earlier in PATH (pyenv, venv) may
 * not see. NULL: none (the caller skips).
 */
const char *scrape_python(void);
/* A port free now on 127.0.0.1: the metrics port is given, not chosen. */
uint16_t scrape_free_port(void);
/*
 * GET path from src (a loopback address) to the metrics port; the status
 * code, and the body (caller frees) when body is not NULL.
 */
int scrape_http_get(const char *src, uint16_t port, const char *path,
    char **body);
/*
 * /metrics from 127.0.0.1, through the parser: every sample as a line
 * "name|label=value|... value", labels sorted (malloc'd).
 */
char *scrape_metrics(struct daemon_proc *d, uint16_t port, const char *python);
/* The value of the sample "name|labels" of samples, which must be there. */
unsigned long long scrape_sample(const char *samples, const char *key);
/* Scrape until key reads want: counters land just after the client sees. */
char *scrape_until(struct daemon_proc *d, uint16_t port, const char *python,
    const char *key, unsigned long long want);

#endif
