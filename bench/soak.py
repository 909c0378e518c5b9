#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Accelerated soak of the real agent; run it through bench/soak.sh.

One agent runs many checks at short intervals against tests/fakeapp
(http, tcp, process, threshold, and a few exec checks) and publishes to
moto_server on loopback every 0.1 s (cloudwatch.interval = 0.1 with
storage_resolution = 1: 100 ms periods, a test-only setting), through a
counting proxy that forwards every request to moto untouched and counts
the MetricData members of the requests moto accepted. Every --every
seconds it records RSS (VmRSS) and the descriptor count of the agent,
the checks executed (the sum of the per-check run counters), the
PutMetricData requests and datums accepted (agent side) and received
(proxy side) into a data file, and plots RSS and fds with gnuplot.

It runs until both --checks and --publishes are reached (or --max-seconds
pass), then verifies:
  - no datum lost: the agent's datums_ok equals the datums moto accepted
    (at a moment with no request in flight), nothing was dropped, the
    queue is short, and moto holds every sample of the "healthy" series
    (the SampleCount the proxy saw, read back with GetMetricStatistics);
  - RSS and fd count flat after warm-up (least-squares slope over the
    run after warm-up, times its duration, under a bound);
  - the agent exits 0 on SIGTERM.
Prints a summary and writes it as JSON next to the data file.
"""
import argparse
import gzip
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

NAMESPACE = "HASoak"
INSTANCE = "i-0123456789abcdef0"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(fn, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # noqa: BLE001 - not yet
            pass
        time.sleep(step)
    return None


class Proxy:
    """Forwards POSTs to moto as they are; counts what moto accepted."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.requests = 0  # PutMetricData accepted by moto
        self.datums = 0  # their MetricData members
        self.failed = 0  # answers other than 200
        self.errors = []  # tracebacks of the relay
        self.healthy_samples = 0.0  # SampleCount sum of "healthy"
        self.ts_min = None
        self.ts_max = None
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                try:
                    self.relay()
                except Exception:  # noqa: BLE001 - recorded, reported
                    import traceback
                    with proxy.lock:
                        proxy.errors.append(traceback.format_exc())
                    raise

            def relay(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n > 0 else b""
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream,
                                               timeout=60)
                c.putrequest("POST", self.path, skip_host=True,
                             skip_accept_encoding=True)
                for k, v in self.headers.items():
                    c.putheader(k, v)
                c.endheaders(body)
                r = c.getresponse()
                data = r.read()
                c.close()
                if r.status == 200:
                    proxy.count(body, self.headers)
                else:
                    with proxy.lock:
                        proxy.failed += 1
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
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def count(self, body, headers):
        if "gzip" in headers.get("Content-Encoding", ""):
            body = gzip.decompress(body)
        form = dict(urllib.parse.parse_qsl(body.decode()))
        if form.get("Action") != "PutMetricData":
            return
        members = {}
        for k, v in form.items():
            if k.startswith("MetricData.member."):
                i, _, field = k[len("MetricData.member."):].partition(".")
                members.setdefault(i, {})[field] = v
        hs = 0.0
        for m in members.values():
            if m.get("MetricName") == "healthy":
                hs += float(m["StatisticValues.SampleCount"])
        ts = [m["Timestamp"] for m in members.values()]
        with self.lock:
            self.requests += 1
            self.datums += len(members)
            self.healthy_samples += hs
            if ts:
                lo, hi = min(ts), max(ts)
                self.ts_min = lo if self.ts_min is None else min(
                    self.ts_min, lo)
                self.ts_max = hi if self.ts_max is None else max(
                    self.ts_max, hi)

    def snapshot(self):
        with self.lock:
            return self.requests, self.datums


