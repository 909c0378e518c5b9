/* SPDX-License-Identifier: ISC */
/*
 * The threshold check: compares one metric of the latest system sample with
 * its max and/or min. With `for`, the limit must be crossed on every run for
 * that long before the check fails (continuity is judged at run
 * granularity). A metric that is not available yet, e.g. CPU before two
 * readings, reads as "waiting for samples" during a short start grace; a
 * metric that stays unavailable is an error. It does no sampling itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "check_threshold.h"
#include "xmalloc.h"

/* How long a metric may be missing at startup before it is an error. */
#define START_GRACE_MS 10000

struct threshold_check {
	bool breaching;
	mono_ms breach_since;
	bool missing;
	mono_ms missing_since;
	bool had_value;
};

static void
format_value(char *buf, size_t len, enum conf_metric m, double v)
{
	if (m == CONF_METRIC_LOAD1 || m == CONF_METRIC_LOAD5 ||
	    m == CONF_METRIC_LOAD15)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

static void
report_missing(struct check *c, struct threshold_check *tc, mono_ms now)
{
	const struct conf_check *cf = check_conf(c);
	const char *name = conf_metric_names[cf->metric];
	mono_ms for_ms = util_sec_to_ms(cf->for_seconds), grace, gone;

	/* The breach, if any, is no longer known to be continuous. */
	tc->breaching = false;
	if (!tc->missing) {
		tc->missing = true;
		tc->missing_since = now;
	}
	gone = now - tc->missing_since;
	if (!tc->had_value) {
		grace = for_ms > START_GRACE_MS ? for_ms : START_GRACE_MS;
		if (gone < grace) {
			check_done(c, true, HEALTH_R_OK,
			    "%s: waiting for samples", name);
			return;
		}
	} else if (gone < for_ms) {
		check_done(c, true, HEALTH_R_OK, "%s: no sample for %llus",
		    name, (unsigned long long)(gone / 1000));
		return;
	}
	check_done(c, false, HEALTH_R_ERROR, "%s: no sample for %llus", name,
	    (unsigned long long)(gone / 1000));
}

static void
threshold_start(struct check *c)
{
	const struct conf_check *cf = check_conf(c);
	const struct check_env *env = check_env(c);
	struct threshold_check *tc = check_priv(c);
	const char *name = conf_metric_names[cf->metric];
	mono_ms now = ev_now(env->ev), for_ms, held;
	char val[32], limit[48], lasted[32];
	bool over, under;
	double v;

	if (env->sample == NULL || !env->sample->valid ||
	    !sample_metric(env->sample, cf->metric, &v)) {
		report_missing(c, tc, now);
		return;
	}
	tc->missing = false;
	tc->had_value = true;
	format_value(val, sizeof(val), cf->metric, v);

	over = cf->has_max && v > cf->max;
	under = cf->has_min && v < cf->min;
	if (!over && !under) {
		tc->breaching = false;
		check_done(c, true, HEALTH_R_OK, "%s %s", name, val);
		return;
	}
	if (!tc->breaching) {
		tc->breaching = true;
		tc->breach_since = now;
	}
	snprintf(limit, sizeof(limit), "%s %g", over ? ">" : "<",
	    over ? cf->max : cf->min);
	for_ms = util_sec_to_ms(cf->for_seconds);
	held = now - tc->breach_since;
	if (for_ms == 0) {
		check_done(c, false, HEALTH_R_THRESHOLD, "%s %s %s", name, val,
		    limit);
		return;
	}
	snprintf(lasted, sizeof(lasted), "%llus",
	    (unsigned long long)(held / 1000));
	if (held >= for_ms)
		check_done(c, false, HEALTH_R_THRESHOLD, "%s %s %s for %s",
		    name, val, limit, lasted);
	else
		check_done(c, true, HEALTH_R_OK, "%s %s %s for %s of %gs", name,
		    val, limit, lasted, cf->for_seconds);
}

static int
threshold_init(struct check *c)
{
	check_set_priv(c, xcalloc(1, sizeof(struct threshold_check)));
	return 0;
}

static void
threshold_fini(struct check *c)
{
	free(check_priv(c));
	check_set_priv(c, NULL);
}

/* A run finishes inside start(), so there is never anything to cancel. */
const struct check_ops check_threshold_ops = {
    .init = threshold_init,
    .start = threshold_start,
    .cancel = NULL,
    .fini = threshold_fini,
};
