#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""CloudWatch metrics end to end, printing TAP.

The real agent publishes to moto_server (loopback, SigV4 and IAM checked
after the setup calls) through a small proxy of ours that can inject 503s,
throttling and dropped connections. boto3 reads back what arrived: names,
dimensions, units and values (memory within a point of /proc/meminfo).
Then CloudWatch "goes down" for a stretch; afterwards every period must
arrive, in order, with its original timestamp, and nothing is dropped.

Needs: HEALTHAGENT (the built binary), python3 with boto3, moto_server.
"""
import calendar
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

tap_n = 0
tap_failed = 0


def ok(cond, desc, diag=None):
    global tap_n, tap_failed
    tap_n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (tap_n, desc))
    if not cond:
        tap_failed += 1
        if diag is not None:
            for line in str(diag).splitlines():
                print("#   " + line)
    sys.stdout.flush()
    return cond


def bail(msg):
    print("Bail out! " + msg)
    sys.exit(1)


HEALTHAGENT = os.environ.get("HEALTHAGENT")
if not HEALTHAGENT or not os.access(HEALTHAGENT, os.X_OK):
    bail("HEALTHAGENT must point at the built binary")
MOTO = shutil.which("moto_server")
if MOTO is None:
    bail("required tool 'moto_server' is not installed")
try:
    import boto3
    import botocore.config
    import botocore.exceptions
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    bail("required python module boto3 is not installed")

REGION = "us-east-1"
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

T = tempfile.mkdtemp(prefix="ha-cw.")
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if tap_failed and os.path.exists(os.path.join(T, "agent.log")):
        print("# agent log (tail):")
        with open(os.path.join(T, "agent.log"), errors="replace") as f:
            for line in f.readlines()[-60:]:
                print("#   " + line.rstrip())
    shutil.rmtree(T, ignore_errors=True)


def wait_for(secs, fn, step=0.1):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(step)
    return None


# ---- the fault-injecting proxy in front of moto ----

ERR_XML = ("<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/"
           "2010-08-01/\"><Error><Type>%s</Type><Code>%s</Code><Message>"
           "%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>")


def sigv4_check(headers, body, secrets):
    """Recompute the request's SigV4 signature with botocore's signer, as
    AWS does: over the bytes sent (compressed if gzipped). Returns
    (access key, region, service) or raises ValueError."""
    authz = headers.get("Authorization", "")
    if not authz.startswith("AWS4-HMAC-SHA256 "):
        raise ValueError("not SigV4: %r" % authz[:40])
    parts = dict(p.strip().split("=", 1)
                 for p in authz[len("AWS4-HMAC-SHA256 "):].split(","))
    ak, _, region, service, _ = parts["Credential"].split("/")
    signed = parts["SignedHeaders"].split(";")
    if ak not in secrets:
        raise ValueError("unknown access key")
    hdrs = {k: v for k, v in headers.items() if k.lower() in signed}
    req = AWSRequest(method="POST", url="http://%s/" % headers["Host"],
                     data=body, headers=hdrs)
    req.context["timestamp"] = headers["X-Amz-Date"]
    auth = SigV4Auth(Credentials(ak, secrets[ak],
                                 headers.get("X-Amz-Security-Token")),
                     service, region)
    want = auth.signature(auth.string_to_sign(
        req, auth.canonical_request(req)), req)
    if want != parts["Signature"]:
        raise ValueError("signature mismatch")
    if "content-encoding" not in signed:
        raise ValueError("Content-Encoding not signed")
    return ak, region, service


class Proxy:
    """Forwards to moto, or injects faults. moto_server 5.2.1 gunzips
    request bodies before its own SigV4 check and then hashes the
    decompressed bytes, so it rejects a correctly signed gzipped request.
    A gzipped request is therefore verified here (signature over the
    compressed bytes, as AWS does) and forwarded decompressed, re-signed
    with the same key; smaller requests go to moto untouched and moto
    checks their signatures itself."""

    def __init__(self, upstream_port, secrets):
        self.upstream = upstream_port
        self.secrets = secrets
        self.mode = "pass"  # pass, 503, throttle, drop
        self.lock = threading.Lock()
        self.gzipped = 0  # gzipped requests whose signature verified
        self.plain = 0  # requests forwarded as signed by the agent
        self.bad_sig = []
        self.delivered = []  # (arrival, form dict) of PutMetricData that moto accepted
        self.injected = {"503": 0, "throttle": 0, "drop": 0}
        self.statuses = []
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n > 0 else b""
                mode = proxy.mode
                if mode == "drop":
                    with proxy.lock:
                        proxy.injected["drop"] += 1
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if mode in ("503", "throttle"):
                    with proxy.lock:
                        proxy.injected[mode] += 1
                    if mode == "503":
                        st, x = 503, ERR_XML % ("Receiver",
                                                "ServiceUnavailable",
                                                "injected outage", "r-503")
                    else:
                        st, x = 400, ERR_XML % ("Sender", "Throttling",
                                                "Rate exceeded", "r-thr")
                    data = x.encode()
                    self.send_response(st)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                fwd_body, fwd_headers = body, list(self.headers.items())
                gz = "gzip" in self.headers.get("Content-Encoding", "")
                if gz:
                    try:
                        ak, region, service = sigv4_check(
                            self.headers, body, proxy.secrets)
                    except (ValueError, KeyError) as e:
                        with proxy.lock:
                            proxy.bad_sig.append(str(e))
                        data = (ERR_XML % ("Sender", "SignatureDoesNotMatch",
                                           "proxy: %s" % e, "r-sig")).encode()
                        self.send_response(403)
                        self.send_header("Content-Type", "text/xml")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    fwd_body = gzip.decompress(body)
                    host = self.headers["Host"]
                    req = AWSRequest(method="POST", url="http://%s/" % host,
                                     data=fwd_body, headers={
                                         "Content-Type":
                                         self.headers["Content-Type"]})
                    SigV4Auth(Credentials(ak, proxy.secrets[ak]), service,
                              region).add_auth(req)
                    fwd_headers = [("Host", host)] + list(req.headers.items())
                    fwd_headers.append(("Content-Length", str(len(fwd_body))))
                    with proxy.lock:
                        proxy.gzipped += 1
                else:
                    with proxy.lock:
                        proxy.plain += 1
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream,
                                               timeout=30)
                c.putrequest("POST", self.path, skip_host=True,
                             skip_accept_encoding=True)
                for k, v in fwd_headers:
                    c.putheader(k, v)
                c.endheaders(fwd_body)
                r = c.getresponse()
                data = r.read()
                c.close()
                with proxy.lock:
                    proxy.statuses.append(r.status)
                if r.status == 200:
                    form = dict(urllib.parse.parse_qsl(fwd_body.decode()))
                    if form.get("Action") == "PutMetricData":
                        with proxy.lock:
                            proxy.delivered.append((time.time(), form))
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
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def datums(form):
    """The MetricData members of a form as dicts."""
    out = {}
    for k, v in form.items():
        if not k.startswith("MetricData.member."):
            continue
        rest = k[len("MetricData.member."):]
        n, _, field = rest.partition(".")
        out.setdefault(int(n), {})[field] = v
    res = []
    for n in sorted(out):
        d = out[n]
        dims = {}
        i = 1
        while "Dimensions.member.%d.Name" % i in d:
            dims[d["Dimensions.member.%d.Name" % i]] = \
                d["Dimensions.member.%d.Value" % i]
            i += 1
        d["dims"] = dims
        res.append(d)
    return res


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
    moto_port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    # Setup calls pass unauthenticated; /moto-api/reset-auth then turns
    # signature and IAM checks on for everything after them.
    menv = dict(env, INITIAL_NO_AUTH_ACTION_COUNT="1000")
    moto = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(moto_port)],
                            env=menv, stdout=open(os.path.join(T, "moto.log"), "w"),
                            stderr=subprocess.STDOUT)
    procs.append(moto)
    moto_url = "http://127.0.0.1:%d" % moto_port
    up = wait_for(20, lambda: urllib.request.urlopen(
        moto_url + "/moto-api/", timeout=2).status == 200)
    if not up:
        bail("moto_server did not start")

    cfg = botocore.config.Config(retries={"max_attempts": 2,
                                          "mode": "standard"})

    def client(svc, key="testing", secret="testing"):
        return boto3.client(svc, region_name=REGION, endpoint_url=moto_url,
                            aws_access_key_id=key,
                            aws_secret_access_key=secret, config=cfg)

    iam = client("iam")
    users = {}
    # moto evaluates CloudWatch actions under the signing name
    # ("monitoring:"); AWS uses "cloudwatch:". Both are listed.
    policies = {
        "agent": ["cloudwatch:PutMetricData", "monitoring:PutMetricData",
                  "autoscaling:DescribeAutoScalingInstances",
                  "autoscaling:DescribeAutoScalingGroups"],
        "reader": ["cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
                   "monitoring:GetMetricStatistics", "monitoring:ListMetrics"],
    }
    for u, actions in policies.items():
        iam.create_user(UserName=u)
        iam.put_user_policy(UserName=u, PolicyName=u, PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": actions,
                            "Resource": "*"}]}))
        k = iam.create_access_key(UserName=u)["AccessKey"]
        users[u] = (k["AccessKeyId"], k["SecretAccessKey"])
    ec2 = client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="cw-lt", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t3.micro"})
    asg = client("autoscaling")
    asg.create_auto_scaling_group(
        AutoScalingGroupName=ASG, MinSize=1, MaxSize=1, DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "cw-lt"},
        AvailabilityZones=[REGION + "a"])
    inst = asg.describe_auto_scaling_instances()[
        "AutoScalingInstances"][0]["InstanceId"]
    req = urllib.request.Request(moto_url + "/moto-api/reset-auth",
                                 data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=5).read()

    cw = client("cloudwatch", *users["reader"])
    bogus = client("cloudwatch", "AKIAIOSFODNN7EXAMPLE",
                   "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    try:
        bogus.list_metrics(Namespace=NAMESPACE)
        ok(False, "moto rejects unknown credentials (auth is on)")
    except botocore.exceptions.ClientError as e:
        ok(True, "moto rejects unknown credentials (%s)" %
           e.response["Error"]["Code"])

    proxy = Proxy(moto_port, {users["agent"][0]: users["agent"][1]})
    mem = MemSampler()
    mem.start()

    port = free_port()
    conf = os.path.join(T, "agent.conf")
    with open(conf, "w") as f:
        f.write("""
