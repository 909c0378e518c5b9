/* SPDX-License-Identifier: ISC */
/*
 * The AWS credential chain, in SDK order: environment, shared credentials
 * file and profile, container endpoint, IMDS role. The first two are read
 * synchronously (a small local file); the last two are HTTP requests on the
 * loop. Expiring credentials are refreshed in the background well before
 * Expiration and the old ones stay in use until the new ones arrive;
 * failures back off exponentially. Secrets exist only in the current set,
 * are zeroed when it is replaced (at the next loop turn, so a pointer from
 * creds_get() stays valid for the current one) and never reach a log line.
 */
#include "config.h"

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "creds.h"
#include "log.h"
#include "xmalloc.h"

#define MAX_DOC (64 * 1024)
#define MAX_FILE (1024 * 1024)
#define MAX_AUTH_TOKEN (16 * 1024)
#define AKID_MIN 16
#define AKID_MAX 128
#define SECRET_MAX 1024
#define TOKEN_MAX 16384
#define ROLE_MAX 128
#define CONTAINER_HOST "http://169.254.170.2"

const char *const creds_source_names[CREDS_SOURCE_MAX] = {
    [CREDS_NONE] = "none",
    [CREDS_ENV] = "env",
    [CREDS_FILE] = "file",
    [CREDS_CONTAINER] = "container",
    [CREDS_IMDS] = "imds",
};

static const struct creds_tuning tuning_default = {
    .backoff_min_ms = 1000,
    .backoff_max_ms = 60000,
    .advisory_s = 900,
    .min_refresh_ms = 1000,
    .timeout_ms = 2000,
};

static const struct creds_tuning tuning_fast = {
    .backoff_min_ms = 100,
    .backoff_max_ms = 2000,
    .advisory_s = 900,
    .min_refresh_ms = 200,
    .timeout_ms = 2000,
};

static struct creds_tuning tuning;
static bool tuning_set;

struct creds {
	struct ev *ev;
	struct httpc *hc;
	struct imds *imds;
	char *profile_cfg;
	struct creds_tuning tun;

	struct aws_creds *cur; /* NULL while none */
	char hint[16];
	char where[200]; /* where cur came from, for status */

	/* Replaced sets, wiped at the next loop turn. */
	struct aws_creds **retired;
	size_t n_retired;
	struct ev_timer *reap;

	/* Resolution. */
	bool resolving;
	struct imds_req *ireq;
	struct httpc_req *hreq;
	char role[ROLE_MAX + 1];
	char container_where[160];
	struct ev_timer *timer; /* next resolve */
	mono_ms timer_at;
	bool from_invalidate; /* the armed resolve was asked by invalidate */
	unsigned fail_attempt;
	unsigned stale_attempt;
	unsigned inval_attempt;
	mono_ms inval_not_before;
	bool warned_profile;
	bool logged_fail;

	char last_error[320];
	mono_ms last_error_at;
	bool rejected;
	char rejected_why[200];
	mono_ms rejected_at;

	bool dying;
};

void
creds_set_tuning(const struct creds_tuning *t)
{
	if (t == NULL) {
		tuning_set = false;
		return;
	}
	tuning = *t;
	tuning_set = true;
}

void
creds_get_tuning(struct creds_tuning *t)
{
	const char *fast = getenv("HEALTHAGENT_TEST_FAST");

	if (tuning_set)
		*t = tuning;
	else if (fast != NULL && strcmp(fast, "1") == 0)
		*t = tuning_fast;
	else
		*t = tuning_default;
	if (t->backoff_min_ms == 0)
		t->backoff_min_ms = 1;
	if (t->backoff_max_ms < t->backoff_min_ms)
		t->backoff_max_ms = t->backoff_min_ms;
	if (t->advisory_s < 0)
		t->advisory_s = 0;
	if (t->timeout_ms <= 0)
		t->timeout_ms = 2000;
}

/* ------------------------------------------------------------------ */
/* Pure helpers */

void
creds_clear(struct aws_creds *a)
{
	if (a == NULL)
		return;
	if (a->access_key_id != NULL)
		xfreezero(a->access_key_id, strlen(a->access_key_id));
	if (a->secret_access_key != NULL)
		xfreezero(a->secret_access_key, strlen(a->secret_access_key));
	if (a->session_token != NULL)
		xfreezero(a->session_token, strlen(a->session_token));
	memset(a, 0, sizeof(*a));
}

/* Printable ASCII without spaces: safe inside a header. */
static bool
text_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool
akid_ok(const char *s, size_t n)
{
	if (n < AKID_MIN || n > AKID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]))
			return false;
	return true;
}

