"""VethBackend: AttachNetworkInterface makes a real link with the ENI's MAC, wired to a "VPC router".

    --netns AGENT_NS --backend vethback:VethBackend --backend-opt router_netns=VPC_NS
        [--backend-opt device_delay=0.2] [--backend-opt detach_delay=0.2]

The fake runs in the agent's network namespace (fakeaws.py --netns, or
`ip netns exec`); VPC_NS is a namespace the test made for the VPC side.

An AttachNetworkInterface to an instance on this machine (the world's
`self`, or another one: App.is_local()), device_delay seconds after EC2
accepted it (the hotplug), creates a veth pair: the instance's end in the
fake's namespace (for another instance, the `netns` of its entry in the
world's `local_instances`, when it has one), named `eth<DeviceIndex>`
(else `enx<mac>` when that name is taken), with the ENI's MAC address,
left down as a hot-plugged NIC appears; its peer goes straight into VPC_NS
(it never shows in the agent's namespace), named `vpc<mac>`, up, with the
subnet's router address: the subnet's network address + 1 with its prefix
(10.0.1.0/24 -> 10.0.1.1/24), where a VPC has its router. Attachments to
other instances make no link.

DetachNetworkInterface (force or not), detach_delay seconds later, deletes
the pair. stop() and POST /_fake/reset delete every pair the backend made.
GET /_fake/backend (describe()) tells which link is which ENI.

Everything goes through iproute2 (`ip`, argument lists, no shell).
"""

import ipaddress
import logging
import os
import socket
import subprocess
import threading

from backends import AttachBackend
from hotplug import Scheduler

log = logging.getLogger("fakeaws")

IP = "ip"


class IpError(RuntimeError):
    pass


def ip(*args):
    cmd = [IP, *args]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise IpError(f"{' '.join(cmd)}: {e}") from None
    if proc.returncode != 0:
        raise IpError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def _link_index(name, netns=None):
    """The ifindex of link name, here or in netns; None when there is none."""
    if netns is None:
        try:
            return socket.if_nametoindex(name)
        except OSError:
            return None
    try:
        out = ip("-n", netns, "-o", "link", "show", "dev", name)
    except IpError:
        return None
    head = out.split(":", 1)[0].strip()
    return int(head) if head.isdigit() else None


def _link_name(index, netns=None):
    """The name of the link with ifindex index, here or in netns; None when gone."""
    if netns is None:
        try:
            return socket.if_indextoname(index)
        except OSError:
            return None
    try:
        out = ip("-n", netns, "-o", "link", "show")
    except IpError:
        return None
    for line in out.splitlines():
        number, _, rest = line.partition(":")
        if number.strip() == str(index):
            return rest.split(":", 1)[0].strip().split("@", 1)[0]
    return None


def _link_exists(name, netns=None):
    return _link_index(name, netns) is not None


class _Veth:
    def __init__(self, eni_id, mac, device_index, router_address, netns=None):
        self.eni_id = eni_id
        self.netns = netns  # the instance's namespace; None: the fake's own
        self.mac = mac.lower()
        self.device_index = device_index
        self.router_address = router_address  # "10.0.1.1/24"
        self.state = "attaching"  # attaching -> attached -> detaching -> gone; or failed
        self.ifname = None
        self.ifindex = None
        self.peer = "vpc" + self.mac.replace(":", "")
        self.error = None
        self.handle = None

    def view(self):
        return {"eni_id": self.eni_id, "netns": self.netns, "ifname": self.ifname, "ifindex": self.ifindex,
                "mac": self.mac,
                "device_index": self.device_index, "peer": self.peer, "router_address": self.router_address,
                "state": self.state, "error": self.error}


