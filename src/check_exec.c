/* SPDX-License-Identifier: ISC */
/*
 * The exec check: posix_spawn the configured argv in its own process group
 * with stdin on /dev/null, stdout+stderr on a pipe, an empty signal mask and
 * default dispositions. The first bytes of output are kept for the detail;
 * the rest is drained and dropped so the child never blocks. Exit is seen
 * through a pidfd (or a 50 ms waitpid poll where pidfd_open is missing).
 * A cancelled child is SIGKILLed with its whole group and handed to a
 * module-level reaper, which outlives the check and leaves no zombies.
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

#include "check.h"
#include "check_exec.h"
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define OUT_MAX 512
#define POLL_MS 50

/* A child being waited for: a running check, or a killed one in the
 * reaper list. */
struct child {
	struct ev *ev;
	pid_t pid;
	int pidfd; /* -1: poll with the timer */
	struct ev_io *pidfd_io;
	struct ev_timer *poll; /* without pidfd */
	void (*exited)(struct child *ch, int status);
	void *arg;
	struct child *prev, *next; /* reaper list */
};

struct exec_priv {
	struct check *c;
	struct child *ch; /* NULL when idle */
	int out_fd;
	struct ev_io *out_io;
	char out[OUT_MAX + 1];
	size_t out_len;
};

static struct child *reapers;
static bool pidfd_missing;

static void
child_free(struct child *ch)
{
	ev_io_del(ch->pidfd_io);
	ev_timer_free(ch->poll);
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	free(ch);
}

/* Reap if it has exited; 1 when done (status filled), 0 if still running. */
static int
child_try_reap(struct child *ch, int *status)
{
	pid_t r;

	do
		r = waitpid(ch->pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r < 0) {
		/* ECHILD: someone else reaped it (or SIGCHLD is ignored). */
		log_warn("waitpid %ld: %s", (long)ch->pid, strerror(errno));
		*status = -1;
	}
	return 1;
}

static void
child_check(struct child *ch)
{
	int status;

	if (child_try_reap(ch, &status))
		ch->exited(ch, status);
	else if (ch->poll != NULL)
		ev_timer_arm(ch->poll, POLL_MS);
}

static void
child_pidfd_cb(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	child_check(arg);
}

static void
child_poll_cb(void *arg)
{
	child_check(arg);
}

static void
child_watch(struct child *ch)
{
	ch->pidfd = -1;
	if (!pidfd_missing) {
		ch->pidfd = (int)syscall(SYS_pidfd_open, ch->pid, 0);
		if (ch->pidfd < 0 && errno == ENOSYS)
			pidfd_missing = true;
		else if (ch->pidfd < 0)
			log_warn("pidfd_open %ld: %s; polling instead",
			    (long)ch->pid, strerror(errno));
	}
	if (ch->pidfd >= 0) {
		/* pidfds are O_CLOEXEC by definition. */
		ch->pidfd_io =
		    ev_io_add(ch->ev, ch->pidfd, EV_READ, child_pidfd_cb, ch);
		if (ch->pidfd_io != NULL)
			return;
		close(ch->pidfd);
		ch->pidfd = -1;
	}
	ch->poll = ev_timer_new(ch->ev, child_poll_cb, ch);
	ev_timer_arm(ch->poll, POLL_MS);
}

static void
reaper_exited(struct child *ch, int status)
{
	(void)status;
	if (ch->prev != NULL)
		ch->prev->next = ch->next;
	else
		reapers = ch->next;
	if (ch->next != NULL)
		ch->next->prev = ch->prev;
	child_free(ch);
}

/* Kill the child's whole group and let the reaper list wait for it. */
static void
child_abandon(struct child *ch)
{
	int status;

	kill(-ch->pid, SIGKILL);
	if (child_try_reap(ch, &status)) {
		child_free(ch);
		return;
	}
	ch->exited = reaper_exited;
	ch->arg = NULL;
	ch->prev = NULL;
	ch->next = reapers;
	if (reapers != NULL)
		reapers->prev = ch;
	reapers = ch;
}

void
check_exec_reap_all(void)
{
	while (reapers != NULL) {
		struct child *ch = reapers;
		pid_t r;

		reapers = ch->next;
		kill(-ch->pid, SIGKILL);
		do
			r = waitpid(ch->pid, NULL, 0);
		while (r < 0 && errno == EINTR);
		child_free(ch);
	}
}

static void
out_close(struct exec_priv *p)
{
	ev_io_del(p->out_io);
	p->out_io = NULL;
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->out_fd = -1;
}

