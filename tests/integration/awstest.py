# SPDX-License-Identifier: ISC
"""Shared harness for healthagent's Python integration tests that talk to
AWS peers: moto_server and tests/imds_emulator.py, all on 127.0.0.1.

  TAP          ok(), is_(), diag(), bail(), run(main) (a crash or a setup
               failure is a failure, never a skip; the plan comes last)
  processes    spawn() in their own session; every child is killed on exit,
               even after an exception or a signal; the temp dir goes too
               unless KEEP_TMP=1 (logs are printed when something failed)
  Moto         moto_server with signature and IAM checking on after an
               admin user is bootstrapped (INITIAL_NO_AUTH_ACTION_COUNT=3);
               boto3 clients, IAM users, roles, AssumeRole credentials,
               launch template + Auto Scaling groups
  Imds         tests/imds_emulator.py: start (optionally later, on a port
               reserved now), /_control, /_control/stats
  CwProxy      a proxy in front of moto for CloudWatch: checks SigV4 over
               gzipped bodies itself (moto gunzips before it checks), can
               inject 503s, throttling and dropped connections, and records
               the PutMetricData forms moto accepted
  Agent        writes a config (from a dict or a text), runs the real
               healthagent with a clean environment (no AWS_* or proxies of
               the caller, only loopback endpoints), status --json, /health

Importing this module scrubs AWS_* and proxy variables from the process
environment and disables IMDS for boto3, so nothing the test itself does
can reach a real endpoint. Every address used is on loopback.
"""

import atexit
import calendar
import email.utils
import gzip
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections import namedtuple

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("top_builddir") or "."
HEALTHAGENT = os.environ.get("HEALTHAGENT")
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy",
              "ftp_proxy")
# Where an endpoint nobody set would go: the discard port, refused.
NOWHERE = "http://127.0.0.1:9"

Keys = namedtuple("Keys", "akid secret token", defaults=(None,))


def clean_env():
    """os.environ without AWS_* and proxy variables."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and k.lower() not in PROXY_VARS}


# Nothing this process or boto3 does may reach a real endpoint or IMDS.
_env = clean_env()
os.environ.clear()
os.environ.update(_env)
del _env
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/config"
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost,::1"

# ---------------------------------------------------------------- TAP

_n = 0
_failed = 0
_planned = False


def ok(cond, desc, diag_=None):
    """One TAP line; diag_ (anything, str()'d) is printed on failure."""
    global _n, _failed
    _n += 1
    print("%sok %d - %s" % ("" if cond else "not ", _n, desc), flush=True)
    if not cond:
        _failed += 1
        if diag_ is not None:
            for line in str(diag_).splitlines()[-60:]:
                print("#   " + line, flush=True)
    return bool(cond)


def is_(got, want, desc):
    return ok(got == want, desc, "got:  %r\nwant: %r" % (got, want))


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def failures():
    return _failed


def bail(msg):
    """Abort: a missing tool or a broken setup is a failure, not a skip."""
    print("Bail out! " + msg, flush=True)
    sys.exit(1)


def _plan():
    global _planned
    if not _planned:
        _planned = True
        print("1..%d" % _n, flush=True)


class Interrupted(BaseException):
    """A signal: not an Exception, so polling loops do not swallow it."""


def _on_signal(sig, _frame):
    raise Interrupted("signal %d" % sig)


def run(main):
    """Run main(); an exception is a failed test with its traceback.
    Then clean up, print the plan and exit (1 if anything failed)."""
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _on_signal)
    try:
        main()
    except SystemExit:
        cleanup()
        raise
    except BaseException as e:  # noqa: BLE001 - report, never hang
        ok(False, "the test ran to the end (%s: %s)"
           % (type(e).__name__, e), traceback.format_exc())
    cleanup()
    _plan()
    sys.exit(1 if _failed else 0)


# ---------------------------------------------------------------- setup

_boto = None


def require(healthagent=True, driver=False):
    """Bail out unless moto_server, boto3 (and the binaries asked for)
    are there. Returns the path of tests/aws_driver when driver=True."""
    global _boto
    if healthagent and (not HEALTHAGENT or not os.access(HEALTHAGENT,
                                                          os.X_OK)):
        bail("HEALTHAGENT must point at the built binary")
    drv = None
    if driver:
        drv = os.environ.get("AWS_DRIVER") or os.path.join(
            BUILDDIR, "tests", "aws_driver")
        if not os.access(drv, os.X_OK):
            bail("the test driver %s is not built" % drv)
    if shutil.which("moto_server") is None:
        bail("required tool 'moto_server' is not installed")
    try:
        import boto3
        import botocore.auth
        import botocore.awsrequest
        import botocore.config
        import botocore.credentials
        import botocore.exceptions
    except ImportError:
        bail("required python module boto3 is not installed")
    _boto = boto3
    return drv


