#!/usr/bin/python3
"""Time to READY of one volume against three (issue 15), on this machine:
the integration harness's node (tests/integration/harness.py VolumeNode: the
fake AWS, a loop device per volume with the volume's serial, the session's
udevd), `nodeagent --once` timed from exec to exit (READY=1 comes at the
same point in daemon mode).

    flock /tmp/nodeagent-integration.lock /usr/bin/python3 bench/volumes.py [--repeat 5] [--attach-delay 2]

Each round boots, in the same run and the same fake:
  one     [Volume] alone (the baseline)
  three   [Volume] + [Volume:log] (mounted inside the data's mount, so it
          waits for that mount) + [Volume:index] (a mount of its own)
each as a first boot (blank volumes: every one formatted) and then as a
replacement (released with --detach; attach, fsck, mount). EC2's attach and
the device's arrival take --attach-delay seconds each (the fake's
volume_attach delay and the loop backend's device delay, equal, as in
bench/README.md's profile). Medians, and three's ratio to one. The striped
set needs kernel md: its figure is the VM suite's note (tests/vm,
stripe-node and stripe-replacement).
"""

import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
os.environ.setdefault("NODEAGENT_BUILD", os.path.join(TOP, "build"))
os.environ.setdefault("NODEAGENT_BIN", os.path.join(os.environ["NODEAGENT_BUILD"], "agent", "nodeagent"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from harness import VolumeNode, wait_until  # noqa: E402

LAYOUTS = {
    "one": {},
    "three": {"log": {"mount": "mnt/log"}, "index": {"mount": "mnt-index"}},
}


def boot(node, delay):
    node.fake.merge_state({"delays": {"volume_attach": delay, "volume_detach": 0.2}})
    r = node.boot()
    if r.status != 0:
        raise SystemExit(f"the boot failed: {r}")
    return r.elapsed


def loop_backing_files():
    files = []
    for name in os.listdir("/sys/block"):
        try:
            with open(f"/sys/block/{name}/loop/backing_file") as f:
                files.append(f.read().strip())
        except OSError:
            pass
    return files


def one_round(node, layout, delay):
    node.prepare(dns=False, sections=LAYOUTS[layout])
    first = boot(node, delay)
    node.release()
    # The backend unplugs a detached volume's device after the device delay,
    # later than EC2 says detached: a boot before that would find the old
    # device and attach nothing.
    images = [disk.image for disk in node.disks.values()]
    wait_until("the old devices gone", lambda: not any(f.startswith(tuple(images)) for f in loop_backing_files()),
               timeout=30)
    node.fake.clear_requests()
    replacement = boot(node, delay)
    return first, replacement


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--attach-delay", type=float, default=2.0)
    args = p.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: loop devices and udev")

    times = {(layout, kind): [] for layout in LAYOUTS for kind in ("first", "replacement")}
    with tempfile.TemporaryDirectory(prefix="nodeagent-bench-volumes-") as tmp:
        node = VolumeNode(tmp, device_delay=args.attach_delay)
        try:
            for i in range(args.repeat):
                # Alternate the order, so that a drift of the machine's load
                # does not fall on one layout.
                for layout in (LAYOUTS if i % 2 == 0 else reversed(list(LAYOUTS))):
                    first, replacement = one_round(node, layout, args.attach_delay)
                    times[(layout, "first")].append(first)
                    times[(layout, "replacement")].append(replacement)
                    print(f"round {i + 1}: {layout:5} first boot {first:.3f} s, replacement {replacement:.3f} s",
                          flush=True)
        finally:
            node.stop()

    print(f"\ntime to READY, median of {args.repeat} (attach and device delay {args.attach_delay:g} s each)")
    print(f"{'':12} {'one volume':>12} {'three':>12} {'ratio':>7} {'three - one':>12}")
    for kind in ("first", "replacement"):
        one = statistics.median(times[("one", kind)])
        three = statistics.median(times[("three", kind)])
        print(f"{kind:12} {one:10.3f} s {three:10.3f} s {three / one:7.2f} {1000 * (three - one):9.0f} ms")


if __name__ == "__main__":
    main()
