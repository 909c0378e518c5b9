/* SPDX-License-Identifier: ISC */
#ifndef CHECK_EXEC_H
#define CHECK_EXEC_H

#include "check.h"

extern const struct check_ops check_exec_ops;

/* At shutdown, before ev_free(): SIGKILL every child still being reaped
 * after a cancel and wait for it (blocking). Same as child_reap_all(),
 * which also covers the restart command's children. */
void check_exec_reap_all(void);

#endif
