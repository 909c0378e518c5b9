/* SPDX-License-Identifier: ISC */
/*
 * Self-healing through Auto Scaling: the unhealthy-episode state machine
 * (pure, in asg_step), the restart command, the fleet-safety check before
 * SetInstanceHealth, and the once-per-boot eviction record. Everything
 * waits on the event loop; a refusal or a failed call is re-evaluated on a
 * timer, never by blocking. It decides nothing about health itself: the
 * verdict comes from the health state machine.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "asg.h"
#include "awsxml.h"
#include "child.h"
#include "jsonw.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define RESTART_OUT_MAX 1024
/* conf.c caps restart_attempts at 100. */
#define RESTART_HISTORY 100
#define LOOKUP_BACKOFF_MIN 2000
#define LOOKUP_BACKOFF_MAX 300000
/* The group's members, for the CloudWatch flush slot: first read after a
 * random 1-60 s (a fleet-wide restart does not read all at once), then
 * every max(MEMBERS_REFRESH, MEMBERS_PER_INSTANCE x instances) +-25 %, so
 * a whole group makes at most one read every 3 s; failures back off from
 * MEMBERS_RETRY_MIN up to that period. */
#define MEMBERS_FIRST_MIN 1000
#define MEMBERS_FIRST_MAX 60000
#define MEMBERS_REFRESH 600000
#define MEMBERS_PER_INSTANCE 3000
#define MEMBERS_RETRY_MIN 30000
#define RECORD_FILE "eviction"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

const char *const asg_phase_names[ASG_PHASE_MAX] = {
    [ASG_PHASE_IDLE] = "none",
    [ASG_PHASE_CONFIRM] = "confirming",
    [ASG_PHASE_RESTART] = "restarting",
    [ASG_PHASE_EVICT] = "evicting",
    [ASG_PHASE_WAIT] = "waiting",
    [ASG_PHASE_DONE] = "done",
};
_Static_assert(sizeof(asg_phase_names) / sizeof(asg_phase_names[0]) ==
        ASG_PHASE_MAX,
    "asg_phase_names");

/* Where the group name comes from. */
enum id_state {
	ID_NONE,     /* no instance id yet */
	ID_LOOKUP,   /* DescribeAutoScalingInstances in flight or to retry */
	ID_GROUP,    /* known */
	ID_NO_GROUP, /* the instance is in no group */
	ID_STATE_MAX
};

static const char *const id_state_names[ID_STATE_MAX] = {
    [ID_NONE] = "waiting for the instance id",
    [ID_LOOKUP] = "looking up",
    [ID_GROUP] = "known",
    [ID_NO_GROUP] = "not in a group",
};
_Static_assert(sizeof(id_state_names) / sizeof(id_state_names[0]) ==
        ID_STATE_MAX,
    "id_state_names");

struct asg {
	struct ev *ev;
	struct aws *aws;
	struct cloudwatch *cw;
	void (*event_cb)(enum asg_event ev, const char *why, void *arg);
	void *event_arg;
	bool refusal_told; /* the episode's first refusal was announced */

	/* Copied from the config. */
	bool enabled;
	bool dry_run;
	bool respect_grace;
	mono_ms confirm, recheck, restart_window, restart_timeout;
	double max_unhealthy_pct;
	int min_healthy;
	int restart_attempts;
	char **restart_argv; /* NULL when there is no restart_command */
	char *state_dir;
	char *conf_group; /* "" = look it up */

	/* Identity. */
	char *instance_id;
	char *group;
	enum id_state id;
	struct aws_call *lookup;
	struct ev_timer *lookup_t;
	mono_ms lookup_backoff;
	char lookup_error[256];
	void (*id_cb)(const char *group, void *arg);
	void *id_arg;

	/* The group's members, for the CloudWatch flush slot. */
	struct aws_call *members;
	struct ev_timer *members_t;
	int slot_rank, slot_n; /* -1, 0 while unknown */
	mono_ms members_at;    /* last good read, 0 = none */
	int members_n;         /* instances listed then */
	mono_ms members_backoff;
	char members_error[256];
	bool members_fast; /* HEALTHAGENT_TEST_FAST: 100-500 ms first read */

	/* Once per boot. */
	char boot_id[64];
	bool evicted_this_boot;
	struct asg_record record;
	/* The record could not be written (full disk, read-only state_dir):
	 * tried again every RECORD_RETRY_MS until it is. */
	bool record_unsaved;
	char record_err[300];
	mono_ms record_retry_at;
	unsigned long record_failures;

	/* The episode. */
	struct asg_episode ep;
	bool unhealthy;
	char why[HEALTH_DETAIL_MAX + 64]; /* health_why() when last seen */
	struct ev_timer *wake_t;
	mono_ms restart_at[RESTART_HISTORY]; /* ring of restart starts */
	size_t restart_next;
	struct child *restart; /* iff ep.phase == ASG_PHASE_RESTART */
	struct aws_call *call; /* iff ep.phase == ASG_PHASE_EVICT, mostly */
	unsigned long restarts_total, refusals_total;

	/* For status. */
	char last_what[40];
	char last_result[400];
	mono_ms last_at;
	char last_refusal[400];
	mono_ms refusal_at;
	char last_restart[400];
	mono_ms restart_done_at;
};

static void run(struct asg *a, mono_ms now);
static void members_seen(struct asg *a, const struct asg_fleet *f, mono_ms now);

#define RECORD_RETRY_MS 5000

/* Write the eviction record; on failure say so (once per episode of
 * failures) and arrange a retry from asg_observe(). */
static void
save_record(struct asg *a, mono_ms now)
{
	char err[300];

	if (asg_record_save(a->state_dir, &a->record, err, sizeof(err)) < 0) {
		if (!a->record_unsaved)
			log_err("autoscaling: cannot write the eviction record "
			        "(an agent restart this boot could call "
			        "again); "
			        "retrying every %d s: %s",
			    RECORD_RETRY_MS / 1000, err);
		a->record_unsaved = true;
		a->record_failures++;
		util_strlcpy(a->record_err, err, sizeof(a->record_err));
		a->record_retry_at = now + RECORD_RETRY_MS;
		return;
	}
	if (a->record_unsaved)
		log_notice("autoscaling: the eviction record is written at "
		           "last (%s), after %lu failed attempts",
		    a->state_dir, a->record_failures);
	a->record_unsaved = false;
	a->record_err[0] = '\0';
}

/*
 * Pure parts.
 */

static double
share_pct(int part, int whole)
{
	return whole > 0 ? (double)part * 100.0 / (double)whole : 0.0;
}

