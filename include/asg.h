/* SPDX-License-Identifier: ISC */
/*
 * Self-healing through Auto Scaling. When the verdict has been UNHEALTHY
 * (which only local checks can cause) for confirm_seconds, the agent first
 * runs restart_command (up to restart_attempts times within
 * restart_window), and if the fault survives, calls SetInstanceHealth
 * Unhealthy for its own instance, once per unhealthy episode and at most
 * once per boot (persisted in state_dir). Before acting it reads its group
 * and refuses, failing open, when too much of the group is already
 * unhealthy or out of service, or when too few healthy instances remain; a
 * refusal is logged, counted as a metric and re-evaluated later.
 *
 * Precise rules:
 * - An episode starts when the verdict becomes UNHEALTHY and ends when it
 *   is anything else (DEGRADED, DRAINING and STARTING never start one).
 * - After confirm_seconds in the episode: if restart_command is set and
 *   fewer than restart_attempts restarts began within the last
 *   restart_window seconds (counted across episodes), it runs (killed with
 *   its process group after restart_timeout); whatever its outcome, the
 *   application gets a fresh confirm_seconds before the next step. The
 *   restart command runs whether or not set_instance_health is on.
 * - Otherwise the episode escalates to eviction, which needs
 *   set_instance_health, a known group, no eviction earlier this boot and
 *   a readable group (DescribeAutoScalingGroups). A group that cannot be
 *   read, or an identity not yet known, is a refusal: when in doubt, keep
 *   serving. A refusal, or a SetInstanceHealth that failed after the
 *   retries, is re-evaluated after recheck_interval while the episode
 *   lasts.
 * - The fleet check (asg_may_evict) looks at the other instances of the
 *   group: it refuses when those already Unhealthy or not InService make
 *   up max_unhealthy_percent or more of the whole group (this instance
 *   included in the count of instances), or when the group's InService
 *   and Healthy instances, counting this one as the group still does, are
 *   min_healthy_instances or fewer, so an eviction never leaves fewer than
 *   min_healthy_instances healthy instances. It also refuses while this
 *   instance is not listed or not InService; one the group already has as
 *   Unhealthy needs no call.
 * - dry_run reads (the group lookup and the fleet check run as usual) and
 *   logs the exact SetInstanceHealth it would send, but sends nothing,
 *   writes no eviction record and runs no restart_command (a restart it
 *   would run is logged and counted as one that did not help).
 * - Once SetInstanceHealth succeeds, state_dir/eviction records the boot
 *   id; while /proc/sys/kernel/random/boot_id is the same, no further call
 *   is made, even after an agent restart.
 */
#ifndef ASG_H
#define ASG_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "cloudwatch.h"
#include "conf.h"
#include "ev.h"
#include "health.h"

struct asg;

/* aws and cw may be NULL (no AWS access: eviction is disabled; no
 * metric). */
struct asg *asg_new(struct ev *ev, struct aws *aws, struct cloudwatch *cw,
    const struct conf *c);
/* A restart command still running is killed with its group. */
void asg_free(struct asg *a);
void asg_reconfigure(struct asg *a, const struct conf *c);
/* Once the instance id is known: find the group (unless configured) with
 * DescribeAutoScalingInstances, retrying with backoff on errors. cb (may
 * be NULL) gets the group name, or NULL if the instance is not in a
 * group; it is called when the answer is known (at once for a configured
 * group) and again whenever it changes. */
void asg_set_identity(struct asg *a, const char *instance_id,
    void (*cb)(const char *group, void *arg), void *arg);
/* The group, or NULL while unknown or not in one. */
const char *asg_group(const struct asg *a);
/* The CloudWatch module changed (created or freed on a reload); cw may be
 * NULL. While there is one and the group is known, the group's members
 * are read (DescribeAutoScalingGroups) 1-60 s after the group becomes
 * known and then about every max(10 min, 3 s x instances), jittered, and
 * after each fleet check, and this instance's rank among them is passed
 * to cloudwatch_set_slot(). A read that fails keeps the last rank (or the
 * hash) and is retried with backoff. */
void asg_set_cloudwatch(struct asg *a, struct cloudwatch *cw);

/* What the self-healing did, for notifications. */
enum asg_event {
	ASG_EVENT_EVICTED, /* SetInstanceHealth Unhealthy was accepted */
	ASG_EVENT_REFUSED, /* the first refusal of an unhealthy episode */
};

/* Call cb(event, why, arg) on each of those events. */
void asg_on_event(struct asg *a,
    void (*cb)(enum asg_event ev, const char *why, void *arg), void *arg);
/* Feed the verdict; call on every tick and transition. */
void asg_observe(struct asg *a, const struct health *h, mono_ms now);
/* Add "autoscaling": {enabled, dry_run, group, instance_id, eviction,
 * episode, last_action, last_refusal, evicted_this_boot, ...}. */
