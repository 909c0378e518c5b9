/* SPDX-License-Identifier: ISC */
/*
 * The health endpoint's HTTP/1.1 server. Input is read into one scratch
 * buffer per server and parsed there; a connection only holds memory for a
 * partial head or for output the socket did not take, so idle and slow
 * connections cost a few hundred bytes each. Every connection waits for one
 * deadline (whole request head, keep-alive idle, send progress, lingering
 * close), kept in sorted queues under one timer. Pipelined requests are
 * answered in order and input is not parsed while too much output is
 * queued. At max_connections the oldest idle or slow connection is closed
 * to admit a new one. The handler is called synchronously; nothing here
 * blocks.
 */
#include "config.h"

#include <sys/resource.h>
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
#define OUT_HIGH (16 * 1024)   /* stop parsing while this much is queued */
#define ACCEPT_PAUSE_MS 100    /* after EMFILE with nothing to evict */
#define ACCEPT_BATCH 32        /* accepts per loop turn, see on_accept() */
#define LINGER_MS 2000         /* drain the peer after our FIN */
#define LINGER_MAX (64 * 1024) /* ...but not more than this */
#define EVICT_LOG_MS 10000     /* rate limit for the max_connections log */
#define NOFILE_RESERVE 64      /* fds kept for everything but connections */

/*
 * Each open connection waits for exactly one deadline, and each kind of
 * deadline is "start + a fixed timeout", so a queue per kind, appended to at
 * the tail, stays sorted: one timer for the whole server, O(1) updates.
 * The order of the kinds is also the eviction order (see httpd.h).
 */
enum conn_q {
	Q_LINGER, /* our FIN is sent; discarding input until the peer closes */
	Q_IDLE,   /* keep-alive, between requests */
	Q_HEAD,   /* receiving a request head */
	Q_WRITE,  /* output queued that the peer does not take */
	Q_N,      /* in no queue */
};

struct conn {
	struct httpd *d;
	struct conn *prev, *next; /* in d->q[q], sorted by deadline */
	enum conn_q q;
	mono_ms deadline;
	int fd;
	struct ev_io *io;
	unsigned events;    /* interest set on io */
	bool closing;       /* no more requests; close once output is sent */
	bool clean;         /* closing after a normal response: no linger */
	bool peer_eof;      /* the peer sent FIN */
	bool lingering;     /* our FIN is sent; discarding input */
	bool backed_up;     /* parsing stopped until output drains */
	bool incomplete;    /* in[] was parsed as an incomplete head */
	bool touched;       /* a request completed: to its queue's tail */
	mono_ms head_start; /* 0 while idle between requests */
	mono_ms idle_since; /* last request completed or response sent */
	mono_ms write_progress;
	mono_ms linger_start;
	size_t lingered;
	char *in; /* a partial head (or pipelined requests); NULL if none */
	size_t in_len, in_cap;
	char *out; /* output the socket did not take yet; NULL if none */
	size_t out_off, out_len, out_cap;
	struct sockaddr_storage peer;
};

struct httpd {
	struct ev *ev;
	int listen_fd;
	struct ev_io *lio;
	struct ev_timer *pause;
	struct ev_timer *timer; /* the earliest deadline of the queues */
	mono_ms timer_at;       /* 0 if not armed */
	struct httpd_limits lim;
	httpd_handler handler;
	void *arg;
	struct conn *q[Q_N], *tail[Q_N];
	char *scratch; /* where input is read and parsed; max_request_size */
	size_t scratch_cap;
	struct httpd_stats st;
	mono_ms last_evict_log;
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
	dst->max_request_size = src != NULL && src->max_request_size > 0
	    ? src->max_request_size
	    : HTTPD_DEFAULT_MAX_REQUEST;
	if (dst->max_request_size > HTTPD_MAX_MAX_REQUEST)
		dst->max_request_size = HTTPD_MAX_MAX_REQUEST;
	if (dst->max_request_size < 64)
		dst->max_request_size = 64;
}

/* Make room for max_connections in RLIMIT_NOFILE, up to the hard limit. */
static void
ensure_nofile(int max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + NOFILE_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		log_warn("http: max_connections %d needs %llu file descriptors "
		         "but the hard limit is %llu; the oldest connections "
		         "will be evicted earlier",
		    max_connections, (unsigned long long)want,
		    (unsigned long long)rl.rlim_max);
		want = rl.rlim_max;
	}
	if (want <= rl.rlim_cur)
		return;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("http: raising RLIMIT_NOFILE to %llu: %s",
		    (unsigned long long)want, strerror(errno));
	else
		log_info("http: raised RLIMIT_NOFILE to %llu for "
		         "max_connections %d",
		    (unsigned long long)want, max_connections);
}

