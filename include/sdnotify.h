/* SPDX-License-Identifier: ISC */
/*
 * The sd_notify(3) protocol written by hand (no libsystemd): one datagram of
 * KEY=VALUE lines to $NOTIFY_SOCKET. A no-op when not run by systemd.
 */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

#include <stdint.h>

/* Send msg (e.g. "READY=1\nSTATUS=..."); 1 sent, 0 no socket, -1 error. */
int sdnotify(const char *msg);
/* The watchdog period in microseconds for this process, or 0 if none. */
uint64_t sdnotify_watchdog_usec(void);

#endif
