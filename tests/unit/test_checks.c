/* SPDX-License-Identifier: ISC */
/*
 * Tests of the outbound HTTP client and the http, tcp and exec checks on
 * the real event loop and runner, against tests/fakeapp on 127.0.0.1
 * (found through $FAKEAPP, else ./tests/fakeapp). Covers statuses, refused
 * connections, timeouts, body truncation, cancellation, concurrency, exit
 * codes, signals, output capture and the reaping of cancelled children.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_exec.h"
#include "conf.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "log.h"
#include "tap.h"

static struct ev *loop;
static struct httpc *hc;
static struct ev_timer *guard;
static int port, dead_port;
static pid_t app_pid;
static char url[128];

static void
guard_cb(void *arg)
{
	*(int *)arg = 1;
	ev_stop(loop);
}

/* Run the loop until something calls ev_stop() or max_ms pass; returns 1
 * if the time ran out. */
static int
run_for(mono_ms max_ms)
{
	int expired = 0;

	guard = ev_timer_new(loop, guard_cb, &expired);
	ev_timer_arm(guard, max_ms);
	ev_run(loop);
	ev_timer_free(guard);
	return expired;
}

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("free_port");
		exit(1);
	}
	p = ntohs(sin.sin_port);
	close(fd);
	return p;
}

static void
msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int
can_connect(int p)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), r;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)p);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return r == 0;
}

