/* SPDX-License-Identifier: ISC */
/*
 * The AWS Query client: every call the agent makes to CloudWatch, Auto
 * Scaling, EC2 and SNS goes through here. A call encodes its form body once
 * (gzipped for large CloudWatch bodies), then each attempt signs it afresh with
 * the current credentials and the skew-corrected clock and sends it with httpc.
 * Replies are classified into success, clock skew (one corrected retry),
 * rejected credentials (creds_invalidate, no retry), retryable (standard-mode
 * backoff paid from a token bucket) and final errors; the policy is described
 * in aws.h.
 */
#include "config.h"

#include <sys/random.h>

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "aws.h"
#include "awsxml.h"
#include "log.h"
#include "sigv4.h"
#include "util.h"
#include "xmalloc.h"

#define DEFAULT_MAX_ATTEMPTS 3
#define MAX_MAX_ATTEMPTS 10
#define DEFAULT_TIMEOUT_MS 10000L
#define MAX_REPLY (1024 * 1024) /* DescribeAutoScalingGroups can be big */
#define GZIP_MIN 10240          /* request_min_compression_size_bytes */
#define BACKOFF_CAP_MS 20000L
#define BACKOFF_BASE_THROTTLE_MS 1000L
#define BACKOFF_BASE_TRANSIENT_MS 50L
#define RETRY_AFTER_EXTRA_MS 5000L
#define BUCKET_MAX 500
#define COST_THROTTLE 5
#define COST_TRANSIENT 14
#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

const char *const aws_service_names[AWS_SVC_MAX] = {
    [AWS_SVC_CLOUDWATCH] = "cloudwatch",
    [AWS_SVC_AUTOSCALING] = "autoscaling",
    [AWS_SVC_EC2] = "ec2",
    [AWS_SVC_SNS] = "sns",
};

static const struct svc {
	const char *signing; /* SigV4 service and endpoint prefix */
	const char *version;
	const char *env; /* AWS_ENDPOINT_URL_<serviceId> */
	bool gzip;       /* accepts Content-Encoding: gzip */
	bool ec2;        /* the ec2 protocol (else awsQuery) */
} svcs[AWS_SVC_MAX] = {
    [AWS_SVC_CLOUDWATCH] = {"monitoring", "2010-08-01",
        "AWS_ENDPOINT_URL_CLOUDWATCH", true, false},
    [AWS_SVC_AUTOSCALING] = {"autoscaling", "2011-01-01",
        "AWS_ENDPOINT_URL_AUTO_SCALING", false, false},
    [AWS_SVC_EC2] = {"ec2", "2016-11-15", "AWS_ENDPOINT_URL_EC2", false, true},
    [AWS_SVC_SNS] = {"sns", "2010-03-31", "AWS_ENDPOINT_URL_SNS", false, false},
};

struct aws {
	struct ev *ev;
	struct httpc *hc;
	struct creds *creds;
	char *region;
	char *endpoint_url;
	char *endpoints[AWS_SVC_MAX];
	char *resolved[AWS_SVC_MAX]; /* for aws_endpoint() */
	int max_attempts;
	long timeout_ms;
	bool no_gzip;
	long clock_offset; /* server - local, seconds */
	long last_skew;    /* from the last Date header seen */
	bool have_skew;
	int tokens; /* retry bucket */
	uint64_t rng;
	struct aws_call *calls;
};

struct kv {
	char *k, *v;
};

struct aws_params {
	struct kv *v;
	size_t n, cap;
};

struct aws_call {
	struct aws *a;
	enum aws_service svc;
	char *action;
	char *region; /* signing region of this call */
	char *url, *host, *path;
	char *body;
	size_t body_len;
	bool gzipped;
	aws_done_cb cb;
	void *arg;
	struct httpc_req *req;
	struct ev_timer *timer;
	int attempts;      /* sent so far */
	int retries;       /* standard retries scheduled */
	int last_cost;     /* tokens paid for the last retry */
	bool skew_retried; /* the one extra attempt for clock skew was used */
	bool in_cb;
	struct aws_result res;
	struct aws_call *prev, *next;
};

/* --- small pure helpers ------------------------------------------------- */

