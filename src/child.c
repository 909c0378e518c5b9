/* SPDX-License-Identifier: ISC */
/*
 * Child processes on the event loop, shared by the exec check, the restart
 * command and the drain command. A child is forked and execve()s its argv
 * directly (there is no shell anywhere); it runs in its own process group
 * with a clean signal state, only fds 0-2, no ambient capabilities, the
 * minimal environment it is given and, when asked, another uid and gid.
 * Its output is read without ever blocking it, its exit is seen through a
 * pidfd, and on a timeout or cancel its whole group is killed. Cancelled
 * children move to a module-level reaper list that outlives their owner,
 * so nothing is left as a zombie.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
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
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
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

/* Environment */

char **
child_env_new(const char *const *extra)
{
	static const char *const base[] = {"PATH=" CHILD_PATH, "LANG=C"};
	size_t nb = sizeof(base) / sizeof(base[0]), ne = 0, n = 0;
	char **env;

	while (extra != NULL && extra[ne] != NULL)
		ne++;
	env = xcalloc(nb + ne + 1, sizeof(*env));
	for (size_t i = 0; i < nb + ne; i++) {
		const char *kv = i < nb ? base[i] : extra[i - nb];
		size_t kl = strcspn(kv, "=");
		size_t j;

		for (j = 0; j < n; j++)
			if (strncmp(env[j], kv, kl + 1) == 0)
				break;
		if (j < n)
			free(env[j]);
		else
			n++;
		env[j] = xstrdup(kv);
	}
	env[n] = NULL;
	return env;
}

void
child_env_free(char **env)
{
	if (env == NULL)
		return;
	for (size_t i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

bool
child_can_switch(void)
{
	struct __user_cap_header_struct h = {.version =
	                                         _LINUX_CAPABILITY_VERSION_3,
	    .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (geteuid() == 0)
		return true;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return (d[0].effective & (1u << CAP_SETUID)) &&
	    (d[0].effective & (1u << CAP_SETGID));
}

/* What failed in the child before execve, sent back over a pipe. */
enum spawn_step {
	STEP_STDIN,
	STEP_STDOUT,
	STEP_GROUPS,
	STEP_GID,
	STEP_UID,
	STEP_EXEC
};

static const char *const spawn_step_names[] = {
    [STEP_STDIN] = "cannot open /dev/null",
    [STEP_STDOUT] = "cannot redirect output",
    [STEP_GROUPS] = "cannot set supplementary groups",
    [STEP_GID] = "cannot switch group",
    [STEP_UID] = "cannot switch user",
    [STEP_EXEC] = "cannot run",
};

struct spawn_err {
	int step;
	int err;
};

/*
 * In the child, between fork and execve: only async-signal-safe calls
 * (the agent may have threads, curl's resolver). Never returns.
 */
static void __attribute__((noreturn))
in_child(char *const argv[], char *const envp[], const struct child_opts *o,
    int out_fd, int err_fd, int max_fd)
{
	struct spawn_err e = {0, 0};
	struct sigaction sa;
	sigset_t none;
	int fd;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* EINVAL for KILL, STOP: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	e.step = STEP_STDIN;
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || (fd != 0 && (dup2(fd, 0) < 0 || close(fd) < 0)))
		goto fail;
	e.step = STEP_STDOUT;
	if (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		goto fail;
	/* Nothing of the agent's (sockets, the state dir, curl's
	 * connections) passes execve: fds 0-2 only. */
	if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
		for (fd = 3; fd < max_fd; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Capabilities a non-root agent was given (CAP_SETUID to switch
	 * users) never reach the command. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (o->set_ids) {
		e.step = STEP_GROUPS;
		if (setgroups(o->ngroups, o->groups) != 0)
			goto fail;
		e.step = STEP_GID;
		if (setresgid(o->gid, o->gid, o->gid) != 0)
			goto fail;
		e.step = STEP_UID;
		if (setresuid(o->uid, o->uid, o->uid) != 0)
			goto fail;
	}
	e.step = STEP_EXEC;
	execve(argv[0], argv, envp);
fail:
	e.err = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

static int
do_spawn(char *const argv[], const struct child_opts *o, pid_t *pid,
    int *out_fd, char *err, size_t errlen)
{
	static int max_fd;
	char **own_env = NULL;
	char *const *envp = o->env;
	struct spawn_err e;
	sigset_t all, old;
	int pfd[2], efd[2];
	ssize_t n;

	if (max_fd == 0) {
		long m = sysconf(_SC_OPEN_MAX);

		max_fd = m > 0 && m < 65536 ? (int)m : 65536;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pfd[0] = fd_above_stdio(pfd[0]);
	pfd[1] = fd_above_stdio(pfd[1]);
	if (pfd[0] < 0 || pfd[1] < 0 ||
	    fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0 ||
	    pipe2(efd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		if (pfd[0] >= 0)
			close(pfd[0]);
		if (pfd[1] >= 0)
			close(pfd[1]);
		return -1;
	}
	if (envp == NULL)
		envp = own_env = child_env_new(NULL);
	/* No handler of the agent's may run in the child before it has
	 * reset them all. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	*pid = fork();
	if (*pid == 0) {
		close(efd[0]);
		in_child(argv, envp, o, pfd[1], efd[1], max_fd);
	}
	e.err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	child_env_free(own_env);
	close(pfd[1]);
	close(efd[1]);
	if (*pid < 0) {
		close(efd[0]);
		close(pfd[0]);
		snprintf(err, errlen, "cannot run %.100s: fork: %s", argv[0],
		    strerror(e.err));
		return -1;
	}
	/* EOF once execve has closed the CLOEXEC end; a struct when the
	 * child failed before it. Either comes at once. */
	do
		n = read(efd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(efd[0]);
	if (n == (ssize_t)sizeof(e)) {
		pid_t r;

		do
			r = waitpid(*pid, NULL, 0);
		while (r < 0 && errno == EINTR);
		close(pfd[0]);
		if (e.step == STEP_EXEC)
			snprintf(err, errlen, "cannot run %.100s: %s", argv[0],
			    strerror(e.err));
		else if (e.step == STEP_UID || e.step == STEP_GID ||
		    e.step == STEP_GROUPS)
			snprintf(err, errlen, "%s to uid %ld gid %ld: %s",
			    spawn_step_names[e.step], (long)o->uid,
			    (long)o->gid, strerror(e.err));
		else
			snprintf(err, errlen, "%s: %s",
			    e.step >= 0 && e.step <= STEP_EXEC
			        ? spawn_step_names[e.step]
			        : "spawn failed",
			    strerror(e.err));
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
	if (do_spawn(argv, o, &pid, &out_fd, err, errlen) < 0)
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
