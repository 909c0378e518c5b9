/* SPDX-License-Identifier: ISC */
/*
 * Configuration loading and validation. The text is parsed with libconfig
 * (1.5 API subset only), then every setting is checked against one
 * declarative key table that gives its section, type, range, default and the
 * check types it applies to. Every problem is collected as "file:line:
 * message" and nothing is silently defaulted. Integer literals are re-read
 * from the source text because libconfig 1.5 silently truncates values that
 * do not fit in 32 bits. The aws, cloudwatch, autoscaling, lifecycle,
 * notify and eip groups are validated here too (region and instance id
 * syntax, endpoint URLs, CloudWatch names and limits, lifecycle hook names,
 * SNS topic ARNs, Elastic IP allocation ids), so that a bad AWS setting is
 * a load error and not a runtime surprise.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "child.h"
#include "cloudwatch.h"
#include "conf.h"
#include "healthagent.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

const char *const conf_check_type_names[CONF_CHECK_TYPE_MAX] = {
    [CONF_CHECK_PROCESS] = "process",
    [CONF_CHECK_HTTP] = "http",
    [CONF_CHECK_TCP] = "tcp",
    [CONF_CHECK_EXEC] = "exec",
    [CONF_CHECK_THRESHOLD] = "threshold",
};

const char *const conf_scope_names[CONF_SCOPE_MAX] = {
    [CONF_SCOPE_LOCAL] = "local",
    [CONF_SCOPE_DEPENDENCY] = "dependency",
};

const char *const conf_initial_names[CONF_INITIAL_MAX] = {
    [CONF_INITIAL_UNKNOWN] = "unknown",
    [CONF_INITIAL_UP] = "up",
    [CONF_INITIAL_DOWN] = "down",
};

const char *const conf_metric_names[CONF_METRIC_MAX] = {
    [CONF_METRIC_CPU] = "cpu_usage_percent",
    [CONF_METRIC_MEM] = "mem_used_percent",
    [CONF_METRIC_SWAP] = "swap_used_percent",
    [CONF_METRIC_DISK] = "disk_used_percent",
    [CONF_METRIC_LOAD1] = "load1",
    [CONF_METRIC_LOAD5] = "load5",
    [CONF_METRIC_LOAD15] = "load15",
};

_Static_assert(sizeof(enum conf_check_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_scope) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_initial) == sizeof(int), "enum size");
_Static_assert(sizeof(enum conf_metric) == sizeof(int), "enum size");

enum ktype { KT_INT, KT_NUM, KT_BOOL, KT_STR, KT_ENUM, KT_LIST };

enum ksect {
	KS_HEALTH,
	KS_AGENT,
	KS_AWS,
	KS_CW,
	KS_ASG,
	KS_LC,
	KS_NOTIFY,
	KS_EIP,
	KS_CHECK,
	KS_MAX
};

static const char *const ksect_names[KS_MAX] = {
    [KS_HEALTH] = "health",
    [KS_AGENT] = "agent",
    [KS_AWS] = "aws",
    [KS_CW] = "cloudwatch",
    [KS_ASG] = "autoscaling",
    [KS_LC] = "lifecycle",
    [KS_NOTIFY] = "notify",
    [KS_EIP] = "eip",
    [KS_CHECK] = "check",
};

/* lifecycle.rebalance */
static const char *const lc_rebalance_names[] = {"report", "drain"};

/* The dimension names cloudwatch.dimensions may list. */
static const char *const cw_dimension_names[] = {"InstanceId",
    "AutoScalingGroupName"};

_Static_assert(sizeof(cw_dimension_names) / sizeof(cw_dimension_names[0]) <=
        sizeof(((struct conf *)0)->cw_dimensions) /
            sizeof(((struct conf *)0)->cw_dimensions[0]),
    "cw_dimensions too small");
_Static_assert(CW_METRIC_MAX <= sizeof(((struct conf *)0)->cw_metrics) /
            sizeof(((struct conf *)0)->cw_metrics[0]),
    "cw_metrics too small");

#define KF_REQUIRED 0x01 /* must be present (for the listed check types) */
#define KF_MIN_EXCL 0x02 /* the minimum itself is not allowed */
#define KF_OCTAL 0x04    /* an integer literal with a leading 0 is octal */
#define KF_DYNDEF 0x08   /* the default is computed from other keys */
#define KF_PATH 0x10     /* a string that must be an absolute path */
#define KF_CTRL_OK 0x20  /* a string that may hold control characters */
#define KF_EMPTY_OK 0x40 /* a string that may be "" (aws: "" = discover) */

#define NOOFF ((size_t)-1)
#define T_ALL ((1u << CONF_CHECK_TYPE_MAX) - 1)
#define T(x) (1u << CONF_CHECK_##x)

struct ctx;
struct key;
/*
 * Extra validation. For KT_STR it gets the string (s is NULL when the table
 * default is being applied) and returns false to reject it. For KT_LIST it
 * parses the whole array (s NULL: apply the default). For KT_INT and
 * KT_NUM it runs after the range check, on the value already stored.
 */
typedef bool key_fn(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *str);

struct key {
	enum ksect sect;
	const char *name;
	enum ktype type;
	unsigned types;   /* KS_CHECK: bit mask of check types */
	double min, max;  /* numeric range; KT_STR: max length; KT_LIST:
	                     number of elements */
	double def;       /* numeric/boolean/enum default */
	const char *sdef; /* default as text (strings: the value) */
	unsigned flags;
	size_t off; /* field in struct conf or struct conf_check */
	const char *const *names; /* KT_ENUM */
	size_t nnames;
	key_fn *fn;
	const char *help;
};

static key_fn v_listen, v_hpath, v_loglevel, v_name, v_cmdline, v_user, v_url,
    v_tcpaddr, v_procname, p_allow, p_status, p_headers, p_command, v_region,
    v_instance_id, v_az, v_itype, v_profile, v_endpoint, v_namespace,
    v_resolution, p_dimensions, p_metrics, p_restart, v_hook, v_rebalance,
    p_drain, v_topic_arn, v_allocation_id, v_runas, v_rungroup, p_environment;

#define C(f) offsetof(struct conf, f)
#define K(f) offsetof(struct conf_check, f)
#define ENUM(a) a, sizeof(a) / sizeof((a)[0])

