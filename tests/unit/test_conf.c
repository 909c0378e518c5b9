/* SPDX-License-Identifier: ISC */
/*
 * Tests for the configuration loader: every file in tests/conf/good must
 * load without errors, every file in tests/conf/bad must fail with the
 * messages its "# expect:" lines name, parsed values and defaults are
 * checked directly (the aws, cloudwatch, autoscaling, lifecycle, notify and
 * eip groups included), and every key of the table must be in the manual
 * page, in the part that documents its group.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudwatch.h"
#include "conf.h"
#include "healthagent.h"
#include "log.h"
#include "tap.h"

static const char *top;

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf files of a directory, sorted; returns how many. */
static size_t
list_dir(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".conf") == 0) {
			v = realloc(v, (n + 1) * sizeof(*v));
			if (asprintf(&v[n], "%s/%s", dir, de->d_name) < 0)
				abort();
			n++;
		}
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmpstr);
	*out = v;
	return n;
}

/* "file:LINE: " with LINE > 0 at the start of m. */
static int
has_location(const char *m)
{
	regex_t re;
	int ok;

	if (regcomp(&re, "^[^ ]+\\.conf:[1-9][0-9]*: [^ ]", REG_EXTENDED) != 0)
		return 0;
	ok = regexec(&re, m, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static void
test_good(void)
{
	char dir[4096], **files = NULL;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/tests/conf/good", top);
	n = list_dir(dir, &files);
	ok(n >= 5, "found %zu good configs", n);
	for (size_t i = 0; i < n; i++) {
		struct conf_errors errs = {0};
		struct conf *c = conf_load(files[i], &errs);

		ok(c != NULL && errs.n == 0, "good: %s loads", files[i]);
		for (size_t j = 0; j < errs.n; j++)
			printf("#   %s\n", errs.msgs[j]);
		conf_free(c);
		conf_errors_free(&errs);
		free(files[i]);
	}
	free(files);
}

static void
test_bad(void)
{
	char dir[4096], **files = NULL;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/tests/conf/bad", top);
	n = list_dir(dir, &files);
	ok(n >= 20, "found %zu bad configs", n);
	for (size_t i = 0; i < n; i++) {
		struct conf_errors errs = {0};
		struct conf *c = conf_load(files[i], &errs);
		char *text = slurp(files[i]), *line, *save = NULL;
		int nexp = 0, located = 1;

		ok(c == NULL && errs.n > 0, "bad: %s fails (%zu errors)",
		    files[i], errs.n);
		for (size_t j = 0; j < errs.n; j++) {
			if (!has_location(errs.msgs[j])) {
				located = 0;
				printf("#   no file:line: %s\n", errs.msgs[j]);
			}
		}
		ok(located, "bad: %s: every message has file:line", files[i]);
		for (line = strtok_r(text, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			const char *want;
			int found = 0;

			if (strncmp(line, "# expect: ", 10) != 0)
				continue;
			want = line + 10;
			nexp++;
			for (size_t j = 0; j < errs.n; j++)
				if (strstr(errs.msgs[j], want) != NULL)
					found = 1;
			if (!ok(found, "bad: %s: %s", files[i], want))
				for (size_t j = 0; j < errs.n; j++)
					printf("#   got: %s\n", errs.msgs[j]);
		}
		ok(nexp > 0, "bad: %s has # expect: lines", files[i]);
		free(text);
		conf_free(c);
		conf_errors_free(&errs);
		free(files[i]);
	}
	free(files);
}

/* The exact sample from the issue. */
static const char issue_sample[] =
    "health: {\n"
    "  listen = \"0.0.0.0:8099\";    # host:port; IPv6 \"[::]:8099\" works "
    "too\n"
    "  path = \"/health\";\n"
    "  start_grace = 60;           # seconds after start during which "
    "failures don't count as unhealthy\n"
    "};\n"
    "checks = (\n"
    "  { name = \"app\";   type = \"process\"; pidfile = \"/run/app.pid\"; },\n"
    "  { name = \"web\";   type = \"http\";    url = "
    "\"http://127.0.0.1:8080/healthz\"; expect_status = [200, 204];\n"
    "    interval = 1.0; timeout = 0.5; rise = 2; fall = 3; },\n"
    "  { name = \"redis\"; type = \"tcp\";     address = \"10.0.0.5:6379\"; "
    "scope = \"dependency\"; },\n"
    "  { name = \"disk\";  type = \"exec\";    command = "
    "[\"/usr/local/bin/check-disk\", \"--min-free\", \"5%\"]; timeout = "
    "5.0; },\n"
    "  { name = \"mem\";   type = \"threshold\"; metric = "
    "\"mem_used_percent\"; max = 95.0; for = 30; }\n"
    ");\n";

static void
test_issue_sample(void)
{
	struct conf_errors errs = {0};
	struct conf *c =
	    conf_load_string(issue_sample, "sample.conf", NULL, &errs);

	if (access("/usr/local/bin/check-disk", X_OK) == 0) {
		ok(c != NULL && errs.n == 0, "issue sample loads as is");
	} else {
		/* the only problem is the program that is not installed */
		is_int(errs.n, 1, "issue sample: one error without check-disk");
		ok(errs.n == 1 &&
		        strcmp(errs.msgs[0],
		            "sample.conf:11: check \"disk\": command: "
		            "\"/usr/local/bin/check-disk\": No such file or "
		            "directory") == 0,
		    "issue sample: missing program reported: %s",
		    errs.n ? errs.msgs[0] : "(none)");
	}
	conf_free(c);
	conf_errors_free(&errs);
}

static struct conf *
load_top(const char *rel)
{
	char path[4096];
	struct conf_errors errs = {0};
	struct conf *c;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	c = conf_load(path, &errs);
	for (size_t j = 0; j < errs.n; j++)
		printf("#   %s\n", errs.msgs[j]);
	conf_errors_free(&errs);
	return c;
}

static void
test_sample_values(void)
{
	struct conf *c = load_top("tests/conf/good/issue-sample.conf");
	const struct conf_check *ck;
	const struct sockaddr_in *sin;

	if (!ok(c != NULL, "issue-sample.conf loads"))
		return;
	is_str(c->listen, "0.0.0.0:8099", "listen");
	sin = (const struct sockaddr_in *)&c->listen_addr;
	is_int(c->listen_addr.ss_family, AF_INET, "listen family");
	is_int(ntohs(sin->sin_port), 8099, "listen port");
	is_int(c->listen_addrlen, sizeof(struct sockaddr_in), "listen len");
	is_str(c->health_path, "/health", "path");
	is_dbl(c->start_grace, 60, 1e-9, "start_grace int form");
	is_int(c->n_checks, 5, "5 checks");

	ck = conf_find_check(c, "app");
	ok(ck != NULL && ck->type == CONF_CHECK_PROCESS, "app is process");
	if (ck != NULL) {
		is_str(ck->pidfile, "/run/app.pid", "app pidfile");
		is_int(ck->min_count, 1, "app min default");
		is_int(ck->max_count, 0, "app max default");
		is_dbl(ck->interval, 5, 1e-9, "app interval default");
		is_dbl(ck->timeout, 2, 1e-9, "app timeout default");
		is_dbl(ck->jitter, 5, 1e-9, "app jitter default = interval");
		is_int(ck->rise, 2, "app rise default");
		is_int(ck->fall, 3, "app fall default");
		is_int(ck->scope, CONF_SCOPE_LOCAL, "app scope default");
		is_int(ck->initial, CONF_INITIAL_UNKNOWN, "initial default");
		ok(ck->cmdline == NULL && !ck->has_user, "no other matchers");
	}
	ck = conf_find_check(c, "web");
	ok(ck != NULL && ck->type == CONF_CHECK_HTTP, "web is http");
	if (ck != NULL) {
		is_str(ck->url, "http://127.0.0.1:8080/healthz", "web url");
		is_int(ck->n_expect_status, 2, "web 2 statuses");
		is_int(ck->expect_status[0], 200, "web status 0");
		is_int(ck->expect_status[1], 204, "web status 1");
		is_dbl(ck->interval, 1.0, 1e-9, "web interval");
		is_dbl(ck->timeout, 0.5, 1e-9, "web timeout");
		is_dbl(ck->jitter, 1.0, 1e-9, "web jitter default");
		ok(!ck->tls && !ck->insecure, "web: no tls");
		ok(ck->expect_body == NULL && ck->n_headers == 0,
		    "web: no body");
	}
	ck = conf_find_check(c, "redis");
	ok(ck != NULL && ck->type == CONF_CHECK_TCP, "redis is tcp");
	if (ck != NULL) {
		is_str(ck->address, "10.0.0.5:6379", "redis address");
		is_int(ck->scope, CONF_SCOPE_DEPENDENCY, "redis dependency");
	}
	ck = conf_find_check(c, "disk");
	ok(ck != NULL && ck->type == CONF_CHECK_EXEC, "disk is exec");
	if (ck != NULL) {
		is_int(ck->argc, 3, "disk argc");
		is_str(ck->argv[0], "/bin/sh", "disk argv0");
		is_str(ck->argv[2], "exit 0", "disk argv2");
		ok(ck->argv[3] == NULL, "argv NULL-terminated");
		is_dbl(ck->timeout, 5.0, 1e-9, "disk timeout");
	}
	ck = conf_find_check(c, "mem");
	ok(ck != NULL && ck->type == CONF_CHECK_THRESHOLD, "mem threshold");
	if (ck != NULL) {
		is_int(ck->metric, CONF_METRIC_MEM, "mem metric");
		ok(ck->has_max && !ck->has_min, "mem has max only");
		is_dbl(ck->max, 95.0, 1e-9, "mem max");
		is_dbl(ck->for_seconds, 30, 1e-9, "mem for (int form)");
	}
	ok(conf_find_check(c, "nope") == NULL, "find_check unknown");
	conf_free(c);
}

static void
test_defaults(void)
{
	struct conf_errors errs = {0};
	struct conf *c = conf_load_string("", "empty", NULL, &errs);

	if (!ok(c != NULL && errs.n == 0, "empty config loads"))
		return;
	is_str(c->listen, "0.0.0.0:8099", "default listen");
	is_int(c->listen_addr.ss_family, AF_INET, "default listen family");
	is_str(c->health_path, "/health", "default path");
	is_dbl(c->start_grace, 60, 1e-9, "default start_grace");
	is_dbl(c->drain_seconds, 10, 1e-9, "default drain");
	is_int(c->max_connections, 256, "default max_connections");
	is_dbl(c->header_timeout, 5, 1e-9, "default header_timeout");
	is_dbl(c->idle_timeout, 30, 1e-9, "default idle_timeout");
	is_int(c->n_status_allow, 2, "default status_allow");
	is_str(c->socket_path, HEALTHAGENT_SOCK, "default socket");
	is_int(c->socket_mode, 0660, "default socket_mode");
	is_dbl(c->sample_interval, 1.0, 1e-9, "default sample_interval");
	is_str(c->disk_path, "/", "default disk_path");
	is_int(c->log_level, LOG_LEVEL_INFO, "default log_level");
	is_str(c->state_dir, HEALTHAGENT_STATE_DIR, "default state_dir");
	is_int(c->n_checks, 0, "no checks");
	is_str(c->path, "empty", "path is the name");

	/* aws { }: "" = discover */
	is_str(c->aws_region, "", "default aws.region");
	is_str(c->aws_instance_id, "", "default aws.instance_id");
	is_str(c->aws_availability_zone, "", "default aws.availability_zone");
	is_str(c->aws_instance_type, "", "default aws.instance_type");
	is_str(c->aws_autoscaling_group, "", "default aws.autoscaling_group");
	is_str(c->aws_profile, "", "default aws.profile");
	is_str(c->aws_imds_endpoint, "", "default aws.imds_endpoint");
	is_str(c->aws_endpoint_url, "", "default aws.endpoint_url");
	is_str(c->aws_cloudwatch_endpoint, "", "default cloudwatch_endpoint");
	is_str(c->aws_autoscaling_endpoint, "", "default autoscaling_endpoint");
	is_int(c->aws_max_attempts, 3, "default aws.max_attempts");
	is_dbl(c->aws_timeout, 10, 1e-9, "default aws.timeout");

	/* cloudwatch { } */
	ok(c->cw_enabled, "cloudwatch enabled by default");
	is_str(c->cw_namespace, "HealthAgent", "default namespace");
	is_dbl(c->cw_interval, 60, 1e-9, "default cloudwatch.interval");
	is_int(c->cw_storage_resolution, 60, "default storage_resolution");
	is_int(c->n_cw_dimensions, 2, "default: two dimension sets");
	if (c->n_cw_dimensions == 2) {
		is_str(c->cw_dimensions[0], "InstanceId", "default dim 0");
		is_str(c->cw_dimensions[1], "AutoScalingGroupName",
		    "default dim 1");
	}
	is_int(c->n_cw_metrics, CW_METRIC_MAX, "default: every metric");
	for (size_t i = 0; i < c->n_cw_metrics && i < CW_METRIC_MAX; i++)
		is_str(c->cw_metrics[i], cloudwatch_metric_names[i],
		    "default metric %zu", i);
	is_dbl(c->cw_buffer_seconds, 3600, 1e-9, "default buffer_seconds");
	ok(c->cw_gzip, "gzip by default");

	/* autoscaling { } */
	ok(!c->asg_set_instance_health, "set_instance_health off by default");
	is_dbl(c->asg_confirm_seconds, 60, 1e-9, "default confirm_seconds");
	ok(!c->asg_dry_run, "dry_run off by default");
	is_dbl(c->asg_max_unhealthy_percent, 30, 1e-9,
	    "default max_unhealthy_percent");
	is_int(c->asg_min_healthy_instances, 1, "default min_healthy");
	ok(!c->asg_respect_grace_period, "respect_grace_period off");
	is_dbl(c->asg_recheck_interval, 60, 1e-9, "default recheck_interval");
	is_int(c->asg_restart_argc, 0, "no restart_command by default");
	ok(c->asg_restart_argv[0] == NULL, "restart argv empty");
	is_int(c->asg_restart_attempts, 3, "default restart_attempts");
	is_dbl(c->asg_restart_window, 600, 1e-9, "default restart_window");
	is_dbl(c->asg_restart_timeout, 60, 1e-9, "default restart_timeout");

	/* lifecycle, notify, eip: all off by default */
	is_str(c->aws_ec2_endpoint, "", "default ec2_endpoint");
	is_str(c->aws_sns_endpoint, "", "default sns_endpoint");
	is_str(c->lc_launch_hook, "", "no launch hook by default");
	is_str(c->lc_terminate_hook, "", "no terminate hook by default");
	is_dbl(c->lc_launch_timeout, 600, 1e-9, "default launch_timeout");
	is_dbl(c->lc_heartbeat_interval, 60, 1e-9,
	    "default heartbeat_interval");
	is_dbl(c->lc_watch_interval, 5, 1e-9, "default watch_interval");
	ok(!c->lc_rebalance_drain, "rebalance = report by default");
	ok(c->lc_watch_spot, "spot on by default");
	is_int(c->lc_drain_argc, 0, "no drain_command by default");
	ok(c->lc_drain_argv[0] == NULL, "drain argv empty");
	is_dbl(c->lc_drain_timeout, 60, 1e-9, "default drain_timeout");
	is_str(c->sns_topic_arn, "", "no SNS topic by default");
	is_str(c->eip_allocation_id, "", "no Elastic IP by default");
	conf_free(c);
}

static void
test_lifecycle_values(void)
{
	struct conf *c = load_top("tests/conf/good/lifecycle.conf");

	if (!ok(c != NULL, "lifecycle.conf loads"))
		return;
	is_str(c->aws_ec2_endpoint, "https://ec2.eu-central-1.amazonaws.com",
	    "ec2_endpoint");
	is_str(c->aws_sns_endpoint, "http://127.0.0.1:5000/sns/",
	    "sns_endpoint with a path");
	is_str(c->lc_launch_hook, "web/launch-ready_1", "launch_hook");
	is_str(c->lc_terminate_hook, "drain-hook", "terminate_hook");
	is_dbl(c->lc_launch_timeout, 900, 1e-9, "launch_timeout");
	is_dbl(c->lc_heartbeat_interval, 30.5, 1e-9, "heartbeat_interval");
	is_dbl(c->lc_watch_interval, 2, 1e-9, "watch_interval");
	ok(c->lc_rebalance_drain, "rebalance = drain");
	ok(!c->lc_watch_spot, "spot = false");
	is_int(c->lc_drain_argc, 3, "drain argc");
	is_str(c->lc_drain_argv[0], "/bin/sh", "drain argv0");
	is_str(c->lc_drain_argv[2], "nginx -s quit", "drain argv2");
	ok(c->lc_drain_argv[3] == NULL, "drain argv NULL-terminated");
	is_dbl(c->lc_drain_timeout, 0.5, 1e-9, "drain_timeout");
	is_str(c->sns_topic_arn,
	    "arn:aws:sns:eu-central-1:123456789012:fleet-events",
	    "sns_topic_arn");
	is_str(c->eip_allocation_id, "eipalloc-0a1b2c3d4e5f67890",
	    "allocation_id");
	conf_free(c);

	c = load_top("tests/conf/good/lifecycle-forms.conf");
	if (!ok(c != NULL, "lifecycle-forms.conf loads"))
		return;
	is_str(c->lc_launch_hook, "", "explicit empty launch_hook");
	is_dbl(c->lc_launch_timeout, 10, 1e-9, "launch_timeout minimum");
	is_dbl(c->lc_heartbeat_interval, 7200, 1e-9,
	    "heartbeat_interval maximum");
	is_dbl(c->lc_watch_interval, 60, 1e-9, "watch_interval maximum");
	ok(!c->lc_rebalance_drain, "rebalance = report");
	ok(c->lc_watch_spot, "spot = true");
	is_int(c->lc_drain_argc, 0, "drain_command = []");
	is_dbl(c->lc_drain_timeout, 3600, 1e-9, "drain_timeout maximum");
	is_str(c->sns_topic_arn,
	    "arn:aws-us-gov:sns:us-gov-west-1:000000000000:a_b-c.fifo",
	    "FIFO topic in GovCloud");
	is_str(c->eip_allocation_id, "eipalloc-0123abcd",
	    "8-digit allocation_id");
	conf_free(c);
}

static void
test_aws_values(void)
{
	struct conf *c = load_top("tests/conf/good/aws.conf");

	if (!ok(c != NULL, "aws.conf loads"))
		return;
	is_str(c->state_dir, "/var/lib/healthagent", "state_dir");
	is_str(c->aws_region, "eu-west-1", "region");
	is_str(c->aws_instance_id, "", "explicit \"\" instance_id");
	is_str(c->aws_availability_zone, "eu-west-1b", "availability_zone");
	is_str(c->aws_instance_type, "m6i.2xlarge", "instance_type");
	is_str(c->aws_autoscaling_group, "web-prod-asg", "autoscaling_group");
	is_str(c->aws_profile, "healthagent", "profile");
	is_str(c->aws_imds_endpoint, "http://[fd00:ec2::254]",
	    "v6 imds_endpoint");
	ok(strncmp(c->aws_endpoint_url, "https://vpce-", 13) == 0,
	    "endpoint_url");
	is_str(c->aws_cloudwatch_endpoint,
	    "https://monitoring.eu-west-1.amazonaws.com",
	    "cloudwatch_endpoint");
	is_str(c->aws_autoscaling_endpoint,
	    "https://autoscaling.eu-west-1.amazonaws.com:443/",
	    "autoscaling_endpoint with port and /");
	is_int(c->aws_max_attempts, 5, "max_attempts");
	is_dbl(c->aws_timeout, 2.5, 1e-9, "aws timeout");

	ok(c->cw_enabled, "enabled");
	is_str(c->cw_namespace, "MyApp/Health", "namespace");
	is_dbl(c->cw_interval, 30, 1e-9, "cloudwatch interval");
	is_int(c->cw_storage_resolution, 1, "high resolution");
	is_int(c->n_cw_dimensions, 1, "one dimension set");
	is_str(c->cw_dimensions[0], "AutoScalingGroupName", "group only");
	is_int(c->n_cw_metrics, 4, "4 metrics");
	if (c->n_cw_metrics == 4) {
		is_str(c->cw_metrics[0], "healthy", "metric 0");
		is_str(c->cw_metrics[3], "self_eviction_refused", "metric 3");
	}
	is_dbl(c->cw_buffer_seconds, 7200, 1e-9, "buffer_seconds");
	ok(!c->cw_gzip, "gzip off");

	ok(c->asg_set_instance_health, "set_instance_health");
	is_dbl(c->asg_confirm_seconds, 90, 1e-9, "confirm_seconds");
	ok(c->asg_dry_run, "dry_run");
	is_dbl(c->asg_max_unhealthy_percent, 25.5, 1e-9,
	    "max_unhealthy_percent decimal");
	is_int(c->asg_min_healthy_instances, 2, "min_healthy_instances");
	ok(c->asg_respect_grace_period, "respect_grace_period");
	is_dbl(c->asg_recheck_interval, 120, 1e-9, "recheck_interval");
	is_int(c->asg_restart_argc, 3, "restart argc");
	is_str(c->asg_restart_argv[0], "/bin/sh", "restart argv0");
	is_str(c->asg_restart_argv[2], "systemctl restart app",
	    "restart argv2");
	ok(c->asg_restart_argv[3] == NULL, "restart argv NULL-terminated");
	is_int(c->asg_restart_attempts, 2, "restart_attempts");
	is_dbl(c->asg_restart_window, 900, 1e-9, "restart_window");
	is_dbl(c->asg_restart_timeout, 45, 1e-9, "restart_timeout");
	is_int(c->n_checks, 2, "aws.conf checks");
	conf_free(c);
}

/* Load text; expect success, or one error containing want. */
static void
one(const char *text, const char *want)
{
	struct conf_errors errs = {0};
	struct conf *c = conf_load_string(text, "t.conf", NULL, &errs);

	if (want == NULL)
		ok(c != NULL && errs.n == 0, "accepted: %s%s%s", text,
		    errs.n ? " -- " : "", errs.n ? errs.msgs[0] : "");
	else
		ok(c == NULL && errs.n == 1 &&
		        strstr(errs.msgs[0], want) != NULL,
		    "rejected: %s -- %s", text,
		    errs.n ? errs.msgs[0] : "(no error)");
	conf_free(c);
	conf_errors_free(&errs);
}

static void
test_aws_syntax(void)
{
	/* regions */
	one("aws = { region = \"us-east-1\"; };", NULL);
	one("aws = { region = \"us-gov-west-1\"; };", NULL);
	one("aws = { region = \"ap-southeast-12\"; };", NULL);
	one("aws = { region = \"\"; };", NULL);
	one("aws = { region = \"us-east-1a\"; };", "not a region name");
	one("aws = { region = \"useast-1\"; };", "not a region name");
	one("aws = { region = \"us-east\"; };", "not a region name");
	one("aws = { region = \"u-east-1\"; };", "not a region name");
	one("aws = { region = \"us--east-1\"; };", "not a region name");
	one("aws = { region = \"us-east-1-\"; };", "not a region name");
	one("aws = { region = \"us-east-1 \"; };", "not a region name");
	/* instance ids: 8 or 17 hex digits */
	one("aws = { instance_id = \"i-0123abcd\"; };", NULL);
	one("aws = { instance_id = \"i-0123456789abcdef0\"; };", NULL);
	one("aws = { instance_id = \"i-0123abc\"; };", "not an instance id");
	one("aws = { instance_id = \"i-0123456789abcdef01\"; };",
	    "is too long");
	one("aws = { instance_id = \"i-0123ABCD\"; };", "not an instance id");
	one("aws = { instance_id = \"x-0123abcd\"; };", "not an instance id");
	/* availability zones */
	one("aws = { availability_zone = \"us-west-2-lax-1a\"; };", NULL);
	one("aws = { region = \"us-west-2\"; "
	    "availability_zone = \"us-west-2-lax-1a\"; };",
	    NULL);
	one("aws = { region = \"us-west-2\"; "
	    "availability_zone = \"us-west-20a\"; };",
	    "is not in region \"us-west-2\"");
	one("aws = { availability_zone = \"us-east-1-\"; };",
	    "not an Availability Zone");
	/* instance types */
	one("aws = { instance_type = \"u-6tb1.metal\"; };", NULL);
	one("aws = { instance_type = \"m5.\"; };", "not an instance type");
	one("aws = { instance_type = \"M5.large\"; };", "not an instance type");
	/* endpoints */
	one("aws = { endpoint_url = \"http://127.0.0.1:5000\"; };", NULL);
	one("aws = { cloudwatch_endpoint = \"http://[::1]:5000/\"; };", NULL);
	one("aws = { endpoint_url = \"127.0.0.1:5000\"; };",
	    "must start with http:// or https://");
	one("aws = { endpoint_url = \"http://u:p@127.0.0.1/\"; };",
	    "credentials in the url");
	one("aws = { imds_endpoint = \"http://127.0.0.1/#x\"; };",
	    "must not have a query or fragment");
	one("aws = { profile = \"a[b]\"; };", "not a profile name");
	one("aws = { max_attempts = 10; timeout = 60; };", NULL);
	one("aws = { max_attempts = 11; };", "(must be 1..10)");
	one("aws = { timeout = 60.5; };", "(must be 0.5..60)");
	one("aws = 5;", "aws: must be a group { ... }, not an integer");

	/* cloudwatch */
	one("cloudwatch = { namespace = \"AWS\"; };", NULL);
	one("cloudwatch = { namespace = \"aws/x\"; };", NULL);
	one("cloudwatch = { namespace = \"\"; };", "must not be empty");
	one("cloudwatch = { namespace = \"   \"; };", "must not be blank");
	one("cloudwatch = { namespace = \"caf\xc3\xa9\"; };",
	    "must be printable ASCII");
	one("cloudwatch = { namespace = \"a\\tb\"; };",
	    "contains control characters");
	one("cloudwatch = { storage_resolution = 1; };", NULL);
	one("cloudwatch = { storage_resolution = 0; };", "(must be 1..60)");
	one("cloudwatch = { storage_resolution = 59; };",
	    "59 is not allowed (must be 1 or 60)");
	one("cloudwatch = { interval = 5; };", NULL);
	one("cloudwatch = { interval = 86401; };", "(must be 0.1..86400)");
	one("cloudwatch = { interval = 0.5; };",
	    "interval: 0.5 s is under 1 s, which needs storage_resolution = 1");
	one("cloudwatch = { interval = 0.1; storage_resolution = 1; };", NULL);
	one("cloudwatch = { interval = 7200; };",
	    "interval: 7200 is more than buffer_seconds 3600");
	one("cloudwatch = { interval = 7200; buffer_seconds = 7200; };", NULL);
	one("cloudwatch = { buffer_seconds = 604801; };",
	    "(must be 60..604800)");
	one("cloudwatch = { dimensions = [\"InstanceId\"]; };", NULL);
	one("cloudwatch = { dimensions = \"InstanceId\"; };",
	    "must be an array [ ... ] of strings, not a string");
	one("cloudwatch = { metrics = []; };",
	    "has 0 elements (must be 1..16)");
	one("cloudwatch = { enabled = false; };", NULL);

	/* autoscaling */
	one("autoscaling = { restart_command = []; };", NULL);
	one("autoscaling = { restart_command = [\"/\"]; };",
	    "\"/\" is not a regular file");
	one("autoscaling = { max_unhealthy_percent = 0; "
	    "min_healthy_instances = 0; confirm_seconds = 0; };",
	    NULL);
	one("autoscaling = { min_healthy_instances = 10001; };",
	    "(must be 0..10000)");
	one("autoscaling = { recheck_interval = 0; };", "(must be 1..86400)");
	one("autoscaling = { restart_window = 0.5; };", "(must be 1..86400)");
	one("autoscaling = { restart_timeout = 3601; };",
	    "(must be 0.1..3600)");
	one("autoscaling = { dry_run = 1; };", "must be true or false");
	one("agent = { state_dir = \"\"; };", "must not be empty");
	one("agent = { state_dir = \"/tmp/ha-state\"; };", NULL);

	/* aws: the EC2 and SNS endpoints */
	one("aws = { ec2_endpoint = \"http://127.0.0.1:5000\"; "
	    "sns_endpoint = \"https://[::1]:443/x/\"; };",
	    NULL);
	one("aws = { ec2_endpoint = \"http://u:p@h/\"; };",
	    "ec2_endpoint: bad url \"http://u:p@h/\": credentials in the url");
	one("aws = { sns_endpoint = \"http://h:0/\"; };",
	    "sns_endpoint: bad url \"http://h:0/\": port must be 1-65535");

	/* lifecycle */
	one("lifecycle = { launch_hook = \"a\"; terminate_hook = \"b\"; };",
	    NULL);
	one("lifecycle = { launch_hook = \"A-z_0/9\"; };", NULL);
	one("lifecycle = { launch_hook = \"a.b\"; };",
	    "\"a.b\" is not a lifecycle hook name");
	one("lifecycle = { terminate_hook = \"caf\xc3\xa9\"; };",
	    "is not a lifecycle hook name");
	one("lifecycle = { terminate_hook = \"a\"; launch_hook = \"a\"; };",
	    "terminate_hook: \"a\" is also the launch_hook");
	one("lifecycle = { launch_hook = \"\"; terminate_hook = \"\"; };",
	    NULL);
	one("lifecycle = { launch_timeout = 86401; };", "(must be 10..86400)");
	one("lifecycle = { launch_timeout = 9.5; };", "(must be 10..86400)");
	one("lifecycle = { heartbeat_interval = 4; };", "(must be 5..7200)");
	one("lifecycle = { watch_interval = 61; };", "(must be 1..60)");
	one("lifecycle = { watch_interval = 1; };", NULL);
	one("lifecycle = { rebalance = \"drain\"; };", NULL);
	one("lifecycle = { rebalance = \"Drain\"; };",
	    "rebalance: \"Drain\" is not one of report, drain");
	one("lifecycle = { rebalance = true; };",
	    "rebalance: must be a string, not a boolean");
	one("lifecycle = { spot = 1; };", "spot: must be true or false");
	one("lifecycle = { drain_command = \"/bin/true\"; };",
	    "drain_command: must be an array [ ... ] of strings, not a string");
	one("lifecycle = { drain_command = (\"/bin/true\", 3); };",
	    "element 2 must be a string, not an integer");
	one("lifecycle = { drain_command = [\"/\"]; };",
	    "\"/\" is not a regular file");
	one("lifecycle = { drain_command = [\"/bin/true\", \"--x\"]; "
	    "drain_timeout = 0.1; };",
	    NULL);
	one("lifecycle = { drain_timeout = 3600.5; };", "(must be 0.1..3600)");
	one("lifecycle = 1;",
	    "lifecycle: must be a group { ... }, not an integer");

	/* notify */
	one("notify = { sns_topic_arn = \"\"; };", NULL);
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:123456789012:alerts\"; };",
	    NULL);
	one("notify = { sns_topic_arn = "
	    "\"arn:aws-cn:sns:cn-north-1:123456789012:A_b-9\"; };",
	    NULL);
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:123456789012:t.fifo\"; };",
	    NULL);
	one("notify = { sns_topic_arn = \"alerts\"; };",
	    "\"alerts\" must start with \"arn:aws\"");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:useast1:123456789012:t\"; };",
	    "has no region");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns::123456789012:t\"; };",
	    "has no region");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:1234567890123:t\"; };",
	    "has no 12-digit account id");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:123456789012:\"; };",
	    "has a bad topic name");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:123456789012:a.b\"; };",
	    "has a bad topic name");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:123456789012:.fifo\"; };",
	    "has a bad topic name");
	one("notify = { sns_topic_arn = "
	    "\"arn:aws:sns:us-east-1:123456789012:t:sub\"; };",
	    "has a bad topic name");
	{
		char text[600], name[258];

		memset(name, 'n', 257);
		name[257] = '\0';
		snprintf(text, sizeof(text),
		    "notify = { sns_topic_arn = "
		    "\"arn:aws:sns:us-east-1:123456789012:%s\"; };",
		    name);
		one(text, "has a bad topic name");
		name[256] = '\0';
		snprintf(text, sizeof(text),
		    "notify = { sns_topic_arn = "
		    "\"arn:aws:sns:us-east-1:123456789012:%s\"; };",
		    name);
		one(text, NULL);
	}

	/* eip */
	one("eip = { allocation_id = \"\"; };", NULL);
	one("eip = { allocation_id = \"eipalloc-12345678\"; };", NULL);
	one("eip = { allocation_id = \"eipalloc-0123456789abcdef0\"; };", NULL);
	one("eip = { allocation_id = \"eipalloc-1234567\"; };",
	    "is not an Elastic IP allocation id");
	one("eip = { allocation_id = \"eipassoc-12345678\"; };",
	    "is not an Elastic IP allocation id");
	one("eip = { allocation_id = \"eipalloc-0123456789abcdef01\"; };",
	    "is too long (at most 26 characters)");
	one("eip = { allocation_id = \"203.0.113.7\"; };",
	    "is not an Elastic IP allocation id");
	one("eip = { public_ip = \"203.0.113.7\"; };",
	    "eip: unknown key \"public_ip\"");
}

