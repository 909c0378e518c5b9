/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the AWS XML reader on replies shaped like the real ones
 * (Query ErrorResponse, DescribeAutoScalingInstances,
 * DescribeAutoScalingGroups, PutMetricData), plus namespaces, entities,
 * CDATA, comments, attributes, self-closing tags, truncation, and
 * malformed input of every kind, including every prefix of a reply.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "awsxml.h"
#include "tap.h"

static const char error_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ErrorResponse "
    "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\n"
    "  <Error>\n"
    "    <Type>Sender</Type>\n"
    "    <Code>Throttling</Code>\n"
    "    <Message>Rate exceeded</Message>\n"
    "  </Error>\n"
    "  <RequestId>2f85f68d-980b-11e7-a296-21716fd2d2e3</RequestId>\n"
    "</ErrorResponse>\n";

static const char dasi_xml[] =
    "<DescribeAutoScalingInstancesResponse "
    "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
    "<DescribeAutoScalingInstancesResult><AutoScalingInstances><member>"
    "<HealthStatus>HEALTHY</HealthStatus>"
    "<AutoScalingGroupName>web-asg</AutoScalingGroupName>"
    "<AvailabilityZone>us-east-1a</AvailabilityZone>"
    "<InstanceId>i-0123456789abcdef0</InstanceId>"
    "<InstanceType>t3.micro</InstanceType>"
    "<LaunchTemplate><LaunchTemplateName>web</LaunchTemplateName>"
    "<Version>1</Version><LaunchTemplateId>lt-0abc</LaunchTemplateId>"
    "</LaunchTemplate>"
    "<LifecycleState>InService</LifecycleState>"
    "<ProtectedFromScaleIn>false</ProtectedFromScaleIn>"
    "</member></AutoScalingInstances></DescribeAutoScalingInstancesResult>"
    "<ResponseMetadata><RequestId>5d2b1e3c-0000-4000-8000-000000000001"
    "</RequestId></ResponseMetadata>"
    "</DescribeAutoScalingInstancesResponse>";

static const char dasg_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeAutoScalingGroupsResponse "
    "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
    "  <DescribeAutoScalingGroupsResult>\n"
    "    <AutoScalingGroups>\n"
    "      <member>\n"
    "        <AutoScalingGroupARN>arn:aws:autoscaling:us-east-1:123456789012:"
    "autoScalingGroup:d1a2:autoScalingGroupName/web-asg</AutoScalingGroupARN>\n"
    "        <AutoScalingGroupName>web-asg</AutoScalingGroupName>\n"
    "        <MinSize>2</MinSize>\n"
    "        <MaxSize>6</MaxSize>\n"
    "        <DesiredCapacity>3</DesiredCapacity>\n"
    "        <HealthCheckGracePeriod>300</HealthCheckGracePeriod>\n"
    "        <Instances>\n"
    "          <member>\n"
    "            <InstanceId>i-000000000000000a1</InstanceId>\n"
    "            <AvailabilityZone>us-east-1a</AvailabilityZone>\n"
    "            <HealthStatus>Healthy</HealthStatus>\n"
    "            <LifecycleState>InService</LifecycleState>\n"
    "            <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
    "          </member>\n"
    "          <member>\n"
    "            <InstanceId>i-000000000000000b2</InstanceId>\n"
    "            <AvailabilityZone>us-east-1b</AvailabilityZone>\n"
    "            <HealthStatus>Unhealthy</HealthStatus>\n"
    "            <LifecycleState>InService</LifecycleState>\n"
    "            <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
    "          </member>\n"
    "          <member>\n"
    "            <InstanceId>i-000000000000000c3</InstanceId>\n"
    "            <AvailabilityZone>us-east-1c</AvailabilityZone>\n"
    "            <HealthStatus>Healthy</HealthStatus>\n"
    "            <LifecycleState>Pending</LifecycleState>\n"
    "            <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
    "          </member>\n"
    "        </Instances>\n"
    "        <Tags>\n"
    "          <member><Key>Name</Key><Value>web &amp; api</Value>"
    "<PropagateAtLaunch>true</PropagateAtLaunch></member>\n"
    "        </Tags>\n"
    "        <SuspendedProcesses/>\n"
    "      </member>\n"
    "    </AutoScalingGroups>\n"
    "  </DescribeAutoScalingGroupsResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</DescribeAutoScalingGroupsResponse>\n";

