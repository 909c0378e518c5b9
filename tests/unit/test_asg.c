/* SPDX-License-Identifier: ISC */
/*
 * Tests of the self-healing logic: the fleet-safety rule at its
 * boundaries, parsing DescribeAutoScalingGroups and
 * DescribeAutoScalingInstances replies, the once-per-boot record, the pure
 * episode state machine on a fake clock, and the object on the real event
 * loop (without AWS access) running restart_command, escalating and
 * ignoring dependency-only failures.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asg.h"
#include "child.h"
#include "conf.h"
#include "ev.h"
#include "health.h"
#include "log.h"
#include "tap.h"

static char tmpdir[] = "/tmp/test_asg.XXXXXX";

/* The fleet rule. */

static struct asg_fleet
fleet(int instances, int impaired, int healthy_others)
{
	struct asg_fleet f;

	memset(&f, 0, sizeof(f));
	f.instances = instances;
	f.impaired = impaired;
	f.unhealthy = impaired;
	f.in_service_healthy = healthy_others;
	f.self_found = true;
	f.self_in_service = true;
	strcpy(f.self_state, "InService");
	return f;
}

static void
test_may_evict(void)
{
	struct asg_fleet f;
	char why[300];

	f = fleet(10, 0, 9);
	ok(asg_may_evict(&f, 30, 1, why, sizeof(why)),
	    "0%% impaired: may evict (%s)", why);
	f = fleet(100, 29, 70);
	ok(asg_may_evict(&f, 30, 1, why, sizeof(why)),
	    "29%% impaired: may evict (%s)", why);
	f = fleet(10, 3, 6);
	ok(!asg_may_evict(&f, 30, 1, why, sizeof(why)),
	    "30%% impaired: refused at max_unhealthy_percent");
	ok(strstr(why, "3 of 10 instances (30%)") != NULL &&
	        strstr(why, "max_unhealthy_percent") != NULL,
	    "30%%: the reason says why (%s)", why);
	f = fleet(10, 3, 6);
	ok(asg_may_evict(&f, 31, 1, why, sizeof(why)),
	    "30%% impaired with max 31: may evict");
	f = fleet(2, 1, 0);
	ok(!asg_may_evict(&f, 30, 0, why, sizeof(why)),
	    "50%% impaired: refused even with min_healthy 0");
	f = fleet(4, 2, 1);
	ok(asg_may_evict(&f, 60, 0, why, sizeof(why)),
	    "50%% impaired with max 60 and min 0: may evict");
	f = fleet(10, 0, 9);
	ok(!asg_may_evict(&f, 0, 0, why, sizeof(why)),
	    "max_unhealthy_percent 0 always refuses");

	/* min_healthy_instances: this instance counts as the group sees it
	 * (InService, Healthy), so refuse when others + 1 <= min. */
	f = fleet(1, 0, 0);
	ok(!asg_may_evict(&f, 30, 1, why, sizeof(why)),
	    "a group of one with min 1: refused");
	ok(strstr(why, "min_healthy_instances (1)") != NULL &&
	        strstr(why, "1 InService and Healthy instance counting") !=
	            NULL,
	    "min_healthy: the reason says why (%s)", why);
	f = fleet(1, 0, 0);
	ok(asg_may_evict(&f, 30, 0, why, sizeof(why)),
	    "a group of one with min 0: may evict");
	f = fleet(2, 0, 1);
	ok(asg_may_evict(&f, 30, 1, why, sizeof(why)),
	    "two healthy with min 1: may evict, one remains (%s)", why);
	f = fleet(2, 0, 1);
	ok(!asg_may_evict(&f, 30, 2, why, sizeof(why)),
	    "two healthy with min 2: refused");
	f = fleet(3, 0, 2);
	ok(asg_may_evict(&f, 50, 2, why, sizeof(why)),
	    "three healthy with min 2: may evict");
	/* Others that are InService but neither Healthy nor Unhealthy do
	 * not count as healthy. */
	f = fleet(5, 0, 1);
	ok(!asg_may_evict(&f, 30, 2, why, sizeof(why)),
	    "only counted healthy instances protect the group");

	f = fleet(10, 0, 9);
	f.self_found = false;
	ok(!asg_may_evict(&f, 30, 1, why, sizeof(why)) &&
	        strstr(why, "not listed") != NULL,
	    "refused when this instance is not listed (%s)", why);
	f = fleet(10, 0, 9);
	f.self_in_service = false;
	strcpy(f.self_state, "Standby");
	ok(!asg_may_evict(&f, 30, 1, why, sizeof(why)) &&
	        strstr(why, "Standby, not InService") != NULL,
	    "refused while this instance is not InService (%s)", why);
}