static const struct key keys[] = {
    /* health { } */
    {KS_HEALTH, "listen", KT_STR, 0, 0, 300, 0, "0.0.0.0:8099", 0, C(listen),
        NULL, 0, v_listen,
        "Numeric address and port the health endpoint listens on."},
    {KS_HEALTH, "path", KT_STR, 0, 0, 256, 0, "/health", 0, C(health_path),
        NULL, 0, v_hpath, "URL path of the health endpoint."},
    {KS_HEALTH, "start_grace", KT_NUM, 0, 0, 86400, 60, "60", 0, C(start_grace),
        NULL, 0, NULL,
        "Seconds after start during which failures do not count."},
    {KS_HEALTH, "drain_seconds", KT_NUM, 0, 0, 3600, 10, "10", 0,
        C(drain_seconds), NULL, 0, NULL,
        "Seconds of 503 answers after SIGTERM before exiting."},
    {KS_HEALTH, "max_connections", KT_INT, 0, 1, 65535, 256, "256", 0,
        C(max_connections), NULL, 0, NULL,
        "Most simultaneous HTTP connections."},
    {KS_HEALTH, "header_timeout", KT_NUM, 0, 0.1, 300, 5, "5", 0,
        C(header_timeout), NULL, 0, NULL,
        "Seconds a client has to send a whole request."},
    {KS_HEALTH, "idle_timeout", KT_NUM, 0, 0.1, 3600, 30, "30", 0,
        C(idle_timeout), NULL, 0, NULL,
        "Seconds a keep-alive connection may stay idle."},
    {KS_HEALTH, "max_request_size", KT_INT, 0, 256, 65536, 8192, "8192", 0,
        C(max_request_size), NULL, 0, NULL,
        "Most bytes of a request head (request line and headers)."},
    {KS_HEALTH, "verbose", KT_BOOL, 0, 0, 0, 0, "false", 0, C(health_verbose),
        NULL, 0, NULL,
        "Name the failing checks and reasons in the /health body."},
    {KS_HEALTH, "status_allow", KT_LIST, 0, 0, CONF_MAX_ALLOW, 0,
        "[\"127.0.0.0/8\", \"::1/128\"]", 0, NOOFF, NULL, 0, p_allow,
        "Networks allowed to read /status and /metrics."},

    /* agent { } */
    {KS_AGENT, "socket", KT_STR, 0, 0,
        sizeof(((struct sockaddr_un *)0)->sun_path) - 1, 0, HEALTHAGENT_SOCK,
        KF_PATH, C(socket_path), NULL, 0, NULL, "Path of the control socket."},
    {KS_AGENT, "socket_mode", KT_INT, 0, 0, 0777, 0660, "0660", KF_OCTAL,
        C(socket_mode), NULL, 0, NULL, "Permissions of the control socket."},
    {KS_AGENT, "socket_group", KT_STR, 0, 0, 255, 0, "healthagent", KF_EMPTY_OK,
        C(socket_group), NULL, 0, NULL,
        "Group of the control socket; \"\" = the agent's own group."},
    {KS_AGENT, "sample_interval", KT_NUM, 0, 0.1, 60, 1, "1", 0,
        C(sample_interval), NULL, 0, NULL,
        "Seconds between system metric samples."},
    {KS_AGENT, "disk_path", KT_STR, 0, 0, 4095, 0, "/", KF_PATH, C(disk_path),
        NULL, 0, NULL, "Filesystem measured by disk_used_percent."},
    {KS_AGENT, "log_level", KT_STR, 0, 0, 16, 0, "info", 0, NOOFF, NULL, 0,
        v_loglevel, "Most verbose log level written."},
    {KS_AGENT, "state_dir", KT_STR, 0, 0, 4095, 0, HEALTHAGENT_STATE_DIR,
        KF_PATH, C(state_dir), NULL, 0, NULL,
        "Directory for state kept across restarts (the eviction record)."},

    /* aws { } */
    {KS_AWS, "region", KT_STR, 0, 0, 31, 0, "", KF_EMPTY_OK, C(aws_region),
        NULL, 0, v_region, "Region, e.g. \"us-east-1\"; \"\" = from IMDS."},
    {KS_AWS, "instance_id", KT_STR, 0, 0, 19, 0, "", KF_EMPTY_OK,
        C(aws_instance_id), NULL, 0, v_instance_id,
        "Instance id (i-...); \"\" = from IMDS."},
    {KS_AWS, "availability_zone", KT_STR, 0, 0, 31, 0, "", KF_EMPTY_OK,
        C(aws_availability_zone), NULL, 0, v_az,
        "Availability Zone name; \"\" = from IMDS."},
    {KS_AWS, "instance_type", KT_STR, 0, 0, 63, 0, "", KF_EMPTY_OK,
        C(aws_instance_type), NULL, 0, v_itype,
        "Instance type, e.g. \"m5.large\"; \"\" = from IMDS."},
    {KS_AWS, "autoscaling_group", KT_STR, 0, 0, 255, 0, "", KF_EMPTY_OK,
        C(aws_autoscaling_group), NULL, 0, NULL,
        "Auto Scaling group name; \"\" = DescribeAutoScalingInstances."},
    {KS_AWS, "profile", KT_STR, 0, 0, 128, 0, "", KF_EMPTY_OK, C(aws_profile),
        NULL, 0, v_profile,
        "Profile in the shared credentials file; \"\" = AWS_PROFILE or "
        "default."},
    {KS_AWS, "imds_endpoint", KT_STR, 0, 0, 2048, 0, "", KF_EMPTY_OK,
        C(aws_imds_endpoint), NULL, 0, v_endpoint,
        "Instance metadata service URL; \"\" = the standard one."},
    {KS_AWS, "endpoint_url", KT_STR, 0, 0, 2048, 0, "", KF_EMPTY_OK,
        C(aws_endpoint_url), NULL, 0, v_endpoint,
        "Endpoint URL for every AWS service; \"\" = regional default."},
    {KS_AWS, "cloudwatch_endpoint", KT_STR, 0, 0, 2048, 0, "", KF_EMPTY_OK,
        C(aws_cloudwatch_endpoint), NULL, 0, v_endpoint,
        "Endpoint URL for CloudWatch; \"\" = endpoint_url or default."},
    {KS_AWS, "autoscaling_endpoint", KT_STR, 0, 0, 2048, 0, "", KF_EMPTY_OK,
        C(aws_autoscaling_endpoint), NULL, 0, v_endpoint,
        "Endpoint URL for Auto Scaling; \"\" = endpoint_url or default."},
    {KS_AWS, "ec2_endpoint", KT_STR, 0, 0, 2048, 0, "", KF_EMPTY_OK,
        C(aws_ec2_endpoint), NULL, 0, v_endpoint,
        "Endpoint URL for EC2; \"\" = endpoint_url or default."},
    {KS_AWS, "sns_endpoint", KT_STR, 0, 0, 2048, 0, "", KF_EMPTY_OK,
        C(aws_sns_endpoint), NULL, 0, v_endpoint,
        "Endpoint URL for SNS; \"\" = endpoint_url or default."},
    {KS_AWS, "max_attempts", KT_INT, 0, 1, 10, 3, "3", 0, C(aws_max_attempts),
        NULL, 0, NULL, "Attempts per AWS call, the first one included."},
    {KS_AWS, "timeout", KT_NUM, 0, 0.5, 60, 10, "10", 0, C(aws_timeout), NULL,
        0, NULL, "Seconds one attempt of an AWS call may take."},

    /* cloudwatch { } */
    {KS_CW, "enabled", KT_BOOL, 0, 0, 0, 1, "true", 0, C(cw_enabled), NULL, 0,
        NULL, "Publish metrics to CloudWatch."},
    {KS_CW, "namespace", KT_STR, 0, 0, 255, 0, "HealthAgent", 0,
        C(cw_namespace), NULL, 0, v_namespace, "CloudWatch namespace."},
    {KS_CW, "interval", KT_NUM, 0, 0.1, 86400, 60, "60", 0, C(cw_interval),
        NULL, 0, NULL,
        "Seconds between publishes (under 1: tests only, high resolution)."},
    {KS_CW, "storage_resolution", KT_INT, 0, 1, 60, 60, "60", 0,
        C(cw_storage_resolution), NULL, 0, v_resolution,
        "1 (high resolution) or 60 seconds."},
    {KS_CW, "dimensions", KT_LIST, 0, 1, 4, 0,
        "[\"InstanceId\", \"AutoScalingGroupName\"]", 0, NOOFF, NULL, 0,
        p_dimensions, "Dimension sets each metric is published with."},
    {KS_CW, "metrics", KT_LIST, 0, 1, 16, 0, "all", 0, NOOFF, NULL, 0,
        p_metrics, "Metrics to publish."},
    {KS_CW, "buffer_seconds", KT_NUM, 0, 60, 604800, 3600, "3600", 0,
        C(cw_buffer_seconds), NULL, 0, NULL,
        "Seconds of unsent data kept while CloudWatch is unreachable."},
    {KS_CW, "gzip", KT_BOOL, 0, 0, 0, 1, "true", 0, C(cw_gzip), NULL, 0, NULL,
        "Compress request bodies of 10 KiB or more."},

    /* autoscaling { } */
    {KS_ASG, "set_instance_health", KT_BOOL, 0, 0, 0, 0, "false", 0,
        C(asg_set_instance_health), NULL, 0, NULL,
        "Mark the instance Unhealthy in its group on a lasting local fault."},
    {KS_ASG, "confirm_seconds", KT_NUM, 0, 0, 86400, 60, "60", 0,
        C(asg_confirm_seconds), NULL, 0, NULL,
        "Seconds the verdict must stay unhealthy before acting."},
    {KS_ASG, "dry_run", KT_BOOL, 0, 0, 0, 0, "false", 0, C(asg_dry_run), NULL,
        0, NULL, "Log what would be done; call nothing."},
    {KS_ASG, "max_unhealthy_percent", KT_NUM, 0, 0, 100, 30, "30", 0,
        C(asg_max_unhealthy_percent), NULL, 0, NULL,
        "Refuse when this share of the group is already out."},
    {KS_ASG, "min_healthy_instances", KT_INT, 0, 0, 10000, 1, "1", 0,
        C(asg_min_healthy_instances), NULL, 0, NULL,
        "Refuse when the group has this many healthy instances or fewer."},
    {KS_ASG, "respect_grace_period", KT_BOOL, 0, 0, 0, 0, "false", 0,
        C(asg_respect_grace_period), NULL, 0, NULL,
        "Value of ShouldRespectGracePeriod."},
    {KS_ASG, "recheck_interval", KT_NUM, 0, 1, 86400, 60, "60", 0,
        C(asg_recheck_interval), NULL, 0, NULL,
        "Seconds before a refusal is re-evaluated."},
    {KS_ASG, "restart_command", KT_LIST, 0, 0, CONF_MAX_ARGV, 0, "[]", 0, NOOFF,
        NULL, 0, p_restart, "Program run to repair before evicting."},
    {KS_ASG, "restart_attempts", KT_INT, 0, 0, 100, 3, "3", 0,
        C(asg_restart_attempts), NULL, 0, NULL,
        "Restarts tried within restart_window before evicting."},
    {KS_ASG, "restart_window", KT_NUM, 0, 1, 86400, 600, "600", 0,
        C(asg_restart_window), NULL, 0, NULL,
        "Seconds over which restart_attempts are counted."},
    {KS_ASG, "restart_timeout", KT_NUM, 0, 0.1, 3600, 60, "60", 0,
        C(asg_restart_timeout), NULL, 0, NULL,
        "Seconds one restart_command run may take."},

    /* lifecycle { } */
    {KS_LC, "launch_hook", KT_STR, 0, 0, 255, 0, "", KF_EMPTY_OK,
        C(lc_launch_hook), NULL, 0, v_hook,
        "Launch lifecycle hook held until the checks pass; \"\" = none."},
    {KS_LC, "terminate_hook", KT_STR, 0, 0, 255, 0, "", KF_EMPTY_OK,
        C(lc_terminate_hook), NULL, 0, v_hook,
        "Termination lifecycle hook completed after the drain; \"\" = "
        "none."},
    {KS_LC, "launch_timeout", KT_NUM, 0, 10, 86400, 600, "600", 0,
        C(lc_launch_timeout), NULL, 0, NULL,
        "Seconds to wait for health before ABANDON."},
    {KS_LC, "heartbeat_interval", KT_NUM, 0, 5, 7200, 60, "60", 0,
        C(lc_heartbeat_interval), NULL, 0, NULL,
        "Seconds between heartbeats of a held hook."},
    {KS_LC, "watch_interval", KT_NUM, 0, 1, 60, 5, "5", 0, C(lc_watch_interval),
        NULL, 0, NULL, "Seconds between IMDS polls for termination signals."},
    {KS_LC, "rebalance", KT_STR, 0, 0, 16, 0, "report", 0, NOOFF, NULL, 0,
        v_rebalance,
        "What a rebalance recommendation does: \"report\" or \"drain\"."},
    {KS_LC, "spot", KT_BOOL, 0, 0, 0, 1, "true", 0, C(lc_watch_spot), NULL, 0,
        NULL, "Drain on a Spot interruption notice."},
    {KS_LC, "drain_command", KT_LIST, 0, 0, CONF_MAX_ARGV, 0, "[]", 0, NOOFF,
        NULL, 0, p_drain, "Program run when a drain starts."},
    {KS_LC, "drain_timeout", KT_NUM, 0, 0.1, 3600, 60, "60", 0,
        C(lc_drain_timeout), NULL, 0, NULL, "Seconds drain_command may take."},

    /* notify { } */
    {KS_NOTIFY, "sns_topic_arn", KT_STR, 0, 0, 1024, 0, "", KF_EMPTY_OK,
        C(sns_topic_arn), NULL, 0, v_topic_arn,
        "SNS topic for event messages; \"\" = no notifications."},

    /* eip { } */
    {KS_EIP, "allocation_id", KT_STR, 0, 0, 26, 0, "", KF_EMPTY_OK,
        C(eip_allocation_id), NULL, 0, v_allocation_id,
        "Elastic IP associated once healthy; \"\" = none."},

    /* checks = ( { }, ... ) : common keys */
    {KS_CHECK, "name", KT_STR, T_ALL, 0, 64, 0, NULL, KF_REQUIRED, K(name),
        NULL, 0, v_name, "Unique name of the check."},
    {KS_CHECK, "type", KT_ENUM, T_ALL, 0, 0, 0, NULL, KF_REQUIRED, K(type),
        ENUM(conf_check_type_names), NULL, "Kind of check."},
    {KS_CHECK, "scope", KT_ENUM, T_ALL, 0, 0, CONF_SCOPE_LOCAL, "local", 0,
        K(scope), ENUM(conf_scope_names), NULL,
        "Whether a failure makes the instance unhealthy."},
    {KS_CHECK, "interval", KT_NUM, T_ALL, 0.1, 86400, 5, "5", 0, K(interval),
        NULL, 0, NULL, "Seconds between runs."},
    {KS_CHECK, "timeout", KT_NUM, T_ALL, 0, 86400, 2, "min(interval, 2)",
        KF_MIN_EXCL | KF_DYNDEF, K(timeout), NULL, 0, NULL,
        "Seconds a run may take."},
    {KS_CHECK, "rise", KT_INT, T_ALL, 1, 100, 2, "2", 0, K(rise), NULL, 0, NULL,
        "Successes in a row to become up."},
    {KS_CHECK, "fall", KT_INT, T_ALL, 1, 100, 3, "3", 0, K(fall), NULL, 0, NULL,
        "Failures in a row to become down."},
    {KS_CHECK, "initial", KT_ENUM, T_ALL, 0, 0, CONF_INITIAL_UNKNOWN, "unknown",
        0, K(initial), ENUM(conf_initial_names), NULL,
        "State before the first result."},
    {KS_CHECK, "jitter", KT_NUM, T_ALL, 0, 86400, 0, "interval", KF_DYNDEF,
        K(jitter), NULL, 0, NULL, "Most random delay of the first run."},

    /* process */
    {KS_CHECK, "pidfile", KT_STR, T(PROCESS), 0, 4095, 0, NULL, KF_PATH,
        K(pidfile), NULL, 0, NULL, "File holding the process id."},
    {KS_CHECK, "proc_name", KT_STR, T(PROCESS), 0, 255, 0, NULL, 0,
        K(proc_name), NULL, 0, v_procname,
        "Exact process name (comm or argv[0] basename)."},
    {KS_CHECK, "cmdline", KT_STR, T(PROCESS), 0, 4096, 0, NULL, 0, K(cmdline),
        NULL, 0, v_cmdline,
        "Extended regular expression over the command line."},
    {KS_CHECK, "user", KT_STR, T(PROCESS), 0, 256, 0, NULL, 0, K(user), NULL, 0,
        v_user, "User name or uid owning the process."},
    {KS_CHECK, "min", KT_INT, T(PROCESS), 0, 100000, 1, "1", 0, K(min_count),
        NULL, 0, NULL, "Fewest matching processes."},
    {KS_CHECK, "max", KT_INT, T(PROCESS), 0, 100000, 0, "0", 0, K(max_count),
        NULL, 0, NULL, "Most matching processes, 0 for no limit."},

    /* http */
    {KS_CHECK, "url", KT_STR, T(HTTP), 0, 4096, 0, NULL, KF_REQUIRED, K(url),
        NULL, 0, v_url, "http:// or https:// URL to fetch."},
    {KS_CHECK, "expect_status", KT_LIST, T(HTTP), 0, CONF_MAX_EXPECT_STATUS, 0,
        "[200]", 0, NOOFF, NULL, 0, p_status, "Accepted status codes."},
    {KS_CHECK, "expect_body", KT_STR, T(HTTP), 0, 4096, 0, NULL, KF_CTRL_OK,
        K(expect_body), NULL, 0, NULL, "Substring the body must contain."},
    {KS_CHECK, "headers", KT_LIST, T(HTTP), 0, CONF_MAX_HEADERS, 0, "[]", 0,
        NOOFF, NULL, 0, p_headers, "Extra request headers."},
    {KS_CHECK, "tls", KT_BOOL, T(HTTP), 0, 0, 0, "from url", KF_DYNDEF, K(tls),
        NULL, 0, NULL, "Use TLS; must agree with the url scheme."},
    {KS_CHECK, "insecure", KT_BOOL, T(HTTP), 0, 0, 0, "false", 0, K(insecure),
        NULL, 0, NULL, "Skip TLS certificate verification."},

    /* tcp */
    {KS_CHECK, "address", KT_STR, T(TCP), 0, 300, 0, NULL, KF_REQUIRED,
        K(address), NULL, 0, v_tcpaddr, "host:port to connect to."},

    /* exec */
    {KS_CHECK, "command", KT_LIST, T(EXEC), 1, CONF_MAX_ARGV, 0, NULL,
        KF_REQUIRED, NOOFF, NULL, 0, p_command, "Program and arguments."},
    {KS_CHECK, "user", KT_STR, T(EXEC), 0, 256, 0, NULL, 0, K(user), NULL, 0,
        v_runas, "User (name or uid) the command runs as."},
    {KS_CHECK, "group", KT_STR, T(EXEC), 0, 256, 0, NULL, 0, K(group), NULL, 0,
        v_rungroup, "Group (name or gid) the command runs as."},
    {KS_CHECK, "environment", KT_LIST, T(EXEC), 0, CONF_MAX_ENV, 0, "[]", 0,
        NOOFF, NULL, 0, p_environment,
        "Extra \"NAME=value\" environment of the command."},

    /* threshold */
    {KS_CHECK, "metric", KT_ENUM, T(THRESHOLD), 0, 0, 0, NULL, KF_REQUIRED,
        K(metric), ENUM(conf_metric_names), NULL, "Metric to watch."},
    {KS_CHECK, "max", KT_NUM, T(THRESHOLD), 0, 1e6, 0, NULL, 0, K(max), NULL, 0,
        NULL, "Highest healthy value."},
    {KS_CHECK, "min", KT_NUM, T(THRESHOLD), 0, 1e6, 0, NULL, 0, K(min), NULL, 0,
        NULL, "Lowest healthy value."},
    {KS_CHECK, "for", KT_NUM, T(THRESHOLD), 0, 86400, 0, "0", 0, K(for_seconds),
        NULL, 0, NULL, "Seconds the limit must be crossed before failing."},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* A source text: the main config or an included file. */
struct src {
	char *file; /* as libconfig names it; NULL for the main text */
	char *disp; /* name used in messages */
	char *text; /* NULL until read (or unreadable) */
	bool tried;
};

struct ctx {
	struct conf_errors *errs;
	const char *include_dir;
	struct src *srcs;
	size_t nsrcs;
	struct conf *c;
	struct conf_check *ck; /* the check being parsed */
	int ctype;             /* its type, -1 when unknown */
	char prefix[96];       /* "health: ", "check \"web\": " */
	bool present[NKEYS];   /* seen in the current section */
	bool valid[NKEYS];     /* ...and accepted */
	config_setting_t *where[NKEYS];
	char qbuf[4][160];
	int qn;
	size_t nerr0;       /* errs->n before this load */
	struct errpos *pos; /* where each new message points, for sorting */
};

struct errpos {
	const char *file;
	unsigned line;
};

/* ---- messages ---- */

static void
errs_add(struct conf_errors *e, char *msg)
{
	e->msgs = xreallocarray(e->msgs, e->n + 1, sizeof(*e->msgs));
	e->msgs[e->n++] = msg;
}

/* Quote untrusted text for a message: escaped, bounded, in double quotes. */
static const char *
q(struct ctx *x, const char *s)
{
	char *b = x->qbuf[x->qn++ % 4];
	size_t o = 0, cap = sizeof(x->qbuf[0]);

	b[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (o + 8 >= cap) {
			memcpy(b + o, "...", 3);
			o += 3;
			break;
		}
		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(b + o, cap - o, "\\x%02x", ch);
		else if (ch == '"' || ch == '\\') {
			b[o++] = '\\';
			b[o++] = (char)ch;
		} else
			b[o++] = (char)ch;
	}
	b[o++] = '"';
	b[o] = '\0';
	return b;
}

static struct src *
src_of(struct ctx *x, const char *file)
{
	if (file == NULL)
		return &x->srcs[0];
	for (size_t i = 1; i < x->nsrcs; i++)
		if (strcmp(x->srcs[i].file, file) == 0)
			return &x->srcs[i];
	x->srcs = xreallocarray(x->srcs, x->nsrcs + 1, sizeof(*x->srcs));
	struct src *s = &x->srcs[x->nsrcs++];
	memset(s, 0, sizeof(*s));
	s->file = xstrdup(file);
	if (file[0] != '/' && x->include_dir != NULL)
		s->disp = xasprintf("%s/%s", x->include_dir, file);
	else
		s->disp = xstrdup(file);
	return s;
}

static char *
read_text(const char *path, int *err)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		*err = errno;
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
		if (len > 16 * 1024 * 1024) {
			*err = EFBIG;
			fclose(f);
			free(buf);
			return NULL;
		}
	}
	if (ferror(f)) {
		*err = errno ? errno : EIO;
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		*err = EILSEQ;
		free(buf);
		return NULL;
	}
	return buf;
}

