/* SPDX-License-Identifier: ISC */
/*
 * The command line. One binary is both the daemon (`run`) and its client;
 * subcommands are looked up in a table by unique prefix. `status` asks the
 * daemon over the control socket for JSON and formats it here, so the
 * daemon never builds human text.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cloudwatch.h"
#include "conf.h"
#include "ctl.h"
#include "daemon.h"
#include "healthagent.h"
#include "log.h"
#include "xmalloc.h"

/* Exit codes of `status`, which scripts may rely on. */
#define EXIT_HEALTHY 0
#define EXIT_NOT_HEALTHY 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

#define CTL_TIMEOUT_MS 5000

struct cli_opts {
	const char *conf_path;
	const char *socket;
	bool json;
	int log_level;
};

struct cli_cmd {
	const char *name;
	const char *usage;
	const char *help;
	int (*fn)(struct cli_opts *o);
};

static int cmd_run(struct cli_opts *o);
static int cmd_status(struct cli_opts *o);
static int cmd_checkconf(struct cli_opts *o);
static int cmd_drain(struct cli_opts *o);
static int cmd_undrain(struct cli_opts *o);
static int cmd_reload(struct cli_opts *o);
static int cmd_version(struct cli_opts *o);
static int cmd_help(struct cli_opts *o);

static const struct cli_cmd commands[] = {
    {"run", "run [-v] [-f file]",
        "run the agent in the foreground (as systemd does)", cmd_run},
    {"status", "status [--json] [-s socket] [-f file]",
        "show what the running agent sees and why", cmd_status},
    {"checkconf", "checkconf [-f file]",
        "validate a configuration file and report every error", cmd_checkconf},
    {"drain", "drain [-s socket] [-f file]",
        "make the endpoint answer 503 until undrain", cmd_drain},
    {"undrain", "undrain [-s socket] [-f file]", "end an operator drain",
        cmd_undrain},
    {"reload", "reload [-s socket] [-f file]",
        "make the running agent reload its configuration", cmd_reload},
    {"version", "version", "print the version", cmd_version},
    {"help", "help", "show this help", cmd_help},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: healthagent [-f file] [-s socket] command [args]\n\n"
	    "commands (unique prefixes accepted):\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-40s %s\n", commands[i].usage, commands[i].help);
	fprintf(f,
	    "\nThe default config is %s.\n"
	    "status exits 0 when healthy or degraded, 1 when not, "
	    "3 when the agent is unreachable.\n",
	    HEALTHAGENT_CONF);
}

static int
cmd_help(struct cli_opts *o)
{
	usage(stdout);
	return 0;
}

static int
cmd_version(struct cli_opts *o)
{
	printf("healthagent %s\n", HEALTHAGENT_VERSION);
	return 0;
}

static int
cmd_run(struct cli_opts *o)
{
	struct daemon_opts d = {
	    .conf_path = o->conf_path,
	    .log_level = o->log_level,
	};

	return daemon_run(&d);
}

static int
cmd_checkconf(struct cli_opts *o)
{
	struct conf_errors errs = {0};
	struct conf *c = conf_load(o->conf_path, &errs);
	size_t local = 0;

	if (c == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		conf_errors_free(&errs);
		return 1;
	}
	for (size_t i = 0; i < c->n_checks; i++)
		local += c->checks[i].scope == CONF_SCOPE_LOCAL;
	printf("%s: configuration OK: %zu checks (%zu local, %zu dependency), "
	       "endpoint %s%s\n",
	    o->conf_path, c->n_checks, local, c->n_checks - local, c->listen,
	    c->health_path);
	if (c->cw_enabled) {
		size_t n_metrics;
		double usd;

		cloudwatch_estimate(c, &n_metrics, &usd);
		printf("CloudWatch: %zu custom metrics per instance, about "
		       "$%.2f per instance per month (namespace %s, every %g "
		       "s)\n",
		    n_metrics, usd, c->cw_namespace, c->cw_interval);
	} else {
		printf("CloudWatch: disabled\n");
	}
	conf_free(c);
	return 0;
}

