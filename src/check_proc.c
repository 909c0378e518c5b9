/* SPDX-License-Identifier: ISC */
/*
 * The process check. A run is synchronous and bounded: with a pidfile it
 * re-reads the file and looks up that one pid; with a name, cmdline or user
 * matcher (all ANDed) it scans every process. Zombies and the agent itself
 * never count. When the check passes because of exactly one process, that
 * process is watched through a pidfd on the event loop, so its exit is
 * reported at once instead of at the next run; without pidfd_open (Linux
 * < 5.3, or a seccomp filter) the check silently relies on polling.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_proc.h"
#include "log.h"
#include "xmalloc.h"

/* The kernel's hard limit on pid values (2^22 on 64-bit). */
#define PID_MAX_LIMIT 4194304

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

struct proc_check {
	struct check *c;
	/* The process the last run followed (pidfile, or a single match). */
	pid_t pid;
	unsigned long long start;
	struct timespec pidfile_mtime; /* of the pidfile that named pid */
	/* The pidfd watch, if any, and what it watches. */
	int pidfd;
	struct ev_io *io;
	pid_t watch_pid;
	unsigned long long watch_start;
	/* A process whose pidfd already fired is never watched again. */
	pid_t fired_pid;
	unsigned long long fired_start;
	bool no_pidfd; /* pidfd_open is not available here */
};

/* What one evaluation found. */
struct proc_result {
	bool ok;
	enum health_reason reason;
	char detail[HEALTH_DETAIL_MAX];
	int n;                    /* matching processes */
	pid_t pid;                /* the match, when n == 1 */
	unsigned long long start; /* its starttime */
};

