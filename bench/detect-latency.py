#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Detection latency: the real agent and an app on loopback, a fresh agent
per trial; every time is CLOCK_MONOTONIC in this process.

  exit     process check (pidfile, pidfd), interval 5 s, fall 3: from
           SIGKILL of tests/fakeapp until /health answers 503, and from
           the exit itself (a pidfd watched by a thread here) until then:
           the bar's "app process exit", without the kernel's time to
           schedule the killed process
  killed   (only with DETECT_HTTP_KILLED=1) http check, interval 1 s,
           timeout 0.5 s, fall 3: from SIGKILL of the app until 503
  hang     http check, interval = timeout = 0.5 s, fall 3, against a
           Python app that stops answering: from the hang start, and from
           the arrival of the first check request left unanswered (the
           bar: timeout x fall + 50 ms, counted from there)
  evict    process check as in "exit", autoscaling.set_instance_health
           with confirm_seconds = 0, against a local fake Auto Scaling
           endpoint (DescribeAutoScalingGroups: a healthy group of 4,
           answered at once; SetInstanceHealth) that timestamps arrivals.
           kill -> 503, kill -> DescribeAutoScalingGroups, kill ->
           SetInstanceHealth; and the agent's own decision time (its
           status: episode unhealthy_for_ms, read while the endpoint holds
           the SetInstanceHealth answer) -> SetInstanceHealth. The
           interval includes the fleet check (DescribeAutoScalingGroups
           round trip, which precedes SetInstanceHealth).

/health is polled back to back on one keep-alive connection.
Median and p99 (nearest rank; with fewer than 100 trials it is the
largest or second largest value) in ms.

