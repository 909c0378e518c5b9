/* SPDX-License-Identifier: ISC */
/*
 * Event-loop tests of the IMDSv2 client and the IMDS and container
 * credential providers against tests/imds_emulator.py on a loopback port:
 * the identity, token reuse and renewal (before its TTL and after a 401),
 * IMDS down at start and coming up, garbage answers, timeouts,
 * AWS_EC2_METADATA_DISABLED (no request at all), credentials refreshed
 * before Expiration with no gap, rotation after creds_invalidate, a 200 with
 * an error body, and container credentials with an authorization token.
 * The emulator's request counters are the evidence. Fails without python3.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "ev.h"
#include "httpc.h"
#include "imds.h"
#include "log.h"
#include "tap.h"

static struct ev *loop;
static struct httpc *hc;
static char tmpdir[] = "/tmp/test_imds.XXXXXX";
static char emulator[1024];

struct emu {
	pid_t pid;
	int port;
	char url[64];
	char portfile[300];
};

/* ------------------------------------------------------------------ */
/* Loop helpers */

static void
stop_cb(void *arg)
{
	*(bool *)arg = true;
	ev_stop(loop);
}

static void
run_for(mono_ms ms)
{
	bool fired = false;
	struct ev_timer *t = ev_timer_new(loop, stop_cb, &fired);

	ev_timer_arm(t, ms);
	ev_run(loop);
	ev_timer_free(t);
}

struct until {
	bool (*pred)(void *);
	void *arg;
	bool met;
	struct ev_timer *poll;
};

static void
poll_cb(void *arg)
{
	struct until *u = arg;

	if (u->pred(u->arg)) {
		u->met = true;
		ev_stop(loop);
		return;
	}
	ev_timer_arm(u->poll, 10);
}

/* Run the loop until pred holds or ms pass; returns whether it held. */
static bool
run_until(bool (*pred)(void *), void *arg, mono_ms ms)
{
	struct until u = {pred, arg, false, NULL};
	bool fired = false;
	struct ev_timer *limit;

	if (pred(arg))
		return true;
	limit = ev_timer_new(loop, stop_cb, &fired);
	u.poll = ev_timer_new(loop, poll_cb, &u);
	ev_timer_arm(u.poll, 10);
	ev_timer_arm(limit, ms);
	ev_run(loop);
	ev_timer_free(u.poll);
	ev_timer_free(limit);
	return u.met;
}

/* ------------------------------------------------------------------ */
/* The emulator */

static bool
in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[1024];

	while (path != NULL && *path != '\0') {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

static bool
find_emulator(void)
{
	const char *src = getenv("top_srcdir");
	static const char *const cands[] = {"tests/imds_emulator.py",
	    "../tests/imds_emulator.py", "../../tests/imds_emulator.py", NULL};

	if (src != NULL) {
		snprintf(emulator, sizeof(emulator),
		    "%s/tests/imds_emulator.py", src);
		if (access(emulator, R_OK) == 0)
			return true;
	}
	for (size_t i = 0; cands[i] != NULL; i++) {
		if (access(cands[i], R_OK) == 0) {
			util_strlcpy(emulator, cands[i], sizeof(emulator));
			return true;
		}
	}
	return false;
}

/* A loopback port that was free a moment ago. */
static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("free_port");
		exit(2);
	}
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool
emu_start(struct emu *e, int port)
{
	char *portfile = e->portfile, pbuf[16], ppid[16];
	struct timespec ts = {0, 20 * 1000 * 1000};
	FILE *f;

	snprintf(e->portfile, sizeof(e->portfile), "%s/port.%d", tmpdir, port);
	unlink(portfile);
	snprintf(pbuf, sizeof(pbuf), "%d", port);
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	fflush(NULL);
	e->pid = fork();
	if (e->pid < 0)
		return false;
	if (e->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp("python3", "python3", emulator, "--port", pbuf,
		    "--port-file", portfile, "--watch-pid", ppid,
		    "--max-lifetime", "120", (char *)NULL);
		_exit(127);
	}
	/* Blocking waits are fine here: the loop is not running. */
	for (int i = 0; i < 500; i++) {
		int st;

		if ((f = fopen(portfile, "r")) != NULL) {
			if (fscanf(f, "%d", &e->port) == 1) {
				fclose(f);
				snprintf(e->url, sizeof(e->url),
				    "http://127.0.0.1:%d", e->port);
				return true;
			}
			fclose(f);
		}
		if (waitpid(e->pid, &st, WNOHANG) == e->pid) {
			e->pid = 0;
			return false;
		}
		nanosleep(&ts, NULL);
	}
	return false;
}