/* Parsing. */

static const char groups_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<DescribeAutoScalingGroupsResponse "
    "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
    "  <DescribeAutoScalingGroupsResult>\n"
    "    <AutoScalingGroups>\n"
    "      <member>\n"
    "        <AutoScalingGroupName>other-asg</AutoScalingGroupName>\n"
    "        <Instances>\n"
    "          <member><InstanceId>i-999</InstanceId>"
    "<HealthStatus>Unhealthy</HealthStatus>"
    "<LifecycleState>InService</LifecycleState></member>\n"
    "        </Instances>\n"
    "      </member>\n"
    "      <member>\n"
    "        <AutoScalingGroupName>web-asg</AutoScalingGroupName>\n"
    "        <AvailabilityZones><member>us-east-1a</member>"
    "</AvailabilityZones>\n"
    "        <Instances>\n"
    "          <member>\n"
    "            <InstanceId>i-001</InstanceId>\n"
    "            <AvailabilityZone>us-east-1a</AvailabilityZone>\n"
    "            <HealthStatus>Healthy</HealthStatus>\n"
    "            <LifecycleState>InService</LifecycleState>\n"
    "            <LaunchTemplate><LaunchTemplateId>lt-1</LaunchTemplateId>"
    "<Version>1</Version></LaunchTemplate>\n"
    "          </member>\n"
    "          <member><InstanceId>i-002</InstanceId>"
    "<HealthStatus>HEALTHY</HealthStatus>"
    "<LifecycleState>InService</LifecycleState></member>\n"
    "          <member><InstanceId>i-003</InstanceId>"
    "<HealthStatus>UNHEALTHY</HealthStatus>"
    "<LifecycleState>InService</LifecycleState></member>\n"
    "          <member><InstanceId>i-004</InstanceId>"
    "<HealthStatus>Healthy</HealthStatus>"
    "<LifecycleState>Pending</LifecycleState></member>\n"
    "          <member><InstanceId>i-005</InstanceId>"
    "<HealthStatus>Unhealthy</HealthStatus>"
    "<LifecycleState>Terminating</LifecycleState></member>\n"
    "          <member><InstanceId>i-006</InstanceId>"
    "<HealthStatus>Healthy</HealthStatus>"
    "<LifecycleState>InService</LifecycleState></member>\n"
    "        </Instances>\n"
    "        <Tags><member><Key>role</Key><Value>web</Value></member>"
    "</Tags>\n"
    "      </member>\n"
    "    </AutoScalingGroups>\n"
    "  </DescribeAutoScalingGroupsResult>\n"
    "  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
    "</DescribeAutoScalingGroupsResponse>\n";

