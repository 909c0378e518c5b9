/* SPDX-License-Identifier: ISC */
/*
 * A test driver for the SNS notifier (src/notify.c) as the daemon would use
 * it: the configuration file gives the topic and the endpoints, IMDS (the
 * project's emulator) gives the identity, credentials come from the real
 * chain, and a real health state machine with one failing local check
 * ("app": exit 1) supplies the verdict. The events given on the command
 * line are queued at once, before the identity is known; the driver then
 * runs the loop until every message is sent or dropped, or until the time
 * limit, prints the "notify" status object as JSON on stdout and exits 0
 * when everything was sent, 1 otherwise, 2 on a usage or setup error.
 * Used by tests/integration/notify_moto.py.
 *
 *   notify_driver -f CONF [-g GROUP] [-t SECONDS] KIND[:REASON]...
 *
 * KIND is one of notify_kind_names; GROUP is handed to
 * notify_set_identity with the identity from IMDS.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws.h"
#include "conf.h"
#include "creds.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "imds.h"
#include "log.h"
#include "notify.h"
#include "util.h"

static struct ev *loop;
static struct notify *nt;
static struct aws *aws;
static struct imds *imds;
static struct ev_timer *poll_t;
static const char *group;
static size_t nevents;
static int status = 1;

static void
identity_cb(void *arg)
{
	const struct imds_identity *id = imds_identity(imds);

	(void)arg;
	aws_set_region(aws, id->region);
	notify_set_identity(nt, id->instance_id, group, id->availability_zone);
}

static long long
jint(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return -1;
	return json_object_get_int64(v);
}

static void
poll_cb(void *arg)
{
	json_object *st = json_object_new_object(), *o;

	(void)arg;
	notify_status(nt, st);
	json_object_object_get_ex(st, "notify", &o);
	if (jint(o, "queued") == 0 &&
	    (size_t)(jint(o, "sent") + jint(o, "dropped")) >= nevents) {
		status = jint(o, "sent") == (long long)nevents ? 0 : 1;
		ev_stop(loop);
	} else
		ev_timer_arm(poll_t, 50);
	json_object_put(st);
}

static void
timeout_cb(void *arg)
{
	(void)arg;
	fprintf(stderr, "notify_driver: time limit reached\n");
	status = 1;
	ev_stop(loop);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: notify_driver -f CONF [-g GROUP] [-t SECONDS] "
	    "KIND[:REASON]...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	double limit = 30;
	struct conf_errors errs = {0};
	struct conf *c;
	struct aws_opts o = {0};
	struct httpc *hc;
	struct creds *creds;
	struct health *h;
	struct health_check_params hp = {.name = "app",
	    .rise = 1,
	    .fall = 1,
	    .interval = 60000,
	    .timeout = 1000};
	struct health_result r;
	struct ev_timer *guard;
	json_object *st, *obj;
	mono_ms now;
	int ch;

	log_init(getenv("NOTIFY_DRIVER_DEBUG") != NULL ? LOG_LEVEL_DEBUG
	                                               : LOG_LEVEL_WARNING,
	    false);
	while ((ch = getopt(argc, argv, "f:g:t:")) != -1) {
		if (ch == 'f')
			path = optarg;
		else if (ch == 'g')
			group = optarg;
		else if (ch == 't')
			limit = atof(optarg);
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (path == NULL || argc < 1 || limit <= 0)
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
	nt = notify_new(loop, aws, c);

	/* A verdict with a failing local check. */
	now = util_now_ms();
	h = health_new(now, 0);
	health_add_check(h, &hp, now);
	health_result_set(&r, false, HEALTH_R_EXIT, "exit 1");
	health_report(h, 0, &r, now);
	health_tick(h, now);

	for (int i = 0; i < argc; i++) {
		char *colon = strchr(argv[i], ':');
		int kind = -1;

		if (colon != NULL)
			*colon = '\0';
		for (int k = 0; k < NOTIFY_KIND_MAX; k++)
			if (strcmp(argv[i], notify_kind_names[k]) == 0)
				kind = k;
		if (kind < 0)
			usage();
		notify_event(nt, (enum notify_kind)kind,
		    colon != NULL ? colon + 1 : NULL, h);
		nevents++;
	}
	if (!imds_enabled(imds)) {
		fprintf(stderr, "notify_driver: IMDS is disabled\n");
		return 2;
	}
	imds_on_identity(imds, identity_cb, NULL);

	poll_t = ev_timer_new(loop, poll_cb, NULL);
	ev_timer_arm(poll_t, 50);
	guard = ev_timer_new(loop, timeout_cb, NULL);
	ev_timer_arm(guard, util_sec_to_ms(limit));
	ev_run(loop);

	st = json_object_new_object();
	notify_status(nt, st);
	json_object_object_get_ex(st, "notify", &obj);
	printf("%s\n",
	    json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(st);

	ev_timer_free(guard);
	ev_timer_free(poll_t);
	notify_free(nt);
	aws_free(aws);
	creds_free(creds);
	imds_free(imds);
	health_free(h);
	httpc_free(hc);
	ev_free(loop);
	conf_free(c);
	return status;
}
