/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the SNS notifier. The pure parts: the kind names, ISO-8601
 * times, the Subject (every kind, with and without a group, non-ASCII and
 * control bytes, the length limit), the topic region, which errors drop a
 * message, and the message JSON built from a real health state machine
 * (every documented field, in order, UTF-8 cleaned and bounded). Then the
 * queue: its bound (the oldest waiting message is dropped and counted),
 * disabling, and real Publish calls on the event loop against a scripted
 * HTTP server on 127.0.0.1: nothing before the identity is known, a 500
 * retried with backoff across calls, the form parameters, a malformed
 * message dropped, and the FIFO parameters.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws.h"
#include "conf.h"
#include "creds.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "log.h"
#include "notify.h"
#include "tap.h"
#include "util.h"

#define TOPIC "arn:aws:sns:us-east-1:123456789012:alerts"

/* --- pure helpers --------------------------------------------------------- */

static void
test_names(void)
{
	is_str(notify_kind_names[NOTIFY_SELF_EVICTION], "self_eviction",
	    "kind name self_eviction");
	is_str(notify_kind_names[NOTIFY_EVICTION_REFUSED], "eviction_refused",
	    "kind name eviction_refused");
	is_str(notify_kind_names[NOTIFY_DRAIN_START], "drain_start",
	    "kind name drain_start");
	is_str(notify_kind_names[NOTIFY_RECOVERED], "recovered",
	    "kind name recovered");
}

static void
test_iso(void)
{
	char b[40];

	notify_iso8601(0, b, sizeof(b));
	is_str(b, "1970-01-01T00:00:00.000Z", "iso8601: the epoch");
	notify_iso8601(1714564800123LL, b, sizeof(b));
	is_str(b, "2024-05-01T12:00:00.123Z", "iso8601: with milliseconds");
	notify_iso8601(951782400999LL, b, sizeof(b));
	is_str(b, "2000-02-29T00:00:00.999Z", "iso8601: a leap day");
	notify_iso8601(-1, b, sizeof(b));
	is_str(b, "1969-12-31T23:59:59.999Z", "iso8601: before the epoch");
}