static size_t
pending(const struct conn *c)
{
	return c->out_len - c->out_off;
}

static void
q_unlink(struct conn *c)
{
	struct httpd *d = c->d;

	if (c->q == Q_N)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		d->q[c->q] = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		d->tail[c->q] = c->prev;
	c->prev = c->next = NULL;
	c->q = Q_N;
}

/* Insert from the tail: O(1) unless a deadline went back in time. */
static void
q_insert(struct conn *c, enum conn_q q, mono_ms deadline)
{
	struct httpd *d = c->d;
	struct conn *p = d->tail[q];

	while (p != NULL && p->deadline > deadline)
		p = p->prev;
	c->q = q;
	c->deadline = deadline;
	c->prev = p;
	c->next = p != NULL ? p->next : d->q[q];
	if (c->next != NULL)
		c->next->prev = c;
	else
		d->tail[q] = c;
	if (p != NULL)
		p->next = c;
	else
		d->q[q] = c;
	if (d->timer_at == 0 || deadline < d->timer_at) {
		d->timer_at = deadline;
		ev_timer_arm_at(d->timer, deadline);
	}
}

static void
conn_close(struct conn *c)
{
	struct httpd *d = c->d;

	q_unlink(c);
	ev_io_del(c->io);
	close(c->fd);
	d->st.open--;
	free(c->in);
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
		size_t cap = c->out_cap ? c->out_cap : 512;

		while (cap - c->out_len < n)
			cap *= 2;
		c->out = xreallocarray(c->out, cap, 1);
		c->out_cap = cap;
	}
	if (pending(c) == 0)
		c->write_progress = ev_now(c->d->ev);
	return c->out + c->out_len;
}

#define RESP_FMT                                                               \
	"HTTP/1.1 %d %s\r\n"                                                   \
	"Content-Type: %s\r\n"                                                 \
	"Content-Length: %zu\r\n"                                              \
	"Cache-Control: no-store\r\n"                                          \
	"Connection: %s\r\n"                                                   \
	"%s%s%s\r\n"

#define RESP_HEAD_GUESS 256

static void
queue_response(struct conn *c, int status, const char *ctype, const char *body,
    size_t body_len, const char *allow, bool head, bool keep)
{
	const char *reason = reason_phrase(status);
	const char *conn = keep ? "keep-alive" : "close";
	const char *a0 = allow ? "Allow: " : "", *a1 = allow ? allow : "";
	const char *a2 = allow ? "\r\n" : "";
	size_t blen = head ? 0 : body_len;
	int n;
	char *p;

	if (ctype == NULL)
		ctype = "application/json";
	/* One formatting pass in the common case: the head fits the guess. */
	p = out_reserve(c, RESP_HEAD_GUESS + blen);
	n = snprintf(p, RESP_HEAD_GUESS, RESP_FMT, status, reason, ctype,
	    body_len, conn, a0, a1, a2);
	if (n >= RESP_HEAD_GUESS) {
		p = out_reserve(c, (size_t)n + 1 + blen);
		snprintf(p, (size_t)n + 1, RESP_FMT, status, reason, ctype,
		    body_len, conn, a0, a1, a2);
	}
	c->out_len += (size_t)n;
	if (blen > 0) {
		memcpy(c->out + c->out_len, body, blen);
		c->out_len += blen;
	}
	if (status >= 400 && status < 500)
		c->d->st.errors_4xx++;
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

	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char addr[64];

		util_format_addr((struct sockaddr *)&c->peer, addr,
		    sizeof(addr));
		log_debug("http: %s: %d %s", addr, status, error);
	}
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", error);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = snprintf(body, sizeof(body), "{\"error\":\"bad request\"}");
	queue_response(c, status, NULL, body, (size_t)n, allow, head, false);
	c->clean = false;
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
		resp.static_body = "{\"error\":\"internal error\"}";
		resp.body_len = strlen(resp.static_body);
	}
	queue_response(c, resp.status, resp.content_type,
	    resp.body != NULL ? resp.body : resp.static_body, resp.body_len,
	    resp.allow, head, req->keep_alive);
	c->clean = true;
	free(resp.body);
}

/*
 * Answer the complete request heads at the start of buf[0..len), in order,
 * while not too much output is queued. Returns the bytes consumed.
 */
