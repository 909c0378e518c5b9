/* SPDX-License-Identifier: ISC */
/*
 * The control socket: a unix stream socket (mode 0660 by default) in the
 * runtime directory. A client sends one command line ("status", "drain",
 * "undrain"), the daemon answers with one JSON document and closes. The CLI
 * formats the JSON; the daemon never builds human text for the socket.
 */
#ifndef CTL_H
#define CTL_H

#include <stddef.h>

#include "ev.h"

#define CTL_MAX_COMMAND 256
#define CTL_MAX_REPLY (4 * 1024 * 1024)

struct ctl;

/* Answer one command: set *reply to a malloc'd NUL-terminated string. */
typedef void (*ctl_handler)(const char *cmd, char **reply, void *arg);

/* Create the socket at path (refusing if a live daemon answers there,
 * replacing a stale one) and serve it. NULL on failure (logged). */
struct ctl *ctl_new(struct ev *ev, const char *path, int mode,
    ctl_handler handler, void *arg);
const char *ctl_path(const struct ctl *c);
/* Stop serving and unlink the socket. */
void ctl_free(struct ctl *c);

/*
 * Client side, for the CLI (blocking, with a timeout in ms): send cmd and
 * read the whole reply into a malloc'd string. Returns 0, or -1 with a
 * message in err.
 */
int ctl_call(const char *path, const char *cmd, int timeout_ms, char **reply,
    char *err, size_t errlen);

#endif
