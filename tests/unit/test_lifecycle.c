/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the lifecycle module. The pure parts: target lifecycle
 * state classification and transitions, timestamps, Spot and rebalance
 * notices, the Spot deadline arithmetic, launch readiness and the launch
 * decision. Then the object on the event loop against a fake IMDSv2 and
 * Auto Scaling endpoint served from this process: CONTINUE after rise,
 * ABANDON at launch_timeout, heartbeats, late identity, ValidationError and
 * retries, the drain on Terminated (503 at once, drain_command, the wait,
 * then the terminate hook), Spot deadlines, rebalance, warm pools, the
 * manual drain and garbage from IMDS.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aws.h"
#include "child.h"
#include "creds.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "imds.h"
#include "lifecycle.h"
#include "log.h"
#include "tap.h"
#include "util.h"

/* --- pure parts ---------------------------------------------------------- */

static void
test_classify(void)
{
	static const struct {
		const char *in;
		enum lifecycle_target want;
	} t[] = {
	    {"InService", LC_TARGET_IN_SERVICE},
	    {"InService\n", LC_TARGET_IN_SERVICE},
	    {"  Terminated  ", LC_TARGET_TERMINATED},
	    {"Warmed:Terminated", LC_TARGET_TERMINATED},
	    {"Warmed:Stopped", LC_TARGET_WARMED},
	    {"Warmed:Running", LC_TARGET_WARMED},
	    {"Warmed:Hibernated", LC_TARGET_WARMED},
	    {"Standby", LC_TARGET_STANDBY},
	    {"Detached", LC_TARGET_DETACHED},
	    {"inservice", LC_TARGET_INVALID},
	    {"Terminating", LC_TARGET_INVALID},
	    {"Warmed:", LC_TARGET_INVALID},
	    {"", LC_TARGET_INVALID},
	    {"<html>500</html>", LC_TARGET_INVALID},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(lifecycle_classify_target(t[i].in, strlen(t[i].in)),
		    t[i].want, "target state \"%s\" is %s", t[i].in,
		    lifecycle_target_names[t[i].want]);
	is_int(lifecycle_classify_target("InServiceXYZ", 9),
	    LC_TARGET_IN_SERVICE, "classify honours the length");

	is_int(lifecycle_target_event(LC_TARGET_IN_SERVICE,
	           LC_TARGET_TERMINATED),
	    LC_TEV_TERMINATE, "InService -> Terminated: terminate");
	is_int(lifecycle_target_event(LC_TARGET_UNKNOWN, LC_TARGET_TERMINATED),
	    LC_TEV_TERMINATE, "Terminated seen first: terminate");
	is_int(lifecycle_target_event(LC_TARGET_WARMED, LC_TARGET_TERMINATED),
	    LC_TEV_TERMINATE, "Warmed -> Terminated: terminate");
	is_int(lifecycle_target_event(LC_TARGET_TERMINATED,
	           LC_TARGET_TERMINATED),
	    LC_TEV_NONE, "Terminated again: nothing new");
	is_int(lifecycle_target_event(LC_TARGET_IN_SERVICE, LC_TARGET_WARMED),
	    LC_TEV_WARM, "InService -> Warmed: warm drain");
	is_int(lifecycle_target_event(LC_TARGET_UNKNOWN, LC_TARGET_WARMED),
	    LC_TEV_NONE, "Warmed seen first (launch into the pool): nothing");
	is_int(lifecycle_target_event(LC_TARGET_WARMED, LC_TARGET_IN_SERVICE),
	    LC_TEV_RETURN, "Warmed -> InService: return");
	is_int(lifecycle_target_event(LC_TARGET_UNKNOWN, LC_TARGET_IN_SERVICE),
	    LC_TEV_NONE, "unknown -> InService: nothing");
	is_int(lifecycle_target_event(LC_TARGET_IN_SERVICE, LC_TARGET_STANDBY),
	    LC_TEV_NONE, "Standby: only shown");

	ok(lifecycle_launch_allowed(LC_TARGET_UNKNOWN) &&
	        lifecycle_launch_allowed(LC_TARGET_IN_SERVICE) &&
	        lifecycle_launch_allowed(LC_TARGET_WARMED),
	    "launch acted on while unknown, InService or Warmed");
	ok(!lifecycle_launch_allowed(LC_TARGET_TERMINATED) &&
	        !lifecycle_launch_allowed(LC_TARGET_STANDBY) &&
	        !lifecycle_launch_allowed(LC_TARGET_DETACHED),
	    "launch skipped while Terminated, Standby or Detached");
}

static void
test_time(void)
{
	is_int(lifecycle_parse_time("2017-09-18T08:22:00Z"), 1505722920000LL,
	    "time: the example of the EC2 guide");
	is_int(lifecycle_parse_time("1970-01-01T00:00:00Z"), 0, "time: epoch");
	is_int(lifecycle_parse_time("2020-10-27T08:22:00.5Z"), 1603786920500LL,
	    "time: fraction");
	is_int(lifecycle_parse_time("2020-10-27T08:22:00.123456Z"),
	    1603786920123LL, "time: long fraction is cut to ms");
	is_int(lifecycle_parse_time("2020-10-27T08:22:00+00:00"),
	    1603786920000LL, "time: +00:00");
	is_int(lifecycle_parse_time("2024-02-29T00:00:00Z"), 1709164800000LL,
	    "time: leap day");
	is_int(lifecycle_parse_time("2023-02-29T00:00:00Z"), -1,
	    "time: no 29 February in 2023");
	is_int(lifecycle_parse_time("2023-04-31T00:00:00Z"), -1,
	    "time: no 31 April");
	is_int(lifecycle_parse_time("2023-04-30T24:00:00Z"), -1,
	    "time: hour 24");
	is_int(lifecycle_parse_time("2023-04-30T08:22:00"), -1,
	    "time: no zone");
	is_int(lifecycle_parse_time("2023-04-30T08:22:00+02:00"), -1,
	    "time: only UTC");
	is_int(lifecycle_parse_time("2023-04-30 08:22:00Z"), -1,
	    "time: T required");
	is_int(lifecycle_parse_time("2023-4-30T08:22:00Z"), -1,
	    "time: two-digit month");
	is_int(lifecycle_parse_time("2023-04-30T08:22:00Zjunk"), -1,
	    "time: trailing junk");
	is_int(lifecycle_parse_time("2023-04-30T08:22:00.Z"), -1,
	    "time: empty fraction");
	is_int(lifecycle_parse_time(""), -1, "time: empty");
	is_int(lifecycle_parse_time(NULL), -1, "time: NULL");
}

static void
test_spot(void)
{
	struct lifecycle_spot s;
	char err[300];
	int64_t t;
	static const char good[] =
	    "{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00Z\"}";
	static const char *const bad[] = {
	    "",
	    "not json",
	    "[1,2]",
	    "{\"action\": \"terminate\"}",
	    "{\"time\": \"2017-09-18T08:22:00Z\"}",
	    "{\"action\": \"reboot\", \"time\": \"2017-09-18T08:22:00Z\"}",
	    "{\"action\": \"terminate\", \"time\": \"soon\"}",
	    "{\"action\": 1, \"time\": \"2017-09-18T08:22:00Z\"}",
	    "{\"action\": \"stop\", \"time\": \"2017-09-18T08:22:00Z\"} x",
	    "{\"action\": \"stop\", \"time\": \"2017-09-18T08:22:00Z\"",
	};

	ok(lifecycle_parse_spot(good, strlen(good), &s, err, sizeof(err)) ==
	            0 &&
	        s.action == LC_SPOT_TERMINATE && s.time_ms == 1505722920000LL,
	    "spot: the documented terminate notice");
	ok(lifecycle_parse_spot("{\"action\":\"stop\",\"time\":\"2017-09-18T08:"
	                        "22:00Z\",\"extra\":1}\n",
	       strlen("{\"action\":\"stop\",\"time\":\"2017-09-18T08:22:00Z\","
	              "\"extra\":1}\n"),
	       &s, err, sizeof(err)) == 0 &&
	        s.action == LC_SPOT_STOP,
	    "spot: stop, extra members and a newline are fine");
	ok(lifecycle_parse_spot("{\"action\":\"hibernate\",\"time\":\"2017-09-"
	                        "18T08:22:00Z\"}",
	       strlen("{\"action\":\"hibernate\",\"time\":\"2017-09-18T08:22:"
	              "00Z\"}"),
	       &s, err, sizeof(err)) == 0 &&
	        s.action == LC_SPOT_HIBERNATE,
	    "spot: hibernate");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ok(lifecycle_parse_spot(bad[i], strlen(bad[i]), &s, err,
		       sizeof(err)) < 0 &&
		        strstr(err, "spot/instance-action") != NULL,
		    "spot: rejected '%s' (%s)", bad[i], err);
	}
	ok(lifecycle_parse_spot("{\"action\":\"stop\"\0}", 18, &s, err,
	       sizeof(err)) < 0,
	    "spot: a NUL byte is rejected");
	ok(lifecycle_parse_spot(good, strlen(good) - 3, &s, err, sizeof(err)) <
	        0,
	    "spot: the length is honoured (truncated body)");

	ok(lifecycle_parse_rebalance("{\"noticeTime\": "
	                             "\"2020-10-27T08:22:00Z\"}",
	       strlen("{\"noticeTime\": \"2020-10-27T08:22:00Z\"}"), &t, err,
	       sizeof(err)) == 0 &&
	        t == 1603786920000LL,
	    "rebalance: the documented notice");
	ok(lifecycle_parse_rebalance("{\"noticeTime\": 5}", 17, &t, err,
	       sizeof(err)) < 0 &&
	        t == 0 && strstr(err, "noticeTime") != NULL,
	    "rebalance: noticeTime must be a string (%s)", err);
	ok(lifecycle_parse_rebalance("{}", 2, &t, err, sizeof(err)) < 0,
	    "rebalance: noticeTime required");
	ok(lifecycle_parse_rebalance("{\"noticeTime\": \"yesterday\"}", 27, &t,
	       err, sizeof(err)) < 0 &&
	        strstr(err, "yesterday") != NULL,
	    "rebalance: bad time named (%s)", err);
}

