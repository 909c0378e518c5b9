/* SPDX-License-Identifier: ISC */
/*
 * Outbound HTTP for the checks and the AWS calls: one libcurl multi handle
 * driven by curl_multi_socket_action. curl says which fds to watch through
 * the socket callback (each fd gets an ev_io, kept with curl_multi_assign)
 * and when to wake through the timer callback (one ev_timer). Finished
 * transfers are collected with curl_multi_info_read after every
 * socket_action and reported through the request's callback, never from
 * inside curl or inside httpc_request.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ev.h"
#include "httpc.h"
#include "log.h"
#include "xmalloc.h"

#define DEFAULT_MAX_BODY (64 * 1024)
#define MAX_HEADERS (16 * 1024)

struct httpc_sock;

struct httpc {
	struct ev *ev;
	CURLM *multi;
	struct ev_timer *timer;
	struct httpc_req *reqs; /* in flight, doubly linked */
	struct httpc_sock *socks;
	size_t active;
	int dispatching; /* depth of collect() */
	bool dying;      /* httpc_free() called from a callback */
};

struct httpc_sock {
	struct httpc *hc;
	curl_socket_t fd;
	struct ev_io *io;
	struct httpc_sock *prev, *next;
};

struct httpc_req {
	struct httpc *hc;
	CURL *easy;
	struct curl_slist *hdrs;
	char *url;
	char *method;
	httpc_done_cb cb;
	void *arg;
	bool done; /* callback running; cancel is a no-op */

	char *body;
	size_t body_len, max_body;
	bool truncated;
	char *head;
	size_t head_len;
	char errbuf[CURL_ERROR_SIZE];
	struct httpc_req *prev, *next;
};

static bool global_ready;

static void
req_unlink(struct httpc_req *r)
{
	struct httpc *hc = r->hc;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		hc->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	hc->active--;
}

/*
 * Requests and responses may carry secrets (the IMDS session token and the
 * SigV4 Authorization and X-Amz-Security-Token headers going out, role
 * credentials coming back): what this module owns is zeroed before it is
 * freed. curl's own copies are curl's.
 */
static void
req_free(struct httpc_req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	for (struct curl_slist *l = r->hdrs; l != NULL; l = l->next)
		if (l->data != NULL)
			OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(r->hdrs);
	free(r->url);
	free(r->method);
	if (r->body != NULL)
		xfreezero(r->body, r->body_len + 1);
	if (r->head != NULL) /* a 1xx block may lie past head_len */
		xfreezero(r->head, MAX_HEADERS + 1);
	xfreezero(r, sizeof(*r));
}

/* Detach from the multi and the list; no callback. */
static void
req_remove(struct httpc_req *r)
{
	curl_multi_remove_handle(r->hc->multi, r->easy);
	req_unlink(r);
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct httpc_req *r = arg;
	size_t n = size * nmemb, room = r->max_body - r->body_len;

	if (n > room) {
		/* Keep the first max_body bytes and stop the transfer: a
		 * short write makes curl end with CURLE_WRITE_ERROR, which
		 * collect() reports as a completed, truncated response. */
		memcpy(r->body + r->body_len, ptr, room);
		r->body_len += room;
		r->body[r->body_len] = '\0';
		r->truncated = true;
		return room;
	}
	memcpy(r->body + r->body_len, ptr, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return n;
}

static size_t
header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct httpc_req *r = arg;
	size_t n = size * nmemb, c;

	/* A new status line starts a new block (after a 1xx response): keep
	 * only the final one. */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		r->head_len = 0;
	c = MAX_HEADERS - r->head_len;
	if (c > n)
		c = n;
	memcpy(r->head + r->head_len, ptr, c);
	r->head_len += c;
	r->head[r->head_len] = '\0';
	return n;
}

static void fill_resp(struct httpc_req *r, CURLcode code,
    struct httpc_resp *resp);

static void httpc_destroy(struct httpc *hc);

/* Report every finished transfer. */
static void
collect(struct httpc *hc)
{
	CURLMsg *msg;
	int left;

	hc->dispatching++;
	while (!hc->dying &&
	    (msg = curl_multi_info_read(hc->multi, &left)) != NULL) {
		struct httpc_req *r;
		struct httpc_resp resp;
		CURLcode code;
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv == NULL)
			continue;
		r = (struct httpc_req *)(void *)priv;
		fill_resp(r, code, &resp);
		req_remove(r);
		r->done = true;
		r->cb(&resp, r->arg);
		req_free(r);
	}
	hc->dispatching--;
	if (hc->dying && hc->dispatching == 0)
		httpc_destroy(hc);
}

