#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""SNS notifications end to end, printing TAP.

The notifier (src/notify.c) runs in tests/notify_driver (the daemon's
configuration loader, IMDS client, credential chain and Query client, and a
real health state machine with one failing local check) against moto_server
on 127.0.0.1 with signature and IAM checking on, and against
tests/imds_emulator.py for its identity. A topic with an SQS subscription is
created with boto3, and the messages are read back from the queue:

  - all four events arrive, queued before the identity was known, with
    the documented Subject and every documented Message field, signed by
    a user that may only do sns:Publish (moto checks the action as
    "sns:Publish", the IAM spelling; no second spelling is needed);
  - the endpoint from aws.sns_endpoint in the config file works like
    AWS_ENDPOINT_URL_SNS;
  - a topic that does not exist yet: the publish fails (NotFound), is
    retried with backoff across calls, and arrives once the topic exists;
  - a user without sns:Publish: every attempt fails and is counted, the
    message stays queued, nothing is dropped.

Needs NOTIFY_DRIVER or top_builddir (tests/notify_driver), python3 with
boto3, moto_server. Nothing leaves loopback.
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

A.require(healthagent=False)
DRIVER = os.environ.get("NOTIFY_DRIVER") or os.path.join(
    A.BUILDDIR, "tests", "notify_driver")
if not os.access(DRIVER, os.X_OK):
    A.bail("the test driver %s is not built" % DRIVER)

INSTANCE = "i-0feedc0ffee123456"
AZ = "us-east-1b"
GROUP = "web-asg"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = ["event", "event_id", "instance_id", "group", "availability_zone",
          "region", "reason", "state", "state_reason", "state_since",
          "failing_checks", "time", "agent", "agent_version"]


