/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the Elastic IP association. The pure parts: the decision
 * table (eip_decide) and the AssociateAddress reply parser. Then the
 * module on the event loop against a scripted EC2 server on 127.0.0.1:
 * nothing before the first healthy verdict or the identity, nothing while
 * draining, an ec2-protocol error retried with backoff, exactly one call
 * after success however often the verdict is fed, the request parameters,
 * and a reload with another allocation id starting over.
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
#include "eip.h"
#include "ev.h"
#include "health.h"
#include "httpc.h"
#include "log.h"
#include "tap.h"
#include "util.h"

static void
test_decide(void)
{
	struct eip_facts f = {0};

	is_int(eip_decide(&f), EIP_WAIT_ENABLED, "disabled");
	f.enabled = true;
	is_int(eip_decide(&f), EIP_WAIT_HEALTHY, "not healthy yet");
	f.have_id = true;
	is_int(eip_decide(&f), EIP_WAIT_HEALTHY,
	    "the identity alone is not enough");
	f.was_healthy = true;
	is_int(eip_decide(&f), EIP_CALL, "healthy once and identity: call");
	f.draining = true;
	is_int(eip_decide(&f), EIP_WAIT_DRAINING, "never while draining");
	f.draining = false;
	f.backing_off = true;
	is_int(eip_decide(&f), EIP_WAIT_BACKOFF, "wait out the backoff");
	f.backing_off = false;
	f.in_flight = true;
	is_int(eip_decide(&f), EIP_WAIT_CALL, "one call at a time");
	f.in_flight = false;
	f.done = true;
	is_int(eip_decide(&f), EIP_DONE, "done: never again");
	f.done = false;
	f.have_id = false;
	is_int(eip_decide(&f), EIP_WAIT_IDENTITY, "healthy, no identity yet");
	f.was_healthy = false;
	f.draining = true;
	is_int(eip_decide(&f), EIP_WAIT_DRAINING,
	    "draining before ever healthy: says draining");
	f.in_flight = true;
	is_int(eip_decide(&f), EIP_WAIT_CALL,
	    "a call already in flight is not undone by a drain");
	for (int i = 0; i < EIP_STEP_MAX; i++)
		ok(eip_step_names[i] != NULL && *eip_step_names[i] != '\0',
		    "step %d has a name", i);
}

