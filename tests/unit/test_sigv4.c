/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the SigV4 signer against published numbers: the worked
 * PutMetricData example of aws-wire.md section 4.6, and the cases of the
 * official AWS SigV4 test suite that apply to a header-signing client
 * (AKIDEXAMPLE, us-east-1, service "service", 2015-08-30T12:36:00Z). The
 * expected canonical requests, string-to-sign hashes and Authorization
 * values are the suite's, encoded here as data. Also sigv4_uri_encode.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "sigv4.h"
#include "tap.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define WHEN ((time_t)1440938160) /* 2015-08-30T12:36:00Z */
#define HOST "example.amazonaws.com"
#define EMPTY_SHA                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define FORM_SHA                                                               \
	"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
#define CRED                                                                   \
	"AWS4-HMAC-SHA256 "                                                    \
	"Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
#define STS_HEAD                                                               \
	"AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"      \
	"aws4_request\n"
#define BASIC_HDRS "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"

/* The session token of the classic suite's post-sts-token cases. */
#define STS_TOKEN                                                              \
	"AQoDYXdzEPT//////////"                                                \
	"wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLW"                     \
	"sKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/"         \
	"kMcGdQrmG"                                                            \
	"deehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvl" \
	"R"                                                                    \
	"d8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"       \
	"scqKmlz"                                                              \
	"m8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

#define UNRESERVED                                                             \
	"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

struct vector {
	const char *name;
	const char *method, *path, *query;
	const char *headers[6];
	const char *body;
	const char *token;
	const char *creq; /* expected canonical request, NULL if not given */
	const char *sts_hash; /* last line of the string to sign, or NULL */
	const char *authz;
};

