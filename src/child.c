/* SPDX-License-Identifier: ISC */
/*
 * Child processes on the event loop, shared by the exec check and the
 * restart command. A child runs in its own process group with a clean
 * signal state; its output is read without ever blocking it, its exit is
 * seen through a pidfd, and on a timeout or cancel its whole group is
 * killed. Cancelled children move to a module-level reaper list that
 * outlives their owner, so nothing is left as a zombie.
 */
#include "config.h"

#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "ev.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define POLL_MS 50
/* Reads of a pipe still held open by a background writer, at exit. */
#define DRAIN_MAX_READS 64

struct child {
	struct ev *ev;
	pid_t pid;
	int pidfd; /* -1: poll with the timer */
	struct ev_io *pidfd_io;
	struct ev_timer *poll;     /* without pidfd */
	struct ev_timer *deadline; /* the timeout */
	int out_fd;
	struct ev_io *out_io;
	char *out;
	size_t out_len, out_max;
	mono_ms started;
	bool keep_group;
	bool timed_out;
	bool reaping; /* cancelled: only waiting to be reaped */
	child_done_cb cb;
	void *arg;
	struct child *prev, *next; /* reaper list */
};

static struct child *reapers;
static bool pidfd_missing;

static void
out_close(struct child *s)
{
	ev_io_del(s->out_io);
	s->out_io = NULL;
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = -1;
}

static void
child_free(struct child *s)
{
	ev_io_del(s->pidfd_io);
	ev_timer_free(s->poll);
	ev_timer_free(s->deadline);
	if (s->pidfd >= 0)
		close(s->pidfd);
	out_close(s);
	free(s->out);
	free(s);
}

/* Read what the pipe holds (at most max_reads reads); keep the first
 * out_max bytes. */
static void
out_drain(struct child *s, int max_reads)
{
	char buf[4096];
	ssize_t n;

	while (s->out_fd >= 0 && max_reads-- > 0) {
		n = read(s->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			out_close(s);
			return;
		}
		if (s->out_len < s->out_max) {
			size_t c = s->out_max - s->out_len;

			if (c > (size_t)n)
				c = (size_t)n;
			memcpy(s->out + s->out_len, buf, c);
			s->out_len += c;
			s->out[s->out_len] = '\0';
		}
	}
}

static void
out_cb(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	out_drain(arg, 16);
}

/*
 * Reap if it has exited: 1 when done (status filled), 0 if still running.
 * The exit is first observed without reaping, so that the zombie still
 * pins the process group id while stragglers in the group are killed.
 */
static int
try_reap(struct child *s, int *status)
{
	siginfo_t si;
	pid_t r;
	int rc;

	memset(&si, 0, sizeof(si));
	do
		rc = waitid(P_PID, (id_t)s->pid, &si,
		    WEXITED | WNOHANG | WNOWAIT);
	while (rc < 0 && errno == EINTR);
	if (rc == 0 && si.si_pid == 0)
		return 0;
	if (rc == 0 && (!s->keep_group || s->timed_out || s->reaping))
		kill(-s->pid, SIGKILL);
	do
		r = waitpid(s->pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0) {
		/* ECHILD: someone else reaped it (or SIGCHLD is ignored). */
		log_warn("waitpid %ld: %s", (long)s->pid, strerror(errno));
		*status = -1;
	}
	return 1;
}

static void
unlink_reaper(struct child *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		reapers = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
}

static void
finish(struct child *s, int status)
{
	struct child_result r;

	out_drain(s, DRAIN_MAX_READS); /* what the child wrote is there */
	out_close(s);
	memset(&r, 0, sizeof(r));
	r.status = status;
	r.timed_out = s->timed_out;
	r.out = s->out;
	r.out_len = s->out_len;
	r.elapsed = util_now_ms() - s->started;
	s->cb(&r, s->arg);
	child_free(s);
}

static void
check_exit(struct child *s)
{
	int status;

	if (!try_reap(s, &status)) {
		if (s->poll != NULL)
			ev_timer_arm(s->poll, POLL_MS);
		return;
	}
	if (s->reaping) {
		unlink_reaper(s);
		child_free(s);
	} else
		finish(s, status);
}

static void
pidfd_cb(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	check_exit(arg);
}

static void
poll_cb(void *arg)
{
	check_exit(arg);
}

static void
deadline_cb(void *arg)
{
	struct child *s = arg;

	s->timed_out = true;
	kill(-s->pid, SIGKILL);
	check_exit(s);
}