static void
fill_resp(struct httpc_req *r, CURLcode code, struct httpc_resp *resp)
{
	curl_off_t us = 0;
	long os_errno = 0;

	memset(resp, 0, sizeof(*resp));
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME_T, &us);
	resp->total_ms = (double)us / 1000.0;
	if (code == CURLE_WRITE_ERROR && r->truncated && resp->status > 0)
		code = CURLE_OK; /* we stopped it on purpose */
	resp->curl_code = (int)code;
	if (code != CURLE_OK) {
		resp->error =
		    r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(code);
		resp->timed_out = code == CURLE_OPERATION_TIMEDOUT;
		curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
		resp->refused =
		    code == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED;
	}
	resp->body = r->body;
	resp->body_len = r->body_len;
	resp->truncated = r->truncated;
	resp->headers = r->head;
}

static void
action(struct httpc *hc, curl_socket_t fd, int mask)
{
	int running;
	CURLMcode mc;

	mc = curl_multi_socket_action(hc->multi, fd, mask, &running);
	if (mc != CURLM_OK)
		log_err("curl_multi_socket_action: %s",
		    curl_multi_strerror(mc));
	collect(hc);
}

static void
io_cb(int fd, unsigned events, void *arg)
{
	struct httpc_sock *s = arg;
	int mask = 0;

	if (events & EV_READ)
		mask |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		mask |= CURL_CSELECT_OUT;
	if (events & EV_ERROR)
		mask |= CURL_CSELECT_ERR;
	action(s->hc, fd, mask);
}

static void
timer_cb(void *arg)
{
	action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void
sock_free(struct httpc_sock *s)
{
	struct httpc *hc = s->hc;

	ev_io_del(s->io);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		hc->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s);
}

static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct httpc *hc = userp;
	struct httpc_sock *s = socketp;
	unsigned events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			curl_multi_assign(hc->multi, fd, NULL);
			sock_free(s);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->hc = hc;
		s->fd = fd;
		s->io = ev_io_add(hc->ev, fd, events, io_cb, s);
		if (s->io == NULL) {
			free(s);
			return -1; /* curl fails the transfer */
		}
		s->next = hc->socks;
		if (hc->socks != NULL)
			hc->socks->prev = s;
		hc->socks = s;
		curl_multi_assign(hc->multi, fd, s);
	} else if (ev_io_set(s->io, events) < 0) {
		return -1;
	}
	return 0;
}

static int
multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc *hc = userp;

	(void)multi;
	/* Only (re)arm here: socket_action must not be called from inside
	 * a curl callback. A 0 timeout runs in the next loop turn. */
	if (timeout_ms < 0)
		ev_timer_disarm(hc->timer);
	else
		ev_timer_arm(hc->timer, (mono_ms)timeout_ms);
	return 0;
}