/* Check the three values; err never quotes a secret. */
static int
check_values(const char *akid, const char *secret, const char *token,
    const char *what, char *err, size_t errlen)
{
	if (!akid_ok(akid, strlen(akid))) {
		snprintf(err, errlen,
		    "%s: the access key id is not %d to %d letters and digits",
		    what, AKID_MIN, AKID_MAX);
		return -1;
	}
	if (!text_ok(secret, strlen(secret), SECRET_MAX)) {
		snprintf(err, errlen,
		    "%s: the secret access key is empty, too long, or has "
		    "spaces or control characters",
		    what);
		return -1;
	}
	if (token != NULL && !text_ok(token, strlen(token), TOKEN_MAX)) {
		snprintf(err, errlen,
		    "%s: the session token is empty, too long, or has spaces "
		    "or control characters",
		    what);
		return -1;
	}
	return 0;
}

static int
digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

time_t
creds_parse_iso8601(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31};
	const char *p = s;
	int y, mo, d, h, mi, se, dim;
	long off = 0;
	struct tm tm;
	time_t t;

	if (s == NULL)
		return -1;
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0 || (*p != 'T' && *p != 't'))
		return -1;
	p++;
	if ((h = digits(&p, 2)) < 0 || *p++ != ':' ||
	    (mi = digits(&p, 2)) < 0 || *p++ != ':' || (se = digits(&p, 2)) < 0)
		return -1;
	if (*p == '.' || *p == ',') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if ((oh = digits(&p, 2)) < 0)
			return -1;
		if (*p == ':')
			p++;
		if ((om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600L + om * 60L);
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 ||
	    se > 59)
		return -1;
	dim = mdays[mo - 1];
	if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		dim = 29;
	if (d > dim)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	t -= off;
	return t < 0 ? -1 : t;
}

/* A string member of o, or NULL; *bad set if present but not a string. */
static const char *
member_str(struct json_object *o, const char *key, bool *bad)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = true;
		return NULL;
	}
	return json_object_get_string(v);
}

/* Copy printable text for an error message (not a secret). */
static void
quote(char *dst, size_t n, const char *s)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 1 < n; s++)
		dst[o++] = (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f
		    ? '?'
		    : *s;
	dst[o] = '\0';
}

