#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The real agent's credentials and identity under trouble, printing TAP.

The agent runs against moto_server (loopback; SigV4, session tokens and
IAM checked) through awstest.CwProxy for CloudWatch, and takes its
identity and its role credentials from tests/imds_emulator.py, with
AssumeRole keys from moto as the role's credentials. Three agents, three
emulators, one moto:

  a. the emulator serves a wrong secret, then a wrong session token:
     status names the auth error (aws.credentials, cloudwatch.last_error),
     the agent keeps running and /health answers; once the emulator serves
     valid keys the agent recovers and every period arrives, none dropped;
  b. IMDS is down at start (nothing listens on its port): status says
     so, the box keeps working; once it is up the identity is known and
     every period, the early ones too, arrives in moto;
  c. the role credentials expire 24 s after each fetch, and every fetch
     gets a new AssumeRole key set: they are refreshed before they expire,
     the key in use changes (its hint in status), and no call fails.

c runs in the background while a and b run. Metrics are published every
2 s in 1 s periods (high resolution), so they arrive quickly.

Needs $HEALTHAGENT (the binary) and $top_srcdir; nothing leaves loopback.
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
NAMESPACE = "HATest/Daemon"
ROLE = "agent-role"
EXPIRES = 24  # c: seconds from each credentials fetch to Expiration
AUTH_ERRORS = ("SignatureDoesNotMatch", "InvalidClientTokenId")


def hint(akid):
    """The key hint the agent shows: first 4 ... last 4."""
    return "%s...%s" % (akid[:4], akid[-4:])


def agent_conf():
    return {
        "health": {"drain_seconds": 0},
        "agent": {"sample_interval": 0.25},
        "aws": {"timeout": 5},
        "cloudwatch": {"namespace": NAMESPACE, "interval": 2,
                       "storage_resolution": 1,
                       "metrics": ["mem_used_percent", "healthy"]},
        "checks": [{"name": "up", "type": "exec", "command": ["/bin/true"],
                    "interval": 1, "timeout": 0.9}],
    }


def period_secs(proxy, iid):
    """Period starts (epoch s) of the mem_used_percent{InstanceId=iid}
    datums moto accepted through proxy, in arrival order."""
    return [calendar.timegm(time.strptime(d["Timestamp"],
                                          "%Y-%m-%dT%H:%M:%SZ"))
            for d in proxy.delivered_datums()
            if d["MetricName"] == "mem_used_percent" and
            d["dims"] == {"InstanceId": iid}]


def gaps(secs):
    """Periods missing or repeated between the first and the last."""
    return [(a, b) for a, b in zip(secs, secs[1:]) if b - a != 1]


def moto_periods(cw, iid, since):
    """Period starts moto holds for mem_used_percent{InstanceId=iid}."""
    r = cw.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="mem_used_percent",
        Dimensions=[{"Name": "InstanceId", "Value": iid}],
        StartTime=since - 120, EndTime=time.time() + 120, Period=1,
        Statistics=["SampleCount"])
    return sorted(int(d["Timestamp"].timestamp()) for d in r["Datapoints"])


