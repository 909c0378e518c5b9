/* SPDX-License-Identifier: ISC */
/*
 * The configuration as plain values. conf.c is the only file that includes
 * <libconfig.h>: it loads a file, validates every key against a declarative
 * table, and reports every error as "file:line: message". Other modules copy
 * what they need from struct conf and never keep pointers into it across a
 * reload.
 */
#ifndef CONF_H
#define CONF_H

#include <sys/socket.h>
#include <sys/types.h>

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

enum conf_check_type {
	CONF_CHECK_PROCESS,
	CONF_CHECK_HTTP,
	CONF_CHECK_TCP,
	CONF_CHECK_EXEC,
	CONF_CHECK_THRESHOLD,
	CONF_CHECK_TYPE_MAX
};

extern const char *const conf_check_type_names[CONF_CHECK_TYPE_MAX];

enum conf_scope { CONF_SCOPE_LOCAL, CONF_SCOPE_DEPENDENCY, CONF_SCOPE_MAX };

extern const char *const conf_scope_names[CONF_SCOPE_MAX];

/* The initial per-check state; values match enum health_cstate. */
enum conf_initial {
	CONF_INITIAL_UNKNOWN,
	CONF_INITIAL_UP,
	CONF_INITIAL_DOWN,
	CONF_INITIAL_MAX
};

extern const char *const conf_initial_names[CONF_INITIAL_MAX];

/* Metrics a threshold check can watch; values match enum sample_metric. */
enum conf_metric {
	CONF_METRIC_CPU,
	CONF_METRIC_MEM,
	CONF_METRIC_SWAP,
	CONF_METRIC_DISK,
	CONF_METRIC_LOAD1,
	CONF_METRIC_LOAD5,
	CONF_METRIC_LOAD15,
	CONF_METRIC_MAX
};

/* "cpu_usage_percent", "mem_used_percent", "swap_used_percent",
 * "disk_used_percent", "load1", "load5", "load15". */
extern const char *const conf_metric_names[CONF_METRIC_MAX];

#define CONF_MAX_CHECKS 1024
#define CONF_MAX_EXPECT_STATUS 16
#define CONF_MAX_HEADERS 32
#define CONF_MAX_ARGV 64
#define CONF_MAX_ENV 32
#define CONF_MAX_ALLOW 32

/* An address/prefix pair for status_allow. */
struct conf_cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
};

struct conf_check {
	char *name;
	enum conf_check_type type;
	enum conf_scope scope;
	double interval; /* seconds between runs, > 0 */
	double timeout;  /* seconds before a run is killed, <= interval */
	int rise;        /* successes to go DOWN -> UP */
	int fall;        /* failures to go UP -> DOWN */
	enum conf_initial initial;
	double jitter; /* max random delay of the first run, seconds */
	int line;      /* where it was defined, for messages */

	/* process: at least one of pidfile, proc_name, cmdline, user */
	char *pidfile;
	/* exact match on comm (15 chars) or argv[0] basename */
	char *proc_name;
	char *cmdline;      /* extended regex over the space-joined argv */
	regex_t cmdline_re; /* compiled when cmdline != NULL */
	bool has_user;
	uid_t uid; /* resolved from "user" (name or number) */
	char *user;
	int min_count; /* default 1 */
	int max_count; /* default 0 = no maximum */

	/* http */
	char *url;
	int expect_status[CONF_MAX_EXPECT_STATUS];
	size_t n_expect_status; /* default {200} when 0 given */
	char *expect_body;      /* substring the body must contain, or NULL */
	char *headers[CONF_MAX_HEADERS]; /* "Name: value" */
	size_t n_headers;
	bool tls;      /* true when the url is https:// (tls = must agree) */
	bool insecure; /* skip TLS certificate and host verification */

	/* tcp */
	char *address; /* "host:port"; host resolved at run time */

