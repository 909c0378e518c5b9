/* SPDX-License-Identifier: ISC */
/*
 * CloudWatch custom metrics. Every sample tick is folded into per-period
 * StatisticValues; every `interval` (jittered per instance) the finished
 * periods are published with PutMetricData in as few requests as the
 * limits allow (1000 datums, 1 MB; aws.c gzips bodies of 10 KiB or more).
 * Unsent datums wait in a bounded queue with their original timestamps;
 * overflow drops the oldest and counts the drop.
 *
 * Series. Every metric below is published once per configured dimension
 * set (cloudwatch.dimensions):
 *   "InstanceId"           -> [InstanceId=<instance id>]
 *   "AutoScalingGroupName" -> [AutoScalingGroupName=<group>], the
 *                             group-level series that alarms and target
 *                             tracking use; not published when the instance
 *                             is in no group.
 * The per-check metrics add [Check=<check name>] to the set. So with the
 * default config (both sets, all metrics) and checks "web" and "db":
 *   cpu_usage_percent   Percent       [InstanceId]  [AutoScalingGroupName]
 *   mem_used_percent    Percent       (same two sets)
 *   swap_used_percent   Percent       (same)
 *   disk_used_percent   Percent       (same)
 *   healthy             Count         (same); 1 while the verdict answers
 *                                     200 (HEALTHY, DEGRADED), else 0
 *   self_eviction_refused Count       (same); refusals in the period, 0 when
 *                                     none (one value per period)
 *   check_failed        Count         [InstanceId, Check=web]
 *                                     [AutoScalingGroupName, Check=web], and
 *                                     the same for db; 1 while the check is
 *                                     DOWN, 0 while UP, nothing while
 *                                     UNKNOWN
 *   check_latency_ms    Milliseconds  (same sets as check_failed); one value
 *                                     per new result seen at a tick (one
 *                                     per run unless a check runs more
 *                                     often than the sample interval)
 * Gauges (the system metrics, healthy, check_failed) get one value per tick
 * (about 1 s), so Average is the share of time / mean level over the period,
 * SampleCount the number of ticks, Minimum and Maximum the extremes.
 *
 * Periods. storage_resolution = 60: one datum per series per minute,
 * timestamped at the start of the minute. storage_resolution = 1
 * (StorageResolution=1 on every datum): periods of 10 s, or 5 s / 1 s when
 * the interval is shorter than 10 s / 5 s, so that one flush still fits in
 * one request for any ordinary number of checks. Timestamps are wall-clock
 * period starts (ISO-8601 UTC, whole seconds).
 *
 * Queue. Finished periods wait in a FIFO of "series-periods" (one entry per
 * series per period, expanded into one MetricData member per dimension set
 * when sent) sized for buffer_seconds (default 3600) at the configured number
 * of series, at least CW_QUEUE_MIN entries and at most CW_QUEUE_MAX. A failed
 * request keeps its data at the head for the next flush; a request rejected
 * as invalid (400 InvalidParameterValue and the like) is bisected so only
 * the offending entries are dropped (counted as "rejected"). Entries outside
 * CloudWatch's timestamp window (older than 14 days, more than 2 h ahead)
 * are dropped and counted as "expired".
 */
#ifndef CLOUDWATCH_H
#define CLOUDWATCH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "conf.h"
#include "ev.h"
#include "health.h"
#include "sample.h"

enum cloudwatch_metric {
	CW_CPU_USAGE,     /* cpu_usage_percent, Percent */
	CW_MEM_USED,      /* mem_used_percent, Percent */
	CW_SWAP_USED,     /* swap_used_percent, Percent */
	CW_DISK_USED,     /* disk_used_percent, Percent */
	CW_HEALTHY,       /* healthy, 1/0, Count */
	CW_CHECK_FAILED,  /* check_failed, per check (dimension Check), 1/0 */
	CW_CHECK_LATENCY, /* check_latency_ms, per check, Milliseconds */
	CW_EVICTION_REFUSED, /* self_eviction_refused, Count */
	CW_METRIC_MAX
};

extern const char *const cloudwatch_metric_names[CW_METRIC_MAX];
/* The CloudWatch Unit of each metric ("Percent", "Count", ...). */
extern const char *const cloudwatch_metric_units[CW_METRIC_MAX];

struct cloudwatch;

/* aws may be NULL (no AWS client): data is then folded and queued only. */
struct cloudwatch *cloudwatch_new(struct ev *ev, struct aws *aws,
    const struct conf *c);
void cloudwatch_free(struct cloudwatch *cw);
/* Apply a reloaded config; queued data is kept (and published under the
 * new namespace). Disabling stops publishing but keeps the queue. */
