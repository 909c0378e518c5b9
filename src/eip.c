/* SPDX-License-Identifier: ISC */
/*
 * Elastic IP association: once the instance has been healthy and knows its
 * instance id, one EC2 AssociateAddress call (AllowReassociation=true)
 * moves the configured address to this instance. The decision is a pure
 * function of a few facts (eip_decide); failures are retried with capped
 * exponential backoff and jitter, never while draining, and the result is
 * reported in the status document.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "awsxml.h"
#include "eip.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define BACKOFF_MIN_MS 2000
#define BACKOFF_MAX_MS 300000
#define FAST_BACKOFF_MIN_MS 100 /* HEALTHAGENT_TEST_FAST=1 */
#define FAST_BACKOFF_MAX_MS 2000

const char *const eip_step_names[EIP_STEP_MAX] = {
    [EIP_WAIT_ENABLED] = "disabled",
    [EIP_WAIT_HEALTHY] = "waiting for the first healthy verdict",
    [EIP_WAIT_IDENTITY] = "waiting for the instance identity",
    [EIP_WAIT_DRAINING] = "paused: draining",
    [EIP_WAIT_BACKOFF] = "retrying after an error",
    [EIP_WAIT_CALL] = "associating",
    [EIP_CALL] = "associating",
    [EIP_DONE] = "associated",
};

struct eip {
	struct ev *ev;
	struct aws *aws;
	char *alloc;       /* NULL: disabled */
	char *instance_id; /* NULL until known */
	bool was_healthy, draining, done;
	struct aws_call *call;
	struct ev_timer *timer;
	mono_ms backoff_min, backoff_max, next_at;
	unsigned retries; /* failures in a row, for the backoff */
	int attempts;     /* AssociateAddress calls made for alloc */
	char assoc_id[64];
	char assoc_instance[32];
	mono_ms assoc_at;
	char err_code[96], err_msg[256];
	int err_status;
	mono_ms err_at;
	char logged[96];
};

enum eip_step
eip_decide(const struct eip_facts *f)
{
	if (!f->enabled)
		return EIP_WAIT_ENABLED;
	if (f->done)
		return EIP_DONE;
	if (f->in_flight)
		return EIP_WAIT_CALL;
	if (f->draining)
		return EIP_WAIT_DRAINING;
	if (!f->was_healthy)
		return EIP_WAIT_HEALTHY;
	if (!f->have_id)
		return EIP_WAIT_IDENTITY;
	if (f->backing_off)
		return EIP_WAIT_BACKOFF;
	return EIP_CALL;
}

int
eip_parse_association(const char *xml, size_t len, char *out, size_t outlen)
{
	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (xml == NULL ||
	    !awsxml_text(xml, len, "AssociateAddressResponse/associationId",
	        out, outlen) ||
	    out[0] == '\0')
		return -1;
	return 0;
}

static struct eip_facts
facts(const struct eip *e)
{
	struct eip_facts f = {
	    .enabled = e->alloc != NULL,
	    .done = e->done,
	    .was_healthy = e->was_healthy,
	    .have_id = e->instance_id != NULL,
	    .draining = e->draining,
	    .in_flight = e->call != NULL,
	    .backing_off = ev_timer_armed(e->timer),
	};

	return f;
}

static void
retry_later(struct eip *e)
{
	mono_ms delay =
	    util_backoff(e->backoff_min, e->backoff_max, ++e->retries);

	e->next_at = util_now_ms() + delay;
	ev_timer_arm(e->timer, delay);
}

static void
set_error(struct eip *e, int status, const char *code, const char *msg)
{
	e->err_status = status;
	e->err_at = util_now_ms();
	util_strlcpy(e->err_code, code, sizeof(e->err_code));
	util_strlcpy(e->err_msg, msg, sizeof(e->err_msg));
}

static void
call_cb(const struct aws_result *r, void *arg)
{
	struct eip *e = arg;
	char id[64];

	e->call = NULL;
	if (r->ok &&
	    eip_parse_association(r->body, r->body_len, id, sizeof(id)) == 0) {
		e->done = true;
		e->retries = 0;
		e->assoc_at = util_now_ms();
		util_strlcpy(e->assoc_id, id, sizeof(e->assoc_id));
		util_strlcpy(e->assoc_instance, e->instance_id,
		    sizeof(e->assoc_instance));
		log_notice("eip: associated Elastic IP %s with instance %s "
		           "(association %s)",
		    e->alloc, e->instance_id, id);
		return;
	}
	if (r->ok)
		set_error(e, r->http_status, "BadReply",
		    "AssociateAddress answered without an associationId");
	else
		set_error(e, r->http_status, r->code, r->message);
	if (strcmp(e->logged, e->err_code) != 0) {
		log_warn("eip: associating Elastic IP %s with %s failed: "
		         "%s%s%s; retrying with backoff",
		    e->alloc, e->instance_id, e->err_code,
		    e->err_msg[0] != '\0' ? ": " : "", e->err_msg);
		util_strlcpy(e->logged, e->err_code, sizeof(e->logged));
	} else
		log_debug("eip: AssociateAddress failed again: %s",
		    e->err_code);
	retry_later(e);
}

