"""The dns module ([DNS] Mode=node, multivalue, shared) driven through
nodeagent-awscall's dns-publish / dns-unpublish against the fake AWS, whose
Route 53 applies batches all or nothing and refuses a DELETE that does not
match the set exactly."""

import subprocess
import time

import pytest

from harness import AWSCALL, ZONE, clean_env

NODE = "kafka-1.cluster.internal."
SHARED = "kafka.cluster.internal."


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def dns_line(result):
    for line in result.stdout.splitlines():
        if line.startswith("dns "):
            return fields(line)
    raise AssertionError(f"no 'dns' line in {result!r}")


def records(fake, name, rtype="A"):
    zone = fake.state()["hosted_zones"][ZONE]
    return [r for r in zone["records"] if r["Name"] == name and r["Type"] == rtype]


def values(record):
    return sorted(v["Value"] for v in record["ResourceRecords"])


def set_records(fake, extra):
    world = fake.state()
    world["hosted_zones"][ZONE]["records"] += extra
    fake.set_state(world)


def changes(fake):
    return fake.requests(service="route53", action="ChangeResourceRecordSets")


# -- node


def test_node_publishes_then_leaves_a_right_record_alone(awscall, fake):
    r = awscall("dns-publish", ZONE, "kafka-1.cluster.internal", "node", "60", "10.0.1.10")
    assert r.status == 0, r
    assert dns_line(r)["action"] == "upsert"
    [rec] = records(fake, NODE)
    assert values(rec) == ["10.0.1.10"] and rec["TTL"] == 60 and "SetIdentifier" not in rec

    # A replacement with the same IP: one read, no change.
    fake.clear_requests()
    r = awscall("dns-publish", ZONE, "kafka-1.cluster.internal", "node", "60", "10.0.1.10")
    assert r.status == 0, r
    assert dns_line(r)["action"] == "none"
    assert changes(fake) == []
    assert [q["action"] for q in fake.requests(service="route53")] == ["ListResourceRecordSets"]


def test_node_overwrites_another_ip_or_ttl(awscall, fake):
    set_records(fake, [{"Name": NODE, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "10.0.1.99"}]}])
    r = awscall("dns-publish", ZONE, NODE, "node", "60", "10.0.1.10")
    assert r.status == 0, r
    [rec] = records(fake, NODE)
    assert values(rec) == ["10.0.1.10"] and rec["TTL"] == 60
    r = awscall("dns-publish", ZONE, NODE, "node", "30", "10.0.1.10")
    assert dns_line(r)["action"] == "upsert", r
    assert records(fake, NODE)[0]["TTL"] == 30
    assert len(changes(fake)) == 2


def test_node_alias_is_not_touched(awscall, fake):
    set_records(fake, [{"Name": NODE, "Type": "A",
                        "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d1.cloudfront.net.",
                                        "EvaluateTargetHealth": False}}])
    r = awscall("dns-publish", ZONE, NODE, "node", "60", "10.0.1.10")
    assert r.status == 1, r
    assert changes(fake) == []
    [rec] = records(fake, NODE)
    assert rec["AliasTarget"]["DNSName"] == "d1.cloudfront.net." and "ResourceRecords" not in rec


# -- multivalue


def test_multivalue_sets_are_per_node(awscall, fake):
    for node, ip in (("kafka-1", "10.0.1.10"), ("kafka-2", "10.0.1.11"), ("kafka-3", "10.0.1.12")):
        r = awscall("dns-publish", ZONE, SHARED, "multivalue", "60", ip, node)
        assert r.status == 0, r
        assert dns_line(r)["action"] == "upsert"
    sets = {r["SetIdentifier"]: r for r in records(fake, SHARED)}
    assert sorted(sets) == ["kafka-1", "kafka-2", "kafka-3"]
    assert values(sets["kafka-2"]) == ["10.0.1.11"]
    assert all(s["MultiValueAnswer"] in (True, "true") for s in sets.values())

    # kafka-2 replaced with a new IP: only its own set changes.
    fake.clear_requests()
    r = awscall("dns-publish", ZONE, SHARED, "multivalue", "60", "10.0.1.21", "kafka-2")
    assert r.status == 0, r
    sets = {r["SetIdentifier"]: r for r in records(fake, SHARED)}
    assert values(sets["kafka-2"]) == ["10.0.1.21"]
    assert values(sets["kafka-1"]) == ["10.0.1.10"] and values(sets["kafka-3"]) == ["10.0.1.12"]

    # Right already: no change.
    fake.clear_requests()
    r = awscall("dns-publish", ZONE, SHARED, "multivalue", "60", "10.0.1.21", "kafka-2")
    assert dns_line(r)["action"] == "none", r
    assert changes(fake) == []

    r = awscall("dns-unpublish", ZONE, SHARED, "multivalue", "10.0.1.21", "kafka-2")
    assert dns_line(r)["action"] == "delete", r
    assert sorted(r["SetIdentifier"] for r in records(fake, SHARED)) == ["kafka-1", "kafka-3"]