static bool
printable_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void
test_subject(void)
{
	char s[NOTIFY_SUBJECT_MAX + 1], big[300], small[12];
	size_t n;

	n = notify_subject(NOTIFY_SELF_EVICTION, "i-0abc", "my-asg", s,
	    sizeof(s));
	is_str(s, "healthagent: i-0abc unhealthy, self-eviction in my-asg",
	    "subject: self_eviction");
	is_int(n, strlen(s), "subject: the length returned");
	notify_subject(NOTIFY_EVICTION_REFUSED, "i-0abc", "my-asg", s,
	    sizeof(s));
	is_str(s,
	    "healthagent: i-0abc unhealthy, self-eviction refused in my-asg",
	    "subject: eviction_refused");
	notify_subject(NOTIFY_DRAIN_START, "i-0abc", "my-asg", s, sizeof(s));
	is_str(s, "healthagent: i-0abc draining in my-asg",
	    "subject: drain_start");
	notify_subject(NOTIFY_RECOVERED, "i-0abc", NULL, s, sizeof(s));
	is_str(s, "healthagent: i-0abc recovered", "subject: no group");
	notify_subject(NOTIFY_RECOVERED, "i-0abc", "", s, sizeof(s));
	is_str(s, "healthagent: i-0abc recovered", "subject: empty group");
	notify_subject(NOTIFY_DRAIN_START, NULL, "g", s, sizeof(s));
	is_str(s, "healthagent: unknown instance draining in g",
	    "subject: no instance id");
	notify_subject(NOTIFY_DRAIN_START, "i-1", "caf\xc3\xa9\n\tx", s,
	    sizeof(s));
	is_str(s,
	    "healthagent: i-1 draining in caf???"
	    "?x",
	    "subject: non-ASCII and control bytes become ?");

	memset(big, 'g', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = notify_subject(NOTIFY_EVICTION_REFUSED, "i-0123456789abcdef0", big,
	    s, sizeof(s));
	is_int(n, NOTIFY_SUBJECT_MAX, "subject: a long one is cut to %d",
	    NOTIFY_SUBJECT_MAX);
	ok(strlen(s) == NOTIFY_SUBJECT_MAX &&
	        strcmp(s + NOTIFY_SUBJECT_MAX - 3, "...") == 0 &&
	        strncmp(s,
	            "healthagent: i-0123456789abcdef0 unhealthy, "
	            "self-eviction refused in ggg",
	            70) == 0,
	    "subject: ... marks the cut: %s", s);
	ok(NOTIFY_SUBJECT_MAX < 100, "subject: fewer than 100 characters");
	ok(printable_ascii(s), "subject: printable ASCII");
	n = notify_subject(NOTIFY_RECOVERED, "i-0abc", "g", small,
	    sizeof(small));
	is_int(n, 11, "subject: a small buffer is respected");
	is_str(small, "healthag...", "subject: cut to the buffer");
}

static void
test_region_errors(void)
{
	char r[32];

	notify_topic_region(TOPIC, r, sizeof(r));
	is_str(r, "us-east-1", "topic region");
	notify_topic_region("arn:aws-us-gov:sns:us-gov-west-1:123456789012:x",
	    r, sizeof(r));
	is_str(r, "us-gov-west-1", "topic region, GovCloud partition");
	notify_topic_region("arn:aws:sqs:us-east-1:123456789012:q", r,
	    sizeof(r));
	is_str(r, "", "not an SNS ARN: no region");
	notify_topic_region("nonsense", r, sizeof(r));
	is_str(r, "", "nonsense: no region");

	ok(notify_permanent_error(400, "InvalidParameter"),
	    "InvalidParameter drops the message");
	ok(notify_permanent_error(400, "ValidationException"),
	    "ValidationException drops the message");
	ok(!notify_permanent_error(404, "NotFound"),
	    "NotFound (no topic yet) is retried");
	ok(!notify_permanent_error(403, "AuthorizationError"),
	    "AuthorizationError (no permission yet) is retried");
	ok(!notify_permanent_error(500, "InternalError"),
	    "InternalError is retried");
	ok(!notify_permanent_error(0, "ConnectionRefused"),
	    "transport errors are retried");
	ok(!notify_permanent_error(400, NULL), "no code: retried");
}

/* web (local) failing with status 500, db (dependency) refused, ok up. */
static struct health *
mk_health(void)
{
	struct health *h = health_new(1000, 0);
	struct health_check_params p = {.rise = 1,
	    .fall = 1,
	    .interval = 5000,
	    .timeout = 1000};
	struct health_result r;

	p.name = "web";
	health_add_check(h, &p, 1000);
	p.name = "db";
	p.dependency = true;
	health_add_check(h, &p, 1000);
	p.name = "ok";
	p.dependency = false;
	health_add_check(h, &p, 1000);
	health_result_set(&r, true, HEALTH_R_OK, NULL);
	health_report(h, 0, &r, 1100);
	health_report(h, 2, &r, 1100);
	health_result_set(&r, false, HEALTH_R_REFUSED, "connection refused");
	health_report(h, 1, &r, 1100);
	health_tick(h, 1200);
	health_result_set(&r, false, HEALTH_R_STATUS, "status 500");
	health_report(h, 0, &r, 3000);
	health_tick(h, 3000);
	return h;
}

static const char *
jget_str(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool
jnull(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v == NULL;
}

static void
test_message(void)
{
	static const char *const order[] = {"event", "event_id", "instance_id",
	    "group", "availability_zone", "region", "reason", "state",
	    "state_reason", "state_since", "failing_checks", "time", "agent",
	    "agent_version"};
	struct health *h = mk_health();
	struct notify_identity id = {"i-0123456789abcdef0", "web-asg",
	    "us-east-1a", "us-east-1"};
	/* wall 2024-05-01T12:00:10.000Z at mono 10000 */
	int64_t wall = 1714564810000LL;
	json_object *m, *checks, *c, *v;
	size_t i = 0;
	bool in_order = true;
	char big[3000], *s;

	m = notify_message(NOTIFY_SELF_EVICTION, "web: status 500 for 60 s", h,
	    &id, 10000, wall, "00112233445566778899aabbccddeeff");
	json_object_object_foreach(m, key, val)
	{
		(void)val;
		if (i >= sizeof(order) / sizeof(order[0]) ||
		    strcmp(key, order[i]) != 0)
			in_order = false;
		i++;
	}
	ok(in_order && i == sizeof(order) / sizeof(order[0]),
	    "message: every documented field, in order");
	is_str(jget_str(m, "event"), "self_eviction", "message: event");
	is_str(jget_str(m, "event_id"), "00112233445566778899aabbccddeeff",
	    "message: event_id");
	is_str(jget_str(m, "instance_id"), "i-0123456789abcdef0",
	    "message: instance_id");
	is_str(jget_str(m, "group"), "web-asg", "message: group");
	is_str(jget_str(m, "availability_zone"), "us-east-1a",
	    "message: availability_zone");
	is_str(jget_str(m, "region"), "us-east-1", "message: region");
	is_str(jget_str(m, "reason"), "web: status 500 for 60 s",
	    "message: reason");
	is_str(jget_str(m, "state"), "unhealthy", "message: state");
	ok(jget_str(m, "state_reason") != NULL &&
	        strstr(jget_str(m, "state_reason"), "web") != NULL,
	    "message: state_reason names the check: %s",
	    jget_str(m, "state_reason"));
	is_str(jget_str(m, "state_since"), "2024-05-01T12:00:03.000Z",
	    "message: state_since, from the monotonic time");
	is_str(jget_str(m, "time"), "2024-05-01T12:00:10.000Z",
	    "message: time");
	is_str(jget_str(m, "agent"), "healthagent", "message: agent");
	is_str(jget_str(m, "agent_version"), PACKAGE_VERSION,
	    "message: agent_version");
	ok(json_object_object_get_ex(m, "failing_checks", &checks) &&
	        json_object_is_type(checks, json_type_array) &&
	        json_object_array_length(checks) == 2,
	    "message: two failing checks (the one up is left out)");
	c = json_object_array_get_idx(checks, 0);
	is_str(jget_str(c, "name"), "web", "check 0: name");
	is_str(jget_str(c, "scope"), "local", "check 0: scope");
	is_str(jget_str(c, "state"), "down", "check 0: state");
	is_str(jget_str(c, "reason"), "status", "check 0: reason");
	is_str(jget_str(c, "detail"), "status 500", "check 0: detail");
	is_str(jget_str(c, "since"), "2024-05-01T12:00:03.000Z",
	    "check 0: since");
	c = json_object_array_get_idx(checks, 1);
	is_str(jget_str(c, "name"), "db", "check 1: name");
	is_str(jget_str(c, "scope"), "dependency", "check 1: scope");
	is_str(jget_str(c, "reason"), "refused", "check 1: reason");
	is_str(jget_str(c, "detail"), "connection refused", "check 1: detail");
	json_object_put(m);

	/* No health view, no identity, no reason. */
	m = notify_message(NOTIFY_DRAIN_START, NULL, NULL, NULL, 10000, wall,
	    NULL);
	ok(jnull(m, "instance_id") && jnull(m, "group") &&
	        jnull(m, "availability_zone") && jnull(m, "region") &&
	        jnull(m, "reason") && jnull(m, "state") &&
	        jnull(m, "state_since") && jnull(m, "event_id"),
	    "message without identity or health: nulls");
	ok(json_object_object_get_ex(m, "failing_checks", &v) &&
	        json_object_array_length(v) == 0,
	    "message without health: failing_checks []");
	is_str(jget_str(m, "event"), "drain_start", "event drain_start");
	json_object_put(m);

	/* Empty group: null; a long reason is cut at a character; bad
	 * UTF-8 is replaced. */
	id.group = "";
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + NOTIFY_REASON_MAX - 1, "\xc3\xa9", 2);
	m = notify_message(NOTIFY_RECOVERED, big, h, &id, 10000, wall, "e");
	ok(jnull(m, "group"), "empty group: null");
	s = (char *)jget_str(m, "reason");
	ok(s != NULL && strlen(s) == NOTIFY_REASON_MAX - 1,
	    "a long reason is cut to at most %d bytes, not inside a "
	    "character (%zu)",
	    NOTIFY_REASON_MAX, s != NULL ? strlen(s) : 0);
	json_object_put(m);
	m = notify_message(NOTIFY_RECOVERED, "ok\xff\xfe then \xc3\xa9", NULL,
	    &id, 10000, wall, "e");
	is_str(jget_str(m, "reason"), "ok?? then \xc3\xa9",
	    "invalid UTF-8 becomes ?, valid UTF-8 stays");
	v = json_tokener_parse(json_object_to_json_string(m));
	ok(v != NULL, "the message serialises to valid JSON");
	json_object_put(v);
	json_object_put(m);
	health_free(h);
}

/* --- the queue without AWS ---------------------------------------------- */

static struct conf *
mk_conf(const char *topic)
{
	struct conf_errors errs = {0};
	char text[512];
	struct conf *c;

	snprintf(text, sizeof(text), "notify = { sns_topic_arn = \"%s\"; };",
	    topic);
	c = conf_load_string(text, "t.conf", NULL, &errs);
	for (size_t i = 0; i < errs.n; i++)
		printf("# %s\n", errs.msgs[i]);
	conf_errors_free(&errs);
	return c;
}

static json_object *
status_of(struct notify *n)
{
	json_object *st = json_object_new_object(), *o = NULL;

	notify_status(n, st);
	json_object_object_get_ex(st, "notify", &o);
	json_object_get(o);
	json_object_put(st);
	return o;
}

static long long
jint(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return -1;
	return json_object_get_int64(v);
}

static void
test_queue(void)
{
	struct ev *ev = ev_new();
	struct conf *c = mk_conf(TOPIC), *off = mk_conf("");
	struct notify *n;
	json_object *st, *pend;
	char why[32];

	if (!ok(c != NULL && off != NULL, "configs load"))
		return;
	n = notify_new(ev, NULL, off);
	notify_event(n, NOTIFY_RECOVERED, "x", NULL);
	st = status_of(n);
	ok(jint(st, "queued") == 0 && jint(st, "dropped") == 0,
	    "no topic: nothing is queued");
	is_str(jget_str(st, "state"), "disabled", "no topic: disabled");
	json_object_put(st);
	notify_free(n);

	n = notify_new(ev, NULL, c);
	notify_set_identity(n, "i-0123456789abcdef0", "web", "us-east-1a");
	for (int i = 1; i <= NOTIFY_QUEUE_MAX + 6; i++) {
		snprintf(why, sizeof(why), "event %d", i);
		notify_event(n, NOTIFY_DRAIN_START, why, NULL);
	}
	st = status_of(n);
	is_int(jint(st, "queued"), NOTIFY_QUEUE_MAX,
	    "the queue is bounded at %d", NOTIFY_QUEUE_MAX);
	is_int(jint(st, "dropped"), 6, "overflow is counted as dropped");
	is_int(jint(st, "sent"), 0, "nothing sent without AWS access");
	is_int(jint(st, "failed"), 0, "and nothing failed");
	is_str(jget_str(st, "state"), "no AWS access", "state: no AWS access");
	json_object_object_get_ex(st, "pending", &pend);
	is_int(json_object_array_length(pend), NOTIFY_QUEUE_MAX,
	    "status lists the pending messages");
	is_str(jget_str(json_object_array_get_idx(pend, 0), "reason"),
	    "event 7", "the oldest were dropped: the first left is event 7");
	is_str(jget_str(json_object_array_get_idx(pend, NOTIFY_QUEUE_MAX - 1),
	           "reason"),
	    "event 70", "the newest is kept");
	json_object_put(st);

	notify_reconfigure(n, c);
	st = status_of(n);
	is_int(jint(st, "queued"), NOTIFY_QUEUE_MAX,
	    "reconfigure, same topic: the queue stays");
	json_object_put(st);
	notify_reconfigure(n, off);
	st = status_of(n);
	ok(jint(st, "queued") == 0 && jint(st, "dropped") == 6 + 64,
	    "reconfigure without a topic: the queue is dropped and counted");
	ok(json_object_get_boolean(json_object_object_get(st, "enabled")) == 0,
	    "and notifications are off");
	json_object_put(st);
	notify_free(n);
	conf_free(c);
	conf_free(off);
	ev_free(ev);
}

/* --- Publish on the loop, against a scripted server ----------------------- */

struct reply {
	int status;
	const char *body;
};

#define MAX_REQS 16

static struct ev *loop;
static int lfd, port;
static struct ev_io *lio;
static const struct reply *script;
static size_t nscript, served;
static char *bodies[MAX_REQS];

struct conn {
	int fd;
	struct ev_io *io;
	char buf[65536];
	size_t len;
};

static void
conn_close(struct conn *c)
{
	ev_io_del(c->io);
	close(c->fd);
	free(c);
}

static void
conn_cb(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	char head[512], *eoh, *cl;
	const struct reply *r;
	size_t hlen, clen = 0;
	ssize_t n;
	int hn;

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
	if ((eoh = strstr(c->buf, "\r\n\r\n")) == NULL)
		return;
	hlen = (size_t)(eoh - c->buf) + 4;
	if ((cl = strcasestr(c->buf, "\r\nContent-Length:")) != NULL &&
	    cl < eoh)
		clen = strtoul(cl + 17, NULL, 10);
	if (c->len < hlen + clen)
		return;
	if (served < MAX_REQS)
		bodies[served] = strndup(c->buf + hlen, clen);
	r = &script[served < nscript ? served : nscript - 1];
	served++;
	hn = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\nContent-Type: text/xml\r\nContent-Length: "
	    "%zu\r\nConnection: close\r\n\r\n",
	    r->status, strlen(r->body));
	if (write(fd, head, (size_t)hn) != hn ||
	    write(fd, r->body, strlen(r->body)) != (ssize_t)strlen(r->body))
		printf("# short write\n");
	conn_close(c);
}

