/* SPDX-License-Identifier: ISC */
/*
 * IMDSv2 client. A session token is PUT for with a TTL, reused by every GET,
 * renewed in the background once most of its TTL has passed and at once
 * when a GET is answered 401 (that GET is then retried once). GETs that
 * arrive while no token is usable wait for the token request. At start the
 * instance identity is fetched; a failed round is retried with capped,
 * jittered exponential backoff, logged once, and described by imds_state().
 * IMDSv1 (GET without a token) is never used, and no request goes through
 * a proxy.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "imds.h"
#include "log.h"
#include "xmalloc.h"

#define DEFAULT_ENDPOINT "http://169.254.169.254"
#define DEFAULT_ENDPOINT_V6 "http://[fd00:ec2::254]"
#define MAX_TTL_S 21600
#define MAX_TOKEN_LEN 4096
#define MAX_PATH_LEN 512
#define MAX_BODY (64 * 1024)
#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"

const char *const imds_field_paths[IMDS_FIELD_MAX] = {
    [IMDS_INSTANCE_ID] = "meta-data/instance-id",
    [IMDS_REGION] = "meta-data/placement/region",
    [IMDS_AVAILABILITY_ZONE] = "meta-data/placement/availability-zone",
    [IMDS_INSTANCE_TYPE] = "meta-data/instance-type",
};

static const struct imds_tuning tuning_default = {
    .token_ttl_s = MAX_TTL_S,
    .token_renew_pct = 80,
    .backoff_min_ms = 1000,
    .backoff_max_ms = 60000,
    .connect_timeout_ms = 1000,
    .timeout_ms = 2000,
};

static const struct imds_tuning tuning_fast = {
    .token_ttl_s = MAX_TTL_S,
    .token_renew_pct = 80,
    .backoff_min_ms = 100,
    .backoff_max_ms = 2000,
    .connect_timeout_ms = 1000,
    .timeout_ms = 2000,
};

static struct imds_tuning tuning;
static bool tuning_set;

struct imds_req {
	struct imds *m;
	char *path;
	imds_get_cb cb;
	void *arg;
	struct httpc_req *hr;
	uint64_t token_gen; /* generation of the token the GET carried */
	bool retried;       /* the token was renewed after a 401 */
	bool waiting;       /* queued until a token arrives */
	bool done;          /* callback running */
	struct imds_req *prev, *next;
};

struct id_slot {
	struct imds *m;
	enum imds_field f;
	struct imds_req *req;
};

struct imds {
	struct ev *ev;
	struct httpc *hc;
	struct imds_tuning tun;
	char *endpoint; /* base URL, no trailing slash */
	bool enabled;
	char why_disabled[320];

	/* The session token: a secret, zeroed when replaced. */
	char *token;
	uint64_t token_gen;
	mono_ms token_renew_at, token_usable_until;
	struct httpc_req *token_req;

	struct imds_req *reqs; /* every live request */

	/* Identity discovery. */
	struct imds_identity id;
	char vals[IMDS_FIELD_MAX][64];
	bool got[IMDS_FIELD_MAX];
	struct id_slot slots[IMDS_FIELD_MAX];
	int id_pending;
	bool round_transport; /* a transport error in this round */
	char round_err[256];
	unsigned attempt;
	bool failing;
	bool failing_transport;
	int logged_kind; /* 0 none, 1 unreachable, 2 bad answers */
	mono_ms failing_since, retry_at;
	char last_error[256];
	struct ev_timer *retry_timer;

	void (*id_cb)(void *arg);
	void *id_arg;
	bool id_notified;
	struct ev_timer *notify_timer;

	int busy;   /* inside a user callback */
	bool dying; /* imds_free() from a callback */
};

void
imds_set_tuning(const struct imds_tuning *t)
{
	if (t == NULL) {
		tuning_set = false;
		return;
	}
	tuning = *t;
	tuning_set = true;
}