static void
test_forms(void)
{
	struct conf *c = load_top("tests/conf/good/forms.conf");
	const struct conf_check *ck;

	if (!ok(c != NULL, "forms.conf loads"))
		return;
	is_dbl(c->start_grace, 2.5, 1e-9, "float start_grace");
	is_dbl(c->drain_seconds, 0, 1e-9, "zero drain");
	is_int(c->max_connections, 1024, "hex max_connections");
	is_dbl(c->header_timeout, 1, 1e-9, "int header_timeout");
	is_dbl(c->idle_timeout, 60, 1e-9, "int64 idle_timeout");
	is_int(c->n_status_allow, 0, "empty status_allow");
	is_int(c->socket_mode, 0600, "octal socket_mode");
	is_dbl(c->sample_interval, 0.5, 1e-9, "sample_interval");
	is_str(c->disk_path, "/var", "disk_path");
	is_int(c->log_level, LOG_LEVEL_WARNING, "log_level warning");
	ck = conf_find_check(c, "p1");
	if (ok(ck != NULL, "p1")) {
		ok(ck->cmdline != NULL &&
		        regexec(&ck->cmdline_re, "/usr/sbin/sshd -D", 0, NULL,
		            0) == 0 &&
		        regexec(&ck->cmdline_re, "/usr/sbin/sshdx", 0, NULL,
		            0) != 0,
		    "p1 regex compiled");
		ok(ck->has_user && ck->uid == 0, "p1 user root -> 0");
		is_int(ck->min_count, 1, "p1 min");
		is_int(ck->max_count, 4, "p1 max");
		is_dbl(ck->interval, 10, 1e-9, "p1 int interval");
		is_dbl(ck->timeout, 3, 1e-9, "p1 int timeout");
		is_dbl(ck->jitter, 0, 1e-9, "p1 jitter 0");
		is_int(ck->initial, CONF_INITIAL_UP, "p1 initial up");
	}
	ck = conf_find_check(c, "p2");
	if (ok(ck != NULL, "p2")) {
		ok(ck->has_user && ck->uid == 0, "p2 numeric uid");
		is_dbl(ck->timeout, 0.1, 1e-9, "p2 timeout = interval < 2");
		is_int(ck->initial, CONF_INITIAL_DOWN, "p2 initial down");
	}
	ck = conf_find_check(c, "h1");
	if (ok(ck != NULL, "h1")) {
		is_int(ck->n_expect_status, 1, "h1 scalar expect_status");
		is_int(ck->expect_status[0], 204, "h1 204");
		is_str(ck->expect_body, "OK", "h1 body");
		is_int(ck->n_headers, 2, "h1 headers");
		is_str(ck->headers[0], "X-Probe: healthagent", "h1 header 0");
		ok(!ck->tls, "h1 tls false");
		is_dbl(ck->timeout, 2, 1e-9, "h1 int64 timeout");
	}
	ck = conf_find_check(c, "t1");
	if (ok(ck != NULL, "t1")) {
		ok(ck->has_min && ck->has_max, "t1 min and max");
		is_dbl(ck->min, 1, 1e-9, "t1 int min");
		is_dbl(ck->max, 90, 1e-9, "t1 int max");
		is_dbl(ck->for_seconds, 0.5, 1e-9, "t1 float for");
		is_int(ck->metric, CONF_METRIC_DISK, "t1 metric");
	}
	ck = conf_find_check(c, "t2");
	if (ok(ck != NULL, "t2")) {
		ok(ck->has_min && !ck->has_max, "t2 min only");
		is_dbl(ck->for_seconds, 0, 1e-9, "t2 for default");
	}
	conf_free(c);
}

