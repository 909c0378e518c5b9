/* SPDX-License-Identifier: ISC */
/*
 * The http check: one GET per run through the shared httpc client, with the
 * configured headers. The run passes when the status is one of
 * expect_status and, if expect_body is set, the (capped) body contains it.
 * curl's own timeout is set a little below the check timeout, so that curl
 * normally ends the transfer first and the detail can say how far the app
 * got: "no response" (accepted, or not even that, but nothing came back) or
 * "headers received (HTTP 200), body stalled" (a hang in the middle of a
 * response). The runner's deadline still bounds every run; either way the
 * reason is TIMEOUT, which is how an app too slow for its timeout (hung or
 * overloaded alike) is told from one that refuses connections (REFUSED) or
 * answers wrongly (STATUS, BODY).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "check_http.h"
#include "httpc.h"
#include "xmalloc.h"

/* curl's timeout is the check timeout minus this much (if that leaves at
 * least as much again). */
#define CURL_EARLY_MS 20

struct http_priv {
	struct httpc_req *req;
	mono_ms timeout_ms;
};

static int
http_init(struct check *c)
{
	struct http_priv *p = xcalloc(1, sizeof(*p));

	p->timeout_ms = util_sec_to_ms(check_conf(c)->timeout);
	check_set_priv(c, p);
	return 0;
}

static bool
status_expected(const struct conf_check *cc, long status)
{
	if (cc->n_expect_status == 0)
		return status == 200;
	for (size_t i = 0; i < cc->n_expect_status; i++)
		if (cc->expect_status[i] == status)
			return true;
	return false;
}

static void
http_done(const struct httpc_resp *r, void *arg)
{
	struct check *c = arg;
	struct http_priv *p = check_priv(c);
	const struct conf_check *cc = check_conf(c);

	p->req = NULL;
	if (r->curl_code != 0) {
		if (r->timed_out && r->status > 0)
			check_done(c, false, HEALTH_R_TIMEOUT,
			    "timeout after %llu ms: headers received (HTTP "
			    "%ld), body stalled",
			    (unsigned long long)p->timeout_ms, r->status);
		else if (r->timed_out)
			check_done(c, false, HEALTH_R_TIMEOUT,
			    "timeout after %llu ms: no response",
			    (unsigned long long)p->timeout_ms);
		else if (r->refused)
			check_done(c, false, HEALTH_R_REFUSED,
			    "connection refused");
		else
			check_done(c, false, HEALTH_R_CONNECT, "%s", r->error);
		return;
	}
	if (!status_expected(cc, r->status)) {
		check_done(c, false, HEALTH_R_STATUS, "status %ld", r->status);
		return;
	}
	if (cc->expect_body != NULL && *cc->expect_body != '\0' &&
	    memmem(r->body, r->body_len, cc->expect_body,
	        strlen(cc->expect_body)) == NULL) {
		check_done(c, false, HEALTH_R_BODY, "body lacks \"%.60s\"%s",
		    cc->expect_body, r->truncated ? " (body truncated)" : "");
		return;
	}
	check_done(c, true, HEALTH_R_OK, "status %ld", r->status);
}

static void
http_start(struct check *c)
{
	struct http_priv *p = check_priv(c);
	const struct conf_check *cc = check_conf(c);
	const char *hdrs[CONF_MAX_HEADERS + 1];
	struct httpc_opts o;
	size_t n = 0;

	for (size_t i = 0; i < cc->n_headers && i < CONF_MAX_HEADERS; i++)
		hdrs[n++] = cc->headers[i];
	hdrs[n] = NULL;
	memset(&o, 0, sizeof(o));
	o.method = "GET";
	o.url = cc->url;
	o.headers = hdrs;
	o.timeout_ms = p->timeout_ms >= 2 * CURL_EARLY_MS
	    ? (long)p->timeout_ms - CURL_EARLY_MS
	    : (long)p->timeout_ms;
	o.connect_timeout_ms = o.timeout_ms;
	o.insecure = cc->insecure;
	p->req = httpc_request(check_env(c)->httpc, &o, http_done, c);
	if (p->req == NULL)
		check_done(c, false, HEALTH_R_ERROR,
		    "cannot start request to %.100s", cc->url);
}

static void
http_cancel(struct check *c)
{
	struct http_priv *p = check_priv(c);

	httpc_cancel(p->req);
	p->req = NULL;
}

static void
http_fini(struct check *c)
{
	struct http_priv *p = check_priv(c);

	if (p == NULL)
		return;
	httpc_cancel(p->req);
	free(p);
	check_set_priv(c, NULL);
}

const struct check_ops check_http_ops = {
    .init = http_init,
    .start = http_start,
    .cancel = http_cancel,
    .fini = http_fini,
};
