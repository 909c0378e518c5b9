#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The SigV4 signer end to end against moto with signature checking on,
printing TAP.

moto_server runs on loopback with INITIAL_NO_AUTH_ACTION_COUNT set to the
number of setup calls boto3 makes (IAM users, role, policies and keys, an
Auto Scaling group, STS temporary credentials). After those, moto verifies
every signature and IAM permission. tests/aws_driver (aws_query on an
event loop) then calls CloudWatch PutMetricData (small, and a 30 KB body)
and Auto Scaling DescribeAutoScalingGroups with (a) an IAM user's keys,
(b) STS temporary credentials with a session token, and must fail
cleanly, with the right codes, given (c) a wrong secret, (d) an unknown
key id, (e) a wrong session token and (f) an action the policy does not
allow. boto3 reads back what arrived.

Two moto 5.2.1 quirks shape the test. STS GetSessionToken answers a fixed
placeholder key that moto itself does not accept, so the temporary
credentials come from AssumeRole (an ASIA key whose session token moto
checks exactly). And moto_server gunzips request bodies before it checks
signatures, so a correctly signed gzip body (AWS signs the compressed
bytes) cannot verify there: the large body goes uncompressed (-z), and
gzip signing is proven in tests/unit/test_aws.c instead. moto also checks
IAM actions under the signing name ("monitoring:PutMetricData"), so the
policies name both spellings.