static void __attribute__((format(printf, 4, 5)))
set_result(struct proc_result *r, bool ok, enum health_reason reason,
    const char *fmt, ...)
{
	va_list ap;

	r->ok = ok;
	r->reason = reason;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/* Does proc_name equal comm, or the basename of argv[0]? */
static bool
name_matches(const char *name, const struct sysstat_proc *p)
{
	const char *a0 = p->cmdline, *end, *base;

	if (strcmp(p->comm, name) == 0)
		return true;
	/* comm is cut to 15 characters: argv[0] carries the whole name. */
	end = strchr(a0, ' ');
	if (end == NULL)
		end = a0 + strlen(a0);
	for (base = end; base > a0 && base[-1] != '/'; base--)
		;
	return (size_t)(end - base) == strlen(name) &&
	    strncmp(base, name, (size_t)(end - base)) == 0;
}

static bool
matches(const struct conf_check *cf, const struct sysstat_proc *p)
{
	if (p->state == 'Z' || p->pid == getpid())
		return false;
	if (cf->has_user && p->uid != cf->uid)
		return false;
	if (cf->proc_name != NULL && !name_matches(cf->proc_name, p))
		return false;
	/* Kernel threads have no argv; no pattern is meant to match them. */
	if (cf->cmdline != NULL &&
	    (p->cmdline[0] == '\0' ||
	        regexec(&cf->cmdline_re, p->cmdline, 0, NULL, 0) != 0))
		return false;
	return true;
}

static bool
want_cmdline(const struct conf_check *cf)
{
	return cf->proc_name != NULL || cf->cmdline != NULL;
}

/* Apply min_count/max_count to r->n. */
static void
judge_count(const struct conf_check *cf, struct proc_result *r,
    const char *none)
{
	if (r->n < cf->min_count) {
		if (r->n == 0)
			set_result(r, false, HEALTH_R_PROC_GONE, "%s", none);
		else
			set_result(r, false, HEALTH_R_PROC_COUNT,
			    "%d process%s, min %d", r->n, r->n == 1 ? "" : "es",
			    cf->min_count);
	} else if (cf->max_count > 0 && r->n > cf->max_count) {
		set_result(r, false, HEALTH_R_PROC_COUNT,
		    "%d processes, max %d", r->n, cf->max_count);
	} else if (r->n == 1) {
		set_result(r, true, HEALTH_R_OK, "pid %d", (int)r->pid);
	} else {
		set_result(r, true, HEALTH_R_OK, "%d process%s", r->n,
		    r->n == 1 ? "" : "es");
	}
}

/*
 * Read a pid from a pidfile: decimal digits, optional surrounding white
 * space, nothing else. Returns 0, or -1 with r filled in.
 */
static int
read_pidfile(const char *path, pid_t *pid, struct timespec *mtime,
    struct proc_result *r)
{
	char buf[64], *p;
	struct stat st;
	ssize_t n;
	long v;
	int fd;

	/* O_NONBLOCK: a FIFO in its place must not hang the loop. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT)
			set_result(r, false, HEALTH_R_PROC_GONE,
			    "pidfile %s: not found", path);
		else
			set_result(r, false, HEALTH_R_ERROR,
			    "pidfile %s: cannot read: %s", path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		set_result(r, false, HEALTH_R_ERROR,
		    "pidfile %s: not a regular file", path);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n == -1) {
		set_result(r, false, HEALTH_R_ERROR,
		    "pidfile %s: cannot read: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	buf[n] = '\0';
	p = buf;
	while (isspace((unsigned char)*p))
		p++;
	errno = 0;
	v = isdigit((unsigned char)*p) ? strtol(p, &p, 10) : -1;
	while (isspace((unsigned char)*p))
		p++;
	if (errno != 0 || v <= 0 || v > PID_MAX_LIMIT || *p != '\0' ||
	    (size_t)n == sizeof(buf) - 1) {
		set_result(r, false, HEALTH_R_ERROR, "pidfile %s: bad pid",
		    path);
		return -1;
	}
	*pid = (pid_t)v;
	*mtime = st.st_mtim;
	return 0;
}

static void
eval_pidfile(struct proc_check *pc, struct proc_result *r)
{
	const struct conf_check *cf = check_conf(pc->c);
	struct sysstat *ss = check_env(pc->c)->sysstat;
	struct sysstat_proc p;
	struct timespec mtime;
	char none[HEALTH_DETAIL_MAX];
	pid_t pid;

	if (read_pidfile(cf->pidfile, &pid, &mtime, r) == -1)
		return;
	snprintf(none, sizeof(none), "pidfile %s: pid %d not running",
	    cf->pidfile, (int)pid);
	if (sysstat_proc_get(ss, pid, want_cmdline(cf), &p) == -1) {
		if (errno != ESRCH) {
			set_result(r, false, HEALTH_R_ERROR,
			    "pidfile %s: pid %d: cannot read: %s", cf->pidfile,
			    (int)pid, strerror(errno));
			return;
		}
	} else if (pid == pc->pid && p.starttime != pc->start &&
	    mtime.tv_sec == pc->pidfile_mtime.tv_sec &&
	    mtime.tv_nsec == pc->pidfile_mtime.tv_nsec) {
		/*
		 * Same pid, a different process, and nobody rewrote the
		 * pidfile: the process we followed died and its pid was
		 * reused. Keep following the dead one until the file changes.
		 */
		snprintf(none, sizeof(none),
		    "pidfile %s: pid %d not running (pid reused)", cf->pidfile,
		    (int)pid);
	} else if (p.state != 'Z' && p.pid != getpid()) {
		pc->pid = pid;
		pc->start = p.starttime;
		pc->pidfile_mtime = mtime;
		if (matches(cf, &p)) {
			r->n = 1;
			r->pid = pid;
			r->start = p.starttime;
		} else {
			snprintf(none, sizeof(none),
			    "pidfile %s: pid %d does not match", cf->pidfile,
			    (int)pid);
		}
	}
	judge_count(cf, r, none);
}

struct scan_arg {
	const struct conf_check *cf;
	struct proc_result *r;
};

static int
scan_cb(const struct sysstat_proc *p, void *arg)
{
	struct scan_arg *sa = arg;

	if (!matches(sa->cf, p))
		return 0;
	if (sa->r->n++ == 0) {
		sa->r->pid = p->pid;
		sa->r->start = p->starttime;
	}
	return 0;
}

static void
eval_scan(struct proc_check *pc, struct proc_result *r)
{
	const struct conf_check *cf = check_conf(pc->c);
	struct scan_arg sa = {cf, r};

	if (sysstat_proc_scan(check_env(pc->c)->sysstat, want_cmdline(cf),
	        scan_cb, &sa) == -1) {
		set_result(r, false, HEALTH_R_ERROR,
		    "cannot scan processes: %s", strerror(errno));
		return;
	}
	if (r->n == 1) {
		pc->pid = r->pid;
		pc->start = r->start;
	}
	judge_count(cf, r, "no process matches");
}

