#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Nothing queued is lost at exit, printing TAP.

The real agent publishes to moto_server (loopback, SigV4 and IAM checked)
through awstest.CwProxy with 60 s periods, and is stopped with SIGTERM a
few seconds after start, long before its first flush. The period still
open must be published before the process exits (CloudWatch merges
statistic sets that share a timestamp, so a partial period is correct).
When CloudWatch fails at that moment, the agent waits at most aws.timeout
for it, says how much it could not send, and still exits 0.

Needs: HEALTHAGENT (the built binary), python3 with boto3, moto_server.
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, wait_for, datums  # noqa: E402

A.require()

NAMESPACE = "HATest/ExitFlush"
ASG = "exit-asg"


def healthy_datums(proxy, inst):
    with proxy.lock:
        forms = [f for _, f in proxy.delivered]
    return [d for f in forms for d in datums(f)
            if d.get("MetricName") == "healthy" and
            d["dims"].get("InstanceId") == inst]


def one_check_result(agent):
    st = agent.status()
    return any(c.get("state") in ("up", "down")
               for c in st.get("checks", []))


def main():
    moto = A.Moto()
    agent_keys = moto.user("agent", ["cloudwatch:PutMetricData",
                                     "autoscaling:DescribeAutoScalingInstances",
                                     "autoscaling:DescribeAutoScalingGroups"])
    inst = moto.group(ASG, 1)[0]
    proxy = A.CwProxy(moto, [agent_keys])
    conf = {
        "health": {"drain_seconds": 0},
        "aws": {"region": A.REGION, "instance_id": inst, "timeout": 2,
                "max_attempts": 1},
        "cloudwatch": {"namespace": NAMESPACE, "interval": 60,
                       "storage_resolution": 60},
        "checks": [{"name": "up", "type": "exec",
                    "command": ["/bin/true"], "interval": 0.5,
                    "timeout": 0.4}],
    }
    env = A.agent_env(keys=agent_keys, cloudwatch=proxy, autoscaling=moto)

    # ---- 1: the open period is published at SIGTERM ----
    agent = A.Agent("flush", conf, env)
    ok(wait_for(lambda: one_check_result(agent), 15, 0.2),
       "the check has a result")
    time.sleep(2)
    before = len(healthy_datums(proxy, inst))
    ok(before == 0, "nothing published before the first 60 s flush",
       before)
    t0 = time.monotonic()
    rc = agent.stop()
    took = time.monotonic() - t0
    ok(rc == 0, "SIGTERM: exit 0", rc)
    got = healthy_datums(proxy, inst)
    ok(len(got) >= 1, "the open period was published at exit",
       agent.logtext()[-2000:])
    n = sum(float(d.get("StatisticValues.SampleCount", "0")) for d in got)
    ok(n >= 2, "it carries the samples taken so far (%g)" % n, got)
    log = agent.logtext()
    ok("drain finished; exiting" in log and "not published" not in log
       and "still unsent" not in log,
       "the log says everything was sent", log[-1500:])
    ok(took < 15, "the exit did not wait beyond its bound (%.1f s)" % took)

    # ---- 2: CloudWatch failing at exit: bounded wait, counted, exit 0 --
    proxy.mode = "503"
    agent = A.Agent("fail", conf, env)
    ok(wait_for(lambda: one_check_result(agent), 15, 0.2),
       "second agent: the check has a result")
    t0 = time.monotonic()
    rc = agent.stop()
    took = time.monotonic() - t0
    ok(rc == 0, "SIGTERM with CloudWatch failing: exit 0", rc)
    log = agent.logtext()
    ok("still unsent" in log or "not published at exit" in log,
       "the log says what could not be sent", log[-1500:])
    ok(took < 15, "the wait is bounded by aws.timeout (%.1f s)" % took)
    proxy.mode = "pass"


if __name__ == "__main__":
    A.run(main)
