/* SPDX-License-Identifier: ISC */
/*
 * Child processes on the event loop: fork + execve (never a shell, no PATH
 * search) in a process group of its own, stdin on /dev/null, stdout+stderr
 * captured up to a cap (the rest is drained and dropped so the child never
 * blocks), an empty signal mask and default dispositions, every other fd
 * closed, no ambient capabilities, a minimal environment (nothing of the
 * agent's is inherited) and optionally another user and group. Exit is seen
 * through a pidfd (or a 50 ms waitpid poll where pidfd_open is missing). A
 * child that is cancelled or times out is SIGKILLed with its whole group; a
 * cancelled one is handed to a module-level reaper, so no zombie is ever left
 * behind.
 */
#ifndef CHILD_H
#define CHILD_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "ev.h"

struct child;

/* How a child ended; pointers are valid only during the callback. */
struct child_result {
	int status;      /* waitpid status, or -1 if it was lost */
	bool timed_out;  /* killed (with its group) at the timeout */
	const char *out; /* first out_max bytes of stdout+stderr, NUL-ended */
	size_t out_len;
	mono_ms elapsed; /* from spawn to exit */
};

typedef void (*child_done_cb)(const struct child_result *r, void *arg);

struct child_opts {
	size_t out_max;     /* output bytes kept; the rest is dropped */
	mono_ms timeout_ms; /* 0 = no limit */
	/* On a normal exit, leave whatever the child started in its group
	 * running (a restart command that starts a daemon); by default the
	 * group is SIGKILLed once the child has exited. */
	bool keep_group;
	/* "NAME=value" strings, NULL-terminated; NULL = the minimal
	 * environment (child_env_new(NULL)). */
	char *const *env;
	/* Switch to uid/gid with these supplementary groups before execve
	 * (needs root or CAP_SETUID+CAP_SETGID; see child_can_switch). */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
};

/* The minimal environment every child starts from. */
#define CHILD_PATH                                                             \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * A new environment: PATH=CHILD_PATH and LANG=C, then each "NAME=value" of
 * extra (NULL-terminated, may be NULL) in order, a later one replacing an
 * earlier one of the same NAME. Free with child_env_free().
 */
char **child_env_new(const char *const *extra);
void child_env_free(char **env);
/* True when this process may switch to another uid and gid: it is root or
 * holds CAP_SETUID and CAP_SETGID. */
bool child_can_switch(void);

/*
 * Run argv (argv[0] is the program path; no PATH search) with o->env (or
 * the minimal environment). cb runs exactly once, from the loop, after the
 * child has been reaped; the handle is invalid from then on. NULL on failure,
 * with the reason in err (cb is then never called).
 */
struct child *child_start(struct ev *ev, char *const argv[],
    const struct child_opts *o, child_done_cb cb, void *arg, char *err,
    size_t errlen);
/* Kill the child's group and leave its reaping to the module; cb will not
 * run. NULL is a no-op. */
void child_cancel(struct child *s);
pid_t child_pid(const struct child *s);

/* At shutdown, before ev_free(): SIGKILL every cancelled child still being
 * reaped and wait for it (blocking). */
void child_reap_all(void);

/* The first non-empty line of out, trimmed and made printable. */
void child_first_line(const char *out, char *dst, size_t size);
/* One line on how it ended: "exit 0", "exit 3: <first line>", "killed by
 * signal 9", "timed out after 2.0 s", "exit status lost". */
void child_describe(const struct child_result *r, char *buf, size_t size);

#endif
