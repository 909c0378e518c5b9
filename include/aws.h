/* SPDX-License-Identifier: ISC */
/*
 * AWS Query API calls on the event loop: endpoint resolution, a
 * form-encoded body, SigV4 with the current credentials (re-signed on every
 * attempt), gzip for large bodies where the service accepts it, the SDK
 * standard retry mode (classification, capped exponential backoff with
 * full jitter, a retry token bucket, throttling honoured), and clock-skew
 * correction from the response Date header. Each call ends in exactly one
 * callback.
 *
 * Endpoints, first non-empty wins (aws_resolve_endpoint):
 *   1. the per-service config key (cloudwatch_endpoint, ...),
 *   2. $AWS_ENDPOINT_URL_CLOUDWATCH / $AWS_ENDPOINT_URL_AUTO_SCALING /
 *      $AWS_ENDPOINT_URL_EC2 / $AWS_ENDPOINT_URL_SNS,
 *   3. the config key aws.endpoint_url,
 *   4. $AWS_ENDPOINT_URL,
 *   5. https://monitoring.<region>.amazonaws.com (autoscaling., ec2.,
 *      sns.<region>...; .amazonaws.com.cn for cn-* regions).
 *
 * Protocols: CloudWatch, Auto Scaling and SNS speak awsQuery, EC2 the ec2
 * protocol. Both take the same form-encoded POST (EC2 lists are "Name.N",
 * without ".member"; that is up to the caller). Their error replies differ:
 *   awsQuery: <ErrorResponse><Error><Type/><Code/><Message/></Error>
 *             <RequestId/></ErrorResponse>
 *   ec2:      <Response><Errors><Error><Code/><Message/></Error></Errors>
 *             <RequestID/></Response>
 * and so do the request ids of successful replies
 * (<ResponseMetadata><RequestId/> against a top-level <requestId/>);
 * aws_parse_error() and aws_parse_request_id() read both.
 * More specific beats less specific; at the same specificity the config
 * file beats the environment, because the config is the operator's
 * explicit choice for this host while the environment may be inherited
 * (the SDKs put the environment first; we deliberately do not).
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips 1-4.
 *
 * Retries (SDK standard mode, the constants of the 2026 revision): an
 * error is retried when aws_retryable() says so, up to max_attempts in all;
 * the delay before attempt n+1 is rand[0,1) * min(base * 2^(n-1), 20 s)
 * with base 1 s for throttling and 50 ms otherwise, raised to
 * x-amz-retry-after (ms, at most 5 s more) when the reply carries it. A
 * retry token bucket (500, shared by all calls of one struct aws) pays 5
 * per throttling retry and 14 per other retry; a call with no tokens left
 * is not retried; a first-try success refills 1, a success after retries
 * refunds the last retry's cost. Clock skew (aws_is_clock_skew) gets one
 * immediate extra attempt, outside max_attempts and the bucket, after the
 * offset is set to the reply's Date minus local time. Credentials rejected
 * (aws_is_auth_error) are not retried: creds_invalidate() is called and
 * the result says auth_error. AccessDenied is a permission, not a
 * credential, problem and is reported as is.
 */
#ifndef AWS_H
#define AWS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "creds.h"
#include "ev.h"
#include "httpc.h"

enum aws_service {
	AWS_SVC_CLOUDWATCH,  /* signing name "monitoring", 2010-08-01 */
	AWS_SVC_AUTOSCALING, /* signing name "autoscaling", 2011-01-01 */
	AWS_SVC_EC2,         /* signing name "ec2", 2016-11-15, ec2 protocol */
	AWS_SVC_SNS,         /* signing name "sns", 2010-03-31 */
	AWS_SVC_MAX
};

extern const char *const aws_service_names[AWS_SVC_MAX];

struct aws;
struct aws_call;
struct aws_params;

struct aws_opts {
	const char *region;
	const char *endpoint_url;           /* config aws.endpoint_url */
	const char *endpoints[AWS_SVC_MAX]; /* per-service config overrides */
	int max_attempts;                   /* default 3 */
	long timeout_ms;                    /* per attempt, default 10000 */
	bool no_gzip; /* cloudwatch.gzip = false: never compress bodies */
};

