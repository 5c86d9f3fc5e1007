"""The interface path end to end, in network namespaces of the test's own
(harness.NetNode, the `net` fixture): the fake AWS, whose
AttachNetworkInterface makes a veth link with the ENI's MAC wired to a "VPC
router" namespace, and the agent beside it. Every case asserts on the
kernel's state (ip -j) or the fake's."""

import os
import shutil
import subprocess

import pytest

from harness import (ENI, ENI_IP, ENI_MAC, INSTANCE, NODEAGENT, PREDECESSOR, TABLE, NetNode, calls, eni_rules,
                     ip_json, records, run, sh)


def test_boot_routes_the_eni_through_its_own_table_and_publishes_it(net):
    main_before = ip_json(net.ns, "route", "show", "table", "main")
    r = net.boot()
    # Attached, addressed, its table and rule, the record (harness.assert_interface_converged).
    name = net.assert_converged(r)
    addrs = [a for link in ip_json(net.ns, "addr", "show", "dev", name) for a in link["addr_info"]
             if a["family"] == "inet"]
    assert addrs[0].get("noprefixroute") is True

    # The main table and the primary interface are as they were.
    assert ip_json(net.ns, "route", "show", "table", "main") == main_before
    rp = sh("ip", "netns", "exec", net.ns, "sysctl", "-n", f"net.ipv4.conf.{name}.rp_filter").stdout.strip()
    assert rp == "2"

    assert net.route_get("1.1.1.1", "from", ENI_IP)["dev"] == name
    assert net.route_get("1.1.1.1")["dev"] == "eth0"

    state = net.state()
    assert (state["NODEAGENT_INTERFACE"], state["NODEAGENT_IP"], state["NODEAGENT_ENI_ID"]) == (name, ENI_IP, ENI)


def test_second_run_changes_nothing(net):
    assert net.boot().status == 0
    before = net.kernel_state()
    net.fake.clear_requests()
    r = net.boot()
    assert r.status == 0, r
    assert net.kernel_state() == before
    assert calls(net.fake, "AttachNetworkInterface") == [] and calls(net.fake, "ChangeResourceRecordSets") == []


def test_a_wrong_route_in_the_table_is_replaced(net):
    assert net.boot().status == 0
    name = net.link()
    sh("ip", "-n", net.ns, "route", "add", "192.0.2.0/24", "via", "10.0.1.99", "dev", name, "table", TABLE)
    sh("ip", "-n", net.ns, "route", "replace", "default", "via", "10.0.1.77", "dev", name, "table", TABLE)
    r = net.boot()
    net.assert_converged(r)


def test_routing_none_only_attaches(net):
    net.configure(routing="none")
    r = net.boot()
    assert r.status == 0, r
    assert net.link()
    assert ip_json(net.ns, "route", "show", "table", TABLE) == []


def test_force_detaches_a_dead_holder(net):
    net.held_by(PREDECESSOR, "terminated")
    r = net.agent("--once", "--set", "Interface.TakeOver=force-detach-dead")
    assert r.status == 0, r
    [detach] = calls(net.fake, "DetachNetworkInterface")
    assert detach["params"].get("Force") == "true", detach
    assert net.fake.state()["network_interfaces"][ENI]["attachment"]["instance_id"] == INSTANCE
    assert net.link()


def test_live_holder_past_the_timeout_is_unusable(net):
    net.held_by(PREDECESSOR, "running")
    r = net.agent("--once", "--set", "Interface.TakeOver=force-detach-dead", "--set", "Interface.TakeOverTimeout=2s")
    assert r.status == 4, r
    assert PREDECESSOR in r.stderr      # The contract: the message names the holder.
    assert calls(net.fake, "DetachNetworkInterface") == []


def test_attach_only_says_where(net):
    r = net.agent("--attach-only")
    assert r.status == 0, r
    name = net.link()
    assert name
    # It names the ENI and its local link.
    assert ENI in r.stdout and name in r.stdout
    assert ip_json(net.ns, "route", "show", "table", TABLE) == []


def test_eni_in_another_zone_is_unusable(net):
    net.fake.merge_state({"network_interfaces": {ENI: {"availability_zone": "us-east-1b"}}})
    r = net.boot()
    assert r.status == 4, r
    assert "us-east-1b" in r.stderr
    assert calls(net.fake, "AttachNetworkInterface") == []