/* Read what the pipe holds; keep the first OUT_MAX bytes. */
static void
out_drain(struct exec_priv *p)
{
	char buf[4096];
	ssize_t n;

	while (p->out_fd >= 0) {
		n = read(p->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			out_close(p);
			return;
		}
		if (p->out_len < OUT_MAX) {
			size_t c = OUT_MAX - p->out_len;

			if (c > (size_t)n)
				c = (size_t)n;
			memcpy(p->out + p->out_len, buf, c);
			p->out_len += c;
			p->out[p->out_len] = '\0';
		}
	}
}

static void
out_cb(int fd, unsigned events, void *arg)
{
	(void)fd;
	(void)events;
	out_drain(arg);
}

/* The first non-empty line of the output, made printable. */
static void
first_line(const struct exec_priv *p, char *dst, size_t size)
{
	const char *s = p->out, *end;
	size_t n = 0;

	while (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
		s++;
	end = s + strcspn(s, "\r\n");
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; s < end && n + 1 < size; s++, n++)
		dst[n] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	dst[n] = '\0';
}

static void
run_exited(struct child *ch, int status)
{
	struct exec_priv *p = ch->arg;
	struct check *c = p->c;
	char line[128];

	/* The child is a zombie until now, so its pid could not have been
	 * reused: this only hits stragglers it left in its group. */
	kill(-ch->pid, SIGKILL);
	p->ch = NULL;
	child_free(ch);
	out_drain(p); /* everything the child wrote is in the pipe */
	out_close(p);
	first_line(p, line, sizeof(line));
	if (status == -1)
		check_done(c, false, HEALTH_R_ERROR, "exit status lost");
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		check_done(c, true, HEALTH_R_OK, "exit 0");
	else if (WIFEXITED(status))
		check_done(c, false, HEALTH_R_EXIT, "exit %d%s%s",
		    WEXITSTATUS(status), line[0] != '\0' ? ": " : "", line);
	else if (WIFSIGNALED(status))
		check_done(c, false, HEALTH_R_SIGNAL, "killed by signal %d",
		    WTERMSIG(status));
	else
		check_done(c, false, HEALTH_R_ERROR, "wait status 0x%x",
		    (unsigned)status);
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
spawn(struct exec_priv *p, const struct conf_check *cc, pid_t *pid, char *err,
    size_t errlen)
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
	rc = posix_spawn(pid, cc->argv[0], &fa, &attr, cc->argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(err, errlen, "cannot run %.100s: %s", cc->argv[0],
		    strerror(rc));
		return -1;
	}
	p->out_fd = pfd[0];
	return 0;
}

static int
exec_init(struct check *c)
{
	const struct conf_check *cc = check_conf(c);
	struct exec_priv *p;

	if (cc->argc == 0 || cc->argv[0] == NULL || cc->argv[0][0] != '/') {
		log_err("check %s: exec needs an absolute program path",
		    check_name(c));
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->out_fd = -1;
	check_set_priv(c, p);
	return 0;
}

static void
exec_start(struct check *c)
{
	struct exec_priv *p = check_priv(c);
	struct child *ch;
	char err[160];
	pid_t pid;

	p->out_len = 0;
	p->out[0] = '\0';
	if (spawn(p, check_conf(c), &pid, err, sizeof(err)) < 0) {
		check_done(c, false, HEALTH_R_ERROR, "%s", err);
		return;
	}
	p->out_io = ev_io_add(check_env(c)->ev, p->out_fd, EV_READ, out_cb, p);
	if (p->out_io == NULL) {
		/* Better a SIGPIPE in the child than a child blocked on a
		 * full pipe. */
		log_warn("check %s: output of pid %ld is discarded",
		    check_name(c), (long)pid);
		out_close(p);
	}
	ch = xcalloc(1, sizeof(*ch));
	ch->ev = check_env(c)->ev;
	ch->pid = pid;
	ch->exited = run_exited;
	ch->arg = p;
	p->ch = ch;
	child_watch(ch);
}

static void
exec_cancel(struct check *c)
{
	struct exec_priv *p = check_priv(c);

	if (p->ch != NULL) {
		child_abandon(p->ch);
		p->ch = NULL;
	}
	out_close(p);
}

static void
exec_fini(struct check *c)
{
	struct exec_priv *p = check_priv(c);

	if (p == NULL)
		return;
	exec_cancel(c);
	free(p);
	check_set_priv(c, NULL);
}

const struct check_ops check_exec_ops = {
    .init = exec_init,
    .start = exec_start,
    .cancel = exec_cancel,
    .fini = exec_fini,
};