static void
accept_cb(int fd, unsigned events, void *arg)
{
	struct conn *c;
	int cfd;

	(void)events;
	(void)arg;
	if ((cfd = accept(fd, NULL, NULL)) < 0)
		return;
	util_set_nonblock(cfd);
	c = calloc(1, sizeof(*c));
	c->fd = cfd;
	c->io = ev_io_add(loop, cfd, EV_READ, conn_cb, c);
}

static void
srv_start(void)
{
	struct sockaddr_in sin = {0};
	socklen_t sl = sizeof(sin);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("listen");
		exit(1);
	}
	util_set_nonblock(lfd);
	port = ntohs(sin.sin_port);
	lio = ev_io_add(loop, lfd, EV_READ, accept_cb, NULL);
}

static void
srv_script(const struct reply *r, size_t n)
{
	for (size_t i = 0; i < MAX_REQS; i++) {
		free(bodies[i]);
		bodies[i] = NULL;
	}
	script = r;
	nscript = n;
	served = 0;
}

/* The decoded value of key in a form body (malloc'd), or NULL. */
static char *
form_get(const char *body, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = body; p != NULL && *p != '\0';) {
		const char *amp = strchr(p, '&'),
		           *end = amp != NULL ? amp : p + strlen(p);

		if ((size_t)(end - p) > kl && strncmp(p, key, kl) == 0 &&
		    p[kl] == '=') {
			char *out = malloc((size_t)(end - p)), *o = out;

			for (const char *q = p + kl + 1; q < end; q++) {
				if (*q == '%' && q + 2 < end + 1) {
					char hex[3] = {q[1], q[2], 0};

					*o++ = (char)strtol(hex, NULL, 16);
					q += 2;
				} else
					*o++ = *q == '+' ? ' ' : *q;
			}
			*o = '\0';
			return out;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return NULL;
}

static struct notify *nt;
static unsigned long want_done;
static struct ev_timer *poll_t;

/* Stop once sent + dropped reaches want_done and the queue is empty. */
static void
poll_cb(void *arg)
{
	json_object *st = status_of(nt);

	(void)arg;
	if ((unsigned long)(jint(st, "sent") + jint(st, "dropped")) >=
	        want_done &&
	    jint(st, "queued") == 0)
		ev_stop(loop);
	else
		ev_timer_arm(poll_t, 20);
	json_object_put(st);
}

static void
guard_cb(void *arg)
{
	(void)arg;
	ev_stop(loop);
}

static void
run_for(unsigned long want, mono_ms max_ms)
{
	struct ev_timer *g = ev_timer_new(loop, guard_cb, NULL);

	want_done = want;
	poll_t = ev_timer_new(loop, poll_cb, NULL);
	ev_timer_arm(poll_t, 0);
	ev_timer_arm(g, max_ms);
	ev_run(loop);
	ev_timer_free(poll_t);
	ev_timer_free(g);
}

static void
spin(mono_ms ms)
{
	struct ev_timer *g = ev_timer_new(loop, guard_cb, NULL);

	ev_timer_arm(g, ms);
	ev_run(loop);
	ev_timer_free(g);
}

static const char publish_ok[] =
    "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
    "<PublishResult><MessageId>msg-0001</MessageId></PublishResult>"
    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
    "</PublishResponse>";

#define SNSERR(code, msg)                                                      \
	"<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"   \
	"<Error><Type>Sender</Type><Code>" code "</Code><Message>" msg         \
	"</Message></Error><RequestId>e</RequestId></ErrorResponse>"

static void
test_publish(void)
{
	static const struct reply r1[] = {
	    {500, SNSERR("InternalError", "try again")},
	    {200, publish_ok},
	    {200, publish_ok},
	};
	static const struct reply r2[] = {
	    {400, SNSERR("InvalidParameter", "Invalid parameter: Message")},
	    {200, publish_ok},
	};
	struct aws_opts o = {.region = "us-east-1", .max_attempts = 1};
	struct conf *c = mk_conf(TOPIC),
	            *fifo =
	                mk_conf("arn:aws:sns:us-east-1:123456789012:q.fifo");
	struct httpc *hc;
	struct creds *creds;
	struct aws *a;
	struct health *h = mk_health();
	json_object *st, *m, *err;
	char url[64], *v;

	setenv("HEALTHAGENT_TEST_FAST", "1", 1);
	loop = ev_new();
	hc = httpc_new(loop);
	srv_start();
	creds = creds_new(loop, hc, NULL, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	o.endpoints[AWS_SVC_SNS] = url;
	a = aws_new(loop, hc, creds, &o);
	nt = notify_new(loop, a, c);

	srv_script(r1, 3);
	notify_event(nt, NOTIFY_SELF_EVICTION, "web: status 500 for 60 s", h);
	notify_event(nt, NOTIFY_RECOVERED, "healthy again", NULL);
	spin(300);
	is_int(served, 0, "nothing is published before the identity is known");
	st = status_of(nt);
	is_str(jget_str(st, "state"), "waiting for the instance identity",
	    "state: waiting for the identity");
	json_object_put(st);

	notify_set_identity(nt, "i-0123456789abcdef0", "web-asg", "us-east-1a");
	run_for(2, 10000);
	st = status_of(nt);
	is_int(served, 3, "a 500, then two Publish calls that succeed");
	is_int(jint(st, "sent"), 2, "both messages sent");
	is_int(jint(st, "failed"), 1, "one failed attempt counted");
	is_int(jint(st, "dropped"), 0, "none dropped");
	ok(json_object_object_get_ex(st, "last_error", &err) && err != NULL &&
	        strcmp(jget_str(err, "code"), "InternalError") == 0,
	    "status: the last error");
	ok(json_object_object_get_ex(st, "last_sent", &err) && err != NULL &&
	        strcmp(jget_str(err, "message_id"), "msg-0001") == 0 &&
	        strcmp(jget_str(err, "event"), "recovered") == 0,
	    "status: the last message sent and its SNS MessageId");
	is_str(jget_str(st, "state"), "idle", "state: idle");
	json_object_put(st);

	if (served >= 3) {
		v = form_get(bodies[0], "Action");
		is_str(v, "Publish", "Action=Publish");
		free(v);
		v = form_get(bodies[0], "TopicArn");
		is_str(v, TOPIC, "TopicArn");
		free(v);
		v = form_get(bodies[1], "Subject");
		is_str(v,
		    "healthagent: i-0123456789abcdef0 unhealthy, self-eviction "
		    "in web-asg",
		    "Subject, with the identity known at send time");
		free(v);
		ok(strcmp(bodies[0], bodies[1]) == 0,
		    "the retry sends the same message");
		v = form_get(bodies[1], "Message");
		m = v != NULL ? json_tokener_parse(v) : NULL;
		ok(m != NULL, "Message is JSON");
		is_str(jget_str(m, "event"), "self_eviction", "Message event");
		is_str(jget_str(m, "instance_id"), "i-0123456789abcdef0",
		    "Message instance_id, filled in at send time");
		is_str(jget_str(m, "group"), "web-asg", "Message group");
		is_str(jget_str(m, "availability_zone"), "us-east-1a",
		    "Message availability_zone");
		is_str(jget_str(m, "region"), "us-east-1", "Message region");
		is_str(jget_str(m, "state"), "unhealthy",
		    "Message state, from when the event happened");
		ok(jget_str(m, "event_id") != NULL &&
		        strlen(jget_str(m, "event_id")) == 32,
		    "Message event_id");
		json_object_put(m);
		free(v);
		v = form_get(bodies[2], "Message");
		m = v != NULL ? json_tokener_parse(v) : NULL;
		is_str(jget_str(m, "event"), "recovered",
		    "the second message, in order");
		json_object_put(m);
		free(v);
		v = form_get(bodies[1], "MessageGroupId");
		ok(v == NULL, "no MessageGroupId for a standard topic");
		free(v);
	}

	/* A message SNS refuses is dropped; the next one goes on. */
	srv_script(r2, 2);
	notify_event(nt, NOTIFY_DRAIN_START, "bad", NULL);
	notify_event(nt, NOTIFY_DRAIN_START, "good", NULL);
	run_for(2 + 2, 10000);
	st = status_of(nt);
	is_int(jint(st, "dropped"), 1, "InvalidParameter: dropped");
	is_int(jint(st, "sent"), 3, "the next message is sent");
	is_int(served, 2, "the refused message is not retried");
	json_object_put(st);

	/* FIFO topic. */
	notify_reconfigure(nt, fifo);
	srv_script(r1 + 1, 1);
	notify_event(nt, NOTIFY_DRAIN_START, "spot", NULL);
	run_for(4 + 1, 10000);
	if (ok(served == 1, "FIFO: published")) {
		char *gid = form_get(bodies[0], "MessageGroupId");
		char *did = form_get(bodies[0], "MessageDeduplicationId");

		v = form_get(bodies[0], "Message");
		m = v != NULL ? json_tokener_parse(v) : NULL;
		is_str(gid, "i-0123456789abcdef0",
		    "FIFO: MessageGroupId = the instance id");
		is_str(did, jget_str(m, "event_id"),
		    "FIFO: MessageDeduplicationId = the event_id");
		json_object_put(m);
		free(v);
		free(gid);
		free(did);
	}

	notify_free(nt);
	aws_free(a);
	creds_free(creds);
	srv_script(NULL, 0);
	ev_io_del(lio);
	close(lfd);
	httpc_free(hc);
	ev_free(loop);
	health_free(h);
	conf_free(c);
	conf_free(fifo);
}

int
main(void)
{
	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR,
	    false);
	/* Credentials from the environment; nothing else is consulted. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_SNS");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	test_names();
	test_iso();
	test_subject();
	test_region_errors();
	test_message();
	test_queue();
	test_publish();
	return done_testing();
}
