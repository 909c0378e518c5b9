/* SPDX-License-Identifier: ISC */
/*
 * AWS credentials, resolved in SDK order: the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared
 * credentials file and profile (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE or
 * the configured profile), container credentials
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI with the
 * authorization token), then the IMDS role. Expiring credentials are
 * refreshed in the background well before Expiration. Secrets live only in
 * the current credential set and are zeroed when replaced or freed; they are
 * never logged or shown in status.
 */
#ifndef CREDS_H
#define CREDS_H

#include <stdbool.h>
#include <time.h>

#include "ev.h"
#include "httpc.h"
#include "imds.h"

enum creds_source {
	CREDS_NONE,
	CREDS_ENV,
	CREDS_FILE,
	CREDS_CONTAINER,
	CREDS_IMDS,
	CREDS_SOURCE_MAX
};
extern const char *const creds_source_names[CREDS_SOURCE_MAX];

struct aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when not temporary */
	time_t expiration;   /* 0 = does not expire */
	enum creds_source source;
};

struct creds;

/* profile: "" or NULL = $AWS_PROFILE or "default". Starts resolving. */
struct creds *creds_new(struct ev *ev, struct httpc *hc, struct imds *imds,
    const char *profile);
void creds_free(struct creds *c);
/* The current credentials, or NULL while none are available. The pointer
 * is valid until the next loop turn. */
const struct aws_creds *creds_get(const struct creds *c);
/* The service rejected the credentials (InvalidClientTokenId,
 * SignatureDoesNotMatch, ExpiredToken, ...): resolve again now (re-read the
 * file, re-fetch from IMDS), with backoff. */
void creds_invalidate(struct creds *c, const char *why);
/* One line for status: source, expiry, last error; no secrets. */
const char *creds_state(const struct creds *c);
/* The access key id, shortened for status ("AKIA...XMPL"), or "". */
const char *creds_key_hint(const struct creds *c);

#endif
