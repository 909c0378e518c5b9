/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the AWS Query client. The pure parts: error
 * classification, clock-skew and auth codes, HTTP dates, endpoint
 * resolution, form encoding (the exact PutMetricData body of aws-wire.md
 * 1.6) and backoff bounds. Then whole calls on the event loop against a
 * scripted HTTP server on 127.0.0.1 in this process, which re-verifies
 * every request's SigV4 signature: success, throttling then success,
 * 500s until max attempts, clock skew corrected from Date, rejected and
 * forbidden credentials, gzip, session tokens, x-amz-retry-after,
 * connection refused, cancellation and bad endpoints. EC2 (the ec2
 * protocol's <Response><Errors> error shape and lower-case requestId) and
 * SNS: error parsing, endpoints, signing names and versions.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "aws.h"
#include "creds.h"
#include "ev.h"
#include "httpc.h"
#include "log.h"
#include "sigv4.h"
#include "tap.h"
#include "util.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* --- pure helpers --------------------------------------------------------- */

static void
test_classify(void)
{
	bool thr = true;

	ok(aws_retryable(500, "InternalFailure", &thr) && !thr, "500 retried");
	ok(aws_retryable(502, "", &thr) && !thr, "502 retried");
	ok(aws_retryable(503, NULL, &thr) && !thr, "503 retried");
	ok(aws_retryable(504, "HTTP 504", &thr) && !thr, "504 retried");
	ok(!aws_retryable(501, "NotImplemented", &thr), "501 not retried");
	ok(aws_retryable(400, "Throttling", &thr) && thr,
	    "Throttling is throttling");
	ok(aws_retryable(400, "ThrottlingException", &thr) && thr,
	    "ThrottlingException is throttling");
	ok(aws_retryable(400, "RequestLimitExceeded", &thr) && thr,
	    "RequestLimitExceeded is throttling");
	ok(aws_retryable(503, "SlowDown", &thr) && thr, "SlowDown");
	ok(aws_retryable(429, "", &thr) && thr, "429 is throttling");
	ok(aws_retryable(400, "RequestTimeout", &thr) && !thr,
	    "RequestTimeout is transient");
	ok(aws_retryable(400, "PriorRequestNotComplete", &thr),
	    "PriorRequestNotComplete retried");
	ok(aws_retryable(0, "ConnectionRefused", &thr) && !thr,
	    "transport errors retried");
	ok(!aws_retryable(400, "ValidationError", &thr) && !thr,
	    "ValidationError not retried");
	ok(!aws_retryable(400, "InvalidParameterValue", NULL),
	    "InvalidParameterValue not retried");
	ok(!aws_retryable(403, "AccessDenied", NULL),
	    "AccessDenied not retried");
	ok(!aws_retryable(403, "InvalidClientTokenId", NULL),
	    "InvalidClientTokenId not retried");

	ok(aws_is_clock_skew("RequestExpired", NULL), "RequestExpired is skew");
	ok(aws_is_clock_skew("RequestTimeTooSkewed", ""),
	    "RequestTimeTooSkewed");
	ok(aws_is_clock_skew("RequestInTheFuture", NULL), "RequestInTheFuture");
	ok(aws_is_clock_skew("InvalidSignatureException", NULL),
	    "InvalidSignatureException");
	ok(aws_is_clock_skew("AuthFailure", NULL), "AuthFailure");
	ok(aws_is_clock_skew("SignatureDoesNotMatch",
	       "Signature expired: 20150830T123600Z is now earlier than "
	       "20150830T125100Z (20150830T130600Z - 15 min.)"),
	    "SignatureDoesNotMatch 'Signature expired' is skew");
	ok(aws_is_clock_skew("SignatureDoesNotMatch",
	       "Signature not yet current: 20150830T123600Z is still later "
	       "than 20150830T122100Z"),
	    "SignatureDoesNotMatch 'not yet current' is skew");
	ok(!aws_is_clock_skew("SignatureDoesNotMatch",
	       "The request signature we calculated does not match the "
	       "signature you provided."),
	    "a plain SignatureDoesNotMatch is not skew");
	ok(!aws_is_clock_skew("SignatureDoesNotMatch", NULL),
	    "SignatureDoesNotMatch without message is not skew");
	ok(!aws_is_clock_skew("Throttling", NULL), "Throttling is not skew");
	ok(!aws_is_clock_skew(NULL, NULL), "NULL is not skew");

	ok(aws_is_auth_error("InvalidClientTokenId"), "InvalidClientTokenId");
	ok(aws_is_auth_error("SignatureDoesNotMatch"), "SignatureDoesNotMatch");
	ok(aws_is_auth_error("UnrecognizedClientException"),
	    "UnrecognizedClientException");
	ok(aws_is_auth_error("ExpiredToken"), "ExpiredToken");
	ok(aws_is_auth_error("ExpiredTokenException"), "ExpiredTokenException");
	ok(!aws_is_auth_error("AccessDenied"), "AccessDenied is a permission");
	ok(!aws_is_auth_error("AccessDeniedException"),
	    "AccessDeniedException is a permission");
	ok(!aws_is_auth_error("Throttling"), "Throttling is not auth");
	ok(!aws_is_auth_error(NULL), "NULL is not auth");
}

static void
test_dates(void)
{
	is_int(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777,
	    "RFC 9110 example date");
	is_int(aws_parse_http_date("06 Nov 1994 08:49:37 GMT"), 784111777,
	    "without the weekday");
	is_int(aws_parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT\r\n"),
	    1440938160, "trailing CRLF");
	is_int(aws_parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199,
	    "leap day");
	is_int(aws_parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT"), -1,
	    "29 Feb in a common year");
	is_int(aws_parse_http_date("Thu, 31 Apr 2024 00:00:00 GMT"), -1,
	    "31 April");
	is_int(aws_parse_http_date("Sun, 06 Nov 1994 24:00:00 GMT"), -1,
	    "hour 24");
	is_int(aws_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), -1,
	    "bad month");
	is_int(aws_parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT"), -1,
	    "one-digit day");
	is_int(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), -1,
	    "not GMT");
	is_int(aws_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT x"), -1,
	    "trailing garbage");
	is_int(aws_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), -1,
	    "RFC 850 form is not accepted");
	is_int(aws_parse_http_date(""), -1, "empty");
	is_int(aws_parse_http_date(NULL), -1, "NULL");
}