static void
test_parse(void)
{
	struct asg_fleet f;
	char err[256], why[300], g[256];
	int rc;

	rc = asg_parse_fleet(groups_xml, strlen(groups_xml), "web-asg", "i-001",
	    &f, err, sizeof(err));
	is_int(rc, 0, "fleet: parsed");
	is_int(f.instances, 6, "fleet: 6 instances, only of web-asg");
	is_int(f.unhealthy, 2, "fleet: 2 others Unhealthy (any case)");
	is_int(f.not_in_service, 2, "fleet: 2 others not InService");
	is_int(f.impaired, 3, "fleet: 3 others impaired, counted once each");
	is_int(f.in_service_healthy, 2, "fleet: 2 others InService+Healthy");
	ok(f.self_found && f.self_in_service && !f.self_unhealthy,
	    "fleet: this instance found, InService, Healthy");
	is_str(f.self_state, "InService", "fleet: own state");
	is_int(f.self_rank, 0, "fleet: i-001 sorts first of its group");
	ok(!asg_may_evict(&f, 30, 1, why, sizeof(why)),
	    "fleet: 3 of 6 impaired is refused (%s)", why);

	rc = asg_parse_fleet(groups_xml, strlen(groups_xml), "web-asg", "i-004",
	    &f, err, sizeof(err));
	ok(rc == 0 && f.self_found && !f.self_in_service &&
	        strcmp(f.self_state, "Pending") == 0,
	    "fleet: seen from a Pending instance");
	is_int(f.impaired, 2, "fleet: from i-004, 2 others impaired");
	is_int(f.self_rank, 3, "fleet: i-004 ranks 4th by id (0-based 3)");
	rc = asg_parse_fleet(groups_xml, strlen(groups_xml), "web-asg", "i-003",
	    &f, err, sizeof(err));
	ok(rc == 0 && f.self_unhealthy, "fleet: own Unhealthy status seen");
	rc = asg_parse_fleet(groups_xml, strlen(groups_xml), "web-asg", "i-777",
	    &f, err, sizeof(err));
	ok(rc == 0 && !f.self_found && f.instances == 6,
	    "fleet: an unlisted instance");
	rc = asg_parse_fleet(groups_xml, strlen(groups_xml), "nope", "i-001",
	    &f, err, sizeof(err));
	ok(rc < 0 && strstr(err, "not found") != NULL,
	    "fleet: a missing group is an error (%s)", err);
	rc = asg_parse_fleet(groups_xml, strlen(groups_xml) / 2, "web-asg",
	    "i-001", &f, err, sizeof(err));
	ok(rc < 0, "fleet: a truncated reply is an error (%s)", err);
	{
		size_t n = strlen(groups_xml), bad = 0;

		/* The reply ends in ">\n"; any shorter prefix is cut. */
		for (size_t l = 0; l + 1 < n; l++)
			if (asg_parse_fleet(groups_xml, l, "web-asg", "i-001",
			        &f, err, sizeof(err)) != -1)
				bad++;
		is_int(bad, 0, "fleet: every truncation is rejected");
	}
	rc = asg_parse_fleet("", 0, "web-asg", "i-001", &f, err, sizeof(err));
	ok(rc < 0, "fleet: an empty body is an error (%s)", err);
	rc = asg_parse_fleet("<html>hi</html>", 15, "web-asg", "i-001", &f, err,
	    sizeof(err));
	ok(rc < 0, "fleet: a foreign body is an error (%s)", err);

	{
		static const char one[] =
		    "<DescribeAutoScalingInstancesResponse xmlns=\"x\">"
		    "<DescribeAutoScalingInstancesResult><AutoScalingInstances>"
		    "<member><InstanceId>i-001</InstanceId>"
		    "<AutoScalingGroupName>web &amp; api</AutoScalingGroupName>"
		    "<HealthStatus>HEALTHY</HealthStatus></member>"
		    "</AutoScalingInstances></"
		    "DescribeAutoScalingInstancesResult>"
		    "</DescribeAutoScalingInstancesResponse>";
		static const char none[] =
		    "<DescribeAutoScalingInstancesResponse xmlns=\"x\">"
		    "<DescribeAutoScalingInstancesResult><AutoScalingInstances/"
		    ">"
		    "</DescribeAutoScalingInstancesResult>"
		    "</DescribeAutoScalingInstancesResponse>";

		rc = asg_parse_group(one, strlen(one), g, sizeof(g));
		is_int(rc, 1, "group: found");
		is_str(g, "web & api", "group: name decoded");
		rc = asg_parse_group(none, strlen(none), g, sizeof(g));
		is_int(rc, 0, "group: empty list means no group");
		rc = asg_parse_group("", 0, g, sizeof(g));
		is_int(rc, -1, "group: an empty body is not \"no group\"");
		rc = asg_parse_group(one, 40, g, sizeof(g));
		is_int(rc, -1, "group: a truncated body is an error");
	}
}

