/* SPDX-License-Identifier: ISC */
/*
 * The AWS side of the agent, wired together: IMDS identity, credentials,
 * the Query client, CloudWatch metrics and Auto Scaling self-healing. The
 * daemon feeds it ticks and verdict changes; nothing in it ever delays the
 * loop, and off EC2 it keeps retrying in the background while everything on
 * the box goes on working.
 */
#ifndef CLOUD_H
#define CLOUD_H

#include <json-c/json.h>
#include <stdint.h>

#include "conf.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "lifecycle.h"
#include "sample.h"

struct cloud;

/* lh: how lifecycle drains reach the daemon (copied; may be NULL). */
struct cloud *cloud_new(struct ev *ev, struct httpc *hc, const struct conf *c,
    const struct lifecycle_hooks *lh);
void cloud_free(struct cloud *cl);
/* Apply a reloaded config. */
void cloud_reconfigure(struct cloud *cl, const struct conf *c);
/* One sample tick: fold metrics, advance the self-healing logic. */
void cloud_tick(struct cloud *cl, const struct sample *s,
    const struct health *h, mono_ms now, int64_t wall_ms);
/* The verdict object changed (a reload built a new one). */
void cloud_set_health(struct cloud *cl, const struct health *h);
/* The aggregate verdict changed: the self-healing logic acts now rather
 * than at the next sample tick. */
void cloud_health_changed(struct cloud *cl, const struct health *h,
    mono_ms now);
/* Publish what is queued now (at the start of a drain). */
void cloud_flush(struct cloud *cl);
/* What is still to be sent (metrics queued or in flight, messages): the
 * exit waits a bounded time for it. */
size_t cloud_pending(const struct cloud *cl);
/* The lifecycle object (never NULL): `healthagent drain` and `undrain`. */
struct lifecycle *cloud_lifecycle(struct cloud *cl);
/* Add "aws", "cloudwatch", "autoscaling", ... and "lifecycle" objects to a
 * status document. */
void cloud_status(const struct cloud *cl, json_object *into);

#endif