void
imds_get_tuning(struct imds_tuning *t)
{
	const char *fast = getenv("HEALTHAGENT_TEST_FAST");

	if (tuning_set)
		*t = tuning;
	else if (fast != NULL && strcmp(fast, "1") == 0)
		*t = tuning_fast;
	else
		*t = tuning_default;
	if (t->token_ttl_s < 1 || t->token_ttl_s > MAX_TTL_S)
		t->token_ttl_s = MAX_TTL_S;
	if (t->token_renew_pct < 1 || t->token_renew_pct > 100)
		t->token_renew_pct = 80;
	if (t->backoff_min_ms == 0)
		t->backoff_min_ms = 1;
	if (t->backoff_max_ms < t->backoff_min_ms)
		t->backoff_max_ms = t->backoff_min_ms;
}

static bool
env_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Accept http(s)://host[:port][/path] without spaces or controls. */
static char *
endpoint_clean(const char *s, char *err, size_t errlen)
{
	const char *host;
	size_t n;
	char *e;

	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else {
		snprintf(err, errlen,
		    "\"%s\" is not an http:// or https:// URL", s);
		return NULL;
	}
	if (*host == '\0' || *host == '/' || *host == ':') {
		snprintf(err, errlen, "\"%s\" has no host", s);
		return NULL;
	}
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '?' || *p == '#') {
			snprintf(err, errlen,
			    "\"%s\" has a space, control character, query or "
			    "fragment",
			    s);
			return NULL;
		}
	}
	if (strlen(s) > 1024) {
		snprintf(err, errlen, "endpoint URL is too long");
		return NULL;
	}
	e = xstrdup(s);
	n = strlen(e);
	while (n > 0 && e[n - 1] == '/')
		e[--n] = '\0';
	return e;
}

static bool
path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > MAX_PATH_LEN || p[0] == '/' ||
	    strstr(p, "..") != NULL)
		return false;
	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!isalnum(c) && strchr("/_.,:@+=-", c) == NULL)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Requests */

static void
req_unlink(struct imds_req *r)
{
	struct imds *m = r->m;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else if (m->reqs == r)
		m->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void
req_free(struct imds_req *r)
{
	free(r->path);
	free(r);
}

static void imds_destroy(struct imds *m);

static void
deliver(struct imds_req *r, int status, const char *body, size_t len,
    const char *error)
{
	struct imds *m = r->m;

	r->done = true;
	r->waiting = false;
	req_unlink(r);
	m->busy++;
	r->cb(status, body != NULL ? body : "", len, error, r->arg);
	m->busy--;
	req_free(r);
}

static void
maybe_destroy(struct imds *m)
{
	if (m->dying && m->busy == 0)
		imds_destroy(m);
}

static bool
token_usable(const struct imds *m)
{
	return m->token != NULL && util_now_ms() < m->token_usable_until;
}

static void
drop_token(struct imds *m)
{
	if (m->token != NULL)
		xfreezero(m->token, strlen(m->token));
	m->token = NULL;
}

static void get_done(const struct httpc_resp *resp, void *arg);

static int
send_get(struct imds_req *r)
{
	struct imds *m = r->m;
	char *hdr, *url;
	const char *hdrs[2];
	struct httpc_opts o;

	hdr = xasprintf("X-aws-ec2-metadata-token: %s", m->token);
	hdrs[0] = hdr;
	hdrs[1] = NULL;
	url = xasprintf("%s/latest/%s", m->endpoint, r->path);
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = url;
	o.headers = hdrs;
	o.timeout_ms = m->tun.timeout_ms;
	o.connect_timeout_ms = m->tun.connect_timeout_ms;
	o.max_body = MAX_BODY;
	o.no_proxy = true;
	r->token_gen = m->token_gen;
	r->waiting = false;
	r->hr = httpc_request(m->hc, &o, get_done, r);
	xfreezero(hdr, strlen(hdr));
	free(url);
	return r->hr != NULL ? 0 : -1;
}

static void token_done(const struct httpc_resp *resp, void *arg);

/* Start a token request unless one is in flight; -1 if it cannot start. */
static int
token_fetch(struct imds *m)
{
	char ttl[64], *url;
	const char *hdrs[2] = {ttl, NULL};
	struct httpc_opts o;

	if (m->token_req != NULL)
		return 0;
	snprintf(ttl, sizeof(ttl), TTL_HEADER ": %ld", m->tun.token_ttl_s);
	url = xasprintf("%s/latest/api/token", m->endpoint);
	memset(&o, 0, sizeof(o));
	o.method = "PUT";
	o.url = url;
	o.headers = hdrs;
	o.timeout_ms = m->tun.timeout_ms;
	o.connect_timeout_ms = m->tun.connect_timeout_ms;
	o.max_body = MAX_TOKEN_LEN + 1;
	o.no_proxy = true;
	m->token_req = httpc_request(m->hc, &o, token_done, m);
	free(url);
	return m->token_req != NULL ? 0 : -1;
}

/* The TTL the service granted, from the reply header; 0 if absent/bad. */
long
imds_granted_ttl(const char *headers)
{
	size_t hl = strlen(TTL_HEADER);

	for (const char *l = headers; l != NULL && *l != '\0';) {
		const char *nl = strchr(l, '\n');

		if (strncasecmp(l, TTL_HEADER, hl) == 0 && l[hl] == ':') {
			char *end;
			long v = strtol(l + hl + 1, &end, 10);

			while (*end == ' ' || *end == '\t' || *end == '\r')
				end++;
			if (end != l + hl + 1 &&
			    (*end == '\n' || *end == '\0') && v >= 1 &&
			    v <= MAX_TTL_S)
				return v;
			return 0;
		}
		l = nl != NULL ? nl + 1 : NULL;
	}
	return 0;
}

bool
imds_token_ok(const char *b, size_t n)
{
	if (n == 0 || n > MAX_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)b[i] <= 0x20 || (unsigned char)b[i] >= 0x7f)
			return false;
	return true;
}