def _boto3():
    if _boto is None:
        require(healthagent=False)
    return _boto


def client_error():
    """botocore's ClientError class (boto3 is imported on demand)."""
    _boto3()
    import botocore.exceptions
    return botocore.exceptions.ClientError


def error_code(exc):
    """The AWS error code of a botocore ClientError, else its text."""
    r = getattr(exc, "response", None)
    if isinstance(r, dict):
        return r.get("Error", {}).get("Code", "")
    return str(exc)


_tmp = None


def tmpdir():
    global _tmp
    if _tmp is None:
        name = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "test"
        _tmp = tempfile.mkdtemp(prefix="ha-%s." % name)
    return _tmp


def path(*parts):
    return os.path.join(tmpdir(), *parts)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(fn, timeout, step=0.1):
    """Poll fn() until it returns something true (returned) or timeout
    seconds pass (None). Exceptions count as not yet."""
    end = time.monotonic() + timeout
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # noqa: BLE001 - polling until it works
            pass
        if time.monotonic() >= end:
            return None
        time.sleep(step)


def http_req(url, method="GET", body=None, headers=None, timeout=5):
    """(status, body bytes); HTTP errors are answers, not exceptions."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def read(p):
    try:
        with open(p, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ---------------------------------------------------------------- processes

_procs = []
_logs = []  # (label, path, lines) printed when a test failed


def spawn(argv, env=None, log=None, label=None, tail=60):
    """Start argv in a session of its own, output to log (a path, kept in
    the temp dir and printed at the end if a test failed)."""
    out = open(log, "w") if log else subprocess.DEVNULL
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True)
    if log:
        out.close()
        if all(lp != log for _, lp, _ in _logs):
            _logs.append((label or os.path.basename(log), log, tail))
    _procs.append(p)
    return p


def _killpg(p, sig):
    try:
        os.killpg(p.pid, sig)  # its own session: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Signal p, wait; SIGKILL its group after timeout. Its exit code,
    or None if it had to be killed."""
    if p.poll() is not None:
        _killpg(p, signal.SIGKILL)
        return p.returncode
    try:
        p.send_signal(sig)
    except ProcessLookupError:
        pass
    try:
        rc = p.wait(timeout)
    except subprocess.TimeoutExpired:
        _killpg(p, signal.SIGKILL)
        p.wait()
        rc = None
    _killpg(p, signal.SIGKILL)  # leftovers in its group
    return rc


def cleanup():
    """Kill every child, print the logs if a test failed, remove the temp
    dir (unless KEEP_TMP=1). Idempotent; also runs at exit."""
    global _tmp
    live = [p for p in _procs if p.poll() is None]
    for p in live:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + 5
    for p in live:
        try:
            p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in _procs:
        _killpg(p, signal.SIGKILL)
        if p.poll() is None:
            p.wait()
    del _procs[:]
    if _failed:
        for label, lp, tail in _logs:
            lines = read(lp).splitlines()
            if lines:
                print("# %s (last %d lines):" % (label, min(tail,
                                                           len(lines))))
                for line in lines[-tail:]:
                    print("#   " + line)
        sys.stdout.flush()
    del _logs[:]
    if _tmp is not None:
        if os.environ.get("KEEP_TMP") == "1":
            print("# kept " + _tmp, flush=True)
        else:
            shutil.rmtree(_tmp, ignore_errors=True)
        _tmp = None


atexit.register(cleanup)

# ---------------------------------------------------------------- moto


def policy(actions):
    """An Allow-all-resources policy document for actions. moto 5.2.1
    checks CloudWatch actions under the signing name ("monitoring:"),
    AWS under "cloudwatch:": each such action is listed both ways."""
    out = []
    for a in actions:
        svc, _, act = a.partition(":")
        twins = [a]
        if svc == "cloudwatch":
            twins.append("monitoring:" + act)
        elif svc == "monitoring":
            twins.append("cloudwatch:" + act)
        for t in twins:
            if t not in out:
                out.append(t)
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": out, "Resource": "*"}]})


