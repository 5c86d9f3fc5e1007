"""The VM scenario of issue 19 (tracker; DESIGN.md's issue 16): a node handed from a live guest to the next.

`handover-two`: two guests of one node at once, the only test of the
holder's systemd path. Guest 1 (vm-a, the world's self) boots as the node's
instance and comes up: volume formatted and mounted, ENI routed, record
published, the application writing its data. Guest 2 (vm-b, a newer
instance tagged `nodeagent:node` like the first) boots with the same user
data, `TakeOver=handover`: it tags the volume and the ENI
`nodeagent:handover-to=<itself>` and prompts the holder. Guest 1's daemon
verifies the request and runs `systemctl stop --no-block` of its own unit:
app.service (Requires= nodeagent.service) stops first, then SIGTERM releases
everything. Guest 2 then attaches and reads guest 1's data back.

Each guest has its own IMDS: the fake's second listener (--instance) on
IMDS_PORT answers as guest 2, which reaches it through
AWS_EC2_METADATA_SERVICE_ENDPOINT (`systemd.setenv=` on its kernel command
line). Guest 2's QMP socket is in the world's `local_instances`, so the QEMU
backend hot-plugs its attachments there, and plugs the volume in only once
guest 1's QEMU let go of it.
"""

import hashlib
import json
import os
import time

from harness import IMDS_ADDRESS, blkid, debugfs_cat, make_blank_volume, message_of, say

NODE = "kafka-1"
SECOND = "i-0bbbbbbbbbbbbbbb0"
SECOND_ENI = "eni-0bbbbbbbbbbbbbbb0"
SECOND_IP = "10.0.1.6"
SECOND_MAC = "02:00:00:00:01:06"
IMDS_PORT = 8081
NODE_TAG = "nodeagent:node"
TO_TAG = "nodeagent:handover-to"
BY_TAG = "nodeagent:handed-over-by"
MOUNT_UNIT = "var-lib-kafka.mount"     # systemd's unit for /var/lib/kafka (MOUNT_POINT)
TAKEOVER_TIMEOUT = "8min"


def _user_data(S):
    return f"""#nodeagent
[Node]
Name={NODE}
Timeout=15min

[Volume]
Id={S.VOLUME}
MountPoint={S.MOUNT_POINT}
FileSystem=ext4
TakeOver=handover
TakeOverTimeout={TAKEOVER_TIMEOUT}

[Interface]
Id={S.ENI}
TakeOver=handover
TakeOverTimeout={TAKEOVER_TIMEOUT}

[DNS]
HostedZoneId={S.ZONE}
Name={S.RECORD}
"""


def _clock_offset(vm):
    """Guest realtime minus host realtime (seconds), and its uncertainty (half the round trip)."""
    before = time.time()
    _, out = vm.run("date +%s.%N", timeout=60)
    after = time.time()
    return float(out.strip()) - (before + after) / 2, (after - before) / 2


def _journal(vm, *units):
    """A guest's journal entries of these units (JSON), read now."""
    args = " ".join(f"-u {u}" for u in units)
    _, out = vm.run(f"journalctl -b --no-pager -o json {args}", timeout=90)
    entries = []
    for line in out.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass
    return entries


def _first(entries, pred):
    for e in entries:
        if pred(e):
            return e
    return None


def _mono(e):
    return int(e["__MONOTONIC_TIMESTAMP"]) if e else None


def _real(e):
    return int(e["__REALTIME_TIMESTAMP"]) / 1e6 if e else None


def _systemd_says(e, unit, *words):
    return e.get("_PID") == "1" and e.get("UNIT") == unit and any(message_of(e).startswith(w) for w in words)