static const char *
src_text(struct src *s)
{
	if (s->text == NULL && !s->tried) {
		int e;

		s->tried = true;
		s->text = read_text(s->disp, &e);
	}
	return s->text;
}

static void __attribute__((format(printf, 3, 4)))
err_at(struct ctx *x, config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	char *m;
	const char *file = x->srcs[0].disp;
	unsigned line = 0;

	if (s != NULL) {
		file = src_of(x, config_setting_source_file(s))->disp;
		line = config_setting_source_line(s);
	}
	x->pos =
	    xreallocarray(x->pos, x->errs->n - x->nerr0 + 1, sizeof(*x->pos));
	x->pos[x->errs->n - x->nerr0].file = file;
	x->pos[x->errs->n - x->nerr0].line = line;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		log_fatal("out of memory");
	va_end(ap);
	if (line > 0)
		errs_add(x->errs,
		    xasprintf("%s:%u: %s%s", file, line, x->prefix, m));
	else
		errs_add(x->errs, xasprintf("%s: %s%s", file, x->prefix, m));
	free(m);
}

#define kerr(x, s, k, fmt, ...)                                                \
	err_at(x, s, "%s: " fmt, (k)->name, ##__VA_ARGS__)

static const char *
type_desc(config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "unknown";
	}
}

/* ---- integer literals from the source text ---- */

static const char *
skip_ws(const char *p)
{
	for (;;) {
		if (isspace((unsigned char)*p))
			p++;
		else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");

			p = e ? e + 2 : p + strlen(p);
		} else
			return p;
	}
}

static bool
namechar(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' ||
	    ch == '*';
}

/* Where the value of s starts in its source text, or NULL. */
static const char *
value_pos(struct ctx *x, config_setting_t *s, int depth)
{
	config_setting_t *parent = config_setting_parent(s);
	const char *name = config_setting_name(s);

	if (depth > 4 || parent == NULL)
		return NULL;
	if (name == NULL) {
		/* an element of an array or list: find the parent's value */
		const char *p = value_pos(x, parent, depth + 1);
		int idx = -1, n = config_setting_length(parent);

		if (p == NULL || (*p != '[' && *p != '('))
			return NULL;
		for (int i = 0; i < n; i++)
			if (config_setting_get_elem(parent, (unsigned)i) == s)
				idx = i;
		if (idx < 0)
			return NULL;
		p = skip_ws(p + 1);
		for (int i = 0; i < idx; i++) {
			/* elements we skip are scalars: numbers or strings */
			if (*p == '"')
				return NULL;
			while (*p != '\0' && *p != ',' && *p != ']' &&
			    *p != ')' && !isspace((unsigned char)*p) &&
			    *p != '#' && *p != '/')
				p++;
			p = skip_ws(p);
			if (*p != ',')
				return NULL;
			p = skip_ws(p + 1);
		}
		return p;
	}
	struct src *src = src_of(x, config_setting_source_file(s));
	const char *text = src_text(src);
	unsigned line = config_setting_source_line(s);
	size_t nl = strlen(name);

	if (text == NULL || line == 0)
		return NULL;
	const char *p = text;
	for (unsigned l = 1; l < line; l++) {
		p = strchr(p, '\n');
		if (p == NULL)
			return NULL;
		p++;
	}
	for (; (p = strstr(p, name)) != NULL; p += nl) {
		if (p > text && namechar(p[-1]))
			continue;
		const char *v = skip_ws(p + nl);

		if (*v == '=' || *v == ':')
			return skip_ws(v + 1);
	}
	return NULL;
}

/*
 * libconfig 1.5 truncates integer literals to 32 bits without a word. Read
 * the literal of an INT setting back and, when it says something else, use
 * it (as a double, which is exact enough to be out of every range).
 * KF_OCTAL keys read "0660" as octal. Returns false on a bad literal.
 */
static bool
literal_fix(struct ctx *x, config_setting_t *s, const struct key *k, double *v,
    char *repr, size_t rlen)
{
	const char *p = value_pos(x, s, 0), *d;
	size_t n;
	double lv;

	if (p == NULL)
		return true;
	d = p;
	if (*d == '-' || *d == '+')
		d++;
	if (!isdigit((unsigned char)*d))
		return true;
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
		n = 2;
		while (isxdigit((unsigned char)d[n]))
			n++;
		if (d[n] == 'L')
			return true;
		errno = 0;
		unsigned long long u = strtoull(d, NULL, 16);
		lv = errno == ERANGE ? HUGE_VAL : (double)u;
	} else {
		n = 0;
		while (isdigit((unsigned char)d[n]))
			n++;
		if (d[n] == '.' || d[n] == 'e' || d[n] == 'E' || d[n] == 'L')
			return true;
		if ((k->flags & KF_OCTAL) && d[0] == '0' && n > 1) {
			if (strspn(d, "01234567") < n) {
				kerr(x, s, k,
				    "%.*s is not a valid octal number",
				    (int)(n + (size_t)(d - p)), p);
				return false;
			}
			char tmp[32];

			snprintf(tmp, sizeof(tmp), "%.*s",
			    (int)(n < 30 ? n : 30), d);
			lv = (double)strtoull(tmp, NULL, 8);
			if (d != p && *p == '-')
				lv = -lv;
			*v = lv;
			snprintf(repr, rlen, "%.*s", (int)(n + (size_t)(d - p)),
			    p);
			return true;
		}
		lv = strtod(d, NULL);
	}
	if (d != p && *p == '-')
		lv = -lv;
	if (lv != *v) {
		*v = lv;
		snprintf(repr, rlen, "%.*s",
		    (int)(n + (size_t)(d - p) < 40 ? n + (size_t)(d - p) : 40),
		    p);
	}
	return true;
}

/* ---- values ---- */

static void
fmt_range(const struct key *k, char *buf, size_t len)
{
	if (k->flags & KF_OCTAL)
		snprintf(buf, len, "%s%o..0%o", k->min > 0 ? "0" : "",
		    (unsigned)k->min, (unsigned)k->max);
	else if (k->flags & KF_MIN_EXCL)
		snprintf(buf, len, "> %g and <= %g", k->min, k->max);
	else
		snprintf(buf, len, "%g..%g", k->min, k->max);
}

/* Read a number (KT_INT or KT_NUM) and check its range. */
static bool
get_num(struct ctx *x, config_setting_t *s, const struct key *k, double *out)
{
	char repr[48], rng[64];
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		snprintf(repr, sizeof(repr), "%.0f", v);
		if (!literal_fix(x, s, k, &v, repr, sizeof(repr)))
			return false;
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		snprintf(repr, sizeof(repr), "%lld",
		    (long long)config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		if (k->type == KT_INT) {
			kerr(x, s, k, "must be an integer, not %g", v);
			return false;
		}
		if (!isfinite(v)) {
			kerr(x, s, k, "must be a finite number");
			return false;
		}
		snprintf(repr, sizeof(repr), "%g", v);
		break;
	default:
		kerr(x, s, k, "must be %s, not %s",
		    k->type == KT_INT ? "an integer" : "a number",
		    type_desc(s));
		return false;
	}
	if (!((k->flags & KF_MIN_EXCL) ? v > k->min : v >= k->min) ||
	    !(v <= k->max)) {
		fmt_range(k, rng, sizeof(rng));
		kerr(x, s, k, "%s is out of range (must be %s)", repr, rng);
		return false;
	}
	*out = v;
	return true;
}