static void
start_call(struct eip *e)
{
	struct aws_params *p;

	if (e->aws == NULL) {
		set_error(e, 0, "NoAWS", "no AWS access");
		return;
	}
	p = aws_params_new();
	aws_params_add(p, "AllocationId", "%s", e->alloc);
	aws_params_add(p, "InstanceId", "%s", e->instance_id);
	aws_params_add(p, "AllowReassociation", "true");
	e->call =
	    aws_query(e->aws, AWS_SVC_EC2, "AssociateAddress", p, call_cb, e);
	if (e->call == NULL) {
		/* No credentials or region yet: look again later. */
		set_error(e, 0, "NoCredentials",
		    "no AWS credentials or region yet");
		retry_later(e);
		return;
	}
	e->attempts++;
	log_info("eip: associating Elastic IP %s with instance %s (attempt "
	         "%d)",
	    e->alloc, e->instance_id, e->attempts);
}

static void
step(struct eip *e)
{
	struct eip_facts f = facts(e);

	if (eip_decide(&f) == EIP_CALL)
		start_call(e);
}

static void
timer_cb(void *arg)
{
	struct eip *e = arg;

	e->next_at = 0;
	step(e);
}

struct eip *
eip_new(struct ev *ev, struct aws *aws, const struct conf *c)
{
	struct eip *e = xcalloc(1, sizeof(*e));
	const char *fast = getenv("HEALTHAGENT_TEST_FAST");

	e->ev = ev;
	e->aws = aws;
	e->timer = ev_timer_new(ev, timer_cb, e);
	if (fast != NULL && strcmp(fast, "1") == 0) {
		e->backoff_min = FAST_BACKOFF_MIN_MS;
		e->backoff_max = FAST_BACKOFF_MAX_MS;
	} else {
		e->backoff_min = BACKOFF_MIN_MS;
		e->backoff_max = BACKOFF_MAX_MS;
	}
	eip_reconfigure(e, c);
	return e;
}

void
eip_free(struct eip *e)
{
	if (e == NULL)
		return;
	aws_cancel(e->call);
	ev_timer_free(e->timer);
	free(e->alloc);
	free(e->instance_id);
	free(e);
}

void
eip_reconfigure(struct eip *e, const struct conf *c)
{
	const char *v = c != NULL && c->eip_allocation_id != NULL
	    ? c->eip_allocation_id
	    : "";

	if (e->alloc != NULL && strcmp(e->alloc, v) == 0)
		return;
	/* Another address (or none): start over. */
	aws_cancel(e->call);
	e->call = NULL;
	ev_timer_disarm(e->timer);
	e->next_at = 0;
	e->retries = 0;
	e->done = false;
	e->attempts = 0;
	e->assoc_id[0] = e->assoc_instance[0] = '\0';
	e->assoc_at = 0;
	e->err_at = 0;
	e->err_code[0] = e->err_msg[0] = e->logged[0] = '\0';
	free(e->alloc);
	e->alloc = *v != '\0' ? xstrdup(v) : NULL;
	if (e->alloc != NULL)
		log_info("eip: will associate Elastic IP %s with this instance "
		         "once it is healthy",
		    e->alloc);
	step(e);
}

void
eip_set_identity(struct eip *e, const char *instance_id)
{
	if (instance_id == NULL || *instance_id == '\0')
		return;
	if (e->instance_id != NULL && strcmp(e->instance_id, instance_id) == 0)
		return;
	free(e->instance_id);
	e->instance_id = xstrdup(instance_id);
	step(e);
}

void
eip_observe(struct eip *e, const struct health *h)
{
	enum health_state s = health_state(h);

	if (s == HEALTH_HEALTHY || s == HEALTH_DEGRADED)
		e->was_healthy = true;
	e->draining = s == HEALTH_DRAINING;
	step(e);
}

void
eip_status(const struct eip *e, json_object *into)
{
	json_object *o = json_object_new_object(), *x;
	struct eip_facts f = facts(e);
	mono_ms now = util_now_ms();

	json_object_object_add(o, "enabled",
	    json_object_new_boolean(e->alloc != NULL));
	json_object_object_add(o, "allocation_id",
	    e->alloc != NULL ? json_object_new_string(e->alloc) : NULL);
	json_object_object_add(o, "instance_id",
	    e->instance_id != NULL ? json_object_new_string(e->instance_id)
	                           : NULL);
	json_object_object_add(o, "state",
	    json_object_new_string(e->aws == NULL && e->alloc != NULL
	            ? "no AWS access"
	            : eip_step_names[eip_decide(&f)]));
	json_object_object_add(o, "association_id",
	    e->done ? json_object_new_string(e->assoc_id) : NULL);
	json_object_object_add(o, "attempts", json_object_new_int(e->attempts));
	json_object_object_add(o, "next_attempt_in_ms",
	    e->next_at != 0 && !e->done
	        ? json_object_new_int64(
	              (int64_t)(e->next_at > now ? e->next_at - now : 0))
	        : NULL);
	json_object_object_add(o, "associated_age_ms",
	    e->done ? json_object_new_int64((int64_t)(now - e->assoc_at))
	            : NULL);
	if (e->err_at != 0) {
		x = json_object_new_object();
		json_object_object_add(x, "code",
		    json_object_new_string(e->err_code));
		json_object_object_add(x, "message",
		    json_object_new_string(e->err_msg));
		json_object_object_add(x, "http_status",
		    json_object_new_int(e->err_status));
		json_object_object_add(x, "age_ms",
		    json_object_new_int64((int64_t)(now - e->err_at)));
		json_object_object_add(o, "last_error", x);
	} else
		json_object_object_add(o, "last_error", NULL);
	json_object_object_add(into, "eip", o);
}