static void
test_ipv6_include(void)
{
	struct conf *c = load_top("tests/conf/good/ipv6.conf");
	const struct conf_check *ck;

	if (ok(c != NULL, "ipv6.conf loads")) {
		is_int(c->listen_addr.ss_family, AF_INET6, "v6 listen");
		is_int(c->listen_addrlen, sizeof(struct sockaddr_in6),
		    "v6 listen len");
		ck = conf_find_check(c, "web6");
		ok(ck != NULL && ck->tls && ck->insecure, "https -> tls");
		conf_free(c);
	}
	c = load_top("tests/conf/good/include.conf");
	if (ok(c != NULL, "include.conf loads")) {
		is_int(c->log_level, LOG_LEVEL_DEBUG, "included agent group");
		is_dbl(c->sample_interval, 2, 1e-9, "included int number");
		is_int(c->n_checks, 2, "included check");
		ck = conf_find_check(c, "included");
		ok(ck != NULL && ck->metric == CONF_METRIC_LOAD1,
		    "included check parsed");
		conf_free(c);
	}
}

/* fuzz_conf corpus regress-include-directory.conf: an @include naming a
 * directory made libconfig's scanner call exit(). */
static void
test_include_not_file(void)
{
	static const char *const texts[] = {"@include \"\"\n",
	    "checks = (\n  @include \"good\"\n);\n", "@include \"\\x2e\"\n"};
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/tests/conf", top);
	for (size_t i = 0; i < 3; i++) {
		struct conf_errors errs = {0};
		struct conf *c =
		    conf_load_string(texts[i], "inc.conf", dir, &errs);

		ok(c == NULL && errs.n == 1 &&
		        strstr(errs.msgs[0], "inc.conf: @include") ==
		            errs.msgs[0],
		    "@include of a directory or with escapes refused (%s)",
		    errs.n ? errs.msgs[0] : "no error");
		conf_free(c);
		conf_errors_free(&errs);
	}
}

