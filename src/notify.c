/* sd_notify messages, or nothing where there is no libsystemd. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

#define NOTIFY_MAX	512

#ifdef HAVE_LIBSYSTEMD
static void
deliver(const char *msg)
{
	int rc;

	/* 0: no NOTIFY_SOCKET, not run by systemd. */
	if ((rc = sd_notify(0, msg)) < 0)
		log_warn("sd_notify: %s", strerror(-rc));
}
#else
static void
deliver(const char *msg)
{
	static atomic_flag warned = ATOMIC_FLAG_INIT;

	(void)msg;
	if (getenv("NOTIFY_SOCKET") != NULL &&
	    !atomic_flag_test_and_set(&warned))
		log_warn("NOTIFY_SOCKET is set, but this mtproxyd was built "
		    "without libsystemd: a Type=notify unit will time out "
		    "(rebuild with libsystemd-dev, or use Type=exec)");
}
#endif

static void notify_send(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
notify_send(const char *fmt, ...)
{
	char msg[NOTIFY_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	deliver(msg);
}

void
notify_ready(const char *status)
{
	notify_send("READY=1\nSTATUS=%s", status);
}

void
notify_reloading(void)
{
	struct timespec ts;

	/* systemd orders the reload by this clock (Type=notify-reload). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_stopping(const char *status)
{
	notify_send("STOPPING=1\nSTATUS=%s", status);
}
