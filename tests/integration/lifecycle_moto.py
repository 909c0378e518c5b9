#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Lifecycle hooks and the drain, end to end, printing TAP.

The subject runs against moto_server on 127.0.0.1 (signatures and IAM
checked; the agent's user may only do DescribeAutoScalingInstances,
CompleteLifecycleAction and RecordLifecycleActionHeartbeat) and against
tests/imds_emulator.py for its identity, target lifecycle state and Spot
notices.

moto 5.2.1 keeps lifecycle hooks (PutLifecycleHook, DescribeLifecycleHooks)
but does not implement CompleteLifecycleAction or
RecordLifecycleActionHeartbeat, ignores the hooks when instances launch or
terminate, and so records nothing a test could read back. A proxy in front
of moto's Auto Scaling endpoint therefore forwards every request to moto
first: moto checks the SigV4 signature and the IAM permission and then
fails the two actions with a bare HTTP 500 ("not implemented"). Only then
does the proxy answer them itself, the way Auto Scaling does: against the
hooks the group has in moto and the lifecycle actions the test put on hold
(ValidationError "No active Lifecycle Action found" otherwise), recording
every call. A completed action moves the instance on (Pending:Wait ->
InService; ABANDON or a terminate hook -> the instance is terminated in
moto, which replaces it).

Scenarios:
  - a hook-held launch is heartbeated while the app fails and completes
    with CONTINUE once the check has passed rise (3) times, once;
  - a never-healthy instance completes with ABANDON after launch_timeout;
  - `healthagent drain` by hand: 503, drain_command, no hook call; undrain;
  - the target lifecycle state switching to Terminated: 503 at once, the
    drain_command, heartbeats, and the terminate hook completed with
    CONTINUE after drain_seconds; the agent keeps running, and refuses
    to undrain;
  - a Spot notice: the drain (drain_seconds 60) ends 10 s before the
    notice's time; the terminate hook that follows is completed at once.

