"""The interface path end to end, in network namespaces of the test's own
(harness.NetNode, the `net` fixture): the fake AWS, whose
AttachNetworkInterface makes a veth link with the ENI's MAC wired to a "VPC
router" namespace, and the agent beside it. Every case asserts on the
kernel's state (ip -j) or the fake's."""

import os

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


def held_by_predecessor(net, state):
    net.fake.merge_state({
        "instances": {PREDECESSOR: {"state": state}},
        "network_interfaces": {ENI: {"attachment": {
            "attachment_id": "eni-attach-0fedcba987654321a", "instance_id": PREDECESSOR, "device_index": 1,
            "status": "attached", "attach_time": 0, "delete_on_termination": False}}},
    })


def test_force_detaches_a_dead_holder(net):
    held_by_predecessor(net, "terminated")
    r = net.agent("--once", "--set", "Interface.TakeOver=force-detach-dead")
    assert r.status == 0, r
    [detach] = calls(net.fake, "DetachNetworkInterface")
    assert detach["params"].get("Force") == "true", detach
    assert net.fake.state()["network_interfaces"][ENI]["attachment"]["instance_id"] == INSTANCE
    assert net.link()


def test_live_holder_past_the_timeout_is_unusable(net):
    held_by_predecessor(net, "running")
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
    """With amazon-ec2-net-utils' policy-routes units present, the agent adds
    no address, route or rule of its own and waits for theirs."""
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
  ip rule add from {ENI_IP} lookup 10001 priority 10001
) &
exec {NODEAGENT} --once --config {net.config}
"""
    env = net.env({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    r = run(["ip", "netns", "exec", net.ns, "/bin/bash", "-c", script], env, 90)
    assert r.status == 0, r
    # Only the stand-in's address and rule; no route of the agent's.
    assert ip_json(net.ns, "route", "show", "table", TABLE) == []
    assert eni_rules(net.ns) == [(ENI_IP, 10001, TABLE)]
    name = net.link()
    assert [a["local"] for link in ip_json(net.ns, "addr", "show", "dev", name) for a in link["addr_info"]
            if a["family"] == "inet"] == [ENI_IP]
    assert [v["Value"] for v in records(net.fake)[0]["ResourceRecords"]] == [ENI_IP]