static void
test_status_allowed(void)
{
	struct conf_errors errs = {0};
	struct conf *c = conf_load_string("health = { status_allow = "
	                                  "[\"10.1.0.0/16\", \"fd00::/8\", "
	                                  "\"192.0.2.7\"]; };",
	    "allow", NULL, &errs);
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;

	if (!ok(c != NULL, "status_allow config loads"))
		return;
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	inet_pton(AF_INET, "10.1.200.3", &a4.sin_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a4), "v4 in /16");
	inet_pton(AF_INET, "10.2.0.1", &a4.sin_addr);
	ok(!conf_status_allowed(c, (struct sockaddr *)&a4), "v4 outside");
	inet_pton(AF_INET, "192.0.2.7", &a4.sin_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a4), "v4 host /32");
	inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
	ok(!conf_status_allowed(c, (struct sockaddr *)&a4),
	    "loopback not allowed when not listed");
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &a6.sin6_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a6),
	    "v4-mapped v6 matches v4 net");
	inet_pton(AF_INET6, "::ffff:10.9.2.3", &a6.sin6_addr);
	ok(!conf_status_allowed(c, (struct sockaddr *)&a6),
	    "v4-mapped outside");
	inet_pton(AF_INET6, "fd12::1", &a6.sin6_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a6), "v6 in fd00::/8");
	inet_pton(AF_INET6, "fe80::1", &a6.sin6_addr);
	ok(!conf_status_allowed(c, (struct sockaddr *)&a6), "v6 outside");
	conf_free(c);

	c = conf_load_string("", "def", NULL, &errs);
	inet_pton(AF_INET, "127.3.4.5", &a4.sin_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a4),
	    "default allows 127/8");
	inet_pton(AF_INET6, "::1", &a6.sin6_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a6), "default ::1");
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a6.sin6_addr);
	ok(conf_status_allowed(c, (struct sockaddr *)&a6),
	    "default v4-mapped loopback");
	inet_pton(AF_INET, "10.0.0.1", &a4.sin_addr);
	ok(!conf_status_allowed(c, (struct sockaddr *)&a4),
	    "default denies 10.0.0.1");
	conf_free(c);

	c = conf_load_string("health = { status_allow = [\"0.0.0.0/0\"]; };",
	    "open", NULL, &errs);
	inet_pton(AF_INET, "203.0.113.9", &a4.sin_addr);
	ok(c != NULL && conf_status_allowed(c, (struct sockaddr *)&a4),
	    "0.0.0.0/0 opens up");
	conf_free(c);
	conf_errors_free(&errs);
}