int
creds_parse_json(const char *body, size_t len, struct aws_creds *out, char *err,
    size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error je;
	const char *code, *akid, *secret, *token, *exp;
	bool bad = false;
	time_t t;
	int rc = -1;
	char q1[80], q2[200];

	memset(out, 0, sizeof(*out));
	if (len == 0) {
		snprintf(err, errlen, "empty credentials document");
		return -1;
	}
	if (len > MAX_DOC) {
		snprintf(err, errlen,
		    "credentials document too long (%zu bytes)", len);
		return -1;
	}
	if (memchr(body, '\0', len) != NULL) {
		snprintf(err, errlen,
		    "credentials document contains a NUL byte");
		return -1;
	}
	tok = json_tokener_new();
	if (tok == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o = json_tokener_parse_ex(tok, body, (int)len);
	je = json_tokener_get_error(tok);
	if (o == NULL || je != json_tokener_success) {
		snprintf(err, errlen, "credentials document is not JSON: %s",
		    je == json_tokener_continue ? "truncated"
		                                : json_tokener_error_desc(je));
		goto out;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (!isspace((unsigned char)body[i])) {
			snprintf(err, errlen,
			    "credentials document has data after the JSON "
			    "value");
			goto out;
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen,
		    "credentials document is not a JSON object");
		goto out;
	}
	code = member_str(o, "Code", &bad);
	if (bad) {
		snprintf(err, errlen,
		    "credentials document: Code is not a string");
		goto out;
	}
	if (code != NULL && strcmp(code, "Success") != 0) {
		const char *msg = member_str(o, "Message", &bad);

		quote(q1, sizeof(q1), code);
		quote(q2, sizeof(q2), msg);
		snprintf(err, errlen, "credentials error %s%s%s", q1,
		    q2[0] != '\0' ? ": " : "", q2);
		goto out;
	}
	akid = member_str(o, "AccessKeyId", &bad);
	secret = member_str(o, "SecretAccessKey", &bad);
	token = member_str(o, "Token", &bad);
	exp = member_str(o, "Expiration", &bad);
	if (bad) {
		snprintf(err, errlen,
		    "credentials document: a key field is not a string");
		goto out;
	}
	if (akid == NULL || secret == NULL || token == NULL || exp == NULL) {
		snprintf(err, errlen,
		    "credentials document without %s (status 200 but no "
		    "credentials)",
		    akid == NULL         ? "AccessKeyId"
		        : secret == NULL ? "SecretAccessKey"
		        : token == NULL  ? "Token"
		                         : "Expiration");
		goto out;
	}
	if (check_values(akid, secret, token, "credentials document", err,
	        errlen) < 0)
		goto out;
	if ((t = creds_parse_iso8601(exp)) < 0) {
		quote(q1, sizeof(q1), exp);
		snprintf(err, errlen,
		    "credentials document: Expiration \"%s\" is not an "
		    "ISO-8601 "
		    "UTC time",
		    q1);
		goto out;
	}
	out->access_key_id = xstrdup(akid);
	out->secret_access_key = xstrdup(secret);
	out->session_token = xstrdup(token);
	out->expiration = t;
	out->source = CREDS_NONE;
	rc = 0;
out:
	if (o != NULL)
		json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int
creds_parse_ini(const char *text, size_t len, const char *profile,
    struct aws_creds *out, char *err, size_t errlen)
{
	char *buf, *line, *next, *akid = NULL, *secret = NULL, *token = NULL,
	                         *legacy = NULL;
	bool in = false, found = false, last_key = false;
	int rc = 0;
	size_t lineno = 0;

	memset(out, 0, sizeof(*out));
	len = strnlen(text, len); /* a NUL ends the text */
	buf = xstrndup(text, len);
	for (line = buf; line != NULL; line = next) {
		char *s, *eq;
		bool indented;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		indented = *line == ' ' || *line == '\t';
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');

			last_key = false;
			if (end == NULL) {
				in = false;
				continue;
			}
			*end = '\0';
			in = strcmp(trim(s + 1), profile) == 0;
			found = found || in;
			continue;
		}
		/* An indented line after a key continues its value (or is a
		 * nested sub-section); neither concerns us. */
		if (indented && last_key)
			continue;
		eq = strpbrk(s, "=:");
		if (eq == NULL) {
			last_key = false;
			continue;
		}
		last_key = true;
		if (!in)
			continue;
		*eq = '\0';
		{
			char *k = trim(s), *v = trim(eq + 1), **slot = NULL;

			if (strcasecmp(k, "aws_access_key_id") == 0)
				slot = &akid;
			else if (strcasecmp(k, "aws_secret_access_key") == 0)
				slot = &secret;
			else if (strcasecmp(k, "aws_session_token") == 0)
				slot = &token;
			else if (strcasecmp(k, "aws_security_token") == 0)
				slot = &legacy;
			if (slot != NULL)
				*slot = *v != '\0' ? v : NULL;
		}
	}
	(void)lineno;
	if (!found) {
		snprintf(err, errlen, "no profile [%s]", profile);
		goto out;
	}
	if (token == NULL)
		token = legacy;
	if (akid == NULL && secret == NULL) {
		snprintf(err, errlen,
		    "profile [%s] has no "
		    "aws_access_key_id/aws_secret_access_key",
		    profile);
		goto out;
	}
	if (akid == NULL || secret == NULL) {
		snprintf(err, errlen, "profile [%s] has %s but no %s", profile,
		    akid != NULL ? "aws_access_key_id"
		                 : "aws_secret_access_key",
		    akid != NULL ? "aws_secret_access_key"
		                 : "aws_access_key_id");
		rc = -1;
		goto out;
	}
	{
		char what[160];

		snprintf(what, sizeof(what), "profile [%s]", profile);
		if (check_values(akid, secret, token, what, err, errlen) < 0) {
			rc = -1;
			goto out;
		}
	}
	out->access_key_id = xstrdup(akid);
	out->secret_access_key = xstrdup(secret);
	out->session_token = token != NULL ? xstrdup(token) : NULL;
	out->expiration = 0;
	out->source = CREDS_FILE;
	rc = 1;
out:
	xfreezero(buf, len + 1);
	return rc;
}

int
creds_check_container_uri(const char *uri, char *err, size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = -1;
	struct in_addr a4;
	struct in6_addr a6;
	char h[128];
	size_t n;

	if (uri == NULL || *uri == '\0') {
		snprintf(err, errlen, "empty container credentials URI");
		return -1;
	}
	for (const char *p = uri; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(err, errlen,
			    "container credentials URI has a space or control "
			    "character");
			return -1;
		}
	}
	u = curl_url();
	if (u == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "container credentials URI is not a URL");
		goto out;
	}
	if (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0) {
		snprintf(err, errlen,
		    "container credentials URI is not http or https");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		snprintf(err, errlen,
		    "container credentials URI must not carry user info");
		goto out;
	}
	n = strlen(host);
	if (n >= sizeof(h)) {
		snprintf(err, errlen, "container credentials host too long");
		goto out;
	}
	/* curl keeps the brackets of an IPv6 literal. */
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
	} else {
		memcpy(h, host, n + 1);
	}
	if (strcasecmp(h, "localhost") == 0 ||
	    strcmp(h, "169.254.170.2") == 0 ||
	    strcmp(h, "169.254.170.23") == 0) {
		rc = 0;
	} else if (inet_pton(AF_INET, h, &a4) == 1) {
		if ((ntohl(a4.s_addr) >> 24) == 127)
			rc = 0;
	} else if (inet_pton(AF_INET6, h, &a6) == 1) {
		struct in6_addr ecs;

		inet_pton(AF_INET6, "fd00:ec2::23", &ecs);
		if (IN6_IS_ADDR_LOOPBACK(&a6) ||
		    memcmp(&a6, &ecs, sizeof(ecs)) == 0)
			rc = 0;
	}
	if (rc != 0) {
		char q[80];

		quote(q, sizeof(q), h);
		snprintf(err, errlen,
		    "container credentials host %s is not allowed (loopback, "
		    "localhost, 169.254.170.2, 169.254.170.23 or fd00:ec2::23)",
		    q);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The chain */

static void resolve(struct creds *c);

static void
make_hint(const char *akid, char *buf, size_t n)
{
	size_t l = strlen(akid);

	if (l >= 12)
		snprintf(buf, n, "%.4s...%s", akid, akid + l - 4);
	else
		snprintf(buf, n, "%.4s...", akid);
}

static void
reap_cb(void *arg)
{
	struct creds *c = arg;

	for (size_t i = 0; i < c->n_retired; i++) {
		creds_clear(c->retired[i]);
		free(c->retired[i]);
	}
	free(c->retired);
	c->retired = NULL;
	c->n_retired = 0;
}

static void
retire(struct creds *c, struct aws_creds *a)
{
	c->retired =
	    xreallocarray(c->retired, c->n_retired + 1, sizeof(*c->retired));
	c->retired[c->n_retired++] = a;
	ev_timer_arm(c->reap, 0);
}

/* Arm the resolve timer for delay, unless it is already due sooner. */
static void
schedule(struct creds *c, mono_ms delay, bool keep_sooner)
{
	mono_ms at = util_now_ms() + delay;

	if (keep_sooner && ev_timer_armed(c->timer) && c->timer_at <= at)
		return;
	c->timer_at = at;
	ev_timer_arm(c->timer, delay);
}

static bool
same_creds(const struct aws_creds *a, const struct aws_creds *b)
{
	if (strcmp(a->access_key_id, b->access_key_id) != 0 ||
	    strcmp(a->secret_access_key, b->secret_access_key) != 0)
		return false;
	if ((a->session_token == NULL) != (b->session_token == NULL))
		return false;
	return a->session_token == NULL ||
	    strcmp(a->session_token, b->session_token) == 0;
}

static void
schedule_refresh(struct creds *c)
{
	time_t now = time(NULL);
	long long remaining, ms;

	if (c->cur == NULL || c->cur->expiration == 0) {
		ev_timer_disarm(c->timer);
		return;
	}
	remaining = (long long)(c->cur->expiration - now);
	if (remaining <= 0) {
		/* IMDS served expired credentials: use them, ask again. */
		c->stale_attempt++;
		schedule(c,
		    util_backoff(c->tun.backoff_min_ms, c->tun.backoff_max_ms,
		        c->stale_attempt),
		    false);
		return;
	}
	c->stale_attempt = 0;
	ms = remaining * 1000 / 2;
	if (remaining > c->tun.advisory_s &&
	    (remaining - c->tun.advisory_s) * 1000 < ms)
		ms = (remaining - c->tun.advisory_s) * 1000;
	if (ms < (long long)c->tun.min_refresh_ms)
		ms = c->tun.min_refresh_ms;
	schedule(c, (mono_ms)ms, false);
}

static void
finish_ok(struct creds *c, struct aws_creds *nc, enum creds_source src,
    const char *where)
{
	bool changed;

	c->resolving = false;
	nc->source = src;
	changed =
	    c->cur == NULL || !same_creds(c->cur, nc) || c->cur->source != src;
	if (!changed) {
		c->cur->expiration = nc->expiration;
		creds_clear(nc);
		if (c->logged_fail)
			log_info("AWS credentials from %s work again (key %s)",
			    where, c->hint);
		else
			log_debug("AWS credentials from %s unchanged", where);
	} else {
		struct aws_creds *a = xmalloc(sizeof(*a));

		*a = *nc; /* takes the strings */
		memset(nc, 0, sizeof(*nc));
		if (c->cur != NULL)
			retire(c, c->cur);
		c->cur = a;
		make_hint(a->access_key_id, c->hint, sizeof(c->hint));
		util_strlcpy(c->where, where, sizeof(c->where));
		if (a->expiration != 0)
			log_info("AWS credentials from %s, key %s, expire in "
			         "%lld s",
			    where, c->hint,
			    (long long)(a->expiration - time(NULL)));
		else
			log_info("AWS credentials from %s, key %s", where,
			    c->hint);
		/* New secrets: a rejection of the old ones is history. */
		c->rejected = false;
		c->inval_attempt = 0;
		c->inval_not_before = 0;
	}
	c->logged_fail = false;
	c->fail_attempt = 0;
	c->last_error[0] = '\0';
	c->from_invalidate = false;
	schedule_refresh(c);
}

static void
finish_err(struct creds *c, const char *err)
{
	mono_ms delay;

	c->resolving = false;
	c->from_invalidate = false;
	util_strlcpy(c->last_error, err, sizeof(c->last_error));
	c->last_error_at = util_now_ms();
	c->fail_attempt++;
	delay = util_backoff(c->tun.backoff_min_ms, c->tun.backoff_max_ms,
	    c->fail_attempt);
	if (!c->logged_fail) {
		/* Once per episode; the retries are debug noise. */
		c->logged_fail = true;
		if (c->cur != NULL)
			log_warn("AWS credentials refresh failed: %s; still "
			         "using key %s, retrying in the background",
			    err, c->hint);
		else
			log_warn("no AWS credentials: %s; retrying in the "
			         "background",
			    err);
	} else {
		log_debug("AWS credentials attempt %u failed: %s; next in %llu "
		          "ms",
		    c->fail_attempt, err, (unsigned long long)delay);
	}
	schedule(c, delay, false);
}

/* 1 found, 0 not set, -1 error. */
static int
from_env(struct aws_creds *out, char *err, size_t errlen)
{
	const char *a = getenv("AWS_ACCESS_KEY_ID");
	const char *s = getenv("AWS_SECRET_ACCESS_KEY");
	const char *t = getenv("AWS_SESSION_TOKEN");

	memset(out, 0, sizeof(*out));
	if (a != NULL && *a == '\0')
		a = NULL;
	if (s != NULL && *s == '\0')
		s = NULL;
	if (t == NULL || *t == '\0')
		t = getenv("AWS_SECURITY_TOKEN");
	if (t != NULL && *t == '\0')
		t = NULL;
	if (a == NULL && s == NULL)
		return 0;
	if (a == NULL || s == NULL) {
		snprintf(err, errlen, "%s is set but %s is not",
		    a != NULL ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    a != NULL ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -1;
	}
	if (check_values(a, s, t, "environment", err, errlen) < 0)
		return -1;
	out->access_key_id = xstrdup(a);
	out->secret_access_key = xstrdup(s);
	out->session_token = t != NULL ? xstrdup(t) : NULL;
	out->source = CREDS_ENV;
	return 1;
}

static const char *
profile_name(const struct creds *c, bool *explicit)
{
	const char *p = getenv("AWS_PROFILE");

	*explicit = true;
	if (c->profile_cfg != NULL && *c->profile_cfg != '\0')
		return c->profile_cfg;
	if (p != NULL && *p != '\0')
		return p;
	*explicit = false;
	return "default";
}

/* Read a small file; NULL with errno set. *len excludes the added NUL. */
static char *
read_small(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* 1 found, 0 not there (note in err), -1 error. */
static int
from_file(struct creds *c, struct aws_creds *out, char *where, size_t wlen,
    char *err, size_t errlen)
{
	const char *env = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *home = getenv("HOME");
	const char *prof;
	char *path, *text, perr[256];
	size_t len = 0;
	bool explicit;
	int rc;

	memset(out, 0, sizeof(*out));
	if (env != NULL && *env != '\0') {
		if (env[0] == '~' && env[1] == '/' && home != NULL)
			path = xasprintf("%s%s", home, env + 1);
		else
			path = xstrdup(env);
	} else if (home != NULL && *home != '\0') {
		path = xasprintf("%s/.aws/credentials", home);
	} else {
		snprintf(err, errlen, "no credentials file (HOME is not set)");
		return 0;
	}
	prof = profile_name(c, &explicit);
	text = read_small(path, MAX_FILE, &len);
	if (text == NULL) {
		int e = errno;

		if (e == ENOENT || e == ENOTDIR) {
			snprintf(err, errlen, "no file %s", path);
			if (explicit && !c->warned_profile) {
				c->warned_profile = true;
				log_warn("AWS profile \"%s\" is configured but "
				         "%s does not exist",
				    prof, path);
			}
			free(path);
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path,
		    e == EFBIG        ? "larger than 1 MiB"
		        : e == EINVAL ? "not a regular file"
		                      : strerror(e));
		free(path);
		return -1;
	}
	rc = creds_parse_ini(text, len, prof, out, perr, sizeof(perr));
	xfreezero(text, len + 1);
	if (rc == 1) {
		snprintf(where, wlen, "profile %s in %s", prof, path);
	} else {
		snprintf(err, errlen, "%s: %s", path, perr);
		if (rc == 0 && explicit && !c->warned_profile) {
			c->warned_profile = true;
			log_warn("AWS profile \"%s\": %s; trying container and "
			         "IMDS credentials",
			    prof, err);
		}
	}
	free(path);
	return rc;
}

static void
container_done(const struct httpc_resp *resp, void *arg)
{
	struct creds *c = arg;
	struct aws_creds nc;
	char err[640], perr[300];

	c->hreq = NULL;
	if (resp->curl_code != 0) {
		snprintf(err, sizeof(err), "container credentials at %s: %s",
		    c->container_where, resp->error);
	} else if (resp->status != 200) {
		snprintf(err, sizeof(err),
		    "container credentials at %s: HTTP %ld", c->container_where,
		    resp->status);
	} else if (resp->truncated) {
		snprintf(err, sizeof(err),
		    "container credentials at %s: reply too long",
		    c->container_where);
	} else if (creds_parse_json(resp->body, resp->body_len, &nc, perr,
	               sizeof(perr)) < 0) {
		snprintf(err, sizeof(err), "container credentials at %s: %s",
		    c->container_where, perr);
	} else {
		char where[200];

		snprintf(where, sizeof(where), "container endpoint %s",
		    c->container_where);
		finish_ok(c, &nc, CREDS_CONTAINER, where);
		return;
	}
	finish_err(c, err);
}

/* The Authorization value, or NULL; -1 on error. */
static int
container_auth(char **out, char *err, size_t errlen)
{
	const char *file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char *v = NULL;
	size_t n;

	*out = NULL;
	if (file != NULL && *file != '\0') {
		v = read_small(file, MAX_AUTH_TOKEN, &n);
		if (v == NULL) {
			snprintf(err, errlen,
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
			    file, strerror(errno));
			return -1;
		}
		while (n > 0 && isspace((unsigned char)v[n - 1]))
			v[--n] = '\0';
	} else if (tok != NULL && *tok != '\0') {
		v = xstrdup(tok);
		n = strlen(v);
	} else {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f) {
			snprintf(err, errlen,
			    "the container authorization token has control "
			    "characters");
			xfreezero(v, n);
			return -1;
		}
	}
	*out = v;
	return 0;
}

/* 1 started, 0 not configured, -1 error. */
static int
container_start(struct creds *c, char *err, size_t errlen)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char *url, *auth = NULL, *hdr = NULL;
	const char *hdrs[3];
	struct httpc_opts o;
	size_t nh = 0;

	if (rel != NULL && *rel != '\0') {
		if (rel[0] != '/' ||
		    strspn(rel,
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
		        "TUVWXYZ0123456789/-._~%?=&") != strlen(rel)) {
			snprintf(err, errlen,
			    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a "
			    "path");
			return -1;
		}
		url = xasprintf(CONTAINER_HOST "%s", rel);
		snprintf(c->container_where, sizeof(c->container_where),
		    "169.254.170.2");
	} else if (full != NULL && *full != '\0') {
		char e[256];

		if (creds_check_container_uri(full, e, sizeof(e)) < 0) {
			snprintf(err, errlen,
			    "AWS_CONTAINER_CREDENTIALS_FULL_URI: %s", e);
			return -1;
		}
		url = xstrdup(full);
		{
			/* Show scheme://host[:port] only: the path may be
			 * a capability. */
			const char *h = strstr(url, "://");
			size_t l = h != NULL
			    ? strcspn(h + 3, "/?#") + 3 + (size_t)(h - url)
			    : 0;

			if (l >= sizeof(c->container_where))
				l = sizeof(c->container_where) - 1;
			memcpy(c->container_where, url, l);
			c->container_where[l] = '\0';
		}
	} else {
		return 0;
	}
	if (c->hc == NULL) {
		free(url);
		snprintf(err, errlen, "container credentials: no HTTP client");
		return -1;
	}
	if (container_auth(&auth, err, errlen) < 0) {
		free(url);
		return -1;
	}
	if (auth != NULL) {
		hdr = xasprintf("Authorization: %s", auth);
		xfreezero(auth, strlen(auth));
		hdrs[nh++] = hdr;
	}
	hdrs[nh++] = "Accept: application/json";
	hdrs[nh] = NULL;
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.headers = hdrs;
	o.timeout_ms = c->tun.timeout_ms;
	o.connect_timeout_ms = c->tun.timeout_ms / 2;
	o.max_body = MAX_DOC;
	o.no_proxy = true;
	c->hreq = httpc_request(c->hc, &o, container_done, c);
	if (hdr != NULL)
		xfreezero(hdr, strlen(hdr));
	free(url);
	if (c->hreq == NULL) {
		snprintf(err, errlen,
		    "cannot start the container credentials request");
		return -1;
	}
	return 1;
}

static void
imds_creds_done(int status, const char *body, size_t len, const char *error,
    void *arg)
{
	struct creds *c = arg;
	struct aws_creds nc;
	char err[640], perr[300], where[200];

	c->ireq = NULL;
	if (status != 200) {
		snprintf(err, sizeof(err), "IMDS credentials for role %s: %s",
		    c->role, error != NULL ? error : "failed");
		finish_err(c, err);
		return;
	}
	if (creds_parse_json(body, len, &nc, perr, sizeof(perr)) < 0) {
		snprintf(err, sizeof(err), "IMDS credentials for role %s: %s",
		    c->role, perr);
		finish_err(c, err);
		return;
	}
	snprintf(where, sizeof(where), "IMDS role %s", c->role);
	finish_ok(c, &nc, CREDS_IMDS, where);
}

static bool
role_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > ROLE_MAX)
		return false;
	for (; *r != '\0'; r++)
		if (!isalnum((unsigned char)*r) &&
		    strchr("+=,.@_-", *r) == NULL)
			return false;
	return true;
}

