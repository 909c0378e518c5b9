/* SPDX-License-Identifier: ISC */
/*
 * The libproc2 (procps-ng 4.0.2+) sysstat backend, built only when configure
 * found the library. It uses only the select/reap calls, which re-read /proc
 * on every call, and reads results through head[i].result: the *_VAL macros
 * changed arity in 4.0.5, the *_get calls cache for a second, and
 * procps_pids_get cannot be rewound. CPU is the sum of the 8 base tick
 * counters, never STAT_TIC_SUM_*, whose meaning changed in 4.0.5.
 */
#include "config.h"

#include <errno.h>
#include <libproc2/meminfo.h>
#include <libproc2/misc.h>
#include <libproc2/pids.h>
#include <libproc2/stat.h>
#include <stdlib.h>
#include <string.h>

#include "sysstat.h"
#include "util.h"
#include "xmalloc.h"

#define RES(st, i) ((st)->head[(i)].result)

#ifndef PF_KTHREAD
#define PF_KTHREAD 0x00200000UL
#endif

static enum stat_item stat_items[] = {
    STAT_TIC_USER,
    STAT_TIC_NICE,
    STAT_TIC_SYSTEM,
    STAT_TIC_IDLE,
    STAT_TIC_IOWAIT,
    STAT_TIC_IRQ,
    STAT_TIC_SOFTIRQ,
    STAT_TIC_STOLEN,
};

static enum meminfo_item mem_items[] = {
    MEMINFO_MEM_TOTAL,
    MEMINFO_MEM_AVAILABLE,
    MEMINFO_SWAP_TOTAL,
    MEMINFO_SWAP_FREE,
};

/* The status items (uid, tgid) make libproc2 read /proc/PID/status. */
static enum pids_item pid_items[] = {
    PIDS_ID_PID, PIDS_ID_TGID, PIDS_ID_RUID, PIDS_STATE, PIDS_CMD,
    PIDS_TICS_BEGAN, PIDS_FLAGS,
    PIDS_CMDLINE_V, /* only in the cmdline context: keep it last */
};

enum { P_PID, P_TGID, P_RUID, P_STATE, P_CMD, P_BEGAN, P_FLAGS, P_CMDV };

#define N_PID_ITEMS (sizeof(pid_items) / sizeof(pid_items[0]))

struct proc2 {
	struct stat_info *stat;
	struct meminfo_info *mem;
	/* Items are fixed per context: one without and one with cmdline. */
	struct pids_info *pids;
	struct pids_info *pids_cmd;
};

static void
proc2_close(void *be)
{
	struct proc2 *p = be;

	if (p == NULL)
		return;
	if (p->stat != NULL)
		procps_stat_unref(&p->stat);
	if (p->mem != NULL)
		procps_meminfo_unref(&p->mem);
	if (p->pids != NULL)
		procps_pids_unref(&p->pids);
	if (p->pids_cmd != NULL)
		procps_pids_unref(&p->pids_cmd);
	free(p);
}

static int
proc2_cpu(void *be, struct sysstat_cpu *out)
{
	struct proc2 *p = be;
	struct stat_stack *st;
	size_t i;

	st = procps_stat_select(p->stat, stat_items,
	    sizeof(stat_items) / sizeof(stat_items[0]));
	if (st == NULL) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	out->total = 0;
	for (i = 0; i < sizeof(stat_items) / sizeof(stat_items[0]); i++)
		out->total += RES(st, i).ull_int;
	out->idle = RES(st, 3).ull_int + RES(st, 4).ull_int;
	return 0;
}

