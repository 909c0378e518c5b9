/* SPDX-License-Identifier: ISC */
/*
 * SNS notifications of the agent's events. notify_event() snapshots the
 * verdict and the failing checks into a JSON message at once and queues
 * it; a pump sends the head of the queue with SNS Publish, one call at a
 * time, in order, and retries failures with capped exponential backoff and
 * jitter across calls. The queue is bounded (the oldest message waiting is
 * dropped when it is full) and everything is counted, so a missing topic,
 * permission or network never blocks or grows anything. The message format
 * is documented in notify.h and healthagent.conf(5).
 */
#include "config.h"

#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "awsxml.h"
#include "log.h"
#include "notify.h"
#include "util.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 300000
#define FAST_BACKOFF_MIN_MS 100 /* HEALTHAGENT_TEST_FAST=1 */
#define FAST_BACKOFF_MAX_MS 2000

const char *const notify_kind_names[NOTIFY_KIND_MAX] = {
    [NOTIFY_SELF_EVICTION] = "self_eviction",
    [NOTIFY_EVICTION_REFUSED] = "eviction_refused",
    [NOTIFY_DRAIN_START] = "drain_start",
    [NOTIFY_RECOVERED] = "recovered",
};

/* What the Subject says after the instance id. */
static const char *const subject_words[NOTIFY_KIND_MAX] = {
    [NOTIFY_SELF_EVICTION] = "unhealthy, self-eviction",
    [NOTIFY_EVICTION_REFUSED] = "unhealthy, self-eviction refused",
    [NOTIFY_DRAIN_START] = "draining",
    [NOTIFY_RECOVERED] = "recovered",
};

struct msg {
	enum notify_kind kind;
	json_object *obj;
	char event_id[33];
	mono_ms queued_at;
	int attempts;
};

struct notify {
	struct ev *ev;
	struct aws *aws;
	char *topic; /* NULL: disabled */
	char topic_region[32];
	bool fifo;
	char *instance_id, *group, *az;
	struct msg *q[NOTIFY_QUEUE_MAX]; /* a ring */
	size_t head, n;
	struct aws_call *call; /* publishing q[head] */
	struct ev_timer *timer;
	mono_ms backoff_min, backoff_max;
	unsigned retries; /* retries in a row, for the backoff */
	mono_ms next_at;  /* when the timer fires, 0 if not armed */
	unsigned long sent, failed, dropped;
	const char *waiting; /* why nothing is being sent (a state), or NULL */
	char err_code[96], err_msg[256];
	int err_status;
	mono_ms err_at;
	char sent_event[32], sent_id[128];
	mono_ms sent_at;
	char logged[96]; /* the last error logged at warning level */
	bool region_warned;
	uint64_t rng;
};

/* --- pure helpers ------------------------------------------------------- */

void
notify_iso8601(int64_t wall_ms, char *out, size_t outlen)
{
	time_t t = (time_t)(wall_ms / 1000);
	int ms = (int)(wall_ms % 1000);
	struct tm tm;

	if (ms < 0) {
		ms += 1000;
		t--;
	}
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ms);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if bad. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A copy of s that is valid UTF-8 (bad bytes become '?') and at most max
 * bytes long, cut at a character boundary. */
static char *
clean_utf8(const char *s, size_t max)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc((n < max ? n : max) + 1);

	for (size_t i = 0; i < n;) {
		size_t l = utf8_len((const unsigned char *)s + i, n - i);

		if (o + (l > 0 ? l : 1) > max)
			break;
		if (l == 0) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
		}
	}
	out[o] = '\0';
	return out;
}

static json_object *
jstr(const char *s, size_t max)
{
	json_object *o;
	char *c;

	if (s == NULL || *s == '\0')
		return NULL;
	c = clean_utf8(s, max);
	o = json_object_new_string(c);
	free(c);
	return o;
}

static json_object *
jtime(mono_ms at, mono_ms now, int64_t wall_ms)
{
	char buf[40];

	if (at == 0 || at > now)
		return NULL;
	notify_iso8601(wall_ms - (int64_t)(now - at), buf, sizeof(buf));
	return json_object_new_string(buf);
}

