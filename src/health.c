/* SPDX-License-Identifier: ISC */
/*
 * The health state machine: per-check hysteresis (rise/fall), staleness,
 * the start grace, draining, and the aggregate verdict with a reason. Pure:
 * callers pass the time in, and nothing here does I/O or logging; the
 * transition callback lets the daemon log and act.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "xmalloc.h"

const char *const health_cstate_names[HEALTH_C_MAX] = {
    [HEALTH_C_UNKNOWN] = "unknown",
    [HEALTH_C_UP] = "up",
    [HEALTH_C_DOWN] = "down",
};

const char *const health_state_names[HEALTH_STATE_MAX] = {
    [HEALTH_STARTING] = "starting",
    [HEALTH_HEALTHY] = "healthy",
    [HEALTH_DEGRADED] = "degraded",
    [HEALTH_UNHEALTHY] = "unhealthy",
    [HEALTH_DRAINING] = "draining",
};

const char *const health_reason_names[HEALTH_R_MAX] = {
    [HEALTH_R_NONE] = "none",
    [HEALTH_R_OK] = "ok",
    [HEALTH_R_TIMEOUT] = "timeout",
    [HEALTH_R_REFUSED] = "refused",
    [HEALTH_R_CONNECT] = "connect",
    [HEALTH_R_STATUS] = "status",
    [HEALTH_R_BODY] = "body",
    [HEALTH_R_PROC_GONE] = "process_gone",
    [HEALTH_R_PROC_COUNT] = "process_count",
    [HEALTH_R_EXIT] = "exit",
    [HEALTH_R_SIGNAL] = "signal",
    [HEALTH_R_THRESHOLD] = "threshold",
    [HEALTH_R_STALE] = "stale",
    [HEALTH_R_ERROR] = "error",
};

_Static_assert(sizeof(health_reason_names) / sizeof(health_reason_names[0]) ==
        HEALTH_R_MAX,
    "health_reason_names");

struct hcheck {
	char *name;
	bool dependency;
	int rise, fall;
	mono_ms interval, timeout;
	mono_ms created_at;
	enum health_cstate state;
	struct health_result last;
	mono_ms last_at, changed_at;
	bool passed_once;
	bool added_by_reload; /* no result yet, added by a reload */
	int cons_ok, cons_fail;
	unsigned long runs, failures, transitions;
};

struct health {
	mono_ms started_at, grace;
	bool left_starting; /* STARTING is only ever at the beginning */
	bool draining;
	char drain_why[128];
	enum health_state state;
	mono_ms state_since;
	char why[512];
	struct hcheck *checks;
	size_t n, cap;
	health_transition_cb cb;
	void *cb_arg;
};

void
health_result_set(struct health_result *r, bool ok, enum health_reason reason,
    const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	r->ok = ok;
	r->reason = reason;
	r->latency_ms = -1;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
		va_end(ap);
	}
}

bool
health_state_ok(enum health_state s)
{
	return s == HEALTH_HEALTHY || s == HEALTH_DEGRADED;
}

struct health *
health_new(mono_ms now, mono_ms start_grace)
{
	struct health *h = xcalloc(1, sizeof(*h));

	h->started_at = now;
	h->grace = start_grace;
	h->state = HEALTH_STARTING;
	h->state_since = now;
	snprintf(h->why, sizeof(h->why), "starting");
	return h;
}

void
health_free(struct health *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		free(h->checks[i].name);
	free(h->checks);
	free(h);
}

void
health_on_transition(struct health *h, health_transition_cb cb, void *arg)
{
	h->cb = cb;
	h->cb_arg = arg;
}

size_t
health_add_check(struct health *h, const struct health_check_params *p,
    mono_ms now)
{
	struct hcheck *c;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->checks =
		    xreallocarray(h->checks, h->cap, sizeof(*h->checks));
	}
	c = &h->checks[h->n];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(p->name);
	c->dependency = p->dependency;
	c->rise = p->rise > 0 ? p->rise : 1;
	c->fall = p->fall > 0 ? p->fall : 1;
	c->interval = p->interval;
	c->timeout = p->timeout;
	c->created_at = now;
	c->changed_at = now;
	c->state = p->initial;
	c->passed_once = p->initial == HEALTH_C_UP;
	c->last.reason = HEALTH_R_NONE;
	c->last.latency_ms = -1;
	return h->n++;
}