	/* exec */
	char *argv[CONF_MAX_ARGV + 1]; /* NULL-terminated */
	size_t argc;
	/* "user" of an exec check is whom the command runs as (has_user, uid,
	 * user above); with it: gid (its primary group, or "group"), its
	 * supplementary groups and home, all resolved at load. */
	char *group;
	bool has_group;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	char *home;
	char *env[CONF_MAX_ENV + 1]; /* "NAME=value", NULL-terminated */
	size_t n_env;

	/* threshold */
	enum conf_metric metric;
	bool has_max, has_min;
	double max, min;
	double for_seconds; /* the condition must hold this long, 0 = at once */
};

struct conf {
	char *path; /* the file it was loaded from */

	/* health { } */
	char *listen; /* as written, e.g. "0.0.0.0:8099" */
	struct sockaddr_storage listen_addr;
	socklen_t listen_addrlen;
	char *health_path;  /* default "/health" */
	double start_grace; /* seconds, default 60 */
	double
	    drain_seconds; /* seconds of 503 before exit on SIGTERM, def. 10 */
	int max_connections;   /* default 256 */
	double header_timeout; /* seconds to receive a whole request, def. 5 */
	double idle_timeout;   /* seconds a keep-alive conn may idle, def. 30 */
	int max_request_size;  /* bytes of a request head, default 8192 */
	bool health_verbose;   /* /health names failing checks, def. false */
	struct conf_cidr status_allow[CONF_MAX_ALLOW]; /* default loopback */
	size_t n_status_allow;

	/* agent { } */
	char *socket_path;      /* control socket, default HEALTHAGENT_SOCK */
	int socket_mode;        /* default 0660 */
	char *socket_group;     /* default "healthagent"; "" = own group */
	double sample_interval; /* seconds, default 1.0 */
	char *disk_path;        /* filesystem for disk_used_percent, def. "/" */
	int log_level;          /* enum log_level, default info */

	/* aws { }: identity overrides and endpoints; never NULL, "" = discover.
	 * Syntax is checked at load: region like "us-east-1", instance_id
	 * "i-" + 8..17 hex digits, availability_zone inside region when both
	 * are set; endpoints are http(s):// URLs with a host and without
	 * credentials, query or fragment. A key set here wins over the
	 * matching environment variable. */
	char *aws_region;
	char *aws_instance_id;
	char *aws_availability_zone;
	char *aws_instance_type;
	char *aws_autoscaling_group;
	char *aws_profile;       /* shared credentials profile */
	char *aws_imds_endpoint; /* like AWS_EC2_METADATA_SERVICE_ENDPOINT */
	char *aws_endpoint_url;  /* like AWS_ENDPOINT_URL */
	char *aws_cloudwatch_endpoint;  /* like AWS_ENDPOINT_URL_CLOUDWATCH */
	char *aws_autoscaling_endpoint; /* like AWS_ENDPOINT_URL_AUTO_SCALING */
	int aws_max_attempts; /* SDK standard retry mode, 1..10, def 3 */
	double aws_timeout;   /* per attempt, s, 0.5..60, default 10 */

	/* cloudwatch { } */
	bool cw_enabled; /* default true */
	/* default "HealthAgent"; 1..255 printable ASCII, not ":..." nor
	 * "AWS/..." */
	char *cw_namespace;
	/* publish period, s, 1..86400, default 60; <= cw_buffer_seconds */
	double cw_interval;
	int cw_storage_resolution; /* 60 (default) or 1 */
	/* Dimension names from {"InstanceId", "AutoScalingGroupName"}; each
	 * metric is published once per entry (a per-instance series and a
	 * group-level series). 1 or 2 entries, no duplicates; default both,
	 * in that order. */
	char *cw_dimensions[4];
	size_t n_cw_dimensions;
	/* Which metrics: the canonical names from cloudwatch_metric_names, at
	 * least one, no duplicates; default all, in enum order. */
	char *cw_metrics[16];
	size_t n_cw_metrics;
	/* keep this much unsent data, seconds, 60..604800, default 3600 */
	double cw_buffer_seconds;
	bool cw_gzip; /* gzip bodies >= 10 KiB, default true */

