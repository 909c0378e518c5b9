/* SPDX-License-Identifier: ISC */
/*
 * The sysstat dispatch and the built-in /proc backend. System-wide files
 * (/proc/stat, /proc/meminfo, /proc/loadavg) stay open and are pread() from
 * offset 0, which makes the kernel regenerate them; per-process files are
 * opened relative to a kept /proc directory fd. The uid reported is the real
 * uid from /proc/PID/status: the owner of /proc/PID is the effective uid, and
 * it turns into root for non-dumpable processes (e.g. a daemon that dropped
 * privileges with setuid()), so it would match the wrong user.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysstat.h"
#include "xmalloc.h"

const char *const sysstat_backend_names[SYSSTAT_BACKEND_MAX] = {
    [SYSSTAT_PROC] = "proc",
    [SYSSTAT_LIBPROC2] = "libproc2",
};
_Static_assert(sizeof(sysstat_backend_names) /
            sizeof(sysstat_backend_names[0]) ==
        SYSSTAT_BACKEND_MAX,
    "sysstat_backend_names");

struct sysstat {
	enum sysstat_backend backend;
	const struct sysstat_ops *ops;
	void *be;
};

/* Big enough for the summary line of /proc/stat and for /proc/meminfo. */
#define STAT_BUF 1024
#define MEMINFO_BUF 8192
#define PIDSTAT_BUF 1024
#define STATUS_BUF 2048

/*
 * Parsers.
 */

/* Parse an unsigned decimal at *pp, skipping blanks first; advance *pp. */
static int
parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		p++;
	}
	*pp = p;
	*out = v;
	return 0;
}