def test_multivalue_needs_a_node_name(awscall, fake):
    r = awscall("dns-publish", ZONE, SHARED, "multivalue", "60", "10.0.1.10")
    assert r.status == 2, r
    assert fake.requests(service="route53") == []


# -- shared


def test_shared_adds_keeps_others_and_removes(awscall, fake):
    set_records(fake, [{"Name": SHARED, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.9.9"}]}])
    for ip in ("10.0.1.12", "10.0.1.10"):
        r = awscall("dns-publish", ZONE, SHARED, "shared", "60", ip)
        assert r.status == 0, r
        assert dns_line(r)["action"] == "replace"
    [rec] = records(fake, SHARED)
    assert values(rec) == ["10.0.1.10", "10.0.1.12", "10.0.9.9"]
    # Written sorted, numerically.
    assert [v["Value"] for v in rec["ResourceRecords"]] == ["10.0.1.10", "10.0.1.12", "10.0.9.9"]

    fake.clear_requests()
    r = awscall("dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.12")
    assert dns_line(r)["action"] == "none", r
    assert changes(fake) == []

    r = awscall("dns-unpublish", ZONE, SHARED, "shared", "10.0.1.12")
    assert dns_line(r)["action"] == "replace", r
    assert values(records(fake, SHARED)[0]) == ["10.0.1.10", "10.0.9.9"]


def test_shared_creates_the_set_and_deletes_it_with_the_last_ip(awscall, fake):
    r = awscall("dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.10")
    assert dns_line(r)["action"] == "create", r
    r = awscall("dns-unpublish", ZONE, SHARED, "shared", "10.0.1.10")
    assert dns_line(r)["action"] == "delete", r
    assert records(fake, SHARED) == []


def test_shared_ttl_converges_without_losing_ips(awscall, fake):
    set_records(fake, [{"Name": SHARED, "Type": "A", "TTL": 300,
                        "ResourceRecords": [{"Value": "10.0.1.10"}, {"Value": "10.0.1.11"}]}])
    r = awscall("dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.10")
    assert dns_line(r)["action"] == "replace", r
    [rec] = records(fake, SHARED)
    assert rec["TTL"] == 60 and values(rec) == ["10.0.1.10", "10.0.1.11"]


def test_shared_lost_reply_is_read_back(awscall, fake):
    # The batch applies, the connection is reset; the aws layer sends it
    # again and Route 53 refuses that copy (the old set is gone). Reading
    # again shows the IP is in: done, nothing lost, nothing doubled.
    set_records(fake, [{"Name": SHARED, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.9.9"}]}])
    fake.fault(service="route53", action="ChangeResourceRecordSets", kind="drop_after_effect", count=1)
    r = awscall("dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.10")
    assert r.status == 0, r
    line = dns_line(r)
    assert line["action"] == "replace" and line["change"] == ""
    assert values(records(fake, SHARED)[0]) == ["10.0.1.10", "10.0.9.9"]
    assert [q["code"] for q in changes(fake)] == ["drop_after_effect", "InvalidChangeBatch"]


def test_shared_weighted_set_is_refused_clearly(awscall, fake):
    # A weighted set of the name conflicts with the simple one shared mode
    # needs: Route 53 refuses the CREATE, and it is not retried for long.
    set_records(fake, [{"Name": SHARED, "Type": "A", "TTL": 60, "SetIdentifier": "w", "Weight": 10,
                        "ResourceRecords": [{"Value": "10.0.9.9"}]}])
    r = awscall("dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.10")
    assert r.status == 1, r
    assert [q["code"] for q in changes(fake)] == ["InvalidChangeBatch"] * 2
    assert [(x.get("SetIdentifier"), values(x)) for x in records(fake, SHARED)] == [("w", ["10.0.9.9"])]


def _publish_concurrently(fake, ips, deadline="60s"):
    env = clean_env(fake.env())
    start = time.monotonic()
    procs = [subprocess.Popen([AWSCALL, "--deadline", deadline, "dns-publish", ZONE, SHARED, "shared", "60", ip,
                               f"kafka-{i}"],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for i, ip in enumerate(ips)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, out, err))
    return time.monotonic() - start, results


@pytest.mark.parametrize("rate_limited", [False, True], ids=["unlimited", "route53-5-per-second"])
def test_shared_concurrent_publishers_lose_no_ip(fake, rate_limited):
    n = 20
    if rate_limited:
        # Route 53's own limit: five requests a second per account.
        fake.merge_state({"rate_limits": {"route53": {"rate": 5, "burst": 5}}})
    set_records(fake, [{"Name": SHARED, "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "10.0.9.9"}]}])
    ips = [f"10.0.1.{10 + i}" for i in range(n)]
    elapsed, results = _publish_concurrently(fake, ips)
    for status, out, err in results:
        assert status == 0, (out, err)
    [rec] = records(fake, SHARED)
    assert values(rec) == sorted(ips + ["10.0.9.9"], key=lambda a: tuple(map(int, a.split("."))))
    assert rec["TTL"] == 60

    sent = changes(fake)
    refused = [q for q in sent if q["code"] == "InvalidChangeBatch"]
    throttled = [q for q in fake.requests(service="route53") if q["code"] == "Throttling"]
    applied = [q for q in sent if q["status"] == 200]
    # Every publisher's change applied exactly once; the rest were refused
    # compare-and-swaps (or throttled), never a silent overwrite.
    assert len(applied) == n
    print(f"\nshared mode, {n} concurrent publishers{' (rate limited)' if rate_limited else ''}: "
          f"{elapsed:.2f} s, {len(sent)} ChangeResourceRecordSets ({len(refused)} refused), "
          f"{len(fake.requests(service='route53', action='ListResourceRecordSets'))} ListResourceRecordSets, "
          f"{len(throttled)} throttled")


# -- WaitInSync, throttling


def test_wait_in_sync_polls_get_change(awscall, fake):
    fake.merge_state({"delays": {"route53_change": 1}})
    r = awscall("dns-publish", ZONE, NODE, "node", "60", "10.0.1.10", "--wait-in-sync")
    assert r.status == 0, r
    line = dns_line(r)
    assert line["insync"] == "yes"
    polls = fake.requests(service="route53", action="GetChange")
    assert len(polls) >= 2, polls
    assert r.elapsed >= 1.0
    assert fake.state()["changes"][line["change"]]["Status"] == "INSYNC"

    # Without WaitInSync nothing waits.
    fake.clear_requests()
    r = awscall("dns-publish", ZONE, NODE, "node", "60", "10.0.1.11")
    assert dns_line(r)["insync"] == "no", r
    assert fake.requests(service="route53", action="GetChange") == []


def test_wait_in_sync_gives_up_at_the_deadline(awscall, fake):
    fake.merge_state({"delays": {"route53_change": -1}})
    r = awscall("--deadline", "3s", "dns-publish", ZONE, NODE, "node", "60", "10.0.1.10", "--wait-in-sync")
    assert r.status == 6, r
    assert r.elapsed < 10


@pytest.mark.parametrize("code", ["Throttling", "PriorRequestNotComplete"])
def test_throttling_is_survived(awscall, fake, code):
    fake.fault({"service": "route53", "action": "ListResourceRecordSets", "kind": "throttle", "code": code,
                "count": 2},
               {"service": "route53", "action": "ChangeResourceRecordSets", "kind": "throttle", "code": code,
                "count": 2},
               {"service": "route53", "action": "GetChange", "kind": "throttle", "code": code, "count": 1})
    r = awscall("dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.10", "--wait-in-sync")
    assert r.status == 0, r
    assert dns_line(r)["insync"] == "yes"
    assert values(records(fake, SHARED)[0]) == ["10.0.1.10"]
    assert [q["code"] for q in changes(fake)] == [code, code, None]


def test_route53_denied_is_aws_refused(awscall, fake):
    fake.merge_state({"deny": [{"principal": "*", "action": "route53:ChangeResourceRecordSets"}]})
    r = awscall("dns-publish", ZONE, NODE, "node", "60", "10.0.1.10")
    assert r.status == 3, r
    assert len(changes(fake)) == 1


def test_change_that_outlives_the_deadline_ends_with_status_6(awscall, fake):
    fake.fault(service="route53", action="ChangeResourceRecordSets", kind="timeout", seconds=8, count=1)
    r = awscall("--deadline", "2s", "dns-publish", ZONE, SHARED, "shared", "60", "10.0.1.10")
    assert r.status == 6, r
    assert r.elapsed < 6, r