health: { listen = "127.0.0.1:%(port)d"; start_grace = 0; };
agent: { socket = "%(T)s/agent.sock"; log_level = "debug";
         state_dir = "%(T)s/state"; };
aws: { region = "%(region)s"; instance_id = "%(inst)s"; };
cloudwatch: { namespace = "%(ns)s"; interval = %(iv)d;
              storage_resolution = 1; };
checks = (
  { name = "up"; type = "exec"; command = ["/bin/true"]; interval = 1;
    timeout = 0.9; },
  { name = "down"; type = "exec"; command = ["/bin/false"]; interval = 1;
    timeout = 0.9; fall = 1; scope = "dependency"; }
);
""" % {"port": port, "T": T, "region": REGION, "inst": inst,
            "ns": NAMESPACE, "iv": INTERVAL})
    os.makedirs(os.path.join(T, "state"), exist_ok=True)
    aenv = dict(env)
    aenv.update({
        "HOME": T,
        "AWS_ACCESS_KEY_ID": users["agent"][0],
        "AWS_SECRET_ACCESS_KEY": users["agent"][1],
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(T, "no-credentials"),
        "AWS_CONFIG_FILE": os.path.join(T, "no-config"),
        "AWS_ENDPOINT_URL_CLOUDWATCH": "http://127.0.0.1:%d" % proxy.port,
        "AWS_ENDPOINT_URL_AUTO_SCALING": moto_url,
    })
    agent = subprocess.Popen([HEALTHAGENT, "run", "-f", conf], env=aenv,
                             stdout=open(os.path.join(T, "agent.log"), "w"),
                             stderr=subprocess.STDOUT)
    procs.append(agent)
    sock = os.path.join(T, "agent.sock")
    ok(wait_for(10, lambda: os.path.exists(sock)) is not None,
       "agent started")

    def status():
        out = subprocess.run([HEALTHAGENT, "status", "--json", "-s", sock],
                             capture_output=True, timeout=5, text=True)
        return json.loads(out.stdout)["cloudwatch"]

    def group_series_delivered():
        with proxy.lock:
            return any("AutoScalingGroupName" in d["dims"]
                       for _, f in proxy.delivered for d in datums(f))

    # ---- phase 1: metrics arrive ----
    st = wait_for(30, lambda: (status()["requests_ok"] >= 2 and
                               group_series_delivered()) and status(), 0.25)
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
    s = wait_for(25, lambda: (lambda x: x if x["requests_ok"] > ok_before + 1
                              and x["queued"] < 30 and
                              x["last_success_age_ms"] is not None and
                              x["last_success_age_ms"] <
                              (time.time() - t_restored) * 1000 else None)(
        status()), 0.25)
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

    agent.send_signal(signal.SIGTERM)
    try:
        rc = agent.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 0, "agent exits cleanly (%s)" % rc)


if __name__ == "__main__":
    try:
        main()
    finally:
        cleanup()
    print("1..%d" % tap_n)
    sys.exit(1 if tap_failed else 0)
