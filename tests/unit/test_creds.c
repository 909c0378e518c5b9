/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of the credential chain's pure parts and its local providers:
 * the credentials JSON parser (good documents, 200-with-error bodies,
 * malformed ones, and that no error quotes a secret), ISO-8601 expiration
 * parsing, the shared credentials INI parser, the container URI allowlist,
 * and creds_new() precedence between the environment, the file and the
 * profile settings, plus re-reading a rotated file after creds_invalidate.
 * Nothing here touches the network: IMDS is disabled.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "ev.h"
#include "httpc.h"
#include "log.h"
#include "tap.h"

#define AKID_A "AKIAIOSFODNN7EXAMPLE"
#define SECRET_A "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AKID_B "AKIAI44QH8DHBEXAMPLE"
#define SECRET_B "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"

static char tmpdir[] = "/tmp/test_creds.XXXXXX";
static char credfile[256];

static void
clean_env(void)
{
	static const char *const vars[] = {"AWS_ACCESS_KEY_ID",
	    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	    "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE",
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL};

	for (size_t i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void
test_json(void)
{
	struct aws_creds a;
	char err[256];
	const char *good =
	    "{\"Code\":\"Success\",\"LastUpdated\":\"2012-04-26T16:39:16Z\","
	    "\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAEXAMPLE000000001\","
	    "\"SecretAccessKey\":\"" SECRET_A "\",\"Token\":\"tok+/=en\","
	    "\"Expiration\":\"2017-05-17T15:09:54Z\"}\n";
	const char *container =
	    "{\"AccessKeyId\":\"ASIAEXAMPLE000000002\",\"SecretAccessKey\":"
	    "\"s\",\"Token\":\"t\",\"Expiration\":\"2038-01-19T03:14:08Z\","
	    "\"RoleArn\":\"arn:aws:iam::1:role/x\"}";

	static const struct {
		const char *doc, *want; /* want: a substring of err */
	} bad[] = {
	    {"{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"EC2 "
	     "cannot assume the role\",\"LastUpdated\":\"2024-01-01T00:00:"
	     "00Z\"}",
	        "AssumeRoleUnauthorizedAccess: EC2 cannot assume the role"},
	    {"{\"Code\":\"Success\",\"LastUpdated\":\"x\"}", "AccessKeyId"},
	    {"{\"AccessKeyId\":\"ASIAEXAMPLE000000001\",\"SecretAccessKey\":"
	     "\"s\",\"Expiration\":\"2017-05-17T15:09:54Z\"}",
	        "without Token"},
	    {"{\"AccessKeyId\":\"ASIAEXAMPLE000000001\",\"SecretAccessKey\":"
	     "\"s\",\"Token\":\"t\"}",
	        "without Expiration"},
	    {"{\"AccessKeyId\":\"ASIAEXAMPLE000000001\",\"SecretAccessKey\":"
	     "\"s\",\"Token\":\"t\",\"Expiration\":\"2017-05-17 15:09:54\"}",
	        "not an ISO-8601"},
	    {"{\"AccessKeyId\":12,\"SecretAccessKey\":\"s\",\"Token\":\"t\","
	     "\"Expiration\":\"2017-05-17T15:09:54Z\"}",
	        "not a string"},
	    {"{\"Code\":7}", "Code is not a string"},
	    {"{\"AccessKeyId\":\"short\",\"SecretAccessKey\":\"s\",\"Token\":"
	     "\"t\",\"Expiration\":\"2017-05-17T15:09:54Z\"}",
	        "access key id"},
	    {"{\"AccessKeyId\":\"ASIAEXAMPLE000000001\",\"SecretAccessKey\":"
	     "\"" SECRET_A "\\r\\nX-Evil: 1\",\"Token\":\"t\",\"Expiration\":"
	     "\"2017-05-17T15:09:54Z\"}",
	        "secret access key"},
	    {"{\"AccessKeyId\":\"ASIAEXAMPLE000000001\",\"SecretAccessKey\":"
	     "\"s\",\"Token\":\"" SECRET_A " x\",\"Expiration\":"
	     "\"2017-05-17T15:09:54Z\"}",
	        "session token"},
	    {"[1,2]", "not a JSON object"},
	    {"<html>IMDS</html>", "not JSON"},
	    {"{\"Code\":\"Success\"", "truncated"},
	    {"{\"Code\":\"Success\"} trailing", "after the JSON"},
	    {"", "empty"},
	};

	ok(creds_parse_json(good, strlen(good), &a, err, sizeof(err)) == 0,
	    "json: IMDS document parses");
	is_str(a.access_key_id, "ASIAEXAMPLE000000001", "json: AccessKeyId");
	is_str(a.secret_access_key, SECRET_A, "json: SecretAccessKey");
	is_str(a.session_token, "tok+/=en", "json: Token");
	is_int(a.expiration, 1495033794, "json: Expiration");
	creds_clear(&a);
	ok(a.access_key_id == NULL && a.secret_access_key == NULL &&
	        a.session_token == NULL && a.expiration == 0,
	    "json: creds_clear resets");

	ok(creds_parse_json(container, strlen(container), &a, err,
	       sizeof(err)) == 0,
	    "json: container document (no Code) parses");
	is_int(a.expiration, 2147483648LL, "json: Expiration past 2038");
	creds_clear(&a);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		err[0] = '\0';
		rc = creds_parse_json(bad[i].doc, strlen(bad[i].doc), &a, err,
		    sizeof(err));
		ok(rc == -1 && a.access_key_id == NULL &&
		        strstr(err, bad[i].want) != NULL &&
		        strstr(err, SECRET_A) == NULL,
		    "json: bad document %zu rejected (%s)", i, err);
	}
	{
		char nul[] = "{\"Code\":\"Success\"}\0{}";

		ok(creds_parse_json(nul, sizeof(nul) - 1, &a, err,
		       sizeof(err)) == -1 &&
		        strstr(err, "NUL") != NULL,
		    "json: NUL byte rejected");
	}
}

static void
test_iso8601(void)
{
	static const struct {
		const char *s;
		long long want;
	} cases[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"2017-05-17T15:09:54Z", 1495033794},
	    {"2017-05-17T15:09:54.123Z", 1495033794},
	    {"2017-05-17T15:09:54z", 1495033794},
	    {"2017-05-17T17:09:54+02:00", 1495033794},
	    {"2017-05-17T13:09:54-0200", 1495033794},
	    {"2024-02-29T12:00:00Z", 1709208000},
	    {"2038-01-19T03:14:08Z", 2147483648LL},
	    {"2100-03-01T00:00:00Z", 4107542400LL},
	    {"2023-02-29T12:00:00Z", -1},
	    {"2100-02-29T00:00:00Z", -1},
	    {"2017-13-01T00:00:00Z", -1},
	    {"2017-04-31T00:00:00Z", -1},
	    {"2017-05-17T24:00:00Z", -1},
	    {"2017-05-17 15:09:54Z", -1},
	    {"2017-05-17T15:09:54", -1},
	    {"2017-05-17T15:09:54Zjunk", -1},
	    {"2017-05-17T15:09:54.Z", -1},
	    {"2017-5-17T15:09:54Z", -1},
	    {"1969-12-31T23:59:59Z", -1},
	    {"1970-01-01T00:00:00+01:00", -1},
	    {"", -1},
	    {"tomorrow", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(creds_parse_iso8601(cases[i].s), cases[i].want,
		    "iso8601: \"%s\"", cases[i].s);
	is_int(creds_parse_iso8601(NULL), -1, "iso8601: NULL");
}

static const char ini[] = "# comment\n"
                          "; another\n"
                          "[default]\n"
                          "aws_access_key_id = " AKID_A "\n"
                          "aws_secret_access_key=" SECRET_A "   \n"
                          "s3 =\n"
                          "    max_concurrent_requests = 10\n"
                          "    aws_access_key_id = NOTTHISONEXXXXXXXXXX\n"
                          "\n"
                          "[ prod ]\r\n"
                          "AWS_ACCESS_KEY_ID = " AKID_B "\r\n"
                          "aws_secret_access_key = " SECRET_B "\r\n"
                          "aws_session_token = FwoGZXIvYXdzEXAMPLE//token==\r\n"
                          "[legacy]\n"
                          "aws_access_key_id: " AKID_B "\n"
                          "aws_secret_access_key: " SECRET_B "\n"
                          "aws_security_token = legacytoken\n"
                          "[partial]\n"
                          "aws_access_key_id = " AKID_A "\n"
                          "[role]\n"
                          "role_arn = arn:aws:iam::123456789012:role/x\n"
                          "source_profile = default\n"
                          "[badsecret]\n"
                          "aws_access_key_id = " AKID_A "\n"
                          "aws_secret_access_key = wrong secret7\n"
                          "[unterminated\n"
                          "aws_access_key_id = " AKID_A "\n";

static void
test_ini(void)
{
	struct aws_creds a;
	char err[256];

	is_int(creds_parse_ini(ini, strlen(ini), "default", &a, err,
	           sizeof(err)),
	    1, "ini: default found");
	is_str(a.access_key_id, AKID_A, "ini: default key id");
	is_str(a.secret_access_key, SECRET_A, "ini: default secret trimmed");
	ok(a.session_token == NULL, "ini: default has no token");
	is_int(a.source, CREDS_FILE, "ini: source file");
	creds_clear(&a);

	is_int(creds_parse_ini(ini, strlen(ini), "prod", &a, err, sizeof(err)),
	    1, "ini: [ prod ] with CRLF found");
	is_str(a.access_key_id, AKID_B, "ini: key names are case-insensitive");
	is_str(a.session_token,
	    "FwoGZXIvYXdzEXAMPLE//token==", "ini: session token");
	creds_clear(&a);

	is_int(creds_parse_ini(ini, strlen(ini), "legacy", &a, err,
	           sizeof(err)),
	    1, "ini: ':' separator");
	is_str(a.session_token, "legacytoken", "ini: aws_security_token alias");
	creds_clear(&a);

	is_int(creds_parse_ini(ini, strlen(ini), "partial", &a, err,
	           sizeof(err)),
	    -1, "ini: partial profile is an error");
	ok(strstr(err, "no aws_secret_access_key") != NULL,
	    "ini: partial says what is missing (%s)", err);
	is_int(creds_parse_ini(ini, strlen(ini), "role", &a, err, sizeof(err)),
	    0, "ini: profile without keys is skipped");
	is_int(creds_parse_ini(ini, strlen(ini), "nope", &a, err, sizeof(err)),
	    0, "ini: missing profile");
	ok(strstr(err, "no profile [nope]") != NULL, "ini: says no profile");
	is_int(creds_parse_ini(ini, strlen(ini), "badsecret", &a, err,
	           sizeof(err)),
	    -1, "ini: malformed secret is an error");
	ok(strstr(err, "secret7") == NULL, "ini: error does not quote it");
	is_int(creds_parse_ini(ini, strlen(ini), "Default", &a, err,
	           sizeof(err)),
	    0, "ini: section names are case-sensitive");
	is_int(creds_parse_ini("", 0, "default", &a, err, sizeof(err)), 0,
	    "ini: empty file");
}

static void
test_container_uri(void)
{
	static const struct {
		const char *uri;
		int want;
	} cases[] = {
	    {"http://127.0.0.1:8080/creds", 0},
	    {"http://127.1.2.3/creds", 0},
	    {"https://localhost/creds", 0},
	    {"http://LOCALHOST:80/", 0},
	    {"http://169.254.170.2/v2/credentials/abc", 0},
	    {"http://169.254.170.23/v1/credentials", 0},
	    {"http://[fd00:ec2::23]/v1/credentials", 0},
	    {"http://[::1]:9000/x", 0},
	    {"http://169.254.169.254/latest/", -1},
	    {"http://127.0.0.1.evil.example/", -1},
	    {"http://evil.example/", -1},
	    {"http://127.0.0.1@evil.example/", -1},
	    {"http://user:pw@127.0.0.1/", -1},
	    {"ftp://127.0.0.1/", -1},
	    {"file:///etc/passwd", -1},
	    {"http://[fd00:ec2::254]/", -1},
	    {"http://10.0.0.1/", -1},
	    {"http://127.0.0.1/a b", -1},
	    {"", -1},
	};

	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		is_int(creds_check_container_uri(cases[i].uri, err,
		           sizeof(err)),
		    cases[i].want, "container uri \"%s\" %s", cases[i].uri,
		    cases[i].want == 0 ? "allowed" : "refused");
	}
	creds_check_container_uri("http://10.0.0.1/", err, sizeof(err));
	ok(strstr(err, "10.0.0.1 is not allowed") != NULL,
	    "container uri: the error names the host (%s)", err);
}

static struct ev *loop;

static void
stop_cb(void *arg)
{
	ev_stop(loop);
}

/* Run the loop for ms milliseconds. */
static void
run_for(mono_ms ms)
{
	struct ev_timer *t = ev_timer_new(loop, stop_cb, NULL);

	ev_timer_arm(t, ms);
	ev_run(loop);
	ev_timer_free(t);
}

static void
test_chain(void)
{
	struct httpc *hc = httpc_new(loop);
	struct creds *c;
	const struct aws_creds *a;
	const char *st;
	char path2[300];
	struct creds_tuning tun = {
	    .backoff_min_ms = 50,
	    .backoff_max_ms = 400,
	    .advisory_s = 900,
	    .min_refresh_ms = 50,
	    .timeout_ms = 1000,
	};

	creds_set_tuning(&tun);
	clean_env();
	write_file(credfile, ini);
	setenv("AWS_SHARED_CREDENTIALS_FILE", credfile, 1);

	/* env beats the file */
	setenv("AWS_ACCESS_KEY_ID", AKID_B, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_B, 1);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	c = creds_new(loop, hc, NULL, NULL);
	a = creds_get(c);
	ok(a != NULL && a->source == CREDS_ENV, "chain: env wins over file");
	ok(a != NULL && strcmp(a->access_key_id, AKID_B) == 0 &&
	        a->session_token != NULL &&
	        strcmp(a->session_token, "envtoken") == 0,
	    "chain: env values");
	is_str(creds_key_hint(c), "AKIA...MPLE", "chain: key hint");
	st = creds_state(c);
	ok(strncmp(st, "env (environment), key AKIA...MPLE, does not expire",
	       51) == 0,
	    "chain: env state (%s)", st);
	ok(strstr(st, SECRET_B) == NULL && strstr(st, "envtoken") == NULL,
	    "chain: state shows no secret");
	creds_free(c);

	/* a partial environment is an error, not a fall-through */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	c = creds_new(loop, hc, NULL, NULL);
	ok(creds_get(c) == NULL, "chain: partial env gives no credentials");
	st = creds_state(c);
	ok(strstr(st, "AWS_SECRET_ACCESS_KEY is not") != NULL,
	    "chain: partial env explained (%s)", st);
	is_str(creds_key_hint(c), "", "chain: no hint without credentials");
	creds_free(c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SESSION_TOKEN");

	/* the file, default profile */
	c = creds_new(loop, hc, NULL, NULL);
	a = creds_get(c);
	ok(a != NULL && a->source == CREDS_FILE &&
	        strcmp(a->access_key_id, AKID_A) == 0,
	    "chain: file, default profile");
	st = creds_state(c);
	ok(strstr(st, "file (profile default in ") != NULL &&
	        strstr(st, SECRET_A) == NULL,
	    "chain: file state (%s)", st);
	creds_free(c);

	/* AWS_PROFILE, and the config profile over it */
	setenv("AWS_PROFILE", "prod", 1);
	c = creds_new(loop, hc, NULL, "");
	a = creds_get(c);
	ok(a != NULL && strcmp(a->access_key_id, AKID_B) == 0,
	    "chain: AWS_PROFILE selects the profile");
	creds_free(c);
	c = creds_new(loop, hc, NULL, "legacy");
	a = creds_get(c);
	ok(a != NULL && a->session_token != NULL &&
	        strcmp(a->session_token, "legacytoken") == 0,
	    "chain: the configured profile beats AWS_PROFILE");
	creds_free(c);
	setenv("AWS_PROFILE", "partial", 1);
	c = creds_new(loop, hc, NULL, NULL);
	ok(creds_get(c) == NULL && strstr(creds_state(c), "partial") != NULL,
	    "chain: a partial profile is an error (%s)", creds_state(c));
	creds_free(c);
	unsetenv("AWS_PROFILE");

	/* nothing anywhere, IMDS disabled: no credentials, and it says why */
	snprintf(path2, sizeof(path2), "%s/missing", tmpdir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path2, 1);
	c = creds_new(loop, hc, NULL, NULL);
	ok(creds_get(c) == NULL, "chain: nothing found");
	st = creds_state(c);
	ok(strstr(st, "none found") != NULL && strstr(st, "no file") != NULL,
	    "chain: says where it looked (%s)", st);
	creds_free(c);

	/* HOME fallback */
	{
		char home[300], dir[320];
		const char *oldhome = getenv("HOME");
		char *save = oldhome != NULL ? strdup(oldhome) : NULL;

		snprintf(home, sizeof(home), "%s/home", tmpdir);
		snprintf(dir, sizeof(dir), "%s/.aws", home);
		if (mkdir(home, 0700) != 0 || mkdir(dir, 0700) != 0)
			perror("mkdir");
		snprintf(dir, sizeof(dir), "%s/.aws/credentials", home);
		write_file(dir,
		    "[default]\naws_access_key_id=" AKID_B
		    "\naws_secret_access_key=" SECRET_B "\n");
		unsetenv("AWS_SHARED_CREDENTIALS_FILE");
		setenv("HOME", home, 1);
		c = creds_new(loop, hc, NULL, NULL);
		a = creds_get(c);
		ok(a != NULL && strcmp(a->access_key_id, AKID_B) == 0,
		    "chain: $HOME/.aws/credentials");
		creds_free(c);
		unlink(dir);
		snprintf(dir, sizeof(dir), "%s/.aws", home);
		rmdir(dir);
		rmdir(home);
		if (save != NULL)
			setenv("HOME", save, 1);
		else
			unsetenv("HOME");
		free(save);
	}

	/* rotation: invalidate re-reads the file */
	setenv("AWS_SHARED_CREDENTIALS_FILE", credfile, 1);
	write_file(credfile,
	    "[default]\naws_access_key_id=" AKID_A
	    "\naws_secret_access_key=" SECRET_A "\n");
	c = creds_new(loop, hc, NULL, NULL);
	a = creds_get(c);
	ok(a != NULL && strcmp(a->access_key_id, AKID_A) == 0, "rotate: key A");
	creds_invalidate(c,
	    "SignatureDoesNotMatch: The request signature "
	    "we calculated does not match");
	run_for(150);
	a = creds_get(c);
	ok(a != NULL && strcmp(a->access_key_id, AKID_A) == 0,
	    "rotate: unchanged file keeps key A");
	st = creds_state(c);
	ok(strstr(st, "rejected by AWS") != NULL &&
	        strstr(st, "SignatureDoesNotMatch") != NULL,
	    "rotate: state shows the rejection (%s)", st);
	write_file(credfile,
	    "[default]\naws_access_key_id=" AKID_B
	    "\naws_secret_access_key=" SECRET_B "\n");
	creds_invalidate(c, "SignatureDoesNotMatch");
	run_for(600); /* within the 50..400 ms backoff */
	a = creds_get(c);
	ok(a != NULL && strcmp(a->access_key_id, AKID_B) == 0,
	    "rotate: the rewritten file is picked up");
	st = creds_state(c);
	ok(strstr(st, "rejected") == NULL && strstr(st, SECRET_B) == NULL,
	    "rotate: the rejection is cleared (%s)", st);
	creds_free(c);

	creds_set_tuning(NULL);
	httpc_free(hc);
}

int
main(void)
{
	log_init(LOG_LEVEL_ERR, false);
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(credfile, sizeof(credfile), "%s/credentials", tmpdir);
	loop = ev_new();

	test_json();
	test_iso8601();
	test_ini();
	test_container_uri();
	test_chain();

	ev_free(loop);
	unlink(credfile);
	rmdir(tmpdir);
	return done_testing();
}
