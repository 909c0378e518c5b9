#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""contrib/cloudformation/healthagent-asg.yaml: cfn-lint, then a deployment
into moto's CloudFormation on 127.0.0.1, printing TAP.

  - cfn-lint reports nothing (a missing cfn-lint is a failure);
  - the stack reaches CREATE_COMPLETE with the AMI from an SSM parameter;
  - the network, the load balancer, the target group (health check on the
    agent's port and path), the group, the topic, the role and its policy
    are what the template says, and agree with each other (the policy's
    tag condition and the group's tag, the agent's config in the user-data
    and the target group, the hook names);
  - what moto ignores (the lifecycle hooks inside the group) is created
    through the API, and said so in a TAP comment;
  - the rendered user-data carries contrib/user-data.sh's installer
    verbatim, its config passes `healthagent checkconf`, and it runs in
    dry-run mode;
  - with an Elastic IP and an e-mail address: ec2:AssociateAddress for
    that EIP only, and the subscription.

Needs $HEALTHAGENT (for checkconf) and $top_srcdir; nothing leaves
loopback.
"""

import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import awstest as A  # noqa: E402
from awstest import diag, is_, ok  # noqa: E402

TEMPLATE = os.path.join(A.SRCDIR, "contrib", "cloudformation",
                        "healthagent-asg.yaml")
USER_DATA = os.path.join(A.SRCDIR, "contrib", "user-data.sh")
URL = "https://example.invalid/releases/healthagent-0.1.0.tar.gz"
BEGIN = "# ---- begin installer ----"
END = "# ---- end installer ----"


def load_template(text):
    """The template as plain data; short-form tags become {"Fn::X": ...}."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": v}
        if suffix == "GetAtt" and isinstance(v, str):
            v = v.split(".", 1)
        return {"Fn::" + suffix: v}

    Loader.add_multi_constructor("!", tag)
    return yaml.load(text, Loader=Loader)


def installer(text):
    """The installer block of a script: BEGIN..END lines, inclusive."""
    i = text.find(BEGIN)
    j = text.find(END, i)
    return text[i:j + len(END)] if i >= 0 and j > i else None


def conf_of(user_data):
    """The agent config embedded in the rendered user-data."""
    m = re.search(r"<<'HEALTHAGENT_CONF'\n(.*?)\nHEALTHAGENT_CONF\n",
                  user_data, re.S)
    return m.group(1) + "\n" if m else None


def conf_str(conf, group, key):
    """A string value of group.key in a config text (a simple reader for
    the flat groups the template writes)."""
    m = re.search(r"(?ms)^%s\s*=\s*\{(.*?)^\};" % re.escape(group), conf)
    if not m:
        return None
    v = re.search(r'^\s*%s\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+);' %
                  re.escape(key), m.group(1), re.M)
    if not v:
        return None
    s = v.group(1).strip()
    return json.loads(s) if s.startswith('"') else s


