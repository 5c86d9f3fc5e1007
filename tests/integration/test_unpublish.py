"""nodeagent --unpublish: a node retired for good takes its entry out of
Route 53, in each [DNS] Mode=, and leaves exactly the other nodes' entries.
The fake's Route 53 applies batches all or nothing and refuses a DELETE
that does not match the set exactly."""

import os

import pytest

from harness import NODEAGENT, ZONE, clean_env, run, write_config

NODE_NAME = "kafka-1.cluster.internal."
SHARED = "kafka.cluster.internal."
MY_IP = "10.0.1.5"          # the instance's primary IP (no [Interface])
ENI_IP = "10.0.1.10"        # eni-0123456789abcdef0's


def config(mode, name, interface=False):
    text = f"[Node]\nName=kafka-1\nTimeout=30s\n\n[DNS]\nHostedZoneId={ZONE}\nName={name}\nMode={mode}\n"
    if interface:
        text += "\n[Interface]\nId=eni-0123456789abcdef0\n"
    return text


def unpublish(fake, confdir, text):
    path = write_config(confdir, text)
    env = clean_env(fake.env())
    env["NODEAGENT_STATE_FILE"] = os.path.join(confdir, "state")
    return run([NODEAGENT, "--config", path, "--unpublish"], env, 60)


def zone_records(fake):
    return fake.state()["hosted_zones"][ZONE]["records"]


def a_records(fake, name):
    return [r for r in zone_records(fake) if r["Name"] == name and r["Type"] == "A"]


def values(record):
    return sorted(v["Value"] for v in record["ResourceRecords"])


def add_records(fake, records):
    world = fake.state()
    world["hosted_zones"][ZONE]["records"] += records
    fake.set_state(world)


def a(name, ips, ttl=60, identifier=None):
    r = {"Name": name, "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": ip} for ip in ips]}
    if identifier:
        r["SetIdentifier"] = identifier
        r["MultiValueAnswer"] = True
    return r


def changes(fake):
    return fake.requests(service="route53", action="ChangeResourceRecordSets")


def test_node_record_is_deleted_then_nothing_is_left_to_do(fake, confdir):
    others = [a("kafka-2.cluster.internal.", ["10.0.1.6"]), a(SHARED, ["10.0.1.6", MY_IP])]
    add_records(fake, [a(NODE_NAME, [MY_IP])] + others)
    before = [r for r in zone_records(fake) if r["Name"] != NODE_NAME]
    r = unpublish(fake, confdir, config("node", NODE_NAME))
    assert r.status == 0, r
    assert a_records(fake, NODE_NAME) == []
    assert [r for r in zone_records(fake) if r["Name"] != NODE_NAME] == before

    # Safe to run twice: nothing left, nothing sent.
    fake.clear_requests()
    r = unpublish(fake, confdir, config("node", NODE_NAME))
    assert r.status == 0, r
    assert changes(fake) == []


def test_node_record_of_a_successor_is_left_alone(fake, confdir):
    """A late-stopping old instance never deletes its successor's record."""
    add_records(fake, [a(NODE_NAME, ["10.0.1.77"])])
    r = unpublish(fake, confdir, config("node", NODE_NAME))
    assert r.status == 0, r
    assert [values(x) for x in a_records(fake, NODE_NAME)] == [["10.0.1.77"]]
    assert changes(fake) == []


def test_multivalue_removes_its_set_identifier_only(fake, confdir):
    add_records(fake, [a(SHARED, [MY_IP], identifier="kafka-1"), a(SHARED, ["10.0.1.6"], identifier="kafka-2"),
                       a(SHARED, ["10.0.1.7"], identifier="kafka-3")])
    r = unpublish(fake, confdir, config("multivalue", SHARED))
    assert r.status == 0, r
    left = sorted((x["SetIdentifier"], values(x)[0]) for x in a_records(fake, SHARED))
    assert left == [("kafka-2", "10.0.1.6"), ("kafka-3", "10.0.1.7")]


