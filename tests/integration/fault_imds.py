#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Fault injection on IMDS, printing TAP.

The real agent takes its identity and role credentials from
tests/imds_emulator.py and publishes to moto_server through
awstest.CwProxy. The role credentials "expire" EXPIRES s after each fetch
(shortened from the hours of EC2, so the agent goes back to IMDS every few
seconds), and the emulator is then made to misbehave, one fault at a time:

  a. slow, but faster than the agent's IMDS timeout (2 s): every refresh
     succeeds, nothing shows as an error;
  b. slower than the timeout: the refresh fails with a timeout, status
     (aws.credentials) says so, the old key stays in use, the log says
     "still using key";
  c. HTTP 500 on every request: the same, with "HTTP 500";
  d. dropped connections (closed without a reply): the same, with curl's
     error;
  e. the session token is expired behind the agent's back: the next GET
     is answered 401, the agent renews the token and retries (the token
     count rises), and no error shows;
  f. the credentials document has Code != "Success": the error and its
     code are shown, the old key stays in use;
  g. the credentials rotate at every fetch (a new AssumeRole key set every
     EXPIRES s): the key in use follows, and no call fails.
Throughout, /health answers 200, and CloudWatch never saw a failed
request: no datum lost, every period arrived, in order.

Needs $HEALTHAGENT, moto_server and boto3; nothing leaves loopback.
"""

import calendar
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_, wait_for  # noqa: E402

A.require()
REGION = A.REGION
ROLE = "fault-role"
NAMESPACE = "HATest/FaultImds"
EXPIRES = 6  # the credentials expire 6 s after each fetch (EC2: hours)


def hint(akid):
    return "%s...%s" % (akid[:4], akid[-4:])


def main():
    moto = A.Moto()
    role = moto.role(ROLE, ["cloudwatch:PutMetricData"])
    iid = moto.group("imds", 1)[0]
    keys = [moto.assume(role, session="s%d" % i) for i in range(6)]
    proxy = A.CwProxy(moto, keys)
    imds = A.Imds(state={"instance_id": iid, "region": REGION, "role": ROLE,
                         "access_key_id": keys[0].akid,
                         "secret_access_key": keys[0].secret,
                         "token": keys[0].token,
                         "expiration_seconds": EXPIRES,
                         "delay_seconds": 0.5})
    agent = A.Agent("a", {
        "health": {"drain_seconds": 0},
        "agent": {"sample_interval": 0.25},
        "aws": {"timeout": 5},
        "cloudwatch": {"namespace": NAMESPACE, "interval": 2,
                       "storage_resolution": 1,
                       "metrics": ["mem_used_percent"]},
        "checks": [{"name": "up", "type": "exec", "command": ["/bin/true"],
                    "interval": 1, "timeout": 0.9}],
    }, A.agent_env(imds=imds, endpoint=moto, cloudwatch=proxy))
    t0 = time.time()

    def aws():
        return agent.section("aws")

    def creds():
        return aws().get("credentials", "")

    # ---- a: slow, within the timeout ----
    s = wait_for(lambda: (lambda x: x if x.get("identity_known") and
                          "ASIA" in x.get("credentials", "") else None)(
        aws()), 20, 0.25)
    ok(s is not None, "a: IMDS answering in 0.5 s: identity and "
       "credentials known", json.dumps(aws(), indent=1))
    n0 = imds.creds_fetches(ROLE)
    ok(wait_for(lambda: imds.creds_fetches(ROLE) >= n0 + 2, 3 * EXPIRES),
       "a: refreshed twice more through the slow IMDS")
    imds.control(delay_seconds=1.5)
    n1 = imds.creds_fetches(ROLE)
    ok(wait_for(lambda: imds.creds_fetches(ROLE) >= n1 + 2, 3 * EXPIRES),
       "a: refreshed twice at 1.5 s per answer (timeout 2 s)")
    c = creds()
    ok("last error" not in c and s["imds"] == "ok",
       "a: slow is not an error: %s" % c)

    def fault_phase(tag, want, **ctl):
        """Apply a fault; the error must show, the key must stay."""
        before = creds()
        key = before.split(" key ", 1)[1].split(",")[0] \
            if " key " in before else "?"
        imds.control(**ctl)
        c = wait_for(lambda: (lambda x: x if "last error" in x else None)(
            creds()), 4 * EXPIRES, 0.25)
        ok(c is not None and any(w in c for w in want),
           "%s: status shows the error: %s" % (tag, c), creds())
        c = c or creds()
        ok(("key " + key) in c,
           "%s: the old key %s stays in use" % (tag, key))
        st, _ = agent.health()
        ok(agent.alive() and st == 200, "%s: /health %s" % (tag, st))
        imds.control(mode="ok", delay_seconds=0, fail_paths={},
                     creds_error=None)
        c = wait_for(lambda: (lambda x: x if "last error" not in x
                              else None)(creds()), 4 * EXPIRES, 0.25)
        ok(c is not None, "%s: cleared once IMDS behaves: %s"
           % (tag, c or creds()))

    fault_phase("b (3 s, timeout 2 s)", ["timed out", "Timeout",
                                        "timeout"],
                delay_seconds=3)
    ok("still using key" in agent.logtext(),
       "b: the log says the old key is still used")
    fault_phase("c (500)", ["HTTP 500"], mode="error", error_status=500)
    fault_phase("d (dropped)", ["Empty reply", "Recv failure",
                                "Connection reset", "closed"], mode="down")

    # ---- e: the token expires behind the agent's back ----
    st0 = imds.stats()
    imds.control(expire_tokens=True)
    n = imds.creds_fetches(ROLE)
    ok(wait_for(lambda: imds.creds_fetches(ROLE) >= n + 1, 3 * EXPIRES),
       "e: the next refresh went through")
    st1 = imds.stats()
    ok(st1["unauthorized"] > st0["unauthorized"] and
       st1["tokens_issued"] > st0["tokens_issued"],
       "e: a 401 (%d) was answered by a new token (%d issued)"
       % (st1["unauthorized"] - st0["unauthorized"],
          st1["tokens_issued"] - st0["tokens_issued"]))
    ok("last error" not in creds(), "e: no error shown: %s" % creds())

    # ---- f: a credentials document with an error code ----
    fault_phase("f (Code != Success)", ["AssumeRoleUnauthorizedAccess"],
                creds_error={"Code": "AssumeRoleUnauthorizedAccess",
                             "Message": "EC2 cannot assume the role"})

    # ---- g: new credentials at every fetch ----
    seen = []
    for k in keys[1:]:
        imds.serve(k)
        if not wait_for(lambda: hint(k.akid) in creds(), 3 * EXPIRES, 0.2):
            break
        seen.append(hint(k.akid))
    is_(len(seen), len(keys) - 1,
        "g: the agent took each of %d rotated key sets in turn"
        % (len(keys) - 1))

    # ---- throughout: CloudWatch ----
    t_end = time.time()
    wait_for(lambda: agent.section("cloudwatch")["last_success_age_ms"] <
             (time.time() - t_end) * 1000 - 200, 10, 0.25)
    cw = agent.section("cloudwatch")
    ok(cw["requests_failed"] == 0 and cw["requests_ok"] >= 10 and
       cw["dropped"] == 0,
       "no PutMetricData failed (%d ok), nothing dropped: the old keys "
       "carried every IMDS fault" % cw["requests_ok"],
       json.dumps(cw, indent=1))
    ok(proxy.statuses and set(proxy.statuses) == {200} and
       not proxy.codes, "moto answered 200 to all %d requests"
       % len(proxy.statuses), sorted(set(proxy.codes)))
    secs = [calendar.timegm(time.strptime(d["Timestamp"],
                                          "%Y-%m-%dT%H:%M:%SZ"))
            for d in proxy.delivered_datums()
            if d["MetricName"] == "mem_used_percent"]
    gaps = [(a, b) for a, b in zip(secs, secs[1:]) if b - a != 1]
    ok(len(secs) >= 30 and secs[0] <= t0 + 5 and not gaps,
       "%d periods over %.0f s, in order, none missing"
       % (len(secs), time.time() - t0), gaps[:5])
    texts = agent.logtext() + json.dumps(agent.status())
    ok(not [k for k in keys if k.secret in texts or k.token in texts],
       "no secret or token in the log or status")
    ok(agent.stop() == 0, "the agent exits cleanly")


A.run(main)
