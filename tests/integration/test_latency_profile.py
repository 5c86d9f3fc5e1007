"""The fake's latency profile (tests/fakeaws/latency.py): seeded waits per
call, logged, the same for the same seed whatever the interleaving; and
replies that do not wait for the client's delayed ACK (TCP_NODELAY)."""

import http.client
import time

import pytest

from client import FakeAws, FakeAwsError

PROFILE = {"seed": 5, "rules": [
    {"service": "imds", "action": "*", "seconds": 0.002},
    {"service": "ec2", "action": "DescribeSubnets", "seconds": [0.05, 0.06]},
    {"service": "*", "action": "*", "seconds": [0.02, 0.04]},
]}


def ec2_latencies(fake):
    return [r["latency"] for r in fake.requests(service="ec2")]


def test_profile_draws_are_seeded_logged_and_per_call():
    with FakeAws(latency_profile=PROFILE) as fake:
        ec2 = fake.botocore_client("ec2")
        start = time.monotonic()
        ec2.describe_subnets()
        ec2.describe_volumes()
        ec2.describe_subnets()
        elapsed = time.monotonic() - start
        first = ec2_latencies(fake)
        assert 0.05 <= first[0] <= 0.06 and 0.02 <= first[1] <= 0.04 and 0.05 <= first[2] <= 0.06
        assert first[0] != first[2]  # each call draws anew
        assert elapsed >= sum(first)
        fake.imds_get("meta-data/instance-id")
        assert [r["latency"] for r in fake.requests(service="imds")] == [0.002, 0.002]

        # After a reset the same calls wait the same, even in another order.
        fake.reset()
        ec2.describe_volumes()
        ec2.describe_subnets()
        ec2.describe_subnets()
        again = ec2_latencies(fake)
        assert sorted(again) == sorted(first)
        assert fake.latency_profile_state()["counts"] == {"ec2:DescribeSubnets": 2, "ec2:DescribeVolumes": 1}


def test_profile_is_set_and_removed_at_run_time():
    with FakeAws() as fake:
        fake.botocore_client("ec2").describe_subnets()
        assert ec2_latencies(fake) == [0.0]
        fake.set_latency_profile({"seed": 1, "rules": [{"service": "ec2", "seconds": 0.03}]})
        fake.botocore_client("ec2").describe_subnets()
        assert ec2_latencies(fake)[-1] == 0.03
        fake.set_latency_profile(None)
        assert fake.latency_profile_state() is None
        with pytest.raises(FakeAwsError):
            fake.set_latency_profile({"rules": [{"service": "ec2", "seconds": [0.2, 0.1]}]})
        with pytest.raises(FakeAwsError):
            fake.set_latency_profile({"rules": [{"service": "s3", "seconds": 1}]})


def test_kept_alive_replies_do_not_wait_for_a_delayed_ack():
    """Headers and body are two writes; without TCP_NODELAY the second one
    waits ~40 ms for the client's delayed ACK on a kept-alive connection."""
    with FakeAws() as fake:
        token = fake.imds_token()
        conn = http.client.HTTPConnection(fake.host, fake.port, timeout=5)
        try:
            times = []
            for _ in range(6):
                start = time.monotonic()
                conn.request("GET", "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token})
                resp = conn.getresponse()
                resp.read()
                times.append(time.monotonic() - start)
                assert resp.status == 200
        finally:
            conn.close()
        # The median, so a loaded machine's one slow request does not decide.
        assert sorted(times)[len(times) // 2] < 0.03, times