class VethBackend(AttachBackend):
    name = "veth"

    def __init__(self, router_netns=None, device_delay=0.2, detach_delay=None, **options):
        super().__init__(router_netns=router_netns, device_delay=device_delay, detach_delay=detach_delay,
                         **options)
        if options:
            raise ValueError(f"VethBackend: unknown option(s) {sorted(options)}")
        if not router_netns:
            raise ValueError("VethBackend needs router_netns (the VPC side's network namespace)")
        self.router_netns = router_netns
        self.device_delay = float(device_delay)
        self.detach_delay = self.device_delay if detach_delay in (None, "") else float(detach_delay)
        self.app = None
        self._lock = threading.RLock()
        self._current = {}    # ENI id -> _Veth of its live attachment
        self._releasing = []
        self._sched = None
        self._stopped = False

    # -- life -------------------------------------------------------------------------

    def start(self, app):
        self.app = app
        self._check_router()
        self._sched = Scheduler("veth")

    def stop(self):
        with self._lock:
            self._stopped = True
        if self._sched:
            self._sched.stop()
        self._release_all()

    def reset(self):
        self._release_all()

    def _check_router(self):
        if not os.path.exists(os.path.join("/run/netns", self.router_netns)):
            raise ValueError(f"VethBackend: no network namespace {self.router_netns!r} (ip netns add it)")

    # -- hooks ----------------------------------------------------------------------------

    def _is_self(self, instance_id):
        return self.app.is_local(instance_id)

    def _router_address(self, eni):
        """The subnet's network address + 1, with its prefix: where a VPC has its router."""
        with self.app.world.lock:
            subnet = self.app.world.data["subnets"].get(eni.get("subnet_id") or "")
            cidr = subnet and subnet.get("cidr_block")
        if not cidr:
            raise ValueError(f"VethBackend: the world has no subnet {eni.get('subnet_id')!r} with a cidr_block")
        net = ipaddress.ip_network(cidr, strict=False)
        return f"{net.network_address + 1}/{net.prefixlen}"

    def on_attach_eni(self, eni_id, instance_id, device_index, eni):
        if not self._is_self(instance_id):
            return
        router = self._router_address(eni)
        self._check_router()
        with self._lock:
            if self._stopped:
                raise RuntimeError("VethBackend: stopped")
            old = self._current.pop(eni_id, None)
            if old is not None:
                log.warning("veth: %s attached again while %s still stands for it: deleting that",
                            eni_id, old.ifname or "a pending attach")
                self._begin_detach(old, delay=0)
            rec = _Veth(eni_id, eni["mac_address"], device_index, router,
                        self.app.local_instance(instance_id).get("netns"))
            self._current[eni_id] = rec
            rec.handle = self._sched.call_later(self.device_delay, self._plug, rec)
        log.info("veth: %s -> link in %.2fs", eni_id, self.device_delay)

    def on_detach_eni(self, eni_id, instance_id, attachment_id, force, eni):
        with self._lock:
            rec = self._current.pop(eni_id, None)
            if rec is not None:
                self._begin_detach(rec, self.detach_delay)

    def _begin_detach(self, rec, delay):
        if rec.state == "attaching":
            rec.handle.cancel()
            rec.state = "gone"
            return
        if rec.state != "attached":
            return
        rec.state = "detaching"
        self._releasing.append(rec)
        rec.handle = self._sched.call_later(delay, self._unplug, rec)

    # -- link work (the scheduler thread) ---------------------------------------------

    def _plug(self, rec):
        with self._lock:
            if rec.state != "attaching" or self._stopped:
                return None
            candidates = [f"eth{rec.device_index}", "enx" + rec.mac.replace(":", "")]
            name = next((n for n in candidates if len(n) <= 15 and not _link_exists(n, rec.netns)), None)
            try:
                if name is None:
                    raise IpError(f"the names {candidates} are all taken")
                ip(*(["-n", rec.netns] if rec.netns else []), "link", "add", "name", name, "address", rec.mac,
                   "type", "veth", "peer", "name", rec.peer, "netns", self.router_netns)
                rec.ifname = name
                rec.ifindex = _link_index(name, rec.netns)
                if rec.ifindex is None:
                    raise IpError(f"{name} is gone right after it was made")
                ip("-n", self.router_netns, "link", "set", "lo", "up")
                ip("-n", self.router_netns, "address", "add", rec.router_address, "dev", rec.peer)
                ip("-n", self.router_netns, "link", "set", rec.peer, "up")
            except (IpError, OSError) as e:
                rec.state, rec.error = "failed", str(e)
                log.error("veth: could not make the link of %s: %s", rec.eni_id, e)
                if rec.ifname:
                    self._delete(rec)
                return None
            rec.state = "attached"
        log.info("veth: %s is %s (ifindex %d, %s%s), router %s on %s in %s", rec.eni_id, rec.ifname, rec.ifindex,
                 rec.mac, f", in {rec.netns}" if rec.netns else "", rec.router_address, rec.peer, self.router_netns)
        return None

    def _delete(self, rec):
        """Delete the pair by ifindex (the agent's side may have been renamed); the peer goes with it."""
        name = _link_name(rec.ifindex, rec.netns) if rec.ifindex else rec.ifname  # None: already gone
        if name and rec.netns and not os.path.exists(os.path.join("/run/netns", rec.netns)):
            name = None  # The instance's namespace went, and its links with it.
        if name:
            try:
                ip(*(["-n", rec.netns] if rec.netns else []), "link", "delete", "dev", name)
            except IpError as e:
                if _link_exists(name, rec.netns):
                    raise
                log.debug("veth: %s", e)
        # If the agent's end went some other way, the peer may be left in the VPC namespace.
        try:
            ip("-n", self.router_netns, "link", "delete", "dev", rec.peer)
        except IpError:
            pass

    def _unplug(self, rec):
        with self._lock:
            if rec.state != "detaching":
                return None
            try:
                self._delete(rec)
            except (IpError, OSError) as e:
                log.error("veth: deleting %s: %s; trying again", rec.ifname, e)
                return 0.5
            rec.state = "gone"
            self._releasing.remove(rec)
        log.info("veth: %s (%s) deleted", rec.ifname, rec.eni_id)
        return None

    def _release_all(self):
        with self._lock:
            for rec in list(self._current.values()):
                self._begin_detach(rec, delay=3600)  # Done right here.
            self._current = {}
            for rec in list(self._releasing):
                if rec.handle:
                    rec.handle.cancel()
                if self._unplug(rec) is not None:
                    log.error("veth: %s (%s) stays", rec.ifname, rec.eni_id)
                    rec.state = "gone"
                    self._releasing.remove(rec)

    def describe(self):
        with self._lock:
            return {
                "backend": self.name,
                "router_netns": self.router_netns,
                "interfaces": {eid: rec.view() for eid, rec in sorted(self._current.items())},
                "releasing": [rec.view() for rec in self._releasing],
            }
