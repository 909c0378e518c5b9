#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The whole life of the real agent under valgrind, printing TAP.

start -> checks (process, http against tests/fakeapp, tcp, exec,
threshold) -> CloudWatch publishes to moto_server (SigV4 and IAM checked)
-> `healthagent status`, /health, /status, /metrics -> SIGHUP with a good
config, then with a broken one (a syntax error inside a string token)
-> `healthagent drain` / `undrain` -> SIGTERM (drain_seconds, the last
CloudWatch flush) -> exit.

valgrind runs with --leak-check=full --show-leak-kinds=all
--errors-for-leak-kinds=all --error-exitcode=99 --track-fds=yes: the
process must exit 0 with no error, no leak of any kind (definite,
indirect, possible, still reachable) and no descriptor of its own left
open. tests/valgrind.supp names the few one-time allocations of system
libraries that cannot be freed, each with the reason.

When the binary was built with --enable-sanitizers (valgrind cannot run
ASan code), the same scenario runs without valgrind and LeakSanitizer
judges the exit instead (detect_leaks=1, a leak makes the exit code
non-zero).

Needs: HEALTHAGENT, FAKEAPP, valgrind, python3 with boto3, moto_server.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_, wait_for, diag  # noqa: E402

A.require()
FAKEAPP = os.environ.get("FAKEAPP") or os.path.join(A.BUILDDIR, "tests",
                                                    "fakeapp")
if not os.access(FAKEAPP, os.X_OK):
    A.bail("FAKEAPP must point at the built tests/fakeapp")
SUPP = os.path.join(A.SRCDIR, "tests", "valgrind.supp")
NAMESPACE = "HATest/Valgrind"
ASG = "vg-asg"


