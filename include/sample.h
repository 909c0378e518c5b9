/* SPDX-License-Identifier: ISC */
/*
 * System samples: CPU % (delta of all tick counters), memory used % (from
 * MemAvailable), swap used %, load averages and the used % of one
 * filesystem. A sampler keeps the previous CPU reading to compute deltas.
 */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "sysstat.h"
#include "util.h"

struct sample {
	bool valid;     /* at least one successful read */
	bool cpu_valid; /* needs two CPU readings */
	/* Whether the last read of each part succeeded; a failed part keeps
	 * its previous values but is not valid. */
	bool mem_valid, disk_valid, load_valid;
	mono_ms at;
	double cpu_pct;
	double mem_used_pct;
	double swap_used_pct; /* 0 when there is no swap */
	double disk_used_pct;
	double load[3];
	uint64_t mem_total_kb, mem_available_kb;
	uint64_t swap_total_kb, swap_free_kb;
	uint64_t disk_total_kb, disk_avail_kb;
	unsigned long errors; /* reads that failed */
};

struct sampler;

/* disk_path: the filesystem whose usage is sampled ("/" by default). */
struct sampler *sampler_new(struct sysstat *ss, const char *disk_path);
void sampler_free(struct sampler *s);
/* Take one sample into *out (which also holds the previous values).
 * Returns 0, or -1 if any part failed (the rest is still filled). */
int sampler_read(struct sampler *s, struct sample *out, mono_ms now);
/* Value of a metric from a sample; false if not available yet. */
bool sample_metric(const struct sample *s, enum conf_metric m, double *val);

/* Pure helpers, exposed for the unit tests. */
double sample_cpu_pct(const struct sysstat_cpu *prev,
    const struct sysstat_cpu *cur);
double sample_used_pct(uint64_t total, uint64_t avail);

#endif