def main():
    A.require(healthagent=True)
    with open(TEMPLATE) as f:
        body = f.read()
    with open(USER_DATA) as f:
        ud_script = f.read()

    # ---- cfn-lint
    lint = shutil.which("cfn-lint")
    if ok(lint is not None, "cfn-lint is installed"):
        r = subprocess.run([lint, "--", TEMPLATE], capture_output=True,
                           text=True, timeout=120)
        ok(r.returncode == 0 and not r.stdout.strip(),
           "cfn-lint: no errors or warnings", r.stdout + r.stderr)

    tpl = load_template(body)
    res = tpl["Resources"]
    asg_props = res["AutoScalingGroup"]["Properties"]
    tg_props = res["TargetGroup"]["Properties"]
    hooks = {h["LifecycleHookName"]: h
             for h in asg_props["LifecycleHookSpecificationList"]}

    # ---- deploy
    m = A.Moto()
    ec2 = m.client("ec2")
    ssm = m.client("ssm")
    cf = m.client("cloudformation")
    asc = m.client("autoscaling")
    elb = m.client("elbv2")
    sns = m.client("sns")
    iam = m.client("iam")

    # The ImageId parameter is an SSM parameter name; moto resolves it
    # against its own SSM. Point one of ours at an image moto knows.
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ssm.put_parameter(Name="/healthagent-test/al2023-ami", Value=ami,
                      Type="String", DataType="aws:ec2:image")

    def deploy(name, **params):
        params.setdefault("TarballUrl", URL)
        params.setdefault("ImageId", "/healthagent-test/al2023-ami")
        t0 = time.monotonic()
        cf.create_stack(StackName=name, TemplateBody=body,
                        Capabilities=["CAPABILITY_IAM"],
                        Parameters=[{"ParameterKey": k,
                                     "ParameterValue": str(v)}
                                    for k, v in params.items()])
        st = A.wait_for(lambda: (lambda s: s if not s["StackStatus"]
                                 .endswith("IN_PROGRESS") else None)(
            cf.describe_stacks(StackName=name)["Stacks"][0]), 30, 0.2)
        diag("stack %s: %s in %.1f s" % (
            name, st and st["StackStatus"], time.monotonic() - t0))
        return st

    st = deploy("web")
    if not ok(st and st["StackStatus"] == "CREATE_COMPLETE",
              "stack web: CREATE_COMPLETE",
              st and st.get("StackStatusReason")):
        return
    out = {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}
    summ = {r["LogicalResourceId"]: r for r in
            cf.list_stack_resources(StackName="web")[
                "StackResourceSummaries"]}
    want = sorted(k for k, v in res.items() if "Condition" not in v)
    done = sorted(k for k, r in summ.items()
                  if r["ResourceStatus"] == "CREATE_COMPLETE" and
                  r.get("PhysicalResourceId"))
    is_([k for k in want if k not in done], [],
        "every unconditional resource of the template was created")
    ok("EmailSubscription" not in done,
       "no e-mail subscription without NotificationEmail")

    # ---- network
    vpc = summ["Vpc"]["PhysicalResourceId"]
    subnets = [summ[k]["PhysicalResourceId"] for k in ("SubnetA", "SubnetB")]
    sn = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    for s in sn:
        if not s["MapPublicIpOnLaunch"]:
            moto_ignores("MapPublicIpOnLaunch of AWS::EC2::Subnet",
                         "setting it through ModifySubnetAttribute")
            ec2.modify_subnet_attribute(SubnetId=s["SubnetId"],
                                        MapPublicIpOnLaunch={"Value": True})
    sn = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    ok(len({s["AvailabilityZone"] for s in sn}) == 2 and
       all(s["VpcId"] == vpc and s["MapPublicIpOnLaunch"] for s in sn),
       "two public subnets in two Availability Zones", sn)
    igw = ec2.describe_internet_gateways(InternetGatewayIds=[
        summ["InternetGateway"]["PhysicalResourceId"]])["InternetGateways"]
    ok(igw and igw[0]["Attachments"] and
       igw[0]["Attachments"][0]["VpcId"] == vpc,
       "the internet gateway is attached to the VPC", igw)
    rt_id = summ["RouteTable"]["PhysicalResourceId"]
    rt = ec2.describe_route_tables(RouteTableIds=[rt_id])["RouteTables"][0]
    assoc = {a.get("SubnetId") for a in rt["Associations"]}
    for s in subnets:
        if s not in assoc:
            moto_ignores("AWS::EC2::SubnetRouteTableAssociation in "
                         "DescribeRouteTables", "associating through "
                         "AssociateRouteTable")
            ec2.associate_route_table(RouteTableId=rt_id, SubnetId=s)
    rt = ec2.describe_route_tables(RouteTableIds=[rt_id])["RouteTables"][0]
    ok(any(r.get("DestinationCidrBlock") == "0.0.0.0/0" and
           r.get("GatewayId") == igw[0]["InternetGatewayId"]
           for r in rt["Routes"]) and
       sorted(a.get("SubnetId") for a in rt["Associations"]
              if a.get("SubnetId")) == sorted(subnets),
       "both subnets route 0.0.0.0/0 to the internet gateway", rt)

    # ---- load balancer and target group
    tg_arn = out["TargetGroupArn"]
    tg = elb.describe_target_groups(TargetGroupArns=[tg_arn])[
        "TargetGroups"][0]
    is_((tg["HealthCheckProtocol"], tg["HealthCheckPort"],
         tg["HealthCheckPath"], tg["Matcher"]["HttpCode"]),
        ("HTTP", "8099", "/health", "200"),
        "target group health check: HTTP GET :8099/health, 200")
    is_((tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"],
         tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]),
        (tg_props["HealthCheckIntervalSeconds"],
         tg_props["HealthCheckTimeoutSeconds"],
         tg_props["HealthyThresholdCount"],
         tg_props["UnhealthyThresholdCount"]),
        "health check interval, timeout and thresholds as in the template")
    ok(tg["HealthCheckTimeoutSeconds"] < tg["HealthCheckIntervalSeconds"],
       "the health check times out before the next one")
    attrs = {a["Key"]: a["Value"] for a in
             elb.describe_target_group_attributes(TargetGroupArn=tg_arn)[
                 "Attributes"]}
    dereg = int(attrs.get("deregistration_delay.timeout_seconds", "-1"))
    want_dereg = int([a["Value"] for a in tg_props["TargetGroupAttributes"]
                      if a["Key"] ==
                      "deregistration_delay.timeout_seconds"][0])
    if dereg != want_dereg:
        moto_ignores("TargetGroupAttributes of "
                     "AWS::ElasticLoadBalancingV2::TargetGroup",
                     "setting them through ModifyTargetGroupAttributes")
        elb.modify_target_group_attributes(
            TargetGroupArn=tg_arn, Attributes=tg_props[
                "TargetGroupAttributes"])
        attrs = {a["Key"]: a["Value"] for a in
                 elb.describe_target_group_attributes(
                     TargetGroupArn=tg_arn)["Attributes"]}
        dereg = int(attrs.get("deregistration_delay.timeout_seconds", "-1"))
    is_(dereg, want_dereg, "deregistration delay %d s" % want_dereg)
    lb_arn = summ["LoadBalancer"]["PhysicalResourceId"]
    ok(lb_arn in tg.get("LoadBalancerArns", []),
       "the target group is behind the load balancer")
    lst = elb.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]
    ok(len(lst) == 1 and lst[0]["Port"] == 80 and
       lst[0]["DefaultActions"][0]["Type"] == "forward" and
       lst[0]["DefaultActions"][0]["TargetGroupArn"] == tg_arn,
       "listener :80 forwards to the target group", lst)
    lb = elb.describe_load_balancers(LoadBalancerArns=[lb_arn])[
        "LoadBalancers"][0]
    ok(lb["Scheme"] == "internet-facing" and sorted(
        z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(subnets),
       "internet-facing load balancer in both subnets", lb)

    # ---- Auto Scaling group
    name = out["AutoScalingGroupName"]
    is_(name, "web-asg", "group name from the stack name")
    g = asc.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"][0]
    is_((g["HealthCheckType"], g["HealthCheckGracePeriod"]),
        ("ELB", asg_props["HealthCheckGracePeriod"]),
        "HealthCheckType ELB with the template's grace period")
    is_(g["TargetGroupARNs"], [tg_arn], "the group feeds the target group")
    is_((g["MinSize"], g["MaxSize"], g["DesiredCapacity"]),
        (2, 4, 2), "default sizes 2..4, desired 2")
    ok(sorted(g["VPCZoneIdentifier"].split(",")) == sorted(subnets),
       "instances go to both subnets")
    lt_id = summ["LaunchTemplate"]["PhysicalResourceId"]
    is_(g["LaunchTemplate"]["LaunchTemplateId"], lt_id,
        "the group launches from the template's launch template")
    tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
    is_(tags.get("healthagent:group"), name,
        "the group carries the tag the role's policy is limited to")
    ids = [i["InstanceId"] for i in g["Instances"]]
    insts = [i for r in ec2.describe_instances(InstanceIds=ids)[
        "Reservations"] for i in r["Instances"]] if ids else []
    ok(len(insts) == 2 and all(i["ImageId"] == ami for i in insts),
       "2 instances from the AMI of the SSM parameter (%s)" % ami, insts)

    # Lifecycle hooks: moto 5.2.1 creates the group without the
    # LifecycleHookSpecificationList; the test creates what is missing.
    have = {h["LifecycleHookName"]: h for h in asc.describe_lifecycle_hooks(
        AutoScalingGroupName=name)["LifecycleHooks"]}
    for hn, h in sorted(hooks.items()):
        if hn not in have:
            moto_ignores("LifecycleHookSpecificationList of "
                         "AWS::AutoScaling::AutoScalingGroup",
                         "creating the hooks through PutLifecycleHook")
            diag("creating lifecycle hook %s" % hn)
            asc.put_lifecycle_hook(
                LifecycleHookName=hn, AutoScalingGroupName=name,
                LifecycleTransition=h["LifecycleTransition"],
                HeartbeatTimeout=h["HeartbeatTimeout"],
                DefaultResult=h["DefaultResult"])
    have = {h["LifecycleHookName"]: h for h in asc.describe_lifecycle_hooks(
        AutoScalingGroupName=name)["LifecycleHooks"]}
    for hn, h in sorted(hooks.items()):
        got = have.get(hn, {})
        is_((got.get("LifecycleTransition"), got.get("HeartbeatTimeout"),
             got.get("DefaultResult")),
            (h["LifecycleTransition"], h["HeartbeatTimeout"],
             h["DefaultResult"]), "lifecycle hook %s" % hn)
    ok(sorted(h["LifecycleTransition"] for h in hooks.values()) ==
       ["autoscaling:EC2_INSTANCE_LAUNCHING",
        "autoscaling:EC2_INSTANCE_TERMINATING"],
       "one launch and one terminate hook")

    # ---- topic
    topic = out["TopicArn"]
    ok(topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]],
       "SNS topic %s exists" % topic)

    # ---- role, profile, policy
    role_name = out["InstanceRoleArn"].rsplit("/", 1)[1]
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    if isinstance(trust, str):
        trust = json.loads(trust)
    is_([s["Principal"] for s in trust["Statement"]],
        [{"Service": "ec2.amazonaws.com"}], "the role is for EC2 instances")
    profs = iam.list_instance_profiles_for_role(RoleName=role_name)[
        "InstanceProfiles"]
    ok(len(profs) == 1, "one instance profile holds the role", profs)
    pols = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    is_(pols, ["healthagent"], "one inline policy")
    is_(iam.list_attached_role_policies(RoleName=role_name)[
        "AttachedPolicies"], [], "no managed policies")
    doc = policy_doc(iam.get_role_policy(RoleName=role_name,
                                         PolicyName="healthagent")[
        "PolicyDocument"])
    check_policy(doc, name, topic, g, eip=None)

    # ---- launch template and its user-data
    ltv = ec2.describe_launch_template_versions(LaunchTemplateId=lt_id)[
        "LaunchTemplateVersions"][-1]["LaunchTemplateData"]
    is_(ltv.get("ImageId"), ami, "launch template image from SSM")
    is_(ltv.get("IamInstanceProfile", {}).get("Arn"), profs[0]["Arn"],
        "launch template uses the instance profile")
    mo = ltv.get("MetadataOptions", {})
    is_(mo.get("HttpTokens"), "required", "IMDSv2 only (HttpTokens required)")
    ud = base64.b64decode(ltv.get("UserData", "")).decode()
    ok(ud.startswith("#!/bin/bash\n"), "user-data is a bash script")
    ok(len(ud.encode()) <= 16384, "user-data fits in 16 KiB (%d bytes)"
       % len(ud.encode()))
    ok(installer(ud) is not None and installer(ud) == installer(ud_script),
       "user-data carries contrib/user-data.sh's installer verbatim")
    ok("HEALTHAGENT_TARBALL='%s'\n" % URL in ud,
       "user-data downloads the TarballUrl parameter")
    conf = conf_of(ud)
    if ok(conf is not None, "user-data writes an agent config"):
        with open(A.path("stack.conf"), "w") as f:
            f.write(conf)
        r = subprocess.run([A.HEALTHAGENT, "checkconf", "-f",
                            A.path("stack.conf")], capture_output=True,
                           text=True, timeout=10,
                           env=dict(A.clean_env(),
                                    AWS_EC2_METADATA_DISABLED="true"))
        ok(r.returncode == 0, "healthagent checkconf accepts it",
           r.stdout + r.stderr + conf)
        listen = conf_str(conf, "health", "listen") or ""
        is_((listen.rsplit(":", 1)[-1], conf_str(conf, "health", "path")),
            (tg["HealthCheckPort"], tg["HealthCheckPath"]),
            "the agent listens where the target group checks")
        is_(conf_str(conf, "aws", "autoscaling_group"), name,
            "config: the group")
        is_(conf_str(conf, "aws", "region"), A.REGION, "config: the region")
        is_(conf_str(conf, "notify", "sns_topic_arn"), topic,
            "config: the stack's topic")
        is_(conf_str(conf, "cloudwatch", "namespace"), "HealthAgent",
            "config: the namespace the role may write")
        is_(sorted([conf_str(conf, "lifecycle", "launch_hook"),
                    conf_str(conf, "lifecycle", "terminate_hook")]),
            sorted(hooks), "config: the group's hook names")
        is_(conf_str(conf, "eip", "allocation_id"), "", "config: no EIP")
        drain = float(conf_str(conf, "health", "drain_seconds") or 0)
        ok(drain > dereg, "drain_seconds (%g) outlasts the deregistration "
           "delay (%d)" % (drain, dereg))
        launch_timeout = float(conf_str(conf, "lifecycle",
                                        "launch_timeout") or 0)
        ok(launch_timeout < hooks["healthagent-launch"]["HeartbeatTimeout"],
           "the agent gives up (ABANDON) before the launch hook times out")
    # The rendered script, in dry-run mode: parses and plans the install.
    with open(A.path("user-data"), "w") as f:
        f.write(ud)
    r = subprocess.run(["bash", A.path("user-data")], capture_output=True,
                       text=True, timeout=60,
                       env=dict(A.clean_env(), DRY_RUN="1",
                                TMPDIR=A.tmpdir()))
    outp = r.stdout + r.stderr
    ok(r.returncode == 0 and "+ curl " in outp and URL in outp and
       "./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var "
       "--runstatedir=/run" in outp and
       "+ systemctl enable healthagent.service" in outp and
       "+ systemctl start healthagent.service" in outp,
       "the rendered user-data runs in dry-run mode: download, build, "
       "enable, start", outp)

    # ---- with an Elastic IP and an e-mail address
    alloc = ec2.allocate_address(Domain="vpc")["AllocationId"]
    st = deploy("eip", EipAllocationId=alloc, MinSize=1, MaxSize=1,
                DesiredCapacity=1, NotificationEmail="ops@example.com",
                MetricNamespace="MyApp/Health")
    if not ok(st and st["StackStatus"] == "CREATE_COMPLETE",
              "stack eip: CREATE_COMPLETE",
              st and st.get("StackStatusReason")):
        return
    out2 = {o["OutputKey"]: o["OutputValue"] for o in st["Outputs"]}
    g2 = asc.describe_auto_scaling_groups(AutoScalingGroupNames=[
        out2["AutoScalingGroupName"]])["AutoScalingGroups"][0]
    role2 = out2["InstanceRoleArn"].rsplit("/", 1)[1]
    doc2 = policy_doc(iam.get_role_policy(RoleName=role2,
                                          PolicyName="healthagent")[
        "PolicyDocument"])
    check_policy(doc2, "eip-asg", out2["TopicArn"], g2, eip=alloc,
                 namespace="MyApp/Health")
    subs = sns.list_subscriptions_by_topic(TopicArn=out2["TopicArn"])[
        "Subscriptions"]
    sp = res["EmailSubscription"]["Properties"]
    is_((res["EmailSubscription"].get("Condition"), sp["TopicArn"],
         sp["Protocol"], sp["Endpoint"]),
        ("HasEmail", {"Ref": "Topic"}, "email", {"Ref": "NotificationEmail"}),
        "the template subscribes NotificationEmail to the topic, when set")
    if not subs:
        moto_ignores("AWS::SNS::Subscription in CloudFormation",
                     "subscribing through Subscribe",
                     verb="does not support")
        sns.subscribe(TopicArn=out2["TopicArn"], Protocol=sp["Protocol"],
                      Endpoint="ops@example.com")
        subs = sns.list_subscriptions_by_topic(TopicArn=out2["TopicArn"])[
            "Subscriptions"]
    is_([(s["Protocol"], s["Endpoint"]) for s in subs],
        [("email", "ops@example.com")], "the topic has that subscription")
    lt2 = [r for r in cf.list_stack_resources(StackName="eip")[
        "StackResourceSummaries"]
        if r["LogicalResourceId"] == "LaunchTemplate"][0][
        "PhysicalResourceId"]
    ud2 = base64.b64decode(ec2.describe_launch_template_versions(
        LaunchTemplateId=lt2)["LaunchTemplateVersions"][-1][
        "LaunchTemplateData"]["UserData"]).decode()
    is_(conf_str(conf_of(ud2) or "", "eip", "allocation_id"), alloc,
        "config: the agent associates the EIP")

    # The rule "an EIP needs MaxSize 1", which CloudFormation enforces.
    try:
        st = deploy("eip-many", EipAllocationId=alloc, MaxSize=4)
        if st and st["StackStatus"] == "CREATE_COMPLETE":
            moto_ignores("the template's Rules", "the rule "
                         "ElasticIpFollowsOneInstance (EipAllocationId "
                         "needs MaxSize 1) is CloudFormation's to enforce")
    except A.client_error() as e:
        ok("MaxSize" in str(e) or "Elastic IP" in str(e),
           "an EIP with MaxSize 4 is refused", e)