static bool
has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Read a string value with the generic checks of k. */
static const char *
get_str(struct ctx *x, config_setting_t *s, const struct key *k)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		kerr(x, s, k, "must be a string, not %s", type_desc(s));
		return NULL;
	}
	v = config_setting_get_string(s);
	if (v == NULL || (*v == '\0' && !(k->flags & KF_EMPTY_OK))) {
		kerr(x, s, k, "must not be empty");
		return NULL;
	}
	if (k->max > 0 && strlen(v) > (size_t)k->max) {
		kerr(x, s, k, "%s is too long (at most %g characters)", q(x, v),
		    k->max);
		return NULL;
	}
	if (!(k->flags & KF_CTRL_OK) && has_ctrl(v)) {
		kerr(x, s, k, "%s contains control characters", q(x, v));
		return NULL;
	}
	if ((k->flags & KF_PATH) && v[0] != '/') {
		kerr(x, s, k, "%s must be an absolute path", q(x, v));
		return NULL;
	}
	return v;
}

static void *
field(struct ctx *x, const struct key *k)
{
	char *base = k->sect == KS_CHECK ? (char *)x->ck : (char *)x->c;

	return base + k->off;
}

static bool
set_string(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	if (k->fn != NULL && !k->fn(x, s, k, v))
		return false;
	if (k->off != NOOFF) {
		char **f = field(x, k);

		free(*f);
		*f = xstrdup(v);
	}
	return true;
}

/* Parse one setting s as key k. */
static bool
parse_key(struct ctx *x, config_setting_t *s, const struct key *k)
{
	double d;
	const char *v;

	switch (k->type) {
	case KT_INT:
		if (!get_num(x, s, k, &d))
			return false;
		*(int *)field(x, k) = (int)d;
		return k->fn == NULL || k->fn(x, s, k, NULL);
	case KT_NUM:
		if (!get_num(x, s, k, &d))
			return false;
		*(double *)field(x, k) = d;
		return k->fn == NULL || k->fn(x, s, k, NULL);
	case KT_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			kerr(x, s, k, "must be true or false, not %s",
			    type_desc(s));
			return false;
		}
		*(bool *)field(x, k) = config_setting_get_bool(s) != 0;
		return true;
	case KT_STR:
		if ((v = get_str(x, s, k)) == NULL)
			return false;
		return set_string(x, s, k, v);
	case KT_ENUM:
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			kerr(x, s, k, "must be a string, not %s", type_desc(s));
			return false;
		}
		v = config_setting_get_string(s);
		for (size_t i = 0; i < k->nnames; i++) {
			if (k->names[i] != NULL &&
			    strcmp(v, k->names[i]) == 0) {
				*(int *)field(x, k) = (int)i;
				return true;
			}
		}
		{
			char list[256] = "";

			for (size_t i = 0; i < k->nnames; i++) {
				if (i > 0)
					strcat(list, ", ");
				strcat(list, k->names[i]);
			}
			kerr(x, s, k, "%s is not one of %s", q(x, v), list);
		}
		return false;
	case KT_LIST:
		return k->fn(x, s, k, NULL);
	}
	return false;
}

/* Apply the table defaults of one section (dynamic ones are done later). */
static void
apply_defaults(struct ctx *x, enum ksect sect)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->sect != sect || (k->flags & KF_DYNDEF))
			continue;
		if (sect == KS_CHECK && x->ctype >= 0 &&
		    !(k->types & (1u << x->ctype)))
			continue;
		switch (k->type) {
		case KT_INT:
			if (k->sdef != NULL)
				*(int *)field(x, k) = (int)k->def;
			break;
		case KT_NUM:
			if (k->sdef != NULL)
				*(double *)field(x, k) = k->def;
			break;
		case KT_BOOL:
			*(bool *)field(x, k) = k->def != 0;
			break;
		case KT_ENUM:
			if (k->sdef != NULL)
				*(int *)field(x, k) = (int)k->def;
			break;
		case KT_STR:
			if (k->sdef != NULL)
				set_string(x, NULL, k, k->sdef);
			break;
		case KT_LIST:
			break;
		}
	}
}

static const struct key *
find_key(enum ksect sect, const char *name, int ctype)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->sect != sect || strcmp(k->name, name) != 0)
			continue;
		if (sect == KS_CHECK && ctype >= 0 &&
		    !(k->types & (1u << ctype)))
			continue;
		return k;
	}
	return NULL;
}

static size_t
kidx(const struct key *k)
{
	return (size_t)(k - keys);
}

/* Parse every member of group g (a section) against the table. */
static void
parse_members(struct ctx *x, config_setting_t *g, enum ksect sect)
{
	int n = config_setting_length(g);

	memset(x->present, 0, sizeof(x->present));
	memset(x->valid, 0, sizeof(x->valid));
	memset(x->where, 0, sizeof(x->where));
	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		const struct key *k;

		if (name == NULL)
			continue;
		k = find_key(sect, name, x->ctype);
		if (k == NULL) {
			const struct key *other = find_key(sect, name, -1);

			if (other != NULL) {
				char list[128] = "";

				for (int t = 0; t < CONF_CHECK_TYPE_MAX; t++) {
					const struct key *o =
					    find_key(sect, name, t);

					if (o == NULL)
						continue;
					if (list[0] != '\0')
						strcat(list, ", ");
					strcat(list, conf_check_type_names[t]);
				}
				err_at(x, m,
				    "%s: not valid for %s checks (only for: "
				    "%s)",
				    name, conf_check_type_names[x->ctype],
				    list);
			} else
				err_at(x, m, "unknown key %s", q(x, name));
			continue;
		}
		x->present[kidx(k)] = true;
		x->where[kidx(k)] = m;
		if (sect == KS_CHECK && x->ctype < 0 && k->types != T_ALL)
			continue; /* type-specific key of an unknown type */
		if (sect == KS_CHECK && strcmp(name, "type") == 0) {
			x->valid[kidx(k)] = x->ctype >= 0;
			continue; /* parsed first, in parse_check */
		}
		x->valid[kidx(k)] = parse_key(x, m, k);
	}
}

static bool
key_valid(struct ctx *x, enum ksect sect, const char *name)
{
	const struct key *k = find_key(sect, name, x->ctype);

	return k != NULL && x->valid[kidx(k)];
}

static bool
key_present(struct ctx *x, enum ksect sect, const char *name)
{
	const struct key *k = find_key(sect, name, x->ctype);

	return k != NULL && x->present[kidx(k)];
}

static config_setting_t *
key_where(struct ctx *x, enum ksect sect, const char *name)
{
	const struct key *k = find_key(sect, name, x->ctype);

	return k != NULL ? x->where[kidx(k)] : NULL;
}

/* ---- validators ---- */

static bool
v_listen(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	char err[256];

	if (util_parse_hostport(v, true, &x->c->listen_addr,
	        &x->c->listen_addrlen, err, sizeof(err)) != 0) {
		kerr(x, s, k, "%s", err);
		return false;
	}
	return true;
}

static bool
v_hpath(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	if (v[0] != '/') {
		kerr(x, s, k, "%s must start with \"/\"", q(x, v));
		return false;
	}
	for (const char *p = v; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || *p == '?' || *p == '#') {
			kerr(x, s, k, "%s must not contain spaces, ? or #",
			    q(x, v));
			return false;
		}
	}
	if (strcmp(v, "/status") == 0 || strcmp(v, "/metrics") == 0) {
		kerr(x, s, k, "%s is reserved for the status endpoint",
		    q(x, v));
		return false;
	}
	return true;
}

static bool
v_loglevel(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	int l = log_level_parse(v);

	if (l < 0) {
		kerr(x, s, k,
		    "%s is not one of err, warning, notice, info, debug",
		    q(x, v));
		return false;
	}
	x->c->log_level = l;
	return true;
}

static bool
v_name(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	if (strspn(v,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789_.-") != strlen(v)) {
		kerr(x, s, k,
		    "%s may only contain letters, digits, \"_\", \".\" and "
		    "\"-\"",
		    q(x, v));
		return false;
	}
	for (size_t i = 0; i < x->c->n_checks; i++) {
		const struct conf_check *o = &x->c->checks[i];

		if (&x->c->checks[i] != x->ck && o->name != NULL &&
		    strcmp(o->name, v) == 0) {
			kerr(x, s, k,
			    "duplicate check name %s (first defined at line "
			    "%d)",
			    q(x, v), o->line);
			return false;
		}
	}
	return true;
}

static bool
v_procname(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	if (strchr(v, '/') != NULL) {
		kerr(x, s, k,
		    "%s must be a bare process name without \"/\" (use cmdline "
		    "for paths)",
		    q(x, v));
		return false;
	}
	return true;
}

static bool
v_cmdline(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	int rc = regcomp(&x->ck->cmdline_re, v, REG_EXTENDED | REG_NOSUB);

	if (rc != 0) {
		char err[128];

		regerror(rc, &x->ck->cmdline_re, err, sizeof(err));
		kerr(x, s, k, "bad regular expression %s: %s", q(x, v), err);
		return false;
	}
	return true;
}

static bool
v_user(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	if (strspn(v, "0123456789") == strlen(v)) {
		errno = 0;
		unsigned long long u = strtoull(v, NULL, 10);

		if (errno != 0 || u >= UINT32_MAX) {
			kerr(x, s, k, "uid %s is out of range", q(x, v));
			return false;
		}
		x->ck->uid = (uid_t)u;
	} else {
		struct passwd *pw;

		errno = 0;
		pw = getpwnam(v);
		if (pw == NULL) {
			kerr(x, s, k, "unknown user %s", q(x, v));
			return false;
		}
		x->ck->uid = pw->pw_uid;
	}
	x->ck->has_user = true;
	return true;
}

static bool list_check(struct ctx *x, config_setting_t *s, const struct key *k,
    int etype, const char *what, const char *one);

/* An exec check's user: it must exist; its primary group, supplementary
 * groups and home are taken from the user database now. */
static bool
v_runas(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	struct conf_check *ck = x->ck;
	struct passwd *pw;
	int ng = 16;

	errno = 0;
	if (strspn(v, "0123456789") == strlen(v)) {
		unsigned long long u = strtoull(v, NULL, 10);

		pw = u < UINT32_MAX ? getpwuid((uid_t)u) : NULL;
	} else
		pw = getpwnam(v);
	if (pw == NULL) {
		kerr(x, s, k, "unknown user %s%s%s", q(x, v),
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return false;
	}
	ck->uid = pw->pw_uid;
	if (!ck->has_group)
		ck->gid = pw->pw_gid;
	free(ck->home);
	ck->home = xstrdup(
	    pw->pw_dir != NULL && pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
	free(ck->groups);
	for (;;) {
		int n = ng;

		ck->groups = xreallocarray(NULL, (size_t)n, sizeof(gid_t));
		if (getgrouplist(pw->pw_name, pw->pw_gid, ck->groups, &n) >=
		    0) {
			ck->ngroups = (size_t)n;
			break;
		}
		free(ck->groups);
		if (n <= ng || n > 65536) {
			kerr(x, s, k, "cannot list the groups of user %s",
			    q(x, v));
			ck->groups = NULL;
			return false;
		}
		ng = n;
	}
	ck->has_user = true;
	return true;
}

static bool
v_rungroup(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	struct group *gr;

	errno = 0;
	if (strspn(v, "0123456789") == strlen(v)) {
		unsigned long long u = strtoull(v, NULL, 10);

		gr = u < UINT32_MAX ? getgrgid((gid_t)u) : NULL;
	} else
		gr = getgrnam(v);
	if (gr == NULL) {
		kerr(x, s, k, "unknown group %s", q(x, v));
		return false;
	}
	x->ck->gid = gr->gr_gid;
	x->ck->has_group = true;
	return true;
}

/* "NAME=value": a portable NAME, a value without control characters. */
static bool
p_environment(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	struct conf_check *ck = x->ck;
	bool ok = true;

	(void)unused;
	if (s == NULL)
		return true;
	if (!list_check(x, s, k, CONFIG_TYPE_STRING, "strings", "a string"))
		return false;
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		size_t nl = strspn(v,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_");
		bool dup = false;

		if (nl == 0 || v[nl] != '=' || isdigit((unsigned char)v[0])) {
			kerr(x, e, k, "%s must look like \"NAME=value\"",
			    q(x, v));
			ok = false;
			continue;
		}
		if (has_ctrl(v) || strlen(v) > 4096) {
			kerr(x, e, k,
			    "%s contains control characters or is too long",
			    q(x, v));
			ok = false;
			continue;
		}
		if (nl == strlen("HEALTHAGENT_CHECK") &&
		    strncmp(v, "HEALTHAGENT_CHECK", nl) == 0) {
			kerr(x, e, k,
			    "%s: HEALTHAGENT_CHECK is set by healthagent",
			    q(x, v));
			ok = false;
			continue;
		}
		for (size_t j = 0; j < ck->n_env; j++)
			if (strncmp(ck->env[j], v, nl + 1) == 0)
				dup = true;
		if (dup) {
			kerr(x, e, k, "%.*s is set twice", (int)nl, v);
			ok = false;
			continue;
		}
		ck->env[ck->n_env++] = xstrdup(v);
	}
	return ok;
}

/* Check the syntax of a host name or IPv4 literal (no brackets). */
static bool
host_ok(const char *h, size_t len)
{
	size_t lab = 0;
	bool numeric = true;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = h[i];

		if (ch == '.') {
			if (lab == 0 || h[i - 1] == '-')
				return false;
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)ch) && ch != '-' && ch != '_')
			return false;
		if (!isdigit((unsigned char)ch))
			numeric = false;
		if (lab == 0 && ch == '-')
			return false;
		if (++lab > 63)
			return false;
	}
	if (h[len - 1] == '-')
		return false;
	if (numeric) {
		char tmp[256];
		struct in_addr a;

		memcpy(tmp, h, len);
		tmp[len] = '\0';
		if (len > 1 && tmp[len - 1] == '.')
			tmp[len - 1] = '\0';
		return inet_pton(AF_INET, tmp, &a) == 1;
	}
	return true;
}