The subject is the real daemon when it has lifecycle wired in (its status
has a "lifecycle" section), else tests/lifecycle_driver (the same modules
and configuration file on an event loop, see that file);
LIFECYCLE_SUBJECT=agent or =driver forces one. Nothing leaves loopback.
"""
import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_  # noqa: E402

A.require(healthagent=False)
DRIVER = os.environ.get("LIFECYCLE_DRIVER") or os.path.join(
    A.BUILDDIR, "tests", "lifecycle_driver")
GROUP = "web"
LAUNCH_HOOK = "launch-ready"
TERM_HOOK = "drain"
AS_NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
LC_ACTIONS = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# ---------------------------------------------------------------- the proxy


class LifecycleProxy:
    """Auto Scaling as far as lifecycle actions go, in front of moto."""

    def __init__(self, moto):
        self.upstream = moto.port
        self.asg = moto.client("autoscaling")
        self.lock = threading.Lock()
        self.pending = {}  # (group, hook, instance) -> transition
        self.state = {}  # instance -> lifecycle state as we model it
        self.calls = []  # dicts: t, action, form, status, code, akid
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, st, data, headers=()):
                self.send_response(st)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n) if n > 0 else b""
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream,
                                               timeout=30)
                c.putrequest("POST", self.path, skip_host=True,
                             skip_accept_encoding=True)
                for k, v in self.headers.items():
                    c.putheader(k, v)
                c.endheaders(body)
                r = c.getresponse()
                data = r.read()
                headers = [(k, v) for k, v in r.getheaders()
                           if k.lower() not in ("transfer-encoding",
                                                "connection",
                                                "content-length")]
                c.close()
                form = dict(urllib.parse.parse_qsl(body.decode()))
                action = form.get("Action", "")
                status = r.status
                if action in LC_ACTIONS and r.status == 500 and \
                        b"Internal Server Error" in data:
                    # Signature and IAM passed in moto; answer it here.
                    status, data = proxy.emulate(action, form)
                    headers = [("Content-Type", "text/xml")]
                rec = {"t": time.time(), "action": action, "form": form,
                       "status": status, "akid": akid_of(self.headers),
                       "code": "" if status == 200 else xml_code(data)}
                with proxy.lock:
                    proxy.calls.append(rec)
                self.answer(status, data, headers)

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def hold(self, group, hook, iid):
        """Put iid's action for hook on hold, as Auto Scaling does when
        it launches (Pending:Wait) or terminates (Terminating:Wait) it."""
        h = self.asg.describe_lifecycle_hooks(
            AutoScalingGroupName=group,
            LifecycleHookNames=[hook])["LifecycleHooks"]
        if not h:
            raise RuntimeError("group %s has no hook %s" % (group, hook))
        tr = h[0]["LifecycleTransition"]
        with self.lock:
            self.pending[(group, hook, iid)] = tr
            self.state[iid] = ("Pending:Wait" if tr.endswith("LAUNCHING")
                               else "Terminating:Wait")

    def emulate(self, action, f):
        key = (f.get("AutoScalingGroupName"), f.get("LifecycleHookName"),
               f.get("InstanceId"))
        with self.lock:
            tr = self.pending.get(key)
        if tr is None:
            return 400, err_xml("ValidationError",
                                "No active Lifecycle Action found with "
                                "instance ID %s" % key[2])
        if action == "RecordLifecycleActionHeartbeat":
            return 200, ok_xml(action)
        res = f.get("LifecycleActionResult")
        if res not in ("CONTINUE", "ABANDON"):
            return 400, err_xml("ValidationError",
                                "Invalid LifecycleActionResult %s" % res)
        with self.lock:
            del self.pending[key]
            launching = tr.endswith("LAUNCHING")
            if launching and res == "CONTINUE":
                self.state[key[2]] = "InService"
            else:
                self.state[key[2]] = ("Terminating" if launching
                                      else "Terminating:Proceed")
        if not (launching and res == "CONTINUE"):
            # The group goes on: the instance is terminated and replaced.
            self.asg.terminate_instance_in_auto_scaling_group(
                InstanceId=key[2], ShouldDecrementDesiredCapacity=False)
        return 200, ok_xml(action)

    def of(self, action, iid=None, hook=None, status=None):
        with self.lock:
            return [c for c in self.calls if c["action"] == action and
                    (iid is None or c["form"].get("InstanceId") == iid) and
                    (hook is None or
                     c["form"].get("LifecycleHookName") == hook) and
                    (status is None or c["status"] == status)]


def ok_xml(action):
    return ('<%sResponse xmlns="%s"><%sResult/><ResponseMetadata>'
            '<RequestId>proxy-1</RequestId></ResponseMetadata></%sResponse>'
            % (action, AS_NS, action, action)).encode()


def err_xml(code, msg):
    return ('<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s'
            '</Code><Message>%s</Message></Error><RequestId>proxy-2'
            '</RequestId></ErrorResponse>' % (AS_NS, code, msg)).encode()


def xml_code(data):
    s = data.decode(errors="replace")
    i, j = s.find("<Code>"), s.find("</Code>")
    return s[i + 6:j] if 0 <= i < j else "HTTP error"


def akid_of(headers):
    a = headers.get("Authorization", "")
    i = a.find("Credential=")
    return a[i + 11:].split("/")[0] if i >= 0 else ""


# ---------------------------------------------------------------- subjects


def config(name, ok_file, lifecycle, drain_seconds=2):
    """The configuration both subjects run with."""
    return {
        "health": {"start_grace": 0, "drain_seconds": drain_seconds},
        "agent": {"sample_interval": 0.2},
        "aws": {"region": A.REGION, "timeout": 5},
        "cloudwatch": {"enabled": False},
        "lifecycle": lifecycle,
        "checks": [{"name": "app", "type": "exec", "interval": 0.2,
                    "timeout": 0.2, "rise": 3, "fall": 1,
                    "command": ["/bin/sh", "-c", "test -e " + ok_file]}],
    }


class Driver:
    """tests/lifecycle_driver with the same configuration file."""

    def __init__(self, name, lifecycle, env, drain_seconds=2):
        self.name = name
        self.ok_file = A.path(name + ".ok")
        self.status_file = A.path(name + ".status")
        self.log = A.path(name + ".log")
        self.conf = A.path(name + ".conf")
        d = config(name, self.ok_file, lifecycle, drain_seconds)
        d["health"]["listen"] = "127.0.0.1:%d" % A.free_port()
        d["agent"].update(socket=A.path(name + ".sock"), log_level="debug",
                          state_dir=A.path("state-" + name))
        with open(self.conf, "w") as f:
            f.write(A.conf_text(d))
        self.proc = A.spawn([DRIVER, "-c", self.conf, "-f", self.ok_file,
                             "-s", self.status_file], env=env, log=self.log,
                            label="driver " + name + " log")
        if not A.wait_for(lambda: os.path.exists(self.status_file) or
                          self.proc.poll() is not None, 10) or \
                self.proc.poll() is not None:
            raise RuntimeError("driver %s did not start: %s"
                               % (name, A.read(self.log)[-500:]))

    def doc(self):
        return json.loads(A.read(self.status_file))

    def lc(self):
        return self.doc().get("lifecycle") or {}

    def code(self):
        ok_ = self.doc().get("state") in ("healthy", "degraded")
        return 200 if ok_ else 503

    def finished(self):
        return "drain_finished" in A.read(self.log)

    def _events(self, event):
        """The arguments of the driver's "<ms> event ..." lines so far."""
        pat = re.compile(r"^\d+ %s (.*)$" % event)
        return [m.group(1) for m in map(pat.match,
                                        A.read(self.log).splitlines()) if m]

    def _signal(self, sig, event):
        before = len(self._events(event))
        self.proc.send_signal(sig)
        got = A.wait_for(lambda: self._events(event)[before:], 5)
        return got[0] if got else "no answer"

    def drain(self):
        """(ok, answer) as `healthagent drain` would give them."""
        r = self._signal(signal.SIGUSR1, "drain")
        return r in ("0", "1"), r

    def undrain(self):
        r = self._signal(signal.SIGUSR2, "undrain")
        return r == "0", r

    def alive(self):
        return self.proc.poll() is None

    def logtext(self):
        return A.read(self.log)

    def stop(self):
        return A.stop(self.proc)