def test_shared_takes_out_its_ip_only(fake, confdir):
    add_records(fake, [a(SHARED, ["10.0.1.6", MY_IP, "10.0.1.7"], ttl=30)])
    r = unpublish(fake, confdir, config("shared", SHARED))
    assert r.status == 0, r
    [rec] = a_records(fake, SHARED)
    assert values(rec) == ["10.0.1.6", "10.0.1.7"]
    # The others' TTL stays.
    assert rec["TTL"] == 30
    # One compare-and-swap batch (the fake refuses a DELETE that does not
    # match the set exactly).
    assert len(changes(fake)) == 1


def test_shared_last_ip_deletes_the_set(fake, confdir):
    add_records(fake, [a(SHARED, [MY_IP])])
    r = unpublish(fake, confdir, config("shared", SHARED))
    assert r.status == 0, r
    assert a_records(fake, SHARED) == []


def test_the_enis_ip_is_unpublished_without_attaching_it(fake, confdir):
    add_records(fake, [a(SHARED, ["10.0.1.6", ENI_IP])])
    r = unpublish(fake, confdir, config("shared", SHARED, interface=True))
    assert r.status == 0, r
    assert [values(x) for x in a_records(fake, SHARED)] == [["10.0.1.6"]]
    assert fake.requests(service="ec2", action="AttachNetworkInterface") == []


@pytest.mark.parametrize("mode", ["node", "multivalue", "shared"])
def test_nothing_published_is_success(fake, confdir, mode):
    r = unpublish(fake, confdir, config(mode, SHARED if mode != "node" else NODE_NAME))
    assert r.status == 0, r
    assert changes(fake) == []


# -- the ENI in a lost zone: the instance in us-east-1b, the node's ENI (and
# the address the node published) in us-east-1a, where the old instance ran --

ZONE_B = "us-east-1b"
SUBNET_B = "subnet-0b0000000000000b0"
ENI = "eni-0123456789abcdef0"
ENI_TAG = "Name=kafka-1-eni"
RESTORED_FROM = "nodeagent:restored-from"
REPLACED_BY = "nodeagent:replaced-by"
OTHER_IP = "10.0.1.6"


def lose_the_enis_zone(fake):
    fake.merge_state({
        "instances": {"i-0123456789abcdef0": {"availability_zone": ZONE_B, "subnet_id": SUBNET_B}},
        "subnets": {SUBNET_B: {"vpc_id": "vpc-0123456789abcdef0", "cidr_block": "10.0.2.0/24",
                               "availability_zone": ZONE_B, "availability_zone_id": "use1-az2",
                               "available_ip_address_count": 249, "tags": {"Name": "kafka-b"}}},
    })


def lost_config(mode, select, restore="no"):
    name = SHARED if mode != "node" else NODE_NAME
    text = f"[Node]\nName=kafka-1\nTimeout=30s\n\n[DNS]\nHostedZoneId={ZONE}\nName={name}\nMode={mode}\n"
    text += f"\n[Interface]\n{select}\n"
    if select.startswith("Tag="):
        text += f"Restore={restore}\n"
    return text


def published(mode, ip):
    """The node's entry holding ip, and another node's beside it."""
    if mode == "node":
        return [a(NODE_NAME, [ip]), a("kafka-2.cluster.internal.", [OTHER_IP])]
    if mode == "multivalue":
        return [a(SHARED, [ip], identifier="kafka-1"), a(SHARED, [OTHER_IP], identifier="kafka-2")]
    return [a(SHARED, [OTHER_IP, ip])]


def others_only(mode):
    if mode == "node":
        return {("kafka-2.cluster.internal.", None, (OTHER_IP,))}
    if mode == "multivalue":
        return {(SHARED, "kafka-2", (OTHER_IP,))}
    return {(SHARED, None, (OTHER_IP,))}


def a_sets(fake):
    return {(r["Name"], r.get("SetIdentifier"), tuple(values(r))) for r in zone_records(fake) if r["Type"] == "A"}


