#!/usr/bin/env python3
"""/health throughput and latency: healthagent vs nginx, with wrk.

Servers, all on 127.0.0.1, started here and stopped at the end:
  nginx       one worker, access_log off, `return 200` with the same body
              as the agent ({"status":"healthy"}), from a temp prefix
              (nginx -p DIR -c DIR/nginx.conf; never the system service);
  agent       healthagent, one cheap check, CloudWatch off;
  agent-busy  healthagent with checks every 100-500 ms (threshold, exec,
              tcp), sampling every 100 ms, and CloudWatch publishing every
              second to a loopback server that takes 2 s to answer, so a
              publish is always in flight.
Both agents use max_connections = 1024 (the default 256 is below the
500-connection runs; above it the oldest idle connections are evicted).

For keep-alive and `Connection: close`, at 50 and 500 connections, wrk
(1 thread) runs RUNS times for DURATION seconds against each server in
turn (interleaved, so noise hits all alike); medians of req/s and p99 are
reported with the ratio to nginx's in the same run.

Usage: bench/endpoint-wrk.sh [--quick]   (HEALTHAGENT=path, OUT=dir)
Writes OUT/endpoint-wrk.{json,dat,md,png}.
"""
import argparse
import http.server
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = '{"status":"healthy"}\n'


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(port, path="/health", timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close"
                      b"\r\n\r\n" % path.encode())
            d = s.recv(100)
            s.close()
            if d.startswith(b"HTTP/1.1 200"):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


class SlowCW(http.server.BaseHTTPRequestHandler):
    """CloudWatch that answers every request after 2 s."""
    protocol_version = "HTTP/1.1"
    delay = 2.0
    count = 0

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        SlowCW.count += 1
        time.sleep(self.delay)
        body = (b'<PutMetricDataResponse xmlns="http://monitoring.amazonaws'
                b'.com/doc/2010-08-01/"><ResponseMetadata><RequestId>bench'
                b'</RequestId></ResponseMetadata></PutMetricDataResponse>')
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def start_nginx(tmp, port):
    d = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/logs/error.log warn;
