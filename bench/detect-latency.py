#!/usr/bin/env python3
"""Detection latency: how long from the app dying (or hanging) until the
health endpoint answers 503. Runs the real agent and the fake app on
loopback, repeats each scenario, and prints min/median/max in ms.

usage: bench/detect-latency.py BUILD_DIR [ROUNDS]
"""
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build-tests/default"
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
agent_bin = os.path.join(build, "healthagent")
app_bin = os.path.join(build, "tests", "fakeapp")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def code(port, path="/health"):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except OSError:
        return 0


def wait_code(port, want, limit=30.0, path="/health"):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if code(port, path) == want:
            return time.monotonic()
        time.sleep(0.001)
    raise RuntimeError("timed out waiting for %d" % want)


def scenario(name, checks, trigger):
    results = []
    for _ in range(rounds):
        d = tempfile.mkdtemp()
        port, aport = free_port(), free_port()
        app = subprocess.Popen([app_bin, "--port", str(aport), "--pidfile",
                                d + "/app.pid"], stderr=subprocess.DEVNULL)
        wait_code(aport, 200, path="/healthz")
        conf = d + "/a.conf"
        with open(conf, "w") as f:
            f.write('health: { listen = "127.0.0.1:%d"; start_grace = 0; };\n'
                    'agent: { socket = "%s/a.sock"; };\n' % (port, d))
            f.write("checks = ( %s );\n" % checks.replace("{d}", d).replace("{aport}", str(aport)))
        agent = subprocess.Popen([agent_bin, "run", "-f", conf],
                                 stderr=subprocess.DEVNULL)
        wait_code(port, 200)
        time.sleep(0.3)
        t0 = time.monotonic()
        trigger(app, aport)
        t1 = wait_code(port, 503)
        results.append((t1 - t0) * 1000)
        for p in (agent, app):
            p.kill()
            p.wait()
    print("%-44s min %7.1f  median %7.1f  max %7.1f ms  (%d rounds)" % (
        name, min(results), statistics.median(results), max(results),
        rounds))


def kill_app(app, aport):
    app.kill()


def hang_app(app, aport):
    c = http.client.HTTPConnection("127.0.0.1", aport, timeout=2)
    c.request("GET", "/control/hang")
    c.getresponse().read()


scenario("process check (pidfd), interval 5 s, fall 3",
         '{ name = "app"; type = "process"; pidfile = "{d}/app.pid"; '
         'interval = 5.0; timeout = 1.0; fall = 3; }', kill_app)
scenario("http check, interval 1 s, fall 3, app killed",
         '{ name = "web"; type = "http"; url = "http://127.0.0.1:{aport}/healthz"; '
         'interval = 1.0; timeout = 0.5; fall = 3; }', kill_app)
scenario("http check, interval 1 s, timeout 0.5, fall 3, hang",
         '{ name = "web"; type = "http"; url = "http://127.0.0.1:{aport}/healthz"; '
         'interval = 1.0; timeout = 0.5; fall = 3; }', hang_app)