static void
test_errors_misc(void)
{
	struct conf_errors errs = {0};
	struct conf *c;

	c = conf_load("/nonexistent/healthagent.conf", &errs);
	ok(c == NULL && errs.n == 1 &&
	        strcmp(errs.msgs[0],
	            "/nonexistent/healthagent.conf: cannot "
	            "open: No such file or directory") == 0,
	    "missing file: %s", errs.n ? errs.msgs[0] : "(none)");
	conf_errors_free(&errs);

	c = conf_load_string("checks = (\n{ name = \"x\"; type = \"tcp\";\n"
	                     "  address = \"127.0.0.1:1\"; rise = 0; fall = 0; "
	                     "interval = 0; }\n);\n",
	    "multi.conf", NULL, &errs);
	ok(c == NULL, "string with errors fails");
	is_int(errs.n, 3, "three errors on one line all reported");
	for (size_t i = 0; i < errs.n; i++)
		ok(strncmp(errs.msgs[i], "multi.conf:3: check \"x\": ", 25) ==
		        0,
		    "located: %s", errs.msgs[i]);
	conf_errors_free(&errs);

	/* two settings on one line: the literal of each is found */
	c = conf_load_string("checks = ({ name = \"x\"; type = \"tcp\"; "
	                     "address "
	                     "= \"h:1\"; fall = 3; rise = 4294967298; });",
	    "l.conf", NULL, &errs);
	ok(c == NULL && errs.n == 1 &&
	        strstr(errs.msgs[0], "rise: 4294967298 is out of range") !=
	            NULL,
	    "truncated literal found on a shared line: %s",
	    errs.n ? errs.msgs[0] : "(none)");
	conf_errors_free(&errs);

	c = conf_load_string("agent = { socket_mode = 0689; };", "o.conf", NULL,
	    &errs);
	ok(c == NULL && errs.n == 1 &&
	        strstr(errs.msgs[0], "0689 is not a valid octal number"),
	    "bad octal: %s", errs.n ? errs.msgs[0] : "(none)");
	conf_errors_free(&errs);

	c = conf_load_string("agent = { socket_mode = 432; };", "d.conf", NULL,
	    &errs);
	ok(c != NULL && c->socket_mode == 0660, "decimal socket_mode");
	conf_free(c);
	conf_errors_free(&errs);

	/* errors append to what is already there */
	conf_load_string("x = 1;", "a", NULL, &errs);
	conf_load_string("y = 1;", "b", NULL, &errs);
	is_int(errs.n, 2, "errors accumulate");
	conf_errors_free(&errs);
	is_int(errs.n, 0, "errors freed");
}