static void
unwatch(struct proc_check *pc)
{
	ev_io_del(pc->io);
	pc->io = NULL;
	if (pc->pidfd != -1)
		close(pc->pidfd);
	pc->pidfd = -1;
	pc->watch_pid = 0;
	pc->watch_start = 0;
}

static void evaluate(struct proc_check *pc, pid_t exited);

static void
pidfd_cb(int fd, unsigned events, void *arg)
{
	struct proc_check *pc = arg;
	pid_t pid = pc->watch_pid;

	(void)fd;
	(void)events;
	pc->fired_pid = pid;
	pc->fired_start = pc->watch_start;
	unwatch(pc);
	log_debug("check %s: pid %d exited", check_name(pc->c), (int)pid);
	/* A run is synchronous, so none is in flight here; be safe anyway. */
	if (!check_running(pc->c))
		evaluate(pc, pid);
}

/* Watch (pid, start) with a pidfd, replacing any other watch. */
static void
watch(struct proc_check *pc, pid_t pid, unsigned long long start)
{
	struct sysstat_proc p;
	int fd;

	if (pc->io != NULL && pc->watch_pid == pid && pc->watch_start == start)
		return;
	unwatch(pc);
	if (pc->no_pidfd || (pid == pc->fired_pid && start == pc->fired_start))
		return;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd == -1) {
		if (errno != ESRCH) {
			log_debug("check %s: pidfd_open: %s; polling only",
			    check_name(pc->c), strerror(errno));
			pc->no_pidfd = true;
		}
		return;
	}
	/* The pid may have been reused between the lookup and the open. */
	if (sysstat_proc_get(check_env(pc->c)->sysstat, pid, false, &p) == -1 ||
	    p.starttime != start || p.state == 'Z') {
		close(fd);
		return;
	}
	pc->io = ev_io_add(check_env(pc->c)->ev, fd, EV_READ, pidfd_cb, pc);
	if (pc->io == NULL) {
		close(fd);
		return;
	}
	pc->pidfd = fd;
	pc->watch_pid = pid;
	pc->watch_start = start;
}

/*
 * One evaluation. exited is the pid whose pidfd fired (out-of-band), or 0
 * for a scheduled run. An out-of-band evaluation only reports failures: if
 * a replacement process already runs, the next scheduled run says so.
 */
static void
evaluate(struct proc_check *pc, pid_t exited)
{
	const struct conf_check *cf = check_conf(pc->c);
	struct proc_result r;

	memset(&r, 0, sizeof(r));
	if (cf->pidfile != NULL)
		eval_pidfile(pc, &r);
	else
		eval_scan(pc, &r);

	/* Watch only when losing this one process makes the check fail. */
	if (r.ok && r.n == 1 && cf->min_count >= 1)
		watch(pc, r.pid, r.start);
	else
		unwatch(pc);

	if (exited == 0)
		check_done(pc->c, r.ok, r.reason, "%s", r.detail);
	else if (!r.ok)
		check_done(pc->c, false, HEALTH_R_PROC_GONE, "pid %d exited",
		    (int)exited);
}

static int
proc_init(struct check *c)
{
	const struct conf_check *cf = check_conf(c);
	struct proc_check *pc;

	if (cf->pidfile == NULL && cf->proc_name == NULL &&
	    cf->cmdline == NULL && !cf->has_user) {
		log_err("check %s: no pidfile, name, cmdline or user to match",
		    check_name(c));
		return -1;
	}
	if (check_env(c)->sysstat == NULL) {
		log_err("check %s: no process table reader", check_name(c));
		return -1;
	}
	pc = xcalloc(1, sizeof(*pc));
	pc->c = c;
	pc->pidfd = -1;
	check_set_priv(c, pc);
	return 0;
}

static void
proc_start(struct check *c)
{
	evaluate(check_priv(c), 0);
}

static void
proc_fini(struct check *c)
{
	struct proc_check *pc = check_priv(c);

	if (pc == NULL)
		return;
	unwatch(pc);
	free(pc);
	check_set_priv(c, NULL);
}

/* A run finishes inside start(), so there is never anything to cancel. */
const struct check_ops check_proc_ops = {
    .init = proc_init,
    .start = proc_start,
    .cancel = NULL,
    .fini = proc_fini,
};