static void
test_endpoints(void)
{
	char *e;

	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
	unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

#define EP(svc, region, so, go, want, what)                                    \
	do {                                                                   \
		e = aws_resolve_endpoint(svc, region, so, go);                 \
		is_str(e, want, what);                                         \
		free(e);                                                       \
	} while (0)

	EP(AWS_SVC_CLOUDWATCH, "us-east-1", NULL, NULL,
	    "https://monitoring.us-east-1.amazonaws.com", "default cloudwatch");
	EP(AWS_SVC_AUTOSCALING, "eu-west-3", "", "",
	    "https://autoscaling.eu-west-3.amazonaws.com",
	    "default autoscaling, empty options");
	EP(AWS_SVC_CLOUDWATCH, "cn-north-1", NULL, NULL,
	    "https://monitoring.cn-north-1.amazonaws.com.cn",
	    "China partition");
	e = aws_resolve_endpoint(AWS_SVC_CLOUDWATCH, "", NULL, NULL);
	ok(e == NULL, "no region and no override: none");
	EP(AWS_SVC_CLOUDWATCH, "", NULL, "http://g:1", "http://g:1",
	    "an override needs no region");

	setenv("AWS_ENDPOINT_URL", "http://env-global:1", 1);
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", NULL, NULL, "http://env-global:1",
	    "AWS_ENDPOINT_URL beats the default");
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", NULL, "http://cfg-global:2",
	    "http://cfg-global:2", "aws.endpoint_url beats AWS_ENDPOINT_URL");
	setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://env-cw:3", 1);
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", NULL, "http://cfg-global:2",
	    "http://env-cw:3",
	    "AWS_ENDPOINT_URL_CLOUDWATCH beats aws.endpoint_url");
	EP(AWS_SVC_AUTOSCALING, "us-east-1", NULL, "http://cfg-global:2",
	    "http://cfg-global:2",
	    "the cloudwatch variable is not autoscaling's");
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", "http://cfg-cw:4",
	    "http://cfg-global:2", "http://cfg-cw:4",
	    "the per-service key beats everything");
	setenv("AWS_ENDPOINT_URL_AUTO_SCALING", "http://env-as:5", 1);
	EP(AWS_SVC_AUTOSCALING, "us-east-1", NULL, NULL, "http://env-as:5",
	    "AWS_ENDPOINT_URL_AUTO_SCALING");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", "http://cfg-cw:4",
	    "http://cfg-global:2", "https://monitoring.us-east-1.amazonaws.com",
	    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS skips every override");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", "http://cfg-cw:4", NULL,
	    "http://cfg-cw:4", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_CLOUDWATCH");
	unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	EP(AWS_SVC_EC2, "eu-west-1", NULL, NULL,
	    "https://ec2.eu-west-1.amazonaws.com", "default ec2");
	EP(AWS_SVC_SNS, "cn-northwest-1", NULL, NULL,
	    "https://sns.cn-northwest-1.amazonaws.com.cn",
	    "default sns, China");
	setenv("AWS_ENDPOINT_URL_EC2", "http://env-ec2:6", 1);
	setenv("AWS_ENDPOINT_URL_SNS", "http://env-sns:7", 1);
	EP(AWS_SVC_EC2, "us-east-1", NULL, "http://cfg-global:2",
	    "http://env-ec2:6", "AWS_ENDPOINT_URL_EC2 beats aws.endpoint_url");
	EP(AWS_SVC_SNS, "us-east-1", NULL, "http://cfg-global:2",
	    "http://env-sns:7", "AWS_ENDPOINT_URL_SNS beats aws.endpoint_url");
	EP(AWS_SVC_SNS, "us-east-1", "http://cfg-sns:8", NULL,
	    "http://cfg-sns:8", "aws.sns_endpoint beats AWS_ENDPOINT_URL_SNS");
	unsetenv("AWS_ENDPOINT_URL_EC2");
	unsetenv("AWS_ENDPOINT_URL_SNS");
	setenv("AWS_ENDPOINT_URL_EC2", "http://env-ec2:6", 1);
	EP(AWS_SVC_CLOUDWATCH, "us-east-1", NULL, NULL,
	    "https://monitoring.us-east-1.amazonaws.com",
	    "the ec2 variable is not cloudwatch's");
	unsetenv("AWS_ENDPOINT_URL_EC2");
#undef EP
}

static void
test_params(void)
{
	struct aws_params *p = aws_params_new();
	size_t len = 0;
	char *body;

	/* The request of aws-wire.md 1.6, byte for byte. */
	aws_params_add(p, "Namespace", "%s", "MyApp/Health");
	aws_params_add(p, "MetricData.member.1.MetricName", "AppAlive");
	aws_params_add(p, "MetricData.member.1.Dimensions.member.1.Name",
	    "InstanceId");
	aws_params_add(p, "MetricData.member.1.Dimensions.member.1.Value", "%s",
	    "i-0123456789abcdef0");
	aws_params_add(p, "MetricData.member.1.Timestamp", "%s",
	    "2015-08-30T12:36:00Z");
	aws_params_add(p, "MetricData.member.1.Value", "%d", 1);
	aws_params_add(p, "MetricData.member.1.Unit", "Count");
	body = aws_params_encode(p, "PutMetricData", "2010-08-01", &len);
	is_str(body,
	    "Action=PutMetricData&Version=2010-08-01&Namespace=MyApp%2FHealth"
	    "&MetricData.member.1.MetricName=AppAlive"
	    "&MetricData.member.1.Dimensions.member.1.Name=InstanceId"
	    "&MetricData.member.1.Dimensions.member.1.Value=i-0123456789abcdef0"
	    "&MetricData.member.1.Timestamp=2015-08-30T12%3A36%3A00Z"
	    "&MetricData.member.1.Value=1&MetricData.member.1.Unit=Count",
	    "PutMetricData body as in aws-wire.md 1.6");
	is_int(len, 340, "its length");
	free(body);
	aws_params_free(p);

	p = aws_params_new();
	aws_params_add(p, "K", "a b&c=d+e/%s", "\xc3\xa9");
	body = aws_params_encode(p, "A", "1", &len);
	is_str(body, "Action=A&Version=1&K=a+b%26c%3Dd%2Be%2F%C3%A9",
	    "values are form-encoded like botocore's urlencode: space as +");
	free(body);
	aws_params_free(p);
	body = aws_params_encode(NULL, "SetInstanceHealth", "2011-01-01", &len);
	is_str(body, "Action=SetInstanceHealth&Version=2011-01-01",
	    "no parameters");
	free(body);
	aws_params_free(NULL);
}

#define EC2ERR(code, msg)                                                      \
	"<?xml version=\"1.0\" "                                               \
	"encoding=\"UTF-8\"?>\n<Response><Errors><Error>"                      \
	"<Code>" code "</Code><Message>" msg "</Message></Error></Errors>"     \
	"<RequestID>ec2-rid-1</RequestID></Response>"

