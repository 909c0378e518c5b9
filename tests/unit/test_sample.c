/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for sysstat and sample: the pure CPU and used-% arithmetic, the
 * /proc parsers against fixture text, live reads from every backend built
 * in, a cross-check that the backends agree, and the sampler itself.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sample.h"
#include "sysstat.h"
#include "tap.h"
#include "util.h"

static void
test_cpu_pct(void)
{
	struct sysstat_cpu a = {1000, 800}, b;

	b = (struct sysstat_cpu){1100, 850};
	is_dbl(sample_cpu_pct(&a, &b), 50.0, 1e-9, "cpu: half busy");
	b = (struct sysstat_cpu){1100, 900};
	is_dbl(sample_cpu_pct(&a, &b), 0.0, 1e-9, "cpu: all idle");
	b = (struct sysstat_cpu){1200, 800};
	is_dbl(sample_cpu_pct(&a, &b), 100.0, 1e-9, "cpu: all busy");
	b = a;
	is_dbl(sample_cpu_pct(&a, &b), 0.0, 0, "cpu: zero delta gives 0");
	b = (struct sysstat_cpu){900, 700};
	is_dbl(sample_cpu_pct(&a, &b), 0.0, 0,
	    "cpu: counters backwards give 0");
	b = (struct sysstat_cpu){1100, 790};
	is_dbl(sample_cpu_pct(&a, &b), 100.0, 1e-9,
	    "cpu: idle (iowait) backwards is clamped");
	b = (struct sysstat_cpu){1100, 1000};
	is_dbl(sample_cpu_pct(&a, &b), 0.0, 1e-9,
	    "cpu: idle delta above total delta is clamped");
	a = (struct sysstat_cpu){UINT64_MAX - 50, UINT64_MAX - 100};
	b = (struct sysstat_cpu){UINT64_MAX - 10, UINT64_MAX - 80};
	is_dbl(sample_cpu_pct(&a, &b), 50.0, 1e-9, "cpu: near 2^64 is exact");
}

static void
test_used_pct(void)
{
	is_dbl(sample_used_pct(100, 25), 75.0, 1e-9, "used: 75%%");
	is_dbl(sample_used_pct(0, 0), 0.0, 0, "used: total 0 gives 0");
	is_dbl(sample_used_pct(100, 100), 0.0, 0, "used: all available");
	is_dbl(sample_used_pct(100, 200), 0.0, 0,
	    "used: avail > total gives 0");
	is_dbl(sample_used_pct(24684092, 23974616), 2.874222, 1e-5,
	    "used: real meminfo figures");
}

static void
test_parse_system(void)
{
	struct sysstat_cpu c;
	struct sysstat_mem m;
	double l[3];

	ok(sysstat_parse_stat_cpu("cpu  2849 0 3140 61839 751 0 120 1678 10 0\n"
	                          "cpu0 1 2 3 4 5 6 7 8 9 10\nintr 1 2 3\n",
	       &c) == 0,
	    "stat: parses");
	is_int(c.total, 2849 + 3140 + 61839 + 751 + 120 + 1678,
	    "stat: total is the 8 base fields (guest excluded)");
	is_int(c.idle, 61839 + 751, "stat: idle is idle + iowait");
	ok(sysstat_parse_stat_cpu("cpu 1 2 3 4\n", &c) == 0 && c.total == 10 &&
	        c.idle == 4,
	    "stat: an old kernel with 4 fields");
	errno = 0;
	ok(sysstat_parse_stat_cpu("cpu0 1 2 3 4 5\n", &c) == -1 &&
	        errno == EINVAL,
	    "stat: no summary line is EINVAL");
	ok(sysstat_parse_stat_cpu("cpu  1 2 x\n", &c) == -1,
	    "stat: garbage is rejected");
	ok(sysstat_parse_stat_cpu("", &c) == -1, "stat: empty is rejected");

	ok(sysstat_parse_meminfo("MemTotal:       24684092 kB\n"
	                         "MemFree:        24243564 kB\n"
	                         "MemAvailable:   24367324 kB\n"
	                         "SwapCached:            0 kB\n"
	                         "SwapTotal:        1048572 kB\n"
	                         "SwapFree:          524288 kB\n",
	       &m) == 0,
	    "meminfo: parses");
	is_int(m.mem_total, 24684092, "meminfo: MemTotal");
	is_int(m.mem_available, 24367324, "meminfo: MemAvailable");
	is_int(m.swap_total, 1048572, "meminfo: SwapTotal");
	is_int(m.swap_free, 524288, "meminfo: SwapFree (not SwapCached)");
	ok(sysstat_parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\n"
	                         "Buffers: 20 kB\nCached: 300 kB\n",
	       &m) == 0 &&
	        m.mem_available == 420 && m.swap_total == 0,
	    "meminfo: no MemAvailable falls back to free+buffers+cached");
	ok(sysstat_parse_meminfo("MemFree: 100 kB\n", &m) == -1,
	    "meminfo: no MemTotal is rejected");

	ok(sysstat_parse_loadavg("0.41 0.22 12.09 2/86 7847\n", l) == 0 &&
	        l[0] == 0.41 && l[1] == 0.22 && l[2] == 12.09,
	    "loadavg: parses");
	ok(sysstat_parse_loadavg("0.41 x", l) == -1, "loadavg: garbage");
	ok(sysstat_parse_loadavg("nan 1 1\n", l) == -1, "loadavg: nan");
}

