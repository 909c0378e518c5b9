/* SPDX-License-Identifier: ISC */
/*
 * The health endpoint's HTTP/1.1 server on the event loop. It owns the
 * connections (keep-alive, pipelining, limits, timeouts) and answers every
 * request from a handler that must not block: the handler reads cached
 * state and fills a response. Errors in the request get 400/405/413/414/
 * 431/501/505 without reaching the handler, and the connection is closed.
 * Methods other than GET and HEAD get 405 here; paths are the handler's.
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <sys/socket.h>

#include <stddef.h>

#include "ev.h"
#include "http_parse.h"

struct httpd;

/*
 * The handler's response keeps the connection open if the client asked for
 * keep-alive. A HEAD request gets the headers only, with the Content-Length
 * of the body. A status outside 200..599 is answered as 500.
 */
struct httpd_resp {
	int status;               /* e.g. 200, 503, 404 */
	const char *content_type; /* static string; default application/json */
	char *body;               /* malloc'd by the handler; httpd frees it */
	const char *static_body;  /* used when body is NULL; never freed */
	size_t body_len;
	const char *allow; /* value of an Allow: header, or NULL */
};

/* Fill resp for req. peer is the client address. */
typedef void (*httpd_handler)(const struct http_request *req,
    const struct sockaddr *peer, struct httpd_resp *resp, void *arg);

/*
 * Zero or negative values select the defaults below. When max_connections
 * are open, a new connection is not refused: the one that has waited longest
 * without completing a request is closed to make room (first one lingering
 * after our FIN, then an idle keep-alive one, then one still sending its
 * request head, then one not reading its response), so clients holding
 * connections open cannot lock out a fresh one. Memory is bounded by
 * max_connections x (max_request_size + one response + 16 KiB).
 */
struct httpd_limits {
	int max_connections;     /* the oldest idle/slow one is evicted */
	mono_ms header_timeout;  /* to receive one whole request head */
	mono_ms idle_timeout;    /* keep-alive idle; also the send timeout */
	size_t max_request_size; /* request head bytes; more gets 431/414 */
};

#define HTTPD_DEFAULT_MAX_CONNECTIONS 256
#define HTTPD_DEFAULT_HEADER_TIMEOUT 10000
#define HTTPD_DEFAULT_IDLE_TIMEOUT 60000
#define HTTPD_DEFAULT_MAX_REQUEST HTTP_MAX_REQUEST
#define HTTPD_MAX_MAX_REQUEST 65536

/*
 * Bind and listen (SO_REUSEADDR, non-blocking, close-on-exec, backlog 512;
 * the IPv6 wildcard also takes IPv4). Returns the fd or -1 with a message in
 * err.
 */
int httpd_listen(const struct sockaddr *sa, socklen_t len, char *err,
    size_t errlen);
/*
 * Serve on an already listening fd, which httpd then owns. NULL if the fd
 * cannot be watched (logged; the fd then stays the caller's). If the soft
 * RLIMIT_NOFILE is too low for max_connections, it is raised (up to the
 * hard limit).
 */
struct httpd *httpd_new(struct ev *ev, int listen_fd,
    const struct httpd_limits *lim, httpd_handler handler, void *arg);
/*
 * New limits apply to new connections and to the next deadline of open
 * ones; a lower max_connections does not drop connections already open.
 */
void httpd_set_limits(struct httpd *d, const struct httpd_limits *lim);
/* The listening fd, still owned by d; -1 after httpd_detach_listener(). */
int httpd_listen_fd(const struct httpd *d);
/*
 * For reload: stop accepting and hand the listening fd to the caller, who
 * then owns it (typically to pass it to a new httpd_new()); httpd_free()
 * will not close it. Open connections are served until httpd_free().
 * Returns -1 if already detached.
 */
int httpd_detach_listener(struct httpd *d);
/* Close every connection and, unless detached, the listening fd. */
void httpd_free(struct httpd *d);

/*
 * Counters for /status and /metrics. accepted: connections taken in;
 * rejected: closed at accept because no room could be made; evicted: open
 * connections closed to make room for a new one; requests:
 * complete request heads (answered by the handler or with 405/413/501);
 * errors_4xx: responses with a 4xx status, including those to malformed
 * requests; timeouts: connections closed by the header or send timeout (a
 * keep-alive connection reaching its idle timeout is not counted); open:
 * connections open now.
 */
struct httpd_stats {
	unsigned long accepted, requests, rejected, evicted, errors_4xx,
	    timeouts;
	int open;
};

void httpd_stats(const struct httpd *d, struct httpd_stats *out);

#endif
