#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Fault injection: the state directory's filesystem is full, printing TAP.

The only thing the agent writes into agent.state_dir is the eviction
record (state_dir/eviction: boot id, instance, group), right after
SetInstanceHealth Unhealthy was accepted, so that a restarted agent does
not evict the instance a second time in the same boot. Here state_dir is
a 16 KiB tmpfs filled to the last byte when that moment comes:

  - the eviction itself goes through (moto shows the instance Unhealthy);
  - the failure to write the record is a clear error: logged once, and
    shown in status (autoscaling.record_error, and the eviction line says
    the record is NOT saved);
  - the agent keeps running and /health keeps answering;
  - once space is freed the record is written within the retry period
    (5 s), the error clears and the log says so;
  - an agent restarted afterwards reads the record and does not call
    SetInstanceHealth again.

Needs root (for the tmpfs mount), $HEALTHAGENT, moto_server and boto3.
"""

import errno
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_, wait_for  # noqa: E402

A.require()
if os.geteuid() != 0:
    A.bail("fault_disk.py mounts a tmpfs and needs root")
REGION = A.REGION


def fill(d):
    """Fill the filesystem of d: the filler file's size."""
    p = os.path.join(d, "filler")
    n = 0
    with open(p, "wb", buffering=0) as f:
        while True:
            try:
                n += f.write(b"\0" * 1024)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    # Inodes too: tmpfs counts them separately (nr_inodes).
    i = 0
    while True:
        try:
            open(os.path.join(d, "inode%d" % i), "w").close()
            i += 1
        except OSError:
            break
    return n


def unfill(d):
    for name in os.listdir(d):
        if name == "filler" or name.startswith("inode"):
            os.unlink(os.path.join(d, name))


def main():
    state = A.path("state")
    os.mkdir(state)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=16k,nr_inodes=64,mode=0750", "tmpfs", state],
                       capture_output=True, text=True)
    if r.returncode != 0:
        A.bail("cannot mount a tmpfs: %s" % r.stderr.strip())
    try:
        run(state)
    finally:
        subprocess.run(["umount", "-l", state])


def run(state):
    moto = A.Moto()
    keys = moto.user("agent", ["autoscaling:DescribeAutoScalingInstances",
                               "autoscaling:DescribeAutoScalingGroups",
                               "autoscaling:SetInstanceHealth"])
    iids = moto.group("disk", 3)
    broken = A.path("broken")
    conf = {
        "health": {"drain_seconds": 0},
        "agent": {"sample_interval": 0.2, "state_dir": state},
        "aws": {"region": REGION, "instance_id": iids[0], "timeout": 5},
        "cloudwatch": {"enabled": False},
        "autoscaling": {"set_instance_health": True, "confirm_seconds": 1,
                        "recheck_interval": 1, "max_unhealthy_percent": 50,
                        "min_healthy_instances": 1},
        "checks": [{"name": "app", "type": "exec", "interval": 0.2,
                    "timeout": 0.2, "fall": 1, "rise": 1,
                    "command": ["/bin/sh", "-c", "test ! -e " + broken]}],
    }
    env = A.agent_env(endpoint=moto, keys=keys)
    agent = A.Agent("a", conf, env)
    ok(wait_for(lambda: agent.section("autoscaling").get("group") == "disk",
                20), "the agent found its group", agent.logtext())
    n = fill(state)
    st = os.statvfs(state)
    ok(st.f_bavail == 0, "state_dir is full (%d bytes of filler, %d blocks "
       "free)" % (n, st.f_bavail))
    open(broken, "w").close()
    ok(wait_for(lambda: moto.health_of(iids[0]) == "UNHEALTHY", 20),
       "the eviction goes through on a full disk", agent.logtext())
    s = wait_for(lambda: (lambda x: x if x.get("record_error") else None)(
        agent.section("autoscaling")), 10, 0.2) or agent.section(
        "autoscaling")
    err = s.get("record_error") or ""
    ok("No space left on device" in err or "Disk quota" in err,
       "status: record_error says why: %s" % err, json.dumps(s, indent=1))
    ok("NOT saved" in s.get("eviction", ""),
       "status: the eviction line says the record is not saved: %s"
       % s.get("eviction"))
    log = agent.logtext()
    ok("cannot write the eviction record" in log,
       "the failure is logged", log[-2000:])
    time.sleep(6)  # past a retry (every 5 s)
    log = agent.logtext()
    is_(log.count("cannot write the eviction record"), 1,
        "logged once, not at every retry")
    ok(agent.alive(), "the agent keeps running")
    st_code, body = agent.health()
    ok(st_code == 503 and "app" in body or st_code == 503,
       "/health keeps answering (503: the local check is down)")
    ok(not os.path.exists(os.path.join(state, "eviction")),
       "no record on the full disk")
    ok(not [x for x in os.listdir(state) if x.startswith(".eviction")],
       "no temporary file left behind")

    unfill(state)
    t0 = time.time()
    s = wait_for(lambda: (lambda x: x if x.get("record_error") is None and
                          "record_error" in x else None)(
        agent.section("autoscaling")), 10, 0.2)
    ok(s is not None, "space freed: the error clears (%.1f s)"
       % (time.time() - t0), json.dumps(agent.section("autoscaling")))
    rec = A.read(os.path.join(state, "eviction"))
    ok("boot_id=" in rec and "instance_id=" + iids[0] in rec,
       "the record is written", rec)
    ok("written at last" in agent.logtext(), "the recovery is logged")
    ok(agent.stop() == 0, "the agent exits cleanly")

    # A restart in the same boot reads the record.
    moto.client("autoscaling").set_instance_health(
        InstanceId=iids[0], HealthStatus="Healthy")
    agent2 = A.Agent("b", conf, env)
    s = wait_for(lambda: (lambda x: x if x.get("evicted_this_boot")
                          else None)(agent2.section("autoscaling")), 10)
    ok(s is not None, "a restarted agent knows it evicted this boot",
       json.dumps(agent2.section("autoscaling")))
    time.sleep(3)
    is_(moto.health_of(iids[0]), "HEALTHY",
        "and does not call SetInstanceHealth again")
    ok(agent2.stop() == 0, "the second agent exits cleanly")


A.run(main)
