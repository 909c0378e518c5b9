/* SPDX-License-Identifier: ISC */
/*
 * The health endpoint's HTTP/1.1 server. Each connection has a fixed
 * request-head buffer, a growing output buffer and one timer that enforces
 * whichever deadline applies (whole request head, keep-alive idle, send
 * progress, lingering close). Pipelined requests are answered in order and
 * input is not parsed while too much output is queued. The handler is called
 * synchronously; nothing here blocks.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpd.h"
#include "log.h"
#include "xmalloc.h"

#define LISTEN_BACKLOG 512
#define OUT_HIGH (256 * 1024)  /* stop parsing while this much is queued */
#define ACCEPT_PAUSE_MS 100    /* after EMFILE and friends */
#define LINGER_MS 2000         /* drain the peer after our FIN */
#define LINGER_MAX (64 * 1024) /* ...but not more than this */
#define REJECT_LOG_MS 10000    /* rate limit for the max_connections log */

struct conn {
	struct httpd *d;
	struct conn *prev, *next;
	int fd;
	struct ev_io *io;
	struct ev_timer *timer;
	struct sockaddr_storage peer;
	unsigned events;       /* interest set on io */
	bool served;           /* at least one response queued */
	bool closing;          /* no more requests; close once output is sent */
	bool peer_eof;         /* the peer sent FIN */
	bool lingering;        /* our FIN is sent; discarding input */
	bool backed_up;        /* parsing stopped until output drains */
	mono_ms head_deadline; /* 0 while idle between requests */
	mono_ms idle_since;
	mono_ms write_deadline;
	mono_ms linger_deadline;
	size_t lingered;
	char *out;
	size_t out_off, out_len, out_cap;
	size_t in_len;
	char in[HTTP_MAX_REQUEST];
};

struct httpd {
	struct ev *ev;
	int listen_fd;
	struct ev_io *lio;
	struct ev_timer *pause;
	struct httpd_limits lim;
	httpd_handler handler;
	void *arg;
	struct conn *conns;
	struct httpd_stats st;
	mono_ms last_reject_log;
	bool accept_err_logged;
};

static const struct {
	int status;
	const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

static const char *
reason_phrase(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return status < 300 ? "OK"
	    : status < 400  ? "Redirect"
	    : status < 500  ? "Client Error"
	                    : "Server Error";
}

static void
apply_limits(struct httpd_limits *dst, const struct httpd_limits *src)
{
	dst->max_connections = src != NULL && src->max_connections > 0
	    ? src->max_connections
	    : HTTPD_DEFAULT_MAX_CONNECTIONS;
	dst->header_timeout = src != NULL && src->header_timeout > 0
	    ? src->header_timeout
	    : HTTPD_DEFAULT_HEADER_TIMEOUT;
	dst->idle_timeout = src != NULL && src->idle_timeout > 0
	    ? src->idle_timeout
	    : HTTPD_DEFAULT_IDLE_TIMEOUT;
}

static size_t
pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

static void
conn_close(struct conn *c)
{
	struct httpd *d = c->d;

	ev_io_del(c->io);
	ev_timer_free(c->timer);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	d->st.open--;
	free(c->out);
	free(c);
}

/* Make room for n more bytes of output; returns where they go. */
static char *
out_reserve(struct conn *c, size_t n)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_cap - c->out_len < n && c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len < n) {
		size_t cap = c->out_cap ? c->out_cap : 1024;

		while (cap - c->out_len < n)
			cap *= 2;
		c->out = xreallocarray(c->out, cap, 1);
		c->out_cap = cap;
	}
	if (pending(c) == 0)
		c->write_deadline = ev_now(c->d->ev) + c->d->lim.idle_timeout;
	return c->out + c->out_len;
}

#define RESP_FMT                                                               \
	"HTTP/1.1 %d %s\r\n"                                                   \
	"Content-Type: %s\r\n"                                                 \
	"Content-Length: %zu\r\n"                                              \
	"Cache-Control: no-store\r\n"                                          \
	"Connection: %s\r\n"                                                   \
	"%s%s%s\r\n"