static int
proc2_mem(void *be, struct sysstat_mem *out)
{
	struct proc2 *p = be;
	struct meminfo_stack *st;

	st = procps_meminfo_select(p->mem, mem_items,
	    sizeof(mem_items) / sizeof(mem_items[0]));
	if (st == NULL) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	out->mem_total = RES(st, 0).ul_int;
	out->mem_available = RES(st, 1).ul_int;
	out->swap_total = RES(st, 2).ul_int;
	out->swap_free = RES(st, 3).ul_int;
	if (out->mem_total == 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static void *
proc2_open(void)
{
	struct proc2 *p = xcalloc(1, sizeof(*p));
	struct sysstat_cpu cpu;
	struct sysstat_mem mem;
	int rc;

	if ((rc = procps_stat_new(&p->stat)) < 0 ||
	    (rc = procps_meminfo_new(&p->mem)) < 0 ||
	    (rc = procps_pids_new(&p->pids, pid_items, N_PID_ITEMS - 1)) < 0)
		goto fail;
	/* The contexts open nothing yet: prove /proc is there. */
	if (proc2_cpu(p, &cpu) == -1 || proc2_mem(p, &mem) == -1) {
		rc = -errno;
		goto fail;
	}
	return p;
fail:
	proc2_close(p);
	errno = rc < 0 ? -rc : EINVAL;
	return NULL;
}

static int
proc2_load(void *be, double load[3])
{
	int rc;

	(void)be;
	rc = procps_loadavg(&load[0], &load[1], &load[2]);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static struct pids_info *
context(struct proc2 *p, bool want_cmdline)
{
	int rc;

	if (!want_cmdline)
		return p->pids;
	if (p->pids_cmd == NULL) {
		rc = procps_pids_new(&p->pids_cmd, pid_items, N_PID_ITEMS);
		if (rc < 0) {
			p->pids_cmd = NULL;
			errno = -rc;
			return NULL;
		}
	}
	return p->pids_cmd;
}

/* Convert one stack; false if it is not a process we report. */
static bool
convert(struct pids_stack *st, bool want_cmdline, struct sysstat_proc *out)
{
	char **v;
	size_t len = 0, n;

	if (RES(st, P_PID).s_int <= 0 ||
	    RES(st, P_PID).s_int != RES(st, P_TGID).s_int)
		return false;
	out->pid = RES(st, P_PID).s_int;
	out->uid = RES(st, P_RUID).u_int;
	out->state = RES(st, P_STATE).s_ch;
	util_strlcpy(out->comm, RES(st, P_CMD).str ? RES(st, P_CMD).str : "",
	    sizeof(out->comm));
	out->starttime = RES(st, P_BEGAN).ull_int;
	out->cmdline[0] = '\0';
	/*
	 * libproc2 turns an empty cmdline into {"-"}; kernel threads and
	 * zombies have none, and the /proc backend reports them as "".
	 */
	if (!want_cmdline || (RES(st, P_FLAGS).ul_int & PF_KTHREAD) ||
	    out->state == 'Z')
		return true;
	for (v = RES(st, P_CMDV).strv; v != NULL && *v != NULL; v++) {
		if (len > 0 && len < sizeof(out->cmdline) - 1)
			out->cmdline[len++] = ' ';
		n = util_strlcpy(out->cmdline + len, *v,
		    sizeof(out->cmdline) - len);
		len += n;
		if (len >= sizeof(out->cmdline) - 1) {
			len = sizeof(out->cmdline) - 1;
			break;
		}
	}
	out->cmdline[len] = '\0';
	return true;
}

static int
proc2_proc_scan(void *be, bool want_cmdline, sysstat_proc_cb cb, void *arg)
{
	struct pids_info *pi = context(be, want_cmdline);
	struct pids_fetch *f;
	struct sysstat_proc sp;
	int i;

	if (pi == NULL)
		return -1;
	f = procps_pids_reap(pi, PIDS_FETCH_TASKS_ONLY);
	if (f == NULL) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	for (i = 0; i < f->counts->total; i++) {
		if (!convert(f->stacks[i], want_cmdline, &sp))
			continue;
		if (cb(&sp, arg) != 0)
			break;
	}
	return 0;
}

static int
proc2_proc_get(void *be, pid_t pid, bool want_cmdline, struct sysstat_proc *out)
{
	struct pids_info *pi;
	struct pids_fetch *f;
	unsigned id;

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	pi = context(be, want_cmdline);
	if (pi == NULL)
		return -1;
	id = (unsigned)pid;
	f = procps_pids_select(pi, &id, 1, PIDS_SELECT_PID);
	if (f == NULL) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	/* Missing pids are left out silently; a thread id is not a process. */
	if (f->counts->total < 1 || !convert(f->stacks[0], want_cmdline, out) ||
	    out->pid != pid) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

const struct sysstat_ops sysstat_libproc2_ops = {
    .open = proc2_open,
    .close = proc2_close,
    .cpu = proc2_cpu,
    .mem = proc2_mem,
    .load = proc2_load,
    .proc_scan = proc2_proc_scan,
    .proc_get = proc2_proc_get,
};