static void
start_app(void)
{
	const char *bin = getenv("FAKEAPP");
	char ps[16];

	if (bin == NULL || *bin == '\0')
		bin = "./tests/fakeapp";
	port = free_port();
	dead_port = free_port();
	snprintf(ps, sizeof(ps), "%d", port);
	app_pid = fork();
	if (app_pid == 0) {
		/* Never outlive a crashed test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(bin, bin, "--port", ps, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 500 && !can_connect(port); i++)
		msleep(10);
	if (!can_connect(port)) {
		printf("Bail out! fakeapp (%s) did not start\n", bin);
		exit(1);
	}
}

/* ---- httpc ---- */

struct res {
	int calls;
	struct httpc_resp r;
	char body[256];
	char headers[1024];
	char error[256];
};

static void
res_cb(const struct httpc_resp *r, void *arg)
{
	struct res *x = arg;

	x->calls++;
	x->r = *r;
	snprintf(x->body, sizeof(x->body), "%s", r->body);
	snprintf(x->headers, sizeof(x->headers), "%s", r->headers);
	snprintf(x->error, sizeof(x->error), "%s", r->error ? r->error : "");
	x->r.body = x->body;
	x->r.headers = x->headers;
	x->r.error = x->error; /* the response dies with the callback */
	ev_stop(loop);
}

static struct res *
get(const char *path, long timeout_ms, size_t max_body)
{
	static struct res x;
	struct httpc_opts o;
	char u[256];

	memset(&x, 0, sizeof(x));
	memset(&o, 0, sizeof(o));
	snprintf(u, sizeof(u), "%s%s", url, path);
	o.url = u;
	o.timeout_ms = timeout_ms;
	o.max_body = max_body;
	if (httpc_request(hc, &o, res_cb, &x) == NULL) {
		x.calls = -1;
		return &x;
	}
	if (run_for(5000))
		printf("# %s: no answer in 5 s\n", path);
	return &x;
}

static struct res *
do_req(const char *method, const char *path, const char *const *hdrs,
    const char *body)
{
	static struct res x;
	struct httpc_opts o;
	char u[256];

	memset(&x, 0, sizeof(x));
	memset(&o, 0, sizeof(o));
	snprintf(u, sizeof(u), "%s%s", url, path);
	o.url = u;
	o.method = method;
	o.headers = hdrs;
	o.body = body;
	o.body_len = body != NULL ? strlen(body) : 0;
	o.timeout_ms = 2000;
	if (httpc_request(hc, &o, res_cb, &x) == NULL) {
		x.calls = -1;
		return &x;
	}
	if (run_for(5000))
		printf("# %s %s: no answer in 5 s\n", method, path);
	return &x;
}

static int concurrent_done, concurrent_ok;

static void
concurrent_cb(const struct httpc_resp *r, void *arg)
{
	concurrent_done++;
	if (r->curl_code == 0 && r->status == 200 &&
	    strcmp(r->body, "ok\n") == 0)
		concurrent_ok++;
	if (concurrent_done == 50)
		ev_stop(loop);
}

static int chain_calls;
static long chain_status;

static void
chain_cb(const struct httpc_resp *r, void *arg)
{
	struct httpc_opts o;
	char u[256];

	chain_calls++;
	chain_status = r->status;
	if (chain_calls == 1) {
		/* A new request from inside a completion callback. */
		memset(&o, 0, sizeof(o));
		snprintf(u, sizeof(u), "%s/healthz", url);
		o.url = u;
		o.timeout_ms = 2000;
		if (httpc_request(hc, &o, chain_cb, NULL) == NULL)
			ev_stop(loop);
		return;
	}
	ev_stop(loop);
}

static void
never_cb(const struct httpc_resp *r, void *arg)
{
	(*(int *)arg)++;
}

static void
stop_cb(void *arg)
{
	ev_stop(loop);
}

static void
test_httpc(void)
{
	struct res *x;
	struct httpc_opts o;
	struct httpc_req *req;
	int never = 0;
	mono_ms t0;
	char u[256];

	x = get("/healthz", 2000, 0);
	is_int(x->calls, 1, "GET /healthz: one callback");
	is_int(x->r.curl_code, 0, "GET /healthz: no curl error");
	is_int(x->r.status, 200, "GET /healthz: status 200");
	is_str(x->body, "ok\n", "GET /healthz: body");
	ok(strncmp(x->headers, "HTTP/1.1 200", 12) == 0 &&
	        strstr(x->headers, "Content-Length: 3") != NULL,
	    "GET /healthz: raw headers captured");
	ok(x->r.total_ms >= 0 && x->r.total_ms < 5000, "total_ms is sane");

	x = get("/echo", 2000, 0);
	ok(strncmp(x->body, "GET /echo HTTP/1.1\r\n", 20) == 0,
	    "default method is GET");
	ok(strstr(x->body,
	       "\r\nUser-Agent: healthagent/" PACKAGE_VERSION "\r\n") != NULL,
	    "User-Agent is healthagent/version");

	{
		static const char *const h[] = {"X-One: 1", "X-Two: two", NULL};

		x = do_req("POST", "/echo", h, "a=1&b=2");
		ok(strncmp(x->body, "POST /echo HTTP/1.1\r\n", 21) == 0,
		    "POST method");
		ok(strstr(x->body, "\r\nContent-Length: 7\r\n") != NULL &&
		        strstr(x->body, "\r\n\r\na=1&b=2") != NULL,
		    "POST body sent");
		ok(strstr(x->body, "\r\nX-One: 1\r\n") != NULL &&
		        strstr(x->body, "\r\nX-Two: two\r\n") != NULL,
		    "custom headers sent");
		ok(strstr(x->body, "Expect:") == NULL, "no Expect header");
	}
	{
		static const char *const h[] =
		    {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};

		x = do_req("PUT", "/echo", h, NULL);
		ok(strncmp(x->body, "PUT /echo HTTP/1.1\r\n", 20) == 0 &&
		        strstr(x->body,
		            "\r\nX-aws-ec2-metadata-token-ttl-seconds: "
		            "21600\r\n") != NULL,
		    "PUT without a body, with a header");
		x = do_req("PUT", "/echo", NULL, "xyz");
		ok(strncmp(x->body, "PUT /echo", 9) == 0 &&
		        strstr(x->body, "\r\n\r\nxyz") != NULL,
		    "PUT with a body");
		x = do_req("POST", "/echo", NULL, NULL);
		ok(strncmp(x->body, "POST /echo", 10) == 0 &&
		        strstr(x->body, "\r\nContent-Length: 0\r\n") != NULL,
		    "POST without a body");
		x = do_req("HEAD", "/healthz", NULL, NULL);
		ok(x->r.curl_code == 0 && x->r.status == 200 &&
		        x->r.body_len == 0,
		    "HEAD: status, no body (%d)", x->r.curl_code);
	}

	get("/control/fail", 2000, 0);
	x = get("/healthz", 2000, 0);
	is_int(x->r.status, 500, "fail mode: status 500");
	is_int(x->r.curl_code, 0, "fail mode: transfer completed");
	get("/control/ok", 2000, 0);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/healthz", dead_port);
	{
		static struct res y;

		memset(&o, 0, sizeof(o));
		o.url = u;
		o.timeout_ms = 2000;
		ok(httpc_request(hc, &o, res_cb, &y) != NULL,
		    "request to a closed port starts");
		run_for(5000);
		ok(y.calls == 1 && y.r.curl_code != 0 && y.r.refused &&
		        !y.r.timed_out,
		    "closed port: refused (%d: %s)", y.r.curl_code,
		    y.r.error ? y.r.error : "");
		is_int(y.r.status, 0, "closed port: no status");
	}

	get("/control/hang", 2000, 0);
	t0 = util_now_ms();
	x = get("/healthz", 300, 0);
	ok(x->calls == 1 && x->r.timed_out && x->r.curl_code == 28,
	    "hang mode: timed out (%d)", x->r.curl_code);
	ok(util_now_ms() - t0 >= 250 && util_now_ms() - t0 < 3000,
	    "hang mode: timeout took about 300 ms (%llu)",
	    (unsigned long long)(util_now_ms() - t0));

	/* Cancel: the callback never runs. */
	memset(&o, 0, sizeof(o));
	snprintf(u, sizeof(u), "%s/healthz", url);
	o.url = u;
	o.timeout_ms = 300;
	req = httpc_request(hc, &o, never_cb, &never);
	ok(req != NULL && httpc_active(hc) == 1, "hanging request in flight");
	{
		struct ev_timer *t = ev_timer_new(loop, stop_cb, NULL);

		ev_timer_arm(t, 50);
		run_for(2000);
		ev_timer_free(t);
	}
	httpc_cancel(req);
	is_int(httpc_active(hc), 0, "cancel: nothing in flight");
	run_for(600); /* past curl's timeout: a stray callback would run */
	is_int(never, 0, "cancel: callback never ran");
	get("/control/ok", 2000, 0);

	x = get("/big?n=100000", 2000, 1000);
	is_int(x->calls, 1, "big body: one callback");
	is_int(x->r.curl_code, 0, "big body: truncation is not an error");
	is_int(x->r.status, 200, "big body: status kept");
	ok(x->r.truncated, "big body: truncated flag");
	is_int(x->r.body_len, 1000, "big body: first max_body bytes kept");
	x = get("/big?n=1000", 2000, 1000);
	ok(!x->r.truncated && x->r.body_len == 1000 && x->r.curl_code == 0,
	    "body of exactly max_body: not truncated");

	/* Only http and https. */
	{
		static struct res y;

		memset(&o, 0, sizeof(o));
		o.url = "file:///etc/passwd";
		o.timeout_ms = 2000;
		req = httpc_request(hc, &o, res_cb, &y);
		if (req != NULL)
			run_for(5000);
		ok(req == NULL ||
		        (y.calls == 1 && y.r.curl_code != 0 &&
		            y.r.body_len == 0),
		    "file:// is refused");
	}
	memset(&o, 0, sizeof(o));
	o.url = u;
	o.method = "GE T";
	ok(httpc_request(hc, &o, never_cb, &never) == NULL,
	    "bad method refused at once");

	/* 50 at once. */
	memset(&o, 0, sizeof(o));
	o.url = u;
	o.timeout_ms = 5000;
	for (int i = 0; i < 50; i++)
		httpc_request(hc, &o, concurrent_cb, NULL);
	is_int(httpc_active(hc), 50, "50 requests in flight");
	run_for(10000);
	is_int(concurrent_done, 50, "50 concurrent: all completed");
	is_int(concurrent_ok, 50, "50 concurrent: all 200 ok");

	httpc_request(hc, &o, chain_cb, NULL);
	run_for(5000);
	ok(chain_calls == 2 && chain_status == 200,
	    "request started from a callback completes");

	/* Freeing with requests in flight runs no callback. */
	{
		struct httpc *h2 = httpc_new(loop);

		get("/control/hang", 2000, 0);
		o.timeout_ms = 200;
		for (int i = 0; i < 3; i++)
			httpc_request(h2, &o, never_cb, &never);
		run_for(50);
		httpc_free(h2);
		run_for(400);
		is_int(never, 0, "httpc_free: no callbacks");
		get("/control/ok", 2000, 0);
	}
}

/* ---- checks through the runner ---- */

static struct health *health;
static struct ev_timer *ticker;

static void
tick_cb(void *arg)
{
	struct health_check_view v;

	health_check(health, 0, &v);
	if (v.runs > 0)
		ev_stop(loop);
	else
		ev_timer_arm(ticker, 5);
}

/* Run one check once; fills *v with its result. */
static void
run_check(struct conf_check *cc, struct health_check_view *v)
{
	struct conf conf;
	struct check_env env;
	struct checks *cs;

	memset(&conf, 0, sizeof(conf));
	conf.checks = cc;
	conf.n_checks = 1;
	cc->name = (char *)"t";
	cc->interval = 60;
	if (cc->timeout == 0)
		cc->timeout = 2;
	cc->rise = cc->fall = 1;
	health = health_new(util_now_ms(), 0);
	memset(&env, 0, sizeof(env));
	env.ev = loop;
	env.httpc = hc;
	env.health = health;
	cs = checks_new(&conf, &env);
	checks_start(cs);
	ticker = ev_timer_new(loop, tick_cb, NULL);
	ev_timer_arm(ticker, 5);
	run_for(10000);
	ev_timer_free(ticker);
	health_check(health, 0, v);
	checks_free(cs);
	health_free(health);
}

static void
check_http(const char *path, int *expect, size_t n, const char *body,
    double timeout, struct health_check_view *v)
{
	static char u[256];
	struct conf_check cc;

	memset(&cc, 0, sizeof(cc));
	cc.type = CONF_CHECK_HTTP;
	snprintf(u, sizeof(u), "%s", path);
	cc.url = u;
	for (size_t i = 0; i < n; i++)
		cc.expect_status[i] = expect[i];
	cc.n_expect_status = n;
	cc.expect_body = (char *)body;
	cc.timeout = timeout;
	cc.headers[0] = (char *)"X-Test: 1";
	cc.n_headers = 1;
	run_check(&cc, v);
}

static void
test_http_check(void)
{
	struct health_check_view v;
	char u[256];
	int e200[] = {200}, e500[] = {200, 500};

	snprintf(u, sizeof(u), "%s/healthz", url);
	check_http(u, e200, 1, NULL, 1, &v);
	ok(v.last.ok && v.last.reason == HEALTH_R_OK, "http check: ok");
	is_str(v.last.detail, "status 200", "http check: detail");
	check_http(u, e200, 1, "ok", 1, &v);
	ok(v.last.ok, "http check: expect_body found");
	snprintf(u, sizeof(u), "%s/echo", url);
	check_http(u, e200, 1, "\r\nX-Test: 1\r\n", 1, &v);
	ok(v.last.ok, "http check: configured headers are sent");
	snprintf(u, sizeof(u), "%s/healthz", url);
	check_http(u, e200, 1, "nope", 1, &v);
	is_int(v.last.reason, HEALTH_R_BODY, "http check: body missing");
	is_str(v.last.detail, "body lacks \"nope\"", "http check: body detail");

	get("/control/fail", 2000, 0);
	check_http(u, e200, 1, NULL, 1, &v);
	is_int(v.last.reason, HEALTH_R_STATUS, "http check: bad status");
	is_str(v.last.detail, "status 500", "http check: status detail");
	check_http(u, e500, 2, NULL, 1, &v);
	ok(v.last.ok, "http check: 500 accepted when expected");

	get("/control/hang", 2000, 0);
	check_http(u, e200, 1, NULL, 0.3, &v);
	is_int(v.last.reason, HEALTH_R_TIMEOUT, "http check: hang is timeout");
	ok(strncmp(v.last.detail, "timeout after 300 ms", 20) == 0,
	    "http check: timeout detail (%s)", v.last.detail);
	is_int(httpc_active(hc), 0, "http check: timed-out request cancelled");
	get("/control/stall", 2000, 0);
	check_http(u, e200, 1, NULL, 0.3, &v);
	is_int(v.last.reason, HEALTH_R_TIMEOUT, "http check: stall is timeout");
	ok(strstr(v.last.detail, "body stalled") != NULL,
	    "http check: a stall mid-response is named (%s)", v.last.detail);
	get("/control/ok", 2000, 0);

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", dead_port);
	check_http(u, e200, 1, NULL, 1, &v);
	is_int(v.last.reason, HEALTH_R_REFUSED, "http check: refused");
	is_str(v.last.detail, "connection refused",
	    "http check: refused detail");
}

static void
test_tcp_check(void)
{
	struct health_check_view v;
	struct conf_check cc;
	char a[64];

	memset(&cc, 0, sizeof(cc));
	cc.type = CONF_CHECK_TCP;
	snprintf(a, sizeof(a), "127.0.0.1:%d", port);
	cc.address = a;
	run_check(&cc, &v);
	ok(v.last.ok && strncmp(v.last.detail, "connected in ", 13) == 0,
	    "tcp check: ok (%s)", v.last.detail);

	memset(&cc, 0, sizeof(cc));
	cc.type = CONF_CHECK_TCP;
	snprintf(a, sizeof(a), "localhost:%d", port);
	cc.address = a;
	run_check(&cc, &v);
	ok(v.last.ok, "tcp check: host name resolved (%s)", v.last.detail);

	memset(&cc, 0, sizeof(cc));
	cc.type = CONF_CHECK_TCP;
	snprintf(a, sizeof(a), "127.0.0.1:%d", dead_port);
	cc.address = a;
	run_check(&cc, &v);
	is_int(v.last.reason, HEALTH_R_REFUSED, "tcp check: refused");
	is_str(v.last.detail, "connection refused", "tcp check: detail");

	memset(&cc, 0, sizeof(cc));
	cc.type = CONF_CHECK_TCP;
	cc.address = (char *)"name.invalid:80";
	run_check(&cc, &v);
	is_int(v.last.reason, HEALTH_R_CONNECT,
	    "tcp check: unresolvable name (%s)", v.last.detail);
}

static void
exec_check(struct health_check_view *v, double timeout, ...)
{
	struct conf_check cc;
	va_list ap;
	const char *s;

	memset(&cc, 0, sizeof(cc));
	cc.type = CONF_CHECK_EXEC;
	cc.timeout = timeout;
	va_start(ap, timeout);
	while ((s = va_arg(ap, const char *)) != NULL)
		cc.argv[cc.argc++] = (char *)s;
	va_end(ap);
	run_check(&cc, v);
}

static long
read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

/* Running (a zombie of a reparented grandchild does not count). */
static int
proc_alive(long pid)
{
	char p[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%ld/stat", pid);
	f = fopen(p, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp == NULL || rp[1] == '\0' || rp[2] != 'Z';
}

static void
test_exec_check(void)
{
	struct health_check_view v;
	char pidf[64], script[256];
	sigset_t set;
	long pid;
	mono_ms t0;

	exec_check(&v, 2, "/bin/true", NULL);
	ok(v.last.ok, "exec: true passes");
	is_str(v.last.detail, "exit 0", "exec: detail exit 0");

	exec_check(&v, 2, "/bin/sh", "-c", "echo; echo ' hello world '; exit 3",
	    NULL);
	is_int(v.last.reason, HEALTH_R_EXIT, "exec: exit 3");
	is_str(v.last.detail, "exit 3: hello world",
	    "exec: detail has the first output line");

	exec_check(&v, 2, "/bin/sh", "-c", "echo oops >&2; exit 1", NULL);
	is_str(v.last.detail, "exit 1: oops", "exec: stderr captured");

	exec_check(&v, 2, "/bin/sh", "-c", "kill -9 $$", NULL);
	is_int(v.last.reason, HEALTH_R_SIGNAL, "exec: killed by a signal");
	is_str(v.last.detail, "killed by signal 9", "exec: signal detail");

	exec_check(&v, 2, "/nonexistent/prog", NULL);
	is_int(v.last.reason, HEALTH_R_ERROR, "exec: missing program");
	ok(strstr(v.last.detail, "/nonexistent/prog") != NULL,
	    "exec: missing program detail (%s)", v.last.detail);

	/* stdin is /dev/null: cat ends at once. */
	exec_check(&v, 2, "/bin/cat", NULL);
	ok(v.last.ok, "exec: stdin is /dev/null (%s)", v.last.detail);

	/* Lots of output must not block the child. */
	exec_check(&v, 5, "/bin/sh", "-c",
	    "i=0; while [ $i -lt 2000 ]; do "
	    "echo 0123456789012345678901234567890123456789012345678901234567;"
	    " i=$((i+1)); done; exit 4",
	    NULL);
	is_int(v.last.reason, HEALTH_R_EXIT, "exec: big output, exit 4");
	ok(strncmp(v.last.detail, "exit 4: 0123", 12) == 0,
	    "exec: big output detail (%s)", v.last.detail);

	/* The daemon blocks signals for signalfd and ignores SIGPIPE; the
	 * child must start with an empty mask and default dispositions.
	 * (glibc reserves the realtime signals 32 and 33 for itself; only
	 * the standard signals are checked.) */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	exec_check(&v, 2, "/bin/sh", "-c",
	    "b=$(sed -n 's/^SigBlk:[[:space:]]*//p' /proc/self/status); "
	    "i=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status); "
	    "echo \"blk $b ign $i\"; "
	    "[ $((0x$b)) -eq 0 ] && [ $((0x$i & 0x7fffffff)) -eq 0 ]",
	    NULL);
	ok(v.last.ok,
	    "exec: child has an empty mask and no ignored signals (%s)",
	    v.last.detail);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &set, NULL);

	/* Timeout: the whole group is killed and reaped. */
	snprintf(pidf, sizeof(pidf), "/tmp/test_checks.%ld", (long)getpid());
	snprintf(script, sizeof(script),
	    "sleep 30 & echo $! > %s; exec sleep 30", pidf);
	t0 = util_now_ms();
	exec_check(&v, 0.3, "/bin/sh", "-c", script, NULL);
	is_int(v.last.reason, HEALTH_R_TIMEOUT, "exec: timeout");
	ok(util_now_ms() - t0 < 3000, "exec: timeout did not wait for sleep");
	pid = read_pid(pidf);
	unlink(pidf);
	ok(pid > 0, "exec: background pid written");
	run_for(300); /* let the reaper see the pidfd */
	ok(pid > 0 && !proc_alive(pid),
	    "exec: the group was killed and nothing is left");
	ok(waitpid(-1, NULL, WNOHANG) <= 0, "exec: no zombie left to reap");

	/* check_exec_reap_all() at shutdown. */
	snprintf(script, sizeof(script), "echo $$ > %s; exec sleep 30", pidf);
	exec_check(&v, 0.3, "/bin/sh", "-c", script, NULL);
	pid = read_pid(pidf);
	unlink(pidf);
	check_exec_reap_all();
	ok(pid > 0 && !proc_alive(pid), "exec: reap_all leaves nothing");
}

int
main(void)
{
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	log_init(LOG_LEVEL_WARNING, false);
	start_app();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	loop = ev_new();
	hc = httpc_new(loop);
	ok(loop != NULL && hc != NULL, "loop and client");

	test_httpc();
	test_http_check();
	test_tcp_check();
	test_exec_check();

	httpc_free(hc);
	ev_free(loop);
	kill(app_pid, SIGTERM);
	waitpid(app_pid, NULL, 0);
	return done_testing();
}