static void
imds_role_done(int status, const char *body, size_t len, const char *error,
    void *arg)
{
	struct creds *c = arg;
	char err[400], *path;
	size_t n = 0;

	c->ireq = NULL;
	if (status == 404) {
		finish_err(c,
		    "IMDS: no IAM role is attached to this instance "
		    "(meta-data/iam/security-credentials/ is 404)");
		return;
	}
	if (status != 200) {
		snprintf(err, sizeof(err), "IMDS role: %s",
		    error != NULL ? error : "failed");
		finish_err(c, err);
		return;
	}
	/* The first line is the role. */
	while (n < len && body[n] != '\n' && body[n] != '\r' && n <= ROLE_MAX)
		n++;
	if (n == 0 || n > ROLE_MAX) {
		finish_err(c, "IMDS role: unusable reply");
		return;
	}
	memcpy(c->role, body, n);
	c->role[n] = '\0';
	if (!role_ok(c->role)) {
		c->role[0] = '\0';
		finish_err(c,
		    "IMDS role: the role name has unexpected characters");
		return;
	}
	path = xasprintf("meta-data/iam/security-credentials/%s", c->role);
	c->ireq = imds_get(c->imds, path, imds_creds_done, c);
	free(path);
	if (c->ireq == NULL)
		finish_err(c, "IMDS: cannot start the credentials request");
}

