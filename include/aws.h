/* SPDX-License-Identifier: ISC */
/*
 * AWS Query API calls on the event loop: endpoint resolution (config,
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, then the regional
 * default), a form-encoded body, SigV4 with the current credentials, gzip
 * for large bodies where the service accepts it, the SDK standard retry
 * mode (classification, capped exponential backoff with full jitter, a
 * retry token bucket, throttling honoured), and clock-skew correction from
 * the response Date header. Each call ends in exactly one callback.
 */
#ifndef AWS_H
#define AWS_H

#include <stdbool.h>
#include <stddef.h>

#include "creds.h"
#include "ev.h"
#include "httpc.h"

enum aws_service {
	AWS_SVC_CLOUDWATCH,  /* signing name "monitoring", 2010-08-01 */
	AWS_SVC_AUTOSCALING, /* signing name "autoscaling", 2011-01-01 */
	AWS_SVC_MAX
};
extern const char *const aws_service_names[AWS_SVC_MAX];

struct aws;
struct aws_call;
struct aws_params;

struct aws_opts {
	const char *region;
	const char *endpoint_url;            /* config aws.endpoint_url */
	const char *endpoints[AWS_SVC_MAX];  /* per-service config overrides */
	int max_attempts;                    /* default 3 */
	long timeout_ms;                     /* per attempt, default 10000 */
};

/* The outcome of a call, after retries. */
struct aws_result {
	bool ok;
	int http_status;   /* of the last attempt, 0 on transport error */
	char code[96];     /* AWS error code, or a transport error name */
	char message[512]; /* AWS error message or curl's error */
	const char *body;  /* response body, valid during the callback */
	size_t body_len;
	int attempts;
	bool throttled;    /* the last error was throttling */
	bool auth_error;   /* the credentials were rejected */
};

typedef void (*aws_done_cb)(const struct aws_result *r, void *arg);

struct aws *aws_new(struct ev *ev, struct httpc *hc, struct creds *creds,
    const struct aws_opts *o);
void aws_free(struct aws *a);
/* Region discovered later (from IMDS). */
void aws_set_region(struct aws *a, const char *region);
const char *aws_region(const struct aws *a);
/* The endpoint a service resolves to now (for status and logs). */
const char *aws_endpoint(const struct aws *a, enum aws_service s);
/* Current correction of the local clock in seconds (server - local). */
long aws_clock_offset(const struct aws *a);

/* Query parameters, kept in order of addition. */
struct aws_params *aws_params_new(void);
void aws_params_add(struct aws_params *p, const char *key, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
void aws_params_free(struct aws_params *p);
/* The form body "Action=...&Version=...&k=v..." (for tests). */
char *aws_params_encode(const struct aws_params *p, const char *action,
    const char *version, size_t *len);

/* Call action on service; takes ownership of p. NULL only if no region
 * or no credentials are known yet (the callback is then not called). */
struct aws_call *aws_query(struct aws *a, enum aws_service s,
    const char *action, struct aws_params *p, aws_done_cb cb, void *arg);
/* Abort; the callback will not run. NULL is a no-op. */
void aws_cancel(struct aws_call *c);

/* Pure helpers, exposed for the unit tests. */
/* Is this error retryable, and is it throttling? (SDK standard mode) */
bool aws_retryable(int http_status, const char *code, bool *throttling);
bool aws_is_clock_skew(const char *code);
bool aws_is_auth_error(const char *code);
/* Parse an HTTP Date header ("Sun, 06 Nov 1994 08:49:37 GMT"); -1 if bad. */
long long aws_parse_http_date(const char *s);

#endif