static const char pmd_xml[] =
    "<PutMetricDataResponse "
    "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>e5a6c7b0-6b3e-11e5-9f1e-0123456789ab</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</PutMetricDataResponse>\n";

static bool
text(const char *xml, const char *path, char *out, size_t outlen)
{
	return awsxml_text(xml, strlen(xml), path, out, outlen);
}

static int
each(const char *xml, const char *path, awsxml_cb cb, void *arg)
{
	return awsxml_each(xml, strlen(xml), path, cb, arg);
}

static void
error_response(void)
{
	char buf[128];

	ok(text(error_xml, "ErrorResponse/Error/Code", buf, sizeof(buf)),
	    "ErrorResponse: code found");
	is_str(buf, "Throttling", "ErrorResponse: code");
	ok(text(error_xml, "Error/Message", buf, sizeof(buf)),
	    "ErrorResponse: path may start at any depth");
	is_str(buf, "Rate exceeded", "ErrorResponse: message");
	ok(text(error_xml, "Error/Type", buf, sizeof(buf)) &&
	        strcmp(buf, "Sender") == 0,
	    "ErrorResponse: type");
	ok(text(error_xml, "ErrorResponse/RequestId", buf, sizeof(buf)) &&
	        strcmp(buf, "2f85f68d-980b-11e7-a296-21716fd2d2e3") == 0,
	    "ErrorResponse: request id is a child of ErrorResponse");
	ok(!text(error_xml, "Error/RequestId", buf, sizeof(buf)),
	    "ErrorResponse: no RequestId under Error");
	is_str(buf, "", "not found leaves an empty string");
	ok(!text(error_xml, "Response/Error/Code", buf, sizeof(buf)),
	    "ErrorResponse: names match whole, not as suffixes");
	ok(text(error_xml, "Code", buf, sizeof(buf)) &&
	        strcmp(buf, "Throttling") == 0,
	    "a single name matches at any depth");
	ok(text(error_xml, "Error", buf, sizeof(buf)) &&
	        strcmp(buf, "Sender\n    Throttling\n    Rate exceeded") == 0,
	    "an element's text is all its character data, trimmed");
	is_int(each(error_xml, "Code", NULL, NULL), 1,
	    "each with a NULL callback counts");

	/* The EC2 shape: Response/Errors/Error. */
	ok(text("<Response><Errors><Error><Code>AuthFailure</Code><Message>"
	        "AWS was not able to validate the provided access credentials"
	        "</Message></Error></Errors><RequestID>x</RequestID></"
	        "Response>",
	       "Error/Code", buf, sizeof(buf)) &&
	        strcmp(buf, "AuthFailure") == 0,
	    "EC2 error shape: Error/Code");
}

static void
namespaces(void)
{
	static const char xml[] =
	    "<aws:ErrorResponse xmlns:aws=\"http://example.com/ns\">"
	    "<aws:Error><aws:Code>SignatureDoesNotMatch</aws:Code>"
	    "<Message xmlns=\"urn:x\">Signature expired: 20150830T123600Z is "
	    "now earlier than 20150830T125100Z (20150830T130600Z - 15 min."
	    ")</Message></aws:Error></aws:ErrorResponse>";
	char buf[256];

	ok(text(xml, "ErrorResponse/Error/Code", buf, sizeof(buf)) &&
	        strcmp(buf, "SignatureDoesNotMatch") == 0,
	    "prefixed names match by local name");
	ok(text(xml, "Error/Message", buf, sizeof(buf)) &&
	        strncmp(buf, "Signature expired: ", 19) == 0,
	    "mixed prefixed and default namespace");
	ok(!text(xml, "aws:Code", buf, sizeof(buf)),
	    "a prefix in the path does not match");
	is_int(awsxml_each("<a:x></b:x>", 11, "x", NULL, NULL), -1,
	    "end tag must repeat the same prefix");
}