static void
resolve(struct creds *c)
{
	struct aws_creds nc;
	char err[400], fnote[300], where[240];
	int rc;

	if (c->resolving || c->dying)
		return;
	c->resolving = true;
	ev_timer_disarm(c->timer);
	if (c->from_invalidate) {
		c->inval_attempt++;
		c->inval_not_before = util_now_ms() +
		    util_backoff(c->tun.backoff_min_ms, c->tun.backoff_max_ms,
		        c->inval_attempt);
	}

	rc = from_env(&nc, err, sizeof(err));
	if (rc == 1) {
		finish_ok(c, &nc, CREDS_ENV, "environment");
		return;
	}
	if (rc < 0) {
		finish_err(c, err);
		return;
	}
	fnote[0] = '\0';
	rc = from_file(c, &nc, where, sizeof(where), fnote, sizeof(fnote));
	if (rc == 1) {
		finish_ok(c, &nc, CREDS_FILE, where);
		return;
	}
	if (rc < 0) {
		finish_err(c, fnote);
		return;
	}
	rc = container_start(c, err, sizeof(err));
	if (rc == 1)
		return;
	if (rc < 0) {
		finish_err(c, err);
		return;
	}
	if (c->imds != NULL && imds_enabled(c->imds)) {
		c->ireq = imds_get(c->imds,
		    "meta-data/iam/security-credentials/", imds_role_done, c);
		if (c->ireq != NULL)
			return;
		finish_err(c, "IMDS: cannot start the role request");
		return;
	}
	snprintf(err, sizeof(err),
	    "none found (environment: not set; shared file: %s; container: "
	    "not set; IMDS: %s)",
	    fnote, c->imds == NULL ? "not used" : imds_state(c->imds));
	finish_err(c, err);
}

