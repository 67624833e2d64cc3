/*
 * The service manager's readiness protocol (sd_notify(3)). systemd's
 * Type=notify counts the daemon started at READY=1 and a reload done at
 * the READY=1 after RELOADING=1; STATUS= is what systemctl status shows.
 * Outside systemd (no NOTIFY_SOCKET) these say nothing; a build without
 * libsystemd says nothing either, and warns once when NOTIFY_SOCKET is set.
 * A message that cannot be sent is logged.
 */
#ifndef MTPROXYD_NOTIFY_H
#define MTPROXYD_NOTIFY_H

/* "READY=1\nSTATUS=<status>": listening, or a reload finished. */
void notify_ready(const char *status);
/* "RELOADING=1\nMONOTONIC_USEC=<now>\nSTATUS=reloading". */
void notify_reloading(void);
/* "STOPPING=1\nSTATUS=<status>". */
void notify_stopping(const char *status);

#endif