/* A /proc/PID/stat line with comm = c and starttime 987654. */
static void
fake_stat(char *buf, size_t len, const char *c)
{
	snprintf(buf, len,
	    "4242 (%s) S 1 4242 4242 0 -1 4194560 1193 0 0 0 5 3 0 0 20 0 "
	    "1 0 987654 12345678 900 18446744073709551615 1 1 0 0 0 0 0 0 "
	    "0 0 0 0 17 1 0 0 0 0 0\n",
	    c);
}

static void
test_parse_pid(void)
{
	struct sysstat_proc p;
	char buf[512], out[16];
	uid_t uid;
	pid_t tgid;

	fake_stat(buf, sizeof(buf), "my (weird) proc");
	ok(sysstat_parse_pid_stat(buf, &p) == 0, "pid stat: parses");
	is_int(p.pid, 4242, "pid stat: pid");
	is_str(p.comm, "my (weird) proc", "pid stat: comm with ( ) and spaces");
	is_int(p.state, 'S', "pid stat: state");
	is_int(p.starttime, 987654, "pid stat: starttime (field 22)");

	fake_stat(buf, sizeof(buf), "a) R 1 (b");
	ok(sysstat_parse_pid_stat(buf, &p) == 0 &&
	        strcmp(p.comm, "a) R 1 (b") == 0 && p.state == 'S' &&
	        p.starttime == 987654,
	    "pid stat: comm that looks like fields ends at the last ')'");

	fake_stat(buf, sizeof(buf), "kworker/R-kvfree_rcu_reclaim");
	ok(sysstat_parse_pid_stat(buf, &p) == 0, "pid stat: long comm parses");
	is_str(p.comm, "kworker/R-kvfre", "pid stat: comm truncated to 15");

	fake_stat(buf, sizeof(buf), "");
	ok(sysstat_parse_pid_stat(buf, &p) == 0 && p.comm[0] == '\0',
	    "pid stat: empty comm");
	ok(sysstat_parse_pid_stat("4242 (x) S 1 2 3\n", &p) == -1,
	    "pid stat: truncated line is rejected");
	ok(sysstat_parse_pid_stat("4242 x S 1 2 3\n", &p) == -1,
	    "pid stat: no parentheses is rejected");
	ok(sysstat_parse_pid_stat("", &p) == -1, "pid stat: empty");

	ok(sysstat_parse_pid_status("Name:\tx\nUmask:\t0022\nState:\tS\n"
	                            "Tgid:\t4242\nNgid:\t0\nPid:\t4242\n"
	                            "Uid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
	       &uid, &tgid) == 0 &&
	        uid == 1000 && tgid == 4242,
	    "pid status: the real uid and tgid");
	ok(sysstat_parse_pid_status("Name:\tUid: 5\nTgid:\t7\nUid:\t42\t0\n",
	       &uid, &tgid) == 0 &&
	        uid == 42,
	    "pid status: Uid only at a line start");
	ok(sysstat_parse_pid_status("Name:\tx\nTgid:\t7\n", &uid, &tgid) == -1,
	    "pid status: no Uid is rejected");

	sysstat_join_cmdline(out, sizeof(out), "ab\0c d\0e\0\0\0", 11);
	is_str(out, "ab c d e", "cmdline: NULs to spaces, trailing dropped");
	sysstat_join_cmdline(out, sizeof(out), "0123456789\0abcdefgh\0", 20);
	is_str(out, "0123456789 abcd", "cmdline: truncated to the buffer");
	sysstat_join_cmdline(out, sizeof(out), "", 0);
	is_str(out, "", "cmdline: empty");
	sysstat_join_cmdline(out, sizeof(out), "\0\0", 2);
	is_str(out, "", "cmdline: only NULs");
}