static bool
in_list(const char *code, const char *const *list)
{
	if (code == NULL)
		return false;
	for (; *list != NULL; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

bool
aws_retryable(int http_status, const char *code, bool *throttling)
{
	static const char *const throttle[] = {"Throttling",
	    "ThrottlingException", "ThrottledException",
	    "RequestThrottledException", "TooManyRequestsException",
	    "ProvisionedThroughputExceededException",
	    "TransactionInProgressException", "RequestLimitExceeded",
	    "BandwidthLimitExceeded", "LimitExceededException",
	    "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	    "EC2ThrottledException", NULL};
	static const char *const transient[] = {"RequestTimeout",
	    "RequestTimeoutException", "PriorRequestNotComplete", NULL};
	bool thr = in_list(code, throttle) || http_status == 429;

	if (throttling != NULL)
		*throttling = thr;
	return thr || http_status == 0 || http_status == 500 ||
	    http_status == 502 || http_status == 503 || http_status == 504 ||
	    in_list(code, transient);
}

bool
aws_tls_error(int curl_code)
{
	switch (curl_code) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return true;
	default:
		return false;
	}
}

bool
aws_is_clock_skew(const char *code, const char *message)
{
	static const char *const skew[] = {"RequestTimeTooSkewed",
	    "RequestExpired", "RequestInTheFuture", "InvalidSignatureException",
	    "AuthFailure", NULL};

	if (in_list(code, skew))
		return true;
	return code != NULL && strcmp(code, "SignatureDoesNotMatch") == 0 &&
	    message != NULL &&
	    (strstr(message, "Signature expired") != NULL ||
	        strstr(message, "Signature not yet current") != NULL);
}

bool
aws_is_auth_error(const char *code)
{
	static const char *const auth[] = {"InvalidClientTokenId",
	    "SignatureDoesNotMatch", "UnrecognizedClientException",
	    "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId",
	    "InvalidToken", "TokenRefreshRequired", "AuthFailure",
	    "InvalidSignatureException", NULL};

	return in_list(code, auth);
}

static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

long long
aws_parse_http_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31};
	struct tm tm;
	int day, mon = -1, year, hh, mm, ss;
	time_t t;

	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	/* An optional "Sun, ". */
	if (isalpha((unsigned char)s[0]) && s[1] != '\0' && s[2] != '\0' &&
	    s[3] == ',' && s[4] == ' ')
		s += 5;
	/* "06 Nov 1994 08:49:37 GMT" */
	if (strlen(s) < 24 || s[2] != ' ' || s[6] != ' ' || s[11] != ' ' ||
	    s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    strncmp(s + 21, "GMT", 3) != 0)
		return -1;
	for (const char *p = s + 24; *p != '\0'; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return -1;
	for (int i = 0; i < 12; i++)
		if (strncmp(s + 3, months + 3 * i, 3) == 0)
			mon = i;
	day = digits(s, 2);
	year = digits(s + 7, 4);
	hh = digits(s + 12, 2);
	mm = digits(s + 15, 2);
	ss = digits(s + 18, 2);
	if (mon < 0 || day < 1 || day > mdays[mon] || year < 1970 || hh < 0 ||
	    hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss == 60 ? 59 : ss;
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != day)
		return -1; /* 29 Feb in a common year */
	return (long long)t;
}

static bool
env_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcasecmp(v, "true") == 0;
}

static const char *
nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

char *
aws_resolve_endpoint(enum aws_service s, const char *region,
    const char *service_option, const char *endpoint_url_option)
{
	const char *v = NULL, *suffix = "amazonaws.com";

	if ((unsigned)s >= AWS_SVC_MAX)
		return NULL;
	if (!env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
		if ((v = nonempty(service_option)) == NULL &&
		    (v = nonempty(getenv(svcs[s].env))) == NULL &&
		    (v = nonempty(endpoint_url_option)) == NULL)
			v = nonempty(getenv("AWS_ENDPOINT_URL"));
	}
	if (v != NULL)
		return xstrdup(v);
	if (region == NULL || *region == '\0')
		return NULL;
	if (strncmp(region, "cn-", 3) == 0)
		suffix = "amazonaws.com.cn";
	else if (strncmp(region, "us-isob-", 8) == 0)
		suffix = "sc2s.sgov.gov";
	else if (strncmp(region, "us-iso-", 7) == 0)
		suffix = "c2s.ic.gov";
	return xasprintf("https://%s.%s.%s", svcs[s].signing, region, suffix);
}

