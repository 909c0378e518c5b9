#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Elastic IP association end to end, printing TAP.

The association logic (src/eip.c) runs in tests/eip_driver (the daemon's
configuration loader, IMDS client, credential chain and Query client, and a
real health state machine fed every 50 ms) against moto_server on 127.0.0.1
with signature and IAM checking on, and against tests/imds_emulator.py,
which serves the id of an instance created in moto. boto3 allocates the
addresses, runs the instances and reads the result back:

  - the address, held by another instance, moves to the instance IMDS
    served, only once the verdict has been healthy, with
    AllowReassociation; DescribeAddresses shows the association id the
    agent reported; the user may only do ec2:AssociateAddress (moto checks
    the action as "ec2:AssociateAddress", the IAM spelling);
  - while draining, nothing is called;
  - without the permission the call fails (AccessDenied in moto's error
    shape), is retried with backoff, and succeeds once the policy allows
    it.

Needs EIP_DRIVER or top_builddir (tests/eip_driver), python3 with boto3,
moto_server. Nothing leaves loopback.
"""
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import ok, is_  # noqa: E402

A.require(healthagent=False)
DRIVER = os.environ.get("EIP_DRIVER") or os.path.join(
    A.BUILDDIR, "tests", "eip_driver")
if not os.access(DRIVER, os.X_OK):
    A.bail("the test driver %s is not built" % DRIVER)


def main():
    moto = A.Moto()
    agent = moto.user("eip-agent", ["ec2:AssociateAddress"])
    late = moto.user("eip-late", ["ec2:DescribeAddresses"])
    code = moto.enforcing()
    ok(code == "SignatureDoesNotMatch", "moto checks signatures (%s)" % code)
    ec2 = moto.client("ec2")
    iam = moto.client("iam")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=ami, InstanceType="t3.micro", MinCount=2,
        MaxCount=2)["Instances"]]
    old, new = ids
    imds = A.Imds(state={"instance_id": new, "region": A.REGION,
                         "role": None})

    def address(alloc):
        return ec2.describe_addresses(AllocationIds=[alloc])["Addresses"][0]

    def write_conf(name, alloc):
        p = A.path(name + ".conf")
        with open(p, "w") as f:
            f.write("aws = { max_attempts = 1; timeout = 5; "
                    "ec2_endpoint = \"%s\"; };\n"
                    "eip = { allocation_id = \"%s\"; };\n" % (moto.url,
                                                             alloc))
        return p

    def start(conf, keys, args=(), limit=20):
        env = A.agent_env(imds=imds, keys=keys,
                          extra={"EIP_DRIVER_DEBUG": "1"})
        return subprocess.Popen([DRIVER, "-f", conf, "-t", str(limit)] +
                                list(args), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish(p, timeout=40):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        try:
            st = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            st = {}
        return {"rc": p.returncode, "status": st, "log": out + err}

    # 1. The address is on the old instance; the new one takes it once
    #    healthy (its check fails for the first 2 s).
    a1 = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=a1["AllocationId"], InstanceId=old)
    is_(address(a1["AllocationId"]).get("InstanceId"), old,
        "the address starts on the old instance")
    t0 = time.monotonic()
    p = start(write_conf("a", a1["AllocationId"]), agent, ["-u", "2"])
    time.sleep(1.2)
    ok(p.poll() is None and
       address(a1["AllocationId"]).get("InstanceId") == old,
       "not healthy yet: the address stays where it is")
    r = finish(p)
    st = r["status"]
    ok(r["rc"] == 0, "the driver associated the address", r["log"])
    ok(time.monotonic() - t0 >= 1.9,
       "only after the verdict became healthy")
    addr = address(a1["AllocationId"])
    is_(addr.get("InstanceId"), new,
        "DescribeAddresses: the address is on the instance IMDS served")
    ok(addr.get("AssociationId") and
       addr.get("AssociationId") == st.get("association_id"),
       "the association id the agent reports is moto's (%s)"
       % st.get("association_id"), json.dumps(addr))
    is_((st.get("state"), st.get("instance_id"), st.get("allocation_id"),
         st.get("attempts")),
        ("associated", new, a1["AllocationId"], 1),
        "status: associated, one call")
    ok("associated Elastic IP %s with instance %s" % (a1["AllocationId"],
                                                      new) in r["log"],
       "the association is logged", r["log"])

    # 2. Draining: nothing is called.
    a2 = ec2.allocate_address(Domain="vpc")
    r = finish(start(write_conf("b", a2["AllocationId"]), agent, ["-D"],
                     limit=2.5))
    st = r["status"]
    ok(r["rc"] == 1 and st.get("state") == "paused: draining" and
       st.get("attempts") == 0,
       "draining: no AssociateAddress", json.dumps(st))
    ok(not address(a2["AllocationId"]).get("InstanceId"),
       "the address is still unassociated")

    # 3. No permission yet: retried with backoff until the policy allows.
    p = start(write_conf("c", a2["AllocationId"]), late, limit=30)
    time.sleep(2.5)
    ok(p.poll() is None and
       not address(a2["AllocationId"]).get("InstanceId"),
       "without ec2:AssociateAddress the driver keeps retrying")
    iam.put_user_policy(UserName="eip-late", PolicyName="eip-late",
                        PolicyDocument=A.policy(["ec2:DescribeAddresses",
                                                 "ec2:AssociateAddress"]))
    r = finish(p)
    st = r["status"]
    ok(r["rc"] == 0, "associated once the permission was granted", r["log"])
    ok(st.get("attempts", 0) >= 2, "after %s attempts" % st.get("attempts"),
       json.dumps(st))
    err = st.get("last_error") or {}
    ok(err.get("code") in ("AccessDenied", "UnauthorizedOperation") and
       "ec2:AssociateAddress" in err.get("message", ""),
       "the last error names the missing permission (%s)" % err.get("code"),
       json.dumps(st))
    ok("retrying with backoff" in r["log"], "the failure was logged",
       r["log"])
    is_(address(a2["AllocationId"]).get("InstanceId"), new,
        "DescribeAddresses: the second address is on the instance too")


A.run(main)
