/* SPDX-License-Identifier: ISC */
/*
 * A test driver for the Elastic IP association (src/eip.c) as the daemon
 * would use it: the configuration file gives the allocation id and the
 * endpoints, IMDS (the project's emulator) gives the instance id and the
 * region, credentials come from the real chain, and a real health state
 * machine with one local check supplies the verdict, fed to eip_observe()
 * every 50 ms. The check passes at once, or, with -u, only after that many
 * seconds; with -D the instance is draining the whole time. The driver runs
 * until the address is associated or the time limit, prints the "eip"
 * status object as JSON on stdout and exits 0 when associated, 1 otherwise,
 * 2 on a usage or setup error. Used by tests/integration/eip_moto.py.
 *
 *   eip_driver -f CONF [-t SECONDS] [-u SECONDS] [-D]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws.h"
#include "conf.h"
#include "creds.h"
#include "eip.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "imds.h"
#include "log.h"
#include "util.h"

static struct ev *loop;
static struct eip *eip;
static struct aws *aws;
static struct imds *imds;
static struct health *h;
static struct ev_timer *tick_t;
static mono_ms healthy_at;
static int status = 1;

static void
identity_cb(void *arg)
{
	const struct imds_identity *id = imds_identity(imds);

	(void)arg;
	aws_set_region(aws, id->region);
	eip_set_identity(eip, id->instance_id);
}

static void
tick_cb(void *arg)
{
	json_object *st = json_object_new_object(), *o, *v;
	struct health_result r;
	mono_ms now = util_now_ms();
	bool good = now >= healthy_at;

	(void)arg;
	health_result_set(&r, good, good ? HEALTH_R_OK : HEALTH_R_EXIT,
	    good ? NULL : "exit 1");
	health_report(h, 0, &r, now);
	health_tick(h, now);
	eip_observe(eip, h);
	eip_status(eip, st);
	json_object_object_get_ex(st, "eip", &o);
	if (json_object_object_get_ex(o, "association_id", &v) && v != NULL) {
		status = 0;
		ev_stop(loop);
	} else
		ev_timer_arm(tick_t, 50);
	json_object_put(st);
}

static void
timeout_cb(void *arg)
{
	(void)arg;
	fprintf(stderr, "eip_driver: time limit reached\n");
	status = 1;
	ev_stop(loop);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: eip_driver -f CONF [-t SECONDS] [-u SECONDS] [-D]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	double limit = 30, unhealthy = 0;
	bool draining = false;
	struct conf_errors errs = {0};
	struct conf *c;
	struct aws_opts o = {0};
	struct httpc *hc;
	struct creds *creds;
	struct health_check_params hp = {.name = "app",
	    .rise = 1,
	    .fall = 1,
	    .interval = 60000,
	    .timeout = 1000};
	struct ev_timer *guard;
	json_object *st, *obj;
	mono_ms now;
	int ch;

	log_init(getenv("EIP_DRIVER_DEBUG") != NULL ? LOG_LEVEL_DEBUG
	                                            : LOG_LEVEL_WARNING,
	    false);
	while ((ch = getopt(argc, argv, "f:t:u:D")) != -1) {
		if (ch == 'f')
			path = optarg;
		else if (ch == 't')
			limit = atof(optarg);
		else if (ch == 'u')
			unhealthy = atof(optarg);
		else if (ch == 'D')
			draining = true;
		else
			usage();
	}
	if (path == NULL || optind != argc || limit <= 0 || unhealthy < 0)
		usage();
	if ((c = conf_load(path, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		return 2;
	}

	loop = ev_new();
	hc = httpc_new(loop);
	aws_opts_from_conf(&o, c);
	imds = imds_new(loop, hc, c->aws_imds_endpoint);
	creds = creds_new(loop, hc, NULL, c->aws_profile);
	aws = aws_new(loop, hc, creds, &o);
	eip = eip_new(loop, aws, c);

	now = util_now_ms();
	healthy_at = now + util_sec_to_ms(unhealthy);
	h = health_new(now, 0);
	health_add_check(h, &hp, now);
	if (draining)
		health_set_draining(h, true, "eip_driver -D", now);
	if (!imds_enabled(imds)) {
		fprintf(stderr, "eip_driver: IMDS is disabled\n");
		return 2;
	}
	imds_on_identity(imds, identity_cb, NULL);

	tick_t = ev_timer_new(loop, tick_cb, NULL);
	ev_timer_arm(tick_t, 0);
	guard = ev_timer_new(loop, timeout_cb, NULL);
	ev_timer_arm(guard, util_sec_to_ms(limit));
	ev_run(loop);

	st = json_object_new_object();
	eip_status(eip, st);
	json_object_object_get_ex(st, "eip", &obj);
	printf("%s\n",
	    json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(st);

	ev_timer_free(guard);
	ev_timer_free(tick_t);
	eip_free(eip);
	aws_free(aws);
	creds_free(creds);
	imds_free(imds);
	health_free(h);
	httpc_free(hc);
	ev_free(loop);
	conf_free(c);
	return status;
}