/* The record. */

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_record(void)
{
	struct asg_record r, got;
	char dir[512], err[300], boot[64], path[600];
	struct stat st;
	FILE *fp;
	int rc;

	ok(asg_boot_id(boot, sizeof(boot)) == 0 && strlen(boot) == 36,
	    "boot id read (%s)", boot);
	snprintf(dir, sizeof(dir), "%s/state/healthagent", tmpdir);
	rc = asg_record_load(dir, &got, err, sizeof(err));
	is_int(rc, 0, "record: none in a missing directory");

	memset(&r, 0, sizeof(r));
	strcpy(r.boot_id, boot);
	strcpy(r.instance_id, "i-0123456789abcdef0");
	strcpy(r.group, "web\nasg");
	r.time = 1700000000;
	rc = asg_record_save(dir, &r, err, sizeof(err));
	ok(rc == 0, "record: saved (%s)", rc == 0 ? "" : err);
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	        (st.st_mode & 0777) == 0750,
	    "record: state_dir created with mode 0750 (%o)",
	    (unsigned)(st.st_mode & 0777));
	is_int(count_entries(dir), 1, "record: no temporary file left");
	rc = asg_record_load(dir, &got, err, sizeof(err));
	is_int(rc, 1, "record: read back");
	is_str(got.boot_id, boot, "record: boot id");
	is_str(got.instance_id, "i-0123456789abcdef0", "record: instance id");
	is_str(got.group, "web?asg", "record: a newline cannot split it");
	is_int(got.time, 1700000000, "record: time");

	strcpy(r.boot_id, "00000000-0000-0000-0000-000000000000");
	rc = asg_record_save(dir, &r, err, sizeof(err));
	rc = asg_record_load(dir, &got, err, sizeof(err));
	ok(rc == 1 && strcmp(got.boot_id, r.boot_id) == 0,
	    "record: replaced atomically by a later save");
	is_int(count_entries(dir), 1, "record: still one file");

	snprintf(path, sizeof(path), "%s/eviction", dir);
	fp = fopen(path, "w");
	fputs("# nothing useful\ninstance_id=i-1\n", fp);
	fclose(fp);
	rc = asg_record_load(dir, &got, err, sizeof(err));
	ok(rc == -1 && strstr(err, "no boot_id") != NULL,
	    "record: one without a boot id is an error (%s)", err);

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fp = fopen(path, "w");
	fclose(fp);
	snprintf(dir, sizeof(dir), "%s/file/sub", tmpdir);
	rc = asg_record_save(dir, &r, err, sizeof(err));
	ok(rc == -1 && strstr(err, "mkdir") != NULL,
	    "record: an impossible state_dir is an error (%s)", err);
}

/* The pure episode machine on a fake clock. */

