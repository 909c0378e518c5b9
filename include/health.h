/* SPDX-License-Identifier: ISC */
/*
 * The health state machine. Pure: no I/O, no clock reads; time is passed in.
 * Every check result enters through health_report(), carrying a reason, and
 * the aggregate verdict is recomputed from the per-check states.
 *
 * Per check: UNKNOWN until the first result; UNKNOWN -> UP on the first
 * success, UNKNOWN -> DOWN after `fall` consecutive failures; UP -> DOWN after
 * `fall` consecutive failures; DOWN -> UP after `rise` consecutive successes.
 * An immediate failure (an observed event rather than a poll) goes DOWN at
 * once.
 * A check whose last result is older than 3 intervals is forced DOWN with
 * reason "stale", so a wedged checker can never keep reporting healthy.
 *
 * Aggregate, in order of precedence:
 *   DRAINING   an operator or a signal asked for it;
 *   STARTING   within start_grace, until every local check has passed once;
 *   UNHEALTHY  a local check is DOWN, or still UNKNOWN after STARTING
 *              (no evidence is not good evidence; a check added by a
 *              reload is exempt until its first result);
 *   DEGRADED   only dependency checks are DOWN;
 *   HEALTHY    otherwise.
 */
#ifndef HEALTH_H
#define HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

enum health_cstate {
	HEALTH_C_UNKNOWN,
	HEALTH_C_UP,
	HEALTH_C_DOWN,
	HEALTH_C_MAX
};

extern const char *const health_cstate_names[HEALTH_C_MAX];

enum health_state {
	HEALTH_STARTING,
	HEALTH_HEALTHY,
	HEALTH_DEGRADED,
	HEALTH_UNHEALTHY,
	HEALTH_DRAINING,
	HEALTH_STATE_MAX
};

extern const char *const health_state_names[HEALTH_STATE_MAX];

/* Why a result is what it is. The detail string says the specifics. */
enum health_reason {
	HEALTH_R_NONE,       /* no result yet */
	HEALTH_R_OK,         /* passed */
	HEALTH_R_TIMEOUT,    /* did not finish within timeout */
	HEALTH_R_REFUSED,    /* connection refused */
	HEALTH_R_CONNECT,    /* other connect/resolve/network error */
	HEALTH_R_STATUS,     /* unexpected HTTP status */
	HEALTH_R_BODY,       /* expected body text missing */
	HEALTH_R_PROC_GONE,  /* process not running / exited */
	HEALTH_R_PROC_COUNT, /* too few or too many matching processes */
	HEALTH_R_EXIT,       /* exec check exited non-zero */
	HEALTH_R_SIGNAL,     /* exec check killed by a signal */
	HEALTH_R_THRESHOLD,  /* metric over/under its limit */
	HEALTH_R_STALE,      /* no result for 3 intervals */
	HEALTH_R_ERROR,      /* the check itself could not run */
	HEALTH_R_MAX
};

extern const char *const health_reason_names[HEALTH_R_MAX];

#define HEALTH_DETAIL_MAX 160

/* One check result, as delivered to health_report(). */
struct health_result {
	bool ok;
	enum health_reason reason;
	char detail[HEALTH_DETAIL_MAX]; /* e.g. "status 500", "exit 3" */
	double latency_ms;              /* < 0 when not meaningful */
	/* An observed event (a pidfd saying the process exited), not a poll:
	 * a failure takes the check DOWN at once, without waiting for fall. */
	bool immediate;
};

/* Per-check parameters, copied in by health_add_check(). */
struct health_check_params {
	const char *name;
	bool dependency;
	int rise, fall;
	enum health_cstate initial;
	mono_ms interval; /* for staleness: 3 * interval (+ timeout) */
	mono_ms timeout;
};

/* A read-only view of one check, for the endpoint, status and logs. */
struct health_check_view {
	const char *name;
	bool dependency;
	enum health_cstate state;
	struct health_result last; /* the most recent result */
	mono_ms last_at;           /* when it arrived, 0 = never */
	mono_ms changed_at;        /* when state last changed */
	bool passed_once;
	int consecutive_ok, consecutive_fail;
	unsigned long runs, failures; /* counters */
	unsigned long transitions;
};

struct health;

/* Called on every aggregate or per-check transition. check is -1 for an
 * aggregate change, else the index of the check that changed. */
typedef void (*health_transition_cb)(const struct health *h, int check,
    int from, int to, void *arg);

struct health *health_new(mono_ms now, mono_ms start_grace);
void health_free(struct health *h);
void health_on_transition(struct health *h, health_transition_cb cb, void *arg);
/* Returns the index of the new check. */
size_t health_add_check(struct health *h, const struct health_check_params *p,
    mono_ms now);
/*
 * Carry per-check state from old into h for checks with the same name and
 * scope, plus the start time, drain flag and counters; used on reload.
 */
void health_adopt(struct health *h, const struct health *old);

/* The single entry point for check results. */
void health_report(struct health *h, size_t check,
    const struct health_result *r, mono_ms now);
/* Apply time: staleness and the end of the start grace. Call every tick. */
void health_tick(struct health *h, mono_ms now);
void health_set_draining(struct health *h, bool on, const char *why,
    mono_ms now);

enum health_state health_state(const struct health *h);
/* Why the aggregate is what it is, e.g. "web: status 500". */
const char *health_why(const struct health *h);
mono_ms health_state_since(const struct health *h);
mono_ms health_started_at(const struct health *h);
size_t health_count(const struct health *h);
void health_check(const struct health *h, size_t i,
    struct health_check_view *out);
/* Does the aggregate state mean HTTP 200 (HEALTHY or DEGRADED)? */
bool health_state_ok(enum health_state s);

/* Fill a result; detail is printf-formatted (may be NULL). */
void health_result_set(struct health_result *r, bool ok,
    enum health_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