bool
asg_may_evict(const struct asg_fleet *f, double max_unhealthy_percent,
    int min_healthy_instances, char *why, size_t whylen)
{
	double share = share_pct(f->impaired, f->instances);
	int healthy = f->in_service_healthy + 1; /* as the group sees it */

	if (!f->self_found) {
		snprintf(why, whylen,
		    "this instance is not listed in the group");
		return false;
	}
	if (!f->self_in_service) {
		snprintf(why, whylen, "this instance is %s, not InService",
		    f->self_state[0] != '\0' ? f->self_state : "in no state");
		return false;
	}
	if (f->instances <= 0 || share >= max_unhealthy_percent) {
		snprintf(why, whylen,
		    "%d of %d instances (%.4g%%) are already Unhealthy or not "
		    "InService, at or above max_unhealthy_percent (%g)",
		    f->impaired, f->instances, share, max_unhealthy_percent);
		return false;
	}
	if (healthy <= min_healthy_instances) {
		snprintf(why, whylen,
		    "the group has %d InService and Healthy instance%s "
		    "counting "
		    "this one, at or below min_healthy_instances (%d)",
		    healthy, healthy == 1 ? "" : "s", min_healthy_instances);
		return false;
	}
	snprintf(why, whylen,
	    "%d of %d instances (%.4g%%) Unhealthy or not InService; %d "
	    "healthy would remain",
	    f->impaired, f->instances, share, f->in_service_healthy);
	return true;
}

static int
count_cb(struct awsxml_span inner, void *arg)
{
	(void)inner;
	(void)arg;
	return 0;
}

struct fleet_ctx {
	const char *group;
	const char *instance_id;
	struct asg_fleet *f;
	bool found;
	bool bad;
};

static int
instance_cb(struct awsxml_span in, void *arg)
{
	struct fleet_ctx *x = arg;
	struct asg_fleet *f = x->f;
	char id[64], health[32], state[40];
	bool unhealthy, healthy, in_service;

	if (!awsxml_text(in.p, in.len, "InstanceId", id, sizeof(id))) {
		x->bad = true;
		return 1;
	}
	if (!awsxml_text(in.p, in.len, "HealthStatus", health, sizeof(health)))
		health[0] = '\0';
	if (!awsxml_text(in.p, in.len, "LifecycleState", state, sizeof(state)))
		state[0] = '\0';
	unhealthy = strcasecmp(health, "Unhealthy") == 0;
	healthy = strcasecmp(health, "Healthy") == 0;
	in_service = strcasecmp(state, "InService") == 0;
	f->instances++;
	if (strcmp(id, x->instance_id) < 0)
		f->self_rank++;
	if (strcmp(id, x->instance_id) == 0) {
		f->self_found = true;
		f->self_in_service = in_service;
		f->self_unhealthy = unhealthy;
		util_strlcpy(f->self_state, state, sizeof(f->self_state));
		return 0;
	}
	if (unhealthy)
		f->unhealthy++;
	if (!in_service)
		f->not_in_service++;
	if (unhealthy || !in_service)
		f->impaired++;
	else if (healthy)
		f->in_service_healthy++;
	return 0;
}

static int
group_cb(struct awsxml_span in, void *arg)
{
	struct fleet_ctx *x = arg;
	char name[256];

	if (!awsxml_text(in.p, in.len, "AutoScalingGroupName", name,
	        sizeof(name)) ||
	    strcmp(name, x->group) != 0)
		return 0;
	x->found = true;
	if (awsxml_each(in.p, in.len, "Instances/member", instance_cb, x) < 0)
		x->bad = true;
	return 1;
}

int
asg_parse_fleet(const char *xml, size_t len, const char *group,
    const char *instance_id, struct asg_fleet *f, char *err, size_t errlen)
{
	struct fleet_ctx x = {.group = group,
	    .instance_id = instance_id,
	    .f = f};

	memset(f, 0, sizeof(*f));
	if (awsxml_each(xml, len, "DescribeAutoScalingGroupsResult", count_cb,
	        NULL) != 1) {
		snprintf(err, errlen, "not a DescribeAutoScalingGroups reply");
		return -1;
	}
	if (awsxml_each(xml, len, "AutoScalingGroups/member", group_cb, &x) <
	        0 ||
	    x.bad) {
		memset(f, 0, sizeof(*f));
		snprintf(err, errlen,
		    "malformed DescribeAutoScalingGroups reply");
		return -1;
	}
	if (!x.found) {
		snprintf(err, errlen, "group %.200s not found", group);
		return -1;
	}
	return 0;
}

struct group_ctx {
	char *group;
	size_t len;
	bool found;
};

static int
ainstance_cb(struct awsxml_span in, void *arg)
{
	struct group_ctx *x = arg;

	x->found = awsxml_text(in.p, in.len, "AutoScalingGroupName", x->group,
	               x->len) &&
	    x->group[0] != '\0';
	return x->found ? 1 : 0;
}

int
asg_parse_group(const char *xml, size_t len, char *group, size_t grouplen)
{
	struct group_ctx x = {.group = group, .len = grouplen};

	if (grouplen > 0)
		group[0] = '\0';
	/* An empty or foreign body must not read as "in no group". */
	if (awsxml_each(xml, len, "DescribeAutoScalingInstancesResult",
	        count_cb, NULL) != 1)
		return -1;
	if (awsxml_each(xml, len, "AutoScalingInstances/member", ainstance_cb,
	        &x) < 0)
		return -1;
	return x.found ? 1 : 0;
}

enum asg_action
asg_step(struct asg_episode *e, const struct asg_rules *r, bool unhealthy,
    int recent_restarts, mono_ms now, mono_ms *wake)
{
	*wake = 0;
	switch (e->phase) {
	case ASG_PHASE_IDLE:
		if (!unhealthy)
			return ASG_ACT_NONE;
		e->phase = ASG_PHASE_CONFIRM;
		e->started = e->confirm_from = now;
		e->retry_at = 0;
		e->restarts = 0;
		/* FALLTHROUGH */
	case ASG_PHASE_CONFIRM:
		if (!unhealthy)
			break;
		if (now < e->confirm_from + r->confirm) {
			*wake = e->confirm_from + r->confirm;
			return ASG_ACT_NONE;
		}
		if (r->restart_attempts > 0 &&
		    recent_restarts < r->restart_attempts) {
			e->phase = ASG_PHASE_RESTART;
			e->restarts++;
			return ASG_ACT_RESTART;
		}
		e->phase = ASG_PHASE_EVICT;
		return ASG_ACT_EVICT;
	case ASG_PHASE_RESTART:
	case ASG_PHASE_EVICT:
		/* In flight: the outcome moves on. */
		return ASG_ACT_NONE;
	case ASG_PHASE_WAIT:
		if (!unhealthy)
			break;
		if (now < e->retry_at) {
			*wake = e->retry_at;
			return ASG_ACT_NONE;
		}
		e->phase = ASG_PHASE_EVICT;
		return ASG_ACT_EVICT;
	case ASG_PHASE_DONE:
	case ASG_PHASE_MAX:
		if (!unhealthy)
			break;
		return ASG_ACT_NONE;
	}
	e->phase = ASG_PHASE_IDLE;
	return ASG_ACT_NONE;
}