static void
describe_instances(void)
{
	char buf[64];

	ok(text(dasi_xml, "AutoScalingInstances/member/AutoScalingGroupName",
	       buf, sizeof(buf)) &&
	        strcmp(buf, "web-asg") == 0,
	    "DescribeAutoScalingInstances: group name");
	ok(text(dasi_xml, "AutoScalingInstances/member/HealthStatus", buf,
	       sizeof(buf)) &&
	        strcmp(buf, "HEALTHY") == 0,
	    "DescribeAutoScalingInstances: health status");
	ok(text(dasi_xml, "member/LaunchTemplate/Version", buf, sizeof(buf)) &&
	        strcmp(buf, "1") == 0,
	    "DescribeAutoScalingInstances: nested launch template");
	is_int(each(dasi_xml, "AutoScalingInstances/member", NULL, NULL), 1,
	    "DescribeAutoScalingInstances: one member");
	is_int(each("<DescribeAutoScalingInstancesResponse><DescribeAutoScaling"
	            "InstancesResult><AutoScalingInstances/></DescribeAutoScal"
	            "ingInstancesResult></"
	            "DescribeAutoScalingInstancesResponse>",
	           "AutoScalingInstances/member", NULL, NULL),
	    0, "DescribeAutoScalingInstances: empty list");
}

struct inst {
	char id[32], health[32], state[32];
};

struct insts {
	struct inst v[8];
	int n;
	int stop_after;
};

static int
inst_cb(struct awsxml_span in, void *arg)
{
	struct insts *is = arg;
	struct inst *i = &is->v[is->n++];

	ok(in.p >= dasg_xml && in.p + in.len <= dasg_xml + sizeof(dasg_xml),
	    "span %d lies inside the input", is->n);
	awsxml_text(in.p, in.len, "InstanceId", i->id, sizeof(i->id));
	awsxml_text(in.p, in.len, "HealthStatus", i->health, sizeof(i->health));
	awsxml_text(in.p, in.len, "LifecycleState", i->state, sizeof(i->state));
	return is->stop_after > 0 && is->n >= is->stop_after;
}

static int
group_cb(struct awsxml_span in, void *arg)
{
	struct insts *is = arg;

	/* The group's span can be searched again. */
	return awsxml_each(in.p, in.len, "Instances/member", inst_cb, is) < 0;
}

static void
describe_groups(void)
{
	struct insts is = {0};
	char buf[64];
	int n;

	n = each(dasg_xml, "Instances/member", inst_cb, &is);
	is_int(n, 3, "DescribeAutoScalingGroups: three instances");
	is_str(is.v[0].id, "i-000000000000000a1", "instance 1 id");
	is_str(is.v[0].health, "Healthy", "instance 1 health");
	is_str(is.v[0].state, "InService", "instance 1 state");
	is_str(is.v[1].id, "i-000000000000000b2", "instance 2 id");
	is_str(is.v[1].health, "Unhealthy", "instance 2 health");
	is_str(is.v[2].id, "i-000000000000000c3", "instance 3 id");
	is_str(is.v[2].state, "Pending", "instance 3 state");

	is_int(each(dasg_xml, "AutoScalingGroups/member", NULL, NULL), 1,
	    "only the group member matches AutoScalingGroups/member");
	is_int(each(dasg_xml, "member", NULL, NULL), 5,
	    "member alone matches at every depth");
	memset(&is, 0, sizeof(is));
	is_int(each(dasg_xml, "AutoScalingGroups/member", group_cb, &is), 1,
	    "nested walk: one group");
	is_int(is.n, 3, "nested walk: three instances inside it");

	memset(&is, 0, sizeof(is));
	is.stop_after = 2;
	is_int(each(dasg_xml, "Instances/member", inst_cb, &is), 2,
	    "a callback returning non-zero stops the walk");

	ok(text(dasg_xml, "AutoScalingGroups/member/DesiredCapacity", buf,
	       sizeof(buf)) &&
	        strcmp(buf, "3") == 0,
	    "DescribeAutoScalingGroups: desired capacity");
	ok(text(dasg_xml, "Tags/member/Value", buf, sizeof(buf)) &&
	        strcmp(buf, "web & api") == 0,
	    "DescribeAutoScalingGroups: entity in a tag value");
	ok(text(dasg_xml, "SuspendedProcesses", buf, sizeof(buf)) &&
	        buf[0] == '\0',
	    "a self-closing element is found and empty");
	ok(text(dasg_xml,
	       "DescribeAutoScalingGroupsResponse/ResponseMetadata/"
	       "RequestId",
	       buf, sizeof(buf)) &&
	        strcmp(buf, "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE") == 0,
	    "DescribeAutoScalingGroups: request id");
}

