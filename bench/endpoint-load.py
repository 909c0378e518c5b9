#!/usr/bin/env python3
"""Load on the /health endpoint: slowloris + garbage flood vs a fresh client.

Starts the agent on loopback with a small config, then for each scenario:
  - an attacker process opens N idle connections (default 10,000) that send
    a partial request head and trickle one more header line to each of them
    about once a second, reconnecting whatever the agent closes (header
    timeout, eviction), so N connections stay in flight all along;
  - flood processes connect as fast as they can and send garbage (random
    bytes, malformed or oversized requests), reading whatever comes back;
  - a fresh client makes sequential GET /health requests, each on a new
    connection, and records the latency from connect() to the last byte of
    the response.
The agent's RSS and open fds are sampled before, during and after.

The attackers run at nice 10: on a real host they are remote and do not
take the agent's CPU; here they share 2 cores with it and the prober.

Usage: bench/endpoint-load.py [--agent PATH] [--out DIR] [--idle N]
           [--requests N] [--quick]
Writes DIR/endpoint-load.json and DIR/endpoint-load.md.
"""
import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---- the attackers (child processes) ----

def slowloris(port, n, stop, counters):
    """Keep n connections open, each trickling a header line ~1/s."""
    os.nice(10)
    raise_nofile()
    sel = selectors.DefaultSelector()
    conns = {}  # fd -> [sock, state, next_send]
    opened = reopened = 0

    def open_one():
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            return False
        conns[s.fileno()] = [s, 0, 0.0]
        sel.register(s, selectors.EVENT_WRITE)
        opened += 1
        return True

    def drop(fd):
        c = conns.pop(fd, None)
        if c is None:
            return
        try:
            sel.unregister(c[0])
        except (KeyError, ValueError):
            pass
        c[0].close()

    t_report = time.time()
    while not stop.is_set():
        # top up, a bounded number per round to stay responsive
        budget = 500
        while len(conns) < n and budget > 0:
            if not open_one():
                break
            budget -= 1
            reopened += 1
        now = time.time()
        for key, ev in sel.select(timeout=0.05):
            fd = key.fd
            c = conns.get(fd)
            if c is None:
                continue
            s = c[0]
            if c[1] == 0 and ev & selectors.EVENT_WRITE:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    drop(fd)
                    continue
                try:
                    s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                except OSError:
                    drop(fd)
                    continue
                c[1] = 1
                c[2] = now + random.uniform(0.5, 1.5)
                sel.modify(s, selectors.EVENT_READ)
            elif ev & selectors.EVENT_READ:
                try:
                    d = s.recv(4096)
                except OSError:
                    d = b""
                if not d:
                    drop(fd)
        # trickle
        for fd, c in list(conns.items()):
            if c[1] == 1 and c[2] <= now:
                try:
                    c[0].send(b"X-%d: a\r\n" % random.randint(0, 99))
                except OSError:
                    drop(fd)
                    continue
                c[2] = now + random.uniform(0.5, 1.5)
        if now - t_report > 0.5:
            counters["slow_open"] = len(conns)
            counters["slow_opened"] = opened
            t_report = now
    for fd in list(conns):
        drop(fd)


BAD = [
    b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 +
    b"\r\n\r\n",
    b"GET /health HTTP/1.1\r\n folded\r\n\r\n",
    b"POST /health HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\n\r\n",
    b"GET /health HTTP/1.1\rX\n\r\n",
]


def flood(port, stop, counters, key, concurrency=32):
    """Connect, send garbage, read until closed; concurrency in flight."""
    os.nice(10)
    raise_nofile()
    rnd = random.Random(os.getpid())
    sel = selectors.DefaultSelector()
    inflight = {}
    done = 0

    def start():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        inflight[s.fileno()] = [s, 0]
        sel.register(s, selectors.EVENT_WRITE)

    def drop(fd):
        nonlocal done
        c = inflight.pop(fd)
        sel.unregister(c[0])
        c[0].close()
        done += 1

    t_report = time.time()
    while not stop.is_set():
        while len(inflight) < concurrency:
            start()
        for k, ev in sel.select(timeout=0.05):
            c = inflight.get(k.fd)
            if c is None:
                continue
            s = c[0]
            if c[1] == 0:
                if rnd.random() < 0.3:
                    data = rnd.choice(BAD)
                else:
                    data = os.urandom(rnd.randint(1, 2000))
                    if rnd.random() < 0.5:
                        data += b"\r\n\r\n"
                try:
                    s.send(data)
                except OSError:
                    drop(k.fd)
                    continue
                c[1] = 1
                sel.modify(s, selectors.EVENT_READ)
            else:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if not d:
                    drop(k.fd)
        now = time.time()
        if now - t_report > 0.5:
            counters[key] = done
            t_report = now
    for fd in list(inflight):
        drop(fd)