def conf_text(a, port, sock, state, app_port, pidfile):
    checks = []
    for i in range(a.http):
        checks.append('{ name = "http%d"; type = "http"; url = '
                      '"http://127.0.0.1:%d/healthz"; interval = %g; '
                      'timeout = %g; }' % (i, app_port, a.interval,
                                           a.interval))
    for i in range(a.tcp):
        checks.append('{ name = "tcp%d"; type = "tcp"; address = '
                      '"127.0.0.1:%d"; interval = %g; timeout = %g; }'
                      % (i, app_port, a.interval, a.interval))
    for i in range(a.process):
        checks.append('{ name = "proc%d"; type = "process"; pidfile = "%s"; '
                      'interval = %g; }' % (i, pidfile, a.interval))
    for i in range(a.threshold):
        checks.append('{ name = "thr%d"; type = "threshold"; metric = '
                      '"mem_used_percent"; max = 99.9; for = 1; '
                      'interval = %g; }' % (i, a.interval))
    for i in range(a.exec_):
        checks.append('{ name = "exec%d"; type = "exec"; command = '
                      '["/bin/true"]; interval = %g; timeout = %g; }'
                      % (i, a.exec_interval, a.exec_interval))
    return """health = { listen = "127.0.0.1:%d"; start_grace = 0;
           drain_seconds = 2; };
agent = { socket = "%s"; state_dir = "%s"; log_level = "info";
          sample_interval = 0.1; };
aws = { region = "us-east-1"; instance_id = "%s";
        autoscaling_group = "soak-asg"; };
cloudwatch = { namespace = "%s"; interval = 0.1; storage_resolution = 1;
               dimensions = ["InstanceId"]; buffer_seconds = 60;
               metrics = ["cpu_usage_percent", "mem_used_percent",
                          "swap_used_percent", "disk_used_percent",
                          "healthy", "self_eviction_refused"]; };
checks = (
  %s
);
""" % (port, sock, state, INSTANCE, NAMESPACE, ",\n  ".join(checks))


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--healthagent", required=True)
    ap.add_argument("--fakeapp", required=True)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--checks", type=int, default=1000000)
    ap.add_argument("--publishes", type=int, default=10000)
    ap.add_argument("--max-seconds", type=float, default=1800)
    ap.add_argument("--min-seconds", type=float, default=0)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--http", type=int, default=40)
    ap.add_argument("--tcp", type=int, default=40)
    ap.add_argument("--process", type=int, default=30)
    ap.add_argument("--threshold", type=int, default=10)
    ap.add_argument("--exec", dest="exec_", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--exec-interval", type=float, default=0.25)
    ap.add_argument("--rss-growth-kb", type=float, default=1024,
                    help="largest RSS growth over the run after warm-up "
                    "(fitted slope x duration) still called flat")
    ap.add_argument("--fd-growth", type=float, default=3)
    ap.add_argument("--png", default=None)
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ha-soak.")
    procs = []

    def spawn(argv, log, env=None):
        p = subprocess.Popen(argv, stdout=open(os.path.join(tmp, log), "w"),
                             stderr=subprocess.STDOUT, env=env,
                             stdin=subprocess.DEVNULL,
                             start_new_session=True)
        procs.append(p)
        return p

    def cleanup():
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()

    def on_signal(sig, _f):
        cleanup()
        sys.exit(130)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return run(a, tmp, spawn)
    finally:
        cleanup()
        if os.environ.get("KEEP_TMP") == "1":
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(a, tmp, spawn):
    env0 = {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and
            k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env0["NO_PROXY"] = env0["no_proxy"] = "127.0.0.1,localhost"

    app_port = free_port()
    pidfile = os.path.join(tmp, "app.pid")
    spawn([a.fakeapp, "--port", str(app_port), "--pidfile", pidfile],
          "fakeapp.log")
    moto_port = free_port()
    spawn(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
          "moto.log", env=dict(env0, AWS_EC2_METADATA_DISABLED="true"))
    if not wait_for(lambda: urllib.request.urlopen(
            "http://127.0.0.1:%d/moto-api/" % moto_port, timeout=2).status
            == 200, 30):
        print("moto_server did not start")
        return 1
    proxy = Proxy(moto_port)

    port = free_port()
    sock = os.path.join(tmp, "agent.sock")
    conf = os.path.join(tmp, "agent.conf")
    with open(conf, "w") as f:
        f.write(conf_text(a, port, sock, os.path.join(tmp, "state"),
                          app_port, pidfile))
    env = dict(env0, AWS_EC2_METADATA_DISABLED="true",
               AWS_ACCESS_KEY_ID="AKIASOAKTEST00000000",
               AWS_SECRET_ACCESS_KEY="soak-secret",
               AWS_ENDPOINT_URL="http://127.0.0.1:%d" % moto_port,
               AWS_ENDPOINT_URL_CLOUDWATCH=proxy.url,
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
               AWS_CONFIG_FILE="/nonexistent", HOME=tmp)
    agent = spawn([a.healthagent, "run", "-f", conf], "agent.log", env=env)
    if not wait_for(lambda: os.path.exists(sock), 15):
        print("the agent did not start:\n" +
              open(os.path.join(tmp, "agent.log")).read()[-3000:])
        return 1
    pid = agent.pid

    def status():
        r = subprocess.run([a.healthagent, "status", "--json", "-s", sock],
                           capture_output=True, timeout=10, env=env)
        return json.loads(r.stdout)

    dat = os.path.join(a.out, "soak.dat")
    rows = []
    t0 = time.monotonic()
    print("soak: %d checks (%d http, %d tcp, %d process, %d threshold at "
          "%g s; %d exec at %g s), CloudWatch every 0.1 s; targets %d "
          "check runs, %d publishes" % (
              a.http + a.tcp + a.process + a.threshold + a.exec_, a.http,
              a.tcp, a.process, a.threshold, a.interval, a.exec_,
              a.exec_interval, a.checks, a.publishes), flush=True)
    with open(dat, "w") as out:
        out.write("# t_s rss_kb fds checks_run publishes datums_sent "
                  "datums_received queued\n")
        while True:
            time.sleep(a.every)
            if agent.poll() is not None:
                print("the agent exited with %s" % agent.returncode)
                return 1
            st = status()
            t = time.monotonic() - t0
            runs = sum(c.get("runs", 0) for c in st["checks"])
            cw = st["cloudwatch"]
            row = (t, proc_rss_kb(pid), proc_fds(pid), runs,
                   cw["requests_ok"], cw["datums_ok"],
                   proxy.snapshot()[1], cw["queued"])
            rows.append(row)
            out.write("%.1f %d %d %d %d %d %d %d\n" % row)
            out.flush()
            print("  %6.0f s  rss %6d kB  fds %3d  checks %8d  publishes "
                  "%6d  datums %8d/%8d  queued %d" % row, flush=True)
            if (runs >= a.checks and cw["requests_ok"] >= a.publishes and
                    t >= a.min_seconds) or t >= a.max_seconds:
                break

    # No request in flight, and the proxy's count unchanged around the
    # status: then every accepted request has been counted on both sides.
    exact = None
    for _ in range(200):
        p1 = proxy.snapshot()
        st = status()
        p2 = proxy.snapshot()
        cw = st["cloudwatch"]
        if not cw["in_flight"] and p1 == p2:
            exact = (cw, p1)
            break
        time.sleep(0.013)
    final = status()
    runs = sum(c.get("runs", 0) for c in final["checks"])
    rss = [r[1] for r in rows]
    fds = [r[2] for r in rows]
    dur = rows[-1][0]

    agent.send_signal(signal.SIGTERM)
    try:
        rc = agent.wait(30)
    except subprocess.TimeoutExpired:
        rc = None
    time.sleep(0.5)
    log = open(os.path.join(tmp, "agent.log")).read()

    # moto holds every sample of the healthy series the proxy saw.
    import boto3
    cwc = boto3.client("cloudwatch", region_name="us-east-1",
                       endpoint_url="http://127.0.0.1:%d" % moto_port,
                       aws_access_key_id="x", aws_secret_access_key="x")
    lo = time.strptime(proxy.ts_min[:19], "%Y-%m-%dT%H:%M:%S")
    start = time.mktime(lo) - time.timezone - 120
    r = cwc.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="healthy",
        Dimensions=[{"Name": "InstanceId", "Value": INSTANCE}],
        StartTime=start, EndTime=time.time() + 120, Period=3600,
        Statistics=["SampleCount"])
    moto_healthy = sum(p["SampleCount"] for p in r["Datapoints"])

    warm = [r for r in rows if r[0] >= a.warmup] or rows
    wx = [r[0] for r in warm]
    rss_growth = slope(wx, [r[1] for r in warm]) * (wx[-1] - wx[0])
    fd_growth = slope(wx, [r[2] for r in warm]) * (wx[-1] - wx[0])
    s = {
        "duration_s": round(dur, 1),
        "checks": a.http + a.tcp + a.process + a.threshold + a.exec_,
        "check_runs": runs,
        "check_runs_per_s": round(runs / dur, 1),
        "publishes": final["cloudwatch"]["requests_ok"],
        "publishes_failed": final["cloudwatch"]["requests_failed"],
        "publishes_per_s": round(final["cloudwatch"]["requests_ok"] / dur,
                                 2),
        "proxy_requests": proxy.requests,
        "proxy_non_200": proxy.failed,
        "datums_sent_agent": exact[0]["datums_ok"] if exact else None,
        "datums_received_moto": exact[1][1] if exact else None,
        "requests_sent_agent": exact[0]["requests_ok"] if exact else None,
        "requests_received_moto": exact[1][0] if exact else None,
        "dropped": final["cloudwatch"]["dropped"],
        "queued_at_end": final["cloudwatch"]["queued"],
        "healthy_samples_proxy": proxy.healthy_samples,
        "healthy_samples_moto": moto_healthy,
        "rss_kb_start": rss[0], "rss_kb_end": rss[-1],
        "rss_kb_max": max(rss),
        "rss_kb_after_warmup": warm[0][1],
        "rss_growth_after_warmup_kb": round(rss_growth, 1),
        "fds_start": fds[0], "fds_end": fds[-1], "fds_max": max(fds),
        "fds_min": min(fds), "fd_growth_after_warmup": round(fd_growth, 2),
        "exit_code": rc,
        "unpublished_at_exit": "not published at exit" in log,
    }
    checks = [
        ("check runs >= %d" % a.checks, runs >= a.checks),
        ("publishes >= %d" % a.publishes,
         s["publishes"] >= a.publishes),
        ("no failed publish", s["publishes_failed"] == 0 and
         proxy.failed == 0),
        ("datums sent == datums received (no request in flight)",
         exact is not None and s["datums_sent_agent"] ==
         s["datums_received_moto"] and s["requests_sent_agent"] ==
         s["requests_received_moto"]),
        ("nothing dropped", s["dropped"] == 0),
        ("moto holds every healthy sample",
         abs(moto_healthy - proxy.healthy_samples) < 0.5),
        ("RSS flat after warm-up (growth %.0f kB <= %.0f)"
         % (rss_growth, a.rss_growth_kb), rss_growth <= a.rss_growth_kb),
        ("fds flat after warm-up (growth %.2f <= %g)"
         % (fd_growth, a.fd_growth), fd_growth <= a.fd_growth),
        ("exit 0 on SIGTERM", rc == 0),
    ]
    with open(os.path.join(a.out, "soak-summary.json"), "w") as f:
        json.dump(dict(s, verdicts={k: v for k, v in checks}), f, indent=1)
    print(json.dumps(s, indent=1))
    for e in proxy.errors[:3]:
        print("proxy error:\n" + e)
    bad = 0
    for name, good in checks:
        print("%s  %s" % ("ok  " if good else "FAIL", name))
        bad += not good
    if a.png:
        plot(dat, a.png, a.warmup, s)
        print("plot: %s" % a.png)
    return 1 if bad else 0


def plot(dat, png, warmup, s):
    if shutil.which("gnuplot") is None:
        print("gnuplot is not installed: no plot")
        return
    script = """
set terminal pngcairo size 1000,560 font ",10"
set output "%s"
set title "healthagent soak: %d check runs, %d PutMetricData (%d datums), %.0f min"
set xlabel "time (s)"
set ylabel "RSS (MiB)"
set y2label "open descriptors"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid
set key bottom right
set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb "gray"
set label "warm-up" at %g, graph 0.95 right offset -0.5,0 tc rgb "gray"
plot "%s" using 1:($2/1024) axes x1y1 with lines lw 2 title "RSS (MiB)", \\
     "%s" using 1:3 axes x1y2 with lines lw 1 title "fds"
""" % (png, s["check_runs"], s["publishes"],
       s["datums_sent_agent"] or 0, s["duration_s"] / 60, warmup, warmup,
       warmup, dat, dat)
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       capture_output=True)
    if r.returncode != 0:
        # pngcairo may be missing from gnuplot-nox: fall back to png
        script = script.replace("pngcairo", "png")
        subprocess.run(["gnuplot"], input=script, text=True, check=False)


if __name__ == "__main__":
    sys.exit(main())