/* The error paths of the two protocols, the service's own first. */
static const char *const err_paths[2][3] = {
    /* awsQuery */
    {"ErrorResponse/Error/Code", "ErrorResponse/Error/Message",
        "ErrorResponse/RequestId"},
    /* ec2 */
    {"Response/Errors/Error/Code", "Response/Errors/Error/Message",
        "Response/RequestID"},
};

bool
aws_parse_error(enum aws_service s, const char *body, size_t len, char *code,
    size_t codelen, char *message, size_t msglen, char *request_id,
    size_t idlen)
{
	int first = (unsigned)s < AWS_SVC_MAX && svcs[s].ec2 ? 1 : 0;

	if (codelen > 0)
		code[0] = '\0';
	if (message != NULL && msglen > 0)
		message[0] = '\0';
	if (request_id != NULL && idlen > 0)
		request_id[0] = '\0';
	if (body == NULL || codelen == 0)
		return false;
	for (int i = 0; i < 2; i++) {
		const char *const *p = err_paths[i == 0 ? first : !first];

		if (!awsxml_text(body, len, p[0], code, codelen) ||
		    code[0] == '\0')
			continue;
		if (message != NULL && msglen > 0)
			awsxml_text(body, len, p[1], message, msglen);
		if (request_id != NULL && idlen > 0)
			awsxml_text(body, len, p[2], request_id, idlen);
		return true;
	}
	/* Anything with an Error/Code (S3-style <Error> at the top). */
	if (awsxml_text(body, len, "Error/Code", code, codelen) &&
	    code[0] != '\0') {
		if (message != NULL && msglen > 0)
			awsxml_text(body, len, "Error/Message", message,
			    msglen);
		return true;
	}
	code[0] = '\0';
	return false;
}

bool
aws_parse_request_id(enum aws_service s, const char *body, size_t len,
    char *out, size_t outlen)
{
	bool ec2 = (unsigned)s < AWS_SVC_MAX && svcs[s].ec2;
	const char *path = ec2 ? "requestId" : "ResponseMetadata/RequestId";

	if (outlen == 0)
		return false;
	out[0] = '\0';
	if (body == NULL)
		return false;
	return awsxml_text(body, len, path, out, outlen) && out[0] != '\0';
}

long
aws_backoff_ms(int n, bool throttling, double r)
{
	long cap =
	    throttling ? BACKOFF_BASE_THROTTLE_MS : BACKOFF_BASE_TRANSIENT_MS;

	for (int i = 1; i < n && cap < BACKOFF_CAP_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	if (r < 0 || r >= 1)
		r = 0;
	return (long)(r * (double)cap);
}

/*
 * Split an endpoint URL into the Host header value (the authority without
 * a default port, as curl sends it) and the path ("/" if none). Only
 * http(s), no user info, query or fragment.
 */
static int
parse_endpoint(const char *url, char **host, char **path, char *err,
    size_t errlen)
{
	const char *p, *auth, *slash, *port = NULL;
	bool https;
	size_t alen;

	if (strncasecmp(url, "https://", 8) == 0) {
		https = true;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		https = false;
		auth = url + 7;
	} else {
		snprintf(err, errlen, "not an http(s) URL");
		return -1;
	}
	slash = strchr(auth, '/');
	alen = slash != NULL ? (size_t)(slash - auth) : strlen(auth);
	if (alen == 0) {
		snprintf(err, errlen, "no host");
		return -1;
	}
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' ||
		    *p == '#' || (p < auth + alen && p >= auth && *p == '@')) {
			snprintf(err, errlen,
			    "user info, query, fragment, spaces or control "
			    "characters are not allowed");
			return -1;
		}
	/* The port follows the last ':' after any IPv6 literal. */
	p = auth[0] == '[' ? memchr(auth, ']', alen) : auth;
	if (p == NULL) {
		snprintf(err, errlen, "unterminated IPv6 literal");
		return -1;
	}
	for (const char *q = p; q < auth + alen; q++)
		if (*q == ':')
			port = q;
	if (port != NULL) {
		const char *d = port + 1;
		long v = 0;

		if (d == auth + alen) {
			snprintf(err, errlen, "empty port");
			return -1;
		}
		for (; d < auth + alen; d++) {
			if (*d < '0' || *d > '9' || v > 65535) {
				snprintf(err, errlen, "bad port");
				return -1;
			}
			v = v * 10 + (*d - '0');
		}
		if (v < 1 || v > 65535) {
			snprintf(err, errlen, "bad port");
			return -1;
		}
		if ((https && v == 443) || (!https && v == 80))
			alen = (size_t)(port - auth);
	}
	if (port == auth) {
		snprintf(err, errlen, "no host");
		return -1;
	}
	*host = xstrndup(auth, alen);
	*path = xstrdup(slash != NULL ? slash : "/");
	return 0;
}