static bool
port_ok(const char *p, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* "host:port" or "[v6]:port"; with opt_port the port may be absent. */
static bool
hostport_ok(const char *s, size_t len, bool opt_port, const char **why)
{
	const char *colon;

	if (len > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', len);
		char tmp[INET6_ADDRSTRLEN + 8];
		struct in6_addr a;

		if (rb == NULL || (size_t)(rb - s - 1) >= sizeof(tmp)) {
			*why = "bad IPv6 address";
			return false;
		}
		memcpy(tmp, s + 1, (size_t)(rb - s - 1));
		tmp[rb - s - 1] = '\0';
		if (inet_pton(AF_INET6, tmp, &a) != 1) {
			*why = "bad IPv6 address";
			return false;
		}
		colon = rb + 1;
		if (colon == s + len && opt_port)
			return true;
		if (colon == s + len || *colon != ':') {
			*why = "expected [v6]:port";
			return false;
		}
	} else {
		colon = memchr(s, ':', len);
		if (colon == NULL && opt_port)
			colon = s + len;
		if (colon == NULL) {
			*why = "expected host:port";
			return false;
		}
		if (colon < s + len &&
		    memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) !=
		        NULL) {
			*why = "write IPv6 addresses as [addr]:port";
			return false;
		}
		if (!host_ok(s, (size_t)(colon - s))) {
			*why = "bad host name";
			return false;
		}
		if (colon == s + len)
			return true;
	}
	if (!port_ok(colon + 1, (size_t)(s + len - colon - 1))) {
		*why = "port must be 1-65535";
		return false;
	}
	return true;
}

static bool
v_tcpaddr(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	const char *why;

	if (!hostport_ok(v, strlen(v), false, &why)) {
		kerr(x, s, k, "bad address %s: %s", q(x, v), why);
		return false;
	}
	return true;
}

static bool
v_url(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	const char *a, *e, *why;

	if (strncasecmp(v, "http://", 7) == 0)
		a = v + 7;
	else if (strncasecmp(v, "https://", 8) == 0)
		a = v + 8;
	else {
		kerr(x, s, k, "bad url %s: must start with http:// or https://",
		    q(x, v));
		return false;
	}
	for (const char *p = v; *p != '\0'; p++) {
		if (isspace((unsigned char)*p)) {
			kerr(x, s, k, "bad url %s: contains spaces", q(x, v));
			return false;
		}
	}
	e = a + strcspn(a, "/?#");
	if (e == a) {
		kerr(x, s, k, "bad url %s: no host", q(x, v));
		return false;
	}
	if (memchr(a, '@', (size_t)(e - a)) != NULL) {
		kerr(x, s, k,
		    "bad url %s: credentials in the url are not supported "
		    "(use headers)",
		    q(x, v));
		return false;
	}
	if (!hostport_ok(a, (size_t)(e - a), true, &why)) {
		kerr(x, s, k, "bad url %s: %s", q(x, v), why);
		return false;
	}
	return true;
}

static int
cidr_parse(const char *v, struct conf_cidr *c, const char **why)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(v, '/');
	size_t al = slash ? (size_t)(slash - v) : strlen(v);
	int maxp;

	memset(c, 0, sizeof(*c));
	if (al == 0 || al >= sizeof(tmp)) {
		*why = "bad address";
		return -1;
	}
	memcpy(tmp, v, al);
	tmp[al] = '\0';
	if (inet_pton(AF_INET, tmp, c->addr) == 1) {
		c->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, tmp, c->addr) == 1) {
		c->family = AF_INET6;
		maxp = 128;
	} else {
		*why = "not a numeric IP address";
		return -1;
	}
	c->prefix = maxp;
	if (slash != NULL) {
		const char *p = slash + 1;
		size_t n = strlen(p);

		if (n == 0 || n > 3 || strspn(p, "0123456789") != n ||
		    atoi(p) > maxp) {
			*why = maxp == 32 ? "prefix must be 0-32"
			                  : "prefix must be 0-128";
			return -1;
		}
		c->prefix = atoi(p);
	}
	for (int b = c->prefix; b < maxp; b++) {
		if (c->addr[b / 8] & (0x80 >> (b % 8))) {
			*why = "host bits are set after the prefix";
			return -1;
		}
	}
	return 0;
}

/* Accept an array or list of scalars, or (when scalar_ok) one scalar. */
static bool
list_check(struct ctx *x, config_setting_t *s, const struct key *k, int etype,
    const char *what, const char *one)
{
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		kerr(x, s, k, "must be an array [ ... ] of %s, not %s", what,
		    type_desc(s));
		return false;
	}
	n = config_setting_length(s);
	if (n < (int)k->min || n > (int)k->max) {
		kerr(x, s, k, "has %d elements (must be %g..%g)", n, k->min,
		    k->max);
		return false;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int t = config_setting_type(e);

		if (t == CONFIG_TYPE_INT64)
			t = CONFIG_TYPE_INT;
		if (t != etype) {
			kerr(x, e, k, "element %d must be %s, not %s", i + 1,
			    one, type_desc(e));
			return false;
		}
	}
	return true;
}

static bool
p_allow(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	struct conf *c = x->c;
	bool ok = true;

	(void)unused;
	if (s == NULL) {
		const char *why;

		cidr_parse("127.0.0.0/8", &c->status_allow[0], &why);
		cidr_parse("::1/128", &c->status_allow[1], &why);
		c->n_status_allow = 2;
		return true;
	}
	c->n_status_allow = 0;
	if (!list_check(x, s, k, CONFIG_TYPE_STRING, "strings", "a string"))
		return false;
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e), *why;

		if (cidr_parse(v, &c->status_allow[c->n_status_allow], &why) !=
		    0) {
			kerr(x, e, k, "bad network %s: %s", q(x, v), why);
			ok = false;
		} else
			c->n_status_allow++;
	}
	return ok;
}

static const struct key status_elem = {KS_CHECK, "expect_status", KT_INT,
    T(HTTP), 100, 599, 200, "200", 0, NOOFF, NULL, 0, NULL, NULL};

static bool
p_status(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	struct conf_check *ck = x->ck;
	bool ok = true;
	double d;

	(void)unused;
	if (s == NULL) {
		ck->expect_status[0] = 200;
		ck->n_expect_status = 1;
		return true;
	}
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		if (!get_num(x, s, &status_elem, &d))
			return false;
		ck->expect_status[0] = (int)d;
		ck->n_expect_status = 1;
		return true;
	}
	if (!list_check(x, s, k, CONFIG_TYPE_INT, "integers", "an integer"))
		return false;
	if (config_setting_length(s) == 0) {
		kerr(x, s, k, "must not be empty");
		return false;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (!get_num(x, e, &status_elem, &d))
			ok = false;
		else
			ck->expect_status[ck->n_expect_status++] = (int)d;
	}
	return ok;
}

static bool
p_headers(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	static const char *const managed[] = {"Content-Length",
	    "Transfer-Encoding", "Connection", "Host"};
	struct conf_check *ck = x->ck;
	bool ok = true;

	(void)unused;
	if (s == NULL)
		return true;
	if (!list_check(x, s, k, CONFIG_TYPE_STRING, "strings", "a string"))
		return false;
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		size_t nl = strspn(v,
		    "!#$%&'*+-.^_`|~0123456789"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz");
		bool bad = false;

		if (nl == 0 || v[nl] != ':') {
			kerr(x, e, k, "%s must look like \"Name: value\"",
			    q(x, v));
			ok = false;
			continue;
		}
		for (const char *p = v + nl + 1; *p != '\0'; p++)
			if (((unsigned char)*p < 0x20 && *p != '\t') ||
			    *p == 0x7f)
				bad = true;
		if (bad || strlen(v) > 4096) {
			kerr(x, e, k,
			    "%s contains CR, LF or control "
			    "characters or is too long",
			    q(x, v));
			ok = false;
			continue;
		}
		for (size_t m = 0; m < sizeof(managed) / sizeof(managed[0]);
		     m++) {
			if (strlen(managed[m]) == nl &&
			    strncasecmp(v, managed[m], nl) == 0) {
				kerr(x, e, k,
				    "%s: the %s header is set by healthagent",
				    q(x, v), managed[m]);
				ok = false;
				bad = true;
			}
		}
		if (!bad)
			ck->headers[ck->n_headers++] = xstrdup(v);
	}
	return ok;
}

/*
 * A program and its arguments, run without a shell: the first element must
 * be the absolute path of an existing executable regular file. Used by
 * exec checks and autoscaling.restart_command.
 */