/* Fail every request waiting for a token. */
static void
fail_waiters(struct imds *m, const char *err)
{
	bool again = true;

	m->busy++;
	while (again && !m->dying) {
		again = false;
		for (struct imds_req *r = m->reqs; r != NULL; r = r->next) {
			if (r->waiting) {
				/* The callback may cancel others: restart. */
				deliver(r, 0, NULL, 0, err);
				again = true;
				break;
			}
		}
	}
	m->busy--;
}

static void
token_done(const struct httpc_resp *resp, void *arg)
{
	struct imds *m = arg;
	char err[300];
	long ttl;

	m->token_req = NULL;
	if (resp->curl_code == 0 && resp->status == 200 &&
	    imds_token_ok(resp->body, resp->body_len)) {
		mono_ms now = util_now_ms(), ttl_ms;

		ttl = imds_granted_ttl(resp->headers);
		if (ttl == 0) {
			log_debug("IMDS token reply without a valid " TTL_HEADER
			          " header; assuming %ld s",
			    m->tun.token_ttl_s);
			ttl = m->tun.token_ttl_s;
		} else if (ttl > m->tun.token_ttl_s) {
			ttl = m->tun.token_ttl_s;
		}
		drop_token(m);
		m->token = xstrndup(resp->body, resp->body_len);
		m->token_gen++;
		ttl_ms = (mono_ms)ttl * 1000;
		m->token_renew_at =
		    now + ttl_ms * (mono_ms)m->tun.token_renew_pct / 100;
		/* Stop using it a little before the service does. */
		m->token_usable_until = now + ttl_ms - ttl_ms / 20;
		log_debug("IMDS token obtained, TTL %ld s", ttl);
		m->busy++;
		for (struct imds_req *r = m->reqs; r != NULL && !m->dying;) {
			struct imds_req *next = r->next;

			if (r->waiting && send_get(r) < 0) {
				deliver(r, 0, NULL, 0,
				    "cannot start the IMDS request");
				/* the list may have changed: rescan */
				next = m->reqs;
			}
			r = next;
		}
		m->busy--;
		maybe_destroy(m);
		return;
	}
	if (resp->curl_code != 0)
		snprintf(err, sizeof(err), "%s", resp->error);
	else if (resp->status == 200)
		snprintf(err, sizeof(err),
		    "IMDS token: the reply is not a token (%zu bytes)",
		    resp->body_len);
	else if (resp->status == 403 || resp->status == 404 ||
	    resp->status == 405)
		snprintf(err, sizeof(err),
		    "IMDS token: HTTP %ld (IMDSv2 refused; IMDSv1 is never "
		    "used)",
		    resp->status);
	else
		snprintf(err, sizeof(err), "IMDS token: HTTP %ld",
		    resp->status);
	fail_waiters(m, err);
	maybe_destroy(m);
}