class Moto:
    """moto_server on 127.0.0.1. The first three requests go through
    unauthenticated and create an admin user (Action "*"); after them moto
    checks every signature and IAM permission, and the admin's keys sign
    all further setup."""

    BOOTSTRAP_CALLS = 3

    def __init__(self, name="moto"):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        env = dict(clean_env(), AWS_EC2_METADATA_DISABLED="true",
                   INITIAL_NO_AUTH_ACTION_COUNT=str(self.BOOTSTRAP_CALLS))
        self.proc = spawn(["moto_server", "-H", "127.0.0.1", "-p",
                           str(self.port)], env=env,
                          log=path(name + ".log"), tail=30)
        if not wait_for(lambda: http_req(self.url + "/moto-api/",
                                         timeout=2)[0] == 200, 30, 0.1):
            bail("moto_server did not start")
        self._lt = None
        iam = self.client("iam", Keys("AKIABOOTSTRAP0000000", "bootstrap"))
        iam.create_user(UserName="admin")
        iam.put_user_policy(UserName="admin", PolicyName="all",
                            PolicyDocument=json.dumps({
                                "Version": "2012-10-17",
                                "Statement": [{"Effect": "Allow",
                                               "Action": "*",
                                               "Resource": "*"}]}))
        k = iam.create_access_key(UserName="admin")["AccessKey"]
        self.admin = Keys(k["AccessKeyId"], k["SecretAccessKey"])

    def client(self, svc, keys=None, attempts=2):
        import botocore.config
        keys = keys or self.admin
        return _boto3().client(
            svc, region_name=REGION, endpoint_url=self.url,
            aws_access_key_id=keys.akid, aws_secret_access_key=keys.secret,
            aws_session_token=keys.token,
            config=botocore.config.Config(retries={
                "max_attempts": attempts, "mode": "standard"}))

    def enforcing(self):
        """The error code moto gives a call with a wrong secret (expected:
        SignatureDoesNotMatch), or "" if it let the call through. The wrong
        secret differs from the real one in its first character for sure;
        a call that goes through is tried again a few times, so that a
        moment of lag in moto's request counting on a loaded machine is not
        taken for a moto that checks nothing."""
        first = "y" if self.admin.secret[:1] == "x" else "x"
        bad = Keys(self.admin.akid, first + self.admin.secret[1:])
        for _ in range(5):
            try:
                self.client("iam", bad, attempts=1).list_users()
            except client_error() as e:
                return error_code(e)
            time.sleep(0.5)
        return ""

    def user(self, name, actions):
        """An IAM user allowed exactly actions; its access key."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name,
                            PolicyDocument=policy(actions))
        k = iam.create_access_key(UserName=name)["AccessKey"]
        return Keys(k["AccessKeyId"], k["SecretAccessKey"])

    def role(self, name, actions, principal=None):
        """A role allowed actions, assumable by principal (an ARN; default
        the admin user: moto checks the trust policy against the caller
        exactly); its ARN."""
        iam = self.client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow",
             "Principal": {"AWS": principal or
                           "arn:aws:iam::%s:user/admin" % ACCOUNT},
             "Action": "sts:AssumeRole"}]})
        arn = iam.create_role(RoleName=name,
                              AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        pol = iam.create_policy(PolicyName=name + "-policy",
                                PolicyDocument=policy(actions))
        iam.attach_role_policy(RoleName=name,
                               PolicyArn=pol["Policy"]["Arn"])
        return arn

    def assume(self, role_arn, keys=None, session="healthagent",
               duration=900):
        """STS temporary credentials (an ASIA key and a session token)
        from AssumeRole. moto 5.2.1's GetSessionToken answers a fixed key
        that moto itself rejects; AssumeRole keys are checked exactly."""
        c = self.client("sts", keys).assume_role(
            RoleArn=role_arn, RoleSessionName=session,
            DurationSeconds=duration)["Credentials"]
        return Keys(c["AccessKeyId"], c["SecretAccessKey"],
                    c["SessionToken"])

    def group(self, name, n, az=REGION + "a"):
        """An Auto Scaling group of n instances (one shared launch
        template); its instance ids."""
        asg = self.client("autoscaling")
        if self._lt is None:
            ec2 = self.client("ec2")
            ami = ec2.describe_images()["Images"][0]["ImageId"]
            self._lt = "healthagent-test"
            ec2.create_launch_template(
                LaunchTemplateName=self._lt,
                LaunchTemplateData={"ImageId": ami,
                                    "InstanceType": "t3.micro"})
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=n, MaxSize=n,
            DesiredCapacity=n, AvailabilityZones=[az],
            LaunchTemplate={"LaunchTemplateName": self._lt})
        g = asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return [i["InstanceId"] for i in g["Instances"]]

    def health_of(self, iid):
        r = self.client("autoscaling").describe_auto_scaling_instances(
            InstanceIds=[iid])
        return r["AutoScalingInstances"][0]["HealthStatus"].upper()

    def stop(self):
        return stop(self.proc)


# ---------------------------------------------------------------- IMDS


class Imds:
    """tests/imds_emulator.py on 127.0.0.1. With start=False only the port
    is reserved (the agent sees connection refused) until start()."""

    def __init__(self, state=None, port=None, start=True, name="imds"):
        self.name = name
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.state0 = state
        if start:
            self.start()

    def start(self, state=None):
        pf = path(self.name + ".port")
        if os.path.exists(pf):
            os.unlink(pf)
        argv = [sys.executable, os.path.join(SRCDIR, "tests",
                                             "imds_emulator.py"),
                "--port", str(self.port), "--port-file", pf,
                "--watch-pid", str(os.getpid())]
        st = state if state is not None else self.state0
        if st:
            argv += ["--set", json.dumps(st)]
        self.proc = spawn(argv, env=clean_env(),
                          log=path(self.name + ".log"), tail=20)
        if not wait_for(lambda: read(pf).strip() or
                        self.proc.poll() is not None, 10) or \
                self.proc.poll() is not None:
            bail("imds_emulator.py did not start: %s"
                 % read(path(self.name + ".log"))[-300:])
        self.port = int(read(pf).split()[-1])
        self.url = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def control(self, **kw):
        """POST /_control with kw; the new state."""
        st, body = http_req(self.url + "/_control", "POST", kw)
        if st != 200:
            raise RuntimeError("imds /_control %s: %s" % (st, body[:200]))
        return json.loads(body)

    def state(self):
        return json.loads(http_req(self.url + "/_control")[1])

    def stats(self):
        return json.loads(http_req(self.url + "/_control/stats")[1])

    def creds_fetches(self, role=None):
        """GETs of the role's credentials document so far."""
        role = role or self.state()["role"]
        p = "/latest/meta-data/iam/security-credentials/" + role
        return self.stats()["requests"].get("GET " + p, 0)

    def serve(self, keys, **kw):
        """Serve keys as the role credentials (plus other state in kw)."""
        return self.control(access_key_id=keys.akid,
                            secret_access_key=keys.secret,
                            token=keys.token, **kw)