	/* autoscaling { } */
	bool asg_set_instance_health; /* default false: opt in */
	/* the verdict is UNHEALTHY this long first, 0..86400, default 60 */
	double asg_confirm_seconds;
	bool asg_dry_run; /* log, call nothing; default false */
	/* refuse at or above this share of the group out, 0..100, def. 30 */
	double asg_max_unhealthy_percent;
	/* refuse at or below this many healthy, 0..10000, default 1 */
	int asg_min_healthy_instances;
	/* ShouldRespectGracePeriod, default false */
	bool asg_respect_grace_period;
	/* re-evaluate a refusal after this long, 1..86400, default 60 */
	double asg_recheck_interval;
	/* restart_command, NULL-terminated; argc 0 = none (the default). Like
	 * an exec check's command: argv[0] is an absolute path that existed
	 * and was executable when the file was loaded. */
	char *asg_restart_argv[CONF_MAX_ARGV + 1];
	size_t asg_restart_argc;
	int asg_restart_attempts;   /* within the window, 0..100, default 3 */
	double asg_restart_window;  /* seconds, 1..86400, default 600 */
	double asg_restart_timeout; /* per run, s, 0.1..3600, default 60 */
	/* agent.state_dir: absolute path, default "/var/lib/healthagent" */
	char *state_dir;

	/* aws { } endpoints for the services of the lifecycle work */
	char *aws_ec2_endpoint; /* like AWS_ENDPOINT_URL_EC2 */
	char *aws_sns_endpoint; /* like AWS_ENDPOINT_URL_SNS */

	/* lifecycle { } */
	char *lc_launch_hook;         /* "" = no launch hook */
	char *lc_terminate_hook;      /* "" = no terminate hook */
	double lc_launch_timeout;     /* ABANDON after this, default 600 */
	double lc_heartbeat_interval; /* heartbeat a held hook, default 60 */
	double lc_watch_interval;     /* IMDS poll for termination, default 5 */
	bool lc_rebalance_drain;      /* rebalance = "drain" (else "report") */
	bool lc_watch_spot;           /* spot = true (default) */
	char *lc_drain_argv[CONF_MAX_ARGV + 1]; /* drain_command */
	size_t lc_drain_argc;
	double lc_drain_timeout; /* drain_command timeout, default 60 */

	/* notify { } */
	char *sns_topic_arn; /* "" = no notifications */

	/* eip { } */
	char *eip_allocation_id; /* "" = none */

	struct conf_check *checks;
	size_t n_checks;
};

/* A list of "file:line: message" strings. */
struct conf_errors {
	char **msgs;
	size_t n;
};

/*
 * Load and validate path. On success returns a new conf and 0. On failure
 * returns NULL and appends every problem found to errs (which the caller
 * frees with conf_errors_free).
 */
struct conf *conf_load(const char *path, struct conf_errors *errs);
/* Same as conf_load, from memory; name is used in messages; includes are
 * resolved against include_dir (may be NULL). For tests and the fuzzer. */
struct conf *conf_load_string(const char *text, const char *name,
    const char *include_dir, struct conf_errors *errs);
void conf_free(struct conf *c);
void conf_errors_free(struct conf_errors *errs);
const struct conf_check *conf_find_check(const struct conf *c,
    const char *name);
/* Does addr (AF_INET/AF_INET6 sockaddr) match one of the status_allow nets? */
bool conf_status_allowed(const struct conf *c, const struct sockaddr *addr);
/* The key table, for documentation tests: the name of the i-th key and its
 * section ("health", "agent", "aws", "cloudwatch", "autoscaling",
 * "lifecycle", "notify", "eip" or "check"); NULL past the end. A name may
 * appear twice (e.g. "min" for process and threshold checks, "timeout" for aws
 * and checks). */
const char *conf_key_name(size_t i, const char **section);

#endif