static void
emu_stop(struct emu *e)
{
	int st;

	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, &st, 0);
	}
	e->pid = 0;
	if (e->portfile[0] != '\0')
		unlink(e->portfile);
}

struct http_wait {
	bool done;
	long status;
	char *body;
};

static void
http_done(const struct httpc_resp *r, void *arg)
{
	struct http_wait *w = arg;

	w->done = true;
	w->status = r->curl_code == 0 ? r->status : 0;
	w->body = strdup(r->body != NULL ? r->body : "");
}

static bool
http_is_done(void *arg)
{
	return ((struct http_wait *)arg)->done;
}

/* A control request to the emulator; returns the parsed reply. */
static struct json_object *
emu_ctl(const struct emu *e, const char *method, const char *path,
    const char *body)
{
	static const char *const hdrs[] = {"Content-Type: application/json",
	    NULL};
	char url[128];
	struct http_wait w = {0};
	struct httpc_opts o = {0};
	struct json_object *j;

	snprintf(url, sizeof(url), "%s%s", e->url, path);
	o.method = method;
	o.url = url;
	o.headers = hdrs;
	o.body = body;
	o.body_len = body != NULL ? strlen(body) : 0;
	o.timeout_ms = 5000;
	o.max_body = 1024 * 1024;
	o.no_proxy = true;
	if (httpc_request(hc, &o, http_done, &w) == NULL ||
	    !run_until(http_is_done, &w, 6000) || w.status != 200) {
		printf("# control %s %s failed: %ld %s\n", method, path,
		    w.status, w.body != NULL ? w.body : "");
		free(w.body);
		return NULL;
	}
	j = json_tokener_parse(w.body);
	free(w.body);
	return j;
}

static void
emu_set(const struct emu *e, const char *json)
{
	struct json_object *j = emu_ctl(e, "POST", "/_control", json);

	if (j == NULL)
		printf("# emu_set(%s) failed\n", json);
	json_object_put(j);
}

/* A request count from /_control/stats ("GET /latest/...") or a top-level
 * counter ("unauthorized", "total", "tokens_issued"). */
static long
emu_count(const struct emu *e, const char *key)
{
	struct json_object *j = emu_ctl(e, "GET", "/_control/stats", NULL), *r,
	                   *v;
	long n = -1;

	if (j == NULL)
		return -1;
	if (json_object_object_get_ex(j, key, &v))
		n = json_object_get_int(v);
	else if (json_object_object_get_ex(j, "requests", &r))
		n = json_object_object_get_ex(r, key, &v)
		    ? json_object_get_int(v)
		    : 0;
	json_object_put(j);
	return n;
}

/* A string from the emulator's state. */
static void
emu_state_str(const struct emu *e, const char *key, char *buf, size_t n)
{
	struct json_object *j = emu_ctl(e, "GET", "/_control", NULL), *v;

	buf[0] = '\0';
	if (j != NULL && json_object_object_get_ex(j, key, &v))
		util_strlcpy(buf, json_object_get_string(v), n);
	json_object_put(j);
}

/* ------------------------------------------------------------------ */
/* IMDS requests */

struct get_wait {
	bool done;
	int status;
	char body[512];
	char error[256];
	bool error_null;
	int calls;
};

static void
get_cb(int status, const char *body, size_t len, const char *error, void *arg)
{
	struct get_wait *w = arg;

	w->calls++;
	w->done = true;
	w->status = status;
	snprintf(w->body, sizeof(w->body), "%.*s", (int)len, body);
	w->error_null = error == NULL;
	util_strlcpy(w->error, error != NULL ? error : "", sizeof(w->error));
}

static bool
get_is_done(void *arg)
{
	return ((struct get_wait *)arg)->done;
}

