#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""CloudWatch metrics end to end, printing TAP.

The real agent publishes to moto_server (loopback, SigV4 and IAM checked)
through awstest.CwProxy, which verifies the signature of gzipped bodies
itself (moto cannot) and can inject 503s, throttling and dropped
connections. boto3 reads back what arrived: names, dimensions, units and
values (memory within a point of /proc/meminfo). Then CloudWatch "goes
down" for a stretch; afterwards every period must arrive, in order, with
its original timestamp, and nothing is dropped.

Needs: HEALTHAGENT (the built binary), python3 with boto3, moto_server.
"""
import calendar
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, wait_for, datums  # noqa: E402

A.require()

REGION = A.REGION
NAMESPACE = "HATest/CW"
INTERVAL = 5  # high resolution at a 5 s interval: 5 s periods
PERIOD = 5
ASG = "cw-asg"
METRICS = ["cpu_usage_percent", "mem_used_percent", "swap_used_percent",
           "disk_used_percent", "healthy", "check_failed",
           "check_latency_ms", "self_eviction_refused"]
UNITS = {"cpu_usage_percent": "Percent", "mem_used_percent": "Percent",
         "swap_used_percent": "Percent", "disk_used_percent": "Percent",
         "healthy": "Count", "check_failed": "Count",
         "check_latency_ms": "Milliseconds",
         "self_eviction_refused": "Count"}


def meminfo_pct():
    kv = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            kv[k] = int(v.split()[0])
    return 100.0 * (kv["MemTotal"] - kv["MemAvailable"]) / kv["MemTotal"]


class MemSampler(threading.Thread):
    """/proc/meminfo every 0.25 s, to compare with the agent's periods."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = []
        self.stop = False

    def run(self):
        while not self.stop:
            self.samples.append((time.time(), meminfo_pct()))
            time.sleep(0.25)