class Agent:
    """The real daemon."""

    def __init__(self, name, lifecycle, env, drain_seconds=2):
        self.name = name
        self.ok_file = A.path(name + ".ok")
        self.a = A.Agent(name, config(name, self.ok_file, lifecycle,
                                      drain_seconds), env)

    def lc(self):
        return self.a.section("lifecycle")

    def code(self):
        return self.a.health()[0]

    def finished(self):
        return "lifecycle: drain finished" in self.a.logtext()

    def _cli(self, cmd):
        r = subprocess.run([A.HEALTHAGENT, cmd, "-s", self.a.sock],
                             capture_output=True, timeout=5, env=self.a.env)
        return r.returncode == 0, (r.stdout + r.stderr).decode().strip()

    def drain(self):
        """(ok, answer) of `healthagent drain`."""
        return self._cli("drain")

    def undrain(self):
        return self._cli("undrain")

    def alive(self):
        return self.a.alive()

    def logtext(self):
        return self.a.logtext()

    def stop(self):
        """SIGTERM would drain for drain_seconds again; a second signal
        ends that at once ("SIGINT again: exiting now")."""
        p = self.a.proc
        if p is None or p.poll() is not None:
            return self.a.stop()
        p.send_signal(signal.SIGTERM)
        A.wait_for(lambda: "draining for" in self.a.logtext(), 3, 0.05)
        return A.stop(p, sig=signal.SIGINT)


def pick_subject():
    want = os.environ.get("LIFECYCLE_SUBJECT", "")
    if want not in ("", "agent", "driver"):
        A.bail("LIFECYCLE_SUBJECT must be agent or driver")
    have_agent = A.HEALTHAGENT and os.access(A.HEALTHAGENT, os.X_OK)
    if want != "driver" and have_agent:
        probe = None
        try:
            probe = A.Agent("probe", config("probe", A.path("probe.ok"),
                                            {"watch_interval": 5}),
                            A.agent_env())
            wired = "lifecycle" in probe.status()
        except Exception as e:  # noqa: BLE001 - decides, then reported
            wired = False
            A.diag("probe: %s" % e)
        finally:
            if probe is not None:
                probe.stop()
        if wired:
            return Agent, "healthagent"
        if want == "agent":
            A.bail("healthagent has no lifecycle section in its status")
    if not os.access(DRIVER, os.X_OK):
        A.bail("the test driver %s is not built" % DRIVER)
    return Driver, "tests/lifecycle_driver"


