/* Shared by the libFuzzer harnesses. */
#ifndef MTPROXYD_FUZZ_H
#define MTPROXYD_FUZZ_H

#include <stdlib.h>

/* A broken invariant is a crash, so libFuzzer keeps the input. */
static inline void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

#endif
