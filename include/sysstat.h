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

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	uid_t uid;         /* real uid */
	char state;        /* 'R', 'S', 'Z', ... */
	char comm[16];     /* kernel comm, truncated to 15 characters */
	char cmdline[512]; /* argv joined with spaces, truncated; "" for
	                      kthreads */
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
int sysstat_proc_scan(struct sysstat *s, bool want_cmdline, sysstat_proc_cb cb,
    void *arg);
/* Look up one pid; returns 0 if it exists, -1 (errno ESRCH) if not. */
int sysstat_proc_get(struct sysstat *s, pid_t pid, bool want_cmdline,
    struct sysstat_proc *out);

/*
 * Pure parsers over the text of /proc files, used by the /proc backend and
 * exposed for the unit tests. Each returns 0, or -1 (errno EINVAL) when the
 * text is malformed.
 */
/* The "cpu" summary line of /proc/stat. */
int sysstat_parse_stat_cpu(const char *text, struct sysstat_cpu *out);
/* MemTotal (required), MemAvailable, SwapTotal and SwapFree. */
int sysstat_parse_meminfo(const char *text, struct sysstat_mem *out);
/* The three load averages of /proc/loadavg. */
int sysstat_parse_loadavg(const char *text, double load[3]);
/* /proc/PID/stat: fills pid, state, comm and starttime (not uid/cmdline). */
int sysstat_parse_pid_stat(const char *text, struct sysstat_proc *out);
/* /proc/PID/status: the real uid (first "Uid:" field) and the Tgid. */
int sysstat_parse_pid_status(const char *text, uid_t *uid, pid_t *tgid);
/* Join len bytes of raw /proc/PID/cmdline into dst: trailing NULs dropped,
 * the other NULs become spaces, truncated to size - 1. */
void sysstat_join_cmdline(char *dst, size_t size, const char *raw, size_t len);

/*
 * Backend plumbing, for sysstat_proc.c and sysstat_proc2.c only: a backend
 * is an ops table over its own state. The dispatch in sysstat_proc.c checks
 * nothing the backends guarantee (errno set on -1, nothing logged).
 */
struct sysstat_ops {
	void *(*open)(void); /* NULL with errno set on failure */
	void (*close)(void *be);
	int (*cpu)(void *be, struct sysstat_cpu *out);
	int (*mem)(void *be, struct sysstat_mem *out);
	int (*load)(void *be, double load[3]);
	int (*proc_scan)(void *be, bool want_cmdline, sysstat_proc_cb cb,
	    void *arg);
	int (*proc_get)(void *be, pid_t pid, bool want_cmdline,
	    struct sysstat_proc *out);
};
/* Defined only when configure found libproc2 (HAVE_LIBPROC2). */
extern const struct sysstat_ops sysstat_libproc2_ops;

#endif
