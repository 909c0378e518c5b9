/* SPDX-License-Identifier: ISC */
/*
 * The daemon: wires the modules together on one event loop, handles
 * signals (SIGHUP reload, SIGTERM drain then exit), speaks sd_notify, and
 * routes endpoint and control requests to the renderings in status.c.
 */
#ifndef DAEMON_H
#define DAEMON_H

struct daemon_opts {
	const char *conf_path;
	int log_level; /* -1 = from the config */
};

/* Run in the foreground until told to stop; returns the exit status. */
int daemon_run(const struct daemon_opts *o);

#endif
