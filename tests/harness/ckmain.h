/*
 * The main of every Check test program (tests/unit, tests/integration),
 * in ckmain.c: it runs the one suite the program defines, with the
 * verbosity CK_VERBOSITY asks for, and exits non-zero if any check failed.
 */
#ifndef MTPROXYD_CKMAIN_H
#define MTPROXYD_CKMAIN_H

#include <check.h>

/*
 * The program's suite. Set-up the whole program needs (a log level) goes
 * here too: it runs once, before any test.
 */
Suite *ckmain_suite(void);

#endif