static bool
get_sync(struct imds *m, const char *path, struct get_wait *w, mono_ms ms)
{
	memset(w, 0, sizeof(*w));
	if (imds_get(m, path, get_cb, w) == NULL)
		return false;
	return run_until(get_is_done, w, ms);
}

static bool
id_valid(void *arg)
{
	return imds_identity(arg)->valid;
}

static int id_cb_calls;

static void
id_cb(void *arg)
{
	id_cb_calls++;
}

static bool
state_has(void *arg)
{
	const char *const *a = arg;

	return strstr(imds_state((struct imds *)(void *)a[0]), a[1]) != NULL;
}

/* ------------------------------------------------------------------ */

static void
test_disabled(const struct emu *e)
{
	static const char *const vals[] = {"true", "TRUE", "1", "True"};
	long before = emu_count(e, "total");
	struct imds *m;
	struct creds *c;
	struct get_wait w;

	for (size_t i = 0; i < 4; i++) {
		setenv("AWS_EC2_METADATA_DISABLED", vals[i], 1);
		m = imds_new(loop, hc, e->url);
		ok(!imds_enabled(m), "disabled: AWS_EC2_METADATA_DISABLED=%s",
		    vals[i]);
		imds_free(m);
	}
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	m = imds_new(loop, hc, e->url);
	ok(strstr(imds_state(m), "disabled") != NULL,
	    "disabled: state says so (%s)", imds_state(m));
	ok(imds_get(m, "meta-data/instance-id", get_cb, &w) == NULL,
	    "disabled: imds_get refuses");
	c = creds_new(loop, hc, m, NULL);
	run_for(400);
	ok(creds_get(c) == NULL && !imds_identity(m)->valid,
	    "disabled: no identity, no credentials");
	ok(strstr(creds_state(c), "IMDS: disabled") != NULL,
	    "disabled: creds state says why (%s)", creds_state(c));
	is_int(emu_count(e, "total"), before,
	    "disabled: not a single request reached IMDS");
	creds_free(c);
	imds_free(m);

	setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
	m = imds_new(loop, hc, e->url);
	ok(imds_enabled(m), "disabled: \"false\" enables");
	imds_free(m);
	unsetenv("AWS_EC2_METADATA_DISABLED");

	m = imds_new(loop, hc, "ftp://127.0.0.1/");
	ok(!imds_enabled(m) && strstr(imds_state(m), "bad endpoint") != NULL,
	    "bad endpoint disables (%s)", imds_state(m));
	imds_free(m);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", e->url, 1);
	m = imds_new(loop, hc, NULL);
	is_str(imds_endpoint(m), e->url,
	    "endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT");
	imds_free(m);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/", 1);
	{
		char u[80];

		snprintf(u, sizeof(u), "%s/", e->url);
		m = imds_new(loop, hc, u);
		is_str(imds_endpoint(m), e->url,
		    "the configured endpoint wins over the env var, trailing / "
		    "dropped");
		imds_free(m);
	}
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
}