static void
watch(struct child *s)
{
	s->pidfd = -1;
	if (!pidfd_missing) {
		s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
		if (s->pidfd < 0 && errno == ENOSYS)
			pidfd_missing = true;
		else if (s->pidfd < 0)
			log_warn("pidfd_open %ld: %s; polling instead",
			    (long)s->pid, strerror(errno));
	}
	if (s->pidfd >= 0) {
		/* pidfds are O_CLOEXEC by definition. */
		s->pidfd_io = ev_io_add(s->ev, s->pidfd, EV_READ, pidfd_cb, s);
		if (s->pidfd_io != NULL)
			return;
		close(s->pidfd);
		s->pidfd = -1;
	}
	s->poll = ev_timer_new(s->ev, poll_cb, s);
	ev_timer_arm(s->poll, POLL_MS);
}

/* Move fd to >= 3 so that dup2 onto 1/2 in the child always happens. */
static int
fd_above_stdio(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int
do_spawn(char *const argv[], pid_t *pid, int *out_fd, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int pfd[2], rc;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pfd[0] = fd_above_stdio(pfd[0]);
	pfd[1] = fd_above_stdio(pfd[1]);
	if (pfd[0] < 0 || pfd[1] < 0 ||
	    fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		if (pfd[0] >= 0)
			close(pfd[0]);
		if (pfd[1] >= 0)
			close(pfd[1]);
		return -1;
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr,
	    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	        POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	rc = posix_spawn(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(err, errlen, "cannot run %.100s: %s", argv[0],
		    strerror(rc));
		return -1;
	}
	*out_fd = pfd[0];
	return 0;
}

struct child *
child_start(struct ev *ev, char *const argv[], const struct child_opts *o,
    child_done_cb cb, void *arg, char *err, size_t errlen)
{
	struct child *s;
	pid_t pid;
	int out_fd;

	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/') {
		snprintf(err, errlen, "the program path must be absolute");
		return NULL;
	}
	if (do_spawn(argv, &pid, &out_fd, err, errlen) < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->ev = ev;
	s->pid = pid;
	s->out_fd = out_fd;
	s->out_max = o->out_max;
	s->out = xmalloc(s->out_max + 1);
	s->out[0] = '\0';
	s->keep_group = o->keep_group;
	s->started = util_now_ms();
	s->cb = cb;
	s->arg = arg;
	s->out_io = ev_io_add(ev, s->out_fd, EV_READ, out_cb, s);
	if (s->out_io == NULL) {
		/* Better a SIGPIPE in the child than a child blocked on a
		 * full pipe. */
		log_warn("output of pid %ld is discarded", (long)pid);
		out_close(s);
	}
	if (o->timeout_ms > 0) {
		s->deadline = ev_timer_new(ev, deadline_cb, s);
		ev_timer_arm(s->deadline, o->timeout_ms);
	}
	watch(s);
	return s;
}

void
child_cancel(struct child *s)
{
	int status;

	if (s == NULL)
		return;
	out_close(s);
	ev_timer_free(s->deadline);
	s->deadline = NULL;
	s->reaping = true;
	kill(-s->pid, SIGKILL);
	if (try_reap(s, &status)) {
		child_free(s);
		return;
	}
	s->prev = NULL;
	s->next = reapers;
	if (reapers != NULL)
		reapers->prev = s;
	reapers = s;
}

pid_t
child_pid(const struct child *s)
{
	return s->pid;
}

void
child_reap_all(void)
{
	while (reapers != NULL) {
		struct child *s = reapers;
		pid_t r;

		unlink_reaper(s);
		kill(-s->pid, SIGKILL);
		do
			r = waitpid(s->pid, NULL, 0);
		while (r < 0 && errno == EINTR);
		child_free(s);
	}
}

void
child_first_line(const char *out, char *dst, size_t size)
{
	const char *s = out, *end;
	size_t n = 0;

	if (size == 0)
		return;
	while (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
		s++;
	end = s + strcspn(s, "\r\n");
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; s < end && n + 1 < size; s++, n++)
		dst[n] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	dst[n] = '\0';
}

void
child_describe(const struct child_result *r, char *buf, size_t size)
{
	char line[128];

	child_first_line(r->out != NULL ? r->out : "", line, sizeof(line));
	if (r->timed_out)
		snprintf(buf, size, "timed out after %.1f s; killed",
		    (double)r->elapsed / 1000.0);
	else if (r->status == -1)
		snprintf(buf, size, "exit status lost");
	else if (WIFEXITED(r->status))
		snprintf(buf, size, "exit %d%s%s", WEXITSTATUS(r->status),
		    line[0] != '\0' ? ": " : "", line);
	else if (WIFSIGNALED(r->status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(r->status));
	else
		snprintf(buf, size, "wait status 0x%x", (unsigned)r->status);
}