static void
test_deadline(void)
{
	int64_t notice = 1505722920000LL; /* the notice's time */
	int64_t d = lifecycle_spot_deadline(notice);

	is_int(d, notice - 10000, "deadline: 10 s before the notice's time");
	/* A notice 2 minutes out, drain_seconds 300: cut to 110 s. */
	is_int(lifecycle_clip(300000, d, notice - 120000), 110000,
	    "clip: 300 s wanted, 120 s notice: 110 s");
	is_int(lifecycle_clip(30000, d, notice - 120000), 30000,
	    "clip: 30 s fits in a 120 s notice");
	is_int(lifecycle_clip(30000, d, d - 1), 1, "clip: 1 ms left");
	is_int(lifecycle_clip(30000, d, d), 0, "clip: nothing left at it");
	is_int(lifecycle_clip(30000, d, notice + 5000), 0,
	    "clip: the notice's time has passed");
	is_int(lifecycle_clip(30000, 0, notice), 30000, "clip: no deadline");
	/* The whole Spot drain: command 60 s, then drain_seconds 90 s, notice
	 * at 120 s; the command takes 45 s. */
	{
		int64_t now = notice - 120000;
		mono_ms cmd = lifecycle_clip(60000, d, now);
		mono_ms wait;

		is_int(cmd, 60000, "spot drain: command may take its 60 s");
		now += 45000;
		wait = lifecycle_clip(90000, d, now);
		is_int(wait, 65000, "spot drain: the wait is cut to 65 s");
		is_int(now + (int64_t)wait, notice - 10000,
		    "spot drain: it ends 10 s before the notice's time");
	}
}

static struct health *
mk_health(int rise_app, bool with_dep, size_t *app, size_t *db)
{
	struct health *h = health_new(1000, 60000);
	struct health_check_params p;

	memset(&p, 0, sizeof(p));
	p.name = "app";
	p.rise = rise_app;
	p.fall = 1;
	p.interval = 1000;
	p.timeout = 500;
	*app = health_add_check(h, &p, 1000);
	if (with_dep) {
		p.name = "db";
		p.dependency = true;
		p.rise = 1;
		*db = health_add_check(h, &p, 1000);
	}
	return h;
}

static void
rep(struct health *h, size_t i, bool good, mono_ms now)
{
	struct health_result r;

	health_result_set(&r, good, good ? HEALTH_R_OK : HEALTH_R_STATUS,
	    good ? "ok" : "status 500");
	health_report(h, i, &r, now);
}

