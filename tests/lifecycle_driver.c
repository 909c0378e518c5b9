/* SPDX-License-Identifier: ISC */
/*
 * A test driver for the lifecycle module: the event loop, IMDS, the
 * credential chain, the Query client, the group lookup of asg.c, a health
 * state machine and lifecycle, wired the way the daemon does it, from a
 * real configuration file (conf_load). The checks are not run: one fake
 * local check, named and with the rise of the config's first check, passes
 * while HEALTHY_FILE exists. Events go to stdout, one per line, prefixed
 * with the wall time in ms; the verdict and lifecycle_status are rewritten
 * to STATUS_FILE on every tick (agent.sample_interval). Used by
 * tests/integration/lifecycle_moto.py.
 *
 *   lifecycle_driver -c CONFIG -f HEALTHY_FILE -s STATUS_FILE
 *
 * SIGUSR1 is `healthagent drain`, SIGUSR2 `healthagent undrain`; SIGTERM
 * and SIGINT stop it.
 *
 * Events: "ready", "identity <instance> <region>", "group <name>",
 * "verdict <state>", "draining on|off <why>", "drain_finished",
 * "drain <0|1>" and "undrain <0|-1> [error]".
 */
#include "config.h"

#include <sys/signalfd.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asg.h"
#include "aws.h"
#include "child.h"
#include "conf.h"
#include "creds.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "imds.h"
#include "lifecycle.h"
#include "log.h"
#include "xmalloc.h"

static struct ev *loop;
static struct imds *md;
static struct aws *aw;
static struct asg *ag;
static struct health *hl;
static struct lifecycle *lc;
static struct ev_timer *tick_t;
static const char *healthy_file, *status_file;
static mono_ms interval = 200;
static size_t c_app;
static char iid[64];

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
event(const char *fmt, ...)
{
	va_list ap;

	printf("%lld ", (long long)util_wall_ms());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void
set_draining_cb(bool on, const char *why, void *arg)
{
	(void)arg;
	health_set_draining(hl, on, why, util_now_ms());
	event("draining %s %s", on ? "on" : "off", why);
}

static void
finished_cb(void *arg)
{
	(void)arg;
	event("drain_finished");
}

static void
transition_cb(const struct health *h, int check, int from, int to, void *arg)
{
	(void)h;
	(void)from;
	(void)arg;
	if (check < 0)
		event("verdict %s", health_state_names[to]);
}

static void
write_status(void)
{
	json_object *o = json_object_new_object();
	char tmp[1024];
	FILE *f;

	json_object_object_add(o, "state",
	    json_object_new_string(health_state_names[health_state(hl)]));
	json_object_object_add(o, "why",
	    json_object_new_string(health_why(hl)));
	lifecycle_status(lc, o);
	snprintf(tmp, sizeof(tmp), "%s.tmp", status_file);
	f = fopen(tmp, "w");
	if (f != NULL) {
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		    f);
		fputc('\n', f);
		if (fclose(f) == 0)
			rename(tmp, status_file);
	}
	json_object_put(o);
}

static void
tick_cb(void *arg)
{
	struct health_result r;
	bool good = access(healthy_file, F_OK) == 0;
	mono_ms now = util_now_ms();

	(void)arg;
	health_result_set(&r, good, good ? HEALTH_R_OK : HEALTH_R_EXIT,
	    good ? "ok" : "%s is missing", healthy_file);
	health_report(hl, c_app, &r, now);
	health_tick(hl, now);
	lifecycle_observe(lc, hl, now);
	write_status();
	ev_timer_arm(tick_t, interval);
}

static void
group_cb(const char *group, void *arg)
{
	(void)arg;
	event("group %s", group != NULL ? group : "(none)");
	lifecycle_set_identity(lc, iid, group);
}

static void
identity_cb(void *arg)
{
	const struct imds_identity *id = imds_identity(md);

	(void)arg;
	snprintf(iid, sizeof(iid), "%s", id->instance_id);
	event("identity %s %s", id->instance_id, id->region);
	aws_set_region(aw, id->region);
	lifecycle_set_identity(lc, iid, NULL);
	asg_set_identity(ag, iid, group_cb, NULL);
}

static void
signal_cb(int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;
	char err[300];

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			event("drain %d",
			    lifecycle_drain(lc, "operator request"));
		} else if (si.ssi_signo == SIGUSR2) {
			int rc = lifecycle_undrain(lc, err, sizeof(err));

			event("undrain %d%s%s", rc, rc < 0 ? " " : "",
			    rc < 0 ? err : "");
		} else {
			ev_stop(loop);
		}
	}
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: lifecycle_driver -c CONFIG -f HEALTHY_FILE "
	    "-s STATUS_FILE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct conf_errors errs = {0};
	struct lifecycle_hooks hooks = {
	    .set_draining = set_draining_cb,
	    .drain_finished = finished_cb,
	};
	struct health_check_params p;
	struct aws_opts o = {0};
	const char *conf_path = NULL;
	struct conf *c;
	struct httpc *hc;
	struct creds *cr;
	struct ev_io *sig_io;
	sigset_t set;
	int ch, sfd;

	log_init(LOG_LEVEL_DEBUG, false);
	while ((ch = getopt(argc, argv, "c:f:s:")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			healthy_file = optarg;
			break;
		case 's':
			status_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (conf_path == NULL || healthy_file == NULL || status_file == NULL ||
	    optind != argc)
		usage();
	c = conf_load(conf_path, &errs);
	if (c == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		conf_errors_free(&errs);
		return 2;
	}
	if (c->n_checks < 1) {
		fprintf(stderr, "%s: one check is needed\n", conf_path);
		return 2;
	}
	interval = util_sec_to_ms(c->sample_interval);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		perror("signalfd");
		return 2;
	}
	loop = ev_new();
	hc = httpc_new(loop);
	if (loop == NULL || hc == NULL)
		return 2;
	sig_io = ev_io_add(loop, sfd, EV_READ, signal_cb, NULL);
	hl = health_new(util_now_ms(), util_sec_to_ms(c->start_grace));
	health_on_transition(hl, transition_cb, NULL);
	memset(&p, 0, sizeof(p));
	p.name = c->checks[0].name;
	p.rise = c->checks[0].rise;
	p.fall = c->checks[0].fall;
	p.interval = interval;
	p.timeout = interval;
	c_app = health_add_check(hl, &p, util_now_ms());

	o.region = c->aws_region;
	o.endpoint_url = c->aws_endpoint_url;
	o.endpoints[AWS_SVC_AUTOSCALING] = c->aws_autoscaling_endpoint;
	o.max_attempts = c->aws_max_attempts;
	o.timeout_ms = (long)util_sec_to_ms(c->aws_timeout);
	md = imds_new(loop, hc, c->aws_imds_endpoint);
	cr = creds_new(loop, hc, md, c->aws_profile);
	aw = aws_new(loop, hc, cr, &o);
	ag = asg_new(loop, aw, NULL, c);
	lc = lifecycle_new(loop, aw, md, c, &hooks);
	if (imds_enabled(md))
		imds_on_identity(md, identity_cb, NULL);
	tick_t = ev_timer_new(loop, tick_cb, NULL);
	ev_timer_arm(tick_t, 0);
	event("ready");
	ev_run(loop);

	ev_timer_free(tick_t);
	lifecycle_free(lc);
	asg_free(ag);
	aws_free(aw);
	creds_free(cr);
	imds_free(md);
	health_free(hl);
	ev_io_del(sig_io);
	close(sfd);
	httpc_free(hc);
	child_reap_all();
	ev_free(loop);
	conf_free(c);
	return 0;
}