def test_link_that_never_appears_is_the_deadline(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    n = NetNode(str(tmp_path), device_delay=3600).start()
    try:
        n.configure(timeout="4s")
        r = n.boot()
        assert r.status == 6, r
        assert ENI_MAC in r.stderr      # It names what never came.
        assert n.link() is None and eni_rules(n.ns) == []
    finally:
        n.stop()


def test_link_under_another_name_is_found(net):
    # eth1 is taken: the hot-plugged NIC comes up as enx<mac>, as it would
    # with predictable names.
    sh("ip", "-n", net.ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1peer")
    r = net.boot()
    name = net.assert_converged(r)
    assert name != "eth1"
    assert net.route_get("1.1.1.1", "from", ENI_IP)["dev"] == name
    assert net.state()["NODEAGENT_INTERFACE"] == name


def test_missing_eni_is_unusable(net):
    net.configure(select="Id=eni-0000000000000000a")
    r = net.boot()
    assert r.status == 4, r
    assert "eni-0000000000000000a" in r.stderr
    assert calls(net.fake, "AttachNetworkInterface") == []


def test_several_tagged_enis_are_unusable(net):
    twin = dict(net.fake.state()["network_interfaces"][ENI], mac_address="02:00:00:00:01:11",
                private_ip_address="10.0.1.11")
    net.fake.merge_state({"network_interfaces": {"eni-0123456789abcdef1": twin}})
    net.configure(select="Tag=Cluster=kafka")
    r = net.boot()
    assert r.status == 4, r
    assert ENI in r.stderr and "eni-0123456789abcdef1" in r.stderr
    assert calls(net.fake, "AttachNetworkInterface") == []


def test_routing_auto_leaves_it_to_ec2_net_utils(net):
    """With amazon-ec2-net-utils' policy-routes units present, the agent waits
    for their address, table and rule, finds the outcome complete and adds no
    address, route or rule of its own."""
    net.configure(routing="auto")
    stand_in = os.path.join(net.dir, "units")
    os.makedirs(stand_in)
    open(os.path.join(stand_in, "policy-routes@.service"), "w").close()
    # ip netns exec gives the command a mount namespace of its own: the
    # stand-in unit directory is mounted over the real one only there. The
    # stand-in for the routing daemon waits for the link, then does its work.
    script = f"""
set -e
mount --bind {stand_in} /lib/systemd/system
(
  for i in $(seq 100); do
    dev=$(ip -j link | python3 -c 'import json,sys; print(next((l["ifname"] for l in json.load(sys.stdin) if l.get("address")=="{ENI_MAC}"), ""))')
    [ -n "$dev" ] && break; sleep 0.1
  done
  sleep 0.5
  ip addr add {ENI_IP}/24 dev "$dev"; ip link set "$dev" up
  ip route add default via 10.0.1.1 dev "$dev" table 10001
  ip rule add from {ENI_IP} lookup 10001 priority 10001
) &
exec {NODEAGENT} --once --config {net.config}
"""
    env = net.env({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    r = run(["ip", "netns", "exec", net.ns, "/bin/bash", "-c", script], env, 90)
    assert r.status == 0, r
    assert "amazon-ec2-net-utils" in r.stderr
    assert "adding nothing" in r.stderr, r.stderr
    # Only theirs: the one default route "ip route add" made (proto boot).
    routes = ip_json(net.ns, "route", "show", "table", TABLE)
    assert [(x["dst"], x.get("protocol", "boot")) for x in routes] == [("default", "boot")], routes
    rules = [x for x in ip_json(net.ns, "rule", "show") if x.get("table") == TABLE]
    assert len(rules) == 1
    assert [v["Value"] for v in records(net.fake)[0]["ResourceRecords"]] == [ENI_IP]


def test_routing_auto_without_a_manager_does_it_all(net):
    """No manager runs in the namespace: auto adds the address, the table and
    the rule itself, at once (nothing to wait for)."""
    net.configure(routing="auto")
    r = net.boot()
    assert r.status == 0, r
    assert "no network manager takes the link" in r.stderr, r.stderr
    name = net.link()
    addrs = [a["local"] for link in ip_json(net.ns, "addr", "show", "dev", name) for a in link["addr_info"]
             if a["family"] == "inet"]
    assert addrs == [ENI_IP]
    rules = [x for x in ip_json(net.ns, "rule", "show") if x.get("table") == TABLE]
    assert [(x.get("src"), x["priority"]) for x in rules] == [(ENI_IP, 10001)]
    assert net.route_get("1.1.1.1", "from", ENI_IP)["dev"] == name
    assert net.route_get("1.1.1.1", "from", "10.0.1.5")["dev"] == "eth0"


def test_routing_auto_beside_a_dhcp_manager(net):
    """A manager (a stand-in for NetworkManager or netplan's match-all DHCP)
    gives the link its address and a second default route in the main table,
    no rule: the agent leaves both alone and adds the ENI's table and rule and
    a rule of the primary IP's own, so each address leaves by its link."""
    net.configure(routing="auto")
    # NetworkManager as the agent sees it: its binary below the test's root
    # (NODEAGENT_NETWORK_ROOT), a process of that name in the namespace, its
    # device file once it took the link.
    root = os.path.join(net.dir, "root")
    os.makedirs(os.path.join(root, "usr/sbin"))
    os.makedirs(os.path.join(root, "run/NetworkManager/devices"))
    shutil.copy("/bin/sleep", os.path.join(root, "usr/sbin/NetworkManager"))
    # The stand-in's DHCP client: a dynamic address and a default route
    # through the ENI in main, with eth0's metric (0) so that it replaces it.
    script = f"""
set -e
{root}/usr/sbin/NetworkManager 120 &
nm=$!
trap 'kill $nm' EXIT
(
  for i in $(seq 100); do
    dev=$(ip -j link | python3 -c 'import json,sys; print(next((l["ifname"] for l in json.load(sys.stdin) if l.get("address")=="{ENI_MAC}"), ""))')
    [ -n "$dev" ] && break; sleep 0.1
  done
  printf '[device]\nmanaged=true\n' > {root}/run/NetworkManager/devices/$(cat /sys/class/net/$dev/ifindex)
  sleep 1
  ip link set "$dev" up
  ip route replace default via 10.0.1.1 dev "$dev" onlink proto dhcp
  ip addr add {ENI_IP}/24 dev "$dev" valid_lft 3600 preferred_lft 3600
) &
{NODEAGENT} --once --config {net.config}
"""
    env = net.env()
    env["NODEAGENT_NETWORK_ROOT"] = root
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    r = run(["ip", "netns", "exec", net.ns, "/bin/bash", "-c", script], env, 90)
    assert r.status == 0, r
    assert "the network manager is done" in r.stderr and "(NetworkManager)" in r.stderr, r.stderr
    assert "adding the ENI's table and rule, the primary IP's table and rule" in r.stderr, r.stderr
    name = net.link()
    # The manager's work is untouched: its dynamic address, its main route.
    addrs = [a for link in ip_json(net.ns, "addr", "show", "dev", name) for a in link["addr_info"]
             if a["family"] == "inet"]
    assert [(a["local"], a.get("valid_life_time")) for a in addrs] != [] and addrs[0]["valid_life_time"] < 4000
    main = ip_json(net.ns, "route", "show", "table", "main", "default")
    assert [(x["dev"], x.get("protocol")) for x in main] == [(name, "dhcp")]
    # Each address leaves by its own link.
    assert net.route_get("1.1.1.1", "from", ENI_IP)["dev"] == name
    assert net.route_get("1.1.1.1", "from", "10.0.1.5")["dev"] == "eth0"
    rules = {(x.get("src"), x["priority"], x["table"]) for x in ip_json(net.ns, "rule", "show")
             if x.get("src") not in (None, "all")}
    assert rules == {(ENI_IP, 10001, TABLE), ("10.0.1.5", 10000, "10000")}


def test_daemon_puts_its_rule_and_routes_back(net):
    """After READY the daemon watches the rules and routes too: what it added
    and someone removed (networkd's sweep of foreign rules, a flush) comes
    back at once, and the daemon keeps running."""
    import signal
    import time
    net.configure(routing="agent")
    env = net.env()
    log = open(os.path.join(net.dir, "daemon.log"), "w+")
    proc = subprocess.Popen(["ip", "netns", "exec", net.ns, NODEAGENT, "--config", net.config], env=env,
                            stdout=log, stderr=subprocess.STDOUT)

    def wait(what, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert proc.poll() is None, f"the daemon exited while waiting for {what}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def our_rules():
        return [x for x in ip_json(net.ns, "rule", "show") if x.get("table") == TABLE]

    try:
        wait("READY (the state file)", lambda: os.path.exists(net.state_file), 60)
        assert len(our_rules()) == 1
        sh("ip", "-n", net.ns, "rule", "del", "from", ENI_IP, "lookup", TABLE, "priority", TABLE)
        wait("the rule to come back", lambda: len(our_rules()) == 1)
        sh("ip", "-n", net.ns, "route", "flush", "table", TABLE)
        wait("the table to come back", lambda: len(ip_json(net.ns, "route", "show", "table", TABLE)) == 2)
        assert net.route_get("1.1.1.1", "from", ENI_IP)["dev"] == net.link()
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.seek(0)
        output = log.read()
        log.close()
    assert "putting it back" in output, output