static void
get_done(const struct httpc_resp *resp, void *arg)
{
	struct imds_req *r = arg;
	struct imds *m = r->m;
	char err[300];

	r->hr = NULL;
	if (resp->curl_code == 0 && resp->status == 401 && !r->retried) {
		r->retried = true;
		/* Only drop the token this GET used; a newer one is fine. */
		if (r->token_gen == m->token_gen)
			drop_token(m);
		log_debug("IMDS %s: 401, renewing the token", r->path);
		if (token_usable(m)) {
			if (send_get(r) == 0)
				return;
		} else {
			r->waiting = true;
			if (token_fetch(m) == 0)
				return;
		}
		deliver(r, 0, NULL, 0, "cannot renew the IMDS token");
		maybe_destroy(m);
		return;
	}
	if (resp->curl_code != 0) {
		deliver(r, 0, NULL, 0, resp->error);
	} else if (resp->status != 200) {
		snprintf(err, sizeof(err), "HTTP %ld", resp->status);
		deliver(r, (int)resp->status, resp->body, resp->body_len, err);
	} else if (resp->truncated) {
		snprintf(err, sizeof(err), "reply longer than %d bytes",
		    MAX_BODY);
		deliver(r, 0, NULL, 0, err);
	} else {
		deliver(r, 200, resp->body, resp->body_len, NULL);
	}
	maybe_destroy(m);
}

