/* SPDX-License-Identifier: ISC */
/*
 * Auto Scaling lifecycle hooks and the drain sequence. A launch hook is
 * completed with CONTINUE once the checks say the instance is ready (or
 * ABANDON after launch_timeout), heartbeating while it waits; IMDS is
 * polled for the target lifecycle state, Spot notices and rebalance
 * recommendations, and any of them starts the drain: 503 at once, the drain
 * command, drain_seconds, then the terminate hook. The rules are in
 * lifecycle.h; everything here is timers and callbacks on the loop.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "child.h"
#include "jsonw.h"
#include "lifecycle.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define HOOK_BACKOFF_MIN 2000
#define HOOK_BACKOFF_MAX 60000
#define HOOK_MAX_ROUNDS 10
#define CMD_OUT_MAX 4096
#define MAX_DOC 4096

#define PATH_TARGET "meta-data/autoscaling/target-lifecycle-state"
#define PATH_SPOT "meta-data/spot/instance-action"
#define PATH_REBALANCE "meta-data/events/recommendations/rebalance"

const char *const lifecycle_target_names[LC_TARGET_MAX] = {
    [LC_TARGET_UNKNOWN] = "unknown",
    [LC_TARGET_IN_SERVICE] = "InService",
    [LC_TARGET_TERMINATED] = "Terminated",
    [LC_TARGET_WARMED] = "Warmed",
    [LC_TARGET_STANDBY] = "Standby",
    [LC_TARGET_DETACHED] = "Detached",
    [LC_TARGET_INVALID] = "invalid",
};
_Static_assert(sizeof(lifecycle_target_names) /
            sizeof(lifecycle_target_names[0]) ==
        LC_TARGET_MAX,
    "lifecycle_target_names");

const char *const lifecycle_spot_action_names[LC_SPOT_MAX] = {
    [LC_SPOT_TERMINATE] = "terminate",
    [LC_SPOT_STOP] = "stop",
    [LC_SPOT_HIBERNATE] = "hibernate",
};
_Static_assert(sizeof(lifecycle_spot_action_names) /
            sizeof(lifecycle_spot_action_names[0]) ==
        LC_SPOT_MAX,
    "lifecycle_spot_action_names");

enum hook_kind { HOOK_LAUNCH, HOOK_TERMINATE, HOOK_KIND_MAX };

static const char *const hook_kind_names[HOOK_KIND_MAX] = {
    [HOOK_LAUNCH] = "launch",
    [HOOK_TERMINATE] = "terminate",
};
_Static_assert(sizeof(hook_kind_names) / sizeof(hook_kind_names[0]) ==
        HOOK_KIND_MAX,
    "hook_kind_names");

enum hook_state {
	HS_OFF,        /* no hook configured */
	HS_IDLE,       /* no action pending, as far as the agent knows */
	HS_HELD,       /* an action is pending and not yet decided */
	HS_COMPLETING, /* CompleteLifecycleAction in flight */
	HS_RETRY,      /* it failed; the next round is on retry_t */
	HS_DONE,       /* completed, refused, skipped or given up */
	HS_MAX
};

static const char *const hook_state_names[HS_MAX] = {
    [HS_OFF] = "off",
    [HS_IDLE] = "not pending",
    [HS_HELD] = "held",
    [HS_COMPLETING] = "completing",
    [HS_RETRY] = "retrying",
    [HS_DONE] = "done",
};
_Static_assert(sizeof(hook_state_names) / sizeof(hook_state_names[0]) == HS_MAX,
    "hook_state_names");

/* Why the agent drains; several may hold one drain. */
enum cause {
	CAUSE_MANUAL,
	CAUSE_TERMINATED,
	CAUSE_WARM,
	CAUSE_SPOT,
	CAUSE_REBALANCE,
	CAUSE_MAX
};

static const char *const cause_names[CAUSE_MAX] = {
    [CAUSE_MANUAL] = "manual",
    [CAUSE_TERMINATED] = "terminated",
    [CAUSE_WARM] = "warm pool",
    [CAUSE_SPOT] = "spot",
    [CAUSE_REBALANCE] = "rebalance",
};
_Static_assert(sizeof(cause_names) / sizeof(cause_names[0]) == CAUSE_MAX,
    "cause_names");

enum drain_phase {
	DP_IDLE,    /* not draining */
	DP_COMMAND, /* drain_command running */
	DP_WAIT,    /* waiting drain_seconds */
	DP_DONE,    /* steps 1-3 over (the terminate hook may follow) */
	DP_MAX
};

static const char *const drain_phase_names[DP_MAX] = {
    [DP_IDLE] = "none",
    [DP_COMMAND] = "running drain_command",
    [DP_WAIT] = "waiting",
    [DP_DONE] = "drained",
};
_Static_assert(sizeof(drain_phase_names) / sizeof(drain_phase_names[0]) ==
        DP_MAX,
    "drain_phase_names");

enum watch_kind { W_TARGET, W_SPOT, W_REBALANCE, W_MAX };

static const char *const watch_paths[W_MAX] = {
    [W_TARGET] = PATH_TARGET,
    [W_SPOT] = PATH_SPOT,
    [W_REBALANCE] = PATH_REBALANCE,
};
_Static_assert(sizeof(watch_paths) / sizeof(watch_paths[0]) == W_MAX,
    "watch_paths");

struct lifecycle;

struct hook {
	struct lifecycle *lc;
	enum hook_kind kind;
	char *name; /* "" = none */
	enum hook_state state;
	const char *result; /* CONTINUE or ABANDON being sent */
	mono_ms held_since;
	struct aws_call *call;    /* CompleteLifecycleAction */
	struct aws_call *hb_call; /* RecordLifecycleActionHeartbeat */
	struct ev_timer *hb_t, *retry_t;
	mono_ms backoff;
	int rounds;
	unsigned long heartbeats, heartbeat_failures;
	char outcome[400];
	mono_ms outcome_at;
	char last_heartbeat[400];
	mono_ms heartbeat_at;
};

struct watch {
	struct lifecycle *lc;
	enum watch_kind kind;
	struct imds_req *req;
	unsigned long polls, errors;
	char error[300]; /* the last IMDS or parse problem, "" if none */
	mono_ms error_at;
};

struct lifecycle {
	struct ev *ev;
	struct aws *aws;
	struct imds *imds;
	struct lifecycle_hooks cb;
	mono_ms started;

	/* Copied from the config. */
	mono_ms launch_timeout, heartbeat, watch_interval, drain_timeout;
	mono_ms drain_seconds;
	bool rebalance_drain, watch_spot;
	char **drain_argv; /* NULL = no drain_command */
	char *conf_instance_id, *conf_group;
	struct lifecycle_rise *rise;
	size_t n_rise;

	/* Identity. */
	char *instance_id, *group;

	/* Hooks. */
	struct hook hooks[HOOK_KIND_MAX];
	mono_ms launch_deadline;
	struct ev_timer *launch_t;
	bool ready;
	bool observed;
	char not_ready[300];

	/* The watch. */
	struct watch w[W_MAX];
	struct ev_timer *watch_t;
	enum lifecycle_target target; /* the last valid value */
	char target_raw[48];
	bool target_answered; /* 200 or 404 at least once */
	bool spot_present, spot_acted;
	struct lifecycle_spot spot;
	bool rebalance_present, rebalance_acted;
	int64_t rebalance_ms;

	/* The drain. */
	enum drain_phase phase;
	unsigned causes; /* 1 << enum cause */
	bool final;
	char why[300];
	mono_ms drain_started, drain_ended;
	int64_t deadline; /* wall ms the drain must end by, 0 = none */
	struct child *cmd;
	struct ev_timer *step_t;
	mono_ms step_until;
	bool step_cut; /* step_until was cut by the Spot deadline */
	char cmd_result[400];
	bool finish_pending; /* drain_finished after the terminate call */
	unsigned long drains;
};

