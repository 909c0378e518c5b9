/* SPDX-License-Identifier: ISC */
/*
 * The check runner. Each configured check gets a schedule timer (fixed
 * rate, first run after a random jitter) and a deadline timer. The type
 * module starts a run and later calls check_done(); if the deadline fires
 * first the run is cancelled and reported as a timeout. check_done() is the
 * one road from any check into health_report().
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_exec.h"
#include "check_http.h"
#include "check_proc.h"
#include "check_tcp.h"
#include "check_threshold.h"
#include "log.h"
#include "xmalloc.h"

static const struct check_ops *const type_ops[CONF_CHECK_TYPE_MAX] = {
    [CONF_CHECK_PROCESS] = &check_proc_ops,
    [CONF_CHECK_HTTP] = &check_http_ops,
    [CONF_CHECK_TCP] = &check_tcp_ops,
    [CONF_CHECK_EXEC] = &check_exec_ops,
    [CONF_CHECK_THRESHOLD] = &check_threshold_ops,
};

struct check {
	struct checks *cs;
	const struct conf_check *conf;
	const struct check_ops *ops;
	size_t idx; /* in the health machine */
	void *priv;
	bool init_failed;
	bool running;
	uint64_t run_started; /* util_now_us() at start, for latency */
	struct ev_timer *sched, *deadline;
};

struct checks {
	struct check_env env;
	struct check *v;
	size_t n;
};

const struct conf_check *
check_conf(const struct check *c)
{
	return c->conf;
}

const struct check_env *
check_env(const struct check *c)
{
	return &c->cs->env;
}

const char *
check_name(const struct check *c)
{
	return c->conf->name;
}

void *
check_priv(const struct check *c)
{
	return c->priv;
}

void
check_set_priv(struct check *c, void *priv)
{
	c->priv = priv;
}

bool
check_running(const struct check *c)
{
	return c->running;
}

static void
deliver(struct check *c, struct health_result *r)
{
	mono_ms now = util_now_ms();

	if (c->running) {
		c->running = false;
		ev_timer_disarm(c->deadline);
		r->latency_ms =
		    (double)(util_now_us() - c->run_started) / 1000.0;
	} else if (!r->ok) {
		/* Nothing asked for this result: the check observed an event
		 * (a watched process exited). That is a fact, not a sample. */
		r->immediate = true;
	}
	health_report(c->cs->env.health, c->idx, r, now);
}

void
check_done(struct check *c, bool ok, enum health_reason reason, const char *fmt,
    ...)
{
	struct health_result r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.ok = ok;
	r.reason = reason;
	r.latency_ms = -1;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r.detail, sizeof(r.detail), fmt, ap);
		va_end(ap);
	}
	deliver(c, &r);
}

static void
deadline_cb(void *arg)
{
	struct check *c = arg;
	mono_ms timeout = util_sec_to_ms(c->conf->timeout);

	if (!c->running)
		return;
	if (c->ops->cancel != NULL)
		c->ops->cancel(c);
	check_done(c, false, HEALTH_R_TIMEOUT, "timeout after %llu ms",
	    (unsigned long long)timeout);
}

static void
sched_cb(void *arg)
{
	struct check *c = arg;
	mono_ms interval = util_sec_to_ms(c->conf->interval);

	/* Fixed rate: the next run is due one interval after this one was. */
	ev_timer_arm(c->sched, interval);
	/* Still running: with timeout == interval the deadline is due in
	 * this same tick (timeout <= interval), and may just come after us.
	 * Time the run out now, so a hung target does not skip every other
	 * run and detection stays within timeout x fall. */
	if (c->running)
		deadline_cb(c);
	if (c->running)
		return;
	if (c->init_failed) {
		check_done(c, false, HEALTH_R_ERROR,
		    "check could not be set up");
		return;
	}
	c->running = true;
	c->run_started = util_now_us();
	ev_timer_arm(c->deadline, util_sec_to_ms(c->conf->timeout));
	c->ops->start(c);
}

struct checks *
checks_new(const struct conf *conf, const struct check_env *env)
{
	struct checks *cs = xcalloc(1, sizeof(*cs));
	mono_ms now = util_now_ms();

	cs->env = *env;
	cs->n = conf->n_checks;
	cs->v = xcalloc(cs->n ? cs->n : 1, sizeof(*cs->v));
	for (size_t i = 0; i < cs->n; i++) {
		struct check *c = &cs->v[i];
		const struct conf_check *cc = &conf->checks[i];
		struct health_check_params p = {
		    .name = cc->name,
		    .dependency = cc->scope == CONF_SCOPE_DEPENDENCY,
		    .rise = cc->rise,
		    .fall = cc->fall,
		    .initial = (enum health_cstate)cc->initial,
		    .interval = util_sec_to_ms(cc->interval),
		    .timeout = util_sec_to_ms(cc->timeout),
		};

		c->cs = cs;
		c->conf = cc;
		c->ops = type_ops[cc->type];
		c->idx = health_add_check(env->health, &p, now);
		c->sched = ev_timer_new(env->ev, sched_cb, c);
		c->deadline = ev_timer_new(env->ev, deadline_cb, c);
		if (c->ops->init != NULL && c->ops->init(c) < 0) {
			log_err("check %s: cannot be set up; it will report "
			        "an error on every run",
			    cc->name);
			c->init_failed = true;
		}
	}
	return cs;
}

void
checks_start(struct checks *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct check *c = &cs->v[i];
		mono_ms jitter = util_sec_to_ms(c->conf->jitter);
		mono_ms delay = jitter ? (mono_ms)random() % (jitter + 1) : 0;

		ev_timer_arm(c->sched, delay);
	}
}

void
checks_free(struct checks *cs)
{
	if (cs == NULL)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		struct check *c = &cs->v[i];

		if (c->running && c->ops->cancel != NULL)
			c->ops->cancel(c);
		c->running = false;
		if (!c->init_failed && c->ops->fini != NULL)
			c->ops->fini(c);
		ev_timer_free(c->sched);
		ev_timer_free(c->deadline);
	}
	free(cs->v);
	free(cs);
}
