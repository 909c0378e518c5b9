/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the pure health state machine: rise/fall hysteresis, the
 * start grace, dependency vs local scope, staleness, draining, immediate
 * failures, reasons, transitions and carrying state over a reload.
 */
#include "config.h"

#include <string.h>

#include "health.h"
#include "tap.h"

static int transitions, agg_transitions;
static int last_from, last_to;

static void
on_transition(const struct health *h, int check, int from, int to, void *arg)
{
	if (check < 0) {
		agg_transitions++;
		last_from = from;
		last_to = to;
	} else {
		transitions++;
	}
}

static void
pass(struct health *h, size_t i, mono_ms now)
{
	struct health_result r;

	health_result_set(&r, true, HEALTH_R_OK, "status 200");
	health_report(h, i, &r, now);
}

static void
fail(struct health *h, size_t i, enum health_reason why, const char *detail,
    mono_ms now)
{
	struct health_result r;

	health_result_set(&r, false, why, "%s", detail);
	health_report(h, i, &r, now);
}

static enum health_cstate
cstate(struct health *h, size_t i)
{
	struct health_check_view v;

	health_check(h, i, &v);
	return v.state;
}

static size_t
add(struct health *h, const char *name, bool dep, int rise, int fall,
    mono_ms now)
{
	struct health_check_params p = {
	    .name = name,
	    .dependency = dep,
	    .rise = rise,
	    .fall = fall,
	    .initial = HEALTH_C_UNKNOWN,
	    .interval = 1000,
	    .timeout = 500,
	};

	return health_add_check(h, &p, now);
}

static void
test_rise_fall(void)
{
	struct health *h = health_new(0, 60000);
	size_t web = add(h, "web", false, 2, 3, 0);
	mono_ms t = 0;

	is_int(health_state(h), HEALTH_STARTING, "starts in STARTING");
	is_int(cstate(h, web), HEALTH_C_UNKNOWN, "check starts UNKNOWN");
	pass(h, web, t += 1000);
	is_int(cstate(h, web), HEALTH_C_UP, "first success: UNKNOWN -> UP");
	is_int(health_state(h), HEALTH_HEALTHY,
	    "all local checks passed once: leaves STARTING early");
	fail(h, web, HEALTH_R_STATUS, "status 500", t += 1000);
	fail(h, web, HEALTH_R_STATUS, "status 500", t += 1000);
	is_int(cstate(h, web), HEALTH_C_UP, "two failures < fall=3: still UP");
	is_int(health_state(h), HEALTH_HEALTHY, "still HEALTHY below fall");
	fail(h, web, HEALTH_R_STATUS, "status 500", t += 1000);
	is_int(cstate(h, web), HEALTH_C_DOWN, "third failure: UP -> DOWN");
	is_int(health_state(h), HEALTH_UNHEALTHY, "local DOWN: UNHEALTHY");
	ok(strstr(health_why(h), "web: status 500") != NULL,
	    "why names the check and reason (%s)", health_why(h));
	pass(h, web, t += 1000);
	is_int(cstate(h, web), HEALTH_C_DOWN,
	    "one success < rise=2: still DOWN");
	fail(h, web, HEALTH_R_TIMEOUT, "timeout", t += 1000);
	pass(h, web, t += 1000);
	is_int(cstate(h, web), HEALTH_C_DOWN,
	    "a failure resets the rise count");
	pass(h, web, t += 1000);
	is_int(cstate(h, web), HEALTH_C_UP, "rise=2 successes: DOWN -> UP");
	is_int(health_state(h), HEALTH_HEALTHY, "back to HEALTHY");
	health_free(h);
}

