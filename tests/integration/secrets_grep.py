#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Secrets never reach any output of the agent, printing TAP.

A full run of the real agent with debug logging: role credentials (an
AssumeRole secret key and session token from moto) come from
tests/imds_emulator.py; checks run (an exec check records its environment);
metrics are published to moto; a local failure makes the agent call
SetInstanceHealth; `healthagent status`, `status --json`, /health, /status
and /metrics are read; the config is reloaded (SIGHUP) and the agent is
stopped with SIGTERM. Then everything it wrote -- its log (stdout and
stderr), every CLI output, every HTTP body, its state dir, the exec
check's environment -- is searched for the secret key and the token, and
for their first 12 characters. Any hit fails.

The test first proves that the secrets were in use (the emulator served
them, moto accepted signed calls made with them), so that a clean result
is not a vacuous one.

Not named secrets.py: that would shadow the standard module of that name,
which botocore imports. Needs $HEALTHAGENT (the binary) and $top_srcdir;
nothing leaves loopback.
"""

import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, wait_for  # noqa: E402

A.require()
REGION = A.REGION
ROLE = "secrets-role"
NAMESPACE = "HATest/Secrets"
T = A.tmpdir()
# A variable of the agent's own environment that must not reach checks.
CANARY = "HEALTHAGENT_TEST_CANARY"
CANARY_VALUE = "canary-7d1e0c5b9a"


def conf(iid, broken, envdump, interval):
    return {
        "health": {"drain_seconds": 0},
        "agent": {"sample_interval": 0.25, "log_level": "debug"},
        "aws": {"timeout": 5},
        "cloudwatch": {"namespace": NAMESPACE, "interval": 1,
                       "storage_resolution": 1,
                       "metrics": ["mem_used_percent", "healthy"]},
        "autoscaling": {"set_instance_health": True, "confirm_seconds": 1,
                        "recheck_interval": 1,
                        "max_unhealthy_percent": 30,
                        "min_healthy_instances": 1},
        "checks": [
            {"name": "app", "type": "exec", "interval": interval,
             "timeout": 0.2, "fall": 1, "rise": 1,
             "command": ["/bin/sh", "-c", "test ! -e " + broken]},
            {"name": "envdump", "type": "exec", "interval": 1,
             "timeout": 0.9, "scope": "dependency",
             "command": ["/bin/sh", "-c", "env > " + envdump]},
        ],
    }


def main():
    moto = A.Moto()
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch", "moto checks signatures (%s)" % code)
    role = moto.role(ROLE, ["cloudwatch:PutMetricData",
                            "autoscaling:DescribeAutoScalingInstances",
                            "autoscaling:DescribeAutoScalingGroups",
                            "autoscaling:SetInstanceHealth"])
    iids = moto.group("secrets", 4)
    keys = moto.assume(role, session="secrets")
    ok(keys.akid.startswith("ASIA") and len(keys.secret) >= 20 and
       len(keys.token) >= 20, "AssumeRole keys with a session token")
    needles = {"secret key": keys.secret, "session token": keys.token,
               "secret key prefix": keys.secret[:12],
               "session token prefix": keys.token[:12]}

    imds = A.Imds(state={"instance_id": iids[0], "region": REGION,
                         "role": ROLE, "access_key_id": keys.akid,
                         "secret_access_key": keys.secret,
                         "token": keys.token})
    env = A.agent_env(imds=imds, endpoint=moto,
                      extra={CANARY: CANARY_VALUE})
    broken = os.path.join(T, "broken")
    envdump = os.path.join(T, "envdump")
    a = A.Agent("sec", conf(iids[0], broken, envdump, 0.25), env)
    outputs = {}  # what -> text, everything the agent said

    def keep(what, text):
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        outputs[what] = outputs.get(what, "") + text
        return text

    def cli(*args):
        r = subprocess.run([A.HEALTHAGENT, "status", "-s", a.sock] +
                           list(args), capture_output=True, timeout=10,
                           env=env)
        keep("status %s stdout" % " ".join(args), r.stdout)
        keep("status %s stderr" % " ".join(args), r.stderr)
        return r.stdout.decode(errors="replace")

    def http(p):
        st, body = A.http_req("http://127.0.0.1:%d%s" % (a.port, p),
                              timeout=5)
        keep("GET " + p, body)
        return st

    # ---- the secrets are in use ----
    ok(wait_for(lambda: imds.creds_fetches(ROLE) >= 1, 20),
       "the agent fetched the role credentials from IMDS")
    cw = moto.client("cloudwatch")
    ok(wait_for(lambda: cw.list_metrics(Namespace=NAMESPACE)["Metrics"],
                30, 0.5),
       "metrics signed with the secret key and token reached moto",
       a.logtext()[-2000:])
    ok(wait_for(lambda: (a.section("autoscaling").get("group") ==
                         "secrets"), 20),
       "DescribeAutoScalingInstances found the group")
    ok(wait_for(lambda: os.path.exists(envdump) and
                A.read(envdump).strip(), 10),
       "the exec check ran and recorded its environment")

    st = imds.stats()
    ok(st["tokens_issued"] >= 1 and st["unauthorized"] == 0 and
       st["requests"].get("PUT /latest/api/token", 0) >= 1,
       "IMDSv2 only: %d token(s), no GET without a valid token"
       % st["tokens_issued"], str(st))

    # ---- every reader of the state ----
    for _ in range(2):
        cli()
        cli("--json")
        for p in ("/health", "/status", "/metrics"):
            http(p)
    ok(http("/status") == 200 and http("/metrics") == 200,
       "/status and /metrics answer on loopback")

    # ---- a local fault: SetInstanceHealth ----
    open(broken, "w").close()
    ok(wait_for(lambda: moto.health_of(iids[0]) == "UNHEALTHY", 20),
       "SetInstanceHealth (signed with the token) reached moto",
       a.logtext()[-2000:])
    cli()
    cli("--json")
    http("/status")

    # ---- reload, then SIGTERM ----
    with open(a.conf, "w") as f:
        f.write(A.conf_text(dict(
            conf(iids[0], broken, envdump, 0.5),
            health={"listen": "127.0.0.1:%d" % a.port, "start_grace": 0,
                    "drain_seconds": 0},
            agent={"socket": a.sock, "log_level": "debug",
                   "sample_interval": 0.25, "state_dir": a.state_dir})))
    a.proc.send_signal(signal.SIGHUP)
    ok(wait_for(lambda: "reloaded:" in a.logtext(), 10),
       "the agent reloaded its config")
    cli("--json")
    http("/status")
    http("/metrics")
    ok(a.stop() == 0, "SIGTERM: the agent exits 0")

    # ---- what the agent wrote ----
    log = keep("agent log (stdout+stderr)", a.logtext())
    ok("<7>" in log or "debug" in log, "the log has debug lines")
    for root, _dirs, files in os.walk(a.state_dir):
        for fn in files:
            keep("state " + fn, A.read(os.path.join(root, fn)))
    dump = keep("exec check environment", A.read(envdump))
    for what in sorted(outputs):
        if not outputs[what]:
            continue
        found = [n for n, v in needles.items() if v in outputs[what]]
        ok(not found, "%s (%d bytes): no secret%s" %
           (what, len(outputs[what]),
            "; found the " + ", ".join(found) if found else ""))
    ok(len(outputs) >= 10, "%d outputs searched" % len(outputs))
    with open(os.path.join(T, "imds-state.json"), "w") as f:
        f.write(A.http_req(imds.url + "/_control")[1].decode())
    ctl = A.read(os.path.join(T, "imds-state.json"))
    ok(all(v in ctl for v in needles.values()),
       "positive control: the search finds the secrets where they are")

    # ---- the exec check's environment is the minimal one ----
    names = sorted(line.split("=", 1)[0] for line in dump.splitlines()
                   if "=" in line)
    ok(not [n for n in names if n.startswith("AWS_")] and
       CANARY not in names and CANARY_VALUE not in dump,
       "nothing of the agent's environment reached the check (%s)" %
       " ".join(names))
    ok("HEALTHAGENT_CHECK=envdump" in dump.splitlines(),
       "HEALTHAGENT_CHECK names the check")

    # ---- credentials in the agent's own environment ----
    keys2 = moto.assume(role, session="secrets-env")
    envdump2 = os.path.join(T, "envdump2")
    b = A.Agent("env", conf(iids[1], broken + "-none", envdump2, 0.25),
                A.agent_env(endpoint=moto, keys=keys2))
    ok(wait_for(lambda: "environment" in str(b.section("aws")), 20) and
       wait_for(lambda: A.read(envdump2).strip(), 10),
       "an agent with AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN set",
       str(b.section("aws")))
    st = subprocess.run([A.HEALTHAGENT, "status", "--json", "-s", b.sock],
                        capture_output=True, timeout=10).stdout.decode()
    ok(b.stop() == 0, "it exits 0 on SIGTERM")
    dump2 = A.read(envdump2)
    ok("AWS_" not in dump2 and keys2.secret not in dump2 and
       keys2.token not in dump2,
       "its exec check sees none of the AWS_* variables")
    all2 = b.logtext() + st
    ok(keys2.secret[:12] not in all2 and keys2.token[:12] not in all2,
       "its log and status hold neither the secret nor the token")


A.run(main)