static void
timer_cb(void *arg)
{
	resolve(arg);
}

struct creds *
creds_new(struct ev *ev, struct httpc *hc, struct imds *imds,
    const char *profile)
{
	struct creds *c = xcalloc(1, sizeof(*c));

	c->ev = ev;
	c->hc = hc;
	c->imds = imds;
	c->profile_cfg =
	    profile != NULL && *profile != '\0' ? xstrdup(profile) : NULL;
	creds_get_tuning(&c->tun);
	c->timer = ev_timer_new(ev, timer_cb, c);
	c->reap = ev_timer_new(ev, reap_cb, c);
	resolve(c);
	return c;
}

void
creds_free(struct creds *c)
{
	if (c == NULL)
		return;
	c->dying = true;
	imds_cancel(c->ireq);
	httpc_cancel(c->hreq);
	ev_timer_free(c->timer);
	ev_timer_free(c->reap);
	reap_cb(c);
	if (c->cur != NULL) {
		creds_clear(c->cur);
		free(c->cur);
	}
	free(c->profile_cfg);
	free(c);
}

const struct aws_creds *
creds_get(const struct creds *c)
{
	return c != NULL ? c->cur : NULL;
}

void
creds_invalidate(struct creds *c, const char *why)
{
	mono_ms now = util_now_ms(), delay;
	char q[200];

	quote(q, sizeof(q), why != NULL ? why : "rejected");
	if (c->cur != NULL) {
		if (!c->rejected)
			log_warn("AWS rejected the credentials from %s (key "
			         "%s): "
			         "%s; resolving them again",
			    c->where, c->hint, q);
		else
			log_debug("AWS rejected key %s again: %s", c->hint, q);
		c->rejected = true;
		c->rejected_at = now;
		util_strlcpy(c->rejected_why, q, sizeof(c->rejected_why));
	}
	if (c->resolving)
		return; /* its outcome is what we would fetch */
	delay = c->inval_not_before > now ? c->inval_not_before - now : 0;
	if (ev_timer_armed(c->timer) && c->timer_at <= now + delay)
		return;
	c->from_invalidate = true;
	schedule(c, delay, true);
}

