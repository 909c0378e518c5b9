/* SPDX-License-Identifier: ISC */
/*
 * The exec check: run the configured argv through the child module (fork +
 * execve, never a shell; own process group, stdin on /dev/null, output
 * captured, clean signal state, only fds 0-2) with a minimal environment
 * (PATH, LANG=C, HEALTHAGENT_CHECK=<name>, HOME/USER/LOGNAME of the
 * configured user, then the check's own "environment"; nothing inherited
 * from the agent), as the configured user and group if any, and turn how it
 * ended into a result. The first line of output goes into
 * the detail. A run cancelled at its timeout is killed with its whole group
 * and reaped by the child module, which outlives the check.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "check_exec.h"
#include "child.h"
#include "ev.h"
#include "log.h"
#include "xmalloc.h"

#define OUT_MAX 512

struct exec_priv {
	struct check *c;
	struct child *sp; /* NULL when idle */
	char **env;
	gid_t *groups;
	struct child_opts o;
};

void
check_exec_reap_all(void)
{
	child_reap_all();
}

static void
run_exited(const struct child_result *r, void *arg)
{
	struct exec_priv *p = arg;
	struct check *c = p->c;
	char line[128];

	p->sp = NULL;
	child_first_line(r->out, line, sizeof(line));
	if (r->status == -1)
		check_done(c, false, HEALTH_R_ERROR, "exit status lost");
	else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		check_done(c, true, HEALTH_R_OK, "exit 0");
	else if (WIFEXITED(r->status))
		check_done(c, false, HEALTH_R_EXIT, "exit %d%s%s",
		    WEXITSTATUS(r->status), line[0] != '\0' ? ": " : "", line);
	else if (WIFSIGNALED(r->status))
		check_done(c, false, HEALTH_R_SIGNAL, "killed by signal %d",
		    WTERMSIG(r->status));
	else
		check_done(c, false, HEALTH_R_ERROR, "wait status 0x%x",
		    (unsigned)r->status);
}

static int
exec_init(struct check *c)
{
	const struct conf_check *cc = check_conf(c);
	const char *extra[CONF_MAX_ENV + 5];
	char *own[4];
	size_t n = 0, nown = 0;
	struct exec_priv *p;

	if (cc->argc == 0 || cc->argv[0] == NULL || cc->argv[0][0] != '/') {
		log_err("check %s: exec needs an absolute program path",
		    check_name(c));
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->c = c;
	own[nown++] = xasprintf("HEALTHAGENT_CHECK=%s", check_name(c));
	if (cc->has_user) {
		own[nown++] = xasprintf("HOME=%s", cc->home);
		own[nown++] = xasprintf("USER=%s", cc->user);
		own[nown++] = xasprintf("LOGNAME=%s", cc->user);
	}
	for (size_t i = 0; i < nown; i++)
		extra[n++] = own[i];
	for (size_t i = 0; i < cc->n_env; i++)
		extra[n++] = cc->env[i];
	extra[n] = NULL;
	p->env = child_env_new(extra);
	for (size_t i = 0; i < nown; i++)
		free(own[i]);
	/* The check runner owns the timeout and cancels the run. */
	p->o.out_max = OUT_MAX;
	p->o.env = p->env;
	if (cc->has_user && (cc->uid != geteuid() || cc->gid != getegid())) {
		p->o.set_ids = true;
		p->o.uid = cc->uid;
		p->o.gid = cc->gid;
		p->groups = xreallocarray(NULL, cc->ngroups + 1, sizeof(gid_t));
		memcpy(p->groups, cc->groups, cc->ngroups * sizeof(gid_t));
		p->o.groups = p->groups;
		p->o.ngroups = cc->ngroups;
	}
	check_set_priv(c, p);
	return 0;
}

static void
exec_start(struct check *c)
{
	struct exec_priv *p = check_priv(c);
	char err[160];

	p->sp = child_start(check_env(c)->ev, check_conf(c)->argv, &p->o,
	    run_exited, p, err, sizeof(err));
	if (p->sp == NULL)
		check_done(c, false, HEALTH_R_ERROR, "%s", err);
}

static void
exec_cancel(struct check *c)
{
	struct exec_priv *p = check_priv(c);

	child_cancel(p->sp);
	p->sp = NULL;
}

static void
exec_fini(struct check *c)
{
	struct exec_priv *p = check_priv(c);

	if (p == NULL)
		return;
	exec_cancel(c);
	child_env_free(p->env);
	free(p->groups);
	free(p);
	check_set_priv(c, NULL);
}

const struct check_ops check_exec_ops = {
    .init = exec_init,
    .start = exec_start,
    .cancel = exec_cancel,
    .fini = exec_fini,
};