@pytest.mark.parametrize("select", [f"Id={ENI}", f"Tag={ENI_TAG}", f"Tag={ENI_TAG}\nRestore=create"],
                         ids=["id", "tag", "tag-restore"])
@pytest.mark.parametrize("mode", ["node", "multivalue", "shared"])
def test_lost_zone_unpublishes_the_enis_address(fake, confdir, mode, select):
    """The boot here exits 4 (the ENI cannot attach across zones) and
    published nothing; what the node published is the ENI's address, which
    EC2 still describes in the lost zone: that entry goes, the others stay,
    nothing is attached or made, and a second run has nothing to do."""
    lose_the_enis_zone(fake)
    add_records(fake, published(mode, ENI_IP))
    text = lost_config(mode, select.split("\n")[0], "create" if "Restore=create" in select else "no")
    r = unpublish(fake, confdir, text)
    assert r.status == 0, r
    assert a_sets(fake) == others_only(mode)
    for action in ("AttachNetworkInterface", "CreateNetworkInterface"):
        assert fake.requests(service="ec2", action=action) == []

    fake.clear_requests()
    r = unpublish(fake, confdir, text)
    assert r.status == 0, r
    assert changes(fake) == []
    assert a_sets(fake) == others_only(mode)


def test_lost_zone_leaves_a_successors_node_record_alone(fake, confdir):
    lose_the_enis_zone(fake)
    add_records(fake, [a(NODE_NAME, ["10.0.2.77"])])
    r = unpublish(fake, confdir, lost_config("node", f"Id={ENI}"))
    assert r.status == 0, r
    assert a_sets(fake) == {(NODE_NAME, None, ("10.0.2.77",))}
    assert changes(fake) == []


NEW_ENI = "eni-0b00000000000b001"
NEW_IP = "10.0.2.20"


def restored_here(fake):
    """A Restore=create boot made NEW_ENI here in place of the lost ENI,
    then died before its DNS change: the record still holds the lost ENI's
    address."""
    lose_the_enis_zone(fake)
    world = fake.state()
    old = world["network_interfaces"][ENI]
    old["tags"][REPLACED_BY] = NEW_ENI
    world["network_interfaces"][NEW_ENI] = dict(
        old, subnet_id=SUBNET_B, availability_zone=ZONE_B, mac_address="02:00:00:00:02:20",
        private_ip_address=NEW_IP, tags={"Name": "kafka-1-eni", "Cluster": "kafka", RESTORED_FROM: ENI},
        attachment=None)
    fake.set_state(world)


@pytest.mark.parametrize("mode", ["node", "multivalue", "shared"])
@pytest.mark.parametrize("ip", [ENI_IP, NEW_IP], ids=["lost-ip", "new-ip"])
def test_restored_eni_unpublishes_the_address_still_published(fake, confdir, mode, ip):
    restored_here(fake)
    add_records(fake, published(mode, ip))
    text = lost_config(mode, f"Tag={ENI_TAG}", "create")
    r = unpublish(fake, confdir, text)
    assert r.status == 0, r
    assert a_sets(fake) == others_only(mode)
    assert fake.requests(service="ec2", action="CreateNetworkInterface") == []

    fake.clear_requests()
    r = unpublish(fake, confdir, text)
    assert r.status == 0, r
    assert changes(fake) == []


def test_lost_zone_with_several_enis_tagged_elsewhere_is_unusable(fake, confdir):
    """Tag= matching two ENIs, both in other zones: which address the node
    published is not known, so nothing is touched (exit 4)."""
    lose_the_enis_zone(fake)
    world = fake.state()
    world["network_interfaces"]["eni-0c00000000000c001"] = dict(
        world["network_interfaces"][ENI], mac_address="02:00:00:00:01:11", private_ip_address="10.0.1.11")
    fake.set_state(world)
    add_records(fake, published("shared", ENI_IP))
    r = unpublish(fake, confdir, lost_config("shared", f"Tag={ENI_TAG}"))
    assert r.status == 4, r
    assert changes(fake) == []
