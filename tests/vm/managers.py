"""The VM suite's network-manager scenarios (issue 14): one guest per manager of a real AMI.

Each guest boots the image with every manager installed and runs the one
the scenario names (vmtest.manager=, guest/etc/systemd/system-generators/
vmtest-generator): networkd with netplan's match-all DHCP and a stand-in for
cloud-init's hotplug (Ubuntu 24.04), networkd with a stand-in for
amazon-ec2-net-utils 2.x (Amazon Linux 2023), NetworkManager at its defaults
(RHEL), ifupdown with allow-hotplug and dhclient (Debian's AMIs). The ENI is
a tap on the scenario's VPC bridge, where dnsmasq leases each ENI its own IP
by MAC for 120 s (harness.Vpc).

The node boots under Routing=auto; the outcome is judged, then each
disturbance of that manager is forced (a restart, a reconfigure or reapply,
a lease renewal, a udev change event) and the routes must stay as they
were. Then nodeagent stops (DetachOnStop=yes: the ENI is detached), the user
data says Routing=agent, nodeagent starts again (the ENI is attached again)
and the same is judged. The outcome, every time: the ENI's IP on the ENI's
link and nowhere else; a client in the VPC reaches it and the replies come
back through that link; the primary IP's traffic leaves by eth0 as before.
"""

import json
import time
import urllib.request

ENI_LINK_PORT = 8080
SETTLE = 6              # seconds after a disturbance before the routes are looked at again
RENEWAL_WAIT = 110      # at most this long for a lease renewal (at half of the 120 s lease)
PRIMARY_IP = "10.0.1.5"
FAKE = "192.0.2.1"

# What disturbs each manager, as an operator or the manager itself would.
DISTURBANCES = {
    "networkd": [
        ("systemctl restart systemd-networkd", "systemctl restart systemd-networkd"),
        ("networkctl reconfigure", "networkctl reconfigure {link}"),
        ("networkctl renew", "networkctl renew {link}"),
        ("a udev change event", "udevadm trigger --action=change --settle /sys/class/net/{link}"),
    ],
    "ec2": [
        ("systemctl restart systemd-networkd", "systemctl restart systemd-networkd"),
        ("systemctl restart policy-routes@", "systemctl restart policy-routes@{link}.service"),
        ("networkctl reconfigure", "networkctl reconfigure {link}"),
        ("a udev change event", "udevadm trigger --action=change --settle /sys/class/net/{link}"),
    ],
    "nm": [
        ("systemctl restart NetworkManager", "systemctl restart NetworkManager"),
        ("nmcli device reapply", "nmcli device reapply {link}"),
        ("a udev change event", "udevadm trigger --action=change --settle /sys/class/net/{link}"),
    ],
    "ifupdown": [
        ("systemctl restart ifup@", "systemctl restart ifup@{link}.service"),
        ("a udev change event", "udevadm trigger --action=change --settle /sys/class/net/{link}"),
    ],
}

DESCRIPTION = {
    "networkd": "systemd-networkd + netplan match-all DHCP + cloud-init hotplug stand-in (Ubuntu 24.04)",
    "ec2": "systemd-networkd + amazon-ec2-net-utils 2.x stand-in (Amazon Linux 2023)",
    "nm": "NetworkManager at its defaults (RHEL)",
    "ifupdown": "ifupdown allow-hotplug + dhclient (Debian)",
}


