/* SPDX-License-Identifier: ISC */
/*
 * Outbound HTTP on the event loop: a libcurl multi handle driven by
 * curl_multi_socket_action from ev fds and one ev timer. Requests never
 * block the loop; each ends in exactly one completion callback (unless
 * cancelled first). Responses are capped in size.
 */
#ifndef HTTPC_H
#define HTTPC_H

#include <stdbool.h>
#include <stddef.h>

#include "ev.h"

struct httpc;
struct httpc_req;

/* The outcome of a request; its pointers are valid only during the callback. */
struct httpc_resp {
	int curl_code;     /* CURLcode; 0 = transfer completed */
	const char *error; /* curl's error text when curl_code != 0 */
	bool timed_out;    /* CURLE_OPERATION_TIMEDOUT */
	bool refused;      /* connection refused */
	long status;       /* HTTP status, 0 if none */
	const char *body;  /* NUL-terminated, possibly truncated */
	size_t body_len;
	bool truncated;      /* body exceeded max_body */
	const char *headers; /* raw response header block, NUL-terminated */
	double total_ms;     /* total time */
};

typedef void (*httpc_done_cb)(const struct httpc_resp *resp, void *arg);

struct httpc_opts {
	const char *method; /* "GET" default; "PUT", "POST", "HEAD" */
	const char *url;
	const char *const
	    *headers;     /* "Name: value", NULL-terminated, or NULL */
	const void *body; /* request body, may be NULL */
	size_t body_len;
	long timeout_ms;         /* whole transfer; 0 = no limit */
	long connect_timeout_ms; /* 0 = same as timeout_ms */
	size_t max_body;         /* response cap; 0 = 64 KiB */
	bool insecure;           /* skip TLS verification */
	bool no_proxy;           /* ignore http_proxy & co. (for IMDS) */
};

struct httpc *httpc_new(struct ev *ev);
void httpc_free(struct httpc *hc);
/* Start a request; NULL on immediate failure (logged). The options are
 * copied. cb runs from the loop, never from inside httpc_request. */
struct httpc_req *httpc_request(struct httpc *hc, const struct httpc_opts *o,
    httpc_done_cb cb, void *arg);
/* Abort a request; its callback will not run. NULL is a no-op. */
void httpc_cancel(struct httpc_req *r);
/* Requests in flight. */
size_t httpc_active(const struct httpc *hc);

#endif