void
asg_episode_outcome(struct asg_episode *e, const struct asg_rules *r,
    enum asg_outcome o, mono_ms now)
{
	switch (o) {
	case ASG_OUT_RESTARTED:
		if (e->phase == ASG_PHASE_RESTART) {
			e->phase = ASG_PHASE_CONFIRM;
			e->confirm_from = now;
		}
		break;
	case ASG_OUT_RETRY:
		if (e->phase == ASG_PHASE_EVICT) {
			e->phase = ASG_PHASE_WAIT;
			e->retry_at = now + r->recheck;
		}
		break;
	case ASG_OUT_DONE:
		if (e->phase != ASG_PHASE_IDLE)
			e->phase = ASG_PHASE_DONE;
		break;
	}
}

/*
 * The eviction record.
 */

static int
read_small(const char *path, char *buf, size_t size, char *err, size_t errlen)
{
	ssize_t n;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%.200s: %s", path, strerror(errno));
		return errno == ENOENT ? 0 : -1;
	}
	while (got + 1 < size) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%.200s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return 1;
}

int
asg_boot_id(char *out, size_t len)
{
	char buf[128], err[256];

	if (read_small(BOOT_ID_PATH, buf, sizeof(buf), err, sizeof(err)) != 1)
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0')
		return -1;
	util_strlcpy(out, buf, len);
	return 0;
}

int
asg_record_load(const char *state_dir, struct asg_record *r, char *err,
    size_t errlen)
{
	char *path = xasprintf("%s/%s", state_dir, RECORD_FILE);
	char buf[4096], *line, *save = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = read_small(path, buf, sizeof(buf), err, errlen);
	free(path);
	if (rc != 1)
		return rc;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (line[0] == '#' || eq == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "boot_id") == 0)
			util_strlcpy(r->boot_id, eq, sizeof(r->boot_id));
		else if (strcmp(line, "instance_id") == 0)
			util_strlcpy(r->instance_id, eq,
			    sizeof(r->instance_id));
		else if (strcmp(line, "group") == 0)
			util_strlcpy(r->group, eq, sizeof(r->group));
		else if (strcmp(line, "time") == 0)
			r->time = strtoll(eq, NULL, 10);
	}
	if (r->boot_id[0] == '\0') {
		snprintf(err, errlen, "%.200s/%s: no boot_id", state_dir,
		    RECORD_FILE);
		return -1;
	}
	return 1;
}

/* mkdir -p, with mode 0750 for what it creates. */
static int
ensure_dir(const char *dir, char *err, size_t errlen)
{
	char *p = xstrdup(dir), *s;
	int rc = 0;

	for (s = p + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0750) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %.200s: %s", p,
			    strerror(errno));
			rc = -1;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

static void
one_line(char *dst, const char *src, size_t size)
{
	size_t i;

	util_strlcpy(dst, src, size);
	for (i = 0; dst[i] != '\0'; i++)
		if (dst[i] == '\n' || dst[i] == '\r')
			dst[i] = '?';
}

static int
write_all(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
asg_record_save(const char *state_dir, const struct asg_record *r, char *err,
    size_t errlen)
{
	char boot[sizeof(r->boot_id)], iid[sizeof(r->instance_id)];
	char group[sizeof(r->group)];
	char *tmp = NULL, *path = NULL, *text = NULL;
	int fd = -1, dfd, rc = -1;

	if (ensure_dir(state_dir, err, errlen) < 0)
		return -1;
	one_line(boot, r->boot_id, sizeof(boot));
	one_line(iid, r->instance_id, sizeof(iid));
	one_line(group, r->group, sizeof(group));
	text = xasprintf("# healthagent: SetInstanceHealth Unhealthy was "
	                 "accepted for this instance.\n"
	                 "# It is not called again while the boot id is the "
	                 "same.\n"
	                 "boot_id=%s\ninstance_id=%s\ngroup=%s\ntime=%lld\n",
	    boot, iid, group, (long long)r->time);
	tmp = xasprintf("%s/.%s.XXXXXX", state_dir, RECORD_FILE);
	path = xasprintf("%s/%s", state_dir, RECORD_FILE);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%.200s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0640) < 0 || write_all(fd, text, strlen(text)) < 0 ||
	    fsync(fd) < 0) {
		snprintf(err, errlen, "%.200s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "%.200s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename to %.200s: %s", path,
		    strerror(errno));
		goto fail;
	}
	/* Make the rename itself durable. */
	dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
fail:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(path);
	free(text);
	return rc;
}

/*
 * The object.
 */

