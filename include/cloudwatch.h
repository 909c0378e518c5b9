/* SPDX-License-Identifier: ISC */
/*
 * CloudWatch custom metrics. Every sample tick is folded into per-minute
 * (or per-second with storage_resolution = 1) StatisticValues; every
 * `interval` (jittered per instance) the finished periods are published
 * with PutMetricData in as few requests as the limits allow (1000 datums,
 * 1 MB, gzip at 10 KiB). Unsent datums wait in a bounded queue with their
 * original timestamps; overflow drops the oldest and counts the drop.
 */
#ifndef CLOUDWATCH_H
#define CLOUDWATCH_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "aws.h"
#include "conf.h"
#include "ev.h"
#include "health.h"
#include "sample.h"

enum cloudwatch_metric {
	CW_CPU_USAGE,       /* cpu_usage_percent, Percent */
	CW_MEM_USED,        /* mem_used_percent, Percent */
	CW_SWAP_USED,       /* swap_used_percent, Percent */
	CW_DISK_USED,       /* disk_used_percent, Percent */
	CW_HEALTHY,         /* healthy, 1/0, Count */
	CW_CHECK_FAILED,    /* check_failed, per check (dimension Check), 1/0 */
	CW_CHECK_LATENCY,   /* check_latency_ms, per check, Milliseconds */
	CW_EVICTION_REFUSED, /* self_eviction_refused, Count */
	CW_METRIC_MAX
};
extern const char *const cloudwatch_metric_names[CW_METRIC_MAX];

struct cloudwatch;

struct cloudwatch *cloudwatch_new(struct ev *ev, struct aws *aws,
    const struct conf *c);
void cloudwatch_free(struct cloudwatch *cw);
/* Apply a reloaded config; queued data is kept. */
void cloudwatch_reconfigure(struct cloudwatch *cw, const struct conf *c);
/* Identity for the dimensions; until the instance id is known, data is
 * folded but not published. group may be NULL (not in an ASG). */
void cloudwatch_set_identity(struct cloudwatch *cw, const char *instance_id,
    const char *group);
/* Fold one tick: the sample, the verdict and each check's last result. */
void cloudwatch_observe(struct cloudwatch *cw, const struct sample *s,
    const struct health *h, int64_t wall_ms);
/* Add to a counter metric (CW_EVICTION_REFUSED). */
void cloudwatch_count(struct cloudwatch *cw, enum cloudwatch_metric m,
    double n, int64_t wall_ms);
/* Publish what is due now (also runs on its own timer). */
void cloudwatch_flush(struct cloudwatch *cw);
/* Add "cloudwatch": {last_success, last_error, queued, dropped, ...}. */
void cloudwatch_status(const struct cloudwatch *cw, json_object *into);

/* How many custom metrics (distinct name + dimension sets) the config
 * creates with n_checks checks, and the estimated USD per month at the
 * first-tier price, API calls included. Pure; used by checkconf. */
void cloudwatch_estimate(const struct conf *c, size_t *n_metrics,
    double *usd_month);

#endif