static void
test_grace(void)
{
	struct health *h = health_new(0, 10000);
	size_t app = add(h, "app", false, 1, 1, 0);

	fail(h, app, HEALTH_R_PROC_GONE, "no process matches", 1000);
	is_int(cstate(h, app), HEALTH_C_DOWN, "fall=1: DOWN at once");
	is_int(health_state(h), HEALTH_STARTING,
	    "failures within the grace do not make it UNHEALTHY");
	ok(strstr(health_why(h), "app") != NULL,
	    "STARTING says what it waits for (%s)", health_why(h));
	health_tick(h, 9000);
	is_int(health_state(h), HEALTH_STARTING, "still STARTING at 9 s");
	fail(h, app, HEALTH_R_PROC_GONE, "no process matches", 10000);
	is_int(health_state(h), HEALTH_UNHEALTHY,
	    "grace over, never passed: UNHEALTHY");
	health_free(h);

	h = health_new(0, 10000);
	app = add(h, "app", false, 1, 1, 0);
	pass(h, app, 500);
	fail(h, app, HEALTH_R_PROC_GONE, "gone", 800);
	is_int(health_state(h), HEALTH_UNHEALTHY,
	    "after leaving STARTING, the grace no longer protects");
	health_free(h);
}

static void
test_dependency(void)
{
	struct health *h = health_new(0, 0);
	size_t web = add(h, "web", false, 1, 1, 0);
	size_t redis = add(h, "redis", true, 1, 1, 0);

	pass(h, web, 100);
	pass(h, redis, 100);
	is_int(health_state(h), HEALTH_HEALTHY, "both up: HEALTHY");
	fail(h, redis, HEALTH_R_REFUSED, "connection refused", 200);
	is_int(health_state(h), HEALTH_DEGRADED,
	    "only a dependency down: DEGRADED");
	ok(health_state_ok(HEALTH_DEGRADED), "DEGRADED still answers 200");
	ok(strstr(health_why(h), "redis: connection refused") != NULL,
	    "DEGRADED names the dependency (%s)", health_why(h));
	fail(h, web, HEALTH_R_TIMEOUT, "timeout after 500 ms", 300);
	is_int(health_state(h), HEALTH_UNHEALTHY,
	    "a local check down wins over a dependency");
	ok(strstr(health_why(h), "redis") == NULL,
	    "UNHEALTHY is explained by local checks only (%s)", health_why(h));
	ok(!health_state_ok(HEALTH_UNHEALTHY), "UNHEALTHY answers 503");
	ok(!health_state_ok(HEALTH_STARTING), "STARTING answers 503");
	ok(!health_state_ok(HEALTH_DRAINING), "DRAINING answers 503");
	health_free(h);
}

static void
test_stale(void)
{
	struct health *h = health_new(0, 0);
	size_t web = add(h, "web", false, 1, 3, 0);
	struct health_check_view v;

	pass(h, web, 1000);
	health_tick(h, 4000);
	is_int(cstate(h, web), HEALTH_C_UP, "not stale within 3 intervals");
	health_tick(h, 1000 + 3 * 1000 + 500 + 1);
	is_int(cstate(h, web), HEALTH_C_DOWN,
	    "a result older than 3 intervals counts as failing");
	health_check(h, web, &v);
	is_int(v.last.reason, HEALTH_R_STALE, "the reason is stale");
	is_int(health_state(h), HEALTH_UNHEALTHY,
	    "a wedged checker is unhealthy");
	health_free(h);

	h = health_new(0, 0);
	web = add(h, "web", false, 1, 3, 0);
	health_tick(h, 3500);
	is_int(cstate(h, web), HEALTH_C_UNKNOWN, "never ran, not stale yet");
	health_tick(h, 3501);
	is_int(cstate(h, web), HEALTH_C_DOWN, "never ran at all: stale");
	health_free(h);
}