def main():
    moto = A.Moto()
    pub = moto.user("notifier", ["sns:Publish"])
    nopub = moto.user("mute", ["sns:ListTopics"])
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch", "moto checks signatures (%s)" % code)
    sns = moto.client("sns")
    sqs = moto.client("sqs")
    imds = A.Imds(state={"instance_id": INSTANCE, "region": A.REGION,
                         "availability_zone": AZ, "role": None})

    def topic_with_queue(name):
        """A topic and an SQS queue subscribed to it: (topic ARN, queue
        URL)."""
        arn = sns.create_topic(Name=name)["TopicArn"]
        url = sqs.create_queue(QueueName=name + "-q")["QueueUrl"]
        qarn = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        return arn, url

    def drain_queue(url, want, timeout=15):
        """Up to want SNS envelopes (dicts) from the queue."""
        got = []
        end = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < end:
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                    WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                got.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url,
                                   ReceiptHandle=m["ReceiptHandle"])
        return got

    def write_conf(name, arn, endpoint_in_conf):
        text = "aws = { max_attempts = 1; timeout = 5; %s};\n" \
               "notify = { sns_topic_arn = \"%s\"; };\n" % (
                   "sns_endpoint = \"%s\"; " % moto.url
                   if endpoint_in_conf else "", arn)
        p = A.path(name + ".conf")
        with open(p, "w") as f:
            f.write(text)
        return p

    def driver_env(keys, endpoint_in_env=True):
        extra = {"NOTIFY_DRIVER_DEBUG": "1"}
        if endpoint_in_env:
            extra["AWS_ENDPOINT_URL_SNS"] = moto.url
        return A.agent_env(imds=imds, keys=keys, extra=extra)

    def drive(conf, keys, events, limit=20, endpoint_in_env=True,
              background=False):
        argv = [DRIVER, "-f", conf, "-g", GROUP, "-t", str(limit)] + events
        env = driver_env(keys, endpoint_in_env)
        if background:
            return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        p = subprocess.run(argv, env=env, capture_output=True, text=True,
                           timeout=limit + 30)
        return result(p.returncode, p.stdout, p.stderr)

    def result(rc, out, err):
        try:
            st = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            st = {}
        return {"rc": rc, "status": st, "log": out + err}

    # 1. Four events, endpoint from AWS_ENDPOINT_URL_SNS.
    arn, qurl = topic_with_queue("fleet-events")
    events = [("self_eviction", "app: exit 1 for 60 s"),
              ("eviction_refused", "2 of 4 instances (50%) are already "
               "out of service (max_unhealthy_percent 30)"),
              ("drain_start", "spot interruption notice: terminate"),
              ("recovered", "healthy again after 75 s")]
    t0 = time.time()
    r = drive(write_conf("a", arn, False), pub,
              ["%s:%s" % e for e in events])
    st = r["status"]
    ok(r["rc"] == 0, "driver: all four messages published", r["log"])
    ok(st.get("sent") == 4 and st.get("failed") == 0 and
       st.get("dropped") == 0 and st.get("queued") == 0,
       "status counts: sent 4, failed 0, dropped 0", json.dumps(st))
    ok((st.get("last_sent") or {}).get("message_id"),
       "status: the SNS MessageId of the last message", json.dumps(st))
    msgs = drain_queue(qurl, 4)
    is_(len(msgs), 4, "four notifications arrived in the SQS queue")
    by_event = {}
    for env in msgs:
        try:
            by_event[json.loads(env["Message"])["event"]] = env
        except (ValueError, KeyError):
            pass
    is_(sorted(by_event), sorted(e for e, _ in events),
        "one message per event kind")
    subjects = {
        "self_eviction": "healthagent: %s unhealthy, self-eviction in %s"
                         % (INSTANCE, GROUP),
        "eviction_refused": "healthagent: %s unhealthy, self-eviction "
                            "refused in %s" % (INSTANCE, GROUP),
        "drain_start": "healthagent: %s draining in %s" % (INSTANCE, GROUP),
        "recovered": "healthagent: %s recovered in %s" % (INSTANCE, GROUP),
    }
    ids = set()
    for kind, reason in events:
        env = by_event.get(kind)
        if not ok(env is not None, "%s: arrived" % kind):
            continue
        is_(env.get("Type"), "Notification", "%s: an SNS notification" % kind)
        is_(env.get("TopicArn"), arn, "%s: from the topic" % kind)
        subj = env.get("Subject", "")
        is_(subj, subjects[kind], "%s: Subject" % kind)
        ok(len(subj) < 100 and subj.isascii() and "\n" not in subj,
           "%s: Subject is ASCII, one line, < 100 characters" % kind)
        m = json.loads(env["Message"])
        is_(list(m), FIELDS, "%s: every documented field, in order" % kind)
        is_(m.get("instance_id"), INSTANCE,
            "%s: instance_id from IMDS (filled in after queueing)" % kind)
        is_(m.get("group"), GROUP, "%s: group" % kind)
        is_(m.get("availability_zone"), AZ, "%s: availability_zone" % kind)
        is_(m.get("region"), A.REGION, "%s: region" % kind)
        is_(m.get("reason"), reason, "%s: reason" % kind)
        is_(m.get("state"), "unhealthy", "%s: state" % kind)
        is_(m.get("state_reason"), "app: exit 1", "%s: state_reason" % kind)
        fc = m.get("failing_checks") or [{}]
        is_((len(m.get("failing_checks") or []), fc[0].get("name"),
             fc[0].get("scope"), fc[0].get("state"), fc[0].get("reason"),
             fc[0].get("detail")),
            (1, "app", "local", "down", "exit", "exit 1"),
            "%s: failing_checks" % kind)
        ok(ISO.match(m.get("time") or "") and
           ISO.match(m.get("state_since") or "") and
           ISO.match(fc[0].get("since") or ""),
           "%s: ISO-8601 UTC times" % kind, json.dumps(m))
        try:
            when = time.mktime(time.strptime(m["time"][:19],
                                             "%Y-%m-%dT%H:%M:%S")) - \
                time.timezone
        except (KeyError, ValueError):
            when = 0
        ok(t0 - 5 <= when <= time.time() + 5,
           "%s: time is when the event happened" % kind, m.get("time"))
        is_((m.get("agent"), bool(re.match(r"^\d+\.\d+", m.get(
            "agent_version") or ""))), ("healthagent", True),
            "%s: agent and version" % kind)
        ok(re.match(r"^[0-9a-f]{32}$", m.get("event_id") or ""),
           "%s: event_id" % kind)
        ids.add(m.get("event_id"))
    is_(len(ids), 4, "event ids are unique")

    # 2. The endpoint from aws.sns_endpoint in the configuration.
    r = drive(write_conf("b", arn, True), pub, ["drain_start:by hand"],
              endpoint_in_env=False)
    ok(r["rc"] == 0 and r["status"].get("sent") == 1,
       "aws.sns_endpoint from the config file is used", r["log"])
    msgs = drain_queue(qurl, 1)
    ok(len(msgs) == 1 and json.loads(msgs[0]["Message"])["reason"] ==
       "by hand", "and the message arrives")

    # 3. The topic does not exist yet: retried across calls until it does.
    late = "arn:aws:sns:%s:%s:late-topic" % (A.REGION, A.ACCOUNT)
    p = drive(write_conf("c", late, False), pub,
              ["self_eviction:late topic"], limit=30, background=True)
    time.sleep(2.5)
    ok(p.poll() is None, "no topic: the driver keeps retrying")
    _, lurl = topic_with_queue("late-topic")
    try:
        out, err = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    r = result(p.returncode, out, err)
    st = r["status"]
    ok(r["rc"] == 0 and st.get("sent") == 1,
       "published once the topic exists", r["log"])
    ok(st.get("failed", 0) >= 2,
       "the failed attempts were counted (%s)" % st.get("failed"),
       json.dumps(st))
    is_((st.get("last_error") or {}).get("code"), "NotFound",
        "the last error was SNS NotFound")
    ok("failed: NotFound" in r["log"] and "retrying" in r["log"],
       "the failure was logged with the retry", r["log"])
    msgs = drain_queue(lurl, 1)
    ok(len(msgs) == 1 and json.loads(msgs[0]["Message"])["reason"] ==
       "late topic", "the retried message arrives")

    # 4. No permission: counted failures, the message stays queued.
    r = drive(write_conf("d", arn, False), nopub, ["recovered:denied"],
              limit=4)
    st = r["status"]
    ok(r["rc"] == 1 and st.get("sent") == 0 and st.get("queued") == 1 and
       st.get("dropped") == 0,
       "without sns:Publish nothing is sent and nothing dropped",
       json.dumps(st))
    ok(st.get("failed", 0) >= 2, "every attempt is counted (%s)"
       % st.get("failed"))
    code = (st.get("last_error") or {}).get("code")
    ok(code in ("AuthorizationError", "AccessDenied"),
       "the error says permission (%s)" % code, json.dumps(st))
    ok(not drain_queue(qurl, 1, timeout=2), "and nothing arrived")


A.run(main)
