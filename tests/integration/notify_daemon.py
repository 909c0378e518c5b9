#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""SNS notifications and Elastic IP association through the real daemon,
printing TAP.

The real healthagent runs against moto_server on 127.0.0.1 (signature and
IAM checking on) and tests/imds_emulator.py, which serves the id of an
instance created in moto, with notify.sns_topic_arn and eip.allocation_id
set and one http check against the fake app ($FAKEAPP). The topic has an
SQS subscription, so boto3 reads the notifications back from the queue:

  - once the verdict is healthy the address is associated with the
    instance IMDS served (DescribeAddresses);
  - `healthagent drain` publishes a drain_start message (instance_id,
    availability_zone, reason, time); `healthagent undrain` ends it;
  - the app fails (fall reached: unhealthy) and recovers: a "recovered"
    message arrives naming the check or the reason.

Needs HEALTHAGENT, FAKEAPP, python3 with boto3, moto_server. Nothing
leaves loopback.
"""
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_  # noqa: E402

A.require()
FAKEAPP = os.environ.get("FAKEAPP") or os.path.join(A.BUILDDIR, "tests",
                                                    "fakeapp")
if not os.access(FAKEAPP, os.X_OK):
    A.bail("FAKEAPP must point at the built tests/fakeapp")

AZ = "us-east-1c"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def main():
    moto = A.Moto()
    keys = moto.user("agent", ["sns:Publish", "ec2:AssociateAddress",
                               "autoscaling:DescribeAutoScalingInstances"])
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch", "moto checks signatures (%s)" % code)
    ec2 = moto.client("ec2")
    sns = moto.client("sns")
    sqs = moto.client("sqs")

    ami = ec2.describe_images()["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=ami, InstanceType="t3.micro",
                            MinCount=1, MaxCount=1)["Instances"][0][
                                "InstanceId"]
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    arn = sns.create_topic(Name="fleet-events")["TopicArn"]
    qurl = sqs.create_queue(QueueName="fleet-events-q")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=[
        "QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)

    imds = A.Imds(state={"instance_id": iid, "region": A.REGION,
                         "availability_zone": AZ, "role": None})

    aport = A.free_port()
    A.spawn([FAKEAPP, "--port", str(aport), "--pidfile",
             A.path("app.pid")], env=A.clean_env(), log=A.path("fakeapp.log"),
            label="fakeapp log", tail=20)
    app = "http://127.0.0.1:%d" % aport
    if not A.wait_for(lambda: A.http_req(app + "/healthz", timeout=1)[0]
                      == 200, 10):
        A.bail("the fake app did not start")

    env = A.agent_env(imds=imds, endpoint=moto, keys=keys)
    agent = A.Agent("nd", {
        "health": {"drain_seconds": 0},
        "agent": {"sample_interval": 0.2},
        "aws": {"max_attempts": 1, "timeout": 5},
        "cloudwatch": {"enabled": False},
        "notify": {"sns_topic_arn": arn},
        "eip": {"allocation_id": alloc},
        "checks": [{"name": "web", "type": "http",
                    "url": app + "/healthz", "interval": 0.2,
                    "timeout": 0.2, "rise": 2, "fall": 3}],
    }, env)

    def address():
        return ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]

    messages = []

    def poll_queue():
        r = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10,
                                WaitTimeSeconds=1)
        for m in r.get("Messages", []):
            sqs.delete_message(QueueUrl=qurl,
                               ReceiptHandle=m["ReceiptHandle"])
            env_ = json.loads(m["Body"])
            try:
                env_["msg"] = json.loads(env_["Message"])
            except (KeyError, ValueError):
                env_["msg"] = {}
            messages.append(env_)

    def wait_event(kind, timeout=15):
        def found():
            for e in messages:
                if e["msg"].get("event") == kind:
                    return e
            poll_queue()
            return None
        return A.wait_for(found, timeout, 0.05)

    def cli(cmd):
        return subprocess.run([A.HEALTHAGENT, cmd, "-s", agent.sock],
                              capture_output=True, text=True, timeout=10,
                              env=env)

    # 1. Healthy: the address goes to the instance IMDS served.
    ok(A.wait_for(lambda: agent.health()[0] == 200, 15),
       "the agent becomes healthy", agent.logtext())
    got = A.wait_for(lambda: address().get("InstanceId") == iid, 15, 0.3)
    ok(got, "DescribeAddresses: the EIP is on the instance IMDS served (%s)"
       % iid, json.dumps(address(), default=str))
    ok(address().get("AssociationId"), "and it has an association id")

    # 2. Drain by hand: drain_start.
    r = cli("drain")
    ok(r.returncode == 0, "healthagent drain", r.stdout + r.stderr)
    e = wait_event("drain_start")
    if ok(e is not None, "a drain_start message arrived in the SQS queue",
          json.dumps([m["msg"] for m in messages])):
        m = e["msg"]
        is_(e.get("TopicArn"), arn, "drain_start: from the topic")
        is_(m.get("instance_id"), iid, "drain_start: instance_id")
        is_(m.get("availability_zone"), AZ,
            "drain_start: availability_zone")
        ok(m.get("reason"), "drain_start: a reason (%r)" % m.get("reason"))
        ok(ISO.match(m.get("time") or ""), "drain_start: an ISO-8601 time "
           "(%r)" % m.get("time"))
    ok(A.wait_for(lambda: agent.health()[0] == 503, 5),
       "the endpoint answers 503 while drained")
    r = cli("undrain")
    ok(r.returncode == 0, "healthagent undrain", r.stdout + r.stderr)
    ok(A.wait_for(lambda: agent.health()[0] == 200, 10),
       "healthy again after undrain")

    # 3. Fail (fall 3 at 0.2 s), then recover. Nothing failed so far: a
    #    "recovered" before this (the start-up "no result yet" state with
    #    start_grace 0 is no unhealthy episode) would be spurious.
    poll_queue()
    early = [m["msg"] for m in messages
             if m["msg"].get("event") == "recovered"]
    ok(not early, "no recovered message before anything failed",
       json.dumps(early))
    del messages[:]
    A.http_req(app + "/control/fail")
    ok(A.wait_for(lambda: "healthy -> unhealthy: web" in agent.logtext(),
                  10) and agent.health()[0] == 503,
       "unhealthy once the app fails (fall reached)", agent.logtext())
    time.sleep(1.0)
    A.http_req(app + "/control/ok")
    ok(A.wait_for(lambda: agent.health()[0] == 200, 10),
       "healthy again once the app recovers")
    e = wait_event("recovered")
    if ok(e is not None, "a recovered message arrived in the SQS queue",
          json.dumps([m["msg"] for m in messages])):
        m = e["msg"]
        is_(m.get("instance_id"), iid, "recovered: instance_id")
        text = json.dumps(m)
        ok("web" in text or "healthy again" in (m.get("reason") or ""),
           "recovered: names the check or the reason (%r)"
           % m.get("reason"), text)
    ok(agent.alive(), "the agent is still running")
    is_(agent.stop(), 0, "the agent exits 0 on SIGTERM")


A.run(main)