Needs: AWS_DRIVER or top_builddir (tests/aws_driver), python3 with boto3,
moto_server.
"""
import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

tap_n = 0
tap_failed = 0


def ok(cond, desc, diag=None):
    global tap_n, tap_failed
    tap_n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (tap_n, desc))
    if not cond:
        tap_failed += 1
        if diag is not None:
            for line in str(diag).splitlines():
                print("#   " + line)
    sys.stdout.flush()
    return cond


def bail(msg):
    print("Bail out! " + msg)
    sys.exit(1)


DRIVER = os.environ.get("AWS_DRIVER") or os.path.join(
    os.environ.get("top_builddir", "."), "tests", "aws_driver")
if not os.access(DRIVER, os.X_OK):
    bail("the test driver %s is not built" % DRIVER)
MOTO = shutil.which("moto_server")
if MOTO is None:
    bail("required tool 'moto_server' is not installed")
try:
    import boto3
    import botocore.config
except ImportError:
    bail("required python module boto3 is not installed")

REGION = "us-east-1"
NAMESPACE = "HATest/SigV4"
ASG = "sigv4-asg"
INSTANCE = "i-0123456789abcdef0"
T = tempfile.mkdtemp(prefix="ha-sigv4.")
procs = []

# Nothing here may reach a real AWS endpoint or IMDS.
for k in list(os.environ):
    if k.startswith("AWS_"):
        del os.environ[k]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.path.join(T, "nonexistent")
os.environ["AWS_CONFIG_FILE"] = os.path.join(T, "nonexistent")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if tap_failed and os.path.exists(os.path.join(T, "moto.log")):
        print("# moto log (tail):")
        with open(os.path.join(T, "moto.log"), errors="replace") as f:
            for line in f.readlines()[-30:]:
                print("#   " + line.rstrip())
    shutil.rmtree(T, ignore_errors=True)


# The calls made before moto starts checking. Each one is one request.
SETUP_CALLS = 15


def main():
    port = free_port()
    endpoint = "http://127.0.0.1:%d" % port
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS))
    log = open(os.path.join(T, "moto.log"), "w")
    procs.append(subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)],
                                  env=env, stdout=log, stderr=log))
    up = False
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            up = True
            break
        except Exception:
            time.sleep(0.1)
    if not up:
        bail("moto_server did not start")

    cfg = botocore.config.Config(retries={"max_attempts": 1,
                                          "mode": "standard"})

    def client(svc, key=None):
        kw = {}
        if key is not None:
            kw = {"aws_access_key_id": key[0],
                  "aws_secret_access_key": key[1]}
            if len(key) > 2:
                kw["aws_session_token"] = key[2]
        else:  # the unauthenticated setup window
            kw = {"aws_access_key_id": "AKIAIOSFODNN7SETUPXX",
                  "aws_secret_access_key": "setup"}
        return boto3.client(svc, region_name=REGION, endpoint_url=endpoint,
                            config=cfg, **kw)

    # --- setup: exactly SETUP_CALLS requests ------------------------------
    iam = client("iam")
    iam.create_user(UserName="agent")                                   # 1
    pol = iam.create_policy(                                            # 2
        PolicyName="agent",
        PolicyDocument="""{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData",
             "monitoring:PutMetricData", "autoscaling:Describe*"],
             "Resource": "*"}]}""")
    agent_policy = pol["Policy"]["Arn"]
    iam.attach_user_policy(UserName="agent",                            # 3
                           PolicyArn=agent_policy)
    ak = iam.create_access_key(UserName="agent")["AccessKey"]           # 4
    agent = (ak["AccessKeyId"], ak["SecretAccessKey"])
    iam.create_user(UserName="reader")                                  # 5
    pol = iam.create_policy(                                            # 6
        PolicyName="reader",
        PolicyDocument="""{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:List*",
             "cloudwatch:Get*", "monitoring:List*", "monitoring:Get*"],
             "Resource": "*"}]}""")
    iam.attach_user_policy(UserName="reader",                           # 7
                           PolicyArn=pol["Policy"]["Arn"])
    rk = iam.create_access_key(UserName="reader")["AccessKey"]          # 8
    reader = (rk["AccessKeyId"], rk["SecretAccessKey"])
    ec2 = client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]                # 9
    asc = client("autoscaling")
    asc.create_launch_configuration(                                    # 10
        LaunchConfigurationName="lc", ImageId=ami, InstanceType="t3.micro")
    asc.create_auto_scaling_group(                                      # 11
        AutoScalingGroupName=ASG, LaunchConfigurationName="lc",
        MinSize=2, MaxSize=4, DesiredCapacity=2,
        AvailabilityZones=["us-east-1a"])
    role = iam.create_role(                                             # 12
        RoleName="agent-role",
        AssumeRolePolicyDocument="""{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "%s"},
             "Action": "sts:AssumeRole"}]}""" % iam.get_user(           # 13
                UserName="agent")["User"]["Arn"])["Role"]
    iam.attach_role_policy(RoleName="agent-role",                       # 14
                           PolicyArn=agent_policy)
    sts = client("sts", agent)
    st = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="agent",  # 15
                         DurationSeconds=900)["Credentials"]
    session = (st["AccessKeyId"], st["SecretAccessKey"], st["SessionToken"])
    ok(session[0].startswith("ASIA") and len(session[2]) > 20,
       "STS temporary credentials with a session token")

    # From here on moto checks every signature: prove it with boto3.
    try:
        client("autoscaling", (agent[0], "not-the-secret")) \
            .describe_auto_scaling_groups()
        ok(False, "moto now checks signatures")
    except Exception as e:
        ok("SignatureDoesNotMatch" in str(e), "moto now checks signatures",
           e)

    # --- the driver --------------------------------------------------------
    outputs = []

    def drive(key, svc, action, params=(), attempts=None, nogzip=False):
        denv = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION,
                    AWS_ACCESS_KEY_ID=key[0], AWS_SECRET_ACCESS_KEY=key[1],
                    AWS_DRIVER_DEBUG="1")
        denv.pop("AWS_SESSION_TOKEN", None)
        if len(key) > 2:
            denv["AWS_SESSION_TOKEN"] = key[2]
        argv = [DRIVER] + (["-z"] if nogzip else [])
        if attempts is not None:
            argv += ["-n", str(attempts)]
        argv += [svc, action] + ["%s=%s" % kv for kv in params]
        p = subprocess.run(argv, env=denv, capture_output=True, text=True,
                           timeout=60)
        res = {"rc": p.returncode, "out": p.stdout, "err": p.stderr}
        outputs.append(p.stdout + p.stderr)
        for line in p.stdout.splitlines():
            if line.startswith("ok="):
                for f in line.split():
                    k, _, v = f.partition("=")
                    res[k] = v
            elif line.startswith("body="):
                res["body"] = line[5:]
        return res

    def datum(name, value, extra=()):
        return [("Namespace", NAMESPACE),
                ("MetricData.member.1.MetricName", name),
                ("MetricData.member.1.Dimensions.member.1.Name",
                 "InstanceId"),
                ("MetricData.member.1.Dimensions.member.1.Value", INSTANCE),
                ("MetricData.member.1.Value", str(value)),
                ("MetricData.member.1.Unit", "Count")] + list(extra)

    def diag(r):
        return "rc=%s\n%s%s" % (r["rc"], r["out"], r["err"])

    for label, key in (("IAM user keys", agent), ("STS session", session)):
        r = drive(key, "cloudwatch", "PutMetricData",
                  datum("sigv4_" + ("user" if len(key) == 2 else "sts"), 1))
        ok(r["rc"] == 0 and r.get("ok") == "1" and r.get("status") == "200"
           and r.get("attempts") == "1",
           "%s: PutMetricData accepted" % label, diag(r))
        r = drive(key, "autoscaling", "DescribeAutoScalingGroups",
                  [("AutoScalingGroupNames.member.1", ASG)])
        ok(r["rc"] == 0 and "<AutoScalingGroupName>%s<" % ASG
           in r.get("body", ""),
           "%s: DescribeAutoScalingGroups returns the group" % label,
           diag(r))
        ok(r.get("body", "").count("<InstanceId>") == 2,
           "%s: with its two instances" % label, diag(r))

    # A large body (uncompressed: see the docstring).
    params = [("Namespace", NAMESPACE)]
    for i in range(1, 151):
        m = "MetricData.member.%d." % i
        params += [(m + "MetricName", "sigv4_gzip"),
                   (m + "Dimensions.member.1.Name", "Index"),
                   (m + "Dimensions.member.1.Value", "%03d" % i),
                   (m + "Value", "%d" % i), (m + "Unit", "Count")]
    form = "&".join("%s=%s" % kv for kv in params)
    ok(len(form) >= 10240, "the large request is %d bytes of form" % len(form))
    r = drive(agent, "cloudwatch", "PutMetricData", params, nogzip=True)
    ok(r["rc"] == 0 and r.get("ok") == "1",
       "a 150-datum PutMetricData is accepted", diag(r))

    # Failures: clean exits with the right codes, no crash, no retry.
    r = drive((agent[0], agent[1][:-1] + ("x" if agent[1][-1] != "x"
                                         else "y")),
              "cloudwatch", "PutMetricData", datum("sigv4_bad", 1))
    ok(r["rc"] == 1 and r.get("code") == "SignatureDoesNotMatch"
       and r.get("auth_error") == "1" and r.get("attempts") == "1"
       and r.get("status") == "403",
       "wrong secret: SignatureDoesNotMatch, auth error, not retried",
       diag(r))
    r = drive(("AKIAIOSFODNN7UNKNOWN", agent[1]), "autoscaling",
              "DescribeAutoScalingGroups")
    ok(r["rc"] == 1 and r.get("code") == "InvalidClientTokenId"
       and r.get("auth_error") == "1",
       "unknown key id: InvalidClientTokenId, auth error", diag(r))
    r = drive((session[0], session[1], session[2][:-8] + "AAAAAAAA"),
              "cloudwatch", "PutMetricData", datum("sigv4_badtoken", 1))
    ok(r["rc"] == 1 and r.get("auth_error") == "1",
       "wrong session token: an auth error (%s)" % r.get("code"), diag(r))
    r = drive(agent, "autoscaling", "SetInstanceHealth",
              [("InstanceId", INSTANCE), ("HealthStatus", "Unhealthy")])
    ok(r["rc"] == 1 and r.get("code") == "AccessDenied"
       and r.get("auth_error") == "0" and r.get("attempts") == "1",
       "not permitted: AccessDenied, not an auth error", diag(r))
    leaks = [o for o in outputs
             if agent[1] in o or session[1] in o or session[2] in o]
    ok(len(outputs) >= 9 and not leaks and
       any("attempt 1" in o for o in outputs),
       "no secret or token in %d debug-level driver outputs" % len(outputs),
       "\n".join(leaks))
    # Gzip is not exercised here: moto_server gunzips bodies before it
    # checks signatures, so no correctly signed gzip request verifies there.
    # tests/unit/test_aws.c verifies the gzip signature instead.

    # --- read back ---------------------------------------------------------
    cw = client("cloudwatch", reader)
    names = {}
    for m in cw.list_metrics(Namespace=NAMESPACE)["Metrics"]:
        names.setdefault(m["MetricName"], []).append(
            {d["Name"]: d["Value"] for d in m["Dimensions"]})
    ok(names.get("sigv4_user") == [{"InstanceId": INSTANCE}],
       "read back: the IAM user's datum with its dimension", names)
    ok(names.get("sigv4_sts") == [{"InstanceId": INSTANCE}],
       "read back: the STS session's datum", names)
    ok(len(names.get("sigv4_gzip", [])) == 150,
       "read back: all 150 datums of the large request", len(names.get("sigv4_gzip", [])))
    ok("sigv4_bad" not in names and "sigv4_badtoken" not in names,
       "read back: nothing from the rejected calls", names)
    now = datetime.datetime.now(datetime.timezone.utc)
    st = cw.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="sigv4_user",
        Dimensions=[{"Name": "InstanceId", "Value": INSTANCE}],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=10), Period=60,
        Statistics=["Sum", "SampleCount"])["Datapoints"]
    ok(sum(d["Sum"] for d in st) == 1.0
       and sum(d["SampleCount"] for d in st) == 1.0
       and all(d.get("Unit") in (None, "Count") for d in st),
       "read back: sigv4_user Sum 1 over one sample", st)
    st = cw.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="sigv4_gzip",
        Dimensions=[{"Name": "Index", "Value": "150"}],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=10), Period=60,
        Statistics=["Maximum"])["Datapoints"]
    ok([d["Maximum"] for d in st] == [150.0],
       "read back: the large request's last value", st)


try:
    main()
except SystemExit:
    raise
except Exception as e:  # a setup failure is a failure, not a skip
    ok(False, "the test ran to the end", repr(e))
finally:
    cleanup()
print("1..%d" % tap_n)
sys.exit(1 if tap_failed else 0)