/*
 * Pure parts.
 */

static const char *
trim(const char *s, size_t len, size_t *outlen)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	*outlen = len;
	return s;
}

static bool
word_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && memcmp(s, w, len) == 0;
}

enum lifecycle_target
lifecycle_classify_target(const char *body, size_t len)
{
	static const char *const warmed[] = {"Warmed:Stopped", "Warmed:Running",
	    "Warmed:Hibernated"};
	size_t n;
	const char *s = trim(body, len, &n);

	if (word_is(s, n, "InService"))
		return LC_TARGET_IN_SERVICE;
	if (word_is(s, n, "Terminated") || word_is(s, n, "Warmed:Terminated"))
		return LC_TARGET_TERMINATED;
	for (size_t i = 0; i < sizeof(warmed) / sizeof(warmed[0]); i++)
		if (word_is(s, n, warmed[i]))
			return LC_TARGET_WARMED;
	if (word_is(s, n, "Standby"))
		return LC_TARGET_STANDBY;
	if (word_is(s, n, "Detached"))
		return LC_TARGET_DETACHED;
	return LC_TARGET_INVALID;
}

enum lifecycle_target_event
lifecycle_target_event(enum lifecycle_target prev, enum lifecycle_target cur)
{
	if (cur == prev)
		return LC_TEV_NONE;
	if (cur == LC_TARGET_TERMINATED)
		return LC_TEV_TERMINATE;
	if (cur == LC_TARGET_WARMED && prev == LC_TARGET_IN_SERVICE)
		return LC_TEV_WARM;
	if (cur == LC_TARGET_IN_SERVICE && prev == LC_TARGET_WARMED)
		return LC_TEV_RETURN;
	return LC_TEV_NONE;
}

bool
lifecycle_launch_allowed(enum lifecycle_target t)
{
	return t == LC_TARGET_UNKNOWN || t == LC_TARGET_IN_SERVICE ||
	    t == LC_TARGET_WARMED || t == LC_TARGET_INVALID;
}

static bool
digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

static bool
expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

int64_t
lifecycle_parse_time(const char *s)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, ms = 0;
	struct tm tm, back;
	time_t t;

	if (s == NULL || !digits(&p, 4, &y) || !expect(&p, '-') ||
	    !digits(&p, 2, &mo) || !expect(&p, '-') || !digits(&p, 2, &d) ||
	    !expect(&p, 'T') || !digits(&p, 2, &h) || !expect(&p, ':') ||
	    !digits(&p, 2, &mi) || !expect(&p, ':') || !digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		int n = 0;

		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		for (; n < 3; n++)
			ms *= 10;
	}
	if (*p == 'Z')
		p++;
	else if (strncmp(p, "+00:00", 6) == 0)
		p += 6;
	else
		return -1;
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;
	t = timegm(&tm);
	/* timegm normalises 31 April into 1 May: refuse such dates. */
	if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_mday != d || back.tm_mon != mo - 1)
		return -1;
	return (int64_t)t * 1000 + ms;
}