static size_t
conn_process(struct conn *c, const char *buf, size_t len)
{
	struct http_request req;
	size_t off = 0;

	c->incomplete = false;
	while (!c->closing && off < len && pending(c) < OUT_HIGH) {
		enum http_parse_rc rc = http_parse_request_max(buf + off,
		    len - off, c->d->lim.max_request_size, &req);

		if (rc == HTTP_PARSE_INCOMPLETE) {
			c->incomplete = true;
			break;
		}
		if (rc == HTTP_PARSE_ERROR) {
			queue_error(c, req.error_status, req.error, NULL,
			    false);
			return len;
		}
		handle_request(c, &req);
		off += req.head_len;
	}
	return off;
}

/* Send what the socket takes. Returns -1 if the connection is gone. */
static int
conn_flush(struct conn *c)
{
	mono_ms now = ev_now(c->d->ev);

	while (pending(c) > 0) {
		ssize_t n =
		    send(c->fd, c->out + c->out_off, pending(c), MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->write_progress = now;
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
		c->idle_since = now;
	/* Nothing is kept per idle connection. */
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
	return 0;
}

/* Keep buf[0..len), a partial head or unparsed requests, in c->in. */
static void
conn_keep_input(struct conn *c, const char *buf, size_t len)
{
	if (len == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		return;
	}
	if (c->in_cap < len) {
		size_t cap = c->in_cap ? c->in_cap : 256;

		while (cap < len)
			cap *= 2;
		c->in = xreallocarray(c->in, cap, 1);
		c->in_cap = cap;
	}
	if (buf != c->in)
		memcpy(c->in, buf, len);
	c->in_len = len;
}

/*
 * Read (if readable) into the server's scratch buffer after what is kept
 * from before, answer what is complete, and send. Heads are re-parsed only
 * when something can have changed (a new line, the limit, EOF), so a
 * trickled head costs O(lines x size), not O(bytes x size). Returns -1 if
 * the connection is gone.
 */
static int
conn_input(struct conn *c, bool readable)
{
	struct httpd *d = c->d;
	size_t max = d->lim.max_request_size, len = c->in_len;
	char *buf = d->scratch;
	mono_ms now = ev_now(d->ev);

	if (len > d->scratch_cap) /* max_request_size lowered by a reload */
		len = d->scratch_cap;
	if (len > 0)
		memcpy(buf, c->in, len);
	for (;;) {
		size_t before = len, off = 0;
		bool drained = false, parse;

		if (readable && !c->closing && !c->peer_eof && len < max &&
		    pending(c) < OUT_HIGH) {
			ssize_t n = recv(c->fd, buf + len, max - len, 0);

			if (n > 0) {
				if (len == 0 && c->head_start == 0)
					c->head_start = now;
				len += (size_t)n;
				drained = len < max;
			} else if (n == 0) {
				c->peer_eof = true;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				drained = true;
			} else if (errno != EINTR) {
				log_debug("http: recv: %s", strerror(errno));
				return -1;
			}
		} else {
			drained = true;
		}
		parse = len > 0 &&
		    (!c->incomplete || len >= max || c->peer_eof ||
		        memchr(buf + before, '\n', len - before) != NULL);
		if (parse)
			off = conn_process(c, buf, len);
		if (off > 0) {
			len -= off;
			memmove(buf, buf + off, len);
			c->head_start = len > 0 ? now : 0;
			if (len == 0)
				c->idle_since = now;
			c->touched = true;
		}
		/* After EOF nothing can complete a partial head or start
		 * another. */
		if (c->peer_eof && !c->closing && pending(c) < OUT_HIGH)
			c->closing = true;
		if (c->closing && c->clean && !drained)
			c->clean = false; /* unread input: linger */
		if (conn_flush(c) < 0)
			return -1;
		if (c->closing)
			break;
		/* Go on if requests wait behind output that has drained at
		 * once, or the socket may hold more and there is room. */
		if (!(off > 0 && len > 0 && pending(c) < OUT_HIGH) &&
		    !(readable && !drained && !c->peer_eof && len < max &&
		        pending(c) < OUT_HIGH))
			break;
	}
	if (c->closing)
		len = 0;
	conn_keep_input(c, buf, len);
	c->backed_up = !c->closing && len > 0 && pending(c) >= OUT_HIGH;
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

/*
 * After any event: start the close if due, then set the io interest and
 * the deadline. The connection may be gone afterwards.
 */
static void conn_io(int fd, unsigned events, void *arg);

static void
conn_update(struct conn *c)
{
	struct httpd *d = c->d;
	unsigned want = 0;
	enum conn_q q;
	mono_ms dl;

	if (c->closing && !c->lingering && pending(c) == 0) {
		/* A normal response with nothing unread: close at once, as
		 * nginx does; otherwise FIN first and drain the peer so that
		 * its unread input does not turn our close into a reset
		 * that destroys the response. */
		if (c->peer_eof || (c->clean && c->in_len == 0) ||
		    shutdown(c->fd, SHUT_WR) < 0) {
			conn_close(c);
			return;
		}
		c->lingering = true;
		conn_keep_input(c, NULL, 0);
		c->linger_start = ev_now(d->ev);
	}
	if (c->lingering) {
		want = EV_READ;
		q = Q_LINGER;
		dl = c->linger_start + LINGER_MS;
	} else {
		if (pending(c) > 0)
			want |= EV_WRITE;
		if (!c->closing && !c->peer_eof &&
		    c->in_len < d->lim.max_request_size &&
		    pending(c) < OUT_HIGH)
			want |= EV_READ;
		if (pending(c) > 0) {
			q = Q_WRITE;
			dl = c->write_progress + d->lim.idle_timeout;
		} else if (c->head_start != 0) {
			q = Q_HEAD;
			dl = c->head_start + d->lim.header_timeout;
		} else {
			q = Q_IDLE;
			dl = c->idle_since + d->lim.idle_timeout;
		}
	}
	if (c->io == NULL) {
		c->io = ev_io_add(d->ev, c->fd, want, conn_io, c);
		if (c->io == NULL) {
			d->st.rejected++;
			conn_close(c);
			return;
		}
		c->events = want;
	} else if (want != c->events) {
		if (ev_io_set(c->io, want) < 0) {
			conn_close(c);
			return;
		}
		c->events = want;
	}
	if (q != c->q || dl != c->deadline || c->touched) {
		c->touched = false;
		q_unlink(c);
		q_insert(c, q, dl);
	}
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
	if (pending(c) > 0 && conn_flush(c) < 0) {
		conn_close(c);
		return;
	}
	/* A partial head that waited behind queued output gets a fresh
	 * header deadline: we were not reading meanwhile. */
	if (c->backed_up && pending(c) < OUT_HIGH) {
		c->backed_up = false;
		if (c->in_len > 0)
			c->head_start = ev_now(c->d->ev);
	}
	if (!c->backed_up &&
	    conn_input(c, (events & EV_READ) && (c->events & EV_READ)) < 0) {
		conn_close(c);
		return;
	}
	conn_update(c);
}

/* The queues' heads whose deadline has passed are closed. */
static void
on_timer(void *arg)
{
	struct httpd *d = arg;
	mono_ms now = ev_now(d->ev), next = 0;

	d->timer_at = 0;
	for (int q = 0; q < Q_N; q++) {
		struct conn *c;

		while ((c = d->q[q]) != NULL && c->deadline <= now) {
			if (q == Q_HEAD || q == Q_WRITE) {
				d->st.timeouts++;
				if (log_get_level() >= LOG_LEVEL_DEBUG) {
					char addr[64];

					util_format_addr((struct sockaddr *)&c
					                     ->peer,
					    addr, sizeof(addr));
					log_debug("http: %s: %s timeout", addr,
					    q == Q_WRITE ? "send"
					                 : "request header");
				}
			}
			conn_close(c);
		}
		if (c != NULL && (next == 0 || c->deadline < next))
			next = c->deadline;
	}
	if (next != 0) {
		d->timer_at = next;
		ev_timer_arm_at(d->timer, next);
	}
}

/* Close the connection that has waited longest without completing a
 * request, in the order of enum conn_q. False if there is none. */
static bool
evict_one(struct httpd *d)
{
	for (int q = 0; q < Q_N; q++) {
		mono_ms now;

		if (d->q[q] == NULL)
			continue;
		conn_close(d->q[q]);
		d->st.evicted++;
		now = ev_now(d->ev);
		if (d->last_evict_log == 0 ||
		    now - d->last_evict_log >= EVICT_LOG_MS) {
			log_warn("http: %d connections open (max_connections "
			         "%d); closing the oldest idle or slow ones to "
			         "admit new ones",
			    d->st.open + 1, d->lim.max_connections);
			d->last_evict_log = now;
		}
		return true;
	}
	return false;
}

static void
conn_new(struct httpd *d, int fd, const struct sockaddr_storage *peer)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->fd = fd;
	c->peer = *peer;
	c->q = Q_N;
	/* Registered with the loop by conn_update(), only if the connection
	 * outlives this turn: a "Connection: close" request answered at once
	 * costs no epoll_ctl at all. */
	c->io = NULL;
	c->events = 0;
	/* The header timeout runs from the accept. */
	c->head_start = ev_now(d->ev);
	d->st.accepted++;
	d->st.open++;
	/* With TCP_DEFER_ACCEPT the request is usually here already: answer
	 * it now, before later accepts in this turn could evict it. */
	if (conn_input(c, true) < 0) {
		conn_close(c);
		return;
	}
	conn_update(c);
}

static void
accept_resume(void *arg)
{
	struct httpd *d = arg;

	if (d->lio != NULL)
		ev_io_set(d->lio, EV_READ);
}

/*
 * Accept at most ACCEPT_BATCH per loop turn: the connections just accepted
 * get read in the next turn before a flood of accepts can evict them. At
 * max_connections (or out of fds) the oldest idle or slow connection makes
 * room; newcomers are not refused.
 */
static void
on_accept(int fd, unsigned events, void *arg)
{
	struct httpd *d = arg;
	int batch = d->lim.max_connections / 4;

	(void)events;
	if (batch > ACCEPT_BATCH)
		batch = ACCEPT_BATCH;
	if (batch < 1)
		batch = 1;
	for (int i = 0; i < batch; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd;

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
			case EMFILE:
			case ENFILE:
				if (evict_one(d))
					continue;
				/* FALLTHROUGH */
			default:
				/* ENOBUFS, ENOMEM or worse, or out of fds
				 * with nothing to evict: retrying at once
				 * would spin. */
				if (!d->accept_err_logged)
					log_warn("http: accept: %s; pausing",
					    strerror(errno));
				d->accept_err_logged = true;
				ev_io_set(d->lio, 0);
				ev_timer_arm(d->pause, ACCEPT_PAUSE_MS);
				return;
			}
		}
		if (sl > sizeof(ss))
			sl = sizeof(ss);
		memset((char *)&ss + sl, 0, sizeof(ss) - sl);
		d->accept_err_logged = false;
		while (d->st.open >= d->lim.max_connections && evict_one(d))
			;
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
	/* Accepted sockets inherit it. */
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
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

/*
 * Connections are handed over once their first bytes have arrived (or after
 * the header timeout): silent ones wait in the kernel, not here, and a
 * request can be answered in the turn its connection is accepted.
 */
static void
set_defer_accept(struct httpd *d)
{
	int secs = (int)((d->lim.header_timeout + 999) / 1000);

	if (d->listen_fd >= 0)
		(void)setsockopt(d->listen_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT,
		    &secs, sizeof(secs));
}

static void
size_scratch(struct httpd *d)
{
	/* Never shrunk: kept heads of a lower limit still fit. */
	if (d->scratch_cap < d->lim.max_request_size) {
		d->scratch =
		    xreallocarray(d->scratch, d->lim.max_request_size, 1);
		d->scratch_cap = d->lim.max_request_size;
	}
}

struct httpd *
httpd_new(struct ev *ev, int listen_fd, const struct httpd_limits *lim,
    httpd_handler handler, void *arg)
{
	struct httpd *d = xcalloc(1, sizeof(*d));
	int one = 1;

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
	/* For a listener made elsewhere; fails harmlessly if not TCP. */
	(void)setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
	set_defer_accept(d);
	d->lio = ev_io_add(ev, listen_fd, EV_READ, on_accept, d);
	if (d->lio == NULL) {
		free(d);
		return NULL;
	}
	d->pause = ev_timer_new(ev, accept_resume, d);
	d->timer = ev_timer_new(ev, on_timer, d);
	size_scratch(d);
	ensure_nofile(d->lim.max_connections);
	return d;
}

void
httpd_set_limits(struct httpd *d, const struct httpd_limits *lim)
{
	apply_limits(&d->lim, lim);
	set_defer_accept(d);
	size_scratch(d);
	ensure_nofile(d->lim.max_connections);
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
	for (int q = 0; q < Q_N; q++)
		while (d->q[q] != NULL)
			conn_close(d->q[q]);
	ev_io_del(d->lio);
	ev_timer_free(d->pause);
	ev_timer_free(d->timer);
	free(d->scratch);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	free(d);
}

void
httpd_stats(const struct httpd *d, struct httpd_stats *out)
{
	*out = d->st;
}
