/* SPDX-License-Identifier: ISC */
/*
 * Tests for the HTTP server: the parent runs the event loop with three
 * servers on 127.0.0.1 (functional, short timeouts, max 4 connections) and a
 * forked child talks to them with blocking sockets, printing TAP. The child
 * hands its test count back through a pipe; the parent then checks the
 * counters and the listener hand-over.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "httpd.h"
#include "log.h"
#include "tap.h"
#include "xmalloc.h"

#define BIG_LEN 1000000
#define N_BIG 40

static bool peer_was_loopback;

static void
handler(const struct http_request *req, const struct sockaddr *peer,
    struct httpd_resp *resp, void *arg)
{
	(void)arg;
	if (peer->sa_family == AF_INET &&
	    ((const struct sockaddr_in *)peer)->sin_addr.s_addr ==
	        htonl(INADDR_LOOPBACK))
		peer_was_loopback = true;
	if (req->path.len == 7 && memcmp(req->path.p, "/health", 7) == 0) {
		resp->status = 200;
		resp->content_type = "text/plain";
		resp->body = xstrdup("ok");
		resp->body_len = 2;
	} else if (req->path.len == 5 && memcmp(req->path.p, "/echo", 5) == 0) {
		resp->status = 200;
		resp->body = xstrndup(req->query.p, req->query.len);
		resp->body_len = req->query.len;
	} else if (req->path.len == 4 && memcmp(req->path.p, "/big", 4) == 0) {
		resp->status = 200;
		resp->body = xmalloc(BIG_LEN);
		memset(resp->body, '.', BIG_LEN);
		memcpy(resp->body, req->query.p,
		    req->query.len < BIG_LEN ? req->query.len : BIG_LEN);
		resp->body_len = BIG_LEN;
	} else if (req->path.len == 4 && memcmp(req->path.p, "/bad", 4) == 0) {
		resp->status = 42;
	} else {
		resp->status = 404;
		resp->body = xstrdup("{\"error\":\"not found\"}");
		resp->body_len = strlen(resp->body);
	}
}

/* ---- the client side (child process, blocking sockets) ---- */

struct client {
	int fd;
	char *buf;
	size_t len, cap;
};

struct resp {
	int status;
	char head[2048];
	char *body;
	size_t body_len;
};

static mono_ms
now_ms(void)
{
	return util_now_ms();
}

static int
client_open(int port, struct client *c)
{
	struct sockaddr_in sin;
	struct timeval tv = {.tv_sec = 5};

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(c->fd);
		return -1;
	}
	c->cap = 1 << 20;
	c->buf = xmalloc(c->cap);
	return 0;
}

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

static int
client_send(struct client *c, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
client_sends(struct client *c, const char *s)
{
	return client_send(c, s, strlen(s));
}

/* Read more into the buffer: >0 bytes, 0 EOF, -1 error or timeout. */
static ssize_t
client_fill(struct client *c)
{
	ssize_t n;

	if (c->len == c->cap)
		return -1;
	do
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

/*
 * Read one response; head says whether it answers a HEAD request. Returns 0,
 * -1 on EOF before the first byte, -2 on anything else.
 */
static int
client_read(struct client *c, bool head, struct resp *r)
{
	char *end, *cl;
	size_t hl, blen;

	memset(r, 0, sizeof(*r));
	for (;;) {
		ssize_t n;

		end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end != NULL)
			break;
		n = client_fill(c);
		if (n == 0 && c->len == 0)
			return -1;
		if (n <= 0)
			return -2;
	}
	hl = (size_t)(end - c->buf) + 4;
	if (hl >= sizeof(r->head))
		return -2;
	memcpy(r->head, c->buf, hl);
	r->head[hl] = '\0';
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		return -2;
	cl = strstr(r->head, "\r\nContent-Length: ");
	if (cl == NULL)
		return -2;
	blen = strtoul(cl + 18, NULL, 10);
	if (head)
		blen = 0;
	while (c->len < hl + blen) {
		if (client_fill(c) <= 0)
			return -2;
	}
	r->body = xmalloc(blen + 1);
	memcpy(r->body, c->buf + hl, blen);
	r->body[blen] = '\0';
	r->body_len = blen;
	c->len -= hl + blen;
	memmove(c->buf, c->buf + hl + blen, c->len);
	return 0;
}

/* Wait for the server to close: true on EOF or reset within 5 s. */
static bool
client_eof(struct client *c)
{
	for (;;) {
		ssize_t n;

		c->len = 0;
		n = client_fill(c);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0)
			return false;
	}
}

