#!/usr/bin/python3
"""The story scripts/demo tells: one node of a Kafka cluster boots on this
machine, then its instance is replaced and the new one picks up the same
volume and address. Run through scripts/demo (root, packages, build, udevd)."""

import base64
import os
import shutil
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "packaging"))

import cfn  # noqa: E402
import simnode  # noqa: E402
from simnode import ENI, ENI_IP, INSTANCE, VOLUME, ZONE, sh  # noqa: E402

WORKDIR = "/var/tmp/nodeagent-demo"
NAME = "nodeagent-demo"
NEW_INSTANCE = "i-0b1b2b3b4b5b6b7b8"
NEW_PRIMARY_IP = "10.0.1.6"
RECORD = "kafka-1.cluster.internal"
STACK = "kafka-node-1"
DATA = "kafka-data/meta.properties"
LEVELS = {0: "emerg", 1: "alert", 2: "crit", 3: "error", 4: "warning", 5: "notice", 6: "info", 7: "debug"}

started = time.monotonic()


def say(text=""):
    print(text, flush=True)


def step(n, title):
    say()
    say(f"[{n}/5] {title}")
    say("-" * (len(title) + 6))


def indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines())


def show_line(line, elapsed):
    level, text = simnode.parse_journal(line)
    mark = "" if level >= 6 else f"{LEVELS.get(level, level)}: "
    say(f"    {elapsed:6.2f}s  {mark}{text}")


def user_data(mount_point):
    """The launch template's user data of scripts/cloudformation/node.yaml,
    rendered with this node's values, as the instance would find it."""
    template = cfn.load(os.path.join(TOP, "scripts", "cloudformation", "node.yaml"))
    ctx = cfn.Context(
        template,
        parameters={"BaseStackName": "kafka-base", "NodeName": "kafka-1", "MountPoint": mount_point,
                    "FileSystem": "ext4", "UseLaunchLifecycleHook": "true", "DnsRecordName": RECORD,
                    "AvailabilityZone": "us-east-1a", "SubnetId": simnode.SUBNET, "PrivateIpAddress": ENI_IP,
                    "ImageId": "ami-0123456789abcdef0"},
        resources={"Volume": VOLUME, "NetworkInterface": ENI},
        imports={"kafka-base-HostedZoneId": ZONE, "kafka-base-DomainName": "cluster.internal",
                 "kafka-base-ClusterName": "kafka"},
        pseudo={"AWS::StackName": STACK})
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    return base64.b64decode(ctx.eval(data)).decode()


def boot(node, title):
    say(f"  $ nodeagent --once          (the log, as the journal shows it; seconds since start)")
    r = node.agent("--once", on_line=show_line, timeout=180)
    say(f"  nodeagent exited with status {r.status} after {r.elapsed:.1f} s.")
    if r.status != 0:
        raise SystemExit(f"{title} failed (exit status {r.status}); the fake's log is {node.fake_log}")
    return r


def summary(node):
    mnt = node.findmnt()
    say("  What is there now:")
    if mnt:
        say(f"    mount      {mnt['source']} on {mnt['target']} ({mnt['fstype']}, {mnt['options']})")
    else:
        say("    mount      (not mounted!)")
    state = node.fake.state()
    volume = state["volumes"][VOLUME]
    attached = ", ".join(f"{a['instance_id']} ({a['status']})" for a in volume.get("attachments") or []) or "none"
    say(f"    volume     {VOLUME} attached to {attached}; tags: "
        + ", ".join(f"{k}={v}" for k, v in sorted(volume["tags"].items())))
    eni = state["network_interfaces"][ENI]
    att = eni.get("attachment") or {}
    say(f"    interface  {ENI} ({eni['private_ip_address']}) attached to {att.get('instance_id')} "
        f"at device index {att.get('device_index')}")
    for line in node.ip("-4", "-o", "addr", "show").splitlines():
        fields = line.split()
        if fields[1] not in ("lo", "eth0peer"):
            say(f"    address    {fields[1]} {fields[3]}")
    for line in node.ip("rule", "show").splitlines():
        if "lookup main" not in line and "lookup local" not in line and "lookup default" not in line:
            say("    rule       " + " ".join(line.split()))
    for line in node.ip("-4", "route", "show", "table", "all").splitlines():
        if "table local" not in line and not line.startswith(("local", "broadcast")):
            say(f"    route      {line.strip()}")
    for rec in node.record(RECORD):
        values = ", ".join(v["Value"] for v in rec["ResourceRecords"])
        say(f"    Route 53   {rec['Name']} {rec['Type']} {values} (TTL {rec['TTL']})")
    for s in state["cloudformation"]["signals"]:
        if s["unique_id"] == node.instance_id:
            say(f"    signal     CloudFormation SignalResource {s['status']} for {s['resource']} in stack "
                f"{s['stack']}")
    for a in state["autoscaling"]["lifecycle_actions"]:
        if a["instance_id"] == node.instance_id:
            what = a["call"] + (" " + a["result"] if a.get("result") else "")
            say(f"    signal     Auto Scaling {what} (hook {a['hook']} of {a['group']})")
    say(f"  The state file ({node.state_file}; /run/nodeagent/state on a real node):")
    with open(node.state_file) as f:
        say(indent(f.read()))
    say("  $ nodeagent --status")
    r = node.agent("--status")
    say(indent(r.stdout))


def fs_uuid(node):
    mnt = node.findmnt()
    if not mnt:
        return None
    return sh("blkid", "-o", "value", "-s", "UUID", mnt["source"], check=False).stdout.strip()


