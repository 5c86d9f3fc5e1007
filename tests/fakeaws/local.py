"""LocalBackend: both paths real on this machine, for whole-boot tests.

    --netns AGENT_NS --backend local:LocalBackend
        --backend-opt volume_dir=DIR --backend-opt router_netns=VPC_NS
        [--backend-opt device_delay=0.2] [--backend-opt detach_delay=0.2]

Volumes go to a LoopBackend (loopback.py), network interfaces to a
VethBackend (vethback.py). volume_dir turns the volume part on,
router_netns the interface part (at least one is needed); device_delay and
detach_delay apply to both. describe() answers {"backend": "local",
"loopback": {...}, "veth": {...}}.

Loop devices and udev are global, links are per namespace: with the fake
in the agent's namespace, the agent meets the links there, but udevd's
processed block events stay in udevd's own namespace (see
shared/reference/vm-lab/README.md): a whole-boot test in a namespace runs
its own udevd there, or waits for block devices another way.
"""

from backends import AttachBackend
from loopback import LoopBackend
from vethback import VethBackend


class LocalBackend(AttachBackend):
    name = "local"

    def __init__(self, volume_dir=None, router_netns=None, device_delay=0.2, detach_delay=None, **options):
        super().__init__(volume_dir=volume_dir, router_netns=router_netns, device_delay=device_delay,
                         detach_delay=detach_delay, **options)
        if options:
            raise ValueError(f"LocalBackend: unknown option(s) {sorted(options)}")
        if not volume_dir and not router_netns:
            raise ValueError("LocalBackend needs volume_dir, router_netns or both")
        timing = {"device_delay": device_delay, "detach_delay": detach_delay}
        self.volumes = LoopBackend(volume_dir=volume_dir, **timing) if volume_dir else AttachBackend()
        self.interfaces = VethBackend(router_netns=router_netns, **timing) if router_netns else AttachBackend()

    def start(self, app):
        self.volumes.start(app)
        try:
            self.interfaces.start(app)
        except Exception:
            self.volumes.stop()
            raise

    def stop(self):
        try:
            self.interfaces.stop()
        finally:
            self.volumes.stop()

    def reset(self):
        try:
            self.interfaces.reset()
        finally:
            self.volumes.reset()

    def describe(self):
        return {"backend": self.name, "loopback": self.volumes.describe(), "veth": self.interfaces.describe()}

    def on_attach_volume(self, volume_id, instance_id, device, volume):
        self.volumes.on_attach_volume(volume_id, instance_id, device, volume)

    def on_detach_volume(self, volume_id, instance_id, device, force, volume):
        self.volumes.on_detach_volume(volume_id, instance_id, device, force, volume)

    def on_attach_eni(self, eni_id, instance_id, device_index, eni):
        self.interfaces.on_attach_eni(eni_id, instance_id, device_index, eni)

    def on_detach_eni(self, eni_id, instance_id, attachment_id, force, eni):
        self.interfaces.on_detach_eni(eni_id, instance_id, attachment_id, force, eni)
