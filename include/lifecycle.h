/* SPDX-License-Identifier: ISC */
/*
 * Auto Scaling lifecycle hooks, the termination watch and the drain
 * sequence, on the event loop. One object; nothing in it blocks.
 *
 * Launch (lifecycle.launch_hook set). The agent holds the launch action
 * (Pending:Wait, or Warmed:Pending:Wait for a warm pool) and completes it
 * once:
 *   - CONTINUE as soon as the instance is ready (lifecycle_launch_ready):
 *     the verdict is HEALTHY or DEGRADED, so it has left STARTING, no local
 *     check is DOWN or without a result, and the agent is not draining;
 *     and every local check is UP with at least its configured `rise`
 *     consecutive passes. A check that went UNKNOWN -> UP on its first pass,
 *     or that started UP (initial = "up"), still needs `rise` passes.
 *     Dependency checks do not hold a launch (DEGRADED is ready).
 *   - ABANDON when it is still not ready launch_timeout seconds after the
 *     agent started (lifecycle_new).
 * While it waits, RecordLifecycleActionHeartbeat goes out every
 * heartbeat_interval seconds.
 * Pending:Wait itself is not visible without an API call, so the agent
 * takes a launch action to be held whenever it runs with a launch hook,
 * unless IMDS target-lifecycle-state says otherwise: it acts while that
 * state is InService (the target during a launch), Warmed:* (a launch into
 * a warm pool) or unknown (404 before the instance's first transition, IMDS
 * disabled or failing), and skips the hook while it is Terminated, Standby
 * or Detached. An agent restarted on an instance already in service so
 * repeats the call; Auto Scaling answers ValidationError ("No active
 * Lifecycle Action found"), which is shown as "not pending" and is
 * harmless. When the target state goes from Warmed:* back to InService (the
 * instance leaves a warm pool, where a new launch action is held), the
 * launch logic runs again with a fresh launch_timeout.
 *
 * Every call needs the instance id and the group (lifecycle_set_identity,
 * else aws.instance_id and aws.autoscaling_group); until both are known a
 * decision waits, and it is taken at once when they arrive. A
 * CompleteLifecycleAction that failed after aws.c's retries is tried again
 * with backoff (2 s doubling to 60 s, at most 10 rounds); a ValidationError
 * is final. A heartbeat answered with ValidationError means no action is
 * pending: the launch is then not completed at all.
 *
 * Termination watch: every watch_interval seconds, IMDS GETs of
 *   meta-data/autoscaling/target-lifecycle-state,
 *   meta-data/spot/instance-action (when lifecycle.spot is true) and
 *   meta-data/events/recommendations/rebalance,
 * each skipped while the previous one is in flight. Signals:
 *   - the target state becomes Terminated or Warmed:Terminated: drain;
 *   - it goes from InService to Warmed:Stopped/Running/Hibernated (scale-in
 *     into a warm pool): drain, lifted again if the target returns to
 *     InService; seen without InService before it (a launch into the pool)
 *     it is not a signal;
 *   - a Spot notice {"action": "terminate"|"stop"|"hibernate", "time":
 *     "YYYY-MM-DDTHH:MM:SSZ"}: drain within the notice (below); a drain for
 *     stop or hibernate is lifted when the notice is withdrawn (404 again);
 *   - a rebalance recommendation {"noticeTime": "..."}: drain when
 *     lifecycle.rebalance = "drain", else only logged and shown in status.
 * Standby and Detached are only shown. A body that does not parse is logged
 * (once per distinct problem) and ignored, as is any IMDS error; the last
 * good values are kept. Each signal acts once per appearance.
 *
 * Drain:
 *   1. set_draining(true, why) at once (the daemon turns /health to 503);
 *   2. drain_command, killed with its process group after drain_timeout;
 *   3. a wait of drain_seconds;
 *   4. CompleteLifecycleAction CONTINUE for the terminate hook, when one is
 *      configured and a terminate action is pending: the target state is
 *      Terminated, or Warmed:* reached from InService.
 * While 2 and 3 run with a terminate action pending, a heartbeat goes out
 * every heartbeat_interval. A terminate action that becomes pending after
 * step 3 (a Spot notice or a manual drain ahead of the group) is completed
 * at once. A signal arriving during a drain joins it (no second drain).
 * Spot: steps 2 and 3 must end SPOT_MARGIN_MS (10 s) before the notice's
 * time, read on the wall clock (which EC2 keeps synchronised): the
 * command's kill time and the wait are cut so that they do (a drain already
 * running when the notice comes is cut the same way), and with no time
 * left they are skipped. Step 4 is one API call and fits in the margin.
 * drain_finished (optional) runs once per drain, after step 3, and after
 * step 4's call has ended when step 4 applies by then. The agent never
 * exits by itself: the instance is going away and systemd stops it.
 *
 * lifecycle_drain() is the manual drain (healthagent drain): the same
 * sequence, completing the terminate hook only if an action is pending.
 * lifecycle_undrain() ends a drain unless it is final (a termination or a
 * Spot terminate notice).
 */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws.h"
#include "conf.h"
#include "ev.h"
#include "health.h"
#include "imds.h"

/* A Spot drain ends this long before the notice's time. */
#define LIFECYCLE_SPOT_MARGIN_MS 10000

struct lifecycle;

/* How the agent acts on what the lifecycle decides. */
struct lifecycle_hooks {
	/* Turn draining on or off (the daemon: health_set_draining). */
	void (*set_draining)(bool on, const char *why, void *arg);
	/* A drain has finished (may be NULL). */
	void (*drain_finished)(void *arg);
	void *arg;
};

/* aws and imds may be NULL (no AWS access: no hooks, no watch; a manual
 * drain still works). The hooks are copied. */
