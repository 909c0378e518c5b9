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

/* endpoint: "" or NULL = $AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 * http://169.254.169.254. Starts fetching the identity at once unless
 * disabled. */
struct imds *imds_new(struct ev *ev, struct httpc *hc, const char *endpoint);
void imds_free(struct imds *m);
/* false when AWS_EC2_METADATA_DISABLED=true. */
bool imds_enabled(const struct imds *m);
const struct imds_identity *imds_identity(const struct imds *m);
/* Called once the identity becomes valid (at most once). */
void imds_on_identity(struct imds *m, void (*cb)(void *arg), void *arg);
/* One line for status and logs: "disabled", "ok", "unreachable since 40 s,
 * retrying in 16 s: Connection refused", ... Static or internal buffer. */
const char *imds_state(const struct imds *m);

/* GET /latest/<path> with a token (fetched first if needed; on 401 the
 * token is renewed and the GET retried once). cb gets the HTTP status
 * (0 on transport error) and the body. */
typedef void (*imds_get_cb)(int status, const char *body, size_t len,
    const char *error, void *arg);
struct imds_req *imds_get(struct imds *m, const char *path, imds_get_cb cb,
    void *arg);
void imds_cancel(struct imds_req *r);

#endif
