#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Fault injection on CloudWatch and Auto Scaling, printing TAP.

The real agent publishes to moto_server through awstest.CwProxy, which
also fronts Auto Scaling (the group lookup, DescribeAutoScalingInstances).
Faults, one after another, each asserting the classification shown in
status, the backoff (no retry storm: at most max_attempts requests per
flush) and eventual delivery (every period arrives in moto, in order, none
dropped, once the fault clears). cloudwatch_moto.py covers 503, throttling
and dropped connections for CloudWatch alone; here:

  a. at start, Auto Scaling and CloudWatch throttle, then answer 503: the
     group lookup shows the error and is retried with backoff; the group
     is found once they recover;
  b. timeouts (the server reads the request and never answers):
     "Timeout";
  c. connection reset (RST after the request): "ConnectionError";
  d. the service's clock is 15 minutes ahead, then 15 minutes behind,
     then right again: RequestTimeTooSkewed, the agent corrects its
     offset from the reply's Date (status aws.clock_offset_s) and re-signs
     at once; no datum lost;
  e. TLS: an https endpoint on loopback presenting a self-signed
     certificate: "TLSError", no retry within the call (one handshake per
     flush), nothing ever sent in clear or unverified; once the endpoint
     presents a certificate the agent trusts, the queue is delivered. The
     agent runs in a private mount namespace (unshare -m) where the system
     CA bundle is bind-mounted over with one that also holds a test CA.

Needs root (unshare -m) for e, openssl, $HEALTHAGENT, moto_server, boto3.
"""

import calendar
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_, wait_for  # noqa: E402

A.require()
for tool in ("openssl", "unshare"):
    if shutil.which(tool) is None:
        A.bail("required tool '%s' is not installed" % tool)
if os.geteuid() != 0:
    A.bail("fault_aws.py needs root for unshare -m (the TLS scenario)")
REGION = A.REGION
NAMESPACE = "HATest/FaultAws"
INTERVAL = 2
MAX_ATTEMPTS = 3
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def periods(proxy, iid, since=0.0):
    return [calendar.timegm(time.strptime(d["Timestamp"],
                                          "%Y-%m-%dT%H:%M:%SZ"))
            for d in proxy.delivered_datums(since)
            if d["MetricName"] == "mem_used_percent" and
            d["dims"] == {"InstanceId": iid}]


def gaps(secs):
    return [(a, b) for a, b in zip(secs, secs[1:]) if b - a != 1]


def conf(extra_aws=None):
    aws = {"region": REGION, "timeout": 1.5, "max_attempts": MAX_ATTEMPTS}
    aws.update(extra_aws or {})
    return {
        "health": {"drain_seconds": 0},
        "agent": {"sample_interval": 0.25},
        "aws": aws,
        "cloudwatch": {"namespace": NAMESPACE, "interval": INTERVAL,
                       "storage_resolution": 1,
                       "metrics": ["mem_used_percent"],
                       "dimensions": ["InstanceId"]},
        "autoscaling": {"set_instance_health": True, "confirm_seconds": 60},
        "checks": [{"name": "up", "type": "exec", "command": ["/bin/true"],
                    "interval": 1, "timeout": 0.9}],
    }


class TlsFront:
    """A TLS terminator on 127.0.0.1 in front of a plain HTTP port: each
    connection is wrapped with the current context ("bad": a self-signed
    certificate; "good": one issued by the test CA), then relayed."""

    def __init__(self, upstream, ctxs):
        self.upstream = upstream
        self.ctxs = ctxs
        self.which = "bad"
        self.handshakes_failed = 0
        self.handshakes_ok = 0
        self.plain_bytes_seen = []  # first bytes of failed handshakes
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "https://127.0.0.1:%d" % self.port
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,),
                             daemon=True).start()

    def serve(self, c):
        c.settimeout(10)
        try:
            first = c.recv(1, socket.MSG_PEEK)
        except OSError:
            c.close()
            return
        if first and first[0] != 0x16:  # not a TLS handshake record
            self.plain_bytes_seen.append(first)
        try:
            t = self.ctxs[self.which].wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            c.close()
            return
        self.handshakes_ok += 1
        u = socket.create_connection(("127.0.0.1", self.upstream))

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(u, t), daemon=True).start()
        pump(t, u)


def make_certs(d):
    """A test CA, a server certificate from it for 127.0.0.1, and a
    self-signed one; the CA bundle = the system's + the test CA."""
    def sh(*argv):
        r = subprocess.run(argv, capture_output=True, text=True, cwd=d)
        if r.returncode != 0:
            A.bail("openssl: %s" % r.stderr[-300:])
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
       "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
       "/CN=healthagent test CA")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
       "good.key", "-out", "good.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", "good.csr", "-CA", "ca.pem",
       "-CAkey", "ca.key", "-CAcreateserial", "-out", "good.pem", "-days",
       "2", "-extfile", "ext")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
       "-keyout", "bad.key", "-out", "bad.pem", "-days", "2", "-subj",
       "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    with open(os.path.join(d, "bundle.pem"), "w") as f:
        f.write(A.read(SYSTEM_BUNDLE) + "\n" +
                A.read(os.path.join(d, "ca.pem")))
    ctxs = {}
    for k in ("bad", "good"):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(os.path.join(d, k + ".pem"),
                          os.path.join(d, k + ".key"))
        ctxs[k] = c
    return ctxs, os.path.join(d, "bundle.pem")


