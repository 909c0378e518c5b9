/* SPDX-License-Identifier: ISC */
/*
 * IMDSv2 client on the event loop: a session token fetched with PUT and
 * refreshed before its TTL runs out (and at once on a 401), GETs of
 * metadata paths, and the instance identity (instance id, region, AZ,
 * instance type). Off EC2, or while IMDS is unreachable, it retries in the
 * background with capped exponential backoff and says so in imds_state();
 * nothing waits on it. Honours AWS_EC2_METADATA_DISABLED and
 * AWS_EC2_METADATA_SERVICE_ENDPOINT (or the configured endpoint). IMDSv1
 * is never used.
 */
#ifndef IMDS_H
#define IMDS_H

#include <stdbool.h>
#include <stddef.h>

#include "ev.h"
#include "httpc.h"

struct imds;
struct imds_req;

struct imds_identity {
	bool valid; /* all four fields were read */
	char instance_id[32];
	char region[32];
	char availability_zone[32];
	char instance_type[64];
};

/* The identity values, in the order they are fetched. */
enum imds_field {
	IMDS_INSTANCE_ID,
	IMDS_REGION,
	IMDS_AVAILABILITY_ZONE,
	IMDS_INSTANCE_TYPE,
	IMDS_FIELD_MAX
};

/* Paths under /latest/ ("meta-data/instance-id", ...). */
extern const char *const imds_field_paths[IMDS_FIELD_MAX];

/*
 * The endpoint, first non-empty of: the endpoint argument (config
 * aws.imds_endpoint), $AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * http://[fd00:ec2::254] when $AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is IPv6,
 * else http://169.254.169.254. AWS_EC2_METADATA_DISABLED (true or 1, any case)
 * wins over all of them: nothing is ever sent. An endpoint that is not an
 * http(s) URL also disables the client (logged, and said in imds_state()).
 * Starts fetching the identity at the next loop turn unless disabled.
 */
struct imds *imds_new(struct ev *ev, struct httpc *hc, const char *endpoint);
/* Cancels every request (no callbacks) and zeroes the token. */
void imds_free(struct imds *m);
/* false when AWS_EC2_METADATA_DISABLED=true (or the endpoint is bad). */
bool imds_enabled(const struct imds *m);
/* The base URL in use, without a trailing slash ("" when disabled). */
const char *imds_endpoint(const struct imds *m);
const struct imds_identity *imds_identity(const struct imds *m);
/* Called once the identity becomes valid (at most once; if it already is,
 * at the next loop turn). */
void imds_on_identity(struct imds *m, void (*cb)(void *arg), void *arg);
/* One line for status and logs: "disabled (AWS_EC2_METADATA_DISABLED)",
 * "fetching the identity from URL", "ok", "unreachable since 40 s,
 * retrying in 16 s: <curl error>", "failing since 3 s, retrying in 2 s:
 * meta-data/instance-id: unexpected value ...". Static buffer. */
const char *imds_state(const struct imds *m);

/* GET /latest/<path> with a token (fetched first if needed; on 401 the
 * token is renewed and the GET retried once). cb gets the HTTP status
 * (0 on a transport error or when no token could be had) and the body;
 * error is NULL for a 200, else "HTTP 404", curl's text, or why the token
 * failed. cb never runs from inside imds_get. NULL (and no callback) when
 * IMDS is disabled, the path is not a plain relative path
 * ([A-Za-z0-9/_.,:@+=-], no ".."), or the request could not start. */
typedef void (*imds_get_cb)(int status, const char *body, size_t len,
    const char *error, void *arg);
struct imds_req *imds_get(struct imds *m, const char *path, imds_get_cb cb,
    void *arg);
/* Abort; the callback will not run. NULL is a no-op. */
void imds_cancel(struct imds_req *r);

/* Check an identity value as served (trimmed): instance id i-[0-9a-f]+,
 * region [a-z]{2}(-[a-z]+)+-[0-9]+, an AZ of [a-z0-9-] that is region plus
 * a letter or region-<zone> (Local and Wavelength Zones) when region is
 * given, an instance type "family.size"; each shorter than its field in
 * struct imds_identity. 0, or -1 with a message in err. Exposed for the
 * unit tests. */
int imds_check_value(enum imds_field f, const char *v, const char *region,
    char *err, size_t errlen);

/*
 * The replies, pure, exposed for the tests and the fuzzer. An identity
 * value as served: trailing whitespace trimmed, a NUL inside or a value
 * that does not fit out[outlen] refused, then imds_check_value (without
 * the region cross-check). 0 with the value in out, or -1 with a message
 * in err and out empty.
 */
int imds_parse_value(enum imds_field f, const char *body, size_t len, char *out,
    size_t outlen, char *err, size_t errlen);
/* A token reply body is 1..4096 bytes of visible ASCII. */
bool imds_token_ok(const char *body, size_t len);
/* The TTL granted in the token reply's headers ("Name: value" lines), 1 to
 * 21600 s; 0 when absent or malformed. */
long imds_granted_ttl(const char *headers);

/*
 * Timings. The defaults are what production uses; tests may shorten them
 * with imds_set_tuning() (process-wide, applies to imds objects created
 * afterwards), or by running with HEALTHAGENT_TEST_FAST=1 in the
 * environment, which makes the defaults backoff 100 ms doubling to 2 s.
 */
struct imds_tuning {
	long token_ttl_s;        /* requested TTL, 1..21600; default 21600 */
	int token_renew_pct;     /* renew after this % of the TTL; default 80 */
	unsigned backoff_min_ms; /* first identity retry; default 1000 */
	unsigned backoff_max_ms; /* retry cap; default 60000 */
	long connect_timeout_ms; /* default 1000 */
	long timeout_ms;         /* whole request; default 2000 */
};

/* NULL restores the defaults. */
void imds_set_tuning(const struct imds_tuning *t);
void imds_get_tuning(struct imds_tuning *t);

#endif