static void
test_ready(void)
{
	struct lifecycle_rise rise[] = {{"app", 3}, {"db", 5}};
	char why[300];
	size_t app, db = 0;
	struct health *h = mk_health(3, true, &app, &db);

	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)) &&
	        strstr(why, "starting") != NULL,
	    "ready: not while STARTING (%s)", why);
	rep(h, app, true, 1100);
	rep(h, db, true, 1100);
	is_str(health_state_names[health_state(h)], "healthy",
	    "ready: one pass makes the verdict healthy");
	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)) &&
	        strstr(why, "1 of 3") != NULL,
	    "ready: but app has passed once of rise 3 (%s)", why);
	rep(h, app, true, 1200);
	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)),
	    "ready: twice is not enough (%s)", why);
	rep(h, db, false, 1250);
	is_str(health_state_names[health_state(h)], "degraded",
	    "ready: a dependency down makes it degraded");
	rep(h, app, true, 1300);
	ok(lifecycle_launch_ready(h, rise, 2, why, sizeof(why)),
	    "ready: three passes, DEGRADED: ready (dependencies do not "
	    "hold a launch)");
	rep(h, app, false, 1400);
	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)) &&
	        strstr(why, "unhealthy") != NULL,
	    "ready: not after a failure (%s)", why);
	rep(h, app, true, 1500);
	rep(h, app, true, 1600);
	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)),
	    "ready: DOWN again, 2 of rise 3 passes: not yet (%s)", why);
	rep(h, app, true, 1700);
	ok(lifecycle_launch_ready(h, rise, 2, why, sizeof(why)),
	    "ready: rise passes after the failure");
	health_set_draining(h, true, "test", 1800);
	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)) &&
	        strstr(why, "draining") != NULL,
	    "ready: never while draining (%s)", why);
	health_free(h);

	/* A check not in the table needs one pass; initial UP is not a
	 * pass. */
	h = health_new(1000, 0);
	{
		struct health_check_params p;

		memset(&p, 0, sizeof(p));
		p.name = "web";
		p.rise = 2;
		p.fall = 1;
		p.initial = HEALTH_C_UP;
		p.interval = 1000;
		app = health_add_check(h, &p, 1000);
	}
	health_tick(h, 1000);
	ok(!lifecycle_launch_ready(h, rise, 2, why, sizeof(why)) &&
	        strstr(why, "web has passed 0 of 1") != NULL,
	    "ready: initial up is not a pass (%s)", why);
	rep(h, app, true, 1100);
	ok(lifecycle_launch_ready(h, rise, 2, why, sizeof(why)),
	    "ready: a check not in the table needs 1 pass");
	health_free(h);

	h = health_new(1000, 0);
	health_tick(h, 1000);
	ok(lifecycle_launch_ready(h, NULL, 0, why, sizeof(why)),
	    "ready: no checks at all is ready");
	health_free(h);

	is_int(lifecycle_launch_decide(true, 0, 100, LC_TARGET_UNKNOWN),
	    LC_LAUNCH_CONTINUE, "decide: ready -> CONTINUE");
	is_int(lifecycle_launch_decide(true, 500, 100, LC_TARGET_IN_SERVICE),
	    LC_LAUNCH_CONTINUE, "decide: ready after the deadline -> CONTINUE");
	is_int(lifecycle_launch_decide(false, 99, 100, LC_TARGET_IN_SERVICE),
	    LC_LAUNCH_WAIT, "decide: not ready, time left -> wait");
	is_int(lifecycle_launch_decide(false, 100, 100, LC_TARGET_WARMED),
	    LC_LAUNCH_ABANDON, "decide: not ready at the deadline -> ABANDON");
	is_int(lifecycle_launch_decide(true, 0, 100, LC_TARGET_TERMINATED),
	    LC_LAUNCH_SKIP, "decide: Terminated -> skip");
	is_int(lifecycle_launch_decide(false, 500, 100, LC_TARGET_STANDBY),
	    LC_LAUNCH_SKIP, "decide: Standby -> skip");
}

/* --- a fake IMDSv2 + Auto Scaling endpoint on the loop -------------------- */

#define MAX_CALLS 128

struct call {
	char action[64];
	char form[1024];
	mono_ms at;
};

static struct {
	struct ev *ev;
	int lfd, port;
	struct ev_io *lio;
	/* IMDS */
	char target[64]; /* "" = 404 */
	char spot[256];
	char rebalance[256];
	unsigned long imds_gets;
	/* Auto Scaling */
	struct call calls[MAX_CALLS];
	int ncalls;
	int complete_fail;     /* answer the next n Completes with 500 */
	bool complete_invalid; /* answer Completes with ValidationError */
	bool heartbeat_invalid;
} srv;

struct conn {
	int fd;
	struct ev_io *io;
	char buf[8192];
	size_t len;
};

static const char xml_ok[] =
    "<%sResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
    "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>"
    "</%sResponse>";
static const char xml_err[] =
    "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/"
    "2011-01-01/\"><Error><Type>%s</Type><Code>%s</Code><Message>%s"
    "</Message></Error><RequestId>r-2</RequestId></ErrorResponse>";

static void
conn_close(struct conn *c)
{
	ev_io_del(c->io);
	close(c->fd);
	free(c);
}

static void
reply(struct conn *c, int status, const char *extra, const char *body)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\nConnection: "
	    "close\r\n\r\n",
	    status, extra, strlen(body));

	if (write(c->fd, head, (size_t)n) != n ||
	    write(c->fd, body, strlen(body)) != (ssize_t)strlen(body))
		printf("# short write\n");
}

static void
form_value(const char *form, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);
	const char *p = form;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			size_t n = strcspn(p + kl + 1, "&");

			if (n >= size)
				n = size - 1;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return;
		}
		p = strchr(p, '&');
		if (p != NULL)
			p++;
	}
}

static void
serve(struct conn *c, const char *method, const char *path, const char *body)
{
	char action[64], buf[1024];

	if (strcmp(method, "PUT") == 0 &&
	    strcmp(path, "/latest/api/token") == 0) {
		reply(c, 200, "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n",
		    "tok-123");
		return;
	}
	if (strcmp(method, "GET") == 0 &&
	    strncmp(path, "/latest/meta-data/", 18) == 0) {
		const char *p = path + 18, *v = NULL;

		srv.imds_gets++;
		if (strcmp(p, "instance-id") == 0)
			v = "i-0abc";
		else if (strcmp(p, "placement/region") == 0)
			v = "us-east-1";
		else if (strcmp(p, "placement/availability-zone") == 0)
			v = "us-east-1a";
		else if (strcmp(p, "instance-type") == 0)
			v = "t3.micro";
		else if (strcmp(p, "autoscaling/target-lifecycle-state") == 0)
			v = srv.target;
		else if (strcmp(p, "spot/instance-action") == 0)
			v = srv.spot;
		else if (strcmp(p, "events/recommendations/rebalance") == 0)
			v = srv.rebalance;
		if (v == NULL || v[0] == '\0')
			reply(c, 404, "", "Not Found");
		else
			reply(c, 200, "", v);
		return;
	}
	if (strcmp(method, "POST") != 0) {
		reply(c, 404, "", "Not Found");
		return;
	}
	form_value(body, "Action", action, sizeof(action));
	if (srv.ncalls < MAX_CALLS) {
		struct call *k = &srv.calls[srv.ncalls++];

		snprintf(k->action, sizeof(k->action), "%s", action);
		snprintf(k->form, sizeof(k->form), "%s", body);
		k->at = util_now_ms();
	}
	if (strcmp(action, "CompleteLifecycleAction") == 0 &&
	    srv.complete_fail > 0) {
		srv.complete_fail--;
		snprintf(buf, sizeof(buf), xml_err, "Receiver",
		    "InternalFailure", "injected");
		reply(c, 500, "Content-Type: text/xml\r\n", buf);
		return;
	}
	if ((strcmp(action, "CompleteLifecycleAction") == 0 &&
	        srv.complete_invalid) ||
	    (strcmp(action, "RecordLifecycleActionHeartbeat") == 0 &&
	        srv.heartbeat_invalid)) {
		snprintf(buf, sizeof(buf), xml_err, "Sender", "ValidationError",
		    "No active Lifecycle Action found with instance ID i-0abc");
		reply(c, 400, "Content-Type: text/xml\r\n", buf);
		return;
	}
	snprintf(buf, sizeof(buf), xml_ok, action, action);
	reply(c, 200, "Content-Type: text/xml\r\n", buf);
}

