#!/usr/bin/python3
"""Downtime of a node's replacement with handover (issue 19) against
terminate-then-launch, both in the fake's EC2-like latency profile.

    flock -w 2400 /tmp/nodeagent-integration.lock /usr/bin/python3 bench/handover.py [--repeat 3] [--seed N]

Two instances of one node at once, as tests/integration/test_handover.py
runs them (its Cluster: a sandbox per instance, one fake AWS world with an
IMDS per instance, the node's volume as a loop device, the ENI as a veth):
[Volume] (ext4, data written), [Interface] (Routing=agent) and [DNS]. The
holder's daemon runs outside systemd, so it releases directly (under systemd
it first stops its unit, and the units that require it, the application).

handover   the holder's daemon READY and serving; the new instance boots with
           TakeOver=handover: it tags the volume and the ENI, prompts the
           holder, the holder unmounts, detaches both, waits until EC2 says
           detached, exits 0; the new instance attaches, mounts, routes, READY.
           Downtime: from the holder's first DetachVolume or
           DetachNetworkInterface (the fake's request log: when the request
           came) to the new instance's READY=1. Before it the holder
           unmounts and tags both resources handed-over-by (two calls): that
           part is printed, from the holder's "Handing node ... over" line
           (timestamped as the pipe delivers it) to its first detach, and
           the median from the release start too; until then the holder
           serves.
baseline   terminate-then-launch: the holder's daemon, with DetachOnStop=yes
           for the volume and the ENI, gets SIGTERM (as an Auto Scaling
           terminate stops it: the application stops, the release runs); when
           it has exited, the new instance boots with TakeOver=wait. Downtime:
           from the SIGTERM to the new instance's READY=1. It EXCLUDES the
           new instance's launch and OS boot (a minute or more on EC2), which
           terminate-then-launch adds and handover hides (the new instance
           boots while the holder serves). Printed beside it: from the first
           detach, as the handover's figure is taken.

The fake's world: profile.json's latency rules on every API call (set just
before the measured part, so both kinds draw the same waits), its attach
transitions volume_attach and eni_attach for the world's attach delays and
the sandbox's device delays, and the same figures for the detach
transitions (EC2 documents none; profile.json has no detach entry). The
old instance's device goes 0.2 s after its detach, before EC2 says
detached, as on EC2. Rounds alternate the order of the kinds, so that the
machine's load falls on both alike. Prints each run, the medians and the
ratio handover / baseline. Each run is checked: the holder exits 0, the
new instance holds both resources, reads the holder's data back.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
os.environ.setdefault("NODEAGENT_BUILD", os.path.join(TOP, "build"))
os.environ.setdefault("NODEAGENT_BIN", os.path.join(os.environ["NODEAGENT_BUILD"], "agent", "nodeagent"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from bench import Profile  # noqa: E402
import test_handover as th  # noqa: E402  (its Cluster and Agent: two instances of one node)

DATA = "written by the holder\n"
WAIT = ["--set", "Volume.TakeOver=wait", "--set", "Interface.TakeOver=wait"]
DETACH_ON_STOP = ["--set", "Volume.DetachOnStop=yes", "--set", "Interface.DetachOnStop=yes"]


def prepare(cluster, profile):
    """The initial world (nothing attached, a blank image) with the profile's transitions."""
    t = profile.transitions
    cluster.fresh()
    cluster.fake.set_latency_profile(None)
    cluster.fake.merge_state({
        "delays": {"volume_attach": t["volume_attach"], "eni_attach": t["eni_attach"],
                   "volume_detach": t["volume_attach"], "eni_detach": t["eni_attach"]},
        "sandbox": {"volume_device_delay": t["volume_attach"], "eni_device_delay": t["eni_attach"]},
    })


def holder_up(cluster, profile, args=()):
    """The holder's daemon READY, serving, data written; then the latency profile on."""
    a = th.holder_up(cluster, args=args)
    if not cluster.serving(a, cluster.a):
        raise SystemExit("the holder is not serving after READY:\n" + a.output())
    cluster.fake.set_latency_profile(profile.latency)
    return a


def line_at(agent, text):
    """When the agent printed a line containing text, as wall-clock time (None: it did not)."""
    offset = time.time() - time.monotonic()
    return next((t + offset for t, line in agent.lines if text in line), None)


def check_moved(cluster, holder, new, kind):
    if not cluster.wait_holders(th.NEW, timeout=10):
        raise SystemExit(f"{kind}: the new instance does not hold both: {cluster.holders()}\n" + new.output())
    if cluster.read(cluster.b) != DATA:
        raise SystemExit(f"{kind}: the new instance's mount does not hold the holder's data")
    forced = [q for q in cluster.calls(th.HOLDER, "Detach") if (q["params"] or {}).get("Force") not in (None, "false")]
    if forced:
        raise SystemExit(f"{kind}: a forced detach: {forced}")