def register(scenario, S):
    """Adds `handover-two` to scenarios.py's table; S is scenarios.py (its constants and judgements)."""

    @scenario("handover-two")
    def handover_two(s, shared):
        world = S.base_world()
        first = world["self"]
        world["imds"]["user_data"] = _user_data(S)
        world["instances"][first]["tags"][NODE_TAG] = NODE
        now = int(time.time())
        world["instances"][SECOND] = dict(S.world_copy(world["instances"][first]), launch_time=now,
                                          primary_eni=SECOND_ENI, reservation_id="r-0bbbbbbbbbbbbbbb0")
        primary = world["network_interfaces"][world["instances"][first]["primary_eni"]]
        world["network_interfaces"][SECOND_ENI] = dict(S.world_copy(primary), mac_address=SECOND_MAC,
                                                       private_ip_address=SECOND_IP)
        world["network_interfaces"][SECOND_ENI]["attachment"].update(
            attachment_id="eni-attach-0bbbbbbbbbbbbbbb0", instance_id=SECOND)
        qmp2 = os.path.join(s.work, "qmp-b.sock")
        world["local_instances"] = {SECOND: {"qmp": qmp2}}
        make_blank_volume(s.volume(S.VOLUME), S.VOLUME_SIZE)
        s.start_fake(world, instances=[f"{SECOND}={IMDS_PORT}"])
        c = s.checks
        # Generous bounds: two TCG guests share the machine's cores.
        bound = 3 * s.bound

        # -- guest 1: the node's instance comes up.
        a = s.vm("vm-a", world, bound=bound)
        a.wait_up(timeout=300)
        a.wait_boot_settled(timeout=400)
        c.eq(a.unit("nodeagent.service", "ActiveState"), "active", "guest 1: nodeagent.service is active (READY)")
        c.eq(a.unit("app.service", "ActiveState"), "active", "guest 1: app.service is active")
        rc, data = a.run(f"cat {S.MOUNT_POINT}/app-data", timeout=60)
        c.check(rc == 0 and f"instance {first}" in data, "guest 1: the application wrote its data into the volume",
                data)

        # -- guest 2: a newer instance of the node asks for it.
        b = s.vm("vm-b", world, instance=SECOND, qmp=qmp2, bound=bound, cmdline=[
            f"systemd.setenv=AWS_EC2_METADATA_SERVICE_ENDPOINT=http://{IMDS_ADDRESS}:{IMDS_PORT}"])
        b.wait_up(timeout=300)
        b.wait("nodeagent.service to become active (the handover done)",
               lambda: b.unit("nodeagent.service", "ActiveState") in ("active", "failed"), 600, 2.0)
        b.wait_boot_settled(timeout=300)
        _, seen = b.run(f"cat {S.MOUNT_POINT}/app-data", timeout=60)
        offset_b, err_b = _clock_offset(b)
        journal_b = _journal(b, "nodeagent.service")
        final = S.finish_vm(s, b)

        # -- guest 1, after: what its systemd and nodeagent did.
        a.wait("nodeagent.service to have stopped",
               lambda: a.unit("nodeagent.service", "ActiveState") in ("inactive", "failed"), 120, 2.0)
        offset_a, err_a = _clock_offset(a)
        journal_a = _journal(a, "nodeagent.service", "app.service", MOUNT_UNIT)
        a.sleep(15)  # "stays stopped": no restart comes after a while
        a.collect()
        units_a = a.units()
        a.poweroff()

        # Guest 2: the node, as any node is judged (the volume, ENI, record, app after READY).
        S.judge_node(c, s, b, final, SECOND)
        image = s.volume(S.VOLUME)
        uuid = blkid(image).get("UUID")
        c.eq(final["volumes"][S.VOLUME]["tags"].get(S.INIT_TAG), uuid,
             f"the filesystem guest 2 mounted is guest 1's (UUID {uuid} = the {S.INIT_TAG} tag guest 1 wrote)")
        c.check(f"instance {first}" in seen, f"guest 2's application reads guest 1's data back ({S.MOUNT_POINT}"
                "/app-data)", seen)
        log = (debugfs_cat(image, "/app-journal.log") or "").strip().splitlines()
        digest = hashlib.sha256(data.encode()).hexdigest()[:16]
        c.check(len(log) == 2 and f"instance={first}" in log[0] and f"instance={SECOND}" in log[1]
                and f"data={digest}" in log[1],
                "the application's log in the volume: guest 1's line, then guest 2's, which read guest 1's "
                "app-data (its digest)", log)
        reqs = s.fake.requests()
        c.eq(S.count(reqs, "ChangeResourceRecordSets", ok=None), 1,
             "one Route 53 change in all (guest 1's): the record stays, the IP moves with the ENI")
        c.eq(S.count(reqs, "DeleteTags", ok=None), 0, "no tag removed")

        # The resources: tagged by both sides, never forced.
        vol_tags = final["volumes"][S.VOLUME]["tags"]
        eni_tags = final["network_interfaces"][S.ENI]["tags"]
        for rid, tags in ((S.VOLUME, vol_tags), (S.ENI, eni_tags)):
            c.eq((tags.get(TO_TAG), tags.get(BY_TAG)), (SECOND, first),
                 f"{rid} is tagged {TO_TAG}={SECOND} and {BY_TAG}={first}")
        detaches = [r for r in reqs if r["action"] in ("DetachVolume", "DetachNetworkInterface")]
        c.check(len(detaches) == 2 and all((r.get("params") or {}).get("Force") in (None, "false")
                                           for r in detaches),
                "guest 1 detached the volume and the ENI once each, not forced",
                [(r["action"], r.get("params")) for r in detaches])

        # Guest 1: the application stopped, then the volume left; the daemon exited 0 and stays stopped.
        agent_a, app_a = units_a.get("nodeagent.service", {}), units_a.get("app.service", {})
        c.eq((agent_a.get("ActiveState"), agent_a.get("Result"), agent_a.get("ExecMainStatus"),
              agent_a.get("NRestarts")), ("inactive", "success", "0", "0"),
             "guest 1: nodeagent exited 0 and stays stopped (no restart)")
        c.eq(app_a.get("ActiveState"), "inactive", "guest 1: app.service is stopped")
        accepted = _first(journal_a, lambda e: e.get("SYSLOG_IDENTIFIER") == "nodeagent"
                          and message_of(e).startswith("Accepted the request to hand node"))
        handing = _first(journal_a, lambda e: e.get("SYSLOG_IDENTIFIER") == "nodeagent"
                         and message_of(e).startswith("Handing node"))
        handed = _first(journal_a, lambda e: e.get("SYSLOG_IDENTIFIER") == "nodeagent"
                        and message_of(e).startswith("Handed node"))
        app_stopping = _first(journal_a, lambda e: _systemd_says(e, "app.service", "Stopping"))
        app_stopped = _first(journal_a, lambda e: _systemd_says(e, "app.service", "Stopped", "app.service: "
                                                                "Deactivated"))
        unmounted = _first(journal_a, lambda e: _systemd_says(e, MOUNT_UNIT, "var-lib-kafka.mount: Deactivated",
                                                              "Unmounted"))
        say("guest 1's handover lines:\n      " + "\n      ".join(
            f"{_mono(e) / 1e6:10.3f} {e.get('UNIT') or e.get('SYSLOG_IDENTIFIER')}: {message_of(e)}"
            for e in (accepted, app_stopping, app_stopped, handing, unmounted, handed) if e))
        c.check(accepted and handing and handed, "guest 1's daemon accepted guest 2's request, released, and "
                "said so", [message_of(e) for e in journal_a if e.get("SYSLOG_IDENTIFIER") == "nodeagent"][-12:])
        c.check(app_stopped and unmounted and _mono(app_stopped) < _mono(unmounted),
                f"guest 1: app.service stopped before the volume was unmounted (systemd's {MOUNT_UNIT})",
                f"app stopped {app_stopped and message_of(app_stopped)!r} at {_mono(app_stopped)}, "
                f"unmounted at {_mono(unmounted)}")
        c.check(app_stopped and handing and _mono(app_stopped) < _mono(handing),
                "guest 1: app.service stopped before the daemon's release began (systemctl stop of its own unit: "
                "the units requiring it first)", f"{_mono(app_stopped)} {_mono(handing)}")
        vol_detach = [r for r in detaches if r["action"] == "DetachVolume"]
        if app_stopped and vol_detach:
            # Host time against guest 1's clock corrected by its measured offset.
            margin = vol_detach[0]["time"] - (_real(app_stopped) - offset_a)
            c.check(margin > -err_a, f"guest 1's app.service stopped {margin:.2f}s (+-{err_a:.2f}s) before the "
                    "fake's DetachVolume", margin)

        # The downtime: guest 1's release start (its acceptance) -> guest 2's READY, on the host's clock.
        ready_b = _first(journal_b, lambda e: _systemd_says(e, "nodeagent.service", "Started"))
        if accepted and ready_b:
            start = _real(accepted) - offset_a
            ready = _real(ready_b) - offset_b
            first_detach = min(r["time"] for r in detaches) if detaches else None
            c.note(f"handover downtime (guest 1 accepts the request -> guest 2 READY, two TCG guests on shared "
                   f"cores): {ready - start:.1f}s (+-{err_a + err_b:.1f}s); guest 1's first detach -> guest 2 "
                   f"READY: {ready - first_detach:.1f}s" if first_detach else "")
        # What made guest 1 look: in this network the prompt (UDP to guest 1's primary IP) cannot arrive (each
        # guest's primary network is QEMU's user network of its own), so its look every 60 s found the tag.
        asked = [r["time"] for r in reqs
                 if r["action"] == "CreateTags" and (r.get("params") or {}).get("Tag.1.Key") == TO_TAG]
        if asked and accepted:
            c.note(f"guest 2 tagged {TO_TAG} -> guest 1 accepted: {_real(accepted) - offset_a - min(asked):.1f}s "
                   "(guest 1's look, at most 60 s; the prompt has no path between the guests' primary networks)")

    return handover_two
