"""Attach backends: what an attach or detach does beyond the fake's bookkeeping.

EC2 state (attaching/attached, ...) is always kept by the fake. A backend
makes the attach real for the machine under test: the default does nothing
(the API alone is faked); loopback.LoopBackend makes a loop device with the
volume's serial, vethback.VethBackend a veth pair with the ENI's MAC,
local.LocalBackend both; a QEMU one could hot-plug an NVMe disk / a NIC into
a guest over QMP. reset() runs on POST /_fake/reset, describe() answers
GET /_fake/backend.

Hooks run when EC2 accepts the request (AttachVolume answers "attaching"),
outside the world lock so a slow hotplug blocks nobody, and after the new
state is visible. A hook that raises turns the reply into a 500
InternalError; the EC2 state stays as recorded (like an attach stuck in
"attaching" on real EC2), and the test can inspect or fix it.

Select one with `--backend module:Class` (the module is looked up beside
this file first, then on sys.path) or `--backend /path/to/file.py:Class`, and pass options with repeated `--backend-opt key=value`;
they arrive as keyword arguments of the constructor.
"""

import importlib
import importlib.util
import os


class AttachBackend:
    """Base class and the default: every hook does nothing."""

    name = "null"

    def __init__(self, **options):
        self.options = options

    def start(self, app):
        """Called once before the server accepts requests."""

    def stop(self):
        """Called once at shutdown (SIGTERM): release devices the backend created."""

    def reset(self):
        """POST /_fake/reset: the world is back to its start, so release what the backend made."""

    def describe(self):
        """What GET /_fake/backend answers: a JSON-able dict (which device is which volume, ...)."""
        return {"backend": self.name}

    def on_attach_volume(self, volume_id, instance_id, device, volume):
        """AttachVolume accepted. volume: a copy of the world's volume entry."""

    def on_detach_volume(self, volume_id, instance_id, device, force, volume):
        """DetachVolume accepted."""

    def on_attach_eni(self, eni_id, instance_id, device_index, eni):
        """AttachNetworkInterface accepted. eni: a copy of the world's ENI entry (mac_address, ...)."""

    def on_detach_eni(self, eni_id, instance_id, attachment_id, force, eni):
        """DetachNetworkInterface accepted."""


NullBackend = AttachBackend


def load_backend(spec, options):
    """Build the backend named "module:Class", "/path/file.py:Class" or "null"."""
    if not spec or spec == "null":
        return AttachBackend(**options)
    module_name, _, class_name = spec.partition(":")
    if not class_name:
        raise ValueError(f"backend {spec!r} must be module:Class")
    if module_name.endswith(".py"):
        spec_ = importlib.util.spec_from_file_location(os.path.basename(module_name)[:-3], module_name)
        module = importlib.util.module_from_spec(spec_)
        spec_.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    if not issubclass(cls, AttachBackend):
        raise ValueError(f"{spec} is not an AttachBackend")
    return cls(**options)
