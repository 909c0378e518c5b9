/* SPDX-License-Identifier: ISC */
/*
 * The system sampler: one sampler_read() per tick turns sysstat counters and
 * a statvfs() of one filesystem into percentages. CPU % is the busy share of
 * the tick delta since the previous reading, so it needs two readings. The
 * sampler does no scheduling of its own; the daemon calls it on a timer.
 * A part that fails keeps its old values, is marked invalid, and is logged
 * once when it starts failing and once when it recovers.
 */
#include "config.h"

#include <sys/statvfs.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sample.h"
#include "xmalloc.h"

enum part { PART_CPU, PART_MEM, PART_LOAD, PART_DISK, PART_MAX };

static const char *const part_names[PART_MAX] = {
    [PART_CPU] = "cpu",
    [PART_MEM] = "memory",
    [PART_LOAD] = "load average",
    [PART_DISK] = "disk",
};
_Static_assert(sizeof(part_names) / sizeof(part_names[0]) == PART_MAX,
    "part_names");

struct sampler {
	struct sysstat *ss;
	char *disk_path;
	struct sysstat_cpu prev;
	bool have_prev;
	unsigned failing; /* bit per enum part */
};

double
sample_cpu_pct(const struct sysstat_cpu *prev, const struct sysstat_cpu *cur)
{
	uint64_t dtotal, didle;

	/* Counters going backwards (CPU hot-unplug) or not moving: no data. */
	if (cur->total <= prev->total)
		return 0.0;
	dtotal = cur->total - prev->total;
	/* iowait is known to go backwards on some kernels; clamp. */
	didle = cur->idle > prev->idle ? cur->idle - prev->idle : 0;
	if (didle > dtotal)
		didle = dtotal;
	return 100.0 * (double)(dtotal - didle) / (double)dtotal;
}

double
sample_used_pct(uint64_t total, uint64_t avail)
{
	if (total == 0 || avail >= total)
		return 0.0;
	return 100.0 * (double)(total - avail) / (double)total;
}

struct sampler *
sampler_new(struct sysstat *ss, const char *disk_path)
{
	struct sampler *s = xcalloc(1, sizeof(*s));

	s->ss = ss;
	s->disk_path = xstrdup(disk_path != NULL ? disk_path : "/");
	return s;
}

void
sampler_free(struct sampler *s)
{
	if (s == NULL)
		return;
	free(s->disk_path);
	free(s);
}

/* Log only transitions between working and failing. */
static void
part_result(struct sampler *s, enum part p, bool ok, int err)
{
	unsigned bit = 1u << p;

	if (!ok && !(s->failing & bit)) {
		if (p == PART_DISK)
			log_warn("sample: statvfs %s: %s", s->disk_path,
			    strerror(err));
		else
			log_warn("sample: cannot read %s: %s", part_names[p],
			    strerror(err));
		s->failing |= bit;
	} else if (ok && (s->failing & bit)) {
		log_info("sample: reading %s works again", part_names[p]);
		s->failing &= ~bit;
	}
}

static bool
read_cpu(struct sampler *s, struct sample *out)
{
	struct sysstat_cpu cur;

	if (sysstat_cpu(s->ss, &cur) == -1) {
		part_result(s, PART_CPU, false, errno);
		out->cpu_valid = false;
		return false;
	}
	part_result(s, PART_CPU, true, 0);
	if (!s->have_prev || cur.total < s->prev.total) {
		/* First reading, or the counters were reset: resync. */
		s->prev = cur;
		s->have_prev = true;
		out->cpu_valid = false;
	} else if (cur.total > s->prev.total) {
		out->cpu_pct = sample_cpu_pct(&s->prev, &cur);
		out->cpu_valid = true;
		s->prev = cur;
	}
	/* No tick since the last reading: keep the previous figure. */
	return true;
}

static bool
read_mem(struct sampler *s, struct sample *out)
{
	struct sysstat_mem m;

	if (sysstat_mem(s->ss, &m) == -1) {
		part_result(s, PART_MEM, false, errno);
		out->mem_valid = false;
		return false;
	}
	part_result(s, PART_MEM, true, 0);
	out->mem_total_kb = m.mem_total;
	out->mem_available_kb = m.mem_available;
	out->swap_total_kb = m.swap_total;
	out->swap_free_kb = m.swap_free;
	out->mem_used_pct = sample_used_pct(m.mem_total, m.mem_available);
	out->swap_used_pct = sample_used_pct(m.swap_total, m.swap_free);
	out->mem_valid = true;
	return true;
}

static bool
read_load(struct sampler *s, struct sample *out)
{
	double load[3];

	if (sysstat_load(s->ss, load) == -1) {
		part_result(s, PART_LOAD, false, errno);
		out->load_valid = false;
		return false;
	}
	part_result(s, PART_LOAD, true, 0);
	memcpy(out->load, load, sizeof(out->load));
	out->load_valid = true;
	return true;
}

/*
 * Like df: used = blocks - bfree, and the percentage is taken over what an
 * unprivileged user can reach (used + bavail), leaving out reserved blocks.
 * statvfs() of a hung network filesystem could block; disk_path is meant
 * to be a local filesystem.
 */
static bool
read_disk(struct sampler *s, struct sample *out)
{
	struct statvfs v;
	uint64_t used, frsize;

	if (statvfs(s->disk_path, &v) == -1) {
		part_result(s, PART_DISK, false, errno);
		out->disk_valid = false;
		return false;
	}
	part_result(s, PART_DISK, true, 0);
	frsize = v.f_frsize != 0 ? v.f_frsize : v.f_bsize;
	used = v.f_blocks >= v.f_bfree ? v.f_blocks - v.f_bfree : 0;
	out->disk_total_kb = (uint64_t)v.f_blocks * frsize / 1024;
	out->disk_avail_kb = (uint64_t)v.f_bavail * frsize / 1024;
	out->disk_used_pct = sample_used_pct(used + v.f_bavail, v.f_bavail);
	out->disk_valid = true;
	return true;
}

int
sampler_read(struct sampler *s, struct sample *out, mono_ms now)
{
	bool ok = true, any = false;

	if (read_cpu(s, out))
		any = true;
	else
		ok = false;
	if (read_mem(s, out))
		any = true;
	else
		ok = false;
	if (read_load(s, out))
		any = true;
	else
		ok = false;
	if (read_disk(s, out))
		any = true;
	else
		ok = false;
	if (any) {
		out->valid = true;
		out->at = now;
	}
	if (!ok)
		out->errors++;
	return ok ? 0 : -1;
}

bool
sample_metric(const struct sample *s, enum conf_metric m, double *val)
{
	switch (m) {
	case CONF_METRIC_CPU:
		if (!s->cpu_valid)
			return false;
		*val = s->cpu_pct;
		return true;
	case CONF_METRIC_MEM:
		if (!s->mem_valid)
			return false;
		*val = s->mem_used_pct;
		return true;
	case CONF_METRIC_SWAP:
		if (!s->mem_valid)
			return false;
		*val = s->swap_used_pct;
		return true;
	case CONF_METRIC_DISK:
		if (!s->disk_valid)
			return false;
		*val = s->disk_used_pct;
		return true;
	case CONF_METRIC_LOAD1:
	case CONF_METRIC_LOAD5:
	case CONF_METRIC_LOAD15:
		if (!s->load_valid)
			return false;
		*val = s->load[m - CONF_METRIC_LOAD1];
		return true;
	case CONF_METRIC_MAX:
		break;
	}
	return false;
}
