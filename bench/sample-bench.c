/* SPDX-License-Identifier: ISC */
/*
 * Cost of the system sampler and the process table reads, per sysstat
 * backend: one sampler_read() tick (cpu + meminfo + loadavg + statvfs), its
 * parts, a one-pid lookup and a full process scan with and without cmdline.
 * Prints mean, p50 and p99 in microseconds. Not a test: it never fails on
 * a figure. See bench/README.md for how to build and run it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sample.h"
#include "sysstat.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *backend, const char *what, double *v, int n)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%-9s %-28s %7d %10.1f %10.1f %10.1f\n", backend, what, n,
	    sum / n, v[n / 2], v[(int)((double)n * 0.99)]);
}

struct bench_ctx {
	struct sysstat *ss;
	struct sampler *sampler;
	struct sample sample;
	int procs;
};

static int
count_cb(const struct sysstat_proc *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

enum op { OP_TICK, OP_CPU, OP_MEM, OP_LOAD, OP_GET, OP_SCAN, OP_SCAN_CMD };

static int
do_op(struct bench_ctx *b, enum op op)
{
	struct sysstat_cpu c;
	struct sysstat_mem m;
	struct sysstat_proc p;
	double l[3];
	int n = 0, rc = -1;

	switch (op) {
	case OP_TICK:
		rc = sampler_read(b->sampler, &b->sample, 0);
		break;
	case OP_CPU:
		rc = sysstat_cpu(b->ss, &c);
		break;
	case OP_MEM:
		rc = sysstat_mem(b->ss, &m);
		break;
	case OP_LOAD:
		rc = sysstat_load(b->ss, l);
		break;
	case OP_GET:
		rc = sysstat_proc_get(b->ss, getpid(), false, &p);
		break;
	case OP_SCAN:
	case OP_SCAN_CMD:
		rc = sysstat_proc_scan(b->ss, op == OP_SCAN_CMD, count_cb, &n);
		b->procs = n;
		break;
	}
	return rc;
}

static void
measure(struct bench_ctx *b, const char *backend, const char *what, enum op op,
    int n)
{
	double *v = calloc((size_t)n, sizeof(*v));
	double t0;
	int i;

	if (v == NULL) {
		perror("calloc");
		exit(1);
	}
	for (i = 0; i < 10; i++)
		do_op(b, op);
	for (i = 0; i < n; i++) {
		t0 = now_us();
		if (do_op(b, op) == -1) {
			fprintf(stderr, "%s %s: %s\n", backend, what,
			    strerror(errno));
			exit(1);
		}
		v[i] = now_us() - t0;
	}
	report(backend, what, v, n);
	free(v);
}

int
main(int argc, char **argv)
{
	int ticks = argc > 1 ? atoi(argv[1]) : 10000;
	int scans = argc > 2 ? atoi(argv[2]) : 200;
	enum sysstat_backend be;
	char what[64];

	if (ticks < 10 || scans < 10) {
		fprintf(stderr,
		    "usage: sample-bench [ticks>=10 [scans>=10]]\n");
		return 2;
	}
	printf("%-9s %-28s %7s %10s %10s %10s\n", "backend", "operation", "n",
	    "mean_us", "p50_us", "p99_us");
	for (be = 0; be < SYSSTAT_BACKEND_MAX; be++) {
		const char *bn = sysstat_backend_names[be];
		struct bench_ctx b;

		memset(&b, 0, sizeof(b));
		b.ss = sysstat_new_backend(be);
		if (b.ss == NULL) {
			printf("%-9s (not built in)\n", bn);
			continue;
		}
		b.sampler = sampler_new(b.ss, "/");
		measure(&b, bn, "sampler_read (tick)", OP_TICK, ticks);
		measure(&b, bn, "  cpu (/proc/stat)", OP_CPU, ticks);
		measure(&b, bn, "  mem (/proc/meminfo)", OP_MEM, ticks);
		measure(&b, bn, "  load (/proc/loadavg)", OP_LOAD, ticks);
		measure(&b, bn, "proc_get (1 pid)", OP_GET, ticks);
		do_op(&b, OP_SCAN);
		snprintf(what, sizeof(what), "proc_scan (%d procs)", b.procs);
		measure(&b, bn, what, OP_SCAN, scans);
		snprintf(what, sizeof(what), "proc_scan+cmdline (%d)", b.procs);
		measure(&b, bn, what, OP_SCAN_CMD, scans);
		sampler_free(b.sampler);
		sysstat_free(b.ss);
	}
	return 0;
}
