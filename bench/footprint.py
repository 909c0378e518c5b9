#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Footprint side by side: healthagent, monit and collectd at 1-second
sampling, in the same run, each with its own config in a temp dir, all in
the foreground (never as system services).

  healthagent  CPU and memory samplers at 1 s (threshold checks on both),
               one process check (pidfile), one HTTP check of tests/fakeapp,
               the /health endpoint up, CloudWatch publishing every 60 s to
               moto_server (through awstest.CwProxy, on loopback)
  monit        set daemon 1; check system (cpu, memory), check process by
               pidfile with an http test of the same app; its httpd up
  collectd     Interval 1; cpu, memory and processes plugins (csv writer
               into the temp dir, so values go somewhere)

CPU is utime+stime (+ cutime+cstime: children, for monit) from
/proc/<pid>/stat over the window, as % of one core; the scheduler's own
runtime (/proc/<pid>/task/*/schedstat, ns) is kept beside it because clock
ticks are coarse (10 ms) at these rates. RSS from /proc/<pid>/status,
PSS from /proc/<pid>/smaps_rollup, at the end of the window.

--scaling also measures CPU with 1, 10, 100 and 1000 HTTP checks (interval
1 s, against one fakeapp per tool) for healthagent and monit side by side
(collectd has no checks); CloudWatch is off there, so the figure is the
cost of the checks.

usage: bench/footprint.py BUILD_DIR OUT_DIR [--seconds S] [--repeats R]
                          [--quick] [--scaling] [--scale-seconds S]
                          [--counts 1,10,100,1000] [--no-footprint]
Writes OUT_DIR/footprint.tsv, scaling.tsv, footprint.md (and machine-
readable per-round lines on stdout).
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.append(os.path.join(TOP, "tests", "integration"))
import awstest as A  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
NS = "HealthAgentBench"


def stat_ticks(pid, children=True):
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state): field k is rest[k - 3].
    t = int(rest[11]) + int(rest[12])
    if children:
        t += int(rest[13]) + int(rest[14])
    return t


def sched_ns(pid):
    tot = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                tot += int(f.read().split()[0])
        except OSError:
            pass
    return tot


def mem_kb(pid):
    rss = pss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


class Tool:
    def __init__(self, name, proc):
        self.name = name
        self.proc = proc

    def snap(self):
        return time.monotonic(), stat_ticks(self.proc.pid), \
            sched_ns(self.proc.pid)


def start_app(d, name):
    port = A.free_port()
    pidf = os.path.join(d, name + ".pid")
    p = A.spawn([APP, "--port", str(port), "--pidfile", pidf],
                log=os.path.join(d, name + ".log"))
    if not A.wait_for(lambda: A.http_req("http://127.0.0.1:%d/healthz"
                                         % port, timeout=1)[0] == 200, 10):
        sys.exit("fakeapp did not start")
    return port, pidf


def agent_conf(d, app_port, pidf, n_http, cloudwatch):
    checks = []
    if cloudwatch:
        checks += [
            {"name": "cpu", "type": "threshold",
             "metric": "cpu_usage_percent", "max": 99.0, "for": 3,
             "interval": 1.0},
            {"name": "mem", "type": "threshold",
             "metric": "mem_used_percent", "max": 95.0, "for": 3,
             "interval": 1.0},
            {"name": "app", "type": "process", "pidfile": pidf,
             "interval": 1.0, "timeout": 0.5}]
    for i in range(n_http):
        checks.append({"name": "web%d" % i, "type": "http",
                       "url": "http://127.0.0.1:%d/healthz" % app_port,
                       "interval": 1.0, "timeout": 0.5})
    c = {"health": {"drain_seconds": 0},
         "agent": {"log_level": "notice", "sample_interval": 1.0},
         "aws": {"region": A.REGION, "instance_id": "i-0be4c0000000000f1",
                 "autoscaling_group": "bench-asg"},
         "cloudwatch": {"enabled": bool(cloudwatch), "namespace": NS,
                        "interval": 60},
         "checks": checks}
    return c


def monit_conf(d, app_port, pidf, n_http):
    port = A.free_port()
    lines = ["set daemon 1",
             "set logfile %s/monit.log" % d,
             "set pidfile %s/monit.pid" % d,
             "set idfile %s/monit.id" % d,
             "set statefile %s/monit.state" % d,
             "set httpd port %d and use address 127.0.0.1" % port,
             "    allow 127.0.0.1",
             "check system bench",
             "    if cpu usage > 99% for 3 cycles then alert",
             "    if memory usage > 95% for 3 cycles then alert",
             "check process app with pidfile %s" % pidf,
             '    if failed host 127.0.0.1 port %d protocol http request '
             '"/healthz" with timeout 1 seconds for 3 cycles then alert'
             % app_port]
    for i in range(1, n_http):
        lines += ["check host web%d with address 127.0.0.1" % i,
                  '    if failed port %d protocol http request "/healthz" '
                  'with timeout 1 seconds for 3 cycles then alert'
                  % app_port]
    p = os.path.join(d, "monitrc")
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(p, 0o600)
    return p


def collectd_conf(d):
    p = os.path.join(d, "collectd.conf")
    with open(p, "w") as f:
        f.write("""Hostname "bench"
FQDNLookup false
BaseDir "%(d)s"
PIDFile "%(d)s/collectd.pid"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel "info"
  File "%(d)s/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin memory
LoadPlugin processes
<Plugin processes>
  ProcessMatch "fakeapp" "fakeapp"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "%(d)s/csv"
</Plugin>
""" % {"d": d})
    return p


def measure(tools, seconds, warmup):
    time.sleep(warmup)
    for t in tools:
        if t.proc.poll() is not None:
            sys.exit("%s exited early (code %s)" % (t.name,
                                                    t.proc.returncode))
    s0 = {t.name: t.snap() for t in tools}
    time.sleep(seconds)
    res = {}
    for t in tools:
        if t.proc.poll() is not None:
            sys.exit("%s exited during the window" % t.name)
        w1, k1, n1 = t.snap()
        w0, k0, n0 = s0[t.name]
        rss, pss = mem_kb(t.proc.pid)
        res[t.name] = {
            "cpu_ticks_pct": 100.0 * (k1 - k0) / HZ / (w1 - w0),
            "cpu_sched_pct": 100.0 * (n1 - n0) / 1e9 / (w1 - w0),
            "rss_kb": rss, "pss_kb": pss, "seconds": w1 - w0}
    return res


def stop_all(procs):
    for p in procs:
        A.stop(p, timeout=5)


def footprint_round(env, d, seconds, warmup):
    os.makedirs(d, exist_ok=True)
    app_port, pidf = start_app(d, "app")
    ag = A.Agent("agent", agent_conf(d, app_port, pidf, 1, True), env)
    mon = A.spawn(["monit", "-I", "-c", monit_conf(d, app_port, pidf, 1)],
                  log=os.path.join(d, "monit.out"))
    col = A.spawn(["collectd", "-f", "-C", collectd_conf(d)],
                  log=os.path.join(d, "collectd.out"))
    tools = [Tool("healthagent", ag.proc), Tool("monit", mon),
             Tool("collectd", col)]
    try:
        res = measure(tools, seconds, warmup)
        cw = ag.section("cloudwatch")
        res["healthagent"]["cw_ok"] = cw.get("requests_ok", 0)
        res["healthagent"]["cw_failed"] = cw.get("requests_failed", 0)
    finally:
        ag.stop()
        stop_all([mon, col])
    return res


def scaling_round(env, d, n, seconds, warmup):
    os.makedirs(d, exist_ok=True)
    pa, pfa = start_app(d, "app-agent")
    pm, pfm = start_app(d, "app-monit")
    ag = A.Agent("agent-%d" % n, agent_conf(d, pa, pfa, n, False), env)
    mon = A.spawn(["monit", "-I", "-c", monit_conf(d, pm, pfm, n)],
                  log=os.path.join(d, "monit.out"))
    tools = [Tool("healthagent", ag.proc), Tool("monit", mon)]
    try:
        res = measure(tools, seconds, warmup)
        st = ag.status()
        chk = st.get("checks") or []
        res["healthagent"]["checks_up"] = sum(
            1 for c in chk if isinstance(c, dict) and c.get("state") == "up")
        res["healthagent"]["checks"] = len(chk)
    finally:
        ag.stop()
        stop_all([mon])
    return res


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    global APP
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--quick", action="store_true",
                    help="60 s footprint window, 20 s per scaling step")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--no-footprint", action="store_true")
    ap.add_argument("--scale-seconds", type=float, default=40)
    ap.add_argument("--counts", default="1,10,100,1000")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.scale_seconds = 60, 20
    build = os.path.abspath(a.build)
    A.HEALTHAGENT = os.path.join(build, "healthagent")
    APP = os.path.join(build, "tests", "fakeapp")
    missing = [t for t in ("monit", "collectd", "moto_server")
               if shutil.which(t) is None]
    for p in (A.HEALTHAGENT, APP):
        if not os.access(p, os.X_OK):
            missing.append(p)
    if missing:
        sys.exit("footprint: missing: " + " ".join(missing))
    os.makedirs(a.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    fp = []
    if not a.no_footprint:
        moto = A.Moto()
        user = moto.user("agent", ["cloudwatch:PutMetricData"])
        proxy = A.CwProxy(moto, [user])
        env = A.agent_env(keys=user, cloudwatch=proxy, fast=False)
        for r in range(a.repeats):
            res = footprint_round(env, A.path("fp%d" % r), a.seconds, 5)
            for name, v in res.items():
                print("footprint round %d %-11s cpu(ticks) %.3f%% "
                      "cpu(sched) %.3f%% rss %d kB pss %d kB%s" % (
                          r, name, v["cpu_ticks_pct"], v["cpu_sched_pct"],
                          v["rss_kb"], v["pss_kb"],
                          " cw_ok %d" % v["cw_ok"] if "cw_ok" in v else ""),
                      flush=True)
                fp.append((r, name, v))
        moto.stop()
        with open(os.path.join(a.out, "footprint.tsv"), "w") as f:
            f.write("round\ttool\tcpu_ticks_pct\tcpu_sched_pct\trss_kb\t"
                    "pss_kb\tseconds\n")
            for r, name, v in fp:
                f.write("%d\t%s\t%.4f\t%.4f\t%d\t%d\t%.1f\n" % (
                    r, name, v["cpu_ticks_pct"], v["cpu_sched_pct"],
                    v["rss_kb"], v["pss_kb"], v["seconds"]))

    sc = []
    if a.scaling:
        env = A.agent_env(fast=False)
        for n in [int(x) for x in a.counts.split(",")]:
            res = scaling_round(env, A.path("sc%d" % n), n,
                                a.scale_seconds, 5)
            for name, v in res.items():
                print("scaling %4d checks %-11s cpu(ticks) %.3f%% "
                      "cpu(sched) %.3f%% rss %d kB%s" % (
                          n, name, v["cpu_ticks_pct"], v["cpu_sched_pct"],
                          v["rss_kb"],
                          " (%d/%d checks up)" % (v["checks_up"],
                                                   v["checks"])
                          if "checks" in v else ""), flush=True)
                sc.append((n, name, v))
        with open(os.path.join(a.out, "scaling.tsv"), "w") as f:
            f.write("# checks\thealthagent_ticks\thealthagent_sched\t"
                    "monit_ticks\tmonit_sched\thealthagent_rss\t"
                    "monit_rss\n")
            ns = sorted({n for n, _, _ in sc})
            for n in ns:
                h = [v for m, t, v in sc if m == n and t == "healthagent"][0]
                m = [v for k, t, v in sc if k == n and t == "monit"][0]
                f.write("%d\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%d\n" % (
                    n, h["cpu_ticks_pct"], h["cpu_sched_pct"],
                    m["cpu_ticks_pct"], m["cpu_sched_pct"], h["rss_kb"],
                    m["rss_kb"]))

    # The Markdown summary: medians over rounds, ratios to the peers.
    lines = []
    if fp:
        lines += ["Footprint, %d round(s) of %.0f s each; medians:" % (
            a.repeats, a.seconds), "",
            "| tool | CPU % (utime+stime) | CPU % (schedstat) | RSS kB "
            "| PSS kB |", "|---|---|---|---|---|"]
        agg = {}
        for name in ("healthagent", "monit", "collectd"):
            vs = [v for _, t, v in fp if t == name]
            agg[name] = {k: med([v[k] for v in vs]) for k in
                         ("cpu_ticks_pct", "cpu_sched_pct", "rss_kb",
                          "pss_kb")}
            g = agg[name]
            lines.append("| %s | %.3f | %.3f | %d | %d |" % (
                name, g["cpu_ticks_pct"], g["cpu_sched_pct"], g["rss_kb"],
                g["pss_kb"]))
        h = agg["healthagent"]
        lines.append("")
        for peer in ("monit", "collectd"):
            p = agg[peer]
            lines.append(
                "healthagent / %s: CPU %.2f (ticks) %.2f (schedstat), "
                "RSS %.2f, PSS %.2f" % (
                    peer,
                    h["cpu_ticks_pct"] / p["cpu_ticks_pct"]
                    if p["cpu_ticks_pct"] else float("nan"),
                    h["cpu_sched_pct"] / p["cpu_sched_pct"]
                    if p["cpu_sched_pct"] else float("nan"),
                    h["rss_kb"] / p["rss_kb"], h["pss_kb"] / p["pss_kb"]))
        m = agg["monit"]
        lines.append("bar CPU <= 1/5 monit: %s; bar RSS <= monit: %s" % (
            "met" if h["cpu_sched_pct"] * 5 <= m["cpu_sched_pct"] else
            "MISSED", "met" if h["rss_kb"] <= m["rss_kb"] else "MISSED"))
    if sc:
        lines += ["", "CPU %% of one core (schedstat) by number of HTTP "
                  "checks at 1 s, %.0f s each:" % a.scale_seconds, "",
                  "| checks | healthagent | monit | ratio |",
                  "|---|---|---|---|"]
        for n in sorted({n for n, _, _ in sc}):
            h = [v for m_, t, v in sc if m_ == n and t == "healthagent"][0]
            m = [v for k, t, v in sc if k == n and t == "monit"][0]
            lines.append("| %d | %.3f | %.3f | %.2f |" % (
                n, h["cpu_sched_pct"], m["cpu_sched_pct"],
                h["cpu_sched_pct"] / m["cpu_sched_pct"]
                if m["cpu_sched_pct"] else float("nan")))
    with open(os.path.join(a.out, "footprint.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