static void
test_identity_and_token(const struct emu *e)
{
	struct imds *m;
	const struct imds_identity *id;
	struct get_wait w, w2, w3;
	long put0, gets;

	emu_set(e, "{\"reset\":true,\"reset_stats\":true}");
	m = imds_new(loop, hc, e->url);
	imds_on_identity(m, id_cb, NULL);
	ok(strncmp(imds_state(m), "fetching", 8) == 0,
	    "identity: state before the first answer (%s)", imds_state(m));
	ok(run_until(id_valid, m, 5000), "identity: fetched");
	id = imds_identity(m);
	is_str(id->instance_id, "i-0123456789abcdef0", "identity: instance id");
	is_str(id->region, "us-east-1", "identity: region");
	is_str(id->availability_zone, "us-east-1a", "identity: AZ");
	is_str(id->instance_type, "t3.micro", "identity: instance type");
	is_str(imds_state(m), "ok", "identity: state ok");
	is_int(id_cb_calls, 1, "identity: callback once");
	is_int(emu_count(e, "PUT /latest/api/token"), 1,
	    "identity: one token PUT for four GETs");
	is_int(emu_count(e, "GET /latest/meta-data/placement/region"), 1,
	    "identity: region fetched once");
	imds_on_identity(m, id_cb, NULL);
	run_for(30);
	is_int(id_cb_calls, 2, "identity: late registration is called");

	/* token reuse */
	memset(&w, 0, sizeof(w));
	memset(&w2, 0, sizeof(w2));
	memset(&w3, 0, sizeof(w3));
	ok(imds_get(m, "meta-data/instance-id", get_cb, &w) != NULL &&
	        imds_get(m, "meta-data/instance-id", get_cb, &w2) != NULL &&
	        imds_get(m, "dynamic/instance-identity/document", get_cb,
	            &w3) != NULL,
	    "token: three GETs started");
	ok(run_until(get_is_done, &w3, 3000) &&
	        run_until(get_is_done, &w, 3000) &&
	        run_until(get_is_done, &w2, 3000),
	    "token: three GETs done");
	ok(w.status == 200 && w.error_null &&
	        strcmp(w.body, "i-0123456789abcdef0") == 0,
	    "token: GET answered");
	ok(w3.status == 200 && strstr(w3.body, "\"instanceId\"") != NULL,
	    "token: identity document");
	is_int(emu_count(e, "PUT /latest/api/token"), 1,
	    "token: reused across GETs");
	is_int(emu_count(e, "unauthorized"), 0, "token: no 401 so far");

	/* 401 -> a new token and one retry */
	emu_set(e, "{\"expire_tokens\":true}");
	gets = emu_count(e, "GET /latest/meta-data/instance-type");
	ok(get_sync(m, "meta-data/instance-type", &w, 3000) &&
	        w.status == 200 && strcmp(w.body, "t3.micro") == 0,
	    "401: the GET succeeds after renewal");
	is_int(emu_count(e, "PUT /latest/api/token"), 2,
	    "401: the token was fetched again");
	is_int(emu_count(e, "unauthorized"), 1, "401: one 401 seen");
	is_int(emu_count(e, "GET /latest/meta-data/instance-type"), gets + 2,
	    "401: the GET was retried once");

	/* a path that keeps answering 401: only one retry */
	emu_set(e, "{\"fail_paths\":{\"meta-data/instance-type\":401}}");
	put0 = emu_count(e, "PUT /latest/api/token");
	gets = emu_count(e, "GET /latest/meta-data/instance-type");
	ok(get_sync(m, "meta-data/instance-type", &w, 3000) &&
	        w.status == 401 && strcmp(w.error, "HTTP 401") == 0,
	    "401 twice: reported as HTTP 401");
	is_int(emu_count(e, "GET /latest/meta-data/instance-type"), gets + 2,
	    "401 twice: exactly one retry");
	is_int(emu_count(e, "PUT /latest/api/token"), put0 + 1,
	    "401 twice: one renewal");
	emu_set(e, "{\"fail_paths\":null}");

	/* 404 until set: spot and lifecycle, for later users */
	ok(get_sync(m, "meta-data/spot/instance-action", &w, 3000) &&
	        w.status == 404 && strcmp(w.error, "HTTP 404") == 0,
	    "404: spot/instance-action absent");
	emu_set(e,
	    "{\"spot_action\":{\"action\":\"terminate\",\"time\":"
	    "\"2030-01-01T00:00:00Z\"},\"lifecycle_state\":"
	    "\"InService\"}");
	ok(get_sync(m, "meta-data/spot/instance-action", &w, 3000) &&
	        w.status == 200 && strstr(w.body, "terminate") != NULL,
	    "spot/instance-action once set (%s)", w.body);
	ok(get_sync(m, "meta-data/autoscaling/target-lifecycle-state", &w,
	       3000) &&
	        w.status == 200 && strcmp(w.body, "InService") == 0,
	    "target-lifecycle-state once set");
	emu_set(e, "{\"spot_action\":null,\"lifecycle_state\":null}");

	ok(imds_get(m, "/meta-data/instance-id", get_cb, &w) == NULL &&
	        imds_get(m, "meta-data/../x", get_cb, &w) == NULL &&
	        imds_get(m, "meta-data/a b", get_cb, &w) == NULL &&
	        imds_get(m, "", get_cb, &w) == NULL,
	    "bad paths are refused");

	/* cancel: no callback */
	memset(&w, 0, sizeof(w));
	imds_cancel(imds_get(m, "meta-data/instance-id", get_cb, &w));
	run_for(200);
	is_int(w.calls, 0, "cancel: no callback");

	/* free with requests in flight: no callbacks (ASan checks the rest) */
	memset(&w, 0, sizeof(w));
	imds_get(m, "meta-data/instance-id", get_cb, &w);
	imds_free(m);
	run_for(100);
	is_int(w.calls, 0, "free: pending requests are dropped");
}