/* The socket: -s, else the config's, else the built-in default. */
static char *
socket_path(const struct cli_opts *o)
{
	struct conf_errors errs = {0};
	struct conf *c;
	char *p;

	if (o->socket != NULL)
		return xstrdup(o->socket);
	c = conf_load(o->conf_path, &errs);
	conf_errors_free(&errs);
	if (c == NULL)
		return xstrdup(HEALTHAGENT_SOCK);
	p = xstrdup(c->socket_path);
	conf_free(c);
	return p;
}

static json_object *
call(const struct cli_opts *o, const char *cmd, char **raw)
{
	char err[512], *reply = NULL, *path = socket_path(o);
	json_object *j;

	if (ctl_call(path, cmd, CTL_TIMEOUT_MS, &reply, err, sizeof(err)) < 0) {
		fprintf(stderr, "healthagent: %s (is the agent running?)\n",
		    err);
		free(path);
		return NULL;
	}
	free(path);
	j = json_tokener_parse(reply);
	if (j == NULL)
		fprintf(stderr,
		    "healthagent: the agent sent a reply that is "
		    "not JSON\n");
	if (raw != NULL)
		*raw = reply;
	else
		free(reply);
	return j;
}

static const char *
jstr(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return "";
	return json_object_get_string(v);
}

static int64_t
jint(json_object *o, const char *k, int64_t def)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return def;
	return json_object_get_int64(v);
}

static bool
jdbl(json_object *o, const char *k, double *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return false;
	*out = json_object_get_double(v);
	return true;
}

/* Format an age in ms as "4s", "3m12s", "2h5m" or "-". */
static const char *
ago(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	return buf;
}

static const char *
color(const char *state)
{
	if (!isatty(STDOUT_FILENO))
		return "";
	if (strcmp(state, "up") == 0 || strcmp(state, "healthy") == 0)
		return "\033[32m";
	if (strcmp(state, "down") == 0 || strcmp(state, "unhealthy") == 0)
		return "\033[31m";
	return "\033[33m";
}

static const char *
reset(void)
{
	return isatty(STDOUT_FILENO) ? "\033[0m" : "";
}

/* One check's reason column: "reason: detail", or what is pending. */
static const char *
reason_text(json_object *c, const char *state, char *buf, size_t len)
{
	const char *r = jstr(c, "reason"), *d = jstr(c, "detail");

	if (strcmp(r, "none") == 0)
		return "no result yet";
	if (strcmp(state, "down") == 0 && strcmp(r, "ok") == 0)
		snprintf(buf, len, "recovering (%lld of %lld successes): %s",
		    (long long)jint(c, "consecutive_ok", 0),
		    (long long)jint(c, "rise", 0), d);
	else if (strcmp(state, "down") != 0 && strcmp(r, "ok") != 0)
		snprintf(buf, len, "%s: %s (%lld of %lld failures)", r, d,
		    (long long)jint(c, "consecutive_fail", 0),
		    (long long)jint(c, "fall", 0));
	else
		snprintf(buf, len, "%s%s%s", r, *d ? ": " : "", d);
	return buf;
}

