/* SPDX-License-Identifier: ISC */
/*
 * A test driver for the AWS Query client: makes one call with aws_query on
 * an event loop, with credentials from the environment (the real creds
 * chain, IMDS not used) and endpoints from AWS_ENDPOINT_URL*, prints the
 * outcome and exits 0 on success, 1 on an AWS or transport error, 2 on a
 * usage or setup error. Used by tests/integration/sigv4_moto.py.
 *
 *   aws_driver [-z] [-n max_attempts] cloudwatch|autoscaling Action
 *       [Key=Value...]
 *
 * -z turns gzip off (aws_opts.no_gzip).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws.h"
#include "creds.h"
#include "ev.h"
#include "httpc.h"
#include "log.h"

static struct ev *loop;
static int status = 2;

static void
done_cb(const struct aws_result *r, void *arg)
{
	(void)arg;
	printf("ok=%d status=%d code=%s attempts=%d auth_error=%d "
	       "throttled=%d\n",
	    r->ok, r->http_status, r->code[0] != '\0' ? r->code : "-",
	    r->attempts, r->auth_error, r->throttled);
	if (r->message[0] != '\0')
		printf("message=%s\n", r->message);
	if (r->body != NULL)
		printf("body=%.*s\n", (int)r->body_len, r->body);
	fflush(stdout);
	status = r->ok ? 0 : 1;
	ev_stop(loop);
}

static void
timeout_cb(void *arg)
{
	(void)arg;
	fprintf(stderr, "aws_driver: no result within 60 s\n");
	ev_stop(loop);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: aws_driver [-z] [-n max_attempts] "
	    "cloudwatch|autoscaling Action [Key=Value...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct aws_opts o = {0};
	struct aws_params *p;
	struct httpc *hc;
	struct creds *creds;
	struct aws *a;
	struct ev_timer *guard;
	enum aws_service svc;
	const char *region = getenv("AWS_REGION");
	int ch;

	log_init(getenv("AWS_DRIVER_DEBUG") != NULL ? LOG_LEVEL_DEBUG
	                                            : LOG_LEVEL_WARNING,
	    false);
	while ((ch = getopt(argc, argv, "n:z")) != -1) {
		if (ch == 'n')
			o.max_attempts = atoi(optarg);
		else if (ch == 'z')
			o.no_gzip = true;
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	if (strcmp(argv[0], "cloudwatch") == 0)
		svc = AWS_SVC_CLOUDWATCH;
	else if (strcmp(argv[0], "autoscaling") == 0)
		svc = AWS_SVC_AUTOSCALING;
	else
		usage();
	if (region == NULL || *region == '\0')
		region = getenv("AWS_DEFAULT_REGION");
	o.region = region != NULL && *region != '\0' ? region : "us-east-1";

	loop = ev_new();
	hc = httpc_new(loop);
	if (loop == NULL || hc == NULL)
		return 2;
	creds = creds_new(loop, hc, NULL, NULL);
	a = aws_new(loop, hc, creds, &o);
	p = aws_params_new();
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL)
			usage();
		*eq = '\0';
		aws_params_add(p, argv[i], "%s", eq + 1);
	}
	if (aws_query(a, svc, argv[1], p, done_cb, NULL) == NULL) {
		fprintf(stderr, "aws_driver: no credentials or region\n");
		return 2;
	}
	guard = ev_timer_new(loop, timeout_cb, NULL);
	ev_timer_arm(guard, 60000);
	ev_run(loop);
	ev_timer_free(guard);
	aws_free(a);
	creds_free(creds);
	httpc_free(hc);
	ev_free(loop);
	return status;
}