static void
test_immediate_and_drain(void)
{
	struct health *h = health_new(0, 0);
	size_t app = add(h, "app", false, 2, 3, 0);
	struct health_result r;

	health_on_transition(h, on_transition, NULL);
	pass(h, app, 100);
	is_int(transitions, 1, "per-check transition reported");
	health_result_set(&r, false, HEALTH_R_PROC_GONE, "pid %d exited", 42);
	r.immediate = true;
	health_report(h, app, &r, 200);
	is_int(cstate(h, app), HEALTH_C_DOWN,
	    "an observed exit goes DOWN without waiting for fall");
	is_int(last_to, HEALTH_UNHEALTHY, "aggregate transition reported");
	pass(h, app, 300);
	pass(h, app, 400);
	health_set_draining(h, true, "SIGTERM", 500);
	is_int(health_state(h), HEALTH_DRAINING, "drain overrides everything");
	ok(strstr(health_why(h), "SIGTERM") != NULL, "drain says why");
	health_set_draining(h, false, NULL, 600);
	is_int(health_state(h), HEALTH_HEALTHY, "undrain restores the verdict");
	health_free(h);
}

static void
test_adopt(void)
{
	struct health *old = health_new(0, 0), *h;
	size_t web = add(old, "web", false, 1, 1, 0);
	struct health_check_view v;

	add(old, "gone", false, 1, 1, 0);
	pass(old, web, 100);
	fail(old, web, HEALTH_R_STATUS, "status 500", 200);
	health_set_draining(old, true, "operator", 250);

	h = health_new(300, 60000);
	web = add(h, "new", false, 1, 1, 300);
	web = add(h, "web", false, 1, 1, 300);
	health_adopt(h, old);
	health_check(h, web, &v);
	is_int(v.state, HEALTH_C_DOWN, "reload keeps a check's state by name");
	is_int(v.runs, 2, "reload keeps counters");
	health_tick(h, 400);
	is_int(health_state(h), HEALTH_DRAINING, "reload keeps draining");
	health_set_draining(h, false, NULL, 500);
	is_int(health_state(h), HEALTH_UNHEALTHY,
	    "reload keeps the start time: no second grace");
	health_free(old);
	health_free(h);
}

static void
test_no_evidence(void)
{
	struct health *h = health_new(0, 0), *h2;
	size_t app = add(h, "app", false, 1, 3, 0);
	size_t dep = add(h, "db", true, 1, 3, 0);
	struct health_result r;

	health_tick(h, 10);
	is_int(health_state(h), HEALTH_UNHEALTHY,
	    "no grace and no result yet: not healthy");
	ok(strstr(health_why(h), "app: no result yet") != NULL,
	    "the reason is 'no result yet' (%s)", health_why(h));
	pass(h, app, 20);
	is_int(health_state(h), HEALTH_HEALTHY,
	    "an unknown dependency does not hold the verdict back");
	health_result_set(&r, false, HEALTH_R_REFUSED, "connection refused");
	health_report(h, dep, &r, 30);
	is_int(health_state(h), HEALTH_HEALTHY,
	    "one dependency failure below fall changes nothing");

	h2 = health_new(40, 60000);
	add(h2, "app", false, 1, 3, 40);
	app = add(h2, "new", false, 1, 3, 40);
	health_adopt(h2, h);
	health_tick(h2, 50);
	is_int(health_state(h2), HEALTH_HEALTHY,
	    "a check added by a reload does not flap the verdict");
	fail(h2, app, HEALTH_R_TIMEOUT, "timeout", 60);
	is_int(health_state(h2), HEALTH_UNHEALTHY,
	    "after its first result it counts like any other");
	health_free(h);
	health_free(h2);
}

static void
test_names(void)
{
	for (int i = 0; i < HEALTH_R_MAX; i++)
		if (health_reason_names[i] == NULL)
			ok(0, "reason %d has a name", i);
	for (int i = 0; i < HEALTH_STATE_MAX; i++)
		if (health_state_names[i] == NULL)
			ok(0, "state %d has a name", i);
	ok(1, "every reason and state has a name");
}

int
main(void)
{
	test_rise_fall();
	test_grace();
	test_dependency();
	test_stale();
	test_immediate_and_drain();
	test_adopt();
	test_no_evidence();
	test_names();
	return done_testing();
}