void asg_status(const struct asg *a, json_object *into);

/* The group as this instance sees it. Counts other than instances are of
 * the other instances only. */
struct asg_fleet {
	int instances;          /* listed in the group, this one included */
	int in_service_healthy; /* others InService and Healthy */
	int unhealthy;          /* others with HealthStatus Unhealthy */
	int not_in_service;     /* others in a LifecycleState but InService */
	int impaired;           /* others Unhealthy or not InService (once) */
	bool self_found;        /* this instance is listed */
	bool self_in_service;   /* ... as InService */
	bool self_unhealthy;    /* ... with HealthStatus Unhealthy */
	int self_rank;          /* listed ids that sort before this one's
	                         * (strcmp), whatever their state */
	char self_state[40];    /* its LifecycleState, "" if not listed */
};

/* May this instance evict itself? If not, why (into why). Pure; the
 * rules are in the comment at the top. max_unhealthy_percent 0 always
 * refuses. */
bool asg_may_evict(const struct asg_fleet *f, double max_unhealthy_percent,
    int min_healthy_instances, char *why, size_t whylen);

/* Parse a DescribeAutoScalingGroups reply for group into f, as seen from
 * instance_id. HealthStatus and LifecycleState compare case-insensitively.
 * 0, or -1 with the reason in err (malformed, or the group is missing). */
int asg_parse_fleet(const char *xml, size_t len, const char *group,
    const char *instance_id, struct asg_fleet *f, char *err, size_t errlen);
/* Parse a DescribeAutoScalingInstances reply: 1 with the group name in
 * group, 0 if the instance is in no group, -1 if malformed. */
int asg_parse_group(const char *xml, size_t len, char *group, size_t grouplen);

/* The episode logic, pure. */
enum asg_phase {
	ASG_PHASE_IDLE,    /* not UNHEALTHY: no episode */
	ASG_PHASE_CONFIRM, /* UNHEALTHY, waiting out confirm_seconds */
	ASG_PHASE_RESTART, /* restart_command running */
	ASG_PHASE_EVICT,   /* fleet check or SetInstanceHealth in flight */
	ASG_PHASE_WAIT,    /* refused or failed: re-evaluate at retry_at */
	ASG_PHASE_DONE,    /* acted, or nothing more to do this episode */
	ASG_PHASE_MAX
};

extern const char *const asg_phase_names[ASG_PHASE_MAX];

struct asg_episode {
	enum asg_phase phase;
	mono_ms started;      /* when the episode began */
	mono_ms confirm_from; /* the confirm window runs from here */
	mono_ms retry_at;     /* ASG_PHASE_WAIT: when to try again */
	int restarts;         /* restarts begun in this episode */
};

struct asg_rules {
	mono_ms confirm;
	int restart_attempts; /* 0 when there is no restart_command */
	mono_ms recheck;
};

enum asg_action { ASG_ACT_NONE, ASG_ACT_RESTART, ASG_ACT_EVICT };

enum asg_outcome {
	ASG_OUT_RESTARTED, /* the restart command ended, however */
	ASG_OUT_RETRY,     /* refused, or the call failed: recheck later */
	ASG_OUT_DONE,      /* evicted, dry run, disabled or not needed */
};

/*
 * Advance e to now, given whether the verdict is UNHEALTHY and how many
 * restarts began within restart_window. Returns what to start now (the
 * phase is then RESTART or EVICT until asg_episode_outcome()); *wake is
 * the next time a step is due by the clock, or 0. An episode in RESTART or
 * EVICT ends only after its outcome.
 */
enum asg_action asg_step(struct asg_episode *e, const struct asg_rules *r,
    bool unhealthy, int recent_restarts, mono_ms now, mono_ms *wake);
void asg_episode_outcome(struct asg_episode *e, const struct asg_rules *r,
    enum asg_outcome o, mono_ms now);

/* The once-per-boot eviction record in state_dir/eviction. */
struct asg_record {
	char boot_id[64];
	char instance_id[32];
	char group[256];
	int64_t time; /* seconds since the epoch */
};

/* This boot's id from /proc/sys/kernel/random/boot_id; -1 if unreadable. */
int asg_boot_id(char *out, size_t len);
/* 1 and r filled if a record exists, 0 if none, -1 (err) if unreadable. */
int asg_record_load(const char *state_dir, struct asg_record *r, char *err,
    size_t errlen);
/* Write the record atomically (temp file, fsync, rename), creating
 * state_dir with mode 0750 if missing. 0, or -1 with err. */
int asg_record_save(const char *state_dir, const struct asg_record *r,
    char *err, size_t errlen);

#endif