usage: bench/detect-latency.py BUILD_DIR [TRIALS] [OUT_DIR]
"""
import http.client
import http.server
import json
import math
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
trials = int(sys.argv[2]) if len(sys.argv) > 2 else 20
out_dir = sys.argv[3] if len(sys.argv) > 3 else None
agent_bin = os.path.join(build, "healthagent")
app_bin = os.path.join(build, "tests", "fakeapp")
for p in (agent_bin, app_bin):
    if not os.access(p, os.X_OK):
        sys.exit("detect-latency: %s is not built" % p)

ENV = {k: v for k, v in os.environ.items()
       if not k.startswith("AWS_") and "proxy" not in k.lower()}
ENV.update(AWS_EC2_METADATA_DISABLED="true",
           AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
           AWS_CONFIG_FILE="/nonexistent",
           AWS_ENDPOINT_URL="http://127.0.0.1:9",
           AWS_ACCESS_KEY_ID="AKIDBENCH00000000000",
           AWS_SECRET_ACCESS_KEY="benchsecret")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def p99(xs):
    s = sorted(xs)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


class Poller:
    """GET /health back to back on a keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def code(self):
        try:
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port,
                                                    timeout=2)
            self.c.request("GET", "/health")
            r = self.c.getresponse()
            r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.c.close()
                self.c = None
            return r.status
        except (OSError, http.client.HTTPException):
            if self.c is not None:
                self.c.close()
            self.c = None
            return 0

    def wait(self, want, limit=30.0, sleep=0.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if self.code() == want:
                return time.monotonic()
            if sleep:
                time.sleep(sleep)
        raise RuntimeError("timed out waiting for /health %d" % want)


def app_code(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except OSError:
        return 0


def wait_app(port):
    end = time.monotonic() + 10
    while app_code(port) != 200:
        if time.monotonic() > end:
            raise RuntimeError("app did not start")
        time.sleep(0.01)


def write_conf(d, port, checks, extra=""):
    conf = d + "/a.conf"
    with open(conf, "w") as f:
        f.write('health: { listen = "127.0.0.1:%d"; start_grace = 0; '
                'drain_seconds = 0; };\n'
                'agent: { socket = "%s/a.sock"; state_dir = "%s/state"; '
                'log_level = "info"; };\n'
                'cloudwatch: { enabled = false; };\n%s'
                'checks = ( %s );\n' % (port, d, d, extra, checks))
    return conf


def start_agent(d, conf):
    log = open(d + "/agent.log", "w")
    p = subprocess.Popen([agent_bin, "run", "-f", conf], env=ENV,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    return p


def stop(*procs):
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


# ---- app exit -> 503 (process check, or http check)

class ExitWatch(threading.Thread):
    """The moment a process has exited, from a pidfd of our own (the
    agent watches it the same way): kill() -> exit includes the kernel
    scheduling the victim, which is no part of the agent's latency."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.fd = os.pidfd_open(pid)
        self.t = None
        self.start()

    def run(self):
        select.select([self.fd], [], [])
        self.t = time.monotonic()
        os.close(self.fd)


def killed(check, from_exit=None):
    """kill -> 503 per trial; with a list as from_exit, also the exit seen
    through a pidfd -> 503 there."""
    res = []
    for _ in range(trials):
        d = tempfile.mkdtemp(prefix="ha-detect.")
        port, aport = free_port(), free_port()
        app = subprocess.Popen([app_bin, "--port", str(aport), "--pidfile",
                                d + "/app.pid"], stderr=subprocess.DEVNULL)
        wait_app(aport)
        conf = write_conf(d, port, check.format(d=d, aport=aport))
        agent = start_agent(d, conf)
        pl = Poller(port)
        try:
            pl.wait(200, sleep=0.01)
            time.sleep(0.3)
            xw = ExitWatch(app.pid) if from_exit is not None else None
            t0 = time.monotonic()
            app.kill()
            t1 = pl.wait(503)
            res.append((t1 - t0) * 1000)
            if xw is not None:
                xw.join(5)
                if xw.t is not None:
                    from_exit.append((t1 - xw.t) * 1000)
        finally:
            stop(agent, app)
            shutil.rmtree(d, ignore_errors=True)
    return res


# ---- app hang -> 503

class HangApp:
    """/healthz answers 200 until hang(); then requests get no answer and
    the arrival of each is recorded."""

    def __init__(self):
        self.hung = False
        self.hung_arrivals = []
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if me.hung:
                    me.hung_arrivals.append(time.monotonic())
                    time.sleep(5)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def hang(timeout, fall):
    from_hang, from_first = [], []
    for _ in range(trials):
        d = tempfile.mkdtemp(prefix="ha-detect.")
        port = free_port()
        app = HangApp()
        conf = write_conf(d, port, (
            '{ name = "web"; type = "http"; '
            'url = "http://127.0.0.1:%d/healthz"; interval = %g; '
            'timeout = %g; fall = %d; }' % (app.port, timeout, timeout,
                                              fall)))
        agent = start_agent(d, conf)
        pl = Poller(port)
        try:
            pl.wait(200, sleep=0.01)
            time.sleep(0.3)
            t0 = time.monotonic()
            app.hung = True
            t1 = pl.wait(503)
            first = [t for t in app.hung_arrivals if t >= t0][0]
            from_hang.append((t1 - t0) * 1000)
            from_first.append((t1 - first) * 1000)
        finally:
            stop(agent)
            app.close()
            shutil.rmtree(d, ignore_errors=True)
    return from_hang, from_first


# ---- UNHEALTHY -> SetInstanceHealth

IID = "i-0be4c0000000000a1"
GROUP = "bench-asg"


def fleet_xml():
    members = "".join(
        "<member><InstanceId>%s</InstanceId><HealthStatus>Healthy"
        "</HealthStatus><LifecycleState>InService</LifecycleState>"
        "<AvailabilityZone>us-east-1a</AvailabilityZone></member>" % i
        for i in (IID, "i-0be4c0000000000a2", "i-0be4c0000000000a3",
                  "i-0be4c0000000000a4"))
    return ("<DescribeAutoScalingGroupsResponse xmlns=\"http://autoscaling."
            "amazonaws.com/doc/2011-01-01/\"><DescribeAutoScalingGroups"
            "Result><AutoScalingGroups><member><AutoScalingGroupName>%s"
            "</AutoScalingGroupName><MinSize>1</MinSize><MaxSize>4</MaxSize>"
            "<DesiredCapacity>4</DesiredCapacity><Instances>%s</Instances>"
            "</member></AutoScalingGroups></DescribeAutoScalingGroupsResult>"
            "<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>"
            "</DescribeAutoScalingGroupsResponse>" % (GROUP, members))


SIH_XML = ("<SetInstanceHealthResponse xmlns=\"http://autoscaling.amazonaws"
           ".com/doc/2011-01-01/\"><ResponseMetadata><RequestId>r2"
           "</RequestId></ResponseMetadata></SetInstanceHealthResponse>")


class FakeAsg:
    def __init__(self):
        self.arrivals = []
        self.on_sih = None
        me = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                t = time.monotonic()
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(
                    self.rfile.read(n).decode()))
                act = form.get("Action", "?")
                me.arrivals.append((act, t))
                if act == "DescribeAutoScalingGroups":
                    body = fleet_xml()
                elif act == "SetInstanceHealth":
                    if me.on_sih is not None:
                        me.on_sih()
                    body = SIH_XML
                else:
                    body = SIH_XML
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def agent_unhealthy_ms(sock):
    """(t before, t after, unhealthy_for_ms) from status --json."""
    t_a = time.monotonic()
    r = subprocess.run([agent_bin, "status", "--json", "-s", sock],
                       capture_output=True, timeout=5, env=ENV)
    t_b = time.monotonic()
    st = json.loads(r.stdout)
    asg = st.get("autoscaling") or {}
    ep = asg.get("episode") or {}
    return t_a, t_b, ep.get("unhealthy_for_ms")


def evict():
    r = {"503": [], "describe": [], "sih": [], "decision_sih": [],
         "decision_sih_hi": [],
         "status_rtt": [], "describe_sih": []}
    for _ in range(trials):
        d = tempfile.mkdtemp(prefix="ha-detect.")
        port, aport = free_port(), free_port()
        fake = FakeAsg()
        env_url = fake.url
        app = subprocess.Popen([app_bin, "--port", str(aport), "--pidfile",
                                d + "/app.pid"], stderr=subprocess.DEVNULL)
        wait_app(aport)
        conf = write_conf(d, port, (
            '{ name = "app"; type = "process"; pidfile = "%s/app.pid"; '
            'interval = 5.0; timeout = 1.0; fall = 3; }' % d),
            'aws: { region = "us-east-1"; instance_id = "%s"; '
            'autoscaling_group = "%s"; autoscaling_endpoint = "%s"; };\n'
            'autoscaling: { set_instance_health = true; '
            'confirm_seconds = 0; };\n' % (IID, GROUP, env_url))
        seen = {}

        def on_sih():
            seen["status"] = agent_unhealthy_ms(d + "/a.sock")

        fake.on_sih = on_sih
        agent = start_agent(d, conf)
        pl = Poller(port)
        try:
            pl.wait(200, sleep=0.01)
            time.sleep(0.3)
            t0 = time.monotonic()
            app.kill()
            t1 = pl.wait(503)
            end = time.monotonic() + 10
            while "status" not in seen and time.monotonic() < end:
                time.sleep(0.005)
            t_d = [t for a, t in fake.arrivals
                   if a == "DescribeAutoScalingGroups" and t >= t0][0]
            t_s = [t for a, t in fake.arrivals
                   if a == "SetInstanceHealth" and t >= t0][0]
            r["503"].append((t1 - t0) * 1000)
            r["describe"].append((t_d - t0) * 1000)
            r["sih"].append((t_s - t0) * 1000)
            r["describe_sih"].append((t_s - t_d) * 1000)
            t_a, t_b, u = seen["status"]
            # The agent computed unhealthy_for_ms somewhere in [t_a, t_b]
            # (most of that is starting the status client): its decision
            # was in [t_a - u, t_b - u].
            r["decision_sih"].append((t_s - (t_b - u / 1000.0)) * 1000)
            r["decision_sih_hi"].append((t_s - (t_a - u / 1000.0)) * 1000)
            r["status_rtt"].append((t_b - t_a) * 1000)
        finally:
            stop(agent, app)
            fake.close()
            shutil.rmtree(d, ignore_errors=True)
    return r


rows = []


def report(name, xs, bar=None):
    med, p = statistics.median(xs), p99(xs)
    verdict = ""
    if bar is not None:
        verdict = "met" if p <= bar else "MISSED"
    rows.append((name, len(xs), min(xs), med, p, max(xs), bar, verdict))
    print("%-58s n %3d  min %8.1f  median %8.1f  p99 %8.1f  max %8.1f%s" % (
        name, len(xs), min(xs), med, p, max(xs),
        "  (bar %g: %s)" % (bar, verdict) if bar is not None else ""),
        flush=True)


exits = []
report("kill -> 503 (process check, pidfd)", killed(
    '{{ name = "app"; type = "process"; pidfile = "{d}/app.pid"; '
    'interval = 5.0; timeout = 1.0; fall = 3; }}', exits))
report("exit (seen by a pidfd here) -> 503 (same)", exits, 5.0)
if os.environ.get("DETECT_HTTP_KILLED") == "1":
    report("killed -> 503 (http check, interval 1 s, fall 3)", killed(
        '{{ name = "web"; type = "http"; '
        'url = "http://127.0.0.1:{aport}/healthz"; interval = 1.0; '
        'timeout = 0.5; fall = 3; }}'))
fh, ff = hang(0.5, 3)
report("hang start -> 503 (http, interval = timeout 0.5 s, fall 3)", fh)
report("first hung check -> 503 (same)", ff, 0.5 * 3 * 1000 + 50)
ev = evict()
report("evict: exit -> 503", ev["503"])
report("evict: exit -> DescribeAutoScalingGroups arrives", ev["describe"])
report("evict: exit -> SetInstanceHealth arrives", ev["sih"], 100.0)
report("evict: DescribeAutoScalingGroups -> SetInstanceHealth",
       ev["describe_sih"])
report("evict: agent decision -> SetInstanceHealth, low bound",
       ev["decision_sih"], 100.0)
report("evict: agent decision -> SetInstanceHealth, high bound",
       ev["decision_sih_hi"])
report("evict: status query round trip (uncertainty)", ev["status_rtt"])

if out_dir:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "detect-latency.md"), "w") as f:
        f.write("%d trials each, ms (p99 nearest rank):\n\n" % trials)
        f.write("| path | n | min | median | p99 | max | bar | |\n"
                "|---|---|---|---|---|---|---|---|\n")
        for name, n, lo, med, p, hi, bar, v in rows:
            f.write("| %s | %d | %.1f | %.1f | %.1f | %.1f | %s | %s |\n" % (
                name, n, lo, med, p, hi,
                "%g" % bar if bar is not None else "", v))