static void append(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static const char *
result_text(const struct hcheck *c, char *buf, size_t len)
{
	if (c->state == HEALTH_C_DOWN && c->last.ok) {
		snprintf(buf, len, "recovering, %d of %d successes", c->cons_ok,
		    c->rise);
		return buf;
	}
	if (c->last.detail[0] != '\0')
		return c->last.detail;
	if (c->last.reason == HEALTH_R_NONE)
		return "no result yet";
	return health_reason_names[c->last.reason];
}

/*
 * Does this check stand in the way of a healthy verdict? DOWN always does.
 * A local check that is still UNKNOWN does too: no evidence is not good
 * evidence. The exception is a check that a reload just added, which gets
 * until its first result (or until it is stale) not to flap the instance.
 */
static bool
failing(const struct hcheck *c)
{
	if (c->state == HEALTH_C_DOWN)
		return true;
	return c->state == HEALTH_C_UNKNOWN && !c->dependency &&
	    !c->added_by_reload;
}

/* Recompute the aggregate and its reason; notify on a change. */
static void
evaluate(struct health *h, mono_ms now)
{
	enum health_state s, old = h->state;
	char why[sizeof(h->why)] = "";
	bool all_local_passed = true, local_down = false, dep_down = false;
	size_t n_local = 0, n_dep = 0, n_local_up = 0, n_dep_up = 0;

	for (size_t i = 0; i < h->n; i++) {
		const struct hcheck *c = &h->checks[i];

		if (c->dependency) {
			n_dep++;
			n_dep_up += c->state == HEALTH_C_UP;
			dep_down |= c->state == HEALTH_C_DOWN;
		} else {
			n_local++;
			n_local_up += c->state == HEALTH_C_UP;
			local_down |= failing(c);
			all_local_passed &= c->passed_once;
		}
	}
	if (!h->left_starting &&
	    (all_local_passed || now >= h->started_at + h->grace))
		h->left_starting = true;

	if (h->draining) {
		s = HEALTH_DRAINING;
		snprintf(why, sizeof(why), "draining: %s", h->drain_why);
	} else if (!h->left_starting) {
		s = HEALTH_STARTING;
		snprintf(why, sizeof(why),
		    "start grace (%llu s left), waiting for",
		    (unsigned long long)((h->started_at + h->grace - now +
		                             999) /
		        1000));
		for (size_t i = 0; i < h->n; i++) {
			const struct hcheck *c = &h->checks[i];

			if (!c->dependency && !c->passed_once)
				append(why, sizeof(why), " %s", c->name);
		}
	} else if (local_down || dep_down) {
		const char *sep = "";
		char buf[64];

		s = local_down ? HEALTH_UNHEALTHY : HEALTH_DEGRADED;
		if (!local_down)
			snprintf(why, sizeof(why), "dependency down: ");
		for (size_t i = 0; i < h->n; i++) {
			const struct hcheck *c = &h->checks[i];

			/* When local checks are down, they alone explain it. */
			if (!failing(c) || (local_down && c->dependency))
				continue;
			append(why, sizeof(why), "%s%s: %s", sep, c->name,
			    result_text(c, buf, sizeof(buf)));
			sep = "; ";
		}
	} else {
		s = HEALTH_HEALTHY;
		snprintf(why, sizeof(why), "%zu of %zu local checks up",
		    n_local_up, n_local);
		if (n_dep > 0)
			append(why, sizeof(why), ", %zu of %zu dependencies up",
			    n_dep_up, n_dep);
	}
	memcpy(h->why, why, sizeof(why));
	if (s != old) {
		h->state = s;
		h->state_since = now;
		if (h->cb != NULL)
			h->cb(h, -1, (int)old, (int)s, h->cb_arg);
	}
}

static void
set_cstate(struct health *h, size_t i, enum health_cstate to, mono_ms now)
{
	struct hcheck *c = &h->checks[i];
	enum health_cstate from = c->state;

	if (from == to)
		return;
	c->state = to;
	c->changed_at = now;
	c->transitions++;
	if (h->cb != NULL)
		h->cb(h, (int)i, (int)from, (int)to, h->cb_arg);
}

void
health_report(struct health *h, size_t i, const struct health_result *r,
    mono_ms now)
{
	struct hcheck *c;

	if (i >= h->n)
		return;
	c = &h->checks[i];
	c->added_by_reload = false;
	c->last = *r;
	c->last_at = now;
	c->runs++;
	if (r->ok) {
		c->cons_ok++;
		c->cons_fail = 0;
		c->passed_once = true;
		if (c->state == HEALTH_C_UNKNOWN ||
		    (c->state == HEALTH_C_DOWN && c->cons_ok >= c->rise))
			set_cstate(h, i, HEALTH_C_UP, now);
	} else {
		c->failures++;
		c->cons_fail++;
		c->cons_ok = 0;
		if (c->state != HEALTH_C_DOWN &&
		    (r->immediate || c->cons_fail >= c->fall))
			set_cstate(h, i, HEALTH_C_DOWN, now);
	}
	evaluate(h, now);
}

void
health_tick(struct health *h, mono_ms now)
{
	for (size_t i = 0; i < h->n; i++) {
		struct hcheck *c = &h->checks[i];
		mono_ms since = c->last_at ? c->last_at : c->created_at;
		mono_ms limit = 3 * c->interval + c->timeout;

		if (c->interval == 0 || now <= since + limit ||
		    c->last.reason == HEALTH_R_STALE)
			continue;
		/* A wedged checker must never keep reporting healthy: its
		 * last word is void after three intervals. */
		c->last.ok = false;
		c->last.reason = HEALTH_R_STALE;
		c->last.immediate = true;
		c->last.latency_ms = -1;
		snprintf(c->last.detail, sizeof(c->last.detail),
		    "stale: no result for %llu ms",
		    (unsigned long long)(now - since));
		c->cons_ok = 0;
		c->cons_fail++;
		c->failures++;
		c->added_by_reload = false;
		set_cstate(h, i, HEALTH_C_DOWN, now);
	}
	evaluate(h, now);
}

void
health_set_draining(struct health *h, bool on, const char *why, mono_ms now)
{
	h->draining = on;
	snprintf(h->drain_why, sizeof(h->drain_why), "%s",
	    why != NULL ? why : "requested");
	evaluate(h, now);
}

void
health_adopt(struct health *h, const struct health *old)
{
	h->started_at = old->started_at;
	h->left_starting = old->left_starting;
	h->draining = old->draining;
	memcpy(h->drain_why, old->drain_why, sizeof(h->drain_why));
	h->state = old->state;
	h->state_since = old->state_since;
	for (size_t i = 0; i < h->n; i++) {
		struct hcheck *c = &h->checks[i];

		c->added_by_reload = c->state == HEALTH_C_UNKNOWN;
		for (size_t j = 0; j < old->n; j++) {
			const struct hcheck *o = &old->checks[j];

			if (strcmp(c->name, o->name) != 0 ||
			    c->dependency != o->dependency)
				continue;
			c->added_by_reload = o->added_by_reload;
			c->state = o->state;
			c->last = o->last;
			c->last_at = o->last_at;
			c->changed_at = o->changed_at;
			c->passed_once = o->passed_once;
			c->cons_ok = o->cons_ok;
			c->cons_fail = o->cons_fail;
			c->runs = o->runs;
			c->failures = o->failures;
			c->transitions = o->transitions;
			break;
		}
	}
}

enum health_state
health_state(const struct health *h)
{
	return h->state;
}

const char *
health_why(const struct health *h)
{
	return h->why;
}

mono_ms
health_state_since(const struct health *h)
{
	return h->state_since;
}

mono_ms
health_started_at(const struct health *h)
{
	return h->started_at;
}

size_t
health_count(const struct health *h)
{
	return h->n;
}

void
health_check(const struct health *h, size_t i, struct health_check_view *out)
{
	const struct hcheck *c = &h->checks[i];

	out->name = c->name;
	out->dependency = c->dependency;
	out->state = c->state;
	out->last = c->last;
	out->last_at = c->last_at;
	out->changed_at = c->changed_at;
	out->passed_once = c->passed_once;
	out->consecutive_ok = c->cons_ok;
	out->consecutive_fail = c->cons_fail;
	out->runs = c->runs;
	out->failures = c->failures;
	out->transitions = c->transitions;
}