def sanitized(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


ASAN = sanitized(A.HEALTHAGENT)
if not ASAN and shutil.which("valgrind") is None:
    A.bail("required tool 'valgrind' is not installed")


def checks(app_port, pidfile, extra=()):
    return [
        {"name": "app", "type": "process", "pidfile": pidfile,
         "interval": 0.5},
        {"name": "web", "type": "http",
         "url": "http://127.0.0.1:%d/healthz" % app_port,
         "interval": 0.5, "timeout": 0.5},
        {"name": "port", "type": "tcp",
         "address": "127.0.0.1:%d" % app_port, "interval": 0.5,
         "timeout": 0.5},
        {"name": "true", "type": "exec", "command": ["/bin/true"],
         "interval": 1, "timeout": 1},
        {"name": "mem", "type": "threshold", "metric": "mem_used_percent",
         "max": 99.5, "for": 1, "interval": 1},
    ] + list(extra)


def main():
    app_port = A.free_port()
    pidfile = A.path("app.pid")
    A.spawn([FAKEAPP, "--port", str(app_port), "--pidfile", pidfile],
            log=A.path("fakeapp.log"))
    ok(wait_for(lambda: A.http_req("http://127.0.0.1:%d/healthz"
                                   % app_port, timeout=1)[0] == 200, 10),
       "fakeapp answers")

    moto = A.Moto()
    agent_keys = moto.user("agent", [
        "cloudwatch:PutMetricData",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeAutoScalingGroups"])
    inst = moto.group(ASG, 1)[0]
    proxy = A.CwProxy(moto, [agent_keys])

    conf = {
        "health": {"drain_seconds": 1},
        "aws": {"region": A.REGION, "instance_id": inst},
        "cloudwatch": {"namespace": NAMESPACE, "interval": 1,
                       "storage_resolution": 1},
        "checks": checks(app_port, pidfile),
    }
    agent = A.Agent("vg", conf, A.agent_env(
        keys=agent_keys, cloudwatch=proxy, autoscaling=moto), start=False)
    # The reloads rewrite the whole file: keep the address, socket and
    # state directory Agent filled in.
    conf["health"].update(listen="127.0.0.1:%d" % agent.port, start_grace=0)
    conf["agent"] = {"socket": agent.sock, "log_level": "debug",
                     "state_dir": agent.state_dir}
    vglog = A.path("valgrind.log")
    env = dict(agent.env)
    if ASAN:
        argv = [A.HEALTHAGENT, "run", "-f", agent.conf]
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
        diag("sanitized binary: LeakSanitizer judges the exit, not valgrind")
    else:
        argv = ["valgrind", "--leak-check=full", "--show-leak-kinds=all",
                "--errors-for-leak-kinds=all", "--error-exitcode=99",
                "--track-fds=yes", "--num-callers=40",
                "--suppressions=" + SUPP, "--log-file=" + vglog,
                A.HEALTHAGENT, "run", "-f", agent.conf]
    agent.proc = A.spawn(argv, env=env, log=agent.log,
                         label="agent log", tail=80)
    if not wait_for(lambda: os.path.exists(agent.sock) or
                    agent.proc.poll() is not None, 60) or \
            agent.proc.poll() is not None:
        ok(False, "the agent started", agent.logtext())
        return
    ok(True, "the agent started under %s" % ("ASan" if ASAN else
                                              "valgrind"))

    def all_up():
        st = agent.status()
        return st if all(c["state"] == "up" for c in st["checks"]) and \
            len(st["checks"]) == 5 else None

    st = wait_for(all_up, 60, 0.5)
    ok(st is not None, "all five checks (process, http, tcp, exec, "
       "threshold) are up", st and st.get("checks"))

    def published():
        cw = agent.section("cloudwatch")
        return cw if cw.get("requests_ok", 0) >= 3 else None

    cw = wait_for(published, 60, 0.5)
    ok(cw is not None, "three PutMetricData accepted by moto", cw)
    ok(proxy.delivered_datums(), "moto received datums")

    for p in ("/health", "/status", "/metrics"):
        code, _ = agent.health(p)
        is_(code, 200, "GET %s answers 200" % p)
    r = subprocess.run([A.HEALTHAGENT, "status", "-s", agent.sock],
                       capture_output=True, text=True, timeout=10)
    ok(r.returncode == 0 and "web" in r.stdout, "healthagent status",
       r.stdout + r.stderr)

    # A good reload: one more check.
    conf["checks"] = checks(app_port, pidfile, [
        {"name": "false", "type": "exec", "command": ["/bin/false"],
         "interval": 1, "timeout": 1, "scope": "dependency"}])
    with open(agent.conf, "w") as f:
        f.write(A.conf_text(conf))
    agent.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: len(agent.status()["checks"]) == 6, 30, 0.5),
       "SIGHUP with a good config adds a check")

    # A bad reload: a syntax error inside a string token.
    good = A.read(agent.conf)
    with open(agent.conf, "w") as f:
        f.write(good + 'bogus = "unterminated\n')
    agent.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: "keeping the running configuration" in
                agent.logtext(), 30, 0.5),
       "SIGHUP with a broken config is refused")
    with open(agent.conf, "w") as f:
        f.write(good)
    ok(agent.alive() and len(agent.status()["checks"]) == 6,
       "the running configuration is kept")

    # Operator drain, then SIGTERM: drain_seconds of 503, a last flush.
    r = subprocess.run([A.HEALTHAGENT, "drain", "-s", agent.sock],
                       capture_output=True, text=True, timeout=10)
    ok(r.returncode == 0, "healthagent drain", r.stdout + r.stderr)
    ok(wait_for(lambda: agent.health()[0] == 503, 20, 0.3),
       "/health answers 503 while drained")
    r = subprocess.run([A.HEALTHAGENT, "undrain", "-s", agent.sock],
                       capture_output=True, text=True, timeout=10)
    ok(r.returncode == 0 and
       wait_for(lambda: agent.health()[0] == 200, 20, 0.3),
       "healthagent undrain: 200 again", r.stdout + r.stderr)
    # SIGTERM now drains for drain_seconds and flushes CloudWatch.
    t0 = time.monotonic()
    rc = A.stop(agent.proc, timeout=90)
    diag("exited %s after %.1f s" % (rc, time.monotonic() - t0))

    if ASAN:
        is_(rc, 0, "exit code 0 and no leak (LeakSanitizer)")
        return
    is_(rc, 0, "exit code 0 under valgrind (99 = an error or a leak)")
    log = A.read(vglog)
    m = re.search(r"ERROR SUMMARY: (\d+) errors", log)
    ok(m is not None and m.group(1) == "0", "valgrind: zero errors",
       log[-6000:])
    ok("All heap blocks were freed -- no leaks are possible" in log or
       re.search(r"in use at exit: 0 bytes", log) is not None or
       _only_suppressed(log), "valgrind: zero leaks of any kind",
       log[-6000:])
    own = _own_fds(log)
    ok(not own, "valgrind: no descriptor of the agent's own left open",
       "\n".join(own))


def _only_suppressed(log):
    """Every leak kind at zero: what is left is named in valgrind.supp."""
    kinds = ("definitely lost", "indirectly lost", "possibly lost",
             "still reachable")
    for k in kinds:
        m = re.search(k + r": ([\d,]+) bytes in ([\d,]+) blocks", log)
        if m is None or m.group(2) != "0":
            return False
    return True


def _own_fds(log):
    """The "Open file descriptor" entries not inherited from the parent
    (valgrind's own log file and the test harness's pipes are)."""
    out = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        # "Open file descriptor N:", "Open AF_INET socket N: ...",
        # "Open pf-N socket N:", "Open socket N:"
        m = re.search(r"==\d+== Open (?:file descriptor|\S+ socket|socket) "
                      r"(\d+):", line)
        if not m or int(m.group(1)) <= 2:
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "<inherited from parent>" not in nxt:
            out.append("\n".join(lines[i:i + 6]))
    return out


A.run(main)
