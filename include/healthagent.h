/* SPDX-License-Identifier: ISC */
/*
 * Version and configure-time paths shared by the daemon and the CLI.
 */
#ifndef HEALTHAGENT_H
#define HEALTHAGENT_H

#include "config.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#define HEALTHAGENT_VERSION PACKAGE_VERSION
#define HEALTHAGENT_CONF SYSCONFDIR "/healthagent/healthagent.conf"
#define HEALTHAGENT_SOCK RUNSTATEDIR "/healthagent/healthagent.sock"
#define HEALTHAGENT_STATE_DIR LOCALSTATEDIR "/lib/healthagent"

#endif