def main():
    moto = A.Moto()
    keys = moto.user("agent", ["cloudwatch:PutMetricData",
                               "autoscaling:DescribeAutoScalingInstances",
                               "autoscaling:DescribeAutoScalingGroups"])
    iid, iid2 = moto.group("faults", 2)
    proxy = A.CwProxy(moto, [keys])
    env = A.agent_env(keys=keys, endpoint=moto, cloudwatch=proxy,
                      autoscaling=proxy)

    # ---- a: Auto Scaling and CloudWatch throttle, then 503, at start ----
    proxy.mode = "throttle"
    t0 = time.time()
    agent = A.Agent("a", dict(conf(), aws=dict(conf()["aws"],
                                               instance_id=iid)), env)

    def cw():
        return agent.section("cloudwatch")

    def asg():
        return agent.section("autoscaling")

    s = wait_for(lambda: (lambda x: x if "Throttling" in x.get("eviction",
                                                                "")
                          else None)(asg()), 15, 0.25)
    ok(s is not None, "a: the group lookup shows Throttling: %s"
       % (s or asg()).get("eviction"))
    e = wait_for(lambda: (cw().get("last_error") or {}).get("code") ==
                 "Throttling" and cw(), 15, 0.25)
    ok(e, "a: cloudwatch.last_error is Throttling", json.dumps(cw()))
    ok(wait_for(lambda: "retrying in" in agent.logtext() and
                "(Throttling)" in agent.logtext(), 10),
       "a: throttled calls are retried with backoff (logged)")
    time.sleep(4)
    proxy.mode = "503"
    e = wait_for(lambda: (cw().get("last_error") or {}).get("code") ==
                 "ServiceUnavailable" and cw(), 15, 0.25)
    ok(e and e["last_error"]["http_status"] == 503,
       "a: then ServiceUnavailable, HTTP 503", json.dumps(cw()))
    time.sleep(3)
    t_fix = time.time()
    w = t_fix - t0
    with proxy.lock:
        n_cw = sum(1 for _, a, m in proxy.arrivals if a == "PutMetricData")
    limit = MAX_ATTEMPTS * (int(w / INTERVAL) + 2)
    ok(n_cw <= limit, "a: no retry storm: %d PutMetricData in %.0f s of "
       "faults (at most %d attempts per %d s flush: %d)"
       % (n_cw, w, MAX_ATTEMPTS, INTERVAL, limit))
    proxy.mode = "pass"
    ok(wait_for(lambda: asg().get("group") == "faults", 30, 0.25),
       "a: recovered: the group is found", json.dumps(asg()))

    def delivered_since(t_start, t_stop):
        """Every period from t_start to t_stop arrived, none dropped."""
        st = wait_for(lambda: (lambda x: x if x["queued"] <= 2 and
                               x["last_success_age_ms"] is not None and
                               x["last_success_age_ms"] <
                               (time.time() - t_stop) * 1000 else None)(
            cw()), 30, 0.25)
        secs = periods(proxy, iid)
        window = [x for x in secs if t_start - 1 <= x <= t_stop - 2]
        return st, secs, window

    st, secs, window = delivered_since(t0 + 2, t_fix)
    ok(st is not None and st["dropped"] == 0,
       "a: the backlog went out, nothing dropped", json.dumps(cw()))
    ok(len(window) >= w - 4 and not gaps(secs),
       "a: every period of the outage arrived (%d of %.0f s), in order, "
       "none missing" % (len(window), w), gaps(secs)[:5])

    def fault(tag, mode, code, secs_=6):
        t_start = time.time()
        proxy.mode = mode
        e = wait_for(lambda: (cw().get("last_error") or {}).get("code") ==
                     code and cw(), 20, 0.25)
        ok(e and e["last_error"]["http_status"] == 0,
           "%s: classified as %s (transport, HTTP 0): %s"
           % (tag, code, ((e or cw()).get("last_error") or {})
              .get("message", "")), json.dumps(cw()))
        time.sleep(max(0, t_start + secs_ - time.time()))
        proxy.mode = "pass"
        t_stop = time.time()
        st, secs, window = delivered_since(t_start, t_stop)
        ok(st is not None and st["dropped"] == 0 and
           len(window) >= (t_stop - t_start) - 3 and not gaps(secs),
           "%s: cleared: all %d periods of the fault arrived, none "
           "dropped or missing" % (tag, len(window)),
           json.dumps([cw(), gaps(secs)[:5]]))
        st_, _ = agent.health()
        ok(st_ == 200 and agent.alive(), "%s: /health %s" % (tag, st_))

    fault("b (no answer)", "hang", "Timeout", 8)
    fault("c (connection reset)", "reset", "ConnectionError")

    # ---- d: 15 minutes of clock skew, both ways ----
    for tag, sk in (("d (+15 min)", 900), ("d (-15 min)", -900),
                    ("d (back to 0)", 0)):
        t_start = time.time()
        n_skew = proxy.injected["skew"]
        # "back to 0": the proxy still checks the date (1 s skew) so the
        # agent's +/-900 s offset is refused and must be corrected back.
        proxy.skew = sk if sk else 1
        s = wait_for(lambda: abs(agent.section("aws").get(
            "clock_offset_s", 0) - sk) <= 2 and agent.section("aws"), 20,
            0.25)
        ok(s, "%s: status aws.clock_offset_s follows the service's Date "
           "(%s)" % (tag, agent.section("aws").get("clock_offset_s")))
        ok(proxy.injected["skew"] > n_skew,
           "%s: RequestTimeTooSkewed was answered (%d times)"
           % (tag, proxy.injected["skew"] - n_skew))
        ok(wait_for(lambda: "RequestTimeTooSkewed" in agent.logtext() and
                    "correcting" in agent.logtext(), 5),
           "%s: the correction is logged" % tag)
        time.sleep(3)
        t_stop = time.time()
        st, secs, window = delivered_since(t_start, t_stop)
        ok(st is not None and st["dropped"] == 0 and not gaps(secs) and
           len(window) >= (t_stop - t_start) - 3,
           "%s: re-signed at once: every period arrived" % tag,
           json.dumps([cw(), gaps(secs)[:5]]))
        ok(proxy.injected["skew"] - n_skew <= 3,
           "%s: one refusal per call at most, not a loop (%d)"
           % (tag, proxy.injected["skew"] - n_skew))
    proxy.skew = 0
    ok(cw()["requests_failed"] >= 3, "failures counted (%d)"
       % cw()["requests_failed"])
    ok(agent.stop() == 0, "agent a exits cleanly")

    # ---- e: TLS ----
    certs = A.path("certs")
    os.mkdir(certs)
    ctxs, bundle = make_certs(certs)
    front = TlsFront(proxy.port, ctxs)
    proxy.mode = "pass"
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
              'mount --bind "$0" %s && exec "$@"' % SYSTEM_BUNDLE, bundle]
    env2 = A.agent_env(keys=keys, endpoint=moto, cloudwatch=front.url,
                       autoscaling=proxy)
    t0 = time.time()
    n0 = len(proxy.arrivals)
    agent = A.Agent("e", dict(conf(), aws=dict(conf()["aws"],
                                               instance_id=iid2)), env2,
                    prefix=prefix)
    e = wait_for(lambda: (cw().get("last_error") or {}).get("code") ==
                 "TLSError" and cw(), 20, 0.25)
    ok(e, "e: self-signed certificate: classified as TLSError: %s"
       % ((e or cw()).get("last_error") or {}).get("message", ""),
       json.dumps(cw()))
    time.sleep(6)
    c = cw()
    fails = front.handshakes_failed
    ok(1 <= fails <= c["requests_failed"] + 1,
       "e: not retried within a call: %d failed handshakes for %d failed "
       "requests over %.0f s" % (fails, c["requests_failed"],
                                 time.time() - t0))
    ok(front.handshakes_ok == 0 and not front.plain_bytes_seen,
       "e: nothing was sent unverified or in clear")
    with proxy.lock:
        pm = [a for _, a, _m in proxy.arrivals[n0:] if a == "PutMetricData"]
    ok(not pm, "e: no PutMetricData reached the service")
    ok(c["queued"] > 0 and c["dropped"] == 0,
       "e: the data waits (%d queued), nothing dropped" % c["queued"])
    st_, _ = agent.health()
    ok(st_ == 200, "e: /health %s" % st_)
    t_fix = time.time()
    front.which = "good"
    st = wait_for(lambda: (lambda x: x if x["queued"] <= 2 and
                           x["last_success_age_ms"] is not None and
                           x["last_success_age_ms"] <
                           (time.time() - t_fix) * 1000 else None)(cw()),
                  30, 0.25)
    ok(st is not None and front.handshakes_ok >= 1,
       "e: a trusted certificate: the queue is delivered",
       json.dumps(cw()))
    secs = periods(proxy, iid2)
    ok(secs and secs[0] <= t0 + 4 and not gaps(secs) and
       secs[-1] >= t_fix - 3,
       "e: every period since the start arrived (%d), none missing"
       % len(secs), gaps(secs)[:5])
    is_(cw()["dropped"], 0, "e: nothing dropped")
    ok(agent.stop() == 0, "agent e exits cleanly")


A.run(main)