static void
conn_cb(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	char method[16], path[512], *eoh, *cl;
	size_t hlen, clen = 0;
	ssize_t n;

	(void)events;
	n = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	eoh = strstr(c->buf, "\r\n\r\n");
	if (eoh == NULL)
		return;
	hlen = (size_t)(eoh - c->buf) + 4;
	cl = strcasestr(c->buf, "\r\nContent-Length:");
	if (cl != NULL && cl < eoh)
		clen = strtoul(cl + 17, NULL, 10);
	if (c->len < hlen + clen)
		return;
	if (sscanf(c->buf, "%15s %511s", method, path) != 2) {
		conn_close(c);
		return;
	}
	serve(c, method, path, c->buf + hlen);
	conn_close(c);
}

static void
accept_cb(int fd, unsigned events, void *arg)
{
	struct conn *c;
	int cfd;

	(void)events;
	(void)arg;
	cfd = accept(fd, NULL, NULL);
	if (cfd < 0)
		return;
	util_set_nonblock(cfd);
	c = calloc(1, sizeof(*c));
	c->fd = cfd;
	c->io = ev_io_add(srv.ev, cfd, EV_READ, conn_cb, c);
}

static void
srv_start(struct ev *ev)
{
	struct sockaddr_in sin = {0};
	socklen_t sl = sizeof(sin);
	int one = 1;

	srv.ev = ev;
	srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(srv.lfd, 64) < 0 ||
	    getsockname(srv.lfd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("listen");
		exit(1);
	}
	util_set_nonblock(srv.lfd);
	srv.port = ntohs(sin.sin_port);
	srv.lio = ev_io_add(ev, srv.lfd, EV_READ, accept_cb, NULL);
}

static void
srv_reset(void)
{
	srv.target[0] = '\0';
	srv.spot[0] = '\0';
	srv.rebalance[0] = '\0';
	srv.ncalls = 0;
	srv.complete_fail = 0;
	srv.complete_invalid = false;
	srv.heartbeat_invalid = false;
}

static int
ncalls(const char *action)
{
	int n = 0;

	for (int i = 0; i < srv.ncalls; i++)
		n += strcmp(srv.calls[i].action, action) == 0;
	return n;
}

/* The form of the n-th (0-based) call of action, or "". */
static const char *
call_form(const char *action, int n)
{
	for (int i = 0; i < srv.ncalls; i++)
		if (strcmp(srv.calls[i].action, action) == 0 && n-- == 0)
			return srv.calls[i].form;
	return "";
}

static mono_ms
call_at(const char *action, int n)
{
	for (int i = 0; i < srv.ncalls; i++)
		if (strcmp(srv.calls[i].action, action) == 0 && n-- == 0)
			return srv.calls[i].at;
	return 0;
}

/* --- the object on the loop ---------------------------------------------- */

static struct ev *loop;
static struct httpc *hc;
static struct imds *md;
static struct creds *cr;
static struct aws *aw;
static struct health *hl;
static struct lifecycle *lc;
static size_t c_app, c_db;
static bool app_good, db_good;
static struct ev_timer *ticker;
static int (*until)(void);

/* What the daemon would see. */
static int draining_on, draining_off, finished;
static bool draining;
static char drain_why[256];
static mono_ms draining_at, finished_at, started_at;

static void
set_draining_cb(bool on, const char *why, void *arg)
{
	(void)arg;
	draining = on;
	if (on) {
		draining_on++;
		draining_at = util_now_ms();
	} else {
		draining_off++;
	}
	snprintf(drain_why, sizeof(drain_why), "%s", why);
	health_set_draining(hl, on, why, util_now_ms());
}

static void
finished_cb(void *arg)
{
	(void)arg;
	finished++;
	finished_at = util_now_ms();
}

static const struct lifecycle_hooks hooks = {
    .set_draining = set_draining_cb,
    .drain_finished = finished_cb,
};

static void
stop_cb(void *arg)
{
	(void)arg;
	ev_stop(loop);
}

/* The daemon's tick, every 20 ms: the checks report, then observe. */
static void
ticker_cb(void *arg)
{
	struct health_result r;
	mono_ms now = util_now_ms();

	(void)arg;
	health_result_set(&r, app_good,
	    app_good ? HEALTH_R_OK : HEALTH_R_STATUS,
	    app_good ? "ok" : "status 500");
	health_report(hl, c_app, &r, now);
	health_result_set(&r, db_good, db_good ? HEALTH_R_OK : HEALTH_R_STATUS,
	    db_good ? "ok" : "status 500");
	health_report(hl, c_db, &r, now);
	health_tick(hl, now);
	lifecycle_observe(lc, hl, now);
	if (until != NULL && until())
		ev_stop(loop);
	else
		ev_timer_arm(ticker, 20);
}

static void
loop_for(mono_ms ms)
{
	struct ev_timer *stop = ev_timer_new(loop, stop_cb, NULL);

	ev_timer_arm(ticker, 0);
	ev_timer_arm(stop, ms);
	ev_run(loop);
	ev_timer_free(stop);
	ev_timer_disarm(ticker);
}

static bool
loop_until(int (*cond)(void), mono_ms max_ms)
{
	until = cond;
	loop_for(max_ms);
	until = NULL;
	return cond();
}

static json_object *root;

static json_object *
status_of(void)
{
	json_object *o = NULL;

	if (root != NULL)
		json_object_put(root);
	root = json_object_new_object();
	lifecycle_status(lc, root);
	json_object_object_get_ex(root, "lifecycle", &o);
	return o;
}

/* A member of the status as a string; several may be used at once. */
static const char *
jstr(const char *path)
{
	static char out[8][512];
	static int next;
	char buf[256], *save = NULL, *k, *o = out[next++ % 8];
	json_object *cur = status_of();

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k != NULL;
	     k = strtok_r(NULL, ".", &save))
		if (cur == NULL || !json_object_object_get_ex(cur, k, &cur))
			return "(missing)";
	if (cur == NULL)
		return "(null)";
	snprintf(o, sizeof(out[0]), "%s", json_object_get_string(cur));
	return o;
}

static struct conf cf;
static struct conf_check cf_checks[2];
static char *drain_argv[4];

