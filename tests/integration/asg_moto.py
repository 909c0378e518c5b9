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
The harness (moto, the emulator, the agent) is tests/integration/awstest.py.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, wait_for  # noqa: E402

A.require()
REGION = A.REGION
T = A.tmpdir()


def main():
    # moto, with signatures and IAM enforced after the admin bootstrap.
    moto = A.Moto()
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch", "moto checks signatures (%s)" % code)

    # The agent's user: only the actions it needs (healthagent.conf(5)).
    # moto evaluates policies against Resource "*" and ignores condition
    # keys, so the resource scoping of the documented policy cannot be
    # expressed here; the action list is the least-privilege one.
    agent_keys = moto.user("agent", [
        "cloudwatch:PutMetricData",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:SetInstanceHealth"])
    asg = moto.client("autoscaling")
    cw = moto.client("cloudwatch")

    web = moto.group("web", 4)
    half = moto.group("half", 4)
    ok(len(web) == 4 and len(half) == 4, "two groups of 4 instances in moto")
    health_of = moto.health_of

    # IMDS: one emulator; each agent reads its instance id at start.
    imds = A.Imds(state={"region": REGION, "role": None})
    agent_env = A.agent_env(imds=imds, endpoint=moto, keys=agent_keys)

    class Agent(A.Agent):
        def __init__(self, name, iid, dry_run=False, restart=None,
                     cloudwatch=False, state=None):
            self.broken = os.path.join(T, name + ".broken")
            self.dbdown = os.path.join(T, name + ".dbdown")
            asc = {"set_instance_health": True, "confirm_seconds": 1,
                   "recheck_interval": 1, "dry_run": dry_run,
                   "max_unhealthy_percent": 30, "min_healthy_instances": 1}
            if restart:
                asc.update(restart_command=restart, restart_attempts=1)
            conf = {
                "health": {"drain_seconds": 0},
                "agent": {"sample_interval": 0.2},
                "aws": {"region": REGION, "timeout": 5},
                "cloudwatch": {"enabled": cloudwatch, "interval": 1,
                               "storage_resolution": 1,
                               "metrics": ["self_eviction_refused"]},
                "autoscaling": asc,
                "checks": [
                    {"name": "app", "type": "exec", "interval": 0.2,
                     "timeout": 0.2, "fall": 1, "rise": 1,
                     "command": ["/bin/sh", "-c",
                                 "test ! -e " + self.broken]},
                    {"name": "db", "type": "exec", "scope": "dependency",
                     "interval": 0.2, "timeout": 0.2, "fall": 1, "rise": 1,
                     "command": ["/bin/sh", "-c",
                                 "test ! -e " + self.dbdown]}],
            }
            imds.control(instance_id=iid)
            super().__init__(name, conf, agent_env, state=state)

        def asg(self):
            return self.section("autoscaling")

        def stop(self):
            """True if it was still running and exits cleanly."""
            alive = self.alive()
            return super().stop(10) == 0 and alive

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
    # With CloudWatch on, the agent reads its group's members and flushes
    # in the slot of its rank by instance id (healthagent.conf(5)).
    rank = sorted(half).index(half[2])
    want_slot = "group rank %d/4" % (rank + 1)
    cws = wait_for(lambda: c.section("cloudwatch") if
                   c.section("cloudwatch").get("flush_slot") == want_slot
                   else None, 15) or c.section("cloudwatch")
    ok(cws.get("flush_slot") == want_slot and
       abs(cws.get("flush_offset_s", -1) - (2 * rank + 1) / 8.0) < 1e-9,
       "flush slot from the group's members: %s at +%s s"
       % (cws.get("flush_slot"), cws.get("flush_offset_s")),
       json.dumps(cws) + c.logtext())
    gm = c.asg().get("group_members") or {}
    ok(gm.get("instances") == 4 and gm.get("rank") == rank + 1 and
       gm.get("error") is None, "status: group_members %s" % json.dumps(gm))
    txt = A.subprocess.run([A.HEALTHAGENT, "status", "-s", c.sock],
                           capture_output=True, text=True,
                           env=c.env).stdout
    ok("flush slot: +%.3f s of each interval (%s)"
       % ((2 * rank + 1) / 8.0, want_slot) in txt,
       "healthagent status shows the flush slot", txt)
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


A.run(main)