/* Parse a small JSON object document; NULL with err on failure. */
static json_object *
parse_object(const char *what, const char *body, size_t len, char *err,
    size_t errlen)
{
	struct json_tokener *tok;
	json_object *o;
	enum json_tokener_error je;

	if (len == 0 || len > MAX_DOC) {
		snprintf(err, errlen, "%s: %s", what,
		    len == 0 ? "empty" : "too long");
		return NULL;
	}
	if (memchr(body, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", what);
		return NULL;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	je = json_tokener_get_error(tok);
	if (o == NULL || je != json_tokener_success) {
		snprintf(err, errlen, "%s: not JSON (%s)", what,
		    je == json_tokener_continue ? "truncated"
		                                : json_tokener_error_desc(je));
		goto fail;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (!isspace((unsigned char)body[i])) {
			snprintf(err, errlen, "%s: data after the JSON value",
			    what);
			goto fail;
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: not a JSON object", what);
		goto fail;
	}
	json_tokener_free(tok);
	return o;
fail:
	json_object_put(o);
	json_tokener_free(tok);
	return NULL;
}

/* A string member, quoted safely into err when it is bad. */
static const char *
str_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Copy at most 40 printable characters of s for a message. */
static void
printable(char *dst, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < size && o < 40; s++)
		dst[o++] = isprint((unsigned char)*s) ? *s : '?';
	dst[o] = '\0';
}

/* Up to 40 printable characters of a body of len bytes. */
static void
quote_body(char *dst, size_t size, const char *s, size_t len)
{
	char tmp[48];
	size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;

	memcpy(tmp, s, n);
	tmp[n] = '\0';
	printable(dst, size, tmp);
}

int
lifecycle_parse_spot(const char *body, size_t len, struct lifecycle_spot *out,
    char *err, size_t errlen)
{
	json_object *o =
	    parse_object("spot/instance-action", body, len, err, errlen);
	const char *action, *when;
	char q[48];
	int rc = -1;
	int i;

	memset(out, 0, sizeof(*out));
	if (o == NULL)
		return -1;
	action = str_member(o, "action");
	when = str_member(o, "time");
	if (action == NULL || when == NULL) {
		snprintf(err, errlen,
		    "spot/instance-action: \"action\" and \"time\" must be "
		    "strings");
		goto out;
	}
	for (i = 0; i < LC_SPOT_MAX; i++)
		if (strcmp(action, lifecycle_spot_action_names[i]) == 0)
			break;
	if (i == LC_SPOT_MAX) {
		printable(q, sizeof(q), action);
		snprintf(err, errlen,
		    "spot/instance-action: unknown action \"%s\"", q);
		goto out;
	}
	out->action = (enum lifecycle_spot_action)i;
	out->time_ms = lifecycle_parse_time(when);
	if (out->time_ms < 0) {
		printable(q, sizeof(q), when);
		snprintf(err, errlen, "spot/instance-action: bad time \"%s\"",
		    q);
		goto out;
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

int
lifecycle_parse_rebalance(const char *body, size_t len, int64_t *notice_ms,
    char *err, size_t errlen)
{
	json_object *o = parse_object("events/recommendations/rebalance", body,
	    len, err, errlen);
	const char *when;
	char q[48];
	int rc = -1;

	*notice_ms = 0;
	if (o == NULL)
		return -1;
	when = str_member(o, "noticeTime");
	if (when == NULL) {
		snprintf(err, errlen,
		    "events/recommendations/rebalance: \"noticeTime\" must "
		    "be a string");
	} else if ((*notice_ms = lifecycle_parse_time(when)) < 0) {
		printable(q, sizeof(q), when);
		snprintf(err, errlen,
		    "events/recommendations/rebalance: bad noticeTime \"%s\"",
		    q);
		*notice_ms = 0;
	} else {
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

int64_t
lifecycle_spot_deadline(int64_t time_ms)
{
	return time_ms - LIFECYCLE_SPOT_MARGIN_MS;
}

mono_ms
lifecycle_clip(mono_ms want, int64_t deadline, int64_t now)
{
	if (deadline == 0)
		return want;
	if (deadline <= now)
		return 0;
	return (mono_ms)(deadline - now) < want ? (mono_ms)(deadline - now)
	                                        : want;
}

static int
rise_of(const struct lifecycle_rise *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			return r[i].rise > 0 ? r[i].rise : 1;
	return 1;
}

bool
lifecycle_launch_ready(const struct health *h,
    const struct lifecycle_rise *rise, size_t n, char *why, size_t whylen)
{
	enum health_state s = health_state(h);
	size_t count = health_count(h);

	if (s != HEALTH_HEALTHY && s != HEALTH_DEGRADED) {
		snprintf(why, whylen, "verdict %s: %s", health_state_names[s],
		    health_why(h));
		return false;
	}
	for (size_t i = 0; i < count; i++) {
		struct health_check_view v;
		int need;

		health_check(h, i, &v);
		if (v.dependency)
			continue;
		need = rise_of(rise, n, v.name);
		if (v.state != HEALTH_C_UP) {
			snprintf(why, whylen, "check %s is %s", v.name,
			    health_cstate_names[v.state]);
			return false;
		}
		if (v.consecutive_ok < need) {
			snprintf(why, whylen,
			    "check %s has passed %d of %d times (rise)", v.name,
			    v.consecutive_ok, need);
			return false;
		}
	}
	snprintf(why, whylen, "ready");
	return true;
}

enum lifecycle_launch_step
lifecycle_launch_decide(bool ready, mono_ms now, mono_ms deadline,
    enum lifecycle_target target)
{
	if (!lifecycle_launch_allowed(target))
		return LC_LAUNCH_SKIP;
	if (ready)
		return LC_LAUNCH_CONTINUE;
	if (now >= deadline)
		return LC_LAUNCH_ABANDON;
	return LC_LAUNCH_WAIT;
}

/*
 * Small helpers.
 */

static double
secs(mono_ms ms)
{
	return (double)ms / 1000.0;
}

static mono_ms
since(mono_ms now, mono_ms t)
{
	return now > t ? now - t : 0;
}

static void
free_argv(char **argv)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

static void
describe_error(const struct aws_result *r, char *buf, size_t size)
{
	if (r->http_status == 0)
		snprintf(buf, size, "%s: %s (after %d attempt%s)",
		    r->code[0] != '\0' ? r->code : "transport error",
		    r->message, r->attempts, r->attempts == 1 ? "" : "s");
	else
		snprintf(buf, size, "HTTP %d %s: %s (after %d attempt%s)%s",
		    r->http_status, r->code[0] != '\0' ? r->code : "error",
		    r->message, r->attempts, r->attempts == 1 ? "" : "s",
		    r->auth_error ? "; the credentials were rejected" : "");
}

static const char *
instance_id(const struct lifecycle *lc)
{
	if (lc->instance_id != NULL && lc->instance_id[0] != '\0')
		return lc->instance_id;
	if (lc->conf_instance_id != NULL && lc->conf_instance_id[0] != '\0')
		return lc->conf_instance_id;
	return NULL;
}

static const char *
group(const struct lifecycle *lc)
{
	if (lc->group != NULL && lc->group[0] != '\0')
		return lc->group;
	if (lc->conf_group != NULL && lc->conf_group[0] != '\0')
		return lc->conf_group;
	return NULL;
}

static bool
identity_known(const struct lifecycle *lc)
{
	return instance_id(lc) != NULL && group(lc) != NULL;
}

static void set_outcome(struct hook *k, mono_ms now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_outcome(struct hook *k, mono_ms now, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->outcome, sizeof(k->outcome), fmt, ap);
	va_end(ap);
	k->outcome_at = now;
}

static void drain_finished(struct lifecycle *lc);
static void term_eval(struct lifecycle *lc, mono_ms now);
static void launch_eval(struct lifecycle *lc, mono_ms now);

/*
 * Hooks: CompleteLifecycleAction and heartbeats.
 */

static void
hook_stop(struct hook *k)
{
	aws_cancel(k->call);
	aws_cancel(k->hb_call);
	k->call = NULL;
	k->hb_call = NULL;
	ev_timer_disarm(k->hb_t);
	ev_timer_disarm(k->retry_t);
}

/* Make the hook hold a new action from now. */
static void
hook_hold(struct hook *k, mono_ms now)
{
	hook_stop(k);
	k->state = HS_HELD;
	k->held_since = now;
	k->result = NULL;
	k->rounds = 0;
	k->backoff = 0;
	k->heartbeats = 0;
	k->heartbeat_failures = 0;
	k->last_heartbeat[0] = '\0';
	k->heartbeat_at = 0;
}

static void
hook_done(struct hook *k)
{
	hook_stop(k);
	k->state = HS_DONE;
	if (k->kind == HOOK_LAUNCH)
		ev_timer_disarm(k->lc->launch_t);
}

/* A terminate call that ended, however: drain_finished if it waited. */
static void
hook_ended(struct hook *k)
{
	struct lifecycle *lc = k->lc;

	if (k->kind == HOOK_TERMINATE && lc->finish_pending) {
		lc->finish_pending = false;
		drain_finished(lc);
	}
}

static void hook_send(struct hook *k, mono_ms now);

static void
hook_retry(struct hook *k, mono_ms now, const char *err)
{
	k->rounds++;
	if (k->rounds >= HOOK_MAX_ROUNDS) {
		log_err("lifecycle: CompleteLifecycleAction %s for %s hook %s "
		        "failed %d times, giving up (the group applies the "
		        "hook's default result when its timeout expires): %s",
		    k->result, hook_kind_names[k->kind], k->name, k->rounds,
		    err);
		set_outcome(k, now, "%s failed, gave up after %d rounds: %s",
		    k->result, k->rounds, err);
		hook_done(k);
		hook_ended(k);
		return;
	}
	if (k->backoff < HOOK_BACKOFF_MIN)
		k->backoff = HOOK_BACKOFF_MIN;
	log_warn("lifecycle: CompleteLifecycleAction %s for %s hook %s "
	         "failed: %s; trying again in %g s",
	    k->result, hook_kind_names[k->kind], k->name, err,
	    secs(k->backoff));
	set_outcome(k, now, "%s failed (round %d), retrying in %g s: %s",
	    k->result, k->rounds, secs(k->backoff), err);
	k->state = HS_RETRY;
	ev_timer_arm(k->retry_t, k->backoff);
	k->backoff *= 2;
	if (k->backoff > HOOK_BACKOFF_MAX)
		k->backoff = HOOK_BACKOFF_MAX;
}

static void
complete_cb(const struct aws_result *r, void *arg)
{
	struct hook *k = arg;
	mono_ms now = util_now_ms();
	char err[700];

	k->call = NULL;
	if (r->ok) {
		log_notice("lifecycle: CompleteLifecycleAction %s accepted for "
		           "%s hook %s (instance %s, group %s)",
		    k->result, hook_kind_names[k->kind], k->name,
		    instance_id(k->lc), group(k->lc));
		set_outcome(k, now, "%s accepted", k->result);
		hook_done(k);
		hook_ended(k);
		return;
	}
	describe_error(r, err, sizeof(err));
	if (strcmp(r->code, "ValidationError") == 0) {
		/* No action pending (already completed, timed out, or an
		 * agent restarted on an instance in service), or a hook name
		 * the group does not have: repeating cannot help. */
		log_notice("lifecycle: CompleteLifecycleAction %s for %s hook "
		           "%s refused, no pending action: %s",
		    k->result, hook_kind_names[k->kind], k->name, err);
		set_outcome(k, now, "%s not pending: %s", k->result, err);
		hook_done(k);
		hook_ended(k);
		return;
	}
	hook_retry(k, now, err);
}

static void
hook_send(struct hook *k, mono_ms now)
{
	struct lifecycle *lc = k->lc;
	struct aws_params *p;

	ev_timer_disarm(k->hb_t);
	ev_timer_disarm(k->retry_t);
	aws_cancel(k->hb_call);
	k->hb_call = NULL;
	if (k->call != NULL)
		return;
	k->state = HS_COMPLETING;
	if (lc->aws == NULL) {
		hook_retry(k, now, "no AWS access");
		return;
	}
	p = aws_params_new();
	aws_params_add(p, "LifecycleHookName", "%s", k->name);
	aws_params_add(p, "AutoScalingGroupName", "%s", group(lc));
	aws_params_add(p, "LifecycleActionResult", "%s", k->result);
	aws_params_add(p, "InstanceId", "%s", instance_id(lc));
	log_info("lifecycle: calling CompleteLifecycleAction %s for %s hook "
	         "%s (instance %s, group %s)",
	    k->result, hook_kind_names[k->kind], k->name, instance_id(lc),
	    group(lc));
	k->call = aws_query(lc->aws, AWS_SVC_AUTOSCALING,
	    "CompleteLifecycleAction", p, complete_cb, k);
	if (k->call == NULL)
		hook_retry(k, now, "no AWS credentials or region yet");
}

/* Decide and send: CONTINUE or ABANDON. */
static void
hook_complete(struct hook *k, const char *result, mono_ms now)
{
	k->result = result;
	k->rounds = 0;
	k->backoff = 0;
	hook_send(k, now);
}

static void
retry_cb(void *arg)
{
	struct hook *k = arg;

	if (k->state == HS_RETRY)
		hook_send(k, util_now_ms());
}

/* Should a heartbeat go out for this hook now? */
static bool
heartbeat_due(const struct hook *k)
{
	const struct lifecycle *lc = k->lc;

	if (k->state != HS_HELD || !identity_known(lc) || lc->aws == NULL)
		return false;
	if (k->kind == HOOK_TERMINATE)
		return lc->phase == DP_COMMAND || lc->phase == DP_WAIT;
	return true;
}

static void
heartbeat_cb(const struct aws_result *r, void *arg)
{
	struct hook *k = arg;
	mono_ms now = util_now_ms();
	char err[700];

	k->hb_call = NULL;
	k->heartbeat_at = now;
	if (r->ok) {
		k->heartbeats++;
		log_info("lifecycle: heartbeat for %s hook %s recorded (held "
		         "for %.0f s)",
		    hook_kind_names[k->kind], k->name,
		    secs(since(now, k->held_since)));
		snprintf(k->last_heartbeat, sizeof(k->last_heartbeat), "ok");
		return;
	}
	describe_error(r, err, sizeof(err));
	k->heartbeat_failures++;
	util_strlcpy(k->last_heartbeat, err, sizeof(k->last_heartbeat));
	if (strcmp(r->code, "ValidationError") == 0 && k->state == HS_HELD) {
		log_notice("lifecycle: heartbeat for %s hook %s refused: %s; "
		           "no %s action is pending, so none will be "
		           "completed",
		    hook_kind_names[k->kind], k->name, err,
		    hook_kind_names[k->kind]);
		set_outcome(k, now, "not pending: heartbeat refused: %s", err);
		hook_done(k);
		return;
	}
	log_warn("lifecycle: heartbeat for %s hook %s failed: %s",
	    hook_kind_names[k->kind], k->name, err);
}

static void
heartbeat_timer_cb(void *arg)
{
	struct hook *k = arg;
	struct lifecycle *lc = k->lc;
	struct aws_params *p;

	if (k->state != HS_HELD)
		return;
	ev_timer_arm(k->hb_t, lc->heartbeat);
	if (!heartbeat_due(k) || k->hb_call != NULL)
		return;
	p = aws_params_new();
	aws_params_add(p, "LifecycleHookName", "%s", k->name);
	aws_params_add(p, "AutoScalingGroupName", "%s", group(lc));
	aws_params_add(p, "InstanceId", "%s", instance_id(lc));
	k->hb_call = aws_query(lc->aws, AWS_SVC_AUTOSCALING,
	    "RecordLifecycleActionHeartbeat", p, heartbeat_cb, k);
	if (k->hb_call == NULL) {
		k->heartbeat_failures++;
		snprintf(k->last_heartbeat, sizeof(k->last_heartbeat),
		    "not sent: no AWS credentials or region yet");
	}
}

/* Heartbeats every heartbeat_interval from now while held. */
static void
heartbeats_start(struct hook *k)
{
	if (k->state == HS_HELD && !ev_timer_armed(k->hb_t))
		ev_timer_arm(k->hb_t, k->lc->heartbeat);
}

/*
 * Launch.
 */

static void
launch_eval(struct lifecycle *lc, mono_ms now)
{
	struct hook *k = &lc->hooks[HOOK_LAUNCH];
	enum lifecycle_launch_step step;

	if (k->state != HS_HELD)
		return;
	step = lifecycle_launch_decide(lc->ready, now, lc->launch_deadline,
	    lc->target);
	switch (step) {
	case LC_LAUNCH_SKIP:
		log_notice("lifecycle: not completing launch hook %s: the "
		           "target lifecycle state is %s",
		    k->name, lc->target_raw);
		set_outcome(k, now, "skipped: target lifecycle state %s",
		    lc->target_raw);
		hook_done(k);
		return;
	case LC_LAUNCH_WAIT:
		heartbeats_start(k);
		ev_timer_arm_at(lc->launch_t, lc->launch_deadline);
		return;
	case LC_LAUNCH_CONTINUE:
	case LC_LAUNCH_ABANDON:
		break;
	}
	/* Decided, but the call needs the identity: wait for it. */
	if (!identity_known(lc)) {
		heartbeats_start(k);
		return;
	}
	if (step == LC_LAUNCH_CONTINUE)
		log_notice("lifecycle: ready after %.1f s; completing launch "
		           "hook %s with CONTINUE",
		    secs(since(now, k->held_since)), k->name);
	else
		log_warn("lifecycle: not ready after %.1f s (launch_timeout "
		         "%g s): %s; completing launch hook %s with ABANDON",
		    secs(since(now, k->held_since)), secs(lc->launch_timeout),
		    lc->observed ? lc->not_ready : "no verdict yet", k->name);
	hook_complete(k, step == LC_LAUNCH_CONTINUE ? "CONTINUE" : "ABANDON",
	    now);
}

static void
launch_timer_cb(void *arg)
{
	struct lifecycle *lc = arg;

	launch_eval(lc, util_now_ms());
}

/* A new launch action is held from now (start, or out of a warm pool). */
static void
launch_hold(struct lifecycle *lc, mono_ms now)
{
	struct hook *k = &lc->hooks[HOOK_LAUNCH];

	if (k->state == HS_OFF)
		return;
	hook_hold(k, now);
	k->outcome[0] = '\0';
	k->outcome_at = 0;
	lc->launch_deadline = now + lc->launch_timeout;
	ev_timer_arm_at(lc->launch_t, lc->launch_deadline);
	heartbeats_start(k);
}

/*
 * Terminate hook.
 */

/* A terminate action is pending from now. */
static void
term_pending(struct lifecycle *lc, mono_ms now)
{
	struct hook *k = &lc->hooks[HOOK_TERMINATE];

	if (k->state == HS_OFF || k->state == HS_HELD ||
	    k->state == HS_COMPLETING || k->state == HS_RETRY)
		return;
	hook_hold(k, now);
	k->outcome[0] = '\0';
	k->outcome_at = 0;
	if (lc->phase == DP_COMMAND || lc->phase == DP_WAIT)
		heartbeats_start(k);
}

/* Complete the terminate action when it is pending and drained. */
static void
term_eval(struct lifecycle *lc, mono_ms now)
{
	struct hook *k = &lc->hooks[HOOK_TERMINATE];

	if (k->state != HS_HELD || lc->phase != DP_DONE || !identity_known(lc))
		return;
	log_notice("lifecycle: drained; completing terminate hook %s with "
	           "CONTINUE",
	    k->name);
	hook_complete(k, "CONTINUE", now);
}

/*
 * The drain.
 */

static void
drain_finished(struct lifecycle *lc)
{
	if (lc->cb.drain_finished != NULL)
		lc->cb.drain_finished(lc->cb.arg);
}

static void
drain_done(struct lifecycle *lc, mono_ms now)
{
	struct hook *k = &lc->hooks[HOOK_TERMINATE];

	lc->phase = DP_DONE;
	lc->drain_ended = now;
	ev_timer_disarm(lc->step_t);
	ev_timer_disarm(k->hb_t);
	log_notice("lifecycle: drain finished after %.1f s (%s)",
	    secs(since(now, lc->drain_started)), lc->why);
	term_eval(lc, now);
	if (k->state == HS_COMPLETING || k->state == HS_RETRY)
		lc->finish_pending = true;
	else
		drain_finished(lc);
}

/* Mono time for a step wanting `want` ms from now, under the deadline. */
static mono_ms
step_len(const struct lifecycle *lc, mono_ms want)
{
	return lifecycle_clip(want, lc->deadline, util_wall_ms());
}

static void
start_wait(struct lifecycle *lc, mono_ms now)
{
	mono_ms wait = step_len(lc, lc->drain_seconds);

	lc->phase = DP_WAIT;
	lc->step_cut = wait < lc->drain_seconds;
	if (lc->step_cut)
		log_notice("lifecycle: waiting %.1f s instead of "
		           "drain_seconds (%g s) to end before the Spot "
		           "deadline",
		    secs(wait), secs(lc->drain_seconds));
	else
		log_info("lifecycle: waiting drain_seconds (%g s)", secs(wait));
	lc->step_until = now + wait;
	ev_timer_arm_at(lc->step_t, lc->step_until);
}

static void
log_output(const char *out, size_t len)
{
	const char *p = out, *end = out + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		if (n > 0)
			log_info("lifecycle: drain_command: %.*s", (int)n, p);
		p += n + 1;
	}
}

static void
cmd_done_cb(const struct child_result *r, void *arg)
{
	struct lifecycle *lc = arg;
	mono_ms now = util_now_ms();
	char res[300];
	bool good = r->status != -1 && WIFEXITED(r->status) &&
	    WEXITSTATUS(r->status) == 0;

	lc->cmd = NULL;
	ev_timer_disarm(lc->step_t);
	log_output(r->out, r->out_len);
	child_describe(r, res, sizeof(res));
	log_msg(good ? LOG_LEVEL_NOTICE : LOG_LEVEL_WARNING,
	    "lifecycle: drain_command %s (%.1f s)", res, secs(r->elapsed));
	snprintf(lc->cmd_result, sizeof(lc->cmd_result), "%s", res);
	start_wait(lc, now);
}

static void
run_command(struct lifecycle *lc, mono_ms now)
{
	const struct child_opts o = {.out_max = CMD_OUT_MAX};
	mono_ms budget;
	char err[256];

	lc->phase = DP_COMMAND;
	lc->cmd_result[0] = '\0';
	if (lc->drain_argv == NULL) {
		start_wait(lc, now);
		return;
	}
	budget = step_len(lc, lc->drain_timeout);
	if (budget == 0) {
		log_warn("lifecycle: no time left for drain_command before "
		         "the Spot deadline; skipped");
		snprintf(lc->cmd_result, sizeof(lc->cmd_result),
		    "skipped: no time left before the Spot deadline");
		start_wait(lc, now);
		return;
	}
	log_notice("lifecycle: running drain_command %s (killed after "
	           "%.1f s)",
	    lc->drain_argv[0], secs(budget));
	lc->cmd = child_start(lc->ev, lc->drain_argv, &o, cmd_done_cb, lc, err,
	    sizeof(err));
	if (lc->cmd == NULL) {
		log_err("lifecycle: drain_command: %s", err);
		snprintf(lc->cmd_result, sizeof(lc->cmd_result), "%s", err);
		start_wait(lc, now);
		return;
	}
	lc->step_cut = budget < lc->drain_timeout;
	lc->step_until = now + budget;
	ev_timer_arm_at(lc->step_t, lc->step_until);
}

static void
step_cb(void *arg)
{
	struct lifecycle *lc = arg;
	mono_ms now = util_now_ms();

	if (lc->phase == DP_COMMAND) {
		if (lc->cmd != NULL) {
			bool spot = lc->step_cut;

			log_warn("lifecycle: drain_command (pid %ld) killed "
			         "after %.1f s: %s",
			    (long)child_pid(lc->cmd),
			    secs(since(now, lc->drain_started)),
			    spot ? "the Spot deadline" : "drain_timeout");
			child_cancel(lc->cmd);
			lc->cmd = NULL;
			snprintf(lc->cmd_result, sizeof(lc->cmd_result),
			    "killed at %s",
			    spot ? "the Spot deadline" : "drain_timeout");
		}
		start_wait(lc, now);
	} else if (lc->phase == DP_WAIT) {
		drain_done(lc, now);
	}
}

/* Cut the running step to the deadline. */
static void
apply_deadline(struct lifecycle *lc, mono_ms now)
{
	mono_ms left;

	if (lc->deadline == 0 ||
	    (lc->phase != DP_COMMAND && lc->phase != DP_WAIT))
		return;
	left = lifecycle_clip(lc->step_until > now ? lc->step_until - now : 0,
	    lc->deadline, util_wall_ms());
	if (now + left < lc->step_until) {
		log_notice("lifecycle: cutting the drain short by %.1f s to "
		           "end before the Spot deadline",
		    secs(lc->step_until - (now + left)));
		lc->step_until = now + left;
		lc->step_cut = true;
		ev_timer_arm_at(lc->step_t, lc->step_until);
	}
}

/* Start a drain, or join the running one. 0 started, 1 joined. */
static int
drain_start(struct lifecycle *lc, enum cause c, bool final, const char *why)
{
	mono_ms now = util_now_ms();

	if (lc->phase != DP_IDLE) {
		lc->causes |= 1u << c;
		lc->final |= final;
		log_notice("lifecycle: %s while draining (%s)%s", why, lc->why,
		    final ? "; the drain is now final" : "");
		apply_deadline(lc, now);
		if (lc->phase == DP_DONE)
			term_eval(lc, now);
		return 1;
	}
	lc->causes = 1u << c;
	lc->final = final;
	lc->drain_started = now;
	lc->drain_ended = 0;
	lc->finish_pending = false;
	lc->drains++;
	snprintf(lc->why, sizeof(lc->why), "%s", why);
	log_warn("lifecycle: draining: %s", why);
	if (lc->cb.set_draining != NULL)
		lc->cb.set_draining(true, why, lc->cb.arg);
	heartbeats_start(&lc->hooks[HOOK_TERMINATE]);
	run_command(lc, now);
	return 0;
}

/* Stop draining, whatever the phase. */
static void
drain_cancel(struct lifecycle *lc)
{
	if (lc->cmd != NULL) {
		log_notice("lifecycle: killing drain_command (pid %ld)",
		    (long)child_pid(lc->cmd));
		child_cancel(lc->cmd);
		lc->cmd = NULL;
	}
	ev_timer_disarm(lc->step_t);
	ev_timer_disarm(lc->hooks[HOOK_TERMINATE].hb_t);
	lc->phase = DP_IDLE;
	lc->causes = 0;
	lc->final = false;
	lc->deadline = 0;
	lc->finish_pending = false;
}

/* A reversible cause went away: lift the drain if nothing else holds it. */
static void
drain_lift(struct lifecycle *lc, enum cause c, const char *why)
{
	if (lc->phase == DP_IDLE || !(lc->causes & (1u << c)))
		return;
	lc->causes &= ~(1u << c);
	if (lc->causes != 0) {
		log_notice("lifecycle: %s, but the drain goes on (%s)", why,
		    lc->why);
		return;
	}
	log_notice("lifecycle: %s: draining ends", why);
	drain_cancel(lc);
	if (lc->cb.set_draining != NULL)
		lc->cb.set_draining(false, why, lc->cb.arg);
}

/*
 * The watch.
 */

/* Log a watch problem when it differs from the last one. */
static void watch_error(struct watch *w, mono_ms now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
watch_error(struct watch *w, mono_ms now, const char *fmt, ...)
{
	char msg[sizeof(w->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->errors++;
	if (strcmp(msg, w->error) != 0)
		log_warn("lifecycle: IMDS %s: %s", watch_paths[w->kind], msg);
	else
		log_debug("lifecycle: IMDS %s: %s", watch_paths[w->kind], msg);
	snprintf(w->error, sizeof(w->error), "%s", msg);
	w->error_at = now;
}

static void
watch_ok(struct watch *w)
{
	if (w->error[0] != '\0')
		log_info("lifecycle: IMDS %s answers again",
		    watch_paths[w->kind]);
	w->error[0] = '\0';
}

static void
on_target(struct lifecycle *lc, const char *body, size_t len, mono_ms now)
{
	struct watch *w = &lc->w[W_TARGET];
	enum lifecycle_target t = lifecycle_classify_target(body, len);
	enum lifecycle_target prev = lc->target;
	enum lifecycle_target_event tev;
	char raw[sizeof(lc->target_raw)], why[200];
	size_t n;
	const char *s = trim(body, len, &n);

	if (t == LC_TARGET_INVALID) {
		quote_body(raw, sizeof(raw), s, n);
		watch_error(w, now,
		    "unexpected target lifecycle state \"%s\"%s; ignored", raw,
		    n > 40 ? "..." : "");
		return;
	}
	watch_ok(w);
	snprintf(raw, sizeof(raw), "%.*s", (int)n, s);
	lc->target_answered = true;
	if (strcmp(raw, lc->target_raw) != 0)
		log_notice("lifecycle: target lifecycle state %s%s%s", raw,
		    lc->target_raw[0] != '\0' ? ", was " : "", lc->target_raw);
	snprintf(lc->target_raw, sizeof(lc->target_raw), "%s", raw);
	lc->target = t;
	tev = lifecycle_target_event(prev, t);
	snprintf(why, sizeof(why), "target lifecycle state %s", raw);
	switch (tev) {
	case LC_TEV_TERMINATE:
		term_pending(lc, now);
		drain_start(lc, CAUSE_TERMINATED, true, why);
		break;
	case LC_TEV_WARM:
		term_pending(lc, now);
		drain_start(lc, CAUSE_WARM, false, why);
		break;
	case LC_TEV_RETURN: {
		struct hook *term = &lc->hooks[HOOK_TERMINATE];

		drain_lift(lc, CAUSE_WARM,
		    "back in service from the warm pool");
		if (term->state != HS_OFF && term->state != HS_COMPLETING) {
			hook_stop(term);
			term->state = HS_IDLE;
		}
		if (lc->hooks[HOOK_LAUNCH].state != HS_OFF) {
			log_notice("lifecycle: leaving the warm pool: launch "
			           "hook %s is held again",
			    lc->hooks[HOOK_LAUNCH].name);
			launch_hold(lc, now);
		}
		break;
	}
	case LC_TEV_NONE:
		break;
	}
	launch_eval(lc, now);
}

static void
on_spot(struct lifecycle *lc, int status, const char *body, size_t len,
    mono_ms now)
{
	struct watch *w = &lc->w[W_SPOT];
	struct lifecycle_spot s;
	char err[300], why[200];
	int64_t wall = util_wall_ms();

	if (status == 404) {
		watch_ok(w);
		if (!lc->spot_present)
			return;
		log_notice("lifecycle: the Spot %s notice was withdrawn",
		    lifecycle_spot_action_names[lc->spot.action]);
		lc->spot_present = false;
		lc->spot_acted = false;
		if (lc->spot.action != LC_SPOT_TERMINATE) {
			lc->deadline = 0;
			drain_lift(lc, CAUSE_SPOT,
			    "the Spot notice was withdrawn");
		}
		return;
	}
	if (lifecycle_parse_spot(body, len, &s, err, sizeof(err)) < 0) {
		watch_error(w, now, "%s; ignored", err);
		return;
	}
	watch_ok(w);
	if (lc->spot_present && lc->spot.action == s.action &&
	    lc->spot.time_ms == s.time_ms)
		return;
	log_warn("lifecycle: Spot %s notice for %lld (in %.0f s)",
	    lifecycle_spot_action_names[s.action],
	    (long long)(s.time_ms / 1000), (double)(s.time_ms - wall) / 1000.0);
	lc->spot_present = true;
	lc->spot = s;
	if (lc->deadline == 0 ||
	    lifecycle_spot_deadline(s.time_ms) < lc->deadline)
		lc->deadline = lifecycle_spot_deadline(s.time_ms);
	if (lc->spot_acted) {
		apply_deadline(lc, now);
		return;
	}
	lc->spot_acted = true;
	snprintf(why, sizeof(why), "Spot instance-action %s in %.0f s",
	    lifecycle_spot_action_names[s.action],
	    (double)(s.time_ms - wall) / 1000.0);
	drain_start(lc, CAUSE_SPOT, s.action == LC_SPOT_TERMINATE, why);
}

static void
on_rebalance(struct lifecycle *lc, int status, const char *body, size_t len,
    mono_ms now)
{
	struct watch *w = &lc->w[W_REBALANCE];
	char err[300];
	int64_t t;

	if (status == 404) {
		watch_ok(w);
		if (lc->rebalance_present)
			log_notice("lifecycle: the rebalance recommendation "
			           "was withdrawn");
		lc->rebalance_present = false;
		lc->rebalance_acted = false;
		return;
	}
	if (lifecycle_parse_rebalance(body, len, &t, err, sizeof(err)) < 0) {
		watch_error(w, now, "%s; ignored", err);
		return;
	}
	watch_ok(w);
	if (!lc->rebalance_present || lc->rebalance_ms != t)
		log_warn("lifecycle: EC2 rebalance recommendation (noticeTime "
		         "%lld)%s",
		    (long long)(t / 1000),
		    lc->rebalance_drain
		        ? ""
		        : "; only reported (lifecycle.rebalance = report)");
	lc->rebalance_present = true;
	lc->rebalance_ms = t;
	if (!lc->rebalance_drain || lc->rebalance_acted)
		return;
	lc->rebalance_acted = true;
	drain_start(lc, CAUSE_REBALANCE, false, "EC2 rebalance recommendation");
}

static void
watch_cb(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct watch *w = arg;
	struct lifecycle *lc = w->lc;
	mono_ms now = util_now_ms();

	w->req = NULL;
	w->polls++;
	if (status != 200 && status != 404) {
		watch_error(w, now, "%s; keeping the last answer",
		    error != NULL ? error : "error");
		return;
	}
	switch (w->kind) {
	case W_TARGET:
		if (status == 404) {
			watch_ok(w);
			lc->target_answered = true;
			return;
		}
		on_target(lc, body, len, now);
		break;
	case W_SPOT:
		on_spot(lc, status, body, len, now);
		break;
	case W_REBALANCE:
		on_rebalance(lc, status, body, len, now);
		break;
	case W_MAX:
		break;
	}
}

static bool
watching(const struct lifecycle *lc)
{
	return lc->imds != NULL && imds_enabled(lc->imds);
}

static void
watch_timer_cb(void *arg)
{
	struct lifecycle *lc = arg;

	if (!watching(lc))
		return;
	for (int i = 0; i < W_MAX; i++) {
		struct watch *w = &lc->w[i];

		if (w->req != NULL || (i == W_SPOT && !lc->watch_spot))
			continue;
		w->req = imds_get(lc->imds, watch_paths[i], watch_cb, w);
	}
	ev_timer_arm(lc->watch_t, lc->watch_interval);
}

static void
watch_stop(struct lifecycle *lc)
{
	for (int i = 0; i < W_MAX; i++) {
		imds_cancel(lc->w[i].req);
		lc->w[i].req = NULL;
	}
	ev_timer_disarm(lc->watch_t);
}

/*
 * The object.
 */

static void
load_conf(struct lifecycle *lc, const struct conf *c)
{
	free_argv(lc->drain_argv);
	lc->drain_argv = NULL;
	if (c->lc_drain_argc > 0) {
		lc->drain_argv =
		    xcalloc(c->lc_drain_argc + 1, sizeof(*lc->drain_argv));
		for (size_t i = 0; i < c->lc_drain_argc; i++)
			lc->drain_argv[i] = xstrdup(c->lc_drain_argv[i]);
	}
	lc->launch_timeout = util_sec_to_ms(c->lc_launch_timeout);
	/* conf.c enforces saner minimums; these only keep timers sane. */
	lc->heartbeat = util_sec_to_ms(c->lc_heartbeat_interval);
	if (lc->heartbeat < 100)
		lc->heartbeat = 100;
	lc->watch_interval = util_sec_to_ms(c->lc_watch_interval);
	if (lc->watch_interval < 100)
		lc->watch_interval = 100;
	lc->drain_timeout = util_sec_to_ms(c->lc_drain_timeout);
	lc->drain_seconds = util_sec_to_ms(c->drain_seconds);
	lc->rebalance_drain = c->lc_rebalance_drain;
	lc->watch_spot = c->lc_watch_spot;
	free(lc->conf_instance_id);
	free(lc->conf_group);
	lc->conf_instance_id = xstrdup(nz(c->aws_instance_id));
	lc->conf_group = xstrdup(nz(c->aws_autoscaling_group));
	for (size_t i = 0; i < lc->n_rise; i++)
		free((char *)lc->rise[i].name);
	free(lc->rise);
	lc->n_rise = c->n_checks;
	lc->rise =
	    lc->n_rise > 0 ? xcalloc(lc->n_rise, sizeof(*lc->rise)) : NULL;
	for (size_t i = 0; i < lc->n_rise; i++) {
		lc->rise[i].name = xstrdup(c->checks[i].name);
		lc->rise[i].rise = c->checks[i].rise;
	}
}

/* Apply a configured hook name; returns whether it was switched on. */
static bool
set_hook_name(struct hook *k, const char *name)
{
	bool was_on = k->name != NULL && k->name[0] != '\0';
	bool on = name != NULL && name[0] != '\0';

	free(k->name);
	k->name = xstrdup(nz(name));
	if (!was_on && on)
		k->state = HS_IDLE;
	if (was_on && !on) {
		hook_stop(k);
		k->state = HS_OFF;
		if (k->kind == HOOK_TERMINATE && k->lc->finish_pending) {
			k->lc->finish_pending = false;
			drain_finished(k->lc);
		}
	}
	return !was_on && on;
}

static void
hook_init(struct lifecycle *lc, struct hook *k, enum hook_kind kind)
{
	k->lc = lc;
	k->kind = kind;
	k->state = HS_OFF;
	k->name = xstrdup("");
	k->hb_t = ev_timer_new(lc->ev, heartbeat_timer_cb, k);
	k->retry_t = ev_timer_new(lc->ev, retry_cb, k);
}

struct lifecycle *
lifecycle_new(struct ev *ev, struct aws *aws, struct imds *imds,
    const struct conf *c, const struct lifecycle_hooks *cb)
{
	struct lifecycle *lc = xcalloc(1, sizeof(*lc));

	lc->ev = ev;
	lc->started = util_now_ms();
	if (cb != NULL)
		lc->cb = *cb;
	for (int i = 0; i < HOOK_KIND_MAX; i++)
		hook_init(lc, &lc->hooks[i], (enum hook_kind)i);
	for (int i = 0; i < W_MAX; i++) {
		lc->w[i].lc = lc;
		lc->w[i].kind = (enum watch_kind)i;
	}
	lc->launch_t = ev_timer_new(ev, launch_timer_cb, lc);
	lc->watch_t = ev_timer_new(ev, watch_timer_cb, lc);
	lc->step_t = ev_timer_new(ev, step_cb, lc);
	lc->target = LC_TARGET_UNKNOWN;
	load_conf(lc, c);
	if (set_hook_name(&lc->hooks[HOOK_LAUNCH], c->lc_launch_hook)) {
		launch_hold(lc, lc->started);
		log_info("lifecycle: launch hook %s: holding the launch until "
		         "ready (launch_timeout %g s)",
		    c->lc_launch_hook, secs(lc->launch_timeout));
	}
	(void)set_hook_name(&lc->hooks[HOOK_TERMINATE], c->lc_terminate_hook);
	lifecycle_set_clients(lc, aws, imds);
	return lc;
}

void
lifecycle_free(struct lifecycle *lc)
{
	if (lc == NULL)
		return;
	if (lc->cmd != NULL) {
		log_warn("lifecycle: killing drain_command (pid %ld)",
		    (long)child_pid(lc->cmd));
		child_cancel(lc->cmd);
	}
	watch_stop(lc);
	for (int i = 0; i < HOOK_KIND_MAX; i++) {
		hook_stop(&lc->hooks[i]);
		ev_timer_free(lc->hooks[i].hb_t);
		ev_timer_free(lc->hooks[i].retry_t);
		free(lc->hooks[i].name);
	}
	ev_timer_free(lc->launch_t);
	ev_timer_free(lc->watch_t);
	ev_timer_free(lc->step_t);
	free_argv(lc->drain_argv);
	free(lc->conf_instance_id);
	free(lc->conf_group);
	for (size_t i = 0; i < lc->n_rise; i++)
		free((char *)lc->rise[i].name);
	free(lc->rise);
	free(lc->instance_id);
	free(lc->group);
	free(lc);
}

void
lifecycle_reconfigure(struct lifecycle *lc, const struct conf *c)
{
	struct hook *launch = &lc->hooks[HOOK_LAUNCH];
	struct hook *term = &lc->hooks[HOOK_TERMINATE];
	mono_ms now = util_now_ms();
	mono_ms old_watch = lc->watch_interval, old_hb = lc->heartbeat;

	load_conf(lc, c);
	if (set_hook_name(launch, c->lc_launch_hook)) {
		/* Measured from the start, as if configured then. */
		launch_hold(lc, lc->started);
	} else if (launch->state == HS_HELD) {
		lc->launch_deadline = launch->held_since + lc->launch_timeout;
		ev_timer_arm_at(lc->launch_t, lc->launch_deadline);
	}
	if (set_hook_name(term, c->lc_terminate_hook) &&
	    lc->target == LC_TARGET_TERMINATED)
		term_pending(lc, now);
	for (int i = 0; i < HOOK_KIND_MAX; i++)
		if (old_hb != lc->heartbeat &&
		    ev_timer_armed(lc->hooks[i].hb_t))
			ev_timer_arm(lc->hooks[i].hb_t, lc->heartbeat);
	if (old_watch != lc->watch_interval && ev_timer_armed(lc->watch_t))
		ev_timer_arm(lc->watch_t, lc->watch_interval);
	apply_deadline(lc, now);
	launch_eval(lc, now);
	term_eval(lc, now);
}

void
lifecycle_set_clients(struct lifecycle *lc, struct aws *aws, struct imds *imds)
{
	mono_ms now = util_now_ms();

	watch_stop(lc);
	lc->aws = aws;
	lc->imds = imds;
	for (int i = 0; i < HOOK_KIND_MAX; i++) {
		struct hook *k = &lc->hooks[i];

		aws_cancel(k->hb_call);
		k->hb_call = NULL;
		aws_cancel(k->call);
		k->call = NULL;
		if (k->state != HS_COMPLETING && k->state != HS_RETRY)
			continue;
		/* Made again on the new client, in the same round. */
		if (aws != NULL) {
			hook_send(k, now);
		} else {
			k->state = HS_RETRY;
			ev_timer_arm(k->retry_t, HOOK_BACKOFF_MIN);
		}
	}
	if (watching(lc))
		ev_timer_arm(lc->watch_t, 0);
}

void
lifecycle_set_identity(struct lifecycle *lc, const char *iid, const char *grp)
{
	mono_ms now = util_now_ms();

	free(lc->instance_id);
	lc->instance_id = iid != NULL ? xstrdup(iid) : NULL;
	free(lc->group);
	lc->group = grp != NULL ? xstrdup(grp) : NULL;
	launch_eval(lc, now);
	term_eval(lc, now);
}

void
lifecycle_observe(struct lifecycle *lc, const struct health *h, mono_ms now)
{
	lc->observed = true;
	lc->ready = lifecycle_launch_ready(h, lc->rise, lc->n_rise,
	    lc->not_ready, sizeof(lc->not_ready));
	launch_eval(lc, now);
}

int
lifecycle_drain(struct lifecycle *lc, const char *why)
{
	return drain_start(lc, CAUSE_MANUAL, false, why);
}

int
lifecycle_undrain(struct lifecycle *lc, char *err, size_t errlen)
{
	if (lc->final) {
		snprintf(err, errlen,
		    "the instance is going away (%s); not undraining", lc->why);
		return -1;
	}
	if (lc->phase != DP_IDLE)
		log_notice("lifecycle: undrain requested; the drain (%s) ends",
		    lc->why);
	drain_cancel(lc);
	if (lc->cb.set_draining != NULL)
		lc->cb.set_draining(false, "operator request", lc->cb.arg);
	return 0;
}

bool
lifecycle_draining(const struct lifecycle *lc)
{
	return lc->phase != DP_IDLE;
}

/*
 * Status.
 */

static json_object *
hook_status(const struct lifecycle *lc, const struct hook *k, mono_ms now)
{
	json_object *o = json_object_new_object();

	jsonw_str(o, "name", k->name[0] != '\0' ? k->name : NULL);
	jsonw_str(o, "state", hook_state_names[k->state]);
	if (k->state == HS_HELD || k->state == HS_COMPLETING ||
	    k->state == HS_RETRY)
		jsonw_int(o, "held_ms", (int64_t)since(now, k->held_since));
	jsonw_str(o, "result", k->outcome[0] != '\0' ? k->outcome : NULL);
	if (k->outcome_at != 0)
		jsonw_int(o, "result_age_ms",
		    (int64_t)since(now, k->outcome_at));
	jsonw_int(o, "heartbeats", (int64_t)k->heartbeats);
	jsonw_int(o, "heartbeat_failures", (int64_t)k->heartbeat_failures);
	jsonw_str(o, "last_heartbeat",
	    k->last_heartbeat[0] != '\0' ? k->last_heartbeat : NULL);
	if (k->kind == HOOK_LAUNCH && k->state == HS_HELD) {
		jsonw_bool(o, "ready", lc->ready);
		jsonw_str(o, "waiting_for",
		    !lc->observed             ? "the first verdict"
		        : !lc->ready          ? lc->not_ready
		        : !identity_known(lc) ? "the instance id and group"
		                              : NULL);
		jsonw_int(o, "abandon_in_ms",
		    lc->launch_deadline > now
		        ? (int64_t)(lc->launch_deadline - now)
		        : 0);
	}
	return o;
}

static json_object *
watch_status(const struct lifecycle *lc, mono_ms now)
{
	json_object *o = json_object_new_object(), *x;
	int64_t wall = util_wall_ms();

	jsonw_bool(o, "enabled", watching(lc));
	jsonw_int(o, "interval_ms", (int64_t)lc->watch_interval);
	jsonw_str(o, "target_lifecycle_state",
	    lc->target_raw[0] != '\0' ? lc->target_raw : NULL);
	if (lc->spot_present) {
		x = json_object_new_object();
		jsonw_str(x, "action",
		    lifecycle_spot_action_names[lc->spot.action]);
		jsonw_int(x, "time", lc->spot.time_ms / 1000);
		jsonw_int(x, "in_ms", lc->spot.time_ms - wall);
		json_object_object_add(o, "spot", x);
	} else {
		json_object_object_add(o, "spot", NULL);
	}
	if (lc->rebalance_present) {
		x = json_object_new_object();
		jsonw_int(x, "notice_time", lc->rebalance_ms / 1000);
		jsonw_str(x, "action",
		    lc->rebalance_drain ? "drain" : "report");
		json_object_object_add(o, "rebalance", x);
	} else {
		json_object_object_add(o, "rebalance", NULL);
	}
	x = json_object_new_object();
	for (int i = 0; i < W_MAX; i++) {
		json_object *p = json_object_new_object();

		jsonw_int(p, "polls", (int64_t)lc->w[i].polls);
		jsonw_int(p, "errors", (int64_t)lc->w[i].errors);
		jsonw_str(p, "last_error",
		    lc->w[i].error[0] != '\0' ? lc->w[i].error : NULL);
		if (lc->w[i].error[0] != '\0')
			jsonw_int(p, "last_error_age_ms",
			    (int64_t)since(now, lc->w[i].error_at));
		json_object_object_add(x, watch_paths[i], p);
	}
	json_object_object_add(o, "paths", x);
	return o;
}

static json_object *
drain_status(const struct lifecycle *lc, mono_ms now)
{
	json_object *o = json_object_new_object(), *c;

	jsonw_str(o, "state", drain_phase_names[lc->phase]);
	jsonw_int(o, "drains", (int64_t)lc->drains);
	jsonw_bool(o, "command", lc->drain_argv != NULL);
	if (lc->phase == DP_IDLE)
		return o;
	jsonw_str(o, "why", lc->why);
	c = json_object_new_array();
	for (int i = 0; i < CAUSE_MAX; i++)
		if (lc->causes & (1u << i))
			json_object_array_add(c,
			    json_object_new_string(cause_names[i]));
	json_object_object_add(o, "causes", c);
	jsonw_bool(o, "final", lc->final);
	jsonw_int(o, "for_ms", (int64_t)since(now, lc->drain_started));
	if (lc->phase == DP_COMMAND || lc->phase == DP_WAIT)
		jsonw_int(o, "step_ends_in_ms",
		    lc->step_until > now ? (int64_t)(lc->step_until - now) : 0);
	if (lc->phase == DP_DONE)
		jsonw_int(o, "took_ms",
		    (int64_t)since(lc->drain_ended, lc->drain_started));
	if (lc->deadline != 0)
		jsonw_int(o, "deadline_in_ms", lc->deadline - util_wall_ms());
	jsonw_str(o, "command_result",
	    lc->cmd_result[0] != '\0' ? lc->cmd_result : NULL);
	return o;
}

void
lifecycle_status(const struct lifecycle *lc, json_object *into)
{
	json_object *o = json_object_new_object();
	mono_ms now = util_now_ms();

	jsonw_str(o, "instance_id", instance_id(lc));
	jsonw_str(o, "group", group(lc));
	json_object_object_add(o, "launch",
	    hook_status(lc, &lc->hooks[HOOK_LAUNCH], now));
	json_object_object_add(o, "terminate",
	    hook_status(lc, &lc->hooks[HOOK_TERMINATE], now));
	json_object_object_add(o, "watch", watch_status(lc, now));
	json_object_object_add(o, "drain", drain_status(lc, now));
	json_object_object_add(into, "lifecycle", o);
}