static void
test_man(void)
{
	char path[4096];
	char *man;
	const char *name, *sect;
	size_t i;

	snprintf(path, sizeof(path), "%s/man/healthagent.conf.5", top);
	man = slurp(path);
	if (!ok(man != NULL, "read %s", path))
		return;
	for (i = 0; (name = conf_key_name(i, &sect)) != NULL; i++) {
		char want[128], head[128];
		const char *from, *to;

		/* keys are documented as ".It Ic name", in the part of the
		 * page about their group: from ".Ss The <group> group" to the
		 * next .Ss (checks: anywhere after ".Ss The checks list") */
		if (strcmp(sect, "check") == 0)
			snprintf(head, sizeof(head), "\n.Ss The checks list\n");
		else
			snprintf(head, sizeof(head), "\n.Ss The %s group\n",
			    sect);
		from = strstr(man, head);
		to = NULL;
		if (from != NULL && strcmp(sect, "check") != 0)
			to = strstr(from + 1, "\n.Ss ");
		if (from != NULL && to == NULL)
			to = from + strlen(from);
		snprintf(want, sizeof(want), "\n.It Ic %s ", name);
		from = from != NULL ? strstr(from, want) : NULL;
		ok(from != NULL && from < to,
		    "man page documents %s.%s in its section", sect, name);
	}
	ok(i > 30, "key table has %zu keys", i);
	free(man);

	struct conf *c = load_top("etc/healthagent.conf");

	ok(c != NULL, "etc/healthagent.conf loads without errors");
	ok(c != NULL && c->n_checks >= 2, "etc/healthagent.conf has checks");
	ok(c != NULL && c->cw_enabled,
	    "etc/healthagent.conf: cloudwatch enabled (the default)");
	ok(c != NULL && !c->asg_set_instance_health,
	    "etc/healthagent.conf: set_instance_health off");
	ok(c != NULL && c->n_cw_metrics == CW_METRIC_MAX,
	    "etc/healthagent.conf: all metrics");
	ok(c != NULL && *c->lc_launch_hook == '\0' &&
	        *c->lc_terminate_hook == '\0' && c->lc_drain_argc == 0 &&
	        !c->lc_rebalance_drain,
	    "etc/healthagent.conf: no lifecycle hooks, no drain_command");
	ok(c != NULL && *c->sns_topic_arn == '\0',
	    "etc/healthagent.conf: no SNS notifications");
	ok(c != NULL && *c->eip_allocation_id == '\0',
	    "etc/healthagent.conf: no Elastic IP");
	conf_free(c);

	/* Every key of the table appears in etc/healthagent.conf, set or
	 * commented out, in its group (checks: anywhere after "checks"). */
	{
		char *etc;

		snprintf(path, sizeof(path), "%s/etc/healthagent.conf", top);
		etc = slurp(path);
		for (i = 0;
		     etc != NULL && (name = conf_key_name(i, &sect)) != NULL;
		     i++) {
			char head[64], want[128];
			const char *from, *to, *p;
			bool found = false;

			if (strcmp(sect, "check") == 0)
				continue;
			snprintf(head, sizeof(head), "\n%s = {\n", sect);
			from = strstr(etc, head);
			to = from != NULL ? strstr(from, "\n};\n") : NULL;
			snprintf(want, sizeof(want), "%s = ", name);
			for (p = from; p != NULL && to != NULL &&
			     (p = strstr(p, want)) != NULL && p < to;
			     p++) {
				if (p[-1] == '\t' || p[-1] == ' ' ||
				    p[-1] == '#') {
					found = true;
					break;
				}
			}
			ok(found, "etc/healthagent.conf shows %s.%s", sect,
			    name);
		}
		free(etc);
	}
}

int
main(void)
{
	top = getenv("top_srcdir");
	if (top == NULL || *top == '\0')
		top = ".";
	test_good();
	test_bad();
	test_issue_sample();
	test_sample_values();
	test_defaults();
	test_aws_values();
	test_lifecycle_values();
	test_aws_syntax();
	test_forms();
	test_ipv6_include();
	test_include_not_file();
	test_status_allowed();
	test_errors_misc();
	test_man();
	return done_testing();
}