struct lifecycle *lifecycle_new(struct ev *ev, struct aws *aws,
    struct imds *imds, const struct conf *c, const struct lifecycle_hooks *cb);
/* Cancels every call and request; kills a running drain_command. */
void lifecycle_free(struct lifecycle *lc);
void lifecycle_reconfigure(struct lifecycle *lc, const struct conf *c);
/* Replace the clients (cloud.c rebuilds them when aws settings change;
 * NULL, NULL before freeing the old ones). Calls in flight on the old
 * clients are cancelled and made again on the new ones. */
void lifecycle_set_clients(struct lifecycle *lc, struct aws *aws,
    struct imds *imds);
/* The instance id and its group once known; group NULL = not known (or
 * none), when aws.autoscaling_group applies if set. */
void lifecycle_set_identity(struct lifecycle *lc, const char *instance_id,
    const char *group);
/* Feed the verdict; call on every tick. */
void lifecycle_observe(struct lifecycle *lc, const struct health *h,
    mono_ms now);
/* The manual drain. 0 when it started, 1 when a drain was already under
 * way (why is then only logged). */
int lifecycle_drain(struct lifecycle *lc, const char *why);
/* End a drain that is not final: kill drain_command, stop waiting,
 * set_draining(false). 0 (also when there was nothing to end), or -1 with
 * the reason in err. */
int lifecycle_undrain(struct lifecycle *lc, char *err, size_t errlen);
bool lifecycle_draining(const struct lifecycle *lc);
/* Add "lifecycle": {launch, terminate, watch, drain, ...}. */
void lifecycle_status(const struct lifecycle *lc, json_object *into);

/*
 * Pure parts, exposed for the unit tests.
 */

/* IMDS autoscaling/target-lifecycle-state, classified. */
enum lifecycle_target {
	LC_TARGET_UNKNOWN,    /* 404: no transition yet, or not asked */
	LC_TARGET_IN_SERVICE, /* InService */
	LC_TARGET_TERMINATED, /* Terminated, Warmed:Terminated */
	LC_TARGET_WARMED,     /* Warmed:Stopped, Warmed:Running, ... */
	LC_TARGET_STANDBY,    /* Standby */
	LC_TARGET_DETACHED,   /* Detached */
	LC_TARGET_INVALID,    /* anything else: ignored */
	LC_TARGET_MAX
};

extern const char *const lifecycle_target_names[LC_TARGET_MAX];

/* Classify a 200 body (surrounding white space is ignored; the words are
 * case-sensitive, as IMDS serves them). */
enum lifecycle_target lifecycle_classify_target(const char *body, size_t len);

/* What a change of the target state from prev to cur (the last two valid
 * values; LC_TARGET_UNKNOWN before any) means. */
enum lifecycle_target_event {
	LC_TEV_NONE,
	LC_TEV_TERMINATE, /* drain, final; a terminate action is pending */
	LC_TEV_WARM,      /* InService -> Warmed:*: drain until it returns */
	LC_TEV_RETURN,    /* Warmed:* -> InService: lift, launch held again */
};

enum lifecycle_target_event lifecycle_target_event(enum lifecycle_target prev,
    enum lifecycle_target cur);

/* May the launch hook be completed while the target state is t? */
bool lifecycle_launch_allowed(enum lifecycle_target t);

enum lifecycle_spot_action {
	LC_SPOT_TERMINATE,
	LC_SPOT_STOP,
	LC_SPOT_HIBERNATE,
	LC_SPOT_MAX
};

extern const char *const lifecycle_spot_action_names[LC_SPOT_MAX];

struct lifecycle_spot {
	enum lifecycle_spot_action action;
	int64_t time_ms; /* the notice's "time", ms since the epoch */
};

/* Parse "YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)" (UTC); ms since the epoch,
 * or -1. */
int64_t lifecycle_parse_time(const char *s);
/* Parse spot/instance-action JSON. 0, or -1 with the reason in err. */
int lifecycle_parse_spot(const char *body, size_t len,
    struct lifecycle_spot *out, char *err, size_t errlen);
/* Parse events/recommendations/rebalance JSON ({"noticeTime": ...}) into
 * *notice_ms. 0, or -1 with the reason in err. */
int lifecycle_parse_rebalance(const char *body, size_t len, int64_t *notice_ms,
    char *err, size_t errlen);
/* The wall-clock time (ms) a drain for a Spot notice at time_ms must be
 * over by: time_ms - LIFECYCLE_SPOT_MARGIN_MS. */
int64_t lifecycle_spot_deadline(int64_t time_ms);
/* How long a step that wants `want` ms may take now (wall ms) when the
 * drain must be over by deadline (wall ms; 0 = no deadline): min(want,
 * deadline - now), and 0 when the deadline has passed. */
mono_ms lifecycle_clip(mono_ms want, int64_t deadline, int64_t now);

/* A check's rise, by name, for lifecycle_launch_ready. */
struct lifecycle_rise {
	const char *name;
	int rise;
};

/* Is the instance ready for CONTINUE (the rule at the top)? A check not in
 * the table needs 1 pass. When not ready, why says what is missing. */
bool lifecycle_launch_ready(const struct health *h,
    const struct lifecycle_rise *rise, size_t n, char *why, size_t whylen);

enum lifecycle_launch_step {
	LC_LAUNCH_WAIT,     /* not ready, time left */
	LC_LAUNCH_CONTINUE, /* ready */
	LC_LAUNCH_ABANDON,  /* not ready by the deadline */
	LC_LAUNCH_SKIP,     /* the target state says no launch is held */
};

/* The launch decision. */
enum lifecycle_launch_step lifecycle_launch_decide(bool ready, mono_ms now,
    mono_ms deadline, enum lifecycle_target target);

#endif