# ---------------------------------------------------------------- CW proxy

ERR_XML = ("<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/"
           "2010-08-01/\"><Error><Type>%s</Type><Code>%s</Code><Message>"
           "%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>")


def _sig_parts(headers):
    authz = headers.get("Authorization", "")
    if not authz.startswith("AWS4-HMAC-SHA256 "):
        raise ValueError("not SigV4: %r" % authz[:40])
    parts = dict(p.strip().split("=", 1)
                 for p in authz[len("AWS4-HMAC-SHA256 "):].split(","))
    ak, _, region, service, _ = parts["Credential"].split("/")
    return parts, ak, region, service


def sigv4_check(headers, body, secret):
    """Recompute the request's SigV4 signature with botocore's signer, as
    AWS does: over the bytes sent (compressed if gzipped), with the
    session token the request carries. Returns (access key, region,
    service) or raises ValueError."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    parts, ak, region, service = _sig_parts(headers)
    signed = parts["SignedHeaders"].split(";")
    hdrs = {k: v for k, v in headers.items() if k.lower() in signed}
    req = AWSRequest(method="POST", url="http://%s/" % headers["Host"],
                     data=body, headers=hdrs)
    req.context["timestamp"] = headers["X-Amz-Date"]
    auth = SigV4Auth(Credentials(ak, secret,
                                 headers.get("X-Amz-Security-Token")),
                     service, region)
    want = auth.signature(auth.string_to_sign(
        req, auth.canonical_request(req)), req)
    if want != parts["Signature"]:
        raise ValueError("signature mismatch")
    if "content-encoding" not in signed:
        raise ValueError("Content-Encoding not signed")
    return ak, region, service


class CwProxy:
    """Forwards to moto, or injects faults (mode "pass", "503", "throttle",
    "drop"; "hang": read the request and answer nothing until the mode
    changes; "reset": read the request and close with a TCP RST). With
    skew = N (seconds, 0 = off) the proxy's clock runs N s ahead of the
    real one: its replies carry that Date, and a request whose X-Amz-Date
    is more than 5 minutes off that clock is answered 400
    RequestTimeTooSkewed (SigV4 as AWS checks it); an accepted request is
    re-signed at the real time (its key must be registered with add_key)
    before it goes to moto. moto_server 5.2.1 gunzips request bodies before its own SigV4
    check and then hashes the decompressed bytes, so it rejects a
    correctly signed gzipped request. A gzipped request signed with a key
    registered here (add_key) is therefore verified here (signature over
    the compressed bytes, as AWS does; a mismatch answers 403
    SignatureDoesNotMatch) and forwarded decompressed, re-signed with the
    same key and the session token it carried, so moto still checks the
    key, the token and IAM. Everything else goes to moto untouched and
    moto checks it itself."""

    def __init__(self, moto, keys=()):
        self.upstream = moto.port
        self.secrets = {}
        for k in keys:
            self.add_key(k)
        self.mode = "pass"
        self.skew = 0
        self.arrivals = []  # (monotonic time, Action, mode) of every POST
        self.lock = threading.Lock()
        self.gzipped = 0  # gzipped requests whose signature verified
        self.plain = 0  # requests forwarded as signed by the agent
        self.bad_sig = []
        self.delivered = []  # (arrival, form) of accepted PutMetricData
        self.injected = {"503": 0, "throttle": 0, "drop": 0, "hang": 0,
                         "reset": 0, "skew": 0}
        self.statuses = []  # moto's answers, in order
        self.codes = []  # error codes answered (by moto or by us)
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def date_time_string(self, timestamp=None):
                return email.utils.formatdate(
                    (timestamp or time.time()) + proxy.skew, usegmt=True)

            def answer(self, st, data, headers=()):
                self.send_response(st)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def error(self, st, typ, code, msg):
                with proxy.lock:
                    proxy.codes.append(code)
                self.answer(st, (ERR_XML % (typ, code, msg, "r-proxy"))
                            .encode(), [("Content-Type", "text/xml")])

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n > 0 else b""
                mode = proxy.mode
                try:
                    action = dict(urllib.parse.parse_qsl(
                        gzip.decompress(body).decode() if "gzip" in
                        self.headers.get("Content-Encoding", "")
                        else body.decode())).get("Action", "?")
                except (OSError, ValueError, EOFError):
                    action = "?"
                with proxy.lock:
                    proxy.arrivals.append((time.monotonic(), action, mode))
                if mode == "hang":
                    with proxy.lock:
                        proxy.injected["hang"] += 1
                    while proxy.mode == "hang":
                        time.sleep(0.05)
                    self.close_connection = True
                    return
                if mode == "reset":
                    with proxy.lock:
                        proxy.injected["reset"] += 1
                    self.close_connection = True
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if mode == "drop":
                    with proxy.lock:
                        proxy.injected["drop"] += 1
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if mode == "503":
                    with proxy.lock:
                        proxy.injected["503"] += 1
                    self.error(503, "Receiver", "ServiceUnavailable",
                               "injected outage")
                    return
                if mode == "throttle":
                    with proxy.lock:
                        proxy.injected["throttle"] += 1
                    self.error(400, "Sender", "Throttling", "Rate exceeded")
                    return
                fwd_body, fwd_headers = body, list(self.headers.items())
                gz = "gzip" in self.headers.get("Content-Encoding", "")
                if proxy.skew:
                    try:
                        sent = calendar.timegm(time.strptime(
                            self.headers.get("X-Amz-Date", ""),
                            "%Y%m%dT%H%M%SZ"))
                    except ValueError:
                        sent = 0
                    if abs(sent - (time.time() + proxy.skew)) > 300:
                        with proxy.lock:
                            proxy.injected["skew"] += 1
                        self.error(400, "Sender", "RequestTimeTooSkewed",
                                   "The difference between the request "
                                   "time and the current time is too "
                                   "large.")
                        return
                    ak = _sig_parts(self.headers)[1]
                    if ak not in proxy.secrets:
                        self.error(403, "Sender", "InvalidClientTokenId",
                                   "proxy: unknown key for skew mode")
                        return
                    fwd_body, fwd_headers = self.resign(body, ak, REGION,
                                                        _sig_parts(
                                                            self.headers)[3],
                                                        gz)
                    with proxy.lock:
                        proxy.plain += 1
                    self.forward(fwd_body, fwd_headers)
                    return
                ak = None
                if gz:
                    try:
                        ak = _sig_parts(self.headers)[1]
                    except (ValueError, KeyError):
                        pass
                if gz and ak in proxy.secrets:
                    try:
                        ak, region, service = sigv4_check(
                            self.headers, body, proxy.secrets[ak])
                    except (ValueError, KeyError) as e:
                        with proxy.lock:
                            proxy.bad_sig.append(str(e))
                        self.error(403, "Sender", "SignatureDoesNotMatch",
                                   "proxy: %s" % e)
                        return
                    fwd_body, fwd_headers = self.resign(body, ak, region,
                                                        service, True)
                    with proxy.lock:
                        proxy.gzipped += 1
                else:
                    with proxy.lock:
                        proxy.plain += 1
                self.forward(fwd_body, fwd_headers)

            def resign(self, body, ak, region, service, gz):
                from botocore.auth import SigV4Auth
                from botocore.awsrequest import AWSRequest
                from botocore.credentials import Credentials
                plain = gzip.decompress(body) if gz else body
                host = self.headers["Host"]
                req = AWSRequest(method="POST", url="http://%s/" % host,
                                 data=plain, headers={
                                     "Content-Type":
                                     self.headers["Content-Type"]})
                SigV4Auth(Credentials(ak, proxy.secrets[ak],
                                      self.headers.get(
                                          "X-Amz-Security-Token")),
                          service, region).add_auth(req)
                hdrs = [("Host", host)] + list(req.headers.items())
                hdrs.append(("Content-Length", str(len(plain))))
                return plain, hdrs

            def forward(self, body, headers):
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream,
                                               timeout=30)
                c.putrequest("POST", self.path, skip_host=True,
                             skip_accept_encoding=True)
                for k, v in headers:
                    c.putheader(k, v)
                c.endheaders(body)
                r = c.getresponse()
                data = r.read()
                c.close()
                with proxy.lock:
                    proxy.statuses.append(r.status)
                    if r.status != 200:
                        proxy.codes.append(_xml_code(data))
                if r.status == 200:
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    if form.get("Action") == "PutMetricData":
                        with proxy.lock:
                            proxy.delivered.append((time.time(), form))
                self.answer(r.status, data, [
                    (k, v) for k, v in r.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection",
                                         "content-length", "date",
                                         "server")])

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def add_key(self, keys):
        self.secrets[keys.akid] = keys.secret

    def delivered_datums(self, since=0.0):
        """Every datum of the accepted PutMetricData forms that arrived
        at or after since, in arrival order."""
        with self.lock:
            forms = [f for t, f in self.delivered if t >= since]
        return [d for f in forms for d in datums(f)]


def _xml_code(data):
    s = data.decode(errors="replace")
    i = s.find("<Code>")
    j = s.find("</Code>", i)
    return s[i + 6:j] if i >= 0 and j > i else "HTTP error"


def datums(form):
    """The MetricData members of a PutMetricData form as dicts, with the
    dimensions as "dims": {name: value}."""
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


# ---------------------------------------------------------------- the agent


def _cfg_value(v, indent):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        pad = "  " * (indent + 1)
        inner = "".join("%s%s = %s;\n" % (pad, k, _cfg_value(x, indent + 1))
                        for k, x in v.items())
        return "{\n%s%s}" % (inner, "  " * indent)
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) for x in v):
            pad = "  " * (indent + 1)
            return "(\n%s\n%s)" % (",\n".join(
                pad + _cfg_value(x, indent + 1) for x in v), "  " * indent)
        return "[" + ", ".join(_cfg_value(x, indent) for x in v) + "]"
    raise TypeError("cannot write %r into a config" % (v,))


def conf_text(d):
    """libconfig text for a dict of groups, lists and scalars."""
    return "".join("%s = %s;\n" % (k, _cfg_value(v, 0)) for k, v in d.items())


def agent_env(imds=None, endpoint=None, cloudwatch=None, autoscaling=None,
              keys=None, fast=True, extra=None):
    """The agent's environment: the caller's without AWS_* or proxies;
    IMDS at imds (an Imds, a URL, or None = disabled); every AWS endpoint
    on loopback (unset ones go to a closed port); keys (a Keys) in
    AWS_ACCESS_KEY_ID etc. if given; no shared files; fast backoff."""
    env = clean_env()
    env["HOME"] = tmpdir()
    env["AWS_SHARED_CREDENTIALS_FILE"] = path("no-credentials")
    env["AWS_CONFIG_FILE"] = path("no-config")
    if imds is None:
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    else:
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = getattr(imds, "url", imds)
    env["AWS_ENDPOINT_URL"] = getattr(endpoint, "url", endpoint) or NOWHERE
    if cloudwatch is not None:
        env["AWS_ENDPOINT_URL_CLOUDWATCH"] = getattr(cloudwatch, "url",
                                                     cloudwatch)
    if autoscaling is not None:
        env["AWS_ENDPOINT_URL_AUTO_SCALING"] = getattr(autoscaling, "url",
                                                       autoscaling)
    if keys is not None:
        env["AWS_ACCESS_KEY_ID"] = keys.akid
        env["AWS_SECRET_ACCESS_KEY"] = keys.secret
        if keys.token:
            env["AWS_SESSION_TOKEN"] = keys.token
    if fast:
        env["HEALTHAGENT_TEST_FAST"] = "1"
    env.update(extra or {})
    for k, v in env.items():
        if k.startswith("AWS_ENDPOINT_URL") or \
                k == "AWS_EC2_METADATA_SERVICE_ENDPOINT":
            host = urllib.parse.urlsplit(v).hostname
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise ValueError("%s=%s is not loopback" % (k, v))
    return env


class Agent:
    """The real healthagent. conf is a dict (health.listen, agent.socket,
    agent.state_dir and agent.log_level = debug are filled in unless set)
    or a text with {port}, {sock} and {state} placeholders. prefix: an
    argv that execs the rest (a wrapper such as unshare), or None."""

    def __init__(self, name, conf, env, start=True, state=None,
                 prefix=None):
        self.name = name
        self.prefix = list(prefix or [])  # argv run before the agent's
        self.port = free_port()
        self.sock = path(name + ".sock")
        self.log = path(name + ".log")
        self.state_dir = state or path("state-" + name)
        self.conf = path(name + ".conf")
        self.env = env
        self.proc = None
        if isinstance(conf, dict):
            d = {"health": {"listen": "127.0.0.1:%d" % self.port,
                            "start_grace": 0},
                 "agent": {"socket": self.sock, "log_level": "debug",
                           "state_dir": self.state_dir}}
            for k, v in conf.items():
                if isinstance(v, dict) and isinstance(d.get(k), dict):
                    d[k].update(v)
                else:
                    d[k] = v
            text = conf_text(d)
        else:
            text = conf.format(port=self.port, sock=self.sock,
                               state=self.state_dir)
        with open(self.conf, "w") as f:
            f.write(text)
        if start:
            self.start()

    def start(self, timeout=10):
        """Run it and wait for its control socket; raises if it exits."""
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = spawn(self.prefix + [HEALTHAGENT, "run", "-f",
                                         self.conf],
                          env=self.env, log=self.log, label="agent " +
                          self.name + " log")
        if not wait_for(lambda: os.path.exists(self.sock) or
                        self.proc.poll() is not None, timeout) or \
                self.proc.poll() is not None:
            ok(False, "agent %s started" % self.name, self.logtext())
            raise RuntimeError("agent %s did not start" % self.name)
        return self

    def status(self):
        r = subprocess.run([HEALTHAGENT, "status", "--json", "-s",
                            self.sock], capture_output=True, timeout=5,
                           env=self.env)
        return json.loads(r.stdout)

    def section(self, key):
        """One part of status --json ("aws", "cloudwatch", ...), {} if
        absent."""
        return self.status().get(key) or {}

    def health(self, path_="/health"):
        """(HTTP status, body) of the health endpoint."""
        st, body = http_req("http://127.0.0.1:%d%s" % (self.port, path_),
                            timeout=3)
        return st, body.decode(errors="replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def logtext(self):
        return read(self.log)

    def stop(self, timeout=20):
        """SIGTERM and wait: the exit code (None if it had to be killed,
        or was never started)."""
        if self.proc is None:
            return None
        return stop(self.proc, timeout=timeout)
