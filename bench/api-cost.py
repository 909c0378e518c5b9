#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""CloudWatch API cost, measured against moto_server on loopback.

1. One agent with the default cloudwatch settings and the checks of the
   shipped etc/healthagent.conf (memory and disk thresholds) publishes,
   beside the fleet below and over the same whole minutes, through a
   counting proxy: PutMetricData requests per hour,
   datums per request, bytes per request as sent (raw, or gzip when the
   agent compressed) and what gzip would make of each raw body; the
   custom metric count (distinct name + dimensions) against
   "healthagent checkconf" and the monthly cost at list price.
2. Two fleets of --fleet N agents (default 200) each, run at the same
   time on this host, started together (a fleet-wide restart), no
   checks, the default 60 s interval, all against one moto through the
   counting proxy; each fleet is one moto Auto Scaling group of N
   instances whose ids the agents use (aws.instance_id and
   aws.autoscaling_group set, no IMDS):
     "hash": the agents cannot reach Auto Scaling, so each flushes at
             the FNV-1a hash of its instance id (the fallback);
     "rank": the agents read their group's instance list
             (DescribeAutoScalingGroups, counted) and flush in the slot
             of their rank by id.
   After a warm-up long enough for the first read (at most 60 s) and one
   more flush (a new slot applies from the flush after the next), whole
   minutes of arrivals per 1-s, 5-s and 10-s bucket, peak vs mean, per
   fleet; and for the rank fleet, how far each arrival is from its slot.

usage: bench/api-cost.py BUILD_DIR OUT_DIR [--fleet N] [--fleet-minutes M]
"""
import argparse
import gzip
import hashlib
import http.client
import http.server
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.append(os.path.join(TOP, "tests", "integration"))
import awstest as A  # noqa: E402

# List prices (us-east-1): custom metrics $0.30 per metric-month for the
# first 10,000; PutMetricData $0.01 per 1,000 requests.
PRICE_METRIC = 0.30
PRICE_PER_1K_REQ = 0.01


class Counter:
    """A proxy in front of CwProxy recording every request: arrival time,
    action, bytes on the wire, Content-Encoding, raw body length."""

    def __init__(self, upstream_port):
        self.log = []
        self.lock = threading.Lock()
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                t = time.time()
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                enc = self.headers.get("Content-Encoding", "")
                raw = gzip.decompress(body) if "gzip" in enc else body
                form = dict(urllib.parse.parse_qsl(raw.decode()))
                hdr_bytes = len(str(self.headers).encode()) + len(
                    self.requestline) + 2
                c = http.client.HTTPConnection("127.0.0.1", upstream_port,
                                               timeout=60)
                c.putrequest("POST", self.path, skip_host=True,
                             skip_accept_encoding=True)
                for k, v in self.headers.items():
                    c.putheader(k, v)
                c.endheaders(body)
                r = c.getresponse()
                data = r.read()
                c.close()
                with me.lock:
                    me.log.append({
                        "t": t, "action": form.get("Action"),
                        "wire": len(body), "headers": hdr_bytes,
                        "gzip": "gzip" in enc, "raw": len(raw),
                        "raw_gz": len(gzip.compress(raw)),
                        "status": r.status, "form": form})
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection",
                                         "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.srv.handle_error = lambda *a: None
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def puts(self, since=0.0):
        return self.calls("PutMetricData", since)

    def calls(self, action, since=0.0):
        with self.lock:
            return [e for e in self.log if e["action"] == action
                    and e["t"] >= since]


def metric_keys(form):
    keys = set()
    for d in A.datums(form):
        keys.add((d.get("MetricName"),
                  tuple(sorted(d["dims"].items()))))
    return keys


def iid(i):
    return "i-0%016x" % int(hashlib.sha256(b"bench%d" % i).hexdigest()[:16],
                            16)


def single_start(env):
    """The default config's agent; returns (process, checkconf line)."""
    text = open(os.path.join(TOP, "etc", "healthagent.conf")).read()
    conf = A.path("default.conf")
    d = A.path("single")
    os.makedirs(d, exist_ok=True)
    # The shipped file, with only the paths and identity of this run:
    # listen, socket, state_dir, region, instance id and group.
    text = text.replace('listen = "0.0.0.0:8099";',
                        'listen = "127.0.0.1:%d";' % A.free_port())
    text = text.replace('# socket = "/run/healthagent/healthagent.sock";',
                        'socket = "%s/a.sock";' % d)
    text = text.replace('state_dir = "/var/lib/healthagent";',
                        'state_dir = "%s";' % d)
    text = text.replace('region = "";', 'region = "%s";' % A.REGION, 1)
    text = text.replace('instance_id = "";',
                        'instance_id = "%s";' % iid(0), 1)
    text = text.replace('autoscaling_group = "";',
                        'autoscaling_group = "bench-asg";', 1)
    with open(conf, "w") as f:
        f.write(text)
    cc = subprocess.run([A.HEALTHAGENT, "checkconf", "-f", conf],
                        capture_output=True, text=True, env=env)
    checkconf = (cc.stdout + cc.stderr).strip().splitlines()[-1]
    p = A.spawn([A.HEALTHAGENT, "run", "-f", conf], env=env,
                log=os.path.join(d, "agent.log"))
    return p, checkconf