def main():
    moto = A.Moto()
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch", "moto checks signatures (%s)" % code)
    role = moto.role(ROLE, ["cloudwatch:PutMetricData",
                            "autoscaling:DescribeAutoScalingInstances",
                            "autoscaling:DescribeAutoScalingGroups"])
    ia, ib, ic = moto.group("daemon", 3)
    ka, kb = moto.assume(role, session="agent-a"), \
        moto.assume(role, session="agent-b")
    kc = [moto.assume(role, session="agent-c%d" % i) for i in range(4)]
    every_key = [ka, kb] + kc
    ok(all(k.akid.startswith("ASIA") and k.token for k in every_key) and
       len({k.akid for k in every_key}) == len(every_key),
       "%d distinct AssumeRole key sets" % len(every_key))
    cw = moto.client("cloudwatch")

    def imds_state(iid, keys):
        return {"instance_id": iid, "region": REGION, "role": ROLE,
                "access_key_id": keys.akid, "secret_access_key": keys.secret,
                "token": keys.token}

    def start_agent(name, imds, proxy):
        return A.Agent(name, agent_conf(),
                       A.agent_env(imds=imds, endpoint=moto,
                                   cloudwatch=proxy))

    # ---- c starts first and runs in the background ----
    imds_c = A.Imds(state=dict(imds_state(ic, kc[0]),
                               expiration_seconds=EXPIRES), name="imds-c")
    proxy_c = A.CwProxy(moto, kc)
    t_c = time.time()
    agent_c = start_agent("c", imds_c, proxy_c)
    watch = {"fetches": [], "hints": [], "states": [], "errors": [],
             "stop": False}

    def watcher():
        """Serve the next key set once the agent fetched the current one;
        record the fetch times and what status says."""
        seen = 0
        while not watch["stop"]:
            try:
                n = imds_c.creds_fetches(ROLE)
                if n > seen:
                    watch["fetches"].append((time.time(), n))
                    seen = n
                    if n < len(kc):
                        imds_c.serve(kc[n])
                st = agent_c.section("aws").get("credentials", "")
                watch["states"].append((time.time(), st))
                if " key " in st:
                    h = st.split(" key ", 1)[1].split(",")[0]
                    if not watch["hints"] or watch["hints"][-1] != h:
                        watch["hints"].append(h)
            except Exception as e:  # noqa: BLE001 - reported below
                watch["errors"].append(repr(e))
            time.sleep(0.2)

    wt = threading.Thread(target=watcher, daemon=True)
    wt.start()

    # ---- a: a wrong secret, then a wrong token, then valid keys ----
    bad_secret = A.Keys(ka.akid, ka.secret[:-4] + "XXXX", ka.token)
    imds_a = A.Imds(state=imds_state(ia, bad_secret), name="imds-a")
    proxy_a = A.CwProxy(moto, [ka])
    t_a = time.time()
    agent_a = start_agent("a", imds_a, proxy_a)

    def cw_error(agent, codes):
        s = agent.status()
        e = (s.get("cloudwatch") or {}).get("last_error") or {}
        return s if e.get("code") in codes else None

    s = wait_for(lambda: cw_error(agent_a, ["SignatureDoesNotMatch"]), 20,
                 0.25)
    ok(s is not None, "a: a wrong secret: cloudwatch.last_error is "
       "SignatureDoesNotMatch", json.dumps(agent_a.status(), indent=1))
    s = s or agent_a.status()
    creds = s["aws"]["credentials"]
    ok("rejected by AWS" in creds and "SignatureDoesNotMatch" in creds and
       hint(ka.akid) in creds,
       "a: aws.credentials says the key was rejected, and why: %s" % creds)
    ok(s["aws"]["identity_known"] and s["aws"]["instance_id"] == ia,
       "a: the identity came from IMDS anyway")
    ok(s["cloudwatch"]["requests_ok"] == 0 and
       s["cloudwatch"]["requests_failed"] >= 1,
       "a: nothing accepted (%d requests failed)"
       % s["cloudwatch"]["requests_failed"])
    # The local check may not have reported yet on a loaded machine; the
    # point is that credential trouble never makes the instance unhealthy.
    wait_for(lambda: agent_a.health()[0] == 200, 15, 0.2)
    st, body = agent_a.health()
    ok(agent_a.alive() and st == 200,
       "a: the agent keeps running and /health answers %s" % st, body)
    ok("rejected" in agent_a.logtext(), "a: the rejection is logged")

    bad_token = A.Keys(ka.akid, ka.secret, ka.token[:-8] + "AAAAAAAA")
    imds_a.serve(bad_token)
    s = wait_for(lambda: cw_error(agent_a, ["InvalidClientTokenId"]), 20,
                 0.25)
    ok(s is not None, "a: a wrong session token: cloudwatch.last_error is "
       "InvalidClientTokenId", json.dumps(agent_a.status(), indent=1))
    s = s or agent_a.status()
    creds = s["aws"]["credentials"]
    ok("rejected by AWS" in creds and "InvalidClientTokenId" in creds,
       "a: aws.credentials says so: %s" % creds)
    st, _ = agent_a.health()
    ok(agent_a.alive() and st == 200 and
       s["cloudwatch"]["requests_ok"] == 0,
       "a: still running, /health %s, nothing accepted" % st)

    imds_a.serve(ka)
    t_fix = time.time()

    def recovered():
        s = agent_a.status()
        c = s["cloudwatch"]
        return s if (c["requests_ok"] >= 1 and c["queued"] <= 8 and
                     c["last_success_age_ms"] is not None and
                     c["last_success_age_ms"] < (time.time() - t_fix) *
                     1000) else None

    s = wait_for(recovered, 20, 0.25)
    ok(s is not None, "a: valid keys served: the agent recovers "
       "(%.1f s)" % (time.time() - t_fix), json.dumps(agent_a.status(),
                                                      indent=1))
    s = s or agent_a.status()
    ok("rejected" not in s["aws"]["credentials"] and
       "last error" not in s["aws"]["credentials"],
       "a: aws.credentials is clean again: %s" % s["aws"]["credentials"])
    is_(s["cloudwatch"]["dropped"], 0, "a: nothing dropped")
    secs = period_secs(proxy_a, ia)
    early = [x for x in secs if x < t_fix - 1]
    ok(secs and secs[0] <= t_a + 3 and len(early) >= 3,
       "a: the %d periods of the bad-credentials stretch arrived (first "
       "%.1f s after the start, keys fixed after %.1f s)"
       % (len(early), (secs[0] - t_a) if secs else -1, t_fix - t_a))
    ok(len(secs) >= 5 and not gaps(secs),
       "a: %d periods, in order, none missing" % len(secs), gaps(secs))
    got = wait_for(lambda: (lambda m: m if set(secs) <= set(m) else None)(
        moto_periods(cw, ia, t_a)), 5, 0.5) or moto_periods(cw, ia, t_a)
    ok(set(secs) <= set(got),
       "a: moto holds them (boto3: %d periods)" % len(got),
       sorted(set(secs) - set(got)))
    ok(proxy_a.codes and set(proxy_a.codes) <= set(AUTH_ERRORS),
       "a: the failures were auth errors only: %s" % sorted(
           set(proxy_a.codes)))

    # ---- b: IMDS down at start, then up ----
    imds_b = A.Imds(state=imds_state(ib, kb), start=False, name="imds-b")
    proxy_b = A.CwProxy(moto, [kb])
    t_b = time.time()
    agent_b = start_agent("b", imds_b, proxy_b)
    s = wait_for(lambda: (lambda x: x if "unreachable" in x["aws"]["imds"]
                          else None)(agent_b.status()), 10, 0.25)
    ok(s is not None, "b: status says IMDS is unreachable",
       json.dumps(agent_b.status(), indent=1))
    time.sleep(max(0.0, t_b + 4 - time.time()))
    s = agent_b.status()
    ok(not s["aws"]["identity_known"] and
       "unreachable" in s["aws"]["imds"],
       "b: still unknown after %.0f s: %s" % (time.time() - t_b,
                                              s["aws"]["imds"]))
    ok(s["aws"]["credentials"].startswith("none"),
       "b: no credentials yet: %s" % s["aws"]["credentials"])
    ok(s["cloudwatch"]["waiting"] is not None and
       s["cloudwatch"]["queued"] > 0,
       "b: metrics wait (%s), %d queued" % (s["cloudwatch"]["waiting"],
                                             s["cloudwatch"]["queued"]))
    wait_for(lambda: agent_b.health()[0] == 200, 15, 0.2)
    st, body = agent_b.health()
    ok(agent_b.alive() and st == 200,
       "b: the box keeps working: /health %s" % st, body)
    t_up = time.time()
    imds_b.start()
    s = wait_for(lambda: (lambda x: x if x["aws"]["identity_known"]
                          else None)(agent_b.status()), 15, 0.25)
    ok(s is not None, "b: IMDS up: the identity is known (%.1f s)"
       % (time.time() - t_up), json.dumps(agent_b.status(), indent=1))
    s = s or agent_b.status()
    ok(s["aws"]["instance_id"] == ib and s["aws"]["region"] == REGION and
       s["aws"]["imds"] == "ok",
       "b: status: instance %s in %s, imds %s"
       % (s["aws"]["instance_id"], s["aws"]["region"], s["aws"]["imds"]))
    s = wait_for(lambda: (lambda x: x if x["cloudwatch"]["requests_ok"] >= 1
                          and x["cloudwatch"]["queued"] <= 8 else None)(
        agent_b.status()), 15, 0.25)
    ok(s is not None, "b: metrics arrive (%.1f s after IMDS came up)"
       % (time.time() - t_up), json.dumps(agent_b.status(), indent=1))
    s = s or agent_b.status()
    ok(s["aws"]["credentials_source"] == "imds" and
       hint(kb.akid) in s["aws"]["credentials"],
       "b: with the role's credentials: %s" % s["aws"]["credentials"])
    is_(s["cloudwatch"]["dropped"], 0, "b: nothing dropped")
    secs = period_secs(proxy_b, ib)
    ok(secs and secs[0] <= t_b + 3 and secs[0] < t_up - 2 and
       not gaps(secs),
       "b: every period since the start arrived, the early ones too "
       "(%d, first %.1f s after the start)"
       % (len(secs), (secs[0] - t_b) if secs else -1), gaps(secs))
    got = wait_for(lambda: (lambda m: m if set(secs) <= set(m) else None)(
        moto_periods(cw, ib, t_b)), 5, 0.5) or moto_periods(cw, ib, t_b)
    ok(secs and set(secs) <= set(got),
       "b: moto holds them (boto3: %d periods)" % len(got))
    ok(agent_b.section("autoscaling").get("group") == "daemon" or
       wait_for(lambda: agent_b.section("autoscaling").get("group") ==
                "daemon", 10),
       "b: the group was found (DescribeAutoScalingInstances)")

    # ---- c: credentials expiring while the agent runs ----
    ok(wait_for(lambda: len(watch["fetches"]) >= 3, t_c + 3 * EXPIRES -
                time.time(), 0.2),
       "c: the credentials were fetched 3 times within %d s"
       % (3 * EXPIRES), watch["fetches"])
    t3 = watch["fetches"][-1][0] if watch["fetches"] else time.time()
    # One more flush with the newest key.
    wait_for(lambda: agent_c.status()["cloudwatch"]["last_success_age_ms"]
             < (time.time() - t3) * 1000 - 500, 8, 0.25)
    watch["stop"] = True
    wt.join(5)
    ok(not watch["errors"], "c: the watcher saw no error",
       "\n".join(watch["errors"][:5]))
    f = [t for t, _ in watch["fetches"]]
    ok(len(f) >= 3 and all(b - a < EXPIRES - 4 for a, b in zip(f, f[1:])),
       "c: each refresh well before Expiration (%s s apart, expiry %d s)"
       % (", ".join("%.1f" % (b - a) for a, b in zip(f, f[1:])), EXPIRES))
    want = [hint(k.akid) for k in kc[:len(watch["hints"])]]
    ok(len(watch["hints"]) >= 3 and watch["hints"] == want,
       "c: the key in use changed at each refresh: %s"
       % " -> ".join(watch["hints"]), "want %s" % want)
    # The question is the refresh: from the first credentials on, status
    # must never show them expired, failing or rejected. (The very first
    # fetch may time out on a loaded machine and be retried; that is the
    # start-up path, covered by scenario b.)
    since_first = [x for _, x in watch["states"]]
    while since_first and "ASIA" not in since_first[0]:
        since_first.pop(0)
    expired = [x for x in since_first if "EXPIRED" in x or
               "last error" in x or "rejected" in x]
    ok(not expired and len(since_first) > 50,
       "c: from the first credentials on, status never showed them expired, "
       "failing or rejected (%d samples)" % len(since_first),
       "\n".join(expired[:5]))
    s = agent_c.status()
    ok(s["cloudwatch"]["requests_failed"] == 0 and
       s["cloudwatch"]["requests_ok"] >= 8 and s["cloudwatch"]["last_error"]
       is None,
       "c: no failed call (%d ok, %d failed)"
       % (s["cloudwatch"]["requests_ok"], s["cloudwatch"]["requests_failed"]),
       json.dumps(s["cloudwatch"], indent=1))
    ok(proxy_c.statuses and set(proxy_c.statuses) == {200} and
       not proxy_c.codes and not proxy_c.bad_sig,
       "c: moto answered 200 to all %d PutMetricData" % len(
           proxy_c.statuses), sorted(set(proxy_c.codes)))
    is_(s["cloudwatch"]["dropped"], 0, "c: nothing dropped")
    secs = period_secs(proxy_c, ic)
    ok(len(secs) >= EXPIRES and secs[0] <= t_c + 3 and not gaps(secs),
       "c: %d periods across the refreshes, none missing (first %.1f s "
       "after the start)" % (len(secs), (secs[0] - t_c) if secs else -1),
       gaps(secs))
    log = agent_c.logtext()
    ok("rejected" not in log and "refresh failed" not in log,
       "c: the log shows no rejected or failed credentials")

    # ---- all: secrets stay secret ----
    texts = [a.logtext() + json.dumps(a.status())
             for a in (agent_a, agent_b, agent_c)]
    leaks = [k.akid for k in every_key + [bad_secret, bad_token]
             for t in texts
             if k.secret in t or k.token in t]
    ok(not leaks, "no secret key or session token in the logs or status",
       leaks)
    for a in (agent_a, agent_b, agent_c):
        rc = a.stop()
        ok(rc == 0, "%s: the agent exits cleanly (%s)" % (a.name, rc))


A.run(main)