static void
base_conf(void)
{
	memset(&cf, 0, sizeof(cf));
	memset(cf_checks, 0, sizeof(cf_checks));
	cf_checks[0].name = (char *)"app";
	cf_checks[0].rise = 3;
	cf_checks[0].fall = 1;
	cf_checks[1].name = (char *)"db";
	cf_checks[1].rise = 1;
	cf_checks[1].fall = 1;
	cf_checks[1].scope = CONF_SCOPE_DEPENDENCY;
	cf.checks = cf_checks;
	cf.n_checks = 2;
	cf.drain_seconds = 0.3;
	cf.aws_instance_id = (char *)"";
	cf.aws_autoscaling_group = (char *)"";
	cf.lc_launch_hook = (char *)"";
	cf.lc_terminate_hook = (char *)"";
	cf.lc_launch_timeout = 600;
	cf.lc_heartbeat_interval = 60;
	cf.lc_watch_interval = 0.1;
	cf.lc_rebalance_drain = false;
	cf.lc_watch_spot = true;
	cf.lc_drain_timeout = 5;
}

static void
new_health(int rise)
{
	struct health_check_params p;

	health_free(hl);
	hl = health_new(util_now_ms(), 60000);
	memset(&p, 0, sizeof(p));
	p.name = "app";
	p.rise = rise;
	p.fall = 1;
	p.interval = 20;
	p.timeout = 1000;
	c_app = health_add_check(hl, &p, util_now_ms());
	p.name = "db";
	p.dependency = true;
	p.rise = 1;
	c_db = health_add_check(hl, &p, util_now_ms());
}

/* A fresh object with the current cf and a fresh health. */
static void
start(bool good, bool identity)
{
	lifecycle_free(lc);
	srv.ncalls = 0;
	draining_on = draining_off = finished = 0;
	draining = false;
	draining_at = finished_at = 0;
	app_good = good;
	db_good = true;
	new_health(cf_checks[0].rise);
	started_at = util_now_ms();
	lc = lifecycle_new(loop, aw, md, &cf, &hooks);
	if (identity)
		lifecycle_set_identity(lc, "i-0abc", "web-asg");
}

static int
have_complete(void)
{
	return ncalls("CompleteLifecycleAction") > 0;
}

static int
have_finished(void)
{
	return finished > 0;
}

static int
is_draining(void)
{
	return draining;
}

static int
not_draining(void)
{
	return !draining;
}

static int
two_heartbeats(void)
{
	return ncalls("RecordLifecycleActionHeartbeat") >= 2;
}

static int
two_completes(void)
{
	return ncalls("CompleteLifecycleAction") >= 2;
}

static int
launch_done(void)
{
	return strcmp(jstr("launch.state"), "done") == 0;
}

static int
launch_retrying(void)
{
	return strcmp(jstr("launch.state"), "retrying") == 0;
}

static int
spot_seen(void)
{
	return strcmp(jstr("watch.spot"), "(null)") != 0;
}

static int
rebalance_seen(void)
{
	return strcmp(jstr("watch.rebalance"), "(null)") != 0;
}

static int
spot_error(void)
{
	return strcmp(jstr("watch.paths.meta-data/spot/instance-action."
	                   "last_error"),
	           "(null)") != 0;
}

static int
target_seen(void)
{
	return strcmp(jstr("watch.target_lifecycle_state"), "(null)") != 0;
}

static void
test_launch(void)
{
	const char *f;

	/* 1. CONTINUE after rise (3), once. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	start(false, true);
	loop_for(200);
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "launch: nothing while the app fails");
	is_str(jstr("launch.state"), "held", "launch: status says held");
	ok(strstr(jstr("launch.waiting_for"), "app") != NULL,
	    "launch: status says what it waits for (%s)",
	    jstr("launch.waiting_for"));
	app_good = true;
	ok(loop_until(have_complete, 3000), "launch: completed once healthy");
	f = call_form("CompleteLifecycleAction", 0);
	ok(strstr(f, "LifecycleHookName=launch-hook") != NULL &&
	        strstr(f, "AutoScalingGroupName=web-asg") != NULL &&
	        strstr(f, "LifecycleActionResult=CONTINUE") != NULL &&
	        strstr(f, "InstanceId=i-0abc") != NULL,
	    "launch: CompleteLifecycleAction CONTINUE with hook, group and "
	    "instance (%s)",
	    f);
	loop_for(300);
	is_int(ncalls("CompleteLifecycleAction"), 1, "launch: exactly once");
	is_str(jstr("launch.state"), "done", "launch: done");
	is_str(jstr("launch.result"), "CONTINUE accepted",
	    "launch: status shows the result");
	is_int(ncalls("RecordLifecycleActionHeartbeat"), 0,
	    "launch: no heartbeat for a short wait");

	/* 2. Never healthy: ABANDON at launch_timeout. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	cf.lc_launch_timeout = 0.4;
	start(false, true);
	ok(loop_until(have_complete, 3000), "abandon: a call was made");
	f = call_form("CompleteLifecycleAction", 0);
	ok(strstr(f, "LifecycleActionResult=ABANDON") != NULL,
	    "abandon: ABANDON (%s)", f);
	ok(call_at("CompleteLifecycleAction", 0) - started_at >= 400,
	    "abandon: at launch_timeout (%llu ms)",
	    (unsigned long long)(call_at("CompleteLifecycleAction", 0) -
	        started_at));
	loop_until(launch_done, 2000);
	is_str(jstr("launch.result"), "ABANDON accepted",
	    "abandon: status shows it");
	app_good = true;
	loop_for(300);
	is_int(ncalls("CompleteLifecycleAction"), 1,
	    "abandon: recovering afterwards changes nothing");

	/* 3. Heartbeats while waiting, and late identity. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	cf.lc_heartbeat_interval = 0.3;
	start(false, false);
	loop_for(700);
	is_int(ncalls("RecordLifecycleActionHeartbeat"), 0,
	    "heartbeat: none without the group");
	lifecycle_set_identity(lc, "i-0abc", NULL);
	loop_for(200);
	ok(strstr(jstr("launch.waiting_for"), "verdict starting") != NULL,
	    "heartbeat: still waiting (%s)", jstr("launch.waiting_for"));
	lifecycle_set_identity(lc, "i-0abc", "web-asg");
	ok(loop_until(two_heartbeats, 3500),
	    "heartbeat: sent every heartbeat_interval once the group is known");
	f = call_form("RecordLifecycleActionHeartbeat", 0);
	ok(strstr(f, "LifecycleHookName=launch-hook") != NULL &&
	        strstr(f, "AutoScalingGroupName=web-asg") != NULL &&
	        strstr(f, "InstanceId=i-0abc") != NULL &&
	        strstr(f, "LifecycleActionResult") == NULL,
	    "heartbeat: hook, group and instance (%s)", f);
	loop_for(150);
	ok(atoi(jstr("launch.heartbeats")) >= 2, "heartbeat: counted (%s)",
	    jstr("launch.heartbeats"));
	app_good = true;
	ok(loop_until(have_complete, 3000), "heartbeat: then CONTINUE");

	/* 4. Ready before the group is known: the call waits for it. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	start(true, false);
	loop_for(300);
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "late identity: no call without the group");
	is_str(jstr("launch.waiting_for"), "the instance id and group",
	    "late identity: status says so");
	lifecycle_set_identity(lc, "i-0abc", "web-asg");
	loop_until(have_complete, 2000);
	ok(strstr(call_form("CompleteLifecycleAction", 0), "CONTINUE") != NULL,
	    "late identity: CONTINUE as soon as it arrives");

	/* 4b. The group from the config. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	cf.aws_autoscaling_group = (char *)"conf-asg";
	start(true, false);
	lifecycle_set_identity(lc, "i-0abc", NULL);
	loop_until(have_complete, 2000);
	ok(strstr(call_form("CompleteLifecycleAction", 0),
	       "AutoScalingGroupName=conf-asg") != NULL,
	    "config group: aws.autoscaling_group is used");

	/* 5. ValidationError: not pending, not retried. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	srv.complete_invalid = true;
	start(true, true);
	loop_until(launch_done, 3000);
	loop_for(300);
	is_int(ncalls("CompleteLifecycleAction"), 1,
	    "not pending: ValidationError is not retried");
	ok(strstr(jstr("launch.result"), "not pending") != NULL &&
	        strstr(jstr("launch.result"), "No active Lifecycle Action") !=
	            NULL,
	    "not pending: status says so (%s)", jstr("launch.result"));
	srv.complete_invalid = false;

	/* 5b. A heartbeat refused: the launch is not held at all. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	cf.lc_heartbeat_interval = 0.3;
	srv.heartbeat_invalid = true;
	start(false, true);
	loop_until(launch_done, 3000);
	ok(strstr(jstr("launch.result"), "heartbeat refused") != NULL,
	    "heartbeat refused: launch done (%s)", jstr("launch.result"));
	app_good = true;
	loop_for(200);
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "heartbeat refused: no CompleteLifecycleAction");
	srv.heartbeat_invalid = false;

	/* 6. A 500 is retried after the backoff. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	srv.complete_fail = 1;
	start(true, true);
	loop_until(launch_retrying, 2000);
	ok(strcmp(jstr("launch.state"), "retrying") == 0 &&
	        strstr(jstr("launch.result"), "InternalFailure") != NULL,
	    "retry: a failed round is shown (%s)", jstr("launch.result"));
	ok(loop_until(two_completes, 5000), "retry: a second round");
	loop_until(launch_done, 2000);
	is_str(jstr("launch.result"), "CONTINUE accepted",
	    "retry: and it was accepted");

	/* 7. Terminated target at start: no launch completion. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	snprintf(srv.target, sizeof(srv.target), "Terminated");
	start(false, true);
	loop_until(launch_done, 2000);
	ok(strstr(jstr("launch.result"), "skipped") != NULL,
	    "terminated at start: launch skipped (%s)", jstr("launch.result"));
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "terminated at start: no launch call");
	ok(draining, "terminated at start: draining");
	srv_reset();

	/* 8. No launch hook: nothing is called. */
	base_conf();
	start(true, true);
	loop_for(300);
	is_int(srv.ncalls, 0, "no hook: no API call");
	is_str(jstr("launch.state"), "off", "no hook: launch off");
}