static void
test_parse(void)
{
	static const char good[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<AssociateAddressResponse xmlns=\"http://ec2.amazonaws.com/doc/"
	    "2016-11-15/\"><requestId>r-1</requestId><return>true</return>"
	    "<associationId>eipassoc-0123456789abcdef0</associationId>"
	    "</AssociateAddressResponse>";
	static const char none[] =
	    "<AssociateAddressResponse><requestId>r</requestId><return>true"
	    "</return></AssociateAddressResponse>";
	char id[64];

	ok(eip_parse_association(good, strlen(good), id, sizeof(id)) == 0,
	    "parse: an AssociateAddress reply");
	is_str(id, "eipassoc-0123456789abcdef0", "parse: the associationId");
	ok(eip_parse_association(none, strlen(none), id, sizeof(id)) == -1 &&
	        id[0] == '\0',
	    "parse: no associationId (EC2-Classic style) is an error");
	ok(eip_parse_association("<AssociateAddressResponse>", 26, id,
	       sizeof(id)) == -1,
	    "parse: malformed");
	ok(eip_parse_association(NULL, 0, id, sizeof(id)) == -1,
	    "parse: no body");
}

/* --- on the loop ---------------------------------------------------------- */

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
	char buf[16384];
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

static void
stop_cb(void *arg)
{
	(void)arg;
	ev_stop(loop);
}

static void
spin(mono_ms ms)
{
	struct ev_timer *g = ev_timer_new(loop, stop_cb, NULL);

	ev_timer_arm(g, ms);
	ev_run(loop);
	ev_timer_free(g);
}

static json_object *
status_of(struct eip *e)
{
	json_object *st = json_object_new_object(), *o = NULL;

	eip_status(e, st);
	json_object_object_get_ex(st, "eip", &o);
	json_object_get(o);
	json_object_put(st);
	return o;
}

static const char *
jstr(json_object *o, const char *k)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

/* Spin until the status says done (or max ms). */
static bool
wait_done(struct eip *e, mono_ms max)
{
	mono_ms end = util_now_ms() + max;

	while (util_now_ms() < end) {
		json_object *st = status_of(e);
		bool done = jstr(st, "association_id") != NULL;

		json_object_put(st);
		if (done)
			return true;
		spin(20);
	}
	return false;
}

static struct conf *
mk_conf(const char *alloc)
{
	struct conf_errors errs = {0};
	char text[256];
	struct conf *c;

	snprintf(text, sizeof(text), "eip = { allocation_id = \"%s\"; };",
	    alloc);
	c = conf_load_string(text, "t.conf", NULL, &errs);
	for (size_t i = 0; i < errs.n; i++)
		printf("# %s\n", errs.msgs[i]);
	conf_errors_free(&errs);
	return c;
}

#define EC2ERR(code, msg)                                                      \
	"<?xml version=\"1.0\" "                                               \
	"encoding=\"UTF-8\"?>\n<Response><Errors><Error>"                      \
	"<Code>" code "</Code><Message>" msg "</Message></Error></Errors>"     \
	"<RequestID>rid</RequestID></Response>"

static const char assoc_ok[] =
    "<AssociateAddressResponse xmlns=\"http://ec2.amazonaws.com/doc/"
    "2016-11-15/\"><requestId>r</requestId><return>true</return>"
    "<associationId>eipassoc-0aaa1111</associationId>"
    "</AssociateAddressResponse>";

/* A health object whose verdict we steer. */
static struct health *
mk_health(mono_ms now)
{
	struct health *h = health_new(now, 0);
	struct health_check_params p = {.name = "app",
	    .rise = 1,
	    .fall = 1,
	    .interval = 60000,
	    .timeout = 1000};

	health_add_check(h, &p, now);
	return h;
}

static void
report(struct health *h, bool good)
{
	struct health_result r;
	mono_ms now = util_now_ms();

	health_result_set(&r, good, good ? HEALTH_R_OK : HEALTH_R_EXIT,
	    good ? NULL : "exit 1");
	health_report(h, 0, &r, now);
	health_tick(h, now);
}

static void
test_loop(void)
{
	static const struct reply r1[] = {
	    {400,
	        EC2ERR("InvalidAllocationID.NotFound",
	            "The allocation ID 'eipalloc-0123abcd' does not exist")},
	    {503, EC2ERR("Unavailable", "later")},
	    {200, assoc_ok},
	};
	struct aws_opts o = {.region = "us-east-1", .max_attempts = 1};
	struct conf *c = mk_conf("eipalloc-0123abcd"),
	            *c2 = mk_conf("eipalloc-0456cdef0123"), *off = mk_conf("");
	struct httpc *hc;
	struct creds *creds;
	struct aws *a;
	struct eip *e;
	struct health *h = mk_health(util_now_ms());
	json_object *st, *err;
	char url[64];

	if (!ok(c != NULL && c2 != NULL && off != NULL, "configs load"))
		return;
	setenv("HEALTHAGENT_TEST_FAST", "1", 1);
	hc = httpc_new(loop);
	creds = creds_new(loop, hc, NULL, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	o.endpoints[AWS_SVC_EC2] = url;
	a = aws_new(loop, hc, creds, &o);

	e = eip_new(loop, a, off);
	eip_set_identity(e, "i-0123456789abcdef0");
	report(h, true);
	eip_observe(e, h);
	srv_script(r1, 3);
	spin(200);
	is_int(served, 0, "disabled: no call");
	st = status_of(e);
	is_str(jstr(st, "state"), "disabled", "state disabled");
	json_object_put(st);
	eip_free(e);

	health_free(h);
	h = mk_health(util_now_ms());
	e = eip_new(loop, a, c);
	eip_observe(e, h); /* starting */
	spin(100);
	is_int(served, 0, "starting: no call");
	st = status_of(e);
	is_str(jstr(st, "state"), "waiting for the first healthy verdict",
	    "state: waiting for health");
	json_object_put(st);
	report(h, true);
	eip_observe(e, h); /* healthy, but no identity */
	spin(100);
	is_int(served, 0, "healthy without an identity: no call");
	health_set_draining(h, true, "test", util_now_ms());
	eip_observe(e, h);
	eip_set_identity(e, "i-0123456789abcdef0");
	spin(200);
	is_int(served, 0, "draining: no call even with the identity");
	st = status_of(e);
	is_str(jstr(st, "state"), "paused: draining", "state: paused");
	json_object_put(st);
	health_set_draining(h, false, NULL, util_now_ms());
	report(h, false); /* unhealthy now: was healthy once, that counts */
	eip_observe(e, h);
	ok(wait_done(e, 10000), "associated after two failures");
	is_int(served, 3, "a 400, a 503, then success: 3 calls");
	st = status_of(e);
	is_str(jstr(st, "association_id"), "eipassoc-0aaa1111",
	    "status: association id");
	is_str(jstr(st, "state"), "associated", "status: associated");
	is_str(jstr(st, "allocation_id"), "eipalloc-0123abcd",
	    "status: allocation id");
	ok(json_object_object_get_ex(st, "last_error", &err) && err != NULL &&
	        strcmp(jstr(err, "code"), "Unavailable") == 0,
	    "status: the last error (ec2 protocol code)");
	json_object_put(st);
	if (served >= 1)
		is_str(bodies[0],
		    "Action=AssociateAddress&Version=2016-11-15&AllocationId="
		    "eipalloc-0123abcd&InstanceId=i-0123456789abcdef0&"
		    "AllowReassociation=true",
		    "the AssociateAddress request");
	for (int i = 0; i < 5; i++) {
		report(h, i % 2 == 0);
		eip_observe(e, h);
	}
	eip_reconfigure(e, c);
	eip_set_identity(e, "i-0123456789abcdef0");
	spin(300);
	is_int(served, 3, "never again after success (same allocation id)");

	/* Another allocation id: starts over. */
	srv_script(r1 + 2, 1);
	report(h, true);
	eip_reconfigure(e, c2);
	eip_observe(e, h);
	ok(wait_done(e, 5000) && served == 1,
	    "another allocation id: associated again");
	if (served >= 1)
		ok(strstr(bodies[0], "AllocationId=eipalloc-0456cdef0123&") !=
		        NULL,
		    "with the new allocation id");
	eip_free(e);

	aws_free(a);
	creds_free(creds);
	httpc_free(hc);
	health_free(h);
	conf_free(c);
	conf_free(c2);
	conf_free(off);
}

int
main(void)
{
	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR,
	    false);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_EC2");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY",
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	test_decide();
	test_parse();
	loop = ev_new();
	srv_start();
	test_loop();
	srv_script(NULL, 0);
	ev_io_del(lio);
	close(lfd);
	ev_free(loop);
	return done_testing();
}