events { worker_connections 2048; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            default_type application/json;
            add_header Cache-Control no-store;
            return 200 '%(body)s';
        }
    }
}
""" % {"d": d, "port": port, "body": BODY.replace("\n", "\\n")})
    p = subprocess.Popen(["nginx", "-p", d, "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_http(port):
        raise RuntimeError("nginx did not start; see %s" % d)
    return p


def start_agent(binary, tmp, name, port, busy, cw_port=None):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "agent.conf")
    text = ('health = { listen = "127.0.0.1:%d"; start_grace = 0; '
            'drain_seconds = 0; max_connections = 1024; };\n'
            'agent = { socket = "%s/agent.sock"; state_dir = "%s"; '
            'log_level = "notice"; sample_interval = %s; };\n'
            % (port, d, d, "0.1" if busy else "1"))
    env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true")
    if busy:
        url = "http://127.0.0.1:%d" % cw_port
        text += ('aws = { region = "us-east-1"; instance_id = '
                 '"i-0123456789abcdef0"; availability_zone = "us-east-1a"; '
                 'instance_type = "m5.large"; autoscaling_group = "bench"; '
                 'endpoint_url = "%s"; cloudwatch_endpoint = "%s"; };\n'
                 'cloudwatch = { enabled = true; interval = 1; '
                 'storage_resolution = 1; };\n'
                 'checks = (\n'
                 ' { name = "mem"; type = "threshold"; metric = '
                 '"mem_used_percent"; max = 100.0; interval = 0.1; },\n'
                 ' { name = "true"; type = "exec"; command = ["/bin/true"]; '
                 'interval = 0.5; timeout = 0.4; },\n'
                 ' { name = "cw-port"; type = "tcp"; address = '
                 '"127.0.0.1:%d"; interval = 0.2; timeout = 0.1; '
                 'scope = "dependency"; } );\n' % (url, url, cw_port))
        for k in list(env):
            if k.startswith("AWS_") and k != "AWS_EC2_METADATA_DISABLED":
                del env[k]
        env.update(AWS_ACCESS_KEY_ID="AKIDBENCHBENCHBENCH0",
                   AWS_SECRET_ACCESS_KEY="benchbenchbenchbenchbenchbench00",
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(d, "none"),
                   AWS_CONFIG_FILE=os.path.join(d, "none"))
    else:
        text += ('cloudwatch = { enabled = false; };\n'
                 'checks = ( { name = "mem"; type = "threshold"; metric = '
                 '"mem_used_percent"; max = 100.0; interval = 1.0; } );\n')
    with open(conf, "w") as f:
        f.write(text)
    os.chmod(conf, 0o600)
    log = open(os.path.join(d, "agent.log"), "w")
    p = subprocess.Popen([binary, "run", "-f", conf], stdout=log,
                         stderr=log, env=env)
    if not wait_http(port):
        raise RuntimeError("agent %s did not answer 200; see %s" % (name, d))
    return p


UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(port, conns, close, duration):
    cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
           "--timeout", "5s"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append("http://127.0.0.1:%d/health" % port)
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = float(m.group(1)) * UNIT[m.group(2)]
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": p99,
            "errors": errs.group(1) if errs else "",
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--agent", default=os.environ.get("HEALTHAGENT") or
                    shutil.which("healthagent"))
    ap.add_argument("--out", default=os.environ.get(
        "OUT", os.path.join(HERE, "out", "endpoint")))
    ap.add_argument("--runs", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--servers", default="agent,nginx,agent-busy")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    dur = args.duration or (2 if args.quick else 4)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            sys.exit("endpoint-wrk: %s is not installed" % tool)
    if not args.agent or not os.access(args.agent, os.X_OK):
        sys.exit("endpoint-wrk: set HEALTHAGENT to the built binary")
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ha-wrk.")
    procs, ports = {}, {}
    cw = None
    try:
        cw_port = free_port()
        cw = ThreadingServer(("127.0.0.1", cw_port), SlowCW)
        threading.Thread(target=cw.serve_forever, daemon=True).start()
        servers = args.servers.split(",")
        for s in servers:
            ports[s] = free_port()
            if s == "nginx":
                procs[s] = start_nginx(tmp, ports[s])
            else:
                procs[s] = start_agent(args.agent, tmp, s, ports[s],
                                       s == "agent-busy", cw_port)
        time.sleep(1)
        cases = [(mode, c) for mode in ("keep-alive", "close")
                 for c in (50, 500)]
        res = {}
        for r in range(runs):
            for mode, c in cases:
                for s in servers:
                    w = wrk(ports[s], c, mode == "close", dur)
                    res.setdefault((s, mode, c), []).append(w)
                    print("run %d %-10s %-10s c=%-3d %9.0f req/s  p99 "
                          "%.2f ms %s" % (r + 1, s, mode, c, w["rps"],
                                          w["p99_ms"], w["errors"]),
                          flush=True)
        busy_log = ""
        if "agent-busy" in procs:
            busy_log = open(os.path.join(tmp, "agent-busy",
                                         "agent.log")).read()
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if cw is not None:
            cw.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    for mode, c in cases:
        row = {"mode": mode, "conns": c}
        for s in servers:
            v = res[(s, mode, c)]
            row[s] = {"rps": statistics.median(x["rps"] for x in v),
                      "p99_ms": statistics.median(x["p99_ms"] for x in v),
                      "runs": v}
        rows.append(row)
    meta = {"runs": runs, "duration_s": dur, "wrk": "wrk -t1 --latency",
            "cloudwatch_requests_seen": SlowCW.count,
            "machine": "%d cores, %s" % (os.cpu_count(),
                                         os.uname().release)}
    with open(os.path.join(args.out, "endpoint-wrk.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    dat = os.path.join(args.out, "endpoint-wrk.dat")
    with open(dat, "w") as f:
        f.write("# case " + " ".join("%s_rps %s_p99ms" % (s, s)
                                    for s in servers) + "\n")
        for row in rows:
            f.write('"%s c=%d" ' % (row["mode"], row["conns"]) +
                    " ".join("%.0f %.3f" % (row[s]["rps"], row[s]["p99_ms"])
                             for s in servers) + "\n")
    md = ["| connections | mode | " + " | ".join(
        "%s req/s" % s for s in servers) + " | " + " | ".join(
        "%s p99 ms" % s for s in servers) + " |" +
        "".join(" %s/nginx req/s |" % s for s in servers if s != "nginx"),
        "|" + "---|" * (2 + 2 * len(servers) +
                        len([s for s in servers if s != "nginx"]))]
    for row in rows:
        n = row.get("nginx", {}).get("rps")
        md.append("| %d | %s | " % (row["conns"], row["mode"]) +
                  " | ".join("%.0f" % row[s]["rps"] for s in servers) +
                  " | " + " | ".join("%.2f" % row[s]["p99_ms"]
                                     for s in servers) + " |" +
                  "".join(" %.2f |" % (row[s]["rps"] / n if n else 0)
                          for s in servers if s != "nginx"))
    md.append("")
    md.append("Medians of %d runs of %d s each (wrk -t1 --latency); "
              "CloudWatch requests seen by the slow server: %d."
              % (runs, dur, SlowCW.count))
    with open(os.path.join(args.out, "endpoint-wrk.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    if "agent-busy" in servers and SlowCW.count == 0:
        print("warning: agent-busy never reached the slow CloudWatch:\n" +
              busy_log[-2000:])
    if shutil.which("gnuplot"):
        png = os.path.join(args.out, "endpoint-wrk.png")
        cols = {s: 2 + 2 * i for i, s in enumerate(servers)}
        plot = ('set terminal pngcairo size 1000,450 noenhanced\n'
                if "pngcairo" in subprocess.run(
                    ["gnuplot", "-e", "set terminal"], capture_output=True,
                    text=True).stdout + subprocess.run(
                    ["gnuplot", "-e", "set terminal"], capture_output=True,
                    text=True).stderr
                else 'set terminal png size 1000,450 noenhanced\n')
        plot += ('set output "%s"\nset multiplot layout 1,2\n'
                 'set style data histograms\nset style fill solid 0.8 '
                 'border -1\nset style histogram clustered gap 1\n'
                 'set key top left\nset xtics rotate by -20\n'
                 'set yrange [0:*]\n' % png)
        plot += 'set title "/health requests/s (median)"\nplot ' + ", ".join(
            '"%s" using %d:xtic(1) title "%s"' % (dat, cols[s], s)
            for s in servers) + "\n"
        plot += 'set title "/health p99 latency, ms (median)"\nplot ' + \
            ", ".join('"%s" using %d:xtic(1) title "%s"'
                      % (dat, cols[s] + 1, s) for s in servers) + "\n"
        plot += "unset multiplot\n"
        subprocess.run(["gnuplot"], input=plot, text=True, check=False)
        print("plot:", png)


if __name__ == "__main__":
    main()