static void
test_terminate(void)
{
	char marker[256], script[512];
	const char *f;
	mono_ms t0;

	snprintf(marker, sizeof(marker), "/tmp/test_lifecycle.%ld",
	    (long)getpid());
	unlink(marker);
	snprintf(script, sizeof(script), "echo draining now; touch %s", marker);

	/* 1. Terminated: 503 at once, the command, drain_seconds, then the
	 * terminate hook, then drain_finished. */
	base_conf();
	cf.lc_terminate_hook = (char *)"term-hook";
	drain_argv[0] = (char *)"/bin/sh";
	drain_argv[1] = (char *)"-c";
	drain_argv[2] = script;
	drain_argv[3] = NULL;
	memcpy(cf.lc_drain_argv, drain_argv, sizeof(drain_argv));
	cf.lc_drain_argc = 3;
	cf.drain_seconds = 0.5;
	start(true, true);
	loop_until(target_seen, 300);
	snprintf(srv.target, sizeof(srv.target), "InService");
	ok(loop_until(target_seen, 2000) && !draining,
	    "terminate: InService is no signal");
	snprintf(srv.target, sizeof(srv.target), "Terminated");
	t0 = util_now_ms();
	ok(loop_until(is_draining, 2000), "terminate: draining");
	ok(draining_at - t0 < 1000,
	    "terminate: within a watch interval (%llu ms)",
	    (unsigned long long)(draining_at - t0));
	is_str(health_state_names[health_state(hl)], "draining",
	    "terminate: the verdict is DRAINING (the endpoint says 503)");
	is_str(drain_why, "target lifecycle state Terminated",
	    "terminate: why");
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "terminate: no completion yet");
	ok(loop_until(have_finished, 5000), "terminate: drain finished");
	ok(access(marker, F_OK) == 0, "terminate: drain_command ran");
	is_int(ncalls("CompleteLifecycleAction"), 1,
	    "terminate: the hook was completed");
	f = call_form("CompleteLifecycleAction", 0);
	ok(strstr(f, "LifecycleHookName=term-hook") != NULL &&
	        strstr(f, "LifecycleActionResult=CONTINUE") != NULL &&
	        strstr(f, "AutoScalingGroupName=web-asg") != NULL,
	    "terminate: CONTINUE for the terminate hook (%s)", f);
	ok(call_at("CompleteLifecycleAction", 0) >= draining_at + 500,
	    "terminate: after drain_seconds (%llu ms)",
	    (unsigned long long)(call_at("CompleteLifecycleAction", 0) -
	        draining_at));
	ok(finished_at >= call_at("CompleteLifecycleAction", 0),
	    "terminate: drain_finished after the call");
	is_str(jstr("terminate.result"), "CONTINUE accepted",
	    "terminate: status shows the result");
	is_str(jstr("drain.state"), "drained", "terminate: drain state");
	is_str(jstr("drain.command_result"), "exit 0: draining now",
	    "terminate: command result in status");
	loop_for(400);
	is_int(draining_on, 1, "terminate: drained once");
	is_int(finished, 1, "terminate: finished once");
	{
		char err[200];

		ok(lifecycle_undrain(lc, err, sizeof(err)) < 0 &&
		        strstr(err, "going away") != NULL,
		    "terminate: undrain refused (%s)", err);
	}
	unlink(marker);
	srv_reset();

	/* 2. Heartbeats during a long drain; a slow command is killed at
	 * drain_timeout. */
	base_conf();
	cf.lc_terminate_hook = (char *)"term-hook";
	cf.lc_heartbeat_interval = 0.4;
	drain_argv[2] = (char *)"sleep 30";
	memcpy(cf.lc_drain_argv, drain_argv, sizeof(drain_argv));
	cf.lc_drain_argc = 3;
	cf.lc_drain_timeout = 0.3;
	cf.drain_seconds = 1;
	snprintf(srv.target, sizeof(srv.target), "Terminated");
	start(true, true);
	ok(loop_until(have_finished, 6000), "long drain: finished");
	ok(ncalls("RecordLifecycleActionHeartbeat") >= 2,
	    "long drain: heartbeats for the terminate hook (%d)",
	    ncalls("RecordLifecycleActionHeartbeat"));
	ok(strstr(call_form("RecordLifecycleActionHeartbeat", 0),
	       "LifecycleHookName=term-hook") != NULL,
	    "long drain: for the terminate hook");
	is_str(jstr("drain.command_result"), "killed at drain_timeout",
	    "long drain: the command was killed at drain_timeout");
	ok(call_at("CompleteLifecycleAction", 0) - draining_at >= 1300 &&
	        call_at("CompleteLifecycleAction", 0) - draining_at < 4000,
	    "long drain: 0.3 s command + 1 s wait (%llu ms)",
	    (unsigned long long)(call_at("CompleteLifecycleAction", 0) -
	        draining_at));
	srv_reset();
	cf.lc_drain_argc = 0;
	memset(cf.lc_drain_argv, 0, sizeof(cf.lc_drain_argv));
}