static void
test_token_renewal(const struct emu *e)
{
	struct imds *m;
	struct get_wait w;
	long put0, unauth0;

	/* The service grants 4 s: the client must use what it was given. */
	emu_set(e, "{\"token_ttl_cap\":4}");
	put0 = emu_count(e, "PUT /latest/api/token");
	unauth0 = emu_count(e, "unauthorized");
	m = imds_new(loop, hc, e->url);
	ok(run_until(id_valid, m, 5000), "renewal: identity");
	is_int(emu_count(e, "PUT /latest/api/token"), put0 + 1,
	    "renewal: one token");
	run_for(3400); /* past 80% of the TTL, before it expires */
	ok(get_sync(m, "meta-data/instance-id", &w, 3000) && w.status == 200,
	    "renewal: GET at 85%% of the TTL uses the old token");
	run_for(1200); /* the old token has expired by now */
	ok(get_sync(m, "meta-data/instance-id", &w, 3000) && w.status == 200,
	    "renewal: GET after the old token's expiry");
	is_int(emu_count(e, "PUT /latest/api/token"), put0 + 2,
	    "renewal: renewed once, in the background");
	is_int(emu_count(e, "unauthorized"), unauth0,
	    "renewal: never used an expired token");
	imds_free(m);
	emu_set(e, "{\"token_ttl_cap\":null}");
}

static void
test_down_then_up(void)
{
	int port = free_port(), saved, fd, unreachable = 0, again = 0;
	char url[64], logpath[300], line[1024];
	const char *probe[2];
	struct imds *m;
	struct emu e2 = {0};
	FILE *f;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, STDERR_FILENO);
	close(fd);
	log_set_level(LOG_LEVEL_INFO);

	m = imds_new(loop, hc, url);
	run_for(1500);
	probe[0] = (const char *)(void *)m;
	probe[1] = "unreachable since";
	ok(state_has(probe), "down: state says unreachable (%s)",
	    imds_state(m));
	ok(strstr(imds_state(m), "retrying in") != NULL ||
	        strstr(imds_state(m), "retrying now") != NULL,
	    "down: state says when it retries");
	ok(!imds_identity(m)->valid, "down: no identity");

	ok(emu_start(&e2, port), "down: emulator started on port %d", port);
	ok(run_until(id_valid, m, 8000),
	    "down: identity arrives after backoff");
	is_str(imds_state(m), "ok", "down: state ok");
	imds_free(m);

	fflush(stderr);
	log_set_level(LOG_LEVEL_ERR);
	dup2(saved, STDERR_FILENO);
	close(saved);
	if ((f = fopen(logpath, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strstr(line, "is unreachable") != NULL)
				unreachable++;
			if (strstr(line, "IMDS answers again") != NULL)
				again++;
			printf("# log: %s", line);
		}
		fclose(f);
	}
	is_int(unreachable, 1, "down: unreachable logged once, not per retry");
	is_int(again, 1, "down: recovery logged");

	/* garbage answers are rejected with a clear error */
	emu_set(&e2,
	    "{\"instance_id\":\"<html>oops</html>\",\"region\":"
	    "\"us-west-2\",\"availability_zone\":\"us-west-2-lax-1a\"}");
	m = imds_new(loop, hc, e2.url);
	probe[0] = (const char *)(void *)m;
	probe[1] = "unexpected value";
	ok(run_until(state_has, probe, 3000),
	    "garbage: instance id rejected (%s)", imds_state(m));
	ok(strncmp(imds_state(m), "failing since", 13) == 0,
	    "garbage: reachable but failing");
	ok(!imds_identity(m)->valid, "garbage: no identity");
	emu_set(&e2, "{\"instance_id\":null}");
	ok(run_until(id_valid, m, 5000), "garbage: recovers once fixed");
	is_str(imds_identity(m)->availability_zone, "us-west-2-lax-1a",
	    "garbage: local zone AZ accepted");
	imds_free(m);

	emu_set(&e2,
	    "{\"region\":\"us-west-2\",\"availability_zone\":"
	    "\"eu-west-1a\"}");
	m = imds_new(loop, hc, e2.url);
	probe[0] = (const char *)(void *)m;
	probe[1] = "not in region";
	ok(run_until(state_has, probe, 3000),
	    "garbage: AZ outside the region rejected (%s)", imds_state(m));
	imds_free(m);

	/* a hung IMDS times out, a closing one errors */
	{
		struct imds_tuning t, save;
		struct get_wait w;
		mono_ms t0;

		imds_get_tuning(&save);
		t = save;
		t.timeout_ms = 500;
		t.connect_timeout_ms = 500;
		imds_set_tuning(&t);
		emu_set(&e2, "{\"reset\":true}");
		m = imds_new(loop, hc, e2.url);
		ok(run_until(id_valid, m, 5000), "hang: identity first");
		emu_set(&e2, "{\"mode\":\"hang\"}");
		t0 = util_now_ms();
		ok(get_sync(m, "meta-data/instance-id", &w, 3000) &&
		        w.status == 0 && !w.error_null,
		    "hang: GET fails (%s)", w.error);
		ok(util_now_ms() - t0 < 2500, "hang: within the timeout");
		emu_set(&e2, "{\"mode\":\"down\"}");
		ok(get_sync(m, "meta-data/instance-id", &w, 3000) &&
		        w.status == 0 && !w.error_null,
		    "down mode: GET fails (%s)", w.error);
		emu_set(&e2, "{\"mode\":\"error\",\"error_status\":503}");
		ok(get_sync(m, "meta-data/instance-id", &w, 3000) &&
		        w.status == 503,
		    "error mode: status passed through");
		emu_set(&e2, "{\"mode\":\"ok\"}");
		ok(get_sync(m, "meta-data/instance-id", &w, 3000) &&
		        w.status == 200,
		    "ok again");
		imds_free(m);
		imds_set_tuning(&save);
	}
	emu_stop(&e2);
}