static void
put_metric_data(void)
{
	char buf[64];

	ok(text(pmd_xml, "PutMetricDataResponse/ResponseMetadata/RequestId",
	       buf, sizeof(buf)) &&
	        strcmp(buf, "e5a6c7b0-6b3e-11e5-9f1e-0123456789ab") == 0,
	    "PutMetricData: request id");
	ok(!text(pmd_xml, "Error/Code", buf, sizeof(buf)),
	    "PutMetricData: no error code");
	is_int(each(pmd_xml, "PutMetricDataResponse", NULL, NULL), 1,
	    "PutMetricData: one root");
}

static int
span_cb(struct awsxml_span in, void *arg)
{
	*(struct awsxml_span *)arg = in;
	return 0;
}

static void
syntax(void)
{
	char buf[64];
	struct awsxml_span sp = {0};
	static const char bom[] = "\xef\xbb\xbf<a><b>x</b></a>";
	static const char ent[] = "<m>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;"
	                          "&#233;&#x20AC;&#x1F600;</m>";

	ok(text(ent, "m", buf, sizeof(buf)) &&
	        strcmp(buf, "<>&\"'AB\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") ==
	            0,
	    "entities and character references decode");
	ok(text("<m><![CDATA[a <b> & c]]></m>", "m", buf, sizeof(buf)) &&
	        strcmp(buf, "a <b> & c") == 0,
	    "CDATA is literal");
	ok(text("<m>x<!-- <Code>no</Code> --><?pi data?>y</m>", "m", buf,
	       sizeof(buf)) &&
	        strcmp(buf, "xy") == 0,
	    "comments and processing instructions are skipped");
	ok(!text("<m><!-- <Code>no</Code> --></m>", "Code", buf, sizeof(buf)),
	    "elements inside comments do not match");
	ok(text("<a x=\"1>2\" y='3' z = \"&amp;\"><b>t</b></a>", "a/b", buf,
	       sizeof(buf)) &&
	        strcmp(buf, "t") == 0,
	    "attributes, '>' inside quotes");
	ok(text("<a>\n\t  padded value \r\n</a>", "a", buf, sizeof(buf)) &&
	        strcmp(buf, "padded value") == 0,
	    "surrounding whitespace is trimmed");
	ok(text(bom, "a/b", buf, sizeof(buf)) && strcmp(buf, "x") == 0,
	    "a UTF-8 BOM is skipped");
	ok(text("<a><b/><b>two</b></a>", "b", buf, sizeof(buf)) &&
	        buf[0] == '\0',
	    "the first match wins, even when empty");
	is_int(each("<a><b/><b>two</b></a>", "a/b", span_cb, &sp), 2,
	    "self-closing and open elements both count");
	ok(sp.len == 3 && memcmp(sp.p, "two", 3) == 0,
	    "the span is the inner content");
	is_int(each("", "a", NULL, NULL), 0, "empty input: nothing found");
	is_int(each("  just text  ", "a", NULL, NULL), 0,
	    "a text fragment: nothing found");
	ok(text("<Code>Throttling</Code>", "Code", buf, sizeof(buf)),
	    "an element as the whole input");

	/* Truncation. */
	ok(text("<m>abcdefghij</m>", "m", buf, 5) && strcmp(buf, "abcd") == 0,
	    "output truncated to outlen");
	ok(text("<m>ab\xc3\xa9</m>", "m", buf, 4) && strcmp(buf, "ab") == 0,
	    "truncation does not split a UTF-8 sequence");
	ok(text("<m>ab&#233;</m>", "m", buf, 4) && strcmp(buf, "ab") == 0,
	    "truncation does not split a decoded reference");
	ok(text("<m>abc</m>", "m", buf, 1) && buf[0] == '\0',
	    "outlen 1 gives an empty string");
	ok(awsxml_text("<m>abc</m>", 10, "m", NULL, 0),
	    "outlen 0: found, nothing written");
}