struct find {
	pid_t pid;
	struct sysstat_proc found;
	int n, seen;
	int stop_after;
};

static int
find_cb(const struct sysstat_proc *p, void *arg)
{
	struct find *f = arg;

	f->n++;
	if (p->pid == f->pid) {
		f->found = *p;
		f->seen++;
	}
	return f->stop_after > 0 && f->n >= f->stop_after;
}

static char self_comm[16];
static const char *self_arg0;

static void
test_live(enum sysstat_backend b)
{
	const char *bn = sysstat_backend_names[b];
	struct sysstat *ss = sysstat_new_backend(b);
	struct sysstat_cpu c;
	struct sysstat_mem m;
	struct sysstat_proc p;
	struct find f;
	double l[3];
	pid_t child;
	int rc;

	if (!ok(ss != NULL, "%s: opens", bn))
		return;
	is_int(sysstat_backend(ss), b, "%s: reports its backend", bn);
	memset(&c, 0, sizeof(c));
	memset(&m, 0, sizeof(m));
	memset(l, 0, sizeof(l));
	rc = sysstat_cpu(ss, &c);
	ok(rc == 0 && c.total > 0 && c.idle <= c.total,
	    "%s: cpu total %llu idle %llu", bn, (unsigned long long)c.total,
	    (unsigned long long)c.idle);
	rc = sysstat_mem(ss, &m);
	ok(rc == 0 && m.mem_total > 1024 && m.mem_available <= m.mem_total &&
	        m.swap_free <= m.swap_total,
	    "%s: mem total %llu avail %llu kB", bn,
	    (unsigned long long)m.mem_total,
	    (unsigned long long)m.mem_available);
	rc = sysstat_load(ss, l);
	ok(rc == 0 && l[0] >= 0 && l[1] >= 0 && l[2] >= 0,
	    "%s: load %.2f %.2f %.2f", bn, l[0], l[1], l[2]);

	memset(&p, 0, sizeof(p));
	ok(sysstat_proc_get(ss, getpid(), true, &p) == 0, "%s: get self", bn);
	is_int(p.pid, getpid(), "%s: self pid", bn);
	is_str(p.comm, self_comm, "%s: self comm", bn);
	is_int(p.uid, getuid(), "%s: self uid", bn);
	is_int(p.state, 'R', "%s: self is running", bn);
	ok(p.starttime > 0, "%s: self starttime %llu", bn, p.starttime);
	ok(strncmp(p.cmdline, self_arg0, strlen(self_arg0)) == 0 &&
	        strstr(p.cmdline, " --marker x") != NULL,
	    "%s: self cmdline \"%s\"", bn, p.cmdline);
	ok(sysstat_proc_get(ss, getpid(), false, &p) == 0 &&
	        p.cmdline[0] == '\0',
	    "%s: no cmdline unless asked", bn);

	errno = 0;
	ok(sysstat_proc_get(ss, INT_MAX, false, &p) == -1 && errno == ESRCH,
	    "%s: nonexistent pid is ESRCH", bn);
	errno = 0;
	ok(sysstat_proc_get(ss, 0, false, &p) == -1 && errno == ESRCH,
	    "%s: pid 0 is ESRCH", bn);

	memset(&f, 0, sizeof(f));
	f.pid = getpid();
	ok(sysstat_proc_scan(ss, true, find_cb, &f) == 0, "%s: scan", bn);
	ok(f.n > 1, "%s: scan saw %d processes", bn, f.n);
	is_int(f.seen, 1, "%s: scan saw self once", bn);
	ok(strcmp(f.found.comm, self_comm) == 0 && f.found.uid == getuid() &&
	        strstr(f.found.cmdline, " --marker x") != NULL,
	    "%s: scan's self has comm, uid and cmdline", bn);

	memset(&f, 0, sizeof(f));
	f.stop_after = 1;
	ok(sysstat_proc_scan(ss, false, find_cb, &f) == 0 && f.n == 1,
	    "%s: a non-zero callback return stops the scan", bn);

	/* A zombie: reported, with state 'Z' and no cmdline. */
	child = fork();
	if (child == 0)
		_exit(0);
	if (child > 0) {
		int i, st;

		for (i = 0; i < 1000; i++) {
			if (sysstat_proc_get(ss, child, true, &p) == 0 &&
			    p.state == 'Z')
				break;
			usleep(2000);
		}
		ok(p.pid == child && p.state == 'Z' && p.cmdline[0] == '\0',
		    "%s: zombie child has state Z and no cmdline", bn);
		memset(&f, 0, sizeof(f));
		f.pid = child;
		ok(sysstat_proc_scan(ss, true, find_cb, &f) == 0 &&
		        f.seen == 1 && f.found.state == 'Z',
		    "%s: scan reports the zombie", bn);
		waitpid(child, &st, 0);
		errno = 0;
		ok(sysstat_proc_get(ss, child, false, &p) == -1 &&
		        errno == ESRCH,
		    "%s: reaped child is ESRCH", bn);
	}
	sysstat_free(ss);
}