_said = set()


def moto_ignores(what, fix, verb="ignores"):
    """A TAP comment, once per kind, for what moto leaves out."""
    if what not in _said:
        _said.add(what)
        diag("moto 5.2.1 %s %s; %s" % (verb, what, fix))


def policy_doc(doc):
    """A policy document as data. moto 5.2.1 returns an inline policy
    that came from CloudFormation as Python text (str() of a dict), not
    JSON; both are read."""
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            moto_ignores("inline role policies from CloudFormation as "
                         "Python text, not JSON", "reading them as such",
                         verb="returns")
            doc = ast.literal_eval(doc)
    if None in doc.get("Statement", []):
        moto_ignores("a list element that Fn::If turns into AWS::NoValue",
                     "dropping the null it leaves in the Statement",
                     verb="keeps")
        doc["Statement"] = [x for x in doc["Statement"] if x is not None]
    return doc


def check_policy(doc, group, topic, g, eip, namespace="HealthAgent"):
    """The instance policy is least privilege, statement by statement."""
    sts = doc["Statement"]
    by = {}
    for s in sts:
        acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        for a in acts:
            by[a] = s
    want = {"cloudwatch:PutMetricData", "autoscaling:Describe*",
            "autoscaling:SetInstanceHealth",
            "autoscaling:CompleteLifecycleAction",
            "autoscaling:RecordLifecycleActionHeartbeat", "sns:Publish"}
    if eip:
        want.add("ec2:AssociateAddress")
    is_(sorted(by), sorted(want), "%s: exactly the agent's actions%s"
        % (group, " and ec2:AssociateAddress" if eip else
           ", no ec2:AssociateAddress without an EIP"))
    ok(all(s["Effect"] == "Allow" for s in sts) and
       not any(a == "*" or a.endswith(":*") for a in by),
       "%s: no wildcard services" % group)
    pm = by.get("cloudwatch:PutMetricData", {})
    is_(pm.get("Condition"), {"StringEquals": {
        "cloudwatch:namespace": namespace}},
        "%s: PutMetricData only into %s" % (group, namespace))
    ag = by.get("autoscaling:SetInstanceHealth", {})
    ok(ag is by.get("autoscaling:CompleteLifecycleAction") and
       ag is by.get("autoscaling:RecordLifecycleActionHeartbeat"),
       "%s: the group actions share one statement" % group)
    cond = ag.get("Condition", {}).get("StringEquals", {})
    tags = {t["Key"]: t["Value"] for t in g.get("Tags", [])}
    ok(len(cond) == 1 and all(
        k.startswith("aws:ResourceTag/") and
        tags.get(k[len("aws:ResourceTag/"):]) == v for k, v in cond.items()),
       "%s: limited by aws:ResourceTag to a tag the group carries" % group,
       (cond, tags))
    res = ag.get("Resource", "")
    ok(isinstance(res, str) and res.endswith(
        ":autoScalingGroup:*:autoScalingGroupName/" + g[
            "AutoScalingGroupName"]) and res.startswith(
        "arn:aws:autoscaling:%s:%s:" % (A.REGION, A.ACCOUNT)),
       "%s: and to the group's ARN" % group, res)
    is_(by.get("autoscaling:Describe*", {}).get("Resource"), "*",
        "%s: Describe* on *" % group)
    is_(by.get("sns:Publish", {}).get("Resource"), topic,
        "%s: sns:Publish to the stack's topic only" % group)
    star = sorted(a for a, s in by.items() if s.get("Resource") == "*")
    is_(star, ["autoscaling:Describe*", "cloudwatch:PutMetricData"],
        "%s: only Describe* and the namespace-limited PutMetricData on *"
        % group)
    if eip:
        ea = by.get("ec2:AssociateAddress", {})
        res = ea.get("Resource", [])
        ok("arn:aws:ec2:%s:%s:elastic-ip/%s" % (A.REGION, A.ACCOUNT, eip)
           in res and not any(r.endswith("elastic-ip/*") for r in res),
           "%s: AssociateAddress for that EIP only" % group, res)


A.run(main)
