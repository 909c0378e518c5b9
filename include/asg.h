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
 */
#ifndef ASG_H
#define ASG_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "aws.h"
#include "cloudwatch.h"
#include "conf.h"
#include "ev.h"
#include "health.h"

struct asg;

struct asg *asg_new(struct ev *ev, struct aws *aws, struct cloudwatch *cw,
    const struct conf *c);
void asg_free(struct asg *a);
void asg_reconfigure(struct asg *a, const struct conf *c);
/* Once the instance id is known: find the group (unless configured) with
 * DescribeAutoScalingInstances. cb (may be NULL) gets the group name, or
 * NULL if the instance is not in a group. */
void asg_set_identity(struct asg *a, const char *instance_id,
    void (*cb)(const char *group, void *arg), void *arg);
const char *asg_group(const struct asg *a);
/* Feed the verdict; call on every tick and transition. */
void asg_observe(struct asg *a, const struct health *h, mono_ms now);
/* Add "autoscaling": {group, episode, last_action, last_refusal, ...}. */
void asg_status(const struct asg *a, json_object *into);

/* The fleet-safety rule, pure. */
struct asg_fleet {
	int instances;        /* in the group */
	int in_service_healthy; /* InService and Healthy */
	int unhealthy;        /* HealthStatus Unhealthy */
	int not_in_service;   /* any LifecycleState other than InService */
};
/* May this instance evict itself? If not, why (into why). */
bool asg_may_evict(const struct asg_fleet *f, double max_unhealthy_percent,
    int min_healthy_instances, char *why, size_t whylen);

#endif
