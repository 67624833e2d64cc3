/*
 * The daemon's /metrics read the way Prometheus reads it: fetched over
 * loopback and put through a real text-format parser (Debian's
 * python3-prometheus-client), so that a test sees what the parser
 * understood, one "name|label=value|... value" line per sample, labels
 * sorted. Check asserts, like itest.h: only Check tests may use it.
 */
#ifndef MTPROXYD_MSCRAPE_H
#define MTPROXYD_MSCRAPE_H

#include <stdint.h>

#include "daemon.h"

/*
 * The first python3 that has the parser: Debian's package installs it for
 * the system's python3, which a python3 earlier in PATH (pyenv, venv) may
 * not see. NULL: none (the caller skips).
 */
const char *mscrape_python(void);
/* The same; NULL after itest_skip says why (the caller returns). */
const char *mscrape_python_or_skip(void);
/* A port free now on 127.0.0.1: the metrics port is given, not chosen. */
uint16_t mscrape_free_port(void);
/*
 * GET path from src (a loopback address) to the metrics port; the status
 * code, and the body (caller frees) when body is not NULL.
 */
int mscrape_get(const char *src, uint16_t port, const char *path,
    char **body);
/* /metrics from 127.0.0.1 through the parser: its sample lines (freed). */
char *mscrape(struct daemon_proc *d, uint16_t port, const char *python);
/* The value of the sample "name|labels", which must be there. */
unsigned long long mscrape_sample(const char *samples, const char *key);
/* Scrape until key reads want: counters land just after a client sees. */
char *mscrape_until(struct daemon_proc *d, uint16_t port, const char *python,
    const char *key, unsigned long long want);

#endif