static void
test_parse_error(void)
{
	static const char ec2[] = EC2ERR("InvalidAllocationID.NotFound",
	    "The allocation ID &apos;eipalloc-0abc&apos; does not exist");
	static const char query[] =
	    "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
	    "<Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic "
	    "does not exist</Message></Error><RequestId>q-rid</RequestId>"
	    "</ErrorResponse>";
	/* moto's IAM errors: an ErrorResponse with Errors inside */
	static const char moto[] =
	    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse>"
	    "<Errors><Error><Code>AccessDenied</Code><Message>User: x is not "
	    "authorized to perform: ec2:AssociateAddress</Message><Type>"
	    "Sender</Type></Error></Errors></ErrorResponse>";
	static const char ec2_ok[] =
	    "<AssociateAddressResponse xmlns=\"http://ec2.amazonaws.com/doc/"
	    "2016-11-15/\"><requestId>59dbff89-35bd-4eac-99ed-be587</requestId>"
	    "<return>true</return><associationId>eipassoc-0123abcd"
	    "</associationId></AssociateAddressResponse>";
	static const char sns_ok[] =
	    "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/"
	    "\"><PublishResult><MessageId>m-1</MessageId></PublishResult>"
	    "<ResponseMetadata><RequestId>p-rid</RequestId></ResponseMetadata>"
	    "</PublishResponse>";
	char code[96], msg[256], rid[80];

	ok(aws_parse_error(AWS_SVC_EC2, ec2, strlen(ec2), code, sizeof(code),
	       msg, sizeof(msg), rid, sizeof(rid)),
	    "ec2 error shape: parsed");
	is_str(code, "InvalidAllocationID.NotFound", "ec2 error: the code");
	is_str(msg, "The allocation ID 'eipalloc-0abc' does not exist",
	    "ec2 error: the message, entities decoded");
	is_str(rid, "ec2-rid-1", "ec2 error: RequestID (capital ID)");
	ok(aws_parse_error(AWS_SVC_SNS, ec2, strlen(ec2), code, sizeof(code),
	       NULL, 0, NULL, 0) &&
	        strcmp(code, "InvalidAllocationID.NotFound") == 0,
	    "the ec2 shape is read for a Query service too");
	ok(aws_parse_error(AWS_SVC_SNS, query, strlen(query), code,
	       sizeof(code), msg, sizeof(msg), rid, sizeof(rid)),
	    "awsQuery error shape: parsed");
	is_str(code, "NotFound", "awsQuery error: the code");
	is_str(msg, "Topic does not exist", "awsQuery error: the message");
	is_str(rid, "q-rid", "awsQuery error: RequestId");
	ok(aws_parse_error(AWS_SVC_EC2, query, strlen(query), code,
	       sizeof(code), msg, sizeof(msg), rid, sizeof(rid)) &&
	        strcmp(code, "NotFound") == 0 && strcmp(rid, "q-rid") == 0,
	    "the awsQuery shape is read for EC2 too");
	ok(aws_parse_error(AWS_SVC_EC2, moto, strlen(moto), code, sizeof(code),
	       msg, sizeof(msg), rid, sizeof(rid)) &&
	        strcmp(code, "AccessDenied") == 0 &&
	        strstr(msg, "ec2:AssociateAddress") != NULL && rid[0] == '\0',
	    "moto's ErrorResponse/Errors/Error shape: %s", code);
	ok(!aws_parse_error(AWS_SVC_EC2, ec2_ok, strlen(ec2_ok), code,
	       sizeof(code), msg, sizeof(msg), rid, sizeof(rid)) &&
	        code[0] == '\0' && msg[0] == '\0' && rid[0] == '\0',
	    "a success reply is not an error; outputs emptied");
	ok(!aws_parse_error(AWS_SVC_EC2,
	       "<Response><Errors><Error><Code>"
	       "</Code></Error></Errors></Response>",
	       66, code, sizeof(code), NULL, 0, NULL, 0),
	    "an empty code is no code");
	ok(!aws_parse_error(AWS_SVC_EC2, "<Response><Errors>", 18, code,
	       sizeof(code), NULL, 0, NULL, 0),
	    "malformed XML: no code");
	ok(!aws_parse_error(AWS_SVC_EC2, NULL, 0, code, sizeof(code), NULL, 0,
	       NULL, 0),
	    "no body: no code");
	ok(aws_parse_request_id(AWS_SVC_EC2, ec2_ok, strlen(ec2_ok), rid,
	       sizeof(rid)) &&
	        strcmp(rid, "59dbff89-35bd-4eac-99ed-be587") == 0,
	    "ec2 success: lower-case requestId");
	ok(aws_parse_request_id(AWS_SVC_SNS, sns_ok, strlen(sns_ok), rid,
	       sizeof(rid)) &&
	        strcmp(rid, "p-rid") == 0,
	    "awsQuery success: ResponseMetadata/RequestId");
	ok(!aws_parse_request_id(AWS_SVC_SNS, ec2_ok, strlen(ec2_ok), rid,
	       sizeof(rid)) &&
	        rid[0] == '\0',
	    "no ResponseMetadata: no request id");
	is_str(aws_service_names[AWS_SVC_EC2], "ec2", "service name ec2");
	is_str(aws_service_names[AWS_SVC_SNS], "sns", "service name sns");
}

static void
test_backoff(void)
{
	is_int(aws_backoff_ms(1, false, 0.0), 0, "backoff: r=0");
	is_int(aws_backoff_ms(1, false, 0.999), 49, "transient 1: < 50 ms");
	is_int(aws_backoff_ms(3, false, 0.5), 100, "transient 3: half of 200");
	is_int(aws_backoff_ms(1, true, 0.5), 500, "throttling 1: half of 1 s");
	is_int(aws_backoff_ms(2, true, 0.5), 1000, "throttling 2: half of 2 s");
	is_int(aws_backoff_ms(10, true, 0.5), 10000, "capped at 20 s");
	is_int(aws_backoff_ms(100, false, 0.5), 10000, "large n: capped");
	is_int(aws_backoff_ms(1, true, 1.5), 0, "r out of range");
}

/* --- a scripted HTTP server on the loop --------------------------------- */

struct reply {
	int status;
	const char *body;
	long date_offset; /* Date: now + this (seconds) */
	bool no_date;
	const char *extra; /* more header lines, "Name: v\r\n" */
};

#define MAX_REQS 16