static void
print_status(json_object *j)
{
	json_object *d = NULL, *checks = NULL, *sm = NULL, *load = NULL;
	const char *state = jstr(j, "state");
	char b1[32], b2[32];
	double v;

	json_object_object_get_ex(j, "daemon", &d);
	json_object_object_get_ex(j, "checks", &checks);
	json_object_object_get_ex(j, "sample", &sm);
	printf("%s●%s healthagent %s - %s%s%s since %s ago\n", color(state),
	    reset(), jstr(d, "version"), color(state), state, reset(),
	    ago(jint(j, "state_age_ms", -1), b1, sizeof(b1)));
	printf("     Why: %s\n", jstr(j, "reason"));
	printf("     PID: %lld, up %s, config %s\n",
	    (long long)jint(d, "pid", 0),
	    ago(jint(d, "uptime_ms", -1), b2, sizeof(b2)), jstr(d, "config"));
	printf("Endpoint: http://%s%s (sampling: %s)\n", jstr(d, "listen"),
	    jstr(d, "health_path"), jstr(d, "sampling_backend"));
	if (jint(d, "reload_failures", 0) > 0)
		printf("  Reload: %lld failed%s%s\n",
		    (long long)jint(d, "reload_failures", 0),
		    *jstr(d, "last_reload_error") ? ", last: " : "",
		    jstr(d, "last_reload_error"));
	printf("\n%-16s %-9s %-10s %-7s %-8s %-9s %s\n", "CHECK", "TYPE",
	    "SCOPE", "STATE", "CHANGED", "LATENCY", "REASON");
	for (size_t i = 0;
	     checks != NULL && i < json_object_array_length(checks); i++) {
		json_object *c = json_object_array_get_idx(checks, i);
		const char *st = jstr(c, "state"), *why;
		char lat[32], reason[256];

		if (jdbl(c, "latency_ms", &v))
			snprintf(lat, sizeof(lat), "%.1fms", v);
		else
			snprintf(lat, sizeof(lat), "-");
		why = reason_text(c, st, reason, sizeof(reason));
		printf("%-16s %-9s %-10s %s%-7s%s %-8s %-9s %s\n",
		    jstr(c, "name"), jstr(c, "type"), jstr(c, "scope"),
		    color(st), st, reset(),
		    ago(jint(c, "last_change_age_ms", -1), b1, sizeof(b1)), lat,
		    why);
	}
	if (checks == NULL || json_object_array_length(checks) == 0)
		printf("(no checks configured)\n");
	printf("\nSamples:");
	if (jdbl(sm, "cpu_usage_percent", &v))
		printf(" cpu %.1f%%", v);
	else
		printf(" cpu -");
	if (jdbl(sm, "mem_used_percent", &v))
		printf("  mem %.1f%%", v);
	if (jdbl(sm, "swap_used_percent", &v))
		printf("  swap %.1f%%", v);
	if (jdbl(sm, "disk_used_percent", &v))
		printf("  disk %.1f%%", v);
	if (json_object_object_get_ex(sm, "load", &load) &&
	    json_object_array_length(load) == 3)
		printf("  load %.2f %.2f %.2f",
		    json_object_get_double(json_object_array_get_idx(load, 0)),
		    json_object_get_double(json_object_array_get_idx(load, 1)),
		    json_object_get_double(json_object_array_get_idx(load, 2)));
	printf("\n");
}

