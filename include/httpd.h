/* SPDX-License-Identifier: ISC */
/*
 * The health endpoint's HTTP/1.1 server on the event loop. It owns the
 * connections (keep-alive, pipelining, limits, timeouts) and answers every
 * request from a handler that must not block: the handler reads cached
 * state and fills a response. Errors in the request get 400/405/414/431/
 * 501/505 without reaching the handler, and the connection is closed.
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <sys/socket.h>

#include <stddef.h>

#include "ev.h"
#include "http_parse.h"

struct httpd;

struct httpd_resp {
	int status;               /* e.g. 200, 503, 404 */
	const char *content_type; /* static string; default application/json */
	char *body;               /* malloc'd by the handler; httpd frees it */
	size_t body_len;
	const char *allow;        /* value of an Allow: header, or NULL */
};

/* Fill resp for req. peer is the client address. */
typedef void (*httpd_handler)(const struct http_request *req,
    const struct sockaddr *peer, struct httpd_resp *resp, void *arg);

struct httpd_limits {
	int max_connections;  /* extra connections are closed at accept */
	mono_ms header_timeout; /* to receive one whole request head */
	mono_ms idle_timeout;   /* keep-alive idle between requests */
};

/* Bind and listen; returns the fd or -1 with a message in err. */
int httpd_listen(const struct sockaddr *sa, socklen_t len, char *err,
    size_t errlen);
/* Serve on an already listening fd (which httpd then owns). */
struct httpd *httpd_new(struct ev *ev, int listen_fd,
    const struct httpd_limits *lim, httpd_handler handler, void *arg);
void httpd_set_limits(struct httpd *d, const struct httpd_limits *lim);
/* Take the listening fd back (for reload), leaving connections alone. */
int httpd_listen_fd(const struct httpd *d);
void httpd_free(struct httpd *d);
/* Counters for /status and /metrics. */
struct httpd_stats {
	unsigned long accepted, requests, rejected, errors_4xx, timeouts;
	int open;
};
void httpd_stats(const struct httpd *d, struct httpd_stats *out);

#endif
