#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Self-healing through Auto Scaling, end to end, printing TAP.

The real agent runs against moto_server on 127.0.0.1 with signature and IAM
checking on (INITIAL_NO_AUTH_ACTION_COUNT lets only the IAM bootstrap
through), and against tests/imds_emulator.py for its instance id. The agent
signs with the keys of an IAM user that may only do what the agent needs.
Results are read back from moto with boto3.

  - a dependency-only failure: no call;
  - a local failure: SetInstanceHealth, and moto's
    DescribeAutoScalingInstances shows the instance IMDS served Unhealthy;
  - an agent restart in the same boot: no second call (state_dir record);
  - a group already 50% unhealthy: a refusal, no call, the
    self_eviction_refused metric; once the group recovers, the re-evaluation
    evicts;
  - dry_run: the exact call is logged, nothing is called;
  - restart_command that repairs the fault: no eviction.

Needs $HEALTHAGENT (the binary) and $top_srcdir; nothing leaves loopback.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HEALTHAGENT = os.environ.get("HEALTHAGENT")
SRCDIR = os.environ.get("top_srcdir", ".")
REGION = "us-east-1"
ACCOUNT = "123456789012"

tap_n = 0
tap_failed = 0


def ok(cond, desc, diag=None):
    global tap_n, tap_failed
    tap_n += 1
    print("%sok %d - %s" % ("" if cond else "not ", tap_n, desc), flush=True)
    if not cond:
        tap_failed += 1
        if diag:
            for line in str(diag).splitlines()[-40:]:
                print("#   " + line, flush=True)
    return cond


def bail(msg):
    print("Bail out! " + msg, flush=True)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(fn, timeout, step=0.1):
    end = time.monotonic() + timeout
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # noqa: BLE001 - polling until it works
            pass
        if time.monotonic() >= end:
            return None
        time.sleep(step)


if not HEALTHAGENT or not os.access(HEALTHAGENT, os.X_OK):
    bail("HEALTHAGENT must point at the built binary")
if shutil.which("moto_server") is None:
    bail("required tool 'moto_server' is not installed")
try:
    import boto3
    from botocore.exceptions import ClientError
except ImportError:
    bail("python3 module boto3 is not installed")

# Nothing this script or boto3 does may reach a real endpoint.
for k in list(os.environ):
    if k.startswith("AWS_"):
        del os.environ[k]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent"

T = tempfile.mkdtemp(prefix="ha-asg.")
procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.environ.get("KEEP_TMP"):
        print("# kept " + T, flush=True)
    else:
        shutil.rmtree(T, ignore_errors=True)


def start(argv, env=None, log=None):
    out = open(log, "w") if log else subprocess.DEVNULL
    p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT
                         if log else subprocess.DEVNULL,
                         start_new_session=True)
    procs.append(p)
    return p