struct imds_req *
imds_get(struct imds *m, const char *path, imds_get_cb cb, void *arg)
{
	struct imds_req *r;
	mono_ms now;

	if (m == NULL || !m->enabled || m->dying)
		return NULL;
	if (!path_ok(path)) {
		log_err("IMDS: refusing to fetch an invalid path");
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->m = m;
	r->path = xstrdup(path);
	r->cb = cb;
	r->arg = arg;
	now = util_now_ms();
	if (token_usable(m)) {
		if (send_get(r) < 0) {
			req_free(r);
			return NULL;
		}
		/* Renew in the background once most of the TTL is gone. */
		if (now >= m->token_renew_at)
			(void)token_fetch(m);
	} else {
		r->waiting = true;
		if (token_fetch(m) < 0) {
			req_free(r);
			return NULL;
		}
	}
	r->next = m->reqs;
	if (m->reqs != NULL)
		m->reqs->prev = r;
	m->reqs = r;
	return r;
}

void
imds_cancel(struct imds_req *r)
{
	if (r == NULL || r->done)
		return;
	httpc_cancel(r->hr);
	req_unlink(r);
	req_free(r);
}

/* ------------------------------------------------------------------ */
/* Identity */

static bool
all_lower_alnum(const char *s, bool dash)
{
	for (; *s != '\0'; s++)
		if (!(islower((unsigned char)*s) ||
		        isdigit((unsigned char)*s) || (dash && *s == '-')))
			return false;
	return true;
}

static bool
region_ok(const char *v)
{
	const char *p = v;
	int parts = 0;

	/* [a-z]{2}(-[a-z]+)+-[0-9]+ */
	if (!islower((unsigned char)p[0]) || !islower((unsigned char)p[1]))
		return false;
	p += 2;
	for (;;) {
		if (*p != '-')
			return false;
		p++;
		if (isdigit((unsigned char)*p))
			break;
		if (!islower((unsigned char)*p))
			return false;
		while (islower((unsigned char)*p))
			p++;
		parts++;
	}
	if (parts < 1)
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0';
}

int
imds_check_value(enum imds_field f, const char *v, const char *region,
    char *err, size_t errlen)
{
	size_t n = strlen(v), cap;
	const char *dot;

	switch (f) {
	case IMDS_INSTANCE_ID:
		cap = sizeof(((struct imds_identity *)0)->instance_id);
		if (n < 3 || n >= cap || strncmp(v, "i-", 2) != 0 ||
		    strspn(v + 2, "0123456789abcdef") != n - 2)
			goto bad;
		return 0;
	case IMDS_REGION:
		cap = sizeof(((struct imds_identity *)0)->region);
		if (n >= cap || !region_ok(v))
			goto bad;
		return 0;
	case IMDS_AVAILABILITY_ZONE:
		cap = sizeof(((struct imds_identity *)0)->availability_zone);
		if (n < 4 || n >= cap || !islower((unsigned char)v[0]) ||
		    !all_lower_alnum(v, true) || v[n - 1] == '-')
			goto bad;
		if (region != NULL && *region != '\0') {
			size_t rl = strlen(region);

			/* us-east-1a, or a Local/Wavelength Zone
			 * us-west-2-lax-1a */
			if (strncmp(v, region, rl) != 0 ||
			    !(islower((unsigned char)v[rl]) ||
			        (v[rl] == '-' && v[rl + 1] != '\0'))) {
				snprintf(err, errlen,
				    "availability zone \"%s\" is not in region "
				    "%s",
				    v, region);
				return -1;
			}
		}
		return 0;
	case IMDS_INSTANCE_TYPE:
		cap = sizeof(((struct imds_identity *)0)->instance_type);
		dot = strchr(v, '.');
		if (n < 3 || n >= cap || dot == NULL || dot == v ||
		    dot[1] == '\0' || strchr(dot + 1, '.') != NULL ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
			goto bad;
		return 0;
	case IMDS_FIELD_MAX:
		break;
	}
	snprintf(err, errlen, "unknown identity field");
	return -1;
bad:
	/* Quote at most a little of what was served. */
	snprintf(err, errlen, "%s: unexpected value \"%.40s%s\"",
	    imds_field_paths[f], v, n > 40 ? "..." : "");
	return -1;
}

int
imds_parse_value(enum imds_field f, const char *body, size_t len, char *out,
    size_t outlen, char *err, size_t errlen)
{
	size_t n = len;

	if (outlen > 0)
		out[0] = '\0';
	if ((int)f < 0 || f >= IMDS_FIELD_MAX) {
		snprintf(err, errlen, "unknown identity field");
		return -1;
	}
	/* Trim trailing whitespace; a NUL inside is garbage. */
	while (n > 0 && isspace((unsigned char)body[n - 1]))
		n--;
	if (n >= outlen || memchr(body, '\0', n) != NULL) {
		snprintf(err, errlen, "%s: unusable reply (%zu bytes)",
		    imds_field_paths[f], len);
		return -1;
	}
	memcpy(out, body, n);
	out[n] = '\0';
	if (imds_check_value(f, out, NULL, err, errlen) < 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static void id_round(struct imds *m);

static void
retry_cb(void *arg)
{
	id_round(arg);
}

static void
notify_cb(void *arg)
{
	struct imds *m = arg;

	if (m->id.valid && m->id_cb != NULL && !m->id_notified) {
		m->id_notified = true;
		m->id_cb(m->id_arg);
	}
}

static void
id_round_end(struct imds *m)
{
	mono_ms now = util_now_ms(), delay;
	int kind;
	bool all = true;

	for (int f = 0; f < IMDS_FIELD_MAX; f++)
		all = all && m->got[f];
	if (all) {
		/* Cross-check the AZ against the region now both are known. */
		char err[256];

		if (imds_check_value(IMDS_AVAILABILITY_ZONE,
		        m->vals[IMDS_AVAILABILITY_ZONE], m->vals[IMDS_REGION],
		        err, sizeof(err)) < 0) {
			m->got[IMDS_AVAILABILITY_ZONE] = false;
			util_strlcpy(m->round_err, err, sizeof(m->round_err));
			all = false;
		}
	}
	if (all) {
		struct imds_identity *id = &m->id;

		util_strlcpy(id->instance_id, m->vals[IMDS_INSTANCE_ID],
		    sizeof(id->instance_id));
		util_strlcpy(id->region, m->vals[IMDS_REGION],
		    sizeof(id->region));
		util_strlcpy(id->availability_zone,
		    m->vals[IMDS_AVAILABILITY_ZONE],
		    sizeof(id->availability_zone));
		util_strlcpy(id->instance_type, m->vals[IMDS_INSTANCE_TYPE],
		    sizeof(id->instance_type));
		id->valid = true;
		if (m->failing)
			log_info("IMDS answers again after %llu s: instance %s "
			         "(%s) in %s",
			    (unsigned long long)((now - m->failing_since) /
			        1000),
			    id->instance_id, id->instance_type,
			    id->availability_zone);
		else
			log_info("IMDS: instance %s (%s) in %s",
			    id->instance_id, id->instance_type,
			    id->availability_zone);
		m->failing = false;
		m->attempt = 0;
		m->last_error[0] = '\0';
		if (m->id_cb != NULL && !m->id_notified) {
			m->id_notified = true;
			m->busy++;
			m->id_cb(m->id_arg);
			m->busy--;
		}
		return;
	}
	if (!m->failing) {
		m->failing = true;
		m->failing_since = now;
	}
	m->failing_transport = m->round_transport;
	util_strlcpy(m->last_error, m->round_err, sizeof(m->last_error));
	m->attempt++;
	delay = util_backoff(m->tun.backoff_min_ms, m->tun.backoff_max_ms,
	    m->attempt);
	m->retry_at = now + delay;
	ev_timer_arm(m->retry_timer, delay);
	kind = m->round_transport ? 1 : 2;
	if (m->logged_kind != kind) {
		/* Once per kind of trouble, not once per retry. */
		m->logged_kind = kind;
		log_warn("IMDS at %s %s: %s; the agent keeps running without "
		         "the instance identity and retries in the background",
		    m->endpoint,
		    kind == 1 ? "is unreachable" : "gave an unusable answer",
		    m->last_error);
	} else {
		log_debug("IMDS identity attempt %u failed: %s; next in %llu "
		          "ms",
		    m->attempt, m->last_error, (unsigned long long)delay);
	}
}

static void
id_done(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct id_slot *s = arg;
	struct imds *m = s->m;
	char v[256], err[256];
	bool transport = false;

	s->req = NULL;
	m->id_pending--;
	if (status == 200 && error == NULL) {
		if (imds_parse_value(s->f, body, len, v, sizeof(v), err,
		        sizeof(err)) == 0) {
			util_strlcpy(m->vals[s->f], v, sizeof(m->vals[s->f]));
			m->got[s->f] = true;
			err[0] = '\0';
		}
	} else {
		/* A token refused with an HTTP status is an answer, not an
		 * unreachable service. */
		transport = status == 0 &&
		    (error == NULL || strncmp(error, "IMDS token:", 11) != 0);
		snprintf(err, sizeof(err), "%s%s%s",
		    status != 0 ? imds_field_paths[s->f] : "",
		    status != 0 ? ": " : "", error != NULL ? error : "failed");
	}
	/* Keep the first error of the round, but prefer a transport error
	 * (it explains the others). */
	if (err[0] != '\0' &&
	    (m->round_err[0] == '\0' || (transport && !m->round_transport))) {
		util_strlcpy(m->round_err, err, sizeof(m->round_err));
		m->round_transport = transport;
	}
	if (m->id_pending == 0)
		id_round_end(m);
}

static void
id_round(struct imds *m)
{
	if (m->id.valid || m->id_pending > 0)
		return;
	m->round_transport = false;
	m->round_err[0] = '\0';
	for (int f = 0; f < IMDS_FIELD_MAX; f++) {
		struct id_slot *s = &m->slots[f];

		if (m->got[f])
			continue;
		s->m = m;
		s->f = (enum imds_field)f;
		s->req = imds_get(m, imds_field_paths[f], id_done, s);
		if (s->req != NULL) {
			m->id_pending++;
		} else if (m->round_err[0] == '\0') {
			snprintf(m->round_err, sizeof(m->round_err),
			    "cannot start the request for %s",
			    imds_field_paths[f]);
			m->round_transport = true;
		}
	}
	if (m->id_pending == 0)
		id_round_end(m);
}

/* ------------------------------------------------------------------ */

struct imds *
imds_new(struct ev *ev, struct httpc *hc, const char *endpoint)
{
	struct imds *m = xcalloc(1, sizeof(*m));
	const char *ep, *mode;
	char err[200];

	m->ev = ev;
	m->hc = hc;
	imds_get_tuning(&m->tun);
	m->retry_timer = ev_timer_new(ev, retry_cb, m);
	m->notify_timer = ev_timer_new(ev, notify_cb, m);

	if (env_true("AWS_EC2_METADATA_DISABLED")) {
		snprintf(m->why_disabled, sizeof(m->why_disabled),
		    "disabled (AWS_EC2_METADATA_DISABLED)");
		log_info("IMDS disabled by AWS_EC2_METADATA_DISABLED");
		return m;
	}
	if (hc == NULL) {
		snprintf(m->why_disabled, sizeof(m->why_disabled),
		    "disabled (no HTTP client)");
		return m;
	}
	if (endpoint != NULL && *endpoint != '\0')
		ep = endpoint;
	else if ((ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")) != NULL &&
	    *ep != '\0')
		;
	else if ((mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")) !=
	        NULL &&
	    strcasecmp(mode, "IPv6") == 0)
		ep = DEFAULT_ENDPOINT_V6;
	else
		ep = DEFAULT_ENDPOINT;
	m->endpoint = endpoint_clean(ep, err, sizeof(err));
	if (m->endpoint == NULL) {
		log_err("IMDS endpoint %s; IMDS is not used", err);
		snprintf(m->why_disabled, sizeof(m->why_disabled),
		    "disabled (bad endpoint: %s)", err);
		return m;
	}
	m->enabled = true;
	/* Start at the next loop turn, after the caller's setup. */
	ev_timer_arm(m->retry_timer, 0);
	return m;
}

static void
imds_destroy(struct imds *m)
{
	while (m->reqs != NULL)
		imds_cancel(m->reqs);
	httpc_cancel(m->token_req);
	drop_token(m);
	ev_timer_free(m->retry_timer);
	ev_timer_free(m->notify_timer);
	free(m->endpoint);
	free(m);
}

void
imds_free(struct imds *m)
{
	if (m == NULL)
		return;
	if (m->busy > 0) {
		/* From one of our callbacks: finish when it returns. */
		m->dying = true;
		ev_timer_disarm(m->retry_timer);
		ev_timer_disarm(m->notify_timer);
		return;
	}
	imds_destroy(m);
}

bool
imds_enabled(const struct imds *m)
{
	return m != NULL && m->enabled;
}

const char *
imds_endpoint(const struct imds *m)
{
	return m != NULL && m->endpoint != NULL ? m->endpoint : "";
}

const struct imds_identity *
imds_identity(const struct imds *m)
{
	return &m->id;
}

void
imds_on_identity(struct imds *m, void (*cb)(void *arg), void *arg)
{
	m->id_cb = cb;
	m->id_arg = arg;
	m->id_notified = false;
	if (m->id.valid)
		ev_timer_arm(m->notify_timer, 0);
}

const char *
imds_state(const struct imds *m)
{
	static char buf[512];
	mono_ms now = util_now_ms();

	if (m == NULL)
		return "disabled";
	if (!m->enabled)
		return m->why_disabled;
	if (m->id.valid)
		return "ok";
	if (!m->failing) {
		snprintf(buf, sizeof(buf), "fetching the identity from %s",
		    m->endpoint);
		return buf;
	}
	if (m->id_pending > 0)
		snprintf(buf, sizeof(buf), "%s since %llu s, retrying now: %s",
		    m->failing_transport ? "unreachable" : "failing",
		    (unsigned long long)((now - m->failing_since) / 1000),
		    m->last_error);
	else
		snprintf(buf, sizeof(buf),
		    "%s since %llu s, retrying in %llu s: %s",
		    m->failing_transport ? "unreachable" : "failing",
		    (unsigned long long)((now - m->failing_since) / 1000),
		    (unsigned long long)(m->retry_at > now
		            ? (m->retry_at - now + 999) / 1000
		            : 0),
		    m->last_error);
	return buf;
}