static json_object *
jobj(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o == NULL || !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

/* The AWS part of the status: identity, credentials, metrics, self-healing. */
static void
print_aws(json_object *j)
{
	json_object *aws = jobj(j, "aws"), *cw = jobj(j, "cloudwatch");
	json_object *as = jobj(j, "autoscaling"), *v;
	char b1[32];

	if (aws == NULL)
		return;
	printf("\n     AWS: instance %s, region %s\n",
	    *jstr(aws, "instance_id") ? jstr(aws, "instance_id") : "(unknown)",
	    *jstr(aws, "region") ? jstr(aws, "region") : "(unknown)");
	printf("    IMDS: %s\n", jstr(aws, "imds"));
	printf("   Creds: %s\n", jstr(aws, "credentials"));
	if (cw != NULL) {
		printf("   Metrics: namespace %s, every %ss: last publish %s "
		       "ago, "
		       "%lld queued, %lld dropped\n",
		    jstr(cw, "namespace"), jstr(cw, "interval_s"),
		    ago(jint(cw, "last_success_age_ms", -1), b1, sizeof(b1)),
		    (long long)jint(cw, "queued", 0),
		    (long long)jint(cw, "dropped", 0));
		if ((v = jobj(cw, "last_error")) != NULL &&
		    json_object_get_type(v) != json_type_null)
			printf("            last error: %s\n",
			    json_object_get_string(v));
		if (*jstr(cw, "flush_slot") != '\0')
			printf("            flush slot: +%.3f s of each "
			       "interval (%s)\n",
			    json_object_get_double(jobj(cw, "flush_offset_s")),
			    jstr(cw, "flush_slot"));
	} else {
		printf("   Metrics: CloudWatch disabled\n");
	}
	if (as != NULL) {
		json_object *act = jobj(as, "last_action");
		json_object *ref = jobj(as, "last_refusal");

		printf("    Heal: %s, group %s\n",
		    !json_object_get_boolean(jobj(as, "enabled")) ? "disabled"
		        : json_object_get_boolean(jobj(as, "dry_run"))
		        ? "dry run"
		        : "armed",
		    *jstr(as, "group") ? jstr(as, "group") : "(none)");
		if (act != NULL &&
		    json_object_get_type(act) == json_type_object)
			printf("            last action: %s: %s\n",
			    jstr(act, "what"), jstr(act, "result"));
		if (ref != NULL &&
		    json_object_get_type(ref) == json_type_object)
			printf("            last refusal: %s\n",
			    jstr(ref, "why"));
	}
}

static int
verdict_exit(json_object *j)
{
	json_object *okv;

	if (!json_object_object_get_ex(j, "ok", &okv))
		return EXIT_NOT_HEALTHY;
	return json_object_get_boolean(okv) ? EXIT_HEALTHY : EXIT_NOT_HEALTHY;
}

static int
cmd_status(struct cli_opts *o)
{
	char *raw = NULL;
	json_object *j = call(o, "status", &raw);
	int rc;

	if (j == NULL) {
		free(raw);
		return EXIT_UNREACHABLE;
	}
	if (o->json)
		fputs(raw, stdout);
	else {
		print_status(j);
		print_aws(j);
	}
	rc = verdict_exit(j);
	json_object_put(j);
	free(raw);
	return rc;
}

static int
drain_cmd(struct cli_opts *o, const char *cmd)
{
	json_object *j = call(o, cmd, NULL);

	if (j == NULL)
		return EXIT_UNREACHABLE;
	if (*jstr(j, "error") != '\0') {
		fprintf(stderr, "healthagent: %s\n", jstr(j, "error"));
		json_object_put(j);
		return 1;
	}
	printf("%s: %s\n", jstr(j, "state"), jstr(j, "reason"));
	json_object_put(j);
	return 0;
}

static int
cmd_drain(struct cli_opts *o)
{
	return drain_cmd(o, "drain");
}

static int
cmd_undrain(struct cli_opts *o)
{
	return drain_cmd(o, "undrain");
}

static int
cmd_reload(struct cli_opts *o)
{
	json_object *j = call(o, "reload", NULL);

	if (j == NULL)
		return EXIT_UNREACHABLE;
	if (*jstr(j, "error") != '\0') {
		fprintf(stderr, "healthagent: %s\n", jstr(j, "error"));
		json_object_put(j);
		return 1;
	}
	printf("reload requested (see the agent's log, or `healthagent "
	       "status`, for the outcome)\n");
	json_object_put(j);
	return 0;
}

static const struct cli_cmd *
lookup(const char *name)
{
	const struct cli_cmd *found = NULL;
	size_t len = strlen(name), n = 0;

	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
		if (strncmp(commands[i].name, name, len) == 0) {
			found = &commands[i];
			n++;
		}
	}
	if (n > 1) {
		fprintf(stderr, "healthagent: ambiguous command \"%s\":", name);
		for (size_t i = 0; i < N_COMMANDS; i++)
			if (strncmp(commands[i].name, name, len) == 0)
				fprintf(stderr, " %s", commands[i].name);
		fprintf(stderr, "\n");
		return NULL;
	}
	if (n == 0)
		fprintf(stderr,
		    "healthagent: unknown command \"%s\"; try "
		    "healthagent --help\n",
		    name);
	return found;
}

/* Options are accepted before and after the command name. */
static int
parse_opts(int argc, char **argv, struct cli_opts *o)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'f'},
	    {"socket", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	while (
	    (ch = getopt_long(argc, argv, "+f:s:jvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->conf_path = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->log_level = LOG_LEVEL_DEBUG;
			break;
		case 'h':
			return 'h';
		case 'V':
			return 'V';
		default:
			return '?';
		}
	}
	return 0;
}

int
cli_main(int argc, char **argv)
{
	struct cli_opts o = {
	    .conf_path = HEALTHAGENT_CONF,
	    .log_level = -1,
	};
	const struct cli_cmd *cmd;
	int r;

	log_init(LOG_LEVEL_INFO, true);
	r = parse_opts(argc, argv, &o);
	if (r == 'h')
		return cmd_help(&o);
	if (r == 'V')
		return cmd_version(&o);
	if (r != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = lookup(argv[optind]);
	if (cmd == NULL)
		return EXIT_USAGE;
	/* Options after the command name. */
	argc -= optind;
	argv += optind;
	optind = 1;
	r = parse_opts(argc, argv, &o);
	if (r == 'h')
		return cmd_help(&o);
	if (r != 0 || optind != argc) {
		fprintf(stderr, "usage: healthagent %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if (o.log_level >= 0)
		log_set_level((enum log_level)o.log_level);
	return cmd->fn(&o);
}