def single_result(proxy, t0, t1, checkconf):
    """The default config's cost, from its requests in [t0, t1)."""
    minutes = (t1 - t0) / 60.0
    puts = [e for e in proxy.puts(t0) if e["t"] < t1 and
            iid(0) in e["form"].values()]
    keys = set()
    for e in puts:
        keys |= metric_keys(e["form"])
    # Flushes: requests grouped by the second they arrived in.
    flushes = sorted({int(e["t"]) for e in puts})
    per_flush = len(puts) / max(1, len(flushes))
    per_hour = per_flush * 3600 / 60.0
    ndatums = [len(A.datums(e["form"])) for e in puts]
    res = {
        "minutes": minutes, "requests": len(puts),
        "flushes": len(flushes), "requests_per_flush": per_flush,
        "requests_per_hour": per_hour,
        "datums_per_request": statistics.median(ndatums) if ndatums else 0,
        "raw_bytes": statistics.median([e["raw"] for e in puts])
        if puts else 0,
        "wire_bytes": statistics.median([e["wire"] for e in puts])
        if puts else 0,
        "gzip_bytes": statistics.median([e["raw_gz"] for e in puts])
        if puts else 0,
        "header_bytes": statistics.median([e["headers"] for e in puts])
        if puts else 0,
        "sent_gzipped": sum(1 for e in puts if e["gzip"]),
        "metrics": len(keys), "checkconf": checkconf,
    }
    req_month = per_hour * 730
    res["cost_metrics"] = len(keys) * PRICE_METRIC
    res["cost_requests"] = req_month / 1000 * PRICE_PER_1K_REQ
    res["cost_month"] = res["cost_metrics"] + res["cost_requests"]
    return res


def form_iid(form):
    """The InstanceId dimension of a PutMetricData form, or None."""
    for d in A.datums(form):
        if "InstanceId" in d["dims"]:
            return d["dims"]["InstanceId"]
    return None