static void
test_episode(void)
{
	struct asg_rules r = {.confirm = 60000,
	    .restart_attempts = 0,
	    .recheck = 30000};
	struct asg_episode e;
	mono_ms wake;
	enum asg_action a;

	memset(&e, 0, sizeof(e));
	a = asg_step(&e, &r, false, 0, 1000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_IDLE && wake == 0,
	    "episode: healthy stays idle");
	a = asg_step(&e, &r, true, 0, 1000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_CONFIRM &&
	        e.started == 1000 && wake == 61000,
	    "episode: begins, confirming until 61000 (%llu)",
	    (unsigned long long)wake);
	a = asg_step(&e, &r, true, 0, 60999, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_CONFIRM,
	    "episode: nothing 1 ms before confirm_seconds");
	a = asg_step(&e, &r, true, 0, 61000, &wake);
	ok(a == ASG_ACT_EVICT && e.phase == ASG_PHASE_EVICT,
	    "episode: escalates at confirm_seconds without a restart command");
	a = asg_step(&e, &r, true, 0, 62000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_EVICT,
	    "episode: nothing more while the eviction is in flight");
	a = asg_step(&e, &r, false, 0, 62000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_EVICT,
	    "episode: an in-flight eviction waits for its outcome");
	asg_episode_outcome(&e, &r, ASG_OUT_RETRY, 63000);
	ok(e.phase == ASG_PHASE_WAIT && e.retry_at == 93000,
	    "episode: a refusal waits recheck_interval");
	a = asg_step(&e, &r, true, 0, 92999, &wake);
	ok(a == ASG_ACT_NONE && wake == 93000, "episode: wake at the recheck");
	a = asg_step(&e, &r, true, 0, 93000, &wake);
	ok(a == ASG_ACT_EVICT, "episode: re-evaluated at the recheck");
	asg_episode_outcome(&e, &r, ASG_OUT_DONE, 94000);
	ok(e.phase == ASG_PHASE_DONE, "episode: done after acting");
	a = asg_step(&e, &r, true, 0, 500000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_DONE && wake == 0,
	    "episode: once per episode, however long it lasts");
	a = asg_step(&e, &r, false, 0, 500001, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_IDLE,
	    "episode: ends when the verdict leaves UNHEALTHY");

	/* A waiting refusal ends with the episode. */
	a = asg_step(&e, &r, true, 0, 600000, &wake);
	ok(e.started == 600000, "episode: a new one begins");
	a = asg_step(&e, &r, true, 0, 660000, &wake);
	asg_episode_outcome(&e, &r, ASG_OUT_RETRY, 660000);
	a = asg_step(&e, &r, false, 0, 661000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_IDLE,
	    "episode: recovery ends a wait for a recheck");
	a = asg_step(&e, &r, true, 0, 700000, &wake);
	a = asg_step(&e, &r, false, 0, 730000, &wake);
	ok(e.phase == ASG_PHASE_IDLE, "episode: recovery while confirming");

	/* Restarts first. */
	r.restart_attempts = 2;
	memset(&e, 0, sizeof(e));
	a = asg_step(&e, &r, true, 0, 1000, &wake);
	a = asg_step(&e, &r, true, 0, 61000, &wake);
	ok(a == ASG_ACT_RESTART && e.phase == ASG_PHASE_RESTART &&
	        e.restarts == 1,
	    "restart: the first after confirm_seconds");
	a = asg_step(&e, &r, false, 1, 62000, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_RESTART,
	    "restart: the episode waits for the command");
	asg_episode_outcome(&e, &r, ASG_OUT_RESTARTED, 70000);
	ok(e.phase == ASG_PHASE_CONFIRM && e.confirm_from == 70000,
	    "restart: a fresh confirm window from its end");
	a = asg_step(&e, &r, true, 1, 69990, &wake);
	ok(a == ASG_ACT_NONE && e.phase == ASG_PHASE_CONFIRM,
	    "restart: a clock read earlier than the outcome does not act");
	a = asg_step(&e, &r, true, 1, 129999, &wake);
	ok(a == ASG_ACT_NONE && wake == 130000,
	    "restart: the app gets confirm_seconds to recover");
	a = asg_step(&e, &r, true, 1, 130000, &wake);
	ok(a == ASG_ACT_RESTART && e.restarts == 2,
	    "restart: the second, still below restart_attempts");
	asg_episode_outcome(&e, &r, ASG_OUT_RESTARTED, 131000);
	a = asg_step(&e, &r, true, 2, 191000, &wake);
	ok(a == ASG_ACT_EVICT && e.restarts == 2,
	    "restart: the fault survived restart_attempts: escalate");
	asg_episode_outcome(&e, &r, ASG_OUT_DONE, 191000);
	a = asg_step(&e, &r, false, 2, 200000, &wake);
	ok(e.phase == ASG_PHASE_IDLE, "restart: episode over");
	a = asg_step(&e, &r, true, 2, 201000, &wake);
	ok(e.restarts == 0, "restart: a new episode counts afresh");
	a = asg_step(&e, &r, true, 2, 261000, &wake);
	ok(a == ASG_ACT_EVICT,
	    "restart: window already full from the last episode: escalate");
	asg_episode_outcome(&e, &r, ASG_OUT_DONE, 261000);
	a = asg_step(&e, &r, false, 0, 262000, &wake);
	a = asg_step(&e, &r, true, 1, 263000, &wake);
	a = asg_step(&e, &r, true, 1, 323000, &wake);
	ok(a == ASG_ACT_RESTART, "restart: room in the window again");
	asg_episode_outcome(&e, &r, ASG_OUT_RESTARTED, 324000);
	a = asg_step(&e, &r, false, 2, 325000, &wake);
	ok(e.phase == ASG_PHASE_IDLE, "restart: the restart fixed it");

	r.confirm = 0;
	memset(&e, 0, sizeof(e));
	a = asg_step(&e, &r, true, 2, 5000, &wake);
	ok(a == ASG_ACT_EVICT, "confirm_seconds 0 acts at once");
}

/* The object on the real loop, without AWS access. */

static struct ev *loop;
static struct health *hl;
static struct asg *ag;
static size_t c_app, c_db;

static void
stop_cb(void *arg)
{
	(void)arg;
	ev_stop(loop);
}

static void
report(size_t i, bool good)
{
	struct health_result r;

	health_result_set(&r, good, good ? HEALTH_R_OK : HEALTH_R_STATUS,
	    good ? "ok" : "status 500");
	health_report(hl, i, &r, util_now_ms());
}