/* The value of header name in a raw header block, trimmed. */
static bool
header_value(const char *block, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);

	if (block == NULL)
		return false;
	for (const char *l = block; *l != '\0';) {
		const char *eol = strchr(l, '\n');
		size_t len = eol != NULL ? (size_t)(eol - l) : strlen(l);

		if (len > nlen && strncasecmp(l, name, nlen) == 0 &&
		    l[nlen] == ':') {
			const char *v = l + nlen + 1, *e = l + len;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v &&
			    (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if ((size_t)(e - v) >= outlen)
				return false;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = '\0';
			return true;
		}
		if (eol == NULL)
			break;
		l = eol + 1;
	}
	return false;
}

/* --- parameters --------------------------------------------------------- */

struct aws_params *
aws_params_new(void)
{
	return xcalloc(1, sizeof(struct aws_params));
}

void
aws_params_add(struct aws_params *p, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *v;
	int n;

	if (p == NULL || key == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	v = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(v, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (p->n == p->cap) {
		p->cap = p->cap > 0 ? p->cap * 2 : 16;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n].k = xstrdup(key);
	p->v[p->n].v = v;
	p->n++;
}

void
aws_params_free(struct aws_params *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].k);
		free(p->v[i].v);
	}
	free(p->v);
	free(p);
}

/*
 * Form-encode s[0..n) into out (NULL: just count) the way botocore does
 * (Python's quote_plus): letters, digits and "_.-~" as they are, space as
 * "+", every other byte as %XX. The body is signed as opaque bytes, so
 * %20 would do for AWS, but servers that re-encode the parsed form to
 * check the signature (moto) only agree with the botocore bytes. Returns
 * the encoded length.
 */
static size_t
form_encode(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		    ch == '-' || ch == '~') {
			if (out != NULL)
				out[o] = (char)ch;
			o++;
		} else if (ch == ' ') {
			if (out != NULL)
				out[o] = '+';
			o++;
		} else {
			if (out != NULL) {
				out[o] = '%';
				out[o + 1] = hex[ch >> 4];
				out[o + 2] = hex[ch & 15];
			}
			o += 3;
		}
	}
	return o;
}

static void
form_add(char **buf, size_t *len, size_t *cap, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);
	size_t ke = form_encode(k, kl, NULL);
	size_t ve = form_encode(v, vl, NULL);
	size_t need = *len + (*len > 0) + ke + 1 + ve + 1;

	if (need > *cap) {
		while (need > *cap)
			*cap = *cap > 0 ? *cap * 2 : 256;
		*buf = xreallocarray(*buf, *cap, 1);
	}
	if (*len > 0)
		(*buf)[(*len)++] = '&';
	*len += form_encode(k, kl, *buf + *len);
	(*buf)[(*len)++] = '=';
	*len += form_encode(v, vl, *buf + *len);
	(*buf)[*len] = '\0';
}

char *
aws_params_encode(const struct aws_params *p, const char *action,
    const char *version, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;

	form_add(&buf, &n, &cap, "Action", action);
	form_add(&buf, &n, &cap, "Version", version);
	for (size_t i = 0; p != NULL && i < p->n; i++)
		form_add(&buf, &n, &cap, p->v[i].k, p->v[i].v);
	if (len != NULL)
		*len = n;
	return buf;
}

/* --- the client --------------------------------------------------------- */

static bool
region_ok(const char *r)
{
	if (r == NULL || *r == '\0' || strlen(r) > 40)
		return false;
	for (; *r != '\0'; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
		        *r == '-'))
			return false;
	return true;
}

static double
rand01(struct aws *a)
{
	/* xorshift64*; seeded from getrandom() in aws_new. */
	a->rng ^= a->rng >> 12;
	a->rng ^= a->rng << 25;
	a->rng ^= a->rng >> 27;
	return (double)((a->rng * 2685821657736338717ULL) >> 11) /
	    9007199254740992.0;
}