void cloudwatch_reconfigure(struct cloudwatch *cw, const struct conf *c);
/* Identity for the dimensions; until the instance id is known, data is
 * folded and queued but not published. group may be NULL (not in an ASG):
 * call this once the group lookup has finished, since group-level data
 * queued while group is NULL is not published. The flush slot is derived
 * from the instance id until cloudwatch_set_slot() gives a group rank; a
 * new instance id forgets the rank. */
void cloudwatch_set_identity(struct cloudwatch *cw, const char *instance_id,
    const char *group);
/* The flush slot: where in each interval this instance publishes. With
 * rank (0-based) of this instance's id in the byte-sorted list of its
 * group's n instance ids, the centre of slot rank of n equal slots, so a
 * group's flushes are spread evenly whatever the ids; rank < 0 or n < 1
 * (group or list unknown, or this instance not listed) goes back to the
 * instance-id hash. A change only moves the next flush: the one already
 * due sooner still happens, so no datum is lost, sent twice or held more
 * than one interval longer. */
void cloudwatch_set_slot(struct cloudwatch *cw, int rank, int n);
/* Fold one tick: the sample, the verdict and each check's state and last
 * result. s or h may be NULL. wall_ms is util_wall_ms(). */
void cloudwatch_observe(struct cloudwatch *cw, const struct sample *s,
    const struct health *h, int64_t wall_ms);
/* Add to a counter metric (CW_EVICTION_REFUSED); other metrics are
 * ignored. */
void cloudwatch_count(struct cloudwatch *cw, enum cloudwatch_metric m, double n,
    int64_t wall_ms);
/* Publish what is due now (also runs on its own timer). Never blocks; at
 * most one request is in flight. */
void cloudwatch_flush(struct cloudwatch *cw);
/* At the start of a drain: also close the period in progress and publish
 * it with the rest (CloudWatch merges StatisticValues that share a
 * timestamp, so a partial period is counted correctly even if the agent
 * comes back within the same period). */
void cloudwatch_drain(struct cloudwatch *cw);
/* Entries queued or being sent (0 when disabled): the exit waits for
 * them. */
size_t cloudwatch_pending(const struct cloudwatch *cw);
/* Add "cloudwatch": {enabled, namespace, interval_s, storage_resolution,
 * period_s, waiting, in_flight, last_success, last_success_age_ms,
 * last_error {code, message, http_status, age_ms}, queued, capacity,
 * dropped, dropped_overflow, dropped_expired, dropped_rejected,
 * requests_ok, requests_failed, datums_ok, next_flush_in_ms, flush_slot,
 * flush_offset_s, flush_rank, flush_group_size}. period_s is fractional
 * only for a sub-second period; datums_ok counts the MetricData members
 * of the accepted requests; flush_slot is "group rank R/N" (R 1-based),
 * "instance-id hash", or null before the instance id is known, and
 * flush_offset_s the slot's offset from the wall-clock interval start. */
void cloudwatch_status(const struct cloudwatch *cw, json_object *into);

/*
 * How many custom metrics (distinct name + dimension sets) the config
 * creates for one instance, and the estimated USD per month for it at the
 * first-tier price ($0.30 per metric-month, high resolution the same) plus
 * PutMetricData requests ($0.01 per 1000; one per flush per 1000 datums, 30
 * days a month). Counted per instance: (cpu, mem, swap, disk, healthy,
 * self_eviction_refused) + 2 per check, as enabled, times the dimension
 * sets. The group-level series is really one set per fleet, shared by all
 * its instances, so the fleet total is lower than instances x this figure.
 * Pure; used by checkconf.
 */
void cloudwatch_estimate(const struct conf *c, size_t *n_metrics,
    double *usd_month);

/* ---- Pure parts, exposed for the unit tests ---- */

#define CW_MAX_DATUMS 1000         /* MetricData members per request */
#define CW_MAX_BODY 1000000        /* form-encoded bytes per request */
#define CW_QUEUE_MIN 4096          /* queue entries, at least */
#define CW_QUEUE_MAX (1024 * 1024) /* and at most (48 bytes each) */
#define CW_PRICE_METRIC_MONTH 0.30
#define CW_PRICE_PER_1000_REQUESTS 0.01

/* StatisticValues of one series over one period. */
struct cloudwatch_stat {
	double count, sum, min, max;
};

/* Fold v in; false (and nothing folded) if v is NaN, infinite or beyond
 * what CloudWatch accepts. */
bool cloudwatch_stat_add(struct cloudwatch_stat *st, double v);
/* A double for the form: shortest round-trip form, '.' as the decimal
 * point whatever the locale; non-finite values give "0". */
void cloudwatch_fmt_double(char *buf, size_t len, double v);
/* "2015-08-30T12:36:00Z" for a wall-clock time in ms (seconds truncated
 * toward minus infinity). */