struct srv {
	struct ev *ev;
	int lfd, port;
	struct ev_io *lio;
	const struct reply *script;
	size_t nscript;
	size_t served;
	char *reqs[MAX_REQS]; /* raw requests, head and body */
	size_t req_len[MAX_REQS];
	int bad_sig; /* requests whose signature did not verify */
	const char *secret;
};

struct conn {
	struct srv *s;
	int fd;
	struct ev_io *io;
	char *buf;
	size_t len, cap;
};

static struct srv srv;

static const char *
find_header(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	size_t n = strlen(name);

	for (const char *l = head; l < head + hlen;) {
		const char *eol = memchr(l, '\n', (size_t)(head + hlen - l));

		if (eol == NULL)
			break;
		if ((size_t)(eol - l) > n && strncasecmp(l, name, n) == 0 &&
		    l[n] == ':') {
			const char *v = l + n + 1, *e = eol;

			while (*v == ' ')
				v++;
			if (e > v && e[-1] == '\r')
				e--;
			*vlen = (size_t)(e - v);
			return v;
		}
		l = eol + 1;
	}
	return NULL;
}

static char *
header_dup(const char *head, size_t hlen, const char *name)
{
	size_t n;
	const char *v = find_header(head, hlen, name, &n);

	return v != NULL ? strndup(v, n) : NULL;
}

/* Recompute the signature from what arrived, as AWS would. */
static bool
verify(const char *req, size_t hlen, const char *body, size_t blen)
{
	char *host = header_dup(req, hlen, "Host");
	char *date = header_dup(req, hlen, "X-Amz-Date");
	char *auth = header_dup(req, hlen, "Authorization");
	char *ctype = header_dup(req, hlen, "Content-Type");
	char *cenc = header_dup(req, hlen, "Content-Encoding");
	char *token = header_dup(req, hlen, "X-Amz-Security-Token");
	char h1[256], h2[64], svc[32] = "", region[32] = "", *cred;
	const char *hdrs[3] = {NULL, NULL, NULL};
	struct tm tm;
	struct sigv4_key key = {AKID, srv.secret, token};
	struct sigv4_input in = {0};
	struct sigv4_output out;
	bool good = false;

	if (host == NULL || date == NULL || auth == NULL || ctype == NULL)
		goto out;
	snprintf(h1, sizeof(h1), "Content-Type: %s", ctype);
	hdrs[0] = h1;
	if (cenc != NULL) {
		snprintf(h2, sizeof(h2), "Content-Encoding: %s", cenc);
		hdrs[1] = h2;
	}
	memset(&tm, 0, sizeof(tm));
	if (strptime(date, "%Y%m%dT%H%M%SZ", &tm) == NULL)
		goto out;
	/* Credential=AKID/YYYYMMDD/region/service/aws4_request */
	cred = strstr(auth, "Credential=" AKID "/");
	if (cred == NULL ||
	    sscanf(cred + strlen("Credential=" AKID "/"),
	        "%*8[0-9]/%31[a-z0-9-]/%31[a-z0-9]/", region, svc) != 2)
		goto out;
	in.method = "POST";
	in.host = host;
	in.path = "/";
	in.headers = hdrs;
	in.payload = body;
	in.payload_len = blen;
	in.region = region;
	in.service = svc;
	in.when = timegm(&tm);
	if (sigv4_sign(&in, &key, &out) == 0) {
		good = strcmp(out.authorization, auth) == 0;
		sigv4_output_free(&out);
	}
out:
	free(host);
	free(date);
	free(auth);
	free(ctype);
	free(cenc);
	free(token);
	return good;
}

static void
conn_close(struct conn *c)
{
	ev_io_del(c->io);
	close(c->fd);
	free(c->buf);
	free(c);
}

static void
respond(struct conn *c, size_t total)
{
	struct srv *s = c->s;
	const struct reply *r;
	char date[64], head[1024];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (s->served < MAX_REQS) {
		s->reqs[s->served] = malloc(total + 1);
		memcpy(s->reqs[s->served], c->buf, total);
		s->reqs[s->served][total] = '\0';
		s->req_len[s->served] = total;
	}
	r = &s->script[s->served < s->nscript ? s->served : s->nscript - 1];
	s->served++;
	now += r->date_offset;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\n%s%s%s%sContent-Type: text/xml\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	    r->status, r->no_date ? "" : "Date: ", r->no_date ? "" : date,
	    r->no_date ? "" : "\r\n", r->extra != NULL ? r->extra : "",
	    r->body != NULL ? strlen(r->body) : 0);
	if (write(c->fd, head, (size_t)n) != n ||
	    (r->body != NULL &&
	        write(c->fd, r->body, strlen(r->body)) !=
	            (ssize_t)strlen(r->body)))
		fprintf(stderr, "# short write\n");
	conn_close(c);
}

static void
conn_cb(int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	const char *eoh;
	size_t hlen, clen = 0, vlen;
	const char *cl;
	ssize_t n;

	(void)events;
	if (c->len + 4096 > c->cap) {
		c->cap = c->cap * 2 + 8192;
		c->buf = realloc(c->buf, c->cap);
	}
	n = read(fd, c->buf + c->len, c->cap - c->len - 1);
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
	cl = find_header(c->buf, hlen, "Content-Length", &vlen);
	if (cl != NULL)
		clen = strtoul(cl, NULL, 10);
	if (c->len < hlen + clen)
		return;
	if (!verify(c->buf, hlen, c->buf + hlen, clen))
		c->s->bad_sig++;
	respond(c, hlen + clen);
}

static void
accept_cb(int fd, unsigned events, void *arg)
{
	struct srv *s = arg;
	struct conn *c;
	int cfd;

	(void)events;
	cfd = accept(fd, NULL, NULL);
	if (cfd < 0)
		return;
	util_set_nonblock(cfd);
	c = calloc(1, sizeof(*c));
	c->s = s;
	c->fd = cfd;
	c->io = ev_io_add(s->ev, cfd, EV_READ, conn_cb, c);
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
	    listen(srv.lfd, 16) < 0 ||
	    getsockname(srv.lfd, (struct sockaddr *)&sin, &sl) < 0) {
		perror("listen");
		exit(1);
	}
	util_set_nonblock(srv.lfd);
	srv.port = ntohs(sin.sin_port);
	srv.lio = ev_io_add(ev, srv.lfd, EV_READ, accept_cb, &srv);
}

static void
srv_script(const struct reply *r, size_t n)
{
	for (size_t i = 0; i < MAX_REQS; i++) {
		free(srv.reqs[i]);
		srv.reqs[i] = NULL;
	}
	srv.script = r;
	srv.nscript = n;
	srv.served = 0;
	srv.bad_sig = 0;
}