json_object *
notify_message(enum notify_kind kind, const char *reason,
    const struct health *h, const struct notify_identity *id, mono_ms now,
    int64_t wall_ms, const char *event_id)
{
	json_object *o = json_object_new_object(), *checks;
	char buf[40];

	json_object_object_add(o, "event",
	    json_object_new_string((unsigned)kind < NOTIFY_KIND_MAX
	            ? notify_kind_names[kind]
	            : "unknown"));
	json_object_object_add(o, "event_id", jstr(event_id, 64));
	json_object_object_add(o, "instance_id",
	    id != NULL ? jstr(id->instance_id, 64) : NULL);
	json_object_object_add(o, "group",
	    id != NULL ? jstr(id->group, 1600) : NULL);
	json_object_object_add(o, "availability_zone",
	    id != NULL ? jstr(id->availability_zone, 64) : NULL);
	json_object_object_add(o, "region",
	    id != NULL ? jstr(id->region, 64) : NULL);
	json_object_object_add(o, "reason", jstr(reason, NOTIFY_REASON_MAX));
	checks = json_object_new_array();
	if (h != NULL) {
		enum health_state st = health_state(h);

		json_object_object_add(o, "state",
		    json_object_new_string(health_state_names[st]));
		json_object_object_add(o, "state_reason",
		    jstr(health_why(h), NOTIFY_REASON_MAX));
		json_object_object_add(o, "state_since",
		    jtime(health_state_since(h), now, wall_ms));
		for (size_t i = 0; i < health_count(h); i++) {
			struct health_check_view v;
			json_object *c;

			health_check(h, i, &v);
			if (v.state == HEALTH_C_UP)
				continue;
			c = json_object_new_object();
			json_object_object_add(c, "name", jstr(v.name, 256));
			json_object_object_add(c, "scope",
			    json_object_new_string(
			        v.dependency ? "dependency" : "local"));
			json_object_object_add(c, "state",
			    json_object_new_string(
			        health_cstate_names[v.state]));
			json_object_object_add(c, "reason",
			    json_object_new_string(
			        (unsigned)v.last.reason < HEALTH_R_MAX
			            ? health_reason_names[v.last.reason]
			            : "unknown"));
			json_object_object_add(c, "detail",
			    jstr(v.last.detail, HEALTH_DETAIL_MAX));
			json_object_object_add(c, "since",
			    jtime(v.changed_at, now, wall_ms));
			json_object_array_add(checks, c);
		}
	} else {
		json_object_object_add(o, "state", NULL);
		json_object_object_add(o, "state_reason", NULL);
		json_object_object_add(o, "state_since", NULL);
	}
	json_object_object_add(o, "failing_checks", checks);
	notify_iso8601(wall_ms, buf, sizeof(buf));
	json_object_object_add(o, "time", json_object_new_string(buf));
	json_object_object_add(o, "agent",
	    json_object_new_string("healthagent"));
	json_object_object_add(o, "agent_version",
	    json_object_new_string(PACKAGE_VERSION));
	return o;
}