/* The outcome of a call, after retries. */
struct aws_result {
	bool ok;
	int http_status; /* of the last attempt, 0 on transport error */
	/* AWS error code; "HTTP 503" when an error reply has none; for
	 * transport errors "ConnectionRefused", "Timeout", "TLSError" (the
	 * handshake or the certificate failed; never retried within the
	 * call, verification is never relaxed) or "ConnectionError"; before any
	 * request "NoCredentials", "InvalidEndpoint" or "SigningFailed". Empty
	 * on success. */
	char code[96];
	char message[512]; /* AWS error message or curl's error */
	const char *body;  /* response body, valid during the callback */
	size_t body_len;
	int attempts;
	bool throttled;  /* the last error was throttling */
	bool auth_error; /* the credentials were rejected */
	/* The request id of the last reply (x-amzn-RequestId, else from the
	 * XML), "" if none; for logs and support cases. */
	char request_id[80];
};

typedef void (*aws_done_cb)(const struct aws_result *r, void *arg);

/* Fill o from the aws and cloudwatch groups of a config (the strings are
 * borrowed from c). */
void aws_opts_from_conf(struct aws_opts *o, const struct conf *c);

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
void aws_params_add(struct aws_params *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void aws_params_free(struct aws_params *p);
/* The form body "Action=...&Version=...&k=v..." (for tests), encoded as
 * botocore does: "_.-~" and alphanumerics as is, space as "+", the rest
 * %XX. */
char *aws_params_encode(const struct aws_params *p, const char *action,
    const char *version, size_t *len);

/* Call action on service; takes ownership of p. NULL only if no region
 * or no credentials are known yet (the callback is then not called). */
struct aws_call *aws_query(struct aws *a, enum aws_service s,
    const char *action, struct aws_params *p, aws_done_cb cb, void *arg);
/* The same, signed for and sent to region instead of the client's (NULL
 * or "" = the client's): for resources that live in another region, such
 * as an SNS topic. The regional default endpoint follows region; an
 * endpoint override does not. NULL also for a malformed region. */
struct aws_call *aws_query_region(struct aws *a, const char *region,
    enum aws_service s, const char *action, struct aws_params *p,
    aws_done_cb cb, void *arg);
/* Abort; the callback will not run. NULL is a no-op. */
void aws_cancel(struct aws_call *c);

/* Pure helpers, exposed for the unit tests. */
/* Is this error retryable, and is it throttling? (SDK standard mode:
 * HTTP 500/502/503/504, RequestTimeout(Exception),
 * PriorRequestNotComplete, the throttling codes and HTTP 429, and
 * http_status 0, a transport error.) throttling may be NULL. */
bool aws_retryable(int http_status, const char *code, bool *throttling);
/* Is this curl result a TLS failure (handshake, certificate, trust)? */
bool aws_tls_error(int curl_code);
/* Does this error mean our clock is off? RequestExpired,
 * RequestTimeTooSkewed, RequestInTheFuture, InvalidSignatureException,
 * AuthFailure, and SignatureDoesNotMatch when message says "Signature
 * expired" or "Signature not yet current". message may be NULL. */
bool aws_is_clock_skew(const char *code, const char *message);
/* Were the credentials rejected? InvalidClientTokenId,
 * SignatureDoesNotMatch, UnrecognizedClientException, ExpiredToken,
 * ExpiredTokenException, InvalidAccessKeyId, InvalidToken,
 * TokenRefreshRequired, AuthFailure, InvalidSignatureException. Not
 * AccessDenied (a missing permission). */
bool aws_is_auth_error(const char *code);
/* Parse an HTTP Date header in IMF-fixdate form ("Sun, 06 Nov 1994
 * 08:49:37 GMT"; the weekday is optional); -1 if bad. */
long long aws_parse_http_date(const char *s);
/* The endpoint for service s as described above, malloc'd, or NULL when
 * no override is set and region is empty. Reads the environment. */
char *aws_resolve_endpoint(enum aws_service s, const char *region,
    const char *service_option, const char *endpoint_url_option);
/* The backoff before the attempt after attempt n (1-based), in ms, for a
 * uniform r in [0,1), before any x-amz-retry-after. */
long aws_backoff_ms(int n, bool throttling, double r);
/* Read the code, message and request id of an error reply in the shape of
 * service s (see the top; each protocol's shape is tried first, then the
 * other's, so a proxy answering in the wrong dialect is still read).
 * message and request_id may be NULL. true when a non-empty code was
 * found; the outputs are "" otherwise. */
bool aws_parse_error(enum aws_service s, const char *body, size_t len,
    char *code, size_t codelen, char *message, size_t msglen, char *request_id,
    size_t idlen);
/* The request id of a successful reply: ResponseMetadata/RequestId
 * (awsQuery) or the top-level requestId (ec2). true if found. */
bool aws_parse_request_id(enum aws_service s, const char *body, size_t len,
    char *out, size_t outlen);

#endif