static void
test_spot_drain(void)
{
	int64_t wall;
	mono_ms took;

	/* drain_seconds 60, a notice 11 s out: the drain is cut to ~1 s. */
	base_conf();
	cf.lc_terminate_hook = (char *)"term-hook";
	cf.drain_seconds = 60;
	start(true, true);
	loop_for(150);
	wall = util_wall_ms() + 11000;
	{
		time_t t = (time_t)(wall / 1000);
		struct tm tm;
		char ts[64];

		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(srv.spot, sizeof(srv.spot),
		    "{\"action\": \"terminate\", \"time\": \"%s\"}", ts);
		wall = (int64_t)t * 1000;
	}
	ok(loop_until(is_draining, 2000), "spot: draining");
	ok(strstr(drain_why, "Spot instance-action terminate") != NULL,
	    "spot: why (%s)", drain_why);
	ok(loop_until(have_finished, 5000), "spot: finished well within 60 s");
	took = finished_at - draining_at;
	ok(util_wall_ms() <= wall - LIFECYCLE_SPOT_MARGIN_MS + 300,
	    "spot: finished by the notice's time minus 10 s");
	ok(took < 2000, "spot: the wait was cut to the deadline (%llu ms)",
	    (unsigned long long)took);
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "spot: no terminate action pending yet: no call");
	is_str(jstr("watch.spot.action"), "terminate", "spot: status");
	/* The group starts terminating: completed at once. */
	snprintf(srv.target, sizeof(srv.target), "Terminated");
	ok(loop_until(have_complete, 2000),
	    "spot: Terminated afterwards: the hook is completed at once");
	is_int(finished, 1, "spot: drain_finished once");
	srv_reset();

	/* A notice already past: no wait at all. */
	base_conf();
	cf.drain_seconds = 60;
	start(true, true);
	snprintf(srv.spot, sizeof(srv.spot),
	    "{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00Z\"}");
	ok(loop_until(have_finished, 2000), "spot past: finished at once");
	srv_reset();

	/* A running drain is cut when a notice arrives. */
	base_conf();
	cf.drain_seconds = 60;
	start(true, true);
	ok(lifecycle_drain(lc, "operator request") == 0,
	    "cut: manual drain started");
	loop_for(300);
	ok(!finished, "cut: still waiting its 60 s");
	snprintf(srv.spot, sizeof(srv.spot),
	    "{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00Z\"}");
	ok(loop_until(have_finished, 2000),
	    "cut: the Spot notice ends the wait");
	is_int(draining_on, 1, "cut: one drain, joined");
	srv_reset();

	/* stop: a withdrawn notice lifts the drain. */
	base_conf();
	cf.drain_seconds = 0.2;
	start(true, true);
	snprintf(srv.spot, sizeof(srv.spot),
	    "{\"action\": \"stop\", \"time\": \"2099-01-01T00:00:00Z\"}");
	ok(loop_until(is_draining, 2000), "spot stop: draining");
	srv.spot[0] = '\0';
	ok(loop_until(not_draining, 2000), "spot stop: lifted when withdrawn");
	is_int(draining_off, 1, "spot stop: set_draining(false) once");
	srv_reset();

	/* Garbage: logged, ignored. */
	base_conf();
	start(true, true);
	snprintf(srv.spot, sizeof(srv.spot), "<html>oops</html>");
	ok(loop_until(spot_error, 2000), "garbage: shown in status");
	ok(!draining && !spot_seen(), "garbage: ignored (%s)",
	    jstr("watch.paths.meta-data/spot/instance-action.last_error"));
	snprintf(srv.target, sizeof(srv.target), "Terminating");
	loop_for(300);
	ok(!draining &&
	        strstr(jstr("watch.paths.meta-data/autoscaling/"
	                    "target-lifecycle-state.last_error"),
	            "Terminating") != NULL,
	    "garbage: an unknown target state is ignored (%s)",
	    jstr("watch.paths.meta-data/autoscaling/target-lifecycle-state."
	         "last_error"));
	srv_reset();

	/* lifecycle.spot = false: not polled. */
	base_conf();
	cf.lc_watch_spot = false;
	start(true, true);
	snprintf(srv.spot, sizeof(srv.spot),
	    "{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00Z\"}");
	loop_for(400);
	ok(!draining && !spot_seen(), "spot off: not watched");
	srv_reset();
}