struct watch {
	struct creds *c;
	struct ev_timer *t;
	int gaps, expired, changes;
	char first[64], last[64];
	time_t first_exp;
};

static void
watch_cb(void *arg)
{
	struct watch *w = arg;
	const struct aws_creds *a = creds_get(w->c);

	if (a == NULL) {
		w->gaps++;
	} else {
		if (a->expiration <= time(NULL))
			w->expired++;
		if (w->last[0] != '\0' &&
		    strcmp(w->last, a->access_key_id) != 0)
			w->changes++;
		util_strlcpy(w->last, a->access_key_id, sizeof(w->last));
	}
	ev_timer_arm(w->t, 20);
}

static bool
creds_ready(void *arg)
{
	return creds_get(arg) != NULL;
}

struct key_want {
	struct creds *c;
	const char *key;
};

static bool
creds_has_key(void *arg)
{
	struct key_want *k = arg;
	const struct aws_creds *a = creds_get(k->c);

	return a != NULL && strcmp(a->access_key_id, k->key) == 0;
}

static bool
creds_state_has(void *arg)
{
	struct key_want *k = arg;

	return strstr(creds_state(k->c), k->key) != NULL;
}

static void
test_creds_imds(const struct emu *e)
{
	struct imds *m;
	struct creds *c, *c2;
	const struct aws_creds *a;
	struct watch w = {0};
	struct key_want kw;
	char key[64], st[1024];
	long before, n;
	const char *role_path = "GET /latest/meta-data/iam/security-"
	                        "credentials/healthagent-test-role";

	emu_set(e, "{\"reset\":true,\"expiration_seconds\":4}");
	m = imds_new(loop, hc, e->url);
	c = creds_new(loop, hc, m, NULL);
	ok(run_until(creds_ready, c, 5000), "imds creds: fetched");
	a = creds_get(c);
	ok(a != NULL && a->source == CREDS_IMDS &&
	        strcmp(a->access_key_id, "ASIAEMULATOR00000001") == 0 &&
	        a->session_token != NULL,
	    "imds creds: from the role");
	ok(a != NULL && a->expiration > time(NULL) &&
	        a->expiration <= time(NULL) + 5,
	    "imds creds: expiration parsed");
	util_strlcpy(st, creds_state(c), sizeof(st));
	ok(strstr(st,
	       "imds (IMDS role healthagent-test-role), key "
	       "ASIA...0001, expires in") != NULL &&
	        strstr(st, "emulatorSecret") == NULL &&
	        strstr(st, "emulatorSession") == NULL,
	    "imds creds: state (%s)", st);
	w.first_exp = a != NULL ? a->expiration : 0;

	/* rotate at the source; the agent must switch before the old set
	 * expires, with no moment without valid credentials */
	emu_set(e, "{\"rotate\":true}");
	emu_state_str(e, "access_key_id", key, sizeof(key));
	w.c = c;
	w.t = ev_timer_new(loop, watch_cb, &w);
	ev_timer_arm(w.t, 0);
	kw.c = c;
	kw.key = key;
	ok(run_until(creds_has_key, &kw, 4000), "refresh: new key %s arrived",
	    key);
	ok(time(NULL) < w.first_exp,
	    "refresh: before the old credentials expired");
	run_for(3000); /* a few more refresh cycles */
	ev_timer_free(w.t);
	is_int(w.gaps, 0, "refresh: never without credentials");
	is_int(w.expired, 0, "refresh: never holding expired credentials");
	is_int(w.changes, 1, "refresh: one key change");
	n = emu_count(e, role_path);
	ok(n >= 3, "refresh: fetched repeatedly before expiry (%ld)", n);

	/* invalidate: re-resolve now, and back off when repeated */
	emu_set(e, "{\"expiration_seconds\":3600,\"rotate\":true}");
	emu_state_str(e, "access_key_id", key, sizeof(key));
	creds_invalidate(c,
	    "InvalidClientTokenId: The security token "
	    "included in the request is invalid");
	ok(run_until(creds_has_key, &kw, 3000),
	    "invalidate: rotated key picked up at once");
	run_for(300);
	before = emu_count(e, role_path);
	for (int i = 0; i < 10; i++) {
		/* every call of the agent is rejected, 30 ms apart */
		creds_invalidate(c, "InvalidClientTokenId");
		run_for(30);
	}
	n = emu_count(e, role_path) - before;
	/* backoff 100 ms doubling: fetches near 0, 100 and 300 ms */
	ok(n >= 2 && n <= 4,
	    "invalidate: 10 rejections in 300 ms cause %ld fetches (backoff)",
	    n);
	ok(strstr(creds_state(c), "rejected by AWS") != NULL,
	    "invalidate: state shows the rejection");

	/* a 200 with an error body: no credentials, and the state says why */
	emu_set(e,
	    "{\"creds_error\":{\"Code\":\"AssumeRoleUnauthorizedAccess\","
	    "\"Message\":\"EC2 cannot assume the role\"}}");
	c2 = creds_new(loop, hc, m, NULL);
	kw.c = c2;
	kw.key = "AssumeRoleUnauthorizedAccess";
	ok(run_until(creds_state_has, &kw, 3000) && creds_get(c2) == NULL,
	    "200 with error: no credentials (%s)", creds_state(c2));
	/* and an object that already has credentials keeps them */
	creds_invalidate(c, "ExpiredToken");
	kw.c = c;
	ok(run_until(creds_state_has, &kw, 3000), "200 with error: reported");
	a = creds_get(c);
	ok(a != NULL && strcmp(a->access_key_id, key) == 0,
	    "200 with error: the old credentials stay in use");
	emu_set(e, "{\"creds_error\":null}");
	kw.c = c2;
	kw.key = "ASIA";
	ok(run_until(creds_state_has, &kw, 4000) && creds_get(c2) != NULL,
	    "200 with error: recovers with backoff");
	creds_free(c2);

	/* no role attached */
	emu_set(e, "{\"role\":null}");
	c2 = creds_new(loop, hc, m, NULL);
	kw.c = c2;
	kw.key = "no IAM role";
	ok(run_until(creds_state_has, &kw, 3000) && creds_get(c2) == NULL,
	    "no role: explained (%s)", creds_state(c2));
	creds_free(c2);
	emu_set(e, "{\"role\":\"healthagent-test-role\"}");

	creds_free(c);
	imds_free(m);
}