/* Append printable ASCII from s to out[*o..], other bytes as '?'. */
static void
put_ascii(char *out, size_t cap, size_t *o, const char *s)
{
	for (; *s != '\0' && *o + 1 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		out[(*o)++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[*o] = '\0';
}

size_t
notify_subject(enum notify_kind kind, const char *instance_id,
    const char *group, char *out, size_t outlen)
{
	/* Room for a subject too long by any amount, then cut. */
	char buf[NOTIFY_SUBJECT_MAX + 8];
	size_t o = 0, limit;

	if (outlen == 0)
		return 0;
	put_ascii(buf, sizeof(buf), &o, "healthagent: ");
	put_ascii(buf, sizeof(buf), &o,
	    instance_id != NULL && *instance_id != '\0' ? instance_id
	                                                : "unknown instance");
	put_ascii(buf, sizeof(buf), &o, " ");
	put_ascii(buf, sizeof(buf), &o,
	    (unsigned)kind < NOTIFY_KIND_MAX ? subject_words[kind] : "event");
	if (group != NULL && *group != '\0') {
		put_ascii(buf, sizeof(buf), &o, " in ");
		put_ascii(buf, sizeof(buf), &o, group);
	}
	limit =
	    outlen - 1 < NOTIFY_SUBJECT_MAX ? outlen - 1 : NOTIFY_SUBJECT_MAX;
	if (o > limit) {
		/* "..." marks the cut; limit >= 3 in any real use. */
		o = limit;
		for (size_t i = 0; i < 3 && i < o; i++)
			buf[o - 1 - i] = '.';
	}
	memcpy(out, buf, o);
	out[o] = '\0';
	return o;
}

void
notify_topic_region(const char *arn, char *out, size_t outlen)
{
	const char *p, *e;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (arn == NULL || strncmp(arn, "arn:", 4) != 0)
		return;
	/* arn:partition:sns:region:account:name */
	p = strchr(arn + 4, ':');
	if (p == NULL || strncmp(p, ":sns:", 5) != 0)
		return;
	p += 5;
	e = strchr(p, ':');
	if (e == NULL || e == p || (size_t)(e - p) >= outlen)
		return;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

bool
notify_permanent_error(int http_status, const char *code)
{
	static const char *const bad[] = {"InvalidParameter",
	    "InvalidParameterValue", "ParameterValueInvalid", "ValidationError",
	    "ValidationException", NULL};

	if (http_status != 400 || code == NULL)
		return false;
	for (size_t i = 0; bad[i] != NULL; i++)
		if (strcmp(code, bad[i]) == 0)
			return true;
	return false;
}

/* --- the queue ---------------------------------------------------------- */

static struct msg **
at(struct notify *n, size_t i)
{
	return &n->q[(n->head + i) % NOTIFY_QUEUE_MAX];
}

static void
msg_free(struct msg *m)
{
	if (m == NULL)
		return;
	json_object_put(m->obj);
	free(m);
}

/* Remove entry i of the queue (0 = the head) and free it. */
static void
remove_at(struct notify *n, size_t i)
{
	msg_free(*at(n, i));
	for (; i + 1 < n->n; i++)
		*at(n, i) = *at(n, i + 1);
	*at(n, n->n - 1) = NULL;
	n->n--;
	if (n->n == 0)
		n->head = 0;
}

static void
pop_head(struct notify *n)
{
	msg_free(*at(n, 0));
	*at(n, 0) = NULL;
	n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
	n->n--;
}

static void
drop_all(struct notify *n, const char *why)
{
	aws_cancel(n->call);
	n->call = NULL;
	if (n->n > 0) {
		log_warn("notify: dropping %zu queued message%s: %s", n->n,
		    n->n == 1 ? "" : "s", why);
		n->dropped += n->n;
	}
	while (n->n > 0)
		pop_head(n);
	n->head = 0;
	ev_timer_disarm(n->timer);
	n->next_at = 0;
	n->retries = 0;
}

/* --- sending ------------------------------------------------------------ */

static uint64_t
rnd(struct notify *n)
{
	n->rng ^= n->rng >> 12;
	n->rng ^= n->rng << 25;
	n->rng ^= n->rng >> 27;
	return n->rng * 2685821657736338717ULL;
}

/* Arm the retry timer: capped exponential backoff with jitter, so a fleet
 * that failed together does not retry together. */
static void
retry_later(struct notify *n)
{
	mono_ms delay =
	    util_backoff(n->backoff_min, n->backoff_max, ++n->retries);

	n->next_at = util_now_ms() + delay;
	ev_timer_arm(n->timer, delay);
}

static void pump(struct notify *n);

/* Fill a null identity field of the message from what is known now. */
static void
fill(json_object *o, const char *key, const char *v)
{
	json_object *cur;

	if (v == NULL || *v == '\0')
		return;
	if (json_object_object_get_ex(o, key, &cur) && cur != NULL)
		return;
	json_object_object_add(o, key, jstr(v, 1600));
}

static void
publish_cb(const struct aws_result *r, void *arg)
{
	struct notify *n = arg;
	struct msg *m = *at(n, 0);
	const char *ev = notify_kind_names[m->kind];

	n->call = NULL;
	if (r->ok) {
		char id[128] = "";

		awsxml_text(r->body, r->body_len, "PublishResult/MessageId", id,
		    sizeof(id));
		n->sent++;
		n->sent_at = util_now_ms();
		util_strlcpy(n->sent_event, ev, sizeof(n->sent_event));
		util_strlcpy(n->sent_id, id, sizeof(n->sent_id));
		n->retries = 0;
		n->logged[0] = '\0';
		log_info("notify: published %s (event %s) to %s as message %s",
		    ev, m->event_id, n->topic, id[0] != '\0' ? id : "?");
		pop_head(n);
		pump(n);
		return;
	}
	n->failed++;
	n->err_status = r->http_status;
	n->err_at = util_now_ms();
	util_strlcpy(n->err_code, r->code, sizeof(n->err_code));
	util_strlcpy(n->err_msg, r->message, sizeof(n->err_msg));
	if (notify_permanent_error(r->http_status, r->code)) {
		n->dropped++;
		log_warn("notify: SNS refused the %s message (event %s): "
		         "%s%s%s;"
		         " dropping it",
		    ev, m->event_id, r->code, r->message[0] != '\0' ? ": " : "",
		    r->message);
		pop_head(n);
		pump(n);
		return;
	}
	if (strcmp(n->logged, r->code) != 0) {
		log_warn("notify: publishing %s to %s failed: %s%s%s; retrying "
		         "with backoff (%zu queued)",
		    ev, n->topic, r->code, r->message[0] != '\0' ? ": " : "",
		    r->message, n->n);
		util_strlcpy(n->logged, r->code, sizeof(n->logged));
	} else
		log_debug("notify: publishing %s failed again: %s", ev,
		    r->code);
	retry_later(n);
}

static void
pump(struct notify *n)
{
	struct aws_params *p;
	struct msg *m;
	const char *region;
	char subject[NOTIFY_SUBJECT_MAX + 1];
	const char *body;

	if (n->topic == NULL || n->n == 0 || n->call != NULL ||
	    ev_timer_armed(n->timer)) {
		if (n->n == 0)
			n->waiting = NULL;
		return;
	}
	if (n->aws == NULL) {
		n->waiting = "no AWS access";
		return;
	}
	if (n->instance_id == NULL) {
		n->waiting = "waiting for the instance identity";
		return;
	}
	m = *at(n, 0);
	region = aws_region(n->aws);
	if (!n->region_warned && *region != '\0' &&
	    strcmp(region, n->topic_region) != 0) {
		log_notice("notify: the topic is in %s, the instance in %s; "
		           "publishing to %s",
		    n->topic_region, region, n->topic_region);
		n->region_warned = true;
	}
	fill(m->obj, "instance_id", n->instance_id);
	fill(m->obj, "group", n->group);
	fill(m->obj, "availability_zone", n->az);
	fill(m->obj, "region", region);
	notify_subject(m->kind, n->instance_id, n->group, subject,
	    sizeof(subject));
	body = json_object_to_json_string_ext(m->obj, JSON_C_TO_STRING_PLAIN);
	p = aws_params_new();
	aws_params_add(p, "TopicArn", "%s", n->topic);
	aws_params_add(p, "Subject", "%s", subject);
	aws_params_add(p, "Message", "%s", body);
	if (n->fifo) {
		aws_params_add(p, "MessageGroupId", "%s", n->instance_id);
		aws_params_add(p, "MessageDeduplicationId", "%s", m->event_id);
	}
	n->call = aws_query_region(n->aws, n->topic_region, AWS_SVC_SNS,
	    "Publish", p, publish_cb, n);
	if (n->call == NULL) {
		/* No credentials yet (or no usable region): not a failed
		 * publish; look again later. */
		n->waiting = "waiting for credentials";
		retry_later(n);
		return;
	}
	n->waiting = NULL;
	m->attempts++;
	log_debug("notify: publishing %s (event %s, attempt %d): %s",
	    notify_kind_names[m->kind], m->event_id, m->attempts, subject);
}

static void
timer_cb(void *arg)
{
	struct notify *n = arg;

	n->next_at = 0;
	pump(n);
}

/* --- the object --------------------------------------------------------- */

static void
set_topic(struct notify *n, const char *arn)
{
	size_t l;

	free(n->topic);
	n->topic = arn != NULL && *arn != '\0' ? xstrdup(arn) : NULL;
	n->topic_region[0] = '\0';
	n->fifo = false;
	n->region_warned = false;
	if (n->topic == NULL)
		return;
	notify_topic_region(n->topic, n->topic_region, sizeof(n->topic_region));
	l = strlen(n->topic);
	n->fifo = l > 5 && strcmp(n->topic + l - 5, ".fifo") == 0;
}

struct notify *
notify_new(struct ev *ev, struct aws *aws, const struct conf *c)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	const char *fast = getenv("HEALTHAGENT_TEST_FAST");

	n->ev = ev;
	n->aws = aws;
	n->timer = ev_timer_new(ev, timer_cb, n);
	if (fast != NULL && strcmp(fast, "1") == 0) {
		n->backoff_min = FAST_BACKOFF_MIN_MS;
		n->backoff_max = FAST_BACKOFF_MAX_MS;
	} else {
		n->backoff_min = BACKOFF_MIN_MS;
		n->backoff_max = BACKOFF_MAX_MS;
	}
	if (getrandom(&n->rng, sizeof(n->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(n->rng))
		n->rng = (uint64_t)util_wall_ms() ^ ((uint64_t)getpid() << 32);
	if (n->rng == 0)
		n->rng = 0x9e3779b97f4a7c15ULL;
	set_topic(n, c != NULL ? c->sns_topic_arn : NULL);
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	aws_cancel(n->call);
	if (n->n > 0)
		log_warn("notify: %zu message%s not published at exit", n->n,
		    n->n == 1 ? "" : "s");
	while (n->n > 0)
		pop_head(n);
	ev_timer_free(n->timer);
	free(n->topic);
	free(n->instance_id);
	free(n->group);
	free(n->az);
	free(n);
}

size_t
notify_pending(const struct notify *n)
{
	if (n == NULL || n->topic == NULL || n->aws == NULL)
		return 0;
	return n->n;
}

void
notify_reconfigure(struct notify *n, const struct conf *c)
{
	const char *arn = c != NULL ? c->sns_topic_arn : NULL;

	if (arn == NULL)
		arn = "";
	if (n->topic != NULL && strcmp(n->topic, arn) == 0)
		return;
	if (*arn == '\0') {
		drop_all(n, "notify.sns_topic_arn was removed");
		set_topic(n, NULL);
		log_notice("notify: notifications off");
		return;
	}
	/* Another topic: what is queued goes there, starting now. */
	aws_cancel(n->call);
	n->call = NULL;
	ev_timer_disarm(n->timer);
	n->next_at = 0;
	n->retries = 0;
	n->logged[0] = '\0';
	set_topic(n, arn);
	log_notice("notify: publishing events to %s", n->topic);
	pump(n);
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

void
notify_set_identity(struct notify *n, const char *instance_id,
    const char *group, const char *az)
{
	set_str(&n->instance_id, instance_id);
	set_str(&n->group, group);
	set_str(&n->az, az);
	pump(n);
}

void
notify_event(struct notify *n, enum notify_kind kind, const char *reason,
    const struct health *h)
{
	struct notify_identity id = {n->instance_id, n->group, n->az,
	    n->aws != NULL ? aws_region(n->aws) : NULL};
	struct msg *m;
	uint64_t r[2];

	if (n->topic == NULL || (unsigned)kind >= NOTIFY_KIND_MAX)
		return;
	if (n->n == NOTIFY_QUEUE_MAX) {
		/* Drop the oldest message that is not being sent. */
		size_t victim = n->call != NULL ? 1 : 0;

		log_warn("notify: queue full (%d); dropping the oldest %s "
		         "message",
		    NOTIFY_QUEUE_MAX,
		    notify_kind_names[(*at(n, victim))->kind]);
		remove_at(n, victim);
		n->dropped++;
	}
	m = xcalloc(1, sizeof(*m));
	m->kind = kind;
	m->queued_at = util_now_ms();
	r[0] = rnd(n);
	r[1] = rnd(n);
	snprintf(m->event_id, sizeof(m->event_id), "%016llx%016llx",
	    (unsigned long long)r[0], (unsigned long long)r[1]);
	m->obj = notify_message(kind, reason, h, &id, m->queued_at,
	    util_wall_ms(), m->event_id);
	*at(n, n->n) = m;
	n->n++;
	log_info("notify: queued %s (event %s)%s%s", notify_kind_names[kind],
	    m->event_id, reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
	pump(n);
}

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k,
	    v != NULL && *v != '\0' ? json_object_new_string(v) : NULL);
}

void
notify_status(const struct notify *n, json_object *into)
{
	json_object *o = json_object_new_object(), *x, *pend;
	mono_ms now = util_now_ms();
	char state[200];

	json_object_object_add(o, "enabled",
	    json_object_new_boolean(n->topic != NULL));
	add_str(o, "topic_arn", n->topic);
	if (n->topic == NULL)
		snprintf(state, sizeof(state), "disabled");
	else if (n->call != NULL)
		snprintf(state, sizeof(state), "publishing");
	else if (n->n == 0)
		snprintf(state, sizeof(state), "idle");
	else if (n->next_at != 0 && n->waiting == NULL)
		snprintf(state, sizeof(state), "retrying in %llu ms after %s",
		    (unsigned long long)(n->next_at > now ? n->next_at - now
		                                          : 0),
		    n->err_code[0] != '\0' ? n->err_code : "an error");
	else if (n->waiting != NULL)
		snprintf(state, sizeof(state), "%s", n->waiting);
	else
		snprintf(state, sizeof(state), "queued");
	add_str(o, "state", state);
	json_object_object_add(o, "queued",
	    json_object_new_int64((int64_t)n->n));
	json_object_object_add(o, "sent",
	    json_object_new_int64((int64_t)n->sent));
	json_object_object_add(o, "failed",
	    json_object_new_int64((int64_t)n->failed));
	json_object_object_add(o, "dropped",
	    json_object_new_int64((int64_t)n->dropped));
	json_object_object_add(o, "in_flight",
	    json_object_new_boolean(n->call != NULL));
	json_object_object_add(o, "next_attempt_in_ms",
	    n->next_at != 0
	        ? json_object_new_int64(
	              (int64_t)(n->next_at > now ? n->next_at - now : 0))
	        : NULL);
	if (n->sent_at != 0) {
		x = json_object_new_object();
		add_str(x, "event", n->sent_event);
		add_str(x, "message_id", n->sent_id);
		json_object_object_add(x, "age_ms",
		    json_object_new_int64((int64_t)(now - n->sent_at)));
		json_object_object_add(o, "last_sent", x);
	} else
		json_object_object_add(o, "last_sent", NULL);
	if (n->err_at != 0) {
		x = json_object_new_object();
		add_str(x, "code", n->err_code);
		add_str(x, "message", n->err_msg);
		json_object_object_add(x, "http_status",
		    json_object_new_int(n->err_status));
		json_object_object_add(x, "age_ms",
		    json_object_new_int64((int64_t)(now - n->err_at)));
		json_object_object_add(o, "last_error", x);
	} else
		json_object_object_add(o, "last_error", NULL);
	pend = json_object_new_array();
	for (size_t i = 0; i < n->n; i++) {
		const struct msg *m = n->q[(n->head + i) % NOTIFY_QUEUE_MAX];
		json_object *r;

		x = json_object_new_object();
		add_str(x, "event", notify_kind_names[m->kind]);
		add_str(x, "event_id", m->event_id);
		if (json_object_object_get_ex(m->obj, "reason", &r) &&
		    r != NULL)
			json_object_object_add(x, "reason", json_object_get(r));
		else
			json_object_object_add(x, "reason", NULL);
		json_object_object_add(x, "age_ms",
		    json_object_new_int64((int64_t)(now - m->queued_at)));
		json_object_object_add(x, "attempts",
		    json_object_new_int(m->attempts));
		json_object_array_add(pend, x);
	}
	json_object_object_add(o, "pending", pend);
	json_object_object_add(into, "notify", o);
}
