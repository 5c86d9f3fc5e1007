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