def scenarios(h):
    """The scenarios, built on scenarios.py's helpers (h: that module)."""

    def user_data(mode):
        return h.USER_DATA.replace(f"Id={h.ENI}\n", f"Id={h.ENI}\nRouting={mode}\nDetachOnStop=yes\n")

    def snapshot(vm):
        """The guest's IPv4 addresses, rules and routes, without lifetimes and counters."""
        rc, out = vm.run("echo \"$(ip -j -4 addr)\"; echo \"$(ip -j -4 rule)\"; echo \"$(ip -j -4 route show table all)\"",
                         timeout=30, check=True)
        addr, rule, route = (json.loads(line) for line in out.strip().splitlines()[:3])
        addresses = sorted((a["ifname"], i["local"], i["prefixlen"], i.get("valid_life_time"))
                           for a in addr if a["ifname"] != "lo" for i in a.get("addr_info", []))
        rules = sorted((r.get("priority"), r.get("src", "all"), str(r.get("table"))) for r in rule)
        routes = sorted((str(r.get("table", "main")), r["dst"], r.get("gateway", ""), r.get("dev", ""),
                         r.get("prefsrc", ""), r.get("metric", 0)) for r in route
                        if str(r.get("table")) != "local" and r.get("type", "unicast") == "unicast")
        return {"addresses": addresses, "rules": rules, "routes": routes}

    def comparable(snap, own_only=False):
        """What the outcome stands on: the addresses (a lease's lifetime counts
        down, so only "forever" or not counts), the rules (a rule a manager
        adds without a priority gets one from the kernel, which depends on
        the rules there are), the routes of the policy tables. The main table
        is the managers' own: a restart may legitimately give eth0 back the
        default route that the ENI's lease had replaced."""
        # Under agent nodeagent's own are the ENI's table and rule (the
        # primary IP's, left by the auto phase's run, are no longer watched).
        tables = ("10001",)
        return {"addresses": [(a[0], a[1], a[2], a[3] == 4294967295) for a in snap["addresses"]],
                "rules": sorted({(r[1], r[2]) for r in snap["rules"] if not own_only or r[2] in tables}),
                "routes": [r for r in snap["routes"] if r[0] not in ("main", "default")
                           and (not own_only or r[0] in tables)]}

    def route_dev(vm, source):
        rc, out = vm.run(f"ip -j route get {FAKE} from {source}", timeout=30)
        try:
            return json.loads(out)[0].get("dev")
        except (ValueError, IndexError):
            return None

    def vpc_client(vm, link):
        """A client in the VPC (this namespace) fetches a page from the ENI's IP; the
        guest's link counts the replies it sent."""
        def tx():
            return int(vm.run(f"cat /sys/class/net/{link}/statistics/tx_packets", timeout=30)[1].strip() or 0)
        before = tx()
        try:
            with urllib.request.urlopen(f"http://{h.ENI_IP}:{ENI_LINK_PORT}/", timeout=10) as r:
                ok = r.status == 200
        except OSError as e:
            ok = False
            h.say(f"VPC client: {e}")
        return ok, tx() - before

    def judge_outcome(c, vm, link, what):
        """The contract's outcome, seen from inside and from the VPC."""
        snap = snapshot(vm)
        where = [a[0] for a in snap["addresses"] if a[1] == h.ENI_IP]
        c.eq(where, [link], f"{what}: {h.ENI_IP} is on {link} and nowhere else")
        c.eq(route_dev(vm, h.ENI_IP), link, f"{what}: traffic from {h.ENI_IP} leaves by {link}")
        c.eq(route_dev(vm, PRIMARY_IP), "eth0", f"{what}: traffic from the primary IP {PRIMARY_IP} leaves by eth0")
        rc, _ = vm.run(f"curl -sS --max-time 15 --interface {PRIMARY_IP} -o /dev/null http://{FAKE}/_fake/health",
                       timeout=40)
        c.eq(rc, 0, f"{what}: a connection from the primary IP reaches the fake as before (eth0)")
        ok, replies = vpc_client(vm, link)
        c.check(ok and replies > 0, f"{what}: a client in the VPC reaches {h.ENI_IP} and the replies come back "
                f"through {link}", f"ok {ok}, {replies} packet(s) sent by {link}")
        return snap

    def interface_story(vm, since_cursor):
        """nodeagent's interface lines of the last start, with their monotonic times."""
        after = f"--after-cursor='{since_cursor}'" if since_cursor else ""
        rc, out = vm.run(f"journalctl -u nodeagent.service -o short-monotonic --no-pager {after}"
                         " | grep -E 'interface: |network managers' || true", timeout=30)
        return out.strip().splitlines()

    def cursor(vm):
        rc, out = vm.run("journalctl -u nodeagent.service -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'",
                         timeout=30)
        return out.strip()

    def settle(vm, what, quiet=SETTLE, timeout=90):
        """Until the managers are done: two snapshots `quiet` seconds apart
        agree. A manager may go on after nodeagent's READY (cloud-init's
        hotplug describes the NIC only once IMDS knows it); the baseline is
        what they all settled on."""
        start = time.monotonic()
        # The two actors known to go on by themselves: cloud-init's hotplug
        # stand-in (a transient unit per NIC, ending in `netplan apply`,
        # which takes eth0's lease away for a moment), and eth0's DHCP. On
        # a loaded machine they outlast a quiet window; wait for them first.
        vm.run("udevadm settle -t 30; "
               "for i in $(seq 120); do systemctl list-units --no-legend --state=active,activating "
               "'vmtest-cloud-init-hotplug-*' | grep -q . || break; sleep 0.5; done; "
               f"for i in $(seq 120); do ip -4 -o addr show dev eth0 | grep -q ' {PRIMARY_IP}/' && break; "
               "sleep 0.5; done", timeout=150)
        last = comparable(snapshot(vm))
        while time.monotonic() - start < timeout:
            vm.sleep(quiet)
            now = comparable(snapshot(vm))
            if now == last:
                h.say(f"{what}: the routing settled after {time.monotonic() - start:.0f}s")
                return
            last = now
        h.say(f"{what}: the routing still changes after {timeout}s")

    def path_seconds(lines):
        """From the interface path's first state line to its "-> done"."""
        times = []
        for line in lines:
            if "interface: " in line and " -> " in line:
                try:
                    times.append((float(line.split("]")[0].strip("[ ")), line))
                except ValueError:
                    pass
        starts = [t for t, l in times if "start -> find" in l]
        ends = [t for t, l in times if "-> done" in l]
        return (ends[-1] - starts[-1]) if starts and ends else None

    def phase(s, vm, manager, mode, story):
        c = s.checks
        what = f"{manager}/{mode}"
        env = vm.run("cat /run/nodeagent/state", timeout=30)[1]
        link = next((l.split("=", 1)[1].strip('"') for l in env.splitlines() if l.startswith("NODEAGENT_INTERFACE=")),
                    None)
        c.check(link, f"{what}: nodeagent is ready with the ENI's link in its state file", env)
        if not link:
            return
        for line in story:
            if "network managers" in line or "routing: " in line:
                c.note(f"{what}: {line.split(']: ', 1)[-1]}")
        seconds = path_seconds(story)
        c.note(f"{what}: interface path {seconds:.1f}s (start -> done)" if seconds is not None
               else f"{what}: interface path: no state lines found")
        vm.run(f"systemd-run --unit=vmtest-web-{mode} python3 -m http.server {ENI_LINK_PORT} --bind 0.0.0.0 "
               "--directory /run/vmtest", timeout=30)
        settle(vm, what)
        restarts = vm.unit("nodeagent.service", "NRestarts")
        before = judge_outcome(c, vm, link, f"{what}")
        mac = h.ENI_MAC
        acks = s.vpc.acks(mac)
        requests = s.vpc.requests(mac)
        if mode == "agent":
            eni = [a for a in before["addresses"] if a[1] == h.ENI_IP]
            c.check(eni and eni[0][3] == 4294967295, f"{what}: {h.ENI_IP} is permanent (no lease to expire)", eni)
        started = time.monotonic()
        # Under agent the link is nodeagent's: what it made must stay. A
        # manager's leftovers of the auto phase (a rule of the old link's
        # that networkd keeps until its next start) may go; they are noted.
        own_only = mode == "agent"

        def unchanged(label):
            now = snapshot(vm)
            c.eq(comparable(now, own_only), comparable(before, own_only), f"{what}: addresses, "
                 f"{'nodeagent' + chr(39) + 's ' if own_only else ''}rules and policy routes as they were after {label}")
            if own_only and comparable(now) != comparable(before):
                c.note(f"{what}: after {label} the managers' own rules and tables changed: "
                       f"{comparable(before)['rules']} -> {comparable(now)['rules']}")
            c.eq((route_dev(vm, h.ENI_IP), route_dev(vm, PRIMARY_IP)), (link, "eth0"),
                 f"{what}: after {label}, traffic from {h.ENI_IP} leaves by {link}, from {PRIMARY_IP} by eth0")

        for label, command in DISTURBANCES[manager]:
            vm.run(command.format(link=link), timeout=90)
            # A DHCP client that let its lease go asks again (seconds).
            vm.sleep(2)
            settle(vm, f"{what}: {label}", quiet=4, timeout=45)
            unchanged(label)
        if mode == "auto":
            # The manager's DHCP client renews at half the 120 s lease.
            try:
                vm.wait("a lease renewal of the ENI (dnsmasq's DHCPACK)", lambda: s.vpc.acks(mac) > acks,
                        max(5, RENEWAL_WAIT - (time.monotonic() - started)), 1.0)
                settle(vm, f"{what}: lease renewal", quiet=4, timeout=45)
                unchanged("a lease renewal")
            except h.TestFailure as e:
                c.check(False, f"{what}: the manager renewed the ENI's lease", e)
        elif manager != "ifupdown":
            c.eq(s.vpc.requests(mac), requests, f"{what}: the manager sent no DHCP request for the ENI "
                 "(it leaves the link alone)")
        judge_outcome(c, vm, link, f"{what}, after the disturbances")
        c.eq(vm.unit("nodeagent.service", "ActiveState"), "active", f"{what}: nodeagent is still active")
        c.eq(vm.unit("nodeagent.service", "NRestarts"), restarts, f"{what}: nodeagent did not restart")
        vm.run(f"systemctl stop vmtest-web-{mode}", timeout=30)

    def run_manager(s, manager):
        world = h.base_world()
        world["imds"]["user_data"] = user_data("auto")
        h.make_blank_volume(s.volume(h.VOLUME), h.VOLUME_SIZE)
        s.start_fake(world)
        vm = s.vm(f"vm-{manager}", world, cmdline=[f"vmtest.manager={manager}"])
        # Two boots' worth of work in one guest (auto, then agent): twice the bound.
        vm.bound *= 2
        vm.deadline += vm.bound / 2
        vm.wait_up()
        h.say(f"{manager}: {DESCRIPTION[manager]}")
        vm.wait_boot_settled()
        c = s.checks
        c.eq(vm.unit("nodeagent.service", "ActiveState"), "active", f"{manager}/auto: nodeagent.service is active")
        phase(s, vm, manager, "auto", interface_story(vm, ""))

        # Detach (DetachOnStop=yes), then attach again under Routing=agent.
        s.fake.client.imds(user_data=user_data("agent"))
        mark = cursor(vm)
        vm.run("systemctl stop nodeagent.service", timeout=180)
        vm.wait("EC2 to list the ENI as detached",
                lambda: not (s.fake.state()["network_interfaces"][h.ENI].get("attachment") or {}), 90, 1.0)
        vm.wait("the ENI's link to leave the guest",
                lambda: h.ENI_MAC not in vm.run("ip -o link", timeout=30)[1], 60, 1.0)
        rc, out = vm.run("systemctl start nodeagent.service", timeout=240)
        c.check(rc == 0, f"{manager}/agent: nodeagent.service started again (READY) after the detach", out)
        phase(s, vm, manager, "agent", interface_story(vm, mark))

        final = h.finish_vm(s, vm)
        att = final["network_interfaces"][h.ENI].get("attachment") or {}
        c.check(att.get("status") == "attached", f"{manager}: EC2: the ENI is attached again", att)
        h.judge_app(c, s, vm, world["self"])
        reqs = s.fake.requests()
        c.eq(h.count(reqs, "AttachNetworkInterface"), 2, f"{manager}: two AttachNetworkInterface (auto, then agent)")

    out = {}
    for manager in DISTURBANCES:
        out[f"mgr-{manager}"] = (lambda m: lambda s, shared: run_manager(s, m))(manager)
    return out