static void
test_container(const struct emu *e)
{
	struct creds *c;
	struct key_want kw;
	char uri[128], tokfile[300];
	long before;
	FILE *f;

	emu_set(e, "{\"reset\":true,\"container_auth\":\"Bearer s3cr3t\"}");
	snprintf(uri, sizeof(uri), "%s/_container/credentials", e->url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer s3cr3t", 1);
	c = creds_new(loop, hc, NULL, NULL);
	ok(run_until(creds_ready, c, 3000) &&
	        creds_get(c)->source == CREDS_CONTAINER,
	    "container: credentials");
	ok(strstr(creds_state(c), "s3cr3t") == NULL &&
	        strstr(creds_state(c), "/_container") == NULL,
	    "container: state shows neither token nor path");
	creds_free(c);

	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong", 1);
	c = creds_new(loop, hc, NULL, NULL);
	kw.c = c;
	kw.key = "HTTP 401";
	ok(run_until(creds_state_has, &kw, 3000) && creds_get(c) == NULL,
	    "container: wrong token is an error (%s)", creds_state(c));
	creds_free(c);

	snprintf(tokfile, sizeof(tokfile), "%s/token", tmpdir);
	if ((f = fopen(tokfile, "w")) != NULL) {
		fputs("Bearer s3cr3t\n", f);
		fclose(f);
	}
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile, 1);
	c = creds_new(loop, hc, NULL, NULL);
	ok(run_until(creds_ready, c, 3000),
	    "container: the token file wins over the variable");
	creds_free(c);
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	unlink(tokfile);

	before = emu_count(e, "total");
	/* 0.0.0.0 is not on the allowlist; were it contacted anyway, it
	 * would still only reach this host. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://0.0.0.0:1/creds",
	    1);
	c = creds_new(loop, hc, NULL, NULL);
	run_for(100);
	ok(creds_get(c) == NULL &&
	        strstr(creds_state(c), "not allowed") != NULL,
	    "container: a non-allowed host is refused (%s)", creds_state(c));
	creds_free(c);
	is_int(emu_count(e, "total"), before, "container: nothing was sent");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
}

int
main(void)
{
	static const char *const unset[] = {"AWS_ACCESS_KEY_ID",
	    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	    "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "HEALTHAGENT_TEST_FAST",
	    "http_proxy", "HTTP_PROXY", NULL};
	struct imds_tuning it;
	struct creds_tuning ct;
	struct emu e = {0};
	char nofile[300];

	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LEVEL_ERR, false);
	if (!in_path("python3") || !find_emulator()) {
		/* A missing tool is a failure, never a silent skip. */
		printf("Bail out! python3 or tests/imds_emulator.py not "
		       "found\n");
		return 1;
	}
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	for (size_t i = 0; unset[i] != NULL; i++)
		unsetenv(unset[i]);
	/* Every endpoint is on loopback; IMDS stays disabled until the
	 * tests that need it, and never points anywhere else. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	snprintf(nofile, sizeof(nofile), "%s/no-credentials-file", tmpdir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", nofile, 1);

	imds_get_tuning(&it);
	it.backoff_min_ms = 100;
	it.backoff_max_ms = 800;
	imds_set_tuning(&it);
	creds_get_tuning(&ct);
	ct.backoff_min_ms = 100;
	ct.backoff_max_ms = 800;
	ct.min_refresh_ms = 200;
	creds_set_tuning(&ct);

	loop = ev_new();
	hc = httpc_new(loop);
	if (!emu_start(&e, 0)) {
		printf("Bail out! the IMDS emulator did not start\n");
		return 1;
	}

	test_disabled(&e);
	test_identity_and_token(&e);
	test_token_renewal(&e);
	test_down_then_up();
	test_creds_imds(&e);
	test_container(&e);

	emu_stop(&e);
	httpc_free(hc);
	ev_free(loop);
	{
		char p[400];

		snprintf(p, sizeof(p), "%s/log", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	return done_testing();
}
