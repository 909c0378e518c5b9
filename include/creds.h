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
#include <stddef.h>
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

/* profile: "" or NULL = $AWS_PROFILE or "default". imds may be NULL (no
 * IMDS provider). Resolves the environment and the file at once (so
 * creds_get() may answer right after), container and IMDS in the
 * background. Failures are retried with capped exponential backoff. */
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
/* One line for status: source, key hint, expiry, a rejection by the
 * service, the last error; no secrets. Static buffer. E.g. "imds (IMDS role
 * web), key ASIA...WXYZ, expires in 3412 s, refresh in 1706 s". */
const char *creds_state(const struct creds *c);
/* The access key id, shortened for status ("AKIA...XMPL"), or "". */
const char *creds_key_hint(const struct creds *c);

/* Pure helpers, exposed for the unit tests and the fuzzer. */

/* Parse an IMDS or container credentials document: a JSON object with
 * non-empty string AccessKeyId, SecretAccessKey, Token and Expiration
 * (ISO-8601 UTC). A "Code" other than "Success" is an error: IMDS can
 * answer 200 with {"Code": "...", "Message": "..."} and no keys. 0 with *out
 * filled (source CREDS_NONE; release with creds_clear), or -1 with *out
 * zeroed and a message in err that never contains a secret. */
int creds_parse_json(const char *body, size_t len, struct aws_creds *out,
    char *err, size_t errlen);
/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to seconds since the
 * epoch; -1 if malformed (including a leap second or a date that does not
 * exist) or before 1970. */
time_t creds_parse_iso8601(const char *s);
/* Look up profile in the text of a shared credentials file (INI: [name]
 * sections, "key = value", # and ; comments, indented continuation lines
 * ignored; aws_access_key_id, aws_secret_access_key, aws_session_token or
 * aws_security_token). 1 with *out filled; 0 when the profile is absent or
 * has neither key (err says which); -1 with err when it is partial or a
 * value is malformed. */
int creds_parse_ini(const char *text, size_t len, const char *profile,
    struct aws_creds *out, char *err, size_t errlen);
/* May AWS_CONTAINER_CREDENTIALS_FULL_URI be contacted? http(s) to a
 * loopback address, localhost, 169.254.170.2, 169.254.170.23 or
 * fd00:ec2::23, without user info. 0, or -1 with a message in err. */
int creds_check_container_uri(const char *uri, char *err, size_t errlen);
/* Zero and free the strings of a and reset it. */
void creds_clear(struct aws_creds *a);

/*
 * Timings. The defaults are what production uses; tests may shorten them
 * with creds_set_tuning() (process-wide, read by creds_new), or run with
 * HEALTHAGENT_TEST_FAST=1, which makes the defaults backoff 100 ms doubling
 * to 2 s and a minimum refresh delay of 200 ms.
 *
 * Expiring credentials are refreshed after min(remaining - advisory_s,
 * remaining / 2), but not sooner than min_refresh_ms; expired ones (IMDS
 * serving stale credentials) are kept and refetched with backoff.
 */
struct creds_tuning {
	unsigned backoff_min_ms; /* first retry after a failure; 1000 */
	unsigned backoff_max_ms; /* retry cap; 60000 */
	long advisory_s;         /* refresh this long before Expiration; 900 */
	unsigned min_refresh_ms; /* floor for the refresh delay; 1000 */
	long timeout_ms;         /* container request; 2000 */
};

/* NULL restores the defaults. */
void creds_set_tuning(const struct creds_tuning *t);
void creds_get_tuning(struct creds_tuning *t);

#endif
