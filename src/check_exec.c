/* SPDX-License-Identifier: ISC */
/*
 * The exec check: run the configured argv through the child module (own
 * process group, stdin on /dev/null, output captured, clean signal state)
 * and turn how it ended into a result. The first line of output goes into
 * the detail. A run cancelled at its timeout is killed with its whole group
 * and reaped by the child module, which outlives the check.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>

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
	struct exec_priv *p;

	if (cc->argc == 0 || cc->argv[0] == NULL || cc->argv[0][0] != '/') {
		log_err("check %s: exec needs an absolute program path",
		    check_name(c));
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->c = c;
	check_set_priv(c, p);
	return 0;
}

static void
exec_start(struct check *c)
{
	struct exec_priv *p = check_priv(c);
	/* The check runner owns the timeout and cancels the run. */
	const struct child_opts o = {.out_max = OUT_MAX};
	char err[160];

	p->sp = child_start(check_env(c)->ev, check_conf(c)->argv, &o,
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
	free(p);
	check_set_priv(c, NULL);
}

const struct check_ops check_exec_ops = {
    .init = exec_init,
    .start = exec_start,
    .cancel = exec_cancel,
    .fini = exec_fini,
};