static void
queue_response(struct conn *c, int status, const char *ctype, const char *body,
    size_t body_len, const char *allow, bool head, bool keep)
{
	const char *reason = reason_phrase(status);
	const char *conn = keep ? "keep-alive" : "close";
	const char *a0 = allow ? "Allow: " : "", *a1 = allow ? allow : "";
	const char *a2 = allow ? "\r\n" : "";
	int n;
	char *p;

	if (ctype == NULL)
		ctype = "application/json";
	n = snprintf(NULL, 0, RESP_FMT, status, reason, ctype, body_len, conn,
	    a0, a1, a2);
	p = out_reserve(c, (size_t)n + 1 + (head ? 0 : body_len));
	snprintf(p, (size_t)n + 1, RESP_FMT, status, reason, ctype, body_len,
	    conn, a0, a1, a2);
	c->out_len += (size_t)n;
	if (!head && body_len > 0) {
		memcpy(c->out + c->out_len, body, body_len);
		c->out_len += body_len;
	}
	if (status >= 400 && status < 500)
		c->d->st.errors_4xx++;
	c->served = true;
	if (!keep)
		c->closing = true;
}

/* Answer with a small JSON error and close the connection. */
static void
queue_error(struct conn *c, int status, const char *error, const char *allow,
    bool head)
{
	char body[160];
	int n;
	char addr[64];

	util_format_addr((struct sockaddr *)&c->peer, addr, sizeof(addr));
	log_debug("http: %s: %d %s", addr, status, error);
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = snprintf(body, sizeof(body), "{\"error\":\"bad request\"}");
	queue_response(c, status, NULL, body, (size_t)n, allow, head, false);
}

static void
handle_request(struct conn *c, const struct http_request *req)
{
	struct httpd *d = c->d;
	struct httpd_resp resp;
	bool head = req->method == HTTP_M_HEAD;

	d->st.requests++;
	if (req->method == HTTP_M_OTHER) {
		queue_error(c, 405, "method not allowed", "GET, HEAD", false);
		return;
	}
	if (http_header(req, "Transfer-Encoding") != NULL) {
		queue_error(c, 501, "transfer-encoding not supported", NULL,
		    head);
		return;
	}
	if (req->has_body) {
		queue_error(c, 413, "request bodies are not accepted", NULL,
		    head);
		return;
	}
	memset(&resp, 0, sizeof(resp));
	d->handler(req, (struct sockaddr *)&c->peer, &resp, d->arg);
	if (resp.status < 200 || resp.status > 599) {
		log_err("http: handler returned status %d", resp.status);
		free(resp.body);
		memset(&resp, 0, sizeof(resp));
		resp.status = 500;
		resp.body = xstrdup("{\"error\":\"internal error\"}");
		resp.body_len = strlen(resp.body);
	}
	queue_response(c, resp.status, resp.content_type, resp.body,
	    resp.body_len, resp.allow, head, req->keep_alive);
	free(resp.body);
}

/* Answer the complete request heads in the input buffer, in order. */
static void
conn_process(struct conn *c)
{
	struct httpd *d = c->d;
	struct http_request req;
	mono_ms now = ev_now(d->ev);

	while (!c->closing && c->in_len > 0 && pending(c) < OUT_HIGH) {
		enum http_parse_rc rc =
		    http_parse_request(c->in, c->in_len, &req);

		if (rc == HTTP_PARSE_INCOMPLETE)
			break;
		if (rc == HTTP_PARSE_ERROR) {
			queue_error(c, req.error_status, req.error, NULL,
			    false);
			c->in_len = 0;
			break;
		}
		handle_request(c, &req);
		c->in_len -= req.head_len;
		memmove(c->in, c->in + req.head_len, c->in_len);
		if (c->in_len > 0) {
			c->head_deadline = now + d->lim.header_timeout;
		} else {
			c->head_deadline = 0;
			c->idle_since = now;
		}
	}
	/* After EOF nothing can complete a partial head or start another. */
	if (c->peer_eof && !c->closing && pending(c) < OUT_HIGH)
		c->closing = true;
}

