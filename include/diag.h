/*
 * Diagnostics: `mtproxyd check`, one line per check ("ok", "warn" or
 * "fail", what it found, and on warn or fail what to do), and the
 * warnings logged at start for a setup that runs but will not serve as
 * meant (links to an address of another machine, sample secrets, a
 * retired default user).
 */
#ifndef MTPROXYD_DIAG_H
#define MTPROXYD_DIAG_H

#include <stdio.h>
#include "config.h"

/* The exit status of `mtproxyd check`: the worst line's. */
#define DIAG_OK		0
#define DIAG_WARN		1
#define DIAG_FAIL		2

/*
 * Every check of a loaded, valid configuration (read from path, NULL for
 * none); network checks take a few seconds at most each. Returns the
 * worst level.
 */
int diag_run(const struct config *cfg, const char *path, FILE *out);
/* The config check's fail line, for a configuration that did not load. */
void diag_config_failed(const char *err, FILE *out);
/* The setup checks that need no network, as log warnings. */
void diag_start_warnings(const struct config *cfg);

#endif