# ---------------------------------------------------------------- the test


def main():
    Subject, what = pick_subject()
    A.diag("subject: " + what)
    moto = A.Moto()
    keys = moto.user("agent", ["autoscaling:DescribeAutoScalingInstances",
                               "autoscaling:CompleteLifecycleAction",
                               "autoscaling:RecordLifecycleActionHeartbeat"])
    nohook = moto.user("nohook",
                       ["autoscaling:DescribeAutoScalingInstances"])
    is_(moto.enforcing(), "SignatureDoesNotMatch", "moto checks signatures")
    web = moto.group(GROUP, 4)
    asg = moto.client("autoscaling")
    asg.put_lifecycle_hook(
        LifecycleHookName=LAUNCH_HOOK, AutoScalingGroupName=GROUP,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=300, DefaultResult="ABANDON")
    asg.put_lifecycle_hook(
        LifecycleHookName=TERM_HOOK, AutoScalingGroupName=GROUP,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300, DefaultResult="CONTINUE")
    proxy = LifecycleProxy(moto)

    # The proxy adds semantics only after moto's own checks.
    def via_proxy(k):
        import botocore.config
        return A._boto3().client(
            "autoscaling", region_name=A.REGION, endpoint_url=proxy.url,
            aws_access_key_id=k.akid, aws_secret_access_key=k.secret,
            config=botocore.config.Config(retries={"max_attempts": 1}))

    def code_of(k, **kw):
        try:
            via_proxy(k).complete_lifecycle_action(
                AutoScalingGroupName=GROUP, LifecycleActionResult="CONTINUE",
                **kw)
            return "ok"
        except A.client_error() as e:
            return A.error_code(e)

    bad = A.Keys(keys.akid, "x" + keys.secret[1:])
    is_(code_of(bad, LifecycleHookName=TERM_HOOK, InstanceId=web[0]),
        "SignatureDoesNotMatch",
        "CompleteLifecycleAction: moto checks the signature")
    is_(code_of(nohook, LifecycleHookName=TERM_HOOK, InstanceId=web[0]),
        "AccessDenied",
        "CompleteLifecycleAction: moto checks the IAM permission")
    is_(code_of(keys, LifecycleHookName=TERM_HOOK, InstanceId=web[0]),
        "ValidationError",
        "CompleteLifecycleAction without a pending action: ValidationError")
    with proxy.lock:
        del proxy.calls[:]

    imds = A.Imds({"region": A.REGION, "role": None,
                   "instance_id": web[1], "lifecycle_state": "InService"})
    env = A.agent_env(imds=imds, endpoint=moto, autoscaling=proxy, keys=keys)

    def group_known(s):
        return lambda: s.lc().get("group") == GROUP

    # --- launch: ABANDON (started first, it takes launch_timeout) ------
    proxy.hold(GROUP, LAUNCH_HOOK, web[1])
    t_b = time.time()
    b = Subject("never", {"launch_hook": LAUNCH_HOOK, "launch_timeout": 10,
                          "heartbeat_interval": 60, "watch_interval": 1},
                env)
    ok(A.wait_for(group_known(b), 20),
       "abandon: the group was found (DescribeAutoScalingInstances)",
       b.logtext())

    # --- launch: CONTINUE after rise ------------------------------------
    imds.control(instance_id=web[0])
    proxy.hold(GROUP, LAUNCH_HOOK, web[0])
    a = Subject("launch", {"launch_hook": LAUNCH_HOOK, "launch_timeout": 60,
                           "heartbeat_interval": 5, "watch_interval": 1},
                env)
    ok(A.wait_for(group_known(a), 20), "launch: the group was found",
       a.logtext())
    ok(A.wait_for(lambda: proxy.of("RecordLifecycleActionHeartbeat",
                                   web[0], LAUNCH_HOOK, 200), 10),
       "launch: heartbeats while the app fails", a.logtext())
    st = a.lc().get("launch", {})
    ok(not proxy.of("CompleteLifecycleAction", web[0]) and
       st.get("state") == "held" and st.get("ready") is False,
       "launch: held, not completed, while the check fails", st)
    is_(proxy.state.get(web[0]), "Pending:Wait",
        "launch: the instance is still in Pending:Wait")
    t_ok = time.time()
    open(a.ok_file, "w").close()
    calls = A.wait_for(lambda: proxy.of("CompleteLifecycleAction", web[0]),
                       10)
    ok(calls, "launch: CompleteLifecycleAction once the check passes",
       a.logtext())
    if calls:
        f = calls[0]["form"]
        is_((f.get("LifecycleHookName"), f.get("AutoScalingGroupName"),
             f.get("LifecycleActionResult"), calls[0]["status"]),
            (LAUNCH_HOOK, GROUP, "CONTINUE", 200),
            "launch: CONTINUE for the launch hook of the group, accepted")
        is_(calls[0]["akid"], keys.akid, "launch: signed by the agent's key")
        ok(calls[0]["t"] - t_ok >= 0.3,
           "launch: only after rise (3) passes at 0.2 s (%.2f s)"
           % (calls[0]["t"] - t_ok))
    is_(proxy.state.get(web[0]), "InService",
        "launch: Pending:Wait -> InService")
    ok(A.wait_for(lambda: a.lc().get("launch", {}).get("result") ==
                  "CONTINUE accepted", 5), "launch: status shows it",
       a.lc())
    time.sleep(1)
    is_(len(proxy.of("CompleteLifecycleAction", web[0])), 1,
        "launch: completed exactly once")
    a.stop()

    calls = A.wait_for(lambda: proxy.of("CompleteLifecycleAction", web[1]),
                       20)
    ok(calls, "abandon: a call after launch_timeout", b.logtext())
    if calls:
        is_(calls[0]["form"].get("LifecycleActionResult"), "ABANDON",
            "abandon: ABANDON for a never-healthy instance")
        ok(calls[0]["t"] - t_b >= 9.5,
           "abandon: not before launch_timeout (10 s; %.1f s)"
           % (calls[0]["t"] - t_b))
    is_(proxy.state.get(web[1]), "Terminating",
        "abandon: Pending:Wait -> Terminating")
    ok(A.wait_for(lambda: not asg.describe_auto_scaling_instances(
        InstanceIds=[web[1]])["AutoScalingInstances"], 10),
       "abandon: moto no longer has the instance in the group")
    ok(not proxy.of("RecordLifecycleActionHeartbeat", web[1]),
       "abandon: no heartbeat within heartbeat_interval")
    b.stop()

    # --- termination: Terminated -> 503, drain, terminate hook ---------
    imds.control(instance_id=web[2], lifecycle_state="InService")
    marker = A.path("drained")
    c = Subject("term", {"terminate_hook": TERM_HOOK,
                         "heartbeat_interval": 5, "watch_interval": 1,
                         "drain_command": ["/bin/sh", "-c",
                                           "echo drained > " + marker]},
                env, drain_seconds=6)
    open(c.ok_file, "w").close()
    ok(A.wait_for(lambda: c.code() == 200 and group_known(c)(), 20),
       "terminate: healthy, group known", c.logtext())

    # `healthagent drain` for a deploy: the same sequence, by hand.
    res = c.drain()
    ok(res[0] and A.wait_for(lambda: c.code() == 503, 1, 0.05),
       "manual drain: 503 at once", res)
    ok(A.wait_for(lambda: os.path.exists(marker), 5),
       "manual drain: drain_command ran")
    res = c.undrain()
    ok(res[0] and A.wait_for(lambda: c.code() == 200, 5),
       "manual undrain: 200 again", res)
    ok(not proxy.of("CompleteLifecycleAction", web[2]),
       "manual drain: no hook pending, none completed")
    os.unlink(marker)

    proxy.hold(GROUP, TERM_HOOK, web[2])
    imds.control(lifecycle_state="Terminated")
    t0 = time.time()
    ok(A.wait_for(lambda: c.code() == 503, 5, 0.05),
       "terminate: 503 at once (%.1f s after the switch)"
       % (time.time() - t0), c.logtext())
    t503 = time.time()
    ok(A.wait_for(lambda: os.path.exists(marker), 5),
       "terminate: drain_command ran")
    time.sleep(1)
    ok(not proxy.of("CompleteLifecycleAction", web[2]) and c.code() == 503,
       "terminate: still draining, hook not completed yet")
    calls = A.wait_for(lambda: proxy.of("CompleteLifecycleAction", web[2]),
                       15)
    ok(calls, "terminate: the terminate hook was completed", c.logtext())
    if calls:
        f = calls[0]["form"]
        is_((f.get("LifecycleHookName"), f.get("LifecycleActionResult"),
             calls[0]["status"]), (TERM_HOOK, "CONTINUE", 200),
            "terminate: CONTINUE for the terminate hook")
        ok(calls[0]["t"] - t503 >= 5.5,
           "terminate: after drain_seconds (6 s; %.1f s)"
           % (calls[0]["t"] - t503))
    hb = proxy.of("RecordLifecycleActionHeartbeat", web[2], TERM_HOOK, 200)
    ok(len(hb) >= 1, "terminate: heartbeats during the drain (%d)"
       % len(hb))
    is_(proxy.state.get(web[2]), "Terminating:Proceed",
        "terminate: Terminating:Wait -> Terminating:Proceed")
    ok(A.wait_for(c.finished, 5), "terminate: the drain finished")
    time.sleep(0.5)
    ok(c.alive() and c.code() == 503,
       "terminate: still running, still 503 (systemd stops it)")
    res = c.undrain()
    ok(not res[0] and "going away" in res[1] and c.code() == 503,
       "terminate: undrain refused: %s" % res[1])
    c.stop()

    # --- Spot: the drain fits in the notice -----------------------------
    imds.control(instance_id=web[3], lifecycle_state="InService")
    d = Subject("spot", {"terminate_hook": TERM_HOOK,
                         "heartbeat_interval": 60, "watch_interval": 1},
                env, drain_seconds=60)
    open(d.ok_file, "w").close()
    ok(A.wait_for(lambda: d.code() == 200 and group_known(d)(), 20),
       "spot: healthy, group known", d.logtext())
    notice = int(time.time()) + 17
    imds.control(spot_action={"action": "terminate", "time": iso(notice)})
    ok(A.wait_for(lambda: d.code() == 503, 5, 0.05),
       "spot: 503 at once", d.logtext())
    ok(A.wait_for(d.finished, 15, 0.05),
       "spot: the drain finished well before drain_seconds (60 s)",
       d.logtext())
    done = time.time()
    ok(done <= notice - 10 + 1.5,
       "spot: by the notice's time minus 10 s (%.1f s before the notice)"
       % (notice - done))
    st = d.lc().get("watch", {}).get("spot") or {}
    is_((st.get("action"), st.get("time")), ("terminate", notice),
        "spot: the notice is in the status")
    ok(not proxy.of("CompleteLifecycleAction", web[3]),
       "spot: no terminate action pending yet, none completed")
    proxy.hold(GROUP, TERM_HOOK, web[3])
    imds.control(lifecycle_state="Terminated")
    calls = A.wait_for(lambda: proxy.of("CompleteLifecycleAction", web[3]),
                       5)
    ok(calls and calls[0]["form"].get("LifecycleActionResult") ==
       "CONTINUE" and calls[0]["t"] < notice,
       "spot: the terminate hook that follows is completed at once, "
       "inside the notice", d.logtext())
    d.stop()

    bad_sig = [x for x in proxy.calls if x["code"] in
               ("SignatureDoesNotMatch", "AccessDenied",
                "InvalidClientTokenId")]
    ok(not bad_sig, "every call of the subject was accepted by moto", bad_sig)


A.run(main)