static const struct vector vectors[] = {
    {
        .name = "get-vanilla",
        .method = "GET",
        .path = "/",
        .creq = "GET\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        .name = "get-vanilla-query",
        .method = "GET",
        .path = "/",
        .query = "",
        .creq = "GET\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        .name = "get-vanilla-empty-query-key",
        .method = "GET",
        .path = "/",
        .query = "Param1=value1",
        .creq = "GET\n/\nParam1=value1\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    {
        .name = "get-vanilla-query-order-key",
        .method = "GET",
        .path = "/",
        .query = "Param1=value2&Param1=Value1",
        .creq = "GET\n/\nParam1=Value1&Param1=value2\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
    },
    {
        .name = "get-vanilla-query-order-key-case",
        .method = "GET",
        .path = "/",
        .query = "Param2=value2&Param1=value1",
        .creq = "GET\n/\nParam1=value1&Param2=value2\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    {
        .name = "get-vanilla-query-order-value",
        .method = "GET",
        .path = "/",
        .query = "Param1=value2&Param1=value1",
        .creq = "GET\n/\nParam1=value1&Param1=value2\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
    },
    {
        .name = "get-vanilla-query-unreserved",
        .method = "GET",
        .path = "/",
        .query = UNRESERVED "=" UNRESERVED,
        .creq = "GET\n/\n" UNRESERVED "=" UNRESERVED "\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    },
    {
        .name = "get-vanilla-utf8-query",
        .method = "GET",
        .path = "/",
        .query = "\xe1\x88\xb4=bar",
        .creq = "GET\n/\n%E1%88%B4=bar\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    {
        .name = "get-header-key-duplicate",
        .method = "GET",
        .path = "/",
        .headers = {"My-Header1:value2", "My-Header1:value2",
            "My-Header1:value1"},
        .creq =
            "GET\n/"
            "\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
            "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-"
            "date\n" EMPTY_SHA,
        .sts_hash =
            "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
        .authz = CRED
        "SignedHeaders=host;my-header1;x-amz-date, "
        "Signature="
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    {
        .name = "get-header-value-order",
        .method = "GET",
        .path = "/",
        .headers = {"My-Header1:value4", "My-Header1:value1",
            "My-Header1:value3", "My-Header1:value2"},
        .creq = "GET\n/"
                "\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,"
                "value3,value2\n"
                "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-"
                "date\n" EMPTY_SHA,
        .sts_hash =
            "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
        .authz = CRED
        "SignedHeaders=host;my-header1;x-amz-date, "
        "Signature="
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    {
        .name = "get-header-value-trim",
        .method = "GET",
        .path = "/",
        .headers = {"My-Header1: value1", "My-Header2: \"a   b   c\""},
        .creq = "GET\n/"
                "\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"
                "\"a b c\"\n"
                "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-"
                "amz-date\n" EMPTY_SHA,
        .sts_hash =
            "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
        .authz = CRED
        "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
        "Signature="
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    {
        .name = "get-unreserved",
        .method = "GET",
        .path = "/" UNRESERVED,
        .creq = "GET\n/" UNRESERVED "\n\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    {
        .name = "post-vanilla",
        .method = "POST",
        .path = "/",
        .creq = "POST\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    {
        .name = "post-header-key-sort",
        .method = "POST",
        .path = "/",
        .headers = {"My-Header1:value1"},
        .creq = "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
                "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-"
                "date\n" EMPTY_SHA,
        .sts_hash =
            "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
        .authz = CRED
        "SignedHeaders=host;my-header1;x-amz-date, "
        "Signature="
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    },
    {
        .name = "post-header-value-case",
        .method = "POST",
        .path = "/",
        .headers = {"My-Header1:VALUE1"},
        .creq = "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\n"
                "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-"
                "date\n" EMPTY_SHA,
        .sts_hash =
            "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
        .authz = CRED
        "SignedHeaders=host;my-header1;x-amz-date, "
        "Signature="
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    },
    {
        .name = "post-vanilla-query",
        .method = "POST",
        .path = "/",
        .query = "Param1=value1",
        .creq = "POST\n/\nParam1=value1\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    },
    /*
     * The classic suite's form cases list content-length in the .creq,
     * but their .sts and .authz were made without it (aws-wire.md 4.4):
     * the numbers below are .sts/.authz (.sreq for the SignedHeaders of
     * -parameters), and the canonical request is the one they hash.
     */
    {
        .name = "post-x-www-form-urlencoded (classic .sts/.authz)",
        .method = "POST",
        .path = "/",
        .headers = {"Content-Type:application/x-www-form-urlencoded"},
        .body = "Param1=value1",
        .sts_hash =
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
        .authz = CRED
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature="
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
    {
        .name = "post-x-www-form-urlencoded-parameters (classic .sts/.sreq)",
        .method = "POST",
        .path = "/",
        /* "utf8" as in the classic suite's .req; its .sts hashes that. */
        .headers =
            {"Content-Type:application/x-www-form-urlencoded; charset=utf8"},
        .body = "Param1=value1",
        .sts_hash =
            "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
        .authz = CRED
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature="
        "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
    },
    /* The current aws-c-auth suite signs content-length and
     * x-amz-content-sha256 for the same requests. */
    {
        .name = "post-x-www-form-urlencoded (aws-c-auth v4)",
        .method = "POST",
        .path = "/",
        .headers = {"Content-Type:application/x-www-form-urlencoded",
            "Content-Length:13", "x-amz-content-sha256:" FORM_SHA},
        .body = "Param1=value1",
        .authz = CRED
        "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-"
        "amz-date, "
        "Signature="
        "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    },
    {
        .name = "post-x-www-form-urlencoded-parameters (aws-c-auth v4)",
        .method = "POST",
        .path = "/",
        .headers =
            {"Content-Type:application/x-www-form-urlencoded; charset=utf-8",
                "Content-Length:13", "x-amz-content-sha256:" FORM_SHA},
        .body = "Param1=value1",
        .authz = CRED
        "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-"
        "amz-date, "
        "Signature="
        "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
    },
    {
        .name = "post-sts-token/post-sts-header-before",
        .method = "POST",
        .path = "/",
        .token = STS_TOKEN,
        .creq = "POST\n/\n\n" BASIC_HDRS "x-amz-security-token:" STS_TOKEN
                "\n\nhost;x-amz-date;x-amz-security-token\n" EMPTY_SHA,
        .sts_hash =
            "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
        .authz = CRED
        "SignedHeaders=host;x-amz-date;x-amz-security-token, "
        "Signature="
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    },
    {
        .name = "get-vanilla-with-session-token (aws-c-auth v4)",
        .method = "GET",
        .path = "/",
        .token =
            "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
        .authz = CRED
        "SignedHeaders=host;x-amz-date;x-amz-security-token, "
        "Signature="
        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    },
    /* normalize-path */
    {
        .name = "normalize-path/get-relative",
        .method = "GET",
        .path = "/example/..",
        .creq = "GET\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        .name = "normalize-path/get-relative-relative",
        .method = "GET",
        .path = "/example1/example2/../..",
        .creq = "GET\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        .name = "normalize-path/get-slash",
        .method = "GET",
        .path = "//",
        .creq = "GET\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        .name = "normalize-path/get-slash-dot-slash",
        .method = "GET",
        .path = "/./",
        .creq = "GET\n/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    {
        .name = "normalize-path/get-slash-pointless-dot",
        .method = "GET",
        .path = "/./example",
        .creq = "GET\n/example\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
    },
    {
        .name = "normalize-path/get-slashes",
        .method = "GET",
        .path = "//example//",
        .creq = "GET\n/example/\n\n" BASIC_HDRS "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    },
    {
        .name = "normalize-path/get-space",
        .method = "GET",
        .path = "/example space/",
        .creq = "GET\n/example%20space/\n\n" BASIC_HDRS
                "\nhost;x-amz-date\n" EMPTY_SHA,
        .sts_hash =
            "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
        .authz = CRED
        "SignedHeaders=host;x-amz-date, "
        "Signature="
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    },
};

static void
run_vector(const struct vector *v)
{
	struct sigv4_key key = {AKID, SECRET, v->token};
	struct sigv4_input in = {
	    .method = v->method,
	    .host = HOST,
	    .path = v->path,
	    .query = v->query,
	    .headers = v->headers,
	    .payload = v->body,
	    .payload_len = v->body != NULL ? strlen(v->body) : 0,
	    .region = "us-east-1",
	    .service = "service",
	    .when = WHEN,
	};
	struct sigv4_output out;
	int rc = sigv4_sign(&in, &key, &out);

	if (!ok(rc == 0, "%s: signs", v->name))
		return;
	if (v->creq != NULL)
		is_str(out.canonical_request, v->creq, "%s: canonical request",
		    v->name);
	if (v->sts_hash != NULL) {
		char sts[256];

		snprintf(sts, sizeof(sts), STS_HEAD "%s", v->sts_hash);
		is_str(out.string_to_sign, sts, "%s: string to sign", v->name);
	}
	is_str(out.authorization, v->authz, "%s: authorization", v->name);
	is_str(out.amz_date, "20150830T123600Z", "%s: x-amz-date", v->name);
	sigv4_output_free(&out);
}

/* aws-wire.md 1.6 and 4.6: PutMetricData as botocore signs it. */
static void
worked_example(void)
{
	static const char body[] =
	    "Action=PutMetricData&Version=2010-08-01&Namespace=MyApp%2FHealth"
	    "&MetricData.member.1.MetricName=AppAlive"
	    "&MetricData.member.1.Dimensions.member.1.Name=InstanceId"
	    "&MetricData.member.1.Dimensions.member.1.Value=i-0123456789abcdef0"
	    "&MetricData.member.1.Timestamp=2015-08-30T12%3A36%3A00Z"
	    "&MetricData.member.1.Value=1&MetricData.member.1.Unit=Count";
	static const char *const hdrs[] =
	    {"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
	        NULL};
	struct sigv4_key key = {AKID, SECRET, NULL};
	struct sigv4_input in = {
	    .method = "POST",
	    .host = "monitoring.us-east-1.amazonaws.com",
	    .path = "/",
	    .headers = hdrs,
	    .payload = body,
	    .payload_len = sizeof(body) - 1,
	    .region = "us-east-1",
	    .service = "monitoring",
	    .when = WHEN,
	};
	struct sigv4_output out;
	unsigned char k[32];
	char khex[65];

	is_int(sizeof(body) - 1, 340, "worked example: body is 340 bytes");
	if (!ok(sigv4_sign(&in, &key, &out) == 0, "worked example: signs"))
		return;
	is_str(out.payload_hash,
	    "e8d9ec2b6c98d33cccf9c5df8df0fbe3ae514c4d1802c45e0018bf4e25c14052",
	    "worked example: payload hash");
	is_str(out.canonical_request,
	    "POST\n/\n\n"
	    "content-type:application/x-www-form-urlencoded; charset=utf-8\n"
	    "host:monitoring.us-east-1.amazonaws.com\n"
	    "x-amz-date:20150830T123600Z\n\n"
	    "content-type;host;x-amz-date\n"
	    "e8d9ec2b6c98d33cccf9c5df8df0fbe3ae514c4d1802c45e0018bf4e25c14052",
	    "worked example: canonical request");
	is_str(out.string_to_sign,
	    "AWS4-HMAC-SHA256\n20150830T123600Z\n"
	    "20150830/us-east-1/monitoring/aws4_request\n"
	    "47da68b919e6deec8963b0f232cdd10338d4126bd94ecabe00b08e63b75523e5",
	    "worked example: string to sign");
	is_str(out.signature,
	    "eb1ab625a8460e921a312e5cf18be46ee1580a5b8cb30a92efaa3585befebb5b",
	    "worked example: signature");
	is_str(out.authorization,
	    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
	    "monitoring/aws4_request, SignedHeaders=content-type;host;"
	    "x-amz-date, Signature=eb1ab625a8460e921a312e5cf18be46ee1580a5b8cb"
	    "30a92efaa3585befebb5b",
	    "worked example: authorization");
	sigv4_output_free(&out);
	ok(out.canonical_request == NULL && out.string_to_sign == NULL,
	    "sigv4_output_free clears the pointers");

	ok(sigv4_signing_key(SECRET, "20150830", "us-east-1", "monitoring",
	       k) == 0,
	    "worked example: kSigning derives");
	for (size_t i = 0; i < sizeof(k); i++)
		snprintf(khex + 2 * i, 3, "%02x", k[i]);
	is_str(khex,
	    "afe29d050bccd19b47b684e23de3d3f4d622d628f34ed8b78e7cc24201a5f3ca",
	    "worked example: kSigning");

	/* The same request with a session token (aws-wire.md 1.6). */
	key.session_token = "EXAMPLESESSIONTOKEN";
	if (!ok(sigv4_sign(&in, &key, &out) == 0,
	        "worked example with token: signs"))
		return;
	is_str(out.signature,
	    "1c1d088a54848f2b5770268dbbe11aa7d97f1cff19aba63729239b6b45cd8c8d",
	    "worked example with token: signature");
	ok(strstr(out.authorization,
	       "SignedHeaders=content-type;host;x-amz-date;"
	       "x-amz-security-token,") != NULL,
	    "worked example with token: signed headers");
	sigv4_output_free(&out);

	/* An empty session token is no token. */
	key.session_token = "";
	if (ok(sigv4_sign(&in, &key, &out) == 0, "empty token: signs"))
		is_str(out.signature,
		    "eb1ab625a8460e921a312e5cf18be46ee1580a5b8cb30a92efaa3585"
		    "befebb5b",
		    "empty token: same signature as none");
	sigv4_output_free(&out);
}

static void
bad_input(void)
{
	static const char *const reserved[] = {"Host: evil", NULL};
	static const char *const nocolon[] = {"Content-Type", NULL};
	static const char *const badname[] = {"Bad Name: x", NULL};
	/* fuzz_sigv4 corpus regress-semicolon-in-header-name: a ';' in a
	 * name split the signed-headers list. */
	static const char *const semicolon[] = {"X-A;b: 1", NULL};
	static const char *const comma[] = {"X-A,b: 1", NULL};
	struct sigv4_key key = {AKID, SECRET, NULL};
	struct sigv4_input in = {
	    .method = "POST",
	    .host = HOST,
	    .path = "/",
	    .region = "us-east-1",
	    .service = "service",
	    .when = WHEN,
	};
	struct sigv4_output out;

	in.headers = reserved;
	ok(sigv4_sign(&in, &key, &out) == -1 && out.canonical_request == NULL,
	    "a Host header from the caller is refused");
	in.headers = nocolon;
	ok(sigv4_sign(&in, &key, &out) == -1, "a header without ':' fails");
	in.headers = badname;
	ok(sigv4_sign(&in, &key, &out) == -1,
	    "a header name with a space fails");
	in.headers = semicolon;
	ok(sigv4_sign(&in, &key, &out) == -1 && out.canonical_request == NULL,
	    "a header name with ';' fails (not a token)");
	in.headers = comma;
	ok(sigv4_sign(&in, &key, &out) == -1,
	    "a header name with ',' fails (not a token)");
	in.headers = NULL;
	in.region = "";
	ok(sigv4_sign(&in, &key, &out) == -1, "an empty region fails");
	in.region = "us-east-1";
	key.secret_access_key = "";
	ok(sigv4_sign(&in, &key, &out) == -1, "an empty secret fails");
	key.secret_access_key = SECRET;
	key.access_key_id = NULL;
	ok(sigv4_sign(&in, &key, &out) == -1, "a missing key id fails");
	key.access_key_id = AKID;
	in.payload_len = 3;
	ok(sigv4_sign(&in, &key, &out) == -1, "a length without payload fails");
	in.payload_len = 0;
	in.when = (time_t)-1;
	ok(sigv4_sign(&in, &key, &out) == -1, "a time before 1970 fails");
	in.when = WHEN;
	in.path = NULL;
	if (ok(sigv4_sign(&in, &key, &out) == 0, "a NULL path signs as /"))
		is_str(out.authorization,
		    CRED
		    "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57"
		    "cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
		    "a NULL path: post-vanilla signature");
	sigv4_output_free(&out);
}

static void
query_and_path_details(void)
{
	struct sigv4_key key = {AKID, SECRET, NULL};
	struct sigv4_input in = {
	    .method = "GET",
	    .host = "localhost:4566",
	    .path = "/a%2Fb/./c/../d",
	    .query = "b=%7e&a=x+y&a&c=%zz&&=v",
	    .region = "us-east-1",
	    .service = "service",
	    .when = WHEN,
	};
	struct sigv4_output out;

	if (!ok(sigv4_sign(&in, &key, &out) == 0, "details: signs"))
		return;
	/* Encoded path bytes are encoded again; '~' decoded stays literal;
	 * '+' is a literal plus; a bad escape stays literal and so is
	 * encoded; a key without '=' gets an empty value; sorting is by
	 * encoded key then value; the port stays in host. */
	is_str(out.canonical_request,
	    "GET\n/a%252Fb/d\n=v&a=&a=x%2By&b=~&c=%25zz\n"
	    "host:localhost:4566\nx-amz-date:20150830T123600Z\n\n"
	    "host;x-amz-date\n" EMPTY_SHA,
	    "details: canonical request");
	sigv4_output_free(&out);
}

static void
uri_encode(void)
{
	char buf[128];
	size_t n;

	n = sigv4_uri_encode("a b/c~d", 7, buf, sizeof(buf));
	is_str(buf, "a%20b%2Fc~d", "uri_encode: space and slash");
	is_int(n, 11, "uri_encode: length");
	n = sigv4_uri_encode(UNRESERVED, strlen(UNRESERVED), buf, sizeof(buf));
	ok(n == strlen(UNRESERVED) && strcmp(buf, UNRESERVED) == 0,
	    "uri_encode: unreserved kept");
	sigv4_uri_encode("Count/Second", 12, buf, sizeof(buf));
	is_str(buf, "Count%2FSecond", "uri_encode: unit");
	sigv4_uri_encode("2015-08-30T12:36:00Z", 20, buf, sizeof(buf));
	is_str(buf, "2015-08-30T12%3A36%3A00Z", "uri_encode: timestamp");
	sigv4_uri_encode("\xe1\x88\xb4+*=&%", 8, buf, sizeof(buf));
	is_str(buf, "%E1%88%B4%2B%2A%3D%26%25",
	    "uri_encode: utf-8 and specials");
	sigv4_uri_encode("a\0b", 3, buf, sizeof(buf));
	is_str(buf, "a%00b", "uri_encode: NUL byte");
	n = sigv4_uri_encode("ab/cd", 5, buf, 5);
	is_str(buf, "ab", "uri_encode: truncation keeps whole escapes");
	is_int(n, 7, "uri_encode: truncation reports the full length");
	n = sigv4_uri_encode("abc", 3, NULL, 0);
	is_int(n, 3, "uri_encode: sizing with a NULL buffer");
	n = sigv4_uri_encode("abc", 3, buf, 4);
	ok(n == 3 && strcmp(buf, "abc") == 0, "uri_encode: exact fit");
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		run_vector(&vectors[i]);
	worked_example();
	bad_input();
	query_and_path_details();
	uri_encode();
	return done_testing();
}