void cloudwatch_fmt_time(char *buf, size_t len, int64_t wall_ms);
/* The fold period in seconds for a resolution (1 or 60) and interval. */
int cloudwatch_period_s(int storage_resolution, double interval_s);
/* The same in ms. Only high resolution with an interval under 1 s (meant
 * for tests and soak runs) gives a sub-second period: the longest of 500,
 * 250, 200 and 100 ms that fits in the interval. */
int cloudwatch_period_ms(int storage_resolution, double interval_s);
/* The flush offset in ms within an interval of interval_ms (aligned to
 * the wall clock): with 0 <= rank < n, (2 rank + 1) interval / 2n, the
 * centre of the rank-th of n equal slots (distinct for distinct ranks
 * while interval_ms >= 2n); otherwise the 64-bit FNV-1a hash of
 * instance_id modulo interval_ms; 0 without an id. */
int64_t cloudwatch_slot_ms(const char *instance_id, int rank, int n,
    int64_t interval_ms);
/* Would CloudWatch reject this request as invalid, so that retrying the
 * same data can never succeed? (400 validation codes, 413.) */
bool cloudwatch_rejected(int http_status, const char *code);

/* One request's worth of form parameters, in order (Namespace, then the
 * MetricData members). Action and Version are added by aws_query. */
struct cloudwatch_form {
	char **keys, **values;
	size_t n, cap;
	size_t entries;  /* queue entries it carries */
	size_t members;  /* MetricData members */
	size_t body_len; /* form-encoded length with Action and Version */
};

void cloudwatch_form_free(struct cloudwatch_form *f);
/* The value of key, or NULL. */
const char *cloudwatch_form_get(const struct cloudwatch_form *f,
    const char *key);

/* The fold-and-queue buffer the module is built on; no I/O, time passed
 * in. */
struct cloudwatch_buf;

enum cloudwatch_outcome {
	CW_SENT_OK,       /* delivered: forget the batch */
	CW_SENT_RETRY,    /* failed: put the batch back at the head */
	CW_SENT_REJECTED, /* invalid: bisect, drop single rejected entries */
};

struct cloudwatch_drops {
	uint64_t
	    overflow; /* oldest entries dropped because the queue was full */
	uint64_t expired;  /* outside the -14 d .. +2 h window */
	uint64_t rejected; /* refused by CloudWatch as invalid */
};

struct cloudwatch_buf *cloudwatch_buf_new(const struct conf *c);
void cloudwatch_buf_free(struct cloudwatch_buf *b);
/* Metrics, dimension sets, period and capacity from c; keeps the queue
 * (dropping the oldest if the new capacity is smaller). A period that is
 * in progress is closed first if the period length changes. */
void cloudwatch_buf_configure(struct cloudwatch_buf *b, const struct conf *c);
void cloudwatch_buf_observe(struct cloudwatch_buf *b, const struct sample *s,
    const struct health *h, int64_t wall_ms);
/* Fold one value of metric m (check: the check name for the per-check
 * metrics, else NULL); counters (CW_EVICTION_REFUSED) add v to the period's
 * total instead. Disabled metrics are ignored. */
void cloudwatch_buf_add(struct cloudwatch_buf *b, enum cloudwatch_metric m,
    const char *check, double v, int64_t wall_ms);
/* Queue the period in progress if it ended at or before wall_ms. */
void cloudwatch_buf_close(struct cloudwatch_buf *b, int64_t wall_ms);
size_t cloudwatch_buf_queued(const struct cloudwatch_buf *b);
size_t cloudwatch_buf_capacity(const struct cloudwatch_buf *b);
int cloudwatch_buf_period(const struct cloudwatch_buf *b);
void cloudwatch_buf_drops(const struct cloudwatch_buf *b,
    struct cloudwatch_drops *out);
/* Does the head of the queue hold entries (none in flight)? */
bool cloudwatch_buf_ready(const struct cloudwatch_buf *b);
/*
 * Take the next batch from the head of the queue into f: at most
 * max_members MetricData members and max_body form-encoded bytes (0 = the
 * CloudWatch limits). Entries whose series has no dimension set (no group
 * and only AutoScalingGroupName configured) are consumed without a member;
 * entries outside the timestamp window around now_ms are dropped and
 * counted. Returns the number of members (0 with f->entries > 0: nothing
 * to send, report CW_SENT_OK). The batch is in flight until
 * cloudwatch_buf_done(); no second batch is given out meanwhile (returns 0,
 * f->entries 0).
 */
size_t cloudwatch_buf_batch(struct cloudwatch_buf *b, const char *namespace_,
    const char *instance_id, const char *group, int64_t now_ms,
    size_t max_members, size_t max_body, struct cloudwatch_form *f);
void cloudwatch_buf_done(struct cloudwatch_buf *b,
    enum cloudwatch_outcome outcome);

#endif