int
sysstat_parse_stat_cpu(const char *text, struct sysstat_cpu *out)
{
	const char *p = text;
	uint64_t f[8] = {0};
	int i;

	if (strncmp(p, "cpu ", 4) != 0)
		goto bad;
	p += 4;
	/* Kernels before 2.6.11 lack steal; 2.6 lacks nothing else we use. */
	for (i = 0; i < 8; i++) {
		if (parse_u64(&p, &f[i]) == -1) {
			if (i < 4)
				goto bad;
			break;
		}
	}
	out->total = 0;
	for (i = 0; i < 8; i++)
		out->total += f[i];
	out->idle = f[3] + f[4];
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Value in kB of "key:" at the start of a line of text, or -1. */
static int
meminfo_field(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			return parse_u64(&p, out);
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

int
sysstat_parse_meminfo(const char *text, struct sysstat_mem *out)
{
	uint64_t free_kb, buffers, cached;

	if (meminfo_field(text, "MemTotal", &out->mem_total) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (meminfo_field(text, "MemAvailable", &out->mem_available) == -1) {
		/* Before Linux 3.14: the usual approximation. */
		if (meminfo_field(text, "MemFree", &free_kb) == -1 ||
		    meminfo_field(text, "Buffers", &buffers) == -1 ||
		    meminfo_field(text, "Cached", &cached) == -1) {
			errno = EINVAL;
			return -1;
		}
		out->mem_available = free_kb + buffers + cached;
	}
	if (meminfo_field(text, "SwapTotal", &out->swap_total) == -1)
		out->swap_total = 0;
	if (meminfo_field(text, "SwapFree", &out->swap_free) == -1)
		out->swap_free = 0;
	return 0;
}

int
sysstat_parse_loadavg(const char *text, double load[3])
{
	const char *p = text;
	char *end;
	int i;

	for (i = 0; i < 3; i++) {
		/* strtod is locale-dependent; the daemon never sets a locale.
		 */
		load[i] = strtod(p, &end);
		if (end == p || !(load[i] >= 0 && load[i] < 1e9) ||
		    (*end != ' ' && *end != '\n' && *end != '\0')) {
			errno = EINVAL;
			return -1;
		}
		p = end;
	}
	return 0;
}

int
sysstat_parse_pid_stat(const char *text, struct sysstat_proc *out)
{
	const char *open, *close, *p;
	uint64_t v, pid;
	size_t n;
	int field;

	/* comm may hold spaces and ')': it ends at the last ')'. */
	p = text;
	if (parse_u64(&p, &pid) == -1 || pid == 0 || pid > INT_MAX)
		goto bad;
	open = strchr(p, '(');
	close = strrchr(p, ')');
	if (open == NULL || close == NULL || close < open || open != p + 1)
		goto bad;
	n = (size_t)(close - open - 1);
	if (n > sizeof(out->comm) - 1)
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, n);
	out->comm[n] = '\0';
	p = close + 1;
	if (p[0] != ' ' || p[1] == '\0' || p[2] != ' ')
		goto bad;
	out->state = p[1];
	p += 2;
	/* Fields 4 (ppid) to 22 (starttime); the state was field 3. */
	for (field = 4; field <= 22; field++) {
		/* A few fields (e.g. tty_nr on some kernels) may be negative.
		 */
		while (*p == ' ')
			p++;
		if (*p == '-')
			p++;
		if (parse_u64(&p, &v) == -1)
			goto bad;
	}
	out->pid = (pid_t)pid;
	out->starttime = v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
sysstat_parse_pid_status(const char *text, uid_t *uid, pid_t *tgid)
{
	const char *p = text;
	bool have_uid = false, have_tgid = false;
	uint64_t v;

	while (p != NULL && *p != '\0' && !(have_uid && have_tgid)) {
		if (strncmp(p, "Uid:", 4) == 0) {
			p += 4;
			if (parse_u64(&p, &v) == -1 || v > UINT32_MAX)
				break;
			*uid = (uid_t)v;
			have_uid = true;
		} else if (strncmp(p, "Tgid:", 5) == 0) {
			p += 5;
			if (parse_u64(&p, &v) == -1 || v == 0 || v > INT_MAX)
				break;
			*tgid = (pid_t)v;
			have_tgid = true;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (!have_uid || !have_tgid) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

void
sysstat_join_cmdline(char *dst, size_t size, const char *raw, size_t len)
{
	size_t i;

	if (size == 0)
		return;
	while (len > 0 && raw[len - 1] == '\0')
		len--;
	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++)
		dst[i] = raw[i] == '\0' ? ' ' : raw[i];
	dst[len] = '\0';
}

/*
 * The /proc backend.
 */

struct procfs {
	int dirfd; /* /proc */
	DIR *dir;  /* a second open of /proc, rewound for every scan */
	int stat_fd, meminfo_fd, loadavg_fd;
};

/* Read up to size - 1 bytes from offset 0 and NUL-terminate; length or -1. */
static ssize_t
pread_all(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t r;

	while (got < size - 1) {
		r = pread(fd, buf + got, size - 1 - got, (off_t)got);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Open and read a file under /proc into buf; length or -1. */
static ssize_t
read_at(int dirfd, const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, saved;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return -1;
	n = pread_all(fd, buf, size);
	saved = errno;
	close(fd);
	errno = saved;
	return n;
}

static void
procfs_close(void *be)
{
	struct procfs *pf = be;

	if (pf == NULL)
		return;
	if (pf->dir != NULL)
		closedir(pf->dir);
	if (pf->dirfd != -1)
		close(pf->dirfd);
	if (pf->stat_fd != -1)
		close(pf->stat_fd);
	if (pf->meminfo_fd != -1)
		close(pf->meminfo_fd);
	if (pf->loadavg_fd != -1)
		close(pf->loadavg_fd);
	free(pf);
}

static void *
procfs_open(void)
{
	struct procfs *pf = xcalloc(1, sizeof(*pf));
	int saved;

	pf->stat_fd = pf->meminfo_fd = pf->loadavg_fd = -1;
	pf->dirfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pf->dirfd == -1)
		goto fail;
	pf->dir = opendir("/proc");
	if (pf->dir == NULL)
		goto fail;
	pf->stat_fd = openat(pf->dirfd, "stat", O_RDONLY | O_CLOEXEC);
	pf->meminfo_fd = openat(pf->dirfd, "meminfo", O_RDONLY | O_CLOEXEC);
	pf->loadavg_fd = openat(pf->dirfd, "loadavg", O_RDONLY | O_CLOEXEC);
	if (pf->stat_fd == -1 || pf->meminfo_fd == -1 || pf->loadavg_fd == -1)
		goto fail;
	return pf;
fail:
	saved = errno;
	procfs_close(pf);
	errno = saved;
	return NULL;
}

static int
procfs_cpu(void *be, struct sysstat_cpu *out)
{
	struct procfs *pf = be;
	char buf[STAT_BUF];

	if (pread_all(pf->stat_fd, buf, sizeof(buf)) == -1)
		return -1;
	/* Only the first line is needed; it must be complete. */
	if (strchr(buf, '\n') == NULL) {
		errno = EINVAL;
		return -1;
	}
	return sysstat_parse_stat_cpu(buf, out);
}

static int
procfs_mem(void *be, struct sysstat_mem *out)
{
	struct procfs *pf = be;
	char buf[MEMINFO_BUF];

	if (pread_all(pf->meminfo_fd, buf, sizeof(buf)) == -1)
		return -1;
	return sysstat_parse_meminfo(buf, out);
}

static int
procfs_load(void *be, double load[3])
{
	struct procfs *pf = be;
	char buf[128];

	if (pread_all(pf->loadavg_fd, buf, sizeof(buf)) == -1)
		return -1;
	return sysstat_parse_loadavg(buf, load);
}

/*
 * Fill *out for pid. Returns 0; or -1 with ESRCH if the pid is not a
 * process (gone, a zombie's cmdline aside, or a thread id); or -1 with
 * another errno.
 */
static int
procfs_read_pid(struct procfs *pf, pid_t pid, bool want_cmdline,
    struct sysstat_proc *out)
{
	char path[32], buf[STATUS_BUF];
	pid_t tgid;
	ssize_t n;

	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	if ((n = read_at(pf->dirfd, path, buf, PIDSTAT_BUF)) <= 0)
		goto gone;
	if (sysstat_parse_pid_stat(buf, out) == -1)
		return -1;
	snprintf(path, sizeof(path), "%d/status", (int)pid);
	if ((n = read_at(pf->dirfd, path, buf, sizeof(buf))) <= 0)
		goto gone;
	if (sysstat_parse_pid_status(buf, &out->uid, &tgid) == -1)
		return -1;
	/* /proc/TID answers for threads too; only processes count. */
	if (tgid != pid || out->pid != pid) {
		errno = ESRCH;
		return -1;
	}
	out->cmdline[0] = '\0';
	if (want_cmdline) {
		char raw[sizeof(out->cmdline)];

		snprintf(path, sizeof(path), "%d/cmdline", (int)pid);
		n = read_at(pf->dirfd, path, raw, sizeof(raw));
		if (n == -1)
			goto gone;
		sysstat_join_cmdline(out->cmdline, sizeof(out->cmdline), raw,
		    (size_t)n);
	}
	return 0;
gone:
	/* A process that exits between two reads looks like ENOENT, ESRCH
	 * or an empty file. */
	if (n == 0 || errno == ENOENT || errno == ESRCH)
		errno = ESRCH;
	return -1;
}

static int
procfs_proc_get(void *be, pid_t pid, bool want_cmdline,
    struct sysstat_proc *out)
{
	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	return procfs_read_pid(be, pid, want_cmdline, out);
}

static int
procfs_proc_scan(void *be, bool want_cmdline, sysstat_proc_cb cb, void *arg)
{
	struct procfs *pf = be;
	struct sysstat_proc p;
	struct dirent *d;
	const char *c;
	long pid;

	rewinddir(pf->dir);
	for (;;) {
		errno = 0;
		d = readdir(pf->dir);
		if (d == NULL)
			break;
		for (c = d->d_name; isdigit((unsigned char)*c); c++)
			;
		if (c == d->d_name || *c != '\0')
			continue;
		pid = strtol(d->d_name, NULL, 10);
		if (pid <= 0 || pid > INT_MAX)
			continue;
		/* Vanished, unreadable or odd entries are skipped. */
		if (procfs_read_pid(pf, (pid_t)pid, want_cmdline, &p) == -1)
			continue;
		if (cb(&p, arg) != 0)
			return 0;
	}
	return errno == 0 ? 0 : -1;
}

static const struct sysstat_ops procfs_ops = {
    .open = procfs_open,
    .close = procfs_close,
    .cpu = procfs_cpu,
    .mem = procfs_mem,
    .load = procfs_load,
    .proc_scan = procfs_proc_scan,
    .proc_get = procfs_proc_get,
};

/*
 * Dispatch.
 */

struct sysstat *
sysstat_new_backend(enum sysstat_backend b)
{
	const struct sysstat_ops *ops;
	struct sysstat *s;
	void *be;

	switch (b) {
	case SYSSTAT_PROC:
		ops = &procfs_ops;
		break;
#ifdef HAVE_LIBPROC2
	case SYSSTAT_LIBPROC2:
		ops = &sysstat_libproc2_ops;
		break;
#endif
	default:
		errno = ENOTSUP;
		return NULL;
	}
	be = ops->open();
	if (be == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->backend = b;
	s->ops = ops;
	s->be = be;
	return s;
}

struct sysstat *
sysstat_new(void)
{
#ifdef HAVE_LIBPROC2
	struct sysstat *s = sysstat_new_backend(SYSSTAT_LIBPROC2);

	if (s != NULL)
		return s;
#endif
	return sysstat_new_backend(SYSSTAT_PROC);
}

void
sysstat_free(struct sysstat *s)
{
	if (s == NULL)
		return;
	s->ops->close(s->be);
	free(s);
}

enum sysstat_backend
sysstat_backend(const struct sysstat *s)
{
	return s->backend;
}

int
sysstat_cpu(struct sysstat *s, struct sysstat_cpu *out)
{
	return s->ops->cpu(s->be, out);
}

int
sysstat_mem(struct sysstat *s, struct sysstat_mem *out)
{
	return s->ops->mem(s->be, out);
}

int
sysstat_load(struct sysstat *s, double load[3])
{
	return s->ops->load(s->be, load);
}

int
sysstat_proc_scan(struct sysstat *s, bool want_cmdline, sysstat_proc_cb cb,
    void *arg)
{
	return s->ops->proc_scan(s->be, want_cmdline, cb, arg);
}

int
sysstat_proc_get(struct sysstat *s, pid_t pid, bool want_cmdline,
    struct sysstat_proc *out)
{
	return s->ops->proc_get(s->be, pid, want_cmdline, out);
}
