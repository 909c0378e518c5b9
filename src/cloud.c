/* SPDX-License-Identifier: ISC */
/*
 * Wiring of the AWS modules. The identity comes from the config where set,
 * else from IMDS once it answers; the region then goes to the Query client,
 * the instance id to Auto Scaling (which finds the group) and both to
 * CloudWatch (for the dimensions). Until then metrics are folded and queued,
 * and self-healing waits: nothing is lost and nothing blocks.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asg.h"
#include "aws.h"
#include "cloud.h"
#include "cloudwatch.h"
#include "creds.h"
#include "eip.h"
#include "imds.h"
#include "lifecycle.h"
#include "log.h"
#include "notify.h"
#include "xmalloc.h"

struct cloud {
	struct ev *ev;
	struct httpc *hc;
	struct imds *imds;
	struct creds *creds;
	struct aws *aws;
	struct cloudwatch *cw;
	struct asg *asg;
	struct notify *notify;
	struct eip *eip;
	/* Lives across client rebuilds (a drain must survive a reload). */
	struct lifecycle *lc;
	struct lifecycle_hooks lh; /* the daemon's */
	/* The daemon's current verdict, for the failing checks in messages;
	 * replaced on every tick and at once on a reload. */
	const struct health *health;
	bool was_unhealthy;
	bool been_ok; /* a recovery needs a healthy time before the episode */
	mono_ms unhealthy_since;
	char instance_id[64];
	char region[64];
	char az[64];
	char *group;
	bool identity_known;
	/* What the current clients were built from, to see a reload's effect.
	 */
	char *built_from;
};

/* The config keys the clients are built from, as one comparable string. */
static char *
client_key(const struct conf *c)
{
	return xasprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%d|%g",
	    c->aws_region, c->aws_instance_id, c->aws_availability_zone,
	    c->aws_autoscaling_group, c->aws_profile, c->aws_imds_endpoint,
	    c->aws_endpoint_url, c->aws_cloudwatch_endpoint,
	    c->aws_autoscaling_endpoint, c->aws_ec2_endpoint,
	    c->aws_sns_endpoint, c->aws_max_attempts, c->aws_timeout);
}

static void
group_found_cb(const char *group, void *arg)
{
	struct cloud *cl = arg;

	free(cl->group);
	cl->group = group != NULL ? xstrdup(group) : NULL;
	if (group != NULL)
		log_notice("instance %s is in Auto Scaling group %s",
		    cl->instance_id, group);
	else
		log_notice("instance %s is not in an Auto Scaling group",
		    cl->instance_id);
	if (cl->cw != NULL)
		cloudwatch_set_identity(cl->cw, cl->instance_id, cl->group);
	notify_set_identity(cl->notify, cl->instance_id, cl->group, cl->az);
	lifecycle_set_identity(cl->lc, cl->instance_id, cl->group);
}

static void
identity_ready(struct cloud *cl)
{
	cl->identity_known = true;
	aws_set_region(cl->aws, cl->region);
	log_notice("identity: instance %s in %s", cl->instance_id, cl->region);
	/* Publish per-instance series at once; the group-level series
	 * starts when the group lookup answers, which may never happen
	 * (no permission, not in a group). */
	if (cl->cw != NULL)
		cloudwatch_set_identity(cl->cw, cl->instance_id, NULL);
	notify_set_identity(cl->notify, cl->instance_id, NULL, cl->az);
	eip_set_identity(cl->eip, cl->instance_id);
	lifecycle_set_identity(cl->lc, cl->instance_id, NULL);
	asg_set_identity(cl->asg, cl->instance_id, group_found_cb, cl);
}

static void
imds_identity_cb(void *arg)
{
	struct cloud *cl = arg;
	const struct imds_identity *id = imds_identity(cl->imds);

	if (cl->identity_known)
		return;
	if (cl->instance_id[0] == '\0')
		snprintf(cl->instance_id, sizeof(cl->instance_id), "%s",
		    id->instance_id);
	if (cl->region[0] == '\0')
		snprintf(cl->region, sizeof(cl->region), "%s", id->region);
	if (cl->az[0] == '\0')
		snprintf(cl->az, sizeof(cl->az), "%s", id->availability_zone);
	identity_ready(cl);
}

static void
asg_event_cb(enum asg_event ev, const char *why, void *arg)
{
	struct cloud *cl = arg;

	notify_event(cl->notify,
	    ev == ASG_EVENT_EVICTED ? NOTIFY_SELF_EVICTION
	                            : NOTIFY_EVICTION_REFUSED,
	    why, cl->health);
}

