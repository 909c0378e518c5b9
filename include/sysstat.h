/* SPDX-License-Identifier: ISC */
/*
 * Raw system and process counters behind one interface, with two backends:
 * a built-in /proc reader (always compiled; the only one on AL2023 and
 * Ubuntu 22.04) and libproc2 (when configure finds it). sysstat_new() picks
 * libproc2 when it was built in, unless the /proc reader is asked for, so
 * tests can run both backends in one binary and compare them.
 */
#ifndef SYSSTAT_H
#define SYSSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sysstat_backend {
	SYSSTAT_PROC,     /* built-in /proc reader */
	SYSSTAT_LIBPROC2, /* procps libproc2 */
	SYSSTAT_BACKEND_MAX
};
extern const char *const sysstat_backend_names[SYSSTAT_BACKEND_MAX];

/* Sum of the 8 base tick counters of the "cpu" line, and idle+iowait. */
struct sysstat_cpu {
	uint64_t total;
	uint64_t idle;
};

/* All in KiB. */
struct sysstat_mem {
	uint64_t mem_total;
	uint64_t mem_available;
	uint64_t swap_total;
	uint64_t swap_free;
};

/* One process, as seen by a scan or a lookup. */
struct sysstat_proc {
	pid_t pid;
	uid_t uid;       /* real uid */
	char state;      /* 'R', 'S', 'Z', ... */
	char comm[16];   /* kernel comm, truncated to 15 characters */
	char cmdline[512]; /* argv joined with spaces, truncated; "" for kthreads */
	unsigned long long starttime; /* clock ticks after boot */
};

struct sysstat;

/* Called once per process by sysstat_proc_scan(); return non-zero to stop. */
typedef int (*sysstat_proc_cb)(const struct sysstat_proc *p, void *arg);

/* Open the preferred backend (libproc2 if built in). */
struct sysstat *sysstat_new(void);
/* Open a specific backend; NULL if it is not built in or fails to open. */
struct sysstat *sysstat_new_backend(enum sysstat_backend b);
void sysstat_free(struct sysstat *s);
enum sysstat_backend sysstat_backend(const struct sysstat *s);

/* Each returns 0, or -1 with errno set (and nothing logged). */
int sysstat_cpu(struct sysstat *s, struct sysstat_cpu *out);
int sysstat_mem(struct sysstat *s, struct sysstat_mem *out);
int sysstat_load(struct sysstat *s, double load[3]);
/* Walk every process (not threads). want_cmdline = read /proc/PID/cmdline. */
int sysstat_proc_scan(struct sysstat *s, bool want_cmdline,
    sysstat_proc_cb cb, void *arg);
/* Look up one pid; returns 0 if it exists, -1 (errno ESRCH) if not. */
int sysstat_proc_get(struct sysstat *s, pid_t pid, bool want_cmdline,
    struct sysstat_proc *out);

#endif