# ---- the fresh client (main process) ----

REQ = b"GET /health HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n"


def probe(port, n, gap, timeout=5.0):
    """n sequential GET /health on new connections: (latencies ms, codes)."""
    lat, codes = [], {}
    for _ in range(n):
        t0 = time.perf_counter()
        code = "error"
        try:
            s = socket.create_connection(("127.0.0.1", port),
                                         timeout=timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(REQ)
            buf = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
                # complete once the body of Content-Length has arrived
                h, sep, body = buf.partition(b"\r\n\r\n")
                if sep:
                    cl = [ln for ln in h.split(b"\r\n")
                          if ln.lower().startswith(b"content-length:")]
                    if cl and len(body) >= int(cl[0].split(b":")[1]):
                        break
            s.close()
            code = buf[9:12].decode() if buf.startswith(b"HTTP/1.1 ") \
                else "closed"
        except OSError as e:
            code = type(e).__name__
        lat.append((time.perf_counter() - t0) * 1000.0)
        codes[code] = codes.get(code, 0) + 1
        if gap:
            time.sleep(gap)
    return lat, codes


def pct(v, p):
    v = sorted(v)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)


def proc_stats(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                rss = int(ln.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


class Agent:
    def __init__(self, binary, tmp, max_conn, header_timeout):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=tmp)
        conf = os.path.join(self.dir, "agent.conf")
        with open(conf, "w") as f:
            f.write('health = { listen = "127.0.0.1:%d"; start_grace = 0; '
                    'drain_seconds = 0; max_connections = %d; '
                    'header_timeout = %g; };\n'
                    'agent = { socket = "%s/agent.sock"; state_dir = "%s"; '
                    'log_level = "notice"; };\n'
                    'cloudwatch = { enabled = false; };\n'
                    'checks = ( { name = "mem"; type = "threshold"; '
                    'metric = "mem_used_percent"; max = 100.0; '
                    'interval = 1.0; } );\n'
                    % (self.port, max_conn, header_timeout, self.dir,
                       self.dir))
        os.chmod(conf, 0o600)
        self.log = open(os.path.join(self.dir, "agent.log"), "w")
        env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
        self.proc = subprocess.Popen([binary, "run", "-f", conf],
                                     stdout=self.log, stderr=self.log,
                                     env=env,
                                     preexec_fn=raise_nofile)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                lat, codes = probe(self.port, 1, 0, timeout=1)
                if "200" in codes:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("agent did not answer 200; see %s" % self.dir)

    def status(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /status HTTP/1.1\r\nConnection: close\r\n\r\n")
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        return json.loads(buf.partition(b"\r\n\r\n")[2])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def scenario(args, name, max_conn, idle, flooders, header_timeout=None):
    header_timeout = header_timeout or args.header_timeout
    agent = Agent(args.agent, args.tmp, max_conn, header_timeout)
    pid = agent.proc.pid
    base = probe(agent.port, 200, 0)[0]  # warm up
    rss0, fd0 = proc_stats(pid)
    mgr = mp.Manager()
    counters = mgr.dict()
    stop = mp.Event()
    procs = []
    if idle:
        procs.append(mp.Process(target=slowloris,
                                args=(agent.port, idle, stop, counters)))
    for i in range(flooders):
        procs.append(mp.Process(target=flood, args=(agent.port, stop,
                                                    counters, "flood%d" % i)))
    for p in procs:
        p.start()
    # let the attack build up: the idle connections all open
    t0 = time.time()
    while idle and time.time() - t0 < 30:
        if counters.get("slow_open", 0) >= idle * 0.98 or \
                counters.get("slow_opened", 0) >= idle * 1.5:
            break
        time.sleep(0.2)
    ramp = time.time() - t0
    samples = []

    def sample():
        try:
            samples.append(proc_stats(pid))
        except OSError:
            pass

    sample()
    lat, codes = [], {}
    t_probe = time.time()
    # probe in chunks so RSS/fds get sampled along the way
    chunk = 100
    for i in range(0, args.requests, chunk):
        l, c = probe(agent.port, min(chunk, args.requests - i), args.gap)
        lat += l
        for k, v in c.items():
            codes[k] = codes.get(k, 0) + v
        sample()
    probe_s = time.time() - t_probe
    try:
        st = agent.status().get("http", {})
    except (OSError, ValueError):
        st = {}
    flood_done = sum(v for k, v in counters.items() if k.startswith("flood"))
    slow_opened = counters.get("slow_opened", 0)
    stop.set()
    for p in procs:
        p.join(20)
        if p.is_alive():
            p.kill()
    mgr.shutdown()
    # the attackers' sockets are closed: EOFs, timeouts and lingering end
    time.sleep(min(header_timeout, 5) + 3)
    rss2, fd2 = proc_stats(pid)
    after = probe(agent.port, 50, 0)[1]
    agent.stop()
    res = {
        "scenario": name, "max_connections": max_conn,
        "header_timeout": header_timeout,
        "idle_target": idle, "flooders": flooders,
        "ramp_s": round(ramp, 1), "probe_s": round(probe_s, 1),
        "requests": len(lat), "codes": codes,
        "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90),
        "p99_ms": pct(lat, 99), "max_ms": max(lat),
        "mean_ms": statistics.mean(lat),
        "baseline_p99_ms": pct(base, 99),
        "rss_kb_before": rss0, "fds_before": fd0,
        "rss_kb_during_max": max(s[0] for s in samples),
        "fds_during_max": max(s[1] for s in samples),
        "fds_during_min": min(s[1] for s in samples),
        "rss_kb_after": rss2, "fds_after": fd2,
        "after_codes": after,
        "agent_http": st, "flood_connections": flood_done,
        "slowloris_connections_opened": slow_opened,
    }
    print(json.dumps(res), flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", default=os.environ.get("HEALTHAGENT") or
                    shutil.which("healthagent") or "./healthagent")
    ap.add_argument("--out", default=os.environ.get(
        "OUT", os.path.join(HERE, "out", "endpoint")))
    ap.add_argument("--idle", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--flooders", type=int, default=2)
    ap.add_argument("--gap", type=float, default=0.002,
                    help="seconds between probe requests")
    ap.add_argument("--header-timeout", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.idle, args.requests = min(args.idle, 2000), 500
    raise_nofile()
    os.makedirs(args.out, exist_ok=True)
    args.tmp = tempfile.mkdtemp(prefix="ha-load.")
    try:
        runs = [
            scenario(args, "baseline (no attack)", 256, 0, 0),
            scenario(args, "%d slowloris + flood, max_connections %d, "
                     "header_timeout 60 (all held)"
                     % (args.idle, args.idle + 1000),
                     args.idle + 1000, args.idle, args.flooders, 60),
            scenario(args, "%d slowloris + flood, max_connections 256 "
                     "(default: eviction)" % args.idle, 256, args.idle,
                     args.flooders),
        ]
    finally:
        shutil.rmtree(args.tmp, ignore_errors=True)
    with open(os.path.join(args.out, "endpoint-load.json"), "w") as f:
        json.dump(runs, f, indent=1)
    md = ["| scenario | requests | answers | p50 ms | p99 ms | max ms | "
          "RSS KiB before / max during / after | fds before / max during "
          "/ after | evicted | timeouts |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        h = r["agent_http"]
        md.append("| %s | %d | %s | %.2f | %.2f | %.2f | %d / %d / %d | "
                  "%d / %d / %d | %s | %s |" % (
                      r["scenario"], r["requests"],
                      ", ".join("%s×%d" % kv for kv in
                                sorted(r["codes"].items())),
                      r["p50_ms"], r["p99_ms"], r["max_ms"],
                      r["rss_kb_before"], r["rss_kb_during_max"],
                      r["rss_kb_after"], r["fds_before"],
                      r["fds_during_max"], r["fds_after"],
                      h.get("evicted", "?"), h.get("timeouts", "?")))
    with open(os.path.join(args.out, "endpoint-load.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