/* --- calls on the loop -------------------------------------------------- */

static struct ev *loop;
static struct httpc *hc;
static struct aws_result got;
static char got_body[4096];
static int done_count;
static bool inside_query;

static void
done_cb(const struct aws_result *r, void *arg)
{
	(void)arg;
	ok(!inside_query, "the callback does not run inside aws_query");
	got = *r;
	got_body[0] = '\0';
	if (r->body != NULL) {
		size_t n = r->body_len < sizeof(got_body) - 1
		    ? r->body_len
		    : sizeof(got_body) - 1;

		memcpy(got_body, r->body, n);
		got_body[n] = '\0';
	}
	got.body = NULL;
	done_count++;
	ev_stop(loop);
}

static void
stop_cb(void *arg)
{
	(void)arg;
	ev_stop(loop);
}

/* Run one call to completion (or 20 s). */
static bool
run_call(struct aws *a, enum aws_service s, const char *action,
    struct aws_params *p)
{
	struct ev_timer *guard = ev_timer_new(loop, stop_cb, NULL);
	struct aws_call *c;
	int before = done_count;

	memset(&got, 0, sizeof(got));
	inside_query = true;
	c = aws_query(a, s, action, p, done_cb, NULL);
	inside_query = false;
	if (c == NULL) {
		ev_timer_free(guard);
		return false;
	}
	ev_timer_arm(guard, 20000);
	ev_run(loop);
	ev_timer_free(guard);
	return done_count == before + 1;
}

static void
spin(mono_ms ms)
{
	struct ev_timer *t = ev_timer_new(loop, stop_cb, NULL);

	ev_timer_arm(t, ms);
	ev_run(loop);
	ev_timer_free(t);
}

static struct aws_params *
small_params(void)
{
	struct aws_params *p = aws_params_new();

	aws_params_add(p, "Namespace", "HealthAgent");
	aws_params_add(p, "MetricData.member.1.MetricName", "healthy");
	aws_params_add(p, "MetricData.member.1.Value", "1");
	return p;
}

static const char ok_body[] =
    "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/"
    "2010-08-01/\"><ResponseMetadata><RequestId>rid-1</RequestId>"
    "</ResponseMetadata></PutMetricDataResponse>";

#define ERRBODY(code, msg)                                                     \
	"<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/"          \
	"2010-08-01/\"><Error><Type>Sender</Type><Code>" code "</Code>"        \
	"<Message>" msg "</Message></Error><RequestId>r</RequestId>"           \
	"</ErrorResponse>"

static char *
req_body(size_t i, size_t *blen)
{
	char *e = strstr(srv.reqs[i], "\r\n\r\n");

	*blen = srv.req_len[i] - (size_t)(e + 4 - srv.reqs[i]);
	return e + 4;
}