/* A lifecycle drain began or ended: announce it, then tell the daemon. */
static void
lc_draining_cb(bool on, const char *why, void *arg)
{
	struct cloud *cl = arg;

	if (on && cl->notify != NULL)
		notify_event(cl->notify, NOTIFY_DRAIN_START, why, cl->health);
	if (cl->lh.set_draining != NULL)
		cl->lh.set_draining(on, why, cl->lh.arg);
}

static void
lc_finished_cb(void *arg)
{
	struct cloud *cl = arg;

	if (cl->lh.drain_finished != NULL)
		cl->lh.drain_finished(cl->lh.arg);
}

static void
build(struct cloud *cl, const struct conf *c)
{
	struct aws_opts o;

	aws_opts_from_conf(&o, c);
	cl->imds = imds_new(cl->ev, cl->hc, c->aws_imds_endpoint);
	cl->creds = creds_new(cl->ev, cl->hc, cl->imds, c->aws_profile);
	cl->aws = aws_new(cl->ev, cl->hc, cl->creds, &o);
	cl->cw = c->cw_enabled ? cloudwatch_new(cl->ev, cl->aws, c) : NULL;
	cl->asg = asg_new(cl->ev, cl->aws, cl->cw, c);
	cl->notify = notify_new(cl->ev, cl->aws, c);
	cl->eip = eip_new(cl->ev, cl->aws, c);
	asg_on_event(cl->asg, asg_event_cb, cl);
	lifecycle_set_clients(cl->lc, cl->aws, cl->imds);
	cl->built_from = client_key(c);
	cl->identity_known = false;
	snprintf(cl->instance_id, sizeof(cl->instance_id), "%s",
	    c->aws_instance_id);
	snprintf(cl->region, sizeof(cl->region), "%s", c->aws_region);
	snprintf(cl->az, sizeof(cl->az), "%s", c->aws_availability_zone);
	/* Configured identity needs no IMDS; otherwise wait for it. */
	if (cl->instance_id[0] != '\0' && cl->region[0] != '\0')
		identity_ready(cl);
	else if (imds_enabled(cl->imds))
		imds_on_identity(cl->imds, imds_identity_cb, cl);
	else
		log_warn("IMDS is disabled and aws.instance_id/aws.region are "
		         "not both set: CloudWatch and Auto Scaling stay idle");
}

static void
teardown(struct cloud *cl)
{
	lifecycle_set_clients(cl->lc, NULL, NULL);
	eip_free(cl->eip);
	notify_free(cl->notify);
	asg_free(cl->asg);
	cloudwatch_free(cl->cw);
	aws_free(cl->aws);
	creds_free(cl->creds);
	imds_free(cl->imds);
	free(cl->built_from);
	free(cl->group);
	cl->eip = NULL;
	cl->notify = NULL;
	cl->asg = NULL;
	cl->cw = NULL;
	cl->aws = NULL;
	cl->creds = NULL;
	cl->imds = NULL;
	cl->built_from = NULL;
	cl->group = NULL;
}

struct cloud *
cloud_new(struct ev *ev, struct httpc *hc, const struct conf *c,
    const struct lifecycle_hooks *lh)
{
	struct cloud *cl = xcalloc(1, sizeof(*cl));
	const struct lifecycle_hooks mine = {
	    .set_draining = lc_draining_cb,
	    .drain_finished = lc_finished_cb,
	    .arg = cl,
	};

	cl->ev = ev;
	cl->hc = hc;
	if (lh != NULL)
		cl->lh = *lh;
	cl->lc = lifecycle_new(ev, NULL, NULL, c, &mine);
	build(cl, c);
	return cl;
}

void
cloud_free(struct cloud *cl)
{
	if (cl == NULL)
		return;
	teardown(cl);
	lifecycle_free(cl->lc);
	free(cl);
}