#ifdef HAVE_LIBPROC2
static void
test_cross(void)
{
	struct sysstat *a = sysstat_new_backend(SYSSTAT_PROC);
	struct sysstat *b = sysstat_new_backend(SYSSTAT_LIBPROC2);
	struct sysstat_cpu c1, c2, c3;
	struct sysstat_mem m1, m2;
	struct sysstat_proc p1, p2;
	struct find f1, f2;
	int rc;

	if (!ok(a != NULL && b != NULL, "cross: both backends open"))
		return;
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	rc = sysstat_mem(a, &m1) | sysstat_mem(b, &m2);
	ok(rc == 0 && m1.mem_total == m2.mem_total &&
	        m1.swap_total == m2.swap_total,
	    "cross: MemTotal and SwapTotal agree (%llu)",
	    (unsigned long long)m1.mem_total);
	/* Counters only grow: libproc2's read lies between two /proc reads. */
	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&c3, 0, sizeof(c3));
	rc = sysstat_cpu(a, &c1) | sysstat_cpu(b, &c2) | sysstat_cpu(a, &c3);
	ok(rc == 0, "cross: cpu reads");
	ok(c1.total <= c2.total && c2.total <= c3.total,
	    "cross: cpu totals agree (%llu <= %llu <= %llu)",
	    (unsigned long long)c1.total, (unsigned long long)c2.total,
	    (unsigned long long)c3.total);
	ok(c3.total - c1.total < 1000, "cross: cpu totals within tolerance");

	ok(sysstat_proc_get(a, getpid(), true, &p1) == 0 &&
	        sysstat_proc_get(b, getpid(), true, &p2) == 0,
	    "cross: both get self");
	ok(p1.uid == p2.uid && p1.starttime == p2.starttime &&
	        strcmp(p1.comm, p2.comm) == 0 &&
	        strcmp(p1.cmdline, p2.cmdline) == 0,
	    "cross: self agrees (comm, uid, starttime, cmdline)");

	memset(&f1, 0, sizeof(f1));
	memset(&f2, 0, sizeof(f2));
	f1.pid = f2.pid = getpid();
	ok(sysstat_proc_scan(a, false, find_cb, &f1) == 0 &&
	        sysstat_proc_scan(b, false, find_cb, &f2) == 0,
	    "cross: both scan");
	ok(f1.seen == 1 && f2.seen == 1 &&
	        strcmp(f1.found.comm, f2.found.comm) == 0 &&
	        f1.found.uid == f2.found.uid,
	    "cross: both scans find self with the same comm and uid");
	ok(abs(f1.n - f2.n) <= 5, "cross: process counts agree (%d, %d)", f1.n,
	    f2.n);

	memset(&f1, 0, sizeof(f1));
	memset(&f2, 0, sizeof(f2));
	f1.pid = f2.pid = 1;
	rc = sysstat_proc_scan(a, true, find_cb, &f1) |
	    sysstat_proc_scan(b, true, find_cb, &f2);
	ok(rc == 0 && f1.seen == 1 && f2.seen == 1 &&
	        strcmp(f1.found.comm, f2.found.comm) == 0 &&
	        strcmp(f1.found.cmdline, f2.found.cmdline) == 0 &&
	        f1.found.uid == f2.found.uid &&
	        f1.found.starttime == f2.found.starttime,
	    "cross: pid 1 agrees (%s)", f1.found.comm);
	sysstat_free(a);
	sysstat_free(b);
}
#endif