void
aws_set_region(struct aws *a, const char *region)
{
	if (region == NULL || *region == '\0')
		return;
	if (!region_ok(region)) {
		log_warn("aws: ignoring bad region \"%s\"", region);
		return;
	}
	free(a->region);
	a->region = xstrdup(region);
}

void
aws_opts_from_conf(struct aws_opts *o, const struct conf *c)
{
	memset(o, 0, sizeof(*o));
	o->region = c->aws_region;
	o->endpoint_url = c->aws_endpoint_url;
	o->max_attempts = c->aws_max_attempts;
	o->timeout_ms = (long)util_sec_to_ms(c->aws_timeout);
	o->no_gzip = !c->cw_gzip;
	o->endpoints[AWS_SVC_CLOUDWATCH] = c->aws_cloudwatch_endpoint;
	o->endpoints[AWS_SVC_AUTOSCALING] = c->aws_autoscaling_endpoint;
	o->endpoints[AWS_SVC_EC2] = c->aws_ec2_endpoint;
	o->endpoints[AWS_SVC_SNS] = c->aws_sns_endpoint;
}

struct aws *
aws_new(struct ev *ev, struct httpc *hc, struct creds *creds,
    const struct aws_opts *o)
{
	struct aws *a = xcalloc(1, sizeof(*a));

	a->ev = ev;
	a->hc = hc;
	a->creds = creds;
	a->max_attempts = DEFAULT_MAX_ATTEMPTS;
	a->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (o != NULL) {
		if (o->max_attempts > 0)
			a->max_attempts = o->max_attempts > MAX_MAX_ATTEMPTS
			    ? MAX_MAX_ATTEMPTS
			    : o->max_attempts;
		if (o->timeout_ms > 0)
			a->timeout_ms = o->timeout_ms;
		a->no_gzip = o->no_gzip;
		if (nonempty(o->endpoint_url) != NULL)
			a->endpoint_url = xstrdup(o->endpoint_url);
		for (int s = 0; s < AWS_SVC_MAX; s++)
			if (nonempty(o->endpoints[s]) != NULL)
				a->endpoints[s] = xstrdup(o->endpoints[s]);
		aws_set_region(a, o->region);
	}
	a->tokens = BUCKET_MAX;
	if (getrandom(&a->rng, sizeof(a->rng), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(a->rng))
		a->rng = (uint64_t)util_wall_ms() ^ ((uint64_t)getpid() << 32);
	if (a->rng == 0)
		a->rng = 0x9e3779b97f4a7c15ULL;
	return a;
}

void
aws_free(struct aws *a)
{
	if (a == NULL)
		return;
	while (a->calls != NULL)
		aws_cancel(a->calls);
	free(a->region);
	free(a->endpoint_url);
	for (int s = 0; s < AWS_SVC_MAX; s++) {
		free(a->endpoints[s]);
		free(a->resolved[s]);
	}
	free(a);
}

const char *
aws_region(const struct aws *a)
{
	return a->region != NULL ? a->region : "";
}

const char *
aws_endpoint(const struct aws *a, enum aws_service s)
{
	struct aws *m = (struct aws *)(uintptr_t)a; /* a cache, not state */

	if ((unsigned)s >= AWS_SVC_MAX)
		return NULL;
	free(m->resolved[s]);
	m->resolved[s] = aws_resolve_endpoint(s, a->region, a->endpoints[s],
	    a->endpoint_url);
	return m->resolved[s];
}

long
aws_clock_offset(const struct aws *a)
{
	return a->clock_offset;
}

static void
unlink_call(struct aws_call *c)
{
	struct aws *a = c->a;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (a->calls == c)
		a->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void
call_free(struct aws_call *c)
{
	httpc_cancel(c->req);
	ev_timer_free(c->timer);
	free(c->action);
	free(c->region);
	free(c->url);
	free(c->host);
	free(c->path);
	free(c->body);
	free(c);
}

void
aws_cancel(struct aws_call *c)
{
	if (c == NULL || c->in_cb)
		return;
	unlink_call(c);
	call_free(c);
}

static void set_error(struct aws_call *c, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
set_error(struct aws_call *c, const char *code, const char *fmt, ...)
{
	va_list ap;

	util_strlcpy(c->res.code, code, sizeof(c->res.code));
	va_start(ap, fmt);
	vsnprintf(c->res.message, sizeof(c->res.message), fmt, ap);
	va_end(ap);
}

/* Deliver the result and free the call. */
static void
finish(struct aws_call *c, bool ok)
{
	struct aws *a = c->a;
	const char *svc = aws_service_names[c->svc];

	c->res.ok = ok;
	c->res.attempts = c->attempts;
	if (ok) {
		c->res.code[0] = c->res.message[0] = '\0';
		/* Bucket: a first-try success refills 1, a success after
		 * retries refunds the last retry's cost. */
		a->tokens += c->retries == 0 ? 1 : c->last_cost;
		if (a->tokens > BUCKET_MAX)
			a->tokens = BUCKET_MAX;
		log_debug("aws: %s %s ok (HTTP %d, attempt %d)", svc, c->action,
		    c->res.http_status, c->attempts);
	} else {
		/* The caller reports the outcome (with its own rate limit);
		 * rejected credentials are logged by creds_invalidate(). */
		log_debug("aws: %s %s failed after %d attempt%s: %s%s%s%s", svc,
		    c->action, c->attempts, c->attempts == 1 ? "" : "s",
		    c->res.code, c->res.message[0] != '\0' ? ": " : "",
		    c->res.message,
		    c->res.auth_error ? " (credentials rejected)" : "");
	}
	unlink_call(c);
	c->in_cb = true;
	c->cb(&c->res, c->arg);
	c->req = NULL; /* finished, or never sent */
	call_free(c);
}

static void send_attempt(struct aws_call *c);

static void
timer_cb(void *arg)
{
	struct aws_call *c = arg;

	if (c->url == NULL) {
		finish(c, false);
	} else {
		send_attempt(c);
	}
}

static void
http_cb(const struct httpc_resp *resp, void *arg)
{
	struct aws_call *c = arg;
	struct aws *a = c->a;
	struct aws_result *r = &c->res;
	const char *svc = aws_service_names[c->svc];
	char date[64], ra[32];
	long long server = -1, retry_after = -1;
	bool retry, throttling = false, skew;
	int cost;
	long delay;

	c->req = NULL;
	memset(r, 0, sizeof(*r));
	r->http_status = (int)resp->status;
	r->attempts = c->attempts;
	if (header_value(resp->headers, "Date", date, sizeof(date)) &&
	    (server = aws_parse_http_date(date)) >= 0) {
		a->last_skew = (long)(server - (long long)time(NULL));
		a->have_skew = true;
	}
	if (header_value(resp->headers, "x-amz-retry-after", ra, sizeof(ra))) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(ra, &end, 10);
		if (errno == 0 && end != ra && *end == '\0' && v >= 0)
			retry_after = v;
	}

	if (resp->curl_code != 0 && aws_tls_error(resp->curl_code)) {
		/* A certificate that does not verify will not verify 50 ms
		 * later either: no retries within the call; the caller tries
		 * again at its own pace (the next flush, recheck, ...).
		 * Verification is never turned off. */
		r->http_status = 0;
		set_error(c, "TLSError", "%s",
		    resp->error != NULL ? resp->error : "TLS failure");
		log_debug("aws: %s %s attempt %d: TLS failure, not retried: %s",
		    svc, c->action, c->attempts, r->message);
		finish(c, false);
		return;
	} else if (resp->curl_code != 0) {
		r->http_status = 0;
		set_error(c,
		    resp->timed_out     ? "Timeout"
		        : resp->refused ? "ConnectionRefused"
		                        : "ConnectionError",
		    "%s",
		    resp->error != NULL ? resp->error : "transport error");
	} else if (resp->status >= 200 && resp->status < 300) {
		r->body = resp->body;
		r->body_len = resp->body_len;
		if (!header_value(resp->headers, "x-amzn-RequestId",
		        r->request_id, sizeof(r->request_id)))
			aws_parse_request_id(c->svc, resp->body, resp->body_len,
			    r->request_id, sizeof(r->request_id));
		finish(c, true);
		return;
	} else {
		char rid[sizeof(r->request_id)];

		r->body = resp->body;
		r->body_len = resp->body_len;
		if (!aws_parse_error(c->svc, resp->body, resp->body_len,
		        r->code, sizeof(r->code), r->message,
		        sizeof(r->message), rid, sizeof(rid)))
			snprintf(r->code, sizeof(r->code), "HTTP %ld",
			    resp->status);
		if (!header_value(resp->headers, "x-amzn-RequestId",
		        r->request_id, sizeof(r->request_id)))
			util_strlcpy(r->request_id, rid, sizeof(r->request_id));
	}
	log_debug("aws: %s %s attempt %d: HTTP %d %s", svc, c->action,
	    c->attempts, r->http_status, r->code);

	/* Clock skew: correct from Date and try once more, at once. */
	skew = r->http_status != 0 && aws_is_clock_skew(r->code, r->message);
	if (skew && !c->skew_retried && a->have_skew) {
		c->skew_retried = true;
		log_warn("aws: %s %s: %s; the local clock is %ld s %s the "
		         "service's, correcting",
		    svc, c->action, r->code, labs(a->last_skew),
		    a->last_skew >= 0 ? "behind" : "ahead of");
		a->clock_offset = a->last_skew;
		r->body = NULL;
		r->body_len = 0;
		ev_timer_arm(c->timer, 0);
		return;
	}
	/* Rejected credentials: never retried here. A SignatureDoesNotMatch
	 * that says "expired" is the clock, not the key. */
	if (r->http_status != 0 && aws_is_auth_error(r->code) &&
	    !(skew && strcmp(r->code, "SignatureDoesNotMatch") == 0)) {
		r->auth_error = true;
		creds_invalidate(a->creds, r->code);
		finish(c, false);
		return;
	}
	retry = aws_retryable(r->http_status, r->code, &throttling);
	r->throttled = throttling;
	if (!retry ||
	    c->attempts - (c->skew_retried ? 1 : 0) >= a->max_attempts) {
		finish(c, false);
		return;
	}
	cost = throttling ? COST_THROTTLE : COST_TRANSIENT;
	if (a->tokens < cost) {
		log_debug("aws: %s %s: retry quota exhausted (%d left)", svc,
		    c->action, a->tokens);
		finish(c, false);
		return;
	}
	a->tokens -= cost;
	c->last_cost = cost;
	c->retries++;
	delay = aws_backoff_ms(c->retries, throttling, rand01(a));
	if (retry_after >= 0) {
		long long lim = (long long)delay + RETRY_AFTER_EXTRA_MS;
		long long want = retry_after < lim ? retry_after : lim;

		if (want > delay)
			delay = (long)want;
	}
	log_debug("aws: %s %s: retrying in %ld ms (%s)", svc, c->action, delay,
	    r->code);
	r->body = NULL;
	r->body_len = 0;
	ev_timer_arm(c->timer, (mono_ms)delay);
}

static void
send_attempt(struct aws_call *c)
{
	struct aws *a = c->a;
	const struct aws_creds *cr = creds_get(a->creds);
	const char *sign_hdrs[3], *hdrs[8];
	struct sigv4_key key;
	struct sigv4_input in;
	struct sigv4_output out;
	struct httpc_opts o;
	char *host_h, *date_h, *auth_h, *token_h = NULL;
	size_t nh = 0, ns = 0, token_len = 0;

	if (cr == NULL) {
		set_error(c, "NoCredentials", "no AWS credentials available");
		finish(c, false);
		return;
	}
	if (c->region == NULL) {
		set_error(c, "NoRegion", "the AWS region is not known");
		finish(c, false);
		return;
	}
	sign_hdrs[ns++] = "Content-Type: " FORM_TYPE;
	if (c->gzipped)
		sign_hdrs[ns++] = "Content-Encoding: gzip";
	sign_hdrs[ns] = NULL;
	key.access_key_id = cr->access_key_id;
	key.secret_access_key = cr->secret_access_key;
	key.session_token = cr->session_token;
	memset(&in, 0, sizeof(in));
	in.method = "POST";
	in.host = c->host;
	in.path = c->path;
	in.headers = sign_hdrs;
	in.payload = c->body;
	in.payload_len = c->body_len;
	in.region = c->region;
	in.service = svcs[c->svc].signing;
	in.when = time(NULL) + a->clock_offset;
	if (sigv4_sign(&in, &key, &out) < 0) {
		set_error(c, "SigningFailed",
		    "could not sign the request (bad credentials or region?)");
		finish(c, false);
		return;
	}
	host_h = xasprintf("Host: %s", c->host);
	date_h = xasprintf("X-Amz-Date: %s", out.amz_date);
	auth_h = xasprintf("Authorization: %s", out.authorization);
	hdrs[nh++] = host_h;
	for (size_t i = 0; i < ns; i++)
		hdrs[nh++] = sign_hdrs[i];
	hdrs[nh++] = date_h;
	if (key.session_token != NULL && *key.session_token != '\0') {
		token_h =
		    xasprintf("X-Amz-Security-Token: %s", key.session_token);
		token_len = strlen(token_h) + 1;
		hdrs[nh++] = token_h;
	}
	hdrs[nh++] = auth_h;
	hdrs[nh] = NULL;
	sigv4_output_free(&out);

	memset(&o, 0, sizeof(o));
	o.method = "POST";
	o.url = c->url;
	o.headers = hdrs;
	o.body = c->body;
	o.body_len = c->body_len;
	o.timeout_ms = a->timeout_ms;
	o.max_body = MAX_REPLY;
	c->attempts++;
	log_debug("aws: %s %s attempt %d/%d to %s", aws_service_names[c->svc],
	    c->action, c->attempts, a->max_attempts, c->url);
	c->req = httpc_request(a->hc, &o, http_cb, c);
	free(host_h);
	free(date_h);
	free(auth_h);
	if (token_h != NULL)
		xfreezero(token_h, token_len);
	if (c->req == NULL) {
		set_error(c, "ConnectionError", "the request could not start");
		finish(c, false);
	}
}

static void
gzip_body(struct aws_call *c)
{
	z_stream z;
	uLong bound;
	unsigned char *out;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	        Z_DEFAULT_STRATEGY) != Z_OK) {
		log_debug("aws: deflateInit2 failed; sending uncompressed");
		return;
	}
	bound = deflateBound(&z, (uLong)c->body_len) + 32;
	out = xmalloc(bound);
	z.next_in = (unsigned char *)c->body;
	z.avail_in = (uInt)c->body_len;
	z.next_out = out;
	z.avail_out = (uInt)bound;
	rc = deflate(&z, Z_FINISH);
	if (rc == Z_STREAM_END) {
		free(c->body);
		c->body = (char *)out;
		c->body_len = z.total_out;
		c->gzipped = true;
	} else {
		log_debug("aws: deflate failed (%d); sending uncompressed", rc);
		free(out);
	}
	deflateEnd(&z);
}