void
cloud_reconfigure(struct cloud *cl, const struct conf *c)
{
	char *key = client_key(c);
	bool same = strcmp(key, cl->built_from) == 0;

	free(key);
	if (!same) {
		/* Endpoints, region, profile or identity changed: the queued
		 * datums were meant for the old destination and identity, so
		 * they go with the old clients, and the log says how many. */
		log_notice("aws settings changed: rebuilding the AWS clients%s",
		    cl->cw != NULL ? "; metrics queued for the old settings "
		                     "are discarded (see the count below)"
		                   : "");
		if (cl->cw != NULL) {
			json_object *st = json_object_new_object(), *cw, *q;

			cloudwatch_status(cl->cw, st);
			if (json_object_object_get_ex(st, "cloudwatch", &cw) &&
			    json_object_object_get_ex(cw, "queued", &q))
				log_warn("discarded %lld queued datums",
				    (long long)json_object_get_int64(q));
			json_object_put(st);
		}
		teardown(cl);
		build(cl, c);
		lifecycle_reconfigure(cl->lc, c);
		return;
	}
	if (c->cw_enabled && cl->cw == NULL) {
		cl->cw = cloudwatch_new(cl->ev, cl->aws, c);
		if (cl->identity_known)
			cloudwatch_set_identity(cl->cw, cl->instance_id,
			    cl->group);
		asg_set_cloudwatch(cl->asg, cl->cw);
	} else if (!c->cw_enabled && cl->cw != NULL) {
		/* asg holds the pointer too (the refusal counter, the slot). */
		asg_set_cloudwatch(cl->asg, NULL);
		cloudwatch_flush(cl->cw);
		cloudwatch_free(cl->cw);
		cl->cw = NULL;
	} else if (cl->cw != NULL) {
		cloudwatch_reconfigure(cl->cw, c);
	}
	asg_reconfigure(cl->asg, c);
	notify_reconfigure(cl->notify, c);
	eip_reconfigure(cl->eip, c);
	lifecycle_reconfigure(cl->lc, c);
}

void
cloud_set_health(struct cloud *cl, const struct health *h)
{
	cl->health = h;
}

void
cloud_health_changed(struct cloud *cl, const struct health *h, mono_ms now)
{
	if (cl == NULL || h != cl->health)
		return;
	asg_observe(cl->asg, h, now);
}

void
cloud_tick(struct cloud *cl, const struct sample *s, const struct health *h,
    mono_ms now, int64_t wall_ms)
{
	enum health_state st = health_state(h);

	cl->health = h;
	if (cl->cw != NULL)
		cloudwatch_observe(cl->cw, s, h, wall_ms);
	asg_observe(cl->asg, h, now);
	eip_observe(cl->eip, h);
	lifecycle_observe(cl->lc, h, now);
	if (health_state_ok(st))
		cl->been_ok = true;
	/* Unhealthy before ever being healthy (no result yet at start) is
	 * not an episode, and its end is no recovery. */
	if (st == HEALTH_UNHEALTHY && !cl->was_unhealthy && cl->been_ok) {
		cl->was_unhealthy = true;
		cl->unhealthy_since = now;
	} else if (cl->was_unhealthy && health_state_ok(st)) {
		char why[96];

		cl->was_unhealthy = false;
		snprintf(why, sizeof(why),
		    "healthy again after %.0f s unhealthy",
		    (double)(now - cl->unhealthy_since) / 1000);
		notify_event(cl->notify, NOTIFY_RECOVERED, why, h);
	}
}

struct lifecycle *
cloud_lifecycle(struct cloud *cl)
{
	return cl->lc;
}

void
cloud_flush(struct cloud *cl)
{
	if (cl->cw != NULL)
		cloudwatch_drain(cl->cw);
}

size_t
cloud_pending(const struct cloud *cl)
{
	if (cl == NULL)
		return 0;
	return cloudwatch_pending(cl->cw) + notify_pending(cl->notify);
}

void
cloud_status(const struct cloud *cl, json_object *into)
{
	json_object *o = json_object_new_object();
	const struct aws_creds *cr = creds_get(cl->creds);

	json_object_object_add(o, "instance_id",
	    json_object_new_string(cl->instance_id));
	json_object_object_add(o, "region", json_object_new_string(cl->region));
	json_object_object_add(o, "identity_known",
	    json_object_new_boolean(cl->identity_known));
	json_object_object_add(o, "imds",
	    json_object_new_string(imds_state(cl->imds)));
	json_object_object_add(o, "credentials",
	    json_object_new_string(creds_state(cl->creds)));
	json_object_object_add(o, "credentials_source",
	    json_object_new_string(
	        creds_source_names[cr != NULL ? cr->source : CREDS_NONE]));
	for (int i = 0; i < AWS_SVC_MAX; i++) {
		const char *ep = aws_endpoint(cl->aws, (enum aws_service)i);
		char key[64];

		/* No endpoint until the region is known. */
		snprintf(key, sizeof(key), "%s_endpoint", aws_service_names[i]);
		json_object_object_add(o, key,
		    ep != NULL ? json_object_new_string(ep) : NULL);
	}
	json_object_object_add(o, "clock_offset_s",
	    json_object_new_int64(aws_clock_offset(cl->aws)));
	json_object_object_add(into, "aws", o);
	if (cl->cw != NULL)
		cloudwatch_status(cl->cw, into);
	asg_status(cl->asg, into);
	notify_status(cl->notify, into);
	eip_status(cl->eip, into);
	lifecycle_status(cl->lc, into);
}