def buckets(times, t0, minutes):
    out = {}
    for b in (1, 5, 10):
        nb = int(minutes * 60 / b)
        cnt = [0] * nb
        for t in times:
            k = int((t - t0) // b)
            if 0 <= k < nb:
                cnt[k] += 1
        mean = len(times) / nb
        out["b%d" % b] = {"mean": mean, "peak": max(cnt),
                          "ratio": max(cnt) / mean if mean else 0,
                          "counts": cnt}
    return out


def slot_of(agent, timeout=5):
    try:
        r = subprocess.run([A.HEALTHAGENT, "status", "--json", "-s",
                            agent.sock], capture_output=True, timeout=timeout,
                           env=agent.env)
        return (json.loads(r.stdout).get("cloudwatch") or {}).get(
            "flush_slot") or "none"
    except Exception:  # noqa: BLE001 - a dead or busy agent
        return "unreachable"


def fleet(moto, keys, proxy, asproxy, n, minutes, warmup):
    """Both fleets at once; per fleet: buckets over whole minutes."""
    fleets = {}
    for mode in ("hash", "rank"):
        ids = moto.group("bench-" + mode, n)
        env = A.agent_env(keys=keys, cloudwatch=proxy.url, fast=False,
                          autoscaling=asproxy.url if mode == "rank" else None)
        fleets[mode] = {"ids": ids, "env": env, "agents": []}
    t_start = time.time()
    for i in range(n):
        for mode, fl in fleets.items():
            a = A.Agent("%s%d" % (mode, i), {
                "health": {"drain_seconds": 0},
                "agent": {"log_level": "notice"},
                "aws": {"region": A.REGION, "instance_id": fl["ids"][i],
                        "autoscaling_group": "bench-" + mode},
                "cloudwatch": {"namespace": "HealthAgentFleet"},
                "checks": []}, fl["env"], start=False)
            a.proc = A.spawn([A.HEALTHAGENT, "run", "-f", a.conf],
                             env=a.env, log=a.log)
            fl["agents"].append(a)
    started = time.time() - t_start
    # Whole minutes of wall clock once every agent is up, had its first
    # read of the group (1-60 s after start) and made the one flush still
    # due at the old slot (a flush due sooner than the new slot stays).
    t0 = math.ceil((time.time() + warmup) / 60.0) * 60
    t1 = t0 + minutes * 60
    while time.time() < t1 + 5:
        time.sleep(1)
    res = {"agents": n, "start_seconds": started, "minutes": minutes,
           "t0": t0, "t1": t1, "warmup": warmup}
    for mode, fl in fleets.items():
        slots = {}
        for a in fl["agents"]:
            k = slot_of(a)
            k = "group rank" if k.startswith("group rank") else k
            slots[k] = slots.get(k, 0) + 1
        fl["slots"] = slots
        fl["dead"] = sum(1 for a in fl["agents"] if not a.alive())
    for fl in fleets.values():
        for a in fl["agents"]:
            a.proc.terminate()
    for fl in fleets.values():
        for a in fl["agents"]:
            A.stop(a.proc, timeout=10)
    for mode, fl in fleets.items():
        ids = set(fl["ids"])
        puts = [e for e in proxy.puts(t0) if e["t"] < t1 and
                form_iid(e["form"]) in ids]
        r = {"requests": len(puts), "dead": fl["dead"],
             "ok": sum(1 for e in puts if e["status"] == 200),
             "slots": fl["slots"],
             "arrivals": sorted(e["t"] - t0 for e in puts)}
        r.update(buckets([e["t"] for e in puts], t0, minutes))
        if mode == "rank":
            # Arrival minus the slot's moment: the timer, the loop, signing
            # and the proxy, on a loaded machine.
            rank = {iid: k for k, iid in enumerate(sorted(fl["ids"]))}
            late = []
            for e in puts:
                want = (2 * rank[form_iid(e["form"])] + 1) * 60.0 / (2 * n)
                d = (e["t"] - t0) % 60 - want
                late.append((d + 30) % 60 - 30)
            late.sort()
            r["late_ms"] = {
                "median": 1000 * statistics.median(late) if late else 0,
                "p99": 1000 * late[int(0.99 * (len(late) - 1))]
                if late else 0,
                "max": 1000 * late[-1] if late else 0}
            d = asproxy.calls("DescribeAutoScalingGroups")
            r["describes"] = len(d)
            r["describes_in_window"] = sum(1 for e in d if t0 <= e["t"] < t1)
            ds = sorted(e["t"] - t_start for e in d)
            r["describe_span"] = (ds[0], ds[-1]) if ds else (0, 0)
        res[mode] = r
    # What independent uniform offsets give (Monte Carlo, same n): the
    # chance that the peak 1-s bucket of a minute stays within 2x.
    rng = random.Random(1)
    trials, within, peaks = 2000, 0, []
    for _ in range(trials):
        c = [0] * 60
        for _ in range(n):
            c[rng.randrange(60)] += 1
        peaks.append(max(c))
        within += max(c) <= 2 * n / 60
    res["uniform_p_within_2x"] = within / trials
    res["uniform_peak_median"] = statistics.median(peaks)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--fleet", type=int, default=200)
    ap.add_argument("--fleet-minutes", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=130,
                    help="seconds before the first measured minute")
    a = ap.parse_args()
    A.HEALTHAGENT = os.path.join(os.path.abspath(a.build), "healthagent")
    if shutil.which("moto_server") is None or not os.access(A.HEALTHAGENT,
                                                            os.X_OK):
        sys.exit("api-cost: needs moto_server and %s" % A.HEALTHAGENT)
    os.makedirs(a.out, exist_ok=True)
    moto = A.Moto()
    user = moto.user("agent", ["cloudwatch:PutMetricData",
                               "autoscaling:DescribeAutoScalingGroups"])
    cwp = A.CwProxy(moto, [user])
    proxy = Counter(cwp.port)
    asproxy = Counter(moto.port)  # Auto Scaling: counted, to moto as is
    env = A.agent_env(keys=user, cloudwatch=proxy.url, fast=False)
    cwp.srv.handle_error = lambda *x: None  # agents hanging up at the end
    lines = []
    sp, checkconf = single_start(env)
    f = fleet(moto, user, proxy, asproxy, a.fleet, a.fleet_minutes,
              a.warmup)
    A.stop(sp)
    if True:
        s = single_result(proxy, f["t0"], f["t1"], checkconf)
        lines += [
            "Default config (etc/healthagent.conf), %g whole minutes "
            "against moto, beside the fleet below:" % s["minutes"], "",
            "| figure | value |", "|---|---|",
            "| PutMetricData requests | %d in %d flushes |" % (
                s["requests"], s["flushes"]),
            "| requests per instance-hour | %.0f |" % s["requests_per_hour"],
            "| datums per request | %d |" % s["datums_per_request"],
            "| body bytes per request, raw | %d |" % s["raw_bytes"],
            "| body bytes per request, gzip | %d |" % s["gzip_bytes"],
            "| body bytes as sent (gzipped requests: %d of %d) | %d |" % (
                s["sent_gzipped"], s["requests"], s["wire_bytes"]),
            "| request header bytes | %d |" % s["header_bytes"],
            "| custom metrics seen (name + dimensions) | %d |"
            % s["metrics"],
            "| cost per instance-month (730 h): metrics | $%.2f |"
            % s["cost_metrics"],
            "| cost per instance-month: requests | $%.2f |"
            % s["cost_requests"],
            "| cost per instance-month: total | $%.2f |" % s["cost_month"],
            "", "checkconf says: " + s["checkconf"], ""]
    if True:
        lines += ["Two fleets of %d agents each, all %d started together "
                  "(%.1f s to spawn), %d whole minutes measured after a "
                  "warm-up of at least %d s:" % (
                      f["agents"], 2 * f["agents"], f["start_seconds"],
                      f["minutes"], f["warmup"]), "",
                  "| flush slot | PutMetricData (ok) | agents died | "
                  "slot source at the end | 1-s mean / peak / ratio | "
                  "5-s mean / peak / ratio | 10-s mean / peak / ratio |",
                  "|---|---|---|---|---|---|---|"]
        for mode, name in (("hash", "instance-id hash (before)"),
                           ("rank", "group rank (after)")):
            r = f[mode]
            cells = []
            for b in (1, 5, 10):
                x = r["b%d" % b]
                cells.append("%.2f / %d / **%.2f**" % (
                    x["mean"], x["peak"], x["ratio"]))
            lines.append("| %s | %d (%d) | %d | %s | %s |" % (
                name, r["requests"], r["ok"], r["dead"],
                ", ".join("%s: %d" % kv for kv in sorted(r["slots"].items())),
                " | ".join(cells)))
        r = f["rank"]
        lines += ["", "Rank fleet: arrival at the proxy minus the slot's "
                  "moment: median %.1f ms, p99 %.1f ms, max %.1f ms. "
                  "DescribeAutoScalingGroups: %d in all (first reads "
                  "%.1f-%.1f s after the spawn began), %d during the "
                  "measured minutes." % (
                      r["late_ms"]["median"], r["late_ms"]["p99"],
                      r["late_ms"]["max"], r["describes"],
                      r["describe_span"][0], r["describe_span"][1],
                      r["describes_in_window"]),
                  "", "Independent uniform offsets for %d agents "
                  "(Monte Carlo, 2000 minutes): median peak 1-s bucket "
                  "%d, P(peak <= 2x mean) = %.2f" % (
                      f["agents"], f["uniform_peak_median"],
                      f["uniform_p_within_2x"])]
        with open(os.path.join(a.out, "fleet-buckets.tsv"), "w") as fh:
            fh.write("# second\thash\trank\n")
            for i, (c1, c2) in enumerate(zip(f["hash"]["b1"]["counts"],
                                             f["rank"]["b1"]["counts"])):
                fh.write("%d\t%d\t%d\n" % (i, c1, c2))
        with open(os.path.join(a.out, "fleet-offsets.tsv"), "w") as fh:
            fh.write("# fleet\toffset in minute (s)\n")
            for mode in ("hash", "rank"):
                for t in f[mode]["arrivals"]:
                    fh.write("%s\t%.3f\n" % (mode, t % 60))
    moto.stop()
    with open(os.path.join(a.out, "api-cost.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