static bool
argv_parse(struct ctx *x, config_setting_t *s, const struct key *k, char **argv,
    size_t *argc)
{
	config_setting_t *e;
	const char *v;
	struct stat st;

	if (!list_check(x, s, k, CONFIG_TYPE_STRING, "strings", "a string"))
		return false;
	if (config_setting_length(s) == 0)
		return true;
	for (int i = 0; i < config_setting_length(s); i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		v = config_setting_get_string(e);
		if (strlen(v) > 65536) {
			kerr(x, e, k, "argument %d is too long", i + 1);
			return false;
		}
	}
	e = config_setting_get_elem(s, 0);
	v = config_setting_get_string(e);
	if (v[0] != '/') {
		kerr(x, e, k, "%s must be an absolute path", q(x, v));
		return false;
	}
	if (stat(v, &st) != 0) {
		kerr(x, e, k, "%s: %s", q(x, v), strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		kerr(x, e, k, "%s is not a regular file", q(x, v));
		return false;
	}
	if (access(v, X_OK) != 0) {
		kerr(x, e, k, "%s is not executable: %s", q(x, v),
		    strerror(errno));
		return false;
	}
	for (int i = 0; i < config_setting_length(s); i++) {
		e = config_setting_get_elem(s, (unsigned)i);
		argv[(*argc)++] = xstrdup(config_setting_get_string(e));
	}
	argv[*argc] = NULL;
	return true;
}

static bool
p_command(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	(void)unused;
	return argv_parse(x, s, k, x->ck->argv, &x->ck->argc);
}

static bool
p_restart(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	struct conf *c = x->c;

	(void)unused;
	for (size_t i = 0; i < c->asg_restart_argc; i++)
		free(c->asg_restart_argv[i]);
	c->asg_restart_argc = 0;
	c->asg_restart_argv[0] = NULL;
	if (s == NULL)
		return true;
	return argv_parse(x, s, k, c->asg_restart_argv, &c->asg_restart_argc);
}

static bool
p_drain(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	struct conf *c = x->c;

	(void)unused;
	for (size_t i = 0; i < c->lc_drain_argc; i++)
		free(c->lc_drain_argv[i]);
	c->lc_drain_argc = 0;
	c->lc_drain_argv[0] = NULL;
	if (s == NULL)
		return true;
	return argv_parse(x, s, k, c->lc_drain_argv, &c->lc_drain_argc);
}

/* ---- aws, cloudwatch, autoscaling, lifecycle, notify, eip ---- */

static bool
lower(char ch)
{
	return ch >= 'a' && ch <= 'z';
}

static bool
digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * The length of the region name at the start of v, [a-z]{2}(-[a-z]+)+-[0-9]+
 * ("us-east-1", "us-gov-west-1"), or 0 when v does not start with one. A
 * region is valid when this is its whole length; an Availability Zone name
 * continues after it ("us-east-1a").
 */
static size_t
region_len(const char *v)
{
	const char *p = v;
	int words = 0;

	if (!lower(p[0]) || !lower(p[1]))
		return 0;
	p += 2;
	while (p[0] == '-' && lower(p[1])) {
		for (p++; lower(*p); p++)
			;
		words++;
	}
	if (words == 0 || p[0] != '-' || !digit(p[1]))
		return 0;
	for (p++; digit(*p); p++)
		;
	return (size_t)(p - v);
}

static bool
v_region(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	if (*v == '\0' || region_len(v) == strlen(v))
		return true;
	kerr(x, s, k, "%s is not a region name (like \"us-east-1\")", q(x, v));
	return false;
}

static bool
v_az(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	size_t rl = region_len(v), n = strlen(v);
	bool ok = *v == '\0';

	/* a region, then a letter ("us-east-1a") or a local zone suffix
	 * ("us-west-2-lax-1a"); always ending in a letter */
	if (rl > 0 && n > rl && lower(v[n - 1])) {
		ok = true;
		for (size_t i = rl; i < n; i++)
			if (!lower(v[i]) && !digit(v[i]) && v[i] != '-')
				ok = false;
	}
	if (!ok)
		kerr(x, s, k,
		    "%s is not an Availability Zone name (like "
		    "\"us-east-1a\")",
		    q(x, v));
	return ok;
}

/* An AWS resource id: prefix and 8 to 17 lowercase hex digits, or "". */
static bool
aws_id(struct ctx *x, config_setting_t *s, const struct key *k, const char *v,
    const char *prefix, const char *what)
{
	size_t n = strlen(v), p = strlen(prefix);

	if (*v == '\0' ||
	    (n >= p + 8 && n <= p + 17 && strncmp(v, prefix, p) == 0 &&
	        strspn(v + p, "0123456789abcdef") == n - p))
		return true;
	kerr(x, s, k, "%s is not %s (\"%s\" and 8 to 17 lowercase hex digits)",
	    q(x, v), what, prefix);
	return false;
}

static bool
v_instance_id(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	return aws_id(x, s, k, v, "i-", "an instance id");
}

static bool
v_itype(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	const char *alnum = "abcdefghijklmnopqrstuvwxyz0123456789-";
	size_t a = strspn(v, alnum);

	if (*v == '\0' ||
	    (a > 0 && v[a] == '.' && v[a + 1] != '\0' &&
	        strspn(v + a + 1, alnum) == strlen(v + a + 1)))
		return true;
	kerr(x, s, k, "%s is not an instance type (like \"m5.large\")",
	    q(x, v));
	return false;
}

static bool
v_profile(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || strchr("[]#;", ch) != NULL) {
			kerr(x, s, k,
			    "%s is not a profile name (no spaces, \"[\", "
			    "\"]\", \"#\" or \";\")",
			    q(x, v));
			return false;
		}
	}
	return true;
}

/* An http:// or https:// base URL; "" means the default. */
static bool
v_endpoint(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	if (*v == '\0')
		return true;
	if (!v_url(x, s, k, v))
		return false;
	if (strpbrk(v, "?#") != NULL) {
		kerr(x, s, k, "bad url %s: must not have a query or fragment",
		    q(x, v));
		return false;
	}
	return true;
}

/* A lifecycle hook name as Auto Scaling takes it: [A-Za-z0-9-_/]{1,255}. */
static bool
v_hook(struct ctx *x, config_setting_t *s, const struct key *k, const char *v)
{
	if (strspn(v,
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	        "0123456789-_/") == strlen(v))
		return true;
	kerr(x, s, k,
	    "%s is not a lifecycle hook name (letters, digits, \"-\", "
	    "\"_\" and \"/\")",
	    q(x, v));
	return false;
}

static bool
v_rebalance(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	for (size_t i = 0;
	     i < sizeof(lc_rebalance_names) / sizeof(lc_rebalance_names[0]);
	     i++) {
		if (strcmp(v, lc_rebalance_names[i]) == 0) {
			x->c->lc_rebalance_drain = i == 1;
			return true;
		}
	}
	kerr(x, s, k, "%s is not one of report, drain", q(x, v));
	return false;
}

/*
 * An SNS topic ARN: arn:<partition>:sns:<region>:<account>:<name>, the
 * partition "aws" or "aws-..." ("aws-cn", "aws-us-gov"), the account 12
 * digits, the name 1..256 of [A-Za-z0-9_-], plus ".fifo" for FIFO topics.
 */
static bool
v_topic_arn(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	const char *p = v, *why = NULL;
	size_t n;

	if (*v == '\0')
		return true;
	if (strncmp(p, "arn:aws", 7) != 0) {
		why = "must start with \"arn:aws\"";
		goto bad;
	}
	p += 7;
	p += strspn(p, "abcdefghijklmnopqrstuvwxyz-");
	if (strncmp(p, ":sns:", 5) != 0) {
		why = "is not an SNS ARN (arn:aws:sns:...)";
		goto bad;
	}
	p += 5;
	n = region_len(p);
	if (n == 0 || p[n] != ':') {
		why = "has no region (like \"us-east-1\") after \"sns:\"";
		goto bad;
	}
	p += n + 1;
	n = strspn(p, "0123456789");
	if (n != 12 || p[n] != ':') {
		why = "has no 12-digit account id after the region";
		goto bad;
	}
	p += n + 1;
	n = strspn(p,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
	if (p[n] == '.' && strcmp(p + n, ".fifo") == 0 && n > 0)
		n += 5;
	if (n == 0 || p[n] != '\0' || n > 256) {
		why = "has a bad topic name (1 to 256 letters, digits, \"_\" "
		      "and \"-\", plus \".fifo\" for a FIFO topic)";
		goto bad;
	}
	return true;
bad:
	kerr(x, s, k, "%s %s", q(x, v), why);
	return false;
}

static bool
v_allocation_id(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	return aws_id(x, s, k, v, "eipalloc-", "an Elastic IP allocation id");
}

static bool
v_namespace(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *v)
{
	bool blank = true;

	for (const char *p = v; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch < 0x20 || ch > 0x7e) {
			kerr(x, s, k, "%s must be printable ASCII", q(x, v));
			return false;
		}
		if (ch != ' ')
			blank = false;
	}
	if (blank) {
		kerr(x, s, k, "must not be blank");
		return false;
	}
	if (v[0] == ':') {
		kerr(x, s, k, "%s must not start with \":\"", q(x, v));
		return false;
	}
	if (strncmp(v, "AWS/", 4) == 0) {
		kerr(x, s, k,
		    "%s: namespaces starting with \"AWS/\" are reserved for "
		    "AWS services",
		    q(x, v));
		return false;
	}
	return true;
}

static bool
v_resolution(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	int r = x->c->cw_storage_resolution;

	(void)unused;
	if (r == 1 || r == 60)
		return true;
	kerr(x, s, k, "%d is not allowed (must be 1 or 60)", r);
	return false;
}

/*
 * An array of names, each from names[0..nnames) (NULL entries skipped), no
 * name twice. The canonical names go to out[]; s NULL stores all of them.
 */
static bool
name_list(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *const *names, size_t nnames, char **out, size_t *nout)
{
	bool ok = true;

	for (size_t i = 0; i < *nout; i++) {
		free(out[i]);
		out[i] = NULL;
	}
	*nout = 0;
	if (s == NULL) {
		for (size_t i = 0; i < nnames; i++)
			if (names[i] != NULL)
				out[(*nout)++] = xstrdup(names[i]);
		return true;
	}
	if (!list_check(x, s, k, CONFIG_TYPE_STRING, "strings", "a string"))
		return false;
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		size_t j;
		bool dup = false;

		for (j = 0; j < nnames; j++)
			if (names[j] != NULL && strcmp(v, names[j]) == 0)
				break;
		if (j == nnames) {
			char list[512] = "";
			size_t o = 0;

			for (size_t m = 0; m < nnames && o < sizeof(list); m++)
				if (names[m] != NULL)
					o += (size_t)snprintf(list + o,
					    sizeof(list) - o, "%s%s",
					    o > 0 ? ", " : "", names[m]);
			kerr(x, e, k, "%s is not one of %s", q(x, v), list);
			ok = false;
			continue;
		}
		for (size_t m = 0; m < *nout; m++)
			if (strcmp(out[m], names[j]) == 0)
				dup = true;
		if (dup) {
			kerr(x, e, k, "%s is listed twice", q(x, v));
			ok = false;
			continue;
		}
		out[(*nout)++] = xstrdup(names[j]);
	}
	return ok;
}

static bool
p_dimensions(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	(void)unused;
	return name_list(x, s, k, cw_dimension_names,
	    sizeof(cw_dimension_names) / sizeof(cw_dimension_names[0]),
	    x->c->cw_dimensions, &x->c->n_cw_dimensions);
}

static bool
p_metrics(struct ctx *x, config_setting_t *s, const struct key *k,
    const char *unused)
{
	(void)unused;
	return name_list(x, s, k, cloudwatch_metric_names, CW_METRIC_MAX,
	    x->c->cw_metrics, &x->c->n_cw_metrics);
}

/* Is key name of sect either absent or present and accepted? */
static bool
key_ok(struct ctx *x, enum ksect sect, const char *name)
{
	return !key_present(x, sect, name) || key_valid(x, sect, name);
}

/* Rules between keys of one group, checked when the group is done. */
static void
finish_group(struct ctx *x, enum ksect sect)
{
	struct conf *c = x->c;
	size_t rl;

	switch (sect) {
	case KS_AWS:
		rl = strlen(c->aws_region);
		if (key_valid(x, KS_AWS, "availability_zone") &&
		    key_valid(x, KS_AWS, "region") && rl > 0 &&
		    *c->aws_availability_zone != '\0' &&
		    (region_len(c->aws_availability_zone) != rl ||
		        strncmp(c->aws_availability_zone, c->aws_region, rl) !=
		            0))
			err_at(x, key_where(x, KS_AWS, "availability_zone"),
			    "availability_zone: %s is not in region %s",
			    q(x, c->aws_availability_zone),
			    q(x, c->aws_region));
		break;
	case KS_LC:
		if (key_valid(x, KS_LC, "terminate_hook") &&
		    *c->lc_terminate_hook != '\0' &&
		    strcmp(c->lc_terminate_hook, c->lc_launch_hook) == 0)
			err_at(x, key_where(x, KS_LC, "terminate_hook"),
			    "terminate_hook: %s is also the launch_hook (a "
			    "hook serves one transition; give each its own "
			    "name)",
			    q(x, c->lc_terminate_hook));
		break;
	case KS_CW:
		if (key_ok(x, KS_CW, "buffer_seconds") &&
		    key_ok(x, KS_CW, "interval") &&
		    c->cw_buffer_seconds < c->cw_interval) {
			if (key_present(x, KS_CW, "buffer_seconds"))
				err_at(x, key_where(x, KS_CW, "buffer_seconds"),
				    "buffer_seconds: %g is less than interval "
				    "%g",
				    c->cw_buffer_seconds, c->cw_interval);
			else
				err_at(x, key_where(x, KS_CW, "interval"),
				    "interval: %g is more than buffer_seconds "
				    "%g (raise buffer_seconds)",
				    c->cw_interval, c->cw_buffer_seconds);
		}
		/* Sub-second publishing is for tests and soak runs; it folds
		 * sub-second periods, which only high resolution can hold. */
		if (key_ok(x, KS_CW, "interval") &&
		    key_ok(x, KS_CW, "storage_resolution") &&
		    c->cw_interval < 1 && c->cw_storage_resolution != 1)
			err_at(x, key_where(x, KS_CW, "interval"),
			    "interval: %g s is under 1 s, which needs "
			    "storage_resolution = 1",
			    c->cw_interval);
		break;
	default:
		break;
	}
}

