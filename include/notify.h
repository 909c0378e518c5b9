/* SPDX-License-Identifier: ISC */
/*
 * Event notifications through SNS. With notify.sns_topic_arn set, the
 * agent publishes one message per event to the topic, with SNS Publish
 * (TopicArn, Subject, Message; signed for the topic's region). Events are
 * queued at once and sent in order, one call at a time, in the background:
 * notify_event() never blocks and never fails. While the instance identity
 * or credentials are not known yet, or while SNS fails, messages wait in a
 * bounded queue (NOTIFY_QUEUE_MAX; when it is full the oldest is dropped)
 * and are retried with capped exponential backoff and jitter across calls;
 * every outcome is counted (sent, failed attempts, dropped) and shown by
 * notify_status(). A message SNS rejects as malformed (InvalidParameter,
 * ...) is dropped rather than retried forever.
 *
 * The Message is a JSON object with these fields (always all of them, in
 * this order; null where unknown):
 *   "event"             one of notify_kind_names: "self_eviction",
 *                       "eviction_refused", "drain_start", "recovered"
 *   "event_id"          32 hex digits, unique per event; the same on every
 *                       retry, so consumers can drop duplicates
 *   "instance_id"       "i-0123456789abcdef0"
 *   "group"             the Auto Scaling group, or null when not in one or
 *                       not known yet
 *   "availability_zone" "us-east-1a", or null
 *   "region"            "us-east-1", or null
 *   "reason"            why, in words, from the caller (at most 1024
 *                       bytes), e.g. "app: exit 1 for 60 s" or "spot
 *                       interruption notice: terminate at ..."
 *   "state"             the verdict when the event happened:
 *                       "starting", "healthy", "degraded", "unhealthy",
 *                       "draining"; null without a health view
 *   "state_reason"      why the verdict is what it is (health_why), or null
 *   "state_since"       ISO-8601 UTC time the verdict last changed, or null
 *   "failing_checks"    array of the checks that were not up, each
 *                       {"name", "scope" ("local" or "dependency"),
 *                       "state" ("down" or "unknown"), "reason" (a
 *                       health_reason_names word such as "status",
 *                       "timeout", "exit"), "detail" (e.g. "status 500"),
 *                       "since" (ISO-8601 UTC of the last state change,
 *                       or null)}; [] when all were up
 *   "time"              ISO-8601 UTC with milliseconds, when the event
 *                       happened (not when it was sent), e.g.
 *                       "2024-05-01T12:00:00.123Z"
 *   "agent"             "healthagent"
 *   "agent_version"     the package version, e.g. "0.1.0"
 * The identity fields are filled in when the message is sent if they were
 * not known when the event happened.
 *
 * The Subject is printable ASCII without line breaks, at most
 * NOTIFY_SUBJECT_MAX characters (SNS: fewer than 100), "healthagent: "
 * followed by the instance id and the event, and " in <group>" when there
 * is one:
 *   "healthagent: i-0abc unhealthy, self-eviction in web-asg"
 *   "healthagent: i-0abc unhealthy, self-eviction refused in web-asg"
 *   "healthagent: i-0abc draining in web-asg"
 *   "healthagent: i-0abc recovered in web-asg"
 * Other bytes become "?", and a subject that would be too long ends in
 * "...".
 *
 * FIFO topics (".fifo") get MessageGroupId = the instance id and
 * MessageDeduplicationId = the event_id.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "conf.h"
#include "ev.h"
#include "health.h"

#define NOTIFY_QUEUE_MAX 64
#define NOTIFY_SUBJECT_MAX 99
#define NOTIFY_REASON_MAX 1024

enum notify_kind {
	NOTIFY_SELF_EVICTION,    /* SetInstanceHealth Unhealthy was sent */
	NOTIFY_EVICTION_REFUSED, /* the fleet check refused self-eviction */
	NOTIFY_DRAIN_START,      /* a drain began (signal, hook, by hand) */
	NOTIFY_RECOVERED,        /* healthy again after an unhealthy episode */
	NOTIFY_KIND_MAX
};

extern const char *const notify_kind_names[NOTIFY_KIND_MAX];

struct notify;

/* aws may be NULL (no AWS access: events queue until the queue is full).
 * Only c->sns_topic_arn is read; "" disables notifications. */
struct notify *notify_new(struct ev *ev, struct aws *aws, const struct conf *c);
/* Cancels a Publish in flight; queued messages are lost (and logged). */
void notify_free(struct notify *n);
/* Messages that can still be sent (a topic and AWS access): the exit
 * waits for them. */
size_t notify_pending(const struct notify *n);
/* A new topic keeps the queue (it is sent to the new topic); no topic
 * drops it (counted as dropped). */
void notify_reconfigure(struct notify *n, const struct conf *c);
/* The identity, once known; group and az may be NULL or "" (not in a
 * group, not known). May be called again when the group becomes known.
 * Nothing is published before instance_id is set. */
void notify_set_identity(struct notify *n, const char *instance_id,
    const char *group, const char *az);
/* Queue one message. reason may be NULL; h may be NULL (no health view:
 * state null, failing_checks []). Never blocks; a no-op without a
 * topic. */
void notify_event(struct notify *n, enum notify_kind kind, const char *reason,
    const struct health *h);
/* Add "notify": {enabled, topic_arn, state, queued, sent, failed, dropped,
 * in_flight, next_attempt_in_ms, last_sent, last_error, pending: [{event,
 * event_id, reason, age_ms, attempts}]}. */
void notify_status(const struct notify *n, json_object *into);

/* Pure helpers, exposed for the unit tests. */

/* The identity part of a message; NULL or "" fields become null. */
struct notify_identity {
	const char *instance_id;
	const char *group;
	const char *availability_zone;
	const char *region;
};

/* The message object described above (the caller puts it). now is the
 * monotonic clock of h's times and wall_ms the wall clock at the same
 * moment; event_id may be NULL (then null). */
json_object *notify_message(enum notify_kind kind, const char *reason,
    const struct health *h, const struct notify_identity *id, mono_ms now,
    int64_t wall_ms, const char *event_id);
/* The Subject into out (outlen > NOTIFY_SUBJECT_MAX is enough); returns
 * its length. instance_id NULL or "" reads "unknown instance". */
size_t notify_subject(enum notify_kind kind, const char *instance_id,
    const char *group, char *out, size_t outlen);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for milliseconds since the epoch. */
void notify_iso8601(int64_t wall_ms, char *out, size_t outlen);
/* The region of a topic ARN ("arn:aws:sns:eu-west-1:1234...:t" ->
 * "eu-west-1"), "" if there is none. */
void notify_topic_region(const char *arn, char *out, size_t outlen);
/* Should a Publish that failed with this code and status be dropped
 * rather than retried? (The message itself was refused: InvalidParameter,
 * InvalidParameterValue, ParameterValueInvalid, ValidationError,
 * ValidationException, with HTTP 400.) */
bool notify_permanent_error(int http_status, const char *code);

#endif