def main():
    # moto, with signatures and IAM enforced after the bootstrap calls.
    moto_port = free_port()
    moto_env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
    start(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
          env=moto_env, log=os.path.join(T, "moto.log"))
    moto = "http://127.0.0.1:%d" % moto_port
    if not wait_for(lambda: socket.create_connection(
            ("127.0.0.1", moto_port), 0.2).close() or True, 20):
        bail("moto_server did not start")

    def client(svc, keys):
        return boto3.client(svc, region_name=REGION, endpoint_url=moto,
                            aws_access_key_id=keys[0],
                            aws_secret_access_key=keys[1])

    # The three unauthenticated calls: an admin for the test itself.
    iam = client("iam", ("bootstrap", "bootstrap"))
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all",
                        PolicyDocument=json.dumps({
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*",
                                           "Resource": "*"}]}))
    k = iam.create_access_key(UserName="admin")["AccessKey"]
    admin = (k["AccessKeyId"], k["SecretAccessKey"])
    iam = client("iam", admin)
    try:
        client("iam", (admin[0], "wrong" + admin[1][5:])).list_users()
        ok(False, "moto checks signatures")
    except ClientError as e:
        ok(e.response["Error"]["Code"] == "SignatureDoesNotMatch",
           "moto checks signatures (%s)" % e.response["Error"]["Code"])

    # The agent's user: only the actions it needs (healthagent.conf(5)).
    # moto evaluates policies against Resource "*" and ignores condition
    # keys, so the resource scoping of the documented policy cannot be
    # expressed here; the action list is the least-privilege one. moto
    # also names the CloudWatch action after the signing name
    # ("monitoring:"), where IAM says "cloudwatch:".
    iam.create_user(UserName="agent")
    iam.put_user_policy(UserName="agent", PolicyName="healthagent",
                        PolicyDocument=json.dumps({
                            "Version": "2012-10-17",
                            "Statement": [{
                                "Effect": "Allow",
                                "Action": [
                                    "cloudwatch:PutMetricData",
                                    "monitoring:PutMetricData",
                                    "autoscaling:DescribeAutoScalingInstances",
                                    "autoscaling:DescribeAutoScalingGroups",
                                    "autoscaling:SetInstanceHealth"],
                                "Resource": "*"}]}))
    k = iam.create_access_key(UserName="agent")["AccessKey"]
    agent_keys = (k["AccessKeyId"], k["SecretAccessKey"])

    ec2 = client("ec2", admin)
    asg = client("autoscaling", admin)
    cw = client("cloudwatch", admin)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="healthagent-test",
                               LaunchTemplateData={"ImageId": image,
                                                   "InstanceType": "t3.micro"})

    def make_group(name, n):
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=n, MaxSize=n,
            DesiredCapacity=n, AvailabilityZones=[REGION + "a"],
            LaunchTemplate={"LaunchTemplateName": "healthagent-test"})
        g = asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return [i["InstanceId"] for i in g["Instances"]]

    web = make_group("web", 4)
    half = make_group("half", 4)
    ok(len(web) == 4 and len(half) == 4, "two groups of 4 instances in moto")

    def health_of(iid):
        r = asg.describe_auto_scaling_instances(InstanceIds=[iid])
        return r["AutoScalingInstances"][0]["HealthStatus"].upper()

    # IMDS: one emulator; each agent reads its instance id at start.
    imds_port_file = os.path.join(T, "imds.port")
    start([sys.executable, os.path.join(SRCDIR, "tests", "imds_emulator.py"),
           "--port-file", imds_port_file, "--set",
           json.dumps({"region": REGION, "role": None})],
          log=os.path.join(T, "imds.log"))
    if not wait_for(lambda: os.path.getsize(imds_port_file) > 0, 10):
        bail("imds_emulator.py did not start")
    with open(imds_port_file) as f:
        imds = "http://127.0.0.1:%d" % int(f.read().split()[-1])

    def imds_serve(iid):
        req = urllib.request.Request(
            imds + "/_control", data=json.dumps({"instance_id": iid}).encode(),
            method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).read()

    agent_env = {k: v for k, v in os.environ.items()
                 if k != "AWS_EC2_METADATA_DISABLED"}
    agent_env.update({
        "AWS_ENDPOINT_URL": moto,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds,
        "AWS_ACCESS_KEY_ID": agent_keys[0],
        "AWS_SECRET_ACCESS_KEY": agent_keys[1],
    })

    class Agent:
        def __init__(self, name, iid, dry_run=False, restart=None,
                     cloudwatch=False, state=None):
            self.name = name
            self.sock = os.path.join(T, name + ".sock")
            self.log = os.path.join(T, name + ".log")
            self.broken = os.path.join(T, name + ".broken")
            self.dbdown = os.path.join(T, name + ".dbdown")
            state = state or os.path.join(T, "state-" + name)
            restart_line = ""
            if restart:
                restart_line = "restart_command = %s; restart_attempts = 1;" \
                    % json.dumps(restart)
            conf = """
health: {{ listen = "127.0.0.1:{port}"; start_grace = 0; drain_seconds = 0; }};
agent: {{ socket = "{sock}"; log_level = "debug"; state_dir = "{state}";
          sample_interval = 0.2; }};
aws: {{ region = "{region}"; timeout = 5; }};
cloudwatch: {{ enabled = {cw}; interval = 1; storage_resolution = 1;
               metrics = ["self_eviction_refused"]; }};
autoscaling: {{ set_instance_health = true; confirm_seconds = 1;
                recheck_interval = 1; dry_run = {dry};
                max_unhealthy_percent = 30; min_healthy_instances = 1;
                {restart} }};
checks = (
  {{ name = "app"; type = "exec"; interval = 0.2; timeout = 0.2; fall = 1;
     rise = 1; command = ["/bin/sh", "-c", "test ! -e {broken}"]; }},
  {{ name = "db"; type = "exec"; scope = "dependency"; interval = 0.2;
     timeout = 0.2; fall = 1; rise = 1;
     command = ["/bin/sh", "-c", "test ! -e {dbdown}"]; }} );
""".format(port=free_port(), sock=self.sock, state=state, region=REGION,
           cw="true" if cloudwatch else "false",
           dry="true" if dry_run else "false", restart=restart_line,
           broken=self.broken, dbdown=self.dbdown)
            self.conf = os.path.join(T, name + ".conf")
            with open(self.conf, "w") as f:
                f.write(conf)
            imds_serve(iid)
            self.proc = start([HEALTHAGENT, "run", "-f", self.conf],
                              env=agent_env, log=self.log)
            if not wait_for(lambda: os.path.exists(self.sock) or
                            self.proc.poll() is not None, 10) or \
                    self.proc.poll() is not None:
                ok(False, "agent %s started" % name, self.logtext())
                raise RuntimeError("agent %s did not start" % name)

        def status(self):
            r = subprocess.run([HEALTHAGENT, "status", "--json", "-s",
                                self.sock], capture_output=True, timeout=5)
            return json.loads(r.stdout)

        def asg(self):
            return self.status().get("autoscaling") or {}

        def logtext(self):
            with open(self.log, errors="replace") as f:
                return f.read()

        def stop(self):
            alive = self.proc.poll() is None
            if alive:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            return alive

    def touch(path):
        open(path, "w").close()

    # 1. Dependency-only failure, then a local failure, on web[0].
    a = Agent("a", web[0])
    g = wait_for(lambda: a.asg().get("group") == "web", 20)
    ok(g, "agent found its group web through DescribeAutoScalingInstances",
       a.logtext())
    ok(a.asg().get("eviction") == "armed", "self-eviction is armed",
       json.dumps(a.asg()))
    touch(a.dbdown)
    ok(wait_for(lambda: a.status()["state"] == "degraded", 10),
       "a failing dependency makes the agent degraded", a.logtext())
    time.sleep(2.5)  # well past confirm_seconds
    st = a.asg()
    ok(st.get("episode", {}).get("state") == "none" and
       st.get("last_action") is None,
       "a dependency failure starts no episode", json.dumps(st))
    ok(health_of(web[0]) == "HEALTHY", "no SetInstanceHealth for it")
    touch(a.broken)
    ok(wait_for(lambda: health_of(web[0]) == "UNHEALTHY", 15),
       "a local failure: moto shows the IMDS instance id Unhealthy",
       a.logtext())
    st = wait_for(lambda: a.asg() if a.asg().get("evicted_this_boot")
                  else None, 5) or a.asg()
    ok((st.get("last_action") or {}).get("result") == "accepted",
       "status: SetInstanceHealth accepted", json.dumps(st))
    ok(all(health_of(i) == "HEALTHY" for i in web[1:]),
       "the other instances are untouched")
    rec = os.path.join(T, "state-a", "eviction")
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    ok(os.path.exists(rec) and ("boot_id=" + boot) in open(rec).read(),
       "the eviction is recorded with this boot id")
    ok(a.stop(), "the agent kept running")

    # 2. Restarted in the same boot, still failing: no second call.
    asg.set_instance_health(InstanceId=web[0], HealthStatus="Healthy")
    a2 = Agent("a2", web[0], state=os.path.join(T, "state-a"))
    touch(a2.broken)
    ok(wait_for(lambda: a2.asg().get("group") == "web", 20),
       "restarted agent found its group", a2.logtext())
    time.sleep(3)
    st = a2.asg()
    ok(st.get("evicted_this_boot") is True and
       st.get("eviction") == "done: evicted earlier this boot",
       "the restarted agent knows it evicted this boot", json.dumps(st))
    ok(health_of(web[0]) == "HEALTHY",
       "and does not call SetInstanceHealth again")
    a2.stop()

    # 3. A group already 50% unhealthy: refusal, no call; then recovery.
    for iid in half[:2]:
        asg.set_instance_health(InstanceId=iid, HealthStatus="Unhealthy")
    c = Agent("c", half[2], cloudwatch=True)
    touch(c.broken)
    st = wait_for(lambda: c.asg() if c.asg().get("refusals", 0) >= 2
                  else None, 20) or c.asg()
    why = (st.get("last_refusal") or {}).get("why", "")
    ok("2 of 4 instances (50%)" in why and "max_unhealthy_percent" in why,
       "refused: %s" % why, c.logtext())
    ok(st.get("refusals", 0) >= 2,
       "the refusal is re-evaluated after recheck_interval")
    ok(health_of(half[2]) == "HEALTHY", "no SetInstanceHealth was made")
    ok("refusing to self-evict: 2 of 4 instances (50%)" in c.logtext(),
       "the refusal is logged")

    def refused_metric():
        m = cw.list_metrics(Namespace="HealthAgent",
                            MetricName="self_eviction_refused")["Metrics"]
        return m
    ok(wait_for(refused_metric, 15, 0.5),
       "self_eviction_refused reached CloudWatch", c.logtext())
    for iid in half[:2]:
        asg.set_instance_health(InstanceId=iid, HealthStatus="Healthy")
    ok(wait_for(lambda: health_of(half[2]) == "UNHEALTHY", 15),
       "once the group is healthy again, the re-evaluation evicts",
       c.logtext())
    ok(c.stop(), "the agent kept running")

    # 4. dry_run: the exact call is logged, nothing is called.
    d = Agent("d", web[1], dry_run=True)
    touch(d.broken)
    want = ("dry run: would call SetInstanceHealth InstanceId=%s "
            "HealthStatus=Unhealthy ShouldRespectGracePeriod=false"
            % web[1])
    ok(wait_for(lambda: want in d.logtext(), 15),
       "dry run logs the exact call", d.logtext())
    st = d.asg()
    ok((st.get("last_action") or {}).get("result", "")
       .startswith("dry run: not called"), "status shows the dry run",
       json.dumps(st))
    time.sleep(1)
    ok(health_of(web[1]) == "HEALTHY", "dry run calls nothing")
    ok(not os.path.exists(os.path.join(T, "state-d", "eviction")),
       "dry run writes no eviction record")
    d.stop()

    # 5. restart_command repairs the fault: no eviction.
    e = Agent("e", web[2], restart=["/bin/rm", "-f",
                                    os.path.join(T, "e.broken")])
    ok(wait_for(lambda: e.asg().get("group") == "web", 20),
       "agent e found its group", e.logtext())
    touch(e.broken)
    st = wait_for(lambda: e.asg() if e.asg().get("last_restart")
                  else None, 15) or e.asg()
    ok((st.get("last_restart") or {}).get("result") == "exit 0",
       "restart_command ran after confirm_seconds", json.dumps(st))
    ok(wait_for(lambda: e.status()["state"] == "healthy", 10),
       "the restart repaired the application")
    time.sleep(2)
    st = e.asg()
    ok(st.get("episode", {}).get("state") == "none" and
       health_of(web[2]) == "HEALTHY",
       "a repaired fault is not escalated", json.dumps(st))
    ok(e.stop(), "the agent kept running")


try:
    main()
except SystemExit:
    raise
except Exception as exc:  # noqa: BLE001 - report, never hang
    import traceback
    ok(False, "test crashed: %s" % exc, traceback.format_exc())
finally:
    cleanup()
print("1..%d" % tap_n, flush=True)
sys.exit(1 if tap_failed else 0)