/* ---- sections ---- */

static void
parse_section(struct ctx *x, config_setting_t *g, enum ksect sect)
{
	snprintf(x->prefix, sizeof(x->prefix), "%s: ", ksect_names[sect]);
	x->ctype = -1;
	if (g != NULL && !config_setting_is_group(g)) {
		x->prefix[0] = '\0';
		err_at(x, g, "%s: must be a group { ... }, not %s",
		    ksect_names[sect], type_desc(g));
		g = NULL;
	}
	if (g != NULL)
		parse_members(x, g, sect);
	else {
		memset(x->present, 0, sizeof(x->present));
		memset(x->valid, 0, sizeof(x->valid));
	}
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sect == sect && keys[i].type == KT_LIST &&
		    !x->present[i])
			keys[i].fn(x, NULL, &keys[i], NULL);
	finish_group(x, sect);
	x->prefix[0] = '\0';
}

static double
check_default_timeout(double interval)
{
	return interval < 2 ? interval : 2;
}

static void
finish_check(struct ctx *x, config_setting_t *g)
{
	struct conf_check *ck = x->ck;
	char rng[64];

	/* required keys */
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		if (k->sect != KS_CHECK || !(k->flags & KF_REQUIRED) ||
		    x->present[i] || strcmp(k->name, "type") == 0 ||
		    strcmp(k->name, "name") == 0)
			continue;
		if (x->ctype < 0 || !(k->types & (1u << x->ctype)))
			continue;
		err_at(x, g, "missing required key \"%s\" (for %s checks)",
		    k->name, conf_check_type_names[x->ctype]);
	}
	/* list defaults */
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sect == KS_CHECK && keys[i].type == KT_LIST &&
		    !x->present[i] && !(keys[i].flags & KF_REQUIRED) &&
		    x->ctype >= 0 && (keys[i].types & (1u << x->ctype)))
			keys[i].fn(x, NULL, &keys[i], NULL);

	/* timing */
	bool iv_ok = !key_present(x, KS_CHECK, "interval") ||
	    key_valid(x, KS_CHECK, "interval");
	if (!key_present(x, KS_CHECK, "timeout"))
		ck->timeout = check_default_timeout(ck->interval);
	else if (iv_ok && key_valid(x, KS_CHECK, "timeout") &&
	    ck->timeout > ck->interval) {
		snprintf(rng, sizeof(rng), "> 0 and <= interval %g",
		    ck->interval);
		err_at(x, key_where(x, KS_CHECK, "timeout"),
		    "timeout: %g is out of range (must be %s)", ck->timeout,
		    rng);
	}
	if (!key_present(x, KS_CHECK, "jitter"))
		ck->jitter = ck->interval;
	else if (iv_ok && key_valid(x, KS_CHECK, "jitter") &&
	    ck->jitter > ck->interval)
		err_at(x, key_where(x, KS_CHECK, "jitter"),
		    "jitter: %g is out of range (must be 0..interval %g)",
		    ck->jitter, ck->interval);

	switch (x->ctype) {
	case CONF_CHECK_PROCESS:
		if (!key_present(x, KS_CHECK, "pidfile") &&
		    !key_present(x, KS_CHECK, "proc_name") &&
		    !key_present(x, KS_CHECK, "cmdline") &&
		    !key_present(x, KS_CHECK, "user"))
			err_at(x, g,
			    "process checks need at least one of pidfile, "
			    "proc_name, cmdline, user");
		if (key_valid(x, KS_CHECK, "min") &&
		    key_valid(x, KS_CHECK, "max") && ck->max_count > 0 &&
		    ck->min_count > ck->max_count)
			err_at(x, key_where(x, KS_CHECK, "min"),
			    "min: %d is larger than max %d", ck->min_count,
			    ck->max_count);
		break;
	case CONF_CHECK_HTTP:
		if (ck->url != NULL) {
			bool https = strncasecmp(ck->url, "https://", 8) == 0;

			if (key_valid(x, KS_CHECK, "tls") && ck->tls != https)
				err_at(x, key_where(x, KS_CHECK, "tls"),
				    "tls: %s conflicts with url %s (the url "
				    "scheme decides; write %s)",
				    ck->tls ? "true" : "false", q(x, ck->url),
				    https ? "https://" : "http://");
			ck->tls = https;
			if (ck->insecure && !https)
				err_at(x, key_where(x, KS_CHECK, "insecure"),
				    "insecure: only applies to https:// urls");
		}
		break;
	case CONF_CHECK_EXEC:
		if (key_present(x, KS_CHECK, "group") &&
		    !key_present(x, KS_CHECK, "user"))
			err_at(x, key_where(x, KS_CHECK, "group"),
			    "group: needs user (the command runs as user, in "
			    "group)");
		/* Switching users needs privileges this process must have:
		 * checkconf tells before the daemon finds out. */
		if (ck->has_user &&
		    (ck->uid != geteuid() || ck->gid != getegid()) &&
		    !child_can_switch())
			err_at(x, key_where(x, KS_CHECK, "user"),
			    "user: %s: this process runs as uid %ld gid %ld "
			    "and cannot switch to uid %ld gid %ld (that needs "
			    "root, or CAP_SETUID and CAP_SETGID; see "
			    "healthagent(8))",
			    q(x, ck->user), (long)geteuid(), (long)getegid(),
			    (long)ck->uid, (long)ck->gid);
		break;
	case CONF_CHECK_THRESHOLD:
		ck->has_max = key_valid(x, KS_CHECK, "max");
		ck->has_min = key_valid(x, KS_CHECK, "min");
		if (!key_present(x, KS_CHECK, "max") &&
		    !key_present(x, KS_CHECK, "min"))
			err_at(x, g, "threshold checks need max, min or both");
		if (ck->has_max && ck->has_min && ck->min > ck->max)
			err_at(x, key_where(x, KS_CHECK, "min"),
			    "min: %g is larger than max %g", ck->min, ck->max);
		if (key_valid(x, KS_CHECK, "metric") &&
		    ck->metric <= CONF_METRIC_DISK) {
			if (ck->has_max && ck->max > 100)
				err_at(x, key_where(x, KS_CHECK, "max"),
				    "max: %g is out of range (%s is a "
				    "percentage: 0..100)",
				    ck->max, conf_metric_names[ck->metric]);
			if (ck->has_min && ck->min > 100)
				err_at(x, key_where(x, KS_CHECK, "min"),
				    "min: %g is out of range (%s is a "
				    "percentage: 0..100)",
				    ck->min, conf_metric_names[ck->metric]);
		}
		break;
	default:
		break;
	}
}

static void
parse_check(struct ctx *x, config_setting_t *g, size_t idx)
{
	const struct key *tk = find_key(KS_CHECK, "type", -1);
	config_setting_t *t, *n;

	x->ck = &x->c->checks[idx];
	x->ck->line = config_setting_source_line(g);
	x->ctype = -1;
	snprintf(x->prefix, sizeof(x->prefix), "check #%zu: ", idx + 1);
	if (!config_setting_is_group(g)) {
		err_at(x, g, "must be a group { ... }, not %s", type_desc(g));
		return;
	}
	/* name first, so that every message names the check */
	n = config_setting_get_member(g, "name");
	if (n == NULL)
		err_at(x, g, "missing required key \"name\"");
	else if (config_setting_type(n) == CONFIG_TYPE_STRING) {
		const char *v = config_setting_get_string(n);

		if (v != NULL && *v != '\0' && strlen(v) <= 64 &&
		    strspn(v,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		        "vwxyz0123456789_.-") == strlen(v))
			snprintf(x->prefix, sizeof(x->prefix),
			    "check \"%s\": ", v);
	}
	t = config_setting_get_member(g, "type");
	if (t == NULL)
		err_at(x, g, "missing required key \"type\"");
	else if (parse_key(x, t, tk))
		x->ctype = (int)x->ck->type;
	apply_defaults(x, KS_CHECK);
	parse_members(x, g, KS_CHECK);
	finish_check(x, g);
	x->prefix[0] = '\0';
}

static void
parse_root(struct ctx *x, config_setting_t *root)
{
	config_setting_t *groups[KS_MAX] = {NULL}, *checks = NULL;
	int n = config_setting_length(root);

	for (int i = 0; i < n; i++) {
		config_setting_t *m =
		    config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(m);

		int sect = -1;

		for (int t = 0; t < KS_MAX; t++)
			if (t != KS_CHECK && strcmp(name, ksect_names[t]) == 0)
				sect = t;
		if (sect >= 0)
			groups[sect] = m;
		else if (strcmp(name, "checks") == 0)
			checks = m;
		else
			err_at(x, m,
			    "unknown key %s (expected health, agent, aws, "
			    "cloudwatch, autoscaling, lifecycle, notify, eip "
			    "or checks)",
			    q(x, name));
	}
	for (int t = 0; t < KS_MAX; t++) {
		if (t == KS_CHECK)
			continue;
		x->ctype = -1;
		apply_defaults(x, (enum ksect)t);
		parse_section(x, groups[t], (enum ksect)t);
	}
	if (checks == NULL)
		return;
	if (!config_setting_is_list(checks) &&
	    !(config_setting_is_array(checks) &&
	        config_setting_length(checks) == 0)) {
		err_at(x, checks,
		    "checks: must be a list ( { ... }, ... ), not %s",
		    type_desc(checks));
		return;
	}
	n = config_setting_length(checks);
	if (n > CONF_MAX_CHECKS) {
		err_at(x, checks, "checks: %d checks (at most %d)", n,
		    CONF_MAX_CHECKS);
		return;
	}
	x->c->checks = xcalloc((size_t)n + 1, sizeof(*x->c->checks));
	for (int i = 0; i < n; i++) {
		x->c->n_checks = (size_t)i + 1;
		parse_check(x, config_setting_get_elem(checks, (unsigned)i),
		    (size_t)i);
	}
}

/* ---- entry points ---- */

/* Order the new messages by file, then line (stable). */
static void
sort_errors(struct ctx *x)
{
	size_t n = x->errs->n - x->nerr0;
	char **m;

	if (n < 2)
		return;
	m = x->errs->msgs + x->nerr0;
	for (size_t i = 1; i < n; i++) {
		struct errpos p = x->pos[i];
		char *msg = m[i];
		size_t j = i;

		while (j > 0 &&
		    (strcmp(x->pos[j - 1].file, p.file) > 0 ||
		        (strcmp(x->pos[j - 1].file, p.file) == 0 &&
		            x->pos[j - 1].line > p.line))) {
			x->pos[j] = x->pos[j - 1];
			m[j] = m[j - 1];
			j--;
		}
		x->pos[j] = p;
		m[j] = msg;
	}
}

/*
 * libconfig opens @include files itself, and when one is a directory
 * (@include "" names the include directory) or a device, its scanner fails
 * with YY_FATAL_ERROR, which calls exit(): a reload would kill the agent.
 * So every @include line (libconfig's rule: at the start of a line) is
 * checked first, recursively: it must name a regular file or nothing at
 * all (libconfig then reports it missing), without escapes, which
 * libconfig would decode. Found by tests/fuzz/fuzz_conf.
 */