static void
load_record(struct asg *a)
{
	char err[300];
	int rc;

	a->evicted_this_boot = false;
	rc = asg_record_load(a->state_dir, &a->record, err, sizeof(err));
	if (rc < 0) {
		log_warn("autoscaling: cannot read the eviction record: %s",
		    err);
		return;
	}
	if (rc == 0)
		return;
	/* Without a boot id, a record is taken to be of this boot: better
	 * never to evict again than to evict twice. */
	if (a->boot_id[0] != '\0' &&
	    strcmp(a->record.boot_id, a->boot_id) != 0) {
		log_debug("autoscaling: the eviction record is from an earlier "
		          "boot");
		return;
	}
	a->evicted_this_boot = true;
	log_notice("autoscaling: %s/%s says this instance (%s) already "
	           "evicted itself this boot; SetInstanceHealth will not be "
	           "called again until a reboot",
	    a->state_dir, RECORD_FILE, a->record.instance_id);
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

static void
load_conf(struct asg *a, const struct conf *c)
{
	const char *old_dir = a->state_dir;
	bool reload_record;

	a->enabled = c->asg_set_instance_health;
	a->dry_run = c->asg_dry_run;
	a->respect_grace = c->asg_respect_grace_period;
	a->confirm = util_sec_to_ms(c->asg_confirm_seconds);
	a->recheck = util_sec_to_ms(c->asg_recheck_interval);
	a->restart_window = util_sec_to_ms(c->asg_restart_window);
	a->restart_timeout = util_sec_to_ms(c->asg_restart_timeout);
	a->max_unhealthy_pct = c->asg_max_unhealthy_percent;
	a->min_healthy = c->asg_min_healthy_instances;
	a->restart_attempts = c->asg_restart_attempts;
	if (a->restart_attempts > RESTART_HISTORY)
		a->restart_attempts = RESTART_HISTORY;
	free_argv(a->restart_argv);
	a->restart_argv = NULL;
	if (c->asg_restart_argc > 0) {
		a->restart_argv =
		    xcalloc(c->asg_restart_argc + 1, sizeof(*a->restart_argv));
		for (size_t i = 0; i < c->asg_restart_argc; i++)
			a->restart_argv[i] = xstrdup(c->asg_restart_argv[i]);
	}
	reload_record = old_dir == NULL ||
	    strcmp(old_dir, c->state_dir != NULL ? c->state_dir : "") != 0;
	if (reload_record) {
		free(a->state_dir);
		a->state_dir =
		    xstrdup(c->state_dir != NULL ? c->state_dir : "");
		/* An eviction this boot stays true whatever the directory. */
		if (!a->evicted_this_boot)
			load_record(a);
	}
	free(a->conf_group);
	a->conf_group = xstrdup(
	    c->aws_autoscaling_group != NULL ? c->aws_autoscaling_group : "");
}

static struct asg_rules
rules(const struct asg *a)
{
	struct asg_rules r = {
	    .confirm = a->confirm,
	    .restart_attempts =
	        a->restart_argv != NULL ? a->restart_attempts : 0,
	    .recheck = a->recheck,
	};

	return r;
}

static int
recent_restarts(const struct asg *a, mono_ms now)
{
	int n = 0;

	for (size_t i = 0; i < RESTART_HISTORY; i++)
		if (a->restart_at[i] != 0 &&
		    a->restart_at[i] + a->restart_window > now)
			n++;
	return n;
}

static void set_action(struct asg *a, const char *what, mono_ms now,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
set_action(struct asg *a, const char *what, mono_ms now, const char *fmt, ...)
{
	va_list ap;

	util_strlcpy(a->last_what, what, sizeof(a->last_what));
	va_start(ap, fmt);
	vsnprintf(a->last_result, sizeof(a->last_result), fmt, ap);
	va_end(ap);
	a->last_at = now;
}

static void
outcome(struct asg *a, enum asg_outcome o, mono_ms now)
{
	struct asg_rules r = rules(a);

	asg_episode_outcome(&a->ep, &r, o, now);
}

static double
secs(mono_ms ms)
{
	return (double)ms / 1000.0;
}

/* Time from t to now; 0 if t is later (times come from several calls of
 * the clock). */
static mono_ms
since(mono_ms now, mono_ms t)
{
	return now > t ? now - t : 0;
}

static void refuse(struct asg *a, mono_ms now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A decision not to evict now: logged, counted, re-evaluated later. */
static void
refuse(struct asg *a, mono_ms now, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->last_refusal, sizeof(a->last_refusal), fmt, ap);
	va_end(ap);
	a->refusal_at = now;
	a->refusals_total++;
	log_warn("autoscaling: refusing to self-evict: %s; re-evaluating in "
	         "%g s",
	    a->last_refusal, secs(a->recheck));
	if (a->cw != NULL)
		cloudwatch_count(a->cw, CW_EVICTION_REFUSED, 1, util_wall_ms());
	if (!a->refusal_told && a->event_cb != NULL) {
		/* Once per episode: a recheck every minute is not news. */
		a->refusal_told = true;
		a->event_cb(ASG_EVENT_REFUSED, a->last_refusal, a->event_arg);
	}
	outcome(a, ASG_OUT_RETRY, now);
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

/* The restart command. */

static void
restart_done_cb(const struct child_result *r, void *arg)
{
	struct asg *a = arg;
	mono_ms now = util_now_ms();
	char res[300];
	bool good = !r->timed_out && r->status != -1 && WIFEXITED(r->status) &&
	    WEXITSTATUS(r->status) == 0;

	a->restart = NULL;
	child_describe(r, res, sizeof(res));
	log_msg(good ? LOG_LEVEL_NOTICE : LOG_LEVEL_WARNING,
	    "autoscaling: restart_command %s (%.1f s); giving the "
	    "application %g s to recover",
	    res, secs(r->elapsed), secs(a->confirm));
	set_action(a, "restart_command", now, "%s", res);
	util_strlcpy(a->last_restart, res, sizeof(a->last_restart));
	a->restart_done_at = now;
	outcome(a, ASG_OUT_RESTARTED, now);
	run(a, now);
}

static void
start_restart(struct asg *a, mono_ms now)
{
	const struct child_opts o = {
	    .out_max = RESTART_OUT_MAX,
	    .timeout_ms = a->restart_timeout,
	    /* It may well start the application in its own group. */
	    .keep_group = true,
	};
	char err[256];

	a->restart_at[a->restart_next] = now;
	a->restart_next = (a->restart_next + 1) % RESTART_HISTORY;
	a->restarts_total++;
	if (a->dry_run) {
		/* Counted like a restart that did not help, so that the dry
		 * run walks the same road to eviction. */
		log_notice("autoscaling: dry run: unhealthy for %.1f s (%s); "
		           "would run restart_command %s (restart %d of this "
		           "episode)",
		    secs(since(now, a->ep.started)), a->why, a->restart_argv[0],
		    a->ep.restarts);
		set_action(a, "restart_command", now, "dry run: not run");
		util_strlcpy(a->last_restart, "dry run: not run",
		    sizeof(a->last_restart));
		a->restart_done_at = now;
		outcome(a, ASG_OUT_RESTARTED, now);
		return;
	}
	log_warn("autoscaling: unhealthy for %.1f s (%s); running "
	         "restart_command %s (restart %d of this episode; %d of %d "
	         "allowed within %g s)",
	    secs(since(now, a->ep.started)), a->why, a->restart_argv[0],
	    a->ep.restarts, recent_restarts(a, now), a->restart_attempts,
	    secs(a->restart_window));
	a->restart = child_start(a->ev, a->restart_argv, &o, restart_done_cb, a,
	    err, sizeof(err));
	if (a->restart == NULL) {
		log_err("autoscaling: restart_command: %s", err);
		set_action(a, "restart_command", now, "%s", err);
		util_strlcpy(a->last_restart, err, sizeof(a->last_restart));
		a->restart_done_at = now;
		outcome(a, ASG_OUT_RESTARTED, now);
	}
}

/* Eviction. */

static void
evicted_cb(const struct aws_result *r, void *arg)
{
	struct asg *a = arg;
	mono_ms now = util_now_ms();
	char err[700];

	a->call = NULL;
	if (!r->ok) {
		describe_error(r, err, sizeof(err));
		log_err("autoscaling: SetInstanceHealth %s Unhealthy failed: "
		        "%s; "
		        "trying again in %g s",
		    a->instance_id, err, secs(a->recheck));
		set_action(a, "SetInstanceHealth", now, "failed: %s", err);
		outcome(a, ASG_OUT_RETRY, now);
		run(a, now);
		return;
	}
	a->evicted_this_boot = true;
	memset(&a->record, 0, sizeof(a->record));
	util_strlcpy(a->record.boot_id, a->boot_id, sizeof(a->record.boot_id));
	util_strlcpy(a->record.instance_id, a->instance_id,
	    sizeof(a->record.instance_id));
	util_strlcpy(a->record.group, a->group, sizeof(a->record.group));
	a->record.time = util_wall_ms() / 1000;
	log_notice("autoscaling: SetInstanceHealth %s Unhealthy accepted by "
	           "group %s; the group will replace this instance",
	    a->instance_id, a->group);
	set_action(a, "SetInstanceHealth", now, "accepted");
	if (a->event_cb != NULL)
		a->event_cb(ASG_EVENT_EVICTED, a->why, a->event_arg);
	/* Written after success: a failed call must stay retryable, and a
	 * crash between the reply and the rename only risks repeating an
	 * idempotent call. */
	save_record(a, now);
	outcome(a, ASG_OUT_DONE, now);
	run(a, now);
}

static void
set_instance_health(struct asg *a, mono_ms now, const char *fleet)
{
	const char *grace = a->respect_grace ? "true" : "false";
	struct aws_params *p;

	if (a->dry_run) {
		log_notice("autoscaling: dry run: would call SetInstanceHealth "
		           "InstanceId=%s HealthStatus=Unhealthy "
		           "ShouldRespectGracePeriod=%s (group %s: %s)",
		    a->instance_id, grace, a->group, fleet);
		set_action(a, "SetInstanceHealth", now,
		    "dry run: not called (InstanceId=%s HealthStatus=Unhealthy "
		    "ShouldRespectGracePeriod=%s)",
		    a->instance_id, grace);
		outcome(a, ASG_OUT_DONE, now);
		return;
	}
	log_warn("autoscaling: unhealthy for %.1f s (%s); calling "
	         "SetInstanceHealth %s Unhealthy in group %s (%s)",
	    secs(since(now, a->ep.started)), a->why, a->instance_id, a->group,
	    fleet);
	p = aws_params_new();
	aws_params_add(p, "InstanceId", "%s", a->instance_id);
	aws_params_add(p, "HealthStatus", "Unhealthy");
	/*
	 * Set deliberately, false by default: with true, an instance still
	 * inside the group's HealthCheckGracePeriod gets a ValidationError
	 * ("the age of the instance is less than the configured grace
	 * period") rather than a deferred replacement, and the fault has
	 * already been confirmed for confirm_seconds.
	 */
	aws_params_add(p, "ShouldRespectGracePeriod", "%s", grace);
	a->call = aws_query(a->aws, AWS_SVC_AUTOSCALING, "SetInstanceHealth", p,
	    evicted_cb, a);
	if (a->call == NULL) {
		log_warn("autoscaling: SetInstanceHealth not sent: no AWS "
		         "credentials or region yet; trying again in %g s",
		    secs(a->recheck));
		set_action(a, "SetInstanceHealth", now,
		    "not sent: no credentials or region yet");
		outcome(a, ASG_OUT_RETRY, now);
	}
}

/* Reasons that end the episode's escalation without a call; NULL if
 * eviction may go ahead. */
static const char *
disabled_reason(const struct asg *a)
{
	if (!a->enabled)
		return "autoscaling.set_instance_health is false";
	if (a->evicted_this_boot)
		return "this instance already evicted itself this boot";
	if (a->aws == NULL)
		return "no AWS access";
	if (a->id == ID_NO_GROUP)
		return "the instance is not in an Auto Scaling group";
	return NULL;
}

static void
not_acting(struct asg *a, mono_ms now, const char *why)
{
	log_notice("autoscaling: unhealthy for %.1f s (%s); not evicting: %s",
	    secs(since(now, a->ep.started)), a->why, why);
	set_action(a, "SetInstanceHealth", now, "not called: %s", why);
	outcome(a, ASG_OUT_DONE, now);
}

static void
fleet_cb(const struct aws_result *r, void *arg)
{
	struct asg *a = arg;
	mono_ms now = util_now_ms();
	struct asg_fleet f;
	char err[700], why[300];
	const char *off;
	int parsed = -1;

	a->call = NULL;
	/* The same reply serves the CloudWatch flush slot. */
	if (r->ok &&
	    (parsed = asg_parse_fleet(r->body, r->body_len, a->group,
	         a->instance_id, &f, err, sizeof(err))) == 0)
		members_seen(a, &f, now);
	if (!r->ok) {
		describe_error(r, err, sizeof(err));
		refuse(a, now, "cannot read group %s: %s", a->group, err);
	} else if (!a->unhealthy) {
		not_acting(a, now, "recovered while the group was read");
	} else if ((off = disabled_reason(a)) != NULL) {
		not_acting(a, now, off);
	} else if (parsed < 0) {
		refuse(a, now, "unusable DescribeAutoScalingGroups reply: %s",
		    err);
	} else if (f.self_found && f.self_unhealthy) {
		not_acting(a, now,
		    "the group already has this instance as Unhealthy");
	} else if (!asg_may_evict(&f, a->max_unhealthy_pct, a->min_healthy, why,
	               sizeof(why))) {
		refuse(a, now, "%s", why);
	} else {
		set_instance_health(a, now, why);
	}
	run(a, now);
}

static void
start_evict(struct asg *a, mono_ms now)
{
	const char *off = disabled_reason(a);
	struct aws_params *p;

	if (off != NULL) {
		not_acting(a, now, off);
		return;
	}
	if (a->id == ID_NONE) {
		refuse(a, now, "the instance id is not known yet");
		return;
	}
	if (a->id == ID_LOOKUP) {
		refuse(a, now, "the Auto Scaling group is not known yet%s%s",
		    a->lookup_error[0] != '\0' ? ": " : "", a->lookup_error);
		return;
	}
	log_warn("autoscaling: unhealthy for %.1f s (%s)%s; reading group %s "
	         "before self-eviction",
	    secs(since(now, a->ep.started)), a->why,
	    a->restart_argv != NULL ? "; the fault survived restart_command"
	                            : "",
	    a->group);
	p = aws_params_new();
	aws_params_add(p, "AutoScalingGroupNames.member.1", "%s", a->group);
	a->call = aws_query(a->aws, AWS_SVC_AUTOSCALING,
	    "DescribeAutoScalingGroups", p, fleet_cb, a);
	if (a->call == NULL)
		refuse(a, now, "cannot read group %s: no credentials or region",
		    a->group);
}

static void
run(struct asg *a, mono_ms now)
{
	struct asg_rules r = rules(a);
	enum asg_action act;
	mono_ms wake = 0;

	for (;;) {
		enum asg_phase before = a->ep.phase;
		mono_ms started = a->ep.started;

		act = asg_step(&a->ep, &r, a->unhealthy,
		    recent_restarts(a, now), now, &wake);
		if (before == ASG_PHASE_IDLE && a->ep.phase != ASG_PHASE_IDLE)
			a->refusal_told = false;
		if (before == ASG_PHASE_IDLE && a->ep.phase != ASG_PHASE_IDLE)
			log_info("autoscaling: unhealthy episode began (%s); "
			         "acting after %g s unless it recovers",
			    a->why, secs(a->confirm));
		else if (before != ASG_PHASE_IDLE &&
		    a->ep.phase == ASG_PHASE_IDLE)
			log_info("autoscaling: unhealthy episode ended after "
			         "%.1f s (%d restart%s)",
			    secs(since(now, started)), a->ep.restarts,
			    a->ep.restarts == 1 ? "" : "s");
		if (act == ASG_ACT_RESTART)
			start_restart(a, now);
		else if (act == ASG_ACT_EVICT)
			start_evict(a, now);
		else
			break;
	}
	if (wake != 0)
		ev_timer_arm_at(a->wake_t, wake);
	else
		ev_timer_disarm(a->wake_t);
}

static void
wake_cb(void *arg)
{
	struct asg *a = arg;

	run(a, util_now_ms());
}

/* The group's members, for the CloudWatch flush slot. */

static mono_ms
jitter(mono_ms lo, mono_ms hi)
{
	return hi > lo ? lo + (mono_ms)random() % (hi - lo + 1) : lo;
}

static bool
members_wanted(const struct asg *a)
{
	return a->cw != NULL && a->aws != NULL && a->id == ID_GROUP &&
	    a->instance_id != NULL && a->group != NULL;
}

static mono_ms
members_period(const struct asg *a)
{
	mono_ms p =
	    (mono_ms)(a->slot_n > 0 ? a->slot_n : 0) * MEMBERS_PER_INSTANCE;

	return p > MEMBERS_REFRESH ? p : MEMBERS_REFRESH;
}

static void
set_slot(struct asg *a, int rank, int n)
{
	a->slot_rank = rank;
	a->slot_n = n;
	if (a->cw != NULL)
		cloudwatch_set_slot(a->cw, rank, n);
}

/* A DescribeAutoScalingGroups reply for the group (the refresh's or the
 * fleet check's). */
static void
members_seen(struct asg *a, const struct asg_fleet *f, mono_ms now)
{
	if (a->members_error[0] != '\0')
		log_notice("autoscaling: the members of group %s are readable "
		           "again",
		    a->group);
	a->members_at = now;
	a->members_n = f->instances;
	a->members_error[0] = '\0';
	a->members_backoff = 0;
	if (f->self_found)
		set_slot(a, f->self_rank, f->instances);
	else
		set_slot(a, -1, 0);
}

static void
members_failed(struct asg *a, const char *why)
{
	mono_ms period = members_period(a), delay;

	if (strcmp(why, a->members_error) != 0)
		log_notice("autoscaling: cannot read the members of group %s "
		           "for the CloudWatch flush slot (%s); keeping %s",
		    a->group, why,
		    a->slot_n > 0 ? "the last rank" : "the instance-id hash");
	util_strlcpy(a->members_error, why, sizeof(a->members_error));
	if (a->members_backoff < MEMBERS_RETRY_MIN)
		a->members_backoff = MEMBERS_RETRY_MIN;
	delay = jitter(a->members_backoff / 2, a->members_backoff);
	a->members_backoff *= 2;
	if (a->members_backoff > period)
		a->members_backoff = period;
	ev_timer_arm(a->members_t, delay);
}

static void
members_cb(const struct aws_result *r, void *arg)
{
	struct asg *a = arg;
	struct asg_fleet f;
	char err[700];
	mono_ms period;

	a->members = NULL;
	if (!members_wanted(a))
		return;
	if (!r->ok) {
		describe_error(r, err, sizeof(err));
		members_failed(a, err);
		return;
	}
	if (asg_parse_fleet(r->body, r->body_len, a->group, a->instance_id, &f,
	        err, sizeof(err)) < 0) {
		members_failed(a, err);
		return;
	}
	members_seen(a, &f, util_now_ms());
	period = members_period(a);
	ev_timer_arm(a->members_t,
	    jitter(period - period / 4, period + period / 4));
}

static void
members_start(struct asg *a)
{
	struct aws_params *p;

	if (!members_wanted(a) || a->members != NULL)
		return;
	p = aws_params_new();
	aws_params_add(p, "AutoScalingGroupNames.member.1", "%s", a->group);
	a->members = aws_query(a->aws, AWS_SVC_AUTOSCALING,
	    "DescribeAutoScalingGroups", p, members_cb, a);
	if (a->members == NULL)
		members_failed(a, "no AWS credentials or region yet");
}

static void
members_timer_cb(void *arg)
{
	members_start(arg);
}

/* Read soon if wanted and nothing is scheduled; stop if not wanted. */
static void
members_ensure(struct asg *a)
{
	if (!members_wanted(a)) {
		aws_cancel(a->members);
		a->members = NULL;
		ev_timer_disarm(a->members_t);
		return;
	}
	if (a->members != NULL || ev_timer_armed(a->members_t))
		return;
	ev_timer_arm(a->members_t,
	    a->members_fast ? jitter(100, 500)
	                    : jitter(MEMBERS_FIRST_MIN, MEMBERS_FIRST_MAX));
}

/* The group or the instance changed: forget the rank and start again. */
static void
members_reset(struct asg *a)
{
	aws_cancel(a->members);
	a->members = NULL;
	ev_timer_disarm(a->members_t);
	a->members_at = 0;
	a->members_backoff = 0;
	a->members_error[0] = '\0';
	if (a->slot_n > 0)
		set_slot(a, -1, 0);
	members_ensure(a);
}

/* Identity. */

static void lookup_start(struct asg *a);

static void
lookup_timer_cb(void *arg)
{
	lookup_start(arg);
}

static void
lookup_retry(struct asg *a, const char *why)
{
	mono_ms delay;

	if (strcmp(why, a->lookup_error) != 0)
		log_warn("autoscaling: cannot find the group of %s: %s; "
		         "retrying with backoff",
		    a->instance_id, why);
	else
		log_debug("autoscaling: group lookup: %s", why);
	util_strlcpy(a->lookup_error, why, sizeof(a->lookup_error));
	if (a->lookup_backoff < LOOKUP_BACKOFF_MIN)
		a->lookup_backoff = LOOKUP_BACKOFF_MIN;
	/* Half fixed, half jitter, so a fleet does not retry in step. */
	delay = a->lookup_backoff / 2 +
	    (mono_ms)random() % (a->lookup_backoff / 2 + 1);
	a->lookup_backoff *= 2;
	if (a->lookup_backoff > LOOKUP_BACKOFF_MAX)
		a->lookup_backoff = LOOKUP_BACKOFF_MAX;
	ev_timer_arm(a->lookup_t, delay);
}

static void
set_group(struct asg *a, const char *group)
{
	bool changed = a->id != ID_GROUP || a->group == NULL ||
	    strcmp(a->group, group) != 0;

	free(a->group);
	a->group = xstrdup(group);
	a->id = ID_GROUP;
	a->lookup_error[0] = '\0';
	a->lookup_backoff = 0;
	if (changed && a->id_cb != NULL)
		a->id_cb(a->group, a->id_arg);
	if (changed)
		members_reset(a);
	else
		members_ensure(a);
}

static void
set_no_group(struct asg *a)
{
	bool changed = a->id != ID_NO_GROUP;

	free(a->group);
	a->group = NULL;
	a->id = ID_NO_GROUP;
	a->lookup_error[0] = '\0';
	a->lookup_backoff = 0;
	members_reset(a);
	if (changed) {
		log_notice("autoscaling: instance %s is not in an Auto Scaling "
		           "group; self-eviction is disabled",
		    a->instance_id);
		if (a->id_cb != NULL)
			a->id_cb(NULL, a->id_arg);
	}
}

static void
lookup_cb(const struct aws_result *r, void *arg)
{
	struct asg *a = arg;
	char group[256], err[700];
	int rc;

	a->lookup = NULL;
	if (!r->ok) {
		describe_error(r, err, sizeof(err));
		lookup_retry(a, err);
		return;
	}
	rc = asg_parse_group(r->body, r->body_len, group, sizeof(group));
	if (rc < 0)
		lookup_retry(a, "malformed DescribeAutoScalingInstances reply");
	else if (rc == 0)
		set_no_group(a);
	else
		set_group(a, group);
}

static void
lookup_start(struct asg *a)
{
	struct aws_params *p;

	if (a->instance_id == NULL || a->lookup != NULL)
		return;
	a->id = ID_LOOKUP;
	if (a->aws == NULL) {
		util_strlcpy(a->lookup_error, "no AWS access",
		    sizeof(a->lookup_error));
		return;
	}
	p = aws_params_new();
	aws_params_add(p, "InstanceIds.member.1", "%s", a->instance_id);
	a->lookup = aws_query(a->aws, AWS_SVC_AUTOSCALING,
	    "DescribeAutoScalingInstances", p, lookup_cb, a);
	if (a->lookup == NULL)
		lookup_retry(a, "no AWS credentials or region yet");
}

static void
identify(struct asg *a)
{
	aws_cancel(a->lookup);
	a->lookup = NULL;
	ev_timer_disarm(a->lookup_t);
	if (a->instance_id == NULL)
		return;
	if (a->conf_group[0] != '\0') {
		set_group(a, a->conf_group);
		return;
	}
	a->lookup_error[0] = '\0';
	a->lookup_backoff = 0;
	lookup_start(a);
}

/* The interface. */

struct asg *
asg_new(struct ev *ev, struct aws *aws, struct cloudwatch *cw,
    const struct conf *c)
{
	struct asg *a = xcalloc(1, sizeof(*a));

	a->ev = ev;
	a->aws = aws;
	a->cw = cw;
	a->wake_t = ev_timer_new(ev, wake_cb, a);
	a->lookup_t = ev_timer_new(ev, lookup_timer_cb, a);
	a->members_t = ev_timer_new(ev, members_timer_cb, a);
	a->slot_rank = -1;
	a->members_fast = getenv("HEALTHAGENT_TEST_FAST") != NULL &&
	    strcmp(getenv("HEALTHAGENT_TEST_FAST"), "1") == 0;
	if (asg_boot_id(a->boot_id, sizeof(a->boot_id)) < 0)
		log_warn("autoscaling: cannot read %s; an eviction record "
		         "will be taken to be of this boot",
		    BOOT_ID_PATH);
	load_conf(a, c);
	return a;
}

void
asg_free(struct asg *a)
{
	if (a == NULL)
		return;
	if (a->restart != NULL) {
		log_warn("autoscaling: killing restart_command (pid %ld)",
		    (long)child_pid(a->restart));
		child_cancel(a->restart);
	}
	aws_cancel(a->call);
	aws_cancel(a->lookup);
	aws_cancel(a->members);
	ev_timer_free(a->wake_t);
	ev_timer_free(a->lookup_t);
	ev_timer_free(a->members_t);
	free_argv(a->restart_argv);
	free(a->state_dir);
	free(a->conf_group);
	free(a->instance_id);
	free(a->group);
	free(a);
}

void
asg_reconfigure(struct asg *a, const struct conf *c)
{
	bool group_changed = a->conf_group == NULL ||
	    strcmp(a->conf_group,
	        c->aws_autoscaling_group != NULL ? c->aws_autoscaling_group
	                                         : "") != 0;

	load_conf(a, c);
	if (group_changed && a->instance_id != NULL)
		identify(a);
	run(a, util_now_ms());
}

void
asg_set_identity(struct asg *a, const char *instance_id,
    void (*cb)(const char *group, void *arg), void *arg)
{
	bool same =
	    a->instance_id != NULL && strcmp(a->instance_id, instance_id) == 0;

	a->id_cb = cb;
	a->id_arg = arg;
	free(a->instance_id);
	a->instance_id = xstrdup(instance_id);
	if (!same)
		members_reset(a);
	identify(a);
}

void
asg_set_cloudwatch(struct asg *a, struct cloudwatch *cw)
{
	a->cw = cw;
	if (cw != NULL && a->slot_n > 0)
		cloudwatch_set_slot(cw, a->slot_rank, a->slot_n);
	members_ensure(a);
}

void
asg_on_event(struct asg *a,
    void (*cb)(enum asg_event ev, const char *why, void *arg), void *arg)
{
	a->event_cb = cb;
	a->event_arg = arg;
}

const char *
asg_group(const struct asg *a)
{
	return a->id == ID_GROUP ? a->group : NULL;
}

/* Evidence of a fault: a local check that is DOWN. An UNHEALTHY verdict
 * made only of local checks with no result yet (right after start, before
 * the first runs) keeps the endpoint at 503 but is no reason to evict. */
static bool
local_check_down(const struct health *h)
{
	struct health_check_view v;

	for (size_t i = 0; i < health_count(h); i++) {
		health_check(h, i, &v);
		if (!v.dependency && v.state == HEALTH_C_DOWN)
			return true;
	}
	return false;
}

void
asg_observe(struct asg *a, const struct health *h, mono_ms now)
{
	a->unhealthy =
	    health_state(h) == HEALTH_UNHEALTHY && local_check_down(h);
	if (a->unhealthy)
		util_strlcpy(a->why, health_why(h), sizeof(a->why));
	if (a->record_unsaved && now >= a->record_retry_at)
		save_record(a, now);
	run(a, now);
}

/* Status. */

static void
eviction_line(const struct asg *a, char *buf, size_t size)
{
	if (!a->enabled)
		snprintf(buf, size,
		    "disabled: autoscaling.set_instance_health is false");
	else if (a->evicted_this_boot && a->record_unsaved)
		snprintf(buf, size,
		    "done: evicted earlier this boot; the record is NOT "
		    "saved (%s), retrying",
		    a->record_err);
	else if (a->evicted_this_boot)
		snprintf(buf, size, "done: evicted earlier this boot");
	else if (a->aws == NULL)
		snprintf(buf, size, "disabled: no AWS access");
	else if (a->id == ID_NONE)
		snprintf(buf, size,
		    "waiting: the instance id is not known yet");
	else if (a->id == ID_LOOKUP)
		snprintf(buf, size,
		    "waiting: looking up the Auto Scaling "
		    "group%s%s",
		    a->lookup_error[0] != '\0' ? ": " : "", a->lookup_error);
	else if (a->id == ID_NO_GROUP)
		snprintf(buf, size, "disabled: not in an Auto Scaling group");
	else
		snprintf(buf, size, "armed%s", a->dry_run ? " (dry run)" : "");
}

void
asg_status(const struct asg *a, json_object *into)
{
	json_object *o = json_object_new_object(), *e, *x;
	mono_ms now = util_now_ms();
	char line[400];

	jsonw_bool(o, "enabled", a->enabled);
	jsonw_bool(o, "dry_run", a->dry_run);
	eviction_line(a, line, sizeof(line));
	jsonw_str(o, "eviction", line);
	jsonw_str(o, "group", asg_group(a));
	jsonw_str(o, "group_lookup", id_state_names[a->id]);
	/* The last read of the group's members (for the CloudWatch flush
	 * slot): instances listed, this one's 1-based rank by id, age. */
	if (a->members_at != 0 || a->members_error[0] != '\0') {
		x = json_object_new_object();
		if (a->members_at != 0)
			jsonw_int(x, "instances", a->members_n);
		else
			json_object_object_add(x, "instances", NULL);
		if (a->slot_n > 0)
			jsonw_int(x, "rank", a->slot_rank + 1);
		else
			json_object_object_add(x, "rank", NULL);
		if (a->members_at != 0)
			jsonw_int(x, "age_ms",
			    (int64_t)since(now, a->members_at));
		else
			json_object_object_add(x, "age_ms", NULL);
		if (a->members_error[0] != '\0')
			jsonw_str(x, "error", a->members_error);
		else
			json_object_object_add(x, "error", NULL);
		json_object_object_add(o, "group_members", x);
	} else
		json_object_object_add(o, "group_members", NULL);
	jsonw_str(o, "instance_id", a->instance_id);
	jsonw_bool(o, "restart_command", a->restart_argv != NULL);
	jsonw_bool(o, "evicted_this_boot", a->evicted_this_boot);
	jsonw_str(o, "state_dir", a->state_dir != NULL ? a->state_dir : "");
	if (a->record_unsaved)
		jsonw_str(o, "record_error", a->record_err);
	else
		json_object_object_add(o, "record_error", NULL);

	e = json_object_new_object();
	jsonw_str(e, "state", asg_phase_names[a->ep.phase]);
	jsonw_int(e, "unhealthy_for_ms",
	    a->ep.phase != ASG_PHASE_IDLE ? (int64_t)since(now, a->ep.started)
	                                  : 0);
	jsonw_int(e, "restarts",
	    a->ep.phase != ASG_PHASE_IDLE ? a->ep.restarts : 0);
	jsonw_int(e, "restarts_in_window", recent_restarts(a, now));
	if (a->ep.phase == ASG_PHASE_WAIT)
		jsonw_int(e, "recheck_in_ms",
		    a->ep.retry_at > now ? (int64_t)(a->ep.retry_at - now) : 0);
	json_object_object_add(o, "episode", e);

	if (a->last_at != 0) {
		x = json_object_new_object();
		jsonw_str(x, "what", a->last_what);
		jsonw_str(x, "result", a->last_result);
		jsonw_int(x, "age_ms", (int64_t)since(now, a->last_at));
		json_object_object_add(o, "last_action", x);
	} else
		json_object_object_add(o, "last_action", NULL);
	if (a->restart_done_at != 0) {
		x = json_object_new_object();
		jsonw_str(x, "result", a->last_restart);
		jsonw_int(x, "age_ms", (int64_t)since(now, a->restart_done_at));
		json_object_object_add(o, "last_restart", x);
	} else
		json_object_object_add(o, "last_restart", NULL);
	if (a->refusal_at != 0) {
		x = json_object_new_object();
		jsonw_str(x, "why", a->last_refusal);
		jsonw_int(x, "age_ms", (int64_t)since(now, a->refusal_at));
		json_object_object_add(o, "last_refusal", x);
	} else
		json_object_object_add(o, "last_refusal", NULL);
	jsonw_int(o, "refusals", (int64_t)a->refusals_total);
	jsonw_int(o, "restarts", (int64_t)a->restarts_total);
	json_object_object_add(into, "autoscaling", o);
}