static void
test_calls(struct creds *creds)
{
	struct aws_opts o = {.region = "us-east-1",
	    .max_attempts = 3,
	    .timeout_ms = 5000};
	char url[64], want[128], *h;
	struct aws *a;
	size_t blen;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
	o.endpoints[AWS_SVC_CLOUDWATCH] = url;
	o.endpoints[AWS_SVC_AUTOSCALING] = url;
	o.endpoints[AWS_SVC_EC2] = url;
	o.endpoints[AWS_SVC_SNS] = url;
	a = aws_new(loop, hc, creds, &o);
	is_str(aws_region(a), "us-east-1", "region from the options");
	is_str(aws_endpoint(a, AWS_SVC_CLOUDWATCH), url, "endpoint in use");

	{
		static const struct reply r[] = {
		    {200, ok_body, 0, false, NULL}};

		srv_script(r, 1);
		ok(run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		       small_params()),
		    "success: completes");
		ok(got.ok && got.attempts == 1 && got.http_status == 200,
		    "success: ok on the first attempt");
		ok(strstr(got_body, "<RequestId>rid-1</RequestId>") != NULL,
		    "success: the body is passed on");
		is_int(srv.bad_sig, 0, "success: the signature verifies");
		snprintf(want, sizeof(want), "127.0.0.1:%d", srv.port);
		h = header_dup(srv.reqs[0], srv.req_len[0], "Host");
		is_str(h, want, "the Host sent keeps the port");
		free(h);
		h = header_dup(srv.reqs[0], srv.req_len[0], "Content-Type");
		is_str(h, "application/x-www-form-urlencoded; charset=utf-8",
		    "form content type");
		free(h);
		ok(strstr(srv.reqs[0], "POST / HTTP/1.1\r\n") == srv.reqs[0],
		    "POST /");
		ok(strstr(srv.reqs[0], "Credential=" AKID "/") != NULL &&
		        strstr(srv.reqs[0],
		            "/us-east-1/monitoring/aws4_request") != NULL,
		    "signed for monitoring in us-east-1");
		ok(strstr(srv.reqs[0], "X-Amz-Security-Token") == NULL,
		    "no token header without a token");
		h = req_body(0, &blen);
		ok(blen ==
		            strlen("Action=PutMetricData&Version=2010-08-01&"
		                   "Namespace=HealthAgent&MetricData.member.1."
		                   "MetricName=healthy&MetricData.member.1."
		                   "Value=1") &&
		        strncmp(h, "Action=PutMetricData&Version=2010-08-01&",
		            40) == 0,
		    "the form body");
		is_int(aws_clock_offset(a), 0, "no clock offset yet");
	}
	{
		static const struct reply r[] = {{400,
		                                     ERRBODY("Throttling",
		                                         "Rate exceeded"),
		                                     0, false, NULL},
		    {200, ok_body, 0, false, NULL}};

		srv_script(r, 2);
		ok(run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		       small_params()),
		    "throttling: completes");
		ok(got.ok && got.attempts == 2,
		    "throttling then success: 2 "
		    "attempts, ok");
		is_int(srv.served, 2, "throttling: the server saw 2 requests");
		is_int(srv.bad_sig, 0, "throttling: both signatures verify");
	}
	{
		static const struct reply r[] = {
		    {500, ERRBODY("InternalFailure", "oops"), 0, false, NULL}};

		srv_script(r, 1);
		ok(run_call(a, AWS_SVC_AUTOSCALING, "DescribeAutoScalingGroups",
		       NULL),
		    "500s: completes");
		ok(!got.ok && got.attempts == 3 && got.http_status == 500,
		    "500s: fails after max_attempts (3)");
		is_str(got.code, "InternalFailure", "500s: the code");
		is_str(got.message, "oops", "500s: the message");
		ok(!got.throttled && !got.auth_error,
		    "500s: not throttled/auth");
		is_int(srv.served, 3, "500s: the server saw 3 requests");
		ok(strstr(srv.reqs[0], "/autoscaling/aws4_request") != NULL,
		    "autoscaling signing name");
		h = req_body(0, &blen);
		ok(blen ==
		            strlen("Action=DescribeAutoScalingGroups&Version="
		                   "2011-01-01") &&
		        memcmp(h,
		            "Action=DescribeAutoScalingGroups&Version="
		            "2011-01-01",
		            blen) == 0,
		    "autoscaling version");
	}
	{
		static const struct reply r[] = {{503, "", 0, false, NULL},
		    {200, ok_body, 0, false, NULL}};

		srv_script(r, 2);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(got.ok && got.attempts == 2, "503 without a body, then ok");
	}
	{
		static const struct reply r[] = {{503, "", 0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		is_str(got.code, "HTTP 503", "no error code: \"HTTP 503\"");
	}
	{
		static const struct reply r[] =
		    {{400, ERRBODY("RequestExpired", "Request has expired."),
		         3600, false, NULL},
		        {200, ok_body, 3600, false, NULL}};
		time_t before = time(NULL);
		struct tm tm;
		char *d;

		srv_script(r, 2);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(got.ok && got.attempts == 2,
		    "clock skew: RequestExpired then ok, 2 attempts");
		ok(labs(aws_clock_offset(a) - 3600) <= 2,
		    "clock skew: offset %ld is the server's +3600 s",
		    aws_clock_offset(a));
		d = header_dup(srv.reqs[1], srv.req_len[1], "X-Amz-Date");
		memset(&tm, 0, sizeof(tm));
		ok(d != NULL && strptime(d, "%Y%m%dT%H%M%SZ", &tm) != NULL &&
		        labs((long)(timegm(&tm) - before - 3600)) <= 3,
		    "clock skew: the retry is signed with the corrected time");
		free(d);
		is_int(srv.bad_sig, 0, "clock skew: signatures verify");
	}
	{
		/* Back to a correct clock: "Signature expired" in the
		 * SignatureDoesNotMatch spelling. */
		static const struct reply r[] =
		    {{403,
		         ERRBODY("SignatureDoesNotMatch",
		             "Signature expired: 20300101T000000Z is now later "
		             "than ..."),
		         0, false, NULL},
		        {200, ok_body, 0, false, NULL}};

		srv_script(r, 2);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(got.ok && got.attempts == 2 &&
		        labs(aws_clock_offset(a)) <= 2,
		    "Signature expired: corrected back to offset %ld",
		    aws_clock_offset(a));
	}
	{
		static const struct reply r[] = {{400,
		                                     ERRBODY("RequestExpired",
		                                         "expired"),
		                                     0, false, NULL},
		    {500, "", 0, false, NULL}};

		srv_script(r, 2);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.attempts == 4 && got.http_status == 500,
		    "the skew attempt is outside max_attempts (%d attempts)",
		    got.attempts);
	}
	{
		static const struct reply r[] =
		    {{400, ERRBODY("RequestExpired", "expired"), 0, true, NULL},
		        {200, ok_body, 0, true, NULL}};

		srv_script(r, 2);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(got.ok && got.attempts == 2,
		    "a skew error without Date uses the last Date seen");
	}
	{
		static const struct reply r[] = {{400,
		    ERRBODY("RequestExpired", "expired"), 0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.attempts == 2 && !got.auth_error,
		    "persistent skew: one extra attempt only, not an auth "
		    "error");
		is_str(got.code, "RequestExpired", "persistent skew: the code");
	}
	{
		static const struct reply r[] = {{403,
		    ERRBODY("InvalidClientTokenId",
		        "The security token included in the request is "
		        "invalid."),
		    0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.attempts == 1 && got.auth_error,
		    "InvalidClientTokenId: auth error, not retried");
		is_int(got.http_status, 403, "InvalidClientTokenId: 403");
	}
	{
		static const struct reply r[] = {{401,
		    ERRBODY("AuthFailure", "not validated"), 0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.attempts == 2 && got.auth_error,
		    "AuthFailure: one skew attempt, then an auth error");
	}
	{
		static const struct reply r[] = {{403,
		    ERRBODY("AccessDenied",
		        "User is not authorized to perform: "
		        "cloudwatch:PutMetricData"),
		    0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.attempts == 1 && !got.auth_error,
		    "AccessDenied: not retried, not an auth error");
		is_str(got.code, "AccessDenied", "AccessDenied: the code");
	}
	{
		static const struct reply r[] = {
		    {400, ERRBODY("ValidationError", "bad"), 0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_AUTOSCALING, "SetInstanceHealth", NULL);
		ok(!got.ok && got.attempts == 1 && !got.throttled,
		    "ValidationError: not retried");
	}
	{
		static const struct reply r[] =
		    {{400, ERRBODY("Throttling", "Rate exceeded"), 0, false,
		         "x-amz-retry-after: 400\r\n"},
		        {200, ok_body, 0, false, NULL}};
		mono_ms t0 = util_now_ms();

		srv_script(r, 2);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(got.ok && util_now_ms() - t0 >= 390,
		    "x-amz-retry-after: 400 ms is honoured (%llu ms)",
		    (unsigned long long)(util_now_ms() - t0));
	}
	{
		static const struct reply r[] = {{400,
		    ERRBODY("Throttling", "Rate exceeded"), 0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.throttled && got.attempts == 3,
		    "throttled until the end: throttled is set");
	}
	{
		/* Gzip: CloudWatch bodies of 10 KiB or more. */
		static const struct reply r[] = {
		    {200, ok_body, 0, false, NULL}};
		struct aws_params *p = aws_params_new();
		char *want_body, *gz, *cenc, out[65536];
		size_t wlen;
		uLongf olen = sizeof(out);
		z_stream z;

		aws_params_add(p, "Namespace", "HealthAgent");
		for (int i = 1; i <= 200; i++) {
			char k[64];

			snprintf(k, sizeof(k),
			    "MetricData.member.%d.MetricName", i);
			aws_params_add(p, k, "check_latency_ms");
			snprintf(k, sizeof(k), "MetricData.member.%d.Value", i);
			aws_params_add(p, k, "%d.5", i);
		}
		want_body =
		    aws_params_encode(p, "PutMetricData", "2010-08-01", &wlen);
		ok(wlen >= 10240, "gzip: the form is %zu bytes", wlen);
		srv_script(r, 1);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData", p);
		ok(got.ok, "gzip: ok");
		is_int(srv.bad_sig, 0,
		    "gzip: the signature over gzip verifies");
		cenc =
		    header_dup(srv.reqs[0], srv.req_len[0], "Content-Encoding");
		is_str(cenc, "gzip", "gzip: Content-Encoding");
		free(cenc);
		ok(strstr(srv.reqs[0],
		       "content-encoding;content-type;host;"
		       "x-amz-date") != NULL,
		    "gzip: content-encoding is signed");
		gz = req_body(0, &blen);
		ok(blen < wlen / 2, "gzip: %zu bytes on the wire", blen);
		memset(&z, 0, sizeof(z));
		inflateInit2(&z, 15 + 16);
		z.next_in = (unsigned char *)gz;
		z.avail_in = (uInt)blen;
		z.next_out = (unsigned char *)out;
		z.avail_out = (uInt)olen;
		ok(inflate(&z, Z_FINISH) == Z_STREAM_END &&
		        z.total_out == wlen &&
		        memcmp(out, want_body, wlen) == 0,
		    "gzip: inflates to the form");
		inflateEnd(&z);

		/* Auto Scaling does not take gzip. */
		p = aws_params_new();
		for (int i = 1; i <= 400; i++) {
			char k[64];

			snprintf(k, sizeof(k), "InstanceIds.member.%d", i);
			aws_params_add(p, k, "i-%017d", i);
		}
		srv_script(r, 1);
		run_call(a, AWS_SVC_AUTOSCALING, "DescribeAutoScalingInstances",
		    p);
		ok(got.ok && srv.req_len[0] > 10240 &&
		        strstr(srv.reqs[0], "Content-Encoding") == NULL,
		    "gzip: never for autoscaling");
		free(want_body);
	}
	{
		/* EC2: ec2 protocol errors, version, signing name. */
		static const struct reply r[] = {{400,
		    EC2ERR("InvalidAllocationID.NotFound",
		        "The allocation ID 'eipalloc-0abc' does not exist"),
		    0, false, NULL}};
		struct aws_params *p = aws_params_new();
		const char *want_body =
		    "Action=AssociateAddress&Version=2016-11-15&AllocationId="
		    "eipalloc-0abc&InstanceId=i-0123456789abcdef0&"
		    "AllowReassociation=true";

		aws_params_add(p, "AllocationId", "eipalloc-0abc");
		aws_params_add(p, "InstanceId", "i-0123456789abcdef0");
		aws_params_add(p, "AllowReassociation", "true");
		srv_script(r, 1);
		ok(run_call(a, AWS_SVC_EC2, "AssociateAddress", p),
		    "ec2 error: completes");
		ok(!got.ok && got.attempts == 1 && got.http_status == 400 &&
		        !got.auth_error && !got.throttled,
		    "ec2 error: a 400 is not retried");
		is_str(got.code, "InvalidAllocationID.NotFound",
		    "ec2 error: the code from <Response><Errors>");
		is_str(got.message,
		    "The allocation ID 'eipalloc-0abc' does not exist",
		    "ec2 error: the message");
		is_str(got.request_id, "ec2-rid-1", "ec2 error: RequestID");
		ok(strstr(srv.reqs[0], "/us-east-1/ec2/aws4_request") != NULL,
		    "ec2 signing name");
		is_int(srv.bad_sig, 0, "ec2: the signature verifies");
		h = req_body(0, &blen);
		ok(blen == strlen(want_body) && memcmp(h, want_body, blen) == 0,
		    "ec2: the AssociateAddress body of aws-wire.md 3.1");
	}
	{
		static const struct reply r[] = {{503,
		                                     EC2ERR("Unavailable",
		                                         "try later"),
		                                     0, false, NULL},
		    {400,
		        EC2ERR("RequestLimitExceeded",
		            "Request limit exceeded."),
		        0, false, NULL},
		    {200,
		        "<AssociateAddressResponse "
		        "xmlns=\"http://ec2.amazonaws.com/"
		        "doc/2016-11-15/\"><requestId>ok-rid</"
		        "requestId><return>"
		        "true</return><associationId>eipassoc-1</associationId>"
		        "</AssociateAddressResponse>",
		        0, false, NULL}};

		srv_script(r, 3);
		run_call(a, AWS_SVC_EC2, "AssociateAddress", NULL);
		ok(got.ok && got.attempts == 3,
		    "ec2: Unavailable (503) and RequestLimitExceeded are "
		    "retried");
		is_str(got.request_id, "ok-rid",
		    "ec2 success: requestId from the body");
		ok(strstr(got_body, "<associationId>eipassoc-1<") != NULL,
		    "ec2 success: the body is passed on");
	}
	{
		static const struct reply r[] = {{401,
		    EC2ERR("AuthFailure",
		        "AWS was not able to validate the provided access "
		        "credentials"),
		    0, false, NULL}};

		srv_script(r, 1);
		run_call(a, AWS_SVC_EC2, "AssociateAddress", NULL);
		ok(!got.ok && got.auth_error && got.attempts == 2,
		    "ec2 AuthFailure: one skew attempt, then an auth error");
		is_str(got.code, "AuthFailure", "ec2 AuthFailure: the code");
	}
	{
		static const struct reply r[] = {{200,
		    "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/"
		    "2010-03-31/\"><PublishResult><MessageId>m-1</MessageId>"
		    "</PublishResult><ResponseMetadata><RequestId>p-rid"
		    "</RequestId></ResponseMetadata></PublishResponse>",
		    0, false, NULL}};
		struct aws_params *p = aws_params_new();

		aws_params_add(p, "TopicArn",
		    "arn:aws:sns:us-east-1:123456789012:alerts");
		aws_params_add(p, "Message", "{\"event\":\"recovered\"}");
		srv_script(r, 1);
		run_call(a, AWS_SVC_SNS, "Publish", p);
		ok(got.ok && strcmp(got.request_id, "p-rid") == 0,
		    "sns Publish: ok, RequestId read");
		ok(strstr(srv.reqs[0], "/us-east-1/sns/aws4_request") != NULL,
		    "sns signing name");
		h = req_body(0, &blen);
		ok(blen > 40 &&
		        memcmp(h,
		            "Action=Publish&Version=2010-03-31&TopicArn=arn%"
		            "3Aaws"
		            "%3Asns%3Aus-east-1%3A123456789012%3Aalerts&"
		            "Message=",
		            94) == 0,
		    "sns: the Publish body of aws-wire.md 3.2");
		is_int(srv.bad_sig, 0, "sns: the signature verifies");

		/* A topic in another region: signed for that region. */
		srv_script(r, 1);
		memset(&got, 0, sizeof(got));
		ok(aws_query_region(a, "eu-west-2", AWS_SVC_SNS, "Publish",
		       NULL, done_cb, NULL) != NULL,
		    "aws_query_region: started");
		spin(3000);
		ok(got.ok &&
		        strstr(srv.reqs[0], "/eu-west-2/sns/aws4_request") !=
		            NULL,
		    "aws_query_region: signed for eu-west-2");
		is_int(srv.bad_sig, 0,
		    "aws_query_region: the signature verifies");
		is_str(aws_region(a), "us-east-1",
		    "aws_query_region: the client's region is unchanged");
		ok(aws_query_region(a, "Bad Region", AWS_SVC_SNS, "Publish",
		       NULL, done_cb, NULL) == NULL,
		    "aws_query_region: a malformed region is refused");
	}
	{
		static const struct reply r[] = {
		    {200, ok_body, 0, false, NULL}};
		struct aws_call *c;

		srv_script(r, 1);
		done_count = 0;
		c = aws_query(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params(), done_cb, NULL);
		ok(c != NULL, "cancel: started");
		aws_cancel(c);
		spin(300);
		is_int(done_count, 0, "cancel: no callback");
		aws_cancel(NULL);
	}
	aws_free(a);

	/* Endpoints that cannot work. */
	o.endpoints[AWS_SVC_CLOUDWATCH] = "ftp://127.0.0.1/";
	a = aws_new(loop, hc, creds, &o);
	ok(run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData", small_params()),
	    "bad endpoint: a call that completes");
	ok(!got.ok && got.attempts == 0, "bad endpoint: fails, never sent");
	is_str(got.code, "InvalidEndpoint", "bad endpoint: the code");
	aws_free(a);

	{
		/* A port nothing listens on. */
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin = {0};
		socklen_t sl = sizeof(sin);
		char dead[64];

		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		getsockname(fd, (struct sockaddr *)&sin, &sl);
		snprintf(dead, sizeof(dead), "http://127.0.0.1:%d",
		    ntohs(sin.sin_port));
		close(fd);
		o.endpoints[AWS_SVC_CLOUDWATCH] = dead;
		a = aws_new(loop, hc, creds, &o);
		run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
		    small_params());
		ok(!got.ok && got.http_status == 0 && got.attempts == 3,
		    "connection refused: retried to max_attempts");
		is_str(got.code, "ConnectionRefused",
		    "connection refused: the code");
		aws_free(a);
	}

	/* The environment variable, the default port, no region. */
	{
		static const struct reply r[] = {
		    {200, ok_body, 0, false, NULL}};
		struct aws_opts o2 = {.region = NULL};

		snprintf(url, sizeof(url), "http://localhost:%d", srv.port);
		setenv("AWS_ENDPOINT_URL_AUTO_SCALING", url, 1);
		a = aws_new(loop, hc, creds, &o2);
		ok(aws_query(a, AWS_SVC_AUTOSCALING, "X", NULL, done_cb,
		       NULL) == NULL,
		    "no region: aws_query returns NULL");
		aws_set_region(a, "bad region!");
		is_str(aws_region(a), "", "a bad region is ignored");
		aws_set_region(a, "us-east-1");
		srv_script(r, 1);
		ok(run_call(a, AWS_SVC_AUTOSCALING, "DescribeAutoScalingGroups",
		       NULL) &&
		        got.ok,
		    "AWS_ENDPOINT_URL_AUTO_SCALING is used");
		snprintf(want, sizeof(want), "localhost:%d", srv.port);
		h = header_dup(srv.reqs[0], srv.req_len[0], "Host");
		is_str(h, want, "Host from the env URL");
		free(h);
		is_int(srv.bad_sig, 0, "env endpoint: signature verifies");
		ok(strstr(srv.reqs[0], "POST / HTTP/1.1") == srv.reqs[0],
		    "a URL without a path posts to /");
		unsetenv("AWS_ENDPOINT_URL_AUTO_SCALING");
		aws_free(a);
	}
}

static void
test_token(void)
{
	static const struct reply r[] = {{200, ok_body, 0, false, NULL}};
	struct aws_opts o = {.region = "us-east-1"};
	char url[64], *t;
	struct creds *creds;
	struct aws *a;

	setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN//+==", 1);
	creds = creds_new(loop, hc, NULL, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	o.endpoints[AWS_SVC_CLOUDWATCH] = url;
	a = aws_new(loop, hc, creds, &o);
	srv_script(r, 1);
	run_call(a, AWS_SVC_CLOUDWATCH, "PutMetricData", small_params());
	ok(got.ok, "session token: ok");
	t = header_dup(srv.reqs[0], srv.req_len[0], "X-Amz-Security-Token");
	is_str(t, "FwoGZXIvYXdzEXAMPLETOKEN//+==", "session token: sent");
	free(t);
	ok(strstr(srv.reqs[0],
	       "SignedHeaders=content-type;host;x-amz-date;"
	       "x-amz-security-token,") != NULL,
	    "session token: signed");
	is_int(srv.bad_sig, 0, "session token: signature verifies");
	aws_free(a);
	creds_free(creds);
	unsetenv("AWS_SESSION_TOKEN");

	/* No credentials at all. */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	creds = creds_new(loop, hc, NULL, NULL);
	a = aws_new(loop, hc, creds, &o);
	ok(creds_get(creds) == NULL &&
	        aws_query(a, AWS_SVC_CLOUDWATCH, "PutMetricData",
	            small_params(), done_cb, NULL) == NULL,
	    "no credentials: aws_query returns NULL");
	aws_free(a);
	creds_free(creds);
}

int
main(void)
{
	struct creds *creds;

	log_init(getenv("TEST_DEBUG") != NULL ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR,
	    false);
	test_classify();
	test_dates();
	test_endpoints();
	test_params();
	test_parse_error();
	test_backoff();

	/* Credentials from the environment; nothing else may be consulted. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	unsetenv("AWS_ENDPOINT_URL");
	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	srv.secret = SECRET;
	loop = ev_new();
	hc = httpc_new(loop);
	srv_start(loop);
	creds = creds_new(loop, hc, NULL, NULL);
	if (!ok(creds_get(creds) != NULL, "credentials from the environment"))
		return done_testing();
	test_calls(creds);
	creds_free(creds);
	test_token();

	srv_script(NULL, 0);
	ev_io_del(srv.lio);
	close(srv.lfd);
	httpc_free(hc);
	ev_free(loop);
	return done_testing();
}