struct aws_call *
aws_query(struct aws *a, enum aws_service s, const char *action,
    struct aws_params *p, aws_done_cb cb, void *arg)
{
	return aws_query_region(a, NULL, s, action, p, cb, arg);
}

struct aws_call *
aws_query_region(struct aws *a, const char *region, enum aws_service s,
    const char *action, struct aws_params *p, aws_done_cb cb, void *arg)
{
	struct aws_call *c;
	char *url, err[128];

	if (region == NULL || *region == '\0')
		region = a->region;
	if ((unsigned)s >= AWS_SVC_MAX || action == NULL || cb == NULL ||
	    !region_ok(region) || creds_get(a->creds) == NULL) {
		aws_params_free(p);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->a = a;
	c->svc = s;
	c->region = xstrdup(region);
	c->action = xstrdup(action);
	c->cb = cb;
	c->arg = arg;
	c->timer = ev_timer_new(a->ev, timer_cb, c);
	c->body = aws_params_encode(p, action, svcs[s].version, &c->body_len);
	aws_params_free(p);
	if (svcs[s].gzip && !a->no_gzip && c->body_len >= GZIP_MIN &&
	    c->body_len <= (size_t)UINT32_MAX / 2)
		gzip_body(c);
	c->next = a->calls;
	if (a->calls != NULL)
		a->calls->prev = c;
	a->calls = c;

	url = aws_resolve_endpoint(s, c->region, a->endpoints[s],
	    a->endpoint_url);
	if (url == NULL ||
	    parse_endpoint(url, &c->host, &c->path, err, sizeof(err)) < 0) {
		/* Fails from the timer (c->url stays NULL), never inside
		 * aws_query. */
		set_error(c, "InvalidEndpoint", "%s endpoint \"%s\": %s",
		    aws_service_names[s], url != NULL ? url : "",
		    url != NULL ? err : "none");
		free(url);
		ev_timer_arm(c->timer, 0);
		return c;
	}
	c->url = url;
	ev_timer_arm(c->timer, 0);
	return c;
}