const char *
creds_key_hint(const struct creds *c)
{
	return c != NULL && c->cur != NULL ? c->hint : "";
}

const char *
creds_state(const struct creds *c)
{
	static char buf[1024];
	mono_ms now = util_now_ms();
	size_t o = 0;

#define ADD(...)                                                               \
	do {                                                                   \
		if (o < sizeof(buf))                                           \
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,        \
			    __VA_ARGS__);                                      \
	} while (0)

	buf[0] = '\0';
	if (c == NULL)
		return "none";
	if (c->cur == NULL) {
		ADD("none");
	} else {
		ADD("%s (%s), key %s", creds_source_names[c->cur->source],
		    c->where, c->hint);
		if (c->cur->expiration == 0) {
			ADD(", does not expire");
		} else {
			long long left =
			    (long long)(c->cur->expiration - time(NULL));

			if (left >= 0)
				ADD(", expires in %lld s", left);
			else
				ADD(", EXPIRED %lld s ago", -left);
		}
	}
	if (c->resolving)
		ADD(", resolving");
	else if (ev_timer_armed(c->timer) && c->cur != NULL &&
	    c->last_error[0] == '\0')
		ADD(", refresh in %llu s",
		    (unsigned long long)(c->timer_at > now
		            ? (c->timer_at - now + 999) / 1000
		            : 0));
	if (c->rejected)
		ADD("; rejected by AWS %llu s ago: %s",
		    (unsigned long long)((now - c->rejected_at) / 1000),
		    c->rejected_why);
	if (c->last_error[0] != '\0') {
		ADD("; last error %llu s ago: %s",
		    (unsigned long long)((now - c->last_error_at) / 1000),
		    c->last_error);
		if (ev_timer_armed(c->timer) && !c->resolving)
			ADD("; retrying in %llu s",
			    (unsigned long long)(c->timer_at > now
			            ? (c->timer_at - now + 999) / 1000
			            : 0));
	}
#undef ADD
	return buf;
}