def run_handover(cluster, profile):
    a = holder_up(cluster, profile)
    b = cluster.agent(cluster.b, th.NEW, name="new")
    if a.wait(120) != 0:
        raise SystemExit("handover: the holder did not exit 0:\n" + a.output() + "\n--- new:\n" + b.output())
    if not b.wait_ready(120):
        raise SystemExit("handover: the new instance was not READY:\n" + b.output())
    ready, released = b.ready_at(), cluster.released_at(th.HOLDER)
    asked = min((q["time"] - q["ms"] / 1000 for q in cluster.calls(th.NEW, "CreateTags")), default=None)
    decided = line_at(a, "over to " + th.NEW)
    if released is None or asked is None or decided is None:
        raise SystemExit(f"handover: no release seen (asked {asked}, decided {decided}, first detach {released}):\n"
                         + a.output())
    # The holder served until the request, and released only after it. (Its
    # line is timestamped as the pipe delivers it: "decided" is not checked.)
    if not asked < released:
        raise SystemExit(f"handover: the holder detached before it was asked: {asked} > {released}")
    check_moved(cluster, a, b, "handover")
    return {"downtime": ready - released, "asked_to_detach": released - asked, "release_to_detach": released - decided}


def run_baseline(cluster, profile):
    a = holder_up(cluster, profile, args=DETACH_ON_STOP)
    term = time.time()
    a.proc.send_signal(signal.SIGTERM)
    try:
        status = a.proc.wait(120)
    except subprocess.TimeoutExpired:
        status = None
    exited = time.time()
    a.wait(5)
    if status != 0:
        raise SystemExit(f"baseline: the holder's SIGTERM exit was {status}:\n" + a.output())
    released = cluster.released_at(th.HOLDER)
    if released is None:
        raise SystemExit("baseline: the holder detached nothing on SIGTERM (DetachOnStop=yes):\n" + a.output())
    b = cluster.agent(cluster.b, th.NEW, *WAIT, name="new")
    if not b.wait_ready(120):
        raise SystemExit("baseline: the new instance was not READY:\n" + b.output())
    ready = b.ready_at()
    check_moved(cluster, a, b, "baseline")
    return {"downtime": ready - term, "from_detach": ready - released, "release": exited - term,
            "boot": ready - exited}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs of each kind (default 3)")
    p.add_argument("--seed", type=int, help="the profile's seed (default: bench/profile.json's)")
    p.add_argument("--profile", default=os.path.join(HERE, "profile.json"))
    p.add_argument("--json", help="write the figures here too")
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: namespaces, loop devices and udev")
    if subprocess.run(["udevadm", "control", "--ping"], capture_output=True).returncode != 0:
        raise SystemExit("needs a running udevd (systemd-udevd)")

    profile = Profile(args.profile, args.seed)
    with open(args.profile) as f:
        launch = json.load(f).get("transitions", {}).get("instance_launch")
    t = profile.transitions
    runs = {"handover": [], "baseline": []}
    kinds = {"handover": run_handover, "baseline": run_baseline}
    with tempfile.TemporaryDirectory(prefix="nodeagent-bench-handover-") as tmp:
        cluster = th.Cluster(tmp).start()
        try:
            for i in range(args.repeat):
                for kind in (("handover", "baseline") if i % 2 == 0 else ("baseline", "handover")):
                    prepare(cluster, profile)
                    r = kinds[kind](cluster, profile)
                    runs[kind].append(r)
                    if kind == "handover":
                        print(f"  handover run {i + 1}: downtime {r['downtime']:6.2f} s (request -> first detach "
                              f"{r['asked_to_detach']:.2f} s, release start -> first detach "
                              f"{r['release_to_detach']:.3f} s)", flush=True)
                    else:
                        print(f"  baseline run {i + 1}: downtime {r['downtime']:6.2f} s (SIGTERM -> holder exit "
                              f"{r['release']:.2f} s, exit -> READY {r['boot']:.2f} s; first detach -> READY "
                              f"{r['from_detach']:.2f} s)", flush=True)
                    cluster.stop_agents()
        finally:
            cluster.close()

    med = {kind: statistics.median(r["downtime"] for r in runs[kind]) for kind in runs}
    base_detach = statistics.median(r["from_detach"] for r in runs["baseline"])
    print(f"\nprofile {os.path.relpath(args.profile, TOP)}, seed {profile.seed}: volume attach and detach "
          f"{t['volume_attach']:.2f} s, ENI attach and detach {t['eni_attach']:.2f} s, API calls "
          f"{profile.latency['rules'][-1]['seconds']} s")
    print(f"downtime, median of {args.repeat}:")
    print(f"  terminate-then-launch (baseline), SIGTERM -> READY   {med['baseline']:6.2f} s"
          f"   (first detach -> READY {base_detach:.2f} s)")
    from_start = statistics.median(r["downtime"] + r["release_to_detach"] for r in runs["handover"])
    print(f"  handover, the holder's first detach -> new READY      {med['handover']:6.2f} s"
          f"   ratio {med['handover'] / med['baseline']:.2f} (against first detach: "
          f"{med['handover'] / base_detach:.2f})")
    print(f"  handover, the holder's release start -> new READY     {from_start:6.2f} s"
          f"   ratio {from_start / med['baseline']:.2f}")
    print("the baseline excludes the new instance's launch and boot (terminate-then-launch starts it only "
          "after the old one is gone; handover boots it while the holder serves).")
    if launch is not None:
        print(f"  EC2-like instance launch and boot (profile.json): {launch} s, on top of the baseline")
    else:
        print("  profile.json has no instance launch time: the baseline's real downtime is larger by the "
              "launch and boot of an instance (not modelled here).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seed": profile.seed, "transitions": t, "runs": runs, "median": med,
                       "baseline_from_detach": base_detach, "handover_from_release_start": from_start,
                       "ratio": med["handover"] / med["baseline"]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