struct httpc *
httpc_new(struct ev *ev)
{
	struct httpc *hc;

	if (!global_ready) {
		CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

		if (rc != CURLE_OK) {
			log_err("curl_global_init: %s", curl_easy_strerror(rc));
			return NULL;
		}
		global_ready = true;
	}
	hc = xcalloc(1, sizeof(*hc));
	hc->ev = ev;
	hc->multi = curl_multi_init();
	if (hc->multi == NULL) {
		log_err("curl_multi_init failed");
		free(hc);
		return NULL;
	}
	hc->timer = ev_timer_new(ev, timer_cb, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
	curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
	return hc;
}

static void
httpc_destroy(struct httpc *hc)
{
	while (hc->reqs != NULL) {
		struct httpc_req *r = hc->reqs;

		req_remove(r);
		req_free(r);
	}
	curl_multi_cleanup(hc->multi);
	/* Sockets curl did not announce as removed during cleanup. */
	while (hc->socks != NULL)
		sock_free(hc->socks);
	ev_timer_free(hc->timer);
	free(hc);
}

void
httpc_free(struct httpc *hc)
{
	if (hc == NULL)
		return;
	if (hc->dispatching > 0) {
		/* Called from a completion callback: collect() finishes. */
		hc->dying = true;
		return;
	}
	httpc_destroy(hc);
}

size_t
httpc_active(const struct httpc *hc)
{
	return hc->active;
}

static int
setup(struct httpc_req *r, const struct httpc_opts *o)
{
	CURL *e = r->easy;
	const char *m = r->method;
	long tmo = o->timeout_ms > 0 ? o->timeout_ms : 0;
	long ctmo = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : tmo;
	bool has_expect = false;
	CURLcode rc = CURLE_OK;

	for (size_t i = 0; o->headers != NULL && o->headers[i] != NULL; i++) {
		struct curl_slist *l =
		    curl_slist_append(r->hdrs, o->headers[i]);

		if (l == NULL)
			return -1;
		r->hdrs = l;
		if (strncasecmp(o->headers[i], "Expect:", 7) == 0)
			has_expect = true;
	}
	/* No 100-continue round trip for the small bodies we send. */
	if (o->body != NULL && !has_expect) {
		struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");

		if (l == NULL)
			return -1;
		r->hdrs = l;
	}

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(e, opt, val);                    \
	} while (0)

	SET(CURLOPT_PRIVATE, r);
	SET(CURLOPT_URL, r->url);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_TIMEOUT_MS, tmo);
	SET(CURLOPT_CONNECTTIMEOUT_MS, ctmo);
	SET(CURLOPT_USERAGENT, "healthagent/" PACKAGE_VERSION);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, r);
	if (r->hdrs != NULL)
		SET(CURLOPT_HTTPHEADER, r->hdrs);
	if (o->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (o->no_proxy)
		SET(CURLOPT_NOPROXY, "*");

	if (strcmp(m, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (o->body != NULL) {
		/* The size must be set before the copy. */
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
		SET(CURLOPT_COPYPOSTFIELDS, (const char *)o->body);
		if (strcmp(m, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, m);
	} else if (strcmp(m, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "POST") == 0) {
		SET(CURLOPT_POSTFIELDSIZE, 0L);
		SET(CURLOPT_COPYPOSTFIELDS, "");
	} else {
		SET(CURLOPT_CUSTOMREQUEST, m);
	}
#undef SET
	if (rc != CURLE_OK) {
		log_err("http %s %s: %s", m, r->url, curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

static bool
method_ok(const char *m)
{
	if (*m == '\0')
		return false;
	for (; *m != '\0'; m++)
		if (!((*m >= 'A' && *m <= 'Z') || *m == '-'))
			return false;
	return true;
}

struct httpc_req *
httpc_request(struct httpc *hc, const struct httpc_opts *o, httpc_done_cb cb,
    void *arg)
{
	struct httpc_req *r;
	CURLMcode mc;
	const char *m = o->method != NULL ? o->method : "GET";

	if (hc->dying)
		return NULL;
	if (o->url == NULL || *o->url == '\0') {
		log_err("http request without a url");
		return NULL;
	}
	if (!method_ok(m)) {
		log_err("http %s: bad method \"%s\"", o->url, m);
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->hc = hc;
	r->cb = cb;
	r->arg = arg;
	r->url = xstrdup(o->url);
	r->method = xstrdup(m);
	r->max_body = o->max_body > 0 ? o->max_body : DEFAULT_MAX_BODY;
	r->body = xmalloc(r->max_body + 1);
	r->body[0] = '\0';
	r->head = xmalloc(MAX_HEADERS + 1);
	r->head[0] = '\0';
	r->easy = curl_easy_init();
	if (r->easy == NULL) {
		log_err("http %s %s: curl_easy_init failed", m, r->url);
		req_free(r);
		return NULL;
	}
	if (setup(r, o) < 0) {
		req_free(r);
		return NULL;
	}
	mc = curl_multi_add_handle(hc->multi, r->easy);
	if (mc != CURLM_OK) {
		log_err("http %s %s: %s", m, r->url, curl_multi_strerror(mc));
		req_free(r);
		return NULL;
	}
	r->next = hc->reqs;
	if (hc->reqs != NULL)
		hc->reqs->prev = r;
	hc->reqs = r;
	hc->active++;
	return r;
}

void
httpc_cancel(struct httpc_req *r)
{
	if (r == NULL || r->done)
		return;
	req_remove(r);
	req_free(r);
}