static bool
has_header(const struct resp *r, const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(r->head, want) != NULL;
}

/* One request on a fresh connection; the response, then whether it closed. */
static void
one_shot(int port, const char *req, int status, const char *what)
{
	struct client c;
	struct resp r;

	if (client_open(port, &c) < 0) {
		ok(0, "%s: connect", what);
		return;
	}
	client_sends(&c, req);
	is_int(client_read(&c, false, &r), 0, "%s: response", what);
	is_int(r.status, status, "%s: status %d", what, status);
	ok(has_header(&r, "Connection: close"), "%s: Connection: close", what);
	ok(strstr(r.body ? r.body : "", "{\"error\":\"") == r.body,
	    "%s: JSON error body %s", what, r.body ? r.body : "");
	ok(client_eof(&c), "%s: connection closed", what);
	free(r.body);
	client_close(&c);
}

static void
test_keepalive(int port)
{
	struct client c;
	struct resp r;

	client_open(port, &c);
	client_sends(&c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "keep-alive: first response");
	is_int(r.status, 200, "keep-alive: 200");
	is_str(r.body, "ok", "keep-alive: body");
	ok(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0, "status line");
	ok(has_header(&r, "Content-Type: text/plain"), "Content-Type");
	ok(has_header(&r, "Content-Length: 2"), "Content-Length");
	ok(has_header(&r, "Cache-Control: no-store"), "Cache-Control");
	ok(has_header(&r, "Connection: keep-alive"), "Connection: keep-alive");
	free(r.body);
	client_sends(&c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "keep-alive: second response");
	is_int(r.status, 404, "keep-alive: handler 404 on the same connection");
	ok(has_header(&r, "Content-Type: application/json"),
	    "default Content-Type");
	ok(has_header(&r, "Connection: keep-alive"),
	    "handler 404 keeps the connection");
	free(r.body);
	client_sends(&c, "GET /bad HTTP/1.1\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "bad handler status: response");
	is_int(r.status, 500, "bad handler status becomes 500");
	free(r.body);
	client_sends(&c,
	    "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "keep-alive: third response");
	ok(has_header(&r, "Connection: close"), "Connection: close honoured");
	ok(client_eof(&c), "closed after Connection: close");
	free(r.body);
	client_close(&c);

	client_open(port, &c);
	client_sends(&c, "GET /health HTTP/1.0\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "HTTP/1.0: response");
	ok(has_header(&r, "Connection: close"), "HTTP/1.0: Connection: close");
	ok(client_eof(&c), "HTTP/1.0: closed");
	free(r.body);
	client_close(&c);

	client_open(port, &c);
	client_sends(&c,
	    "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "HTTP/1.0 keep-alive: response");
	ok(has_header(&r, "Connection: keep-alive"),
	    "HTTP/1.0 keep-alive: kept");
	free(r.body);
	client_sends(&c, "GET /echo?again HTTP/1.0\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "HTTP/1.0: second request");
	is_str(r.body, "again", "HTTP/1.0: second body");
	free(r.body);
	client_close(&c);
}

static void
test_head(int port)
{
	struct client c;
	struct resp r;

	client_open(port, &c);
	client_sends(&c, "HEAD /health HTTP/1.1\r\n\r\n");
	is_int(client_read(&c, true, &r), 0, "HEAD: response");
	is_int(r.status, 200, "HEAD: 200");
	ok(has_header(&r, "Content-Length: 2"), "HEAD: Content-Length of GET");
	free(r.body);
	/* If a body had been sent it would be read as the next status line. */
	client_sends(&c, "GET /echo?next HTTP/1.1\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "HEAD: no body was sent");
	is_str(r.body, "next", "HEAD: next response intact");
	free(r.body);
	client_close(&c);
}

static void
test_pipelining(int port)
{
	struct client c;
	struct resp r;
	char req[N_BIG * 40];
	size_t off = 0;
	bool in_order = true;

	client_open(port, &c);
	client_sends(&c,
	    "GET /echo?1 HTTP/1.1\r\n\r\n"
	    "HEAD /echo?2 HTTP/1.1\r\n\r\n"
	    "GET /echo?3 HTTP/1.1\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "pipelined: response 1");
	is_str(r.body, "1", "pipelined: body 1");
	free(r.body);
	is_int(client_read(&c, true, &r), 0, "pipelined: response 2 (HEAD)");
	ok(has_header(&r, "Content-Length: 1"), "pipelined: HEAD length");
	free(r.body);
	is_int(client_read(&c, false, &r), 0, "pipelined: response 3");
	is_str(r.body, "3", "pipelined: body 3");
	free(r.body);
	client_close(&c);

	/* 40 MB of responses to a client that does not read at first: more
	 * than the socket buffers hold, so the server must stop at its
	 * output cap and resume in order. */
	client_open(port, &c);
	for (int i = 0; i < N_BIG; i++)
		off += (size_t)snprintf(req + off, sizeof(req) - off,
		    "GET /big?%d HTTP/1.1\r\n\r\n", i);
	client_send(&c, req, off);
	poll(NULL, 0, 300);
	for (int i = 0; i < N_BIG; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%d.", i);
		if (client_read(&c, false, &r) != 0 || r.status != 200 ||
		    r.body_len != BIG_LEN ||
		    strncmp(r.body, want, strlen(want)) != 0) {
			in_order = false;
			free(r.body);
			break;
		}
		free(r.body);
	}
	ok(in_order, "pipelined: %d responses of %d bytes, in order", N_BIG,
	    BIG_LEN);
	client_close(&c);
}

static void
test_errors(int port)
{
	char *big;
	size_t n;

	one_shot(port, "POST /health HTTP/1.1\r\n\r\n", 405, "POST");
	{
		struct client c;
		struct resp r;

		client_open(port, &c);
		client_sends(&c, "DELETE /health HTTP/1.1\r\n\r\n");
		client_read(&c, false, &r);
		ok(has_header(&r, "Allow: GET, HEAD"), "405 has Allow");
		ok(strncmp(r.head, "HTTP/1.1 405 Method Not Allowed\r\n", 33) ==
		        0,
		    "405 status line");
		free(r.body);
		client_close(&c);
	}
	one_shot(port, "get /health HTTP/1.1\r\n\r\n", 405, "lowercase get");
	one_shot(port, "BLAH\x01\r\n\r\n", 400, "garbage");
	one_shot(port, "GET /health HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400,
	    "obs-fold");
	one_shot(port, "GET /health HTTP/2.0\r\n\r\n", 505, "HTTP/2.0");
	one_shot(port, "GET /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
	    413, "request body");
	one_shot(port,
	    "GET /health HTTP/1.1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n0\r\n\r\n",
	    501, "Transfer-Encoding");

	/* A 9 KiB header: 431, even though the client is still sending. */
	n = 9 * 1024;
	big = xmalloc(n + 64);
	strcpy(big, "GET /health HTTP/1.1\r\nX-Big: ");
	memset(big + strlen(big), 'a', n);
	strcpy(big + 29 + n, "\r\n\r\n");
	one_shot(port, big, 431, "9 KiB header");
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', n);
	strcpy(big + 5 + n, " HTTP/1.1\r\n\r\n");
	one_shot(port, big, 414, "9 KiB request line");
	free(big);
	{
		struct client c;
		struct resp r;

		client_open(port, &c);
		client_sends(&c, "GET /health HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n");
		is_int(client_read(&c, false, &r), 0, "good then garbage: 1st");
		is_int(r.status, 200, "good then garbage: 200 first");
		free(r.body);
		is_int(client_read(&c, false, &r), 0, "good then garbage: 2nd");
		is_int(r.status, 400, "good then garbage: then 400");
		free(r.body);
		ok(client_eof(&c), "good then garbage: closed");
		client_close(&c);
	}
}

static void
test_timeouts(int port)
{
	struct client c;
	struct resp r;
	mono_ms t0, dt;
	bool closed = false;

	/* The head never completes: closed after header_timeout (200 ms). */
	client_open(port, &c);
	t0 = now_ms();
	client_sends(&c, "GET /health HTTP/1.1\r\n");
	ok(client_eof(&c), "header timeout closes a silent connection");
	dt = now_ms() - t0;
	ok(dt >= 100, "...not at once (%llu ms)", (unsigned long long)dt);
	client_close(&c);

	/* Slowloris: a byte every 50 ms does not reset the timer. */
	client_open(port, &c);
	t0 = now_ms();
	client_sends(&c, "GET /health HTTP/1.1\r\nX-Slow: ");
	while (now_ms() - t0 < 5000) {
		struct pollfd p = {.fd = c.fd, .events = POLLIN};

		if (poll(&p, 1, 50) > 0) {
			closed = client_eof(&c);
			break;
		}
		if (client_sends(&c, "a") < 0) {
			closed = true;
			break;
		}
	}
	ok(closed, "slowloris closed after %llu ms",
	    (unsigned long long)(now_ms() - t0));
	client_close(&c);

	/* Keep-alive idle timeout (300 ms). */
	client_open(port, &c);
	client_sends(&c, "GET /health HTTP/1.1\r\n\r\n");
	is_int(client_read(&c, false, &r), 0, "idle: response");
	free(r.body);
	ok(client_eof(&c), "idle keep-alive connection closed");
	client_close(&c);
}

static void
test_max_connections(int port)
{
	struct client c[4], extra, slow;
	struct resp r;

	for (int i = 0; i < 4; i++) {
		client_open(port, &c[i]);
		client_sends(&c[i], "GET /health HTTP/1.1\r\n\r\n");
		is_int(client_read(&c[i], false, &r), 0, "conn %d served", i);
		free(r.body);
	}
	/* Full: a newcomer is served, and the oldest idle one is closed. */
	client_open(port, &extra);
	client_sends(&extra, "GET /health HTTP/1.1\r\n\r\n");
	is_int(client_read(&extra, false, &r), 0,
	    "5th connection is served (not refused)");
	is_int(r.status, 200, "5th connection: 200");
	free(r.body);
	ok(client_eof(&c[0]), "the oldest idle connection was evicted");
	client_sends(&c[1], "GET /echo?still HTTP/1.1\r\n\r\n");
	is_int(client_read(&c[1], false, &r), 0, "other open ones still work");
	free(r.body);
	/* Full again (c[1..3], extra): a slow head evicts the oldest idle
	 * one, c[2] (c[1] was used since), not a busy or newer one. */
	client_open(port, &slow);
	client_sends(&slow, "GET /health HTTP/1.1\r\nX-Slow: ");
	ok(client_eof(&c[2]), "then the next oldest idle one");
	client_sends(&c[3], "GET /echo?c3 HTTP/1.1\r\n\r\n");
	is_int(client_read(&c[3], false, &r), 0,
	    "a newer idle one still works");
	free(r.body);
	client_close(&extra);
	client_close(&slow);
	for (int i = 0; i < 4; i++)
		client_close(&c[i]);
}

static void
child(int fport, int tport, int mport, int wfd)
{
	char msg[64];
	int n;

	test_keepalive(fport);
	test_head(fport);
	test_pipelining(fport);
	test_errors(fport);
	test_timeouts(tport);
	test_max_connections(mport);
	n = snprintf(msg, sizeof(msg), "%d %d\n", tap_n, tap_failed);
	if (write(wfd, msg, (size_t)n) != n)
		_exit(2);
	_exit(0);
}

/* ---- the server side (parent, event loop) ---- */

struct parent {
	struct ev *ev;
	int rfd;
	char msg[64];
	size_t len;
	bool timed_out;
};

static void
on_child(int fd, unsigned events, void *arg)
{
	struct parent *p = arg;
	ssize_t n;

	(void)events;
	n = read(fd, p->msg + p->len, sizeof(p->msg) - 1 - p->len);
	if (n > 0) {
		p->len += (size_t)n;
		return;
	}
	ev_stop(p->ev);
}

static void
on_deadline(void *arg)
{
	struct parent *p = arg;

	p->timed_out = true;
	ev_stop(p->ev);
}

static struct httpd *
server(struct ev *ev, int max, mono_ms hto, mono_ms ito, int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	struct httpd_limits lim = {max, hto, ito};
	char err[256];
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = httpd_listen((struct sockaddr *)&sin, sizeof(sin), err,
	    sizeof(err));
	if (fd < 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	return httpd_new(ev, fd, &lim, handler, NULL);
}

static void
test_listen(void)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin6);
	char err[256];
	int fd, cfd, flags;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr = in6addr_any;
	fd = httpd_listen((struct sockaddr *)&sin6, sizeof(sin6), err,
	    sizeof(err));
	if (fd < 0) {
		ok(1, "# SKIP no IPv6 here: %s", err);
		ok(1, "# SKIP no IPv6 here");
	} else {
		flags = fcntl(fd, F_GETFL);
		ok((flags & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
		    "listener is non-blocking and close-on-exec");
		getsockname(fd, (struct sockaddr *)&sin6, &sl);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = sin6.sin6_port;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		cfd = socket(AF_INET, SOCK_STREAM, 0);
		ok(connect(cfd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
		    "[::] also takes IPv4 connections");
		close(cfd);
		close(fd);
	}

	/* A port in use gives a message, not a crash. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = httpd_listen((struct sockaddr *)&sin, sizeof(sin), err,
	    sizeof(err));
	sl = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	err[0] = '\0';
	ok(httpd_listen((struct sockaddr *)&sin, sizeof(sin), err,
	       sizeof(err)) < 0 &&
	        strstr(err, "bind 127.0.0.1:") != NULL,
	    "bind to a port in use fails: %s", err);
	close(fd);
}

static void
test_detach(struct ev *ev, struct httpd *d)
{
	int fd = httpd_listen_fd(d), got;
	struct httpd *d2;

	ok(fd >= 0, "listen fd");
	got = httpd_detach_listener(d);
	is_int(got, fd, "detach returns the listening fd");
	is_int(httpd_listen_fd(d), -1, "listen fd is gone after detach");
	is_int(httpd_detach_listener(d), -1, "second detach gives -1");
	httpd_free(d);
	ok(fcntl(fd, F_GETFD) >= 0, "httpd_free kept the detached fd open");
	d2 = httpd_new(ev, fd, NULL, handler, NULL);
	ok(d2 != NULL && httpd_listen_fd(d2) == fd,
	    "a new httpd takes the fd over");
	httpd_free(d2);
	ok(fcntl(fd, F_GETFD) < 0, "httpd_free closed the owned fd");
}

int
main(void)
{
	struct parent p;
	struct httpd *f, *t, *m;
	struct httpd_stats fs, ts, ms;
	struct ev_timer *deadline;
	struct ev_io *cio;
	int fport, tport, mport, pfd[2], status, cn = 0, cf = 0;
	pid_t pid;

	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LEVEL_WARNING, false);
	test_listen();

	memset(&p, 0, sizeof(p));
	p.ev = ev_new();
	f = server(p.ev, 64, 10000, 10000, &fport);
	t = server(p.ev, 64, 200, 300, &tport);
	m = server(p.ev, 4, 10000, 10000, &mport);
	if (f == NULL || t == NULL || m == NULL || pipe(pfd) < 0) {
		printf("Bail out! setup\n");
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child(fport, tport, mport, pfd[1]);
	}
	close(pfd[1]);
	p.rfd = pfd[0];
	cio = ev_io_add(p.ev, p.rfd, EV_READ, on_child, &p);
	deadline = ev_timer_new(p.ev, on_deadline, &p);
	ev_timer_arm(deadline, 120000);
	ev_run(p.ev);
	if (p.timed_out)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	p.msg[p.len] = '\0';
	/* The child numbered its tests on from ours; continue after them. */
	if (sscanf(p.msg, "%d %d", &cn, &cf) == 2) {
		tap_n = cn;
		tap_failed = cf;
	}
	ok(!p.timed_out, "the client finished in time");
	ok(p.len > 0, "client reported its results");
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client exit 0");

	httpd_stats(f, &fs);
	httpd_stats(t, &ts);
	httpd_stats(m, &ms);
	ok(peer_was_loopback, "handler saw the peer address");
	ok(fs.requests >= 20, "functional: %lu requests", fs.requests);
	ok(fs.errors_4xx >= 10, "functional: %lu 4xx", fs.errors_4xx);
	is_int(fs.rejected, 0, "functional: nothing rejected");
	ok(fs.accepted >= 15, "functional: %lu accepted", fs.accepted);
	ok(ts.timeouts >= 2, "timeouts counted: %lu", ts.timeouts);
	ok(ms.evicted >= 2, "max_connections: %lu evicted", ms.evicted);
	is_int(ms.rejected, 0, "max_connections: nothing rejected");
	ok(ms.open <= 4, "max_connections: %d open", ms.open);

	test_detach(p.ev, f);
	httpd_free(t);
	httpd_free(m);
	ev_timer_free(deadline);
	ev_io_del(cio);
	close(p.rfd);
	ev_free(p.ev);
	return done_testing();
}