static bool
includes_safe(const char *text, const char *from, const char *include_dir,
    int depth, int *budget, struct conf_errors *errs)
{
	bool ok = true;

	/* 10 levels as in libconfig; the budget bounds the fan-out of a file
	 * that includes itself many times (libconfig's own problem then). */
	for (const char *p = text;
	     depth <= 10 && *budget > 0 && p != NULL && *p != '\0';) {
		const char *l = p + strspn(p, " \t"), *nl = strchr(p, '\n');
		char *inc, *full, *sub;
		struct stat st;
		size_t len;
		int e;

		p = nl != NULL ? nl + 1 : NULL;
		if (strncmp(l, "@include", 8) != 0)
			continue;
		(*budget)--;
		l += 8;
		l += strspn(l, " \t");
		if (*l != '"')
			continue;
		len = strcspn(l + 1, "\"\n");
		inc = xstrndup(l + 1, len);
		full = inc[0] == '/' || include_dir == NULL
		    ? xstrdup(inc)
		    : xasprintf("%s/%s", include_dir, inc);
		if (strchr(inc, '\\') != NULL) {
			errs_add(errs,
			    xasprintf("%s: @include \"%s\": escapes are not "
			              "supported in include names",
			        from, inc));
			ok = false;
		} else if (stat(full, &st) == 0 && !S_ISREG(st.st_mode)) {
			errs_add(errs,
			    xasprintf("%s: @include \"%s\": %s is not a "
			              "regular file",
			        from, inc, full));
			ok = false;
		} else if (stat(full, &st) == 0 &&
		    (sub = read_text(full, &e)) != NULL) {
			if (!includes_safe(sub, full, include_dir, depth + 1,
			        budget, errs))
				ok = false;
			free(sub);
		}
		free(full);
		free(inc);
	}
	return ok;
}

static struct conf *
load(const char *text, const char *name, const char *include_dir,
    struct conf_errors *errs)
{
	int budget = 256;
	struct ctx x;
	config_t cfg;
	struct conf *c = NULL;
	size_t nerr = errs->n;

	memset(&x, 0, sizeof(x));
	x.errs = errs;
	x.nerr0 = errs->n;
	x.include_dir = include_dir;
	x.srcs = xcalloc(1, sizeof(*x.srcs));
	x.nsrcs = 1;
	x.srcs[0].disp = xstrdup(name);
	x.srcs[0].text = xstrdup(text);
	x.srcs[0].tried = true;
	config_init(&cfg);
	if (include_dir != NULL)
		config_set_include_dir(&cfg, include_dir);
	if (!includes_safe(text, name, include_dir, 0, &budget, errs))
		goto out;
	if (!config_read_string(&cfg, text)) {
		const char *ef = config_error_file(&cfg);
		const char *et = config_error_text(&cfg);
		struct src *src = src_of(&x, ef);
		int line = config_error_line(&cfg);
		char extra[512] = "";

		if (et == NULL)
			et = "syntax error";
		if (strstr(et, "include") != NULL && line > 0) {
			/* name the include file that failed */
			const char *t = src_text(src), *p = t;

			for (int l = 1; p != NULL && l < line; l++)
				if ((p = strchr(p, '\n')) != NULL)
					p++;
			if (p != NULL && (p = strstr(p, "@include")) != NULL &&
			    (p = strchr(p, '"')) != NULL) {
				size_t len = strcspn(p + 1, "\"\n");
				char inc[300], full[700];

				snprintf(inc, sizeof(inc), "%.*s",
				    (int)(len < 299 ? len : 299), p + 1);
				snprintf(full, sizeof(full), "%s%s%s",
				    include_dir ? include_dir : "",
				    include_dir ? "/" : "", inc);
				int acc = access(full, R_OK), e = errno;

				snprintf(extra, sizeof(extra), " %s%s%s",
				    q(&x, inc), acc != 0 ? ": " : "",
				    acc != 0 ? strerror(e) : "");
			}
		}
		if (line > 0)
			errs_add(errs,
			    xasprintf("%s:%d: %s%s", src->disp, line, et,
			        extra));
		else
			errs_add(errs,
			    xasprintf("%s: %s%s", src->disp, et, extra));
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(name);
	x.c = c;
	parse_root(&x, config_root_setting(&cfg));
	sort_errors(&x);
	if (errs->n > nerr) {
		conf_free(c);
		c = NULL;
	}
out:
	config_destroy(&cfg);
	for (size_t i = 0; i < x.nsrcs; i++) {
		free(x.srcs[i].file);
		free(x.srcs[i].disp);
		free(x.srcs[i].text);
	}
	free(x.srcs);
	free(x.pos);
	return c;
}

/*
 * StrictModes, as sshd has it: a config file (and the directory holding
 * it) that anyone but root or this process's user could have written is
 * refused, since whoever can write it decides what runs (exec checks,
 * restart_command) and whether the instance is evicted.
 */
static bool
strict_file(const char *path, const struct stat *st, const char *what,
    struct conf_errors *errs)
{
	mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me) {
		struct passwd *pw = getpwuid(st->st_uid);

		errs_add(errs,
		    xasprintf("%s: %s is owned by uid %ld%s%s%s, not by root "
		              "or this process's user (uid %ld); refusing it "
		              "(chown root %s)",
		        path, what, (long)st->st_uid, pw ? " (" : "",
		        pw ? pw->pw_name : "", pw ? ")" : "", (long)me, path));
		return false;
	}
	if (w != 0 && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))) {
		errs_add(errs,
		    xasprintf("%s: %s is %s-writable (mode %04o); refusing it "
		              "(chmod %s-w %s)",
		        path, what,
		        w == (S_IWGRP | S_IWOTH) ? "group- and world"
		            : w == S_IWGRP       ? "group"
		                                 : "world",
		        (unsigned)(st->st_mode & 07777),
		        w == (S_IWGRP | S_IWOTH) ? "go"
		            : w == S_IWGRP       ? "g"
		                                 : "o",
		        path));
		return false;
	}
	return true;
}

/* The file at path and the directory it is in; missing files are left to
 * the reader to report. */
static bool
strict_path(const char *path, const char *what, struct conf_errors *errs)
{
	struct stat st;
	char *dir, *slash;
	bool ok = true;

	if (stat(path, &st) != 0)
		return true;
	if (!strict_file(path, &st, what, errs))
		ok = false;
	slash = strrchr(path, '/');
	dir = slash == NULL ? xstrdup(".")
	    : slash == path ? xstrdup("/")
	                    : xstrndup(path, (size_t)(slash - path));
	if (stat(dir, &st) == 0 &&
	    !strict_file(dir, &st, "the directory of a config file", errs))
		ok = false;
	free(dir);
	return ok;
}

/* Every file named by an @include line of text, recursively (libconfig
 * 1.5 reads them itself, so they are checked before it does). */
static bool
strict_includes(const char *text, const char *include_dir, int depth,
    int *budget, struct conf_errors *errs)
{
	bool ok = true;

	/* libconfig stops at 10 levels; the budget bounds a file that
	 * includes itself many times (libconfig then fails anyway). */
	if (depth > 10)
		return true;
	for (const char *p = text; p != NULL && *p != '\0';) {
		const char *l = p + strspn(p, " \t");
		const char *nl = strchr(p, '\n');

		p = nl != NULL ? nl + 1 : NULL;
		if (strncmp(l, "@include", 8) != 0 || *budget <= 0)
			continue;
		(*budget)--;
		l += 8;
		l += strspn(l, " \t");
		if (*l != '"')
			continue;
		size_t len = strcspn(l + 1, "\"\n");
		char *inc = xstrndup(l + 1, len), *full, *sub;
		int e;

		if (inc[0] == '/' || include_dir == NULL)
			full = xstrdup(inc);
		else
			full = xasprintf("%s/%s", include_dir, inc);
		if (!strict_path(full, "included config file", errs))
			ok = false;
		else if ((sub = read_text(full, &e)) != NULL) {
			if (!strict_includes(sub, include_dir, depth + 1,
			        budget, errs))
				ok = false;
			free(sub);
		}
		free(full);
		free(inc);
	}
	return ok;
}

struct conf *
conf_load(const char *path, struct conf_errors *errs)
{
	struct stat st;
	char *text, *dir = NULL, *slash;
	struct conf *c;
	int e = 0;

	if (stat(path, &st) != 0) {
		errs_add(errs,
		    xasprintf("%s: cannot open: %s", path, strerror(errno)));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		errs_add(errs,
		    xasprintf("%s: cannot open: %s", path, strerror(EISDIR)));
		return NULL;
	}
	if ((text = read_text(path, &e)) == NULL) {
		errs_add(errs,
		    xasprintf("%s: cannot %s: %s", path,
		        e == EILSEQ ? "read" : "open",
		        e == EILSEQ ? "file contains a NUL byte"
		                    : strerror(e)));
		return NULL;
	}
	if ((slash = strrchr(path, '/')) != NULL)
		dir = slash == path ? xstrdup("/")
		                    : xstrndup(path, (size_t)(slash - path));
	/* Both checks run, so that every offending file is named at once. */
	bool strict = strict_path(path, "config file", errs);
	int budget = 256;
	if (strict_includes(text, dir, 0, &budget, errs) && strict)
		c = load(text, path, dir, errs);
	else
		c = NULL;
	free(dir);
	free(text);
	return c;
}

struct conf *
conf_load_string(const char *text, const char *name, const char *include_dir,
    struct conf_errors *errs)
{
	return load(text, name != NULL ? name : "(string)", include_dir, errs);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_checks; i++) {
		struct conf_check *ck = &c->checks[i];

		free(ck->name);
		free(ck->pidfile);
		free(ck->proc_name);
		if (ck->cmdline != NULL)
			regfree(&ck->cmdline_re);
		free(ck->cmdline);
		free(ck->user);
		free(ck->url);
		free(ck->expect_body);
		for (size_t j = 0; j < ck->n_headers; j++)
			free(ck->headers[j]);
		free(ck->address);
		for (size_t j = 0; j < ck->argc; j++)
			free(ck->argv[j]);
		free(ck->group);
		free(ck->groups);
		free(ck->home);
		for (size_t j = 0; j < ck->n_env; j++)
			free(ck->env[j]);
	}
	free(c->checks);
	free(c->path);
	free(c->listen);
	free(c->health_path);
	free(c->socket_path);
	free(c->socket_group);
	free(c->disk_path);
	free(c->state_dir);
	free(c->aws_region);
	free(c->aws_instance_id);
	free(c->aws_availability_zone);
	free(c->aws_instance_type);
	free(c->aws_autoscaling_group);
	free(c->aws_profile);
	free(c->aws_imds_endpoint);
	free(c->aws_endpoint_url);
	free(c->aws_cloudwatch_endpoint);
	free(c->aws_autoscaling_endpoint);
	free(c->cw_namespace);
	for (size_t j = 0; j < c->n_cw_dimensions; j++)
		free(c->cw_dimensions[j]);
	for (size_t j = 0; j < c->n_cw_metrics; j++)
		free(c->cw_metrics[j]);
	for (size_t j = 0; j < c->asg_restart_argc; j++)
		free(c->asg_restart_argv[j]);
	free(c->aws_ec2_endpoint);
	free(c->aws_sns_endpoint);
	free(c->lc_launch_hook);
	free(c->lc_terminate_hook);
	for (size_t j = 0; j < c->lc_drain_argc; j++)
		free(c->lc_drain_argv[j]);
	free(c->sns_topic_arn);
	free(c->eip_allocation_id);
	free(c);
}

void
conf_errors_free(struct conf_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

const struct conf_check *
conf_find_check(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->n_checks; i++)
		if (c->checks[i].name != NULL &&
		    strcmp(c->checks[i].name, name) == 0)
			return &c->checks[i];
	return NULL;
}

static bool
prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
	int full = prefix / 8, rem = prefix % 8;

	if (memcmp(a, net, (size_t)full) != 0)
		return false;
	if (rem == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rem));
	return (a[full] & mask) == (net[full] & mask);
}

bool
conf_status_allowed(const struct conf *c, const struct sockaddr *addr)
{
	const unsigned char *v4 = NULL, *v6 = NULL;

	if (addr->sa_family == AF_INET)
		v4 = (const unsigned char *)&((const struct sockaddr_in *)addr)
		         ->sin_addr;
	else if (addr->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)addr)->sin6_addr;

		v6 = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6))
			v4 = a6->s6_addr + 12;
	} else
		return false;
	for (size_t i = 0; i < c->n_status_allow; i++) {
		const struct conf_cidr *n = &c->status_allow[i];

		if (n->family == AF_INET && v4 != NULL &&
		    prefix_match(v4, n->addr, n->prefix))
			return true;
		if (n->family == AF_INET6 && v6 != NULL &&
		    prefix_match(v6, n->addr, n->prefix))
			return true;
	}
	return false;
}

const char *
conf_key_name(size_t i, const char **section)
{
	if (i >= NKEYS)
		return NULL;
	if (section != NULL)
		*section = ksect_names[keys[i].sect];
	return keys[i].name;
}
