/* SPDX-License-Identifier: ISC */
/*
 * The check runner: one struct check per configured check, scheduled on the
 * event loop with its interval, timeout and first-run jitter. Each check type
 * provides a struct check_ops; every result, whatever the type, ends in
 * check_done(), the single road into the health state machine.
 *
 * A run in flight that exceeds its timeout is cancelled through ops->cancel
 * (which must release every fd and kill any child) and reported as
 * HEALTH_R_TIMEOUT. check_done() outside a run (e.g. a pidfd saying the
 * watched process just exited) is reported at once as an out-of-band result.
 */
#ifndef CHECK_H
#define CHECK_H

#include <stdbool.h>

#include "conf.h"
#include "ev.h"
#include "health.h"
#include "sample.h"
#include "sysstat.h"

struct check;
struct checks;
struct httpc;

struct check_ops {
	/* Set up per-check state (check_set_priv). 0, or -1 (logged). */
	int (*init)(struct check *c);
	/* Begin one run; must not block. Ends with check_done() now or later.
	 */
	void (*start)(struct check *c);
	/* Abort the run in flight; must not call check_done(). May be NULL. */
	void (*cancel)(struct check *c);
	/* Free per-check state; cancel has been called if a run was in flight.
	 */
	void (*fini)(struct check *c);
};

/* What the checks share. */
struct check_env {
	struct ev *ev;
	struct httpc *httpc;
	struct sysstat *sysstat;
	const struct sample *sample; /* the latest system sample */
	struct health *health;
};

/* Build one check per conf entry and register it with env->health. Checks
 * are not started until checks_start(). NULL on failure (logged). */
struct checks *checks_new(const struct conf *conf, const struct check_env *env);
/* Schedule first runs, each after a random delay up to its jitter. */
void checks_start(struct checks *cs);
void checks_free(struct checks *cs);

/* Accessors for the type modules. */
const struct conf_check *check_conf(const struct check *c);
const struct check_env *check_env(const struct check *c);
const char *check_name(const struct check *c);
void *check_priv(const struct check *c);
void check_set_priv(struct check *c, void *priv);
bool check_running(const struct check *c);

/* Deliver a result; detail is printf-formatted (may be NULL). */
void check_done(struct check *c, bool ok, enum health_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