static void
test_sampler(enum sysstat_backend b)
{
	const char *bn = sysstat_backend_names[b];
	struct sysstat *ss = sysstat_new_backend(b);
	struct sampler *s;
	struct sample smp;
	struct sysstat_cpu c0, c;
	double v;
	int i, rc;

	if (ss == NULL)
		return;
	memset(&smp, 0, sizeof(smp));
	s = sampler_new(ss, "/");
	ok(!sample_metric(&smp, CONF_METRIC_MEM, &v),
	    "%s sampler: nothing before the first read", bn);
	is_int(sampler_read(s, &smp, 1000), 0, "%s sampler: first read", bn);
	ok(smp.valid && smp.at == 1000 && !smp.cpu_valid,
	    "%s sampler: valid, cpu not yet", bn);
	ok(!sample_metric(&smp, CONF_METRIC_CPU, &v),
	    "%s sampler: cpu unavailable after one reading", bn);
	v = -1;
	rc = sample_metric(&smp, CONF_METRIC_MEM, &v);
	ok(rc && v > 0 && v < 100 && v == smp.mem_used_pct,
	    "%s sampler: mem_used_percent %.1f", bn, v);
	v = -1;
	rc = sample_metric(&smp, CONF_METRIC_DISK, &v);
	ok(rc && v >= 0 && v <= 100 && smp.disk_total_kb > 0 &&
	        smp.disk_avail_kb <= smp.disk_total_kb,
	    "%s sampler: disk_used_percent %.1f", bn, v);
	v = -1;
	rc = sample_metric(&smp, CONF_METRIC_SWAP, &v);
	ok(rc && v >= 0 && v <= 100, "%s sampler: swap_used_percent %.1f", bn,
	    v);
	ok(sample_metric(&smp, CONF_METRIC_LOAD15, &v) && v == smp.load[2],
	    "%s sampler: load15", bn);

	/* Wait (bounded) for at least one tick so the second read counts. */
	sysstat_cpu(ss, &c0);
	for (i = 0; i < 2000; i++) {
		sysstat_cpu(ss, &c);
		if (c.total > c0.total)
			break;
		usleep(1000);
	}
	is_int(sampler_read(s, &smp, 2000), 0, "%s sampler: second read", bn);
	v = -1;
	rc = sample_metric(&smp, CONF_METRIC_CPU, &v);
	ok(smp.cpu_valid && rc && v >= 0 && v <= 100,
	    "%s sampler: cpu_usage_percent %.1f after two readings", bn, v);
	is_int(smp.errors, 0, "%s sampler: no errors", bn);
	sampler_free(s);

	s = sampler_new(ss, "/nonexistent/healthagent-test");
	is_int(sampler_read(s, &smp, 3000), -1,
	    "%s sampler: a bad disk path fails the read", bn);
	ok(!smp.disk_valid && !sample_metric(&smp, CONF_METRIC_DISK, &v) &&
	        smp.mem_valid && smp.load_valid && smp.errors == 1,
	    "%s sampler: only disk is invalid, errors counted", bn);
	sampler_free(s);
	sysstat_free(ss);
}

int
main(int argc, char **argv)
{
	const char *slash;
	enum sysstat_backend b;
	struct sysstat *ss;

	/* Re-exec with a marker so that the cmdline is known; by the real
	 * path, since comm is the basename of the path given to execve. */
	if (argc < 3 || strcmp(argv[1], "--marker") != 0) {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n <= 0) {
			perror("readlink /proc/self/exe");
			return 1;
		}
		exe[n] = '\0';
		execl(exe, exe, "--marker", "x", (char *)NULL);
		perror("execl");
		return 1;
	}
	self_arg0 = argv[0];
	slash = strrchr(argv[0], '/');
	util_strlcpy(self_comm, slash ? slash + 1 : argv[0], sizeof(self_comm));

	test_cpu_pct();
	test_used_pct();
	test_parse_system();
	test_parse_pid();

	ss = sysstat_new();
	ok(ss != NULL, "sysstat_new opens the preferred backend");
#ifdef HAVE_LIBPROC2
	ok(ss != NULL && sysstat_backend(ss) == SYSSTAT_LIBPROC2,
	    "the preferred backend is libproc2");
#else
	ok(sysstat_new_backend(SYSSTAT_LIBPROC2) == NULL,
	    "libproc2 is not built in");
	ok(ss != NULL && sysstat_backend(ss) == SYSSTAT_PROC,
	    "the preferred backend is /proc");
#endif
	sysstat_free(ss);
	ok(sysstat_new_backend(SYSSTAT_BACKEND_MAX) == NULL,
	    "an unknown backend gives NULL");

	for (b = 0; b < SYSSTAT_BACKEND_MAX; b++) {
#ifndef HAVE_LIBPROC2
		if (b == SYSSTAT_LIBPROC2)
			continue;
#endif
		test_live(b);
		test_sampler(b);
	}
#ifdef HAVE_LIBPROC2
	test_cross();
#endif
	return done_testing();
}