static void
test_other_signals(void)
{
	char err[200];

	/* Rebalance, report only. */
	base_conf();
	start(true, true);
	snprintf(srv.rebalance, sizeof(srv.rebalance),
	    "{\"noticeTime\": \"2020-10-27T08:22:00Z\"}");
	ok(loop_until(rebalance_seen, 2000), "rebalance: seen");
	is_str(jstr("watch.rebalance.action"), "report",
	    "rebalance: reported only");
	ok(!draining, "rebalance: no drain by default");
	srv_reset();

	/* Rebalance, drain. */
	base_conf();
	cf.lc_rebalance_drain = true;
	cf.lc_terminate_hook = (char *)"term-hook";
	start(true, true);
	snprintf(srv.rebalance, sizeof(srv.rebalance),
	    "{\"noticeTime\": \"2020-10-27T08:22:00Z\"}");
	ok(loop_until(have_finished, 3000), "rebalance drain: drained");
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "rebalance drain: no hook pending, no call");
	loop_for(300);
	is_int(draining_on, 1, "rebalance drain: once");
	ok(lifecycle_undrain(lc, err, sizeof(err)) == 0 && !draining,
	    "rebalance drain: undrain works");
	loop_for(300);
	is_int(draining_on, 1, "rebalance drain: not again while present");
	srv_reset();

	/* Manual drain. */
	base_conf();
	cf.lc_terminate_hook = (char *)"term-hook";
	start(true, true);
	ok(lifecycle_drain(lc, "operator request") == 0 && draining &&
	        lifecycle_draining(lc),
	    "manual: draining at once");
	ok(lifecycle_drain(lc, "operator request") == 1,
	    "manual: a second request joins");
	ok(loop_until(have_finished, 3000), "manual: finished");
	is_int(ncalls("CompleteLifecycleAction"), 0,
	    "manual: no terminate action pending: no call");
	ok(lifecycle_undrain(lc, err, sizeof(err)) == 0 && !draining &&
	        !lifecycle_draining(lc),
	    "manual: undrain");
	ok(lifecycle_drain(lc, "deploy") == 0, "manual: can drain again");
	ok(lifecycle_undrain(lc, err, sizeof(err)) == 0 && draining_off == 2,
	    "manual: undrain mid-way");
	srv_reset();

	/* Warm pool: InService -> Warmed:Stopped drains; back to InService
	 * lifts it and holds the launch again. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	cf.lc_terminate_hook = (char *)"term-hook";
	snprintf(srv.target, sizeof(srv.target), "Warmed:Stopped");
	start(true, true);
	ok(loop_until(launch_done, 2000) && !draining,
	    "warm: launched into the pool: CONTINUE, no drain");
	ok(strstr(call_form("CompleteLifecycleAction", 0),
	       "LifecycleHookName=launch-hook") != NULL,
	    "warm: the launch hook was completed");
	snprintf(srv.target, sizeof(srv.target), "InService");
	loop_for(300);
	is_int(ncalls("CompleteLifecycleAction"), 2,
	    "warm: leaving the pool completes the launch hook again");
	snprintf(srv.target, sizeof(srv.target), "Warmed:Running");
	ok(loop_until(have_finished, 3000) && draining,
	    "warm: InService -> Warmed:Running drains");
	ok(strstr(call_form("CompleteLifecycleAction", 2),
	       "LifecycleHookName=term-hook") != NULL,
	    "warm: and completes the terminate hook");
	snprintf(srv.target, sizeof(srv.target), "InService");
	ok(loop_until(not_draining, 2000), "warm: back in service: lifted");
	loop_for(300);
	is_int(ncalls("CompleteLifecycleAction"), 4,
	    "warm: launch hook completed again");
	srv_reset();
}

static void
test_reconfigure(void)
{
	char err[200];

	/* A launch hook added by a reload counts from the start; a shorter
	 * launch_timeout applies to the held launch. */
	base_conf();
	start(false, true);
	loop_for(200);
	is_str(jstr("launch.state"), "off", "reconfigure: no launch hook");
	cf.lc_launch_hook = (char *)"launch-hook";
	lifecycle_reconfigure(lc, &cf);
	is_str(jstr("launch.state"), "held", "reconfigure: launch hook held");
	cf.lc_launch_timeout = 0.1;
	lifecycle_reconfigure(lc, &cf);
	ok(loop_until(have_complete, 2000) &&
	        strstr(call_form("CompleteLifecycleAction", 0),
	            "LifecycleActionResult=ABANDON") != NULL,
	    "reconfigure: a shorter launch_timeout applies at once");
	/* Removing the hook while held stops it. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	start(false, true);
	cf.lc_launch_hook = (char *)"";
	lifecycle_reconfigure(lc, &cf);
	app_good = true;
	loop_for(300);
	ok(ncalls("CompleteLifecycleAction") == 0 &&
	        strcmp(jstr("launch.state"), "off") == 0,
	    "reconfigure: a removed launch hook is not completed");
	/* A terminate hook added while Terminated is pending at once. */
	base_conf();
	snprintf(srv.target, sizeof(srv.target), "Terminated");
	start(true, true);
	ok(loop_until(have_finished, 2000), "reconfigure: drained");
	cf.lc_terminate_hook = (char *)"term-hook";
	lifecycle_reconfigure(lc, &cf);
	ok(loop_until(have_complete, 2000) &&
	        strstr(call_form("CompleteLifecycleAction", 0),
	            "LifecycleHookName=term-hook") != NULL,
	    "reconfigure: a terminate hook added while Terminated is "
	    "completed");
	srv_reset();

	/* Clients replaced (cloud.c rebuilds them): a failed completion is
	 * made again at once on the new ones. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	srv.complete_fail = 1;
	start(true, true);
	loop_until(launch_retrying, 2000);
	lifecycle_set_clients(lc, NULL, NULL);
	lifecycle_set_clients(lc, aw, md);
	loop_until(launch_done, 1000);
	is_str(jstr("launch.result"), "CONTINUE accepted",
	    "clients: completed on the new client without the backoff");
	srv_reset();

	/* No AWS access at all: the manual drain still works; a hook
	 * cannot be completed and says so. */
	base_conf();
	cf.lc_launch_hook = (char *)"launch-hook";
	lifecycle_free(lc);
	draining = false;
	finished = 0;
	new_health(3);
	app_good = true;
	lc = lifecycle_new(loop, NULL, NULL, &cf, &hooks);
	lifecycle_set_identity(lc, "i-0abc", "web-asg");
	ok(lifecycle_drain(lc, "deploy") == 0 && draining,
	    "no AWS: manual drain");
	ok(loop_until(have_finished, 2000), "no AWS: drain finished");
	is_str(jstr("watch.enabled"), "false", "no AWS: no IMDS watch");
	ok(lifecycle_undrain(lc, err, sizeof(err)) == 0 && !draining,
	    "no AWS: undrain");
	loop_for(300);
	ok(strstr(jstr("launch.result"), "no AWS access") != NULL,
	    "no AWS: the launch says why it cannot complete (%s)",
	    jstr("launch.result"));
	lifecycle_free(lc);
	lc = NULL;
	start(true, true);
}

int
main(void)
{
	struct aws_opts o = {.region = "us-east-1",
	    .max_attempts = 1,
	    .timeout_ms = 5000};
	char url[64];

	/* The fake server may answer a request its client gave up on. */
	signal(SIGPIPE, SIG_IGN);
	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR,
	    false);
	test_classify();
	test_time();
	test_spot();
	test_deadline();
	test_ready();

	/* Everything goes to the fake endpoint on 127.0.0.1. */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	setenv("HEALTHAGENT_TEST_FAST", "1", 1);
	loop = ev_new();
	hc = httpc_new(loop);
	srv_start(loop);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	o.endpoint_url = url;
	md = imds_new(loop, hc, url);
	cr = creds_new(loop, hc, NULL, NULL);
	aw = aws_new(loop, hc, cr, &o);
	ticker = ev_timer_new(loop, ticker_cb, NULL);
	srv_reset();

	test_launch();
	test_terminate();
	test_spot_drain();
	test_other_signals();
	test_reconfigure();

	lifecycle_free(lc);
	lc = NULL;
	if (root != NULL)
		json_object_put(root);
	ev_timer_free(ticker);
	health_free(hl);
	aws_free(aw);
	creds_free(cr);
	imds_free(md);
	ev_io_del(srv.lio);
	close(srv.lfd);
	httpc_free(hc);
	child_reap_all();
	ev_free(loop);
	return done_testing();
}