def main():
    for tool in ("nsenter", "losetup", "findmnt", "blkid", "ip"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing")
    # An earlier run killed without its cleanup: its mounts, loop devices and namespaces.
    simnode.cleanup_leftovers(WORKDIR, [NAME, f"{NAME}-vpc"])
    shutil.rmtree(WORKDIR, ignore_errors=True)
    os.makedirs(WORKDIR)
    node = simnode.SimNode(WORKDIR, NAME, volume_size=1 << 30,
                           nodeagent=os.environ.get("NODEAGENT_BIN") or os.path.join(TOP, "build", "agent", "nodeagent"))
    node.user_data = user_data(node.mount_point)

    # Ctrl-C and SIGTERM unwind through the finally below. scripts/demo
    # forwards Ctrl-C as SIGTERM; leaving the terminal's process group keeps
    # the fake AWS and the agent from getting the Ctrl-C themselves and
    # dying before the cleanup (a mounted loop device would outlive it).
    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    if os.environ.get("NODEAGENT_DEMO_OWN_GROUP") == "1" and os.getpgrp() != os.getpid():
        os.setpgid(0, 0)

    say("nodeagent demo: a node of a Kafka cluster boots, then its instance is replaced")
    say("=" * 78)
    say(f"""Nothing here talks to AWS. On this machine:
  - the EC2 instance {INSTANCE} is a network namespace, "{NAME}", with its
    primary interface eth0 ({node.primary_ip}) and a default route via the VPC router;
  - AWS is tests/fakeaws: IMDSv2, EC2, Route 53, Auto Scaling and CloudFormation,
    checking every request's SigV4 signature; the agent uses the instance role
    from IMDS as on EC2;
  - the node's EBS volume {VOLUME} is a blank 1 GiB image file: AttachVolume
    makes it a loop device whose udev serial is the volume id, as an NVMe EBS disk's;
  - the node's ENI {ENI} ({ENI_IP}) is a veth link with the ENI's MAC that
    appears when AttachNetworkInterface is called, wired to a "VPC" namespace;
  - the agent runs in the instance's network namespace but the host's mount
    namespace, as under systemd: its mount is visible to everyone.
The instance's user data is the node stack's launch template
(scripts/cloudformation/node.yaml), rendered for this node:""")
    say(indent(node.user_data))

    try:
        node.start()

        step(1, "What would happen: nodeagent --check (validates, checks IAM with DryRun, changes nothing)")
        r = node.agent("--check")
        plan = r.stdout.split("\nEffective configuration:")[0]
        say(indent(plan))
        if r.status != 0:
            raise SystemExit(f"--check failed (exit status {r.status}):\n{r.stderr}")

        step(2, "First boot of the new node (volume and interface paths run at once)")
        boot(node, "The first boot")
        summary(node)
        data = os.path.join(node.mount_point, DATA)
        os.makedirs(os.path.dirname(data), exist_ok=True)
        with open(data, "w") as f:
            f.write("node.id=1\ncluster.id=demo-cluster\n")
        os.sync()
        uuid = fs_uuid(node)
        say(f"  The application writes its data: {data}")

        step(3, "The instance goes away")
        say("  At shutdown the application stops first, then nodeagent.service, whose")
        say("  [Volume] DetachOnStop=yes unmounts and detaches the volume; here that is")
        say("  $ nodeagent --detach --set Interface.DetachOnStop=yes   (the ENI too: EC2 would detach it at termination)")
        r = node.agent("--detach", "--set", "Interface.DetachOnStop=yes", on_line=show_line)
        if r.status != 0:
            raise SystemExit(f"--detach failed (exit status {r.status})")
        node.replace_instance(NEW_INSTANCE, NEW_PRIMARY_IP)
        say(f"  EC2 terminated {INSTANCE}; the Auto Scaling group launched {NEW_INSTANCE}:")
        say(f"  a fresh network stack (eth0 {NEW_PRIMARY_IP}), the same launch template and user data.")

        step(4, "Replacement boot: the same volume and address, nothing formatted")
        changes_before = len(node.change_requests())
        r = boot(node, "The replacement boot")
        summary(node)
        with open(data) as f:
            content = f.read()
        formatted = any(w in r.stderr for w in ("creating an ext4", "creating an xfs", "mkfs"))
        checks = [
            ("nothing formatted (the filesystem UUID is the same)", fs_uuid(node) == uuid and not formatted),
            (f"the application's data is intact ({DATA})", content.startswith("node.id=1")),
            (f"the same address {ENI_IP}", ENI_IP in node.ip("-4", "addr", "show")),
            ("the DNS record was already right: no Route 53 change",
             len(node.change_requests()) == changes_before),
        ]
        say("  Checks:")
        for text, ok in checks:
            say(f"    [{'ok' if ok else 'FAILED'}] {text}")
        if not all(ok for _, ok in checks):
            raise SystemExit("the replacement boot did not keep the node's state")
    except KeyboardInterrupt:
        say("\nInterrupted.")
        return_code = 130
    except SystemExit as e:
        say(f"\nThe demo failed: {e}")
        return_code = 1
    else:
        return_code = 0
    finally:
        step(5, "Cleaning up")
        node.stop()
        shutil.rmtree(WORKDIR, ignore_errors=True)
        say("  Unmounted, loop devices and links released, namespaces and files removed.")
    say()
    if return_code == 0:
        say(f"Done in {time.monotonic() - started:.0f} s. Deploying it for real: README.md, "
            "scripts/cloudformation/, man nodeagent.")
    return return_code


if __name__ == "__main__":
    sys.exit(main())
