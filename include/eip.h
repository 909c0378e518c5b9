/* SPDX-License-Identifier: ISC */
/*
 * Elastic IP association for single-instance self-healing. With
 * eip.allocation_id set, once the verdict first becomes HEALTHY or
 * DEGRADED (after STARTING) and the instance id is known, the agent calls
 * EC2 AssociateAddress (AllocationId, InstanceId, AllowReassociation=true)
 * for its own instance, so that a one-instance Auto Scaling group keeps its
 * public address across replacements. The call is made once per process
 * (and again only for a different allocation_id after a reload); a failure
 * is retried with capped exponential backoff and jitter until it succeeds.
 * Nothing is called while the verdict is DRAINING: an instance on its way
 * out must not take the address back from its replacement. The outcome
 * (the association id, or the last error) is in eip_status().
 */
#ifndef EIP_H
#define EIP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "conf.h"
#include "ev.h"
#include "health.h"

struct eip;

/* aws may be NULL (no AWS access: nothing is ever called). Only
 * c->eip_allocation_id is read; "" disables the module. */
struct eip *eip_new(struct ev *ev, struct aws *aws, const struct conf *c);
/* Cancels a call in flight. */
void eip_free(struct eip *e);
/* The same allocation id keeps the state (no second call after success);
 * another one starts over; "" disables. */
void eip_reconfigure(struct eip *e, const struct conf *c);
/* The instance id, once known. */
void eip_set_identity(struct eip *e, const char *instance_id);
/* Feed the verdict; call on every tick and transition. */
void eip_observe(struct eip *e, const struct health *h);
/* Add "eip": {enabled, allocation_id, instance_id, state, association_id,
 * attempts, next_attempt_in_ms, associated_age_ms, last_error: {code,
 * message, http_status, age_ms} or null}. */
void eip_status(const struct eip *e, json_object *into);

/* Pure helpers, exposed for the unit tests. */

/* The associationId of an AssociateAddress reply (ec2 protocol:
 * <AssociateAddressResponse><requestId/><associationId/>...). 0 with the
 * id in out, or -1 (malformed, or no associationId). */
int eip_parse_association(const char *xml, size_t len, char *out,
    size_t outlen);

/* The decision, given the verdict and what happened so far. */
enum eip_step {
	EIP_WAIT_ENABLED,  /* no allocation id (disabled) */
	EIP_WAIT_HEALTHY,  /* the verdict has not been healthy yet */
	EIP_WAIT_IDENTITY, /* the instance id is not known yet */
	EIP_WAIT_DRAINING, /* draining: never take the address now */
	EIP_WAIT_BACKOFF,  /* the last attempt failed; wait for the timer */
	EIP_WAIT_CALL,     /* a call is in flight */
	EIP_CALL,          /* call AssociateAddress now */
	EIP_DONE,          /* associated */
	EIP_STEP_MAX
};

extern const char *const eip_step_names[EIP_STEP_MAX];

struct eip_facts {
	bool enabled;     /* an allocation id is configured */
	bool done;        /* associated (this process, this allocation id) */
	bool was_healthy; /* the verdict has been HEALTHY/DEGRADED */
	bool have_id;     /* the instance id is known */
	bool draining;    /* the verdict is DRAINING now */
	bool in_flight;   /* a call is in flight */
	bool backing_off; /* the retry timer is armed */
};

enum eip_step eip_decide(const struct eip_facts *f);

#endif