def main():
    moto = A.Moto()
    users = {
        "agent": moto.user("agent", [
            "cloudwatch:PutMetricData",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeAutoScalingGroups"]),
        "reader": moto.user("reader", [
            "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics"]),
    }
    inst = moto.group(ASG, 1)[0]

    cw = moto.client("cloudwatch", users["reader"])
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch",
       "moto checks signatures (auth is on: %s)" % code)

    proxy = A.CwProxy(moto, [users["agent"]])
    mem = MemSampler()
    mem.start()

    agent = A.Agent("agent", {
        "health": {"drain_seconds": 0},
        "aws": {"region": REGION, "instance_id": inst},
        "cloudwatch": {"namespace": NAMESPACE, "interval": INTERVAL,
                       "storage_resolution": 1},
        "checks": [
            {"name": "up", "type": "exec", "command": ["/bin/true"],
             "interval": 1, "timeout": 0.9},
            {"name": "down", "type": "exec", "command": ["/bin/false"],
             "interval": 1, "timeout": 0.9, "fall": 1,
             "scope": "dependency"}],
    }, A.agent_env(keys=users["agent"], cloudwatch=proxy,
                   autoscaling=moto))
    ok(True, "agent started")

    def status():
        return agent.status()["cloudwatch"]

    def group_series_delivered():
        with proxy.lock:
            return any("AutoScalingGroupName" in d["dims"]
                       for _, f in proxy.delivered for d in datums(f))

    # ---- phase 1: metrics arrive ----
    st = wait_for(lambda: (status()["requests_ok"] >= 2 and
                           group_series_delivered()) and status(), 30, 0.25)
    ok(st is not None, "two publishes, with the group series, within 30 s",
       st)
    if st is None:
        return
    ok(st["namespace"] == NAMESPACE and st["period_s"] == PERIOD,
       "status: namespace and period", st)
    # The group came from DescribeAutoScalingInstances sent straight to
    # moto, so moto checked that call's signature and IAM policy;
    # PutMetricData bodies under 10 KiB (if any) went to moto as signed.
    ok(group_series_delivered(), "moto verified the agent's SigV4: group "
       "lookup answered (%d plain PutMetricData also)" % proxy.plain)
    ok(proxy.gzipped >= 1 and not proxy.bad_sig,
       "gzipped bodies (>= 10 KiB) signed over the compressed bytes "
       "(%d verified)" % proxy.gzipped, proxy.bad_sig[:3])

    lm = cw.list_metrics(Namespace=NAMESPACE)["Metrics"]
    names = sorted({m["MetricName"] for m in lm})
    ok(names == sorted(METRICS), "every metric arrived", names)
    series = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"])
                                             for d in m["Dimensions"])))
              for m in lm}
    want = set()
    for m in METRICS:
        for base in (("InstanceId", inst), ("AutoScalingGroupName", ASG)):
            if m.startswith("check_"):
                for c in ("up", "down"):
                    want.add((m, tuple(sorted([base, ("Check", c)]))))
            else:
                want.add((m, (base,)))
    ok(want <= series, "every series: both dimension sets, per check",
       sorted(want - series))
    ok(series <= want, "no unexpected series", sorted(series - want))

    t_start = time.time() - 300

    def stats(name, dims, st_list=("SampleCount", "Average", "Minimum",
                                   "Maximum", "Sum")):
        r = cw.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=name,
            Dimensions=[{"Name": k, "Value": v} for k, v in dims],
            StartTime=t_start, EndTime=time.time() + 60, Period=PERIOD,
            Statistics=list(st_list))
        return sorted(r["Datapoints"], key=lambda d: d["Timestamp"])

    for m in METRICS:
        dims = [("InstanceId", inst)]
        if m.startswith("check_"):
            dims.append(("Check", "up"))
        dp = stats(m, dims)
        ok(len(dp) > 0 and all(d.get("Unit") == UNITS[m] for d in dp),
           "%s: unit %s" % (m, UNITS[m]), dp[:2])
    dp = stats("mem_used_percent", [("InstanceId", inst)])
    matched = 0
    worst = 0.0
    for d in dp:
        ts = d["Timestamp"].timestamp()
        mine = [v for t, v in mem.samples if ts <= t < ts + PERIOD]
        if len(mine) < 5:
            continue
        matched += 1
        worst = max(worst, abs(d["Average"] - sum(mine) / len(mine)))
    ok(matched >= 1 and worst <= 1.0,
       "mem_used_percent within 1 point of /proc/meminfo "
       "(%d periods, worst %.3f)" % (matched, worst), dp[-3:])
    ok(all(d["SampleCount"] >= 2 for d in dp[1:-1]),
       "mem: several ticks folded per 5 s period",
       [d["SampleCount"] for d in dp])
    dp = stats("cpu_usage_percent", [("InstanceId", inst)])
    ok(all(0 <= d["Minimum"] <= d["Maximum"] <= 100 for d in dp),
       "cpu: within 0..100")
    dp = stats("disk_used_percent", [("InstanceId", inst)])
    sv = os.statvfs("/")
    used = sv.f_blocks - sv.f_bfree  # as df: used / (used + available)
    disk = 100.0 * used / (used + sv.f_bavail)
    ok(len(dp) > 0 and abs(dp[-1]["Average"] - disk) < 2,
       "disk_used_percent as df says (%.2f)" % disk, dp[-1:])
    dp = stats("healthy", [("InstanceId", inst)])
    ok(len(dp) > 0 and dp[-1]["Minimum"] == 1 and dp[-1]["Maximum"] == 1,
       "healthy = 1 (degraded still answers 200)", dp[-2:])
    dp = stats("check_failed", [("InstanceId", inst), ("Check", "down")])
    ok(len(dp) > 0 and all(d["Minimum"] == 1 for d in dp),
       "check_failed{down} = 1", dp[-2:])
    dp = stats("check_failed", [("InstanceId", inst), ("Check", "up")])
    ok(len(dp) > 0 and all(d["Maximum"] == 0 for d in dp),
       "check_failed{up} = 0", dp[-2:])
    dp = stats("check_latency_ms", [("InstanceId", inst), ("Check", "up")])
    ok(len(dp) > 0 and all(0 < d["Average"] < 900 for d in dp),
       "check_latency_ms{up} plausible", dp[-2:])
    dp = stats("self_eviction_refused", [("InstanceId", inst)])
    ok(len(dp) > 0 and all(d["Sum"] == 0 for d in dp),
       "self_eviction_refused = 0", dp[-2:])
    dp = stats("mem_used_percent", [("AutoScalingGroupName", ASG)])
    ok(len(dp) > 0, "group-level mem_used_percent series has data")

    # ---- phase 2: CloudWatch unreachable for a stretch ----
    ok_before = status()["requests_ok"]
    seen_codes = set()
    max_queued = 0
    t_outage = time.time()
    # Each phase outlasts a flush interval plus the retries of one call.
    for mode, secs in (("503", 6), ("throttle", 7), ("drop", 3)):
        proxy.mode = mode
        end = time.monotonic() + secs
        while time.monotonic() < end:
            s = status()
            if s.get("last_error"):
                seen_codes.add(s["last_error"]["code"])
            max_queued = max(max_queued, s["queued"])
            time.sleep(0.25)
    t_restored = time.time()
    proxy.mode = "pass"
    s = status()
    ok(s["requests_failed"] >= 2, "requests failed during the outage (%d)" %
       s["requests_failed"], s)
    ok(seen_codes & {"ServiceUnavailable", "Throttling"},
       "status showed the errors (%s)" % sorted(seen_codes), s)
    ok(s["last_error"] is not None and s["last_error"]["age_ms"] >= 0 and
       s["last_error"]["message"] != "",
       "last_error has code, message and age", s["last_error"])
    ok(max_queued > 20, "data queued during the outage (max %d)" %
       max_queued)
    ok(sum(proxy.injected.values()) >= 3, "faults injected %s" %
       proxy.injected)

    # ---- phase 3: everything arrives afterwards ----
    s = wait_for(lambda: (lambda x: x if x["requests_ok"] > ok_before + 1
                          and x["queued"] < 30 and
                          x["last_success_age_ms"] is not None and
                          x["last_success_age_ms"] <
                          (time.time() - t_restored) * 1000 else None)(
        status()), 25, 0.25)
    ok(s is not None, "the backlog was published after the outage", s)
    s = status()
    ok(s["dropped"] == 0, "nothing dropped", s)

    with proxy.lock:
        delivered = list(proxy.delivered)
    order = []  # period starts of mem_used_percent{InstanceId}, arrival order
    backlog = 0
    for t, f in delivered:
        ts = [d["Timestamp"] for d in datums(f)
              if d["MetricName"] == "mem_used_percent" and
              d["dims"] == {"InstanceId": inst}]
        order.extend(ts)
        if t >= t_restored and len(ts) >= 3:
            backlog += 1
    secs = [calendar.timegm(time.strptime(x, "%Y-%m-%dT%H:%M:%SZ"))
            for x in order]
    ok(all(b > a for a, b in zip(secs, secs[1:])),
       "delivered in order, no duplicates", order)
    gaps = [(order[i], order[i + 1]) for i in range(len(secs) - 1)
            if secs[i + 1] - secs[i] != PERIOD]
    # Contiguous from before the outage to the last period that ended
    # before CloudWatch came back: every outage period arrived.
    ok(len(secs) >= 5 and secs[0] <= t_outage - PERIOD and
       secs[-1] >= t_restored - 2 * PERIOD and not gaps,
       "no period missing across the outage (%d periods, %s .. %s)" %
       (len(secs), order[0] if order else None,
        order[-1] if order else None), gaps)
    ok(backlog >= 1, "a request after the outage carried the queued periods "
       "with their original timestamps")
    ok(all(x.endswith("Z") and len(x) == 20 for x in order),
       "timestamps are ISO-8601 UTC")
    dp = stats("mem_used_percent", [("InstanceId", inst)], ("SampleCount",))
    got = sorted(d["Timestamp"].strftime("%Y-%m-%dT%H:%M:%SZ") for d in dp)
    ok(got == sorted(order), "moto holds every delivered period",
       sorted(set(order) ^ set(got)))
    mem.stop = True

    rc = agent.stop()
    ok(rc == 0, "agent exits cleanly (%s)" % rc)


A.run(main)