static json_object *root;

static void
status_free(void)
{
	if (root != NULL)
		json_object_put(root);
	root = NULL;
}

static json_object *
status_of(void)
{
	json_object *o = NULL;

	status_free();
	root = json_object_new_object();
	asg_status(ag, root);
	json_object_object_get_ex(root, "autoscaling", &o);
	return o;
}

static const char *
jstr(json_object *o, const char *path)
{
	char buf[128], *save = NULL, *k;
	json_object *cur = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k != NULL;
	     k = strtok_r(NULL, ".", &save))
		if (cur == NULL || !json_object_object_get_ex(cur, k, &cur))
			return "(missing)";
	if (cur == NULL)
		return "(null)";
	return json_object_get_string(cur);
}

/* Running, as opposed to gone or a zombie left to whoever reaps orphans. */
static int
proc_alive(long pid)
{
	char p[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	f = fopen(p, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp == NULL || rp[1] == '\0' || rp[2] != 'Z';
}

static int
lines_in(const char *path)
{
	FILE *fp = fopen(path, "r");
	int n = 0, ch;

	if (fp == NULL)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n;
}

static struct conf *
base_conf(void)
{
	static struct conf c;
	static char state[600];

	memset(&c, 0, sizeof(c));
	snprintf(state, sizeof(state), "%s/objstate", tmpdir);
	c.asg_set_instance_health = true;
	c.asg_confirm_seconds = 0.1;
	c.asg_max_unhealthy_percent = 30;
	c.asg_min_healthy_instances = 1;
	c.asg_recheck_interval = 0.2;
	c.asg_restart_attempts = 2;
	c.asg_restart_window = 600;
	c.asg_restart_timeout = 5;
	c.state_dir = state;
	c.aws_autoscaling_group = (char *)"";
	return &c;
}

static struct ev_timer *ticker;
static int (*until)(void);

/* The daemon's sample tick, every 10 ms here. */
static void
ticker_cb(void *arg)
{
	(void)arg;
	health_tick(hl, util_now_ms());
	asg_observe(ag, hl, util_now_ms());
	if (until != NULL && until())
		ev_stop(loop);
	else
		ev_timer_arm(ticker, 10);
}

/* Run the loop for ms, or until the condition holds if one is set. */
static void
loop_for(mono_ms ms)
{
	struct ev_timer *stop = ev_timer_new(loop, stop_cb, NULL);

	ev_timer_arm(ticker, 0);
	ev_timer_arm(stop, ms);
	ev_run(loop);
	ev_timer_free(stop);
	ev_timer_disarm(ticker);
}

static void
loop_until(int (*cond)(void), mono_ms max_ms)
{
	until = cond;
	loop_for(max_ms);
	until = NULL;
}

static int
episode_done(void)
{
	return strcmp(jstr(status_of(), "episode.state"), "done") == 0;
}

static int
restart_ended(void)
{
	return strcmp(jstr(status_of(), "last_restart"), "(null)") != 0;
}

static void
new_health(void)
{
	struct health_check_params p;

	health_free(hl);
	hl = health_new(util_now_ms(), 0);
	memset(&p, 0, sizeof(p));
	p.name = "app";
	p.rise = 1;
	p.fall = 1;
	p.initial = HEALTH_C_UNKNOWN;
	p.interval = 60000;
	p.timeout = 1000;
	c_app = health_add_check(hl, &p, util_now_ms());
	p.name = "db";
	p.dependency = true;
	c_db = health_add_check(hl, &p, util_now_ms());
	report(c_app, true);
	report(c_db, true);
	health_tick(hl, util_now_ms());
}

static char got_group[64];
static int group_calls;

static void
group_cb(const char *group, void *arg)
{
	(void)arg;
	group_calls++;
	snprintf(got_group, sizeof(got_group), "%s", group ? group : "(none)");
}

static void
test_object(void)
{
	struct conf *c = base_conf();
	char marker[600], script[1200], pidf[600];
	char *argv[4];
	json_object *st;
	pid_t pid = 0;
	FILE *fp;

	loop = ev_new();
	ticker = ev_timer_new(loop, ticker_cb, NULL);
	snprintf(marker, sizeof(marker), "%s/restarts", tmpdir);
	snprintf(script, sizeof(script), "echo run >> %s; echo restarted app",
	    marker);
	argv[0] = (char *)"/bin/sh";
	argv[1] = (char *)"-c";
	argv[2] = script;
	argv[3] = NULL;
	memcpy(c->asg_restart_argv, argv, sizeof(argv));
	c->asg_restart_argc = 3;

	new_health();
	ag = asg_new(loop, NULL, NULL, c);
	asg_set_identity(ag, "i-0abc", group_cb, NULL);
	is_int(group_calls, 0, "object: no group callback while unknown");
	ok(asg_group(ag) == NULL, "object: no group without a lookup");
	loop_for(50);
	is_str(health_state_names[health_state(hl)], "healthy",
	    "object: healthy to begin with");

	report(c_db, false);
	loop_for(400);
	is_str(health_state_names[health_state(hl)], "degraded",
	    "object: a dependency failure is DEGRADED");
	st = status_of();
	is_str(jstr(st, "episode.state"), "none",
	    "object: a dependency failure starts no episode");
	is_int(lines_in(marker), 0, "object: and runs no restart");

	report(c_app, false);
	loop_until(episode_done, 5000);
	is_int(lines_in(marker), 2,
	    "object: restart_command ran restart_attempts (2) times");
	st = status_of();
	is_str(jstr(st, "episode.state"), "done",
	    "object: then escalated, and the episode is done");
	is_str(jstr(st, "episode.restarts"), "2", "object: 2 restarts shown");
	is_str(jstr(st, "last_action.what"), "SetInstanceHealth",
	    "object: the last action is the eviction step");
	is_str(jstr(st, "last_action.result"), "not called: no AWS access",
	    "object: which could not call without AWS access");
	is_str(jstr(st, "eviction"), "disabled: no AWS access",
	    "object: status says why eviction is off");
	is_str(jstr(st, "evicted_this_boot"), "false",
	    "object: nothing recorded");

	report(c_app, true);
	report(c_db, true);
	loop_for(50);
	st = status_of();
	is_str(jstr(st, "episode.state"), "none",
	    "object: recovery ends the episode");
	report(c_app, false);
	loop_until(episode_done, 3000);
	is_int(lines_in(marker), 2,
	    "object: no restart while the window is full (monit-style)");
	st = status_of();
	is_str(jstr(st, "episode.state"), "done",
	    "object: the next episode escalates at once");
	is_str(jstr(st, "episode.restarts_in_window"), "2",
	    "object: 2 restarts in the window");
	asg_free(ag);

	/* Draining and recovery do not trigger. */
	new_health();
	c->asg_restart_argc = 0;
	c->asg_restart_argv[0] = NULL;
	ag = asg_new(loop, NULL, NULL, c);
	health_set_draining(hl, true, "test", util_now_ms());
	report(c_app, false);
	loop_for(300);
	st = status_of();
	is_str(jstr(st, "episode.state"), "none",
	    "object: DRAINING starts no episode");
	asg_free(ag);

	/* set_instance_health off: observe, never call. */
	new_health();
	c->asg_set_instance_health = false;
	ag = asg_new(loop, NULL, NULL, c);
	report(c_app, false);
	loop_until(episode_done, 3000);
	st = status_of();
	is_str(jstr(st, "eviction"),
	    "disabled: autoscaling.set_instance_health is false",
	    "object: disabled is shown");
	is_str(jstr(st, "last_action.result"),
	    "not called: autoscaling.set_instance_health is false",
	    "object: and the episode ends without a call");
	asg_free(ag);
	c->asg_set_instance_health = true;

	/* dry_run runs no restart_command either; it walks on to eviction. */
	new_health();
	snprintf(script, sizeof(script), "echo run >> %s", marker);
	c->asg_restart_argv[0] = argv[0];
	c->asg_restart_argv[1] = argv[1];
	c->asg_restart_argv[2] = script;
	c->asg_restart_argv[3] = NULL;
	c->asg_restart_argc = 3;
	c->asg_restart_attempts = 1;
	c->asg_dry_run = true;
	ag = asg_new(loop, NULL, NULL, c);
	report(c_app, false);
	loop_until(episode_done, 3000);
	st = status_of();
	is_int(lines_in(marker), 2, "object: dry run runs no restart_command");
	is_str(jstr(st, "last_restart.result"), "dry run: not run",
	    "object: dry run shows the restart it would run");
	is_str(jstr(st, "episode.state"), "done",
	    "object: and goes on to the eviction step");
	is_str(jstr(st, "dry_run"), "true", "object: dry_run in status");
	asg_free(ag);
	c->asg_dry_run = false;

	/* A hung restart is killed with its group at restart_timeout. */
	new_health();
	snprintf(pidf, sizeof(pidf), "%s/bg.pid", tmpdir);
	snprintf(script, sizeof(script), "sleep 30 & echo $! > %s; sleep 30",
	    pidf);
	c->asg_restart_argv[0] = argv[0];
	c->asg_restart_argv[1] = argv[1];
	c->asg_restart_argv[2] = script;
	c->asg_restart_argv[3] = NULL;
	c->asg_restart_argc = 3;
	c->asg_restart_timeout = 0.3;
	c->asg_restart_attempts = 1;
	ag = asg_new(loop, NULL, NULL, c);
	report(c_app, false);
	loop_until(restart_ended, 5000);
	st = status_of();
	ok(strncmp(jstr(st, "last_restart.result"), "timed out after ", 16) ==
	        0,
	    "object: the hung restart is killed at restart_timeout (%s)",
	    jstr(st, "last_restart.result"));
	fp = fopen(pidf, "r");
	if (fp != NULL) {
		if (fscanf(fp, "%d", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	usleep(100000);
	ok(pid > 0 && !proc_alive(pid),
	    "object: its background child was killed with the group");
	asg_free(ag);

	/* A restart in flight at asg_free is killed and reaped. */
	new_health();
	snprintf(script, sizeof(script), "echo $$ > %s; exec sleep 30", pidf);
	unlink(pidf);
	c->asg_restart_timeout = 30;
	ag = asg_new(loop, NULL, NULL, c);
	report(c_app, false);
	loop_for(400);
	st = status_of();
	is_str(jstr(st, "episode.state"), "restarting",
	    "object: restart in flight");
	asg_free(ag);
	child_reap_all();
	pid = 0;
	fp = fopen(pidf, "r");
	if (fp != NULL) {
		if (fscanf(fp, "%d", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	ok(pid > 0 && !proc_alive(pid) && waitpid(-1, NULL, WNOHANG) <= 0,
	    "object: freeing kills the restart and reaps it");

	/* A configured group is used at once. */
	new_health();
	c->aws_autoscaling_group = (char *)"web-asg";
	ag = asg_new(loop, NULL, NULL, c);
	group_calls = 0;
	asg_set_identity(ag, "i-0abc", group_cb, NULL);
	ok(group_calls == 1 && strcmp(got_group, "web-asg") == 0,
	    "object: a configured group is reported at once");
	is_str(asg_group(ag), "web-asg", "object: asg_group");
	asg_free(ag);
	c->aws_autoscaling_group = (char *)"";

	/* The record of this boot disables eviction; another boot's not. */
	{
		struct asg_record r;
		char err[300];

		memset(&r, 0, sizeof(r));
		asg_boot_id(r.boot_id, sizeof(r.boot_id));
		strcpy(r.instance_id, "i-0abc");
		asg_record_save(c->state_dir, &r, err, sizeof(err));
		ag = asg_new(loop, NULL, NULL, c);
		st = status_of();
		is_str(jstr(st, "evicted_this_boot"), "true",
		    "object: a record of this boot is honoured");
		is_str(jstr(st, "eviction"), "done: evicted earlier this boot",
		    "object: and shown");
		asg_free(ag);
		strcpy(r.boot_id, "11111111-2222-3333-4444-555555555555");
		asg_record_save(c->state_dir, &r, err, sizeof(err));
		ag = asg_new(loop, NULL, NULL, c);
		st = status_of();
		is_str(jstr(st, "evicted_this_boot"), "false",
		    "object: a record of another boot is not");
		asg_free(ag);
	}

	health_free(hl);
	ev_timer_free(ticker);
	status_free();
	ev_free(loop);
}

static void
cleanup(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

int
main(void)
{
	log_init(getenv("TEST_VERBOSE") != NULL ? LOG_LEVEL_DEBUG
	                                        : LOG_LEVEL_ERR,
	    false);
	umask(027); /* as under the systemd unit */
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_may_evict();
	test_parse();
	test_record();
	test_episode();
	test_object();
	cleanup();
	return done_testing();
}