/* Read what there is room for. Returns -1 if the connection is gone. */
static int
conn_read(struct conn *c)
{
	while (c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len,
		    sizeof(c->in) - c->in_len, 0);

		if (n > 0) {
			if (c->in_len == 0 && c->head_deadline == 0)
				c->head_deadline =
				    ev_now(c->d->ev) + c->d->lim.header_timeout;
			c->in_len += (size_t)n;
			continue;
		}
		if (n == 0) {
			c->peer_eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		log_debug("http: recv: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Send what the socket takes. Returns -1 if the connection is gone. */
static int
conn_flush(struct conn *c)
{
	while (pending(c) > 0) {
		ssize_t n =
		    send(c->fd, c->out + c->out_off, pending(c), MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->write_deadline =
			    ev_now(c->d->ev) + c->d->lim.idle_timeout;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		log_debug("http: send: %s", strerror(errno));
		return -1;
	}
	if (c->out_len > 0)
		c->idle_since = ev_now(c->d->ev);
	c->out_off = c->out_len = 0;
	return 0;
}

/* Discard input after our FIN until the peer closes. */
static int
conn_linger_read(struct conn *c)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			c->lingered += (size_t)n;
			if (c->lingered > LINGER_MAX)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1; /* EOF or error: done */
	}
}

/* The deadline that applies now, and whether reaching it is a timeout. */
static mono_ms
conn_deadline(const struct conn *c, bool *counted)
{
	*counted = true;
	if (c->lingering) {
		*counted = false;
		return c->linger_deadline;
	}
	if (pending(c) > 0)
		return c->write_deadline;
	if (c->head_deadline != 0)
		return c->head_deadline;
	if (c->closing) /* nothing left to send; about to close */
		return ev_now(c->d->ev);
	*counted = false;
	return c->idle_since + c->d->lim.idle_timeout;
}

/*
 * After any event: start the close if due, then set the io interest and
 * the timer. The connection may be gone afterwards.
 */
static void
conn_update(struct conn *c)
{
	unsigned want = 0;
	bool counted;

	if (c->closing && !c->lingering && pending(c) == 0) {
		if (c->peer_eof || shutdown(c->fd, SHUT_WR) < 0) {
			conn_close(c);
			return;
		}
		c->lingering = true;
		c->in_len = 0;
		c->linger_deadline = ev_now(c->d->ev) + LINGER_MS;
	}
	if (c->lingering) {
		want = EV_READ;
	} else {
		if (pending(c) > 0)
			want |= EV_WRITE;
		if (!c->closing && !c->peer_eof && c->in_len < sizeof(c->in) &&
		    pending(c) < OUT_HIGH)
			want |= EV_READ;
	}
	if (want != c->events) {
		if (ev_io_set(c->io, want) < 0) {
			conn_close(c);
			return;
		}
		c->events = want;
	}
	ev_timer_arm_at(c->timer, conn_deadline(c, &counted));
}

static void
conn_io(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (events & EV_ERROR) {
		conn_close(c);
		return;
	}
	if (c->lingering) {
		if (conn_linger_read(c) < 0) {
			conn_close(c);
			return;
		}
		conn_update(c);
		return;
	}
	if ((events & EV_READ) && (c->events & EV_READ) && conn_read(c) < 0) {
		conn_close(c);
		return;
	}
	for (;;) {
		bool backed_up;

		if (conn_flush(c) < 0) {
			conn_close(c);
			return;
		}
		/* A partial head that waited behind queued output gets a
		 * fresh header deadline: we were not reading meanwhile. */
		if (c->backed_up && pending(c) < OUT_HIGH) {
			c->backed_up = false;
			if (c->in_len > 0)
				c->head_deadline =
				    ev_now(c->d->ev) + c->d->lim.header_timeout;
		}
		conn_process(c);
		backed_up =
		    !c->closing && c->in_len > 0 && pending(c) >= OUT_HIGH;
		if (conn_flush(c) < 0) {
			conn_close(c);
			return;
		}
		/* Stopped for queued output that has drained at once: answer
		 * the requests still buffered, as no read event may come. */
		if (!backed_up || pending(c) >= OUT_HIGH)
			break;
	}
	if (pending(c) >= OUT_HIGH)
		c->backed_up = true;
	conn_update(c);
}

static void
conn_timeout(void *arg)
{
	struct conn *c = arg;
	bool counted;
	mono_ms when = conn_deadline(c, &counted);
	char addr[64];

	if (when > ev_now(c->d->ev)) {
		ev_timer_arm_at(c->timer, when);
		return;
	}
	if (counted) {
		c->d->st.timeouts++;
		util_format_addr((struct sockaddr *)&c->peer, addr,
		    sizeof(addr));
		log_debug("http: %s: %s timeout", addr,
		    pending(c) > 0 ? "send" : "request header");
	}
	conn_close(c);
}

static void
conn_new(struct httpd *d, int fd, const struct sockaddr_storage *peer)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int one = 1;

	if (peer->ss_family == AF_INET || peer->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	c->d = d;
	c->fd = fd;
	c->peer = *peer;
	c->io = ev_io_add(d->ev, fd, EV_READ, conn_io, c);
	if (c->io == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->events = EV_READ;
	c->timer = ev_timer_new(d->ev, conn_timeout, c);
	c->head_deadline = ev_now(d->ev) + d->lim.header_timeout;
	ev_timer_arm_at(c->timer, c->head_deadline);
	c->next = d->conns;
	if (d->conns != NULL)
		d->conns->prev = c;
	d->conns = c;
	d->st.accepted++;
	d->st.open++;
}

static void
accept_resume(void *arg)
{
	struct httpd *d = arg;

	if (d->lio != NULL)
		ev_io_set(d->lio, EV_READ);
}

static void
on_accept(int fd, unsigned events, void *arg)
{
	struct httpd *d = arg;

	(void)events;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd;

		memset(&ss, 0, sizeof(ss));
		cfd = accept4(fd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			switch (errno) {
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue;
			default:
				/* EMFILE, ENFILE, ENOBUFS, ENOMEM or worse:
				 * retrying at once would spin. */
				if (!d->accept_err_logged)
					log_warn("http: accept: %s; pausing",
					    strerror(errno));
				d->accept_err_logged = true;
				ev_io_set(d->lio, 0);
				ev_timer_arm(d->pause, ACCEPT_PAUSE_MS);
				return;
			}
		}
		d->accept_err_logged = false;
		if (d->st.open >= d->lim.max_connections) {
			mono_ms now = ev_now(d->ev);

			d->st.rejected++;
			close(cfd);
			if (d->last_reject_log == 0 ||
			    now - d->last_reject_log >= REJECT_LOG_MS) {
				log_warn("http: %d connections open; "
				         "rejecting new ones",
				    d->st.open);
				d->last_reject_log = now;
			}
			continue;
		}
		conn_new(d, cfd, &ss);
	}
}

int
httpd_listen(const struct sockaddr *sa, socklen_t len, char *err, size_t errlen)
{
	char addr[128];
	int fd, one = 1, zero = 0;

	util_format_addr(sa, addr, sizeof(addr));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket for %s: %s", addr,
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "SO_REUSEADDR on %s: %s", addr,
		    strerror(errno));
		goto fail;
	}
	if (sa->sa_family == AF_INET6 &&
	    memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &in6addr_any,
	        sizeof(in6addr_any)) == 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) <
	        0) {
		snprintf(err, errlen, "IPV6_V6ONLY on %s: %s", addr,
		    strerror(errno));
		goto fail;
	}
	if (bind(fd, sa, len) < 0) {
		snprintf(err, errlen, "bind %s: %s", addr, strerror(errno));
		goto fail;
	}
	if (listen(fd, LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "listen %s: %s", addr, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

struct httpd *
httpd_new(struct ev *ev, int listen_fd, const struct httpd_limits *lim,
    httpd_handler handler, void *arg)
{
	struct httpd *d = xcalloc(1, sizeof(*d));

	d->ev = ev;
	d->listen_fd = listen_fd;
	d->handler = handler;
	d->arg = arg;
	apply_limits(&d->lim, lim);
	if (util_set_nonblock(listen_fd) < 0) {
		log_err("http: listening socket: %s", strerror(errno));
		free(d);
		return NULL;
	}
	d->lio = ev_io_add(ev, listen_fd, EV_READ, on_accept, d);
	if (d->lio == NULL) {
		free(d);
		return NULL;
	}
	d->pause = ev_timer_new(ev, accept_resume, d);
	return d;
}

void
httpd_set_limits(struct httpd *d, const struct httpd_limits *lim)
{
	apply_limits(&d->lim, lim);
}

int
httpd_listen_fd(const struct httpd *d)
{
	return d->listen_fd;
}

int
httpd_detach_listener(struct httpd *d)
{
	int fd = d->listen_fd;

	ev_io_del(d->lio);
	d->lio = NULL;
	ev_timer_disarm(d->pause);
	d->listen_fd = -1;
	return fd;
}

void
httpd_free(struct httpd *d)
{
	if (d == NULL)
		return;
	while (d->conns != NULL)
		conn_close(d->conns);
	ev_io_del(d->lio);
	ev_timer_free(d->pause);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	free(d);
}

void
httpd_stats(const struct httpd *d, struct httpd_stats *out)
{
	*out = d->st;
}