static void
malformed(void)
{
	static const char *const bad[] = {
	    "<a>",
	    "<a></b>",
	    "</a>",
	    "<a><b></a></b>",
	    "<a>&foo;</a>",
	    "<a>&amp</a>",
	    "<a>& x</a>",
	    "<a>&#;</a>",
	    "<a>&#x;</a>",
	    "<a>&#0;</a>",
	    "<a>&#xD800;</a>",
	    "<a>&#x110000;</a>",
	    "<a>&#99999999999999999999;</a>",
	    "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
	    "<a x=1></a>",
	    "<a x=\"1></a>",
	    "<a x=\"<\"></a>",
	    "<a x=\"1\"y=\"2\"></a>",
	    "<a x></a>",
	    "<1a></1a>",
	    "<a:></a:>",
	    "< a></a>",
	    "<a/ >",
	    "<a><!-- open</a>",
	    "<a><![CDATA[ open</a>",
	    "<a><? x</a>",
	    "<?xml",
	    "<a></a",
	    "<",
	    "<a><b>",
	};
	char deep[64 * 3 + 64 * 4 + 16], buf[16];
	size_t n = 0;
	static const char nul[] = "<a>x\0y</a>";

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(each(bad[i], "a", NULL, NULL), -1, "malformed: %s",
		    bad[i]);
	ok(!text("<a>&foo;</a>", "a", buf, sizeof(buf)),
	    "awsxml_text: malformed is not found");
	is_int(awsxml_each(nul, sizeof(nul) - 1, "a", NULL, NULL), -1,
	    "a NUL byte is malformed");
	is_int(each("<a>x</a>", "", NULL, NULL), -1, "empty path");
	is_int(each("<a>x</a>", "a//b", NULL, NULL), -1, "empty component");
	is_int(each("<a>x</a>", NULL, NULL, NULL), -1, "NULL path");
	is_int(awsxml_each(NULL, 3, "a", NULL, NULL), -1, "NULL input");

	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "</a>");
	is_int(awsxml_each(deep, n, "a", NULL, NULL), 64,
	    "64 levels are accepted");
	n = 0;
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
	is_int(awsxml_each(deep, n, "a", NULL, NULL), -1,
	    "65 levels are refused");

	/* Every proper prefix of a reply that cuts into the root element is
	 * malformed; none may crash or read beyond its length (ASan). */
	{
		size_t len = strlen(dasg_xml), root = 39, bad_prefixes = 0,
		       checked = 0;
		const char *end =
		    strstr(dasg_xml, "</DescribeAutoScalingGroupsResponse>");
		size_t closed = (size_t)(end - dasg_xml) +
		    strlen("</DescribeAutoScalingGroupsResponse>");

		for (size_t l = root + 1; l < closed; l++) {
			char *cut = malloc(l);

			memcpy(cut, dasg_xml, l);
			checked++;
			if (awsxml_each(cut, l, "member", NULL, NULL) == -1)
				bad_prefixes++;
			awsxml_text(cut, l, "InstanceId", buf, sizeof(buf));
			free(cut);
		}
		is_int(bad_prefixes, checked,
		    "all %zu prefixes cutting the root are malformed", checked);
		is_int(awsxml_each(dasg_xml, len, "member", NULL, NULL), 5,
		    "the whole reply is fine");
	}
}

int
main(void)
{
	error_response();
	namespaces();
	describe_instances();
	describe_groups();
	put_metric_data();
	syntax();
	malformed();
	return done_testing();
}
